//! Trusted CA certificates of a virtual hub (docs/admin-rpc.md §6;
//! `InRpcHubAddCa`, `OutRpcHubEnumCa`, `InRpcHubGetCa`, `InRpcHubDeleteCa`
//! of src/Cedar/Admin.c). Certificates travel as DATA elements with the DER
//! bytes (`PackAddX`, `PackGetX`).

use rustether_proto::{ErrorCode, Pack};

use super::{flat_message, pack_struct, push_kind, read_items, write_kind, Reader, RpcMessage};
use crate::outpack::OutPack;

pack_struct! {
    /// RPC_HUB_ADD_CA: `AddCa` request and echo (vpncmd `CAAdd`).
    pub struct HubAddCa {
        /// `HubName`.
        hub_name: String = "HubName" as name,
        /// `Cert`: DER X.509 certificate.
        cert: Vec<u8> = "Cert" as data,
    }
}

pack_struct! {
    /// RPC_HUB_GET_CA: `GetCa` request (`HubName`, `Key`) and response
    /// (with `Cert`; vpncmd `CAGet`).
    pub struct HubGetCa {
        /// `HubName`.
        hub_name: String = "HubName" as name,
        /// `Key`: the certificate's id from [`HubEnumCa`].
        key: u32 = "Key" as int,
        /// `Cert`: DER X.509 certificate (response).
        cert: Vec<u8> = "Cert" as data,
    }
}

pack_struct! {
    /// RPC_HUB_DELETE_CA: `DeleteCa` request and echo (vpncmd `CADelete`).
    pub struct HubDeleteCa {
        /// `HubName`.
        hub_name: String = "HubName" as name,
        /// `Key`: the certificate's id from [`HubEnumCa`].
        key: u32 = "Key" as int,
    }
}

flat_message!(HubAddCa, HubGetCa, HubDeleteCa);

pack_struct! {
    /// One certificate of [`HubEnumCa`] (`RPC_HUB_ENUM_CA_ITEM`).
    pub struct HubEnumCaItem {
        /// `Key[]`: the id for `GetCa` / `DeleteCa`.
        key: u32 = "Key" as int,
        /// `SubjectName[]`: `CN=…, O=…, OU=…, C=…, ST=…, L=…`.
        subject_name: String = "SubjectName" as ustr,
        /// `IssuerName[]`: the same form.
        issuer_name: String = "IssuerName" as ustr,
        /// `Expires[]`: end of validity (SoftEther time).
        expires: u64 = "Expires" as time,
    }
}

/// RPC_HUB_ENUM_CA: request (`HubName`) and response of `EnumCa` (vpncmd
/// `CAList`). Count = number of `Key` values; JSON group `CAList`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HubEnumCa {
    /// `HubName`.
    pub hub_name: String,
    /// The trusted certificates.
    pub items: Vec<HubEnumCaItem>,
}

impl RpcMessage for HubEnumCa {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(HubEnumCa {
            hub_name: r.name("HubName", 0)?,
            items: read_items(&r, r.count("Key"), HubEnumCaItem::read_item)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.str("HubName", &self.hub_name);
        o.group("CAList", |o| self.items.iter().for_each(|e| e.push_item(o)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::testutil::round_trip;

    #[test]
    fn layouts_round_trip() {
        round_trip(&HubAddCa {
            hub_name: "H".into(),
            cert: vec![0x30, 3, 1, 2, 3],
        });
        let p = round_trip(&HubEnumCa {
            hub_name: "H".into(),
            items: vec![
                HubEnumCaItem {
                    key: 7,
                    subject_name: "CN=a".into(),
                    issuer_name: "CN=b".into(),
                    expires: 5,
                },
                HubEnumCaItem::default(),
            ],
        });
        assert_eq!(p.count("Key"), 2);
        round_trip(&HubGetCa {
            hub_name: "H".into(),
            key: 9,
            cert: vec![1],
        });
        round_trip(&HubDeleteCa {
            hub_name: "H".into(),
            key: 9,
        });
    }
}
