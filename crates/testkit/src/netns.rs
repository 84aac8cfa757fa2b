//! Network namespaces (`ip netns`) as RAII guards, veth links and bridges.
//!
//! Names are `rt-<pid>-<n>-<role>`: unique per test process, and recognisable
//! so that namespaces left by a test process that was SIGKILLed can be swept
//! (see [`sweep_stale`]). Namespaces have loopback up and NO default route;
//! only the addresses the tests assign are reachable.

use std::net::Ipv4Addr;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, ensure, Context, Result};

use crate::cmd::{run, run_ok, wait_until};
use crate::process::kill_pid;

static SEQ: AtomicU32 = AtomicU32::new(0);
static SWEEP: Once = Once::new();

/// Time limit for one `ip` command.
const IP_TIMEOUT: Duration = Duration::from_secs(20);

/// Interface names are limited to 15 bytes by the kernel (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

/// Check an interface name against the kernel's rules (1..=15 bytes, no `/`,
/// whitespace or `:`).
///
/// Errors: the name would be refused by the kernel.
pub fn check_ifname(name: &str) -> Result<()> {
    ensure!(
        !name.is_empty() && name.len() <= IFNAME_MAX,
        "interface name {name:?} must be 1..={IFNAME_MAX} bytes"
    );
    ensure!(
        !name.contains(['/', ':', ' ', '\t', '\n']),
        "interface name {name:?} contains a forbidden character"
    );
    Ok(())
}

/// A network namespace created by the harness; deleted on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
}

fn ip_cmd(args: &[&str]) -> Result<String> {
    run_ok(Command::new("ip").args(args), IP_TIMEOUT)
}

impl Netns {
    /// Create `rt-<pid>-<n>-<role>`, bring `lo` up, and nothing else (no
    /// routes, no other links).
    ///
    /// Errors: `ip netns add` fails (not root, no netns support).
    pub fn new(role: &str) -> Result<Netns> {
        SWEEP.call_once(sweep_stale);
        ensure!(
            !role.is_empty() && role.chars().all(|c| c.is_ascii_alphanumeric()),
            "namespace role {role:?} must be ASCII alphanumeric"
        );
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let name = format!("rt-{}-{n}-{role}", std::process::id());
        ip_cmd(&["netns", "add", &name]).context("creating a network namespace (needs root)")?;
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Namespace name (for `ip netns exec`, `ip -n`).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// `ip netns exec <name> <program> <args...>`; `ip` executes the program
    /// in place, so the spawned pid is the program's pid.
    pub fn command<S: AsRef<std::ffi::OsStr>>(&self, program: S, args: &[&str]) -> Command {
        netns_exec(&self.name, program, args)
    }

    /// Run a program inside the namespace; requires exit 0; returns stdout.
    ///
    /// Errors: timeout or non-zero exit (with output).
    pub fn run(&self, program: &str, args: &[&str], timeout: Duration) -> Result<String> {
        run_ok(&mut self.command(program, args), timeout)
    }

    /// `ip -n <name> <args...>`; returns stdout.
    ///
    /// Errors: non-zero exit (with output).
    pub fn ip(&self, args: &[&str]) -> Result<String> {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        ip_cmd(&full)
    }

    /// Set link `dev` up.
    pub fn link_up(&self, dev: &str) -> Result<()> {
        self.ip(&["link", "set", dev, "up"]).map(drop)
    }

    /// Add `addr/plen` to `dev`.
    pub fn add_addr(&self, dev: &str, addr: Ipv4Addr, plen: u8) -> Result<()> {
        self.ip(&["addr", "add", &format!("{addr}/{plen}"), "dev", dev])
            .map(drop)
    }

    /// Create a Linux bridge `name` and set it up.
    pub fn add_bridge(&self, name: &str) -> Result<()> {
        check_ifname(name)?;
        self.ip(&["link", "add", name, "type", "bridge"])?;
        self.link_up(name)
    }

    /// Create a veth pair: `local` here and `remote` in `peer`; both set up.
    pub fn veth_to(&self, local: &str, peer: &Netns, remote: &str) -> Result<()> {
        check_ifname(local)?;
        check_ifname(remote)?;
        self.ip(&[
            "link", "add", local, "type", "veth", "peer", "name", remote, "netns", &peer.name,
        ])?;
        self.link_up(local)?;
        peer.link_up(remote)
    }

    /// Attach `dev` to bridge `bridge`.
    pub fn set_master(&self, dev: &str, bridge: &str) -> Result<()> {
        self.ip(&["link", "set", dev, "master", bridge]).map(drop)
    }

    /// True if link `dev` exists in the namespace.
    pub fn link_exists(&self, dev: &str) -> bool {
        self.ip(&["link", "show", dev]).is_ok()
    }

    /// Switch IPv6 off (keeps router solicitations etc. off the hub).
    pub fn disable_ipv6(&self) -> Result<()> {
        self.run(
            "sh",
            &[
                "-c",
                "echo 1 >/proc/sys/net/ipv6/conf/default/disable_ipv6; \
                 echo 1 >/proc/sys/net/ipv6/conf/all/disable_ipv6",
            ],
            Duration::from_secs(10),
        )
        .map(drop)
    }

    /// Best effort: switch TX checksum offload off on `dev` (ethtool may be
    /// missing; then nothing happens).
    pub fn tx_offload_off(&self, dev: &str) {
        let _ = run(
            &mut self.command("ethtool", &["-K", dev, "tx", "off"]),
            Duration::from_secs(10),
        );
    }

    /// True if something listens on TCP `port` in the namespace (`ss -Hltn`).
    pub fn tcp_listening(&self, port: u16) -> bool {
        let filter = format!("sport = :{port}");
        match run(
            &mut self.command("ss", &["-Hltn", &filter]),
            Duration::from_secs(10),
        ) {
            Ok(o) => o.status.success() && !o.stdout.trim().is_empty(),
            Err(_) => false,
        }
    }

    /// Wait until TCP `port` listens, at most `timeout`; `alive` is polled too
    /// and aborts the wait with its error (e.g. "the server exited").
    pub fn wait_tcp_listening(
        &self,
        port: u16,
        timeout: Duration,
        mut alive: impl FnMut() -> Result<()>,
    ) -> Result<()> {
        wait_until(
            &format!("TCP port {port} to listen in {}", self.name),
            timeout,
            Duration::from_millis(100),
            || {
                alive()?;
                Ok(self.tcp_listening(port))
            },
        )
    }

    /// Pids of all processes in the namespace (`ip netns pids`).
    pub fn pids(&self) -> Vec<i32> {
        ns_pids(&self.name)
    }
}

/// `ip netns exec <ns> <program> <args...>` for a namespace known by name.
pub fn netns_exec<S: AsRef<std::ffi::OsStr>>(ns: &str, program: S, args: &[&str]) -> Command {
    let mut c = Command::new("ip");
    c.args(["netns", "exec", ns]).arg(program).args(args);
    c
}

fn ns_pids(name: &str) -> Vec<i32> {
    match run(
        Command::new("ip").args(["netns", "pids", name]),
        Duration::from_secs(10),
    ) {
        Ok(o) => o
            .stdout
            .split_whitespace()
            .filter_map(|p| p.parse().ok())
            .collect(),
        Err(_) => Vec::new(),
    }
}

/// Terminate (by pid) every process in namespace `name`, then delete it.
fn destroy(name: &str) -> Result<()> {
    let pids = ns_pids(name);
    if !pids.is_empty() {
        eprintln!("testkit: terminating leftover processes in {name}: {pids:?}");
        for p in &pids {
            kill_pid(*p, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while !ns_pids(name).is_empty() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
        }
        for p in ns_pids(name) {
            kill_pid(p, libc::SIGKILL);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while !ns_pids(name).is_empty() && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(50));
        }
    }
    ip_cmd(&["netns", "del", name]).map(drop)?;
    if std::path::Path::new("/run/netns").join(name).exists() {
        bail!("namespace {name} still exists after deletion");
    }
    Ok(())
}

impl Drop for Netns {
    fn drop(&mut self) {
        if let Err(e) = destroy(&self.name) {
            eprintln!("testkit: cleaning up namespace {}: {e:#}", self.name);
        }
    }
}

/// Delete namespaces `rt-<pid>-*` whose creating test process `<pid>` no
/// longer exists (left behind by a test run that was SIGKILLed). Processes
/// inside them were started by that run and are terminated by pid. Called
/// once per process before the first namespace is created.
pub fn sweep_stale() {
    let Ok(rd) = std::fs::read_dir("/run/netns") else {
        return;
    };
    for e in rd.flatten() {
        let name = e.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("rt-") else {
            continue;
        };
        let Some(pid) = rest.split('-').next().and_then(|p| p.parse::<i32>().ok()) else {
            continue;
        };
        if pid as u32 == std::process::id()
            || std::path::Path::new(&format!("/proc/{pid}")).exists()
        {
            continue;
        }
        eprintln!("testkit: removing stale namespace {name}");
        if let Err(e) = destroy(&name) {
            eprintln!("testkit: {e:#}");
        }
    }
}

/// Ensure the kernel can create tap devices (SoftEther's virtual NICs).
///
/// Errors: `/dev/net/tun` is missing.
pub fn require_tun() -> Result<()> {
    if !std::path::Path::new("/dev/net/tun").exists() {
        let _ = run(Command::new("modprobe").arg("tun"), Duration::from_secs(10));
    }
    ensure!(
        std::path::Path::new("/dev/net/tun").exists(),
        "/dev/net/tun is missing (modprobe tun)"
    );
    Ok(())
}
