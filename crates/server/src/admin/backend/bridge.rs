//! Local bridge RPCs (`rustether_admin::rpc::bridge`).

use std::sync::Arc;

use rustether_admin::rpc::*;
use rustether_config::LocalBridgeConfig;
use rustether_proto::ErrorCode;
use tracing::warn;

use super::{key_eq, Deferred, ServerBackend};
use crate::bridge::LocalBridge as RunningBridge;

pub(super) fn get_bridge_support(
    _this: &mut ServerBackend<'_>,
) -> Result<BridgeSupport, ErrorCode> {
    Ok(BridgeSupport {
        is_bridge_supported_os: rustether_netdev::is_bridge_supported(),
        is_win_pcap_needed: false,
    })
}

pub(super) fn enum_ethernet(_this: &mut ServerBackend<'_>) -> Result<EnumEth, ErrorCode> {
    if !rustether_netdev::is_bridge_supported() {
        // SoftEther lists nothing when it cannot open raw sockets.
        return Ok(EnumEth::default());
    }
    let devices = rustether_netdev::list_devices().map_err(|e| {
        warn!("admin: listing network devices failed: {e}");
        ErrorCode::NOT_SUPPORTED
    })?;
    Ok(EnumEth {
        items: devices
            .into_iter()
            .map(|d| EnumEthItem {
                network_connection_name: d.name.clone(),
                device_name: d.name,
            })
            .collect(),
    })
}

pub(super) fn add_local_bridge(
    this: &mut ServerBackend<'_>,
    req: &LocalBridge,
) -> Result<(), ErrorCode> {
    if !cfg!(target_os = "linux") {
        return Err(ErrorCode::LOCAL_BRIDGE_UNSUPPORTED);
    }
    // Like SoftEther (error 84 when raw sockets are unavailable), but the
    // log says which capability is missing and how to grant it.
    if let Err(e) = rustether_netdev::check_capabilities(true) {
        warn!(
            "local bridge {} on hub {} cannot be created: {e}",
            req.device_name, req.hub_name
        );
        return Err(ErrorCode::LOCAL_BRIDGE_UNSUPPORTED);
    }
    let tap_mac = if req.tap_mode {
        Some(rustether_netdev::generate_tap_mac().map_err(|_| ErrorCode::INTERNAL_ERROR)?)
    } else {
        None
    };
    let added = this.server.update_config_blocking(|c| {
        if c.local_bridges
            .iter()
            .any(|b| key_eq(&b.hub_name, &req.hub_name) && key_eq(&b.device_name, &req.device_name))
        {
            return Ok(None); // already there (as SoftEther: no error)
        }
        let b = LocalBridgeConfig {
            device_name: req.device_name.clone(),
            hub_name: req.hub_name.clone(),
            tap_mode: req.tap_mode,
            tap_mac,
            ..LocalBridgeConfig::default()
        };
        c.local_bridges.push(b.clone());
        Ok(Some((b, c.do_not_disable_offloading)))
    })?;
    if let Some((b, no_offload)) = added {
        if this.server.hub(&b.hub_name).is_some() {
            if let Err(e) = this.server.start_bridge(&b, !no_offload) {
                warn!(
                    "local bridge {} on hub {} is unavailable: {e}",
                    b.device_name, b.hub_name
                );
            }
        }
    }
    Ok(())
}

pub(super) fn delete_local_bridge(
    this: &mut ServerBackend<'_>,
    req: &LocalBridge,
) -> Result<(), ErrorCode> {
    let removed = this.server.update_config_blocking(|c| {
        let i = c
            .local_bridges
            .iter()
            .position(|b| {
                key_eq(&b.hub_name, &req.hub_name) && key_eq(&b.device_name, &req.device_name)
            })
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        Ok(c.local_bridges.remove(i))
    })?;
    this.deferred.push(Deferred::StopBridge {
        hub: removed.hub_name,
        device: removed.device_name,
    });
    Ok(())
}

pub(super) fn enum_local_bridge(
    this: &mut ServerBackend<'_>,
) -> Result<EnumLocalBridge, ErrorCode> {
    let list = this.server.with_config(|c| c.local_bridges.clone());
    let running = this.server.bridges();
    Ok(EnumLocalBridge {
        items: list
            .iter()
            .map(|b| {
                let hub = this.server.hub(&b.hub_name);
                let r = running
                    .iter()
                    .find(|r| key_eq(r.hub.name(), &b.hub_name) && r.device_name == b.device_name);
                LocalBridgeItem {
                    device_name: b.device_name.clone(),
                    hub_name: b.hub_name.clone(),
                    online: hub.as_ref().is_some_and(|h| h.is_online()),
                    active: r.is_some_and(|r| bridge_active(r, b)),
                    tap_mode: b.tap_mode,
                }
            })
            .collect(),
    })
}

impl ServerBackend<'_> {
    /// Running local bridges of hub `hub` with their pseudo session names
    /// (`SID-LOCALBRIDGE-<n>`, as SoftEther lists them).
    pub(super) fn hub_bridges(&self, hub: &str) -> Vec<(String, Arc<RunningBridge>)> {
        self.server
            .bridges()
            .into_iter()
            .filter(|b| key_eq(b.hub.name(), hub))
            .enumerate()
            .map(|(i, b)| (format!("SID-LOCALBRIDGE-{}", i + 1), b))
            .collect()
    }

    /// Starts the configured local bridges of `hub` that do not run yet
    /// (after the hub was created or came online).
    pub(super) fn start_hub_bridges(&self, hub: &str) {
        let (bridges, no_offload) = self.server.with_config(|c| {
            (
                c.local_bridges
                    .iter()
                    .filter(|b| key_eq(&b.hub_name, hub))
                    .cloned()
                    .collect::<Vec<_>>(),
                c.do_not_disable_offloading,
            )
        });
        let running = self.server.bridges();
        for b in bridges {
            let is_running = running
                .iter()
                .any(|r| key_eq(r.hub.name(), &b.hub_name) && r.device_name == b.device_name);
            if !is_running {
                if let Err(e) = self.server.start_bridge(&b, !no_offload) {
                    warn!(
                        "local bridge {} on hub {} is unavailable: {e}",
                        b.device_name, b.hub_name
                    );
                }
            }
        }
    }
}

/// `Active[]` of a configured bridge with a running instance: TAP devices
/// are created at start; a raw interface counts once it is open or, before
/// the first frame has arrived, while it exists and is up.
fn bridge_active(r: &RunningBridge, cfg: &LocalBridgeConfig) -> bool {
    let st = r.status();
    if st == "Operating" {
        return true;
    }
    if st == "Stopped" || st.starts_with("Error") || cfg.tap_mode {
        return false;
    }
    rustether_netdev::device_info(&cfg.device_name).is_ok_and(|d| d.up)
}
