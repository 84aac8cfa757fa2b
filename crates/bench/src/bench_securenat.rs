//! SecureNAT benchmark of issue 10, run by `rustether-bench securenat`
//! (see `bench/securenat.sh`): a real vpnclient → VPN server hub DEFAULT →
//! SecureNAT → the server's own sockets → a far host that only the server's
//! namespace reaches. Ours against SoftEther 5.01 in the same run: its
//! user-mode NAT (`DisableIpRawModeSecureNAT` and
//! `DisableKernelModeSecureNAT` set) and its default.
//!
//! ```text
//!  netns c1                        netns srv                         netns far
//!  vpn_vpn 192.168.30.11/24 -TLS-> server :5555, hub DEFAULT,         eth0 10.232.0.2/24
//!  route 10.232.0.0/24 via         SecureNAT 192.168.30.1 ---- far0 10.232.0.1/24 --veth
//!  192.168.30.1
//! ```
//!
//! Figures: ping RTT to the far host (idle path), iperf3 TCP throughput
//! client → far host (median of `--runs`), the server's and the client's
//! CPU during iperf3, and short TCP connections per second with
//! `--conn-parallel` (100) workers for `--conn-secs` (connect, 1 byte up,
//! 2 bytes down, close) with the server's CPU during them. One JSON line
//! per server on stdout, a table with the ratio ours / SoftEther on stderr.

use std::io::{Read as _, Write as _};
use std::net::{Ipv4Addr, SocketAddr, SocketAddrV4, TcpListener, TcpStream};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use clap::ValueEnum;
use serde_json::{json, Map, Value};

use rustether_testkit::client::VpnClient;
use rustether_testkit::cpu::CpuWindow;
use rustether_testkit::measure::{iperf3, median, ping, wait_ping, IperfOptions};
use rustether_testkit::netns::Netns;
use rustether_testkit::process::Proc;
use rustether_testkit::server::ServerKind;
use rustether_testkit::t1::{LabClient, T1Lab, T1Options, HUB};

/// The far host (iperf3 and the connection sink).
const FAR: Ipv4Addr = Ipv4Addr::new(10, 232, 0, 2);
/// The server namespace's address on the far link.
const FAR_SRV: Ipv4Addr = Ipv4Addr::new(10, 232, 0, 1);
/// The client's address in SecureNAT's default network (static: DHCP is
/// not what is measured).
const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(192, 168, 30, 11);
/// SecureNAT's virtual host (SoftEther's default).
const VHOST: &str = "192.168.30.1";
/// TCP port of the connection sink on the far host.
const SINK_PORT: u16 = 7001;

/// Which servers to measure.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SnServer {
    /// Ours.
    Ours,
    /// SoftEther with `DisableIpRawModeSecureNAT` and
    /// `DisableKernelModeSecureNAT` (its user-mode NAT).
    SoftetherUsermode,
    /// SoftEther with its default settings.
    SoftetherDefault,
}

impl SnServer {
    fn label(self) -> &'static str {
        match self {
            SnServer::Ours => "rustether",
            SnServer::SoftetherUsermode => "softether-usermode",
            SnServer::SoftetherDefault => "softether-default",
        }
    }
}

/// `rustether-bench securenat` options.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct SnArgs {
    /// Seconds per iperf3 run.
    #[arg(long, default_value_t = 8)]
    pub secs: u32,
    /// iperf3 runs per server (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub runs: u32,
    /// Servers, in order (the ratio column is the first over the second).
    #[arg(
        long,
        value_enum,
        value_delimiter = ',',
        default_value = "ours,softether-usermode,softether-default"
    )]
    pub server: Vec<SnServer>,
    /// Our vpnserver binary (default: `vpnserver` next to this program).
    #[arg(long)]
    pub ours_bin: Option<PathBuf>,
    /// Echo requests to the far host (0.2 s apart, idle path).
    #[arg(long, default_value_t = 20)]
    pub ping_count: u32,
    /// Workers opening short TCP connections in parallel.
    #[arg(long, default_value_t = 100)]
    pub conn_parallel: u32,
    /// Seconds of the connection-rate measurement.
    #[arg(long, default_value_t = 5)]
    pub conn_secs: u32,
    /// Rate in Mbit/s of the extra iperf3 run that compares CPU at the same
    /// throughput (0 = skip); it should be below every server's maximum.
    #[arg(long, default_value_t = 30)]
    pub fixed_mbps: u32,
    /// Keep the working directories (logs) afterwards.
    #[arg(long)]
    pub keep_logs: bool,
}

/// Hidden helper: the connection sink (runs in the far namespace).
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct SinkArgs {
    /// Address to listen on.
    #[arg(long)]
    pub bind: SocketAddr,
}

/// Hidden helper: the connection-rate client (runs in the client namespace).
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct RateArgs {
    /// The sink.
    #[arg(long)]
    pub to: SocketAddr,
    /// Parallel workers.
    #[arg(long, default_value_t = 100)]
    pub parallel: u32,
    /// Seconds.
    #[arg(long, default_value_t = 5)]
    pub secs: u32,
}

fn log(msg: &str) {
    eprintln!("bench: {msg}");
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// `conn-sink`: accept forever; per connection read 1 byte, answer "ok",
/// close (the sink closes first, so TIME_WAIT stays on its side).
///
/// Errors: cannot listen.
pub(crate) fn conn_sink(a: &SinkArgs) -> Result<bool> {
    let l = TcpListener::bind(a.bind).with_context(|| format!("listen on {}", a.bind))?;
    for s in l.incoming() {
        let Ok(mut s) = s else { continue };
        std::thread::spawn(move || {
            let _ = s.set_read_timeout(Some(Duration::from_secs(10)));
            let mut b = [0u8; 1];
            if s.read_exact(&mut b).is_ok() {
                let _ = s.write_all(b"ok");
            }
        });
    }
    Ok(true)
}

/// `conn-rate`: `parallel` workers open, use and close connections for
/// `secs`; prints `{"connections":N,"errors":E,"per_sec":R}`.
///
/// Errors: none (failures are counted).
pub(crate) fn conn_rate(a: &RateArgs) -> Result<bool> {
    let ok = Arc::new(AtomicU64::new(0));
    let err = Arc::new(AtomicU64::new(0));
    let t0 = Instant::now();
    let end = t0 + Duration::from_secs(u64::from(a.secs));
    let workers: Vec<_> = (0..a.parallel)
        .map(|_| {
            let (ok, err, to) = (ok.clone(), err.clone(), a.to);
            std::thread::spawn(move || {
                while Instant::now() < end {
                    let r = (|| -> std::io::Result<()> {
                        let mut s = TcpStream::connect_timeout(&to, Duration::from_secs(5))?;
                        s.set_read_timeout(Some(Duration::from_secs(5)))?;
                        s.write_all(b"x")?;
                        let mut b = [0u8; 2];
                        s.read_exact(&mut b)?;
                        Ok(())
                    })();
                    match r {
                        Ok(()) => ok.fetch_add(1, Ordering::Relaxed),
                        Err(_) => err.fetch_add(1, Ordering::Relaxed),
                    };
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    let wall = t0.elapsed().as_secs_f64();
    let n = ok.load(Ordering::Relaxed);
    println!(
        "{}",
        json!({"connections": n, "errors": err.load(Ordering::Relaxed),
               "per_sec": round2(n as f64 / wall), "wall_s": round2(wall)})
    );
    Ok(true)
}

/// `rustether-bench securenat`; Ok(false) if a measurement failed.
///
/// Errors: bad arguments or our binary cannot be located.
pub(crate) fn bench_securenat(a: &SnArgs) -> Result<bool> {
    anyhow::ensure!(a.secs >= 1 && a.runs >= 1, "--secs and --runs must be >= 1");
    anyhow::ensure!(
        (1..=1000).contains(&a.conn_parallel),
        "--conn-parallel must be 1..=1000"
    );
    let exe = std::env::current_exe()?;
    let ours = match &a.ours_bin {
        Some(p) => p.clone(),
        None => exe
            .parent()
            .context("executable has no directory")?
            .join("vpnserver"),
    };
    let mut ok = true;
    let mut rows = Vec::new();
    for s in &a.server {
        log(&format!("SecureNAT with {}", s.label()));
        let mut v = match measure(a, *s, &ours, &exe) {
            Ok(m) => Value::Object(m),
            Err(e) => {
                ok = false;
                log(&format!("FAILED: SecureNAT with {}: {e:#}", s.label()));
                json!({"error": format!("{e:#}")})
            }
        };
        let o = v.as_object_mut().context("object")?;
        o.insert("test".into(), json!("securenat"));
        o.insert("server".into(), json!(s.label()));
        println!("{v}");
        let _ = std::io::stdout().flush();
        rows.push(v);
    }
    eprintln!("{}", table(a, &rows));
    Ok(ok)
}

/// SoftEther's defaults of a hub's `SecureNAT` folder as SoftEther 5.01
/// writes them (`NiSetDefaultVhOption`); the lab's template only has
/// `Disabled`, and SoftEther reads missing keys as 0 (host 0.0.0.0).
const SECURENAT_FOLDER: &str = "\t\t\tdeclare SecureNAT\n\t\t\t{\n\
\t\t\t\tbool Disabled true\n\t\t\t\tbool SaveLog true\n\
\t\t\t\tdeclare VirtualDhcpServer\n\t\t\t\t{\n\
\t\t\t\t\tstring DhcpDnsServerAddress 192.168.30.1\n\
\t\t\t\t\tstring DhcpDnsServerAddress2 0.0.0.0\n\
\t\t\t\t\tstring DhcpDomainName $\n\
\t\t\t\t\tbool DhcpEnabled true\n\
\t\t\t\t\tuint DhcpExpireTimeSpan 7200\n\
\t\t\t\t\tstring DhcpGatewayAddress 192.168.30.1\n\
\t\t\t\t\tstring DhcpLeaseIPEnd 192.168.30.200\n\
\t\t\t\t\tstring DhcpLeaseIPStart 192.168.30.10\n\
\t\t\t\t\tstring DhcpPushRoutes $\n\
\t\t\t\t\tstring DhcpSubnetMask 255.255.255.0\n\t\t\t\t}\n\
\t\t\t\tdeclare VirtualHost\n\t\t\t\t{\n\
\t\t\t\t\tstring VirtualHostIp 192.168.30.1\n\
\t\t\t\t\tstring VirtualHostIpSubnetMask 255.255.255.0\n\
\t\t\t\t\tstring VirtualHostMacAddress 5E-BF-CD-91-28-59\n\t\t\t\t}\n\
\t\t\t\tdeclare VirtualRouter\n\t\t\t\t{\n\
\t\t\t\t\tbool NatEnabled true\n\t\t\t\t\tuint NatMtu 1500\n\
\t\t\t\t\tuint NatTcpTimeout 1800\n\t\t\t\t\tuint NatUdpTimeout 60\n\t\t\t\t}\n\
\t\t\t}\n";

/// The server's `vpn_server.config` for `s`: the lab's with SoftEther's
/// default `SecureNAT` folder, plus for the user-mode variant the hub
/// options `DisableIpRawModeSecureNAT` and `DisableKernelModeSecureNAT`
/// (SoftEther src/Cedar/Server.c reads them from the hub's `Option`).
fn config_text(lab: &T1Lab, s: SnServer) -> Result<String> {
    let text = lab.config_spec().render()?;
    let snat = "\t\t\tdeclare SecureNAT\n\t\t\t{\n\t\t\t\tbool Disabled true\n\t\t\t}\n";
    let opt = "\t\t\t\tstring VlanTypeId 0x8100\n";
    anyhow::ensure!(
        text.contains(snat) && text.contains(opt),
        "config template changed"
    );
    let text = text.replacen(snat, SECURENAT_FOLDER, 1);
    if s != SnServer::SoftetherUsermode {
        return Ok(text);
    }
    Ok(text.replacen(
        opt,
        &format!("\t\t\t\tbool DisableIpRawModeSecureNAT true\n\t\t\t\tbool DisableKernelModeSecureNAT true\n{opt}"),
        1,
    ))
}

fn measure(
    a: &SnArgs,
    s: SnServer,
    ours: &std::path::Path,
    exe: &std::path::Path,
) -> Result<Map<String, Value>> {
    let load = std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok());
    let opts = T1Options {
        n_clients: 1,
        ..T1Options::default()
    };
    let mut lab = T1Lab::prepare(&format!("bench-securenat-{}", s.label()), opts)?;
    if a.keep_logs {
        lab.keep_dir();
    }
    let r = run_lab(a, s, ours, exe, &mut lab, load);
    if r.is_err() {
        lab.keep_dir();
        log(&lab.diagnostics());
    }
    r
}

fn run_lab(
    a: &SnArgs,
    s: SnServer,
    ours: &std::path::Path,
    exe: &std::path::Path,
    lab: &mut T1Lab,
    load: Option<f64>,
) -> Result<Map<String, Value>> {
    let far = Netns::new("snbfar")?;
    let srv_ns = &lab.topo.server;
    srv_ns.veth_to("far0", &far, "eth0")?;
    srv_ns.add_addr("far0", FAR_SRV, 24)?;
    far.add_addr("eth0", FAR, 24)?;
    srv_ns.link_up("far0")?;
    far.link_up("eth0")?;
    // Unprivileged ICMP sockets (ours uses them; a fresh namespace says "1 0").
    srv_ns.run(
        "sysctl",
        &["-w", "net.ipv4.ping_group_range=0 2147483647"],
        Duration::from_secs(10),
    )?;
    let kind = match s {
        SnServer::Ours => ServerKind::Ours(ours.to_path_buf()),
        _ => ServerKind::SoftEther,
    };
    let cfg = lab.dir().join("securenat-bench.config");
    std::fs::write(&cfg, config_text(lab, s)?)?;
    lab.start_server_with_file(&kind, &cfg)?;
    lab.server()?
        .vpncmd(None, Some(HUB), &["SecureNatEnable"])
        .context("SecureNatEnable")?;

    // The client, with a static address in SecureNAT's network.
    let ns = &lab.topo.clients[0];
    let client = VpnClient::start(ns, lab.dir(), "client-c1")?;
    client.nic_create(ns, "vpn", Some((CLIENT_IP, 24)))?;
    let spec = lab.account_spec(0);
    client.account_create(&spec)?;
    client.connect(&spec.name)?;
    lab.clients.push(LabClient {
        client,
        index: 0,
        inner: CLIENT_IP,
        account: spec.name.clone(),
    });
    lab.clients[0]
        .client
        .wait_established(&spec.name, Duration::from_secs(60))?;
    let want = lab.expected_tcp_connections();
    lab.wait_tcp_connections(0, want, Duration::from_secs(30))?;
    let cns = &lab.topo.clients[0];
    cns.ip(&["route", "add", "10.232.0.0/24", "via", VHOST])?;
    let srv = lab.server()?.pid();
    let cli = lab.clients[0].client.pid();
    let logs = lab.dir().join("logs");
    let mut m = Map::new();

    // Ping the far host through the NAT (ICMP may not be forwarded: then
    // the figure is left out, the rest is measured).
    match wait_ping(cns, FAR, Duration::from_secs(20))
        .and_then(|()| ping(cns, FAR, a.ping_count, Duration::from_millis(200)))
    {
        Ok(p) => {
            log(&format!(
                "ping {CLIENT_IP} -> {FAR}: avg {} ms, loss {}%",
                p.rtt_avg_ms.map_or("-".into(), |v| v.to_string()),
                p.loss_pct
            ));
            m.insert("ping_avg_ms".into(), json!(p.rtt_avg_ms));
            m.insert("ping_median_ms".into(), json!(p.rtt_median_ms));
            m.insert("ping_min_ms".into(), json!(p.rtt_min_ms));
            m.insert("ping_max_ms".into(), json!(p.rtt_max_ms));
            m.insert("ping_loss_pct".into(), json!(p.loss_pct));
        }
        Err(e) => {
            log(&format!("ping to the far host failed: {e:#}"));
            m.insert("ping_error".into(), json!(format!("{e:#}")));
        }
    }

    // TCP throughput.
    let mut opts = IperfOptions::new(a.secs);
    opts.bind = Some(CLIENT_IP);
    let mut runs = crate::RunSamples::default();
    for run in 1..=a.runs {
        let w = CpuWindow::start(&[srv, cli]);
        let r = iperf3(&far, cns, FAR, &opts, &logs)?;
        let u = w.finish();
        runs.record(run, a.runs, "client", &r, &u);
        lab.server.as_mut().context("server")?.ensure_running()?;
    }

    // CPU at the same throughput for every server.
    if a.fixed_mbps > 0 {
        let mut o = opts.clone();
        o.bitrate_mbps = Some(a.fixed_mbps);
        let w = CpuWindow::start(&[srv, cli]);
        let r = iperf3(&far, cns, FAR, &o, &logs)?;
        let u = w.finish();
        log(&format!(
            "at {} Mbit/s: {:.2} Mbit/s received, server cpu {:.1}%",
            a.fixed_mbps, r.mbps, u.group_pct[0]
        ));
        m.insert("fixed_rate_mbps".into(), json!(r.mbps));
        m.insert("fixed_rate_server_cpu_pct".into(), json!(u.group_pct[0]));
    }

    // Short TCP connections per second.
    let far_s = SocketAddrV4::new(FAR, SINK_PORT).to_string();
    let exe_s = exe.to_string_lossy().into_owned();
    let mut sink = Proc::spawn(
        "conn-sink",
        far.command(&exe_s, &["conn-sink", "--bind", &far_s]),
        &logs,
    )?;
    sink.set_stop_timeout(Duration::from_secs(3));
    far.wait_tcp_listening(SINK_PORT, Duration::from_secs(10), || sink.ensure_running())?;
    let w = CpuWindow::start(&[srv, cli]);
    let out = cns.run(
        &exe_s,
        &[
            "conn-rate",
            "--to",
            &far_s,
            "--parallel",
            &a.conn_parallel.to_string(),
            "--secs",
            &a.conn_secs.to_string(),
        ],
        Duration::from_secs(u64::from(a.conn_secs) + 60),
    )?;
    let u = w.finish();
    let _ = sink.stop();
    let rate: Value = serde_json::from_str(out.trim()).context("conn-rate output")?;
    log(&format!(
        "short connections ({} parallel): {rate}, server cpu {:.1}%",
        a.conn_parallel, u.group_pct[0]
    ));
    lab.server.as_mut().context("server")?.ensure_running()?;

    // Which NAT the server says it used (SoftEther: kernel/raw-IP mode).
    let status = lab
        .server()?
        .vpncmd(None, Some(HUB), &["SecureNatStatusGet"])
        .unwrap_or_default();
    let mode: Vec<&str> = status
        .lines()
        .filter(|l| l.contains("Mode") || l.contains("mode"))
        .map(str::trim)
        .collect();

    m.insert("path".into(), json!(format!("{CLIENT_IP}->{FAR}")));
    m.insert("duration_s".into(), json!(a.secs));
    m.insert("runs".into(), json!(a.runs));
    m.insert(
        "throughput_mbps".into(),
        json!(median(&runs.tput).map(round2)),
    );
    m.insert("throughput_mbps_runs".into(), json!(runs.tput));
    m.insert("retransmits_runs".into(), json!(runs.retr));
    m.insert(
        "server_cpu_pct".into(),
        json!(median(&runs.scpu).map(round2)),
    );
    m.insert("server_cpu_pct_runs".into(), json!(runs.scpu));
    m.insert(
        "client_cpu_pct".into(),
        json!(median(&runs.ccpu).map(round2)),
    );
    if let (Some(t), Some(c)) = (median(&runs.tput), median(&runs.scpu)) {
        if t > 0.0 {
            m.insert(
                "server_cpu_pct_per_gbps".into(),
                json!(round2(c / (t / 1000.0))),
            );
        }
    }
    m.insert("machine_busy_pct_runs".into(), json!(runs.busy));
    m.insert("cpu_steal_pct_runs".into(), json!(runs.steal));
    m.insert("conn_parallel".into(), json!(a.conn_parallel));
    m.insert(
        "conn_per_sec".into(),
        rate.get("per_sec").cloned().unwrap_or(Value::Null),
    );
    m.insert(
        "conn_errors".into(),
        rate.get("errors").cloned().unwrap_or(Value::Null),
    );
    m.insert("conn_server_cpu_pct".into(), json!(u.group_pct[0]));
    m.insert("securenat_mode".into(), json!(mode));
    m.insert("loadavg_1m_before".into(), json!(load));
    m.insert(
        "nproc".into(),
        json!(std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)),
    );
    drop(far);
    Ok(m)
}

fn num(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(|x| x.as_f64())
}

/// Side-by-side table; ratio columns: ours over each SoftEther row.
fn table(a: &SnArgs, rows: &[Value]) -> String {
    let figures = [
        ("throughput Mbit/s (median)", "throughput_mbps"),
        ("ping avg ms (far host)", "ping_avg_ms"),
        ("server CPU % (iperf3)", "server_cpu_pct"),
        ("server CPU % per Gbit/s", "server_cpu_pct_per_gbps"),
        ("client CPU % (iperf3)", "client_cpu_pct"),
        ("fixed-rate Mbit/s received", "fixed_rate_mbps"),
        ("server CPU % at fixed rate", "fixed_rate_server_cpu_pct"),
        ("short TCP conn/s", "conn_per_sec"),
        ("short TCP conn errors", "conn_errors"),
        ("server CPU % (conn/s)", "conn_server_cpu_pct"),
    ];
    let name = |r: &Value| {
        r.get("server")
            .and_then(|x| x.as_str())
            .unwrap_or("?")
            .to_string()
    };
    let ours = rows.iter().position(|r| name(r) == "rustether");
    let mut s = format!(
        "\nSecureNAT: client -> hub -> SecureNAT -> far host ({} s x {} runs, {} parallel short connections for {} s)\n{:<28}",
        a.secs, a.runs, a.conn_parallel, a.conn_secs, "figure"
    );
    for r in rows {
        s.push_str(&format!("{:>20}", name(r)));
    }
    let others: Vec<usize> = (0..rows.len()).filter(|i| Some(*i) != ours).collect();
    if ours.is_some() {
        for i in &others {
            s.push_str(&format!(
                "{:>22}",
                format!("ours/{}", name(&rows[*i]).trim_start_matches("softether-"))
            ));
        }
    }
    s.push('\n');
    for (title, key) in figures {
        s.push_str(&format!("{title:<28}"));
        for r in rows {
            match num(r, key) {
                Some(x) => s.push_str(&format!("{x:>20.2}")),
                None => s.push_str(&format!("{:>20}", "-")),
            }
        }
        if let Some(o) = ours {
            for i in &others {
                match (num(&rows[o], key), num(&rows[*i], key)) {
                    (Some(x), Some(y)) if y != 0.0 => s.push_str(&format!("{:>21.2}x", x / y)),
                    _ => s.push_str(&format!("{:>22}", "-")),
                }
            }
        }
        s.push('\n');
    }
    for r in rows {
        if let Some(e) = r.get("error").and_then(|x| x.as_str()) {
            s.push_str(&format!(
                "{}: FAILED: {}\n",
                name(r),
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
    fn table_has_a_ratio_per_softether_row() {
        let a = SnArgs {
            secs: 1,
            runs: 1,
            server: vec![],
            ours_bin: None,
            ping_count: 1,
            conn_parallel: 100,
            conn_secs: 1,
            fixed_mbps: 30,
            keep_logs: false,
        };
        let rows = vec![
            json!({"server": "rustether", "throughput_mbps": 900.0, "conn_per_sec": 300.0}),
            json!({"server": "softether-usermode", "throughput_mbps": 300.0, "conn_per_sec": 100.0}),
            json!({"server": "softether-default", "throughput_mbps": 450.0}),
        ];
        let t = table(&a, &rows);
        let tput = t.lines().find(|l| l.starts_with("throughput")).unwrap();
        assert!(tput.contains("3.00x") && tput.contains("2.00x"), "{t}");
        let conn = t
            .lines()
            .find(|l| l.starts_with("short TCP conn/s"))
            .unwrap();
        assert!(
            conn.contains("3.00x") && conn.trim_end().ends_with('-'),
            "{t}"
        );
    }
}
