//! Building RPC output PACKs with the JSON hints SoftEther keeps per element.
//!
//! SoftEther's `PACK` remembers, for every element, how the JSON-RPC layer
//! must render it (`JsonHint_IsBool`, `JsonHint_IsDateTime`, `JsonHint_IsIP`,
//! `JsonHint_IsArray`, `JsonHint_GroupName` in `src/Mayaqua/Pack.h`). The
//! hints are set by the typed adders (`PackAddBool`, `PackAddTime64`,
//! `PackAddIp`, the `…Ex` array adders under `PackSetCurrentJsonGroupName`).
//! A binary PACK on the wire carries none of this, so [`OutPack`] records
//! them next to a [`Pack`]: the binary RPC path uses [`OutPack::into_pack`],
//! the JSON-RPC path hands the whole `OutPack` to [`crate::json::to_json`].
//!
//! Adding a scalar whose name already exists is ignored ("first one wins"),
//! exactly as SoftEther's `AddElement` refuses a duplicate name
//! (docs/admin-rpc.md §2). This matters where two field groups share a name, e.g.
//! `ServerProductName` in `GetSessionStatus` (docs/admin-rpc.md §6.4).

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};

use rustether_proto::{Element, Pack, Value};

/// How the JSON-RPC layer renders an element (SoftEther's `JsonHint_*`).
#[derive(Copy, Clone, Debug, PartialEq, Eq)]
pub enum JsonKind {
    /// Rendered by PACK type: INT `_u32`, INT64 `_u64`, STR `_str`,
    /// UNISTR `_utf`, DATA `_bin`.
    Plain,
    /// INT rendered as a JSON boolean with suffix `_bool` (`PackAddBool`).
    Bool,
    /// INT64 milliseconds rendered as an RFC 3339 string with suffix `_dt`
    /// (`PackAddTime64`).
    Time,
    /// The INT element of an IP field, rendered as an address string with
    /// suffix `_ip` (`PackAddIp`).
    Ip,
    /// One of the three `X@ipv6_*` helper elements of an IP field; never
    /// rendered.
    IpPart,
}

/// The JSON hints of one element.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonHint {
    /// Rendering of the values.
    pub kind: JsonKind,
    /// Added with an array adder (`JsonHint_IsArray`): rendered as a JSON
    /// array even with a single value.
    pub array: bool,
    /// Group (`JsonHint_GroupName`): array elements of one group become one
    /// JSON array of objects under the group name (e.g. `HubList`).
    pub group: Option<String>,
}

/// A PACK under construction plus the JSON hints of its elements.
#[derive(Clone, Debug, Default)]
pub struct OutPack {
    pack: Pack,
    hints: HashMap<String, JsonHint>,
    groups: Vec<String>,
    current_group: Option<String>,
}

fn key(name: &str) -> String {
    name.to_ascii_lowercase()
}

/// The INT value SoftEther stores for an IPv4 address (`IPToUINT`): the
/// octets in memory order, so they appear reversed on the big-endian wire
/// (docs/admin-rpc.md §2.1).
pub fn ipv4_to_int(ip: Ipv4Addr) -> u32 {
    u32::from_le_bytes(ip.octets())
}

/// Inverse of [`ipv4_to_int`].
pub fn int_to_ipv4(v: u32) -> Ipv4Addr {
    Ipv4Addr::from(v.to_le_bytes())
}

fn ip_parts(ip: IpAddr) -> (u32, bool, [u8; 16]) {
    match ip {
        // 9674 sends 16 zero bytes in `@ipv6_array` for IPv4 (verified,
        // docs/admin-rpc.md §2.1); readers ignore the array then.
        IpAddr::V4(v4) => (ipv4_to_int(v4), false, [0u8; 16]),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => (ipv4_to_int(v4), false, [0u8; 16]),
            None => (0, true, v6.octets()),
        },
    }
}

impl OutPack {
    /// An empty output PACK.
    pub fn new() -> OutPack {
        OutPack::default()
    }

    /// Wraps a PACK built elsewhere. Hints are guessed: the three
    /// `X@ipv6_*` elements mark `X` as an IP field, elements with two or more
    /// values are arrays; booleans and times cannot be recognised and render
    /// as plain numbers.
    pub fn from_pack(pack: Pack) -> OutPack {
        let mut hints = HashMap::new();
        for e in pack.elements() {
            if let Some(base) = e.name.strip_suffix("@ipv6_bool") {
                if pack.element(base).is_some() {
                    hints.insert(
                        key(base),
                        JsonHint {
                            kind: JsonKind::Ip,
                            array: pack.count(base) > 1,
                            group: None,
                        },
                    );
                }
            }
        }
        for e in pack.elements() {
            if e.name.contains("@ipv6_") {
                hints.insert(
                    key(&e.name),
                    JsonHint {
                        kind: JsonKind::IpPart,
                        array: e.values.len() > 1,
                        group: None,
                    },
                );
            }
        }
        OutPack {
            pack,
            hints,
            groups: Vec::new(),
            current_group: None,
        }
    }

    /// The binary PACK (what the framed RPC sends).
    pub fn pack(&self) -> &Pack {
        &self.pack
    }

    /// Consumes the builder, returning the binary PACK.
    pub fn into_pack(self) -> Pack {
        self.pack
    }

    /// Hints of element `name` (case-insensitive); elements added without
    /// hints are [`JsonKind::Plain`] scalars.
    pub fn hint(&self, name: &str) -> JsonHint {
        self.hints.get(&key(name)).cloned().unwrap_or(JsonHint {
            kind: JsonKind::Plain,
            array: false,
            group: None,
        })
    }

    /// Group names registered with [`OutPack::group`], in order (SoftEther's
    /// `json_subitem_names`); a registered group with no items renders as an
    /// empty JSON array.
    pub fn groups(&self) -> &[String] {
        &self.groups
    }

    fn scalar(&mut self, name: &str, value: Value, kind: JsonKind) {
        if self.pack.element(name).is_some() {
            return; // first one wins, as SoftEther's AddElement
        }
        self.pack.add_element(Element::new(name, value));
        self.hints.insert(
            key(name),
            JsonHint {
                kind,
                array: false,
                group: None,
            },
        );
    }

    fn push(&mut self, name: &str, value: Value, kind: JsonKind) {
        if let Some(e) = self.pack.element(name) {
            if e.values[0].value_type() != value.value_type() {
                return; // SoftEther's AddElement refuses the duplicate name
            }
        }
        match value {
            Value::Int(v) => self.pack.push_int(name, v),
            Value::Int64(v) => self.pack.push_int64(name, v),
            Value::Data(v) => self.pack.push_data(name, &v),
            Value::Str(v) => self.pack.push_str(name, &v),
            Value::UniStr(v) => self.pack.push_unistr(name, &v),
        }
        self.hints.insert(
            key(name),
            JsonHint {
                kind,
                array: true,
                group: self.current_group.clone(),
            },
        );
    }

    /// Runs `f` with `group` as the current JSON group
    /// (`PackSetCurrentJsonGroupName`); the array adders inside belong to it.
    /// The group is registered even if `f` adds nothing.
    pub fn group(&mut self, group: &str, f: impl FnOnce(&mut OutPack)) {
        if !self.groups.iter().any(|g| g.eq_ignore_ascii_case(group)) {
            self.groups.push(group.to_owned());
        }
        let saved = self.current_group.replace(group.to_owned());
        f(self);
        self.current_group = saved;
    }

    /// INT scalar (`PackAddInt`).
    pub fn int(&mut self, name: &str, v: u32) {
        self.scalar(name, Value::Int(v), JsonKind::Plain)
    }
    /// INT64 scalar (`PackAddInt64`).
    pub fn int64(&mut self, name: &str, v: u64) {
        self.scalar(name, Value::Int64(v), JsonKind::Plain)
    }
    /// Boolean scalar, INT 0/1 (`PackAddBool`).
    pub fn bool(&mut self, name: &str, v: bool) {
        self.scalar(name, Value::Int(v as u32), JsonKind::Bool)
    }
    /// Time scalar, INT64 SoftEther time ([`rustether_proto::softether::time`]) (`PackAddTime64`).
    pub fn time(&mut self, name: &str, ms: u64) {
        self.scalar(name, Value::Int64(ms), JsonKind::Time)
    }
    /// STR scalar (`PackAddStr`).
    pub fn str(&mut self, name: &str, v: &str) {
        self.scalar(name, Value::Str(v.to_owned()), JsonKind::Plain)
    }
    /// UNISTR scalar (`PackAddUniStr`).
    pub fn ustr(&mut self, name: &str, v: &str) {
        self.scalar(name, Value::UniStr(v.to_owned()), JsonKind::Plain)
    }
    /// DATA scalar (`PackAddData`).
    pub fn data(&mut self, name: &str, v: &[u8]) {
        self.scalar(name, Value::Data(v.to_vec()), JsonKind::Plain)
    }
    /// IP field: the four elements of docs/admin-rpc.md §2.1 (`PackAddIp`).
    /// IPv4-mapped IPv6 addresses are sent as IPv4.
    pub fn ip(&mut self, name: &str, ip: IpAddr) {
        let (v4, is6, arr) = ip_parts(ip);
        self.scalar(
            &format!("{name}@ipv6_bool"),
            Value::Int(is6 as u32),
            JsonKind::IpPart,
        );
        self.scalar(
            &format!("{name}@ipv6_array"),
            Value::Data(arr.to_vec()),
            JsonKind::IpPart,
        );
        self.scalar(
            &format!("{name}@ipv6_scope_id"),
            Value::Int(0),
            JsonKind::IpPart,
        );
        self.scalar(name, Value::Int(v4), JsonKind::Ip);
    }

    /// Appends to INT array `name` (`PackAddIntEx`).
    pub fn push_int(&mut self, name: &str, v: u32) {
        self.push(name, Value::Int(v), JsonKind::Plain)
    }
    /// Appends to INT64 array `name` (`PackAddInt64Ex`).
    pub fn push_int64(&mut self, name: &str, v: u64) {
        self.push(name, Value::Int64(v), JsonKind::Plain)
    }
    /// Appends to boolean array `name` (`PackAddBoolEx`).
    pub fn push_bool(&mut self, name: &str, v: bool) {
        self.push(name, Value::Int(v as u32), JsonKind::Bool)
    }
    /// Appends to time array `name`, SoftEther time (`PackAddTime64Ex`).
    pub fn push_time(&mut self, name: &str, ms: u64) {
        self.push(name, Value::Int64(ms), JsonKind::Time)
    }
    /// Appends to STR array `name` (`PackAddStrEx`).
    pub fn push_str(&mut self, name: &str, v: &str) {
        self.push(name, Value::Str(v.to_owned()), JsonKind::Plain)
    }
    /// Appends to UNISTR array `name` (`PackAddUniStrEx`).
    pub fn push_ustr(&mut self, name: &str, v: &str) {
        self.push(name, Value::UniStr(v.to_owned()), JsonKind::Plain)
    }
    /// Appends to DATA array `name` (`PackAddDataEx`).
    pub fn push_data(&mut self, name: &str, v: &[u8]) {
        self.push(name, Value::Data(v.to_vec()), JsonKind::Plain)
    }
    /// Appends to the four arrays of IP field `name` (`PackAddIpEx`).
    pub fn push_ip(&mut self, name: &str, ip: IpAddr) {
        let (v4, is6, arr) = ip_parts(ip);
        self.push(
            &format!("{name}@ipv6_bool"),
            Value::Int(is6 as u32),
            JsonKind::IpPart,
        );
        self.push(
            &format!("{name}@ipv6_array"),
            Value::Data(arr.to_vec()),
            JsonKind::IpPart,
        );
        self.push(
            &format!("{name}@ipv6_scope_id"),
            Value::Int(0),
            JsonKind::IpPart,
        );
        self.push(name, Value::Int(v4), JsonKind::Ip);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv6Addr;

    #[test]
    fn first_add_wins_like_softether() {
        let mut o = OutPack::new();
        o.str("ServerProductName", "first");
        o.str("serverproductname", "second");
        o.int("ServerProductName", 7);
        assert_eq!(o.pack().get_str("ServerProductName"), Some("first"));
        assert_eq!(o.pack().len(), 1);
    }

    #[test]
    fn ipv4_wire_value_is_reversed_octets() {
        // docs/admin-rpc.md §2.1: 127.0.0.1 travels as 01 00 00 7F = 16777343.
        assert_eq!(ipv4_to_int(Ipv4Addr::new(127, 0, 0, 1)), 16_777_343);
        assert_eq!(int_to_ipv4(16_777_343), Ipv4Addr::new(127, 0, 0, 1));
        let mut o = OutPack::new();
        o.ip("ClientIP", IpAddr::V4(Ipv4Addr::new(127, 0, 0, 1)));
        let p = o.pack();
        assert_eq!(p.get_int("ClientIP"), Some(16_777_343));
        assert_eq!(p.get_int("ClientIP@ipv6_bool"), Some(0));
        assert_eq!(p.get_data("ClientIP@ipv6_array"), Some(&[0u8; 16][..]));
        assert_eq!(p.get_int("ClientIP@ipv6_scope_id"), Some(0));
        assert_eq!(o.hint("clientip").kind, JsonKind::Ip);
        assert_eq!(o.hint("ClientIP@ipv6_bool").kind, JsonKind::IpPart);
    }

    #[test]
    fn ipv6_and_mapped_addresses() {
        let mut o = OutPack::new();
        let v6: Ipv6Addr = "2001:db8::1".parse().unwrap();
        o.ip("A", IpAddr::V6(v6));
        o.ip("B", IpAddr::V6(Ipv4Addr::new(10, 1, 2, 3).to_ipv6_mapped()));
        let p = o.pack();
        assert_eq!(p.get_int("A"), Some(0));
        assert!(p.get_bool("A@ipv6_bool"));
        assert_eq!(p.get_data("A@ipv6_array"), Some(&v6.octets()[..]));
        assert!(!p.get_bool("B@ipv6_bool"));
        assert_eq!(
            p.get_int("B"),
            Some(ipv4_to_int(Ipv4Addr::new(10, 1, 2, 3)))
        );
    }

    #[test]
    fn arrays_carry_group_and_array_hints() {
        let mut o = OutPack::new();
        o.str("HubName", "scalar-outside");
        o.group("HubList", |o| {
            o.push_str("HubName", "A"); // type matches the scalar: appended
            o.push_bool("Online", true);
            o.push_time("CreatedTime", 5);
        });
        o.group("Empty", |_| {});
        let p = o.pack();
        assert_eq!(p.count("HubName"), 2);
        assert_eq!(p.get_str_at("HubName", 1), Some("A"));
        let h = o.hint("Online");
        assert_eq!(h.kind, JsonKind::Bool);
        assert!(h.array);
        assert_eq!(h.group.as_deref(), Some("HubList"));
        assert_eq!(o.hint("CreatedTime").kind, JsonKind::Time);
        assert_eq!(o.groups(), ["HubList".to_owned(), "Empty".to_owned()]);
        // push of another type onto an existing name is dropped
        o.push_int("HubName", 3);
        assert_eq!(o.pack().count("HubName"), 2);
    }

    #[test]
    fn from_pack_guesses_ip_fields() {
        let mut p = Pack::new();
        p.add_ip("X", IpAddr::V4(Ipv4Addr::new(1, 2, 3, 4)));
        p.add_int("N", 1);
        let o = OutPack::from_pack(p);
        assert_eq!(o.hint("X").kind, JsonKind::Ip);
        assert_eq!(o.hint("X@ipv6_array").kind, JsonKind::IpPart);
        assert_eq!(o.hint("N").kind, JsonKind::Plain);
    }
}
