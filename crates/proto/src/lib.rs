//! Sans-IO implementation of the SoftEther VPN "SSL-VPN" protocol, as
//! specified in the project's wire spec `docs/protocol-sslvpn.md` and implemented
//! by SoftEther VPN 5.01 build 9674 (`SoftEtherVPN/SoftEtherVPN`, mainly
//! `src/Cedar/Protocol.c`, `src/Cedar/Connection.c`, `src/Mayaqua/Pack.c`,
//! `src/Mayaqua/HTTP.c`).
//!
//! No sockets, no clocks, no async runtime: every type consumes bytes and
//! produces bytes, so the tokio server (`rustether-server`) and the cascade
//! client share this code, and all of it is tested in memory and fuzzed
//! (`fuzz/`, a separate cargo-fuzz workspace).
//!
//! # Layers, bottom up
//!
//! | module | what | SoftEther source |
//! |---|---|---|
//! | [`sha0`](mod@sha0) | SHA-0 hash | `src/Mayaqua/Encrypt.c` `Sha0` |
//! | [`password`] | password hashes, `secure_password` check | `Account.c` `HashPassword`, `Sam.c` `SecurePassword` |
//! | [`pack`] | PACK container codec | `src/Mayaqua/Pack.c` |
//! | [`softether`] | shared tables: `ERR_*` codes, SoftEther time and dates, name rules | `Cedar.h`, `Kernel.c`, `Str.c`, `Account.c` |
//! | [`http`] | minimal HTTP/1.x parser and writers, error pages | `src/Mayaqua/HTTP.c` |
//! | [`watermark`] | signature body check | `src/Cedar/WaterMark.c` |
//! | [`messages`] | hello, login, welcome, additional connect, errors | `src/Cedar/Protocol.c` |
//! | [`negotiate`] | server and client state machines for steps 1–4 | `ServerDownloadSignature`, `HttpServerRecvEx`, `ClientConnect` |
//! | [`block`] | data-phase block stream (frames, keep-alives, zlib) | `src/Cedar/Connection.c` |
//! | [`radius`] | RADIUS PAP Access-Request / reply codec | `src/Cedar/Radius.c` `RadiusLogin` |
//! | [`inet`] | Internet checksum, pseudo headers, Ethernet/ARP/IPv4 builders | `src/Mayaqua/TcpIp.c` `IpChecksum`, RFC 1071, RFC 826 |
//! | [`udpaccel`] | UDP acceleration: grant elements, datagram codec v1/v2, liveness | `src/Cedar/UdpAccel.c` |
//! | [`softether`] | SoftEther tables (policies) | `src/Cedar/Account.c` |
//!
//! A server connection runs: TLS (caller) → [`negotiate::ServerNegotiation`]
//! until it yields a [`messages::ClientRequest`] → the caller authenticates
//! and answers with a [`messages::Welcome`] / [`messages::ErrorReply`] /
//! [`messages::AdditionalConnectReply`] through
//! [`negotiate::ServerNegotiation::write_pack_response`] → the same byte
//! buffer continues as the block stream ([`block::BlockDecoder`],
//! [`block::BlockEncoder`]). The cascade client mirrors this with
//! [`negotiate::ClientNegotiation`].
//!
//! Bad input never panics and never allocates more than the limits allow:
//! every length read from the wire is checked against the remaining input
//! and a limit first.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod block;
pub mod http;
pub mod inet;
pub mod messages;
pub mod negotiate;
pub mod pack;
pub mod password;
pub mod radius;
pub mod sha0;
pub mod softether;
pub mod udpaccel;
pub mod watermark;

pub use pack::{Element, Pack, PackError, PackLimits, Value, ValueType};
pub use sha0::{sha0, Sha0};
/// The error-code table under its former path (`rustether_proto::error`);
/// the one home is [`softether::error`].
pub use softether::error;
pub use softether::error::ErrorCode;
