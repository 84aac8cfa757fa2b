//! The client side of the SoftEther protocol over tokio: what a cascade
//! connection does to log in to a remote virtual hub (docs/protocol-sslvpn.md
//! §11) and to add connections to its session (§6).
//!
//! TLS reads go through a [`RecordReader`] so that, with `use_encrypt=0`,
//! the plaintext bytes the server sends right after its last TLS record are
//! not swallowed by the TLS library (§7.1 hazard 2).

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rustether_proto::messages::{
    AdditionalConnect, AdditionalConnectReply, Direction, ErrorReply, Hello, LoginRequest, Welcome,
    CASCADE_CLIENT_STR, SERVER_BUILD, SERVER_VERSION,
};
use rustether_proto::negotiate::ClientNegotiation;
use rustether_proto::pack::Pack;
use rustether_proto::ErrorCode;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

use crate::record_reader::RecordReader;
use crate::transport::DataStream;

/// Time allowed for connecting and for each negotiation step
/// (SoftEther `CONNECTING_TIMEOUT`).
pub const CONNECTING_TIMEOUT: Duration = Duration::from_secs(15);

/// A failed attempt, with the SoftEther error code a user would see.
#[derive(Debug, Clone, thiserror::Error)]
#[error("{} ({}): {detail}", code.message(), code.0)]
pub struct ClientError {
    /// Error code (`ERR_CONNECT_FAILED` for TCP failures, the server's code
    /// for refusals).
    pub code: ErrorCode,
    /// What happened.
    pub detail: String,
}

impl ClientError {
    fn new(code: ErrorCode, detail: impl Into<String>) -> ClientError {
        ClientError {
            code,
            detail: detail.into(),
        }
    }
}

/// Where and how to connect.
#[derive(Debug, Clone)]
pub struct ClientTarget {
    /// Host name or IP literal of the server (also used as TLS SNI).
    pub host: String,
    /// TCP port.
    pub port: u16,
    /// Local address to connect from (`None`: chosen by the OS).
    pub source: Option<std::net::IpAddr>,
    /// Refuse to connect to this machine: every address `host` resolves to
    /// is checked, at each connect, with [`crate::hostaddr::is_this_host`]
    /// (a hub administrator's cascade, issue 9 item 4).
    pub not_this_host: bool,
}

type ClientTls = TlsStream<RecordReader<TcpStream>>;

/// One connected, negotiated TCP connection before the data phase.
pub struct ClientConn {
    tls: ClientTls,
    leftover: BytesMut,
    nego: ClientNegotiation,
    /// The server's certificate (DER); every connection of a session must
    /// present the same one (§2.4).
    pub server_cert: Vec<u8>,
    /// Peer address.
    pub peer: SocketAddr,
}

impl ClientConn {
    /// Connects, runs TLS, sends the signature and reads the hello.
    pub async fn connect(target: &ClientTarget) -> Result<(ClientConn, Hello), ClientError> {
        let tcp = tokio::time::timeout(CONNECTING_TIMEOUT, tcp_connect(target))
            .await
            .map_err(|_| ClientError::new(ErrorCode::CONNECT_FAILED, "TCP connect timed out"))?
            .map_err(|e| {
                ClientError::new(ErrorCode::CONNECT_FAILED, format!("TCP connect: {e}"))
            })?;
        let _ = tcp.set_nodelay(true);
        let peer = tcp
            .peer_addr()
            .map_err(|e| ClientError::new(ErrorCode::CONNECT_FAILED, e.to_string()))?;
        let name = rustls::pki_types::ServerName::try_from(target.host.clone())
            .map_err(|_| ClientError::new(ErrorCode::CONNECT_FAILED, "invalid server name"))?;
        let connector = tokio_rustls::TlsConnector::from(client_tls_config());
        let tls = tokio::time::timeout(
            CONNECTING_TIMEOUT,
            connector.connect(name, RecordReader::new(tcp)),
        )
        .await
        .map_err(|_| ClientError::new(ErrorCode::SERVER_IS_NOT_VPN, "TLS handshake timed out"))?
        .map_err(|e| ClientError::new(ErrorCode::SERVER_IS_NOT_VPN, format!("TLS: {e}")))?;
        let server_cert = tls
            .get_ref()
            .1
            .peer_certificates()
            .and_then(|c| c.first())
            .map(|c| c.to_vec())
            .ok_or_else(|| {
                ClientError::new(ErrorCode::SERVER_IS_NOT_VPN, "server sent no certificate")
            })?;
        // Host = the peer's IP address in text form, as the real client sends.
        let nego = ClientNegotiation::new(peer.ip().to_string(), crate::clock::unix_ms() / 1000);
        let mut conn = ClientConn {
            tls,
            leftover: BytesMut::with_capacity(4096),
            nego,
            server_cert,
            peer,
        };
        let mut out = Vec::new();
        conn.nego.start(&mut out);
        conn.write(&out).await?;
        let hello = loop {
            match conn.nego.on_hello(&mut conn.leftover) {
                Ok(Some(h)) => break h,
                Ok(None) => conn.fill().await?,
                Err(e) => return Err(ClientError::new(e.code, e.reason)),
            }
        };
        Ok((conn, hello))
    }

    async fn write(&mut self, data: &[u8]) -> Result<(), ClientError> {
        let r = tokio::time::timeout(CONNECTING_TIMEOUT, async {
            self.tls.write_all(data).await?;
            self.tls.flush().await
        })
        .await;
        match r {
            Ok(Ok(())) => Ok(()),
            _ => Err(ClientError::new(ErrorCode::DISCONNECTED, "write failed")),
        }
    }

    async fn fill(&mut self) -> Result<(), ClientError> {
        match tokio::time::timeout(CONNECTING_TIMEOUT, self.tls.read_buf(&mut self.leftover)).await
        {
            Ok(Ok(0)) => Err(ClientError::new(
                ErrorCode::DISCONNECTED,
                "server closed the connection",
            )),
            Ok(Ok(_)) => Ok(()),
            Ok(Err(e)) => Err(ClientError::new(ErrorCode::DISCONNECTED, e.to_string())),
            Err(_) => Err(ClientError::new(
                ErrorCode::DISCONNECTED,
                "negotiation timed out",
            )),
        }
    }

    /// Sends one request PACK and returns the reply PACK; an error PACK
    /// becomes a [`ClientError`] with its code.
    pub async fn request(&mut self, pack: &Pack) -> Result<Pack, ClientError> {
        let mut out = Vec::new();
        self.nego.send_request(pack, &mut out);
        self.write(&out).await?;
        let reply = loop {
            match self.nego.on_response(&mut self.leftover) {
                Ok(Some(p)) => break p,
                Ok(None) => self.fill().await?,
                Err(e) => return Err(ClientError::new(e.code, e.reason)),
            }
        };
        if let Some(err) = ErrorReply::from_pack(&reply) {
            if err.code != ErrorCode::NO_ERROR {
                return Err(ClientError::new(err.code, "refused by the server"));
            }
        }
        Ok(reply)
    }

    /// Enters the data phase: TLS kept when `encrypt`, else the raw socket
    /// with any plaintext bytes that arrived behind the last TLS record.
    pub fn into_data(self, encrypt: bool) -> (DataStream, BytesMut) {
        if encrypt {
            (DataStream::TlsClient(Box::new(self.tls)), self.leftover)
        } else {
            let (rr, _session) = self.tls.into_inner();
            let (tcp, surplus) = rr.into_parts();
            let mut leftover = self.leftover;
            leftover.extend_from_slice(&surplus);
            (DataStream::Plain(tcp), leftover)
        }
    }

    /// Shuts the TLS connection down (bounded).
    pub async fn close(mut self) {
        let _ = tokio::time::timeout(Duration::from_millis(500), self.tls.shutdown()).await;
    }
}

/// Logs in: connect, hello, login PACK (secure password computed from the
/// hello random by `make_login`), welcome.
pub async fn login(
    target: &ClientTarget,
    make_login: impl FnOnce(&Hello) -> LoginRequest,
) -> Result<(Welcome, ClientConn), ClientError> {
    let (mut conn, hello) = ClientConn::connect(target).await?;
    let req = make_login(&hello);
    let reply = conn.request(&req.to_pack()).await?;
    let welcome =
        Welcome::from_pack(&reply).map_err(|code| ClientError::new(code, "malformed welcome"))?;
    if welcome.timeout_ms == 0 {
        return Err(ClientError::new(
            ErrorCode::SESSION_TIMEOUT,
            "welcome with timeout 0",
        ));
    }
    Ok((welcome, conn))
}

/// Adds a connection to an established session (`additional_connect`).
/// The server must present `expected_cert` again.
pub async fn additional_connect(
    target: &ClientTarget,
    session_key: [u8; 20],
    expected_cert: &[u8],
) -> Result<(Direction, ClientConn), ClientError> {
    let (mut conn, _hello) = ClientConn::connect(target).await?;
    if conn.server_cert != expected_cert {
        return Err(ClientError::new(
            ErrorCode::SERVER_IS_NOT_VPN,
            "the server presented a different certificate",
        ));
    }
    let req = AdditionalConnect {
        session_key,
        client_str: CASCADE_CLIENT_STR.to_string(),
        client_ver: SERVER_VERSION,
        client_build: SERVER_BUILD,
    };
    let reply = conn.request(&req.to_pack()).await?;
    let r = AdditionalConnectReply::from_pack(&reply)
        .map_err(|code| ClientError::new(code, "malformed additional_connect reply"))?;
    Ok((r.direction, conn))
}

async fn tcp_connect(target: &ClientTarget) -> std::io::Result<TcpStream> {
    if target.source.is_none() && !target.not_this_host {
        return TcpStream::connect((target.host.as_str(), target.port)).await;
    }
    // Resolve once and connect only to the addresses checked here, so a
    // name cannot resolve to another address between check and connect.
    let mut addrs: Vec<SocketAddr> = tokio::net::lookup_host((target.host.as_str(), target.port))
        .await?
        .collect();
    if let Some(src) = target.source {
        addrs.retain(|a| a.is_ipv4() == src.is_ipv4());
        if addrs.is_empty() {
            return Err(std::io::Error::other(
                "no address of the same family as the source",
            ));
        }
    }
    if target.not_this_host {
        let own = crate::hostaddr::local_addrs();
        if let Some(a) = addrs
            .iter()
            .find(|a| crate::hostaddr::is_this_host(a.ip(), &own))
        {
            return Err(std::io::Error::new(
                std::io::ErrorKind::PermissionDenied,
                format!(
                    "{} resolves to {}, an address of this server; a cascade set by a hub \
                     administrator may not connect to this server itself",
                    target.host,
                    a.ip()
                ),
            ));
        }
    }
    let mut last = std::io::Error::other("the host name has no address");
    for dst in addrs {
        let sock = if dst.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        if let Some(src) = target.source {
            sock.bind(SocketAddr::new(src, 0))?;
        }
        match sock.connect(dst).await {
            Ok(s) => return Ok(s),
            Err(e) => last = e,
        }
    }
    Err(last)
}

fn client_tls_config() -> Arc<rustls::ClientConfig> {
    static CFG: std::sync::OnceLock<Arc<rustls::ClientConfig>> = std::sync::OnceLock::new();
    CFG.get_or_init(crate::tls::client_config_no_verify).clone()
}
