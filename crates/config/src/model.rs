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
//! # Times
//!
//! Every `uint64 …Time` in the file (`CreatedTime`, `UpdatedTime`,
//! `ExpireTime`, `LastLoginTime`, `LastCommTime`) is a *SoftEther time*:
//! milliseconds since 1970-01-01T09:00:00Z, i.e. Unix ms minus 9 hours
//! (`SystemToUINT64` in `src/Mayaqua/Kernel.c`; docs/config-format.md §4).
//! [`now_ms`] returns the current time on
//! that scale and is what objects created here carry; convert a Unix clock
//! with [`softether_time_from_unix_ms`] before storing it or comparing it
//! with a stored time, and back with [`unix_ms_from_softether_time`].
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

use std::net::{IpAddr, Ipv4Addr};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use rand::RngCore;

use crate::cfg::{names_equal, CfgValue, Folder};
use crate::edition::Edition;
use crate::error::ConfigError;
use crate::sha0::sha0;

// ====================================================================== helpers

/// The difference between Unix time and SoftEther time, in ms (9 hours).
///
/// SoftEther writes every `uint64 …Time` of the file (and every time of its
/// admin RPC) as milliseconds since **1970-01-01T09:00:00Z**: `SystemToUINT64`
/// subtracts 32 400 000 ms and `UINT64ToSystem` adds them back
/// (`src/Mayaqua/Kernel.c`; observed on 5.01 build 9674: a hub created at
/// 2026-11-22T02:56:42.605Z is saved as `uint64 CreatedTime 1795283802605`).
pub const SOFTETHER_EPOCH_OFFSET_MS: u64 = 32_400_000;

/// SoftEther time ([`SOFTETHER_EPOCH_OFFSET_MS`]) of a Unix time in ms,
/// saturating at 0 (0 means "none/never" in the file).
pub fn softether_time_from_unix_ms(unix_ms: u64) -> u64 {
    unix_ms.saturating_sub(SOFTETHER_EPOCH_OFFSET_MS)
}

/// Unix time in ms of a SoftEther time (see [`SOFTETHER_EPOCH_OFFSET_MS`]).
/// 0 ("none") gives 0.
pub fn unix_ms_from_softether_time(t: u64) -> u64 {
    if t == 0 {
        0
    } else {
        t.saturating_add(SOFTETHER_EPOCH_OFFSET_MS)
    }
}

/// The current time as SoftEther stores it: milliseconds since
/// 1970-01-01T09:00:00Z, i.e. Unix ms − 9 h ([`SOFTETHER_EPOCH_OFFSET_MS`]).
/// This is the unit of every time in the file.
pub fn now_ms() -> u64 {
    softether_time_from_unix_ms(
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0),
    )
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
    fn u64_or(&self, name: &str, d: u64) -> Result<u64, ConfigError> {
        Ok(self.uint64(name)?.unwrap_or(d))
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
fn random_mac() -> [u8; 6] {
    let mut m = [0u8; 6];
    rand::thread_rng().fill_bytes(&mut m[1..]);
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

/// Characters SoftEther allows in hub and user names (`IsSafeChar`,
/// `src/Mayaqua/Str.c`).
fn is_safe_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || " ()-_#%&.".contains(c)
}

/// Whether `name` may be used for a new virtual hub (docs/protocol-sslvpn.md §8,
/// SoftEther `IsSafeStr`): 1–255 bytes of `A–Z a–z 0–9 space ( ) - _ # % &
/// .`, no leading or trailing space.
pub fn is_valid_hub_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 255
        && name.chars().all(is_safe_char)
        && !name.starts_with(' ')
        && !name.ends_with(' ')
}

/// Whether `name` may be used for a new user (docs/protocol-sslvpn.md §8,
/// SoftEther `IsUserName`): 1–255 bytes of the hub-name characters plus `@`,
/// no leading or trailing space (SoftEther trims them), or exactly `*` (the
/// wildcard user for RADIUS/NT authentication); not one of the reserved
/// names `administrator`, `link`, `Cascade`, `securenat`, `SecureNAT`,
/// `localbridge`, `Local Bridge` (case-insensitive) and not starting with the
/// Layer-3 switch prefix `L3SW_`.
pub fn is_valid_user_name(name: &str) -> bool {
    if name == "*" {
        return true;
    }
    if name.is_empty()
        || name.len() > 255
        || name.starts_with(' ')
        || name.ends_with(' ')
        || !name.chars().all(|c| is_safe_char(c) || c == '@')
    {
        return false;
    }
    const RESERVED: [&str; 7] = [
        "administrator",
        "link",
        "Cascade",
        "securenat",
        "SecureNAT",
        "localbridge",
        "Local Bridge",
    ];
    !RESERVED.iter().any(|r| names_equal(r, name)) && !name.starts_with("L3SW_")
}

// ====================================================================== listeners

/// One TCP listener (`ListenerList/ListenerN`, docs/config-format.md §7.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerConfig {
    /// TCP port (1–65535).
    pub port: u16,
    /// Whether the listener is started.
    pub enabled: bool,
    /// Disables the per-listener DoS protection.
    pub disable_dos: bool,
}

impl ListenerConfig {
    fn from_folder(r: &Rd) -> Result<Option<ListenerConfig>, ConfigError> {
        let port = r.u32_or("Port", 0)?;
        if port == 0 {
            // SoftEther ignores such an entry (`SiLoadListenerCfg`).
            tracing::warn!("{}: listener with port 0 ignored", r.path);
            return Ok(None);
        }
        let port =
            u16::try_from(port).map_err(|_| r.bad("Port", format!("{port} is not a TCP port")))?;
        Ok(Some(ListenerConfig {
            port,
            enabled: r.bool_or("Enabled", false)?,
            disable_dos: r.bool_or("DisableDos", false)?,
        }))
    }

    fn to_folder(&self, name: &str) -> Folder {
        folder_with(
            name,
            &[
                ("DisableDos", b(self.disable_dos)),
                ("Enabled", b(self.enabled)),
                ("Port", u(u32::from(self.port))),
            ],
        )
    }
}

// ====================================================================== local bridges

/// One local bridge (`LocalBridgeList/LocalBridgeN`, docs/config-format.md §7.5,
/// docs/process-model.md §9). Every key SoftEther writes for a bridge is modelled.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct LocalBridgeConfig {
    /// Network interface (or, in tap mode, the tap name as typed; the kernel
    /// interface is `tap_` + lower-cased name).
    pub device_name: String,
    /// Virtual hub the interface is bridged to.
    pub hub_name: String,
    /// Create a tap device instead of opening an existing interface.
    pub tap_mode: bool,
    /// MAC of the tap device (`TapMacAddress`); `None` = pick a random one.
    pub tap_mac: Option<[u8; 6]>,
    /// Do not switch the interface to promiscuous mode (SoftEther's "local"
    /// flag).
    pub no_promiscuous_mode: bool,
    /// The bridge session gets the monitor-port policy.
    pub monitor_mode: bool,
    /// Apply the broadcast limiter to the bridge session.
    pub limit_broadcast: bool,
}

impl LocalBridgeConfig {
    fn from_folder(r: &Rd) -> Result<Option<LocalBridgeConfig>, ConfigError> {
        let device_name = r.string_or("DeviceName", "")?;
        let hub_name = r.string_or("HubName", "")?;
        if device_name.is_empty() || hub_name.is_empty() {
            tracing::warn!("{}: local bridge without hub or device ignored", r.path);
            return Ok(None);
        }
        let tap_mode = r.bool_or("TapMode", false)?;
        let tap_mac = match r.str("TapMacAddress")? {
            Some(t) if !t.is_empty() => Some(
                parse_mac(t)
                    .ok_or_else(|| r.bad("TapMacAddress", format!("`{t}` is not a MAC address")))?,
            ),
            _ => None,
        };
        Ok(Some(LocalBridgeConfig {
            device_name,
            hub_name,
            tap_mode,
            tap_mac,
            no_promiscuous_mode: r.bool_or("NoPromiscuousMode", false)?,
            monitor_mode: r.bool_or("MonitorMode", false)?,
            limit_broadcast: r.bool_or("LimitBroadcast", false)?,
        }))
    }

    fn to_folder(&self, name: &str) -> Folder {
        let mut f = folder_with(
            name,
            &[
                ("DeviceName", s(&self.device_name)),
                ("HubName", s(&self.hub_name)),
                ("LimitBroadcast", b(self.limit_broadcast)),
                ("MonitorMode", b(self.monitor_mode)),
                ("NoPromiscuousMode", b(self.no_promiscuous_mode)),
                ("TapMode", b(self.tap_mode)),
            ],
        );
        if let (true, Some(mac)) = (self.tap_mode, self.tap_mac) {
            f.set_str("TapMacAddress", &format_mac(&mac));
        }
        f
    }
}

// ====================================================================== policy

/// Boolean policy keys (SoftEther `SiWritePolicyCfg`; docs/config-format.md §7.9/7.10).
const POLICY_BOOLS: [&str; 28] = [
    "Access",
    "ArpDhcpOnly",
    "CheckIP",
    "CheckIPv6",
    "CheckMac",
    "DHCPFilter",
    "DHCPForce",
    "DHCPNoServer",
    "DHCPv6Filter",
    "DHCPv6NoServer",
    "FilterIPv4",
    "FilterIPv6",
    "FilterNonIP",
    "FixPassword",
    "MonitorPort",
    "NoBridge",
    "NoBroadcastLimiter",
    "NoIPv6DefaultRouterInRA",
    "NoIPv6DefaultRouterInRAWhenIPv6",
    "NoQoS",
    "NoRouting",
    "NoRoutingV6",
    "NoSavePassword",
    "NoServer",
    "NoServerV6",
    "PrivacyFilter",
    "RAFilter",
    "RSandRAFilter",
];

/// Integer policy keys.
const POLICY_UINTS: [&str; 10] = [
    "AutoDisconnect",
    "MaxConnection",
    "MaxDownload",
    "MaxIP",
    "MaxIPv6",
    "MaxMac",
    "MaxUpload",
    "MultiLogins",
    "TimeOut",
    "VLanId",
];

/// Policy keys SoftEther does not write for a cascade (`cascade_mode`).
const POLICY_NOT_FOR_CASCADE: [&str; 13] = [
    "Access",
    "NoBridge",
    "NoRouting",
    "PrivacyFilter",
    "MonitorPort",
    "MaxConnection",
    "TimeOut",
    "FixPassword",
    "MultiLogins",
    "NoQoS",
    "NoRoutingV6",
    "NoSavePassword",
    "AutoDisconnect",
];

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
        for k in POLICY_BOOLS {
            raw.set_bool(k, false);
        }
        for k in POLICY_UINTS {
            raw.set_uint(k, 0);
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
    for k in POLICY_BOOLS.iter().chain(POLICY_UINTS.iter()) {
        if POLICY_NOT_FOR_CASCADE.contains(k) {
            continue;
        }
        if POLICY_BOOLS.contains(k) {
            f.set_bool(k, false);
        } else {
            f.set_uint(k, 0);
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
            _ => {
                let canonical = POLICY_BOOLS
                    .iter()
                    .chain(POLICY_UINTS.iter())
                    .find(|k| names_equal(k, name))
                    .copied()
                    .unwrap_or(name);
                if POLICY_BOOLS.contains(&canonical) {
                    self.raw.set_bool(canonical, on);
                } else {
                    self.raw.set_uint(canonical, value);
                }
            }
        }
    }
}

fn is_policy_key(name: &str) -> bool {
    POLICY_BOOLS
        .iter()
        .chain(POLICY_UINTS.iter())
        .any(|k| names_equal(k, name))
}

// ====================================================================== users and groups

/// How a user authenticates (`AuthType` and `Auth*` keys, docs/config-format.md §7.9).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserAuth {
    /// `AuthType 0`.
    Anonymous,
    /// `AuthType 1`: `AuthPassword` = SHA-0(password ‖ UPPERCASE(user name)),
    /// `AuthNtLmSecureHash` = MD4(UTF-16LE(password)) (omitted when unknown).
    Password {
        /// SHA-0(password ‖ UPPERCASE(user name)).
        hash: [u8; 20],
        /// MD4 of the password in UTF-16LE, for MS-CHAPv2.
        nt_hash: Option<[u8; 16]>,
    },
    /// `AuthType 2`: the user's own certificate (`AuthUserCert`, DER).
    UserCert {
        /// DER X.509 certificate.
        cert_der: Vec<u8>,
    },
    /// `AuthType 3`: a certificate signed by a trusted CA, optionally
    /// restricted by serial (`AuthSerial`) and common name (`AuthCommonName`).
    SignedCert {
        /// Required certificate serial number (big-endian bytes).
        serial: Option<Vec<u8>>,
        /// Required subject common name.
        common_name: Option<String>,
    },
    /// `AuthType 4`: RADIUS, with the name sent to the RADIUS server
    /// (`AuthRadiusUsername`, empty = the user name).
    Radius {
        /// Name used towards the RADIUS server.
        username: String,
    },
    /// `AuthType 5`: Windows NT domain (`AuthNtUserName`).
    NtDomain {
        /// Name used towards the domain controller.
        username: String,
    },
}

const USER_AUTH_KEYS: [&str; 7] = [
    "AuthPassword",
    "AuthNtLmSecureHash",
    "AuthUserCert",
    "AuthSerial",
    "AuthCommonName",
    "AuthRadiusUsername",
    "AuthNtUserName",
];

impl UserAuth {
    /// The `AuthType` number.
    pub fn auth_type(&self) -> u32 {
        match self {
            UserAuth::Anonymous => 0,
            UserAuth::Password { .. } => 1,
            UserAuth::UserCert { .. } => 2,
            UserAuth::SignedCert { .. } => 3,
            UserAuth::Radius { .. } => 4,
            UserAuth::NtDomain { .. } => 5,
        }
    }

    fn from_folder(r: &Rd) -> Result<UserAuth, ConfigError> {
        Ok(match r.u32_or("AuthType", 0)? {
            0 => UserAuth::Anonymous,
            1 => UserAuth::Password {
                // A missing hash reads as zeros (nobody can log in), as in SoftEther.
                hash: r.fixed::<20>("AuthPassword")?.unwrap_or([0; 20]),
                nt_hash: r
                    .fixed::<16>("AuthNtLmSecureHash")?
                    .filter(|h| h != &[0; 16]),
            },
            2 => UserAuth::UserCert {
                cert_der: r.bytes("AuthUserCert")?.unwrap_or_default().to_vec(),
            },
            3 => UserAuth::SignedCert {
                serial: r
                    .bytes("AuthSerial")?
                    .filter(|s| !s.is_empty())
                    .map(<[u8]>::to_vec),
                common_name: r
                    .str("AuthCommonName")?
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            },
            4 => UserAuth::Radius {
                username: r.string_or("AuthRadiusUsername", "")?,
            },
            5 => UserAuth::NtDomain {
                username: r.string_or("AuthNtUserName", "")?,
            },
            t => return Err(r.bad("AuthType", format!("unknown user authentication type {t}"))),
        })
    }

    /// The `Auth*` keys this variant writes.
    fn keys(&self) -> &'static [&'static str] {
        match self {
            UserAuth::Anonymous => &[],
            UserAuth::Password { .. } => &["AuthPassword", "AuthNtLmSecureHash"],
            UserAuth::UserCert { .. } => &["AuthUserCert"],
            UserAuth::SignedCert { .. } => &["AuthSerial", "AuthCommonName"],
            UserAuth::Radius { .. } => &["AuthRadiusUsername"],
            UserAuth::NtDomain { .. } => &["AuthNtUserName"],
        }
    }

    fn write(&self, f: &mut Folder) {
        // Drop the keys of other authentication types (and optional keys of
        // this one, set again below); keep the order of the rest.
        for k in USER_AUTH_KEYS {
            if !self.keys().contains(&k)
                || matches!(k, "AuthNtLmSecureHash" | "AuthSerial" | "AuthCommonName")
            {
                f.remove_item(k);
            }
        }
        f.set_uint("AuthType", self.auth_type());
        match self {
            UserAuth::Anonymous => {}
            UserAuth::Password { hash, nt_hash } => {
                f.set_bytes("AuthPassword", hash);
                if let Some(nt) = nt_hash.filter(|h| h != &[0; 16]) {
                    f.set_bytes("AuthNtLmSecureHash", &nt);
                }
            }
            UserAuth::UserCert { cert_der } => f.set_bytes("AuthUserCert", cert_der),
            UserAuth::SignedCert {
                serial,
                common_name,
            } => {
                if let Some(sn) = serial.as_ref().filter(|s| !s.is_empty()) {
                    f.set_bytes("AuthSerial", sn);
                }
                if let Some(cn) = common_name.as_ref().filter(|s| !s.is_empty()) {
                    f.set_str("AuthCommonName", cn);
                }
            }
            UserAuth::Radius { username } => f.set_str("AuthRadiusUsername", username),
            UserAuth::NtDomain { username } => f.set_str("AuthNtUserName", username),
        }
    }
}

/// A user of a virtual hub (`SecurityAccountDatabase/UserList/<name>`).
#[derive(Clone, Debug, PartialEq)]
pub struct UserConfig {
    /// User name (the folder name; matched case-insensitively).
    pub name: String,
    /// Authentication method and its data.
    pub auth: UserAuth,
    /// `RealName`.
    pub realname: String,
    /// `Note`.
    pub note: String,
    /// `GroupName`: the group the user belongs to.
    pub group: Option<String>,
    /// `CreatedTime`, SoftEther time ([`now_ms`]).
    pub created_time: u64,
    /// `UpdatedTime`, SoftEther time ([`now_ms`]).
    pub updated_time: u64,
    /// `ExpireTime`, SoftEther time ([`now_ms`]); 0 = never.
    pub expire_time: u64,
    /// `LastLoginTime`, SoftEther time ([`now_ms`]); 0 = never.
    pub last_login_time: u64,
    /// `NumLogin`.
    pub num_login: u32,
    /// The user's own policy (`Policy` folder), if any.
    pub policy: Option<Policy>,
    /// The folder as loaded (traffic counters and unknown keys).
    pub raw: Folder,
}

impl UserConfig {
    /// A new user as `UserCreate` makes it: created/updated now, no group,
    /// no own policy, zero traffic.
    pub fn new(name: &str, auth: UserAuth) -> UserConfig {
        let now = now_ms();
        let mut raw = Folder::new(name);
        raw.add_folder(zero_traffic("Traffic"));
        UserConfig {
            name: name.to_string(),
            auth,
            realname: String::new(),
            note: String::new(),
            group: None,
            created_time: now,
            updated_time: now,
            expire_time: 0,
            last_login_time: 0,
            num_login: 0,
            policy: None,
            raw,
        }
    }

    fn from_folder(r: &Rd) -> Result<UserConfig, ConfigError> {
        let policy = match r.f.folder("Policy") {
            Some(p) => Some(Policy::from_folder(&r.sub(p))?),
            None => None,
        };
        Ok(UserConfig {
            name: r.f.name.clone(),
            auth: UserAuth::from_folder(r)?,
            realname: r.string_or("RealName", "")?,
            note: r.string_or("Note", "")?,
            group: r
                .str("GroupName")?
                .filter(|g| !g.is_empty())
                .map(str::to_string),
            created_time: r.u64_or("CreatedTime", 0)?,
            updated_time: r.u64_or("UpdatedTime", 0)?,
            expire_time: r.u64_or("ExpireTime", 0)?,
            last_login_time: r.u64_or("LastLoginTime", 0)?,
            num_login: r.u32_or("NumLogin", 0)?,
            policy,
            raw: r.f.clone(),
        })
    }

    fn to_folder(&self) -> Folder {
        let mut f = self.raw.clone();
        f.name = self.name.clone();
        self.auth.write(&mut f);
        f.set_str("RealName", &self.realname);
        f.set_str("Note", &self.note);
        match &self.group {
            Some(g) if !g.is_empty() => f.set_str("GroupName", g),
            _ => {
                f.remove_item("GroupName");
            }
        }
        f.set_uint64("CreatedTime", self.created_time);
        f.set_uint64("UpdatedTime", self.updated_time);
        f.set_uint64("ExpireTime", self.expire_time);
        f.set_uint64("LastLoginTime", self.last_login_time);
        f.set_uint("NumLogin", self.num_login);
        match &self.policy {
            Some(p) => f.add_folder(p.to_folder()),
            None => {
                f.remove_folder("Policy");
            }
        }
        if f.folder("Traffic").is_none() {
            f.add_folder(zero_traffic("Traffic"));
        }
        f
    }
}

/// A group of a virtual hub (`SecurityAccountDatabase/GroupList/<name>`).
#[derive(Clone, Debug, PartialEq)]
pub struct GroupConfig {
    /// Group name (folder name; case-insensitive).
    pub name: String,
    /// `RealName`.
    pub realname: String,
    /// `Note`.
    pub note: String,
    /// The group policy, if any.
    pub policy: Option<Policy>,
    /// The folder as loaded.
    pub raw: Folder,
}

impl GroupConfig {
    /// A new group without policy and with zero traffic.
    pub fn new(name: &str) -> GroupConfig {
        let mut raw = Folder::new(name);
        raw.add_folder(zero_traffic("Traffic"));
        GroupConfig {
            name: name.to_string(),
            realname: String::new(),
            note: String::new(),
            policy: None,
            raw,
        }
    }

    fn from_folder(r: &Rd) -> Result<GroupConfig, ConfigError> {
        let policy = match r.f.folder("Policy") {
            Some(p) => Some(Policy::from_folder(&r.sub(p))?),
            None => None,
        };
        Ok(GroupConfig {
            name: r.f.name.clone(),
            realname: r.string_or("RealName", "")?,
            note: r.string_or("Note", "")?,
            policy,
            raw: r.f.clone(),
        })
    }

    fn to_folder(&self) -> Folder {
        let mut f = self.raw.clone();
        f.name = self.name.clone();
        f.set_str("RealName", &self.realname);
        f.set_str("Note", &self.note);
        match &self.policy {
            Some(p) => f.add_folder(p.to_folder()),
            None => {
                f.remove_folder("Policy");
            }
        }
        if f.folder("Traffic").is_none() {
            f.add_folder(zero_traffic("Traffic"));
        }
        f
    }
}

// ====================================================================== cascades

/// How a cascade logs in to the remote hub (`ClientAuth`, docs/config-format.md §7.10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CascadeAuth {
    /// `AuthType 0`.
    Anonymous {
        /// User name presented to the remote hub.
        username: String,
    },
    /// `AuthType 1`: `HashedPassword` = SHA-0(password ‖ UPPERCASE(username)).
    HashedPassword {
        /// Remote user name.
        username: String,
        /// SHA-0(password ‖ UPPERCASE(username)).
        hash: [u8; 20],
    },
    /// `AuthType 2`: plain password (for RADIUS/NT on the remote side),
    /// stored RC4-"encrypted" as `EncryptedPassword` ([`softether_password_rc4`]).
    PlainPassword {
        /// Remote user name.
        username: String,
        /// The clear-text password.
        password: String,
    },
    /// `AuthType 3`: client certificate and private key (DER).
    Certificate {
        /// Remote user name.
        username: String,
        /// DER X.509 certificate.
        cert_der: Vec<u8>,
        /// DER private key.
        key_der: Vec<u8>,
    },
    /// `AuthType 4` (smart card) or `5` (OpenSSL engine): not usable by
    /// RustEther; kept so that the file round-trips.
    Unsupported {
        /// The `AuthType` number.
        auth_type: u32,
        /// Remote user name.
        username: String,
    },
}

const CASCADE_AUTH_KEYS: [&str; 8] = [
    "HashedPassword",
    "EncryptedPassword",
    "ClientCert",
    "ClientKey",
    "SecurePublicCertName",
    "SecurePrivateKeyName",
    "OpensslEnginePrivateKeyName",
    "OpensslEngineName",
];

impl CascadeAuth {
    /// The `AuthType` number.
    pub fn auth_type(&self) -> u32 {
        match self {
            CascadeAuth::Anonymous { .. } => 0,
            CascadeAuth::HashedPassword { .. } => 1,
            CascadeAuth::PlainPassword { .. } => 2,
            CascadeAuth::Certificate { .. } => 3,
            CascadeAuth::Unsupported { auth_type, .. } => *auth_type,
        }
    }

    /// The remote user name.
    pub fn username(&self) -> &str {
        match self {
            CascadeAuth::Anonymous { username }
            | CascadeAuth::HashedPassword { username, .. }
            | CascadeAuth::PlainPassword { username, .. }
            | CascadeAuth::Certificate { username, .. }
            | CascadeAuth::Unsupported { username, .. } => username,
        }
    }

    fn from_folder(r: &Rd) -> Result<CascadeAuth, ConfigError> {
        let username = r.string_or("Username", "")?;
        Ok(match r.u32_or("AuthType", 0)? {
            0 => CascadeAuth::Anonymous { username },
            1 => CascadeAuth::HashedPassword {
                username,
                hash: r.fixed::<20>("HashedPassword")?.unwrap_or([0; 20]),
            },
            2 => {
                let enc = r.bytes("EncryptedPassword")?.unwrap_or_default();
                let plain = softether_password_rc4(enc);
                // SoftEther keeps it as a C string: a NUL ends it.
                let plain = plain.split(|&c| c == 0).next().unwrap_or_default().to_vec();
                let password = String::from_utf8(plain)
                    .map_err(|_| r.bad("EncryptedPassword", "decrypted password is not UTF-8"))?;
                CascadeAuth::PlainPassword { username, password }
            }
            3 => CascadeAuth::Certificate {
                username,
                cert_der: r.bytes("ClientCert")?.unwrap_or_default().to_vec(),
                key_der: r.bytes("ClientKey")?.unwrap_or_default().to_vec(),
            },
            t @ (4 | 5) => CascadeAuth::Unsupported {
                auth_type: t,
                username,
            },
            t => {
                return Err(r.bad(
                    "AuthType",
                    format!("unknown cascade authentication type {t}"),
                ))
            }
        })
    }

    fn write(&self, f: &mut Folder) {
        let own: &[&str] = match self {
            CascadeAuth::HashedPassword { .. } => &["HashedPassword"],
            CascadeAuth::PlainPassword { .. } => &["EncryptedPassword"],
            CascadeAuth::Certificate { .. } => &["ClientCert", "ClientKey"],
            CascadeAuth::Anonymous { .. } => &[],
            // smart card / engine keys are not modelled: keep them all
            CascadeAuth::Unsupported { .. } => &CASCADE_AUTH_KEYS,
        };
        for k in CASCADE_AUTH_KEYS {
            if !own.contains(&k) {
                f.remove_item(k);
            }
        }
        f.set_uint("AuthType", self.auth_type());
        f.set_str("Username", self.username());
        match self {
            CascadeAuth::Anonymous { .. } | CascadeAuth::Unsupported { .. } => {}
            CascadeAuth::HashedPassword { hash, .. } => f.set_bytes("HashedPassword", hash),
            CascadeAuth::PlainPassword { password, .. } => f.set_bytes(
                "EncryptedPassword",
                &softether_password_rc4(password.as_bytes()),
            ),
            CascadeAuth::Certificate {
                cert_der, key_der, ..
            } => {
                f.set_bytes("ClientCert", cert_der);
                f.set_bytes("ClientKey", key_der);
            }
        }
    }
}

/// A cascade connection of a hub (`CascadeList/CascadeN`, docs/config-format.md
/// §7.10, docs/process-model.md §11).
#[derive(Clone, Debug, PartialEq)]
pub struct CascadeConfig {
    /// `Online`: the link is started.
    pub online: bool,
    /// `CheckServerCert`: verify the remote server's certificate.
    pub check_server_cert: bool,
    /// `ServerCert`: the saved (pinned) remote certificate, DER.
    pub server_cert_der: Option<Vec<u8>>,
    /// `ClientOption/AccountName`: the cascade's name (unique per hub,
    /// case-insensitive).
    pub account_name: String,
    /// `ClientOption/Hostname` (may carry SoftEther's `/hint` suffix).
    pub hostname: String,
    /// `ClientOption/Port`.
    pub port: u16,
    /// `ClientOption/HubName`: the remote hub.
    pub hub_name: String,
    /// `ClientOption/MaxConnection`: TCP connections (1–32).
    pub max_connection: u32,
    /// `ClientOption/UseEncrypt`.
    pub use_encrypt: bool,
    /// `ClientOption/UseCompress`.
    pub use_compress: bool,
    /// `ClientOption/HalfConnection`.
    pub half_connection: bool,
    /// `ClientOption/DisableQoS`.
    pub disable_qos: bool,
    /// `ClientOption/RetryInterval` in seconds.
    pub retry_interval_secs: u32,
    /// `ClientAuth`.
    pub auth: CascadeAuth,
    /// `SetByHubAdmin` (RustEther only; SoftEther ignores the key): the
    /// cascade was last created or changed by a hub administrator, so it
    /// may not connect to this server itself (issue 9 item 4; SECURITY.md).
    /// Cascades in a file the server administrator wrote are not confined.
    pub set_by_hub_admin: bool,
    /// The folder as loaded (`ClientOption`/`ClientAuth`/`Policy` with the
    /// keys not modelled above: proxy settings, `NumRetry`, …).
    pub raw: Folder,
}

impl CascadeConfig {
    /// A new cascade as `CascadeCreate` makes it (offline, 8 connections,
    /// encryption on, retry 10 s, no server certificate check, default
    /// cascade policy; values as written by SoftEther 5.01).
    pub fn new(
        account_name: &str,
        hostname: &str,
        port: u16,
        hub_name: &str,
        auth: CascadeAuth,
    ) -> CascadeConfig {
        let option = folder_with(
            "ClientOption",
            &[
                ("AccountName", s(account_name)),
                ("AdditionalConnectionInterval", u(1)),
                ("ConnectionDisconnectSpan", u(0)),
                ("CustomHttpHeader", s("")),
                ("DeviceName", s("_SEHUBLINKCLI_")),
                ("DisableQoS", b(false)),
                ("HalfConnection", b(false)),
                ("HideNicInfoWindow", b(false)),
                ("HideStatusWindow", b(false)),
                ("Hostname", s(hostname)),
                ("HubName", s(hub_name)),
                ("MaxConnection", u(8)),
                ("NoRoutingTracking", b(true)),
                ("NoUdpAcceleration", b(false)),
                ("NumRetry", u(u32::MAX)),
                ("Port", u(u32::from(port))),
                ("PortUDP", u(0)),
                ("ProxyName", s("")),
                ("ProxyPassword", CfgValue::Byte(Vec::new())),
                ("ProxyPort", u(0)),
                ("ProxyType", u(0)),
                ("ProxyUsername", s("")),
                ("RequireBridgeRoutingMode", b(true)),
                ("RequireMonitorMode", b(false)),
                ("RetryInterval", u(10)),
                ("UseCompress", b(false)),
                ("UseEncrypt", b(true)),
            ],
        );
        let mut raw = Folder::new("Cascade");
        raw.add_folder(option);
        raw.add_folder(Folder::new("ClientAuth"));
        raw.add_folder(cascade_default_policy());
        CascadeConfig {
            online: false,
            check_server_cert: false,
            server_cert_der: None,
            account_name: account_name.to_string(),
            hostname: hostname.to_string(),
            port,
            hub_name: hub_name.to_string(),
            max_connection: 8,
            use_encrypt: true,
            use_compress: false,
            half_connection: false,
            disable_qos: false,
            retry_interval_secs: 10,
            auth,
            set_by_hub_admin: false,
            raw,
        }
    }

    fn from_folder(r: &Rd) -> Result<CascadeConfig, ConfigError> {
        let empty_opt = Folder::new("ClientOption");
        let empty_auth = Folder::new("ClientAuth");
        let o = r.sub(r.f.folder("ClientOption").unwrap_or(&empty_opt));
        let a = r.sub(r.f.folder("ClientAuth").unwrap_or(&empty_auth));
        if let Some(p) = r.f.folder("Policy") {
            Policy::from_folder(&r.sub(p))?; // type check only; kept raw
        }
        let port = o.u32_or("Port", 0)?;
        let port =
            u16::try_from(port).map_err(|_| o.bad("Port", format!("{port} is not a TCP port")))?;
        Ok(CascadeConfig {
            online: r.bool_or("Online", false)?,
            check_server_cert: r.bool_or("CheckServerCert", false)?,
            server_cert_der: r.bytes("ServerCert")?.map(<[u8]>::to_vec),
            account_name: o.string_or("AccountName", "")?,
            hostname: o.string_or("Hostname", "")?,
            port,
            hub_name: o.string_or("HubName", "")?,
            max_connection: o.u32_or("MaxConnection", 0)?,
            use_encrypt: o.bool_or("UseEncrypt", false)?,
            use_compress: o.bool_or("UseCompress", false)?,
            half_connection: o.bool_or("HalfConnection", false)?,
            disable_qos: o.bool_or("DisableQoS", false)?,
            retry_interval_secs: o.u32_or("RetryInterval", 0)?,
            auth: CascadeAuth::from_folder(&a)?,
            set_by_hub_admin: r.bool_or("SetByHubAdmin", false)?,
            raw: r.f.clone(),
        })
    }

    fn to_folder(&self, name: &str) -> Folder {
        let mut f = self.raw.clone();
        f.name = name.to_string();
        f.set_bool("Online", self.online);
        f.set_bool("CheckServerCert", self.check_server_cert);
        if self.set_by_hub_admin {
            f.set_bool("SetByHubAdmin", true);
        } else {
            f.remove_item("SetByHubAdmin");
        }
        match &self.server_cert_der {
            Some(c) => f.set_bytes("ServerCert", c),
            None => {
                f.remove_item("ServerCert");
            }
        }
        let o = f.folder_or_insert("ClientOption");
        o.set_str("AccountName", &self.account_name);
        o.set_str("Hostname", &self.hostname);
        o.set_uint("Port", u32::from(self.port));
        o.set_str("HubName", &self.hub_name);
        o.set_uint("MaxConnection", self.max_connection);
        o.set_bool("UseEncrypt", self.use_encrypt);
        o.set_bool("UseCompress", self.use_compress);
        o.set_bool("HalfConnection", self.half_connection);
        o.set_bool("DisableQoS", self.disable_qos);
        o.set_uint("RetryInterval", self.retry_interval_secs);
        self.auth.write(f.folder_or_insert("ClientAuth"));
        if f.folder("Policy").is_none() {
            f.add_folder(cascade_default_policy());
        }
        f
    }
}

// ====================================================================== hubs

/// A virtual hub (`VirtualHUB/<name>`, docs/config-format.md §7.7).
#[derive(Clone, Debug, PartialEq)]
pub struct HubConfig {
    /// Hub name (folder name; matched case-insensitively).
    pub name: String,
    /// `Online`.
    pub online: bool,
    /// `HashedPassword`: hub admin password, SHA-0(password).
    pub hashed_password: [u8; 20],
    /// `SecurePassword`: SHA-0(password ‖ "ADMINISTRATOR").
    pub secure_password: [u8; 20],
    /// `Type`: always 0 (stand-alone) after loading.
    pub hub_type: u32,
    /// `CreatedTime`, SoftEther time ([`now_ms`]).
    pub created_time: u64,
    /// `LastCommTime`, SoftEther time ([`now_ms`]).
    pub last_comm_time: u64,
    /// `LastLoginTime`, SoftEther time ([`now_ms`]).
    pub last_login_time: u64,
    /// `NumLogin`.
    pub num_login: u32,
    /// `Option/MaxSession`: maximum sessions, 0 = unlimited.
    pub max_session: u32,
    /// `Option/NoEnum`: hide the hub from anonymous hub enumeration.
    pub no_enum: bool,
    /// `Message/MessageText`: message shown to clients after login.
    pub message: Option<String>,
    /// `SecurityAccountDatabase/UserList`.
    pub users: Vec<UserConfig>,
    /// `SecurityAccountDatabase/GroupList`.
    pub groups: Vec<GroupConfig>,
    /// `CascadeList`.
    pub cascades: Vec<CascadeConfig>,
    /// The hub folder as loaded (or the complete default key set): `Option`,
    /// `AdminOption`, `LogSetting`, `SecureNAT`, `AccessList`, RADIUS keys,
    /// certificate lists, traffic, …
    pub raw: Folder,
}

impl HubConfig {
    /// A hub as `CreateHub` makes it on SoftEther 5.01 (docs/config-format.md
    /// §7.7, values verified on a file written by the real server): online,
    /// empty admin password, created now, hub options, log settings (security
    /// and packet log daily), all 41 admin options 0, SecureNAT disabled with
    /// its defaults (192.168.30.1/24), empty lists.
    pub fn new(name: &str) -> HubConfig {
        let now = now_ms();
        let mut raw = folder_with(
            name,
            &[
                ("RadiusConvertAllMsChapv2AuthRequestToEap", b(false)),
                ("RadiusRealm", s("")),
                ("RadiusRetryInterval", u(0)),
                ("RadiusServerPort", u(1812)),
                ("RadiusSuffixFilter", s("")),
                ("RadiusUsePeapInsteadOfEap", b(false)),
            ],
        );
        raw.add_folder(Folder::new("AccessList"));
        let mut admin = Folder::new("AdminOption");
        for k in ADMIN_OPTIONS {
            admin.set_uint(k, 0);
        }
        raw.add_folder(admin);
        raw.add_folder(Folder::new("CascadeList"));
        raw.add_folder(folder_with(
            "LogSetting",
            &[
                ("PacketLogSwitchType", u(4)),
                ("PACKET_LOG_ARP", u(0)),
                ("PACKET_LOG_DHCP", u(1)),
                ("PACKET_LOG_ETHERNET", u(0)),
                ("PACKET_LOG_ICMP", u(0)),
                ("PACKET_LOG_IP", u(0)),
                ("PACKET_LOG_TCP", u(0)),
                ("PACKET_LOG_TCP_CONN", u(1)),
                ("PACKET_LOG_UDP", u(0)),
                ("SavePacketLog", b(true)),
                ("SaveSecurityLog", b(true)),
                ("SecurityLogSwitchType", u(4)),
            ],
        ));
        raw.add_folder(Folder::new("Message"));
        let mut option = Folder::new("Option");
        for (k, v) in HUB_OPTION_DEFAULTS {
            option.set(k, v.value());
        }
        raw.add_folder(option);
        raw.add_folder(secure_nat_defaults());
        let mut db = Folder::new("SecurityAccountDatabase");
        for k in [
            "CertList",
            "CrlList",
            "GroupList",
            "IPAccessControlList",
            "UserList",
        ] {
            db.add_folder(Folder::new(k));
        }
        raw.add_folder(db);
        raw.add_folder(zero_traffic("Traffic"));
        HubConfig {
            name: name.to_string(),
            online: true,
            hashed_password: empty_password_hash(),
            secure_password: empty_hub_secure_password(),
            hub_type: 0,
            created_time: now,
            last_comm_time: now,
            last_login_time: now,
            num_login: 0,
            max_session: 0,
            no_enum: false,
            message: None,
            users: Vec::new(),
            groups: Vec::new(),
            cascades: Vec::new(),
            raw,
        }
    }

    /// The user called `name` (case-insensitive).
    pub fn user(&self, name: &str) -> Option<&UserConfig> {
        self.users.iter().find(|u| names_equal(&u.name, name))
    }

    /// Mutable access to the user called `name` (case-insensitive).
    pub fn user_mut(&mut self, name: &str) -> Option<&mut UserConfig> {
        self.users.iter_mut().find(|u| names_equal(&u.name, name))
    }

    /// The group called `name` (case-insensitive).
    pub fn group(&self, name: &str) -> Option<&GroupConfig> {
        self.groups.iter().find(|g| names_equal(&g.name, name))
    }

    /// Mutable access to the group called `name` (case-insensitive).
    pub fn group_mut(&mut self, name: &str) -> Option<&mut GroupConfig> {
        self.groups.iter_mut().find(|g| names_equal(&g.name, name))
    }

    /// The cascade whose account name is `name` (case-insensitive).
    pub fn cascade(&self, name: &str) -> Option<&CascadeConfig> {
        self.cascades
            .iter()
            .find(|c| names_equal(&c.account_name, name))
    }

    /// Mutable access to the cascade whose account name is `name`.
    pub fn cascade_mut(&mut self, name: &str) -> Option<&mut CascadeConfig> {
        self.cascades
            .iter_mut()
            .find(|c| names_equal(&c.account_name, name))
    }

    fn from_folder(r: &Rd) -> Result<HubConfig, ConfigError> {
        let f = r.f;
        let empty = Folder::new("");
        let opt = r.sub(f.folder("Option").unwrap_or(&empty));
        let message = match f.folder("Message") {
            Some(m) => r
                .sub(m)
                .str("MessageText")?
                .filter(|m| !m.is_empty())
                .map(str::to_string),
            None => None,
        };
        let mut users = Vec::new();
        let mut groups = Vec::new();
        if let Some(db) = f.folder("SecurityAccountDatabase") {
            let db = r.sub(db);
            if let Some(list) = db.f.folder("GroupList") {
                let list = db.sub(list);
                for g in &list.f.folders {
                    groups.push(GroupConfig::from_folder(&list.sub(g))?);
                }
            }
            if let Some(list) = db.f.folder("UserList") {
                let list = db.sub(list);
                for u in &list.f.folders {
                    users.push(UserConfig::from_folder(&list.sub(u))?);
                }
            }
        }
        let mut cascades = Vec::new();
        if let Some(list) = f.folder("CascadeList") {
            let list = r.sub(list);
            for c in &list.f.folders {
                cascades.push(CascadeConfig::from_folder(&list.sub(c))?);
            }
        }
        let now = now_ms();
        Ok(HubConfig {
            name: f.name.clone(),
            online: r.bool_or("Online", false)?,
            hashed_password: r
                .fixed::<20>("HashedPassword")?
                .unwrap_or_else(empty_password_hash),
            secure_password: r
                .fixed::<20>("SecurePassword")?
                .unwrap_or_else(empty_hub_secure_password),
            // A stand-alone server forces every hub to stand-alone (`SiLoadHubCfg`).
            hub_type: {
                r.u32_or("Type", 0)?;
                0
            },
            created_time: r.u64_or("CreatedTime", 0)?,
            // Missing/0 comm and login times mean "now" (`SiLoadHubCfg`).
            last_comm_time: Some(r.u64_or("LastCommTime", 0)?)
                .filter(|&t| t != 0)
                .unwrap_or(now),
            last_login_time: Some(r.u64_or("LastLoginTime", 0)?)
                .filter(|&t| t != 0)
                .unwrap_or(now),
            num_login: r.u32_or("NumLogin", 0)?,
            max_session: opt.u32_or("MaxSession", 0)?,
            no_enum: opt.bool_or("NoEnum", false)?,
            message,
            users,
            groups,
            cascades,
            raw: f.clone(),
        })
    }

    fn to_folder(&self) -> Folder {
        let mut f = self.raw.clone();
        f.name = self.name.clone();
        f.set_bool("Online", self.online);
        f.set_bytes("HashedPassword", &self.hashed_password);
        f.set_bytes("SecurePassword", &self.secure_password);
        f.set_uint("Type", self.hub_type);
        f.set_uint64("CreatedTime", self.created_time);
        f.set_uint64("LastCommTime", self.last_comm_time);
        f.set_uint64("LastLoginTime", self.last_login_time);
        f.set_uint("NumLogin", self.num_login);
        let o = f.folder_or_insert("Option");
        o.set_uint("MaxSession", self.max_session);
        o.set_bool("NoEnum", self.no_enum);
        let m = f.folder_or_insert("Message");
        match self.message.as_deref() {
            Some(t) if !t.is_empty() => m.set_str("MessageText", t),
            _ => {
                m.remove_item("MessageText");
            }
        }
        let db = f.folder_or_insert("SecurityAccountDatabase");
        let gl = db.folder_or_insert("GroupList");
        gl.folders = self.groups.iter().map(GroupConfig::to_folder).collect();
        let ul = db.folder_or_insert("UserList");
        ul.folders = self.users.iter().map(UserConfig::to_folder).collect();
        let cl = f.folder_or_insert("CascadeList");
        cl.folders = self
            .cascades
            .iter()
            .enumerate()
            .map(|(i, c)| c.to_folder(&format!("Cascade{i}")))
            .collect();
        f
    }
}

/// The 41 hub administration options of SoftEther 5.01 (`AdminOption`,
/// docs/config-format.md §7.7; names as written by the real server).
const ADMIN_OPTIONS: [&str; 41] = [
    "allow_hub_admin_change_option",
    "deny_bridge",
    "deny_change_user_password",
    "deny_empty_password",
    "deny_hub_admin_change_ext_option",
    "deny_qos",
    "deny_routing",
    "max_accesslists",
    "max_bitrates_download",
    "max_bitrates_upload",
    "max_groups",
    "max_multilogins_per_user",
    "max_sessions",
    "max_sessions_bridge",
    "max_sessions_client",
    "max_sessions_client_bridge_apply",
    "max_users",
    "no_access_list_include_file",
    "no_cascade",
    "no_change_access_control_list",
    "no_change_access_list",
    "no_change_admin_password",
    "no_change_cert_list",
    "no_change_crl_list",
    "no_change_groups",
    "no_change_log_config",
    "no_change_log_switch_type",
    "no_change_msg",
    "no_change_users",
    "no_delay_jitter_packet_loss",
    "no_delete_iptable",
    "no_delete_mactable",
    "no_disconnect_session",
    "no_enum_session",
    "no_offline",
    "no_online",
    "no_query_session",
    "no_read_log_file",
    "no_securenat",
    "no_securenat_enabledhcp",
    "no_securenat_enablenat",
];

/// A default value in the hub-option table.
#[derive(Clone, Copy)]
enum Dv {
    U(u32),
    B(bool),
    S(&'static str),
}

impl Dv {
    fn value(self) -> CfgValue {
        match self {
            Dv::U(v) => CfgValue::Uint(v),
            Dv::B(v) => CfgValue::Bool(v),
            Dv::S(v) => CfgValue::String(v.to_string()),
        }
    }
}

/// `Option` of a hub created by `CreateHub` on SoftEther 5.01 (verified on
/// the file the real server wrote; docs/config-format.md §7.7).
const HUB_OPTION_DEFAULTS: [(&str, Dv); 59] = [
    ("AccessListIncludeFileCacheLifetime", Dv::U(30)),
    ("AdjustTcpMssValue", Dv::U(0)),
    ("ApplyIPv4AccessListOnArpPacket", Dv::B(false)),
    ("AssignVLanIdByRadiusAttribute", Dv::B(false)),
    ("BroadcastLimiterStrictMode", Dv::B(false)),
    ("BroadcastStormDetectionThreshold", Dv::U(0)),
    ("ClientMinimumRequiredBuild", Dv::U(0)),
    ("DenyAllRadiusLoginWithNoVlanAssign", Dv::B(false)),
    ("DetectDormantSessionInterval", Dv::U(0)),
    ("DisableAdjustTcpMss", Dv::B(false)),
    ("DisableCheckMacOnLocalBridge", Dv::B(false)),
    ("DisableCorrectIpOffloadChecksum", Dv::B(false)),
    ("DisableHttpParsing", Dv::B(false)),
    ("DisableIPParsing", Dv::B(false)),
    ("DisableIpRawModeSecureNAT", Dv::B(false)),
    ("DisableKernelModeSecureNAT", Dv::B(false)),
    ("DisableUdpAcceleration", Dv::B(false)),
    ("DisableUdpFilterForLocalBridgeNic", Dv::B(false)),
    ("DisableUserModeSecureNAT", Dv::B(false)),
    ("DoNotSaveHeavySecurityLogs", Dv::B(false)),
    ("DropArpInPrivacyFilterMode", Dv::B(true)),
    ("DropBroadcastsInPrivacyFilterMode", Dv::B(true)),
    ("FilterBPDU", Dv::B(false)),
    ("FilterIPv4", Dv::B(false)),
    ("FilterIPv6", Dv::B(false)),
    ("FilterNonIP", Dv::B(false)),
    ("FilterOSPF", Dv::B(false)),
    ("FilterPPPoE", Dv::B(false)),
    ("FloodingSendQueueBufferQuota", Dv::U(33_554_432)),
    ("ManageOnlyLocalUnicastIPv6", Dv::B(true)),
    ("ManageOnlyPrivateIP", Dv::B(true)),
    ("MaxLoggedPacketsPerMinute", Dv::U(0)),
    ("MaxSession", Dv::U(0)),
    ("NoArpPolling", Dv::B(false)),
    ("NoDhcpPacketLogOutsideHub", Dv::B(true)),
    ("NoEnum", Dv::B(false)),
    ("NoIpTable", Dv::B(false)),
    ("NoIPv4PacketLog", Dv::B(false)),
    ("NoIPv6AddrPolling", Dv::B(false)),
    ("NoIPv6DefaultRouterInRAWhenIPv6", Dv::B(true)),
    ("NoIPv6PacketLog", Dv::B(false)),
    ("NoLookBPDUBridgeId", Dv::B(false)),
    ("NoMacAddressLog", Dv::B(true)),
    ("NoManageVlanId", Dv::B(false)),
    ("NoPhysicalIPOnPacketLog", Dv::B(false)),
    ("NoSpinLockForPacketDelay", Dv::B(false)),
    ("RemoveDefGwOnDhcpForLocalhost", Dv::B(true)),
    ("RequiredClientId", Dv::U(0)),
    ("SecureNAT_MaxDnsSessionsPerIp", Dv::U(0)),
    ("SecureNAT_MaxIcmpSessionsPerIp", Dv::U(0)),
    ("SecureNAT_MaxTcpSessionsPerIp", Dv::U(0)),
    ("SecureNAT_MaxTcpSynSentPerIp", Dv::U(0)),
    ("SecureNAT_MaxUdpSessionsPerIp", Dv::U(0)),
    ("SecureNAT_RandomizeAssignIp", Dv::B(false)),
    ("SuppressClientUpdateNotification", Dv::B(false)),
    ("UseHubNameAsDhcpUserClassOption", Dv::B(false)),
    ("UseHubNameAsRadiusNasId", Dv::B(false)),
    ("VlanTypeId", Dv::S("0x8100")),
    ("YieldAfterStorePacket", Dv::B(false)),
];

/// `SecureNAT` of a new hub: disabled, 192.168.30.1/24, DHCP .10–.200,
/// random virtual host MAC (docs/config-format.md §7.7).
fn secure_nat_defaults() -> Folder {
    let mut f = folder_with("SecureNAT", &[("Disabled", b(true)), ("SaveLog", b(true))]);
    f.add_folder(folder_with(
        "VirtualDhcpServer",
        &[
            ("DhcpDnsServerAddress", s("192.168.30.1")),
            ("DhcpDnsServerAddress2", s("0.0.0.0")),
            ("DhcpDomainName", s("")),
            ("DhcpEnabled", b(true)),
            ("DhcpExpireTimeSpan", u(7200)),
            ("DhcpGatewayAddress", s("192.168.30.1")),
            ("DhcpLeaseIPEnd", s("192.168.30.200")),
            ("DhcpLeaseIPStart", s("192.168.30.10")),
            ("DhcpPushRoutes", s("")),
            ("DhcpSubnetMask", s("255.255.255.0")),
        ],
    ));
    f.add_folder(folder_with(
        "VirtualHost",
        &[
            ("VirtualHostIp", s("192.168.30.1")),
            ("VirtualHostIpSubnetMask", s("255.255.255.0")),
            ("VirtualHostMacAddress", s(&format_mac(&random_mac()))),
        ],
    ));
    f.add_folder(folder_with(
        "VirtualRouter",
        &[
            ("NatEnabled", b(true)),
            ("NatMtu", u(1500)),
            ("NatTcpTimeout", u(1800)),
            ("NatUdpTimeout", u(60)),
        ],
    ));
    f
}

// ====================================================================== server settings

/// Default of `LogRetentionDays` ([`ServerSettings::log_retention_days`]).
pub const DEFAULT_LOG_RETENTION_DAYS: u32 = 90;
/// Default of `LogMaxTotalSize`, bytes (4 GiB,
/// [`ServerSettings::log_max_total_size`]).
pub const DEFAULT_LOG_MAX_TOTAL_SIZE: u64 = 4 << 30;

/// Default of `MaxCascadesPerHub` ([`ServerSettings::max_cascades_per_hub`]).
pub const DEFAULT_MAX_CASCADES_PER_HUB: u32 = 32;

/// `ServerConfiguration` (docs/config-format.md §7.6).
#[derive(Clone, Debug, PartialEq)]
pub struct ServerSettings {
    /// `HashedPassword`: server admin password, SHA-0(password); the empty
    /// password is SHA-0("") ([`empty_password_hash`]).
    pub hashed_password: [u8; 20],
    /// `ServerCert`: DER X.509 certificate; empty = not yet generated.
    pub server_cert_der: Vec<u8>,
    /// `ServerKey`: DER private key as stored (SoftEther: PKCS#1
    /// `RSAPrivateKey`; ours: whatever DER the server generated); empty =
    /// not yet generated.
    pub server_key_der: Vec<u8>,
    /// `ListenIP`: address the listeners bind to (`0.0.0.0` = all).
    pub listen_ip: IpAddr,
    /// `UseKeepConnect`: internet keep-alive packets (RustEther never sends them).
    pub use_keep_connect: bool,
    /// `DisableNatTraversal`.
    pub disable_nat_traversal: bool,
    /// `AutoSaveConfigSpan` in seconds as stored; see
    /// [`ServerSettings::auto_save_interval`].
    pub auto_save_config_span: u32,
    /// `DontBackupConfig`: no backup copies when saving.
    pub dont_backup_config: bool,
    /// `DisableJsonRpcWebApi`: no `/api/` and `/admin` over HTTPS.
    pub disable_json_rpc_web_api: bool,
    /// `Tls_Disable1_0`.
    pub tls_disable1_0: bool,
    /// `Tls_Disable1_1`.
    pub tls_disable1_1: bool,
    /// `Tls_Disable1_2`.
    pub tls_disable1_2: bool,
    /// `CipherName`: TLS cipher list (`~DEFAULT~`).
    pub cipher_name: String,
    /// `MaxConnectionsPerIP` (default 256).
    pub max_connections_per_ip: u32,
    /// `MaxUnestablishedConnections` (default 1000).
    pub max_unestablished_connections: u32,
    /// `DisableDosProtection`.
    pub disable_dos_protection: bool,
    /// `DisableIPv6Listener`: no `[::]` twin for each TCP listener.
    pub disable_ipv6_listener: bool,
    /// `UsernameHubSeparator`: character between user and hub name in a
    /// login name (`user@HUB`); empty = none configured.
    pub username_hub_separator: String,
    /// The folder as loaded (or the complete default key set).
    pub raw: Folder,
}

impl ServerSettings {
    /// `MaxCascadesPerHub` (RustEther only, kept in `raw`): the most
    /// cascades a virtual hub may have; missing = [`DEFAULT_MAX_CASCADES_PER_HUB`],
    /// 0 = unlimited. SoftEther has no such limit (issue 9 item 4).
    pub fn max_cascades_per_hub(&self) -> Option<usize> {
        match self
            .raw
            .get_uint("MaxCascadesPerHub")
            .unwrap_or(DEFAULT_MAX_CASCADES_PER_HUB)
        {
            0 => None,
            n => Some(n as usize),
        }
    }

    /// `LogRetentionDays` (RustEther only, kept in `raw`): daily log files
    /// last written more than this many days ago are deleted; missing =
    /// [`DEFAULT_LOG_RETENTION_DAYS`], 0 = no age limit.
    pub fn log_retention_days(&self) -> u32 {
        self.raw
            .get_uint("LogRetentionDays")
            .unwrap_or(DEFAULT_LOG_RETENTION_DAYS)
    }

    /// `LogMaxTotalSize` (RustEther only, kept in `raw`), bytes: the oldest
    /// daily log files are deleted while all of them together are larger;
    /// missing = [`DEFAULT_LOG_MAX_TOTAL_SIZE`], 0 = no size limit.
    pub fn log_max_total_size(&self) -> u64 {
        self.raw
            .get_uint64("LogMaxTotalSize")
            .or_else(|| self.raw.get_uint("LogMaxTotalSize").map(u64::from))
            .unwrap_or(DEFAULT_LOG_MAX_TOTAL_SIZE)
    }

    /// `AllowLocalEmptyPasswordAdmin` (RustEther only, kept in `raw`):
    /// whether an empty server administrator password is accepted from a
    /// local source (docs/administration.md, SECURITY.md). Missing = true
    /// (SoftEther's behaviour); set it to false on a host where a TCP proxy
    /// (sslh, stunnel, `ssh -L`, port forwards) makes remote clients appear
    /// local.
    pub fn allow_local_empty_password_admin(&self) -> bool {
        self.raw
            .get_bool("AllowLocalEmptyPasswordAdmin")
            .unwrap_or(true)
    }

    /// The effective save interval: `AutoSaveConfigSpan` seconds, 0 = 300,
    /// clamped to 5…3600 (docs/config-format.md §6.1).
    pub fn auto_save_interval(&self) -> Duration {
        let secs = match self.auto_save_config_span {
            0 => 300,
            s => s.clamp(5, 3600),
        };
        Duration::from_secs(u64::from(secs))
    }

    /// Defaults of a fresh RustEther installation (complete 5.01 key set;
    /// internet features, UDP ports, OpenVPN and SSTP off).
    fn initial() -> ServerSettings {
        let raw = folder_with(
            "ServerConfiguration",
            &[
                (
                    "AutoDeleteCheckDiskFreeSpaceMin",
                    CfgValue::Uint64(104_857_600),
                ),
                ("AutoDeleteCheckIntervalSecs", u(300)),
                ("BackupConfigOnlyWhenModified", b(true)),
                ("DhParamBits", u(2048)),
                ("DisableCoreDumpOnUnix", b(false)),
                ("DisableDeadLockCheck", b(false)),
                ("DisableGetHostNameWhenAcceptTcp", b(false)),
                ("DisableIPsecAggressiveMode", b(false)),
                ("DisableSessionReconnect", b(false)),
                ("EnableVpnOverDns", b(false)),
                ("EnableVpnOverIcmp", b(false)),
                ("KeepConnectHost", s("keepalive.softether.org")),
                ("KeepConnectInterval", u(50)),
                ("KeepConnectPort", u(80)),
                ("KeepConnectProtocol", u(1)),
                ("LoggerMaxLogSize", CfgValue::Uint64(1_073_741_823)),
                ("MaxConcurrentDnsClientThreads", u(512)),
                ("NoHighPriorityProcess", b(false)),
                ("NoLinuxArpFilter", b(false)),
                ("NoSendSignature", b(false)),
                ("PortsUDP", s("")),
                ("SaveDebugLog", b(false)),
                ("ServerLogSwitchType", u(4)),
                ("ServerType", u(0)),
                ("StrictSyslogDatetimeFormat", b(false)),
                ("UseWebTimePage", b(false)),
                ("UseWebUI", b(false)),
            ],
        );
        let mut raw = raw;
        let proto = raw.folder_or_insert("Proto");
        proto.add_folder(folder_with("OpenVPN", &[("Enabled", b(false))]));
        proto.add_folder(folder_with("SSTP", &[("Enabled", b(false))]));
        raw.add_folder(zero_traffic("ServerTraffic"));
        raw.add_folder(folder_with(
            "SyslogSettings",
            &[("HostName", s("")), ("Port", u(0)), ("SaveType", u(0))],
        ));
        ServerSettings {
            hashed_password: empty_password_hash(),
            server_cert_der: Vec::new(),
            server_key_der: Vec::new(),
            listen_ip: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            use_keep_connect: false,
            disable_nat_traversal: true,
            auto_save_config_span: 300,
            dont_backup_config: false,
            disable_json_rpc_web_api: false,
            tls_disable1_0: false,
            tls_disable1_1: false,
            tls_disable1_2: false,
            cipher_name: "~DEFAULT~".into(),
            max_connections_per_ip: 256,
            max_unestablished_connections: 1000,
            disable_dos_protection: false,
            disable_ipv6_listener: false,
            username_hub_separator: "@".into(),
            raw,
        }
    }

    fn from_folder(r: &Rd) -> Result<ServerSettings, ConfigError> {
        let listen_ip = match r.str("ListenIP")?.map(str::trim) {
            None | Some("") => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Some(t) => t
                .parse()
                .map_err(|_| r.bad("ListenIP", format!("`{t}` is not an IP address")))?,
        };
        Ok(ServerSettings {
            // Missing or short → empty password (`SiLoadServerCfg`); a wrong
            // length is rejected here.
            hashed_password: r
                .fixed::<20>("HashedPassword")?
                .unwrap_or_else(empty_password_hash),
            server_cert_der: r.bytes("ServerCert")?.unwrap_or_default().to_vec(),
            server_key_der: r.bytes("ServerKey")?.unwrap_or_default().to_vec(),
            listen_ip,
            use_keep_connect: r.bool_or("UseKeepConnect", false)?,
            disable_nat_traversal: r.bool_or("DisableNatTraversal", false)?,
            auto_save_config_span: r.u32_or("AutoSaveConfigSpan", 0)?,
            dont_backup_config: r.bool_or("DontBackupConfig", false)?,
            disable_json_rpc_web_api: r.bool_or("DisableJsonRpcWebApi", false)?,
            tls_disable1_0: r.bool_or("Tls_Disable1_0", false)?,
            tls_disable1_1: r.bool_or("Tls_Disable1_1", false)?,
            tls_disable1_2: r.bool_or("Tls_Disable1_2", false)?,
            cipher_name: r.string_or("CipherName", "~DEFAULT~")?,
            max_connections_per_ip: r.u32_or("MaxConnectionsPerIP", 256)?,
            max_unestablished_connections: r.u32_or("MaxUnestablishedConnections", 1000)?,
            disable_dos_protection: r.bool_or("DisableDosProtection", false)?,
            disable_ipv6_listener: r.bool_or("DisableIPv6Listener", false)?,
            username_hub_separator: r.string_or("UsernameHubSeparator", "")?,
            raw: r.f.clone(),
        })
    }

    fn to_folder(&self) -> Folder {
        let mut f = self.raw.clone();
        f.name = "ServerConfiguration".into();
        f.set_bytes("HashedPassword", &self.hashed_password);
        f.set_bytes("ServerCert", &self.server_cert_der);
        f.set_bytes("ServerKey", &self.server_key_der);
        f.set_str("ListenIP", &self.listen_ip.to_string());
        f.set_bool("UseKeepConnect", self.use_keep_connect);
        f.set_bool("DisableNatTraversal", self.disable_nat_traversal);
        f.set_uint("AutoSaveConfigSpan", self.auto_save_config_span);
        f.set_bool("DontBackupConfig", self.dont_backup_config);
        f.set_bool("DisableJsonRpcWebApi", self.disable_json_rpc_web_api);
        f.set_bool("Tls_Disable1_0", self.tls_disable1_0);
        f.set_bool("Tls_Disable1_1", self.tls_disable1_1);
        f.set_bool("Tls_Disable1_2", self.tls_disable1_2);
        f.set_str("CipherName", &self.cipher_name);
        f.set_uint("MaxConnectionsPerIP", self.max_connections_per_ip);
        f.set_uint(
            "MaxUnestablishedConnections",
            self.max_unestablished_connections,
        );
        f.set_bool("DisableDosProtection", self.disable_dos_protection);
        f.set_bool("DisableIPv6Listener", self.disable_ipv6_listener);
        f.set_str("UsernameHubSeparator", &self.username_hub_separator);
        f
    }
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
    pub fn from_root(root: &Folder) -> Result<ServerConfig, ConfigError> {
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
                hubs.push(HubConfig::from_folder(&vh.sub(f))?);
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
    /// left empty: the server generates them.
    pub fn initial(edition: Edition) -> ServerConfig {
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
        let mut hub = HubConfig::new(hub_name);
        if edition == Edition::Bridge {
            let mut rng = rand::thread_rng();
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
        // Observed on 5.01 build 9674: a hub created at
        // 2026-11-22T02:56:42.605Z (Unix ms 1795316202605) is saved as
        // `uint64 CreatedTime 1795283802605`.
        assert_eq!(
            softether_time_from_unix_ms(1_795_316_202_605),
            1_795_283_802_605
        );
        assert_eq!(
            unix_ms_from_softether_time(1_795_283_802_605),
            1_795_316_202_605
        );
        assert_eq!(unix_ms_from_softether_time(0), 0);
        assert_eq!(softether_time_from_unix_ms(5), 0);
        let unix = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis() as u64;
        let now = now_ms();
        assert!(now + SOFTETHER_EPOCH_OFFSET_MS >= unix);
        assert!(now + SOFTETHER_EPOCH_OFFSET_MS - unix < 5_000);
        let h = HubConfig::new("T");
        assert!(h.created_time <= now_ms() && h.created_time + 5_000 >= now);
        let u = UserConfig::new("u", UserAuth::Anonymous);
        assert!(u.created_time + SOFTETHER_EPOCH_OFFSET_MS <= unix + 5_000);
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
    fn names() {
        assert!(is_valid_hub_name("DEFAULT"));
        assert!(is_valid_hub_name("A B (x)-_#%&."));
        assert!(!is_valid_hub_name(""));
        assert!(!is_valid_hub_name(" A"));
        assert!(!is_valid_hub_name("A "));
        assert!(!is_valid_hub_name("a@b"));
        assert!(!is_valid_hub_name("hübsch"));
        assert!(!is_valid_hub_name(&"x".repeat(256)));
        assert!(is_valid_hub_name(&"x".repeat(255)));
        assert!(is_valid_user_name("alice@example.com"));
        assert!(is_valid_user_name("*"));
        for bad in [
            "",
            "Administrator",
            "LINK",
            "cascade",
            "SecureNat",
            "LocalBridge",
            "local bridge",
            "L3SW_x",
            "a*b",
            "a/b",
            " a",
        ] {
            assert!(!is_valid_user_name(bad), "{bad}");
        }
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
        assert_eq!(f.items.len(), POLICY_BOOLS.len() + POLICY_UINTS.len());
        let c = cascade_default_policy();
        assert_eq!(c.items.len(), 25); // the verified cascade subset
        assert!(c.item("Access").is_none());
    }
}
