//! Listening sockets owned by the supervisor and handed to each worker.
//!
//! The supervisor binds every configured port (0.0.0.0, `SO_REUSEADDR`,
//! backlog 1024) or takes sockets from systemd socket activation
//! (`LISTEN_PID`/`LISTEN_FDS`, `sd_listen_fds(3)`), keeps them open for its
//! whole life, and lets each worker inherit them: FD_CLOEXEC is cleared for
//! exactly those descriptors in the child, and the environment variable
//! [`LISTEN_ENV`] lists them as `fd:port,fd:port`. While a worker restarts,
//! the kernel queues new connections in the backlog instead of refusing them.

use std::collections::BTreeMap;
use std::io;
use std::net::{IpAddr, SocketAddr, TcpListener};
use std::os::fd::{AsFd, AsRawFd, FromRawFd, IntoRawFd, OwnedFd, RawFd};

use socket2::{Domain, Protocol, SockRef, Socket, Type};

use super::sys;
use crate::report::FailedPort;

/// Environment variable describing inherited listeners: `fd:port[,fd:port...]`.
pub(crate) const LISTEN_ENV: &str = "RUSTETHER_LISTEN_FDS";
/// Listen backlog: connections queued by the kernel while no worker accepts.
pub(crate) const BACKLOG: i32 = 1024;
/// Most inherited descriptors accepted from the environment.
const MAX_FDS: usize = 1024;

/// Binds a TCP listener on `ip:port` (`ip` = `ListenIP`, `0.0.0.0` for every
/// interface) with `SO_REUSEADDR` and [`BACKLOG`] (close-on-exec, blocking).
pub(crate) fn bind_port(ip: IpAddr, port: u16) -> io::Result<TcpListener> {
    let addr = SocketAddr::new(ip, port);
    let s = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    s.set_reuse_address(true)?;
    s.bind(&addr.into())?;
    s.listen(BACKLOG)?;
    Ok(s.into())
}

/// Formats the [`LISTEN_ENV`] value.
pub(crate) fn format_fd_list(list: &[(RawFd, u16)]) -> String {
    list.iter()
        .map(|(fd, p)| format!("{fd}:{p}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// Parses the [`LISTEN_ENV`] value. Descriptors must be ≥ 3 and distinct.
pub(crate) fn parse_fd_list(s: &str) -> Result<Vec<(RawFd, u16)>, String> {
    let mut out: Vec<(RawFd, u16)> = Vec::new();
    for item in s.split(',').filter(|i| !i.trim().is_empty()) {
        if out.len() >= MAX_FDS {
            return Err(format!("more than {MAX_FDS} descriptors"));
        }
        let (fd, port) = item
            .trim()
            .split_once(':')
            .ok_or_else(|| format!("bad entry {item:?}"))?;
        let fd: RawFd = fd
            .parse()
            .map_err(|_| format!("bad descriptor in {item:?}"))?;
        let port: u16 = port.parse().map_err(|_| format!("bad port in {item:?}"))?;
        if fd < 3 || out.iter().any(|(f, _)| *f == fd) {
            return Err(format!("invalid descriptor {fd}"));
        }
        out.push((fd, port));
    }
    Ok(out)
}

/// Local TCP port of a listening socket, or `None` when `fd` is not a
/// listening TCP/IP socket (`SO_ACCEPTCONN`, `getsockname`).
fn listening_port(fd: &impl AsFd) -> Option<u16> {
    let sock = SockRef::from(fd);
    if !sock.is_listener().ok()? {
        return None;
    }
    sock.local_addr().ok()?.as_socket().map(|a| a.port())
}

/// Takes ownership of inherited descriptor `fd` when it is a listening
/// TCP socket on `port` (any port when `None`); otherwise leaves it open
/// and untouched, as before. `fd` must be open (checked by the caller
/// through `fcntl`), else this returns `None` without adopting it.
fn adopt_listener(fd: RawFd, port: Option<u16>) -> Option<(TcpListener, u16)> {
    // An fcntl on a closed number fails with EBADF: adopt only open ones.
    sys::set_cloexec(fd, true).ok()?;
    // SAFETY: `fd` is open (fcntl succeeded) and was passed to this process
    // for its exclusive use (by the supervisor or by systemd); no other
    // object in this process owns it. Taking ownership of a descriptor
    // number is inherently unsafe in Rust's I/O-safety model: no crate can
    // do it safely. It is released again below when it is not a listener.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    match listening_port(&owned) {
        Some(p) if port.is_none_or(|want| want == p) => Some((TcpListener::from(owned), p)),
        _ => {
            // Not ours to close: leave the descriptor as we found it.
            let _ = owned.into_raw_fd();
            None
        }
    }
}

/// Takes the listeners described by [`LISTEN_ENV`] (worker side), marks them
/// close-on-exec again and removes the variable. Entries that are not
/// listening TCP sockets on the stated port are skipped.
pub(crate) fn take_inherited() -> Vec<TcpListener> {
    let Ok(v) = std::env::var(LISTEN_ENV) else {
        return Vec::new();
    };
    std::env::remove_var(LISTEN_ENV);
    let list = match parse_fd_list(&v) {
        Ok(l) => l,
        Err(e) => {
            tracing::warn!("ignoring {LISTEN_ENV}={v:?}: {e}");
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (fd, port) in list {
        match adopt_listener(fd, Some(port)) {
            Some((l, _)) => out.push(l),
            None => tracing::warn!(
                "inherited descriptor {fd} is not a listener on port {port}; ignored"
            ),
        }
    }
    out
}

/// Takes sockets passed by systemd socket activation (`sd_listen_fds`):
/// when `LISTEN_PID` is this process, descriptors 3 .. 3+`LISTEN_FDS`.
/// The variables are removed; non-listening descriptors are skipped.
pub(crate) fn take_socket_activation() -> Vec<TcpListener> {
    let pid_ok = std::env::var("LISTEN_PID")
        .ok()
        .and_then(|p| p.trim().parse::<u32>().ok())
        == Some(std::process::id());
    let n: usize = std::env::var("LISTEN_FDS")
        .ok()
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0);
    for v in ["LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"] {
        std::env::remove_var(v);
    }
    if !pid_ok {
        return Vec::new();
    }
    let mut out = Vec::new();
    for fd in 3..3 + n.min(MAX_FDS) as RawFd {
        match adopt_listener(fd, None) {
            Some((l, port)) => {
                tracing::info!("TCP listener port {port} received by socket activation (fd {fd})");
                out.push(l);
            }
            None => tracing::warn!(
                "socket-activation descriptor {fd} is not a listening TCP socket; ignored"
            ),
        }
    }
    out
}

/// One socket held by the supervisor.
#[derive(Debug)]
struct Held {
    sock: TcpListener,
    /// From socket activation: kept even when not configured.
    activated: bool,
}

/// The supervisor's listening sockets, by port.
#[derive(Debug, Default)]
pub(crate) struct ListenerSet {
    held: BTreeMap<u16, Held>,
}

impl ListenerSet {
    /// Adds sockets from socket activation.
    pub(crate) fn add_activated(&mut self, socks: Vec<TcpListener>) {
        for s in socks {
            if let Ok(a) = s.local_addr() {
                self.held.insert(
                    a.port(),
                    Held {
                        sock: s,
                        activated: true,
                    },
                );
            }
        }
    }

    /// Makes the set match `ports`: binds missing ones, closes bound ones no
    /// longer configured (activated sockets stay). Returns the ports that
    /// failed, with the OS error text.
    pub(crate) fn sync(&mut self, ip: IpAddr, ports: &[u16]) -> Vec<FailedPort> {
        self.held.retain(|p, h| h.activated || ports.contains(p));
        let mut failed = Vec::new();
        for &port in ports {
            if port == 0 || self.held.contains_key(&port) {
                continue;
            }
            match bind_port(ip, port) {
                Ok(sock) => {
                    self.held.insert(
                        port,
                        Held {
                            sock,
                            activated: false,
                        },
                    );
                }
                Err(e) => failed.push(FailedPort {
                    port,
                    reason: e.to_string(),
                }),
            }
        }
        failed
    }

    /// `(fd, port)` of every held socket.
    pub(crate) fn fd_list(&self) -> Vec<(RawFd, u16)> {
        self.held
            .iter()
            .map(|(p, h)| (h.sock.as_raw_fd(), *p))
            .collect()
    }

    /// Ports held.
    pub(crate) fn ports(&self) -> Vec<u16> {
        self.held.keys().copied().collect()
    }

    /// All sockets, handed over (for running the engine in this process).
    pub(crate) fn into_listeners(self) -> Vec<TcpListener> {
        self.held.into_values().map(|h| h.sock).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const ANY: IpAddr = IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED);

    #[test]
    fn fd_list_round_trip_and_validation() {
        let l = vec![(3, 443), (7, 5555)];
        assert_eq!(parse_fd_list(&format_fd_list(&l)).unwrap(), l);
        assert_eq!(parse_fd_list("").unwrap(), vec![]);
        assert!(parse_fd_list("2:443").is_err());
        assert!(parse_fd_list("3:443,3:992").is_err());
        assert!(parse_fd_list("3:70000").is_err());
        assert!(parse_fd_list("x").is_err());
    }

    #[test]
    fn bind_sync_and_backlog_accepts_without_accepting() {
        let mut set = ListenerSet::default();
        // Port 0 is ignored; pick a free port by binding port 0 first.
        let probe = bind_port(ANY, 0).unwrap();
        let port = probe.local_addr().unwrap().port();
        drop(probe);
        assert!(set.sync(ANY, &[port]).is_empty());
        assert_eq!(set.ports(), vec![port]);
        // A second bind of the same port fails (already listening).
        let mut other = ListenerSet::default();
        let f = other.sync(ANY, &[port]);
        assert_eq!(f.len(), 1);
        assert_eq!(f[0].port, port);
        // Nobody calls accept(), yet connecting succeeds: the backlog holds it.
        let c = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
        drop(c);
        let held = set.held.values().next().map(|h| &h.sock);
        assert_eq!(held.and_then(listening_port), Some(port));
        // Dropping a port from the configuration closes it.
        assert!(set.sync(ANY, &[]).is_empty());
        assert!(set.ports().is_empty());
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
    }

    #[test]
    fn adopt_listener_takes_only_listeners_and_leaves_others_open() {
        use std::os::fd::IntoRawFd;
        // A listener on the stated port is adopted.
        let l = bind_port(ANY, 0).unwrap();
        let port = l.local_addr().unwrap().port();
        let fd = l.into_raw_fd();
        let (back, p) = adopt_listener(fd, Some(port)).unwrap();
        assert_eq!(p, port);
        // The wrong port: not adopted, still open.
        let fd = back.into_raw_fd();
        assert!(adopt_listener(fd, Some(port.wrapping_add(1))).is_none());
        assert!(
            sys::set_cloexec(fd, true).is_ok(),
            "descriptor must stay open"
        );
        // SAFETY: `fd` is the listener released above and owned by nobody.
        drop(unsafe { TcpListener::from_raw_fd(fd) });
        // A socket that is not listening: not adopted, still open.
        let u = std::net::UdpSocket::bind("127.0.0.1:0").unwrap();
        let fd = u.into_raw_fd();
        assert!(adopt_listener(fd, None).is_none());
        assert!(
            sys::set_cloexec(fd, true).is_ok(),
            "descriptor must stay open"
        );
        // SAFETY: as above, for the UDP socket.
        drop(unsafe { std::net::UdpSocket::from_raw_fd(fd) });
    }
}
