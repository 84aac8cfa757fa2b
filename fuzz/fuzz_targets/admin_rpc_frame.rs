//! Admin RPC frames (vpncmd's framing after login, docs/admin-rpc.md §4):
//! the frame decoder must never panic, whatever the chunking (first byte =
//! chunk size), and every decoded call goes through the dispatcher's
//! request readers against the in-memory backend as server admin.
#![no_main]
use bytes::BytesMut;
use libfuzzer_sys::fuzz_target;
use rustether_admin::framing::{RpcFrameDecoder, RpcRequest};
use rustether_admin::memory::MemoryBackend;
use rustether_admin::{dispatch_call, Caller};

// Small frames keep executions fast; the limit itself is checked by tests.
const MAX_FRAME: usize = 1 << 20;

fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let mut backend = MemoryBackend::new("adminpw");
    backend.add_hub("DEFAULT", "");
    let caller = Caller::server_admin(true);
    let mut dec = RpcFrameDecoder::new(MAX_FRAME);
    let mut buf = BytesMut::new();
    for chunk in rest.chunks(usize::from(first) + 1) {
        buf.extend_from_slice(chunk);
        loop {
            match dec.decode(&mut buf) {
                Ok(Some(pack)) => {
                    if let Ok(req) = RpcRequest::from_pack(pack) {
                        let _ = dispatch_call(&mut backend, &caller, &req.function, &req.pack);
                    }
                }
                Ok(None) => break,
                Err(_) => return,
            }
        }
    }
});
