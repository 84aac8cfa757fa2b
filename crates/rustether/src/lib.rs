//! RustEther VPN: the `vpnserver` and `vpnbridge` programs. The binaries are
//! thin: everything is in `rustether-svc` (command line, process model) and
//! `rustether-server` (the engine). Integration tests of the operating modes
//! live in `tests/operating_modes.rs`.
#![forbid(unsafe_code)]

pub use rustether_svc::{run_with_args, Edition};
