//! Writer for a SoftEther-format `vpn_server.config`, read by both the real
//! SoftEther vpnserver and ours.
//!
//! Every feature that would talk to the internet is switched off before the
//! server ever starts: keep-alive (`UseKeepConnect false`, host 127.0.0.1),
//! dynamic DNS (`DDnsClient { Disabled true }`, which also keeps VPN Azure
//! off), `DisableNatTraversal true`, `EnableVpnAzure false`, VPN over
//! DNS/ICMP off, no reverse DNS on accept, no UDP ports, OpenVPN/SSTP off,
//! JSON-RPC/web UI off. Layout and names as in a file written by SoftEther
//! 5.01 (src/Cedar/Server.c `SiWriteConfigurationToCfg`).

use std::path::Path;

use anyhow::{ensure, Context, Result};
use base64::Engine as _;

use crate::sha0::password_hash;

/// A password-authenticated user of a hub (`AuthType 1`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSpec {
    /// Login name (ASCII, no whitespace).
    pub name: String,
    /// Plain password; stored as SHA-0(password ‖ UPPER(name)).
    pub password: String,
}

impl UserSpec {
    /// Convenience constructor.
    pub fn new(name: &str, password: &str) -> UserSpec {
        UserSpec {
            name: name.into(),
            password: password.into(),
        }
    }
}

/// A local bridge from a hub to a network device of the server's namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeSpec {
    /// Device name (e.g. a veth end), ≤ 11 bytes for tap mode.
    pub device: String,
    /// `TapMode true`: the server creates `tap_<device>` instead of opening the device.
    pub tap_mode: bool,
}

/// A virtual hub with its users.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HubSpec {
    /// Hub name, e.g. `DEFAULT`.
    pub name: String,
    /// Password users of this hub.
    pub users: Vec<UserSpec>,
    /// Optional local bridge of this hub.
    pub bridge: Option<BridgeSpec>,
}

/// What goes into the configuration file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerConfigSpec {
    /// TCP listener ports (the tests use only 5555).
    pub ports: Vec<u16>,
    /// Hubs; empty = a "minimal" file with no hub section at all.
    pub hubs: Vec<HubSpec>,
}

impl ServerConfigSpec {
    /// One listener `port`, no hub.
    pub fn minimal(port: u16) -> ServerConfigSpec {
        ServerConfigSpec {
            ports: vec![port],
            hubs: Vec::new(),
        }
    }

    /// One listener `port`, hub `hub` with `users`.
    pub fn with_hub(port: u16, hub: &str, users: &[UserSpec]) -> ServerConfigSpec {
        ServerConfigSpec {
            ports: vec![port],
            hubs: vec![HubSpec {
                name: hub.into(),
                users: users.to_vec(),
                bridge: None,
            }],
        }
    }

    /// Render the file text (UTF-8 with BOM, tab-indented, as SoftEther writes it).
    ///
    /// Errors: a name that the format cannot carry (empty, whitespace).
    pub fn render(&self) -> Result<String> {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0);
        self.render_at(now_ms)
    }

    /// As [`ServerConfigSpec::render`], with a fixed timestamp (ms since the epoch).
    pub fn render_at(&self, now_ms: u64) -> Result<String> {
        ensure!(!self.ports.is_empty(), "at least one listener port");
        let mut o = String::new();
        o.push('\u{feff}');
        o.push_str("# SoftEther-format VPN server configuration written by rustether-testkit\n");
        o.push_str("declare root\n{\n");
        o.push_str(
            "\tuint ConfigRevision 0\n\tbool IPsecMessageDisplayed true\n\tstring Region $\n\n",
        );
        o.push_str("\tdeclare DDnsClient\n\t{\n\t\tbool Disabled true\n\t\tstring LocalHostname rustether-test\n\t}\n");
        let l2tp_hub = self
            .hubs
            .first()
            .map(|h| h.name.as_str())
            .unwrap_or("DEFAULT");
        o.push_str(&format!(
            "\tdeclare IPsec\n\t{{\n\t\tbool EtherIP_IPsec false\n\t\tstring IPsec_Secret rustether\n\t\t\
             string L2TP_DefaultHub {l2tp_hub}\n\t\tbool L2TP_IPsec false\n\t\tbool L2TP_Raw false\n\t}}\n"
        ));
        o.push_str("\tdeclare ListenerList\n\t{\n");
        for (i, p) in self.ports.iter().enumerate() {
            o.push_str(&format!(
                "\t\tdeclare Listener{i}\n\t\t{{\n\t\t\tbool DisableDos false\n\t\t\tbool Enabled true\n\t\t\tuint Port {p}\n\t\t}}\n"
            ));
        }
        o.push_str("\t}\n");
        o.push_str("\tdeclare LocalBridgeList\n\t{\n\t\tbool DoNotDisableOffloading false\n");
        let mut nb = 0;
        for h in &self.hubs {
            check_name("hub", &h.name)?;
            if let Some(b) = &h.bridge {
                check_name("bridge device", &b.device)?;
                o.push_str(&format!(
                    "\n\t\tdeclare LocalBridge{nb}\n\t\t{{\n\t\t\tstring DeviceName {}\n\t\t\tstring HubName {}\n\
                     \t\t\tbool LimitBroadcast false\n\t\t\tbool MonitorMode false\n\t\t\tbool NoPromiscuousMode false\n\
                     \t\t\tstring TapMacAddress $\n\t\t\tbool TapMode {}\n\t\t}}\n",
                    b.device, h.name, b.tap_mode
                ));
                nb += 1;
            }
        }
        o.push_str("\t}\n");
        o.push_str(
            "\tdeclare ServerConfiguration\n\t{\n\
             \t\tbool BackupConfigOnlyWhenModified true\n\
             \t\tstring CipherName ~DEFAULT~\n\
             \t\tbool DisableGetHostNameWhenAcceptTcp true\n\
             \t\tbool DisableJsonRpcWebApi true\n\
             \t\tbool DisableNatTraversal true\n\
             \t\tbool DontBackupConfig true\n\
             \t\tbool EnableVpnAzure false\n\
             \t\tbool EnableVpnOverDns false\n\
             \t\tbool EnableVpnOverIcmp false\n\
             \t\tstring KeepConnectHost 127.0.0.1\n\
             \t\tuint KeepConnectInterval 50\n\
             \t\tuint KeepConnectPort 80\n\
             \t\tuint KeepConnectProtocol 1\n\
             \t\tstring ListenIP 0.0.0.0\n\
             \t\tstring PortsUDP $\n\
             \t\tuint ServerType 0\n\
             \t\tbool UseKeepConnect false\n\
             \t\tbool UseWebTimePage false\n\
             \t\tbool UseWebUI false\n\n\
             \t\tdeclare Proto\n\t\t{\n\
             \t\t\tdeclare OpenVPN\n\t\t\t{\n\t\t\t\tbool Enabled false\n\t\t\t}\n\
             \t\t\tdeclare SSTP\n\t\t\t{\n\t\t\t\tbool Enabled false\n\t\t\t}\n\
             \t\t}\n\t}\n",
        );
        if !self.hubs.is_empty() {
            o.push_str("\tdeclare VirtualHUB\n\t{\n");
            for h in &self.hubs {
                o.push_str(&format!(
                    "\t\tdeclare {}\n\t\t{{\n\t\t\tbool Online true\n\t\t\tuint Type 0\n\n",
                    h.name
                ));
                o.push_str(
                    "\t\t\tdeclare Option\n\t\t\t{\n\
                     \t\t\t\tuint AccessListIncludeFileCacheLifetime 30\n\
                     \t\t\t\tuint FloodingSendQueueBufferQuota 33554432\n\
                     \t\t\t\tbool ManageOnlyLocalUnicastIPv6 true\n\
                     \t\t\t\tbool ManageOnlyPrivateIP true\n\
                     \t\t\t\tbool NoDhcpPacketLogOutsideHub true\n\
                     \t\t\t\tbool NoIPv6DefaultRouterInRAWhenIPv6 true\n\
                     \t\t\t\tbool NoMacAddressLog true\n\
                     \t\t\t\tbool RemoveDefGwOnDhcpForLocalhost true\n\
                     \t\t\t\tstring VlanTypeId 0x8100\n\t\t\t}\n\
                     \t\t\tdeclare LogSetting\n\t\t\t{\n\
                     \t\t\t\tuint PacketLogSwitchType 4\n\
                     \t\t\t\tuint PACKET_LOG_DHCP 1\n\
                     \t\t\t\tuint PACKET_LOG_TCP_CONN 1\n\
                     \t\t\t\tbool SavePacketLog true\n\
                     \t\t\t\tbool SaveSecurityLog true\n\
                     \t\t\t\tuint SecurityLogSwitchType 4\n\t\t\t}\n\
                     \t\t\tdeclare SecureNAT\n\t\t\t{\n\t\t\t\tbool Disabled true\n\t\t\t}\n\
                     \t\t\tdeclare SecurityAccountDatabase\n\t\t\t{\n\
                     \t\t\t\tdeclare UserList\n\t\t\t\t{\n",
                );
                for u in &h.users {
                    check_name("user", &u.name)?;
                    let hash = base64::engine::general_purpose::STANDARD
                        .encode(password_hash(&u.name, &u.password));
                    o.push_str(&format!(
                        "\t\t\t\t\tdeclare {}\n\t\t\t\t\t{{\n\
                         \t\t\t\t\t\tbyte AuthPassword {hash}\n\
                         \t\t\t\t\t\tuint AuthType 1\n\
                         \t\t\t\t\t\tuint64 CreatedTime {now_ms}\n\
                         \t\t\t\t\t\tuint64 ExpireTime 0\n\
                         \t\t\t\t\t\tstring Note $\n\
                         \t\t\t\t\t\tstring RealName $\n\
                         \t\t\t\t\t\tuint64 UpdatedTime {now_ms}\n\
                         \t\t\t\t\t}}\n",
                        u.name
                    ));
                }
                o.push_str("\t\t\t\t}\n\t\t\t}\n\t\t}\n");
            }
            o.push_str("\t}\n");
        }
        o.push_str("}\n");
        Ok(o)
    }

    /// Write the file (mode 0600), replacing any existing one.
    ///
    /// Errors: rendering or writing fails.
    pub fn write_to(&self, path: &Path) -> Result<()> {
        use std::os::unix::fs::PermissionsExt;
        let text = self.render()?;
        if let Some(d) = path.parent() {
            std::fs::create_dir_all(d).with_context(|| format!("cannot create {}", d.display()))?;
        }
        std::fs::write(path, text).with_context(|| format!("cannot write {}", path.display()))?;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        Ok(())
    }
}

fn check_name(what: &str, s: &str) -> Result<()> {
    ensure!(
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_graphic() && b != b'{' && b != b'}'),
        "{what} name {s:?} must be printable ASCII without spaces or braces"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn internet_features_are_off() {
        let t = ServerConfigSpec::minimal(5555).render_at(0).unwrap();
        for needle in [
            "bool UseKeepConnect false",
            "string KeepConnectHost 127.0.0.1",
            "bool DisableNatTraversal true",
            "bool EnableVpnAzure false",
            "bool DisableJsonRpcWebApi true",
            "string PortsUDP $",
            "bool EnableVpnOverDns false",
            "bool EnableVpnOverIcmp false",
        ] {
            assert!(t.contains(needle), "missing {needle}");
        }
        let ddns = t.find("declare DDnsClient").unwrap();
        assert!(t[ddns..]
            .trim_start_matches("declare DDnsClient")
            .contains("bool Disabled true"));
        assert!(!t.contains("VirtualHUB"));
        assert!(t.starts_with('\u{feff}'));
        assert!(t.contains("uint Port 5555"));
        // Braces balance.
        assert_eq!(t.matches('{').count(), t.matches('}').count());
    }

    #[test]
    fn users_carry_softether_hashes() {
        let spec =
            ServerConfigSpec::with_hub(5555, "DEFAULT", &[UserSpec::new("test", "testpass")]);
        let t = spec.render_at(1).unwrap();
        // base64 of 187c05b73f2443c10a846418a3e53162fe00645b
        assert!(
            t.contains("byte AuthPassword GHwFtz8kQ8EKhGQYo+UxYv4AZFs="),
            "{t}"
        );
        assert!(t.contains("\t\tdeclare DEFAULT\n"));
        assert!(t.contains("uint AuthType 1"));
        assert_eq!(t.matches('{').count(), t.matches('}').count());
    }

    #[test]
    fn bad_names_rejected() {
        let spec = ServerConfigSpec::with_hub(5555, "DEF AULT", &[]);
        assert!(spec.render_at(0).is_err());
        let spec = ServerConfigSpec::with_hub(5555, "H", &[UserSpec::new("a}", "p")]);
        assert!(spec.render_at(0).is_err());
    }
}
