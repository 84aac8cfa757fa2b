//! Rate limiting of failed logins (issue 5 item 4, issue 9 item 3;
//! SoftEther has none): administrator logins (vpncmd, JSON-RPC) and VPN
//! password logins (users, and `administrator` with the hub password) each
//! keep one [`LoginThrottle`].
//!
//! Failures are counted twice: per (source, account) and per source.
//!
//! * Per (source, account) ([`ThrottlePolicy::default`]): the first 3
//!   failures cost nothing; after the 3rd the source must wait 1 s before
//!   its next attempt at that account is even checked, after the 4th 2 s,
//!   then 4 s, 8 s, 16 s and at most 30 s. A success clears only that
//!   account's record for that source.
//! * Per source (password spraying over many accounts): the first 20
//!   failures cost nothing, then the same doubling. A success of account A
//!   takes back only A's own failures from the source's count, so a peer
//!   that knows one password (a tenant with its own hub-admin password)
//!   cannot reset the count of its guesses at another account (the server
//!   administrator) by interleaving successful logins.
//!
//! A record without failures for 15 minutes is forgotten. At most 4096
//! records of each kind are kept: when full, expired records go first, then
//! the one whose last failure is oldest.
//!
//! A source is an IPv4 address or an IPv6 /64 prefix (one host usually owns
//! a whole /64, so per-address limits would be trivial to dodge).
//!
//! The glue calls [`LoginThrottle::check`] before verifying a login (on
//! [`Admission::Throttled`] it answers the login with
//! [`THROTTLED_ERROR`] without checking the password, preferably after
//! sleeping `retry_after`), then [`LoginThrottle::record_failure`] on a
//! wrong password or [`LoginThrottle::record_success`] on success. Time is
//! passed in explicitly (an injected clock), so the logic is deterministic
//! and testable without waiting.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv6Addr};
use std::time::{Duration, Instant};

use rustether_proto::ErrorCode;

/// What a throttled login is answered with: `ERR_AUTH_FAILED` (9), the same
/// as a wrong password, so vpncmd exits instead of prompting.
pub const THROTTLED_ERROR: ErrorCode = ErrorCode::AUTH_FAILED;

/// Longest account name kept in a record (bytes); longer names are cut
/// (a login name is at most 255 bytes in SoftEther, `MAX_USERNAME_LEN`).
pub const MAX_ACCOUNT_KEY: usize = 256;

/// Tunables of [`LoginThrottle`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ThrottlePolicy {
    /// Failures per (source, account) that cost nothing (default 3).
    pub free_failures: u32,
    /// Failures per source, over all accounts, that cost nothing
    /// (default 20).
    pub source_free_failures: u32,
    /// Delay after the first failure beyond the free ones (default 1 s);
    /// doubles with every further failure.
    pub base_delay: Duration,
    /// Upper bound of the delay (default 30 s).
    pub max_delay: Duration,
    /// A record is forgotten this long after its last failure (default
    /// 15 min).
    pub forget_after: Duration,
    /// Most records of each kind kept at once (default 4096).
    pub max_sources: usize,
}

impl Default for ThrottlePolicy {
    fn default() -> Self {
        ThrottlePolicy {
            free_failures: 3,
            source_free_failures: 20,
            base_delay: Duration::from_secs(1),
            max_delay: Duration::from_secs(30),
            forget_after: Duration::from_secs(15 * 60),
            max_sources: 4096,
        }
    }
}

impl ThrottlePolicy {
    /// The wait imposed after `failures` consecutive failures at one
    /// account from one source.
    pub fn delay_after(&self, failures: u32) -> Duration {
        self.delay(failures, self.free_failures)
    }

    /// The wait imposed on a source after `failures` failures over all
    /// accounts.
    pub fn source_delay_after(&self, failures: u32) -> Duration {
        self.delay(failures, self.source_free_failures)
    }

    fn delay(&self, failures: u32, free: u32) -> Duration {
        let free = free.max(1);
        if failures < free {
            return Duration::ZERO;
        }
        let exp = (failures - free).min(31);
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

/// One kind of record (per source or per (source, account)).
#[derive(Clone, Debug)]
struct Table<K> {
    entries: HashMap<K, Entry>,
}

impl<K: std::hash::Hash + Eq + Clone> Table<K> {
    fn new() -> Self {
        Table {
            entries: HashMap::new(),
        }
    }

    fn live(&mut self, key: &K, now: Instant, forget: Duration) -> Option<Entry> {
        let e = self.entries.get(key).copied()?;
        if now.saturating_duration_since(e.last_failure) >= forget {
            self.entries.remove(key);
            return None;
        }
        Some(e)
    }

    fn wait(&mut self, key: &K, now: Instant, forget: Duration) -> Duration {
        self.live(key, now, forget).map_or(Duration::ZERO, |e| {
            e.blocked_until.saturating_duration_since(now)
        })
    }

    fn fail(
        &mut self,
        key: K,
        now: Instant,
        policy: &ThrottlePolicy,
        delay: impl Fn(u32) -> Duration,
    ) -> Duration {
        let previous = self
            .live(&key, now, policy.forget_after)
            .map_or(0, |e| e.failures);
        if previous == 0 && self.entries.len() >= policy.max_sources {
            self.make_room(now, policy);
        }
        let failures = previous.saturating_add(1);
        let d = delay(failures);
        self.entries.insert(
            key,
            Entry {
                failures,
                last_failure: now,
                blocked_until: now + d,
            },
        );
        d
    }

    fn make_room(&mut self, now: Instant, policy: &ThrottlePolicy) {
        let forget = policy.forget_after;
        self.entries
            .retain(|_, e| now.saturating_duration_since(e.last_failure) < forget);
        while self.entries.len() >= policy.max_sources {
            let oldest = self
                .entries
                .iter()
                .min_by_key(|(_, e)| e.last_failure)
                .map(|(k, _)| k.clone());
            match oldest {
                Some(k) => {
                    self.entries.remove(&k);
                }
                None => break,
            }
        }
    }
}

/// The account part of a record key: case-insensitive (SoftEther user and
/// hub names are), at most [`MAX_ACCOUNT_KEY`] bytes.
fn account_key(account: &str) -> String {
    let mut end = account.len().min(MAX_ACCOUNT_KEY);
    while !account.is_char_boundary(end) {
        end -= 1;
    }
    account[..end].to_lowercase()
}

/// The throttle account of an administrator login: `"server"` for the
/// server administrator (`hub` `None`), `"hub:NAME"` for the administrator
/// of hub NAME; the same for vpncmd and JSON-RPC, so that switching
/// protocols does not give a fresh count.
pub fn admin_account(hub: Option<&str>) -> String {
    match hub {
        None => "server".to_owned(),
        Some(h) => format!("hub:{h}"),
    }
}

/// The throttle account of a VPN login: `"vpn:HUB/USER"` (the hub
/// administrator logs in as user `administrator`).
pub fn vpn_account(hub: &str, user: &str) -> String {
    format!("vpn:{hub}/{user}")
}

/// Failed-login records per (source, account) and per source; see the
/// module docs. An account is any text naming what the login is for, e.g.
/// `"server"`, `"hub:NAME"` or `"HUB/user"`; names compare
/// case-insensitively.
#[derive(Clone, Debug)]
pub struct LoginThrottle {
    policy: ThrottlePolicy,
    accounts: Table<(SourceKey, String)>,
    sources: Table<SourceKey>,
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
            accounts: Table::new(),
            sources: Table::new(),
        }
    }

    /// The policy in force.
    pub fn policy(&self) -> &ThrottlePolicy {
        &self.policy
    }

    /// Number of (source, account) records currently kept.
    pub fn len(&self) -> usize {
        self.accounts.entries.len()
    }

    /// Number of per-source records currently kept.
    pub fn sources_len(&self) -> usize {
        self.sources.entries.len()
    }

    /// True if nothing is tracked.
    pub fn is_empty(&self) -> bool {
        self.accounts.entries.is_empty() && self.sources.entries.is_empty()
    }

    /// May `peer` attempt a login at `account` at `now`? Throttled while
    /// either the (source, account) or the source record imposes a wait.
    pub fn check(&mut self, peer: IpAddr, account: &str, now: Instant) -> Admission {
        let src = SourceKey::of(peer);
        let forget = self.policy.forget_after;
        let a = self
            .accounts
            .wait(&(src, account_key(account)), now, forget);
        let s = self.sources.wait(&src, now, forget);
        let retry_after = a.max(s);
        if retry_after.is_zero() {
            Admission::Allowed
        } else {
            Admission::Throttled { retry_after }
        }
    }

    /// Records a failed login of `peer` at `account` at `now`; returns the
    /// wait now imposed on the next attempt at that account from that
    /// source (the longer of the two records' waits).
    pub fn record_failure(&mut self, peer: IpAddr, account: &str, now: Instant) -> Duration {
        let src = SourceKey::of(peer);
        let p = self.policy;
        let a = self
            .accounts
            .fail((src, account_key(account)), now, &p, |n| p.delay_after(n));
        let s = self.sources.fail(src, now, &p, |n| p.source_delay_after(n));
        a.max(s)
    }

    /// Records a successful login of `peer` at `account`: that account's
    /// record for that source is cleared and its failures are taken back
    /// from the source's count. Other accounts' records stay as they are.
    pub fn record_success(&mut self, peer: IpAddr, account: &str) {
        let src = SourceKey::of(peer);
        let Some(own) = self.accounts.entries.remove(&(src, account_key(account))) else {
            return;
        };
        if let Some(s) = self.sources.entries.get_mut(&src) {
            s.failures = s.failures.saturating_sub(own.failures);
            if s.failures == 0 {
                self.sources.entries.remove(&src);
            } else {
                // The wait shrinks with the count, never grows.
                let wait = self.policy.source_delay_after(s.failures);
                s.blocked_until = s.blocked_until.min(s.last_failure + wait);
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

    const SRV: &str = "server";

    #[test]
    fn delays_follow_the_policy() {
        let p = ThrottlePolicy::default();
        let d: Vec<u64> = (1..=10).map(|n| p.delay_after(n).as_secs()).collect();
        assert_eq!(d, [0, 0, 1, 2, 4, 8, 16, 30, 30, 30]);
        assert_eq!(p.delay_after(u32::MAX), Duration::from_secs(30));
        let d: Vec<u64> = (19..=23)
            .map(|n| p.source_delay_after(n).as_secs())
            .collect();
        assert_eq!(d, [0, 1, 2, 4, 8]);
    }

    #[test]
    fn three_free_failures_then_exponential_lockout() {
        let mut t = LoginThrottle::default();
        let a = ip("192.0.2.7");
        let t0 = Instant::now();
        for _ in 0..2 {
            assert_eq!(t.check(a, SRV, t0), Admission::Allowed);
            assert_eq!(t.record_failure(a, SRV, t0), Duration::ZERO);
        }
        assert_eq!(t.record_failure(a, SRV, t0), Duration::from_secs(1));
        assert_eq!(
            t.check(a, SRV, t0 + Duration::from_millis(400)),
            Admission::Throttled {
                retry_after: Duration::from_millis(600)
            }
        );
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(t.check(a, SRV, t1), Admission::Allowed);
        assert_eq!(t.record_failure(a, SRV, t1), Duration::from_secs(2));
        assert!(matches!(
            t.check(a, SRV, t1 + Duration::from_secs(1)),
            Admission::Throttled { .. }
        ));
        // another source is unaffected, and so is another account
        assert_eq!(t.check(ip("192.0.2.8"), SRV, t1), Admission::Allowed);
        assert_eq!(t.check(a, "hub:TENANT", t1), Admission::Allowed);
        // success clears the record
        t.record_success(a, SRV);
        assert_eq!(t.check(a, SRV, t1), Admission::Allowed);
        assert_eq!(t.record_failure(a, SRV, t1), Duration::ZERO);
    }

    #[test]
    fn another_accounts_success_does_not_reset_the_count() {
        // The tenant knows its hub password and guesses the server's,
        // interleaving one good login after each guess.
        let mut t = LoginThrottle::default();
        let a = ip("192.0.2.7");
        let now = Instant::now();
        let mut throttled = 0;
        for _ in 0..10 {
            match t.check(a, SRV, now) {
                Admission::Allowed => {
                    t.record_failure(a, SRV, now);
                }
                Admission::Throttled { .. } => throttled += 1,
            }
            assert_eq!(t.check(a, "hub:Tenant", now), Admission::Allowed);
            t.record_success(a, "HUB:TENANT");
        }
        // 3 guesses checked, then locked out (the clock stands still)
        assert_eq!(throttled, 7);
        assert!(matches!(t.check(a, SRV, now), Admission::Throttled { .. }));
    }

    #[test]
    fn spraying_many_accounts_hits_the_source_limit() {
        let mut t = LoginThrottle::default();
        let a = ip("192.0.2.7");
        let now = Instant::now();
        // two failures per account never reach the per-account limit
        for i in 0..10 {
            for _ in 0..2 {
                assert_eq!(t.check(a, &format!("HUB/u{i}"), now), Admission::Allowed);
                t.record_failure(a, &format!("HUB/u{i}"), now);
            }
        }
        // 20 failures from the source: every account is now throttled
        assert_eq!(
            t.check(a, "HUB/fresh", now),
            Admission::Throttled {
                retry_after: Duration::from_secs(1)
            }
        );
        // another source is not
        assert_eq!(
            t.check(ip("192.0.2.9"), "HUB/fresh", now),
            Admission::Allowed
        );
        // a user who then gets its own password right takes back only its
        // own failures: 18 left, below the source limit
        t.record_success(a, "hub/u0");
        assert_eq!(t.check(a, "HUB/fresh", now), Admission::Allowed);
        assert_eq!(t.sources.entries[&SourceKey::of(a)].failures, 18);
    }

    #[test]
    fn records_are_forgotten_after_quiet_period() {
        let mut t = LoginThrottle::default();
        let a = ip("192.0.2.7");
        let t0 = Instant::now();
        for _ in 0..8 {
            t.record_failure(a, SRV, t0);
        }
        assert!(
            matches!(t.check(a, SRV, t0), Admission::Throttled { retry_after } if retry_after == Duration::from_secs(30))
        );
        let later = t0 + Duration::from_secs(15 * 60);
        assert_eq!(t.check(a, SRV, later), Admission::Allowed);
        assert!(t.is_empty());
        // counting restarts
        assert_eq!(t.record_failure(a, SRV, later), Duration::ZERO);
    }

    #[test]
    fn ipv6_slash64_and_mapped_v4_share_a_record() {
        let mut t = LoginThrottle::default();
        let t0 = Instant::now();
        for i in 0..3 {
            t.record_failure(ip(&format!("2001:db8:1:2::{i}")), SRV, t0);
        }
        assert!(matches!(
            t.check(ip("2001:db8:1:2:ffff::1"), SRV, t0),
            Admission::Throttled { .. }
        ));
        assert_eq!(t.check(ip("2001:db8:1:3::1"), SRV, t0), Admission::Allowed);
        for _ in 0..3 {
            t.record_failure(ip("::ffff:192.0.2.1"), SRV, t0);
        }
        assert!(matches!(
            t.check(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 1)), SRV, t0),
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
            let long = "x".repeat(10_000);
            t.record_failure(a, &long, t0 + Duration::from_millis(i as u64));
            assert!(t.len() <= 16 && t.sources_len() <= 16);
        }
        assert!(t
            .accounts
            .entries
            .keys()
            .all(|(_, k)| k.len() <= MAX_ACCOUNT_KEY));
        // the most recent sources are kept, the oldest evicted
        assert_eq!(t.len(), 16);
        let newest = IpAddr::V4(Ipv4Addr::from(0x0a00_0000 + 999));
        for _ in 0..3 {
            t.record_failure(newest, SRV, t0 + Duration::from_secs(2));
        }
        assert!(matches!(
            t.check(newest, SRV, t0 + Duration::from_secs(2)),
            Admission::Throttled { .. }
        ));
        let oldest = IpAddr::V4(Ipv4Addr::from(0x0a00_0000));
        assert_eq!(t.check(oldest, SRV, t0), Admission::Allowed);
    }
}
