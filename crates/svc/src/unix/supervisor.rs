//! `execsvc`: the supervisor (SoftEther's "watchdog" parent process).
//!
//! Single-threaded, no async runtime: it takes the instance lock, opens the
//! listening sockets, starts the worker (`fork`+`exec` of `/proc/self/exe`
//! with `RUSTETHER_ROLE=worker`), and then waits in one `poll` loop on a
//! signalfd (SIGCHLD, SIGTERM, SIGINT, SIGHUP) and the worker's report pipe:
//!
//! * worker ready → relay to the `start` launcher (first time), `READY=1` to
//!   systemd, status file;
//! * worker ended abnormally (signal, non-zero exit) → re-read the
//!   configuration, open new listener ports, start a new worker at once
//!   (back-off when crash-looping, [`crate::restart`]);
//! * worker exited with status 0 → the supervisor ends too (SoftEther: any
//!   normal exit ends the watchdog);
//! * SIGTERM/SIGINT/SIGHUP → forward SIGTERM to the worker, wait, end.
//!   (SIGHUP is ignored when launched by `start`, as in SoftEther.)
//!
//! The worker keeps serving if the supervisor is SIGKILLed (no
//! `PR_SET_PDEATHSIG`), as the manual describes; it still holds the
//! inherited lock, and `stop` finds it through the pid file.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, FromRawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::process::{Child, Command as Proc, Stdio};
use std::time::{Duration, Instant};

use nix::sys::signal::Signal;
use nix::sys::signalfd::SignalFd;

use super::listeners::{self, ListenerSet, LISTEN_ENV};
use super::lock::{InstanceLock, LockError};
use super::notify::{self, Notifier};
use super::privdrop::{self, TargetUser};
use super::{
    ensure_state_dir, logging, sys, take_fd_env, Ctx, LOCK_ENV, READY_ENV, ROLE_ENV, STATUS_ENV,
};
use crate::report::{format_pid_file, FailedPort, LineBuffer, ProcEntry, Report, Role, StatusFile};
use crate::restart::{RestartPolicy, WorkerEnd};
use crate::{config, exit, messages};

/// How long the supervisor waits for a worker to finish after forwarding
/// SIGTERM before it kills it (SoftEther's worker gives up after 60 s).
const STOP_GRACE: Duration = Duration::from_secs(60);

struct Worker {
    child: Child,
    pid: u32,
    starttime: u64,
    reports: File,
    lines: LineBuffer,
    ready: bool,
    spawned: Instant,
    error: Option<String>,
}

struct Supervisor<'a> {
    ctx: &'a Ctx,
    lock: InstanceLock,
    set: ListenerSet,
    bind_failed: Vec<FailedPort>,
    user: Option<TargetUser>,
    worker: Option<Worker>,
    policy: RestartPolicy,
    restarts: u32,
    ever_ready: bool,
    ready_pipe: Option<File>,
    notifier: Option<Notifier>,
    started_unix: u64,
    me: ProcEntry,
    restart_at: Option<Instant>,
    stop_deadline: Option<Instant>,
    stopping: bool,
}

pub(crate) fn run(ctx: &Ctx) -> u8 {
    let e = ctx.edition;
    sys::set_process_name(e.program_name());
    logging::init_file(
        ctx.log_level.as_deref(),
        &ctx.paths.log_dir,
        std::env::var_os("JOURNAL_STREAM").is_some(),
        logging::Retention::configured(ctx),
    );
    super::log_panics();
    // SAFETY: the descriptor was created for us by the launcher.
    let mut ready_pipe = take_fd_env(READY_ENV).map(|fd| unsafe { File::from_raw_fd(fd) });
    let notifier = Notifier::from_env();
    let wd = notify::watchdog_interval();
    notify::clear_env();
    std::env::remove_var(ROLE_ENV);

    let mut fail = |msg: String| -> u8 {
        tracing::error!("{msg}");
        if let Some(mut p) = ready_pipe.take() {
            let _ = p.write_all(
                Report::Error {
                    message: msg.clone(),
                }
                .to_line()
                .as_bytes(),
            );
        } else {
            eprintln!("{msg}");
        }
        if let Some(n) = &notifier {
            let _ = n.send(&format!("STATUS={msg}"));
        }
        exit::FAILURE
    };
    if let Err(m) = ensure_state_dir(&ctx.paths) {
        return fail(m);
    }
    let user = match &ctx.user {
        None => None,
        Some(_) if sys::euid() != 0 => {
            return fail("--user needs root: only root can switch to another user.".into())
        }
        Some(name) => match privdrop::lookup(name) {
            Ok(u) => Some(u),
            Err(m) => return fail(m),
        },
    };
    let lock = match InstanceLock::acquire(&ctx.paths.lock) {
        Ok(l) => l,
        Err(LockError::Held) => return fail(messages::already_started(e)),
        Err(err) => return fail(err.to_string()),
    };
    let mut set = ListenerSet::default();
    set.add_activated(listeners::take_socket_activation());
    // The first configuration error is fatal (and reported by `start`);
    // later ones are the worker's to report while it is restarted.
    if let Err(m) = config::load(e, &ctx.paths.state_dir) {
        return fail(m);
    }
    let sigfd = match sys::block_signals_to_fd(&[
        Signal::SIGCHLD,
        Signal::SIGTERM,
        Signal::SIGINT,
        Signal::SIGHUP,
    ]) {
        Ok(fd) => fd,
        Err(err) => return fail(format!("cannot set up signal handling: {err}")),
    };
    let pid = std::process::id();
    let me = ProcEntry {
        role: Role::Supervisor,
        pid,
        starttime: sys::proc_starttime(pid).unwrap_or(0),
    };
    tracing::info!(
        "{} service supervisor started (pid {pid}, state directory {})",
        e.title(),
        ctx.paths.state_dir.display()
    );
    let mut s = Supervisor {
        ctx,
        lock,
        set,
        bind_failed: Vec::new(),
        user,
        worker: None,
        policy: RestartPolicy::default(),
        restarts: 0,
        ever_ready: false,
        ready_pipe,
        notifier,
        started_unix: sys::unix_now(),
        me,
        restart_at: None,
        stop_deadline: None,
        stopping: false,
    };
    let code = s.main_loop(&sigfd, wd);
    s.cleanup();
    tracing::info!(
        "{} service supervisor ended (exit status {code})",
        e.title()
    );
    code
}

impl Supervisor<'_> {
    fn main_loop(&mut self, sigfd: &SignalFd, wd: Option<Duration>) -> u8 {
        if let Some(code) = self.spawn_worker() {
            return code;
        }
        let mut next_ping = wd.map(|d| Instant::now() + d);
        loop {
            let now = Instant::now();
            let deadline = [self.restart_at, self.stop_deadline, next_ping]
                .into_iter()
                .flatten()
                .min();
            let timeout = deadline.map(|d| d.saturating_duration_since(now));
            let mut fds = vec![sigfd.as_fd()];
            if let Some(w) = &self.worker {
                fds.push(w.reports.as_fd());
            }
            let ready = match sys::poll_read(&fds, timeout) {
                Ok(r) => r,
                Err(err) => {
                    tracing::error!("poll failed: {err}");
                    std::thread::sleep(Duration::from_millis(50));
                    continue;
                }
            };
            if ready.get(1).copied().unwrap_or(false) {
                self.read_reports();
            }
            if ready[0] {
                for sig in sys::read_signals(sigfd) {
                    let r = if sig == Signal::SIGCHLD {
                        self.reap()
                    } else {
                        self.on_stop_signal(sig)
                    };
                    if let Some(code) = r {
                        return code;
                    }
                }
            }
            let now = Instant::now();
            if self.restart_at.is_some_and(|t| t <= now) {
                self.restart_at = None;
                if let Some(code) = self.spawn_worker() {
                    return code;
                }
            }
            if self.stop_deadline.is_some_and(|t| t <= now) {
                self.stop_deadline = None;
                if let Some(w) = &self.worker {
                    tracing::error!(
                        "worker (pid {}) did not stop within {} s; killing it",
                        w.pid,
                        STOP_GRACE.as_secs()
                    );
                    let _ = sys::kill(w.pid, Signal::SIGKILL);
                }
            }
            if let (Some(t), Some(d)) = (next_ping, wd) {
                if t <= now {
                    if let Some(n) = &self.notifier {
                        let _ = n.send("WATCHDOG=1");
                    }
                    next_ping = Some(now + d);
                }
            }
        }
    }

    /// Starts a worker. `Some(code)` when the supervisor must end.
    fn spawn_worker(&mut self) -> Option<u8> {
        let ctx = self.ctx;
        match config::load(ctx.edition, &ctx.paths.state_dir) {
            Ok(c) => self.bind_failed = self.set.sync(c.listen_ip, &c.ports),
            Err(m) => tracing::error!("{m}; keeping the current listeners"),
        }
        if let Some(u) = &self.user {
            if let Err(err) = privdrop::chown_for(
                u,
                &ctx.paths.state_dir,
                &ctx.paths.config,
                &ctx.paths.log_dir,
            ) {
                tracing::warn!("cannot give user {} the state directory: {err}", u.name);
            }
        }
        let (rd, wr) = match sys::pipe() {
            Ok(p) => p,
            Err(err) => return self.spawn_failed(format!("cannot create a pipe: {err}")),
        };
        let fd_list = self.set.fd_list();
        let mut keep: Vec<i32> = fd_list.iter().map(|(fd, _)| *fd).collect();
        keep.push(wr.as_raw_fd());
        keep.push(self.lock.raw_fd());
        let mut cmd = Proc::new("/proc/self/exe");
        cmd.arg0(&ctx.argv0)
            .arg("execsvc")
            .env(ROLE_ENV, "worker")
            .env(STATUS_ENV, wr.as_raw_fd().to_string())
            .env(LOCK_ENV, self.lock.raw_fd().to_string())
            .env(LISTEN_ENV, listeners::format_fd_list(&fd_list))
            .stdin(Stdio::null());
        ctx.child_env(&mut cmd);
        // SAFETY: only fcntl and sigprocmask (async-signal-safe) between fork and exec.
        unsafe {
            cmd.pre_exec(move || {
                for &fd in &keep {
                    sys::set_cloexec(fd, false)?;
                }
                // The signal mask survives exec and std does not reset it:
                // unblock what the supervisor blocked for its signalfd.
                sys::unblock_all_signals()
            });
        }
        let child = match cmd.spawn() {
            Ok(c) => c,
            Err(err) => return self.spawn_failed(format!("cannot start the worker: {err}")),
        };
        drop(wr);
        if let Err(err) = sys::set_nonblocking(rd.as_raw_fd()) {
            tracing::warn!("cannot make the worker's report pipe non-blocking: {err}");
        }
        let pid = child.id();
        let starttime = sys::proc_starttime(pid).unwrap_or(0);
        tracing::info!(
            "worker started (pid {pid}), listening sockets {:?}",
            self.set.ports()
        );
        self.worker = Some(Worker {
            child,
            pid,
            starttime,
            reports: rd,
            lines: LineBuffer::default(),
            ready: false,
            spawned: Instant::now(),
            error: None,
        });
        self.write_pid_file();
        None
    }

    fn spawn_failed(&mut self, msg: String) -> Option<u8> {
        tracing::error!("{msg}");
        if !self.ever_ready {
            return Some(self.relay_error(msg));
        }
        let d = self
            .policy
            .on_crash(Instant::now())
            .max(Duration::from_millis(100));
        self.restart_at = Some(Instant::now() + d);
        None
    }

    fn relay_error(&mut self, msg: String) -> u8 {
        if let Some(mut p) = self.ready_pipe.take() {
            let _ = p.write_all(
                Report::Error {
                    message: msg.clone(),
                }
                .to_line()
                .as_bytes(),
            );
        }
        if let Some(n) = &self.notifier {
            let _ = n.send(&format!("STATUS={}", msg.lines().next().unwrap_or("")));
        }
        exit::FAILURE
    }

    fn read_reports(&mut self) {
        let mut lines = Vec::new();
        if let Some(w) = &mut self.worker {
            let mut buf = [0u8; 4096];
            loop {
                match w.reports.read(&mut buf) {
                    Ok(0) => break,
                    Ok(n) => match w.lines.push(&buf[..n]) {
                        Ok(mut l) => lines.append(&mut l),
                        Err(err) => tracing::warn!("worker report: {err}"),
                    },
                    Err(err) if err.kind() == std::io::ErrorKind::Interrupted => continue,
                    Err(_) => break,
                }
            }
        }
        for l in lines {
            match Report::parse_line(&l) {
                Ok(r) => self.on_report(r),
                Err(err) => tracing::warn!("worker report: {err}"),
            }
        }
    }

    fn on_report(&mut self, r: Report) {
        let Some(w) = &mut self.worker else { return };
        match r {
            Report::Error { message } => {
                tracing::error!("worker (pid {}) failed: {message}", w.pid);
                w.error = Some(message);
            }
            Report::Ready {
                listening,
                mut failed,
            } => {
                w.ready = true;
                for f in &self.bind_failed {
                    if !listening.contains(&f.port) && !failed.iter().any(|x| x.port == f.port) {
                        failed.push(f.clone());
                    }
                }
                let ms = w.spawned.elapsed().as_millis();
                tracing::info!("worker (pid {}) accepts connections after {ms} ms; listening on TCP {listening:?}", w.pid);
                if !self.ever_ready || self.restarts > 0 {
                    for f in &failed {
                        tracing::warn!("{}", messages::port_warning(f.port, &f.reason));
                    }
                }
                let status = StatusFile {
                    mode: "execsvc".into(),
                    supervisor_pid: Some(self.me.pid),
                    worker_pid: w.pid,
                    started_unix: self.started_unix,
                    worker_ready_unix: sys::unix_now(),
                    restarts: self.restarts,
                    listening: listening.clone(),
                    failed: failed.clone(),
                };
                if let Ok(j) = serde_json::to_vec_pretty(&status) {
                    let _ = sys::write_atomic(&self.ctx.paths.status, &j);
                }
                if let Some(mut p) = self.ready_pipe.take() {
                    let _ = p.write_all(
                        Report::Ready {
                            listening: listening.clone(),
                            failed,
                        }
                        .to_line()
                        .as_bytes(),
                    );
                }
                if let Some(n) = &self.notifier {
                    let ready = if self.ever_ready { "" } else { "READY=1\n" };
                    let _ = n.send(&format!(
                        "{ready}STATUS=Listening on TCP {listening:?}; worker pid {}; restarts {}\nMAINPID={}",
                        w.pid, self.restarts, self.me.pid
                    ));
                }
                self.ever_ready = true;
            }
        }
    }

    /// Handles SIGCHLD. `Some(code)` when the supervisor must end.
    fn reap(&mut self) -> Option<u8> {
        let status = {
            let w = self.worker.as_mut()?;
            match w.child.try_wait() {
                Ok(Some(s)) => s,
                _ => return None,
            }
        };
        // Drain what the worker wrote before it ended (its error text).
        self.read_reports();
        let w = self.worker.take()?;
        self.write_pid_file();
        let end = match (status.code(), status.signal()) {
            (Some(c), _) => WorkerEnd::Exited(c),
            (None, Some(s)) => WorkerEnd::Signaled(s),
            _ => WorkerEnd::Exited(-1),
        };
        let cause = match end {
            WorkerEnd::Exited(c) => format!("exited with status {c}"),
            WorkerEnd::Signaled(s) => format!("was killed by {}", sys::signal_name(s)),
        };
        if self.stopping {
            tracing::info!("worker (pid {}) {cause} after the stop request", w.pid);
            return Some(
                if end.is_abnormal() && end != WorkerEnd::Signaled(Signal::SIGTERM as i32) {
                    exit::FAILURE
                } else {
                    exit::OK
                },
            );
        }
        if !self.ever_ready {
            let msg = w.error.unwrap_or_else(|| {
                format!(
                    "The worker process {cause} during start-up; see the log in {}.",
                    self.ctx.paths.log_dir.display()
                )
            });
            return Some(self.relay_error(msg));
        }
        if !end.is_abnormal() {
            tracing::info!(
                "worker (pid {}) exited normally; the supervisor ends too",
                w.pid
            );
            return Some(exit::OK);
        }
        let delay = self.policy.on_crash(Instant::now());
        self.restarts += 1;
        if delay.is_zero() {
            tracing::warn!(
                "worker (pid {}) {cause}; restarting it now (restart {})",
                w.pid,
                self.restarts
            );
            self.spawn_worker()
        } else {
            tracing::warn!(
                "worker (pid {}) {cause}; {} crashes within {} s, restarting it in {} s (restart {})",
                w.pid,
                self.policy.recent_crashes(),
                crate::restart::CRASH_LOOP_WINDOW.as_secs(),
                delay.as_secs(),
                self.restarts
            );
            self.restart_at = Some(Instant::now() + delay);
            None
        }
    }

    fn on_stop_signal(&mut self, sig: Signal) -> Option<u8> {
        tracing::info!("{} received: stopping the service", sig.as_str());
        self.stopping = true;
        if self.ready_pipe.is_some() {
            self.relay_error(format!(
                "The {} service was stopped during start-up.",
                self.ctx.edition.title()
            ));
        }
        match &self.worker {
            Some(w) => {
                let _ = sys::kill(w.pid, Signal::SIGTERM);
                if self.stop_deadline.is_none() {
                    self.stop_deadline = Some(Instant::now() + STOP_GRACE);
                }
                None
            }
            None => Some(exit::OK),
        }
    }

    fn write_pid_file(&self) {
        let mut entries = vec![self.me];
        if let Some(w) = &self.worker {
            entries.push(ProcEntry {
                role: Role::Worker,
                pid: w.pid,
                starttime: w.starttime,
            });
        }
        if let Err(err) =
            sys::write_atomic(&self.ctx.paths.pid, format_pid_file(&entries).as_bytes())
        {
            tracing::warn!(
                "cannot write the pid file {}: {err}",
                self.ctx.paths.pid.display()
            );
        }
    }

    fn cleanup(&mut self) {
        if let Some(w) = &self.worker {
            // Ending with a live worker only happens on internal errors.
            let _ = sys::kill(w.pid, Signal::SIGTERM);
        }
        let _ = std::fs::remove_file(&self.ctx.paths.pid);
        let _ = std::fs::remove_file(&self.ctx.paths.status);
    }
}
