//! Server extras and the RPCs of features a standalone RustEther server
//! does not have (cluster, IPsec/EtherIP, VPN over ICMP/DNS): their PACK
//! layouts as SoftEther's `src/Cedar/Admin.c` (`InRpcStr`/`OutRpcStr`,
//! `OutRpcSpecialListener`, `OutRpcFarm`, `OutIPsecServices`,
//! `OutRpcEnumEtherIpId`); what each answers is in docs/administration.md
//! ("RPC coverage").

use rustether_proto::{ErrorCode, Pack};
use std::net::Ipv4Addr;

use super::{flat_message, pack_struct, push_kind, read_items, write_kind, Reader, RpcMessage};
use crate::outpack::OutPack;

pack_struct! {
    /// RPC_STR: `GetServerCipher`, `SetServerCipher`, `GetServerCipherList`.
    /// `String` is one cipher name or several separated by `;`
    /// (`GetServerCipherList`), SoftEther's (OpenSSL's) names.
    pub struct RpcStr {
        /// `String`.
        string: String = "String" as str,
    }
}

pack_struct! {
    /// RPC_SPECIAL_LISTENER: `GetSpecialListener`/`SetSpecialListener`
    /// (vpncmd `VpnOverIcmpDnsGet`/`VpnOverIcmpDnsEnable`).
    pub struct SpecialListener {
        /// `VpnOverIcmpListener`.
        vpn_over_icmp_listener: bool = "VpnOverIcmpListener" as bool,
        /// `VpnOverDnsListener`.
        vpn_over_dns_listener: bool = "VpnOverDnsListener" as bool,
    }
}

pack_struct! {
    /// RPC_FARM: `GetFarmSetting`/`SetFarmSetting` (vpncmd
    /// `ClusterSettingGet`, `ClusterSetting*`). A standalone server sends
    /// no `Ports` (`StGetFarmSetting`), which this type does not model.
    pub struct Farm {
        /// `ServerType`: 0 standalone, 1 controller, 2 member.
        server_type: u32 = "ServerType" as int,
        /// `PublicIp`.
        public_ip: Ipv4Addr = "PublicIp" as ip4,
        /// `ControllerName`.
        controller_name: String = "ControllerName" as str,
        /// `ControllerPort`.
        controller_port: u32 = "ControllerPort" as int,
        /// `MemberPassword` (SHA-0 hash, 20 bytes).
        member_password: [u8; 20] = "MemberPassword" as h20,
        /// `MemberPasswordPlaintext` (JSON-RPC).
        member_password_plaintext: String = "MemberPasswordPlaintext" as str,
        /// `Weight` (SoftEther's default 100, `FARM_DEFAULT_WEIGHT`).
        weight: u32 = "Weight" as int,
        /// `ControllerOnly`.
        controller_only: bool = "ControllerOnly" as bool,
    }
}

pack_struct! {
    /// RPC_FARM_INFO request (`GetFarmInfo`): only `Id` is read; a
    /// standalone server answers error 46 before anything else.
    pub struct FarmInfoRequest {
        /// `Id`.
        id: u32 = "Id" as int,
    }
}

pack_struct! {
    /// IPSEC_SERVICES: `GetIPsecServices`/`SetIPsecServices` (vpncmd
    /// `IPsecGet`/`IPsecEnable`), stored in the configuration's `IPsec`
    /// folder.
    pub struct IpsecServices {
        /// `L2TP_Raw`.
        l2tp_raw: bool = "L2TP_Raw" as bool,
        /// `L2TP_IPsec`.
        l2tp_ipsec: bool = "L2TP_IPsec" as bool,
        /// `EtherIP_IPsec`.
        etherip_ipsec: bool = "EtherIP_IPsec" as bool,
        /// `IPsec_Secret` (pre-shared key).
        ipsec_secret: String = "IPsec_Secret" as str,
        /// `L2TP_DefaultHub`.
        l2tp_default_hub: String = "L2TP_DefaultHub" as str,
    }
}

pack_struct! {
    /// ETHERIP_ID: one EtherIP/L2TPv3 client entry (`IPsec/EtherIP_IDSettingsList`).
    pub struct EtherIpId {
        /// `Id` (ISAKMP phase 1 ID).
        id: String = "Id" as str,
        /// `HubName`.
        hub_name: String = "HubName" as str,
        /// `UserName`.
        user_name: String = "UserName" as str,
        /// `Password`.
        password: String = "Password" as str,
    }
}

flat_message!(
    RpcStr,
    SpecialListener,
    Farm,
    FarmInfoRequest,
    IpsecServices,
    EtherIpId
);

/// RPC_ENUM_ETHERIP_ID: response of `EnumEtherIpId` (`NumItem`, then the
/// entries, JSON group `Settings`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnumEtherIpId {
    /// The entries.
    pub items: Vec<EtherIpId>,
}

impl RpcMessage for EnumEtherIpId {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(EnumEtherIpId {
            items: read_items(&r, r.count("Id"), EtherIpId::read_item)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.int("NumItem", self.items.len() as u32);
        o.group("Settings", |o| {
            self.items.iter().for_each(|e| e.push_item(o))
        });
    }
}
