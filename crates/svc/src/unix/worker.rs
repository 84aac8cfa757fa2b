//! The worker role (child of the supervisor) and `start --foreground`.
//!
//! Both call [`rustether_server::worker::run`], which builds the async
//! runtime; everything before it (taking inherited sockets, dropping
//! privileges) happens while the process still has one thread.

use std::fs::File;
use std::io::Write;
use std::os::fd::FromRawFd;
use std::sync::Arc;

use rustether_server::worker::{ReadyInfo, WorkerOptions};

use super::listeners::{self, ListenerSet};
use super::lock::{InstanceLock, LockError};
use super::notify::{self, Notifier};
use super::privdrop::{self, TargetUser};
use super::{ensure_state_dir, logging, sys, take_fd_env, Ctx, LOCK_ENV, ROLE_ENV, STATUS_ENV};
use crate::report::{
    format_pid_file, parse_pid_file, FailedPort, ProcEntry, Report, Role, StatusFile,
};
use crate::{config, exit, messages};

fn failed_ports(info: &ReadyInfo) -> Vec<FailedPort> {
    info.failed
        .iter()
        .map(|(port, reason)| FailedPort {
            port: *port,
            reason: reason.clone(),
        })
        .collect()
}

/// Drops to `user` if given; `local_bridges` decides whether CAP_NET_RAW and
/// CAP_NET_ADMIN are kept.
fn drop_privileges(user: Option<&TargetUser>, local_bridges: bool) -> Result<(), String> {
    let Some(u) = user else { return Ok(()) };
    privdrop::drop_to(u, local_bridges)
        .map_err(|e| format!("cannot switch to user {}: {e}", u.name))?;
    tracing::info!(
        "running as user {} (uid {}){}",
        u.name,
        u.uid,
        if local_bridges {
            " keeping CAP_NET_RAW and CAP_NET_ADMIN for local bridges"
        } else {
            ""
        }
    );
    Ok(())
}

fn resolve_user(ctx: &Ctx) -> Result<Option<TargetUser>, String> {
    match &ctx.user {
        None => Ok(None),
        Some(_) if sys::euid() != 0 => {
            Err("--user needs root: only root can switch to another user.".into())
        }
        Some(n) => privdrop::lookup(n).map(Some),
    }
}

/// The worker process of `execsvc` (environment `RUSTETHER_ROLE=worker`).
pub(crate) fn worker_main(ctx: &Ctx) -> u8 {
    sys::set_process_name(ctx.edition.program_name());
    logging::init_file(
        ctx.log_level.as_deref(),
        &ctx.paths.log_dir,
        std::env::var_os("JOURNAL_STREAM").is_some(),
        logging::Retention::configured(ctx),
    );
    super::log_panics();
    std::env::remove_var(ROLE_ENV);
    notify::clear_env();
    let supervisor = std::os::unix::process::parent_id();
    // SAFETY: the supervisor created this pipe end for us.
    let reports: Option<Arc<File>> =
        take_fd_env(STATUS_ENV).map(|fd| Arc::new(unsafe { File::from_raw_fd(fd) }));
    // The inherited lock descriptor stays open for the life of the process
    // (so the instance stays locked while this worker runs); only mark it
    // close-on-exec.
    let _ = take_fd_env(LOCK_ENV);
    let inherited = listeners::take_inherited();
    let send = |r: &Report| {
        if let Some(f) = &reports {
            let _ = (&**f).write_all(r.to_line().as_bytes());
        }
    };
    let user = match resolve_user(ctx) {
        Ok(u) => u,
        Err(m) => {
            tracing::error!("{m}");
            send(&Report::Error { message: m });
            return exit::FAILURE;
        }
    };
    let bridges = config::load(ctx.edition, &ctx.paths.state_dir)
        .map(|c| c.local_bridges)
        .unwrap_or(false);
    if let Err(m) = drop_privileges(user.as_ref(), bridges) {
        tracing::error!("{m}");
        send(&Report::Error { message: m });
        return exit::FAILURE;
    }
    let ready_pipe = reports.clone();
    let opts = WorkerOptions {
        edition: ctx.edition,
        state_dir: ctx.paths.state_dir.clone(),
        inherited,
        on_ready: Some(Box::new(move |info: &ReadyInfo| {
            if let Some(f) = ready_pipe {
                let r = Report::Ready {
                    listening: info.listening.clone(),
                    failed: failed_ports(info),
                };
                let _ = (&*f).write_all(r.to_line().as_bytes());
            }
        })),
        after_bind: None,
    };
    let result = rustether_server::worker::run(opts);
    // Orphaned (the supervisor was killed): nobody else removes our files.
    if std::os::unix::process::parent_id() != supervisor {
        remove_files_if_mine(ctx);
    }
    match result {
        Ok(()) => exit::OK,
        Err(e) => {
            let message = format!("{e:#}");
            tracing::error!("{message}");
            send(&Report::Error { message });
            exit::FAILURE
        }
    }
}

fn remove_files_if_mine(ctx: &Ctx) {
    let me = std::process::id();
    let text = std::fs::read_to_string(&ctx.paths.pid).unwrap_or_default();
    if parse_pid_file(&text)
        .iter()
        .any(|e| e.role == Role::Worker && e.pid == me)
    {
        let _ = std::fs::remove_file(&ctx.paths.pid);
        let _ = std::fs::remove_file(&ctx.paths.status);
    }
}

/// `start --foreground`: one process, no supervisor, logs on stderr.
pub(crate) fn foreground(ctx: &Ctx) -> u8 {
    let e = ctx.edition;
    sys::set_process_name(e.program_name());
    logging::init_stderr(ctx.log_level.as_deref());
    let fail = |m: String| {
        tracing::error!("{m}");
        eprintln!("{m}");
        exit::FAILURE
    };
    if let Err(m) = ensure_state_dir(&ctx.paths) {
        return fail(m);
    }
    let user = match resolve_user(ctx) {
        Ok(u) => u,
        Err(m) => return fail(m),
    };
    let _lock = match InstanceLock::acquire(&ctx.paths.lock) {
        Ok(l) => l,
        Err(LockError::Held) => return fail(messages::already_started(e)),
        Err(err) => return fail(err.to_string()),
    };
    let notifier = Notifier::from_env();
    let wd = notify::watchdog_interval();
    notify::clear_env();
    let cfg = match config::load(e, &ctx.paths.state_dir) {
        Ok(c) => c,
        Err(m) => return fail(m),
    };
    // Open the listeners here, before any privilege drop and any thread;
    // ports that fail are retried by the worker itself.
    let mut set = ListenerSet::default();
    set.add_activated(listeners::take_socket_activation());
    let bind_failed = set.sync(cfg.listen_ip, &cfg.ports);
    if let Some(u) = &user {
        if let Err(err) = privdrop::chown_for(
            u,
            &ctx.paths.state_dir,
            &ctx.paths.config,
            &ctx.paths.log_dir,
        ) {
            tracing::warn!("cannot give user {} the state directory: {err}", u.name);
        }
    }
    if let Err(m) = drop_privileges(user.as_ref(), cfg.local_bridges) {
        return fail(m);
    }
    let pid = std::process::id();
    let me = ProcEntry {
        role: Role::Worker,
        pid,
        starttime: sys::proc_starttime(pid).unwrap_or(0),
    };
    let _ = sys::write_atomic(&ctx.paths.pid, format_pid_file(&[me]).as_bytes());
    let started = sys::unix_now();
    let status_path = ctx.paths.status.clone();
    let opts = WorkerOptions {
        edition: e,
        state_dir: ctx.paths.state_dir.clone(),
        inherited: set.into_listeners(),
        on_ready: Some(Box::new(move |info: &ReadyInfo| {
            let mut failed = failed_ports(info);
            for f in bind_failed {
                if !info.listening.contains(&f.port) && !failed.iter().any(|x| x.port == f.port) {
                    failed.push(f);
                }
            }
            for f in &failed {
                tracing::warn!("{}", messages::port_warning(f.port, &f.reason));
            }
            tracing::info!(
                "{} Service Started (foreground, pid {pid}); listening on TCP {:?}",
                e.title(),
                info.listening
            );
            let status = StatusFile {
                mode: "foreground".into(),
                supervisor_pid: None,
                worker_pid: pid,
                started_unix: started,
                worker_ready_unix: sys::unix_now(),
                restarts: 0,
                listening: info.listening.clone(),
                failed,
            };
            if let Ok(j) = serde_json::to_vec_pretty(&status) {
                let _ = sys::write_atomic(&status_path, &j);
            }
            if let Some(n) = notifier {
                let _ = n.send(&format!(
                    "READY=1\nSTATUS=Listening on TCP {:?}\nMAINPID={pid}",
                    info.listening
                ));
                if let Some(d) = wd {
                    // The runtime's threads exist now; one more is harmless.
                    let _ = std::thread::Builder::new()
                        .name("sd-watchdog".into())
                        .spawn(move || loop {
                            let _ = n.send("WATCHDOG=1");
                            std::thread::sleep(d);
                        });
                }
            }
        })),
        after_bind: None,
    };
    let result = rustether_server::worker::run(opts);
    let _ = std::fs::remove_file(&ctx.paths.pid);
    let _ = std::fs::remove_file(&ctx.paths.status);
    match result {
        Ok(()) => {
            tracing::info!("{}", messages::stopped(e));
            exit::OK
        }
        Err(err) => fail(format!("{err:#}")),
    }
}
