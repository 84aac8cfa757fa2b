//! Frame-level tests of the virtual host with real DHCP messages built by
//! dhcproto and packets built by smoltcp's wire types.

use super::*;
use dhcproto::v4::{DhcpOption, Message, MessageType, Opcode, OptionCode};
use dhcproto::Decodable;
use smoltcp::wire::{ArpOperation, Icmpv4Packet, Icmpv4Repr};

const CLIENT: [u8; 6] = [0x02, 0, 0, 0, 0, 0x01];
const CLIENT2: [u8; 6] = [0x02, 0, 0, 0, 0, 0x02];
const HOST_MAC: [u8; 6] = [0x5E, 0x11, 0x22, 0x33, 0x44, 0x55];
const HOST: Ipv4Addr = Ipv4Addr::new(192, 168, 30, 1);

fn t(secs: u64) -> Duration {
    Duration::from_secs(secs)
}

fn host(opt: VhOption) -> VirtualHost {
    VirtualHost::new(opt, t(0)).unwrap()
}

fn default_host() -> VirtualHost {
    host(VhOption {
        mac: HOST_MAC,
        ..VhOption::default()
    })
}

fn drain(h: &mut VirtualHost) -> Vec<Vec<u8>> {
    std::iter::from_fn(|| h.pop_frame()).collect()
}

fn eth(src: [u8; 6], dst: EthernetAddress, proto: EthernetProtocol, payload: &[u8]) -> Vec<u8> {
    let repr = EthernetRepr {
        src_addr: EthernetAddress(src),
        dst_addr: dst,
        ethertype: proto,
    };
    let mut buf = vec![0u8; repr.buffer_len() + payload.len()];
    let mut f = EthernetFrame::new_unchecked(&mut buf[..]);
    repr.emit(&mut f);
    f.payload_mut().copy_from_slice(payload);
    buf
}

fn udp_frame(
    src: [u8; 6],
    src_ip: Ipv4Addr,
    dst_ip: Ipv4Addr,
    sport: u16,
    dport: u16,
    payload: &[u8],
) -> Vec<u8> {
    let caps = ChecksumCapabilities::default();
    let udp = UdpRepr {
        src_port: sport,
        dst_port: dport,
    };
    let ip = Ipv4Repr {
        src_addr: src_ip,
        dst_addr: dst_ip,
        next_header: IpProtocol::Udp,
        payload_len: udp.header_len() + payload.len(),
        hop_limit: 64,
    };
    let mut buf = vec![0u8; ip.buffer_len() + ip.payload_len];
    let mut p = Ipv4Packet::new_unchecked(&mut buf[..]);
    ip.emit(&mut p, &caps);
    let mut u = UdpPacket::new_unchecked(p.payload_mut());
    udp.emit(
        &mut u,
        &src_ip.into(),
        &dst_ip.into(),
        payload.len(),
        |b| b.copy_from_slice(payload),
        &caps,
    );
    let dst_mac = if dst_ip.is_broadcast() {
        EthernetAddress::BROADCAST
    } else {
        EthernetAddress(HOST_MAC)
    };
    eth(src, dst_mac, EthernetProtocol::Ipv4, &buf)
}

fn dhcp_msg(
    mac: [u8; 6],
    ty: MessageType,
    requested: Option<Ipv4Addr>,
    server: Option<Ipv4Addr>,
) -> Message {
    let mut m = Message::new_with_id(
        0x1234_5678,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::UNSPECIFIED,
        &mac,
    );
    m.set_opcode(Opcode::BootRequest);
    m.opts_mut().insert(DhcpOption::MessageType(ty));
    m.opts_mut()
        .insert(DhcpOption::Hostname("client\u{7}one".into()));
    if let Some(r) = requested {
        m.opts_mut().insert(DhcpOption::RequestedIpAddress(r));
    }
    if let Some(s) = server {
        m.opts_mut().insert(DhcpOption::ServerIdentifier(s));
    }
    m
}

/// Sends a DHCP message broadcast from 0.0.0.0:68 and returns the decoded
/// reply with the reply frame's destination MAC and IP.
fn dhcp_exchange(
    h: &mut VirtualHost,
    mac: [u8; 6],
    m: &Message,
    now: Duration,
) -> Option<(Message, EthernetAddress, Ipv4Addr)> {
    let frame = udp_frame(
        mac,
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::BROADCAST,
        68,
        67,
        &m.to_vec().unwrap(),
    );
    h.input(&frame, now);
    let out = drain(h);
    assert!(out.len() <= 1, "one reply at most");
    let f = out.first()?;
    let e = EthernetFrame::new_checked(&f[..]).unwrap();
    assert_eq!(e.src_addr(), EthernetAddress(HOST_MAC));
    let ip = Ipv4Packet::new_checked(e.payload()).unwrap();
    assert_eq!(ip.src_addr(), HOST);
    assert!(ip.verify_checksum());
    let udp = UdpPacket::new_checked(ip.payload()).unwrap();
    assert_eq!((udp.src_port(), udp.dst_port()), (67, 68));
    assert!(udp.payload().len() >= DHCP_MIN_SIZE);
    let reply = Message::from_bytes(udp.payload()).unwrap();
    assert_eq!(reply.opcode(), Opcode::BootReply);
    assert_eq!(reply.xid(), m.xid());
    assert_eq!(&reply.chaddr()[..6], &mac);
    Some((reply, e.dst_addr(), ip.dst_addr()))
}

fn lease(h: &mut VirtualHost, mac: [u8; 6], now: Duration) -> Ipv4Addr {
    let (offer, _, _) = dhcp_exchange(
        h,
        mac,
        &dhcp_msg(mac, MessageType::Discover, None, None),
        now,
    )
    .unwrap();
    assert_eq!(offer.opts().msg_type(), Some(MessageType::Offer));
    let ip = offer.yiaddr();
    let (ack, _, _) = dhcp_exchange(
        h,
        mac,
        &dhcp_msg(mac, MessageType::Request, Some(ip), Some(HOST)),
        now,
    )
    .unwrap();
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(ack.yiaddr(), ip);
    ip
}

#[test]
fn dhcp_discover_request_gets_softether_defaults() {
    let mut h = default_host();
    let (offer, dst_mac, dst_ip) = dhcp_exchange(
        &mut h,
        CLIENT,
        &dhcp_msg(CLIENT, MessageType::Discover, None, None),
        t(1),
    )
    .unwrap();
    assert_eq!(dst_mac, EthernetAddress::BROADCAST);
    assert_eq!(dst_ip, Ipv4Addr::BROADCAST);
    assert_eq!(offer.opts().msg_type(), Some(MessageType::Offer));
    assert_eq!(offer.yiaddr(), Ipv4Addr::new(192, 168, 30, 10));
    let o = offer.opts();
    assert_eq!(
        o.get(OptionCode::ServerIdentifier),
        Some(&DhcpOption::ServerIdentifier(HOST))
    );
    assert_eq!(
        o.get(OptionCode::AddressLeaseTime),
        Some(&DhcpOption::AddressLeaseTime(7200))
    );
    assert_eq!(
        o.get(OptionCode::SubnetMask),
        Some(&DhcpOption::SubnetMask(Ipv4Addr::new(255, 255, 255, 0)))
    );
    assert_eq!(
        o.get(OptionCode::Router),
        Some(&DhcpOption::Router(vec![HOST]))
    );
    assert_eq!(
        o.get(OptionCode::DomainNameServer),
        Some(&DhcpOption::DomainNameServer(vec![HOST]))
    );
    assert!(o.get(OptionCode::ClasslessStaticRoute).is_none());
    assert!(h.leases().is_empty(), "an offer is not a lease");

    let (ack, _, _) = dhcp_exchange(
        &mut h,
        CLIENT,
        &dhcp_msg(
            CLIENT,
            MessageType::Request,
            Some(offer.yiaddr()),
            Some(HOST),
        ),
        t(2),
    )
    .unwrap();
    assert_eq!(ack.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(ack.yiaddr(), offer.yiaddr());
    let leases = h.leases();
    assert_eq!(leases.len(), 1);
    assert_eq!(leases[0].mac, CLIENT);
    assert_eq!(leases[0].ip, offer.yiaddr());
    assert_eq!(
        leases[0].hostname, "clientone",
        "control characters removed"
    );
    assert_eq!(leases[0].expires_at, t(2 + 7200));
    assert_eq!(h.stats().dhcp_replies, 2);
}

#[test]
fn second_client_gets_next_address_and_first_keeps_its_own() {
    let mut h = default_host();
    let a = lease(&mut h, CLIENT, t(1));
    let b = lease(&mut h, CLIENT2, t(1));
    assert_eq!(a, Ipv4Addr::new(192, 168, 30, 10));
    assert_eq!(b, Ipv4Addr::new(192, 168, 30, 11));
    // A rediscover by the first client is offered its own address again.
    assert_eq!(lease(&mut h, CLIENT, t(5)), a);
    assert_eq!(h.leases().len(), 2);
}

#[test]
fn request_for_a_taken_or_foreign_address_is_nakked() {
    let mut h = default_host();
    let a = lease(&mut h, CLIENT, t(1));
    for wanted in [a, Ipv4Addr::new(10, 1, 2, 3)] {
        let (nak, _, _) = dhcp_exchange(
            &mut h,
            CLIENT2,
            &dhcp_msg(CLIENT2, MessageType::Request, Some(wanted), None),
            t(2),
        )
        .unwrap();
        assert_eq!(nak.opts().msg_type(), Some(MessageType::Nak));
        assert_eq!(nak.yiaddr(), Ipv4Addr::UNSPECIFIED);
    }
    assert_eq!(h.leases().len(), 1);
    // A REQUEST naming another server is not ours to answer.
    let other = Ipv4Addr::new(192, 168, 30, 254);
    assert!(dhcp_exchange(
        &mut h,
        CLIENT2,
        &dhcp_msg(
            CLIENT2,
            MessageType::Request,
            Some(Ipv4Addr::new(192, 168, 30, 50)),
            Some(other)
        ),
        t(3)
    )
    .is_none());
}

#[test]
fn leases_expire_on_the_injected_clock_and_release_frees() {
    let mut h = host(VhOption {
        mac: HOST_MAC,
        dhcp_expire_secs: 60,
        ..VhOption::default()
    });
    lease(&mut h, CLIENT, t(0));
    h.poll(t(59));
    assert_eq!(h.leases().len(), 1);
    h.poll(t(60));
    assert!(h.leases().is_empty());

    let ip = lease(&mut h, CLIENT, t(100));
    let mut rel = dhcp_msg(CLIENT, MessageType::Release, None, Some(HOST));
    rel.set_ciaddr(ip);
    let frame = udp_frame(CLIENT, ip, HOST, 68, 67, &rel.to_vec().unwrap());
    h.input(&frame, t(101));
    assert!(drain(&mut h).is_empty());
    assert!(h.leases().is_empty());
}

#[test]
fn full_pool_gets_no_offer_and_offers_are_reserved_briefly() {
    let mut h = host(VhOption {
        mac: HOST_MAC,
        dhcp_lease_ip_start: Ipv4Addr::new(192, 168, 30, 10),
        dhcp_lease_ip_end: Ipv4Addr::new(192, 168, 30, 10),
        ..VhOption::default()
    });
    let d = |mac| dhcp_msg(mac, MessageType::Discover, None, None);
    assert!(dhcp_exchange(&mut h, CLIENT, &d(CLIENT), t(0)).is_some());
    // Offered to CLIENT for 5 s: nothing for CLIENT2 meanwhile.
    assert!(dhcp_exchange(&mut h, CLIENT2, &d(CLIENT2), t(1)).is_none());
    // After the offer lapses CLIENT2 may have it.
    let (offer, _, _) = dhcp_exchange(&mut h, CLIENT2, &d(CLIENT2), t(6)).unwrap();
    assert_eq!(offer.yiaddr(), Ipv4Addr::new(192, 168, 30, 10));
}

#[test]
fn renewal_is_answered_unicast_and_settings_are_pushed() {
    let mut h = host(VhOption {
        mac: HOST_MAC,
        dhcp_dns2: Ipv4Addr::new(9, 9, 9, 9),
        dhcp_domain: "vpn.example".into(),
        dhcp_gateway: Ipv4Addr::UNSPECIFIED,
        apply_dhcp_push_routes: true,
        dhcp_push_routes: "10.0.0.0/8/192.168.30.1".into(),
        ..VhOption::default()
    });
    let ip = lease(&mut h, CLIENT, t(0));
    let mut renew = dhcp_msg(CLIENT, MessageType::Request, None, None);
    renew.set_ciaddr(ip);
    let frame = udp_frame(CLIENT, ip, HOST, 68, 67, &renew.to_vec().unwrap());
    h.input(&frame, t(3600));
    let out = drain(&mut h);
    assert_eq!(out.len(), 1);
    let e = EthernetFrame::new_checked(&out[0][..]).unwrap();
    assert_eq!(e.dst_addr(), EthernetAddress(CLIENT));
    let ipp = Ipv4Packet::new_checked(e.payload()).unwrap();
    assert_eq!(ipp.dst_addr(), ip);
    let m = Message::from_bytes(UdpPacket::new_checked(ipp.payload()).unwrap().payload()).unwrap();
    assert_eq!(m.opts().msg_type(), Some(MessageType::Ack));
    assert_eq!(m.yiaddr(), ip);
    let o = m.opts();
    assert!(o.get(OptionCode::Router).is_none(), "no gateway configured");
    assert_eq!(
        o.get(OptionCode::DomainNameServer),
        Some(&DhcpOption::DomainNameServer(vec![
            HOST,
            Ipv4Addr::new(9, 9, 9, 9)
        ]))
    );
    assert_eq!(
        o.get(OptionCode::DomainName),
        Some(&DhcpOption::DomainName("vpn.example".into()))
    );
    assert_eq!(
        o.get(OptionCode::ClasslessStaticRoute),
        Some(&DhcpOption::ClasslessStaticRoute(vec![(
            "10.0.0.0/8".parse().unwrap(),
            HOST
        )]))
    );
    assert_eq!(h.leases()[0].expires_at, t(3600 + 7200));
}

#[test]
fn dhcp_off_means_no_answer() {
    let mut h = host(VhOption {
        mac: HOST_MAC,
        use_dhcp: false,
        ..VhOption::default()
    });
    assert!(dhcp_exchange(
        &mut h,
        CLIENT,
        &dhcp_msg(CLIENT, MessageType::Discover, None, None),
        t(0)
    )
    .is_none());
}

fn arp(src: [u8; 6], src_ip: Ipv4Addr, target: Ipv4Addr) -> Vec<u8> {
    let repr = ArpRepr::EthernetIpv4 {
        operation: ArpOperation::Request,
        source_hardware_addr: EthernetAddress(src),
        source_protocol_addr: src_ip,
        target_hardware_addr: EthernetAddress([0; 6]),
        target_protocol_addr: target,
    };
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(&mut ArpPacket::new_unchecked(&mut buf[..]));
    eth(src, EthernetAddress::BROADCAST, EthernetProtocol::Arp, &buf)
}

#[test]
fn arp_is_answered_for_the_host_address_only() {
    let mut h = default_host();
    let me = Ipv4Addr::new(192, 168, 30, 10);
    h.input(&arp(CLIENT, me, HOST), t(0));
    let out = drain(&mut h);
    assert_eq!(out.len(), 1);
    let e = EthernetFrame::new_checked(&out[0][..]).unwrap();
    assert_eq!(e.dst_addr(), EthernetAddress(CLIENT));
    let r = ArpRepr::parse(&ArpPacket::new_checked(e.payload()).unwrap()).unwrap();
    assert_eq!(
        r,
        ArpRepr::EthernetIpv4 {
            operation: ArpOperation::Reply,
            source_hardware_addr: EthernetAddress(HOST_MAC),
            source_protocol_addr: HOST,
            target_hardware_addr: EthernetAddress(CLIENT),
            target_protocol_addr: me,
        }
    );
    // Another client's address is not ours to claim.
    h.input(&arp(CLIENT, me, Ipv4Addr::new(192, 168, 30, 11)), t(0));
    assert!(drain(&mut h).is_empty());
}

/// IPv4 ICMP echo request packets (fragmented to `frag` bytes of payload
/// per fragment, a multiple of 8) as Ethernet frames to the host.
fn echo_frames(src_ip: Ipv4Addr, data: &[u8], frag: usize) -> Vec<Vec<u8>> {
    let caps = ChecksumCapabilities::default();
    let icmp = Icmpv4Repr::EchoRequest {
        ident: 7,
        seq_no: 1,
        data,
    };
    let mut icmp_buf = vec![0u8; icmp.buffer_len()];
    icmp.emit(&mut Icmpv4Packet::new_unchecked(&mut icmp_buf[..]), &caps);
    icmp_buf
        .chunks(frag)
        .enumerate()
        .map(|(i, chunk)| {
            let ip = Ipv4Repr {
                src_addr: src_ip,
                dst_addr: HOST,
                next_header: IpProtocol::Icmp,
                payload_len: chunk.len(),
                hop_limit: 64,
            };
            let mut buf = vec![0u8; ip.buffer_len() + chunk.len()];
            let mut p = Ipv4Packet::new_unchecked(&mut buf[..]);
            ip.emit(&mut p, &caps);
            p.set_ident(0x4242);
            p.set_more_frags((i + 1) * frag < icmp_buf.len());
            p.set_frag_offset((i * frag) as u16);
            p.fill_checksum();
            p.payload_mut().copy_from_slice(chunk);
            eth(
                CLIENT,
                EthernetAddress(HOST_MAC),
                EthernetProtocol::Ipv4,
                &buf,
            )
        })
        .collect()
}

/// Collects echo replies from output frames: returns total ICMP bytes per
/// reassembled reply (the reply may itself be fragmented).
fn echo_reply_bytes(frames: &[Vec<u8>], mtu: usize) -> usize {
    let mut total = 0;
    for f in frames {
        assert!(f.len() <= mtu + 14, "frame over MTU: {}", f.len());
        let e = EthernetFrame::new_checked(&f[..]).unwrap();
        assert_eq!(e.ethertype(), EthernetProtocol::Ipv4);
        let ip = Ipv4Packet::new_checked(e.payload()).unwrap();
        assert_eq!(ip.src_addr(), HOST);
        assert_eq!(ip.next_header(), IpProtocol::Icmp);
        if ip.frag_offset() == 0 {
            assert_eq!(ip.payload()[0], 0, "ICMP echo reply type");
        }
        total += ip.payload().len();
    }
    total
}

#[test]
fn ping_to_the_host_is_answered() {
    let mut h = default_host();
    let me = Ipv4Addr::new(192, 168, 30, 10);
    h.input(&arp(CLIENT, me, HOST), t(0));
    drain(&mut h);
    for f in echo_frames(me, b"hello", 1480) {
        h.input(&f, t(1));
    }
    let out = drain(&mut h);
    assert_eq!(out.len(), 1);
    assert_eq!(echo_reply_bytes(&out, 1500), 8 + 5);
}

#[test]
fn fragmented_ping_is_reassembled_and_the_reply_respects_the_mtu() {
    let mut h = nat_host(1000);
    let data = vec![0xA5u8; 4000];
    let frags = echo_frames(ME, &data, 1480);
    assert_eq!(frags.len(), 3);
    // Out of order: the last fragment first.
    h.input(&frags[2], t(1));
    h.input(&frags[0], t(1));
    assert!(drain(&mut h).is_empty(), "incomplete datagram not answered");
    h.input(&frags[1], t(1));
    let out = drain(&mut h);
    assert!(out.len() >= 5, "4008 bytes at MTU 1000 need 5 fragments");
    assert_eq!(echo_reply_bytes(&out, 1000), 8 + 4000);
}

#[test]
fn datagrams_over_the_reassembly_bound_are_dropped() {
    let mut h = default_host();
    let me = Ipv4Addr::new(192, 168, 30, 10);
    h.input(&arp(CLIENT, me, HOST), t(0));
    drain(&mut h);
    let data = vec![0u8; 20_000];
    for f in echo_frames(me, &data, 1480) {
        h.input(&f, t(1));
    }
    assert!(drain(&mut h).is_empty());
    // The host still works afterwards.
    for f in echo_frames(me, b"x", 1480) {
        h.input(&f, t(2));
    }
    assert_eq!(drain(&mut h).len(), 1);
}

#[test]
fn fragment_flood_stays_bounded_and_later_pings_work() {
    let mut h = default_host();
    let me = Ipv4Addr::new(192, 168, 30, 10);
    h.input(&arp(CLIENT, me, HOST), t(0));
    drain(&mut h);
    // Thousands of first fragments with distinct idents, never completed.
    let data = vec![0u8; 3000];
    let first = echo_frames(me, &data, 1480).remove(0);
    for ident in 0..5000u16 {
        let mut f = first.clone();
        let mut e = EthernetFrame::new_unchecked(&mut f[..]);
        let mut p = Ipv4Packet::new_unchecked(e.payload_mut());
        p.set_ident(ident);
        p.fill_checksum();
        h.input(&f, t(1));
    }
    assert!(drain(&mut h).is_empty());
    for f in echo_frames(me, b"after", 1480) {
        h.input(&f, t(2));
    }
    assert_eq!(drain(&mut h).len(), 1);
}

#[test]
fn garbage_frames_never_panic() {
    let mut h = default_host();
    let mut rng = rand::thread_rng();
    let templates = [
        arp(CLIENT, Ipv4Addr::new(192, 168, 30, 10), HOST),
        udp_frame(
            CLIENT,
            Ipv4Addr::UNSPECIFIED,
            Ipv4Addr::BROADCAST,
            68,
            67,
            &dhcp_msg(CLIENT, MessageType::Discover, None, None)
                .to_vec()
                .unwrap(),
        ),
        echo_frames(Ipv4Addr::new(192, 168, 30, 10), b"abc", 1480).remove(0),
    ];
    for i in 0..3000 {
        let mut f = templates[i % templates.len()].clone();
        let n = rand::Rng::gen_range(&mut rng, 0..f.len());
        f.truncate(if i % 3 == 0 { n } else { f.len() });
        for _ in 0..4 {
            if f.len() > 14 {
                let at = rand::Rng::gen_range(&mut rng, 14..f.len());
                f[at] = rand::Rng::gen(&mut rng);
            }
        }
        h.input(&f, t(1));
        drain(&mut h);
    }
    h.input(&vec![0u8; MAX_FRAME + 1], t(1));
    assert!(h.stats().frames_dropped > 0);
}

#[test]
fn frames_for_other_macs_are_ignored() {
    let mut h = default_host();
    let mut f = arp(CLIENT, Ipv4Addr::new(192, 168, 30, 10), HOST);
    f[..6].copy_from_slice(&CLIENT2);
    h.input(&f, t(0));
    assert!(drain(&mut h).is_empty());
    assert_eq!(h.stats().frames_dropped, 1);
}

// ---- NAT ----

use crate::nat::{Guard, NatLimits, NatProto};
use smoltcp::wire::{TcpControl, TcpPacket, TcpRepr, TcpSeqNumber};

const ME: Ipv4Addr = Ipv4Addr::new(192, 168, 30, 10);
const FAR: Ipv4Addr = Ipv4Addr::new(10, 9, 9, 9);

fn nat_host(mtu: u16) -> VirtualHost {
    let mut h = host(VhOption {
        mac: HOST_MAC,
        mtu,
        ..VhOption::default()
    });
    h.input(&arp(CLIENT, ME, HOST), t(0));
    drain(&mut h);
    h
}

fn ip_frame(src: Ipv4Addr, dst: Ipv4Addr, proto: IpProtocol, l4: &[u8]) -> Vec<u8> {
    let ip = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        next_header: proto,
        payload_len: l4.len(),
        hop_limit: 64,
    };
    let mut buf = vec![0u8; ip.buffer_len() + l4.len()];
    let mut p = Ipv4Packet::new_unchecked(&mut buf[..]);
    ip.emit(&mut p, &ChecksumCapabilities::default());
    p.payload_mut().copy_from_slice(l4);
    eth(
        CLIENT,
        EthernetAddress(HOST_MAC),
        EthernetProtocol::Ipv4,
        &buf,
    )
}

#[allow(clippy::too_many_arguments)]
fn tcp_seg(
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    control: TcpControl,
    seq: u32,
    ack: Option<u32>,
    mss: Option<u16>,
    payload: &[u8],
) -> Vec<u8> {
    let repr = TcpRepr {
        src_port: sport,
        dst_port: dport,
        control,
        seq_number: TcpSeqNumber(seq as i32),
        ack_number: ack.map(|a| TcpSeqNumber(a as i32)),
        window_len: 65535,
        window_scale: None,
        max_seg_size: mss,
        sack_permitted: false,
        sack_ranges: [None; 3],
        timestamp: None,
        payload,
    };
    let mut buf = vec![0u8; repr.buffer_len()];
    repr.emit(
        &mut TcpPacket::new_unchecked(&mut buf[..]),
        &ME.into(),
        &dst.into(),
        &ChecksumCapabilities::default(),
    );
    ip_frame(ME, dst, IpProtocol::Tcp, &buf)
}

/// (src ip, syn, fin, rst, seq, ack, mss option, payload) of TCP frames out.
type TcpSeen = (Ipv4Addr, bool, bool, bool, u32, u32, Option<u16>, Vec<u8>);

fn tcp_out(frames: &[Vec<u8>]) -> Vec<TcpSeen> {
    frames
        .iter()
        .filter_map(|f| {
            let e = EthernetFrame::new_checked(&f[..]).ok()?;
            let ip = Ipv4Packet::new_checked(e.payload()).ok()?;
            if ip.next_header() != IpProtocol::Tcp {
                return None;
            }
            let tp = TcpPacket::new_checked(ip.payload()).ok()?;
            assert!(tp.verify_checksum(&ip.src_addr().into(), &ip.dst_addr().into()));
            let repr = TcpRepr::parse(
                &tp,
                &ip.src_addr().into(),
                &ip.dst_addr().into(),
                &ChecksumCapabilities::default(),
            )
            .ok()?;
            Some((
                ip.src_addr(),
                tp.syn(),
                tp.fin(),
                tp.rst(),
                tp.seq_number().0 as u32,
                tp.ack_number().0 as u32,
                repr.max_seg_size,
                tp.payload().to_vec(),
            ))
        })
        .collect()
}

fn events(h: &mut VirtualHost) -> Vec<NatEvent> {
    std::iter::from_fn(|| h.pop_event()).collect()
}

#[test]
fn tcp_flow_connects_first_clamps_mss_splices_and_half_closes() {
    let mut h = nat_host(1200);
    h.input(
        &tcp_seg(FAR, 40000, 80, TcpControl::Syn, 1000, None, Some(1460), &[]),
        t(1),
    );
    assert!(
        drain(&mut h).is_empty(),
        "no SYN-ACK before the server side is connected"
    );
    let ev = events(&mut h);
    let NatEvent::TcpConnect { id, dst } = ev[0].clone() else {
        panic!("{ev:?}")
    };
    assert_eq!(dst, SocketAddrV4::new(FAR, 80));
    // A retransmitted SYN meanwhile is absorbed.
    h.input(
        &tcp_seg(FAR, 40000, 80, TcpControl::Syn, 1000, None, Some(1460), &[]),
        t(2),
    );
    assert!(drain(&mut h).is_empty() && events(&mut h).is_empty());

    h.tcp_connected(id, t(2));
    let out = tcp_out(&drain(&mut h));
    assert_eq!(out.len(), 1, "{out:?}");
    let (src, syn, _, _, srv_seq, ack, mss, _) = out[0].clone();
    assert_eq!(src, FAR, "answered as the far host");
    assert!(syn, "{out:?}");
    assert_eq!(ack, 1001);
    assert_eq!(mss, Some(1200 - 40), "MSS follows the MTU");

    h.input(
        &tcp_seg(
            FAR,
            40000,
            80,
            TcpControl::Psh,
            1001,
            Some(srv_seq + 1),
            None,
            b"hello",
        ),
        t(3),
    );
    drain(&mut h);
    let st = h.tcp_state(id).unwrap();
    assert_eq!(st.recv_queue, 5);
    let mut buf = [0u8; 64];
    assert_eq!(h.tcp_recv(id, &mut buf, t(3)), 5);
    assert_eq!(&buf[..5], b"hello");

    assert_eq!(h.tcp_send(id, b"world", t(3)), 5);
    h.poll(t(3));
    let out = tcp_out(&drain(&mut h));
    assert!(out.iter().any(|o| o.7 == b"world"), "{out:?}");

    // Back-pressure: the 64 KiB window takes no more than it holds.
    let big = vec![7u8; TCP_BUF * 2];
    let taken = h.tcp_send(id, &big, t(3));
    assert!(taken < TCP_BUF, "took {taken}");
    assert_eq!(h.tcp_state(id).unwrap().send_capacity, 0);

    // Client FIN: half-close seen by the glue.
    h.input(
        &tcp_seg(
            FAR,
            40000,
            80,
            TcpControl::Fin,
            1006,
            Some(srv_seq + 6),
            None,
            &[],
        ),
        t(4),
    );
    drain(&mut h);
    assert!(h.tcp_state(id).unwrap().client_eof);
    let e = h.nat_entries().next().unwrap();
    assert_eq!(
        (e.key.proto, e.bytes_up >= 5, e.established),
        (NatProto::Tcp, true, true)
    );

    // Remote reset: RST to the client, flow closed.
    h.tcp_remote_reset(id);
    h.poll(t(5));
    let out = tcp_out(&drain(&mut h));
    assert!(out.iter().any(|o| o.3), "RST sent: {out:?}");
    h.poll(t(6));
    assert!(events(&mut h).contains(&NatEvent::Close { id }));
    assert_eq!(h.nat_entries().count(), 0);
}

#[test]
fn refused_connect_and_guarded_destinations_get_rst() {
    let mut h = nat_host(1500);
    h.set_guard(Guard {
        local_addrs: vec![Ipv4Addr::new(10, 77, 0, 1)],
    });
    h.input(
        &tcp_seg(FAR, 40001, 81, TcpControl::Syn, 5000, None, None, &[]),
        t(1),
    );
    let NatEvent::TcpConnect { id, .. } = events(&mut h)[0].clone() else {
        panic!()
    };
    h.tcp_failed(id, t(2));
    let out = tcp_out(&drain(&mut h));
    assert_eq!(out.len(), 1);
    assert!(out[0].3, "RST");
    assert_eq!(out[0].5, 5001);
    assert_eq!(h.nat_entries().count(), 0);

    for dst in [Ipv4Addr::new(127, 0, 0, 1), Ipv4Addr::new(10, 77, 0, 1)] {
        h.input(
            &tcp_seg(dst, 40002, 22, TcpControl::Syn, 1, None, None, &[]),
            t(3),
        );
        assert!(events(&mut h).is_empty(), "no connect to {dst}");
        let out = tcp_out(&drain(&mut h));
        assert!(out.len() == 1 && out[0].3 && out[0].0 == dst, "{out:?}");
    }
    assert_eq!(h.nat_entries().count(), 0);
}

fn udp_to(dst: Ipv4Addr, sport: u16, dport: u16, payload: &[u8]) -> Vec<u8> {
    let mut f = udp_frame(CLIENT, ME, dst, sport, dport, payload);
    // udp_frame addresses the host MAC unless broadcast: fine.
    f.truncate(f.len());
    f
}

#[test]
fn udp_and_dns_flows_round_trip_and_time_out() {
    let mut h = nat_host(1500);
    let resolver = SocketAddrV4::new(Ipv4Addr::new(10, 53, 0, 1), 53);
    h.set_dns_servers(vec![resolver]);
    h.input(&udp_to(FAR, 5000, 7, b"ping"), t(1));
    h.input(&udp_to(HOST, 5001, 53, b"query"), t(1));
    let ev = events(&mut h);
    assert_eq!(ev.len(), 2, "{ev:?}");
    let NatEvent::UdpSend {
        id: u,
        dst,
        payload,
    } = ev[0].clone()
    else {
        panic!()
    };
    assert_eq!(
        (dst, payload.as_slice()),
        (SocketAddrV4::new(FAR, 7), &b"ping"[..])
    );
    let NatEvent::UdpSend { id: d, dst, .. } = ev[1].clone() else {
        panic!()
    };
    assert_eq!(dst, resolver, "DNS goes to the server's resolver");

    h.udp_reply(u, b"pong", t(2));
    h.udp_reply(d, b"answer", t(2));
    let out = drain(&mut h);
    assert_eq!(out.len(), 2);
    let parse = |f: &Vec<u8>| {
        let e = EthernetFrame::new_checked(&f[..]).unwrap();
        assert_eq!(e.dst_addr(), EthernetAddress(CLIENT));
        let ip = Ipv4Packet::new_checked(e.payload()).unwrap();
        let u = UdpPacket::new_checked(ip.payload()).unwrap();
        assert!(u.verify_checksum(&ip.src_addr().into(), &ip.dst_addr().into()));
        (
            ip.src_addr(),
            u.src_port(),
            ip.dst_addr(),
            u.dst_port(),
            u.payload().to_vec(),
        )
    };
    assert_eq!(parse(&out[0]), (FAR, 7, ME, 5000, b"pong".to_vec()));
    assert_eq!(parse(&out[1]), (HOST, 53, ME, 5001, b"answer".to_vec()));

    // Idle 60 s (default): both flows closed.
    h.poll(t(61));
    assert!(events(&mut h).is_empty(), "not yet idle for 60 s");
    h.poll(t(62));
    assert!(h.pop_frame().is_none());
    let ev = events(&mut h);
    assert!(
        ev.contains(&NatEvent::Close { id: u }) && ev.contains(&NatEvent::Close { id: d }),
        "{ev:?}"
    );
    assert_eq!(h.nat_entries().count(), 0);
}

#[test]
fn icmp_echo_to_far_hosts_is_forwarded_not_faked() {
    let mut h = nat_host(1500);
    let caps = ChecksumCapabilities::default();
    let icmp = Icmpv4Repr::EchoRequest {
        ident: 99,
        seq_no: 3,
        data: b"abc",
    };
    let mut b = vec![0u8; icmp.buffer_len()];
    icmp.emit(&mut Icmpv4Packet::new_unchecked(&mut b[..]), &caps);
    h.input(&ip_frame(ME, FAR, IpProtocol::Icmp, &b), t(1));
    assert!(
        drain(&mut h).is_empty(),
        "the virtual host does not answer for 10.9.9.9"
    );
    let NatEvent::IcmpEcho { id, dst, seq, data } = events(&mut h)[0].clone() else {
        panic!()
    };
    assert_eq!((dst, seq, data.as_slice()), (FAR, 3, &b"abc"[..]));
    h.icmp_reply(id, seq, &data, t(1));
    let out = drain(&mut h);
    let e = EthernetFrame::new_checked(&out[0][..]).unwrap();
    let ip = Ipv4Packet::new_checked(e.payload()).unwrap();
    assert_eq!((ip.src_addr(), ip.dst_addr()), (FAR, ME));
    let r = Icmpv4Repr::parse(&Icmpv4Packet::new_checked(ip.payload()).unwrap(), &caps).unwrap();
    assert_eq!(
        r,
        Icmpv4Repr::EchoReply {
            ident: 99,
            seq_no: 3,
            data: b"abc"
        }
    );
}

#[test]
fn syn_and_udp_floods_are_bounded_by_the_session_limits() {
    let mut h = nat_host(1500);
    h.set_limits(NatLimits {
        max_sessions: 100,
        max_tcp_syn_per_ip: 30,
        ..NatLimits::default()
    });
    for port in 1000..3000u16 {
        h.input(
            &tcp_seg(FAR, port, 80, TcpControl::Syn, 1, None, None, &[]),
            t(1),
        );
        h.input(&udp_to(FAR, port, 9, b"x"), t(1));
    }
    assert_eq!(h.nat_entries().count(), 100);
    assert_eq!(
        h.nat_entries()
            .filter(|e| e.key.proto == NatProto::Tcp)
            .count(),
        30
    );
    let ev = events(&mut h);
    assert_eq!(ev.len(), 100, "one event per admitted flow");
    assert!(
        h.pop_frame().is_some(),
        "refused SYNs are answered with RST"
    );
}

#[test]
fn nat_off_forwards_nothing() {
    let mut h = host(VhOption {
        mac: HOST_MAC,
        use_nat: false,
        ..VhOption::default()
    });
    h.input(&arp(CLIENT, ME, HOST), t(0));
    drain(&mut h);
    h.input(
        &tcp_seg(FAR, 40000, 80, TcpControl::Syn, 1, None, None, &[]),
        t(1),
    );
    h.input(&udp_to(FAR, 5000, 7, b"x"), t(1));
    assert!(events(&mut h).is_empty());
    assert!(drain(&mut h).is_empty());
}

#[test]
fn restored_leases_are_kept_and_checked() {
    let mut h = default_host();
    let l = |id, mac, ip: [u8; 4], exp| Lease {
        id,
        mac,
        ip: ip.into(),
        mask: Ipv4Addr::new(255, 255, 255, 0),
        hostname: String::new(),
        leased_at: t(0),
        expires_at: t(exp),
    };
    let g = h.lease_generation();
    h.restore_leases(
        vec![
            l(7, CLIENT, [192, 168, 30, 50], 100),
            l(8, CLIENT2, [192, 168, 30, 51], 5), // expired at t(10)
            l(9, CLIENT2, [10, 0, 0, 5], 100),    // outside the pool
            l(10, CLIENT2, [192, 168, 30, 50], 100), // address taken
            l(11, [2, 0, 0, 0, 0, 9], [192, 168, 30, 1], 100), // the host's own
        ],
        t(10),
    );
    assert_ne!(h.lease_generation(), g);
    let leases = h.leases();
    assert_eq!(leases.len(), 1, "{leases:?}");
    assert_eq!(
        (leases[0].id, leases[0].ip),
        (7, Ipv4Addr::new(192, 168, 30, 50))
    );
    // The client keeps its address; a new lease gets a later id.
    assert_eq!(
        lease(&mut h, CLIENT, t(11)),
        Ipv4Addr::new(192, 168, 30, 50)
    );
    assert!(h.leases()[0].id > 7);
    assert_ne!(
        lease(&mut h, CLIENT2, t(11)),
        Ipv4Addr::new(192, 168, 30, 50)
    );
}

#[test]
fn udp_and_icmp_replies_over_the_mtu_are_fragmented() {
    for mtu in [1500u16, 576] {
        let mut h = nat_host(mtu);
        h.input(&udp_to(FAR, 5000, 7, b"q"), t(1));
        let caps = ChecksumCapabilities::default();
        let icmp = Icmpv4Repr::EchoRequest {
            ident: 77,
            seq_no: 9,
            data: b"x",
        };
        let mut b = vec![0u8; icmp.buffer_len()];
        icmp.emit(&mut Icmpv4Packet::new_unchecked(&mut b[..]), &caps);
        h.input(&ip_frame(ME, FAR, IpProtocol::Icmp, &b), t(1));
        let ev = events(&mut h);
        let NatEvent::UdpSend { id: u, .. } = ev[0].clone() else {
            panic!("{ev:?}")
        };
        let NatEvent::IcmpEcho { id: i, .. } = ev[1].clone() else {
            panic!("{ev:?}")
        };
        let big: Vec<u8> = (0..4000u32).map(|v| v as u8).collect();
        for (reply, proto) in [(0, IpProtocol::Udp), (1, IpProtocol::Icmp)] {
            if reply == 0 {
                h.udp_reply(u, &big, t(2));
            } else {
                h.icmp_reply(i, 9, &big, t(2));
            }
            let frames = drain(&mut h);
            assert!(frames.len() > 2, "mtu {mtu}: {} frames", frames.len());
            let data = reassemble(&frames, mtu, proto);
            // Both the UDP and the ICMP echo header are 8 bytes.
            let body = &data[8..];
            assert_eq!(body, &big[..], "mtu {mtu} {proto}");
        }
        // Over MAX_DATAGRAM: dropped, not sent.
        h.udp_reply(u, &vec![0; MAX_DATAGRAM], t(3));
        assert!(drain(&mut h).is_empty());
    }
}

/// SaveLog: SoftEther's NAT and DHCP log lines while on, none while off.
#[test]
fn save_log_lines_follow_the_setting() {
    let lines = |save_log: bool| {
        let mut h = host(VhOption {
            mac: HOST_MAC,
            save_log,
            ..VhOption::default()
        });
        lease(&mut h, CLIENT, t(0));
        h.input(&arp(CLIENT, ME, HOST), t(0));
        drain(&mut h);
        h.input(
            &tcp_seg(FAR, 40000, 80, TcpControl::Syn, 1000, None, Some(1460), &[]),
            t(1),
        );
        h.input(&udp_to(FAR, 5000, 7, b"q"), t(1));
        let ev = events(&mut h);
        let NatEvent::TcpConnect { id: tcp, .. } = ev[0].clone() else {
            panic!("{ev:?}")
        };
        h.tcp_failed(tcp, t(2));
        // The UDP flow times out after 60 s.
        h.poll(t(100));
        std::iter::from_fn(|| h.pop_log()).collect::<Vec<_>>()
    };
    assert!(lines(false).is_empty());
    let l = lines(true);
    let want = [
        "The DHCP entry 1 has been created. MAC address: 02-00-00-00-00-01, IP address: 192.168.30.10",
        "The TCP session 1 has been created. Connection source 192.168.30.10:40000, Connection destination 10.9.9.9:80",
        "The UDP session 2 has been created. Connection source 192.168.30.10:5000, Connection destination 10.9.9.9:7",
        "The connection to TCP session 1: Host \"10.9.9.9\", Port 80 failed.",
        "The UDP session 2 has been deleted.",
    ];
    assert_eq!(l.len(), want.len(), "{l:#?}");
    for (got, w) in l.iter().zip(want) {
        assert!(got.starts_with(w), "{got:?} vs {w:?}");
    }
}

/// A UDP datagram from the client `ME` split into IPv4 fragments of `frag`
/// bytes of IP payload (a multiple of 8), ident `ident`.
fn udp_frags(
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
    payload: &[u8],
    frag: usize,
    ident: u16,
) -> Vec<Vec<u8>> {
    let whole = udp_frame(CLIENT, ME, dst, sport, dport, payload);
    let l4 = &whole[14 + 20..];
    l4.chunks(frag)
        .enumerate()
        .map(|(i, chunk)| {
            let mut f = ip_frame(ME, dst, IpProtocol::Udp, chunk);
            let mut e = EthernetFrame::new_unchecked(&mut f[..]);
            let mut p = Ipv4Packet::new_unchecked(e.payload_mut());
            p.set_ident(ident);
            p.set_more_frags((i + 1) * frag < l4.len());
            p.set_frag_offset((i * frag) as u16);
            p.fill_checksum();
            f
        })
        .collect()
}

fn udp_sends(h: &mut VirtualHost) -> Vec<(SocketAddrV4, Vec<u8>)> {
    events(h)
        .into_iter()
        .filter_map(|e| match e {
            NatEvent::UdpSend { dst, payload, .. } => Some((dst, payload)),
            _ => None,
        })
        .collect()
}

#[test]
fn fragmented_udp_and_dns_are_reassembled_and_forwarded_whole() {
    let mut h = nat_host(1500);
    let resolver = SocketAddrV4::new(Ipv4Addr::new(10, 53, 0, 1), 53);
    h.set_dns_servers(vec![resolver]);
    // 4000 bytes over a 1500-byte MTU: 3 fragments, sent out of order.
    let big: Vec<u8> = (0..4000u32).map(|v| (v % 251) as u8).collect();
    let frags = udp_frags(FAR, 5000, 7, &big, 1480, 0x1111);
    assert_eq!(frags.len(), 3);
    h.input(&frags[2], t(1));
    h.input(&frags[0], t(1));
    assert!(udp_sends(&mut h).is_empty(), "incomplete datagram held");
    h.input(&frags[1], t(1));
    assert_eq!(
        udp_sends(&mut h),
        vec![(SocketAddrV4::new(FAR, 7), big.clone())]
    );
    // A large DNS query to the proxy, in fragments of 1000 bytes.
    let query: Vec<u8> = (0..2500u32).map(|v| (v % 13) as u8).collect();
    for f in udp_frags(HOST, 5001, 53, &query, 1000, 0x2222) {
        h.input(&f, t(2));
    }
    assert_eq!(udp_sends(&mut h), vec![(resolver, query)]);
    // Both are flows like unfragmented ones; nothing went to the client.
    assert_eq!(h.nat_entries().count(), 2);
    assert!(drain(&mut h).is_empty());
    // Unfragmented UDP still takes the direct path.
    h.input(&udp_to(FAR, 5000, 7, b"small"), t(3));
    assert_eq!(
        udp_sends(&mut h),
        vec![(SocketAddrV4::new(FAR, 7), b"small".to_vec())]
    );
}

#[test]
fn fragmented_udp_is_bounded_and_guarded() {
    let mut h = nat_host(1500);
    let data: Vec<u8> = (0..3000u32).map(|v| v as u8).collect();
    let frags = udp_frags(FAR, 6000, 9, &data, 1480, 0x3333);
    // Duplicates and an overlapping fragment (same bytes, offset 1480
    // covering part of the next one): one datagram, its declared size.
    let l4 = &udp_frame(CLIENT, ME, FAR, 6000, 9, &data)[34..];
    let mut overlap = ip_frame(ME, FAR, IpProtocol::Udp, &l4[1480..2480]);
    {
        let mut e = EthernetFrame::new_unchecked(&mut overlap[..]);
        let mut p = Ipv4Packet::new_unchecked(e.payload_mut());
        p.set_ident(0x3333);
        p.set_more_frags(true);
        p.set_frag_offset(1480);
        p.fill_checksum();
    }
    for _ in 0..100 {
        h.input(&frags[0], t(1));
    }
    h.input(&overlap, t(1));
    h.input(&frags[2], t(1));
    h.input(&frags[1], t(1));
    h.input(&frags[1], t(1));
    assert_eq!(
        udp_sends(&mut h),
        vec![(SocketAddrV4::new(FAR, 9), data.clone())]
    );

    // Over MAX_REASSEMBLED_UDP: dropped, no flow.
    let huge = vec![7u8; MAX_REASSEMBLED_UDP + 100];
    let dropped = h.stats().frames_dropped;
    for f in udp_frags(FAR, 6001, 9, &huge, 1480, 0x4444) {
        h.input(&f, t(2));
    }
    assert_eq!(
        h.stats().frames_dropped,
        dropped + 1,
        "reassembled, then refused by size"
    );
    assert!(udp_sends(&mut h).is_empty(), "oversized datagram dropped");

    // A flood of first fragments with distinct idents, never completed:
    // smoltcp's 4 reassembly slots fill, nothing grows, nothing is sent.
    let first = udp_frags(FAR, 6002, 9, &data, 1480, 0).remove(0);
    for ident in 1..5000u16 {
        let mut f = first.clone();
        let mut e = EthernetFrame::new_unchecked(&mut f[..]);
        let mut p = Ipv4Packet::new_unchecked(e.payload_mut());
        p.set_ident(ident);
        p.fill_checksum();
        h.input(&f, t(3));
    }
    assert!(udp_sends(&mut h).is_empty());
    assert_eq!(
        h.nat_entries().count(),
        1,
        "only the completed datagram's flow"
    );
    // While the slots are taken a new fragmented datagram is dropped;
    // after smoltcp's 60 s reassembly timeout (our clock) it goes through.
    for f in udp_frags(FAR, 6003, 9, &data, 1480, 0x5555) {
        h.input(&f, t(4));
    }
    assert!(udp_sends(&mut h).is_empty(), "slots full");
    for f in udp_frags(FAR, 6003, 9, &data, 1480, 0x5556) {
        h.input(&f, t(70));
    }
    assert_eq!(
        udp_sends(&mut h),
        vec![(SocketAddrV4::new(FAR, 9), data.clone())]
    );

    // The loopback guard applies to reassembled datagrams too.
    for f in udp_frags(Ipv4Addr::new(127, 0, 0, 1), 6004, 9, &data, 1480, 0x6666) {
        h.input(&f, t(71));
    }
    assert!(udp_sends(&mut h).is_empty(), "127.0.0.0/8 refused");

    // NAT off: fragmented UDP to far hosts is not forwarded.
    let mut off = host(VhOption {
        mac: HOST_MAC,
        use_nat: false,
        ..VhOption::default()
    });
    off.input(&arp(CLIENT, ME, HOST), t(0));
    for f in udp_frags(FAR, 6005, 9, &data, 1480, 0x7777) {
        off.input(&f, t(1));
    }
    assert!(udp_sends(&mut off).is_empty());
    assert_eq!(off.nat_entries().count(), 0);
}

#[test]
fn event_queue_payload_bytes_are_bounded() {
    let mut h = nat_host(1500);
    let data = vec![1u8; 12_000];
    let mut admitted = 0usize;
    // Never popped: the byte budget, not the event count, stops the queue.
    for i in 0..2000u16 {
        for f in udp_frags(FAR, 7000, 9, &data, 1480, i) {
            h.input(&f, t(1));
        }
    }
    for (_, p) in udp_sends(&mut h) {
        admitted += p.len();
    }
    assert!(admitted <= MAX_EVENT_BYTES, "{admitted}");
    assert!(
        admitted + data.len() > MAX_EVENT_BYTES,
        "budget was reached"
    );
    // Popping frees the budget.
    for f in udp_frags(FAR, 7000, 9, &data, 1480, 9999) {
        h.input(&f, t(2));
    }
    assert_eq!(udp_sends(&mut h).len(), 1);
}

#[test]
fn segments_from_impossible_sources_are_dropped_without_panic() {
    // Found by the `securenat_frames` fuzz target: a SYN from 0.0.0.0 made
    // smoltcp answer to 0.0.0.0 and assert.
    let mut h = nat_host(1500);
    for src in [
        Ipv4Addr::UNSPECIFIED,
        Ipv4Addr::BROADCAST,
        Ipv4Addr::new(224, 0, 0, 1),
    ] {
        let repr = TcpRepr {
            src_port: 40000,
            dst_port: 80,
            control: TcpControl::Syn,
            seq_number: TcpSeqNumber(1),
            ack_number: None,
            window_len: 65535,
            window_scale: None,
            max_seg_size: None,
            sack_permitted: false,
            sack_ranges: [None; 3],
            timestamp: None,
            payload: &[],
        };
        let mut buf = vec![0u8; repr.buffer_len()];
        repr.emit(
            &mut TcpPacket::new_unchecked(&mut buf[..]),
            &src.into(),
            &HOST.into(),
            &ChecksumCapabilities::default(),
        );
        h.input(&ip_frame(src, HOST, IpProtocol::Tcp, &buf), t(1));
        h.input(&ip_frame(src, FAR, IpProtocol::Tcp, &buf), t(1));
        assert!(drain(&mut h).is_empty(), "no answer to {src}");
    }
    assert_eq!(h.nat_entries().count(), 0);
    assert!(events(&mut h).is_empty());
    // A real client still gets through afterwards.
    h.input(
        &tcp_seg(FAR, 40001, 80, TcpControl::Syn, 1, None, None, &[]),
        t(2),
    );
    assert_eq!(h.nat_entries().count(), 1);
}

#[test]
fn other_protocols_to_the_host_are_ignored_at_any_mtu() {
    // Found by the `securenat_frames` fuzz target: smoltcp answers an
    // unknown protocol with "protocol unreachable", and when that answer
    // is over a small MTU its fragmenting path panics (smoltcp 0.12 and
    // 0.13: the ICMP error is emitted into the whole fragmentation buffer).
    // SoftEther's virtual host (Virtual.c `IpReceived`) answers only ICMP,
    // TCP and UDP, and ignores the rest.
    for mtu in [crate::settings::MIN_MTU, 576, 1500] {
        let mut h = nat_host(mtu);
        for proto in [0u8, 47, 50, 132] {
            let body = vec![0x55u8; 200];
            h.input(&ip_frame(ME, HOST, IpProtocol::from(proto), &body), t(1));
            assert!(
                drain(&mut h).is_empty(),
                "mtu {mtu}: answer to protocol {proto}"
            );
        }
        // The host still answers a ping.
        for f in echo_frames(ME, b"still", 1480) {
            h.input(&f, t(2));
        }
        assert_eq!(echo_reply_bytes(&drain(&mut h), usize::from(mtu)), 8 + 5);
    }
}

/// Reassembles the fragments of one IPv4 datagram of protocol `proto`
/// from the host, in order, and checks them: every fragment fits the MTU,
/// one ident, MF on all but the last, valid header checksums.
fn reassemble(frames: &[Vec<u8>], mtu: u16, proto: IpProtocol) -> Vec<u8> {
    let mut data = Vec::new();
    let mut ident = None;
    for (k, f) in frames.iter().enumerate() {
        assert!(f.len() <= usize::from(mtu) + 14, "{} > mtu {mtu}", f.len());
        let e = EthernetFrame::new_checked(&f[..]).unwrap();
        let p = Ipv4Packet::new_checked(e.payload()).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(p.next_header(), proto);
        assert_eq!(usize::from(p.frag_offset()), data.len());
        assert_eq!(p.more_frags(), k + 1 < frames.len());
        assert!(*ident.get_or_insert(p.ident()) == p.ident());
        data.extend_from_slice(p.payload());
    }
    data
}

#[test]
fn fragmented_echo_replies_carry_a_valid_icmp_checksum() {
    // smoltcp computes the ICMP checksum over its whole fragmentation
    // buffer: a smaller reply after a larger one must not add the rest of
    // the larger one to its checksum.
    let mut h = nat_host(576);
    for (n, fill) in [(4000usize, 0xA5u8), (1000, 0x11), (3000, 0x77)] {
        for f in echo_frames(ME, &vec![fill; n], 1480) {
            h.input(&f, t(1));
        }
        let icmp = reassemble(&drain(&mut h), 576, IpProtocol::Icmp);
        assert_eq!(icmp.len(), 8 + n);
        let p = Icmpv4Packet::new_checked(&icmp[..]).unwrap();
        assert!(
            p.verify_checksum(),
            "{n}-byte echo reply: bad ICMP checksum"
        );
        assert!(p.data().iter().all(|b| *b == fill));
    }
}
