//! Micro benchmark of the access list's per-frame cost inside
//! `Switch::route`: the same unicast TCP frames routed with no list and with
//! a 100-entry list that none of them matches (the worst case: every entry
//! is looked at), printing ns/frame and the extra CPU per Gbit/s of
//! 1514-byte frames (82 k frames/s), to compare with the server's T1 CPU
//! per Gbit/s in BENCHMARKS.md (issue 12: within 10 %).
//!
//! `cargo bench -p rustether-hub --bench access` runs it in full; under
//! `cargo test --benches` it only runs a few iterations as a smoke test.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::time::Instant;

use rustether_hub::access::{AccessIdentity, AccessList};
use rustether_hub::{Route, SessionPolicy, Switch, SwitchConfig};
use rustether_proto::softether::access::{sorted_list, AccessRule};

/// A 1514-byte IPv4/TCP frame (an iperf3 data segment).
fn tcp_frame(dst: [u8; 6], src: [u8; 6], sip: [u8; 4], dip: [u8; 4]) -> Vec<u8> {
    let mut f = vec![0u8; 1514];
    f[..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[23] = 6;
    f[26..30].copy_from_slice(&sip);
    f[30..34].copy_from_slice(&dip);
    f[34..36].copy_from_slice(&40_000u16.to_be_bytes());
    f[36..38].copy_from_slice(&5201u16.to_be_bytes());
    f[47] = 0x10;
    f
}

/// 100 entries of the kinds administrators write (address ranges, ports,
/// protocols, users, MACs), none matching the bench frames.
fn rules() -> Vec<AccessRule> {
    (0..100u32)
        .map(|i| {
            let mut r = AccessRule {
                active: true,
                priority: 1000 + i,
                discard: i % 2 == 0,
                dst_ip: Ipv4Addr::new(10, (i / 256) as u8, (i % 256) as u8, 0),
                dst_mask: Ipv4Addr::new(255, 255, 255, 0),
                ..AccessRule::default()
            };
            match i % 4 {
                0 => {
                    r.protocol = 6;
                    r.dst_port_start = 1000 + i;
                    r.dst_port_end = 1000 + i;
                }
                1 => {
                    r.protocol = 17;
                    r.src_ip = Ipv4Addr::new(172, 16, 0, 0);
                    r.src_mask = Ipv4Addr::new(255, 240, 0, 0);
                }
                2 => {
                    r.src_username = format!("user{i}");
                    r.dst_ip = Ipv4Addr::UNSPECIFIED;
                    r.dst_mask = Ipv4Addr::UNSPECIFIED;
                    r.protocol = 1;
                }
                _ => {
                    r.check_src_mac = true;
                    r.src_mac = [0x02, 0, 0, 0, 0x99, i as u8];
                    r.src_mac_mask = [0xff; 6];
                    r.dst_ip = Ipv4Addr::UNSPECIFIED;
                    r.dst_mask = Ipv4Addr::UNSPECIFIED;
                }
            }
            r
        })
        .collect()
}

fn run(sw: &mut Switch, frames: &[(u64, Vec<u8>)], iters: usize) -> f64 {
    let mut unicast = 0usize;
    let start = Instant::now();
    for i in 0..iters {
        let (src, f) = &frames[i % frames.len()];
        let now = 1_000 + (i as u64 >> 10);
        if let Route::Unicast(_) = black_box(sw.route(*src, black_box(f), now)) {
            unicast += 1;
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / iters as f64;
    assert!(unicast >= iters - 2, "frames must pass and be unicast");
    ns
}

fn switch(list: Option<AccessList>) -> Switch {
    let mut sw = Switch::new(SwitchConfig::default());
    for (id, user) in [(1, "alice"), (2, "bob")] {
        sw.add_session(
            id,
            SessionPolicy {
                access_identity: AccessIdentity::new(user, ""),
                ..SessionPolicy::default()
            },
        );
    }
    if let Some(l) = list {
        sw.set_access_list(l);
    }
    sw
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let iters = if full { 5_000_000 } else { 10_000 };
    let (m1, m2) = ([0x02, 0, 0, 0, 0, 1], [0x02, 0, 0, 0, 0, 2]);
    let (a, b) = ([192, 168, 231, 11], [192, 168, 231, 12]);
    let frames = vec![(1, tcp_frame(m2, m1, a, b)), (2, tcp_frame(m1, m2, b, a))];
    let list = AccessList::compile(&sorted_list(rules()));
    assert_eq!(list.len(), 100);
    // Alternate runs so that frequency changes hit both alike.
    let (mut base, mut acl) = (f64::MAX, f64::MAX);
    for _ in 0..3 {
        base = base.min(run(&mut switch(None), &frames, iters));
        acl = acl.min(run(&mut switch(Some(list.clone())), &frames, iters));
    }
    let extra = (acl - base).max(0.0);
    // 1 Gbit/s of 1514-byte frames (+ 24 bytes preamble, FCS, gap on the wire
    // are not carried by the tunnel; count the frame only).
    let fps = 1e9 / (1514.0 * 8.0);
    let cpu_pct = extra * fps / 1e9 * 100.0;
    println!("route, no access list           : {base:7.1} ns/frame");
    println!("route, 100 entries, none matches: {acl:7.1} ns/frame");
    println!("extra CPU per Gbit/s (1514-byte frames): {cpu_pct:.3} % of one core");
}
