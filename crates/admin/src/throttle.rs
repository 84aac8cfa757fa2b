//! Per-source rate limiting of failed administrator logins (issue 5 item 4;
//! SoftEther has none).
//!
//! Policy ([`ThrottlePolicy::default`]): the first 3 failures from a source
//! cost nothing; after the 3rd failure the source must wait 1 s before its
//! next attempt is even checked, after the 4th 2 s, then 4 s, 8 s, 16 s and
//! at most 30 s. A success clears the record; a record without failures
//! for 15 minutes is forgotten. At most 4096 sources are tracked: when full,
//! expired records go first, then the one whose last failure is oldest.
//!
//! A source is an IPv4 address or an IPv6 /64 prefix (one host usually owns
//! a whole /64, so per-address limits would be trivial to dodge).
//!
//! The glue calls [`LoginThrottle::check`] before verifying a login (on
//! [`Admission::Throttled`] it answers the login with
//! [`THROTTLED_ERROR`] without checking the password, preferably after
//! sleeping `retry_after`), then [`LoginThrottle::record_failure`] on a
//! wrong password or [`LoginThrottle::record_success`] on success. Time is
//! passed in explicitly, so the logic is deterministic and testable.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use rustether_proto::ErrorCode;

/// What a throttled login is answered with: `ERR_AUTH_FAILED` (9), the same
/// as a wrong password, so vpncmd exits instead of prompting.
pub const THROTTLED_ERROR: ErrorCode = ErrorCode::AUTH_FAILED;

/// Tunables of [`LoginThrottle`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures that cost nothing (default 3).
    pub free_failures: u32,
    /// Delay after the first failure beyond the free ones (default 1 s);
    /// doubles with every further failure.
    pub base_delay: Duration,
    /// Upper bound of the delay (default 30 s).
    pub max_delay: Duration,
    /// A record is forgotten this long after its last failure (default
    /// 15 min).
    pub forget_after: Duration,
    /// Most sources tracked at once (default 4096).
    pub max_sources: usize,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            free_failures: 3,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            forget_after: Duration::from_secs(15 * 60),
            max_sources: 4096,
        }
    }
}

impl ThrottlePolicy {
    /// The wait imposed after `failures` consecutive failures.
    pub fn delay_after(&self, failures: u32) -> Duration {
        if failures < self.free_failures.max(1) {
            return Duration::ZERO;
        }
        let exp = (failures - self.free_failures.max(1)).min(31);
        self.base_delay
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

/// The decision for a login attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Check the password.
    Allowed,
    /// Refuse without checking; the source may try again after
    /// `retry_after`.
    Throttled {
        /// Remaining wait.
        retry_after: Duration,
    },
}

/// The rate-limiting key of a peer address.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum SourceKey {
    /// An IPv4 address (also for IPv4-mapped IPv6).
    V4([u8; 4]),
    /// The /64 prefix of an IPv6 address.
    V6Prefix([u8; 8]),
}

impl SourceKey {
    /// The key of `ip`.
    pub fn of(ip: IpAddr) -> SourceKey {
        match ip {
            IpAddr::V4(v4) => SourceKey::V4(v4.octets()),
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => SourceKey::V4(v4.octets()),
                None => {
                    let o = Ipv6Addr::octets(&v6);
                    let mut p = [0u8; 8];
                    p.copy_from_slice(&o[..8]);
                    SourceKey::V6Prefix(p)
                }
            },
        }
    }
}

#[derive(Clone, Copy, Debug)]
struct Entry {
    failures: u32,
    last_failure: Instant,
    blocked_until: Instant,
}

/// Failed-login records per source; see the module docs.
#[derive(Clone, Debug)]
pub struct LoginThrottle {
    policy: ThrottlePolicy,
    entries: HashMap<SourceKey, Entry>,
}

impl Default for LoginThrottle {
    fn default() -> Self {
        LoginThrottle::new(ThrottlePolicy::default())
    }
}

impl LoginThrottle {
    /// An empty throttle with `policy` (`max_sources` at least 1).
    pub fn new(policy: ThrottlePolicy) -> LoginThrottle {
        LoginThrottle {
            policy: ThrottlePolicy {
                max_sources: policy.max_sources.max(1),
                ..policy
            },
            entries: HashMap::new(),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &ThrottlePolicy {
        &self.policy
    }

    /// Number of sources currently tracked.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// True if no source is tracked.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    fn expired(&self, e: &Entry, now: Instant) -> bool {
        now.saturating_duration_since(e.last_failure) >= self.policy.forget_after
    }

    /// May `peer` attempt a login at `now`?
    pub fn check(&mut self, peer: IpAddr, now: Instant) -> Admission {
        let key = SourceKey::of(peer);
        let Some(e) = self.entries.get(&key).copied() else {
            return Admission::Allowed;
        };
        if self.expired(&e, now) {
            self.entries.remove(&key);
            return Admission::Allowed;
        }
        if now < e.blocked_until {
            Admission::Throttled {
                retry_after: e.blocked_until - now,
            }
        } else {
            Admission::Allowed
        }
    }

    /// Records a failed login of `peer` at `now`; returns the wait now
    /// imposed on that source.
    pub fn record_failure(&mut self, peer: IpAddr, now: Instant) -> Duration {
        let key = SourceKey::of(peer);
        let previous = match self.entries.get(&key) {
            Some(e) if !self.expired(e, now) => e.failures,
            _ => 0,
        };
        if !self.entries.contains_key(&key) && self.entries.len() >= self.policy.max_sources {
            self.make_room(now);
        }
        let failures = previous.saturating_add(1);
        let delay = self.policy.delay_after(failures);
        self.entries.insert(
            key,
            Entry {
                failures,
                last_failure: now,
                blocked_until: now + delay,
            },
        );
        delay
    }

    /// Records a successful login of `peer`: its record is cleared.
    pub fn record_success(&mut self, peer: IpAddr) {
        self.entries.remove(&SourceKey::of(peer));
    }

    fn make_room(&mut self, now: Instant) {
        let forget = self.policy.forget_after;
        self.entries
            .retain(|_, e| now.saturating_duration_since(e.last_failure) < forget);
        while self.entries.len() >= self.policy.max_sources {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_failure)
                .map(|(k, _)| *k);
            match oldest {
                Some(k) => {
                    self.entries.remove(&k);
                }
                None => break,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn delays_follow_the_policy() {
        let p = ThrottlePolicy::default();
        let d: Vec<u64> = (1..=10).map(|n| p.delay_after(n).as_secs()).collect();
        assert_eq!(d, [0, 0, 1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(p.delay_after(u32::MAX), Duration::from_secs(30));
    }

    #[test]
    fn three_free_failures_then_exponential_lockout() {
        let mut t = LoginThrottle::default();
        let a = ip("192.0.2.7");
        let t0 = Instant::now();
        for _ in 0..2 {
            assert_eq!(t.check(a, t0), Admission::Allowed);
            assert_eq!(t.record_failure(a, t0), Duration::ZERO);
        }
        assert_eq!(t.record_failure(a, t0), Duration::from_secs(1));
        assert_eq!(
            t.check(a, t0 + Duration::from_millis(400)),
            Admission::Throttled {
                retry_after: Duration::from_millis(600)
            }
        );
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(t.check(a, t1), Admission::Allowed);
        assert_eq!(t.record_failure(a, t1), Duration::from_secs(2));
        assert!(matches!(
            t.check(a, t1 + Duration::from_secs(1)),
            Admission::Throttled { .. }
        ));
        // another source is unaffected
        assert_eq!(t.check(ip("192.0.2.8"), t1), Admission::Allowed);
        // success clears the record
        t.record_success(a);
        assert_eq!(t.check(a, t1), Admission::Allowed);
        assert_eq!(t.record_failure(a, t1), Duration::ZERO);
    }

    #[test]
    fn records_are_forgotten_after_quiet_period() {
        let mut t = LoginThrottle::default();
        let a = ip("192.0.2.7");
        let t0 = Instant::now();
        for _ in 0..8 {
            t.record_failure(a, t0);
        }
        assert!(
            matches!(t.check(a, t0), Admission::Throttled { retry_after } if retry_after == Duration::from_secs(30))
        );
        let later = t0 + Duration::from_secs(15 * 60);
        assert_eq!(t.check(a, later), Admission::Allowed);
        assert!(t.is_empty());
        // counting restarts
        assert_eq!(t.record_failure(a, later), Duration::ZERO);
    }

    #[test]
    fn ipv6_slash64_and_mapped_v4_share_a_record() {
        let mut t = LoginThrottle::default();
        let t0 = Instant::now();
        for i in 0..3 {
            t.record_failure(ip(&format!("2001:db8:1:2::{i}")), t0);
        }
        assert!(matches!(
            t.check(ip("2001:db8:1:2:ffff::1"), t0),
            Admission::Throttled { .. }
        ));
        assert_eq!(t.check(ip("2001:db8:1:3::1"), t0), Admission::Allowed);
        for _ in 0..3 {
            t.record_failure(ip("::ffff:192.0.2.1"), t0);
        }
        assert!(matches!(
            t.check(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), t0),
            Admission::Throttled { .. }
        ));
    }

    #[test]
    fn memory_is_bounded() {
        let mut t = LoginThrottle::new(ThrottlePolicy {
            max_sources: 16,
            ..ThrottlePolicy::default()
        });
        let t0 = Instant::now();
        for i in 0..1000u32 {
            let a = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + i));
            t.record_failure(a, t0 + Duration::from_millis(i as u64));
            assert!(t.len() <= 16);
        }
        // the most recent sources are kept, the oldest evicted
        assert_eq!(t.len(), 16);
        let newest = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + 999));
        for _ in 0..2 {
            t.record_failure(newest, t0 + Duration::from_secs(2));
        }
        assert!(matches!(
            t.check(newest, t0 + Duration::from_secs(2)),
            Admission::Throttled { .. }
        ));
        let oldest = IpAddr::V4(Ipv4Addr::from(0x0a00_0000));
        assert_eq!(t.check(oldest, t0), Admission::Allowed);
    }
}
