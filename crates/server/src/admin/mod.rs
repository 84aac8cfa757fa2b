//! Administration connections (`method=admin`, vpncmd): the server-side
//! glue between a TLS connection and `rustether-admin`.

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::BytesMut;
use rustether_proto::error::ErrorCode;
use rustether_proto::messages::AdminLogin;
use rustether_proto::negotiate::ServerNegotiation;
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;
use tracing::info;

use crate::server::Server;

/// Serves an administration connection after its login PACK.
pub async fn serve(
    _server: Arc<Server>,
    mut tls: TlsStream<TcpStream>,
    nego: ServerNegotiation,
    _leftover: BytesMut,
    _login: AdminLogin,
    peer: SocketAddr,
    _random: [u8; 20],
) {
    info!(%peer, "administration connection refused: not available yet");
    crate::connection::reply_error(&mut tls, &nego, ErrorCode::NOT_SUPPORTED).await;
}
