//! Operating modes of `vpnserver` and `vpnbridge`: the command line, User Mode
//! (`start`/`stop`), the two-stage `execsvc` supervisor, `start --foreground`,
//! `status`, and Service Mode (`install`/`uninstall` of a systemd unit; the
//! Windows service control manager on Windows).
//!
//! The behaviour follows the "Operating Modes" chapters of the SoftEther VPN
//! Server and Bridge manuals (3.2 / 5.2) and the process model of SoftEther
//! 5.01 (`src/Mayaqua/Unix.c`, `UnixService`), with deliberate improvements:
//!
//! * `start` returns only once the worker accepts on a listener (SoftEther
//!   returns before the engine is up) and exits non-zero on failure (SoftEther
//!   always exits 0).
//! * The supervisor binds the listening sockets and hands them to each worker,
//!   so connections arriving while a crashed worker is restarted wait in the
//!   kernel backlog instead of being refused.
//! * The lock file is never unlinked (SoftEther 5.01 deletes it on a failed
//!   lock attempt, which lets a third `start` run a duplicate instance).
//! * `stop` signals only the pids recorded for this state directory (SoftEther
//!   falls back to killing every process of that name on the host).
//!
//! The user-facing description is `docs/operating-modes.md`.
//!
//! Exit codes of every command ([`exit`]): 0 success, 1 failure, 2 usage
//! error, 3 not running (`stop`, `status`), as in LSB init scripts.

mod cli;
#[cfg(unix)]
mod config;
#[cfg_attr(not(unix), allow(dead_code))]
mod messages;
mod paths;
pub mod report;
pub mod restart;
pub mod unit;

#[cfg(unix)]
mod unix;
#[cfg(windows)]
mod windows;

use std::process::ExitCode;

pub use cli::{Cli, Command};
pub use paths::{default_state_dir, Paths};
pub use rustether_config::Edition;

/// Process exit codes used by all commands.
pub mod exit {
    /// The command did what was asked.
    pub const OK: u8 = 0;
    /// The command failed (start failed, stop timed out, install failed ...).
    pub const FAILURE: u8 = 1;
    /// The command line could not be understood.
    pub const USAGE: u8 = 2;
    /// `stop` or `status`: no instance is running for this state directory.
    pub const NOT_RUNNING: u8 = 3;
}

/// Entry point of the `vpnserver` / `vpnbridge` binaries: parses the process
/// arguments and runs the chosen mode. Never returns before the mode ends
/// (`execsvc` and `start --foreground` run until stopped).
///
/// Must be called from `main` before any thread is created: `start` and
/// `execsvc` fork.
pub fn main(edition: Edition) -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    ExitCode::from(run_with_args(edition, args))
}

/// Like [`main`] with explicit arguments (`args[0]` is the program name);
/// returns the exit code.
pub fn run_with_args(edition: Edition, args: Vec<std::ffi::OsString>) -> u8 {
    #[cfg(windows)]
    if let Some(code) = windows::try_windows_command(edition, &args) {
        return code;
    }
    let parsed = match cli::parse(edition, &args) {
        Ok(p) => p,
        Err(code) => return code,
    };
    #[cfg(unix)]
    {
        unix::dispatch(edition, parsed)
    }
    #[cfg(not(unix))]
    {
        let _ = parsed;
        eprintln!(
            "This command is available on Unix only; on Windows use /install, /uninstall, /start, /stop or /usermode."
        );
        exit::USAGE
    }
}
