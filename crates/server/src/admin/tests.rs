//! The backend over a real [`Server`] (state in a temporary directory, no
//! root needed): existence, duplicate and limit errors, persistence before
//! the answer, listeners opened and closed, cascades started and stopped,
//! `SetConfig` applied at once, hub-administrator options.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use rustether_admin::hub_admin_option as opt;
use rustether_admin::rpc::*;
use rustether_admin::{Caller, RpcMessage};
use rustether_config::{store::ConfigStore, Edition};
use rustether_proto::password::{hash_admin_password, hash_password};
use rustether_proto::{ErrorCode, Pack};

use super::{execute, Admin};
use crate::listener::{Acceptor, Listeners};
use crate::server::Server;

const PEER: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// Closes every accepted connection: these tests only look at whether a
/// port accepts (the VPN protocol on top is the connection tests' job).
struct Close;

impl Acceptor for Close {
    fn accept(&self, _: tokio::net::TcpStream, _: SocketAddr, _: SocketAddr) {}
}

struct T {
    server: Arc<Server>,
    admin: Arc<Admin>,
    _acceptor: Arc<Close>,
    dir: tempfile::TempDir,
}

impl T {
    fn new() -> T {
        crate::tls::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let server = Server::open(Edition::Server, dir.path()).unwrap();
        let acceptor = Arc::new(Close);
        let weak: std::sync::Weak<dyn Acceptor> = Arc::downgrade(&acceptor) as _;
        let listeners = Arc::new(Listeners::new(weak, server.shutdown_signal()));
        T {
            admin: Arc::new(Admin::new(server.clone(), listeners)),
            server,
            _acceptor: acceptor,
            dir,
        }
    }

    async fn call(&self, caller: &Caller, f: &str, req: Pack) -> Result<Pack, ErrorCode> {
        execute(&self.admin, caller, PEER, "", f, req)
            .await
            .result
            .map(|o| o.into_pack())
    }

    async fn admin(&self, f: &str, req: impl RpcMessage) -> Result<Pack, ErrorCode> {
        self.call(&Caller::server_admin(true), f, req.to_pack())
            .await
    }

    /// A new server on the same state directory (after a shutdown).
    fn reopen(old: T) -> T {
        let T { dir, .. } = old;
        let server = Server::open(Edition::Server, dir.path()).unwrap();
        let acceptor = Arc::new(Close);
        let weak: std::sync::Weak<dyn Acceptor> = Arc::downgrade(&acceptor) as _;
        let listeners = Arc::new(Listeners::new(weak, server.shutdown_signal()));
        T {
            admin: Arc::new(Admin::new(server.clone(), listeners)),
            server,
            _acceptor: acceptor,
            dir,
        }
    }

    /// The configuration as saved on disk.
    fn saved(&self) -> rustether_config::ServerConfig {
        ConfigStore::new(self.dir.path(), Edition::Server)
            .load()
            .unwrap()
            .unwrap()
    }
}

fn hub(name: &str, pw: &str) -> CreateHub {
    CreateHub {
        fields: CreateHubFields {
            hub_name: name.into(),
            hashed_password: hash_admin_password(pw),
            secure_password: hash_password("administrator", pw),
            online: true,
            ..CreateHubFields::default()
        },
        ..CreateHub::default()
    }
}

fn user(hub: &str, name: &str, group: &str) -> SetUser {
    SetUser {
        fields: SetUserFields {
            hub_name: hub.into(),
            name: name.into(),
            group_name: group.into(),
            ..SetUserFields::default()
        },
        auth: UserAuth::from_password(name, "pw"),
        ..SetUser::default()
    }
}

fn hub_name(name: &str) -> DeleteHub {
    DeleteHub {
        hub_name: name.into(),
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("0.0.0.0:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn accepts(port: u16) -> bool {
    std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
}

async fn eventually(mut f: impl FnMut() -> bool) -> bool {
    for _ in 0..100 {
        if f() {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    false
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hubs_and_users_errors_and_persistence() {
    let t = T::new();
    t.admin("CreateHub", hub("TEST", "hubpw")).await.unwrap();
    assert!(t.saved().hub("TEST").is_some(), "saved before the answer");
    assert!(t.server.hub("test").is_some(), "running at once");
    assert_eq!(
        t.admin("CreateHub", hub("test", "x")).await,
        Err(ErrorCode::HUB_ALREADY_EXISTS)
    );
    assert_eq!(
        t.admin("GetHubStatus", hub("NOPE", "")).await,
        Err(ErrorCode::HUB_NOT_FOUND)
    );

    t.admin("CreateUser", user("TEST", "alice", ""))
        .await
        .unwrap();
    assert_eq!(
        t.admin("CreateUser", user("TEST", "ALICE", "")).await,
        Err(ErrorCode::USER_ALREADY_EXISTS)
    );
    assert_eq!(
        t.admin("CreateUser", user("TEST", "bob", "nogroup")).await,
        Err(ErrorCode::GROUP_NOT_FOUND)
    );
    assert_eq!(
        t.admin("CreateUser", user("NOPE", "bob", "")).await,
        Err(ErrorCode::HUB_NOT_FOUND)
    );
    assert_eq!(
        t.admin("SetUser", user("TEST", "nobody", "")).await,
        Err(ErrorCode::OBJECT_NOT_FOUND)
    );
    let saved = t.saved();
    let alice = saved.hub("TEST").unwrap().user("alice").unwrap();
    assert!(matches!(
        alice.auth,
        rustether_config::UserAuth::Password { hash, .. } if hash == hash_password("alice", "pw")
    ));
    // created time on SoftEther's scale (Unix ms − 9 h)
    let unix = crate::clock::unix_ms();
    let st = alice.created_time + rustether_proto::softether::time::EPOCH_OFFSET_MS;
    assert!(st <= unix + 1000 && st + 60_000 > unix, "{st} vs {unix}");
    let p = t.admin("GetUser", user("test", "ALICE", "")).await.unwrap();
    assert_eq!(SetUser::from_pack(&p).unwrap().fields.name, "alice");

    // a hub administrator with `no_change_users` cannot create users
    t.server
        .update_config(|c| {
            let h = c.hub_mut("TEST").unwrap();
            h.raw
                .folder_or_insert("AdminOption")
                .set_uint(opt::NO_CHANGE_USERS, 1);
            Ok(())
        })
        .await
        .unwrap();
    let ha = Caller::hub_admin("TEST", true);
    assert_eq!(
        t.call(&ha, "CreateUser", user("TEST", "carol", "").to_pack())
            .await,
        Err(ErrorCode::NOT_ENOUGH_RIGHT)
    );
    assert_eq!(
        t.call(&ha, "DeleteHub", hub_name("TEST").to_pack()).await,
        Err(ErrorCode::NOT_ENOUGH_RIGHT)
    );

    t.admin(
        "DeleteUser",
        DeleteUser {
            hub_name: "TEST".into(),
            name: "alice".into(),
        },
    )
    .await
    .unwrap();
    assert!(t.saved().hub("TEST").unwrap().user("alice").is_none());
    t.admin("DeleteHub", hub_name("TEST")).await.unwrap();
    assert!(t.saved().hub("TEST").is_none());
    assert!(t.server.hub("TEST").is_none());
    assert_eq!(
        t.admin("DeleteHub", hub_name("TEST")).await,
        Err(ErrorCode::HUB_NOT_FOUND)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn listeners_open_and_close_at_run_time() {
    let t = T::new();
    let port = free_port();
    let l = |enable| Listener {
        port: u32::from(port),
        enable,
    };
    t.admin("CreateListener", l(true)).await.unwrap();
    assert!(eventually(|| accepts(port)).await);
    assert!(t
        .saved()
        .listeners
        .iter()
        .any(|x| x.port == port && x.enabled));
    assert_eq!(
        t.admin("CreateListener", l(true)).await,
        Err(ErrorCode::LISTENER_ALREADY_EXISTS)
    );
    let list = ListenerList::from_pack(&t.admin("EnumListener", l(true)).await.unwrap()).unwrap();
    let item = list
        .listeners
        .iter()
        .find(|x| x.port == u32::from(port))
        .unwrap();
    assert!(item.enable && !item.error);

    t.admin("EnableListener", l(false)).await.unwrap();
    assert!(eventually(|| !accepts(port)).await);
    t.admin("EnableListener", l(true)).await.unwrap();
    assert!(eventually(|| accepts(port)).await);
    t.admin("DeleteListener", l(false)).await.unwrap();
    assert!(eventually(|| !accepts(port)).await);
    assert!(!t.saved().listeners.iter().any(|x| x.port == port));
    assert_eq!(
        t.admin("DeleteListener", l(false)).await,
        Err(ErrorCode::LISTENER_NOT_FOUND)
    );
    assert_eq!(
        t.admin("EnableListener", l(true)).await,
        Err(ErrorCode::LISTENER_NOT_FOUND)
    );
    // a port that cannot be bound is reported with Errors[] = true
    let busy = std::net::TcpListener::bind("0.0.0.0:0").unwrap();
    let busy_port = busy.local_addr().unwrap().port();
    t.admin(
        "CreateListener",
        Listener {
            port: u32::from(busy_port),
            enable: true,
        },
    )
    .await
    .unwrap();
    let list = ListenerList::from_pack(&t.admin("EnumListener", l(true)).await.unwrap()).unwrap();
    assert!(list
        .listeners
        .iter()
        .any(|x| x.port == u32::from(busy_port) && x.error));
    t.server.begin_shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cascades_config_and_sessions() {
    let t = T::new();
    let port = free_port();
    let link = |account: &str| CreateLink {
        hub_name: "DEFAULT".into(),
        option: ClientOption {
            account_name: account.into(),
            hostname: "127.0.0.1".into(),
            port: u32::from(port),
            hub_name: "REMOTE".into(),
            max_connection: 1,
            ..ClientOption::default()
        },
        ..CreateLink::default()
    };
    let l = |account: &str| Link {
        hub_name: "DEFAULT".into(),
        account_name: account.into(),
    };
    let status = |account: &str| LinkStatus {
        hub_name: "DEFAULT".into(),
        account_name: account.into(),
        ..LinkStatus::default()
    };
    t.admin("CreateLink", link("l1")).await.unwrap();
    assert_eq!(
        t.admin("CreateLink", link("L1")).await,
        Err(ErrorCode::LINK_ALREADY_EXISTS)
    );
    let saved = t.saved();
    let c = saved.hub("DEFAULT").unwrap().cascade("l1").unwrap();
    assert!(!c.online);
    assert_eq!(c.retry_interval_secs, 10, "normalised");
    assert_eq!(
        t.admin("GetLinkStatus", status("l1")).await,
        Err(ErrorCode::LINK_IS_OFFLINE)
    );
    // online: runs (nothing listens there, so it keeps retrying)
    t.admin("SetLinkOnline", l("l1")).await.unwrap();
    assert!(t.server.cascade("DEFAULT", "l1").is_some());
    let st = LinkStatus::from_pack(&t.admin("GetLinkStatus", status("l1")).await.unwrap()).unwrap();
    assert_ne!(st.status.fields.session_status, 3);
    t.admin("SetLinkOffline", l("l1")).await.unwrap();
    assert!(t.server.cascade("DEFAULT", "l1").is_none());
    assert!(
        !t.saved()
            .hub("DEFAULT")
            .unwrap()
            .cascade("l1")
            .unwrap()
            .online
    );
    t.admin("DeleteLink", l("l1")).await.unwrap();
    assert_eq!(
        t.admin("DeleteLink", l("l1")).await,
        Err(ErrorCode::OBJECT_NOT_FOUND)
    );
    assert_eq!(
        t.admin("SetLinkOnline", l("l1")).await,
        Err(ErrorCode::OBJECT_NOT_FOUND)
    );

    // sessions: unknown names
    let ds = DeleteSession {
        hub_name: "DEFAULT".into(),
        name: "SID-NOBODY-1".into(),
    };
    assert_eq!(
        t.admin("DeleteSession", ds).await,
        Err(ErrorCode::OBJECT_NOT_FOUND)
    );

    // GetConfig → SetConfig with one more hub: in force and saved at once
    let cfg = Config::from_pack(&t.admin("GetConfig", Config::default()).await.unwrap()).unwrap();
    assert_eq!(cfg.file_name, "$vpn_server.config");
    let mut parsed = rustether_config::ServerConfig::from_root(
        &rustether_config::parse_bytes(&cfg.file_data).unwrap(),
    )
    .unwrap();
    parsed.hubs.push(rustether_config::HubConfig::new(
        "FROMSET",
        rustether_config::model::now_ms(),
        &mut rustether_config::model::system_rng(),
    ));
    let text = rustether_config::write_text(&parsed.to_root());
    t.admin(
        "SetConfig",
        Config {
            file_name: String::new(),
            file_data: text.into_bytes(),
        },
    )
    .await
    .unwrap();
    assert!(t.server.hub("FROMSET").is_some());
    assert!(t.saved().hub("FROMSET").is_some());
    assert_eq!(
        t.admin(
            "SetConfig",
            Config {
                file_name: String::new(),
                file_data: b"declare root\r\n{\r\n}\r\n".to_vec(),
            }
        )
        .await,
        Err(ErrorCode::INVALID_PARAMETER),
        "no ServerConfiguration"
    );
    assert!(t.server.hub("FROMSET").is_some(), "nothing changed");
    // Flush answers the file size
    let f = RpcTest::from_pack(&t.admin("Flush", RpcTest::default()).await.unwrap()).unwrap();
    let size = std::fs::metadata(t.server.config_path()).unwrap().len();
    assert_eq!(u64::from(f.int_value), size);
    t.server.begin_shutdown();
}

/// A disk that refuses every write.
struct FailingSave(std::path::PathBuf);

impl crate::config::Persist for FailingSave {
    fn save(&mut self, _: &rustether_config::ServerConfig) -> Result<(), String> {
        Err("No space left on device".into())
    }
    fn save_text(&mut self, _: &str) -> Result<rustether_config::ServerConfig, String> {
        Err("No space left on device".into())
    }
    fn path(&self) -> std::path::PathBuf {
        self.0.clone()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_that_cannot_be_saved_is_not_applied() {
    let t = T::new();
    let text = Config::from_pack(&t.admin("GetConfig", Config::default()).await.unwrap())
        .unwrap()
        .file_data;
    t.server
        .set_persist(Box::new(FailingSave(t.server.config_path().to_path_buf())));
    assert_eq!(
        t.admin("CreateHub", hub("LOST", "pw")).await,
        Err(ErrorCode::INTERNAL_ERROR)
    );
    assert!(t.server.hub("LOST").is_none(), "no running hub");
    assert!(
        t.server.with_config(|c| c.hub("LOST").is_none()),
        "not in force"
    );
    assert!(t.saved().hub("LOST").is_none());
    assert_eq!(
        t.admin(
            "SetConfig",
            Config {
                file_name: String::new(),
                file_data: text,
            }
        )
        .await,
        Err(ErrorCode::INVALID_PARAMETER)
    );
    assert_eq!(
        t.admin("Flush", RpcTest::default()).await,
        Err(ErrorCode::INTERNAL_ERROR)
    );
    // The same change once the disk works again.
    t.server
        .set_persist(Box::new(ConfigStore::new(t.dir.path(), Edition::Server)));
    t.admin("CreateHub", hub("LOST", "pw")).await.unwrap();
    assert!(t.server.hub("LOST").is_some());
    assert!(t.saved().hub("LOST").is_some());
}

/// EnableSecureNAT/DisableSecureNAT (vpncmd SecureNatEnable/Disable): the
/// flag is saved before the answer, the virtual host runs on the hub, the
/// hub status shows it, `no_securenat` stops hub administrators, and
/// deleting the hub stops it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn securenat_enable_disable() {
    let t = T::new();
    t.admin("CreateHub", hub("NAT", "pw")).await.unwrap();
    let rpc = |h: &str| RpcHub { hub_name: h.into() };
    let enabled_on_disk =
        |t: &T| crate::securenat::settings_from_hub(&t.saved().hub("NAT").unwrap().raw).enabled;
    assert!(!enabled_on_disk(&t));
    let ports = t.server.hub("NAT").unwrap().port_count();

    let p = t.admin("EnableSecureNAT", rpc("nat")).await.unwrap();
    assert_eq!(RpcHub::from_pack(&p).unwrap().hub_name, "nat");
    assert!(enabled_on_disk(&t));
    assert!(t.server.securenat("NAT").is_some());
    assert_eq!(t.server.hub("NAT").unwrap().port_count(), ports + 1);
    let nat = EnumNat {
        hub_name: "nat".into(),
        items: vec![],
    };
    let t1 = EnumNat::from_pack(&t.admin("EnumNAT", nat.clone()).await.unwrap()).unwrap();
    assert_eq!((t1.hub_name.as_str(), t1.items.len()), ("NAT", 0));
    let dhcp = EnumDhcp {
        hub_name: "NAT".into(),
        items: vec![],
    };
    let t2 = EnumDhcp::from_pack(&t.admin("EnumDHCP", dhcp.clone()).await.unwrap()).unwrap();
    assert!(t2.items.is_empty());
    let st = NatStatus {
        hub_name: "NAT".into(),
        ..NatStatus::default()
    };
    let s =
        NatStatus::from_pack(&t.admin("GetSecureNATStatus", st.clone()).await.unwrap()).unwrap();
    assert_eq!((s.num_tcp_sessions, s.num_dhcp_clients), (0, 0));
    let mut req = HubStatus::default();
    req.fields.hub_name = "NAT".into();
    let st = HubStatus::from_pack(&t.admin("GetHubStatus", req).await.unwrap()).unwrap();
    assert!(st.fields.secure_nat_enabled);

    assert_eq!(
        t.admin("EnableSecureNAT", rpc("NOPE")).await,
        Err(ErrorCode::HUB_NOT_FOUND)
    );

    // GetSecureNATOption / SetSecureNATOption (vpncmd DhcpGet/DhcpSet …)
    let get = SecureNatOption {
        rpc_hub_name: "NAT".into(),
        ..SecureNatOption::default()
    };
    let o = SecureNatOption::from_pack(&t.admin("GetSecureNATOption", get.clone()).await.unwrap())
        .unwrap();
    let v4 = |a: [u8; 4]| Some(IpAddr::V4(Ipv4Addr::from(a)));
    assert_eq!(o.ip, v4([192, 168, 30, 1]));
    assert_eq!(o.dhcp_lease_ip_start, v4([192, 168, 30, 10]));
    assert_eq!(
        (o.dhcp_expire_time_span, o.mtu, o.use_nat),
        (7200, 1500, true)
    );
    let new = SecureNatOption {
        dhcp_lease_ip_start: v4([192, 168, 30, 50]),
        dhcp_lease_ip_end: v4([192, 168, 30, 60]),
        dhcp_expire_time_span: 600,
        dhcp_push_routes: "10.0.0.0/8/192.168.30.1".into(),
        ..o.clone()
    };
    t.admin("SetSecureNATOption", new.clone()).await.unwrap();
    let saved = crate::securenat::settings_from_hub(&t.saved().hub("NAT").unwrap().raw);
    assert_eq!(
        saved.opt.dhcp_lease_ip_start,
        Ipv4Addr::new(192, 168, 30, 50)
    );
    assert_eq!(saved.opt.dhcp_push_routes, "10.0.0.0/8/192.168.30.1");
    assert!(saved.enabled, "still on, restarted");
    assert!(t.server.securenat("NAT").is_some());
    let back =
        SecureNatOption::from_pack(&t.admin("GetSecureNATOption", get.clone()).await.unwrap())
            .unwrap();
    assert_eq!(back.dhcp_expire_time_span, 600);
    for bad in [
        SecureNatOption {
            dhcp_lease_ip_start: v4([192, 168, 30, 70]),
            ..new.clone()
        },
        SecureNatOption {
            ip: v4([192, 168, 30, 0]),
            ..new.clone()
        },
        SecureNatOption {
            mac_address: vec![1, 2, 3],
            ..new.clone()
        },
        SecureNatOption {
            apply_dhcp_push_routes: true,
            dhcp_push_routes: "bogus".into(),
            ..new.clone()
        },
    ] {
        assert_eq!(
            t.admin("SetSecureNATOption", bad).await,
            Err(ErrorCode::INVALID_PARAMETER)
        );
    }
    t.server
        .update_config(|c| {
            let h = c.hub_mut("NAT").unwrap();
            h.raw
                .folder_or_insert("AdminOption")
                .set_uint(opt::NO_SECURENAT, 1);
            Ok(())
        })
        .await
        .unwrap();
    let ha = Caller::hub_admin("NAT", true);
    assert_eq!(
        t.call(&ha, "DisableSecureNAT", rpc("NAT").to_pack()).await,
        Err(ErrorCode::NOT_ENOUGH_RIGHT)
    );
    assert!(t.server.securenat("NAT").is_some());

    // An offline hub has no SecureNAT; online again, it is back.
    let online = |on| SetHubOnline {
        hub_name: "NAT".into(),
        online: on,
    };
    t.admin("SetHubOnline", online(false)).await.unwrap();
    assert!(t.server.securenat("NAT").is_none());
    assert!(enabled_on_disk(&t));
    t.admin("SetHubOnline", online(true)).await.unwrap();
    assert!(t.server.securenat("NAT").is_some());

    t.admin("DisableSecureNAT", rpc("NAT")).await.unwrap();
    assert!(!enabled_on_disk(&t));
    assert!(t.server.securenat("NAT").is_none());
    assert_eq!(
        t.admin("EnumNAT", nat.clone()).await,
        Err(ErrorCode::SNAT_NOT_RUNNING)
    );
    assert_eq!(
        t.admin("EnumDHCP", dhcp.clone()).await,
        Err(ErrorCode::SNAT_NOT_RUNNING)
    );
    assert_eq!(
        t.admin("GetSecureNATStatus", st).await,
        Err(ErrorCode::SNAT_NOT_RUNNING)
    );

    t.admin("EnableSecureNAT", rpc("NAT")).await.unwrap();
    t.admin("DeleteHub", hub_name("NAT")).await.unwrap();
    assert!(t.server.securenat("NAT").is_none(), "stopped with its hub");
}

async fn snat_sessions(t: &T) -> Vec<EnumSessionItem> {
    let req = EnumSession {
        hub_name: "NAT".into(),
        sessions: vec![],
    };
    EnumSession::from_pack(&t.admin("EnumSession", req).await.unwrap())
        .unwrap()
        .sessions
}

async fn hub_num_sessions(t: &T) -> u32 {
    let mut req = HubStatus::default();
    req.fields.hub_name = "NAT".into();
    HubStatus::from_pack(&t.admin("GetHubStatus", req).await.unwrap())
        .unwrap()
        .fields
        .num_sessions
}

async fn dhcp_table(t: &T) -> Vec<EnumDhcpItem> {
    let req = EnumDhcp {
        hub_name: "NAT".into(),
        items: vec![],
    };
    EnumDhcp::from_pack(&t.admin("EnumDHCP", req).await.unwrap())
        .unwrap()
        .items
}

/// SecureNAT as SoftEther shows and keeps it: `SessionList` has its
/// session `SID-SECURENAT-1` (which cannot be disconnected, 78) and hub
/// status counts it; `no_securenat_enablenat` / `no_securenat_enabledhcp`
/// keep a hub administrator from switching NAT / DHCP on (off is allowed);
/// leases stay across the hub going offline and online, new settings and a
/// server restart, and go with the hub.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn securenat_session_admin_options_and_leases_kept() {
    use rustether_hub::SessionPolicy;
    let t = T::new();
    t.admin("CreateHub", hub("NAT", "pw")).await.unwrap();
    let rpc = |h: &str| RpcHub { hub_name: h.into() };
    assert!(snat_sessions(&t).await.is_empty());
    assert_eq!(hub_num_sessions(&t).await, 0);
    t.admin("EnableSecureNAT", rpc("NAT")).await.unwrap();
    let list = snat_sessions(&t).await;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(
        (
            list[0].name.as_str(),
            list[0].username.as_str(),
            list[0].secure_nat_mode
        ),
        ("SID-SECURENAT-1", "SecureNAT", true)
    );
    assert_eq!(hub_num_sessions(&t).await, 1);
    let hubs = EnumHub::from_pack(&t.admin("EnumHub", EnumHub::default()).await.unwrap()).unwrap();
    let nat = hubs
        .hubs
        .iter()
        .find(|h| h.fields.hub_name == "NAT")
        .unwrap();
    assert_eq!(nat.fields.num_sessions, 1);
    let del = DeleteSession {
        hub_name: "NAT".into(),
        name: "SID-SECURENAT-1".into(),
    };
    assert_eq!(
        t.admin("DeleteSession", del.clone()).await,
        Err(ErrorCode::SNAT_CANT_DISCONNECT)
    );
    let st = SessionStatus::from_pack(
        &t.admin(
            "GetSessionStatus",
            SessionStatus {
                fields: SessionStatusFields {
                    hub_name: "NAT".into(),
                    name: "SID-SECURENAT-1".into(),
                    ..SessionStatusFields::default()
                },
                ..SessionStatus::default()
            },
        )
        .await
        .unwrap(),
    )
    .unwrap();
    assert_eq!(st.fields.username, "SecureNAT");

    // Hub administrator options on NAT and DHCP.
    let get = SecureNatOption {
        rpc_hub_name: "NAT".into(),
        ..SecureNatOption::default()
    };
    let cur =
        SecureNatOption::from_pack(&t.admin("GetSecureNATOption", get.clone()).await.unwrap())
            .unwrap();
    t.server
        .update_config(|c| {
            let a = c
                .hub_mut("NAT")
                .unwrap()
                .raw
                .folder_or_insert("AdminOption");
            a.set_uint(opt::NO_SECURENAT_ENABLENAT, 1);
            a.set_uint(opt::NO_SECURENAT_ENABLEDHCP, 1);
            Ok(())
        })
        .await
        .unwrap();
    let ha = Caller::hub_admin("NAT", true);
    let set = |o: SecureNatOption| t.call(&ha, "SetSecureNATOption", o.to_pack());
    let off = SecureNatOption {
        use_nat: false,
        use_dhcp: false,
        ..cur.clone()
    };
    set(off.clone()).await.expect("switching off is allowed");
    assert_eq!(
        set(SecureNatOption {
            use_nat: true,
            ..off.clone()
        })
        .await,
        Err(ErrorCode::NOT_ENOUGH_RIGHT)
    );
    assert_eq!(
        set(SecureNatOption {
            use_dhcp: true,
            ..off.clone()
        })
        .await,
        Err(ErrorCode::NOT_ENOUGH_RIGHT)
    );
    let now =
        SecureNatOption::from_pack(&t.admin("GetSecureNATOption", get.clone()).await.unwrap())
            .unwrap();
    assert!(
        !now.use_nat && !now.use_dhcp,
        "refused changes are not saved"
    );
    // The server administrator is not bound by them.
    t.admin("SetSecureNATOption", cur.clone()).await.unwrap();

    // A lease, then the hub offline and online: DhcpTable still has it.
    let mac = [2, 0, 0, 0, 0x10, 1];
    let wait = std::time::Duration::from_secs(10);
    let hubref = t.server.hub("NAT").unwrap();
    let ip = crate::securenat::test_lease(
        &hubref,
        &t.server.sessions,
        SessionPolicy::default(),
        mac,
        wait,
    )
    .await
    .expect("a lease");
    let leased = dhcp_table(&t).await;
    assert_eq!(leased.len(), 1);
    assert_eq!(
        (leased[0].ip_address, leased[0].mac_address.as_slice()),
        (ip, &mac[..])
    );
    let online = |on| SetHubOnline {
        hub_name: "NAT".into(),
        online: on,
    };
    t.admin("SetHubOnline", online(false)).await.unwrap();
    t.admin("SetHubOnline", online(true)).await.unwrap();
    let after = dhcp_table(&t).await;
    assert_eq!(after.len(), 1, "kept across offline/online");
    assert_eq!(after[0].ip_address, ip);
    // The same expiry (the clocks are converted to wall time: ±1 s).
    assert!(after[0].expire_time.abs_diff(leased[0].expire_time) <= 1000);
    // The same client gets the same address again.
    let hubref = t.server.hub("NAT").unwrap();
    assert_eq!(
        crate::securenat::test_lease(
            &hubref,
            &t.server.sessions,
            SessionPolicy::default(),
            mac,
            wait
        )
        .await,
        Some(ip)
    );

    // A server restart: the lease file keeps them.
    let file = t.dir.path().join(crate::securenat::LEASE_FILE);
    let deadline = std::time::Instant::now() + wait;
    while !std::fs::read_to_string(&file)
        .unwrap_or_default()
        .contains(&ip.to_string())
    {
        assert!(std::time::Instant::now() < deadline, "lease file written");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    t.server.begin_shutdown();
    let t2 = T::reopen(t);
    t2.server.start_links();
    let back = dhcp_table(&t2).await;
    assert_eq!(back.len(), 1, "kept across a restart");
    assert_eq!(
        (back[0].ip_address, back[0].mac_address.as_slice()),
        (ip, &mac[..])
    );

    // Deleting the hub drops them.
    t2.admin("DeleteHub", hub_name("NAT")).await.unwrap();
    t2.admin("CreateHub", hub("NAT", "pw")).await.unwrap();
    t2.admin("EnableSecureNAT", rpc("NAT")).await.unwrap();
    assert!(dhcp_table(&t2).await.is_empty());
}

fn group(hub: &str, name: &str) -> SetGroup {
    SetGroup {
        fields: SetGroupFields {
            hub_name: hub.into(),
            name: name.into(),
            realname: "Real".into(),
            note: "note".into(),
        },
        ..SetGroup::default()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn groups_errors_limits_and_membership() {
    let t = T::new();
    t.admin("CreateHub", hub("G", "pw")).await.unwrap();
    t.admin("CreateGroup", group("G", "g1")).await.unwrap();
    assert_eq!(
        t.admin("CreateGroup", group("G", "G1")).await,
        Err(ErrorCode::GROUP_ALREADY_EXISTS)
    );
    assert_eq!(
        t.admin("CreateGroup", group("G", "a/b")).await,
        Err(ErrorCode::INVALID_PARAMETER)
    );
    assert_eq!(
        t.admin("CreateGroup", group("NOHUB", "g")).await,
        Err(ErrorCode::HUB_NOT_FOUND)
    );
    assert_eq!(
        t.admin("SetGroup", group("G", "nope")).await,
        Err(ErrorCode::OBJECT_NOT_FOUND)
    );
    // membership needs an existing group
    assert_eq!(
        t.admin("CreateUser", user("G", "bob", "nope")).await,
        Err(ErrorCode::GROUP_NOT_FOUND)
    );
    t.admin("CreateUser", user("G", "bob", "g1")).await.unwrap();
    let mut g = group("G", "g1");
    g.policy = Some(Policy {
        max_connection: 1,
        ..Policy::default()
    });
    t.admin("SetGroup", g).await.unwrap();
    let e = EnumGroup::from_pack(
        &t.admin(
            "EnumGroup",
            EnumGroup {
                hub_name: "G".into(),
                groups: vec![],
            },
        )
        .await
        .unwrap(),
    )
    .unwrap();
    assert_eq!(e.groups.len(), 1);
    assert_eq!((e.groups[0].num_users, e.groups[0].deny_access), (1, true));
    let got = SetGroup::from_pack(&t.admin("GetGroup", group("G", "G1")).await.unwrap()).unwrap();
    assert_eq!(got.fields.name, "g1");
    assert_eq!(got.policy.map(|p| p.max_connection), Some(1));
    let saved = t.saved();
    let sg = saved.hub("G").unwrap().group("g1").unwrap();
    assert_eq!(sg.policy.as_ref().map(|p| p.max_connection), Some(1));

    // hub options restrict hub administrators
    t.server
        .update_config(|c| {
            let h = c.hub_mut("G").ok_or(ErrorCode::HUB_NOT_FOUND)?;
            let o = h.raw.folder_or_insert("AdminOption");
            o.set_uint("no_change_groups", 1);
            o.set_uint("max_groups", 1);
            o.set_uint("no_delete_mactable", 1);
            Ok(())
        })
        .await
        .unwrap();
    let hub_admin = Caller::hub_admin("G", true);
    assert_eq!(
        t.call(
            &hub_admin,
            "DeleteGroup",
            DeleteUser {
                hub_name: "G".into(),
                name: "g1".into()
            }
            .to_pack()
        )
        .await,
        Err(ErrorCode::NOT_ENOUGH_RIGHT)
    );
    assert_eq!(
        t.admin("CreateGroup", group("G", "g2")).await,
        Err(ErrorCode::TOO_MANY_GROUP)
    );
    let del = DeleteTable {
        hub_name: "G".into(),
        key: 7,
    };
    assert_eq!(
        t.call(&hub_admin, "DeleteMacTable", del.to_pack()).await,
        Err(ErrorCode::NOT_ENOUGH_RIGHT)
    );
    // (the option does not restrict the IP table; no such entry)
    assert_eq!(
        t.call(&hub_admin, "DeleteIpTable", del.to_pack()).await,
        Err(ErrorCode::OBJECT_NOT_FOUND)
    );
    assert_eq!(
        t.admin("DeleteMacTable", del).await,
        Err(ErrorCode::OBJECT_NOT_FOUND)
    );

    // deleting the group leaves its members without a group
    t.admin(
        "DeleteGroup",
        DeleteUser {
            hub_name: "G".into(),
            name: "g1".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(t.saved().hub("G").unwrap().user("bob").unwrap().group, None);
    assert_eq!(
        t.admin("GetGroup", group("G", "g1")).await,
        Err(ErrorCode::OBJECT_NOT_FOUND)
    );
}

/// Admin work that grows with the request (frame and JSON decoding, answer
/// encoding) runs off the async worker threads: here the work waits for a
/// task of the only worker thread, which could not run if the work ran on
/// that thread itself (the work would give up after its bound and say so).
#[tokio::test(flavor = "current_thread")]
async fn request_decoding_runs_off_the_async_worker_threads() {
    let (tx, rx) = std::sync::mpsc::channel::<()>();
    let worker_task = tokio::spawn(async move {
        let _ = tx.send(());
    });
    let got = super::off_runtime("test work", move || {
        rx.recv_timeout(std::time::Duration::from_secs(20)).is_ok()
    })
    .await;
    assert_eq!(got, Some(true), "the work ran on the worker thread");
    worker_task.await.unwrap();
    // A panic in the work is reported, not propagated.
    let panicked = super::off_runtime("test work", || -> u8 { panic!("boom") }).await;
    assert_eq!(panicked, None);
}

/// Hub logs over the real backend: `SetHubLog` stored in `LogSetting` and
/// applied, a hub event in `security_log/H/`, listed by `EnumLogFile` (a
/// hub administrator sees only its hub's), read in chunks by
/// `ReadLogFile`; and the attack: no path outside the listing (the
/// configuration file, `..`, absolute paths, a symbolic link planted in a
/// log directory) can be read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hub_logs_settings_listing_reading_and_traversal() {
    let t = T::new();
    for h in ["LOGS", "OTHER"] {
        t.admin("CreateHub", hub(h, "pw")).await.unwrap();
    }
    let mut h = HubLog::from_pack(
        &t.admin(
            "GetHubLog",
            HubLog {
                hub_name: "LOGS".into(),
                ..Default::default()
            },
        )
        .await
        .unwrap(),
    )
    .unwrap();
    // a new hub has SoftEther's defaults
    assert!(h.save_security_log && h.save_packet_log);
    assert_eq!(h.packet_log_config, [1, 0, 1, 0, 0, 0, 0, 0]);
    h.packet_log_config[4] = 2;
    h.security_log_switch_type = 5;
    t.admin("SetHubLog", h.clone()).await.unwrap();
    let saved = t.saved().hub("LOGS").unwrap().log_setting();
    assert_eq!(saved.packet_log_config[4], 2);
    assert_eq!(saved.security_log_switch_type, 5);
    let running = t.server.hub("LOGS").unwrap();
    assert_eq!(running.log_setting(), saved);

    running.security_log("Connection \"CID-1\": test line");
    t.server.hub("OTHER").unwrap().security_log("other hub");
    let list = EnumLogFile::from_pack(
        &t.admin("EnumLogFile", EnumLogFile::default())
            .await
            .unwrap(),
    )
    .unwrap();
    let sec: Vec<&EnumLogFileItem> = list
        .items
        .iter()
        .filter(|i| i.file_path.starts_with("security_log/LOGS/sec_2"))
        .collect();
    assert_eq!(sec.len(), 1, "{list:?}");
    let path = sec[0].file_path.clone();
    assert_eq!(
        path.len(),
        "security_log/LOGS/sec_202612.log".len(),
        "monthly: {path}"
    );
    // a hub administrator lists only its own hub's logs
    let hub_admin = Caller::hub_admin("OTHER", true);
    let p = t
        .call(&hub_admin, "EnumLogFile", EnumLogFile::default().to_pack())
        .await
        .unwrap();
    let own = EnumLogFile::from_pack(&p).unwrap();
    assert!(!own.items.is_empty());
    assert!(
        own.items.iter().all(|i| i.file_path.contains("/OTHER/")),
        "{own:?}"
    );
    let read = |caller: Caller, path: String, offset: u32| {
        let t = &t;
        async move {
            let req = ReadLogFile {
                file_path: path,
                offset,
                ..Default::default()
            };
            t.call(&caller, "ReadLogFile", req.to_pack())
                .await
                .map(|p| ReadLogFile::from_pack(&p).unwrap())
        }
    };
    let admin = Caller::server_admin(true);
    let r = read(admin.clone(), path.clone(), 0).await.unwrap();
    let text = String::from_utf8(r.buffer.unwrap()).unwrap();
    assert!(
        text.ends_with(" Connection \"CID-1\": test line\r\n"),
        "{text:?}"
    );
    let r = read(admin.clone(), path.clone(), 11).await.unwrap();
    assert_eq!(r.buffer.unwrap(), text.as_bytes()[11..].to_vec());
    let r = read(admin.clone(), path.clone(), text.len() as u32)
        .await
        .unwrap();
    assert_eq!(r.buffer, None, "end of file: no Buffer");
    // the other hub's administrator cannot read this hub's log
    assert_eq!(
        read(hub_admin.clone(), path.clone(), 0).await.unwrap_err(),
        ErrorCode::OBJECT_NOT_FOUND
    );
    // attack: paths outside the listing
    let link = t.dir.path().join("security_log/LOGS/link.log");
    std::os::unix::fs::symlink(t.dir.path().join("vpn_server.config"), &link).unwrap();
    for bad in [
        "vpn_server.config",
        "../vpn_server.config",
        "security_log/LOGS/../../vpn_server.config",
        "security_log/LOGS/link.log",
        "/etc/passwd",
        "security_log/LOGS",
    ] {
        assert_eq!(
            read(admin.clone(), bad.into(), 0).await.unwrap_err(),
            ErrorCode::OBJECT_NOT_FOUND,
            "{bad}"
        );
    }
    assert_eq!(
        read(admin.clone(), String::new(), 0).await.unwrap_err(),
        ErrorCode::INVALID_PARAMETER
    );
    // syslog: stored where SoftEther stores it; no host = off
    t.admin(
        "SetSysLog",
        SysLogSetting {
            save_type: 2,
            port: 514,
            hostname: "127.0.0.1".into(),
        },
    )
    .await
    .unwrap();
    assert_eq!(t.saved().server.syslog().save_type, 2);
    assert_eq!(t.server.logs.syslog_type(), 2);
    let p = t
        .call(&hub_admin, "GetSysLog", SysLogSetting::default().to_pack())
        .await
        .unwrap();
    assert_eq!(SysLogSetting::from_pack(&p).unwrap().hostname, "Secret");
    t.admin(
        "SetSysLog",
        SysLogSetting {
            save_type: 3,
            port: 514,
            hostname: String::new(),
        },
    )
    .await
    .unwrap();
    assert_eq!(t.saved().server.syslog().save_type, 0);
    assert_eq!(
        t.call(&hub_admin, "SetSysLog", SysLogSetting::default().to_pack())
            .await
            .unwrap_err(),
        ErrorCode::NOT_ENOUGH_RIGHT
    );
}
