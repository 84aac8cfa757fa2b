//! `start`: the User Mode launcher.
//!
//! Forks a daemon (new session, standard streams on /dev/null, SIGHUP
//! ignored, as SoftEther `UnixStartService`) that execs `<exe> execsvc`,
//! then waits on a pipe until the supervisor relays that the worker accepts
//! connections (or why it could not). Unlike SoftEther, the started line is
//! printed only then, and failures exit non-zero. The launcher creates no
//! thread before forking.

use std::fs::File;
use std::io::Read;
use std::os::fd::{AsFd, AsRawFd};

use nix::sys::signal::Signal;
use std::os::unix::process::CommandExt;
use std::process::{Command as Proc, Stdio};
use std::time::{Duration, Instant};

use super::lock::{InstanceLock, LockError};
use super::{ensure_state_dir, sys, Ctx, READY_ENV, ROLE_ENV};
use crate::report::{LineBuffer, Report};
use crate::{exit, messages};

/// How long `start` waits for the worker to accept connections.
pub(crate) const START_TIMEOUT: Duration = Duration::from_secs(30);

pub(crate) fn start(ctx: &Ctx) -> u8 {
    let e = ctx.edition;
    if ctx.user.is_some() && sys::euid() != 0 {
        eprintln!("--user needs root: only root can switch to another user.");
        return exit::FAILURE;
    }
    if let Err(m) = ensure_state_dir(&ctx.paths) {
        eprintln!("{m}");
        return exit::FAILURE;
    }
    match InstanceLock::is_held(&ctx.paths.lock) {
        Ok(false) => {}
        Ok(true) => {
            eprintln!("{}", messages::already_started(e));
            return exit::FAILURE;
        }
        Err(LockError::Io { path, source }) => {
            eprintln!("Unable to open the lock file {path}: {source}");
            return exit::FAILURE;
        }
        Err(err) => {
            eprintln!("{err}");
            return exit::FAILURE;
        }
    }
    let (mut rd, wr) = match sys::pipe() {
        Ok(p) => p,
        Err(err) => {
            eprintln!(
                "Failed to create child process for the {} service: {err}",
                e.title()
            );
            return exit::FAILURE;
        }
    };
    let wfd = wr.as_raw_fd();
    let mut cmd = Proc::new("/proc/self/exe");
    cmd.arg0(&ctx.argv0)
        .arg("execsvc")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .env(READY_ENV, wfd.to_string())
        .env_remove(ROLE_ENV)
        .current_dir("/");
    ctx.child_env(&mut cmd);
    // SAFETY: the closure runs between fork and exec and only makes
    // async-signal-safe system calls (setsid, signal, fcntl), allocating
    // nothing. `signal` replaces no Rust handler: SIGHUP has none here.
    unsafe {
        cmd.pre_exec(move || {
            nix::unistd::setsid()?;
            nix::sys::signal::signal(Signal::SIGHUP, nix::sys::signal::SigHandler::SigIgn)?;
            sys::set_cloexec(wfd, false)
        });
    }
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(err) => {
            eprintln!(
                "Failed to create child process for the {} service: {err}",
                e.title()
            );
            return exit::FAILURE;
        }
    };
    drop(wr);
    let pid = child.id();
    let waited = wait_report(&mut rd, START_TIMEOUT);
    match waited {
        Waited::Report(Report::Ready { listening, failed }) if !listening.is_empty() => {
            println!("{}", messages::started(e));
            for f in &failed {
                eprintln!("{}", messages::port_warning(f.port, &f.reason));
            }
            exit::OK
        }
        Waited::Report(Report::Ready { .. }) => {
            eprintln!(
                "The {} service could not open any listener port.",
                e.title()
            );
            let _ = sys::kill(pid, Signal::SIGTERM);
            reap(&mut child);
            exit::FAILURE
        }
        Waited::Report(Report::Error { message }) => {
            eprintln!("{message}");
            eprintln!("The {} service could not be started.", e.title());
            // The supervisor ends by itself; wait so that nothing of the
            // failed instance (not even its lock) outlives `start`.
            reap(&mut child);
            exit::FAILURE
        }
        Waited::Eof | Waited::Garbage(_) => {
            reap(&mut child);
            let mut status = child
                .try_wait()
                .ok()
                .flatten()
                .map(|s| format!(" ({s})"))
                .unwrap_or_default();
            if let Waited::Garbage(g) = &waited {
                status.push_str(&format!(" (unreadable start-up report: {g})"));
            }
            eprintln!(
                "The {} service process ended during start-up{status}; see the log in {}.",
                e.title(),
                ctx.paths.log_dir.display()
            );
            exit::FAILURE
        }
        Waited::Timeout => {
            eprintln!(
                "The {} service did not accept connections within {} s; stopping it (pid {pid}). See the log in {}.",
                e.title(),
                START_TIMEOUT.as_secs(),
                ctx.paths.log_dir.display()
            );
            let _ = sys::kill(pid, Signal::SIGTERM);
            reap(&mut child);
            exit::FAILURE
        }
    }
}

/// Waits (bounded) for the daemon to end after a failed start; kills it
/// when it does not.
fn reap(child: &mut std::process::Child) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    let _ = child.kill();
    let _ = child.wait();
}

enum Waited {
    Report(Report),
    Eof,
    Garbage(String),
    Timeout,
}

/// Reads the first report line from `rd`, bounded by `timeout`.
fn wait_report(rd: &mut File, timeout: Duration) -> Waited {
    let deadline = Instant::now() + timeout;
    let mut lb = LineBuffer::default();
    let mut buf = [0u8; 4096];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Waited::Timeout;
        }
        match sys::poll_read(&[rd.as_fd()], Some(left)) {
            Ok(r) if r[0] => {}
            Ok(_) => continue,
            Err(e) => return Waited::Garbage(e.to_string()),
        }
        let n = match rd.read(&mut buf) {
            Ok(0) => return Waited::Eof,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Waited::Garbage(e.to_string()),
        };
        match lb.push(&buf[..n]) {
            Ok(lines) => {
                if let Some(l) = lines.first() {
                    return match Report::parse_line(l) {
                        Ok(r) => Waited::Report(r),
                        Err(e) => Waited::Garbage(e.to_string()),
                    };
                }
            }
            Err(e) => return Waited::Garbage(e.to_string()),
        }
    }
}
