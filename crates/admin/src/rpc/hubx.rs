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
        round_trip(&RenameLink {
            hub_name: "H".into(),
            old_account_name: "a".into(),
            new_account_name: "b".into(),
        });
    }
}
