//! The pre-authentication budget (issue 9, item 2): what a peer that has
//! not logged in may hold.
//!
//! * Connections that have not completed login ("unestablished": TLS
//!   handshake, negotiation, the login or admin-login check) are counted
//!   per source (an IPv4 address, or an IPv6 /64, as the login throttle
//!   counts them) and in total. Over `MaxConnectionsPerIP` from one source
//!   (default 256) or `MaxUnestablishedConnections` in total (default
//!   1000) a new connection is closed at once, before its TLS handshake.
//!   SoftEther parses both settings with these defaults but never enforces
//!   them (`src/Cedar/Listener.c`); `DisableDosProtection` turns the limits
//!   off here as its name says.
//! * Established sessions are not counted: many users behind one NAT
//!   address keep working. Their number is left to the policies
//!   (`MultiLogins`, `MaxConnection`) and the hub's `MaxSession`.
//! * The whole handshake, from accept to the welcome (or the admin login
//!   answer), must end within [`HANDSHAKE_DEADLINE`]; each read also has
//!   SoftEther's 15 s `CONNECTING_TIMEOUT`.
//! * The bytes a connection keeps before login are bounded: the HTTP head
//!   at [`rustether_proto::http::MAX_HEAD_BYTES`] as received, each line at
//!   [`rustether_proto::http::MAX_LINE`], a request body before login at
//!   64 KiB (`PackLimits::HTTP_FROM_CLIENT`), plus the TLS buffers.
//!   [`Gate::kept_bytes`] sums them over all unestablished connections.
//!
//! [`AdmissionTable`] is the sans-IO table; [`Gate`] is the shared runtime
//! state (table, counters, the VPN login throttle) and [`PreAuthSlot`] one
//! connection's place in it, given back when it is dropped or established.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rustether_admin::throttle::{LoginThrottle, SourceKey};

/// Time allowed from accept to the welcome or the admin login answer:
/// four times SoftEther's per-step `CONNECTING_TIMEOUT` (15 s), enough for a
/// TLS handshake, the negotiation and the longest login throttle wait
/// (30 s); SoftEther itself has only the per-step timeout.
pub const HANDSHAKE_DEADLINE: Duration = Duration::from_secs(60);

/// Shortest interval between two refusals logged at info level
/// ([`Gate::refusal_log_due`]).
pub const REFUSAL_LOG_INTERVAL: Duration = Duration::from_secs(1);

/// The limits of [`AdmissionTable`], from `ServerConfiguration`
/// (docs/config-format.md).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PreAuthLimits {
    /// `MaxConnectionsPerIP`: unestablished connections per source
    /// (SoftEther default 256; 0 is taken as 1).
    pub per_source: u32,
    /// `MaxUnestablishedConnections`: unestablished connections in total
    /// (SoftEther default 1000; 0 is taken as 1).
    pub total: u32,
    /// `DisableDosProtection`: no limit at all.
    pub disabled: bool,
}

impl Default for PreAuthLimits {
    fn default() -> Self {
        PreAuthLimits {
            per_source: 256,
            total: 1000,
            disabled: false,
        }
    }
}

impl PreAuthLimits {
    /// The limits set in `s`.
    pub fn from_settings(s: &rustether_config::model::ServerSettings) -> PreAuthLimits {
        PreAuthLimits {
            per_source: s.max_connections_per_ip,
            total: s.max_unestablished_connections,
            disabled: s.disable_dos_protection,
        }
    }
}

/// Why a connection was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// Its source already has `limit` unestablished connections.
    PerSource {
        /// `MaxConnectionsPerIP`.
        limit: u32,
    },
    /// The server already has `limit` unestablished connections.
    Total {
        /// `MaxUnestablishedConnections`.
        limit: u32,
    },
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Refusal::PerSource { limit } => write!(
                f,
                "{limit} unestablished connections from this source (MaxConnectionsPerIP)"
            ),
            Refusal::Total { limit } => write!(
                f,
                "{limit} unestablished connections in total (MaxUnestablishedConnections)"
            ),
        }
    }
}

/// Unestablished connections per source and in total (sans-IO).
#[derive(Debug, Default)]
pub struct AdmissionTable {
    per_source: HashMap<SourceKey, u32>,
    total: u32,
}

impl AdmissionTable {
    /// Admits a new connection from `ip` under `limits` (counting it) or
    /// says why not (not counted).
    pub fn admit(&mut self, ip: IpAddr, limits: PreAuthLimits) -> Result<(), Refusal> {
        let key = SourceKey::of(ip);
        let from_source = self.per_source.get(&key).copied().unwrap_or(0);
        if !limits.disabled {
            let total = limits.total.max(1);
            if self.total >= total {
                return Err(Refusal::Total { limit: total });
            }
            let per = limits.per_source.max(1);
            if from_source >= per {
                return Err(Refusal::PerSource { limit: per });
            }
        }
        self.per_source.insert(key, from_source + 1);
        self.total += 1;
        Ok(())
    }

    /// Forgets one admitted connection from `ip` (established or closed).
    pub fn release(&mut self, ip: IpAddr) {
        let key = SourceKey::of(ip);
        if let Some(n) = self.per_source.get_mut(&key) {
            *n -= 1;
            if *n == 0 {
                self.per_source.remove(&key);
            }
            self.total = self.total.saturating_sub(1);
        }
    }

    /// Unestablished connections in total.
    pub fn total(&self) -> u32 {
        self.total
    }

    /// Unestablished connections from the source of `ip`.
    pub fn from_source(&self, ip: IpAddr) -> u32 {
        self.per_source
            .get(&SourceKey::of(ip))
            .copied()
            .unwrap_or(0)
    }
}

/// The pre-authentication state shared by all connections of a worker.
#[derive(Debug, Default)]
pub struct Gate {
    table: Mutex<AdmissionTable>,
    kept: AtomicUsize,
    refused: AtomicU64,
    /// Failed VPN logins (users, and `administrator` with the hub
    /// password), per (source, account) and per source.
    pub vpn_throttle: Mutex<LoginThrottle>,
    vpn_throttled: AtomicU64,
    last_refusal_log: Mutex<Option<std::time::Instant>>,
}

impl Gate {
    /// Admits a new connection from `ip` or refuses it (counted in
    /// [`Gate::refused`]).
    pub fn admit(
        self: &Arc<Self>,
        ip: IpAddr,
        limits: PreAuthLimits,
    ) -> Result<PreAuthSlot, Refusal> {
        match self.table.lock().admit(ip, limits) {
            Ok(()) => Ok(PreAuthSlot {
                gate: self.clone(),
                ip,
                kept: 0,
                released: false,
            }),
            Err(r) => {
                self.refused.fetch_add(1, Ordering::Relaxed);
                Err(r)
            }
        }
    }

    /// Whether a refusal at `now` should be logged at info level: at most
    /// one line per [`REFUSAL_LOG_INTERVAL`], so that a flood cannot flood
    /// the log (the others go to debug; the counters cover them all).
    pub fn refusal_log_due(&self, now: std::time::Instant) -> bool {
        let mut last = self.last_refusal_log.lock();
        match *last {
            Some(t) if now.saturating_duration_since(t) < REFUSAL_LOG_INTERVAL => false,
            _ => {
                *last = Some(now);
                true
            }
        }
    }

    /// Connections refused by the limits so far.
    pub fn refused(&self) -> u64 {
        self.refused.load(Ordering::Relaxed)
    }

    /// Unestablished connections now.
    pub fn unestablished(&self) -> u32 {
        self.table.lock().total()
    }

    /// Bytes kept now by unestablished connections (HTTP head and read
    /// buffer), as reported by [`PreAuthSlot::set_kept`].
    pub fn kept_bytes(&self) -> usize {
        self.kept.load(Ordering::Relaxed)
    }

    /// Counts one VPN login refused by the throttle.
    pub fn count_vpn_throttled(&self) -> u64 {
        self.vpn_throttled.fetch_add(1, Ordering::Relaxed) + 1
    }

    /// VPN logins refused by the throttle so far.
    pub fn vpn_throttled(&self) -> u64 {
        self.vpn_throttled.load(Ordering::Relaxed)
    }
}

/// One unestablished connection's place in the [`Gate`]; given back on
/// [`PreAuthSlot::establish`] or drop.
#[derive(Debug)]
pub struct PreAuthSlot {
    gate: Arc<Gate>,
    ip: IpAddr,
    kept: usize,
    released: bool,
}

impl PreAuthSlot {
    /// Reports the bytes this connection keeps now.
    pub fn set_kept(&mut self, bytes: usize) {
        if self.released {
            return;
        }
        if bytes >= self.kept {
            self.gate
                .kept
                .fetch_add(bytes - self.kept, Ordering::Relaxed);
        } else {
            self.gate
                .kept
                .fetch_sub(self.kept - bytes, Ordering::Relaxed);
        }
        self.kept = bytes;
    }

    /// The connection completed login: it no longer counts.
    pub fn establish(&mut self) {
        if !self.released {
            self.set_kept(0);
            self.gate.table.lock().release(self.ip);
            self.released = true;
        }
    }
}

impl Drop for PreAuthSlot {
    fn drop(&mut self) {
        self.establish();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    const LIMITS: PreAuthLimits = PreAuthLimits {
        per_source: 3,
        total: 5,
        disabled: false,
    };

    #[test]
    fn per_source_and_total_limits() {
        let mut t = AdmissionTable::default();
        for _ in 0..3 {
            t.admit(ip("192.0.2.1"), LIMITS).unwrap();
        }
        assert_eq!(
            t.admit(ip("192.0.2.1"), LIMITS),
            Err(Refusal::PerSource { limit: 3 })
        );
        // another source still gets in, until the total is reached
        t.admit(ip("192.0.2.2"), LIMITS).unwrap();
        t.admit(ip("192.0.2.3"), LIMITS).unwrap();
        assert_eq!(
            t.admit(ip("192.0.2.4"), LIMITS),
            Err(Refusal::Total { limit: 5 })
        );
        assert_eq!(t.total(), 5);
        t.release(ip("192.0.2.1"));
        assert_eq!(t.from_source(ip("192.0.2.1")), 2);
        t.admit(ip("192.0.2.4"), LIMITS).unwrap();
        // releasing an unknown source changes nothing
        t.release(ip("198.51.100.1"));
        assert_eq!(t.total(), 5);
    }

    #[test]
    fn ipv6_counts_per_slash64() {
        let mut t = AdmissionTable::default();
        for i in 0..3 {
            t.admit(ip(&format!("2001:db8:0:1::{i}")), LIMITS).unwrap();
        }
        assert!(t.admit(ip("2001:db8:0:1:ffff::9"), LIMITS).is_err());
        t.admit(ip("2001:db8:0:2::1"), LIMITS).unwrap();
    }

    #[test]
    fn disable_dos_protection_lifts_the_limits() {
        let mut t = AdmissionTable::default();
        let off = PreAuthLimits {
            disabled: true,
            ..LIMITS
        };
        for _ in 0..50 {
            t.admit(ip("192.0.2.1"), off).unwrap();
        }
        assert_eq!(t.total(), 50);
    }

    #[test]
    fn slots_give_back_their_place_and_bytes() {
        let gate = Arc::new(Gate::default());
        let mut a = gate.admit(ip("192.0.2.1"), LIMITS).unwrap();
        let mut b = gate.admit(ip("192.0.2.1"), LIMITS).unwrap();
        a.set_kept(100);
        b.set_kept(4000);
        b.set_kept(50);
        assert_eq!(gate.kept_bytes(), 150);
        assert_eq!(gate.unestablished(), 2);
        a.establish();
        assert_eq!(gate.kept_bytes(), 50);
        assert_eq!(gate.unestablished(), 1);
        a.set_kept(999);
        assert_eq!(gate.kept_bytes(), 50, "an established slot keeps nothing");
        drop(a);
        assert_eq!(gate.unestablished(), 1);
        drop(b);
        assert_eq!((gate.unestablished(), gate.kept_bytes()), (0, 0));
        let _c = gate.admit(ip("192.0.2.1"), LIMITS).unwrap();
        let _d = gate.admit(ip("192.0.2.1"), LIMITS).unwrap();
        let _e = gate.admit(ip("192.0.2.1"), LIMITS).unwrap();
        assert!(gate.admit(ip("192.0.2.1"), LIMITS).is_err());
        assert_eq!(gate.refused(), 1);
    }

    #[test]
    fn refusals_are_logged_at_most_once_per_interval() {
        let gate = Gate::default();
        let t0 = std::time::Instant::now();
        assert!(gate.refusal_log_due(t0));
        assert!(!gate.refusal_log_due(t0 + Duration::from_millis(999)));
        assert!(gate.refusal_log_due(t0 + REFUSAL_LOG_INTERVAL));
    }
}
