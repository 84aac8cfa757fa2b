//! SoftEther error codes (`ERR_*` in `src/Cedar/Cedar.h`; docs/protocol-sslvpn.md
//! §5.8, docs/admin-rpc.md §8). They travel as INT `error` in PACKs.

use std::fmt;

/// A SoftEther error code (`ERR_*`, `src/Cedar/Cedar.h`), as carried in the
/// INT element `error` of an error PACK. Unknown codes are kept as they are.
#[derive(Copy, Clone, PartialEq, Eq, Debug, Hash, PartialOrd, Ord, Default)]
pub struct ErrorCode(pub u32);

impl ErrorCode {
    /// `ERR_NO_ERROR` (0): no error.
    pub const NO_ERROR: ErrorCode = ErrorCode(0);
    /// `ERR_CONNECT_FAILED` (1): could not connect to the server.
    pub const CONNECT_FAILED: ErrorCode = ErrorCode(1);
    /// `ERR_SERVER_IS_NOT_VPN` (2): the server is not a VPN server.
    pub const SERVER_IS_NOT_VPN: ErrorCode = ErrorCode(2);
    /// `ERR_DISCONNECTED` (3): the connection was lost.
    pub const DISCONNECTED: ErrorCode = ErrorCode(3);
    /// `ERR_PROTOCOL_ERROR` (4): protocol error.
    pub const PROTOCOL_ERROR: ErrorCode = ErrorCode(4);
    /// `ERR_CLIENT_IS_NOT_VPN` (5): the client is not a VPN client.
    pub const CLIENT_IS_NOT_VPN: ErrorCode = ErrorCode(5);
    /// `ERR_USER_CANCEL` (6): cancelled by the user.
    pub const USER_CANCEL: ErrorCode = ErrorCode(6);
    /// `ERR_AUTHTYPE_NOT_SUPPORTED` (7): authentication method not supported.
    pub const AUTHTYPE_NOT_SUPPORTED: ErrorCode = ErrorCode(7);
    /// `ERR_HUB_NOT_FOUND` (8): virtual hub not found.
    pub const HUB_NOT_FOUND: ErrorCode = ErrorCode(8);
    /// `ERR_AUTH_FAILED` (9): user authentication failed.
    pub const AUTH_FAILED: ErrorCode = ErrorCode(9);
    /// `ERR_HUB_STOPPING` (10): virtual hub is stopped.
    pub const HUB_STOPPING: ErrorCode = ErrorCode(10);
    /// `ERR_SESSION_REMOVED` (11): session was removed.
    pub const SESSION_REMOVED: ErrorCode = ErrorCode(11);
    /// `ERR_ACCESS_DENIED` (12): access denied.
    pub const ACCESS_DENIED: ErrorCode = ErrorCode(12);
    /// `ERR_SESSION_TIMEOUT` (13): session timed out or not found.
    pub const SESSION_TIMEOUT: ErrorCode = ErrorCode(13);
    /// `ERR_INVALID_PROTOCOL` (14): invalid protocol for this session.
    pub const INVALID_PROTOCOL: ErrorCode = ErrorCode(14);
    /// `ERR_TOO_MANY_CONNECTION` (15): too many connections in the session.
    pub const TOO_MANY_CONNECTION: ErrorCode = ErrorCode(15);
    /// `ERR_HUB_IS_BUSY` (16): too many sessions on the virtual hub.
    pub const HUB_IS_BUSY: ErrorCode = ErrorCode(16);
    /// `ERR_PROXY_CONNECT_FAILED` (17): could not connect to the proxy server.
    pub const PROXY_CONNECT_FAILED: ErrorCode = ErrorCode(17);
    /// `ERR_PROXY_ERROR` (18): proxy server error.
    pub const PROXY_ERROR: ErrorCode = ErrorCode(18);
    /// `ERR_PROXY_AUTH_FAILED` (19): proxy authentication failed.
    pub const PROXY_AUTH_FAILED: ErrorCode = ErrorCode(19);
    /// `ERR_TOO_MANY_USER_SESSION` (20): too many sessions of the same user.
    pub const TOO_MANY_USER_SESSION: ErrorCode = ErrorCode(20);
    /// `ERR_LICENSE_ERROR` (21): licence error.
    pub const LICENSE_ERROR: ErrorCode = ErrorCode(21);
    /// `ERR_DEVICE_DRIVER_ERROR` (22): device driver error.
    pub const DEVICE_DRIVER_ERROR: ErrorCode = ErrorCode(22);
    /// `ERR_INTERNAL_ERROR` (23): internal error.
    pub const INTERNAL_ERROR: ErrorCode = ErrorCode(23);
    /// `ERR_SECURE_DEVICE_OPEN_FAILED` (24): secure device could not be opened.
    pub const SECURE_DEVICE_OPEN_FAILED: ErrorCode = ErrorCode(24);
    /// `ERR_SECURE_PIN_LOGIN_FAILED` (25): wrong PIN.
    pub const SECURE_PIN_LOGIN_FAILED: ErrorCode = ErrorCode(25);
    /// `ERR_SECURE_NO_CERT` (26): certificate not on the secure device.
    pub const SECURE_NO_CERT: ErrorCode = ErrorCode(26);
    /// `ERR_SECURE_NO_PRIVATE_KEY` (27): private key not on the secure device.
    pub const SECURE_NO_PRIVATE_KEY: ErrorCode = ErrorCode(27);
    /// `ERR_SECURE_CANT_WRITE` (28): could not write to the secure device.
    pub const SECURE_CANT_WRITE: ErrorCode = ErrorCode(28);
    /// `ERR_OBJECT_NOT_FOUND` (29): object not found.
    pub const OBJECT_NOT_FOUND: ErrorCode = ErrorCode(29);
    /// `ERR_VLAN_ALREADY_EXISTS` (30): virtual network adapter already exists.
    pub const VLAN_ALREADY_EXISTS: ErrorCode = ErrorCode(30);
    /// `ERR_VLAN_INSTALL_ERROR` (31): virtual network adapter could not be created.
    pub const VLAN_INSTALL_ERROR: ErrorCode = ErrorCode(31);
    /// `ERR_VLAN_INVALID_NAME` (32): invalid virtual network adapter name.
    pub const VLAN_INVALID_NAME: ErrorCode = ErrorCode(32);
    /// `ERR_NOT_SUPPORTED` (33): not supported.
    pub const NOT_SUPPORTED: ErrorCode = ErrorCode(33);
    /// `ERR_ACCOUNT_ALREADY_EXISTS` (34): account already exists.
    pub const ACCOUNT_ALREADY_EXISTS: ErrorCode = ErrorCode(34);
    /// `ERR_ACCOUNT_ACTIVE` (35): account is active.
    pub const ACCOUNT_ACTIVE: ErrorCode = ErrorCode(35);
    /// `ERR_ACCOUNT_NOT_FOUND` (36): account not found.
    pub const ACCOUNT_NOT_FOUND: ErrorCode = ErrorCode(36);
    /// `ERR_ACCOUNT_INACTIVE` (37): account is offline.
    pub const ACCOUNT_INACTIVE: ErrorCode = ErrorCode(37);
    /// `ERR_INVALID_PARAMETER` (38): invalid parameter.
    pub const INVALID_PARAMETER: ErrorCode = ErrorCode(38);
    /// `ERR_SECURE_DEVICE_ERROR` (39): secure device error.
    pub const SECURE_DEVICE_ERROR: ErrorCode = ErrorCode(39);
    /// `ERR_NO_SECURE_DEVICE_SPECIFIED` (40): no secure device specified.
    pub const NO_SECURE_DEVICE_SPECIFIED: ErrorCode = ErrorCode(40);
    /// `ERR_VLAN_IS_USED` (41): virtual network adapter in use by an account.
    pub const VLAN_IS_USED: ErrorCode = ErrorCode(41);
    /// `ERR_VLAN_FOR_ACCOUNT_NOT_FOUND` (42): virtual network adapter of the account not found.
    pub const VLAN_FOR_ACCOUNT_NOT_FOUND: ErrorCode = ErrorCode(42);
    /// `ERR_VLAN_FOR_ACCOUNT_USED` (43): virtual network adapter of the account already in use.
    pub const VLAN_FOR_ACCOUNT_USED: ErrorCode = ErrorCode(43);
    /// `ERR_VLAN_FOR_ACCOUNT_DISABLED` (44): virtual network adapter of the account is disabled.
    pub const VLAN_FOR_ACCOUNT_DISABLED: ErrorCode = ErrorCode(44);
    /// `ERR_INVALID_VALUE` (45): invalid value.
    pub const INVALID_VALUE: ErrorCode = ErrorCode(45);
    /// `ERR_NOT_FARM_CONTROLLER` (46): not a cluster controller.
    pub const NOT_FARM_CONTROLLER: ErrorCode = ErrorCode(46);
    /// `ERR_TRYING_TO_CONNECT` (47): connection attempt in progress.
    pub const TRYING_TO_CONNECT: ErrorCode = ErrorCode(47);
    /// `ERR_CONNECT_TO_FARM_CONTROLLER` (48): could not connect to the cluster controller.
    pub const CONNECT_TO_FARM_CONTROLLER: ErrorCode = ErrorCode(48);
    /// `ERR_COULD_NOT_HOST_HUB_ON_FARM` (49): could not host the virtual hub in the cluster.
    pub const COULD_NOT_HOST_HUB_ON_FARM: ErrorCode = ErrorCode(49);
    /// `ERR_FARM_MEMBER_HUB_ADMIN` (50): virtual hub cannot be managed on a cluster member.
    pub const FARM_MEMBER_HUB_ADMIN: ErrorCode = ErrorCode(50);
    /// `ERR_NULL_PASSWORD_LOCAL_ONLY` (51): empty password accepted only from localhost.
    pub const NULL_PASSWORD_LOCAL_ONLY: ErrorCode = ErrorCode(51);
    /// `ERR_NOT_ENOUGH_RIGHT` (52): not enough rights.
    pub const NOT_ENOUGH_RIGHT: ErrorCode = ErrorCode(52);
    /// `ERR_LISTENER_NOT_FOUND` (53): listener not found.
    pub const LISTENER_NOT_FOUND: ErrorCode = ErrorCode(53);
    /// `ERR_LISTENER_ALREADY_EXISTS` (54): listener already exists.
    pub const LISTENER_ALREADY_EXISTS: ErrorCode = ErrorCode(54);
    /// `ERR_NOT_FARM_MEMBER` (55): not a cluster member.
    pub const NOT_FARM_MEMBER: ErrorCode = ErrorCode(55);
    /// `ERR_CIPHER_NOT_SUPPORTED` (56): cipher not supported.
    pub const CIPHER_NOT_SUPPORTED: ErrorCode = ErrorCode(56);
    /// `ERR_HUB_ALREADY_EXISTS` (57): virtual hub already exists.
    pub const HUB_ALREADY_EXISTS: ErrorCode = ErrorCode(57);
    /// `ERR_TOO_MANY_HUBS` (58): too many virtual hubs.
    pub const TOO_MANY_HUBS: ErrorCode = ErrorCode(58);
    /// `ERR_LINK_ALREADY_EXISTS` (59): cascade connection already exists.
    pub const LINK_ALREADY_EXISTS: ErrorCode = ErrorCode(59);
    /// `ERR_LINK_CANT_CREATE_ON_FARM` (60): cascade connections cannot be created in a cluster.
    pub const LINK_CANT_CREATE_ON_FARM: ErrorCode = ErrorCode(60);
    /// `ERR_LINK_IS_OFFLINE` (61): cascade connection is offline.
    pub const LINK_IS_OFFLINE: ErrorCode = ErrorCode(61);
    /// `ERR_TOO_MANY_ACCESS_LIST` (62): too many access list entries.
    pub const TOO_MANY_ACCESS_LIST: ErrorCode = ErrorCode(62);
    /// `ERR_TOO_MANY_USER` (63): too many users.
    pub const TOO_MANY_USER: ErrorCode = ErrorCode(63);
    /// `ERR_TOO_MANY_GROUP` (64): too many groups.
    pub const TOO_MANY_GROUP: ErrorCode = ErrorCode(64);
    /// `ERR_GROUP_NOT_FOUND` (65): group not found.
    pub const GROUP_NOT_FOUND: ErrorCode = ErrorCode(65);
    /// `ERR_USER_ALREADY_EXISTS` (66): user already exists.
    pub const USER_ALREADY_EXISTS: ErrorCode = ErrorCode(66);
    /// `ERR_GROUP_ALREADY_EXISTS` (67): group already exists.
    pub const GROUP_ALREADY_EXISTS: ErrorCode = ErrorCode(67);
    /// `ERR_USER_AUTHTYPE_NOT_PASSWORD` (68): user does not use password authentication.
    pub const USER_AUTHTYPE_NOT_PASSWORD: ErrorCode = ErrorCode(68);
    /// `ERR_OLD_PASSWORD_WRONG` (69): unknown user or wrong old password.
    pub const OLD_PASSWORD_WRONG: ErrorCode = ErrorCode(69);
    /// `ERR_LINK_CANT_DISCONNECT` (73): a cascade session cannot be disconnected.
    pub const LINK_CANT_DISCONNECT: ErrorCode = ErrorCode(73);
    /// `ERR_ACCOUNT_NOT_PRESENT` (74): connection settings incomplete.
    pub const ACCOUNT_NOT_PRESENT: ErrorCode = ErrorCode(74);
    /// `ERR_ALREADY_ONLINE` (75): already online.
    pub const ALREADY_ONLINE: ErrorCode = ErrorCode(75);
    /// `ERR_OFFLINE` (76): offline.
    pub const OFFLINE: ErrorCode = ErrorCode(76);
    /// `ERR_NOT_RSA_1024` (77): certificate is not RSA 1024 bit.
    pub const NOT_RSA_1024: ErrorCode = ErrorCode(77);
    /// `ERR_SNAT_CANT_DISCONNECT` (78): a SecureNAT session cannot be disconnected.
    pub const SNAT_CANT_DISCONNECT: ErrorCode = ErrorCode(78);
    /// `ERR_SNAT_NEED_STANDALONE` (79): SecureNAT needs a stand-alone virtual hub.
    pub const SNAT_NEED_STANDALONE: ErrorCode = ErrorCode(79);
    /// `ERR_SNAT_NOT_RUNNING` (80): SecureNAT is not running.
    pub const SNAT_NOT_RUNNING: ErrorCode = ErrorCode(80);
    /// `ERR_SE_VPN_BLOCK` (81): blocked by VPN block software.
    pub const SE_VPN_BLOCK: ErrorCode = ErrorCode(81);
    /// `ERR_BRIDGE_CANT_DISCONNECT` (82): a local bridge session cannot be disconnected.
    pub const BRIDGE_CANT_DISCONNECT: ErrorCode = ErrorCode(82);
    /// `ERR_LOCAL_BRIDGE_STOPPING` (83): local bridge is stopping.
    pub const LOCAL_BRIDGE_STOPPING: ErrorCode = ErrorCode(83);
    /// `ERR_LOCAL_BRIDGE_UNSUPPORTED` (84): local bridge not supported.
    pub const LOCAL_BRIDGE_UNSUPPORTED: ErrorCode = ErrorCode(84);
    /// `ERR_CERT_NOT_TRUSTED` (85): server certificate not trusted.
    pub const CERT_NOT_TRUSTED: ErrorCode = ErrorCode(85);
    /// `ERR_PRODUCT_CODE_INVALID` (86): product code mismatch.
    pub const PRODUCT_CODE_INVALID: ErrorCode = ErrorCode(86);
    /// `ERR_VERSION_INVALID` (87): client version not accepted.
    pub const VERSION_INVALID: ErrorCode = ErrorCode(87);
    /// `ERR_CAPTURE_DEVICE_ADD_ERROR` (88): could not add the capture device.
    pub const CAPTURE_DEVICE_ADD_ERROR: ErrorCode = ErrorCode(88);
    /// `ERR_VPN_CODE_INVALID` (89): VPN code mismatch.
    pub const VPN_CODE_INVALID: ErrorCode = ErrorCode(89);
    /// `ERR_CAPTURE_NOT_FOUND` (90): capture device not found.
    pub const CAPTURE_NOT_FOUND: ErrorCode = ErrorCode(90);
    /// `ERR_LAYER3_CANT_DISCONNECT` (91): a layer-3 session cannot be disconnected.
    pub const LAYER3_CANT_DISCONNECT: ErrorCode = ErrorCode(91);
    /// `ERR_LAYER3_SW_EXISTS` (92): layer-3 switch already exists.
    pub const LAYER3_SW_EXISTS: ErrorCode = ErrorCode(92);
    /// `ERR_LAYER3_SW_NOT_FOUND` (93): layer-3 switch not found.
    pub const LAYER3_SW_NOT_FOUND: ErrorCode = ErrorCode(93);
    /// `ERR_INVALID_NAME` (94): invalid name.
    pub const INVALID_NAME: ErrorCode = ErrorCode(94);
    /// `ERR_LAYER3_IF_ADD_FAILED` (95): could not add the interface.
    pub const LAYER3_IF_ADD_FAILED: ErrorCode = ErrorCode(95);
    /// `ERR_LAYER3_IF_DEL_FAILED` (96): could not delete the interface.
    pub const LAYER3_IF_DEL_FAILED: ErrorCode = ErrorCode(96);
    /// `ERR_LAYER3_IF_EXISTS` (97): interface already exists.
    pub const LAYER3_IF_EXISTS: ErrorCode = ErrorCode(97);
    /// `ERR_LAYER3_TABLE_ADD_FAILED` (98): could not add the route.
    pub const LAYER3_TABLE_ADD_FAILED: ErrorCode = ErrorCode(98);
    /// `ERR_LAYER3_TABLE_DEL_FAILED` (99): could not delete the route.
    pub const LAYER3_TABLE_DEL_FAILED: ErrorCode = ErrorCode(99);
    /// `ERR_LAYER3_TABLE_EXISTS` (100): route already exists.
    pub const LAYER3_TABLE_EXISTS: ErrorCode = ErrorCode(100);
    /// `ERR_BAD_CLOCK` (101): system clock is wrong.
    pub const BAD_CLOCK: ErrorCode = ErrorCode(101);
    /// `ERR_LAYER3_CANT_START_SWITCH` (102): layer-3 switch cannot start.
    pub const LAYER3_CANT_START_SWITCH: ErrorCode = ErrorCode(102);
    /// `ERR_CLIENT_LICENSE_NOT_ENOUGH` (103): not enough client connection licences.
    pub const CLIENT_LICENSE_NOT_ENOUGH: ErrorCode = ErrorCode(103);
    /// `ERR_BRIDGE_LICENSE_NOT_ENOUGH` (104): not enough bridge connection licences.
    pub const BRIDGE_LICENSE_NOT_ENOUGH: ErrorCode = ErrorCode(104);
    /// `ERR_SERVER_CANT_ACCEPT` (105): server cannot accept connections.
    pub const SERVER_CANT_ACCEPT: ErrorCode = ErrorCode(105);
    /// `ERR_SERVER_CERT_EXPIRES` (106): server certificate expired.
    pub const SERVER_CERT_EXPIRES: ErrorCode = ErrorCode(106);
    /// `ERR_MONITOR_MODE_DENIED` (107): monitoring mode denied.
    pub const MONITOR_MODE_DENIED: ErrorCode = ErrorCode(107);
    /// `ERR_BRIDGE_MODE_DENIED` (108): bridge or routing mode denied.
    pub const BRIDGE_MODE_DENIED: ErrorCode = ErrorCode(108);
    /// `ERR_IP_ADDRESS_DENIED` (109): client IP address denied.
    pub const IP_ADDRESS_DENIED: ErrorCode = ErrorCode(109);
    /// `ERR_TOO_MANT_ITEMS` (110): too many items.
    pub const TOO_MANT_ITEMS: ErrorCode = ErrorCode(110);
    /// `ERR_MEMORY_NOT_ENOUGH` (111): out of memory.
    pub const MEMORY_NOT_ENOUGH: ErrorCode = ErrorCode(111);
    /// `ERR_OBJECT_EXISTS` (112): object already exists.
    pub const OBJECT_EXISTS: ErrorCode = ErrorCode(112);
    /// `ERR_FATAL` (113): fatal error.
    pub const FATAL: ErrorCode = ErrorCode(113);
    /// `ERR_SERVER_LICENSE_FAILED` (114): server licence violation.
    pub const SERVER_LICENSE_FAILED: ErrorCode = ErrorCode(114);
    /// `ERR_SERVER_INTERNET_FAILED` (115): server not connected to the Internet.
    pub const SERVER_INTERNET_FAILED: ErrorCode = ErrorCode(115);
    /// `ERR_CLIENT_LICENSE_FAILED` (116): client licence violation.
    pub const CLIENT_LICENSE_FAILED: ErrorCode = ErrorCode(116);
    /// `ERR_BAD_COMMAND_OR_PARAM` (117): bad command or parameter.
    pub const BAD_COMMAND_OR_PARAM: ErrorCode = ErrorCode(117);
    /// `ERR_INVALID_LICENSE_KEY` (118): invalid licence key.
    pub const INVALID_LICENSE_KEY: ErrorCode = ErrorCode(118);
    /// `ERR_NO_VPN_SERVER_LICENSE` (119): no valid VPN server licence.
    pub const NO_VPN_SERVER_LICENSE: ErrorCode = ErrorCode(119);
    /// `ERR_NO_VPN_CLUSTER_LICENSE` (120): no cluster licence.
    pub const NO_VPN_CLUSTER_LICENSE: ErrorCode = ErrorCode(120);
    /// `ERR_NOT_ADMINPACK_SERVER` (121): server has no administrator pack licence.
    pub const NOT_ADMINPACK_SERVER: ErrorCode = ErrorCode(121);
    /// `ERR_NOT_ADMINPACK_SERVER_NET` (122): server has no administrator pack licence (.NET).
    pub const NOT_ADMINPACK_SERVER_NET: ErrorCode = ErrorCode(122);
    /// `ERR_BETA_EXPIRES` (123): beta version expired.
    pub const BETA_EXPIRES: ErrorCode = ErrorCode(123);
    /// `ERR_BRANDED_C_TO_S` (124): branding mismatch (client to server).
    pub const BRANDED_C_TO_S: ErrorCode = ErrorCode(124);
    /// `ERR_BRANDED_C_FROM_S` (125): branding mismatch (server to client).
    pub const BRANDED_C_FROM_S: ErrorCode = ErrorCode(125);
    /// `ERR_AUTO_DISCONNECTED` (126): disconnected automatically by policy.
    pub const AUTO_DISCONNECTED: ErrorCode = ErrorCode(126);
    /// `ERR_CLIENT_ID_REQUIRED` (127): client ID required.
    pub const CLIENT_ID_REQUIRED: ErrorCode = ErrorCode(127);
    /// `ERR_TOO_MANY_USERS_CREATED` (128): too many users created.
    pub const TOO_MANY_USERS_CREATED: ErrorCode = ErrorCode(128);
    /// `ERR_SUBSCRIPTION_IS_OLDER` (129): subscription older than the server build.
    pub const SUBSCRIPTION_IS_OLDER: ErrorCode = ErrorCode(129);
    /// `ERR_ILLEGAL_TRIAL_VERSION` (130): trial licence misuse.
    pub const ILLEGAL_TRIAL_VERSION: ErrorCode = ErrorCode(130);
    /// `ERR_NAT_T_TWO_OR_MORE` (131): several servers behind one global IP address (NAT-T).
    pub const NAT_T_TWO_OR_MORE: ErrorCode = ErrorCode(131);
    /// `ERR_DUPLICATE_DDNS_KEY` (132): duplicate dynamic DNS key.
    pub const DUPLICATE_DDNS_KEY: ErrorCode = ErrorCode(132);
    /// `ERR_DDNS_HOSTNAME_EXISTS` (133): dynamic DNS host name already exists.
    pub const DDNS_HOSTNAME_EXISTS: ErrorCode = ErrorCode(133);
    /// `ERR_DDNS_HOSTNAME_INVALID_CHAR` (134): invalid character in dynamic DNS host name.
    pub const DDNS_HOSTNAME_INVALID_CHAR: ErrorCode = ErrorCode(134);
    /// `ERR_DDNS_HOSTNAME_TOO_LONG` (135): dynamic DNS host name too long.
    pub const DDNS_HOSTNAME_TOO_LONG: ErrorCode = ErrorCode(135);
    /// `ERR_DDNS_HOSTNAME_IS_EMPTY` (136): dynamic DNS host name empty.
    pub const DDNS_HOSTNAME_IS_EMPTY: ErrorCode = ErrorCode(136);
    /// `ERR_DDNS_HOSTNAME_TOO_SHORT` (137): dynamic DNS host name too short.
    pub const DDNS_HOSTNAME_TOO_SHORT: ErrorCode = ErrorCode(137);
    /// `ERR_MSCHAP2_PASSWORD_NEED_RESET` (138): password must be changed.
    pub const MSCHAP2_PASSWORD_NEED_RESET: ErrorCode = ErrorCode(138);
    /// `ERR_DDNS_DISCONNECTED` (139): dynamic DNS server unreachable.
    pub const DDNS_DISCONNECTED: ErrorCode = ErrorCode(139);
    /// `ERR_SPECIAL_LISTENER_ICMP_ERROR` (140): ICMP socket cannot be opened.
    pub const SPECIAL_LISTENER_ICMP_ERROR: ErrorCode = ErrorCode(140);
    /// `ERR_SPECIAL_LISTENER_DNS_ERROR` (141): DNS socket cannot be opened.
    pub const SPECIAL_LISTENER_DNS_ERROR: ErrorCode = ErrorCode(141);
    /// `ERR_OPENVPN_IS_NOT_ENABLED` (142): OpenVPN server is not enabled.
    pub const OPENVPN_IS_NOT_ENABLED: ErrorCode = ErrorCode(142);
    /// `ERR_NOT_SUPPORTED_AUTH_ON_OPENSOURCE` (143): authentication method not available in the open-source build.
    pub const NOT_SUPPORTED_AUTH_ON_OPENSOURCE: ErrorCode = ErrorCode(143);
    /// `ERR_VPNGATE` (144): not available on a VPN Gate server.
    pub const VPNGATE: ErrorCode = ErrorCode(144);
    /// `ERR_VPNGATE_CLIENT` (145): not available on a VPN Gate client.
    pub const VPNGATE_CLIENT: ErrorCode = ErrorCode(145);
    /// `ERR_VPNGATE_INCLIENT_CANT_STOP` (146): cannot stop inside VPN client mode.
    pub const VPNGATE_INCLIENT_CANT_STOP: ErrorCode = ErrorCode(146);
    /// `ERR_NOT_SUPPORTED_FUNCTION_ON_OPENSOURCE` (147): function not available in the open-source build.
    pub const NOT_SUPPORTED_FUNCTION_ON_OPENSOURCE: ErrorCode = ErrorCode(147);
    /// `ERR_SUSPENDING` (148): system is suspending.
    pub const SUSPENDING: ErrorCode = ErrorCode(148);
    /// `ERR_HOSTNAME_MISMATCH` (149): TLS host name mismatch.
    pub const HOSTNAME_MISMATCH: ErrorCode = ErrorCode(149);
    /// `ERR_SSL_PROTOCOL_VERSION` (150): TLS version not supported.
    pub const SSL_PROTOCOL_VERSION: ErrorCode = ErrorCode(150);
    /// `ERR_SSL_SHARED_CIPHER` (151): no common TLS cipher.
    pub const SSL_SHARED_CIPHER: ErrorCode = ErrorCode(151);
    /// `ERR_SSL_HANDSHAKE` (152): TLS handshake failed.
    pub const SSL_HANDSHAKE: ErrorCode = ErrorCode(152);
    /// Correctly spelled alias of [`ErrorCode::TOO_MANT_ITEMS`] (110).
    pub const TOO_MANY_ITEMS: ErrorCode = ErrorCode(110);

    /// True for [`ErrorCode::NO_ERROR`].
    pub fn is_ok(self) -> bool {
        self.0 == 0
    }

    /// The C name, e.g. `"ERR_AUTH_FAILED"`; `"ERR_UNKNOWN"` for codes not
    /// in `Cedar.h`.
    pub fn name(self) -> &'static str {
        match self.0 {
            0 => "ERR_NO_ERROR",
            1 => "ERR_CONNECT_FAILED",
            2 => "ERR_SERVER_IS_NOT_VPN",
            3 => "ERR_DISCONNECTED",
            4 => "ERR_PROTOCOL_ERROR",
            5 => "ERR_CLIENT_IS_NOT_VPN",
            6 => "ERR_USER_CANCEL",
            7 => "ERR_AUTHTYPE_NOT_SUPPORTED",
            8 => "ERR_HUB_NOT_FOUND",
            9 => "ERR_AUTH_FAILED",
            10 => "ERR_HUB_STOPPING",
            11 => "ERR_SESSION_REMOVED",
            12 => "ERR_ACCESS_DENIED",
            13 => "ERR_SESSION_TIMEOUT",
            14 => "ERR_INVALID_PROTOCOL",
            15 => "ERR_TOO_MANY_CONNECTION",
            16 => "ERR_HUB_IS_BUSY",
            17 => "ERR_PROXY_CONNECT_FAILED",
            18 => "ERR_PROXY_ERROR",
            19 => "ERR_PROXY_AUTH_FAILED",
            20 => "ERR_TOO_MANY_USER_SESSION",
            21 => "ERR_LICENSE_ERROR",
            22 => "ERR_DEVICE_DRIVER_ERROR",
            23 => "ERR_INTERNAL_ERROR",
            24 => "ERR_SECURE_DEVICE_OPEN_FAILED",
            25 => "ERR_SECURE_PIN_LOGIN_FAILED",
            26 => "ERR_SECURE_NO_CERT",
            27 => "ERR_SECURE_NO_PRIVATE_KEY",
            28 => "ERR_SECURE_CANT_WRITE",
            29 => "ERR_OBJECT_NOT_FOUND",
            30 => "ERR_VLAN_ALREADY_EXISTS",
            31 => "ERR_VLAN_INSTALL_ERROR",
            32 => "ERR_VLAN_INVALID_NAME",
            33 => "ERR_NOT_SUPPORTED",
            34 => "ERR_ACCOUNT_ALREADY_EXISTS",
            35 => "ERR_ACCOUNT_ACTIVE",
            36 => "ERR_ACCOUNT_NOT_FOUND",
            37 => "ERR_ACCOUNT_INACTIVE",
            38 => "ERR_INVALID_PARAMETER",
            39 => "ERR_SECURE_DEVICE_ERROR",
            40 => "ERR_NO_SECURE_DEVICE_SPECIFIED",
            41 => "ERR_VLAN_IS_USED",
            42 => "ERR_VLAN_FOR_ACCOUNT_NOT_FOUND",
            43 => "ERR_VLAN_FOR_ACCOUNT_USED",
            44 => "ERR_VLAN_FOR_ACCOUNT_DISABLED",
            45 => "ERR_INVALID_VALUE",
            46 => "ERR_NOT_FARM_CONTROLLER",
            47 => "ERR_TRYING_TO_CONNECT",
            48 => "ERR_CONNECT_TO_FARM_CONTROLLER",
            49 => "ERR_COULD_NOT_HOST_HUB_ON_FARM",
            50 => "ERR_FARM_MEMBER_HUB_ADMIN",
            51 => "ERR_NULL_PASSWORD_LOCAL_ONLY",
            52 => "ERR_NOT_ENOUGH_RIGHT",
            53 => "ERR_LISTENER_NOT_FOUND",
            54 => "ERR_LISTENER_ALREADY_EXISTS",
            55 => "ERR_NOT_FARM_MEMBER",
            56 => "ERR_CIPHER_NOT_SUPPORTED",
            57 => "ERR_HUB_ALREADY_EXISTS",
            58 => "ERR_TOO_MANY_HUBS",
            59 => "ERR_LINK_ALREADY_EXISTS",
            60 => "ERR_LINK_CANT_CREATE_ON_FARM",
            61 => "ERR_LINK_IS_OFFLINE",
            62 => "ERR_TOO_MANY_ACCESS_LIST",
            63 => "ERR_TOO_MANY_USER",
            64 => "ERR_TOO_MANY_GROUP",
            65 => "ERR_GROUP_NOT_FOUND",
            66 => "ERR_USER_ALREADY_EXISTS",
            67 => "ERR_GROUP_ALREADY_EXISTS",
            68 => "ERR_USER_AUTHTYPE_NOT_PASSWORD",
            69 => "ERR_OLD_PASSWORD_WRONG",
            73 => "ERR_LINK_CANT_DISCONNECT",
            74 => "ERR_ACCOUNT_NOT_PRESENT",
            75 => "ERR_ALREADY_ONLINE",
            76 => "ERR_OFFLINE",
            77 => "ERR_NOT_RSA_1024",
            78 => "ERR_SNAT_CANT_DISCONNECT",
            79 => "ERR_SNAT_NEED_STANDALONE",
            80 => "ERR_SNAT_NOT_RUNNING",
            81 => "ERR_SE_VPN_BLOCK",
            82 => "ERR_BRIDGE_CANT_DISCONNECT",
            83 => "ERR_LOCAL_BRIDGE_STOPPING",
            84 => "ERR_LOCAL_BRIDGE_UNSUPPORTED",
            85 => "ERR_CERT_NOT_TRUSTED",
            86 => "ERR_PRODUCT_CODE_INVALID",
            87 => "ERR_VERSION_INVALID",
            88 => "ERR_CAPTURE_DEVICE_ADD_ERROR",
            89 => "ERR_VPN_CODE_INVALID",
            90 => "ERR_CAPTURE_NOT_FOUND",
            91 => "ERR_LAYER3_CANT_DISCONNECT",
            92 => "ERR_LAYER3_SW_EXISTS",
            93 => "ERR_LAYER3_SW_NOT_FOUND",
            94 => "ERR_INVALID_NAME",
            95 => "ERR_LAYER3_IF_ADD_FAILED",
            96 => "ERR_LAYER3_IF_DEL_FAILED",
            97 => "ERR_LAYER3_IF_EXISTS",
            98 => "ERR_LAYER3_TABLE_ADD_FAILED",
            99 => "ERR_LAYER3_TABLE_DEL_FAILED",
            100 => "ERR_LAYER3_TABLE_EXISTS",
            101 => "ERR_BAD_CLOCK",
            102 => "ERR_LAYER3_CANT_START_SWITCH",
            103 => "ERR_CLIENT_LICENSE_NOT_ENOUGH",
            104 => "ERR_BRIDGE_LICENSE_NOT_ENOUGH",
            105 => "ERR_SERVER_CANT_ACCEPT",
            106 => "ERR_SERVER_CERT_EXPIRES",
            107 => "ERR_MONITOR_MODE_DENIED",
            108 => "ERR_BRIDGE_MODE_DENIED",
            109 => "ERR_IP_ADDRESS_DENIED",
            110 => "ERR_TOO_MANT_ITEMS",
            111 => "ERR_MEMORY_NOT_ENOUGH",
            112 => "ERR_OBJECT_EXISTS",
            113 => "ERR_FATAL",
            114 => "ERR_SERVER_LICENSE_FAILED",
            115 => "ERR_SERVER_INTERNET_FAILED",
            116 => "ERR_CLIENT_LICENSE_FAILED",
            117 => "ERR_BAD_COMMAND_OR_PARAM",
            118 => "ERR_INVALID_LICENSE_KEY",
            119 => "ERR_NO_VPN_SERVER_LICENSE",
            120 => "ERR_NO_VPN_CLUSTER_LICENSE",
            121 => "ERR_NOT_ADMINPACK_SERVER",
            122 => "ERR_NOT_ADMINPACK_SERVER_NET",
            123 => "ERR_BETA_EXPIRES",
            124 => "ERR_BRANDED_C_TO_S",
            125 => "ERR_BRANDED_C_FROM_S",
            126 => "ERR_AUTO_DISCONNECTED",
            127 => "ERR_CLIENT_ID_REQUIRED",
            128 => "ERR_TOO_MANY_USERS_CREATED",
            129 => "ERR_SUBSCRIPTION_IS_OLDER",
            130 => "ERR_ILLEGAL_TRIAL_VERSION",
            131 => "ERR_NAT_T_TWO_OR_MORE",
            132 => "ERR_DUPLICATE_DDNS_KEY",
            133 => "ERR_DDNS_HOSTNAME_EXISTS",
            134 => "ERR_DDNS_HOSTNAME_INVALID_CHAR",
            135 => "ERR_DDNS_HOSTNAME_TOO_LONG",
            136 => "ERR_DDNS_HOSTNAME_IS_EMPTY",
            137 => "ERR_DDNS_HOSTNAME_TOO_SHORT",
            138 => "ERR_MSCHAP2_PASSWORD_NEED_RESET",
            139 => "ERR_DDNS_DISCONNECTED",
            140 => "ERR_SPECIAL_LISTENER_ICMP_ERROR",
            141 => "ERR_SPECIAL_LISTENER_DNS_ERROR",
            142 => "ERR_OPENVPN_IS_NOT_ENABLED",
            143 => "ERR_NOT_SUPPORTED_AUTH_ON_OPENSOURCE",
            144 => "ERR_VPNGATE",
            145 => "ERR_VPNGATE_CLIENT",
            146 => "ERR_VPNGATE_INCLIENT_CANT_STOP",
            147 => "ERR_NOT_SUPPORTED_FUNCTION_ON_OPENSOURCE",
            148 => "ERR_SUSPENDING",
            149 => "ERR_HOSTNAME_MISMATCH",
            150 => "ERR_SSL_PROTOCOL_VERSION",
            151 => "ERR_SSL_SHARED_CIPHER",
            152 => "ERR_SSL_HANDSHAKE",
            _ => "ERR_UNKNOWN",
        }
    }

    /// A short English description (our wording, after the comments in
    /// `Cedar.h`); `"unknown error"` for codes not in `Cedar.h`.
    pub fn message(self) -> &'static str {
        match self.0 {
            0 => "no error",
            1 => "could not connect to the server",
            2 => "the server is not a VPN server",
            3 => "the connection was lost",
            4 => "protocol error",
            5 => "the client is not a VPN client",
            6 => "cancelled by the user",
            7 => "authentication method not supported",
            8 => "virtual hub not found",
            9 => "user authentication failed",
            10 => "virtual hub is stopped",
            11 => "session was removed",
            12 => "access denied",
            13 => "session timed out or not found",
            14 => "invalid protocol for this session",
            15 => "too many connections in the session",
            16 => "too many sessions on the virtual hub",
            17 => "could not connect to the proxy server",
            18 => "proxy server error",
            19 => "proxy authentication failed",
            20 => "too many sessions of the same user",
            21 => "licence error",
            22 => "device driver error",
            23 => "internal error",
            24 => "secure device could not be opened",
            25 => "wrong PIN",
            26 => "certificate not on the secure device",
            27 => "private key not on the secure device",
            28 => "could not write to the secure device",
            29 => "object not found",
            30 => "virtual network adapter already exists",
            31 => "virtual network adapter could not be created",
            32 => "invalid virtual network adapter name",
            33 => "not supported",
            34 => "account already exists",
            35 => "account is active",
            36 => "account not found",
            37 => "account is offline",
            38 => "invalid parameter",
            39 => "secure device error",
            40 => "no secure device specified",
            41 => "virtual network adapter in use by an account",
            42 => "virtual network adapter of the account not found",
            43 => "virtual network adapter of the account already in use",
            44 => "virtual network adapter of the account is disabled",
            45 => "invalid value",
            46 => "not a cluster controller",
            47 => "connection attempt in progress",
            48 => "could not connect to the cluster controller",
            49 => "could not host the virtual hub in the cluster",
            50 => "virtual hub cannot be managed on a cluster member",
            51 => "empty password accepted only from localhost",
            52 => "not enough rights",
            53 => "listener not found",
            54 => "listener already exists",
            55 => "not a cluster member",
            56 => "cipher not supported",
            57 => "virtual hub already exists",
            58 => "too many virtual hubs",
            59 => "cascade connection already exists",
            60 => "cascade connections cannot be created in a cluster",
            61 => "cascade connection is offline",
            62 => "too many access list entries",
            63 => "too many users",
            64 => "too many groups",
            65 => "group not found",
            66 => "user already exists",
            67 => "group already exists",
            68 => "user does not use password authentication",
            69 => "unknown user or wrong old password",
            73 => "a cascade session cannot be disconnected",
            74 => "connection settings incomplete",
            75 => "already online",
            76 => "offline",
            77 => "certificate is not RSA 1024 bit",
            78 => "a SecureNAT session cannot be disconnected",
            79 => "SecureNAT needs a stand-alone virtual hub",
            80 => "SecureNAT is not running",
            81 => "blocked by VPN block software",
            82 => "a local bridge session cannot be disconnected",
            83 => "local bridge is stopping",
            84 => "local bridge not supported",
            85 => "server certificate not trusted",
            86 => "product code mismatch",
            87 => "client version not accepted",
            88 => "could not add the capture device",
            89 => "VPN code mismatch",
            90 => "capture device not found",
            91 => "a layer-3 session cannot be disconnected",
            92 => "layer-3 switch already exists",
            93 => "layer-3 switch not found",
            94 => "invalid name",
            95 => "could not add the interface",
            96 => "could not delete the interface",
            97 => "interface already exists",
            98 => "could not add the route",
            99 => "could not delete the route",
            100 => "route already exists",
            101 => "system clock is wrong",
            102 => "layer-3 switch cannot start",
            103 => "not enough client connection licences",
            104 => "not enough bridge connection licences",
            105 => "server cannot accept connections",
            106 => "server certificate expired",
            107 => "monitoring mode denied",
            108 => "bridge or routing mode denied",
            109 => "client IP address denied",
            110 => "too many items",
            111 => "out of memory",
            112 => "object already exists",
            113 => "fatal error",
            114 => "server licence violation",
            115 => "server not connected to the Internet",
            116 => "client licence violation",
            117 => "bad command or parameter",
            118 => "invalid licence key",
            119 => "no valid VPN server licence",
            120 => "no cluster licence",
            121 => "server has no administrator pack licence",
            122 => "server has no administrator pack licence (.NET)",
            123 => "beta version expired",
            124 => "branding mismatch (client to server)",
            125 => "branding mismatch (server to client)",
            126 => "disconnected automatically by policy",
            127 => "client ID required",
            128 => "too many users created",
            129 => "subscription older than the server build",
            130 => "trial licence misuse",
            131 => "several servers behind one global IP address (NAT-T)",
            132 => "duplicate dynamic DNS key",
            133 => "dynamic DNS host name already exists",
            134 => "invalid character in dynamic DNS host name",
            135 => "dynamic DNS host name too long",
            136 => "dynamic DNS host name empty",
            137 => "dynamic DNS host name too short",
            138 => "password must be changed",
            139 => "dynamic DNS server unreachable",
            140 => "ICMP socket cannot be opened",
            141 => "DNS socket cannot be opened",
            142 => "OpenVPN server is not enabled",
            143 => "authentication method not available in the open-source build",
            144 => "not available on a VPN Gate server",
            145 => "not available on a VPN Gate client",
            146 => "cannot stop inside VPN client mode",
            147 => "function not available in the open-source build",
            148 => "system is suspending",
            149 => "TLS host name mismatch",
            150 => "TLS version not supported",
            151 => "no common TLS cipher",
            152 => "TLS handshake failed",
            _ => "unknown error",
        }
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
