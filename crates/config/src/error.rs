//! Errors of the typed configuration and the store.

use std::fmt;
use std::path::{Path, PathBuf};

use crate::cfg::CfgError;

/// Why a configuration could not be loaded, validated or saved.
///
/// Display forms (what the server prints before refusing to start):
/// `file /var/lib/x/vpn_server.config, line 12: unrecognised line …`,
/// `file …: VirtualHUB/TEST/Type: expected uint, found string`,
/// `file …: Permission denied (os error 13)`. Without a path (text given over
/// RPC) the `file …, ` prefix is left out.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The text (or binary) form does not parse.
    Parse {
        /// File the text came from, if any.
        path: Option<PathBuf>,
        /// 1-based line (0 = not line-related, e.g. the binary form).
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// The tree parses but is not a usable server configuration (a missing
    /// `ServerConfiguration`, a key of the wrong type, a hash of the wrong
    /// length, …). `message` starts with the folder path of the culprit.
    Invalid {
        /// File the configuration came from, if any.
        path: Option<PathBuf>,
        /// What is wrong.
        message: String,
    },
    /// Reading or writing a file failed.
    Io {
        /// The file or directory concerned.
        path: PathBuf,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::Parse {
                path,
                line,
                message,
            } => match (path, *line) {
                (Some(p), 0) => write!(f, "file {}: {message}", p.display()),
                (Some(p), n) => write!(f, "file {}, line {n}: {message}", p.display()),
                (None, 0) => f.write_str(message),
                (None, n) => write!(f, "line {n}: {message}"),
            },
            ConfigError::Invalid { path, message } => match path {
                Some(p) => write!(f, "file {}: {message}", p.display()),
                None => f.write_str(message),
            },
            ConfigError::Io { path, source } => write!(f, "file {}: {source}", path.display()),
        }
    }
}

impl From<CfgError> for ConfigError {
    fn from(e: CfgError) -> ConfigError {
        ConfigError::Parse {
            path: None,
            line: e.line,
            message: e.message,
        }
    }
}

impl ConfigError {
    /// An [`ConfigError::Invalid`] without a path.
    pub fn invalid(message: impl Into<String>) -> ConfigError {
        ConfigError::Invalid {
            path: None,
            message: message.into(),
        }
    }

    /// An [`ConfigError::Io`] for `path`.
    pub fn io(path: &Path, source: std::io::Error) -> ConfigError {
        ConfigError::Io {
            path: path.to_path_buf(),
            source,
        }
    }

    /// The same error, naming `path` as the file it concerns (for parse and
    /// validation errors that were produced without one).
    pub fn with_path(self, path: &Path) -> ConfigError {
        match self {
            ConfigError::Parse { line, message, .. } => ConfigError::Parse {
                path: Some(path.to_path_buf()),
                line,
                message,
            },
            ConfigError::Invalid { message, .. } => ConfigError::Invalid {
                path: Some(path.to_path_buf()),
                message,
            },
            io @ ConfigError::Io { .. } => io,
        }
    }

    /// The file this error concerns, if known.
    pub fn path(&self) -> Option<&Path> {
        match self {
            ConfigError::Parse { path, .. } | ConfigError::Invalid { path, .. } => path.as_deref(),
            ConfigError::Io { path, .. } => Some(path),
        }
    }

    /// The 1-based line of a parse error (None for other errors and for
    /// parse errors without a line).
    pub fn line(&self) -> Option<usize> {
        match self {
            ConfigError::Parse { line, .. } if *line > 0 => Some(*line),
            _ => None,
        }
    }
}
