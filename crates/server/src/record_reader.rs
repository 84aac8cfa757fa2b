//! A reader that never hands the TLS library bytes beyond the end of the
//! current TLS record.
//!
//! With `use_encrypt=0` a SoftEther server writes its welcome inside TLS and
//! the very next bytes on the socket are plaintext block-stream data
//! (docs/protocol-sslvpn.md §7.1, hazard 2). A TLS client that reads ahead would
//! swallow them. Wrapping the socket in [`RecordReader`] during negotiation
//! keeps those bytes here, and [`RecordReader::into_parts`] returns them.

use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::{Buf, BytesMut};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// TLS record header length: type (1), version (2), length (2).
const HEADER: usize = 5;

/// Wraps a byte stream carrying TLS records; reads hand out at most the
/// rest of the current record.
#[derive(Debug)]
pub struct RecordReader<T> {
    inner: T,
    buf: BytesMut,
    /// Bytes left in the current record (header included), 0 = at a boundary.
    remaining: usize,
}

impl<T> RecordReader<T> {
    /// Wraps `inner`, which must be at a record boundary.
    pub fn new(inner: T) -> Self {
        RecordReader {
            inner,
            buf: BytesMut::with_capacity(8192),
            remaining: 0,
        }
    }

    /// Returns the stream and the bytes read from it but not yet handed out
    /// (the start of the plaintext stream after the last record).
    pub fn into_parts(self) -> (T, BytesMut) {
        (self.inner, self.buf)
    }

    /// How many buffered bytes may be handed out now without crossing a
    /// record boundary. Starts a new record when at a boundary and a full
    /// header is buffered; 0 means "read more first".
    fn available(&mut self) -> usize {
        if self.remaining == 0 {
            if self.buf.len() < HEADER {
                return 0;
            }
            let len = usize::from(u16::from_be_bytes([self.buf[3], self.buf[4]]));
            self.remaining = HEADER + len;
        }
        self.buf.len().min(self.remaining)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for RecordReader<T> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        out: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        let this = &mut *self;
        loop {
            let n = this.available().min(out.remaining());
            if n > 0 {
                out.put_slice(&this.buf[..n]);
                this.buf.advance(n);
                this.remaining -= n;
                return Poll::Ready(Ok(()));
            }
            this.buf.reserve(16 * 1024);
            match tokio_util::io::poll_read_buf(Pin::new(&mut this.inner), cx, &mut this.buf) {
                Poll::Ready(Ok(0)) => {
                    // EOF: hand out whatever is left (a truncated record).
                    let n = this.buf.len().min(out.remaining());
                    out.put_slice(&this.buf[..n]);
                    this.buf.advance(n);
                    this.remaining = this.remaining.saturating_sub(n);
                    return Poll::Ready(Ok(()));
                }
                Poll::Ready(Ok(_)) => {}
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for RecordReader<T> {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.inner).poll_write(cx, data)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    fn record(len: usize, fill: u8) -> Vec<u8> {
        let mut r = vec![0x17, 0x03, 0x03];
        r.extend_from_slice(&(len as u16).to_be_bytes());
        r.extend(std::iter::repeat_n(fill, len));
        r
    }

    #[tokio::test]
    async fn stops_at_record_boundaries_and_returns_the_surplus() {
        let mut wire = record(10, 1);
        wire.extend(record(3, 2));
        wire.extend_from_slice(b"PLAINTEXT");
        let mut rr = RecordReader::new(&wire[..]);
        let mut got = Vec::new();
        let mut chunk = [0u8; 64];
        // Two records come out in reads that never cross a boundary.
        let n = rr.read(&mut chunk).await.unwrap();
        assert_eq!(n, 15);
        got.extend_from_slice(&chunk[..n]);
        let n = rr.read(&mut chunk).await.unwrap();
        assert_eq!(n, 8);
        got.extend_from_slice(&chunk[..n]);
        assert_eq!(got.len(), 23);
        // What follows the records stays for the plaintext reader (9 bytes
        // buffered, but we stop reading from the wrapper here).
        let (_inner, rest) = rr.into_parts();
        assert_eq!(&rest[..], b"PLAINTEXT");
    }

    #[tokio::test]
    async fn small_reads_keep_framing() {
        let mut wire = record(7, 9);
        wire.extend(record(1, 8));
        let mut rr = RecordReader::new(&wire[..]);
        let mut all = Vec::new();
        let mut b = [0u8; 3];
        loop {
            let n = rr.read(&mut b).await.unwrap();
            if n == 0 {
                break;
            }
            all.extend_from_slice(&b[..n]);
        }
        assert_eq!(all, wire);
    }
}
