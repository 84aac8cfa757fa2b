//! Local bridges (`LocalBridgeList/LocalBridgeN`, docs/config-format.md §7.5;
//! `SiLoadLocalBridgeCfg`, `SiWriteLocalBridgeCfg` in `src/Cedar/Server.c`).
//! Every key SoftEther writes for a bridge is modelled, so the folder is
//! rebuilt from the struct.

use super::*;

/// One local bridge (`LocalBridgeList/LocalBridgeN`, docs/config-format.md §7.5,
/// docs/process-model.md §9). Every key SoftEther writes for a bridge is modelled.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LocalBridgeConfig {
    /// Network interface (or, in tap mode, the tap name as typed; the kernel
    /// interface is `tap_` + lower-cased name).
    pub device_name: String,
    /// Virtual hub the interface is bridged to.
    pub hub_name: String,
    /// Create a tap device instead of opening an existing interface.
    pub tap_mode: bool,
    /// MAC of the tap device (`TapMacAddress`); `None` = pick a random one.
    pub tap_mac: Option<[u8; 6]>,
    /// Do not switch the interface to promiscuous mode (SoftEther's "local"
    /// flag).
    pub no_promiscuous_mode: bool,
    /// The bridge session gets the monitor-port policy.
    pub monitor_mode: bool,
    /// Apply the broadcast limiter to the bridge session.
    pub limit_broadcast: bool,
}

impl LocalBridgeConfig {
    pub(super) fn from_folder(r: &Rd) -> Result<Option<LocalBridgeConfig>, ConfigError> {
        let device_name = r.string_or("DeviceName", "")?;
        let hub_name = r.string_or("HubName", "")?;
        if device_name.is_empty() || hub_name.is_empty() {
            tracing::warn!("{}: local bridge without hub or device ignored", r.path);
            return Ok(None);
        }
        let tap_mode = r.bool_or("TapMode", false)?;
        let tap_mac = match r.str("TapMacAddress")? {
            Some(t) if !t.is_empty() => Some(
                parse_mac(t)
                    .ok_or_else(|| r.bad("TapMacAddress", format!("`{t}` is not a MAC address")))?,
            ),
            _ => None,
        };
        Ok(Some(LocalBridgeConfig {
            device_name,
            hub_name,
            tap_mode,
            tap_mac,
            no_promiscuous_mode: r.bool_or("NoPromiscuousMode", false)?,
            monitor_mode: r.bool_or("MonitorMode", false)?,
            limit_broadcast: r.bool_or("LimitBroadcast", false)?,
        }))
    }

    pub(super) fn to_folder(&self, name: &str) -> Folder {
        let mut f = folder_with(
            name,
            &[
                ("DeviceName", s(&self.device_name)),
                ("HubName", s(&self.hub_name)),
                ("LimitBroadcast", b(self.limit_broadcast)),
                ("MonitorMode", b(self.monitor_mode)),
                ("NoPromiscuousMode", b(self.no_promiscuous_mode)),
                ("TapMode", b(self.tap_mode)),
            ],
        );
        if let (true, Some(mac)) = (self.tap_mode, self.tap_mac) {
            f.set_str("TapMacAddress", &format_mac(&mac));
        }
        f
    }
}
