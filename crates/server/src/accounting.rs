//! Login statistics and traffic counters of users, groups, hubs and the
//! server, kept as SoftEther keeps them (docs/administration.md, "Login
//! statistics and traffic"):
//!
//! * at a login: the user's `LastLoginTime`, the hub's `LastLoginTime` and
//!   `LastCommTime` (`ServerAccept`, src/Cedar/Protocol.c);
//! * 30 s after a login, if the session still lives: `NumLogin` of the
//!   user and of the hub (`SessionMain`, src/Cedar/Session.c, against
//!   counting refused or dropped attempts);
//! * the sessions' frame counters: into the user's and its group's
//!   `Traffic` (the client's point of view, `IncrementUserTraffic`) and
//!   into the hub's `Traffic` and the server's `ServerTraffic` (the hub's
//!   point of view: sent and received swapped, `AddTrafficForSession`).
//!
//! Nothing here writes the configuration: the deltas wait in [`Pending`]
//! and are folded into it ([`fold`]) by the next save — a configuration
//! change, the periodic save every `AutoSaveConfigSpan` seconds, the save
//! at shutdown — as SoftEther writes its in-memory counters only when it
//! saves `vpn_server.config`. Administration answers add the pending
//! deltas to the saved values, so they are always current.

use std::collections::HashMap;

use parking_lot::Mutex;
use rustether_config::model::{add_traffic, TrafficCounters};
use rustether_config::ServerConfig;

use crate::hub::{hub_key, PortStats};

/// A login is counted in `NumLogin` once its session has lived this long
/// (SoftEther's `NUM_LOGIN_INCREMENT_INTERVAL`, src/Cedar/Session.h).
pub const NUM_LOGIN_DELAY_MS: u64 = 30_000;

/// Statistics of one user not yet folded into the configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct UserDelta {
    /// Logins to add to `NumLogin`.
    pub num_login: u32,
    /// The latest login (SoftEther time), 0 = none.
    pub last_login: u64,
    /// Traffic to add, the client's point of view.
    pub traffic: TrafficCounters,
}

/// Statistics of one hub not yet folded into the configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HubDelta {
    /// Logins to add to `NumLogin`.
    pub num_login: u32,
    /// The latest login (SoftEther time), 0 = none; also `LastCommTime`.
    pub last_login: u64,
    /// Traffic to add, the hub's point of view.
    pub traffic: TrafficCounters,
    /// By lower-case user name (user names are case-insensitive).
    pub users: HashMap<String, UserDelta>,
}

/// Everything not yet folded into the configuration.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Pending {
    /// `ServerTraffic` to add, the hub's point of view.
    pub server: TrafficCounters,
    /// By hub key ([`hub_key`]).
    pub hubs: HashMap<String, HubDelta>,
}

impl Pending {
    /// Whether there is nothing to fold.
    pub fn is_empty(&self) -> bool {
        self.server == [0; 8] && self.hubs.is_empty()
    }

    fn hub(&mut self, hub: &str) -> &mut HubDelta {
        self.hubs.entry(hub_key(hub)).or_default()
    }

    /// Adds `other` (a taken [`Pending`] whose save failed) back.
    fn merge(&mut self, other: Pending) {
        add(&mut self.server, &other.server);
        for (k, h) in other.hubs {
            let mine = self.hubs.entry(k).or_default();
            mine.num_login = mine.num_login.wrapping_add(h.num_login);
            mine.last_login = mine.last_login.max(h.last_login);
            add(&mut mine.traffic, &h.traffic);
            for (u, d) in h.users {
                let m = mine.users.entry(u).or_default();
                m.num_login = m.num_login.wrapping_add(d.num_login);
                m.last_login = m.last_login.max(d.last_login);
                add(&mut m.traffic, &d.traffic);
            }
        }
    }
}

/// What a session has already reported (kept in the session).
#[derive(Debug, Default)]
pub struct SessionMark {
    reported: TrafficCounters,
    login_counted: bool,
}

/// What [`Accounting`] needs of a session (`crate::session` builds it).
#[derive(Debug)]
pub struct SessionView<'a> {
    /// The session's hub.
    pub hub: &'a str,
    /// The user name it logged in with.
    pub user: &'a str,
    /// A VPN login (SoftEther protocol or OpenVPN) of a user, rather than
    /// one of the server's own sessions (cascade, local bridge, SecureNAT,
    /// Virtual Layer 3 Switch), which SoftEther does not count as logins.
    pub login: bool,
    /// Login time, ms since 1970.
    pub created_unix_ms: u64,
    /// The session's hub port counters.
    pub stats: &'a PortStats,
    /// What it reported already.
    pub mark: &'a Mutex<SessionMark>,
}

/// The statistics not yet saved, shared by all sessions (one per server,
/// in [`crate::session::Registry`]).
#[derive(Debug, Default)]
pub struct Accounting {
    pending: Mutex<Pending>,
}

/// A session's counters from its hub port's, the client's point of view
/// as SoftEther's session `Traffic` (`Send` = frames the client sent into
/// the hub, `Recv` = frames the hub delivered to it).
pub fn session_counters(st: &PortStats) -> TrafficCounters {
    use std::sync::atomic::Ordering::Relaxed;
    let (sb, sbc) = (
        st.sent_bcast_bytes.load(Relaxed),
        st.sent_bcast_frames.load(Relaxed),
    );
    let (qb, qbc) = (
        st.queued_bcast_bytes.load(Relaxed),
        st.queued_bcast_frames.load(Relaxed),
    );
    [
        qb,
        qbc,
        st.queued_bytes.load(Relaxed).saturating_sub(qb),
        st.queued.load(Relaxed).saturating_sub(qbc),
        sb,
        sbc,
        st.sent_bytes.load(Relaxed).saturating_sub(sb),
        st.sent_frames.load(Relaxed).saturating_sub(sbc),
    ]
}

fn add(a: &mut TrafficCounters, b: &TrafficCounters) {
    for (x, y) in a.iter_mut().zip(b) {
        *x = x.wrapping_add(*y);
    }
}

/// Client's point of view → hub's (receive and send swapped).
fn swapped(t: &TrafficCounters) -> TrafficCounters {
    let mut o = [0; 8];
    o[..4].copy_from_slice(&t[4..]);
    o[4..].copy_from_slice(&t[..4]);
    o
}

impl Accounting {
    /// A session was registered: a login stamps the user's and the hub's
    /// last login time (`now`: SoftEther time).
    pub fn registered(&self, s: &SessionView<'_>, now: u64) {
        if !s.login {
            return;
        }
        let mut p = self.pending.lock();
        let h = p.hub(s.hub);
        h.last_login = h.last_login.max(now);
        let u = h.users.entry(s.user.to_lowercase()).or_default();
        u.last_login = u.last_login.max(now);
    }

    /// Moves what `s` counted since its last report into the pending
    /// statistics, and counts its login once it has lived
    /// [`NUM_LOGIN_DELAY_MS`] (`unix_now`: ms since 1970). Called for every
    /// live session before a report or a save, and when it ends.
    pub fn collect(&self, s: &SessionView<'_>, unix_now: u64) {
        let now = session_counters(s.stats);
        let (delta, count_login) = {
            let mut m = s.mark.lock();
            let mut d = [0; 8];
            for (i, x) in d.iter_mut().enumerate() {
                *x = now[i].wrapping_sub(m.reported[i]);
            }
            m.reported = now;
            let due = s.login
                && !m.login_counted
                && unix_now.saturating_sub(s.created_unix_ms) >= NUM_LOGIN_DELAY_MS;
            if due {
                m.login_counted = true;
            }
            (d, due)
        };
        if delta == [0; 8] && !count_login {
            return;
        }
        let mut p = self.pending.lock();
        let hub_side = swapped(&delta);
        add(&mut p.server, &hub_side);
        let h = p.hub(s.hub);
        add(&mut h.traffic, &hub_side);
        if count_login {
            h.num_login = h.num_login.wrapping_add(1);
        }
        if s.login {
            let u = h.users.entry(s.user.to_lowercase()).or_default();
            add(&mut u.traffic, &delta);
            if count_login {
                u.num_login = u.num_login.wrapping_add(1);
            }
        }
    }

    /// A copy of the pending statistics (reports).
    pub fn peek(&self) -> Pending {
        self.pending.lock().clone()
    }

    /// Takes the pending statistics for a save; give them back with
    /// [`Accounting::restore`] if the save fails.
    pub fn take(&self) -> Pending {
        std::mem::take(&mut *self.pending.lock())
    }

    /// Gives back statistics [`Accounting::take`] took, after a failed save.
    pub fn restore(&self, p: Pending) {
        self.pending.lock().merge(p);
    }
}

/// Adds `p` to the counters of `cfg` (`SiWriteTraffic`, `SiWriteUserCfg`,
/// `SiWriteHubCfg` write what this makes): hubs' and users' `NumLogin`,
/// `LastLoginTime` (the later one), hubs' `LastCommTime`, the `Traffic`
/// folders of hubs, users and the users' groups, and `ServerTraffic`.
/// Deltas of hubs or users that no longer exist are dropped, as SoftEther
/// finds no object to add them to.
pub fn fold(cfg: &mut ServerConfig, p: &Pending) {
    add_traffic(&mut cfg.server.raw, "ServerTraffic", &p.server);
    for h in cfg.hubs.iter_mut() {
        let Some(d) = p.hubs.get(&hub_key(&h.name)) else {
            continue;
        };
        h.num_login = h.num_login.wrapping_add(d.num_login);
        h.last_login_time = h.last_login_time.max(d.last_login);
        h.last_comm_time = h.last_comm_time.max(d.last_login);
        add_traffic(&mut h.raw, "Traffic", &d.traffic);
        for (name, ud) in &d.users {
            let Some(u) = h.users.iter_mut().find(|u| u.name.to_lowercase() == *name) else {
                continue;
            };
            u.num_login = u.num_login.wrapping_add(ud.num_login);
            u.last_login_time = u.last_login_time.max(ud.last_login);
            add_traffic(&mut u.raw, "Traffic", &ud.traffic);
            if let Some(g) = u.group.clone() {
                if let Some(g) = h
                    .groups
                    .iter_mut()
                    .find(|x| x.name.eq_ignore_ascii_case(&g))
                {
                    add_traffic(&mut g.raw, "Traffic", &ud.traffic);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustether_config::model::read_traffic;
    use rustether_config::{Edition, GroupConfig, UserAuth, UserConfig};

    #[test]
    fn fold_adds_to_hub_user_group_and_server() {
        let mut cfg = ServerConfig::initial(
            Edition::Server,
            1000,
            &mut rustether_config::model::system_rng(),
        );
        let h = &mut cfg.hubs[0];
        let mut u = UserConfig::new("Alice", UserAuth::Anonymous, 5);
        u.group = Some("staff".into());
        h.users.push(u);
        h.groups.push(GroupConfig::new("STAFF"));
        let hub = h.name.clone();
        let mut p = Pending {
            server: [1, 2, 3, 4, 5, 6, 7, 8],
            ..Pending::default()
        };
        let hd = p.hub(&hub);
        hd.num_login = 2;
        hd.last_login = 9_000_000_000_000;
        hd.traffic = [8, 7, 6, 5, 4, 3, 2, 1];
        hd.users.insert(
            "alice".into(),
            UserDelta {
                num_login: 2,
                last_login: 77,
                traffic: [1, 1, 1, 1, 2, 2, 2, 2],
            },
        );
        hd.users.insert("ghost".into(), UserDelta::default());
        fold(&mut cfg, &p);
        fold(&mut cfg, &p);
        assert_eq!(
            read_traffic(&cfg.server.raw, "ServerTraffic"),
            [2, 4, 6, 8, 10, 12, 14, 16]
        );
        let h = &cfg.hubs[0];
        assert_eq!(h.num_login, 4);
        assert_eq!(
            (h.last_login_time, h.last_comm_time),
            (9_000_000_000_000, 9_000_000_000_000)
        );
        assert_eq!(
            read_traffic(&h.raw, "Traffic"),
            [16, 14, 12, 10, 8, 6, 4, 2]
        );
        let u = &h.users[0];
        assert_eq!((u.num_login, u.last_login_time), (4, 77));
        assert_eq!(read_traffic(&u.raw, "Traffic"), [2, 2, 2, 2, 4, 4, 4, 4]);
        assert_eq!(
            read_traffic(&h.groups[0].raw, "Traffic"),
            [2, 2, 2, 2, 4, 4, 4, 4]
        );
        // the folded values are written and read back through the file
        let back = ServerConfig::from_root(&cfg.to_root()).unwrap();
        assert_eq!(read_traffic(&back.hubs[0].users[0].raw, "Traffic")[4], 4);
        assert_eq!(back.hubs[0].users[0].num_login, 4);
    }

    #[test]
    fn a_failed_save_gives_the_deltas_back() {
        let a = Accounting::default();
        a.pending.lock().hub("H").num_login = 1;
        let p = a.take();
        assert!(a.peek().is_empty());
        a.pending.lock().hub("h").num_login = 2;
        a.restore(p);
        assert_eq!(a.peek().hubs["H"].num_login, 3);
    }

    #[test]
    fn a_login_counts_once_after_30_s_and_traffic_only_its_delta() {
        use std::sync::atomic::Ordering::Relaxed;
        let a = Accounting::default();
        let stats = PortStats::default();
        let mark = Mutex::new(SessionMark::default());
        let v = SessionView {
            hub: "Hub",
            user: "Bob",
            login: true,
            created_unix_ms: 1_000_000,
            stats: &stats,
            mark: &mark,
        };
        a.registered(&v, 42);
        stats.sent_frames.store(3, Relaxed);
        stats.sent_bytes.store(300, Relaxed);
        stats.sent_bcast_frames.store(1, Relaxed);
        stats.sent_bcast_bytes.store(60, Relaxed);
        a.collect(&v, 1_000_000 + NUM_LOGIN_DELAY_MS - 1);
        let p = a.peek();
        assert_eq!(p.hubs["HUB"].num_login, 0);
        assert_eq!(p.hubs["HUB"].users["bob"].last_login, 42);
        assert_eq!(
            p.hubs["HUB"].users["bob"].traffic,
            [0, 0, 0, 0, 60, 1, 240, 2]
        );
        assert_eq!(p.hubs["HUB"].traffic, [60, 1, 240, 2, 0, 0, 0, 0]);
        assert_eq!(p.server, [60, 1, 240, 2, 0, 0, 0, 0]);
        stats.queued.store(1, Relaxed);
        stats.queued_bytes.store(100, Relaxed);
        a.collect(&v, 1_000_000 + NUM_LOGIN_DELAY_MS);
        a.collect(&v, 1_000_000 + 2 * NUM_LOGIN_DELAY_MS);
        let p = a.peek();
        assert_eq!(
            (
                p.hubs["HUB"].num_login,
                p.hubs["HUB"].users["bob"].num_login
            ),
            (1, 1)
        );
        assert_eq!(
            p.hubs["HUB"].users["bob"].traffic,
            [0, 0, 100, 1, 60, 1, 240, 2]
        );
        // the server's own sessions are neither logins nor users
        let mark2 = Mutex::new(SessionMark::default());
        let cascade = SessionView {
            login: false,
            user: "Cascade",
            mark: &mark2,
            ..v
        };
        a.collect(&cascade, u64::MAX);
        let p = a.peek();
        assert!(!p.hubs["HUB"].users.contains_key("cascade"));
        assert_eq!(p.hubs["HUB"].num_login, 1);
        assert_eq!(p.hubs["HUB"].traffic[0], 120);
    }

    #[test]
    fn hub_side_is_the_client_side_swapped() {
        let t = [1, 2, 3, 4, 5, 6, 7, 8];
        assert_eq!(swapped(&t), [5, 6, 7, 8, 1, 2, 3, 4]);
    }
}
