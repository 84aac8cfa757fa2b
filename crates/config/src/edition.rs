//! The two editions of the product: VPN Server and VPN Bridge.
//!
//! They run the same engine; the edition only changes names, the
//! configuration file name and the initial virtual hub (SoftEther
//! `src/vpnserver/vpnserver.c`, `src/vpnbridge/vpnbridge.c`,
//! `SiNewServerEx` bridge flag).

/// Which program is running.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Edition {
    /// `vpnserver`: many virtual hubs, accepts VPN clients.
    Server,
    /// `vpnbridge`: the single hub `BRIDGE`, meant for a local bridge plus a cascade.
    Bridge,
}

impl Edition {
    /// Program (and Unix service) name: `vpnserver` / `vpnbridge`.
    pub fn program_name(self) -> &'static str {
        match self {
            Edition::Server => "vpnserver",
            Edition::Bridge => "vpnbridge",
        }
    }

    /// Human title used in console messages: `RustEther VPN Server` / `RustEther VPN Bridge`.
    pub fn title(self) -> &'static str {
        match self {
            Edition::Server => "RustEther VPN Server",
            Edition::Bridge => "RustEther VPN Bridge",
        }
    }

    /// Configuration file name inside the state directory
    /// (`vpn_server.config` / `vpn_bridge.config`, as SoftEther).
    pub fn config_file_name(self) -> &'static str {
        match self {
            Edition::Server => "vpn_server.config",
            Edition::Bridge => "vpn_bridge.config",
        }
    }

    /// Name of the virtual hub created in a fresh configuration (`DEFAULT` / `BRIDGE`).
    pub fn default_hub(self) -> &'static str {
        match self {
            Edition::Server => "DEFAULT",
            Edition::Bridge => "BRIDGE",
        }
    }
}
