//! The configuration file parser (text and binary `SEVPN_DB` forms,
//! docs/config-format.md) must never panic; whatever parses must write back
//! to text that parses and writes the same text again (the writer sorts
//! items, so the trees may differ in order only), and the typed model read
//! from it must write a tree it reads back.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rustether_config::{parse_bytes, parse_text, write_text, ServerConfig};

fuzz_target!(|data: &[u8]| {
    let Ok(root) = parse_bytes(data) else {
        return;
    };
    let text = write_text(&root);
    let again = parse_text(&text).expect("written configuration parses");
    assert_eq!(write_text(&again), text);
    if let Ok(cfg) = ServerConfig::from_root(&root) {
        let _ = ServerConfig::from_root(&cfg.to_root());
    }
});
