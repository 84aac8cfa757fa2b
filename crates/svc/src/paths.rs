//! Where an instance keeps its files. Everything lives in the state
//! directory so that `stop` and `status` find an instance from `--dir` alone
//! (SoftEther hashes the executable path instead, `process-model` 6.1).

use std::path::{Path, PathBuf};

use crate::Edition;

/// Files of one instance (one edition in one state directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    /// State directory (absolute).
    pub state_dir: PathBuf,
    /// Log directory of the daemon (`<state>/server_log` unless `--log-dir`);
    /// files are named `vpn_YYYYMMDD.log` as SoftEther's server log.
    pub log_dir: PathBuf,
    /// `<state>/<program>.lock`: empty, mode 0600, held with `flock(LOCK_EX)`
    /// by the supervisor and inherited by the worker; never unlinked.
    pub lock: PathBuf,
    /// `<state>/<program>.pid`: one line per process, `<role> <pid> <starttime>`.
    pub pid: PathBuf,
    /// `<state>/<program>.status`: JSON written when the worker is ready.
    pub status: PathBuf,
    /// `<state>/vpn_server.config` or `vpn_bridge.config`.
    pub config: PathBuf,
}

impl Paths {
    /// Paths for `edition` in `state_dir` (made absolute against the current
    /// directory), with an optional log directory.
    pub fn new(edition: Edition, state_dir: &Path, log_dir: Option<&Path>) -> Paths {
        let state_dir = absolute(state_dir);
        let n = edition.program_name();
        Paths {
            log_dir: log_dir
                .map(absolute)
                .unwrap_or_else(|| state_dir.join("server_log")),
            lock: state_dir.join(format!("{n}.lock")),
            pid: state_dir.join(format!("{n}.pid")),
            status: state_dir.join(format!("{n}.status")),
            config: state_dir.join(edition.config_file_name()),
            state_dir,
        }
    }
}

fn absolute(p: &Path) -> PathBuf {
    if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()
            .map(|c| c.join(p))
            .unwrap_or_else(|_| p.to_path_buf())
    }
}

/// Default state directory: `/var/lib/rustether` when `is_root`, else
/// `$XDG_STATE_HOME/rustether`, else `$HOME/.local/state/rustether`, else
/// `./rustether-state`.
pub fn default_state_dir(
    is_root: bool,
    xdg_state_home: Option<&str>,
    home: Option<&str>,
) -> PathBuf {
    if is_root {
        return PathBuf::from("/var/lib/rustether");
    }
    match (
        xdg_state_home.filter(|s| s.starts_with('/')),
        home.filter(|s| !s.is_empty()),
    ) {
        (Some(x), _) => Path::new(x).join("rustether"),
        (None, Some(h)) => Path::new(h).join(".local/state/rustether"),
        (None, None) => PathBuf::from("rustether-state"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults() {
        assert_eq!(
            default_state_dir(true, Some("/x"), Some("/h")),
            PathBuf::from("/var/lib/rustether")
        );
        assert_eq!(
            default_state_dir(false, Some("/x"), Some("/h")),
            PathBuf::from("/x/rustether")
        );
        // XDG base directory spec: relative values are invalid and ignored.
        assert_eq!(
            default_state_dir(false, Some("rel"), Some("/h")),
            PathBuf::from("/h/.local/state/rustether")
        );
    }

    #[test]
    fn names_per_edition() {
        let p = Paths::new(Edition::Bridge, Path::new("/s"), None);
        assert_eq!(p.lock, PathBuf::from("/s/vpnbridge.lock"));
        assert_eq!(p.pid, PathBuf::from("/s/vpnbridge.pid"));
        assert_eq!(p.config, PathBuf::from("/s/vpn_bridge.config"));
        assert_eq!(p.log_dir, PathBuf::from("/s/server_log"));
    }
}
