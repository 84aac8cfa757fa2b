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
/// Hub administrators may change the hub administration options
/// themselves (`StSetHubAdminOptions`).
pub const ALLOW_HUB_ADMIN_CHANGE_OPTION: &str = "allow_hub_admin_change_option";
/// Hub administrators may not change the extended options
/// (`StSetHubExtOptions`).
pub const DENY_HUB_ADMIN_CHANGE_EXT_OPTION: &str = "deny_hub_admin_change_ext_option";
/// Most users a hub may have (0 = no hub limit; `StCreateUser`, applies to
/// server administrators too) → `ERR_TOO_MANY_USER` (63).
pub const MAX_USERS: &str = "max_users";
/// Most concurrent logins of one user name; the smaller of this and the
/// user's `MultiLogins` policy applies (`ServerAccept`).
pub const MAX_MULTILOGINS_PER_USER: &str = "max_multilogins_per_user";
/// Most sessions logged in to the hub (`ServerAccept`) → `ERR_HUB_IS_BUSY`
/// (15).
pub const MAX_SESSIONS: &str = "max_sessions";
/// Download limit in bit/s forced into every session's policy (the
/// smaller of the two when the policy has one; `ServerAccept`).
pub const MAX_BITRATES_DOWNLOAD: &str = "max_bitrates_download";
/// Upload limit in bit/s, as [`MAX_BITRATES_DOWNLOAD`].
pub const MAX_BITRATES_UPLOAD: &str = "max_bitrates_upload";
/// Users with an empty password may log in only from this host
/// (`ERR_NULL_PASSWORD_LOCAL_ONLY`, 42; `ServerAccept`).
pub const DENY_EMPTY_PASSWORD: &str = "deny_empty_password";
/// Every session gets the policy `NoBridge` (`ServerAccept`).
pub const DENY_BRIDGE: &str = "deny_bridge";
/// Every session gets the policy `NoRouting` (`ServerAccept`).
pub const DENY_ROUTING: &str = "deny_routing";
/// Every session gets the policy `NoQoS` (`ServerAccept`).
pub const DENY_QOS: &str = "deny_qos";
/// The CRL may not be changed (`StAddCrl`, `StDelCrl`, `StSetCrl`).
pub const NO_CHANGE_CRL_LIST: &str = "no_change_crl_list";

/// Most items `SetHubAdminOptions`/`SetHubExtOptions` accept
/// (`MAX_HUB_ADMIN_OPTIONS`, src/Cedar/Hub.h); more is
/// `ERR_TOO_MANT_ITEMS` (110).
pub const MAX_HUB_ADMIN_OPTIONS: usize = 64;

/// The hub administration options of SoftEther 5.01 in its order
/// (`admin_options[]` of src/Cedar/Hub.c); every default is 0
/// (`GetDefaultHubAdminOptions`). Names are compared case-insensitively.
pub const DEFAULT_NAMES: [&str; 41] = [
    "allow_hub_admin_change_option",
    "max_users",
    "max_multilogins_per_user",
    "max_groups",
    "max_accesslists",
    "max_sessions_client_bridge_apply",
    "max_sessions",
    "max_sessions_client",
    "max_sessions_bridge",
    "max_bitrates_download",
    "max_bitrates_upload",
    "deny_empty_password",
    "deny_bridge",
    "deny_routing",
    "deny_qos",
    "deny_change_user_password",
    "no_change_users",
    "no_change_groups",
    "no_securenat",
    "no_securenat_enablenat",
    "no_securenat_enabledhcp",
    "no_cascade",
    "no_online",
    "no_offline",
    "no_change_log_config",
    "no_disconnect_session",
    "no_delete_iptable",
    "no_delete_mactable",
    "no_enum_session",
    "no_query_session",
    "no_change_admin_password",
    "no_change_log_switch_type",
    "no_change_access_list",
    "no_change_access_control_list",
    "no_change_cert_list",
    "no_change_crl_list",
    "no_read_log_file",
    "deny_hub_admin_change_ext_option",
    "no_delay_jitter_packet_loss",
    "no_change_msg",
    "no_access_list_include_file",
];

/// The options this server does not enforce (stored and shown only;
/// docs/administration.md): the per-kind session limits, which need
/// SoftEther's client/bridge licence counting, and the user password change
/// by the client (`deny_change_user_password`: this server has no
/// password-change RPC for VPN users).
pub const NOT_ENFORCED: [&str; 4] = [
    "max_sessions_client_bridge_apply",
    "max_sessions_client",
    "max_sessions_bridge",
    "deny_change_user_password",
];

/// The canonical spelling of a known option name (case-insensitive), or
/// `None` for a name SoftEther 5.01 does not know.
pub fn canonical_name(name: &str) -> Option<&'static str> {
    DEFAULT_NAMES
        .iter()
        .copied()
        .find(|n| n.eq_ignore_ascii_case(name))
}
/// The hub's log settings may not be changed (`StSetHubLog`).
pub const NO_CHANGE_LOG_CONFIG: &str = "no_change_log_config";
/// `SetHubLog` keeps the log switch types (`StSetHubLog`).
pub const NO_CHANGE_LOG_SWITCH_TYPE: &str = "no_change_log_switch_type";
/// The hub's log files may not be listed or read (`StEnumLogFile`).
pub const NO_READ_LOG_FILE: &str = "no_read_log_file";
