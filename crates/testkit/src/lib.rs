//! Test and benchmark harness of RustEther.
//!
//! Runs VPN servers (ours or the real SoftEther vpnserver) and the real
//! SoftEther VPN Client in Linux network namespaces that have no route to
//! anything outside them, and measures the VPN path with ping and iperf3.
//!
//! Building blocks, each an RAII guard bounded in time:
//! - [`netns::Netns`]: a namespace (`rt-<pid>-<n>-<role>`), deleted on drop
//!   after killing, by pid, whatever still runs inside.
//! - [`process::Proc`]: a spawned process in its own process group, logged to
//!   a file, SIGTERM → bounded wait → SIGKILL on drop.
//! - [`softether::Sandbox`]: private `/var/lib|run|log/softether` per
//!   SoftEther instance (private mount namespace).
//! - [`seconfig::ServerConfigSpec`]: SoftEther-format `vpn_server.config`
//!   with every internet feature off, read by both servers.
//! - [`server::Server`] / [`server::ServerKind`]: ours or SoftEther.
//! - [`client::VpnClient`]: the real vpnclient driven by vpncmd.
//! - [`measure`]: ping / iperf3; [`cpu`]: CPU use from /proc.
//! - [`t1::T1Lab`]: the whole T1 setup (server + two clients through a hub).
//!
//! Everything needs root (namespaces); tests gate on their prerequisites
//! with [`prereq::require`].
#![forbid(unsafe_code)]

pub mod client;
pub mod cmd;
pub mod cpu;
pub mod logtime;
pub mod measure;
pub mod netns;
pub mod openvpn;
pub mod prereq;
pub mod process;
pub mod seconfig;
pub mod server;
pub mod sha0;
pub mod softether;
pub mod t1;
pub mod tmp;

// Issue 4: local bridge, cascades, VPN Bridge (T2 and cascade labs, benchmarks).
pub mod bridge_lab;
pub mod cascadecfg;
pub mod t2;
pub mod vpnbridge;

pub use anyhow;

use std::sync::{Mutex, MutexGuard};

/// True if the process runs as root (effective uid 0).
pub fn is_root() -> bool {
    nix::unistd::geteuid().is_root()
}

static EXCLUSIVE: Mutex<()> = Mutex::new(());

/// Path of the lock file behind [`exclusive`].
pub fn exclusive_lock_path() -> std::path::PathBuf {
    std::env::temp_dir().join("rustether-testkit.lock")
}

/// How long [`exclusive`] waits for another process's holder.
pub const EXCLUSIVE_WAIT: std::time::Duration = std::time::Duration::from_secs(30 * 60);

/// Guard returned by [`exclusive`]; releases the lock when dropped.
#[derive(Debug)]
pub struct Exclusive {
    // Field order: the file lock is released before the in-process mutex.
    _file: Option<std::fs::File>,
    _guard: MutexGuard<'static, ()>,
}

/// Serialise heavy namespace tests and benchmarks: cargo runs the tests of
/// one binary in parallel threads, nextest runs them as parallel processes,
/// and two iperf3 runs at once on a 2-core machine disturb each other.
///
/// Takes a process-wide mutex (a panic in another holder does not poison
/// it) and an `flock` on [`exclusive_lock_path`]. Hold the guard for the
/// whole test, declared first so that it is dropped last.
///
/// Panics if another process holds the file lock longer than
/// [`EXCLUSIVE_WAIT`]. If the lock file cannot be opened, only the mutex is
/// taken.
pub fn exclusive() -> Exclusive {
    let guard = EXCLUSIVE.lock().unwrap_or_else(|p| p.into_inner());
    let path = exclusive_lock_path();
    // flock needs no write access: a lock file another user created (root,
    // 0644) is opened read-only, so every user's tests exclude each other.
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .or_else(|_| std::fs::File::open(&path))
        .ok();
    if let Some(f) = &file {
        let start = std::time::Instant::now();
        let mut noted = false;
        while rustix::fs::flock(f, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err() {
            if !noted {
                eprintln!(
                    "testkit: waiting for {} (another RustEther test or benchmark runs)",
                    path.display()
                );
                noted = true;
            }
            if start.elapsed() > EXCLUSIVE_WAIT {
                panic!(
                    "testkit: {} held by another process for more than {EXCLUSIVE_WAIT:?}",
                    path.display()
                );
            }
            std::thread::sleep(std::time::Duration::from_millis(200));
        }
    }
    Exclusive {
        _file: file,
        _guard: guard,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_excludes_other_processes() {
        let _x = exclusive();
        // A second open file description cannot take the flock meanwhile.
        let f = std::fs::File::open(exclusive_lock_path()).unwrap();
        let r = rustix::fs::flock(&f, rustix::fs::FlockOperation::NonBlockingLockExclusive);
        assert!(r.is_err(), "the lock was free while held");
    }
}
