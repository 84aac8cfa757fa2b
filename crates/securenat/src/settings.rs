//! SecureNAT settings: SoftEther's `VH_OPTION` (src/Cedar/Virtual.h) with the
//! defaults of `NiSetDefaultVhOption` (src/Cedar/Nat.c).

use std::net::Ipv4Addr;

/// Most classless static routes pushed by DHCP, as
/// `MAX_DHCP_CLASSLESS_ROUTE_ENTRIES` in SoftEther src/Mayaqua/TcpIp.h.
pub const MAX_PUSH_ROUTES: usize = 64;

/// Longest `DhcpPushRoutes` string accepted, as
/// `MAX_DHCP_CLASSLESS_ROUTE_TABLE_STR_SIZE` in SoftEther src/Mayaqua/TcpIp.h.
pub const MAX_PUSH_ROUTES_STR: usize = 3200;

/// Longest DHCP domain name (`MAX_HOST_NAME_LEN` in SoftEther).
pub const MAX_DOMAIN_LEN: usize = 255;

/// Smallest and largest accepted MTU in bytes (SoftEther's admin tool
/// allows 64..=1500; frames must fit the hub's 1514-byte frames).
pub const MIN_MTU: u16 = 64;
/// See [`MIN_MTU`].
pub const MAX_MTU: u16 = 1500;

/// Shortest DHCP lease in seconds (`DHCP_MIN_EXPIRE_TIMESPAN`, SoftEther
/// src/Cedar/Cedar.h: 15 s).
pub const MIN_LEASE_SECS: u32 = 15;

/// One classless static route pushed to DHCP clients (option 121, RFC 3442).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PushRoute {
    /// Destination network (host bits are cleared on parse).
    pub network: Ipv4Addr,
    /// Prefix length 0..=32.
    pub prefix: u8,
    /// Next hop.
    pub gateway: Ipv4Addr,
}

/// Why a setting was refused.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum SettingsError {
    /// `DhcpPushRoutes` could not be parsed; the text says which entry.
    #[error("DhcpPushRoutes: {0}")]
    PushRoutes(String),
    /// A value is outside the range SoftEther accepts.
    #[error("{0}")]
    Invalid(&'static str),
}

/// The virtual host's settings, field for field SoftEther's `VH_OPTION`.
///
/// Times are seconds as in SoftEther's config and admin RPCs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VhOption {
    /// The virtual host's MAC address (SoftEther generates one per hub).
    pub mac: [u8; 6],
    /// The virtual host's IPv4 address (default 192.168.30.1).
    pub ip: Ipv4Addr,
    /// Its subnet mask (default 255.255.255.0).
    pub mask: Ipv4Addr,
    /// NAT on (default true).
    pub use_nat: bool,
    /// IP MTU of the virtual host in bytes (default 1500); TCP MSS of NAT
    /// sessions is `mtu - 40`.
    pub mtu: u16,
    /// NAT TCP idle timeout, seconds (default 1800).
    pub nat_tcp_timeout: u32,
    /// NAT UDP idle timeout, seconds (default 60).
    pub nat_udp_timeout: u32,
    /// Virtual DHCP server on (default true).
    pub use_dhcp: bool,
    /// First address of the pool (default 192.168.30.10).
    pub dhcp_lease_ip_start: Ipv4Addr,
    /// Last address of the pool, inclusive (default 192.168.30.200).
    pub dhcp_lease_ip_end: Ipv4Addr,
    /// Mask handed to clients (default 255.255.255.0).
    pub dhcp_subnet_mask: Ipv4Addr,
    /// Lease time, seconds (default 7200).
    pub dhcp_expire_secs: u32,
    /// Router option; 0.0.0.0 = none (default the virtual host).
    pub dhcp_gateway: Ipv4Addr,
    /// DNS server 1; 0.0.0.0 = none (default the virtual host).
    pub dhcp_dns: Ipv4Addr,
    /// DNS server 2; 0.0.0.0 = none.
    pub dhcp_dns2: Ipv4Addr,
    /// Domain name option; empty = none.
    pub dhcp_domain: String,
    /// Write NAT/DHCP events to the security log (stored; see docs/securenat.md).
    pub save_log: bool,
    /// Push [`VhOption::dhcp_push_routes`] (option 121).
    pub apply_dhcp_push_routes: bool,
    /// SoftEther's `DhcpPushRoutes` text, e.g.
    /// `192.168.5.0/255.255.255.0/192.168.4.254, 10.0.0.0/8/192.168.4.253`.
    pub dhcp_push_routes: String,
}

impl Default for VhOption {
    fn default() -> Self {
        let mut mac = [0u8; 6];
        rand::Rng::fill(&mut rand::thread_rng(), &mut mac[..]);
        // Locally administered unicast, like SoftEther's generated 5E-... MACs.
        mac[0] = 0x5E;
        let host = Ipv4Addr::new(192, 168, 30, 1);
        Self {
            mac,
            ip: host,
            mask: Ipv4Addr::new(255, 255, 255, 0),
            use_nat: true,
            mtu: 1500,
            nat_tcp_timeout: 1800,
            nat_udp_timeout: 60,
            use_dhcp: true,
            dhcp_lease_ip_start: Ipv4Addr::new(192, 168, 30, 10),
            dhcp_lease_ip_end: Ipv4Addr::new(192, 168, 30, 200),
            dhcp_subnet_mask: Ipv4Addr::new(255, 255, 255, 0),
            dhcp_expire_secs: 7200,
            dhcp_gateway: host,
            dhcp_dns: host,
            dhcp_dns2: Ipv4Addr::UNSPECIFIED,
            dhcp_domain: String::new(),
            save_log: true,
            apply_dhcp_push_routes: false,
            dhcp_push_routes: String::new(),
        }
    }
}

impl VhOption {
    /// Checks the settings as SoftEther's `StSetSecureNATOption` does
    /// (src/Cedar/Admin.c): unicast MAC, a contiguous mask, start ≤ end,
    /// MTU and lease bounds, parseable push routes.
    ///
    /// # Errors
    /// [`SettingsError`] naming the first bad field.
    pub fn validate(&self) -> Result<(), SettingsError> {
        if self.mac[0] & 1 == 1 || self.mac == [0; 6] {
            return Err(SettingsError::Invalid("MAC address must be unicast"));
        }
        if mask_prefix(self.mask).is_none() || mask_prefix(self.dhcp_subnet_mask).is_none() {
            return Err(SettingsError::Invalid("subnet mask is not contiguous"));
        }
        if self.ip.is_unspecified() || self.ip.is_broadcast() {
            return Err(SettingsError::Invalid("virtual host IP address is invalid"));
        }
        if !(MIN_MTU..=MAX_MTU).contains(&self.mtu) {
            return Err(SettingsError::Invalid("MTU must be 64..1500"));
        }
        if u32::from(self.dhcp_lease_ip_start) > u32::from(self.dhcp_lease_ip_end) {
            return Err(SettingsError::Invalid("DHCP pool start is after its end"));
        }
        if self.dhcp_domain.len() > MAX_DOMAIN_LEN {
            return Err(SettingsError::Invalid("DHCP domain name too long"));
        }
        parse_push_routes(&self.dhcp_push_routes)?;
        Ok(())
    }

    /// Lease time in seconds, never below [`MIN_LEASE_SECS`] (SoftEther
    /// clamps it the same way in src/Cedar/Virtual.c `SetVirtualHostOption`).
    pub fn lease_secs(&self) -> u32 {
        self.dhcp_expire_secs.max(MIN_LEASE_SECS)
    }

    /// The routes to push, empty unless `apply_dhcp_push_routes`; a bad
    /// string pushes nothing (it was refused by [`VhOption::validate`]).
    pub fn push_routes(&self) -> Vec<PushRoute> {
        if !self.apply_dhcp_push_routes {
            return Vec::new();
        }
        parse_push_routes(&self.dhcp_push_routes).unwrap_or_default()
    }
}

/// Prefix length of a contiguous mask, `None` if the mask has holes.
pub fn mask_prefix(mask: Ipv4Addr) -> Option<u8> {
    let m = u32::from(mask);
    let ones = m.leading_ones();
    if m.checked_shl(ones).unwrap_or(0) == 0 {
        u8::try_from(ones).ok()
    } else {
        None
    }
}

/// Parses SoftEther's `DhcpPushRoutes` text: entries
/// `network/mask/gateway` separated by commas or spaces, mask dotted or a
/// prefix length (SoftEther src/Mayaqua/TcpIp.c `ParseClasslessRouteTableStr`).
///
/// # Errors
/// [`SettingsError::PushRoutes`] for a bad entry, more than
/// [`MAX_PUSH_ROUTES`] entries or text longer than [`MAX_PUSH_ROUTES_STR`].
pub fn parse_push_routes(s: &str) -> Result<Vec<PushRoute>, SettingsError> {
    if s.len() > MAX_PUSH_ROUTES_STR {
        return Err(SettingsError::PushRoutes("text too long".into()));
    }
    let mut out = Vec::new();
    for entry in s.split([',', ' ', '\t']).filter(|e| !e.is_empty()) {
        if out.len() >= MAX_PUSH_ROUTES {
            return Err(SettingsError::PushRoutes(format!(
                "more than {MAX_PUSH_ROUTES} routes"
            )));
        }
        let bad = || SettingsError::PushRoutes(format!("bad entry '{entry}'"));
        let mut parts = entry.split('/');
        let (Some(net), Some(mask), Some(gw), None) =
            (parts.next(), parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        let net: Ipv4Addr = net.trim().parse().map_err(|_| bad())?;
        let gateway: Ipv4Addr = gw.trim().parse().map_err(|_| bad())?;
        let prefix = match mask.trim().parse::<u8>() {
            Ok(p) if p <= 32 => p,
            Ok(_) => return Err(bad()),
            Err(_) => mask
                .trim()
                .parse::<Ipv4Addr>()
                .ok()
                .and_then(mask_prefix)
                .ok_or_else(bad)?,
        };
        let m = if prefix == 0 {
            0
        } else {
            u32::MAX << (32 - u32::from(prefix))
        };
        out.push(PushRoute {
            network: Ipv4Addr::from(u32::from(net) & m),
            prefix,
            gateway,
        });
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_softethers() {
        let o = VhOption::default();
        assert_eq!(o.ip, Ipv4Addr::new(192, 168, 30, 1));
        assert_eq!(o.dhcp_lease_ip_start, Ipv4Addr::new(192, 168, 30, 10));
        assert_eq!(o.dhcp_lease_ip_end, Ipv4Addr::new(192, 168, 30, 200));
        assert_eq!(o.dhcp_expire_secs, 7200);
        assert_eq!(o.dhcp_gateway, o.ip);
        assert_eq!(o.dhcp_dns, o.ip);
        assert_eq!(
            (o.nat_tcp_timeout, o.nat_udp_timeout, o.mtu),
            (1800, 60, 1500)
        );
        assert_eq!(o.mac[0], 0x5E);
        assert!(o.validate().is_ok());
    }

    #[test]
    fn push_routes_parse_both_mask_forms() {
        let r =
            parse_push_routes("192.168.5.7/255.255.255.0/192.168.4.254, 10.0.0.0/8/192.168.4.253")
                .unwrap();
        assert_eq!(
            r,
            vec![
                PushRoute {
                    network: Ipv4Addr::new(192, 168, 5, 0),
                    prefix: 24,
                    gateway: Ipv4Addr::new(192, 168, 4, 254)
                },
                PushRoute {
                    network: Ipv4Addr::new(10, 0, 0, 0),
                    prefix: 8,
                    gateway: Ipv4Addr::new(192, 168, 4, 253)
                }
            ]
        );
        assert!(parse_push_routes("10.0.0.0/33/1.2.3.4").is_err());
        assert!(parse_push_routes("10.0.0.0/255.0.255.0/1.2.3.4").is_err());
        assert!(parse_push_routes("10.0.0.0/8").is_err());
        let many = vec!["10.0.0.0/8/1.1.1.1"; MAX_PUSH_ROUTES + 1].join(",");
        assert!(parse_push_routes(&many).is_err());
        assert!(parse_push_routes(&"x".repeat(MAX_PUSH_ROUTES_STR + 1)).is_err());
    }

    #[test]
    fn validate_refuses_bad_values() {
        let mut o = VhOption {
            mac: [1, 2, 3, 4, 5, 6],
            ..VhOption::default()
        };
        assert!(o.validate().is_err());
        o = VhOption {
            dhcp_lease_ip_start: Ipv4Addr::new(192, 168, 30, 201),
            ..VhOption::default()
        };
        assert!(o.validate().is_err());
        o = VhOption {
            mtu: 9000,
            ..VhOption::default()
        };
        assert!(o.validate().is_err());
        assert_eq!(mask_prefix(Ipv4Addr::new(255, 255, 254, 0)), Some(23));
        assert_eq!(mask_prefix(Ipv4Addr::new(0, 0, 0, 0)), Some(0));
        assert_eq!(mask_prefix(Ipv4Addr::new(255, 0, 255, 0)), None);
    }
}
