//! Worker entry point: the process that does the VPN work.
//!
//! The supervisor (`rustether-svc`) or `start --foreground` calls [`run`]
//! from a process with no threads yet; `run` builds the tokio runtime itself.

use std::net::TcpListener;
use std::path::PathBuf;

use rustether_config::Edition;

/// What a worker needs to start.
pub struct WorkerOptions {
    /// VPN Server or VPN Bridge.
    pub edition: Edition,
    /// State directory holding `vpn_server.config` (or `vpn_bridge.config`) and its backups.
    pub state_dir: PathBuf,
    /// Listening TCP sockets already bound by the supervisor or by systemd
    /// socket activation. Matched to configured listeners by local port; a
    /// configured port with no inherited socket is bound by the worker itself.
    pub inherited: Vec<TcpListener>,
    /// Called once, as soon as at least one listener accepts connections.
    pub on_ready: Option<Box<dyn FnOnce(&ReadyInfo) + Send>>,
    /// Called once after the initial listeners are bound and before the first
    /// session is served; used to drop root privileges. An error aborts start-up.
    pub after_bind: Option<Box<dyn FnOnce() -> anyhow::Result<()> + Send>>,
}

/// Reported to [`WorkerOptions::on_ready`].
#[derive(Debug, Clone)]
pub struct ReadyInfo {
    /// Ports that are listening.
    pub listening: Vec<u16>,
    /// Ports that could not be bound, with the reason (retried in the background).
    pub failed: Vec<(u16, String)>,
}

/// Runs the worker until SIGTERM or SIGINT, then shuts down cleanly (stop
/// accepting, end sessions, save the configuration atomically) and returns.
///
/// Errors: the configuration cannot be loaded (the message names file and
/// line), or no listener at all could be bound.
pub fn run(opts: WorkerOptions) -> anyhow::Result<()> {
    let _ = opts;
    anyhow::bail!("worker not implemented yet")
}
