//! UDP acceleration (docs/udp-acceleration.md): `UdpAccel::receive` must
//! never panic on any datagram in any mode and must leave the peer address
//! alone unless the datagram authenticates; a datagram a matching peer
//! encodes from the same bytes must come back as that frame. The login and
//! welcome readers must not panic on any PACK.
//! First byte: bit 0 = version 2, bit 1 = plaintext.
#![no_main]
use std::borrow::Cow;
use std::net::SocketAddr;

use libfuzzer_sys::fuzz_target;
use rand::rngs::StdRng;
use rand::SeedableRng;
use rustether_proto::pack::Pack;
use rustether_proto::udpaccel::{
    ClientOffer, Params, Received, ServerOffer, UdpAccel, KEY_V1_LEN, KEY_V2_LEN, MAX_PAYLOAD,
};

fn params(version: u32, encrypt: bool, me: u8, peer: SocketAddr) -> Params {
    Params {
        version,
        encrypt,
        fast_detect: true,
        my_key_v1: [me; KEY_V1_LEN],
        my_key_v2: [me; KEY_V2_LEN],
        your_key_v1: [!me; KEY_V1_LEN],
        your_key_v2: [!me; KEY_V2_LEN],
        my_cookie: 0x1000 + u32::from(me),
        your_cookie: 0x1000 + u32::from(!me),
        peer,
        reported: peer,
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let version = if first & 1 == 1 { 2 } else { 1 };
    let encrypt = first & 2 == 0;
    let server: SocketAddr = "10.0.0.1:40000".parse().unwrap();
    let client: SocketAddr = "10.0.0.2:5000".parse().unwrap();
    let mut rng = StdRng::seed_from_u64(u64::from(first));
    let mut s = UdpAccel::new(&params(version, encrypt, 1, client), &mut rng);
    let mut c = UdpAccel::new(&params(version, encrypt, !1, server), &mut rng);

    let mut junk = rest.to_vec();
    let _ = s.receive(&mut junk, "6.6.6.6:6".parse().unwrap(), 1_000);
    if encrypt && version == 2 {
        // Random bytes never authenticate under ChaCha20-Poly1305.
        assert_eq!(s.peer(), client);
    }
    let _ = s.is_send_ready(2_000);
    let _ = s.next_wakeup();

    // A fresh receiver: the junk may have carried a far-future tick.
    let mut s = UdpAccel::new(&params(version, encrypt, 1, client), &mut rng);
    let frame = &rest[..rest.len().min(MAX_PAYLOAD)];
    let mut out = Vec::new();
    c.encode(frame, false, 5_000, &mut rng, &mut out);
    let got = s.receive(&mut out, client, 5_000);
    let want = if frame.is_empty() {
        Received::KeepAlive
    } else {
        Received::Frame(Cow::Borrowed(frame))
    };
    assert_eq!(got, Ok(want));

    if let Ok(p) = Pack::decode(rest) {
        let _ = ClientOffer::from_login_pack(&p);
        let _ = ServerOffer::from_welcome_pack(&p);
    }
});
