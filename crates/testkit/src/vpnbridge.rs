//! The VPN Bridge under test: our `vpnbridge` or the real SoftEther
//! vpnbridge, started the same way from the same SoftEther-format
//! `vpn_bridge.config` (see [`crate::cascadecfg::bridge_config`]).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::cmd::tail_lines;
use crate::netns::{netns_exec, Netns};
use crate::process::Proc;
use crate::softether::{program, require_programs, Sandbox};

/// Which VPN Bridge to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BridgeKind {
    /// Our `vpnbridge` binary at this path, run as
    /// `vpnbridge start --foreground --dir <state dir>`; it reads
    /// `<state dir>/vpn_bridge.config` and logs to stderr.
    Ours(PathBuf),
    /// The installed SoftEther `vpnbridge start --foreground` in a sandbox
    /// whose `/var/lib/softether/vpn_bridge.config` is the file we write.
    SoftEther,
}

impl BridgeKind {
    /// Short label for results: `rustether-bridge` or `softether-vpnbridge`.
    pub fn label(&self) -> &'static str {
        match self {
            BridgeKind::Ours(_) => "rustether-bridge",
            BridgeKind::SoftEther => "softether-vpnbridge",
        }
    }
}

/// How long a bridge may take to open its port.
pub const BRIDGE_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running VPN Bridge (stopped on drop, see [`Proc`]).
#[derive(Debug)]
pub struct VpnBridge {
    proc: Proc,
    kind: BridgeKind,
    ns: String,
    addr: Ipv4Addr,
    port: u16,
    config_path: PathBuf,
    softether_log_dir: Option<PathBuf>,
    admin_sandbox: Sandbox,
}

impl VpnBridge {
    /// Write `config` as the bridge's `vpn_bridge.config`, start the bridge
    /// in `ns` (state under `work/bridge-<label>`, stdout/stderr in
    /// `work/logs/bridge-<label>.log`), and wait until TCP `port` listens.
    /// `addr` is the bridge's address in `ns` (for vpncmd).
    ///
    /// Errors: the file cannot be written, the program is missing, exits, or
    /// does not listen within [`BRIDGE_READY_TIMEOUT`] (with its log tail).
    pub fn start(
        kind: &BridgeKind,
        ns: &Netns,
        addr: Ipv4Addr,
        port: u16,
        work: &Path,
        config: &str,
    ) -> Result<VpnBridge> {
        let log_dir = work.join("logs");
        let base = work.join(format!("bridge-{}", kind.label()));
        let admin_sandbox = Sandbox::new(&work.join("vpncmd-bridge"))?;
        let (cmd, config_path, se_logs) = match kind {
            BridgeKind::Ours(bin) => {
                if !bin.is_file() {
                    bail!("our bridge binary {} does not exist", bin.display());
                }
                let state = base.join("state");
                std::fs::create_dir_all(&state)?;
                let state_s = state.to_string_lossy().into_owned();
                let c = netns_exec(
                    ns.name(),
                    bin,
                    &["start", "--foreground", "--dir", &state_s],
                );
                (c, state.join("vpn_bridge.config"), None)
            }
            BridgeKind::SoftEther => {
                require_programs(&["vpnbridge"])?;
                let sb = Sandbox::new(&base)?;
                let c = sb.command(ns.name(), &program("vpnbridge"), &["start", "--foreground"]);
                (
                    c,
                    sb.lib_dir().join("vpn_bridge.config"),
                    Some(sb.log_dir()),
                )
            }
        };
        let proc = crate::server::launch_listening(
            ns,
            &format!("bridge-{}", kind.label()),
            kind.label(),
            cmd,
            (&config_path, config.as_bytes()),
            &log_dir,
            port,
            BRIDGE_READY_TIMEOUT,
        )?;
        Ok(VpnBridge {
            proc,
            kind: kind.clone(),
            ns: ns.name().to_string(),
            addr,
            port,
            config_path,
            softether_log_dir: se_logs,
            admin_sandbox,
        })
    }

    /// Which bridge this is.
    pub fn kind(&self) -> &BridgeKind {
        &self.kind
    }

    /// Process id (= process group id).
    pub fn pid(&self) -> i32 {
        self.proc.pid()
    }

    /// The configuration file the bridge reads and saves.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Last `n` lines of the bridge's stdout/stderr (ours logs there).
    pub fn log_tail(&self, n: usize) -> String {
        self.proc.log_tail(n)
    }

    /// Current length of the stdout/stderr log (an offset for [`VpnBridge::log_since`]).
    pub fn log_len(&self) -> u64 {
        self.proc.log_len()
    }

    /// stdout/stderr text written since byte `offset`.
    pub fn log_since(&self, offset: u64) -> String {
        self.proc.log_since(offset)
    }

    /// The real SoftEther bridge's own server log (`server_log/*.log`, all
    /// files concatenated in name order); empty for ours.
    pub fn softether_server_log(&self) -> String {
        let Some(d) = &self.softether_log_dir else {
            return String::new();
        };
        let mut files: Vec<PathBuf> = std::fs::read_dir(d.join("server_log"))
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        files
            .iter()
            .map(|f| crate::process::read_file_tail(f, 1 << 20))
            .collect()
    }

    /// `Ok` while the bridge runs; else an error with its log tail.
    pub fn ensure_running(&mut self) -> Result<()> {
        self.proc.ensure_running()
    }

    /// Stop the bridge (SIGTERM, bounded wait, SIGKILL).
    ///
    /// Errors: it could not be reaped.
    pub fn stop(&mut self) -> Result<()> {
        self.proc.stop().map(drop)
    }

    /// Wait until a line containing `needle` appears in the stdout/stderr log
    /// after byte `offset`, at most `timeout`. Returns the time it took.
    ///
    /// Errors: timeout or the bridge exited (with the log since `offset`).
    pub fn wait_log(&mut self, offset: u64, needle: &str, timeout: Duration) -> Result<Duration> {
        let t0 = Instant::now();
        loop {
            if self.log_since(offset).contains(needle) {
                return Ok(t0.elapsed());
            }
            self.proc.ensure_running()?;
            if t0.elapsed() >= timeout {
                bail!(
                    "{}: no log line containing {needle:?} within {timeout:?}; log since then:\n{}",
                    self.kind.label(),
                    tail_lines(&self.log_since(offset), 25)
                );
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// Run the real `vpncmd <addr>:<port> /SERVER /ADMINHUB:BRIDGE /CMD args...`
    /// (empty admin password) in the bridge's namespace; returns its output.
    ///
    /// Errors: vpncmd fails or times out (30 s), with its output.
    pub fn vpncmd(&self, args: &[&str]) -> Result<String> {
        require_programs(&["vpncmd"])?;
        let target = format!("{}:{}", self.addr, self.port);
        let mut full: Vec<&str> = vec![&target, "/SERVER", "/ADMINHUB:BRIDGE", "/CMD"];
        full.extend_from_slice(args);
        self.admin_sandbox.vpncmd(
            &self.ns,
            &full,
            "bridge",
            &args.join(" "),
            Duration::from_secs(30),
        )
    }

    /// Status column of cascade `name` in `vpncmd CascadeList` (e.g.
    /// `Online (Established)`, `Connecting`, `Error 1: ...`).
    ///
    /// Errors: vpncmd fails or the cascade is not listed.
    pub fn cascade_status(&self, name: &str) -> Result<String> {
        let out = self.vpncmd(&["CascadeList"])?;
        parse_cascade_list_status(&out, name).with_context(|| {
            format!(
                "cascade {name:?} not in CascadeList:\n{}",
                tail_lines(&out, 12)
            )
        })
    }
}

/// Status of cascade `name` from `vpncmd CascadeList` output. vpncmd prints
/// one `Item |Value` block per cascade (`Setting Name`, `Status`, …);
/// the status is the `Status` item following `Setting Name |<name>`.
///
/// Errors: no block for `name`.
pub fn parse_cascade_list_status(out: &str, name: &str) -> Result<String> {
    let items = crate::softether::parse_table(out);
    let mut in_block = false;
    for (k, v) in &items {
        if k == "Setting Name" {
            in_block = v.eq_ignore_ascii_case(name);
        } else if in_block && k == "Status" {
            return Ok(v.clone());
        }
    }
    // Horizontal table form: `name |status |...`.
    for line in out.lines() {
        let cols: Vec<&str> = line.split('|').map(str::trim).collect();
        if cols.len() >= 2 && cols[0].eq_ignore_ascii_case(name) {
            return Ok(cols[1].to_string());
        }
    }
    bail!("no cascade {name:?} in the list")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `vpncmd /ADMINHUB:BRIDGE /CMD CascadeList` as printed by the real
    /// vpnbridge 5.01 build 9674 (captured in the cascade lab).
    const CASCADE_LIST: &str = "VPN Server/BRIDGE>CascadeList\n\
        CascadeList command - Get List of Cascade Connections\n\
        Item                  |Value\n\
        ----------------------+-------------------------\n\
        Setting Name          |casc1\n\
        Status                |Online (Established)\n\
        Established at        |2026-11-22 (Sun) 04:30:56\n\
        Destination VPN Server|10.231.0.1\n\
        Virtual Hub           |\n\
        ----------------------+-------------------------\n\
        Setting Name          |other\n\
        Status                |Error 1: Connection to the server failed.\n\
        The command completed successfully.\n";

    #[test]
    fn cascade_status_from_real_vpncmd_output() {
        assert_eq!(
            parse_cascade_list_status(CASCADE_LIST, "casc1").unwrap(),
            "Online (Established)"
        );
        assert_eq!(
            parse_cascade_list_status(CASCADE_LIST, "OTHER").unwrap(),
            "Error 1: Connection to the server failed."
        );
        assert!(parse_cascade_list_status(CASCADE_LIST, "nosuch").is_err());
    }

    #[test]
    fn cascade_status_from_a_horizontal_table() {
        let t = "Setting Name|Status              |Established at\n\
                 ------------+--------------------+--------------\n\
                 casc1       |Connecting          |-\n";
        assert_eq!(parse_cascade_list_status(t, "casc1").unwrap(), "Connecting");
    }
}
