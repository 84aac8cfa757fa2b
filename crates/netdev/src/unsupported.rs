//! Stand-ins for targets other than Linux: same API, every operation fails with
//! [`NetdevError::Unsupported`], so the workspace builds everywhere.

use std::sync::Arc;
use std::time::Duration;

use crate::error::{NetdevError, Result};
use crate::{DeviceInfo, DeviceStatus, FrameMeta, RawOptions, RawStats};

/// Kernel limit on interface names (kept for API parity).
pub const IFNAME_MAX: usize = 15;
/// Retry interval of [`ResilientDevice`] (API parity).
pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(1);
/// Offload features a local bridge switches off on Linux (API parity).
pub const MANAGED_OFFLOADS: &[&str] = &[];

/// State of one offload feature (API parity; never produced here).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OffloadFeature {
    /// Kernel feature name.
    pub name: String,
    /// In effect.
    pub active: bool,
    /// Requested.
    pub requested: bool,
    /// Changeable.
    pub changeable: bool,
}

/// Always `false` off Linux.
pub fn is_managed_offload(_name: &str) -> bool {
    false
}
/// Errors: always [`NetdevError::Unsupported`].
pub fn list_devices() -> Result<Vec<DeviceInfo>> {
    Err(NetdevError::Unsupported)
}
/// Errors: always [`NetdevError::Unsupported`].
pub fn device_info(_name: &str) -> Result<DeviceInfo> {
    Err(NetdevError::Unsupported)
}
/// Errors: always [`NetdevError::Unsupported`].
pub fn check_capabilities(_need_admin: bool) -> Result<()> {
    Err(NetdevError::Unsupported)
}
/// Always `false`.
pub fn is_bridge_supported() -> bool {
    false
}
/// Errors: always [`NetdevError::Unsupported`].
pub fn offload_features(_ifname: &str) -> Result<Vec<OffloadFeature>> {
    Err(NetdevError::Unsupported)
}
/// Errors: always [`NetdevError::Unsupported`].
pub fn set_offload(_ifname: &str, _feature: &str, _on: bool) -> Result<()> {
    Err(NetdevError::Unsupported)
}
/// Errors: always [`NetdevError::Unsupported`].
pub fn tap_interface_name(_bridge_name: &str) -> Result<String> {
    Err(NetdevError::Unsupported)
}
/// Errors: always [`NetdevError::Unsupported`].
pub fn generate_tap_mac() -> Result<[u8; 6]> {
    Err(NetdevError::Unsupported)
}
/// Errors: always [`NetdevError::Unsupported`].
pub async fn wait_for_device(_name: &str, _poll: Duration) -> Result<()> {
    Err(NetdevError::Unsupported)
}

/// Raw device (API parity; cannot be constructed).
#[derive(Debug)]
pub struct RawDevice {
    _never: std::convert::Infallible,
}

impl RawDevice {
    /// Errors: always [`NetdevError::Unsupported`].
    pub fn open(_name: &str, _opts: RawOptions) -> Result<RawDevice> {
        Err(NetdevError::Unsupported)
    }
    /// Interface name.
    pub fn name(&self) -> &str {
        match self._never {}
    }
    /// Interface index.
    pub fn ifindex(&self) -> u32 {
        match self._never {}
    }
    /// MAC address.
    pub fn mac(&self) -> [u8; 6] {
        match self._never {}
    }
    /// MTU.
    pub fn mtu(&self) -> u32 {
        match self._never {}
    }
    /// Counters.
    pub fn stats(&self) -> RawStats {
        match self._never {}
    }
    /// Errors: never returns.
    pub async fn recv(&self, _buf: &mut [u8]) -> Result<usize> {
        match self._never {}
    }
    /// Errors: never returns.
    pub async fn recv_meta(&self, _buf: &mut [u8]) -> Result<FrameMeta> {
        match self._never {}
    }
    /// Errors: never returns.
    pub async fn send(&self, _frame: &[u8]) -> Result<()> {
        match self._never {}
    }
    /// Errors: never returns.
    pub fn try_recv(&self, _buf: &mut [u8]) -> Result<Option<FrameMeta>> {
        match self._never {}
    }
    /// Errors: never returns.
    pub async fn send_batch<F: AsRef<[u8]>>(&self, _frames: &[F]) -> Result<usize> {
        match self._never {}
    }
}

/// TAP device (API parity; cannot be constructed).
#[derive(Debug)]
pub struct TapDevice {
    _never: std::convert::Infallible,
}

impl TapDevice {
    /// Errors: always [`NetdevError::Unsupported`].
    pub fn create(_bridge_name: &str, _mac: Option<[u8; 6]>) -> Result<TapDevice> {
        Err(NetdevError::Unsupported)
    }
    /// Interface name.
    pub fn name(&self) -> &str {
        match self._never {}
    }
    /// Errors: never returns.
    pub async fn recv(&self, _buf: &mut [u8]) -> Result<usize> {
        match self._never {}
    }
    /// Errors: never returns.
    pub async fn send(&self, _frame: &[u8]) -> Result<()> {
        match self._never {}
    }
    /// Errors: never returns.
    pub fn try_recv(&self, _buf: &mut [u8]) -> Result<Option<usize>> {
        match self._never {}
    }
    /// Errors: never returns.
    pub async fn send_batch<F: AsRef<[u8]>>(&self, _frames: &[F]) -> Result<usize> {
        match self._never {}
    }
}

/// Resilient device (API parity; cannot be constructed).
#[derive(Debug)]
pub struct ResilientDevice {
    _never: std::convert::Infallible,
}

impl ResilientDevice {
    /// Errors: always [`NetdevError::Unsupported`].
    pub fn new(_name: &str, _opts: RawOptions) -> Result<ResilientDevice> {
        Err(NetdevError::Unsupported)
    }
    /// API parity.
    pub fn with_retry_interval(self, _retry: Duration) -> ResilientDevice {
        match self._never {}
    }
    /// Interface name.
    pub fn name(&self) -> &str {
        match self._never {}
    }
    /// Current state.
    pub fn status(&self) -> DeviceStatus {
        match self._never {}
    }
    /// The open device.
    pub fn device(&self) -> Option<Arc<RawDevice>> {
        match self._never {}
    }
    /// Errors: never returns.
    pub async fn recv(&self, _buf: &mut [u8]) -> Result<usize> {
        match self._never {}
    }
    /// Errors: never returns.
    pub async fn send(&self, _frame: &[u8]) -> Result<()> {
        match self._never {}
    }
    /// Errors: never returns.
    pub async fn send_batch<F: AsRef<[u8]>>(&self, _frames: &[F]) -> Result<usize> {
        match self._never {}
    }
}
