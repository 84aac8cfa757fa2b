//! Operating modes of the built `vpnserver` and `vpnbridge` programs (issue
//! "Operating modes from the manuals"): User Mode start/stop/status, the
//! execsvc supervisor and worker, restarts without refused connections,
//! single instance, unprivileged ports, corrupt configuration, systemd unit,
//! foreground mode with sd_notify, socket activation and `--user`.
//!
//! Every test has its own state directory and ports (20000 + 10·N, shifted
//! by 1000s when taken), kills what it started by pid when it ends, and
//! bounds every wait. Tests binding ports below 1024 or switching users run
//! in a network namespace of their own and need root (and setpriv, vpncmd,
//! systemd-analyze where used): `testkit::prereq` skips them visibly and
//! counts them without, and fails them when `CI` is set.

mod svc_support;

use std::os::fd::AsRawFd;
use std::os::unix::net::UnixDatagram;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustether_config::Edition;
use rustether_testkit::prereq::{require, Prereq};
use svc_support::*;

const T: Duration = Duration::from_secs(10);

fn title(e: Edition) -> &'static str {
    e.title()
}

// ------------------------------------------------------------ start / stop

fn start_status_stop(e: Edition, base: u16) {
    let ports = free_ports(base, 2);
    let mut inst = Instance::new(e, "basic", &ports);
    let (sup, wrk) = inst.start_ok();

    // The launcher returned only once the worker accepts.
    assert!(
        accepts(ports[0]) && accepts(ports[1]),
        "ports must accept right after start returned"
    );

    // Two processes, both "<program> execsvc", the worker a child of the
    // supervisor, the supervisor detached into its own session.
    for pid in [sup, wrk] {
        assert!(alive(pid));
        let cl = cmdline(pid);
        assert_eq!(cl.len(), 2, "cmdline of {pid}: {cl:?}");
        assert!(cl[0].ends_with(e.program_name()), "{cl:?}");
        assert_eq!(cl[1], "execsvc");
        assert_eq!(comm(pid), e.program_name());
    }
    assert_eq!(proc_ppid(wrk), Some(sup));
    assert_eq!(
        proc_sid(sup),
        Some(sup),
        "the supervisor must lead its own session (setsid)"
    );
    assert_ne!(proc_sid(sup), proc_sid(std::process::id()));

    // status
    let r = inst.run(&["status"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(
        r.stdout
            .contains(&format!("The {} service is running.", title(e))),
        "{r:?}"
    );
    assert!(
        r.stdout.contains(&format!("Supervisor pid:   {sup}")),
        "{r:?}"
    );
    assert!(
        r.stdout.contains(&format!("Worker pid:       {wrk}")),
        "{r:?}"
    );
    assert!(
        r.stdout.contains(&ports[0].to_string()) && r.stdout.contains("Uptime:"),
        "{r:?}"
    );

    // stop
    inst.stop_ok();
    assert!(
        !alive(sup) && !alive(wrk),
        "both processes must be gone after stop"
    );
    assert!(!inst.pid_path().exists(), "pid file must be removed");
    assert!(inst.lock_path().exists(), "the lock file is permanent");
    assert!(!accepts(ports[0]));

    // stop again: not running, non-zero, message
    let r = inst.run(&["stop"]);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.stderr.contains("has not yet been started"), "{r:?}");
    let r = inst.run(&["status"]);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.stdout.contains("is not running"), "{r:?}");
}

#[test]
fn server_start_status_stop() {
    start_status_stop(Edition::Server, 20000);
}

#[test]
fn bridge_start_status_stop() {
    start_status_stop(Edition::Bridge, 20010);
}

#[test]
fn usage_and_exit_codes() {
    for e in [Edition::Server, Edition::Bridge] {
        let r = run_bounded(Command::new(bin(e)), T);
        assert_eq!(r.code, Some(0));
        assert!(
            r.stdout
                .starts_with(&format!("{} service program\n", title(e))),
            "{r:?}"
        );
        let n = e.program_name();
        assert!(
            r.stdout
                .contains(&format!("{n} command usage:\n {n} start ")),
            "{r:?}"
        );
        let mut c = Command::new(bin(e));
        c.arg("frobnicate");
        let r = run_bounded(c, T);
        assert_eq!(r.code, Some(2), "{r:?}");
        assert!(
            r.stderr.contains("frobnicate") && r.stderr.contains("command usage"),
            "{r:?}"
        );
    }
    // Commands are case-insensitive, like SoftEther's.
    let d = temp_dir("usage");
    let mut c = Command::new(bin(Edition::Server));
    c.args(["STATUS", "--dir"]).arg(&d.0);
    let r = run_bounded(c, T);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert!(r.stdout.contains("is not running"), "{r:?}");
}

#[test]
fn stop_when_not_running_fails_with_message() {
    let mut inst = Instance::new(Edition::Server, "notrunning", &[20020]);
    let r = inst.run(&["stop"]);
    assert_eq!(r.code, Some(3), "{r:?}");
    assert_eq!(
        r.stderr.trim(),
        "RustEther VPN Server service has not yet been started.\nRun the \"vpnserver start\" command to start this service."
    );
}

// ------------------------------------------------------------ restarts

fn kill_worker_restarts_without_refusing(e: Edition, base: u16) {
    let ports = free_ports(base, 1);
    let port = ports[0];
    let mut inst = Instance::new(e, "killworker", &ports);
    let (sup, w1) = inst.start_ok();

    // A client connects in a loop across the restart. Only ECONNREFUSED
    // means "refused" (the listening socket was closed); a connect that
    // times out on a loaded machine says nothing about the restart and is
    // counted apart.
    let stop = Arc::new(AtomicBool::new(false));
    let ok = Arc::new(AtomicU32::new(0));
    let refused = Arc::new(AtomicU32::new(0));
    let other = Arc::new(AtomicU32::new(0));
    let h = {
        let (stop, ok, refused, other) = (stop.clone(), ok.clone(), refused.clone(), other.clone());
        std::thread::spawn(move || {
            // Overall bound of the loop (the test stops it long before).
            let end = Instant::now() + Duration::from_secs(120);
            while !stop.load(Ordering::SeqCst) && Instant::now() < end {
                match connect(port) {
                    Ok(_) => ok.fetch_add(1, Ordering::SeqCst),
                    Err(err) if err.raw_os_error() == Some(libc::ECONNREFUSED) => {
                        eprintln!("connect: refused: {err}");
                        refused.fetch_add(1, Ordering::SeqCst)
                    }
                    Err(err) => {
                        eprintln!("connect: {err} (not a refusal)");
                        other.fetch_add(1, Ordering::SeqCst)
                    }
                };
            }
        })
    };
    // The loop runs against the first worker before it is killed.
    assert!(
        wait_until(T, || ok.load(Ordering::SeqCst) > 0),
        "no connection succeeded before the restart"
    );
    rustether_testkit::process::kill_pid(w1 as i32, libc::SIGKILL);
    let mut w2 = None;
    assert!(
        wait_until(T, || {
            w2 = inst.pids().1.filter(|&p| p != w1 && alive(p));
            w2.is_some()
        }),
        "no new worker appeared"
    );
    inst.track_pids();
    let w2 = w2.unwrap();
    assert!(alive(sup), "the supervisor survives");
    assert_eq!(proc_ppid(w2), Some(sup));
    assert!(wait_until(T, || inst
        .log_text()
        .contains(&format!("worker (pid {w2}) accepts connections"))));
    // The loop also succeeds against the new worker.
    let at_restart = ok.load(Ordering::SeqCst);
    assert!(
        wait_until(T, || ok.load(Ordering::SeqCst) > at_restart),
        "no connection succeeded after the restart"
    );
    stop.store(true, Ordering::SeqCst);
    h.join().unwrap();
    assert!(accepts(port));
    let (ok, refused, other) = (
        ok.load(Ordering::SeqCst),
        refused.load(Ordering::SeqCst),
        other.load(Ordering::SeqCst),
    );
    assert_eq!(
        refused, 0,
        "connections were refused (ECONNREFUSED) during the restart ({ok} succeeded)"
    );
    eprintln!("{ok} connections across the restart, none refused ({other} other errors)");
    assert!(inst.log_text().contains(&format!(
        "worker (pid {w1}) was killed by SIGKILL; restarting it now"
    )));
    inst.stop_ok();
    assert!(!alive(w2) && !alive(sup));
}

#[test]
fn server_kill_worker_restarts_without_refusing() {
    kill_worker_restarts_without_refusing(Edition::Server, 20030);
}

#[test]
fn bridge_kill_worker_restarts_without_refusing() {
    kill_worker_restarts_without_refusing(Edition::Bridge, 20040);
}

#[test]
fn kill_supervisor_then_worker_nothing_restarts() {
    let ports = free_ports(20050, 1);
    let mut inst = Instance::new(Edition::Server, "killsup", &ports);
    let (sup, wrk) = inst.start_ok();
    rustether_testkit::process::kill_pid(sup as i32, libc::SIGKILL);
    assert!(wait_until(T, || !alive(sup)));
    // The orphaned worker keeps serving (as the manual describes) and keeps
    // the instance locked: a second start must fail.
    std::thread::sleep(Duration::from_millis(200));
    assert!(alive(wrk));
    assert!(accepts(ports[0]));
    let r = inst.run(&["start"]);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(r.stderr.contains("already started"), "{r:?}");
    rustether_testkit::process::kill_pid(wrk as i32, libc::SIGKILL);
    assert!(wait_until(T, || !alive(wrk)));
    std::thread::sleep(Duration::from_millis(500));
    let r = inst.run(&["status"]);
    assert_eq!(r.code, Some(3), "nothing may come back: {r:?}");
    assert!(!accepts(ports[0]));
    // The stale pid file does not confuse stop.
    let r = inst.run(&["stop"]);
    assert_eq!(r.code, Some(3), "{r:?}");
}

#[test]
fn term_to_supervisor_stops_both() {
    let ports = free_ports(20060, 1);
    let mut inst = Instance::new(Edition::Server, "termsup", &ports);
    let (sup, wrk) = inst.start_ok();
    let t0 = Instant::now();
    rustether_testkit::process::kill_pid(sup as i32, libc::SIGTERM);
    assert!(
        wait_until(T, || !alive(sup) && !alive(wrk)),
        "both must exit after TERM to the supervisor"
    );
    eprintln!("TERM to exit of both: {:?}", t0.elapsed());
    assert!(!inst.pid_path().exists());
    let log = inst.log_text();
    assert!(
        log.contains("SIGTERM received: stopping the service"),
        "{log}"
    );
    assert!(!log.contains("restarting it"), "{log}");
}

#[test]
fn term_to_worker_ends_supervisor_without_restart() {
    let ports = free_ports(20070, 1);
    let mut inst = Instance::new(Edition::Bridge, "termwrk", &ports);
    let (sup, wrk) = inst.start_ok();
    rustether_testkit::process::kill_pid(wrk as i32, libc::SIGTERM);
    assert!(
        wait_until(T, || !alive(sup) && !alive(wrk)),
        "TERM to the worker: clean end, no restart"
    );
    assert!(!inst.log_text().contains("restarting it"));
    assert!(!inst.pid_path().exists());
}

#[test]
fn start_twice_second_fails_first_stays_healthy() {
    let ports = free_ports(20080, 1);
    let mut inst = Instance::new(Edition::Server, "twice", &ports);
    let (sup, wrk) = inst.start_ok();
    for _ in 0..2 {
        // SoftEther 5.01 let the third start through (it unlinked the lock).
        let r = inst.run(&["start"]);
        assert_eq!(r.code, Some(1), "{r:?}");
        assert_eq!(
            r.stderr.trim(),
            "RustEther VPN Server service has been already started.\nRun the \"vpnserver stop\" command to stop this service."
        );
    }
    // A direct execsvc is refused as well, without touching the instance.
    let r = run_bounded(inst.cmd(&["execsvc"]), T);
    assert_eq!(r.code, Some(1), "{r:?}");
    assert!(inst.lock_path().exists());
    assert_eq!(inst.pids(), (Some(sup), Some(wrk)));
    assert!(alive(sup) && alive(wrk) && accepts(ports[0]));
    inst.stop_ok();
}

// ------------------------------------------------------------ configuration

#[test]
fn corrupt_configuration_fails_naming_file_and_line() {
    for e in [Edition::Server, Edition::Bridge] {
        let mut inst = Instance::new(e, "corrupt", &[20090]);
        let path = inst.config_path();
        let mut text = std::fs::read_to_string(&path).unwrap();
        let lines = text.lines().count();
        text.push_str("\tthis line is not configuration\n");
        std::fs::write(&path, &text).unwrap();
        let before = std::fs::read(&path).unwrap();
        let r = inst.run(&["start"]);
        assert_eq!(r.code, Some(1), "{r:?}");
        assert!(
            r.stderr.contains(&path.display().to_string()),
            "must name the file: {r:?}"
        );
        assert!(
            r.stderr.contains(&format!("line {}", lines + 1)),
            "must name the line: {r:?}"
        );
        assert_eq!(
            std::fs::read(&path).unwrap(),
            before,
            "the file must be left untouched"
        );
        assert_eq!(inst.run(&["status"]).code, Some(3));
    }
}

// ------------------------------------------------------------ foreground, systemd

fn notify_socket(tag: &str) -> (UnixDatagram, std::path::PathBuf, TempDirGuard) {
    let d = temp_dir(tag);
    let p = d.0.join("notify.sock");
    let s = UnixDatagram::bind(&p).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(15))).unwrap();
    (s, p, d)
}

fn recv_until(sock: &UnixDatagram, want: &str) -> Vec<String> {
    let mut got = Vec::new();
    let mut buf = [0u8; 4096];
    let end = Instant::now() + Duration::from_secs(15);
    while Instant::now() < end {
        match sock.recv(&mut buf) {
            Ok(n) => {
                let m = String::from_utf8_lossy(&buf[..n]).into_owned();
                let done = m.lines().any(|l| l == want);
                got.push(m);
                if done {
                    return got;
                }
            }
            Err(_) => break,
        }
    }
    panic!("did not receive {want:?}; got {got:?}");
}

#[test]
fn foreground_is_one_process_with_sd_notify_and_clean_term() {
    let ports = free_ports(20100, 1);
    let mut inst = Instance::new(Edition::Server, "fg", &ports);
    let (sock, path, _d) = notify_socket("fg-notify");
    let mut c = inst.cmd(&["start", "--foreground"]);
    c.env("NOTIFY_SOCKET", &path)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let mut child = spawn_tracked(c, &mut inst.guard);
    let msgs = recv_until(&sock, "READY=1");
    assert!(msgs.iter().any(|m| m.contains("MAINPID=")), "{msgs:?}");
    assert!(accepts(ports[0]));
    let pid = child.id();
    assert_eq!(
        cmdline(pid)[1..],
        [
            "--dir".to_string(),
            inst.dir.display().to_string(),
            "start".into(),
            "--foreground".into()
        ]
    );
    assert_eq!(inst.pids(), (None, Some(pid)));
    let r = inst.run(&["status"]);
    assert!(r.stdout.contains("foreground"), "{r:?}");
    rustether_testkit::process::kill_pid(pid as i32, libc::SIGTERM);
    assert_eq!(wait_child(&mut child, T), Some(0));
    assert!(!inst.pid_path().exists());
}

#[test]
fn execsvc_reports_ready_and_watchdog_to_systemd() {
    let ports = free_ports(20110, 1);
    let mut inst = Instance::new(Edition::Bridge, "notify", &ports);
    let (sock, path, _d) = notify_socket("sd-notify");
    let mut c = inst.cmd(&["execsvc"]);
    c.env("NOTIFY_SOCKET", &path).env("WATCHDOG_USEC", "200000");
    let mut child = spawn_tracked(c, &mut inst.guard);
    let msgs = recv_until(&sock, "READY=1");
    assert!(
        msgs.iter()
            .any(|m| m.contains(&format!("MAINPID={}", child.id()))),
        "{msgs:?}"
    );
    recv_until(&sock, "WATCHDOG=1");
    inst.track_pids();
    assert!(accepts(ports[0]));
    // The worker does not inherit NOTIFY_SOCKET (only the main pid talks to systemd).
    let (_, w) = inst.pids();
    let env = std::fs::read(format!("/proc/{}/environ", w.unwrap())).unwrap();
    assert!(!String::from_utf8_lossy(&env).contains("NOTIFY_SOCKET="));
    rustether_testkit::process::kill_pid(child.id() as i32, libc::SIGTERM);
    assert_eq!(wait_child(&mut child, T), Some(0));
}

#[test]
fn socket_activation_supplies_a_listener() {
    let ports = free_ports(20120, 2);
    let (configured, activated) = (ports[0], ports[1]);
    let mut inst = Instance::new(Edition::Server, "sockact", &[configured]);
    let l = std::net::TcpListener::bind(("0.0.0.0", activated)).unwrap();
    let fd = l.as_raw_fd();
    // LISTEN_PID must be the pid of the program itself: set it in a shell
    // that then execs the program.
    let mut c = Command::new("/bin/sh");
    c.arg("-c")
        .arg("export LISTEN_PID=$$ LISTEN_FDS=1; exec \"$0\" --dir \"$1\" execsvc")
        .arg(bin(Edition::Server))
        .arg(&inst.dir);
    pass_fd_as_3(&mut c, fd);
    let mut child = spawn_tracked(c, &mut inst.guard);
    drop(l);
    assert!(
        wait_until(T, || inst.log_text().contains("accepts connections")),
        "{}",
        inst.log_text()
    );
    inst.track_pids();
    assert!(inst.log_text().contains(&format!(
        "TCP listener port {activated} received by socket activation"
    )));
    assert!(accepts(configured) && accepts(activated));
    rustether_testkit::process::kill_pid(child.id() as i32, libc::SIGTERM);
    assert_eq!(wait_child(&mut child, T), Some(0));
    assert!(!accepts(activated));
}

fn generated_unit(e: Edition) {
    let d = temp_dir("unit");
    let mut c = Command::new(bin(e));
    c.arg("install").arg("--unit-dir").arg(&d.0);
    let r = run_bounded(c, T);
    assert_eq!(r.code, Some(0), "{r:?}");
    let name = format!("rustether-{}.service", e.program_name());
    let unit = d.0.join(&name);
    let text = std::fs::read_to_string(&unit).unwrap();
    let exe = std::fs::canonicalize(bin(e)).unwrap();
    for want in [
        format!(
            "ExecStart={} execsvc --dir /var/lib/rustether --log-dir /var/log/rustether",
            exe.display()
        ),
        "Type=notify".into(),
        "NotifyAccess=all".into(),
        "WatchdogSec=30".into(),
        "Restart=on-failure".into(),
        "KillMode=mixed".into(),
        "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_BROADCAST CAP_NET_RAW"
            .into(),
        "ProtectSystem=strict".into(),
        "ProtectHome=yes".into(),
        "PrivateTmp=yes".into(),
        "StateDirectory=rustether".into(),
        "LogsDirectory=rustether".into(),
        "WantedBy=multi-user.target".into(),
        format!("Description={}", title(e)),
    ] {
        assert!(
            text.lines().any(|l| l == want),
            "missing {want:?} in\n{text}"
        );
    }
    // The textual checks above always run; the verifier where installed
    // (a missing one is a counted skip, and a failure in CI).
    if require(&[Prereq::Program("systemd-analyze")]) {
        let mut v = Command::new("systemd-analyze");
        v.arg("verify")
            .arg(&unit)
            .env("SYSTEMD_LOG_LEVEL", "warning");
        let r = run_bounded(v, Duration::from_secs(60));
        let complaints: Vec<&str> = r
            .stderr
            .lines()
            .chain(r.stdout.lines())
            .filter(|l| l.contains(&name))
            .collect();
        assert!(
            complaints.is_empty() && r.code == Some(0),
            "systemd-analyze verify: {r:?}"
        );
    }
    let mut c = Command::new(bin(e));
    c.arg("uninstall").arg("--unit-dir").arg(&d.0);
    let r = run_bounded(c, T);
    assert_eq!(r.code, Some(0), "{r:?}");
    assert!(!unit.exists());
}

#[test]
fn server_generated_unit() {
    generated_unit(Edition::Server);
}

#[test]
fn bridge_generated_unit() {
    generated_unit(Edition::Bridge);
}

// ------------------------------------------------------------ privileges (root, netns)

const NOBODY: u32 = 65534;

fn unprivileged(e: Edition, ambient: bool, tag: &str) {
    if !require(&[Prereq::Netns, Prereq::Program("setpriv")]) {
        return;
    }
    let ns = Netns::new(tag);
    let user_port = 5555;
    let mut inst = Instance::new(e, tag, &[443, 992, user_port]);
    chown_tree(&inst.dir, NOBODY, NOBODY);
    let mut prefix = ns.exec_prefix();
    prefix.extend(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]
        .map(String::from),
    );
    if ambient {
        prefix.extend(
            [
                "--inh-caps=+net_bind_service",
                "--ambient-caps=+net_bind_service",
            ]
            .map(String::from),
        );
    }
    inst.prefix = prefix;
    let (sup, wrk) = inst.start_ok();
    assert_eq!(
        status_field(sup, "Uid").unwrap().split_whitespace().next(),
        Some("65534")
    );
    assert_eq!(
        status_field(wrk, "Uid").unwrap().split_whitespace().next(),
        Some("65534")
    );
    assert!(ns.accepts(user_port));
    if ambient {
        assert!(
            ns.accepts(443) && ns.accepts(992),
            "with CAP_NET_BIND_SERVICE all three listen"
        );
        assert!(!inst.log_text().contains("could not be opened"));
    } else {
        assert!(
            !ns.accepts(443) && !ns.accepts(992),
            "443 and 992 must not listen unprivileged"
        );
        let log = inst.log_text();
        for p in [443, 992] {
            assert!(
                log.contains(&format!("TCP listener port {p} could not be opened")),
                "not logged: {log}"
            );
        }
        assert!(log.contains("CAP_NET_BIND_SERVICE"));
    }
    let r = inst.run(&["status"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    if !ambient {
        assert!(r.stdout.contains("Not listening:    TCP 443"), "{r:?}");
    }
    inst.stop_ok();
    assert!(!alive(sup) && !alive(wrk));
}

#[test]
fn unprivileged_server_listens_on_5555_only_and_warns() {
    let tag = "unpriv";
    if !require(&[Prereq::Netns, Prereq::Program("setpriv")]) {
        return;
    }
    // The start output itself carries the warning naming each port and the remedy.
    let ns = Netns::new("unpriv-out");
    let mut inst = Instance::new(Edition::Server, "unpriv-out", &[443, 992, 5555]);
    chown_tree(&inst.dir, NOBODY, NOBODY);
    let mut prefix = ns.exec_prefix();
    prefix.extend(
        [
            "setpriv",
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
        ]
        .map(String::from),
    );
    inst.prefix = prefix;
    let r = inst.run(&["start"]);
    assert_eq!(r.code, Some(0), "{r:?}");
    for p in [443, 992] {
        assert!(
            r.stderr.contains(&format!(
                "Warning: TCP listener port {p} could not be opened"
            )),
            "{r:?}"
        );
    }
    assert!(
        r.stderr.contains("setcap cap_net_bind_service")
            && r.stderr.contains("AmbientCapabilities"),
        "{r:?}"
    );
    assert!(!r.stderr.contains("port 5555 could not"), "{r:?}");
    inst.stop_ok();
    drop(inst);
    drop(ns);
    unprivileged(Edition::Server, false, tag);
}

#[test]
fn unprivileged_bridge_listens_on_5555_only() {
    unprivileged(Edition::Bridge, false, "unpriv-br");
}

#[test]
fn ambient_net_bind_service_lets_all_listen() {
    unprivileged(Edition::Server, true, "ambient");
}

#[test]
fn root_with_user_option_binds_then_drops() {
    let tag = "dropuser";
    if !require(&[Prereq::Netns]) {
        return;
    }
    let ns = Netns::new(tag);
    let mut inst = Instance::new(Edition::Server, tag, &[443, 5555]);
    inst.prefix = ns.exec_prefix();
    let r = inst.run(&["--user", "nobody", "start"]);
    assert_eq!(r.code, Some(0), "{r:?}\n{}", inst.log_text());
    let (sup, wrk) = (inst.pids().0.unwrap(), inst.pids().1.unwrap());
    assert_eq!(
        status_field(sup, "Uid").unwrap().split_whitespace().next(),
        Some("0")
    );
    let uid = status_field(wrk, "Uid").unwrap();
    assert!(
        uid.split_whitespace().all(|u| u == NOBODY.to_string()),
        "worker uids: {uid}"
    );
    assert_eq!(
        status_field(wrk, "CapEff").as_deref(),
        Some("0000000000000000"),
        "no capability without local bridges"
    );
    assert_eq!(
        status_field(wrk, "CapPrm").as_deref(),
        Some("0000000000000000")
    );
    assert!(ns.accepts(443), "443 was opened by root before the drop");
    assert!(ns.accepts(5555));
    // The worker can still write its state (it owns the directory now).
    let meta = std::fs::metadata(inst.config_path()).unwrap();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(meta.uid(), NOBODY);
    // Restart after a crash keeps the privileged port (held by the root supervisor).
    rustether_testkit::process::kill_pid(wrk as i32, libc::SIGKILL);
    assert!(wait_until(T, || inst
        .pids()
        .1
        .is_some_and(|p| p != wrk && alive(p))));
    inst.track_pids();
    assert!(ns.accepts(443));
    inst.stop_ok();
}

#[test]
fn restart_reads_the_configuration_again_and_opens_new_ports() {
    let ports = free_ports(20130, 2);
    let mut inst = Instance::new(Edition::Server, "reread", &ports[..1]);
    let (sup, w1) = inst.start_ok();
    assert!(!accepts(ports[1]));
    // An administrator adds a listener to the file; the next worker start
    // (here after a crash) must serve it, opened by the supervisor.
    inst.write_config(&ports);
    rustether_testkit::process::kill_pid(w1 as i32, libc::SIGKILL);
    assert!(wait_until(T, || accepts(ports[1])), "{}", inst.log_text());
    inst.track_pids();
    assert!(alive(sup));
    inst.stop_ok();
}

/// Runs SoftEther's `vpncmd` inside `ns` with private, empty SoftEther
/// directories (it writes its own files there).
fn vpncmd(ns: &Netns, args: &[&str]) -> Run {
    let mut c = Command::new("ip");
    c.args([
        "netns",
        "exec",
        &ns.name,
        "unshare",
        "-m",
        "--propagation",
        "private",
        "sh",
        "-c",
    ])
    .arg(
        "for d in /var/lib/softether /var/log/softether /run/softether; do \
             mkdir -p $d && mount -t tmpfs none $d || exit 97; done; exec \"$@\"",
    )
    .arg("sh")
    .arg(rustether_testkit::softether::program("vpncmd"))
    .args(args);
    run_bounded(c, Duration::from_secs(60))
}

#[test]
fn term_to_supervisor_saves_a_change_made_just_before() {
    if !require(&[Prereq::Netns, Prereq::SoftEther]) {
        return;
    }
    let ns = Netns::new("termsave");
    let mut inst = Instance::new(Edition::Server, "termsave", &[5555]);
    inst.prefix = ns.exec_prefix();
    let (sup, wrk) = inst.start_ok();
    let r = vpncmd(
        &ns,
        &[
            "127.0.0.1:5555",
            "/SERVER",
            "/CMD",
            "ListenerCreate",
            "5556",
        ],
    );
    assert_eq!(r.code, Some(0), "vpncmd: {r:?}");
    assert!(ns.accepts(5556));
    rustether_testkit::process::kill_pid(sup as i32, libc::SIGTERM);
    assert!(wait_until(T, || !alive(sup) && !alive(wrk)));
    let cfg = rustether_config::ConfigStore::new(&inst.dir, Edition::Server)
        .load()
        .unwrap()
        .unwrap();
    assert!(
        cfg.listeners.iter().any(|l| l.port == 5556),
        "the new listener must be saved"
    );
}
