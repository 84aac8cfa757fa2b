//! UDP acceleration (SoftEther `src/Cedar/UdpAccel.c`, `UdpAccel.h`): an
//! optional UDP side channel that carries an established session's frames
//! while both ends hear each other; the TCP connections stay up for
//! keep-alives and as the fallback (docs/udp-acceleration.md,
//! docs/protocol-sslvpn.md §9).
//!
//! Sans-IO: [`UdpAccel`] turns frames into datagrams and datagrams into
//! frames, with the time (`now`, monotonic milliseconds, never 0 on the wire)
//! and randomness passed in. The caller owns the socket.
//!
//! # Datagram format
//!
//! Inner part, all integers big-endian:
//! `{receiver's cookie u32, sender tick u64, last sender tick seen from the
//! peer u64, payload size u16, flag u8, payload, 0..31 padding bytes}`.
//!
//! * version 1: `IV[20] ‖ RC4(SHA-1(common key ‖ IV), inner ‖ 0^20)`; the
//!   last 20 ciphertext bytes are the next IV; the 20 zero bytes are the
//!   integrity check.
//! * version 2: `nonce[12] ‖ ChaCha20-Poly1305(key[0..32], nonce, inner) ‖
//!   tag[16]`, no additional data; the first 12 ciphertext bytes are the next
//!   nonce. OpenSSL takes the first 32 bytes of the 128-byte common key.
//! * `use_encrypt = 0`: the inner part in clear, no IV, no padding.
//!
//! Each side encrypts with its own key and decrypts with the key the peer
//! sent in the login or welcome PACK.
//!
//! # Security
//!
//! Only a datagram that decrypts (v2: its tag verifies; v1: cookie and the
//! 20 zero bytes match) changes state, and the peer's address moves only to
//! the source of such a datagram whose tick is newer than every one seen
//! before, so a replayed or forged datagram cannot redirect the session.
//! Like SoftEther, a replay within the 30 s window is accepted as a frame
//! (v1 and plaintext mode offer no more than that).

use std::net::{IpAddr, SocketAddr};

use aws_lc_rs::aead::{Aad, LessSafeKey, Nonce, UnboundKey, CHACHA20_POLY1305};
use flate2::Decompress;
use rand::{Rng, RngCore};
use rc4::{Rc4, StreamCipher};
use sha1::{Digest, Sha1};

use crate::block::{inflate, BlockStats, MAX_PACKET_SIZE};
use crate::pack::Pack;

/// Common key size of version 1 (`UDP_ACCELERATION_COMMON_KEY_SIZE_V1`).
pub const KEY_V1_LEN: usize = 20;
/// Common key size of version 2 (`UDP_ACCELERATION_COMMON_KEY_SIZE_V2`); the
/// cipher uses the first [`CHACHA_KEY_LEN`] bytes.
pub const KEY_V2_LEN: usize = 128;
/// ChaCha20-Poly1305 key length taken from the v2 common key.
pub const CHACHA_KEY_LEN: usize = 32;
/// Version 1 IV size, also the size of the zero integrity block.
pub const IV_V1_LEN: usize = 20;
/// Version 2 nonce size (`UDP_ACCELERATION_PACKET_IV_SIZE_V2`).
pub const NONCE_V2_LEN: usize = 12;
/// Version 2 tag size (`UDP_ACCELERATION_PACKET_MAC_SIZE_V2`).
pub const TAG_V2_LEN: usize = 16;
/// Cookie, two ticks, size and flag.
pub const HEADER_LEN: usize = 4 + 8 + 8 + 2 + 1;
/// Most padding bytes added (exclusive bound, `UDP_ACCELERATION_MAX_PADDING_SIZE`).
pub const MAX_PADDING: usize = 32;
/// Largest datagram read (`UDP_ACCELERATION_TMP_BUF_SIZE`); larger ones are
/// truncated by the socket and then fail to decrypt.
pub const MAX_DATAGRAM: usize = 2048;
/// Largest payload sent or accepted (`MAX_PACKET_SIZE`): larger frames go
/// over TCP.
pub const MAX_PAYLOAD: usize = MAX_PACKET_SIZE;
/// Datagram size up to which padding is added: `MTU_FOR_PPPOE` (1454) minus
/// IPv4 (20) and UDP (8) headers, as in `NewUdpAccel`.
pub const PAD_LIMIT: usize = 1454 - 20 - 8;
/// Ticks older than this behind the newest seen are dropped, and the peer
/// must have echoed one of our ticks this recent (`UDP_ACCELERATION_WINDOW_SIZE_MSEC`).
pub const WINDOW_MS: u64 = 30_000;
/// The path is used only after receiving steadily this long
/// (`UDP_ACCELERATION_REQUIRE_CONTINUOUS`).
pub const REQUIRE_CONTINUOUS_MS: u64 = 10_000;
/// Keep-alive interval and silence timeout, normal mode (`..._KEEPALIVE_*`).
pub const KEEPALIVE_MS: (u64, u64, u64) = (1_000, 3_000, 9_000);
/// Keep-alive interval and silence timeout with fast disconnect detection
/// (`..._KEEPALIVE_*_FAST`, builds ≥ 8535, what the 5.01 client asks for).
pub const KEEPALIVE_FAST_MS: (u64, u64, u64) = (500, 1_000, 2_100);
/// First and last server port (`UDP_SERVER_PORT_LOWER`/`HIGHER`).
pub const SERVER_PORTS: std::ops::RangeInclusive<u16> = 40_000..=44_999;

/// What a client asks for in its login PACK (`ClientUploadAuth`), read by
/// the server in `ServerAccept` (docs/protocol-sslvpn.md §5.5).
#[derive(Clone, PartialEq, Eq)]
pub struct ClientOffer {
    /// INT `udp_acceleration_max_version` (0 → 1).
    pub max_version: u32,
    /// IP `udp_acceleration_client_ip`; unspecified → the TCP peer address.
    pub client_ip: IpAddr,
    /// INT `udp_acceleration_client_port` (non-zero).
    pub client_port: u16,
    /// DATA `udp_acceleration_client_key` (zero unless exactly 20 bytes).
    pub key_v1: [u8; KEY_V1_LEN],
    /// DATA `udp_acceleration_client_key_v2` (zero unless exactly 128 bytes).
    pub key_v2: Box<[u8; KEY_V2_LEN]>,
    /// INT `support_udp_accel_fast_disconnect_detect`.
    pub fast_disconnect_detect: bool,
    /// INT `support_hmac_on_udp_acceleration` (echoed, no effect on the
    /// format in 5.01).
    pub hmac: bool,
}

impl std::fmt::Debug for ClientOffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Keys stay out of logs.
        f.debug_struct("ClientOffer")
            .field("max_version", &self.max_version)
            .field("client_ip", &self.client_ip)
            .field("client_port", &self.client_port)
            .field("fast_disconnect_detect", &self.fast_disconnect_detect)
            .finish_non_exhaustive()
    }
}

/// A zero key unless `name` is DATA of exactly `N` bytes (`PackGetData2`).
fn key<const N: usize>(p: &Pack, name: &str) -> [u8; N] {
    p.get_data(name)
        .and_then(|d| <[u8; N]>::try_from(d).ok())
        .unwrap_or([0; N])
}

impl ClientOffer {
    /// A client offer with fresh random keys for a UDP endpoint.
    pub fn new<R: RngCore>(rng: &mut R, client_ip: IpAddr, client_port: u16) -> ClientOffer {
        let mut key_v1 = [0u8; KEY_V1_LEN];
        let mut key_v2 = Box::new([0u8; KEY_V2_LEN]);
        rng.fill_bytes(&mut key_v1);
        rng.fill_bytes(&mut key_v2[..]);
        ClientOffer {
            max_version: 2,
            client_ip,
            client_port,
            key_v1,
            key_v2,
            fast_disconnect_detect: true,
            hmac: true,
        }
    }

    /// Reads the offer from a login PACK: `None` unless
    /// `use_udp_acceleration` is 1, the IP field is present and the port is
    /// 1..=65535, which is when SoftEther's `ServerAccept` considers it.
    pub fn from_login_pack(p: &Pack) -> Option<ClientOffer> {
        if !p.get_bool("use_udp_acceleration") {
            return None;
        }
        let client_ip = p.get_ip("udp_acceleration_client_ip")?;
        let port = p.get_int("udp_acceleration_client_port")?;
        let client_port = u16::try_from(port).ok().filter(|p| *p != 0)?;
        Some(ClientOffer {
            max_version: p
                .get_int("udp_acceleration_max_version")
                .unwrap_or(0)
                .max(1),
            client_ip,
            client_port,
            key_v1: key(p, "udp_acceleration_client_key"),
            key_v2: Box::new(key(p, "udp_acceleration_client_key_v2")),
            fast_disconnect_detect: p.get_bool("support_udp_accel_fast_disconnect_detect"),
            hmac: p.get_bool("support_hmac_on_udp_acceleration"),
        })
    }

    /// Adds the login elements as the 5.01 client sends them
    /// (`PackAddClientVersion`… `ClientUploadAuth`).
    pub fn add_to(&self, p: &mut Pack) {
        p.add_bool("use_udp_acceleration", true)
            .add_int("udp_acceleration_version", 1)
            .add_ip("udp_acceleration_client_ip", self.client_ip)
            .add_int("udp_acceleration_client_port", u32::from(self.client_port))
            .add_data("udp_acceleration_client_key", &self.key_v1)
            .add_data("udp_acceleration_client_key_v2", &self.key_v2[..])
            .add_bool("support_hmac_on_udp_acceleration", self.hmac)
            .add_bool(
                "support_udp_accel_fast_disconnect_detect",
                self.fast_disconnect_detect,
            )
            .add_int("udp_acceleration_max_version", self.max_version);
    }
}

/// What the server grants in its welcome PACK (`ServerAccept` → `PackWelcome`).
#[derive(Clone, PartialEq, Eq)]
pub struct ServerOffer {
    /// INT `udp_acceleration_version`, 1 or 2.
    pub version: u32,
    /// IP `udp_acceleration_server_ip`; unspecified → the TCP server address.
    pub server_ip: IpAddr,
    /// INT `udp_acceleration_server_port`.
    pub server_port: u16,
    /// DATA `udp_acceleration_server_key`.
    pub key_v1: [u8; KEY_V1_LEN],
    /// DATA `udp_acceleration_server_key_v2`.
    pub key_v2: Box<[u8; KEY_V2_LEN]>,
    /// INT `udp_acceleration_server_cookie`: what the client puts in the
    /// datagrams it sends.
    pub server_cookie: u32,
    /// INT `udp_acceleration_client_cookie`: what the server puts in its
    /// datagrams.
    pub client_cookie: u32,
    /// INT `udp_acceleration_use_encryption` (= the session's `use_encrypt`).
    pub use_encryption: bool,
    /// INT `use_hmac_on_udp_acceleration`.
    pub hmac: bool,
    /// INT `udp_accel_fast_disconnect_detect`.
    pub fast_disconnect_detect: bool,
}

impl std::fmt::Debug for ServerOffer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServerOffer")
            .field("version", &self.version)
            .field("server_ip", &self.server_ip)
            .field("server_port", &self.server_port)
            .field("use_encryption", &self.use_encryption)
            .field("fast_disconnect_detect", &self.fast_disconnect_detect)
            .finish_non_exhaustive()
    }
}

impl ServerOffer {
    /// Adds the welcome elements in SoftEther's order (`PackWelcome`).
    pub fn add_to(&self, p: &mut Pack) {
        p.add_bool("use_udp_acceleration", true)
            .add_int("udp_acceleration_version", self.version)
            .add_ip("udp_acceleration_server_ip", self.server_ip)
            .add_int("udp_acceleration_server_port", u32::from(self.server_port))
            .add_data("udp_acceleration_server_key", &self.key_v1)
            .add_data("udp_acceleration_server_key_v2", &self.key_v2[..])
            .add_int("udp_acceleration_server_cookie", self.server_cookie)
            .add_int("udp_acceleration_client_cookie", self.client_cookie)
            .add_bool("udp_acceleration_use_encryption", self.use_encryption)
            .add_bool("use_hmac_on_udp_acceleration", self.hmac)
            .add_bool(
                "udp_accel_fast_disconnect_detect",
                self.fast_disconnect_detect,
            );
    }

    /// Reads a welcome's grant as the 5.01 client does (`ClientConnect`):
    /// `None` unless `use_udp_acceleration` is 1, the IP field is present,
    /// the port is 1..=65535 and both cookies are non-zero.
    pub fn from_welcome_pack(p: &Pack) -> Option<ServerOffer> {
        if !p.get_bool("use_udp_acceleration") {
            return None;
        }
        let server_ip = p.get_ip("udp_acceleration_server_ip")?;
        let port = p.get_int("udp_acceleration_server_port")?;
        let server_port = u16::try_from(port).ok().filter(|p| *p != 0)?;
        let server_cookie = p
            .get_int("udp_acceleration_server_cookie")
            .filter(|c| *c != 0)?;
        let client_cookie = p
            .get_int("udp_acceleration_client_cookie")
            .filter(|c| *c != 0)?;
        Some(ServerOffer {
            version: if p.get_int("udp_acceleration_version") == Some(2) {
                2
            } else {
                1
            },
            server_ip,
            server_port,
            key_v1: key(p, "udp_acceleration_server_key"),
            key_v2: Box::new(key(p, "udp_acceleration_server_key_v2")),
            server_cookie,
            client_cookie,
            use_encryption: p.get_bool("udp_acceleration_use_encryption"),
            hmac: p.get_bool("use_hmac_on_udp_acceleration"),
            fast_disconnect_detect: p.get_bool("udp_accel_fast_disconnect_detect"),
        })
    }
}

/// Why a datagram was dropped. None of them changes any state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DropReason {
    /// Shorter than the fixed parts, or longer than [`MAX_DATAGRAM`].
    #[error("datagram too short or too long")]
    Size,
    /// v2 tag did not verify.
    #[error("authentication failed")]
    Auth,
    /// The cookie is not ours (v1/plaintext: also what a wrong key gives).
    #[error("wrong cookie")]
    Cookie,
    /// Payload size beyond the datagram, or over [`MAX_PAYLOAD`].
    #[error("bad payload size")]
    Format,
    /// v1 integrity block not zero.
    #[error("integrity check failed")]
    Integrity,
    /// Tick older than the window.
    #[error("stale tick")]
    Stale,
    /// Compressed payload that does not inflate to 1..=1600 bytes.
    #[error("bad compressed payload")]
    Compression,
}

/// Counters of one [`UdpAccel`], for administration.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct UdpStats {
    /// Datagrams sent (frames and keep-alives).
    pub sent_datagrams: u64,
    /// Bytes of the datagrams sent.
    pub sent_bytes: u64,
    /// Frames sent.
    pub sent_frames: u64,
    /// Datagrams accepted.
    pub recv_datagrams: u64,
    /// Bytes of the datagrams accepted.
    pub recv_bytes: u64,
    /// Frames received.
    pub recv_frames: u64,
    /// Datagrams dropped (any [`DropReason`]).
    pub dropped: u64,
}

enum Crypto {
    Plain,
    V1 {
        my_key: [u8; KEY_V1_LEN],
        your_key: [u8; KEY_V1_LEN],
        next_iv: [u8; IV_V1_LEN],
    },
    V2 {
        // `None` only if the library refused a 32-byte key (not expected):
        // then nothing is sent and nothing authenticates.
        enc: Option<LessSafeKey>,
        dec: Option<LessSafeKey>,
        next_nonce: [u8; NONCE_V2_LEN],
    },
}

/// Everything both ends agree on, from one side's point of view.
#[derive(Clone)]
pub struct Params {
    /// 1 or 2 (anything else is treated as 1, as in SoftEther).
    pub version: u32,
    /// `false`: plaintext mode (`use_encrypt = 0`).
    pub encrypt: bool,
    /// Fast disconnect detection ([`KEEPALIVE_FAST_MS`]).
    pub fast_detect: bool,
    /// Our v1 key.
    pub my_key_v1: [u8; KEY_V1_LEN],
    /// Our v2 key.
    pub my_key_v2: [u8; KEY_V2_LEN],
    /// The peer's v1 key.
    pub your_key_v1: [u8; KEY_V1_LEN],
    /// The peer's v2 key.
    pub your_key_v2: [u8; KEY_V2_LEN],
    /// Cookie the peer puts in its datagrams to us.
    pub my_cookie: u32,
    /// Cookie we put in ours.
    pub your_cookie: u32,
    /// Where to send until a datagram from the peer arrives (the TCP peer's
    /// address with the reported port).
    pub peer: SocketAddr,
    /// The address the peer reported, tried too while the path is down.
    pub reported: SocketAddr,
}

/// A received frame, decrypted in place.
#[derive(Debug, PartialEq, Eq)]
pub enum Received<'a> {
    /// A keep-alive (no payload).
    KeepAlive,
    /// An Ethernet frame.
    Frame(std::borrow::Cow<'a, [u8]>),
}

/// One session's UDP acceleration state (`UDP_ACCEL`).
pub struct UdpAccel {
    crypto: Crypto,
    fast_detect: bool,
    version: u32,
    my_cookie: u32,
    your_cookie: u32,
    peer: SocketAddr,
    reported: SocketAddr,
    last_recv_your_tick: u64,
    last_recv_my_tick: u64,
    last_set_src_tick: u64,
    last_recv_tick: u64,
    first_stable_tick: u64,
    next_keepalive: u64,
    inflater: Option<(Decompress, Box<[u8; MAX_PACKET_SIZE + 1]>)>,
    stats: UdpStats,
}

impl std::fmt::Debug for UdpAccel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("UdpAccel")
            .field("version", &self.version)
            .field("peer", &self.peer)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

/// A random non-zero cookie different from `other`.
fn cookie<R: RngCore>(rng: &mut R, other: u32) -> u32 {
    loop {
        let c = rng.next_u32();
        if c != 0 && c != other {
            return c;
        }
    }
}

fn v1_key(common: &[u8; KEY_V1_LEN], iv: &[u8]) -> [u8; 20] {
    let mut h = Sha1::new();
    h.update(common);
    h.update(iv);
    h.finalize().into()
}

// Version 2 through aws-lc-rs (as the OpenVPN data channel): its
// assembly ChaCha20-Poly1305 is several times faster than RustCrypto's
// portable one, whose AVX2 intrinsics were not inlined in our builds (a
// third of the server's CPU time in the UDP-accelerated T1 profile).
// The cipher calls live in non-generic functions compiled here, where the
// dev profile optimises (Cargo.toml).

fn v2_key(key: &[u8; KEY_V2_LEN]) -> Option<LessSafeKey> {
    UnboundKey::new(&CHACHA20_POLY1305, &key[..CHACHA_KEY_LEN])
        .ok()
        .map(LessSafeKey::new)
}

#[inline(never)]
fn seal_v2(enc: &LessSafeKey, nonce: &[u8], body: &mut [u8]) -> Option<[u8; TAG_V2_LEN]> {
    let n = Nonce::try_assume_unique_for_key(nonce).ok()?;
    let tag = enc.seal_in_place_separate_tag(n, Aad::empty(), body).ok()?;
    tag.as_ref().try_into().ok()
}

/// Decrypts `body_and_tag` (ciphertext ‖ 16-byte tag) in place; `false`
/// when the tag does not verify.
#[inline(never)]
fn open_v2(dec: &LessSafeKey, nonce: &[u8], body_and_tag: &mut [u8]) -> bool {
    let Ok(n) = Nonce::try_assume_unique_for_key(nonce) else {
        return false;
    };
    dec.open_in_place(n, Aad::empty(), body_and_tag).is_ok()
}

#[inline(never)]
fn rc4_apply(key: &[u8; 20], data: &mut [u8]) {
    let mut c = <Rc4<rc4::consts::U20> as rc4::KeyInit>::new(key.into());
    c.apply_keystream(data);
}

impl UdpAccel {
    /// The state for `p` with a random first IV.
    pub fn new<R: RngCore>(p: &Params, rng: &mut R) -> UdpAccel {
        let version = if p.version == 2 { 2 } else { 1 };
        let crypto = if !p.encrypt {
            Crypto::Plain
        } else if version == 2 {
            let mut next_nonce = [0u8; NONCE_V2_LEN];
            rng.fill_bytes(&mut next_nonce);
            Crypto::V2 {
                enc: v2_key(&p.my_key_v2),
                dec: v2_key(&p.your_key_v2),
                next_nonce,
            }
        } else {
            let mut next_iv = [0u8; IV_V1_LEN];
            rng.fill_bytes(&mut next_iv);
            Crypto::V1 {
                my_key: p.my_key_v1,
                your_key: p.your_key_v1,
                next_iv,
            }
        };
        UdpAccel {
            crypto,
            fast_detect: p.fast_detect,
            version,
            my_cookie: p.my_cookie,
            your_cookie: p.your_cookie,
            peer: p.peer,
            reported: p.reported,
            last_recv_your_tick: 0,
            last_recv_my_tick: 0,
            last_set_src_tick: 0,
            last_recv_tick: 0,
            first_stable_tick: 0,
            next_keepalive: 0,
            inflater: None,
            stats: UdpStats::default(),
        }
    }

    /// Server side (`ServerAccept` + `NewUdpAccel` + `UdpAccelInitServer`):
    /// grants `offer` from a client whose TCP connection comes from
    /// `tcp_peer`, for a UDP socket bound at `local`. Version 2 when the
    /// client supports it; fast detection as the client asks; plaintext
    /// when the session is (`encrypt` = `use_encrypt`).
    pub fn server<R: RngCore>(
        offer: &ClientOffer,
        tcp_peer: IpAddr,
        local: SocketAddr,
        encrypt: bool,
        rng: &mut R,
    ) -> (UdpAccel, ServerOffer) {
        let mut my_key_v1 = [0u8; KEY_V1_LEN];
        let mut my_key_v2 = [0u8; KEY_V2_LEN];
        rng.fill_bytes(&mut my_key_v1);
        rng.fill_bytes(&mut my_key_v2);
        let my_cookie = cookie(rng, 0);
        let your_cookie = cookie(rng, my_cookie);
        let version = if offer.max_version >= 2 { 2 } else { 1 };
        let reported_ip = if offer.client_ip.is_unspecified() {
            tcp_peer
        } else {
            offer.client_ip
        };
        let params = Params {
            version,
            encrypt,
            fast_detect: offer.fast_disconnect_detect,
            my_key_v1,
            my_key_v2,
            your_key_v1: offer.key_v1,
            your_key_v2: *offer.key_v2,
            my_cookie,
            your_cookie,
            peer: SocketAddr::new(tcp_peer, offer.client_port),
            reported: SocketAddr::new(reported_ip, offer.client_port),
        };
        let accel = UdpAccel::new(&params, rng);
        let grant = ServerOffer {
            version,
            server_ip: local.ip(),
            server_port: local.port(),
            key_v1: my_key_v1,
            key_v2: Box::new(my_key_v2),
            server_cookie: my_cookie,
            client_cookie: your_cookie,
            use_encryption: encrypt,
            hmac: offer.hmac,
            fast_disconnect_detect: offer.fast_disconnect_detect,
        };
        (accel, grant)
    }

    /// Client side (`UdpAccelInitClient`): `mine` is what we sent in the
    /// login, `grant` the server's welcome, `tcp_server` the address of the
    /// TCP connection (used when the grant's address is unspecified).
    pub fn client<R: RngCore>(
        mine: &ClientOffer,
        grant: &ServerOffer,
        tcp_server: IpAddr,
        rng: &mut R,
    ) -> UdpAccel {
        let ip = if grant.server_ip.is_unspecified() {
            tcp_server
        } else {
            grant.server_ip
        };
        let params = Params {
            version: grant.version,
            encrypt: grant.use_encryption,
            fast_detect: grant.fast_disconnect_detect,
            my_key_v1: mine.key_v1,
            my_key_v2: *mine.key_v2,
            your_key_v1: grant.key_v1,
            your_key_v2: *grant.key_v2,
            my_cookie: grant.client_cookie,
            your_cookie: grant.server_cookie,
            peer: SocketAddr::new(ip, grant.server_port),
            reported: SocketAddr::new(tcp_server, grant.server_port),
        };
        UdpAccel::new(&params, rng)
    }

    /// 1 or 2.
    pub fn version(&self) -> u32 {
        self.version
    }

    /// Where datagrams go now: the TCP peer's address at first, then the
    /// source of the newest authenticated datagram.
    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    /// Counters.
    pub fn stats(&self) -> &UdpStats {
        &self.stats
    }

    /// The TCP MSS that keeps a full segment in one unfragmented datagram
    /// (`UdpAccelCalcMss`): 1454 (`MTU_FOR_PPPOE`) minus IP (20, IPv6 40) and
    /// UDP (8) headers, the 20-byte IV and zero block unless plaintext
    /// (SoftEther counts the v1 sizes for v2 too), our header (23), and
    /// Ethernet, IPv4 and TCP headers of the inner frame (54): 1309 for
    /// encrypted IPv4.
    pub fn mss(&self) -> u16 {
        let ip = if self.peer.is_ipv6() { 40 } else { 20 };
        let crypto = if matches!(self.crypto, Crypto::Plain) {
            0
        } else {
            2 * IV_V1_LEN
        };
        (1454 - ip - 8 - crypto - HEADER_LEN - 54) as u16
    }

    /// The cipher as SoftEther names it in `ProtocolDetails`.
    pub fn cipher_name(&self) -> &'static str {
        match self.crypto {
            Crypto::Plain => "None",
            Crypto::V1 { .. } => "RC4",
            Crypto::V2 { .. } => "ChaCha20-Poly1305",
        }
    }

    fn timeouts(&self) -> (u64, u64, u64) {
        if self.fast_detect {
            KEEPALIVE_FAST_MS
        } else {
            KEEPALIVE_MS
        }
    }

    /// Whether frames go over UDP now (`UdpAccelIsSendReady(a, true)`):
    /// something authenticated arrived within the timeout and has kept
    /// arriving for [`REQUIRE_CONTINUOUS_MS`]. Resets the stable period
    /// when the path has gone quiet.
    pub fn is_send_ready(&mut self, now: u64) -> bool {
        let timeout = self.timeouts().2;
        if self.last_recv_tick == 0 || self.last_recv_tick.saturating_add(timeout) < now {
            self.first_stable_tick = 0;
            return false;
        }
        self.first_stable_tick.saturating_add(REQUIRE_CONTINUOUS_MS) <= now
    }

    /// The earliest time at which [`UdpAccel::poll_keepalive`] or
    /// [`UdpAccel::is_send_ready`] may give a different answer.
    pub fn next_wakeup(&self) -> u64 {
        let timeout = self.timeouts().2;
        let mut t = self.next_keepalive;
        if self.last_recv_tick != 0 {
            t = t.min(self.last_recv_tick.saturating_add(timeout + 1));
            if self.first_stable_tick != 0 {
                t = t.min(self.first_stable_tick.saturating_add(REQUIRE_CONTINUOUS_MS));
            }
        }
        t
    }

    /// A keep-alive when one is due (`UdpAccelPoll`): written to `out`,
    /// to be sent to every address returned (the current peer, plus the
    /// reported address while the path is not up).
    pub fn poll_keepalive<R: Rng>(
        &mut self,
        now: u64,
        rng: &mut R,
        out: &mut Vec<u8>,
    ) -> Option<(SocketAddr, Option<SocketAddr>)> {
        if self.next_keepalive != 0 && self.next_keepalive > now {
            return None;
        }
        let (min, max, _) = self.timeouts();
        self.next_keepalive = now + rng.gen_range(min..max);
        self.encode(&[], false, now, rng, out);
        let also =
            (!self.is_send_ready(now) && self.reported != self.peer).then_some(self.reported);
        Some((self.peer, also))
    }

    /// Encodes one datagram carrying `payload` (empty = keep-alive; at most
    /// [`MAX_PAYLOAD`] bytes, longer is cut off by the caller's check
    /// [`UdpAccel::fits`]) into `out` (cleared first) and returns where to
    /// send it (`UdpAccelSend`).
    pub fn encode<R: Rng>(
        &mut self,
        payload: &[u8],
        compressed: bool,
        now: u64,
        rng: &mut R,
        out: &mut Vec<u8>,
    ) -> SocketAddr {
        out.clear();
        self.encode_append(payload, compressed, now, rng, out, None)
    }

    /// [`UdpAccel::encode`] without clearing `out`: the datagram is
    /// appended at `out[out.len()..]` (how [`DatagramBatch`] packs a batch
    /// back to back). With `size`, the datagram is padded to exactly that
    /// many bytes when the padding rule allows that length (fewer than
    /// [`MAX_PADDING`] bytes of padding, below [`PAD_LIMIT`]), so that
    /// datagrams of one size can leave in one segmented send (UDP GSO);
    /// otherwise, or with `None`, the padding is random as SoftEther's.
    pub fn encode_append<R: Rng>(
        &mut self,
        payload: &[u8],
        compressed: bool,
        now: u64,
        rng: &mut R,
        out: &mut Vec<u8>,
        size: Option<usize>,
    ) -> SocketAddr {
        let payload = &payload[..payload.len().min(MAX_PAYLOAD)];
        let base = out.len();
        let (prefix, suffix) = match &self.crypto {
            Crypto::Plain => (0, 0),
            Crypto::V1 { next_iv, .. } => {
                out.extend_from_slice(next_iv);
                (IV_V1_LEN, IV_V1_LEN)
            }
            Crypto::V2 { next_nonce, .. } => {
                out.extend_from_slice(next_nonce);
                (NONCE_V2_LEN, TAG_V2_LEN)
            }
        };
        out.extend_from_slice(&self.your_cookie.to_be_bytes());
        out.extend_from_slice(&now.max(1).to_be_bytes());
        out.extend_from_slice(&self.last_recv_your_tick.to_be_bytes());
        out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
        out.push(u8::from(compressed));
        out.extend_from_slice(payload);
        if !matches!(self.crypto, Crypto::Plain) {
            let total = out.len() - base + suffix;
            if total < PAD_LIMIT {
                let bound = (PAD_LIMIT - total).min(MAX_PADDING);
                let pad = match size.and_then(|s| s.checked_sub(total)) {
                    Some(p) if p < bound => p,
                    _ => rng.gen_range(0..bound),
                };
                out.resize(out.len() + pad, 0);
            }
        }
        match &mut self.crypto {
            Crypto::Plain => {}
            Crypto::V1 {
                my_key, next_iv, ..
            } => {
                out.resize(out.len() + IV_V1_LEN, 0);
                let k = v1_key(my_key, &out[base..base + prefix]);
                rc4_apply(&k, &mut out[base + prefix..]);
                next_iv.copy_from_slice(&out[out.len() - IV_V1_LEN..]);
            }
            Crypto::V2 {
                enc, next_nonce, ..
            } => {
                let (n, body) = out[base..].split_at_mut(prefix);
                match enc.as_ref().and_then(|k| seal_v2(k, n, body)) {
                    Some(tag) => {
                        // The next nonce is the first 12 ciphertext bytes
                        // (the body is at least HEADER_LEN long).
                        next_nonce.copy_from_slice(&body[..NONCE_V2_LEN]);
                        out.extend_from_slice(&tag);
                    }
                    None => {
                        // Only for bodies beyond 256 GiB; not reachable.
                        out.truncate(base);
                    }
                }
            }
        }
        self.stats.sent_datagrams += 1;
        self.stats.sent_bytes += (out.len() - base) as u64;
        if !payload.is_empty() {
            self.stats.sent_frames += 1;
        }
        self.peer
    }

    /// Whether a frame of `len` bytes may go over UDP.
    pub fn fits(len: usize) -> bool {
        (1..=MAX_PAYLOAD).contains(&len)
    }

    /// Processes one datagram from `src` received at `now`
    /// (`UdpAccelProcessRecvPacket`): decrypts `buf` in place, checks it and
    /// updates the liveness state. A compressed payload is inflated (at
    /// most [`MAX_PAYLOAD`] bytes). Errors leave the state untouched.
    pub fn receive<'a>(
        &mut self,
        buf: &'a mut [u8],
        src: SocketAddr,
        now: u64,
    ) -> Result<Received<'a>, DropReason> {
        let n = buf.len() as u64;
        let r = self.receive_inner(buf, src, now);
        match &r {
            Ok(got) => {
                self.stats.recv_datagrams += 1;
                self.stats.recv_bytes += n;
                if matches!(got, Received::Frame(_)) {
                    self.stats.recv_frames += 1;
                }
            }
            Err(_) => self.stats.dropped += 1,
        }
        r
    }

    fn receive_inner<'a>(
        &mut self,
        buf: &'a mut [u8],
        src: SocketAddr,
        now: u64,
    ) -> Result<Received<'a>, DropReason> {
        if buf.len() > MAX_DATAGRAM {
            return Err(DropReason::Size);
        }
        // `inner` = cookie .. end of padding (v1: plus the zero block).
        let inner: &'a mut [u8] = match &self.crypto {
            Crypto::Plain => buf,
            Crypto::V1 { your_key, .. } => {
                if buf.len() < IV_V1_LEN + HEADER_LEN + IV_V1_LEN {
                    return Err(DropReason::Size);
                }
                let (iv, body) = buf.split_at_mut(IV_V1_LEN);
                let k = v1_key(your_key, iv);
                rc4_apply(&k, body);
                body
            }
            Crypto::V2 { dec, .. } => {
                if buf.len() < NONCE_V2_LEN + HEADER_LEN + TAG_V2_LEN {
                    return Err(DropReason::Size);
                }
                let (n, rest) = buf.split_at_mut(NONCE_V2_LEN);
                let body_len = rest.len() - TAG_V2_LEN;
                if !dec.as_ref().is_some_and(|k| open_v2(k, n, rest)) {
                    return Err(DropReason::Auth);
                }
                &mut rest[..body_len]
            }
        };
        if inner.len() < HEADER_LEN {
            return Err(DropReason::Size);
        }
        let be32 = |b: &[u8]| u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
        let be64 = |b: &[u8]| {
            let mut a = [0u8; 8];
            a.copy_from_slice(&b[..8]);
            u64::from_be_bytes(a)
        };
        if be32(&inner[0..4]) != self.my_cookie {
            return Err(DropReason::Cookie);
        }
        let my_tick = be64(&inner[4..12]);
        let your_tick = be64(&inner[12..20]);
        let size = usize::from(u16::from_be_bytes([inner[20], inner[21]]));
        let compressed = inner[22] != 0;
        let rest = inner.len() - HEADER_LEN;
        if size > rest || size > MAX_PAYLOAD {
            return Err(DropReason::Format);
        }
        if let Crypto::V1 { .. } = self.crypto {
            // The last 20 bytes (after any padding) must be zero.
            if rest - size < IV_V1_LEN {
                return Err(DropReason::Integrity);
            }
            if inner[inner.len() - IV_V1_LEN..].iter().any(|b| *b != 0) {
                return Err(DropReason::Integrity);
            }
        }
        if my_tick < self.last_recv_your_tick && self.last_recv_your_tick - my_tick >= WINDOW_MS {
            return Err(DropReason::Stale);
        }
        let payload: &'a [u8] = &inner[HEADER_LEN..HEADER_LEN + size];
        // Inflate before touching state: a bad payload changes nothing.
        let got = if size == 0 {
            Received::KeepAlive
        } else if compressed {
            let (z, scratch) = self.inflater.get_or_insert_with(|| {
                (Decompress::new(true), Box::new([0u8; MAX_PACKET_SIZE + 1]))
            });
            let mut st = BlockStats::default();
            match inflate(z, scratch, payload, &mut st) {
                Some(b) => Received::Frame(std::borrow::Cow::Owned(b.to_vec())),
                None => return Err(DropReason::Compression),
            }
        } else {
            Received::Frame(std::borrow::Cow::Borrowed(payload))
        };
        self.last_recv_my_tick = self.last_recv_my_tick.max(your_tick);
        self.last_recv_your_tick = self.last_recv_your_tick.max(my_tick);
        if self.last_set_src_tick < self.last_recv_your_tick {
            self.last_set_src_tick = self.last_recv_your_tick;
            self.peer = src;
        }
        if self.last_recv_my_tick != 0 && self.last_recv_my_tick.saturating_add(WINDOW_MS) >= now {
            self.last_recv_tick = now;
            if self.first_stable_tick == 0 {
                self.first_stable_tick = now;
            }
        }
        Ok(got)
    }
}

/// Most datagrams one [`DatagramBatch`] holds (one `sendmmsg`).
pub const MAX_BATCH_DATAGRAMS: usize = 64;

/// Datagrams encoded back to back for one batched send (`sendmmsg`): the
/// caller encodes every frame ready for the peer, then hands the whole
/// batch to the socket in one system call instead of one per datagram.
///
/// Bounded: at most `max` datagrams (1..=[`MAX_BATCH_DATAGRAMS`]) of at
/// most [`MAX_DATAGRAM`] bytes each, so the buffer never grows beyond
/// `max * MAX_DATAGRAM` bytes; [`DatagramBatch::clear`] keeps the memory
/// for the next batch.
#[derive(Debug)]
pub struct DatagramBatch {
    buf: Vec<u8>,
    /// End offset in `buf` and destination of each datagram.
    items: Vec<(usize, SocketAddr)>,
    max: usize,
}

impl DatagramBatch {
    /// An empty batch of at most `max` datagrams (clamped to
    /// 1..=[`MAX_BATCH_DATAGRAMS`]).
    pub fn new(max: usize) -> DatagramBatch {
        DatagramBatch {
            buf: Vec::new(),
            items: Vec::new(),
            max: max.clamp(1, MAX_BATCH_DATAGRAMS),
        }
    }

    /// Datagrams held.
    pub fn len(&self) -> usize {
        self.items.len()
    }

    /// No datagram held.
    pub fn is_empty(&self) -> bool {
        self.items.is_empty()
    }

    /// No room for another datagram: send, then [`DatagramBatch::clear`].
    pub fn is_full(&self) -> bool {
        self.items.len() >= self.max
    }

    /// Forgets the datagrams, keeping the memory.
    pub fn clear(&mut self) {
        self.buf.clear();
        self.items.clear();
    }

    /// Bytes of memory held (for releasing it when idle).
    pub fn capacity(&self) -> usize {
        self.buf.capacity()
    }

    /// Encodes a frame of `payload` with `accel` as the next datagram
    /// ([`UdpAccel::encode_append`]). `false`, and nothing changes, when
    /// the batch is full or the payload does not [`UdpAccel::fits`].
    pub fn push_frame<R: Rng>(
        &mut self,
        accel: &mut UdpAccel,
        payload: &[u8],
        now: u64,
        rng: &mut R,
    ) -> bool {
        if self.is_full() || !UdpAccel::fits(payload.len()) {
            return false;
        }
        let start = self.buf.len();
        // The previous datagram's size, so that a run of full-size frames
        // to one peer makes datagrams of one size (see `gso_run`).
        let prev = self.items.len().checked_sub(1).and_then(|i| self.get(i));
        let want = prev
            .filter(|(_, to)| *to == accel.peer())
            .map(|(d, _)| d.len());
        let to = accel.encode_append(payload, false, now, rng, &mut self.buf, want);
        let len = self.buf.len() - start;
        if len == 0 || len > MAX_DATAGRAM {
            // Not reachable for payloads that fit; never send a cut datagram.
            self.buf.truncate(start);
            return false;
        }
        self.items.push((self.buf.len(), to));
        true
    }

    /// The `i`th datagram and its destination.
    pub fn get(&self, i: usize) -> Option<(&[u8], SocketAddr)> {
        let (end, to) = *self.items.get(i)?;
        let start = match i {
            0 => 0,
            _ => self.items[i - 1].0,
        };
        Some((&self.buf[start..end], to))
    }

    /// The datagrams in order, with their destinations.
    pub fn iter(&self) -> impl Iterator<Item = (&[u8], SocketAddr)> + '_ {
        (0..self.items.len()).filter_map(|i| self.get(i))
    }

    /// The longest run of datagrams from the `first`th that one segmented
    /// send (Linux UDP GSO, `UDP_SEGMENT`) can carry: same destination,
    /// every datagram `segment` bytes long except the last, which may be
    /// shorter; at most `max_segments` datagrams and `max_bytes` bytes
    /// (at least one datagram). `None` past the end.
    pub fn gso_run(
        &self,
        first: usize,
        max_segments: usize,
        max_bytes: usize,
    ) -> Option<GsoRun<'_>> {
        let (d0, to) = self.get(first)?;
        let segment = d0.len();
        let start = first.checked_sub(1).map_or(0, |i| self.items[i].0);
        let mut count = 1;
        let mut end = self.items[first].0;
        while count < max_segments.max(1) {
            let Some((d, t)) = self.get(first + count) else {
                break;
            };
            if t != to || d.len() > segment || end - start + d.len() > max_bytes {
                break;
            }
            count += 1;
            end += d.len();
            if d.len() < segment {
                break;
            }
        }
        Some(GsoRun {
            bytes: &self.buf[start..end],
            segment,
            count,
            to,
        })
    }
}

/// Datagrams of a [`DatagramBatch`] that leave in one segmented send
/// ([`DatagramBatch::gso_run`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GsoRun<'a> {
    /// The datagrams back to back.
    pub bytes: &'a [u8],
    /// Size of each datagram but the last (≤ `segment`), bytes.
    pub segment: usize,
    /// Datagrams in the run (≥ 1).
    pub count: usize,
    /// Their destination.
    pub to: SocketAddr,
}

#[cfg(test)]
mod tests;
