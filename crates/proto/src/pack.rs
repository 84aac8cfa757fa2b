//! PACK, SoftEther's binary key/value container (docs/protocol-sslvpn.md §4,
//! docs/admin-rpc.md §2; SoftEther `src/Mayaqua/Pack.c`, `src/Mayaqua/Pack.h`).
//!
//! Wire layout (all integers big-endian):
//!
//! ```text
//! PACK     := u32 element_count, element × element_count
//! element  := u32 name_len_plus_1, name (name_len_plus_1 − 1 bytes, no NUL),
//!             u32 type, u32 value_count, value × value_count
//! value    := INT u32 | DATA u32 size + bytes | STR u32 len + bytes
//!           | UNISTR u32 size + UTF-8 bytes + 0x00 | INT64 u64
//! ```
//!
//! Every element is an array of one or more values of a single type. Names
//! are compared ASCII-case-insensitively everywhere; a PACK never holds two
//! elements whose names differ only in case.
//!
//! Decoding is stricter than SoftEther's `ReadPack` (which reads zeros past
//! the end of its input): truncated input, trailing bytes, duplicate names,
//! empty names, elements without values and unknown value types are errors.
//! Element names longer than 63 bytes are handled as SoftEther does
//! (`ReadBufStr` into a 64-byte buffer): the name is truncated to its first
//! 63 bytes and the rest is skipped.

use std::collections::{HashMap, HashSet};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::OnceLock;

/// Longest element name SoftEther keeps (`MAX_ELEMENT_NAME_LEN`, `Pack.h`);
/// longer names are truncated on decode.
pub const MAX_ELEMENT_NAME_LEN: usize = 63;

/// Name of the padding element both sides add to handshake PACKs
/// (`CreateDummyValue`, `src/Mayaqua/Network.c`; docs/protocol-sslvpn.md §3.5).
pub const PADDING_ELEMENT: &str = "pencore";

/// Upper bound (exclusive) of the padding size: `HTTP_PACK_RAND_SIZE_MAX` = 1000.
pub const PADDING_MAX: usize = 1000;

/// Type code of a PACK element (`VALUE_INT` … `VALUE_INT64`, `Pack.h`).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum ValueType {
    /// `VALUE_INT` (0): u32.
    Int = 0,
    /// `VALUE_DATA` (1): length-prefixed bytes.
    Data = 1,
    /// `VALUE_STR` (2): length-prefixed bytes, no terminator.
    Str = 2,
    /// `VALUE_UNISTR` (3): length-prefixed UTF-8 including one trailing NUL.
    UniStr = 3,
    /// `VALUE_INT64` (4): u64.
    Int64 = 4,
}

impl ValueType {
    /// The type for a wire code, `None` for an unknown code.
    pub fn from_code(code: u32) -> Option<ValueType> {
        Some(match code {
            0 => ValueType::Int,
            1 => ValueType::Data,
            2 => ValueType::Str,
            3 => ValueType::UniStr,
            4 => ValueType::Int64,
            _ => return None,
        })
    }

    /// The wire code of this type.
    pub fn code(self) -> u32 {
        self as u32
    }
}

/// One value of an element (`VALUE` in `Pack.h`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Value {
    /// INT: a u32 (also used for booleans 0/1 and IPv4 addresses).
    Int(u32),
    /// DATA: raw bytes.
    Data(Vec<u8>),
    /// STR: text sent as raw bytes without terminator. On decode the text
    /// ends at the first NUL (SoftEther handles it as a C string) and
    /// non-UTF-8 bytes are replaced (lossy); getters return it trimmed of
    /// spaces and TABs.
    Str(String),
    /// UNISTR: UTF-8 text; the wire form carries one trailing NUL (its
    /// absence is tolerated on decode; text ends at the first NUL).
    UniStr(String),
    /// INT64: a u64 (times are milliseconds since the Unix epoch).
    Int64(u64),
}

impl Value {
    /// The element type this value belongs to.
    pub fn value_type(&self) -> ValueType {
        match self {
            Value::Int(_) => ValueType::Int,
            Value::Data(_) => ValueType::Data,
            Value::Str(_) => ValueType::Str,
            Value::UniStr(_) => ValueType::UniStr,
            Value::Int64(_) => ValueType::Int64,
        }
    }

    fn encoded_len(&self) -> usize {
        match self {
            Value::Int(_) => 4,
            Value::Int64(_) => 8,
            Value::Data(d) => 4 + d.len(),
            Value::Str(s) => 4 + s.len(),
            Value::UniStr(s) => 4 + s.len() + 1,
        }
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            Value::Int(v) => out.extend_from_slice(&v.to_be_bytes()),
            Value::Int64(v) => out.extend_from_slice(&v.to_be_bytes()),
            Value::Data(d) => {
                out.extend_from_slice(&len_u32(d.len()).to_be_bytes());
                out.extend_from_slice(d);
            }
            Value::Str(s) => {
                out.extend_from_slice(&len_u32(s.len()).to_be_bytes());
                out.extend_from_slice(s.as_bytes());
            }
            Value::UniStr(s) => {
                out.extend_from_slice(&len_u32(s.len() + 1).to_be_bytes());
                out.extend_from_slice(s.as_bytes());
                out.push(0);
            }
        }
    }
}

fn len_u32(len: usize) -> u32 {
    // Values that do not fit in u32 cannot be represented on the wire; they
    // never occur because every receiver limit is far below 4 GiB.
    u32::try_from(len).expect("PACK value longer than 4 GiB")
}

/// One named element: an array of one or more values of a single type
/// (`ELEMENT` in `Pack.h`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Element {
    /// Element name (ASCII, at most 63 bytes for SoftEther peers).
    pub name: String,
    /// The values, all of the same type; never empty in a [`Pack`].
    pub values: Vec<Value>,
}

impl Element {
    /// A one-value element.
    pub fn new(name: &str, value: Value) -> Element {
        Element {
            name: name.to_owned(),
            values: vec![value],
        }
    }

    /// The type of the element's values, `None` if it has no values or
    /// mixes types (such an element cannot be encoded).
    pub fn value_type(&self) -> Option<ValueType> {
        let t = self.values.first()?.value_type();
        self.values.iter().all(|v| v.value_type() == t).then_some(t)
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        // `Pack` only stores elements with at least one value of one type.
        let ty = self.values[0].value_type();
        out.extend_from_slice(&len_u32(self.name.len() + 1).to_be_bytes());
        out.extend_from_slice(self.name.as_bytes());
        out.extend_from_slice(&ty.code().to_be_bytes());
        out.extend_from_slice(&len_u32(self.values.len()).to_be_bytes());
        for v in &self.values {
            v.encode_into(out);
        }
    }

    fn encoded_len(&self) -> usize {
        12 + self.name.len() + self.values.iter().map(Value::encoded_len).sum::<usize>()
    }
}

/// Bounds applied while decoding a PACK; every length read from the input is
/// checked against these and against the remaining input before anything is
/// allocated.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PackLimits {
    /// Largest accepted serialized PACK in bytes.
    pub max_bytes: usize,
    /// Largest accepted number of elements.
    pub max_elements: usize,
    /// Largest accepted number of values in one element.
    pub max_values: usize,
    /// Largest accepted DATA/STR/UNISTR value in bytes.
    pub max_value_bytes: usize,
}

impl PackLimits {
    /// PACKs a server accepts from a client over HTTP during negotiation:
    /// 65 536 bytes (`HTTP_PACK_MAX_SIZE`, `src/Mayaqua/HTTP.h`;
    /// docs/protocol-sslvpn.md §3.5).
    pub const HTTP_FROM_CLIENT: PackLimits = PackLimits {
        max_bytes: 65536,
        max_elements: 262_144,
        max_values: 262_144,
        max_value_bytes: 65536,
    };

    /// Generous but bounded defaults for trusted-size uses (admin RPC replies,
    /// config dumps): 16 MiB per PACK and per value, SoftEther's element and
    /// value counts (`MAX_ELEMENT_NUM`, `MAX_VALUE_NUM`, 64-bit `Pack.h`).
    pub const DEFAULT: PackLimits = PackLimits {
        max_bytes: 16 * 1024 * 1024,
        max_elements: 262_144,
        max_values: 262_144,
        max_value_bytes: 16 * 1024 * 1024,
    };

    /// SoftEther's own 64-bit limits (`Pack.h`): 512 MiB per PACK
    /// (`MAX_PACK_SIZE`), 384 MiB per value (`MAX_VALUE_SIZE`).
    pub const SOFTETHER: PackLimits = PackLimits {
        max_bytes: 512 * 1024 * 1024,
        max_elements: 262_144,
        max_values: 262_144,
        max_value_bytes: 384 * 1024 * 1024,
    };
}

impl Default for PackLimits {
    fn default() -> Self {
        PackLimits::DEFAULT
    }
}

/// Why a byte string is not an acceptable PACK.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum PackError {
    /// The input ended inside the PACK.
    #[error("PACK truncated")]
    Truncated,
    /// Bytes follow the last element.
    #[error("trailing bytes after PACK")]
    TrailingBytes,
    /// The input is longer than `PackLimits::max_bytes`.
    #[error("PACK larger than the limit")]
    TooLarge,
    /// More elements than `PackLimits::max_elements`.
    #[error("too many elements in PACK")]
    TooManyElements,
    /// An element has more values than `PackLimits::max_values`.
    #[error("too many values in element {0:?}")]
    TooManyValues(String),
    /// A value is longer than `PackLimits::max_value_bytes`.
    #[error("value of element {0:?} too large")]
    ValueTooLarge(String),
    /// Two elements have the same name (case-insensitively).
    #[error("duplicate element {0:?}")]
    DuplicateName(String),
    /// An element name is empty (`name_len_plus_1` of 0 or 1).
    #[error("empty element name")]
    EmptyName,
    /// An element has `value_count` 0.
    #[error("element {0:?} has no values")]
    NoValues(String),
    /// An element has an unknown type code.
    #[error("unknown value type {0}")]
    BadType(u32),
}

/// A PACK: elements in insertion order, names unique case-insensitively
/// (`PACK` in `src/Mayaqua/Pack.h`).
///
/// SoftEther keeps elements sorted by name and appends the newest last;
/// receivers do not depend on the order (verified, docs/protocol-sslvpn.md §4.2),
/// so this type simply keeps insertion order. The `add_*` setters replace an
/// existing element of the same name, whatever its type (SoftEther's writer
/// instead ignores the second add; callers here never rely on that).
///
/// Lookups by name are linear for small PACKs and go through a hash index
/// from [`INDEX_FROM`] elements on, so that reading an N-item enumeration
/// from a PACK of many elements stays linear (issue 9).
#[derive(Default, Clone)]
pub struct Pack {
    elements: Vec<Element>,
    /// Lower-cased name → position of the first element of that name;
    /// built by the first lookup in a PACK of [`INDEX_FROM`] or more
    /// elements, kept up to date by appends, dropped by removals.
    index: OnceLock<HashMap<Box<[u8]>, usize>>,
}

/// Number of elements from which name lookups use a hash index.
pub const INDEX_FROM: usize = 32;

impl PartialEq for Pack {
    fn eq(&self, other: &Pack) -> bool {
        self.elements == other.elements
    }
}

impl Eq for Pack {}

impl std::fmt::Debug for Pack {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pack")
            .field("elements", &self.elements)
            .finish()
    }
}

fn index_key(name: &str) -> Box<[u8]> {
    name.as_bytes().to_ascii_lowercase().into_boxed_slice()
}

/// ASCII-only trim of spaces and TABs, as SoftEther's `Trim`/`UniTrim`
/// (`src/Mayaqua/Str.c`).
fn trim_st(s: &str) -> &str {
    s.trim_matches(|c| c == ' ' || c == '\t')
}

fn ip_parts(ip: IpAddr) -> (u32, bool, [u8; 16]) {
    match ip {
        // IPToUINT stores the octets in memory order; WriteBufInt then writes
        // that little-endian u32 big-endian, so the octets appear reversed.
        IpAddr::V4(v4) => (u32::from_le_bytes(v4.octets()), false, [0u8; 16]),
        IpAddr::V6(v6) => (0, true, v6.octets()),
    }
}

impl Pack {
    /// An empty PACK.
    pub fn new() -> Pack {
        Pack::default()
    }

    fn position(&self, name: &str) -> Option<usize> {
        if self.elements.len() < INDEX_FROM {
            return self
                .elements
                .iter()
                .position(|e| e.name.eq_ignore_ascii_case(name));
        }
        let index = self.index.get_or_init(|| {
            let mut m = HashMap::with_capacity(self.elements.len());
            for (i, e) in self.elements.iter().enumerate() {
                m.entry(index_key(&e.name)).or_insert(i);
            }
            m
        });
        index.get(&*index_key(name)).copied()
    }

    /// Appends `e`, whose name is not in the PACK yet.
    fn append(&mut self, e: Element) {
        if let Some(index) = self.index.get_mut() {
            index
                .entry(index_key(&e.name))
                .or_insert(self.elements.len());
        }
        self.elements.push(e);
    }

    /// Removes the element at `i`; positions after it shift.
    fn remove_at(&mut self, i: usize) {
        self.elements.remove(i);
        self.index = OnceLock::new();
    }

    fn set(&mut self, name: &str, value: Value) -> &mut Self {
        self.add_element(Element::new(name, value))
    }

    fn push(&mut self, name: &str, value: Value) {
        match self.position(name) {
            Some(i) if self.elements[i].values[0].value_type() == value.value_type() => {
                self.elements[i].values.push(value);
            }
            _ => {
                self.set(name, value);
            }
        }
    }

    /// Sets INT `name` to `v` (`PackAddInt`).
    pub fn add_int(&mut self, name: &str, v: u32) -> &mut Self {
        self.set(name, Value::Int(v))
    }

    /// Sets INT64 `name` to `v` (`PackAddInt64`).
    pub fn add_int64(&mut self, name: &str, v: u64) -> &mut Self {
        self.set(name, Value::Int64(v))
    }

    /// Sets INT `name` to 1 or 0 (`PackAddBool`).
    pub fn add_bool(&mut self, name: &str, v: bool) -> &mut Self {
        self.set(name, Value::Int(v as u32))
    }

    /// Sets DATA `name` to a copy of `v` (`PackAddData`).
    pub fn add_data(&mut self, name: &str, v: &[u8]) -> &mut Self {
        self.set(name, Value::Data(v.to_vec()))
    }

    /// Sets STR `name` to `v` (`PackAddStr`).
    pub fn add_str(&mut self, name: &str, v: &str) -> &mut Self {
        self.set(name, Value::Str(v.to_owned()))
    }

    /// Sets UNISTR `name` to `v` (`PackAddUniStr`).
    pub fn add_unistr(&mut self, name: &str, v: &str) -> &mut Self {
        self.set(name, Value::UniStr(v.to_owned()))
    }

    /// Sets the four elements of an IP field (`PackAddIp`, docs/protocol-sslvpn.md
    /// §4.3): `X@ipv6_bool`, `X@ipv6_array` (16 zero bytes for IPv4, the 5.01
    /// form), `X@ipv6_scope_id` (0) and `X` (the IPv4 octets reversed on the
    /// wire, 0 for IPv6).
    pub fn add_ip(&mut self, name: &str, ip: IpAddr) -> &mut Self {
        let (v4, is6, arr) = ip_parts(ip);
        self.add_bool(&format!("{name}@ipv6_bool"), is6);
        self.add_data(&format!("{name}@ipv6_array"), &arr);
        self.add_int(&format!("{name}@ipv6_scope_id"), 0);
        self.add_int(name, v4)
    }

    /// Adds a whole element (arrays), replacing any element of that name.
    /// An element without values is not added (SoftEther expresses an empty
    /// array by omitting the element; `AddElement` refuses it) but still
    /// removes an existing element of that name.
    ///
    /// # Panics
    /// If the element mixes value types or has an empty name: both are
    /// programming errors and could not be encoded.
    pub fn add_element(&mut self, e: Element) -> &mut Self {
        assert!(!e.name.is_empty(), "PACK element name must not be empty");
        if e.values.is_empty() {
            self.remove(&e.name);
            return self;
        }
        assert!(
            e.value_type().is_some(),
            "PACK element {:?} mixes value types",
            e.name
        );
        match self.position(&e.name) {
            Some(i) => {
                self.remove_at(i);
                self.append(e);
            }
            None => self.append(e),
        }
        self
    }

    /// Appends an INT value to array `name` (`PackAddIntEx`); an element of
    /// another type with that name is replaced by a new array.
    pub fn push_int(&mut self, name: &str, v: u32) {
        self.push(name, Value::Int(v))
    }

    /// Appends an INT64 value to array `name` (see [`Pack::push_int`]).
    pub fn push_int64(&mut self, name: &str, v: u64) {
        self.push(name, Value::Int64(v))
    }

    /// Appends a bool (INT 0/1) to array `name` (see [`Pack::push_int`]).
    pub fn push_bool(&mut self, name: &str, v: bool) {
        self.push(name, Value::Int(v as u32))
    }

    /// Appends a DATA value to array `name` (see [`Pack::push_int`]).
    pub fn push_data(&mut self, name: &str, v: &[u8]) {
        self.push(name, Value::Data(v.to_vec()))
    }

    /// Appends a STR value to array `name` (see [`Pack::push_int`]).
    pub fn push_str(&mut self, name: &str, v: &str) {
        self.push(name, Value::Str(v.to_owned()))
    }

    /// Appends a UNISTR value to array `name` (see [`Pack::push_int`]).
    pub fn push_unistr(&mut self, name: &str, v: &str) {
        self.push(name, Value::UniStr(v.to_owned()))
    }

    /// Appends an IP address to the four arrays of IP field `name`
    /// (`PackAddIpEx`, used in enumerations).
    pub fn push_ip(&mut self, name: &str, ip: IpAddr) {
        let (v4, is6, arr) = ip_parts(ip);
        self.push_bool(&format!("{name}@ipv6_bool"), is6);
        self.push_data(&format!("{name}@ipv6_array"), &arr);
        self.push_int(&format!("{name}@ipv6_scope_id"), 0);
        self.push_int(name, v4);
    }

    /// The element called `name` (case-insensitive), of any type.
    pub fn element(&self, name: &str) -> Option<&Element> {
        self.position(name).map(|i| &self.elements[i])
    }

    /// All elements in insertion (or wire) order.
    pub fn elements(&self) -> impl Iterator<Item = &Element> {
        self.elements.iter()
    }

    /// True if an element called `name` exists (any type). Lets callers
    /// reproduce SoftEther's writer, where a second add of a name is ignored
    /// ("first one wins", docs/admin-rpc.md §2).
    pub fn contains(&self, name: &str) -> bool {
        self.position(name).is_some()
    }

    /// Number of elements.
    pub fn len(&self) -> usize {
        self.elements.len()
    }

    /// True if the PACK has no elements.
    pub fn is_empty(&self) -> bool {
        self.elements.is_empty()
    }

    /// Removes element `name` if present.
    pub fn remove(&mut self, name: &str) {
        if let Some(i) = self.position(name) {
            self.remove_at(i);
        }
    }

    /// Number of values of element `name`, whatever its type; 0 if absent.
    pub fn count(&self, name: &str) -> usize {
        self.element(name).map_or(0, |e| e.values.len())
    }

    fn value_at(&self, name: &str, ty: ValueType, i: usize) -> Option<&Value> {
        let e = self.element(name)?;
        let v = e.values.get(i)?;
        (v.value_type() == ty).then_some(v)
    }

    /// INT value `i` of `name`; `None` if absent or of another type
    /// (typed lookup, docs/protocol-sslvpn.md §4.2; `PackGetIntEx`).
    pub fn get_int_at(&self, name: &str, i: usize) -> Option<u32> {
        match self.value_at(name, ValueType::Int, i)? {
            Value::Int(v) => Some(*v),
            _ => None,
        }
    }

    /// INT64 value `i` of `name` (`PackGetInt64Ex`).
    pub fn get_int64_at(&self, name: &str, i: usize) -> Option<u64> {
        match self.value_at(name, ValueType::Int64, i)? {
            Value::Int64(v) => Some(*v),
            _ => None,
        }
    }

    /// DATA value `i` of `name` (`PackGetDataEx`).
    pub fn get_data_at(&self, name: &str, i: usize) -> Option<&[u8]> {
        match self.value_at(name, ValueType::Data, i)? {
            Value::Data(v) => Some(v),
            _ => None,
        }
    }

    /// STR value `i` of `name`, trimmed of spaces and TABs (`PackGetStrEx`).
    pub fn get_str_at(&self, name: &str, i: usize) -> Option<&str> {
        match self.value_at(name, ValueType::Str, i)? {
            Value::Str(v) => Some(trim_st(v)),
            _ => None,
        }
    }

    /// UNISTR value `i` of `name`, trimmed of spaces and TABs
    /// (`PackGetUniStrEx`).
    pub fn get_unistr_at(&self, name: &str, i: usize) -> Option<&str> {
        match self.value_at(name, ValueType::UniStr, i)? {
            Value::UniStr(v) => Some(trim_st(v)),
            _ => None,
        }
    }

    /// Bool value `i` of `name`: any non-zero INT is true; missing is false
    /// (`PackGetBoolEx`).
    pub fn get_bool_at(&self, name: &str, i: usize) -> bool {
        self.get_int_at(name, i).unwrap_or(0) != 0
    }

    /// IP value `i` of field `name` (`PackGetIpEx`, docs/protocol-sslvpn.md §4.3):
    /// if `name@ipv6_bool` is true the 16-byte `name@ipv6_array` (else
    /// `None`), otherwise the INT `name` read with reversed octets (else
    /// `None`). The scope id is not represented.
    pub fn get_ip_at(&self, name: &str, i: usize) -> Option<IpAddr> {
        if self.get_bool_at(&format!("{name}@ipv6_bool"), i) {
            let arr: [u8; 16] = self
                .get_data_at(&format!("{name}@ipv6_array"), i)?
                .try_into()
                .ok()?;
            Some(IpAddr::V6(Ipv6Addr::from(arr)))
        } else {
            let v = self.get_int_at(name, i)?;
            Some(IpAddr::V4(Ipv4Addr::from(v.to_le_bytes())))
        }
    }

    /// First INT value of `name` (`PackGetInt`; SoftEther reads absent as 0).
    pub fn get_int(&self, name: &str) -> Option<u32> {
        self.get_int_at(name, 0)
    }

    /// First INT64 value of `name` (`PackGetInt64`).
    pub fn get_int64(&self, name: &str) -> Option<u64> {
        self.get_int64_at(name, 0)
    }

    /// First DATA value of `name` (`PackGetData`).
    pub fn get_data(&self, name: &str) -> Option<&[u8]> {
        self.get_data_at(name, 0)
    }

    /// First STR value of `name`, trimmed (`PackGetStr`).
    pub fn get_str(&self, name: &str) -> Option<&str> {
        self.get_str_at(name, 0)
    }

    /// First UNISTR value of `name`, trimmed (`PackGetUniStr`).
    pub fn get_unistr(&self, name: &str) -> Option<&str> {
        self.get_unistr_at(name, 0)
    }

    /// First value of `name` as a bool; missing = false (`PackGetBool`).
    pub fn get_bool(&self, name: &str) -> bool {
        self.get_bool_at(name, 0)
    }

    /// First IP of field `name` (`PackGetIp`).
    pub fn get_ip(&self, name: &str) -> Option<IpAddr> {
        self.get_ip_at(name, 0)
    }

    /// Sets the padding element `pencore` to 0..=999 random bytes
    /// (`CreateDummyValue`, docs/protocol-sslvpn.md §3.5). Call it last so that
    /// the padding is the last element, as SoftEther sends it.
    pub fn add_padding<R: rand::Rng>(&mut self, rng: &mut R) {
        let n = rng.gen_range(0..PADDING_MAX);
        let mut pad = vec![0u8; n];
        rng.fill_bytes(&mut pad);
        self.add_element(Element::new(PADDING_ELEMENT, Value::Data(pad)));
    }

    /// Serialized size in bytes.
    pub fn encoded_len(&self) -> usize {
        4 + self
            .elements
            .iter()
            .map(Element::encoded_len)
            .sum::<usize>()
    }

    /// Serializes the PACK (`WritePack`).
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.encoded_len());
        self.encode_into(&mut out);
        out
    }

    /// Appends the serialized PACK to `out` (`WritePack`).
    pub fn encode_into(&self, out: &mut Vec<u8>) {
        out.reserve(self.encoded_len());
        out.extend_from_slice(&len_u32(self.elements.len()).to_be_bytes());
        for e in &self.elements {
            e.encode_into(out);
        }
    }

    /// Parses a PACK with [`PackLimits::DEFAULT`] (`BufToPack`, made strict).
    pub fn decode(bytes: &[u8]) -> Result<Pack, PackError> {
        Pack::decode_with(bytes, &PackLimits::DEFAULT)
    }

    /// Parses a PACK, enforcing `limits`; see the module docs for the rules.
    pub fn decode_with(bytes: &[u8], limits: &PackLimits) -> Result<Pack, PackError> {
        if bytes.len() > limits.max_bytes {
            return Err(PackError::TooLarge);
        }
        let mut r = Reader { buf: bytes };
        let count = r.u32()? as usize;
        if count > limits.max_elements {
            return Err(PackError::TooManyElements);
        }
        // Never trust the count for allocation: the smallest valid element
        // is 17 bytes (name length, 1-byte name, type, count, one INT).
        let fit = count.min(r.buf.len() / 17);
        let mut elements = Vec::with_capacity(fit);
        let mut seen: HashSet<Vec<u8>> = HashSet::with_capacity(fit);
        for _ in 0..count {
            let e = read_element(&mut r, limits)?;
            if !seen.insert(e.name.to_ascii_lowercase().into_bytes()) {
                return Err(PackError::DuplicateName(e.name));
            }
            elements.push(e);
        }
        if !r.buf.is_empty() {
            return Err(PackError::TrailingBytes);
        }
        Ok(Pack {
            elements,
            index: OnceLock::new(),
        })
    }
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], PackError> {
        if n > self.buf.len() {
            return Err(PackError::Truncated);
        }
        let (a, b) = self.buf.split_at(n);
        self.buf = b;
        Ok(a)
    }

    fn u32(&mut self) -> Result<u32, PackError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn u64(&mut self) -> Result<u64, PackError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
}

/// Text up to the first NUL (SoftEther handles STR/UNISTR as C strings),
/// lossily converted to UTF-8.
fn c_text(bytes: &[u8]) -> String {
    let end = bytes.iter().position(|&b| b == 0).unwrap_or(bytes.len());
    String::from_utf8_lossy(&bytes[..end]).into_owned()
}

fn read_element(r: &mut Reader<'_>, limits: &PackLimits) -> Result<Element, PackError> {
    let name_len = r.u32()? as usize;
    if name_len <= 1 {
        // 0 is a parse error in ReadBufStr; 1 (empty name) is refused here.
        return Err(PackError::EmptyName);
    }
    let raw = r.take(name_len - 1)?;
    let raw = &raw[..raw.len().min(MAX_ELEMENT_NAME_LEN)];
    let mut name = c_text(raw);
    // Lossy conversion can lengthen a name; keep it within 63 bytes.
    while name.len() > MAX_ELEMENT_NAME_LEN {
        name.pop();
    }
    if name.is_empty() {
        return Err(PackError::EmptyName);
    }
    let code = r.u32()?;
    let ty = ValueType::from_code(code).ok_or(PackError::BadType(code))?;
    let n = r.u32()? as usize;
    if n == 0 {
        return Err(PackError::NoValues(name));
    }
    if n > limits.max_values {
        return Err(PackError::TooManyValues(name));
    }
    // Every value takes at least 4 (INT64: 8) bytes of the remaining input.
    let min_size = if ty == ValueType::Int64 { 8 } else { 4 };
    let mut values = Vec::with_capacity(n.min(r.buf.len() / min_size));
    for _ in 0..n {
        let v = match ty {
            ValueType::Int => Value::Int(r.u32()?),
            ValueType::Int64 => Value::Int64(r.u64()?),
            ValueType::Data | ValueType::Str | ValueType::UniStr => {
                let size = r.u32()? as usize;
                if size > limits.max_value_bytes {
                    return Err(PackError::ValueTooLarge(name));
                }
                let bytes = r.take(size)?;
                match ty {
                    ValueType::Data => Value::Data(bytes.to_vec()),
                    ValueType::Str => Value::Str(c_text(bytes)),
                    // The size includes one NUL; c_text stops there and also
                    // tolerates its absence.
                    _ => Value::UniStr(c_text(bytes)),
                }
            }
        };
        values.push(v);
    }
    Ok(Element { name, values })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// From INDEX_FROM elements on lookups go through the hash index: they
    /// must find exactly what a scan finds, case-insensitively, through
    /// appends, replacements and removals.
    #[test]
    fn indexed_lookups_match_a_scan() {
        let mut p = Pack::new();
        for i in 0..200u32 {
            p.add_int(&format!("Name{i}"), i);
        }
        p.push_str("list", "a");
        p.push_str("LIST", "b");
        assert_eq!(p.get_int("name7"), Some(7));
        assert_eq!(p.get_int("NAME199"), Some(199));
        assert_eq!(p.count("List"), 2);
        p.remove("name0");
        assert_eq!(p.get_int("Name0"), None);
        assert_eq!(p.get_int("Name1"), Some(1));
        p.add_int("name5", 500);
        assert_eq!(p.get_int("Name5"), Some(500));
        assert_eq!(p.get_int("Name6"), Some(6));
        p.add_int("new", 1);
        assert_eq!(p.get_int("NEW"), Some(1));
        assert_eq!(p.len(), 201);
        let decoded = Pack::decode(&p.encode()).unwrap();
        assert_eq!(decoded, p);
        for e in p.elements() {
            assert_eq!(decoded.element(&e.name.to_ascii_uppercase()), Some(e));
        }
    }

    fn hex(s: &str) -> Vec<u8> {
        let s: String = s.split_whitespace().collect();
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// docs/protocol-sslvpn.md §4.4: the 84-byte error PACK captured from 5.01.
    #[test]
    fn worked_example_byte_for_byte() {
        let expected = hex("00 00 00 03
             00 00 00 06 65 72 72 6f 72 00 00 00 00 00 00 00 01 00 00 00 08
             00 00 00 11 6e 6f 5f 73 61 76 65 5f 70 61 73 73 77 6f 72 64
             00 00 00 00 00 00 00 01 00 00 00 00
             00 00 00 08 70 65 6e 63 6f 72 65 00 00 00 01 00 00 00 01
             00 00 00 04 e7 e2 14 6d");
        assert_eq!(expected.len(), 84);
        let mut p = Pack::new();
        p.add_int("error", 8)
            .add_bool("no_save_password", false)
            .add_data("pencore", &[0xe7, 0xe2, 0x14, 0x6d]);
        assert_eq!(p.encoded_len(), 84);
        assert_eq!(p.encode(), expected);
        let d = Pack::decode(&expected).unwrap();
        assert_eq!(d, p);
        assert_eq!(d.get_int("ERROR"), Some(8));
        assert!(!d.get_bool("no_save_password"));
    }

    /// §4.1: UNISTR `Jöhn ü€` from a management reply.
    #[test]
    fn unistr_example() {
        let mut p = Pack::new();
        p.add_unistr("n", "Jöhn ü€");
        let enc = p.encode();
        let value = hex("00 00 00 0c 4a c3 b6 68 6e 20 c3 bc e2 82 ac 00");
        assert!(enc.ends_with(&value));
        assert_eq!(
            &enc[enc.len() - 16 - 8..enc.len() - 16],
            &hex("00 00 00 03 00 00 00 01")
        );
        assert_eq!(Pack::decode(&enc).unwrap().get_unistr("n"), Some("Jöhn ü€"));
    }

    /// docs/admin-rpc.md §2.2: the `Test` call PACK and an empty UNISTR.
    #[test]
    fn admin_examples() {
        let mut p = Pack::new();
        p.add_int("IntValue", 1).add_str("function_name", "Test");
        let expected = hex("00 00 00 02 00 00 00 09 49 6e 74 56 61 6c 75 65
             00 00 00 00 00 00 00 01 00 00 00 01
             00 00 00 0e 66 75 6e 63 74 69 6f 6e 5f 6e 61 6d 65
             00 00 00 02 00 00 00 01 00 00 00 04 54 65 73 74");
        assert_eq!(expected.len(), 61);
        assert_eq!(p.encode(), expected);
        let mut q = Pack::new();
        q.add_unistr("Note", "é").add_unistr("e", "");
        let enc = q.encode();
        let note = hex("4e 6f 74 65 00 00 00 03 00 00 00 01 00 00 00 03 c3 a9 00");
        assert!(enc.windows(note.len()).any(|w| w == note));
        assert!(enc.ends_with(&hex(
            "00 00 00 02 65 00 00 00 03 00 00 00 01 00 00 00 01 00"
        )));
        let d = Pack::decode(&enc).unwrap();
        assert_eq!(d.get_unistr("note"), Some("é"));
        assert_eq!(d.get_unistr("e"), Some(""));
    }

    #[test]
    fn unistr_without_nul_and_str_with_nul() {
        // UNISTR size 2 "ab" without terminator; STR "x\0y" is read as "x".
        let bytes = hex(
            "00 00 00 02 00 00 00 02 75 00 00 00 03 00 00 00 01 00 00 00 02 61 62
             00 00 00 02 73 00 00 00 02 00 00 00 01 00 00 00 03 78 00 79",
        );
        let p = Pack::decode(&bytes).unwrap();
        assert_eq!(p.get_unistr("u"), Some("ab"));
        assert_eq!(p.get_str("s"), Some("x"));
    }

    #[test]
    fn ip_example() {
        let mut p = Pack::new();
        p.add_ip("ClientIpAddress", "127.0.0.1".parse().unwrap());
        assert_eq!(p.len(), 4);
        assert_eq!(
            p.get_int("ClientIpAddress"),
            Some(u32::from_be_bytes([1, 0, 0, 0x7f]))
        );
        assert_eq!(
            p.get_data("ClientIpAddress@ipv6_array"),
            Some(&[0u8; 16][..])
        );
        assert_eq!(p.get_int("ClientIpAddress@ipv6_bool"), Some(0));
        let enc = p.encode();
        // the last element is the INT itself: …, 0 type, 1 value, 01 00 00 7f
        assert!(enc.ends_with(&hex("00 00 00 00 00 00 00 01 01 00 00 7f")));
        let d = Pack::decode(&enc).unwrap();
        assert_eq!(
            d.get_ip("clientipaddress"),
            Some("127.0.0.1".parse().unwrap())
        );

        let v6: IpAddr = "2001:db8::1".parse().unwrap();
        p.add_ip("ClientIpAddress", v6);
        assert_eq!(p.len(), 4);
        assert_eq!(p.get_int("ClientIpAddress"), Some(0));
        assert_eq!(
            Pack::decode(&p.encode()).unwrap().get_ip("ClientIpAddress"),
            Some(v6)
        );
        assert_eq!(p.get_ip("missing"), None);

        let mut arr = Pack::new();
        arr.push_ip("Ip", "10.0.0.1".parse().unwrap());
        arr.push_ip("Ip", v6);
        assert_eq!(arr.count("Ip"), 2);
        assert_eq!(arr.count("Ip@ipv6_array"), 2);
        assert_eq!(arr.get_ip_at("Ip", 0), Some("10.0.0.1".parse().unwrap()));
        assert_eq!(arr.get_ip_at("Ip", 1), Some(v6));
        assert_eq!(arr.get_ip_at("Ip", 2), None);
    }

    #[test]
    fn typed_lookup_trim_and_case() {
        let mut p = Pack::new();
        p.add_unistr("hubname", "  DEFAULT\t")
            .add_str("username", " test ")
            .add_int64("t", 1 << 40)
            .add_bool("b", true);
        assert_eq!(p.get_str("hubname"), None, "UNISTR is invisible to get_str");
        assert_eq!(p.get_unistr("HUBNAME"), Some("DEFAULT"));
        assert_eq!(p.get_str("UserName"), Some("test"));
        assert_eq!(p.get_int("t"), None);
        assert_eq!(p.get_int64("T"), Some(1 << 40));
        assert!(p.get_bool("b"));
        assert!(!p.get_bool("t"), "INT64 is not a bool");
        assert!(!p.get_bool("nothing"));
        assert_eq!(p.count("hubname"), 1);
        assert_eq!(p.count("none"), 0);
        assert!(p.contains("USERNAME") && !p.contains("none"));
        // replacement is case-insensitive and keeps one element
        p.add_int("HubName", 5);
        assert_eq!(p.len(), 4);
        assert_eq!(p.get_int("hubname"), Some(5));
        assert_eq!(p.element("hubname").unwrap().name, "HubName");
        p.remove("HUBNAME");
        assert_eq!(p.len(), 3);
        assert!(p.element("hubname").is_none());
    }

    #[test]
    fn arrays() {
        let mut p = Pack::new();
        for h in ["A", "B", "C"] {
            p.push_str("HubName", h);
            p.push_int("NumUsers", h.len() as u32);
        }
        p.push_int64("x", 1);
        p.push_data("d", b"1");
        p.push_unistr("u", "z");
        p.push_bool("bb", true);
        assert_eq!(p.count("hubname"), 3);
        assert_eq!(p.get_str_at("HubName", 2), Some("C"));
        assert_eq!(p.get_str_at("HubName", 3), None);
        assert_eq!(p.get_int_at("NumUsers", 1), Some(1));
        // pushing another type starts a new array
        p.push_int("HubName", 7);
        assert_eq!(p.count("hubname"), 1);
        let d = Pack::decode(&p.encode()).unwrap();
        assert_eq!(d, p);
        assert_eq!(d.get_int64_at("x", 0), Some(1));
        assert_eq!(d.get_data_at("d", 0), Some(&b"1"[..]));
        assert_eq!(d.get_unistr_at("u", 0), Some("z"));
        assert!(d.get_bool_at("bb", 0));
        let e = Element {
            name: "E".into(),
            values: vec![Value::Int(1), Value::Int(2)],
        };
        p.add_element(e.clone());
        assert_eq!(p.element("e"), Some(&e));
        assert_eq!(e.value_type(), Some(ValueType::Int));
        p.add_element(Element {
            name: "e".into(),
            values: vec![],
        });
        assert!(
            p.element("E").is_none(),
            "an empty array removes the element"
        );
    }

    #[test]
    #[should_panic(expected = "mixes value types")]
    fn mixed_element_panics() {
        Pack::new().add_element(Element {
            name: "m".into(),
            values: vec![Value::Int(1), Value::Int64(2)],
        });
    }

    #[test]
    fn padding() {
        let mut rng = rand::thread_rng();
        let mut sizes = HashSet::new();
        for _ in 0..200 {
            let mut p = Pack::new();
            p.add_int("a", 1);
            p.add_padding(&mut rng);
            let pad = p.get_data("pencore").unwrap();
            assert!(pad.len() < PADDING_MAX);
            sizes.insert(pad.len());
            assert_eq!(p.elements().last().unwrap().name, "pencore");
        }
        assert!(sizes.len() > 50, "padding size varies");
    }

    fn elem(name: &[u8], ty: u32, values: &[&[u8]]) -> Vec<u8> {
        let mut v = ((name.len() + 1) as u32).to_be_bytes().to_vec();
        v.extend_from_slice(name);
        v.extend_from_slice(&ty.to_be_bytes());
        v.extend_from_slice(&(values.len() as u32).to_be_bytes());
        for x in values {
            v.extend_from_slice(x);
        }
        v
    }

    fn pack_of(elems: &[Vec<u8>]) -> Vec<u8> {
        let mut v = (elems.len() as u32).to_be_bytes().to_vec();
        for e in elems {
            v.extend_from_slice(e);
        }
        v
    }

    #[test]
    fn error_paths() {
        let one = [0, 0, 0, 1];
        let ok = pack_of(&[elem(b"a", 0, &[&one])]);
        assert!(Pack::decode(&ok).is_ok());
        // every strict prefix is truncated
        for i in 0..ok.len() {
            assert_eq!(
                Pack::decode(&ok[..i]),
                Err(PackError::Truncated),
                "prefix {i}"
            );
        }
        let mut trailing = ok.clone();
        trailing.push(0);
        assert_eq!(Pack::decode(&trailing), Err(PackError::TrailingBytes));
        let dup = pack_of(&[
            elem(b"method", 0, &[&one]),
            elem(b"METHOD", 1, &[&[0, 0, 0, 1, 7]]),
        ]);
        assert_eq!(
            Pack::decode(&dup),
            Err(PackError::DuplicateName("METHOD".into()))
        );
        let empty_name = pack_of(&[elem(b"", 0, &[&one])]);
        assert_eq!(Pack::decode(&empty_name), Err(PackError::EmptyName));
        let mut zero_len = pack_of(&[elem(b"a", 0, &[&one])]);
        zero_len[4..8].copy_from_slice(&[0, 0, 0, 0]);
        assert_eq!(Pack::decode(&zero_len), Err(PackError::EmptyName));
        let no_values = pack_of(&[elem(b"a", 0, &[]), elem(b"b", 0, &[&one])]);
        assert_eq!(
            Pack::decode(&no_values),
            Err(PackError::NoValues("a".into()))
        );
        let bad_type = pack_of(&[elem(b"a", 5, &[&one])]);
        assert_eq!(Pack::decode(&bad_type), Err(PackError::BadType(5)));
        // huge counts fail before allocating
        assert_eq!(Pack::decode(&[0, 3, 0, 0]), Err(PackError::Truncated));
        assert_eq!(
            Pack::decode(&[0xff, 0xff, 0xff, 0xff]),
            Err(PackError::TooManyElements)
        );
        let many_values = pack_of(&[elem(b"a", 0, &[])]);
        let mut mv = many_values.clone();
        let at = mv.len() - 4;
        mv[at..].copy_from_slice(&0x0fff_ffffu32.to_be_bytes());
        assert_eq!(Pack::decode(&mv), Err(PackError::TooManyValues("a".into())));
        mv[at..].copy_from_slice(&1000u32.to_be_bytes());
        assert_eq!(Pack::decode(&mv), Err(PackError::Truncated));
        let big_data = pack_of(&[elem(b"d", 1, &[&0x7fff_ffffu32.to_be_bytes()])]);
        assert_eq!(
            Pack::decode(&big_data),
            Err(PackError::ValueTooLarge("d".into()))
        );
        let limits = PackLimits {
            max_bytes: 100,
            max_elements: 1,
            max_values: 1,
            max_value_bytes: 2,
        };
        assert_eq!(
            Pack::decode_with(&[0u8; 101], &limits),
            Err(PackError::TooLarge)
        );
        let two = pack_of(&[elem(b"a", 0, &[&one]), elem(b"b", 0, &[&one])]);
        assert_eq!(
            Pack::decode_with(&two, &limits),
            Err(PackError::TooManyElements)
        );
        let d3 = pack_of(&[elem(b"d", 1, &[&[0, 0, 0, 3, 1, 2, 3]])]);
        assert_eq!(
            Pack::decode_with(&d3, &limits),
            Err(PackError::ValueTooLarge("d".into()))
        );
        let big = vec![0u8; 65537];
        assert_eq!(
            Pack::decode_with(&big, &PackLimits::HTTP_FROM_CLIENT),
            Err(PackError::TooLarge)
        );
    }

    #[test]
    fn long_names_are_truncated_like_softether() {
        let long = [b'x'; 70];
        let p = Pack::decode(&pack_of(&[elem(&long, 0, &[&[0, 0, 0, 9]])])).unwrap();
        let e = p.elements().next().unwrap();
        assert_eq!(e.name.len(), 63);
        assert_eq!(p.get_int(&"x".repeat(63)), Some(9));
        // two names equal in their first 63 bytes collide
        let mut other = long;
        other[69] = b'y';
        let both = pack_of(&[elem(&long, 0, &[&[0; 4]]), elem(&other, 0, &[&[0; 4]])]);
        assert!(matches!(
            Pack::decode(&both),
            Err(PackError::DuplicateName(_))
        ));
    }

    #[test]
    fn empty_pack() {
        assert_eq!(Pack::new().encode(), vec![0, 0, 0, 0]);
        assert!(Pack::decode(&[0, 0, 0, 0]).unwrap().is_empty());
    }

    fn arb_name() -> impl Strategy<Value = String> {
        "[A-Za-z_@:][A-Za-z0-9_@:]{0,62}"
    }

    fn arb_element() -> impl Strategy<Value = Element> {
        let text = "[^\u{0}]{0,20}";
        let values = prop_oneof![
            prop::collection::vec(any::<u32>().prop_map(Value::Int), 1..4),
            prop::collection::vec(any::<u64>().prop_map(Value::Int64), 1..4),
            prop::collection::vec(
                prop::collection::vec(any::<u8>(), 0..40).prop_map(Value::Data),
                1..4
            ),
            prop::collection::vec(text.prop_map(Value::Str), 1..4),
            prop::collection::vec(text.prop_map(Value::UniStr), 1..4),
        ];
        (arb_name(), values).prop_map(|(name, values)| Element { name, values })
    }

    proptest! {
        #[test]
        fn round_trip(elems in prop::collection::vec(arb_element(), 0..12)) {
            let mut p = Pack::new();
            for e in elems {
                p.add_element(e);
            }
            let enc = p.encode();
            prop_assert_eq!(enc.len(), p.encoded_len());
            prop_assert_eq!(Pack::decode(&enc).unwrap(), p);
        }

        #[test]
        fn decode_never_panics(bytes in prop::collection::vec(any::<u8>(), 0..512)) {
            let _ = Pack::decode(&bytes);
            let _ = Pack::decode_with(&bytes, &PackLimits::HTTP_FROM_CLIENT);
        }

        #[test]
        fn decode_mutated_never_panics(
            elems in prop::collection::vec(arb_element(), 1..6),
            flips in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        ) {
            let mut p = Pack::new();
            for e in elems {
                p.add_element(e);
            }
            let mut enc = p.encode();
            for (i, b) in flips {
                let at = i.index(enc.len());
                enc[at] = b;
            }
            if let Ok(d) = Pack::decode(&enc) {
                // whatever decodes re-encodes to something that decodes
                prop_assert!(Pack::decode(&d.encode()).is_ok());
            }
        }
    }
}
