//! The hub's access list on arbitrary frames (issue 12 item 2,
//! docs/administration.md "Access lists"): the header parser
//! (`PacketInfo::parse`) and the evaluation of a list that exercises every
//! kind of criterion must never panic, whatever the frame. The first byte
//! picks which of the list's entries are active.
#![no_main]
use std::net::Ipv4Addr;

use libfuzzer_sys::fuzz_target;
use rustether_hub::access::{AccessIdentity, AccessList, PacketInfo};
use rustether_proto::softether::access::{sorted_list, AccessRule};

fn list(active: u8) -> AccessList {
    let base = AccessRule {
        discard: true,
        ..AccessRule::default()
    };
    let rules = vec![
        AccessRule {
            protocol: 6,
            dst_port_start: 80,
            dst_port_end: 90,
            check_tcp_state: true,
            ..base.clone()
        },
        AccessRule {
            src_ip: Ipv4Addr::new(10, 0, 0, 0),
            src_mask: Ipv4Addr::new(255, 0, 0, 0),
            protocol: 17,
            src_port_start: 53,
            ..base.clone()
        },
        AccessRule {
            is_ipv6: true,
            dst_ip6: "fd00::".parse().unwrap_or(std::net::Ipv6Addr::UNSPECIFIED),
            dst_mask6: "ffff::".parse().unwrap_or(std::net::Ipv6Addr::UNSPECIFIED),
            protocol: 58,
            ..base.clone()
        },
        AccessRule {
            check_src_mac: true,
            src_mac: [2, 0, 0, 0, 0, 1],
            src_mac_mask: [0xff, 0xff, 0xff, 0, 0, 0],
            src_username: "alice".into(),
            ..base.clone()
        },
        AccessRule {
            dst_username: "bob".into(),
            ..base.clone()
        },
        AccessRule {
            discard: false,
            ..base
        },
    ];
    let rules = rules
        .into_iter()
        .enumerate()
        .map(|(i, r)| AccessRule {
            active: active & (1 << i) != 0,
            priority: i as u32,
            ..r
        })
        .collect();
    AccessList::compile(&sorted_list(rules))
}

fuzz_target!(|data: &[u8]| {
    let Some((&active, frame)) = data.split_first() else {
        return;
    };
    let l = list(active);
    let p = PacketInfo::parse(frame);
    let alice = AccessIdentity::new("alice", "g");
    let bob = AccessIdentity::new("bob", "");
    if l.ingress(&alice, &p).is_none() && l.has_forward_rules() {
        let _ = l.forward(&alice, &bob, &p);
    }
});
