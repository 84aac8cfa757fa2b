//! Stateless session-id cookies for UDP: the server's session id in its
//! reset reply is an HMAC of the client's address, the client's session id
//! and a time slot, so the server keeps no state until the client echoes
//! that id back in an ACK (the same idea as OpenVPN 2.6's
//! `calculate_session_id_hmac` in src/openvpn/ssl_pkt.c, without needing
//! tls-auth). A spoofed source never sees the reply, so it cannot make the
//! server create a session.

use std::net::SocketAddr;

use aws_lc_rs::hmac;

use crate::packet::{encode_control, Acks, ControlPacket, Opcode, SessionId, SID_SIZE};

/// Length of one cookie time slot (ms); a cookie is valid in its slot and
/// the next, so for 30..60 s.
pub const SLOT_MS: u64 = 30_000;

/// The server's cookie secret (random per process).
pub struct CookieKey {
    key: hmac::Key,
}

impl std::fmt::Debug for CookieKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CookieKey(..)")
    }
}

impl CookieKey {
    /// A key with a fresh random secret.
    pub fn random() -> CookieKey {
        let secret: [u8; 32] = rand::random();
        CookieKey::from_secret(&secret)
    }

    /// A key from a given secret (tests).
    pub fn from_secret(secret: &[u8]) -> CookieKey {
        CookieKey {
            key: hmac::Key::new(hmac::HMAC_SHA256, secret),
        }
    }

    fn sid_in_slot(&self, peer: &SocketAddr, client_sid: &SessionId, slot: u64) -> SessionId {
        let mut ctx = hmac::Context::with_key(&self.key);
        match peer {
            SocketAddr::V4(a) => ctx.update(&a.ip().octets()),
            SocketAddr::V6(a) => ctx.update(&a.ip().octets()),
        }
        ctx.update(&peer.port().to_be_bytes());
        ctx.update(client_sid);
        ctx.update(&slot.to_be_bytes());
        let tag = ctx.sign();
        let mut sid = [0u8; SID_SIZE];
        sid.copy_from_slice(&tag.as_ref()[..SID_SIZE]);
        sid
    }

    /// The server session id to answer `client_sid` from `peer` at `now_ms`.
    pub fn sid(&self, peer: &SocketAddr, client_sid: &SessionId, now_ms: u64) -> SessionId {
        self.sid_in_slot(peer, client_sid, now_ms / SLOT_MS)
    }

    /// True if `our_sid` is a cookie we issued to `peer`/`client_sid` in
    /// this or the previous slot (constant-time compare).
    pub fn verify(
        &self,
        peer: &SocketAddr,
        client_sid: &SessionId,
        our_sid: &SessionId,
        now_ms: u64,
    ) -> bool {
        use subtle::ConstantTimeEq;
        let slot = now_ms / SLOT_MS;
        [slot, slot.saturating_sub(1)]
            .iter()
            .any(|s| bool::from(self.sid_in_slot(peer, client_sid, *s).ct_eq(our_sid)))
    }
}

/// The server's `P_CONTROL_HARD_RESET_SERVER_V2` answering a client reset:
/// acks the client's packet 0, carries packet id 0 and no payload.
pub fn reset_reply(key_id: u8, our_sid: SessionId, client_sid: SessionId) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    encode_control(
        &ControlPacket {
            op: Opcode::HardResetServerV2,
            key_id,
            sid: our_sid,
            acks: Acks {
                ids: vec![0],
                remote_sid: Some(client_sid),
            },
            packet_id: Some(0),
            payload: &[],
        },
        &mut out,
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_binds_address_sid_and_time() {
        let k = CookieKey::from_secret(b"k");
        let a: SocketAddr = "10.0.0.1:5000".parse().unwrap();
        let b: SocketAddr = "10.0.0.1:5001".parse().unwrap();
        let c = k.sid(&a, &[1; 8], 1_000);
        assert!(k.verify(&a, &[1; 8], &c, 1_000));
        assert!(
            k.verify(&a, &[1; 8], &c, SLOT_MS + 1_000),
            "next slot still valid"
        );
        assert!(!k.verify(&a, &[1; 8], &c, 2 * SLOT_MS + 1_000), "expired");
        assert!(!k.verify(&b, &[1; 8], &c, 1_000), "other port");
        assert!(!k.verify(&a, &[2; 8], &c, 1_000), "other client sid");
        assert!(
            !CookieKey::from_secret(b"x").verify(&a, &[1; 8], &c, 1_000),
            "other key"
        );
    }
}
