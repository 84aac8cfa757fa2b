//! Allocation made while decoding untrusted input is bounded by the bytes
//! actually received, not by counts announced in the input (issue 9).
//!
//! This test binary replaces the global allocator with `allocation-counter`,
//! which counts the allocations of the current thread only, so tests
//! running in parallel do not disturb each other.

use allocation_counter::measure;
use bytes::BytesMut;
use rustether_proto::http::HttpParser;
use rustether_proto::pack::{Pack, PackLimits};

/// Peak bytes held at once while `f` runs on this thread.
fn peak(f: impl FnOnce()) -> u64 {
    measure(f).bytes_max
}

/// A 4-byte PACK body announcing the largest element count the limits
/// allow: the decoder used to reserve its duplicate-name set from that
/// count (12.6 MB); it must stay under 64 KiB.
#[test]
fn pack_element_count_does_not_drive_allocation() {
    for limits in [
        PackLimits::DEFAULT,
        PackLimits::HTTP_FROM_CLIENT,
        PackLimits::SOFTETHER,
    ] {
        let count = u32::try_from(limits.max_elements).unwrap();
        let body = count.to_be_bytes();
        let p = peak(|| {
            assert!(Pack::decode_with(&body, &limits).is_err());
        });
        assert!(p < 64 * 1024, "4-byte PACK body allocated {p} bytes");
    }
}

/// One element announcing the largest value count, with no values.
#[test]
fn pack_value_count_does_not_drive_allocation() {
    let limits = PackLimits::DEFAULT;
    let mut body = Vec::new();
    body.extend_from_slice(&1u32.to_be_bytes());
    body.extend_from_slice(&2u32.to_be_bytes());
    body.push(b'a');
    body.extend_from_slice(&0u32.to_be_bytes()); // INT
    body.extend_from_slice(&u32::try_from(limits.max_values).unwrap().to_be_bytes());
    let p = peak(|| {
        assert!(Pack::decode_with(&body, &limits).is_err());
    });
    assert!(
        p < 64 * 1024,
        "{}-byte PACK body allocated {p} bytes",
        body.len()
    );
}

/// Header lines of invalid UTF-8 used to be kept after lossy conversion,
/// three bytes per received byte; what the parser keeps must not exceed
/// what it received.
#[test]
fn http_head_is_not_expanded() {
    let mut head = b"GET / HTTP/1.1\r\n".to_vec();
    for i in 0..64 {
        head.extend_from_slice(format!("X-{i}: ").as_bytes());
        head.extend(std::iter::repeat_n(0xffu8, 3000));
        head.extend_from_slice(b"\r\n");
    }
    head.extend_from_slice(b"\r\n");
    let received = head.len() as u64;
    let mut kept = None;
    let mut buf = BytesMut::from(&head[..]);
    let p = peak(|| {
        let mut parser = HttpParser::new(0);
        kept = Some(parser.parse_head(&mut buf));
    });
    // Whether accepted or refused, the parser may hold the line it reads
    // plus what it keeps, never a multiple of the input.
    assert!(
        p < received,
        "{received}-byte head held {p} more bytes at peak"
    );
    if let Some(Ok(Some(h))) = kept {
        let stored: usize = h.headers.iter().map(|(n, v)| n.len() + v.len()).sum();
        assert!(
            stored as u64 <= received,
            "kept {stored} of {received} bytes"
        );
    }
}
