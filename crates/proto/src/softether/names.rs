//! Name rules of SoftEther objects: virtual hubs, groups and users
//! (docs/admin-rpc.md §5; `IsSafeChar`/`IsSafeStr` in `src/Mayaqua/Str.c`,
//! `IsUserName` in `src/Cedar/Account.c`, the checks of `StCreateHub`,
//! `StCreateGroup`, `StCreateUser` in `src/Cedar/Admin.c`).
//!
//! SoftEther applies exactly these rules in the admin RPC; the
//! configuration file is read without them (a file SoftEther wrote may hold
//! any name it accepted earlier).

/// Longest hub, group or user name SoftEther stores, in bytes
/// (`MAX_HUBNAME_LEN`, `MAX_USERNAME_LEN`, `MAX_GROUPNAME_LEN` in
/// `src/Cedar/Cedar.h`); longer PACK strings are truncated by SoftEther,
/// rejected by RustEther.
pub const MAX_NAME_LEN: usize = 255;

/// Characters allowed in hub and group names (`IsSafeChar`):
/// `A–Z a–z 0–9 space ( ) - _ # % & .`.
pub fn is_safe_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || " ()-_#%&.".contains(c)
}

/// `IsSafeStr`: only [`is_safe_char`] characters and no leading or trailing
/// space (the empty string passes; callers check emptiness).
pub fn is_safe_str(s: &str) -> bool {
    s.chars().all(is_safe_char) && !s.starts_with(' ') && !s.ends_with(' ')
}

/// `IsEmptyStr`: empty after trimming spaces and tabs (`Trim`).
pub fn is_empty_str(s: &str) -> bool {
    trim(s).is_empty()
}

/// SoftEther's `Trim`: spaces and tabs off both ends (nothing else).
fn trim(s: &str) -> &str {
    s.trim_matches([' ', '\t'])
}

/// Whether `name` may name an existing hub (`GetHub`, `SetHub`,
/// `DeleteHub`, …) or a group: not [`is_empty_str`], [`is_safe_str`], at
/// most [`MAX_NAME_LEN`] bytes. `ERR_INVALID_PARAMETER` (38) otherwise.
pub fn is_hub_name(name: &str) -> bool {
    !is_empty_str(name) && is_safe_str(name) && name.len() <= MAX_NAME_LEN
}

/// Whether `name` may name a new hub (`StCreateHub`): [`is_hub_name`] and
/// not starting or ending with `.`. Verified on 9674: `.x` → 38, `A B`
/// accepted.
pub fn is_new_hub_name(name: &str) -> bool {
    is_hub_name(name) && !name.starts_with('.') && !name.ends_with('.')
}

/// Reserved user names, compared case-insensitively (`IsUserName`:
/// `LINK_USER_NAME`, `LINK_USER_NAME_PRINT`, `SNAT_USER_NAME`,
/// `SNAT_USER_NAME_PRINT`, `BRIDGE_USER_NAME`, `BRIDGE_USER_NAME_PRINT`,
/// `ADMINISTRATOR_USERNAME` of `src/Cedar/Cedar.h`).
pub const RESERVED_USER_NAMES: [&str; 7] = [
    "link",
    "Cascade",
    "securenat",
    "SecureNAT",
    "localbridge",
    "Local Bridge",
    "administrator",
];

/// Prefix of the internal users of layer-3 switches (`L3_USERNAME`,
/// `src/Cedar/Layer3.h`), refused case-insensitively as a user name prefix.
pub const L3_USER_PREFIX: &str = "L3SW_";

/// `IsUserName`: after trimming spaces and tabs, non-empty; `*` (the
/// wildcard user for RADIUS/NT) or only [`is_safe_char`] characters and
/// `@`; not one of [`RESERVED_USER_NAMES`] and not starting with
/// [`L3_USER_PREFIX`] (both case-insensitive); at most [`MAX_NAME_LEN`]
/// bytes.
pub fn is_user_name(name: &str) -> bool {
    let name = trim(name);
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return false;
    }
    if name == "*" {
        return true;
    }
    if !name.chars().all(|c| is_safe_char(c) || c == '@') {
        return false;
    }
    if name
        .get(..L3_USER_PREFIX.len())
        .is_some_and(|p| p.eq_ignore_ascii_case(L3_USER_PREFIX))
    {
        return false;
    }
    !RESERVED_USER_NAMES
        .iter()
        .any(|r| r.eq_ignore_ascii_case(name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safe_chars_are_exactly_softethers_list() {
        // the literal check_str of IsSafeChar
        let list = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 ()-_#%&.";
        for b in 0u8..=255 {
            let c = char::from(b);
            assert_eq!(is_safe_char(c), list.contains(c), "{b}");
        }
        assert!(!is_safe_char('é'));
    }

    #[test]
    fn hub_names() {
        assert!(is_new_hub_name("DEFAULT"));
        assert!(is_new_hub_name("A B")); // verified accepted
        assert!(is_new_hub_name("a-b_c#d%e&f(g).h"));
        assert!(is_new_hub_name(&"x".repeat(MAX_NAME_LEN)));
        for bad in [
            "", " ", "\t", ".x", "x.", " x", "x ", "é", "a/b", "a\tb", "a@b", "hübsch",
        ] {
            assert!(!is_new_hub_name(bad), "{bad:?}");
        }
        assert!(!is_new_hub_name(&"x".repeat(MAX_NAME_LEN + 1)));
        // existing hubs: the dot rule belongs to StCreateHub only
        assert!(is_hub_name(".x"));
        assert!(!is_hub_name(""));
        assert!(!is_hub_name("  "));
    }

    #[test]
    fn safe_str_edges() {
        assert!(is_safe_str("")); // IsSafeStr("") is true; IsEmptyStr guards
        assert!(!is_safe_str(" a"));
        assert!(!is_safe_str("a "));
        assert!(is_safe_str("a b"));
        assert!(is_empty_str(" \t "));
        assert!(!is_empty_str(" a "));
    }

    #[test]
    fn user_names() {
        for ok in [
            "alice",
            "bob@example.org",
            "*",
            " * ",
            "A B",
            " carol ", // IsUserName trims first
            "L3SW",
            "xL3SW_",
            "linker",
            "administrators",
        ] {
            assert!(is_user_name(ok), "{ok:?}");
        }
        for bad in [
            "",
            " ",
            "\t",
            "link",
            "LINK",
            " link ",
            "Cascade",
            "cascade",
            "securenat",
            "SECURENAT",
            "localbridge",
            "local bridge",
            "Administrator",
            "L3SW_",
            "L3SW_x",
            "l3sw_y",
            "a/b",
            "a\tb",
            "ü",
            "**",
        ] {
            assert!(!is_user_name(bad), "{bad:?}");
        }
        assert!(is_user_name(&"u".repeat(MAX_NAME_LEN)));
        assert!(!is_user_name(&"u".repeat(MAX_NAME_LEN + 1)));
    }
}
