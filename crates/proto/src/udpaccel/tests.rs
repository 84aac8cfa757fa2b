//! Vectors: computed independently with Python's `cryptography`
//! (ChaCha20-Poly1305) and `hashlib` + a textbook RC4, from the layout in
//! SoftEther `UdpAccelSend` (no capture: the keys travel inside TLS). The
//! real 5.01 client checks the format end to end in
//! `crates/rustether/tests/interop_udpaccel.rs`.

use super::*;
use proptest::prelude::*;
use rand::rngs::StdRng;
use rand::SeedableRng;
use std::borrow::Cow;

const V2_DATAGRAM: &str = "a0a1a2a3a4a5a6a7a8a9aaab1d894b1b4de6c2ada00fe09cfcfafdfb9d5ed3bf437a605c4b27244e8e60c30c6c801782a8c9fe8ac6ccaa35489a0e61741b86c7521db30c3d0a";
const V1_DATAGRAM: &str = "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c367fe67f19989212172d93393abd0be6acd0c8b0dd23f09c841ae5af3133d5bc9e94c985234743a966e9c5a85a6c1f0b4a22bf9632e29d6273eb031a3b2c1";
const PAYLOAD: &str = "ffffffffffff02000000000108060001";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn addr(s: &str) -> SocketAddr {
    s.parse().unwrap()
}

/// The receiving side of the vectors: the peer's keys are 0,1,2,…; our
/// cookie is 0x11223344.
fn vector_params(version: u32) -> Params {
    let mut k2 = [0u8; KEY_V2_LEN];
    for (i, b) in k2.iter_mut().enumerate() {
        *b = i as u8;
    }
    let mut k1 = [0u8; KEY_V1_LEN];
    for (i, b) in k1.iter_mut().enumerate() {
        *b = i as u8;
    }
    Params {
        version,
        encrypt: true,
        fast_detect: true,
        my_key_v1: [9; KEY_V1_LEN],
        my_key_v2: [9; KEY_V2_LEN],
        your_key_v1: k1,
        your_key_v2: k2,
        my_cookie: 0x1122_3344,
        your_cookie: 0x5566_7788,
        peer: addr("10.0.0.2:5000"),
        reported: addr("10.0.0.2:5000"),
    }
}

#[test]
fn decodes_independent_vectors() {
    let mut rng = StdRng::seed_from_u64(1);
    for (version, dg) in [(2, V2_DATAGRAM), (1, V1_DATAGRAM)] {
        let mut a = UdpAccel::new(&vector_params(version), &mut rng);
        let mut buf = hex(dg);
        let got = a.receive(&mut buf, addr("10.0.0.2:5000"), 6000).unwrap();
        assert_eq!(got, Received::Frame(Cow::Owned(hex(PAYLOAD))), "v{version}");
        assert_eq!(a.last_recv_your_tick, 5000);
        // The peer has not echoed one of our ticks yet: not alive.
        assert_eq!(a.last_recv_tick, 0);
        // v2: one flipped bit anywhere → dropped, state untouched. v1 (RC4)
        // is malleable: only the IV, the cookie and the zero block are
        // checked, as in SoftEther.
        let n = hex(dg).len();
        let checked: Vec<usize> = if version == 2 {
            (0..n).collect()
        } else {
            (0..IV_V1_LEN + 4).chain(n - IV_V1_LEN..n).collect()
        };
        for i in checked {
            let mut a = UdpAccel::new(&vector_params(version), &mut rng);
            let mut buf = hex(dg);
            buf[i] ^= 0x01;
            assert!(
                a.receive(&mut buf, addr("10.9.9.9:1"), 6000).is_err(),
                "v{version} byte {i}"
            );
            assert_eq!(a.peer(), addr("10.0.0.2:5000"));
            assert_eq!(a.last_recv_your_tick, 0);
        }
    }
}

/// A server and a client state, as from a login/welcome exchange.
fn pair(max_version: u32, encrypt: bool) -> (UdpAccel, UdpAccel, StdRng) {
    let mut rng = StdRng::seed_from_u64(7);
    let mut offer = ClientOffer::new(&mut rng, IpAddr::from([0, 0, 0, 0]), 5000);
    offer.max_version = max_version;
    // Through the PACKs, as on the wire.
    let mut login = Pack::new();
    offer.add_to(&mut login);
    let offer2 = ClientOffer::from_login_pack(&login).unwrap();
    assert!(offer2 == offer);
    let (server, grant) = UdpAccel::server(
        &offer,
        IpAddr::from([10, 0, 0, 2]),
        addr("10.0.0.1:40000"),
        encrypt,
        &mut rng,
    );
    let mut welcome = Pack::new();
    grant.add_to(&mut welcome);
    let grant2 = ServerOffer::from_welcome_pack(&welcome).unwrap();
    assert!(grant2 == grant);
    assert_eq!(grant.version, max_version.clamp(1, 2));
    let client = UdpAccel::client(&offer, &grant, IpAddr::from([10, 0, 0, 1]), &mut rng);
    (server, client, rng)
}

const SERVER: &str = "10.0.0.1:40000";
const CLIENT: &str = "10.0.0.2:5000";

/// Exchanges keep-alives both ways at `now`.
fn exchange(s: &mut UdpAccel, c: &mut UdpAccel, rng: &mut StdRng, now: u64) {
    let mut out = Vec::new();
    let _ = c.encode(&[], false, now, rng, &mut out);
    s.receive(&mut out, addr(CLIENT), now).unwrap();
    let _ = s.encode(&[], false, now, rng, &mut out);
    c.receive(&mut out, addr(SERVER), now).unwrap();
}

#[test]
fn frames_round_trip_in_every_mode() {
    for (v, enc) in [(2, true), (1, true), (2, false), (1, false)] {
        let (mut s, mut c, mut rng) = pair(v, enc);
        for len in [1usize, 60, 1514, MAX_PAYLOAD] {
            let frame: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut out = Vec::new();
            let to = c.encode(&frame, false, 100, &mut rng, &mut out);
            assert_eq!(to, addr(SERVER));
            if enc {
                assert!(!out.windows(len.min(16)).any(|w| w == &frame[..len.min(16)]) || len == 1);
            }
            let got = s.receive(&mut out, addr(CLIENT), 100).unwrap();
            assert_eq!(
                got,
                Received::Frame(Cow::Borrowed(&frame[..])),
                "v{v} enc={enc} len={len}"
            );
            let to = s.encode(&frame, false, 100, &mut rng, &mut out);
            assert_eq!(to, addr(CLIENT));
            assert_eq!(
                c.receive(&mut out, addr(SERVER), 100).unwrap(),
                Received::Frame(Cow::Borrowed(&frame[..]))
            );
        }
        assert_eq!(s.stats().recv_frames, 4);
        assert_eq!(s.mss(), if enc { 1309 } else { 1349 });
        assert_eq!(s.stats().sent_frames, 4);
    }
}

#[test]
fn compressed_payloads_inflate() {
    use std::io::Write;
    let (mut s, mut c, mut rng) = pair(2, true);
    let frame = vec![0x42u8; 1000];
    let mut z = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    z.write_all(&frame).unwrap();
    let z = z.finish().unwrap();
    let mut out = Vec::new();
    c.encode(&z, true, 10, &mut rng, &mut out);
    assert_eq!(
        s.receive(&mut out, addr(CLIENT), 10).unwrap(),
        Received::Frame(Cow::Owned(frame))
    );
    // A compressed payload that does not inflate is dropped.
    c.encode(b"not zlib", true, 10, &mut rng, &mut out);
    assert_eq!(
        s.receive(&mut out, addr(CLIENT), 10),
        Err(DropReason::Compression)
    );
}

#[test]
fn path_is_used_after_ten_stable_seconds_dropped_after_silence_and_reused() {
    let (mut s, mut c, mut rng) = pair(2, true);
    assert!(!s.is_send_ready(1));
    let mut t = 1;
    // Keep-alives every 500 ms.
    while t < REQUIRE_CONTINUOUS_MS {
        exchange(&mut s, &mut c, &mut rng, t);
        assert!(
            !s.is_send_ready(t),
            "not before 10 s of stable reception ({t})"
        );
        t += 500;
    }
    while t <= REQUIRE_CONTINUOUS_MS + 1000 {
        exchange(&mut s, &mut c, &mut rng, t);
        t += 500;
    }
    assert!(s.is_send_ready(t - 500));
    assert!(c.is_send_ready(t - 500));
    // Silence (UDP blocked): still up within 2.1 s, down after.
    let last = t - 500;
    assert!(s.is_send_ready(last + 2_100));
    assert!(!s.is_send_ready(last + 2_101));
    assert!(s.next_wakeup() <= last + 2_101);
    // Back: another 10 s of stable reception before it is used again.
    let mut t = last + 20_000;
    let back = t;
    while t < back + REQUIRE_CONTINUOUS_MS {
        exchange(&mut s, &mut c, &mut rng, t);
        assert!(!s.is_send_ready(t));
        t += 500;
    }
    exchange(&mut s, &mut c, &mut rng, t);
    assert!(s.is_send_ready(t));
}

#[test]
fn keepalives_follow_the_interval_and_probe_the_reported_address() {
    let mut rng = StdRng::seed_from_u64(3);
    let offer = ClientOffer::new(&mut rng, IpAddr::from([192, 168, 1, 5]), 5000);
    let (mut s, _) = UdpAccel::server(
        &offer,
        IpAddr::from([10, 0, 0, 2]),
        addr(SERVER),
        true,
        &mut rng,
    );
    let mut out = Vec::new();
    let (to, also) = s.poll_keepalive(1, &mut rng, &mut out).unwrap();
    assert_eq!(to, addr("10.0.0.2:5000"));
    assert_eq!(also, Some(addr("192.168.1.5:5000")));
    assert!(out.len() >= NONCE_V2_LEN + HEADER_LEN + TAG_V2_LEN);
    assert!(s.poll_keepalive(1, &mut rng, &mut out).is_none());
    let next = s.next_wakeup();
    assert!((1 + 500..1 + 1000).contains(&next), "{next}");
    assert!(s.poll_keepalive(next, &mut rng, &mut out).is_some());
}

#[test]
fn forged_and_replayed_datagrams_do_not_move_the_peer() {
    let (mut s, mut c, mut rng) = pair(2, true);
    let mut old = Vec::new();
    c.encode(b"frame-1", false, 1000, &mut rng, &mut old);
    let mut newer = Vec::new();
    c.encode(b"frame-2", false, 2000, &mut rng, &mut newer);
    s.receive(&mut newer.clone(), addr(CLIENT), 2000).unwrap();
    assert_eq!(s.peer(), addr(CLIENT));
    // Replay of an older (or the same) datagram from elsewhere: the frame
    // is accepted as in SoftEther, the address is not.
    s.receive(&mut old.clone(), addr("6.6.6.6:6"), 2001)
        .unwrap();
    s.receive(&mut newer.clone(), addr("6.6.6.6:6"), 2001)
        .unwrap();
    assert_eq!(s.peer(), addr(CLIENT));
    // Random bytes of every length: dropped.
    let before = *s.stats();
    for n in 0..200 {
        let mut junk: Vec<u8> = (0..n).map(|_| rand::Rng::gen::<u8>(&mut rng)).collect();
        assert!(s.receive(&mut junk, addr("6.6.6.6:6"), 2002).is_err());
    }
    assert_eq!(s.stats().dropped, before.dropped + 200);
    assert_eq!(s.peer(), addr(CLIENT));
    // A genuinely newer datagram from a new address moves it (NAT rebinding).
    c.encode(b"frame-3", false, 3000, &mut rng, &mut old);
    s.receive(&mut old, addr("10.0.0.3:7000"), 3000).unwrap();
    assert_eq!(s.peer(), addr("10.0.0.3:7000"));
    // Older than the 30 s window: dropped.
    let mut ancient = Vec::new();
    c.encode(b"x", false, 1, &mut rng, &mut ancient);
    let mut late = Vec::new();
    c.encode(b"y", false, 40_000, &mut rng, &mut late);
    s.receive(&mut late, addr(CLIENT), 40_000).unwrap();
    assert_eq!(
        s.receive(&mut ancient, addr(CLIENT), 40_000),
        Err(DropReason::Stale)
    );
}

#[test]
fn wrong_cookie_or_key_is_dropped() {
    let (mut s, _c, mut rng) = pair(2, true);
    let (_s2, mut other, _) = pair(2, true);
    let mut out = Vec::new();
    other.encode(b"hi", false, 5, &mut rng, &mut out);
    // Same seed → same keys; the cookie must still match.
    let r = s.receive(&mut out, addr(CLIENT), 5);
    assert!(r.is_ok() || r == Err(DropReason::Cookie) || r == Err(DropReason::Auth));
    let mut p = vector_params(2);
    p.my_cookie = 1;
    let mut a = UdpAccel::new(&p, &mut rng);
    assert_eq!(
        a.receive(&mut hex(V2_DATAGRAM), addr(CLIENT), 6000),
        Err(DropReason::Cookie)
    );
    let mut p = vector_params(2);
    p.your_key_v2[0] ^= 1;
    let mut a = UdpAccel::new(&p, &mut rng);
    assert_eq!(
        a.receive(&mut hex(V2_DATAGRAM), addr(CLIENT), 6000),
        Err(DropReason::Auth)
    );
}

#[test]
fn offers_are_read_as_softether_reads_them() {
    let mut rng = StdRng::seed_from_u64(5);
    let offer = ClientOffer::new(&mut rng, IpAddr::from([0, 0, 0, 0]), 5000);
    let mut p = Pack::new();
    assert!(ClientOffer::from_login_pack(&p).is_none());
    offer.add_to(&mut p);
    p.add_int("udp_acceleration_client_port", 0);
    assert!(
        ClientOffer::from_login_pack(&p).is_none(),
        "port 0 declines"
    );
    p.add_int("udp_acceleration_client_port", 70_000);
    assert!(ClientOffer::from_login_pack(&p).is_none());
    p.add_int("udp_acceleration_client_port", 5000);
    p.add_bool("use_udp_acceleration", false);
    assert!(
        ClientOffer::from_login_pack(&p).is_none(),
        "/DISABLEUDP sends no request"
    );
    p.add_bool("use_udp_acceleration", true);
    p.add_int("udp_acceleration_max_version", 0);
    p.add_data("udp_acceleration_client_key_v2", &[1; 5]);
    let o = ClientOffer::from_login_pack(&p).unwrap();
    assert_eq!(o.max_version, 1);
    assert_eq!(
        *o.key_v2, [0; KEY_V2_LEN],
        "wrong-size key reads as zero (PackGetData2)"
    );
    let (_, grant) = UdpAccel::server(
        &o,
        IpAddr::from([10, 0, 0, 2]),
        addr(SERVER),
        true,
        &mut rng,
    );
    assert_eq!(grant.version, 1);
    assert_ne!(grant.server_cookie, 0);
    assert_ne!(grant.client_cookie, 0);
    assert_ne!(grant.server_cookie, grant.client_cookie);
    let mut w = Pack::new();
    grant.add_to(&mut w);
    w.add_int("udp_acceleration_client_cookie", 0);
    assert!(ServerOffer::from_welcome_pack(&w).is_none());
}

proptest! {
    #[test]
    fn receive_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..2100), v in 1u32..=2, enc in any::<bool>(), now in any::<u64>()) {
        let mut rng = StdRng::seed_from_u64(1);
        let mut p = vector_params(v);
        p.encrypt = enc;
        let mut a = UdpAccel::new(&p, &mut rng);
        let mut b = bytes.clone();
        let _ = a.receive(&mut b, addr(CLIENT), now);
        let _ = a.is_send_ready(now);
        let _ = a.next_wakeup();
    }
}

#[test]
fn a_batch_decodes_as_the_single_datagrams_would_in_every_mode() {
    for (v, enc) in [(2, true), (1, true), (2, false), (1, false)] {
        let (mut s, mut c, mut rng) = pair(v, enc);
        let mut batch = DatagramBatch::new(8);
        let frames: Vec<Vec<u8>> = [1usize, 60, 1514, MAX_PAYLOAD, 300]
            .iter()
            .map(|len| (0..*len).map(|i| (i * 7 + len) as u8).collect())
            .collect();
        for f in &frames {
            assert!(batch.push_frame(&mut s, f, 100, &mut rng));
        }
        assert_eq!(batch.len(), frames.len());
        // In order, chained IVs/nonces: each decodes on its own.
        for ((d, to), f) in batch.iter().zip(&frames) {
            assert_eq!(to, addr(CLIENT));
            assert!(d.len() <= MAX_DATAGRAM, "v{v} enc={enc}");
            let mut d = d.to_vec();
            assert_eq!(
                c.receive(&mut d, addr(SERVER), 100).unwrap(),
                Received::Frame(Cow::Borrowed(&f[..])),
                "v{v} enc={enc} len={}",
                f.len()
            );
        }
        assert_eq!(s.stats().sent_frames, frames.len() as u64);
        assert_eq!(
            s.stats().sent_bytes,
            batch.iter().map(|(d, _)| d.len() as u64).sum::<u64>()
        );
        // Frames that do not fit go over TCP: not in the batch.
        assert!(!batch.push_frame(&mut s, &[], 100, &mut rng));
        assert!(!batch.push_frame(&mut s, &vec![0; MAX_PAYLOAD + 1], 100, &mut rng));
        assert_eq!(batch.len(), frames.len());
    }
}

#[test]
fn a_batch_never_exceeds_its_bounds() {
    let (mut s, _, mut rng) = pair(2, true);
    assert!(DatagramBatch::new(0).push_frame(&mut s, &[1], 1, &mut rng));
    let mut b = DatagramBatch::new(10_000);
    let frame = vec![0xa5; MAX_PAYLOAD];
    let mut pushed = 0;
    while b.push_frame(&mut s, &frame, 1, &mut rng) {
        pushed += 1;
        assert!(pushed <= MAX_BATCH_DATAGRAMS);
    }
    assert_eq!(pushed, MAX_BATCH_DATAGRAMS);
    assert!(b.is_full());
    assert_eq!(s.stats().sent_frames, MAX_BATCH_DATAGRAMS as u64 + 1);
    let cap = b.capacity();
    assert!(cap <= 2 * MAX_BATCH_DATAGRAMS * MAX_DATAGRAM);
    // Reused: cleared, refilled, no growth.
    b.clear();
    assert!(b.is_empty() && b.get(0).is_none());
    while b.push_frame(&mut s, &frame, 2, &mut rng) {}
    assert_eq!(b.capacity(), cap);
}

proptest! {
    #[test]
    fn batch_holds_at_most_max_datagrams_of_bounded_size(
        max in 0usize..100,
        lens in prop::collection::vec(0usize..2000, 0..150),
    ) {
        let (mut s, _, mut rng) = pair(2, true);
        let mut b = DatagramBatch::new(max);
        let mut accepted = 0usize;
        for len in &lens {
            let before = b.len();
            let ok = b.push_frame(&mut s, &vec![1u8; *len], 5, &mut rng);
            prop_assert_eq!(ok, before < max.clamp(1, MAX_BATCH_DATAGRAMS) && UdpAccel::fits(*len));
            accepted += usize::from(ok);
            prop_assert!(b.len() <= max.clamp(1, MAX_BATCH_DATAGRAMS));
        }
        prop_assert_eq!(b.len(), accepted);
        prop_assert_eq!(b.iter().count(), accepted);
        for (d, _) in b.iter() {
            prop_assert!(!d.is_empty() && d.len() <= MAX_DATAGRAM);
        }
    }
}

#[test]
fn full_size_frames_make_one_size_of_datagram_and_one_gso_run() {
    for (v, enc) in [(2, true), (1, true), (2, false)] {
        let (mut s, mut c, mut rng) = pair(v, enc);
        // A full segment at the clamped MSS (Ethernet, IPv4 and TCP headers
        // of 54 bytes): padded at random on its own, below PAD_LIMIT.
        let full = usize::from(s.mss()) + 54;
        let mut b = DatagramBatch::new(MAX_BATCH_DATAGRAMS);
        let frames: Vec<Vec<u8>> = (0..40u8).map(|i| vec![i; full]).collect();
        for f in &frames {
            assert!(b.push_frame(&mut s, f, 7, &mut rng));
        }
        // A shorter last frame ends the run; a longer one starts a new one.
        assert!(b.push_frame(&mut s, &[9; 100], 7, &mut rng));
        assert!(b.push_frame(&mut s, &vec![8; full], 7, &mut rng));
        let first = b.get(0).unwrap().0.len();
        assert!(
            b.iter().take(40).all(|(d, _)| d.len() == first),
            "v{v} enc={enc}"
        );
        let run = b.gso_run(0, 64, 65_000).unwrap();
        assert_eq!((run.count, run.segment, run.to), (41, first, addr(CLIENT)));
        assert_eq!(run.bytes.len(), 40 * first + b.get(40).unwrap().0.len());
        let rest = b.gso_run(41, 64, 65_000).unwrap();
        assert_eq!(rest.count, 1);
        assert!(b.gso_run(42, 64, 65_000).is_none());
        // The padding stays within SoftEther's bounds and every datagram
        // decodes.
        let overhead = match (v, enc) {
            (2, true) => NONCE_V2_LEN + TAG_V2_LEN,
            (1, true) => 2 * IV_V1_LEN,
            _ => 0,
        };
        let unpadded = HEADER_LEN + full + overhead;
        assert!(first >= unpadded && first - unpadded < MAX_PADDING);
        if !enc || unpadded >= PAD_LIMIT {
            assert_eq!(first, unpadded);
        }
        for ((d, _), f) in b.iter().zip(&frames) {
            let mut d = d.to_vec();
            assert_eq!(
                c.receive(&mut d, addr(SERVER), 7).unwrap(),
                Received::Frame(Cow::Borrowed(&f[..]))
            );
        }
    }
}

proptest! {
    #[test]
    fn gso_runs_cover_the_batch_in_order_within_their_bounds(
        lens in prop::collection::vec(prop_oneof![Just(1363usize), Just(60), 1usize..1514], 1..64),
        max_segments in 1usize..70,
        max_bytes in 1usize..70_000,
    ) {
        let (mut s, _, mut rng) = pair(2, true);
        let mut b = DatagramBatch::new(MAX_BATCH_DATAGRAMS);
        for len in &lens {
            prop_assert!(b.push_frame(&mut s, &vec![3u8; *len], 5, &mut rng));
        }
        let mut next = 0;
        let mut joined = Vec::new();
        while let Some(run) = b.gso_run(next, max_segments, max_bytes) {
            prop_assert!(run.count >= 1 && run.count <= max_segments.max(1));
            prop_assert!(run.count == 1 || run.bytes.len() <= max_bytes);
            let ds: Vec<&[u8]> = (next..next + run.count).map(|i| b.get(i).unwrap().0).collect();
            prop_assert_eq!(ds[0].len(), run.segment);
            for (k, d) in ds.iter().enumerate() {
                if k + 1 < ds.len() { prop_assert_eq!(d.len(), run.segment); }
                else { prop_assert!(d.len() <= run.segment); }
            }
            prop_assert_eq!(run.bytes, &ds.concat()[..]);
            joined.extend_from_slice(run.bytes);
            next += run.count;
        }
        prop_assert_eq!(next, b.len());
        let all: Vec<u8> = b.iter().flat_map(|(d, _)| d.to_vec()).collect();
        prop_assert_eq!(joined, all);
    }
}
