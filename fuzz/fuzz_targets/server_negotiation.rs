//! ServerNegotiation must never panic on arbitrary client bytes, delivered
//! in chunks (first byte = chunk size); a signature prefix makes the fuzzer
//! reach the PACK step quickly when the second byte is odd.
#![no_main]
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rustether_proto::messages::Hello;
use rustether_proto::negotiate::ServerNegotiation;

const SIGNATURE: &[u8] =
    b"POST /vpnsvc/connect.cgi HTTP/1.1\r\nContent-Length: 10\r\n\r\nVPNCONNECT";

fuzz_target!(|data: &[u8]| {
    let [first, second, rest @ ..] = data else {
        return;
    };
    let hello = Hello {
        hello: "fuzz".into(),
        version: 501,
        build: 9674,
        random: [0; 20],
    };
    let mut s = ServerNegotiation::new(hello, 443, "127.0.0.1".into(), 0);
    let mut input = Vec::new();
    if second & 1 == 1 {
        input.extend_from_slice(SIGNATURE);
    }
    input.extend_from_slice(rest);
    let mut buf = BytesMut::new();
    let mut out = Vec::new();
    for c in input.chunks(usize::from(*first) + 1) {
        buf.extend_from_slice(c);
        if s.on_input(&mut buf, &mut out).is_err() {
            break;
        }
    }
});
