//! Per-hub administration options that restrict hub administrators
//! (`SiSetDefaultHubOption`, `GetHubAdminOption`; docs/admin-rpc.md §3.6).

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
/// MAC address table entries may not be deleted.
pub const NO_DELETE_MACTABLE: &str = "no_delete_mactable";
/// IP address table entries may not be deleted.
pub const NO_DELETE_IPTABLE: &str = "no_delete_iptable";
/// Groups may not be created, changed or deleted.
pub const NO_CHANGE_GROUPS: &str = "no_change_groups";
/// The trusted CA list may not be changed (`AddCa`, `DeleteCa`).
pub const NO_CHANGE_CERT_LIST: &str = "no_change_cert_list";
/// Most groups a hub may have (0 = no hub limit).
pub const MAX_GROUPS: &str = "max_groups";
