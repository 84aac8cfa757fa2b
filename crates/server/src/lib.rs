//! The VPN server runtime: listeners, TLS, sessions, virtual hubs, and the
//! worker entry point used by the process supervisor.

pub mod worker;
