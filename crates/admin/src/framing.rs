//! RPC framing after a successful admin login (docs/admin-rpc.md §4;
//! `RpcRecvNextCall`, `RpcCallInternal`, `CallRpcDispatcher` in
//! `src/Cedar/Remote.c`).
//!
//! ```text
//! client → server:  u32 BE length, PACK{ <request fields…>, function_name: STR }
//! server → client:  u32 BE length, PACK{ <response fields…> }  or  PACK{ error: INT }
//! ```
//!
//! Strictly one request, one response. A length above the limit, a short
//! read or an unparsable PACK ends the connection (SoftEther closes it);
//! a missing or unknown `function_name` is answered `error`=33 and the
//! connection stays usable (verified).

use bytes::{Buf, BufMut, BytesMut};
use rustether_proto::{ErrorCode, Pack, PackError, PackLimits};

/// Default bound of one framed PACK: 16 MiB. SoftEther accepts up to
/// `MAX_PACK_SIZE` (512 MiB); a whole configuration file (`SetConfig`) is
/// typically tens of kilobytes.
pub const DEFAULT_MAX_FRAME: usize = 16 * 1024 * 1024;

/// The element carrying the RPC name (`CallRpcDispatcher`).
pub const FUNCTION_NAME: &str = "function_name";

/// The element carrying an error code (`PackError`, `GetErrorFromPack`).
pub const ERROR: &str = "error";

/// Why the RPC stream must be closed.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum FramingError {
    /// The announced length exceeds the limit.
    #[error("RPC frame of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Announced length.
        len: usize,
        /// Limit in force.
        max: usize,
    },
    /// The frame is not a valid PACK.
    #[error("RPC frame is not a valid PACK: {0}")]
    BadPack(#[from] PackError),
}

/// Incremental decoder of length-prefixed PACK frames.
#[derive(Clone, Debug)]
pub struct RpcFrameDecoder {
    max_frame: usize,
}

impl Default for RpcFrameDecoder {
    fn default() -> Self {
        RpcFrameDecoder::new(DEFAULT_MAX_FRAME)
    }
}

impl RpcFrameDecoder {
    /// A decoder accepting frames of at most `max_frame` bytes.
    pub fn new(max_frame: usize) -> RpcFrameDecoder {
        RpcFrameDecoder { max_frame }
    }

    /// The frame limit in bytes.
    pub fn max_frame(&self) -> usize {
        self.max_frame
    }

    /// Takes one complete frame off the front of `buf` and parses its PACK.
    /// `Ok(None)`: more bytes are needed (nothing consumed). Errors are
    /// fatal for the connection. Reserves at most [`RESERVE_STEP`] bytes
    /// beyond those received.
    pub fn decode(&mut self, buf: &mut BytesMut) -> Result<Option<Pack>, FramingError> {
        match self.next_frame(buf)? {
            Some(body) => Ok(Some(self.decode_body(&body)?)),
            None => Ok(None),
        }
    }

    /// The framing half of [`RpcFrameDecoder::decode`]: takes the body of
    /// one complete frame (at most [`RpcFrameDecoder::max_frame`] bytes) off
    /// the front of `buf` without parsing it, so that a caller can parse it
    /// elsewhere (the server does it off its async worker threads).
    /// `Ok(None)`: more bytes are needed (nothing consumed).
    pub fn next_frame(&mut self, buf: &mut BytesMut) -> Result<Option<BytesMut>, FramingError> {
        if buf.len() < 4 {
            return Ok(None);
        }
        let len = u32::from_be_bytes([buf[0], buf[1], buf[2], buf[3]]) as usize;
        if len > self.max_frame {
            return Err(FramingError::TooLarge {
                len,
                max: self.max_frame,
            });
        }
        if buf.len() < 4 + len {
            // grow with what arrives, not with what is announced
            reserve_towards(buf, 4 + len);
            return Ok(None);
        }
        buf.advance(4);
        Ok(Some(buf.split_to(len)))
    }

    /// The parsing half of [`RpcFrameDecoder::decode`]: the PACK of a frame
    /// body taken by [`RpcFrameDecoder::next_frame`], within the frame limit.
    pub fn decode_body(&self, body: &[u8]) -> Result<Pack, FramingError> {
        let limits = PackLimits {
            max_bytes: self.max_frame,
            max_value_bytes: self.max_frame,
            ..PackLimits::DEFAULT
        };
        Ok(Pack::decode_with(body, &limits)?)
    }
}

/// Most bytes reserved ahead of received data while a frame or body of
/// announced length is read: 64 KiB. A peer announcing 16 MiB and sending
/// nothing costs at most this much (issue 9).
pub const RESERVE_STEP: usize = 64 * 1024;

/// Makes room in `buf` for the next bytes of a message that will be `want`
/// bytes long: spare capacity of at least `min(want - len, RESERVE_STEP)`.
pub fn reserve_towards(buf: &mut BytesMut, want: usize) {
    let missing = want.saturating_sub(buf.len()).min(RESERVE_STEP);
    buf.reserve(missing);
}

/// Appends `p` as one frame to `out`.
pub fn encode_frame(p: &Pack, out: &mut BytesMut) {
    let body = p.encode();
    // PACKs we build are far below 4 GiB; saturate rather than panic.
    out.put_u32(u32::try_from(body.len()).unwrap_or(u32::MAX));
    out.extend_from_slice(&body);
}

/// A received RPC call: its function name and the whole request PACK
/// (request fields plus `function_name`, which the `In*` readers ignore).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RpcRequest {
    /// `function_name` as sent (matched case-insensitively).
    pub function: String,
    /// The request PACK.
    pub pack: Pack,
}

impl RpcRequest {
    /// Splits a request PACK. A missing `function_name` (STR) is
    /// `ERR_NOT_SUPPORTED` (33), to be sent back as an error response.
    pub fn from_pack(pack: Pack) -> Result<RpcRequest, ErrorCode> {
        let function = pack
            .get_str(FUNCTION_NAME)
            .ok_or(ErrorCode::NOT_SUPPORTED)?
            .to_owned();
        Ok(RpcRequest { function, pack })
    }

    /// Client side: a call of `function` with the request fields `params`
    /// (`RpcCall`; an existing `function_name` element is kept, as
    /// SoftEther's first-wins `PackAddStr`).
    pub fn new(function: &str, params: Pack) -> RpcRequest {
        let mut pack = params;
        if pack.element(FUNCTION_NAME).is_none() {
            pack.add_str(FUNCTION_NAME, function);
        }
        RpcRequest {
            function: function.to_owned(),
            pack,
        }
    }
}

/// The error response PACK `{error: code}` (`PackError`).
pub fn error_response(code: ErrorCode) -> Pack {
    let mut p = Pack::new();
    p.add_int(ERROR, code.0);
    p
}

/// Client side: a response with non-zero INT `error` is that error
/// (`GetErrorFromPack`), anything else is the result.
pub fn parse_response(p: &Pack) -> Result<&Pack, ErrorCode> {
    match p.get_int(ERROR).unwrap_or(0) {
        0 => Ok(p),
        e => Err(ErrorCode(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of docs/admin-rpc.md §2.2 (verified against 9674).
    const TEST_FRAME: [u8; 65] = [
        0x00, 0x00, 0x00, 0x3d, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x09, 0x49, 0x6e, 0x74,
        0x56, 0x61, 0x6c, 0x75, 0x65, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x0e, 0x66, 0x75, 0x6e, 0x63, 0x74, 0x69, 0x6f, 0x6e, 0x5f,
        0x6e, 0x61, 0x6d, 0x65, 0x00, 0x00, 0x00, 0x02, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00,
        0x04, 0x54, 0x65, 0x73, 0x74,
    ];

    #[test]
    fn worked_example_encodes_and_decodes() {
        let mut params = Pack::new();
        params.add_int("IntValue", 1);
        let req = RpcRequest::new("Test", params);
        let mut out = BytesMut::new();
        encode_frame(&req.pack, &mut out);
        assert_eq!(&out[..], &TEST_FRAME[..]);
        let mut d = RpcFrameDecoder::default();
        let p = d.decode(&mut out).unwrap().unwrap();
        assert!(out.is_empty());
        let r = RpcRequest::from_pack(p).unwrap();
        assert_eq!(r.function, "Test");
        assert_eq!(r.pack.get_int("IntValue"), Some(1));
    }

    #[test]
    fn incremental_byte_by_byte() {
        let mut d = RpcFrameDecoder::default();
        let mut buf = BytesMut::new();
        let mut got = Vec::new();
        for chunk in [&TEST_FRAME[..], &TEST_FRAME[..]].concat().chunks(1) {
            buf.extend_from_slice(chunk);
            while let Some(p) = d.decode(&mut buf).unwrap() {
                got.push(p);
            }
        }
        assert_eq!(got.len(), 2);
        assert!(buf.is_empty());
    }

    #[test]
    fn oversize_and_garbage_are_fatal() {
        let mut d = RpcFrameDecoder::new(100);
        let mut buf = BytesMut::from(&[0u8, 0, 0, 101][..]);
        assert_eq!(
            d.decode(&mut buf),
            Err(FramingError::TooLarge { len: 101, max: 100 })
        );
        let mut buf = BytesMut::from(&[0xffu8, 0xff, 0xff, 0xff][..]);
        assert!(matches!(
            RpcFrameDecoder::default().decode(&mut buf),
            Err(FramingError::TooLarge { .. })
        ));
        // 4 bytes that do not form a PACK (element count without elements)
        let mut buf = BytesMut::from(&[0u8, 0, 0, 4, 0, 0, 0, 9][..]);
        assert!(matches!(d.decode(&mut buf), Err(FramingError::BadPack(_))));
        // empty frame
        let mut buf = BytesMut::from(&[0u8, 0, 0, 0][..]);
        assert!(matches!(d.decode(&mut buf), Err(FramingError::BadPack(_))));
    }

    #[test]
    fn missing_function_name_is_not_supported() {
        let mut p = Pack::new();
        p.add_int("IntValue", 1);
        assert_eq!(
            RpcRequest::from_pack(p.clone()),
            Err(ErrorCode::NOT_SUPPORTED)
        );
        // a UNISTR function_name is not a STR (typed lookup)
        p.add_unistr(FUNCTION_NAME, "Test");
        assert_eq!(RpcRequest::from_pack(p), Err(ErrorCode::NOT_SUPPORTED));
    }

    #[test]
    fn error_responses() {
        let e = error_response(ErrorCode::HUB_NOT_FOUND);
        assert_eq!(e.len(), 1);
        assert_eq!(parse_response(&e), Err(ErrorCode(8)));
        let mut ok = Pack::new();
        ok.add_int("Port", 1);
        assert!(parse_response(&ok).is_ok());
    }
}
