//! rustether-bench: side-by-side benchmarks of our server and the real
//! SoftEther vpnserver, in the same run, on the same namespace topology.
//!
//! `rustether-bench t1 [--secs 10] [--runs 3] [--variant default,maxtcp8,noencrypt,udpaccel,pktlog,acl100]`
//! prints one JSON line per (variant, server) on stdout and a table with
//! the ratio ours/SoftEther on stderr. Needs root. Modes are subcommands;
//! new ones (e.g. control-plane `load`) get their own module-level function.
#![forbid(unsafe_code)]

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use serde_json::{json, Value};

mod bench_bridge;
mod bench_openvpn;
mod bench_securenat;
mod netdiag;

use rustether_testkit::cpu::CpuWindow;
use rustether_testkit::measure::{iperf3, median, ping, wait_ping, IperfOptions};
use rustether_testkit::server::ServerKind;
use rustether_testkit::t1::{T1Lab, T1Options};

#[derive(Parser, Debug)]
#[command(
    name = "rustether-bench",
    about = "RustEther vs SoftEther benchmarks (root)"
)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// T1: two real vpnclients talking through the server's virtual hub
    /// (ping RTT, iperf3 throughput, server and client CPU).
    T1(T1Args),
    /// T2: a real vpnclient to a LAN host behind the server's local bridge
    /// (issue 4; see `rustether_testkit::bench_bridge`).
    T2(bench_bridge::T2Args),
    /// Throughput through a cascade: client -> server hub -> cascade ->
    /// VPN Bridge -> LAN (issue 4).
    Cascade(bench_bridge::CascadeArgs),
    /// SecureNAT: a real vpnclient through SecureNAT to a far host behind
    /// the server's namespace, ours vs SoftEther's user-mode and default
    /// NAT (issue 10).
    Securenat(bench_securenat::SnArgs),
    /// OpenVPN: the real openvpn 2.6 client through the server to a far
    /// peer over UDP and TCP; ours vs SoftEther 5.01's OpenVPN server vs
    /// OpenVPN 2.6's own server (issue 13).
    Openvpn(bench_openvpn::OvArgs),
    /// Helper of `securenat`: accepts short TCP connections.
    #[command(hide = true)]
    ConnSink(bench_securenat::SinkArgs),
    /// Helper of `securenat`: opens short TCP connections in parallel.
    #[command(hide = true)]
    ConnRate(bench_securenat::RateArgs),
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Which {
    Ours,
    Softether,
    Both,
}

/// Which configuration the real SoftEther server runs with in T1
/// (issue 11 item 5; bench/README.md "Why bench/t1.sh and the lab disagree").
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum SeConfig {
    /// The independent lab's file (the same text as
    /// `rustether_testkit::seconfig`): one listener, OpenVPN/SSTP, JSON-RPC
    /// and reverse DNS on accept off.
    Lab,
    /// What SoftEther 5.01 writes on its first start (src/Cedar/Server.c
    /// `SiLoadInitialConfiguration`): listeners 443/992/1194/5555,
    /// OpenVPN (UDP 1194) and SSTP on, JSON-RPC on, reverse DNS on accept,
    /// config backups; only the internet features stay off (keep-alive,
    /// dynamic DNS, NAT traversal, VPN Azure).
    Shipped,
}

impl SeConfig {
    fn label(self) -> &'static str {
        match self {
            SeConfig::Lab => "softether-vpnserver",
            SeConfig::Shipped => "softether-shipped",
        }
    }
}

/// SoftEther's shipped defaults applied to a file rendered by
/// `ServerConfigSpec` (which carries the lab's settings). Every internet
/// feature stays off. Errors: a setting to replace is missing (the
/// renderer changed).
fn shipped_defaults(lab: &str) -> Result<String> {
    let mut t = lab.to_string();
    for (from, to) in [
        (
            "bool DisableGetHostNameWhenAcceptTcp true",
            "bool DisableGetHostNameWhenAcceptTcp false",
        ),
        (
            "bool DisableJsonRpcWebApi true",
            "bool DisableJsonRpcWebApi false",
        ),
        ("bool DontBackupConfig true", "bool DontBackupConfig false"),
        ("string PortsUDP $", "string PortsUDP 1194"),
        (
            "declare OpenVPN\n\t\t\t{\n\t\t\t\tbool Enabled false",
            "declare OpenVPN\n\t\t\t{\n\t\t\t\tbool Enabled true",
        ),
        (
            "declare SSTP\n\t\t\t{\n\t\t\t\tbool Enabled false",
            "declare SSTP\n\t\t\t{\n\t\t\t\tbool Enabled true",
        ),
    ] {
        anyhow::ensure!(t.contains(from), "configuration text lacks {from:?}");
        t = t.replacen(from, to, 1);
    }
    // The default listeners: 443, 992, 1194 and 5555 (SiInitListenerList).
    let l0 = "\t\tdeclare Listener0\n";
    let i = t.find(l0).context("configuration text lacks Listener0")?;
    let mut extra = String::new();
    for (n, port) in [(1, 443), (2, 992), (3, 1194)] {
        extra.push_str(&format!(
            "\t\tdeclare Listener{n}\n\t\t{{\n\t\t\tbool DisableDos false\n\t\t\tbool Enabled true\n\t\t\tuint Port {port}\n\t\t}}\n"
        ));
    }
    t.insert_str(i, &extra);
    // Internet features must still be off.
    for needle in [
        "bool UseKeepConnect false",
        "bool DisableNatTraversal true",
        "bool EnableVpnAzure false",
    ] {
        anyhow::ensure!(t.contains(needle), "shipped config lost {needle:?}");
    }
    Ok(t)
}

#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
enum Variant {
    /// MAXTCP 1 (2 TCP connections with QoS), encryption on.
    Default,
    /// MAXTCP 8.
    Maxtcp8,
    /// Encryption off (AccountEncryptDisable).
    Noencrypt,
    /// UDP acceleration allowed (`/DISABLEUDP:no`); measured once both
    /// clients report it active (docs/udp-acceleration.md).
    Udpaccel,
    /// The default with the hub's packet log on for every TCP packet
    /// (vpncmd `LogEnable packet`, `LogPacketSaveType /TYPE:tcpdata
    /// /SAVE:header`; docs/administration.md "Logs").
    Pktlog,
    /// The default with 100 access-list entries on the hub (vpncmd
    /// `AccessAdd`), none of which matches the measured traffic, so every
    /// frame is compared with all 100 (the worst case; issue 12
    /// "Performance", docs/administration.md "Access lists").
    Acl100,
}

impl Variant {
    fn name(self) -> &'static str {
        match self {
            Variant::Default => "default",
            Variant::Maxtcp8 => "maxtcp8",
            Variant::Noencrypt => "noencrypt",
            Variant::Udpaccel => "udpaccel",
            Variant::Pktlog => "pktlog",
            Variant::Acl100 => "acl100",
        }
    }

    fn options(self) -> T1Options {
        let mut o = T1Options::default();
        match self {
            Variant::Default => {}
            Variant::Maxtcp8 => o.max_tcp = 8,
            Variant::Noencrypt => o.encrypt = false,
            Variant::Udpaccel => o.udp_accel = true,
            Variant::Pktlog | Variant::Acl100 => {}
        }
        o
    }
}

#[derive(clap::Args, Debug)]
struct T1Args {
    /// Seconds per iperf3 run.
    #[arg(long, default_value_t = 10)]
    secs: u32,
    /// iperf3 runs per server (the median is reported).
    #[arg(long, default_value_t = 3)]
    runs: u32,
    /// Which servers to measure (ours first, then SoftEther).
    #[arg(long, value_enum, default_value_t = Which::Both)]
    server: Which,
    /// Our vpnserver binary (default: `vpnserver` next to this program).
    #[arg(long)]
    ours_bin: Option<PathBuf>,
    /// Comma-separated variants.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "default")]
    variant: Vec<Variant>,
    /// Echo requests for the RTT figure (0.2 s apart, idle path).
    #[arg(long, default_value_t = 20)]
    ping_count: u32,
    /// iperf3 parallel streams.
    #[arg(long, default_value_t = 1)]
    parallel: u32,
    /// iperf3 reverse direction (-R).
    #[arg(long)]
    reverse: bool,
    /// iperf3 target rate in Mbit/s (`-b`), e.g. to compare retransmits
    /// at equal throughput; default: as fast as possible.
    #[arg(long)]
    bitrate_mbps: Option<u32>,
    /// Keep the working directories (logs) afterwards.
    #[arg(long)]
    keep_logs: bool,
    /// SoftEther's configurations, each measured as its own server
    /// (`lab`: the lab's settings; `shipped`: SoftEther's first-start
    /// defaults with the internet features off).
    #[arg(long, value_enum, value_delimiter = ',', default_value = "lab,shipped")]
    softether_config: Vec<SeConfig>,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    // The helpers run inside namespaces while the benchmark holds the lock.
    match &cli.mode {
        Mode::ConnSink(a) => return exit(bench_securenat::conn_sink(a)),
        Mode::ConnRate(a) => return exit(bench_securenat::conn_rate(a)),
        _ => {}
    }
    if !rustether_testkit::is_root() {
        eprintln!("rustether-bench: must run as root (network namespaces)");
        return ExitCode::from(2);
    }
    // Not while tests or another benchmark use the machine.
    let _x = rustether_testkit::exclusive();
    let r = match cli.mode {
        Mode::T1(a) => bench_t1(&a),
        Mode::T2(a) => bench_bridge::bench_t2(&a),
        Mode::Cascade(a) => bench_bridge::bench_cascade(&a),
        Mode::Securenat(a) => bench_securenat::bench_securenat(&a),
        Mode::Openvpn(a) => bench_openvpn::bench_openvpn(&a),
        Mode::ConnSink(_) | Mode::ConnRate(_) => Ok(true),
    };
    exit(r)
}

fn exit(r: Result<bool>) -> ExitCode {
    match r {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("rustether-bench: ERROR: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn default_ours_bin() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe
        .parent()
        .context("executable has no directory")?
        .join("vpnserver"))
}

fn log(msg: &str) {
    eprintln!("bench: {msg}");
}

/// Runs every (variant, server); returns Ok(false) if any measurement failed.
fn bench_t1(a: &T1Args) -> Result<bool> {
    anyhow::ensure!(a.secs >= 1 && a.runs >= 1, "--secs and --runs must be >= 1");
    let ours = match &a.ours_bin {
        Some(p) => p.clone(),
        None => default_ours_bin()?,
    };
    // (server, SoftEther configuration) in the order measured.
    let mut kinds: Vec<(ServerKind, Option<SeConfig>)> = Vec::new();
    if a.server != Which::Softether {
        kinds.push((ServerKind::Ours(ours), None));
    }
    if a.server != Which::Ours {
        for c in &a.softether_config {
            kinds.push((ServerKind::SoftEther, Some(*c)));
        }
    }
    let mut all_ok = true;
    let mut rows: Vec<(Variant, Vec<Value>)> = Vec::new();
    for v in &a.variant {
        let mut results = Vec::new();
        for (k, c) in &kinds {
            let label = c.map_or(k.label(), |c| c.label());
            log(&format!("T1 {} with {label}", v.name()));
            let res = match measure_t1(a, *v, k, *c) {
                Ok(j) => j,
                Err(e) => {
                    all_ok = false;
                    log(&format!("FAILED: T1 {} with {label}: {e:#}", v.name()));
                    json!({"test": "T1", "variant": v.name(), "server": label,
                           "error": format!("{e:#}")})
                }
            };
            println!("{res}");
            let _ = std::io::stdout().flush();
            results.push(res);
        }
        rows.push((*v, results));
    }
    for (v, results) in &rows {
        eprintln!("{}", table(*v, a, results));
    }
    Ok(all_ok)
}

/// Entries of the `acl100` variant.
const ACL_ENTRIES: usize = 100;

/// The vpncmd `AccessAdd` arguments of the `acl100` variant: discard
/// entries of mixed kinds (source networks in 10.250.0.0/16, TCP and UDP
/// destination ports, MACs, user names) that the T1 traffic between
/// 192.168.231.0/24 with users u1/u2 never matches. Every parameter is
/// given (vpncmd prompts for missing ones).
fn acl100_rules() -> Vec<Vec<String>> {
    (0..ACL_ENTRIES)
        .map(|i| {
            let (mut src_user, mut src_mac, mut proto, mut dport) =
                (String::new(), String::new(), String::new(), String::new());
            match i % 4 {
                0 => {
                    proto = "tcp".into();
                    dport = format!("{}", 1000 + i);
                }
                1 => {
                    proto = "udp".into();
                    dport = format!("{}", 2000 + i);
                }
                2 => {
                    src_mac = format!(
                        "02-00-5e-00-{:02x}-{:02x}/ff-ff-ff-ff-ff-ff",
                        i / 256,
                        i % 256
                    )
                }
                _ => src_user = format!("nobody{i}"),
            }
            [
                "AccessAdd".to_string(),
                "discard".into(),
                format!("/MEMO:bench{i}"),
                format!("/PRIORITY:{}", i + 1),
                format!("/SRCUSERNAME:{src_user}"),
                "/DESTUSERNAME:".into(),
                format!("/SRCMAC:{src_mac}"),
                "/DESTMAC:".into(),
                format!("/SRCIP:10.250.{i}.0/255.255.255.0"),
                "/DESTIP:0.0.0.0/0".into(),
                format!("/PROTOCOL:{proto}"),
                "/SRCPORT:".into(),
                format!("/DESTPORT:{dport}"),
                "/TCPSTATE:".into(),
            ]
            .to_vec()
        })
        .collect()
}

/// The figures of each iperf3 run of a benchmark, in run order: throughput
/// (Mbit/s), retransmits, server and client CPU (% of one core, from
/// `CpuUsage::group_pct` 0 and 1), machine busy and steal (% of all cores).
#[derive(Debug, Default)]
struct RunSamples {
    tput: Vec<f64>,
    retr: Vec<Option<u64>>,
    scpu: Vec<f64>,
    ccpu: Vec<f64>,
    busy: Vec<f64>,
    steal: Vec<f64>,
}

impl RunSamples {
    /// Logs run `run` of `runs` (`client` names the process group measured
    /// second) and keeps its figures.
    fn record(
        &mut self,
        run: u32,
        runs: u32,
        client: &str,
        r: &rustether_testkit::measure::IperfResult,
        u: &rustether_testkit::cpu::CpuUsage,
    ) {
        log(&format!(
            "run {run}/{runs}: {:.2} Mbit/s (retransmits {}), server cpu {:.1}%, {client} {:.1}%, machine busy {:.1}%, steal {:.1}%",
            r.mbps,
            r.retransmits.map_or("-".into(), |v| v.to_string()),
            u.group_pct[0],
            u.group_pct[1],
            u.machine_busy_pct,
            u.steal_pct
        ));
        self.tput.push(r.mbps);
        self.retr.push(r.retransmits);
        self.scpu.push(u.group_pct[0]);
        self.ccpu.push(u.group_pct[1]);
        self.busy.push(u.machine_busy_pct);
        self.steal.push(u.steal_pct);
    }
}

fn measure_t1(
    a: &T1Args,
    v: Variant,
    kind: &ServerKind,
    se_config: Option<SeConfig>,
) -> Result<Value> {
    let loadavg = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok());
    let server_label = se_config.map_or(kind.label(), |c| c.label());
    let label = format!("bench-t1-{server_label}");
    let mut lab = match se_config {
        Some(SeConfig::Shipped) => start_shipped(&label, kind, v.options())?,
        _ => T1Lab::start(&label, kind, v.options())?,
    };
    if a.keep_logs {
        lab.keep_dir();
    }
    let srv_pid = lab.server()?.pid();
    if v == Variant::Pktlog {
        let srv = lab.server()?;
        let hub = Some(rustether_testkit::t1::HUB);
        srv.vpncmd(None, hub, &["LogEnable", "packet"])?;
        srv.vpncmd(
            None,
            hub,
            &["LogPacketSaveType", "/TYPE:tcpdata", "/SAVE:header"],
        )?;
        log("packet log on: every TCP packet's header");
    }
    if v == Variant::Acl100 {
        let srv = lab.server()?;
        let hub = Some(rustether_testkit::t1::HUB);
        for args in acl100_rules() {
            let refs: Vec<&str> = args.iter().map(String::as_str).collect();
            srv.vpncmd(None, hub, &refs)?;
        }
        let list = srv.vpncmd(None, hub, &["AccessList"])?;
        let n = list.matches("discard").count() + list.matches("Discard").count();
        anyhow::ensure!(
            n >= ACL_ENTRIES,
            "AccessList shows {n} entries, expected {ACL_ENTRIES}:\n{list}"
        );
        log(&format!(
            "access list on: {ACL_ENTRIES} entries, none matching"
        ));
    }
    let client_pids: Vec<i32> = lab.clients.iter().map(|c| c.client.pid()).collect();
    // Measure with every session at its full number of TCP connections.
    let want = lab.expected_tcp_connections();
    for i in 0..lab.clients.len() {
        lab.wait_tcp_connections(i, want, Duration::from_secs(30))?;
    }
    if v == Variant::Udpaccel {
        // The client uses UDP only after 10 s of steady datagrams.
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        for c in &lab.clients {
            loop {
                let st = c.client.status(&c.account)?;
                if st.get("UDP Acceleration is Active").map(str::trim) == Some("Yes") {
                    break;
                }
                if std::time::Instant::now() >= deadline {
                    anyhow::bail!(
                        "{}: UDP acceleration did not become active",
                        c.client.label()
                    );
                }
                std::thread::sleep(Duration::from_millis(500));
            }
        }
        log("UDP acceleration active on both clients");
    }
    let (src, dst) = (lab.clients[0].inner, lab.clients[1].inner);
    wait_ping(lab.client_ns(0), dst, Duration::from_secs(15))?;
    let p = ping(
        lab.client_ns(0),
        dst,
        a.ping_count,
        Duration::from_millis(200),
    )?;
    log(&format!(
        "ping {src} -> {dst}: avg {} ms, loss {}%",
        p.rtt_avg_ms.map_or("-".into(), |v| v.to_string()),
        p.loss_pct
    ));

    let mut opts = IperfOptions::new(a.secs);
    opts.parallel = a.parallel;
    opts.reverse = a.reverse;
    opts.bind = Some(src);
    opts.bitrate_mbps = a.bitrate_mbps;
    let logs = lab.dir().join("logs");
    let (mut tput, mut retr, mut scpu, mut ccpu, mut busy, mut steal) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    // Where the inner flow's segments are lost (netdiag): the data goes
    // from client 0 (iperf3 client) to client 1 (iperf3 server).
    let (mut loss, mut lost) = (vec![], vec![]);
    for run in 1..=a.runs {
        let mut groups = vec![srv_pid];
        groups.extend(&client_pids);
        let (tx_ns, rx_ns) = if a.reverse {
            (lab.client_ns(1), lab.client_ns(0))
        } else {
            (lab.client_ns(0), lab.client_ns(1))
        };
        // The server's own frame counters of both sessions (vpncmd
        // SessionGet) split the loss between the clients and the server.
        let (tx_user, rx_user) = if a.reverse {
            (lab.users[1].name.clone(), lab.users[0].name.clone())
        } else {
            (lab.users[0].name.clone(), lab.users[1].name.clone())
        };
        let hub = rustether_testkit::t1::HUB;
        let frames = |lab: &T1Lab| -> Result<(i64, i64)> {
            let srv = lab.server()?;
            Ok((
                netdiag::session_frames(srv, hub, &tx_user)?.from_client,
                netdiag::session_frames(srv, hub, &rx_user)?.to_client,
            ))
        };
        let f0 = frames(&lab)?;
        let probe = netdiag::RunProbe::start(tx_ns, rx_ns, &lab.topo.server)?;
        let w = CpuWindow::start(&groups);
        let r = iperf3(lab.client_ns(1), lab.client_ns(0), dst, &opts, &logs)?;
        let u = w.finish();
        let mut d = probe.finish(tx_ns, rx_ns, &lab.topo.server)?;
        let f1 = frames(&lab)?;
        netdiag::split_loss(&mut d, f1.0 - f0.0, f1.1 - f0.1);
        log(&format!("run {run}/{}: {}", a.runs, netdiag::summary(&d)));
        lost.push(
            d.get("frames_lost_data")
                .and_then(Value::as_f64)
                .unwrap_or(0.0),
        );
        loss.push(d);
        let clients: f64 = u.group_pct[1..].iter().sum();
        log(&format!(
            "run {run}/{}: {:.2} Mbit/s (retransmits {}), server cpu {:.1}%, clients {:.1}%, machine busy {:.1}%, steal {:.1}%",
            a.runs, r.mbps, r.retransmits.map_or("-".into(), |v| v.to_string()), u.group_pct[0], clients, u.machine_busy_pct, u.steal_pct
        ));
        tput.push(r.mbps);
        retr.push(r.retransmits);
        scpu.push(u.group_pct[0]);
        ccpu.push((clients * 10.0).round() / 10.0);
        busy.push(u.machine_busy_pct);
        steal.push(u.steal_pct);
        lab.server.as_mut().expect("started").ensure_running()?;
        if run < a.runs {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    // The idle RTT again, after the runs (the lab pings a while after its
    // sessions came up; this harness right after they have all their TCP
    // connections): shows whether the time of the ping matters.
    let p2 = ping(
        lab.client_ns(0),
        dst,
        a.ping_count,
        Duration::from_millis(200),
    )?;
    // As the client sees the session after the runs.
    let status = lab.clients[0].client.status(&lab.clients[0].account)?;
    Ok(json!({
        "test": "T1",
        "variant": v.name(),
        "server": server_label,
        "softether_config": se_config.map(|c| format!("{c:?}").to_lowercase()),
        "ping_after_avg_ms": p2.rtt_avg_ms,
        "ping_after_median_ms": p2.rtt_median_ms,
        "path": format!("{src}->{dst}"),
        "duration_s": a.secs,
        "runs": a.runs,
        "parallel": a.parallel,
        "reverse": a.reverse,
        "throughput_mbps": median(&tput).map(round2),
        "throughput_mbps_runs": tput,
        "retransmits_runs": retr,
        "retransmits_median": median(&retr.iter().flatten().map(|x| *x as f64).collect::<Vec<_>>()),
        "frames_lost_median": median(&lost),
        "loss_runs": loss,
        "bitrate_mbps": a.bitrate_mbps,
        "ping_avg_ms": p.rtt_avg_ms,
        "ping_median_ms": p.rtt_median_ms,
        "ping_min_ms": p.rtt_min_ms,
        "ping_max_ms": p.rtt_max_ms,
        "ping_mdev_ms": p.rtt_mdev_ms,
        "ping_loss_pct": p.loss_pct,
        "ping_count": p.sent,
        "server_cpu_pct": median(&scpu).map(round2),
        "server_cpu_pct_runs": scpu,
        "clients_cpu_pct": median(&ccpu).map(round2),
        "clients_cpu_pct_runs": ccpu,
        "machine_busy_pct_runs": busy,
        "cpu_steal_pct_runs": steal,
        "client_max_tcp": lab.opts.max_tcp,
        "tcp_connections": status.tcp_connections(),
        "encryption": status.cipher(),
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "loadavg_1m_before": loadavg,
    }))
}

/// As `T1Lab::start`, with the server reading SoftEther's shipped defaults
/// ([`shipped_defaults`] of the lab's file).
fn start_shipped(label: &str, kind: &ServerKind, opts: T1Options) -> Result<T1Lab> {
    let mut lab = T1Lab::prepare(label, opts)?;
    let r = (|| -> Result<()> {
        let text = shipped_defaults(&lab.config_spec().render()?)?;
        let file = lab.dir().join("shipped-vpn_server.config");
        std::fs::write(&file, text)?;
        lab.start_server_with_file(kind, &file)?;
        lab.start_clients()?;
        lab.connect_all()?;
        lab.wait_inner_ping(0, 1, Duration::from_secs(20))
    })();
    if let Err(e) = r {
        lab.keep_dir();
        anyhow::bail!(
            "T1 setup with SoftEther's shipped defaults failed: {e:#}\n{}",
            lab.diagnostics()
        );
    }
    Ok(lab)
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

fn num(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(|x| x.as_f64())
}

/// Side-by-side table for one variant; ratio column = ours / SoftEther.
fn table(v: Variant, a: &T1Args, results: &[Value]) -> String {
    let rows: [(&str, &str); 10] = [
        ("throughput Mbit/s (median)", "throughput_mbps"),
        ("inner TCP retransmits", "retransmits_median"),
        ("frames lost TAP to TAP", "frames_lost_median"),
        ("ping avg ms", "ping_avg_ms"),
        ("ping median ms", "ping_median_ms"),
        ("ping avg ms after runs", "ping_after_avg_ms"),
        ("ping median ms after runs", "ping_after_median_ms"),
        ("server CPU % of one core", "server_cpu_pct"),
        ("clients CPU % (both)", "clients_cpu_pct"),
        ("server CPU % per Gbit/s", "server_cpu_pct_per_gbps"),
    ];
    let derived = |r: &Value, k: &str| -> Option<f64> {
        if k == "server_cpu_pct_per_gbps" {
            let t = num(r, "throughput_mbps")?;
            (t > 0.0).then(|| num(r, "server_cpu_pct").unwrap_or(0.0) / (t / 1000.0))
        } else {
            num(r, k)
        }
    };
    let mut s = format!(
        "\nT1 {} ({} s x {} runs, {} stream(s){})\n",
        v.name(),
        a.secs,
        a.runs,
        a.parallel,
        if a.reverse { ", reverse" } else { "" }
    );
    s.push_str(&format!("{:<28}", "figure"));
    for r in results {
        s.push_str(&format!(
            "{:>22}",
            r.get("server").and_then(|x| x.as_str()).unwrap_or("?")
        ));
    }
    // Ratio columns: the first result (ours, unless only SoftEther runs)
    // over each other one.
    let ratio = results.len() >= 2;
    if ratio {
        let short = |r: &Value| match r.get("server").and_then(|x| x.as_str()) {
            Some("rustether") => "ours",
            Some("softether-vpnserver") => "SoftEther",
            Some("softether-shipped") => "SE-shipped",
            _ => "?",
        };
        for r in &results[1..] {
            let head = format!("{}/{}", short(&results[0]), short(r));
            s.push_str(&format!("{head:>16}"));
        }
    }
    s.push('\n');
    for (title, key) in rows {
        s.push_str(&format!("{title:<28}"));
        let vals: Vec<Option<f64>> = results.iter().map(|r| derived(r, key)).collect();
        for x in &vals {
            match x {
                Some(x) => s.push_str(&format!("{x:>22.2}")),
                None => s.push_str(&format!("{:>22}", "-")),
            }
        }
        if ratio {
            for other in &vals[1..] {
                match (vals[0], *other) {
                    (Some(o), Some(se)) if se != 0.0 => s.push_str(&format!("{:>15.2}x", o / se)),
                    _ => s.push_str(&format!("{:>16}", "-")),
                }
            }
        }
        s.push('\n');
    }
    for r in results {
        if let Some(e) = r.get("error").and_then(|x| x.as_str()) {
            let first = e.lines().next().unwrap_or("");
            s.push_str(&format!(
                "{}: FAILED: {first}\n",
                r.get("server").and_then(|x| x.as_str()).unwrap_or("?")
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustether_testkit::seconfig::{ServerConfigSpec, UserSpec};

    #[test]
    fn shipped_defaults_keep_the_internet_features_off() {
        let spec = ServerConfigSpec::with_hub(5555, "DEFAULT", &[UserSpec::new("u1", "p")]);
        let lab = spec.render_at(0).unwrap();
        let t = shipped_defaults(&lab).unwrap();
        for needle in [
            "uint Port 443",
            "uint Port 992",
            "uint Port 1194",
            "uint Port 5555",
            "bool DisableJsonRpcWebApi false",
            "bool DisableGetHostNameWhenAcceptTcp false",
            "string PortsUDP 1194",
            "bool UseKeepConnect false",
            "bool DisableNatTraversal true",
            "bool EnableVpnAzure false",
        ] {
            assert!(t.contains(needle), "missing {needle}");
        }
        assert!(
            !t.contains("bool Enabled false"),
            "OpenVPN/SSTP stay off:\n{t}"
        );
        let ddns = t.find("declare DDnsClient").unwrap();
        assert!(t[ddns..].contains("bool Disabled true"));
        assert_eq!(t.matches('{').count(), t.matches('}').count());
        // A file without the settings is refused, not silently kept.
        assert!(shipped_defaults("declare root\n{\n}\n").is_err());
    }
}
