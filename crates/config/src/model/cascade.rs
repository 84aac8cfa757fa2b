//! Cascade connections of a hub (`CascadeList/CascadeN`,
//! docs/config-format.md §7.10; `SiLoadHubLinkCfg`, `SiWriteHubLinkCfg` in
//! `src/Cedar/Server.c`), declared with [`cfg_struct!`](super::fields).

use super::fields::cfg_struct;
use super::*;

/// How a cascade logs in to the remote hub (`ClientAuth`, docs/config-format.md §7.10).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CascadeAuth {
    /// `AuthType 0`.
    Anonymous {
        /// User name presented to the remote hub.
        username: String,
    },
    /// `AuthType 1`: `HashedPassword` = SHA-0(password ‖ UPPERCASE(username)).
    HashedPassword {
        /// Remote user name.
        username: String,
        /// SHA-0(password ‖ UPPERCASE(username)).
        hash: [u8; 20],
    },
    /// `AuthType 2`: plain password (for RADIUS/NT on the remote side),
    /// stored RC4-"encrypted" as `EncryptedPassword` ([`softether_password_rc4`]).
    PlainPassword {
        /// Remote user name.
        username: String,
        /// The clear-text password.
        password: String,
    },
    /// `AuthType 3`: client certificate and private key (DER).
    Certificate {
        /// Remote user name.
        username: String,
        /// DER X.509 certificate.
        cert_der: Vec<u8>,
        /// DER private key.
        key_der: Vec<u8>,
    },
    /// `AuthType 4` (smart card) or `5` (OpenSSL engine): not usable by
    /// RustEther; kept so that the file round-trips.
    Unsupported {
        /// The `AuthType` number.
        auth_type: u32,
        /// Remote user name.
        username: String,
    },
}

const CASCADE_AUTH_KEYS: [&str; 8] = [
    "HashedPassword",
    "EncryptedPassword",
    "ClientCert",
    "ClientKey",
    "SecurePublicCertName",
    "SecurePrivateKeyName",
    "OpensslEnginePrivateKeyName",
    "OpensslEngineName",
];

impl CascadeAuth {
    /// The `AuthType` number.
    pub fn auth_type(&self) -> u32 {
        match self {
            CascadeAuth::Anonymous { .. } => 0,
            CascadeAuth::HashedPassword { .. } => 1,
            CascadeAuth::PlainPassword { .. } => 2,
            CascadeAuth::Certificate { .. } => 3,
            CascadeAuth::Unsupported { auth_type, .. } => *auth_type,
        }
    }

    /// The remote user name.
    pub fn username(&self) -> &str {
        match self {
            CascadeAuth::Anonymous { username }
            | CascadeAuth::HashedPassword { username, .. }
            | CascadeAuth::PlainPassword { username, .. }
            | CascadeAuth::Certificate { username, .. }
            | CascadeAuth::Unsupported { username, .. } => username,
        }
    }

    fn from_folder(r: &Rd) -> Result<CascadeAuth, ConfigError> {
        let username = r.string_or("Username", "")?;
        Ok(match r.u32_or("AuthType", 0)? {
            0 => CascadeAuth::Anonymous { username },
            1 => CascadeAuth::HashedPassword {
                username,
                hash: r.fixed::<20>("HashedPassword")?.unwrap_or([0; 20]),
            },
            2 => {
                let enc = r.bytes("EncryptedPassword")?.unwrap_or_default();
                let plain = softether_password_rc4(enc);
                // SoftEther keeps it as a C string: a NUL ends it.
                let plain = plain.split(|&c| c == 0).next().unwrap_or_default().to_vec();
                let password = String::from_utf8(plain)
                    .map_err(|_| r.bad("EncryptedPassword", "decrypted password is not UTF-8"))?;
                CascadeAuth::PlainPassword { username, password }
            }
            3 => CascadeAuth::Certificate {
                username,
                cert_der: r.bytes("ClientCert")?.unwrap_or_default().to_vec(),
                key_der: r.bytes("ClientKey")?.unwrap_or_default().to_vec(),
            },
            t @ (4 | 5) => CascadeAuth::Unsupported {
                auth_type: t,
                username,
            },
            t => {
                return Err(r.bad(
                    "AuthType",
                    format!("unknown cascade authentication type {t}"),
                ))
            }
        })
    }

    fn write(&self, f: &mut Folder) {
        let own: &[&str] = match self {
            CascadeAuth::HashedPassword { .. } => &["HashedPassword"],
            CascadeAuth::PlainPassword { .. } => &["EncryptedPassword"],
            CascadeAuth::Certificate { .. } => &["ClientCert", "ClientKey"],
            CascadeAuth::Anonymous { .. } => &[],
            // smart card / engine keys are not modelled: keep them all
            CascadeAuth::Unsupported { .. } => &CASCADE_AUTH_KEYS,
        };
        for k in CASCADE_AUTH_KEYS {
            if !own.contains(&k) {
                f.remove_item(k);
            }
        }
        f.set_uint("AuthType", self.auth_type());
        f.set_str("Username", self.username());
        match self {
            CascadeAuth::Anonymous { .. } | CascadeAuth::Unsupported { .. } => {}
            CascadeAuth::HashedPassword { hash, .. } => f.set_bytes("HashedPassword", hash),
            CascadeAuth::PlainPassword { password, .. } => f.set_bytes(
                "EncryptedPassword",
                &softether_password_rc4(password.as_bytes()),
            ),
            CascadeAuth::Certificate {
                cert_der, key_der, ..
            } => {
                f.set_bytes("ClientCert", cert_der);
                f.set_bytes("ClientKey", key_der);
            }
        }
    }
}

cfg_struct! {
    /// A cascade connection of a hub (`CascadeList/CascadeN`,
    /// docs/config-format.md §7.10, docs/process-model.md §11). Keys under
    /// `ClientOption/` are in that subfolder; a missing key reads as
    /// `SiLoadHubLinkCfg`'s 0 / false / empty.
    #[derive(Clone, Debug, PartialEq)]
    pub struct CascadeConfig {
        manual {
            /// `ClientAuth`.
            auth: CascadeAuth,
            /// `SetByHubAdmin` (RustEther only; SoftEther ignores the key):
            /// the cascade was last created or changed by a hub
            /// administrator, so it may not connect to this server itself
            /// (issue 9 item 4; SECURITY.md). Written only when true, so a
            /// file the server administrator wrote is unchanged.
            set_by_hub_admin: bool,
        }
        /// The link is started.
        online: bool = "Online" or false,
        /// Verify the remote server's certificate.
        check_server_cert: bool = "CheckServerCert" or false,
        /// The saved (pinned) remote certificate, DER.
        server_cert_der: Option<Vec<u8>> = "ServerCert" or None,
        /// The cascade's name (unique per hub, case-insensitive).
        account_name: String = "ClientOption/AccountName" or String::new(),
        /// Remote host (may carry SoftEther's `/hint` suffix).
        hostname: String = "ClientOption/Hostname" or String::new(),
        /// Remote TCP port.
        port: u16 = "ClientOption/Port" or 0,
        /// The remote hub.
        hub_name: String = "ClientOption/HubName" or String::new(),
        /// TCP connections (1–32).
        max_connection: u32 = "ClientOption/MaxConnection" or 0,
        /// Encryption.
        use_encrypt: bool = "ClientOption/UseEncrypt" or false,
        /// Compression.
        use_compress: bool = "ClientOption/UseCompress" or false,
        /// Half-duplex connections.
        half_connection: bool = "ClientOption/HalfConnection" or false,
        /// QoS off.
        disable_qos: bool = "ClientOption/DisableQoS" or false,
        /// Seconds between reconnection attempts.
        retry_interval_secs: u32 = "ClientOption/RetryInterval" or 0,
    }
}

impl CascadeConfig {
    /// A new cascade as `CascadeCreate` makes it (offline, 8 connections,
    /// encryption on, retry 10 s, no server certificate check, default
    /// cascade policy; values as written by SoftEther 5.01).
    pub fn new(
        account_name: &str,
        hostname: &str,
        port: u16,
        hub_name: &str,
        auth: CascadeAuth,
    ) -> CascadeConfig {
        let option = folder_with(
            "ClientOption",
            &[
                ("AccountName", s(account_name)),
                ("AdditionalConnectionInterval", u(1)),
                ("ConnectionDisconnectSpan", u(0)),
                ("CustomHttpHeader", s("")),
                ("DeviceName", s("_SEHUBLINKCLI_")),
                ("DisableQoS", b(false)),
                ("HalfConnection", b(false)),
                ("HideNicInfoWindow", b(false)),
                ("HideStatusWindow", b(false)),
                ("Hostname", s(hostname)),
                ("HubName", s(hub_name)),
                ("MaxConnection", u(8)),
                ("NoRoutingTracking", b(true)),
                ("NoUdpAcceleration", b(false)),
                ("NumRetry", u(u32::MAX)),
                ("Port", u(u32::from(port))),
                ("PortUDP", u(0)),
                ("ProxyName", s("")),
                ("ProxyPassword", CfgValue::Byte(Vec::new())),
                ("ProxyPort", u(0)),
                ("ProxyType", u(0)),
                ("ProxyUsername", s("")),
                ("RequireBridgeRoutingMode", b(true)),
                ("RequireMonitorMode", b(false)),
                ("RetryInterval", u(10)),
                ("UseCompress", b(false)),
                ("UseEncrypt", b(true)),
            ],
        );
        let mut raw = Folder::new("Cascade");
        raw.add_folder(option);
        raw.add_folder(Folder::new("ClientAuth"));
        raw.add_folder(cascade_default_policy());
        // `raw` holds every ClientOption key with the values of a new
        // cascade, read through the same mapping as a loaded file; that
        // cannot fail, the fallback keeps this free of panics.
        CascadeConfig::read_fields(&Rd::new(&raw, "Cascade"), auth.clone(), false).unwrap_or_else(
            |e| {
                tracing::error!("built-in cascade defaults unreadable: {e}");
                CascadeConfig::with_defaults(auth, false, raw.clone())
            },
        )
    }

    pub(super) fn from_folder(r: &Rd) -> Result<CascadeConfig, ConfigError> {
        let empty_auth = Folder::new("ClientAuth");
        let a = r.sub(r.f.folder("ClientAuth").unwrap_or(&empty_auth));
        if let Some(p) = r.f.folder("Policy") {
            Policy::from_folder(&r.sub(p))?; // type check only; kept raw
        }
        let set_by_hub_admin = r.bool_or("SetByHubAdmin", false)?;
        CascadeConfig::read_fields(r, CascadeAuth::from_folder(&a)?, set_by_hub_admin)
    }

    pub(super) fn to_folder(&self, name: &str) -> Folder {
        let mut f = self.raw.clone();
        f.name = name.to_string();
        self.write_fields(&mut f);
        if self.set_by_hub_admin {
            f.set_bool("SetByHubAdmin", true);
        } else {
            f.remove_item("SetByHubAdmin");
        }
        self.auth.write(f.folder_or_insert("ClientAuth"));
        if f.folder("Policy").is_none() {
            f.add_folder(cascade_default_policy());
        }
        f
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn anon() -> CascadeAuth {
        CascadeAuth::Anonymous {
            username: "u".into(),
        }
    }

    #[test]
    fn client_option_keys_live_in_their_subfolder() {
        let c = CascadeConfig::new("l1", "example.invalid", 443, "H", anon());
        assert_eq!(
            (c.port, c.max_connection, c.retry_interval_secs),
            (443, 8, 10)
        );
        assert!(c.use_encrypt && !c.online && c.server_cert_der.is_none());
        let f = c.to_folder("Cascade0");
        let o = f.folder("ClientOption").unwrap();
        assert_eq!(o.item("Port"), Some(&CfgValue::Uint(443)));
        assert!(f.item("Port").is_none() && f.item("ServerCert").is_none());
        let back = CascadeConfig::from_folder(&Rd::new(&f, "Cascade0")).unwrap();
        assert_eq!(
            CascadeConfig {
                raw: f.clone(),
                ..c
            },
            back
        );
    }

    #[test]
    fn bad_port_names_the_subfolder_and_missing_option_reads_defaults() {
        let mut f = Folder::new("Cascade0");
        f.folder_or_insert("ClientOption").set_uint("Port", 70_000);
        let e = CascadeConfig::from_folder(&Rd::new(&f, "root/CascadeList/Cascade0"))
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("root/CascadeList/Cascade0/ClientOption/Port"),
            "{e}"
        );
        let empty = Folder::new("Cascade0");
        let c = CascadeConfig::from_folder(&Rd::new(&empty, "x")).unwrap();
        assert_eq!((c.port, c.account_name.as_str()), (0, ""));
    }
}
