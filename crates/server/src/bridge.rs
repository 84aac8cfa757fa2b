//! Local bridges: a virtual hub joined to a real network interface (AF_PACKET
//! raw socket) or to a TAP device `tap_<name>` the server creates
//! (docs/process-model.md §9; SoftEther `src/Cedar/Bridge.c`, `BridgeUnix.c`).
//!
//! A local bridge is one more port of its hub, with the `CheckMac` loop
//! guard on (SoftEther forces it for local bridges). The device side lives
//! in `rustether-netdev`; this module only moves frames.

use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use rustether_config::LocalBridgeConfig;
use rustether_hub::SessionPolicy;
use rustether_netdev::{NetdevError, RawOptions};
use tokio::sync::{mpsc, watch, Notify};
use tracing::{info, warn};

use crate::hub::Hub;
use crate::session::Registry;

/// Largest frame read from a device: GRO/TSO can hand out frames far larger
/// than the MTU; the device layer splits or repairs them.
const RX_BUF: usize = 65_536;

/// A running local bridge.
pub struct LocalBridge {
    /// Device name as configured (without the `tap_` prefix in TAP mode).
    pub device_name: String,
    /// Hub it is attached to.
    pub hub: Arc<Hub>,
    /// TAP mode.
    pub tap: bool,
    /// Its port in the hub's switch (MAC and IP table entries name it).
    pub id: rustether_hub::SessionId,
    dev: Arc<Device>,
    status: Mutex<String>,
    stop: Notify,
    stopped: watch::Sender<bool>,
}

impl std::fmt::Debug for LocalBridge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("LocalBridge")
            .field("device", &self.device_name)
            .finish_non_exhaustive()
    }
}

impl LocalBridge {
    /// `Opening`, `Operating`, `Error: <why>` or `Stopped` (BridgeList
    /// status column), as the device layer reports it.
    pub fn status(&self) -> String {
        let own = self.status.lock().clone();
        if own == "Stopped" {
            return own;
        }
        match &*self.dev {
            Device::Tap(_) => own,
            Device::Raw(d) => match d.status() {
                rustether_netdev::DeviceStatus::Opening => "Opening".into(),
                rustether_netdev::DeviceStatus::Operating => "Operating".into(),
                rustether_netdev::DeviceStatus::Error(e) => format!("Error: {e}"),
            },
        }
    }

    /// Whether the device is open and frames flow.
    pub fn is_operating(&self) -> bool {
        self.status() == "Operating"
    }

    /// Stops the bridge and waits (bounded) until the device is closed and
    /// restored (promiscuous mode, offloads; TAP device removed).
    pub async fn stop(&self) {
        let mut rx = self.stopped.subscribe();
        self.stop.notify_one();
        let _ = tokio::time::timeout(std::time::Duration::from_secs(3), rx.wait_for(|v| *v)).await;
    }
}

enum Device {
    Raw(rustether_netdev::ResilientDevice),
    Tap(rustether_netdev::TapDevice),
}

impl Device {
    async fn recv(&self, buf: &mut [u8]) -> Result<usize, NetdevError> {
        match self {
            Device::Raw(d) => d.recv(buf).await,
            Device::Tap(d) => d.recv(buf).await,
        }
    }

    async fn send(&self, frame: &[u8]) -> Result<(), NetdevError> {
        match self {
            Device::Raw(d) => d.send(frame).await,
            Device::Tap(d) => d.send(frame).await,
        }
    }
}

/// Opens the device and attaches it to `hub`.
///
/// Errors (with a message naming what is missing, e.g. `CAP_NET_RAW`):
/// missing capabilities, a TAP name longer than 15 characters, a TAP device
/// that cannot be created. An interface that does not exist (yet) is not an
/// error: the bridge waits for it and reopens it when it comes back.
pub fn start(
    hub: Arc<Hub>,
    cfg: &LocalBridgeConfig,
    disable_offloads: bool,
    registry: &Registry,
    shutdown: watch::Receiver<bool>,
) -> Result<Arc<LocalBridge>, NetdevError> {
    let need_admin = cfg.tap_mode || !cfg.no_promiscuous_mode || disable_offloads;
    rustether_netdev::check_capabilities(need_admin)?;
    let dev = if cfg.tap_mode {
        Device::Tap(rustether_netdev::TapDevice::create(
            &cfg.device_name,
            cfg.tap_mac,
        )?)
    } else {
        Device::Raw(rustether_netdev::ResilientDevice::new(
            &cfg.device_name,
            RawOptions {
                promiscuous: !cfg.no_promiscuous_mode,
                disable_offloads,
            },
        )?)
    };
    let (stopped, _) = watch::channel(false);
    let dev = Arc::new(dev);
    let id = registry.next_id();
    let bridge = Arc::new(LocalBridge {
        device_name: cfg.device_name.clone(),
        hub: hub.clone(),
        tap: cfg.tap_mode,
        id,
        dev: dev.clone(),
        status: Mutex::new(if cfg.tap_mode {
            "Operating".into()
        } else {
            "Opening".into()
        }),
        stop: Notify::new(),
        stopped,
    });
    // SoftEther forces CheckMac on local bridges: a MAC seen on the LAN side
    // cannot be stolen by a frame leaking back through the physical network.
    let policy = SessionPolicy {
        check_mac: true,
        monitor: cfg.monitor_mode,
        ..SessionPolicy::default()
    };
    let (rx, _stats) = hub.attach(id, policy);
    tokio::spawn(run(bridge.clone(), dev, id, rx, shutdown));
    info!(
        hub = %hub.name(),
        device = %cfg.device_name,
        tap = cfg.tap_mode,
        "local bridge started"
    );
    Ok(bridge)
}

async fn run(
    b: Arc<LocalBridge>,
    dev: Arc<Device>,
    id: rustether_hub::SessionId,
    mut to_dev: mpsc::Receiver<Bytes>,
    mut shutdown: watch::Receiver<bool>,
) {
    let tx_dev = dev.clone();
    let tx_bridge = b.clone();
    let sender = tokio::spawn(async move {
        while let Some(f) = to_dev.recv().await {
            if let Err(e) = tx_dev.send(&f).await {
                if !e.is_gone() {
                    warn!(device = %tx_bridge.device_name, "sending to the device failed: {e}");
                }
            }
        }
    });
    let mut buf = vec![0u8; RX_BUF];
    let mut batch: Vec<Bytes> = Vec::with_capacity(1);
    loop {
        tokio::select! {
            _ = b.stop.notified() => break,
            _ = shutdown.changed() => break,
            r = dev.recv(&mut buf) => match r {
                Ok(n) => {
                    batch.push(Bytes::copy_from_slice(&buf[..n]));
                    b.hub.forward(id, &mut batch);
                }
                Err(e) => {
                    warn!(device = %b.device_name, "local bridge device error: {e}");
                    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                }
            }
        }
    }
    b.hub.detach(id);
    sender.abort();
    let _ = sender.await;
    // Close the device now (restoring promiscuous mode and offloads, or
    // removing the TAP device), even though `b` still refers to it.
    #[cfg(target_os = "linux")]
    if let Device::Raw(d) = &*dev {
        d.close();
    }
    drop(dev);
    *b.status.lock() = "Stopped".into();
    info!(hub = %b.hub.name(), device = %b.device_name, "local bridge stopped");
    // send_replace stores the value even when nobody is subscribed yet.
    b.stopped.send_replace(true);
}
