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
//! Everything needs root (namespaces); see [`skip_unless_root`].

pub mod client;
pub mod cmd;
pub mod cpu;
pub mod measure;
pub mod netns;
pub mod process;
pub mod seconfig;
pub mod server;
pub mod sha0;
pub mod softether;
pub mod t1;
pub mod tmp;

pub use anyhow;

use std::sync::{Mutex, MutexGuard};

/// True if the process runs as root (effective uid 0).
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// For tests that need root: returns `false` after printing
/// `skipped: needs root (<test>)` when not root; the test then returns.
pub fn skip_unless_root(test: &str) -> bool {
    if is_root() {
        return true;
    }
    println!("skipped: needs root ({test})");
    false
}

static EXCLUSIVE: Mutex<()> = Mutex::new(());

/// Serialise heavy namespace tests inside one test binary (cargo runs tests
/// in parallel threads; two iperf3 runs at once on a 2-core machine would
/// disturb each other). Hold the guard for the whole test, declared first so
/// that it is dropped last. A panic in another holder does not poison it.
pub fn exclusive() -> MutexGuard<'static, ()> {
    EXCLUSIVE.lock().unwrap_or_else(|p| p.into_inner())
}
