//! The Unix modes. Process layout (see `docs/operating-modes.md`):
//!
//! ```text
//! vpnserver start            launcher: forks, the child setsid()s and execs
//!  └─ vpnserver execsvc      supervisor: lock, listening sockets, restarts
//!      └─ vpnserver execsvc  worker (RUSTETHER_ROLE=worker): the VPN engine
//! ```
//!
//! Both daemon processes are `exec`s of `/proc/self/exe` with argv exactly
//! `[argv0, "execsvc"]`; options travel in the environment variables that
//! the command line also reads (`RUSTETHER_DIR`, ...). Neither the launcher
//! nor the supervisor ever creates a thread, so their `fork`s are sound.

mod control;
mod install;
mod launcher;
mod listeners;
mod lock;
mod logging;
mod notify;
mod password;
mod privdrop;
mod supervisor;
mod sys;
mod worker;

use std::ffi::OsString;
use std::path::PathBuf;
use std::process::Command as Proc;

use crate::cli::{Cli, Command};
use crate::paths::{default_state_dir, Paths};
use crate::Edition;

/// Marks the worker process (value `worker`).
pub(crate) const ROLE_ENV: &str = "RUSTETHER_ROLE";
/// Launcher → supervisor readiness pipe (write end descriptor).
pub(crate) const READY_ENV: &str = "RUSTETHER_READY_FD";
/// Supervisor → worker: the worker's report pipe (write end descriptor).
pub(crate) const STATUS_ENV: &str = "RUSTETHER_STATUS_FD";
/// Supervisor → worker: the inherited instance-lock descriptor.
pub(crate) const LOCK_ENV: &str = "RUSTETHER_LOCK_FD";

/// Everything a mode needs from the command line.
#[derive(Debug, Clone)]
pub(crate) struct Ctx {
    pub edition: Edition,
    pub paths: Paths,
    /// `--dir` (or `RUSTETHER_DIR`) was given.
    pub dir_given: bool,
    /// `--log-dir` was given.
    pub log_dir_given: bool,
    pub user: Option<String>,
    pub log_level: Option<String>,
    /// argv[0] as invoked, reused for the daemon processes (`ps` shows it).
    pub argv0: OsString,
}

impl Ctx {
    /// Puts the options into `cmd`'s environment so that a re-executed
    /// `execsvc` sees the same instance.
    pub(crate) fn child_env(&self, cmd: &mut Proc) {
        cmd.env("RUSTETHER_DIR", &self.paths.state_dir);
        cmd.env("RUSTETHER_LOG_DIR", &self.paths.log_dir);
        match &self.user {
            Some(u) => cmd.env("RUSTETHER_USER", u),
            None => cmd.env_remove("RUSTETHER_USER"),
        };
        match &self.log_level {
            Some(l) => cmd.env("RUSTETHER_LOG_LEVEL", l),
            None => cmd.env_remove("RUSTETHER_LOG_LEVEL"),
        };
    }
}

/// Runs the parsed command; returns the exit code.
pub(crate) fn dispatch(edition: Edition, cli: Cli) -> u8 {
    let argv0 = std::env::args_os()
        .next()
        .unwrap_or_else(|| edition.program_name().into());
    let is_root = sys::euid() == 0;
    let dir_given = cli.dir.is_some();
    let state_dir: PathBuf = cli.dir.clone().unwrap_or_else(|| {
        default_state_dir(
            is_root,
            std::env::var("XDG_STATE_HOME").ok().as_deref(),
            std::env::var("HOME").ok().as_deref(),
        )
    });
    let ctx = Ctx {
        edition,
        paths: Paths::new(edition, &state_dir, cli.log_dir.as_deref()),
        dir_given,
        log_dir_given: cli.log_dir.is_some(),
        user: cli.user.clone(),
        log_level: cli.log_level.clone(),
        argv0,
    };
    match cli.command {
        Some(Command::Start { foreground: false }) => launcher::start(&ctx),
        Some(Command::Start { foreground: true }) => worker::foreground(&ctx),
        Some(Command::Execsvc) => {
            if std::env::var(ROLE_ENV).as_deref() == Ok("worker") {
                worker::worker_main(&ctx)
            } else {
                supervisor::run(&ctx)
            }
        }
        Some(Command::Stop) => control::stop(&ctx),
        Some(Command::Status) => control::status(&ctx),
        Some(Command::PasswordSet) => password::password_set(&ctx),
        Some(Command::Install { unit_dir }) => install::install(&ctx, unit_dir.as_deref()),
        Some(Command::Uninstall { unit_dir }) => install::uninstall(&ctx, unit_dir.as_deref()),
        None => crate::exit::USAGE,
    }
}

/// Creates the state directory (mode 0700) if needed.
pub(crate) fn ensure_state_dir(p: &Paths) -> Result<(), String> {
    use std::os::unix::fs::DirBuilderExt;
    if p.state_dir.is_dir() {
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(&p.state_dir)
        .map_err(|e| {
            format!(
                "cannot create the state directory {}: {e}",
                p.state_dir.display()
            )
        })
}

/// Takes a descriptor number from environment variable `var` (removing it),
/// if it names an open descriptor ≥ 3.
pub(crate) fn take_fd_env(var: &str) -> Option<i32> {
    let v = std::env::var(var).ok()?;
    std::env::remove_var(var);
    let fd: i32 = v.trim().parse().ok()?;
    (fd >= 3 && sys::set_cloexec(fd, true).is_ok()).then_some(fd)
}

/// Logs panics through tracing (the daemon's stderr is /dev/null).
pub(crate) fn log_panics() {
    let prev = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        tracing::error!("panic: {info}");
        prev(info);
    }));
}
