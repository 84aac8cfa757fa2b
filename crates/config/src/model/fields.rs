//! One declarative field mapping per configuration struct: [`cfg_struct!`]
//! declares each field once — its documentation, its Rust type, its key in
//! the file and the value a *missing* key reads as — and derives the struct,
//! its reader and its writer from that line, so read and write cannot drift
//! (docs/config-format.md §7; the admin crate's `pack_struct!` does the same
//! for RPC structures).
//!
//! The key's type in the file follows from the Rust type ([`CfgField`]):
//! `bool` ↔ `bool`, `u32` ↔ `uint`, `u64` ↔ `uint64`, `String` ↔ `string`,
//! `Vec<u8>` ↔ `byte`, `[u8; 20]` ↔ `byte` of exactly 20 bytes, `IpAddr` ↔
//! `string` in text form. A key present with another type is an error
//! naming the folder path ([`ConfigError::Invalid`]).

use std::net::IpAddr;

use super::Rd;
use crate::cfg::Folder;
use crate::error::ConfigError;

/// A Rust type stored as one item of a configuration folder.
pub(super) trait CfgField: Sized {
    /// The value of item `key`, `None` when the key is missing.
    fn read(r: &Rd, key: &str) -> Result<Option<Self>, ConfigError>;
    /// Sets item `key` (replacing a present one).
    fn write(&self, f: &mut Folder, key: &str);
}

impl CfgField for bool {
    fn read(r: &Rd, key: &str) -> Result<Option<Self>, ConfigError> {
        r.bool(key)
    }
    fn write(&self, f: &mut Folder, key: &str) {
        f.set_bool(key, *self);
    }
}

impl CfgField for u32 {
    fn read(r: &Rd, key: &str) -> Result<Option<Self>, ConfigError> {
        r.uint(key)
    }
    fn write(&self, f: &mut Folder, key: &str) {
        f.set_uint(key, *self);
    }
}

/// A TCP port stored as `uint`; a value above 65535 is an error.
impl CfgField for u16 {
    fn read(r: &Rd, key: &str) -> Result<Option<Self>, ConfigError> {
        match r.uint(key)? {
            None => Ok(None),
            Some(v) => u16::try_from(v)
                .map(Some)
                .map_err(|_| r.bad(key, format!("{v} is not a TCP port"))),
        }
    }
    fn write(&self, f: &mut Folder, key: &str) {
        f.set_uint(key, u32::from(*self));
    }
}

impl CfgField for u64 {
    fn read(r: &Rd, key: &str) -> Result<Option<Self>, ConfigError> {
        r.uint64(key)
    }
    fn write(&self, f: &mut Folder, key: &str) {
        f.set_uint64(key, *self);
    }
}

impl CfgField for String {
    fn read(r: &Rd, key: &str) -> Result<Option<Self>, ConfigError> {
        Ok(r.str(key)?.map(str::to_string))
    }
    fn write(&self, f: &mut Folder, key: &str) {
        f.set_str(key, self);
    }
}

impl CfgField for Vec<u8> {
    fn read(r: &Rd, key: &str) -> Result<Option<Self>, ConfigError> {
        Ok(r.bytes(key)?.map(<[u8]>::to_vec))
    }
    fn write(&self, f: &mut Folder, key: &str) {
        f.set_bytes(key, self);
    }
}

impl CfgField for [u8; 20] {
    fn read(r: &Rd, key: &str) -> Result<Option<Self>, ConfigError> {
        r.fixed::<20>(key)
    }
    fn write(&self, f: &mut Folder, key: &str) {
        f.set_bytes(key, self);
    }
}

/// Optional bytes: present (even empty) is `Some`, `None` removes the key.
impl CfgField for Option<Vec<u8>> {
    fn read(r: &Rd, key: &str) -> Result<Option<Self>, ConfigError> {
        Ok(r.bytes(key)?.map(|v| Some(v.to_vec())))
    }
    fn write(&self, f: &mut Folder, key: &str) {
        match self {
            Some(v) => f.set_bytes(key, v),
            None => {
                f.remove_item(key);
            }
        }
    }
}

/// An optional name: an empty string reads as `None`, `None` removes the
/// key (as SoftEther writes `GroupName` only for a user in a group).
impl CfgField for Option<String> {
    fn read(r: &Rd, key: &str) -> Result<Option<Self>, ConfigError> {
        Ok(r.str(key)?
            .map(|v| Some(v.to_string()).filter(|v| !v.is_empty())))
    }
    fn write(&self, f: &mut Folder, key: &str) {
        match self {
            Some(v) if !v.is_empty() => f.set_str(key, v),
            _ => {
                f.remove_item(key);
            }
        }
    }
}

/// An address in text form; an empty string reads as missing.
impl CfgField for IpAddr {
    fn read(r: &Rd, key: &str) -> Result<Option<Self>, ConfigError> {
        match r.str(key)?.map(str::trim) {
            None | Some("") => Ok(None),
            Some(t) => t
                .parse()
                .map(Some)
                .map_err(|_| r.bad(key, format!("`{t}` is not an IP address"))),
        }
    }
    fn write(&self, f: &mut Folder, key: &str) {
        f.set_str(key, &self.to_string());
    }
}

/// Reads `key`, which may name an item of a subfolder (`"ClientOption/Port"`;
/// a missing subfolder reads as missing keys). Errors name the full path.
pub(super) fn read_key<T: CfgField>(r: &Rd, key: &str) -> Result<Option<T>, ConfigError> {
    match key.split_once('/') {
        None => T::read(r, key),
        Some((folder, rest)) => match r.f.folder(folder) {
            None => Ok(None),
            Some(sub) => read_key(&r.sub(sub), rest),
        },
    }
}

/// Writes `key` like [`read_key`] reads it, creating the subfolder if needed.
pub(super) fn write_key<T: CfgField>(v: &T, f: &mut Folder, key: &str) {
    match key.split_once('/') {
        None => v.write(f, key),
        Some((folder, rest)) => write_key(v, f.folder_or_insert(folder), rest),
    }
}

/// Declares a configuration struct from one line per field:
///
/// ```text
/// /// doc
/// field: Type = "FileKey" or <value when the key is missing>,
/// ```
///
/// and adds `raw: Folder` (the folder as loaded, so unmodelled keys are
/// written back), `read_fields(&Rd) -> Result<Self, ConfigError>` and
/// `write_fields(&self, &mut Folder)`.
macro_rules! cfg_struct {
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            $(
                $(#[$fmeta:meta])*
                $field:ident : $ty:ty = $key:literal or $default:expr,
            )*
        }
    ) => {
        $crate::model::fields::cfg_struct! {
            $(#[$meta])*
            pub struct $name {
                manual {}
                $(
                    $(#[$fmeta])*
                    $field : $ty = $key or $default,
                )*
            }
        }
    };
    (
        $(#[$meta:meta])*
        pub struct $name:ident {
            manual {
                $(
                    $(#[$mmeta:meta])*
                    $mfield:ident : $mty:ty,
                )*
            }
            $(
                $(#[$fmeta:meta])*
                $field:ident : $ty:ty = $key:literal or $default:expr,
            )*
        }
    ) => {
        $(#[$meta])*
        pub struct $name {
            $(
                $(#[$mmeta])*
                pub $mfield: $mty,
            )*
            $(
                $(#[$fmeta])*
                #[doc = concat!("\n\nFile key `", $key, "`.")]
                pub $field: $ty,
            )*
            /// The folder as loaded (unmodelled keys are written back).
            pub raw: $crate::cfg::Folder,
        }

        impl $name {
            /// Reads every declared field (missing keys take their declared
            /// default), takes the hand-read fields as arguments and keeps
            /// the folder as `raw`.
            fn read_fields(
                r: &super::Rd,
                $($mfield: $mty,)*
            ) -> Result<Self, $crate::error::ConfigError> {
                Ok($name {
                    $($mfield,)*
                    $(
                        $field: match super::fields::read_key::<$ty>(r, $key)? {
                            Some(v) => v,
                            None => $default,
                        },
                    )*
                    raw: r.f.clone(),
                })
            }

            /// Writes every declared field into `f` (normally a copy of
            /// `raw`); hand-read fields are the caller's.
            fn write_fields(&self, f: &mut $crate::cfg::Folder) {
                $( super::fields::write_key(&self.$field, f, $key); )*
            }

            /// Every declared field at its missing-key default, with the
            /// hand-read fields and `raw` given.
            #[allow(dead_code)]
            fn with_defaults($($mfield: $mty,)* raw: $crate::cfg::Folder) -> Self {
                $name {
                    $($mfield,)*
                    $( $field: $default, )*
                    raw,
                }
            }

            /// The declared file keys, in declaration order.
            #[allow(dead_code)]
            pub(crate) const KEYS: &'static [&'static str] = &[$($key),*];
        }
    };
}
pub(super) use cfg_struct;
