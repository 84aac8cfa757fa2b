//! SoftEther's generic configuration tree and its text (and binary) file
//! format (docs/config-format.md §2–5; SoftEther `src/Mayaqua/Cfg.c`).
//!
//! A file holds one tree of *folders*; each folder has typed *items*
//! (`uint`, `uint64`, `bool`, `string`, `byte`) and subfolders. The whole
//! tree hangs below a folder named `root`.
//!
//! * [`parse_text`] / [`parse_bytes`] read a file and return the `root`
//!   folder.
//! * [`write_text`] writes the canonical form SoftEther writes (BOM, banner,
//!   CR LF, TAB indentation, sorted names, escaping).
//! * [`write_binary`] writes the rarely used `SEVPN_DB` binary form.
//!
//! # Stricter than SoftEther
//!
//! SoftEther's reader silently ignores every line it does not understand and
//! turns undecodable values into 0/false/nothing. A server that then saves
//! its configuration (which SoftEther does right after start-up) silently
//! loses whatever was on such a line, e.g. a hand-edited user whose `declare`
//! line has a typo. This reader therefore accepts everything SoftEther
//! *writes* and the harmless variations it *accepts* (LF-only line ends,
//! missing BOM/banner, runs of spaces/TABs, any keyword case, extra tokens
//! after an item's value, a BOM directly before `declare root`), but reports
//! a [`CfgError`] with the 1-based line number for:
//!
//! * a `}` with no open folder, or end of file with folders still open;
//! * a `declare` not followed by a `{` line (or a `{` token on the same line),
//!   a `{` that follows no `declare`, a `declare` without a name;
//! * any line that is not blank, a comment (first token starting with `#` or
//!   `//`), `{`, `}`, a `declare` or an item with a value;
//! * a value that does not decode for its type: a `uint` that is not a
//!   decimal or `0x` hexadecimal number fitting 32 bits, a `uint64` that is
//!   not decimal (`,` separators allowed, as SoftEther's `ToInt64`), a `bool`
//!   that is neither `true`/`false` nor a number, invalid Base64 in a
//!   `byte`, a `$` escape not followed by two hex digits, a name or
//!   `string` that is not UTF-8 after unescaping;
//! * items outside any folder, top-level folders other than one `root`,
//!   duplicate item or folder names (case-insensitive) inside one folder
//!   (SoftEther keeps both and later finds an unspecified one);
//! * folders nested deeper than [`MAX_DEPTH`] and a missing `root` folder;
//! * a lone CR inside a line (SoftEther misreads CR-only files).
//!
//! A decoded NUL byte ends a name or string value, as in SoftEther (C
//! strings); the writer therefore also cuts names and strings at a NUL.

use std::cmp::Ordering;
use std::collections::HashSet;
use std::fmt;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::Engine as _;

use crate::sha0::sha0;

/// Deepest folder nesting accepted by the readers. SoftEther's own files go
/// six levels deep; the limit keeps recursion (drop, clone, write) bounded
/// for hostile input.
pub const MAX_DEPTH: usize = 64;

/// Standard Base64 with `=` padding on output; on input padding is optional
/// (SoftEther's decoder does not require it) but the alphabet is strict.
const B64: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new()
        .with_encode_padding(true)
        .with_decode_padding_mode(DecodePaddingMode::Indifferent)
        .with_decode_allow_trailing_bits(true),
);

/// The banner SoftEther writes at the top of every text file, starting with
/// the UTF-8 BOM (`TAG_CPYRIGHT` in `src/Mayaqua/Cfg.h`; docs/config-format.md
/// §2.1).
pub const BANNER: &str = "\u{FEFF}# Software Configuration File\r\n\
# ---------------------------\r\n\
# \r\n\
# You may edit this file when the VPN Server / Client / Bridge program is not running.\r\n\
# \r\n\
# In prior to edit this file manually by your text editor,\r\n\
# shutdown the VPN Server / Client / Bridge background service.\r\n\
# Otherwise, all changes will be lost.\r\n\
# \r\n";

/// Magic of the binary file form (`TAG_BINARY`, docs/config-format.md §5.3).
pub const BINARY_MAGIC: &[u8; 8] = b"SEVPN_DB";

/// One typed item value (docs/config-format.md §4).
#[derive(Clone, Debug, PartialEq)]
pub enum CfgValue {
    /// `uint`: 32-bit unsigned.
    Uint(u32),
    /// `uint64`: 64-bit unsigned (times are milliseconds since 1970).
    Uint64(u64),
    /// `bool`.
    Bool(bool),
    /// `string`: Unicode text, stored as escaped UTF-8.
    String(String),
    /// `byte`: a byte array, stored as escaped standard Base64.
    Byte(Vec<u8>),
}

impl CfgValue {
    /// The file keyword of this value's type: `uint`, `uint64`, `bool`,
    /// `string` or `byte`.
    pub fn type_name(&self) -> &'static str {
        match self {
            CfgValue::Uint(_) => "uint",
            CfgValue::Uint64(_) => "uint64",
            CfgValue::Bool(_) => "bool",
            CfgValue::String(_) => "string",
            CfgValue::Byte(_) => "byte",
        }
    }

    /// Type code of the binary format (1 uint, 2 uint64, 3 byte, 4 string,
    /// 5 bool; `ITEM_TYPE_*` in `src/Mayaqua/Cfg.h`).
    fn binary_type(&self) -> u32 {
        match self {
            CfgValue::Uint(_) => 1,
            CfgValue::Uint64(_) => 2,
            CfgValue::Byte(_) => 3,
            CfgValue::String(_) => 4,
            CfgValue::Bool(_) => 5,
        }
    }
}

/// A folder of the configuration tree.
///
/// Items and subfolders keep the order in which they were added; the writer
/// sorts them (see [`cmp_names`]). All lookups by name are case-insensitive
/// for ASCII letters, like SoftEther's `StrCmpi`.
#[derive(Clone, Debug, PartialEq, Default)]
pub struct Folder {
    /// Folder name (unescaped).
    pub name: String,
    /// Items as (name, value), names unescaped.
    pub items: Vec<(String, CfgValue)>,
    /// Subfolders.
    pub folders: Vec<Folder>,
}

/// SoftEther's name comparison (`StrCmpi` in `src/Mayaqua/Str.c`): ASCII
/// letters upper-cased, bytes compared as *signed* chars, the end of a string
/// counting as byte 0. Consequences: `_` (0x5F) sorts after the letters, and
/// bytes ≥ 0x80 sort before everything including the end of the string.
pub fn cmp_names(a: &str, b: &str) -> Ordering {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    let mut i = 0;
    loop {
        let c1 = a.get(i).copied().unwrap_or(0);
        let c2 = b.get(i).copied().unwrap_or(0);
        let u1 = c1.to_ascii_uppercase() as i8;
        let u2 = c2.to_ascii_uppercase() as i8;
        match u1.cmp(&u2) {
            Ordering::Equal => {}
            other => return other,
        }
        if c1 == 0 || c2 == 0 {
            return Ordering::Equal;
        }
        i += 1;
    }
}

/// Case-insensitive (ASCII) name equality, as used by every lookup.
pub fn names_equal(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

impl Folder {
    /// An empty folder called `name`.
    pub fn new(name: &str) -> Folder {
        Folder {
            name: name.to_string(),
            items: Vec::new(),
            folders: Vec::new(),
        }
    }

    /// The item called `name` (case-insensitive).
    pub fn item(&self, name: &str) -> Option<&CfgValue> {
        self.items
            .iter()
            .find(|(n, _)| names_equal(n, name))
            .map(|(_, v)| v)
    }

    /// Mutable access to the item called `name` (case-insensitive).
    pub fn item_mut(&mut self, name: &str) -> Option<&mut CfgValue> {
        self.items
            .iter_mut()
            .find(|(n, _)| names_equal(n, name))
            .map(|(_, v)| v)
    }

    /// The subfolder called `name` (case-insensitive).
    pub fn folder(&self, name: &str) -> Option<&Folder> {
        self.folders.iter().find(|f| names_equal(&f.name, name))
    }

    /// Mutable access to the subfolder called `name` (case-insensitive).
    pub fn folder_mut(&mut self, name: &str) -> Option<&mut Folder> {
        self.folders.iter_mut().find(|f| names_equal(&f.name, name))
    }

    /// The subfolder called `name`, created empty if it does not exist.
    pub fn folder_or_insert(&mut self, name: &str) -> &mut Folder {
        match self.folders.iter().position(|f| names_equal(&f.name, name)) {
            Some(i) => &mut self.folders[i],
            None => {
                self.folders.push(Folder::new(name));
                self.folders.last_mut().expect("just pushed")
            }
        }
    }

    /// Value of a `uint` item; `None` if missing or of another type.
    pub fn get_uint(&self, name: &str) -> Option<u32> {
        match self.item(name) {
            Some(CfgValue::Uint(v)) => Some(*v),
            _ => None,
        }
    }

    /// Value of a `uint64` item; `None` if missing or of another type.
    pub fn get_uint64(&self, name: &str) -> Option<u64> {
        match self.item(name) {
            Some(CfgValue::Uint64(v)) => Some(*v),
            _ => None,
        }
    }

    /// Value of a `bool` item; `None` if missing or of another type.
    pub fn get_bool(&self, name: &str) -> Option<bool> {
        match self.item(name) {
            Some(CfgValue::Bool(v)) => Some(*v),
            _ => None,
        }
    }

    /// Value of a `string` item; `None` if missing or of another type.
    pub fn get_str(&self, name: &str) -> Option<&str> {
        match self.item(name) {
            Some(CfgValue::String(v)) => Some(v),
            _ => None,
        }
    }

    /// Value of a `byte` item; `None` if missing or of another type.
    pub fn get_bytes(&self, name: &str) -> Option<&[u8]> {
        match self.item(name) {
            Some(CfgValue::Byte(v)) => Some(v),
            _ => None,
        }
    }

    /// Set item `name` to `v`: replaces the value (and type) of an existing
    /// item of that name (case-insensitive, keeping its spelling), else
    /// appends a new item.
    pub fn set(&mut self, name: &str, v: CfgValue) {
        match self.item_mut(name) {
            Some(slot) => *slot = v,
            None => self.items.push((name.to_string(), v)),
        }
    }

    /// `set(name, CfgValue::Uint(v))`.
    pub fn set_uint(&mut self, name: &str, v: u32) {
        self.set(name, CfgValue::Uint(v));
    }

    /// `set(name, CfgValue::Uint64(v))`.
    pub fn set_uint64(&mut self, name: &str, v: u64) {
        self.set(name, CfgValue::Uint64(v));
    }

    /// `set(name, CfgValue::Bool(v))`.
    pub fn set_bool(&mut self, name: &str, v: bool) {
        self.set(name, CfgValue::Bool(v));
    }

    /// `set(name, CfgValue::String(v))`.
    pub fn set_str(&mut self, name: &str, v: &str) {
        self.set(name, CfgValue::String(v.to_string()));
    }

    /// `set(name, CfgValue::Byte(v))`.
    pub fn set_bytes(&mut self, name: &str, v: &[u8]) {
        self.set(name, CfgValue::Byte(v.to_vec()));
    }

    /// Add subfolder `f`, replacing an existing subfolder of the same name
    /// (case-insensitive) so that names stay unique.
    pub fn add_folder(&mut self, f: Folder) {
        match self
            .folders
            .iter()
            .position(|x| names_equal(&x.name, &f.name))
        {
            Some(i) => self.folders[i] = f,
            None => self.folders.push(f),
        }
    }

    /// Remove and return the subfolder called `name` (case-insensitive).
    pub fn remove_folder(&mut self, name: &str) -> Option<Folder> {
        let i = self
            .folders
            .iter()
            .position(|f| names_equal(&f.name, name))?;
        Some(self.folders.remove(i))
    }

    /// Remove and return the item called `name` (case-insensitive).
    pub fn remove_item(&mut self, name: &str) -> Option<CfgValue> {
        let i = self.items.iter().position(|(n, _)| names_equal(n, name))?;
        Some(self.items.remove(i).1)
    }

    /// Sort items and subfolders of this folder and all descendants into
    /// the order the writers use ([`cmp_names`]). After this,
    /// `parse_text(&write_text(f)) == Ok(f)` for any tree without NUL bytes
    /// in names or strings.
    pub fn sort_recursive(&mut self) {
        self.items.sort_by(|a, b| cmp_names(&a.0, &b.0));
        self.folders.sort_by(|a, b| cmp_names(&a.name, &b.name));
        for f in &mut self.folders {
            f.sort_recursive();
        }
    }

    /// Total number of items in this folder and all descendants.
    pub fn count_items(&self) -> usize {
        self.items.len() + self.folders.iter().map(Folder::count_items).sum::<usize>()
    }
}

// ----------------------------------------------------------------- errors

/// A configuration file that cannot be read.
///
/// `line` is 1-based; it is 0 for errors that have no line (binary form,
/// whole-file conditions such as an empty input).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct CfgError {
    /// 1-based line number (0 = not line-related).
    pub line: usize,
    /// What is wrong, in plain words.
    pub message: String,
}

impl fmt::Display for CfgError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            f.write_str(&self.message)
        } else {
            write!(f, "line {}: {}", self.line, self.message)
        }
    }
}

fn err(line: usize, message: impl Into<String>) -> CfgError {
    CfgError {
        line,
        message: message.into(),
    }
}

// ----------------------------------------------------------------- escaping

/// Escape a name or value for the text form (docs/config-format.md §3,
/// `CfgEscape`): the empty string becomes `$`; bytes 0x01–0x20 and `$`
/// become `$` + two upper-case hex digits; everything else (including bytes
/// ≥ 0x80) is copied. The input is cut at the first NUL (C string).
pub fn escape(s: &str) -> String {
    let s = s.split('\0').next().unwrap_or("");
    if s.is_empty() {
        return "$".to_string();
    }
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        if (ch as u32) <= 0x20 || ch == '$' {
            out.push_str(&format!("${:02X}", ch as u32));
        } else {
            out.push(ch);
        }
    }
    out
}

/// Undo [`escape`] on one token: `$` alone is the empty string; `$XX` (hex,
/// either case) is byte XX; a decoded NUL ends the value. Errors on a `$` not
/// followed by two hex digits.
pub fn unescape(token: &[u8]) -> Result<Vec<u8>, String> {
    if token == b"$" {
        return Ok(Vec::new());
    }
    let mut out = Vec::with_capacity(token.len());
    let mut i = 0;
    while i < token.len() {
        let c = token[i];
        if c == b'$' {
            let hex = token
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| {
                    u8::from_str_radix(h, 16)
                        .ok()
                        .filter(|_| !h.starts_with('+'))
                });
            match hex {
                Some(0) => return Ok(out),
                Some(b) => out.push(b),
                None => {
                    return Err(format!(
                        "bad escape in `{}`: `$` must be followed by two hex digits",
                        String::from_utf8_lossy(token)
                    ))
                }
            }
            i += 3;
        } else {
            out.push(c);
            i += 1;
        }
    }
    Ok(out)
}

fn unescape_utf8(token: &[u8], what: &str) -> Result<String, String> {
    let bytes = unescape(token)?;
    String::from_utf8(bytes).map_err(|_| format!("{what} is not valid UTF-8"))
}

// ----------------------------------------------------------------- value decoding

/// `uint`: decimal, or hexadecimal after `0x`/`0X`; leading zeros allowed
/// (SoftEther's `ToInt` skips them so that they do not mean octal).
fn parse_uint(s: &[u8]) -> Result<u32, String> {
    let text = std::str::from_utf8(s).map_err(|_| "uint value is not a number".to_string())?;
    let bad = || format!("`{text}` is not a valid uint (decimal or 0x-hex, 0..4294967295)");
    let (digits, radix) = match text.get(..2) {
        Some("0x") | Some("0X") => (&text[2..], 16),
        _ => (text, 10),
    };
    if digits.is_empty() || !digits.chars().all(|c| c.is_digit(radix)) {
        return Err(bad());
    }
    u32::from_str_radix(digits, radix).map_err(|_| bad())
}

/// `uint64`: decimal digits; `,` separators are ignored (SoftEther `ToInt64`).
fn parse_uint64(s: &[u8]) -> Result<u64, String> {
    let text = String::from_utf8_lossy(s);
    let bad = || format!("`{text}` is not a valid uint64 (decimal)");
    let mut v: u64 = 0;
    let mut any = false;
    for &c in s {
        match c {
            b',' => {}
            b'0'..=b'9' => {
                any = true;
                v = v
                    .checked_mul(10)
                    .and_then(|v| v.checked_add(u64::from(c - b'0')))
                    .ok_or_else(bad)?;
            }
            _ => return Err(bad()),
        }
    }
    if any {
        Ok(v)
    } else {
        Err(bad())
    }
}

/// `bool`: `true`/`false` in any case, or a number (non-zero = true), as
/// SoftEther reads it.
fn parse_bool(s: &[u8]) -> Result<bool, String> {
    if s.eq_ignore_ascii_case(b"true") {
        Ok(true)
    } else if s.eq_ignore_ascii_case(b"false") {
        Ok(false)
    } else {
        parse_uint(s).map(|v| v != 0).map_err(|_| {
            format!(
                "`{}` is not a valid bool (true, false or a number)",
                String::from_utf8_lossy(s)
            )
        })
    }
}

fn decode_value(keyword: &[u8], data: &[u8]) -> Option<Result<CfgValue, String>> {
    let kw = keyword.to_ascii_lowercase();
    Some(match kw.as_slice() {
        b"uint" => parse_uint(data).map(CfgValue::Uint),
        b"uint64" => parse_uint64(data).map(CfgValue::Uint64),
        b"bool" => parse_bool(data).map(CfgValue::Bool),
        b"string" => unescape_utf8(data, "string value").map(CfgValue::String),
        b"byte" => unescape(data).and_then(|b64| {
            B64.decode(&b64)
                .map(CfgValue::Byte)
                .map_err(|e| format!("byte value is not valid Base64: {e}"))
        }),
        _ => return None,
    })
}

fn is_type_keyword(t: &[u8]) -> bool {
    ["uint", "uint64", "bool", "string", "byte"]
        .iter()
        .any(|k| t.eq_ignore_ascii_case(k.as_bytes()))
}

// ----------------------------------------------------------------- text reader

/// A folder being read, with the name sets used to reject duplicates.
struct Open {
    folder: Folder,
    line: usize,
    item_names: HashSet<String>,
    folder_names: HashSet<String>,
}

impl Open {
    fn new(name: String, line: usize) -> Open {
        Open {
            folder: Folder {
                name,
                items: Vec::new(),
                folders: Vec::new(),
            },
            line,
            item_names: HashSet::new(),
            folder_names: HashSet::new(),
        }
    }
}

/// Parse a configuration file in text form and return its `root` folder.
///
/// Accepts CR LF or LF line ends, with or without the BOM and banner.
/// See the module documentation for what is rejected.
pub fn parse_text(text: &str) -> Result<Folder, CfgError> {
    parse_text_bytes(text.as_bytes())
}

/// Parse a configuration file given as raw bytes: strips a UTF-8 BOM, and
/// reads the binary `SEVPN_DB` form (after verifying its SHA-0 checksum) when
/// the file starts with that magic. Returns the `root` folder.
pub fn parse_bytes(bytes: &[u8]) -> Result<Folder, CfgError> {
    if bytes.starts_with(BINARY_MAGIC) {
        return parse_binary(bytes);
    }
    parse_text_bytes(bytes)
}

fn parse_text_bytes(bytes: &[u8]) -> Result<Folder, CfgError> {
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes);
    // stack[0] is the invisible top level that holds `root`.
    let mut stack: Vec<Open> = vec![Open::new(String::new(), 0)];
    // A `declare` whose `{` has not been seen yet: (name, line).
    let mut pending: Option<(String, usize)> = None;
    let mut line_no = 0usize;

    let mut lines = bytes.split(|&b| b == b'\n').peekable();
    while let Some(raw) = lines.next() {
        if raw.is_empty() && lines.peek().is_none() {
            break; // the empty piece after the final LF
        }
        line_no += 1;
        let line = raw.strip_suffix(b"\r").unwrap_or(raw);
        if line.contains(&b'\r') {
            return Err(err(
                line_no,
                "carriage return inside a line (only LF or CR LF line ends are supported)",
            ));
        }
        if line.contains(&0) {
            return Err(err(line_no, "NUL byte in a text configuration file"));
        }
        let tokens: Vec<&[u8]> = line
            .split(|&b| b == b' ' || b == b'\t')
            .filter(|t| !t.is_empty())
            .collect();
        let Some(&first) = tokens.first() else {
            continue; // blank line
        };
        if first.starts_with(b"#") || first.starts_with(b"//") {
            continue; // comment
        }

        if let Some((name, decl_line)) = pending.take() {
            if first == b"{" {
                if tokens.len() > 1 {
                    return Err(err(line_no, "unexpected text after `{`"));
                }
                open_folder(&mut stack, name, decl_line)?;
                continue;
            }
            return Err(err(
                decl_line,
                format!("`declare {}` is not followed by a `{{` line", escape(&name)),
            ));
        }

        if first.eq_ignore_ascii_case(b"declare") {
            let Some(&name_tok) = tokens.get(1) else {
                return Err(err(line_no, "`declare` without a folder name"));
            };
            let name = unescape_utf8(name_tok, "folder name").map_err(|m| err(line_no, m))?;
            // `declare X {` on one line is accepted as well.
            if tokens.get(2).is_some_and(|t| *t == b"{") {
                if tokens.len() > 3 {
                    return Err(err(line_no, "unexpected text after `{`"));
                }
                open_folder(&mut stack, name, line_no)?;
            } else if tokens.len() > 2 {
                return Err(err(line_no, "unexpected text after the folder name"));
            } else {
                pending = Some((name, line_no));
            }
            continue;
        }
        if first == b"{" {
            return Err(err(line_no, "`{` without a preceding `declare`"));
        }
        if first == b"}" {
            if stack.len() == 1 {
                return Err(err(line_no, "`}` without an open folder"));
            }
            let done = stack.pop().expect("len > 1");
            let at_top = stack.len() == 1;
            let parent = stack.last_mut().expect("top level stays");
            let key = done.folder.name.to_ascii_uppercase();
            if at_top && !names_equal(&done.folder.name, "root") {
                return Err(err(
                    done.line,
                    format!(
                        "top-level folder `{}` (only `root` is allowed outside of `root`)",
                        escape(&done.folder.name)
                    ),
                ));
            }
            if !parent.folder_names.insert(key) {
                return Err(err(
                    done.line,
                    format!("duplicate folder name `{}`", escape(&done.folder.name)),
                ));
            }
            parent.folder.folders.push(done.folder);
            continue;
        }
        if is_type_keyword(first) {
            if tokens.len() < 3 {
                return Err(err(line_no, "item without a value"));
            }
            if stack.len() == 1 {
                return Err(err(line_no, "item outside of any folder"));
            }
            let name = unescape_utf8(tokens[1], "item name").map_err(|m| err(line_no, m))?;
            let value = decode_value(first, tokens[2])
                .expect("keyword checked")
                .map_err(|m| err(line_no, format!("item `{}`: {m}", escape(&name))))?;
            let cur = stack.last_mut().expect("len > 1");
            if !cur.item_names.insert(name.to_ascii_uppercase()) {
                return Err(err(
                    line_no,
                    format!("duplicate item name `{}`", escape(&name)),
                ));
            }
            cur.folder.items.push((name, value));
            continue;
        }
        return Err(err(
            line_no,
            format!(
                "unrecognised line `{}` (expected a `declare`, `{{`, `}}`, a comment or an item `<type> <name> <value>`)",
                String::from_utf8_lossy(line).trim()
            ),
        ));
    }

    if let Some((name, decl_line)) = pending {
        return Err(err(
            decl_line,
            format!("`declare {}` is not followed by a `{{` line", escape(&name)),
        ));
    }
    if stack.len() > 1 {
        let open = stack.last().expect("len > 1");
        return Err(err(
            open.line,
            format!(
                "folder `{}` is never closed (end of file reached with {} folder(s) open)",
                escape(&open.folder.name),
                stack.len() - 1
            ),
        ));
    }
    let top = stack.pop().expect("top level");
    top.folder
        .folders
        .into_iter()
        .next()
        .ok_or_else(|| err(line_no.max(1), "no `declare root` folder in the file"))
}

fn open_folder(stack: &mut Vec<Open>, name: String, line: usize) -> Result<(), CfgError> {
    if stack.len() > MAX_DEPTH {
        return Err(err(
            line,
            format!("folders nested more than {MAX_DEPTH} levels deep"),
        ));
    }
    stack.push(Open::new(name, line));
    Ok(())
}

// ----------------------------------------------------------------- text writer

/// Write `root` in SoftEther's canonical text form: BOM + banner, CR LF line
/// ends, one TAB per nesting level, items then (after an empty line, if both
/// exist) subfolders, each sorted with [`cmp_names`], names and values
/// escaped (docs/config-format.md §2.1, §3). The folder is written under its own
/// name, which for a configuration file is `root`.
pub fn write_text(root: &Folder) -> String {
    let mut out = String::with_capacity(4096);
    out.push_str(BANNER);
    write_folder(&mut out, root, 0);
    out
}

fn indent(out: &mut String, depth: usize) {
    for _ in 0..depth {
        out.push('\t');
    }
}

fn write_folder(out: &mut String, f: &Folder, depth: usize) {
    indent(out, depth);
    out.push_str("declare ");
    out.push_str(&escape(&f.name));
    out.push_str("\r\n");
    indent(out, depth);
    out.push_str("{\r\n");

    let mut items: Vec<&(String, CfgValue)> = f.items.iter().collect();
    items.sort_by(|a, b| cmp_names(&a.0, &b.0));
    for (name, value) in items {
        indent(out, depth + 1);
        out.push_str(value.type_name());
        out.push(' ');
        out.push_str(&escape(name));
        out.push(' ');
        match value {
            CfgValue::Uint(v) => out.push_str(&v.to_string()),
            CfgValue::Uint64(v) => out.push_str(&v.to_string()),
            CfgValue::Bool(v) => out.push_str(if *v { "true" } else { "false" }),
            CfgValue::String(s) => out.push_str(&escape(s)),
            CfgValue::Byte(b) => out.push_str(&escape(&B64.encode(b))),
        }
        out.push_str("\r\n");
    }
    if !f.items.is_empty() && !f.folders.is_empty() {
        out.push_str("\r\n");
    }
    let mut folders: Vec<&Folder> = f.folders.iter().collect();
    folders.sort_by(|a, b| cmp_names(&a.name, &b.name));
    for sub in folders {
        write_folder(out, sub, depth + 1);
    }
    indent(out, depth);
    out.push_str("}\r\n");
}

// ----------------------------------------------------------------- binary form

/// Write `root` in the binary `SEVPN_DB` form (docs/config-format.md §5.3):
/// magic, SHA-0 of everything after the hash, then the folder recursively
/// (name, subfolders, items; big-endian integers; sorted like the text form).
pub fn write_binary(root: &Folder) -> Vec<u8> {
    let mut out = Vec::with_capacity(4096);
    out.extend_from_slice(BINARY_MAGIC);
    out.extend_from_slice(&[0u8; 20]);
    write_folder_bin(&mut out, root);
    let hash = sha0(&out[28..]);
    out[8..28].copy_from_slice(&hash);
    out
}

fn c_str(s: &str) -> &[u8] {
    s.split('\0').next().unwrap_or("").as_bytes()
}

fn write_folder_bin(out: &mut Vec<u8>, f: &Folder) {
    let put_u32 = |out: &mut Vec<u8>, v: u32| out.extend_from_slice(&v.to_be_bytes());
    let put_name = |out: &mut Vec<u8>, s: &str| {
        let b = c_str(s);
        out.extend_from_slice(&(b.len() as u32 + 1).to_be_bytes());
        out.extend_from_slice(b);
    };
    put_name(out, &f.name);
    let mut folders: Vec<&Folder> = f.folders.iter().collect();
    folders.sort_by(|a, b| cmp_names(&a.name, &b.name));
    put_u32(out, folders.len() as u32);
    for sub in folders {
        write_folder_bin(out, sub);
    }
    let mut items: Vec<&(String, CfgValue)> = f.items.iter().collect();
    items.sort_by(|a, b| cmp_names(&a.0, &b.0));
    put_u32(out, items.len() as u32);
    for (name, value) in items {
        put_name(out, name);
        put_u32(out, value.binary_type());
        match value {
            CfgValue::Uint(v) => put_u32(out, *v),
            CfgValue::Uint64(v) => out.extend_from_slice(&v.to_be_bytes()),
            CfgValue::Bool(v) => put_u32(out, u32::from(*v)),
            CfgValue::Byte(b) => {
                put_u32(out, b.len() as u32);
                out.extend_from_slice(b);
            }
            CfgValue::String(s) => {
                let b = c_str(s);
                put_u32(out, b.len() as u32);
                out.extend_from_slice(b);
            }
        }
    }
}

struct BinReader<'a> {
    data: &'a [u8],
    pos: usize,
}

impl<'a> BinReader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], CfgError> {
        if self.data.len() - self.pos < n {
            return Err(err(0, "binary configuration file is truncated"));
        }
        let s = &self.data[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u32(&mut self) -> Result<u32, CfgError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn u64(&mut self) -> Result<u64, CfgError> {
        let b = self.take(8)?;
        let mut a = [0u8; 8];
        a.copy_from_slice(b);
        Ok(u64::from_be_bytes(a))
    }
    /// `ReadBufStr`: u32 length + 1, then the bytes; cut at a NUL.
    fn name(&mut self) -> Result<String, CfgError> {
        let len = self.u32()? as usize;
        if len == 0 {
            return Err(err(0, "binary configuration file: zero name length"));
        }
        let b = self.take(len - 1)?;
        let b = b.split(|&c| c == 0).next().unwrap_or(b);
        String::from_utf8(b.to_vec())
            .map_err(|_| err(0, "binary configuration file: name is not valid UTF-8"))
    }
    fn folder(&mut self, depth: usize) -> Result<Folder, CfgError> {
        if depth > MAX_DEPTH {
            return Err(err(
                0,
                format!(
                    "binary configuration file: folders nested more than {MAX_DEPTH} levels deep"
                ),
            ));
        }
        let mut f = Folder::new(&self.name()?);
        let mut folder_names = HashSet::new();
        let n = self.u32()?;
        for _ in 0..n {
            let sub = self.folder(depth + 1)?;
            if !folder_names.insert(sub.name.to_ascii_uppercase()) {
                return Err(err(
                    0,
                    format!("binary configuration file: duplicate folder `{}`", sub.name),
                ));
            }
            f.folders.push(sub);
        }
        let mut item_names = HashSet::new();
        let n = self.u32()?;
        for _ in 0..n {
            let name = self.name()?;
            let value = match self.u32()? {
                1 => CfgValue::Uint(self.u32()?),
                2 => CfgValue::Uint64(self.u64()?),
                3 => {
                    let len = self.u32()? as usize;
                    CfgValue::Byte(self.take(len)?.to_vec())
                }
                4 => {
                    let len = self.u32()? as usize;
                    let b = self.take(len)?;
                    let b = b.split(|&c| c == 0).next().unwrap_or(b);
                    CfgValue::String(String::from_utf8(b.to_vec()).map_err(|_| {
                        err(
                            0,
                            format!("binary configuration file: item `{name}` is not valid UTF-8"),
                        )
                    })?)
                }
                5 => CfgValue::Bool(self.u32()? != 0),
                t => {
                    return Err(err(
                        0,
                        format!("binary configuration file: item `{name}` has unknown type {t}"),
                    ))
                }
            };
            if !item_names.insert(name.to_ascii_uppercase()) {
                return Err(err(
                    0,
                    format!("binary configuration file: duplicate item `{name}`"),
                ));
            }
            f.items.push((name, value));
        }
        Ok(f)
    }
}

/// Parse the binary `SEVPN_DB` form: verify the SHA-0 checksum, read the
/// single top folder, which must be `root`, and require that nothing follows.
fn parse_binary(bytes: &[u8]) -> Result<Folder, CfgError> {
    if bytes.len() < 28 {
        return Err(err(0, "binary configuration file is truncated"));
    }
    if sha0(&bytes[28..]) != bytes[8..28] {
        return Err(err(
            0,
            "binary configuration file: SHA-0 checksum mismatch (file is corrupt)",
        ));
    }
    let mut r = BinReader {
        data: bytes,
        pos: 28,
    };
    let root = r.folder(0)?;
    if r.pos != bytes.len() {
        return Err(err(
            0,
            "binary configuration file: data after the root folder",
        ));
    }
    if !names_equal(&root.name, "root") {
        return Err(err(
            0,
            format!(
                "binary configuration file: top folder is `{}`, not `root`",
                root.name
            ),
        ));
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_examples_of_the_spec() {
        // docs/config-format.md §3 (verified against SoftEther 5.01).
        assert_eq!(escape("a$b c#{}=é日本"), "a$24b$20c#{}=é日本");
        assert_eq!(escape("x\ty\r\nz$ \u{1}end"), "x$09y$0D$0Az$24$20$01end");
        assert_eq!(escape(""), "$");
        assert_eq!(escape("A B"), "A$20B");
        assert_eq!(
            unescape(b"keep$2Dalive$2esoftether.org").unwrap(),
            b"keep-alive.softether.org"
        );
        assert_eq!(unescape(b"$").unwrap(), b"");
        assert_eq!(unescape(b"a$00b").unwrap(), b"a");
        assert!(unescape(b"a$4").is_err());
        assert!(unescape(b"a$zz").is_err());
        assert!(unescape(b"a$+1").is_err());
    }

    #[test]
    fn sort_order_is_softether_strcmpi() {
        // `_` (0x5F) sorts after letters once upper-cased.
        assert_eq!(
            cmp_names("PacketLogSwitchType", "PACKET_LOG_ARP"),
            Ordering::Less
        );
        assert_eq!(cmp_names("abc", "ABC"), Ordering::Equal);
        assert_eq!(cmp_names("a", "ab"), Ordering::Less);
        // bytes >= 0x80 are negative chars: before ASCII and before the end.
        assert_eq!(cmp_names("é", "A"), Ordering::Less);
        assert_eq!(cmp_names("aé", "a"), Ordering::Less);
    }

    #[test]
    fn value_decoding() {
        assert_eq!(parse_uint(b"0042").unwrap(), 42);
        assert_eq!(parse_uint(b"0x8100").unwrap(), 0x8100);
        assert_eq!(parse_uint(b"4294967295").unwrap(), u32::MAX);
        assert!(parse_uint(b"4294967296").is_err());
        assert!(parse_uint(b"12a").is_err());
        assert!(parse_uint(b"-1").is_err());
        assert!(parse_uint(b"0x").is_err());
        assert_eq!(
            parse_uint64(b"1,795,277,900,026").unwrap(),
            1_795_277_900_026
        );
        assert!(parse_uint64(b",").is_err());
        assert!(parse_uint64(b"18446744073709551616").is_err());
        assert!(parse_bool(b"TRUE").unwrap());
        assert!(parse_bool(b"1").unwrap());
        assert!(!parse_bool(b"0").unwrap());
        assert!(!parse_bool(b"False").unwrap());
        assert!(parse_bool(b"yes").is_err());
    }

    #[test]
    fn binary_round_trip_and_checksum() {
        let mut root = Folder::new("root");
        root.set_uint("ConfigRevision", 7);
        root.set_str("Region", "");
        let sub = root.folder_or_insert("ServerConfiguration");
        sub.set_bytes("HashedPassword", &sha0(b""));
        sub.set_bool("UseKeepConnect", false);
        sub.set_uint64("LoggerMaxLogSize", 1_073_741_823);
        let bin = write_binary(&root);
        assert!(bin.starts_with(BINARY_MAGIC));
        let mut expect = root.clone();
        expect.sort_recursive();
        assert_eq!(parse_bytes(&bin).unwrap(), expect);

        let mut corrupt = bin.clone();
        *corrupt.last_mut().unwrap() ^= 1;
        assert!(parse_bytes(&corrupt)
            .unwrap_err()
            .message
            .contains("checksum"));
        for cut in [8, 27, 28, 40, bin.len() - 1] {
            assert!(parse_bytes(&bin[..cut]).is_err());
        }
    }

    fn rehash(mut bin: Vec<u8>) -> Vec<u8> {
        let h = sha0(&bin[28..]);
        bin[8..28].copy_from_slice(&h);
        bin
    }

    proptest::proptest! {
        /// Structural damage behind a *valid* checksum must give an error,
        /// never a panic or a huge allocation.
        #[test]
        fn binary_reader_survives_damage_with_valid_checksum(
            flips in proptest::collection::vec((proptest::prelude::any::<usize>(), proptest::prelude::any::<u8>()), 1..6),
            cut in proptest::prelude::any::<usize>(),
        ) {
            let mut root = Folder::new("root");
            root.set_str("S", "value");
            root.set_bytes("B", &[1, 2, 3]);
            root.folder_or_insert("Sub").set_uint64("T", 5);
            let mut bin = write_binary(&root);
            for (pos, byte) in flips {
                let i = 28 + pos % (bin.len() - 28);
                bin[i] ^= byte;
            }
            let _ = parse_bytes(&rehash(bin.clone()));
            let keep = 28 + cut % (bin.len() - 27);
            let _ = parse_bytes(&rehash(bin[..keep].to_vec()));
        }
    }

    #[test]
    fn binary_huge_length_is_an_error_not_an_allocation() {
        let mut bin = write_binary(&Folder::new("root"));
        // subfolder count of the root folder -> 0xFFFFFFFF
        let at = 28 + 4 + 4;
        bin[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse_bytes(&rehash(bin)).is_err());
        // a byte item claiming 4 GiB
        let mut root = Folder::new("root");
        root.set_bytes("B", &[7; 3]);
        let mut bin = write_binary(&root);
        let at = bin.len() - 3 - 4;
        bin[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        assert!(parse_bytes(&rehash(bin))
            .unwrap_err()
            .message
            .contains("truncated"));
    }
}
