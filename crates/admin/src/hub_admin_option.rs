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
/// SecureNAT's NAT may not be switched on by `SetSecureNATOption`
/// (SoftEther `StSetSecureNATOption`; switching it off stays allowed).
pub const NO_SECURENAT_ENABLENAT: &str = "no_securenat_enablenat";
/// SecureNAT's DHCP server may not be switched on by `SetSecureNATOption`
/// (SoftEther `StSetSecureNATOption`; switching it off stays allowed).
pub const NO_SECURENAT_ENABLEDHCP: &str = "no_securenat_enabledhcp";
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
/// The access list may not be changed (`StAddAccess`, `StDeleteAccess`,
/// `StSetAccessList`).
pub const NO_CHANGE_ACCESS_LIST: &str = "no_change_access_list";
/// Most access list entries a hub may have (0 = no hub limit; applies to
/// server administrators too in `StAddAccess`).
pub const MAX_ACCESSLISTS: &str = "max_accesslists";
/// Delay, jitter and loss of new entries are forced to 0.
pub const NO_DELAY_JITTER_PACKET_LOSS: &str = "no_delay_jitter_packet_loss";
/// `include:`/`exclude:` user names of new entries are cleared.
pub const NO_ACCESS_LIST_INCLUDE_FILE: &str = "no_access_list_include_file";
/// The source IP access control list may not be changed (`StSetAcList`).
pub const NO_CHANGE_ACCESS_CONTROL_LIST: &str = "no_change_access_control_list";
/// The hub message may not be changed (`StSetHubMsg`).
pub const NO_CHANGE_MSG: &str = "no_change_msg";
