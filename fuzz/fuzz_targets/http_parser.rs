//! HttpParser must never panic and must give the same messages whatever the
//! chunking of its input (first byte = chunk size).
#![no_main]
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rustether_proto::http::{HttpMessage, HttpParser};

fn run(data: &[u8], chunk: usize) -> (Vec<HttpMessage>, bool) {
    let mut p = HttpParser::new(4096);
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for c in data.chunks(chunk) {
        buf.extend_from_slice(c);
        loop {
            match p.parse(&mut buf) {
                Ok(Some(m)) => got.push(m),
                Ok(None) => break,
                Err(_) => return (got, true),
            }
        }
    }
    (got, false)
}

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let chunk = usize::from(first % 32) + 1;
    let (a, err_a) = run(rest, chunk);
    let (b, err_b) = run(rest, rest.len().max(1));
    assert_eq!(err_a, err_b);
    assert_eq!(a, b);
});
