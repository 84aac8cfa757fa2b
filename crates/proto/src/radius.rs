//! RADIUS PAP codec (RFC 2865, Message-Authenticator of RFC 3579), sans-IO.
//!
//! What SoftEther's `RadiusLogin` (src/Cedar/Radius.c) sends for a
//! password login: an Access-Request with `User-Name`, the hidden
//! `User-Password` (RFC 2865 §5.2), `NAS-Identifier`, `Service-Type`
//! Framed (2), `NAS-Port-Type` Virtual (5), `Tunnel-Type` 1,
//! `Tunnel-Medium-Type` IPv4 (1), `Called-Station-Id` (the hub name),
//! `Calling-Station-Id` and `Tunnel-Client-Endpoint` (the client's IP).
//! Unlike SoftEther we also send a `Message-Authenticator` (HMAC-MD5,
//! RFC 3579 §3.2) and verify the reply's Response Authenticator (and its
//! Message-Authenticator when present), so a forged or corrupted reply is
//! refused instead of counting as an Access-Accept.
//!
//! The UDP exchange (retries, time-out) lives in the server
//! (`rustether-server`, `radius.rs`); this module only builds and checks
//! bytes.

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use subtle::ConstantTimeEq;

/// Access-Request code (RFC 2865 §4.1).
pub const CODE_ACCESS_REQUEST: u8 = 1;
/// Access-Accept code (RFC 2865 §4.2).
pub const CODE_ACCESS_ACCEPT: u8 = 2;
/// Access-Reject code (RFC 2865 §4.3).
pub const CODE_ACCESS_REJECT: u8 = 3;
/// Access-Challenge code (RFC 2865 §4.4).
pub const CODE_ACCESS_CHALLENGE: u8 = 11;

/// Largest RADIUS packet (RFC 2865 §3: 4096 bytes); also the receive
/// buffer size the caller needs.
pub const MAX_PACKET: usize = 4096;
/// Longest password `User-Password` can carry (RFC 2865 §5.2: 128 bytes).
pub const MAX_PASSWORD: usize = 128;
/// Longest value of one attribute (255 − 2 header bytes).
pub const MAX_ATTRIBUTE_VALUE: usize = 253;
/// `NAS-Identifier` SoftEther sends (`CEDAR_SERVER_STR`, src/Cedar/Cedar.h).
pub const NAS_IDENTIFIER: &str = "SoftEther VPN Server";

const HEADER: usize = 20;
const ATTR_USER_NAME: u8 = 1;
const ATTR_USER_PASSWORD: u8 = 2;
const ATTR_SERVICE_TYPE: u8 = 6;
const ATTR_REPLY_MESSAGE: u8 = 18;
const ATTR_CALLED_STATION_ID: u8 = 30;
const ATTR_CALLING_STATION_ID: u8 = 31;
const ATTR_NAS_IDENTIFIER: u8 = 32;
const ATTR_NAS_PORT_TYPE: u8 = 61;
const ATTR_TUNNEL_TYPE: u8 = 64;
const ATTR_TUNNEL_MEDIUM_TYPE: u8 = 65;
const ATTR_TUNNEL_CLIENT_ENDPOINT: u8 = 66;
const ATTR_MESSAGE_AUTHENTICATOR: u8 = 80;

/// Why a request cannot be built or a reply is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RadiusError {
    /// The shared secret is empty (RFC 2865 §3 forbids it).
    #[error("the RADIUS shared secret is empty")]
    EmptySecret,
    /// An attribute value (user name, hub name, …) is longer than 253
    /// bytes, or the password longer than [`MAX_PASSWORD`].
    #[error("{0} is too long for a RADIUS attribute")]
    TooLong(&'static str),
    /// The reply is shorter than its header or its `Length` field is out of
    /// 20..=4096 or beyond the datagram.
    #[error("malformed RADIUS reply length")]
    BadLength,
    /// An attribute's length runs past the packet or is below 2.
    #[error("malformed RADIUS attribute")]
    BadAttribute,
    /// The reply's identifier is not the request's (a stale or foreign
    /// reply).
    #[error("RADIUS reply identifier {got} does not match the request's {want}")]
    WrongId {
        /// Identifier of the request.
        want: u8,
        /// Identifier in the reply.
        got: u8,
    },
    /// The code is not Access-Accept, -Reject or -Challenge.
    #[error("unexpected RADIUS reply code {0}")]
    UnexpectedCode(u8),
    /// Response Authenticator or Message-Authenticator does not verify:
    /// wrong shared secret or a forged reply.
    #[error("RADIUS reply authenticator does not verify (wrong shared secret?)")]
    BadAuthenticator,
}

/// A PAP Access-Request's contents (SoftEther `RadiusLogin`).
#[derive(Debug, Clone, Copy)]
pub struct PapRequest<'a> {
    /// `User-Name`: the user's RADIUS name (UTF-8, ≤ 253 bytes).
    pub user_name: &'a str,
    /// The clear password (≤ [`MAX_PASSWORD`] bytes), hidden on the wire.
    pub password: &'a str,
    /// `NAS-Identifier` (normally [`NAS_IDENTIFIER`]).
    pub nas_identifier: &'a str,
    /// `Called-Station-Id`: the virtual hub's name; omitted when empty.
    pub called_station_id: &'a str,
    /// `Calling-Station-Id` and `Tunnel-Client-Endpoint`: the client's IP
    /// address as text.
    pub calling_station_id: &'a str,
}

/// The verdict carried by a verified reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    /// Access-Accept.
    Accept,
    /// Access-Reject, with the first `Reply-Message` if any (lossy UTF-8).
    Reject(Option<String>),
    /// Access-Challenge (PAP has no answer to it: the login fails, as in
    /// SoftEther which accepts only code 2).
    Challenge,
}

fn md5_parts(parts: &[&[u8]]) -> [u8; 16] {
    let mut h = Md5::new();
    for p in parts {
        h.update(p);
    }
    h.finalize().into()
}

fn hmac_md5(secret: &[u8], data: &[u8]) -> [u8; 16] {
    // HMAC accepts keys of any length; the error arm cannot happen.
    match <Hmac<Md5> as Mac>::new_from_slice(secret) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().into()
        }
        Err(_) => [0; 16],
    }
}

/// `User-Password` hiding (RFC 2865 §5.2): the password padded with zeros
/// to a multiple of 16 bytes (at least 16), XORed block by block with
/// `MD5(secret ‖ previous)`, the first "previous" being the Request
/// Authenticator.
pub fn hide_password(password: &[u8], secret: &[u8], authenticator: &[u8; 16]) -> Vec<u8> {
    let len = password.len().div_ceil(16).max(1) * 16;
    let mut out = password.to_vec();
    out.resize(len, 0);
    let mut prev: [u8; 16] = *authenticator;
    for chunk in out.chunks_mut(16) {
        let b = md5_parts(&[secret, &prev]);
        for (c, k) in chunk.iter_mut().zip(b) {
            *c ^= k;
        }
        prev.copy_from_slice(chunk);
    }
    out
}

fn push_attr(
    out: &mut Vec<u8>,
    ty: u8,
    value: &[u8],
    what: &'static str,
) -> Result<(), RadiusError> {
    if value.len() > MAX_ATTRIBUTE_VALUE {
        return Err(RadiusError::TooLong(what));
    }
    out.push(ty);
    // ≤ 255 checked above.
    out.push((value.len() + 2) as u8);
    out.extend_from_slice(value);
    Ok(())
}

/// Builds a PAP Access-Request with identifier `id` and the random Request
/// Authenticator `authenticator` (16 bytes from a CSPRNG, RFC 2865 §3),
/// ending with a Message-Authenticator. At most 20 + 11 attributes of
/// ≤ 255 bytes each (< [`MAX_PACKET`]).
///
/// Errors: [`RadiusError::EmptySecret`], [`RadiusError::TooLong`].
pub fn encode_access_request(
    req: &PapRequest<'_>,
    id: u8,
    authenticator: &[u8; 16],
    secret: &[u8],
) -> Result<Vec<u8>, RadiusError> {
    if secret.is_empty() {
        return Err(RadiusError::EmptySecret);
    }
    if req.password.len() > MAX_PASSWORD {
        return Err(RadiusError::TooLong("the password"));
    }
    let mut p = Vec::with_capacity(256);
    p.extend_from_slice(&[CODE_ACCESS_REQUEST, id, 0, 0]);
    p.extend_from_slice(authenticator);
    push_attr(
        &mut p,
        ATTR_USER_NAME,
        req.user_name.as_bytes(),
        "the user name",
    )?;
    let hidden = hide_password(req.password.as_bytes(), secret, authenticator);
    push_attr(&mut p, ATTR_USER_PASSWORD, &hidden, "the password")?;
    push_attr(
        &mut p,
        ATTR_NAS_IDENTIFIER,
        req.nas_identifier.as_bytes(),
        "the NAS identifier",
    )?;
    push_attr(&mut p, ATTR_SERVICE_TYPE, &2u32.to_be_bytes(), "")?;
    push_attr(&mut p, ATTR_NAS_PORT_TYPE, &5u32.to_be_bytes(), "")?;
    push_attr(&mut p, ATTR_TUNNEL_TYPE, &1u32.to_be_bytes(), "")?;
    push_attr(&mut p, ATTR_TUNNEL_MEDIUM_TYPE, &1u32.to_be_bytes(), "")?;
    if !req.called_station_id.is_empty() {
        push_attr(
            &mut p,
            ATTR_CALLED_STATION_ID,
            req.called_station_id.as_bytes(),
            "the hub name",
        )?;
    }
    let ip = req.calling_station_id.as_bytes();
    push_attr(&mut p, ATTR_CALLING_STATION_ID, ip, "the client address")?;
    push_attr(
        &mut p,
        ATTR_TUNNEL_CLIENT_ENDPOINT,
        ip,
        "the client address",
    )?;
    let ma_at = p.len() + 2;
    push_attr(&mut p, ATTR_MESSAGE_AUTHENTICATOR, &[0; 16], "")?;
    let len = u16::try_from(p.len()).map_err(|_| RadiusError::TooLong("the request"))?;
    p[2..4].copy_from_slice(&len.to_be_bytes());
    let mac = hmac_md5(secret, &p);
    p[ma_at..ma_at + 16].copy_from_slice(&mac);
    Ok(p)
}

/// Checks a reply to the request `(id, request_authenticator)` and returns
/// its verdict. Bytes after the `Length` field are ignored (RFC 2865 §3).
/// The Response Authenticator, `MD5(code ‖ id ‖ length ‖ request
/// authenticator ‖ attributes ‖ secret)`, must match; a
/// Message-Authenticator, when present, must be 16 bytes and verify
/// (RFC 3579 §3.2). No allocation beyond a `Reply-Message` (≤ 253 bytes).
///
/// Errors: every [`RadiusError`] but `EmptySecret`/`TooLong`.
pub fn parse_reply(
    datagram: &[u8],
    id: u8,
    request_authenticator: &[u8; 16],
    secret: &[u8],
) -> Result<Reply, RadiusError> {
    if datagram.len() < HEADER {
        return Err(RadiusError::BadLength);
    }
    let len = usize::from(u16::from_be_bytes([datagram[2], datagram[3]]));
    if !(HEADER..=MAX_PACKET).contains(&len) || len > datagram.len() {
        return Err(RadiusError::BadLength);
    }
    let p = &datagram[..len];
    let code = p[0];
    if p[1] != id {
        return Err(RadiusError::WrongId {
            want: id,
            got: p[1],
        });
    }
    // Walk the attributes once: structure, Message-Authenticator position,
    // first Reply-Message.
    let mut at = HEADER;
    let mut ma_at = None;
    let mut message = None;
    while at < len {
        if len - at < 2 {
            return Err(RadiusError::BadAttribute);
        }
        let alen = usize::from(p[at + 1]);
        if alen < 2 || at + alen > len {
            return Err(RadiusError::BadAttribute);
        }
        match p[at] {
            ATTR_MESSAGE_AUTHENTICATOR => {
                if alen != 18 || ma_at.is_some() {
                    return Err(RadiusError::BadAttribute);
                }
                ma_at = Some(at + 2);
            }
            ATTR_REPLY_MESSAGE if message.is_none() => {
                message = Some(&p[at + 2..at + alen]);
            }
            _ => {}
        }
        at += alen;
    }
    let expect = md5_parts(&[&p[..4], request_authenticator, &p[HEADER..], secret]);
    if !bool::from(expect.ct_eq(&p[4..HEADER])) {
        return Err(RadiusError::BadAuthenticator);
    }
    if let Some(ma) = ma_at {
        let mut m = <Hmac<Md5> as Mac>::new_from_slice(secret)
            .map_err(|_| RadiusError::BadAuthenticator)?;
        m.update(&p[..4]);
        m.update(request_authenticator);
        m.update(&p[HEADER..ma]);
        m.update(&[0; 16]);
        m.update(&p[ma + 16..]);
        m.verify_slice(&p[ma..ma + 16])
            .map_err(|_| RadiusError::BadAuthenticator)?;
    }
    match code {
        CODE_ACCESS_ACCEPT => Ok(Reply::Accept),
        CODE_ACCESS_REJECT => Ok(Reply::Reject(
            message.map(|m| String::from_utf8_lossy(m).into_owned()),
        )),
        CODE_ACCESS_CHALLENGE => Ok(Reply::Challenge),
        c => Err(RadiusError::UnexpectedCode(c)),
    }
}

/// The Response Authenticator a reply must carry (RFC 2865 §3):
/// `MD5(code ‖ id ‖ length ‖ request authenticator ‖ attributes ‖ secret)`
/// over `reply[..length]`, or `None` if `reply` is shorter than 20 bytes.
/// For responders (tests, the fuzz target).
pub fn response_authenticator(
    reply: &[u8],
    request_authenticator: &[u8; 16],
    secret: &[u8],
) -> Option<[u8; 16]> {
    let head = reply.get(..4)?;
    let attrs = reply.get(HEADER..)?;
    Some(md5_parts(&[head, request_authenticator, attrs, secret]))
}

/// Server side, for tests and tools: reveals a `User-Password` hidden with
/// [`hide_password`] (trailing zero padding removed). `None` if the hidden
/// value is empty, not a multiple of 16 or longer than 128 bytes.
pub fn reveal_password(hidden: &[u8], secret: &[u8], authenticator: &[u8; 16]) -> Option<Vec<u8>> {
    if hidden.is_empty() || !hidden.len().is_multiple_of(16) || hidden.len() > MAX_PASSWORD {
        return None;
    }
    let mut out = Vec::with_capacity(hidden.len());
    let mut prev: &[u8] = authenticator;
    for chunk in hidden.chunks(16) {
        let b = md5_parts(&[secret, prev]);
        out.extend(chunk.iter().zip(b).map(|(c, k)| c ^ k));
        prev = chunk;
    }
    while out.last() == Some(&0) {
        out.pop();
    }
    Some(out)
}

/// Server side, for tests and tools: the attributes of a request as
/// `(type, value)` pairs, or `None` if malformed (same bounds as
/// [`parse_reply`]). Does not verify anything.
pub fn request_attributes(datagram: &[u8]) -> Option<Vec<(u8, &[u8])>> {
    if datagram.len() < HEADER {
        return None;
    }
    let len = usize::from(u16::from_be_bytes([datagram[2], datagram[3]]));
    if !(HEADER..=MAX_PACKET).contains(&len) || len > datagram.len() {
        return None;
    }
    let mut out = Vec::new();
    let mut at = HEADER;
    while at < len {
        let alen = usize::from(*datagram.get(at + 1)?);
        if alen < 2 || at + alen > len {
            return None;
        }
        out.push((datagram[at], &datagram[at + 2..at + alen]));
        at += alen;
    }
    Some(out)
}

/// Server side, for tests and tools: a reply with `code` to `request`
/// (whose identifier and authenticator it takes), with a
/// Message-Authenticator and a correct Response Authenticator.
/// `None` if `request` is shorter than a header.
pub fn encode_reply(code: u8, request: &[u8], secret: &[u8]) -> Option<Vec<u8>> {
    let req_auth: [u8; 16] = request.get(4..HEADER)?.try_into().ok()?;
    let mut p = vec![code, *request.get(1)?, 0, 38];
    p.extend_from_slice(&req_auth);
    p.extend_from_slice(&[ATTR_MESSAGE_AUTHENTICATOR, 18]);
    p.extend_from_slice(&[0; 16]);
    let mac = hmac_md5(secret, &p);
    p[22..38].copy_from_slice(&mac);
    let auth = response_authenticator(&p, &req_auth, secret)?;
    p[4..HEADER].copy_from_slice(&auth);
    Some(p)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &[u8] = b"s3cret";
    const AUTH: [u8; 16] = [7; 16];

    fn req() -> PapRequest<'static> {
        PapRequest {
            user_name: "alice",
            password: "correct horse battery staple!",
            nas_identifier: NAS_IDENTIFIER,
            called_station_id: "HUB1",
            calling_station_id: "10.0.0.2",
        }
    }

    #[test]
    fn rfc2865_password_hiding_vector() {
        // RFC 2865 §7.1: user "nemo", password "arctangent", secret "xyzzy5461".
        let ra = [
            0x0f, 0x40, 0x3f, 0x94, 0x73, 0x97, 0x80, 0x57, 0xbd, 0x83, 0xd5, 0xcb, 0x98, 0xf4,
            0x22, 0x7a,
        ];
        let hidden = hide_password(b"arctangent", b"xyzzy5461", &ra);
        assert_eq!(
            hidden,
            [
                0x0d, 0xbe, 0x70, 0x8d, 0x93, 0xd4, 0x13, 0xce, 0x31, 0x96, 0xe4, 0x3f, 0x78, 0x2a,
                0x0a, 0xee
            ]
        );
        assert_eq!(
            reveal_password(&hidden, b"xyzzy5461", &ra).unwrap(),
            b"arctangent"
        );
    }

    #[test]
    fn request_carries_softethers_attributes_and_a_valid_message_authenticator() {
        let p = encode_access_request(&req(), 42, &AUTH, SECRET).unwrap();
        assert_eq!(p[0], CODE_ACCESS_REQUEST);
        assert_eq!(p[1], 42);
        assert_eq!(usize::from(u16::from_be_bytes([p[2], p[3]])), p.len());
        let attrs = request_attributes(&p).unwrap();
        let get = |t| attrs.iter().find(|a| a.0 == t).map(|a| a.1).unwrap();
        assert_eq!(get(ATTR_USER_NAME), b"alice");
        assert_eq!(get(ATTR_USER_PASSWORD).len(), 32);
        assert_eq!(
            reveal_password(get(ATTR_USER_PASSWORD), SECRET, &AUTH).unwrap(),
            req().password.as_bytes()
        );
        assert_eq!(get(ATTR_NAS_IDENTIFIER), NAS_IDENTIFIER.as_bytes());
        assert_eq!(get(ATTR_SERVICE_TYPE), [0, 0, 0, 2]);
        assert_eq!(get(ATTR_NAS_PORT_TYPE), [0, 0, 0, 5]);
        assert_eq!(get(ATTR_CALLED_STATION_ID), b"HUB1");
        assert_eq!(get(ATTR_CALLING_STATION_ID), b"10.0.0.2");
        assert_eq!(get(ATTR_TUNNEL_CLIENT_ENDPOINT), b"10.0.0.2");
        // Message-Authenticator: HMAC-MD5 over the packet with itself zeroed.
        let ma = get(ATTR_MESSAGE_AUTHENTICATOR).to_vec();
        let mut zeroed = p.clone();
        let n = zeroed.len();
        zeroed[n - 16..].fill(0);
        assert_eq!(ma, hmac_md5(SECRET, &zeroed));
    }

    #[test]
    fn request_bounds() {
        let long = "x".repeat(254);
        let r = PapRequest {
            user_name: &long,
            ..req()
        };
        assert_eq!(
            encode_access_request(&r, 1, &AUTH, SECRET),
            Err(RadiusError::TooLong("the user name"))
        );
        let pw = "x".repeat(MAX_PASSWORD + 1);
        let r = PapRequest {
            password: &pw,
            ..req()
        };
        assert!(encode_access_request(&r, 1, &AUTH, SECRET).is_err());
        assert_eq!(
            encode_access_request(&req(), 1, &AUTH, b""),
            Err(RadiusError::EmptySecret)
        );
        let r = PapRequest {
            password: "",
            ..req()
        };
        let p = encode_access_request(&r, 1, &AUTH, SECRET).unwrap();
        let attrs = request_attributes(&p).unwrap();
        assert_eq!(attrs[1].1.len(), 16);
    }

    #[test]
    fn replies_verify_and_forgeries_are_refused() {
        let p = encode_access_request(&req(), 9, &AUTH, SECRET).unwrap();
        let accept = encode_reply(CODE_ACCESS_ACCEPT, &p, SECRET).unwrap();
        assert_eq!(parse_reply(&accept, 9, &AUTH, SECRET), Ok(Reply::Accept));
        let reject = encode_reply(CODE_ACCESS_REJECT, &p, SECRET).unwrap();
        assert_eq!(
            parse_reply(&reject, 9, &AUTH, SECRET),
            Ok(Reply::Reject(None))
        );
        // Trailing bytes after Length are ignored.
        let mut padded = accept.clone();
        padded.extend_from_slice(&[0xff; 5]);
        assert_eq!(parse_reply(&padded, 9, &AUTH, SECRET), Ok(Reply::Accept));
        // Wrong secret, wrong id, flipped code (a Reject turned into an Accept).
        assert_eq!(
            parse_reply(&accept, 9, &AUTH, b"other"),
            Err(RadiusError::BadAuthenticator)
        );
        assert_eq!(
            parse_reply(&accept, 8, &AUTH, SECRET),
            Err(RadiusError::WrongId { want: 8, got: 9 })
        );
        let mut forged = reject.clone();
        forged[0] = CODE_ACCESS_ACCEPT;
        assert_eq!(
            parse_reply(&forged, 9, &AUTH, SECRET),
            Err(RadiusError::BadAuthenticator)
        );
        // A valid Response Authenticator but a bad Message-Authenticator.
        let mut bad_ma = accept.clone();
        bad_ma[30] ^= 1;
        let ra = md5_parts(&[&bad_ma[..4], &AUTH, &bad_ma[HEADER..], SECRET]);
        bad_ma[4..HEADER].copy_from_slice(&ra);
        assert_eq!(
            parse_reply(&bad_ma, 9, &AUTH, SECRET),
            Err(RadiusError::BadAuthenticator)
        );
        // Lengths.
        assert_eq!(
            parse_reply(&accept[..19], 9, &AUTH, SECRET),
            Err(RadiusError::BadLength)
        );
        let mut short = accept.clone();
        short[3] = 60;
        assert_eq!(
            parse_reply(&short, 9, &AUTH, SECRET),
            Err(RadiusError::BadLength)
        );
        let mut bad_attr = accept.clone();
        bad_attr[21] = 1;
        assert_eq!(
            parse_reply(&bad_attr, 9, &AUTH, SECRET),
            Err(RadiusError::BadAttribute)
        );
    }

    #[test]
    fn reply_message_of_a_reject_is_returned() {
        // Reject with Reply-Message "no", no Message-Authenticator.
        let mut p = vec![CODE_ACCESS_REJECT, 3, 0, 24];
        p.extend_from_slice(&[0; 16]);
        p.extend_from_slice(&[ATTR_REPLY_MESSAGE, 4, b'n', b'o']);
        let ra = md5_parts(&[&p[..4], &AUTH, &p[HEADER..], SECRET]);
        p[4..HEADER].copy_from_slice(&ra);
        assert_eq!(
            parse_reply(&p, 3, &AUTH, SECRET),
            Ok(Reply::Reject(Some("no".into())))
        );
    }

    #[test]
    fn arbitrary_bytes_never_panic() {
        let mut x = 0x1234_5678u32;
        for n in 0..2000usize {
            let mut d = vec![0u8; n % 300];
            for b in d.iter_mut() {
                x ^= x << 13;
                x ^= x >> 17;
                x ^= x << 5;
                *b = x as u8;
            }
            if d.len() >= 4 {
                let l = d.len().min(n % 64 + 16) as u16;
                d[2..4].copy_from_slice(&l.to_be_bytes());
            }
            let _ = parse_reply(&d, d.get(1).copied().unwrap_or(0), &AUTH, SECRET);
            let _ = request_attributes(&d);
        }
    }
}
