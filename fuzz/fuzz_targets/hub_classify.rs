//! The hub's frame classifier (`rustether_hub::classify`), which every
//! frame a session sends goes through before the policy filters and the
//! IP table: no panic on any bytes, and the classes it returns are
//! consistent with each other and with the other header readers.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rustether_hub::classify::*;

fuzz_target!(|frame: &[u8]| {
    let c = classify(frame);
    let base = c & (CLASS_IPV4 | CLASS_ARP | CLASS_IPV6 | CLASS_NON_IP);
    if frame.len() < 14 {
        assert_eq!(c, 0, "a frame without an EtherType has no class");
    } else {
        assert_eq!(base.count_ones(), 1, "exactly one EtherType class: {c:#x}");
    }
    // A finer class implies its coarser ones.
    let implies = [
        (CLASS_TCP4_SYN_ACK | CLASS_DHCP4, CLASS_IPV4),
        (CLASS_DHCP4_REPLY, CLASS_DHCP4),
        (
            CLASS_TCP6_SYN_ACK | CLASS_DHCP6 | CLASS_DHCP6_SERVER | CLASS_ICMP6,
            CLASS_IPV6,
        ),
        (CLASS_ICMP6_RS | CLASS_ICMP6_RA, CLASS_ICMP6),
    ];
    for (fine, coarse) in implies {
        if c & fine != 0 {
            assert_ne!(c & coarse, 0, "{c:#x}");
        }
    }
    assert!(c & CLASS_ICMP6_RS == 0 || c & CLASS_ICMP6_RA == 0);
    // The router advertisement reader (the RA filter) agrees with classify.
    let ra = router_advertisement(frame);
    assert_eq!(ra.is_some(), c & CLASS_ICMP6_RA != 0, "{c:#x}");
    if let Some((l3, icmp)) = ra {
        assert!(l3 < icmp && icmp < frame.len());
    }
    // Sources for the IP table come only from the matching classes.
    if ipv4_source(frame, c).is_some() {
        assert_ne!(c & (CLASS_IPV4 | CLASS_ARP), 0);
        assert_eq!(c & CLASS_DHCP4, 0);
    }
    if ipv6_source(frame, c).is_some() {
        assert_ne!(c & CLASS_IPV6, 0);
    }
});
