//! Sans-IO state machines for negotiation steps 1–4 over an already
//! decrypted byte stream (docs/protocol-sslvpn.md §3, §5, §6; SoftEther
//! `src/Cedar/Protocol.c`: `ServerDownloadSignature`, `ServerUploadHello`,
//! `ClientUploadSignature`, `ClientDownloadHello`; `src/Mayaqua/HTTP.c`:
//! `HttpServerRecvEx`, `HttpServerSend`, `HttpClientSend`, `HttpClientRecv`).
//!
//! Both machines take received bytes in a [`BytesMut`] (consuming exactly
//! what they use, so data-phase bytes that arrive with the last message stay
//! in the buffer) and append bytes to send to a `Vec<u8>`. They never read
//! clocks: the caller passes the current Unix time for `Date` headers.

use bytes::BytesMut;

use crate::http::{
    self, error_page, http_date, write_request, write_response, HttpError, HttpHead, HttpParser,
};
use crate::messages::{noop_pack, ClientRequest, ErrorReply, Hello};
use crate::pack::{Pack, PackError, PackLimits};
use crate::softether::error::ErrorCode;
use crate::watermark::{is_vpn_signature, signature_length_acceptable, VPNCONNECT};

/// Most HTTP requests the signature dispatcher handles before closing
/// (`ServerDownloadSignature`: `max = 19`).
pub const MAX_SIGNATURE_REQUESTS: u32 = 19;

/// Most NOOP PACKs answered during negotiation (`MAX_NOOP_PER_SESSION`).
pub const MAX_NOOPS: u32 = 30;

/// Largest PACK body our client accepts in a response. SoftEther allows
/// 512 MiB; negotiation replies are a few KiB, so we bound it lower.
pub const CLIENT_MAX_RESPONSE: usize = 16 * 1024 * 1024;

/// Why the server side of a negotiation ended. Whatever the machine wrote to
/// `out` before returning the error must still be sent; then the connection
/// is closed (docs/protocol-sslvpn.md §3.6: the reference reads at most one more
/// request and closes after 25 ms).
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum NegotiationError {
    /// Malformed HTTP (line too long, bad start line or header, …). During
    /// the signature step nothing is answered (the peer is no VPN client);
    /// during the PACK step an error PACK `error=3` was written.
    #[error("bad HTTP: {0}")]
    Http(#[from] HttpError),
    /// 19 requests without a valid signature: not a VPN client; closed
    /// without an answer (`HTTP_TOO_MANY_REQUEST`).
    #[error("no VPN signature within {MAX_SIGNATURE_REQUESTS} HTTP requests")]
    TooManyRequests,
    /// A POST whose `Content-Length` is neither 10 nor within 1411..=3411:
    /// a 403 page was written (`POST_Recv_TooLong`).
    #[error("signature POST of {0} bytes refused")]
    SignatureLength(usize),
    /// The PACK request broke the rules of docs/protocol-sslvpn.md §3.5 (method,
    /// target, version, content type, length); error PACK `error=3` written.
    #[error("bad PACK request: {0}")]
    BadRequest(&'static str),
    /// The body is not a valid PACK; error PACK `error=3` written.
    #[error("bad PACK: {0}")]
    BadPack(PackError),
    /// More than 30 NOOPs; error PACK `error=3` written.
    #[error("more than {MAX_NOOPS} NOOP PACKs")]
    TooManyNoops,
    /// The request PACK was refused (no/unknown method, missing names, a
    /// non-zero `error`); an error PACK with this code was written.
    #[error("request refused: {0}")]
    Refused(ErrorCode),
}

impl NegotiationError {
    /// The SoftEther error code this corresponds to, for logs
    /// (`ERR_CLIENT_IS_NOT_VPN` for the signature step, `ERR_DISCONNECTED`
    /// for a bad PACK request, else the refusal code).
    pub fn code(&self) -> ErrorCode {
        match self {
            NegotiationError::TooManyRequests | NegotiationError::SignatureLength(_) => {
                ErrorCode::CLIENT_IS_NOT_VPN
            }
            NegotiationError::Refused(c) => *c,
            _ => ErrorCode::DISCONNECTED,
        }
    }
}

/// What [`ServerNegotiation::on_input_event`] yields.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServerEvent {
    /// A request PACK after the signature and hello (login, additional
    /// connection, admin login, …).
    Request(ClientRequest),
    /// An HTTP request for the JSON-RPC web API (only after
    /// [`ServerNegotiation::set_web_api`]`(true)`): `POST /api` or `/api/`,
    /// `GET`/`HEAD` `/api`, `/api?…`, `/api/…`, or `OPTIONS /api`, `/api/`,
    /// and the web console's `GET`/`HEAD` `/admin…` ([`is_web_console_request`])
    /// (target and method compared case-insensitively, as
    /// `ServerDownloadSignature`). The head has been consumed; a POST body
    /// (`Content-Length` bytes, not checked here) is still at the front of
    /// the input buffer and must be consumed by the caller, which answers
    /// the request itself, calls [`ServerNegotiation::web_request_done`] and
    /// then feeds the connection to the machine again (keep-alive).
    WebApi(HttpHead),
}

/// True for `GET`/`HEAD` of `/metrics` or `/metrics?…` (case-insensitive
/// path): RustEther's Prometheus endpoint (docs/metrics.md).
pub fn is_metrics_request(method: &str, target: &str) -> bool {
    let path = target.split('?').next().unwrap_or(target);
    (method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD"))
        && path.eq_ignore_ascii_case("/metrics")
}

/// True for the targets `ServerDownloadSignature` hands to the JSON-RPC
/// web API for `method` (`JsonRpcProcPost`, `JsonRpcProcGet`,
/// `JsonRpcProcOptions`), and for the web console's `GET`/`HEAD`
/// `/admin`, `/admin?…`, `/admin/…` (SoftEther `AdminWebProcGet`, which
/// serves `hamcore/wwwroot/admin/` when the API is enabled; see
/// [`is_web_console_request`]).
pub fn is_web_api_request(method: &str, target: &str) -> bool {
    let exact = target.eq_ignore_ascii_case("/api") || target.eq_ignore_ascii_case("/api/");
    if method.eq_ignore_ascii_case("POST") || method.eq_ignore_ascii_case("OPTIONS") {
        exact
    } else if method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD") {
        exact
            || starts_ci(target, "/api?")
            || starts_ci(target, "/api/")
            || is_web_console_request(method, target)
    } else {
        false
    }
}

/// True for a `GET`/`HEAD` of the web console: `/admin`, `/admin?…` or
/// `/admin/…` (case-insensitive, as `ServerDownloadSignature`). Such a
/// request is also a [`ServerEvent::WebApi`] hand-off; the caller tells the
/// two apart with this function.
pub fn is_web_console_request(method: &str, target: &str) -> bool {
    (method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD"))
        && (target.eq_ignore_ascii_case("/admin")
            || starts_ci(target, "/admin?")
            || starts_ci(target, "/admin/"))
}

fn starts_ci(target: &str, prefix: &str) -> bool {
    target
        .get(..prefix.len())
        .is_some_and(|t| t.eq_ignore_ascii_case(prefix))
}

#[derive(Debug)]
enum ServerState {
    /// Step 1 dispatcher, waiting for a request head.
    SignatureHead,
    /// Step 1, reading a POST body.
    SignatureBody(HttpHead, usize),
    /// Waiting for a `POST /vpnsvc/vpn.cgi` head.
    PackHead,
    /// Reading a PACK body.
    PackBody(usize),
    /// A fatal error was returned; nothing more is read.
    Failed,
}

/// Server side of steps 1–4 (`ServerDownloadSignature`, `ServerUploadHello`,
/// `HttpServerRecvEx`).
///
/// Feed received bytes to [`ServerNegotiation::on_input`] until it returns a
/// [`ClientRequest`]; answer with [`ServerNegotiation::write_pack_response`].
/// After a request is returned the machine waits for the next PACK request
/// (e.g. after `enum_hub`); after a login or additional connection the caller
/// switches to the block stream instead.
#[derive(Debug)]
pub struct ServerNegotiation {
    hello: Hello,
    local_port: u16,
    host_for_pages: String,
    now_unix: u64,
    parser: HttpParser,
    state: ServerState,
    requests: u32,
    noops: u32,
    web_api: bool,
    metrics: bool,
    pending_web: Option<HttpHead>,
}

fn has_token(head: &HttpHead, i: usize, want: &str) -> bool {
    head.start[i].eq_ignore_ascii_case(want)
}

impl ServerNegotiation {
    /// A fresh negotiation for one accepted TCP connection. `hello` carries
    /// the per-connection random; `local_port` and `host_for_pages` (the
    /// server's local IP as text) appear in error pages; `now_unix` feeds
    /// `Date` headers (update with [`ServerNegotiation::set_now`]).
    pub fn new(hello: Hello, local_port: u16, host_for_pages: String, now_unix: u64) -> Self {
        ServerNegotiation {
            hello,
            local_port,
            host_for_pages,
            now_unix,
            parser: HttpParser::new(0),
            state: ServerState::SignatureHead,
            requests: 0,
            noops: 0,
            web_api: false,
            metrics: false,
            pending_web: None,
        }
    }

    /// Enables the hand-off of `GET`/`HEAD /metrics` (optionally with a
    /// query) as a [`ServerEvent::WebApi`] event ([`is_metrics_request`]),
    /// independently of the JSON-RPC API; off by default (RustEther's
    /// Prometheus endpoint, docs/metrics.md).
    pub fn set_metrics(&mut self, enabled: bool) {
        self.metrics = enabled;
    }

    /// Enables the JSON-RPC web API hand-off ([`ServerEvent::WebApi`]);
    /// off by default, as with SoftEther's `DisableJsonRpcWebApi true`.
    pub fn set_web_api(&mut self, enabled: bool) {
        self.web_api = enabled;
    }

    /// Whether web API requests are handed to the caller.
    pub fn web_api(&self) -> bool {
        self.web_api
    }

    /// Called after the caller answered a [`ServerEvent::WebApi`] request.
    /// An authenticated request restarts the count of the 19 HTTP requests
    /// allowed before the signature (SoftEther sets `num = 0` when
    /// `JsonRpcAuthed`). SoftEther also counts `OPTIONS` as authenticated,
    /// which lets any peer keep a connection for ever; callers here pass
    /// `false` for it (issue 9).
    pub fn web_request_done(&mut self, authenticated: bool) {
        if authenticated {
            self.requests = 0;
        }
    }

    /// The hello sent on this connection (its `random` is the challenge for
    /// `secure_password`).
    pub fn hello(&self) -> &Hello {
        &self.hello
    }

    /// Updates the time used for `Date` headers.
    pub fn set_now(&mut self, now_unix: u64) {
        self.now_unix = now_unix;
    }

    /// True once the signature was accepted and the hello written.
    pub fn signature_done(&self) -> bool {
        matches!(self.state, ServerState::PackHead | ServerState::PackBody(_))
    }

    /// Bytes of a partly received HTTP head held by the negotiation (at
    /// most [`crate::http::MAX_HEAD_BYTES`]); the caller's input buffer
    /// comes on top.
    pub fn kept_bytes(&self) -> usize {
        self.parser.kept_bytes()
    }

    /// Number of HTTP requests handled by the signature dispatcher so far.
    pub fn signature_requests(&self) -> u32 {
        self.requests
    }

    /// Consumes input from `buf` and appends responses to `out`. Returns
    /// `Ok(Some(request))` for the first request PACK (NOOPs are answered
    /// here and never returned), `Ok(None)` when more input is needed, or an
    /// error after which `out` must be flushed and the connection closed
    /// (later calls then consume nothing and return `Ok(None)`).
    ///
    /// For a machine with the web API enabled use
    /// [`ServerNegotiation::on_input_event`]: here a web API request ends
    /// the negotiation with [`NegotiationError::BadRequest`].
    pub fn on_input(
        &mut self,
        buf: &mut BytesMut,
        out: &mut Vec<u8>,
    ) -> Result<Option<ClientRequest>, NegotiationError> {
        match self.on_input_event(buf, out) {
            Ok(Some(ServerEvent::Request(r))) => Ok(Some(r)),
            Ok(Some(ServerEvent::WebApi(_))) => {
                self.state = ServerState::Failed;
                Err(NegotiationError::BadRequest(
                    "JSON-RPC web API request without a handler",
                ))
            }
            Ok(None) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Like [`ServerNegotiation::on_input`], also yielding
    /// [`ServerEvent::WebApi`] requests when the web API is enabled.
    pub fn on_input_event(
        &mut self,
        buf: &mut BytesMut,
        out: &mut Vec<u8>,
    ) -> Result<Option<ServerEvent>, NegotiationError> {
        let r = self.step(buf, out);
        match r {
            Err(e) => {
                self.state = ServerState::Failed;
                Err(e)
            }
            Ok(Some(req)) => Ok(Some(ServerEvent::Request(req))),
            Ok(None) => Ok(self.pending_web.take().map(ServerEvent::WebApi)),
        }
    }

    fn page(&self, code: u16, target: &str, out: &mut Vec<u8>) {
        let date = http_date(self.now_unix);
        out.extend_from_slice(&error_page(
            code,
            target,
            &self.host_for_pages,
            self.local_port,
            &date,
        ));
    }

    fn fail_with_pack(&self, out: &mut Vec<u8>, e: NegotiationError) -> NegotiationError {
        let code = match &e {
            NegotiationError::Refused(c) => *c,
            _ => ErrorCode::DISCONNECTED,
        };
        self.write_pack_response(&ErrorReply::new(code).to_pack(), out);
        e
    }

    fn step(
        &mut self,
        buf: &mut BytesMut,
        out: &mut Vec<u8>,
    ) -> Result<Option<ClientRequest>, NegotiationError> {
        loop {
            match std::mem::replace(&mut self.state, ServerState::Failed) {
                ServerState::Failed => return Ok(None),
                ServerState::SignatureHead => {
                    if self.requests >= MAX_SIGNATURE_REQUESTS {
                        return Err(NegotiationError::TooManyRequests);
                    }
                    self.state = ServerState::SignatureHead;
                    let Some(head) = self.parser.parse_head(buf)? else {
                        return Ok(None);
                    };
                    self.requests += 1;
                    if (self.web_api && is_web_api_request(head.method(), head.target()))
                        || (self.metrics && is_metrics_request(head.method(), head.target()))
                    {
                        // Handed to the caller; the state stays at the
                        // dispatcher for the next request (keep-alive).
                        self.pending_web = Some(head);
                        return Ok(None);
                    }
                    self.dispatch(head, out)?;
                }
                ServerState::SignatureBody(head, len) => {
                    if buf.len() < len {
                        self.state = ServerState::SignatureBody(head, len);
                        return Ok(None);
                    }
                    let body = buf.split_to(len);
                    self.state = ServerState::SignatureHead;
                    if !head.target().eq_ignore_ascii_case(http::SIGNATURE_TARGET) {
                        self.page(404, head.target(), out);
                    } else if is_vpn_signature(&body) {
                        // Accepted: step 2, the hello (`ServerUploadHello`).
                        self.write_pack_response(&self.hello.to_pack(), out);
                        self.state = ServerState::PackHead;
                    } else {
                        self.page(403, head.target(), out);
                    }
                }
                ServerState::PackHead => {
                    self.state = ServerState::PackHead;
                    let head = match self.parser.parse_head(buf) {
                        Ok(Some(h)) => h,
                        Ok(None) => return Ok(None),
                        Err(e) => return Err(self.fail_with_pack(out, e.into())),
                    };
                    let bad = |why| Err(NegotiationError::BadRequest(why));
                    let check = if !has_token(&head, 0, "POST") {
                        bad("method is not POST")
                    } else if !has_token(&head, 1, http::PACK_TARGET) {
                        bad("target is not /vpnsvc/vpn.cgi")
                    } else if !has_token(&head, 2, "HTTP/1.1") {
                        bad("version is not HTTP/1.1")
                    } else if !head
                        .header("Content-Type")
                        .is_some_and(|t| t.eq_ignore_ascii_case(http::CONTENT_TYPE_PACK))
                    {
                        bad("Content-Type is not application/octet-stream")
                    } else {
                        match head.content_length() {
                            Ok(n) if (1..=PackLimits::HTTP_FROM_CLIENT.max_bytes).contains(&n) => {
                                Ok(n)
                            }
                            Ok(_) => bad("Content-Length outside 1..=65536"),
                            Err(e) => Err(e.into()),
                        }
                    };
                    match check {
                        Ok(n) => self.state = ServerState::PackBody(n),
                        Err(e) => return Err(self.fail_with_pack(out, e)),
                    }
                }
                ServerState::PackBody(len) => {
                    if buf.len() < len {
                        self.state = ServerState::PackBody(len);
                        return Ok(None);
                    }
                    let body = buf.split_to(len);
                    self.state = ServerState::PackHead;
                    let pack = match Pack::decode_with(&body, &PackLimits::HTTP_FROM_CLIENT) {
                        Ok(p) => p,
                        Err(e) => {
                            return Err(self.fail_with_pack(out, NegotiationError::BadPack(e)))
                        }
                    };
                    match ClientRequest::from_pack(&pack) {
                        Ok(ClientRequest::Noop) => {
                            // 5.01 answers {error: 0, noop: 1} (`HttpServerRecvEx`).
                            self.write_pack_response(&noop_pack(), out);
                            self.noops += 1;
                            if self.noops > MAX_NOOPS {
                                return Err(
                                    self.fail_with_pack(out, NegotiationError::TooManyNoops)
                                );
                            }
                        }
                        Ok(req) => return Ok(Some(req)),
                        Err(code) => {
                            return Err(self.fail_with_pack(out, NegotiationError::Refused(code)))
                        }
                    }
                }
            }
        }
    }

    /// One request of the step-1 dispatcher (`ServerDownloadSignature`).
    /// JSON-RPC web API requests are handed to the caller before this (see
    /// [`ServerEvent::WebApi`], the web console's `/admin…` too); the SSTP
    /// hand-off is not implemented: requests for them, and web API requests while the API
    /// is disabled, get the answers SoftEther gives with those features
    /// disabled.
    fn dispatch(&mut self, head: HttpHead, out: &mut Vec<u8>) -> Result<(), NegotiationError> {
        let method = head.method();
        if method.eq_ignore_ascii_case("POST") {
            let len = match head.content_length() {
                Ok(n) if signature_length_acceptable(n) => n,
                other => {
                    // Unparsable lengths read as 0 in SoftEther (`ToInt`).
                    self.page(403, head.target(), out);
                    return Err(NegotiationError::SignatureLength(other.unwrap_or(0)));
                }
            };
            self.state = ServerState::SignatureBody(head, len);
        } else if method.eq_ignore_ascii_case("OPTIONS") {
            // Ignored without an answer (no CORS without the web API).
        } else if method.eq_ignore_ascii_case("GET") || method.eq_ignore_ascii_case("HEAD") {
            // No web page at "/" (the stock archive has none) → 403.
            let code = if head.target() == "/" { 403 } else { 404 };
            self.page(code, head.target(), out);
        } else {
            self.page(501, head.target(), out);
        }
        Ok(())
    }

    /// Appends `HTTP/1.1 200 OK` with `application/octet-stream`, `Date`,
    /// `Keep-Alive`, `Connection` and the PACK plus a `pencore` padding
    /// element as body (`HttpServerSend`). Used for hello, welcome, error and
    /// additional-connect replies.
    pub fn write_pack_response(&self, pack: &Pack, out: &mut Vec<u8>) {
        let body = padded(pack);
        let date = http_date(self.now_unix);
        write_response(
            out,
            200,
            "OK",
            &[
                ("Date", &date),
                ("Keep-Alive", http::KEEP_ALIVE),
                ("Connection", "Keep-Alive"),
                ("Content-Type", http::CONTENT_TYPE_PACK),
            ],
            &body,
        );
    }
}

fn padded(pack: &Pack) -> Vec<u8> {
    let mut p = pack.clone();
    p.add_padding(&mut rand::thread_rng());
    p.encode()
}

/// Why the client side of a negotiation failed: the SoftEther error code the
/// reference client would report plus a reason for logs.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
#[error("{code} ({reason})")]
pub struct ClientNegotiationError {
    /// `ERR_SERVER_IS_NOT_VPN` for a bad hello, `ERR_DISCONNECTED` for a bad
    /// later response, or the code of an error PACK.
    pub code: ErrorCode,
    /// What was wrong.
    pub reason: &'static str,
}

/// Client side of steps 1–4 (`ClientUploadSignature`, `ClientDownloadHello`,
/// `HttpClientSend`, `HttpClientRecv`), used for cascades.
///
/// Call [`ClientNegotiation::start`], feed the server's bytes to
/// [`ClientNegotiation::on_hello`] until it yields the [`Hello`], then
/// alternate [`ClientNegotiation::send_request`] and
/// [`ClientNegotiation::on_response`].
#[derive(Debug)]
pub struct ClientNegotiation {
    peer_host: String,
    now_unix: u64,
    parser: HttpParser,
    hello: Option<Hello>,
}

impl ClientNegotiation {
    /// `peer_host` is the server's IP address in text form, sent as `Host`
    /// (SoftEther sends the peer IP, not the configured name).
    pub fn new(peer_host: String, now_unix: u64) -> Self {
        ClientNegotiation {
            peer_host,
            now_unix,
            parser: HttpParser::new(CLIENT_MAX_RESPONSE),
            hello: None,
        }
    }

    /// Updates the time used for `Date` headers.
    pub fn set_now(&mut self, now_unix: u64) {
        self.now_unix = now_unix;
    }

    /// The hello once received.
    pub fn hello(&self) -> Option<&Hello> {
        self.hello.as_ref()
    }

    /// Appends the step-1 request: `POST /vpnsvc/connect.cgi` with
    /// `Content-Type: image/jpeg`, `Connection: Keep-Alive`, `Host` and the
    /// body `VPNCONNECT` (accepted by SoftEther servers instead of the
    /// watermark image, docs/protocol-sslvpn.md §3.4).
    pub fn start(&mut self, out: &mut Vec<u8>) {
        write_request(
            out,
            "POST",
            http::SIGNATURE_TARGET,
            &[
                ("Connection", "Keep-Alive"),
                ("Content-Type", http::CONTENT_TYPE_SIGNATURE),
                ("Host", &self.peer_host),
            ],
            VPNCONNECT,
        );
    }

    fn recv_pack(
        &mut self,
        buf: &mut BytesMut,
        fail: ErrorCode,
    ) -> Result<Option<Pack>, ClientNegotiationError> {
        let err = |reason| ClientNegotiationError { code: fail, reason };
        let msg = match self.parser.parse(buf) {
            Ok(Some(m)) => m,
            Ok(None) => return Ok(None),
            Err(_) => return Err(err("malformed HTTP response")),
        };
        let head = &msg.head;
        if head.start[0] != "HTTP/1.1" || head.start[1] != "200" {
            return Err(err("HTTP status is not 200"));
        }
        if !head
            .header("Content-Type")
            .is_some_and(|t| t.eq_ignore_ascii_case(http::CONTENT_TYPE_PACK))
        {
            return Err(err("Content-Type is not application/octet-stream"));
        }
        if msg.body.is_empty() {
            return Err(err("empty body"));
        }
        let limits = PackLimits {
            max_bytes: CLIENT_MAX_RESPONSE,
            max_value_bytes: CLIENT_MAX_RESPONSE,
            ..PackLimits::DEFAULT
        };
        Pack::decode_with(&msg.body, &limits)
            .map(Some)
            .map_err(|_| err("body is not a valid PACK"))
    }

    /// Reads the hello response: anything but `HTTP/1.1 200` with a PACK
    /// body holding `hello` and a 20-byte `random` is
    /// [`ErrorCode::SERVER_IS_NOT_VPN`]; a PACK with a non-zero `error`
    /// fails with that code.
    pub fn on_hello(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<Hello>, ClientNegotiationError> {
        let Some(pack) = self.recv_pack(buf, ErrorCode::SERVER_IS_NOT_VPN)? else {
            return Ok(None);
        };
        let hello = Hello::from_pack(&pack).map_err(|code| ClientNegotiationError {
            code,
            reason: "bad hello PACK",
        })?;
        self.hello = Some(hello.clone());
        Ok(Some(hello))
    }

    /// Appends `POST /vpnsvc/vpn.cgi` with `Connection`, `Content-Type:
    /// application/octet-stream`, `Date`, `Host`, `Keep-Alive` and the PACK
    /// plus `pencore` padding (`HttpClientSend`).
    pub fn send_request(&mut self, pack: &Pack, out: &mut Vec<u8>) {
        let body = padded(pack);
        let date = http_date(self.now_unix);
        write_request(
            out,
            "POST",
            http::PACK_TARGET,
            &[
                ("Date", &date),
                ("Host", &self.peer_host),
                ("Keep-Alive", http::KEEP_ALIVE),
                ("Connection", "Keep-Alive"),
                ("Content-Type", http::CONTENT_TYPE_PACK),
            ],
            &body,
        );
    }

    /// Reads one response PACK (`HttpClientRecv`): `HTTP/1.1 200`,
    /// `application/octet-stream`, 1..=16 MiB, valid PACK, else
    /// [`ErrorCode::DISCONNECTED`]. Unsolicited `{noop: 2}` PACKs of newer
    /// servers are skipped. The PACK is returned as is: check `error` with
    /// the message types of [`crate::messages`].
    pub fn on_response(
        &mut self,
        buf: &mut BytesMut,
    ) -> Result<Option<Pack>, ClientNegotiationError> {
        loop {
            let Some(pack) = self.recv_pack(buf, ErrorCode::DISCONNECTED)? else {
                return Ok(None);
            };
            if pack.get_int("noop") == Some(2) {
                continue;
            }
            return Ok(Some(pack));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::{
        AdditionalConnect, AdditionalConnectReply, ClientAuth, Direction, LoginRequest, Welcome,
        SERVER_HELLO,
    };
    use crate::password::{hash_password, secure_password, verify_secure_password};
    use crate::watermark::{WATERMARK_LEN, WATERMARK_PREFIX};
    use bytes::{BufMut, Bytes};

    const NOW: u64 = 1_795_310_799;

    fn server() -> ServerNegotiation {
        ServerNegotiation::new(
            Hello::server(&mut rand::thread_rng()),
            5555,
            "127.0.0.1".into(),
            NOW,
        )
    }

    /// Splits `out` into HTTP responses.
    fn responses(out: &[u8]) -> Vec<(String, Bytes)> {
        let mut buf = BytesMut::from(out);
        let mut p = HttpParser::new(1 << 20);
        let mut v = Vec::new();
        while let Some(m) = p.parse(&mut buf).unwrap() {
            v.push((m.head.start[1].clone(), m.body));
        }
        assert!(buf.is_empty(), "trailing output");
        v
    }

    fn req(method: &str, target: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
        let mut v = Vec::new();
        write_request(&mut v, method, target, headers, body);
        v
    }

    /// The real client's signature POST of §3.2 (with `VPNCONNECT` instead
    /// of the image unless `body` is given).
    fn signature_post(body: &[u8]) -> Vec<u8> {
        req(
            "POST",
            "/vpnsvc/connect.cgi",
            &[
                ("Connection", "Keep-Alive"),
                ("Content-Type", "image/jpeg"),
                ("Host", "127.0.0.1"),
            ],
            body,
        )
    }

    /// The real client's PACK POST of §3.5.
    fn pack_post(pack: &Pack) -> Vec<u8> {
        let mut p = pack.clone();
        p.add_padding(&mut rand::thread_rng());
        req(
            "POST",
            "/vpnsvc/vpn.cgi",
            &[
                ("Connection", "Keep-Alive"),
                ("Content-Type", "application/octet-stream"),
                ("Date", "Sun, 22 Nov 2026 01:26:39 GMT"),
                ("Host", "127.0.0.1"),
                ("Keep-Alive", "timeout=15; max=19"),
            ],
            &p.encode(),
        )
    }

    fn feed(
        s: &mut ServerNegotiation,
        bytes: &[u8],
    ) -> (
        Result<Option<ClientRequest>, NegotiationError>,
        Vec<u8>,
        BytesMut,
    ) {
        let mut buf = BytesMut::from(bytes);
        let mut out = Vec::new();
        let r = s.on_input(&mut buf, &mut out);
        (r, out, buf)
    }

    fn login_pack() -> (Pack, [u8; 20]) {
        let l = LoginRequest::cascade("DEFAULT", "test", [0; 20], [1; 20]);
        (l.to_pack(), [0; 20])
    }

    #[test]
    fn get_then_signature_then_login() {
        let mut s = server();
        let mut input = req("GET", "/", &[("Host", "x")], b"");
        input.extend_from_slice(&signature_post(VPNCONNECT));
        let (r, out, rest) = feed(&mut s, &input);
        assert_eq!(r, Ok(None));
        assert!(rest.is_empty());
        let resp = responses(&out);
        assert_eq!(resp.len(), 2);
        assert_eq!(resp[0].0, "403");
        assert_eq!(resp[1].0, "200");
        assert!(out.starts_with(b"HTTP/1.1 403 Forbidden\r\n"));
        let hello = Hello::from_pack(&Pack::decode(&resp[1].1).unwrap()).unwrap();
        assert_eq!(hello, *s.hello());
        assert_eq!(hello.hello, SERVER_HELLO);
        assert!(s.signature_done());

        // login as the real client frames it, followed by data-phase bytes
        let (pack, _) = login_pack();
        let mut input = pack_post(&pack);
        input.extend_from_slice(&[0xff, 0xff, 0xff, 0xff]);
        let (r, out, rest) = feed(&mut s, &input);
        assert!(out.is_empty());
        assert_eq!(&rest[..], &[0xff; 4], "bytes after the PACK stay");
        let Ok(Some(ClientRequest::Login(l))) = r else {
            panic!("{r:?}")
        };
        assert_eq!(l.hubname, "DEFAULT");
    }

    /// The real client's watermark (from the installed vpnclient) is
    /// accepted. Needs SoftEther installed (`rustether_testkit::prereq`).
    #[test]
    fn real_watermark_body_from_installed_softether() {
        use rustether_testkit::prereq::{require, Prereq};
        if !require(&[Prereq::SoftEther]) {
            return;
        }
        let path = rustether_testkit::softether::program("vpnclient");
        let bin = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let at = bin
            .windows(WATERMARK_PREFIX.len())
            .position(|w| w == WATERMARK_PREFIX)
            .expect("the watermark in vpnclient");
        // §3.2: Content-Length 2495 = 1411 + 1084 random bytes
        let mut body = bin[at..at + WATERMARK_LEN].to_vec();
        body.extend((0..1084u32).map(|i| i as u8));
        let input = signature_post(&body);
        assert!(input.starts_with(
            b"POST /vpnsvc/connect.cgi HTTP/1.1\r\nConnection: Keep-Alive\r\n\
              Content-Length: 2495\r\nContent-Type: image/jpeg\r\nHost: 127.0.0.1\r\n\r\n"
        ));
        let mut s = server();
        let (r, out, _) = feed(&mut s, &input);
        assert_eq!(r, Ok(None));
        assert_eq!(responses(&out)[0].0, "200");
        // one flipped bit → 403, connection kept
        body[100] ^= 1;
        let mut s = server();
        let (r, out, _) = feed(&mut s, &signature_post(&body));
        assert_eq!(r, Ok(None));
        assert_eq!(responses(&out)[0].0, "403");
    }

    #[test]
    fn web_api_requests_are_handed_over_when_enabled() {
        let body = br#"{"jsonrpc":"2.0","id":"1","method":"Test","params":{}}"#;
        let post = req(
            "POST",
            "/api/",
            &[("Content-Type", "application/json")],
            body,
        );
        // disabled (default): SoftEther's answer without the API, 403 for a
        // POST whose length is no signature length
        let mut s = server();
        assert!(!s.web_api());
        let (r, out, _) = feed(&mut s, &post);
        assert!(matches!(r, Err(NegotiationError::SignatureLength(_))));
        assert_eq!(responses(&out)[0].0, "403");

        // enabled: the head comes out, the body stays in the buffer
        let mut s = server();
        s.set_web_api(true);
        let mut buf = BytesMut::from(&post[..]);
        let mut out = Vec::new();
        let Ok(Some(ServerEvent::WebApi(head))) = s.on_input_event(&mut buf, &mut out) else {
            panic!("no web API event")
        };
        assert!(out.is_empty());
        assert_eq!((head.method(), head.target()), ("POST", "/api/"));
        assert_eq!(&buf[..], &body[..]);
        // the caller consumes the body and answers; then the same
        // connection may carry the VPN signature (keep-alive)
        buf.clear();
        s.web_request_done(true);
        assert_eq!(s.signature_requests(), 0);
        buf.extend_from_slice(&signature_post(VPNCONNECT));
        assert_eq!(s.on_input_event(&mut buf, &mut out), Ok(None));
        assert!(s.signature_done());
        assert_eq!(responses(&out)[0].0, "200");

        // GET/HEAD/OPTIONS targets, case-insensitive; others as before
        let mut s = server();
        s.set_web_api(true);
        for (m, t) in [
            ("GET", "/api/GetServerInfo?x=1"),
            ("get", "/API"),
            ("HEAD", "/api?x"),
            ("OPTIONS", "/api/"),
        ] {
            let mut buf = BytesMut::from(&req(m, t, &[], b"")[..]);
            let mut out = Vec::new();
            let ev = s.on_input_event(&mut buf, &mut out).unwrap();
            assert!(
                matches!(&ev, Some(ServerEvent::WebApi(h)) if h.target() == t),
                "{m} {t}: {ev:?}"
            );
            s.web_request_done(false);
        }
        assert_eq!(s.signature_requests(), 4, "unauthenticated requests count");
        let mut input = req("GET", "/apix", &[], b"");
        input.extend_from_slice(&req("OPTIONS", "/api/x", &[], b""));
        let (r, out, _) = feed(&mut s, &input);
        assert_eq!(r, Ok(None));
        assert_eq!(
            responses(&out).len(),
            1,
            "404 for /apix, OPTIONS /api/x ignored"
        );

        // /metrics only when enabled, and independently of the web API
        let mut s = server();
        let (_, out, _) = feed(&mut s, &req("GET", "/metrics", &[], b""));
        assert_eq!(responses(&out)[0].0, "404", "off by default");
        let mut s = server();
        s.set_metrics(true);
        for (m, t) in [("GET", "/metrics"), ("HEAD", "/Metrics?x=1")] {
            let mut buf = BytesMut::from(&req(m, t, &[], b"")[..]);
            let mut out = Vec::new();
            let ev = s.on_input_event(&mut buf, &mut out).unwrap();
            assert!(
                matches!(&ev, Some(ServerEvent::WebApi(h)) if h.target() == t),
                "{m} {t}: {ev:?}"
            );
            s.web_request_done(false);
        }
        let (_, out, _) = feed(&mut s, &req("GET", "/api/", &[], b""));
        assert_eq!(responses(&out)[0].0, "404", "metrics do not open the API");
        assert!(!is_metrics_request("POST", "/metrics"));
        assert!(!is_metrics_request("GET", "/metricsx"));

        // the plain on_input refuses a web request it cannot hand over
        let mut s = server();
        s.set_web_api(true);
        let (r, _, _) = feed(&mut s, &req("OPTIONS", "/api", &[], b""));
        assert!(matches!(r, Err(NegotiationError::BadRequest(_))));

        assert!(is_web_api_request("post", "/API"));
        assert!(is_web_api_request("GET", "/admin/"));
        assert!(is_web_api_request("get", "/ADMIN"));
        assert!(is_web_api_request("HEAD", "/admin/app.js"));
        assert!(!is_web_api_request("POST", "/admin/"));
        assert!(!is_web_api_request("GET", "/administrator"));
        assert!(is_web_console_request("GET", "/admin?x=1"));
        assert!(!is_web_console_request("GET", "/api/"));
        assert!(!is_web_api_request("POST", "/api?x"));
        assert!(!is_web_api_request("PUT", "/api"));
    }

    #[test]
    fn dispatcher_answers() {
        // wrong target → 404, kept; then the right one works
        let mut s = server();
        let mut input = req("POST", "/vpnsvc/vpn.cgi", &[], VPNCONNECT);
        input.extend_from_slice(&req("post", "/VPNSVC/Connect.CGI", &[], VPNCONNECT));
        let (r, out, _) = feed(&mut s, &input);
        assert_eq!(r, Ok(None));
        let codes: Vec<_> = responses(&out).into_iter().map(|r| r.0).collect();
        assert_eq!(codes, ["404", "200"], "target is case-insensitive");

        // right length, wrong content → 403 kept
        let mut s = server();
        let (r, out, _) = feed(&mut s, &signature_post(b"VPNCONNECX"));
        assert_eq!(r, Ok(None));
        assert_eq!(responses(&out)[0].0, "403");
        assert!(!s.signature_done());

        // oversize POST → 403 and give up, without waiting for the body
        for len in ["3412", "20", "abc"] {
            let mut s = server();
            let input =
                format!("POST /vpnsvc/connect.cgi HTTP/1.1\r\nContent-Length: {len}\r\n\r\n");
            let (r, out, _) = feed(&mut s, input.as_bytes());
            assert!(
                matches!(r, Err(NegotiationError::SignatureLength(_))),
                "{r:?}"
            );
            assert_eq!(responses(&out)[0].0, "403");
            assert_eq!(r.unwrap_err().code(), ErrorCode::CLIENT_IS_NOT_VPN);
        }

        // PUT → 501, OPTIONS ignored, HEAD /x → 404, HTTP/1.0 accepted
        let mut s = server();
        let mut input = req("PUT", "/x", &[], b"");
        input.extend_from_slice(b"OPTIONS / HTTP/1.1\r\n\r\n");
        input.extend_from_slice(b"HEAD /x HTTP/1.1\r\n\r\n");
        input.extend_from_slice(
            b"POST /vpnsvc/connect.cgi HTTP/1.0\r\nContent-Length: 10\r\n\r\nVPNCONNECT",
        );
        let (r, out, _) = feed(&mut s, &input);
        assert_eq!(r, Ok(None));
        let codes: Vec<_> = responses(&out).into_iter().map(|r| r.0).collect();
        assert_eq!(codes, ["501", "404", "200"]);
        assert!(out.starts_with(b"HTTP/1.1 501 Method Not Implemented\r\n"));
        assert_eq!(s.signature_requests(), 4);

        // malformed head → error, no answer
        let mut s = server();
        let (r, out, _) = feed(&mut s, b"GARBAGE\r\n");
        assert_eq!(r, Err(NegotiationError::Http(HttpError::BadStartLine)));
        assert!(out.is_empty());
        // the machine stays failed
        let (r, _, rest) = feed(&mut s, &signature_post(VPNCONNECT));
        assert_eq!(r, Ok(None));
        assert!(!rest.is_empty());
    }

    #[test]
    fn twenty_requests_close() {
        let mut s = server();
        let mut input = Vec::new();
        for i in 0..20 {
            input.extend_from_slice(&req("GET", &format!("/{i}"), &[], b""));
        }
        let (r, out, rest) = feed(&mut s, &input);
        assert_eq!(r, Err(NegotiationError::TooManyRequests));
        assert_eq!(responses(&out).len(), 19, "19 answered, the 20th not read");
        assert_eq!(&rest[..], &req("GET", "/19", &[], b"")[..]);

        // 19 requests then the signature is too late as well
        let mut s = server();
        let mut input = Vec::new();
        for _ in 0..19 {
            input.extend_from_slice(&req("GET", "/", &[], b""));
        }
        let (r, _, _) = feed(&mut s, &input);
        assert_eq!(r, Err(NegotiationError::TooManyRequests));
        // 18 then the signature works
        let mut s = server();
        let mut input = Vec::new();
        for _ in 0..18 {
            input.extend_from_slice(&req("GET", "/", &[], b""));
        }
        input.extend_from_slice(&signature_post(VPNCONNECT));
        let (r, out, _) = feed(&mut s, &input);
        assert_eq!(r, Ok(None));
        assert_eq!(responses(&out).last().unwrap().0, "200");
    }

    fn signed_server() -> ServerNegotiation {
        let mut s = server();
        let (r, _, _) = feed(&mut s, &signature_post(VPNCONNECT));
        assert_eq!(r, Ok(None));
        s
    }

    fn expect_error_pack(out: &[u8], code: ErrorCode) {
        let resp = responses(out);
        assert_eq!(resp.len(), 1);
        assert_eq!(resp[0].0, "200");
        let p = Pack::decode(&resp[0].1).unwrap();
        assert_eq!(p.get_int("error"), Some(code.0));
        assert!(p.get_data("pencore").is_some());
    }

    #[test]
    fn pack_request_rules() {
        let (pack, _) = login_pack();
        let body = pack.encode();
        let ok_headers = [("Content-Type", "application/octet-stream")];
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (req("POST", "/vpnsvc/connect.cgi", &ok_headers, &body), "target"),
            (req("PUT", "/vpnsvc/vpn.cgi", &ok_headers, &body), "method"),
            (
                req("POST", "/vpnsvc/vpn.cgi", &[("Content-Type", "image/jpeg")], &body),
                "type",
            ),
            (req("POST", "/vpnsvc/vpn.cgi", &[], &body), "no type"),
            (req("POST", "/vpnsvc/vpn.cgi", &ok_headers, b""), "empty"),
            (
                format!(
                    "POST /vpnsvc/vpn.cgi HTTP/1.0\r\nContent-Type: application/octet-stream\r\nContent-Length: {}\r\n\r\n",
                    body.len()
                )
                .into_bytes(),
                "version",
            ),
            (
                b"POST /vpnsvc/vpn.cgi HTTP/1.1\r\nContent-Type: application/octet-stream\r\nContent-Length: 70000\r\n\r\n"
                    .to_vec(),
                "70 000 bytes",
            ),
        ];
        for (input, what) in cases {
            let mut s = signed_server();
            let (r, out, _) = feed(&mut s, &input);
            assert!(
                matches!(r, Err(NegotiationError::BadRequest(_))),
                "{what}: {r:?}"
            );
            expect_error_pack(&out, ErrorCode::DISCONNECTED);
        }
        // duplicate element → bad PACK → error 3
        let mut dup = pack.encode();
        let extra = {
            let mut p = Pack::new();
            p.add_str("METHOD", "login");
            p.encode()
        };
        dup[3] += 1;
        dup.extend_from_slice(&extra[4..]);
        let mut s = signed_server();
        let (r, out, _) = feed(&mut s, &req("POST", "/vpnsvc/vpn.cgi", &ok_headers, &dup));
        assert_eq!(
            r,
            Err(NegotiationError::BadPack(PackError::DuplicateName(
                "METHOD".into()
            )))
        );
        expect_error_pack(&out, ErrorCode::DISCONNECTED);
        // unknown method → error 4
        let mut p = Pack::new();
        p.add_str("method", "nope");
        let mut s = signed_server();
        let (r, out, _) = feed(&mut s, &pack_post(&p));
        assert_eq!(r, Err(NegotiationError::Refused(ErrorCode::PROTOCOL_ERROR)));
        expect_error_pack(&out, ErrorCode::PROTOCOL_ERROR);
        // optional headers (Date, Keep-Alive, Host) are not required
        let mut s = signed_server();
        let (r, _, _) = feed(&mut s, &req("POST", "/vpnsvc/vpn.cgi", &ok_headers, &body));
        assert!(matches!(r, Ok(Some(ClientRequest::Login(_)))));
    }

    #[test]
    fn noops() {
        let mut s = signed_server();
        let mut input = Vec::new();
        for _ in 0..30 {
            input.extend_from_slice(&pack_post(&noop_pack()));
        }
        let (pack, _) = login_pack();
        input.extend_from_slice(&pack_post(&pack));
        let (r, out, _) = feed(&mut s, &input);
        assert!(matches!(r, Ok(Some(ClientRequest::Login(_)))), "{r:?}");
        let resp = responses(&out);
        assert_eq!(resp.len(), 30);
        for (code, body) in resp {
            assert_eq!(code, "200");
            let p = Pack::decode(&body).unwrap();
            assert_eq!((p.get_int("error"), p.get_int("noop")), (Some(0), Some(1)));
        }
        // the 31st NOOP is answered, then error 3
        let mut s = signed_server();
        let mut input = Vec::new();
        for _ in 0..31 {
            input.extend_from_slice(&pack_post(&noop_pack()));
        }
        let (r, out, _) = feed(&mut s, &input);
        assert_eq!(r, Err(NegotiationError::TooManyNoops));
        assert_eq!(responses(&out).len(), 32);
    }

    /// Bytes in flight between the two machines, delivered in small pieces.
    fn pump_to_server(
        bytes: &[u8],
        s: &mut ServerNegotiation,
        out: &mut Vec<u8>,
    ) -> Option<ClientRequest> {
        let mut buf = BytesMut::new();
        let mut got = None;
        for chunk in bytes.chunks(7) {
            buf.put_slice(chunk);
            if let Some(r) = s.on_input(&mut buf, out).unwrap() {
                assert!(got.is_none());
                got = Some(r);
            }
        }
        assert!(buf.is_empty());
        got
    }

    fn client_reads<T>(
        bytes: &[u8],
        mut f: impl FnMut(&mut BytesMut) -> Result<Option<T>, ClientNegotiationError>,
    ) -> Result<T, ClientNegotiationError> {
        let mut buf = BytesMut::new();
        for chunk in bytes.chunks(5) {
            buf.put_slice(chunk);
            if let Some(v) = f(&mut buf)? {
                assert!(buf.is_empty());
                return Ok(v);
            }
        }
        panic!("incomplete response");
    }

    #[test]
    fn full_login_in_memory() {
        let stored = hash_password("test", "testpass");
        let mut s = server();
        let mut c = ClientNegotiation::new("127.0.0.1".into(), NOW);

        let mut to_server = Vec::new();
        c.start(&mut to_server);
        assert!(to_server.ends_with(b"\r\n\r\nVPNCONNECT"));
        let mut to_client = Vec::new();
        assert!(pump_to_server(&to_server, &mut s, &mut to_client).is_none());
        let hello = client_reads(&to_client, |b| c.on_hello(b)).unwrap();
        assert_eq!(hello.random, s.hello().random);

        let login = LoginRequest::cascade(
            "DEFAULT",
            "test",
            secure_password(&stored, &hello.random),
            [9; 20],
        );
        let mut to_server = Vec::new();
        c.send_request(&login.to_pack(), &mut to_server);
        let mut to_client = Vec::new();
        let Some(ClientRequest::Login(got)) = pump_to_server(&to_server, &mut s, &mut to_client)
        else {
            panic!()
        };
        assert!(to_client.is_empty());
        assert_eq!(got, login);
        let ClientAuth::Password { secure_password } = &got.auth else {
            panic!()
        };
        assert!(verify_secure_password(
            &stored,
            &s.hello().random,
            secure_password
        ));

        let welcome = Welcome {
            session_name: "SID-TEST-1".into(),
            connection_name: "CID-1".into(),
            session_key: [3; 20],
            session_key_32: 1,
            timeout_ms: 20_000,
            max_connection: 1,
            use_encrypt: true,
            use_compress: false,
            half_connection: false,
            qos: false,
            vlan_id: 0,
            msg: vec![],
            policy: vec![("Access".into(), 1)],
        };
        s.write_pack_response(&welcome.to_pack(), &mut to_client);
        // the data phase may follow in the same read
        to_client.extend_from_slice(&[0xff; 4]);
        let mut buf = BytesMut::from(&to_client[..]);
        let pack = c.on_response(&mut buf).unwrap().unwrap();
        assert_eq!(&buf[..], &[0xff; 4]);
        assert_eq!(Welcome::from_pack(&pack), Ok(welcome));
    }

    #[test]
    fn additional_connect_and_error_in_memory() {
        // additional connection: its own signature + hello, then the key
        let mut s = server();
        let mut c = ClientNegotiation::new("::1".into(), NOW);
        let mut to_server = Vec::new();
        c.start(&mut to_server);
        let mut to_client = Vec::new();
        pump_to_server(&to_server, &mut s, &mut to_client);
        client_reads(&to_client, |b| c.on_hello(b)).unwrap();
        let ac = AdditionalConnect {
            session_key: [3; 20],
            client_str: "x".into(),
            client_ver: 501,
            client_build: 9674,
        };
        let mut to_server = Vec::new();
        c.send_request(&ac.to_pack(), &mut to_server);
        let mut to_client = Vec::new();
        assert_eq!(
            pump_to_server(&to_server, &mut s, &mut to_client),
            Some(ClientRequest::AdditionalConnect(ac))
        );
        let reply = AdditionalConnectReply {
            direction: Direction::ServerToClient,
        };
        s.write_pack_response(&reply.to_pack(), &mut to_client);
        let p = client_reads(&to_client, |b| c.on_response(b)).unwrap();
        assert_eq!(AdditionalConnectReply::from_pack(&p), Ok(reply));

        // login refused: the error PACK reaches the client
        let mut s = server();
        let mut c = ClientNegotiation::new("127.0.0.1".into(), NOW);
        let mut to_server = Vec::new();
        c.start(&mut to_server);
        let mut to_client = Vec::new();
        pump_to_server(&to_server, &mut s, &mut to_client);
        client_reads(&to_client, |b| c.on_hello(b)).unwrap();
        let mut to_server = Vec::new();
        c.send_request(&login_pack().0, &mut to_server);
        let mut to_client = Vec::new();
        pump_to_server(&to_server, &mut s, &mut to_client);
        s.write_pack_response(
            &ErrorReply::new(ErrorCode::HUB_NOT_FOUND).to_pack(),
            &mut to_client,
        );
        let p = client_reads(&to_client, |b| c.on_response(b)).unwrap();
        assert_eq!(Welcome::from_pack(&p), Err(ErrorCode::HUB_NOT_FOUND));
    }

    #[test]
    fn client_rejects_non_vpn_servers() {
        let not_vpn = |bytes: &[u8]| {
            let mut c = ClientNegotiation::new("127.0.0.1".into(), NOW);
            let mut buf = BytesMut::from(bytes);
            c.on_hello(&mut buf).unwrap_err().code
        };
        let page = error_page(404, "/vpnsvc/connect.cgi", "127.0.0.1", 443, "x");
        assert_eq!(not_vpn(&page), ErrorCode::SERVER_IS_NOT_VPN);
        let mut ok_type = Vec::new();
        write_response(
            &mut ok_type,
            200,
            "OK",
            &[("Content-Type", "text/html")],
            b"x",
        );
        assert_eq!(not_vpn(&ok_type), ErrorCode::SERVER_IS_NOT_VPN);
        let mut garbage = Vec::new();
        write_response(
            &mut garbage,
            200,
            "OK",
            &[("Content-Type", "application/octet-stream")],
            b"\0\0\0\x05",
        );
        assert_eq!(not_vpn(&garbage), ErrorCode::SERVER_IS_NOT_VPN);
        let mut no_random = Vec::new();
        let mut p = Pack::new();
        p.add_str("hello", "x");
        write_response(
            &mut no_random,
            200,
            "OK",
            &[("Content-Type", "application/octet-stream")],
            &p.encode(),
        );
        assert_eq!(not_vpn(&no_random), ErrorCode::SERVER_IS_NOT_VPN);
        assert_eq!(
            not_vpn(b"SSH-2.0-OpenSSH\r\n\r\n"),
            ErrorCode::SERVER_IS_NOT_VPN
        );
        // later responses: DISCONNECTED; noop=2 skipped
        let mut c = ClientNegotiation::new("127.0.0.1".into(), NOW);
        let s = server();
        let mut bytes = Vec::new();
        let mut n2 = Pack::new();
        n2.add_int("error", 0).add_int("noop", 2);
        s.write_pack_response(&n2, &mut bytes);
        s.write_pack_response(&noop_pack(), &mut bytes);
        let mut buf = BytesMut::from(&bytes[..]);
        assert_eq!(
            c.on_response(&mut buf).unwrap().unwrap().get_int("noop"),
            Some(1)
        );
        let mut buf = BytesMut::from(&page[..]);
        assert_eq!(
            c.on_response(&mut buf).unwrap_err().code,
            ErrorCode::DISCONNECTED
        );
    }

    #[test]
    fn request_headers_match_the_real_client() {
        let mut c = ClientNegotiation::new("127.0.0.1".into(), NOW);
        let mut out = Vec::new();
        c.start(&mut out);
        assert_eq!(
            out,
            b"POST /vpnsvc/connect.cgi HTTP/1.1\r\nConnection: Keep-Alive\r\nContent-Length: 10\r\n\
              Content-Type: image/jpeg\r\nHost: 127.0.0.1\r\n\r\nVPNCONNECT"
        );
        let mut out = Vec::new();
        c.send_request(&Pack::new(), &mut out);
        let head =
            String::from_utf8_lossy(&out[..out.windows(4).position(|w| w == b"\r\n\r\n").unwrap()])
                .into_owned();
        let lines: Vec<&str> = head.lines().collect();
        assert_eq!(lines[0], "POST /vpnsvc/vpn.cgi HTTP/1.1");
        assert_eq!(lines[1], "Connection: Keep-Alive");
        assert!(lines[2].starts_with("Content-Length: "));
        assert_eq!(lines[3], "Content-Type: application/octet-stream");
        assert_eq!(lines[4], "Date: Sun, 22 Nov 2026 01:26:39 GMT");
        assert_eq!(lines[5], "Host: 127.0.0.1");
        assert_eq!(lines[6], "Keep-Alive: timeout=15; max=19");
        // and the server's reply shape of §3.5
        let s = server();
        let mut out = Vec::new();
        s.write_pack_response(&Pack::new(), &mut out);
        let text = String::from_utf8_lossy(&out);
        let mut lines = text.lines();
        assert_eq!(lines.next(), Some("HTTP/1.1 200 OK"));
        assert_eq!(lines.next(), Some("Connection: Keep-Alive"));
        assert!(lines.next().unwrap().starts_with("Content-Length: "));
        assert_eq!(lines.next(), Some("Content-Type: application/octet-stream"));
        assert_eq!(lines.next(), Some("Date: Sun, 22 Nov 2026 01:26:39 GMT"));
        assert_eq!(lines.next(), Some("Keep-Alive: timeout=15; max=19"));
    }
}
