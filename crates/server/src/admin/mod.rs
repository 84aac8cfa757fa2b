//! Administration of the running server: the SoftEther admin RPC that the
//! real `vpncmd` speaks (`method=admin` logins on every listener, then
//! length-prefixed PACK calls) and the JSON-RPC web API at `/api/` on the
//! same HTTPS listeners (docs/admin-rpc.md §3, §4, §9). The protocol logic is the
//! sans-IO crate `rustether-admin`; this module does the I/O, the login
//! checks against the live configuration and the [`AdminBackend`] over
//! [`Server`] and the worker's [`Listeners`] (`backend/`, one file per RPC
//! family as in `rustether_admin::rpc`). Its state (the login throttle,
//! the call lock) lives in [`Admin`], beside the server, not in it.
//!
//! Rules beyond SoftEther (issue 5, item 4), all enforced here:
//!
//! * With no server administrator password, server administration is
//!   accepted only from the server's own addresses (loopback, every address
//!   of its interfaces, the address the connection came in on); others get
//!   error 51. A wrong password is answered with error 9, never 12 (vpncmd
//!   would prompt for a password and hang in scripts).
//! * Failed logins are rate-limited per (source address, account) and per
//!   source ([`rustether_admin::throttle`]): after 3 failures at one
//!   account (20 over all accounts) a source must wait 1 s, then 2 s, 4 s
//!   … at most 30 s; another account's success does not reset the count. A login attempt that arrives during
//!   the wait is held for the rest of it and then refused (error 9 / HTTP
//!   401) without the password being checked, so guessing is slowed down
//!   even by a client that retries at once.
//! * Hub administrators are confined to their hub (the dispatcher's rights
//!   checks); their cascades never connect to this server itself
//!   (`CascadeConfig::set_by_hub_admin`, checked in [`crate::client`]).
//! * A vpncmd connection is closed when the password it logged in with
//!   changes or its hub is deleted, and after `AdminIdleTimeout` seconds
//!   (default 900, [`admin_idle_timeout`]) without a call; JSON-RPC checks credentials on every request, and runs
//!   changing methods only from JSON POSTs (`web`).
//! * With `AllowLocalEmptyPasswordAdmin` false, no source counts as local.
//! * Every login and every call is logged with its source address, e.g.
//!   `admin: 10.231.0.11 CreateUser hub=DEFAULT ok`.
//! * Calls are processed one at a time (SoftEther's `CedarSuperLock`), on
//!   tokio's blocking pool (a change saves the configuration with fsyncs;
//!   logins and the data path never wait for it), and a call that changes
//!   the configuration has saved it atomically before its answer is sent.

mod backend;
mod console;
mod convert;
mod sys;
#[cfg(test)]
mod tests;
mod web;

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use parking_lot::Mutex;
use rustether_admin::framing::{encode_frame, error_response, RpcFrameDecoder, RpcRequest};
use rustether_admin::login::{
    is_local_source, verify_admin_login, AdminLoginRequest, HubAdminEntry, LoginSource,
};
use rustether_admin::throttle::{admin_account, Admission, LoginThrottle, THROTTLED_ERROR};
use rustether_admin::{
    dispatch_call, AdminBackend, AdminRights, Caller, DispatchOutcome, RpcFunction,
};
use rustether_proto::negotiate::ServerNegotiation;
use rustether_proto::ErrorCode;
use rustether_proto::Pack;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::{info, warn};

pub use backend::{MAX_HUBS, MAX_USERS_PER_HUB};
pub(crate) use web::web_request;

use crate::listener::Listeners;
use crate::server::Server;
use crate::transport::{reply_error, ServerTls};

/// The administration of a running server: what it administers (the
/// server and the worker's listeners) and the state shared by all admin
/// connections.
pub struct Admin {
    server: Arc<Server>,
    listeners: Arc<Listeners>,
    throttle: Mutex<LoginThrottle>,
    /// Login attempts refused by the throttle without a password check.
    throttled: std::sync::atomic::AtomicU64,
    /// One call at a time, including the work it waits for.
    calls: tokio::sync::Mutex<()>,
}

impl std::fmt::Debug for Admin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Admin")
            .field("throttled_sources", &self.throttle.lock().len())
            .finish_non_exhaustive()
    }
}

impl Admin {
    /// The administration of `server`, opening and closing ports through
    /// `listeners`.
    pub fn new(server: Arc<Server>, listeners: Arc<Listeners>) -> Admin {
        Admin {
            server,
            listeners,
            throttle: Mutex::new(LoginThrottle::default()),
            throttled: std::sync::atomic::AtomicU64::new(0),
            calls: tokio::sync::Mutex::new(()),
        }
    }

    /// Administrator logins refused by the throttle so far (vpncmd and
    /// JSON-RPC), each without its password being checked.
    pub fn throttled_logins(&self) -> u64 {
        self.throttled.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// The administered server.
    pub fn server(&self) -> &Arc<Server> {
        &self.server
    }

    /// The listeners it opens and closes.
    pub fn listeners(&self) -> &Arc<Listeners> {
        &self.listeners
    }

    /// Makes listeners, cascades and local bridges match the configuration
    /// (after `SetConfig`): ports no longer configured or disabled are
    /// closed, new enabled ones opened; every running cascade is stopped and
    /// the online ones started again; every local bridge is stopped and the
    /// configured ones started again. Sessions of hubs that still exist
    /// keep running.
    pub async fn reload(&self) {
        let (wanted, listen_ip): (Vec<u16>, _) = self.server.with_config(|c| {
            let ports = c
                .listeners
                .iter()
                .filter(|l| l.enabled && l.port != 0)
                .map(|l| l.port)
                .collect();
            (ports, c.server.listen_ip)
        });
        self.listeners.set_listen_ip(listen_ip);
        self.listeners.sync(&wanted);
        self.server.stop_links().await;
        self.server.start_links();
    }
}

/// What the throttle says about a login attempt from `ip` at `account`
/// ([`admin_account`]). On `Err` the attempt has already been held for the
/// remaining wait (at most 30 s) and must be refused without checking the
/// password.
async fn admit(admin: &Admin, ip: IpAddr, account: &str, via: &str) -> Result<Instant, ErrorCode> {
    let now = Instant::now();
    let admission = admin.throttle.lock().check(ip, account, now);
    match admission {
        Admission::Allowed => Ok(now),
        Admission::Throttled { retry_after } => {
            admin
                .throttled
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            warn!(
                "admin: {ip} {via} login throttled after repeated failures; refused after {} ms",
                retry_after.as_millis()
            );
            tokio::time::sleep(retry_after.min(Duration::from_secs(30))).await;
            Err(THROTTLED_ERROR)
        }
    }
}

/// Records the outcome of a checked login at `account` in the throttle.
/// Protocol errors and the "empty password only from the server itself"
/// refusal are not password guesses and are not counted.
fn record_login(
    admin: &Admin,
    ip: IpAddr,
    account: &str,
    at: Instant,
    result: Result<(), ErrorCode>,
) {
    let mut t = admin.throttle.lock();
    match result {
        Ok(()) => t.record_success(ip, account),
        Err(e) if e == ErrorCode::PROTOCOL_ERROR || e == ErrorCode::NULL_PASSWORD_LOCAL_ONLY => {}
        Err(_) => {
            let wait = t.record_failure(ip, account, at);
            if !wait.is_zero() {
                warn!(
                    "admin: {ip}: repeated failed logins; next attempt in {} ms",
                    wait.as_millis()
                );
            }
        }
    }
}

/// The addresses that count as "the server's own" for a connection whose
/// local end is `local`: every interface address plus `local` itself.
fn own_addresses(local: Option<SocketAddr>) -> Vec<IpAddr> {
    let mut v = sys::local_addrs();
    if let Some(l) = local {
        v.push(l.ip());
    }
    v
}

/// Whether the JSON-RPC web API is served (`DisableJsonRpcWebApi` false).
pub fn web_api_enabled(server: &Server) -> bool {
    !server.with_config(|c| c.server.disable_json_rpc_web_api)
}

fn rights_text(r: &AdminRights) -> String {
    match r {
        AdminRights::Server => "server administrator".to_owned(),
        AdminRights::Hub(h) => format!("administrator of hub {h}"),
    }
}

/// The hub an RPC request names, for the audit log.
fn hub_of(p: &Pack) -> Option<&str> {
    // `HubName_Ex` first: in CreateLink/SetLink `HubName` is the remote hub.
    ["HubName_Ex", "HubName", "HubNameLB"]
        .iter()
        .find_map(|n| p.get_str(n))
        .filter(|h| !h.is_empty())
}

/// Runs work whose cost grows with an administrator's request — decoding a
/// PACK frame or JSON body of up to 16 MiB, converting JSON to a PACK,
/// encoding a large answer — on tokio's blocking pool, so that the async
/// worker threads that carry every VPN session never wait for it (issue 9
/// item 5). `None` when the work panicked (logged; the caller answers with
/// an error or closes the connection).
pub(crate) async fn off_runtime<T: Send + 'static>(
    what: &'static str,
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    match tokio::task::spawn_blocking(work).await {
        Ok(v) => Some(v),
        Err(e) => {
            warn!("admin: {what} failed: {e}");
            None
        }
    }
}

/// Executes one RPC call: rights checks and the call itself
/// ([`dispatch_call`]) on tokio's blocking pool (a change saves the
/// configuration, with fsyncs, before the call returns), then the work it
/// left (stopping cascades, waiting for a session to end, …), then the
/// audit log line. Calls of all connections are serialised.
pub(crate) async fn execute(
    admin: &Arc<Admin>,
    caller: &Caller,
    peer: IpAddr,
    via: &str,
    function: &str,
    request: Pack,
) -> DispatchOutcome {
    let _one_at_a_time = admin.calls.lock().await;
    let hub = hub_of(&request)
        .map(|h| format!(" hub={h}"))
        .unwrap_or_default();
    let call = {
        let (admin, caller, function) = (admin.clone(), caller.clone(), function.to_owned());
        tokio::task::spawn_blocking(move || {
            let mut backend = backend::ServerBackend::new(&admin, &caller.rights);
            let outcome = dispatch_call(
                &mut backend as &mut dyn AdminBackend,
                &caller,
                &function,
                &request,
            );
            (outcome, backend.into_deferred())
        })
    };
    let outcome = match call.await {
        Ok((outcome, deferred)) => {
            backend::finish(admin, deferred).await;
            outcome
        }
        Err(e) => {
            warn!("admin: {peer} {function}: the call failed: {e}");
            DispatchOutcome {
                function: RpcFunction::from_name(function),
                result: Err(ErrorCode::INTERNAL_ERROR),
            }
        }
    };
    let name = outcome.function.map_or(function, |f| f.name());
    match &outcome.result {
        Ok(_) => info!("admin: {peer} {name}{hub} ok{via}"),
        Err(e) => info!(
            "admin: {peer} {name}{hub} error {} ({}){via}",
            e.0,
            e.name()
        ),
    }
    outcome
}

/// The login part of [`serve`]: throttle, password check and answer.
/// `None` when the login was refused (and answered) or the answer could not
/// be written; otherwise the rights and the server's own addresses.
async fn admin_login(
    admin: &Admin,
    tls: &mut ServerTls,
    nego: &ServerNegotiation,
    req: AdminLoginRequest,
    peer: SocketAddr,
    random: [u8; 20],
) -> Option<(rustether_admin::login::AdminLoginOk, Vec<IpAddr>)> {
    let ip = peer.ip();
    let account = admin_account(req.hub_name.as_deref());
    let at = match admit(admin, ip, &account, "vpncmd").await {
        Ok(at) => at,
        Err(code) => {
            reply_error(tls, nego, code).await;
            return None;
        }
    };
    let own = own_addresses(tls.get_ref().0.get_ref().local_addr().ok());
    let result = admin.server.with_config(|c| {
        let lookup = |name: &str| {
            c.hub(name).map(|h| HubAdminEntry {
                name: h.name.clone(),
                hashed_password: h.hashed_password,
            })
        };
        let source = LoginSource {
            peer: ip,
            local_addrs: &own,
            trust_local: c.server.allow_local_empty_password_admin(),
        };
        verify_admin_login(&req, &random, &c.server.hashed_password, lookup, source)
    });
    record_login(
        admin,
        ip,
        &account,
        at,
        result.as_ref().map(|_| ()).map_err(|e| *e),
    );
    let ok = match result {
        Ok(ok) => ok,
        Err(code) => {
            warn!(
                "admin: {ip} login as {} refused: {} ({})",
                req.hub_name
                    .as_deref()
                    .map_or("server administrator".to_owned(), |h| format!(
                        "administrator of hub {h}"
                    )),
                code.message(),
                code.name()
            );
            reply_error(tls, nego, code).await;
            return None;
        }
    };
    info!(
        "admin: {ip} logged in as {} ({} {}.{})",
        rights_text(&ok.rights),
        req.client_str,
        req.client_ver,
        req.client_build
    );
    let mut out = Vec::new();
    nego.write_pack_response(&ok.to_pack(), &mut out);
    if tls.write_all(&out).await.is_err() || tls.flush().await.is_err() {
        return None;
    }
    Some((ok, own))
}

/// Serves an administration connection after its login PACK (vpncmd):
/// throttle, password check, login answer, then the RPC frame loop until the
/// client closes, the framing breaks, the server shuts down, the connection
/// idles for [`admin_idle_timeout`] or its credentials change (SoftEther:
/// none of the last two). `random` is the Hello random of this connection.
/// The login must be answered by `deadline` (the handshake deadline);
/// `slot`, the connection's place in the pre-authentication budget, is
/// given back once it succeeded.
#[allow(clippy::too_many_arguments)]
pub async fn serve(
    admin: Arc<Admin>,
    mut tls: ServerTls,
    nego: ServerNegotiation,
    leftover: BytesMut,
    req: AdminLoginRequest,
    peer: SocketAddr,
    random: [u8; 20],
    mut slot: crate::preauth::PreAuthSlot,
    deadline: tokio::time::Instant,
) {
    let ip = peer.ip();
    let logged_in = tokio::time::timeout_at(
        deadline,
        admin_login(&admin, &mut tls, &nego, req, peer, random),
    )
    .await;
    let Ok(Some((ok, own))) = logged_in else {
        if logged_in.is_err() {
            info!("admin: {ip} login timed out");
        }
        return;
    };
    slot.establish();
    drop(slot);
    let caller = Caller {
        rights: ok.rights,
        from_local: admin
            .server
            .with_config(|c| c.server.allow_local_empty_password_admin())
            && is_local_source(ip, &own),
    };
    rpc_loop(&admin, &mut tls, leftover, &caller, ip).await;
    let _ = tls.shutdown().await;
    info!("admin: {ip} administration connection closed");
}

/// How long a vpncmd administration connection may stay without a call
/// before it is closed: `AdminIdleTimeout` in `ServerConfiguration`
/// (RustEther only; seconds, missing = 900, 0 = never as in SoftEther,
/// whose `AdminAccept` sets no timeout). Read again after every call and
/// every [`CREDENTIALS_CHECK`], so a change applies to open connections.
/// vpncmd reconnects once, with the password it logged in with, when a
/// call finds the connection closed (`RpcCall` in SoftEther
/// `src/Cedar/Remote.c`), so an idle vpncmd prompt keeps working while the
/// password is unchanged.
pub fn admin_idle_timeout(server: &Server) -> Option<Duration> {
    server.with_config(|c| c.server.admin_idle_timeout())
}

/// How often an idle administration connection checks that its
/// credentials still hold ([`credentials_of`]).
const CREDENTIALS_CHECK: Duration = Duration::from_secs(1);

/// What an admin session's login depended on: the server administrator
/// password hash and, for a hub administrator, the hub's password hash
/// (`None`: the hub no longer exists). When this changes — the password
/// was changed by another session, or the hub was deleted — the session is
/// closed (issue 9 item 5).
fn credentials_of(admin: &Admin, rights: &AdminRights) -> Option<([u8; 20], Option<[u8; 20]>)> {
    admin.server.with_config(|c| match rights {
        AdminRights::Server => Some((c.server.hashed_password, None)),
        AdminRights::Hub(h) => c
            .hub(h)
            .map(|hub| (c.server.hashed_password, Some(hub.hashed_password))),
    })
}

/// The framed RPC loop of an admin connection (docs/admin-rpc.md §4).
/// Ends when the client closes, the framing breaks, the server shuts
/// down, no call came for [`admin_idle_timeout`], or the session's
/// credentials changed under it ([`credentials_of`]; changes the session
/// makes itself are accepted).
async fn rpc_loop(
    admin: &Arc<Admin>,
    tls: &mut ServerTls,
    mut buf: BytesMut,
    caller: &Caller,
    ip: IpAddr,
) {
    let mut frames = RpcFrameDecoder::default();
    let mut shutdown = admin.server.shutdown_signal();
    let mut creds = credentials_of(admin, &caller.rights);
    let mut last_call = tokio::time::Instant::now();
    // Far in the future stands for "never" (`AdminIdleTimeout` 0).
    let idle_deadline = |since: tokio::time::Instant| {
        since + admin_idle_timeout(&admin.server).unwrap_or(Duration::from_secs(365 * 86_400))
    };
    let mut idle_until = idle_deadline(last_call);
    let mut check = tokio::time::interval(CREDENTIALS_CHECK);
    check.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let revoked = |creds: &Option<_>| {
        let now = credentials_of(admin, &caller.rights);
        if creds.is_none() || now != *creds {
            info!(
                "admin: {ip} administration connection closed: the password of the {} changed or its hub was deleted",
                rights_text(&caller.rights)
            );
            true
        } else {
            false
        }
    };
    loop {
        // Framing here (cheap); the PACK is parsed off the worker threads.
        let body = match frames.next_frame(&mut buf) {
            Ok(Some(body)) => body,
            Ok(None) => {
                tokio::select! {
                    r = tls.read_buf(&mut buf) => match r {
                        Ok(0) | Err(_) => return,
                        Ok(_) => continue,
                    },
                    _ = check.tick() => {
                        if revoked(&creds) {
                            return;
                        }
                        idle_until = idle_deadline(last_call);
                        continue;
                    }
                    _ = tokio::time::sleep_until(idle_until) => {
                        info!(
                            "admin: {ip} administration connection idle for {} s: closed (AdminIdleTimeout)",
                            last_call.elapsed().as_secs()
                        );
                        return;
                    }
                    _ = shutdown.changed() => return,
                }
            }
            Err(e) => {
                info!("admin: {ip} connection closed: {e}");
                return;
            }
        };
        let decoder = frames.clone();
        let pack =
            match off_runtime("decoding an RPC frame", move || decoder.decode_body(&body)).await {
                Some(Ok(p)) => p,
                Some(Err(e)) => {
                    info!("admin: {ip} connection closed: {e}");
                    return;
                }
                None => return,
            };
        if revoked(&creds) {
            return;
        }
        let response = match RpcRequest::from_pack(pack) {
            Ok(req) => execute(admin, caller, ip, "", &req.function, req.pack)
                .await
                .into_pack(),
            Err(e) => {
                info!("admin: {ip} call without function_name: error {}", e.0);
                error_response(e)
            }
        };
        // A change this session made itself (its own password) keeps it.
        creds = credentials_of(admin, &caller.rights);
        last_call = tokio::time::Instant::now();
        idle_until = idle_deadline(last_call);
        let Some(out) = off_runtime("encoding an RPC answer", move || {
            let mut out = BytesMut::new();
            encode_frame(&response, &mut out);
            out
        })
        .await
        else {
            return;
        };
        if tls.write_all(&out).await.is_err() || tls.flush().await.is_err() {
            return;
        }
    }
}
