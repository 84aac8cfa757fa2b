//! The real SoftEther `vpncmd` 5.01 against a minimal admin server built
//! from this crate (login, framing, dispatcher, in-memory backend) plus
//! rustls and the proto crate's HTTP subset. Proves that vpncmd accepts our
//! PACKs and records what it prints.
//!
//! Needs root (a private network namespace with only loopback and a private
//! mount namespace for vpncmd's state directories) and vpncmd at
//! `/usr/libexec/softether/vpncmd/vpncmd` (or under
//! `$RUSTETHER_SOFTETHER_DIR`): `rustether_testkit::prereq` skips the test
//! visibly (and counts it) without them, and fails it when `CI` is set.
//!
//! The login throttle runs on a clock the test advances itself, so the
//! lockout is shown without timing anything.

use std::io::{Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use rustether_admin::framing::{encode_frame, error_response, RpcFrameDecoder, RpcRequest};
use rustether_admin::login::{
    login_error_pack, verify_admin_login, AdminLoginRequest, HubAdminEntry, LoginSource,
};
use rustether_admin::memory::MemoryBackend;
use rustether_admin::rpc::{EnumSessionItem, KeyPair};
use rustether_admin::throttle::{
    admin_account, Admission, LoginThrottle, ThrottlePolicy, THROTTLED_ERROR,
};
use rustether_admin::{dispatch, Caller};
use rustether_proto::http::{write_response, HttpMessage, HttpParser, CONTENT_TYPE_PACK};
use rustether_proto::password::{hash_password, nt_password_hash};
use rustether_proto::watermark::is_vpn_signature;
use rustether_proto::Pack;
use rustether_testkit::prereq::{require, Prereq};

type Tls = rustls::StreamOwned<rustls::ServerConnection, TcpStream>;

struct Shared {
    backend: Mutex<MemoryBackend>,
    throttle: Mutex<LoginThrottle>,
    /// The throttle's "now": moved forward only by the test.
    clock: Mutex<Instant>,
    stop: AtomicBool,
    connections: std::sync::atomic::AtomicU32,
}

fn read_http(tls: &mut Tls, buf: &mut BytesMut, parser: &mut HttpParser) -> Option<HttpMessage> {
    loop {
        if let Some(m) = parser.parse(buf).ok()? {
            return Some(m);
        }
        let mut tmp = [0u8; 16384];
        let n = tls.read(&mut tmp).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
}

fn send_pack(tls: &mut Tls, p: &Pack) -> Option<()> {
    let mut out = Vec::new();
    write_response(
        &mut out,
        200,
        "OK",
        &[
            ("Content-Type", CONTENT_TYPE_PACK),
            ("Connection", "Keep-Alive"),
        ],
        &p.encode(),
    );
    tls.write_all(&out).ok()?;
    tls.flush().ok()
}

/// One admin connection: signature, hello, login, then framed RPC.
fn serve(mut tls: Tls, peer: IpAddr, shared: &Shared) -> Option<()> {
    let mut buf = BytesMut::new();
    let mut parser = HttpParser::new(65536);
    let sig = read_http(&mut tls, &mut buf, &mut parser)?;
    if !is_vpn_signature(&sig.body) {
        return None;
    }
    // a fresh challenge per connection (the server would use a CSPRNG)
    let n = shared.connections.fetch_add(1, Ordering::SeqCst);
    let random: [u8; 20] = std::array::from_fn(|i| (i as u8).wrapping_mul(37) ^ (n as u8));
    let mut hello = Pack::new();
    hello.add_str("hello", "RustEther admin interop test server");
    hello.add_int("version", 501);
    hello.add_int("build", 9674);
    hello.add_data("random", &random);
    send_pack(&mut tls, &hello)?;
    let auth = read_http(&mut tls, &mut buf, &mut parser)?;
    let auth = Pack::decode(&auth.body).ok()?;
    if auth.get_str("method") != Some("admin") {
        return None;
    }
    let now = *shared.clock.lock().unwrap();
    let account = admin_account(
        AdminLoginRequest::from_pack(&auth)
            .ok()
            .and_then(|r| r.hub_name)
            .as_deref(),
    );
    let admitted = shared.throttle.lock().unwrap().check(peer, &account, now);
    let result = match admitted {
        Admission::Throttled { .. } => Err(THROTTLED_ERROR),
        Admission::Allowed => AdminLoginRequest::from_pack(&auth).and_then(|req| {
            let b = shared.backend.lock().unwrap();
            let lookup = |name: &str| {
                b.hub(name).map(|h| HubAdminEntry {
                    name: h.hub.fields.hub_name.clone(),
                    hashed_password: h.hub.fields.hashed_password,
                })
            };
            let source = LoginSource {
                peer,
                local_addrs: &[],
                trust_local: true,
            };
            verify_admin_login(&req, &random, &b.server_password, lookup, source)
        }),
    };
    let ok = match result {
        Ok(ok) => {
            shared
                .throttle
                .lock()
                .unwrap()
                .record_success(peer, &account);
            send_pack(&mut tls, &ok.to_pack())?;
            ok
        }
        Err(e) => {
            if admitted == Admission::Allowed {
                shared
                    .throttle
                    .lock()
                    .unwrap()
                    .record_failure(peer, &account, now);
            }
            send_pack(&mut tls, &login_error_pack(e))?;
            return Some(());
        }
    };
    let caller = Caller {
        rights: ok.rights,
        from_local: true,
    };
    let mut frames = RpcFrameDecoder::default();
    loop {
        let pack = loop {
            if let Some(p) = frames.decode(&mut buf).ok()? {
                break p;
            }
            let mut tmp = [0u8; 16384];
            let n = tls.read(&mut tmp).ok()?;
            if n == 0 {
                return Some(());
            }
            buf.extend_from_slice(&tmp[..n]);
        };
        let response = match RpcRequest::from_pack(pack) {
            Ok(req) => {
                let mut b = shared.backend.lock().unwrap();
                dispatch(&mut *b, &caller, &req.function, &req.pack)
            }
            Err(e) => error_response(e),
        };
        let mut out = BytesMut::new();
        encode_frame(&response, &mut out);
        tls.write_all(&out).ok()?;
        tls.flush().ok()?;
    }
}

/// Private mount namespace with vpncmd's state directories on a temp dir
/// (the technique of the project's lab scripts).
const INST_SH: &str = r#"
d=$1; shift
for m in lib:/var/lib/softether run:/run/softether log:/var/log/softether; do
    src=$d/${m%%:*}; dst=${m#*:}
    mkdir -p "$src" "$dst" || exit 97
    mount --bind "$src" "$dst" || exit 97
done
cd "$d" || exit 97
exec "$@""#;

struct Vpncmd<'a> {
    exe: &'a Path,
    dir: &'a Path,
    addr: SocketAddr,
}

impl Vpncmd<'_> {
    /// Runs vpncmd with `args` (after `host:port /SERVER`); stdin closed,
    /// 30 s limit. Returns (exit status, output from the command prompt on).
    fn run(&self, args: &[&str]) -> (i32, String) {
        let out = Command::new("timeout")
            .arg("30")
            .args([
                "unshare",
                "-m",
                "--propagation",
                "private",
                "/bin/sh",
                "-c",
                INST_SH,
                "sh",
            ])
            .arg(self.dir)
            .arg(self.exe)
            .arg(self.addr.to_string())
            .arg("/SERVER")
            .args(args)
            .stdin(std::process::Stdio::null())
            .output()
            .expect("run vpncmd");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let start = text.find("All rights reserved.").map_or(0, |i| i + 20);
        (out.status.code().unwrap_or(-1), text[start..].to_owned())
    }
}

fn row<'a>(out: &'a str, item: &str) -> Option<&'a str> {
    out.lines()
        .find(|l| l.split('|').next().is_some_and(|k| k.trim_end() == item))
        .and_then(|l| l.split_once('|'))
        .map(|(_, v)| v.trim())
}

#[test]
fn real_vpncmd_against_our_admin_layer() {
    if !require(&[Prereq::Root, Prereq::SoftEther, Prereq::Program("ip")]) {
        return;
    }
    let exe = rustether_testkit::softether::program("vpncmd");
    // Everything runs on a thread inside its own network namespace (only
    // loopback, no route anywhere); threads and processes it starts inherit it.
    let handle = std::thread::spawn(move || {
        nix::sched::unshare(nix::sched::CloneFlags::CLONE_NEWNET).expect("unshare(CLONE_NEWNET)");
        let st = Command::new("ip")
            .args(["link", "set", "lo", "up"])
            .status()
            .expect("ip");
        assert!(st.success());
        run_scenario(&exe);
    });
    handle.join().expect("scenario thread");
}

fn run_scenario(exe: &Path) {
    let dir = std::env::temp_dir().join(format!("rustether-admin-vpncmd-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    struct Cleanup(PathBuf);
    impl Drop for Cleanup {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
    let _cleanup = Cleanup(dir.clone());

    let ck = rcgen::generate_simple_self_signed(vec!["localhost".to_owned()]).unwrap();
    let cert_der = ck.cert.der().to_vec();
    let key_der = ck.key_pair.serialize_der();
    let config = Arc::new(
        rustls::ServerConfig::builder_with_provider(Arc::new(
            rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert_der.clone().into()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key_der.clone().into()),
        )
        .unwrap(),
    );

    let mut backend = MemoryBackend::new("adminpw");
    backend.cert = KeyPair {
        cert: Some(cert_der),
        key: Some(key_der),
        ..KeyPair::default()
    };
    let shared = Arc::new(Shared {
        backend: Mutex::new(backend),
        throttle: Mutex::new(LoginThrottle::default()),
        clock: Mutex::new(Instant::now()),
        stop: AtomicBool::new(false),
        connections: std::sync::atomic::AtomicU32::new(0),
    });
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = {
        let shared = shared.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                let Ok(stream) = stream else { continue };
                let peer = stream
                    .peer_addr()
                    .map(|a| a.ip())
                    .unwrap_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED));
                let _ = stream.set_read_timeout(Some(Duration::from_secs(30)));
                let conn = rustls::ServerConnection::new(config.clone()).unwrap();
                serve(rustls::StreamOwned::new(conn, stream), peer, &shared);
            }
        })
    };
    let v = Vpncmd {
        exe,
        dir: &dir,
        addr,
    };
    let pw = "/PASSWORD:adminpw";
    let ok = "The command completed successfully.";

    // connect sequence + ServerInfoGet
    let (rc, out) = v.run(&[pw, "/CMD", "ServerInfoGet"]);
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains("You have administrator privileges for the entire VPN Server."),
        "{out}"
    );
    assert_eq!(
        row(&out, "Product Name"),
        Some("RustEther VPN Server (memory backend)"),
        "{out}"
    );
    assert_eq!(row(&out, "Server Type"), Some("Standalone Server"), "{out}");

    // wrong password: error 9, vpncmd exits instead of prompting
    let (rc, out) = v.run(&["/PASSWORD:wrong", "/CMD", "HubList"]);
    assert_eq!(rc, 9, "{out}");
    assert!(out.contains("Error occurred. (Error code: 9)"), "{out}");

    // HubCreate, HubList
    let (rc, out) = v.run(&[pw, "/CMD", "HubCreate", "TEST", "/PASSWORD:hubpw"]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains(ok));
    let (rc, out) = v.run(&[pw, "/CMD", "HubCreate", "TEST", "/PASSWORD:hubpw"]);
    assert_eq!(rc, 57, "{out}");
    let (rc, out) = v.run(&[pw, "/CMD", "HubList"]);
    assert_eq!(rc, 0, "{out}");
    assert_eq!(row(&out, "Virtual Hub Name"), Some("TEST"), "{out}");
    assert_eq!(row(&out, "Status"), Some("Online"), "{out}");
    assert_eq!(row(&out, "Type"), Some("Standalone"), "{out}");

    // users through /ADMINHUB (GetHubStatus), password hashes as vpncmd computes them
    let hub = "/ADMINHUB:TEST";
    let (rc, out) = v.run(&[
        pw,
        hub,
        "/CMD",
        "UserCreate",
        "alice",
        "/GROUP:none",
        "/REALNAME:none",
        "/NOTE:none",
    ]);
    assert_eq!(rc, 0, "{out}");
    let (rc, out) = v.run(&[
        pw,
        hub,
        "/CMD",
        "UserPasswordSet",
        "alice",
        "/PASSWORD:Secret1",
    ]);
    assert_eq!(rc, 0, "{out}");
    {
        let b = shared.backend.lock().unwrap();
        let u = &b.hub("TEST").unwrap().users["alice"];
        assert_eq!(
            u.auth,
            rustether_admin::rpc::UserAuth::Password {
                hash: hash_password("alice", "Secret1"),
                nt_hash: Some(nt_password_hash("Secret1")),
            }
        );
    }
    let (rc, out) = v.run(&[pw, hub, "/CMD", "UserList"]);
    assert_eq!(rc, 0, "{out}");
    assert_eq!(row(&out, "User Name"), Some("alice"), "{out}");
    assert_eq!(
        row(&out, "Auth Method"),
        Some("Password Authentication"),
        "{out}"
    );
    let (rc, out) = v.run(&[pw, hub, "/CMD", "UserGet", "alice"]);
    assert_eq!(rc, 0, "{out}");
    assert_eq!(row(&out, "User Name"), Some("alice"), "{out}");
    let (rc, _) = v.run(&[pw, hub, "/CMD", "UserGet", "nobody"]);
    assert_eq!(rc, 29);
    let (rc, out) = v.run(&[pw, "/ADMINHUB:NOPE", "/CMD", "UserList"]);
    assert_eq!(rc, 38, "hub not selected: {out}");

    // hub administrator login and rights
    let (rc, out) = v.run(&["/HUB:TEST", "/PASSWORD:hubpw", "/CMD", "UserList"]);
    assert_eq!(rc, 0, "{out}");
    assert!(
        out.contains("You have administrator privileges for Virtual Hub 'TEST'"),
        "{out}"
    );
    let (rc, out) = v.run(&[
        "/HUB:TEST",
        "/PASSWORD:hubpw",
        "/CMD",
        "HubCreate",
        "X2",
        "/PASSWORD:a",
    ]);
    assert_eq!(rc, 52, "{out}");
    let (rc, out) = v.run(&["/HUB:NOPE", "/PASSWORD:x", "/CMD", "UserList"]);
    assert_eq!(rc, 8, "{out}");

    // sessions: a session of the in-memory hub
    shared
        .backend
        .lock()
        .unwrap()
        .hubs
        .get_mut("test")
        .unwrap()
        .sessions
        .push(EnumSessionItem {
            name: "SID-BOB-1".into(),
            username: "bob".into(),
            ip: Ipv4Addr::new(192, 0, 2, 7),
            client_ip: Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7))),
            hostname: "192.0.2.7".into(),
            max_num_tcp: 8,
            current_num_tcp: 2,
            ..EnumSessionItem::default()
        });
    let (rc, out) = v.run(&[pw, hub, "/CMD", "SessionList"]);
    assert_eq!(rc, 0, "{out}");
    assert_eq!(row(&out, "Session Name"), Some("SID-BOB-1"), "{out}");
    assert_eq!(row(&out, "User Name"), Some("bob"), "{out}");
    assert_eq!(row(&out, "Source Host Name"), Some("192.0.2.7"), "{out}");
    assert_eq!(row(&out, "TCP Connections"), Some("2 / 8"), "{out}");
    let (rc, out) = v.run(&[pw, hub, "/CMD", "SessionGet", "SID-BOB-1"]);
    assert_eq!(rc, 0, "{out}");
    assert_eq!(row(&out, "Client IP Address"), Some("192.0.2.7"), "{out}");
    let (rc, out) = v.run(&[pw, hub, "/CMD", "SessionDisconnect", "SID-BOB-1"]);
    assert_eq!(rc, 0, "{out}");
    let (rc, _) = v.run(&[pw, hub, "/CMD", "SessionDisconnect", "SID-BOB-1"]);
    assert_eq!(rc, 29);

    // listeners
    let (rc, out) = v.run(&[pw, "/CMD", "ListenerCreate", "5556"]);
    assert_eq!(rc, 0, "{out}");
    let (rc, out) = v.run(&[pw, "/CMD", "ListenerDisable", "5556"]);
    assert_eq!(rc, 0, "{out}");
    let (rc, out) = v.run(&[pw, "/CMD", "ListenerList"]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("TCP 5555   |Listening"), "{out}");
    assert!(out.contains("TCP 5556   |Stopped"), "{out}");
    let (rc, _) = v.run(&[pw, "/CMD", "ListenerCreate", "5556"]);
    assert_eq!(rc, 54);
    let (rc, _) = v.run(&[pw, "/CMD", "ListenerDelete", "5557"]);
    assert_eq!(rc, 53);

    // local bridges
    let (rc, out) = v.run(&[
        pw,
        "/CMD",
        "BridgeCreate",
        "TEST",
        "/DEVICE:lanbr",
        "/TAP:yes",
    ]);
    assert_eq!(rc, 0, "{out}");
    let (rc, out) = v.run(&[pw, "/CMD", "BridgeList"]);
    assert_eq!(rc, 0, "{out}");
    assert!(out.contains("|TEST            |lanbr "), "{out}");
    let (rc, out) = v.run(&[pw, "/CMD", "BridgeDeviceList"]);
    assert_eq!(rc, 0, "{out}");
    let (rc, out) = v.run(&[pw, "/CMD", "BridgeDelete", "TEST", "/DEVICE:lanbr"]);
    assert_eq!(rc, 0, "{out}");

    // cascades
    let (rc, out) = v.run(&[
        pw,
        hub,
        "/CMD",
        "CascadeCreate",
        "l1",
        "/SERVER:192.0.2.1:443",
        "/HUB:REMOTE",
        "/USERNAME:u",
    ]);
    assert_eq!(rc, 0, "{out}");
    let (rc, out) = v.run(&[pw, hub, "/CMD", "CascadeList"]);
    assert_eq!(rc, 0, "{out}");
    assert_eq!(row(&out, "Setting Name"), Some("l1"), "{out}");
    assert_eq!(
        row(&out, "Destination VPN Server"),
        Some("192.0.2.1"),
        "{out}"
    );
    let (rc, out) = v.run(&[pw, hub, "/CMD", "CascadeStatusGet", "l1"]);
    assert_eq!(rc, 61, "{out}");
    let (rc, out) = v.run(&[
        pw,
        hub,
        "/CMD",
        "CascadePasswordSet",
        "l1",
        "/PASSWORD:pp",
        "/TYPE:standard",
    ]);
    assert_eq!(rc, 0, "{out}");
    {
        let b = shared.backend.lock().unwrap();
        let l = &b.hub("TEST").unwrap().links["l1"];
        assert_eq!(l.auth.auth_type, 1);
        assert_eq!(l.auth.hashed_password, hash_password("u", "pp"));
    }
    let (rc, _) = v.run(&[pw, hub, "/CMD", "CascadeOnline", "l1"]);
    assert_eq!(rc, 0);
    let (rc, _) = v.run(&[pw, hub, "/CMD", "CascadeOffline", "l1"]);
    assert_eq!(rc, 0);
    let (rc, _) = v.run(&[pw, hub, "/CMD", "CascadeDelete", "l1"]);
    assert_eq!(rc, 0);
    let (rc, _) = v.run(&[pw, hub, "/CMD", "CascadeDelete", "l1"]);
    assert_eq!(rc, 29);

    // hub online state, keep-alive, config, flush
    let (rc, _) = v.run(&[pw, hub, "/CMD", "Offline"]);
    assert_eq!(rc, 0);
    assert!(
        !shared
            .backend
            .lock()
            .unwrap()
            .hub("TEST")
            .unwrap()
            .hub
            .fields
            .online
    );
    let (rc, _) = v.run(&[pw, hub, "/CMD", "Online"]);
    assert_eq!(rc, 0);
    shared.backend.lock().unwrap().keep.use_keep_connect = true;
    let (rc, out) = v.run(&[pw, "/CMD", "KeepDisable"]);
    assert_eq!(rc, 0, "{out}");
    assert!(!shared.backend.lock().unwrap().keep.use_keep_connect);
    let (rc, out) = v.run(&[pw, "/CMD", "Flush"]);
    assert_eq!(rc, 0, "{out}");
    let size = shared.backend.lock().unwrap().config.len();
    assert!(
        out.contains(&format!("Saving completed. The file size is {size} bytes.")),
        "{out}"
    );
    let (rc, out) = v.run(&[pw, "/CMD", "ConfigGet", "got.config"]);
    assert_eq!(rc, 0, "{out}");
    let got = std::fs::read(dir.join("got.config")).unwrap();
    assert_eq!(got, shared.backend.lock().unwrap().config);
    std::fs::write(
        dir.join("new.config"),
        b"\xef\xbb\xbfdeclare root\r\n{\r\n\tuint ConfigRevision 7\r\n}\r\n",
    )
    .unwrap();
    let (rc, out) = v.run(&[pw, "/CMD", "ConfigSet", "new.config"]);
    assert_eq!(rc, 0, "{out}");
    assert!(
        String::from_utf8_lossy(&shared.backend.lock().unwrap().config)
            .contains("ConfigRevision 7")
    );
    let (rc, out) = v.run(&[pw, "/CMD", "ServerStatusGet"]);
    assert_eq!(rc, 0, "{out}");
    assert_eq!(row(&out, "Number of Virtual Hubs"), Some("1"), "{out}");

    // HubDelete, then the server password, then throttling
    let (rc, _) = v.run(&[pw, "/CMD", "HubDelete", "TEST"]);
    assert_eq!(rc, 0);
    let (rc, _) = v.run(&[pw, "/CMD", "HubDelete", "TEST"]);
    assert_eq!(rc, 8);
    let (rc, _) = v.run(&[pw, "/CMD", "ServerPasswordSet", "newpw"]);
    assert_eq!(rc, 0);
    for _ in 0..3 {
        let (rc, _) = v.run(&["/PASSWORD:adminpw", "/CMD", "HubList"]);
        assert_eq!(rc, 9);
    }
    // Locked out now (the clock stands still): even the right password is
    // refused, with the error vpncmd shows for a wrong one.
    let lockout = ThrottlePolicy::default().delay_after(3);
    assert!(!lockout.is_zero());
    let (rc, _) = v.run(&["/PASSWORD:newpw", "/CMD", "HubList"]);
    assert_eq!(rc, 9);
    // Just before the lockout ends: still refused.
    *shared.clock.lock().unwrap() += lockout - Duration::from_millis(1);
    let (rc, _) = v.run(&["/PASSWORD:newpw", "/CMD", "HubList"]);
    assert_eq!(rc, 9);
    // Once it ended: the right password works again.
    *shared.clock.lock().unwrap() += Duration::from_millis(1);
    let (rc, out) = v.run(&["/PASSWORD:newpw", "/CMD", "HubList"]);
    assert_eq!(rc, 0, "{out}");

    shared.stop.store(true, Ordering::SeqCst);
    let _ = TcpStream::connect(addr);
    server.join().unwrap();
}
