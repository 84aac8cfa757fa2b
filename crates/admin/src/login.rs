//! Administrator login (docs/admin-rpc.md §3.4–§3.6): the authentication PACK
//! with `method`=`admin`, its verification against the server or hub
//! administrator password, the result PACK, and administrator rights.
//!
//! Differences from SoftEther, all deliberate (issue 5, item 4):
//!
//! * A wrong password is answered with `ERR_AUTH_FAILED` (9), not
//!   `ERR_ACCESS_DENIED` (12): on 12 the real vpncmd 5.01 falls into an
//!   interactive password prompt and, run from a script with stdin closed,
//!   hangs there until killed (observed, crates/admin/NOTES.md); on 9 it
//!   prints "Error occurred. (Error code: 9) User authentication failed."
//!   and exits with status 9 (observed).
//! * With no server administrator password set, server-admin logins are
//!   accepted only from the server's own addresses
//!   ([`is_local_source`]); from elsewhere they fail with
//!   `ERR_NULL_PASSWORD_LOCAL_ONLY` (51), the code SoftEther uses for an
//!   empty hub-admin password from a remote host (vpncmd prints "The user's
//!   password used to connect was blank so the connection from remote is
//!   prohibited…", observed).
//! * A hub whose stored administrator hash is all zero has hub-admin login
//!   disabled.
//! * Failed logins are rate-limited per (source, account) and per source
//!   ([`crate::throttle`]).

use std::net::IpAddr;

use rustether_proto::password::{constant_time_eq, hash_admin_password, verify_secure_password};
use rustether_proto::sha0::SHA0_LEN;
use rustether_proto::{ErrorCode, Pack};

/// The error a wrong administrator password gets (see the module docs).
pub const WRONG_PASSWORD: ErrorCode = ErrorCode::AUTH_FAILED;

/// `client_str` of vpncmd (`CEDAR_CUI_STR`; docs/admin-rpc.md §3.4).
pub use rustether_proto::softether::admin_login::VPNCMD_CLIENT_STR;

/// What an administrator session may do (docs/admin-rpc.md §3.6).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AdminRights {
    /// Server administrator: everything.
    Server,
    /// Virtual Hub administrator of the named hub (name as stored on the
    /// server): only that hub, no server settings.
    Hub(String),
}

impl AdminRights {
    /// True for the server administrator.
    pub fn is_server_admin(&self) -> bool {
        matches!(self, AdminRights::Server)
    }

    /// The administered hub of a hub administrator.
    pub fn hub(&self) -> Option<&str> {
        match self {
            AdminRights::Server => None,
            AdminRights::Hub(h) => Some(h),
        }
    }

    /// SoftEther's `SERVER_ADMIN_ONLY`: `ERR_NOT_ENOUGH_RIGHT` (52) for a hub
    /// administrator.
    pub fn require_server_admin(&self) -> Result<(), ErrorCode> {
        if self.is_server_admin() {
            Ok(())
        } else {
            Err(ErrorCode::NOT_ENOUGH_RIGHT)
        }
    }

    /// SoftEther's `CHECK_RIGHT` for an RPC on hub `hub_name`: a hub
    /// administrator of another hub gets 52 (checked first), an empty name
    /// gets `ERR_INVALID_PARAMETER` (38). Names compare case-insensitively
    /// (`StrCmpi`).
    pub fn check_hub(&self, hub_name: &str) -> Result<(), ErrorCode> {
        if let AdminRights::Hub(own) = self {
            if !own.eq_ignore_ascii_case(hub_name) {
                return Err(ErrorCode::NOT_ENOUGH_RIGHT);
            }
        }
        if hub_name.is_empty() {
            return Err(ErrorCode::INVALID_PARAMETER);
        }
        Ok(())
    }
}

pub use rustether_proto::softether::admin_login::{AdminLoginRequest, WinVer};

/// True if `peer` is one of the server's own addresses: loopback
/// (127.0.0.0/8, ::1) or an address in `local_addrs` (the addresses of the
/// server's interfaces, supplied by the caller). IPv4-mapped IPv6 addresses
/// are compared as IPv4. This is the "vpncmd runs beside the server" test of
/// issue 5 item 4.
pub fn is_local_source(peer: IpAddr, local_addrs: &[IpAddr]) -> bool {
    let norm = |ip: IpAddr| match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    };
    let peer = norm(peer);
    if peer.is_loopback() {
        return true;
    }
    !peer.is_unspecified() && local_addrs.iter().any(|a| norm(*a) == peer)
}

/// True if `hash` is SHA-0 of the empty password (`SiIsEmptyPassword`):
/// "no password set".
pub fn is_empty_password_hash(hash: &[u8; SHA0_LEN]) -> bool {
    constant_time_eq(hash, &hash_admin_password(""))
}

/// What a successful admin login grants.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminLoginOk {
    /// The session's rights.
    pub rights: AdminRights,
    /// The checked password is empty and the client accepts that
    /// (`empty_password` in the result PACK).
    pub empty_password: bool,
}

impl AdminLoginOk {
    /// The result PACK (docs/admin-rpc.md §3.5): empty, plus `empty_password`=1
    /// when the checked password is empty and the client sent
    /// `accept_empty_password`. The HTTP layer adds `pencore`.
    pub fn to_pack(&self) -> Pack {
        let mut p = Pack::new();
        if self.empty_password {
            p.add_bool("empty_password", true);
        }
        p
    }
}

/// The result PACK of a failed login: `error`=code (docs/admin-rpc.md §3.5).
pub fn login_error_pack(code: ErrorCode) -> Pack {
    let mut p = Pack::new();
    p.add_int("error", code.0);
    p
}

/// Client side: interprets the login result PACK (`AdminConnectMain`):
/// `Err(code)` for a non-zero `error`, else `Ok(empty_password)`.
pub fn parse_login_result(p: &Pack) -> Result<bool, ErrorCode> {
    match p.get_int("error").unwrap_or(0) {
        0 => Ok(p.get_bool("empty_password")),
        e => Err(ErrorCode(e)),
    }
}

/// Where the login comes from (for the local-only rules).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LoginSource<'a> {
    /// The peer's address.
    pub peer: IpAddr,
    /// The server's own addresses (see [`is_local_source`]).
    pub local_addrs: &'a [IpAddr],
    /// Whether a local source counts as local at all
    /// (`AllowLocalEmptyPasswordAdmin`, docs/config-format.md §7.6): false
    /// behind a same-host TCP proxy, where every client arrives from a
    /// local address.
    pub trust_local: bool,
}

impl LoginSource<'_> {
    /// True if the login counts as coming from the server itself: trusted
    /// ([`LoginSource::trust_local`]) and [`is_local_source`].
    pub fn is_local(&self) -> bool {
        self.trust_local && is_local_source(self.peer, self.local_addrs)
    }
}

/// A hub as far as the admin login needs it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HubAdminEntry {
    /// The hub's name as stored (rights use this spelling).
    pub name: String,
    /// The hub's `HashedPassword` = SHA-0(administrator password).
    pub hashed_password: [u8; SHA0_LEN],
}

/// Verifies an admin login (server side of `AdminAccept` and
/// `AdminCheckPassword`, with this project's stricter rules, see the module
/// docs).
///
/// * `random`: the 20-byte Hello random sent on this connection.
/// * `server_hash`: the server administrator hash SHA-0(password).
/// * `lookup_hub`: finds a hub by name (case-insensitive, as the server's
///   hub list).
///
/// Order of checks: server mode — no password set and not local → 51;
/// mismatch → 9. Hub mode — unknown hub → `ERR_HUB_NOT_FOUND` (8, as
/// SoftEther, verified); zero hash or mismatch → 9; empty hub password from
/// a remote peer → 51 (as SoftEther). The caller handles throttling and
/// `adminip`-style lists before calling this.
pub fn verify_admin_login(
    req: &AdminLoginRequest,
    random: &[u8; SHA0_LEN],
    server_hash: &[u8; SHA0_LEN],
    lookup_hub: impl FnOnce(&str) -> Option<HubAdminEntry>,
    source: LoginSource<'_>,
) -> Result<AdminLoginOk, ErrorCode> {
    match &req.hub_name {
        None => {
            let empty = is_empty_password_hash(server_hash);
            if empty && !source.is_local() {
                return Err(ErrorCode::NULL_PASSWORD_LOCAL_ONLY);
            }
            if !verify_secure_password(server_hash, random, &req.secure_password) {
                return Err(WRONG_PASSWORD);
            }
            Ok(AdminLoginOk {
                rights: AdminRights::Server,
                empty_password: empty && req.accept_empty_password,
            })
        }
        Some(hub) => {
            let entry = lookup_hub(hub).ok_or(ErrorCode::HUB_NOT_FOUND)?;
            if entry.hashed_password == [0; SHA0_LEN]
                || !verify_secure_password(&entry.hashed_password, random, &req.secure_password)
            {
                return Err(WRONG_PASSWORD);
            }
            let empty = is_empty_password_hash(&entry.hashed_password);
            if empty && !source.is_local() {
                return Err(ErrorCode::NULL_PASSWORD_LOCAL_ONLY);
            }
            Ok(AdminLoginOk {
                rights: AdminRights::Hub(entry.name),
                empty_password: empty && req.accept_empty_password,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    const RANDOM: [u8; 20] = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19,
    ];
    const LOCAL: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
    const REMOTE: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 9));
    const OWN: IpAddr = IpAddr::V4(Ipv4Addr::new(10, 0, 0, 1));

    fn src(peer: IpAddr) -> LoginSource<'static> {
        LoginSource {
            peer,
            local_addrs: &[OWN],
            trust_local: true,
        }
    }

    fn no_hub(_: &str) -> Option<HubAdminEntry> {
        None
    }

    fn hub(pw: &str) -> impl FnOnce(&str) -> Option<HubAdminEntry> {
        let h = hash_admin_password(pw);
        move |name: &str| {
            name.eq_ignore_ascii_case("TEST").then(|| HubAdminEntry {
                name: "TEST".into(),
                hashed_password: h,
            })
        }
    }

    fn login(pw: &str, hub: Option<&str>) -> AdminLoginRequest {
        let p = AdminLoginRequest::for_password(pw, &RANDOM, hub).to_pack();
        let wire = Pack::decode(&p.encode()).unwrap();
        AdminLoginRequest::from_pack(&wire).unwrap()
    }

    #[test]
    fn client_pack_has_vpncmd_elements() {
        let p = AdminLoginRequest::for_password("x", &RANDOM, Some("TEST")).to_pack();
        assert_eq!(p.get_str("method"), Some("admin"));
        assert!(p.get_bool("accept_empty_password"));
        assert_eq!(p.get_data("secure_password").map(<[u8]>::len), Some(20));
        assert_eq!(p.get_str("hubname"), Some("TEST"));
        assert_eq!(p.get_str("client_str"), Some(VPNCMD_CLIENT_STR));
        let p = AdminLoginRequest::for_password("x", &RANDOM, None).to_pack();
        assert!(p.element("hubname").is_none());
    }

    #[test]
    fn bad_secure_password_size_is_protocol_error() {
        let mut p = AdminLoginRequest::for_password("x", &RANDOM, None).to_pack();
        p.add_data("secure_password", &[0; 19]);
        assert_eq!(
            AdminLoginRequest::from_pack(&p),
            Err(ErrorCode::PROTOCOL_ERROR)
        );
        p.remove("secure_password");
        assert_eq!(
            AdminLoginRequest::from_pack(&p),
            Err(ErrorCode::PROTOCOL_ERROR)
        );
    }

    #[test]
    fn empty_hubname_means_server_mode() {
        let mut p = AdminLoginRequest::for_password("x", &RANDOM, None).to_pack();
        p.add_str("hubname", "  ");
        assert_eq!(AdminLoginRequest::from_pack(&p).unwrap().hub_name, None);
    }

    #[test]
    fn server_admin_password_checks() {
        let hash = hash_admin_password("adminpw");
        let ok = verify_admin_login(&login("adminpw", None), &RANDOM, &hash, no_hub, src(REMOTE))
            .unwrap();
        assert_eq!(ok.rights, AdminRights::Server);
        assert!(!ok.empty_password);
        assert!(ok.to_pack().is_empty());
        assert_eq!(
            verify_admin_login(&login("wrong", None), &RANDOM, &hash, no_hub, src(LOCAL)),
            Err(ErrorCode(9))
        );
        // the proof is bound to the random of this connection
        let other_random = [7u8; 20];
        assert_eq!(
            verify_admin_login(
                &login("adminpw", None),
                &other_random,
                &hash,
                no_hub,
                src(LOCAL)
            ),
            Err(WRONG_PASSWORD)
        );
    }

    #[test]
    fn untrusted_local_source_is_remote() {
        let s = LoginSource {
            trust_local: false,
            ..src(LOCAL)
        };
        assert!(!s.is_local(), "AllowLocalEmptyPasswordAdmin false");
        assert!(src(LOCAL).is_local());
    }

    #[test]
    fn no_server_password_only_from_own_addresses() {
        let empty = hash_admin_password("");
        for peer in [LOCAL, OWN, IpAddr::V6(Ipv6Addr::LOCALHOST)] {
            let ok =
                verify_admin_login(&login("", None), &RANDOM, &empty, no_hub, src(peer)).unwrap();
            assert!(ok.empty_password);
            assert_eq!(ok.to_pack().get_int("empty_password"), Some(1));
        }
        assert_eq!(
            verify_admin_login(&login("", None), &RANDOM, &empty, no_hub, src(REMOTE)),
            Err(ErrorCode::NULL_PASSWORD_LOCAL_ONLY)
        );
        // even a (necessarily wrong) non-empty guess from remote gets 51
        assert_eq!(
            verify_admin_login(&login("guess", None), &RANDOM, &empty, no_hub, src(REMOTE)),
            Err(ErrorCode(51))
        );
    }

    #[test]
    fn hub_admin_login() {
        let server = hash_admin_password("adminpw");
        let ok = verify_admin_login(
            &login("hubpw", Some("test")),
            &RANDOM,
            &server,
            hub("hubpw"),
            src(REMOTE),
        )
        .unwrap();
        assert_eq!(ok.rights, AdminRights::Hub("TEST".into()));
        assert_eq!(
            verify_admin_login(
                &login("hubpw", Some("NOPE")),
                &RANDOM,
                &server,
                hub("hubpw"),
                src(LOCAL)
            ),
            Err(ErrorCode::HUB_NOT_FOUND)
        );
        assert_eq!(
            verify_admin_login(
                &login("adminpw", Some("TEST")),
                &RANDOM,
                &server,
                hub("hubpw"),
                src(LOCAL)
            ),
            Err(WRONG_PASSWORD)
        );
        // empty hub password: local yes, remote 51
        assert!(verify_admin_login(
            &login("", Some("TEST")),
            &RANDOM,
            &server,
            hub(""),
            src(LOCAL)
        )
        .is_ok());
        assert_eq!(
            verify_admin_login(
                &login("", Some("TEST")),
                &RANDOM,
                &server,
                hub(""),
                src(REMOTE)
            ),
            Err(ErrorCode::NULL_PASSWORD_LOCAL_ONLY)
        );
        // zero hash: hub admin disabled
        let zero = |_: &str| {
            Some(HubAdminEntry {
                name: "TEST".into(),
                hashed_password: [0; 20],
            })
        };
        let mut forged = login("", Some("TEST"));
        forged.secure_password = rustether_proto::password::secure_password(&[0; 20], &RANDOM);
        assert_eq!(
            verify_admin_login(&forged, &RANDOM, &server, zero, src(LOCAL)),
            Err(WRONG_PASSWORD)
        );
    }

    #[test]
    fn local_source_rules() {
        let own = [OWN, "fd00::1".parse().unwrap()];
        assert!(is_local_source("127.3.4.5".parse().unwrap(), &own));
        assert!(is_local_source("::1".parse().unwrap(), &own));
        assert!(is_local_source("::ffff:127.0.0.1".parse().unwrap(), &own));
        assert!(is_local_source("::ffff:10.0.0.1".parse().unwrap(), &own));
        assert!(is_local_source("fd00::1".parse().unwrap(), &own));
        assert!(!is_local_source(REMOTE, &own));
        assert!(!is_local_source(
            "0.0.0.0".parse().unwrap(),
            &[IpAddr::V4(Ipv4Addr::UNSPECIFIED)]
        ));
        assert!(!is_local_source("fd00::2".parse().unwrap(), &own));
    }

    #[test]
    fn rights_checks() {
        let s = AdminRights::Server;
        let h = AdminRights::Hub("TEST".into());
        assert_eq!(s.check_hub("ANY"), Ok(()));
        assert_eq!(s.check_hub(""), Err(ErrorCode::INVALID_PARAMETER));
        assert_eq!(h.check_hub("test"), Ok(()));
        assert_eq!(h.check_hub("OTHER"), Err(ErrorCode::NOT_ENOUGH_RIGHT));
        assert_eq!(h.check_hub(""), Err(ErrorCode::NOT_ENOUGH_RIGHT));
        assert_eq!(h.require_server_admin(), Err(ErrorCode::NOT_ENOUGH_RIGHT));
        assert_eq!(s.require_server_admin(), Ok(()));
        assert_eq!(h.hub(), Some("TEST"));
    }

    #[test]
    fn login_result_packs() {
        assert_eq!(
            parse_login_result(&login_error_pack(ErrorCode(9))),
            Err(ErrorCode(9))
        );
        let ok = AdminLoginOk {
            rights: AdminRights::Server,
            empty_password: true,
        };
        assert_eq!(parse_login_result(&ok.to_pack()), Ok(true));
        assert_eq!(parse_login_result(&Pack::new()), Ok(false));
    }
}
