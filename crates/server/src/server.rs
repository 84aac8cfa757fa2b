//! Server-wide state: the configuration (the source of truth, read from
//! immutable snapshots and saved atomically on every change, see
//! [`crate::config`]), the running virtual hubs, the session registry, the
//! TLS configuration, and the cascades and local bridges started from the
//! configuration.
//!
//! Listeners and administration are not here: they sit above the server
//! (`crate::listener`, `crate::admin`) and are wired together by the
//! worker.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::SystemTime;

use anyhow::Context;
use arc_swap::ArcSwap;
use parking_lot::Mutex;
use rustether_admin::hub_admin_option as opt;
use rustether_config::store::ConfigStore;
use rustether_config::{Edition, ServerConfig, UserAuth};
use rustether_proto::messages::{ClientAuth, LoginRequest};
use rustether_proto::password;
use rustether_proto::softether::policy::{PolicyId, PolicyValues};
use rustether_proto::ErrorCode;
use tokio::sync::watch;
use tracing::{info, warn};

use crate::bridge::LocalBridge;
use crate::cascade::{Cascade, CascadeStatus};
use crate::certauth::{verify_cert_login, CertUser};
use crate::config::{ConfigCell, ConfigWriter};
use crate::hub::Hub;
use crate::securenat::SecureNatPort;
use crate::session::Registry;
use crate::tls::{self, CertifiedKey};

/// Default session timeout: policy `TimeOut` 20 s (docs/protocol-sslvpn.md §5.6).
pub const DEFAULT_TIMEOUT_MS: u32 = 20_000;

/// Running hubs by upper-case name.
type HubMap = HashMap<String, Arc<Hub>>;

/// The running server.
pub struct Server {
    /// VPN Server or VPN Bridge.
    pub edition: Edition,
    config: ConfigCell,
    /// Published by the configuration's writer after each change, read
    /// lock-free by logins.
    hubs: ArcSwap<HubMap>,
    /// Live sessions by key.
    pub sessions: Arc<Registry>,
    tls: ArcSwap<rustls::ServerConfig>,
    cert: ArcSwap<CertifiedKey>,
    shutdown_tx: watch::Sender<bool>,
    /// `RebootServer`: `Some(reset_config)` once requested.
    reboot_tx: watch::Sender<Option<bool>>,
    /// When the worker started.
    pub started: SystemTime,
    /// TLS handshake and login counters (`/metrics`).
    pub stats: crate::stats::ServerStats,
    cascades: Mutex<HashMap<(String, String), Arc<Cascade>>>,
    bridges: Mutex<Vec<Arc<LocalBridge>>>,
    /// Running SecureNATs by hub key.
    securenats: Mutex<HashMap<String, Arc<SecureNatPort>>>,
    /// DHCP leases of SecureNAT by hub key, kept across its restarts and
    /// saved in [`crate::securenat::LEASE_FILE`].
    lease_books: Arc<Mutex<HashMap<String, crate::securenat::LeaseBook>>>,
    /// Security and packet logs of the hubs, syslog forwarding
    /// (`<state dir>/security_log`, `packet_log`; docs/administration.md).
    pub logs: Arc<crate::hublog::Logs>,
    /// Started Virtual Layer 3 Switches by upper-case name.
    l3: Mutex<HashMap<String, Arc<crate::l3::L3Port>>>,
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
    /// The session's effective policy (user's, else group's, else
    /// SoftEther's default; adjusted to the requested mode as `ServerAccept`
    /// does), sent in the welcome and applied by the hub and the session.
    pub policy: PolicyValues,
    /// The client asked for bridge/routing mode (and the policy allows it).
    pub bridge_mode: bool,
    /// The session is a monitor-mode session (requested and allowed).
    pub monitor: bool,
    /// The user's group ("" = none), for access list entries that name
    /// it (`GroupnameHash`).
    pub group: String,
}

pub(crate) use crate::hub::hub_key;

impl Server {
    /// Loads the configuration from `state_dir` (or creates the initial one),
    /// makes sure a usable certificate exists, and builds the runtime state.
    /// The configuration is saved right away when anything had to be filled
    /// in, so the certificate survives a crash.
    ///
    /// Blocks (file I/O with fsyncs): call it before the runtime serves
    /// connections or off its threads.
    ///
    /// Errors: unreadable or corrupt configuration (the message names file
    /// and line), unusable certificate that cannot be replaced, save failure.
    pub fn open(edition: Edition, state_dir: &std::path::Path) -> anyhow::Result<Arc<Server>> {
        Server::open_with(edition, state_dir, false)
    }

    /// [`Server::open`]; with `reset_config` the file is not read and the
    /// initial settings are saved over it (its previous version goes to the
    /// backups), as SoftEther's `RebootServer` with `IntValue` set
    /// (`server_reset_setting`, src/Cedar/Server.c).
    ///
    /// Errors: as [`Server::open`].
    pub fn open_with(
        edition: Edition,
        state_dir: &std::path::Path,
        reset_config: bool,
    ) -> anyhow::Result<Arc<Server>> {
        std::fs::create_dir_all(state_dir)
            .with_context(|| format!("creating state directory {}", state_dir.display()))?;
        let store = ConfigStore::new(state_dir, edition);
        let loaded = if reset_config {
            info!("RebootServer with reset: the configuration starts from the initial settings");
            None
        } else {
            store.load()?
        };
        let (mut cfg, mut dirty) = match loaded {
            Some(cfg) => {
                info!("configuration loaded from {}", store.path().display());
                (cfg, false)
            }
            None => {
                info!(
                    "configuration file {} does not exist; starting with the initial settings",
                    store.path().display()
                );
                (
                    ServerConfig::initial(
                        edition,
                        rustether_config::model::now_ms(),
                        &mut rustether_config::model::system_rng(),
                    ),
                    true,
                )
            }
        };
        let mut ck = CertifiedKey {
            cert_der: cfg.server.server_cert_der.clone(),
            key_der: cfg.server.server_key_der.clone(),
        };
        let tls_cfg = match tls_for(&ck, &cipher_name(&cfg)) {
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
                tls_for(&ck, &cipher_name(&cfg))?
            }
        };
        if dirty {
            store.save(&cfg)?;
        }
        let logs = crate::hublog::Logs::start(Some(state_dir.to_path_buf()))
            .context("starting the log writer thread")?;
        logs.set_syslog(&cfg.server.syslog());
        logs.set_retention(crate::logretention::Retention::from_settings(&cfg.server));
        let hubs: HubMap = cfg
            .hubs
            .iter()
            .map(|h| {
                let hub = Hub::new(&h.name, h.online);
                hub.set_access_list(&h.access_list);
                hub.set_logging(&logs, h.log_setting());
                (hub_key(&h.name), Arc::new(hub))
            })
            .collect();
        let (shutdown_tx, _) = watch::channel(false);
        let (reboot_tx, _) = watch::channel(None);
        Ok(Arc::new(Server {
            edition,
            config: ConfigCell::new(cfg, Box::new(store)),
            hubs: ArcSwap::from_pointee(hubs),
            sessions: Arc::new(Registry::default()),
            tls: ArcSwap::new(tls_cfg),
            cert: ArcSwap::from_pointee(ck),
            shutdown_tx,
            reboot_tx,
            started: SystemTime::now(),
            stats: crate::stats::ServerStats::default(),
            cascades: Mutex::new(HashMap::new()),
            bridges: Mutex::new(Vec::new()),
            securenats: Mutex::new(HashMap::new()),
            lease_books: Arc::new(Mutex::new(HashMap::new())),
            logs,
            l3: Mutex::new(HashMap::new()),
        }))
    }

    /// Current rustls configuration for new connections.
    pub fn tls_config(&self) -> Arc<rustls::ServerConfig> {
        self.tls.load_full()
    }

    /// The server certificate and its private key (DER).
    pub fn certified_key(&self) -> Arc<CertifiedKey> {
        self.cert.load_full()
    }

    /// The server certificate (DER).
    pub fn cert_der(&self) -> Vec<u8> {
        self.cert.load().cert_der.clone()
    }

    /// A receiver that turns `true` when the server shuts down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.shutdown_tx.subscribe()
    }

    /// Asks the worker to restart the server (`RebootServer`): it stops
    /// like at a shutdown (sessions end, the configuration is saved) and
    /// starts again in the same process on the same listening sockets;
    /// with `reset_config` from the initial settings.
    pub fn request_reboot(&self, reset_config: bool) {
        let _ = self.reboot_tx.send(Some(reset_config));
    }

    /// A receiver that turns `Some(reset_config)` when a restart is asked
    /// for ([`Server::request_reboot`]).
    pub fn reboot_signal(&self) -> watch::Receiver<Option<bool>> {
        self.reboot_tx.subscribe()
    }

    /// Starts the shutdown of every listener and session.
    pub fn begin_shutdown(&self) {
        let _ = self.shutdown_tx.send(true);
    }

    /// A running hub by name (case-insensitive). Lock-free.
    pub fn hub(&self, name: &str) -> Option<Arc<Hub>> {
        self.hubs.load().get(&hub_key(name)).cloned()
    }

    /// All running hubs.
    pub fn hubs(&self) -> Vec<Arc<Hub>> {
        self.hubs.load().values().cloned().collect()
    }

    /// Runs `f` on the configuration snapshot published last. Lock-free: a
    /// change being saved at the same time is not waited for.
    pub fn with_config<T>(&self, f: impl FnOnce(&ServerConfig) -> T) -> T {
        self.config.read(f)
    }

    /// The configuration snapshot published last.
    pub fn config_snapshot(&self) -> Arc<ServerConfig> {
        self.config.snapshot()
    }

    /// Changes the configuration: `f` edits a copy of the current snapshot;
    /// the copy is saved atomically and only then published (and the
    /// running hubs follow it), so an acknowledged change survives a crash.
    /// Changes are applied one at a time. The work runs on tokio's blocking
    /// pool, never on a runtime thread; the result is that of the save.
    ///
    /// Errors: what `f` returns (nothing changes), or
    /// `ERR_INTERNAL_ERROR` when saving fails (nothing changes either; the
    /// reason is logged).
    pub async fn update_config<T, F>(self: &Arc<Self>, f: F) -> Result<T, ErrorCode>
    where
        F: FnOnce(&mut ServerConfig) -> Result<T, ErrorCode> + Send + 'static,
        T: Send + 'static,
    {
        let server = self.clone();
        tokio::task::spawn_blocking(move || server.update_config_blocking(f))
            .await
            .unwrap_or(Err(ErrorCode::INTERNAL_ERROR))
    }

    /// [`Server::update_config`] on the calling thread, which it blocks for
    /// the save (fsyncs): only for threads that may block (tokio's blocking
    /// pool, where the administration RPCs run).
    pub fn update_config_blocking<T>(
        &self,
        f: impl FnOnce(&mut ServerConfig) -> Result<T, ErrorCode>,
    ) -> Result<T, ErrorCode> {
        let mut w = self.config.write();
        let mut cfg = (*w.current()).clone();
        let out = f(&mut cfg)?;
        cfg.config_revision = cfg.config_revision.wrapping_add(1);
        // The statistics counted since the last save go into this one.
        self.sessions.collect_statistics();
        let stats = self.sessions.accounting.take();
        crate::accounting::fold(&mut cfg, &stats);
        match w.commit(cfg) {
            Ok(cfg) => {
                self.sync_hubs(&w, &cfg);
                Ok(out)
            }
            Err(e) => {
                self.sessions.accounting.restore(stats);
                warn!("saving the configuration failed: {e}; the change is not applied");
                Err(ErrorCode::INTERNAL_ERROR)
            }
        }
    }

    /// Saves the login statistics and traffic counters counted since the
    /// last save, if any (the periodic save every `AutoSaveConfigSpan`
    /// seconds, as SoftEther's `SiSaverThread`; crate::accounting). Blocks
    /// for the save.
    ///
    /// Errors: the save error (the statistics are kept for the next save).
    pub fn save_statistics_blocking(&self) -> anyhow::Result<()> {
        let mut w = self.config.write();
        self.sessions.collect_statistics();
        let stats = self.sessions.accounting.take();
        if stats.is_empty() {
            return Ok(());
        }
        let mut cfg = (*w.current()).clone();
        crate::accounting::fold(&mut cfg, &stats);
        match w.commit(cfg) {
            Ok(cfg) => {
                self.sync_hubs(&w, &cfg);
                Ok(())
            }
            Err(e) => {
                self.sessions.accounting.restore(stats);
                Err(anyhow::anyhow!(
                    "saving {}: {e}",
                    self.config.path().display()
                ))
            }
        }
    }

    /// Runs `f` on the configuration snapshot published last with the
    /// statistics not yet saved added (`NumLogin`, `LastLoginTime`,
    /// `LastCommTime`, the `Traffic` folders; crate::accounting): what
    /// administration reports. Copies the configuration: not for logins.
    pub fn with_statistics<T>(&self, f: impl FnOnce(&ServerConfig) -> T) -> T {
        self.sessions.collect_statistics();
        let stats = self.sessions.accounting.peek();
        let snap = self.config.snapshot();
        if stats.is_empty() {
            return f(&snap);
        }
        let mut cfg = (*snap).clone();
        crate::accounting::fold(&mut cfg, &stats);
        f(&cfg)
    }

    /// Saves the configuration as it is (shutdown, `Flush`). Blocks for the
    /// save: call it off the runtime threads.
    ///
    /// Errors: the save error.
    pub fn save_blocking(&self) -> anyhow::Result<()> {
        self.sessions.collect_statistics();
        if !self.sessions.accounting.peek().is_empty() {
            return self.save_statistics_blocking();
        }
        self.config
            .write()
            .save_current()
            .map_err(|e| anyhow::anyhow!("saving {}: {e}", self.config.path().display()))
    }

    /// Replaces how configuration snapshots are saved (tests: slow or
    /// failing saves).
    #[cfg(test)]
    pub(crate) fn set_persist(&self, store: Box<dyn crate::config::Persist>) {
        self.config.set_persist(store);
    }

    /// The configuration file's path.
    pub fn config_path(&self) -> &std::path::Path {
        self.config.path()
    }

    /// The configuration as the text that the next save writes (UTF-8 with
    /// BOM, CRLF; `GetConfig`).
    pub fn config_text(&self) -> String {
        rustether_config::write_text(&self.config.snapshot().to_root())
    }

    /// Changes the server certificate/key (`Some`) and/or the cipher setting
    /// (`Some`, SoftEther's `CipherName`) for new TLS connections
    /// (`SetServerCert`, `RegenerateServerCert`, `SetServerCipher`):
    /// the new rustls configuration is built first, then both are saved in
    /// `ServerConfiguration` (`ServerCert`, `ServerKey`, `CipherName`, as
    /// SoftEther stores them) and only then put in force. Established
    /// connections keep their TLS session. Blocks for the save.
    ///
    /// Errors: `ERR_PROTOCOL_ERROR` (4) if the pair is unusable (as
    /// `StSetServerCert`), `ERR_INVALID_PARAMETER` (38) if no cipher name
    /// selects a suite, or the save's error.
    pub fn set_tls_settings_blocking(
        &self,
        ck: Option<CertifiedKey>,
        cipher: Option<&str>,
    ) -> Result<(), ErrorCode> {
        let ck = ck.unwrap_or_else(|| (*self.cert.load_full()).clone());
        let cipher = match cipher {
            Some(c) => c.to_owned(),
            None => self.with_config(cipher_name),
        };
        if let Err(e) = tls::cipher_suites(&cipher) {
            warn!("admin: cipher setting refused: {e}");
            return Err(ErrorCode::INVALID_PARAMETER);
        }
        let tls_cfg = tls::server_config_with_ciphers(&ck, &cipher).map_err(|e| {
            warn!("admin: server certificate refused: {e}");
            ErrorCode::PROTOCOL_ERROR
        })?;
        self.update_config_blocking(|c| {
            c.server.server_cert_der = ck.cert_der.clone();
            c.server.server_key_der = ck.key_der.clone();
            // the modelled field: the save writes it over `raw`
            c.server.cipher_name = cipher.clone();
            Ok(())
        })?;
        self.tls.store(tls_cfg);
        self.cert.store(Arc::new(ck));
        Ok(())
    }

    /// Replaces the whole configuration with `text` (`SetConfig`): the text
    /// is parsed and saved atomically first ([`ConfigStore::save_text`];
    /// nothing changes if it does not load), then it becomes the running
    /// configuration and the hubs are synchronised. A certificate/key pair
    /// in `text` that is missing or unusable is replaced by the current one
    /// (saved again). Listeners, cascades and local bridges follow when the
    /// caller re-syncs them (the administration's `SetConfig`). Blocks for
    /// the saves: call it off the runtime threads.
    ///
    /// Errors: the text does not parse or is no valid configuration (the
    /// message names the line), or saving fails.
    pub fn replace_config_text_blocking(&self, text: &str) -> Result<(), String> {
        let mut w = self.config.write();
        let mut new = w.save_text(text)?;
        let ck = CertifiedKey {
            cert_der: new.server.server_cert_der.clone(),
            key_der: new.server.server_key_der.clone(),
        };
        let cfg = match tls_for(&ck, &cipher_name(&new)) {
            Ok(t) if !ck.cert_der.is_empty() => {
                self.tls.store(t);
                self.cert.store(Arc::new(ck));
                w.publish(new)
            }
            other => {
                if let Err(e) = other {
                    warn!("the new configuration's certificate is unusable ({e}); keeping the current one");
                }
                let cur = self.cert.load();
                new.server.server_cert_der = cur.cert_der.clone();
                new.server.server_key_der = cur.key_der.clone();
                w.commit(new)?
            }
        };
        self.sync_hubs(&w, &cfg);
        Ok(())
    }

    /// Makes the running hubs match the configuration: creates new hubs,
    /// applies the online flag, removes deleted hubs (ending their
    /// sessions). Called by the configuration's writer (`_writer` proves
    /// it), so hub maps are published in the order of the snapshots.
    fn sync_hubs(&self, _writer: &ConfigWriter<'_>, cfg: &ServerConfig) {
        self.logs.set_syslog(&cfg.server.syslog());
        self.logs
            .set_retention(crate::logretention::Retention::from_settings(&cfg.server));
        let old = self.hubs.load_full();
        let wanted: HashMap<String, &rustether_config::HubConfig> =
            cfg.hubs.iter().map(|h| (hub_key(&h.name), h)).collect();
        let mut hubs = HubMap::with_capacity(wanted.len());
        let mut stopped = Vec::new();
        for (k, h) in wanted {
            let hub = old
                .get(&k)
                .cloned()
                .unwrap_or_else(|| Arc::new(Hub::new(&h.name, h.online)));
            hub.set_access_list(&h.access_list);
            hub.set_logging(&self.logs, h.log_setting());
            if hub.is_online() != h.online {
                hub.set_online(h.online);
                if !h.online {
                    stopped.push(hub.clone());
                }
            }
            hubs.insert(k, hub);
        }
        stopped.extend(
            old.iter()
                .filter(|(k, _)| !hubs.contains_key(*k))
                .map(|(_, hub)| hub.clone()),
        );
        // Publish first: a login that starts now no longer finds a deleted
        // hub; then end the sessions of deleted and stopped hubs.
        self.hubs.store(Arc::new(hubs));
        for hub in &stopped {
            self.disconnect_hub_sessions(hub);
        }
    }

    fn disconnect_hub_sessions(&self, hub: &Arc<Hub>) {
        for s in self.sessions.all() {
            if Arc::ptr_eq(&s.hub, hub) {
                s.disconnect();
            }
        }
    }

    /// Number of live sessions on hub `hub_name` that logged in over the
    /// protocol (clients, VPN Bridges, other servers' cascades): not local
    /// bridges (no session) and not this server's own cascades
    /// (`server_side`). SoftEther's `hub->NumSessions`.
    fn logged_in_sessions(&self, hub_name: &str) -> usize {
        self.sessions
            .all()
            .iter()
            .filter(|s| {
                !s.info.server_side && !s.has_ended() && s.hub.name().eq_ignore_ascii_case(hub_name)
            })
            .count()
    }

    /// Decides a login (SoftEther `ServerAccept` order, docs/protocol-sslvpn.md
    /// §5.6): hub lookup (8), hub offline (10), source IP access control
    /// (109), authentication (7, 9, 51), policy (12). `random` is the hello random of this connection.
    pub fn authenticate(
        &self,
        req: &LoginRequest,
        random: &[u8; 20],
        peer: IpAddr,
    ) -> Result<Accepted, ErrorCode> {
        self.authenticate_with_radius(req, random, peer, None)
    }

    /// The RADIUS exchange a login needs, if any (`SamAuthUserByPlainPassword`,
    /// src/Cedar/Sam.c): a plain-password login (authtype 2) of a user whose
    /// auth type is RADIUS, or of an unknown user when the hub has a `*`
    /// user with RADIUS auth, on a hub with a RADIUS server set
    /// (`RadiusServerName`). The caller runs [`crate::radius::pap_login`]
    /// and passes the verdict to [`Server::authenticate_with_radius`].
    pub fn radius_job(&self, req: &LoginRequest) -> Option<crate::radius::RadiusJob> {
        if !matches!(req.auth, ClientAuth::PlainPassword { .. }) {
            return None;
        }
        let cfg = self.config.snapshot();
        let hub = cfg.hub(&req.hubname)?;
        let user = hub
            .user(&req.username)
            .or_else(|| hub.user("*"))
            .filter(|u| !u.name.eq_ignore_ascii_case("administrator"))?;
        let UserAuth::Radius { username } = &user.auth else {
            return None;
        };
        let f = &hub.raw;
        let servers = f.get_str("RadiusServerName").unwrap_or("").to_owned();
        if servers.is_empty() {
            warn!(hub = %hub.name, user = %req.username, "RADIUS user but no RADIUS server set on the hub (RadiusServerSet)");
            return None;
        }
        Some(crate::radius::RadiusJob {
            servers,
            port: u16::try_from(f.get_uint("RadiusServerPort").unwrap_or(1812))
                .ok()
                .filter(|p| *p != 0)
                .unwrap_or(1812),
            secret: f.get_bytes("RadiusSecret").unwrap_or(&[]).to_vec(),
            interval: std::time::Duration::from_millis(u64::from(
                f.get_uint("RadiusRetryInterval").unwrap_or(0),
            )),
            user_name: if username.is_empty() {
                req.username.clone()
            } else {
                username.clone()
            },
            hub: hub.name.clone(),
        })
    }

    /// [`Server::authenticate`] with the verdict of the RADIUS exchange
    /// for this login (`Some(true)`: Access-Accept), as computed by the
    /// async caller from [`Server::radius_job`]; `None` when none ran, so
    /// RADIUS users are refused with `ERR_AUTH_FAILED` (9).
    pub fn authenticate_with_radius(
        &self,
        req: &LoginRequest,
        random: &[u8; 20],
        peer: IpAddr,
        radius_verdict: Option<bool>,
    ) -> Result<Accepted, ErrorCode> {
        if self.edition == Edition::Bridge {
            // VPN Bridge has no VPN-client capability (`b_vpn_client_connect`).
            return Err(ErrorCode::NOT_SUPPORTED);
        }
        let hub = self.hub(&req.hubname).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        if !hub.is_online() {
            return Err(ErrorCode::HUB_STOPPING);
        }
        let cfg = self.config.snapshot();
        let hub_cfg = cfg.hub(&req.hubname).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        // Source IP access control (`IsIpDeniedByAcList` in `ServerAccept`,
        // before authentication; vpncmd `AcAdd`).
        if rustether_proto::softether::access::ac_denies(&hub_cfg.ac_list, peer) {
            warn!(%peer, hub = %hub_cfg.name, "login refused by the hub's source IP access control list");
            return Err(ErrorCode::IP_ADDRESS_DENIED);
        }
        if let ClientAuth::Unsupported(_) = req.auth {
            return Err(ErrorCode::AUTHTYPE_NOT_SUPPORTED);
        }
        // The hub administrator logs in with the hub's SecurePassword, which
        // is HashPassword("administrator", pw) (docs/protocol-sslvpn.md §5.2).
        if req.username.eq_ignore_ascii_case("administrator") {
            let ok = match &req.auth {
                ClientAuth::Password { secure_password } => password::verify_secure_password(
                    &hub_cfg.secure_password,
                    random,
                    secure_password,
                ),
                ClientAuth::PlainPassword { password: pw } => password::constant_time_eq(
                    &password::hash_password("administrator", pw),
                    &hub_cfg.secure_password,
                ),
                _ => false,
            };
            if !ok {
                return Err(ErrorCode::AUTH_FAILED);
            }
            if password::constant_time_eq(
                &hub_cfg.secure_password,
                &password::hash_password("administrator", ""),
            ) && !peer.is_loopback()
            {
                return Err(ErrorCode::NULL_PASSWORD_LOCAL_ONLY);
            }
            // `ServerAccept`: the hub administrator runs with the default
            // policy plus MonitorPort and NoBroadcastLimiter.
            let mut policy = PolicyValues::default();
            policy.set_flag(PolicyId::MonitorPort, true);
            policy.set_flag(PolicyId::NoBroadcastLimiter, true);
            apply_hub_admin_options(hub_cfg, &mut policy);
            return self.finish_login(req, peer, hub, "administrator".into(), policy);
        }

        // Hub option MaxSession (0 = unlimited) → ERR_HUB_IS_BUSY
        // (docs/process-model.md §12.6). As SoftEther's `hub->NumSessions`
        // (src/Cedar/Protocol.c), it counts the sessions that logged in to
        // the hub, not local bridges or the hub's own cascades, and the hub
        // administrator (checked above) is not limited.
        // The hub administration option `max_sessions` counts the same way
        // (`ServerAccept`).
        let max_sessions = hub_admin_option(hub_cfg, opt::MAX_SESSIONS);
        if (hub_cfg.max_session != 0 || max_sessions != 0)
            && [hub_cfg.max_session, max_sessions]
                .iter()
                .any(|&m| m != 0 && self.logged_in_sessions(&req.hubname) >= m as usize)
        {
            return Err(ErrorCode::HUB_IS_BUSY);
        }

        // An unknown name may log in through the `*` user when it uses
        // RADIUS (`SamAuthUserByPlainPassword` with `ast`); the session
        // keeps the name the client gave.
        let (user, wildcard) = match hub_cfg.user(&req.username) {
            Some(u) => (u, false),
            None => hub_cfg
                .user("*")
                .filter(|u| matches!(u.auth, UserAuth::Radius { .. }))
                .filter(|_| matches!(req.auth, ClientAuth::PlainPassword { .. }))
                .map(|u| (u, true))
                .ok_or(ErrorCode::AUTH_FAILED)?,
        };
        // Anonymous users are accepted whatever authtype says (§5.4).
        let ok = match (&user.auth, &req.auth) {
            (UserAuth::Anonymous, _) => true,
            (UserAuth::Password { hash, .. }, ClientAuth::Password { secure_password }) => {
                password::verify_secure_password(hash, random, secure_password)
            }
            (UserAuth::Password { hash, .. }, ClientAuth::PlainPassword { password: pw }) => {
                password::constant_time_eq(&password::hash_password(&user.name, pw), hash)
            }
            (
                auth @ (UserAuth::UserCert { .. } | UserAuth::RootCert { .. }),
                ClientAuth::Certificate { cert, sign },
            ) => {
                let who = match auth {
                    UserAuth::UserCert { cert_der } => CertUser::Individual(cert_der),
                    UserAuth::RootCert {
                        serial,
                        common_name,
                    } => CertUser::SignedByTrustedCa {
                        common_name: common_name.as_deref(),
                        serial: serial.as_deref(),
                    },
                    _ => return Err(ErrorCode::AUTH_FAILED),
                };
                let now = i64::try_from(crate::clock::unix_ms() / 1000).unwrap_or(i64::MAX);
                let crl = crate::certauth::hub_crl(&hub_cfg.raw);
                match verify_cert_login(
                    cert,
                    sign,
                    random,
                    who,
                    &hub_cfg.trusted_certs(),
                    &crl,
                    now,
                ) {
                    Ok(()) => true,
                    Err(why) => {
                        warn!(
                            "login: {peer} user {} of hub {}: certificate refused: {why}",
                            user.name, hub_cfg.name
                        );
                        false
                    }
                }
            }
            (UserAuth::Radius { .. }, ClientAuth::PlainPassword { .. }) => {
                radius_verdict == Some(true)
            }
            _ => false,
        };
        if !ok {
            return Err(ErrorCode::AUTH_FAILED);
        }
        // Hub administration option `deny_empty_password` (`ServerAccept`):
        // anonymous users and users whose password is empty may log in only
        // from this host.
        let empty_password = match &user.auth {
            UserAuth::Anonymous => true,
            UserAuth::Password { hash, .. } => {
                password::constant_time_eq(hash, &password::hash_password(&user.name, ""))
            }
            _ => false,
        };
        if empty_password
            && !peer.is_loopback()
            && hub_admin_option(hub_cfg, opt::DENY_EMPTY_PASSWORD) != 0
        {
            warn!(%peer, user = %user.name, hub = %hub_cfg.name, "empty password refused from a remote host (hub option deny_empty_password)");
            return Err(ErrorCode::NULL_PASSWORD_LOCAL_ONLY);
        }
        // `ServerAccept`: the user's policy, else the group's, else
        // SoftEther's default policy.
        let policy = user
            .policy
            .as_ref()
            .or_else(|| {
                user.group
                    .as_deref()
                    .and_then(|g| {
                        hub_cfg
                            .groups
                            .iter()
                            .find(|x| x.name.eq_ignore_ascii_case(g))
                    })
                    .and_then(|g| g.policy.as_ref())
            })
            .map(|p| p.values())
            .unwrap_or_default();
        // `ExpireTime` is a SoftEther time (Unix ms − 9 h).
        if user.expire_time != 0
            && user.expire_time
                < rustether_proto::softether::time::from_unix_ms(crate::clock::unix_ms())
        {
            return Err(ErrorCode::ACCESS_DENIED);
        }
        if !policy.flag(PolicyId::Access) {
            return Err(ErrorCode::ACCESS_DENIED);
        }
        let username = if wildcard {
            req.username.clone()
        } else {
            user.name.clone()
        };
        let group = user.group.clone().unwrap_or_default();
        let mut policy = policy;
        apply_hub_admin_options(hub_cfg, &mut policy);
        drop(cfg);
        let mut accepted = self.finish_login(req, peer, hub, username, policy)?;
        accepted.group = group;
        Ok(accepted)
    }

    /// The policy part of `ServerAccept` (src/Cedar/Protocol.c) once the
    /// user is known: fills in `MaxConnection`/`TimeOut`, refuses monitor
    /// mode without `MonitorPort` (`ERR_MONITOR_MODE_DENIED`, 107) and
    /// bridge/routing mode under `NoBridge`+`NoRouting`
    /// (`ERR_BRIDGE_MODE_DENIED`, 108), forbids bridging and routing to a
    /// session that did not ask for it (its MAC table is limited), allows
    /// both to a session from this host, and enforces `MultiLogins`
    /// (`ERR_TOO_MANY_USER_SESSION`, 20).
    fn finish_login(
        &self,
        req: &LoginRequest,
        peer: IpAddr,
        hub: Arc<Hub>,
        username: String,
        mut policy: PolicyValues,
    ) -> Result<Accepted, ErrorCode> {
        if policy.get(PolicyId::MaxConnection) == 0 {
            policy.set(PolicyId::MaxConnection, crate::session::MAX_TCP_CONNECTION);
        }
        if policy.get(PolicyId::TimeOut) == 0 {
            policy.set(PolicyId::TimeOut, DEFAULT_TIMEOUT_MS / 1000);
        }
        if req.require_monitor_mode && !policy.flag(PolicyId::MonitorPort) {
            warn!(%peer, user = %username, "monitor mode refused by the policy (MonitorPort is off)");
            return Err(ErrorCode::MONITOR_MODE_DENIED);
        }
        let monitor = req.require_monitor_mode;
        policy.set_flag(PolicyId::MonitorPort, monitor);
        let bridge_mode = requests_bridge_mode(req);
        if bridge_mode && policy.flag(PolicyId::NoBridge) && policy.flag(PolicyId::NoRouting) {
            warn!(%peer, user = %username, "bridge/routing mode refused by the policy (NoBridge and NoRouting)");
            return Err(ErrorCode::BRIDGE_MODE_DENIED);
        }
        if !bridge_mode {
            policy.set_flag(PolicyId::NoBridge, true);
            policy.set_flag(PolicyId::NoRouting, true);
        }
        if peer.is_loopback() {
            // SoftEther's `local_host_session`.
            policy.set_flag(PolicyId::NoBridge, false);
            policy.set_flag(PolicyId::NoRouting, false);
        }
        let max_logins = policy.get(PolicyId::MultiLogins);
        if max_logins != 0 {
            // Counted as SoftEther does: the user's sessions of this hub
            // that are not bridge, routing or cascade sessions and have a
            // TCP connection (`CurrentNumTcp != 0`: one waiting for its
            // client to resume it does not count).
            let num = self
                .sessions
                .all()
                .iter()
                .filter(|s| {
                    Arc::ptr_eq(&s.hub, &hub)
                        && s.role == crate::session::Role::Server
                        && !s.info.bridge_mode
                        && !s.has_ended()
                        && s.connection_count() != 0
                        && s.info.username.eq_ignore_ascii_case(&username)
                })
                .count();
            if num >= max_logins as usize {
                warn!(%peer, user = %username, "too many concurrent sessions: MultiLogins is {max_logins}, {num} exist");
                return Err(ErrorCode::TOO_MANY_USER_SESSION);
            }
        }
        for d in policy.unenforced_in_use() {
            warn!(
                user = %username,
                "policy {} is set but RustEther does not enforce it (docs/policies.md)",
                d.name
            );
        }
        let timeout_ms = (policy.get(PolicyId::TimeOut).saturating_mul(1000)).clamp(5_000, 60_000);
        let max_connection = policy
            .get(PolicyId::MaxConnection)
            .min(crate::session::MAX_TCP_CONNECTION);
        Ok(Accepted {
            hub,
            username,
            timeout_ms,
            max_connection,
            policy,
            bridge_mode,
            monitor,
            group: String::new(),
        })
    }
}

/// Value of hub administration option `name` of `hub` (0 when unset;
/// `GetHubAdminOption`, src/Cedar/Hub.c).
fn hub_admin_option(hub: &rustether_config::HubConfig, name: &str) -> u32 {
    hub.raw
        .folder("AdminOption")
        .and_then(|f| f.get_uint(name))
        .unwrap_or(0)
}

/// The hub administration options `ServerAccept` forces into every
/// session's policy (src/Cedar/Protocol.c): `deny_qos` → `NoQoS`,
/// `max_bitrates_download`/`max_bitrates_upload` → `MaxDownload`/
/// `MaxUpload` (the smaller when both are set), `deny_bridge` →
/// `NoBridge`, `deny_routing` → `NoRouting`, `max_multilogins_per_user` →
/// `MultiLogins` (the smaller when both are set).
fn apply_hub_admin_options(hub: &rustether_config::HubConfig, policy: &mut PolicyValues) {
    let min_nonzero = |a: u32, b: u32| match (a, b) {
        (0, b) => b,
        (a, 0) => a,
        (a, b) => a.min(b),
    };
    if hub_admin_option(hub, opt::DENY_QOS) != 0 {
        policy.set_flag(PolicyId::NoQoS, true);
    }
    for (name, id) in [
        (opt::MAX_BITRATES_DOWNLOAD, PolicyId::MaxDownload),
        (opt::MAX_BITRATES_UPLOAD, PolicyId::MaxUpload),
        (opt::MAX_MULTILOGINS_PER_USER, PolicyId::MultiLogins),
    ] {
        let v = hub_admin_option(hub, name);
        if v != 0 {
            policy.set(id, min_nonzero(policy.get(id), v));
        }
    }
    if hub_admin_option(hub, opt::DENY_BRIDGE) != 0 {
        policy.set_flag(PolicyId::NoBridge, true);
    }
    if hub_admin_option(hub, opt::DENY_ROUTING) != 0 {
        policy.set_flag(PolicyId::NoRouting, true);
    }
}

/// Whether a login asks for bridge/routing mode: `require_bridge_routing_mode`
/// (cascades and VPN Bridge set it), or a client string naming a server or
/// bridge.
pub fn requests_bridge_mode(req: &LoginRequest) -> bool {
    let cs = req.client_str.to_ascii_lowercase();
    req.require_bridge_routing_mode || cs.contains("server") || cs.contains("bridge")
}

/// Cascades and local bridges: started with the worker and by administration.
impl Server {
    /// Starts every online cascade and every configured local bridge.
    /// Failures are logged and shown in the bridge/cascade status; they never
    /// stop the server (the manuals: the local bridge may be unavailable in
    /// User Mode).
    pub fn start_links(self: &Arc<Self>) {
        let (cascades, bridges, no_offload) = self.with_config(|c| {
            let cascades: Vec<(String, rustether_config::CascadeConfig)> = c
                .hubs
                .iter()
                .flat_map(|h| h.cascades.iter().map(move |x| (h.name.clone(), x.clone())))
                .filter(|(_, x)| x.online)
                .collect();
            (
                cascades,
                c.local_bridges.clone(),
                c.do_not_disable_offloading,
            )
        });
        for (hub, cfg) in cascades {
            self.start_cascade(&hub, cfg);
        }
        for b in bridges {
            if let Err(e) = self.start_bridge(&b, !no_offload) {
                warn!(
                    "local bridge {} on hub {} is unavailable: {e}",
                    b.device_name, b.hub_name
                );
            }
        }
        let nats: Vec<String> = self.with_config(|c| {
            c.hubs
                .iter()
                .filter(|h| h.online && crate::securenat::settings_from_hub(&h.raw).enabled)
                .map(|h| h.name.clone())
                .collect()
        });
        for hub in nats {
            self.start_securenat(&hub);
        }
        let switches: Vec<String> = self.with_config(|c| {
            crate::l3::switches_from_root(&c.raw)
                .into_iter()
                .filter(|s| s.active)
                .map(|s| s.name)
                .collect()
        });
        for name in switches {
            self.start_l3(&name);
        }
    }

    /// Starts the Virtual Layer 3 Switch `name` as configured, unless it
    /// runs or has no interface (`L3SwStart`).
    pub fn start_l3(self: &Arc<Self>, name: &str) {
        let key = name.to_ascii_uppercase();
        if self.l3.lock().contains_key(&key) {
            return;
        }
        let Some(cfg) = self.with_config(|c| {
            crate::l3::switches_from_root(&c.raw)
                .into_iter()
                .find(|s| s.name.eq_ignore_ascii_case(name))
        }) else {
            return;
        };
        if cfg.ifs.is_empty() {
            return;
        }
        let me = Arc::downgrade(self);
        let lookup: crate::l3::HubLookup =
            Arc::new(move |hub: &str| me.upgrade().and_then(|s| s.hub(hub)));
        let port = crate::l3::start(cfg, lookup, self.sessions.clone(), self.shutdown_signal());
        self.l3.lock().insert(key, port);
    }

    /// Stops the Virtual Layer 3 Switch `name` if it runs (`L3SwStop`).
    pub fn stop_l3(&self, name: &str) {
        if let Some(p) = self.l3.lock().remove(&name.to_ascii_uppercase()) {
            p.stop();
        }
    }

    /// The started Virtual Layer 3 Switch `name`.
    pub fn l3(&self, name: &str) -> Option<Arc<crate::l3::L3Port>> {
        self.l3.lock().get(&name.to_ascii_uppercase()).cloned()
    }

    /// Every started Virtual Layer 3 Switch.
    pub fn l3_all(&self) -> Vec<Arc<crate::l3::L3Port>> {
        self.l3.lock().values().cloned().collect()
    }

    /// Starts (or restarts) SecureNAT on `hub` with its configured settings.
    /// Invalid settings were already replaced by the defaults when read.
    pub fn start_securenat(&self, hub_name: &str) {
        let Some(hub) = self.hub(hub_name) else {
            return;
        };
        let Some(cfg) = self.with_config(|c| {
            c.hub(hub_name)
                .map(|h| crate::securenat::settings_from_hub(&h.raw))
        }) else {
            return;
        };
        let book = self.lease_book(hub_name);
        match crate::securenat::start(
            hub,
            cfg.opt,
            cfg.limits,
            Some(book),
            &self.sessions,
            self.shutdown_signal(),
        ) {
            Ok(p) => {
                if let Some(old) = self.securenats.lock().insert(hub_key(hub_name), p) {
                    old.stop();
                }
            }
            Err(e) => warn!("SecureNAT on hub {hub_name} cannot start: {e}"),
        }
    }

    /// The lease book of `hub` (created on first use: then the lease file
    /// is read for it, and a task saves the file whenever it changes).
    fn lease_book(&self, hub: &str) -> crate::securenat::LeaseBook {
        use crate::securenat::{leases_from_text, LEASE_FILE, MAX_LEASE_FILE};
        let key = hub_key(hub);
        if let Some(b) = self.lease_books.lock().get(&key) {
            return b.clone();
        }
        let file = self
            .config_path()
            .parent()
            .map(|d| d.join(LEASE_FILE))
            .unwrap_or_else(|| LEASE_FILE.into());
        let saved = std::fs::File::open(&file)
            .and_then(|f| {
                let mut t = String::new();
                std::io::Read::read_to_string(&mut std::io::Read::take(f, MAX_LEASE_FILE), &mut t)
                    .map(|_| t)
            })
            .map(|t| leases_from_text(&t))
            .unwrap_or_default()
            .into_iter()
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v)
            .unwrap_or_default();
        let (tx, mut rx) = watch::channel(saved);
        let book = Arc::new(tx);
        let books = self.lease_books.lock().entry(key).or_insert(book).clone();
        // Saves the whole file after each change (DHCP ACKs, releases and
        // expiries are rare); ends when the book is dropped.
        let all = Arc::downgrade(&self.lease_books);
        tokio::spawn(async move {
            while rx.changed().await.is_ok() {
                let Some(all) = all.upgrade() else { break };
                let mut snap: Vec<_> = all
                    .lock()
                    .iter()
                    .map(|(k, b)| (k.clone(), b.borrow().clone()))
                    .collect();
                drop(all);
                snap.sort_by(|a, b| a.0.cmp(&b.0));
                let text = crate::securenat::leases_to_text(&snap);
                let f = file.clone();
                let r = tokio::task::spawn_blocking(move || {
                    let tmp = f.with_extension("tmp");
                    std::fs::write(&tmp, text).and_then(|()| std::fs::rename(&tmp, &f))
                })
                .await;
                if let Ok(Err(e)) = r {
                    warn!("SecureNAT: cannot save {}: {e}", file.display());
                }
            }
        });
        books
    }

    /// Forgets the DHCP leases of `hub` (the hub was deleted).
    pub fn forget_securenat_leases(&self, hub: &str) {
        if let Some(b) = self.lease_books.lock().remove(&hub_key(hub)) {
            // Wakes the saver, which writes the file without this hub.
            b.send_replace(Vec::new());
        }
    }

    /// The running SecureNAT of `hub`.
    pub fn securenat(&self, hub: &str) -> Option<Arc<SecureNatPort>> {
        self.securenats.lock().get(&hub_key(hub)).cloned()
    }

    /// Stops SecureNAT on `hub` if it runs.
    pub fn stop_securenat(&self, hub: &str) {
        if let Some(p) = self.securenats.lock().remove(&hub_key(hub)) {
            p.stop();
        }
    }

    /// `EnableSecureNAT`/`DisableSecureNAT`: saves the flag in the hub's
    /// `SecureNAT` folder, then starts or stops it. Errors: no such hub (8).
    pub async fn set_securenat_enabled(
        self: &Arc<Self>,
        hub: &str,
        enabled: bool,
    ) -> Result<(), ErrorCode> {
        let h = hub.to_owned();
        self.update_config(move |c| {
            let h = c.hub_mut(&h).ok_or(ErrorCode::HUB_NOT_FOUND)?;
            let cur = crate::securenat::settings_from_hub(&h.raw);
            crate::securenat::store_in_hub(&mut h.raw, enabled, &cur.opt);
            Ok(())
        })
        .await?;
        if enabled {
            self.start_securenat(hub);
        } else {
            self.stop_securenat(hub);
        }
        Ok(())
    }

    fn start_cascade(&self, hub_name: &str, cfg: rustether_config::CascadeConfig) {
        let Some(hub) = self.hub(hub_name) else {
            return;
        };
        let key = (hub_key(hub_name), cfg.account_name.to_ascii_lowercase());
        let c = crate::cascade::spawn(hub, cfg, self.sessions.clone(), self.shutdown_signal());
        if let Some(old) = self.cascades.lock().insert(key, c) {
            tokio::spawn(async move { old.stop().await });
        }
    }

    /// The running cascade `name` of `hub`, if online.
    pub fn cascade(&self, hub: &str, name: &str) -> Option<Arc<Cascade>> {
        self.cascades
            .lock()
            .get(&(hub_key(hub), name.to_ascii_lowercase()))
            .cloned()
    }

    /// Status of a configured cascade (Offline when not running).
    pub fn cascade_status(&self, hub: &str, name: &str) -> CascadeStatus {
        self.cascade(hub, name)
            .map(|c| c.status())
            .unwrap_or(CascadeStatus::Offline)
    }

    /// Sets a cascade online or offline: saves the flag, then starts or stops
    /// it. Errors: no such hub (8) or cascade (`OBJECT_NOT_FOUND`).
    pub async fn set_cascade_online(
        self: &Arc<Self>,
        hub: &str,
        name: &str,
        online: bool,
    ) -> Result<(), ErrorCode> {
        let (h, n) = (hub.to_owned(), name.to_owned());
        let cfg = self
            .update_config(move |c| {
                let h = c.hub_mut(&h).ok_or(ErrorCode::HUB_NOT_FOUND)?;
                let x = h.cascade_mut(&n).ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
                x.online = online;
                Ok(x.clone())
            })
            .await?;
        self.restart_cascade(hub, name, online.then_some(cfg)).await;
        Ok(())
    }

    /// Stops the running instance of a cascade and, with `cfg`, starts it
    /// again with that configuration (after CascadeSet or CascadeOnline).
    pub async fn restart_cascade(
        &self,
        hub: &str,
        name: &str,
        cfg: Option<rustether_config::CascadeConfig>,
    ) {
        let old = self
            .cascades
            .lock()
            .remove(&(hub_key(hub), name.to_ascii_lowercase()));
        if let Some(old) = old {
            old.stop().await;
        }
        if let Some(cfg) = cfg {
            self.start_cascade(hub, cfg);
        }
    }

    /// Starts a local bridge for `cfg` and keeps it.
    ///
    /// Errors: no such hub, missing capability (the text names it),
    /// device errors.
    pub fn start_bridge(
        &self,
        cfg: &rustether_config::LocalBridgeConfig,
        disable_offloads: bool,
    ) -> Result<Arc<LocalBridge>, String> {
        let hub = self
            .hub(&cfg.hub_name)
            .ok_or_else(|| format!("virtual hub {} does not exist", cfg.hub_name))?;
        let b = crate::bridge::start(
            hub,
            cfg,
            disable_offloads,
            &self.sessions,
            self.shutdown_signal(),
        )
        .map_err(|e| e.to_string())?;
        self.bridges.lock().push(b.clone());
        Ok(b)
    }

    /// Running local bridges.
    pub fn bridges(&self) -> Vec<Arc<LocalBridge>> {
        self.bridges.lock().clone()
    }

    /// Stops and forgets the running bridge of `hub` on `device`.
    pub async fn stop_bridge(&self, hub: &str, device: &str) {
        let found: Vec<Arc<LocalBridge>> = {
            let mut v = self.bridges.lock();
            let (stop, keep) = v
                .drain(..)
                .partition(|b| b.hub.name().eq_ignore_ascii_case(hub) && b.device_name == device);
            *v = keep;
            stop
        };
        for b in found {
            b.stop().await;
        }
    }

    /// Stops every cascade and bridge (shutdown), restoring device state.
    pub async fn stop_links(&self) {
        let cascades: Vec<_> = self.cascades.lock().drain().map(|(_, c)| c).collect();
        for c in cascades {
            c.stop().await;
        }
        let bridges: Vec<_> = self.bridges.lock().drain(..).collect();
        for b in bridges {
            b.stop().await;
        }
        let nats: Vec<_> = self.securenats.lock().drain().map(|(_, p)| p).collect();
        for p in nats {
            p.stop();
        }
        let switches: Vec<_> = self.l3.lock().drain().map(|(_, p)| p).collect();
        for p in switches {
            p.stop();
        }
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

/// `ServerConfiguration/CipherName` of `cfg` ([`tls::DEFAULT_CIPHER`] if
/// unset).
fn cipher_name(cfg: &ServerConfig) -> String {
    cfg.server.cipher_name.clone()
}

/// The rustls configuration for `ck` with the suites of `cipher`; a cipher
/// setting without a usable suite (e.g. SoftEther's old `RC4-MD5`) falls
/// back to every suite, logged.
///
/// Errors: the certificate or key are unusable.
fn tls_for(ck: &CertifiedKey, cipher: &str) -> anyhow::Result<Arc<rustls::ServerConfig>> {
    match tls::cipher_suites(cipher) {
        Ok(_) => tls::server_config_with_ciphers(ck, cipher),
        Err(e) => {
            warn!("CipherName: {e}; using every suite");
            tls::server_config(ck)
        }
    }
}
