//! Admin input decoding allocates by the bytes received, not by lengths or
//! counts announced in them (issue 9).
//!
//! This test binary replaces the global allocator with `allocation-counter`,
//! which counts the allocations of the current thread only, so tests
//! running in parallel do not disturb each other.

use allocation_counter::measure;
use bytes::BytesMut;
use rustether_admin::framing::{RpcFrameDecoder, DEFAULT_MAX_FRAME, RESERVE_STEP};
use rustether_admin::json::{handle_post, try_from_json};
use rustether_admin::memory::MemoryBackend;
use rustether_admin::Caller;
use rustether_proto::Pack;
use serde_json::{json, Value};

/// The JSON-RPC array bomb: `params` holding one array of `n` objects, each
/// with a key of its own. Every distinct key used to make an element of `n`
/// values (`vec![None; n]` per key: n² values, hundreds of GiB for a 1.5 MB
/// body).
fn array_bomb(n: usize) -> Vec<u8> {
    let mut body = String::from(
        r#"{"jsonrpc":"2.0","id":"bomb","method":"EnumSession","params":{"HubName_str":"TEST","a":["#,
    );
    for i in 0..n {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(r#"{{"k{i}_u32":1}}"#));
    }
    body.push_str("]}}");
    body.into_bytes()
}

/// The bomb is answered with error 38 while the memory in use stays a
/// small multiple of the body (the parsed JSON tree dominates). With the
/// old collector the 2000-object bomb alone held 128 MiB.
#[test]
fn json_rpc_array_bomb_is_refused_within_linear_memory() {
    let mut backend = MemoryBackend::new("adminpw");
    backend.add_hub("TEST", "hubpw");
    let admin = Caller::server_admin(true);
    for n in [2_000, 100_000] {
        let body = array_bomb(n);
        let mut answer = Value::Null;
        let info = measure(|| answer = handle_post(&mut backend, &admin, &body));
        assert_eq!(answer["error"]["code"], json!(38), "{answer}");
        let bound = 64 * body.len() as u64;
        assert!(
            info.bytes_max < bound,
            "{}-byte bomb held {} bytes at peak (bound {bound})",
            body.len(),
            info.bytes_max
        );
    }
    assert!(array_bomb(100_000).len() > 1_500_000);
}

/// Arrays of objects sharing their keys (every real enumeration request)
/// still convert, gaps filled with zero values as SoftEther does.
#[test]
fn arrays_of_objects_with_shared_keys_still_convert() {
    let items: Vec<Value> = (0..10_000)
        .map(|i| {
            if i % 2 == 0 {
                json!({"Name_str": format!("s{i}"), "Num_u32": i})
            } else {
                json!({"Name_str": format!("s{i}")})
            }
        })
        .collect();
    let p: Pack = try_from_json(&json!({"HubName_str": "TEST", "Sessions": items})).unwrap();
    assert_eq!(p.count("Name"), 10_000);
    assert_eq!(p.count("Num"), 10_000);
    assert_eq!(p.get_int_at("Num", 4), Some(4));
    assert_eq!(p.get_int_at("Num", 5), Some(0));
}

/// An RPC frame announcing 16 MiB whose first bytes only arrived: the
/// decoder used to reserve the whole announced length at once.
#[test]
fn rpc_frame_length_does_not_drive_allocation() {
    let len = u32::try_from(DEFAULT_MAX_FRAME).unwrap();
    let mut buf = BytesMut::new();
    buf.extend_from_slice(&len.to_be_bytes());
    buf.extend_from_slice(&[0, 0, 0, 1]);
    let mut dec = RpcFrameDecoder::default();
    let info = measure(|| assert_eq!(dec.decode(&mut buf), Ok(None)));
    assert!(
        info.bytes_max <= (RESERVE_STEP + 64) as u64,
        "8 bytes of a 16 MiB frame reserved {} bytes",
        info.bytes_max
    );
    assert!(
        buf.capacity() <= RESERVE_STEP + 64,
        "capacity {}",
        buf.capacity()
    );
}
