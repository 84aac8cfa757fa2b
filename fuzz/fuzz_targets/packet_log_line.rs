//! The packet log's frame reader (`rustether_hub::packetlog`), which the
//! log writer runs on every logged frame: no panic on any bytes, always
//! one line of exactly SoftEther's 18 comma-separated fields, and a level
//! within the configured ones.
#![no_main]
use libfuzzer_sys::fuzz_target;
use rustether_hub::packetlog::{level, line};

fuzz_target!(|data: &[u8]| {
    let Some((&cfg_byte, frame)) = data.split_first() else {
        return;
    };
    let cfg: [u32; 8] = std::array::from_fn(|i| u32::from((cfg_byte >> i) & 1) * 2);
    let l = level(frame, &cfg);
    assert!(l <= 2);
    for with_data in [false, true] {
        let s = line(frame, frame.len(), "SID-A-1", "", with_data, "10.0.0.1", "");
        assert!(!s.contains('\n') && !s.contains('\r'), "{s:?}");
        assert_eq!(s.split(',').count(), 18, "{s}");
    }
});
