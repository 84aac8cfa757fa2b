//! The virtual DHCP server's state: the lease table and the answer to one
//! DHCP message. Behaviour of SoftEther src/Cedar/Virtual.c
//! (`VirtualDhcpServer`, `ServeDhcpDiscover`, `GetFreeDhcpIpAddress`).
//!
//! Sans-IO: [`DhcpServer::handle`] takes a decoded [`dhcproto`] message and
//! returns the reply message; framing lives in [`crate::host`].

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::time::Duration;

use dhcproto::v4::{DhcpOption, Message, MessageType, Opcode, OptionCode};

use crate::settings::VhOption;

/// Most leases (and, separately, most pending offers) kept at once. A pool
/// can be a /8; the table stays bounded whatever the pool (SoftEther keeps
/// an unbounded list).
pub const MAX_LEASES: usize = 4096;

/// How long an offered address stays reserved for the client it was offered
/// to (SoftEther: `NewDhcpLease(5000, ...)` for pending leases).
pub const PENDING_TTL: Duration = Duration::from_secs(5);

/// Longest host name stored with a lease (longer ones are cut).
pub const MAX_HOSTNAME_LEN: usize = 64;

/// One lease as `DhcpTable` lists it (SoftEther `DHCP_LEASE`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// Running number, as SoftEther's `Id`.
    pub id: u32,
    /// The client's MAC (from the Ethernet source).
    pub mac: [u8; 6],
    /// The leased address.
    pub ip: Ipv4Addr,
    /// Mask handed out with it.
    pub mask: Ipv4Addr,
    /// Host name option of the client (printable ASCII, ≤ [`MAX_HOSTNAME_LEN`]).
    pub hostname: String,
    /// When leased, on the host's clock.
    pub leased_at: Duration,
    /// When it expires, on the host's clock.
    pub expires_at: Duration,
}

/// Where to send a reply (SoftEther: to the request's source IP, or to
/// 255.255.255.255 when that is 0.0.0.0).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpReply {
    /// The reply message.
    pub msg: Message,
    /// IPv4 destination.
    pub dst_ip: Ipv4Addr,
}

/// The lease table plus pending offers.
#[derive(Debug, Default)]
pub struct DhcpServer {
    leases: Vec<Lease>,
    pending: Vec<Lease>,
    next_id: u32,
    generation: u64,
}

fn in_pool(o: &VhOption, ip: Ipv4Addr) -> bool {
    let v = u32::from(ip);
    u32::from(o.dhcp_lease_ip_start) <= v && v <= u32::from(o.dhcp_lease_ip_end)
}

fn clean_hostname(m: &Message) -> String {
    match m.opts().get(OptionCode::Hostname) {
        Some(DhcpOption::Hostname(h)) => h
            .chars()
            .filter(|c| c.is_ascii_graphic())
            .take(MAX_HOSTNAME_LEN)
            .collect(),
        _ => String::new(),
    }
}

impl DhcpServer {
    /// Empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Current leases, oldest first.
    pub fn leases(&self) -> &[Lease] {
        &self.leases
    }

    /// Drops expired leases and offers (SoftEther `PollingDhcpServer`).
    pub fn expire(&mut self, now: Duration) {
        let n = self.leases.len();
        self.leases.retain(|l| l.expires_at > now);
        if self.leases.len() != n {
            self.generation += 1;
        }
        self.pending.retain(|l| l.expires_at > now);
    }

    /// Forgets every lease (hub deleted, or the pool changed).
    pub fn clear(&mut self) {
        self.leases.clear();
        self.pending.clear();
        self.generation += 1;
    }

    /// Changes whenever the lease table changes (not the offers): the I/O
    /// side saves the leases when it moves.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// Takes back leases of an earlier run (the hub went offline and
    /// online, the settings changed, the server restarted), times on this
    /// server's clock. Kept: unexpired at `now`, inside the pool of `o`,
    /// not the host's own address, first per MAC and per address, at most
    /// [`MAX_LEASES`]; the rest are dropped.
    pub fn restore(&mut self, o: &VhOption, leases: Vec<Lease>, now: Duration) {
        for l in leases {
            if self.leases.len() >= MAX_LEASES {
                break;
            }
            if l.expires_at <= now
                || !in_pool(o, l.ip)
                || l.ip == o.ip
                || Self::by_ip(&self.leases, l.ip).is_some()
                || Self::by_mac(&self.leases, l.mac).is_some()
            {
                continue;
            }
            self.next_id = self.next_id.max(l.id);
            self.leases.push(l);
        }
        self.generation += 1;
    }

    fn by_ip(list: &[Lease], ip: Ipv4Addr) -> Option<usize> {
        list.iter().position(|l| l.ip == ip)
    }

    fn by_mac(list: &[Lease], mac: [u8; 6]) -> Option<usize> {
        list.iter().position(|l| l.mac == mac)
    }

    /// The address to offer `mac` (SoftEther `ServeDhcpDiscover`): the
    /// requested one if free or already this client's and in the pool, else
    /// the client's current one, else the lowest free one. `None` when the
    /// pool or the table is full.
    fn choose(&self, o: &VhOption, mac: [u8; 6], requested: Ipv4Addr) -> Option<Ipv4Addr> {
        if !requested.is_unspecified() && in_pool(o, requested) {
            let holder = Self::by_ip(&self.leases, requested)
                .map(|i| &self.leases[i])
                .or_else(|| Self::by_ip(&self.pending, requested).map(|i| &self.pending[i]));
            match holder {
                Some(l) if l.mac == mac => return Some(requested),
                None if self.leases.len() < MAX_LEASES => return Some(requested),
                _ => {}
            }
        }
        for list in [&self.leases, &self.pending] {
            if let Some(i) = Self::by_mac(list, mac) {
                if in_pool(o, list[i].ip) {
                    return Some(list[i].ip);
                }
            }
        }
        if self.leases.len() >= MAX_LEASES {
            return None;
        }
        // At most leases + pending addresses are taken, plus the host's own,
        // so scanning that many plus one finds a free one if the pool has
        // one: bounded work even for a /8 pool.
        let used: HashSet<Ipv4Addr> = self
            .leases
            .iter()
            .chain(self.pending.iter())
            .map(|l| l.ip)
            .collect();
        let start = u32::from(o.dhcp_lease_ip_start);
        let end = u32::from(o.dhcp_lease_ip_end);
        let span = u64::from(end - start.min(end)) + 1;
        let tries = span.min(used.len() as u64 + 2);
        (0..tries)
            .map(|i| Ipv4Addr::from(start.wrapping_add(i as u32)))
            .find(|ip| !used.contains(ip) && *ip != o.ip)
    }

    /// Answers one client message arriving from Ethernet source `mac` and IP
    /// source `src_ip` at time `now`. DISCOVER → OFFER (address reserved for
    /// [`PENDING_TTL`]), REQUEST → ACK (lease recorded) or NAK, INFORM → ACK
    /// without a lease, RELEASE → lease dropped, no reply. Anything else, or
    /// a REQUEST naming another server, gets no reply.
    pub fn handle(
        &mut self,
        o: &VhOption,
        mac: [u8; 6],
        src_ip: Ipv4Addr,
        req: &Message,
        now: Duration,
    ) -> Option<DhcpReply> {
        self.expire(now);
        // dhcproto's chaddr() panics past 16 bytes.
        if req.opcode() != Opcode::BootRequest || req.hlen() > 16 {
            return None;
        }
        let msg_type = req.opts().msg_type()?;
        let requested = match req.opts().get(OptionCode::RequestedIpAddress) {
            Some(DhcpOption::RequestedIpAddress(ip)) => *ip,
            _ if !req.ciaddr().is_unspecified() => req.ciaddr(),
            _ => src_ip,
        };
        let server_id = match req.opts().get(OptionCode::ServerIdentifier) {
            Some(DhcpOption::ServerIdentifier(ip)) => Some(*ip),
            _ => None,
        };
        let (reply_type, ip) = match msg_type {
            MessageType::Discover => (MessageType::Offer, self.choose(o, mac, requested)?),
            MessageType::Request => {
                if server_id.is_some_and(|s| s != o.ip) {
                    // The client took another server's offer.
                    if let Some(i) = Self::by_mac(&self.pending, mac) {
                        self.pending.remove(i);
                    }
                    return None;
                }
                match self.choose(o, mac, requested) {
                    Some(ip) if requested.is_unspecified() || ip == requested => {
                        (MessageType::Ack, ip)
                    }
                    _ => {
                        tracing::info!("SecureNAT DHCP: NAK to {} for {requested}", fmt_mac(mac));
                        return Some(self.nak(o, req, src_ip));
                    }
                }
            }
            MessageType::Inform => (MessageType::Ack, Ipv4Addr::UNSPECIFIED),
            MessageType::Release => {
                if let Some(i) = Self::by_mac(&self.leases, mac) {
                    if self.leases[i].ip == req.ciaddr() {
                        self.leases.remove(i);
                        self.generation += 1;
                    }
                }
                return None;
            }
            _ => return None,
        };
        let hostname = clean_hostname(req);
        let lease_secs = o.lease_secs();
        match msg_type {
            MessageType::Request => {
                for list in [&mut self.leases, &mut self.pending] {
                    list.retain(|l| l.mac != mac && l.ip != ip);
                }
                self.next_id = self.next_id.wrapping_add(1);
                self.generation += 1;
                self.leases.push(Lease {
                    id: self.next_id,
                    mac,
                    ip,
                    mask: o.dhcp_subnet_mask,
                    hostname,
                    leased_at: now,
                    expires_at: now + Duration::from_secs(u64::from(lease_secs)),
                });
                tracing::info!(
                    "SecureNAT DHCP: leased {ip} to {} for {lease_secs} s",
                    fmt_mac(mac)
                );
            }
            MessageType::Discover => {
                self.pending.retain(|l| l.mac != mac);
                if self.pending.len() >= MAX_LEASES {
                    self.pending.remove(0);
                }
                self.pending.push(Lease {
                    id: 0,
                    mac,
                    ip,
                    mask: o.dhcp_subnet_mask,
                    hostname,
                    leased_at: now,
                    expires_at: now + PENDING_TTL,
                });
            }
            _ => {}
        }
        let mut msg = base_reply(o, req, ip);
        let opts = msg.opts_mut();
        opts.insert(DhcpOption::MessageType(reply_type));
        opts.insert(DhcpOption::ServerIdentifier(o.ip));
        if msg_type != MessageType::Inform {
            opts.insert(DhcpOption::AddressLeaseTime(lease_secs));
        }
        opts.insert(DhcpOption::SubnetMask(o.dhcp_subnet_mask));
        if !o.dhcp_gateway.is_unspecified() {
            opts.insert(DhcpOption::Router(vec![o.dhcp_gateway]));
        }
        let dns: Vec<Ipv4Addr> = [o.dhcp_dns, o.dhcp_dns2]
            .into_iter()
            .filter(|a| !a.is_unspecified())
            .collect();
        if !dns.is_empty() {
            opts.insert(DhcpOption::DomainNameServer(dns));
        }
        if !o.dhcp_domain.is_empty() {
            opts.insert(DhcpOption::DomainName(o.dhcp_domain.clone()));
        }
        let routes: Vec<(ipnet::Ipv4Net, Ipv4Addr)> = o
            .push_routes()
            .into_iter()
            .filter_map(|r| {
                ipnet::Ipv4Net::new(r.network, r.prefix)
                    .ok()
                    .map(|n| (n, r.gateway))
            })
            .collect();
        if !routes.is_empty() {
            opts.insert(DhcpOption::ClasslessStaticRoute(routes));
        }
        Some(DhcpReply {
            msg,
            dst_ip: reply_dst(src_ip),
        })
    }

    fn nak(&self, o: &VhOption, req: &Message, src_ip: Ipv4Addr) -> DhcpReply {
        let mut msg = base_reply(o, req, Ipv4Addr::UNSPECIFIED);
        msg.opts_mut()
            .insert(DhcpOption::MessageType(MessageType::Nak));
        msg.opts_mut().insert(DhcpOption::ServerIdentifier(o.ip));
        DhcpReply {
            msg,
            dst_ip: reply_dst(src_ip),
        }
    }
}

fn reply_dst(src_ip: Ipv4Addr) -> Ipv4Addr {
    if src_ip.is_unspecified() {
        Ipv4Addr::BROADCAST
    } else {
        src_ip
    }
}

fn base_reply(o: &VhOption, req: &Message, yiaddr: Ipv4Addr) -> Message {
    let chaddr = req.chaddr();
    let mut msg = Message::new_with_id(
        req.xid(),
        req.ciaddr(),
        yiaddr,
        o.ip,
        req.giaddr(),
        &chaddr[..chaddr.len().min(16)],
    );
    msg.set_opcode(Opcode::BootReply)
        .set_htype(req.htype())
        .set_flags(req.flags());
    msg
}

/// Size of the fixed BOOTP part including the magic cookie.
const BOOTP_FIXED: usize = 240;
const MAGIC_COOKIE: [u8; 4] = [99, 130, 83, 99];

/// Why a client message was not decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    /// Shorter than the fixed BOOTP part, or larger than a frame.
    #[error("DHCP message has a bad length")]
    Length,
    /// `hlen` over 16.
    #[error("DHCP hardware address length over 16")]
    HardwareLength,
    /// No magic cookie at offset 236.
    #[error("DHCP magic cookie missing")]
    Cookie,
    /// An option runs past the end or has the wrong size.
    #[error("DHCP option malformed")]
    Option,
    /// dhcproto refused the message.
    #[error("DHCP message undecodable")]
    Decode,
}

/// Options the server reads from clients, with their allowed lengths.
fn option_len_ok(code: u8, len: usize) -> Option<bool> {
    match code {
        53 => Some(len == 1),                 // message type
        50 | 54 => Some(len == 4),            // requested address, server id
        12 => Some((1..=255).contains(&len)), // host name
        61 => Some(len >= 2),                 // client identifier
        _ => None,                            // not read: dropped
    }
}

/// Decodes a client's DHCP message after checking it by hand and keeping
/// only the options the server reads (53, 50, 54, 12, 61). dhcproto 0.13
/// panics on some hostile input (`hlen` over 16; wrong-length options trip
/// `debug_assert!`s), so it never sees raw client bytes.
///
/// # Errors
/// [`RequestError`] saying what was wrong.
pub fn decode_request(bytes: &[u8]) -> Result<Message, RequestError> {
    use dhcproto::Decodable;
    if bytes.len() < BOOTP_FIXED || bytes.len() > crate::host::MAX_FRAME {
        return Err(RequestError::Length);
    }
    if bytes[2] > 16 {
        return Err(RequestError::HardwareLength);
    }
    if bytes[236..240] != MAGIC_COOKIE {
        return Err(RequestError::Cookie);
    }
    let mut clean = bytes[..BOOTP_FIXED].to_vec();
    let mut i = BOOTP_FIXED;
    while i < bytes.len() {
        let code = bytes[i];
        match code {
            0 => {
                i += 1;
                continue;
            }
            255 => break,
            _ => {}
        }
        let len = usize::from(*bytes.get(i + 1).ok_or(RequestError::Option)?);
        let body = bytes.get(i + 2..i + 2 + len).ok_or(RequestError::Option)?;
        match option_len_ok(code, len) {
            Some(true) => {
                clean.push(code);
                clean.push(body.len() as u8);
                clean.extend_from_slice(body);
            }
            Some(false) => return Err(RequestError::Option),
            None => {}
        }
        i += 2 + len;
    }
    clean.push(255);
    Message::from_bytes(&clean).map_err(|_| RequestError::Decode)
}

/// `00-11-22-33-44-55`, SoftEther's MAC notation.
pub fn fmt_mac(mac: [u8; 6]) -> String {
    let [a, b, c, d, e, f] = mac;
    format!("{a:02X}-{b:02X}-{c:02X}-{d:02X}-{e:02X}-{f:02X}")
}

#[cfg(test)]
mod tests {
    use super::*;
    use dhcproto::Encodable;

    fn discover(mac: [u8; 6]) -> Message {
        let mut m = Message::new_with_id(
            1,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            &mac,
        );
        m.opts_mut()
            .insert(DhcpOption::MessageType(MessageType::Discover));
        m
    }

    fn request(mac: [u8; 6], ip: Ipv4Addr) -> Message {
        let mut m = discover(mac);
        m.opts_mut()
            .insert(DhcpOption::MessageType(MessageType::Request));
        m.opts_mut().insert(DhcpOption::RequestedIpAddress(ip));
        m
    }

    #[test]
    fn lease_table_is_bounded_even_for_a_huge_pool() {
        let o = VhOption {
            dhcp_lease_ip_start: Ipv4Addr::new(10, 0, 0, 1),
            dhcp_lease_ip_end: Ipv4Addr::new(10, 255, 255, 254),
            dhcp_subnet_mask: Ipv4Addr::new(255, 0, 0, 0),
            ..VhOption::default()
        };
        let mut s = DhcpServer::new();
        let now = Duration::from_secs(1);
        for i in 0..=MAX_LEASES as u32 {
            let b = i.to_be_bytes();
            let mac = [2, 0, b[0], b[1], b[2], b[3]];
            let ip = Ipv4Addr::from(0x0a00_0001 + i);
            let r = s.handle(&o, mac, Ipv4Addr::UNSPECIFIED, &request(mac, ip), now);
            let ty = r.and_then(|r| r.msg.opts().msg_type());
            if (i as usize) < MAX_LEASES {
                assert_eq!(ty, Some(MessageType::Ack), "client {i}");
            } else {
                assert_eq!(ty, Some(MessageType::Nak), "table full");
            }
        }
        assert_eq!(s.leases().len(), MAX_LEASES);
        // Discover of a new client when full: no offer.
        assert!(s
            .handle(
                &o,
                [2, 9, 9, 9, 9, 9],
                Ipv4Addr::UNSPECIFIED,
                &discover([2, 9, 9, 9, 9, 9]),
                now
            )
            .is_none());
    }

    #[test]
    fn oversized_hardware_length_is_refused_without_panic() {
        let mut bytes = discover([2, 0, 0, 0, 0, 1]).to_vec().unwrap_or_default();
        bytes[2] = 200;
        assert_eq!(
            decode_request(&bytes).unwrap_err(),
            RequestError::HardwareLength
        );
    }

    #[test]
    fn pool_scan_skips_the_host_address() {
        let o = VhOption {
            dhcp_lease_ip_start: Ipv4Addr::new(192, 168, 30, 1),
            dhcp_lease_ip_end: Ipv4Addr::new(192, 168, 30, 2),
            ..VhOption::default()
        };
        let mut s = DhcpServer::new();
        let r = s
            .handle(
                &o,
                [2, 0, 0, 0, 0, 1],
                Ipv4Addr::UNSPECIFIED,
                &discover([2, 0, 0, 0, 0, 1]),
                Duration::ZERO,
            )
            .unwrap();
        assert_eq!(r.msg.yiaddr(), Ipv4Addr::new(192, 168, 30, 2));
    }
}

#[cfg(test)]
mod decode_tests {
    use super::*;
    use dhcproto::Encodable;

    fn valid() -> Vec<u8> {
        let mut m = Message::new_with_id(
            9,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::UNSPECIFIED,
            &[2, 0, 0, 0, 0, 1],
        );
        m.opts_mut()
            .insert(DhcpOption::MessageType(MessageType::Discover));
        m.to_vec().unwrap_or_default()
    }

    #[test]
    fn wrong_length_options_are_refused_not_asserted() {
        // Rapid commit (80) with a length, a 3-byte message type: dhcproto
        // would debug_assert on the first; we drop it, and refuse the second.
        let mut b = valid();
        b.truncate(240);
        b.extend_from_slice(&[80, 2, 0, 0, 53, 1, 1, 255]);
        let m = decode_request(&b).unwrap();
        assert_eq!(m.opts().msg_type(), Some(MessageType::Discover));
        assert!(m.opts().get(OptionCode::RapidCommit).is_none());
        b.truncate(240);
        b.extend_from_slice(&[53, 3, 1, 1, 1, 255]);
        assert_eq!(decode_request(&b).unwrap_err(), RequestError::Option);
        b.truncate(240);
        b.extend_from_slice(&[12, 200, b'x']);
        assert_eq!(decode_request(&b).unwrap_err(), RequestError::Option);
        b.truncate(230);
        assert_eq!(decode_request(&b).unwrap_err(), RequestError::Length);
        let mut c = valid();
        c[236] = 0;
        assert_eq!(decode_request(&c).unwrap_err(), RequestError::Cookie);
    }

    #[test]
    fn random_bytes_after_the_header_never_panic() {
        let base = valid();
        for seed in 0..20_000u32 {
            let mut b = base[..240].to_vec();
            let mut x = seed.wrapping_mul(2_654_435_761);
            for _ in 0..(seed % 64) {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                b.push(x as u8);
            }
            b[2] = (seed % 20) as u8;
            let _ = decode_request(&b);
        }
    }
}
