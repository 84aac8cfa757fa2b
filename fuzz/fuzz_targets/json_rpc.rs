//! JSON-RPC bodies (the admin web API, docs/admin-rpc.md): parsing, the
//! JSON → PACK conversion and the dispatcher against the in-memory backend
//! must never panic; whatever converts must convert the same way twice.
//! The same bytes as an `Authorization` header: the Basic and Bearer
//! (`/metrics` token) parsers never panic and stay within their bounds.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rustether_admin::json::{
    handle_post, metrics_token_matches, parse_bearer_token, parse_credentials, parse_request,
    to_body, try_from_json, METRICS_TOKEN_MAX_LEN,
};
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
    if let Ok(text) = std::str::from_utf8(data) {
        let header = |name: &str| (name == "Authorization").then_some(text);
        let _ = parse_credentials(header);
        if let Some(t) = parse_bearer_token(header) {
            assert!(!t.is_empty() && t.len() <= METRICS_TOKEN_MAX_LEN);
            let _ = metrics_token_matches(t, t);
        }
    }
});
