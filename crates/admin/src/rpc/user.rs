//! User RPCs (docs/admin-rpc.md §6.3).

use rustether_proto::{ErrorCode, Pack};

use super::{
    flat_message, pack_struct, push_kind, read_items, write_kind, Policy, Reader, RpcMessage,
    Traffic, UserAuth,
};
use crate::outpack::OutPack;

pack_struct! {
    /// Scalar part of RPC_SET_USER; see [`SetUser`].
    pub struct SetUserFields {
        /// `HubName`.
        hub_name: String = "HubName" as name,
        /// `Name`: the user name.
        name: String = "Name" as name,
        /// `GroupName` ("" = none).
        group_name: String = "GroupName" as name,
        /// `Realname` (UNISTR).
        realname: String = "Realname" as ustr,
        /// `Note` (UNISTR).
        note: String = "Note" as ustr,
        /// `CreatedTime`.
        created_time: u64 = "CreatedTime" as time,
        /// `UpdatedTime`.
        updated_time: u64 = "UpdatedTime" as time,
        /// `ExpireTime` (0 = never).
        expire_time: u64 = "ExpireTime" as time,
    }
}

/// RPC_SET_USER: request and response of `CreateUser`, `SetUser`, `GetUser`
/// (`OutRpcSetUser`; field set verified). vpncmd `UserPasswordSet` is
/// GetUser then SetUser with new password hashes (verified).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetUser {
    /// Names, texts, times.
    pub fields: SetUserFields,
    /// AUTHDATA.
    pub auth: UserAuth,
    /// `NumLogin`.
    pub num_login: u32,
    /// TRAFFIC.
    pub traffic: Traffic,
    /// Per-user policy; sent with `UsePolicy`=1 when present.
    pub policy: Option<Policy>,
}

impl RpcMessage for SetUser {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        let fields = SetUserFields::read_fields(&r)?;
        let auth = super::groups::read_user_auth(&r, &fields.name)?;
        Ok(SetUser {
            auth,
            num_login: r.int("NumLogin", 0)?,
            traffic: Traffic::read(&r)?,
            policy: if r.bool("UsePolicy", 0)? {
                Some(Policy::read(&r)?)
            } else {
                None
            },
            fields,
        })
    }
    fn write(&self, o: &mut OutPack) {
        self.fields.write_fields(o);
        super::groups::write_user_auth(&self.auth, o);
        o.int("NumLogin", self.num_login);
        self.traffic.write(o);
        if let Some(pol) = &self.policy {
            o.bool("UsePolicy", true);
            pol.write(o);
        }
    }
}

pack_struct! {
    /// RPC_DELETE_USER: `DeleteUser` request and echo.
    pub struct DeleteUser {
        /// `HubName`.
        hub_name: String = "HubName" as name,
        /// `Name`.
        name: String = "Name" as name,
    }
}

pack_struct! {
    /// Scalar part of one [`EnumUserItem`].
    pub struct EnumUserItemFields {
        /// `Name[]`.
        name: String = "Name" as name,
        /// `GroupName[]`.
        group_name: String = "GroupName" as name,
        /// `Realname[]` (UNISTR).
        realname: String = "Realname" as ustr,
        /// `Note[]` (UNISTR).
        note: String = "Note" as ustr,
        /// `AuthType[]`.
        auth_type: u32 = "AuthType" as int,
        /// `LastLoginTime[]`.
        last_login_time: u64 = "LastLoginTime" as time,
        /// `NumLogin[]`.
        num_login: u32 = "NumLogin" as int,
        /// `DenyAccess[]`.
        deny_access: bool = "DenyAccess" as bool,
        /// `IsTrafficFilled[]`.
        is_traffic_filled: bool = "IsTrafficFilled" as bool,
        /// `IsExpiresFilled[]`.
        is_expires_filled: bool = "IsExpiresFilled" as bool,
        /// `Expires[]`.
        expires: u64 = "Expires" as time,
    }
}

/// One user of [`EnumUser`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnumUserItem {
    /// Name, texts, counters.
    pub fields: EnumUserItemFields,
    /// `Ex.*[]` traffic.
    pub traffic: Traffic,
}

/// RPC_ENUM_USER: request (`HubName`) and response of `EnumUser`. Count =
/// number of `Name` values; JSON group `UserList` (verified).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnumUser {
    /// `HubName`.
    pub hub_name: String,
    /// The users.
    pub users: Vec<EnumUserItem>,
}

impl RpcMessage for EnumUser {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(EnumUser {
            hub_name: r.name("HubName", 0)?,
            users: read_items(&r, r.count("Name"), |r, i| {
                Ok(EnumUserItem {
                    fields: EnumUserItemFields::read_item(r, i)?,
                    traffic: Traffic::read_item(r, i)?,
                })
            })?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.str("HubName", &self.hub_name);
        o.group("UserList", |o| {
            for u in &self.users {
                u.fields.push_item(o);
                u.traffic.push_item(o);
            }
        });
    }
}

flat_message!(DeleteUser);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::testutil::round_trip;

    #[test]
    fn set_user_round_trip_without_and_with_policy() {
        let mut v = SetUser {
            fields: SetUserFields {
                hub_name: "HUBX".into(),
                name: "carol".into(),
                group_name: String::new(),
                realname: "Carol".into(),
                note: "é note".into(),
                created_time: 1_795_284_147_899,
                updated_time: 1_795_284_147_899,
                expire_time: 0,
            },
            auth: UserAuth::from_password("carol", "Secret1"),
            num_login: 2,
            traffic: Traffic::default(),
            policy: None,
        };
        let p = round_trip(&v);
        assert!(p.element("UsePolicy").is_none());
        assert_eq!(p.get_int("AuthType"), Some(1));
        assert_eq!(p.get_data("NtLmSecureHash").map(<[u8]>::len), Some(16));
        v.policy = Some(Policy {
            access: true,
            ..Policy::default()
        });
        let p = round_trip(&v);
        assert!(p.get_bool("UsePolicy"));
        assert!(p.get_bool("policy:Access"));
    }

    #[test]
    fn enum_user_round_trip() {
        let v = EnumUser {
            hub_name: "TEST".into(),
            users: vec![EnumUserItem {
                fields: EnumUserItemFields {
                    name: "alice".into(),
                    auth_type: 1,
                    is_traffic_filled: true,
                    ..EnumUserItemFields::default()
                },
                traffic: Traffic::default(),
            }],
        };
        let p = round_trip(&v);
        assert_eq!(p.count("Name"), 1);
        assert_eq!(
            v.to_out().hint("AuthType").group.as_deref(),
            Some("UserList")
        );
        round_trip(&EnumUser {
            hub_name: "TEST".into(),
            users: vec![],
        });
        round_trip(&DeleteUser {
            hub_name: "TEST".into(),
            name: "alice".into(),
        });
    }
}
