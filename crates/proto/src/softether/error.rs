//! SoftEther error codes (`ERR_*` in `src/Cedar/Cedar.h`; docs/protocol-sslvpn.md
//! §5.8, docs/admin-rpc.md §8). They travel as INT `error` in PACKs.
//!
//! One table, `error_codes!`, gives each code its number, its C name and
//! its message, so the constant, [`ErrorCode::name`] and
//! [`ErrorCode::message`] cannot disagree (the shape follows rustls's
//! `enum_builder!`).

use std::fmt;

/// A SoftEther error code (`ERR_*`, `src/Cedar/Cedar.h`), as carried in the
/// INT element `error` of an error PACK. Unknown codes are kept as they are.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Hash, PartialOrd, Ord, Default)]
pub struct ErrorCode(pub u32);

/// Declares every code once: `CONST = number => "message",`. The C name is
/// `ERR_` followed by the constant's name.
macro_rules! error_codes {
    ($($name:ident = $num:literal => $msg:literal,)*) => {
        impl ErrorCode {
            $(
                #[doc = concat!("`ERR_", stringify!($name), "` (", stringify!($num), "): ", $msg, ".")]
                pub const $name: ErrorCode = ErrorCode($num);
            )*

            /// Every code of `Cedar.h` this table knows, in numeric order.
            pub const ALL: &'static [ErrorCode] = &[$(ErrorCode::$name),*];

            /// The C name, e.g. `"ERR_AUTH_FAILED"`; `"ERR_UNKNOWN"` for codes
            /// not in `Cedar.h`.
            pub fn name(self) -> &'static str {
                match self.0 {
                    $($num => concat!("ERR_", stringify!($name)),)*
                    _ => "ERR_UNKNOWN",
                }
            }

            /// A short English description (our wording, after the comments in
            /// `Cedar.h`); `"unknown error"` for codes not in `Cedar.h`.
            pub fn message(self) -> &'static str {
                match self.0 {
                    $($num => $msg,)*
                    _ => "unknown error",
                }
            }
        }
    };
}

error_codes! {
    NO_ERROR = 0 => "no error",
    CONNECT_FAILED = 1 => "could not connect to the server",
    SERVER_IS_NOT_VPN = 2 => "the server is not a VPN server",
    DISCONNECTED = 3 => "the connection was lost",
    PROTOCOL_ERROR = 4 => "protocol error",
    CLIENT_IS_NOT_VPN = 5 => "the client is not a VPN client",
    USER_CANCEL = 6 => "cancelled by the user",
    AUTHTYPE_NOT_SUPPORTED = 7 => "authentication method not supported",
    HUB_NOT_FOUND = 8 => "virtual hub not found",
    AUTH_FAILED = 9 => "user authentication failed",
    HUB_STOPPING = 10 => "virtual hub is stopped",
    SESSION_REMOVED = 11 => "session was removed",
    ACCESS_DENIED = 12 => "access denied",
    SESSION_TIMEOUT = 13 => "session timed out or not found",
    INVALID_PROTOCOL = 14 => "invalid protocol for this session",
    TOO_MANY_CONNECTION = 15 => "too many connections in the session",
    HUB_IS_BUSY = 16 => "too many sessions on the virtual hub",
    PROXY_CONNECT_FAILED = 17 => "could not connect to the proxy server",
    PROXY_ERROR = 18 => "proxy server error",
    PROXY_AUTH_FAILED = 19 => "proxy authentication failed",
    TOO_MANY_USER_SESSION = 20 => "too many sessions of the same user",
    LICENSE_ERROR = 21 => "licence error",
    DEVICE_DRIVER_ERROR = 22 => "device driver error",
    INTERNAL_ERROR = 23 => "internal error",
    SECURE_DEVICE_OPEN_FAILED = 24 => "secure device could not be opened",
    SECURE_PIN_LOGIN_FAILED = 25 => "wrong PIN",
    SECURE_NO_CERT = 26 => "certificate not on the secure device",
    SECURE_NO_PRIVATE_KEY = 27 => "private key not on the secure device",
    SECURE_CANT_WRITE = 28 => "could not write to the secure device",
    OBJECT_NOT_FOUND = 29 => "object not found",
    VLAN_ALREADY_EXISTS = 30 => "virtual network adapter already exists",
    VLAN_INSTALL_ERROR = 31 => "virtual network adapter could not be created",
    VLAN_INVALID_NAME = 32 => "invalid virtual network adapter name",
    NOT_SUPPORTED = 33 => "not supported",
    ACCOUNT_ALREADY_EXISTS = 34 => "account already exists",
    ACCOUNT_ACTIVE = 35 => "account is active",
    ACCOUNT_NOT_FOUND = 36 => "account not found",
    ACCOUNT_INACTIVE = 37 => "account is offline",
    INVALID_PARAMETER = 38 => "invalid parameter",
    SECURE_DEVICE_ERROR = 39 => "secure device error",
    NO_SECURE_DEVICE_SPECIFIED = 40 => "no secure device specified",
    VLAN_IS_USED = 41 => "virtual network adapter in use by an account",
    VLAN_FOR_ACCOUNT_NOT_FOUND = 42 => "virtual network adapter of the account not found",
    VLAN_FOR_ACCOUNT_USED = 43 => "virtual network adapter of the account already in use",
    VLAN_FOR_ACCOUNT_DISABLED = 44 => "virtual network adapter of the account is disabled",
    INVALID_VALUE = 45 => "invalid value",
    NOT_FARM_CONTROLLER = 46 => "not a cluster controller",
    TRYING_TO_CONNECT = 47 => "connection attempt in progress",
    CONNECT_TO_FARM_CONTROLLER = 48 => "could not connect to the cluster controller",
    COULD_NOT_HOST_HUB_ON_FARM = 49 => "could not host the virtual hub in the cluster",
    FARM_MEMBER_HUB_ADMIN = 50 => "virtual hub cannot be managed on a cluster member",
    NULL_PASSWORD_LOCAL_ONLY = 51 => "empty password accepted only from localhost",
    NOT_ENOUGH_RIGHT = 52 => "not enough rights",
    LISTENER_NOT_FOUND = 53 => "listener not found",
    LISTENER_ALREADY_EXISTS = 54 => "listener already exists",
    NOT_FARM_MEMBER = 55 => "not a cluster member",
    CIPHER_NOT_SUPPORTED = 56 => "cipher not supported",
    HUB_ALREADY_EXISTS = 57 => "virtual hub already exists",
    TOO_MANY_HUBS = 58 => "too many virtual hubs",
    LINK_ALREADY_EXISTS = 59 => "cascade connection already exists",
    LINK_CANT_CREATE_ON_FARM = 60 => "cascade connections cannot be created in a cluster",
    LINK_IS_OFFLINE = 61 => "cascade connection is offline",
    TOO_MANY_ACCESS_LIST = 62 => "too many access list entries",
    TOO_MANY_USER = 63 => "too many users",
    TOO_MANY_GROUP = 64 => "too many groups",
    GROUP_NOT_FOUND = 65 => "group not found",
    USER_ALREADY_EXISTS = 66 => "user already exists",
    GROUP_ALREADY_EXISTS = 67 => "group already exists",
    USER_AUTHTYPE_NOT_PASSWORD = 68 => "user does not use password authentication",
    OLD_PASSWORD_WRONG = 69 => "unknown user or wrong old password",
    LINK_CANT_DISCONNECT = 73 => "a cascade session cannot be disconnected",
    ACCOUNT_NOT_PRESENT = 74 => "connection settings incomplete",
    ALREADY_ONLINE = 75 => "already online",
    OFFLINE = 76 => "offline",
    NOT_RSA_1024 = 77 => "certificate is not RSA 1024 bit",
    SNAT_CANT_DISCONNECT = 78 => "a SecureNAT session cannot be disconnected",
    SNAT_NEED_STANDALONE = 79 => "SecureNAT needs a stand-alone virtual hub",
    SNAT_NOT_RUNNING = 80 => "SecureNAT is not running",
    SE_VPN_BLOCK = 81 => "blocked by VPN block software",
    BRIDGE_CANT_DISCONNECT = 82 => "a local bridge session cannot be disconnected",
    LOCAL_BRIDGE_STOPPING = 83 => "local bridge is stopping",
    LOCAL_BRIDGE_UNSUPPORTED = 84 => "local bridge not supported",
    CERT_NOT_TRUSTED = 85 => "server certificate not trusted",
    PRODUCT_CODE_INVALID = 86 => "product code mismatch",
    VERSION_INVALID = 87 => "client version not accepted",
    CAPTURE_DEVICE_ADD_ERROR = 88 => "could not add the capture device",
    VPN_CODE_INVALID = 89 => "VPN code mismatch",
    CAPTURE_NOT_FOUND = 90 => "capture device not found",
    LAYER3_CANT_DISCONNECT = 91 => "a layer-3 session cannot be disconnected",
    LAYER3_SW_EXISTS = 92 => "layer-3 switch already exists",
    LAYER3_SW_NOT_FOUND = 93 => "layer-3 switch not found",
    INVALID_NAME = 94 => "invalid name",
    LAYER3_IF_ADD_FAILED = 95 => "could not add the interface",
    LAYER3_IF_DEL_FAILED = 96 => "could not delete the interface",
    LAYER3_IF_EXISTS = 97 => "interface already exists",
    LAYER3_TABLE_ADD_FAILED = 98 => "could not add the route",
    LAYER3_TABLE_DEL_FAILED = 99 => "could not delete the route",
    LAYER3_TABLE_EXISTS = 100 => "route already exists",
    BAD_CLOCK = 101 => "system clock is wrong",
    LAYER3_CANT_START_SWITCH = 102 => "layer-3 switch cannot start",
    CLIENT_LICENSE_NOT_ENOUGH = 103 => "not enough client connection licences",
    BRIDGE_LICENSE_NOT_ENOUGH = 104 => "not enough bridge connection licences",
    SERVER_CANT_ACCEPT = 105 => "server cannot accept connections",
    SERVER_CERT_EXPIRES = 106 => "server certificate expired",
    MONITOR_MODE_DENIED = 107 => "monitoring mode denied",
    BRIDGE_MODE_DENIED = 108 => "bridge or routing mode denied",
    IP_ADDRESS_DENIED = 109 => "client IP address denied",
    TOO_MANT_ITEMS = 110 => "too many items",
    MEMORY_NOT_ENOUGH = 111 => "out of memory",
    OBJECT_EXISTS = 112 => "object already exists",
    FATAL = 113 => "fatal error",
    SERVER_LICENSE_FAILED = 114 => "server licence violation",
    SERVER_INTERNET_FAILED = 115 => "server not connected to the Internet",
    CLIENT_LICENSE_FAILED = 116 => "client licence violation",
    BAD_COMMAND_OR_PARAM = 117 => "bad command or parameter",
    INVALID_LICENSE_KEY = 118 => "invalid licence key",
    NO_VPN_SERVER_LICENSE = 119 => "no valid VPN server licence",
    NO_VPN_CLUSTER_LICENSE = 120 => "no cluster licence",
    NOT_ADMINPACK_SERVER = 121 => "server has no administrator pack licence",
    NOT_ADMINPACK_SERVER_NET = 122 => "server has no administrator pack licence (.NET)",
    BETA_EXPIRES = 123 => "beta version expired",
    BRANDED_C_TO_S = 124 => "branding mismatch (client to server)",
    BRANDED_C_FROM_S = 125 => "branding mismatch (server to client)",
    AUTO_DISCONNECTED = 126 => "disconnected automatically by policy",
    CLIENT_ID_REQUIRED = 127 => "client ID required",
    TOO_MANY_USERS_CREATED = 128 => "too many users created",
    SUBSCRIPTION_IS_OLDER = 129 => "subscription older than the server build",
    ILLEGAL_TRIAL_VERSION = 130 => "trial licence misuse",
    NAT_T_TWO_OR_MORE = 131 => "several servers behind one global IP address (NAT-T)",
    DUPLICATE_DDNS_KEY = 132 => "duplicate dynamic DNS key",
    DDNS_HOSTNAME_EXISTS = 133 => "dynamic DNS host name already exists",
    DDNS_HOSTNAME_INVALID_CHAR = 134 => "invalid character in dynamic DNS host name",
    DDNS_HOSTNAME_TOO_LONG = 135 => "dynamic DNS host name too long",
    DDNS_HOSTNAME_IS_EMPTY = 136 => "dynamic DNS host name empty",
    DDNS_HOSTNAME_TOO_SHORT = 137 => "dynamic DNS host name too short",
    MSCHAP2_PASSWORD_NEED_RESET = 138 => "password must be changed",
    DDNS_DISCONNECTED = 139 => "dynamic DNS server unreachable",
    SPECIAL_LISTENER_ICMP_ERROR = 140 => "ICMP socket cannot be opened",
    SPECIAL_LISTENER_DNS_ERROR = 141 => "DNS socket cannot be opened",
    OPENVPN_IS_NOT_ENABLED = 142 => "OpenVPN server is not enabled",
    NOT_SUPPORTED_AUTH_ON_OPENSOURCE = 143 => "authentication method not available in the open-source build",
    VPNGATE = 144 => "not available on a VPN Gate server",
    VPNGATE_CLIENT = 145 => "not available on a VPN Gate client",
    VPNGATE_INCLIENT_CANT_STOP = 146 => "cannot stop inside VPN client mode",
    NOT_SUPPORTED_FUNCTION_ON_OPENSOURCE = 147 => "function not available in the open-source build",
    SUSPENDING = 148 => "system is suspending",
    HOSTNAME_MISMATCH = 149 => "TLS host name mismatch",
    SSL_PROTOCOL_VERSION = 150 => "TLS version not supported",
    SSL_SHARED_CIPHER = 151 => "no common TLS cipher",
    SSL_HANDSHAKE = 152 => "TLS handshake failed",
}

impl ErrorCode {
    /// Correctly spelled alias of [`ErrorCode::TOO_MANT_ITEMS`] (110).
    pub const TOO_MANY_ITEMS: ErrorCode = ErrorCode::TOO_MANT_ITEMS;

    /// True for [`ErrorCode::NO_ERROR`].
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }
}

impl From<u32> for ErrorCode {
    fn from(v: u32) -> Self {
        ErrorCode(v)
    }
}

impl From<ErrorCode> for u32 {
    fn from(v: ErrorCode) -> Self {
        v.0
    }
}

/// `ERR_AUTH_FAILED (9): user authentication failed`.
impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} ({}): {}", self.name(), self.0, self.message())
    }
}

impl std::error::Error for ErrorCode {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_from_the_spec() {
        // docs/protocol-sslvpn.md §5.8 and docs/admin-rpc.md §8
        let table = [
            (ErrorCode::NO_ERROR, 0, "ERR_NO_ERROR"),
            (ErrorCode::CONNECT_FAILED, 1, "ERR_CONNECT_FAILED"),
            (ErrorCode::SERVER_IS_NOT_VPN, 2, "ERR_SERVER_IS_NOT_VPN"),
            (ErrorCode::DISCONNECTED, 3, "ERR_DISCONNECTED"),
            (ErrorCode::PROTOCOL_ERROR, 4, "ERR_PROTOCOL_ERROR"),
            (
                ErrorCode::AUTHTYPE_NOT_SUPPORTED,
                7,
                "ERR_AUTHTYPE_NOT_SUPPORTED",
            ),
            (ErrorCode::HUB_NOT_FOUND, 8, "ERR_HUB_NOT_FOUND"),
            (ErrorCode::AUTH_FAILED, 9, "ERR_AUTH_FAILED"),
            (ErrorCode::HUB_STOPPING, 10, "ERR_HUB_STOPPING"),
            (ErrorCode::SESSION_REMOVED, 11, "ERR_SESSION_REMOVED"),
            (ErrorCode::ACCESS_DENIED, 12, "ERR_ACCESS_DENIED"),
            (ErrorCode::SESSION_TIMEOUT, 13, "ERR_SESSION_TIMEOUT"),
            (ErrorCode::INVALID_PROTOCOL, 14, "ERR_INVALID_PROTOCOL"),
            (
                ErrorCode::TOO_MANY_CONNECTION,
                15,
                "ERR_TOO_MANY_CONNECTION",
            ),
            (ErrorCode::HUB_IS_BUSY, 16, "ERR_HUB_IS_BUSY"),
            (
                ErrorCode::TOO_MANY_USER_SESSION,
                20,
                "ERR_TOO_MANY_USER_SESSION",
            ),
            (ErrorCode::INTERNAL_ERROR, 23, "ERR_INTERNAL_ERROR"),
            (ErrorCode::OBJECT_NOT_FOUND, 29, "ERR_OBJECT_NOT_FOUND"),
            (ErrorCode::NOT_SUPPORTED, 33, "ERR_NOT_SUPPORTED"),
            (ErrorCode::INVALID_PARAMETER, 38, "ERR_INVALID_PARAMETER"),
            (
                ErrorCode::NOT_FARM_CONTROLLER,
                46,
                "ERR_NOT_FARM_CONTROLLER",
            ),
            (
                ErrorCode::NULL_PASSWORD_LOCAL_ONLY,
                51,
                "ERR_NULL_PASSWORD_LOCAL_ONLY",
            ),
            (ErrorCode::NOT_ENOUGH_RIGHT, 52, "ERR_NOT_ENOUGH_RIGHT"),
            (ErrorCode::LISTENER_NOT_FOUND, 53, "ERR_LISTENER_NOT_FOUND"),
            (
                ErrorCode::LISTENER_ALREADY_EXISTS,
                54,
                "ERR_LISTENER_ALREADY_EXISTS",
            ),
            (ErrorCode::HUB_ALREADY_EXISTS, 57, "ERR_HUB_ALREADY_EXISTS"),
            (ErrorCode::TOO_MANY_HUBS, 58, "ERR_TOO_MANY_HUBS"),
            (
                ErrorCode::LINK_ALREADY_EXISTS,
                59,
                "ERR_LINK_ALREADY_EXISTS",
            ),
            (
                ErrorCode::LINK_CANT_CREATE_ON_FARM,
                60,
                "ERR_LINK_CANT_CREATE_ON_FARM",
            ),
            (ErrorCode::LINK_IS_OFFLINE, 61, "ERR_LINK_IS_OFFLINE"),
            (ErrorCode::TOO_MANY_USER, 63, "ERR_TOO_MANY_USER"),
            (ErrorCode::GROUP_NOT_FOUND, 65, "ERR_GROUP_NOT_FOUND"),
            (
                ErrorCode::USER_ALREADY_EXISTS,
                66,
                "ERR_USER_ALREADY_EXISTS",
            ),
            (
                ErrorCode::LINK_CANT_DISCONNECT,
                73,
                "ERR_LINK_CANT_DISCONNECT",
            ),
            (ErrorCode::NOT_RSA_1024, 77, "ERR_NOT_RSA_1024"),
            (
                ErrorCode::SNAT_CANT_DISCONNECT,
                78,
                "ERR_SNAT_CANT_DISCONNECT",
            ),
            (
                ErrorCode::BRIDGE_CANT_DISCONNECT,
                82,
                "ERR_BRIDGE_CANT_DISCONNECT",
            ),
            (
                ErrorCode::LOCAL_BRIDGE_UNSUPPORTED,
                84,
                "ERR_LOCAL_BRIDGE_UNSUPPORTED",
            ),
            (ErrorCode::CERT_NOT_TRUSTED, 85, "ERR_CERT_NOT_TRUSTED"),
            (ErrorCode::VERSION_INVALID, 87, "ERR_VERSION_INVALID"),
            (
                ErrorCode::LAYER3_CANT_DISCONNECT,
                91,
                "ERR_LAYER3_CANT_DISCONNECT",
            ),
            (ErrorCode::SERVER_CANT_ACCEPT, 105, "ERR_SERVER_CANT_ACCEPT"),
            (
                ErrorCode::SERVER_CERT_EXPIRES,
                106,
                "ERR_SERVER_CERT_EXPIRES",
            ),
            (
                ErrorCode::MONITOR_MODE_DENIED,
                107,
                "ERR_MONITOR_MODE_DENIED",
            ),
            (ErrorCode::BRIDGE_MODE_DENIED, 108, "ERR_BRIDGE_MODE_DENIED"),
            (ErrorCode::IP_ADDRESS_DENIED, 109, "ERR_IP_ADDRESS_DENIED"),
            (ErrorCode::BRANDED_C_TO_S, 124, "ERR_BRANDED_C_TO_S"),
            (ErrorCode::BRANDED_C_FROM_S, 125, "ERR_BRANDED_C_FROM_S"),
            (ErrorCode::AUTO_DISCONNECTED, 126, "ERR_AUTO_DISCONNECTED"),
            (ErrorCode::CLIENT_ID_REQUIRED, 127, "ERR_CLIENT_ID_REQUIRED"),
            (
                ErrorCode::TOO_MANY_USERS_CREATED,
                128,
                "ERR_TOO_MANY_USERS_CREATED",
            ),
            (
                ErrorCode::MSCHAP2_PASSWORD_NEED_RESET,
                138,
                "ERR_MSCHAP2_PASSWORD_NEED_RESET",
            ),
            (
                ErrorCode::NOT_SUPPORTED_AUTH_ON_OPENSOURCE,
                143,
                "ERR_NOT_SUPPORTED_AUTH_ON_OPENSOURCE",
            ),
            (ErrorCode::HOSTNAME_MISMATCH, 149, "ERR_HOSTNAME_MISMATCH"),
        ];
        for (code, n, name) in table {
            assert_eq!(code.0, n);
            assert_eq!(code.name(), name);
            assert_ne!(code.message(), "unknown error");
        }
    }

    #[test]
    fn table_is_ordered_unique_and_named_after_cedar_h() {
        // 150 codes, as `#define ERR_*` in src/Cedar/Cedar.h (checked
        // against SoftEther 5.01's header when the table was written).
        assert_eq!(ErrorCode::ALL.len(), 150);
        for w in ErrorCode::ALL.windows(2) {
            assert!(w[0].0 < w[1].0, "{} before {}", w[0], w[1]);
        }
        for c in ErrorCode::ALL {
            assert!(c.name().starts_with("ERR_"), "{c}");
            assert_ne!(c.name(), "ERR_UNKNOWN");
            assert_ne!(c.message(), "unknown error");
        }
        // the gap 70..=72 of Cedar.h stays unknown
        for n in 70..=72 {
            assert!(!ErrorCode::ALL.contains(&ErrorCode(n)));
        }
    }

    #[test]
    fn display_and_unknown() {
        assert_eq!(
            ErrorCode::AUTH_FAILED.to_string(),
            "ERR_AUTH_FAILED (9): user authentication failed"
        );
        assert_eq!(ErrorCode(70).name(), "ERR_UNKNOWN");
        assert_eq!(ErrorCode(70).message(), "unknown error");
        assert_eq!(
            ErrorCode(9999).to_string(),
            "ERR_UNKNOWN (9999): unknown error"
        );
        assert_eq!(ErrorCode::TOO_MANY_ITEMS.name(), "ERR_TOO_MANT_ITEMS");
        assert!(ErrorCode::NO_ERROR.is_ok());
        assert!(!ErrorCode::DISCONNECTED.is_ok());
        assert_eq!(u32::from(ErrorCode::from(8)), 8);
    }
}
