//! Pack::decode must never panic; whatever decodes must re-encode to bytes
//! that decode to the same PACK.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rustether_proto::pack::{Pack, PackLimits};

fuzz_target!(|data: &[u8]| {
    let _ = Pack::decode_with(data, &PackLimits::HTTP_FROM_CLIENT);
    if let Ok(p) = Pack::decode(data) {
        let again = Pack::decode(&p.encode()).expect("re-encoded PACK decodes");
        assert_eq!(again, p);
    }
});
