//! Resource limits: when the server runs out of file descriptors, clients
//! beyond the limit are refused at once instead of hanging in the listen
//! backlog until their own timeout, and the server serves again once
//! descriptors are free. Loopback only; no root needed.

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustether_config::{ConfigStore, Edition, ServerConfig};

/// Port used only by this test file.
const PORT: u16 = 24_555;
/// Descriptor limit given to the server (hard and soft).
const NOFILE: u64 = 64;

struct Server(Child);

impl Drop for Server {
    fn drop(&mut self) {
        // SAFETY: signalling the child we started, by pid.
        unsafe { libc::kill(self.0.id() as i32, libc::SIGKILL) };
        let _ = self.0.wait();
    }
}

fn start(dir: &std::path::Path) -> Server {
    let mut cfg = ServerConfig::initial(Edition::Server);
    cfg.listeners.truncate(1);
    cfg.listeners[0].port = PORT;
    ConfigStore::new(dir, Edition::Server).save(&cfg).unwrap();
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vpnserver"));
    cmd.args(["start", "--foreground", "--dir"])
        .arg(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null());
    // SAFETY: only async-signal-safe setrlimit between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let lim = libc::rlimit {
                rlim_cur: NOFILE,
                rlim_max: NOFILE,
            };
            if libc::setrlimit(libc::RLIMIT_NOFILE, &lim) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let child = cmd.spawn().expect("start vpnserver");
    let addr: SocketAddr = ([127, 0, 0, 1], PORT).into();
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_err() {
        assert!(Instant::now() < deadline, "server did not start");
        std::thread::sleep(Duration::from_millis(50));
    }
    Server(child)
}

/// Whether the server closed `s` (EOF or reset) within `wait`.
fn closed_within(s: &mut TcpStream, wait: Duration) -> bool {
    s.set_read_timeout(Some(wait)).unwrap();
    let mut b = [0u8; 16];
    matches!(s.read(&mut b), Ok(0) | Err(_))
        && {
            // A timeout is an error too: tell it apart from a close.
            let mut b2 = [0u8; 1];
            s.set_read_timeout(Some(Duration::from_millis(10))).unwrap();
            !matches!(s.read(&mut b2), Err(e) if e.kind() == std::io::ErrorKind::WouldBlock || e.kind() == std::io::ErrorKind::TimedOut)
        }
}

#[test]
fn out_of_descriptors_refuses_promptly_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let _server = start(dir.path());
    let addr: SocketAddr = ([127, 0, 0, 1], PORT).into();
    // Far more connections than the server has descriptors for. Each one the
    // server accepts waits for a TLS handshake (15 s); the rest must be
    // refused at once rather than left in the backlog.
    let total = NOFILE as usize + 40;
    let mut conns: Vec<TcpStream> = (0..total)
        .map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let t = Instant::now();
    let refused = conns
        .iter_mut()
        .map(|c| closed_within(c, Duration::from_millis(20)))
        .filter(|closed| *closed)
        .count();
    assert!(t.elapsed() < Duration::from_secs(10));
    assert!(
        refused >= 40,
        "only {refused} of {total} connections were refused with a {NOFILE}-descriptor limit"
    );
    assert!(refused < total, "the server accepted nothing");
    // Free the descriptors: the server accepts and serves again.
    conns.clear();
    std::thread::sleep(Duration::from_millis(500));
    let mut again = TcpStream::connect_timeout(&addr, Duration::from_secs(2)).unwrap();
    assert!(
        !closed_within(&mut again, Duration::from_millis(700)),
        "after recovery a new connection is kept open (waiting for TLS)"
    );
}
