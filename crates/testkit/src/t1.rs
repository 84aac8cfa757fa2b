//! The T1 topology: VPN server in one namespace, real vpnclients in others,
//! client-to-client traffic through the server's virtual hub.
//!
//! ```text
//!  netns c1                      netns srv                        netns c2
//!  eth0 10.231.0.11/24 ---veth--- c1 [br0 10.231.0.1/24] c2 ---veth--- eth0 10.231.0.12/24
//!  vpn_vpn 192.168.231.11/24      VPN server TCP :5555, hub DEFAULT  vpn_vpn 192.168.231.12/24
//!                                 lanbr ---veth--- netns lan: eth0 192.168.231.100/24 (optional)
//! ```
//!
//! The namespaces have no default route; nothing can reach outside them.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};

use crate::client::{AccountSpec, AccountStatus, VpnClient};
use crate::measure::wait_ping;
use crate::netns::Netns;
use crate::seconfig::{ServerConfigSpec, UserSpec};
use crate::server::{Server, ServerKind};
use crate::tmp::TestDir;

/// Server address on the underlay bridge.
pub const SERVER_ADDR: Ipv4Addr = Ipv4Addr::new(10, 231, 0, 1);
/// Prefix length of the underlay.
pub const UNDERLAY_PLEN: u8 = 24;
/// Prefix length of the inner (VPN) network.
pub const INNER_PLEN: u8 = 24;
/// Inner address of the LAN host behind the (optional) local bridge.
pub const LAN_INNER: Ipv4Addr = Ipv4Addr::new(192, 168, 231, 100);
/// Name of the veth end in the server namespace that leads to the LAN namespace.
pub const LAN_BRIDGE_DEV: &str = "lanbr";
/// TCP port the server listens on in tests.
pub const PORT: u16 = 5555;
/// Hub the clients join.
pub const HUB: &str = "DEFAULT";
/// Maximum number of client namespaces.
pub const MAX_CLIENTS: usize = 8;

/// Underlay address of client `i` (0-based): 10.231.0.(11+i).
pub fn client_underlay(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(10, 231, 0, 11 + i as u8)
}

/// Inner (VPN) address of client `i` (0-based): 192.168.231.(11+i).
pub fn client_inner(i: usize) -> Ipv4Addr {
    Ipv4Addr::new(192, 168, 231, 11 + i as u8)
}

/// User `i` (0-based) of the default setup: `u<i+1>` / `rt-pass-u<i+1>`.
pub fn default_user(i: usize) -> UserSpec {
    UserSpec::new(&format!("u{}", i + 1), &format!("rt-pass-u{}", i + 1))
}

/// Namespaces and links of the T1 topology (no processes).
#[derive(Debug)]
pub struct Topology {
    /// Client namespaces, `eth0` = [`client_underlay`]`(i)`.
    pub clients: Vec<Netns>,
    /// Optional LAN namespace, `eth0` = [`LAN_INNER`], linked to [`LAN_BRIDGE_DEV`] in the server namespace.
    pub lan: Option<Netns>,
    /// Server namespace with bridge `br0` = [`SERVER_ADDR`].
    pub server: Netns,
}

impl Topology {
    /// Build the server namespace, `n_clients` client namespaces, and the LAN
    /// namespace if `lan`; check the underlay with a ping from each client.
    ///
    /// Errors: `n_clients` > [`MAX_CLIENTS`], or any `ip` step fails.
    pub fn new(n_clients: usize, lan: bool) -> Result<Topology> {
        ensure!(n_clients <= MAX_CLIENTS, "at most {MAX_CLIENTS} clients");
        let server = Netns::new("srv")?;
        server.add_bridge("br0")?;
        server.add_addr("br0", SERVER_ADDR, UNDERLAY_PLEN)?;
        let mut clients = Vec::new();
        for i in 0..n_clients {
            let ns = Netns::new(&format!("c{}", i + 1))?;
            ns.disable_ipv6()?;
            let port = format!("c{}", i + 1);
            server.veth_to(&port, &ns, "eth0")?;
            server.set_master(&port, "br0")?;
            ns.add_addr("eth0", client_underlay(i), UNDERLAY_PLEN)?;
            clients.push(ns);
        }
        let lan = if lan {
            let ns = Netns::new("lan")?;
            ns.disable_ipv6()?;
            server.veth_to(LAN_BRIDGE_DEV, &ns, "eth0")?;
            ns.add_addr("eth0", LAN_INNER, INNER_PLEN)?;
            // Frames leave through a raw socket/tap: real checksums, not offload placeholders.
            ns.tx_offload_off("eth0");
            server.tx_offload_off(LAN_BRIDGE_DEV);
            Some(ns)
        } else {
            None
        };
        let topo = Topology {
            clients,
            lan,
            server,
        };
        for ns in &topo.clients {
            wait_ping(ns, SERVER_ADDR, Duration::from_secs(10))
                .context("the underlay does not work")?;
        }
        Ok(topo)
    }
}

/// Client settings for a T1 setup.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct T1Options {
    /// Number of client namespaces (default 2).
    pub n_clients: usize,
    /// Also build the LAN namespace (default false).
    pub lan: bool,
    /// `AccountDetailSet /MAXTCP` (default 1).
    pub max_tcp: u8,
    /// QoS (default true, as vpncmd creates accounts).
    pub qos: bool,
    /// Encryption (default true).
    pub encrypt: bool,
    /// UDP acceleration (default false: TCP-only sessions).
    pub udp_accel: bool,
    /// Compression (default false).
    pub compress: bool,
    /// How long to wait for "Session Established" (default 60 s).
    pub connect_timeout: Duration,
}

impl Default for T1Options {
    fn default() -> Self {
        T1Options {
            n_clients: 2,
            lan: false,
            max_tcp: 1,
            qos: true,
            encrypt: true,
            udp_accel: false,
            compress: false,
            connect_timeout: Duration::from_secs(60),
        }
    }
}

/// One vpnclient of the lab with its namespace index and inner address.
#[derive(Debug)]
pub struct LabClient {
    /// The running client.
    pub client: VpnClient,
    /// Index into [`Topology::clients`].
    pub index: usize,
    /// Inner address given to its `vpn_vpn` device.
    pub inner: Ipv4Addr,
    /// The account name used by [`T1Lab::connect_all`] (`t1`).
    pub account: String,
}

/// A T1 lab: topology, a server, clients. Dropping it stops the clients,
/// then the server, then deletes the namespaces, then (unless a test failed)
/// the working directory.
#[derive(Debug)]
pub struct T1Lab {
    /// Running clients (stopped first).
    pub clients: Vec<LabClient>,
    /// The server, once started.
    pub server: Option<Server>,
    /// Namespaces.
    pub topo: Topology,
    /// Users provisioned by [`T1Lab::start_server`].
    pub users: Vec<UserSpec>,
    /// Options.
    pub opts: T1Options,
    dir: TestDir,
}

impl T1Lab {
    /// Topology and working directory only (`label` names the directory).
    pub fn prepare(label: &str, opts: T1Options) -> Result<T1Lab> {
        let dir = TestDir::new(label)?;
        let topo = Topology::new(opts.n_clients, opts.lan)?;
        let users = (0..opts.n_clients.max(2)).map(default_user).collect();
        Ok(T1Lab {
            clients: Vec::new(),
            server: None,
            topo,
            users,
            opts,
            dir,
        })
    }

    /// Full T1 setup: [`T1Lab::prepare`], [`T1Lab::start_server`] (hub DEFAULT
    /// with users u1..), [`T1Lab::start_clients`], [`T1Lab::connect_all`], and
    /// one successful ping from client 0 to client 1.
    ///
    /// Errors: any step; the error carries the relevant log tails.
    pub fn start(label: &str, kind: &ServerKind, opts: T1Options) -> Result<T1Lab> {
        let mut lab = T1Lab::prepare(label, opts)?;
        let r = (|| -> Result<()> {
            lab.start_server(kind)?;
            lab.start_clients()?;
            lab.connect_all()?;
            if lab.clients.len() >= 2 {
                lab.wait_inner_ping(0, 1, Duration::from_secs(20))?;
            }
            Ok(())
        })();
        if let Err(e) = r {
            // The message points at the logs: keep them.
            lab.keep_dir();
            let e = e.context(format!("T1 setup with {} failed", kind.label()));
            bail!("{e:#}\n{}", lab.diagnostics());
        }
        Ok(lab)
    }

    /// Working directory (logs in `logs/`).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Working directory as an owned path.
    pub fn dir_buf(&self) -> PathBuf {
        self.dir.path().to_path_buf()
    }

    /// Keep the working directory after the lab is dropped.
    pub fn keep_dir(&mut self) {
        self.dir.keep();
    }

    /// The server's configuration for this lab: listener [`PORT`], hub [`HUB`]
    /// with [`T1Lab::users`], and the LAN bridge if the topology has one.
    pub fn config_spec(&self) -> ServerConfigSpec {
        let mut spec = ServerConfigSpec::with_hub(PORT, HUB, &self.users);
        if self.topo.lan.is_some() {
            spec.hubs[0].bridge = Some(crate::seconfig::BridgeSpec {
                device: LAN_BRIDGE_DEV.into(),
                tap_mode: false,
            });
        }
        spec
    }

    /// Start `kind` in the server namespace with [`T1Lab::config_spec`].
    pub fn start_server(&mut self, kind: &ServerKind) -> Result<()> {
        let spec = self.config_spec();
        self.start_server_with(kind, |ns, dir| {
            Server::start(kind, ns, SERVER_ADDR, PORT, dir, &spec)
        })
    }

    /// Start `kind` with a given configuration file (copied).
    pub fn start_server_with_file(&mut self, kind: &ServerKind, file: &Path) -> Result<()> {
        self.start_server_with(kind, |ns, dir| {
            Server::start_with_config_file(kind, ns, SERVER_ADDR, PORT, dir, file)
        })
    }

    fn start_server_with(
        &mut self,
        _kind: &ServerKind,
        f: impl FnOnce(&Netns, &Path) -> Result<Server>,
    ) -> Result<()> {
        if let Some(mut old) = self.server.take() {
            old.stop()?;
        }
        self.server = Some(f(&self.topo.server, self.dir.path())?);
        Ok(())
    }

    /// The running server.
    ///
    /// Errors: none started.
    pub fn server(&self) -> Result<&Server> {
        self.server
            .as_ref()
            .ok_or_else(|| anyhow::anyhow!("no server started"))
    }

    /// Stop the server (e.g. to restart another one on its saved file).
    pub fn stop_server(&mut self) -> Result<()> {
        if let Some(mut s) = self.server.take() {
            s.stop()?;
        }
        Ok(())
    }

    /// Start a vpnclient in every client namespace, create NIC `vpn` with the
    /// client's inner address. Does not create accounts.
    pub fn start_clients(&mut self) -> Result<()> {
        for i in self.clients.len()..self.topo.clients.len() {
            let ns = &self.topo.clients[i];
            let label = format!("client-c{}", i + 1);
            let client = VpnClient::start(ns, self.dir.path(), &label)?;
            client.nic_create(ns, "vpn", Some((client_inner(i), INNER_PLEN)))?;
            self.clients.push(LabClient {
                client,
                index: i,
                inner: client_inner(i),
                account: "t1".into(),
            });
        }
        Ok(())
    }

    /// Account settings for client `i` as user `users[i]` with the lab options.
    pub fn account_spec(&self, i: usize) -> AccountSpec {
        let u = &self.users[i % self.users.len()];
        let mut a = AccountSpec::new(
            "t1",
            SocketAddrV4::new(SERVER_ADDR, PORT),
            HUB,
            &u.name,
            &u.password,
        );
        a.max_tcp = self.opts.max_tcp;
        a.qos = self.opts.qos;
        a.encrypt = self.opts.encrypt;
        a.udp_accel = self.opts.udp_accel;
        a.compress = self.opts.compress;
        a
    }

    /// Create account `t1` on every client (user i), connect them all, and
    /// wait until each is established.
    pub fn connect_all(&mut self) -> Result<Vec<AccountStatus>> {
        for i in 0..self.clients.len() {
            let spec = self.account_spec(i);
            let c = &self.clients[i].client;
            c.account_create(&spec)?;
            c.connect(&spec.name)?;
        }
        let timeout = self.opts.connect_timeout;
        let mut out = Vec::new();
        for lc in &mut self.clients {
            out.push(lc.client.wait_established(&lc.account, timeout)?);
        }
        Ok(out)
    }

    /// TCP connections per session the clients should end up with: MAXTCP,
    /// but at least 2 with QoS on (SoftEther's rule, see the protocol notes).
    pub fn expected_tcp_connections(&self) -> u32 {
        let m = u32::from(self.opts.max_tcp);
        if self.opts.qos {
            m.max(2)
        } else {
            m
        }
    }

    /// Wait until lab client `i` reports `n` TCP connections (vpnclient adds
    /// the additional connections about one per second once the session is
    /// up), at most `timeout`. Returns its status.
    ///
    /// Errors: timeout (with the last count) or vpncmd failure.
    pub fn wait_tcp_connections(
        &self,
        i: usize,
        n: u32,
        timeout: Duration,
    ) -> Result<AccountStatus> {
        let c = &self.clients[i];
        let deadline = std::time::Instant::now() + timeout;
        loop {
            let st = c.client.status(&c.account)?;
            let have = st.tcp_connections();
            if have == Some(n) {
                return Ok(st);
            }
            if std::time::Instant::now() >= deadline {
                bail!(
                    "{}: expected {n} TCP connections within {timeout:?}, the client reports {have:?}",
                    c.client.label()
                );
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    }

    /// Wait until client `from` can ping client `to`'s inner address.
    pub fn wait_inner_ping(&self, from: usize, to: usize, timeout: Duration) -> Result<()> {
        let to_addr = self.clients[to].inner;
        wait_ping(
            &self.topo.clients[self.clients[from].index],
            to_addr,
            timeout,
        )
        .context("no connectivity between the clients through the hub")
    }

    /// Namespace of lab client `i`.
    pub fn client_ns(&self, i: usize) -> &Netns {
        &self.topo.clients[self.clients[i].index]
    }

    /// Log tails of the server and all clients, for failure messages.
    pub fn diagnostics(&self) -> String {
        let mut s = format!("---- working directory: {}\n", self.dir.path().display());
        if let Some(srv) = &self.server {
            s.push_str(&format!(
                "---- {} (pid {}) log tail:\n{}\n",
                srv.kind().label(),
                srv.pid(),
                srv.log_tail(40)
            ));
        }
        for c in &self.clients {
            s.push_str(&format!(
                "---- {} log tail:\n{}\n",
                c.client.label(),
                c.client.log_tail(15)
            ));
        }
        s
    }

    /// Run test checks; on error, panic with the error chain and
    /// [`T1Lab::diagnostics`] (the working directory is then kept).
    pub fn check<T>(&mut self, f: impl FnOnce(&mut T1Lab) -> Result<T>) -> T {
        match f(self) {
            Ok(v) => v,
            Err(e) => {
                let diag = self.diagnostics();
                panic!("{e:#}\n{diag}");
            }
        }
    }
}
