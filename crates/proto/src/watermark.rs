//! Recognising the step-1 "signature" body (docs/protocol-sslvpn.md §3.3–3.4;
//! `src/Cedar/WaterMark.c`, `ServerDownloadSignature` in
//! `src/Cedar/Protocol.c`).
//!
//! SoftEther clients POST a 1411-byte GIF (`WaterMark[]`) followed by
//! 0..1999 random bytes. We do not ship that image: the server recognises it
//! by its length and SHA-1, and also accepts the alternative body
//! `VPNCONNECT`, which is all our own client (cascades) sends.

use sha1::{Digest, Sha1};

/// Length of SoftEther's watermark image (`SizeOfWaterMark()`).
pub const WATERMARK_LEN: usize = 1411;

/// Largest accepted signature body: watermark + 2000 (`ServerDownloadSignature`).
pub const MAX_SIGNATURE_BODY: usize = WATERMARK_LEN + 2000;

/// The alternative signature body (`HTTP_VPN_TARGET_POSTDATA`, `HTTP.h`).
pub const VPNCONNECT: &[u8] = b"VPNCONNECT";

/// SHA-1 of the 1411-byte watermark (docs/protocol-sslvpn.md §3.3, verified).
pub const WATERMARK_SHA1: [u8; 20] = [
    0xbb, 0x85, 0x98, 0x34, 0x34, 0xa1, 0xee, 0xd6, 0x45, 0xd8, 0x65, 0x7d, 0xcc, 0xf8, 0xd2, 0x6a,
    0x9b, 0xb4, 0xea, 0xa7,
];

/// The first 16 bytes of the watermark (a GIF89a header), a cheap pre-check
/// before hashing (docs/protocol-sslvpn.md §3.3).
pub const WATERMARK_PREFIX: [u8; 16] = [
    0x47, 0x49, 0x46, 0x38, 0x39, 0x61, 0xc8, 0x00, 0x33, 0x00, 0xf2, 0x00, 0x00, 0x36, 0x37, 0x34,
];

/// The `Content-Length` rule applied before the body is read: within
/// `[1411, 3411]` or exactly 10; anything else is answered 403 and ends the
/// dispatcher (docs/protocol-sslvpn.md §3.4 step 2).
pub fn signature_length_acceptable(content_length: usize) -> bool {
    content_length == VPNCONNECT.len()
        || (WATERMARK_LEN..=MAX_SIGNATURE_BODY).contains(&content_length)
}

/// True if `body` is a valid signature: exactly `VPNCONNECT`, or at most
/// 3411 bytes starting with the 1411-byte watermark (checked by SHA-1).
pub fn is_vpn_signature(body: &[u8]) -> bool {
    if body == VPNCONNECT {
        return true;
    }
    if !(WATERMARK_LEN..=MAX_SIGNATURE_BODY).contains(&body.len()) {
        return false;
    }
    let mark = &body[..WATERMARK_LEN];
    mark.starts_with(&WATERMARK_PREFIX) && Sha1::digest(mark)[..] == WATERMARK_SHA1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vpnconnect_and_lengths() {
        assert!(is_vpn_signature(b"VPNCONNECT"));
        assert!(!is_vpn_signature(b"VPNCONNECt"));
        assert!(!is_vpn_signature(b"VPNCONNECT "));
        assert!(!is_vpn_signature(b""));
        for (len, ok) in [
            (0, false),
            (9, false),
            (10, true),
            (11, false),
            (20, false),
            (1410, false),
            (1411, true),
            (2495, true),
            (3411, true),
            (3412, false),
        ] {
            assert_eq!(signature_length_acceptable(len), ok, "{len}");
        }
    }

    #[test]
    fn other_1411_byte_bodies_are_rejected() {
        // Right length and GIF prefix, wrong content.
        let mut body = vec![0u8; WATERMARK_LEN];
        body[..16].copy_from_slice(&WATERMARK_PREFIX);
        assert!(!is_vpn_signature(&body));
        body.extend_from_slice(&[1u8; 500]);
        assert!(!is_vpn_signature(&body));
        assert!(!is_vpn_signature(&vec![0x47u8; MAX_SIGNATURE_BODY + 1]));
    }

    /// Positive case with the real image, taken at test time from an
    /// installed SoftEther binary (the image is not part of this crate).
    /// Needs SoftEther installed (`rustether_testkit::prereq`: skipped
    /// visibly and counted without it, failing when `CI` is set).
    #[test]
    fn real_watermark_from_installed_softether() {
        use rustether_testkit::prereq::{require, Prereq};
        if !require(&[Prereq::SoftEther]) {
            return;
        }
        let path = rustether_testkit::softether::program("vpnclient");
        let bin = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        let at = bin
            .windows(WATERMARK_PREFIX.len())
            .position(|w| w == WATERMARK_PREFIX)
            .expect("watermark in vpnclient");
        let mark = &bin[at..at + WATERMARK_LEN];
        assert!(is_vpn_signature(mark));
        let mut body = mark.to_vec();
        body.extend_from_slice(&[0x5a; 1999]);
        assert!(is_vpn_signature(&body));
        body.extend_from_slice(&[0x5a; 2]);
        assert!(!is_vpn_signature(&body), "3412 bytes is too long");
        let mut flipped = mark.to_vec();
        flipped[700] ^= 1;
        assert!(!is_vpn_signature(&flipped), "one flipped bit");
        assert!(!is_vpn_signature(&mark[..WATERMARK_LEN - 1]));
    }
}
