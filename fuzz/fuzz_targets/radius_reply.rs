//! RADIUS replies (`rustether_proto::radius::parse_reply`, the server's
//! RADIUS PAP client, docs/administration.md "RADIUS"): no panic on any
//! datagram; a reply that verifies no longer verifies once a byte of its
//! Response Authenticator changes; `request_attributes` agrees with the
//! parser on structure. Our own requests, built from fuzzed names and
//! passwords, parse back and reveal the password.
//! First byte: bit 0 = give the datagram a valid Response Authenticator
//! (so the attribute and Message-Authenticator checks are reached).
#![no_main]
use libfuzzer_sys::fuzz_target;
use rustether_proto::radius::{
    encode_access_request, parse_reply, request_attributes, response_authenticator,
    reveal_password, PapRequest, RadiusError, MAX_PASSWORD,
};

const SECRET: &[u8] = b"fuzz-secret";
const AUTH: [u8; 16] = [7; 16];

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let mut d = rest.to_vec();
    if mode & 1 != 0 && d.len() >= 20 {
        let len = usize::from(u16::from_be_bytes([d[2], d[3]])).clamp(20, d.len());
        if let Some(ra) = response_authenticator(&d[..len], &AUTH, SECRET) {
            d[4..20].copy_from_slice(&ra);
        }
    }
    let id = d.get(1).copied().unwrap_or(0);
    let r = parse_reply(&d, id, &AUTH, SECRET);
    let structure_ok = request_attributes(&d).is_some();
    if r.is_ok() {
        assert!(structure_ok);
        let mut forged = d.clone();
        forged[4] ^= 1;
        assert_eq!(
            parse_reply(&forged, id, &AUTH, SECRET),
            Err(RadiusError::BadAuthenticator)
        );
    }
    if !structure_ok {
        assert!(r.is_err());
    }
    // Our own request from the input's text.
    let text = String::from_utf8_lossy(rest);
    let half = text.chars().count() / 2;
    let mid = text.char_indices().nth(half).map_or(text.len(), |(i, _)| i);
    let (name, pw) = text.split_at(mid);
    let req = PapRequest {
        user_name: name,
        password: pw,
        nas_identifier: "n",
        called_station_id: "HUB",
        calling_station_id: "10.0.0.1",
    };
    if let Ok(p) = encode_access_request(&req, id, &AUTH, SECRET) {
        let attrs = request_attributes(&p).expect("own request parses");
        assert_eq!(attrs[0].1, name.as_bytes());
        assert!(pw.len() <= MAX_PASSWORD);
        let shown = reveal_password(attrs[1].1, SECRET, &AUTH).expect("password reveals");
        assert_eq!(shown, pw.trim_end_matches('\0').as_bytes());
    }
});
