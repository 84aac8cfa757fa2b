//! Users and groups of a virtual hub (`SecurityAccountDatabase/UserList`,
//! `GroupList`; docs/config-format.md §7.9; `SiLoadUserCfg`,
//! `SiWriteUserCfg`, `SiLoadGroupCfg`, `SiWriteGroupCfg` in
//! `src/Cedar/Server.c`), each declared once with
//! [`cfg_struct!`](super::fields).

use super::fields::cfg_struct;
use super::{zero_traffic, Policy, Rd};
use crate::cfg::Folder;
use crate::error::ConfigError;

/// How a user authenticates: the shared SoftEther table
/// ([`rustether_proto::softether::auth`]), stored as `AuthType` and the
/// `Auth*` keys of docs/config-format.md §7.9.
pub use rustether_proto::softether::auth::UserAuth;

const USER_AUTH_KEYS: [&str; 7] = [
    "AuthPassword",
    "AuthNtLmSecureHash",
    "AuthUserCert",
    "AuthSerial",
    "AuthCommonName",
    "AuthRadiusUsername",
    "AuthNtUserName",
];

/// `AuthType` and `Auth*` keys ↔ [`UserAuth`] (`SiLoadUserCfg`,
/// `SiWriteUserCfg`, docs/config-format.md §7.9).
mod user_auth {
    use super::super::Rd;
    use super::{UserAuth, USER_AUTH_KEYS};
    use crate::cfg::Folder;
    use crate::error::ConfigError;

    pub(super) fn from_folder(r: &Rd) -> Result<UserAuth, ConfigError> {
        Ok(match r.u32_or("AuthType", 0)? {
            0 => UserAuth::Anonymous,
            1 => UserAuth::Password {
                // A missing hash reads as zeros (nobody can log in), as in SoftEther.
                hash: r.fixed::<20>("AuthPassword")?.unwrap_or([0; 20]),
                nt_hash: r
                    .fixed::<16>("AuthNtLmSecureHash")?
                    .filter(|h| h != &[0; 16]),
            },
            2 => UserAuth::UserCert {
                cert_der: r.bytes("AuthUserCert")?.unwrap_or_default().to_vec(),
            },
            3 => UserAuth::RootCert {
                serial: r
                    .bytes("AuthSerial")?
                    .filter(|s| !s.is_empty())
                    .map(<[u8]>::to_vec),
                common_name: r
                    .str("AuthCommonName")?
                    .filter(|s| !s.is_empty())
                    .map(str::to_string),
            },
            4 => UserAuth::Radius {
                username: r.string_or("AuthRadiusUsername", "")?,
            },
            5 => UserAuth::Nt {
                username: r.string_or("AuthNtUserName", "")?,
            },
            t => return Err(r.bad("AuthType", format!("unknown user authentication type {t}"))),
        })
    }

    /// The `Auth*` keys a variant writes.
    fn keys(a: &UserAuth) -> &'static [&'static str] {
        match a {
            UserAuth::Anonymous => &[],
            UserAuth::Password { .. } => &["AuthPassword", "AuthNtLmSecureHash"],
            UserAuth::UserCert { .. } => &["AuthUserCert"],
            UserAuth::RootCert { .. } => &["AuthSerial", "AuthCommonName"],
            UserAuth::Radius { .. } => &["AuthRadiusUsername"],
            UserAuth::Nt { .. } => &["AuthNtUserName"],
        }
    }

    pub(super) fn write(a: &UserAuth, f: &mut Folder) {
        // Drop the keys of other authentication types (and optional keys of
        // this one, set again below); keep the order of the rest.
        for k in USER_AUTH_KEYS {
            if !keys(a).contains(&k)
                || matches!(k, "AuthNtLmSecureHash" | "AuthSerial" | "AuthCommonName")
            {
                f.remove_item(k);
            }
        }
        f.set_uint("AuthType", a.auth_type());
        match a {
            UserAuth::Anonymous => {}
            UserAuth::Password { hash, nt_hash } => {
                f.set_bytes("AuthPassword", hash);
                if let Some(nt) = nt_hash.filter(|h| h != &[0; 16]) {
                    f.set_bytes("AuthNtLmSecureHash", &nt);
                }
            }
            UserAuth::UserCert { cert_der } => f.set_bytes("AuthUserCert", cert_der),
            UserAuth::RootCert {
                serial,
                common_name,
            } => {
                if let Some(sn) = serial.as_ref().filter(|s| !s.is_empty()) {
                    f.set_bytes("AuthSerial", sn);
                }
                if let Some(cn) = common_name.as_ref().filter(|s| !s.is_empty()) {
                    f.set_str("AuthCommonName", cn);
                }
            }
            UserAuth::Radius { username } => f.set_str("AuthRadiusUsername", username),
            UserAuth::Nt { username } => f.set_str("AuthNtUserName", username),
        }
    }
}

cfg_struct! {
    /// A user of a virtual hub (`SecurityAccountDatabase/UserList/<name>`).
    /// Times are SoftEther times ([`super::now_ms`]); a missing key reads
    /// as 0 / empty, as in `SiLoadUserCfg`.
    #[derive(Clone, Debug, PartialEq)]
    pub struct UserConfig {
        manual {
            /// User name (the folder name; matched case-insensitively).
            name: String,
            /// Authentication method and its data (`AuthType`, `Auth*`).
            auth: UserAuth,
            /// The user's own policy (`Policy` folder), if any.
            policy: Option<Policy>,
        }
        /// Real name.
        realname: String = "RealName" or String::new(),
        /// Note.
        note: String = "Note" or String::new(),
        /// The group the user belongs to (empty = none).
        group: Option<String> = "GroupName" or None,
        /// Creation time.
        created_time: u64 = "CreatedTime" or 0,
        /// Last change.
        updated_time: u64 = "UpdatedTime" or 0,
        /// Expiry; 0 = never.
        expire_time: u64 = "ExpireTime" or 0,
        /// Last login; 0 = never.
        last_login_time: u64 = "LastLoginTime" or 0,
        /// Number of logins.
        num_login: u32 = "NumLogin" or 0,
    }
}

impl UserConfig {
    /// A new user as `UserCreate` makes it: created/updated now, no group,
    /// no own policy, zero traffic.
    ///
    /// `now`: SoftEther time ([`super::now_ms`]) for
    /// `CreatedTime`/`UpdatedTime`.
    pub fn new(name: &str, auth: UserAuth, now: u64) -> UserConfig {
        let mut raw = Folder::new(name);
        raw.add_folder(zero_traffic("Traffic"));
        let mut u = UserConfig::with_defaults(name.to_string(), auth, None, raw);
        u.created_time = now;
        u.updated_time = now;
        u
    }

    pub(super) fn from_folder(r: &Rd) -> Result<UserConfig, ConfigError> {
        let policy = match r.f.folder("Policy") {
            Some(p) => Some(Policy::from_folder(&r.sub(p))?),
            None => None,
        };
        UserConfig::read_fields(r, r.f.name.clone(), user_auth::from_folder(r)?, policy)
    }

    pub(super) fn to_folder(&self) -> Folder {
        let mut f = self.raw.clone();
        f.name = self.name.clone();
        user_auth::write(&self.auth, &mut f);
        self.write_fields(&mut f);
        write_policy_and_traffic(&mut f, &self.policy);
        f
    }
}

cfg_struct! {
    /// A group of a virtual hub (`SecurityAccountDatabase/GroupList/<name>`).
    #[derive(Clone, Debug, PartialEq)]
    pub struct GroupConfig {
        manual {
            /// Group name (folder name; case-insensitive).
            name: String,
            /// The group policy, if any.
            policy: Option<Policy>,
        }
        /// Real name.
        realname: String = "RealName" or String::new(),
        /// Note.
        note: String = "Note" or String::new(),
    }
}

impl GroupConfig {
    /// A new group without policy and with zero traffic.
    pub fn new(name: &str) -> GroupConfig {
        let mut raw = Folder::new(name);
        raw.add_folder(zero_traffic("Traffic"));
        GroupConfig::with_defaults(name.to_string(), None, raw)
    }

    pub(super) fn from_folder(r: &Rd) -> Result<GroupConfig, ConfigError> {
        let policy = match r.f.folder("Policy") {
            Some(p) => Some(Policy::from_folder(&r.sub(p))?),
            None => None,
        };
        GroupConfig::read_fields(r, r.f.name.clone(), policy)
    }

    pub(super) fn to_folder(&self) -> Folder {
        let mut f = self.raw.clone();
        f.name = self.name.clone();
        self.write_fields(&mut f);
        write_policy_and_traffic(&mut f, &self.policy);
        f
    }
}

/// The `Policy` folder (removed when `None`) and, if missing, zero
/// `Traffic` counters, as SoftEther writes both for users and groups.
fn write_policy_and_traffic(f: &mut Folder, policy: &Option<Policy>) {
    match policy {
        Some(p) => f.add_folder(p.to_folder()),
        None => {
            f.remove_folder("Policy");
        }
    }
    if f.folder("Traffic").is_none() {
        f.add_folder(zero_traffic("Traffic"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn users_read_and_write_through_one_mapping() {
        let mut u = UserConfig::new("alice", UserAuth::from_password("alice", "pw"), 5);
        u.realname = "Alice".into();
        u.group = Some("staff".into());
        u.expire_time = 9;
        u.num_login = 3;
        let f = u.to_folder();
        for k in UserConfig::KEYS {
            assert!(f.item(k).is_some(), "{k}");
        }
        let back = UserConfig::from_folder(&Rd::new(&f, "alice")).unwrap();
        assert_eq!(
            UserConfig {
                raw: f.clone(),
                ..u.clone()
            },
            back
        );
        // no group: the key is removed, and reads back as none
        u.group = None;
        let f = u.to_folder();
        assert!(f.item("GroupName").is_none());
        assert_eq!(
            UserConfig::from_folder(&Rd::new(&f, "a")).unwrap().group,
            None
        );
    }

    #[test]
    fn groups_read_and_write_through_one_mapping() {
        let mut g = GroupConfig::new("staff");
        g.note = "n".into();
        let f = g.to_folder();
        assert!(f.folder("Traffic").is_some());
        let back = GroupConfig::from_folder(&Rd::new(&f, "staff")).unwrap();
        assert_eq!(
            GroupConfig {
                raw: f.clone(),
                ..g
            },
            back
        );
    }
}
