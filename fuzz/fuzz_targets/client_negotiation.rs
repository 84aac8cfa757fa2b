//! ClientNegotiation (the cascade side) must never panic on arbitrary
//! server bytes, delivered in chunks (first byte = chunk size): first the
//! hello response, then response PACKs until an error.
#![no_main]
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rustether_proto::negotiate::ClientNegotiation;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let mut c = ClientNegotiation::new("127.0.0.1".into(), 0);
    let mut out = Vec::new();
    c.start(&mut out);
    let mut buf = BytesMut::new();
    let mut have_hello = false;
    for chunk in rest.chunks(usize::from(first) + 1) {
        buf.extend_from_slice(chunk);
        loop {
            let step = if have_hello {
                c.on_response(&mut buf).map(|p| p.is_some())
            } else {
                c.on_hello(&mut buf).map(|h| h.is_some())
            };
            match step {
                Ok(true) => have_hello = true,
                Ok(false) => break,
                Err(_) => return,
            }
        }
    }
});
