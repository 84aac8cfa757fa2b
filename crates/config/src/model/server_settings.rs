//! `ServerConfiguration` (docs/config-format.md §7.6; `SiLoadServerCfg`,
//! `SiWriteServerCfg` in `src/Cedar/Server.c`), declared once with
//! [`cfg_struct!`](super::fields).

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use super::fields::cfg_struct;
use super::{b, empty_password_hash, folder_with, s, u, zero_traffic, Rd};
use crate::cfg::{CfgValue, Folder};
use crate::error::ConfigError;

/// Default of `LogRetentionDays` ([`ServerSettings::log_retention_days`]).
pub const DEFAULT_LOG_RETENTION_DAYS: u32 = 90;
/// Default of `LogMaxTotalSize`, bytes (4 GiB,
/// [`ServerSettings::log_max_total_size`]).
pub const DEFAULT_LOG_MAX_TOTAL_SIZE: u64 = 4 << 30;

/// Default of `MaxCascadesPerHub` ([`ServerSettings::max_cascades_per_hub`]).
pub const DEFAULT_MAX_CASCADES_PER_HUB: u32 = 32;

/// Default of `AdminIdleTimeout`, seconds (15 minutes,
/// [`ServerSettings::admin_idle_timeout`]).
pub const DEFAULT_ADMIN_IDLE_TIMEOUT_SECS: u32 = 15 * 60;

cfg_struct! {
    /// `ServerConfiguration` (docs/config-format.md §7.6). A missing key
    /// reads as the value declared here (SoftEther's `SiLoadServerCfg`
    /// defaults); a new installation gets those of [`ServerConfig::initial`](super::ServerConfig::initial).
    #[derive(Clone, Debug, PartialEq)]
    pub struct ServerSettings {
        /// Server admin password, SHA-0(password); missing = the empty
        /// password SHA-0("") ([`empty_password_hash`]); a wrong length is
        /// an error.
        hashed_password: [u8; 20] = "HashedPassword" or empty_password_hash(),
        /// DER X.509 certificate; empty = not yet generated.
        server_cert_der: Vec<u8> = "ServerCert" or Vec::new(),
        /// DER private key as stored (SoftEther: PKCS#1 `RSAPrivateKey`;
        /// ours: whatever DER the server generated); empty = not yet
        /// generated.
        server_key_der: Vec<u8> = "ServerKey" or Vec::new(),
        /// Address the listeners bind to (`0.0.0.0` = all; missing or empty
        /// = all).
        listen_ip: IpAddr = "ListenIP" or IpAddr::V4(Ipv4Addr::UNSPECIFIED),
        /// Internet keep-alive packets (RustEther never sends them).
        use_keep_connect: bool = "UseKeepConnect" or false,
        /// NAT traversal off.
        disable_nat_traversal: bool = "DisableNatTraversal" or false,
        /// Save interval in seconds as stored; see
        /// [`ServerSettings::auto_save_interval`].
        auto_save_config_span: u32 = "AutoSaveConfigSpan" or 0,
        /// No backup copies when saving.
        dont_backup_config: bool = "DontBackupConfig" or false,
        /// No `/api/` and `/admin` over HTTPS.
        disable_json_rpc_web_api: bool = "DisableJsonRpcWebApi" or false,
        /// TLS 1.0 off.
        tls_disable1_0: bool = "Tls_Disable1_0" or false,
        /// TLS 1.1 off.
        tls_disable1_1: bool = "Tls_Disable1_1" or false,
        /// TLS 1.2 off.
        tls_disable1_2: bool = "Tls_Disable1_2" or false,
        /// TLS cipher list (`~DEFAULT~`).
        cipher_name: String = "CipherName" or "~DEFAULT~".into(),
        /// Connections per source IP (default 256).
        max_connections_per_ip: u32 = "MaxConnectionsPerIP" or 256,
        /// Connections not yet logged in (default 1000).
        max_unestablished_connections: u32 = "MaxUnestablishedConnections" or 1000,
        /// DoS protection off.
        disable_dos_protection: bool = "DisableDosProtection" or false,
        /// No `[::]` twin for each TCP listener.
        disable_ipv6_listener: bool = "DisableIPv6Listener" or false,
        /// A session ends as soon as its last TCP connection is gone,
        /// instead of waiting for the client's additional connection until
        /// its receive timeout (SoftEther `GSF_DISABLE_SESSION_RECONNECT`,
        /// src/Cedar/Session.c `SessionMain`).
        disable_session_reconnect: bool = "DisableSessionReconnect" or false,
        /// Character between user and hub name in a login name
        /// (`user@HUB`); empty = none configured.
        username_hub_separator: String = "UsernameHubSeparator" or String::new(),
    }
}

impl ServerSettings {
    /// `MaxCascadesPerHub` (RustEther only, kept in `raw`): the most
    /// cascades a virtual hub may have; missing = [`DEFAULT_MAX_CASCADES_PER_HUB`],
    /// 0 = unlimited. SoftEther has no such limit (issue 9 item 4).
    pub fn max_cascades_per_hub(&self) -> Option<usize> {
        match self
            .raw
            .get_uint("MaxCascadesPerHub")
            .unwrap_or(DEFAULT_MAX_CASCADES_PER_HUB)
        {
            0 => None,
            n => Some(n as usize),
        }
    }

    /// `AdminIdleTimeout` (RustEther only, kept in `raw`), seconds: a
    /// vpncmd administration connection without a call for this long is
    /// closed; missing = [`DEFAULT_ADMIN_IDLE_TIMEOUT_SECS`] (900), 0 =
    /// never (SoftEther's behaviour: `SetTimeout(sock, INFINITE)` in
    /// `AdminAccept`, src/Cedar/Admin.c). `None` = never.
    pub fn admin_idle_timeout(&self) -> Option<Duration> {
        match self
            .raw
            .get_uint("AdminIdleTimeout")
            .unwrap_or(DEFAULT_ADMIN_IDLE_TIMEOUT_SECS)
        {
            0 => None,
            n => Some(Duration::from_secs(u64::from(n))),
        }
    }

    /// `LogRetentionDays` (RustEther only, kept in `raw`): daily log files
    /// last written more than this many days ago are deleted; missing =
    /// [`DEFAULT_LOG_RETENTION_DAYS`], 0 = no age limit.
    pub fn log_retention_days(&self) -> u32 {
        self.raw
            .get_uint("LogRetentionDays")
            .unwrap_or(DEFAULT_LOG_RETENTION_DAYS)
    }

    /// `LogMaxTotalSize` (RustEther only, kept in `raw`), bytes: the oldest
    /// daily log files are deleted while all of them together are larger;
    /// missing = [`DEFAULT_LOG_MAX_TOTAL_SIZE`], 0 = no size limit.
    pub fn log_max_total_size(&self) -> u64 {
        self.raw
            .get_uint64("LogMaxTotalSize")
            .or_else(|| self.raw.get_uint("LogMaxTotalSize").map(u64::from))
            .unwrap_or(DEFAULT_LOG_MAX_TOTAL_SIZE)
    }

    /// `LoggerMaxLogSize`, bytes: a log file that would grow past it is
    /// continued in a numbered file (src/Cedar/Logging.c `SetMaxLogSize`);
    /// missing or 0 = 0 (the caller's default, 1 073 741 823).
    pub fn logger_max_log_size(&self) -> u64 {
        self.raw
            .get_uint64("LoggerMaxLogSize")
            .or_else(|| self.raw.get_uint("LoggerMaxLogSize").map(u64::from))
            .unwrap_or(0)
    }

    /// `AutoDeleteCheckDiskFreeSpaceMin`, bytes: below this much free disk
    /// space the oldest log files are deleted (src/Cedar/Logging.c
    /// `NewEraser`); missing = 0 (the caller's default, 100 MiB).
    pub fn auto_delete_min_free(&self) -> u64 {
        self.raw
            .get_uint64("AutoDeleteCheckDiskFreeSpaceMin")
            .or_else(|| {
                self.raw
                    .get_uint("AutoDeleteCheckDiskFreeSpaceMin")
                    .map(u64::from)
            })
            .unwrap_or(0)
    }

    /// `AutoDeleteCheckIntervalSecs`: how often free disk space is checked
    /// (`SetEraserCheckInterval`); missing = 0 (the caller's default, 300).
    pub fn auto_delete_interval_secs(&self) -> u32 {
        self.raw
            .get_uint("AutoDeleteCheckIntervalSecs")
            .unwrap_or(0)
    }

    /// `AllowLocalEmptyPasswordAdmin` (RustEther only, kept in `raw`):
    /// whether an empty server administrator password is accepted from a
    /// local source (docs/administration.md, SECURITY.md). Missing = true
    /// (SoftEther's behaviour); set it to false on a host where a TCP proxy
    /// (sslh, stunnel, `ssh -L`, port forwards) makes remote clients appear
    /// local.
    pub fn allow_local_empty_password_admin(&self) -> bool {
        self.raw
            .get_bool("AllowLocalEmptyPasswordAdmin")
            .unwrap_or(true)
    }

    /// `EnableMetrics` (RustEther only, kept in `raw`): whether the
    /// listeners serve the Prometheus endpoint `/metrics` to the server
    /// administrator (docs/metrics.md); missing = false.
    pub fn metrics_enabled(&self) -> bool {
        self.raw.get_bool("EnableMetrics").unwrap_or(false)
    }

    /// `MetricsToken` (RustEther only, kept in `raw`): the bearer token
    /// that reads `/metrics` and nothing else (docs/metrics.md); `None`
    /// when missing or empty. The check of its minimum length is the
    /// caller's (`rustether_admin::json::metrics_token_matches`).
    pub fn metrics_token(&self) -> Option<&str> {
        self.raw.get_str("MetricsToken").filter(|t| !t.is_empty())
    }

    /// The effective save interval: `AutoSaveConfigSpan` seconds, 0 = 300,
    /// clamped to 5…3600 (docs/config-format.md §6.1).
    pub fn auto_save_interval(&self) -> Duration {
        let secs = match self.auto_save_config_span {
            0 => 300,
            s => s.clamp(5, 3600),
        };
        Duration::from_secs(u64::from(secs))
    }

    /// Defaults of a fresh RustEther installation: the complete 5.01 key
    /// set as a folder (internet features, UDP ports, OpenVPN and SSTP
    /// off), read through the same field mapping as a loaded file.
    pub(super) fn initial() -> ServerSettings {
        let mut raw = folder_with(
            "ServerConfiguration",
            &[
                (
                    "AutoDeleteCheckDiskFreeSpaceMin",
                    CfgValue::Uint64(104_857_600),
                ),
                ("AutoDeleteCheckIntervalSecs", u(300)),
                ("AutoSaveConfigSpan", u(300)),
                ("BackupConfigOnlyWhenModified", b(true)),
                ("CipherName", s("~DEFAULT~")),
                ("DhParamBits", u(2048)),
                ("DisableCoreDumpOnUnix", b(false)),
                ("DisableDeadLockCheck", b(false)),
                ("DisableDosProtection", b(false)),
                ("DisableGetHostNameWhenAcceptTcp", b(false)),
                ("DisableIPsecAggressiveMode", b(false)),
                ("DisableIPv6Listener", b(false)),
                ("DisableJsonRpcWebApi", b(false)),
                ("DisableNatTraversal", b(true)),
                ("DisableSessionReconnect", b(false)),
                ("DontBackupConfig", b(false)),
                ("EnableVpnOverDns", b(false)),
                ("EnableVpnOverIcmp", b(false)),
                (
                    "HashedPassword",
                    CfgValue::Byte(empty_password_hash().to_vec()),
                ),
                ("KeepConnectHost", s("keepalive.softether.org")),
                ("KeepConnectInterval", u(50)),
                ("KeepConnectPort", u(80)),
                ("KeepConnectProtocol", u(1)),
                ("ListenIP", s("0.0.0.0")),
                ("LoggerMaxLogSize", CfgValue::Uint64(1_073_741_823)),
                ("MaxConcurrentDnsClientThreads", u(512)),
                ("MaxConnectionsPerIP", u(256)),
                ("MaxUnestablishedConnections", u(1000)),
                ("NoHighPriorityProcess", b(false)),
                ("NoLinuxArpFilter", b(false)),
                ("NoSendSignature", b(false)),
                ("PortsUDP", s("")),
                ("SaveDebugLog", b(false)),
                ("ServerCert", CfgValue::Byte(Vec::new())),
                ("ServerKey", CfgValue::Byte(Vec::new())),
                ("ServerLogSwitchType", u(4)),
                ("ServerType", u(0)),
                ("StrictSyslogDatetimeFormat", b(false)),
                ("Tls_Disable1_0", b(false)),
                ("Tls_Disable1_1", b(false)),
                ("Tls_Disable1_2", b(false)),
                ("UseKeepConnect", b(false)),
                ("UsernameHubSeparator", s("@")),
                ("UseWebTimePage", b(false)),
                ("UseWebUI", b(false)),
            ],
        );
        let proto = raw.folder_or_insert("Proto");
        proto.add_folder(folder_with("OpenVPN", &[("Enabled", b(false))]));
        proto.add_folder(folder_with("SSTP", &[("Enabled", b(false))]));
        raw.add_folder(zero_traffic("ServerTraffic"));
        raw.add_folder(folder_with(
            "SyslogSettings",
            &[("HostName", s("")), ("Port", u(0)), ("SaveType", u(0))],
        ));
        // The folder above has every modelled key with the right type, so
        // reading it cannot fail; the fallback keeps this free of panics.
        ServerSettings::read_fields(&Rd::new(&raw, "ServerConfiguration")).unwrap_or_else(|e| {
            tracing::error!("built-in ServerConfiguration defaults unreadable: {e}");
            ServerSettings::with_defaults(raw.clone())
        })
    }

    pub(super) fn from_folder(r: &Rd) -> Result<ServerSettings, ConfigError> {
        ServerSettings::read_fields(r)
    }

    pub(super) fn to_folder(&self) -> Folder {
        let mut f = self.raw.clone();
        f.name = "ServerConfiguration".into();
        self.write_fields(&mut f);
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn initial_reads_back_the_documented_values() {
        let s = ServerSettings::initial();
        assert_eq!(s.hashed_password, empty_password_hash());
        assert!(s.disable_nat_traversal && !s.use_keep_connect);
        assert_eq!(s.auto_save_config_span, 300);
        assert_eq!(s.cipher_name, "~DEFAULT~");
        assert_eq!(
            (s.max_connections_per_ip, s.max_unestablished_connections),
            (256, 1000)
        );
        assert_eq!(s.username_hub_separator, "@");
        assert_eq!(s.listen_ip, IpAddr::V4(Ipv4Addr::UNSPECIFIED));
        assert!(s.server_cert_der.is_empty() && s.server_key_der.is_empty());
        // the written folder reads back equal: read and write agree
        let f = s.to_folder();
        let back = ServerSettings::from_folder(&Rd::new(&f, "ServerConfiguration")).unwrap();
        assert_eq!(
            ServerSettings {
                raw: f.clone(),
                ..s.clone()
            },
            back
        );
        // every declared key is written
        for k in ServerSettings::KEYS {
            assert!(f.item(k).is_some(), "{k}");
        }
    }

    #[test]
    fn missing_keys_read_as_softethers_defaults_and_wrong_types_fail() {
        let empty = Folder::new("ServerConfiguration");
        let s = ServerSettings::from_folder(&Rd::new(&empty, "root/ServerConfiguration")).unwrap();
        assert_eq!(s, ServerSettings::with_defaults(empty.clone()));
        assert!(!s.disable_nat_traversal);
        assert_eq!(s.username_hub_separator, "");
        let mut bad = Folder::new("ServerConfiguration");
        bad.set_str("MaxConnectionsPerIP", "256");
        let e = ServerSettings::from_folder(&Rd::new(&bad, "root/ServerConfiguration"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("root/ServerConfiguration/MaxConnectionsPerIP"),
            "{e}"
        );
        let mut bad = Folder::new("ServerConfiguration");
        bad.set_str("ListenIP", "not an ip");
        assert!(ServerSettings::from_folder(&Rd::new(&bad, "x")).is_err());
    }

    #[test]
    fn admin_idle_timeout_default_value_and_never() {
        let mut f = Folder::new("ServerConfiguration");
        let read = |f: &Folder| {
            ServerSettings::from_folder(&Rd::new(f, "x"))
                .unwrap()
                .admin_idle_timeout()
        };
        assert_eq!(read(&f), Some(Duration::from_secs(900)));
        f.set_uint("AdminIdleTimeout", 3);
        assert_eq!(read(&f), Some(Duration::from_secs(3)));
        f.set_uint("AdminIdleTimeout", 0);
        assert_eq!(read(&f), None);
    }
}
