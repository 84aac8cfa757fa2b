//! Typed request/response structures of the administration RPCs
//! (docs/admin-rpc.md §5–§7; the `In*`/`Out*` converters of
//! `src/Cedar/Admin.c`, `src/Cedar/Client.c`, `src/Cedar/Server.c`).
//!
//! Every structure implements [`RpcMessage`]: [`RpcMessage::from_pack`]
//! reads it the way SoftEther's `In*` function does (absent or mistyped
//! elements read as 0 / empty, fixed-size hashes only when the DATA has the
//! exact size, STR/UNISTR trimmed of spaces and TABs) and
//! [`RpcMessage::to_pack`] writes the element names and types of the `Out*`
//! function, with the JSON hints of [`OutPack`] (booleans, times, IP fields,
//! enumeration groups).
//!
//! Unlike SoftEther (which copies into fixed buffers and truncates),
//! `from_pack` refuses identifiers longer than SoftEther's buffers
//! (`MAX_HUBNAME_LEN`, `MAX_USERNAME_LEN`, `MAX_ACCOUNT_NAME_LEN`, … = 255
//! bytes, `src/Cedar/Cedar.h`) with `ERR_INVALID_PARAMETER` (38), and
//! enumeration counts larger than the PACK value limit.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use rustether_proto::{ErrorCode, Pack};

use crate::outpack::{int_to_ipv4, OutPack};

pub mod access;
pub mod bridge;
pub mod ca;
pub mod group;
pub mod hub;
pub mod hubx;
pub mod l3;
pub mod link;
pub mod log;
pub mod proto;
pub mod securenat;
pub mod server;
pub mod session;
pub mod standalone;
pub mod table;
pub mod user;

pub use access::*;
pub use bridge::*;
pub use ca::*;
pub use group::*;
pub use hub::*;
pub use hubx::*;
pub use l3::*;
pub use link::*;
pub use log::*;
pub use proto::*;
pub use securenat::*;
pub use server::*;
pub use session::*;
pub use standalone::*;
pub use table::*;
pub use user::*;

/// Longest identifier (hub, user, session, account, device name) accepted in
/// a request, in bytes: SoftEther's 255-byte name buffers (`Cedar.h`).
pub const MAX_NAME_LEN: usize = 255;

/// Largest number of items an enumeration may announce with `NumItem`
/// (`MAX_VALUE_NUM`, 64-bit `src/Mayaqua/Pack.h`).
pub const MAX_ITEMS: usize = 262_144;

/// A request or response structure of the admin RPC.
pub trait RpcMessage: Sized {
    /// Reads the structure from a PACK (SoftEther's `In*`); see the module
    /// docs for the leniency rules. Errors: `ERR_INVALID_PARAMETER` (38) for
    /// over-long identifiers or impossible item counts.
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode>;

    /// Writes the structure into `o` (SoftEther's `Out*`).
    fn write(&self, o: &mut OutPack);

    /// The structure as an [`OutPack`] (PACK plus JSON hints).
    fn to_out(&self) -> OutPack {
        let mut o = OutPack::new();
        self.write(&mut o);
        o
    }

    /// The structure as a binary PACK.
    fn to_pack(&self) -> Pack {
        self.to_out().into_pack()
    }
}

/// Reads PACK elements with SoftEther's `PackGet*` semantics.
#[derive(Clone, Copy)]
pub(crate) struct Reader<'a> {
    p: &'a Pack,
}

type R<T> = Result<T, ErrorCode>;

impl<'a> Reader<'a> {
    pub(crate) fn new(p: &'a Pack) -> Reader<'a> {
        Reader { p }
    }

    pub(crate) fn pack(&self) -> &'a Pack {
        self.p
    }

    pub(crate) fn count(&self, name: &str) -> usize {
        self.p.count(name)
    }

    pub(crate) fn int(&self, name: &str, i: usize) -> R<u32> {
        Ok(self.p.get_int_at(name, i).unwrap_or(0))
    }
    pub(crate) fn int64(&self, name: &str, i: usize) -> R<u64> {
        Ok(self.p.get_int64_at(name, i).unwrap_or(0))
    }
    pub(crate) fn bool(&self, name: &str, i: usize) -> R<bool> {
        Ok(self.p.get_bool_at(name, i))
    }
    pub(crate) fn time(&self, name: &str, i: usize) -> R<u64> {
        self.int64(name, i)
    }
    /// NODE_INFO numbers travel byte-swapped (docs/admin-rpc.md §5).
    pub(crate) fn swapped(&self, name: &str, i: usize) -> R<u32> {
        Ok(self.int(name, i)?.swap_bytes())
    }
    pub(crate) fn str(&self, name: &str, i: usize) -> R<String> {
        Ok(self.p.get_str_at(name, i).unwrap_or("").to_owned())
    }
    pub(crate) fn ustr(&self, name: &str, i: usize) -> R<String> {
        Ok(self.p.get_unistr_at(name, i).unwrap_or("").to_owned())
    }
    /// A STR identifier of at most [`MAX_NAME_LEN`] bytes.
    pub(crate) fn name(&self, name: &str, i: usize) -> R<String> {
        let s = self.str(name, i)?;
        check_len(s)
    }
    /// A UNISTR identifier of at most [`MAX_NAME_LEN`] bytes.
    pub(crate) fn uname(&self, name: &str, i: usize) -> R<String> {
        let s = self.ustr(name, i)?;
        check_len(s)
    }
    pub(crate) fn data(&self, name: &str, i: usize) -> R<Vec<u8>> {
        Ok(self.p.get_data_at(name, i).unwrap_or(&[]).to_vec())
    }
    /// DATA that is absent is `None` (certificates, `PackGetBuf`).
    pub(crate) fn opt_data(&self, name: &str, i: usize) -> R<Option<Vec<u8>>> {
        Ok(self.p.get_data_at(name, i).map(<[u8]>::to_vec))
    }
    /// 20-byte hash, all zero unless the DATA has exactly 20 bytes
    /// (`PackGetData2`).
    pub(crate) fn h20(&self, name: &str, i: usize) -> R<[u8; 20]> {
        Ok(self
            .p
            .get_data_at(name, i)
            .and_then(|d| d.try_into().ok())
            .unwrap_or([0; 20]))
    }
    /// 16-byte value (MD4 hash, unique id, raw IPv6), all zero unless exact.
    pub(crate) fn h16(&self, name: &str, i: usize) -> R<[u8; 16]> {
        Ok(self
            .p
            .get_data_at(name, i)
            .and_then(|d| d.try_into().ok())
            .unwrap_or([0; 16]))
    }
    /// IP field (`PackGetIpEx`): `X@ipv6_bool` set → the 16-byte array (all
    /// zero if missing); else the INT `X` with reversed octets; `None` if
    /// neither exists.
    pub(crate) fn ip(&self, name: &str, i: usize) -> R<Option<IpAddr>> {
        if self.p.get_bool_at(&format!("{name}@ipv6_bool"), i) {
            let arr = self.h16(&format!("{name}@ipv6_array"), i)?;
            return Ok(Some(IpAddr::V6(Ipv6Addr::from(arr))));
        }
        if self.p.count(name) == 0 {
            return Ok(None);
        }
        Ok(self
            .p
            .get_int_at(name, i)
            .map(|v| IpAddr::V4(int_to_ipv4(v)))
            .or(Some(IpAddr::V4(Ipv4Addr::UNSPECIFIED))))
    }
    /// IPv4-only IP field (`PackGetIp32`): 0.0.0.0 when absent or IPv6.
    pub(crate) fn ip4(&self, name: &str, i: usize) -> R<Ipv4Addr> {
        Ok(match self.ip(name, i)? {
            Some(IpAddr::V4(v4)) => v4,
            _ => Ipv4Addr::UNSPECIFIED,
        })
    }

    /// Number of items of an enumeration announced by INT `NumItem`
    /// (EnumEthernet, EnumLocalBridge). SoftEther trusts it and reads
    /// missing values as zero; we refuse a `NumItem` larger than the number
    /// of values of the item's key array `key`, so nothing is allocated for
    /// items that are not there.
    pub(crate) fn num_item(&self, key: &str) -> R<usize> {
        let n = self.int("NumItem", 0)? as usize;
        if n > self.count(key) {
            return Err(ErrorCode::INVALID_PARAMETER);
        }
        Ok(n)
    }
}

fn check_len(s: String) -> R<String> {
    if s.len() > MAX_NAME_LEN {
        Err(ErrorCode::INVALID_PARAMETER)
    } else {
        Ok(s)
    }
}

/// The value a field has when its element is absent (SoftEther zeroes its
/// structures before reading).
pub(crate) trait Zero {
    fn zero() -> Self;
}

macro_rules! zero_default {
    ($($t:ty),*) => {$( impl Zero for $t { fn zero() -> Self { Default::default() } } )*};
}
zero_default!(u32, u64, bool, String, Vec<u8>, [u8; 20], [u8; 16]);

impl<T> Zero for Option<T> {
    fn zero() -> Self {
        None
    }
}

impl Zero for Ipv4Addr {
    fn zero() -> Self {
        Ipv4Addr::UNSPECIFIED
    }
}

/// Writes one field of a flat structure (macro helper).
macro_rules! write_kind {
    ($o:ident, int, $k:expr, $v:expr) => {
        $o.int($k, *$v)
    };
    ($o:ident, int64, $k:expr, $v:expr) => {
        $o.int64($k, *$v)
    };
    ($o:ident, bool, $k:expr, $v:expr) => {
        $o.bool($k, *$v)
    };
    ($o:ident, time, $k:expr, $v:expr) => {
        $o.time($k, *$v)
    };
    ($o:ident, swapped, $k:expr, $v:expr) => {
        $o.int($k, $v.swap_bytes())
    };
    ($o:ident, str, $k:expr, $v:expr) => {
        $o.str($k, $v)
    };
    ($o:ident, name, $k:expr, $v:expr) => {
        $o.str($k, $v)
    };
    ($o:ident, ustr, $k:expr, $v:expr) => {
        $o.ustr($k, $v)
    };
    ($o:ident, uname, $k:expr, $v:expr) => {
        $o.ustr($k, $v)
    };
    ($o:ident, data, $k:expr, $v:expr) => {
        $o.data($k, $v)
    };
    ($o:ident, h20, $k:expr, $v:expr) => {
        $o.data($k, &$v[..])
    };
    ($o:ident, h16, $k:expr, $v:expr) => {
        $o.data($k, &$v[..])
    };
    ($o:ident, ip, $k:expr, $v:expr) => {
        $o.ip(
            $k,
            $v.unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
        )
    };
    ($o:ident, ip4, $k:expr, $v:expr) => {
        $o.ip($k, std::net::IpAddr::V4(*$v))
    };
}

/// Appends one field of an enumeration item (macro helper).
macro_rules! push_kind {
    ($o:ident, int, $k:expr, $v:expr) => {
        $o.push_int($k, *$v)
    };
    ($o:ident, int64, $k:expr, $v:expr) => {
        $o.push_int64($k, *$v)
    };
    ($o:ident, bool, $k:expr, $v:expr) => {
        $o.push_bool($k, *$v)
    };
    ($o:ident, time, $k:expr, $v:expr) => {
        $o.push_time($k, *$v)
    };
    ($o:ident, swapped, $k:expr, $v:expr) => {
        $o.push_int($k, $v.swap_bytes())
    };
    ($o:ident, str, $k:expr, $v:expr) => {
        $o.push_str($k, $v)
    };
    ($o:ident, name, $k:expr, $v:expr) => {
        $o.push_str($k, $v)
    };
    ($o:ident, ustr, $k:expr, $v:expr) => {
        $o.push_ustr($k, $v)
    };
    ($o:ident, uname, $k:expr, $v:expr) => {
        $o.push_ustr($k, $v)
    };
    ($o:ident, data, $k:expr, $v:expr) => {
        $o.push_data($k, $v)
    };
    ($o:ident, h20, $k:expr, $v:expr) => {
        $o.push_data($k, &$v[..])
    };
    ($o:ident, h16, $k:expr, $v:expr) => {
        $o.push_data($k, &$v[..])
    };
    ($o:ident, ip, $k:expr, $v:expr) => {
        $o.push_ip(
            $k,
            $v.unwrap_or(std::net::IpAddr::V4(std::net::Ipv4Addr::UNSPECIFIED)),
        )
    };
    ($o:ident, ip4, $k:expr, $v:expr) => {
        $o.push_ip($k, std::net::IpAddr::V4(*$v))
    };
}

/// Declares a flat structure whose fields map one-to-one to PACK elements.
///
/// `field: Type = "Element" as kind,` where kind is one of `int` (u32),
/// `int64` (u64), `bool`, `time` (u64 SoftEther time, [`rustether_proto::softether::time`]), `swapped` (u32 sent
/// byte-swapped), `str`, `name` (STR ≤ 255 bytes), `ustr`, `uname` (UNISTR
/// ≤ 255 bytes), `data` (`Vec<u8>`), `h20`/`h16` (fixed arrays), `ip`
/// (`Option<IpAddr>`), `ip4` (`Ipv4Addr`). Generates `read_fields`,
/// `write_fields` (scalars) and `read_item`/`push_item` (enumeration items).
macro_rules! pack_struct {
    (
        $(#[$m:meta])*
        pub struct $name:ident {
            $( $(#[$fm:meta])* $field:ident : $ty:ty = $key:literal as $kind:ident, )*
        }
    ) => {
        $(#[$m])*
        #[derive(Clone, Debug, PartialEq, Eq)]
        pub struct $name {
            $( $(#[$fm])* pub $field: $ty, )*
        }

        impl Default for $name {
            fn default() -> Self {
                Self { $( $field: $crate::rpc::Zero::zero(), )* }
            }
        }

        #[allow(dead_code)]
        impl $name {
            pub(crate) fn read_fields(r: &$crate::rpc::Reader<'_>) -> Result<Self, rustether_proto::ErrorCode> {
                Ok(Self { $( $field: r.$kind($key, 0)?, )* })
            }
            pub(crate) fn write_fields(&self, o: &mut $crate::outpack::OutPack) {
                $( write_kind!(o, $kind, $key, &self.$field); )*
            }
            pub(crate) fn read_item(r: &$crate::rpc::Reader<'_>, i: usize) -> Result<Self, rustether_proto::ErrorCode> {
                Ok(Self { $( $field: r.$kind($key, i)?, )* })
            }
            pub(crate) fn push_item(&self, o: &mut $crate::outpack::OutPack) {
                $( push_kind!(o, $kind, $key, &self.$field); )*
            }
        }
    };
}

/// Implements [`RpcMessage`] for a [`pack_struct!`] type.
macro_rules! flat_message {
    ($($t:ty),* $(,)?) => {$(
        impl $crate::rpc::RpcMessage for $t {
            fn from_pack(p: &rustether_proto::Pack) -> Result<Self, rustether_proto::ErrorCode> {
                Self::read_fields(&$crate::rpc::Reader::new(p))
            }
            fn write(&self, o: &mut $crate::outpack::OutPack) {
                self.write_fields(o)
            }
        }
    )*};
}

pub(crate) use {flat_message, pack_struct, push_kind, write_kind};

mod groups;
pub use groups::*;

/// Reads `n` enumeration items with `read`.
pub(crate) fn read_items<T>(
    r: &Reader<'_>,
    n: usize,
    read: impl Fn(&Reader<'_>, usize) -> R<T>,
) -> R<Vec<T>> {
    if n > MAX_ITEMS {
        return Err(ErrorCode::INVALID_PARAMETER);
    }
    (0..n).map(|i| read(r, i)).collect()
}

#[cfg(test)]
pub(crate) mod testutil {
    use super::RpcMessage;
    use rustether_proto::Pack;
    use std::fmt::Debug;

    /// to_pack → encode → decode → from_pack must give the value back.
    pub(crate) fn round_trip<T: RpcMessage + PartialEq + Debug>(v: &T) -> Pack {
        let p = v.to_pack();
        let wire = Pack::decode(&p.encode()).expect("own PACK decodes");
        let back = T::from_pack(&wire).expect("own PACK reads back");
        assert_eq!(&back, v);
        wire
    }
}
