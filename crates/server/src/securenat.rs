//! SecureNAT on a virtual hub: the virtual host of `rustether-securenat`
//! (DHCP server and NAT, docs/securenat.md) attached as one more port of
//! its hub with its own MAC, as SoftEther's SecureNAT session is
//! (src/Cedar/Nat.c, `SnSecureNATThread`). Like a local bridge it is a
//! non-client port; this module only moves frames.
//!
//! Not yet wired to the configuration or the admin RPCs (see
//! docs/securenat.md, "Not done yet").

use std::sync::Arc;

use bytes::Bytes;
use rustether_hub::SessionPolicy;
use rustether_securenat::driver::{DriverConfig, SecureNat};
use rustether_securenat::{Lease, NatEntry, SettingsError, VhOption};
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
    registry: &Registry,
    shutdown: watch::Receiver<bool>,
) -> Result<Arc<SecureNatPort>, SettingsError> {
    let cfg = DriverConfig {
        guard: rustether_securenat::driver::local_guard(),
        dns_servers: rustether_securenat::driver::resolv_conf_servers(),
        ..DriverConfig::default()
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

async fn run(
    p: Arc<SecureNatPort>,
    id: rustether_hub::SessionId,
    mut from_hub: mpsc::Receiver<Bytes>,
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
                Some(f) => { let _ = p.nat.input(f.to_vec()); }
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
                    p.hub.forward(id, &mut batch);
                }
                None => break,
            },
        }
    }
    p.hub.detach(id);
    info!(hub = %p.hub.name(), "SecureNAT stopped");
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// A DHCP DISCOVER from `mac` as an Ethernet broadcast frame.
    fn discover(mac: [u8; 6]) -> Bytes {
        let mut bootp = vec![0u8; 240];
        bootp[0] = 1; // BOOTREQUEST
        bootp[1] = 1; // Ethernet
        bootp[2] = 6;
        bootp[4..8].copy_from_slice(&0x0102_0304u32.to_be_bytes());
        bootp[28..34].copy_from_slice(&mac);
        bootp[236..240].copy_from_slice(&[99, 130, 83, 99]);
        bootp.extend_from_slice(&[53, 1, 1, 255]);
        let udp_len = 8 + bootp.len();
        let mut ip = vec![
            0x45, 0, 0, 0, 0, 0, 0, 0, 64, 17, 0, 0, 0, 0, 0, 0, 255, 255, 255, 255,
        ];
        ip[2..4].copy_from_slice(&((20 + udp_len) as u16).to_be_bytes());
        let sum = ip
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum::<u32>();
        let sum = (sum & 0xffff) + (sum >> 16);
        ip[10..12].copy_from_slice(&(!(sum as u16)).to_be_bytes());
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
            &registry,
            stop_rx,
        )
        .unwrap();
        assert_eq!(hub.port_count(), 1);

        let client = registry.next_id();
        let (mut rx, _) = hub.attach(client, SessionPolicy::default());
        let mac = [2, 0, 0, 0, 0, 0x42];
        hub.forward(client, &mut vec![discover(mac)]);
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
}
