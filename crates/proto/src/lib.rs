//! Sans-IO implementation of the SoftEther VPN "SSL-VPN" protocol, as
//! specified in `protocol-sslvpn.md` (wire spec of the RustEther project)
//! and implemented by SoftEther VPN 5.01 (`SoftEtherVPN/SoftEtherVPN`).
//!
//! No sockets, no clocks, no async runtime: every type here consumes bytes
//! and produces bytes, so the server runtime and the cascade client share the
//! same code and everything can be tested in memory and fuzzed.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod block;
pub mod error;
pub mod http;
pub mod messages;
pub mod negotiate;
pub mod pack;
pub mod password;
pub mod sha0;
pub mod watermark;

pub use error::ErrorCode;
pub use pack::{Element, Pack, PackError, PackLimits, Value, ValueType};
pub use sha0::{sha0, Sha0};
