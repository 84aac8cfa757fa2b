//! SecureNAT's DHCP request reader (`rustether_securenat::dhcp::
//! decode_request`, docs/securenat.md): it checks a client's message before
//! dhcproto sees it, because dhcproto 0.13 panics on some hostile input.
//! Whatever the bytes: no panic; a message it accepts is one dhcproto can
//! encode again, and the encoding decodes to an equal message.
#![no_main]
use dhcproto::{Decodable, Decoder, Encodable};
use libfuzzer_sys::fuzz_target;
use rustether_securenat::dhcp::decode_request;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = decode_request(data) else {
        return;
    };
    let bytes = msg.to_vec().expect("an accepted message encodes");
    let again =
        dhcproto::v4::Message::decode(&mut Decoder::new(&bytes)).expect("its encoding decodes");
    assert_eq!(again, msg);
});
