//! The JSON-RPC web API of our running `vpnserver` (`/api/` on the HTTPS
//! listeners, docs/admin-rpc.md §9), driven with `curl`: authentication headers
//! and HTTP Basic, 401 with `WWW-Authenticate`, CORS, POST and GET calls,
//! the core operations (Test, GetServerInfo, CreateHub, CreateUser,
//! EnumUser, EnumSession, DeleteHub, GetConfig/SetConfig), hub
//! administrators, the local-only rule without a server password, and
//! `DisableJsonRpcWebApi`. Every change is checked in the saved file.
//!
//! Needs root (network namespaces) and `curl` (`testkit::prereq`: skipped
//! visibly and counted without them, failing when `CI` is set).

mod admin_support;

use std::net::SocketAddrV4;

use admin_support::*;
use rustether_testkit::exclusive;
use rustether_testkit::prereq::{require, Prereq};
use rustether_testkit::seconfig::ServerConfigSpec;
use rustether_testkit::sha0::{password_hash, sha0};
use rustether_testkit::t1::{Topology, SERVER_ADDR};
use rustether_testkit::tmp::TestDir;
use serde_json::{json, Value};

const PORT: u16 = 5555;

fn names(list: &Value, key: &str) -> Vec<String> {
    list.as_array()
        .unwrap_or_else(|| panic!("not a list: {list}"))
        .iter()
        .map(|x| x[key].as_str().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn jsonrpc_api_manages_the_running_server() {
    if !require(&[Prereq::Netns, Prereq::Program("curl")]) {
        return;
    }
    let _x = exclusive();
    let dir = TestDir::new("admin-jsonrpc").unwrap();
    let topo = Topology::new(1, false).unwrap();
    let srv_ns = &topo.server;
    let mut server = OurServer::start(
        srv_ns,
        dir.path(),
        "server",
        PORT,
        &config_text(&ServerConfigSpec::with_hub(PORT, "DEFAULT", &[]), true),
    )
    .unwrap();
    let url = format!("https://{}/api/", SocketAddrV4::new(SERVER_ADDR, PORT));
    let local = Api {
        ns: srv_ns,
        url: url.clone(),
    };
    let remote = Api {
        ns: &topo.clients[0],
        url: url.clone(),
    };
    // no server password: any password logs in, from the server itself only
    let admin: &[&str] = &["-H", "X-VPNADMIN-PASSWORD: anything"];

    // --- 401 without credentials, CORS everywhere, OPTIONS
    let h = local.post(&[], "Test", json!({}));
    assert_eq!(h.status, 401, "{h:?}");
    assert!(h
        .header("WWW-Authenticate")
        .is_some_and(|v| v.starts_with("Basic realm=")));
    assert_cors(&h);
    let h = curl(srv_ns, &["-X", "OPTIONS", &url]);
    assert_eq!(h.status, 200, "{h:?}");
    assert_cors(&h);
    assert_eq!(
        remote.post(admin, "Test", json!({})).status,
        401,
        "no server password: not from another machine"
    );

    // --- Test, GetServerInfo
    let r = local.ok(admin, "Test", json!({"IntValue_u32": 12345}));
    assert_eq!(r["StrValue_str"], "12345");
    let r = local.ok(admin, "GetServerInfo", json!({}));
    assert_eq!(r["ServerProductName_str"], "RustEther VPN Server");
    assert_eq!(r["ServerType_u32"], 0);

    // --- CreateHub with a plaintext password; saved at once
    let r = local.ok(
        admin,
        "CreateHub",
        json!({"HubName_str": "JHUB", "AdminPasswordPlainText_str": "hubpw", "Online_bool": true}),
    );
    assert_eq!(r["HubName_str"], "JHUB");
    assert_eq!(
        r["AdminPasswordPlainText_str"], "",
        "plaintexts are not echoed"
    );
    let saved = server.saved_config();
    let hub = saved.hub("JHUB").expect("JHUB saved");
    assert_eq!(hub.hashed_password, sha0(b"hubpw"));
    local.err(admin, "CreateHub", json!({"HubName_str": "jhub"}), 57);
    let r = local.ok(admin, "EnumHub", json!({}));
    assert!(names(&r["HubList"], "HubName_str").contains(&"JHUB".to_owned()));

    // --- CreateUser with a plaintext password, EnumUser, EnumSession
    let r = local.ok(
        admin,
        "CreateUser",
        json!({"HubName_str": "JHUB", "Name_str": "juser", "AuthType_u32": 1,
               "Auth_Password_str": "jpw", "Realname_utf": "J. User"}),
    );
    assert_eq!(r["Name_str"], "juser");
    let saved = server.saved_config();
    let u = saved
        .hub("JHUB")
        .unwrap()
        .user("juser")
        .expect("juser saved");
    assert!(
        matches!(u.auth, rustether_config::UserAuth::Password { hash, .. } if hash == password_hash("juser", "jpw")),
        "{:?}",
        u.auth
    );
    let r = local.ok(admin, "EnumUser", json!({"HubName_str": "JHUB"}));
    assert_eq!(names(&r["UserList"], "Name_str"), vec!["juser"]);
    assert_eq!(r["UserList"][0]["Realname_utf"], "J. User");
    let r = local.ok(admin, "EnumSession", json!({"HubName_str": "JHUB"}));
    assert_eq!(r["SessionList"], json!([]), "{r}");
    local.err(admin, "EnumUser", json!({"HubName_str": "NOPE"}), 8);
    local.err(admin, "NoSuchMethod", json!({}), 33);
    let h = curl(
        srv_ns,
        &[
            "-H",
            "X-VPNADMIN-PASSWORD: x",
            "--data-binary",
            "{not json",
            &url,
        ],
    );
    assert_eq!(h.json()["error"]["code"], 38, "{h:?}");

    // --- GET /api/<Method>?params: text/plain, the id is a time
    let get_url = format!("https://{SERVER_ADDR}:{PORT}/api/EnumUser?HubName_str=JHUB");
    let h = curl(srv_ns, &["-H", "X-VPNADMIN-PASSWORD: x", &get_url]);
    assert_eq!(h.status, 200, "{h:?}");
    assert_eq!(h.header("Content-Type"), Some("text/plain; charset=UTF-8"));
    let v = h.json();
    assert_eq!(names(&v["result"]["UserList"], "Name_str"), vec!["juser"]);
    assert_eq!(v["id"].as_str().map(str::len), Some(23), "{v}");

    // --- keep-alive: two calls on one connection
    let post = r#"{"jsonrpc":"2.0","id":"k","method":"Test","params":{"IntValue_u32":7}}"#;
    let out = rustether_testkit::cmd::run(
        &mut srv_ns.command(
            "curl",
            &[
                "-sk",
                "-m",
                "20",
                "-H",
                "X-VPNADMIN-PASSWORD: x",
                "--data-binary",
                post,
                &url,
                "--next",
                "-sk",
                "-m",
                "20",
                "-H",
                "X-VPNADMIN-PASSWORD: x",
                "--data-binary",
                post,
                "-w",
                "\nconnects=%{num_connects}\n",
                &url,
            ],
        ),
        std::time::Duration::from_secs(30),
    )
    .unwrap();
    assert!(
        out.stdout.contains("connects=0"),
        "second call reuses the connection: {}",
        out.stdout
    );
    assert_eq!(
        out.stdout.matches("\"StrValue_str\": \"7\"").count(),
        2,
        "{}",
        out.stdout
    );

    // --- a server password: remote administration with it, not without
    local.ok(
        admin,
        "SetServerPassword",
        json!({"PlainTextPassword_str": "adminpw"}),
    );
    assert_eq!(
        server.saved_config().server.hashed_password,
        sha0(b"adminpw")
    );
    let pw: &[&str] = &["-H", "X-VPNADMIN-PASSWORD: adminpw"];
    remote.ok(pw, "Test", json!({}));
    remote.ok(&["-u", "administrator:adminpw"], "Test", json!({}));
    assert_eq!(remote.post(admin, "Test", json!({})).status, 401);
    assert_eq!(local.post(admin, "Test", json!({})).status, 401);

    // --- hub administrator (needs a server password: without one, any
    // credentials from the server itself mean the server administrator, as
    // SoftEther): X-VPNADMIN-HUBNAME or Basic, confined to the hub
    let hub_admin: &[&str] = &[
        "-H",
        "X-VPNADMIN-HUBNAME: JHUB",
        "-H",
        "X-VPNADMIN-PASSWORD: hubpw",
    ];
    let r = local.ok(hub_admin, "EnumHub", json!({}));
    assert_eq!(names(&r["HubList"], "HubName_str"), vec!["JHUB"]);
    local.ok(
        &["-u", "JHUB:hubpw"],
        "EnumUser",
        json!({"HubName_str": "JHUB"}),
    );
    local.err(
        hub_admin,
        "GetHubStatus",
        json!({"HubName_str": "DEFAULT"}),
        52,
    );
    local.err(hub_admin, "CreateHub", json!({"HubName_str": "X2"}), 52);
    local.err(hub_admin, "GetConfig", json!({}), 52);

    // --- DeleteHub
    local.ok(pw, "DeleteHub", json!({"HubName_str": "JHUB"}));
    assert!(server.saved_config().hub("JHUB").is_none());
    let r = local.ok(pw, "EnumHub", json!({}));
    assert_eq!(names(&r["HubList"], "HubName_str"), vec!["DEFAULT"]);
    local.err(pw, "DeleteHub", json!({"HubName_str": "JHUB"}), 8);

    // --- audit log with the source address
    let log = server.log();
    for line in [
        "admin: 10.231.0.1 CreateUser hub=JHUB ok (JSON-RPC as server administrator)",
        "admin: 10.231.0.1 GetHubStatus hub=DEFAULT error 52",
        "admin: 10.231.0.11 Test ok (JSON-RPC as server administrator)",
    ] {
        assert!(log.contains(line), "log lacks {line:?}");
    }

    // --- GetConfig / SetConfig through the API: switch the API off
    let r = local.ok(pw, "GetConfig", json!({}));
    let text = String::from_utf8(base64_decode(r["FileData_bin"].as_str().unwrap())).unwrap();
    assert!(text.contains("bool DisableJsonRpcWebApi false"), "{text}");
    let off = text.replace(
        "bool DisableJsonRpcWebApi false",
        "bool DisableJsonRpcWebApi true",
    );
    local.ok(
        pw,
        "SetConfig",
        json!({"FileName_str": "", "FileData_bin": base64_encode(off.as_bytes())}),
    );
    assert!(server.saved_config().server.disable_json_rpc_web_api);
    let h = curl(
        srv_ns,
        &[
            "-H",
            "X-VPNADMIN-PASSWORD: adminpw",
            "--data-binary",
            post,
            &url,
        ],
    );
    assert_eq!(h.status, 403, "the API is off: {h:?}");
    server.ensure_running().unwrap();
}

/// Peak resident set (`VmHWM`, KiB) of each process in `ns`, by pid.
fn peak_rss_kib(ns: &rustether_testkit::netns::Netns) -> Vec<(i32, u64)> {
    ns.pids()
        .into_iter()
        .filter_map(|pid| {
            let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
            let kib = status
                .lines()
                .find_map(|l| l.strip_prefix("VmHWM:"))?
                .trim()
                .trim_end_matches("kB")
                .trim()
                .parse()
                .ok()?;
            Some((pid, kib))
        })
        .collect()
}

/// Issue 9, the JSON-RPC array bomb: `params` with an array of 100 000
/// objects, each with a key of its own (1.6 MB). The old collector made an
/// element of 100 000 values per key (hundreds of GiB, the server dies).
/// Now it is answered with error 38 while the server's peak RSS grows by
/// less than 256 MiB, and the server keeps answering.
#[test]
fn jsonrpc_array_bomb_is_refused_within_a_memory_bound() {
    if !require(&[Prereq::Netns, Prereq::Program("curl")]) {
        return;
    }
    let _x = exclusive();
    let dir = TestDir::new("admin-jsonrpc-bomb").unwrap();
    let topo = Topology::new(1, false).unwrap();
    let srv_ns = &topo.server;
    let mut server = OurServer::start(
        srv_ns,
        dir.path(),
        "server",
        PORT,
        &config_text(&ServerConfigSpec::with_hub(PORT, "DEFAULT", &[]), true),
    )
    .unwrap();
    let url = format!("https://{}/api/", SocketAddrV4::new(SERVER_ADDR, PORT));
    let api = Api {
        ns: srv_ns,
        url: url.clone(),
    };
    let admin: &[&str] = &["-H", "X-VPNADMIN-PASSWORD: anything"];
    api.ok(admin, "Test", json!({"IntValue_u32": 1}));
    let before = peak_rss_kib(srv_ns);
    assert!(!before.is_empty(), "no process in the server namespace");

    let mut body = String::from(
        r#"{"jsonrpc":"2.0","id":"bomb","method":"EnumSession","params":{"HubName_str":"DEFAULT","a":["#,
    );
    for i in 0..100_000 {
        if i > 0 {
            body.push(',');
        }
        body.push_str(&format!(r#"{{"k{i}_u32":1}}"#));
    }
    body.push_str("]}}");
    assert!(body.len() > 1_500_000);
    let file = dir.path().join("bomb.json");
    std::fs::write(&file, &body).unwrap();
    let data = format!("@{}", file.display());
    let h = curl(
        srv_ns,
        &[
            "-H",
            "X-VPNADMIN-PASSWORD: anything",
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &data,
            &url,
        ],
    );
    assert_eq!(h.status, 200, "{h:?}");
    let v = h.json();
    assert_eq!(v["id"], "bomb", "{v}");
    assert_eq!(v["error"]["code"], 38, "{v}");

    let after = peak_rss_kib(srv_ns);
    for (pid, peak) in &after {
        let base = before.iter().find(|(p, _)| p == pid).map_or(0, |(_, k)| *k);
        assert!(
            peak.saturating_sub(base) < 256 * 1024,
            "pid {pid}: peak RSS grew from {base} KiB to {peak} KiB"
        );
    }
    // still serving
    api.ok(admin, "Test", json!({"IntValue_u32": 2}));
    server.ensure_running().unwrap();
    assert!(server.log().contains("params refused"), "no log line");
}
