//! Dispatcher behaviour with the in-memory backend: rights matrix, pure
//! checks, response shaping, and vpncmd's call sequences.

use rustether_admin::hub_admin_option as opt;
use rustether_admin::memory::MemoryBackend;
use rustether_admin::rpc::*;
use rustether_admin::{dispatch, dispatch_call, Caller, RpcFunction};
use rustether_proto::password::{hash_admin_password, hash_password, nt_password_hash};
use rustether_proto::{ErrorCode, Pack};

fn backend() -> MemoryBackend {
    let mut b = MemoryBackend::new("adminpw");
    b.add_hub("TEST", "hubpw");
    b.add_hub("OTHER", "otherpw");
    b
}

fn err(p: &Pack) -> u32 {
    p.get_int("error").unwrap_or(0)
}

fn user(hub: &str, name: &str) -> SetUser {
    SetUser {
        fields: SetUserFields {
            hub_name: hub.into(),
            name: name.into(),
            ..SetUserFields::default()
        },
        auth: UserAuth::from_password(name, "pw"),
        ..SetUser::default()
    }
}

fn link(hub: &str, account: &str) -> CreateLink {
    CreateLink {
        hub_name: hub.into(),
        option: ClientOption {
            account_name: account.into(),
            hostname: "192.0.2.1".into(),
            port: 5555,
            hub_name: "REMOTE".into(),
            ..ClientOption::default()
        },
        ..CreateLink::default()
    }
}

/// A well-formed request of `f` aimed at `hub`.
fn request_for(f: RpcFunction, hub: &str) -> Pack {
    use RpcFunction as F;
    match f {
        F::Test | F::Flush | F::RebootServer => RpcTest {
            int_value: 5,
            ..RpcTest::default()
        }
        .to_pack(),
        F::GetServerInfo => ServerInfo::default().to_pack(),
        F::GetPortsUDP | F::GetOpenVpnSstpConfig | F::MakeOpenVpnConfigFile => Pack::new(),
        F::SetPortsUDP => Ports { ports: vec![1194] }.to_pack(),
        F::GetProtoOptions | F::SetProtoOptions => ProtoOptions {
            protocol: "OpenVPN".into(),
            options: Vec::new(),
        }
        .to_pack(),
        F::SetOpenVpnSstpConfig => OpenVpnSstpConfig::default().to_pack(),
        F::GetServerStatus
        | F::EnumListener
        | F::GetServerCert
        | F::GetCaps
        | F::GetKeep
        | F::GetBridgeSupport
        | F::EnumHub
        | F::EnumEthernet
        | F::EnumLocalBridge => Pack::new(),
        F::CreateListener | F::DeleteListener | F::EnableListener => Listener {
            port: 5555,
            enable: true,
        }
        .to_pack(),
        F::SetServerPassword => SetPassword {
            hashed_password: hash_admin_password("new"),
            plain_text_password: String::new(),
        }
        .to_pack(),
        F::SetKeep => Keep::default().to_pack(),
        F::GetConfig => Config::default().to_pack(),
        F::SetConfig => Config {
            file_name: String::new(),
            file_data: b"x".to_vec(),
        }
        .to_pack(),
        F::CreateHub | F::SetHub | F::GetHub => CreateHub {
            fields: CreateHubFields {
                hub_name: hub.into(),
                online: true,
                ..CreateHubFields::default()
            },
            ..CreateHub::default()
        }
        .to_pack(),
        F::GetSecureNATOption | F::SetSecureNATOption => SecureNatOption {
            rpc_hub_name: hub.into(),
            ..SecureNatOption::default()
        }
        .to_pack(),
        F::GetSecureNATStatus => NatStatus {
            hub_name: hub.into(),
            ..NatStatus::default()
        }
        .to_pack(),
        F::EnumNAT => EnumNat {
            hub_name: hub.into(),
            items: vec![],
        }
        .to_pack(),
        F::EnumDHCP => EnumDhcp {
            hub_name: hub.into(),
            items: vec![],
        }
        .to_pack(),
        F::EnableSecureNAT | F::DisableSecureNAT => RpcHub {
            hub_name: hub.into(),
        }
        .to_pack(),
        F::DeleteHub => DeleteHub {
            hub_name: hub.into(),
        }
        .to_pack(),
        F::SetHubOnline => SetHubOnline {
            hub_name: hub.into(),
            online: true,
        }
        .to_pack(),
        F::GetHubStatus => {
            let mut s = HubStatus::default();
            s.fields.hub_name = hub.into();
            s.to_pack()
        }
        F::CreateUser | F::SetUser | F::GetUser => user(hub, "u1").to_pack(),
        F::DeleteUser => DeleteUser {
            hub_name: hub.into(),
            name: "u1".into(),
        }
        .to_pack(),
        F::EnumUser => EnumUser {
            hub_name: hub.into(),
            users: vec![],
        }
        .to_pack(),
        F::EnumSession => EnumSession {
            hub_name: hub.into(),
            sessions: vec![],
        }
        .to_pack(),
        F::GetSessionStatus => {
            let mut s = SessionStatus::default();
            s.fields.hub_name = hub.into();
            s.fields.name = "SID-X-1".into();
            s.to_pack()
        }
        F::DeleteSession => DeleteSession {
            hub_name: hub.into(),
            name: "SID-X-1".into(),
        }
        .to_pack(),
        F::AddLocalBridge | F::DeleteLocalBridge => LocalBridge {
            device_name: "eth9".into(),
            hub_name: hub.into(),
            tap_mode: false,
        }
        .to_pack(),
        F::CreateLink | F::SetLink | F::GetLink => link(hub, "l1").to_pack(),
        F::EnumLink => EnumLink {
            hub_name: hub.into(),
            links: vec![],
        }
        .to_pack(),
        F::GetLinkStatus => LinkStatus {
            hub_name: hub.into(),
            account_name: "l1".into(),
            ..LinkStatus::default()
        }
        .to_pack(),
        F::SetLinkOnline | F::SetLinkOffline | F::DeleteLink => Link {
            hub_name: hub.into(),
            account_name: "l1".into(),
        }
        .to_pack(),
        F::EnumMacTable => EnumMacTable {
            hub_name: hub.into(),
            entries: vec![],
        }
        .to_pack(),
        F::EnumIpTable => EnumIpTable {
            hub_name: hub.into(),
            entries: vec![],
        }
        .to_pack(),
        F::DeleteMacTable | F::DeleteIpTable => DeleteTable {
            hub_name: hub.into(),
            key: 1,
        }
        .to_pack(),
        F::EnumConnection => EnumConnection::default().to_pack(),
        F::CreateGroup | F::SetGroup | F::GetGroup => SetGroup {
            fields: SetGroupFields {
                hub_name: hub.into(),
                name: "g1".into(),
                ..SetGroupFields::default()
            },
            ..SetGroup::default()
        }
        .to_pack(),
        F::DeleteGroup => DeleteUser {
            hub_name: hub.into(),
            name: "g1".into(),
        }
        .to_pack(),
        F::EnumGroup => EnumGroup {
            hub_name: hub.into(),
            groups: vec![],
        }
        .to_pack(),
        F::AddAccess => AddAccess {
            hub_name: hub.into(),
            access: Default::default(),
        }
        .to_pack(),
        F::DeleteAccess => DeleteAccess {
            hub_name: hub.into(),
            id: 1,
        }
        .to_pack(),
        F::GetHubMsg | F::SetHubMsg => RpcMsg {
            hub_name: hub.into(),
            msg: "hello".into(),
        }
        .to_pack(),
        F::GetAcList | F::SetAcList => AcList {
            hub_name: hub.into(),
            entries: vec![],
        }
        .to_pack(),
        F::EnumAccess | F::SetAccessList => EnumAccessList {
            hub_name: hub.into(),
            accesses: vec![],
        }
        .to_pack(),
        F::GetConnectionInfo => ConnectionInfo {
            name: "CID-1".into(),
            ..ConnectionInfo::default()
        }
        .to_pack(),
        F::DisconnectConnection => DisconnectConnection {
            name: "CID-1".into(),
        }
        .to_pack(),
        F::AddCa => HubAddCa {
            hub_name: hub.into(),
            cert: vec![0x30, 0x03, 0x02, 0x01, 0x01],
        }
        .to_pack(),
        F::EnumCa => HubEnumCa {
            hub_name: hub.into(),
            items: vec![],
        }
        .to_pack(),
        F::GetCa => HubGetCa {
            hub_name: hub.into(),
            key: 1,
            cert: vec![],
        }
        .to_pack(),
        F::DeleteCa => HubDeleteCa {
            hub_name: hub.into(),
            key: 1,
        }
        .to_pack(),
        F::GetHubAdminOptions
        | F::SetHubAdminOptions
        | F::GetDefaultHubAdminOptions
        | F::GetHubExtOptions
        | F::SetHubExtOptions => AdminOptionList {
            hub_name: hub.into(),
            items: vec![],
        }
        .to_pack(),
        F::GetAdminMsg => Pack::new(),
        F::GetHubRadius | F::SetHubRadius => RpcRadius {
            hub_name: hub.into(),
            ..RpcRadius::default()
        }
        .to_pack(),
        F::AddCrl | F::DelCrl | F::GetCrl | F::SetCrl => RpcCrl {
            hub_name: hub.into(),
            key: 1,
            crl: CrlEntry::default(),
        }
        .to_pack(),
        F::EnumCrl => EnumCrl {
            hub_name: hub.into(),
            items: vec![],
        }
        .to_pack(),
        F::RenameLink => RenameLink {
            hub_name: hub.into(),
            old_account_name: "a".into(),
            new_account_name: "b".into(),
        }
        .to_pack(),
        F::GetServerCipher | F::GetServerCipherList => RpcStr::default().to_pack(),
        F::SetServerCipher => RpcStr {
            string: "ECDHE-RSA-AES128-GCM-SHA256".into(),
        }
        .to_pack(),
        F::SetServerCert => KeyPair {
            cert: Some(vec![0x30]),
            chain: vec![],
            key: Some(vec![0x30]),
            flag1: 0,
        }
        .to_pack(),
        F::RegenerateServerCert => RpcTest::default().to_pack(),
        F::GetSpecialListener | F::SetSpecialListener => SpecialListener::default().to_pack(),
        F::GetFarmSetting | F::SetFarmSetting => Farm::default().to_pack(),
        F::GetFarmInfo => FarmInfoRequest::default().to_pack(),
        F::EnumFarmMember | F::GetFarmConnectionStatus => Pack::new(),
        F::GetIPsecServices => IpsecServices::default().to_pack(),
        F::EnumEtherIpId => EnumEtherIpId::default().to_pack(),
        F::GetHubLog | F::SetHubLog => HubLog {
            hub_name: hub.into(),
            ..HubLog::default()
        }
        .to_pack(),
        F::EnumLogFile => Pack::new(),
        F::ReadLogFile => ReadLogFile {
            file_path: format!("security_log/{hub}/sec.log"),
            ..ReadLogFile::default()
        }
        .to_pack(),
        F::GetSysLog | F::SetSysLog => SysLogSetting::default().to_pack(),
        F::AddL3Switch | F::DelL3Switch | F::StartL3Switch | F::StopL3Switch => {
            L3Sw { name: "R1".into() }.to_pack()
        }
        F::EnumL3Switch => EnumL3Sw::default().to_pack(),
        F::AddL3If | F::DelL3If => L3If {
            name: "R1".into(),
            hub_name: hub.into(),
            ip_address: std::net::Ipv4Addr::new(10, 1, 0, 1),
            subnet_mask: std::net::Ipv4Addr::new(255, 255, 255, 0),
        }
        .to_pack(),
        F::EnumL3If => EnumL3If {
            name: "R1".into(),
            items: vec![],
        }
        .to_pack(),
        F::AddL3Table | F::DelL3Table => L3Table {
            name: "R1".into(),
            network_address: std::net::Ipv4Addr::new(10, 0, 0, 0),
            subnet_mask: std::net::Ipv4Addr::new(255, 0, 0, 0),
            gateway_address: std::net::Ipv4Addr::new(10, 1, 0, 254),
            metric: 1,
        }
        .to_pack(),
        F::EnumL3Table => EnumL3Table {
            name: "R1".into(),
            items: vec![],
        }
        .to_pack(),
    }
}

/// Functions a hub administrator may call (docs/admin-rpc.md §3.6; verified for
/// EnumListener, EnumUser on the own hub; source for the others).
fn allowed_for_any_admin(f: RpcFunction) -> bool {
    use RpcFunction as F;
    matches!(
        f,
        F::Test
            | F::GetServerInfo
            | F::GetServerStatus
            | F::EnumListener
            | F::GetServerCert
            | F::GetCaps
            | F::GetKeep
            | F::GetBridgeSupport
            | F::EnumHub
            | F::EnumLocalBridge
            | F::GetPortsUDP
            | F::GetOpenVpnSstpConfig
            | F::GetDefaultHubAdminOptions
            | F::GetAdminMsg
            | F::GetServerCipher
            | F::GetServerCipherList
            | F::GetFarmSetting
            | F::GetFarmInfo
            | F::EnumFarmMember
            | F::GetFarmConnectionStatus
            | F::EnumLogFile
            | F::ReadLogFile
            | F::GetSysLog
            | F::EnumL3Switch
            | F::EnumL3If
            | F::EnumL3Table
    )
}

fn server_only(f: RpcFunction) -> bool {
    use RpcFunction as F;
    matches!(
        f,
        F::CreateListener
            | F::DeleteListener
            | F::EnableListener
            | F::SetServerPassword
            | F::SetKeep
            | F::SetPortsUDP
            | F::GetProtoOptions
            | F::SetProtoOptions
            | F::SetOpenVpnSstpConfig
            | F::MakeOpenVpnConfigFile
            | F::Flush
            | F::RebootServer
            | F::GetConfig
            | F::SetConfig
            | F::CreateHub
            | F::DeleteHub
            | F::EnumEthernet
            | F::AddLocalBridge
            | F::DeleteLocalBridge
            | F::EnumConnection
            | F::GetConnectionInfo
            | F::DisconnectConnection
            | F::SetServerCipher
            | F::SetServerCert
            | F::RegenerateServerCert
            | F::GetSpecialListener
            | F::SetSpecialListener
            | F::SetFarmSetting
            | F::GetIPsecServices
            | F::EnumEtherIpId
            | F::SetSysLog
            | F::AddL3Switch
            | F::DelL3Switch
            | F::StartL3Switch
            | F::StopL3Switch
            | F::AddL3If
            | F::DelL3If
            | F::AddL3Table
            | F::DelL3Table
    )
}

#[test]
fn rights_matrix_covers_every_function() {
    let hub_admin = Caller::hub_admin("TEST", true);
    let server_admin = Caller::server_admin(true);
    for &f in RpcFunction::ALL {
        // another hub: only the harmless calls pass
        let mut b = backend();
        let r = dispatch(&mut b, &hub_admin, f.name(), &request_for(f, "OTHER"));
        if allowed_for_any_admin(f) {
            assert_ne!(err(&r), 52, "{f:?} must be allowed for hub admins");
        } else {
            assert_eq!(err(&r), 52, "{f:?} on another hub");
        }
        // own hub: everything but the server-only calls gets past the rights check
        let mut b = backend();
        let r = dispatch(&mut b, &hub_admin, f.name(), &request_for(f, "TEST"));
        // `SetHubAdminOptions` needs the hub's
        // `allow_hub_admin_change_option` (off by default).
        if server_only(f) || f == RpcFunction::SetHubAdminOptions {
            assert_eq!(err(&r), 52, "{f:?} is server-admin only");
        } else {
            assert_ne!(err(&r), 52, "{f:?} on the own hub");
        }
        // the server administrator is never refused for rights
        let mut b = backend();
        let r = dispatch(&mut b, &server_admin, f.name(), &request_for(f, "OTHER"));
        assert_ne!(err(&r), 52, "{f:?} as server admin");
    }
}

#[test]
fn denied_calls_do_not_touch_the_backend() {
    let mut b = backend();
    let hub_admin = Caller::hub_admin("TEST", true);
    dispatch(
        &mut b,
        &hub_admin,
        "CreateUser",
        &user("OTHER", "x").to_pack(),
    );
    dispatch(
        &mut b,
        &hub_admin,
        "DeleteHub",
        &request_for(RpcFunction::DeleteHub, "TEST"),
    );
    dispatch(
        &mut b,
        &hub_admin,
        "SetServerPassword",
        &request_for(RpcFunction::SetServerPassword, ""),
    );
    assert!(b.hub("OTHER").unwrap().users.is_empty());
    assert!(b.hub("TEST").is_some());
    assert_eq!(b.server_password, hash_admin_password("adminpw"));
}

#[test]
fn unknown_function_is_33_and_names_are_case_insensitive() {
    let mut b = backend();
    let c = Caller::server_admin(true);
    assert_eq!(err(&dispatch(&mut b, &c, "NoSuchRpc", &Pack::new())), 33);
    assert_eq!(err(&dispatch(&mut b, &c, "", &Pack::new())), 33);
    let r = dispatch(&mut b, &c, "getserverstatus", &Pack::new());
    assert_eq!(err(&r), 0);
    assert_eq!(r.get_int("NumHubTotal"), Some(2));
    let o = dispatch_call(&mut b, &c, "NoSuchRpc", &Pack::new());
    assert_eq!(o.function, None);
    assert!(!o.changed_config());
}

#[test]
fn test_rpc_answers_decimal_text() {
    let mut b = backend();
    let mut p = Pack::new();
    p.add_int("IntValue", 12345);
    let r = dispatch(&mut b, &Caller::hub_admin("TEST", false), "Test", &p);
    assert_eq!(r.get_str("StrValue"), Some("12345")); // verified on 9674
    assert!(r.element("error").is_none());
}

#[test]
fn create_hub_derives_hashes_and_validates_names() {
    let mut b = backend();
    let c = Caller::server_admin(true);
    // JSON-RPC style: plaintext only
    let mut h = CreateHub::default();
    h.fields.hub_name = "NEW".into();
    h.fields.admin_password_plain_text = "secret".into();
    h.fields.online = true;
    let r = dispatch(&mut b, &c, "CreateHub", &h.to_pack());
    assert_eq!(err(&r), 0);
    assert_eq!(r.get_str("AdminPasswordPlainText"), Some("")); // never echoed
    let stored = &b.hub("new").unwrap().hub.fields;
    assert_eq!(stored.hashed_password, hash_admin_password("secret"));
    assert_eq!(
        stored.secure_password,
        hash_password("administrator", "secret")
    );
    // neither hashes nor plaintext = empty password (verified)
    h.fields.hub_name = "EMPTY".into();
    h.fields.admin_password_plain_text.clear();
    assert_eq!(err(&dispatch(&mut b, &c, "CreateHub", &h.to_pack())), 0);
    assert_eq!(
        b.hub("EMPTY").unwrap().hub.fields.hashed_password,
        hash_admin_password("")
    );
    // duplicate (case-insensitive) → 57 from the backend
    h.fields.hub_name = "new".into();
    assert_eq!(err(&dispatch(&mut b, &c, "CreateHub", &h.to_pack())), 57);
    for bad in [".x", "x.", "a/b", "é"] {
        h.fields.hub_name = bad.into();
        assert_eq!(
            err(&dispatch(&mut b, &c, "CreateHub", &h.to_pack())),
            38,
            "{bad}"
        );
    }
    h.fields.hub_name = "CLUSTER".into();
    h.hub_type = hub_type::FARM_DYNAMIC;
    assert_eq!(err(&dispatch(&mut b, &c, "CreateHub", &h.to_pack())), 38);
}

#[test]
fn get_hub_never_returns_password_hashes() {
    let mut b = backend();
    let r = dispatch(
        &mut b,
        &Caller::server_admin(true),
        "GetHub",
        &request_for(RpcFunction::GetHub, "TEST"),
    );
    assert_eq!(err(&r), 0);
    assert_eq!(r.get_data("HashedPassword"), Some(&[0u8; 20][..]));
    assert_eq!(r.get_data("SecurePassword"), Some(&[0u8; 20][..]));
    assert!(r.get_bool("Online"));
    let r = dispatch(
        &mut b,
        &Caller::server_admin(true),
        "GetHub",
        &request_for(RpcFunction::GetHub, "NOPE"),
    );
    assert_eq!(err(&r), 8);
}

#[test]
fn enum_hub_shows_a_hub_admin_only_its_hub() {
    let mut b = backend();
    let r = dispatch(
        &mut b,
        &Caller::hub_admin("test", false),
        "EnumHub",
        &Pack::new(),
    );
    let e = EnumHub::from_pack(&r).unwrap();
    assert_eq!(e.hubs.len(), 1);
    assert_eq!(e.hubs[0].fields.hub_name, "TEST");
    let r = dispatch(
        &mut b,
        &Caller::server_admin(false),
        "EnumHub",
        &Pack::new(),
    );
    assert_eq!(r.count("HubName"), 2);
}

#[test]
fn server_key_only_for_server_admins() {
    let mut b = backend();
    b.cert = KeyPair {
        cert: Some(vec![0x30, 1]),
        key: Some(vec![0x30, 2]),
        ..KeyPair::default()
    };
    let r = dispatch(
        &mut b,
        &Caller::server_admin(false),
        "GetServerCert",
        &Pack::new(),
    );
    assert_eq!(r.get_data("Key"), Some(&[0x30u8, 2][..]));
    let r = dispatch(
        &mut b,
        &Caller::hub_admin("TEST", false),
        "GetServerCert",
        &Pack::new(),
    );
    assert!(r.element("Key").is_none());
    assert_eq!(r.get_data("Cert"), Some(&[0x30u8, 1][..]));
}

#[test]
fn hub_admin_options_restrict_hub_admins_only() {
    let mut b = backend();
    let hub_admin = Caller::hub_admin("TEST", true);
    let opts = &mut b.hubs.get_mut("test").unwrap().admin_options;
    for o in [
        opt::NO_CHANGE_USERS,
        opt::NO_CASCADE,
        opt::NO_ENUM_SESSION,
        opt::NO_QUERY_SESSION,
        opt::NO_DISCONNECT_SESSION,
        opt::NO_ONLINE,
        opt::NO_OFFLINE,
        opt::NO_CHANGE_ADMIN_PASSWORD,
    ] {
        opts.insert(o.into(), 1);
    }
    use RpcFunction as F;
    for f in [
        F::CreateUser,
        F::SetUser,
        F::DeleteUser,
        F::CreateLink,
        F::SetLink,
        F::SetLinkOnline,
        F::SetLinkOffline,
        F::DeleteLink,
        F::EnumSession,
        F::GetSessionStatus,
        F::DeleteSession,
        F::SetHubOnline,
    ] {
        let r = dispatch(&mut b, &hub_admin, f.name(), &request_for(f, "TEST"));
        assert_eq!(err(&r), 52, "{f:?}");
        let r = dispatch(
            &mut b,
            &Caller::server_admin(true),
            f.name(),
            &request_for(f, "TEST"),
        );
        assert_ne!(err(&r), 52, "{f:?} server admin");
    }
    // reading users and cascades stays allowed
    for f in [
        F::EnumUser,
        F::GetUser,
        F::EnumLink,
        F::GetLink,
        F::GetHubStatus,
    ] {
        let r = dispatch(&mut b, &hub_admin, f.name(), &request_for(f, "TEST"));
        assert_ne!(err(&r), 52, "{f:?}");
    }
}

#[test]
fn set_hub_rules_for_hub_admins() {
    let mut b = backend();
    let local = Caller::hub_admin("TEST", true);
    let remote = Caller::hub_admin("TEST", false);
    let mut h = CreateHub::default();
    h.fields.hub_name = "TEST".into();
    h.fields.online = true;
    h.option.max_session = 7;
    // zero hashes = keep the password
    assert_eq!(err(&dispatch(&mut b, &remote, "SetHub", &h.to_pack())), 0);
    assert_eq!(b.hub("TEST").unwrap().hub.option.max_session, 7);
    assert_eq!(
        b.hub("TEST").unwrap().hub.fields.hashed_password,
        hash_admin_password("hubpw")
    );
    // blank password from a remote hub admin → 38; from local allowed
    h.fields.hashed_password = hash_admin_password("");
    h.fields.secure_password = hash_password("administrator", "");
    assert_eq!(err(&dispatch(&mut b, &remote, "SetHub", &h.to_pack())), 38);
    assert_eq!(err(&dispatch(&mut b, &local, "SetHub", &h.to_pack())), 0);
    // no_change_admin_password
    b.hubs
        .get_mut("test")
        .unwrap()
        .admin_options
        .insert(opt::NO_CHANGE_ADMIN_PASSWORD.into(), 1);
    h.fields.hashed_password = hash_admin_password("x");
    h.fields.secure_password = hash_password("administrator", "x");
    assert_eq!(err(&dispatch(&mut b, &local, "SetHub", &h.to_pack())), 52);
    // no_offline: a hub admin's offline request keeps the hub online, silently
    let mut h2 = CreateHub::default();
    h2.fields.hub_name = "TEST".into();
    h2.fields.online = false;
    b.hubs
        .get_mut("test")
        .unwrap()
        .admin_options
        .insert(opt::NO_OFFLINE.into(), 1);
    let r = dispatch(&mut b, &local, "SetHub", &h2.to_pack());
    assert_eq!(err(&r), 0);
    assert!(b.hub("TEST").unwrap().hub.fields.online);
    // the server admin may
    assert_eq!(
        err(&dispatch(
            &mut b,
            &Caller::server_admin(false),
            "SetHub",
            &h2.to_pack()
        )),
        0
    );
    assert!(!b.hub("TEST").unwrap().hub.fields.online);
}

#[test]
fn parameter_checks_before_the_backend() {
    let mut b = backend();
    let c = Caller::server_admin(true);
    let l = |port| Listener { port, enable: true }.to_pack();
    assert_eq!(err(&dispatch(&mut b, &c, "CreateListener", &l(0))), 38);
    assert_eq!(err(&dispatch(&mut b, &c, "CreateListener", &l(65536))), 38);
    assert_eq!(err(&dispatch(&mut b, &c, "CreateListener", &l(5555))), 54);
    assert_eq!(err(&dispatch(&mut b, &c, "CreateListener", &l(5556))), 0);
    assert_eq!(err(&dispatch(&mut b, &c, "DeleteListener", &l(5557))), 53);
    // hub admin with a bad port: 38 comes first, as StCreateListener
    assert_eq!(
        err(&dispatch(
            &mut b,
            &Caller::hub_admin("TEST", true),
            "CreateListener",
            &l(0)
        )),
        38
    );
    // empty names
    let mut s = request_for(RpcFunction::DeleteSession, "TEST");
    s.add_str("Name", "");
    assert_eq!(err(&dispatch(&mut b, &c, "DeleteSession", &s)), 38);
    let e = EnumUser::default();
    assert_eq!(err(&dispatch(&mut b, &c, "EnumUser", &e.to_pack())), 38); // verified
                                                                          // GetLinkStatus with HubName instead of HubName_Ex → 38 (verified)
    let mut p = Pack::new();
    p.add_str("HubName", "TEST");
    p.add_unistr("AccountName", "l1");
    assert_eq!(err(&dispatch(&mut b, &c, "GetLinkStatus", &p)), 38);
    for bad in ["link", "Administrator", "L3SW_1", ""] {
        assert_eq!(
            err(&dispatch(
                &mut b,
                &c,
                "CreateUser",
                &user("TEST", bad).to_pack()
            )),
            38,
            "{bad}"
        );
    }
    let mut star = user("TEST", "*");
    assert_eq!(
        err(&dispatch(&mut b, &c, "CreateUser", &star.to_pack())),
        38
    );
    star.auth = UserAuth::Radius {
        username: String::new(),
    };
    assert_eq!(err(&dispatch(&mut b, &c, "CreateUser", &star.to_pack())), 0);
    // keep-alive target required when enabling
    let k = Keep {
        use_keep_connect: true,
        ..Keep::default()
    };
    assert_eq!(err(&dispatch(&mut b, &c, "SetKeep", &k.to_pack())), 38);
    // bridges need both names
    let lb = LocalBridge {
        device_name: "eth0".into(),
        ..LocalBridge::default()
    };
    assert_eq!(
        err(&dispatch(&mut b, &c, "AddLocalBridge", &lb.to_pack())),
        38
    );
}

#[test]
fn server_password_from_hash_or_plaintext() {
    let mut b = backend();
    let c = Caller::server_admin(true);
    let r = dispatch(
        &mut b,
        &c,
        "SetServerPassword",
        &request_for(RpcFunction::SetServerPassword, ""),
    );
    assert_eq!(err(&r), 0);
    assert_eq!(b.server_password, hash_admin_password("new"));
    let mut p = Pack::new();
    p.add_str("PlainTextPassword", "plain");
    let r = dispatch(&mut b, &c, "SetServerPassword", &p);
    assert_eq!(r.get_str("PlainTextPassword"), Some(""));
    assert_eq!(b.server_password, hash_admin_password("plain"));
}

/// The RPC sequences vpncmd issues (observed with a proxy between vpncmd
/// 5.01 and vpnserver 5.01, crates/admin/NOTES.md), replayed.
#[test]
fn vpncmd_sequences() {
    let mut b = MemoryBackend::new("adminpw");
    let c = Caller::server_admin(true);
    let call = |b: &mut MemoryBackend, f: &str, p: &Pack| {
        let r = dispatch(b, &c, f, p);
        assert_eq!(err(&r), 0, "{f}");
        r
    };
    // every connect: GetServerInfo, GetCaps, GetServerCert
    call(&mut b, "GetServerInfo", &ServerInfo::default().to_pack());
    let caps = call(&mut b, "GetCaps", &Pack::new());
    assert_eq!(caps.get_int("caps_b_support_config_rw"), Some(1));
    call(&mut b, "GetServerCert", &Pack::new());
    // HubCreate TEST /PASSWORD:hubpw → GetServerInfo, CreateHub
    let h = CreateHub {
        fields: CreateHubFields {
            hub_name: "TEST".into(),
            hashed_password: hash_admin_password("hubpw"),
            secure_password: hash_password("administrator", "hubpw"),
            online: true,
            ..CreateHubFields::default()
        },
        ..CreateHub::default()
    };
    call(&mut b, "CreateHub", &h.to_pack());
    // /ADMINHUB:TEST → GetHubStatus
    let st = call(
        &mut b,
        "GetHubStatus",
        &request_for(RpcFunction::GetHubStatus, "TEST"),
    );
    assert!(st.get_bool("Online"));
    // UserCreate alice → CreateUser with random hashes
    let mut u = user("TEST", "alice");
    u.auth = UserAuth::Password {
        hash: [0x5a; 20],
        nt_hash: Some([0x5b; 16]),
    };
    call(&mut b, "CreateUser", &u.to_pack());
    // UserPasswordSet alice /PASSWORD:Secret1 → GetUser, SetUser
    let got = call(&mut b, "GetUser", &user("TEST", "alice").to_pack());
    let mut u = SetUser::from_pack(&got).unwrap();
    u.auth = UserAuth::from_password("alice", "Secret1");
    call(&mut b, "SetUser", &u.to_pack());
    match &b.hub("TEST").unwrap().users["alice"].auth {
        UserAuth::Password { hash, nt_hash } => {
            assert_eq!(*hash, hash_password("alice", "Secret1"));
            assert_eq!(*nt_hash, Some(nt_password_hash("Secret1")));
        }
        other => panic!("{other:?}"),
    }
    // UserList
    let l = EnumUser::from_pack(&call(
        &mut b,
        "EnumUser",
        &request_for(RpcFunction::EnumUser, "TEST"),
    ))
    .unwrap();
    assert_eq!(l.users.len(), 1);
    assert_eq!(l.users[0].fields.auth_type, 1);
    // Offline / Online → SetHubOnline
    call(
        &mut b,
        "SetHubOnline",
        &SetHubOnline {
            hub_name: "TEST".into(),
            online: false,
        }
        .to_pack(),
    );
    assert!(!b.hub("TEST").unwrap().hub.fields.online);
    // KeepDisable → GetKeep, SetKeep
    let mut k = Keep::from_pack(&call(&mut b, "GetKeep", &Keep::default().to_pack())).unwrap();
    k.use_keep_connect = false;
    call(&mut b, "SetKeep", &k.to_pack());
    // BridgeCreate / BridgeList / BridgeDelete
    let lb = LocalBridge {
        device_name: "lanbr".into(),
        hub_name: "TEST".into(),
        tap_mode: true,
    };
    call(&mut b, "AddLocalBridge", &lb.to_pack());
    let list = call(&mut b, "EnumLocalBridge", &Pack::new());
    assert_eq!(list.get_int("NumItem"), Some(1));
    call(&mut b, "DeleteLocalBridge", &lb.to_pack());
    assert_eq!(
        err(&dispatch(&mut b, &c, "DeleteLocalBridge", &lb.to_pack())),
        29
    ); // verified
       // CascadeCreate, CascadeOnline, CascadeStatusGet (offline here → 61)
    call(&mut b, "CreateLink", &link("TEST", "l1").to_pack());
    assert_eq!(
        err(&dispatch(
            &mut b,
            &c,
            "CreateLink",
            &link("TEST", "L1").to_pack()
        )),
        59
    );
    call(
        &mut b,
        "SetLinkOnline",
        &Link {
            hub_name: "TEST".into(),
            account_name: "l1".into(),
        }
        .to_pack(),
    );
    assert_eq!(
        err(&dispatch(
            &mut b,
            &c,
            "GetLinkStatus",
            &request_for(RpcFunction::GetLinkStatus, "TEST")
        )),
        61
    );
    call(
        &mut b,
        "DeleteLink",
        &Link {
            hub_name: "TEST".into(),
            account_name: "l1".into(),
        }
        .to_pack(),
    );
    // Flush reports the size
    let f = call(&mut b, "Flush", &RpcTest::default().to_pack());
    assert_eq!(f.get_int("IntValue"), Some(b.config.len() as u32));
    // ConfigGet / ConfigSet round trip
    let cfg = call(&mut b, "GetConfig", &Config::default().to_pack());
    call(&mut b, "SetConfig", &cfg);
    // HubDelete
    call(
        &mut b,
        "DeleteHub",
        &DeleteHub {
            hub_name: "TEST".into(),
        }
        .to_pack(),
    );
    assert_eq!(
        err(&dispatch(
            &mut b,
            &c,
            "DeleteHub",
            &DeleteHub {
                hub_name: "TEST".into()
            }
            .to_pack()
        )),
        8
    );
}

#[test]
fn outcome_reports_config_changes() {
    let mut b = backend();
    let c = Caller::server_admin(true);
    let o = dispatch_call(&mut b, &c, "createuser", &user("TEST", "z").to_pack());
    assert_eq!(o.function, Some(RpcFunction::CreateUser));
    assert!(o.changed_config());
    assert_eq!(o.error(), ErrorCode::NO_ERROR);
    let o = dispatch_call(&mut b, &c, "CreateUser", &user("TEST", "z").to_pack());
    assert!(!o.changed_config());
    assert_eq!(o.error(), ErrorCode::USER_ALREADY_EXISTS);
    let o = dispatch_call(&mut b, &c, "EnumHub", &Pack::new());
    assert!(!o.changed_config());
}

#[test]
fn access_list_options_and_unsupported_settings() {
    use rustether_proto::softether::access::AccessRule;
    let add = |a: AccessRule| {
        AddAccess {
            hub_name: "TEST".into(),
            access: a,
        }
        .to_pack()
    };
    let rule = |prio| AccessRule {
        active: true,
        priority: prio,
        ..AccessRule::default()
    };
    let mut b = backend();
    let sa = Caller::server_admin(true);
    let ha = Caller::hub_admin("TEST", true);
    assert_eq!(err(&dispatch(&mut b, &ha, "AddAccess", &add(rule(20)))), 0);
    assert_eq!(err(&dispatch(&mut b, &ha, "AddAccess", &add(rule(10)))), 0);
    // sorted by priority, Ids renumbered
    let l = &b.hub("TEST").unwrap().access;
    assert_eq!((l[0].priority, l[0].id, l[1].id), (10, 1, 2));
    // delay/jitter/loss and redirect URLs are refused, not stored
    let slow = AccessRule {
        delay: 5,
        ..rule(1)
    };
    assert_eq!(
        err(&dispatch(&mut b, &sa, "AddAccess", &add(slow.clone()))),
        33
    );
    let url = AccessRule {
        redirect_url: "http://x/".into(),
        ..rule(1)
    };
    assert_eq!(err(&dispatch(&mut b, &sa, "AddAccess", &add(url))), 33);
    // ... unless no_delay_jitter_packet_loss clears them (StAddAccess)
    b.hubs
        .get_mut("test")
        .unwrap()
        .admin_options
        .insert("no_delay_jitter_packet_loss".into(), 1);
    assert_eq!(err(&dispatch(&mut b, &sa, "AddAccess", &add(slow))), 0);
    assert_eq!(b.hub("TEST").unwrap().access[0].delay, 0);
    // max_accesslists applies to every administrator
    b.hubs
        .get_mut("test")
        .unwrap()
        .admin_options
        .insert("max_accesslists".into(), 3);
    assert_eq!(err(&dispatch(&mut b, &sa, "AddAccess", &add(rule(5)))), 62);
    // no_change_access_list stops hub administrators only
    b.hubs
        .get_mut("test")
        .unwrap()
        .admin_options
        .insert("no_change_access_list".into(), 1);
    let del = DeleteAccess {
        hub_name: "TEST".into(),
        id: 1,
    }
    .to_pack();
    assert_eq!(err(&dispatch(&mut b, &ha, "DeleteAccess", &del)), 52);
    assert_eq!(err(&dispatch(&mut b, &sa, "DeleteAccess", &del)), 0);
    // Ids are not renumbered on deletion (StDeleteAccess)
    assert_eq!(err(&dispatch(&mut b, &sa, "DeleteAccess", &del)), 29);
    assert_eq!(b.hub("TEST").unwrap().access[0].id, 2);
    let del9 = DeleteAccess {
        hub_name: "TEST".into(),
        id: 9,
    }
    .to_pack();
    assert_eq!(err(&dispatch(&mut b, &sa, "DeleteAccess", &del9)), 29);
    let none = DeleteAccess {
        hub_name: "NOHUB".into(),
        id: 1,
    }
    .to_pack();
    assert_eq!(err(&dispatch(&mut b, &sa, "DeleteAccess", &none)), 8);
}

#[test]
fn hub_message_rules() {
    let mut b = backend();
    let ha = Caller::hub_admin("TEST", true);
    let msg = |m: &str| {
        RpcMsg {
            hub_name: "TEST".into(),
            msg: m.into(),
        }
        .to_pack()
    };
    assert_eq!(
        err(&dispatch(&mut b, &ha, "SetHubMsg", &msg("Welcome ☺"))),
        0
    );
    let r = dispatch(&mut b, &ha, "GetHubMsg", &msg(""));
    assert_eq!(err(&r), 0);
    assert_eq!(r.get_data("Msg"), Some("Welcome ☺".as_bytes()));
    assert_eq!(r.get_str("HubName"), Some(""));
    let long = "x".repeat(20_001);
    assert_eq!(err(&dispatch(&mut b, &ha, "SetHubMsg", &msg(&long))), 111);
    b.hubs
        .get_mut("test")
        .unwrap()
        .admin_options
        .insert("no_change_msg".into(), 1);
    assert_eq!(err(&dispatch(&mut b, &ha, "SetHubMsg", &msg("x"))), 52);
    let sa = Caller::server_admin(true);
    assert_eq!(err(&dispatch(&mut b, &sa, "SetHubMsg", &msg(""))), 0);
    assert_eq!(b.hub("TEST").unwrap().msg, "");
}

fn option_list(hub: &str, items: &[(&str, u32)]) -> Pack {
    AdminOptionList {
        hub_name: hub.into(),
        items: items
            .iter()
            .map(|(n, v)| AdminOptionItem {
                name: (*n).into(),
                value: *v,
                descrption: String::new(),
            })
            .collect(),
    }
    .to_pack()
}

#[test]
fn hub_admin_options_rpcs() {
    let mut b = backend();
    let sa = Caller::server_admin(false);
    let ha = Caller::hub_admin("TEST", false);
    // Defaults: SoftEther's 41 names, all 0.
    let r = dispatch(&mut b, &ha, "GetDefaultHubAdminOptions", &Pack::new());
    assert_eq!(err(&r), 0);
    assert_eq!(r.get_int("NumItem"), Some(41));
    assert_eq!(
        r.get_str_at("Name", 0),
        Some("allow_hub_admin_change_option")
    );
    // A hub administrator may not change them unless allowed.
    let set = option_list("TEST", &[("MAX_USERS", 3), ("bogus", 1)]);
    assert_eq!(err(&dispatch(&mut b, &ha, "SetHubAdminOptions", &set)), 52);
    assert_eq!(err(&dispatch(&mut b, &sa, "SetHubAdminOptions", &set)), 0);
    let h = b.hub("TEST").unwrap();
    assert_eq!(h.admin_options.get("max_users"), Some(&3));
    assert!(!h.admin_options.contains_key("bogus"));
    let r = dispatch(&mut b, &ha, "GetHubAdminOptions", &option_list("TEST", &[]));
    assert_eq!(err(&r), 0);
    let i = (0..r.count("Name"))
        .find(|&i| r.get_str_at("Name", i) == Some("max_users"))
        .unwrap();
    assert_eq!(r.get_int_at("Value", i), Some(3));
    let allow = option_list("TEST", &[(opt::ALLOW_HUB_ADMIN_CHANGE_OPTION, 1)]);
    assert_eq!(err(&dispatch(&mut b, &sa, "SetHubAdminOptions", &allow)), 0);
    assert_eq!(err(&dispatch(&mut b, &ha, "SetHubAdminOptions", &set)), 0);
    // Too many items, unknown hub.
    let many: Vec<(&str, u32)> = (0..65).map(|_| ("max_users", 1)).collect();
    let r = dispatch(
        &mut b,
        &sa,
        "SetHubAdminOptions",
        &option_list("TEST", &many),
    );
    assert_eq!(err(&r), 110);
    let r = dispatch(&mut b, &sa, "GetHubAdminOptions", &option_list("NONE", &[]));
    assert_eq!(err(&r), 8);
}

#[test]
fn hub_ext_options_rpcs() {
    let mut b = backend();
    let sa = Caller::server_admin(false);
    let ha = Caller::hub_admin("TEST", false);
    let set = option_list("TEST", &[("noiptable", 1), ("bogus", 1)]);
    assert_eq!(err(&dispatch(&mut b, &ha, "SetHubExtOptions", &set)), 0);
    assert_eq!(
        b.hub("TEST").unwrap().ext_options.get("NoIpTable"),
        Some(&1)
    );
    assert!(!b.hub("TEST").unwrap().ext_options.contains_key("bogus"));
    let r = dispatch(&mut b, &ha, "GetHubExtOptions", &option_list("TEST", &[]));
    assert_eq!(r.get_int("NumItem"), Some(58));
    b.hubs
        .get_mut("test")
        .unwrap()
        .admin_options
        .insert(opt::DENY_HUB_ADMIN_CHANGE_EXT_OPTION.into(), 1);
    assert_eq!(err(&dispatch(&mut b, &ha, "SetHubExtOptions", &set)), 52);
    assert_eq!(err(&dispatch(&mut b, &sa, "SetHubExtOptions", &set)), 0);
}

#[test]
fn rename_link_and_admin_msg() {
    let mut b = backend();
    let sa = Caller::server_admin(false);
    let ha = Caller::hub_admin("TEST", false);
    assert_eq!(
        err(&dispatch(
            &mut b,
            &sa,
            "CreateLink",
            &link("TEST", "one").to_pack()
        )),
        0
    );
    assert_eq!(
        err(&dispatch(
            &mut b,
            &sa,
            "CreateLink",
            &link("TEST", "two").to_pack()
        )),
        0
    );
    let rn = |old: &str, new: &str| {
        RenameLink {
            hub_name: "TEST".into(),
            old_account_name: old.into(),
            new_account_name: new.into(),
        }
        .to_pack()
    };
    assert_eq!(
        err(&dispatch(&mut b, &ha, "RenameLink", &rn("one", "two"))),
        59
    );
    assert_eq!(
        err(&dispatch(&mut b, &ha, "RenameLink", &rn("nope", "x"))),
        29
    );
    assert_eq!(err(&dispatch(&mut b, &ha, "RenameLink", &rn("", "x"))), 38);
    assert_eq!(
        err(&dispatch(&mut b, &ha, "RenameLink", &rn("one", "ONE"))),
        0
    );
    assert_eq!(
        err(&dispatch(&mut b, &ha, "RenameLink", &rn("one", "three"))),
        0
    );
    let links = &b.hub("TEST").unwrap().links;
    assert!(links.contains_key("three") && !links.contains_key("one"));
    b.hubs
        .get_mut("test")
        .unwrap()
        .admin_options
        .insert(opt::NO_CASCADE.into(), 1);
    assert_eq!(
        err(&dispatch(&mut b, &ha, "RenameLink", &rn("three", "four"))),
        52
    );
    let r = dispatch(&mut b, &ha, "GetAdminMsg", &Pack::new());
    assert_eq!(err(&r), 0);
    assert_eq!(r.get_data("Msg"), Some(&[][..]));
}

#[test]
fn standalone_answers_match_softether() {
    // src/Cedar/Admin.c StGetFarmSetting / StEnumFarmMember / StGetFarmInfo /
    // StGetFarmConnectionStatus on a standalone server.
    let admin = Caller::server_admin(true);
    let mut b = backend();
    let r = dispatch(&mut b, &admin, "GetFarmSetting", &Pack::new());
    assert_eq!(err(&r), 0);
    let f = Farm::from_pack(&r).expect("RPC_FARM");
    assert_eq!(
        (f.server_type, f.weight, f.controller_only),
        (0, 100, false)
    );
    for (name, code) in [
        ("EnumFarmMember", 46),
        ("GetFarmInfo", 46),
        ("GetFarmConnectionStatus", 55),
    ] {
        assert_eq!(
            err(&dispatch(&mut b, &admin, name, &Pack::new())),
            code,
            "{name}"
        );
    }
    // Clustering cannot be switched on; "standalone" is accepted.
    let member = Farm {
        server_type: 2,
        ..Farm::default()
    };
    assert_eq!(
        err(&dispatch(
            &mut b,
            &admin,
            "SetFarmSetting",
            &member.to_pack()
        )),
        33
    );
    assert_eq!(
        err(&dispatch(
            &mut b,
            &admin,
            "SetFarmSetting",
            &Farm::default().to_pack()
        )),
        0
    );
    // StSetServerCipher: an empty name is 38, before the rights check.
    let hub_admin = Caller::hub_admin("TEST", true);
    let empty = RpcStr::default().to_pack();
    assert_eq!(
        err(&dispatch(&mut b, &hub_admin, "SetServerCipher", &empty)),
        38
    );
    // StSetServerCert: no key is ERR_PROTOCOL_ERROR (4).
    let no_key = KeyPair {
        cert: Some(vec![0x30]),
        ..KeyPair::default()
    };
    assert_eq!(
        err(&dispatch(
            &mut b,
            &admin,
            "SetServerCert",
            &no_key.to_pack()
        )),
        4
    );
}
