//! Extended options of a virtual hub (`HUB_OPTION`; vpncmd `ExtOptionList`,
//! `ExtOptionSet`; `HubOptionStructToData`/`DataToHubOptionStruct` of
//! src/Cedar/Hub.c at SoftEther 5.01, stored in the hub's `Option` folder by
//! `SiWriteHubOptionCfg` of src/Cedar/Server.c).

/// One extended option: its RPC name, its key in the hub's `Option` folder
/// of vpn_server.config, and whether this server enforces it
/// (docs/administration.md lists the others as stored only).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ExtOption {
    /// Name in the RPC (`Name[]`), e.g. `NoAddressPollingIPv4`.
    pub name: &'static str,
    /// Key in `VirtualHUB/<hub>/Option`, e.g. `NoArpPolling`.
    pub key: &'static str,
    /// How the value is written in the configuration file.
    pub kind: ExtKind,
    /// The running server acts on it.
    pub enforced: bool,
}

/// The item type of an extended option in `VirtualHUB/<hub>/Option`
/// (`SiWriteHubOptionCfg`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ExtKind {
    /// `bool` (the RPC value is 0 or 1; any non-zero value is true).
    Bool,
    /// `uint`.
    Uint,
    /// `string` holding `0x` and hex digits (`VlanTypeId`, default
    /// `0x8100` when 0 or missing).
    Hex,
}

/// The 58 extended options of SoftEther 5.01, in its order.
pub const EXT_OPTIONS: [ExtOption; 58] = [
    ExtOption {
        name: "NoAddressPollingIPv4",
        key: "NoArpPolling",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "NoAddressPollingIPv6",
        key: "NoIPv6AddrPolling",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "NoIpTable",
        key: "NoIpTable",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "NoMacAddressLog",
        key: "NoMacAddressLog",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "ManageOnlyPrivateIP",
        key: "ManageOnlyPrivateIP",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "ManageOnlyLocalUnicastIPv6",
        key: "ManageOnlyLocalUnicastIPv6",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "DisableIPParsing",
        key: "DisableIPParsing",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "YieldAfterStorePacket",
        key: "YieldAfterStorePacket",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "NoSpinLockForPacketDelay",
        key: "NoSpinLockForPacketDelay",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "BroadcastStormDetectionThreshold",
        key: "BroadcastStormDetectionThreshold",
        kind: ExtKind::Uint,
        enforced: false,
    },
    ExtOption {
        name: "ClientMinimumRequiredBuild",
        key: "ClientMinimumRequiredBuild",
        kind: ExtKind::Uint,
        enforced: false,
    },
    ExtOption {
        name: "FilterPPPoE",
        key: "FilterPPPoE",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "FilterOSPF",
        key: "FilterOSPF",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "FilterIPv4",
        key: "FilterIPv4",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "FilterIPv6",
        key: "FilterIPv6",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "FilterNonIP",
        key: "FilterNonIP",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "NoIPv4PacketLog",
        key: "NoIPv4PacketLog",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "NoIPv6PacketLog",
        key: "NoIPv6PacketLog",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "FilterBPDU",
        key: "FilterBPDU",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "NoIPv6DefaultRouterInRAWhenIPv6",
        key: "NoIPv6DefaultRouterInRAWhenIPv6",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "NoLookBPDUBridgeId",
        key: "NoLookBPDUBridgeId",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "NoManageVlanId",
        key: "NoManageVlanId",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "VlanTypeId",
        key: "VlanTypeId",
        kind: ExtKind::Hex,
        enforced: false,
    },
    ExtOption {
        name: "FixForDLinkBPDU",
        key: "FixForDLinkBPDU",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "RequiredClientId",
        key: "RequiredClientId",
        kind: ExtKind::Uint,
        enforced: false,
    },
    ExtOption {
        name: "AdjustTcpMssValue",
        key: "AdjustTcpMssValue",
        kind: ExtKind::Uint,
        enforced: false,
    },
    ExtOption {
        name: "DisableAdjustTcpMss",
        key: "DisableAdjustTcpMss",
        kind: ExtKind::Bool,
        enforced: true,
    },
    ExtOption {
        name: "NoDhcpPacketLogOutsideHub",
        key: "NoDhcpPacketLogOutsideHub",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "DisableHttpParsing",
        key: "DisableHttpParsing",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "DisableUdpAcceleration",
        key: "DisableUdpAcceleration",
        kind: ExtKind::Bool,
        enforced: true,
    },
    ExtOption {
        name: "DisableUdpFilterForLocalBridgeNic",
        key: "DisableUdpFilterForLocalBridgeNic",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "ApplyIPv4AccessListOnArpPacket",
        key: "ApplyIPv4AccessListOnArpPacket",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "RemoveDefGwOnDhcpForLocalhost",
        key: "RemoveDefGwOnDhcpForLocalhost",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "SecureNAT_MaxTcpSessionsPerIp",
        key: "SecureNAT_MaxTcpSessionsPerIp",
        kind: ExtKind::Uint,
        enforced: true,
    },
    ExtOption {
        name: "SecureNAT_MaxTcpSynSentPerIp",
        key: "SecureNAT_MaxTcpSynSentPerIp",
        kind: ExtKind::Uint,
        enforced: true,
    },
    ExtOption {
        name: "SecureNAT_MaxUdpSessionsPerIp",
        key: "SecureNAT_MaxUdpSessionsPerIp",
        kind: ExtKind::Uint,
        enforced: true,
    },
    ExtOption {
        name: "SecureNAT_MaxDnsSessionsPerIp",
        key: "SecureNAT_MaxDnsSessionsPerIp",
        kind: ExtKind::Uint,
        enforced: true,
    },
    ExtOption {
        name: "SecureNAT_MaxIcmpSessionsPerIp",
        key: "SecureNAT_MaxIcmpSessionsPerIp",
        kind: ExtKind::Uint,
        enforced: true,
    },
    ExtOption {
        name: "AccessListIncludeFileCacheLifetime",
        key: "AccessListIncludeFileCacheLifetime",
        kind: ExtKind::Uint,
        enforced: false,
    },
    ExtOption {
        name: "DisableKernelModeSecureNAT",
        key: "DisableKernelModeSecureNAT",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "DisableIpRawModeSecureNAT",
        key: "DisableIpRawModeSecureNAT",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "DisableUserModeSecureNAT",
        key: "DisableUserModeSecureNAT",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "DisableCheckMacOnLocalBridge",
        key: "DisableCheckMacOnLocalBridge",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "DisableCorrectIpOffloadChecksum",
        key: "DisableCorrectIpOffloadChecksum",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "BroadcastLimiterStrictMode",
        key: "BroadcastLimiterStrictMode",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "MaxLoggedPacketsPerMinute",
        key: "MaxLoggedPacketsPerMinute",
        kind: ExtKind::Uint,
        enforced: false,
    },
    ExtOption {
        name: "DoNotSaveHeavySecurityLogs",
        key: "DoNotSaveHeavySecurityLogs",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "DropBroadcastsInPrivacyFilterMode",
        key: "DropBroadcastsInPrivacyFilterMode",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "DropArpInPrivacyFilterMode",
        key: "DropArpInPrivacyFilterMode",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "SuppressClientUpdateNotification",
        key: "SuppressClientUpdateNotification",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "FloodingSendQueueBufferQuota",
        key: "FloodingSendQueueBufferQuota",
        kind: ExtKind::Uint,
        enforced: false,
    },
    ExtOption {
        name: "AssignVLanIdByRadiusAttribute",
        key: "AssignVLanIdByRadiusAttribute",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "DenyAllRadiusLoginWithNoVlanAssign",
        key: "DenyAllRadiusLoginWithNoVlanAssign",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "SecureNAT_RandomizeAssignIp",
        key: "SecureNAT_RandomizeAssignIp",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "DetectDormantSessionInterval",
        key: "DetectDormantSessionInterval",
        kind: ExtKind::Uint,
        enforced: false,
    },
    ExtOption {
        name: "NoPhysicalIPOnPacketLog",
        key: "NoPhysicalIPOnPacketLog",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "UseHubNameAsDhcpUserClassOption",
        key: "UseHubNameAsDhcpUserClassOption",
        kind: ExtKind::Bool,
        enforced: false,
    },
    ExtOption {
        name: "UseHubNameAsRadiusNasId",
        key: "UseHubNameAsRadiusNasId",
        kind: ExtKind::Bool,
        enforced: false,
    },
];

/// The option called `name` (case-insensitive), as `DataToHubOptionStruct`
/// looks names up.
pub fn find(name: &str) -> Option<&'static ExtOption> {
    EXT_OPTIONS
        .iter()
        .find(|o| o.name.eq_ignore_ascii_case(name))
}
