//! A client's DHCP message: decode must never panic.
#![no_main]
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = rustether_securenat::dhcp::decode_request(data);
});
