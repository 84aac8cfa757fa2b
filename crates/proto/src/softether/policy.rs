//! SoftEther's security policies: the one table of their names, types,
//! defaults and how RustEther enforces each of them.
//!
//! Source: `POLICY` and `policy_item[]` in SoftEther `src/Cedar/Account.h`
//! and `src/Cedar/Account.c` (index, type, range, default), the default
//! policy `GetDefaultPolicy` (`Account.c`), `SiWritePolicyCfg`
//! (`src/Cedar/Server.c`, the keys of a cascade's `Policy` folder) and
//! `PackAddPolicy` (`src/Cedar/Protocol.c`, the `policy:<Name>` elements).
//! Which policies RustEther applies, and where, is documented in
//! `docs/policies.md`.

/// Identifies a policy; the discriminant is SoftEther's policy index
/// (`policy_item[].Index`, 0‥37) and `Ver3` (38) is the version marker
/// `PackAddPolicy` adds.
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u8)]
#[allow(missing_docs)] // the names are SoftEther's policy names
pub enum PolicyId {
    Access = 0,
    DHCPFilter,
    DHCPNoServer,
    DHCPForce,
    NoBridge,
    NoRouting,
    CheckMac,
    CheckIP,
    ArpDhcpOnly,
    PrivacyFilter,
    NoServer,
    NoBroadcastLimiter,
    MonitorPort,
    MaxConnection,
    TimeOut,
    MaxMac,
    MaxIP,
    MaxUpload,
    MaxDownload,
    FixPassword,
    MultiLogins,
    NoQoS,
    RSandRAFilter,
    RAFilter,
    DHCPv6Filter,
    DHCPv6NoServer,
    NoRoutingV6,
    CheckIPv6,
    NoServerV6,
    MaxIPv6,
    NoSavePassword,
    AutoDisconnect,
    FilterIPv4,
    FilterIPv6,
    FilterNonIP,
    NoIPv6DefaultRouterInRA,
    NoIPv6DefaultRouterInRAWhenIPv6,
    VLanId,
    Ver3,
}

/// Value type of a policy.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum PolicyKind {
    /// A flag: 0 or 1 (`bool` in the configuration, INT 0/1 in a PACK).
    Bool,
    /// An unsigned integer in `min..=max`; 0 is "unlimited/none" when
    /// `allow_zero` (SoftEther `policy_item[]`).
    Uint {
        /// Smallest non-zero value the administration accepts.
        min: u32,
        /// Largest value.
        max: u32,
        /// 0 is allowed and means "no limit".
        allow_zero: bool,
    },
}

/// Where RustEther applies a policy.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum Enforcement {
    /// Decided at login (refusal with SoftEther's error code, or the
    /// negotiated session parameters).
    Login,
    /// Applied per frame by the virtual hub.
    DataPath,
    /// Applied by the session (timers, shaping).
    Session,
    /// Sent to the client in the welcome; SoftEther's VPN client applies it.
    Client,
    /// Stored, administered and sent to the client, but not applied by
    /// RustEther; the text says why. Listed in `docs/policies.md`.
    NotEnforced(&'static str),
    /// Not a policy: the `Ver3` marker of the PACK form.
    Marker,
}

/// One policy of the table.
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub struct PolicyDef {
    /// Identifier (SoftEther's index).
    pub id: PolicyId,
    /// Name as in the configuration file and after `policy:` in a PACK.
    pub name: &'static str,
    /// Value type.
    pub kind: PolicyKind,
    /// Value in SoftEther's default policy (`GetDefaultPolicy`), booleans as 0/1.
    pub default: u32,
    /// Present in a cascade's `Policy` folder (`SiWritePolicyCfg` with
    /// `cascade_mode`).
    pub for_cascade: bool,
    /// Stored in the configuration file (every policy but `Ver3`).
    pub in_config: bool,
    /// How RustEther applies it.
    pub enforcement: Enforcement,
}

impl PolicyDef {
    /// Whether RustEther applies the policy (everything but
    /// [`Enforcement::NotEnforced`] and the marker).
    pub fn is_enforced(&self) -> bool {
        !matches!(
            self.enforcement,
            Enforcement::NotEnforced(_) | Enforcement::Marker
        )
    }

    /// Whether the value is a flag.
    pub fn is_bool(&self) -> bool {
        self.kind == PolicyKind::Bool
    }
}

/// Number of entries of [`POLICIES`] (38 policies and `Ver3`).
pub const POLICY_COUNT: usize = 39;

const fn b(id: PolicyId, name: &'static str, for_cascade: bool, e: Enforcement) -> PolicyDef {
    PolicyDef {
        id,
        name,
        kind: PolicyKind::Bool,
        default: 0,
        for_cascade,
        in_config: true,
        enforcement: e,
    }
}

#[allow(clippy::too_many_arguments)]
const fn u(
    id: PolicyId,
    name: &'static str,
    min: u32,
    max: u32,
    allow_zero: bool,
    default: u32,
    for_cascade: bool,
    e: Enforcement,
) -> PolicyDef {
    PolicyDef {
        id,
        name,
        kind: PolicyKind::Uint {
            min,
            max,
            allow_zero,
        },
        default,
        for_cascade,
        in_config: true,
        enforcement: e,
    }
}

use Enforcement::{Client, DataPath, Login, NotEnforced, Session};
use PolicyId as P;

/// Every policy in SoftEther's index order; `POLICIES[id as usize].id == id`.
pub const POLICIES: [PolicyDef; POLICY_COUNT] = [
    {
        let mut d = b(P::Access, "Access", false, Login);
        d.default = 1;
        d
    },
    b(P::DHCPFilter, "DHCPFilter", true, DataPath),
    b(P::DHCPNoServer, "DHCPNoServer", true, DataPath),
    b(P::DHCPForce, "DHCPForce", true, DataPath),
    b(P::NoBridge, "NoBridge", false, DataPath),
    b(P::NoRouting, "NoRouting", false, DataPath),
    b(P::CheckMac, "CheckMac", true, DataPath),
    b(P::CheckIP, "CheckIP", true, DataPath),
    b(P::ArpDhcpOnly, "ArpDhcpOnly", true, DataPath),
    b(P::PrivacyFilter, "PrivacyFilter", false, DataPath),
    b(P::NoServer, "NoServer", true, DataPath),
    b(
        P::NoBroadcastLimiter,
        "NoBroadcastLimiter",
        true,
        NotEnforced(
            "RustEther has no broadcast limiter: every session behaves as with NoBroadcastLimiter",
        ),
    ),
    b(P::MonitorPort, "MonitorPort", false, Login),
    u(
        P::MaxConnection,
        "MaxConnection",
        1,
        32,
        false,
        32,
        false,
        Login,
    ),
    u(P::TimeOut, "TimeOut", 5, 60, false, 20, false, Login),
    u(P::MaxMac, "MaxMac", 1, 65535, true, 0, true, DataPath),
    u(P::MaxIP, "MaxIP", 1, 65535, true, 0, true, DataPath),
    u(
        P::MaxUpload,
        "MaxUpload",
        1,
        u32::MAX,
        true,
        0,
        true,
        Session,
    ),
    u(
        P::MaxDownload,
        "MaxDownload",
        1,
        u32::MAX,
        true,
        0,
        true,
        Session,
    ),
    b(
        P::FixPassword,
        "FixPassword",
        false,
        NotEnforced("users cannot change their password through RustEther"),
    ),
    u(
        P::MultiLogins,
        "MultiLogins",
        1,
        65535,
        true,
        0,
        false,
        Login,
    ),
    b(P::NoQoS, "NoQoS", false, Login),
    b(P::RSandRAFilter, "RSandRAFilter", true, DataPath),
    b(P::RAFilter, "RAFilter", true, DataPath),
    b(P::DHCPv6Filter, "DHCPv6Filter", true, DataPath),
    b(P::DHCPv6NoServer, "DHCPv6NoServer", true, DataPath),
    b(P::NoRoutingV6, "NoRoutingV6", false, DataPath),
    b(P::CheckIPv6, "CheckIPv6", true, DataPath),
    b(P::NoServerV6, "NoServerV6", true, DataPath),
    u(P::MaxIPv6, "MaxIPv6", 1, 65535, true, 0, true, DataPath),
    b(P::NoSavePassword, "NoSavePassword", false, Client),
    u(
        P::AutoDisconnect,
        "AutoDisconnect",
        1,
        u32::MAX,
        true,
        0,
        false,
        Session,
    ),
    b(P::FilterIPv4, "FilterIPv4", true, DataPath),
    b(P::FilterIPv6, "FilterIPv6", true, DataPath),
    b(P::FilterNonIP, "FilterNonIP", true, DataPath),
    b(
        P::NoIPv6DefaultRouterInRA,
        "NoIPv6DefaultRouterInRA",
        true,
        DataPath,
    ),
    b(
        P::NoIPv6DefaultRouterInRAWhenIPv6,
        "NoIPv6DefaultRouterInRAWhenIPv6",
        true,
        DataPath,
    ),
    u(P::VLanId, "VLanId", 1, 4095, true, 0, true, DataPath),
    PolicyDef {
        id: P::Ver3,
        name: "Ver3",
        kind: PolicyKind::Bool,
        default: 1,
        for_cascade: false,
        in_config: false,
        enforcement: Enforcement::Marker,
    },
];

impl PolicyId {
    /// The table entry.
    pub fn def(self) -> &'static PolicyDef {
        &POLICIES[self as usize]
    }

    /// The policy's name (`"MonitorPort"`).
    pub fn name(self) -> &'static str {
        self.def().name
    }
}

/// The table entry named `name` (ASCII case-insensitive, as SoftEther's
/// configuration and PACK lookups).
pub fn find(name: &str) -> Option<&'static PolicyDef> {
    POLICIES.iter().find(|d| d.name.eq_ignore_ascii_case(name))
}

/// The policies stored in a configuration file's `Policy` folder.
pub fn config_keys() -> impl Iterator<Item = &'static PolicyDef> {
    POLICIES.iter().filter(|d| d.in_config)
}

/// A complete set of policy values (booleans as 0/1), indexed by
/// [`PolicyId`]: what a session runs with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyValues([u32; POLICY_COUNT]);

impl Default for PolicyValues {
    /// SoftEther's default policy (`GetDefaultPolicy`).
    fn default() -> Self {
        let mut v = [0; POLICY_COUNT];
        for d in &POLICIES {
            v[d.id as usize] = d.default;
        }
        PolicyValues(v)
    }
}

impl PolicyValues {
    /// The value of `id`.
    #[inline]
    pub fn get(&self, id: PolicyId) -> u32 {
        self.0[id as usize]
    }

    /// Whether `id` is non-zero.
    #[inline]
    pub fn flag(&self, id: PolicyId) -> bool {
        self.0[id as usize] != 0
    }

    /// Sets `id` (a boolean policy stores 0/1).
    pub fn set(&mut self, id: PolicyId, v: u32) {
        self.0[id as usize] = if id.def().is_bool() {
            u32::from(v != 0)
        } else {
            v
        };
    }

    /// Sets a flag.
    pub fn set_flag(&mut self, id: PolicyId, on: bool) {
        self.0[id as usize] = u32::from(on);
    }

    /// Every (entry, value), in table order.
    pub fn iter(&self) -> impl Iterator<Item = (&'static PolicyDef, u32)> + '_ {
        POLICIES.iter().map(|d| (d, self.0[d.id as usize]))
    }

    /// Policies that are set to a non-default value although RustEther does
    /// not enforce them, for the warning logged at login.
    pub fn unenforced_in_use(&self) -> impl Iterator<Item = &'static PolicyDef> + '_ {
        self.iter()
            .filter(|(d, v)| {
                matches!(d.enforcement, Enforcement::NotEnforced(_)) && *v != d.default
            })
            .map(|(d, _)| d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_is_indexed_by_id_and_names_are_unique() {
        for (i, d) in POLICIES.iter().enumerate() {
            assert_eq!(d.id as usize, i, "{}", d.name);
            assert_eq!(find(d.name).map(|x| x.id), Some(d.id));
            assert_eq!(find(&d.name.to_ascii_lowercase()).map(|x| x.id), Some(d.id));
        }
        assert_eq!(config_keys().count(), 38);
        assert!(find("nothing").is_none());
    }

    #[test]
    fn defaults_are_softethers_default_policy() {
        let v = PolicyValues::default();
        assert!(v.flag(PolicyId::Access));
        assert!(!v.flag(PolicyId::MonitorPort));
        assert_eq!(v.get(PolicyId::MaxConnection), 32);
        assert_eq!(v.get(PolicyId::TimeOut), 20);
        assert!(v.flag(PolicyId::Ver3));
        let nonzero: Vec<_> = v
            .iter()
            .filter(|(_, x)| *x != 0)
            .map(|(d, _)| d.name)
            .collect();
        assert_eq!(nonzero, ["Access", "MaxConnection", "TimeOut", "Ver3"]);
        assert_eq!(v.unenforced_in_use().count(), 0);
    }

    #[test]
    fn cascade_folder_has_softethers_25_keys() {
        // SiWritePolicyCfg(cascade_mode) skips 13 of the 38 policies.
        assert_eq!(POLICIES.iter().filter(|d| d.for_cascade).count(), 25);
    }

    #[test]
    fn set_normalises_flags_and_reports_unenforced() {
        let mut v = PolicyValues::default();
        v.set(PolicyId::CheckMac, 7);
        assert_eq!(v.get(PolicyId::CheckMac), 1);
        v.set(PolicyId::FixPassword, 1);
        let names: Vec<_> = v.unenforced_in_use().map(|d| d.name).collect();
        assert_eq!(names, ["FixPassword"]);
    }
}
