//! SoftEther-compatible configuration: the text format, the typed server
//! configuration and its crash-safe storage.

pub mod cfg;
pub mod edition;
mod sha0;

#[cfg(test)]
mod spec_example_tests;

pub use cfg::{parse_bytes, parse_text, write_binary, write_text, CfgError, CfgValue, Folder};
pub use edition::Edition;
