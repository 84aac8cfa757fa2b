//! The T2 lab: a real vpnclient reaches a host on a "LAN" that the server's
//! virtual hub is joined to by a local bridge, in device mode (AF_PACKET on
//! a veth) or TAP mode (the server creates `tap_<name>`; the lab puts it and
//! the veth into a Linux bridge), as `lab-up.sh` sets it up.
//!
//! ```text
//!  netns c1                      netns srv                           netns lan
//!  eth0 10.231.0.11 ---veth---- c1 [br0 10.231.0.1]                 eth0 192.168.231.100
//!  vpn_vpn 192.168.231.11        VPN server :5555, hub DEFAULT          |
//!                                 local bridge: device  lanbr ---veth---+
//!                                           or: tap_lanbr + lanbr in Linux bridge lanbr0
//! ```
//!
//! Built on [`T1Lab`] (one client, the LAN namespace). The namespaces have no
//! default route.

use std::net::Ipv4Addr;
use std::time::Duration;

use anyhow::{bail, Context, Result};

use crate::cmd::wait_until;
use crate::measure::wait_ping;
use crate::netns::Netns;
use crate::seconfig::{BridgeSpec, ServerConfigSpec};
use crate::server::ServerKind;
use crate::t1::{T1Lab, T1Options, LAN_BRIDGE_DEV, LAN_INNER};

/// Linux bridge in the server namespace that joins `tap_lanbr` and the veth
/// in TAP mode.
pub const LAN_LINUX_BRIDGE: &str = "lanbr0";

/// How the hub is joined to the LAN.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BridgeMode {
    /// The server opens the veth [`LAN_BRIDGE_DEV`] with a raw socket.
    Device,
    /// The server creates [`tap_name`]`(LAN_BRIDGE_DEV)`; the lab joins it
    /// and the veth in [`LAN_LINUX_BRIDGE`].
    Tap,
}

impl BridgeMode {
    /// `device` or `tap` (the lab's `BRIDGE_MODE`).
    pub fn name(self) -> &'static str {
        match self {
            BridgeMode::Device => "device",
            BridgeMode::Tap => "tap",
        }
    }
}

/// The kernel name of the TAP device SoftEther creates for local bridge
/// `device`: `tap_` + lower-cased name, at most 15 characters
/// (docs/process-model.md §9.5).
pub fn tap_name(device: &str) -> String {
    let mut n = format!("tap_{}", device.trim().to_ascii_lowercase());
    n.truncate(crate::netns::IFNAME_MAX);
    n
}

/// A T2 lab (see the module docs). Dropping it stops the client, the
/// server, then deletes the namespaces.
#[derive(Debug)]
pub struct T2Lab {
    /// The underlying T1 lab (one client, LAN namespace).
    pub lab: T1Lab,
    mode: Option<BridgeMode>,
    connected: bool,
}

impl T2Lab {
    /// Namespaces only (one client unless `opts.n_clients` says more; the LAN
    /// namespace is always built).
    ///
    /// Errors: the topology cannot be built.
    pub fn prepare(label: &str, opts: T1Options) -> Result<T2Lab> {
        let opts = T1Options {
            n_clients: opts.n_clients.max(1),
            lan: true,
            ..opts
        };
        Ok(T2Lab {
            lab: T1Lab::prepare(label, opts)?,
            mode: None,
            connected: false,
        })
    }

    /// [`T2Lab::prepare`], [`T2Lab::start_server`], [`T2Lab::connect`] and
    /// one answered ping from client 0 to the LAN host.
    ///
    /// Errors: any step, with the log tails.
    pub fn start(
        label: &str,
        kind: &ServerKind,
        mode: BridgeMode,
        opts: T1Options,
    ) -> Result<T2Lab> {
        let mut lab = T2Lab::prepare(label, opts)?;
        let r = (|| -> Result<()> {
            lab.start_server(kind, mode)?;
            lab.connect()?;
            lab.wait_lan_ping(Duration::from_secs(30))
        })();
        if let Err(e) = r {
            lab.lab.keep_dir();
            bail!(
                "{:#}\n{}",
                e.context(format!(
                    "T2 ({}) setup with {} failed",
                    mode.name(),
                    kind.label()
                )),
                lab.diagnostics()
            );
        }
        Ok(lab)
    }

    /// The server namespace.
    pub fn server_ns(&self) -> &Netns {
        &self.lab.topo.server
    }

    /// The LAN namespace (host [`LAN_INNER`]).
    pub fn lan_ns(&self) -> &Netns {
        self.lab.topo.lan.as_ref().expect("T2 labs have a LAN")
    }

    /// Namespace of client 0.
    pub fn client_ns(&self) -> &Netns {
        self.lab.client_ns(0)
    }

    /// Inner address of client 0.
    pub fn client_inner(&self) -> Ipv4Addr {
        self.lab.clients[0].inner
    }

    /// Mode of the running server, if any.
    pub fn mode(&self) -> Option<BridgeMode> {
        self.mode
    }

    /// Server configuration: hub DEFAULT with the users and a local bridge to
    /// [`LAN_BRIDGE_DEV`] in `mode`.
    pub fn config_spec(&self, mode: BridgeMode) -> ServerConfigSpec {
        let mut spec = ServerConfigSpec::with_hub(crate::t1::PORT, crate::t1::HUB, &self.lab.users);
        spec.hubs[0].bridge = Some(BridgeSpec {
            device: LAN_BRIDGE_DEV.into(),
            tap_mode: mode == BridgeMode::Tap,
        });
        spec
    }

    /// Stop the running server (if any), wire the LAN side for `mode`, start
    /// `kind` with [`T2Lab::config_spec`], and in TAP mode wait (15 s) for
    /// the TAP device and join it to [`LAN_LINUX_BRIDGE`].
    ///
    /// Errors: the server does not start, or the TAP device does not appear.
    pub fn start_server(&mut self, kind: &ServerKind, mode: BridgeMode) -> Result<()> {
        // Clients off first: an automatic retry racing a later
        // disconnect/connect can leave vpnclient with a dead session.
        self.disconnect();
        self.lab.stop_server()?;
        self.mode = None;
        let srv = &self.lab.topo.server;
        match mode {
            BridgeMode::Device => {
                if srv.link_exists(LAN_LINUX_BRIDGE) {
                    srv.ip(&["link", "set", LAN_BRIDGE_DEV, "nomaster"])?;
                }
            }
            BridgeMode::Tap => {
                if !srv.link_exists(LAN_LINUX_BRIDGE) {
                    srv.add_bridge(LAN_LINUX_BRIDGE)?;
                }
                srv.set_master(LAN_BRIDGE_DEV, LAN_LINUX_BRIDGE)?;
            }
        }
        let file = self.lab.dir().join(format!("t2-{}.config", mode.name()));
        self.config_spec(mode).write_to(&file)?;
        self.lab.start_server_with_file(kind, &file)?;
        if mode == BridgeMode::Tap {
            let tap = tap_name(LAN_BRIDGE_DEV);
            let srv = &self.lab.topo.server;
            let server = self.lab.server.as_mut().expect("just started");
            wait_until(
                &format!("{tap} in {}", srv.name()),
                Duration::from_secs(15),
                Duration::from_millis(100),
                || {
                    server.ensure_running()?;
                    Ok(srv.link_exists(&tap))
                },
            )?;
            srv.set_master(&tap, LAN_LINUX_BRIDGE)?;
            srv.link_up(&tap)?;
        }
        self.mode = Some(mode);
        Ok(())
    }

    /// Start fresh vpnclients (running ones are stopped first) with NIC
    /// `vpn` and account `t1`, connect them, and wait until the sessions are
    /// established.
    ///
    /// A fresh process each time: the real vpnclient 5.01 that reconnects
    /// the same account to a restarted real vpnserver closes its session
    /// right after the welcome (seen only with SoftEther's server).
    ///
    /// Errors: a session is not established within the lab's connect timeout.
    pub fn connect(&mut self) -> Result<()> {
        self.disconnect();
        self.lab.clients.clear();
        self.lab.start_clients()?;
        self.lab.connect_all()?;
        self.connected = true;
        Ok(())
    }

    /// Disconnect the clients' accounts (best effort; no automatic retries
    /// afterwards).
    pub fn disconnect(&mut self) {
        if !self.connected {
            return;
        }
        for c in &self.lab.clients {
            let _ = c.client.disconnect(&c.account);
        }
        self.connected = false;
    }

    /// Wait until client 0 can ping the LAN host, at most `timeout`.
    pub fn wait_lan_ping(&self, timeout: Duration) -> Result<()> {
        wait_ping(self.client_ns(), LAN_INNER, timeout)
            .context("the LAN host behind the local bridge does not answer")
    }

    /// Log tails of the server and the client, for failure messages.
    pub fn diagnostics(&self) -> String {
        self.lab.diagnostics()
    }

    /// Run checks; on error panic with the error chain and the diagnostics
    /// (the working directory is then kept).
    pub fn check<T>(&mut self, f: impl FnOnce(&mut T2Lab) -> Result<T>) -> T {
        match f(self) {
            Ok(v) => v,
            Err(e) => {
                let diag = self.diagnostics();
                panic!("{e:#}\n{diag}");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tap_names_as_softether() {
        assert_eq!(tap_name("lanbr"), "tap_lanbr");
        assert_eq!(tap_name("MyTap"), "tap_mytap");
        assert_eq!(tap_name("VeryLongTapName123"), "tap_verylongtap");
    }
}
