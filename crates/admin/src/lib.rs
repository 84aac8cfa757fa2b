//! Sans-IO administration layer of RustEther: the SoftEther-compatible admin
//! login, RPC framing, typed RPC messages, the rights-checking dispatcher and
//! the JSON-RPC mapping, as specified in `admin-rpc.md` and implemented by
//! SoftEther VPN 5.01 (`src/Cedar/Admin.c`, `src/Cedar/Remote.c`,
//! `src/Mayaqua/Pack.c`).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod outpack;
pub mod rpc;

pub use outpack::{JsonHint, JsonKind, OutPack};
pub use rpc::RpcMessage;
pub mod dispatch;
pub mod framing;
pub mod json;
pub mod login;
pub mod memory;
pub mod names;
pub mod throttle;
pub mod time;
pub mod vpncmd;

pub use dispatch::{dispatch, dispatch_call, AdminBackend, Caller, DispatchOutcome, RpcFunction};
pub use login::{AdminLoginRequest, AdminRights};
pub use throttle::LoginThrottle;
