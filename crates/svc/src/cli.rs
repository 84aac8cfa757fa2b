//! Command-line parsing. Commands are matched case-insensitively, like
//! SoftEther's `UnixService` (`src/Mayaqua/Unix.c`); no command, `--help`
//! or an unknown command prints the usage text of
//! `docs/operating-modes.md` (SoftEther's layout with our names).

use std::ffi::OsString;
use std::path::PathBuf;

use clap::{Parser, Subcommand};

use crate::{exit, messages, Edition};

/// Parsed command line.
#[derive(Debug, Parser)]
#[command(
    disable_help_subcommand = true,
    disable_version_flag = true,
    disable_help_flag = true
)]
pub struct Cli {
    /// State directory: configuration, lock, pid and status files. Default:
    /// `/var/lib/rustether` for root, `$XDG_STATE_HOME/rustether` (else
    /// `~/.local/state/rustether`) for other users.
    #[arg(long, global = true, env = "RUSTETHER_DIR", value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Log directory of the daemon; default `<DIR>/server_log`.
    #[arg(long, global = true, env = "RUSTETHER_LOG_DIR", value_name = "DIR")]
    pub log_dir: Option<PathBuf>,
    /// Root only: bind the listeners, then continue as this user.
    #[arg(long, global = true, env = "RUSTETHER_USER", value_name = "NAME")]
    pub user: Option<String>,
    /// Log filter (`error`, `warn`, `info`, `debug`, `trace` or a
    /// tracing-subscriber directive); `RUST_LOG` is used when absent.
    #[arg(long, global = true, env = "RUSTETHER_LOG_LEVEL", value_name = "LEVEL")]
    pub log_level: Option<String>,
    /// Print the usage text.
    #[arg(long, short = 'h', global = true)]
    pub help: bool,
    /// The mode to run.
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The modes.
#[derive(Debug, Subcommand, Clone, PartialEq, Eq)]
pub enum Command {
    /// User Mode: start the daemon (supervisor + worker) in the background.
    Start {
        /// Run as one process in the foreground instead (systemd, containers).
        #[arg(long)]
        foreground: bool,
    },
    /// Stop the running instance of this state directory.
    Stop,
    /// Run the supervisor and the worker in the caller's foreground.
    Execsvc,
    /// Tell whether an instance runs, its pids, listeners and uptime.
    Status,
    /// Set the server administrator password in the configuration file
    /// (service stopped): prompted twice, or the first line of stdin.
    /// Also accepted as `ServerPasswordSet` (vpncmd's name).
    #[command(alias = "serverpasswordset")]
    PasswordSet,
    /// Service Mode: write (and enable) a systemd unit.
    Install {
        /// Write the unit into this directory only; do not call systemctl.
        #[arg(long, value_name = "DIR")]
        unit_dir: Option<PathBuf>,
    },
    /// Remove the systemd unit written by `install`.
    Uninstall {
        /// Remove the unit from this directory only; do not call systemctl.
        #[arg(long, value_name = "DIR")]
        unit_dir: Option<PathBuf>,
    },
}

/// Subcommand names, lower case.
const COMMANDS: &[&str] = &[
    "start",
    "stop",
    "execsvc",
    "status",
    "password-set",
    "serverpasswordset",
    "install",
    "uninstall",
];
/// Options that take a value (so their value is never taken as a command).
const VALUE_OPTIONS: &[&str] = &["--dir", "--log-dir", "--user", "--log-level", "--unit-dir"];

/// Lower-cases the first argument that names a command, ignoring option values.
pub(crate) fn normalise(args: &[OsString]) -> Vec<OsString> {
    let mut out = Vec::with_capacity(args.len());
    let mut found = false;
    let mut skip_value = false;
    for (i, a) in args.iter().enumerate() {
        if i == 0 || found {
            out.push(a.clone());
            continue;
        }
        if skip_value {
            skip_value = false;
            out.push(a.clone());
            continue;
        }
        let s = a.to_string_lossy();
        if VALUE_OPTIONS.contains(&s.as_ref()) {
            skip_value = true;
            out.push(a.clone());
            continue;
        }
        let lower = s.to_ascii_lowercase();
        if COMMANDS.contains(&lower.as_str()) {
            found = true;
            out.push(OsString::from(lower));
        } else {
            out.push(a.clone());
        }
    }
    out
}

/// Parses `args` (`args[0]` = program name). On `Err` the usage or error
/// text has been printed and the value is the exit code to use.
pub(crate) fn parse(edition: Edition, args: &[OsString]) -> Result<Cli, u8> {
    let args = normalise(args);
    match Cli::try_parse_from(&args) {
        Ok(cli) if cli.help => {
            print!("{}", messages::usage(edition));
            Err(exit::OK)
        }
        Ok(cli) if cli.command.is_none() => {
            print!("{}", messages::usage(edition));
            Err(exit::OK)
        }
        Ok(cli) => Ok(cli),
        Err(e) => {
            use clap::error::ErrorKind;
            match e.kind() {
                ErrorKind::InvalidSubcommand | ErrorKind::UnknownArgument
                    if !args
                        .iter()
                        .skip(1)
                        .any(|a| COMMANDS.contains(&a.to_string_lossy().as_ref())) =>
                {
                    let bad = args
                        .iter()
                        .skip(1)
                        .find(|a| !a.to_string_lossy().starts_with('-'))
                        .or_else(|| args.get(1))
                        .map(|a| a.to_string_lossy().into_owned())
                        .unwrap_or_default();
                    eprintln!("Unknown command or option: {bad}\n");
                    eprint!("{}", messages::usage(edition));
                    Err(exit::USAGE)
                }
                _ => {
                    eprint!("{}", e.render());
                    eprintln!("Run \"{} --help\" for the usage.", edition.program_name());
                    Err(exit::USAGE)
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn os(v: &[&str]) -> Vec<OsString> {
        v.iter().map(OsString::from).collect()
    }

    #[test]
    fn commands_are_case_insensitive() {
        let cli = parse(
            Edition::Server,
            &os(&["vpnserver", "START", "--foreground"]),
        )
        .unwrap();
        assert_eq!(cli.command, Some(Command::Start { foreground: true }));
        let cli = parse(Edition::Server, &os(&["vpnserver", "ExecSvc"])).unwrap();
        assert_eq!(cli.command, Some(Command::Execsvc));
    }

    #[test]
    fn option_value_equal_to_a_command_name_is_not_a_command() {
        let cli = parse(
            Edition::Server,
            &os(&["vpnserver", "--dir", "Stop", "status"]),
        )
        .unwrap();
        assert_eq!(cli.dir, Some(PathBuf::from("Stop")));
        assert_eq!(cli.command, Some(Command::Status));
    }

    #[test]
    fn global_options_after_the_command() {
        let cli = parse(
            Edition::Bridge,
            &os(&[
                "vpnbridge",
                "install",
                "--unit-dir",
                "/tmp/u",
                "--dir",
                "/x",
            ]),
        )
        .unwrap();
        assert_eq!(cli.dir, Some(PathBuf::from("/x")));
        assert_eq!(
            cli.command,
            Some(Command::Install {
                unit_dir: Some(PathBuf::from("/tmp/u"))
            })
        );
    }

    #[test]
    fn no_command_and_unknown_command_give_usage_codes() {
        assert_eq!(
            parse(Edition::Server, &os(&["vpnserver"])).unwrap_err(),
            exit::OK
        );
        assert_eq!(
            parse(Edition::Server, &os(&["vpnserver", "--help"])).unwrap_err(),
            exit::OK
        );
        assert_eq!(
            parse(Edition::Server, &os(&["vpnserver", "frobnicate"])).unwrap_err(),
            exit::USAGE
        );
        assert_eq!(
            parse(Edition::Server, &os(&["vpnserver", "stop", "--bogus"])).unwrap_err(),
            exit::USAGE
        );
    }
}
