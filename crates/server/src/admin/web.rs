//! The JSON-RPC web API over the HTTPS listeners (docs/admin-rpc.md §9;
//! SoftEther `JsonRpcProcPost`, `JsonRpcProcGet`, `JsonRpcProcOptions`,
//! `AdminWebSendBody`, `AdminWebSendUnauthorized` in `src/Cedar/Admin.c`).
//!
//! Each request authenticates with `X-VPNADMIN-HUBNAME` /
//! `X-VPNADMIN-PASSWORD` or HTTP Basic; failures get `401` with
//! `WWW-Authenticate`. Answers carry SoftEther's CORS headers. Differences
//! from SoftEther: no `Access-Control-Allow-Origin` echo of the request's
//! `Origin` (with `Allow-Credentials` that would let any web page a browser
//! visits read the API with the browser's stored credentials); the id of a
//! GET answer is the time in UTC; with no server password only the server's
//! own addresses may log in; failures are throttled per source.
//!
//! The same requests authenticate `GET /metrics` (RustEther's Prometheus
//! endpoint, docs/metrics.md), served when `EnableMetrics` is set, and
//! only to the server administrator — or to `Authorization: Bearer` with
//! the `MetricsToken` setting, which opens `/metrics` and nothing else.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rustether_admin::json::{
    self, error_response, error_text, parse_credentials, parse_get, parse_request, result_response,
    to_body, to_json, try_from_json, CONTENT_TYPE_GET, CONTENT_TYPE_POST, CORS_HEADERS,
    MAX_BODY_HUB_ADMIN, MAX_BODY_SERVER_ADMIN, WWW_AUTHENTICATE,
};
use rustether_admin::login::{is_empty_password_hash, is_local_source, HubAdminEntry, LoginSource};
use rustether_admin::{Caller, RpcFunction};
use rustether_proto::http::{http_date, write_response, HttpHead};
use rustether_proto::negotiate::{is_web_console_request, ServerNegotiation};
use rustether_proto::ErrorCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tracing::{info, warn};

use super::{admit, execute, off_runtime, own_addresses, record_login, rights_text, Admin};
use crate::transport::ServerTls;

/// Time allowed for the rest of a request body to arrive.
const BODY_TIMEOUT: Duration = Duration::from_secs(15);

/// Body of the 401 answer.
const UNAUTHORIZED_HTML: &str = "<!DOCTYPE html><html><head><title>401 Unauthorized</title></head>\
<body><h1>Unauthorized</h1><p>This VPN Server's JSON-RPC API needs the administrator password: \
HTTP Basic authentication (user name <code>administrator</code> for the entire server, or a \
Virtual Hub name for that hub), or the headers <code>X-VPNADMIN-HUBNAME</code> and \
<code>X-VPNADMIN-PASSWORD</code>.</p></body></html>\r\n";

fn now_unix_secs() -> u64 {
    crate::clock::unix_ms() / 1000
}

/// Writes one API answer with the common headers (`AdminWebSendBody`).
async fn send(
    tls: &mut ServerTls,
    head: &HttpHead,
    code: u16,
    reason: &str,
    content_type: &str,
    extra: &[(&str, &str)],
    body: &[u8],
) -> bool {
    let date = http_date(now_unix_secs());
    let mut headers: Vec<(&str, &str)> = vec![
        // SoftEther sends `no-cache`; answers hold secrets (configuration,
        // hashes), so they must not be stored at all.
        ("Cache-Control", "no-store"),
        ("X-Content-Type-Options", "nosniff"),
        ("Content-Type", content_type),
        ("Date", &date),
        ("Connection", "Keep-Alive"),
    ];
    headers.extend_from_slice(&CORS_HEADERS);
    if head.method().eq_ignore_ascii_case("OPTIONS") {
        headers.push(("Allow", "OPTIONS, GET, POST"));
    }
    headers.extend_from_slice(extra);
    let mut out = Vec::new();
    let body = if head.method().eq_ignore_ascii_case("HEAD") {
        &[][..]
    } else {
        body
    };
    write_response(&mut out, code, reason, &headers, body);
    tls.write_all(&out).await.is_ok() && tls.flush().await.is_ok()
}

/// The 401 answer (`AdminWebSendUnauthorized`).
async fn send_unauthorized(tls: &mut ServerTls, head: &HttpHead) -> bool {
    send(
        tls,
        head,
        401,
        "Unauthorized",
        "text/html; charset=utf-8",
        &[("WWW-Authenticate", WWW_AUTHENTICATE)],
        UNAUTHORIZED_HTML.as_bytes(),
    )
    .await
}

/// Reads until `buf` holds `len` bytes (bounded in time). Memory grows
/// with the bytes received, at most [`rustether_admin::framing::RESERVE_STEP`]
/// ahead of them, never with the announced length alone (issue 9).
async fn fill(tls: &mut ServerTls, buf: &mut BytesMut, len: usize) -> bool {
    while buf.len() < len {
        rustether_admin::framing::reserve_towards(buf, len);
        match tokio::time::timeout(BODY_TIMEOUT, tls.read_buf(buf)).await {
            Ok(Ok(n)) if n > 0 => {}
            _ => return false,
        }
    }
    true
}

/// Reads and drops a request body of `len` bytes without keeping it in
/// memory (`RecvAllWithDiscard`); `false` if it is over `limit` or cut off.
async fn discard_body(tls: &mut ServerTls, buf: &mut BytesMut, len: usize, limit: usize) -> bool {
    if len > limit {
        return false;
    }
    let from_buf = len.min(buf.len());
    let _ = buf.split_to(from_buf);
    let mut left = len - from_buf;
    let mut scratch = [0u8; 16 * 1024];
    while left > 0 {
        let want = left.min(scratch.len());
        match tokio::time::timeout(BODY_TIMEOUT, tls.read(&mut scratch[..want])).await {
            Ok(Ok(n)) if n > 0 => left -= n,
            _ => return false,
        }
    }
    true
}

/// Takes a request body of `len` bytes off the connection. Over `limit`
/// the connection is closed instead (`false`).
async fn take_body(
    tls: &mut ServerTls,
    buf: &mut BytesMut,
    len: usize,
    limit: usize,
) -> Option<BytesMut> {
    if len > limit || !fill(tls, buf, len).await {
        return None;
    }
    Some(buf.split_to(len))
}

/// Local time text used by SoftEther as the id of GET answers
/// (`GetDateTimeStrMilli64(LocalTime64())`); here the UTC time.
fn get_id() -> String {
    let t = json::format_unix_ms(crate::clock::unix_ms());
    t.trim_end_matches('Z').replacen('T', " ", 1)
}

/// Serves one JSON-RPC web API request whose head the negotiation handed
/// over ([`rustether_proto::negotiate::ServerEvent::WebApi`]); a POST body
/// is still at the front of `buf`. Returns `false` when the connection must
/// be closed (body too large or cut off, write error); otherwise the
/// negotiation continues on the same connection (HTTP keep-alive).
pub(crate) async fn web_request(
    admin: &Arc<Admin>,
    tls: &mut ServerTls,
    nego: &mut ServerNegotiation,
    buf: &mut BytesMut,
    head: HttpHead,
    peer: SocketAddr,
) -> bool {
    let ip = peer.ip();
    if is_web_console_request(head.method(), head.target()) {
        // The console's static files: no credentials, so they count as
        // unauthenticated requests like OPTIONS.
        nego.web_request_done(false);
        return super::console::serve(tls, &head, now_unix_secs()).await;
    }
    let method = head.method().to_ascii_uppercase();
    if method == "OPTIONS" {
        // Unauthenticated: it must not restart the request count, or a
        // peer could keep a connection open for ever with OPTIONS.
        nego.web_request_done(false);
        return send(tls, &head, 200, "OK", "text/html; charset=utf-8", &[], b"").await;
    }
    let body_len = if method == "POST" {
        match head.content_length() {
            Ok(n) => n,
            Err(_) => return false,
        }
    } else {
        0
    };
    if rustether_proto::negotiate::is_metrics_request(&method, head.target()) {
        if let Some(token) = json::parse_bearer_token(|n| head.header(n)) {
            // The read-only token: `/metrics` only, never the API.
            let ok = metrics_token_login(admin, ip, token).await;
            nego.web_request_done(ok);
            if !ok {
                return send_unauthorized(tls, &head).await;
            }
            return send_metrics(admin, tls, &head).await;
        }
    }
    // Authentication first, then the body with the limit of the rights
    // (`JsonRpcAuthLogin`, `MaxJsonRpcRecvSize`).
    let creds = parse_credentials(|n| head.header(n));
    let rights = match creds {
        None => {
            info!(
                "admin: {ip} JSON-RPC {} {} without credentials: 401",
                head.method(),
                head.target()
            );
            Err(())
        }
        Some(creds) => match admit(admin, ip, &json_account(&creds), "JSON-RPC").await {
            Err(_) => Err(()),
            Ok(at) => {
                let own = own_addresses(tls.get_ref().0.get_ref().local_addr().ok());
                let r = admin.server.with_config(|c| {
                    let lookup = |name: &str| {
                        c.hub(name).map(|h| HubAdminEntry {
                            name: h.name.clone(),
                            hashed_password: h.hashed_password,
                        })
                    };
                    json::json_login(
                        &creds,
                        &c.server.hashed_password,
                        lookup,
                        LoginSource {
                            peer: ip,
                            local_addrs: &own,
                            trust_local: c.server.allow_local_empty_password_admin(),
                        },
                    )
                });
                record_login(
                    admin,
                    ip,
                    &json_account(&creds),
                    at,
                    r.as_ref().map(|_| ()).map_err(|e| *e),
                );
                match r {
                    Ok(rights) => {
                        let (trust_local, empty) = admin.server.with_config(|c| {
                            (
                                c.server.allow_local_empty_password_admin(),
                                is_empty_password_hash(&c.server.hashed_password),
                            )
                        });
                        let empty = empty && rights.is_server_admin();
                        Ok((rights, trust_local && is_local_source(ip, &own), empty))
                    }
                    Err(code) => {
                        warn!(
                            "admin: {ip} JSON-RPC login as {:?} refused: {} ({})",
                            creds.username,
                            code.message(),
                            code.name()
                        );
                        Err(())
                    }
                }
            }
        },
    };
    let Ok((rights, from_local, empty_password)) = rights else {
        // Discard the body like `RecvAllWithDiscard`, within the smaller limit.
        if !discard_body(tls, buf, body_len, MAX_BODY_HUB_ADMIN).await {
            return false;
        }
        nego.web_request_done(false);
        return send_unauthorized(tls, &head).await;
    };
    if rustether_proto::negotiate::is_metrics_request(&method, head.target()) {
        nego.web_request_done(true);
        if !rights.is_server_admin() {
            warn!(
                "admin: {ip} /metrics refused to {}: server administrator only",
                rights_text(&rights)
            );
            return send(
                tls,
                &head,
                403,
                "Forbidden",
                "text/plain; charset=utf-8",
                &[],
                b"/metrics is for the server administrator.\r\n",
            )
            .await;
        }
        return send_metrics(admin, tls, &head).await;
    }
    let limit = if rights.is_server_admin() {
        MAX_BODY_SERVER_ADMIN
    } else {
        MAX_BODY_HUB_ADMIN
    };
    let caller = Caller {
        rights: rights.clone(),
        from_local,
    };
    let via = format!(" (JSON-RPC as {})", rights_text(&rights));
    let (answer, content_type) = if method == "POST" {
        let Some(body) = take_body(tls, buf, body_len, limit).await else {
            warn!("admin: {ip} JSON-RPC body of {body_len} bytes refused or cut off");
            return false;
        };
        // Parsing (up to 16 MiB of JSON) off the worker threads.
        let Some(parsed) =
            off_runtime("parsing a JSON-RPC body", move || parse_request(&body)).await
        else {
            return false;
        };
        let answer = match parsed {
            Ok(req) if mutates(&req.method) && !is_json_content_type(&head) => {
                warn!(
                    "admin: {ip} JSON-RPC {} refused: a changing method needs Content-Type: application/json (got {:?})",
                    req.method,
                    head.header("Content-Type").unwrap_or("")
                );
                nego.web_request_done(true);
                return send(
                    tls,
                    &head,
                    415,
                    "Unsupported Media Type",
                    "text/plain; charset=utf-8",
                    &[],
                    b"Methods that change the server need a POST with Content-Type: application/json.\r\n",
                )
                .await;
            }
            Ok(req) => call(admin, &caller, ip, &via, req).await,
            Err(reject) => to_body(&reject.response()),
        };
        (answer, CONTENT_TYPE_POST)
    } else {
        match parse_get(head.target(), &get_id()) {
            Some(req) if mutates(&req.method) => {
                warn!(
                    "admin: {ip} JSON-RPC GET {} refused: a changing method needs a JSON POST",
                    req.method
                );
                nego.web_request_done(true);
                return send(
                    tls,
                    &head,
                    405,
                    "Method Not Allowed",
                    "text/plain; charset=utf-8",
                    &[("Allow", "POST")],
                    b"Methods that change the server need a POST with Content-Type: application/json.\r\n",
                )
                .await;
            }
            Some(req) => (call(admin, &caller, ip, &via, req).await, CONTENT_TYPE_GET),
            None => {
                // SoftEther serves its API documentation page here.
                nego.web_request_done(true);
                return send(
                    tls,
                    &head,
                    404,
                    "Not Found",
                    "text/html; charset=utf-8",
                    &[],
                    b"<html><body><h1>Not Found</h1><p>Call a method as /api/&lt;Method&gt;?params or POST JSON-RPC 2.0 to /api/.</p></body></html>\r\n",
                )
                .await;
            }
        }
    };
    nego.web_request_done(true);
    // Tells the web console (and only a server administrator) to show its
    // warning and the form to set a password (docs/web-console.md).
    let extra: &[(&str, &str)] = if empty_password {
        &[(EMPTY_PASSWORD_HEADER, "1")]
    } else {
        &[]
    };
    send(tls, &head, 200, "OK", content_type, extra, &answer).await
}

/// Header on JSON-RPC answers to a server administrator while the server
/// administrator password is empty (RustEther only; read by the web
/// console, docs/web-console.md).
pub(crate) const EMPTY_PASSWORD_HEADER: &str = "X-RustEther-Empty-Admin-Password";

/// The `/metrics` body (docs/metrics.md), `200 OK`.
async fn send_metrics(admin: &Admin, tls: &mut ServerTls, head: &HttpHead) -> bool {
    let body = crate::metrics::render(&admin.server);
    send(
        tls,
        head,
        200,
        "OK",
        crate::metrics::CONTENT_TYPE,
        &[],
        body.as_bytes(),
    )
    .await
}

/// Checks a `/metrics` bearer token against `MetricsToken`
/// (docs/metrics.md), throttled per source like an administrator login
/// under its own account ([`json::METRICS_TOKEN_ACCOUNT`]); logs refusals.
async fn metrics_token_login(admin: &Admin, ip: std::net::IpAddr, token: &str) -> bool {
    let account = json::METRICS_TOKEN_ACCOUNT;
    let Ok(at) = admit(admin, ip, account, "/metrics token").await else {
        return false;
    };
    let configured = admin
        .server
        .with_config(|c| c.server.metrics_token().map(str::to_owned));
    let ok = match configured.as_deref() {
        None => {
            warn!("admin: {ip} /metrics with a bearer token refused: no MetricsToken is set");
            false
        }
        Some(t) if t.len() < json::METRICS_TOKEN_MIN_LEN => {
            warn!(
                "admin: {ip} /metrics with a bearer token refused: MetricsToken is shorter than {} characters and ignored",
                json::METRICS_TOKEN_MIN_LEN
            );
            false
        }
        Some(t) => {
            let ok = json::metrics_token_matches(t, token);
            if !ok {
                warn!("admin: {ip} /metrics with a wrong bearer token: 401");
            }
            ok
        }
    };
    let result = if ok {
        Ok(())
    } else {
        Err(ErrorCode::AUTH_FAILED)
    };
    record_login(admin, ip, account, at, result);
    ok
}

/// The throttle account of JSON-RPC credentials (the same as vpncmd's).
fn json_account(creds: &json::AdminCredentials) -> String {
    let server = creds.username.is_empty() || creds.username.eq_ignore_ascii_case("administrator");
    rustether_admin::throttle::admin_account((!server).then_some(creds.username.as_str()))
}

/// True if `method` names an RPC that changes something
/// ([`RpcFunction::mutates`]); unknown names are answered 33 anyway.
fn mutates(method: &str) -> bool {
    RpcFunction::from_name(method).is_some_and(RpcFunction::mutates)
}

/// True if the request's `Content-Type` is `application/json` (any
/// parameters, any case): a type an HTML form cannot send and a browser
/// sends cross-site only after a CORS preflight, which this API does not
/// grant (issue 9 item 5).
fn is_json_content_type(head: &HttpHead) -> bool {
    head.header("Content-Type").is_some_and(|v| {
        v.split(';')
            .next()
            .is_some_and(|t| t.trim().eq_ignore_ascii_case("application/json"))
    })
}

/// One JSON-RPC call (`JsonRpcProcRequestObject`) through the common
/// [`execute`] path; returns the answer's body.
async fn call(
    admin: &Arc<Admin>,
    caller: &Caller,
    ip: std::net::IpAddr,
    via: &str,
    req: json::JsonRpcRequest,
) -> Vec<u8> {
    // JSON → PACK and the answer's PACK → JSON run off the worker threads:
    // both grow with what an administrator sends or has stored.
    let json::JsonRpcRequest { id, method, params } = req;
    let Some(converted) =
        off_runtime("converting JSON-RPC params", move || try_from_json(&params)).await
    else {
        return internal_error(&id);
    };
    let pack = match converted {
        Ok(p) => p,
        Err(e) => {
            warn!(
                "admin JSON-RPC from {ip}: {} params refused: more PACK values than the body holds",
                method.escape_debug()
            );
            return to_body(&error_response(&id, e, error_text(e)));
        }
    };
    let outcome = execute(admin, caller, ip, via, &method, pack).await;
    let answer_id = id.clone();
    off_runtime("encoding a JSON-RPC answer", move || {
        to_body(&match &outcome.result {
            Ok(out) => result_response(&answer_id, to_json(out)),
            Err(e) => error_response(&answer_id, *e, error_text(*e)),
        })
    })
    .await
    .unwrap_or_else(|| internal_error(&id))
}

/// The answer body when converting a request or an answer failed.
fn internal_error(id: &str) -> Vec<u8> {
    to_body(&error_response(
        id,
        ErrorCode::INTERNAL_ERROR,
        error_text(ErrorCode::INTERNAL_ERROR),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustether_admin::AdminRights;

    #[test]
    fn get_id_is_a_local_time_text() {
        let id = get_id();
        // `YYYY-MM-DD HH:MM:SS.mmm` as 9674 sends it
        assert_eq!(id.len(), 23, "{id}");
        assert_eq!(&id[10..11], " ");
        assert_eq!(&id[19..20], ".");
        assert!(!id.contains('T') && !id.ends_with('Z'));
    }

    #[test]
    fn rights_texts() {
        assert_eq!(rights_text(&AdminRights::Server), "server administrator");
        assert_eq!(
            rights_text(&AdminRights::Hub("TEST".into())),
            "administrator of hub TEST"
        );
    }
}
