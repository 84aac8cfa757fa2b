//! The real SoftEther VPN Server 5.01 reads a file written by this crate,
//! and this crate reads back the file SoftEther then writes.
//!
//! Needs root (network and mount namespaces), the SoftEther Debian packages
//! and `ip`, `unshare`, `setsid`, `ss`, `timeout`:
//! `rustether_testkit::prereq` skips a test visibly (and counts it) without
//! them, and fails it when `CI` is set. The server runs in
//! a network namespace with only loopback (no default route) and in a
//! private mount namespace where its state, pid and log directories are a
//! temporary directory; keep-alive, dynamic DNS and NAT traversal are off in
//! the file before it starts. Everything is bounded in time and cleaned up
//! by guards.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use rustether_testkit::prereq::{require, Prereq};

use rustether_config::{
    parse_bytes, CascadeAuth, CascadeConfig, ConfigStore, Edition, GroupConfig, HubConfig,
    ListenerConfig, LocalBridgeConfig, ServerConfig, UserAuth, UserConfig,
};

const PORT: u16 = 5555;

/// Runs the command inside a private mount namespace with the SoftEther
/// directories bind-mounted from `$1`.
const INST_SH: &str = r#"
d=$1; shift
for m in lib:/var/lib/softether run:/run/softether log:/var/log/softether; do
    mkdir -p "$d/${m%%:*}" "${m#*:}" && mount --bind "$d/${m%%:*}" "${m#*:}" || exit 97
done
cd "$d" || exit 97
exec "$@""#;

/// What the tests of this file need.
const NEEDS: &[Prereq] = &[
    Prereq::Netns,
    Prereq::SoftEther,
    Prereq::Program("unshare"),
    Prereq::Program("setsid"),
    Prereq::Program("ss"),
    Prereq::Program("timeout"),
];

/// Path of SoftEther program `name`.
fn se_program(name: &str) -> PathBuf {
    rustether_testkit::softether::program(name)
}

/// A network namespace with loopback up; deleted on drop.
struct Netns(String);

impl Netns {
    fn new() -> Netns {
        static N: AtomicU32 = AtomicU32::new(0);
        let name = format!(
            "rce-t{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        );
        run("ip", &["netns", "add", &name]);
        let ns = Netns(name);
        run("ip", &["-n", &ns.0, "link", "set", "lo", "up"]);
        ns
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
    }
}

fn run(cmd: &str, args: &[&str]) {
    let st = Command::new(cmd).args(args).status().unwrap();
    assert!(st.success(), "{cmd} {args:?} failed");
}

/// The server process (its own session and process group); SIGTERM then
/// SIGKILL of that group on drop.
struct Server {
    child: Child,
}

impl Server {
    fn start(ns: &Netns, inst: &Path) -> Server {
        let child = Command::new("setsid")
            .args([
                "ip",
                "netns",
                "exec",
                &ns.0,
                "unshare",
                "-m",
                "--propagation",
                "private",
            ])
            .args(["/bin/sh", "-c", INST_SH, "sh"])
            .arg(inst)
            .arg(se_program("vpnserver"))
            .args(["start", "--foreground"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        Server { child }
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// SIGTERM to the process group, wait up to `t`; true if it ended.
    fn stop(&mut self, t: Duration) -> bool {
        let pgid = self.child.id() as i32;
        if !self.alive() {
            return true;
        }
        rustether_testkit::process::kill_group(pgid, libc::SIGTERM);
        let end = Instant::now() + t;
        while Instant::now() < end {
            if !self.alive() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        false
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if !self.stop(Duration::from_secs(10)) {
            rustether_testkit::process::kill_group(self.child.id() as i32, libc::SIGKILL);
            let _ = self.child.wait();
        }
    }
}

fn listening(ns: &Netns, port: u16) -> bool {
    Command::new("ip")
        .args([
            "netns",
            "exec",
            &ns.0,
            "ss",
            "-Hltn",
            &format!("sport = :{port}"),
        ])
        .output()
        .map(|o| !o.stdout.is_empty())
        .unwrap_or(false)
}

/// `vpncmd 127.0.0.1:5555 /SERVER <args>` in the namespace, bounded by 30 s.
fn vpncmd(ns: &Netns, inst: &Path, args: &[&str]) -> String {
    let out = Command::new("timeout")
        .args([
            "30",
            "ip",
            "netns",
            "exec",
            &ns.0,
            "unshare",
            "-m",
            "--propagation",
            "private",
        ])
        .args(["/bin/sh", "-c", INST_SH, "sh"])
        .arg(inst)
        .arg(se_program("vpncmd"))
        .args([&format!("127.0.0.1:{PORT}"), "/SERVER"])
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "vpncmd {args:?} failed:\n{text}");
    text
}

/// The configuration we write: one listener on 5555, internet features off
/// (they are off in `initial` already), hub RTEST with a group, two users,
/// a cascade and a local bridge.
fn our_config() -> ServerConfig {
    let mut cfg = ServerConfig::initial(
        Edition::Server,
        rustether_config::model::now_ms(),
        &mut rustether_config::model::system_rng(),
    );
    cfg.listeners = vec![ListenerConfig {
        port: PORT,
        enabled: true,
        disable_dos: false,
    }];
    cfg.server.disable_json_rpc_web_api = true;
    let mut hub = HubConfig::new(
        "RTEST",
        rustether_config::model::now_ms(),
        &mut rustether_config::model::system_rng(),
    );
    let mut g = GroupConfig::new("rgroup");
    g.realname = "Our Group".into();
    hub.groups.push(g);
    let mut u = UserConfig::new(
        "ruser",
        UserAuth::Password {
            hash: [0x11; 20],
            nt_hash: Some([0x22; 16]),
        },
        rustether_config::model::now_ms(),
    );
    u.realname = "Rust User".into();
    u.note = "written by rustether-config".into();
    u.group = Some("rgroup".into());
    hub.users.push(u);
    hub.users.push(UserConfig::new(
        "radiususer",
        UserAuth::Radius {
            username: "r@example".into(),
        },
        rustether_config::model::now_ms(),
    ));
    hub.cascades.push(CascadeConfig::new(
        "rcasc",
        "127.0.0.1",
        PORT,
        "ELSEWHERE",
        CascadeAuth::PlainPassword {
            username: "cuser".into(),
            password: "cpw".into(),
        },
    ));
    cfg.hubs.push(hub);
    cfg.local_bridges.push(LocalBridgeConfig {
        device_name: "nosuch0".into(),
        hub_name: "RTEST".into(),
        ..Default::default()
    });
    cfg
}

#[test]
fn real_vpnserver_reads_our_file_and_we_read_its_file() {
    if !require(NEEDS) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let srv_dir = tmp.path().join("srv");
    let cmd_dir = tmp.path().join("cmd");
    let lib: PathBuf = srv_dir.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::create_dir_all(&cmd_dir).unwrap();

    let store = ConfigStore::new(&lib, Edition::Server);
    let cfg = our_config();
    store.save(&cfg).unwrap();
    let written = std::fs::read(store.path()).unwrap();

    let ns = Netns::new();
    let mut server = Server::start(&ns, &srv_dir);
    let end = Instant::now() + Duration::from_secs(30);
    while !listening(&ns, PORT) {
        assert!(server.alive(), "vpnserver exited during start-up");
        assert!(Instant::now() < end, "vpnserver not listening after 30 s");
        std::thread::sleep(Duration::from_millis(300));
    }

    let hubs = vpncmd(&ns, &cmd_dir, &["/CMD", "HubList"]);
    assert!(hubs.contains("RTEST"), "{hubs}");
    assert!(hubs.contains("DEFAULT"), "{hubs}");
    let users = vpncmd(&ns, &cmd_dir, &["/ADMINHUB:RTEST", "/CMD", "UserList"]);
    assert!(users.contains("ruser"), "{users}");
    assert!(users.contains("Rust User"), "{users}");
    assert!(users.contains("rgroup"), "{users}");
    assert!(users.contains("radiususer"), "{users}");
    let user = vpncmd(
        &ns,
        &cmd_dir,
        &["/ADMINHUB:RTEST", "/CMD", "UserGet", "ruser"],
    );
    assert!(user.contains("written by rustether-config"), "{user}");
    let casc = vpncmd(&ns, &cmd_dir, &["/ADMINHUB:RTEST", "/CMD", "CascadeList"]);
    assert!(casc.contains("rcasc"), "{casc}");
    assert!(casc.contains("Offline"), "{casc}");
    let casc = vpncmd(
        &ns,
        &cmd_dir,
        &["/ADMINHUB:RTEST", "/CMD", "CascadeGet", "rcasc"],
    );
    assert!(casc.contains("ELSEWHERE"), "{casc}");
    assert!(casc.contains("cuser"), "{casc}");
    let br = vpncmd(&ns, &cmd_dir, &["/CMD", "BridgeList"]);
    assert!(br.contains("nosuch0"), "{br}");
    vpncmd(&ns, &cmd_dir, &["/CMD", "Flush"]);

    assert!(
        server.stop(Duration::from_secs(20)),
        "vpnserver did not stop on SIGTERM"
    );
    drop(server);

    // SoftEther rewrote the file (it saves at start-up and on flush); read
    // its version back with our store.
    let theirs = std::fs::read(store.path()).unwrap();
    assert_ne!(theirs, written, "SoftEther did not rewrite the file");
    let root = parse_bytes(&theirs).unwrap();
    assert!(root
        .folder("ServerConfiguration")
        .unwrap()
        .get_uint("CurrentBuild")
        .is_some());
    let back = store.load().unwrap().unwrap();
    let hub = back.hub("RTEST").unwrap();
    let u = hub.user("ruser").unwrap();
    assert_eq!(
        u.auth,
        UserAuth::Password {
            hash: [0x11; 20],
            nt_hash: Some([0x22; 16])
        }
    );
    assert_eq!(u.group.as_deref(), Some("rgroup"));
    assert_eq!(
        hub.cascade("rcasc").unwrap().auth,
        CascadeAuth::PlainPassword {
            username: "cuser".into(),
            password: "cpw".into()
        }
    );
    assert_eq!(back.local_bridges[0].device_name, "nosuch0");
    assert!(!back.server.use_keep_connect);
    assert!(back.server.disable_nat_traversal);
    assert!(back.ddns_disabled);
    // SoftEther generated the certificate we left empty
    assert!(!back.server.server_cert_der.is_empty());
    assert!(!back.server.server_key_der.is_empty());
}

/// Migration: SoftEther's own file, loaded and saved by us with a change,
/// is still read by SoftEther with everything in it.
#[test]
fn real_vpnserver_reads_its_migrated_file() {
    if !require(NEEDS) {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let srv_dir = tmp.path().join("srv");
    let cmd_dir = tmp.path().join("cmd");
    let lib = srv_dir.join("lib");
    std::fs::create_dir_all(&lib).unwrap();
    std::fs::create_dir_all(&cmd_dir).unwrap();
    let store = ConfigStore::new(&lib, Edition::Server);
    std::fs::write(store.path(), include_bytes!("data/softether-5.01.config")).unwrap();
    let mut cfg = store.load().unwrap().unwrap();
    cfg.config_revision += 1;
    let hub = cfg.hub_mut("TEST").unwrap();
    hub.users.push(UserConfig::new(
        "migrated",
        UserAuth::Anonymous,
        rustether_config::model::now_ms(),
    ));
    hub.message = Some("migrated by rustether".into());
    store.save(&cfg).unwrap();

    let ns = Netns::new();
    let mut server = Server::start(&ns, &srv_dir);
    let end = Instant::now() + Duration::from_secs(30);
    while !listening(&ns, PORT) {
        assert!(server.alive(), "vpnserver exited during start-up");
        assert!(Instant::now() < end, "vpnserver not listening after 30 s");
        std::thread::sleep(Duration::from_millis(300));
    }
    let users = vpncmd(&ns, &cmd_dir, &["/ADMINHUB:TEST", "/CMD", "UserList"]);
    for u in ["alice", "bob", "carol", "migrated"] {
        assert!(users.contains(u), "{u} missing:\n{users}");
    }
    let groups = vpncmd(&ns, &cmd_dir, &["/ADMINHUB:TEST", "/CMD", "GroupList"]);
    assert!(groups.contains("staff"), "{groups}");
    let casc = vpncmd(&ns, &cmd_dir, &["/ADMINHUB:TEST", "/CMD", "CascadeList"]);
    assert!(casc.contains("casc1") && casc.contains("casc2"), "{casc}");
    let br = vpncmd(&ns, &cmd_dir, &["/CMD", "BridgeList"]);
    assert!(br.contains("nosuch0") && br.contains("setap"), "{br}");
    vpncmd(&ns, &cmd_dir, &["/CMD", "Flush"]);
    assert!(
        server.stop(Duration::from_secs(20)),
        "vpnserver did not stop on SIGTERM"
    );
    drop(server);
    // vpncmd cannot show the hub message: check the file SoftEther wrote.
    let back = store.load().unwrap().unwrap();
    let hub = back.hub("TEST").unwrap();
    assert_eq!(hub.message.as_deref(), Some("migrated by rustether"));
    assert!(hub.user("migrated").is_some());
    assert!(back.config_revision >= cfg.config_revision);
}
