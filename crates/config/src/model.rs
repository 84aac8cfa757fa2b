//! The typed VPN Server / VPN Bridge configuration (docs/config-format.md §7;
//! SoftEther `src/Cedar/Server.c` `SiWriteConfigurationToCfg`,
//! `SiLoadConfigurationCfg` and the `SiWrite*Cfg`/`SiLoad*Cfg` functions).
//!
//! # Loss-free round trip
//!
//! Every typed object keeps the [`Folder`] it was loaded from in its `raw`
//! field. [`ServerConfig::to_root`] starts from that folder and overlays the
//! keys this crate models, so keys it does not model (SecureNAT, access
//! lists, hub options, RADIUS, IPsec, traffic counters, …) are written back
//! unchanged: migrating a SoftEther file and saving it again drops nothing.
//! Lists that are modelled (listeners, local bridges, hubs, users, groups,
//! cascades) are rebuilt from the typed vectors, so removing an element
//! from a vector removes it from the file. Objects created in code
//! ([`HubConfig::new`], [`UserConfig::new`], [`CascadeConfig::new`],
//! [`ServerConfig::initial`]) carry the complete key set SoftEther 5.01
//! writes for a newly created object (§7.12 advice), because defaults for
//! *missing* keys differ from those of new objects.
//!
//! # Layout
//!
//! One submodule per section of the file (docs/config-format.md §7):
//! `listener` (§7.4), `bridge` (§7.5), `server_settings` (§7.6), `hub`
//! (§7.7), `account` (users and groups, §7.9), `cascade` (§7.10); this
//! module keeps the policy folder (§7.7–§7.10), the whole tree
//! ([`ServerConfig`]) and the helpers. The structs with a `raw` folder are
//! declared with `cfg_struct!` (`fields`): one line per field with its type,
//! file key and missing-key default, from which the reader and the writer
//! are generated, so the two cannot drift.
//!
//! # Times
//!
//! Every `uint64 …Time` in the file (`CreatedTime`, `UpdatedTime`,
//! `ExpireTime`, `LastLoginTime`, `LastCommTime`) is a *SoftEther time*:
//! milliseconds since 1970-01-01T09:00:00Z, i.e. Unix ms minus 9 hours
//! (`SystemToUINT64` in `src/Mayaqua/Kernel.c`; docs/config-format.md §4).
//! [`now_ms`] returns the current time on
//! that scale and is what objects created here carry; convert a Unix clock
//! with [`rustether_proto::softether::time::from_unix_ms`] before storing it
//! or comparing it with a stored time, and back with
//! [`rustether_proto::softether::time::to_unix_ms`].
//!
//! # Differences from SoftEther
//!
//! * Stricter: a modelled key present with the wrong type (`string Port
//!   443`) or a hash/MAC of the wrong length is an error
//!   ([`ConfigError::Invalid`], naming the folder path) instead of being read
//!   as 0; a file without `ServerConfiguration` is rejected instead of being
//!   replaced by a fresh configuration at the next save.
//! * A cascade without a `Policy` folder is kept (SoftEther 5.01 skips it on
//!   load, which drops it at the next save); it is written back with the
//!   default cascade policy.
//! * [`ServerConfig::initial`]: listeners 443, 992, 5555 (no 1194: no
//!   OpenVPN), keep-alive off, dynamic DNS off, NAT traversal off, no UDP
//!   ports, OpenVPN and SSTP off — RustEther never contacts the internet on
//!   its own and speaks only the SoftEther protocol.
//! * Hub `Type` is forced to 0 (stand-alone) on load, as a stand-alone
//!   SoftEther server does; clustering is not supported.

use std::time::{SystemTime, UNIX_EPOCH};

use rand::RngCore;
use rustether_proto::softether::time;

use crate::cfg::{names_equal, CfgValue, Folder};
use crate::edition::Edition;
use crate::error::ConfigError;
use crate::sha0::sha0;

mod access;
mod account;
mod bridge;
mod cascade;
mod fields;
mod hub;
mod listener;
mod log_setting;
mod server_settings;

pub use account::{GroupConfig, UserAuth, UserConfig};
pub use bridge::LocalBridgeConfig;
pub use cascade::{CascadeAuth, CascadeConfig};
pub use hub::HubConfig;
pub use listener::ListenerConfig;
pub use log_setting::{HubLogSetting, SyslogSetting, PACKET_LOG_KEYS};
pub use server_settings::{
    ServerSettings, DEFAULT_ADMIN_IDLE_TIMEOUT_SECS, DEFAULT_LOG_MAX_TOTAL_SIZE,
    DEFAULT_LOG_RETENTION_DAYS, DEFAULT_MAX_CASCADES_PER_HUB,
};

// ====================================================================== helpers

/// The current time as SoftEther stores it: milliseconds since
/// 1970-01-01T09:00:00Z, i.e. Unix ms − 9 h
/// ([`rustether_proto::softether::time`], docs/config-format.md §4).
/// This is the unit of every time in the file.
///
/// Only callers at the I/O edge read the clock: every constructor of this
/// module takes the time (and randomness) as a parameter, see
/// [`system_rng`].
pub fn now_ms() -> u64 {
    time::from_unix_ms(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
    )
}

/// The thread's RNG, for callers at the I/O edge that create objects:
/// `HubConfig::new("H", now_ms(), &mut system_rng())`.
pub fn system_rng() -> rand::rngs::ThreadRng {
    rand::thread_rng()
}

/// Typed, strict read access to one folder; `path` names it in errors.
struct Rd<'a> {
    f: &'a Folder,
    path: String,
}

impl<'a> Rd<'a> {
    fn new(f: &'a Folder, path: impl Into<String>) -> Rd<'a> {
        Rd {
            f,
            path: path.into(),
        }
    }

    fn sub(&self, f: &'a Folder) -> Rd<'a> {
        Rd::new(f, format!("{}/{}", self.path, f.name))
    }

    fn bad(&self, name: &str, what: impl std::fmt::Display) -> ConfigError {
        ConfigError::invalid(format!("{}/{}: {}", self.path, name, what))
    }

    fn wrong_type(&self, name: &str, want: &str, got: &CfgValue) -> ConfigError {
        self.bad(name, format!("expected {want}, found {}", got.type_name()))
    }

    fn uint(&self, name: &str) -> Result<Option<u32>, ConfigError> {
        match self.f.item(name) {
            None => Ok(None),
            Some(CfgValue::Uint(v)) => Ok(Some(*v)),
            Some(v) => Err(self.wrong_type(name, "uint", v)),
        }
    }

    fn uint64(&self, name: &str) -> Result<Option<u64>, ConfigError> {
        match self.f.item(name) {
            None => Ok(None),
            Some(CfgValue::Uint64(v)) => Ok(Some(*v)),
            Some(v) => Err(self.wrong_type(name, "uint64", v)),
        }
    }

    fn bool(&self, name: &str) -> Result<Option<bool>, ConfigError> {
        match self.f.item(name) {
            None => Ok(None),
            Some(CfgValue::Bool(v)) => Ok(Some(*v)),
            Some(v) => Err(self.wrong_type(name, "bool", v)),
        }
    }

    fn str(&self, name: &str) -> Result<Option<&'a str>, ConfigError> {
        match self.f.item(name) {
            None => Ok(None),
            Some(CfgValue::String(v)) => Ok(Some(v)),
            Some(v) => Err(self.wrong_type(name, "string", v)),
        }
    }

    fn bytes(&self, name: &str) -> Result<Option<&'a [u8]>, ConfigError> {
        match self.f.item(name) {
            None => Ok(None),
            Some(CfgValue::Byte(v)) => Ok(Some(v)),
            Some(v) => Err(self.wrong_type(name, "byte", v)),
        }
    }

    fn fixed<const N: usize>(&self, name: &str) -> Result<Option<[u8; N]>, ConfigError> {
        match self.bytes(name)? {
            None => Ok(None),
            Some(b) => b
                .try_into()
                .map(Some)
                .map_err(|_| self.bad(name, format!("expected {N} bytes, found {}", b.len()))),
        }
    }

    fn u32_or(&self, name: &str, d: u32) -> Result<u32, ConfigError> {
        Ok(self.uint(name)?.unwrap_or(d))
    }
    fn bool_or(&self, name: &str, d: bool) -> Result<bool, ConfigError> {
        Ok(self.bool(name)?.unwrap_or(d))
    }
    fn string_or(&self, name: &str, d: &str) -> Result<String, ConfigError> {
        Ok(self.str(name)?.unwrap_or(d).to_string())
    }
}

/// Build a folder from `(name, value)` pairs (used for the templates of new
/// objects).
fn folder_with(name: &str, items: &[(&str, CfgValue)]) -> Folder {
    let mut f = Folder::new(name);
    for (n, v) in items {
        f.set(n, v.clone());
    }
    f
}

fn u(v: u32) -> CfgValue {
    CfgValue::Uint(v)
}
fn b(v: bool) -> CfgValue {
    CfgValue::Bool(v)
}
fn s(v: &str) -> CfgValue {
    CfgValue::String(v.to_string())
}

/// The keys of one direction of a traffic folder, in the order of
/// [`TrafficCounters`] (`SiWriteTrafficInner`, src/Cedar/Server.c).
const TRAFFIC_KEYS: [&str; 4] = [
    "BroadcastBytes",
    "BroadcastCount",
    "UnicastBytes",
    "UnicastCount",
];

/// The eight counters of a traffic folder (`Traffic` of a hub, user or
/// group, `ServerConfiguration/ServerTraffic`; docs/config-format.md §7.8):
/// `RecvTraffic/{BroadcastBytes, BroadcastCount, UnicastBytes,
/// UnicastCount}`, then the same of `SendTraffic`. Bytes are Ethernet
/// frame bytes, counts are frames, as SoftEther's `TRAFFIC`.
pub type TrafficCounters = [u64; 8];

/// Reads the traffic folder `name` of `parent` (`SiLoadTraffic`): a
/// missing folder or key reads as 0.
pub fn read_traffic(parent: &Folder, name: &str) -> TrafficCounters {
    let mut t = [0; 8];
    if let Some(f) = parent.folder(name) {
        for (d, dir) in ["RecvTraffic", "SendTraffic"].iter().enumerate() {
            for (k, key) in TRAFFIC_KEYS.iter().enumerate() {
                t[d * 4 + k] = f.folder(dir).and_then(|x| x.get_uint64(key)).unwrap_or(0);
            }
        }
    }
    t
}

/// Adds `add` to the traffic folder `name` of `parent` (created with zero
/// counters if missing), wrapping at 2^64 as SoftEther's `UINT64`s.
pub fn add_traffic(parent: &mut Folder, name: &str, add: &TrafficCounters) {
    let old = read_traffic(parent, name);
    let f = parent.folder_or_insert(name);
    for (d, dir) in ["RecvTraffic", "SendTraffic"].iter().enumerate() {
        let x = f.folder_or_insert(dir);
        for (k, key) in TRAFFIC_KEYS.iter().enumerate() {
            x.set_uint64(key, old[d * 4 + k].wrapping_add(add[d * 4 + k]));
        }
    }
}

/// `<name>/RecvTraffic` + `SendTraffic` with zero counters (docs/config-format.md §7.8).
fn zero_traffic(name: &str) -> Folder {
    let mut t = Folder::new(name);
    for dir in ["RecvTraffic", "SendTraffic"] {
        let d = t.folder_or_insert(dir);
        for k in [
            "BroadcastBytes",
            "BroadcastCount",
            "UnicastBytes",
            "UnicastCount",
        ] {
            d.set_uint64(k, 0);
        }
    }
    t
}

/// A random MAC `5E-xx-xx-xx-xx-xx` as SoftEther's `GenMacAddress` makes.
fn random_mac(rng: &mut dyn RngCore) -> [u8; 6] {
    let mut m = [0u8; 6];
    rng.fill_bytes(&mut m[1..]);
    m[0] = 0x5E;
    m
}

/// `5E-59-B0-89-86-9E` (docs/config-format.md §4).
pub fn format_mac(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join("-")
}

/// Parse a MAC address written as 12 hex digits, optionally separated by
/// `-`, `:` or spaces (`5E-59-B0-89-86-9E`). `None` if malformed.
pub fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let hex: String = text
        .chars()
        .filter(|c| !matches!(c, '-' | ':' | ' '))
        .collect();
    if hex.len() != 12 || !hex.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let mut m = [0u8; 6];
    for (i, slot) in m.iter_mut().enumerate() {
        *slot = u8::from_str_radix(&hex[i * 2..i * 2 + 2], 16).ok()?;
    }
    Some(m)
}

/// RC4 keystream XOR with the key `EncryptP` — SoftEther's `EncryptPassword`
/// / `DecryptPassword` on 64-bit builds (docs/config-format.md §8). Encryption and
/// decryption are the same operation.
pub fn softether_password_rc4(data: &[u8]) -> Vec<u8> {
    let key = b"EncryptP";
    let mut st: [u8; 256] = std::array::from_fn(|i| i as u8);
    let mut j: u8 = 0;
    for i in 0..256 {
        j = j.wrapping_add(st[i]).wrapping_add(key[i % key.len()]);
        st.swap(i, j as usize);
    }
    let (mut i, mut j) = (0u8, 0u8);
    data.iter()
        .map(|&c| {
            i = i.wrapping_add(1);
            j = j.wrapping_add(st[i as usize]);
            st.swap(i as usize, j as usize);
            c ^ st[st[i as usize].wrapping_add(st[j as usize]) as usize]
        })
        .collect()
}

/// SHA-0 of the empty password: the stored form of "no password"
/// (docs/config-format.md §8).
pub fn empty_password_hash() -> [u8; 20] {
    sha0(b"")
}

/// Hub `SecurePassword` for the empty password: SHA-0("" ‖ "ADMINISTRATOR").
pub fn empty_hub_secure_password() -> [u8; 20] {
    sha0(b"ADMINISTRATOR")
}

// ====================================================================== names

// The rules live in `rustether_proto::softether::names`; SoftEther does not
// apply them when it reads the file (`SiLoadHubCfg`, `SiLoadUserCfg`), and
// neither does this crate.

// ====================================================================== policy

use rustether_proto::softether::policy::{self as pol, PolicyDef};

/// Policy keys of a `Policy` folder with their types (SoftEther
/// `SiWritePolicyCfg`; docs/config-format.md §7.9/7.10), from the one policy
/// table `rustether_proto::softether::policy`.
fn policy_keys() -> impl Iterator<Item = &'static PolicyDef> {
    pol::config_keys()
}

/// A security policy (user, group or cascade `Policy` folder).
///
/// The fields are the policies the server enforces most often; every other
/// policy key lives in `raw` and can be read and changed with
/// [`Policy::value`] / [`Policy::set_value`] (booleans as 0/1).
#[derive(Clone, Debug, PartialEq)]
pub struct Policy {
    /// `Access`: the user may connect at all.
    pub access: bool,
    /// `MaxConnection`: TCP connections per session (1–32).
    pub max_connection: u32,
    /// `TimeOut`: session time-out in seconds.
    pub timeout_secs: u32,
    /// `MultiLogins`: concurrent sessions of this user (0 = unlimited).
    pub multi_logins: u32,
    /// `NoBridge`: forbid bridge mode.
    pub no_bridge: bool,
    /// `NoRouting`: forbid router mode.
    pub no_routing: bool,
    /// `MonitorPort`: the session may request monitor mode.
    pub monitor_port: bool,
    /// `MaxMac`: MAC addresses per session (0 = unlimited).
    pub max_mac: u32,
    /// `CheckMac`: deny MAC address spoofing.
    pub check_mac: bool,
    /// The policy folder as loaded (or the full default key set); the fields
    /// above are overlaid on save.
    pub raw: Folder,
}

impl Default for Policy {
    /// SoftEther's default policy (`GetDefaultPolicy`, `src/Cedar/Account.c`):
    /// access allowed, 32 connections, 20 s time-out, everything else off/0.
    fn default() -> Policy {
        let mut raw = Folder::new("Policy");
        for d in policy_keys() {
            if d.is_bool() {
                raw.set_bool(d.name, false);
            } else {
                raw.set_uint(d.name, 0);
            }
        }
        let mut p = Policy {
            access: true,
            max_connection: 32,
            timeout_secs: 20,
            multi_logins: 0,
            no_bridge: false,
            no_routing: false,
            monitor_port: false,
            max_mac: 0,
            check_mac: false,
            raw,
        };
        p.overlay();
        p
    }
}

/// The default `Policy` folder of a new cascade: the cascade key subset
/// (`SiWritePolicyCfg` with `cascade_mode`), all off/0, as SoftEther 5.01
/// writes it for `CascadeCreate`.
fn cascade_default_policy() -> Folder {
    let mut f = Folder::new("Policy");
    for d in policy_keys().filter(|d| d.for_cascade) {
        if d.is_bool() {
            f.set_bool(d.name, false);
        } else {
            f.set_uint(d.name, 0);
        }
    }
    f
}

impl Policy {
    fn from_folder(r: &Rd) -> Result<Policy, ConfigError> {
        for (name, v) in &r.f.items {
            let ok = match v {
                CfgValue::Bool(_) | CfgValue::Uint(_) => true,
                _ => !is_policy_key(name),
            };
            if !ok {
                return Err(r.wrong_type(name, "bool or uint", v));
            }
        }
        // Missing keys read as false/0, as SoftEther's `SiLoadPolicyCfg`.
        Ok(Policy {
            access: r.bool_or("Access", false)?,
            max_connection: r.u32_or("MaxConnection", 0)?,
            timeout_secs: r.u32_or("TimeOut", 0)?,
            multi_logins: r.u32_or("MultiLogins", 0)?,
            no_bridge: r.bool_or("NoBridge", false)?,
            no_routing: r.bool_or("NoRouting", false)?,
            monitor_port: r.bool_or("MonitorPort", false)?,
            max_mac: r.u32_or("MaxMac", 0)?,
            check_mac: r.bool_or("CheckMac", false)?,
            raw: r.f.clone(),
        })
    }

    /// Write the typed fields into `raw`.
    fn overlay(&mut self) {
        let r = &mut self.raw;
        r.set_bool("Access", self.access);
        r.set_uint("MaxConnection", self.max_connection);
        r.set_uint("TimeOut", self.timeout_secs);
        r.set_uint("MultiLogins", self.multi_logins);
        r.set_bool("NoBridge", self.no_bridge);
        r.set_bool("NoRouting", self.no_routing);
        r.set_bool("MonitorPort", self.monitor_port);
        r.set_uint("MaxMac", self.max_mac);
        r.set_bool("CheckMac", self.check_mac);
    }

    fn to_folder(&self) -> Folder {
        let mut p = self.clone();
        p.overlay();
        p.raw.name = "Policy".into();
        p.raw
    }

    /// Every policy value in the form of the one policy table
    /// ([`pol::PolicyValues`]); a key missing from the folder reads as
    /// false/0, as SoftEther's `SiLoadPolicyCfg`.
    pub fn values(&self) -> pol::PolicyValues {
        let mut v = pol::PolicyValues::default();
        for d in policy_keys() {
            v.set(d.id, self.value(d.name).unwrap_or(0));
        }
        v
    }

    /// Any policy value by its configuration name (`"MaxUpload"`,
    /// `"PrivacyFilter"`, …; case-insensitive), booleans as 0/1. `None` if
    /// the key is not present.
    pub fn value(&self, name: &str) -> Option<u32> {
        let typed = match name.to_ascii_lowercase().as_str() {
            "access" => Some(u32::from(self.access)),
            "maxconnection" => Some(self.max_connection),
            "timeout" => Some(self.timeout_secs),
            "multilogins" => Some(self.multi_logins),
            "nobridge" => Some(u32::from(self.no_bridge)),
            "norouting" => Some(u32::from(self.no_routing)),
            "monitorport" => Some(u32::from(self.monitor_port)),
            "maxmac" => Some(self.max_mac),
            "checkmac" => Some(u32::from(self.check_mac)),
            _ => None,
        };
        typed.or_else(|| match self.raw.item(name)? {
            CfgValue::Bool(v) => Some(u32::from(*v)),
            CfgValue::Uint(v) => Some(*v),
            _ => None,
        })
    }

    /// Set any policy value by name (booleans: non-zero = true). Known
    /// boolean keys are stored as `bool`, others as `uint`.
    pub fn set_value(&mut self, name: &str, value: u32) {
        let on = value != 0;
        match name.to_ascii_lowercase().as_str() {
            "access" => self.access = on,
            "maxconnection" => self.max_connection = value,
            "timeout" => self.timeout_secs = value,
            "multilogins" => self.multi_logins = value,
            "nobridge" => self.no_bridge = on,
            "norouting" => self.no_routing = on,
            "monitorport" => self.monitor_port = on,
            "maxmac" => self.max_mac = value,
            "checkmac" => self.check_mac = on,
            _ => match policy_keys().find(|d| names_equal(d.name, name)) {
                Some(d) if d.is_bool() => self.raw.set_bool(d.name, on),
                Some(d) => self.raw.set_uint(d.name, value),
                None => self.raw.set_uint(name, value),
            },
        }
    }
}

fn is_policy_key(name: &str) -> bool {
    policy_keys().any(|d| names_equal(d.name, name))
}

// ====================================================================== whole server

/// The whole VPN Server (or VPN Bridge) configuration (`root`).
#[derive(Clone, Debug, PartialEq)]
pub struct ServerConfig {
    /// `ConfigRevision`: incremented by every configuration-changing admin
    /// call; names the backups.
    pub config_revision: u32,
    /// `ListenerList`.
    pub listeners: Vec<ListenerConfig>,
    /// `ServerConfiguration`.
    pub server: ServerSettings,
    /// `DDnsClient/Disabled` (a missing folder means enabled, as in
    /// SoftEther; RustEther never runs a dynamic DNS client either way).
    pub ddns_disabled: bool,
    /// `VirtualHUB`.
    pub hubs: Vec<HubConfig>,
    /// `LocalBridgeList/LocalBridgeN`.
    pub local_bridges: Vec<LocalBridgeConfig>,
    /// `LocalBridgeList/DoNotDisableOffloading` (Linux): leave NIC offloads on.
    pub do_not_disable_offloading: bool,
    /// The `root` folder as loaded (or the initial key set): `IPsec`,
    /// `VirtualLayer3SwitchList`, `Region`, … are written back from here.
    pub raw: Folder,
}

impl ServerConfig {
    /// Read the typed configuration from a parsed `root` folder.
    ///
    /// Errors ([`ConfigError::Invalid`], message starting with the folder
    /// path): no `ServerConfiguration`; a modelled key with the wrong type; a
    /// password hash or MAC of the wrong length; an unknown authentication
    /// type; a port above 65535. Listener entries with port 0 and bridges
    /// without hub or device are skipped (logged), as SoftEther does.
    ///
    /// A hub's missing or zero `LastCommTime`/`LastLoginTime` read as the
    /// current time (`SiLoadHubCfg`); this reads the clock ([`now_ms`]),
    /// [`ServerConfig::from_root_at`] takes the time instead.
    pub fn from_root(root: &Folder) -> Result<ServerConfig, ConfigError> {
        ServerConfig::from_root_at(root, now_ms())
    }

    /// [`ServerConfig::from_root`] with `now` (SoftEther time) for missing
    /// hub times: a pure function of its arguments.
    pub fn from_root_at(root: &Folder, now: u64) -> Result<ServerConfig, ConfigError> {
        let r = Rd::new(root, "root");
        let sc = root.folder("ServerConfiguration").ok_or_else(|| {
            ConfigError::invalid(
                "root: no ServerConfiguration folder (SoftEther would silently replace this file with a fresh configuration)",
            )
        })?;
        let server = ServerSettings::from_folder(&r.sub(sc))?;

        let mut listeners = Vec::new();
        if let Some(ll) = root.folder("ListenerList") {
            let ll = r.sub(ll);
            for f in &ll.f.folders {
                if let Some(l) = ListenerConfig::from_folder(&ll.sub(f))? {
                    listeners.push(l);
                }
            }
        }

        let mut local_bridges = Vec::new();
        let mut do_not_disable_offloading = false;
        if let Some(bl) = root.folder("LocalBridgeList") {
            let bl = r.sub(bl);
            do_not_disable_offloading = bl.bool_or("DoNotDisableOffloading", false)?;
            for f in &bl.f.folders {
                if let Some(b) = LocalBridgeConfig::from_folder(&bl.sub(f))? {
                    local_bridges.push(b);
                }
            }
        }

        let ddns_disabled = match root.folder("DDnsClient") {
            Some(d) => r.sub(d).bool_or("Disabled", false)?,
            None => false,
        };

        let mut hubs = Vec::new();
        if let Some(vh) = root.folder("VirtualHUB") {
            let vh = r.sub(vh);
            for f in &vh.f.folders {
                hubs.push(HubConfig::from_folder(&vh.sub(f), now)?);
            }
        }

        Ok(ServerConfig {
            config_revision: r.u32_or("ConfigRevision", 0)?,
            listeners,
            server,
            ddns_disabled,
            hubs,
            local_bridges,
            do_not_disable_offloading,
            raw: root.clone(),
        })
    }

    /// The `root` folder to save: `raw` with every modelled value overlaid
    /// and the modelled lists rebuilt (renumbered `Listener0…`,
    /// `LocalBridge0…`, `Cascade0…` as SoftEther does).
    pub fn to_root(&self) -> Folder {
        let mut root = self.raw.clone();
        root.name = "root".into();
        root.set_uint("ConfigRevision", self.config_revision);

        let ll = root.folder_or_insert("ListenerList");
        ll.folders = self
            .listeners
            .iter()
            .enumerate()
            .map(|(i, l)| l.to_folder(&format!("Listener{i}")))
            .collect();

        let bl = root.folder_or_insert("LocalBridgeList");
        bl.set_bool("DoNotDisableOffloading", self.do_not_disable_offloading);
        bl.folders = self
            .local_bridges
            .iter()
            .enumerate()
            .map(|(i, b)| b.to_folder(&format!("LocalBridge{i}")))
            .collect();

        root.add_folder(self.server.to_folder());
        root.folder_or_insert("DDnsClient")
            .set_bool("Disabled", self.ddns_disabled);

        let vh = root.folder_or_insert("VirtualHUB");
        vh.folders = self.hubs.iter().map(HubConfig::to_folder).collect();
        root
    }

    /// A fresh configuration for `edition`: hub `edition.default_hub()`
    /// online; listeners 443, 992 and 5555 (not SoftEther's 1194: RustEther
    /// does not speak OpenVPN); empty server admin password; keep-alive,
    /// dynamic DNS and NAT traversal off (deliberate difference from
    /// SoftEther's `SiLoadInitialConfiguration`: RustEther never contacts the
    /// internet on its own); no UDP ports. The Server edition's hub has the
    /// empty admin password; the Bridge edition's hub gets random password
    /// hashes so that nobody can log in as its hub administrator (as
    /// SoftEther's VPN Bridge, docs/process-model.md §10). Certificate and key are
    /// left empty: the server generates them. `now` (SoftEther time) and
    /// `rng` (hub MAC, Bridge passwords) come from the caller
    /// ([`now_ms`] and [`system_rng`] at the I/O edge).
    pub fn initial(edition: Edition, now: u64, rng: &mut dyn RngCore) -> ServerConfig {
        let mut raw = folder_with(
            "root",
            &[("IPsecMessageDisplayed", b(true)), ("Region", s(""))],
        );
        let hub_name = edition.default_hub();
        if edition == Edition::Server {
            raw.add_folder(folder_with(
                "IPsec",
                &[
                    ("EtherIP_IPsec", b(false)),
                    ("IPsec_Secret", s("vpn")),
                    ("L2TP_DefaultHub", s(hub_name)),
                    ("L2TP_IPsec", b(false)),
                    ("L2TP_Raw", b(false)),
                ],
            ));
            raw.folder_or_insert("IPsec")
                .add_folder(Folder::new("EtherIP_IDSettingsList"));
            raw.add_folder(Folder::new("VirtualLayer3SwitchList"));
        }
        let mut hub = HubConfig::new(hub_name, now, rng);
        if edition == Edition::Bridge {
            rng.fill_bytes(&mut hub.hashed_password);
            rng.fill_bytes(&mut hub.secure_password);
        }
        ServerConfig {
            config_revision: 0,
            listeners: [443u16, 992, 5555]
                .iter()
                .map(|&port| ListenerConfig {
                    port,
                    enabled: true,
                    disable_dos: false,
                })
                .collect(),
            server: ServerSettings::initial(),
            ddns_disabled: true,
            hubs: vec![hub],
            local_bridges: Vec::new(),
            do_not_disable_offloading: false,
            raw,
        }
    }

    /// Edition-specific fix-ups applied after loading: a VPN Bridge writes
    /// no `Online` key and always runs its hubs (`SiLoadHubCfg`), so its
    /// hubs are marked online.
    pub fn normalize_for(&mut self, edition: Edition) {
        if edition == Edition::Bridge {
            for h in &mut self.hubs {
                if h.raw.item("Online").is_none() {
                    h.online = true;
                }
            }
        }
    }

    /// The hub called `name` (case-insensitive).
    pub fn hub(&self, name: &str) -> Option<&HubConfig> {
        self.hubs.iter().find(|h| names_equal(&h.name, name))
    }

    /// Mutable access to the hub called `name` (case-insensitive).
    pub fn hub_mut(&mut self, name: &str) -> Option<&mut HubConfig> {
        self.hubs.iter_mut().find(|h| names_equal(&h.name, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_use_the_softether_epoch() {
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let now = now_ms();
        assert!(now + time::EPOCH_OFFSET_MS >= unix);
        assert!(now + time::EPOCH_OFFSET_MS - unix < 5_000);
        let h = HubConfig::new("T", now_ms(), &mut system_rng());
        assert!(h.created_time <= now_ms() && h.created_time + 5_000 >= now);
        let u = UserConfig::new("u", UserAuth::Anonymous, now_ms());
        assert!(u.created_time + time::EPOCH_OFFSET_MS <= unix + 5_000);
    }

    #[test]
    fn constructors_are_pure_in_time_and_randomness() {
        use rand::SeedableRng;
        let mk = || {
            let mut rng = rand::rngs::StdRng::seed_from_u64(7);
            ServerConfig::initial(Edition::Bridge, 1_795_283_802_605, &mut rng).to_root()
        };
        // same time and seed → the same file, byte for byte
        assert_eq!(crate::write_text(&mk()), crate::write_text(&mk()));
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let h = HubConfig::new("T", 42, &mut rng);
        assert_eq!(
            (h.created_time, h.last_comm_time, h.last_login_time),
            (42, 42, 42)
        );
        let u = UserConfig::new("u", UserAuth::Anonymous, 43);
        assert_eq!((u.created_time, u.updated_time), (43, 43));
        // the loader's clock is a parameter too
        let root = h_root(&h);
        let back = ServerConfig::from_root_at(&root, 99).unwrap();
        assert_eq!(back.hubs[0].created_time, 42);
    }

    fn h_root(h: &HubConfig) -> Folder {
        let mut cfg = ServerConfig::initial(
            Edition::Server,
            1,
            &mut rand::rngs::mock::StepRng::new(0, 1),
        );
        cfg.hubs = vec![h.clone()];
        cfg.to_root()
    }

    #[test]
    fn rc4_matches_the_documented_values() {
        use base64::Engine as _;
        let std = base64::engine::general_purpose::STANDARD;
        // docs/config-format.md §8 (verified against SoftEther).
        assert_eq!(
            std.encode(softether_password_rc4(b"plainpw")),
            "HvMFix5dGw=="
        );
        assert_eq!(
            std.encode(softether_password_rc4(b"proxypw")),
            "Hu0LmgldGw=="
        );
        assert!(softether_password_rc4(b"").is_empty());
    }

    #[test]
    fn empty_password_forms() {
        use base64::Engine as _;
        let std = base64::engine::general_purpose::STANDARD;
        assert_eq!(
            std.encode(empty_password_hash()),
            "+WzqGYrR3VYXrAhKPZLGEHcIwO8="
        );
        // §7.12: "empty passwords +Wzq…/bpw3…"
        assert!(std.encode(empty_hub_secure_password()).starts_with("bpw3"));
    }

    #[test]
    fn mac_text() {
        let m = parse_mac("5E-59-B0-89-86-9e").unwrap();
        assert_eq!(format_mac(&m), "5E-59-B0-89-86-9E");
        assert_eq!(parse_mac("5e:59:b0:89:86:9e"), Some(m));
        assert_eq!(parse_mac("5E-59-B0-89-86"), None);
        assert_eq!(parse_mac("zz-59-B0-89-86-9E"), None);
    }

    #[test]
    fn policy_value_access() {
        let mut p = Policy::default();
        assert_eq!(p.value("TimeOut"), Some(20));
        assert_eq!(p.value("maxupload"), Some(0));
        p.set_value("PrivacyFilter", 1);
        p.set_value("MaxUpload", 1000);
        p.set_value("maxconnection", 4);
        let f = p.to_folder();
        assert_eq!(f.get_bool("PrivacyFilter"), Some(true));
        assert_eq!(f.get_uint("MaxUpload"), Some(1000));
        assert_eq!(f.get_uint("MaxConnection"), Some(4));
        assert_eq!(f.items.len(), policy_keys().count());
        let c = cascade_default_policy();
        assert_eq!(c.items.len(), 25); // the verified cascade subset
        assert!(c.item("Access").is_none());
    }
}
