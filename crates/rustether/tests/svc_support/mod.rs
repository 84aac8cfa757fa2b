//! Helpers for the operating-modes tests: an instance (state directory,
//! configuration with its own ports), bounded command runs, process checks
//! through /proc, network namespaces, and cleanup guards that kill by pid.

#![allow(dead_code, unreachable_pub)]

use std::io::Read;
use std::net::{SocketAddr, TcpStream};
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rustether_config::{ConfigStore, Edition, ServerConfig};

/// Path of the built program of `edition`.
pub fn bin(edition: Edition) -> &'static str {
    match edition {
        Edition::Server => env!("CARGO_BIN_EXE_vpnserver"),
        Edition::Bridge => env!("CARGO_BIN_EXE_vpnbridge"),
    }
}

/// Polls `f` every 10 ms until it is true or `timeout` passes.
pub fn wait_until(timeout: Duration, mut f: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if f() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Output of a finished command, as text.
#[derive(Debug)]
pub struct Run {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub elapsed: Duration,
}

/// Runs `cmd` with a time limit (killed and reported when exceeded).
pub fn run_bounded(mut cmd: Command, limit: Duration) -> Run {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let t0 = Instant::now();
    let mut child = cmd.spawn().expect("spawn");
    // Read the pipes in threads so that a chatty child cannot block.
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let ho = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = so.read_to_string(&mut s);
        s
    });
    let he = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = se.read_to_string(&mut s);
        s
    });
    let code = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st.code();
        }
        if t0.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("command {cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let elapsed = t0.elapsed();
    // The daemon inherits no pipe (its streams are /dev/null), so EOF comes.
    Run {
        code,
        stdout: ho.join().unwrap(),
        stderr: he.join().unwrap(),
        elapsed,
    }
}

/// Field 22 (start time) and state of /proc/<pid>/stat.
pub fn proc_stat(pid: u32) -> Option<(u64, char, u32)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    Some((
        f.get(19)?.parse().ok()?,
        f.first()?.chars().next()?,
        f.get(3)?.parse().ok()?,
    ))
}

/// Session id of a process (field 6).
pub fn proc_sid(pid: u32) -> Option<u32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    rest.split_whitespace().nth(3)?.parse().ok()
}

/// Parent pid (field 4).
pub fn proc_ppid(pid: u32) -> Option<u32> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let rest = &s[s.rfind(')')? + 1..];
    rest.split_whitespace().nth(1)?.parse().ok()
}

pub fn alive(pid: u32) -> bool {
    matches!(proc_stat(pid), Some((_, st, _)) if st != 'Z' && st != 'X')
}

pub fn cmdline(pid: u32) -> Vec<String> {
    std::fs::read(format!("/proc/{pid}/cmdline"))
        .map(|b| {
            b.split(|&c| c == 0)
                .filter(|s| !s.is_empty())
                .map(|s| String::from_utf8_lossy(s).into_owned())
                .collect()
        })
        .unwrap_or_default()
}

pub fn comm(pid: u32) -> String {
    std::fs::read_to_string(format!("/proc/{pid}/comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// A line of /proc/<pid>/status, e.g. `Uid`.
pub fn status_field(pid: u32, key: &str) -> Option<String> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    s.lines().find_map(|l| {
        l.strip_prefix(&format!("{key}:"))
            .map(|v| v.trim().to_string())
    })
}

pub fn connect(port: u16) -> std::io::Result<TcpStream> {
    TcpStream::connect_timeout(
        &SocketAddr::from(([127, 0, 0, 1], port)),
        Duration::from_secs(2),
    )
}

pub fn accepts(port: u16) -> bool {
    connect(port).is_ok()
}

/// Kills by pid every process it saw (checked against its start time) when dropped.
#[derive(Default)]
pub struct PidGuard {
    seen: Vec<(u32, u64)>,
}

impl PidGuard {
    pub fn track(&mut self, pid: u32) {
        if let Some((st, _, _)) = proc_stat(pid) {
            if !self.seen.contains(&(pid, st)) {
                self.seen.push((pid, st));
            }
        }
    }
}

impl Drop for PidGuard {
    fn drop(&mut self) {
        for &(pid, st) in &self.seen {
            if matches!(proc_stat(pid), Some((s, state, _)) if s == st && state != 'Z') {
                rustether_testkit::process::kill_pid(pid as i32, libc::SIGKILL);
            }
        }
    }
}

static NEXT: AtomicU32 = AtomicU32::new(0);

/// A port base that is free on this host: `base`, else `base + 1000*k`.
pub fn free_ports(base: u16, n: u16) -> Vec<u16> {
    for k in 0..20u16 {
        let b = base + 1000 * k;
        let ports: Vec<u16> = (b..b + n).collect();
        if ports
            .iter()
            .all(|p| std::net::TcpListener::bind(("0.0.0.0", *p)).is_ok())
        {
            return ports;
        }
    }
    panic!("no free port range near {base}");
}

/// One RustEther instance: its state directory and configuration.
pub struct Instance {
    pub edition: Edition,
    pub dir: PathBuf,
    _tmp: Option<TempDirGuard>,
    pub guard: PidGuard,
    /// Prefix of the command (e.g. `ip netns exec NS setpriv ...`).
    pub prefix: Vec<String>,
}

/// Removes a directory tree when dropped.
pub struct TempDirGuard(pub PathBuf);
impl Drop for TempDirGuard {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

pub fn temp_dir(tag: &str) -> TempDirGuard {
    let n = NEXT.fetch_add(1, Ordering::SeqCst);
    let p = std::env::temp_dir().join(format!("rustether-om-{}-{}-{tag}", std::process::id(), n));
    let _ = std::fs::remove_dir_all(&p);
    std::fs::create_dir_all(&p).unwrap();
    TempDirGuard(p)
}

impl Instance {
    /// A fresh state directory whose configuration listens on `ports` only.
    pub fn new(edition: Edition, tag: &str, ports: &[u16]) -> Instance {
        let t = temp_dir(tag);
        let dir = t.0.clone();
        let i = Instance {
            edition,
            dir,
            _tmp: Some(t),
            guard: PidGuard::default(),
            prefix: Vec::new(),
        };
        i.write_config(ports);
        i
    }

    pub fn write_config(&self, ports: &[u16]) {
        let mut cfg = ServerConfig::initial(
            self.edition,
            rustether_config::model::now_ms(),
            &mut rustether_config::model::system_rng(),
        );
        let template = cfg.listeners[0].clone();
        cfg.listeners = ports
            .iter()
            .map(|&p| {
                let mut l = template.clone();
                l.port = p;
                l.enabled = true;
                l
            })
            .collect();
        ConfigStore::new(&self.dir, self.edition)
            .save(&cfg)
            .expect("save config");
    }

    pub fn config_path(&self) -> PathBuf {
        self.dir.join(self.edition.config_file_name())
    }

    pub fn pid_path(&self) -> PathBuf {
        self.dir
            .join(format!("{}.pid", self.edition.program_name()))
    }

    pub fn lock_path(&self) -> PathBuf {
        self.dir
            .join(format!("{}.lock", self.edition.program_name()))
    }

    pub fn log_text(&self) -> String {
        let mut s = String::new();
        if let Ok(rd) = std::fs::read_dir(self.dir.join("server_log")) {
            for e in rd.flatten() {
                s.push_str(&std::fs::read_to_string(e.path()).unwrap_or_default());
            }
        }
        s
    }

    /// The program's command with `--dir` and `args`.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = if self.prefix.is_empty() {
            Command::new(bin(self.edition))
        } else {
            let mut c = Command::new(&self.prefix[0]);
            c.args(&self.prefix[1..]).arg(bin(self.edition));
            c
        };
        c.arg("--dir").arg(&self.dir).args(args);
        c.env_remove("RUSTETHER_DIR")
            .env_remove("NOTIFY_SOCKET")
            .env_remove("LISTEN_FDS")
            .env_remove("LISTEN_PID");
        c
    }

    pub fn run(&mut self, args: &[&str]) -> Run {
        let r = run_bounded(self.cmd(args), Duration::from_secs(45));
        self.track_pids();
        r
    }

    /// `(supervisor, worker)` from the pid file.
    pub fn pids(&self) -> (Option<u32>, Option<u32>) {
        let text = std::fs::read_to_string(self.pid_path()).unwrap_or_default();
        let mut s = None;
        let mut w = None;
        for l in text.lines() {
            let f: Vec<&str> = l.split_whitespace().collect();
            match (f.first(), f.get(1).and_then(|p| p.parse().ok())) {
                (Some(&"supervisor"), Some(p)) => s = Some(p),
                (Some(&"worker"), Some(p)) => w = Some(p),
                _ => {}
            }
        }
        (s, w)
    }

    pub fn track_pids(&mut self) {
        let (s, w) = self.pids();
        for p in [s, w].into_iter().flatten() {
            self.guard.track(p);
        }
    }

    /// Starts the instance and asserts success; returns (supervisor, worker).
    pub fn start_ok(&mut self) -> (u32, u32) {
        let r = self.run(&["start"]);
        assert_eq!(
            r.code,
            Some(0),
            "start failed: {r:?}\nlog:\n{}",
            self.log_text()
        );
        assert_eq!(
            r.stdout.trim(),
            format!("{} Service Started.", self.edition.title()),
            "{r:?}"
        );
        let (s, w) = self.pids();
        (s.expect("supervisor pid"), w.expect("worker pid"))
    }

    /// `stop` and assert it worked.
    pub fn stop_ok(&mut self) {
        let r = self.run(&["stop"]);
        assert_eq!(r.code, Some(0), "stop failed: {r:?}");
        assert_eq!(
            r.stdout.trim(),
            format!("{} Service Stopped.", self.edition.title())
        );
    }
}

impl Drop for Instance {
    fn drop(&mut self) {
        self.track_pids();
    }
}

/// A network namespace with loopback up, deleted on drop (after the
/// processes started in it have been killed by their guards).
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        let name = format!("re-om-{}-{n}-{tag}", std::process::id());
        let ok = Command::new("ip")
            .args(["netns", "add", &name])
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        assert!(ok, "ip netns add {name} failed");
        let ok = Command::new("ip")
            .args(["-n", &name, "link", "set", "lo", "up"])
            .status()
            .unwrap()
            .success();
        assert!(ok);
        Netns { name }
    }

    /// Runs `f` on a thread that entered this namespace.
    pub fn run<T: Send + 'static>(&self, f: impl FnOnce() -> T + Send + 'static) -> T {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            let file = std::fs::File::open(&path).expect("open netns");
            // setns affects this thread only.
            nix::sched::setns(file, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
            f()
        })
        .join()
        .unwrap()
    }

    pub fn accepts(&self, port: u16) -> bool {
        self.run(move || accepts(port))
    }

    pub fn exec_prefix(&self) -> Vec<String> {
        vec![
            "ip".into(),
            "netns".into(),
            "exec".into(),
            self.name.clone(),
        ]
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

/// Spawns `cmd` with a guard; the caller waits.
pub fn spawn_tracked(mut cmd: Command, guard: &mut PidGuard) -> Child {
    cmd.stdin(Stdio::null());
    let c = cmd.spawn().expect("spawn");
    guard.track(c.id());
    c
}

/// Waits for a child with a bound; kills it when exceeded.
pub fn wait_child(c: &mut Child, limit: Duration) -> Option<i32> {
    let end = Instant::now() + limit;
    loop {
        if let Some(st) = c.try_wait().unwrap() {
            return st.code();
        }
        if Instant::now() > end {
            let _ = c.kill();
            let _ = c.wait();
            panic!("child {} did not exit within {limit:?}", c.id());
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Makes `path` (and the tree below) owned by uid/gid.
pub fn chown_tree(path: &Path, uid: u32, gid: u32) {
    let ok = Command::new("chown")
        .arg("-R")
        .arg(format!("{uid}:{gid}"))
        .arg(path)
        .status()
        .unwrap()
        .success();
    assert!(ok);
}

/// Lets a child keep a descriptor as fd 3 (for socket activation).
pub fn pass_fd_as_3(cmd: &mut Command, fd: i32) {
    // SAFETY: dup2 is async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            if fd == 3 {
                // dup2 onto itself keeps FD_CLOEXEC: clear it instead.
                if libc::fcntl(3, libc::F_SETFD, 0) < 0 {
                    return Err(std::io::Error::last_os_error());
                }
            } else if libc::dup2(fd, 3) < 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}
