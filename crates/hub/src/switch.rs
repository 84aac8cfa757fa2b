//! The layer-2 switch of one virtual hub: MAC learning and the forwarding
//! decision, after SoftEther `StorePacket` (src/Cedar/Hub.c) as described in
//! docs/process-model.md §12.1–12.3.

use std::collections::HashMap;
use std::fmt;

use crate::access::{AccessIdentity, AccessList, PacketInfo};
use crate::classify::{classify, ipv4_source, ipv6_source, FrameClass};
use crate::frame::{ETHERTYPE_VLAN, HEADER_LEN, VLAN_HEADER_LEN};
use crate::hasher::SeededState;
use crate::MacAddr;

/// Identifies a session (VPN client, cascade, local bridge, SecureNAT,
/// monitor, ...) within the runtime; the switch only compares these ids.
pub type SessionId = u64;

/// `MAC_TABLE_EXPIRE_TIME`: an entry not refreshed for this long (ms) is purged (src/Cedar/Cedar.h).
pub const MAC_TABLE_EXPIRE_TIME_MS: u64 = 600_000;
/// `MAC_TABLE_EXCLUSIVE_TIME`: a MAC refreshed this recently (ms) cannot move to a `check_mac` session (src/Cedar/Cedar.h).
pub const MAC_TABLE_EXCLUSIVE_TIME_MS: u64 = 13_000;
/// `MAX_MAC_TABLES`: hub-wide MAC table limit (src/Cedar/Cedar.h).
pub const MAX_MAC_TABLES: usize = 65_536;
/// `MAC_MIN_LIMIT_COUNT`: a per-session MAC limit is never below this (src/Cedar/Cedar.h).
pub const MAC_MIN_LIMIT_COUNT: u32 = 3;
/// `IP_MIN_LIMIT_COUNT`: a per-session IPv4 address limit is never below this (src/Cedar/Cedar.h).
pub const IP_MIN_LIMIT_COUNT: u32 = 4;
/// `IP_MIN_LIMIT_COUNT_V6`: a per-session IPv6 address limit is never below this (src/Cedar/Cedar.h).
pub const IP_MIN_LIMIT_COUNT_V6: u32 = 5;
/// `IP_TABLE_EXCLUSIVE_TIME`: an IPv4 address refreshed this recently (ms) cannot move to a `check_ip` session (src/Cedar/Cedar.h).
pub const IP_TABLE_EXCLUSIVE_TIME_MS: u64 = 13_000;
/// `IP_TABLE_EXPIRE_TIME`: an IP table entry not refreshed for this long (ms) is purged (src/Cedar/Cedar.h).
pub const IP_TABLE_EXPIRE_TIME_MS: u64 = 60_000;
/// `IP_TABLE_EXPIRE_TIME_DHCP`: an IP table entry registered from a DHCP
/// ACK and not refreshed for this long (ms) is purged (src/Cedar/Cedar.h).
pub const IP_TABLE_EXPIRE_TIME_DHCP_MS: u64 = 300_000;
/// `MAX_IP_TABLES`: hub-wide IP table limit; beyond it the oldest entry is replaced (src/Cedar/Cedar.h).
pub const MAX_IP_TABLES: usize = 65_536;
/// `OLD_MAC_ADDRESS_ENTRY_FLUSH_INTERVAL`: the lazy purge runs at most once per this many ms (src/Cedar/Hub.h).
pub const MAC_FLUSH_INTERVAL_MS: u64 = 1_000;

/// The part of a session's policy the switch enforces.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SessionPolicy {
    /// Policy `CheckMac`: a MAC address refreshed by another session within
    /// [`SwitchConfig::mac_exclusive_ms`] may not move to this session (the
    /// frame is dropped). The runtime must force it on for local-bridge
    /// sessions unless the hub option `DisableCheckMacOnLocalBridge` is set
    /// — it is the loop guard against frames leaking back through the LAN.
    pub check_mac: bool,
    /// Monitor-mode session: its frames are never forwarded nor learned, it
    /// is not a flood target, and the runtime gives it a copy of every frame
    /// (see [`Switch::monitors`]).
    pub monitor: bool,
    /// Policy `MaxMac`: most MAC addresses this session may register; 0 = unlimited.
    pub max_mac: u32,
    /// Policy `NoBridge`: limits the session to [`MAC_MIN_LIMIT_COUNT`] MACs.
    pub no_bridge: bool,
    /// Policy `NoRouting`: limits the session to [`IP_MIN_LIMIT_COUNT`]
    /// IPv4 addresses.
    pub no_routing: bool,
    /// Policy `MaxIP`: most IPv4 addresses this session may use; 0 = unlimited
    /// (never below [`IP_MIN_LIMIT_COUNT`]).
    pub max_ip: u32,
    /// Policy `CheckIP`: an IPv4 address refreshed by another session within
    /// [`IP_TABLE_EXCLUSIVE_TIME_MS`] may not be used by this session.
    pub check_ip: bool,
    /// Policy `NoRoutingV6`: limits the session to [`IP_MIN_LIMIT_COUNT_V6`]
    /// IPv6 addresses.
    pub no_routing_v6: bool,
    /// Policy `MaxIPv6`: most IPv6 addresses; 0 = unlimited (never below
    /// [`IP_MIN_LIMIT_COUNT_V6`]).
    pub max_ipv6: u32,
    /// Policy `CheckIPv6`: as `check_ip`, for IPv6 source addresses.
    pub check_ipv6: bool,
    /// Policy `DHCPForce`: the session may use only IPv4 addresses a DHCP
    /// server on the hub assigned to it (an ACK seen by the hub registered
    /// the address to its MAC's session); others are dropped as
    /// [`DropReason::DhcpForce`] (SoftEther `StorePacket`, `LH_DHCP_FORCE`).
    pub dhcp_force: bool,
    /// Policy `PrivacyFilter`: no frame passes between two sessions that
    /// both have it (SoftEther's hub defaults `DropBroadcastsInPrivacyFilterMode`
    /// and `DropArpInPrivacyFilterMode`: broadcasts and ARP included).
    pub privacy_filter: bool,
    /// Frame classes ([`crate::classify`]) this session may not send
    /// (`StorePacketFilterByPolicy`): the frame is dropped as
    /// [`DropReason::PolicyFilter`].
    pub ingress_deny: FrameClass,
    /// Frame classes this session may not receive (the per-destination
    /// checks of `StorePacket`).
    pub egress_deny: FrameClass,
    /// Policy `VLanId` (1–4095; 0 = none): the runtime tags every frame of
    /// this session with this 802.1Q id before switching and delivers to it
    /// only frames tagged with it, tag removed (SoftEther `VLanInsertTag`,
    /// `VLanRemoveTag`). The switch itself does not use it.
    pub vlan_id: u16,
    /// Policy `NoIPv6DefaultRouterInRA` (or `…WhenIPv6` for a session
    /// connected over IPv6): the runtime sets the router lifetime of router
    /// advertisements delivered to this session to 0
    /// (`DeleteIPv6DefaultRouterInRA`). The switch itself does not use it.
    pub no_default_router_in_ra: bool,
    /// The session's user and group, for access list entries with user
    /// names ([`crate::access`]).
    pub access_identity: AccessIdentity,
}

impl SessionPolicy {
    /// The per-session MAC limit, `None` when unlimited.
    ///
    /// As in `StorePacket`: when `max_mac` ≠ 0 or `no_bridge`, the limit is
    /// `min(max_mac if ≠ 0, 3 if no_bridge)`, then raised to at least 3.
    pub fn mac_limit(&self) -> Option<u32> {
        if self.max_mac == 0 && !self.no_bridge {
            return None;
        }
        let mut limit = u32::MAX;
        if self.no_bridge {
            limit = limit.min(MAC_MIN_LIMIT_COUNT);
        }
        if self.max_mac != 0 {
            limit = limit.min(self.max_mac);
        }
        Some(limit.max(MAC_MIN_LIMIT_COUNT))
    }

    /// The per-session IPv4 address limit, `None` when unlimited: as in
    /// `StorePacket`, `min(max_ip if ≠ 0, 4 if no_routing)`, raised to at
    /// least 4.
    pub fn ip_limit(&self) -> Option<u32> {
        if self.max_ip == 0 && !self.no_routing {
            return None;
        }
        let mut limit = u32::MAX;
        if self.no_routing {
            limit = limit.min(IP_MIN_LIMIT_COUNT);
        }
        if self.max_ip != 0 {
            limit = limit.min(self.max_ip);
        }
        Some(limit.max(IP_MIN_LIMIT_COUNT))
    }

    /// The per-session IPv6 address limit, `None` when unlimited:
    /// `min(max_ipv6 if ≠ 0, 5 if no_routing_v6)`, raised to at least 5.
    pub fn ip6_limit(&self) -> Option<u32> {
        if self.max_ipv6 == 0 && !self.no_routing_v6 {
            return None;
        }
        let mut limit = u32::MAX;
        if self.no_routing_v6 {
            limit = limit.min(IP_MIN_LIMIT_COUNT_V6);
        }
        if self.max_ipv6 != 0 {
            limit = limit.min(self.max_ipv6);
        }
        Some(limit.max(IP_MIN_LIMIT_COUNT_V6))
    }
}

/// Where a frame goes, as decided by [`Switch::route`].
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Route {
    /// To exactly this session (never the source; the session exists).
    Unicast(SessionId),
    /// To every session of [`Switch::flood_targets`] (never the source).
    Flood,
    /// Nowhere.
    Drop(DropReason),
}

/// Why [`Switch::route`] dropped a frame.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Shorter than the 14-byte Ethernet header, or tagged `0x8100` with
    /// the 4-byte tag cut off (SoftEther's parser rejects both).
    TooShort,
    /// Source MAC all-zero, all-FF, equal to the destination (SoftEther
    /// `InvalidSourcePacket`), equal to the hub's own MAC (§12.1), or with
    /// the I/G bit set. The last is stricter than SoftEther, which would
    /// learn a multicast source: no station sends from a group address, and
    /// learning one would only pollute the table.
    BadSourceMac,
    /// The frame came back from the session it is addressed to: its
    /// destination MAC was learned on the source session.
    SameSession,
    /// Frames from monitor-mode sessions are never forwarded.
    MonitorSource,
    /// The source MAC was refreshed by another session within
    /// `mac_exclusive_ms` and this session has `check_mac` (loop guard).
    MacMoveDenied,
    /// The session reached its `MaxMac`/`NoBridge` limit (SoftEther logs
    /// `LH_MAC_LIMIT` / `LH_BRIDGE_LIMIT`).
    MacLimit,
    /// The hub-wide MAC table is full (`MAX_MAC_TABLES`).
    TableFull,
    /// The source session was never added (or already removed).
    UnknownSession,
    /// A policy filter of the source (ingress) or of the destination
    /// (egress) refused the frame's class (`NoServer`, `DHCPFilter`, …).
    PolicyFilter,
    /// Both sessions have `PrivacyFilter`.
    PrivacyFilter,
    /// The source IPv4 address is in use by another session and this one
    /// has `CheckIP` (SoftEther `LH_IP_CONFLICT`).
    IpConflict,
    /// The session reached its `MaxIP`/`NoRouting` IPv4 address limit
    /// (`LH_IP_LIMIT` / `LH_ROUTING_LIMIT`).
    IpLimit,
    /// A discard entry of the hub's access list matched
    /// ([`crate::access`]).
    AccessList,
    /// The session has `DHCPForce` and the source IPv4 address was not
    /// assigned to it by DHCP (`LH_DHCP_FORCE`).
    DhcpForce,
}

impl DropReason {
    /// Every reason, in the order of [`DropReason::index`].
    pub const ALL: [DropReason; 14] = [
        DropReason::TooShort,
        DropReason::BadSourceMac,
        DropReason::SameSession,
        DropReason::MonitorSource,
        DropReason::MacMoveDenied,
        DropReason::MacLimit,
        DropReason::TableFull,
        DropReason::UnknownSession,
        DropReason::PolicyFilter,
        DropReason::PrivacyFilter,
        DropReason::IpConflict,
        DropReason::IpLimit,
        DropReason::AccessList,
        DropReason::DhcpForce,
    ];

    /// Position in [`DropReason::ALL`] (0..14), e.g. for counter arrays.
    pub fn index(self) -> usize {
        self as usize
    }

    /// A short snake_case name for logs and metrics.
    pub fn as_str(self) -> &'static str {
        match self {
            DropReason::TooShort => "too_short",
            DropReason::BadSourceMac => "bad_source_mac",
            DropReason::SameSession => "same_session",
            DropReason::MonitorSource => "monitor_source",
            DropReason::MacMoveDenied => "mac_move_denied",
            DropReason::MacLimit => "mac_limit",
            DropReason::TableFull => "table_full",
            DropReason::UnknownSession => "unknown_session",
            DropReason::PolicyFilter => "policy_filter",
            DropReason::PrivacyFilter => "privacy_filter",
            DropReason::IpConflict => "ip_conflict",
            DropReason::IpLimit => "ip_limit",
            DropReason::AccessList => "access_list",
            DropReason::DhcpForce => "dhcp_force",
        }
    }
}

impl fmt::Display for DropReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Hub-wide switching parameters. `Default` gives SoftEther's values.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SwitchConfig {
    /// Entries not refreshed for this many ms are purged (600 000).
    pub mac_expire_ms: u64,
    /// Loop-guard window for `check_mac` sessions, in ms (13 000).
    pub mac_exclusive_ms: u64,
    /// Most entries in the MAC table (65 536); learning beyond drops the frame.
    pub max_entries: usize,
    /// Key the MAC table by (MAC, 802.1Q VLAN id); `false` (hub option
    /// `NoManageVlanId`) keys every entry with VLAN 0.
    pub manage_vlan: bool,
}

impl Default for SwitchConfig {
    fn default() -> Self {
        SwitchConfig {
            mac_expire_ms: MAC_TABLE_EXPIRE_TIME_MS,
            mac_exclusive_ms: MAC_TABLE_EXCLUSIVE_TIME_MS,
            max_entries: MAX_MAC_TABLES,
            manage_vlan: true,
        }
    }
}

/// One IP table entry as shown by the admin `IpTable` listing.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct IpEntryView {
    /// The address (IPv4 entries as IPv4).
    pub ip: std::net::IpAddr,
    /// Session the address is registered to.
    pub session: SessionId,
    /// When the entry was created or moved to `session` (caller's ms clock).
    pub created_ms: u64,
    /// When a frame from this address last refreshed the entry (caller's ms clock).
    pub updated_ms: u64,
}

/// One MAC table entry as shown by the admin `MacTable` listing.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct MacEntryView {
    /// The station's address.
    pub mac: MacAddr,
    /// 802.1Q VLAN id the address was seen with (0 = untagged or not managed).
    pub vlan: u16,
    /// Session the address is registered to.
    pub session: SessionId,
    /// When the entry was created or last moved to `session` (caller's ms clock).
    pub created_ms: u64,
    /// When a frame from this address last refreshed the entry (caller's ms clock).
    pub updated_ms: u64,
}

/// Counters since the switch was created.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SwitchStats {
    /// Frames routed [`Route::Unicast`].
    pub unicast: u64,
    /// Frames routed [`Route::Flood`].
    pub flooded: u64,
    /// New MAC table entries.
    pub learned: u64,
    /// Entries moved to another session (station move).
    pub moved: u64,
    /// Entries purged by aging.
    pub expired: u64,
    dropped: [u64; DropReason::ALL.len()],
}

impl SwitchStats {
    /// Frames dropped for `reason`.
    pub fn dropped(&self, reason: DropReason) -> u64 {
        self.dropped[reason.index()]
    }

    /// Frames dropped for any reason.
    pub fn dropped_total(&self) -> u64 {
        self.dropped.iter().sum()
    }
}

#[derive(Clone, Debug)]
struct Entry {
    session: SessionId,
    created_ms: u64,
    updated_ms: u64,
}

#[derive(Clone, Debug)]
struct IpEntry {
    session: SessionId,
    created_ms: u64,
    updated_ms: u64,
    v6: bool,
    /// Registered from a DHCP ACK (SoftEther `DhcpAllocated`).
    dhcp: bool,
}

/// A flood-domain member with the filters a flood checks, so that flooding
/// needs no look-up per target.
#[derive(Clone, Debug)]
struct Member {
    id: SessionId,
    egress_deny: FrameClass,
    privacy: bool,
    ident: AccessIdentity,
}

#[derive(Clone, Debug)]
struct SessionState {
    policy: SessionPolicy,
    mac_limit: Option<u32>,
    ip_limit: Option<u32>,
    ip6_limit: Option<u32>,
    /// MAC entries currently registered to this session.
    mac_count: usize,
    /// IPv4 table entries currently registered to this session.
    ip_count: usize,
    /// IPv6 table entries currently registered to this session.
    ip6_count: usize,
    /// Index in `Switch::members` (or `Switch::monitors` for monitors).
    slot: usize,
}

/// Table key: MAC in bits 0..48, VLAN id in bits 48..60.
#[inline]
fn key(mac48: u64, vlan: u16) -> u64 {
    mac48 | (u64::from(vlan) << 48)
}

#[inline]
fn mac48(b: &[u8]) -> u64 {
    u64::from_be_bytes([0, 0, b[0], b[1], b[2], b[3], b[4], b[5]])
}

/// The switching state of one virtual hub: its sessions and MAC table.
///
/// Plain data: no I/O, no clock, no locks. The runtime owns one `Switch`
/// per hub (hubs share nothing), passes a monotonic millisecond clock into
/// [`route`](Switch::route) and [`expire`](Switch::expire), and performs the
/// delivery the returned [`Route`] asks for.
///
/// Per frame, `route` does three hash look-ups (source session, source MAC,
/// destination MAC) and allocates nothing, except when a newly learned MAC
/// makes the table grow (amortised).
#[derive(Clone, Debug)]
pub struct Switch {
    cfg: SwitchConfig,
    hub_mac: Option<u64>,
    macs: HashMap<u64, Entry, SeededState>,
    sessions: HashMap<SessionId, SessionState, SeededState>,
    /// IP address → session (SoftEther's hub `IpTable`); IPv4 addresses
    /// as IPv4-mapped IPv6 (`::ffff:a.b.c.d`), which are never taken from
    /// IPv6 packets.
    ips: HashMap<u128, IpEntry, SeededState>,
    /// Non-monitor sessions, the flood domain.
    members: Vec<Member>,
    monitors: Vec<SessionId>,
    last_purge_ms: Option<u64>,
    last_ip_purge_ms: Option<u64>,
    /// Class of the frame last routed [`Route::Flood`] and whether its
    /// source has `PrivacyFilter`: [`Switch::flood_targets`] applies the
    /// destinations' filters with them.
    flood_class: FrameClass,
    flood_privacy: bool,
    /// Sessions with receiving-side filters or `PrivacyFilter`: while 0,
    /// unicast needs no look-up of the destination's policy.
    receive_filtered: usize,
    /// The hub's access list; `None` when empty (no per-frame cost).
    access: Option<AccessList>,
    /// Set when the frame last routed [`Route::Flood`] still needs the
    /// per-destination access list check: its source and headers.
    flood_acl: Option<(AccessIdentity, PacketInfo)>,
    stats: SwitchStats,
}

fn receive_filtered(p: &SessionPolicy) -> bool {
    p.egress_deny != 0 || p.privacy_filter
}

impl Switch {
    /// An empty switch.
    pub fn new(cfg: SwitchConfig) -> Switch {
        Switch {
            cfg,
            hub_mac: None,
            macs: HashMap::with_hasher(SeededState::random()),
            sessions: HashMap::with_hasher(SeededState::random()),
            ips: HashMap::with_hasher(SeededState::random()),
            members: Vec::new(),
            monitors: Vec::new(),
            last_purge_ms: None,
            last_ip_purge_ms: None,
            flood_class: 0,
            flood_privacy: false,
            receive_filtered: 0,
            access: None,
            flood_acl: None,
            stats: SwitchStats::default(),
        }
    }

    /// The configuration given to [`Switch::new`].
    pub fn config(&self) -> &SwitchConfig {
        &self.cfg
    }

    /// Sets the hub's own MAC (`00-AE-…`, §12.1); frames arriving from a
    /// session with it as source are dropped as [`DropReason::BadSourceMac`].
    pub fn set_hub_mac(&mut self, mac: Option<MacAddr>) {
        self.hub_mac = mac.map(|m| m.to_u64());
    }

    /// Replaces the hub's access list (vpncmd `AccessAdd` etc.); applied
    /// from the next frame on.
    pub fn set_access_list(&mut self, list: AccessList) {
        self.access = (!list.is_empty()).then_some(list);
        self.flood_acl = None;
    }

    /// The hub MAC set by [`Switch::set_hub_mac`].
    pub fn hub_mac(&self) -> Option<MacAddr> {
        self.hub_mac.map(MacAddr::from_u64)
    }

    /// Adds a session. Adding an id that is already present replaces its
    /// policy and keeps its MAC entries, except that a session turned into
    /// a monitor loses them (monitors own no MACs).
    pub fn add_session(&mut self, id: SessionId, policy: SessionPolicy) {
        let mac_limit = policy.mac_limit();
        let ip_limit = policy.ip_limit();
        let ip6_limit = policy.ip6_limit();
        let monitor = policy.monitor;
        let member = Member {
            id,
            egress_deny: policy.egress_deny,
            privacy: policy.privacy_filter,
            ident: policy.access_identity,
        };
        if receive_filtered(&policy) {
            self.receive_filtered += 1;
        }
        if let Some(st) = self.sessions.get_mut(&id) {
            if receive_filtered(&st.policy) {
                self.receive_filtered -= 1;
            }
            let was_monitor = st.policy.monitor;
            st.policy = policy;
            st.mac_limit = mac_limit;
            st.ip_limit = ip_limit;
            st.ip6_limit = ip6_limit;
            let slot = st.slot;
            if was_monitor != monitor {
                self.detach(was_monitor, slot);
                self.attach(member, monitor);
                if monitor {
                    self.remove_entries_of(id);
                }
            } else if !monitor {
                self.members[slot] = member;
            }
            return;
        }
        let slot = if monitor {
            self.monitors.push(id);
            self.monitors.len() - 1
        } else {
            self.members.push(member);
            self.members.len() - 1
        };
        self.sessions.insert(
            id,
            SessionState {
                policy,
                mac_limit,
                ip_limit,
                ip6_limit,
                mac_count: 0,
                ip_count: 0,
                ip6_count: 0,
                slot,
            },
        );
    }

    /// Removes a session and every MAC entry registered to it (§12.2: "all
    /// entries of a session are removed when the session ends"). Unknown
    /// ids are ignored.
    pub fn remove_session(&mut self, id: SessionId) {
        if let Some(st) = self.sessions.remove(&id) {
            if receive_filtered(&st.policy) {
                self.receive_filtered -= 1;
            }
            self.detach(st.policy.monitor, st.slot);
            if st.mac_count > 0 {
                self.macs.retain(|_, e| e.session != id);
            }
            if st.ip_count > 0 || st.ip6_count > 0 {
                self.ips.retain(|_, e| e.session != id);
            }
        }
    }

    /// Removes every MAC and IP table entry registered to session `id`
    /// but keeps the session: frames to its addresses flood until some
    /// session sends from them again. Used while a session has lost its
    /// connections, so that a client that logs in anew is reached at once
    /// (ours: SoftEther keeps the entries until the old session times out,
    /// about 20 s without traffic to that client). Unknown ids are ignored.
    pub fn forget_addresses(&mut self, id: SessionId) {
        if let Some(st) = self.sessions.get_mut(&id) {
            if st.mac_count > 0 {
                st.mac_count = 0;
                self.macs.retain(|_, e| e.session != id);
            }
            if st.ip_count > 0 || st.ip6_count > 0 {
                st.ip_count = 0;
                st.ip6_count = 0;
                self.ips.retain(|_, e| e.session != id);
            }
        }
    }

    /// Whether `id` was added and not removed.
    pub fn contains_session(&self, id: SessionId) -> bool {
        self.sessions.contains_key(&id)
    }

    /// The policy of session `id`.
    pub fn policy(&self, id: SessionId) -> Option<&SessionPolicy> {
        self.sessions.get(&id).map(|s| &s.policy)
    }

    /// Number of MAC entries registered to session `id`.
    pub fn session_mac_count(&self, id: SessionId) -> Option<usize> {
        self.sessions.get(&id).map(|s| s.mac_count)
    }

    /// Learns the source MAC and decides where the frame goes. `now_ms` is
    /// a monotonic clock in ms (any origin; compared only with itself).
    ///
    /// Order of checks, as in SoftEther `HubPaPutPacket`/`StorePacket`:
    /// 1. shorter than 14 bytes, or a truncated 802.1Q tag → `TooShort`;
    /// 2. source session unknown → `UnknownSession`;
    /// 3. bad source MAC (see [`DropReason::BadSourceMac`]) → `BadSourceMac`;
    /// 4. source session is a monitor → `MonitorSource` (nothing learned);
    /// 5. learning of (source MAC, VLAN id):
    ///    * known on this session: refresh;
    ///    * known on another session: move it here (created = updated =
    ///      now), unless this session has `check_mac` and the entry was
    ///      refreshed within `mac_exclusive_ms` → `MacMoveDenied`. Like
    ///      SoftEther, a move does not check the per-session limit;
    ///    * unknown: lazy purge of aged entries (at most once per
    ///      [`MAC_FLUSH_INTERVAL_MS`]), then the per-session limit →
    ///      `MacLimit`, then the table limit → `TableFull`, then insert;
    /// 6. destination with the I/G bit set → `Flood`; destination not in
    ///    the table for this VLAN → `Flood`; learned on the source session →
    ///    `SameSession`; else `Unicast(owner)`.
    ///
    /// The VLAN id is the low 12 bits of the TCI of a `0x8100` tag when
    /// [`SwitchConfig::manage_vlan`], else 0. A destination entry is used
    /// even if aged but not yet purged, as SoftEther does.
    pub fn route(&mut self, src: SessionId, frame: &[u8], now_ms: u64) -> Route {
        if frame.len() < HEADER_LEN {
            return self.drop(DropReason::TooShort);
        }
        let tagged = u16::from_be_bytes([frame[12], frame[13]]) == ETHERTYPE_VLAN;
        if tagged && frame.len() < VLAN_HEADER_LEN {
            return self.drop(DropReason::TooShort);
        }
        let vlan = if tagged && self.cfg.manage_vlan {
            u16::from_be_bytes([frame[14], frame[15]]) & 0x0fff
        } else {
            0
        };

        let Some(src_state) = self.sessions.get(&src) else {
            return self.drop(DropReason::UnknownSession);
        };
        let dst48 = mac48(&frame[0..6]);
        let src48 = mac48(&frame[6..12]);
        if src48 == 0 || frame[6] & 1 != 0 || src48 == dst48 || self.hub_mac == Some(src48) {
            return self.drop(DropReason::BadSourceMac);
        }
        if src_state.policy.monitor {
            return self.drop(DropReason::MonitorSource);
        }
        let check_mac = src_state.policy.check_mac;
        let privacy = src_state.policy.privacy_filter;
        let class = classify(frame);
        if class & src_state.policy.ingress_deny != 0 {
            return self.drop(DropReason::PolicyFilter);
        }
        // Access list (`ApplyAccessListToStoredPacket`), after the policy
        // filters and before learning, as in `StorePacketFilter`.
        let mut acl_pending = None;
        if let Some(acl) = &self.access {
            let ident = src_state.policy.access_identity;
            let pkt = PacketInfo::parse(frame);
            match acl.ingress(&ident, &pkt) {
                Some(false) => return self.drop(DropReason::AccessList),
                Some(true) => {}
                None if acl.has_forward_rules() => acl_pending = Some((ident, pkt)),
                None => {}
            }
        }

        if let Err(reason) = self.learn(src, check_mac, key(src48, vlan), now_ms) {
            return self.drop(reason);
        }
        if class & crate::classify::CLASS_DHCP4_REPLY != 0 {
            if let Some((ip, chaddr)) = crate::classify::dhcp4_ack(frame) {
                self.note_dhcp_ack(ip, chaddr, now_ms);
            }
        }
        if let Some(ip) = ipv4_source(frame, class) {
            let mapped = 0xffff_0000_0000 | u128::from(ip);
            if let Err(reason) = self.learn_ip(src, mapped, false, now_ms) {
                return self.drop(reason);
            }
        } else if let Some(ip) = ipv6_source(frame, class) {
            if let Err(reason) = self.learn_ip(src, ip, true, now_ms) {
                return self.drop(reason);
            }
        }

        let flood = |sw: &mut Switch| {
            sw.flood_class = class;
            sw.flood_privacy = privacy;
            sw.flood_acl = acl_pending;
            sw.stats.flooded += 1;
            Route::Flood
        };
        if frame[0] & 1 != 0 {
            return flood(self);
        }
        match self.macs.get(&key(dst48, vlan)) {
            None => flood(self),
            Some(e) if e.session == src => self.drop(DropReason::SameSession),
            Some(e) => {
                let dst = e.session;
                let d = if self.receive_filtered > 0 {
                    self.sessions.get(&dst)
                } else {
                    None
                };
                if let Some(d) = d {
                    if d.policy.egress_deny & class != 0 {
                        return self.drop(DropReason::PolicyFilter);
                    }
                    if privacy && d.policy.privacy_filter {
                        return self.drop(DropReason::PrivacyFilter);
                    }
                }
                if let (Some((ident, pkt)), Some(acl)) = (&acl_pending, &self.access) {
                    let to = self.sessions.get(&dst).map(|d| d.policy.access_identity);
                    if !acl.forward(ident, &to.unwrap_or_default(), pkt) {
                        return self.drop(DropReason::AccessList);
                    }
                }
                self.stats.unicast += 1;
                Route::Unicast(dst)
            }
        }
    }

    /// The IP table part of [`Switch::route`] (`StorePacket`): refresh,
    /// move (refused to a `check_ip`/`check_ipv6` session while the owner
    /// refreshed it within [`IP_TABLE_EXCLUSIVE_TIME_MS`]), or register
    /// within the session's IPv4/IPv6 limit; a full table loses its oldest
    /// entry.
    fn learn_ip(&mut self, src: SessionId, ip: u128, v6: bool, now: u64) -> Result<(), DropReason> {
        let Some(st) = self.sessions.get(&src) else {
            return Err(DropReason::UnknownSession);
        };
        let force = !v6 && st.policy.dhcp_force;
        let (check, limit) = if v6 {
            (st.policy.check_ipv6, st.ip6_limit)
        } else {
            (st.policy.check_ip || force, st.ip_limit)
        };
        fn count(s: &mut SessionState, v6: bool) -> &mut usize {
            if v6 {
                &mut s.ip6_count
            } else {
                &mut s.ip_count
            }
        }
        if let Some(e) = self.ips.get_mut(&ip) {
            if e.session == src {
                e.updated_ms = now;
                return Ok(());
            }
            if check && e.updated_ms.saturating_add(IP_TABLE_EXCLUSIVE_TIME_MS) >= now {
                return Err(DropReason::IpConflict);
            }
            if force && !e.dhcp {
                return Err(DropReason::DhcpForce);
            }
            let old = e.session;
            e.session = src;
            e.created_ms = now;
            e.updated_ms = now;
            if let Some(o) = self.sessions.get_mut(&old) {
                let c = count(o, v6);
                *c = c.saturating_sub(1);
            }
            if let Some(s) = self.sessions.get_mut(&src) {
                *count(s, v6) += 1;
            }
            return Ok(());
        }
        if force {
            // Not assigned by DHCP to anyone.
            return Err(DropReason::DhcpForce);
        }
        let purge_due = match self.last_ip_purge_ms {
            None => true,
            Some(t) => t.saturating_add(MAC_FLUSH_INTERVAL_MS) < now,
        };
        if purge_due {
            self.expire_ips(now);
        }
        if let (Some(limit), Some(st)) = (limit, self.sessions.get_mut(&src)) {
            if *count(st, v6) >= limit as usize {
                return Err(DropReason::IpLimit);
            }
        }
        if self.ips.len() >= MAX_IP_TABLES {
            // `DeleteOldIpTableEntry`: the least recently refreshed goes.
            if let Some((&k, e)) = self.ips.iter().min_by_key(|(_, e)| e.updated_ms) {
                let (owner, ov6) = (e.session, e.v6);
                self.ips.remove(&k);
                if let Some(o) = self.sessions.get_mut(&owner) {
                    let c = count(o, ov6);
                    *c = c.saturating_sub(1);
                }
            }
        }
        self.ips.insert(
            ip,
            IpEntry {
                session: src,
                created_ms: now,
                updated_ms: now,
                v6,
                dhcp: false,
            },
        );
        if let Some(s) = self.sessions.get_mut(&src) {
            *count(s, v6) += 1;
        }
        Ok(())
    }

    fn expire_ips(&mut self, now: u64) {
        self.last_ip_purge_ms = Some(now);
        let sessions = &mut self.sessions;
        self.ips.retain(|_, e| {
            let ttl = if e.dhcp {
                IP_TABLE_EXPIRE_TIME_DHCP_MS
            } else {
                IP_TABLE_EXPIRE_TIME_MS
            };
            if e.updated_ms.saturating_add(ttl) <= now {
                if let Some(s) = sessions.get_mut(&e.session) {
                    if e.v6 {
                        s.ip6_count = s.ip6_count.saturating_sub(1);
                    } else {
                        s.ip_count = s.ip_count.saturating_sub(1);
                    }
                }
                false
            } else {
                true
            }
        });
    }

    /// A DHCP ACK assigning `ip` to `chaddr` passed the hub: the address is
    /// registered to the session that owns `chaddr` (VLAN 0) as assigned
    /// by DHCP, replacing any entry (SoftEther
    /// `StorePacketFilterByPolicy`, `DhcpAllocated`). Unknown MAC: nothing.
    fn note_dhcp_ack(&mut self, ip: u32, chaddr: [u8; 6], now: u64) {
        let Some(owner) = self.macs.get(&key(mac48(&chaddr), 0)).map(|e| e.session) else {
            return;
        };
        let k = 0xffff_0000_0000 | u128::from(ip);
        match self.ips.get_mut(&k) {
            Some(e) => {
                let old = e.session;
                *e = IpEntry {
                    session: owner,
                    created_ms: now,
                    updated_ms: now,
                    v6: false,
                    dhcp: true,
                };
                if old != owner {
                    if let Some(o) = self.sessions.get_mut(&old) {
                        o.ip_count = o.ip_count.saturating_sub(1);
                    }
                    if let Some(s) = self.sessions.get_mut(&owner) {
                        s.ip_count += 1;
                    }
                }
            }
            None => {
                if self.ips.len() >= MAX_IP_TABLES {
                    return;
                }
                self.ips.insert(
                    k,
                    IpEntry {
                        session: owner,
                        created_ms: now,
                        updated_ms: now,
                        v6: false,
                        dhcp: true,
                    },
                );
                if let Some(s) = self.sessions.get_mut(&owner) {
                    s.ip_count += 1;
                }
            }
        }
    }

    /// Number of IPv6 table entries registered to session `id`.
    pub fn session_ip6_count(&self, id: SessionId) -> Option<usize> {
        self.sessions.get(&id).map(|s| s.ip6_count)
    }

    /// Number of IPv4 table entries registered to session `id`.
    pub fn session_ip_count(&self, id: SessionId) -> Option<usize> {
        self.sessions.get(&id).map(|s| s.ip_count)
    }

    /// Step 5 of [`Switch::route`].
    fn learn(
        &mut self,
        src: SessionId,
        check_mac: bool,
        k: u64,
        now: u64,
    ) -> Result<(), DropReason> {
        if let Some(e) = self.macs.get_mut(&k) {
            if e.session == src {
                e.updated_ms = now;
                return Ok(());
            }
            if check_mac && e.updated_ms.saturating_add(self.cfg.mac_exclusive_ms) >= now {
                return Err(DropReason::MacMoveDenied);
            }
            let old = e.session;
            e.session = src;
            e.created_ms = now;
            e.updated_ms = now;
            if let Some(o) = self.sessions.get_mut(&old) {
                debug_assert!(o.mac_count > 0);
                o.mac_count = o.mac_count.saturating_sub(1);
            }
            if let Some(s) = self.sessions.get_mut(&src) {
                s.mac_count += 1;
            }
            self.stats.moved += 1;
            return Ok(());
        }

        let purge_due = match self.last_purge_ms {
            None => true,
            Some(t) => t.saturating_add(MAC_FLUSH_INTERVAL_MS) < now,
        };
        if purge_due {
            self.expire(now);
        }
        let Some(st) = self.sessions.get_mut(&src) else {
            return Err(DropReason::UnknownSession);
        };
        if let Some(limit) = st.mac_limit {
            if st.mac_count >= limit as usize {
                return Err(DropReason::MacLimit);
            }
        }
        if self.macs.len() >= self.cfg.max_entries {
            return Err(DropReason::TableFull);
        }
        st.mac_count += 1;
        self.macs.insert(
            k,
            Entry {
                session: src,
                created_ms: now,
                updated_ms: now,
            },
        );
        self.stats.learned += 1;
        Ok(())
    }

    /// Sessions that receive a flooded frame from `src`: every session
    /// except `src`, the monitors (which get every frame through
    /// [`Switch::monitors`]), and the sessions whose policy refuses the
    /// frame last routed [`Route::Flood`] (its egress filters, or
    /// `PrivacyFilter` on both ends). Call it right after that `route`.
    /// Other per-destination filters (dormant clients, queue quotas) are
    /// the runtime's business.
    pub fn flood_targets(&self, src: SessionId) -> impl Iterator<Item = SessionId> + '_ {
        let class = self.flood_class;
        let privacy = self.flood_privacy;
        let acl = self.flood_acl.as_ref().zip(self.access.as_ref());
        self.members
            .iter()
            .filter(move |m| m.id != src && m.egress_deny & class == 0 && !(privacy && m.privacy))
            .filter(move |m| acl.is_none_or(|((ident, pkt), l)| l.forward(ident, &m.ident, pkt)))
            .map(|m| m.id)
    }

    /// Monitor-mode sessions; the runtime copies every frame to them.
    pub fn monitors(&self) -> impl Iterator<Item = SessionId> + '_ {
        self.monitors.iter().copied()
    }

    /// Every MAC table entry, in no particular order.
    pub fn mac_table(&self) -> impl Iterator<Item = MacEntryView> + '_ {
        self.macs.iter().map(|(&k, e)| MacEntryView {
            mac: MacAddr::from_u64(k),
            vlan: (k >> 48) as u16,
            session: e.session,
            created_ms: e.created_ms,
            updated_ms: e.updated_ms,
        })
    }

    /// The entry for (`mac`, `vlan`); pass `vlan` 0 when VLANs are not managed.
    pub fn lookup(&self, mac: MacAddr, vlan: u16) -> Option<MacEntryView> {
        let k = key(mac.to_u64(), vlan & 0x0fff);
        self.macs.get(&k).map(|e| MacEntryView {
            mac,
            vlan: vlan & 0x0fff,
            session: e.session,
            created_ms: e.created_ms,
            updated_ms: e.updated_ms,
        })
    }

    /// Deletes the entry for (`mac`, `vlan`) (admin `MacDelete`); returns
    /// whether it existed.
    pub fn remove_mac(&mut self, mac: MacAddr, vlan: u16) -> bool {
        match self.macs.remove(&key(mac.to_u64(), vlan & 0x0fff)) {
            Some(e) => {
                if let Some(s) = self.sessions.get_mut(&e.session) {
                    debug_assert!(s.mac_count > 0);
                    s.mac_count = s.mac_count.saturating_sub(1);
                }
                true
            }
            None => false,
        }
    }

    /// Purges entries not refreshed for `mac_expire_ms` (expired when
    /// `updated + mac_expire_ms <= now_ms`, `DeleteExpiredMacTableEntry`).
    /// [`Switch::route`] also calls this lazily before learning a new MAC,
    /// at most once per [`MAC_FLUSH_INTERVAL_MS`]; the runtime may call it
    /// from a timer so that idle hubs shrink too.
    pub fn expire(&mut self, now_ms: u64) {
        self.last_purge_ms = Some(now_ms);
        let ttl = self.cfg.mac_expire_ms;
        let sessions = &mut self.sessions;
        let mut purged = 0u64;
        self.macs.retain(|_, e| {
            if e.updated_ms.saturating_add(ttl) <= now_ms {
                if let Some(s) = sessions.get_mut(&e.session) {
                    debug_assert!(s.mac_count > 0);
                    s.mac_count = s.mac_count.saturating_sub(1);
                }
                purged += 1;
                false
            } else {
                true
            }
        });
        self.stats.expired += purged;
    }

    /// Number of sessions, monitors included.
    pub fn session_count(&self) -> usize {
        self.sessions.len()
    }

    /// Number of MAC table entries.
    pub fn mac_count(&self) -> usize {
        self.macs.len()
    }

    /// Number of IP table entries.
    pub fn ip_count(&self) -> usize {
        self.ips.len()
    }

    /// Every IP table entry, in no particular order (admin `IpTable`).
    pub fn ip_table(&self) -> impl Iterator<Item = IpEntryView> + '_ {
        self.ips.iter().map(|(&k, e)| {
            let v6 = std::net::Ipv6Addr::from(k);
            IpEntryView {
                ip: match (e.v6, v6.to_ipv4_mapped()) {
                    (false, Some(v4)) => std::net::IpAddr::V4(v4),
                    _ => std::net::IpAddr::V6(v6),
                },
                session: e.session,
                created_ms: e.created_ms,
                updated_ms: e.updated_ms,
            }
        })
    }

    /// Deletes the IP table entry of `ip` (admin `IpDelete`); returns
    /// whether it existed.
    pub fn remove_ip(&mut self, ip: std::net::IpAddr) -> bool {
        let k = match ip {
            std::net::IpAddr::V4(v4) => u128::from(v4.to_ipv6_mapped()),
            std::net::IpAddr::V6(v6) => u128::from(v6),
        };
        match self.ips.remove(&k) {
            Some(e) => {
                if let Some(s) = self.sessions.get_mut(&e.session) {
                    if e.v6 {
                        s.ip6_count = s.ip6_count.saturating_sub(1);
                    } else {
                        s.ip_count = s.ip_count.saturating_sub(1);
                    }
                }
                true
            }
            None => false,
        }
    }

    /// Purges IP table entries not refreshed for [`IP_TABLE_EXPIRE_TIME_MS`]
    /// (`DeleteExpiredIpTableEntry`), e.g. before an admin listing.
    pub fn expire_ip_table(&mut self, now_ms: u64) {
        self.expire_ips(now_ms);
    }

    /// Counters since creation.
    pub fn stats(&self) -> &SwitchStats {
        &self.stats
    }

    #[inline]
    fn drop(&mut self, reason: DropReason) -> Route {
        self.stats.dropped[reason.index()] += 1;
        Route::Drop(reason)
    }

    fn attach(&mut self, m: Member, monitor: bool) {
        let id = m.id;
        let slot = if monitor {
            self.monitors.push(id);
            self.monitors.len() - 1
        } else {
            self.members.push(m);
            self.members.len() - 1
        };
        if let Some(st) = self.sessions.get_mut(&id) {
            st.slot = slot;
        }
    }

    /// Removes the id at `slot` of the member or monitor list in O(1).
    fn detach(&mut self, monitor: bool, slot: usize) {
        let moved = if monitor {
            self.monitors.swap_remove(slot);
            self.monitors.get(slot).copied()
        } else {
            self.members.swap_remove(slot);
            self.members.get(slot).map(|m| m.id)
        };
        if let Some(moved) = moved {
            if let Some(st) = self.sessions.get_mut(&moved) {
                st.slot = slot;
            }
        }
    }

    fn remove_entries_of(&mut self, id: SessionId) {
        self.macs.retain(|_, e| e.session != id);
        if let Some(st) = self.sessions.get_mut(&id) {
            st.mac_count = 0;
        }
    }
}
