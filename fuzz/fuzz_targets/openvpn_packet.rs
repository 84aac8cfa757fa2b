//! The OpenVPN packet codec, TCP framer and key-method 2 parser must never
//! panic; a decoded control packet re-encodes to the same bytes; the TCP
//! framer gives the same packets whatever the chunking (first byte = chunk
//! size).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rustether_openvpn::keymethod::ClientKeyMethod;
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
});
