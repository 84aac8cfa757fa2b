//! The Virtual Layer 3 Switch (`rustether_hub::router`), which reads every
//! frame the clients of its hubs send to it: fed a stream of frames on
//! either interface and clock steps. No panic; its tables stay within
//! their bounds; every frame it emits leaves by an existing interface with
//! that interface's MAC as source and fits one Ethernet frame.
//!
//! Input: a sequence of records `op, len, bytes[len]`: `op & 3` = 0 or 1
//! is a frame on that interface, 2 a frame on a non-existent interface, 3
//! advances the clock by `len * 64` ms and polls.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rustether_hub::router::*;
use std::net::Ipv4Addr;

fuzz_target!(|data: &[u8]| {
    let ifs = [
        L3Interface {
            hub: "A".into(),
            ip: Ipv4Addr::new(10, 1, 0, 1),
            mask: Ipv4Addr::new(255, 255, 255, 0),
        },
        L3Interface {
            hub: "B".into(),
            ip: Ipv4Addr::new(10, 2, 0, 1),
            mask: Ipv4Addr::new(255, 255, 0, 0),
        },
    ];
    let routes = [L3Route {
        network: Ipv4Addr::new(0, 0, 0, 0),
        mask: Ipv4Addr::new(0, 0, 0, 0),
        gateway: Ipv4Addr::new(10, 2, 0, 254),
        metric: 1,
    }];
    let mut r = Router::new("FUZZ", &ifs, &routes);
    let macs = [r.mac(0).unwrap(), r.mac(1).unwrap()];
    let mut now = 0u64;
    let mut rest = data;
    while rest.len() >= 2 {
        let (op, len) = (rest[0], usize::from(rest[1]) * 8);
        rest = &rest[2..];
        if op & 3 == 3 {
            now += len as u64 * 8;
            r.poll(now);
        } else {
            let n = len.min(rest.len());
            let mut frame = rest[..n].to_vec();
            rest = &rest[n..];
            // Half the frames are addressed to the interface, so that the
            // IPv4 path is reached.
            let i = usize::from(op & 3);
            if op & 4 != 0 && frame.len() >= 6 && i < 2 {
                frame[..6].copy_from_slice(&macs[i]);
            }
            r.input(i, &frame, now);
        }
        for (i, f) in r.take_output() {
            assert!(i < 2, "interface {i}");
            assert_eq!(f[6..12], macs[i], "source MAC of interface {i}");
            assert!(f.len() <= MAX_FRAME + 64, "frame of {} bytes", f.len());
        }
        for i in 0..2 {
            assert!(r.ip_wait_len(i) <= MAX_IP_WAIT);
            assert!(r.arp_len(i) <= MAX_ARP_ENTRIES);
        }
    }
});
