//! Name rules of SoftEther objects, pure checks for the dispatcher and the
//! server glue.

use rustether_proto::ErrorCode;

/// Characters allowed in hub names (`IsSafeChar`, `src/Mayaqua/Str.c`):
/// `A–Z a–z 0–9 space ( ) - _ # % & .`.
pub fn is_safe_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || " ()-_#%&.".contains(c)
}

/// `IsSafeStr`: only [`is_safe_char`] characters and no leading or trailing
/// space (the empty string passes; callers check emptiness).
pub fn is_safe_str(s: &str) -> bool {
    s.chars().all(is_safe_char) && !s.starts_with(' ') && !s.ends_with(' ')
}

/// Checks a hub name for `CreateHub` (`StCreateHub`): non-empty,
/// [`is_safe_str`], not starting or ending with `.`; else
/// `ERR_INVALID_PARAMETER` (38). Verified: `.x` → 38, `A B` accepted.
pub fn check_new_hub_name(name: &str) -> Result<(), ErrorCode> {
    if name.is_empty() || !is_safe_str(name) || name.starts_with('.') || name.ends_with('.') {
        return Err(ErrorCode::INVALID_PARAMETER);
    }
    Ok(())
}

/// Checks the hub name of `GetHub`/`SetHub`/`DeleteHub`: non-empty and
/// [`is_safe_str`], else 38.
pub fn check_hub_name(name: &str) -> Result<(), ErrorCode> {
    if name.is_empty() || !is_safe_str(name) {
        return Err(ErrorCode::INVALID_PARAMETER);
    }
    Ok(())
}

/// Reserved user names, compared case-insensitively (`IsUserName`,
/// `src/Cedar/Account.c`; `LINK_USER_NAME`, `SNAT_USER_NAME`,
/// `BRIDGE_USER_NAME` and their display forms, `ADMINISTRATOR_USERNAME`).
pub const RESERVED_USER_NAMES: [&str; 7] = [
    "link",
    "Cascade",
    "securenat",
    "SecureNAT",
    "localbridge",
    "Local Bridge",
    "administrator",
];

/// `IsUserName`: non-empty after trimming; `*` (the wildcard user for
/// RADIUS/NT) or only [`is_safe_char`] characters and `@`; not reserved and
/// not starting with `L3SW_` (case-insensitive).
pub fn is_user_name(name: &str) -> bool {
    let name = name.trim_matches(|c| c == ' ' || c == '\t');
    if name.is_empty() {
        return false;
    }
    if name == "*" {
        return true;
    }
    if !name.chars().all(|c| is_safe_char(c) || c == '@') {
        return false;
    }
    if name.len() >= 5 && name[..5].eq_ignore_ascii_case("L3SW_") {
        return false;
    }
    !RESERVED_USER_NAMES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
}

/// Per-hub administration options that restrict hub administrators
/// (`SiSetDefaultHubOption`, `GetHubAdminOption`; docs/admin-rpc.md §3.6).
pub mod hub_admin_option {
    /// Users may not be created, changed or deleted.
    pub const NO_CHANGE_USERS: &str = "no_change_users";
    /// Cascades may not be created, changed, switched or deleted.
    pub const NO_CASCADE: &str = "no_cascade";
    /// Sessions may not be listed.
    pub const NO_ENUM_SESSION: &str = "no_enum_session";
    /// Session details may not be read.
    pub const NO_QUERY_SESSION: &str = "no_query_session";
    /// Sessions may not be disconnected.
    pub const NO_DISCONNECT_SESSION: &str = "no_disconnect_session";
    /// The hub may not be switched online.
    pub const NO_ONLINE: &str = "no_online";
    /// The hub may not be switched offline.
    pub const NO_OFFLINE: &str = "no_offline";
    /// The hub administrator password may not be changed.
    pub const NO_CHANGE_ADMIN_PASSWORD: &str = "no_change_admin_password";
    /// SecureNAT may not be switched on or off (`StEnableSecureNAT`).
    pub const NO_SECURENAT: &str = "no_securenat";
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hub_names() {
        assert!(check_new_hub_name("DEFAULT").is_ok());
        assert!(check_new_hub_name("A B").is_ok()); // verified accepted
        assert!(check_new_hub_name("a-b_c#d%e&f(g).h").is_ok());
        for bad in ["", ".x", "x.", " x", "x ", "é", "a/b", "a\tb", "a@b"] {
            assert_eq!(
                check_new_hub_name(bad),
                Err(ErrorCode::INVALID_PARAMETER),
                "{bad:?}"
            );
        }
        assert!(check_hub_name(".x").is_ok());
        assert!(check_hub_name("").is_err());
    }

    #[test]
    fn user_names() {
        for ok in ["alice", "bob@example.org", "*", "A B", " carol "] {
            assert!(is_user_name(ok), "{ok:?}");
        }
        for bad in [
            "",
            " ",
            "link",
            "LINK",
            "Cascade",
            "securenat",
            "localbridge",
            "local bridge",
            "Administrator",
            "L3SW_x",
            "l3sw_y",
            "a/b",
            "ü",
        ] {
            assert!(!is_user_name(bad), "{bad:?}");
        }
    }
}
