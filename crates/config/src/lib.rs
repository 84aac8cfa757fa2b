//! SoftEther-compatible configuration: the text format, the typed server
//! configuration and its crash-safe storage.

pub mod edition;

pub use edition::Edition;
