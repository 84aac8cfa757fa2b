//! Test harness: network namespaces as RAII guards, running code inside them.
//!
//! Names are `rtnd-<pid>-<n>-<tag>`; namespaces left behind by a killed test process
//! (pid no longer alive) are deleted by the next run.

#![allow(dead_code, unreachable_pub)]

use std::fs::File;
use std::future::Future;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Once;
use std::time::Duration;

static SEQ: AtomicU32 = AtomicU32::new(0);
static SWEEP: Once = Once::new();

/// Upper bound for one test body.
pub const BODY_TIMEOUT: Duration = Duration::from_secs(60);

fn sweep_stale() {
    let Ok(out) = Command::new("ip").args(["netns", "list"]).output() else {
        return;
    };
    for line in String::from_utf8_lossy(&out.stdout).lines() {
        let name = line.split_whitespace().next().unwrap_or("");
        let Some(rest) = name.strip_prefix("rtnd-") else {
            continue;
        };
        let pid = rest.split('-').next().unwrap_or("");
        if !pid.is_empty() && !std::path::Path::new(&format!("/proc/{pid}")).exists() {
            let _ = Command::new("ip").args(["netns", "del", name]).output();
        }
    }
}

/// Run a command, panic with its output if it fails.
pub fn run(cmd: &mut Command) -> String {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?} failed: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// A network namespace owned by the test; deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        SWEEP.call_once(sweep_stale);
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let name = format!("rtnd-{}-{n}-{tag}", std::process::id());
        run(Command::new("ip").args(["netns", "add", &name]));
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n <ns> <args>`; panics on failure.
    pub fn ip(&self, args: &[&str]) -> String {
        run(Command::new("ip").arg("-n").arg(&self.name).args(args))
    }

    /// `ip -n <ns> <args>` without asserting success.
    pub fn ip_status(&self, args: &[&str]) -> Output {
        Command::new("ip")
            .arg("-n")
            .arg(&self.name)
            .args(args)
            .output()
            .expect("run ip")
    }

    /// `ip netns exec <ns> <cmd...>`.
    pub fn exec(&self, cmd: &[&str]) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.name])
            .args(cmd)
            .output()
            .expect("run ip netns exec")
    }

    /// A veth pair `a`–`b`, both in this namespace and up.
    pub fn veth(&self, a: &str, b: &str) {
        self.ip(&["link", "add", a, "type", "veth", "peer", "name", b]);
        self.ip(&["link", "set", a, "up"]);
        self.ip(&["link", "set", b, "up"]);
    }

    /// Integer attribute of `ip -d -j link show dev <dev>`, e.g. `promiscuity`.
    pub fn link_attr(&self, dev: &str, key: &str) -> Option<i64> {
        let out = self.ip(&["-d", "-j", "link", "show", "dev", dev]);
        let pat = format!("\"{key}\":");
        let at = out.find(&pat)? + pat.len();
        let num: String = out[at..]
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == '-')
            .collect();
        num.parse().ok()
    }

    /// `true` when `dev` exists in the namespace.
    pub fn has_link(&self, dev: &str) -> bool {
        self.ip_status(&["link", "show", "dev", dev])
            .status
            .success()
    }

    /// Run `f` on a thread that has entered this namespace.
    pub fn run<R: Send + 'static>(&self, f: impl FnOnce() -> R + Send + 'static) -> R {
        let path = format!("/run/netns/{}", self.name);
        std::thread::spawn(move || {
            enter(&path);
            f()
        })
        .join()
        .unwrap_or_else(|p| std::panic::resume_unwind(p))
    }

    /// Run the future made by `f` on a current-thread Tokio runtime on a thread inside this
    /// namespace, bounded by [`BODY_TIMEOUT`].
    pub fn block_on<F, Fut>(&self, f: F) -> Fut::Output
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future,
        Fut::Output: Send + 'static,
    {
        self.run(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                tokio::time::timeout(BODY_TIMEOUT, f())
                    .await
                    .expect("test body timed out")
            })
        })
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Move the calling thread into the network namespace at `path`.
pub fn enter(path: &str) {
    let f = File::open(path).unwrap_or_else(|e| panic!("open {path}: {e}"));
    nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET)
        .unwrap_or_else(|e| panic!("setns {path}: {e}"));
}

/// Parse `aa:bb:cc:dd:ee:ff`.
pub fn parse_mac(s: &str) -> [u8; 6] {
    let v: Vec<u8> = s
        .split(':')
        .map(|x| u8::from_str_radix(x, 16).expect("hex"))
        .collect();
    v.try_into().expect("6 bytes")
}

/// MAC address of `dev` as `ip link` shows it.
pub fn mac_of(ns: &Netns, dev: &str) -> [u8; 6] {
    let out = ns.ip(&["-br", "link", "show", "dev", dev]);
    let mac = out.split_whitespace().nth(2).expect("mac column");
    parse_mac(mac)
}

/// EtherType used by the tests' own frames (IEEE 802 local experimental 1).
pub const TEST_ETHERTYPE: u16 = 0x88B5;

/// A test frame: `dst`, `src`, EtherType 0x88B5, `len` bytes in all, payload derived from
/// `seed` so frames differ.
pub fn test_frame(dst: [u8; 6], src: [u8; 6], len: usize, seed: u8) -> Vec<u8> {
    let mut f = Vec::with_capacity(len);
    f.extend_from_slice(&dst);
    f.extend_from_slice(&src);
    f.extend_from_slice(&TEST_ETHERTYPE.to_be_bytes());
    let mut x = seed;
    while f.len() < len {
        x = x.wrapping_mul(31).wrapping_add(7);
        f.push(x);
    }
    f
}

/// EtherType of a frame, looking through one VLAN tag.
pub fn ethertype(f: &[u8]) -> u16 {
    let t = u16::from_be_bytes([f[12], f[13]]);
    if t == 0x8100 && f.len() >= 18 {
        u16::from_be_bytes([f[16], f[17]])
    } else {
        t
    }
}
