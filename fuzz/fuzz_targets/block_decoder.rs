//! BlockDecoder must never panic and must be chunking-independent
//! (first byte: bit 0 = compressed, the rest = chunk size).
#![no_main]
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rustether_proto::block::{BlockDecoder, BlockEvent};

fn run(data: &[u8], compressed: bool, chunk: usize) -> (Vec<BlockEvent>, bool) {
    let mut d = BlockDecoder::new(compressed);
    let mut buf = BytesMut::new();
    let mut got = Vec::new();
    for c in data.chunks(chunk) {
        buf.extend_from_slice(c);
        loop {
            match d.next_event(&mut buf) {
                Ok(Some(e)) => got.push(e),
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
    let compressed = first & 1 == 1;
    let chunk = usize::from(first >> 1) + 1;
    let a = run(rest, compressed, chunk);
    let b = run(rest, compressed, rest.len().max(1));
    assert_eq!(a, b);
});
