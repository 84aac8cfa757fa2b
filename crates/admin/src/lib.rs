//! Sans-IO administration layer of RustEther: the SoftEther-compatible admin
//! login, RPC framing, typed RPC messages, the rights-checking dispatcher and
//! the JSON-RPC mapping, as specified in `docs/admin-rpc.md` and implemented by
//! SoftEther VPN 5.01 (`src/Cedar/Admin.c`, `src/Cedar/Remote.c`,
//! `src/Mayaqua/Pack.c`). Research notes with observed behaviour of the real
//! vpncmd/vpnserver: `crates/admin/NOTES.md`.
//!
//! How a server uses it (all I/O stays in the server):
//!
//! 1. vpncmd connects like a VPN client (TLS, watermark POST, Hello with a
//!    20-byte random) and then POSTs a PACK with `method`=`admin`.
//!    [`login::AdminLoginRequest::from_pack`] reads it;
//!    [`throttle::LoginThrottle::check`] decides whether the source may try;
//!    [`login::verify_admin_login`] checks the password against the server
//!    or hub administrator hash and the local-only rule, giving
//!    [`AdminRights`]; the answer is [`login::AdminLoginOk::to_pack`] or
//!    [`login::login_error_pack`] (plus `pencore` padding, HTTP 200).
//! 2. After success the TLS stream carries length-prefixed PACKs:
//!    [`framing::RpcFrameDecoder`] splits them, [`framing::RpcRequest`]
//!    takes `function_name`, [`dispatch_call`] checks rights and calls the
//!    server's [`AdminBackend`], and [`DispatchOutcome::into_pack`] is sent
//!    back with [`framing::encode_frame`]. [`DispatchOutcome::changed_config`]
//!    says when to save the configuration before answering.
//! 3. JSON-RPC at `/api/`: [`json::parse_credentials`] and
//!    [`json::json_login`] authenticate each HTTP request, then
//!    [`json::handle_post`] (or [`json::parse_get`] + [`json::call`]) give
//!    the answer object, serialised with [`json::to_body`].
//!
//! Times in all structures are SoftEther times (Unix ms − 9 h), see
//! [`rustether_proto::softether::time`] (docs/admin-rpc.md §2).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod dispatch;
pub mod framing;
pub mod hub_admin_option;
pub mod hub_ext_option;
pub mod json;
pub mod login;
// Tests only: the `test-util` feature is enabled by dev-dependencies alone.
#[cfg(feature = "test-util")]
pub mod memory;
pub mod outpack;
pub mod rpc;
pub mod throttle;
pub mod vpncmd;

pub use dispatch::{dispatch, dispatch_call, AdminBackend, Caller, DispatchOutcome, RpcFunction};
pub use login::{AdminLoginRequest, AdminRights};
pub use outpack::{JsonHint, JsonKind, OutPack};
pub use rpc::RpcMessage;
pub use throttle::LoginThrottle;
