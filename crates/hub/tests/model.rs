//! Property test: `Switch` against a naive reference model written straight
//! from docs/process-model.md §12.1–12.3 (linear scans, no hashing, no counters),
//! over random sequences of session changes, frames and clock jumps.
//!
//! Besides agreeing with the model on every route, the switch must never
//! send a frame back to its source and every unicast target must exist.

use std::collections::BTreeMap;

use proptest::prelude::*;
use rustether_hub::{
    DropReason, MacAddr, MacEntryView, Route, SessionId, SessionPolicy, Switch, SwitchConfig,
};

const HUB_MAC: [u8; 6] = [0x00, 0xae, 0x11, 0x22, 0x33, 0x44];

/// Small pool so that collisions, moves and limits happen often.
const POOL: [[u8; 6]; 10] = [
    [0x02, 0, 0, 0, 0, 1],
    [0x02, 0, 0, 0, 0, 2],
    [0x02, 0, 0, 0, 0, 3],
    [0x02, 0, 0, 0, 0, 4],
    [0x5e, 0x59, 0xb0, 0x89, 0x86, 0x9e],
    [0x00, 0x15, 0x5d, 0x01, 0x02, 0x03],
    [0xff; 6],
    [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01],
    [0; 6],
    HUB_MAC,
];

#[derive(Clone, Debug)]
struct ModelEntry {
    mac: [u8; 6],
    vlan: u16,
    session: SessionId,
    created: u64,
    updated: u64,
}

struct Model {
    cfg: SwitchConfig,
    sessions: BTreeMap<SessionId, SessionPolicy>,
    table: Vec<ModelEntry>,
    last_purge: Option<u64>,
    hub_mac: Option<[u8; 6]>,
}

fn limit_of(p: &SessionPolicy) -> Option<usize> {
    match (p.max_mac, p.no_bridge) {
        (0, false) => None,
        // NoBridge caps at 3 and the floor is 3: always 3.
        (_, true) => Some(3),
        (m, false) => Some(m.max(3) as usize),
    }
}

impl Model {
    fn add(&mut self, id: SessionId, p: SessionPolicy) {
        if p.monitor {
            self.table.retain(|e| e.session != id);
        }
        self.sessions.insert(id, p);
    }

    fn remove(&mut self, id: SessionId) {
        self.sessions.remove(&id);
        self.table.retain(|e| e.session != id);
    }

    fn expire(&mut self, now: u64) {
        self.last_purge = Some(now);
        let ttl = self.cfg.mac_expire_ms;
        self.table.retain(|e| e.updated + ttl > now);
    }

    fn route(&mut self, src: SessionId, f: &[u8], now: u64) -> Route {
        use DropReason::*;
        if f.len() < 14 {
            return Route::Drop(TooShort);
        }
        let tagged = f[12] == 0x81 && f[13] == 0x00;
        if tagged && f.len() < 18 {
            return Route::Drop(TooShort);
        }
        let vlan = if tagged && self.cfg.manage_vlan {
            (u16::from(f[14] & 0x0f) << 8) | u16::from(f[15])
        } else {
            0
        };
        let Some(pol) = self.sessions.get(&src).cloned() else {
            return Route::Drop(UnknownSession);
        };
        let dst: [u8; 6] = f[0..6].try_into().unwrap();
        let smac: [u8; 6] = f[6..12].try_into().unwrap();
        if smac == [0; 6] || smac == [0xff; 6] || smac[0] & 1 == 1 || smac == dst {
            return Route::Drop(BadSourceMac);
        }
        if self.hub_mac == Some(smac) {
            return Route::Drop(BadSourceMac);
        }
        if pol.monitor {
            return Route::Drop(MonitorSource);
        }
        match self
            .table
            .iter()
            .position(|e| e.mac == smac && e.vlan == vlan)
        {
            Some(i) if self.table[i].session == src => self.table[i].updated = now,
            Some(i) => {
                if pol.check_mac && self.table[i].updated + self.cfg.mac_exclusive_ms >= now {
                    return Route::Drop(MacMoveDenied);
                }
                let e = &mut self.table[i];
                e.session = src;
                e.created = now;
                e.updated = now;
            }
            None => {
                if self.last_purge.is_none_or(|t| t + 1000 < now) {
                    self.expire(now);
                }
                if let Some(limit) = limit_of(&pol) {
                    if self.table.iter().filter(|e| e.session == src).count() >= limit {
                        return Route::Drop(MacLimit);
                    }
                }
                if self.table.len() >= self.cfg.max_entries {
                    return Route::Drop(TableFull);
                }
                self.table.push(ModelEntry {
                    mac: smac,
                    vlan,
                    session: src,
                    created: now,
                    updated: now,
                });
            }
        }
        if dst[0] & 1 == 1 {
            return Route::Flood;
        }
        match self.table.iter().find(|e| e.mac == dst && e.vlan == vlan) {
            None => Route::Flood,
            Some(e) if e.session == src => Route::Drop(SameSession),
            Some(e) => Route::Unicast(e.session),
        }
    }
}

#[derive(Clone, Debug)]
enum Op {
    Add(SessionId, SessionPolicy),
    Remove(SessionId),
    Frame {
        src: SessionId,
        dst: usize,
        smac: usize,
        vlan: Option<u16>,
        cut: Option<usize>,
        dt: u64,
    },
    Expire(u64),
    RemoveMac(usize, u16),
}

fn policy() -> impl Strategy<Value = SessionPolicy> {
    (
        any::<bool>(),
        prop::bool::weighted(0.15),
        prop::sample::select(vec![0u32, 0, 1, 3, 4]),
        prop::bool::weighted(0.2),
    )
        .prop_map(|(check_mac, monitor, max_mac, no_bridge)| SessionPolicy {
            check_mac,
            monitor,
            max_mac,
            no_bridge,
            ..Default::default()
        })
}

fn dt() -> impl Strategy<Value = u64> {
    prop::sample::select(vec![
        0u64, 0, 1, 1, 10, 500, 1_000, 1_001, 5_000, 13_000, 13_001, 300_000, 600_000,
    ])
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        2 => (0u64..6, policy()).prop_map(|(id, p)| Op::Add(id, p)),
        1 => (0u64..6).prop_map(Op::Remove),
        12 => (
            0u64..7,
            0..POOL.len(),
            0..POOL.len(),
            prop::option::weighted(0.3, 0u16..3),
            prop::option::weighted(0.05, 0usize..20),
            dt(),
        )
            .prop_map(|(src, dst, smac, vlan, cut, dt)| Op::Frame {
                src,
                dst,
                smac,
                vlan,
                cut,
                dt,
            }),
        1 => dt().prop_map(Op::Expire),
        1 => (0..6usize, 0u16..3).prop_map(|(m, v)| Op::RemoveMac(m, v)),
    ]
}

fn build(dst: [u8; 6], src: [u8; 6], vlan: Option<u16>) -> Vec<u8> {
    let mut f = vec![0u8; 64];
    f[..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    match vlan {
        Some(v) => {
            f[12..14].copy_from_slice(&[0x81, 0x00]);
            // Priority bits set: they must not leak into the VLAN id.
            f[14..16].copy_from_slice(&(0xa000 | v).to_be_bytes());
            f[16..18].copy_from_slice(&[0x08, 0x00]);
        }
        None => f[12..14].copy_from_slice(&[0x08, 0x06]),
    }
    f
}

fn table_of_switch(sw: &Switch) -> Vec<(MacAddr, u16, SessionId, u64, u64)> {
    let mut v: Vec<_> = sw
        .mac_table()
        .map(|e: MacEntryView| (e.mac, e.vlan, e.session, e.created_ms, e.updated_ms))
        .collect();
    v.sort();
    v
}

fn table_of_model(m: &Model) -> Vec<(MacAddr, u16, SessionId, u64, u64)> {
    let mut v: Vec<_> = m
        .table
        .iter()
        .map(|e| (MacAddr(e.mac), e.vlan, e.session, e.created, e.updated))
        .collect();
    v.sort();
    v
}

fn run(ops: Vec<Op>, manage_vlan: bool, hub_mac: bool) -> Result<(), TestCaseError> {
    let cfg = SwitchConfig {
        max_entries: 7,
        manage_vlan,
        ..SwitchConfig::default()
    };
    let mut sw = Switch::new(cfg.clone());
    let mut model = Model {
        cfg,
        sessions: BTreeMap::new(),
        table: Vec::new(),
        last_purge: None,
        hub_mac: None,
    };
    if hub_mac {
        sw.set_hub_mac(Some(MacAddr(HUB_MAC)));
        model.hub_mac = Some(HUB_MAC);
    }
    let mut now = 0u64;
    let mut drops = [0u64; DropReason::ALL.len()];
    let (mut flooded, mut unicast) = (0u64, 0u64);
    for op in ops {
        match op {
            Op::Add(id, p) => {
                sw.add_session(id, p.clone());
                model.add(id, p);
            }
            Op::Remove(id) => {
                sw.remove_session(id);
                model.remove(id);
            }
            Op::Expire(dt) => {
                now += dt;
                sw.expire(now);
                model.expire(now);
            }
            Op::RemoveMac(m, v) => {
                let vlan = if manage_vlan { v } else { 0 };
                let existed = model
                    .table
                    .iter()
                    .any(|e| e.mac == POOL[m] && e.vlan == vlan);
                model
                    .table
                    .retain(|e| !(e.mac == POOL[m] && e.vlan == vlan));
                prop_assert_eq!(sw.remove_mac(MacAddr(POOL[m]), vlan), existed);
            }
            Op::Frame {
                src,
                dst,
                smac,
                vlan,
                cut,
                dt,
            } => {
                now += dt;
                let mut f = build(POOL[dst], POOL[smac], vlan);
                if let Some(c) = cut {
                    f.truncate(c);
                }
                let got = sw.route(src, &f, now);
                let want = model.route(src, &f, now);
                prop_assert_eq!(got, want, "frame {:02x?} from {} at {}", f, src, now);
                match got {
                    Route::Unicast(t) => {
                        unicast += 1;
                        prop_assert_ne!(t, src, "unicast back to the source");
                        prop_assert!(sw.contains_session(t), "unicast to a missing session");
                        prop_assert!(!sw.policy(t).unwrap().monitor, "unicast to a monitor");
                    }
                    Route::Flood => flooded += 1,
                    Route::Drop(r) => drops[r.index()] += 1,
                }
            }
        }
        // Flood domain: every non-monitor session except the source.
        for src in 0..7u64 {
            let mut got: Vec<_> = sw.flood_targets(src).collect();
            got.sort_unstable();
            let want: Vec<_> = model
                .sessions
                .iter()
                .filter(|(&id, p)| id != src && !p.monitor)
                .map(|(&id, _)| id)
                .collect();
            prop_assert_eq!(got, want);
        }
        let mut mons: Vec<_> = sw.monitors().collect();
        mons.sort_unstable();
        let want: Vec<_> = model
            .sessions
            .iter()
            .filter(|(_, p)| p.monitor)
            .map(|(&id, _)| id)
            .collect();
        prop_assert_eq!(mons, want);
        prop_assert_eq!(sw.session_count(), model.sessions.len());
        prop_assert_eq!(table_of_switch(&sw), table_of_model(&model));
        prop_assert!(sw.mac_count() <= 7);
        for (&id, _) in model.sessions.iter() {
            let n = model.table.iter().filter(|e| e.session == id).count();
            prop_assert_eq!(sw.session_mac_count(id), Some(n));
        }
        // Every entry belongs to a live, non-monitor session.
        for e in sw.mac_table() {
            prop_assert!(sw.contains_session(e.session));
            prop_assert!(!sw.policy(e.session).unwrap().monitor);
        }
    }
    let st = sw.stats();
    prop_assert_eq!(st.flooded, flooded);
    prop_assert_eq!(st.unicast, unicast);
    for r in DropReason::ALL {
        prop_assert_eq!(st.dropped(r), drops[r.index()], "{}", r);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn switch_matches_reference_model(
        ops in prop::collection::vec(op(), 1..120),
        manage_vlan in any::<bool>(),
        hub_mac in any::<bool>(),
    ) {
        run(ops, manage_vlan, hub_mac)?;
    }

    /// Arbitrary bytes never panic and never route to the source.
    #[test]
    fn arbitrary_frames_never_loop_back(
        frames in prop::collection::vec((0u64..4, prop::collection::vec(any::<u8>(), 0..40)), 1..64),
    ) {
        let mut sw = Switch::new(SwitchConfig::default());
        for s in 0..3 {
            sw.add_session(s, SessionPolicy::default());
        }
        for (i, (src, f)) in frames.iter().enumerate() {
            match sw.route(*src, f, i as u64) {
                Route::Unicast(t) => {
                    prop_assert_ne!(t, *src);
                    prop_assert!(sw.contains_session(t));
                }
                Route::Flood => prop_assert!(sw.flood_targets(*src).all(|t| t != *src)),
                Route::Drop(_) => {}
            }
        }
    }
}
