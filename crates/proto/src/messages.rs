//! Typed negotiation messages carried as PACKs over HTTP (docs/protocol-sslvpn.md
//! §5–§6; SoftEther `src/Cedar/Protocol.c`: `PackHello`, `ServerAccept`,
//! `PackLoginWith*`, `PackWelcome`, `PackAdditionalConnect`,
//! `ClientConnect`, `ClientAdditionalConnect`).
//!
//! Each message converts to a [`Pack`] (`to_pack`) and back (`from_pack`);
//! `from_pack` fails with the [`ErrorCode`] SoftEther would report. None of
//! the `to_pack` methods adds the `pencore` padding: the HTTP layer
//! ([`crate::negotiate`]) does that when sending.

use crate::pack::Pack;
use crate::sha0::SHA0_LEN;
use crate::softether::admin_login::AdminLoginRequest;
use crate::softether::error::ErrorCode;

/// Product string our server announces in the hello PACK. The real client
/// only displays it (docs/protocol-sslvpn.md §5.1: a hello with just `hello` and
/// `random` is accepted).
pub const SERVER_HELLO: &str = "RustEther VPN Server (64 bit)";

/// Version we announce: 501, the SoftEther release whose wire protocol we
/// implement (`GetCedarVersionNumber`); clients only display it.
pub const SERVER_VERSION: u32 = 501;

/// Build we announce: 9674, the SoftEther 5.01 build whose behaviour this
/// crate follows; clients only display it (and hubs may compare client
/// builds, not server builds).
pub const SERVER_BUILD: u32 = 9674;

/// `client_str`/`hello` our cascade client sends. It contains "Server", so a
/// SoftEther server forces bridge/routing mode for the session, as it does
/// for its own cascades (`SoftEther VPN Server Developer Edition (Cascade
/// Mode)`, docs/protocol-sslvpn.md §5.3).
pub const CASCADE_CLIENT_STR: &str = "RustEther VPN Server (Cascade Mode)";

/// Most TCP connections per session (`MAX_TCP_CONNECTION`).
pub const MAX_TCP_CONNECTION: u32 = 32;

/// `method`, `hubname`, `username` are copied into 512-byte buffers by the
/// server (longer values truncated, docs/protocol-sslvpn.md §8).
pub const MAX_NAME_BYTES: usize = 511;

/// `client_str`, `hello`, `plain_password` limit (docs/protocol-sslvpn.md §8).
pub const MAX_CLIENT_STR_BYTES: usize = 255;

/// Largest certificate accepted in a login (docs/protocol-sslvpn.md §8).
pub const MAX_CERT_BYTES: usize = 100_000;

/// Largest signature accepted in a login (docs/protocol-sslvpn.md §8).
pub const MAX_SIGN_BYTES: usize = 512;

/// Prefix of policy elements in the welcome PACK.
pub const POLICY_PREFIX: &str = "policy:";

pub(crate) fn truncate(s: &str, max: usize) -> String {
    let mut end = s.len().min(max);
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    s[..end].to_owned()
}

pub(crate) fn str_or_empty(p: &Pack, name: &str, max: usize) -> String {
    truncate(p.get_str(name).unwrap_or(""), max)
}

fn data20(p: &Pack, name: &str) -> Option<[u8; 20]> {
    p.get_data(name)?.try_into().ok()
}

/// Fails with the code of a PACK's non-zero INT `error` (`GetErrorFromPack`).
pub fn check_error(p: &Pack) -> Result<(), ErrorCode> {
    match p.get_int("error") {
        Some(e) if e != 0 => Err(ErrorCode(e)),
        _ => Ok(()),
    }
}

/// Step 2: the hello PACK, server → client (docs/protocol-sslvpn.md §5.1;
/// `PackHello`, `GetHello`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hello {
    /// Server product string (STR `hello`).
    pub hello: String,
    /// INT `version`, major×100+minor.
    pub version: u32,
    /// INT `build`.
    pub build: u32,
    /// DATA `random`: the 20-byte challenge for `secure_password`, fresh per
    /// TCP connection.
    pub random: [u8; SHA0_LEN],
}

impl Hello {
    /// Our server's hello ([`SERVER_HELLO`], 501, 9674) with a fresh random.
    pub fn server<R: rand::Rng>(rng: &mut R) -> Hello {
        let mut random = [0u8; SHA0_LEN];
        rng.fill_bytes(&mut random);
        Hello {
            hello: SERVER_HELLO.to_owned(),
            version: SERVER_VERSION,
            build: SERVER_BUILD,
            random,
        }
    }

    /// `{hello: STR, version: INT, build: INT, random: DATA(20)}`.
    pub fn to_pack(&self) -> Pack {
        let mut p = Pack::new();
        p.add_str("hello", &self.hello)
            .add_int("version", self.version)
            .add_int("build", self.build)
            .add_data("random", &self.random);
        p
    }

    /// Client-side check: a non-zero `error` fails with that code; a missing
    /// `hello` STR or a `random` other than 20 bytes is
    /// [`ErrorCode::SERVER_IS_NOT_VPN`]. `version`/`build` default to 0.
    pub fn from_pack(p: &Pack) -> Result<Hello, ErrorCode> {
        check_error(p)?;
        let hello = p.get_str("hello").ok_or(ErrorCode::SERVER_IS_NOT_VPN)?;
        let random = data20(p, "random").ok_or(ErrorCode::SERVER_IS_NOT_VPN)?;
        Ok(Hello {
            hello: hello.to_owned(),
            version: p.get_int("version").unwrap_or(0),
            build: p.get_int("build").unwrap_or(0),
            random,
        })
    }
}

/// Credentials of a login by `authtype` (docs/protocol-sslvpn.md §5.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientAuth {
    /// authtype 0.
    Anonymous,
    /// authtype 1: DATA `secure_password` as received (only exactly 20 bytes
    /// can verify; see [`crate::password::verify_secure_password`]); empty if
    /// absent.
    Password {
        /// `SHA0(HashedPassword || hello.random)`.
        secure_password: Vec<u8>,
    },
    /// authtype 2: STR `plain_password` (≤ 255 bytes, empty if absent).
    PlainPassword {
        /// The password in clear (inside TLS).
        password: String,
    },
    /// authtype 3: DATA `cert` (DER, 1..100 000 bytes, else empty) and DATA
    /// `sign` (≤ 512 bytes, else empty) over the hello random.
    Certificate {
        /// DER X.509 certificate.
        cert: Vec<u8>,
        /// RSASSA-PKCS1-v1_5/SHA-1 signature of the hello random.
        sign: Vec<u8>,
    },
    /// authtype 99: DATA `ticket` (cluster redirect; only 20 bytes valid).
    Ticket {
        /// The ticket bytes as received.
        ticket: Vec<u8>,
    },
    /// Any other authtype, including the in-process-only 96, 97, 98 that
    /// must be refused from the network with
    /// [`ErrorCode::AUTHTYPE_NOT_SUPPORTED`].
    Unsupported(u32),
}

impl ClientAuth {
    /// The wire `authtype` (`CLIENT_AUTHTYPE_*`, `AUTHTYPE_TICKET`).
    pub fn authtype(&self) -> u32 {
        match self {
            ClientAuth::Anonymous => 0,
            ClientAuth::Password { .. } => 1,
            ClientAuth::PlainPassword { .. } => 2,
            ClientAuth::Certificate { .. } => 3,
            ClientAuth::Ticket { .. } => 99,
            ClientAuth::Unsupported(n) => *n,
        }
    }

    fn from_pack(p: &Pack) -> ClientAuth {
        let data = |name: &str| p.get_data(name).unwrap_or(&[]).to_vec();
        match p.get_int("authtype").unwrap_or(0) {
            0 => ClientAuth::Anonymous,
            1 => ClientAuth::Password {
                secure_password: data("secure_password"),
            },
            2 => ClientAuth::PlainPassword {
                password: str_or_empty(p, "plain_password", MAX_CLIENT_STR_BYTES),
            },
            3 => {
                let mut cert = data("cert");
                if cert.len() > MAX_CERT_BYTES {
                    cert.clear();
                }
                let mut sign = data("sign");
                if sign.len() > MAX_SIGN_BYTES {
                    sign.clear();
                }
                ClientAuth::Certificate { cert, sign }
            }
            99 => ClientAuth::Ticket {
                ticket: data("ticket"),
            },
            n => ClientAuth::Unsupported(n),
        }
    }

    fn add_to(&self, p: &mut Pack) {
        p.add_int("authtype", self.authtype());
        match self {
            ClientAuth::Anonymous | ClientAuth::Unsupported(_) => {}
            ClientAuth::Password { secure_password } => {
                p.add_data("secure_password", secure_password);
            }
            ClientAuth::PlainPassword { password } => {
                p.add_str("plain_password", password);
            }
            ClientAuth::Certificate { cert, sign } => {
                p.add_data("cert", cert).add_data("sign", sign);
            }
            ClientAuth::Ticket { ticket } => {
                p.add_data("ticket", ticket);
            }
        }
    }
}

/// Step 3, `method=login` (docs/protocol-sslvpn.md §5.3–5.5; `ServerAccept`,
/// `PackLoginWith*`, `ClientUploadAuth`). Strings are trimmed and truncated
/// to the server's buffer sizes (§8). Node and OS information and UDP
/// acceleration requests are not represented (the server may ignore them).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoginRequest {
    /// STR `hubname` (required), matched case-insensitively by the server.
    pub hubname: String,
    /// STR `username` (required, also for anonymous logins).
    pub username: String,
    /// `authtype` and its credential elements.
    pub auth: ClientAuth,
    /// STR `client_str`, product string.
    pub client_str: String,
    /// INT `client_ver`.
    pub client_ver: u32,
    /// INT `client_build`.
    pub client_build: u32,
    /// STR `hello`: the client name the server records for a login.
    pub hello: String,
    /// INT `max_connection` as requested (see [`negotiate_max_connection`]).
    pub max_connection: u32,
    /// INT `use_encrypt`; absent = false = plaintext data phase.
    pub use_encrypt: bool,
    /// INT `use_compress`.
    pub use_compress: bool,
    /// INT `half_connection`.
    pub half_connection: bool,
    /// INT `qos`.
    pub qos: bool,
    /// INT `require_bridge_routing_mode`.
    pub require_bridge_routing_mode: bool,
    /// INT `require_monitor_mode`.
    pub require_monitor_mode: bool,
    /// DATA `unique_id`, used only if exactly 20 bytes.
    pub unique_id: Option<[u8; SHA0_LEN]>,
    /// INT `client_id`.
    pub client_id: u32,
    /// The UDP acceleration request (`use_udp_acceleration` and the
    /// `udp_acceleration_client_*` elements), if any; `None` also for the
    /// 5.01 client started with `/DISABLEUDP` or `NoUdpAcceleration`.
    pub udp_accel: Option<crate::udpaccel::ClientOffer>,
}

impl LoginRequest {
    /// A password login as our cascade client sends it: encrypted, no
    /// compression, one connection, bridge/routing mode, no QoS.
    pub fn cascade(
        hubname: &str,
        username: &str,
        secure_password: [u8; SHA0_LEN],
        unique_id: [u8; SHA0_LEN],
    ) -> LoginRequest {
        LoginRequest {
            hubname: hubname.to_owned(),
            username: username.to_owned(),
            auth: ClientAuth::Password {
                secure_password: secure_password.to_vec(),
            },
            client_str: CASCADE_CLIENT_STR.to_owned(),
            client_ver: SERVER_VERSION,
            client_build: SERVER_BUILD,
            hello: CASCADE_CLIENT_STR.to_owned(),
            max_connection: 1,
            use_encrypt: true,
            use_compress: false,
            half_connection: false,
            qos: false,
            require_bridge_routing_mode: true,
            require_monitor_mode: false,
            udp_accel: None,
            unique_id: Some(unique_id),
            client_id: 0,
        }
    }

    /// The login PACK with every element a 5.01 server expects
    /// (docs/protocol-sslvpn.md §11 item 4): `method`, `hubname`, `username`,
    /// credentials, `client_str`, `client_ver`, `client_build`, `hello`,
    /// `version`/`build` (= client_ver/client_build), `protocol` 0,
    /// `client_id`, `max_connection`, `use_encrypt`, `use_compress`,
    /// `half_connection`, `require_bridge_routing_mode`,
    /// `require_monitor_mode`, `qos` and `unique_id` when set.
    pub fn to_pack(&self) -> Pack {
        let mut p = Pack::new();
        p.add_str("method", "login")
            .add_str("hubname", &self.hubname)
            .add_str("username", &self.username);
        self.auth.add_to(&mut p);
        p.add_str("client_str", &self.client_str)
            .add_int("client_ver", self.client_ver)
            .add_int("client_build", self.client_build)
            .add_str("hello", &self.hello)
            .add_int("version", self.client_ver)
            .add_int("build", self.client_build)
            .add_int("protocol", 0)
            .add_int("client_id", self.client_id)
            .add_int("max_connection", self.max_connection)
            .add_bool("use_encrypt", self.use_encrypt)
            .add_bool("use_compress", self.use_compress)
            .add_bool("half_connection", self.half_connection)
            .add_bool(
                "require_bridge_routing_mode",
                self.require_bridge_routing_mode,
            )
            .add_bool("require_monitor_mode", self.require_monitor_mode)
            .add_bool("qos", self.qos);
        if let Some(id) = &self.unique_id {
            p.add_data("unique_id", id);
        }
        if let Some(u) = &self.udp_accel {
            u.add_to(&mut p);
        }
        p
    }

    /// Parses a login PACK (method already checked by
    /// [`ClientRequest::from_pack`]). Missing `hubname` or `username` STR →
    /// [`ErrorCode::PROTOCOL_ERROR`]; everything else defaults to 0/empty.
    pub fn from_pack(p: &Pack) -> Result<LoginRequest, ErrorCode> {
        let hubname = p.get_str("hubname").ok_or(ErrorCode::PROTOCOL_ERROR)?;
        let username = p.get_str("username").ok_or(ErrorCode::PROTOCOL_ERROR)?;
        Ok(LoginRequest {
            hubname: truncate(hubname, MAX_NAME_BYTES),
            username: truncate(username, MAX_NAME_BYTES),
            auth: ClientAuth::from_pack(p),
            client_str: str_or_empty(p, "client_str", MAX_CLIENT_STR_BYTES),
            client_ver: p.get_int("client_ver").unwrap_or(0),
            client_build: p.get_int("client_build").unwrap_or(0),
            hello: str_or_empty(p, "hello", MAX_CLIENT_STR_BYTES),
            max_connection: p.get_int("max_connection").unwrap_or(0),
            use_encrypt: p.get_bool("use_encrypt"),
            use_compress: p.get_bool("use_compress"),
            half_connection: p.get_bool("half_connection"),
            qos: p.get_bool("qos"),
            require_bridge_routing_mode: p.get_bool("require_bridge_routing_mode"),
            require_monitor_mode: p.get_bool("require_monitor_mode"),
            unique_id: data20(p, "unique_id"),
            client_id: p.get_int("client_id").unwrap_or(0),
            udp_accel: crate::udpaccel::ClientOffer::from_login_pack(p),
        })
    }
}

/// `method=additional_connect` (docs/protocol-sslvpn.md §6.1;
/// `PackAdditionalConnect`, `ClientAdditionalConnect`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdditionalConnect {
    /// DATA `session_key` of the session to join.
    pub session_key: [u8; SHA0_LEN],
    /// STR `client_str`.
    pub client_str: String,
    /// INT `client_ver`.
    pub client_ver: u32,
    /// INT `client_build`.
    pub client_build: u32,
}

impl AdditionalConnect {
    /// `{method: "additional_connect", session_key, client_str, client_ver,
    /// client_build}`, exactly the real client's elements.
    pub fn to_pack(&self) -> Pack {
        let mut p = Pack::new();
        p.add_str("method", "additional_connect")
            .add_data("session_key", &self.session_key)
            .add_str("client_str", &self.client_str)
            .add_int("client_ver", self.client_ver)
            .add_int("client_build", self.client_build);
        p
    }

    /// A `session_key` other than 20 bytes → [`ErrorCode::PROTOCOL_ERROR`]
    /// (`GetSessionKeyFromPack`).
    pub fn from_pack(p: &Pack) -> Result<AdditionalConnect, ErrorCode> {
        Ok(AdditionalConnect {
            session_key: data20(p, "session_key").ok_or(ErrorCode::PROTOCOL_ERROR)?,
            client_str: str_or_empty(p, "client_str", MAX_CLIENT_STR_BYTES),
            client_ver: p.get_int("client_ver").unwrap_or(0),
            client_build: p.get_int("client_build").unwrap_or(0),
        })
    }
}

/// Direction of one TCP connection of a session (`TCP_BOTH`,
/// `TCP_SERVER_TO_CLIENT`, `TCP_CLIENT_TO_SERVER`; docs/protocol-sslvpn.md §6.2).
#[derive(Copy, Clone, Debug, PartialEq, Eq, Hash)]
#[repr(u32)]
pub enum Direction {
    /// 0: data both ways (always, without half-duplex).
    Both = 0,
    /// 1: only server → client.
    ServerToClient = 1,
    /// 2: only client → server (the login connection with half-duplex).
    ClientToServer = 2,
}

impl Direction {
    /// The direction for a wire value; `None` for values other than 0, 1, 2.
    pub fn from_u32(v: u32) -> Option<Direction> {
        match v {
            0 => Some(Direction::Both),
            1 => Some(Direction::ServerToClient),
            2 => Some(Direction::ClientToServer),
            _ => None,
        }
    }

    /// True if the server may send blocks on a connection of this direction.
    pub fn server_sends(self) -> bool {
        self != Direction::ClientToServer
    }

    /// True if the client may send blocks on a connection of this direction.
    pub fn client_sends(self) -> bool {
        self != Direction::ServerToClient
    }
}

/// Server reply to an accepted additional connection: `{error: 0,
/// direction}` (docs/protocol-sslvpn.md §6.1 step 4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdditionalConnectReply {
    /// Direction of the new connection.
    pub direction: Direction,
}

impl AdditionalConnectReply {
    /// `{error: 0, direction: INT}`.
    pub fn to_pack(&self) -> Pack {
        let mut p = Pack::new();
        p.add_int("error", 0)
            .add_int("direction", self.direction as u32);
        p
    }

    /// Non-zero `error` → that code; a `direction` other than 0..2 →
    /// [`ErrorCode::PROTOCOL_ERROR`]; absent = [`Direction::Both`].
    pub fn from_pack(p: &Pack) -> Result<AdditionalConnectReply, ErrorCode> {
        check_error(p)?;
        let direction = Direction::from_u32(p.get_int("direction").unwrap_or(0))
            .ok_or(ErrorCode::PROTOCOL_ERROR)?;
        Ok(AdditionalConnectReply { direction })
    }
}

/// `method=password`: a user changes their password (docs/protocol-sslvpn.md
/// §5.9; `ChangePasswordAccept`). The reply is `{error}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasswordChange {
    /// STR `hubname`.
    pub hubname: String,
    /// STR `username`.
    pub username: String,
    /// DATA `secure_old_password`: `SHA0(old HashedPassword || random)`.
    pub secure_old_password: [u8; SHA0_LEN],
    /// DATA `new_password`: the new `HashedPassword`.
    pub new_password: [u8; SHA0_LEN],
    /// DATA `new_password_ntlm`: new MD4 hash, if sent.
    pub new_password_ntlm: Option<[u8; 16]>,
}

impl PasswordChange {
    /// Missing names or hashes of the wrong size →
    /// [`ErrorCode::PROTOCOL_ERROR`].
    pub fn from_pack(p: &Pack) -> Result<PasswordChange, ErrorCode> {
        let e = ErrorCode::PROTOCOL_ERROR;
        Ok(PasswordChange {
            hubname: truncate(p.get_str("hubname").ok_or(e)?, MAX_NAME_BYTES),
            username: truncate(p.get_str("username").ok_or(e)?, MAX_NAME_BYTES),
            secure_old_password: data20(p, "secure_old_password").ok_or(e)?,
            new_password: data20(p, "new_password").ok_or(e)?,
            new_password_ntlm: p
                .get_data("new_password_ntlm")
                .and_then(|d| d.try_into().ok()),
        })
    }

    /// The request PACK.
    pub fn to_pack(&self) -> Pack {
        let mut p = Pack::new();
        p.add_str("method", "password")
            .add_str("hubname", &self.hubname)
            .add_str("username", &self.username)
            .add_data("secure_old_password", &self.secure_old_password)
            .add_data("new_password", &self.new_password);
        if let Some(n) = &self.new_password_ntlm {
            p.add_data("new_password_ntlm", n);
        }
        p
    }
}

/// The first request PACK after the hello (`ServerAccept`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientRequest {
    /// `method=login`.
    Login(LoginRequest),
    /// `method=additional_connect`.
    AdditionalConnect(AdditionalConnect),
    /// `method=enum_hub`: answer with [`EnumHubReply`].
    EnumHub,
    /// `method=admin`: management RPC login.
    Admin(AdminLoginRequest),
    /// `method=password`.
    Password(PasswordChange),
    /// A NOOP keep-alive (`noop` non-zero, §3.7). [`crate::negotiate`]
    /// answers these itself and never returns them.
    Noop,
}

impl ClientRequest {
    /// Classifies a request PACK in `ServerAccept` order: NOOP first
    /// (`HttpServerRecvEx`), then a non-zero `error` → that code, then
    /// `method` (case-insensitive); missing or unknown method (including
    /// `farm_connect`, clusters being unsupported) →
    /// [`ErrorCode::PROTOCOL_ERROR`].
    pub fn from_pack(p: &Pack) -> Result<ClientRequest, ErrorCode> {
        if p.get_int("noop").unwrap_or(0) != 0 {
            return Ok(ClientRequest::Noop);
        }
        check_error(p)?;
        let method = p.get_str("method").ok_or(ErrorCode::PROTOCOL_ERROR)?;
        let method = truncate(method, MAX_NAME_BYTES).to_ascii_lowercase();
        Ok(match method.as_str() {
            "login" => ClientRequest::Login(LoginRequest::from_pack(p)?),
            "additional_connect" => {
                ClientRequest::AdditionalConnect(AdditionalConnect::from_pack(p)?)
            }
            "enum_hub" => ClientRequest::EnumHub,
            "admin" => ClientRequest::Admin(AdminLoginRequest::from_pack(p)?),
            "password" => ClientRequest::Password(PasswordChange::from_pack(p)?),
            _ => return Err(ErrorCode::PROTOCOL_ERROR),
        })
    }

    /// The request as a PACK (NOOP: `{error: 0, noop: 1}`; enum_hub:
    /// `{method}`).
    pub fn to_pack(&self) -> Pack {
        match self {
            ClientRequest::Login(l) => l.to_pack(),
            ClientRequest::AdditionalConnect(a) => a.to_pack(),
            ClientRequest::EnumHub => {
                let mut p = Pack::new();
                p.add_str("method", "enum_hub");
                p
            }
            ClientRequest::Admin(a) => a.to_pack(),
            ClientRequest::Password(pw) => pw.to_pack(),
            ClientRequest::Noop => noop_pack(),
        }
    }
}

/// `{error: 0, noop: 1}`: a NOOP and the 5.01 server's answer to it
/// (docs/protocol-sslvpn.md §3.7).
pub fn noop_pack() -> Pack {
    let mut p = Pack::new();
    p.add_int("error", 0).add_int("noop", 1);
    p
}

/// Step 4 on success: the welcome PACK (docs/protocol-sslvpn.md §5.7;
/// `PackWelcome`, read by `ClientConnect`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Welcome {
    /// STR `session_name`, `SID-<USER>-<n>`.
    pub session_name: String,
    /// STR `connection_name`, `CID-<n>`.
    pub connection_name: String,
    /// DATA `session_key`, the key for additional connections.
    pub session_key: [u8; SHA0_LEN],
    /// INT `session_key_32` (random; only used by the obsolete UDP mode).
    pub session_key_32: u32,
    /// INT `timeout`, session timeout in milliseconds.
    pub timeout_ms: u32,
    /// INT `max_connection`, negotiated.
    pub max_connection: u32,
    /// INT `use_encrypt`; the client adopts it (0 = plaintext data phase).
    pub use_encrypt: bool,
    /// INT `use_compress`.
    pub use_compress: bool,
    /// INT `half_connection`.
    pub half_connection: bool,
    /// INT `qos`.
    pub qos: bool,
    /// INT `vlan_id` (0 = none).
    pub vlan_id: u32,
    /// DATA `Msg`: UTF-8 hub message, no terminator, may be empty.
    pub msg: Vec<u8>,
    /// `policy:<Name>` INT elements, names without the prefix (the names
    /// of [`crate::softether::policy::POLICIES`]).
    pub policy: Vec<(String, u32)>,
}

impl Welcome {
    /// All elements 5.01 always sends: `session_name`, `connection_name`,
    /// `session_key`, `session_key_32`, `timeout`, `max_connection`,
    /// `use_encrypt`, `use_compress`, `half_connection`, `qos`, `vlan_id`,
    /// `Msg`, `policy:*`, and `enable_udp_recovery`, `is_azure_session`,
    /// `suppress_client_update_notification` as 0. A UDP acceleration grant
    /// is added by the caller ([`crate::udpaccel::ServerOffer::add_to`], §9).
    pub fn to_pack(&self) -> Pack {
        let mut p = Pack::new();
        p.add_str("session_name", &self.session_name)
            .add_str("connection_name", &self.connection_name)
            .add_int("max_connection", self.max_connection)
            .add_bool("use_encrypt", self.use_encrypt)
            .add_bool("use_compress", self.use_compress)
            .add_bool("half_connection", self.half_connection)
            .add_int("timeout", self.timeout_ms)
            .add_bool("qos", self.qos)
            .add_int("is_azure_session", 0)
            .add_data("session_key", &self.session_key)
            .add_int("session_key_32", self.session_key_32)
            .add_int("vlan_id", self.vlan_id)
            .add_data("Msg", &self.msg)
            .add_bool("enable_udp_recovery", false)
            .add_bool("suppress_client_update_notification", false);
        for (name, v) in &self.policy {
            p.add_int(&format!("{POLICY_PREFIX}{name}"), *v);
        }
        p
    }

    /// Client side (`ClientConnect`): non-zero `error` → that code; a
    /// cluster redirect (`Redirect` ≠ 0) → [`ErrorCode::NOT_SUPPORTED`];
    /// missing `session_name`/`connection_name` STR or a `session_key`
    /// other than 20 bytes → [`ErrorCode::PROTOCOL_ERROR`]; the rest
    /// defaults to 0/empty.
    pub fn from_pack(p: &Pack) -> Result<Welcome, ErrorCode> {
        check_error(p)?;
        if p.get_int("Redirect").unwrap_or(0) != 0 {
            return Err(ErrorCode::NOT_SUPPORTED);
        }
        let e = ErrorCode::PROTOCOL_ERROR;
        let policy = p
            .elements()
            .filter_map(|el| {
                let name = el.name.get(..POLICY_PREFIX.len())?;
                if !name.eq_ignore_ascii_case(POLICY_PREFIX) {
                    return None;
                }
                Some((
                    el.name[POLICY_PREFIX.len()..].to_owned(),
                    p.get_int(&el.name)?,
                ))
            })
            .collect();
        Ok(Welcome {
            session_name: p.get_str("session_name").ok_or(e)?.to_owned(),
            connection_name: p.get_str("connection_name").ok_or(e)?.to_owned(),
            session_key: data20(p, "session_key").ok_or(e)?,
            session_key_32: p.get_int("session_key_32").unwrap_or(0),
            timeout_ms: p.get_int("timeout").unwrap_or(0),
            max_connection: p.get_int("max_connection").unwrap_or(0),
            use_encrypt: p.get_bool("use_encrypt"),
            use_compress: p.get_bool("use_compress"),
            half_connection: p.get_bool("half_connection"),
            qos: p.get_bool("qos"),
            vlan_id: p.get_int("vlan_id").unwrap_or(0),
            msg: p.get_data("Msg").unwrap_or(&[]).to_vec(),
            policy,
        })
    }

    /// Value of policy item `name` (case-insensitive), if present.
    pub fn policy_value(&self, name: &str) -> Option<u32> {
        self.policy
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| *v)
    }
}

/// `{error: code, no_save_password}`, the failure reply of any step
/// (docs/protocol-sslvpn.md §5.8; `PackError`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ErrorReply {
    /// The error code (non-zero).
    pub code: ErrorCode,
    /// Tells the client not to store the password (user policy).
    pub no_save_password: bool,
}

impl ErrorReply {
    /// An error reply with `no_save_password` false.
    pub fn new(code: ErrorCode) -> ErrorReply {
        ErrorReply {
            code,
            no_save_password: false,
        }
    }

    /// `{error: INT, no_save_password: INT}`, in that order as in the 5.01
    /// capture of docs/protocol-sslvpn.md §4.4.
    pub fn to_pack(&self) -> Pack {
        let mut p = Pack::new();
        p.add_int("error", self.code.0)
            .add_bool("no_save_password", self.no_save_password);
        p
    }

    /// `Some` if the PACK carries a non-zero `error`.
    pub fn from_pack(p: &Pack) -> Option<ErrorReply> {
        match check_error(p) {
            Ok(()) => None,
            Err(code) => Some(ErrorReply {
                code,
                no_save_password: p.get_bool("no_save_password"),
            }),
        }
    }
}

/// Reply to `method=enum_hub`: `{HubName: STR[], NumHub: INT}`
/// (docs/protocol-sslvpn.md §5.9).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct EnumHubReply {
    /// Names of the hubs not marked hidden.
    pub hubs: Vec<String>,
}

impl EnumHubReply {
    /// `HubName` array (omitted when empty) and `NumHub`.
    pub fn to_pack(&self) -> Pack {
        let mut p = Pack::new();
        for h in &self.hubs {
            p.push_str("HubName", h);
        }
        p.add_int("NumHub", self.hubs.len() as u32);
        p
    }

    /// Reads up to `NumHub` names (bounded by the array length).
    pub fn from_pack(p: &Pack) -> Result<EnumHubReply, ErrorCode> {
        check_error(p)?;
        let n = (p.get_int("NumHub").unwrap_or(0) as usize).min(p.count("HubName"));
        Ok(EnumHubReply {
            hubs: (0..n)
                .filter_map(|i| p.get_str_at("HubName", i).map(str::to_owned))
                .collect(),
        })
    }
}

/// Server-side `max_connection` (docs/protocol-sslvpn.md §5.6, verified):
/// min(requested, policy `MaxConnection`, 32), at least 1; with half-duplex
/// at least 2; with QoS at least 2, or 4 with half-duplex.
pub fn negotiate_max_connection(requested: u32, policy_max: u32, half: bool, qos: bool) -> u32 {
    let mut m = requested.min(policy_max).clamp(1, MAX_TCP_CONNECTION);
    if half {
        m = m.max(2);
    }
    if qos {
        m = m.max(if half { 4 } else { 2 });
    }
    m
}

/// Client-side maximum after the welcome (docs/protocol-sslvpn.md §5.7):
/// min(welcome `max_connection`, own setting) clamped to 1..32; with QoS at
/// least 2 (4 with half-duplex).
pub fn client_max_connection(welcome_max: u32, own_max: u32, half: bool, qos: bool) -> u32 {
    let mut m = welcome_max.min(own_max).clamp(1, MAX_TCP_CONNECTION);
    if qos {
        m = m.max(if half { 4 } else { 2 });
    }
    m
}

/// Session timeout in ms from the policy `TimeOut` in seconds: 0 counts as
/// 20; the result is clamped to 5 000..60 000 (docs/protocol-sslvpn.md §5.6;
/// `TIMEOUT_MIN`/`TIMEOUT_MAX`).
pub fn negotiate_timeout_ms(policy_timeout_secs: u32) -> u32 {
    let secs = if policy_timeout_secs == 0 {
        20
    } else {
        policy_timeout_secs
    };
    secs.saturating_mul(1000).clamp(5_000, 60_000)
}

/// Direction of a new additional connection of a half-duplex session, given
/// the session's current counts (docs/protocol-sslvpn.md §6.2): client→server if
/// server→client connections outnumber client→server ones, otherwise
/// server→client. (The login connection itself is client→server.)
pub fn next_direction(server_to_client: usize, client_to_server: usize) -> Direction {
    if server_to_client > client_to_server {
        Direction::ClientToServer
    } else {
        Direction::ServerToClient
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn login_pack() -> Pack {
        let mut p = Pack::new();
        p.add_str("method", "login")
            .add_str("hubname", "  DEFAULT  ")
            .add_str("username", "test")
            .add_int("authtype", 1)
            .add_data("secure_password", &[1u8; 20])
            .add_str("client_str", "SoftEther VPN Client Developer Edition")
            .add_int("client_ver", 501)
            .add_int("client_build", 9674)
            .add_str("hello", "SoftEther VPN Client Developer Edition")
            .add_int("max_connection", 1)
            .add_int("use_encrypt", 1)
            .add_int("qos", 1)
            .add_data("unique_id", &[9u8; 20]);
        p
    }

    #[test]
    fn hello_round_trip_and_checks() {
        let h = Hello::server(&mut rand::thread_rng());
        assert_eq!(h.hello, SERVER_HELLO);
        let p = h.to_pack();
        assert_eq!(p.get_int("version"), Some(501));
        assert_eq!(p.get_int("build"), Some(9674));
        assert_eq!(Hello::from_pack(&p), Ok(h.clone()));
        // minimal hello: just hello + random
        let mut m = Pack::new();
        m.add_str("hello", "x").add_data("random", &[0; 20]);
        assert_eq!(Hello::from_pack(&m).unwrap().version, 0);
        m.add_data("random", &[0; 19]);
        assert_eq!(Hello::from_pack(&m), Err(ErrorCode::SERVER_IS_NOT_VPN));
        let mut n = h.to_pack();
        n.add_unistr("hello", "x");
        assert_eq!(Hello::from_pack(&n), Err(ErrorCode::SERVER_IS_NOT_VPN));
        let mut e = h.to_pack();
        e.add_int("error", 8);
        assert_eq!(Hello::from_pack(&e), Err(ErrorCode::HUB_NOT_FOUND));
    }

    #[test]
    fn login_parse() {
        let p = login_pack();
        let ClientRequest::Login(l) = ClientRequest::from_pack(&p).unwrap() else {
            panic!()
        };
        assert_eq!(l.hubname, "DEFAULT");
        assert_eq!(
            l.auth,
            ClientAuth::Password {
                secure_password: vec![1; 20]
            }
        );
        assert!(l.use_encrypt && l.qos && !l.use_compress);
        assert_eq!(l.unique_id, Some([9; 20]));
        assert_eq!(l.client_build, 9674);
        // round trip through to_pack
        assert_eq!(LoginRequest::from_pack(&l.to_pack()), Ok(l.clone()));
        // method is case-insensitive, element names too
        let mut q = Pack::new();
        q.add_str("METHOD", "LOGIN")
            .add_str("HUBNAME", "h")
            .add_str("USERNAME", "u");
        let ClientRequest::Login(l) = ClientRequest::from_pack(&q).unwrap() else {
            panic!()
        };
        assert_eq!(l.auth, ClientAuth::Anonymous);
        assert!(!l.use_encrypt, "absent use_encrypt means plaintext");
        assert_eq!(l.unique_id, None);
    }

    #[test]
    fn login_errors_and_limits() {
        let mut p = login_pack();
        p.remove("hubname");
        assert_eq!(ClientRequest::from_pack(&p), Err(ErrorCode::PROTOCOL_ERROR));
        let mut p = login_pack();
        p.add_unistr("username", "test");
        assert_eq!(ClientRequest::from_pack(&p), Err(ErrorCode::PROTOCOL_ERROR));
        let mut p = login_pack();
        p.remove("method");
        assert_eq!(ClientRequest::from_pack(&p), Err(ErrorCode::PROTOCOL_ERROR));
        p.add_str("method", "farm_connect");
        assert_eq!(ClientRequest::from_pack(&p), Err(ErrorCode::PROTOCOL_ERROR));
        p.add_int("error", 3);
        assert_eq!(ClientRequest::from_pack(&p), Err(ErrorCode::DISCONNECTED));
        p.add_int("noop", 1);
        assert_eq!(ClientRequest::from_pack(&p), Ok(ClientRequest::Noop));

        let mut p = login_pack();
        p.add_str("hubname", &"h".repeat(600))
            .add_str("hello", &"é".repeat(200))
            .add_data("unique_id", &[0; 16]);
        let l = LoginRequest::from_pack(&p).unwrap();
        assert_eq!(l.hubname.len(), 511);
        assert_eq!(l.hello.len(), 254, "truncated at a char boundary");
        assert_eq!(l.unique_id, None);

        for (t, expect) in [
            (4, ClientAuth::Unsupported(4)),
            (5, ClientAuth::Unsupported(5)),
            (96, ClientAuth::Unsupported(96)),
            (97, ClientAuth::Unsupported(97)),
            (98, ClientAuth::Unsupported(98)),
        ] {
            p.add_int("authtype", t);
            assert_eq!(LoginRequest::from_pack(&p).unwrap().auth, expect);
        }
        p.add_int("authtype", 2)
            .add_str("plain_password", &"x".repeat(300));
        let ClientAuth::PlainPassword { password } = LoginRequest::from_pack(&p).unwrap().auth
        else {
            panic!()
        };
        assert_eq!(password.len(), 255);
        p.add_int("authtype", 3)
            .add_data("cert", &vec![1; 100_001])
            .add_data("sign", &[2; 256]);
        assert_eq!(
            LoginRequest::from_pack(&p).unwrap().auth,
            ClientAuth::Certificate {
                cert: vec![],
                sign: vec![2; 256]
            }
        );
        p.add_int("authtype", 99).add_data("ticket", &[3; 20]);
        assert_eq!(
            LoginRequest::from_pack(&p).unwrap().auth,
            ClientAuth::Ticket {
                ticket: vec![3; 20]
            }
        );
    }

    #[test]
    fn cascade_login_has_the_elements_a_real_server_needs() {
        let l = LoginRequest::cascade("HUB", "link", [5; 20], [6; 20]);
        let p = l.to_pack();
        for name in [
            "method",
            "hubname",
            "username",
            "authtype",
            "secure_password",
            "use_encrypt",
            "qos",
            "max_connection",
            "client_str",
            "hello",
            "version",
            "build",
            "client_ver",
            "client_build",
            "unique_id",
            "protocol",
        ] {
            assert!(p.element(name).is_some(), "{name}");
        }
        assert_eq!(p.get_str("method"), Some("login"));
        assert_eq!(p.get_int("protocol"), Some(0));
        assert_eq!(p.get_int("authtype"), Some(1));
        assert!(p.get_bool("use_encrypt"));
        assert!(p.get_bool("require_bridge_routing_mode"));
        assert_eq!(
            ClientRequest::from_pack(&p),
            Ok(ClientRequest::Login(l.clone()))
        );
    }

    #[test]
    fn other_methods() {
        let a = AdditionalConnect {
            session_key: [4; 20],
            client_str: "c".into(),
            client_ver: 501,
            client_build: 9674,
        };
        let p = a.to_pack();
        assert_eq!(p.len(), 5);
        assert_eq!(
            ClientRequest::from_pack(&p),
            Ok(ClientRequest::AdditionalConnect(a))
        );
        let mut bad = p.clone();
        bad.add_data("session_key", &[4; 19]);
        assert_eq!(
            ClientRequest::from_pack(&bad),
            Err(ErrorCode::PROTOCOL_ERROR)
        );

        assert_eq!(
            ClientRequest::from_pack(&ClientRequest::EnumHub.to_pack()),
            Ok(ClientRequest::EnumHub)
        );

        let adm = AdminLoginRequest::for_password("pw", &[1; 20], None);
        let mut p = adm.to_pack();
        assert_eq!(
            ClientRequest::from_pack(&p),
            Ok(ClientRequest::Admin(adm.clone()))
        );
        p.remove("hubname");
        p.add_str("hubname", "");
        assert_eq!(
            ClientRequest::from_pack(&p),
            Ok(ClientRequest::Admin(adm.clone()))
        );
        p.remove("hubname");
        p.add_str("hubname", "TEST");
        let ClientRequest::Admin(h) = ClientRequest::from_pack(&p).unwrap() else {
            panic!()
        };
        assert_eq!(h.hub_name.as_deref(), Some("TEST"));

        let pw = PasswordChange {
            hubname: "H".into(),
            username: "u".into(),
            secure_old_password: [1; 20],
            new_password: [2; 20],
            new_password_ntlm: Some([3; 16]),
        };
        let mut p = pw.to_pack();
        assert_eq!(
            ClientRequest::from_pack(&p),
            Ok(ClientRequest::Password(pw))
        );
        p.remove("new_password");
        assert_eq!(ClientRequest::from_pack(&p), Err(ErrorCode::PROTOCOL_ERROR));
        assert_eq!(
            ClientRequest::from_pack(&noop_pack()),
            Ok(ClientRequest::Noop)
        );
    }

    fn welcome() -> Welcome {
        Welcome {
            session_name: "SID-TEST-2".into(),
            connection_name: "CID-9".into(),
            session_key: [7; 20],
            session_key_32: 0x1234,
            timeout_ms: 20_000,
            max_connection: 1,
            use_encrypt: true,
            use_compress: false,
            half_connection: false,
            qos: false,
            vlan_id: 0,
            msg: b"hi".to_vec(),
            policy: crate::softether::policy::PolicyValues::default()
                .iter()
                .map(|(d, v)| (d.name.to_string(), v))
                .collect(),
        }
    }

    #[test]
    fn welcome_elements_and_round_trip() {
        let w = welcome();
        let p = w.to_pack();
        // §5.7 "always present"
        for name in [
            "connection_name",
            "enable_udp_recovery",
            "half_connection",
            "is_azure_session",
            "max_connection",
            "Msg",
            "qos",
            "session_key",
            "session_key_32",
            "session_name",
            "suppress_client_update_notification",
            "timeout",
            "use_compress",
            "use_encrypt",
            "vlan_id",
            "policy:Access",
            "policy:VLanId",
            "policy:TimeOut",
        ] {
            assert!(p.element(name).is_some(), "{name}");
        }
        assert_eq!(w.policy.len(), 39);
        assert_eq!(p.get_int("policy:MaxConnection"), Some(32));
        assert_eq!(p.get_data("Msg"), Some(&b"hi"[..]));
        let back = Welcome::from_pack(&Pack::decode(&p.encode()).unwrap()).unwrap();
        assert_eq!(back, w);
        assert_eq!(back.policy_value("timeout"), Some(20));
        assert_eq!(back.policy_value("nothing"), None);
    }

    #[test]
    fn welcome_client_checks() {
        let mut p = welcome().to_pack();
        p.remove("session_name");
        assert_eq!(Welcome::from_pack(&p), Err(ErrorCode::PROTOCOL_ERROR));
        let mut p = welcome().to_pack();
        p.add_data("session_key", &[1; 21]);
        assert_eq!(Welcome::from_pack(&p), Err(ErrorCode::PROTOCOL_ERROR));
        let mut p = welcome().to_pack();
        p.add_int("Redirect", 1);
        assert_eq!(Welcome::from_pack(&p), Err(ErrorCode::NOT_SUPPORTED));
        let e = ErrorReply::new(ErrorCode::AUTH_FAILED).to_pack();
        assert_eq!(Welcome::from_pack(&e), Err(ErrorCode::AUTH_FAILED));
        // minimal welcome of §10 item 6
        let mut m = Pack::new();
        m.add_str("session_name", "s")
            .add_str("connection_name", "c")
            .add_data("session_key", &[0; 20])
            .add_int("timeout", 20000)
            .add_int("use_encrypt", 1);
        let w = Welcome::from_pack(&m).unwrap();
        assert!(w.use_encrypt && w.policy.is_empty() && w.max_connection == 0);
    }

    #[test]
    fn error_reply_and_additional_reply() {
        let e = ErrorReply {
            code: ErrorCode::HUB_NOT_FOUND,
            no_save_password: true,
        };
        let p = e.to_pack();
        let names: Vec<_> = p.elements().map(|e| e.name.as_str()).collect();
        assert_eq!(names, ["error", "no_save_password"]);
        assert_eq!(ErrorReply::from_pack(&p), Some(e));
        assert_eq!(ErrorReply::from_pack(&noop_pack()), None);
        for d in [
            Direction::Both,
            Direction::ServerToClient,
            Direction::ClientToServer,
        ] {
            let r = AdditionalConnectReply { direction: d };
            assert_eq!(AdditionalConnectReply::from_pack(&r.to_pack()), Ok(r));
        }
        let mut bad = Pack::new();
        bad.add_int("direction", 3);
        assert_eq!(
            AdditionalConnectReply::from_pack(&bad),
            Err(ErrorCode::PROTOCOL_ERROR)
        );
        assert_eq!(
            AdditionalConnectReply::from_pack(
                &ErrorReply::new(ErrorCode::SESSION_TIMEOUT).to_pack()
            ),
            Err(ErrorCode::SESSION_TIMEOUT)
        );
        assert!(Direction::ServerToClient.server_sends());
        assert!(!Direction::ServerToClient.client_sends());
        assert!(!Direction::ClientToServer.server_sends());
        assert!(Direction::Both.client_sends() && Direction::Both.server_sends());
    }

    #[test]
    fn enum_hub_reply() {
        let r = EnumHubReply {
            hubs: vec!["DEFAULT".into(), "TEST".into()],
        };
        let p = r.to_pack();
        assert_eq!(p.count("HubName"), 2);
        assert_eq!(EnumHubReply::from_pack(&p), Ok(r));
        let empty = EnumHubReply::default().to_pack();
        assert!(empty.element("HubName").is_none());
        assert_eq!(empty.get_int("NumHub"), Some(0));
        let mut lying = Pack::new();
        lying.add_int("NumHub", 1000);
        assert_eq!(EnumHubReply::from_pack(&lying).unwrap().hubs.len(), 0);
    }

    #[test]
    fn max_connection_rules() {
        // docs/protocol-sslvpn.md §5.6, verified examples
        assert_eq!(negotiate_max_connection(64, 32, false, false), 32);
        assert_eq!(negotiate_max_connection(0, 32, false, false), 1);
        assert_eq!(negotiate_max_connection(1, 32, true, false), 2);
        assert_eq!(negotiate_max_connection(1, 32, false, true), 2);
        assert_eq!(negotiate_max_connection(8, 32, true, true), 8);
        assert_eq!(negotiate_max_connection(1, 32, true, true), 4);
        assert_eq!(negotiate_max_connection(8, 3, false, false), 3);
        assert_eq!(negotiate_max_connection(8, 0, false, false), 1);
        // client side: max_connection=1, qos=1 → a second connection
        assert_eq!(client_max_connection(1, 1, false, true), 2);
        assert_eq!(client_max_connection(1, 8, true, true), 4);
        assert_eq!(client_max_connection(64, 40, false, false), 32);
        assert_eq!(client_max_connection(0, 8, false, false), 1);
    }

    #[test]
    fn timeout_rule() {
        assert_eq!(negotiate_timeout_ms(20), 20_000);
        assert_eq!(negotiate_timeout_ms(0), 20_000);
        assert_eq!(negotiate_timeout_ms(1), 5_000);
        assert_eq!(negotiate_timeout_ms(600), 60_000);
        assert_eq!(negotiate_timeout_ms(u32::MAX), 60_000);
    }

    #[test]
    fn directions_sequence() {
        // login connection is client→server; additional ones: 1, 1, 2, 1, 2
        let (mut s2c, mut c2s) = (0usize, 1usize);
        let mut seq = Vec::new();
        for _ in 0..5 {
            let d = next_direction(s2c, c2s);
            match d {
                Direction::ServerToClient => s2c += 1,
                Direction::ClientToServer => c2s += 1,
                Direction::Both => unreachable!(),
            }
            seq.push(d as u32);
        }
        assert_eq!(seq, [1, 1, 2, 1, 2]);
    }
}
