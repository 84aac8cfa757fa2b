//! Virtual hub layer-2 switching for RustEther, as plain data structures.
//!
//! A virtual hub is a learning Ethernet switch whose ports are *sessions*
//! (VPN clients, cascades, local bridges, SecureNAT, monitors). [`Switch`]
//! holds one hub's sessions and MAC table and decides, frame by frame,
//! where a frame goes ([`Route`]); the runtime does the delivery. The rules
//! follow SoftEther `StorePacket` (src/Cedar/Hub.c): ingress checks, MAC
//! learning keyed by (MAC, VLAN id) with aging, station moves with the
//! `CheckMac` loop guard, per-session and hub-wide MAC limits, and
//! flooding of broadcast, multicast and unknown-unicast frames.
//!
//! No sockets, no clock, no locks: the caller passes a monotonic clock in
//! milliseconds and wraps the switch in whatever lock it likes. Hubs are
//! isolated simply by being separate `Switch` values.
//!
//! [`frame`] has read-only helpers over raw Ethernet frames (MACs,
//! EtherType, VLAN id, QoS priority test).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod access;
pub mod classify;
pub mod frame;
mod hasher;
mod mac;
pub mod mss;
pub mod packetlog;
pub mod router;
mod switch;

pub use mac::{MacAddr, ParseMacError};
pub use switch::{
    DropReason, IpEntryView, MacEntryView, Route, SessionId, SessionPolicy, Switch, SwitchConfig,
    SwitchStats, IP_MIN_LIMIT_COUNT, IP_MIN_LIMIT_COUNT_V6, IP_TABLE_EXCLUSIVE_TIME_MS,
    IP_TABLE_EXPIRE_TIME_DHCP_MS, IP_TABLE_EXPIRE_TIME_MS, MAC_FLUSH_INTERVAL_MS,
    MAC_MIN_LIMIT_COUNT, MAC_TABLE_EXCLUSIVE_TIME_MS, MAC_TABLE_EXPIRE_TIME_MS, MAX_IP_TABLES,
    MAX_MAC_TABLES,
};
