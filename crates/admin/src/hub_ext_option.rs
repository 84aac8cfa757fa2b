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
    /// Key in `VirtualHUB/<hub>/Option`, e.g. `NoArpPolling`. `VlanTypeId`
    /// is a hex string there (`0x8100`), every other key a bool or uint.
    pub key: &'static str,
    /// The running server acts on it.
    pub enforced: bool,
}

/// The 58 extended options of SoftEther 5.01, in its order.
pub const EXT_OPTIONS: [ExtOption; 58] = [
    ExtOption {
        name: "NoAddressPollingIPv4",
        key: "NoArpPolling",
        enforced: false,
    },
    ExtOption {
        name: "NoAddressPollingIPv6",
        key: "NoIPv6AddrPolling",
        enforced: false,
    },
    ExtOption {
        name: "NoIpTable",
        key: "NoIpTable",
        enforced: false,
    },
    ExtOption {
        name: "NoMacAddressLog",
        key: "NoMacAddressLog",
        enforced: false,
    },
    ExtOption {
        name: "ManageOnlyPrivateIP",
        key: "ManageOnlyPrivateIP",
        enforced: false,
    },
    ExtOption {
        name: "ManageOnlyLocalUnicastIPv6",
        key: "ManageOnlyLocalUnicastIPv6",
        enforced: false,
    },
    ExtOption {
        name: "DisableIPParsing",
        key: "DisableIPParsing",
        enforced: false,
    },
    ExtOption {
        name: "YieldAfterStorePacket",
        key: "YieldAfterStorePacket",
        enforced: false,
    },
    ExtOption {
        name: "NoSpinLockForPacketDelay",
        key: "NoSpinLockForPacketDelay",
        enforced: false,
    },
    ExtOption {
        name: "BroadcastStormDetectionThreshold",
        key: "BroadcastStormDetectionThreshold",
        enforced: false,
    },
    ExtOption {
        name: "ClientMinimumRequiredBuild",
        key: "ClientMinimumRequiredBuild",
        enforced: false,
    },
    ExtOption {
        name: "FilterPPPoE",
        key: "FilterPPPoE",
        enforced: false,
    },
    ExtOption {
        name: "FilterOSPF",
        key: "FilterOSPF",
        enforced: false,
    },
    ExtOption {
        name: "FilterIPv4",
        key: "FilterIPv4",
        enforced: false,
    },
    ExtOption {
        name: "FilterIPv6",
        key: "FilterIPv6",
        enforced: false,
    },
    ExtOption {
        name: "FilterNonIP",
        key: "FilterNonIP",
        enforced: false,
    },
    ExtOption {
        name: "NoIPv4PacketLog",
        key: "NoIPv4PacketLog",
        enforced: false,
    },
    ExtOption {
        name: "NoIPv6PacketLog",
        key: "NoIPv6PacketLog",
        enforced: false,
    },
    ExtOption {
        name: "FilterBPDU",
        key: "FilterBPDU",
        enforced: false,
    },
    ExtOption {
        name: "NoIPv6DefaultRouterInRAWhenIPv6",
        key: "NoIPv6DefaultRouterInRAWhenIPv6",
        enforced: false,
    },
    ExtOption {
        name: "NoLookBPDUBridgeId",
        key: "NoLookBPDUBridgeId",
        enforced: false,
    },
    ExtOption {
        name: "NoManageVlanId",
        key: "NoManageVlanId",
        enforced: false,
    },
    ExtOption {
        name: "VlanTypeId",
        key: "VlanTypeId",
        enforced: false,
    },
    ExtOption {
        name: "FixForDLinkBPDU",
        key: "FixForDLinkBPDU",
        enforced: false,
    },
    ExtOption {
        name: "RequiredClientId",
        key: "RequiredClientId",
        enforced: false,
    },
    ExtOption {
        name: "AdjustTcpMssValue",
        key: "AdjustTcpMssValue",
        enforced: false,
    },
    ExtOption {
        name: "DisableAdjustTcpMss",
        key: "DisableAdjustTcpMss",
        enforced: true,
    },
    ExtOption {
        name: "NoDhcpPacketLogOutsideHub",
        key: "NoDhcpPacketLogOutsideHub",
        enforced: false,
    },
    ExtOption {
        name: "DisableHttpParsing",
        key: "DisableHttpParsing",
        enforced: false,
    },
    ExtOption {
        name: "DisableUdpAcceleration",
        key: "DisableUdpAcceleration",
        enforced: true,
    },
    ExtOption {
        name: "DisableUdpFilterForLocalBridgeNic",
        key: "DisableUdpFilterForLocalBridgeNic",
        enforced: false,
    },
    ExtOption {
        name: "ApplyIPv4AccessListOnArpPacket",
        key: "ApplyIPv4AccessListOnArpPacket",
        enforced: false,
    },
    ExtOption {
        name: "RemoveDefGwOnDhcpForLocalhost",
        key: "RemoveDefGwOnDhcpForLocalhost",
        enforced: false,
    },
    ExtOption {
        name: "SecureNAT_MaxTcpSessionsPerIp",
        key: "SecureNAT_MaxTcpSessionsPerIp",
        enforced: true,
    },
    ExtOption {
        name: "SecureNAT_MaxTcpSynSentPerIp",
        key: "SecureNAT_MaxTcpSynSentPerIp",
        enforced: true,
    },
    ExtOption {
        name: "SecureNAT_MaxUdpSessionsPerIp",
        key: "SecureNAT_MaxUdpSessionsPerIp",
        enforced: true,
    },
    ExtOption {
        name: "SecureNAT_MaxDnsSessionsPerIp",
        key: "SecureNAT_MaxDnsSessionsPerIp",
        enforced: true,
    },
    ExtOption {
        name: "SecureNAT_MaxIcmpSessionsPerIp",
        key: "SecureNAT_MaxIcmpSessionsPerIp",
        enforced: true,
    },
    ExtOption {
        name: "AccessListIncludeFileCacheLifetime",
        key: "AccessListIncludeFileCacheLifetime",
        enforced: false,
    },
    ExtOption {
        name: "DisableKernelModeSecureNAT",
        key: "DisableKernelModeSecureNAT",
        enforced: false,
    },
    ExtOption {
        name: "DisableIpRawModeSecureNAT",
        key: "DisableIpRawModeSecureNAT",
        enforced: false,
    },
    ExtOption {
        name: "DisableUserModeSecureNAT",
        key: "DisableUserModeSecureNAT",
        enforced: false,
    },
    ExtOption {
        name: "DisableCheckMacOnLocalBridge",
        key: "DisableCheckMacOnLocalBridge",
        enforced: false,
    },
    ExtOption {
        name: "DisableCorrectIpOffloadChecksum",
        key: "DisableCorrectIpOffloadChecksum",
        enforced: false,
    },
    ExtOption {
        name: "BroadcastLimiterStrictMode",
        key: "BroadcastLimiterStrictMode",
        enforced: false,
    },
    ExtOption {
        name: "MaxLoggedPacketsPerMinute",
        key: "MaxLoggedPacketsPerMinute",
        enforced: false,
    },
    ExtOption {
        name: "DoNotSaveHeavySecurityLogs",
        key: "DoNotSaveHeavySecurityLogs",
        enforced: false,
    },
    ExtOption {
        name: "DropBroadcastsInPrivacyFilterMode",
        key: "DropBroadcastsInPrivacyFilterMode",
        enforced: false,
    },
    ExtOption {
        name: "DropArpInPrivacyFilterMode",
        key: "DropArpInPrivacyFilterMode",
        enforced: false,
    },
    ExtOption {
        name: "SuppressClientUpdateNotification",
        key: "SuppressClientUpdateNotification",
        enforced: false,
    },
    ExtOption {
        name: "FloodingSendQueueBufferQuota",
        key: "FloodingSendQueueBufferQuota",
        enforced: false,
    },
    ExtOption {
        name: "AssignVLanIdByRadiusAttribute",
        key: "AssignVLanIdByRadiusAttribute",
        enforced: false,
    },
    ExtOption {
        name: "DenyAllRadiusLoginWithNoVlanAssign",
        key: "DenyAllRadiusLoginWithNoVlanAssign",
        enforced: false,
    },
    ExtOption {
        name: "SecureNAT_RandomizeAssignIp",
        key: "SecureNAT_RandomizeAssignIp",
        enforced: false,
    },
    ExtOption {
        name: "DetectDormantSessionInterval",
        key: "DetectDormantSessionInterval",
        enforced: false,
    },
    ExtOption {
        name: "NoPhysicalIPOnPacketLog",
        key: "NoPhysicalIPOnPacketLog",
        enforced: false,
    },
    ExtOption {
        name: "UseHubNameAsDhcpUserClassOption",
        key: "UseHubNameAsDhcpUserClassOption",
        enforced: false,
    },
    ExtOption {
        name: "UseHubNameAsRadiusNasId",
        key: "UseHubNameAsRadiusNasId",
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
