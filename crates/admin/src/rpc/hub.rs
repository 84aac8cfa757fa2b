//! Virtual Hub RPCs (docs/admin-rpc.md §6.2).

use rustether_proto::{ErrorCode, Pack};

use super::{
    flat_message, pack_struct, push_kind, read_items, write_kind, HubOption, Reader, RpcMessage,
    Traffic,
};
use crate::outpack::OutPack;

/// `HubType` values (`HUB_TYPE_*`, `src/Cedar/Hub.h`).
pub mod hub_type {
    /// Standalone server hub.
    pub const STANDALONE: u32 = 0;
    /// Cluster static hub.
    pub const FARM_STATIC: u32 = 1;
    /// Cluster dynamic hub.
    pub const FARM_DYNAMIC: u32 = 2;
}

pack_struct! {
    /// Scalar part of RPC_CREATE_HUB; see [`CreateHub`].
    pub struct CreateHubFields {
        /// `HubName`.
        hub_name: String = "HubName" as name,
        /// `HashedPassword` = SHA-0(password) (20 bytes).
        hashed_password: [u8; 20] = "HashedPassword" as h20,
        /// `SecurePassword` = SHA-0(password ‖ "ADMINISTRATOR") (20 bytes).
        secure_password: [u8; 20] = "SecurePassword" as h20,
        /// `Online`.
        online: bool = "Online" as bool,
        /// `AdminPasswordPlainText` (JSON-RPC convenience).
        admin_password_plain_text: String = "AdminPasswordPlainText" as str,
    }
}

/// RPC_CREATE_HUB: request and response of `CreateHub`, `SetHub`, `GetHub`
/// (`OutRpcCreateHub`). GetHub answers both hashes all zero (verified).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CreateHub {
    /// Name, passwords, online state.
    pub fields: CreateHubFields,
    /// HUB_OPTION.
    pub option: HubOption,
    /// `HubType` (see [`hub_type`]).
    pub hub_type: u32,
}

impl RpcMessage for CreateHub {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(CreateHub {
            fields: CreateHubFields::read_fields(&r)?,
            option: HubOption::read_fields(&r)?,
            hub_type: r.int("HubType", 0)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        self.fields.write_fields(o);
        self.option.write_fields(o);
        o.int("HubType", self.hub_type);
    }
}

pack_struct! {
    /// Scalar part of one [`EnumHubItem`].
    pub struct EnumHubItemFields {
        /// `HubName[]`.
        hub_name: String = "HubName" as name,
        /// `Online[]`.
        online: bool = "Online" as bool,
        /// `HubType[]`.
        hub_type: u32 = "HubType" as int,
        /// `NumSessions[]`.
        num_sessions: u32 = "NumSessions" as int,
        /// `NumUsers[]`.
        num_users: u32 = "NumUsers" as int,
        /// `NumGroups[]`.
        num_groups: u32 = "NumGroups" as int,
        /// `NumMacTables[]`.
        num_mac_tables: u32 = "NumMacTables" as int,
        /// `NumIpTables[]`.
        num_ip_tables: u32 = "NumIpTables" as int,
        /// `LastCommTime[]`.
        last_comm_time: u64 = "LastCommTime" as time,
        /// `CreatedTime[]`.
        created_time: u64 = "CreatedTime" as time,
        /// `LastLoginTime[]`.
        last_login_time: u64 = "LastLoginTime" as time,
        /// `NumLogin[]`.
        num_login: u32 = "NumLogin" as int,
        /// `IsTrafficFilled[]`.
        is_traffic_filled: bool = "IsTrafficFilled" as bool,
    }
}

/// One hub of [`EnumHub`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnumHubItem {
    /// Name, state and counters.
    pub fields: EnumHubItemFields,
    /// `Ex.*[]` traffic.
    pub traffic: Traffic,
}

/// RPC_ENUM_HUB: response of `EnumHub` (request empty). Count = number of
/// `HubName` values (verified); JSON group `HubList`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnumHub {
    /// The hubs.
    pub hubs: Vec<EnumHubItem>,
}

impl RpcMessage for EnumHub {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(EnumHub {
            hubs: read_items(&r, r.count("HubName"), |r, i| {
                Ok(EnumHubItem {
                    fields: EnumHubItemFields::read_item(r, i)?,
                    traffic: Traffic::read_item(r, i)?,
                })
            })?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.group("HubList", |o| {
            for h in &self.hubs {
                h.fields.push_item(o);
                h.traffic.push_item(o);
            }
        });
    }
}

pack_struct! {
    /// RPC_DELETE_HUB: `DeleteHub` request and echo.
    pub struct DeleteHub {
        /// `HubName`.
        hub_name: String = "HubName" as name,
    }
}

pack_struct! {
    /// RPC_SET_HUB_ONLINE: `SetHubOnline` request and echo (vpncmd
    /// `Online`/`Offline` in a hub context, verified).
    pub struct SetHubOnline {
        /// `HubName`.
        hub_name: String = "HubName" as name,
        /// `Online`.
        online: bool = "Online" as bool,
    }
}

pack_struct! {
    /// Scalar part of RPC_HUB_STATUS; see [`HubStatus`].
    pub struct HubStatusFields {
        /// `HubName`.
        hub_name: String = "HubName" as name,
        /// `Online`.
        online: bool = "Online" as bool,
        /// `HubType`.
        hub_type: u32 = "HubType" as int,
        /// `NumSessions`.
        num_sessions: u32 = "NumSessions" as int,
        /// `NumSessionsClient`.
        num_sessions_client: u32 = "NumSessionsClient" as int,
        /// `NumSessionsBridge`.
        num_sessions_bridge: u32 = "NumSessionsBridge" as int,
        /// `NumAccessLists`.
        num_access_lists: u32 = "NumAccessLists" as int,
        /// `NumUsers`.
        num_users: u32 = "NumUsers" as int,
        /// `NumGroups`.
        num_groups: u32 = "NumGroups" as int,
        /// `NumMacTables`.
        num_mac_tables: u32 = "NumMacTables" as int,
        /// `NumIpTables`.
        num_ip_tables: u32 = "NumIpTables" as int,
        /// `SecureNATEnabled`.
        secure_nat_enabled: bool = "SecureNATEnabled" as bool,
        /// `LastCommTime`.
        last_comm_time: u64 = "LastCommTime" as time,
        /// `CreatedTime`.
        created_time: u64 = "CreatedTime" as time,
        /// `LastLoginTime`.
        last_login_time: u64 = "LastLoginTime" as time,
        /// `NumLogin`.
        num_login: u32 = "NumLogin" as int,
    }
}

/// RPC_HUB_STATUS: request (`HubName`) and response of `GetHubStatus`
/// (vpncmd `Hub`, `StatusGet`, `/ADMINHUB:`; verified).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HubStatus {
    /// State and counters.
    pub fields: HubStatusFields,
    /// TRAFFIC.
    pub traffic: Traffic,
}

impl RpcMessage for HubStatus {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(HubStatus {
            fields: HubStatusFields::read_fields(&r)?,
            traffic: Traffic::read(&r)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        self.fields.write_fields(o);
        self.traffic.write(o);
    }
}

pack_struct! {
    /// RPC_HUB: a hub name alone; `EnableSecureNAT` / `DisableSecureNAT`
    /// request and echo (SoftEther src/Cedar/Admin.c `InRpcHub`).
    pub struct RpcHub {
        /// `HubName`.
        hub_name: String = "HubName" as name,
    }
}

flat_message!(DeleteHub, SetHubOnline, RpcHub);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outpack::JsonKind;
    use crate::rpc::testutil::round_trip;
    use crate::rpc::TrafficSide;

    #[test]
    fn create_hub_round_trip_with_vpncmd_fields() {
        let v = CreateHub {
            fields: CreateHubFields {
                hub_name: "TEST".into(),
                hashed_password: rustether_proto::password::hash_admin_password("hubpw"),
                secure_password: rustether_proto::password::hash_password("administrator", "hubpw"),
                online: true,
                admin_password_plain_text: String::new(),
            },
            option: HubOption {
                max_session: 10,
                no_enum: true,
                ..HubOption::default()
            },
            hub_type: hub_type::STANDALONE,
        };
        let p = round_trip(&v);
        assert_eq!(p.get_data("HashedPassword").map(<[u8]>::len), Some(20));
        assert_eq!(p.get_int("HubType"), Some(0));
        assert!(p.get_bool("NoEnum"));
    }

    #[test]
    fn enum_hub_items_and_hints() {
        let item = |n: &str, online| EnumHubItem {
            fields: EnumHubItemFields {
                hub_name: n.into(),
                online,
                num_users: 3,
                created_time: 1_795_284_146_695,
                ..EnumHubItemFields::default()
            },
            traffic: Traffic {
                send: TrafficSide {
                    unicast_count: 4,
                    ..TrafficSide::default()
                },
                ..Traffic::default()
            },
        };
        let v = EnumHub {
            hubs: vec![item("A", true), item("B", false)],
        };
        let p = round_trip(&v);
        assert_eq!(p.count("HubName"), 2);
        assert_eq!(p.count("Ex.Send.UnicastCount"), 2);
        let out = v.to_out();
        let h = out.hint("CreatedTime");
        assert_eq!(h.kind, JsonKind::Time);
        assert_eq!(h.group.as_deref(), Some("HubList"));
        assert!(round_trip(&EnumHub::default()).is_empty());
    }

    #[test]
    fn hub_status_and_small_messages_round_trip() {
        round_trip(&HubStatus {
            fields: HubStatusFields {
                hub_name: "HUBX".into(),
                online: true,
                num_users: 1,
                last_comm_time: 1,
                ..HubStatusFields::default()
            },
            traffic: Traffic::default(),
        });
        round_trip(&DeleteHub {
            hub_name: "X".into(),
        });
        round_trip(&SetHubOnline {
            hub_name: "X".into(),
            online: true,
        });
    }

    #[test]
    fn over_long_hub_name_is_invalid_parameter() {
        let mut p = Pack::new();
        p.add_str("HubName", &"h".repeat(256));
        assert_eq!(DeleteHub::from_pack(&p), Err(ErrorCode::INVALID_PARAMETER));
        p.add_str("HubName", &"h".repeat(255));
        assert!(DeleteHub::from_pack(&p).is_ok());
    }
}

/// Longest hub message in characters (`HUB_MAXMSG_LEN`, src/Cedar/Cedar.h).
pub const HUB_MAXMSG_LEN: usize = 20_000;

/// `RPC_MSG` (`GetHubMsg`, `SetHubMsg`; `InRpcMsg`, `OutRpcMsg`): the
/// message a client shows after logging in to the hub, UTF-8 in DATA
/// `Msg`. Invalid UTF-8 is replaced (U+FFFD); more than
/// [`HUB_MAXMSG_LEN`] characters is `ERR_MEMORY_NOT_ENOUGH` (111) in the
/// dispatcher, as `StSetHubMsg`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RpcMsg {
    /// `HubName`.
    pub hub_name: String,
    /// `Msg`.
    pub msg: String,
}

impl RpcMessage for RpcMsg {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(RpcMsg {
            hub_name: r.name("HubName", 0)?,
            msg: String::from_utf8_lossy(&r.data("Msg", 0)?).into_owned(),
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.str("HubName", &self.hub_name);
        o.data("Msg", self.msg.as_bytes());
    }
}
