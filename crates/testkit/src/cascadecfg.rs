//! Cascade connections and VPN Bridge configurations in SoftEther's format,
//! on top of [`crate::seconfig`].
//!
//! A cascade is a folder `CascadeList/Cascade<N>` of a hub with the items
//! `Online`, `CheckServerCert` and the subfolders `ClientAuth`,
//! `ClientOption` and `Policy` (SoftEther skips a cascade without `Policy`
//! on load). Key names, types and the cascade policy subset are those a
//! file written by SoftEther 5.01 build 9674 contains (SoftEther
//! `src/Cedar/Server.c` `SiWriteHubLinkCfg`, `SiWriteClientOption`,
//! `SiWriteClientAuth`, `SiWritePolicyCfg`; docs/config-format.md §7.10).
//!
//! The password is stored as `ClientAuth { uint AuthType 1; byte
//! HashedPassword <base64 SHA-0(password ‖ UPPER(username))> }`, which the
//! real server, the real vpnbridge and ours all read.
//!
//! UDP acceleration of the cascade is off (`NoUdpAcceleration true`) so the
//! real programs never start their UDP/NAT-traversal machinery for it.

use std::net::SocketAddrV4;

use anyhow::{bail, ensure, Result};
use base64::Engine as _;

use crate::seconfig::{BridgeSpec, HubSpec, ServerConfigSpec, UserSpec};
use crate::sha0::password_hash;

/// The one hub of a VPN Bridge (docs/process-model.md §10).
pub const BRIDGE_HUB: &str = "BRIDGE";

/// One cascade connection of a hub to a hub of a remote VPN Server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CascadeSpec {
    /// Cascade name (`ClientOption/AccountName`), unique per hub.
    pub name: String,
    /// Remote server address (an IP literal: no name lookups in the lab).
    pub server: SocketAddrV4,
    /// Remote virtual hub.
    pub hub: String,
    /// Remote user and password (password authentication, stored hashed).
    pub user: UserSpec,
    /// `MaxConnection`: TCP connections (1..=32, SoftEther's default 8).
    pub max_connection: u32,
    /// `RetryInterval` in seconds (SoftEther's default 10; it clamps to ≥ 5).
    pub retry_interval_secs: u32,
    /// `UseEncrypt`.
    pub use_encrypt: bool,
    /// `Online`: the cascade starts with the hub.
    pub online: bool,
}

impl CascadeSpec {
    /// An online cascade with SoftEther's defaults (8 connections, retry
    /// every 10 s, encryption on).
    pub fn new(name: &str, server: SocketAddrV4, hub: &str, user: &UserSpec) -> CascadeSpec {
        CascadeSpec {
            name: name.into(),
            server,
            hub: hub.into(),
            user: user.clone(),
            max_connection: 8,
            retry_interval_secs: 10,
            use_encrypt: true,
            online: true,
        }
    }

    /// The folder `Cascade<index>`, indented by `depth` tabs.
    ///
    /// Errors: a name the format cannot carry, or `max_connection` outside 1..=32.
    pub fn render(&self, index: usize, depth: usize) -> Result<String> {
        check_word("cascade", &self.name)?;
        check_word("remote hub", &self.hub)?;
        check_word("user", &self.user.name)?;
        ensure!(
            (1..=32).contains(&self.max_connection),
            "cascade {}: MaxConnection must be 1..=32, got {}",
            self.name,
            self.max_connection
        );
        let t = "\t".repeat(depth);
        let hash = base64::engine::general_purpose::STANDARD
            .encode(password_hash(&self.user.name, &self.user.password));
        let mut o = String::new();
        o.push_str(&format!("{t}declare Cascade{index}\n{t}{{\n"));
        o.push_str(&format!(
            "{t}\tbool CheckServerCert false\n{t}\tbool Online {}\n\n",
            self.online
        ));
        o.push_str(&format!(
            "{t}\tdeclare ClientAuth\n{t}\t{{\n\
             {t}\t\tuint AuthType 1\n\
             {t}\t\tbyte HashedPassword {hash}\n\
             {t}\t\tstring Username {}\n{t}\t}}\n",
            self.user.name
        ));
        let opts: Vec<(&str, String)> = vec![
            ("string AccountName", self.name.clone()),
            ("uint AdditionalConnectionInterval", "1".into()),
            ("uint ConnectionDisconnectSpan", "0".into()),
            ("string CustomHttpHeader", "$".into()),
            ("string DeviceName", "_SEHUBLINKCLI_".into()),
            ("bool DisableQoS", "false".into()),
            ("bool HalfConnection", "false".into()),
            ("bool HideNicInfoWindow", "false".into()),
            ("bool HideStatusWindow", "false".into()),
            ("string Hostname", self.server.ip().to_string()),
            ("string HubName", self.hub.clone()),
            ("uint MaxConnection", self.max_connection.to_string()),
            ("bool NoRoutingTracking", "true".into()),
            ("bool NoUdpAcceleration", "true".into()),
            ("uint NumRetry", u32::MAX.to_string()),
            ("uint Port", self.server.port().to_string()),
            ("uint PortUDP", "0".into()),
            ("string ProxyName", "$".into()),
            ("byte ProxyPassword", "$".into()),
            ("uint ProxyPort", "0".into()),
            ("uint ProxyType", "0".into()),
            ("string ProxyUsername", "$".into()),
            ("bool RequireBridgeRoutingMode", "true".into()),
            ("bool RequireMonitorMode", "false".into()),
            ("uint RetryInterval", self.retry_interval_secs.to_string()),
            ("bool UseCompress", "false".into()),
            ("bool UseEncrypt", self.use_encrypt.to_string()),
        ];
        o.push_str(&format!("{t}\tdeclare ClientOption\n{t}\t{{\n"));
        for (k, v) in opts {
            o.push_str(&format!("{t}\t\t{k} {v}\n"));
        }
        o.push_str(&format!("{t}\t}}\n{t}\tdeclare Policy\n{t}\t{{\n"));
        // The cascade subset of the one policy table, all off/0, as
        // SoftEther 5.01 writes it.
        for d in rustether_proto::softether::policy::config_keys().filter(|d| d.for_cascade) {
            let k = d.name;
            if d.is_bool() {
                o.push_str(&format!("{t}\t\tbool {k} false\n"));
            } else {
                o.push_str(&format!("{t}\t\tuint {k} 0\n"));
            }
        }
        o.push_str(&format!("{t}\t}}\n{t}}}\n"));
        Ok(o)
    }
}

/// The folder `CascadeList` with `cascades`, indented by `depth` tabs.
///
/// Errors: as [`CascadeSpec::render`], or two cascades with the same name
/// (case-insensitive, as SoftEther compares them).
pub fn render_cascade_list(cascades: &[CascadeSpec], depth: usize) -> Result<String> {
    let t = "\t".repeat(depth);
    let mut o = format!("{t}declare CascadeList\n{t}{{\n");
    for (i, c) in cascades.iter().enumerate() {
        if cascades[..i]
            .iter()
            .any(|d| d.name.eq_ignore_ascii_case(&c.name))
        {
            bail!("two cascades named {:?}", c.name);
        }
        o.push_str(&c.render(i, depth + 1)?);
    }
    o.push_str(&format!("{t}}}\n"));
    Ok(o)
}

/// Insert a `CascadeList` with `cascades` into hub `hub` of a configuration
/// text rendered by [`ServerConfigSpec::render`] (right after the hub
/// folder's opening brace; SoftEther reads folders in any order).
///
/// Errors: the hub folder is not found, already has a `CascadeList`, or a
/// cascade cannot be rendered.
pub fn insert_cascades(config: &str, hub: &str, cascades: &[CascadeSpec]) -> Result<String> {
    let Some(vh) = config.find("\tdeclare VirtualHUB\n") else {
        bail!("the configuration has no VirtualHUB folder");
    };
    let header = format!("\t\tdeclare {hub}\n");
    let Some(rel) = config[vh..].find(&header) else {
        bail!("the configuration has no hub folder {hub:?}");
    };
    let hub_start = vh + rel;
    let after_header = hub_start + header.len();
    let Some(brace_rel) = config[after_header..].find("{\n") else {
        bail!("hub folder {hub:?} has no opening brace");
    };
    let insert_at = after_header + brace_rel + 2;
    // The hub folder ends at the first line that is exactly "\t\t}".
    let hub_end = config[insert_at..]
        .find("\n\t\t}\n")
        .map(|e| insert_at + e)
        .unwrap_or(config.len());
    ensure!(
        !config[insert_at..hub_end].contains("declare CascadeList"),
        "hub {hub:?} already has a CascadeList"
    );
    let list = render_cascade_list(cascades, 3)?;
    let mut out = String::with_capacity(config.len() + list.len());
    out.push_str(&config[..insert_at]);
    out.push_str(&list);
    out.push_str(&config[insert_at..]);
    Ok(out)
}

/// A `vpn_bridge.config` (or a server configuration with one hub
/// `BRIDGE`): listener `port`, the hub [`BRIDGE_HUB`] without users, an
/// optional local bridge to `lan`, and `cascades`. Every internet feature
/// is off as in [`ServerConfigSpec`].
///
/// Errors: as [`ServerConfigSpec::render`] and [`insert_cascades`].
pub fn bridge_config(
    port: u16,
    lan: Option<BridgeSpec>,
    cascades: &[CascadeSpec],
) -> Result<String> {
    hub_config_with_cascades(port, BRIDGE_HUB, &[], lan, cascades)
}

/// A server configuration with one hub `hub` (its `users`, optional local
/// bridge `lan`) whose `CascadeList` holds `cascades`.
///
/// Errors: as [`ServerConfigSpec::render`] and [`insert_cascades`].
pub fn hub_config_with_cascades(
    port: u16,
    hub: &str,
    users: &[UserSpec],
    lan: Option<BridgeSpec>,
    cascades: &[CascadeSpec],
) -> Result<String> {
    let spec = ServerConfigSpec {
        ports: vec![port],
        hubs: vec![HubSpec {
            name: hub.into(),
            users: users.to_vec(),
            bridge: lan,
        }],
    };
    let text = spec.render()?;
    if cascades.is_empty() {
        return Ok(text);
    }
    insert_cascades(&text, hub, cascades)
}

fn check_word(what: &str, s: &str) -> Result<()> {
    ensure!(
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && b != b'{' && b != b'}' && b != b'$'),
        "{what} name {s:?} must be printable ASCII without spaces, braces or `$`"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn spec() -> CascadeSpec {
        CascadeSpec::new(
            "casc1",
            SocketAddrV4::new(Ipv4Addr::new(10, 231, 0, 1), 5555),
            "DEFAULT",
            &UserSpec::new("test", "testpass"),
        )
    }

    /// Depth of `declare X` in `text`: the number of folders open at that line.
    fn folder_path(text: &str, name: &str) -> Vec<String> {
        let mut stack: Vec<String> = Vec::new();
        let mut pending = None;
        for line in text.lines() {
            let l = line.trim();
            if let Some(n) = l.strip_prefix("declare ") {
                pending = Some(n.to_string());
                if n == name {
                    let mut p = stack.clone();
                    p.push(n.to_string());
                    return p;
                }
            } else if l == "{" {
                stack.push(pending.take().unwrap_or_default());
            } else if l == "}" {
                stack.pop();
            }
        }
        Vec::new()
    }

    #[test]
    fn cascade_folder_has_the_keys_softether_needs() {
        let t = spec().render(0, 0).unwrap();
        for needle in [
            "declare Cascade0\n{\n",
            "\tbool Online true\n",
            "\tbool CheckServerCert false\n",
            "\t\tuint AuthType 1\n",
            // base64 of SHA-0("testpass" || "TEST") = 187c05b7...645b
            "\t\tbyte HashedPassword GHwFtz8kQ8EKhGQYo+UxYv4AZFs=\n",
            "\t\tstring Username test\n",
            "\t\tstring Hostname 10.231.0.1\n",
            "\t\tuint Port 5555\n",
            "\t\tstring HubName DEFAULT\n",
            "\t\tstring AccountName casc1\n",
            "\t\tuint MaxConnection 8\n",
            "\t\tuint RetryInterval 10\n",
            "\t\tbool NoUdpAcceleration true\n",
            "\t\tstring DeviceName _SEHUBLINKCLI_\n",
            "\tdeclare Policy\n",
            "\t\tbool CheckMac false\n",
            "\t\tuint VLanId 0\n",
        ] {
            assert!(t.contains(needle), "missing {needle:?} in\n{t}");
        }
        assert_eq!(t.matches('{').count(), t.matches('}').count());
    }

    #[test]
    fn bad_cascades_are_refused() {
        let mut s = spec();
        s.max_connection = 0;
        assert!(s.render(0, 0).is_err());
        let mut s = spec();
        s.name = "a b".into();
        assert!(s.render(0, 0).is_err());
        let mut twin = spec();
        twin.name = "CASC1".into();
        assert!(render_cascade_list(&[spec(), twin], 0).is_err());
    }

    #[test]
    fn cascades_land_inside_the_hub() {
        let lan = BridgeSpec {
            device: "lanbr".into(),
            tap_mode: false,
        };
        let t = bridge_config(5555, Some(lan), &[spec()]).unwrap();
        assert_eq!(
            folder_path(&t, "CascadeList"),
            ["root", "VirtualHUB", "BRIDGE", "CascadeList"]
        );
        assert_eq!(
            folder_path(&t, "ClientAuth"),
            [
                "root",
                "VirtualHUB",
                "BRIDGE",
                "CascadeList",
                "Cascade0",
                "ClientAuth"
            ]
        );
        assert_eq!(
            folder_path(&t, "LocalBridge0"),
            ["root", "LocalBridgeList", "LocalBridge0"]
        );
        assert!(t.contains("string DeviceName lanbr\n"));
        assert!(t.contains("string HubName BRIDGE\n"));
        assert!(t.contains("bool UseKeepConnect false"));
        assert!(t.contains("bool DisableNatTraversal true"));
        assert_eq!(t.matches('{').count(), t.matches('}').count());
        // A second list in the same hub is refused.
        assert!(insert_cascades(&t, BRIDGE_HUB, &[spec()]).is_err());
        assert!(insert_cascades(&t, "NOSUCH", &[spec()]).is_err());
    }

    #[test]
    fn server_hub_with_users_and_cascades() {
        let t = hub_config_with_cascades(
            5555,
            "DEFAULT",
            &[UserSpec::new("u1", "p")],
            None,
            &[spec()],
        )
        .unwrap();
        let opens = t.lines().filter(|l| l.trim() == "{").count();
        let closes = t.lines().filter(|l| l.trim() == "}").count();
        assert_eq!(opens, closes);
        assert_eq!(
            folder_path(&t, "Cascade0"),
            ["root", "VirtualHUB", "DEFAULT", "CascadeList", "Cascade0"]
        );
        assert_eq!(
            folder_path(&t, "u1"),
            [
                "root",
                "VirtualHUB",
                "DEFAULT",
                "SecurityAccountDatabase",
                "UserList",
                "u1"
            ]
        );
    }
}
