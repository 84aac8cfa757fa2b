//! OpenVPN packet codec (no tls-auth/tls-crypt wrapping).
//!
//! Layout, as in OpenVPN src/openvpn/ssl_pkt.h and reliable.c:
//!
//! ```text
//! control: [op<<3|key_id] [session_id 8] [n_acks u8] [ack ids u32 * n]
//!          [remote session_id 8 if n>0] [message packet_id u32 (not P_ACK_V1)] [payload]
//! P_DATA_V1: [op<<3|key_id] [payload]
//! P_DATA_V2: [op<<3|key_id] [peer_id u24] [payload]
//! ```
//!
//! Over TCP every packet is prefixed with a big-endian u16 length
//! ([`TcpFramer`]). All integers are big-endian.

use thiserror::Error;

/// Size of a session id in bytes (OpenVPN `SID_SIZE`).
pub const SID_SIZE: usize = 8;
/// Most ACK ids in one packet (OpenVPN `RELIABLE_ACK_SIZE`).
pub const MAX_ACKS: usize = 8;
/// Largest packet we accept or emit on the wire (bytes). Bounded so a TCP
/// length prefix cannot make us allocate more (OpenVPN's own buffers are
/// of the same order for a 1500-byte MTU).
pub const MAX_PACKET: usize = 2048;

/// A session id: 8 random bytes chosen by each side.
pub type SessionId = [u8; SID_SIZE];

/// Packet opcodes (OpenVPN ssl_pkt.h `P_*`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opcode {
    /// `P_CONTROL_SOFT_RESET_V1` (3): renegotiation of a new key id.
    SoftResetV1,
    /// `P_CONTROL_V1` (4): TLS ciphertext of the control channel.
    ControlV1,
    /// `P_ACK_V1` (5): acknowledgements only.
    AckV1,
    /// `P_DATA_V1` (6): data channel without peer id.
    DataV1,
    /// `P_CONTROL_HARD_RESET_CLIENT_V2` (7): client starts a session.
    HardResetClientV2,
    /// `P_CONTROL_HARD_RESET_SERVER_V2` (8): server's answer to it.
    HardResetServerV2,
    /// `P_DATA_V2` (9): data channel with a 24-bit peer id.
    DataV2,
    /// `P_CONTROL_HARD_RESET_CLIENT_V3` (10): reset with tls-crypt-v2 key.
    HardResetClientV3,
    /// `P_CONTROL_WKC_V1` (11): control packet with wrapped client key.
    ControlWkcV1,
}

impl Opcode {
    /// Decodes the 5-bit opcode; V1 hard resets (1, 2, key-method 1) and
    /// unknown values are `None`.
    pub fn from_u8(v: u8) -> Option<Opcode> {
        Some(match v {
            3 => Opcode::SoftResetV1,
            4 => Opcode::ControlV1,
            5 => Opcode::AckV1,
            6 => Opcode::DataV1,
            7 => Opcode::HardResetClientV2,
            8 => Opcode::HardResetServerV2,
            9 => Opcode::DataV2,
            10 => Opcode::HardResetClientV3,
            11 => Opcode::ControlWkcV1,
            _ => return None,
        })
    }

    /// The wire value.
    pub fn as_u8(self) -> u8 {
        match self {
            Opcode::SoftResetV1 => 3,
            Opcode::ControlV1 => 4,
            Opcode::AckV1 => 5,
            Opcode::DataV1 => 6,
            Opcode::HardResetClientV2 => 7,
            Opcode::HardResetServerV2 => 8,
            Opcode::DataV2 => 9,
            Opcode::HardResetClientV3 => 10,
            Opcode::ControlWkcV1 => 11,
        }
    }

    /// Data channel opcodes carry no session id and no reliability header.
    pub fn is_data(self) -> bool {
        matches!(self, Opcode::DataV1 | Opcode::DataV2)
    }
}

/// Why a packet could not be decoded.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum PacketError {
    /// Shorter than its header says.
    #[error("truncated OpenVPN packet")]
    Truncated,
    /// Opcode outside the supported set.
    #[error("unknown OpenVPN opcode {0}")]
    BadOpcode(u8),
    /// More than [`MAX_ACKS`] acknowledgements.
    #[error("too many ACKs ({0})")]
    TooManyAcks(u8),
    /// Larger than [`MAX_PACKET`].
    #[error("OpenVPN packet too large ({0} bytes)")]
    TooLarge(usize),
}

/// The ACK part of a control packet.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Acks {
    /// Acknowledged message packet ids (≤ [`MAX_ACKS`]).
    pub ids: Vec<u32>,
    /// The receiver's own session id echoed back; present iff `ids` is not
    /// empty.
    pub remote_sid: Option<SessionId>,
}

/// A decoded control-channel packet (every opcode but data).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ControlPacket<'a> {
    /// Opcode.
    pub op: Opcode,
    /// Key id 0..=7.
    pub key_id: u8,
    /// The sender's session id.
    pub sid: SessionId,
    /// Piggy-backed acknowledgements.
    pub acks: Acks,
    /// Message packet id of the reliable layer; `None` for `P_ACK_V1`.
    pub packet_id: Option<u32>,
    /// Payload (TLS ciphertext, or reset TLVs).
    pub payload: &'a [u8],
}

/// A decoded packet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Packet<'a> {
    /// Control channel.
    Control(ControlPacket<'a>),
    /// Data channel: `header` is the opcode byte (+ 3 peer-id bytes for
    /// V2), used as AEAD additional data; `payload` follows it.
    Data {
        /// `DataV1` or `DataV2`.
        op: Opcode,
        /// Key id 0..=7.
        key_id: u8,
        /// Peer id of `P_DATA_V2` (24 bits), `None` for V1.
        peer_id: Option<u32>,
        /// The header bytes (1 or 4).
        header: &'a [u8],
        /// Everything after the header.
        payload: &'a [u8],
    },
}

fn take<'a>(buf: &mut &'a [u8], n: usize) -> Result<&'a [u8], PacketError> {
    if buf.len() < n {
        return Err(PacketError::Truncated);
    }
    let (a, b) = buf.split_at(n);
    *buf = b;
    Ok(a)
}

fn take_u32(buf: &mut &[u8]) -> Result<u32, PacketError> {
    let b = take(buf, 4)?;
    Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
}

fn take_sid(buf: &mut &[u8]) -> Result<SessionId, PacketError> {
    let b = take(buf, SID_SIZE)?;
    let mut s = [0u8; SID_SIZE];
    s.copy_from_slice(b);
    Ok(s)
}

/// Decodes one packet (one UDP datagram, or one TCP frame without its
/// length prefix). Allocates only the ACK list (≤ 8 entries).
pub fn decode(buf: &[u8]) -> Result<Packet<'_>, PacketError> {
    if buf.len() > MAX_PACKET {
        return Err(PacketError::TooLarge(buf.len()));
    }
    let mut rest = buf;
    let first = take(&mut rest, 1)?[0];
    let op = Opcode::from_u8(first >> 3).ok_or(PacketError::BadOpcode(first >> 3))?;
    let key_id = first & 7;
    match op {
        Opcode::DataV1 => {
            return Ok(Packet::Data {
                op,
                key_id,
                peer_id: None,
                header: &buf[..1],
                payload: rest,
            })
        }
        Opcode::DataV2 => {
            let p = take(&mut rest, 3)?;
            let peer_id = u32::from_be_bytes([0, p[0], p[1], p[2]]);
            return Ok(Packet::Data {
                op,
                key_id,
                peer_id: Some(peer_id),
                header: &buf[..4],
                payload: rest,
            });
        }
        _ => {}
    }
    let sid = take_sid(&mut rest)?;
    let n = take(&mut rest, 1)?[0];
    if n as usize > MAX_ACKS {
        return Err(PacketError::TooManyAcks(n));
    }
    let mut acks = Acks::default();
    if n > 0 {
        acks.ids.reserve_exact(n as usize);
        for _ in 0..n {
            acks.ids.push(take_u32(&mut rest)?);
        }
        acks.remote_sid = Some(take_sid(&mut rest)?);
    }
    let packet_id = if op == Opcode::AckV1 {
        None
    } else {
        Some(take_u32(&mut rest)?)
    };
    Ok(Packet::Control(ControlPacket {
        op,
        key_id,
        sid,
        acks,
        packet_id,
        payload: rest,
    }))
}

/// Encodes a control packet into `out` (cleared first).
///
/// `acks.ids` beyond [`MAX_ACKS`] are dropped (the caller sends them later).
pub fn encode_control(p: &ControlPacket<'_>, out: &mut Vec<u8>) {
    out.clear();
    out.push((p.op.as_u8() << 3) | (p.key_id & 7));
    out.extend_from_slice(&p.sid);
    let n = p.acks.ids.len().min(MAX_ACKS);
    out.push(n as u8);
    for id in &p.acks.ids[..n] {
        out.extend_from_slice(&id.to_be_bytes());
    }
    if n > 0 {
        out.extend_from_slice(&p.acks.remote_sid.unwrap_or_default());
    }
    if p.op != Opcode::AckV1 {
        out.extend_from_slice(&p.packet_id.unwrap_or(0).to_be_bytes());
    }
    out.extend_from_slice(p.payload);
}

/// The data-channel header: 1 byte for V1, 4 bytes for V2 (`peer_id`
/// masked to 24 bits).
pub fn data_header(key_id: u8, peer_id: Option<u32>) -> ([u8; 4], usize) {
    match peer_id {
        None => ([(Opcode::DataV1.as_u8() << 3) | (key_id & 7), 0, 0, 0], 1),
        Some(p) => {
            let b = p.to_be_bytes();
            (
                [
                    (Opcode::DataV2.as_u8() << 3) | (key_id & 7),
                    b[1],
                    b[2],
                    b[3],
                ],
                4,
            )
        }
    }
}

/// Splits a TCP byte stream into OpenVPN packets (u16 big-endian length
/// prefix, OpenVPN `PROTO_TCP` framing). Buffers at most one partial
/// packet ([`MAX_PACKET`] + 2 bytes).
#[derive(Debug, Default)]
pub struct TcpFramer {
    buf: Vec<u8>,
}

impl TcpFramer {
    /// A framer with an empty buffer.
    pub fn new() -> TcpFramer {
        TcpFramer::default()
    }

    /// Appends received bytes and returns the complete packets, in order.
    /// Errors on a length of 0 or above [`MAX_PACKET`]; the stream is then
    /// unusable and must be closed.
    pub fn push(&mut self, mut data: &[u8]) -> Result<Vec<Vec<u8>>, PacketError> {
        let mut out = Vec::new();
        while !data.is_empty() {
            let need = if self.buf.len() < 2 {
                2 - self.buf.len()
            } else {
                let len = u16::from_be_bytes([self.buf[0], self.buf[1]]) as usize;
                if len == 0 || len > MAX_PACKET {
                    return Err(PacketError::TooLarge(len));
                }
                2 + len - self.buf.len()
            };
            let n = need.min(data.len());
            self.buf.extend_from_slice(&data[..n]);
            data = &data[n..];
            if self.buf.len() >= 2 {
                let len = u16::from_be_bytes([self.buf[0], self.buf[1]]) as usize;
                if len == 0 || len > MAX_PACKET {
                    return Err(PacketError::TooLarge(len));
                }
                if self.buf.len() == 2 + len {
                    out.push(self.buf[2..].to_vec());
                    self.buf.clear();
                }
            }
        }
        Ok(out)
    }

    /// Prefixes `pkt` with its length for sending over TCP.
    pub fn frame(pkt: &[u8]) -> Vec<u8> {
        let mut v = Vec::with_capacity(pkt.len() + 2);
        v.extend_from_slice(&(pkt.len().min(u16::MAX as usize) as u16).to_be_bytes());
        v.extend_from_slice(pkt);
        v
    }
}

/// True when the first bytes of a TCP stream look like an OpenVPN client's
/// hard reset: a length prefix of 14..=[`MAX_PACKET`] then
/// `P_CONTROL_HARD_RESET_CLIENT_V2/V3` with key id 0. SoftEther's
/// `OvsIsPacketForMe` (src/Cedar/Proto_OpenVPN.c) checks only for the
/// length `00 0e` (a reset without tls-auth); the opcode check also keeps
/// the SoftEther HTTP request (`POST`) apart. Needs at least 3 bytes.
pub fn is_openvpn_tcp_start(first: &[u8]) -> bool {
    if first.len() < 3 {
        return false;
    }
    let len = u16::from_be_bytes([first[0], first[1]]) as usize;
    let op = first[2];
    (14..=MAX_PACKET).contains(&len)
        && (op == Opcode::HardResetClientV2.as_u8() << 3
            || op == Opcode::HardResetClientV3.as_u8() << 3)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_roundtrip() {
        let p = ControlPacket {
            op: Opcode::ControlV1,
            key_id: 2,
            sid: [1, 2, 3, 4, 5, 6, 7, 8],
            acks: Acks {
                ids: vec![5, 6],
                remote_sid: Some([9; 8]),
            },
            packet_id: Some(77),
            payload: b"hello",
        };
        let mut out = Vec::new();
        encode_control(&p, &mut out);
        assert_eq!(out[0], (4 << 3) | 2);
        assert_eq!(decode(&out).unwrap(), Packet::Control(p));
    }

    #[test]
    fn ack_only_has_no_packet_id() {
        let p = ControlPacket {
            op: Opcode::AckV1,
            key_id: 0,
            sid: [7; 8],
            acks: Acks {
                ids: vec![0],
                remote_sid: Some([3; 8]),
            },
            packet_id: None,
            payload: b"",
        };
        let mut out = Vec::new();
        encode_control(&p, &mut out);
        assert_eq!(out.len(), 1 + 8 + 1 + 4 + 8);
        assert_eq!(decode(&out).unwrap(), Packet::Control(p));
    }

    #[test]
    fn real_client_reset() {
        // A P_CONTROL_HARD_RESET_CLIENT_V2 as openvpn 2.6 sends it without
        // tls-auth: op 7, sid, no acks, packet id 0, empty payload.
        let raw = [0x38, 1, 2, 3, 4, 5, 6, 7, 8, 0, 0, 0, 0, 0];
        match decode(&raw).unwrap() {
            Packet::Control(c) => {
                assert_eq!(c.op, Opcode::HardResetClientV2);
                assert_eq!(c.packet_id, Some(0));
                assert!(c.payload.is_empty());
            }
            other => panic!("{other:?}"),
        }
        assert!(is_openvpn_tcp_start(&[0, 14, 0x38]));
        assert!(!is_openvpn_tcp_start(b"POST /vpnsvc"));
    }

    #[test]
    fn data_v2_peer_id() {
        let (h, n) = data_header(1, Some(0x123456));
        assert_eq!(&h[..n], &[0x49, 0x12, 0x34, 0x56]);
        let mut pkt = h[..n].to_vec();
        pkt.extend_from_slice(b"xyz");
        match decode(&pkt).unwrap() {
            Packet::Data {
                peer_id,
                key_id,
                payload,
                header,
                ..
            } => {
                assert_eq!(peer_id, Some(0x123456));
                assert_eq!(key_id, 1);
                assert_eq!(payload, b"xyz");
                assert_eq!(header.len(), 4);
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn bad_input() {
        assert_eq!(decode(&[]), Err(PacketError::Truncated));
        assert_eq!(decode(&[0x08]), Err(PacketError::BadOpcode(1)));
        assert_eq!(
            decode(&[0x20, 0, 0, 0, 0, 0, 0, 0, 0, 9]),
            Err(PacketError::TooManyAcks(9))
        );
        assert_eq!(
            decode(&[0x20, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]),
            Err(PacketError::Truncated)
        );
        assert!(matches!(
            decode(&vec![0x30; MAX_PACKET + 1]),
            Err(PacketError::TooLarge(_))
        ));
    }

    #[test]
    fn tcp_framer_splits_and_joins() {
        let mut f = TcpFramer::new();
        let mut stream = TcpFramer::frame(b"abc");
        stream.extend(TcpFramer::frame(b"defg"));
        let mut got = Vec::new();
        for b in stream.chunks(1) {
            got.extend(f.push(b).unwrap());
        }
        assert_eq!(got, vec![b"abc".to_vec(), b"defg".to_vec()]);
        assert!(f.push(&[0xff, 0xff]).is_err());
    }
}
