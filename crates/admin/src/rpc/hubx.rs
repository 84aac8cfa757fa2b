//! Hub administration options, extended options and cascade renaming
//! (`InRpcAdminOption`/`OutRpcAdminOption`, `InRpcRenameLink`/
//! `OutRpcRenameLink` of src/Cedar/Admin.c; docs/admin-rpc.md §6).

use rustether_proto::{ErrorCode, Pack};

use super::{flat_message, pack_struct, push_kind, read_items, write_kind, Reader, RpcMessage};
use crate::outpack::OutPack;

pack_struct! {
    /// One option of [`AdminOptionList`] (`ADMIN_OPTION`).
    pub struct AdminOptionItem {
        /// `Name[]`: the option name, e.g. `no_change_users` or
        /// `NoIpTable` (at most 63 bytes in SoftEther).
        name: String = "Name" as name,
        /// `Value[]`: the value (booleans are 0/1).
        value: u32 = "Value" as int,
        /// `Descrption[]` (sic): the help text. SoftEther fills it from its
        /// string table; this server sends it empty (vpncmd prints its own
        /// text, docs/administration.md).
        descrption: String = "Descrption" as ustr,
    }
}

/// `RPC_ADMIN_OPTION`: request and response of `GetHubAdminOptions`,
/// `SetHubAdminOptions`, `GetDefaultHubAdminOptions`, `GetHubExtOptions`,
/// `SetHubExtOptions` (vpncmd `AdminOptionList`/`AdminOptionSet`,
/// `ExtOptionList`/`ExtOptionSet`). The item count is the number of `Name`
/// values (`PackGetIndexCount`); the response also carries INT `NumItem`
/// and the JSON group `AdminOptionList`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AdminOptionList {
    /// `HubName`.
    pub hub_name: String,
    /// The options.
    pub items: Vec<AdminOptionItem>,
}

impl RpcMessage for AdminOptionList {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(AdminOptionList {
            hub_name: r.name("HubName", 0)?,
            items: read_items(&r, r.count("Name"), AdminOptionItem::read_item)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.int(
            "NumItem",
            u32::try_from(self.items.len()).unwrap_or(u32::MAX),
        );
        o.str("HubName", &self.hub_name);
        o.group("AdminOptionList", |o| {
            self.items.iter().for_each(|e| e.push_item(o))
        });
    }
}

pack_struct! {
    /// `RPC_RENAME_LINK`: `RenameLink` request and echo (vpncmd
    /// `CascadeRename`).
    pub struct RenameLink {
        /// `HubName`.
        hub_name: String = "HubName" as name,
        /// `OldAccountName` (UNISTR).
        old_account_name: String = "OldAccountName" as uname,
        /// `NewAccountName` (UNISTR).
        new_account_name: String = "NewAccountName" as uname,
    }
}

flat_message!(RenameLink);

/// One certificate revocation entry (`CRL` of src/Cedar/Hub.h) as
/// `InRpcCrl`/`OutRpcCrl` carry it: a certificate matches when every field
/// that is set matches (`IsCertMatchCrl`). Empty strings, an empty serial
/// and all-zero digests mean "not set".
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CrlEntry {
    /// `Serial` (DATA): the serial number, big-endian bytes.
    pub serial: Vec<u8>,
    /// `CommonName` (UNISTR).
    pub common_name: String,
    /// `Organization` (UNISTR).
    pub organization: String,
    /// `Unit` (UNISTR).
    pub unit: String,
    /// `Country` (UNISTR).
    pub country: String,
    /// `State` (UNISTR).
    pub state: String,
    /// `Local` (UNISTR).
    pub local: String,
    /// `DigestMD5` (DATA, 16 bytes): MD5 of the DER certificate.
    pub digest_md5: [u8; 16],
    /// `DigestSHA1` (DATA, 20 bytes): SHA-1 of the DER certificate.
    pub digest_sha1: [u8; 20],
}

impl CrlEntry {
    /// True if no field is set.
    pub fn is_empty(&self) -> bool {
        *self == CrlEntry::default()
    }
}

/// `RPC_CRL`: `AddCrl`, `DelCrl`, `GetCrl`, `SetCrl` (vpncmd `CrlAdd`,
/// `CrlDel`, `CrlGet`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RpcCrl {
    /// `HubName`.
    pub hub_name: String,
    /// `Key`: the entry's id from [`EnumCrl`].
    pub key: u32,
    /// The entry.
    pub crl: CrlEntry,
}

impl RpcMessage for RpcCrl {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        let d16 = r.data("DigestMD5", 0)?;
        let d20 = r.data("DigestSHA1", 0)?;
        Ok(RpcCrl {
            hub_name: r.name("HubName", 0)?,
            key: r.int("Key", 0)?,
            crl: CrlEntry {
                serial: r.data("Serial", 0)?,
                common_name: r.uname("CommonName", 0)?,
                organization: r.uname("Organization", 0)?,
                unit: r.uname("Unit", 0)?,
                country: r.uname("Country", 0)?,
                state: r.uname("State", 0)?,
                local: r.uname("Local", 0)?,
                digest_md5: d16.try_into().unwrap_or([0; 16]),
                digest_sha1: d20.try_into().unwrap_or([0; 20]),
            },
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.str("HubName", &self.hub_name);
        o.int("Key", self.key);
        let c = &self.crl;
        if !c.serial.is_empty() {
            o.data("Serial", &c.serial);
        }
        for (k, v) in [
            ("CommonName", &c.common_name),
            ("Organization", &c.organization),
            ("Unit", &c.unit),
            ("Country", &c.country),
            ("State", &c.state),
            ("Local", &c.local),
        ] {
            if !v.is_empty() {
                o.ustr(k, v);
            }
        }
        if c.digest_md5 != [0; 16] {
            o.data("DigestMD5", &c.digest_md5);
        }
        if c.digest_sha1 != [0; 20] {
            o.data("DigestSHA1", &c.digest_sha1);
        }
    }
}

pack_struct! {
    /// One entry of [`EnumCrl`] (`RPC_ENUM_CRL_ITEM`).
    pub struct EnumCrlItem {
        /// `Key[]`: the id for `GetCrl`/`SetCrl`/`DelCrl`.
        key: u32 = "Key" as int,
        /// `CrlInfo[]`: `Subject="…", Serial="…", MD5="…", SHA1="…"`
        /// (`GenerateCrlStr`).
        crl_info: String = "CrlInfo" as ustr,
    }
}

/// `RPC_ENUM_CRL`: `EnumCrl` request (`HubName`) and response (vpncmd
/// `CrlList`); INT `NumItem`, JSON group `CRLList`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnumCrl {
    /// `HubName`.
    pub hub_name: String,
    /// The entries.
    pub items: Vec<EnumCrlItem>,
}

impl RpcMessage for EnumCrl {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(EnumCrl {
            hub_name: r.name("HubName", 0)?,
            items: read_items(&r, r.count("Key"), EnumCrlItem::read_item)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.str("HubName", &self.hub_name);
        o.int(
            "NumItem",
            u32::try_from(self.items.len()).unwrap_or(u32::MAX),
        );
        o.group("CRLList", |o| {
            self.items.iter().for_each(|e| e.push_item(o))
        });
    }
}

pack_struct! {
    /// `RPC_RADIUS`: `GetHubRadius` / `SetHubRadius` (vpncmd
    /// `RadiusServerGet`, `RadiusServerSet`, `RadiusServerDelete`). An empty
    /// `RadiusServerName` means no RADIUS server.
    pub struct RpcRadius {
        /// `RadiusServerName`: host name or address (SoftEther also accepts
        /// several, comma-separated).
        radius_server_name: String = "RadiusServerName" as name,
        /// `RadiusPort`: UDP port (1812 by default).
        radius_port: u32 = "RadiusPort" as int,
        /// `HubName`.
        hub_name: String = "HubName" as name,
        /// `RadiusSecret`: the shared secret.
        radius_secret: String = "RadiusSecret" as name,
        /// `RadiusRetryInterval`: ms between retransmissions (0 = 1000,
        /// at most 15 000; `SetRadiusServerEx`).
        radius_retry_interval: u32 = "RadiusRetryInterval" as int,
        /// `RadiusRetryTimeout`: not used by 5.01 (always 0 in answers).
        radius_retry_timeout: u32 = "RadiusRetryTimeout" as int,
    }
}

flat_message!(RpcRadius);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::testutil::round_trip;

    #[test]
    fn layouts_round_trip() {
        let p = round_trip(&AdminOptionList {
            hub_name: "H".into(),
            items: vec![
                AdminOptionItem {
                    name: "max_users".into(),
                    value: 5,
                    descrption: String::new(),
                },
                AdminOptionItem {
                    name: "no_change_users".into(),
                    value: 1,
                    descrption: "x".into(),
                },
            ],
        });
        assert_eq!(p.get_int("NumItem"), Some(2));
        assert_eq!(p.count("Name"), 2);
        round_trip(&RpcCrl {
            hub_name: "H".into(),
            key: 3,
            crl: CrlEntry {
                serial: vec![0x12, 0x34],
                common_name: "u1".into(),
                digest_sha1: [7; 20],
                ..CrlEntry::default()
            },
        });
        round_trip(&EnumCrl {
            hub_name: "H".into(),
            items: vec![EnumCrlItem {
                key: 1,
                crl_info: "Serial=\"12 34\"".into(),
            }],
        });
        round_trip(&RenameLink {
            hub_name: "H".into(),
            old_account_name: "a".into(),
            new_account_name: "b".into(),
        });
    }
}
