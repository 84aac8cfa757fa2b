//! Resource limits: when the server runs out of file descriptors, clients
//! beyond the limit are refused (closed) instead of hanging in the listen
//! backlog until the handshake timeout, and the server serves again once
//! descriptors are free. Loopback only; no root needed.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use rustether_config::{ConfigStore, Edition, ServerConfig};

/// Port used only by this test file.
const PORT: u16 = 24_555;
/// Descriptor limit given to the server (hard and soft).
const NOFILE: u64 = 64;

/// The server process (killed by pid on drop) and the file its stderr
/// (the log, in foreground mode) goes to.
struct Server {
    child: Child,
    log: std::path::PathBuf,
}

impl Server {
    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        rustether_testkit::process::kill_pid(self.child.id() as i32, libc::SIGKILL);
        let _ = self.child.wait();
    }
}

fn start(dir: &std::path::Path) -> Server {
    let mut cfg = ServerConfig::initial(
        Edition::Server,
        rustether_config::model::now_ms(),
        &mut rustether_config::model::system_rng(),
    );
    cfg.listeners.truncate(1);
    cfg.listeners[0].port = PORT;
    ConfigStore::new(dir, Edition::Server).save(&cfg).unwrap();
    let log = dir.join("stderr.log");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_vpnserver"));
    cmd.args(["start", "--foreground", "--dir"])
        .arg(dir)
        // The test reads info and warn lines of the log.
        .env("RUST_LOG", "info")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).unwrap());
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
    let server = Server { child, log };
    // Ready once it logs its listener (a probe connection would take one
    // of its descriptors for the TLS handshake timeout).
    let deadline = Instant::now() + DEADLINE;
    while !server
        .log()
        .contains(&format!("TCP listener (port {PORT}) is listening"))
    {
        assert!(
            Instant::now() < deadline,
            "server did not start:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    server
}

/// Overall bound of each wait in this test (it is not a speed limit:
/// every wait ends as soon as its condition holds).
const DEADLINE: Duration = Duration::from_secs(60);

/// Where a client connection stands, seen without blocking: closed by the
/// server (EOF or reset), or open with nothing to read.
fn is_closed(s: &mut TcpStream) -> bool {
    s.set_nonblocking(true).unwrap();
    let mut b = [0u8; 16];
    let closed = match s.read(&mut b) {
        Ok(0) => true,
        Ok(_) => panic!("the server sent data before any TLS ClientHello"),
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => false,
        Err(_) => true,
    };
    s.set_nonblocking(false).unwrap();
    closed
}

/// Refused connections are closed by the server right away; the ones it
/// accepted wait for a TLS handshake until the handshake timeout (15 s,
/// logged "TLS handshake timed out"). So the refusals are told apart from
/// timeouts by the server's own log, not by timing the test.
#[test]
fn out_of_descriptors_refuses_promptly_and_recovers() {
    let dir = tempfile::tempdir().unwrap();
    let server = start(dir.path());
    let addr: SocketAddr = ([127, 0, 0, 1], PORT).into();
    // Far more connections than the server has descriptors for. Each one the
    // server accepts waits for a TLS handshake; the rest must be refused
    // (closed) instead of being left in the backlog.
    let total = NOFILE as usize + 40;
    let mut conns: Vec<TcpStream> = (0..total)
        .map(|_| TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap())
        .collect();
    let deadline = Instant::now() + DEADLINE;
    let refused = loop {
        let closed = conns.iter_mut().map(is_closed).filter(|c| *c).count();
        if closed >= 40 {
            break closed;
        }
        assert!(
            Instant::now() < deadline,
            "only {closed} of {total} connections were refused with a {NOFILE}-descriptor limit:\n{}",
            server.log()
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    // The server logs the refusal after closing the sockets, so the line
    // may follow the closes we just saw: wait for it.
    let deadline = Instant::now() + DEADLINE;
    let log = loop {
        let log = server.log();
        if log.contains("refusing new connections until descriptors are free") {
            break log;
        }
        assert!(
            Instant::now() < deadline,
            "connections closed but no refusal logged:\n{log}"
        );
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(
        !log.contains("TLS handshake timed out"),
        "connections were closed by the handshake timeout, not refused:\n{log}"
    );
    assert!(refused < total, "the server accepted nothing");
    // Free the descriptors: the server accepts and serves again. Bytes that
    // are not TLS get a TLS alert back (a refused connection gets nothing).
    conns.clear();
    let deadline = Instant::now() + DEADLINE;
    loop {
        let mut again = TcpStream::connect_timeout(&addr, Duration::from_secs(10)).unwrap();
        again.write_all(b"GET / HTTP/1.0\r\n\r\n").unwrap();
        again.set_read_timeout(Some(DEADLINE)).unwrap();
        let mut b = [0u8; 1];
        match again.read(&mut b) {
            Ok(1) => {
                assert_eq!(b[0], 0x15, "a TLS alert record");
                break;
            }
            // Still refused: the server has not seen the descriptors free yet.
            _ => assert!(
                Instant::now() < deadline,
                "the server did not serve again:\n{}",
                server.log()
            ),
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
