//! JSON-RPC bodies (the admin web API, docs/admin-rpc.md): parsing, the
//! JSON → PACK conversion and the dispatcher against the in-memory backend
//! must never panic; whatever converts must convert the same way twice.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rustether_admin::json::{handle_post, parse_request, to_body, try_from_json};
use rustether_admin::memory::MemoryBackend;
use rustether_admin::Caller;

fuzz_target!(|data: &[u8]| {
    if let Ok(req) = parse_request(data) {
        if let Ok(p) = try_from_json(&req.params) {
            assert_eq!(try_from_json(&req.params), Ok(p));
        }
    }
    let mut backend = MemoryBackend::new("adminpw");
    backend.add_hub("DEFAULT", "");
    let answer = handle_post(&mut backend, &Caller::server_admin(true), data);
    let _ = to_body(&answer);
});
