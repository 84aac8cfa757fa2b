//! Server-wide state: configuration (the source of truth, saved atomically
//! on every change), running virtual hubs, the session registry and the TLS
//! configuration.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Context;
use parking_lot::{Mutex, RwLock};
use rustether_config::store::ConfigStore;
use rustether_config::{Edition, ServerConfig, UserAuth};
use rustether_proto::error::ErrorCode;
use rustether_proto::messages::{ClientAuth, LoginRequest};
use rustether_proto::password;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::hub::Hub;
use crate::session::Registry;
use crate::tls::{self, CertifiedKey};

/// Default session timeout: policy `TimeOut` 20 s (protocol-sslvpn.md §5.6).
pub const DEFAULT_TIMEOUT_MS: u32 = 20_000;

/// The running server.
pub struct Server {
    /// VPN Server or VPN Bridge.
    pub edition: Edition,
    store: ConfigStore,
    config: Mutex<ServerConfig>,
    hubs: RwLock<HashMap<String, Arc<Hub>>>,
    /// Live sessions by key.
    pub sessions: Arc<Registry>,
    tls: RwLock<Arc<rustls::ServerConfig>>,
    cert: RwLock<CertifiedKey>,
    shutdown_tx: watch::Sender<bool>,
    /// When the worker started.
    pub started: SystemTime,
}

impl std::fmt::Debug for Server {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Server")
            .field("edition", &self.edition)
            .finish_non_exhaustive()
    }
}

/// A successful login decision.
#[derive(Debug)]
pub struct Accepted {
    /// Hub to join.
    pub hub: Arc<Hub>,
    /// User name as configured (or as sent, for `administrator`).
    pub username: String,
    /// Session timeout in ms from the user's or group's policy.
    pub timeout_ms: u32,
    /// Policy `MaxConnection`.
    pub max_connection: u32,
}

fn hub_key(name: &str) -> String {
    name.trim().to_ascii_uppercase()
}

impl Server {
    /// Loads the configuration from `state_dir` (or creates the initial one),
    /// makes sure a usable certificate exists, and builds the runtime state.
    /// The configuration is saved right away when anything had to be filled
    /// in, so the certificate survives a crash.
    ///
    /// Errors: unreadable or corrupt configuration (the message names file
    /// and line), unusable certificate that cannot be replaced, save failure.
    pub fn open(edition: Edition, state_dir: &std::path::Path) -> anyhow::Result<Arc<Server>> {
        std::fs::create_dir_all(state_dir)
            .with_context(|| format!("creating state directory {}", state_dir.display()))?;
        let store = ConfigStore::new(state_dir, edition);
        let (mut cfg, mut dirty) = match store.load()? {
            Some(cfg) => {
                info!("configuration loaded from {}", store.path().display());
                (cfg, false)
            }
            None => {
                info!(
                    "configuration file {} does not exist; starting with the initial settings",
                    store.path().display()
                );
                (ServerConfig::initial(edition), true)
            }
        };
        let mut ck = CertifiedKey {
            cert_der: cfg.server.server_cert_der.clone(),
            key_der: cfg.server.server_key_der.clone(),
        };
        let tls_cfg = match tls::server_config(&ck) {
            Ok(t) if !ck.cert_der.is_empty() => t,
            other => {
                if let Err(e) = other {
                    if !ck.cert_der.is_empty() {
                        warn!("server certificate unusable ({e}); generating a new one");
                    }
                }
                let cn = hostname();
                ck = tls::generate_self_signed(&cn)?;
                cfg.server.server_cert_der = ck.cert_der.clone();
                cfg.server.server_key_der = ck.key_der.clone();
                dirty = true;
                info!("generated a self-signed RSA-2048 server certificate (CN={cn})");
                tls::server_config(&ck)?
            }
        };
        if dirty {
            store.save(&cfg)?;
        }
        let hubs = cfg
            .hubs
            .iter()
            .map(|h| (hub_key(&h.name), Arc::new(Hub::new(&h.name, h.online))))
            .collect();
        let (shutdown_tx, _) = watch::channel(false);
        Ok(Arc::new(Server {
            edition,
            store,
            config: Mutex::new(cfg),
            hubs: RwLock::new(hubs),
            sessions: Arc::new(Registry::default()),
            tls: RwLock::new(tls_cfg),
            cert: RwLock::new(ck),
            shutdown_tx,
            started: SystemTime::now(),
        }))
    }

    /// Current rustls configuration for new connections.
    pub fn tls_config(&self) -> Arc<rustls::ServerConfig> {
        self.tls.read().clone()
    }

    /// The server certificate (DER).
    pub fn cert_der(&self) -> Vec<u8> {
        self.cert.read().cert_der.clone()
    }

    /// A receiver that turns `true` when the server shuts down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }

    /// Starts the shutdown of every listener and session.
    pub fn begin_shutdown(&self) {
        let _ = self.shutdown_tx.send(true);
    }

    /// A running hub by name (case-insensitive).
    pub fn hub(&self, name: &str) -> Option<Arc<Hub>> {
        self.hubs.read().get(&hub_key(name)).cloned()
    }

    /// All running hubs.
    pub fn hubs(&self) -> Vec<Arc<Hub>> {
        self.hubs.read().values().cloned().collect()
    }

    /// Runs `f` on a snapshot of the configuration.
    pub fn with_config<T>(&self, f: impl FnOnce(&ServerConfig) -> T) -> T {
        f(&self.config.lock())
    }

    /// Changes the configuration and saves it atomically before returning,
    /// so an acknowledged change survives a crash. On a save error the
    /// in-memory change is rolled back.
    pub fn update_config<T>(
        &self,
        f: impl FnOnce(&mut ServerConfig) -> Result<T, ErrorCode>,
    ) -> Result<T, ErrorCode> {
        let mut cfg = self.config.lock();
        let before = cfg.clone();
        let out = f(&mut cfg)?;
        cfg.config_revision = cfg.config_revision.wrapping_add(1);
        if let Err(e) = self.store.save(&cfg) {
            warn!("saving the configuration failed: {e}");
            *cfg = before;
            return Err(ErrorCode::INTERNAL_ERROR);
        }
        self.sync_hubs(&cfg);
        Ok(out)
    }

    /// Saves the configuration as it is (shutdown, `Flush`).
    pub fn save(&self) -> anyhow::Result<()> {
        let cfg = self.config.lock();
        self.store.save(&cfg)?;
        Ok(())
    }

    /// Makes the running hubs match the configuration: creates new hubs,
    /// applies the online flag, removes deleted hubs (ending their sessions).
    fn sync_hubs(&self, cfg: &ServerConfig) {
        let mut hubs = self.hubs.write();
        let wanted: HashMap<String, &rustether_config::HubConfig> =
            cfg.hubs.iter().map(|h| (hub_key(&h.name), h)).collect();
        hubs.retain(|k, hub| {
            let keep = wanted.contains_key(k);
            if !keep {
                for s in self.sessions.all() {
                    if Arc::ptr_eq(&s.hub, hub) {
                        s.disconnect();
                    }
                }
            }
            keep
        });
        for (k, h) in wanted {
            let hub = hubs
                .entry(k)
                .or_insert_with(|| Arc::new(Hub::new(&h.name, h.online)));
            if hub.is_online() != h.online {
                hub.set_online(h.online);
                if !h.online {
                    for s in self.sessions.all() {
                        if Arc::ptr_eq(&s.hub, hub) {
                            s.disconnect();
                        }
                    }
                }
            }
        }
    }

    /// Decides a login (SoftEther `ServerAccept` order, protocol-sslvpn.md
    /// §5.6): hub lookup (8), hub offline (10), authentication (7, 9, 51),
    /// policy (12). `random` is the hello random of this connection.
    pub fn authenticate(
        &self,
        req: &LoginRequest,
        random: &[u8; 20],
        peer: IpAddr,
    ) -> Result<Accepted, ErrorCode> {
        if self.edition == Edition::Bridge {
            // VPN Bridge has no VPN-client capability (`b_vpn_client_connect`).
            return Err(ErrorCode::NOT_SUPPORTED);
        }
        let hub = self.hub(&req.hubname).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        if !hub.is_online() {
            return Err(ErrorCode::HUB_STOPPING);
        }
        let cfg = self.config.lock();
        let hub_cfg = cfg.hub(&req.hubname).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        if let ClientAuth::Unsupported(_) = req.auth {
            return Err(ErrorCode::AUTHTYPE_NOT_SUPPORTED);
        }

        // The hub administrator logs in with the hub's SecurePassword, which
        // is HashPassword("administrator", pw) (protocol-sslvpn.md §5.2).
        if req.username.eq_ignore_ascii_case("administrator") {
            let ok = match &req.auth {
                ClientAuth::Password { secure_password } => password::verify_secure_password(
                    &hub_cfg.secure_password,
                    random,
                    secure_password,
                ),
                ClientAuth::PlainPassword { password: pw } => {
                    password::hash_password("administrator", pw) == hub_cfg.secure_password
                }
                _ => false,
            };
            if !ok {
                return Err(ErrorCode::AUTH_FAILED);
            }
            if hub_cfg.secure_password == password::hash_password("administrator", "")
                && !peer.is_loopback()
            {
                return Err(ErrorCode::NULL_PASSWORD_LOCAL_ONLY);
            }
            return Ok(Accepted {
                hub,
                username: "administrator".into(),
                timeout_ms: DEFAULT_TIMEOUT_MS,
                max_connection: crate::session::MAX_TCP_CONNECTION,
            });
        }

        let user = hub_cfg.user(&req.username).ok_or(ErrorCode::AUTH_FAILED)?;
        // Anonymous users are accepted whatever authtype says (§5.4).
        let ok = match (&user.auth, &req.auth) {
            (UserAuth::Anonymous, _) => true,
            (UserAuth::Password { hash, .. }, ClientAuth::Password { secure_password }) => {
                password::verify_secure_password(hash, random, secure_password)
            }
            (UserAuth::Password { hash, .. }, ClientAuth::PlainPassword { password: pw }) => {
                password::hash_password(&user.name, pw) == *hash
            }
            _ => false,
        };
        if !ok {
            return Err(ErrorCode::AUTH_FAILED);
        }
        let policy = user.policy.as_ref().or_else(|| {
            user.group
                .as_deref()
                .and_then(|g| {
                    hub_cfg
                        .groups
                        .iter()
                        .find(|x| x.name.eq_ignore_ascii_case(g))
                })
                .and_then(|g| g.policy.as_ref())
        });
        if let Some(p) = policy {
            if !p.access {
                return Err(ErrorCode::ACCESS_DENIED);
            }
        }
        if user.expire_time != 0 && user.expire_time < crate::clock::unix_ms() {
            return Err(ErrorCode::ACCESS_DENIED);
        }
        let timeout_ms = policy
            .map(|p| p.timeout_secs)
            .filter(|t| *t != 0)
            .map(|t| (t.saturating_mul(1000)).clamp(5_000, 60_000))
            .unwrap_or(DEFAULT_TIMEOUT_MS);
        let max_connection = policy
            .map(|p| p.max_connection)
            .filter(|m| *m != 0)
            .unwrap_or(crate::session::MAX_TCP_CONNECTION);
        Ok(Accepted {
            hub,
            username: user.name.clone(),
            timeout_ms,
            max_connection,
        })
    }
}

/// Host name for the default certificate.
fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "rustether".to_string())
}
