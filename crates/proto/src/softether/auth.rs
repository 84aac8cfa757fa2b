//! How a user authenticates: SoftEther's `AUTHTYPE_*` numbering and the
//! data each type carries (`AUTHTYPE_*` in `src/Cedar/Cedar.h`, the
//! `AUTH*` structures in `src/Cedar/Account.h`).
//!
//! One enum for the configuration file (`AuthType` and `Auth*` keys,
//! docs/config-format.md §7.9) and the admin RPC (AUTHDATA, `InRpcAuthData`
//! / `OutRpcAuthData`, docs/admin-rpc.md §5); each of those crates maps the
//! variants to its own key names.

use crate::password::{hash_password, nt_password_hash};

/// `AUTHTYPE_ANONYMOUS`: no credentials.
pub const AUTHTYPE_ANONYMOUS: u32 = 0;
/// `AUTHTYPE_PASSWORD`: password, stored as hashes.
pub const AUTHTYPE_PASSWORD: u32 = 1;
/// `AUTHTYPE_USERCERT`: the user's own certificate.
pub const AUTHTYPE_USERCERT: u32 = 2;
/// `AUTHTYPE_ROOTCERT`: a certificate issued by a trusted CA.
pub const AUTHTYPE_ROOTCERT: u32 = 3;
/// `AUTHTYPE_RADIUS`: RADIUS server.
pub const AUTHTYPE_RADIUS: u32 = 4;
/// `AUTHTYPE_NT`: Windows NT domain.
pub const AUTHTYPE_NT: u32 = 5;

/// A user's authentication method and its data, numbered as SoftEther's
/// `AUTHTYPE_*` ([`UserAuth::auth_type`]). SoftEther's internal types
/// 96–99 (external, WireGuard, OpenVPN certificate, ticket) are never
/// stored for a user and have no variant.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum UserAuth {
    /// [`AUTHTYPE_ANONYMOUS`] (0).
    #[default]
    Anonymous,
    /// [`AUTHTYPE_PASSWORD`] (1), `AUTHPASSWORD`.
    Password {
        /// `HashedKey`: SHA-0(password ‖ UPPERCASE(user name))
        /// ([`hash_password`]).
        hash: [u8; 20],
        /// `NtLmSecureHash`: MD4 of the password in UTF-16LE, for
        /// MS-CHAPv2 ([`nt_password_hash`]); `None` when unknown (SoftEther
        /// stores 16 zero bytes then).
        nt_hash: Option<[u8; 16]>,
    },
    /// [`AUTHTYPE_USERCERT`] (2), `AUTHUSERCERT`: the user's DER X.509
    /// certificate.
    UserCert {
        /// DER X.509 certificate.
        cert_der: Vec<u8>,
    },
    /// [`AUTHTYPE_ROOTCERT`] (3), `AUTHROOTCERT`: a certificate signed by a
    /// trusted CA, optionally restricted by serial and common name.
    RootCert {
        /// Required certificate serial number (big-endian bytes).
        serial: Option<Vec<u8>>,
        /// Required subject common name.
        common_name: Option<String>,
    },
    /// [`AUTHTYPE_RADIUS`] (4), `AUTHRADIUS`: the name sent to the RADIUS
    /// server (empty = the user name).
    Radius {
        /// Name used towards the RADIUS server.
        username: String,
    },
    /// [`AUTHTYPE_NT`] (5), `AUTHNT`: the name sent to the domain
    /// controller (empty = the user name).
    Nt {
        /// Name used towards the domain controller.
        username: String,
    },
}

impl UserAuth {
    /// The `AuthType` number (`AUTHTYPE_*`).
    pub fn auth_type(&self) -> u32 {
        match self {
            UserAuth::Anonymous => AUTHTYPE_ANONYMOUS,
            UserAuth::Password { .. } => AUTHTYPE_PASSWORD,
            UserAuth::UserCert { .. } => AUTHTYPE_USERCERT,
            UserAuth::RootCert { .. } => AUTHTYPE_ROOTCERT,
            UserAuth::Radius { .. } => AUTHTYPE_RADIUS,
            UserAuth::Nt { .. } => AUTHTYPE_NT,
        }
    }

    /// A password user's data derived from the plain password, as SoftEther
    /// stores it (`HashPassword`, `GenerateNtPasswordHash`).
    pub fn from_password(username: &str, password: &str) -> UserAuth {
        UserAuth::Password {
            hash: hash_password(username, password),
            nt_hash: Some(nt_password_hash(password)),
        }
    }

    /// The NT hash as SoftEther's 16-byte field: zeros when unknown.
    pub fn nt_hash_bytes(nt_hash: &Option<[u8; 16]>) -> [u8; 16] {
        nt_hash.unwrap_or([0; 16])
    }

    /// The NT hash of SoftEther's 16-byte field: `None` for all zeros.
    pub fn nt_hash_from_bytes(bytes: [u8; 16]) -> Option<[u8; 16]> {
        Some(bytes).filter(|h| h != &[0; 16])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbering_is_softethers() {
        // src/Cedar/Cedar.h: AUTHTYPE_ANONYMOUS 0 … AUTHTYPE_NT 5
        let all = [
            UserAuth::Anonymous,
            UserAuth::from_password("u", "p"),
            UserAuth::UserCert { cert_der: vec![1] },
            UserAuth::RootCert {
                serial: None,
                common_name: None,
            },
            UserAuth::Radius {
                username: String::new(),
            },
            UserAuth::Nt {
                username: String::new(),
            },
        ];
        for (n, a) in all.iter().enumerate() {
            assert_eq!(a.auth_type(), n as u32, "{a:?}");
        }
        assert_eq!(UserAuth::default(), UserAuth::Anonymous);
    }

    #[test]
    fn password_hashes_and_nt_field() {
        let UserAuth::Password { hash, nt_hash } = UserAuth::from_password("test", "testpass")
        else {
            panic!("not a password");
        };
        assert_eq!(hash, hash_password("TEST", "testpass"));
        assert_eq!(nt_hash, Some(nt_password_hash("testpass")));
        assert_eq!(UserAuth::nt_hash_from_bytes([0; 16]), None);
        assert_eq!(UserAuth::nt_hash_bytes(&None), [0; 16]);
        let h = [7; 16];
        assert_eq!(UserAuth::nt_hash_bytes(&UserAuth::nt_hash_from_bytes(h)), h);
    }
}
