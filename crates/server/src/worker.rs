//! Worker entry point: the process that does the VPN work.
//!
//! The supervisor (`rustether-svc`) or `start --foreground` calls [`run`]
//! from a process with no threads yet; `run` builds the tokio runtime itself.
//! [`Services`] wires the server, its administration, the listeners and the
//! connection gateway together.

use std::net::TcpListener;
use std::path::PathBuf;
use std::sync::{Arc, Weak};

use rustether_config::Edition;

use crate::admin::Admin;
use crate::connection::Gateway;
use crate::listener::{Acceptor, Listeners};
use crate::server::Server;

/// The parts of a running server, wired together: the server state, its
/// administration, its listeners, and the gateway the listeners hand
/// connections to. Keep it for as long as the server runs (the listeners
/// refer to the gateway weakly).
#[derive(Debug)]
pub struct Services {
    /// Server-wide state.
    pub server: Arc<Server>,
    /// Administration of `server` and `listeners`.
    pub admin: Arc<Admin>,
    /// The running listeners.
    pub listeners: Arc<Listeners>,
    gateway: Arc<Gateway>,
}

impl Services {
    /// Wires the services of `server`; no listener runs yet.
    pub fn new(server: Arc<Server>) -> Services {
        let gateway = Arc::new_cyclic(|me: &Weak<Gateway>| {
            let acceptor: Weak<dyn Acceptor> = me.clone();
            let listeners = Arc::new(Listeners::new(acceptor, server.shutdown_signal()));
            listeners.set_listen_ip(server.with_config(|c| c.server.listen_ip));
            Gateway::new(
                server.clone(),
                Arc::new(Admin::new(server.clone(), listeners)),
            )
        });
        let admin = gateway.admin().clone();
        Services {
            listeners: admin.listeners().clone(),
            admin,
            server,
            gateway,
        }
    }

    /// Serves an already bound listener (until shutdown or
    /// [`Listeners::stop`]); spawns its accept loop.
    pub fn serve(&self, listener: TcpListener) {
        tokio::spawn(self.listeners.clone().run(listener));
    }

    /// The gateway the listeners hand connections to.
    pub fn gateway(&self) -> &Arc<Gateway> {
        &self.gateway
    }
}

/// Called once a listener accepts, with what is listening.
pub type ReadyHook = Box<dyn FnOnce(&ReadyInfo) + Send>;
/// Called after binding, before serving (privilege drop).
pub type AfterBindHook = Box<dyn FnOnce() -> anyhow::Result<()> + Send>;

/// What a worker needs to start.
pub struct WorkerOptions {
    /// VPN Server or VPN Bridge.
    pub edition: Edition,
    /// State directory holding `vpn_server.config` (or `vpn_bridge.config`) and its backups.
    pub state_dir: PathBuf,
    /// Listening TCP sockets already bound by the supervisor or by systemd
    /// socket activation. Matched to configured listeners by local port; a
    /// configured port with no inherited socket is bound by the worker itself.
    pub inherited: Vec<TcpListener>,
    /// Called once, as soon as at least one listener accepts connections.
    pub on_ready: Option<ReadyHook>,
    /// Called once after the initial listeners are bound and before the first
    /// session is served; used to drop root privileges. An error aborts start-up.
    pub after_bind: Option<AfterBindHook>,
}

/// Reported to [`WorkerOptions::on_ready`].
#[derive(Debug, Clone)]
pub struct ReadyInfo {
    /// Ports that are listening.
    pub listening: Vec<u16>,
    /// Ports that could not be bound, with the reason (retried in the background).
    pub failed: Vec<(u16, String)>,
}

/// Runs the worker until SIGTERM or SIGINT, then shuts down cleanly (stop
/// accepting, end sessions, save the configuration atomically) and returns.
///
/// Errors: the configuration cannot be loaded (the message names file and
/// line), or no listener at all could be bound.
pub fn run(opts: WorkerOptions) -> anyhow::Result<()> {
    crate::tls::install_crypto_provider();
    raise_fd_limit();
    crate::listener::ensure_reserve_fd();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(worker_threads())
        .enable_all()
        .thread_name("rustether-worker")
        .build()?;
    let result = rt.block_on(run_async(opts));
    rt.shutdown_timeout(std::time::Duration::from_millis(300));
    result
}

async fn run_async(mut opts: WorkerOptions) -> anyhow::Result<()> {
    // Install the handlers first: a TERM during start-up is a clean stop.
    let mut stop = StopSignals::new()?;
    let mut reset = false;
    loop {
        match serve(&mut opts, &mut stop, reset).await? {
            Ended::Stopped => return Ok(()),
            Ended::Reboot {
                reset_config,
                listeners,
            } => {
                // The next server serves the same sockets: connections
                // arriving meanwhile wait in their backlog.
                reset = reset_config;
                opts.inherited = listeners;
            }
        }
    }
}

/// How one run of the server ended.
enum Ended {
    /// SIGTERM/SIGINT: the worker ends.
    Stopped,
    /// `RebootServer`: start again on `listeners`.
    Reboot {
        reset_config: bool,
        listeners: Vec<TcpListener>,
    },
}

/// Opens the server (with `reset`: from the initial settings) and serves
/// it until a stop signal or `RebootServer`.
async fn serve(
    opts: &mut WorkerOptions,
    stop: &mut StopSignals,
    reset: bool,
) -> anyhow::Result<Ended> {
    let (edition, state_dir) = (opts.edition, opts.state_dir.clone());
    let server = tokio::task::spawn_blocking(move || Server::open_with(edition, &state_dir, reset))
        .await??;
    warn_if_no_admin_password(&server);
    let (ports, listen_ip): (Vec<u16>, _) = server.with_config(|c| {
        let ports = c
            .listeners
            .iter()
            .filter(|l| l.enabled && l.port != 0)
            .map(|l| l.port)
            .collect();
        (ports, c.server.listen_ip)
    });
    // Inherited sockets on another address than `ListenIP` (a supervisor
    // that bound before ListenIP changed) are closed, not served.
    let mut inherited: Vec<(u16, TcpListener)> = opts
        .inherited
        .drain(..)
        .filter_map(|l| {
            let a = l.local_addr().ok()?;
            if a.ip() != listen_ip {
                tracing::warn!("inherited listener {a} is not on ListenIP {listen_ip}: closed");
                return None;
            }
            Some((a.port(), l))
        })
        .collect();
    let mut ready = ReadyInfo {
        listening: Vec::new(),
        failed: Vec::new(),
    };
    let mut bound = Vec::new();
    for port in ports {
        let sock = match inherited.iter().position(|(p, _)| *p == port) {
            Some(i) => Ok(inherited.swap_remove(i).1),
            None => crate::listener::bind(listen_ip, port),
        };
        match sock {
            Ok(l) => {
                ready.listening.push(port);
                bound.push(l);
            }
            Err(e) => {
                let advice = crate::listener::bind_advice(port, &e);
                tracing::warn!("{advice}");
                ready.failed.push((port, e.to_string()));
            }
        }
    }
    // Inherited sockets without a configured listener (socket activation) are served too.
    for (port, l) in inherited {
        ready.listening.push(port);
        bound.push(l);
    }
    if bound.is_empty() {
        anyhow::bail!(
            "no listener could be bound ({})",
            ready
                .failed
                .iter()
                .map(|(p, e)| format!("port {p}: {e}"))
                .collect::<Vec<_>>()
                .join("; ")
        );
    }
    // OpenVPN UDP ports (`PortsUDP`), bound before privileges drop.
    let udp = if crate::openvpn::enabled(&server) {
        crate::openvpn::bind_udp(listen_ip, &crate::openvpn::udp_ports(&server))
    } else {
        Vec::new()
    };
    if let Some(f) = opts.after_bind.take() {
        f()?;
    }
    let services = Services::new(server.clone());
    for sock in udp {
        match tokio::net::UdpSocket::from_std(sock) {
            Ok(s) => {
                tokio::spawn(services.gateway().openvpn().clone().run_udp(s));
            }
            Err(e) => tracing::warn!("OpenVPN UDP socket: {e}"),
        }
    }
    // Copies of the sockets, kept for a restart (`RebootServer`).
    let mut kept = Vec::new();
    for l in bound {
        match l.try_clone() {
            Ok(c) => kept.push(c),
            Err(e) => tracing::warn!("listener kept for a restart: {e}"),
        }
        services.serve(l);
    }
    for (port, _) in &ready.failed {
        tokio::spawn(services.listeners.clone().retry(*port));
    }
    server.start_links();
    tokio::spawn(housekeeping(server.clone()));
    tokio::spawn(save_statistics(server.clone()));
    tracing::info!(
        "{} started; listening on {:?}",
        opts.edition.title(),
        ready.listening
    );
    if let Some(f) = opts.on_ready.take() {
        f(&ready);
    }

    let mut reboot = server.reboot_signal();
    let reset_config = tokio::select! {
        why = stop.recv() => {
            tracing::info!("{why} received: shutting down");
            None
        }
        _ = reboot.changed() => {
            let r = reboot.borrow().unwrap_or(false);
            tracing::info!("RebootServer: restarting the server{}", if r { " with the initial configuration" } else { "" });
            // Let the administration answer leave first (SoftEther
            // restarts from a thread too).
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            Some(r)
        }
    };
    server.begin_shutdown();
    server.stop_links().await;
    // Give sessions a moment to close their connections.
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_millis(250);
    while !server.sessions.is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    // The save fsyncs: off the runtime threads, like every other save.
    let saver = server.clone();
    tokio::task::spawn_blocking(move || saver.save_blocking()).await??;
    drop(services);
    if let Some(reset_config) = reset_config {
        return Ok(Ended::Reboot {
            reset_config,
            listeners: kept,
        });
    }
    tracing::info!(
        "{} has been shut down; configuration saved",
        opts.edition.title()
    );
    Ok(Ended::Stopped)
}

/// The signals that ask the worker to stop: SIGTERM and SIGINT on Unix,
/// Ctrl-C elsewhere (the Windows service stops through its own handler).
struct StopSignals {
    #[cfg(unix)]
    term: tokio::signal::unix::Signal,
    #[cfg(unix)]
    int: tokio::signal::unix::Signal,
}

impl StopSignals {
    fn new() -> std::io::Result<StopSignals> {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{signal, SignalKind};
            Ok(StopSignals {
                term: signal(SignalKind::terminate())?,
                int: signal(SignalKind::interrupt())?,
            })
        }
        #[cfg(not(unix))]
        Ok(StopSignals {})
    }

    async fn recv(&mut self) -> &'static str {
        #[cfg(unix)]
        tokio::select! {
            _ = self.term.recv() => "SIGTERM",
            _ = self.int.recv() => "SIGINT",
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
            "Ctrl-C"
        }
    }
}

/// Raises the soft limit of open files to the hard limit: every session
/// holds at least one socket (SoftEther raises NOFILE as well, `UnixInit`).
fn raise_fd_limit() {
    #[cfg(unix)]
    {
        use nix::sys::resource::{getrlimit, setrlimit, Resource};
        if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
            if soft < hard && setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_ok() {
                tracing::debug!("open file limit raised from {soft} to {hard}");
            }
        }
    }
}

/// Number of runtime threads: `RUSTETHER_WORKER_THREADS` if set, else half
/// the CPUs (at least one). The kernel's TCP processing of the same traffic
/// needs about as much CPU as the engine, and fewer engine threads mean
/// fewer cross-thread wake-ups: on the 2-core benchmark machine one thread
/// gave ~35 % less server CPU per Gbit/s than two in T1, and 10–14 % less
/// with 2 to 100 encrypted sessions in the server-bound benchmark; only at
/// 1000 busy sessions did two threads do better (BENCHMARKS.md, "Runtime
/// threads: the default"), which is what the override is for.
pub fn worker_threads() -> usize {
    if let Some(n) = std::env::var("RUSTETHER_WORKER_THREADS")
        .ok()
        .and_then(|v| v.trim().parse::<usize>().ok())
        .filter(|n| *n > 0)
    {
        return n.min(1024);
    }
    let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
    (cpus / 2).max(1)
}

/// Periodic upkeep: gives freed memory back to the system after many
/// sessions have ended. glibc keeps freed heap pages for reuse, so without
/// this the process stays at its peak size (measured: 227 MB after 10 000
/// sessions closed, 14 MB after `malloc_trim`).
async fn housekeeping(server: Arc<Server>) {
    let mut shutdown = server.shutdown_signal();
    let mut peak = 0usize;
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(std::time::Duration::from_secs(10)) => {}
        }
        let now = server.sessions.len();
        peak = peak.max(now);
        if peak >= now + 1000 && now < peak / 2 {
            trim_heap();
            tracing::debug!("{} sessions ended since the peak: heap trimmed", peak - now);
            peak = now;
        }
    }
}

/// Saves the login statistics and traffic counters every
/// `AutoSaveConfigSpan` seconds (default 300), as SoftEther's
/// `SiSaverThread` saves the whole file; only when something was counted
/// (crate::accounting).
async fn save_statistics(server: Arc<Server>) {
    let mut shutdown = server.shutdown_signal();
    loop {
        let every = server.with_config(|c| c.server.auto_save_interval());
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(every) => {}
        }
        let s = server.clone();
        match tokio::task::spawn_blocking(move || s.save_statistics_blocking()).await {
            Ok(Ok(())) => {}
            Ok(Err(e)) => {
                tracing::warn!("saving the statistics failed: {e}; retried at the next save")
            }
            Err(e) => tracing::warn!("saving the statistics: {e}"),
        }
    }
}

/// Gives free heap pages back to the system (glibc's `malloc_trim`; no
/// safe wrapper exists in `nix` or `rustix`).
fn trim_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` takes no pointers and only releases heap memory
    // that is free; glibc's allocator locks make it safe to call while
    // other threads allocate.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Logs a loud warning while the server administrator password is empty
/// (a fresh installation): anyone who reaches the server from one of its
/// own addresses administers it (docs/administration.md, SECURITY.md).
fn warn_if_no_admin_password(server: &Server) {
    let (empty, trusted) = server.with_config(|c| {
        (
            c.server.hashed_password == rustether_config::model::empty_password_hash(),
            c.server.allow_local_empty_password_admin(),
        )
    });
    if empty {
        tracing::warn!(
            "WARNING: the server administrator password is EMPTY. {} Set one with \
             `vpnserver password-set` (service stopped) or vpncmd's ServerPasswordSet.",
            if trusted {
                "Anyone connecting from this machine's own addresses (including through a \
                 local TCP proxy such as sslh, stunnel or ssh -L) is server administrator."
            } else {
                "AllowLocalEmptyPasswordAdmin is false: nobody can administer the server."
            }
        );
    }
}
