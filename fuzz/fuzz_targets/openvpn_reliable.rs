//! The OpenVPN reliability layer driven by arbitrary operations (push,
//! ack, receive, time steps): no panic, bounded state, every message
//! delivered in order exactly once.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rustether_openvpn::reliable::{ReliableRecv, ReliableSend, RECV_WINDOW};

fuzz_target!(|data: &[u8]| {
    let mut s = ReliableSend::new(0);
    let mut r = ReliableRecv::new(0);
    let mut now = 0u64;
    let mut next_recv: u32 = 0;
    let mut delivered: u32 = 0;
    for w in data.chunks(3) {
        let (op, a, b) = (w[0], *w.get(1).unwrap_or(&0), *w.get(2).unwrap_or(&0));
        match op % 5 {
            0 => {
                let _ = s.push(vec![a; usize::from(b)]);
            }
            1 => s.ack(u32::from(a)),
            2 => {
                // A peer message with an id near the window.
                let id = next_recv.wrapping_add(u32::from(a)).wrapping_sub(8);
                r.receive(id, &id.to_be_bytes());
                if id == next_recv {
                    next_recv += 1;
                }
                while let Some(m) = r.pop_in_order() {
                    assert_eq!(m, delivered.to_be_bytes());
                    delivered += 1;
                }
                assert!(r.take_acks(usize::from(b)).len() <= usize::from(b));
            }
            3 => now += u64::from(a) * 100,
            _ => {
                let _ = s.due(now);
                let _ = s.next_timeout();
            }
        }
        let _ = RECV_WINDOW;
    }
});
