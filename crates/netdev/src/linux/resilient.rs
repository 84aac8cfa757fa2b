//! `ResilientDevice`: a raw device that reopens itself when its interface comes back.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::watch;

use crate::error::{NetdevError, Result};
use crate::linux::{raw::RawDevice, sys};
use crate::{DeviceStatus, FrameMeta, RawOptions};

/// SoftEther's `BRIDGE_TRY_SPAN`: a closed local bridge tries to open its device once a
/// second (docs/process-model.md §9.4, verified ≈1.05 s between attempts).
pub const DEFAULT_RETRY_INTERVAL: Duration = Duration::from_secs(1);

/// A local bridge device that survives its interface disappearing.
///
/// It opens interface `name` with [`RawDevice::open`] on first use and again, every
/// `retry` interval, whenever it is not open: the interface did not exist yet, was deleted
/// (detected at once through `ENETDOWN`, or within 0.5 s by the idle check of
/// [`RawDevice::recv_meta`]), or failed. A re-created interface is therefore back in
/// operation within about one retry interval, as SoftEther's bridge session does
/// (docs/process-model.md §9.4: log "has stopped" → state `Error` → reopened within ~1 s).
///
/// The state is observable for the `BridgeList` status and log lines through
/// [`ResilientDevice::status`] and [`ResilientDevice::subscribe`].
///
/// Use one task calling [`ResilientDevice::recv`] (it does the reopening) and any number
/// calling [`ResilientDevice::send`] (which drops frames while the device is closed).
pub struct ResilientDevice {
    name: String,
    opts: RawOptions,
    retry: Duration,
    current: Mutex<Option<Arc<RawDevice>>>,
    open_lock: tokio::sync::Mutex<()>,
    status: watch::Sender<DeviceStatus>,
}

impl std::fmt::Debug for ResilientDevice {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResilientDevice")
            .field("name", &self.name)
            .field("status", &*self.status.borrow())
            .finish_non_exhaustive()
    }
}

impl ResilientDevice {
    /// A device for interface `name`, not opened yet (status [`DeviceStatus::Opening`]).
    ///
    /// Errors: [`NetdevError::NameTooLong`], [`NetdevError::InvalidName`] — the only
    /// errors that retrying cannot cure.
    pub fn new(name: &str, opts: RawOptions) -> Result<ResilientDevice> {
        sys::check_ifname(name)?;
        Ok(ResilientDevice {
            name: name.to_owned(),
            opts,
            retry: DEFAULT_RETRY_INTERVAL,
            current: Mutex::new(None),
            open_lock: tokio::sync::Mutex::new(()),
            status: watch::Sender::new(DeviceStatus::Opening),
        })
    }

    /// Use `retry` instead of [`DEFAULT_RETRY_INTERVAL`] between open attempts.
    pub fn with_retry_interval(mut self, retry: Duration) -> ResilientDevice {
        self.retry = retry;
        self
    }

    /// Interface name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Current state.
    pub fn status(&self) -> DeviceStatus {
        self.status.borrow().clone()
    }

    /// A receiver that sees every state change (for log lines such as SoftEther's "A Local
    /// Bridge connection to physical Ethernet interface ... was started").
    pub fn subscribe(&self) -> watch::Receiver<DeviceStatus> {
        self.status.subscribe()
    }

    /// The open device, if any (e.g. for its MAC address or counters).
    pub fn device(&self) -> Option<Arc<RawDevice>> {
        self.current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Close the device now (restoring what it changed); the next `recv` reopens it.
    pub fn close(&self) {
        let old = self
            .current
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .take();
        drop(old);
    }

    /// The open device, opening it first if needed; waits (retrying every interval) until
    /// it can be opened.
    pub async fn open(&self) -> Arc<RawDevice> {
        loop {
            if let Some(d) = self.device() {
                return d;
            }
            let _guard = self.open_lock.lock().await;
            if let Some(d) = self.device() {
                return d;
            }
            match RawDevice::open(&self.name, self.opts) {
                Ok(d) => {
                    let d = Arc::new(d);
                    *self.current.lock().unwrap_or_else(|p| p.into_inner()) = Some(d.clone());
                    tracing::info!(interface = %self.name, "local bridge device opened");
                    self.status.send_replace(DeviceStatus::Operating);
                    return d;
                }
                Err(e) => {
                    let msg = e.to_string();
                    self.status.send_if_modified(|s| {
                        let new = DeviceStatus::Error(msg.clone());
                        if *s == new {
                            false
                        } else {
                            tracing::warn!(interface = %self.name, error = %msg, "local bridge device cannot be opened; retrying");
                            *s = new;
                            true
                        }
                    });
                    tokio::time::sleep(self.retry).await;
                }
            }
        }
    }

    /// Forget `dev` if it is still the current device.
    fn invalidate(&self, dev: &Arc<RawDevice>, why: &NetdevError) {
        let mut cur = self.current.lock().unwrap_or_else(|p| p.into_inner());
        if cur.as_ref().is_some_and(|c| Arc::ptr_eq(c, dev)) {
            *cur = None;
            drop(cur);
            tracing::warn!(interface = %self.name, error = %why, "local bridge device stopped");
            self.status
                .send_replace(DeviceStatus::Error(why.to_string()));
        }
    }

    /// Receive one frame (see [`RawDevice::recv_meta`]), reopening the device as often as
    /// needed; waits as long as the interface is absent.
    ///
    /// Errors: only per-frame ones, [`NetdevError::Truncated`]; device failures are
    /// handled inside (close, status `Error`, reopen).
    pub async fn recv_meta(&self, buf: &mut [u8]) -> Result<FrameMeta> {
        loop {
            let dev = self.open().await;
            match dev.recv_meta(buf).await {
                Ok(m) => return Ok(m),
                Err(e @ NetdevError::Truncated { .. }) => return Err(e),
                Err(e) => {
                    self.invalidate(&dev, &e);
                    drop(dev);
                }
            }
        }
    }

    /// Receive one frame; see [`ResilientDevice::recv_meta`].
    ///
    /// Errors: [`NetdevError::Truncated`].
    pub async fn recv(&self, buf: &mut [u8]) -> Result<usize> {
        self.recv_meta(buf).await.map(|m| m.len)
    }

    /// Send one frame if the device is open.
    ///
    /// Errors: [`NetdevError::Gone`] while the device is closed or when the interface just
    /// disappeared (the frame is lost, as on an unplugged NIC); others as
    /// [`RawDevice::send`].
    pub async fn send(&self, frame: &[u8]) -> Result<()> {
        let Some(dev) = self.device() else {
            return Err(NetdevError::Gone(self.name.clone()));
        };
        match dev.send(frame).await {
            Err(e @ NetdevError::Gone(_)) => {
                self.invalidate(&dev, &e);
                Err(e)
            }
            r => r,
        }
    }
}

impl ResilientDevice {
    /// Send a batch of frames if the device is open; see [`RawDevice::send_batch`].
    ///
    /// Errors: [`NetdevError::Gone`] while the device is closed (the whole
    /// batch is lost, as on an unplugged NIC; the count is `frames.len()`
    /// then), others as [`RawDevice::send_batch`].
    pub async fn send_batch<F: AsRef<[u8]>>(&self, frames: &[F]) -> Result<usize> {
        let Some(dev) = self.device() else {
            return Err(NetdevError::Gone(self.name.clone()));
        };
        match dev.send_batch(frames).await {
            Err(e @ NetdevError::Gone(_)) => {
                self.invalidate(&dev, &e);
                Err(e)
            }
            r => r,
        }
    }
}

/// Wait until interface `name` exists in the caller's network namespace, checking every
/// `poll`. The building block for callers that manage [`RawDevice`]s themselves: on
/// [`NetdevError::Gone`] drop the device, `wait_for_device`, open again.
///
/// Errors: [`NetdevError::NameTooLong`], [`NetdevError::InvalidName`].
pub async fn wait_for_device(name: &str, poll: Duration) -> Result<()> {
    sys::check_ifname(name)?;
    loop {
        let ctl = sys::control_socket()?;
        match sys::if_index(std::os::fd::AsRawFd::as_raw_fd(&ctl), name) {
            Ok(_) => return Ok(()),
            Err(NetdevError::NoSuchDevice(_)) => {}
            Err(e) => return Err(e),
        }
        drop(ctl);
        tokio::time::sleep(poll).await;
    }
}
