//! `vpnbridge`: the RustEther VPN Bridge (see `docs/operating-modes.md`).
#![forbid(unsafe_code)]

fn main() -> std::process::ExitCode {
    rustether_svc::main(rustether_svc::Edition::Bridge)
}
