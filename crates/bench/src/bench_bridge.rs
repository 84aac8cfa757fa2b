//! Benchmarks of issue 4, run by `rustether-bench t2` and
//! `rustether-bench cascade` (see `bench/t2.sh`): ours against the real
//! SoftEther 5.01 programs in the same run, on the same topology.
//!
//! * `t2`: a real vpnclient → VPN server → hub DEFAULT → local bridge →
//!   LAN host ([`rustether_testkit::t2`]); ping RTT, iperf3 throughput, CPU of the
//!   server and the client.
//! * `cascade`: a real vpnclient → VPN server hub → cascade → VPN Bridge
//!   hub → local bridge → LAN host ([`rustether_testkit::bridge_lab`]); our server with
//!   our bridge against SoftEther's server with SoftEther's bridge; CPU of
//!   the server, the bridge and the client.
//!
//! Each prints one JSON line per configuration on stdout and a side-by-side
//! table (ratio ours / SoftEther) on stderr.

use std::io::Write as _;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{Context, Result};
use clap::ValueEnum;
use serde_json::{json, Map, Value};

use rustether_testkit::bridge_lab::{CascadeLab, CascadeOptions};
use rustether_testkit::cpu::CpuWindow;
use rustether_testkit::measure::{iperf3, median, ping, wait_ping, IperfOptions};
use rustether_testkit::netns::Netns;
use rustether_testkit::server::ServerKind;
use rustether_testkit::t1::{T1Options, LAN_INNER};
use rustether_testkit::t2::{BridgeMode, T2Lab};
use rustether_testkit::vpnbridge::BridgeKind;

/// Which implementations to measure.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Which {
    /// Only ours.
    Ours,
    /// Only the real SoftEther programs.
    Softether,
    /// Ours first, then SoftEther.
    Both,
}

/// Local bridge mode for `t2`.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// Raw socket on the veth.
    Device,
    /// TAP device in a Linux bridge with the veth.
    Tap,
}

impl Mode {
    fn bridge_mode(self) -> BridgeMode {
        match self {
            Mode::Device => BridgeMode::Device,
            Mode::Tap => BridgeMode::Tap,
        }
    }
}

/// Options shared by both benchmarks.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct Common {
    /// Seconds per iperf3 run.
    #[arg(long, default_value_t = 10)]
    pub secs: u32,
    /// iperf3 runs per configuration (the median is reported).
    #[arg(long, default_value_t = 3)]
    pub runs: u32,
    /// Which implementations to measure.
    #[arg(long, value_enum, default_value_t = Which::Both)]
    pub server: Which,
    /// Our vpnserver binary (default: `vpnserver` next to this program).
    #[arg(long)]
    pub ours_bin: Option<PathBuf>,
    /// Echo requests for the RTT figure (0.2 s apart, idle path).
    #[arg(long, default_value_t = 20)]
    pub ping_count: u32,
    /// iperf3 parallel streams.
    #[arg(long, default_value_t = 1)]
    pub parallel: u32,
    /// iperf3 reverse direction (-R: the LAN host sends).
    #[arg(long)]
    pub reverse: bool,
    /// Client `/MAXTCP` (with QoS on, at least 2 TCP connections).
    #[arg(long, default_value_t = 1)]
    pub max_tcp: u8,
    /// Keep the working directories (logs) afterwards.
    #[arg(long)]
    pub keep_logs: bool,
}

/// `rustether-bench t2`.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct T2Args {
    #[command(flatten)]
    /// Shared options.
    pub common: Common,
    /// Comma-separated local bridge modes.
    #[arg(long, value_enum, value_delimiter = ',', default_value = "device")]
    pub mode: Vec<Mode>,
}

/// `rustether-bench cascade`.
#[derive(clap::Args, Debug, Clone)]
pub(crate) struct CascadeArgs {
    #[command(flatten)]
    /// Shared options (`--server` selects the pairs: ours = our server with
    /// our bridge, softether = SoftEther's server with SoftEther's bridge).
    pub common: Common,
    /// Our vpnbridge binary (default: `vpnbridge` next to this program).
    #[arg(long)]
    pub ours_bridge_bin: Option<PathBuf>,
    /// The cascade's MaxConnection (SoftEther's default 8).
    #[arg(long, default_value_t = 8)]
    pub cascade_max_connection: u32,
}

fn log(msg: &str) {
    eprintln!("bench: {msg}");
}

fn sibling_bin(name: &str) -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    Ok(exe
        .parent()
        .context("executable has no directory")?
        .join(name))
}

fn round2(x: f64) -> f64 {
    (x * 100.0).round() / 100.0
}

/// A path to measure: ping and iperf3 from `src` to `dst_addr` in `dst`,
/// with CPU of the named process groups.
struct PathSpec<'a> {
    src: &'a Netns,
    src_addr: Ipv4Addr,
    dst: &'a Netns,
    dst_addr: Ipv4Addr,
    /// (JSON key prefix, process group id).
    groups: Vec<(&'static str, i32)>,
    log_dir: PathBuf,
}

/// Ping (idle path), then `runs` iperf3 runs with CPU windows; the JSON
/// fields of the measurement.
fn measure(c: &Common, p: &PathSpec) -> Result<Map<String, Value>> {
    wait_ping(p.src, p.dst_addr, Duration::from_secs(30))?;
    let pr = ping(p.src, p.dst_addr, c.ping_count, Duration::from_millis(200))?;
    log(&format!(
        "ping {} -> {}: avg {} ms, loss {}%",
        p.src_addr,
        p.dst_addr,
        pr.rtt_avg_ms.map_or("-".into(), |v| v.to_string()),
        pr.loss_pct
    ));
    let mut opts = IperfOptions::new(c.secs);
    opts.parallel = c.parallel;
    opts.reverse = c.reverse;
    opts.bind = Some(p.src_addr);
    let pids: Vec<i32> = p.groups.iter().map(|g| g.1).collect();
    let (mut tput, mut retr, mut busy, mut steal) = (vec![], vec![], vec![], vec![]);
    let mut cpu: Vec<Vec<f64>> = vec![Vec::new(); pids.len()];
    for run in 1..=c.runs {
        let w = CpuWindow::start(&pids);
        let r = iperf3(p.dst, p.src, p.dst_addr, &opts, &p.log_dir)?;
        let u = w.finish();
        let per: Vec<String> = p
            .groups
            .iter()
            .zip(&u.group_pct)
            .map(|((k, _), v)| format!("{k} {v:.1}%"))
            .collect();
        log(&format!(
            "run {run}/{}: {:.2} Mbit/s (retransmits {}), cpu: {}, machine busy {:.1}%, steal {:.1}%",
            c.runs,
            r.mbps,
            r.retransmits.map_or("-".into(), |v| v.to_string()),
            per.join(", "),
            u.machine_busy_pct,
            u.steal_pct
        ));
        tput.push(r.mbps);
        retr.push(r.retransmits);
        for (i, v) in u.group_pct.iter().enumerate() {
            cpu[i].push(*v);
        }
        busy.push(u.machine_busy_pct);
        steal.push(u.steal_pct);
        if run < c.runs {
            std::thread::sleep(Duration::from_secs(1));
        }
    }
    let mut m = Map::new();
    m.insert(
        "path".into(),
        json!(format!("{}->{}", p.src_addr, p.dst_addr)),
    );
    m.insert("duration_s".into(), json!(c.secs));
    m.insert("runs".into(), json!(c.runs));
    m.insert("parallel".into(), json!(c.parallel));
    m.insert("reverse".into(), json!(c.reverse));
    m.insert("throughput_mbps".into(), json!(median(&tput).map(round2)));
    m.insert("throughput_mbps_runs".into(), json!(tput));
    m.insert("retransmits_runs".into(), json!(retr));
    m.insert("ping_avg_ms".into(), json!(pr.rtt_avg_ms));
    m.insert("ping_median_ms".into(), json!(pr.rtt_median_ms));
    m.insert("ping_min_ms".into(), json!(pr.rtt_min_ms));
    m.insert("ping_max_ms".into(), json!(pr.rtt_max_ms));
    m.insert("ping_mdev_ms".into(), json!(pr.rtt_mdev_ms));
    m.insert("ping_loss_pct".into(), json!(pr.loss_pct));
    m.insert("ping_count".into(), json!(pr.sent));
    for (i, (k, _)) in p.groups.iter().enumerate() {
        m.insert(format!("{k}_cpu_pct"), json!(median(&cpu[i]).map(round2)));
        m.insert(format!("{k}_cpu_pct_runs"), json!(cpu[i]));
    }
    m.insert("machine_busy_pct_runs".into(), json!(busy));
    m.insert("cpu_steal_pct_runs".into(), json!(steal));
    m.insert(
        "nproc".into(),
        json!(std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(0)),
    );
    Ok(m)
}

fn loadavg() -> Option<f64> {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok())
}

fn check_common(c: &Common) -> Result<()> {
    anyhow::ensure!(c.secs >= 1 && c.runs >= 1, "--secs and --runs must be >= 1");
    anyhow::ensure!((1..=32).contains(&c.max_tcp), "--max-tcp must be 1..=32");
    Ok(())
}

fn emit(v: &Value) {
    println!("{v}");
    let _ = std::io::stdout().flush();
}

/// `rustether-bench t2`: every (mode, server); Ok(false) if one failed.
///
/// Errors: bad arguments or our binary cannot be located.
pub(crate) fn bench_t2(a: &T2Args) -> Result<bool> {
    let c = &a.common;
    check_common(c)?;
    let ours = match &c.ours_bin {
        Some(p) => p.clone(),
        None => sibling_bin("vpnserver")?,
    };
    let mut kinds = Vec::new();
    if c.server != Which::Softether {
        kinds.push(ServerKind::Ours(ours));
    }
    if c.server != Which::Ours {
        kinds.push(ServerKind::SoftEther);
    }
    let mut ok = true;
    let mut tables = Vec::new();
    for mode in &a.mode {
        let mut rows = Vec::new();
        for k in &kinds {
            let m = mode.bridge_mode();
            log(&format!("T2 {} with {}", m.name(), k.label()));
            let mut v = match measure_t2(c, m, k) {
                Ok(m) => Value::Object(m),
                Err(e) => {
                    ok = false;
                    log(&format!(
                        "FAILED: T2 {} with {}: {e:#}",
                        m.name(),
                        k.label()
                    ));
                    json!({"error": format!("{e:#}")})
                }
            };
            let o = v.as_object_mut().expect("object");
            o.insert("test".into(), json!("T2"));
            o.insert("bridge_mode".into(), json!(m.name()));
            o.insert("server".into(), json!(k.label()));
            emit(&v);
            rows.push(v);
        }
        tables.push(table(
            &format!(
                "T2 {} ({} s x {} runs)",
                mode.bridge_mode().name(),
                c.secs,
                c.runs
            ),
            &rows,
            &[
                ("throughput Mbit/s (median)", "throughput_mbps"),
                ("ping avg ms", "ping_avg_ms"),
                ("server CPU % of one core", "server_cpu_pct"),
                ("client CPU %", "client_cpu_pct"),
            ],
        ));
    }
    for t in tables {
        eprintln!("{t}");
    }
    Ok(ok)
}

fn measure_t2(c: &Common, mode: BridgeMode, kind: &ServerKind) -> Result<Map<String, Value>> {
    let load = loadavg();
    let opts = T1Options {
        n_clients: 1,
        max_tcp: c.max_tcp,
        ..T1Options::default()
    };
    let mut lab = T2Lab::start(&format!("bench-t2-{}", kind.label()), kind, mode, opts)?;
    if c.keep_logs {
        lab.lab.keep_dir();
    }
    let want = lab.lab.expected_tcp_connections();
    lab.lab
        .wait_tcp_connections(0, want, Duration::from_secs(30))?;
    let srv = lab.lab.server()?.pid();
    let cli = lab.lab.clients[0].client.pid();
    let spec = PathSpec {
        src: lab.client_ns(),
        src_addr: lab.client_inner(),
        dst: lab.lan_ns(),
        dst_addr: LAN_INNER,
        groups: vec![("server", srv), ("client", cli)],
        log_dir: lab.lab.dir().join("logs"),
    };
    let mut m = measure(c, &spec)?;
    lab.lab.server.as_mut().expect("started").ensure_running()?;
    let st = lab.lab.clients[0]
        .client
        .status(&lab.lab.clients[0].account)?;
    m.insert("client_max_tcp".into(), json!(c.max_tcp));
    m.insert("tcp_connections".into(), json!(st.tcp_connections()));
    m.insert("encryption".into(), json!(st.cipher()));
    m.insert("loadavg_1m_before".into(), json!(load));
    Ok(m)
}

/// `rustether-bench cascade`: every (server, bridge) pair; Ok(false) if one failed.
///
/// Errors: bad arguments or our binaries cannot be located.
pub(crate) fn bench_cascade(a: &CascadeArgs) -> Result<bool> {
    let c = &a.common;
    check_common(c)?;
    anyhow::ensure!(
        (1..=32).contains(&a.cascade_max_connection),
        "--cascade-max-connection must be 1..=32"
    );
    let ours_srv = match &c.ours_bin {
        Some(p) => p.clone(),
        None => sibling_bin("vpnserver")?,
    };
    let ours_brg = match &a.ours_bridge_bin {
        Some(p) => p.clone(),
        None => sibling_bin("vpnbridge")?,
    };
    let mut pairs = Vec::new();
    if c.server != Which::Softether {
        pairs.push((ServerKind::Ours(ours_srv), BridgeKind::Ours(ours_brg)));
    }
    if c.server != Which::Ours {
        pairs.push((ServerKind::SoftEther, BridgeKind::SoftEther));
    }
    let mut ok = true;
    let mut rows = Vec::new();
    for (s, b) in &pairs {
        log(&format!("cascade: {} -> {}", b.label(), s.label()));
        let mut v = match measure_cascade(a, s, b) {
            Ok(m) => Value::Object(m),
            Err(e) => {
                ok = false;
                log(&format!(
                    "FAILED: cascade {} -> {}: {e:#}",
                    b.label(),
                    s.label()
                ));
                json!({"error": format!("{e:#}")})
            }
        };
        let o = v.as_object_mut().expect("object");
        o.insert("test".into(), json!("cascade"));
        o.insert("server".into(), json!(s.label()));
        o.insert("bridge".into(), json!(b.label()));
        o.insert(
            "cascade_max_connection".into(),
            json!(a.cascade_max_connection),
        );
        emit(&v);
        rows.push(v);
    }
    eprintln!(
        "{}",
        table(
            &format!(
                "cascade: client -> server hub -> cascade -> bridge -> LAN ({} s x {} runs)",
                c.secs, c.runs
            ),
            &rows,
            &[
                ("throughput Mbit/s (median)", "throughput_mbps"),
                ("ping avg ms", "ping_avg_ms"),
                ("server CPU % of one core", "server_cpu_pct"),
                ("bridge CPU % of one core", "bridge_cpu_pct"),
                ("client CPU %", "client_cpu_pct"),
            ],
        )
    );
    Ok(ok)
}

fn measure_cascade(
    a: &CascadeArgs,
    server: &ServerKind,
    bridge: &BridgeKind,
) -> Result<Map<String, Value>> {
    let c = &a.common;
    let load = loadavg();
    let opts = CascadeOptions {
        client_max_tcp: c.max_tcp,
        cascade_max_connection: a.cascade_max_connection,
        ..CascadeOptions::default()
    };
    let mut lab = CascadeLab::start(
        &format!("bench-cascade-{}", server.label()),
        server,
        bridge,
        opts,
    )?;
    if c.keep_logs {
        lab.keep_dir();
    }
    // Let the cascade and the client add their extra TCP connections
    // (one per second) before measuring.
    std::thread::sleep(Duration::from_secs(u64::from(a.cascade_max_connection) + 2));
    let srv = lab.server()?.pid();
    let brg = lab.bridge()?.pid();
    let cli = lab.client.as_ref().context("client")?.pid();
    let spec = PathSpec {
        src: &lab.topo.client,
        src_addr: lab.client_inner(),
        dst: &lab.topo.lan,
        dst_addr: LAN_INNER,
        groups: vec![("server", srv), ("bridge", brg), ("client", cli)],
        log_dir: lab.dir().join("logs"),
    };
    let mut m = measure(c, &spec)?;
    lab.server.as_mut().expect("started").ensure_running()?;
    lab.bridge_mut()?.ensure_running()?;
    let st = lab
        .client
        .as_ref()
        .context("client")?
        .status(rustether_testkit::bridge_lab::ACCOUNT)?;
    m.insert("client_max_tcp".into(), json!(c.max_tcp));
    m.insert("tcp_connections".into(), json!(st.tcp_connections()));
    m.insert("encryption".into(), json!(st.cipher()));
    m.insert("loadavg_1m_before".into(), json!(load));
    Ok(m)
}

fn num(v: &Value, k: &str) -> Option<f64> {
    v.get(k).and_then(|x| x.as_f64())
}

/// Side-by-side table; with two rows a ratio column (first / second).
fn table(title: &str, rows: &[Value], figures: &[(&str, &str)]) -> String {
    let mut s = format!("\n{title}\n{:<30}", "figure");
    for r in rows {
        let server = r.get("server").and_then(|x| x.as_str()).unwrap_or("?");
        let name = match r.get("bridge").and_then(|x| x.as_str()) {
            Some(b) => {
                let who = |l: &str| {
                    if l.starts_with("rustether") {
                        "ours"
                    } else {
                        "SoftEther"
                    }
                };
                format!("{} server+{} bridge", who(server), who(b))
            }
            None => server.to_string(),
        };
        s.push_str(&format!("{name:>34}"));
    }
    let ratio = rows.len() == 2;
    if ratio {
        s.push_str(&format!("{:>16}", "ours/SoftEther"));
    }
    s.push('\n');
    for (title, key) in figures {
        s.push_str(&format!("{title:<30}"));
        let vals: Vec<Option<f64>> = rows.iter().map(|r| num(r, key)).collect();
        for x in &vals {
            match x {
                Some(x) => s.push_str(&format!("{x:>34.2}")),
                None => s.push_str(&format!("{:>34}", "-")),
            }
        }
        if ratio {
            match (vals[0], vals[1]) {
                (Some(o), Some(se)) if se != 0.0 => s.push_str(&format!("{:>15.2}x", o / se)),
                _ => s.push_str(&format!("{:>16}", "-")),
            }
        }
        s.push('\n');
    }
    for r in rows {
        if let Some(e) = r.get("error").and_then(|x| x.as_str()) {
            s.push_str(&format!(
                "{}: FAILED: {}\n",
                r.get("server").and_then(|x| x.as_str()).unwrap_or("?"),
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
    fn table_has_ratio_for_two_rows() {
        let rows = vec![
            json!({"server": "rustether", "throughput_mbps": 900.0, "ping_avg_ms": 0.5}),
            json!({"server": "softether-vpnserver", "throughput_mbps": 450.0, "ping_avg_ms": 0.5}),
        ];
        let t = table(
            "T2",
            &rows,
            &[
                ("tput", "throughput_mbps"),
                ("rtt", "ping_avg_ms"),
                ("cpu", "server_cpu_pct"),
            ],
        );
        assert!(t.contains("2.00x"), "{t}");
        assert!(t.contains("1.00x"), "{t}");
        let cpu = t.lines().find(|l| l.starts_with("cpu")).unwrap();
        assert!(cpu.trim_end().ends_with('-'), "{t}");
    }
}
