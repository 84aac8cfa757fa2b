//! The NAT table: one entry per client flow, with SoftEther's limits and
//! idle timeouts (src/Cedar/Virtual.c `NAT_ENTRY`, `CanCreateNewNatEntry`,
//! `PollingNatTcp/Udp`). Pure data; the host drives it.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::Duration;

/// Flow protocol, as `NatTable` shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NatProto {
    /// TCP, spliced to a server-side socket.
    Tcp,
    /// UDP, one server-side socket per flow.
    Udp,
    /// UDP to the host's port 53, forwarded to the server's resolvers.
    Dns,
    /// ICMP echo.
    Icmp,
}

/// A flow's identity: protocol, the client's address and where it sent to
/// (for ICMP the port is the echo identifier).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct FlowKey {
    /// Protocol.
    pub proto: NatProto,
    /// Client side.
    pub client: SocketAddrV4,
    /// Destination the client addressed.
    pub dst: SocketAddrV4,
}

/// Handle of one flow; not reused within a table's life.
pub type FlowId = u64;

/// One row of `NatTable` (SoftEther `RPC_ENUM_NAT_ITEM`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NatEntry {
    /// Handle.
    pub id: FlowId,
    /// Identity.
    pub key: FlowKey,
    /// Client MAC, to address frames back.
    pub client_mac: [u8; 6],
    /// Created, host clock.
    pub created: Duration,
    /// Last packet either way, host clock.
    pub last_active: Duration,
    /// Bytes client → remote.
    pub bytes_up: u64,
    /// Bytes remote → client.
    pub bytes_down: u64,
    /// TCP: the server-side connect has completed.
    pub established: bool,
}

/// Limits: SoftEther's `NAT_MAX_SESSIONS` (4096) and the hub options
/// `SecureNAT_Max*PerIp` (0 = no limit, SoftEther's default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NatLimits {
    /// All flows of the host.
    pub max_sessions: usize,
    /// TCP flows per client IP.
    pub max_tcp_per_ip: usize,
    /// TCP flows still connecting per client IP.
    pub max_tcp_syn_per_ip: usize,
    /// UDP flows per client IP.
    pub max_udp_per_ip: usize,
    /// DNS flows per client IP.
    pub max_dns_per_ip: usize,
    /// ICMP flows per client IP.
    pub max_icmp_per_ip: usize,
}

impl Default for NatLimits {
    fn default() -> Self {
        Self {
            max_sessions: 4096,
            max_tcp_per_ip: 0,
            max_tcp_syn_per_ip: 0,
            max_udp_per_ip: 0,
            max_dns_per_ip: 0,
            max_icmp_per_ip: 0,
        }
    }
}

/// Why a new flow was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Refused {
    /// The destination is the server itself (loopback or one of its own
    /// addresses) or not a unicast address.
    #[error("destination is the server itself or not unicast")]
    Guarded,
    /// A session limit is reached.
    #[error("NAT session limit reached")]
    Limit,
}

/// Destinations a client may never reach through the NAT: NAT traffic
/// leaves from the server's own address, so reaching the server's host
/// would look local to it (administration trusts local connections).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Guard {
    /// The server host's own addresses (all interfaces), besides
    /// 127.0.0.0/8 which is always refused.
    pub local_addrs: Vec<Ipv4Addr>,
}

impl Guard {
    /// Whether a client may reach `dst`.
    pub fn allows(&self, dst: Ipv4Addr) -> bool {
        !(dst.is_loopback()
            || dst.is_unspecified()
            || dst.octets()[0] == 0
            || dst.is_broadcast()
            || dst.is_multicast()
            || self.local_addrs.contains(&dst))
    }
}

/// The table.
#[derive(Debug, Default)]
pub struct NatTable {
    by_key: HashMap<FlowKey, FlowId>,
    entries: HashMap<FlowId, NatEntry>,
    next_id: FlowId,
}

impl NatTable {
    /// Empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Number of flows.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True without flows.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// The flow for `key`, if any.
    pub fn lookup(&self, key: &FlowKey) -> Option<FlowId> {
        self.by_key.get(key).copied()
    }

    /// A flow by handle.
    pub fn get(&self, id: FlowId) -> Option<&NatEntry> {
        self.entries.get(&id)
    }

    /// A flow by handle, mutable.
    pub fn get_mut(&mut self, id: FlowId) -> Option<&mut NatEntry> {
        self.entries.get_mut(&id)
    }

    /// All flows, in no particular order (for `NatTable`).
    pub fn entries(&self) -> impl Iterator<Item = &NatEntry> {
        self.entries.values()
    }

    fn count(&self, proto: NatProto, ip: Ipv4Addr, connecting_only: bool) -> usize {
        self.entries
            .values()
            .filter(|e| {
                e.key.proto == proto
                    && *e.key.client.ip() == ip
                    && (!connecting_only || !e.established)
            })
            .count()
    }

    /// Adds a flow after the guard and the limits allow it (SoftEther
    /// `CanCreateNewNatEntry`). `guarded_dst` is the address the server
    /// would connect to (for DNS the resolver, which the server chose and
    /// which is therefore not guarded: pass `None`).
    ///
    /// # Errors
    /// [`Refused`] and nothing is added.
    pub fn insert(
        &mut self,
        key: FlowKey,
        client_mac: [u8; 6],
        guarded_dst: Option<Ipv4Addr>,
        guard: &Guard,
        limits: &NatLimits,
        now: Duration,
    ) -> Result<FlowId, Refused> {
        if guarded_dst.is_some_and(|d| !guard.allows(d)) {
            return Err(Refused::Guarded);
        }
        if self.entries.len() >= limits.max_sessions {
            return Err(Refused::Limit);
        }
        let ip = *key.client.ip();
        let over = |max: usize, n: usize| max != 0 && n >= max;
        let refused = match key.proto {
            NatProto::Tcp => {
                over(limits.max_tcp_per_ip, self.count(NatProto::Tcp, ip, false))
                    || over(
                        limits.max_tcp_syn_per_ip,
                        self.count(NatProto::Tcp, ip, true),
                    )
            }
            NatProto::Udp => over(limits.max_udp_per_ip, self.count(NatProto::Udp, ip, false)),
            NatProto::Dns => over(limits.max_dns_per_ip, self.count(NatProto::Dns, ip, false)),
            NatProto::Icmp => over(
                limits.max_icmp_per_ip,
                self.count(NatProto::Icmp, ip, false),
            ),
        };
        if refused {
            return Err(Refused::Limit);
        }
        self.next_id += 1;
        let id = self.next_id;
        self.by_key.insert(key, id);
        self.entries.insert(
            id,
            NatEntry {
                id,
                key,
                client_mac,
                created: now,
                last_active: now,
                bytes_up: 0,
                bytes_down: 0,
                established: false,
            },
        );
        Ok(id)
    }

    /// Removes a flow; returns it.
    pub fn remove(&mut self, id: FlowId) -> Option<NatEntry> {
        let e = self.entries.remove(&id)?;
        self.by_key.remove(&e.key);
        Some(e)
    }

    /// Flows idle for at least their protocol's timeout at `now`
    /// (`tcp`/`udp` from the settings; ICMP 10 s and DNS like UDP, as
    /// SoftEther's `NAT_ICMP_TIMEOUT`). Not removed: the caller closes them.
    pub fn idle(&self, now: Duration, tcp: Duration, udp: Duration) -> Vec<FlowId> {
        let mut ids: Vec<FlowId> = self
            .entries
            .values()
            .filter(|e| {
                let limit = match e.key.proto {
                    NatProto::Tcp => tcp,
                    NatProto::Udp | NatProto::Dns => udp,
                    NatProto::Icmp => ICMP_TIMEOUT,
                };
                now.saturating_sub(e.last_active) >= limit
            })
            .map(|e| e.id)
            .collect();
        ids.sort_unstable();
        ids
    }
}

/// ICMP flow idle timeout (SoftEther `NAT_ICMP_TIMEOUT`).
pub const ICMP_TIMEOUT: Duration = Duration::from_secs(10);

#[cfg(test)]
mod tests {
    use super::*;

    fn key(proto: NatProto, client: [u8; 4], port: u16) -> FlowKey {
        FlowKey {
            proto,
            client: SocketAddrV4::new(client.into(), port),
            dst: SocketAddrV4::new(Ipv4Addr::new(10, 9, 9, 9), 80),
        }
    }

    #[test]
    fn guard_refuses_loopback_and_the_servers_own_addresses() {
        let g = Guard {
            local_addrs: vec![Ipv4Addr::new(10, 77, 0, 1)],
        };
        for bad in [
            Ipv4Addr::new(127, 0, 0, 1),
            Ipv4Addr::new(127, 200, 1, 1),
            Ipv4Addr::new(10, 77, 0, 1),
            Ipv4Addr::new(0, 1, 2, 3),
            Ipv4Addr::BROADCAST,
            Ipv4Addr::new(224, 0, 0, 1),
        ] {
            assert!(!g.allows(bad), "{bad}");
        }
        assert!(g.allows(Ipv4Addr::new(10, 77, 0, 2)));
        let mut t = NatTable::new();
        let k = FlowKey {
            dst: SocketAddrV4::new(Ipv4Addr::new(10, 77, 0, 1), 22),
            ..key(NatProto::Tcp, [192, 168, 30, 10], 1000)
        };
        assert_eq!(
            t.insert(
                k,
                [0; 6],
                Some(*k.dst.ip()),
                &g,
                &NatLimits::default(),
                Duration::ZERO
            ),
            Err(Refused::Guarded)
        );
        assert!(t.is_empty());
    }

    #[test]
    fn per_ip_and_total_limits() {
        let g = Guard::default();
        let limits = NatLimits {
            max_sessions: 5,
            max_tcp_per_ip: 2,
            max_udp_per_ip: 1,
            ..NatLimits::default()
        };
        let mut t = NatTable::new();
        let d = Some(Ipv4Addr::new(10, 9, 9, 9));
        let z = Duration::ZERO;
        let a = [192, 168, 30, 10];
        assert!(t
            .insert(key(NatProto::Tcp, a, 1), [0; 6], d, &g, &limits, z)
            .is_ok());
        assert!(t
            .insert(key(NatProto::Tcp, a, 2), [0; 6], d, &g, &limits, z)
            .is_ok());
        assert_eq!(
            t.insert(key(NatProto::Tcp, a, 3), [0; 6], d, &g, &limits, z),
            Err(Refused::Limit)
        );
        assert!(t
            .insert(key(NatProto::Udp, a, 1), [0; 6], d, &g, &limits, z)
            .is_ok());
        assert_eq!(
            t.insert(key(NatProto::Udp, a, 2), [0; 6], d, &g, &limits, z),
            Err(Refused::Limit)
        );
        let b = [192, 168, 30, 11];
        assert!(t
            .insert(key(NatProto::Tcp, b, 1), [0; 6], d, &g, &limits, z)
            .is_ok());
        assert!(t
            .insert(key(NatProto::Tcp, b, 2), [0; 6], d, &g, &limits, z)
            .is_ok());
        assert_eq!(
            t.insert(key(NatProto::Icmp, b, 3), [0; 6], d, &g, &limits, z),
            Err(Refused::Limit),
            "total of 5 reached"
        );
        let id = t.lookup(&key(NatProto::Tcp, b, 2)).unwrap();
        assert!(t.remove(id).is_some());
        assert!(t.lookup(&key(NatProto::Tcp, b, 2)).is_none());
        assert!(t
            .insert(key(NatProto::Icmp, b, 3), [0; 6], d, &g, &limits, z)
            .is_ok());
    }

    #[test]
    fn syn_limit_counts_only_connecting_flows() {
        let g = Guard::default();
        let limits = NatLimits {
            max_tcp_syn_per_ip: 1,
            ..NatLimits::default()
        };
        let mut t = NatTable::new();
        let a = [192, 168, 30, 10];
        let z = Duration::ZERO;
        let id = t
            .insert(key(NatProto::Tcp, a, 1), [0; 6], None, &g, &limits, z)
            .unwrap();
        assert!(t
            .insert(key(NatProto::Tcp, a, 2), [0; 6], None, &g, &limits, z)
            .is_err());
        t.get_mut(id).unwrap().established = true;
        assert!(t
            .insert(key(NatProto::Tcp, a, 2), [0; 6], None, &g, &limits, z)
            .is_ok());
    }

    #[test]
    fn idle_flows_per_protocol_timeout() {
        let g = Guard::default();
        let l = NatLimits::default();
        let mut t = NatTable::new();
        let a = [192, 168, 30, 10];
        let s = Duration::from_secs;
        let tcp = t
            .insert(key(NatProto::Tcp, a, 1), [0; 6], None, &g, &l, s(0))
            .unwrap();
        let udp = t
            .insert(key(NatProto::Udp, a, 1), [0; 6], None, &g, &l, s(0))
            .unwrap();
        let icmp = t
            .insert(key(NatProto::Icmp, a, 1), [0; 6], None, &g, &l, s(0))
            .unwrap();
        assert!(t.idle(s(9), s(1800), s(60)).is_empty());
        assert_eq!(t.idle(s(10), s(1800), s(60)), vec![icmp]);
        t.get_mut(icmp).unwrap().last_active = s(10);
        assert_eq!(t.idle(s(20), s(1800), s(60)), vec![icmp]);
        t.get_mut(icmp).unwrap().last_active = s(55);
        assert_eq!(t.idle(s(60), s(1800), s(60)), vec![udp]);
        assert_eq!(t.idle(s(1800), s(1800), s(60)).len(), 3);
        assert!(t.idle(s(1800), s(1800), s(60)).contains(&tcp));
    }
}
