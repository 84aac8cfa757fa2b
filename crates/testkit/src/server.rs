//! The VPN server under test: ours or the real SoftEther vpnserver, started
//! the same way from the same SoftEther-format configuration file.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::netns::{netns_exec, Netns};
use crate::process::Proc;
use crate::seconfig::ServerConfigSpec;
use crate::softether::{program, require_programs, Sandbox};

/// Environment variable selecting the server for tests that run against
/// "the server under test": `softether` = the real SoftEther vpnserver,
/// anything else / unset = ours.
pub const SERVER_ENV: &str = "RUSTETHER_INTEROP_SERVER";

/// Which VPN server to run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerKind {
    /// Our `vpnserver` binary at this path, run as
    /// `vpnserver start --foreground --dir <state dir>`; it reads
    /// `<state dir>/vpn_server.config`.
    Ours(PathBuf),
    /// The installed SoftEther `vpnserver start --foreground` in a sandbox
    /// whose `/var/lib/softether/vpn_server.config` is the file we write.
    SoftEther,
}

impl ServerKind {
    /// Short label for results: `rustether` or `softether-vpnserver`.
    pub fn label(&self) -> &'static str {
        match self {
            ServerKind::Ours(_) => "rustether",
            ServerKind::SoftEther => "softether-vpnserver",
        }
    }

    /// `SoftEther` if `$RUSTETHER_INTEROP_SERVER` is `softether`, else `Ours(ours_bin)`.
    /// Lets the same test bodies prove the harness against the real server.
    pub fn from_env(ours_bin: impl Into<PathBuf>) -> ServerKind {
        match std::env::var(SERVER_ENV).as_deref() {
            Ok("softether") => ServerKind::SoftEther,
            _ => ServerKind::Ours(ours_bin.into()),
        }
    }
}

/// How long a server may take to open its port.
pub const SERVER_READY_TIMEOUT: Duration = Duration::from_secs(30);

/// A running VPN server (stopped on drop, see [`Proc`]).
#[derive(Debug)]
pub struct Server {
    proc: Proc,
    kind: ServerKind,
    ns: String,
    addr: Ipv4Addr,
    port: u16,
    config_path: PathBuf,
    admin_sandbox: Sandbox,
    log_dir: PathBuf,
}

impl Server {
    /// Write `spec` as the server's configuration, start the server in `ns`
    /// (state under `work/server`), and wait until TCP `port` listens.
    ///
    /// `addr` is the namespace address clients use; `port` must be one of
    /// `spec.ports`.
    ///
    /// Errors: the configuration cannot be written, the server cannot be
    /// started, exits, or does not listen within [`SERVER_READY_TIMEOUT`]
    /// (with the server's log tail).
    pub fn start(
        kind: &ServerKind,
        ns: &Netns,
        addr: Ipv4Addr,
        port: u16,
        work: &Path,
        spec: &ServerConfigSpec,
    ) -> Result<Server> {
        let text = spec.render()?;
        Self::start_with_config_text(kind, ns, addr, port, work, text.as_bytes())
    }

    /// As [`Server::start`], with the configuration file copied from `config_file`
    /// (e.g. one saved by the real SoftEther server).
    pub fn start_with_config_file(
        kind: &ServerKind,
        ns: &Netns,
        addr: Ipv4Addr,
        port: u16,
        work: &Path,
        config_file: &Path,
    ) -> Result<Server> {
        let bytes = std::fs::read(config_file)
            .with_context(|| format!("cannot read {}", config_file.display()))?;
        Self::start_with_config_text(kind, ns, addr, port, work, &bytes)
    }

    fn start_with_config_text(
        kind: &ServerKind,
        ns: &Netns,
        addr: Ipv4Addr,
        port: u16,
        work: &Path,
        config: &[u8],
    ) -> Result<Server> {
        let log_dir = work.join("logs");
        let base = work.join(format!("server-{}", kind.label()));
        let admin_sandbox = Sandbox::new(&work.join("vpncmd-server"))?;
        let (cmd, config_path) = match kind {
            ServerKind::Ours(bin) => {
                if !bin.is_file() {
                    bail!("our server binary {} does not exist", bin.display());
                }
                let state = base.join("state");
                std::fs::create_dir_all(&state)?;
                let cfg = state.join("vpn_server.config");
                let state_s = state.to_string_lossy().into_owned();
                let c = netns_exec(
                    ns.name(),
                    bin,
                    &["start", "--foreground", "--dir", &state_s],
                );
                (c, cfg)
            }
            ServerKind::SoftEther => {
                require_programs(&["vpnserver"])?;
                let sb = Sandbox::new(&base)?;
                let cfg = sb.lib_dir().join("vpn_server.config");
                let c = sb.command(ns.name(), &program("vpnserver"), &["start", "--foreground"]);
                (c, cfg)
            }
        };
        let proc = launch_listening(
            ns,
            &format!("server-{}", kind.label()),
            kind.label(),
            cmd,
            (&config_path, config),
            &log_dir,
            port,
            SERVER_READY_TIMEOUT,
        )?;
        Ok(Server {
            proc,
            kind: kind.clone(),
            ns: ns.name().to_string(),
            addr,
            port,
            config_path,
            admin_sandbox,
            log_dir,
        })
    }

    /// Which server this is.
    pub fn kind(&self) -> &ServerKind {
        &self.kind
    }

    /// Address clients connect to.
    pub fn addr(&self) -> Ipv4Addr {
        self.addr
    }

    /// TCP port clients connect to.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Process id (= process group id) of the server.
    pub fn pid(&self) -> i32 {
        self.proc.pid()
    }

    /// The configuration file the server reads and saves.
    pub fn config_path(&self) -> &Path {
        &self.config_path
    }

    /// Directory with the server's stdout/stderr log.
    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// Last `n` lines of the server's stdout/stderr.
    pub fn log_tail(&self, n: usize) -> String {
        self.proc.log_tail(n)
    }

    /// `Ok` while the server runs; else an error with its log tail.
    pub fn ensure_running(&mut self) -> Result<()> {
        self.proc.ensure_running()
    }

    /// Stop the server (SIGTERM, bounded wait, SIGKILL).
    ///
    /// Errors: it could not be reaped.
    pub fn stop(&mut self) -> Result<()> {
        self.proc.stop().map(drop)
    }

    /// Run the real `vpncmd <addr>:<port> /SERVER [/PASSWORD:pw] [/ADMINHUB:hub] /CMD args...`
    /// in the server's namespace (empty admin password unless given).
    /// Returns vpncmd's output.
    ///
    /// Errors: vpncmd fails or times out (30 s), with its output.
    pub fn vpncmd(
        &self,
        password: Option<&str>,
        hub: Option<&str>,
        args: &[&str],
    ) -> Result<String> {
        require_programs(&["vpncmd"])?;
        let target = format!("{}:{}", self.addr, self.port);
        let mut full: Vec<String> = vec![target, "/SERVER".into()];
        if let Some(p) = password {
            full.push(format!("/PASSWORD:{p}"));
        }
        if let Some(h) = hub {
            full.push(format!("/ADMINHUB:{h}"));
        }
        full.push("/CMD".into());
        full.extend(args.iter().map(|s| s.to_string()));
        let refs: Vec<&str> = full.iter().map(|s| s.as_str()).collect();
        self.admin_sandbox.vpncmd(
            &self.ns,
            &refs,
            "server",
            &args.join(" "),
            Duration::from_secs(30),
        )
    }
}

/// Writes `config` (mode 0600), starts `cmd` as a [`Proc`] named `name`,
/// and waits until it listens on TCP `port` inside `ns`. A failure carries
/// the program's last log lines. Shared by VPN Server and VPN Bridge starts.
#[allow(clippy::too_many_arguments)]
pub(crate) fn launch_listening(
    ns: &Netns,
    name: &str,
    label: &str,
    cmd: std::process::Command,
    (config_path, config): (&Path, &[u8]),
    log_dir: &Path,
    port: u16,
    timeout: Duration,
) -> Result<Proc> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(config_path, config)
        .with_context(|| format!("cannot write {}", config_path.display()))?;
    std::fs::set_permissions(config_path, std::fs::Permissions::from_mode(0o600))?;
    let mut proc = Proc::spawn(name, cmd, log_dir)?;
    if let Err(e) = ns.wait_tcp_listening(port, timeout, || proc.ensure_running()) {
        // An exit error already carries the log tail; a timeout does not.
        if proc.is_running() {
            bail!(
                "{label} did not come up: {e:#}; last log lines:\n{}",
                proc.log_tail(30)
            );
        }
        bail!("{label} did not come up: {e:#}");
    }
    Ok(proc)
}
