//! The Linux implementation.

pub(crate) mod caps;
pub(crate) mod devices;
pub(crate) mod ethtool;
pub(crate) mod raw;
pub(crate) mod resilient;
pub(crate) mod sys;
pub(crate) mod tap;
