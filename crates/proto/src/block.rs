//! The data-phase block stream (docs/protocol-sslvpn.md §7; SoftEther
//! `src/Cedar/Connection.c`: `ConnectionSend`, `ConnectionReceive`,
//! `SendKeepAlive`, `NewBlock`).
//!
//! ```text
//! stream    := item*
//! item      := data | keepalive
//! data      := u32 N (N ≠ 0xFFFFFFFF),  N × ( u32 L, L bytes )
//! keepalive := u32 0xFFFFFFFF,  u32 K (0..512),  K bytes
//! ```
//!
//! Each block is one Ethernet frame, or one zlib-compressed frame when the
//! session negotiated `use_compress`. Receiver rules (§7.3–7.4): N = 0 and
//! L = 0 mean nothing; 1600 < L ≤ 3200 is dropped silently; L > 3200 or
//! K > 512 closes the connection; a block that does not inflate (into at most
//! 1600 bytes) is dropped silently.

use bytes::{Buf, BufMut, Bytes, BytesMut};
use flate2::{Compress, Compression, Decompress, FlushCompress, FlushDecompress, Status};

/// First word of a keep-alive item (`KEEP_ALIVE_MAGIC`, `Cedar.h`).
pub const KEEP_ALIVE_MAGIC: u32 = 0xFFFF_FFFF;

/// Largest keep-alive body (`MAX_KEEPALIVE_SIZE`).
pub const MAX_KEEPALIVE_SIZE: usize = 512;

/// Largest frame delivered (`MAX_PACKET_SIZE`); also the inflate limit.
pub const MAX_PACKET_SIZE: usize = 1600;

/// Largest block accepted without closing the connection
/// (`MAX_PACKET_SIZE * 2`).
pub const MAX_BLOCK_SIZE: usize = 3200;

/// One thing received on the block stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BlockEvent {
    /// An Ethernet frame (1..=1600 bytes; frames shorter than 14 bytes are
    /// passed on, the hub ignores them).
    Frame(Bytes),
    /// A keep-alive item was received (its body is ignored).
    KeepAlive,
}

/// Counters kept by a [`BlockDecoder`].
#[derive(Default, Clone, Debug, PartialEq, Eq)]
pub struct BlockStats {
    /// Frames delivered.
    pub frames: u64,
    /// Keep-alives received.
    pub keepalives: u64,
    /// Blocks dropped because 1600 < L ≤ 3200 or they inflate to more than
    /// 1600 bytes.
    pub dropped_oversize: u64,
    /// Compressed blocks that did not inflate.
    pub dropped_bad_compression: u64,
}

/// Violations that require closing the TCP connection.
#[derive(thiserror::Error, Debug, Clone, PartialEq, Eq)]
pub enum BlockError {
    /// A block length above [`MAX_BLOCK_SIZE`].
    #[error("block of {0} bytes exceeds {MAX_BLOCK_SIZE}")]
    BlockTooLarge(u32),
    /// A keep-alive body above [`MAX_KEEPALIVE_SIZE`].
    #[error("keep-alive of {0} bytes exceeds {MAX_KEEPALIVE_SIZE}")]
    KeepAliveTooLarge(u32),
}

#[derive(Debug, Clone, Copy)]
enum State {
    /// Expecting `N` or the keep-alive magic.
    Item,
    /// Expecting `K`.
    KeepAliveLen,
    /// Skipping the rest of a keep-alive body.
    KeepAliveBody(usize),
    /// Expecting `L` of one of `left` remaining blocks.
    BlockLen { left: u32 },
    /// Waiting for a block of `len` bytes.
    Block { left: u32, len: usize },
    /// Skipping an oversize block.
    SkipBlock { left: u32, skip: usize },
}

/// Incremental receiver of the block stream: feed any chunking of the input,
/// get the same events.
pub struct BlockDecoder {
    state: State,
    inflater: Option<(Decompress, Box<[u8; MAX_PACKET_SIZE + 1]>)>,
    stats: BlockStats,
}

impl std::fmt::Debug for BlockDecoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockDecoder")
            .field("state", &self.state)
            .field("compressed", &self.inflater.is_some())
            .field("stats", &self.stats)
            .finish()
    }
}

impl BlockDecoder {
    /// A decoder; `compressed` = the session's negotiated `use_compress`.
    pub fn new(compressed: bool) -> Self {
        BlockDecoder {
            state: State::Item,
            inflater: compressed
                .then(|| (Decompress::new(true), Box::new([0u8; MAX_PACKET_SIZE + 1]))),
            stats: BlockStats::default(),
        }
    }

    /// Counters so far.
    pub fn stats(&self) -> &BlockStats {
        &self.stats
    }

    /// Pulls the next event out of `buf`, consuming its bytes; `Ok(None)`
    /// means more input is needed. Uncompressed frames are split off `buf`
    /// without copying. An error means the connection must be closed.
    pub fn next_event(&mut self, buf: &mut BytesMut) -> Result<Option<BlockEvent>, BlockError> {
        loop {
            match self.state {
                State::Item => {
                    if buf.len() < 4 {
                        return Ok(None);
                    }
                    let n = buf.get_u32();
                    self.state = if n == KEEP_ALIVE_MAGIC {
                        State::KeepAliveLen
                    } else if n == 0 {
                        State::Item
                    } else {
                        State::BlockLen { left: n }
                    };
                }
                State::KeepAliveLen => {
                    if buf.len() < 4 {
                        return Ok(None);
                    }
                    let k = buf.get_u32();
                    if k as usize > MAX_KEEPALIVE_SIZE {
                        return Err(BlockError::KeepAliveTooLarge(k));
                    }
                    self.state = State::KeepAliveBody(k as usize);
                }
                State::KeepAliveBody(rest) => {
                    let n = rest.min(buf.len());
                    buf.advance(n);
                    if n < rest {
                        self.state = State::KeepAliveBody(rest - n);
                        return Ok(None);
                    }
                    self.state = State::Item;
                    self.stats.keepalives += 1;
                    return Ok(Some(BlockEvent::KeepAlive));
                }
                State::BlockLen { left } => {
                    if buf.len() < 4 {
                        return Ok(None);
                    }
                    let l = buf.get_u32();
                    let left = left - 1;
                    let len = l as usize;
                    if len > MAX_BLOCK_SIZE {
                        return Err(BlockError::BlockTooLarge(l));
                    }
                    self.state = if len > MAX_PACKET_SIZE {
                        self.stats.dropped_oversize += 1;
                        State::SkipBlock { left, skip: len }
                    } else if len == 0 {
                        Self::after_block(left)
                    } else {
                        State::Block { left, len }
                    };
                }
                State::SkipBlock { left, skip } => {
                    let n = skip.min(buf.len());
                    buf.advance(n);
                    if n < skip {
                        self.state = State::SkipBlock {
                            left,
                            skip: skip - n,
                        };
                        return Ok(None);
                    }
                    self.state = Self::after_block(left);
                }
                State::Block { left, len } => {
                    if buf.len() < len {
                        return Ok(None);
                    }
                    let block = buf.split_to(len);
                    self.state = Self::after_block(left);
                    let frame = match &mut self.inflater {
                        None => Some(block.freeze()),
                        Some((z, scratch)) => inflate(z, scratch, &block, &mut self.stats),
                    };
                    if let Some(frame) = frame {
                        self.stats.frames += 1;
                        return Ok(Some(BlockEvent::Frame(frame)));
                    }
                }
            }
        }
    }

    fn after_block(left: u32) -> State {
        if left == 0 {
            State::Item
        } else {
            State::BlockLen { left }
        }
    }
}

/// Inflates one zlib stream into at most 1600 bytes (`Uncompress`,
/// `src/Mayaqua/Memory.c`); `None` (and a counter) when it cannot.
pub(crate) fn inflate(
    z: &mut Decompress,
    scratch: &mut [u8; MAX_PACKET_SIZE + 1],
    input: &[u8],
    stats: &mut BlockStats,
) -> Option<Bytes> {
    z.reset(true);
    let status = z.decompress(input, &mut scratch[..], FlushDecompress::Finish);
    let out = z.total_out() as usize;
    match status {
        Ok(Status::StreamEnd) if out > 0 && out <= MAX_PACKET_SIZE => {
            Some(Bytes::copy_from_slice(&scratch[..out]))
        }
        _ if out > MAX_PACKET_SIZE => {
            stats.dropped_oversize += 1;
            None
        }
        _ => {
            stats.dropped_bad_compression += 1;
            None
        }
    }
}

/// Sender side of the block stream.
pub struct BlockEncoder {
    deflater: Option<(Compress, Vec<u8>)>,
}

impl std::fmt::Debug for BlockEncoder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("BlockEncoder")
            .field("compressed", &self.deflater.is_some())
            .finish()
    }
}

impl BlockEncoder {
    /// An encoder; `compressed` = the session's negotiated `use_compress`.
    /// Compression uses zlib at the default level (`compress2`, header
    /// `78 9c`) with state reused from block to block.
    pub fn new(compressed: bool) -> Self {
        BlockEncoder {
            deflater: compressed.then(|| {
                (
                    Compress::new(Compression::default(), true),
                    Vec::with_capacity(MAX_BLOCK_SIZE),
                )
            }),
        }
    }

    /// Appends one data item with all `frames` (u32 N, then u32 L + bytes
    /// each) to `out`. Nothing is written for zero frames. Frames longer than
    /// 1600 bytes are written as given (a SoftEther receiver drops them).
    pub fn encode_frames<'a, I>(&mut self, out: &mut BytesMut, frames: I)
    where
        I: IntoIterator<Item = &'a [u8]>,
        I::IntoIter: ExactSizeIterator,
    {
        let frames = frames.into_iter();
        let n = frames.len();
        if n == 0 {
            return;
        }
        out.put_u32(n as u32);
        match &mut self.deflater {
            None => {
                for f in frames {
                    out.reserve(4 + f.len());
                    out.put_u32(f.len() as u32);
                    out.extend_from_slice(f);
                }
            }
            Some((z, scratch)) => {
                for f in frames {
                    deflate(z, scratch, f);
                    out.reserve(4 + scratch.len());
                    out.put_u32(scratch.len() as u32);
                    out.extend_from_slice(scratch);
                }
            }
        }
    }

    /// Appends a keep-alive with `len` random bytes (`len` is capped at
    /// 512; SoftEther uses `rand() % 512`, see [`keepalive_len`]).
    pub fn encode_keepalive<R: rand::Rng>(&mut self, out: &mut BytesMut, rng: &mut R, len: usize) {
        let len = len.min(MAX_KEEPALIVE_SIZE);
        out.reserve(8 + len);
        out.put_u32(KEEP_ALIVE_MAGIC);
        out.put_u32(len as u32);
        let start = out.len();
        out.resize(start + len, 0);
        rng.fill_bytes(&mut out[start..]);
    }
}

/// Compresses one frame into `scratch` as a complete zlib stream.
fn deflate(z: &mut Compress, scratch: &mut Vec<u8>, frame: &[u8]) {
    z.reset();
    scratch.clear();
    // zlib's worst case is a few bytes per 16 KiB over the input; leave room
    // and grow if a pathological input still needs more.
    scratch.reserve(frame.len() + 64);
    loop {
        let consumed = z.total_in() as usize;
        let status = z
            .compress_vec(&frame[consumed..], scratch, FlushCompress::Finish)
            .expect("deflate into a growing buffer cannot fail");
        if status == Status::StreamEnd {
            break;
        }
        scratch.reserve(scratch.capacity().max(64));
    }
}

/// A keep-alive body length as SoftEther picks it: uniform in `0..512`
/// (docs/protocol-sslvpn.md §7.5).
pub fn keepalive_len<R: rand::Rng>(rng: &mut R) -> usize {
    rng.gen_range(0..MAX_KEEPALIVE_SIZE)
}

/// Delay before the next keep-alive when no data was sent: uniform in
/// `[timeout/5, timeout/2)` ms (docs/protocol-sslvpn.md §7.5; 4–10 s for the
/// default 20 s). Returns `timeout/5` when that range is empty.
pub fn keepalive_interval_ms<R: rand::Rng>(rng: &mut R, timeout_ms: u32) -> u64 {
    let lo = u64::from(timeout_ms) / 5;
    let hi = u64::from(timeout_ms) / 2;
    if hi <= lo {
        lo
    } else {
        rng.gen_range(lo..hi)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use rand::SeedableRng;

    fn drain(d: &mut BlockDecoder, buf: &mut BytesMut) -> Result<Vec<BlockEvent>, BlockError> {
        let mut v = Vec::new();
        while let Some(e) = d.next_event(buf)? {
            v.push(e);
        }
        Ok(v)
    }

    fn raw(items: &[&[u32]]) -> BytesMut {
        let mut b = BytesMut::new();
        for it in items {
            for w in *it {
                b.put_u32(*w);
            }
        }
        b
    }

    #[test]
    fn encode_decode_uncompressed() {
        let mut enc = BlockEncoder::new(false);
        let mut out = BytesMut::new();
        let f1 = vec![1u8; 60];
        let f2 = vec![2u8; 1514];
        enc.encode_frames(&mut out, [&f1[..], &f2[..]]);
        assert_eq!(&out[..8], &[0, 0, 0, 2, 0, 0, 0, 60]);
        assert_eq!(out.len(), 4 + 4 + 60 + 4 + 1514);
        enc.encode_frames(&mut out, std::iter::empty::<&[u8]>());
        assert_eq!(
            out.len(),
            4 + 4 + 60 + 4 + 1514,
            "zero frames write nothing"
        );
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        enc.encode_keepalive(&mut out, &mut rng, 512);
        enc.encode_keepalive(&mut out, &mut rng, 9999);
        out.extend_from_slice(&[0, 0]); // partial next item stays
        let mut dec = BlockDecoder::new(false);
        let ev = drain(&mut dec, &mut out).unwrap();
        assert_eq!(
            ev,
            [
                BlockEvent::Frame(Bytes::from(f1)),
                BlockEvent::Frame(Bytes::from(f2)),
                BlockEvent::KeepAlive,
                BlockEvent::KeepAlive
            ]
        );
        assert_eq!(&out[..], &[0, 0]);
        assert_eq!(dec.stats().frames, 2);
        assert_eq!(dec.stats().keepalives, 2);
    }

    #[test]
    fn limits() {
        // N = 0 and L = 0 are nothing
        let mut b = raw(&[&[0], &[2, 0, 1], &[0xAB00_0000]]);
        let mut d = BlockDecoder::new(false);
        let ev = drain(&mut d, &mut b).unwrap();
        assert_eq!(ev.len(), 1);
        assert_eq!(ev[0], BlockEvent::Frame(Bytes::from_static(&[0xAB])));
        // 1601 and 3200 dropped silently, the stream continues
        for len in [1601usize, 3200] {
            let mut b = raw(&[&[2, len as u32]]);
            b.extend_from_slice(&vec![0u8; len]);
            b.put_u32(4);
            b.put_u32(0xC0C0_C0C0);
            let mut d = BlockDecoder::new(false);
            let ev = drain(&mut d, &mut b).unwrap();
            assert_eq!(ev, [BlockEvent::Frame(Bytes::from_static(&[0xC0; 4]))]);
            assert!(b.is_empty());
            assert_eq!(d.stats().dropped_oversize, 1);
        }
        // 1600 delivered
        let mut b = raw(&[&[1, 1600]]);
        b.extend_from_slice(&[7u8; 1600]);
        assert_eq!(
            drain(&mut BlockDecoder::new(false), &mut b).unwrap().len(),
            1
        );
        // 3201 closes
        let mut b = raw(&[&[1, 3201]]);
        assert_eq!(
            drain(&mut BlockDecoder::new(false), &mut b),
            Err(BlockError::BlockTooLarge(3201))
        );
        // K = 512 accepted, 513 closes
        let mut b = raw(&[&[KEEP_ALIVE_MAGIC, 512]]);
        b.extend_from_slice(&[0u8; 512]);
        assert_eq!(
            drain(&mut BlockDecoder::new(false), &mut b).unwrap(),
            [BlockEvent::KeepAlive]
        );
        let mut b = raw(&[&[KEEP_ALIVE_MAGIC, 513]]);
        assert_eq!(
            drain(&mut BlockDecoder::new(false), &mut b),
            Err(BlockError::KeepAliveTooLarge(513))
        );
    }

    #[test]
    fn compressed() {
        let mut enc = BlockEncoder::new(true);
        let mut out = BytesMut::new();
        let frame: Vec<u8> = (0..1514u32).map(|i| (i % 7) as u8).collect();
        let random: Vec<u8> = (0..1514u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
            .collect();
        enc.encode_frames(&mut out, [&frame[..], &random[..], &[1u8][..]]);
        assert_eq!(&out[8..10], &[0x78, 0x9c], "zlib header of compress2");
        assert!(
            out.len() < 4 + 3 * 4 + 1514 * 2 + 1,
            "compressible frame shrank"
        );
        let mut dec = BlockDecoder::new(true);
        let ev = drain(&mut dec, &mut out).unwrap();
        assert_eq!(
            ev,
            [
                BlockEvent::Frame(Bytes::from(frame.clone())),
                BlockEvent::Frame(Bytes::from(random)),
                BlockEvent::Frame(Bytes::from_static(&[1]))
            ]
        );
        // a standard zlib stream from another implementation inflates
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), Compression::best());
        std::io::Write::write_all(&mut z, &frame).unwrap();
        let other = z.finish().unwrap();
        let mut b = raw(&[&[1, other.len() as u32]]);
        b.extend_from_slice(&other);
        assert_eq!(
            drain(&mut dec, &mut b).unwrap(),
            [BlockEvent::Frame(Bytes::from(frame))]
        );
    }

    #[test]
    fn compressed_drops() {
        let mut dec = BlockDecoder::new(true);
        // raw deflate without zlib header: dropped, no error
        let mut rawdeflate = flate2::write::DeflateEncoder::new(Vec::new(), Compression::default());
        std::io::Write::write_all(&mut rawdeflate, b"hello").unwrap();
        let rd = rawdeflate.finish().unwrap();
        let mut b = raw(&[&[1, rd.len() as u32]]);
        b.extend_from_slice(&rd);
        // inflates to 1601 bytes: dropped as oversize
        let mut z = flate2::write::ZlibEncoder::new(Vec::new(), Compression::default());
        std::io::Write::write_all(&mut z, &[0u8; 1601]).unwrap();
        let big = z.finish().unwrap();
        b.put_u32(1);
        b.put_u32(big.len() as u32);
        b.extend_from_slice(&big);
        // truncated zlib stream
        b.put_u32(1);
        b.put_u32(4);
        b.extend_from_slice(&big[..4]);
        assert_eq!(drain(&mut dec, &mut b).unwrap(), []);
        assert_eq!(dec.stats().dropped_bad_compression, 2);
        assert_eq!(dec.stats().dropped_oversize, 1);
        assert_eq!(dec.stats().frames, 0);
        // the decoder still works afterwards
        let mut out = BytesMut::new();
        BlockEncoder::new(true).encode_frames(&mut out, [&b"abc"[..]]);
        assert_eq!(
            drain(&mut dec, &mut out).unwrap(),
            [BlockEvent::Frame(Bytes::from_static(b"abc"))]
        );
    }

    #[test]
    fn intervals() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(7);
        let mut seen = std::collections::HashSet::new();
        for _ in 0..2000 {
            let v = keepalive_interval_ms(&mut rng, 20_000);
            assert!((4000..10_000).contains(&v));
            seen.insert(v / 1000);
            assert!(keepalive_len(&mut rng) < 512);
        }
        assert_eq!(seen.len(), 6, "covers 4..10 s");
        assert_eq!(keepalive_interval_ms(&mut rng, 0), 0);
        assert_eq!(keepalive_interval_ms(&mut rng, 3), 0);
    }

    #[derive(Debug, Clone)]
    enum Item {
        Frames(Vec<Vec<u8>>),
        KeepAlive(usize),
        Empty,
        Oversize(usize),
    }

    fn arb_item() -> impl Strategy<Value = Item> {
        prop_oneof![
            prop::collection::vec(prop::collection::vec(any::<u8>(), 1..200), 1..4)
                .prop_map(Item::Frames),
            (0usize..=512).prop_map(Item::KeepAlive),
            Just(Item::Empty),
            (1601usize..=3200).prop_map(Item::Oversize),
        ]
    }

    fn build(items: &[Item], compressed: bool) -> (BytesMut, Vec<BlockEvent>) {
        let mut enc = BlockEncoder::new(compressed);
        let mut rng = rand::rngs::StdRng::seed_from_u64(3);
        let mut out = BytesMut::new();
        let mut expect = Vec::new();
        for it in items {
            match it {
                Item::Frames(fs) => {
                    enc.encode_frames(&mut out, fs.iter().map(|f| &f[..]));
                    expect.extend(fs.iter().map(|f| BlockEvent::Frame(Bytes::from(f.clone()))));
                }
                Item::KeepAlive(k) => {
                    enc.encode_keepalive(&mut out, &mut rng, *k);
                    expect.push(BlockEvent::KeepAlive);
                }
                Item::Empty => {
                    out.put_u32(2);
                    out.put_u32(0);
                    out.put_u32(0);
                }
                Item::Oversize(l) => {
                    out.put_u32(1);
                    out.put_u32(*l as u32);
                    out.extend_from_slice(&vec![0x55; *l]);
                }
            }
        }
        (out, expect)
    }

    proptest! {
        /// Any chunking of the input yields the same events and stats.
        #[test]
        fn incremental(
            items in prop::collection::vec(arb_item(), 0..8),
            cuts in prop::collection::vec(any::<prop::sample::Index>(), 0..10),
            compressed in any::<bool>(),
        ) {
            let (whole, expect) = build(&items, compressed);
            let mut reference = BlockDecoder::new(compressed);
            let mut all = whole.clone();
            prop_assert_eq!(&drain(&mut reference, &mut all).unwrap(), &expect);
            prop_assert!(all.is_empty());

            let mut points: Vec<usize> = cuts.iter().map(|i| i.index(whole.len() + 1)).collect();
            points.push(whole.len());
            points.sort_unstable();
            let mut dec = BlockDecoder::new(compressed);
            let mut buf = BytesMut::new();
            let mut got = Vec::new();
            let mut at = 0;
            for p in points {
                buf.extend_from_slice(&whole[at..p]);
                at = p;
                got.extend(drain(&mut dec, &mut buf).unwrap());
            }
            prop_assert_eq!(got, expect);
            prop_assert_eq!(dec.stats(), reference.stats());
            prop_assert!(buf.is_empty());
        }

        #[test]
        fn never_panics(bytes in prop::collection::vec(any::<u8>(), 0..4000), compressed in any::<bool>()) {
            let mut d = BlockDecoder::new(compressed);
            let mut b = BytesMut::from(&bytes[..]);
            let _ = drain(&mut d, &mut b);
        }
    }
}
