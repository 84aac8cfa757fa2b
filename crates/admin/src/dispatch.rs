//! The admin RPC dispatcher (`AdminDispatch` and the `St*` functions of
//! `src/Cedar/Admin.c`, docs/admin-rpc.md §4, §6): decodes the request, enforces
//! administrator rights and the pure parameter rules, calls the
//! [`AdminBackend`], and builds the response (the RPC's output structure, or
//! `{error}` on failure).
//!
//! What is decided here, so that every backend behaves alike:
//!
//! * Rights (`SERVER_ADMIN_ONLY`, `CHECK_RIGHT`, the hub administration
//!   options `no_change_users`, `no_cascade`, `no_enum_session`,
//!   `no_query_session`, `no_disconnect_session`, `no_online`, `no_offline`,
//!   `no_change_admin_password`) → `ERR_NOT_ENOUGH_RIGHT` (52).
//! * Name and parameter checks SoftEther makes before touching state
//!   (hub and user names, empty session/cascade names, listener ports,
//!   keep-alive target) → `ERR_INVALID_PARAMETER` (38). This server is
//!   always standalone, so `CreateHub`/`SetHub` require `HubType` 0 (38).
//! * Password derivations of the JSON-RPC conveniences
//!   (`AdminPasswordPlainText`, `PlainTextPassword`, `Auth_Password`):
//!   the backend only ever sees hashes, and plaintexts are never echoed.
//! * Response shaping: `GetHub` never returns password hashes, `EnumHub`
//!   shows a hub administrator only its hub, `GetServerCert` gives the
//!   private key to server administrators only, `Test` is answered here.
//!
//! Existence, uniqueness and limits (errors 8, 29, 53, 54, 57, 59, 61, 66,
//! 73, 82, …) are the backend's business; see crates/admin/NOTES.md.

use rustether_proto::password::{hash_admin_password, hash_password};
use rustether_proto::softether::access::{is_file_user_name, AcEntry, AccessRule, MAX_ACCESSLISTS};
use rustether_proto::{ErrorCode, Pack};

use crate::framing::error_response;
use crate::hub_admin_option as opt;
use crate::login::AdminRights;
use rustether_proto::softether::names::{is_hub_name, is_new_hub_name, is_safe_str, is_user_name};

/// `ERR_INVALID_PARAMETER` (38) unless [`is_hub_name`] (`StGetHub` etc.,
/// docs/admin-rpc.md §5).
fn check_hub_name(name: &str) -> Result<(), ErrorCode> {
    if is_hub_name(name) {
        Ok(())
    } else {
        Err(ErrorCode::INVALID_PARAMETER)
    }
}

/// A contiguous IPv4 subnet mask (host order), as SoftEther `IsSubnetMask4`.
fn is_subnet_mask(mask: u32) -> bool {
    mask.leading_ones() + mask.trailing_zeros() == 32
}

/// `ERR_INVALID_PARAMETER` (38) unless [`is_new_hub_name`] (`StCreateHub`).
fn check_new_hub_name(name: &str) -> Result<(), ErrorCode> {
    if is_new_hub_name(name) {
        Ok(())
    } else {
        Err(ErrorCode::INVALID_PARAMETER)
    }
}
use crate::outpack::OutPack;
use crate::rpc::*;

/// Who is calling.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caller {
    /// Rights of the admin session.
    pub rights: AdminRights,
    /// The peer is one of the server's own addresses
    /// ([`crate::login::is_local_source`]); hub administrators may set an
    /// empty hub password only then (`StSetHub`).
    pub from_local: bool,
}

impl Caller {
    /// A server administrator.
    pub fn server_admin(from_local: bool) -> Caller {
        Caller {
            rights: AdminRights::Server,
            from_local,
        }
    }

    /// A hub administrator of `hub`.
    pub fn hub_admin(hub: &str, from_local: bool) -> Caller {
        Caller {
            rights: AdminRights::Hub(hub.to_owned()),
            from_local,
        }
    }
}

macro_rules! functions {
    ($( $(#[$m:meta])* $v:ident, $mutates:literal; )*) => {
        /// The administration RPCs this crate implements, by their wire
        /// name (`DECLARE_RPC` list of `AdminDispatch`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum RpcFunction { $( $(#[$m])* $v, )* }

        impl RpcFunction {
            /// Every implemented function.
            pub const ALL: &'static [RpcFunction] = &[$(RpcFunction::$v),*];

            /// The wire name, e.g. `"EnumHub"`.
            pub fn name(self) -> &'static str {
                match self { $( RpcFunction::$v => stringify!($v), )* }
            }

            /// Looks a name up case-insensitively (`StrCmpi`, verified:
            /// `getserverstatus` dispatches).
            pub fn from_name(name: &str) -> Option<RpcFunction> {
                RpcFunction::ALL.iter().copied().find(|f| f.name().eq_ignore_ascii_case(name))
            }

            /// True if a successful call changes the configuration that
            /// must be saved before answering (issue 5 item 2).
            pub fn changes_config(self) -> bool {
                match self { $( RpcFunction::$v => $mutates, )* }
            }

            /// True if the call changes anything (the configuration, or a
            /// session: `DeleteSession`, or the file: `Flush`). The
            /// JSON-RPC API runs these only from a POST with a JSON content
            /// type (issue 9 item 5: no CSRF through `GET /api/<Method>` or
            /// form posts; docs/administration.md).
            pub fn mutates(self) -> bool {
                self.changes_config()
                    || matches!(self, RpcFunction::DeleteSession | RpcFunction::Flush)
            }
        }
    };
}

functions! {
    /// Echo test (`RPC_TEST`).
    Test, false;
    /// Server product and OS (`RPC_SERVER_INFO`).
    GetServerInfo, false;
    /// Server counters (`RPC_SERVER_STATUS`).
    GetServerStatus, false;
    /// New TCP listener (`RPC_LISTENER`).
    CreateListener, true;
    /// List TCP listeners (`RPC_LISTENER_LIST`).
    EnumListener, false;
    /// Remove a TCP listener.
    DeleteListener, true;
    /// Start or stop a TCP listener.
    EnableListener, true;
    /// Server administrator password (`RPC_SET_PASSWORD`).
    SetServerPassword, true;
    /// Server certificate and key (`RPC_KEY_PAIR`).
    GetServerCert, false;
    /// Capabilities (`CAPSLIST`).
    GetCaps, false;
    /// Keep-alive setting (`RPC_KEEP`).
    GetKeep, false;
    /// Change the keep-alive setting.
    SetKeep, true;
    /// UDP ports of OpenVPN (`RPC_PORTS`).
    GetPortsUDP, false;
    /// Change the UDP ports.
    SetPortsUDP, true;
    /// A protocol's options (`RPC_PROTO_OPTIONS`).
    GetProtoOptions, false;
    /// Change a protocol's options.
    SetProtoOptions, true;
    /// OpenVPN/SSTP on or off (`OPENVPN_SSTP_CONFIG`, legacy).
    GetOpenVpnSstpConfig, false;
    /// Switch OpenVPN/SSTP.
    SetOpenVpnSstpConfig, true;
    /// Zip of sample OpenVPN client files (`RPC_READ_LOG_FILE`).
    MakeOpenVpnConfigFile, false;
    /// Write the configuration file now (`RPC_TEST`).
    Flush, false;
    /// Restart the server, with `IntValue` ≠ 0 from the initial
    /// configuration (`RPC_TEST`).
    RebootServer, true;
    /// Configuration file text (`RPC_CONFIG`).
    GetConfig, false;
    /// Replace the configuration file and restart.
    SetConfig, true;
    /// Local bridge support (`RPC_BRIDGE_SUPPORT`).
    GetBridgeSupport, false;
    /// New virtual hub (`RPC_CREATE_HUB`).
    CreateHub, true;
    /// Change a virtual hub.
    SetHub, true;
    /// Read a virtual hub's settings.
    GetHub, false;
    /// List virtual hubs (`RPC_ENUM_HUB`).
    EnumHub, false;
    /// Remove a virtual hub (`RPC_DELETE_HUB`).
    DeleteHub, true;
    /// Switch a hub online/offline (`RPC_SET_HUB_ONLINE`).
    SetHubOnline, true;
    /// Hub state and counters (`RPC_HUB_STATUS`).
    GetHubStatus, false;
    /// Switch SecureNAT on (`RPC_HUB`).
    EnableSecureNAT, true;
    /// Switch SecureNAT off (`RPC_HUB`).
    DisableSecureNAT, true;
    /// SecureNAT settings (`VH_OPTION`).
    GetSecureNATOption, false;
    /// Change SecureNAT settings (`VH_OPTION`).
    SetSecureNATOption, true;
    /// SecureNAT's NAT table (`RPC_ENUM_NAT`).
    EnumNAT, false;
    /// SecureNAT session counts (`RPC_NAT_STATUS`).
    GetSecureNATStatus, false;
    /// SecureNAT's DHCP leases (`RPC_ENUM_DHCP`).
    EnumDHCP, false;
    /// New user (`RPC_SET_USER`).
    CreateUser, true;
    /// Change a user.
    SetUser, true;
    /// Read a user.
    GetUser, false;
    /// Remove a user (`RPC_DELETE_USER`).
    DeleteUser, true;
    /// List users (`RPC_ENUM_USER`).
    EnumUser, false;
    /// List sessions (`RPC_ENUM_SESSION`).
    EnumSession, false;
    /// Session details (`RPC_SESSION_STATUS`).
    GetSessionStatus, false;
    /// Disconnect a session (`RPC_DELETE_SESSION`).
    DeleteSession, false;
    /// Bridgeable network adapters (`RPC_ENUM_ETH`).
    EnumEthernet, false;
    /// New local bridge (`RPC_LOCALBRIDGE`).
    AddLocalBridge, true;
    /// Remove a local bridge.
    DeleteLocalBridge, true;
    /// List local bridges (`RPC_ENUM_LOCALBRIDGE`).
    EnumLocalBridge, false;
    /// New cascade (`RPC_CREATE_LINK`).
    CreateLink, true;
    /// Read a cascade's settings.
    GetLink, false;
    /// Change a cascade's settings.
    SetLink, true;
    /// List cascades (`RPC_ENUM_LINK`).
    EnumLink, false;
    /// Cascade connection status (`RPC_LINK_STATUS`).
    GetLinkStatus, false;
    /// Start a cascade (`RPC_LINK`).
    SetLinkOnline, true;
    /// Stop a cascade.
    SetLinkOffline, true;
    /// Remove a cascade.
    DeleteLink, true;
    /// MAC address table of a hub (`RPC_ENUM_MAC_TABLE`).
    EnumMacTable, false;
    /// Delete a MAC address table entry (`RPC_DELETE_TABLE`).
    DeleteMacTable, false;
    /// IP address table of a hub (`RPC_ENUM_IP_TABLE`).
    EnumIpTable, false;
    /// Delete an IP address table entry (`RPC_DELETE_TABLE`).
    DeleteIpTable, false;
    /// List TCP connections (`RPC_ENUM_CONNECTION`).
    EnumConnection, false;
    /// Connection details (`RPC_CONNECTION_INFO`).
    GetConnectionInfo, false;
    /// Disconnect a connection (`RPC_DISCONNECT_CONNECTION`).
    DisconnectConnection, false;
    /// New group (`RPC_SET_GROUP`).
    CreateGroup, true;
    /// Change a group.
    SetGroup, true;
    /// Read a group.
    GetGroup, false;
    /// Remove a group (`RPC_DELETE_USER`).
    DeleteGroup, true;
    /// List groups (`RPC_ENUM_GROUP`).
    EnumGroup, false;
    /// New access list entry (`RPC_ADD_ACCESS`).
    AddAccess, true;
    /// Remove an access list entry (`RPC_DELETE_ACCESS`).
    DeleteAccess, true;
    /// List the access list (`RPC_ENUM_ACCESS_LIST`).
    EnumAccess, false;
    /// Replace the access list (`RPC_ENUM_ACCESS_LIST`).
    SetAccessList, true;
    /// Source IP access control list (`RPC_AC_LIST`).
    GetAcList, false;
    /// Replace the source IP access control list (`RPC_AC_LIST`).
    SetAcList, true;
    /// The hub's message to clients (`RPC_MSG`).
    GetHubMsg, false;
    /// Set the hub's message to clients (`RPC_MSG`).
    SetHubMsg, true;
    /// Add a trusted CA certificate (`RPC_HUB_ADD_CA`).
    AddCa, true;
    /// List trusted CA certificates (`RPC_HUB_ENUM_CA`).
    EnumCa, false;
    /// Read a trusted CA certificate (`RPC_HUB_GET_CA`).
    GetCa, false;
    /// Remove a trusted CA certificate (`RPC_HUB_DELETE_CA`).
    DeleteCa, true;
    /// Hub administration options (`RPC_ADMIN_OPTION`).
    GetHubAdminOptions, false;
    /// Replace the hub administration options (`RPC_ADMIN_OPTION`).
    SetHubAdminOptions, true;
    /// SoftEther's hub administration options and defaults.
    GetDefaultHubAdminOptions, false;
    /// Hub extended options (`RPC_ADMIN_OPTION`).
    GetHubExtOptions, false;
    /// Change hub extended options (`RPC_ADMIN_OPTION`).
    SetHubExtOptions, true;
    /// Message for administrators after login (`RPC_MSG`).
    GetAdminMsg, false;
    /// Rename a cascade (`RPC_RENAME_LINK`).
    RenameLink, true;
    /// New certificate revocation entry (`RPC_CRL`).
    AddCrl, true;
    /// Remove a certificate revocation entry (`RPC_CRL`).
    DelCrl, true;
    /// List the certificate revocation entries (`RPC_ENUM_CRL`).
    EnumCrl, false;
    /// Read a certificate revocation entry (`RPC_CRL`).
    GetCrl, false;
    /// Change a certificate revocation entry (`RPC_CRL`).
    SetCrl, true;
    /// The hub's RADIUS server (`RPC_RADIUS`).
    GetHubRadius, false;
    /// Set or remove the hub's RADIUS server (`RPC_RADIUS`).
    SetHubRadius, true;
    // Server extras and standalone answers (docs/administration.md, "RPC coverage").
    /// TLS cipher setting (`RPC_STR`, `CipherName`).
    GetServerCipher, false;
    /// Change the TLS cipher setting.
    SetServerCipher, true;
    /// Usable cipher names, `;`-separated (`RPC_STR`).
    GetServerCipherList, false;
    /// Replace the server certificate and key (`RPC_KEY_PAIR`).
    SetServerCert, true;
    /// New self-signed server certificate (`RPC_TEST`, `StrValue` = CN).
    RegenerateServerCert, true;
    /// VPN over ICMP/DNS switches (`RPC_SPECIAL_LISTENER`).
    GetSpecialListener, false;
    /// Change the VPN over ICMP/DNS switches (stored, not enforced).
    SetSpecialListener, true;
    /// Clustering setting: always standalone (`RPC_FARM`).
    GetFarmSetting, false;
    /// Change the clustering setting: only standalone is accepted.
    SetFarmSetting, true;
    /// Cluster member details: 46 on a standalone server (`RPC_FARM_INFO`).
    GetFarmInfo, false;
    /// Cluster members: 46 on a standalone server (`RPC_ENUM_FARM`).
    EnumFarmMember, false;
    /// Connection to the controller: 55 on a standalone server.
    GetFarmConnectionStatus, false;
    /// IPsec/L2TP/EtherIP settings as stored (`IPSEC_SERVICES`).
    GetIPsecServices, false;
    /// EtherIP client entries as stored (`RPC_ENUM_ETHERIP_ID`).
    EnumEtherIpId, false;
    /// A hub's log settings (`RPC_HUB_LOG`).
    GetHubLog, false;
    /// Change a hub's log settings (`RPC_HUB_LOG`).
    SetHubLog, true;
    /// List the log files (`RPC_ENUM_LOG_FILE`).
    EnumLogFile, false;
    /// Read a chunk of a log file (`RPC_READ_LOG_FILE`).
    ReadLogFile, false;
    /// Syslog forwarding setting (`SYSLOG_SETTING`).
    GetSysLog, false;
    /// Change the syslog forwarding setting (`SYSLOG_SETTING`).
    SetSysLog, true;
    /// New Virtual Layer 3 Switch (`RPC_L3SW`).
    AddL3Switch, true;
    /// Remove a Virtual Layer 3 Switch (`RPC_L3SW`).
    DelL3Switch, true;
    /// List Virtual Layer 3 Switches (`RPC_ENUM_L3SW`).
    EnumL3Switch, false;
    /// Start a Virtual Layer 3 Switch (`RPC_L3SW`).
    StartL3Switch, true;
    /// Stop a Virtual Layer 3 Switch (`RPC_L3SW`).
    StopL3Switch, true;
    /// New virtual interface of a switch (`RPC_L3IF`).
    AddL3If, true;
    /// Remove a virtual interface (`RPC_L3IF`).
    DelL3If, true;
    /// List a switch's interfaces (`RPC_ENUM_L3IF`).
    EnumL3If, false;
    /// New static route of a switch (`RPC_L3TABLE`).
    AddL3Table, true;
    /// Remove a static route (`RPC_L3TABLE`).
    DelL3Table, true;
    /// List a switch's routes (`RPC_ENUM_L3TABLE`).
    EnumL3Table, false;
}

/// The server state behind the RPCs. One method per operation; each gets
/// the already checked, typed request and returns the typed response or a
/// SoftEther error code. Methods that answer with an echo of the request
/// return `()`. Rights have been checked by [`dispatch`]; hub names are
/// non-empty and, for hub administrators, their own hub.
pub trait AdminBackend {
    /// Value of hub administration option `name` of hub `hub` (see
    /// [`crate::hub_admin_option`]); 0 if unset or the hub does not
    /// exist.
    fn hub_admin_option(&self, hub: &str, name: &str) -> u32;

    /// `GetServerInfo`.
    fn get_server_info(&mut self) -> Result<ServerInfo, ErrorCode>;
    /// `GetServerStatus`.
    fn get_server_status(&mut self) -> Result<ServerStatus, ErrorCode>;
    /// `CreateListener` (port is 1..=65535): 54 if it exists; starts it
    /// when `enable`.
    fn create_listener(&mut self, req: &Listener) -> Result<(), ErrorCode>;
    /// `EnumListener`.
    fn enum_listener(&mut self) -> Result<ListenerList, ErrorCode>;
    /// `DeleteListener`: 53 if unknown.
    fn delete_listener(&mut self, port: u32) -> Result<(), ErrorCode>;
    /// `EnableListener`: start (`enable`) or stop; 53 if unknown.
    fn enable_listener(&mut self, req: &Listener) -> Result<(), ErrorCode>;
    /// `SetServerPassword` with SHA-0(new password); effective for new
    /// logins at once.
    fn set_server_password(&mut self, hashed_password: &[u8; 20]) -> Result<(), ErrorCode>;
    /// `GetServerCert` (the dispatcher removes `key` for hub administrators).
    fn get_server_cert(&mut self) -> Result<KeyPair, ErrorCode>;
    /// `GetCaps`.
    fn get_caps(&mut self) -> Result<CapsList, ErrorCode>;
    /// `GetKeep`.
    fn get_keep(&mut self) -> Result<Keep, ErrorCode>;
    /// `GetPortsUDP`: the `PortsUDP` setting; 33 unsupported (the default).
    fn get_ports_udp(&mut self) -> Result<Vec<u16>, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `SetPortsUDP` (ports checked and de-duplicated by the dispatcher).
    fn set_ports_udp(&mut self, ports: &[u16]) -> Result<(), ErrorCode> {
        let _ = ports;
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `GetProtoOptions` of `protocol` (a name of [`proto_defaults`]): all
    /// its options, defaults filled in.
    fn get_proto_options(&mut self, protocol: &'static str) -> Result<Vec<ProtoOption>, ErrorCode> {
        let _ = protocol;
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `MakeOpenVpnConfigFile`: the zip of sample client files; 142 when
    /// OpenVPN is off, 33 unsupported (the default).
    fn make_openvpn_config(&mut self) -> Result<Vec<u8>, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `SetProtoOptions`: `options` already checked against
    /// [`proto_defaults`] (names and types).
    fn set_proto_options(
        &mut self,
        protocol: &'static str,
        options: &[ProtoOption],
    ) -> Result<(), ErrorCode> {
        let _ = (protocol, options);
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `SetKeep`.
    fn set_keep(&mut self, req: &Keep) -> Result<(), ErrorCode>;
    /// `Flush`: write the configuration now; returns its size in bytes.
    fn flush(&mut self) -> Result<u32, ErrorCode>;
    /// `RebootServer` (`StRebootServer`, src/Cedar/Admin.c): restart the
    /// server after answering, with `reset_config` from the initial
    /// configuration.
    fn reboot_server(&mut self, reset_config: bool) -> Result<(), ErrorCode> {
        let _ = reset_config;
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `GetConfig`: the configuration text as it would be written now.
    fn get_config(&mut self) -> Result<Config, ErrorCode>;
    /// `SetConfig`: replace the configuration (and apply it).
    fn set_config(&mut self, req: &Config) -> Result<(), ErrorCode>;
    /// `GetBridgeSupport`.
    fn get_bridge_support(&mut self) -> Result<BridgeSupport, ErrorCode>;
    /// `CreateHub`: both hashes are set; 57 if the name exists
    /// (case-insensitive), 58 if too many.
    fn create_hub(&mut self, req: &CreateHub) -> Result<(), ErrorCode>;
    /// `SetHub`: apply options and online state; change the password only
    /// if both hashes are non-zero; 8 if unknown.
    fn set_hub(&mut self, req: &CreateHub) -> Result<(), ErrorCode>;
    /// `GetHub`: 8 if unknown (hashes in the answer are zeroed by the
    /// dispatcher).
    fn get_hub(&mut self, hub: &str) -> Result<CreateHub, ErrorCode>;
    /// `EnumHub`: all hubs (the dispatcher filters for hub administrators).
    fn enum_hub(&mut self) -> Result<EnumHub, ErrorCode>;
    /// `DeleteHub`: 8 if unknown; stops the hub's sessions.
    fn delete_hub(&mut self, hub: &str) -> Result<(), ErrorCode>;
    /// `SetHubOnline`: 8 if unknown.
    fn set_hub_online(&mut self, hub: &str, online: bool) -> Result<(), ErrorCode>;
    /// `GetHubStatus`: 8 if unknown.
    fn get_hub_status(&mut self, hub: &str) -> Result<HubStatus, ErrorCode>;
    /// `GetHubAdminOptions`: 8 hub, 33 unsupported (the default, and VPN
    /// Bridge); the hub's options sorted by name (SoftEther's sorted
    /// `AdminOptionList`), descriptions empty.
    fn get_hub_admin_options(&mut self, _hub: &str) -> Result<Vec<AdminOptionItem>, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `SetHubAdminOptions`: 8 hub; replaces the options (known names only,
    /// canonical spelling, de-duplicated by the dispatcher); options not
    /// given become 0 (`AddHubAdminOptionsDefaults`). Effective at once.
    fn set_hub_admin_options(
        &mut self,
        _hub: &str,
        _items: &[AdminOptionItem],
    ) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `GetDefaultHubAdminOptions`: 33 on VPN Bridge; the default is
    /// SoftEther's list ([`crate::hub_admin_option::DEFAULT_NAMES`], all 0).
    fn get_default_hub_admin_options(&mut self) -> Result<Vec<AdminOptionItem>, ErrorCode> {
        Ok(opt::DEFAULT_NAMES
            .iter()
            .map(|n| AdminOptionItem {
                name: (*n).to_owned(),
                ..AdminOptionItem::default()
            })
            .collect())
    }
    /// `GetHubExtOptions`: 8 hub; all of
    /// [`crate::hub_ext_option::EXT_OPTIONS`] in that order.
    fn get_hub_ext_options(&mut self, _hub: &str) -> Result<Vec<AdminOptionItem>, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `SetHubExtOptions`: 8 hub; sets the known options given (unknown
    /// names are ignored, as `DataToHubOptionStruct`), others keep their
    /// values.
    fn set_hub_ext_options(
        &mut self,
        _hub: &str,
        _items: &[AdminOptionItem],
    ) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `RenameLink` (names non-empty and different): 8 hub, 29 unknown
    /// cascade, 59 new name exists. A running cascade keeps running under
    /// its new name.
    fn rename_link(&mut self, _hub: &str, _old: &str, _new: &str) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `AddCrl`: 8 hub, 110 beyond `MAX_HUB_CRLS` (4096); effective for
    /// the next certificate login.
    fn add_crl(&mut self, _hub: &str, _crl: &CrlEntry) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `DelCrl`: 8 hub, 29 no entry with that key.
    fn del_crl(&mut self, _hub: &str, _key: u32) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `EnumCrl`: 8 hub.
    fn enum_crl(&mut self, _hub: &str) -> Result<Vec<EnumCrlItem>, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `GetCrl`: 8 hub, 29 no entry with that key.
    fn get_crl(&mut self, _hub: &str, _key: u32) -> Result<CrlEntry, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `SetCrl`: 8 hub, 29 no entry with that key; replaces the entry.
    fn set_crl(&mut self, _hub: &str, _key: u32, _crl: &CrlEntry) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `GetHubRadius`: 8 hub; `radius_server_name` empty when none.
    fn get_hub_radius(&mut self, _hub: &str) -> Result<RpcRadius, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `SetHubRadius`: 8 hub, 33 on VPN Bridge; an empty server name
    /// removes the server; the retry interval is already clamped.
    fn set_hub_radius(&mut self, _req: &RpcRadius) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `EnableSecureNAT`/`DisableSecureNAT`: 8 if unknown; 33 where
    /// SecureNAT is not supported (the default, and VPN Bridge).
    fn set_securenat_enabled(&mut self, hub: &str, enabled: bool) -> Result<(), ErrorCode> {
        let _ = (hub, enabled);
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `GetSecureNATOption`: 8 hub, 33 unsupported (the default).
    fn get_securenat_option(&mut self, hub: &str) -> Result<SecureNatOption, ErrorCode> {
        let _ = hub;
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `SetSecureNATOption`: 8 hub, 38 invalid settings, 33 unsupported
    /// (the default).
    fn set_securenat_option(&mut self, opt: &SecureNatOption) -> Result<(), ErrorCode> {
        let _ = opt;
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `EnumNAT`: 8 hub, 80 not running, 33 unsupported (the default).
    fn enum_nat(&mut self, hub: &str) -> Result<EnumNat, ErrorCode> {
        let _ = hub;
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `GetSecureNATStatus`: 8 hub, 80 not running, 33 unsupported (the
    /// default).
    fn get_securenat_status(&mut self, hub: &str) -> Result<NatStatus, ErrorCode> {
        let _ = hub;
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `EnumDHCP`: 8 hub, 80 not running, 33 unsupported (the default).
    fn enum_dhcp(&mut self, hub: &str) -> Result<EnumDhcp, ErrorCode> {
        let _ = hub;
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `CreateUser`: 8 hub, 66 exists, 65 group, 63/128 limits.
    fn create_user(&mut self, req: &SetUser) -> Result<(), ErrorCode>;
    /// `SetUser`: 8 hub, 29 unknown user, 65 group; sets `UpdatedTime`.
    fn set_user(&mut self, req: &SetUser) -> Result<(), ErrorCode>;
    /// `GetUser`: 8 hub, 29 unknown user.
    fn get_user(&mut self, hub: &str, name: &str) -> Result<SetUser, ErrorCode>;
    /// `DeleteUser`: 8 hub, 29 unknown user.
    fn delete_user(&mut self, hub: &str, name: &str) -> Result<(), ErrorCode>;
    /// `EnumUser`: 8 hub.
    fn enum_user(&mut self, hub: &str) -> Result<EnumUser, ErrorCode>;
    /// `EnumSession`: 8 hub.
    fn enum_session(&mut self, hub: &str) -> Result<EnumSession, ErrorCode>;
    /// `GetSessionStatus`: 8 hub, 29 unknown session.
    fn get_session_status(&mut self, hub: &str, name: &str) -> Result<SessionStatus, ErrorCode>;
    /// `DeleteSession`: 8 hub, 29 unknown, 73 cascade end, 78 SecureNAT,
    /// 82 local bridge, 91 layer 3.
    fn delete_session(&mut self, hub: &str, name: &str) -> Result<(), ErrorCode>;
    /// `EnumMacTable`: 8 hub.
    fn enum_mac_table(&mut self, _hub: &str) -> Result<EnumMacTable, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `DeleteMacTable`: 8 hub, 29 no entry with that key.
    fn delete_mac_table(&mut self, _hub: &str, _key: u32) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `EnumIpTable`: 8 hub.
    fn enum_ip_table(&mut self, _hub: &str) -> Result<EnumIpTable, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `DeleteIpTable`: 8 hub, 29 no entry with that key.
    fn delete_ip_table(&mut self, _hub: &str, _key: u32) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `CreateGroup`: 8 hub, 67 exists, 64 too many.
    fn create_group(&mut self, _req: &SetGroup) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `SetGroup`: 8 hub, 29 unknown group.
    fn set_group(&mut self, _req: &SetGroup) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `GetGroup`: 8 hub, 29 unknown group.
    fn get_group(&mut self, _hub: &str, _name: &str) -> Result<SetGroup, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `DeleteGroup`: 8 hub, 29 unknown group; members leave the group.
    fn delete_group(&mut self, _hub: &str, _name: &str) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `EnumGroup`: 8 hub.
    fn enum_group(&mut self, _hub: &str) -> Result<EnumGroup, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `AddAccess`: 8 hub; the entry is inserted in SoftEther order and
    /// the `Id`s are renumbered (`AddAccessList`). Limits are checked by
    /// the dispatcher.
    fn add_access(&mut self, _hub: &str, _rule: &AccessRule) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `DeleteAccess`: 8 hub, 29 no entry with that `Id` (below
    /// `MAX_ACCESSLISTS`) or `UniqueId` (from it on).
    fn delete_access(&mut self, _hub: &str, _id: u32) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `EnumAccess`: 8 hub; the entries in list order with their
    /// `UniqueId`s.
    fn enum_access(&mut self, _hub: &str) -> Result<Vec<AccessRule>, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `SetAccessList`: 8 hub; replaces the list (sorted, `Id`s kept as
    /// given, as `StSetAccessList`).
    fn set_access_list(&mut self, _hub: &str, _rules: &[AccessRule]) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `GetHubMsg`: 8 hub; "" when none.
    fn get_hub_msg(&mut self, _hub: &str) -> Result<String, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `SetHubMsg`: 8 hub; "" removes the message. Sent in the welcome of
    /// the next logins.
    fn set_hub_msg(&mut self, _hub: &str, _msg: &str) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `GetAcList`: 8 hub; the entries in list order.
    fn get_ac_list(&mut self, _hub: &str) -> Result<Vec<AcEntry>, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `SetAcList`: 8 hub; replaces the list (sorted, at most
    /// `MAX_HUB_ACS`, `Id`s renumbered, as `SetAcList`/`AddAc`). Applies
    /// to the next login.
    fn set_ac_list(&mut self, _hub: &str, _list: &[AcEntry]) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `AddCa` (certificate parsed as X.509 by the caller's backend): 8
    /// hub; adding a certificate already trusted changes nothing.
    fn add_ca(&mut self, _req: &HubAddCa) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `EnumCa`: 8 hub.
    fn enum_ca(&mut self, _hub: &str) -> Result<HubEnumCa, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `GetCa`: 8 hub, 29 no certificate with that key.
    fn get_ca(&mut self, _hub: &str, _key: u32) -> Result<HubGetCa, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `DeleteCa`: 8 hub, 29 no certificate with that key.
    fn delete_ca(&mut self, _hub: &str, _key: u32) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `GetHubLog`: 8 hub (`HubName` filled in by the dispatcher).
    fn get_hub_log(&mut self, _hub: &str) -> Result<HubLog, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `SetHubLog`: 8 hub; applies from the next log line.
    fn set_hub_log(&mut self, _req: &HubLog) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `EnumLogFile`: every log file (`hub` = `None`, server administrator)
    /// or the security and packet logs of one hub (`SiEnumLocalLogFileList`).
    fn enum_log_file(&mut self, _hub: Option<&str>) -> Result<EnumLogFile, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `ReadLogFile`: at most [`LOG_READ_BLOCK`] bytes of `path` from
    /// `offset`, `None` at or past the end. `path` is one the dispatcher
    /// found in [`AdminBackend::enum_log_file`] for this caller.
    fn read_log_file(&mut self, _path: &str, _offset: u32) -> Result<Option<Vec<u8>>, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `GetSysLog`.
    fn get_sys_log(&mut self) -> Result<SysLogSetting, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `SetSysLog` (normalised by the dispatcher: no host or port = off).
    fn set_sys_log(&mut self, _req: &SysLogSetting) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `AddL3Switch` (name checked): 92 exists, 23 too many; 33
    /// unsupported (the default, and VPN Bridge).
    fn add_l3_switch(&mut self, _name: &str) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `DelL3Switch`: 93 unknown; stops it first.
    fn del_l3_switch(&mut self, _name: &str) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `EnumL3Switch`.
    fn enum_l3_switch(&mut self) -> Result<EnumL3Sw, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `StartL3Switch` (`true`) / `StopL3Switch`: 93 unknown, 102 start
    /// without interfaces.
    fn set_l3_switch_active(&mut self, _name: &str, _active: bool) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `AddL3If` (address and mask checked): 93 unknown switch, 97 hub
    /// already has an interface, 95 switch running or too many.
    fn add_l3_if(&mut self, _req: &L3If) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `DelL3If`: 93 unknown switch, 96 no such interface or running.
    fn del_l3_if(&mut self, _name: &str, _hub: &str) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `EnumL3If`: 93 unknown switch.
    fn enum_l3_if(&mut self, _name: &str) -> Result<EnumL3If, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `AddL3Table` (network and gateway checked): 93 unknown switch, 98
    /// metric 0, duplicate, running or too many.
    fn add_l3_table(&mut self, _req: &L3Table) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `DelL3Table`: 93 unknown switch, 99 no such route or running.
    fn del_l3_table(&mut self, _req: &L3Table) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `EnumL3Table`: 93 unknown switch.
    fn enum_l3_table(&mut self, _name: &str) -> Result<EnumL3Table, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `EnumConnection`.
    fn enum_connection(&mut self) -> Result<EnumConnection, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `GetConnectionInfo`: 29 unknown connection.
    fn get_connection_info(&mut self, _name: &str) -> Result<ConnectionInfo, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `DisconnectConnection`: 29 unknown connection.
    fn disconnect_connection(&mut self, _name: &str) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `EnumEthernet`.
    fn enum_ethernet(&mut self) -> Result<EnumEth, ErrorCode>;
    /// `AddLocalBridge` (names non-empty; the hub need not exist).
    fn add_local_bridge(&mut self, req: &LocalBridge) -> Result<(), ErrorCode>;
    /// `DeleteLocalBridge`: 29 if no such pair.
    fn delete_local_bridge(&mut self, req: &LocalBridge) -> Result<(), ErrorCode>;
    /// `EnumLocalBridge`.
    fn enum_local_bridge(&mut self) -> Result<EnumLocalBridge, ErrorCode>;
    /// `CreateLink` (created offline): 8 hub, 59 exists.
    fn create_link(&mut self, req: &CreateLink) -> Result<(), ErrorCode>;
    /// `GetLink`: 8 hub, 29 unknown.
    fn get_link(&mut self, hub: &str, account: &str) -> Result<CreateLink, ErrorCode>;
    /// `SetLink`: 8 hub, 29 unknown.
    fn set_link(&mut self, req: &CreateLink) -> Result<(), ErrorCode>;
    /// `EnumLink`: 8 hub.
    fn enum_link(&mut self, hub: &str) -> Result<EnumLink, ErrorCode>;
    /// `GetLinkStatus`: 8 hub, 29 unknown, 61 offline / no session.
    fn get_link_status(&mut self, hub: &str, account: &str) -> Result<LinkStatus, ErrorCode>;
    /// `SetLinkOnline` / `SetLinkOffline`: 8 hub, 29 unknown.
    fn set_link_online(&mut self, hub: &str, account: &str, online: bool) -> Result<(), ErrorCode>;
    /// `DeleteLink`: 8 hub, 29 unknown; stops the cascade.
    fn delete_link(&mut self, hub: &str, account: &str) -> Result<(), ErrorCode>;

    /// `GetServerCipher`: the stored `CipherName` (`~DEFAULT~` if unset).
    fn get_server_cipher(&mut self) -> Result<String, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `GetServerCipherList`: the names `SetServerCipher` accepts.
    fn get_server_cipher_list(&mut self) -> Result<Vec<String>, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `SetServerCipher` (upper-cased, non-empty): 38 if no name maps to a
    /// usable TLS suite; applies to new TLS connections.
    fn set_server_cipher(&mut self, _names: &str) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `SetServerCert`: 4 (`ERR_PROTOCOL_ERROR`, as `StSetServerCert`) if
    /// the pair is unusable; applies to new TLS connections.
    fn set_server_cert(&mut self, _cert: &[u8], _key: &[u8]) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `RegenerateServerCert`: a new self-signed RSA-2048 certificate with
    /// common name `cn` (the host name if empty).
    fn regenerate_server_cert(&mut self, _cn: &str) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `GetSpecialListener`.
    fn get_special_listener(&mut self) -> Result<SpecialListener, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `SetSpecialListener`: stored only (RustEther has no VPN over ICMP/DNS).
    fn set_special_listener(&mut self, _req: &SpecialListener) -> Result<(), ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `GetIPsecServices`: the `IPsec` folder as stored.
    fn get_ipsec_services(&mut self) -> Result<IpsecServices, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
    /// `EnumEtherIpId`: the stored EtherIP client entries.
    fn enum_etherip_id(&mut self) -> Result<Vec<EtherIpId>, ErrorCode> {
        Err(ErrorCode::NOT_SUPPORTED)
    }
}

/// The outcome of one call, for the glue's audit log and persistence.
#[derive(Clone, Debug)]
pub struct DispatchOutcome {
    /// The function, if the name was known.
    pub function: Option<RpcFunction>,
    /// The response (with JSON hints) or the error.
    pub result: Result<OutPack, ErrorCode>,
}

impl DispatchOutcome {
    /// True if the call succeeded and changed the configuration (the glue
    /// saves before sending the response).
    pub fn changed_config(&self) -> bool {
        self.result.is_ok() && self.function.is_some_and(RpcFunction::changes_config)
    }

    /// The error code, 0 on success.
    pub fn error(&self) -> ErrorCode {
        match &self.result {
            Ok(_) => ErrorCode::NO_ERROR,
            Err(e) => *e,
        }
    }

    /// The binary response PACK (docs/admin-rpc.md §4).
    pub fn into_pack(self) -> Pack {
        match self.result {
            Ok(o) => o.into_pack(),
            Err(e) => error_response(e),
        }
    }
}

/// Handles one framed RPC call: `function` as received (case-insensitive),
/// `request` the whole request PACK. Unknown functions get
/// `ERR_NOT_SUPPORTED` (33, verified).
pub fn dispatch(
    backend: &mut dyn AdminBackend,
    caller: &Caller,
    function: &str,
    request: &Pack,
) -> Pack {
    dispatch_call(backend, caller, function, request).into_pack()
}

/// Like [`dispatch`], returning the [`DispatchOutcome`].
pub fn dispatch_call(
    backend: &mut dyn AdminBackend,
    caller: &Caller,
    function: &str,
    request: &Pack,
) -> DispatchOutcome {
    let function = RpcFunction::from_name(function);
    let result = match function {
        Some(f) => call(backend, caller, f, request),
        None => Err(ErrorCode::NOT_SUPPORTED),
    };
    DispatchOutcome { function, result }
}

type R = Result<OutPack, ErrorCode>;

/// `FARM_DEFAULT_WEIGHT` (`src/Cedar/Cedar.h`): the `Weight` a standalone
/// SoftEther server reports in `GetFarmSetting`.
const FARM_DEFAULT_WEIGHT: u32 = 100;

fn out<T: RpcMessage>(v: &T) -> R {
    Ok(v.to_out())
}

fn req<T: RpcMessage>(p: &Pack) -> Result<T, ErrorCode> {
    T::from_pack(p)
}

/// 52 if a hub administrator is restricted by option `name` of `hub`.
fn hub_option(
    backend: &dyn AdminBackend,
    caller: &Caller,
    hub: &str,
    name: &str,
) -> Result<(), ErrorCode> {
    if !caller.rights.is_server_admin() && backend.hub_admin_option(hub, name) != 0 {
        return Err(ErrorCode::NOT_ENOUGH_RIGHT);
    }
    Ok(())
}

/// The log files the caller may read (`StEnumLogFile`): all for a server
/// administrator, its hub's for a hub administrator (52 under
/// `no_read_log_file`).
fn enum_log_files(
    backend: &mut dyn AdminBackend,
    caller: &Caller,
) -> Result<EnumLogFile, ErrorCode> {
    match &caller.rights {
        AdminRights::Server => backend.enum_log_file(None),
        AdminRights::Hub(h) => {
            hub_option(backend, caller, h, opt::NO_READ_LOG_FILE)?;
            backend.enum_log_file(Some(h))
        }
    }
}

/// `StCreateGroup` etc.: an empty name or one with characters outside
/// `IsSafeStr` is `ERR_INVALID_PARAMETER` (38), checked before rights.
fn check_group_name(name: &str) -> Result<(), ErrorCode> {
    if name.is_empty() || !is_safe_str(name) {
        return Err(ErrorCode::INVALID_PARAMETER);
    }
    Ok(())
}

/// The hub options `StAddAccess`/`StSetAccessList` apply to a new entry
/// (`no_delay_jitter_packet_loss`, `no_access_list_include_file`), then
/// refuses settings this server does not enforce with `ERR_NOT_SUPPORTED`
/// (33) rather than storing them silently (docs/administration.md).
fn prepare_access(
    backend: &dyn AdminBackend,
    hub: &str,
    a: &mut AccessRule,
) -> Result<(), ErrorCode> {
    if backend.hub_admin_option(hub, opt::NO_DELAY_JITTER_PACKET_LOSS) != 0 {
        (a.delay, a.jitter, a.loss) = (0, 0, 0);
    }
    if backend.hub_admin_option(hub, opt::NO_ACCESS_LIST_INCLUDE_FILE) != 0 {
        for n in [&mut a.src_username, &mut a.dst_username] {
            if is_file_user_name(n) {
                n.clear();
            }
        }
    }
    if !a.unsupported().is_empty() {
        return Err(ErrorCode::NOT_SUPPORTED);
    }
    Ok(())
}

fn check_user_request(caller: &Caller, u: &SetUser) -> Result<(), ErrorCode> {
    if !is_user_name(&u.fields.name) {
        return Err(ErrorCode::INVALID_PARAMETER);
    }
    caller.rights.check_hub(&u.fields.hub_name)?;
    match &u.auth {
        UserAuth::UserCert { cert_der } if cert_der.is_empty() => {
            return Err(ErrorCode::INVALID_PARAMETER)
        }
        UserAuth::Radius { .. } | UserAuth::Nt { .. } => {}
        _ if u.fields.name == "*" => return Err(ErrorCode::INVALID_PARAMETER),
        _ => {}
    }
    Ok(())
}

fn call(backend: &mut dyn AdminBackend, caller: &Caller, f: RpcFunction, p: &Pack) -> R {
    use RpcFunction as F;
    let rights = &caller.rights;
    match f {
        F::Test => {
            let mut t: RpcTest = req(p)?;
            t.str_value = t.int_value.to_string();
            out(&t)
        }
        F::GetServerInfo => out(&backend.get_server_info()?),
        F::GetServerStatus => out(&backend.get_server_status()?),
        F::CreateListener => {
            let l: Listener = req(p)?;
            if l.port == 0 || l.port > 65535 {
                return Err(ErrorCode::INVALID_PARAMETER);
            }
            rights.require_server_admin()?;
            backend.create_listener(&l)?;
            out(&l)
        }
        F::EnumListener => out(&backend.enum_listener()?),
        F::DeleteListener => {
            let l: Listener = req(p)?;
            rights.require_server_admin()?;
            backend.delete_listener(l.port)?;
            out(&l)
        }
        F::EnableListener => {
            let l: Listener = req(p)?;
            rights.require_server_admin()?;
            backend.enable_listener(&l)?;
            out(&l)
        }
        F::SetServerPassword => {
            let mut s: SetPassword = req(p)?;
            rights.require_server_admin()?;
            if s.hashed_password == [0; 20] {
                s.hashed_password = hash_admin_password(&s.plain_text_password);
            }
            backend.set_server_password(&s.hashed_password)?;
            s.plain_text_password.clear();
            out(&s)
        }
        F::GetServerCert => {
            let mut k = backend.get_server_cert()?;
            if !rights.is_server_admin() {
                k.key = None;
            }
            out(&k)
        }
        F::GetCaps => out(&backend.get_caps()?),
        F::GetKeep => out(&backend.get_keep()?),
        // src/Cedar/Admin.c StGetPortsUDP/StSetPortsUDP, StGetProtoOptions/
        // StSetProtoOptions, StGetOpenVpnSstpConfig/StSetOpenVpnSstpConfig.
        F::GetPortsUDP => {
            let ports = backend.get_ports_udp()?;
            out(&Ports {
                ports: ports.into_iter().map(u32::from).collect(),
            })
        }
        F::SetPortsUDP => {
            let t: Ports = req(p)?;
            let mut ports: Vec<u16> = Vec::new();
            for &port in &t.ports {
                let port = u16::try_from(port)
                    .ok()
                    .filter(|p| *p != 0)
                    .ok_or(ErrorCode::INVALID_PARAMETER)?;
                if !ports.contains(&port) {
                    ports.push(port);
                }
            }
            rights.require_server_admin()?;
            backend.set_ports_udp(&ports)?;
            out(&t)
        }
        F::GetProtoOptions => {
            let t: ProtoOptions = req(p)?;
            rights.require_server_admin()?;
            let (name, _) = proto_defaults(&t.protocol).ok_or(ErrorCode::INVALID_PARAMETER)?;
            let options = backend.get_proto_options(name)?;
            out(&ProtoOptions {
                protocol: t.protocol,
                options,
            })
        }
        F::SetProtoOptions => {
            let t: ProtoOptions = req(p)?;
            rights.require_server_admin()?;
            let name = check_proto_options(&t)?;
            backend.set_proto_options(name, &t.options)?;
            out(&t)
        }
        F::MakeOpenVpnConfigFile => {
            rights.require_server_admin()?;
            let buffer = backend.make_openvpn_config()?;
            out(&ReadLogFile {
                buffer: Some(buffer),
                ..ReadLogFile::default()
            })
        }
        F::GetOpenVpnSstpConfig => {
            let enabled =
                |b: &mut dyn AdminBackend, proto: &'static str| -> Result<bool, ErrorCode> {
                    Ok(b.get_proto_options(proto)?
                        .iter()
                        .any(|o| o.name == TOGGLE && o.value == ProtoValue::Bool(true)))
                };
            let t = OpenVpnSstpConfig {
                enable_openvpn: enabled(backend, "OpenVPN")?,
                enable_sstp: enabled(backend, "SSTP")?,
            };
            out(&t)
        }
        F::SetOpenVpnSstpConfig => {
            let t: OpenVpnSstpConfig = req(p)?;
            rights.require_server_admin()?;
            let toggle = |on: bool| {
                [ProtoOption {
                    name: TOGGLE.into(),
                    value: ProtoValue::Bool(on),
                }]
            };
            backend.set_proto_options("OpenVPN", &toggle(t.enable_openvpn))?;
            backend.set_proto_options("SSTP", &toggle(t.enable_sstp))?;
            out(&t)
        }
        F::SetKeep => {
            let k: Keep = req(p)?;
            if k.use_keep_connect
                && (k.keep_connect_host.is_empty()
                    || k.keep_connect_port == 0
                    || k.keep_connect_port >= 65536)
            {
                return Err(ErrorCode::INVALID_PARAMETER);
            }
            rights.require_server_admin()?;
            backend.set_keep(&k)?;
            out(&k)
        }
        F::Flush => {
            let mut t: RpcTest = req(p)?;
            rights.require_server_admin()?;
            t.int_value = backend.flush()?;
            out(&t)
        }
        F::RebootServer => {
            // `SERVER_ADMIN_ONLY`; the answer echoes the request.
            let t: RpcTest = req(p)?;
            rights.require_server_admin()?;
            backend.reboot_server(t.int_value != 0)?;
            out(&t)
        }
        F::GetConfig => {
            rights.require_server_admin()?;
            out(&backend.get_config()?)
        }
        F::SetConfig => {
            let c: Config = req(p)?;
            rights.require_server_admin()?;
            backend.set_config(&c)?;
            out(&c)
        }
        F::GetBridgeSupport => out(&backend.get_bridge_support()?),
        F::CreateHub => {
            let mut h: CreateHub = req(p)?;
            check_hub_name(&h.fields.hub_name)?;
            rights.require_server_admin()?;
            check_new_hub_name(&h.fields.hub_name)?;
            if h.hub_type != hub_type::STANDALONE {
                return Err(ErrorCode::INVALID_PARAMETER);
            }
            let f = &mut h.fields;
            if (f.hashed_password == [0; 20] && f.secure_password == [0; 20])
                || !f.admin_password_plain_text.is_empty()
            {
                f.hashed_password = hash_admin_password(&f.admin_password_plain_text);
                f.secure_password = hash_password("administrator", &f.admin_password_plain_text);
            }
            f.admin_password_plain_text.clear();
            backend.create_hub(&h)?;
            out(&h)
        }
        F::SetHub => {
            let mut h: CreateHub = req(p)?;
            let name = h.fields.hub_name.clone();
            check_hub_name(&name)?;
            rights.check_hub(&name)?;
            if h.hub_type != hub_type::STANDALONE {
                return Err(ErrorCode::INVALID_PARAMETER);
            }
            let f = &mut h.fields;
            if !f.admin_password_plain_text.is_empty() {
                f.hashed_password = hash_admin_password(&f.admin_password_plain_text);
                f.secure_password = hash_password("administrator", &f.admin_password_plain_text);
                f.admin_password_plain_text.clear();
            }
            let changes_password = f.hashed_password != [0; 20] && f.secure_password != [0; 20];
            if changes_password {
                hub_option(backend, caller, &name, opt::NO_CHANGE_ADMIN_PASSWORD)?;
            }
            let blank = f.hashed_password == hash_admin_password("")
                || f.secure_password == hash_password("administrator", "");
            if blank && !rights.is_server_admin() && !caller.from_local {
                return Err(ErrorCode::INVALID_PARAMETER);
            }
            if !rights.is_server_admin() {
                // StSetHub silently keeps the online state a hub
                // administrator may not change.
                let forbidden = if h.fields.online {
                    opt::NO_ONLINE
                } else {
                    opt::NO_OFFLINE
                };
                if backend.hub_admin_option(&name, forbidden) != 0 {
                    h.fields.online = backend.get_hub(&name)?.fields.online;
                }
            }
            backend.set_hub(&h)?;
            out(&h)
        }
        F::GetHub => {
            let h: CreateHub = req(p)?;
            check_hub_name(&h.fields.hub_name)?;
            rights.check_hub(&h.fields.hub_name)?;
            let mut got = backend.get_hub(&h.fields.hub_name)?;
            got.fields.hashed_password = [0; 20];
            got.fields.secure_password = [0; 20];
            got.fields.admin_password_plain_text.clear();
            out(&got)
        }
        F::EnumHub => {
            let mut e = backend.enum_hub()?;
            if let Some(own) = rights.hub() {
                e.hubs
                    .retain(|h| h.fields.hub_name.eq_ignore_ascii_case(own));
            }
            out(&e)
        }
        F::DeleteHub => {
            let d: DeleteHub = req(p)?;
            check_hub_name(&d.hub_name)?;
            rights.require_server_admin()?;
            backend.delete_hub(&d.hub_name)?;
            out(&d)
        }
        F::SetHubOnline => {
            let s: SetHubOnline = req(p)?;
            rights.check_hub(&s.hub_name)?;
            let forbidden = if s.online {
                opt::NO_ONLINE
            } else {
                opt::NO_OFFLINE
            };
            hub_option(backend, caller, &s.hub_name, forbidden)?;
            backend.set_hub_online(&s.hub_name, s.online)?;
            out(&s)
        }
        F::EnableSecureNAT | F::DisableSecureNAT => {
            let h: RpcHub = req(p)?;
            rights.check_hub(&h.hub_name)?;
            hub_option(backend, caller, &h.hub_name, opt::NO_SECURENAT)?;
            backend.set_securenat_enabled(&h.hub_name, f == F::EnableSecureNAT)?;
            out(&h)
        }
        F::GetSecureNATOption => {
            let o: SecureNatOption = req(p)?;
            rights.check_hub(&o.rpc_hub_name)?;
            out(&backend.get_securenat_option(&o.rpc_hub_name)?)
        }
        F::SetSecureNATOption => {
            let o: SecureNatOption = req(p)?;
            rights.check_hub(&o.rpc_hub_name)?;
            hub_option(backend, caller, &o.rpc_hub_name, opt::NO_SECURENAT)?;
            // StSetSecureNATOption: switching NAT or DHCP on is refused to a
            // hub administrator by its own option; switching off is not.
            let cur = backend.get_securenat_option(&o.rpc_hub_name)?;
            if o.use_nat && !cur.use_nat {
                hub_option(
                    backend,
                    caller,
                    &o.rpc_hub_name,
                    opt::NO_SECURENAT_ENABLENAT,
                )?;
            }
            if o.use_dhcp && !cur.use_dhcp {
                hub_option(
                    backend,
                    caller,
                    &o.rpc_hub_name,
                    opt::NO_SECURENAT_ENABLEDHCP,
                )?;
            }
            backend.set_securenat_option(&o)?;
            out(&o)
        }
        F::EnumNAT => {
            let e: EnumNat = req(p)?;
            rights.check_hub(&e.hub_name)?;
            out(&backend.enum_nat(&e.hub_name)?)
        }
        F::GetSecureNATStatus => {
            let e: NatStatus = req(p)?;
            rights.check_hub(&e.hub_name)?;
            out(&backend.get_securenat_status(&e.hub_name)?)
        }
        F::EnumDHCP => {
            let e: EnumDhcp = req(p)?;
            rights.check_hub(&e.hub_name)?;
            out(&backend.enum_dhcp(&e.hub_name)?)
        }
        F::GetHubStatus => {
            let h: HubStatus = req(p)?;
            rights.check_hub(&h.fields.hub_name)?;
            out(&backend.get_hub_status(&h.fields.hub_name)?)
        }
        F::CreateUser | F::SetUser => {
            let u: SetUser = req(p)?;
            check_user_request(caller, &u)?;
            hub_option(backend, caller, &u.fields.hub_name, opt::NO_CHANGE_USERS)?;
            if f == F::CreateUser {
                backend.create_user(&u)?;
            } else {
                backend.set_user(&u)?;
            }
            out(&u)
        }
        F::GetUser => {
            let u: SetUser = req(p)?;
            if !is_user_name(&u.fields.name) {
                return Err(ErrorCode::INVALID_PARAMETER);
            }
            rights.check_hub(&u.fields.hub_name)?;
            out(&backend.get_user(&u.fields.hub_name, &u.fields.name)?)
        }
        F::DeleteUser => {
            let d: DeleteUser = req(p)?;
            if !is_user_name(&d.name) {
                return Err(ErrorCode::INVALID_PARAMETER);
            }
            rights.check_hub(&d.hub_name)?;
            hub_option(backend, caller, &d.hub_name, opt::NO_CHANGE_USERS)?;
            backend.delete_user(&d.hub_name, &d.name)?;
            out(&d)
        }
        F::EnumUser => {
            let e: EnumUser = req(p)?;
            rights.check_hub(&e.hub_name)?;
            out(&backend.enum_user(&e.hub_name)?)
        }
        F::EnumSession => {
            let e: EnumSession = req(p)?;
            rights.check_hub(&e.hub_name)?;
            hub_option(backend, caller, &e.hub_name, opt::NO_ENUM_SESSION)?;
            out(&backend.enum_session(&e.hub_name)?)
        }
        F::GetSessionStatus => {
            let s: SessionStatus = req(p)?;
            let (hub, name) = (&s.fields.hub_name, &s.fields.name);
            if name.is_empty() {
                return Err(ErrorCode::INVALID_PARAMETER);
            }
            rights.check_hub(hub)?;
            hub_option(backend, caller, hub, opt::NO_QUERY_SESSION)?;
            out(&backend.get_session_status(hub, name)?)
        }
        F::DeleteSession => {
            let d: DeleteSession = req(p)?;
            if d.name.is_empty() {
                return Err(ErrorCode::INVALID_PARAMETER);
            }
            rights.check_hub(&d.hub_name)?;
            hub_option(backend, caller, &d.hub_name, opt::NO_DISCONNECT_SESSION)?;
            backend.delete_session(&d.hub_name, &d.name)?;
            out(&d)
        }
        F::EnumEthernet => {
            rights.require_server_admin()?;
            out(&backend.enum_ethernet()?)
        }
        F::AddLocalBridge | F::DeleteLocalBridge => {
            let b: LocalBridge = req(p)?;
            if b.device_name.is_empty() || b.hub_name.is_empty() {
                return Err(ErrorCode::INVALID_PARAMETER);
            }
            rights.require_server_admin()?;
            if f == F::AddLocalBridge {
                backend.add_local_bridge(&b)?;
            } else {
                backend.delete_local_bridge(&b)?;
            }
            out(&b)
        }
        F::EnumLocalBridge => out(&backend.enum_local_bridge()?),
        F::CreateLink | F::SetLink => {
            let l: CreateLink = req(p)?;
            rights.check_hub(&l.hub_name)?;
            hub_option(backend, caller, &l.hub_name, opt::NO_CASCADE)?;
            if l.option.account_name.is_empty() {
                return Err(ErrorCode::INVALID_PARAMETER);
            }
            if f == F::CreateLink {
                backend.create_link(&l)?;
            } else {
                backend.set_link(&l)?;
            }
            out(&l)
        }
        F::GetLink => {
            let l: CreateLink = req(p)?;
            rights.check_hub(&l.hub_name)?;
            out(&backend.get_link(&l.hub_name, &l.option.account_name)?)
        }
        F::EnumLink => {
            let e: EnumLink = req(p)?;
            rights.check_hub(&e.hub_name)?;
            out(&backend.enum_link(&e.hub_name)?)
        }
        F::GetLinkStatus => {
            let s: LinkStatus = req(p)?;
            if s.account_name.is_empty() {
                return Err(ErrorCode::INVALID_PARAMETER);
            }
            rights.check_hub(&s.hub_name)?;
            out(&backend.get_link_status(&s.hub_name, &s.account_name)?)
        }
        F::SetLinkOnline | F::SetLinkOffline | F::DeleteLink => {
            let l: Link = req(p)?;
            if l.account_name.is_empty() {
                return Err(ErrorCode::INVALID_PARAMETER);
            }
            rights.check_hub(&l.hub_name)?;
            hub_option(backend, caller, &l.hub_name, opt::NO_CASCADE)?;
            match f {
                F::SetLinkOnline => backend.set_link_online(&l.hub_name, &l.account_name, true)?,
                F::SetLinkOffline => {
                    backend.set_link_online(&l.hub_name, &l.account_name, false)?
                }
                _ => backend.delete_link(&l.hub_name, &l.account_name)?,
            }
            out(&l)
        }
        F::EnumMacTable => {
            let e: EnumMacTable = req(p)?;
            rights.check_hub(&e.hub_name)?;
            out(&backend.enum_mac_table(&e.hub_name)?)
        }
        F::EnumIpTable => {
            let e: EnumIpTable = req(p)?;
            rights.check_hub(&e.hub_name)?;
            out(&backend.enum_ip_table(&e.hub_name)?)
        }
        F::DeleteMacTable | F::DeleteIpTable => {
            let d: DeleteTable = req(p)?;
            rights.check_hub(&d.hub_name)?;
            if f == F::DeleteMacTable {
                hub_option(backend, caller, &d.hub_name, opt::NO_DELETE_MACTABLE)?;
                backend.delete_mac_table(&d.hub_name, d.key)?;
            } else {
                hub_option(backend, caller, &d.hub_name, opt::NO_DELETE_IPTABLE)?;
                backend.delete_ip_table(&d.hub_name, d.key)?;
            }
            out(&d)
        }
        F::CreateGroup | F::SetGroup => {
            let g: SetGroup = req(p)?;
            check_group_name(&g.fields.name)?;
            rights.check_hub(&g.fields.hub_name)?;
            hub_option(backend, caller, &g.fields.hub_name, opt::NO_CHANGE_GROUPS)?;
            if f == F::CreateGroup {
                backend.create_group(&g)?;
            } else {
                backend.set_group(&g)?;
            }
            out(&g)
        }
        F::GetGroup => {
            let g: SetGroup = req(p)?;
            check_group_name(&g.fields.name)?;
            rights.check_hub(&g.fields.hub_name)?;
            out(&backend.get_group(&g.fields.hub_name, &g.fields.name)?)
        }
        F::DeleteGroup => {
            let d: DeleteUser = req(p)?;
            check_group_name(&d.name)?;
            rights.check_hub(&d.hub_name)?;
            hub_option(backend, caller, &d.hub_name, opt::NO_CHANGE_GROUPS)?;
            backend.delete_group(&d.hub_name, &d.name)?;
            out(&d)
        }
        F::EnumGroup => {
            let e: EnumGroup = req(p)?;
            rights.check_hub(&e.hub_name)?;
            out(&backend.enum_group(&e.hub_name)?)
        }
        F::AddAccess => {
            let mut a: AddAccess = req(p)?;
            let hub = a.hub_name.clone();
            rights.check_hub(&hub)?;
            let n = backend.enum_access(&hub)?.len();
            hub_option(backend, caller, &hub, opt::NO_CHANGE_ACCESS_LIST)?;
            let max = backend.hub_admin_option(&hub, opt::MAX_ACCESSLISTS) as usize;
            if n >= MAX_ACCESSLISTS as usize || (max != 0 && n >= max) {
                return Err(ErrorCode::TOO_MANY_ACCESS_LIST);
            }
            prepare_access(backend, &hub, &mut a.access)?;
            backend.add_access(&hub, &a.access)?;
            out(&a)
        }
        F::DeleteAccess => {
            let d: DeleteAccess = req(p)?;
            rights.check_hub(&d.hub_name)?;
            backend.enum_access(&d.hub_name)?;
            hub_option(backend, caller, &d.hub_name, opt::NO_CHANGE_ACCESS_LIST)?;
            backend.delete_access(&d.hub_name, d.id)?;
            out(&d)
        }
        F::EnumAccess => {
            let e: EnumAccessList = req(p)?;
            rights.check_hub(&e.hub_name)?;
            let accesses = backend.enum_access(&e.hub_name)?;
            out(&EnumAccessList {
                hub_name: e.hub_name,
                accesses,
            })
        }
        F::SetAccessList => {
            let mut e: EnumAccessList = req(p)?;
            let hub = e.hub_name.clone();
            rights.check_hub(&hub)?;
            if e.accesses.len() > MAX_ACCESSLISTS as usize {
                return Err(ErrorCode::TOO_MANY_ACCESS_LIST);
            }
            backend.enum_access(&hub)?;
            hub_option(backend, caller, &hub, opt::NO_CHANGE_ACCESS_LIST)?;
            let max = backend.hub_admin_option(&hub, opt::MAX_ACCESSLISTS) as usize;
            if !rights.is_server_admin() && max != 0 && e.accesses.len() > max {
                return Err(ErrorCode::TOO_MANY_ACCESS_LIST);
            }
            for a in &mut e.accesses {
                prepare_access(backend, &hub, a)?;
            }
            backend.set_access_list(&hub, &e.accesses)?;
            out(&e)
        }
        // src/Cedar/Admin.c StGetHubLog/StSetHubLog (`no_change_log_config`;
        // `no_change_log_switch_type` keeps the switch types).
        F::GetHubLog => {
            let h: HubLog = req(p)?;
            rights.check_hub(&h.hub_name)?;
            let mut got = backend.get_hub_log(&h.hub_name)?;
            got.hub_name = h.hub_name;
            out(&got)
        }
        F::SetHubLog => {
            let mut h: HubLog = req(p)?;
            rights.check_hub(&h.hub_name)?;
            let cur = backend.get_hub_log(&h.hub_name)?;
            hub_option(backend, caller, &h.hub_name, opt::NO_CHANGE_LOG_CONFIG)?;
            if hub_option(backend, caller, &h.hub_name, opt::NO_CHANGE_LOG_SWITCH_TYPE).is_err() {
                h.security_log_switch_type = cur.security_log_switch_type;
                h.packet_log_switch_type = cur.packet_log_switch_type;
            }
            backend.set_hub_log(&h)?;
            out(&h)
        }
        // StEnumLogFile/StReadLogFile: a hub administrator sees its hub's
        // logs unless `no_read_log_file`; a file is read only if the
        // caller's listing has it (`CheckLogFileNameFromEnumList`), so no
        // path outside the log directories can be named.
        F::EnumLogFile => out(&enum_log_files(backend, caller)?),
        F::ReadLogFile => {
            let r: ReadLogFile = req(p)?;
            if r.file_path.is_empty() {
                return Err(ErrorCode::INVALID_PARAMETER);
            }
            let list = enum_log_files(backend, caller)?;
            let Some(item) = list.items.iter().find(|i| i.file_path == r.file_path) else {
                return Err(ErrorCode::OBJECT_NOT_FOUND);
            };
            let buffer = backend.read_log_file(&item.file_path, r.offset)?;
            out(&ReadLogFile {
                file_path: item.file_path.clone(),
                server_name: item.server_name.clone(),
                offset: r.offset,
                buffer,
            })
        }
        // StGetSysLog/StSetSysLog: setting is for server administrators;
        // a hub administrator sees "Secret" instead of the host.
        F::GetSysLog => {
            let mut s = backend.get_sys_log()?;
            if !rights.is_server_admin() {
                s.hostname = if s.save_type == 0 {
                    String::new()
                } else {
                    "Secret".into()
                };
                s.port = 0;
            }
            out(&s)
        }
        F::SetSysLog => {
            let mut s: SysLogSetting = req(p)?;
            rights.require_server_admin()?;
            if s.save_type > 3 {
                return Err(ErrorCode::INVALID_PARAMETER);
            }
            if s.hostname.is_empty() || s.port == 0 {
                s.save_type = 0;
            }
            backend.set_sys_log(&s)?;
            out(&s)
        }
        F::GetHubMsg | F::SetHubMsg => {
            let m: RpcMsg = req(p)?;
            rights.check_hub(&m.hub_name)?;
            if m.msg.chars().count() > HUB_MAXMSG_LEN {
                return Err(ErrorCode::MEMORY_NOT_ENOUGH);
            }
            if f == F::GetHubMsg {
                // `StGetHubMsg` zeroes the structure: no `HubName` back.
                let msg = backend.get_hub_msg(&m.hub_name)?;
                return out(&RpcMsg {
                    hub_name: String::new(),
                    msg,
                });
            }
            backend.get_hub_msg(&m.hub_name)?;
            hub_option(backend, caller, &m.hub_name, opt::NO_CHANGE_MSG)?;
            backend.set_hub_msg(&m.hub_name, &m.msg)?;
            out(&m)
        }
        F::GetAcList => {
            let l: AcList = req(p)?;
            rights.check_hub(&l.hub_name)?;
            let entries = backend.get_ac_list(&l.hub_name)?;
            out(&AcList {
                hub_name: l.hub_name,
                entries,
            })
        }
        F::SetAcList => {
            let l: AcList = req(p)?;
            rights.check_hub(&l.hub_name)?;
            backend.get_ac_list(&l.hub_name)?;
            hub_option(
                backend,
                caller,
                &l.hub_name,
                opt::NO_CHANGE_ACCESS_CONTROL_LIST,
            )?;
            backend.set_ac_list(&l.hub_name, &l.entries)?;
            out(&l)
        }
        F::GetHubAdminOptions
        | F::SetHubAdminOptions
        | F::GetDefaultHubAdminOptions
        | F::GetHubExtOptions
        | F::SetHubExtOptions
        | F::GetAdminMsg
        | F::RenameLink
        | F::AddCrl
        | F::DelCrl
        | F::EnumCrl
        | F::GetCrl
        | F::SetCrl
        | F::GetHubRadius
        | F::SetHubRadius => call_hubx(backend, caller, f, p),
        F::EnumConnection => {
            rights.require_server_admin()?;
            out(&backend.enum_connection()?)
        }
        F::AddCa => {
            let a: HubAddCa = req(p)?;
            rights.check_hub(&a.hub_name)?;
            // `StAddCa`: no certificate → 38.
            if a.cert.is_empty() {
                return Err(ErrorCode::INVALID_PARAMETER);
            }
            hub_option(backend, caller, &a.hub_name, opt::NO_CHANGE_CERT_LIST)?;
            backend.add_ca(&a)?;
            out(&a)
        }
        F::EnumCa => {
            let e: HubEnumCa = req(p)?;
            rights.check_hub(&e.hub_name)?;
            out(&backend.enum_ca(&e.hub_name)?)
        }
        F::GetCa => {
            let g: HubGetCa = req(p)?;
            rights.check_hub(&g.hub_name)?;
            out(&backend.get_ca(&g.hub_name, g.key)?)
        }
        F::DeleteCa => {
            let d: HubDeleteCa = req(p)?;
            rights.check_hub(&d.hub_name)?;
            hub_option(backend, caller, &d.hub_name, opt::NO_CHANGE_CERT_LIST)?;
            backend.delete_ca(&d.hub_name, d.key)?;
            out(&d)
        }
        F::GetConnectionInfo => {
            let c: ConnectionInfo = req(p)?;
            if c.name.is_empty() {
                return Err(ErrorCode::INVALID_PARAMETER);
            }
            rights.require_server_admin()?;
            out(&backend.get_connection_info(&c.name)?)
        }
        F::DisconnectConnection => {
            let d: DisconnectConnection = req(p)?;
            if d.name.is_empty() {
                return Err(ErrorCode::INVALID_PARAMETER);
            }
            rights.require_server_admin()?;
            backend.disconnect_connection(&d.name)?;
            out(&d)
        }
        // src/Cedar/Admin.c StGetServerCipher (no rights check),
        // StGetServerCipherList, StSetServerCipher (38 before rights).
        F::GetServerCipher => out(&RpcStr {
            string: backend.get_server_cipher()?,
        }),
        F::GetServerCipherList => out(&RpcStr {
            string: backend.get_server_cipher_list()?.join(";"),
        }),
        F::SetServerCipher => {
            let mut s: RpcStr = req(p)?;
            if s.string.trim().is_empty() {
                return Err(ErrorCode::INVALID_PARAMETER);
            }
            rights.require_server_admin()?;
            s.string = s.string.to_ascii_uppercase();
            backend.set_server_cipher(&s.string)?;
            out(&s)
        }
        F::SetServerCert => {
            let mut k: KeyPair = req(p)?;
            rights.require_server_admin()?;
            let (Some(cert), Some(key)) = (&k.cert, &k.key) else {
                return Err(ErrorCode::PROTOCOL_ERROR);
            };
            backend.set_server_cert(cert, key)?;
            k.key = None;
            k.flag1 = 1;
            out(&k)
        }
        F::RegenerateServerCert => {
            let t: RpcTest = req(p)?;
            rights.require_server_admin()?;
            backend.regenerate_server_cert(t.str_value.trim())?;
            out(&t)
        }
        F::GetSpecialListener => {
            rights.require_server_admin()?;
            out(&backend.get_special_listener()?)
        }
        F::SetSpecialListener => {
            let s: SpecialListener = req(p)?;
            rights.require_server_admin()?;
            backend.set_special_listener(&s)?;
            out(&s)
        }
        // StGetFarmSetting: no rights check; this server is standalone.
        F::GetFarmSetting => out(&Farm {
            weight: FARM_DEFAULT_WEIGHT,
            ..Farm::default()
        }),
        F::SetFarmSetting => {
            let s: Farm = req(p)?;
            rights.require_server_admin()?;
            // Clustering is not implemented: only "standalone" (a no-op).
            if s.server_type != 0 {
                return Err(ErrorCode::NOT_SUPPORTED);
            }
            out(&s)
        }
        F::GetFarmInfo => {
            let _: FarmInfoRequest = req(p)?;
            Err(ErrorCode::NOT_FARM_CONTROLLER)
        }
        F::EnumFarmMember => Err(ErrorCode::NOT_FARM_CONTROLLER),
        F::GetFarmConnectionStatus => Err(ErrorCode::NOT_FARM_MEMBER),
        F::GetIPsecServices => {
            rights.require_server_admin()?;
            out(&backend.get_ipsec_services()?)
        }
        F::EnumEtherIpId => {
            rights.require_server_admin()?;
            out(&EnumEtherIpId {
                items: backend.enum_etherip_id()?,
            })
        }
        F::AddL3Switch | F::DelL3Switch | F::StartL3Switch | F::StopL3Switch => {
            let l: L3Sw = req(p)?;
            // `StAddL3Switch` etc.: parameter checks before rights.
            if l.name.is_empty() || (f == F::AddL3Switch && !is_safe_str(&l.name)) {
                return Err(ErrorCode::INVALID_PARAMETER);
            }
            rights.require_server_admin()?;
            match f {
                F::AddL3Switch => backend.add_l3_switch(&l.name)?,
                F::DelL3Switch => backend.del_l3_switch(&l.name)?,
                F::StartL3Switch => backend.set_l3_switch_active(&l.name, true)?,
                _ => backend.set_l3_switch_active(&l.name, false)?,
            }
            out(&l)
        }
        F::EnumL3Switch => out(&backend.enum_l3_switch()?),
        F::AddL3If | F::DelL3If => {
            let i: L3If = req(p)?;
            if f == F::AddL3If {
                // `StAddL3If`: a subnet mask, a host address, not the network.
                let (ip, mask) = (u32::from(i.ip_address), u32::from(i.subnet_mask));
                if !is_subnet_mask(mask) || ip == 0 || ip == u32::MAX || ip & !mask == 0 {
                    return Err(ErrorCode::INVALID_PARAMETER);
                }
            }
            rights.require_server_admin()?;
            if f == F::AddL3If {
                backend.add_l3_if(&i)?;
            } else {
                backend.del_l3_if(&i.name, &i.hub_name)?;
            }
            out(&i)
        }
        F::EnumL3If => {
            let e: EnumL3If = req(p)?;
            out(&backend.enum_l3_if(&e.name)?)
        }
        F::AddL3Table | F::DelL3Table => {
            let t: L3Table = req(p)?;
            if f == F::AddL3Table {
                // `StAddL3Table`: `IsNetworkAddress32`, `IsHostIPAddress32`.
                let (net, mask) = (u32::from(t.network_address), u32::from(t.subnet_mask));
                let gw = u32::from(t.gateway_address);
                if !is_subnet_mask(mask) || net & mask != net || gw == 0 || gw == u32::MAX {
                    return Err(ErrorCode::INVALID_PARAMETER);
                }
            }
            rights.require_server_admin()?;
            if f == F::AddL3Table {
                backend.add_l3_table(&t)?;
            } else {
                backend.del_l3_table(&t)?;
            }
            out(&t)
        }
        F::EnumL3Table => {
            let e: EnumL3Table = req(p)?;
            if e.name.is_empty() {
                return Err(ErrorCode::INVALID_PARAMETER);
            }
            out(&backend.enum_l3_table(&e.name)?)
        }
    }
}

/// `StGetHubAdminOptions`, `StSetHubAdminOptions`,
/// `StGetDefaultHubAdminOptions`, `StGetHubExtOptions`,
/// `StSetHubExtOptions`, `StGetAdminMsg`, `StRenameLink`
/// (src/Cedar/Admin.c).
fn call_hubx(backend: &mut dyn AdminBackend, caller: &Caller, f: RpcFunction, p: &Pack) -> R {
    use RpcFunction as F;
    let rights = &caller.rights;
    match f {
        F::GetHubAdminOptions | F::GetHubExtOptions => {
            let t: AdminOptionList = req(p)?;
            rights.check_hub(&t.hub_name)?;
            let items = if f == F::GetHubAdminOptions {
                backend.get_hub_admin_options(&t.hub_name)?
            } else {
                backend.get_hub_ext_options(&t.hub_name)?
            };
            out(&AdminOptionList {
                hub_name: t.hub_name,
                items,
            })
        }
        F::GetDefaultHubAdminOptions => out(&AdminOptionList {
            hub_name: String::new(),
            items: backend.get_default_hub_admin_options()?,
        }),
        F::SetHubAdminOptions | F::SetHubExtOptions => {
            let t: AdminOptionList = req(p)?;
            if t.items.len() > opt::MAX_HUB_ADMIN_OPTIONS {
                return Err(ErrorCode::TOO_MANY_ITEMS);
            }
            rights.check_hub(&t.hub_name)?;
            let admin = f == F::SetHubAdminOptions;
            // The hub must exist before the rights option is looked at (8
            // before 52, as SoftEther).
            if admin {
                backend.get_hub_admin_options(&t.hub_name)?;
                if !rights.is_server_admin()
                    && backend.hub_admin_option(&t.hub_name, opt::ALLOW_HUB_ADMIN_CHANGE_OPTION)
                        == 0
                {
                    return Err(ErrorCode::NOT_ENOUGH_RIGHT);
                }
            } else {
                backend.get_hub_ext_options(&t.hub_name)?;
                hub_option(
                    backend,
                    caller,
                    &t.hub_name,
                    opt::DENY_HUB_ADMIN_CHANGE_EXT_OPTION,
                )?;
            }
            let mut items: Vec<AdminOptionItem> = Vec::new();
            for i in &t.items {
                let name = if admin {
                    opt::canonical_name(&i.name)
                } else {
                    crate::hub_ext_option::find(&i.name).map(|o| o.name)
                };
                let Some(name) = name else { continue };
                let item = AdminOptionItem {
                    name: name.to_owned(),
                    value: i.value,
                    descrption: String::new(),
                };
                // The last value of a name given twice wins.
                match items.iter_mut().find(|x| x.name == name) {
                    Some(x) => *x = item,
                    None => items.push(item),
                }
            }
            if admin {
                backend.set_hub_admin_options(&t.hub_name, &items)?;
            } else {
                backend.set_hub_ext_options(&t.hub_name, &items)?;
            }
            out(&t)
        }
        F::GetAdminMsg => {
            // SoftEther's open-source build shows no message unless the
            // client's or server's Windows is unsupported: empty here.
            out(&RpcMsg::default())
        }
        F::RenameLink => {
            let t: RenameLink = req(p)?;
            if t.old_account_name.is_empty() || t.new_account_name.is_empty() {
                return Err(ErrorCode::INVALID_PARAMETER);
            }
            rights.check_hub(&t.hub_name)?;
            if t.new_account_name.to_lowercase() == t.old_account_name.to_lowercase() {
                return out(&t);
            }
            hub_option(backend, caller, &t.hub_name, opt::NO_CASCADE)?;
            backend.rename_link(&t.hub_name, &t.old_account_name, &t.new_account_name)?;
            out(&t)
        }
        F::EnumCrl => {
            let t: EnumCrl = req(p)?;
            rights.check_hub(&t.hub_name)?;
            let items = backend.enum_crl(&t.hub_name)?;
            out(&EnumCrl {
                hub_name: t.hub_name,
                items,
            })
        }
        F::GetCrl => {
            let t: RpcCrl = req(p)?;
            rights.check_hub(&t.hub_name)?;
            let crl = backend.get_crl(&t.hub_name, t.key)?;
            out(&RpcCrl { crl, ..t })
        }
        F::AddCrl | F::DelCrl | F::SetCrl => {
            let t: RpcCrl = req(p)?;
            rights.check_hub(&t.hub_name)?;
            // `StAddCrl` etc.: the hub first (8), then the option (52).
            backend.enum_crl(&t.hub_name)?;
            hub_option(backend, caller, &t.hub_name, opt::NO_CHANGE_CRL_LIST)?;
            match f {
                F::AddCrl => backend.add_crl(&t.hub_name, &t.crl)?,
                F::DelCrl => backend.del_crl(&t.hub_name, t.key)?,
                _ => backend.set_crl(&t.hub_name, t.key, &t.crl)?,
            }
            out(&t)
        }
        F::GetHubRadius => {
            let t: RpcRadius = req(p)?;
            rights.check_hub(&t.hub_name)?;
            out(&backend.get_hub_radius(&t.hub_name)?)
        }
        F::SetHubRadius => {
            let mut t: RpcRadius = req(p)?;
            rights.check_hub(&t.hub_name)?;
            // `SetRadiusServerEx`: 0 → 1000 ms, at most 15 000 ms.
            t.radius_retry_interval = match t.radius_retry_interval {
                0 => RADIUS_RETRY_INTERVAL_MS,
                v => v.min(RADIUS_RETRY_TIMEOUT_MS),
            };
            backend.set_hub_radius(&t)?;
            out(&t)
        }
        _ => Err(ErrorCode::NOT_SUPPORTED),
    }
}

/// Default RADIUS retransmission interval, ms (`RADIUS_RETRY_INTERVAL`,
/// src/Cedar/Radius.h).
pub const RADIUS_RETRY_INTERVAL_MS: u32 = 1000;
/// Longest RADIUS retransmission interval, ms (`RADIUS_RETRY_TIMEOUT`).
pub const RADIUS_RETRY_TIMEOUT_MS: u32 = 15_000;
