//! SoftEther-compatible configuration for RustEther: the text format
//! ([`cfg`](mod@cfg)), the typed VPN Server / VPN Bridge configuration ([`model`])
//! and its crash-safe storage ([`store`]).
//!
//! Files written by SoftEther VPN Server 5.01 load, and files written here
//! load in SoftEther (both verified with the real programs in this crate's
//! tests). Where this crate is stricter or behaves differently from
//! SoftEther it says so in the module documentation:
//!
//! * [`cfg`](mod@cfg): corrupt or ambiguous text (unbalanced braces, unrecognised
//!   lines, undecodable values, duplicates) is an error with a line number
//!   instead of being silently ignored, because SoftEther's next save would
//!   drop whatever it ignored.
//! * [`model`]: wrong-typed modelled keys are errors; unknown keys are kept
//!   and written back; the initial configuration never talks to the
//!   internet.
//! * Times in the file are SoftEther times, Unix ms − 9 h (see
//!   [`model`], "Times"); [`model::now_ms`] is on that scale.
//! * [`store`]: saves are atomic (temporary file, fsync, rename, fsync of
//!   the directory) instead of SoftEther's copy-to-`.log` scheme, backups
//!   are bounded in number, a file that does not load is never overwritten.
#![forbid(unsafe_code)]

pub mod cfg;
pub mod edition;
mod error;
pub mod model;
// SHA-0 is the protocol crate's; the binary form's checksum and the
// password hashes use the same function.
use rustether_proto::sha0;
pub mod store;

#[cfg(test)]
mod real_file_tests;
#[cfg(test)]
mod spec_example_tests;

pub use cfg::{parse_bytes, parse_text, write_binary, write_text, CfgError, CfgValue, Folder};
pub use edition::Edition;
pub use error::ConfigError;
pub use model::{
    CascadeAuth, CascadeConfig, GroupConfig, HubConfig, ListenerConfig, LocalBridgeConfig, Policy,
    ServerConfig, ServerSettings, UserAuth, UserConfig, DEFAULT_ADMIN_IDLE_TIMEOUT_SECS,
};
pub use store::ConfigStore;
