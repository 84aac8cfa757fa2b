//! Smoke test of the server-bound benchmark tool (`serverbound run`, issue
//! 11 item 3): two encrypted sessions exchange frames through our server's
//! hub, end to end. Not timed: no figure is checked against a threshold,
//! only that frames went through the hub to the right partner.
//!
//! Our `vpnserver` is taken from the same cargo profile directory as the
//! tool (`cargo build --workspace`, as `.ci/run` does, puts both there).

use std::path::Path;
use std::time::Duration;

use rustether_testkit::cmd::run;
use rustether_testkit::netns::{netns_exec, Netns};
use rustether_testkit::prereq::{in_ci, require, skip_log_path, Prereq};
use rustether_testkit::seconfig::{ServerConfigSpec, UserSpec};
use rustether_testkit::server::{Server, ServerKind};
use rustether_testkit::tmp::TestDir;

#[test]
fn serverbound_two_sessions_through_our_hub() {
    if !require(&[Prereq::Netns]) {
        return;
    }
    let tool = env!("CARGO_BIN_EXE_serverbound");
    let ours = Path::new(tool).with_file_name("vpnserver");
    if !ours.is_file() {
        let why = format!(
            "{} missing: build the workspace first (cargo build --workspace)",
            ours.display()
        );
        assert!(!in_ci(), "{why}");
        eprintln!("SKIPPED serverbound_two_sessions_through_our_hub: {why}");
        let _ = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(skip_log_path())
            .and_then(|mut f| {
                use std::io::Write;
                writeln!(
                    f,
                    "serverbound_smoke serverbound_two_sessions_through_our_hub: {why}"
                )
            });
        return;
    }
    let _x = rustether_testkit::exclusive();
    let dir = TestDir::new("serverbound-smoke").unwrap();
    let ns = Netns::new("sbsmoke").unwrap();
    let spec = ServerConfigSpec::with_hub(5555, "DEFAULT", &[UserSpec::new("u1", "sb-smoke")]);
    let server = Server::start(
        &ServerKind::Ours(ours),
        &ns,
        "127.0.0.1".parse().unwrap(),
        5555,
        dir.path(),
        &spec,
    )
    .unwrap();
    let pid = server.pid().to_string();
    let mut cmd = netns_exec(
        ns.name(),
        tool,
        &[
            "run",
            "--server",
            "127.0.0.1",
            "--port",
            "5555",
            "--user",
            "u1",
            "--password",
            "sb-smoke",
            "--sessions",
            "2",
            "--secs",
            "1",
            "--warmup",
            "0.5",
            "--idle-secs",
            "1",
            "--idle-rate",
            "100",
            "--drain-secs",
            "3",
            "--server-pid",
            &pid,
            "--label",
            "ours",
            "--max-time",
            "60",
        ],
    );
    let out = run(&mut cmd, Duration::from_secs(90)).unwrap();
    let line = out
        .stdout
        .lines()
        .rev()
        .find(|l| l.starts_with('{'))
        .unwrap_or_else(|| panic!("no JSON line: {}", out.combined()));
    let v: serde_json::Value = serde_json::from_str(line).unwrap();
    assert!(out.status.success(), "{}\n{line}", out.combined());
    assert_eq!(v["sessions"], 2, "{line}");
    assert_eq!(v["failed_logins"], 0, "{line}");
    assert_eq!(v["session_errors"], 0, "{line}");
    // Frames reached the partner session, none a wrong one.
    assert!(
        v["load_frames_received"].as_u64().unwrap_or(0) > 0,
        "{line}"
    );
    assert_eq!(v["misdelivered_frames"], 0, "{line}");
    assert!(
        v["latency_idle_us"]["samples"].as_u64().unwrap_or(0) > 0,
        "{line}"
    );
    // The server's CPU was read from /proc.
    assert!(v["server_cpu_pct"].as_f64().is_some(), "{line}");
    drop(server);
}
