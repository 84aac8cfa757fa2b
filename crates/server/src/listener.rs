//! TCP listeners: bind (or adopt an inherited socket), accept, and hand each
//! connection to [`crate::connection::serve`]. A port that cannot be bound
//! is retried every few seconds, as SoftEther does ("Attempting at fixed
//! intervals until successful").

use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::Arc;
use std::time::Duration;

use tokio::net::TcpListener;
use tracing::{info, warn};

use crate::server::Server;

/// Interval between attempts to bind a port that failed.
pub const RETRY_INTERVAL: Duration = Duration::from_secs(5);

/// Binds `0.0.0.0:port` with SO_REUSEADDR and a deep backlog.
///
/// Errors: the OS error (e.g. EACCES for ports below 1024 without
/// CAP_NET_BIND_SERVICE, EADDRINUSE).
pub fn bind(port: u16) -> std::io::Result<StdListener> {
    use socket2::{Domain, Protocol, Socket, Type};
    let sock = Socket::new(Domain::IPV4, Type::STREAM, Some(Protocol::TCP))?;
    sock.set_reuse_address(true)?;
    sock.set_nonblocking(true)?;
    let addr: SocketAddr = ([0, 0, 0, 0], port).into();
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

/// Runs the accept loop of one listener until the server shuts down.
pub async fn run(server: Arc<Server>, listener: StdListener) {
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
    let mut shutdown = server.shutdown_signal();
    loop {
        tokio::select! {
            _ = shutdown.changed() => break,
            r = listener.accept() => match r {
                Ok((tcp, peer)) => {
                    let local = tcp.local_addr().unwrap_or(local);
                    tokio::spawn(crate::connection::serve(server.clone(), tcp, peer, local));
                }
                Err(e) => {
                    // EMFILE and friends: back off instead of spinning.
                    warn!("accept on port {} failed: {e}", local.port());
                    tokio::time::sleep(Duration::from_millis(100)).await;
                }
            }
        }
    }
    info!("TCP listener (port {}) has stopped", local.port());
}

/// Retries binding `port` until it works or the server shuts down, then
/// serves it.
pub async fn retry(server: Arc<Server>, port: u16) {
    let mut shutdown = server.shutdown_signal();
    loop {
        tokio::select! {
            _ = shutdown.changed() => return,
            _ = tokio::time::sleep(RETRY_INTERVAL) => {}
        }
        if let Ok(l) = bind(port) {
            info!("TCP port {port} could be bound now");
            run(server, l).await;
            return;
        }
    }
}
