//! Other protocols' settings (OpenVPN, SSTP): `GetPortsUDP`/`SetPortsUDP`
//! (RPC_PORTS), `GetProtoOptions`/`SetProtoOptions` (RPC_PROTO_OPTIONS),
//! `GetOpenVpnSstpConfig`/`SetOpenVpnSstpConfig` (OPENVPN_SSTP_CONFIG), as
//! SoftEther src/Cedar/Admin.c `InRpcPorts`, `InRpcProtoOptions`,
//! src/Cedar/Server.c `InOpenVpnSstpConfig` lay them out.

use rustether_proto::{ErrorCode, Pack};

use crate::outpack::OutPack;
use crate::rpc::{flat_message, pack_struct, push_kind, write_kind, Reader, RpcMessage};

/// Most UDP ports in one `SetPortsUDP` (SoftEther has no limit; bounded here).
pub const MAX_UDP_PORTS: usize = 64;
/// Most options in one `SetProtoOptions`.
pub const MAX_PROTO_OPTIONS: usize = 64;
/// Longest string option value (bytes).
pub const MAX_PROTO_STRING: usize = 4096;

/// RPC_PORTS: INT `Ports` repeated.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Ports {
    /// UDP port numbers.
    pub ports: Vec<u32>,
}

impl RpcMessage for Ports {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let n = p.count("Ports");
        if n > MAX_UDP_PORTS {
            return Err(ErrorCode::INVALID_PARAMETER);
        }
        Ok(Ports {
            ports: (0..n)
                .map(|i| p.get_int_at("Ports", i).unwrap_or(0))
                .collect(),
        })
    }

    fn write(&self, o: &mut OutPack) {
        for port in &self.ports {
            o.push_int("Ports", *port);
        }
    }
}

/// A protocol option's value (`PROTO_OPTION_VALUE`: 1 string, 2 bool,
/// 3 uint32).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ProtoValue {
    /// `PROTO_OPTION_STRING` (1): DATA with the NUL-terminated string.
    String(String),
    /// `PROTO_OPTION_BOOL` (2): DATA of one byte (C `bool`).
    Bool(bool),
    /// `PROTO_OPTION_UINT32` (3): DATA of 4 bytes in the server's byte
    /// order (little-endian: SoftEther copies the `UINT`).
    UInt32(u32),
}

impl ProtoValue {
    /// The `Type` number.
    pub fn type_id(&self) -> u32 {
        match self {
            ProtoValue::String(_) => 1,
            ProtoValue::Bool(_) => 2,
            ProtoValue::UInt32(_) => 3,
        }
    }

    fn from_wire(ty: u32, data: &[u8]) -> Option<ProtoValue> {
        Some(match ty {
            1 => {
                let body = data.split(|b| *b == 0).next().unwrap_or(&[]);
                if body.len() > MAX_PROTO_STRING {
                    return None;
                }
                ProtoValue::String(String::from_utf8_lossy(body).into_owned())
            }
            2 => ProtoValue::Bool(data.first().is_some_and(|b| *b != 0)),
            3 => {
                let mut b = [0u8; 4];
                for (d, s) in b.iter_mut().zip(data) {
                    *d = *s;
                }
                ProtoValue::UInt32(u32::from_le_bytes(b))
            }
            _ => return None,
        })
    }

    fn to_wire(&self) -> Vec<u8> {
        match self {
            ProtoValue::String(s) => {
                let mut v = s.as_bytes().to_vec();
                v.push(0);
                v
            }
            ProtoValue::Bool(b) => vec![u8::from(*b)],
            ProtoValue::UInt32(u) => u.to_le_bytes().to_vec(),
        }
    }
}

/// One protocol option (`PROTO_OPTION`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProtoOption {
    /// `Name`.
    pub name: String,
    /// `Type` and `Value`.
    pub value: ProtoValue,
}

/// RPC_PROTO_OPTIONS: STR `Protocol`, then per option STR `Name`, INT
/// `Type`, DATA `Value`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProtoOptions {
    /// `OpenVPN` or `SSTP`.
    pub protocol: String,
    /// The options.
    pub options: Vec<ProtoOption>,
}

impl RpcMessage for ProtoOptions {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        let protocol = r.str("Protocol", 0)?;
        let n = p.count("Name");
        if n > MAX_PROTO_OPTIONS {
            return Err(ErrorCode::INVALID_PARAMETER);
        }
        let mut options = Vec::with_capacity(n);
        for i in 0..n {
            let name = r.str("Name", i)?;
            let ty = r.int("Type", i)?;
            let data = p.get_data_at("Value", i).unwrap_or(&[]);
            let value = ProtoValue::from_wire(ty, data).ok_or(ErrorCode::INVALID_PARAMETER)?;
            options.push(ProtoOption { name, value });
        }
        Ok(ProtoOptions { protocol, options })
    }

    fn write(&self, o: &mut OutPack) {
        o.str("Protocol", &self.protocol);
        for opt in &self.options {
            o.push_str("Name", &opt.name);
            o.push_int("Type", opt.value.type_id());
            o.push_data("Value", &opt.value.to_wire());
        }
    }
}

pack_struct! {
    /// OPENVPN_SSTP_CONFIG: the legacy on/off switches of OpenVPN and SSTP.
    pub struct OpenVpnSstpConfig {
        /// `EnableOpenVPN`.
        enable_openvpn: bool = "EnableOpenVPN" as bool,
        /// `EnableSSTP`.
        enable_sstp: bool = "EnableSSTP" as bool,
    }
}

flat_message!(OpenVpnSstpConfig);

// RPC_READ_LOG_FILE, which `MakeOpenVpnConfigFile` answers with (the zip
// in `Buffer`), is [`super::log::ReadLogFile`].

/// The option that switches a protocol on (`PROTO_OPTION_TOGGLE_NAME`).
pub const TOGGLE: &str = "Enabled";

/// The protocols and their options with SoftEther 5.01's defaults (build
/// 9674: src/Cedar/Proto_OpenVPN.c `OvsOptions`, Proto_SSTP.c), each with
/// `Enabled` (false), sorted by name as SoftEther lists them. `None` for
/// an unknown protocol (`ERR_INVALID_PARAMETER`). The one home of this
/// table: the server and the in-memory backend both read it.
pub fn proto_defaults(protocol: &str) -> Option<(&'static str, Vec<ProtoOption>)> {
    let opt = |name: &str, value: ProtoValue| ProtoOption {
        name: name.into(),
        value,
    };
    if protocol.eq_ignore_ascii_case("OpenVPN") {
        Some((
            "OpenVPN",
            vec![
                opt(
                    "DefaultClientOption",
                    ProtoValue::String(
                        "dev-type tun,link-mtu 1500,tun-mtu 1500,cipher AES-128-CBC,auth SHA1,keysize 128,key-method 2,tls-client"
                            .into(),
                    ),
                ),
                opt(TOGGLE, ProtoValue::Bool(false)),
                opt("Obfuscation", ProtoValue::Bool(false)),
                opt("ObfuscationMask", ProtoValue::String(String::new())),
                opt("PushDummyIPv4AddressOnL2Mode", ProtoValue::Bool(true)),
            ],
        ))
    } else if protocol.eq_ignore_ascii_case("SSTP") {
        Some(("SSTP", vec![opt(TOGGLE, ProtoValue::Bool(false))]))
    } else {
        None
    }
}

/// Checks a `SetProtoOptions` request against [`proto_defaults`]: every
/// option must exist with the same type (else `ERR_INVALID_PARAMETER`, as
/// `StSetProtoOptions`). Returns the protocol's canonical name.
pub fn check_proto_options(req: &ProtoOptions) -> Result<&'static str, ErrorCode> {
    let (name, defaults) = proto_defaults(&req.protocol).ok_or(ErrorCode::INVALID_PARAMETER)?;
    for o in &req.options {
        let known = defaults
            .iter()
            .find(|d| d.name.eq_ignore_ascii_case(&o.name))
            .ok_or(ErrorCode::INVALID_PARAMETER)?;
        if known.value.type_id() != o.value.type_id() {
            return Err(ErrorCode::INVALID_PARAMETER);
        }
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proto_options_round_trip() {
        let (_, options) = proto_defaults("openvpn").unwrap();
        let p = ProtoOptions {
            protocol: "OpenVPN".into(),
            options,
        };
        let back = ProtoOptions::from_pack(&p.to_pack()).unwrap();
        assert_eq!(back, p);
        let ports = Ports {
            ports: vec![1194, 1195],
        };
        assert_eq!(Ports::from_pack(&ports.to_pack()).unwrap(), ports);
        assert!(check_proto_options(&p).is_ok());
        let bad = ProtoOptions {
            protocol: "OpenVPN".into(),
            options: vec![ProtoOption {
                name: "Enabled".into(),
                value: ProtoValue::UInt32(1),
            }],
        };
        assert_eq!(check_proto_options(&bad), Err(ErrorCode::INVALID_PARAMETER));
        assert!(proto_defaults("WireGuard").is_none());
    }
}
