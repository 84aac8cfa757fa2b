//! Arbitrary Ethernet frames into the virtual host: never panics, output
//! stays bounded.
#![no_main]
use libfuzzer_sys::fuzz_target;
use std::time::Duration;

fuzz_target!(|data: &[u8]| {
    let Ok(mut host) = rustether_securenat::VirtualHost::new(
        rustether_securenat::VhOption::default(),
        Duration::ZERO,
    ) else {
        return;
    };
    // Frames are length-prefixed (one byte) so one input carries several.
    let mut rest = data;
    let mut t = 0u64;
    while let Some((&len, tail)) = rest.split_first() {
        let n = usize::from(len).min(tail.len());
        let (frame, next) = tail.split_at(n);
        t += 1;
        host.input(frame, Duration::from_millis(t));
        while host.pop_frame().is_some() {}
        rest = next;
    }
});
