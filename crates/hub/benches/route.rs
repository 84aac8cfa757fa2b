//! Micro benchmark of `Switch::route`, printing ns/frame.
//!
//! `cargo bench -p rustether-hub` runs it in full; under `cargo test
//! --benches` (no `--bench` argument) it only runs a few iterations as a
//! smoke test.

use std::hint::black_box;
use std::time::Instant;

use rustether_hub::{Route, SessionPolicy, Switch, SwitchConfig};

fn frame(dst: [u8; 6], src: [u8; 6]) -> Vec<u8> {
    let mut f = vec![0u8; 98];
    f[..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f
}

fn mac(i: u32) -> [u8; 6] {
    let b = i.to_be_bytes();
    [0x02, 0x00, b[0], b[1], b[2], b[3]]
}

/// Routes `frames` round-robin `iters` times; returns ns per frame.
fn run(sw: &mut Switch, frames: &[(u64, Vec<u8>)], iters: usize) -> (f64, usize) {
    let mut unicast = 0usize;
    let start = Instant::now();
    for i in 0..iters {
        let (src, f) = &frames[i % frames.len()];
        // A clock that advances 1 ms per 1024 frames.
        let now = 1_000 + (i as u64 >> 10);
        if let Route::Unicast(_) = black_box(sw.route(*src, black_box(f), now)) {
            unicast += 1;
        }
    }
    let ns = start.elapsed().as_nanos() as f64 / iters as f64;
    (ns, unicast)
}

/// A small deterministic generator (xorshift64*), so runs are comparable.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let iters = if full { 5_000_000 } else { 10_000 };

    // Two sessions, one station each, unicast both ways.
    let mut sw = Switch::new(SwitchConfig::default());
    sw.add_session(1, SessionPolicy::default());
    sw.add_session(2, SessionPolicy::default());
    let frames = vec![(1, frame(mac(2), mac(1))), (2, frame(mac(1), mac(2)))];
    let (ns, uni) = run(&mut sw, &frames, iters);
    assert!(
        uni >= iters - 2,
        "2-session frames must be unicast after learning"
    );
    println!("route  2 sessions,    2 MACs, unicast        : {ns:7.1} ns/frame");

    // 10 sessions x 100 stations = 1000 MACs; random pairs of stations.
    let mut sw = Switch::new(SwitchConfig::default());
    for s in 0..10u64 {
        sw.add_session(s, SessionPolicy::default());
    }
    let owner = |m: u32| u64::from(m / 100);
    for m in 0..1000u32 {
        let r = sw.route(owner(m), &frame([0xff; 6], mac(m)), 0);
        assert_eq!(r, Route::Flood);
    }
    assert_eq!(sw.mac_count(), 1000);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let frames: Vec<(u64, Vec<u8>)> = (0..4096)
        .map(|_| {
            let s = (rng.next() % 1000) as u32;
            let d = (rng.next() % 1000) as u32;
            (owner(s), frame(mac(d), mac(s)))
        })
        .collect();
    let (ns, _) = run(&mut sw, &frames, iters);
    println!("route 10 sessions, 1000 MACs, random pairs   : {ns:7.1} ns/frame");

    // Broadcast from the same table: learning refresh + flood decision.
    let frames: Vec<(u64, Vec<u8>)> = (0..1000u32)
        .map(|m| (owner(m), frame([0xff; 6], mac(m))))
        .collect();
    let (ns, _) = run(&mut sw, &frames, iters);
    println!("route 10 sessions, 1000 MACs, broadcast      : {ns:7.1} ns/frame");
    assert_eq!(sw.mac_count(), 1000);
}
