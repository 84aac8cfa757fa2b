//! SecureNAT on a virtual hub: the virtual host of `rustether-securenat`
//! (DHCP server and NAT, docs/securenat.md) attached as one more port of
//! its hub with its own MAC, as SoftEther's SecureNAT session is
//! (src/Cedar/Nat.c, `SnSecureNATThread`). Like a local bridge it is a
//! non-client port; this module only moves frames.
//!
//! [`settings_from_hub`] and [`store_in_hub`] map the hub's `SecureNAT`
//! config folder (docs/config-format.md §7.7, as SoftEther's
//! vpn_server.config) to the settings. Not yet wired to server start-up or
//! the admin RPCs (docs/securenat.md, "Not done yet").

use std::net::Ipv4Addr;
use std::sync::Arc;

use bytes::Bytes;
use rustether_config::model::{format_mac, parse_mac};
use rustether_config::Folder;
use rustether_hub::SessionPolicy;
use rustether_securenat::driver::{DriverConfig, SavedLease, SecureNat};
use rustether_securenat::{Lease, NatEntry, NatLimits, SettingsError, VhOption};
use tokio::sync::{mpsc, watch, Notify};
use tracing::info;

use crate::hub::Hub;
use crate::session::Registry;

/// A running SecureNAT on one hub.
pub struct SecureNatPort {
    /// Hub it is attached to.
    pub hub: Arc<Hub>,
    nat: SecureNat,
    stop: Notify,
}

impl std::fmt::Debug for SecureNatPort {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SecureNatPort")
            .field("hub", &self.hub.name())
            .finish_non_exhaustive()
    }
}

impl SecureNatPort {
    /// The NAT table (`NatTable`).
    pub async fn nat_table(&self) -> Vec<NatEntry> {
        self.nat.nat_table().await
    }

    /// The DHCP leases (`DhcpTable`).
    pub async fn leases(&self) -> Vec<Lease> {
        self.nat.leases().await
    }

    /// The virtual host's clock now (times of [`NatEntry`], [`Lease`]).
    pub fn elapsed(&self) -> std::time::Duration {
        self.nat.elapsed()
    }

    /// Detaches from the hub and stops the virtual host.
    pub fn stop(&self) {
        self.stop.notify_one();
    }
}

/// Starts SecureNAT with settings `opt` on `hub`: the host's own addresses
/// are read for the NAT guard and `/etc/resolv.conf` for the DNS proxy.
///
/// # Errors
/// Invalid settings ([`VhOption::validate`]).
pub fn start(
    hub: Arc<Hub>,
    opt: VhOption,
    limits: NatLimits,
    book: Option<LeaseBook>,
    registry: &Registry,
    shutdown: watch::Receiver<bool>,
) -> Result<Arc<SecureNatPort>, SettingsError> {
    let cfg = DriverConfig {
        guard: rustether_securenat::driver::local_guard(),
        dns_servers: rustether_securenat::driver::resolv_conf_servers(),
        limits,
        leases: book
            .as_ref()
            .map(|b| b.borrow().clone())
            .unwrap_or_default(),
        lease_book: book,
        hub_name: hub.name().to_string(),
    };
    let (nat, out) = SecureNat::start(opt, cfg)?;
    let port = Arc::new(SecureNatPort {
        hub: hub.clone(),
        nat,
        stop: Notify::new(),
    });
    let id = registry.next_id();
    let (rx, _stats) = hub.attach(id, SessionPolicy::default());
    tokio::spawn(run(port.clone(), id, rx, out, shutdown));
    info!(hub = %hub.name(), "SecureNAT started");
    Ok(port)
}

/// A hub's DHCP leases outside its running SecureNAT (wall-clock times):
/// the running one publishes every change, the next one starts with them.
pub type LeaseBook = Arc<watch::Sender<Vec<SavedLease>>>;

/// The lease file beside `vpn_server.config`: SoftEther keeps leases only
/// in memory, across a hub going offline and online; RustEther also keeps
/// them across a server restart in this file of its own.
pub const LEASE_FILE: &str = "securenat_dhcp_leases.txt";

/// Largest lease file read, bytes (4096 leases per hub of ~100 bytes, a
/// few hubs).
pub const MAX_LEASE_FILE: u64 = 4 << 20;

/// The lease file's text: one lease per line, tab-separated: hub, id, MAC,
/// address, mask, leased and expires (Unix ms), host name.
pub fn leases_to_text(books: &[(String, Vec<SavedLease>)]) -> String {
    let mut o = String::from("# RustEther SecureNAT DHCP leases (docs/securenat.md)\n");
    for (hub, leases) in books {
        for s in leases {
            let l = &s.lease;
            o.push_str(&format!(
                "{hub}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\n",
                l.id,
                format_mac(&l.mac),
                l.ip,
                l.mask,
                s.leased_unix_ms,
                s.expires_unix_ms,
                l.hostname
            ));
        }
    }
    o
}

/// Parses [`leases_to_text`]; lines that do not parse are skipped (logged),
/// at most [`rustether_securenat::dhcp::MAX_LEASES`] per hub are kept.
/// Returns (hub key, leases) pairs.
pub fn leases_from_text(text: &str) -> Vec<(String, Vec<SavedLease>)> {
    let mut out: Vec<(String, Vec<SavedLease>)> = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let f: Vec<&str> = line.split('\t').collect();
        let parsed = (|| {
            if f.len() != 8 {
                return None;
            }
            let lease = Lease {
                id: f[1].parse().ok()?,
                mac: parse_mac(f[2])?,
                ip: f[3].parse().ok()?,
                mask: f[4].parse().ok()?,
                hostname: f[7]
                    .chars()
                    .filter(|c| c.is_ascii_graphic())
                    .take(rustether_securenat::dhcp::MAX_HOSTNAME_LEN)
                    .collect(),
                leased_at: std::time::Duration::ZERO,
                expires_at: std::time::Duration::ZERO,
            };
            Some(SavedLease {
                lease,
                leased_unix_ms: f[5].parse().ok()?,
                expires_unix_ms: f[6].parse().ok()?,
            })
        })();
        let Some(l) = parsed else {
            tracing::warn!("SecureNAT lease file: line {} ignored (malformed)", n + 1);
            continue;
        };
        let key = crate::hub::hub_key(f[0]);
        match out.iter_mut().find(|(k, _)| *k == key) {
            Some((_, v)) if v.len() < rustether_securenat::dhcp::MAX_LEASES => v.push(l),
            Some(_) => {}
            None => out.push((key, vec![l])),
        }
    }
    out
}

/// A hub's SecureNAT configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSecureNat {
    /// `SecureNAT/Disabled` negated.
    pub enabled: bool,
    /// `VirtualHost`, `VirtualRouter`, `VirtualDhcpServer` and `SaveLog`.
    pub opt: VhOption,
    /// The hub options `Option/SecureNAT_Max*PerIp` (0 = no limit).
    pub limits: NatLimits,
}

fn ip(f: Option<&Folder>, key: &str, default: Ipv4Addr) -> Ipv4Addr {
    f.and_then(|f| f.get_str(key))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Reads the `SecureNAT` folder (and `Option` limits) of a hub folder;
/// missing or unparsable keys take SoftEther's defaults
/// (`NiSetDefaultVhOption`), and settings that fail
/// [`VhOption::validate`] are replaced by the defaults with a warning.
pub fn settings_from_hub(raw: &Folder) -> HubSecureNat {
    let d = VhOption::default();
    let sn = raw.folder("SecureNAT");
    let vh = sn.and_then(|f| f.folder("VirtualHost"));
    let vr = sn.and_then(|f| f.folder("VirtualRouter"));
    let dh = sn.and_then(|f| f.folder("VirtualDhcpServer"));
    let uint = |f: Option<&Folder>, k: &str, dv: u32| f.and_then(|f| f.get_uint(k)).unwrap_or(dv);
    let flag = |f: Option<&Folder>, k: &str, dv: bool| f.and_then(|f| f.get_bool(k)).unwrap_or(dv);
    let push = dh
        .and_then(|f| f.get_str("DhcpPushRoutes"))
        .unwrap_or("")
        .to_string();
    let opt = VhOption {
        mac: vh
            .and_then(|f| f.get_str("VirtualHostMacAddress"))
            .and_then(parse_mac)
            .unwrap_or(d.mac),
        ip: ip(vh, "VirtualHostIp", d.ip),
        mask: ip(vh, "VirtualHostIpSubnetMask", d.mask),
        use_nat: flag(vr, "NatEnabled", d.use_nat),
        mtu: u16::try_from(uint(vr, "NatMtu", u32::from(d.mtu))).unwrap_or(d.mtu),
        nat_tcp_timeout: uint(vr, "NatTcpTimeout", d.nat_tcp_timeout),
        nat_udp_timeout: uint(vr, "NatUdpTimeout", d.nat_udp_timeout),
        use_dhcp: flag(dh, "DhcpEnabled", d.use_dhcp),
        dhcp_lease_ip_start: ip(dh, "DhcpLeaseIPStart", d.dhcp_lease_ip_start),
        dhcp_lease_ip_end: ip(dh, "DhcpLeaseIPEnd", d.dhcp_lease_ip_end),
        dhcp_subnet_mask: ip(dh, "DhcpSubnetMask", d.dhcp_subnet_mask),
        dhcp_expire_secs: uint(dh, "DhcpExpireTimeSpan", d.dhcp_expire_secs),
        dhcp_gateway: ip(dh, "DhcpGatewayAddress", d.dhcp_gateway),
        dhcp_dns: ip(dh, "DhcpDnsServerAddress", d.dhcp_dns),
        dhcp_dns2: ip(dh, "DhcpDnsServerAddress2", d.dhcp_dns2),
        dhcp_domain: dh
            .and_then(|f| f.get_str("DhcpDomainName"))
            .unwrap_or("")
            .to_string(),
        save_log: flag(sn, "SaveLog", d.save_log),
        // The file has no apply flag: SoftEther pushes whatever is stored.
        apply_dhcp_push_routes: !push.trim().is_empty(),
        dhcp_push_routes: push,
    };
    let opt = match opt.validate() {
        Ok(()) => opt,
        Err(e) => {
            tracing::warn!("SecureNAT settings of the hub are invalid ({e}); using the defaults");
            VhOption { mac: opt.mac, ..d }
        }
    };
    let o = raw.folder("Option");
    let lim = |k: &str| uint(o, k, 0) as usize;
    HubSecureNat {
        enabled: !flag(sn, "Disabled", true),
        opt,
        limits: NatLimits {
            max_tcp_per_ip: lim("SecureNAT_MaxTcpSessionsPerIp"),
            max_tcp_syn_per_ip: lim("SecureNAT_MaxTcpSynSentPerIp"),
            max_udp_per_ip: lim("SecureNAT_MaxUdpSessionsPerIp"),
            max_dns_per_ip: lim("SecureNAT_MaxDnsSessionsPerIp"),
            max_icmp_per_ip: lim("SecureNAT_MaxIcmpSessionsPerIp"),
            ..NatLimits::default()
        },
    }
}

/// Writes `enabled` and `opt` into the hub folder's `SecureNAT` folder with
/// SoftEther's key names (other keys there are kept).
pub fn store_in_hub(raw: &mut Folder, enabled: bool, opt: &VhOption) {
    let sn = raw.folder_or_insert("SecureNAT");
    sn.set_bool("Disabled", !enabled);
    sn.set_bool("SaveLog", opt.save_log);
    let vh = sn.folder_or_insert("VirtualHost");
    vh.set_str("VirtualHostIp", &opt.ip.to_string());
    vh.set_str("VirtualHostIpSubnetMask", &opt.mask.to_string());
    vh.set_str("VirtualHostMacAddress", &format_mac(&opt.mac));
    let vr = sn.folder_or_insert("VirtualRouter");
    vr.set_bool("NatEnabled", opt.use_nat);
    vr.set_uint("NatMtu", u32::from(opt.mtu));
    vr.set_uint("NatTcpTimeout", opt.nat_tcp_timeout);
    vr.set_uint("NatUdpTimeout", opt.nat_udp_timeout);
    let dh = sn.folder_or_insert("VirtualDhcpServer");
    dh.set_str("DhcpDnsServerAddress", &opt.dhcp_dns.to_string());
    dh.set_str("DhcpDnsServerAddress2", &opt.dhcp_dns2.to_string());
    dh.set_str("DhcpDomainName", &opt.dhcp_domain);
    dh.set_bool("DhcpEnabled", opt.use_dhcp);
    dh.set_uint("DhcpExpireTimeSpan", opt.dhcp_expire_secs);
    dh.set_str("DhcpGatewayAddress", &opt.dhcp_gateway.to_string());
    dh.set_str("DhcpLeaseIPEnd", &opt.dhcp_lease_ip_end.to_string());
    dh.set_str("DhcpLeaseIPStart", &opt.dhcp_lease_ip_start.to_string());
    let routes = if opt.apply_dhcp_push_routes {
        opt.dhcp_push_routes.as_str()
    } else {
        ""
    };
    dh.set_str("DhcpPushRoutes", routes);
    dh.set_str("DhcpSubnetMask", &opt.dhcp_subnet_mask.to_string());
}

async fn run(
    p: Arc<SecureNatPort>,
    id: rustether_hub::SessionId,
    mut from_hub: crate::hub::PortReceiver,
    mut from_nat: mpsc::Receiver<Vec<u8>>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut batch: Vec<Bytes> = Vec::with_capacity(16);
    loop {
        tokio::select! {
            _ = p.stop.notified() => break,
            _ = shutdown.changed() => break,
            f = from_hub.recv() => match f {
                // A full input queue drops the frame, as a congested link.
                Some(f) => {
                    let _ = p.nat.input(f);
                    // Whatever else is queued goes in the same wake-up.
                    for _ in 0..64 {
                        let Some(f) = from_hub.try_recv() else { break };
                        let _ = p.nat.input(f);
                    }
                }
                None => break,
            },
            f = from_nat.recv() => match f {
                Some(f) => {
                    batch.push(Bytes::from(f));
                    while batch.len() < 64 {
                        match from_nat.try_recv() {
                            Ok(f) => batch.push(Bytes::from(f)),
                            Err(_) => break,
                        }
                    }
                    // The NAT's own output cannot wait: no back-pressure.
                    let _ = p.hub.forward(id, &mut batch);
                }
                None => break,
            },
        }
    }
    p.hub.detach(id);
    info!(hub = %p.hub.name(), "SecureNAT stopped");
}

/// A DHCP client message (`msg_type` 1 DISCOVER, 3 REQUEST) from `mac` as
/// an Ethernet broadcast frame, with option 50 when `requested` is given.
#[cfg(test)]
pub(crate) fn dhcp_frame(mac: [u8; 6], msg_type: u8, requested: Option<Ipv4Addr>) -> Bytes {
    let mut bootp = vec![0u8; 240];
    bootp[0] = 1; // BOOTREQUEST
    bootp[1] = 1; // Ethernet
    bootp[2] = 6;
    bootp[4..8].copy_from_slice(&0x0102_0304u32.to_be_bytes());
    bootp[28..34].copy_from_slice(&mac);
    bootp[236..240].copy_from_slice(&[99, 130, 83, 99]);
    bootp.extend_from_slice(&[53, 1, msg_type]);
    if let Some(ip) = requested {
        bootp.extend_from_slice(&[50, 4]);
        bootp.extend_from_slice(&ip.octets());
    }
    bootp.push(255);
    let udp_len = 8 + bootp.len();
    let mut ip = vec![
        0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255,
    ];
    ip[2..4].copy_from_slice(&((20 + udp_len) as u16).to_be_bytes());
    let sum = rustether_proto::inet::checksum(&ip);
    ip[10..12].copy_from_slice(&sum.to_be_bytes());
    let mut f = vec![0xff; 6];
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[0x08, 0x00]);
    f.extend_from_slice(&ip);
    f.extend_from_slice(&68u16.to_be_bytes());
    f.extend_from_slice(&67u16.to_be_bytes());
    f.extend_from_slice(&(udp_len as u16).to_be_bytes());
    f.extend_from_slice(&[0, 0]);
    f.extend_from_slice(&bootp);
    Bytes::from(f)
}

/// The next BOOTREPLY to `mac` on `rx` within `wait`: its `yiaddr`.
#[cfg(test)]
async fn dhcp_reply(
    rx: &mut crate::hub::PortReceiver,
    mac: [u8; 6],
    wait: std::time::Duration,
) -> Option<Ipv4Addr> {
    const B: usize = 14 + 20 + 8;
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        let f = tokio::time::timeout_at(deadline, rx.recv()).await.ok()??;
        if f.len() > B + 34 && f[B] == 2 && f[B + 28..B + 34] == mac {
            let y: [u8; 4] = f[B + 16..B + 20].try_into().ok()?;
            return Some(Ipv4Addr::from(y));
        }
    }
}

/// Leases `mac` an address from the SecureNAT on `hub` through a port of
/// its own with `policy` (DISCOVER, then REQUEST of the offer); the leased
/// address, `None` when no offer or ACK came within `wait`.
#[cfg(test)]
pub(crate) async fn test_lease(
    hub: &Hub,
    registry: &Registry,
    policy: SessionPolicy,
    mac: [u8; 6],
    wait: std::time::Duration,
) -> Option<Ipv4Addr> {
    let id = registry.next_id();
    let (mut rx, _) = hub.attach(id, policy);
    let _ = hub.forward(id, &mut vec![dhcp_frame(mac, 1, None)]);
    let offered = dhcp_reply(&mut rx, mac, wait).await;
    let got = match offered {
        Some(ip) => {
            let _ = hub.forward(id, &mut vec![dhcp_frame(mac, 3, Some(ip))]);
            dhcp_reply(&mut rx, mac, wait).await
        }
        None => None,
    };
    hub.detach(id);
    got.filter(|ip| !ip.is_unspecified())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn discover(mac: [u8; 6]) -> Bytes {
        dhcp_frame(mac, 1, None)
    }

    #[tokio::test]
    async fn securenat_is_a_hub_port_that_answers_dhcp() {
        let hub = Arc::new(Hub::new("SNAT", true));
        let registry = Registry::default();
        let (_stop_tx, stop_rx) = watch::channel(false);
        let host_mac = [0x5E, 1, 2, 3, 4, 5];
        let port = start(
            hub.clone(),
            VhOption {
                mac: host_mac,
                ..VhOption::default()
            },
            NatLimits::default(),
            None,
            &registry,
            stop_rx,
        )
        .unwrap();
        assert_eq!(hub.port_count(), 1);

        let client = registry.next_id();
        let (mut rx, _) = hub.attach(client, SessionPolicy::default());
        let mac = [2, 0, 0, 0, 0, 0x42];
        let _ = hub.forward(client, &mut vec![discover(mac)]);
        let offer = tokio::time::timeout(Duration::from_secs(10), rx.recv())
            .await
            .expect("an answer within 10 s")
            .expect("port open");
        assert_eq!(&offer[6..12], &host_mac, "from the virtual host's MAC");
        let bootp = &offer[14 + 20 + 8..];
        assert_eq!(bootp[0], 2, "BOOTREPLY");
        assert_eq!(&bootp[16..20], &[192, 168, 30, 10], "first pool address");
        assert_eq!(&bootp[28..34], &mac);

        port.stop();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while hub.port_count() != 1 {
            assert!(tokio::time::Instant::now() < deadline, "detached on stop");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// An ARP request from `mac`/`ip` for the virtual host 192.168.30.1.
    fn arp_for_host(mac: [u8; 6], ip: Ipv4Addr) -> Bytes {
        use rustether_proto::inet::{arp_packet, ethernet_frame, ETHERTYPE_ARP};
        let arp = arp_packet(1, mac, ip, [0; 6], Ipv4Addr::new(192, 168, 30, 1));
        Bytes::from(ethernet_frame([0xff; 6], mac, ETHERTYPE_ARP, &arp))
    }

    /// Whether the virtual host answers an ARP request from `mac`/`ip`
    /// sent through session `id` within `wait`.
    async fn host_answers_arp(
        hub: &Hub,
        id: rustether_hub::SessionId,
        rx: &mut crate::hub::PortReceiver,
        mac: [u8; 6],
        ip: Ipv4Addr,
        wait: Duration,
    ) -> bool {
        let _ = hub.forward(id, &mut vec![arp_for_host(mac, ip)]);
        let deadline = tokio::time::Instant::now() + wait;
        while let Ok(Some(f)) = tokio::time::timeout_at(deadline, rx.recv()).await {
            if f.len() >= 42
                && f[12..14] == [8, 6]
                && f[21] == 2
                && f[28..32] == [192, 168, 30, 1]
                && f[32..38] == mac
                && f[38..42] == ip.octets()
            {
                return true;
            }
        }
        false
    }

    /// The policies SoftEther applies around SecureNAT, by effect on a hub
    /// with a running SecureNAT: DHCPFilter (no lease), DHCPNoServer (a
    /// lease from SecureNAT, but the session's own DHCP server replies go
    /// nowhere), DHCPForce (only the DHCP-assigned address gets through),
    /// NoRouting (at most 4 addresses), PrivacyFilter (SecureNAT is still
    /// reachable: its session has no privacy filter, as in SoftEther).
    #[tokio::test]
    async fn policies_with_securenat() {
        use rustether_proto::softether::policy::{PolicyId, PolicyValues};
        let hub = Arc::new(Hub::new("SNATPOL", true));
        let registry = Registry::default();
        let (_stop_tx, stop_rx) = watch::channel(false);
        let _port = start(
            hub.clone(),
            VhOption::default(),
            NatLimits::default(),
            None,
            &registry,
            stop_rx,
        )
        .unwrap();
        let pol = |ids: &[PolicyId]| {
            let mut v = PolicyValues::default();
            for id in ids {
                v.set(*id, 1);
            }
            crate::hub::switch_policy(&v)
        };
        let ok = Duration::from_secs(10);
        let no = Duration::from_secs(2);
        let mac = |n: u8| [2, 0, 0, 0, 0x20, n];

        // No policy: a lease (the control for the refusals below).
        assert!(test_lease(&hub, &registry, pol(&[]), mac(1), ok)
            .await
            .is_some());
        // DHCPFilter: no DHCP either way, so no lease.
        assert_eq!(
            test_lease(&hub, &registry, pol(&[PolicyId::DHCPFilter]), mac(2), no).await,
            None
        );
        // DHCPNoServer: SecureNAT still serves the session...
        assert!(
            test_lease(&hub, &registry, pol(&[PolicyId::DHCPNoServer]), mac(3), ok)
                .await
                .is_some()
        );
        // ... but the session's own DHCP replies reach nobody.
        let (rogue, watcher) = (registry.next_id(), registry.next_id());
        let _ = hub.attach(rogue, pol(&[PolicyId::DHCPNoServer]));
        let (mut wrx, _) = hub.attach(watcher, pol(&[]));
        let mut reply = dhcp_frame(mac(4), 2, None).to_vec();
        reply[14 + 20 + 8] = 2; // BOOTREPLY
        let _ = hub.forward(rogue, &mut vec![Bytes::from(reply.clone())]);
        let mut clean = reply.clone();
        clean[14 + 20 + 8] = 1; // the same frame as a request passes
        let _ = hub.forward(rogue, &mut vec![Bytes::from(clean)]);
        let got = tokio::time::timeout(ok, wrx.recv()).await.unwrap().unwrap();
        assert_eq!(got[14 + 20 + 8], 1, "only the request was delivered");
        hub.detach(rogue);
        hub.detach(watcher);

        // DHCPForce: nothing before a lease; the leased address works, any
        // other address does not.
        let (id, m) = (registry.next_id(), mac(5));
        let (mut rx, _) = hub.attach(id, pol(&[PolicyId::DHCPForce]));
        let other = Ipv4Addr::new(192, 168, 30, 222);
        assert!(!host_answers_arp(&hub, id, &mut rx, m, other, no).await);
        let _ = hub.forward(id, &mut vec![dhcp_frame(m, 1, None)]);
        let offered = dhcp_reply(&mut rx, m, ok).await.unwrap();
        let _ = hub.forward(id, &mut vec![dhcp_frame(m, 3, Some(offered))]);
        assert_eq!(dhcp_reply(&mut rx, m, ok).await, Some(offered));
        assert!(host_answers_arp(&hub, id, &mut rx, m, offered, ok).await);
        assert!(!host_answers_arp(&hub, id, &mut rx, m, other, no).await);
        hub.detach(id);

        // NoRouting: 4 addresses, not a fifth.
        let (id, m) = (registry.next_id(), mac(6));
        let (mut rx, _) = hub.attach(id, pol(&[PolicyId::NoRouting]));
        for last in 100..104 {
            let ip = Ipv4Addr::new(192, 168, 30, last);
            assert!(host_answers_arp(&hub, id, &mut rx, m, ip, ok).await, "{ip}");
        }
        let fifth = Ipv4Addr::new(192, 168, 30, 104);
        assert!(!host_answers_arp(&hub, id, &mut rx, m, fifth, no).await);
        hub.detach(id);

        // PrivacyFilter: SecureNAT still answers.
        assert!(
            test_lease(&hub, &registry, pol(&[PolicyId::PrivacyFilter]), mac(7), ok)
                .await
                .is_some()
        );
    }

    #[test]
    fn lease_file_round_trip_and_bad_lines() {
        let lease = |id, last| SavedLease {
            lease: Lease {
                id,
                mac: [2, 0, 0, 0, 0, last],
                ip: Ipv4Addr::new(192, 168, 30, last),
                mask: Ipv4Addr::new(255, 255, 255, 0),
                hostname: "pc-1".into(),
                leased_at: Duration::ZERO,
                expires_at: Duration::ZERO,
            },
            leased_unix_ms: 1_000,
            expires_unix_ms: 7_201_000,
        };
        let books = vec![
            ("HUB1".to_string(), vec![lease(1, 10), lease(2, 11)]),
            ("HUB2".to_string(), vec![lease(3, 12)]),
        ];
        let text = leases_to_text(&books);
        assert_eq!(leases_from_text(&text), books);
        let bad =
            format!("{text}HUB1\t1\tnot-a-mac\t1.2.3.4\t255.0.0.0\t1\t2\tx\nHUB1\tshort\n\u{0}\n");
        assert_eq!(leases_from_text(&bad), books, "malformed lines are skipped");
        // Host names are cleaned and bounded.
        let long = format!(
            "h\t1\t02-00-00-00-00-01\t192.168.30.10\t255.255.255.0\t1\t2\t{}\u{7}\n",
            "x".repeat(500)
        );
        let got = leases_from_text(&long);
        assert_eq!(got[0].0, "H");
        assert_eq!(
            got[0].1[0].lease.hostname.len(),
            rustether_securenat::dhcp::MAX_HOSTNAME_LEN
        );
    }

    #[test]
    fn new_hub_folder_gives_softether_defaults_disabled() {
        let hub = rustether_config::HubConfig::new(
            "H",
            rustether_config::model::now_ms(),
            &mut rustether_config::model::system_rng(),
        );
        let c = settings_from_hub(&hub.raw);
        assert!(!c.enabled);
        let d = VhOption::default();
        assert_eq!(
            c.opt,
            VhOption {
                mac: c.opt.mac,
                ..d
            }
        );
        assert_eq!(c.opt.mac[0], 0x5E);
        assert_eq!(c.limits, NatLimits::default());
    }

    #[test]
    fn softether_written_config_is_read() {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../config/tests/data/softether-5.01.config"
        );
        let root = rustether_config::parse_bytes(&std::fs::read(path).unwrap()).unwrap();
        let hub = root
            .folder("VirtualHUB")
            .and_then(|h| h.folder("TEST"))
            .unwrap();
        let c = settings_from_hub(hub);
        assert!(!c.enabled);
        assert_eq!(c.opt.ip, Ipv4Addr::new(192, 168, 30, 1));
        assert_eq!(c.opt.dhcp_lease_ip_end, Ipv4Addr::new(192, 168, 30, 200));
        let mac = hub
            .folder("SecureNAT")
            .and_then(|f| f.folder("VirtualHost"))
            .and_then(|f| f.get_str("VirtualHostMacAddress"))
            .and_then(parse_mac)
            .unwrap();
        assert_eq!(c.opt.mac, mac);
    }

    #[test]
    fn stored_settings_read_back_and_bad_ones_fall_back() {
        let mut hub = rustether_config::HubConfig::new(
            "H",
            rustether_config::model::now_ms(),
            &mut rustether_config::model::system_rng(),
        );
        let opt = VhOption {
            mac: [0x5E, 9, 8, 7, 6, 5],
            ip: Ipv4Addr::new(10, 8, 0, 1),
            dhcp_lease_ip_start: Ipv4Addr::new(10, 8, 0, 50),
            dhcp_lease_ip_end: Ipv4Addr::new(10, 8, 0, 60),
            dhcp_gateway: Ipv4Addr::new(10, 8, 0, 1),
            dhcp_dns: Ipv4Addr::new(10, 8, 0, 1),
            dhcp_dns2: Ipv4Addr::new(9, 9, 9, 9),
            dhcp_domain: "corp.example".into(),
            dhcp_expire_secs: 600,
            mtu: 1400,
            nat_tcp_timeout: 600,
            nat_udp_timeout: 30,
            apply_dhcp_push_routes: true,
            dhcp_push_routes: "172.16.0.0/12/10.8.0.1".into(),
            ..VhOption::default()
        };
        store_in_hub(&mut hub.raw, true, &opt);
        // Through the text format, as saved and loaded.
        let mut root = Folder::new("root");
        root.add_folder(hub.raw.clone());
        let text = rustether_config::write_text(&root);
        let back = rustether_config::parse_text(&text).unwrap();
        let c = settings_from_hub(back.folder(&hub.raw.name).unwrap());
        assert!(c.enabled);
        assert_eq!(c.opt, opt);

        let mut bad = hub.raw.clone();
        let dh = bad
            .folder_or_insert("SecureNAT")
            .folder_or_insert("VirtualDhcpServer");
        dh.set_str("DhcpLeaseIPStart", "10.8.0.70");
        let c = settings_from_hub(&bad);
        assert_eq!(c.opt.dhcp_lease_ip_start, Ipv4Addr::new(192, 168, 30, 10));
        assert_eq!(c.opt.mac, opt.mac, "MAC kept");
    }
}
