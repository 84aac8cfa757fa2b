//! The VPN server runtime: listeners, TLS, sessions, virtual hubs, and the
//! worker entry point used by the process supervisor.
//!
//! Layout: [`worker`] (entry point) → [`server`] (state, configuration,
//! authentication) → [`listener`] → [`connection`] (TLS + negotiation) →
//! [`session`] (data phase) → [`hub`] (switching with bounded queues).

pub mod admin;
pub mod bridge;
pub mod cascade;
pub mod client;
pub mod clock;
pub mod connection;
pub mod hub;
pub mod listener;
pub mod record_reader;
pub mod server;
pub mod session;
pub mod tls;
pub mod transport;
pub mod worker;
