//! SoftEther's own tables (policies, …), each defined once for every crate.
pub mod policy;
