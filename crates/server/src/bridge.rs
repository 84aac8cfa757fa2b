//! Local bridges: a virtual hub joined to a real network interface (AF_PACKET
//! raw socket) or to a TAP device `tap_<name>` the server creates
//! (docs/process-model.md §9; SoftEther `src/Cedar/Bridge.c`, `BridgeUnix.c`).
//!
//! A local bridge is one more port of its hub, with the `CheckMac` loop
//! guard on (SoftEther forces it for local bridges). The device side lives
//! in `rustether-netdev`; this module only moves frames, in batches: after
//! one wake-up it drains up to [`RX_BATCH`] frames from the device into one
//! [`Hub::forward`] (one hub lock), and it sends up to [`TX_BATCH`] queued
//! frames per wake-up (one `sendmmsg` on a raw socket; one `write` each on
//! a TAP device, which takes one frame per call). Frames lost on the way
//! are counted ([`DataDrop::BridgeRx`], [`DataDrop::BridgeTx`]).

use std::sync::Arc;

use bytes::Bytes;
use parking_lot::Mutex;
use rustether_config::LocalBridgeConfig;
use rustether_hub::SessionPolicy;
use rustether_netdev::{NetdevError, RawOptions};
use tokio::sync::{watch, Notify};
use tracing::{info, warn};

use crate::hub::{DataDrop, Hub, PortReceiver, PortStats};
use crate::session::Registry;

/// Largest frame read from a device: GRO/TSO can hand out frames far larger
/// than the MTU; the device layer splits or repairs them.
const RX_BUF: usize = 65_536;

/// Most frames taken from the device per wake-up and switched together.
pub const RX_BATCH: usize = 64;

/// Most queued frames sent to the device per wake-up (one `sendmmsg`).
pub const TX_BATCH: usize = 64;

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
    /// Its port's counters (frames sent into the hub, drops by reason).
    pub stats: Arc<PortStats>,
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

    /// Counters of the raw device now open (none in TAP mode or while the
    /// device is closed).
    pub fn device_stats(&self) -> Option<rustether_netdev::RawStats> {
        match &*self.dev {
            Device::Raw(d) => d.device().map(|d| d.stats()),
            Device::Tap(_) => None,
        }
    }
}

enum Device {
    Raw(rustether_netdev::ResilientDevice),
    Tap(rustether_netdev::TapDevice),
}

impl Device {
    /// A frame already queued, without waiting.
    fn try_recv(&self, buf: &mut [u8]) -> Result<Option<usize>, NetdevError> {
        match self {
            Device::Raw(d) => match d.device() {
                Some(dev) => dev.try_recv(buf).map(|m| m.map(|m| m.len)),
                None => Ok(None),
            },
            Device::Tap(d) => d.try_recv(buf),
        }
    }

    async fn send_batch(&self, frames: &[Bytes]) -> Result<usize, NetdevError> {
        match self {
            Device::Raw(d) => d.send_batch(frames).await,
            Device::Tap(d) => d.send_batch(frames).await,
        }
    }

    async fn recv(&self, buf: &mut [u8]) -> Result<usize, NetdevError> {
        match self {
            Device::Raw(d) => d.recv(buf).await,
            Device::Tap(d) => d.recv(buf).await,
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
    // SoftEther forces CheckMac on local bridges: a MAC seen on the LAN side
    // cannot be stolen by a frame leaking back through the physical network.
    let policy = SessionPolicy {
        check_mac: true,
        monitor: cfg.monitor_mode,
        ..SessionPolicy::default()
    };
    let (rx, stats) = hub.attach(id, policy);
    let bridge = Arc::new(LocalBridge {
        device_name: cfg.device_name.clone(),
        hub: hub.clone(),
        tap: cfg.tap_mode,
        id,
        stats,
        dev: dev.clone(),
        status: Mutex::new(if cfg.tap_mode {
            "Operating".into()
        } else {
            "Opening".into()
        }),
        stop: Notify::new(),
        stopped,
    });
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
    mut to_dev: PortReceiver,
    mut shutdown: watch::Receiver<bool>,
) {
    let tx_dev = dev.clone();
    let tx_bridge = b.clone();
    let sender = tokio::spawn(async move {
        let mut batch: Vec<Bytes> = Vec::with_capacity(TX_BATCH);
        while let Some(f) = to_dev.recv().await {
            batch.push(f);
            while batch.len() < TX_BATCH {
                match to_dev.try_recv() {
                    Some(f) => batch.push(f),
                    None => break,
                }
            }
            let mut i = 0;
            while i < batch.len() {
                match tx_dev.send_batch(&batch[i..]).await {
                    Ok(n) => i += n.max(1),
                    Err(e) => {
                        // Gone: the device is closed and the rest is lost with it.
                        let lost = if e.is_gone() { batch.len() - i } else { 1 };
                        let b = &tx_bridge;
                        b.hub.count_drop(&b.stats, DataDrop::BridgeTx, lost as u64);
                        if !e.is_gone() {
                            warn!(device = %b.device_name, "sending to the device failed: {e}");
                        }
                        i += lost;
                    }
                }
            }
            batch.clear();
        }
    });
    let mut buf = vec![0u8; RX_BUF];
    let mut batch: Vec<Bytes> = Vec::with_capacity(RX_BATCH);
    loop {
        tokio::select! {
            _ = b.stop.notified() => break,
            _ = shutdown.changed() => break,
            r = dev.recv(&mut buf) => match r {
                Ok(n) => {
                    batch.push(Bytes::copy_from_slice(&buf[..n]));
                    while batch.len() < RX_BATCH {
                        match dev.try_recv(&mut buf) {
                            Ok(Some(n)) => batch.push(Bytes::copy_from_slice(&buf[..n])),
                            Ok(None) => break,
                            Err(NetdevError::Truncated { .. }) => {
                                b.hub.count_drop(&b.stats, DataDrop::BridgeRx, 1);
                            }
                            // Device errors surface on the next `recv`.
                            Err(_) => break,
                        }
                    }
                    // Back-pressure as for a session: the device's own
                    // receive buffer holds what arrives meanwhile.
                    b.hub.forward(id, &mut batch).relieve().await;
                }
                Err(e @ NetdevError::Truncated { .. }) => {
                    b.hub.count_drop(&b.stats, DataDrop::BridgeRx, 1);
                    warn!(device = %b.device_name, "local bridge device error: {e}");
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
