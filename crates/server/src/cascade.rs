//! Cascade connections: a session of a local virtual hub that logs in, as a
//! client, to a virtual hub of a remote VPN Server and joins the two hubs
//! at layer 2 (docs/process-model.md §11; SoftEther `src/Cedar/Link.c`).
//!
//! The cascade reconnects after any failure or disconnection every
//! `RetryInterval` (10 s by default) ± 20 %, or 60 s after "hub busy"-type
//! errors, and reports one of four statuses: Offline, Connecting, Online,
//! Error.

use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use rand::Rng;
use rustether_config::{CascadeAuth, CascadeConfig};
use rustether_proto::messages::{client_max_connection, ClientAuth, Direction, LoginRequest};
use rustether_proto::password::secure_password;
use rustether_proto::ErrorCode;
use tokio::sync::{watch, Notify};
use tracing::{info, warn};

use crate::client::{self, ClientTarget};
use crate::hub::Hub;
use crate::session::{self, NewConnection, Registry, SessionInfo, SessionParams, SessionStart};

/// Status of a cascade as vpncmd's CascadeList shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CascadeStatus {
    /// Not started (`Offline (Stopped)`).
    Offline,
    /// Trying to connect, no error yet (`Connecting`).
    Connecting,
    /// Session established (`Online (Established)`).
    Online {
        /// Session name the remote server gave us.
        remote_session: String,
        /// Local hub session name.
        local_session: String,
        /// When it was established, ms since 1970.
        since_unix_ms: u64,
        /// TCP connections in use.
        connections: u32,
    },
    /// Last attempt failed (`Error <code>: <text>`).
    Error {
        /// SoftEther error code.
        code: ErrorCode,
        /// Detail.
        message: String,
    },
}

impl CascadeStatus {
    /// The text vpncmd's `CascadeList` prints (docs/process-model.md §11.4).
    pub fn display_text(&self) -> String {
        match self {
            CascadeStatus::Offline => "Offline (Stopped)".into(),
            CascadeStatus::Connecting => "Connecting".into(),
            CascadeStatus::Online { .. } => "Online (Established)".into(),
            CascadeStatus::Error { code, .. } => format!("Error {}: {}", code.0, code.message()),
        }
    }
}

/// A running cascade connection.
pub struct Cascade {
    /// Name of the cascade (unique per hub, case-insensitive).
    pub name: String,
    /// Local hub.
    pub hub: Arc<Hub>,
    status: Mutex<CascadeStatus>,
    current: Mutex<Option<Arc<session::Session>>>,
    stop: Notify,
    stopped: watch::Sender<bool>,
}

impl std::fmt::Debug for Cascade {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cascade").field("name", &self.name).finish()
    }
}

impl Cascade {
    /// Current status.
    pub fn status(&self) -> CascadeStatus {
        self.status.lock().clone()
    }

    fn set(&self, s: CascadeStatus) {
        *self.status.lock() = s;
    }

    /// Stops the cascade (CascadeOffline, deletion, shutdown) and waits
    /// (bounded) until its session has ended.
    pub async fn stop(&self) {
        let mut rx = self.stopped.subscribe();
        self.stop.notify_one();
        if let Some(s) = self.current.lock().take() {
            s.disconnect();
        }
        let _ = tokio::time::timeout(Duration::from_secs(3), rx.wait_for(|v| *v)).await;
    }
}

/// Starts a cascade on `hub` with configuration `cfg`.
pub fn spawn(
    hub: Arc<Hub>,
    cfg: CascadeConfig,
    registry: Arc<Registry>,
    shutdown: watch::Receiver<bool>,
) -> Arc<Cascade> {
    let (stopped, _) = watch::channel(false);
    let c = Arc::new(Cascade {
        name: cfg.account_name.clone(),
        hub,
        status: Mutex::new(CascadeStatus::Connecting),
        current: Mutex::new(None),
        stop: Notify::new(),
        stopped,
    });
    tokio::spawn(run(c.clone(), cfg, registry, shutdown));
    c
}

/// Errors after which SoftEther waits 60 s (docs/process-model.md §11.3).
fn long_wait(code: ErrorCode) -> bool {
    [
        ErrorCode::HUB_IS_BUSY,
        ErrorCode::LICENSE_ERROR,
        ErrorCode::HUB_STOPPING,
        ErrorCode::TOO_MANY_USER_SESSION,
    ]
    .contains(&code)
}

async fn run(
    c: Arc<Cascade>,
    cfg: CascadeConfig,
    registry: Arc<Registry>,
    mut shutdown: watch::Receiver<bool>,
) {
    let target = ClientTarget {
        host: cfg.hostname.clone(),
        port: cfg.port,
        source: None,
        // Checked at every connect and reconnect, after name resolution.
        not_this_host: cfg.set_by_hub_admin,
    };
    let base_ms = u64::from(cfg.retry_interval_secs.max(1)) * 1000;
    let base_ms = base_ms.clamp(5_000, 300_000);
    let mut attempt: u64 = 0;
    loop {
        attempt += 1;
        info!(hub = %c.hub.name(), cascade = %c.name, "starting cascade connection: attempt {attempt}");
        if !matches!(c.status(), CascadeStatus::Error { .. }) {
            c.set(CascadeStatus::Connecting);
        }
        let session_shutdown = shutdown.clone();
        let wait_ms = tokio::select! {
            r = connect_and_run(&c, &cfg, &target, &registry, &session_shutdown) => match r {
                // Established and later disconnected: start counting again.
                Ok(()) => { attempt = 0; base_ms }
                Err(e) => {
                    warn!(hub = %c.hub.name(), cascade = %c.name, "cascade connection failed: {e}");
                    let wait = if long_wait(e.code) { 60_000 } else { base_ms };
                    c.set(CascadeStatus::Error { code: e.code, message: e.detail });
                    wait
                }
            },
            _ = c.stop.notified() => break,
            _ = shutdown.changed() => break,
        };
        let jitter = if wait_ms >= 1000 {
            rand::thread_rng().gen_range(wait_ms * 8 / 10..=wait_ms * 12 / 10)
        } else {
            wait_ms
        };
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_millis(jitter)) => {}
            _ = c.stop.notified() => break,
            _ = shutdown.changed() => break,
        }
    }
    c.set(CascadeStatus::Offline);
    info!(hub = %c.hub.name(), cascade = %c.name, "the cascade connection has stopped");
    // send_replace stores the value even when nobody is subscribed yet.
    c.stopped.send_replace(true);
}

fn build_login(
    cfg: &CascadeConfig,
    random: &[u8; 20],
) -> Result<LoginRequest, client::ClientError> {
    let unsupported = |what: &str| client::ClientError {
        code: ErrorCode::NOT_SUPPORTED,
        detail: format!("{what} authentication is not supported for cascades"),
    };
    let (username, auth) = match &cfg.auth {
        CascadeAuth::Anonymous { username } => (username.clone(), ClientAuth::Anonymous),
        CascadeAuth::HashedPassword { username, hash } => (
            username.clone(),
            ClientAuth::Password {
                secure_password: secure_password(hash, random).to_vec(),
            },
        ),
        CascadeAuth::PlainPassword { username, password } => (
            username.clone(),
            ClientAuth::PlainPassword {
                password: password.clone(),
            },
        ),
        CascadeAuth::Certificate { .. } => return Err(unsupported("certificate")),
        CascadeAuth::Unsupported { .. } => return Err(unsupported("this")),
    };
    let mut req = LoginRequest::cascade(&cfg.hub_name, &username, [0; 20], unique_id());
    req.auth = auth;
    req.max_connection = cfg.max_connection.clamp(1, 32);
    req.use_encrypt = cfg.use_encrypt;
    req.use_compress = cfg.use_compress;
    req.half_connection = cfg.half_connection && cfg.max_connection >= 2;
    req.qos = !cfg.disable_qos;
    Ok(req)
}

/// A stable per-process machine id for `unique_id`.
fn unique_id() -> [u8; 20] {
    static ID: std::sync::OnceLock<[u8; 20]> = std::sync::OnceLock::new();
    *ID.get_or_init(|| {
        let src = std::fs::read("/etc/machine-id").unwrap_or_else(|_| b"rustether".to_vec());
        rustether_proto::sha0::sha0(&src)
    })
}

async fn connect_and_run(
    c: &Arc<Cascade>,
    cfg: &CascadeConfig,
    target: &ClientTarget,
    registry: &Arc<Registry>,
    shutdown: &watch::Receiver<bool>,
) -> Result<(), client::ClientError> {
    let mut login_err = None;
    let (welcome, first) = client::login(target, |hello| match build_login(cfg, &hello.random) {
        Ok(r) => r,
        Err(e) => {
            login_err = Some(e);
            // A request the server refuses; we report our own error below.
            LoginRequest::cascade(&cfg.hub_name, "", [0; 20], [0; 20])
        }
    })
    .await
    .map_err(|e| login_err.take().unwrap_or(e))?;
    if let Some(pinned) = cfg
        .server_cert_der
        .as_ref()
        .filter(|_| cfg.check_server_cert)
    {
        if *pinned != first.server_cert {
            return Err(client::ClientError {
                code: ErrorCode::CERT_NOT_TRUSTED,
                detail: "the server certificate differs from the saved one".into(),
            });
        }
    }
    let cert = first.server_cert.clone();
    let peer = first.peer;
    let want = client_max_connection(
        welcome.max_connection,
        cfg.max_connection.clamp(1, 32),
        welcome.half_connection,
        welcome.qos,
    );
    let params = SessionParams {
        max_connection: want,
        use_encrypt: welcome.use_encrypt,
        use_compress: welcome.use_compress,
        half_connection: welcome.half_connection,
        qos: welcome.qos,
        timeout_ms: welcome.timeout_ms,
    };
    let (stream, leftover) = first.into_data(welcome.use_encrypt);
    let first_dir = if welcome.half_connection {
        Direction::ClientToServer
    } else {
        Direction::Both
    };
    let n = c.hub.next_session_number();
    let local_name = format!("SID-LINK-{n}");
    let session = session::spawn(
        registry,
        SessionStart {
            hub: c.hub.clone(),
            name: local_name.clone(),
            key: welcome.session_key,
            params,
            info: SessionInfo {
                username: format!("Cascade {}", c.name),
                client_addr: peer,
                client_str: "Cascade".into(),
                client_hostname: cfg.hostname.clone(),
                created_unix_ms: crate::clock::unix_ms(),
                bridge_mode: true,
                server_side: true,
            },
            policy: rustether_hub::SessionPolicy::default(),
            limits: session::SessionLimits::default(),
            role: session::Role::Client,
            udp: None,
            // Our cascade logs in again with a new session instead.
            resumable: false,
        },
        NewConnection {
            stream,
            leftover,
            direction: first_dir,
            peer,
        },
        shutdown.clone(),
    );
    *c.current.lock() = Some(session.clone());
    info!(
        hub = %c.hub.name(),
        cascade = %c.name,
        remote = %welcome.session_name,
        local = %local_name,
        "the cascade connection is established"
    );
    c.set(CascadeStatus::Online {
        remote_session: welcome.session_name.clone(),
        local_session: local_name,
        since_unix_ms: crate::clock::unix_ms(),
        connections: 1,
    });
    // Additional connections, one per second like SoftEther's client.
    let mut have = 1;
    while have < want && !session.has_ended() {
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = session.wait_ended() => break,
        }
        match client::additional_connect(target, welcome.session_key, &cert).await {
            Ok((dir, conn)) => {
                let (stream, leftover) = conn.into_data(welcome.use_encrypt);
                let ok = session
                    .add_connection(NewConnection {
                        stream,
                        leftover,
                        direction: dir,
                        peer,
                    })
                    .await
                    .is_ok();
                if !ok {
                    break;
                }
                have += 1;
                if let CascadeStatus::Online { connections, .. } = &mut *c.status.lock() {
                    *connections = have;
                }
            }
            Err(e) => {
                warn!(cascade = %c.name, "additional connection failed: {e}");
                break;
            }
        }
    }
    session.wait_ended().await;
    *c.current.lock() = None;
    info!(hub = %c.hub.name(), cascade = %c.name, "the cascade session has ended");
    c.set(CascadeStatus::Error {
        code: ErrorCode::DISCONNECTED,
        message: "the cascade session was disconnected".into(),
    });
    Ok(())
}
