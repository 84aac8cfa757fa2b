//! SecureNAT's tokio driver with real sockets: a smoltcp "client" on the
//! virtual hub side talks through the NAT to echo servers in a second
//! network namespace ("far"), reachable only from the server's namespace.
//! Checks TCP splice (200 KiB both ways, half-close), UDP through the DNS
//! proxy port (a 4000-byte query in IPv4 fragments, echoed whole), ICMP echo through an unprivileged ping socket, the guard
//! (the server's own address is refused with RST) and the NAT table.

use std::fs::File;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Duration, Instant as StdInstant};

use rustether_securenat::driver::{local_guard, DriverConfig, SecureNat};
use rustether_securenat::{NatProto, VhOption};
use rustether_testkit::netns::Netns;
use rustether_testkit::prereq::{require, Prereq};
use smoltcp::iface::{Config, Interface, SocketSet};
use smoltcp::phy::{self, DeviceCapabilities, Medium};
use smoltcp::socket::{icmp, tcp, udp};
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, Icmpv4Packet, Icmpv4Repr, IpCidr};

const SRV: Ipv4Addr = Ipv4Addr::new(10, 201, 0, 1);
const FAR: Ipv4Addr = Ipv4Addr::new(10, 201, 0, 2);
const ME: Ipv4Addr = Ipv4Addr::new(192, 168, 30, 10);
const GW: Ipv4Addr = Ipv4Addr::new(192, 168, 30, 1);

fn enter(ns: &str) {
    let f = File::open(format!("/run/netns/{ns}")).expect("netns file");
    nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");
}

#[derive(Default)]
struct Dev {
    rx: std::collections::VecDeque<Vec<u8>>,
    tx: Vec<Vec<u8>>,
}
struct Rx(Vec<u8>);
struct Tx<'a>(&'a mut Vec<Vec<u8>>);
impl phy::RxToken for Rx {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(&self.0)
    }
}
impl phy::TxToken for Tx<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let mut b = vec![0; len];
        let r = f(&mut b);
        self.0.push(b);
        r
    }
}
impl phy::Device for Dev {
    type RxToken<'a> = Rx;
    type TxToken<'a> = Tx<'a>;
    fn receive(&mut self, _: Instant) -> Option<(Rx, Tx<'_>)> {
        let f = self.rx.pop_front()?;
        Some((Rx(f), Tx(&mut self.tx)))
    }
    fn transmit(&mut self, _: Instant) -> Option<Tx<'_>> {
        Some(Tx(&mut self.tx))
    }
    fn capabilities(&self) -> DeviceCapabilities {
        let mut c = DeviceCapabilities::default();
        c.medium = Medium::Ethernet;
        c.max_transmission_unit = 1514;
        c
    }
}

fn far_servers(ns: String) -> std::thread::JoinHandle<()> {
    std::thread::spawn(move || {
        enter(&ns);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let tcp = tokio::net::TcpListener::bind((FAR, 7000)).await.unwrap();
            let udp = tokio::net::UdpSocket::bind((FAR, 7001)).await.unwrap();
            let t = tokio::spawn(async move {
                // One connection: echo until EOF, then close (half-close).
                if let Ok((mut s, _)) = tcp.accept().await {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                    use tokio::io::AsyncWriteExt;
                    let _ = w.shutdown().await;
                }
            });
            let u = tokio::spawn(async move {
                let mut b = [0u8; 8192];
                for _ in 0..1 {
                    if let Ok((n, from)) = udp.recv_from(&mut b).await {
                        let _ = udp.send_to(&b[..n], from).await;
                    }
                }
            });
            let _ = tokio::time::timeout(Duration::from_secs(60), async {
                let _ = t.await;
                let _ = u.await;
            })
            .await;
        });
    })
}

#[test]
fn client_reaches_far_host_through_the_nat_with_tcp_udp_icmp() {
    if !require(&[Prereq::Netns, Prereq::Program("sysctl")]) {
        return;
    }
    let srv = Netns::new("snatsrv").unwrap();
    let far = Netns::new("snatfar").unwrap();
    srv.veth_to("v0", &far, "v1").unwrap();
    srv.add_addr("v0", SRV, 24).unwrap();
    far.add_addr("v1", FAR, 24).unwrap();
    srv.link_up("v0").unwrap();
    far.link_up("v1").unwrap();
    // Unprivileged ICMP sockets for every group (a fresh namespace has "1 0").
    srv.run(
        "sysctl",
        &["-w", "net.ipv4.ping_group_range=0 2147483647"],
        Duration::from_secs(10),
    )
    .unwrap();
    let servers = far_servers(far.name().to_string());
    let until = StdInstant::now() + Duration::from_secs(20);
    while !far.tcp_listening(7000) {
        assert!(StdInstant::now() < until, "far echo server did not start");
        std::thread::sleep(Duration::from_millis(20));
    }

    let srv_name = srv.name().to_string();
    let result = std::thread::spawn(move || {
        enter(&srv_name);
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(run_client())
    })
    .join();
    servers.join().ok();
    drop(far);
    drop(srv);
    result.expect("client thread panicked");
}

async fn run_client() {
    let guard = local_guard();
    assert!(
        guard.local_addrs.contains(&SRV),
        "guard knows the server's address"
    );
    let cfg = DriverConfig {
        guard,
        dns_servers: vec![SocketAddrV4::new(FAR, 7001)],
        ..DriverConfig::default()
    };
    let (nat, mut out) = SecureNat::start(VhOption::default(), cfg).unwrap();

    let origin = StdInstant::now();
    let now = || Instant::from_micros(origin.elapsed().as_micros() as i64);
    let mut dev = Dev::default();
    let mut iface = Interface::new(
        Config::new(HardwareAddress::Ethernet(EthernetAddress([
            2, 0, 0, 0, 0, 0x10,
        ]))),
        &mut dev,
        now(),
    );
    iface.update_ip_addrs(|a| a.push(IpCidr::new(ME.into(), 24)).unwrap());
    iface.routes_mut().add_default_ipv4_route(GW).unwrap();
    let mut sockets = SocketSet::new(vec![]);
    let tcp_h = sockets.add(tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; 65536]),
        tcp::SocketBuffer::new(vec![0; 65536]),
    ));
    let guarded_h = sockets.add(tcp::Socket::new(
        tcp::SocketBuffer::new(vec![0; 1024]),
        tcp::SocketBuffer::new(vec![0; 1024]),
    ));
    let meta = || udp::PacketMetadata::EMPTY;
    let udp_h = sockets.add(udp::Socket::new(
        udp::PacketBuffer::new(vec![meta(); 4], vec![0; 8192]),
        udp::PacketBuffer::new(vec![meta(); 4], vec![0; 8192]),
    ));
    let imeta = || icmp::PacketMetadata::EMPTY;
    let icmp_h = sockets.add(icmp::Socket::new(
        icmp::PacketBuffer::new(vec![imeta(); 4], vec![0; 4096]),
        icmp::PacketBuffer::new(vec![imeta(); 4], vec![0; 4096]),
    ));
    {
        let cx = iface.context();
        sockets
            .get_mut::<tcp::Socket>(tcp_h)
            .connect(cx, (FAR, 7000), 40000)
            .unwrap();
        sockets
            .get_mut::<tcp::Socket>(guarded_h)
            .connect(cx, (SRV, 22), 40001)
            .unwrap();
    }
    sockets.get_mut::<udp::Socket>(udp_h).bind(5353).unwrap();
    sockets
        .get_mut::<icmp::Socket>(icmp_h)
        .bind(icmp::Endpoint::Ident(0x1234))
        .unwrap();

    // A DNS query larger than one frame: the client sends IPv4 fragments,
    // the NAT reassembles, the far server must see (and echo) all of it.
    let query: Vec<u8> = (0..4000u32).map(|i| (i % 241) as u8).collect();
    let total = 200 * 1024;
    let data: Vec<u8> = (0..total).map(|i| (i % 251) as u8).collect();
    let (mut sent, mut echoed) = (0usize, Vec::new());
    let (mut udp_sent, mut udp_ok, mut icmp_sent, mut icmp_ok) = (false, false, false, false);
    let (mut guarded_reset, mut closed_sent, mut far_eof) = (false, false, false);
    let deadline = StdInstant::now() + Duration::from_secs(60);
    let mut saw_table = false;
    while StdInstant::now() < deadline {
        iface.poll(now(), &mut dev, &mut sockets);
        for f in dev.tx.drain(..) {
            assert!(nat.input(f.into()), "input queue full");
        }
        while let Ok(f) = out.try_recv() {
            dev.rx.push_back(f);
        }
        {
            let s = sockets.get_mut::<tcp::Socket>(tcp_h);
            if s.can_send() && sent < total {
                sent += s.send_slice(&data[sent..]).unwrap();
            }
            if sent == total && !closed_sent && s.may_send() {
                s.close();
                closed_sent = true;
            }
            while s.can_recv() {
                s.recv(|b| {
                    echoed.extend_from_slice(b);
                    (b.len(), ())
                })
                .unwrap();
            }
            if echoed.len() == total && !s.may_recv() {
                far_eof = true;
            }
        }
        {
            let g = sockets.get_mut::<tcp::Socket>(guarded_h);
            if g.state() == tcp::State::Closed {
                guarded_reset = true;
            }
        }
        {
            let u = sockets.get_mut::<udp::Socket>(udp_h);
            if !udp_sent && u.can_send() {
                u.send_slice(&query, (GW, 53)).unwrap();
                udp_sent = true;
            }
            if let Ok((b, meta)) = u.recv() {
                assert!(b == &query[..], "whole {}-byte query echoed", b.len());
                assert_eq!(meta.endpoint.addr, GW.into(), "answer from the DNS proxy");
                udp_ok = true;
            }
        }
        {
            let i = sockets.get_mut::<icmp::Socket>(icmp_h);
            if !icmp_sent && i.can_send() {
                let req = Icmpv4Repr::EchoRequest {
                    ident: 0x1234,
                    seq_no: 1,
                    data: b"ping",
                };
                let buf = i.send(req.buffer_len(), FAR.into()).unwrap();
                req.emit(&mut Icmpv4Packet::new_unchecked(buf), &Default::default());
                icmp_sent = true;
            }
            if let Ok((b, from)) = i.recv() {
                let p = Icmpv4Packet::new_checked(b).unwrap();
                let r = Icmpv4Repr::parse(&p, &Default::default()).unwrap();
                assert_eq!(from, FAR.into());
                assert!(
                    matches!(
                        r,
                        Icmpv4Repr::EchoReply {
                            seq_no: 1,
                            data: b"ping",
                            ..
                        }
                    ),
                    "{r:?}"
                );
                icmp_ok = true;
            }
        }
        if !saw_table && echoed.len() > total / 2 {
            let t = nat.nat_table().await;
            saw_table = t
                .iter()
                .any(|e| e.key.proto == NatProto::Tcp && e.key.dst == SocketAddrV4::new(FAR, 7000));
        }
        if far_eof && udp_ok && icmp_ok && guarded_reset && saw_table {
            break;
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    let table = nat.nat_table().await;
    eprintln!(
        "guarded_reset={guarded_reset} udp_sent={udp_sent} udp_ok={udp_ok} icmp_ok={icmp_ok} echoed={} far_eof={far_eof} saw_table={saw_table} table={table:?}",
        echoed.len()
    );
    assert!(guarded_reset, "connect to the server's own address refused");
    assert!(udp_ok, "fragmented UDP through the DNS proxy port");
    assert!(icmp_ok, "ICMP echo through a ping socket");
    assert_eq!(echoed.len(), total, "all TCP bytes echoed");
    assert!(echoed == data, "TCP bytes intact");
    assert!(
        far_eof,
        "remote FIN reached the client after the client's FIN"
    );
    assert!(saw_table, "NatTable listed the TCP flow");
}
