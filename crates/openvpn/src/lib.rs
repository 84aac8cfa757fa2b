//! Sans-IO OpenVPN server protocol for RustEther (docs/openvpn.md).
//!
//! - [`packet`]: wire codec (opcodes, key ids, session ids, ACK arrays,
//!   `P_DATA_V1`/`P_DATA_V2`, TCP length framing, TCP protocol detection)
//! - [`reliable`]: the control channel's bounded reliability layer
//! - [`keymethod`]: key-method 2 messages (credentials, peer-info)
//! - [`data`]: data channel (AEAD, or CBC+HMAC through [`cbc`]), cipher
//!   negotiation, replay window
//! - [`prf`]: the TLS 1.0 PRF key derivation of clients without TLS EKM
//! - [`cookie`]: stateless UDP session-id cookies (spoofing resistance)
//! - [`session`]: one client session, TLS through rustls, push-reply
//! - [`l3`]: the virtual Ethernet adapter of `dev tun` clients (DHCP
//!   client, ARP, IPv4 ↔ Ethernet)
//!
//! No I/O and no clock: bytes and milliseconds go in, bytes and events come
//! out. The wire format follows OpenVPN 2.6 (src/openvpn/ssl.c,
//! ssl_pkt.c, reliable.c, crypto.c).
#![forbid(unsafe_code)]

pub mod cbc;
pub mod cookie;
pub mod data;
pub mod keymethod;
pub mod l3;
pub mod packet;
pub mod prf;
pub mod reliable;
pub mod session;

pub use data::Cipher;
pub use session::{CloseReason, Config, Event, ServerSession};
