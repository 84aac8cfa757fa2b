//! OpenVPN benchmark of issue 13, run by `rustether-bench openvpn` (see
//! `bench/openvpn.sh`): the real `openvpn` 2.6 client (`dev tap`) through
//! a server to a far peer, over UDP and over TCP, in the same run for our
//! server, SoftEther 5.01's OpenVPN server and OpenVPN 2.6's own server.
//!
//! ```text
//!  netns c1                          netns srv                       netns c2
//!  openvpn client, tap0     -UDP 1194 or TCP 5555->  server    <-  far peer, 192.168.231.12/24
//!  192.168.231.11/24                 10.231.0.1
//!
//!  ours, ours-cbc, softether: hub DEFAULT; the far peer is the real
//!    SoftEther vpnclient (NIC vpn, TCP 5555, 1 TCP connection, encrypted);
//!  openvpn: `openvpn --mode server --client-to-client` (dev tap, no
//!    address of its own); the far peer is a second openvpn client (the
//!    real vpnclient cannot talk to it). Both legs cross the server, as
//!    through the hub.
//! ```
//!
//! Every client uses the same file (`rustether_server::openvpn::client_file`,
//! the shape `OpenVpnMakeConfig` writes) with the server's certificate in
//! `<ca>`. `ours` and `openvpn` negotiate (AES-256-GCM); SoftEther 5.01
//! does not, so its client gets `--data-ciphers AES-128-CBC --cipher
//! AES-128-CBC` (as `interop_openvpn_legacy.rs`), and `ours-cbc` is our
//! server with the same options (the same cipher as SoftEther).
//!
//! Figures per (server, transport): ping RTT c1 → c2 (idle), iperf3 TCP
//! throughput c1 → c2 (median of `--runs`), the server's CPU (its process
//! group, % of one core) and the c1 openvpn client's CPU during iperf3.
//! One JSON line per (server, transport) on stdout, a table per transport
//! with the ratios ours / others on stderr.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::time::Duration;

use anyhow::{bail, Context, Result};
use clap::ValueEnum;
use serde_json::{json, Value};

use rustether_testkit::client::{AccountSpec, VpnClient};
use rustether_testkit::cpu::CpuWindow;
use rustether_testkit::measure::{iperf3, median, ping, wait_ping, IperfOptions};
use rustether_testkit::netns::Netns;
use rustether_testkit::process::Proc;
use rustether_testkit::seconfig::{ServerConfigSpec, UserSpec};
use rustether_testkit::server::{Server, ServerKind};
use rustether_testkit::t1::{Topology, HUB, SERVER_ADDR};
use rustether_testkit::tmp::TestDir;

use crate::{default_ours_bin, log, round2};

/// TCP listener of every server (SoftEther protocol and OpenVPN over TCP).
const TCP_PORT: u16 = 5555;
/// OpenVPN UDP port of every server.
const UDP_PORT: u16 = 1194;
/// The openvpn client's address (c1, tap0).
const C1: Ipv4Addr = Ipv4Addr::new(192, 168, 231, 11);
/// The far peer's address (c2).
const C2: Ipv4Addr = Ipv4Addr::new(192, 168, 231, 12);
/// What openvpn 2.6 needs to talk to SoftEther 5.01 (no negotiation).
const CBC: &[&str] = &["--data-ciphers", "AES-128-CBC", "--cipher", "AES-128-CBC"];
/// Time limit of each wait (connection, ping).
const T: Duration = Duration::from_secs(40);

/// Servers measured by `rustether-bench openvpn`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OvServer {
    /// Our vpnserver, negotiated cipher (AES-256-GCM).
    Ours,
    /// Our vpnserver, the client limited to AES-128-CBC (SoftEther's cipher).
    OursCbc,
    /// SoftEther 5.01's vpnserver (AES-128-CBC, TLS-PRF keys, P_DATA_V1).
    Softether,
    /// OpenVPN 2.6's own server (`openvpn --mode server`, AES-256-GCM).
    Openvpn,
}

impl OvServer {
    fn label(self) -> &'static str {
        match self {
            OvServer::Ours => "rustether",
            OvServer::OursCbc => "rustether-cbc",
            OvServer::Softether => "softether-vpnserver",
            OvServer::Openvpn => "openvpn-server",
        }
    }

    fn short(self) -> &'static str {
        match self {
            OvServer::Ours => "ours",
            OvServer::OursCbc => "ours-cbc",
            OvServer::Softether => "SoftEther",
            OvServer::Openvpn => "OpenVPN",
        }
    }

    /// Extra options of the openvpn clients.
    fn client_opts(self) -> &'static [&'static str] {
        match self {
            OvServer::OursCbc | OvServer::Softether => CBC,
            OvServer::Ours | OvServer::Openvpn => &[],
        }
    }
}

/// OpenVPN transports.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum OvProto {
    /// UDP 1194.
    Udp,
    /// TCP 5555 (the SoftEther listener; OpenVPN recognised by its first bytes).
    Tcp,
}

impl OvProto {
    fn name(self) -> &'static str {
        match self {
            OvProto::Udp => "udp",
            OvProto::Tcp => "tcp",
        }
    }

    fn port(self) -> u16 {
        match self {
            OvProto::Udp => UDP_PORT,
            OvProto::Tcp => TCP_PORT,
        }
    }
}

/// Options of `rustether-bench openvpn`.
#[derive(clap::Args, Debug)]
pub(crate) struct OvArgs {
    /// Seconds per iperf3 run.
    #[arg(long, default_value_t = 10)]
    secs: u32,
    /// iperf3 runs per (server, transport) (the median is reported).
    #[arg(long, default_value_t = 1)]
    runs: u32,
    /// Servers, in the order measured.
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "ours,ours-cbc,softether,openvpn"
    )]
    server: Vec<OvServer>,
    /// Transports.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "udp,tcp")]
    proto: Vec<OvProto>,
    /// Echo requests for the RTT figure (0.2 s apart, idle path).
    #[arg(long, default_value_t = 20)]
    ping_count: u32,
    /// Our vpnserver binary (default: `vpnserver` next to this program).
    #[arg(long)]
    ours_bin: Option<std::path::PathBuf>,
    /// Keep the working directories (logs) afterwards.
    #[arg(long)]
    keep_logs: bool,
}

/// Runs every (server, transport); Ok(false) if any measurement failed.
pub(crate) fn bench_openvpn(a: &OvArgs) -> Result<bool> {
    anyhow::ensure!(a.secs >= 1 && a.runs >= 1, "--secs and --runs must be >= 1");
    use rustether_testkit::prereq::Prereq;
    for p in [
        Prereq::Netns,
        Prereq::Tun,
        Prereq::SoftEther,
        Prereq::Program("openvpn"),
        Prereq::Program("iperf3"),
        Prereq::Program("busybox"),
        Prereq::Program("openssl"),
        Prereq::Program("ping"),
    ] {
        if let Some(why) = p.missing() {
            bail!("{why}");
        }
    }
    let ours = match &a.ours_bin {
        Some(p) => p.clone(),
        None => default_ours_bin()?,
    };
    let mut all_ok = true;
    let mut results: Vec<(OvServer, OvProto, Value)> = Vec::new();
    for s in &a.server {
        log(&format!("OpenVPN with {}", s.label()));
        let r = match measure_server(a, *s, &ours) {
            Ok(r) => r,
            Err(e) => {
                all_ok = false;
                log(&format!("FAILED: {}: {e:#}", s.label()));
                a.proto
                    .iter()
                    .map(|p| {
                        (
                            *p,
                            json!({"test": "openvpn", "server": s.label(), "proto": p.name(),
                                   "error": format!("{e:#}")}),
                        )
                    })
                    .collect()
            }
        };
        for (p, v) in r {
            if v.get("error").is_some() {
                all_ok = false;
            }
            println!("{v}");
            results.push((*s, p, v));
        }
    }
    for p in &a.proto {
        let rows: Vec<(OvServer, &Value)> = results
            .iter()
            .filter(|(_, q, _)| q == p)
            .map(|(s, _, v)| (*s, v))
            .collect();
        eprintln!("{}", table(*p, a, &rows));
    }
    Ok(all_ok)
}

/// One server: a fresh topology, the server, the far peer; then each
/// transport in turn.
fn measure_server(a: &OvArgs, s: OvServer, ours: &Path) -> Result<Vec<(OvProto, Value)>> {
    let loadavg = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|t| t.split_whitespace().next()?.parse::<f64>().ok());
    let mut dir = TestDir::new(&format!("bench-openvpn-{}", s.label()))?;
    if a.keep_logs {
        dir.keep();
    }
    let topo = Topology::new(2, false)?;
    let (c1, c2) = (&topo.clients[0], &topo.clients[1]);
    let logs = dir.path().join("logs");
    let mut out = Vec::new();
    match s {
        OvServer::Ours | OvServer::OursCbc | OvServer::Softether => {
            let kind = if s == OvServer::Softether {
                ServerKind::SoftEther
            } else {
                ServerKind::Ours(ours.to_path_buf())
            };
            let cfg = dir.path().join("vpn_server.config");
            std::fs::write(&cfg, server_config()?)?;
            let server = Server::start_with_config_file(
                &kind,
                &topo.server,
                SERVER_ADDR,
                TCP_PORT,
                dir.path(),
                &cfg,
            )?;
            let ca = server_ca(&server, &topo.server, dir.path())?;
            // The far peer: the real vpnclient.
            let mut vc = VpnClient::start(c2, dir.path(), "far-vpnclient")?;
            vc.nic_create(c2, "vpn", Some((C2, 24)))?;
            let acc = AccountSpec::new(
                "far",
                SocketAddrV4::new(SERVER_ADDR, TCP_PORT),
                HUB,
                "u2",
                "rt-pass-u2",
            );
            vc.account_create(&acc)?;
            vc.connect("far")?;
            let st = vc.wait_established("far", T)?;
            log(&format!(
                "far vpnclient connected ({} TCP connection(s), {})",
                st.tcp_connections().unwrap_or(0),
                st.cipher().unwrap_or_default()
            ));
            for p in &a.proto {
                let file = with_ca(&client_file(*p), &ca)?;
                let r = (|| -> Result<Value> {
                    let mut cl = start_client(
                        c1,
                        dir.path(),
                        &format!("c1-{}", p.name()),
                        &file,
                        "u1",
                        s.client_opts(),
                    )?;
                    let r = measure(a, s, *p, c1, c2, server.pid(), &mut cl, &logs);
                    drop(cl);
                    r
                })();
                out.push((*p, finish(s, *p, r, loadavg)));
            }
            drop(vc);
            drop(server);
        }
        OvServer::Openvpn => {
            let (cert, key) = make_cert(dir.path())?;
            let ca = std::fs::read_to_string(&cert)?;
            for p in &a.proto {
                let file = with_ca(&client_file(*p), &ca)?;
                let r = (|| -> Result<Value> {
                    let srv = start_openvpn_server(&topo.server, dir.path(), *p, &cert, &key)?;
                    let c2p = start_client(
                        c2,
                        dir.path(),
                        &format!("c2-{}", p.name()),
                        &file,
                        "u2",
                        &[],
                    )?;
                    wait_init(&c2p)?;
                    c2.ip(&["addr", "add", &format!("{C2}/24"), "dev", "tap0"])?;
                    c2.link_up("tap0")?;
                    let mut cl = start_client(
                        c1,
                        dir.path(),
                        &format!("c1-{}", p.name()),
                        &file,
                        "u1",
                        &[],
                    )?;
                    let r = measure(a, s, *p, c1, c2, srv.pid(), &mut cl, &logs);
                    drop((cl, c2p, srv));
                    r
                })();
                out.push((*p, finish(s, *p, r, loadavg)));
            }
        }
    }
    Ok(out)
}

/// The JSON line of one measurement (or its error).
fn finish(s: OvServer, p: OvProto, r: Result<Value>, loadavg: Option<f64>) -> Value {
    match r {
        Ok(mut v) => {
            v["loadavg_1m_before"] = json!(loadavg);
            v
        }
        Err(e) => {
            log(&format!("FAILED: {} over {}: {e:#}", s.label(), p.name()));
            json!({"test": "openvpn", "server": s.label(), "proto": p.name(),
                   "error": format!("{e:#}")})
        }
    }
}

/// Waits for c1's client, addresses tap0, measures RTT, then iperf3 with
/// the CPU of the server's process group and of the c1 client.
#[allow(clippy::too_many_arguments)]
fn measure(
    a: &OvArgs,
    s: OvServer,
    p: OvProto,
    c1: &Netns,
    c2: &Netns,
    server_pid: i32,
    client: &mut Proc,
    logs: &Path,
) -> Result<Value> {
    wait_init(client)?;
    let clog = client.log_since(0);
    let cipher = clog
        .lines()
        .find_map(|l| l.split("Data Channel: cipher '").nth(1))
        .and_then(|r| r.split('\'').next())
        .map(str::to_string);
    c1.ip(&["addr", "add", &format!("{C1}/24"), "dev", "tap0"])?;
    c1.link_up("tap0")?;
    wait_ping(c1, C2, Duration::from_secs(20)).context("no ping c1 -> c2 through the server")?;
    let pr = ping(c1, C2, a.ping_count, Duration::from_millis(200))?;
    log(&format!(
        "{} over {}: cipher {}, ping avg {} ms, loss {}%",
        s.label(),
        p.name(),
        cipher.as_deref().unwrap_or("?"),
        pr.rtt_avg_ms.map_or("-".into(), |v| v.to_string()),
        pr.loss_pct
    ));
    let mut opts = IperfOptions::new(a.secs);
    opts.bind = Some(C1);
    let mut runs = crate::RunSamples::default();
    for run in 1..=a.runs {
        let w = CpuWindow::start(&[server_pid, client.pid()]);
        let r = iperf3(c2, c1, C2, &opts, logs)?;
        let u = w.finish();
        runs.record(run, a.runs, "c1 openvpn", &r, &u);
        client.ensure_running()?;
        if run < a.runs {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    let t = median(&runs.tput);
    let sc = median(&runs.scpu);
    let per_gbps = match (t, sc) {
        (Some(t), Some(c)) if t > 0.0 => Some(round2(c / (t / 1000.0))),
        _ => None,
    };
    Ok(json!({
        "test": "openvpn",
        "server": s.label(),
        "proto": p.name(),
        "cipher": cipher,
        "client_options": s.client_opts().join(" "),
        "path": format!("{C1}->{C2}"),
        "duration_s": a.secs,
        "runs": a.runs,
        "throughput_mbps": t.map(round2),
        "throughput_mbps_runs": runs.tput,
        "retransmits_runs": runs.retr,
        "ping_avg_ms": pr.rtt_avg_ms,
        "ping_median_ms": pr.rtt_median_ms,
        "ping_min_ms": pr.rtt_min_ms,
        "ping_max_ms": pr.rtt_max_ms,
        "ping_loss_pct": pr.loss_pct,
        "ping_count": pr.sent,
        "server_cpu_pct": sc.map(round2),
        "server_cpu_pct_runs": runs.scpu,
        "server_cpu_pct_per_gbps": per_gbps,
        "client_cpu_pct": median(&runs.ccpu).map(round2),
        "machine_busy_pct_runs": runs.busy,
        "cpu_steal_pct_runs": runs.steal,
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
    }))
}

/// The testkit configuration (hub DEFAULT, users u1 and u2, listener
/// 5555, internet features off) with OpenVPN on UDP 1194, read by both
/// our server and SoftEther's.
fn server_config() -> Result<String> {
    let users = [
        UserSpec::new("u1", "rt-pass-u1"),
        UserSpec::new("u2", "rt-pass-u2"),
    ];
    let text = ServerConfigSpec::with_hub(TCP_PORT, HUB, &users).render()?;
    let mut t = text.clone();
    for (from, to) in [
        ("string PortsUDP $", format!("string PortsUDP {UDP_PORT}")),
        (
            "declare OpenVPN\n\t\t\t{\n\t\t\t\tbool Enabled false",
            "declare OpenVPN\n\t\t\t{\n\t\t\t\tbool Enabled true".to_string(),
        ),
    ] {
        anyhow::ensure!(t.contains(from), "configuration text lacks {from:?}");
        t = t.replacen(from, &to, 1);
    }
    Ok(t)
}

/// The client file of every server (the shape of `OpenVpnMakeConfig`),
/// `dev tap`, pointed at the server; `<ca>` still to be filled in.
fn client_file(p: OvProto) -> String {
    let proto = match p {
        OvProto::Udp => "udp",
        OvProto::Tcp => "tcp",
    };
    rustether_server::openvpn::client_file("tap", proto, &SERVER_ADDR.to_string(), p.port(), &[])
}

/// `file` with its `<ca>` block holding `pem` (one or more PEM certificates).
fn with_ca(file: &str, pem: &str) -> Result<String> {
    let a = file.find("<ca>").context("<ca> in the client file")?;
    let b = file.find("</ca>").context("</ca> in the client file")? + "</ca>".len();
    let pem = pem.trim_end();
    Ok(format!("{}<ca>\n{pem}\n</ca>{}", &file[..a], &file[b..]))
}

/// The server's certificate as its `OpenVpnMakeConfig` (real vpncmd)
/// puts it in the sample file's `<ca>` block.
fn server_ca(server: &Server, ns: &Netns, work: &Path) -> Result<String> {
    server.vpncmd(None, None, &["OpenVpnMakeConfig", "openvpn_config.zip"])?;
    // vpncmd runs in the server's admin sandbox directory (testkit server.rs).
    let zip = work.join("vpncmd-server").join("openvpn_config.zip");
    let out = work.join("ovpn-zip");
    std::fs::create_dir_all(&out)?;
    ns.run(
        "busybox",
        &[
            "unzip",
            "-o",
            &zip.to_string_lossy(),
            "-d",
            &out.to_string_lossy(),
        ],
        T,
    )?;
    for e in std::fs::read_dir(&out)? {
        let p = e?.path();
        if p.to_string_lossy().ends_with("_l2.ovpn") {
            let text = std::fs::read_to_string(&p)?;
            let a = text.find("<ca>").context("<ca> in the sample file")? + "<ca>".len();
            let b = text.find("</ca>").context("</ca> in the sample file")?;
            return Ok(text[a..b].trim().to_string());
        }
    }
    bail!("no layer-2 file in {}", out.display())
}

/// A self-signed P-256 certificate and key for OpenVPN's own server.
fn make_cert(dir: &Path) -> Result<(std::path::PathBuf, std::path::PathBuf)> {
    let (cert, key) = (dir.join("ovpn-server.crt"), dir.join("ovpn-server.key"));
    let (c, k) = (
        cert.to_string_lossy().into_owned(),
        key.to_string_lossy().into_owned(),
    );
    let out = rustether_testkit::cmd::run(
        std::process::Command::new("openssl").args([
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
            "-days",
            "2",
            "-subj",
            "/CN=bench-openvpn-server",
            "-keyout",
            &k,
            "-out",
            &c,
        ]),
        Duration::from_secs(30),
    )?;
    anyhow::ensure!(out.status.success(), "openssl req: {}", out.combined());
    Ok((cert, key))
}

/// OpenVPN 2.6's own server in the server namespace: `dev tap`, no address
/// of its own, `client-to-client` (frames between the two clients inside
/// the server, as through a hub), any user/password accepted, the same
/// default cipher negotiation as ours.
fn start_openvpn_server(
    ns: &Netns,
    dir: &Path,
    p: OvProto,
    cert: &Path,
    key: &Path,
) -> Result<Proc> {
    let (c, k) = (
        cert.to_string_lossy().into_owned(),
        key.to_string_lossy().into_owned(),
    );
    let tmp = dir.join("ovpn-tmp");
    std::fs::create_dir_all(&tmp)?;
    let tmp_s = tmp.to_string_lossy().into_owned();
    let port = p.port().to_string();
    let local = SERVER_ADDR.to_string();
    let proto = match p {
        OvProto::Udp => "udp",
        OvProto::Tcp => "tcp-server",
    };
    let args = [
        "--mode",
        "server",
        "--tls-server",
        "--dev",
        "ovpnsrv0",
        "--dev-type",
        "tap",
        "--proto",
        proto,
        "--local",
        &local,
        "--port",
        &port,
        "--ca",
        &c,
        "--cert",
        &c,
        "--key",
        &k,
        "--dh",
        "none",
        "--verify-client-cert",
        "none",
        "--script-security",
        "2",
        "--auth-user-pass-verify",
        "/bin/true",
        "via-file",
        "--username-as-common-name",
        "--duplicate-cn",
        "--client-to-client",
        "--tmp-dir",
        &tmp_s,
        "--disable-dco",
        "--verb",
        "3",
    ];
    let mut srv = Proc::spawn(
        &format!("openvpn-server-{}", p.name()),
        ns.command("openvpn", &args),
        &dir.join("logs"),
    )?;
    rustether_testkit::cmd::wait_until(
        "OpenVPN's server initialised",
        T,
        Duration::from_millis(200),
        || {
            srv.ensure_running()?;
            Ok(srv
                .log_since(0)
                .contains("Initialization Sequence Completed"))
        },
    )?;
    // Up, no address: frames it floods to its own tap go nowhere.
    ns.link_up("ovpnsrv0")?;
    Ok(srv)
}

/// The real openvpn client with `file` as `user` in `ns` (`--dev tap0`,
/// no DCO: DCO is layer 3 only).
fn start_client(
    ns: &Netns,
    dir: &Path,
    name: &str,
    file: &str,
    user: &str,
    extra: &[&str],
) -> Result<Proc> {
    let mut args = vec!["--dev", "tap0", "--disable-dco"];
    args.extend_from_slice(extra);
    let mut p = rustether_testkit::openvpn::start(
        ns,
        dir,
        &format!("openvpn-{name}"),
        file,
        (user, &format!("rt-pass-{user}")),
        &args,
    )?;
    // (explicit-exit-notify retries are not worth waiting for here.)
    p.set_stop_timeout(Duration::from_secs(3));
    Ok(p)
}

/// Until the client logs "Initialization Sequence Completed".
fn wait_init(p: &Proc) -> Result<()> {
    rustether_testkit::cmd::wait_until(
        &format!("{} initialised", p.name()),
        T,
        Duration::from_millis(200),
        || Ok(p.log_since(0).contains("Initialization Sequence Completed")),
    )
    .with_context(|| p.log_tail(30))
}

fn num(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(|x| x.as_f64())
}

/// One table per transport: servers as columns, then ours / each other.
fn table(p: OvProto, a: &OvArgs, rows: &[(OvServer, &Value)]) -> String {
    let figures: [(&str, &str); 5] = [
        ("throughput Mbit/s (median)", "throughput_mbps"),
        ("ping avg ms", "ping_avg_ms"),
        ("server CPU % of one core", "server_cpu_pct"),
        ("server CPU % per Gbit/s", "server_cpu_pct_per_gbps"),
        ("c1 openvpn client CPU %", "client_cpu_pct"),
    ];
    let mut s = format!(
        "\nOpenVPN over {} ({} s x {} runs): openvpn client c1 -> server -> far peer c2\n{:<28}",
        p.name(),
        a.secs,
        a.runs,
        "figure"
    );
    for (srv, _) in rows {
        s.push_str(&format!("{:>20}", srv.label()));
    }
    let base = rows.iter().position(|(x, _)| *x == OvServer::Ours);
    let others: Vec<usize> = (0..rows.len()).filter(|i| Some(*i) != base).collect();
    if base.is_some() {
        for i in &others {
            s.push_str(&format!("{:>16}", format!("ours/{}", rows[*i].0.short())));
        }
    }
    s.push('\n');
    s.push_str(&format!("{:<28}", "cipher"));
    for (_, v) in rows {
        s.push_str(&format!(
            "{:>20}",
            v.get("cipher").and_then(|x| x.as_str()).unwrap_or("-")
        ));
    }
    s.push('\n');
    for (title, key) in figures {
        s.push_str(&format!("{title:<28}"));
        let vals: Vec<Option<f64>> = rows.iter().map(|(_, v)| num(v, key)).collect();
        for x in &vals {
            match x {
                Some(x) => s.push_str(&format!("{x:>20.2}")),
                None => s.push_str(&format!("{:>20}", "-")),
            }
        }
        if let Some(b) = base {
            for i in &others {
                match (vals[b], vals[*i]) {
                    (Some(o), Some(x)) if x != 0.0 => s.push_str(&format!("{:>15.2}x", o / x)),
                    _ => s.push_str(&format!("{:>16}", "-")),
                }
            }
        }
        s.push('\n');
    }
    for (srv, v) in rows {
        if let Some(e) = v.get("error").and_then(|x| x.as_str()) {
            s.push_str(&format!(
                "{}: FAILED: {}\n",
                srv.label(),
                e.lines().next().unwrap_or("")
            ));
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_client_file_gets_the_servers_certificate() {
        let f = with_ca(
            &client_file(OvProto::Tcp),
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
        )
        .unwrap();
        assert!(f.contains("dev tap\n") && f.contains("proto tcp\n"), "{f}");
        assert!(
            f.contains(&format!("remote {SERVER_ADDR} {TCP_PORT}\n")),
            "{f}"
        );
        assert!(
            f.contains("<ca>\n-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n</ca>"),
            "{f}"
        );
        assert_eq!(f.matches("BEGIN CERTIFICATE").count(), 1, "{f}");
    }

    #[test]
    fn the_server_configuration_has_openvpn_on() {
        let t = server_config().unwrap();
        assert!(t.contains("string PortsUDP 1194"));
        assert!(t.contains("declare OpenVPN\n\t\t\t{\n\t\t\t\tbool Enabled true"));
        assert!(t.contains("bool UseKeepConnect false"));
    }
}
