//! SoftEther's shared tables, in one place for every crate: error codes,
//! the SoftEther epoch and civil dates, name rules, authentication types
//! and the admin login message.
//!
//! Each table is written once, here, and the other crates (config, admin,
//! server) use it instead of their own copy, so the configuration file, the
//! admin RPC and the VPN protocol cannot disagree on a number or a rule.
//!
//! | module | what | SoftEther source | project doc |
//! |---|---|---|---|
//! | [`error`] | `ERR_*` codes, names, messages | `src/Cedar/Cedar.h` | docs/admin-rpc.md §8 |
//! | [`time`] | SoftEther time (Unix ms − 9 h), civil dates | `src/Mayaqua/Kernel.c` | docs/config-format.md §4 |
//! | [`access`] | access list entries: fields, normalisation, order | `src/Cedar/Hub.h` `ACCESS`, `src/Cedar/Hub.c` `AddAccessListEx` | docs/administration.md |
//! | [`admin_login`] | the `method=admin` login PACK | `src/Cedar/Admin.c` `AdminAccept`, `AdminConnectMain` | docs/admin-rpc.md §3.4 |
//! | [`auth`] | `AUTHTYPE_*` and the user authentication data | `src/Cedar/Cedar.h`, `src/Cedar/Account.h` | docs/config-format.md §7.9, docs/admin-rpc.md §5 |
//! | [`names`] | hub, group and user name rules | `src/Mayaqua/Str.c`, `src/Cedar/Account.c` | docs/admin-rpc.md |
//! | [`policy`] | the security policies: names, kinds, defaults, enforcement | `src/Cedar/Account.c` `policy_item[]`, `GetDefaultPolicy` | docs/policies.md |

pub mod access;
pub mod admin_login;
pub mod auth;
pub mod error;
pub mod names;
pub mod policy;
pub mod time;
