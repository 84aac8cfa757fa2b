//! The byte stream of one TCP connection after negotiation: TLS, or the raw
//! TCP socket when the session negotiated `use_encrypt=0`
//! (protocol-sslvpn.md §7.1: the TLS layer is then simply abandoned).

use std::pin::Pin;

use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::record_reader::RecordReader;

/// Read half of a data-phase connection.
pub type DataReader = Pin<Box<dyn AsyncRead + Send>>;
/// Write half of a data-phase connection.
pub type DataWriter = Pin<Box<dyn AsyncWrite + Send>>;

/// A negotiated connection ready for the block stream.
pub enum DataStream {
    /// Frames travel as TLS application data.
    Tls(Box<TlsStream<TcpStream>>),
    /// Client side (cascade): frames travel as TLS application data.
    TlsClient(Box<tokio_rustls::client::TlsStream<RecordReader<TcpStream>>>),
    /// Frames travel in clear on the TCP socket.
    Plain(TcpStream),
}

impl DataStream {
    /// Switches to the negotiated mode: `encrypt=false` drops TLS and keeps
    /// the TCP socket. Safe because the peer sends nothing between its
    /// request and our reply, so no TLS record is left unread.
    pub fn from_tls(tls: TlsStream<TcpStream>, encrypt: bool) -> DataStream {
        if encrypt {
            DataStream::Tls(Box::new(tls))
        } else {
            let (tcp, _session) = tls.into_inner();
            DataStream::Plain(tcp)
        }
    }

    /// Splits into independently usable halves. Plain TCP splits without a
    /// lock; TLS shares one rustls state behind tokio's split lock.
    pub fn split(self) -> (DataReader, DataWriter) {
        match self {
            DataStream::Plain(tcp) => {
                let (r, w) = tcp.into_split();
                (Box::pin(r), Box::pin(w))
            }
            DataStream::Tls(tls) => {
                let (r, w) = tokio::io::split(*tls);
                (Box::pin(r), Box::pin(w))
            }
            DataStream::TlsClient(tls) => {
                let (r, w) = tokio::io::split(*tls);
                (Box::pin(r), Box::pin(w))
            }
        }
    }
}
