//! Behaviour of `Switch` through its public API (docs/process-model.md §12).

use rustether_hub::{
    DropReason, MacAddr, Route, SessionId, SessionPolicy, Switch, SwitchConfig,
    MAC_TABLE_EXCLUSIVE_TIME_MS, MAC_TABLE_EXPIRE_TIME_MS,
};

const BCAST: [u8; 6] = [0xff; 6];

fn mac(n: u32) -> [u8; 6] {
    let b = n.to_be_bytes();
    [0x5e, 0x00, b[0], b[1], b[2], b[3]]
}

fn frame(dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f
}

fn tagged(dst: [u8; 6], src: [u8; 6], vid: u16) -> Vec<u8> {
    let mut f = vec![0u8; 64];
    f[..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&[0x81, 0x00]);
    // PCP bits set on purpose: only the low 12 bits are the VLAN id.
    f[14..16].copy_from_slice(&(0xe000 | vid).to_be_bytes());
    f[16..18].copy_from_slice(&[0x08, 0x00]);
    f
}

fn switch_with(sessions: &[SessionId]) -> Switch {
    let mut sw = Switch::new(SwitchConfig::default());
    for &s in sessions {
        sw.add_session(s, SessionPolicy::default());
    }
    sw
}

fn sorted(it: impl Iterator<Item = SessionId>) -> Vec<SessionId> {
    let mut v: Vec<_> = it.collect();
    v.sort_unstable();
    v
}

fn check_mac() -> SessionPolicy {
    SessionPolicy {
        check_mac: true,
        ..SessionPolicy::default()
    }
}

#[test]
fn default_config_is_softether() {
    let c = SwitchConfig::default();
    assert_eq!(c.mac_expire_ms, 600_000);
    assert_eq!(c.mac_exclusive_ms, 13_000);
    assert_eq!(c.max_entries, 65_536);
    assert!(c.manage_vlan);
}

#[test]
fn learns_source_mac_with_times() {
    let mut sw = switch_with(&[1, 2]);
    assert_eq!(sw.route(1, &frame(BCAST, mac(1)), 500), Route::Flood);
    let e = sw.lookup(MacAddr(mac(1)), 0).unwrap();
    assert_eq!((e.session, e.created_ms, e.updated_ms), (1, 500, 500));
    assert_eq!(sw.route(1, &frame(BCAST, mac(1)), 900), Route::Flood);
    let e = sw.lookup(MacAddr(mac(1)), 0).unwrap();
    assert_eq!((e.session, e.created_ms, e.updated_ms), (1, 500, 900));
    assert_eq!(sw.mac_count(), 1);
    assert_eq!(sw.session_mac_count(1), Some(1));
    assert_eq!(sw.stats().learned, 1);
    let table: Vec<_> = sw.mac_table().collect();
    assert_eq!(table.len(), 1);
    assert_eq!(table[0].mac.to_string(), "5E-00-00-00-00-01");
    assert_eq!(table[0].vlan, 0);
}

#[test]
fn floods_broadcast_multicast_and_unknown_unicast_to_all_others() {
    let mut sw = switch_with(&[1, 2, 3, 4]);
    let ipv4_mcast = [0x01, 0x00, 0x5e, 0x00, 0x00, 0xfb];
    let ipv6_mcast = [0x33, 0x33, 0x00, 0x00, 0x00, 0x16];
    for dst in [BCAST, ipv4_mcast, ipv6_mcast, mac(99)] {
        for src in 1..=4u64 {
            let r = sw.route(src, &frame(dst, mac(src as u32)), 0);
            assert_eq!(r, Route::Flood, "dst {dst:x?} from {src}");
            let targets = sorted(sw.flood_targets(src));
            let expected: Vec<_> = (1..=4).filter(|&s| s != src).collect();
            assert_eq!(targets, expected);
        }
    }
    assert_eq!(sw.stats().flooded, 16);
}

#[test]
fn unicast_after_learning() {
    let mut sw = switch_with(&[1, 2, 3]);
    // B unknown yet: flood.
    assert_eq!(sw.route(1, &frame(mac(2), mac(1)), 0), Route::Flood);
    // B answers A: A is known on session 1.
    assert_eq!(sw.route(2, &frame(mac(1), mac(2)), 1), Route::Unicast(1));
    assert_eq!(sw.route(1, &frame(mac(2), mac(1)), 2), Route::Unicast(2));
    assert_eq!(sw.stats().unicast, 2);
    assert_eq!(sw.stats().flooded, 1);
}

#[test]
fn same_session_destination_is_dropped_after_learning_source() {
    let mut sw = switch_with(&[1, 2]);
    sw.route(1, &frame(BCAST, mac(1)), 0);
    // mac(3) also lives behind session 1 (a bridge); it talks to mac(1).
    let r = sw.route(1, &frame(mac(1), mac(3)), 1);
    assert_eq!(r, Route::Drop(DropReason::SameSession));
    // The source was still learned, as in StorePacket.
    assert_eq!(sw.lookup(MacAddr(mac(3)), 0).unwrap().session, 1);
    assert_eq!(sw.stats().dropped(DropReason::SameSession), 1);
}

#[test]
fn ingress_checks() {
    let mut sw = switch_with(&[1, 2]);
    let good = frame(BCAST, mac(1));
    for len in 0..14 {
        assert_eq!(
            sw.route(1, &good[..len], 0),
            Route::Drop(DropReason::TooShort)
        );
    }
    assert_eq!(sw.route(1, &good[..14], 0), Route::Flood);
    // Tagged frame with the tag cut off.
    let t = tagged(BCAST, mac(1), 5);
    assert_eq!(sw.route(1, &t[..17], 0), Route::Drop(DropReason::TooShort));
    assert_eq!(sw.route(1, &t[..18], 0), Route::Flood);

    let bad = DropReason::BadSourceMac;
    assert_eq!(sw.route(1, &frame(BCAST, [0; 6]), 0), Route::Drop(bad));
    assert_eq!(sw.route(1, &frame(mac(2), BCAST), 0), Route::Drop(bad));
    assert_eq!(sw.route(1, &frame(mac(7), mac(7)), 0), Route::Drop(bad));
    // Multicast (I/G bit) source: stricter than SoftEther, documented.
    assert_eq!(
        sw.route(1, &frame(BCAST, [0x01, 0, 0x5e, 0, 0, 1]), 0),
        Route::Drop(bad)
    );
    // The hub's own MAC as source.
    let hub = MacAddr([0x00, 0xae, 1, 2, 3, 4]);
    sw.set_hub_mac(Some(hub));
    assert_eq!(sw.route(1, &frame(BCAST, hub.0), 0), Route::Drop(bad));
    sw.set_hub_mac(None);
    assert_eq!(sw.route(1, &frame(BCAST, hub.0), 0), Route::Flood);

    assert_eq!(
        sw.route(77, &frame(BCAST, mac(9)), 0),
        Route::Drop(DropReason::UnknownSession)
    );
    // Nothing dropped was learned.
    let mut learned: Vec<_> = sw.mac_table().map(|e| (e.mac, e.vlan)).collect();
    learned.sort();
    assert_eq!(
        learned,
        vec![(hub, 0), (MacAddr(mac(1)), 0), (MacAddr(mac(1)), 5)]
    );
    assert_eq!(sw.stats().dropped(DropReason::TooShort), 15);
    assert_eq!(sw.stats().dropped(bad), 5);
    assert_eq!(sw.stats().dropped(DropReason::UnknownSession), 1);
    assert_eq!(sw.stats().dropped_total(), 21);
}

#[test]
fn station_move_to_another_session() {
    let mut sw = switch_with(&[1, 2, 3]);
    sw.route(1, &frame(BCAST, mac(1)), 1_000);
    sw.route(3, &frame(BCAST, mac(3)), 1_000);
    // mac(1) now shows up behind session 2 (roaming client, no check_mac).
    assert_eq!(
        sw.route(2, &frame(mac(3), mac(1)), 2_000),
        Route::Unicast(3)
    );
    let e = sw.lookup(MacAddr(mac(1)), 0).unwrap();
    assert_eq!((e.session, e.created_ms, e.updated_ms), (2, 2_000, 2_000));
    assert_eq!(sw.session_mac_count(1), Some(0));
    assert_eq!(sw.session_mac_count(2), Some(1));
    assert_eq!(
        sw.route(3, &frame(mac(1), mac(3)), 2_001),
        Route::Unicast(2)
    );
    assert_eq!(sw.stats().moved, 1);
}

#[test]
fn move_to_check_mac_session_denied_within_13s_then_allowed() {
    let mut sw = switch_with(&[1, 3]);
    sw.add_session(2, check_mac()); // e.g. a local bridge
    sw.route(1, &frame(BCAST, mac(1)), 10_000);
    let leak = frame(BCAST, mac(1));
    let denied = Route::Drop(DropReason::MacMoveDenied);
    assert_eq!(sw.route(2, &leak, 10_001), denied);
    // Boundary: updated + 13 000 >= now is still exclusive.
    assert_eq!(
        sw.route(2, &leak, 10_000 + MAC_TABLE_EXCLUSIVE_TIME_MS),
        denied
    );
    assert_eq!(sw.lookup(MacAddr(mac(1)), 0).unwrap().session, 1);
    // A denied attempt does not refresh the entry, a frame from the owner does.
    sw.route(1, &frame(BCAST, mac(1)), 20_000);
    assert_eq!(sw.route(2, &leak, 30_000), denied);
    assert_eq!(sw.route(2, &leak, 33_001), Route::Flood);
    assert_eq!(sw.lookup(MacAddr(mac(1)), 0).unwrap().session, 2);
    assert_eq!(sw.stats().dropped(DropReason::MacMoveDenied), 3);
    // A session without check_mac may take the MAC back at once.
    assert_eq!(sw.route(3, &leak, 33_002), Route::Flood);
    assert_eq!(sw.lookup(MacAddr(mac(1)), 0).unwrap().session, 3);
}

#[test]
fn aging_purges_after_600s() {
    let mut sw = switch_with(&[1, 2]);
    sw.route(1, &frame(BCAST, mac(1)), 0);
    sw.route(2, &frame(BCAST, mac(2)), 100_000);
    sw.expire(MAC_TABLE_EXPIRE_TIME_MS - 1);
    assert_eq!(sw.mac_count(), 2);
    sw.expire(MAC_TABLE_EXPIRE_TIME_MS);
    assert_eq!(sw.mac_count(), 1);
    assert!(sw.lookup(MacAddr(mac(1)), 0).is_none());
    assert_eq!(sw.session_mac_count(1), Some(0));
    assert_eq!(sw.stats().expired, 1);
    // Unknown again, so unicast to it floods.
    assert_eq!(sw.route(2, &frame(mac(1), mac(2)), 600_001), Route::Flood);
}

#[test]
fn refreshed_entries_do_not_age() {
    let mut sw = switch_with(&[1, 2]);
    for t in (0..=1_200_000).step_by(300_000) {
        sw.route(1, &frame(BCAST, mac(1)), t);
    }
    sw.expire(1_700_000);
    assert_eq!(sw.lookup(MacAddr(mac(1)), 0).unwrap().created_ms, 0);
}

#[test]
fn lazy_purge_runs_only_when_learning_a_new_mac() {
    let mut sw = switch_with(&[1, 2]);
    sw.route(1, &frame(BCAST, mac(1)), 0);
    sw.route(1, &frame(BCAST, mac(2)), 500);
    // mac(2) is expired from t=600_500 on, but refreshing a known MAC does
    // not purge.
    sw.route(1, &frame(BCAST, mac(1)), 600_400);
    sw.route(1, &frame(BCAST, mac(1)), 600_600);
    assert_eq!(sw.mac_count(), 2);
    // Learning a new MAC purges first.
    sw.route(2, &frame(BCAST, mac(3)), 600_700);
    assert!(sw.lookup(MacAddr(mac(2)), 0).is_none());
    assert!(sw.lookup(MacAddr(mac(1)), 0).is_some());
    assert!(sw.lookup(MacAddr(mac(3)), 0).is_some());
    assert_eq!(sw.stats().expired, 1);
}

#[test]
fn lazy_purge_is_rate_limited() {
    let cfg = SwitchConfig {
        mac_expire_ms: 10,
        ..SwitchConfig::default()
    };
    let mut sw = Switch::new(cfg);
    sw.add_session(1, SessionPolicy::default());
    sw.route(1, &frame(BCAST, mac(1)), 0); // purge at 0, learn mac(1)
    sw.route(1, &frame(BCAST, mac(2)), 500); // 0 + 1000 < 500: no purge
    assert_eq!(
        sw.mac_count(),
        2,
        "mac(1) is expired but the purge is not due"
    );
    sw.route(1, &frame(BCAST, mac(3)), 1_000); // 0 + 1000 < 1000: still not due
    assert_eq!(sw.mac_count(), 3);
    sw.route(1, &frame(BCAST, mac(4)), 1_001); // due: purges mac(1), mac(2)
    assert_eq!(
        sorted(sw.mac_table().map(|e| u64::from(e.mac.0[5]))),
        vec![3, 4]
    );
    assert_eq!(sw.stats().expired, 2);
}

#[test]
fn removing_a_session_drops_its_entries() {
    let mut sw = switch_with(&[1, 2, 3]);
    for m in 0..10 {
        sw.route(1, &frame(BCAST, mac(m)), 0);
    }
    sw.route(2, &frame(BCAST, mac(100)), 0);
    assert_eq!(sw.mac_count(), 11);
    sw.remove_session(1);
    assert_eq!(sw.mac_count(), 1);
    assert_eq!(sw.session_count(), 2);
    assert!(!sw.contains_session(1));
    assert_eq!(sorted(sw.flood_targets(2)), vec![3]);
    assert_eq!(sw.route(2, &frame(mac(3), mac(100)), 1), Route::Flood);
    assert_eq!(
        sw.route(1, &frame(BCAST, mac(1)), 1),
        Route::Drop(DropReason::UnknownSession)
    );
    sw.remove_session(1); // idempotent
    assert_eq!(sw.session_count(), 2);
}

#[test]
fn per_session_mac_limit() {
    let mut sw = switch_with(&[9]);
    sw.add_session(
        1,
        SessionPolicy {
            max_mac: 5,
            ..SessionPolicy::default()
        },
    );
    for m in 0..5 {
        assert_eq!(sw.route(1, &frame(BCAST, mac(m)), 0), Route::Flood);
    }
    let r = sw.route(1, &frame(mac(200), mac(5)), 0);
    assert_eq!(r, Route::Drop(DropReason::MacLimit));
    assert!(sw.lookup(MacAddr(mac(5)), 0).is_none());
    // Known MACs still pass.
    assert_eq!(sw.route(1, &frame(BCAST, mac(4)), 1), Route::Flood);
    // Aging frees a slot.
    sw.route(1, &frame(BCAST, mac(0)), 600_000);
    sw.route(1, &frame(BCAST, mac(1)), 600_000);
    sw.route(1, &frame(BCAST, mac(2)), 600_000);
    sw.route(1, &frame(BCAST, mac(3)), 600_000);
    // mac(4) last refreshed at 1: expired at 600_001, lazy purge on learning.
    assert_eq!(sw.route(1, &frame(BCAST, mac(5)), 600_001), Route::Flood);
    assert_eq!(sw.session_mac_count(1), Some(5));
    assert_eq!(sw.stats().dropped(DropReason::MacLimit), 1);
}

#[test]
fn mac_limit_rules() {
    let p = |max_mac, no_bridge| {
        SessionPolicy {
            max_mac,
            no_bridge,
            ..SessionPolicy::default()
        }
        .mac_limit()
    };
    assert_eq!(p(0, false), None);
    assert_eq!(p(1, false), Some(3), "never below MAC_MIN_LIMIT_COUNT");
    assert_eq!(p(3, false), Some(3));
    assert_eq!(p(100, false), Some(100));
    assert_eq!(p(0, true), Some(3));
    assert_eq!(p(100, true), Some(3));
    assert_eq!(p(1, true), Some(3));
}

#[test]
fn no_bridge_limits_to_three_macs() {
    let mut sw = switch_with(&[2]);
    sw.add_session(
        1,
        SessionPolicy {
            no_bridge: true,
            ..SessionPolicy::default()
        },
    );
    for m in 0..3 {
        assert_eq!(sw.route(1, &frame(BCAST, mac(m)), 0), Route::Flood);
    }
    assert_eq!(
        sw.route(1, &frame(BCAST, mac(3)), 0),
        Route::Drop(DropReason::MacLimit)
    );
    // Unlimited sessions are unaffected.
    for m in 10..20 {
        assert_eq!(sw.route(2, &frame(BCAST, mac(m)), 0), Route::Flood);
    }
}

#[test]
fn hub_wide_table_limit() {
    let cfg = SwitchConfig {
        max_entries: 4,
        ..SwitchConfig::default()
    };
    let mut sw = Switch::new(cfg);
    sw.add_session(1, SessionPolicy::default());
    sw.add_session(2, SessionPolicy::default());
    for m in 0..4 {
        assert_eq!(
            sw.route(1 + u64::from(m % 2), &frame(BCAST, mac(m)), 0),
            Route::Flood
        );
    }
    assert_eq!(
        sw.route(2, &frame(mac(0), mac(4)), 0),
        Route::Drop(DropReason::TableFull)
    );
    assert_eq!(sw.mac_count(), 4);
    // Known sources are still forwarded; a move does not need a new entry.
    assert_eq!(sw.route(2, &frame(mac(0), mac(1)), 1), Route::Unicast(1));
    assert_eq!(sw.route(2, &frame(BCAST, mac(0)), 1), Route::Flood);
    assert_eq!(sw.lookup(MacAddr(mac(0)), 0).unwrap().session, 2);
    // Freeing one entry makes room.
    assert!(sw.remove_mac(MacAddr(mac(3)), 0));
    assert!(!sw.remove_mac(MacAddr(mac(3)), 0));
    assert_eq!(sw.route(2, &frame(BCAST, mac(4)), 2), Route::Flood);
    assert_eq!(sw.stats().dropped(DropReason::TableFull), 1);
}

#[test]
fn vlan_separation() {
    let mut sw = switch_with(&[1, 2, 3]);
    // The same MAC on two VLANs behind two sessions: two entries, no move.
    assert_eq!(sw.route(1, &tagged(BCAST, mac(1), 10), 0), Route::Flood);
    assert_eq!(sw.route(2, &tagged(BCAST, mac(1), 20), 0), Route::Flood);
    assert_eq!(sw.mac_count(), 2);
    assert_eq!(sw.stats().moved, 0);
    assert_eq!(sw.lookup(MacAddr(mac(1)), 10).unwrap().session, 1);
    assert_eq!(sw.lookup(MacAddr(mac(1)), 20).unwrap().session, 2);
    assert!(sw.lookup(MacAddr(mac(1)), 0).is_none());
    // Unicast is resolved within the frame's VLAN.
    assert_eq!(
        sw.route(3, &tagged(mac(1), mac(3), 10), 1),
        Route::Unicast(1)
    );
    assert_eq!(
        sw.route(3, &tagged(mac(1), mac(3), 20), 1),
        Route::Unicast(2)
    );
    assert_eq!(sw.route(3, &tagged(mac(1), mac(3), 30), 1), Route::Flood);
    assert_eq!(sw.route(3, &frame(mac(1), mac(3)), 1), Route::Flood);
    let mut vlans = sorted(sw.mac_table().map(|e| u64::from(e.vlan)));
    vlans.dedup();
    assert_eq!(vlans, vec![0, 10, 20, 30]);
}

#[test]
fn vlan_ignored_when_not_managed() {
    let cfg = SwitchConfig {
        manage_vlan: false,
        ..SwitchConfig::default()
    };
    let mut sw = Switch::new(cfg);
    sw.add_session(1, SessionPolicy::default());
    sw.add_session(2, SessionPolicy::default());
    sw.route(1, &tagged(BCAST, mac(1), 10), 0);
    // Same MAC on another VLAN is the same station: it moves.
    sw.route(2, &tagged(BCAST, mac(1), 20), 1);
    assert_eq!(sw.mac_count(), 1);
    assert_eq!(sw.lookup(MacAddr(mac(1)), 0).unwrap().session, 2);
    assert_eq!(sw.route(1, &frame(mac(1), mac(5)), 2), Route::Unicast(2));
}

#[test]
fn monitor_sessions() {
    let mut sw = switch_with(&[1, 2]);
    sw.add_session(
        50,
        SessionPolicy {
            monitor: true,
            ..SessionPolicy::default()
        },
    );
    assert_eq!(sorted(sw.monitors()), vec![50]);
    assert_eq!(sorted(sw.flood_targets(1)), vec![2]);
    assert_eq!(sw.session_count(), 3);
    // Frames from the monitor are neither forwarded nor learned.
    let r = sw.route(50, &frame(BCAST, mac(50)), 0);
    assert_eq!(r, Route::Drop(DropReason::MonitorSource));
    assert_eq!(sw.mac_count(), 0);
    sw.route(1, &frame(BCAST, mac(1)), 0);
    assert_eq!(
        sw.route(50, &frame(mac(1), mac(50)), 0),
        Route::Drop(DropReason::MonitorSource)
    );
    // Turning session 2 into a monitor takes it out of the flood domain
    // and forgets its MACs; turning it back restores it.
    sw.route(2, &frame(BCAST, mac(2)), 0);
    let mon = SessionPolicy {
        monitor: true,
        ..SessionPolicy::default()
    };
    sw.add_session(2, mon);
    assert_eq!(sorted(sw.monitors()), vec![2, 50]);
    assert_eq!(sorted(sw.flood_targets(1)), Vec::<u64>::new());
    assert!(sw.lookup(MacAddr(mac(2)), 0).is_none());
    assert_eq!(sw.route(1, &frame(mac(2), mac(1)), 1), Route::Flood);
    sw.add_session(2, SessionPolicy::default());
    assert_eq!(sorted(sw.monitors()), vec![50]);
    assert_eq!(sorted(sw.flood_targets(1)), vec![2]);
    sw.remove_session(50);
    assert_eq!(sw.monitors().count(), 0);
}

#[test]
fn readding_a_session_updates_policy_and_keeps_entries() {
    let mut sw = switch_with(&[1, 2]);
    for m in 0..5 {
        sw.route(1, &frame(BCAST, mac(m)), 0);
    }
    sw.add_session(
        1,
        SessionPolicy {
            max_mac: 5,
            ..SessionPolicy::default()
        },
    );
    assert_eq!(sw.session_mac_count(1), Some(5));
    assert_eq!(sw.policy(1).unwrap().max_mac, 5);
    assert_eq!(
        sw.route(1, &frame(BCAST, mac(9)), 1),
        Route::Drop(DropReason::MacLimit)
    );
    assert_eq!(sw.session_count(), 2);
    assert_eq!(sorted(sw.flood_targets(2)), vec![1]);
}

#[test]
fn hubs_are_isolated() {
    let mut a = switch_with(&[1, 2]);
    let mut b = switch_with(&[1, 2]);
    a.route(1, &frame(BCAST, mac(1)), 0);
    assert_eq!(a.mac_count(), 1);
    assert_eq!(b.mac_count(), 0);
    // The same session id and MAC on the other hub are unrelated.
    assert_eq!(b.route(2, &frame(mac(1), mac(2)), 0), Route::Flood);
    assert_eq!(b.route(1, &frame(BCAST, mac(1)), 0), Route::Flood);
    assert_eq!(b.route(2, &frame(mac(1), mac(2)), 1), Route::Unicast(1));
    b.remove_session(1);
    assert_eq!(a.lookup(MacAddr(mac(1)), 0).unwrap().session, 1);
    assert!(a.contains_session(1));
    assert_eq!(a.stats().flooded, 1);
    assert_eq!(b.stats().flooded, 2);
    a.add_session(3, SessionPolicy::default());
    assert_eq!(b.session_count(), 1);
}

#[test]
fn flood_targets_after_many_adds_and_removes() {
    let mut sw = Switch::new(SwitchConfig::default());
    for s in 0..100 {
        sw.add_session(s, SessionPolicy::default());
    }
    for s in (0..100).step_by(3) {
        sw.remove_session(s);
    }
    let expected: Vec<u64> = (0..100).filter(|s| s % 3 != 0 && *s != 5).collect();
    assert_eq!(sorted(sw.flood_targets(5)), expected);
    assert_eq!(sw.session_count(), 66);
}

// ------------------------------------------------------------ policy filters

/// An IPv4 frame from `src` with IPv4 source `ip` (protocol `proto`, the
/// next 20 bytes are the L4 header given).
fn ipv4(dst: [u8; 6], src: [u8; 6], ip: [u8; 4], proto: u8, l4: &[u8]) -> Vec<u8> {
    let mut f = frame(dst, src);
    f.truncate(14);
    f.extend_from_slice(&[0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0]);
    f.extend_from_slice(&ip);
    f.extend_from_slice(&[10, 0, 0, 254]);
    f.extend_from_slice(l4);
    f.resize(f.len().max(60), 0);
    f
}

const SYN_ACK: [u8; 20] = [
    0, 80, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x50, 0x12, 0, 0, 0, 0, 0, 0,
];
const DHCP_OFFER: [u8; 9] = [0, 67, 0, 68, 0, 0, 0, 0, 2];

#[test]
fn ip_table_lists_moves_and_deletes_entries() {
    use std::net::{IpAddr, Ipv4Addr};
    let mut sw = switch_with(&[1, 2]);
    let from = |s: u32, ip: u8| ipv4(BCAST, mac(s), [10, 0, 0, ip], 6, &[0; 20]);
    sw.route(1, &from(1, 5), 100);
    sw.route(2, &from(2, 6), 200);
    let a5 = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 5));
    let mut t: Vec<_> = sw
        .ip_table()
        .map(|e| (e.ip, e.session, e.created_ms, e.updated_ms))
        .collect();
    t.sort();
    assert_eq!(
        t,
        [
            (a5, 1, 100, 100),
            (IpAddr::V4(Ipv4Addr::new(10, 0, 0, 6)), 2, 200, 200)
        ]
    );
    // refresh keeps the creation time; a move resets it
    sw.route(1, &from(1, 5), 300);
    let e = sw.ip_table().find(|e| e.ip == a5).unwrap();
    assert_eq!((e.created_ms, e.updated_ms), (100, 300));
    sw.route(2, &from(2, 5), 400);
    let e = sw.ip_table().find(|e| e.ip == a5).unwrap();
    assert_eq!((e.session, e.created_ms), (2, 400));
    assert_eq!(sw.session_ip_count(2), Some(2));
    assert!(sw.remove_ip(a5));
    assert!(!sw.remove_ip(a5));
    assert_eq!(sw.session_ip_count(2), Some(1));
    assert_eq!(sw.ip_count(), 1);
}

#[test]
fn ingress_filter_drops_before_learning() {
    use rustether_hub::classify::{CLASS_DHCP4_REPLY, CLASS_TCP4_SYN_ACK};
    let mut sw = switch_with(&[1]);
    sw.add_session(
        2,
        SessionPolicy {
            ingress_deny: CLASS_TCP4_SYN_ACK | CLASS_DHCP4_REPLY,
            ..SessionPolicy::default()
        },
    );
    let synack = ipv4(mac(1), mac(2), [10, 0, 0, 2], 6, &SYN_ACK);
    assert_eq!(
        sw.route(2, &synack, 0),
        Route::Drop(DropReason::PolicyFilter)
    );
    assert_eq!(sw.session_mac_count(2), Some(0));
    let offer = ipv4(BCAST, mac(2), [10, 0, 0, 2], 17, &DHCP_OFFER);
    assert_eq!(
        sw.route(2, &offer, 0),
        Route::Drop(DropReason::PolicyFilter)
    );
    // Others may; and a plain segment from 2 passes.
    assert_eq!(
        sw.route(1, &ipv4(BCAST, mac(1), [10, 0, 0, 1], 17, &DHCP_OFFER), 0),
        Route::Flood
    );
    let plain = ipv4(BCAST, mac(2), [10, 0, 0, 2], 6, &[0; 20]);
    assert_eq!(sw.route(2, &plain, 0), Route::Flood);
    assert_eq!(sw.stats().dropped(DropReason::PolicyFilter), 2);
}

#[test]
fn egress_filter_and_privacy_apply_to_unicast_and_flood() {
    use rustether_hub::classify::CLASS_DHCP4;
    let mut sw = switch_with(&[1]);
    let private = SessionPolicy {
        privacy_filter: true,
        ..SessionPolicy::default()
    };
    sw.add_session(2, private.clone());
    sw.add_session(3, private);
    sw.add_session(
        4,
        SessionPolicy {
            egress_deny: CLASS_DHCP4,
            ..SessionPolicy::default()
        },
    );
    for s in 1..=4u32 {
        let f = ipv4(BCAST, mac(s), [10, 0, 0, s as u8], 6, &[0; 20]);
        assert_eq!(sw.route(u64::from(s), &f, 0), Route::Flood);
    }
    // Privacy: 2 and 3 don't see each other, 1 sees both.
    assert_eq!(sw.route(2, &frame(BCAST, mac(2)), 1), Route::Flood);
    assert_eq!(sorted(sw.flood_targets(2)), [1, 4]);
    assert_eq!(
        sw.route(2, &frame(mac(3), mac(2)), 1),
        Route::Drop(DropReason::PrivacyFilter)
    );
    assert_eq!(sw.route(2, &frame(mac(1), mac(2)), 1), Route::Unicast(1));
    assert_eq!(sw.route(1, &frame(mac(3), mac(1)), 1), Route::Unicast(3));
    // DHCP does not reach 4, other frames do.
    let offer = ipv4(BCAST, mac(1), [10, 0, 0, 1], 17, &DHCP_OFFER);
    assert_eq!(sw.route(1, &offer, 2), Route::Flood);
    assert_eq!(sorted(sw.flood_targets(1)), [2, 3]);
    let offer_u = ipv4(mac(4), mac(1), [10, 0, 0, 1], 17, &DHCP_OFFER);
    assert_eq!(
        sw.route(1, &offer_u, 2),
        Route::Drop(DropReason::PolicyFilter)
    );
    assert_eq!(sw.route(1, &frame(BCAST, mac(1)), 2), Route::Flood);
    assert_eq!(sorted(sw.flood_targets(1)), [2, 3, 4]);
}

#[test]
fn ip_limit_and_check_ip() {
    let mut sw = switch_with(&[1]);
    sw.add_session(
        2,
        SessionPolicy {
            max_ip: 5,
            check_ip: true,
            ..SessionPolicy::default()
        },
    );
    let from = |s: u32, ip: u8| ipv4(BCAST, mac(s), [10, 0, 0, ip], 6, &[0; 20]);
    assert_eq!(sw.route(1, &from(1, 1), 0), Route::Flood);
    for ip in 10..15 {
        assert_eq!(sw.route(2, &from(2, ip), 0), Route::Flood, "{ip}");
    }
    assert_eq!(
        sw.route(2, &from(2, 15), 0),
        Route::Drop(DropReason::IpLimit)
    );
    assert_eq!(sw.session_ip_count(2), Some(5));
    // Session 1's address, refreshed just now: a CheckIP session may not use it.
    assert_eq!(
        sw.route(2, &from(2, 1), 1),
        Route::Drop(DropReason::IpConflict)
    );
    // The limit is never below 4, NoRouting alone gives 4.
    sw.add_session(
        3,
        SessionPolicy {
            no_routing: true,
            max_ip: 1,
            ..SessionPolicy::default()
        },
    );
    for ip in 20..24 {
        assert_eq!(sw.route(3, &from(3, ip), 0), Route::Flood);
    }
    assert_eq!(
        sw.route(3, &from(3, 24), 0),
        Route::Drop(DropReason::IpLimit)
    );
    // Entries age out after 60 s and the session is free again.
    assert_eq!(sw.route(3, &from(3, 24), 61_000), Route::Flood);
    sw.remove_session(3);
    assert_eq!(sw.route(1, &from(1, 20), 61_000), Route::Flood);
}

#[test]
fn ipv6_limit_and_check_ipv6() {
    fn from6(s: u32, last: u8) -> Vec<u8> {
        let mut f = frame(BCAST, mac(s));
        f[12..14].copy_from_slice(&[0x86, 0xdd]);
        f.truncate(14);
        f.extend_from_slice(&[0x60, 0, 0, 0, 0, 8, 17, 64]);
        let mut src = [0u8; 16];
        src[..2].copy_from_slice(&[0xfe, 0x80]);
        src[15] = last;
        f.extend_from_slice(&src);
        f.extend_from_slice(&[0xff, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1]);
        f.extend_from_slice(&[0, 9, 0, 9, 0, 8, 0, 0]);
        f
    }
    let mut sw = switch_with(&[1]);
    sw.add_session(
        2,
        SessionPolicy {
            no_routing_v6: true,
            check_ipv6: true,
            ..SessionPolicy::default()
        },
    );
    assert_eq!(sw.route(1, &from6(1, 1), 0), Route::Flood);
    for last in 10..15 {
        assert_eq!(sw.route(2, &from6(2, last), 0), Route::Flood);
    }
    assert_eq!(
        sw.route(2, &from6(2, 15), 0),
        Route::Drop(DropReason::IpLimit)
    );
    assert_eq!(sw.session_ip6_count(2), Some(5));
    assert_eq!(sw.session_ip_count(2), Some(0));
    assert_eq!(
        sw.route(2, &from6(2, 1), 1),
        Route::Drop(DropReason::IpConflict)
    );
    // The unspecified source (DAD) is not tracked.
    let mut dad = from6(2, 0);
    dad[22..24].copy_from_slice(&[0, 0]);
    assert_eq!(sw.route(2, &dad, 1), Route::Flood);
}

/// A DHCP ACK (BOOTREPLY, option 53 = 5) giving `yiaddr` to `chaddr`.
fn dhcp_ack(chaddr: [u8; 6], yiaddr: [u8; 4], msg_type: u8) -> Vec<u8> {
    let mut l4 = vec![0, 67, 0, 68, 0, 0, 0, 0];
    let mut b = vec![0u8; 240];
    b[0] = 2;
    b[1] = 1;
    b[2] = 6;
    b[16..20].copy_from_slice(&yiaddr);
    b[28..34].copy_from_slice(&chaddr);
    b[236..240].copy_from_slice(&[99, 130, 83, 99]);
    b.extend_from_slice(&[0, 53, 1, msg_type, 255]);
    l4.extend_from_slice(&b);
    ipv4(BCAST, mac(1), [10, 0, 0, 1], 17, &l4)
}

#[test]
fn dhcp_force_allows_only_addresses_assigned_by_dhcp() {
    let mut sw = switch_with(&[1, 3]);
    sw.add_session(
        2,
        SessionPolicy {
            dhcp_force: true,
            ..SessionPolicy::default()
        },
    );
    let from = |s: u32, ip: u8| ipv4(BCAST, mac(s), [10, 0, 0, ip], 6, &[0; 20]);
    // Before any DHCP: no address works, and the MAC is learned anyway.
    assert_eq!(
        sw.route(2, &from(2, 50), 0),
        Route::Drop(DropReason::DhcpForce)
    );
    // An OFFER assigns nothing; an ACK from the DHCP server's session does.
    assert_eq!(
        sw.route(1, &dhcp_ack(mac(2), [10, 0, 0, 50], 2), 1),
        Route::Flood
    );
    assert_eq!(
        sw.route(2, &from(2, 50), 2),
        Route::Drop(DropReason::DhcpForce)
    );
    assert_eq!(
        sw.route(1, &dhcp_ack(mac(2), [10, 0, 0, 50], 5), 3),
        Route::Flood
    );
    assert_eq!(sw.route(2, &from(2, 50), 4), Route::Flood);
    assert_eq!(
        sw.route(2, &from(2, 51), 4),
        Route::Drop(DropReason::DhcpForce)
    );
    // Another session's (non-DHCP) address: refused, even when old.
    assert_eq!(sw.route(3, &from(3, 60), 5), Route::Flood);
    assert_eq!(
        sw.route(2, &from(2, 60), 100_000),
        Route::Drop(DropReason::DhcpForce)
    );
    // A DHCP entry outlives the 60 s of ordinary ones (5 min).
    assert_eq!(sw.route(2, &from(2, 50), 200_000), Route::Flood);
    let e = sw
        .ip_table()
        .find(|e| e.ip == std::net::IpAddr::from([10, 0, 0, 50]))
        .unwrap();
    assert_eq!(e.session, 2);
    // Sessions without the policy are not affected.
    assert_eq!(sw.route(3, &from(3, 61), 200_001), Route::Flood);
}

/// A session that lost its connections forgets its addresses but stays:
/// frames to its MAC flood (so a new session of the same client is reached
/// at once, even under `check_mac`), and when it sends again it learns anew.
#[test]
fn forget_addresses_keeps_the_session_and_floods_to_its_macs() {
    let mut sw = Switch::new(SwitchConfig::default());
    sw.add_session(1, SessionPolicy::default());
    sw.add_session(2, SessionPolicy::default());
    sw.add_session(3, check_mac());
    assert_eq!(sw.route(1, &frame(BCAST, mac(1)), 100), Route::Flood);
    assert_eq!(sw.route(2, &frame(mac(1), mac(2)), 110), Route::Unicast(1));
    sw.forget_addresses(1);
    assert!(sw.contains_session(1));
    assert_eq!(sw.session_mac_count(1), Some(0));
    assert!(sw.lookup(MacAddr(mac(1)), 0).is_none());
    assert_eq!(sw.route(2, &frame(mac(1), mac(2)), 120), Route::Flood);
    // The client's new session (with CheckMac) takes the MAC at once.
    assert_eq!(sw.route(3, &frame(BCAST, mac(1)), 130), Route::Flood);
    assert_eq!(sw.route(2, &frame(mac(1), mac(2)), 140), Route::Unicast(3));
    assert_eq!(sw.stats().moved, 0);
    // Unknown ids are ignored; the old session can learn again.
    sw.forget_addresses(99);
    assert_eq!(sw.route(1, &frame(BCAST, mac(5)), 150), Route::Flood);
    assert_eq!(sw.session_mac_count(1), Some(1));
}
