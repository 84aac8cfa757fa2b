//! `stop` and `status`: find the instance of a state directory through its
//! lock and pid files only (never by process name).

use std::time::{Duration, Instant};

use nix::sys::signal::Signal;

use super::lock::InstanceLock;
use super::{sys, Ctx};
use crate::report::{parse_pid_file, ProcEntry, Role, StatusFile};
use crate::{exit, messages};

/// How long `stop` waits for a clean shutdown before killing the recorded pids.
pub(crate) const STOP_TIMEOUT: Duration = Duration::from_secs(10);
/// Poll interval while waiting.
const POLL: Duration = Duration::from_millis(10);

/// Largest pid/status file read.
const MAX_FILE: u64 = 64 * 1024;

fn read_small(p: &std::path::Path) -> String {
    use std::io::Read;
    let mut s = String::new();
    if let Ok(f) = std::fs::File::open(p) {
        let _ = f.take(MAX_FILE).read_to_string(&mut s);
    }
    s
}

/// Processes of the pid file that are still the same live processes.
fn live_entries(ctx: &Ctx) -> Vec<ProcEntry> {
    parse_pid_file(&read_small(&ctx.paths.pid))
        .into_iter()
        .filter(|e| sys::same_process_alive(e.pid, e.starttime))
        .collect()
}

fn lock_held(ctx: &Ctx) -> Result<bool, u8> {
    InstanceLock::is_held(&ctx.paths.lock).map_err(|e| {
        eprintln!("{e}");
        exit::FAILURE
    })
}

fn remove_stale(ctx: &Ctx) {
    let _ = std::fs::remove_file(&ctx.paths.pid);
    let _ = std::fs::remove_file(&ctx.paths.status);
}

pub(crate) fn stop(ctx: &Ctx) -> u8 {
    let e = ctx.edition;
    match lock_held(ctx) {
        Err(c) => return c,
        Ok(false) => {
            remove_stale(ctx);
            eprintln!("{}", messages::not_started(e));
            return exit::NOT_RUNNING;
        }
        Ok(true) => {}
    }
    let live = live_entries(ctx);
    // The supervisor forwards SIGTERM to its worker; an orphaned worker gets it directly.
    let target = live
        .iter()
        .find(|p| p.role == Role::Supervisor)
        .or_else(|| live.iter().find(|p| p.role == Role::Worker));
    let Some(target) = target else {
        eprintln!(
            "The {} service holds {} but no process named in {} is alive; not stopping anything.",
            e.title(),
            ctx.paths.lock.display(),
            ctx.paths.pid.display()
        );
        return exit::FAILURE;
    };
    if let Err(err) = sys::kill(target.pid, Signal::SIGTERM) {
        eprintln!("Cannot signal process {}: {err}", target.pid);
        return exit::FAILURE;
    }
    let gone = |live: &[ProcEntry]| {
        live.iter()
            .all(|p| !sys::same_process_alive(p.pid, p.starttime))
            && matches!(lock_held(ctx), Ok(false))
    };
    let deadline = Instant::now() + STOP_TIMEOUT;
    while Instant::now() < deadline {
        if gone(&live) {
            remove_stale(ctx);
            println!("{}", messages::stopped(e));
            return exit::OK;
        }
        std::thread::sleep(POLL);
    }
    let pids: Vec<String> = live.iter().map(|p| p.pid.to_string()).collect();
    eprintln!(
        "Stopping the {} service timed out after {} s; killing process(es) {}.",
        e.title(),
        STOP_TIMEOUT.as_secs(),
        pids.join(", ")
    );
    for p in &live {
        if sys::same_process_alive(p.pid, p.starttime) {
            let _ = sys::kill(p.pid, Signal::SIGKILL);
        }
    }
    let deadline = Instant::now() + Duration::from_secs(3);
    while Instant::now() < deadline && !gone(&live) {
        std::thread::sleep(POLL);
    }
    remove_stale(ctx);
    if gone(&live) {
        eprintln!("The {} service was killed.", e.title());
    } else {
        eprintln!("The {} service could not be stopped.", e.title());
    }
    exit::FAILURE
}

fn fmt_uptime(secs: u64) -> String {
    let (d, h, m, s) = (secs / 86400, secs / 3600 % 24, secs / 60 % 60, secs % 60);
    if d > 0 {
        format!("{d} d {h:02}:{m:02}:{s:02}")
    } else {
        format!("{h:02}:{m:02}:{s:02}")
    }
}

pub(crate) fn status(ctx: &Ctx) -> u8 {
    let e = ctx.edition;
    match lock_held(ctx) {
        Err(c) => return c,
        Ok(false) => {
            println!(
                "The {} service is not running (state directory {}).",
                e.title(),
                ctx.paths.state_dir.display()
            );
            return exit::NOT_RUNNING;
        }
        Ok(true) => {}
    }
    let live = live_entries(ctx);
    let st: Option<StatusFile> = serde_json::from_str(&read_small(&ctx.paths.status)).ok();
    println!("The {} service is running.", e.title());
    println!("State directory:  {}", ctx.paths.state_dir.display());
    println!(
        "Log file:         {}",
        super::logging::today_path(&ctx.paths.log_dir).display()
    );
    let sup = live.iter().find(|p| p.role == Role::Supervisor);
    let wrk = live.iter().find(|p| p.role == Role::Worker);
    match (sup, st.as_ref().map(|s| s.mode.as_str())) {
        (Some(s), _) => println!("Supervisor pid:   {}", s.pid),
        (None, Some("foreground")) => println!("Mode:             foreground (no supervisor)"),
        (None, _) => println!("Supervisor pid:   none (the worker runs without supervisor)"),
    }
    match wrk {
        Some(w) => println!("Worker pid:       {}", w.pid),
        None => println!("Worker pid:       none (being restarted)"),
    }
    if let Some(s) = &st {
        let ports = |v: &[u16]| {
            v.iter()
                .map(|p| p.to_string())
                .collect::<Vec<_>>()
                .join(", ")
        };
        println!("Listening:        TCP {}", ports(&s.listening));
        for f in &s.failed {
            println!("Not listening:    TCP {} ({})", f.port, f.reason);
        }
        let now = sys::unix_now();
        println!(
            "Uptime:           {}",
            fmt_uptime(now.saturating_sub(s.started_unix))
        );
        if s.mode == "execsvc" {
            println!("Worker restarts:  {}", s.restarts);
            println!(
                "Worker uptime:    {}",
                fmt_uptime(now.saturating_sub(s.worker_ready_unix))
            );
        }
    } else {
        println!("Listening:        unknown (the worker has not reported yet)");
    }
    exit::OK
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_format() {
        assert_eq!(fmt_uptime(0), "00:00:00");
        assert_eq!(fmt_uptime(3725), "01:02:05");
        assert_eq!(fmt_uptime(90061), "1 d 01:01:01");
    }
}
