//! The admin login message (docs/admin-rpc.md §3.4): the PACK with
//! `method`=`admin` that vpncmd sends as step 3, after the watermark and the
//! Hello (`AdminConnectMain` builds it, `AdminAccept` in
//! `src/Cedar/Admin.c` reads it).
//!
//! One model for both ends: the server's negotiation
//! ([`crate::messages::ClientRequest::Admin`]) yields it, the admin layer
//! (`rustether_admin::login`) verifies it, and the test client builds it
//! with [`AdminLoginRequest::for_password`].

use crate::messages::{str_or_empty, MAX_CLIENT_STR_BYTES};
use crate::pack::Pack;
use crate::password::{hash_admin_password, secure_password};
use crate::sha0::SHA0_LEN;
use crate::softether::error::ErrorCode;
use crate::softether::names::MAX_NAME_LEN;

/// `client_str` of vpncmd (`CEDAR_CUI_STR`, `src/Cedar/Cedar.h`; verified).
pub const VPNCMD_CLIENT_STR: &str = "SoftEther VPN Command-Line Admin Tool";

/// Client OS description sent at login (`RPC_WINVER`, `OutRpcWinVer`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WinVer {
    /// `V_IsWindows`.
    pub is_windows: bool,
    /// `V_IsNT`.
    pub is_nt: bool,
    /// `V_IsServer`.
    pub is_server: bool,
    /// `V_IsBeta`.
    pub is_beta: bool,
    /// `V_VerMajor`.
    pub ver_major: u32,
    /// `V_VerMinor`.
    pub ver_minor: u32,
    /// `V_Build`.
    pub build: u32,
    /// `V_ServicePack`.
    pub service_pack: u32,
    /// `V_Title`, e.g. `Debian GNU/Linux`.
    pub title: String,
}

/// The authentication PACK of an admin login (docs/admin-rpc.md §3.4, sent by
/// vpncmd as step 3 after the watermark and the Hello).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminLoginRequest {
    /// `hubname`: present (non-empty) in Virtual-Hub admin mode
    /// (`vpncmd /HUB:x`).
    pub hub_name: Option<String>,
    /// `secure_password` = SHA-0(SHA-0(password) ‖ hello random), 20 bytes.
    pub secure_password: [u8; SHA0_LEN],
    /// `accept_empty_password`: vpncmd sends 1.
    pub accept_empty_password: bool,
    /// `client_str`.
    pub client_str: String,
    /// `client_ver`, e.g. 501.
    pub client_ver: u32,
    /// `client_build`, e.g. 9674.
    pub client_build: u32,
    /// `V_*` elements.
    pub win_ver: WinVer,
}

impl AdminLoginRequest {
    /// Reads the authentication PACK (`AdminAccept`). The caller has already
    /// seen `method`=`admin`. Errors: `ERR_PROTOCOL_ERROR` (4) when
    /// `secure_password` is not exactly 20 bytes (as SoftEther);
    /// `ERR_INVALID_PARAMETER` (38) for a hub name over [`MAX_NAME_LEN`]
    /// (255) bytes. `client_str` and `V_Title` are cut to
    /// [`MAX_CLIENT_STR_BYTES`].
    pub fn from_pack(p: &Pack) -> Result<AdminLoginRequest, ErrorCode> {
        let secure_password: [u8; SHA0_LEN] = p
            .get_data("secure_password")
            .and_then(|d| d.try_into().ok())
            .ok_or(ErrorCode::PROTOCOL_ERROR)?;
        let hub_name = p
            .get_str("hubname")
            .filter(|h| !h.is_empty())
            .map(str::to_owned);
        if hub_name.as_ref().is_some_and(|h| h.len() > MAX_NAME_LEN) {
            return Err(ErrorCode::INVALID_PARAMETER);
        }
        Ok(AdminLoginRequest {
            hub_name,
            secure_password,
            accept_empty_password: p.get_bool("accept_empty_password"),
            client_str: str_or_empty(p, "client_str", MAX_CLIENT_STR_BYTES),
            client_ver: p.get_int("client_ver").unwrap_or(0),
            client_build: p.get_int("client_build").unwrap_or(0),
            win_ver: WinVer {
                is_windows: p.get_bool("V_IsWindows"),
                is_nt: p.get_bool("V_IsNT"),
                is_server: p.get_bool("V_IsServer"),
                is_beta: p.get_bool("V_IsBeta"),
                ver_major: p.get_int("V_VerMajor").unwrap_or(0),
                ver_minor: p.get_int("V_VerMinor").unwrap_or(0),
                build: p.get_int("V_Build").unwrap_or(0),
                service_pack: p.get_int("V_ServicePack").unwrap_or(0),
                title: str_or_empty(p, "V_Title", MAX_CLIENT_STR_BYTES),
            },
        })
    }

    /// Client side: the request vpncmd builds (`AdminConnectMain`) for a
    /// password, the 20-byte Hello `random` of this connection and an
    /// optional hub (hub-admin mode).
    pub fn for_password(
        password: &str,
        random: &[u8; SHA0_LEN],
        hub_name: Option<&str>,
    ) -> AdminLoginRequest {
        AdminLoginRequest {
            hub_name: hub_name.map(str::to_owned),
            secure_password: secure_password(&hash_admin_password(password), random),
            accept_empty_password: true,
            client_str: VPNCMD_CLIENT_STR.to_owned(),
            client_ver: 501,
            client_build: 9674,
            win_ver: WinVer {
                title: "RustEther".to_owned(),
                ..WinVer::default()
            },
        }
    }

    /// The authentication PACK with the element set of vpncmd (docs/admin-rpc.md
    /// §3.4; without the `pencore` padding, which the HTTP layer adds).
    pub fn to_pack(&self) -> Pack {
        let mut p = Pack::new();
        p.add_str("method", "admin");
        p.add_bool("accept_empty_password", self.accept_empty_password);
        p.add_data("secure_password", &self.secure_password);
        if let Some(h) = &self.hub_name {
            p.add_str("hubname", h);
        }
        p.add_str("client_str", &self.client_str);
        p.add_int("client_ver", self.client_ver);
        p.add_int("client_build", self.client_build);
        let w = &self.win_ver;
        p.add_bool("V_IsWindows", w.is_windows);
        p.add_bool("V_IsNT", w.is_nt);
        p.add_bool("V_IsServer", w.is_server);
        p.add_bool("V_IsBeta", w.is_beta);
        p.add_int("V_VerMajor", w.ver_major);
        p.add_int("V_VerMinor", w.ver_minor);
        p.add_int("V_Build", w.build);
        p.add_int("V_ServicePack", w.service_pack);
        p.add_str("V_Title", &w.title);
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::messages::ClientRequest;

    const RANDOM: [u8; 20] = [7; 20];

    #[test]
    fn client_request_yields_the_one_model() {
        let req = AdminLoginRequest::for_password("pw", &RANDOM, Some("TEST"));
        let wire = Pack::decode(&req.to_pack().encode()).unwrap();
        assert_eq!(
            ClientRequest::from_pack(&wire),
            Ok(ClientRequest::Admin(req.clone()))
        );
        assert_eq!(ClientRequest::Admin(req.clone()).to_pack(), req.to_pack());
        // `method` is matched case-insensitively, as SoftEther's StrCmpi
        let mut p = req.to_pack();
        p.remove("method");
        p.add_str("method", "ADMIN");
        assert!(matches!(
            ClientRequest::from_pack(&p),
            Ok(ClientRequest::Admin(_))
        ));
    }

    #[test]
    fn malformed_logins_are_refused_with_softethers_codes() {
        let mut p = AdminLoginRequest::for_password("pw", &RANDOM, None).to_pack();
        p.remove("secure_password");
        p.add_data("secure_password", &[0; 21]);
        assert_eq!(ClientRequest::from_pack(&p), Err(ErrorCode::PROTOCOL_ERROR));
        let long = "h".repeat(MAX_NAME_LEN + 1);
        let p = AdminLoginRequest::for_password("pw", &RANDOM, Some(&long)).to_pack();
        assert_eq!(
            AdminLoginRequest::from_pack(&p),
            Err(ErrorCode::INVALID_PARAMETER)
        );
        let ok = "h".repeat(MAX_NAME_LEN);
        let p = AdminLoginRequest::for_password("pw", &RANDOM, Some(&ok)).to_pack();
        assert_eq!(
            AdminLoginRequest::from_pack(&p)
                .unwrap()
                .hub_name
                .as_deref(),
            Some(ok.as_str())
        );
    }

    #[test]
    fn client_strings_are_bounded() {
        let mut req = AdminLoginRequest::for_password("pw", &RANDOM, None);
        req.client_str = "c".repeat(10_000);
        req.win_ver.title = "t".repeat(10_000);
        let back = AdminLoginRequest::from_pack(&req.to_pack()).unwrap();
        assert_eq!(back.client_str.len(), MAX_CLIENT_STR_BYTES);
        assert_eq!(back.win_ver.title.len(), MAX_CLIENT_STR_BYTES);
    }
}
