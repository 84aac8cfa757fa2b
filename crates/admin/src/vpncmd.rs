//! Which RPCs the real vpncmd 5.01 (build 9674) issues for each core
//! command. Observed by relaying vpncmd's admin connection to a real
//! vpnserver 5.01 and logging every `function_name` (crates/admin/NOTES.md);
//! the functions are those of `src/Cedar/Command.c` (`Ps*`).
//!
//! Every command first runs a connect sequence (docs/admin-rpc.md §7):
//! [`CONNECT_SERVER_ADMIN`] in server-admin mode, [`CONNECT_ADMIN_HUB`] with
//! `/ADMINHUB:<hub>`, [`CONNECT_HUB_ADMIN`] in hub-admin mode
//! (`/HUB:<hub> /PASSWORD:<hub password>`).
//!
//! Names from issue 5 that are not vpncmd commands: `HubSetOnline` /
//! `HubSetOffline` (vpncmd answers "Command not found", exit status 117;
//! the commands are `Online`/`Offline` in a hub context) and
//! `CascadeGetStatus` (the command is `CascadeStatusGet`).

/// RPCs on connect in server-admin mode without a hub selected.
pub const CONNECT_SERVER_ADMIN: &[&str] = &["GetServerInfo", "GetCaps", "GetServerCert"];

/// RPCs on connect in server-admin mode with `/ADMINHUB:<hub>` (a failing
/// GetHubStatus means "hub not selected": commands needing a hub then fail
/// locally with exit status 38, observed).
pub const CONNECT_ADMIN_HUB: &[&str] = &["GetServerInfo", "GetCaps", "GetHubStatus"];

/// RPCs on connect in hub-admin mode.
pub const CONNECT_HUB_ADMIN: &[&str] = &["GetServerInfo", "GetCaps"];

/// Where a command runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Context {
    /// Server level.
    Server,
    /// Needs a selected hub (`/ADMINHUB:`, `/HUB:` or the `Hub` command).
    Hub,
}

/// One vpncmd command and the RPCs it calls after the connect sequence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VpncmdCommand {
    /// The command name as typed.
    pub command: &'static str,
    /// Server or hub context.
    pub context: Context,
    /// RPC function names, in order.
    pub rpcs: &'static [&'static str],
}

const fn cmd(
    command: &'static str,
    context: Context,
    rpcs: &'static [&'static str],
) -> VpncmdCommand {
    VpncmdCommand {
        command,
        context,
        rpcs,
    }
}

/// The core commands (issue 5 plus `KeepDisable`, `Online`, `Offline`,
/// `Hub`, `StatusGet`, `CascadePasswordSet`), all observed.
pub const COMMANDS: &[VpncmdCommand] = &[
    cmd("ServerInfoGet", Context::Server, &["GetServerInfo"]),
    cmd("ServerStatusGet", Context::Server, &["GetServerStatus"]),
    cmd("ServerPasswordSet", Context::Server, &["SetServerPassword"]),
    cmd("ListenerList", Context::Server, &["EnumListener"]),
    cmd("ListenerCreate", Context::Server, &["CreateListener"]),
    cmd("ListenerDelete", Context::Server, &["DeleteListener"]),
    cmd("ListenerEnable", Context::Server, &["EnableListener"]),
    cmd("ListenerDisable", Context::Server, &["EnableListener"]),
    cmd(
        "HubCreate",
        Context::Server,
        &["GetServerInfo", "CreateHub"],
    ),
    cmd("HubDelete", Context::Server, &["DeleteHub"]),
    cmd("HubList", Context::Server, &["EnumHub"]),
    cmd("Hub", Context::Server, &["GetHubStatus"]),
    cmd("Online", Context::Hub, &["SetHubOnline"]),
    cmd("Offline", Context::Hub, &["SetHubOnline"]),
    cmd("StatusGet", Context::Hub, &["GetHubStatus"]),
    cmd("UserCreate", Context::Hub, &["CreateUser"]),
    cmd("UserPasswordSet", Context::Hub, &["GetUser", "SetUser"]),
    cmd("UserGet", Context::Hub, &["GetUser"]),
    cmd("UserList", Context::Hub, &["EnumUser"]),
    cmd("UserDelete", Context::Hub, &["DeleteUser"]),
    cmd(
        "SessionList",
        Context::Hub,
        &["GetServerInfo", "EnumSession"],
    ),
    cmd("SessionGet", Context::Hub, &["GetSessionStatus"]),
    cmd("SessionDisconnect", Context::Hub, &["DeleteSession"]),
    cmd("BridgeDeviceList", Context::Server, &["EnumEthernet"]),
    cmd("BridgeCreate", Context::Server, &["AddLocalBridge"]),
    cmd("BridgeDelete", Context::Server, &["DeleteLocalBridge"]),
    cmd("BridgeList", Context::Server, &["EnumLocalBridge"]),
    cmd("CascadeCreate", Context::Hub, &["CreateLink"]),
    cmd("CascadeList", Context::Hub, &["EnumLink"]),
    cmd("CascadeStatusGet", Context::Hub, &["GetLinkStatus"]),
    cmd("CascadeOnline", Context::Hub, &["SetLinkOnline"]),
    cmd("CascadeOffline", Context::Hub, &["SetLinkOffline"]),
    cmd("CascadeDelete", Context::Hub, &["DeleteLink"]),
    cmd("CascadePasswordSet", Context::Hub, &["GetLink", "SetLink"]),
    cmd("ConfigGet", Context::Server, &["GetConfig"]),
    cmd("ConfigSet", Context::Server, &["SetConfig"]),
    cmd("Flush", Context::Server, &["Flush"]),
    cmd("KeepDisable", Context::Server, &["GetKeep", "SetKeep"]),
    // OpenVPN settings (docs/openvpn.md), from src/Cedar/Command.c
    // PsPortsUDPGet/Set, PsProtoOptionsGet/Set; checked by
    // crates/rustether/tests/interop_openvpn.rs
    cmd("PortsUDPGet", Context::Server, &["GetPortsUDP"]),
    cmd("PortsUDPSet", Context::Server, &["SetPortsUDP"]),
    cmd("ProtoOptionsGet", Context::Server, &["GetProtoOptions"]),
    cmd(
        "ProtoOptionsSet",
        Context::Server,
        &["GetProtoOptions", "SetProtoOptions"],
    ),
    cmd(
        "OpenVpnMakeConfig",
        Context::Server,
        &["MakeOpenVpnConfigFile"],
    ),
    // issue 12 item 1, from the `Ps*` functions of src/Cedar/Command.c,
    // checked by crates/rustether/tests/admin_groups.rs
    cmd("GroupCreate", Context::Hub, &["CreateGroup"]),
    cmd("GroupSet", Context::Hub, &["GetGroup", "SetGroup"]),
    cmd("GroupList", Context::Hub, &["EnumGroup"]),
    cmd("GroupGet", Context::Hub, &["GetGroup", "EnumUser"]),
    cmd("GroupDelete", Context::Hub, &["DeleteGroup"]),
    cmd("GroupJoin", Context::Hub, &["GetUser", "SetUser"]),
    cmd("GroupUnjoin", Context::Hub, &["GetUser", "SetUser"]),
    cmd("GroupPolicySet", Context::Hub, &["GetGroup", "SetGroup"]),
    cmd("GroupPolicyRemove", Context::Hub, &["GetGroup", "SetGroup"]),
    // issue 12 item 6: from the `Ps*` functions of src/Cedar/Command.c
    // (one `Sc*` call each), checked by crates/rustether/tests/admin_tables.rs
    cmd("MacTable", Context::Hub, &["EnumMacTable"]),
    cmd("MacDelete", Context::Hub, &["DeleteMacTable"]),
    cmd("IpTable", Context::Hub, &["EnumIpTable"]),
    cmd("IpDelete", Context::Hub, &["DeleteIpTable"]),
    cmd("ConnectionList", Context::Server, &["EnumConnection"]),
    cmd("ConnectionGet", Context::Server, &["GetConnectionInfo"]),
    cmd(
        "ConnectionDisconnect",
        Context::Server,
        &["DisconnectConnection"],
    ),
    // issue 12 item 4: `PsCAList`, `PsCAAdd`, `PsCAGet`, `PsCADelete`,
    // `PsUserCertSet`, `PsUserSignedSet` of src/Cedar/Command.c, checked by
    // crates/rustether/tests/admin_certs.rs
    cmd("CAList", Context::Hub, &["EnumCa"]),
    cmd("CAAdd", Context::Hub, &["AddCa"]),
    cmd("CAGet", Context::Hub, &["GetCa"]),
    cmd("CADelete", Context::Hub, &["DeleteCa"]),
    cmd("UserCertSet", Context::Hub, &["GetUser", "SetUser"]),
    cmd("UserSignedSet", Context::Hub, &["GetUser", "SetUser"]),
    // issue 12 item 10: `PsRouter*` of src/Cedar/Command.c, checked by
    // crates/rustether/tests/admin_l3.rs
    cmd("RouterList", Context::Server, &["EnumL3Switch"]),
    cmd("RouterAdd", Context::Server, &["AddL3Switch"]),
    cmd("RouterDelete", Context::Server, &["DelL3Switch"]),
    cmd("RouterStart", Context::Server, &["StartL3Switch"]),
    cmd("RouterStop", Context::Server, &["StopL3Switch"]),
    cmd("RouterIfList", Context::Server, &["EnumL3If"]),
    cmd("RouterIfAdd", Context::Server, &["AddL3If"]),
    cmd("RouterIfDel", Context::Server, &["DelL3If"]),
    cmd("RouterTableList", Context::Server, &["EnumL3Table"]),
    cmd("RouterTableAdd", Context::Server, &["AddL3Table"]),
    cmd("RouterTableDel", Context::Server, &["DelL3Table"]),
];

/// The entry of `command` (case-insensitive, as vpncmd).
pub fn lookup(command: &str) -> Option<&'static VpncmdCommand> {
    COMMANDS
        .iter()
        .find(|c| c.command.eq_ignore_ascii_case(command))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dispatch::RpcFunction;

    #[test]
    fn every_rpc_is_implemented() {
        for c in COMMANDS {
            for r in c.rpcs {
                assert!(RpcFunction::from_name(r).is_some(), "{} → {r}", c.command);
            }
        }
        for r in CONNECT_SERVER_ADMIN.iter().chain(CONNECT_ADMIN_HUB) {
            assert!(RpcFunction::from_name(r).is_some(), "{r}");
        }
    }

    #[test]
    fn issue_names_and_lookup() {
        assert!(lookup("HubSetOnline").is_none());
        assert!(lookup("CascadeGetStatus").is_none());
        assert_eq!(
            lookup("userpasswordset").unwrap().rpcs,
            ["GetUser", "SetUser"]
        );
        assert_eq!(lookup("KeepDisable").unwrap().rpcs, ["GetKeep", "SetKeep"]);
    }
}
