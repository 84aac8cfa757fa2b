//! The VPN server runtime: listeners, TLS, sessions, virtual hubs, and the
//! worker entry point used by the process supervisor.
//!
//! Layout: [`worker`] (entry point) → [`server`] (state, configuration,
//! authentication) → [`listener`] → [`connection`] (TLS + negotiation) →
//! [`session`] (data phase) → [`hub`] (switching with bounded queues).

#[cfg(feature = "wip")]
pub mod admin;
#[cfg(feature = "wip")]
pub mod clock;
#[cfg(feature = "wip")]
pub mod connection;
#[cfg(feature = "wip")]
pub mod hub;
#[cfg(feature = "wip")]
pub mod listener;
#[cfg(feature = "wip")]
pub mod server;
#[cfg(feature = "wip")]
pub mod session;
#[cfg(feature = "wip")]
pub mod tls;
#[cfg(feature = "wip")]
pub mod transport;
pub mod worker;
