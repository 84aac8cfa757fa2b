//! The byte stream of one TCP connection: the TLS stream of the
//! negotiation, the data-phase stream after it (TLS, or the raw TCP socket
//! when the session negotiated `use_encrypt=0`; docs/protocol-sslvpn.md §7.1:
//! the TLS layer is then simply abandoned), the read batching under TLS
//! ([`BurstReader`]) and the last words of a refused connection
//! ([`reply_error`], [`linger`]).

use std::pin::Pin;
use std::time::Duration;

use bytes::{BufMut, BytesMut};
use rustether_proto::messages::ErrorReply;
use rustether_proto::negotiate::ServerNegotiation;
use rustether_proto::ErrorCode;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio_rustls::server::TlsStream;

use crate::record_reader::RecordReader;

/// The server side of a TLS connection: rustls over a [`BurstReader`] socket.
pub type ServerTls = TlsStream<BurstReader<TcpStream>>;

/// Read half of a data-phase connection.
pub type DataReader = Pin<Box<dyn AsyncRead + Send>>;
/// Write half of a data-phase connection.
pub type DataWriter = Pin<Box<dyn AsyncWrite + Send>>;

/// A negotiated connection ready for the block stream.
pub enum DataStream {
    /// Frames travel as TLS application data.
    Tls(Box<ServerTls>),
    /// Client side (cascade): frames travel as TLS application data.
    TlsClient(Box<tokio_rustls::client::TlsStream<RecordReader<TcpStream>>>),
    /// Frames travel in clear on the TCP socket.
    Plain(TcpStream),
}

impl DataStream {
    /// Switches to the negotiated mode: `encrypt=false` drops TLS and keeps
    /// the TCP socket. Safe because the peer sends nothing between its
    /// request and our reply, so no TLS record is left unread.
    pub fn from_tls(tls: ServerTls, encrypt: bool) -> (DataStream, BytesMut) {
        if encrypt {
            (DataStream::Tls(Box::new(tls)), BytesMut::new())
        } else {
            let (burst, _session) = tls.into_inner();
            // Bytes read past the last TLS record are the start of the
            // plaintext block stream.
            let (tcp, rest) = burst.into_parts();
            (DataStream::Plain(tcp), rest)
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

/// A socket wrapper that batches reads for the TLS layer.
///
/// rustls pulls at most 4 KiB per read call, which at gigabit rates means
/// tens of thousands of `recv` system calls per second. While a connection
/// is busy (the last socket read filled what was asked for), this wrapper
/// reads up to [`BURST_READ`] bytes at once and serves the TLS layer from
/// that buffer; when the connection goes quiet the buffer is freed, so an
/// idle session keeps no read buffer here.
pub struct BurstReader<T> {
    inner: T,
    /// Bytes read from the socket; `buf[pos..]` are not yet handed out.
    buf: Vec<u8>,
    pos: usize,
    busy: bool,
}

/// Largest single socket read while a connection is busy.
pub const BURST_READ: usize = 64 * 1024;

impl<T> BurstReader<T> {
    /// Wraps `inner`.
    pub fn new(inner: T) -> Self {
        BurstReader {
            inner,
            buf: Vec::new(),
            pos: 0,
            busy: false,
        }
    }

    /// The wrapped socket.
    pub fn get_ref(&self) -> &T {
        &self.inner
    }

    /// The socket and any bytes read from it but not yet consumed (they
    /// belong to whatever reads the socket next).
    pub fn into_parts(self) -> (T, BytesMut) {
        (self.inner, BytesMut::from(&self.buf[self.pos..]))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for BurstReader<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        out: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        use std::task::Poll;
        let this = &mut *self;
        if this.pos < this.buf.len() {
            this.pos += serve(&this.buf[this.pos..], out);
            if this.pos == this.buf.len() {
                this.pos = 0;
                this.buf.clear();
            }
            return Poll::Ready(Ok(()));
        }
        if !this.busy {
            // Quiet connection: read straight into the caller's buffer and
            // give our burst buffer back.
            if this.buf.capacity() > 0 {
                this.buf = Vec::new();
            }
            let before = out.filled().len();
            let want = out.remaining();
            let r = Pin::new(&mut this.inner).poll_read(cx, out);
            if let Poll::Ready(Ok(())) = r {
                this.busy = out.filled().len() - before == want && want > 0;
            }
            return r;
        }
        this.buf.clear();
        this.buf.reserve(BURST_READ);
        // Reads into the spare capacity without initialising it first.
        let mut burst = (&mut this.buf).limit(BURST_READ);
        match tokio_util::io::poll_read_buf(Pin::new(&mut this.inner), cx, &mut burst) {
            Poll::Ready(Ok(got)) => {
                // Stay in burst mode while reads come back at least half full.
                this.busy = got >= BURST_READ / 2;
                this.pos = serve(&this.buf, out);
                if this.pos == this.buf.len() {
                    this.pos = 0;
                    this.buf.clear();
                }
                Poll::Ready(Ok(()))
            }
            Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
            Poll::Pending => Poll::Pending,
        }
    }
}

/// Copies what fits of `data` into `out`; returns how much.
fn serve(data: &[u8], out: &mut tokio::io::ReadBuf<'_>) -> usize {
    let n = data.len().min(out.remaining());
    out.put_slice(&data[..n]);
    n
}

impl<T: AsyncWrite + Unpin> AsyncWrite for BurstReader<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        data: &[u8],
    ) -> std::task::Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
        bufs: &[std::io::IoSlice<'_>],
    ) -> std::task::Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(
        mut self: Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

/// How long [`linger`] waits for the peer to close.
pub const LINGER: Duration = Duration::from_secs(2);

/// Sends an error PACK on a negotiating connection, then lingers
/// (SoftEther reads at most one more request, docs/protocol-sslvpn.md §3.6).
pub async fn reply_error(tls: &mut ServerTls, nego: &ServerNegotiation, code: ErrorCode) {
    let mut out = Vec::new();
    let pack = ErrorReply {
        code,
        no_save_password: false,
    }
    .to_pack();
    nego.write_pack_response(&pack, &mut out);
    if tls.write_all(&out).await.is_ok() && tls.flush().await.is_ok() {
        linger(tls).await;
    }
}

/// Waits (at most [`LINGER`]) until the peer closes, so that our last
/// message is read before the socket goes away, then shuts TLS down.
pub async fn linger(tls: &mut ServerTls) {
    let mut sink = [0u8; 512];
    let _ = tokio::time::timeout(LINGER, async {
        loop {
            match tls.read(&mut sink).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
        }
    })
    .await;
    let _ = tls.shutdown().await;
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[tokio::test]
    async fn burst_reader_passes_bytes_through_in_order_and_keeps_the_rest() {
        let (mut a, b) = tokio::io::duplex(1 << 20);
        let data: Vec<u8> = (0..300_000u32).map(|i| (i * 7 % 251) as u8).collect();
        a.write_all(&data).await.unwrap();
        let mut r = BurstReader::new(b);
        let mut got = Vec::new();
        let mut chunk = [0u8; 4096];
        while got.len() < 200_000 {
            let n = r.read(&mut chunk).await.unwrap();
            assert!(n > 0);
            got.extend_from_slice(&chunk[..n]);
        }
        assert!(r.busy, "full reads switch to burst mode");
        let (mut inner, rest) = r.into_parts();
        got.extend_from_slice(&rest);
        drop(a);
        inner.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, data);
    }

    #[tokio::test]
    async fn quiet_connections_keep_no_buffer() {
        let (mut a, b) = tokio::io::duplex(1 << 16);
        let mut r = BurstReader::new(b);
        a.write_all(b"hello").await.unwrap();
        let mut chunk = [0u8; 4096];
        let n = r.read(&mut chunk).await.unwrap();
        assert_eq!(&chunk[..n], b"hello");
        assert!(!r.busy);
        assert_eq!(r.buf.capacity(), 0);
    }
}
