//! Group RPCs (docs/admin-rpc.md §6.9; `InRpcSetGroup`, `OutRpcEnumGroup`
//! of src/Cedar/Admin.c).

use rustether_proto::{ErrorCode, Pack};

use super::{pack_struct, push_kind, read_items, write_kind, Policy, Reader, RpcMessage, Traffic};
use crate::outpack::OutPack;

pack_struct! {
    /// Scalar part of RPC_SET_GROUP; see [`SetGroup`].
    pub struct SetGroupFields {
        /// `HubName`.
        hub_name: String = "HubName" as name,
        /// `Name`: the group name.
        name: String = "Name" as name,
        /// `Realname` (UNISTR).
        realname: String = "Realname" as ustr,
        /// `Note` (UNISTR).
        note: String = "Note" as ustr,
    }
}

/// RPC_SET_GROUP: request and response of `CreateGroup`, `SetGroup`,
/// `GetGroup` (`OutRpcSetGroup`): the fields, TRAFFIC, and POLICY with
/// `UsePolicy`=1 when the group has one. vpncmd `GroupSet`,
/// `GroupPolicySet`, `GroupPolicyRemove` are GetGroup then SetGroup.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SetGroup {
    /// Names and texts.
    pub fields: SetGroupFields,
    /// TRAFFIC.
    pub traffic: Traffic,
    /// The group policy; `None` = no policy.
    pub policy: Option<Policy>,
}

impl RpcMessage for SetGroup {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(SetGroup {
            fields: SetGroupFields::read_fields(&r)?,
            traffic: Traffic::read(&r)?,
            policy: if r.bool("UsePolicy", 0)? {
                Some(Policy::read(&r)?)
            } else {
                None
            },
        })
    }
    fn write(&self, o: &mut OutPack) {
        self.fields.write_fields(o);
        self.traffic.write(o);
        if let Some(pol) = &self.policy {
            o.bool("UsePolicy", true);
            pol.write(o);
        }
    }
}

pack_struct! {
    /// One group of [`EnumGroup`] (`OutRpcEnumGroup`).
    pub struct EnumGroupItem {
        /// `Name[]`.
        name: String = "Name" as name,
        /// `Realname[]` (UNISTR).
        realname: String = "Realname" as ustr,
        /// `Note[]` (UNISTR).
        note: String = "Note" as ustr,
        /// `NumUsers[]`: members.
        num_users: u32 = "NumUsers" as int,
        /// `DenyAccess[]`: the group policy has `Access` off.
        deny_access: bool = "DenyAccess" as bool,
    }
}

/// RPC_ENUM_GROUP: request (`HubName`) and response of `EnumGroup` (vpncmd
/// `GroupList`). Count = number of `Name` values; JSON group `GroupList`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnumGroup {
    /// `HubName`.
    pub hub_name: String,
    /// The groups.
    pub groups: Vec<EnumGroupItem>,
}

impl RpcMessage for EnumGroup {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(EnumGroup {
            hub_name: r.name("HubName", 0)?,
            groups: read_items(&r, r.count("Name"), EnumGroupItem::read_item)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.str("HubName", &self.hub_name);
        o.group("GroupList", |o| {
            self.groups.iter().for_each(|g| g.push_item(o))
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::outpack::JsonKind;
    use crate::rpc::testutil::round_trip;

    #[test]
    fn set_group_policy_only_with_use_policy() {
        let mut v = SetGroup {
            fields: SetGroupFields {
                hub_name: "TEST".into(),
                name: "sales".into(),
                realname: "Sales dept".into(),
                note: "n".into(),
            },
            ..SetGroup::default()
        };
        let p = round_trip(&v);
        assert!(p.element("UsePolicy").is_none());
        assert_eq!(p.get_unistr_at("Realname", 0), Some("Sales dept"));
        v.policy = Some(Policy {
            access: false,
            max_connection: 1,
            ..Policy::default()
        });
        let p = round_trip(&v);
        assert!(p.get_bool("UsePolicy"));
        assert!(!p.get_bool("policy:Access"));
        assert_eq!(p.get_int("policy:MaxConnection"), Some(1));
    }

    #[test]
    fn enum_group_layout() {
        let v = EnumGroup {
            hub_name: "TEST".into(),
            groups: vec![
                EnumGroupItem {
                    name: "a".into(),
                    num_users: 2,
                    deny_access: true,
                    ..EnumGroupItem::default()
                },
                EnumGroupItem {
                    name: "b".into(),
                    ..EnumGroupItem::default()
                },
            ],
        };
        let p = round_trip(&v);
        assert_eq!(p.count("Name"), 2);
        assert_eq!(p.get_int_at("NumUsers", 0), Some(2));
        let out = v.to_out();
        assert_eq!(out.hint("DenyAccess").kind, JsonKind::Bool);
        assert_eq!(out.hint("Name").group.as_deref(), Some("GroupList"));
    }
}
