//! The JSON-RPC web API (docs/admin-rpc.md §9): the same RPCs over HTTPS at
//! `/api/`, with SoftEther's conversion between PACKs and JSON
//! (`PackToJson`, `JsonToPack`, `JsonTryParseValueAddToPack` in
//! `src/Mayaqua/Pack.c`), the JSON-RPC 2.0 envelope (`JsonRpcProcPost`,
//! `JsonRpcProcGet`, `JsonRpcNewError` in `src/Cedar/Admin.c`) and the
//! authentication headers (`HttpParseBasicAuthHeader`, `JsonRpcAuthLogin`).
//!
//! Field names carry a type suffix: `_u32` INT, `_u64` INT64, `_bool` BOOL,
//! `_str` STR, `_utf` UNISTR, `_bin` DATA (base64), `_dt` time (RFC 3339
//! string `YYYY-MM-DDTHH:MM:SS.mmmZ`), `_ip` IP field (address text; the
//! `@ipv6_*` helper elements are hidden). Enumeration arrays are grouped into
//! a JSON array of objects under the group name (`HubList`, `UserList`, …).
//!
//! Times are SoftEther times ([`rustether_proto::softether::time`]): a zero time renders as
//! `1970-01-01T09:00:00.000Z` exactly as 9674 does (observed).
//!
//! Deliberate differences from SoftEther 5.01 (documented in crates/admin/NOTES.md):
//! JSON is not escaped `\/`, key order is alphabetical, and the error texts
//! of codes other than 8 and 52 are our own English wording. Everything here
//! is pure; the HTTP exchange belongs to the server glue.

use std::collections::HashMap;
use std::net::IpAddr;

use base64::Engine;
use rustether_proto::{Element, ErrorCode, Pack, Value as PValue, ValueType};
use serde_json::{Map, Value};

use crate::dispatch::{dispatch_call, AdminBackend, Caller};
use crate::login::{
    is_empty_password_hash, AdminRights, HubAdminEntry, LoginSource, WRONG_PASSWORD,
};
use crate::outpack::{int_to_ipv4, JsonKind, OutPack};
use crate::rpc::{MAX_ITEMS, MAX_NAME_LEN};
use rustether_proto::password::{constant_time_eq, hash_admin_password};
use rustether_proto::softether::time::{self, UtcTime};

/// Largest JSON-RPC body a hub administrator may post (8 MiB,
/// `ADMIN_RPC_MAX_POST_SIZE_BY_HUB_ADMIN`, `src/Cedar/Admin.h`).
pub const MAX_BODY_HUB_ADMIN: usize = 8 * 1024 * 1024;

/// Largest JSON-RPC body a server administrator may post. SoftEther allows
/// `MAX_PACK_SIZE` (512 MiB); we stop at the RPC frame limit.
pub const MAX_BODY_SERVER_ADMIN: usize = crate::framing::DEFAULT_MAX_FRAME;

/// Header with the administrator password (`HttpParseBasicAuthHeader`).
pub const HEADER_PASSWORD: &str = "X-VPNADMIN-PASSWORD";

/// Header with the hub name for hub-administrator login.
pub const HEADER_HUBNAME: &str = "X-VPNADMIN-HUBNAME";

/// CORS headers SoftEther adds to every API answer, also to `OPTIONS`
/// (verified, docs/admin-rpc.md §9).
pub const CORS_HEADERS: [(&str, &str); 3] = [
    ("Access-Control-Allow-Methods", "OPTIONS,GET,POST"),
    (
        "Access-Control-Allow-Headers",
        "X-VPNADMIN-HUBNAME,X-VPNADMIN-PASSWORD",
    ),
    ("Access-Control-Allow-Credentials", "true"),
];

/// `WWW-Authenticate` value of the 401 answer to a request without valid
/// credentials (verified text of 9674).
pub const WWW_AUTHENTICATE: &str = "Basic realm=\"Username 'administrator' for entire VPN Server privilege, or specify Virtual Hub name as the username for specified Virtual Hub administrative privilege.\"";

/// Content type of POST answers (verified).
pub const CONTENT_TYPE_POST: &str = "application/json";

/// Content type of GET answers (verified).
pub const CONTENT_TYPE_GET: &str = "text/plain; charset=UTF-8";

// ---------------------------------------------------------------- times

/// Renders a Unix time in ms as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub fn format_unix_ms(ms: u64) -> String {
    UtcTime::from_unix_ms(ms).rfc3339_ms()
}

/// Renders a SoftEther time (see [`rustether_proto::softether::time`]) as SoftEther's JSON time
/// (`SystemTime64ToJsonStr`): the UTC instant as
/// `YYYY-MM-DDTHH:MM:SS.mmmZ`; 0 gives `1970-01-01T09:00:00.000Z`
/// (observed on 9674).
pub fn format_time(t: u64) -> String {
    format_unix_ms(time::to_unix_ms(t))
}

/// Parses `YYYY-MM-DDTHH:MM:SS` with optional `.mmm` (1–3 digits,
/// right-padded) as a Unix time in ms (`DateTimeStrRFC3339ToSystemTime`):
/// anything after the seconds/milliseconds — `Z`, an offset — is ignored,
/// i.e. the text is read as UTC. `None` if unparsable or before 1970.
pub fn parse_unix_ms(s: &str) -> Option<u64> {
    let s = s.split('+').next().unwrap_or("");
    let b = s.as_bytes();
    if b.len() < 19
        || b[4] != b'-'
        || b[7] != b'-'
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        let t = s.get(r)?;
        t.bytes()
            .all(|c| c.is_ascii_digit())
            .then(|| t.parse().ok())?
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, se) = (num(11..13)?, num(14..16)?, num(17..19)?);
    let mut msec = 0;
    if b.len() >= 21 && b[19] == b'.' {
        let digits: String = s[20..]
            .chars()
            .take_while(char::is_ascii_digit)
            .take(3)
            .collect();
        msec = format!("{digits:0<3}").parse().unwrap_or(0);
    }
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || se > 60 {
        return None;
    }
    let days = time::days_from_civil(y, mo as u32, d as u32);
    u64::try_from(((days * 86_400 + h * 3600 + mi * 60 + se) * 1000) + msec).ok()
}

/// Parses a JSON time to a SoftEther time ([`parse_unix_ms`] minus the
/// 9-hour offset of [`rustether_proto::softether::time`]); unparsable text gives 0.
pub fn parse_time(s: &str) -> u64 {
    parse_unix_ms(s).map_or(0, time::from_unix_ms)
}

// ---------------------------------------------------------------- scalar conversions

/// `ToInt` (`src/Mayaqua/Str.c`): leading zeros dropped (so no octal), then
/// `strtoul(…, 0)` — optional white space and sign, `0x` hex or decimal
/// digits up to the first other character — truncated to 32 bits.
pub fn to_int(s: &str) -> u32 {
    let mut t = s;
    while let Some(rest) = t.strip_prefix('0') {
        if rest.starts_with(['x', 'X']) {
            break;
        }
        t = rest;
    }
    let t = t.trim_start_matches([' ', '\t', '\n', '\r', '\x0b', '\x0c']);
    let (neg, t) = match t.as_bytes().first() {
        Some(b'-') => (true, &t[1..]),
        Some(b'+') => (false, &t[1..]),
        _ => (false, t),
    };
    let (radix, digits) = match t.get(..2) {
        Some("0x") | Some("0X") => (16, &t[2..]),
        _ => (10, t),
    };
    let mut v: u64 = 0;
    for c in digits.chars() {
        match c.to_digit(radix) {
            Some(d) => v = v.saturating_mul(radix as u64).saturating_add(d as u64),
            None => break,
        }
    }
    let v = if neg { v.wrapping_neg() } else { v };
    v as u32
}

/// `ToInt64`: decimal digits, commas skipped, up to the first other
/// character (no sign, no white space).
pub fn to_int64(s: &str) -> u64 {
    let mut v: u64 = 0;
    for c in s.chars() {
        match c {
            ',' => {}
            '0'..='9' => v = v.wrapping_mul(10).wrapping_add(c as u64 - '0' as u64),
            _ => break,
        }
    }
    v
}

/// `ToBool`: trimmed text that is a non-zero number, or a prefix of / starts
/// with `true` or `yes` (case-insensitive).
pub fn to_bool(s: &str) -> bool {
    let t = s.trim_matches(|c| c == ' ' || c == '\t');
    if t.is_empty() {
        return false;
    }
    if to_int(t) != 0 {
        return true;
    }
    let l = t.to_ascii_lowercase();
    ["true", "yes"]
        .iter()
        .any(|w| w.starts_with(&l) || l.starts_with(w))
}

fn json_u64(n: &serde_json::Number) -> u64 {
    if let Some(u) = n.as_u64() {
        u
    } else if let Some(i) = n.as_i64() {
        i as u64
    } else {
        n.as_f64().map_or(0, |f| f as i64 as u64)
    }
}

// ---------------------------------------------------------------- PACK → JSON

fn suffix(kind: JsonKind, ty: ValueType, name: &str) -> Option<&'static str> {
    // DetermineJsonSuffixForPackElement
    match (ty, kind) {
        (ValueType::Int, JsonKind::Ip) if !name.contains('@') => Some("_ip"),
        (_, JsonKind::Ip) | (_, JsonKind::IpPart) => None,
        (ValueType::Int, JsonKind::Bool) => Some("_bool"),
        (ValueType::Int, _) => Some("_u32"),
        (ValueType::Int64, JsonKind::Time) => Some("_dt"),
        (ValueType::Int64, _) => Some("_u64"),
        (ValueType::Data, _) => Some("_bin"),
        (ValueType::Str, _) => Some("_str"),
        (ValueType::UniStr, _) => Some("_utf"),
    }
}

fn ip_at(p: &Pack, name: &str, i: usize) -> Option<IpAddr> {
    // PackGetIpEx
    if p.get_bool_at(&format!("{name}@ipv6_bool"), i) {
        let arr: [u8; 16] = p
            .get_data_at(&format!("{name}@ipv6_array"), i)
            .and_then(|d| d.try_into().ok())
            .unwrap_or([0; 16]);
        return Some(IpAddr::V6(arr.into()));
    }
    p.element(name)?;
    Some(IpAddr::V4(int_to_ipv4(p.get_int_at(name, i).unwrap_or(0))))
}

fn value_json(o: &OutPack, e: &Element, i: usize) -> Option<Value> {
    let kind = o.hint(&e.name).kind;
    let b64 = base64::engine::general_purpose::STANDARD;
    Some(match (&e.values[i], kind) {
        (PValue::Int(_), JsonKind::Ip) => Value::String(ip_at(o.pack(), &e.name, i)?.to_string()),
        (_, JsonKind::Ip) | (_, JsonKind::IpPart) => return None,
        (PValue::Int(v), JsonKind::Bool) => Value::Bool(*v != 0),
        (PValue::Int(v), _) => Value::from(*v),
        (PValue::Int64(v), JsonKind::Time) => Value::String(format_time(*v)),
        (PValue::Int64(v), _) => Value::from(*v),
        (PValue::Data(d), _) => Value::String(b64.encode(d)),
        (PValue::Str(s), _) | (PValue::UniStr(s), _) => Value::String(s.clone()),
    })
}

fn key_of(o: &OutPack, e: &Element) -> Option<String> {
    let ty = e.values.first()?.value_type();
    let sfx = suffix(o.hint(&e.name).kind, ty, &e.name)?;
    Some(format!("{}{sfx}", e.name))
}

/// Converts an output PACK with its hints to the JSON `result` object
/// (`PackToJson`): grouped arrays first — a group whose arrays differ in
/// length is left out, a registered group without items is `[]` — then
/// ungrouped arrays as JSON arrays and single values as fields.
pub fn to_json(o: &OutPack) -> Value {
    let p = o.pack();
    let is_array = |e: &Element| e.values.len() >= 2 || o.hint(&e.name).array;
    let mut groups: Vec<String> = Vec::new();
    let mut add_group = |g: &str| {
        if !groups.iter().any(|x| x.eq_ignore_ascii_case(g)) {
            groups.push(g.to_owned());
        }
    };
    for e in p.elements().filter(|e| is_array(e)) {
        if let Some(g) = o.hint(&e.name).group {
            add_group(&g);
        }
    }
    for g in o.groups() {
        add_group(g);
    }
    let mut map = Map::new();
    for g in &groups {
        let members: Vec<&Element> = p
            .elements()
            .filter(|e| {
                is_array(e)
                    && o.hint(&e.name)
                        .group
                        .is_some_and(|x| x.eq_ignore_ascii_case(g))
            })
            .collect();
        let n = members.first().map_or(0, |e| e.values.len());
        if members.iter().any(|e| e.values.len() != n) {
            continue;
        }
        let mut objs = vec![Map::new(); n];
        for e in &members {
            let Some(key) = key_of(o, e) else { continue };
            for (i, obj) in objs.iter_mut().enumerate() {
                if let Some(v) = value_json(o, e, i) {
                    obj.insert(key.clone(), v);
                }
            }
        }
        map.insert(
            g.clone(),
            Value::Array(objs.into_iter().map(Value::Object).collect()),
        );
    }
    for e in p.elements() {
        let Some(key) = key_of(o, e) else { continue };
        if is_array(e) {
            if o.hint(&e.name).group.is_none() {
                let arr = (0..e.values.len())
                    .filter_map(|i| value_json(o, e, i))
                    .collect();
                map.insert(key, Value::Array(arr));
            }
        } else if let Some(v) = value_json(o, e, 0) {
            map.insert(key, v);
        }
    }
    Value::Object(map)
}

// ---------------------------------------------------------------- JSON → PACK

/// One element being collected: its type, its announced value count and
/// the values actually given, as (index, value) in arrival order.
struct Slot {
    name: String,
    ty: ValueType,
    total: usize,
    given: Vec<(usize, PValue)>,
}

/// Collects values with SoftEther's `Pack…Ex(index, total)` semantics.
///
/// Values are kept sparse (only what the input gave) and looked up by a
/// hash of the lower-cased name, so collecting is linear in the input.
/// Turning them into a PACK fills the gaps with zero values; the number of
/// values that would make (`cells`) is bounded by
/// [`MAX_FILL_FACTOR`] × the values given, checked before anything is
/// materialised (issue 9: an array of objects with a distinct key each used
/// to reserve `array_len` values per key).
#[derive(Default)]
struct Collector {
    slots: Vec<Slot>,
    by_name: HashMap<String, usize>,
    /// Values given so far.
    given: usize,
    /// Values the PACK would hold: Σ `total` over the slots.
    cells: usize,
}

/// A JSON-RPC request may make at most this many PACK values per value it
/// actually contains (plus [`FILL_SLACK`]). Real requests fill every
/// object of an array with the same keys, so the ratio is about 1.
pub const MAX_FILL_FACTOR: usize = 4;

/// Values a request may make beyond [`MAX_FILL_FACTOR`] × those it gives.
pub const FILL_SLACK: usize = 4096;

impl Collector {
    fn add(&mut self, name: &str, v: PValue, index: usize, total: usize) {
        let mut name = name;
        if name.len() > 63 {
            // SoftEther copies names into a 64-byte buffer
            let mut cut = 63;
            while !name.is_char_boundary(cut) {
                cut -= 1;
            }
            name = &name[..cut];
        }
        if name.is_empty() || total == 0 || index >= total {
            return;
        }
        let ty = v.value_type();
        let key = name.to_ascii_lowercase();
        match self.by_name.get(&key) {
            Some(&i) => {
                // same type and enough slots: overwrite; otherwise dropped
                let slot = &mut self.slots[i];
                if slot.ty == ty && slot.total >= total {
                    slot.given.push((index, v));
                    self.given += 1;
                }
            }
            None => {
                self.by_name.insert(key, self.slots.len());
                self.slots.push(Slot {
                    name: name.to_owned(),
                    ty,
                    total,
                    given: vec![(index, v)],
                });
                self.given += 1;
                self.cells = self.cells.saturating_add(total);
            }
        }
    }

    fn add_ip(&mut self, name: &str, ip: IpAddr, index: usize, total: usize) {
        let (v4, is6, arr) = match ip {
            IpAddr::V4(a) => (crate::outpack::ipv4_to_int(a), false, [0u8; 16]),
            IpAddr::V6(a) => match a.to_ipv4_mapped() {
                Some(v4) => (crate::outpack::ipv4_to_int(v4), false, [0u8; 16]),
                None => (0, true, a.octets()),
            },
        };
        self.add(
            &format!("{name}@ipv6_bool"),
            PValue::Int(is6 as u32),
            index,
            total,
        );
        self.add(
            &format!("{name}@ipv6_array"),
            PValue::Data(arr.to_vec()),
            index,
            total,
        );
        self.add(
            &format!("{name}@ipv6_scope_id"),
            PValue::Int(0),
            index,
            total,
        );
        self.add(name, PValue::Int(v4), index, total);
    }

    /// True if the PACK would hold more values than the input justifies.
    fn over_budget(&self) -> bool {
        self.cells
            > self
                .given
                .saturating_mul(MAX_FILL_FACTOR)
                .saturating_add(FILL_SLACK)
    }

    fn into_pack(self) -> Pack {
        let mut p = Pack::new();
        for slot in self.slots {
            let zero = match slot.ty {
                ValueType::Int => PValue::Int(0),
                ValueType::Int64 => PValue::Int64(0),
                ValueType::Data => PValue::Data(Vec::new()),
                ValueType::Str => PValue::Str(String::new()),
                ValueType::UniStr => PValue::UniStr(String::new()),
            };
            let mut values = vec![zero; slot.total];
            // later values for the same index overwrite earlier ones
            for (i, v) in slot.given {
                values[i] = v;
            }
            p.add_element(Element {
                name: slot.name,
                values,
            });
        }
        p
    }
}

fn strip_suffix_ci<'a>(key: &'a str, sfx: &str) -> Option<&'a str> {
    let n = key.len().checked_sub(sfx.len())?;
    (key.is_char_boundary(n) && key[n..].eq_ignore_ascii_case(sfx)).then(|| &key[..n])
}

/// `JsonTryParseValueAddToPack`: one JSON value under `key` (with suffix).
fn add_json_value(c: &mut Collector, key: &str, v: &Value, index: usize, total: usize) {
    let b64 = base64::engine::general_purpose::STANDARD;
    let num_str = |v: &Value| match v {
        Value::Bool(b) => Some(if *b { "true" } else { "false" }.to_owned()),
        Value::Number(n) => Some(json_u64(n).to_string()),
        Value::String(s) => Some(s.clone()),
        _ => None,
    };
    if let Some(name) = strip_suffix_ci(key, "_bool") {
        let b = match v {
            Value::Bool(b) => *b,
            Value::Number(n) => json_u64(n) != 0,
            Value::String(s) => to_bool(s),
            _ => return,
        };
        c.add(name, PValue::Int(b as u32), index, total);
    } else if let Some(name) = strip_suffix_ci(key, "_u32") {
        let x = match v {
            Value::Bool(b) => *b as u32,
            Value::Number(n) => json_u64(n) as u32,
            Value::String(s) => to_int(s),
            _ => return,
        };
        c.add(name, PValue::Int(x), index, total);
    } else if let Some(name) = strip_suffix_ci(key, "_u64") {
        let x = match v {
            Value::Bool(b) => *b as u64,
            Value::Number(n) => json_u64(n),
            Value::String(s) => to_int64(s),
            _ => return,
        };
        c.add(name, PValue::Int64(x), index, total);
    } else if let Some(name) = strip_suffix_ci(key, "_str") {
        if let Some(s) = num_str(v) {
            c.add(name, PValue::Str(s), index, total);
        }
    } else if let Some(name) = strip_suffix_ci(key, "_utf") {
        if let Some(s) = num_str(v) {
            c.add(name, PValue::UniStr(s), index, total);
        }
    } else if let Some(name) = strip_suffix_ci(key, "_bin") {
        if let Value::String(s) = v {
            let compact: String = s.chars().filter(|c| !c.is_ascii_whitespace()).collect();
            let decoded = b64
                .decode(&compact)
                .or_else(|_| base64::engine::general_purpose::STANDARD_NO_PAD.decode(&compact));
            // Base64ToBin of bad or empty input yields no element at all
            if let Ok(d) = decoded {
                if !d.is_empty() {
                    c.add(name, PValue::Data(d), index, total);
                }
            }
        }
    } else if let Some(name) = strip_suffix_ci(key, "_dt") {
        let t = match v {
            Value::Number(n) => json_u64(n),
            Value::String(s) => parse_time(s),
            _ => return,
        };
        c.add(name, PValue::Int64(t), index, total);
    } else if let Some(name) = strip_suffix_ci(key, "_ip") {
        if let Value::String(s) = v {
            if let Ok(ip) = s.trim().parse::<IpAddr>() {
                c.add_ip(name, ip, index, total);
            }
        }
    }
    // keys without a known suffix are ignored
}

/// Converts JSON-RPC `params` to a request PACK (`JsonToPack`): each field
/// by its suffix; an array of scalars becomes a multi-value element, an
/// array of objects contributes element `k` value `i` from field `k` of
/// object `i`. Arrays longer than [`MAX_ITEMS`] are ignored. Non-object
/// params give an empty PACK. Params that would make more PACK values than
/// [`MAX_FILL_FACTOR`] × the values they contain (+ [`FILL_SLACK`]) give an
/// empty PACK too; the server uses [`try_from_json`], which refuses them.
pub fn from_json(params: &Value) -> Pack {
    try_from_json(params).unwrap_or_default()
}

/// [`from_json`] that refuses, with `ERR_INVALID_PARAMETER` (38), params
/// whose PACK would hold more than [`MAX_FILL_FACTOR`] × the values they
/// contain (+ [`FILL_SLACK`]): memory and time stay linear in the body.
pub fn try_from_json(params: &Value) -> Result<Pack, ErrorCode> {
    let mut c = Collector::default();
    if let Value::Object(obj) = params {
        for (key, v) in obj {
            match v {
                Value::Array(items) if items.len() <= MAX_ITEMS => {
                    for (i, item) in items.iter().enumerate() {
                        match item {
                            Value::Object(o) => {
                                for (k2, v2) in o {
                                    add_json_value(&mut c, k2, v2, i, items.len());
                                }
                            }
                            _ => add_json_value(&mut c, key, item, i, items.len()),
                        }
                    }
                }
                Value::Array(_) => {}
                _ => add_json_value(&mut c, key, v, 0, 1),
            }
        }
    }
    if c.over_budget() {
        return Err(ErrorCode::INVALID_PARAMETER);
    }
    Ok(c.into_pack())
}

// ---------------------------------------------------------------- envelope

/// A parsed JSON-RPC call.
#[derive(Clone, Debug, PartialEq)]
pub struct JsonRpcRequest {
    /// The request id echoed in the answer: the `id` string, or `"0"` when
    /// it is absent or not a string (observed: a numeric id is answered
    /// `"0"`).
    pub id: String,
    /// `method`: an RPC name such as `EnumHub`.
    pub method: String,
    /// `params` (always an object).
    pub params: Value,
}

/// A request that cannot be executed, answered with an error object.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonRpcReject {
    /// Id to answer with.
    pub id: String,
    /// Error code (38 for all envelope problems).
    pub code: ErrorCode,
    /// Text after `Error code N: ` (SoftEther's wording, observed).
    pub message: &'static str,
}

impl JsonRpcReject {
    /// The error answer.
    pub fn response(&self) -> Value {
        error_response(&self.id, self.code, Some(self.message))
    }
}

/// Parses a POST body (`JsonRpcProcPost`). Order and texts as observed on
/// 9674: not a JSON object → "Parameter is invalid: JSON-RPC Parse Error"
/// (id "0"); `jsonrpc` not "2.0" → "JSON-RPC version is invalid" (id "0");
/// empty `method` → "JSON-RPC method name is empty"; `params` missing or
/// not an object → "JSON-RPC parameter is empty". All with code 38.
pub fn parse_request(body: &[u8]) -> Result<JsonRpcRequest, JsonRpcReject> {
    let reject = |id: &str, message| JsonRpcReject {
        id: id.to_owned(),
        code: ErrorCode::INVALID_PARAMETER,
        message,
    };
    let v: Value = serde_json::from_slice(body)
        .map_err(|_| reject("0", "Parameter is invalid: JSON-RPC Parse Error"))?;
    let Value::Object(mut o) = v else {
        return Err(reject("0", "Parameter is invalid: JSON-RPC Parse Error"));
    };
    let version_ok = o
        .get("jsonrpc")
        .and_then(Value::as_str)
        .is_some_and(|s| s.eq_ignore_ascii_case("2.0"));
    if !version_ok {
        return Err(reject("0", "JSON-RPC version is invalid"));
    }
    let id = o
        .get("id")
        .and_then(Value::as_str)
        .unwrap_or("0")
        .to_owned();
    let method = o.get("method").and_then(Value::as_str).unwrap_or("");
    if method.is_empty() {
        return Err(reject(&id, "JSON-RPC method name is empty"));
    }
    let method = method.to_owned();
    // taken, not cloned: the tree is the largest allocation of a request
    let params = match o.remove("params") {
        Some(p @ Value::Object(_)) => p,
        _ => return Err(reject(&id, "JSON-RPC parameter is empty")),
    };
    Ok(JsonRpcRequest { id, method, params })
}

fn url_decode(s: &str) -> String {
    let b = s.as_bytes();
    let hex = |c: u8| (c as char).to_digit(16);
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => match (hex(b[i + 1]), hex(b[i + 2])) {
                (Some(h), Some(l)) => {
                    out.push((h * 16 + l) as u8);
                    i += 2;
                }
                _ => out.push(b'%'),
            },
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses a GET target `/api/<Method>[/…][?k=v&…]` (`JsonRpcProcGet`): the
/// method is the path segment after `/api/`, the query becomes string
/// params (URL-decoded, first occurrence of a key wins; values are converted
/// by suffix like POST params). `id` is supplied by the caller (9674 uses
/// the local time `YYYY-MM-DD HH:MM:SS.mmm`). `None` if the target has no
/// method (SoftEther then serves its API documentation page or 404).
pub fn parse_get(target: &str, id: &str) -> Option<JsonRpcRequest> {
    let (path, query) = target.split_once('?').unwrap_or((target, ""));
    let rest = path
        .get(..5)
        .filter(|p| p.eq_ignore_ascii_case("/api/"))
        .map(|_| &path[5..])?;
    let method = rest.split('/').next().unwrap_or("");
    if method.is_empty() {
        return None;
    }
    let mut params = Map::new();
    for tok in query.split('&').filter(|t| !t.is_empty()) {
        let Some((k, v)) = tok.split_once('=') else {
            continue;
        };
        let k = url_decode(k);
        if !params.keys().any(|x| x.eq_ignore_ascii_case(&k)) {
            params.insert(k, Value::String(url_decode(v)));
        }
    }
    Some(JsonRpcRequest {
        id: id.to_owned(),
        method: method.to_owned(),
        params: Value::Object(params),
    })
}

/// `{"result": …, "jsonrpc": "2.0", "id": id}`.
pub fn result_response(id: &str, result: Value) -> Value {
    serde_json::json!({ "result": result, "jsonrpc": "2.0", "id": id })
}

/// `{"error": {"code": N, "message": "Error code N: <text>"}, "jsonrpc":
/// "2.0", "id": id}` (`JsonRpcNewError`; verified for 8 and 52). Without a
/// text the message is `Error code N`.
pub fn error_response(id: &str, code: ErrorCode, text: Option<&str>) -> Value {
    let message = match text.filter(|t| !t.is_empty()) {
        Some(t) => format!("Error code {}: {t}", code.0),
        None => format!("Error code {}", code.0),
    };
    serde_json::json!({
        "error": { "code": code.0, "message": message },
        "jsonrpc": "2.0",
        "id": id,
    })
}

/// A short English description of an error code for JSON error messages
/// (our wording; SoftEther uses its localised string table).
pub fn error_text(code: ErrorCode) -> Option<&'static str> {
    Some(match code.0 {
        1 => "Connection to the server failed.",
        3 => "Disconnected.",
        4 => "Protocol error.",
        8 => "The specified Virtual Hub does not exist on the server.",
        9 => "Authentication failed.",
        12 => "Access denied.",
        23 => "Internal error.",
        29 => "Object not found.",
        33 => "Unsupported.",
        38 => "Invalid parameter.",
        46 => "This operation needs a cluster controller.",
        51 => "The password is empty: allowed only from the server itself.",
        52 => "Not enough privileges.",
        53 => "Listener not found.",
        54 => "A listener with this port number already exists.",
        57 => "A Virtual Hub with this name already exists.",
        58 => "Too many Virtual Hubs.",
        59 => "A cascade connection with this name already exists.",
        60 => "Cascade connections cannot be managed on a cluster.",
        61 => "The cascade connection is offline.",
        63 => "Too many users in this Virtual Hub.",
        65 => "Group not found.",
        66 => "A user with this name already exists.",
        73 => {
            "The session of a cascade connection cannot be disconnected; stop the cascade instead."
        }
        78 => "The SecureNAT session cannot be disconnected.",
        82 => "The local bridge session cannot be disconnected.",
        84 => "Local bridges are not supported on this system.",
        91 => "The layer 3 switch session cannot be disconnected.",
        109 => "Access from this address is denied.",
        128 => "Too many users on the server.",
        143 => "This authentication method is not supported.",
        _ => return None,
    })
}

/// Executes a parsed call (`JsonRpcProcRequestObject`): params → PACK,
/// [`dispatch_call`], result → JSON. Returns the complete answer object.
pub fn call(backend: &mut dyn AdminBackend, caller: &Caller, req: &JsonRpcRequest) -> Value {
    let pack = match try_from_json(&req.params) {
        Ok(p) => p,
        Err(e) => return error_response(&req.id, e, error_text(e)),
    };
    let outcome = dispatch_call(backend, caller, &req.method, &pack);
    match &outcome.result {
        Ok(out) => result_response(&req.id, to_json(out)),
        Err(e) => error_response(&req.id, *e, error_text(*e)),
    }
}

/// A POST body → the answer object (parse, then [`call`]).
pub fn handle_post(backend: &mut dyn AdminBackend, caller: &Caller, body: &[u8]) -> Value {
    match parse_request(body) {
        Ok(req) => call(backend, caller, &req),
        Err(r) => r.response(),
    }
}

/// Serialises an answer like SoftEther (pretty, four-space indent).
pub fn to_body(v: &Value) -> Vec<u8> {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    serde::Serialize::serialize(v, &mut ser).expect("serialising a Value to memory cannot fail");
    out
}

// ---------------------------------------------------------------- authentication

/// Credentials of a JSON-RPC request.
#[derive(Clone, PartialEq, Eq)]
pub struct AdminCredentials {
    /// "" or `administrator` = server administrator; otherwise a hub name.
    pub username: String,
    /// The password in clear.
    pub password: String,
}

impl std::fmt::Debug for AdminCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AdminCredentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Reads the credentials (`HttpParseBasicAuthHeader`): `X-VPNADMIN-PASSWORD`
/// (with optional `X-VPNADMIN-HUBNAME` as the user name) wins over
/// `Authorization: Basic base64(user:password)`. `header` looks a header
/// up case-insensitively. `None` if neither is usable (answer 401).
pub fn parse_credentials<'a>(header: impl Fn(&str) -> Option<&'a str>) -> Option<AdminCredentials> {
    if let Some(pw) = header(HEADER_PASSWORD) {
        return Some(AdminCredentials {
            username: header(HEADER_HUBNAME).unwrap_or("").trim().to_owned(),
            password: pw.to_owned(),
        });
    }
    let auth = header("Authorization")?.trim();
    let (scheme, value) = auth.split_once([' ', '\t'])?;
    let value = value.trim();
    if !scheme.eq_ignore_ascii_case("Basic") || value.is_empty() {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(value)
        .ok()?;
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (user, pw) = text.split_once(':')?;
    Some(AdminCredentials {
        username: user.trim().to_owned(),
        password: pw.to_owned(),
    })
}

/// Shortest `MetricsToken` accepted (RustEther only, docs/metrics.md): a
/// shorter configured token is ignored, so a weak value cannot be guessed.
pub const METRICS_TOKEN_MIN_LEN: usize = 16;

/// Longest bearer token read from a request; longer ones are refused
/// before any comparison.
pub const METRICS_TOKEN_MAX_LEN: usize = 256;

/// The throttle account of `/metrics` bearer-token attempts (kept apart
/// from the administrator accounts, [`crate::throttle::admin_account`]).
pub const METRICS_TOKEN_ACCOUNT: &str = "metrics-token";

/// The token of `Authorization: Bearer <token>` (RFC 6750 §2.1; scheme
/// case-insensitive, surrounding blanks trimmed). `None` without that
/// header, for another scheme, or for an empty token or one longer than
/// [`METRICS_TOKEN_MAX_LEN`]. `header` looks a header up
/// case-insensitively, as for [`parse_credentials`].
pub fn parse_bearer_token<'a>(header: impl Fn(&str) -> Option<&'a str>) -> Option<&'a str> {
    let auth = header("Authorization")?.trim();
    let (scheme, value) = auth.split_once([' ', '\t'])?;
    let value = value.trim();
    (scheme.eq_ignore_ascii_case("Bearer")
        && !value.is_empty()
        && value.len() <= METRICS_TOKEN_MAX_LEN)
        .then_some(value)
}

/// Whether `presented` is the configured `/metrics` token. `false` when
/// `configured` is shorter than [`METRICS_TOKEN_MIN_LEN`] bytes (not a
/// usable token). Compared without early exit
/// ([`rustether_proto::password::constant_time_eq`]), so response timing
/// does not reveal a matching prefix (only whether the length matches).
pub fn metrics_token_matches(configured: &str, presented: &str) -> bool {
    configured.len() >= METRICS_TOKEN_MIN_LEN
        && rustether_proto::password::constant_time_eq(configured.as_bytes(), presented.as_bytes())
}

/// Authenticates JSON-RPC credentials (`JsonRpcAuthLogin`, with this
/// project's rules):
///
/// * user name "" or `administrator`: the server password. If none is set,
///   any password logs in — but, unlike SoftEther, only from the server's
///   own addresses; else `ERR_NULL_PASSWORD_LOCAL_ONLY` (51).
/// * otherwise the user name is a hub and the password its administrator
///   password; hubs without a password (empty or zero hash) refuse
///   hub-admin login (as SoftEther).
///
/// Errors: 51 as above, [`WRONG_PASSWORD`] (9) for anything else. Every
/// error means HTTP 401 with [`WWW_AUTHENTICATE`].
pub fn json_login(
    creds: &AdminCredentials,
    server_hash: &[u8; 20],
    lookup_hub: impl FnOnce(&str) -> Option<HubAdminEntry>,
    source: LoginSource<'_>,
) -> Result<AdminRights, ErrorCode> {
    if creds.username.len() > MAX_NAME_LEN {
        return Err(WRONG_PASSWORD);
    }
    let pw_hash = hash_admin_password(&creds.password);
    let server_user =
        creds.username.is_empty() || creds.username.eq_ignore_ascii_case("administrator");
    let local = source.is_local();
    if is_empty_password_hash(server_hash) {
        if local {
            return Ok(AdminRights::Server);
        }
        if server_user {
            return Err(ErrorCode::NULL_PASSWORD_LOCAL_ONLY);
        }
    } else if server_user {
        return if constant_time_eq(server_hash, &pw_hash) {
            Ok(AdminRights::Server)
        } else {
            Err(WRONG_PASSWORD)
        };
    }
    let hub = lookup_hub(&creds.username).ok_or(WRONG_PASSWORD)?;
    if hub.hashed_password == [0; 20]
        || is_empty_password_hash(&hub.hashed_password)
        || !constant_time_eq(&hub.hashed_password, &pw_hash)
    {
        return Err(WRONG_PASSWORD);
    }
    Ok(AdminRights::Hub(hub.name))
}
