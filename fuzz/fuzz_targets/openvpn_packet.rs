//! The OpenVPN packet codec, TCP framer and key-method 2 parser must never
//! panic; a decoded control packet re-encodes to the same bytes; the TCP
//! framer gives the same packets whatever the chunking (first byte = chunk
//! size); the data channel (every cipher, AEAD and CBC+HMAC) refuses the
//! input as a forged payload without panicking and carries it as a
//! plaintext unchanged.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rustether_openvpn::data::DataChannel;
use rustether_openvpn::keymethod::ClientKeyMethod;
use rustether_openvpn::Cipher;
use rustether_openvpn::packet::{decode, encode_control, Packet, TcpFramer};

fn frames(data: &[u8], chunk: usize) -> Result<Vec<Vec<u8>>, ()> {
    let mut f = TcpFramer::new();
    let mut out = Vec::new();
    for c in data.chunks(chunk) {
        out.extend(f.push(c).map_err(|_| ())?);
    }
    Ok(out)
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    if let Ok(Packet::Control(c)) = decode(rest) {
        let mut out = Vec::new();
        encode_control(&c, &mut out);
        assert_eq!(out, rest);
    }
    let _ = ClientKeyMethod::parse(rest);
    let a = frames(rest, usize::from(first) + 1);
    let b = frames(rest, rest.len().max(1));
    match (a, b) {
        (Ok(a), Ok(b)) => assert_eq!(a, b),
        (a, b) => assert_eq!(a.is_ok(), b.is_ok(), "framer outcome depends on chunking"),
    }
    for p in frames(rest, rest.len().max(1)).unwrap_or_default() {
        let _ = decode(&p);
    }
    let material: Vec<u8> = (0..=255).collect();
    for c in Cipher::ALL {
        let (Some(mut srv), Some(mut cli)) = (
            DataChannel::new(c, &material, true),
            DataChannel::new(c, &material, false),
        ) else {
            panic!("keys for {c:?}");
        };
        assert!(srv.decrypt(&[0x30], rest).is_err(), "forged payload accepted");
        let mut pkt = Vec::new();
        cli.encrypt(&[0x30], rest, &mut pkt).unwrap();
        assert_eq!(srv.decrypt(&[0x30], &pkt[1..]).unwrap(), rest);
    }
});
