//! SecureNAT: SoftEther's virtual host on a hub (src/Cedar/Virtual.c,
//! src/Cedar/Nat.c) — a virtual DHCP server and, later, NAT — as a sans-IO
//! state machine over Ethernet frames. See docs/securenat.md.
//!
//! - [`settings`]: `VH_OPTION` and its SoftEther defaults.
//! - [`dhcp`]: the lease table and DHCP answers (messages by `dhcproto`).
//! - [`host`]: frames in, frames out: ARP, ICMP echo, IPv4 reassembly
//!   (smoltcp) and the DHCP server at layer 2; NAT flows as events.
//! - [`nat`]: the NAT table, limits, timeouts, the guard.
//! - [`driver`]: the tokio edge running a host with real sockets.

pub mod dhcp;
pub mod driver;
pub mod host;
pub mod nat;
pub mod settings;

pub use dhcp::{DhcpServer, Lease};
pub use driver::{DriverConfig, SecureNat};
pub use host::{HostStats, NatEvent, TcpFlowState, VirtualHost};
pub use nat::{FlowId, Guard, NatEntry, NatLimits, NatProto};
pub use settings::{PushRoute, SettingsError, VhOption};
