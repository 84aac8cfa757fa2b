//! Key-method 2 messages: the first plaintext each side writes into the
//! TLS control channel (OpenVPN src/openvpn/ssl.c `key_method_2_write` /
//! `key_method_2_read`).
//!
//! ```text
//! u32 0 | u8 key_method (2) | [pre_master 48, client only] | random1 32 | random2 32
//! | options str | username str | password str | [peer_info str]
//! str = u16 length (incl. the NUL) + bytes + NUL; length 0 = absent
//! ```

use thiserror::Error;

/// Longest options string OpenVPN sends or accepts (`TLS_OPTIONS_LEN`).
pub const MAX_OPTIONS: usize = 2048;
/// Longest username/password (OpenVPN `USER_PASS_LEN` is 4096 with
/// auth-token; SoftEther user names are far shorter).
pub const MAX_USER_PASS: usize = 4096;
/// Longest peer-info block we accept (bytes).
pub const MAX_PEER_INFO: usize = 8192;
/// Longest whole client message: the sum of the field limits.
pub const MAX_CLIENT_MESSAGE: usize =
    5 + 112 + 4 * 2 + MAX_OPTIONS + 2 * MAX_USER_PASS + MAX_PEER_INFO;

/// Why a key-method message was refused.
#[derive(Debug, Error, PartialEq, Eq)]
pub enum KeyMethodError {
    /// More bytes are needed (the message spans several TLS records).
    #[error("incomplete key-method message")]
    Incomplete,
    /// Not key method 2.
    #[error("unsupported key method {0}")]
    BadMethod(u8),
    /// A string longer than its limit, or not NUL-terminated / not UTF-8.
    #[error("bad {0} string in key-method message")]
    BadString(&'static str),
}

/// The client's key-method 2 message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientKeyMethod {
    /// Client pre-master secret (for the TLS-PRF key derivation).
    pub pre_master: [u8; 48],
    /// Client random1.
    pub random1: [u8; 32],
    /// Client random2.
    pub random2: [u8; 32],
    /// The client's options string (`V4,dev-type tap,...`).
    pub options: String,
    /// Username (empty when absent).
    pub username: String,
    /// Password (empty when absent).
    pub password: String,
    /// `KEY=value` lines (`IV_VER`, `IV_PROTO`, `IV_CIPHERS`, ...).
    pub peer_info: String,
}

fn take<'a>(b: &mut &'a [u8], n: usize) -> Result<&'a [u8], KeyMethodError> {
    if b.len() < n {
        return Err(KeyMethodError::Incomplete);
    }
    let (x, y) = b.split_at(n);
    *b = y;
    Ok(x)
}

fn take_str(b: &mut &[u8], max: usize, what: &'static str) -> Result<String, KeyMethodError> {
    let l = take(b, 2)?;
    let len = u16::from_be_bytes([l[0], l[1]]) as usize;
    if len == 0 {
        return Ok(String::new());
    }
    if len > max + 1 {
        return Err(KeyMethodError::BadString(what));
    }
    let s = take(b, len)?;
    let (body, nul) = s.split_at(len - 1);
    if nul != [0] || body.contains(&0) {
        return Err(KeyMethodError::BadString(what));
    }
    String::from_utf8(body.to_vec()).map_err(|_| KeyMethodError::BadString(what))
}

impl ClientKeyMethod {
    /// Parses a complete message; returns it and the bytes it used.
    /// `Incomplete` until all mandatory fields are present; the peer-info
    /// field is optional (older clients end after the password), so a
    /// message ending exactly after the password is complete.
    pub fn parse(buf: &[u8]) -> Result<(ClientKeyMethod, usize), KeyMethodError> {
        let mut b = buf;
        take(&mut b, 4)?;
        let method = take(&mut b, 1)?[0];
        if method & 0x0f != 2 {
            return Err(KeyMethodError::BadMethod(method));
        }
        let mut pre_master = [0u8; 48];
        pre_master.copy_from_slice(take(&mut b, 48)?);
        let mut random1 = [0u8; 32];
        random1.copy_from_slice(take(&mut b, 32)?);
        let mut random2 = [0u8; 32];
        random2.copy_from_slice(take(&mut b, 32)?);
        let options = take_str(&mut b, MAX_OPTIONS, "options")?;
        let username = take_str(&mut b, MAX_USER_PASS, "username")?;
        let password = take_str(&mut b, MAX_USER_PASS, "password")?;
        let peer_info = if b.is_empty() {
            String::new()
        } else {
            take_str(&mut b, MAX_PEER_INFO, "peer-info")?
        };
        let used = buf.len() - b.len();
        Ok((
            ClientKeyMethod {
                pre_master,
                random1,
                random2,
                options,
                username,
                password,
                peer_info,
            },
            used,
        ))
    }

    /// The value of a peer-info variable (`IV_CIPHERS`, `IV_PROTO`, ...).
    pub fn peer_var(&self, key: &str) -> Option<&str> {
        self.peer_info
            .lines()
            .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
    }

    /// `IV_PROTO` as a bit set (0 when absent or malformed).
    pub fn iv_proto(&self) -> u32 {
        self.peer_var("IV_PROTO")
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0)
    }

    /// The value of an option in the options string (`cipher`, `dev-type`).
    pub fn option(&self, name: &str) -> Option<&str> {
        self.options
            .split(',')
            .find_map(|o| o.strip_prefix(name)?.strip_prefix(' '))
    }
}

/// `IV_PROTO` bits (OpenVPN src/openvpn/ssl.h).
pub mod iv_proto {
    /// Client understands `P_DATA_V2` and a pushed `peer-id`.
    pub const DATA_V2: u32 = 1 << 1;
    /// Client accepts a `PUSH_REPLY` before it sent `PUSH_REQUEST`.
    pub const REQUEST_PUSH: u32 = 1 << 2;
    /// Client supports TLS keying material export (`key-derivation tls-ekm`).
    pub const TLS_KEY_EXPORT: u32 = 1 << 3;
    /// Client accepts the `EXIT` control message (`protocol-flags cc-exit`).
    pub const CC_EXIT_NOTIFY: u32 = 1 << 7;
}

fn put_str(out: &mut Vec<u8>, s: &str) {
    if s.is_empty() {
        out.extend_from_slice(&0u16.to_be_bytes());
        return;
    }
    out.extend_from_slice(&((s.len() + 1) as u16).to_be_bytes());
    out.extend_from_slice(s.as_bytes());
    out.push(0);
}

/// The server's key-method 2 message: no pre-master, empty username and
/// password, no peer-info. `options` must be non-empty (the client
/// requires it) and shorter than [`MAX_OPTIONS`].
pub fn server_message(random1: &[u8; 32], random2: &[u8; 32], options: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(80 + options.len());
    out.extend_from_slice(&0u32.to_be_bytes());
    out.push(2);
    out.extend_from_slice(random1);
    out.extend_from_slice(random2);
    put_str(&mut out, options);
    put_str(&mut out, "");
    put_str(&mut out, "");
    out
}

/// Builds a client message (tests and fuzz seeds).
pub fn client_message(km: &ClientKeyMethod) -> Vec<u8> {
    let mut out = Vec::new();
    out.extend_from_slice(&0u32.to_be_bytes());
    out.push(2);
    out.extend_from_slice(&km.pre_master);
    out.extend_from_slice(&km.random1);
    out.extend_from_slice(&km.random2);
    put_str(&mut out, &km.options);
    put_str(&mut out, &km.username);
    put_str(&mut out, &km.password);
    put_str(&mut out, &km.peer_info);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> ClientKeyMethod {
        ClientKeyMethod {
            pre_master: [1; 48],
            random1: [2; 32],
            random2: [3; 32],
            options: "V4,dev-type tap,link-mtu 1559,cipher AES-256-GCM,key-method 2,tls-client".into(),
            username: "alice@HUB".into(),
            password: "secret".into(),
            peer_info: "IV_VER=2.6.14\nIV_PROTO=990\nIV_CIPHERS=AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305\n".into(),
        }
    }

    #[test]
    fn roundtrip_and_accessors() {
        let km = sample();
        let raw = client_message(&km);
        let (got, used) = ClientKeyMethod::parse(&raw).unwrap();
        assert_eq!(used, raw.len());
        assert_eq!(got, km);
        assert_eq!(
            got.peer_var("IV_CIPHERS"),
            Some("AES-256-GCM:AES-128-GCM:CHACHA20-POLY1305")
        );
        assert_eq!(
            got.iv_proto() & iv_proto::TLS_KEY_EXPORT,
            iv_proto::TLS_KEY_EXPORT
        );
        assert_eq!(got.option("cipher"), Some("AES-256-GCM"));
        assert_eq!(got.option("dev-type"), Some("tap"));
    }

    #[test]
    fn every_prefix_is_incomplete_or_ok() {
        let raw = client_message(&sample());
        for n in 0..raw.len() {
            match ClientKeyMethod::parse(&raw[..n]) {
                Err(KeyMethodError::Incomplete) => {}
                // Ending exactly after the password is a complete
                // message without peer-info.
                Ok((km, _)) => assert!(km.peer_info.is_empty()),
                Err(e) => panic!("{n}: {e}"),
            }
        }
    }

    #[test]
    fn refuses_bad_fields() {
        let mut raw = client_message(&sample());
        raw[4] = 1;
        assert_eq!(
            ClientKeyMethod::parse(&raw),
            Err(KeyMethodError::BadMethod(1))
        );
        let mut raw = client_message(&sample());
        raw[117] = 0xff; // options length high byte → over the limit
        assert_eq!(
            ClientKeyMethod::parse(&raw),
            Err(KeyMethodError::BadString("options"))
        );
        let srv = server_message(&[0; 32], &[0; 32], "V4");
        assert_eq!(srv.len(), 5 + 64 + 2 + 3 + 4);
    }
}
