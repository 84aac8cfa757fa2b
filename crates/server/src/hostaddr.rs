//! This machine's own IP addresses: the "local administrator" rule of the
//! admin login and the rule that a hub administrator's cascade may not
//! connect to this server itself (issue 9 item 4, SECURITY.md).

use std::net::IpAddr;

/// Every IP address of the machine's (network namespace's) interfaces,
/// from `getifaddrs(3)`; empty if the list cannot be read.
#[cfg(unix)]
pub fn local_addrs() -> Vec<IpAddr> {
    let Ok(list) = nix::ifaddrs::getifaddrs() else {
        return Vec::new();
    };
    list.filter_map(|ifa| {
        let a = ifa.address?;
        if let Some(v4) = a.as_sockaddr_in() {
            Some(IpAddr::V4(v4.ip()))
        } else {
            a.as_sockaddr_in6().map(|v6| IpAddr::V6(v6.ip()))
        }
    })
    .collect()
}

/// Every IP address of the machine's interfaces (not available here:
/// only loopback and the connection's own address count as local).
#[cfg(not(unix))]
pub fn local_addrs() -> Vec<IpAddr> {
    Vec::new()
}

/// `ip` with an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) as IPv4.
pub fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// True if a connection to `ip` reaches this machine: loopback
/// (127.0.0.0/8, `::1`, also IPv4-mapped), unspecified (`0.0.0.0`, `::`,
/// which Linux connects to the local host) or one of `own` (the
/// interface addresses, [`local_addrs`]).
pub fn is_this_host(ip: IpAddr, own: &[IpAddr]) -> bool {
    let ip = canonical(ip);
    ip.is_loopback() || ip.is_unspecified() || own.iter().any(|a| canonical(*a) == ip)
}

/// This machine's host name, if the platform tells it (`gethostname`; on
/// Windows `COMPUTERNAME`).
#[cfg(unix)]
pub fn host_name() -> Option<String> {
    nix::unistd::gethostname().ok()?.into_string().ok()
}

/// This machine's host name, if the platform tells it (`gethostname`; on
/// Windows `COMPUTERNAME`).
#[cfg(not(unix))]
pub fn host_name() -> Option<String> {
    std::env::var("COMPUTERNAME").ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_host_addresses() {
        let own: Vec<IpAddr> = vec!["10.1.2.3".parse().unwrap(), "fd00::5".parse().unwrap()];
        for a in [
            "127.0.0.1",
            "127.9.8.7",
            "::1",
            "::ffff:127.0.0.1",
            "0.0.0.0",
            "::",
            "10.1.2.3",
            "::ffff:10.1.2.3",
            "fd00::5",
        ] {
            assert!(is_this_host(a.parse().unwrap(), &own), "{a}");
        }
        for a in ["10.1.2.4", "192.0.2.1", "fd00::6", "::ffff:192.0.2.1"] {
            assert!(!is_this_host(a.parse().unwrap(), &own), "{a}");
        }
    }
}
