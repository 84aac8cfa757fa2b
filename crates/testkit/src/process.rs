//! `Proc`: RAII guard for a long-running process started by the harness.
//!
//! The process gets its own process group (pgid = pid), `stdin` = `/dev/null`,
//! and stdout + stderr appended to one log file. Dropping the guard sends
//! SIGTERM to that process group, waits (bounded), then SIGKILL. Only the
//! group we created is signalled, by its id; nothing is killed by name.

use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cmd::{describe, tail_lines};

/// `kill(2)` through nix; `sig` 0 only checks existence, an unknown
/// signal number is `EINVAL`.
fn kill_raw(pid: i32, sig: libc::c_int) -> nix::Result<()> {
    use nix::sys::signal::{kill, Signal};
    let sig = match sig {
        0 => None,
        s => Some(Signal::try_from(s)?),
    };
    kill(nix::unistd::Pid::from_raw(pid), sig)
}

/// Send `sig` to the process group `pgid` (falls back to the single pid if the
/// group no longer exists). Errors (already gone) are ignored.
pub fn kill_group(pgid: i32, sig: libc::c_int) {
    if pgid <= 1 {
        return; // never signal "every process" or init
    }
    // A negative pid addresses exactly that process group.
    if kill_raw(-pgid, sig).is_err() {
        let _ = kill_raw(pgid, sig);
    }
}

/// Send `sig` to the single process `pid` (ignored if it is gone).
pub fn kill_pid(pid: i32, sig: libc::c_int) {
    if pid <= 1 {
        return;
    }
    let _ = kill_raw(pid, sig);
}

/// True if a live (non-zombie) process is still a member of process group `pgid`.
pub fn group_alive(pgid: i32) -> bool {
    if pgid <= 1 {
        return false;
    }
    // Signal 0 only checks for existence/permission.
    if kill_raw(-pgid, 0).is_err() {
        return false;
    }
    // kill(2) also succeeds for zombies waiting to be reaped by init; look closer.
    !crate::cpu::group_members(pgid).is_empty()
}

/// A running process started by the harness (see the module docs).
#[derive(Debug)]
pub struct Proc {
    name: String,
    child: Child,
    pid: i32,
    log: PathBuf,
    exit: Option<ExitStatus>,
    stop_timeout: Duration,
}

impl Proc {
    /// Start `cmd` as `name`, logging stdout and stderr to `<log_dir>/<name>.log`
    /// (appended, so a restarted process keeps the earlier output).
    ///
    /// Errors: the log file cannot be created or the program cannot be started.
    pub fn spawn(name: &str, mut cmd: Command, log_dir: &Path) -> Result<Proc> {
        std::fs::create_dir_all(log_dir)
            .with_context(|| format!("cannot create {}", log_dir.display()))?;
        let log = log_dir.join(format!("{name}.log"));
        let f = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log)
            .with_context(|| format!("cannot open {}", log.display()))?;
        let f2 = f.try_clone()?;
        let what = describe(&cmd);
        let child = cmd
            .stdin(Stdio::null())
            .stdout(Stdio::from(f))
            .stderr(Stdio::from(f2))
            .process_group(0)
            .spawn()
            .with_context(|| format!("cannot start {name}: `{what}`"))?;
        let pid = child.id() as i32;
        Ok(Proc {
            name: name.to_string(),
            child,
            pid,
            log,
            exit: None,
            stop_timeout: Duration::from_secs(15),
        })
    }

    /// Name given at spawn time.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Process id; also the process-group id of everything it started.
    pub fn pid(&self) -> i32 {
        self.pid
    }

    /// Path of the combined stdout/stderr log.
    pub fn log_path(&self) -> &Path {
        &self.log
    }

    /// How long `Drop`/[`Proc::stop`] waits after SIGTERM before SIGKILL (default 15 s).
    pub fn set_stop_timeout(&mut self, t: Duration) {
        self.stop_timeout = t;
    }

    /// True while the process has not exited (reaps it once it has).
    pub fn is_running(&mut self) -> bool {
        if self.exit.is_some() {
            return false;
        }
        match self.child.try_wait() {
            Ok(Some(st)) => {
                self.exit = Some(st);
                false
            }
            Ok(None) => true,
            Err(_) => false,
        }
    }

    /// Exit status, if the process has exited.
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.is_running();
        self.exit
    }

    /// `Ok` while running; otherwise an error with the exit status and the log tail.
    pub fn ensure_running(&mut self) -> Result<()> {
        if self.is_running() {
            return Ok(());
        }
        bail!(
            "{} (pid {}) exited ({}); last log lines:\n{}",
            self.name,
            self.pid,
            self.exit
                .map(|s| s.to_string())
                .unwrap_or_else(|| "unknown status".into()),
            self.log_tail(25)
        )
    }

    /// The last `n` lines of the process log (empty if it cannot be read).
    pub fn log_tail(&self, n: usize) -> String {
        tail_lines(&read_file_tail(&self.log, 256 * 1024), n)
    }

    /// Current size of the log in bytes (an offset for [`Proc::log_since`]).
    pub fn log_len(&self) -> u64 {
        std::fs::metadata(&self.log).map(|m| m.len()).unwrap_or(0)
    }

    /// Log text written since byte `offset` (at most 4 MiB).
    pub fn log_since(&self, offset: u64) -> String {
        let mut s = String::new();
        if let Ok(mut f) = File::open(&self.log) {
            if f.seek(SeekFrom::Start(offset)).is_ok() {
                let _ = f.take(4 << 20).read_to_string(&mut s);
            }
        }
        s
    }

    /// SIGTERM to the process group, wait up to the stop timeout, then SIGKILL
    /// (and wait up to 5 s more). Returns the exit status of the main process.
    ///
    /// Errors: the process could not be reaped even after SIGKILL.
    pub fn stop(&mut self) -> Result<ExitStatus> {
        if let Some(st) = self.exit_status() {
            // Main process gone; make sure nothing it left in its group survives.
            if group_alive(self.pid) {
                kill_group(self.pid, libc::SIGKILL);
            }
            return Ok(st);
        }
        kill_group(self.pid, libc::SIGTERM);
        let t0 = Instant::now();
        if let Some(st) = self.wait_for(self.stop_timeout) {
            if t0.elapsed() > Duration::from_secs(3) {
                eprintln!(
                    "testkit: {} (pid {}) took {:.1} s to stop after SIGTERM",
                    self.name,
                    self.pid,
                    t0.elapsed().as_secs_f64()
                );
            }
            if group_alive(self.pid) {
                kill_group(self.pid, libc::SIGKILL);
            }
            return Ok(st);
        }
        eprintln!(
            "testkit: {} (pid {}) ignored SIGTERM for {:?}; sending SIGKILL",
            self.name, self.pid, self.stop_timeout
        );
        kill_group(self.pid, libc::SIGKILL);
        match self.wait_for(Duration::from_secs(5)) {
            Some(st) => Ok(st),
            None => bail!("{} (pid {}) survived SIGKILL", self.name, self.pid),
        }
    }

    fn wait_for(&mut self, t: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + t;
        loop {
            if let Some(st) = self.exit_status() {
                return Some(st);
            }
            if Instant::now() >= deadline {
                return None;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Proc {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            eprintln!("testkit: {e:#}");
        }
    }
}

/// The last `max` bytes of a file as (lossy) text; empty if unreadable.
pub fn read_file_tail(path: &Path, max: u64) -> String {
    let Ok(mut f) = File::open(path) else {
        return String::new();
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let _ = f.seek(SeekFrom::Start(len.saturating_sub(max)));
    let mut v = Vec::new();
    let _ = f.take(max).read_to_end(&mut v);
    String::from_utf8_lossy(&v).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp() -> crate::tmp::TestDir {
        crate::tmp::TestDir::new("proc-unit").unwrap()
    }

    #[test]
    fn logs_output_and_reports_exit() {
        let d = tmp();
        let mut c = Command::new("sh");
        c.args(["-c", "echo hello; echo oops >&2; exit 4"]);
        let mut p = Proc::spawn("t", c, d.path()).unwrap();
        crate::cmd::wait_until(
            "exit",
            Duration::from_secs(5),
            Duration::from_millis(10),
            || Ok(!p.is_running()),
        )
        .unwrap();
        assert_eq!(p.exit_status().unwrap().code(), Some(4));
        let e = p.ensure_running().unwrap_err();
        let msg = format!("{e:#}");
        assert!(msg.contains("hello") && msg.contains("oops"), "{msg}");
        assert_eq!(p.log_since(6), "oops\n");
    }

    #[test]
    fn drop_terminates_the_whole_group() {
        let d = tmp();
        // The shell starts a grandchild in the same group, then waits.
        let mut c = Command::new("sh");
        // (The grandchild never ends on its own: an empty group after the
        // drop means the drop ended it.)
        c.args(["-c", "sleep 1000000 & echo $! > child.pid; wait"])
            .current_dir(d.path());
        let p = Proc::spawn("grp", c, d.path()).unwrap();
        let pidfile = d.path().join("child.pid");
        crate::cmd::wait_until(
            "child pid",
            Duration::from_secs(5),
            Duration::from_millis(10),
            || Ok(std::fs::read_to_string(&pidfile).is_ok_and(|s| s.ends_with('\n'))),
        )
        .unwrap();
        let pgid = p.pid();
        assert!(group_alive(pgid));
        drop(p);
        assert!(
            crate::cpu::group_members(pgid).is_empty(),
            "process group {pgid} still has live members"
        );
    }

    #[test]
    fn sigterm_ignoring_process_is_killed() {
        let d = tmp();
        let mut c = Command::new("sh");
        c.args(["-c", "trap '' TERM; while :; do sleep 0.05; done"]);
        let mut p = Proc::spawn("stubborn", c, d.path()).unwrap();
        p.set_stop_timeout(Duration::from_millis(300));
        thread::sleep(Duration::from_millis(100));
        let st = p.stop().unwrap();
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(st.signal(), Some(libc::SIGKILL));
    }
}
