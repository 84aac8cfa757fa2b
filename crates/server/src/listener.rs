//! TCP listeners: bind (or adopt an inherited socket), accept, and hand each
//! connection to an [`Acceptor`]. A port that cannot be bound is retried
//! every few seconds, as SoftEther does ("Attempting at fixed intervals
//! until successful").
//!
//! This module knows nothing of what a connection carries: the acceptor is
//! wired in by the worker (`worker.rs`; the VPN protocol's is
//! `connection::Gateway`). Every running accept loop and every retry loop
//! is entered in the [`Listeners`] registry under its port, with a stop
//! signal, so that the administration RPCs (`ListenerCreate`,
//! `ListenerDelete`, `ListenerEnable`, `ListenerDisable`) can open and close
//! ports at run time ([`Listeners::start`], [`Listeners::stop`]).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener as StdListener};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tracing::{info, warn};

/// What a listener does with an accepted connection.
pub trait Acceptor: Send + Sync + 'static {
    /// Takes over one accepted TCP connection (`peer` its remote address,
    /// `local` the address it arrived on). Called on the accept loop: it
    /// must not block or wait, only hand the connection on (spawn a task).
    fn accept(&self, tcp: TcpStream, peer: SocketAddr, local: SocketAddr);
}

/// What a registered port is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ListenerState {
    /// The port is bound and connections are accepted.
    Listening,
    /// The port could not be bound (the text says why); retried every
    /// [`RETRY_INTERVAL`].
    Retrying(String),
}

#[derive(Debug)]
struct Slot {
    id: u64,
    state: ListenerState,
    stop: watch::Sender<bool>,
}

/// The listener slots by TCP port.
#[derive(Debug, Default)]
struct Registry {
    slots: Mutex<HashMap<u16, Slot>>,
    next_id: AtomicU64,
}

/// A registered listener task's handle on its slot.
#[derive(Debug)]
struct Registration {
    port: u16,
    id: u64,
    stop: watch::Receiver<bool>,
}

impl Registry {
    /// Enters `port` with `state`, replacing (and stopping) an older entry.
    fn register(&self, port: u16, state: ListenerState) -> Registration {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed) + 1;
        let (tx, rx) = watch::channel(false);
        let old = self.slots.lock().insert(
            port,
            Slot {
                id,
                state,
                stop: tx,
            },
        );
        if let Some(old) = old {
            let _ = old.stop.send(true);
        }
        Registration { port, id, stop: rx }
    }

    fn set_state(&self, reg: &Registration, state: ListenerState) {
        if let Some(s) = self.slots.lock().get_mut(&reg.port) {
            if s.id == reg.id {
                s.state = state;
            }
        }
    }

    fn unregister(&self, reg: &Registration) {
        let mut slots = self.slots.lock();
        if slots.get(&reg.port).is_some_and(|s| s.id == reg.id) {
            slots.remove(&reg.port);
        }
    }

    /// State of the listener on `port`, `None` if nothing runs there.
    fn state(&self, port: u16) -> Option<ListenerState> {
        self.slots.lock().get(&port).map(|s| s.state.clone())
    }

    /// Ports with a running accept or retry loop, ascending.
    fn ports(&self) -> Vec<u16> {
        let mut v: Vec<u16> = self.slots.lock().keys().copied().collect();
        v.sort_unstable();
        v
    }

    /// Stops the listener on `port` (its socket is closed when the accept
    /// loop ends, at once); `false` if none was running.
    fn stop(&self, port: u16) -> bool {
        match self.slots.lock().remove(&port) {
            Some(s) => {
                let _ = s.stop.send(true);
                true
            }
            None => false,
        }
    }
}

/// The running listeners of a worker by TCP port, and the [`Acceptor`]
/// their connections go to (see the module docs).
pub struct Listeners {
    slots: Registry,
    /// Weak: the acceptor (which may own this registry through the
    /// administration) is owned by the worker; an accept loop holds it
    /// strongly while it runs.
    acceptor: Weak<dyn Acceptor>,
    shutdown: watch::Receiver<bool>,
    /// `ListenIP`: the address new listeners bind to.
    listen_ip: Mutex<IpAddr>,
}

impl std::fmt::Debug for Listeners {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Listeners")
            .field("ports", &self.ports())
            .finish_non_exhaustive()
    }
}

impl Listeners {
    /// A registry whose listeners hand connections to `acceptor` and stop
    /// when `shutdown` turns `true`.
    pub fn new(acceptor: Weak<dyn Acceptor>, shutdown: watch::Receiver<bool>) -> Listeners {
        Listeners {
            slots: Registry::default(),
            acceptor,
            shutdown,
            listen_ip: Mutex::new(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        }
    }

    /// Sets `ListenIP` (docs/config-format.md §7.6) for listeners started
    /// from now on; running ones keep their address.
    pub fn set_listen_ip(&self, ip: IpAddr) {
        *self.listen_ip.lock() = ip;
    }

    /// The `ListenIP` new listeners bind to.
    pub fn listen_ip(&self) -> IpAddr {
        *self.listen_ip.lock()
    }

    /// State of the listener on `port`, `None` if nothing runs there.
    pub fn state(&self, port: u16) -> Option<ListenerState> {
        self.slots.state(port)
    }

    /// Ports with a running accept or retry loop, ascending.
    pub fn ports(&self) -> Vec<u16> {
        self.slots.ports()
    }

    /// Starts listening on `port` unless a listener or retry loop already
    /// runs there: binds at once and serves, or (bind error) logs the reason
    /// and retries in the background. Returns the bind error, if any.
    pub fn start(self: &Arc<Self>, port: u16) -> Option<String> {
        if self.slots.state(port).is_some() {
            return None;
        }
        match bind(self.listen_ip(), port) {
            Ok(l) => {
                let reg = self.slots.register(port, ListenerState::Listening);
                tokio::spawn(self.clone().run_registered(l, reg));
                None
            }
            Err(e) => {
                let advice = bind_advice(port, &e);
                warn!("{advice}");
                let reg = self
                    .slots
                    .register(port, ListenerState::Retrying(e.to_string()));
                tokio::spawn(self.clone().retry_registered(port, reg));
                Some(e.to_string())
            }
        }
    }

    /// Stops the listener (or retry loop) on `port`; `false` if none ran.
    pub fn stop(&self, port: u16) -> bool {
        let stopped = self.slots.stop(port);
        if stopped {
            info!("TCP listener (port {port}) is being stopped");
        }
        stopped
    }

    /// Makes the running listeners those of `wanted`: the others are
    /// stopped, missing ones started (bind errors are retried).
    pub fn sync(self: &Arc<Self>, wanted: &[u16]) {
        for port in self.ports() {
            if !wanted.contains(&port) {
                self.stop(port);
            }
        }
        for port in wanted {
            self.start(*port);
        }
    }

    /// Runs the accept loop of an already bound listener until the server
    /// shuts down or the listener is stopped ([`Listeners::stop`]); the
    /// socket is closed on return.
    pub async fn run(self: Arc<Self>, listener: StdListener) {
        let port = match listener.local_addr() {
            Ok(a) => a.port(),
            Err(e) => {
                warn!("listener has no address: {e}");
                return;
            }
        };
        let reg = self.slots.register(port, ListenerState::Listening);
        self.run_registered(listener, reg).await;
    }

    /// Retries binding `port` until it works, the server shuts down or the
    /// listener is stopped ([`Listeners::stop`]), then serves it.
    pub async fn retry(self: Arc<Self>, port: u16) {
        let reg = self
            .slots
            .register(port, ListenerState::Retrying("not bound yet".into()));
        self.retry_registered(port, reg).await;
    }

    async fn run_registered(self: Arc<Self>, listener: StdListener, mut reg: Registration) {
        self.serve_listener(listener, &mut reg).await;
        self.slots.unregister(&reg);
    }

    async fn retry_registered(self: Arc<Self>, port: u16, mut reg: Registration) {
        let mut shutdown = self.shutdown.clone();
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = reg.stop.changed() => break,
                _ = tokio::time::sleep(RETRY_INTERVAL) => {}
            }
            match bind(self.listen_ip(), port) {
                Ok(l) => {
                    info!("TCP port {port} could be bound now");
                    self.slots.set_state(&reg, ListenerState::Listening);
                    self.serve_listener(l, &mut reg).await;
                    break;
                }
                Err(e) => self
                    .slots
                    .set_state(&reg, ListenerState::Retrying(e.to_string())),
            }
        }
        self.slots.unregister(&reg);
    }

    async fn serve_listener(&self, listener: StdListener, reg: &mut Registration) {
        let Some(acceptor) = self.acceptor.upgrade() else {
            return;
        };
        let _ = listener.set_nonblocking(true);
        let listener = match TcpListener::from_std(listener) {
            Ok(l) => l,
            Err(e) => {
                warn!("listener unusable: {e}");
                return;
            }
        };
        let local = match listener.local_addr() {
            Ok(a) => a,
            Err(e) => {
                warn!("listener has no address: {e}");
                return;
            }
        };
        info!("TCP listener (port {}) is listening", local.port());
        let mut shutdown = self.shutdown.clone();
        if *shutdown.borrow() || *reg.stop.borrow() {
            return;
        }
        let mut last_warn: Option<std::time::Instant> = None;
        loop {
            tokio::select! {
                _ = shutdown.changed() => break,
                _ = reg.stop.changed() => break,
                r = listener.accept() => match r {
                    Ok((tcp, peer)) => {
                        let local = tcp.local_addr().unwrap_or(local);
                        acceptor.accept(tcp, peer, local);
                    }
                    Err(e) => {
                        if is_fd_exhaustion(&e) {
                            // Out of file descriptors: refuse the waiting clients
                            // at once (reset) instead of leaving them to time out
                            // in the backlog, using a descriptor kept in reserve.
                            let refused = shed_with_reserve(&listener);
                            tracing::debug!("descriptors exhausted on port {}: {refused} pending connections refused", local.port());
                            if last_warn.is_none_or(|t: std::time::Instant| t.elapsed() >= Duration::from_secs(10)) {
                                warn!(
                                    "accept on port {} failed: {e}; refusing new connections \
                                     until descriptors are free ({refused} refused now; raise the \
                                     open-file limit for more sessions)",
                                    local.port()
                                );
                                last_warn = Some(std::time::Instant::now());
                            }
                            tokio::time::sleep(Duration::from_millis(20)).await;
                        } else {
                            warn!("accept on port {} failed: {e}", local.port());
                            tokio::time::sleep(Duration::from_millis(100)).await;
                        }
                    }
                }
            }
        }
        info!("TCP listener (port {}) has stopped", local.port());
    }
}

/// Interval between attempts to bind a port that failed.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(5);

/// Binds `ip:port` (`ip` = `ListenIP`, `0.0.0.0` for every interface) with
/// SO_REUSEADDR and a deep backlog.
///
/// Errors: the OS error (e.g. EACCES for ports below 1024 without
/// CAP_NET_BIND_SERVICE, EADDRINUSE, EADDRNOTAVAIL for an address the host
/// does not have).
pub fn bind(ip: IpAddr, port: u16) -> std::io::Result<StdListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(
        Domain::for_address(SocketAddr::new(ip, port)),
        Type::STREAM,
        Some(Protocol::TCP),
    )?;
    sock.set_reuse_address(true)?;
    sock.set_nonblocking(true)?;
    let addr = SocketAddr::new(ip, port);
    sock.bind(&addr.into())?;
    sock.listen(1024)?;
    Ok(sock.into())
}

/// Human advice for a bind failure, naming the remedy for privileged ports.
pub fn bind_advice(port: u16, err: &std::io::Error) -> String {
    if err.kind() == std::io::ErrorKind::PermissionDenied && port < 1024 {
        format!(
            "cannot listen on TCP port {port}: {err}. Ports below 1024 need root or \
             CAP_NET_BIND_SERVICE (setcap cap_net_bind_service=+ep on the binary, \
             AmbientCapabilities=CAP_NET_BIND_SERVICE in systemd, or socket activation); \
             retrying every {} s",
            RETRY_INTERVAL.as_secs()
        )
    } else {
        format!(
            "cannot listen on TCP port {port}: {err}; retrying every {} s",
            RETRY_INTERVAL.as_secs()
        )
    }
}

/// EMFILE / ENFILE: the process or the system ran out of descriptors.
#[cfg(unix)]
fn is_fd_exhaustion(e: &std::io::Error) -> bool {
    use nix::errno::Errno;
    matches!(
        e.raw_os_error().map(Errno::from_raw),
        Some(Errno::EMFILE | Errno::ENFILE)
    )
}

#[cfg(not(unix))]
fn is_fd_exhaustion(_e: &std::io::Error) -> bool {
    false
}

#[cfg(not(unix))]
fn shed_with_reserve(_listener: &TcpListener) -> usize {
    0
}

/// Opens the reserve descriptor (nothing to do off Unix).
#[cfg(not(unix))]
pub fn ensure_reserve_fd() {}

#[cfg(unix)]
/// A descriptor held in reserve so that, when the process runs out of
/// descriptors, pending connections can still be accepted and closed
/// (refused with a reset) instead of waiting out the client's timeout.
static RESERVE_FD: std::sync::Mutex<Option<std::fs::File>> = std::sync::Mutex::new(None);

/// Opens the reserve descriptor (at start-up and after each use).
#[cfg(unix)]
pub fn ensure_reserve_fd() {
    let mut r = RESERVE_FD.lock().unwrap_or_else(|p| p.into_inner());
    if r.is_none() {
        match std::fs::File::open("/dev/null") {
            Ok(f) => *r = Some(f),
            Err(e) => tracing::debug!("reserve descriptor not available: {e}"),
        }
    }
}

/// Frees the reserve, accepts and resets every pending connection it can,
/// and takes the reserve back. Returns how many were refused.
#[cfg(unix)]
fn shed_with_reserve(listener: &TcpListener) -> usize {
    let mut refused = 0;
    {
        let mut r = RESERVE_FD.lock().unwrap_or_else(|p| p.into_inner());
        if r.take().is_none() {
            return 0;
        }
    }
    // With the reserve closed, one accept can succeed at a time. A plain
    // accept on the socket (not through tokio, which would wait for
    // readiness): the listening socket is non-blocking, so it fails with
    // EAGAIN once the backlog is empty.
    let sock = socket2::SockRef::from(listener);
    while refused < 64 {
        match sock.accept() {
            Ok((conn, _)) => {
                // SO_LINGER 0: close with a reset, the client sees a refusal.
                let _ = conn.set_linger(Some(Duration::ZERO));
                drop(conn);
                refused += 1;
            }
            Err(_) => break,
        }
    }
    ensure_reserve_fd();
    refused
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn registry_replaces_and_stops() {
        let r = Registry::default();
        let a = r.register(7000, ListenerState::Listening);
        assert_eq!(r.state(7000), Some(ListenerState::Listening));
        // a newer registration for the same port stops the older one
        let b = r.register(7000, ListenerState::Retrying("x".into()));
        assert!(*a.stop.borrow());
        r.set_state(&a, ListenerState::Listening);
        assert_eq!(r.state(7000), Some(ListenerState::Retrying("x".into())));
        r.unregister(&a);
        assert!(
            r.state(7000).is_some(),
            "a stale task must not remove the new slot"
        );
        assert_eq!(r.ports(), vec![7000]);
        assert!(r.stop(7000));
        assert!(*b.stop.borrow());
        assert!(!r.stop(7000));
        assert_eq!(r.state(7000), None);
    }
}
