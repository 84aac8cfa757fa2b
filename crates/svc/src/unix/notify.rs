//! systemd readiness protocol (`sd_notify(3)`): datagrams like `READY=1` to
//! the unix socket named by `NOTIFY_SOCKET` (a path, or `@name` for the
//! abstract namespace), and the watchdog interval from `WATCHDOG_USEC`.

use std::io;
use std::os::unix::net::UnixDatagram;
use std::time::Duration;

/// A connection to systemd's notification socket.
#[derive(Debug)]
pub(crate) struct Notifier {
    sock: UnixDatagram,
    addr: String,
}

impl Notifier {
    /// From `NOTIFY_SOCKET`; `None` when unset or unusable.
    pub(crate) fn from_env() -> Option<Notifier> {
        let addr = std::env::var("NOTIFY_SOCKET")
            .ok()
            .filter(|a| a.starts_with('/') || a.starts_with('@'))?;
        let sock = UnixDatagram::unbound().ok()?;
        Some(Notifier { sock, addr })
    }

    /// Sends one state string, e.g. `"READY=1\nSTATUS=..."`.
    pub(crate) fn send(&self, state: &str) -> io::Result<()> {
        if let Some(name) = self.addr.strip_prefix('@') {
            use std::os::linux::net::SocketAddrExt;
            let a = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes())?;
            self.sock.send_to_addr(state.as_bytes(), &a)?;
        } else {
            self.sock.send_to(state.as_bytes(), &self.addr)?;
        }
        Ok(())
    }
}

/// Watchdog ping interval: half of `WATCHDOG_USEC` when that is set and
/// `WATCHDOG_PID` (if set) names this process.
pub(crate) fn watchdog_interval() -> Option<Duration> {
    if let Ok(p) = std::env::var("WATCHDOG_PID") {
        if p.trim() != std::process::id().to_string() {
            return None;
        }
    }
    let us: u64 = std::env::var("WATCHDOG_USEC").ok()?.trim().parse().ok()?;
    (us > 0).then(|| Duration::from_micros(us / 2))
}

/// Removes the notification variables so that child processes do not use them.
pub(crate) fn clear_env() {
    for v in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
        std::env::remove_var(v);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sends_datagrams_to_a_path_socket() {
        let d = tempfile::tempdir().unwrap();
        let path = d.path().join("notify");
        let rx = UnixDatagram::bind(&path).unwrap();
        let n = Notifier {
            sock: UnixDatagram::unbound().unwrap(),
            addr: path.to_string_lossy().into_owned(),
        };
        n.send("READY=1\nSTATUS=ok").unwrap();
        let mut buf = [0u8; 64];
        let k = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..k], b"READY=1\nSTATUS=ok");
    }

    #[test]
    fn sends_to_abstract_socket() {
        use std::os::linux::net::SocketAddrExt;
        let name = format!("rustether-notify-test-{}", std::process::id());
        let a = std::os::unix::net::SocketAddr::from_abstract_name(name.as_bytes()).unwrap();
        let rx = UnixDatagram::bind_addr(&a).unwrap();
        let n = Notifier {
            sock: UnixDatagram::unbound().unwrap(),
            addr: format!("@{name}"),
        };
        n.send("WATCHDOG=1").unwrap();
        let mut buf = [0u8; 64];
        let k = rx.recv(&mut buf).unwrap();
        assert_eq!(&buf[..k], b"WATCHDOG=1");
    }
}
