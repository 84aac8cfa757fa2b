//! The assembled server ([`Services`]) on a loopback port: logins never
//! wait for the configuration's writer. The runtime has one worker thread,
//! as on the 2-core machine (`worker::worker_threads`). Progress is
//! counted, never timed; every wait is bounded by the client's
//! `CONNECTING_TIMEOUT` or a deadline that only guards against a hang.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{mpsc, Arc};
use std::time::Duration;

use rustether_admin::rpc::{SetUser, SetUserFields, UserAuth as RpcUserAuth};
use rustether_admin::{Caller, RpcMessage};
use rustether_config::store::ConfigStore;
use rustether_config::{Edition, ServerConfig, UserAuth, UserConfig};
use rustether_proto::messages::LoginRequest;
use rustether_proto::password::{hash_password, secure_password};
use rustether_proto::ErrorCode;

use crate::client::{self, ClientTarget};
use crate::config::Persist;
use crate::server::Server;
use crate::worker::Services;

const PEER: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);
/// Guards the tests against a hang; never reached when things work.
const HANG: Duration = Duration::from_secs(60);

struct Running {
    services: Services,
    addr: SocketAddr,
    dir: tempfile::TempDir,
}

impl Running {
    /// A server with user `u` (password `pw`) on hub DEFAULT, listening on
    /// a loopback port.
    async fn start() -> Running {
        crate::tls::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().to_path_buf();
        let server = tokio::task::spawn_blocking(move || Server::open(Edition::Server, &path))
            .await
            .unwrap()
            .unwrap();
        server
            .update_config(|c| {
                let u = UserConfig::new(
                    "u",
                    UserAuth::Password {
                        hash: hash_password("u", "pw"),
                        nt_hash: None,
                    },
                    rustether_config::model::now_ms(),
                );
                c.hub_mut("DEFAULT").unwrap().users.push(u);
                Ok(())
            })
            .await
            .unwrap();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap();
        let services = Services::new(server);
        services.serve(l);
        Running {
            services,
            addr,
            dir,
        }
    }

    fn server(&self) -> &Arc<Server> {
        &self.services.server
    }

    /// One VPN login as `u`, closed again right after the welcome.
    async fn login(&self) -> Result<(), ErrorCode> {
        let target = ClientTarget {
            host: "127.0.0.1".into(),
            port: self.addr.port(),
            source: None,
            not_this_host: false,
        };
        let (_welcome, conn) = client::login(&target, |h| {
            let sp = secure_password(&hash_password("u", "pw"), &h.random);
            let mut r = LoginRequest::cascade("DEFAULT", "u", sp, [7u8; 20]);
            r.require_bridge_routing_mode = false;
            r
        })
        .await
        .map_err(|e| e.code)?;
        conn.close().await;
        Ok(())
    }

    /// One VPN login as `u`; the welcome's `Msg` (the hub message).
    async fn login_msg(&self) -> Result<Vec<u8>, ErrorCode> {
        let target = ClientTarget {
            host: "127.0.0.1".into(),
            port: self.addr.port(),
            source: None,
            not_this_host: false,
        };
        let (welcome, conn) = client::login(&target, |h| {
            let sp = secure_password(&hash_password("u", "pw"), &h.random);
            let mut r = LoginRequest::cascade("DEFAULT", "u", sp, [7u8; 20]);
            r.require_bridge_routing_mode = false;
            r
        })
        .await
        .map_err(|e| e.code)?;
        conn.close().await;
        Ok(welcome.msg)
    }

    /// One RPC as the administrator of hub DEFAULT; the error code.
    async fn hub_admin_rpc(&self, function: &str, pack: rustether_proto::Pack) -> ErrorCode {
        match crate::admin::execute(
            &self.services.admin,
            &Caller::hub_admin("DEFAULT", false),
            PEER,
            "",
            function,
            pack,
        )
        .await
        .result
        {
            Ok(_) => ErrorCode::NO_ERROR,
            Err(e) => e,
        }
    }

    /// `SetUser` of `u` by the hub's administrator, with `realname`.
    async fn set_realname(&self, realname: &str) -> Result<(), ErrorCode> {
        let req = SetUser {
            fields: SetUserFields {
                hub_name: "DEFAULT".into(),
                name: "u".into(),
                realname: realname.into(),
                ..SetUserFields::default()
            },
            auth: RpcUserAuth::from_password("u", "pw"),
            ..SetUser::default()
        };
        crate::admin::execute(
            &self.services.admin,
            &Caller::hub_admin("DEFAULT", false),
            PEER,
            "",
            "SetUser",
            req.to_pack(),
        )
        .await
        .result
        .map(|_| ())
    }

    fn realname(&self) -> String {
        self.server().with_config(|c| {
            c.hub("DEFAULT")
                .unwrap()
                .user("u")
                .unwrap()
                .realname
                .clone()
        })
    }

    /// The configuration as saved on disk.
    fn saved(&self) -> ServerConfig {
        ConfigStore::new(self.dir.path(), Edition::Server)
            .load()
            .unwrap()
            .unwrap()
    }
}

/// Saves through the real store, but only once the test lets it: a save
/// that takes as long as the test wants.
struct GatedSave {
    store: ConfigStore,
    entered: mpsc::Sender<()>,
    release: mpsc::Receiver<()>,
}

impl Persist for GatedSave {
    fn save(&mut self, cfg: &ServerConfig) -> Result<(), String> {
        let _ = self.entered.send(());
        self.release
            .recv_timeout(HANG)
            .map_err(|_| "the test never released the save".to_string())?;
        Persist::save(&mut self.store, cfg)
    }
    fn save_text(&mut self, text: &str) -> Result<ServerConfig, String> {
        Persist::save_text(&mut self.store, text)
    }
    fn path(&self) -> PathBuf {
        Persist::path(&self.store)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn logins_succeed_while_a_change_is_being_saved() {
    let r = Running::start().await;
    let (entered_tx, entered) = mpsc::channel();
    let (release, release_rx) = mpsc::channel();
    r.server().set_persist(Box::new(GatedSave {
        store: ConfigStore::new(r.dir.path(), Edition::Server),
        entered: entered_tx,
        release: release_rx,
    }));
    let r = Arc::new(r);
    let change = tokio::spawn({
        let r = r.clone();
        async move { r.set_realname("changed").await }
    });
    // The change is now inside its save, holding the writer.
    tokio::task::spawn_blocking(move || entered.recv_timeout(HANG))
        .await
        .unwrap()
        .expect("the change reaches its save");

    for i in 0..8 {
        assert_eq!(r.login().await, Ok(()), "login {i} during the save");
        assert!(!change.is_finished(), "the save is still held");
    }
    // Readers still see the last saved snapshot, not the unsaved change.
    assert_eq!(r.realname(), "");
    assert_eq!(
        r.saved()
            .hub("DEFAULT")
            .unwrap()
            .user("u")
            .unwrap()
            .realname,
        ""
    );

    release.send(()).unwrap();
    assert_eq!(change.await.unwrap(), Ok(()), "answered after the save");
    assert_eq!(r.realname(), "changed");
    assert_eq!(
        r.saved()
            .hub("DEFAULT")
            .unwrap()
            .user("u")
            .unwrap()
            .realname,
        "changed"
    );
    r.server().begin_shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn logins_keep_succeeding_while_a_hub_administrator_streams_changes() {
    const LOGINS: u64 = 20;
    const CHANGES_DURING_LOGINS: u64 = 20;
    let r = Arc::new(Running::start().await);
    let revision_before = r.saved().config_revision;
    let changes = Arc::new(AtomicU64::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let streamer = tokio::spawn({
        let (r, changes, stop) = (r.clone(), changes.clone(), stop.clone());
        async move {
            // Bounded: stops when the logins are done, or after far more
            // changes than that can take.
            while !stop.load(Ordering::Relaxed) && changes.load(Ordering::Relaxed) < 100_000 {
                let n = changes.load(Ordering::Relaxed) + 1;
                r.set_realname(&format!("change {n}")).await?;
                changes.store(n, Ordering::Relaxed);
            }
            Ok::<u64, ErrorCode>(changes.load(Ordering::Relaxed))
        }
    });
    // Log in until both sides have made progress together: LOGINS logins,
    // and CHANGES_DURING_LOGINS changes saved between the first and the last.
    let first = changes.load(Ordering::Relaxed);
    let mut logins = 0u64;
    while logins < LOGINS || changes.load(Ordering::Relaxed) - first < CHANGES_DURING_LOGINS {
        assert!(!streamer.is_finished(), "the change stream ended early");
        assert_eq!(r.login().await, Ok(()), "login {logins}");
        logins += 1;
        assert!(logins < 10_000, "the change stream made no progress");
    }
    stop.store(true, Ordering::Relaxed);
    let total = streamer.await.unwrap().expect("every change saved");
    assert!(total >= CHANGES_DURING_LOGINS);
    // Every change was saved, one revision each, and the last one is in force.
    let saved = r.saved();
    assert_eq!(
        u64::from(saved.config_revision - revision_before),
        total,
        "one save per change"
    );
    let last = format!("change {total}");
    assert_eq!(
        saved.hub("DEFAULT").unwrap().user("u").unwrap().realname,
        last
    );
    assert_eq!(r.realname(), last);
    r.server().begin_shutdown();
}

/// Attack (issue 9 item 7): the remote server of a cascade knows the
/// session key it issued, and the local cascade session carries that key.
/// Acting as that remote, an additional connection to the local server
/// with the key must not join the local cascade session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cascade_remote_cannot_attach_connections_to_the_local_cascade_session() {
    use crate::cascade::CascadeStatus;
    use crate::session::Role;
    use rustether_config::{CascadeAuth, CascadeConfig};
    let a = Running::start().await;
    let b = Running::start().await;
    let mut cfg = CascadeConfig::new(
        "l",
        "127.0.0.1",
        b.addr.port(),
        "DEFAULT",
        CascadeAuth::PlainPassword {
            username: "u".into(),
            password: "pw".into(),
        },
    );
    cfg.max_connection = 1;
    cfg.online = true;
    let c = cfg.clone();
    a.server()
        .update_config(move |x| {
            x.hub_mut("DEFAULT").unwrap().cascades.push(c);
            Ok(())
        })
        .await
        .unwrap();
    a.server().restart_cascade("DEFAULT", "l", Some(cfg)).await;
    let deadline = tokio::time::Instant::now() + HANG;
    while !matches!(
        a.server().cascade_status("DEFAULT", "l"),
        CascadeStatus::Online { .. }
    ) {
        assert!(
            tokio::time::Instant::now() < deadline,
            "cascade never online"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    // The key B issued to A's cascade, and A's local cascade session: both
    // are registered around the welcome, so wait until each side has its own.
    let deadline = tokio::time::Instant::now() + HANG;
    let (key, local) = loop {
        let remote = b
            .server()
            .sessions
            .all()
            .into_iter()
            .find(|s| s.role == Role::Server);
        let local = a
            .server()
            .sessions
            .all()
            .into_iter()
            .find(|s| s.role == Role::Client);
        if let (Some(r), Some(l)) = (remote, local) {
            break (r.key, l);
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the cascade's sessions on A and B never registered"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert_eq!(local.key, key, "the local session carries the remote's key");
    let target = ClientTarget {
        host: "127.0.0.1".into(),
        port: a.addr.port(),
        source: None,
        not_this_host: false,
    };
    let (probe, _) = client::ClientConn::connect(&target).await.unwrap();
    let cert = probe.server_cert.clone();
    probe.close().await;
    let r = client::additional_connect(&target, key, &cert).await;
    assert_eq!(
        r.err().map(|e| e.code),
        Some(ErrorCode::SESSION_TIMEOUT),
        "refused as an unknown session"
    );
    assert_eq!(local.connection_count(), 1);
    a.server().begin_shutdown();
    b.server().begin_shutdown();
}

/// A hub whose saved config has SecureNAT on gets it at start-up;
/// DisableSecureNAT stops it and saves the flag.
#[tokio::test]
async fn securenat_enabled_in_config_starts_and_can_be_disabled() {
    let r = Running::start().await;
    let server = r.server().clone();
    let ports_before = server.hub("DEFAULT").unwrap().port_count();
    server
        .update_config(|c| {
            let h = c.hub_mut("DEFAULT").unwrap();
            let cur = crate::securenat::settings_from_hub(&h.raw);
            crate::securenat::store_in_hub(&mut h.raw, true, &cur.opt);
            Ok(())
        })
        .await
        .unwrap();
    server.start_links();
    assert!(
        server.securenat("default").is_some(),
        "hub names are case-insensitive"
    );
    assert_eq!(
        server.hub("DEFAULT").unwrap().port_count(),
        ports_before + 1
    );

    server
        .set_securenat_enabled("DEFAULT", false)
        .await
        .unwrap();
    assert!(server.securenat("DEFAULT").is_none());
    let saved = server.with_config(|c| {
        crate::securenat::settings_from_hub(&c.hub("DEFAULT").unwrap().raw).enabled
    });
    assert!(!saved);
    let deadline = tokio::time::Instant::now() + HANG;
    while server.hub("DEFAULT").unwrap().port_count() != ports_before {
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    assert_eq!(
        server.set_securenat_enabled("NOPE", true).await,
        Err(ErrorCode::HUB_NOT_FOUND)
    );
    drop(r);
}

/// `SetHubMsg` reaches the welcome of the next login; `SetAcList` denying
/// the client's address refuses its next login with
/// `ERR_IP_ADDRESS_DENIED` (109) and allows it again once removed.
#[tokio::test(flavor = "multi_thread", worker_threads = 1)]
async fn hub_message_in_the_welcome_and_ac_list_at_login() {
    use rustether_admin::rpc::{AcList, RpcMsg};
    use rustether_proto::softether::access::AcEntry;
    let r = Running::start().await;
    assert_eq!(r.login_msg().await, Ok(Vec::new()));
    let msg = RpcMsg {
        hub_name: "DEFAULT".into(),
        msg: "Hello from the hub".into(),
    };
    assert_eq!(
        r.hub_admin_rpc("SetHubMsg", msg.to_pack()).await,
        ErrorCode::NO_ERROR
    );
    assert_eq!(r.login_msg().await, Ok(b"Hello from the hub".to_vec()));
    assert_eq!(
        r.saved().hub("DEFAULT").unwrap().message.as_deref(),
        Some("Hello from the hub")
    );

    let deny = AcList {
        hub_name: "DEFAULT".into(),
        entries: vec![AcEntry {
            id: 0,
            deny: true,
            priority: 1,
            ip: "127.0.0.0".parse().unwrap(),
            masked: true,
            mask: "255.0.0.0".parse().unwrap(),
        }],
    };
    assert_eq!(
        r.hub_admin_rpc("SetAcList", deny.to_pack()).await,
        ErrorCode::NO_ERROR
    );
    assert_eq!(r.login_msg().await, Err(ErrorCode::IP_ADDRESS_DENIED));
    let none = AcList {
        hub_name: "DEFAULT".into(),
        entries: vec![],
    };
    assert_eq!(
        r.hub_admin_rpc("SetAcList", none.to_pack()).await,
        ErrorCode::NO_ERROR
    );
    assert!(r.login_msg().await.is_ok());
}

/// A configuration written by SoftEther 5.01 with SecureNAT on and
/// every setting changed by its vpncmd (SecureNatHostSet, DhcpSet,
/// NatSet, DhcpEnable, NatEnable; crates/config/tests/data): the
/// server starts SecureNAT with those settings and it leases from the
/// configured pool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn softether_written_config_with_securenat_on_migrates_and_works() {
    crate::tls::install_crypto_provider();
    let src = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../config/tests/data/softether-5.01-securenat.config"
    );
    let dir = tempfile::tempdir().unwrap();
    std::fs::copy(src, dir.path().join("vpn_server.config")).unwrap();
    let server = Server::open(Edition::Server, dir.path()).unwrap();
    server.start_links();
    assert!(
        server.securenat("DEFAULT").is_some(),
        "started from the file"
    );
    let c =
        server.with_config(|c| crate::securenat::settings_from_hub(&c.hub("DEFAULT").unwrap().raw));
    assert!(c.enabled);
    let o = &c.opt;
    assert_eq!(o.mac, [0x5E, 0x12, 0x34, 0x56, 0x78, 0x9A]);
    assert_eq!((o.ip, o.mtu), (Ipv4Addr::new(10, 77, 0, 1), 1400));
    assert_eq!((o.nat_tcp_timeout, o.nat_udp_timeout), (600, 30));
    assert_eq!(
        (o.dhcp_lease_ip_start, o.dhcp_lease_ip_end),
        (Ipv4Addr::new(10, 77, 0, 50), Ipv4Addr::new(10, 77, 0, 60))
    );
    assert_eq!(
        (o.dhcp_expire_secs, o.dhcp_domain.as_str()),
        (900, "mig.test")
    );
    assert!(o.use_nat && o.use_dhcp && !o.save_log);
    let hub = server.hub("DEFAULT").unwrap();
    let ip = crate::securenat::test_lease(
        &hub,
        &server.sessions,
        rustether_hub::SessionPolicy::default(),
        [2, 0, 0, 0, 0x30, 1],
        Duration::from_secs(10),
    )
    .await
    .expect("a lease");
    assert!((50..=60).contains(&ip.octets()[3]) && ip.octets()[..3] == [10, 77, 0]);
    server.begin_shutdown();
}

/// `SetServerCipher` is saved in `ServerConfiguration/CipherName` and
/// survives a restart (the modelled field is what the save writes; a value
/// set only in the raw folder was overwritten with the old one).
#[test]
fn server_cipher_is_saved_and_survives_a_restart() {
    crate::tls::install_crypto_provider();
    let dir = tempfile::tempdir().unwrap();
    let server = Server::open(Edition::Server, dir.path()).unwrap();
    server
        .set_tls_settings_blocking(None, Some("ECDHE-RSA-AES128-GCM-SHA256"))
        .unwrap();
    let text = std::fs::read_to_string(server.config_path()).unwrap();
    assert!(
        text.contains("string CipherName ECDHE-RSA-AES128-GCM-SHA256"),
        "{text}"
    );
    drop(server);
    let again = Server::open(Edition::Server, dir.path()).unwrap();
    assert_eq!(
        again.with_config(|c| c.server.cipher_name.clone()),
        "ECDHE-RSA-AES128-GCM-SHA256"
    );
}
