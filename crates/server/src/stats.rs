//! Server-wide counters that are not a hub's or a session's: TLS handshakes
//! and VPN logins. Read by the `/metrics` endpoint (docs/metrics.md);
//! per-hub and per-port traffic and drops live with the hub
//! ([`crate::hub::HubStats`], [`crate::hub::PortStats`]).

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};

use parking_lot::Mutex;
use rustether_proto::softether::error::ErrorCode;

/// Counters of one server process, since it started.
#[derive(Debug, Default)]
pub struct ServerStats {
    /// TLS handshakes that completed.
    pub tls_handshakes_ok: AtomicU64,
    /// TLS handshakes that failed (bad hello, alert, …).
    pub tls_handshakes_failed: AtomicU64,
    /// TLS handshakes that did not complete before the handshake deadline.
    pub tls_handshakes_timeout: AtomicU64,
    /// VPN logins that created a session.
    pub logins_ok: AtomicU64,
    /// Refused VPN logins by SoftEther error name (`ERR_AUTH_FAILED`, …);
    /// the names are a fixed set, so the map stays small.
    login_failures: Mutex<BTreeMap<&'static str, u64>>,
}

impl ServerStats {
    /// Counts a refused login with `code`.
    pub fn login_failed(&self, code: ErrorCode) {
        *self.login_failures.lock().entry(code.name()).or_insert(0) += 1;
    }

    /// Counts a login that created a session.
    pub fn login_ok(&self) {
        self.logins_ok.fetch_add(1, Ordering::Relaxed);
    }

    /// Refused logins by error name, sorted by name.
    pub fn login_failures(&self) -> Vec<(&'static str, u64)> {
        self.login_failures
            .lock()
            .iter()
            .map(|(k, v)| (*k, *v))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn login_failures_are_counted_by_name() {
        let s = ServerStats::default();
        s.login_failed(ErrorCode::AUTH_FAILED);
        s.login_failed(ErrorCode::AUTH_FAILED);
        s.login_failed(ErrorCode::HUB_NOT_FOUND);
        s.login_ok();
        let f = s.login_failures();
        assert_eq!(f.len(), 2);
        assert!(f.contains(&(ErrorCode::AUTH_FAILED.name(), 2)));
        assert!(f.contains(&(ErrorCode::HUB_NOT_FOUND.name(), 1)));
        assert_eq!(s.logins_ok.load(Ordering::Relaxed), 1);
    }
}
