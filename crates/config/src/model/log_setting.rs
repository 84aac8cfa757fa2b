//! Log settings: a hub's `LogSetting` folder and the server's
//! `ServerConfiguration/SyslogSettings` (docs/config-format.md §7.6, §7.7;
//! `SiLoadHubLogCfg`, `SiWriteHubLogCfg`, `SiLoadServerCfg` in
//! src/Cedar/Server.c). Both live in the `raw` folders, so a SoftEther
//! file carrying them loads and is written back unchanged.

use super::{HubConfig, ServerSettings};

/// Config key of each packet kind, in `PacketLogConfig` order
/// (`PACKET_LOG_TCP_CONN` = 0 … `PACKET_LOG_ETHERNET` = 7, src/Cedar/Cedar.h).
pub const PACKET_LOG_KEYS: [&str; 8] = [
    "PACKET_LOG_TCP_CONN",
    "PACKET_LOG_TCP",
    "PACKET_LOG_DHCP",
    "PACKET_LOG_UDP",
    "PACKET_LOG_ICMP",
    "PACKET_LOG_IP",
    "PACKET_LOG_ARP",
    "PACKET_LOG_ETHERNET",
];

/// A hub's log settings (`HUB_LOG`, src/Cedar/Logging.h). A missing
/// folder or key reads as 0/false, as `SiLoadHubLogCfg` (nothing logged).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HubLogSetting {
    /// `SaveSecurityLog`.
    pub save_security_log: bool,
    /// `SecurityLogSwitchType`: 0 none, 1 second, 2 minute, 3 hour, 4 day,
    /// 5 month (`LOG_SWITCH_*`).
    pub security_log_switch_type: u32,
    /// `SavePacketLog`.
    pub save_packet_log: bool,
    /// `PacketLogSwitchType` (`LOG_SWITCH_*`).
    pub packet_log_switch_type: u32,
    /// Level per packet kind ([`PACKET_LOG_KEYS`]): 0 none, 1 header, 2
    /// whole packet.
    pub packet_log_config: [u32; 8],
}

impl HubLogSetting {
    /// SoftEther's settings of a new hub (`SiSetDefaultLogSetting`):
    /// security and packet logs daily, TCP connections and DHCP headers.
    pub fn softether_default() -> HubLogSetting {
        let mut cfg = [0; 8];
        cfg[0] = 1;
        cfg[2] = 1;
        HubLogSetting {
            save_security_log: true,
            security_log_switch_type: 4,
            save_packet_log: true,
            packet_log_switch_type: 4,
            packet_log_config: cfg,
        }
    }
}

impl HubConfig {
    /// The hub's `LogSetting`.
    pub fn log_setting(&self) -> HubLogSetting {
        let Some(f) = self.raw.folder("LogSetting") else {
            return HubLogSetting::default();
        };
        let mut cfg = [0u32; 8];
        for (c, k) in cfg.iter_mut().zip(PACKET_LOG_KEYS) {
            *c = f.get_uint(k).unwrap_or(0);
        }
        HubLogSetting {
            save_security_log: f.get_bool("SaveSecurityLog").unwrap_or(false),
            security_log_switch_type: f.get_uint("SecurityLogSwitchType").unwrap_or(0),
            save_packet_log: f.get_bool("SavePacketLog").unwrap_or(false),
            packet_log_switch_type: f.get_uint("PacketLogSwitchType").unwrap_or(0),
            packet_log_config: cfg,
        }
    }

    /// Stores `s` as the hub's `LogSetting`.
    pub fn set_log_setting(&mut self, s: &HubLogSetting) {
        let f = self.raw.folder_or_insert("LogSetting");
        f.set_bool("SaveSecurityLog", s.save_security_log);
        f.set_uint("SecurityLogSwitchType", s.security_log_switch_type);
        f.set_bool("SavePacketLog", s.save_packet_log);
        f.set_uint("PacketLogSwitchType", s.packet_log_switch_type);
        for (v, k) in s.packet_log_config.iter().zip(PACKET_LOG_KEYS) {
            f.set_uint(k, *v);
        }
    }
}

/// Syslog forwarding (`SYSLOG_SETTING`, src/Cedar/Server.h).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SyslogSetting {
    /// `SaveType`: 0 off, 1 server log, 2 also hub security logs, 3 also
    /// packet logs (`SYSLOG_*`, src/Cedar/Cedar.h).
    pub save_type: u32,
    /// `HostName` of the syslog server.
    pub host_name: String,
    /// UDP `Port` of the syslog server.
    pub port: u32,
}

impl ServerSettings {
    /// `SyslogSettings` (off when missing).
    pub fn syslog(&self) -> SyslogSetting {
        let Some(f) = self.raw.folder("SyslogSettings") else {
            return SyslogSetting::default();
        };
        SyslogSetting {
            save_type: f.get_uint("SaveType").unwrap_or(0),
            host_name: f.get_str("HostName").unwrap_or("").to_owned(),
            port: f.get_uint("Port").unwrap_or(0),
        }
    }

    /// Stores `SyslogSettings`.
    pub fn set_syslog(&mut self, s: &SyslogSetting) {
        let f = self.raw.folder_or_insert("SyslogSettings");
        f.set_uint("SaveType", s.save_type);
        f.set_str("HostName", &s.host_name);
        f.set_uint("Port", s.port);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_hub_has_softether_default_and_settings_round_trip() {
        let mut rng = rand::thread_rng();
        let mut h = HubConfig::new("H", 0, &mut rng);
        assert_eq!(h.log_setting(), HubLogSetting::softether_default());
        let mut s = h.log_setting();
        s.save_packet_log = false;
        s.packet_log_config[4] = 2;
        h.set_log_setting(&s);
        assert_eq!(h.log_setting(), s);
        assert_eq!(
            h.raw
                .folder("LogSetting")
                .unwrap()
                .get_uint("PACKET_LOG_ICMP"),
            Some(2)
        );
        h.raw = crate::cfg::Folder::new("H");
        assert_eq!(h.log_setting(), HubLogSetting::default());
    }
}
