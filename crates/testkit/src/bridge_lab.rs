//! The cascade lab: a real vpnclient on a VPN Server reaches a LAN host that
//! sits behind a VPN Bridge, whose hub `BRIDGE` is joined to the server's
//! hub `DEFAULT` by a cascade connection and to the LAN by a local bridge.
//!
//! ```text
//!  netns c1                    netns srv                          netns brg                      netns lan
//!  eth0 10.231.0.11 --veth-- c1 [br0 10.231.0.1] brg --veth-- eth0 10.231.0.2
//!  vpn_vpn 192.168.231.11      VPN server :5555                   VPN Bridge :5555, hub BRIDGE
//!                              hub DEFAULT (users u1, casc)  <==  cascade casc1 (user casc)
//!                                                                 local bridge lanbr --veth-- eth0 192.168.231.100
//! ```
//!
//! Any server ([`ServerKind`]) with any bridge ([`BridgeKind`]). Frames from
//! the client go client → server hub → cascade → bridge hub → local bridge
//! → LAN and back. The namespaces have no default route.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::cascadecfg::{bridge_config, CascadeSpec};
use crate::client::{AccountSpec, VpnClient};
use crate::measure::wait_ping;
use crate::netns::Netns;
use crate::seconfig::{BridgeSpec, ServerConfigSpec, UserSpec};
use crate::server::{Server, ServerKind};
use crate::t1::{
    client_inner, client_underlay, HUB, INNER_PLEN, LAN_BRIDGE_DEV, LAN_INNER, PORT, SERVER_ADDR,
    UNDERLAY_PLEN,
};
use crate::tmp::TestDir;
use crate::vpnbridge::{BridgeKind, VpnBridge};

/// Underlay address of the bridge namespace.
pub const BRIDGE_ADDR: Ipv4Addr = Ipv4Addr::new(10, 231, 0, 2);
/// Name of the cascade on the bridge's hub.
pub const CASCADE_NAME: &str = "casc1";
/// Log line of our server/bridge when a cascade is established
/// (`crates/server/src/cascade.rs`).
pub const OURS_CASCADE_ESTABLISHED: &str = "the cascade connection is established";
/// Log line of our server/bridge when a cascade attempt starts.
pub const OURS_CASCADE_ATTEMPT: &str = "starting cascade connection: attempt";
/// Log line of our server/bridge when a cascade attempt failed.
pub const OURS_CASCADE_FAILED: &str = "cascade connection failed";
/// Log line of our server/bridge when an established cascade session ended.
pub const OURS_CASCADE_ENDED: &str = "the cascade session has ended";

/// The user the cascade logs in as on the server.
pub fn cascade_user() -> UserSpec {
    UserSpec::new("casc", "rt-pass-casc")
}

/// The user of the lab's vpnclient.
pub fn client_user() -> UserSpec {
    UserSpec::new("u1", "rt-pass-u1")
}

/// Settings of a cascade lab.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CascadeOptions {
    /// Client `AccountDetailSet /MAXTCP` (default 1; with QoS 2 connections).
    pub client_max_tcp: u8,
    /// The cascade's `MaxConnection` (default 8, SoftEther's default).
    pub cascade_max_connection: u32,
    /// The cascade's `RetryInterval` in seconds (default 10).
    pub retry_interval_secs: u32,
    /// How long to wait for the client session (default 60 s).
    pub connect_timeout: Duration,
}

impl Default for CascadeOptions {
    fn default() -> Self {
        CascadeOptions {
            client_max_tcp: 1,
            cascade_max_connection: 8,
            retry_interval_secs: 10,
            connect_timeout: Duration::from_secs(60),
        }
    }
}

/// Upper bound of one cascade connection attempt in the lab (connect, TLS,
/// login; a refused connection ends at once), for deadlines.
pub const CASCADE_ATTEMPT_BOUND: Duration = Duration::from_secs(30);

impl CascadeOptions {
    /// The configured `RetryInterval`.
    pub fn retry_interval(&self) -> Duration {
        Duration::from_secs(u64::from(self.retry_interval_secs))
    }

    /// Longest wait between a failed attempt and the next one: the retry
    /// interval + 20 % (our cascades wait the interval ± 20 %; SoftEther's
    /// wait the interval).
    pub fn max_retry_wait(&self) -> Duration {
        self.retry_interval() * 6 / 5
    }

    /// Deadline for one retry cycle to show its outcome: the longest wait
    /// plus one attempt ([`CASCADE_ATTEMPT_BOUND`]).
    pub fn retry_cycle_deadline(&self) -> Duration {
        self.max_retry_wait() + CASCADE_ATTEMPT_BOUND
    }

    /// Deadline for a cascade to be back once its server listens again:
    /// two retry cycles (an attempt that started just before the server
    /// listened fails and waits once more).
    pub fn reconnect_deadline(&self) -> Duration {
        self.retry_cycle_deadline() * 2
    }
}

/// The namespaces of the cascade lab (no processes).
#[derive(Debug)]
pub struct CascadeTopology {
    /// Client namespace: `eth0` = 10.231.0.11.
    pub client: Netns,
    /// LAN namespace: `eth0` = [`LAN_INNER`], veth peer [`LAN_BRIDGE_DEV`] in `bridge`.
    pub lan: Netns,
    /// Bridge namespace: `eth0` = [`BRIDGE_ADDR`], veth [`LAN_BRIDGE_DEV`] to the LAN.
    pub bridge: Netns,
    /// Server namespace: `br0` = [`SERVER_ADDR`].
    pub server: Netns,
}

impl CascadeTopology {
    /// Build all four namespaces and links; check the underlay with pings.
    ///
    /// Errors: any `ip` step, or the underlay does not answer.
    pub fn new() -> Result<CascadeTopology> {
        let server = Netns::new("srv")?;
        server.add_bridge("br0")?;
        server.add_addr("br0", SERVER_ADDR, UNDERLAY_PLEN)?;
        let client = Netns::new("c1")?;
        client.disable_ipv6()?;
        server.veth_to("c1", &client, "eth0")?;
        server.set_master("c1", "br0")?;
        client.add_addr("eth0", client_underlay(0), UNDERLAY_PLEN)?;
        let bridge = Netns::new("brg")?;
        bridge.disable_ipv6()?;
        server.veth_to("brg", &bridge, "eth0")?;
        server.set_master("brg", "br0")?;
        bridge.add_addr("eth0", BRIDGE_ADDR, UNDERLAY_PLEN)?;
        let lan = Netns::new("lan")?;
        lan.disable_ipv6()?;
        bridge.veth_to(LAN_BRIDGE_DEV, &lan, "eth0")?;
        lan.add_addr("eth0", LAN_INNER, INNER_PLEN)?;
        // Frames leave through a raw socket: real checksums, not offload placeholders.
        lan.tx_offload_off("eth0");
        bridge.tx_offload_off(LAN_BRIDGE_DEV);
        let t = CascadeTopology {
            client,
            lan,
            bridge,
            server,
        };
        for ns in [&t.client, &t.bridge] {
            wait_ping(ns, SERVER_ADDR, Duration::from_secs(10))
                .context("the underlay does not work")?;
        }
        Ok(t)
    }
}

/// A cascade lab (see the module docs). Dropping it stops the client, the
/// bridge, the server, then deletes the namespaces and (unless a test
/// failed) the working directory.
#[derive(Debug)]
pub struct CascadeLab {
    /// The real vpnclient, once started.
    pub client: Option<VpnClient>,
    /// The bridge, once started.
    pub bridge: Option<VpnBridge>,
    /// The server, once started.
    pub server: Option<Server>,
    /// Namespaces.
    pub topo: CascadeTopology,
    /// Options.
    pub opts: CascadeOptions,
    dir: TestDir,
}

/// Account name of the lab's client.
pub const ACCOUNT: &str = "casc-lab";

impl CascadeLab {
    /// Namespaces and working directory only.
    pub fn prepare(label: &str, opts: CascadeOptions) -> Result<CascadeLab> {
        let dir = TestDir::new(label)?;
        let topo = CascadeTopology::new()?;
        Ok(CascadeLab {
            client: None,
            bridge: None,
            server: None,
            topo,
            opts,
            dir,
        })
    }

    /// Everything: server `server`, bridge `bridge` (its cascade comes up),
    /// client connected, and one answered ping from the client to the LAN
    /// host through the cascade (at most 60 s).
    ///
    /// Errors: any step, with the log tails (the directory is then kept).
    pub fn start(
        label: &str,
        server: &ServerKind,
        bridge: &BridgeKind,
        opts: CascadeOptions,
    ) -> Result<CascadeLab> {
        let mut lab = CascadeLab::prepare(label, opts)?;
        let r = (|| -> Result<()> {
            lab.start_server(server)?;
            lab.start_bridge(bridge)?;
            lab.connect_client()?;
            lab.wait_lan_ping(Duration::from_secs(60))
        })();
        if let Err(e) = r {
            lab.keep_dir();
            bail!(
                "{:#}\n{}",
                e.context(format!(
                    "cascade lab ({} -> {}) setup failed",
                    bridge.label(),
                    server.label()
                )),
                lab.diagnostics()
            );
        }
        Ok(lab)
    }

    /// Working directory (logs in `logs/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Keep the working directory after the lab is dropped.
    pub fn keep_dir(&mut self) {
        self.dir.keep();
    }

    /// The server's configuration: listener [`PORT`], hub [`HUB`] with the
    /// client user and the cascade user.
    pub fn server_spec(&self) -> ServerConfigSpec {
        ServerConfigSpec::with_hub(PORT, HUB, &[client_user(), cascade_user()])
    }

    /// The bridge's cascade: [`CASCADE_NAME`] to [`SERVER_ADDR`]:[`PORT`],
    /// hub [`HUB`], as [`cascade_user`].
    pub fn cascade_spec(&self) -> CascadeSpec {
        let mut c = CascadeSpec::new(
            CASCADE_NAME,
            SocketAddrV4::new(SERVER_ADDR, PORT),
            HUB,
            &cascade_user(),
        );
        c.max_connection = self.opts.cascade_max_connection;
        c.retry_interval_secs = self.opts.retry_interval_secs;
        c
    }

    /// The bridge's `vpn_bridge.config`: hub BRIDGE, local bridge to the
    /// LAN veth (device mode), the cascade.
    ///
    /// Errors: rendering fails.
    pub fn bridge_config_text(&self) -> Result<String> {
        bridge_config(
            PORT,
            Some(BridgeSpec {
                device: LAN_BRIDGE_DEV.into(),
                tap_mode: false,
            }),
            &[self.cascade_spec()],
        )
    }

    /// Start (or restart, after stopping the running one) the server.
    pub fn start_server(&mut self, kind: &ServerKind) -> Result<()> {
        if let Some(mut s) = self.server.take() {
            s.stop()?;
        }
        let spec = self.server_spec();
        self.server = Some(Server::start(
            kind,
            &self.topo.server,
            SERVER_ADDR,
            PORT,
            self.dir.path(),
            &spec,
        )?);
        Ok(())
    }

    /// Stop the server (by its pid, SIGTERM then SIGKILL) and forget it.
    pub fn stop_server(&mut self) -> Result<()> {
        if let Some(mut s) = self.server.take() {
            s.stop()?;
        }
        Ok(())
    }

    /// Start (or restart) the bridge with [`CascadeLab::bridge_config_text`].
    pub fn start_bridge(&mut self, kind: &BridgeKind) -> Result<()> {
        if let Some(mut b) = self.bridge.take() {
            b.stop()?;
        }
        let text = self.bridge_config_text()?;
        self.bridge = Some(VpnBridge::start(
            kind,
            &self.topo.bridge,
            BRIDGE_ADDR,
            PORT,
            self.dir.path(),
            &text,
        )?);
        Ok(())
    }

    /// The running server.
    ///
    /// Errors: none started.
    pub fn server(&self) -> Result<&Server> {
        self.server.as_ref().context("no server started")
    }

    /// The running bridge.
    ///
    /// Errors: none started.
    pub fn bridge(&self) -> Result<&VpnBridge> {
        self.bridge.as_ref().context("no bridge started")
    }

    /// The running bridge, mutable.
    ///
    /// Errors: none started.
    pub fn bridge_mut(&mut self) -> Result<&mut VpnBridge> {
        self.bridge.as_mut().context("no bridge started")
    }

    /// Start the vpnclient, NIC `vpn` = 192.168.231.11/24, account
    /// [`ACCOUNT`] as [`client_user`] (not connected yet).
    pub fn start_client(&mut self) -> Result<()> {
        let ns = &self.topo.client;
        let c = VpnClient::start(ns, self.dir.path(), "client-c1")?;
        c.nic_create(ns, "vpn", Some((client_inner(0), INNER_PLEN)))?;
        let u = client_user();
        let mut a = AccountSpec::new(
            ACCOUNT,
            SocketAddrV4::new(SERVER_ADDR, PORT),
            HUB,
            &u.name,
            &u.password,
        );
        a.max_tcp = self.opts.client_max_tcp;
        c.account_create(&a)?;
        self.client = Some(c);
        Ok(())
    }

    /// Connect a fresh vpnclient (a running one is stopped first) and wait
    /// until its session is established.
    ///
    /// A fresh process each time: the real vpnclient 5.01 that reconnects
    /// the same account to a restarted real vpnserver closes its session
    /// right after the welcome (seen only with SoftEther's server).
    pub fn connect_client(&mut self) -> Result<()> {
        if let Some(c) = self.client.take() {
            let _ = c.disconnect(ACCOUNT);
            drop(c);
        }
        self.start_client()?;
        let timeout = self.opts.connect_timeout;
        let c = self.client.as_mut().context("no client started")?;
        c.connect(ACCOUNT)?;
        c.wait_established(ACCOUNT, timeout)?;
        Ok(())
    }

    /// Disconnect the client's account (no automatic retries afterwards),
    /// e.g. before the server is stopped on purpose.
    ///
    /// Errors: vpncmd fails.
    pub fn disconnect_client(&mut self) -> Result<()> {
        let c = self.client.as_mut().context("no client started")?;
        c.disconnect(ACCOUNT)
    }

    /// Inner address of the client.
    pub fn client_inner(&self) -> Ipv4Addr {
        client_inner(0)
    }

    /// Wait until the client can ping the LAN host, at most `timeout`.
    pub fn wait_lan_ping(&self, timeout: Duration) -> Result<()> {
        wait_ping(&self.topo.client, LAN_INNER, timeout)
            .context("the LAN host behind the VPN Bridge does not answer through the cascade")
    }

    /// Log tails of all programs, for failure messages.
    pub fn diagnostics(&self) -> String {
        let mut s = format!("---- working directory: {}\n", self.dir.path().display());
        if let Some(srv) = &self.server {
            s.push_str(&format!(
                "---- {} (pid {}) log tail:\n{}\n",
                srv.kind().label(),
                srv.pid(),
                srv.log_tail(30)
            ));
        }
        if let Some(b) = &self.bridge {
            s.push_str(&format!(
                "---- {} (pid {}) log tail:\n{}\n",
                b.kind().label(),
                b.pid(),
                b.log_tail(30)
            ));
            let se = b.softether_server_log();
            if !se.is_empty() {
                s.push_str(&format!(
                    "---- {} server_log tail:\n{}\n",
                    b.kind().label(),
                    crate::cmd::tail_lines(&se, 25)
                ));
            }
        }
        if let Some(c) = &self.client {
            s.push_str(&format!(
                "---- {} log tail:\n{}\n",
                c.label(),
                c.log_tail(15)
            ));
        }
        s
    }

    /// Run checks; on error panic with the error chain and the diagnostics
    /// (the working directory is then kept).
    pub fn check<T>(&mut self, f: impl FnOnce(&mut CascadeLab) -> Result<T>) -> T {
        match f(self) {
            Ok(v) => v,
            Err(e) => {
                let diag = self.diagnostics();
                panic!("{e:#}\n{diag}");
            }
        }
    }
}
