//! Control-plane load generator for SoftEther-protocol VPN servers (ours and
//! the real SoftEther VPN Server), built on our client code
//! ([`rustether_server::client`]).
//!
//! ```text
//! loadgen login  --count N --concurrency C  [target options]
//! loadgen hold   --sessions L1,L2,... --hold S --concurrency C  [target options]
//! loadgen soak   --sessions N --duration S --mean-life S --frames-per-s F  [target options]
//! loadgen config --out FILE --port P --user U --password PW
//! ```
//!
//! * `login`: N logins (C in flight); every connection is closed (TLS
//!   close_notify + FIN) right after the welcome. Reports logins per second,
//!   latency percentiles (TCP connect start until the welcome is parsed),
//!   failures by SoftEther error code.
//! * `hold`: opens sessions up to each level in turn, keeps every session
//!   alive for S seconds (a keep-alive right away, then every uniform
//!   1/5..1/2 of the welcome's `timeout`, reading and discarding what the
//!   server sends), counts the survivors, then closes everything.
//! * `soak`: keeps N sessions for S seconds with traffic and churn: every
//!   session sends frames of `--frame-len` bytes to its pair session
//!   (index xor 1) at `--frames-per-s`, keep-alives at SoftEther's pace, and
//!   ends after a random lifetime (uniform 0..2 × `--mean-life`), when it
//!   logs in again; the server's RSS, fds, threads and CPU are sampled every
//!   `--sample-interval` s and checked for flatness after `--warmup` s
//!   (bench/soak.sh).
//! * `config`: writes a SoftEther-format `vpn_server.config` that both our
//!   server and the real SoftEther server read: one listener, hub DEFAULT
//!   with one password user, every internet feature off.
//!
//! Every session asks for `max_connection=1`, `use_encrypt=1`,
//! `use_compress=0`, `qos=0` (one TCP connection, TLS kept for the data
//! phase). With `--server-pid` the server's VmRSS, VmHWM, thread count, open
//! fds and CPU time (utime+stime) are sampled from `/proc` at the start and
//! end of each phase. One JSON line per run on stdout; progress on stderr.
//!
//! Bounds: the target must be a loopback, private or link-local IP literal;
//! every protocol step is bounded by the client's 15 s `CONNECTING_TIMEOUT`
//! and each whole login by `--login-timeout`; the run by `--max-time` (a
//! watchdog ends the process 60 s after that); no new logins after
//! `--max-failures` failures. Exit status: 0 all logins succeeded and every
//! session survived; 1 failures or lost sessions; 2 bad arguments or
//! environment; 3 aborted (time limit, too many failures, signal, server
//! process gone).
#![forbid(unsafe_code)]

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use clap::{Args, Parser, Subcommand};
use rand::Rng;
use rustether_config::{Edition, ServerConfig, UserAuth, UserConfig};
use rustether_proto::block::{keepalive_interval_ms, keepalive_len, BlockDecoder, BlockEncoder};
use rustether_proto::messages::{Hello, LoginRequest, Welcome};
use rustether_proto::password::{hash_password, secure_password};
use rustether_proto::ErrorCode;
use rustether_server::client::{ClientConn, ClientError, ClientTarget};
use rustether_server::transport::DataStream;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::watch;

// ------------------------------------------------------------------ CLI

#[derive(Parser, Debug)]
#[command(
    name = "loadgen",
    about = "Control-plane load generator: SoftEther logins per second and idle sessions"
)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// N logins, C in flight, each connection closed right after the welcome.
    Login {
        /// Number of logins (1..=1 000 000).
        #[arg(long, short = 'n', default_value_t = 500)]
        count: usize,
        #[command(flatten)]
        common: Common,
    },
    /// Open sessions up to each level, keep them alive, count the survivors.
    Hold {
        /// Increasing session levels, e.g. 1000,3000,5000 (each ≤ 200 000).
        #[arg(long, default_value = "100")]
        sessions: String,
        /// Seconds each level is held.
        #[arg(long, default_value_t = 15.0)]
        hold: f64,
        /// Seconds between server samples during a hold.
        #[arg(long, default_value_t = 5.0)]
        sample_interval: f64,
        /// After closing all sessions, keep sampling the server this long (s).
        #[arg(long, default_value_t = 0.0)]
        after_close: f64,
        /// Then try this many sequential logins (each closed at once) to see
        /// whether the server serves again.
        #[arg(long, default_value_t = 0)]
        probe_after_close: usize,
        #[command(flatten)]
        common: Common,
    },
    /// N sessions with traffic and churn for a long time; the server's
    /// RSS, fds and threads sampled and checked for flatness.
    Soak {
        /// Sessions kept open (each one re-logs in after its lifetime).
        #[arg(long, default_value_t = 1000)]
        sessions: usize,
        /// Seconds the soak runs.
        #[arg(long, default_value_t = 1800.0)]
        duration: f64,
        /// Mean lifetime of a session, seconds (uniform 0..2 × this;
        /// 0 = no churn).
        #[arg(long, default_value_t = 300.0)]
        mean_life: f64,
        /// Frames each session sends per second to its pair session.
        #[arg(long, default_value_t = 5.0)]
        frames_per_s: f64,
        /// Ethernet frame length, bytes (60..=1514).
        #[arg(long, default_value_t = 512)]
        frame_len: usize,
        /// Seconds between server samples.
        #[arg(long, default_value_t = 10.0)]
        sample_interval: f64,
        /// Samples before this many seconds are not checked for flatness
        /// (two mean lifetimes: every first session replaced once).
        #[arg(long, default_value_t = 600.0)]
        warmup: f64,
        /// Largest allowed deviation from the median after warm-up, percent.
        #[arg(long, default_value_t = 5.0)]
        flat_pct: f64,
        #[command(flatten)]
        common: Common,
    },
    /// Side-by-side table (ours vs SoftEther) from the JSON lines of earlier runs.
    Report {
        /// Files with one JSON result per line (`-` = stdin).
        files: Vec<PathBuf>,
        /// Label of our server in the results.
        #[arg(long, default_value = "ours")]
        ours: String,
        /// Label of the reference server.
        #[arg(long, default_value = "softether")]
        reference: String,
    },
    /// Write a SoftEther-format vpn_server.config for both servers.
    Config {
        /// Output file.
        #[arg(long)]
        out: PathBuf,
        /// The only listener's TCP port.
        #[arg(long, default_value_t = 5555)]
        port: u16,
        /// Virtual hub (created if it is not the default one).
        #[arg(long, default_value = "DEFAULT")]
        hub: String,
        /// User name (password authentication).
        #[arg(long)]
        user: String,
        /// Password of --user.
        #[arg(long)]
        password: String,
        /// Leave the certificate out (each server then generates its own).
        /// By default a fresh self-signed RSA-2048 certificate and key (as
        /// SoftEther generates) go into the file, so that servers given
        /// copies of it do the same TLS work per login.
        #[arg(long)]
        no_cert: bool,
    },
}

#[derive(Args, Debug, Clone)]
struct Common {
    /// Server address (an IP literal: loopback, private or link-local).
    #[arg(long)]
    server: IpAddr,
    /// Server TCP port.
    #[arg(long, default_value_t = 5555)]
    port: u16,
    /// Virtual hub.
    #[arg(long, default_value = "DEFAULT")]
    hub: String,
    /// User name.
    #[arg(long)]
    user: String,
    /// Password.
    #[arg(long)]
    password: String,
    /// Local source addresses used round robin: `a,b,c` or `A.B.C.D-E`
    /// (last-octet range). One address has only ~28 000 ephemeral ports.
    #[arg(long)]
    sources: Option<String>,
    /// Logins in flight at once (1 = sequential).
    #[arg(long, short = 'c', default_value_t = 1)]
    concurrency: usize,
    /// Pid of the server process: sample VmRSS, threads, fds, CPU from /proc.
    #[arg(long)]
    server_pid: Option<u32>,
    /// Name of the server under test, copied into the JSON (`server`).
    #[arg(long)]
    label: Option<String>,
    /// Upper bound of one whole login (connect .. welcome), seconds.
    #[arg(long, default_value_t = 40.0)]
    login_timeout: f64,
    /// Bound of each write in the data phase, seconds.
    #[arg(long, default_value_t = 15.0)]
    step_timeout: f64,
    /// Hard limit for the whole run, seconds.
    #[arg(long, default_value_t = 900.0)]
    max_time: f64,
    /// Stop starting new logins after this many failed ones.
    #[arg(long, default_value_t = 20)]
    max_failures: usize,
    /// Seconds between progress lines on stderr.
    #[arg(long, default_value_t = 5.0)]
    progress_interval: f64,
    /// Tokio worker threads (default: number of CPUs).
    #[arg(long)]
    threads: Option<usize>,
    /// Name of this phase, copied into the JSON (`phase`).
    #[arg(long)]
    phase: Option<String>,
    /// Stop opening sessions when the machine's MemAvailable drops below
    /// this many MiB (protects a shared machine).
    #[arg(long, default_value_t = 2048)]
    min_mem_available_mib: u64,
}

// ------------------------------------------------------------------ /proc sampling

/// One sample of a process from /proc: memory in KiB, CPU in seconds.
#[derive(Clone, Copy, Debug)]
struct ProcSample {
    t: Instant,
    rss_kib: u64,
    hwm_kib: u64,
    threads: u64,
    fds: u64,
    cpu_s: f64,
}

fn clk_tck() -> f64 {
    rustether_testkit::cpu::clk_tck() as f64
}

/// Samples `/proc/<pid>` (status, stat, fd/); `None` when the process is gone.
fn sample_proc(pid: &str) -> Option<ProcSample> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    if status
        .lines()
        .any(|l| l.starts_with("State:") && l.contains('Z'))
    {
        return None;
    }
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the `(comm)`: state is field 3; utime 14, stime 15.
    let rest = &stat[stat.rfind(')')? + 2..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?;
    let fds = std::fs::read_dir(format!("/proc/{pid}/fd"))
        .map(|d| d.count() as u64)
        .unwrap_or(0);
    Some(ProcSample {
        t: Instant::now(),
        rss_kib: field("VmRSS:"),
        hwm_kib: field("VmHWM:"),
        threads: field("Threads:"),
        fds,
        cpu_s: ticks as f64 / clk_tck(),
    })
}

fn brief(s: &Option<ProcSample>) -> Value {
    match s {
        None => Value::Null,
        Some(s) => json!({
            "rss_kib": s.rss_kib, "hwm_kib": s.hwm_kib, "threads": s.threads,
            "fds": s.fds, "cpu_s": round(s.cpu_s, 2),
        }),
    }
}

/// Whole-machine CPU jiffies from /proc/stat: (total, busy, steal).
fn machine_cpu() -> Option<(u64, u64, u64)> {
    let s = std::fs::read_to_string("/proc/stat").ok()?;
    let v: Vec<u64> = s
        .lines()
        .next()?
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    if v.len() < 8 {
        return None;
    }
    let total: u64 = v[..8].iter().sum();
    let idle = v[3] + v[4];
    let steal = v[7];
    Some((total, total - idle - steal, steal))
}

fn machine_delta(a: Option<(u64, u64, u64)>, b: Option<(u64, u64, u64)>) -> Value {
    match (a, b) {
        (Some(a), Some(b)) if b.0 > a.0 => {
            let dt = (b.0 - a.0) as f64;
            json!({
                "busy_pct": round((b.1 - a.1) as f64 * 100.0 / dt, 1),
                "steal_pct": round((b.2 - a.2) as f64 * 100.0 / dt, 1),
            })
        }
        _ => Value::Null,
    }
}

/// loadgen's own CPU seconds and RSS.
fn client_stats() -> Value {
    let s = sample_proc("self");
    json!({
        "cpu_s": s.map(|s| round(s.cpu_s, 2)),
        "rss_kib": s.map(|s| s.rss_kib),
        "threads": s.map(|s| s.threads),
    })
}

fn loadavg() -> Value {
    std::fs::read_to_string("/proc/loadavg")
        .ok()
        .map(|s| {
            Value::from(
                s.split_whitespace()
                    .take(3)
                    .filter_map(|x| x.parse::<f64>().ok())
                    .collect::<Vec<_>>(),
            )
        })
        .unwrap_or(Value::Null)
}

fn round(v: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (v * m).round() / m
}

/// Percentile with linear interpolation between ranks; `sorted` ascending.
fn pctl(sorted: &[f64], p: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    let k = (sorted.len() - 1) as f64 * p / 100.0;
    let (lo, hi) = (k.floor() as usize, k.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (k - lo as f64)
}

fn latency_summary(mut v: Vec<f64>) -> Value {
    if v.is_empty() {
        return Value::Null;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    json!({
        "min": round(v[0], 2), "p50": round(pctl(&v, 50.0), 2), "p90": round(pctl(&v, 90.0), 2),
        "p99": round(pctl(&v, 99.0), 2), "max": round(v[v.len() - 1], 2), "mean": round(mean, 2),
    })
}

// ------------------------------------------------------------------ run state

/// Settings and shared counters of one run.
struct Run {
    target_host: String,
    port: u16,
    hub: String,
    user: String,
    hashed: [u8; 20],
    unique_id: [u8; 20],
    sources: Vec<IpAddr>,
    concurrency: usize,
    login_timeout: Duration,
    step_timeout: Duration,
    max_failures: usize,
    deadline: Instant,
    server_pid: Option<String>,
    /// Why the run stopped early (first reason wins).
    aborted: Mutex<Option<String>>,
    stop: AtomicBool,
    failures: Mutex<BTreeMap<String, u64>>,
    n_failed: AtomicUsize,
    first_welcome: Mutex<Option<Value>>,
    min_mem_kib: u64,
}

/// MemAvailable of the machine, KiB.
fn mem_available_kib() -> Option<u64> {
    std::fs::read_to_string("/proc/meminfo")
        .ok()?
        .lines()
        .find_map(|l| {
            l.strip_prefix("MemAvailable:")
                .and_then(|v| v.split_whitespace().next())
                .and_then(|v| v.parse().ok())
        })
}

impl Run {
    /// Aborts the run when the machine runs short of memory.
    fn check_memory(&self) {
        if let Some(m) = mem_available_kib() {
            if m < self.min_mem_kib {
                self.abort(format!(
                    "machine MemAvailable {} MiB below --min-mem-available-mib {}",
                    m / 1024,
                    self.min_mem_kib / 1024
                ));
            }
        }
    }

    fn abort(&self, why: impl Into<String>) {
        let mut a = self.aborted.lock().unwrap();
        if a.is_none() {
            *a = Some(why.into());
        }
        self.stop.store(true, Ordering::SeqCst);
    }

    fn stopping(&self) -> bool {
        if self.stop.load(Ordering::Relaxed) {
            return true;
        }
        if Instant::now() >= self.deadline {
            self.abort("time limit --max-time reached");
            return true;
        }
        false
    }

    fn note_failure(&self, key: String) {
        *self.failures.lock().unwrap().entry(key).or_insert(0) += 1;
        let n = self.n_failed.fetch_add(1, Ordering::SeqCst) + 1;
        if n > self.max_failures {
            self.abort(format!(
                "more than {} failed logins (--max-failures)",
                self.max_failures
            ));
        }
    }

    fn sample(&self) -> Option<ProcSample> {
        self.server_pid.as_deref().and_then(sample_proc)
    }

    fn target(&self, idx: usize) -> ClientTarget {
        ClientTarget {
            host: self.target_host.clone(),
            port: self.port,
            source: if self.sources.is_empty() {
                None
            } else {
                Some(self.sources[idx % self.sources.len()])
            },
            not_this_host: false,
        }
    }

    fn login_request(&self, hello: &Hello) -> LoginRequest {
        let sp = secure_password(&self.hashed, &hello.random);
        let mut r = LoginRequest::cascade(&self.hub, &self.user, sp, self.unique_id);
        // A plain VPN client session, like the SoftEther client with
        // /MAXTCP:1 and QoS off (not a cascade in bridge/routing mode).
        r.client_str = "SoftEther VPN Client".into();
        r.hello = r.client_str.clone();
        r.require_bridge_routing_mode = false;
        r.max_connection = 1;
        r.use_encrypt = true;
        r.use_compress = false;
        r.qos = false;
        r
    }
}

/// Timings of one successful login, milliseconds.
struct LoginTiming {
    total: f64,
    connect_hello: f64,
    login_welcome: f64,
}

/// Failure key: `PHASE:ERR_NAME(code)[:kind]`, kind from the OS error text
/// for connection-level errors.
fn failure_key(phase: &str, e: &ClientError) -> String {
    let d = e.detail.to_ascii_lowercase();
    let kind = if d.contains("refused") {
        ":refused"
    } else if d.contains("reset") {
        ":reset"
    } else if d.contains("timed out") {
        ":timeout"
    } else if d.contains("cannot assign requested address") {
        ":no-local-port"
    } else if d.contains("too many open files") {
        ":emfile"
    } else if d.contains("closed the connection") || d.contains("eof") {
        ":closed"
    } else if e.code == ErrorCode::CONNECT_FAILED || e.code == ErrorCode::DISCONNECTED {
        ":other"
    } else {
        ""
    };
    format!("{phase}:{}({}){kind}", e.code.name(), e.code.0)
}

/// One full login: TCP, TLS, signature, hello, login PACK, welcome.
async fn login_once(run: &Run, idx: usize) -> Result<(Welcome, ClientConn, LoginTiming), String> {
    let t0 = Instant::now();
    let target = run.target(idx);
    let fut = async {
        let (mut conn, hello) = ClientConn::connect(&target)
            .await
            .map_err(|e| failure_key("connect", &e))?;
        let t1 = Instant::now();
        let req = run.login_request(&hello);
        let reply = conn
            .request(&req.to_pack())
            .await
            .map_err(|e| failure_key("welcome", &e))?;
        let welcome = Welcome::from_pack(&reply)
            .map_err(|code| format!("welcome:malformed:{}({})", code.name(), code.0))?;
        if welcome.timeout_ms == 0 {
            return Err("welcome:timeout-0".to_string());
        }
        if !welcome.use_encrypt {
            return Err("welcome:server-chose-no-encryption".to_string());
        }
        if welcome.use_compress {
            return Err("welcome:server-chose-compression".to_string());
        }
        let t2 = Instant::now();
        Ok((
            welcome,
            conn,
            LoginTiming {
                total: ms(t2 - t0),
                connect_hello: ms(t1 - t0),
                login_welcome: ms(t2 - t1),
            },
        ))
    };
    match tokio::time::timeout(run.login_timeout, fut).await {
        Ok(r) => r,
        Err(_) => Err("login:overall-timeout".into()),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn welcome_json(w: &Welcome) -> Value {
    let mut pol = serde_json::Map::new();
    for name in ["MultiLogins", "MaxConnection", "TimeOut"] {
        pol.insert(format!("policy:{name}"), json!(w.policy_value(name)));
    }
    let mut v = json!({
        "timeout_ms": w.timeout_ms, "max_connection": w.max_connection,
        "use_encrypt": w.use_encrypt, "use_compress": w.use_compress, "qos": w.qos,
        "session_name_example": w.session_name,
    });
    v.as_object_mut().unwrap().extend(pol);
    v
}

fn note_welcome(run: &Run, w: &Welcome, conn: &ClientConn) {
    let mut f = run.first_welcome.lock().unwrap();
    if f.is_none() {
        let mut v = welcome_json(w);
        v["server_cert"] = cert_json(&conn.server_cert);
        *f = Some(v);
    }
}

/// Key algorithm (from the SubjectPublicKeyInfo OID found in the DER), size
/// and a fingerprint (SipHash, only to tell certificates apart) of the
/// server certificate.
fn cert_json(der: &[u8]) -> Value {
    use std::hash::{Hash, Hasher};
    const RSA: &[u8] = &[
        0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
    ];
    const EC: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
    const ED25519: &[u8] = &[0x06, 0x03, 0x2b, 0x65, 0x70];
    let has = |oid: &[u8]| der.windows(oid.len()).any(|w| w == oid);
    let alg = if has(RSA) {
        "rsa"
    } else if has(EC) {
        "ec"
    } else if has(ED25519) {
        "ed25519"
    } else {
        "unknown"
    };
    let mut h = std::collections::hash_map::DefaultHasher::new();
    der.hash(&mut h);
    json!({"key": alg, "der_bytes": der.len(), "fingerprint": format!("{:016x}", h.finish())})
}

/// TLS version and cipher suite of a data stream (client side).
fn tls_json(s: &DataStream) -> Value {
    match s {
        DataStream::TlsClient(t) => {
            let c = t.get_ref().1;
            json!({
                "version": c.protocol_version().map(|v| format!("{v:?}")),
                "cipher": c.negotiated_cipher_suite().map(|s| format!("{:?}", s.suite())),
            })
        }
        _ => Value::Null,
    }
}

/// Background closes: TLS close_notify + FIN, bounded by the client (0.5 s).
fn close_in_background(conn: ClientConn, closers: &Arc<AtomicUsize>) {
    closers.fetch_add(1, Ordering::SeqCst);
    let c = closers.clone();
    tokio::spawn(async move {
        conn.close().await;
        c.fetch_sub(1, Ordering::SeqCst);
    });
}

async fn drain(counter: &AtomicUsize, limit: Duration) {
    let end = Instant::now() + limit;
    while counter.load(Ordering::SeqCst) > 0 && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn spawn_progress(
    interval: f64,
    what: &'static str,
    f: impl Fn() -> String + Send + 'static,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(Duration::from_secs_f64(interval.max(0.2)));
        tick.tick().await;
        loop {
            tick.tick().await;
            eprintln!("loadgen: {what}: {}", f());
        }
    })
}

// ------------------------------------------------------------------ login mode

async fn run_login(run: Arc<Run>, count: usize, progress: f64) -> (Value, bool) {
    let next = Arc::new(AtomicUsize::new(0));
    let ok = Arc::new(AtomicUsize::new(0));
    let timings = Arc::new(Mutex::new(Vec::with_capacity(count)));
    let closers = Arc::new(AtomicUsize::new(0));
    let srv0 = run.sample();
    let m0 = machine_cpu();
    let c0 = sample_proc("self");
    let t0 = Instant::now();
    let prog = {
        let (ok, run) = (ok.clone(), run.clone());
        spawn_progress(progress, "login", move || {
            let n = ok.load(Ordering::Relaxed);
            format!(
                "{n} ok, {} failed of {count} ({:.1}/s)",
                run.n_failed.load(Ordering::Relaxed),
                n as f64 / t0.elapsed().as_secs_f64()
            )
        })
    };
    let mut workers = Vec::new();
    for _ in 0..run.concurrency.min(count) {
        let (run, next, ok, timings, closers) = (
            run.clone(),
            next.clone(),
            ok.clone(),
            timings.clone(),
            closers.clone(),
        );
        workers.push(tokio::spawn(async move {
            loop {
                if run.stopping() {
                    break;
                }
                let i = next.fetch_add(1, Ordering::SeqCst);
                if i >= count {
                    break;
                }
                match login_once(&run, i).await {
                    Ok((w, conn, t)) => {
                        note_welcome(&run, &w, &conn);
                        ok.fetch_add(1, Ordering::SeqCst);
                        timings.lock().unwrap().push(t);
                        close_in_background(conn, &closers);
                    }
                    Err(key) => run.note_failure(key),
                }
            }
        }));
    }
    for w in workers {
        let _ = w.await;
    }
    let elapsed = t0.elapsed().as_secs_f64();
    let srv1 = run.sample();
    let m1 = machine_cpu();
    let c1 = sample_proc("self");
    prog.abort();
    drain(&closers, Duration::from_secs(5)).await;
    let n_ok = ok.load(Ordering::SeqCst);
    let n_failed = run.n_failed.load(Ordering::SeqCst);
    let t = timings.lock().unwrap();
    let mut res = json!({
        "mode": "login", "count": count, "concurrency": run.concurrency,
        "attempted": n_ok + n_failed, "ok": n_ok, "failed": n_failed,
        "failures": *run.failures.lock().unwrap(),
        "elapsed_s": round(elapsed, 3),
        "login_rate_per_s": round(n_ok as f64 / elapsed, 2),
        "latency_ms": latency_summary(t.iter().map(|t| t.total).collect()),
        "phase_p50_ms": {
            "connect_tls_hello": latency_summary(t.iter().map(|t| t.connect_hello).collect())["p50"],
            "login_welcome": latency_summary(t.iter().map(|t| t.login_welcome).collect())["p50"],
        },
        "machine_cpu": machine_delta(m0, m1),
    });
    if let (Some(a), Some(b)) = (c0, c1) {
        res["client_cpu_ms_per_login"] =
            json!(round((b.cpu_s - a.cpu_s) * 1000.0 / n_ok.max(1) as f64, 2));
    }
    if run.server_pid.is_some() {
        let mut sp = json!({"before": brief(&srv0), "after": brief(&srv1)});
        if let (Some(a), Some(b)) = (srv0, srv1) {
            if n_ok > 0 {
                sp["cpu_ms_per_login"] =
                    json!(round((b.cpu_s - a.cpu_s) * 1000.0 / n_ok as f64, 3));
            }
            sp["cpu_pct"] = json!(round((b.cpu_s - a.cpu_s) * 100.0 / elapsed, 1));
        }
        if srv1.is_none() {
            run.abort("server process disappeared");
        }
        res["server_proc"] = sp;
    }
    (res, n_failed == 0 && n_ok == count)
}

// ------------------------------------------------------------------ hold mode

/// Why a held session ended (not counting our own close at the end).
#[derive(Clone, Copy)]
#[repr(u8)]
enum Lost {
    Open = 0,
    ServerClosed = 1,
    ReadError = 2,
    WriteError = 3,
    WriteTimeout = 4,
    BadBlock = 5,
}

const LOST_NAMES: [&str; 6] = [
    "open",
    "server-closed",
    "read-error",
    "write-error",
    "write-timeout",
    "bad-block-stream",
];

/// Per-session state visible to the runner.
struct Slot {
    /// ms since the run's start of the last byte received.
    last_rx_ms: AtomicU64,
    lost: AtomicU8,
    lost_at_ms: AtomicU64,
    timeout_ms: AtomicU64,
}

struct Held {
    slots: Vec<Slot>,
    t0: Instant,
    keepalives_tx: AtomicU64,
    keepalives_rx: AtomicU64,
    frames_rx: AtomicU64,
    opened: AtomicUsize,
    running: AtomicUsize,
}

impl Held {
    fn now_ms(&self) -> u64 {
        self.t0.elapsed().as_millis() as u64
    }

    /// (alive, closed, silent) among the first `n` slots that were opened.
    fn counts(&self, opened: &[bool]) -> (usize, usize, usize) {
        let now = self.now_ms();
        let (mut alive, mut closed, mut silent) = (0, 0, 0);
        for (s, _) in self.slots.iter().zip(opened).filter(|(_, o)| **o) {
            if s.lost.load(Ordering::Relaxed) != Lost::Open as u8 {
                closed += 1;
            } else if now.saturating_sub(s.last_rx_ms.load(Ordering::Relaxed))
                >= s.timeout_ms.load(Ordering::Relaxed)
            {
                silent += 1;
            } else {
                alive += 1;
            }
        }
        (alive, closed, silent)
    }
}

/// Keeps one session alive until `stop` changes: keep-alives at SoftEther's
/// pace, everything received decoded and discarded.
async fn hold_session(
    held: Arc<Held>,
    idx: usize,
    stream: DataStream,
    leftover: BytesMut,
    timeout_ms: u32,
    step_timeout: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let slot = &held.slots[idx];
    let (mut r, mut w) = stream.split();
    let mut buf = leftover;
    let mut dec = BlockDecoder::new(false);
    let mut enc = BlockEncoder::new(false);
    let mut out = BytesMut::new();
    let mut next_ka = tokio::time::Instant::now();
    let lost = |why: Lost| {
        slot.lost_at_ms.store(held.now_ms(), Ordering::Relaxed);
        slot.lost.store(why as u8, Ordering::Relaxed);
    };
    loop {
        if buf.is_empty() && buf.capacity() > 4096 {
            buf = BytesMut::with_capacity(1024);
        }
        buf.reserve(1024);
        tokio::select! {
            biased;
            _ = stop.changed() => {
                // Our own close: TLS close_notify + FIN, bounded.
                let _ = tokio::time::timeout(Duration::from_secs(2), w.shutdown()).await;
                break;
            }
            _ = tokio::time::sleep_until(next_ka) => {
                out.clear();
                {
                    let mut rng = rand::thread_rng();
                    let len = keepalive_len(&mut rng);
                    enc.encode_keepalive(&mut out, &mut rng, len);
                    next_ka = tokio::time::Instant::now()
                        + Duration::from_millis(keepalive_interval_ms(&mut rng, timeout_ms));
                }
                match tokio::time::timeout(step_timeout, async {
                    w.write_all(&out).await?;
                    w.flush().await
                })
                .await
                {
                    Ok(Ok(())) => {
                        held.keepalives_tx.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(Err(_)) => {
                        lost(Lost::WriteError);
                        break;
                    }
                    Err(_) => {
                        lost(Lost::WriteTimeout);
                        break;
                    }
                }
            }
            n = r.read_buf(&mut buf) => {
                match n {
                    Ok(0) => {
                        lost(Lost::ServerClosed);
                        break;
                    }
                    Err(_) => {
                        lost(Lost::ReadError);
                        break;
                    }
                    Ok(_) => {}
                }
                slot.last_rx_ms.store(held.now_ms(), Ordering::Relaxed);
                loop {
                    match dec.next_event(&mut buf) {
                        Ok(Some(rustether_proto::block::BlockEvent::KeepAlive)) => {
                            held.keepalives_rx.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(Some(rustether_proto::block::BlockEvent::Frame(_))) => {
                            held.frames_rx.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(None) => break,
                        Err(_) => {
                            lost(Lost::BadBlock);
                            held.running.fetch_sub(1, Ordering::SeqCst);
                            return;
                        }
                    }
                }
            }
        }
    }
    held.running.fetch_sub(1, Ordering::SeqCst);
}

#[allow(clippy::too_many_arguments)]
async fn run_hold(
    run: Arc<Run>,
    levels: Vec<usize>,
    hold_s: f64,
    sample_interval: f64,
    after_close: f64,
    probe: usize,
    progress: f64,
) -> (Value, bool) {
    let max = *levels.last().unwrap();
    let held = Arc::new(Held {
        slots: (0..max)
            .map(|_| Slot {
                last_rx_ms: AtomicU64::new(0),
                lost: AtomicU8::new(0),
                lost_at_ms: AtomicU64::new(0),
                timeout_ms: AtomicU64::new(20_000),
            })
            .collect(),
        t0: Instant::now(),
        keepalives_tx: AtomicU64::new(0),
        keepalives_rx: AtomicU64::new(0),
        frames_rx: AtomicU64::new(0),
        opened: AtomicUsize::new(0),
        running: AtomicUsize::new(0),
    });
    let opened_flags: Arc<Mutex<Vec<bool>>> = Arc::new(Mutex::new(vec![false; max]));
    let (stop_tx, stop_rx) = watch::channel(false);
    let idle = run.sample();
    let mut levels_out: Vec<Value> = Vec::new();
    let phase = Arc::new(Mutex::new(String::from("start")));
    let prog = {
        let (held, phase, run, flags) = (
            held.clone(),
            phase.clone(),
            run.clone(),
            opened_flags.clone(),
        );
        spawn_progress(progress, "hold", move || {
            let (alive, closed, silent) = held.counts(&flags.lock().unwrap());
            format!(
                "{}: {} opened, {alive} alive, {closed} closed, {silent} silent, {} login failures",
                phase.lock().unwrap(),
                held.opened.load(Ordering::Relaxed),
                run.n_failed.load(Ordering::Relaxed)
            )
        })
    };
    let mut next_idx = 0usize;
    let mut prev_alive = 0usize;
    let mut prev_rss: Option<u64> = None;
    for &level in &levels {
        if run.stopping() {
            break;
        }
        *phase.lock().unwrap() = format!("opening up to {level}");
        let fails_before = run.n_failed.load(Ordering::SeqCst);
        let next = Arc::new(AtomicUsize::new(next_idx));
        let timings = Arc::new(Mutex::new(Vec::new()));
        let srv_r0 = run.sample();
        let t_ramp = Instant::now();
        let mut workers = Vec::new();
        for _ in 0..run.concurrency.min(level - next_idx).max(1) {
            let (run, next, timings, held, stop_rx, flags) = (
                run.clone(),
                next.clone(),
                timings.clone(),
                held.clone(),
                stop_rx.clone(),
                opened_flags.clone(),
            );
            workers.push(tokio::spawn(async move {
                loop {
                    if run.stopping() {
                        break;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    if i >= level {
                        break;
                    }
                    if i % 256 == 0 {
                        run.check_memory();
                        if run.stopping() {
                            break;
                        }
                    }
                    match login_once(&run, i).await {
                        Ok((w, conn, t)) => {
                            note_welcome(&run, &w, &conn);
                            timings.lock().unwrap().push(t.total);
                            let slot = &held.slots[i];
                            slot.timeout_ms
                                .store(u64::from(w.timeout_ms), Ordering::Relaxed);
                            slot.last_rx_ms.store(held.now_ms(), Ordering::Relaxed);
                            flags.lock().unwrap()[i] = true;
                            held.opened.fetch_add(1, Ordering::SeqCst);
                            held.running.fetch_add(1, Ordering::SeqCst);
                            let (stream, leftover) = conn.into_data(true);
                            if i == 0 {
                                if let Some(f) = run.first_welcome.lock().unwrap().as_mut() {
                                    f["tls"] = tls_json(&stream);
                                }
                            }
                            tokio::spawn(hold_session(
                                held.clone(),
                                i,
                                stream,
                                leftover,
                                w.timeout_ms,
                                run.step_timeout,
                                stop_rx.clone(),
                            ));
                        }
                        Err(key) => run.note_failure(key),
                    }
                }
            }));
        }
        for w in workers {
            let _ = w.await;
        }
        next_idx = level.max(next_idx);
        let ramp = t_ramp.elapsed().as_secs_f64();
        let srv_r1 = run.sample();
        let ramp_t: Vec<f64> = std::mem::take(&mut *timings.lock().unwrap());
        let n_new = ramp_t.len();
        if run.stopping() {
            let (alive, closed, silent) = held.counts(&opened_flags.lock().unwrap());
            levels_out.push(json!({
                "sessions": level, "incomplete": true, "new_logins_ok": n_new,
                "new_logins_failed": run.n_failed.load(Ordering::SeqCst) - fails_before,
                "alive_now": alive, "closed_by_server_or_error": closed, "silent": silent,
                "ramp_s": round(ramp, 2), "server_proc": brief(&run.sample()),
            }));
            break;
        }
        eprintln!("loadgen: level {level}: {n_new} new sessions in {ramp:.1}s; holding {hold_s}s");
        *phase.lock().unwrap() = format!("holding {level} for {hold_s}s");
        let m0 = machine_cpu();
        let t_hold = Instant::now();
        let mut samples: Vec<ProcSample> = Vec::new();
        loop {
            let rem = hold_s - t_hold.elapsed().as_secs_f64();
            if rem <= 0.0 || run.stopping() {
                break;
            }
            tokio::time::sleep(Duration::from_secs_f64(rem.min(sample_interval))).await;
            if run.server_pid.is_some() {
                match run.sample() {
                    Some(s) => samples.push(s),
                    None => {
                        run.abort("server process disappeared");
                        break;
                    }
                }
            }
        }
        let m1 = machine_cpu();
        let (alive, closed, silent) = held.counts(&opened_flags.lock().unwrap());
        let mut lv = json!({
            "sessions": level, "opened": held.opened.load(Ordering::SeqCst),
            "new_logins_ok": n_new,
            "new_logins_failed": run.n_failed.load(Ordering::SeqCst) - fails_before,
            "alive_at_end": alive, "closed_by_server_or_error": closed, "silent": silent,
            "ramp_s": round(ramp, 2),
            "ramp_login_rate_per_s": round(n_new as f64 / ramp.max(1e-9), 2),
            "ramp_latency_ms": latency_summary(ramp_t),
            "hold_s": round(t_hold.elapsed().as_secs_f64(), 1),
            "machine_cpu_during_hold": machine_delta(m0, m1),
            "client": client_stats(),
        });
        if let Some(end) = samples.last().copied() {
            lv["server_proc"] = brief(&Some(end));
            lv["server_rss_kib_max_during_hold"] = json!(samples.iter().map(|s| s.rss_kib).max());
            if let (Some(a), Some(b)) = (srv_r0, srv_r1) {
                if n_new > 0 {
                    lv["server_cpu_ms_per_login_during_ramp"] =
                        json!(round((b.cpu_s - a.cpu_s) * 1000.0 / n_new as f64, 3));
                }
                let dt = (end.t - b.t).as_secs_f64();
                if dt > 0.0 {
                    lv["server_cpu_pct_during_hold"] =
                        json!(round((end.cpu_s - b.cpu_s) * 100.0 / dt, 2));
                }
            }
            if let (Some(i), true) = (idle, alive > 0) {
                let d = end.rss_kib as f64 - i.rss_kib as f64;
                lv["server_rss_delta_kib"] = json!(d);
                lv["server_kib_per_session"] = json!(round(d / alive as f64, 1));
                lv["server_threads_per_session"] = json!(round(
                    (end.threads as f64 - i.threads as f64) / alive as f64,
                    4
                ));
                lv["server_fds_per_session"] =
                    json!(round((end.fds as f64 - i.fds as f64) / alive as f64, 4));
            }
            if let Some(p) = prev_rss {
                if alive > prev_alive {
                    lv["server_kib_per_session_marginal"] = json!(round(
                        (end.rss_kib as f64 - p as f64) / (alive - prev_alive) as f64,
                        1
                    ));
                }
            }
            prev_rss = Some(end.rss_kib);
        }
        prev_alive = alive;
        eprintln!(
            "loadgen: level {level}: {alive} alive, {closed} closed, {silent} silent after {hold_s}s{}",
            lv.get("server_kib_per_session")
                .map(|k| format!(", server {k} KiB/session"))
                .unwrap_or_default()
        );
        levels_out.push(lv);
    }
    prog.abort();
    // Close everything (TLS close_notify + FIN), bounded.
    *phase.lock().unwrap() = "closing".into();
    let lost_list: Vec<Value> = {
        let flags = opened_flags.lock().unwrap();
        let mut v: Vec<(u64, usize, u8)> = held
            .slots
            .iter()
            .enumerate()
            .filter(|(i, s)| flags[*i] && s.lost.load(Ordering::SeqCst) != 0)
            .map(|(i, s)| {
                (
                    s.lost_at_ms.load(Ordering::SeqCst),
                    i,
                    s.lost.load(Ordering::SeqCst),
                )
            })
            .collect();
        v.sort();
        v.iter()
            .take(50)
            .map(|(t, i, r)| {
                json!({"t_s": round(*t as f64 / 1000.0, 1), "session": i,
                       "reason": LOST_NAMES[*r as usize]})
            })
            .collect()
    };
    let mut reasons: BTreeMap<&str, u64> = BTreeMap::new();
    for s in &held.slots {
        let r = s.lost.load(Ordering::SeqCst);
        if r != 0 {
            *reasons.entry(LOST_NAMES[r as usize]).or_insert(0) += 1;
        }
    }
    let t_close = Instant::now();
    let _ = stop_tx.send(true);
    let end = Instant::now() + Duration::from_secs(20);
    while held.running.load(Ordering::SeqCst) > 0 && Instant::now() < end {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let close_s = t_close.elapsed().as_secs_f64();
    let mut after = Vec::new();
    if run.server_pid.is_some() && after_close > 0.0 {
        eprintln!("loadgen: sessions closed; sampling the server for {after_close}s");
        let t0 = Instant::now();
        while t0.elapsed().as_secs_f64() < after_close {
            tokio::time::sleep(Duration::from_secs(1)).await;
            match run.sample() {
                Some(s) => after.push(json!([
                    round(t0.elapsed().as_secs_f64(), 1),
                    s.rss_kib,
                    s.threads,
                    s.fds
                ])),
                None => break,
            }
        }
    }
    // Does the server serve again? (After a reference server broke, say.)
    let mut probe_res = Value::Null;
    if probe > 0 && Instant::now() < run.deadline {
        let (mut ok, mut fails) = (0usize, BTreeMap::<String, u64>::new());
        let closers = Arc::new(AtomicUsize::new(0));
        for i in 0..probe {
            match login_once(&run, max + i).await {
                Ok((_, conn, _)) => {
                    ok += 1;
                    close_in_background(conn, &closers);
                }
                Err(k) => *fails.entry(k).or_insert(0) += 1,
            }
        }
        drain(&closers, Duration::from_secs(3)).await;
        eprintln!("loadgen: probe after close: {ok} of {probe} logins ok");
        probe_res = json!({"attempted": probe, "ok": ok, "failures": fails});
    }
    let opened = held.opened.load(Ordering::SeqCst);
    let n_failed = run.n_failed.load(Ordering::SeqCst);
    let ok = n_failed == 0
        && levels_out.len() == levels.len()
        && levels_out
            .iter()
            .all(|l| l["alive_at_end"].as_u64() == l["sessions"].as_u64());
    let mut res = json!({
        "mode": "hold", "levels_requested": levels, "concurrency": run.concurrency,
        "hold_s": hold_s, "levels": levels_out, "opened": opened,
        "login_failures": *run.failures.lock().unwrap(), "failed": n_failed,
        "session_close_reasons": reasons, "sessions_lost": lost_list,
        "keepalives": {"tx": held.keepalives_tx.load(Ordering::SeqCst),
                       "rx": held.keepalives_rx.load(Ordering::SeqCst)},
        "frames_rx": held.frames_rx.load(Ordering::SeqCst),
        "close_s": round(close_s, 2),
        "sessions_not_closed_in_time": held.running.load(Ordering::SeqCst),
        "elapsed_s": round(held.t0.elapsed().as_secs_f64(), 1),
        "probe_after_close": probe_res,
    });
    if run.server_pid.is_some() {
        res["server_idle"] = brief(&idle);
        if !after.is_empty() {
            res["server_after_close"] =
                json!({"columns": ["t_s", "rss_kib", "threads", "fds"], "samples": after});
        }
    }
    (res, ok)
}

// ------------------------------------------------------------------ soak mode

/// Settings of a soak run (see [`Mode::Soak`]).
struct SoakSettings {
    sessions: usize,
    duration: Duration,
    mean_life_s: f64,
    frame_interval: Option<Duration>,
    frame_len: usize,
    sample_interval: Duration,
    warmup_s: f64,
    flat_pct: f64,
}

/// Counters of a soak run.
#[derive(Default)]
struct SoakStats {
    logins_ok: AtomicU64,
    alive: AtomicUsize,
    churn_closes: AtomicU64,
    /// Sessions that ended without our close, by [`Lost`] reason.
    lost: [AtomicU64; 6],
    frames_tx: AtomicU64,
    frames_rx: AtomicU64,
    keepalives_tx: AtomicU64,
}

/// The MAC address of session `idx`: locally administered, unique per index.
fn soak_mac(idx: usize) -> [u8; 6] {
    let i = idx as u32;
    [
        0x02,
        0x5e,
        (i >> 24) as u8,
        (i >> 16) as u8,
        (i >> 8) as u8,
        i as u8,
    ]
}

/// Runs one soak session until `until`, the run's stop, or a failure:
/// frames to the pair session, keep-alives, everything received counted.
/// `None` = ended by us (lifetime over or stop); `Some(why)` otherwise.
#[allow(clippy::too_many_arguments)]
async fn soak_session(
    stats: &SoakStats,
    idx: usize,
    stream: DataStream,
    leftover: BytesMut,
    timeout_ms: u32,
    st: &SoakSettings,
    step_timeout: Duration,
    until: tokio::time::Instant,
    stop: &mut watch::Receiver<bool>,
) -> Option<Lost> {
    let (mut r, mut w) = stream.split();
    let mut buf = leftover;
    let mut dec = BlockDecoder::new(false);
    let mut enc = BlockEncoder::new(false);
    let mut out = BytesMut::new();
    let mut frame = vec![0u8; st.frame_len.clamp(60, 1514)];
    frame[..6].copy_from_slice(&soak_mac(idx ^ 1));
    frame[6..12].copy_from_slice(&soak_mac(idx));
    // IEEE 802 local experimental EtherType: no server treats it as IP.
    frame[12..14].copy_from_slice(&[0x88, 0xb5]);
    let now = tokio::time::Instant::now();
    let mut next_ka = now;
    let mut next_frame = now + jitter(st.frame_interval.unwrap_or(Duration::from_secs(1)));
    let why = loop {
        if buf.is_empty() && buf.capacity() > 4096 {
            buf = BytesMut::with_capacity(1024);
        }
        buf.reserve(1024);
        let send_frame_at = if st.frame_interval.is_some() {
            next_frame
        } else {
            until + Duration::from_secs(3600)
        };
        tokio::select! {
            biased;
            _ = stop.changed() => break None,
            _ = tokio::time::sleep_until(until) => break None,
            _ = tokio::time::sleep_until(next_ka.min(send_frame_at)) => {
                out.clear();
                let now = tokio::time::Instant::now();
                if now >= next_ka {
                    let mut rng = rand::thread_rng();
                    let len = keepalive_len(&mut rng);
                    enc.encode_keepalive(&mut out, &mut rng, len);
                    next_ka = now + Duration::from_millis(keepalive_interval_ms(&mut rng, timeout_ms));
                    stats.keepalives_tx.fetch_add(1, Ordering::Relaxed);
                }
                if let (Some(iv), true) = (st.frame_interval, now >= next_frame) {
                    frame[14..22].copy_from_slice(&stats.frames_tx.fetch_add(1, Ordering::Relaxed).to_be_bytes());
                    enc.encode_frames(&mut out, [&frame[..]]);
                    next_frame = now + jitter(iv);
                }
                match tokio::time::timeout(step_timeout, async {
                    w.write_all(&out).await?;
                    w.flush().await
                })
                .await
                {
                    Ok(Ok(())) => {}
                    Ok(Err(_)) => break Some(Lost::WriteError),
                    Err(_) => break Some(Lost::WriteTimeout),
                }
            }
            n = r.read_buf(&mut buf) => {
                match n {
                    Ok(0) => break Some(Lost::ServerClosed),
                    Err(_) => break Some(Lost::ReadError),
                    Ok(_) => {}
                }
                let mut bad = false;
                loop {
                    match dec.next_event(&mut buf) {
                        Ok(Some(rustether_proto::block::BlockEvent::Frame(_))) => {
                            stats.frames_rx.fetch_add(1, Ordering::Relaxed);
                        }
                        Ok(Some(_)) => {}
                        Ok(None) => break,
                        Err(_) => {
                            bad = true;
                            break;
                        }
                    }
                }
                if bad {
                    break Some(Lost::BadBlock);
                }
            }
        }
    };
    if why.is_none() {
        // Our own close: TLS close_notify + FIN, bounded.
        let _ = tokio::time::timeout(Duration::from_secs(2), w.shutdown()).await;
    }
    why
}

/// `d` × uniform 0.5..1.5 (spreads periodic work over time).
fn jitter(d: Duration) -> Duration {
    d.mul_f64(rand::thread_rng().gen_range(0.5..1.5))
}

/// Median of `v` (sorted copy); NaN when empty.
fn median(v: &[f64]) -> f64 {
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    pctl(&s, 50.0)
}

/// Least-squares slope of `ys` over `xs` (units of y per unit of x).
fn slope(xs: &[f64], ys: &[f64]) -> f64 {
    let n = xs.len() as f64;
    if xs.len() < 2 {
        return 0.0;
    }
    let (mx, my) = (xs.iter().sum::<f64>() / n, ys.iter().sum::<f64>() / n);
    let (mut num, mut den) = (0.0, 0.0);
    for (x, y) in xs.iter().zip(ys) {
        num += (x - mx) * (y - my);
        den += (x - mx) * (x - mx);
    }
    if den == 0.0 {
        0.0
    } else {
        num / den
    }
}

async fn run_soak(run: Arc<Run>, st: SoakSettings, progress: f64) -> (Value, bool) {
    let st = Arc::new(st);
    let stats = Arc::new(SoakStats::default());
    let (stop_tx, stop_rx) = watch::channel(false);
    let logins = Arc::new(tokio::sync::Semaphore::new(run.concurrency));
    let t0 = Instant::now();
    let idle = run.sample();
    let prog = {
        let (stats, run) = (stats.clone(), run.clone());
        spawn_progress(progress, "soak", move || {
            format!(
                "{:.0}s: {} alive, {} logins ok, {} failed, {} churned, {} lost, frames tx {} rx {}",
                t0.elapsed().as_secs_f64(),
                stats.alive.load(Ordering::Relaxed),
                stats.logins_ok.load(Ordering::Relaxed),
                run.n_failed.load(Ordering::Relaxed),
                stats.churn_closes.load(Ordering::Relaxed),
                stats.lost.iter().map(|l| l.load(Ordering::Relaxed)).sum::<u64>(),
                stats.frames_tx.load(Ordering::Relaxed),
                stats.frames_rx.load(Ordering::Relaxed),
            )
        })
    };
    let mut slots = Vec::with_capacity(st.sessions);
    for idx in 0..st.sessions {
        let (run, st, stats, logins, mut stop) = (
            run.clone(),
            st.clone(),
            stats.clone(),
            logins.clone(),
            stop_rx.clone(),
        );
        slots.push(tokio::spawn(async move {
            while !run.stopping() && !*stop.borrow() {
                let permit = tokio::select! {
                    p = logins.acquire() => p,
                    _ = stop.changed() => break,
                };
                let login = login_once(&run, idx).await;
                drop(permit);
                let (w, conn) = match login {
                    Ok((w, conn, _)) => (w, conn),
                    Err(key) => {
                        run.note_failure(key);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                        continue;
                    }
                };
                note_welcome(&run, &w, &conn);
                stats.logins_ok.fetch_add(1, Ordering::Relaxed);
                let life = if st.mean_life_s > 0.0 {
                    Duration::from_secs_f64(st.mean_life_s * rand::thread_rng().gen_range(0.0..2.0))
                } else {
                    st.duration + Duration::from_secs(3600)
                };
                let (stream, leftover) = conn.into_data(true);
                stats.alive.fetch_add(1, Ordering::SeqCst);
                let why = soak_session(
                    &stats,
                    idx,
                    stream,
                    leftover,
                    w.timeout_ms,
                    &st,
                    run.step_timeout,
                    tokio::time::Instant::now() + life,
                    &mut stop,
                )
                .await;
                stats.alive.fetch_sub(1, Ordering::SeqCst);
                match why {
                    None => {
                        if !*stop.borrow() && !run.stopping() {
                            stats.churn_closes.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                    Some(l) => {
                        stats.lost[l as usize].fetch_add(1, Ordering::Relaxed);
                        tokio::time::sleep(Duration::from_secs(1)).await;
                    }
                }
            }
        }));
    }
    // Sampling until the end.
    let mut samples: Vec<Value> = Vec::new();
    let mut rows: Vec<(f64, ProcSample)> = Vec::new();
    let end = t0 + st.duration;
    while Instant::now() < end && !run.stopping() {
        let wait = st
            .sample_interval
            .min(end.saturating_duration_since(Instant::now()));
        tokio::time::sleep(wait).await;
        let t = t0.elapsed().as_secs_f64();
        if run.server_pid.is_some() {
            match run.sample() {
                Some(s) => {
                    rows.push((t, s));
                    samples.push(json!([
                        round(t, 1),
                        s.rss_kib,
                        s.threads,
                        s.fds,
                        round(s.cpu_s, 2),
                        stats.alive.load(Ordering::Relaxed),
                        stats.logins_ok.load(Ordering::Relaxed),
                        run.n_failed.load(Ordering::Relaxed),
                        stats.frames_tx.load(Ordering::Relaxed),
                        stats.frames_rx.load(Ordering::Relaxed),
                    ]));
                }
                None => run.abort("server process disappeared"),
            }
        }
    }
    prog.abort();
    let _ = stop_tx.send(true);
    let close_deadline = Instant::now() + Duration::from_secs(30);
    for s in slots {
        let left = close_deadline.saturating_duration_since(Instant::now());
        if tokio::time::timeout(left, s).await.is_err() {
            break;
        }
    }
    let after = run.sample();
    // Flatness after warm-up: every sample within ±flat_pct of the median.
    let late: Vec<&(f64, ProcSample)> = rows.iter().filter(|(t, _)| *t >= st.warmup_s).collect();
    let mut flat_all = late.len() >= 3;
    let mut flat = serde_json::Map::new();
    type Metric = fn(&ProcSample) -> f64;
    let metrics: [(&str, Metric); 3] = [
        ("rss_kib", |s| s.rss_kib as f64),
        ("fds", |s| s.fds as f64),
        ("threads", |s| s.threads as f64),
    ];
    for (name, f) in metrics {
        let xs: Vec<f64> = late.iter().map(|(t, _)| *t).collect();
        let ys: Vec<f64> = late.iter().map(|(_, s)| f(s)).collect();
        if ys.is_empty() {
            flat_all = false;
            continue;
        }
        let med = median(&ys);
        let (lo, hi) = ys
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), y| (a.min(*y), b.max(*y)));
        let dev = ys
            .iter()
            .map(|y| (y - med).abs() * 100.0 / med.max(1.0))
            .fold(0.0, f64::max);
        let ok = dev <= st.flat_pct;
        flat_all &= ok;
        flat.insert(
            name.into(),
            json!({
                "median": med, "min": lo, "max": hi, "max_dev_pct": round(dev, 2),
                "slope_per_hour": round(slope(&xs, &ys) * 3600.0, 1), "flat": ok,
            }),
        );
    }
    let cpu = match (rows.first(), rows.last()) {
        (Some(a), Some(b)) if b.0 > a.0 => {
            json!(round((b.1.cpu_s - a.1.cpu_s) * 100.0 / (b.0 - a.0), 1))
        }
        _ => Value::Null,
    };
    let mut lost = serde_json::Map::new();
    for (i, n) in stats.lost.iter().enumerate() {
        let n = n.load(Ordering::SeqCst);
        if n > 0 {
            lost.insert(LOST_NAMES[i].into(), json!(n));
        }
    }
    let n_failed = run.n_failed.load(Ordering::SeqCst);
    let frames_tx = stats.frames_tx.load(Ordering::SeqCst);
    let frames_rx = stats.frames_rx.load(Ordering::SeqCst);
    let ok = flat_all
        && n_failed == 0
        && lost.is_empty()
        && (st.frame_interval.is_none() || frames_rx > 0);
    let res = json!({
        "mode": "soak", "sessions": st.sessions, "duration_s": st.duration.as_secs_f64(),
        "mean_life_s": st.mean_life_s,
        "frames_per_s_per_session": st.frame_interval.map(|d| round(1.0 / d.as_secs_f64(), 2)),
        "frame_len": st.frame_len.clamp(60, 1514), "warmup_s": st.warmup_s, "flat_pct": st.flat_pct,
        "elapsed_s": round(t0.elapsed().as_secs_f64(), 1),
        "logins_ok": stats.logins_ok.load(Ordering::SeqCst), "login_failures": *run.failures.lock().unwrap(),
        "failed": n_failed, "churn_closes": stats.churn_closes.load(Ordering::SeqCst),
        "sessions_lost": lost, "frames_tx": frames_tx, "frames_rx": frames_rx,
        "keepalives_tx": stats.keepalives_tx.load(Ordering::SeqCst),
        "server_cpu_pct": cpu, "server_idle": brief(&idle), "server_after_close": brief(&after),
        "flat": flat_all, "after_warmup": flat, "samples_after_warmup": late.len(),
        "samples": {"columns": ["t_s", "rss_kib", "threads", "fds", "cpu_s", "alive", "logins_ok",
                                "login_failures", "frames_tx", "frames_rx"], "rows": samples},
        "client": client_stats(),
    });
    (res, ok)
}

// ------------------------------------------------------------------ config mode

fn write_config(
    out: &PathBuf,
    port: u16,
    hub: &str,
    user: &str,
    password: &str,
    cert: bool,
) -> anyhow::Result<()> {
    let mut cfg = ServerConfig::initial(
        Edition::Server,
        rustether_config::model::now_ms(),
        &mut rustether_config::model::system_rng(),
    );
    if cert {
        let ck = rustether_server::tls::generate_self_signed("loadgen")?;
        cfg.server.server_cert_der = ck.cert_der;
        cfg.server.server_key_der = ck.key_der;
    }
    cfg.listeners.retain(|l| l.port == port);
    if cfg.listeners.is_empty() {
        cfg.listeners.push(rustether_config::ListenerConfig {
            port,
            enabled: true,
            disable_dos: false,
        });
    }
    // Nothing that talks to the internet (the initial configuration already
    // has keep-alive, DDNS and NAT traversal off); no backups, no web API.
    cfg.ddns_disabled = true;
    cfg.server.use_keep_connect = false;
    cfg.server.disable_nat_traversal = true;
    cfg.server.dont_backup_config = true;
    cfg.server.disable_json_rpc_web_api = true;
    let raw = &mut cfg.server.raw;
    raw.set_bool("EnableVpnAzure", false);
    raw.set_str("KeepConnectHost", "127.0.0.1");
    raw.set_bool("DisableGetHostNameWhenAcceptTcp", true);
    if cfg.hub(hub).is_none() {
        cfg.hubs.push(rustether_config::HubConfig::new(
            hub,
            rustether_config::model::now_ms(),
            &mut rustether_config::model::system_rng(),
        ));
    }
    let h = cfg
        .hub_mut(hub)
        .ok_or_else(|| anyhow::anyhow!("hub {hub} missing"))?;
    h.online = true;
    h.users.push(UserConfig::new(
        user,
        UserAuth::Password {
            hash: hash_password(user, password),
            nt_hash: None,
        },
        rustether_config::model::now_ms(),
    ));
    let text = rustether_config::write_text(&cfg.to_root());
    std::fs::write(out, text)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(out, std::fs::Permissions::from_mode(0o600))?;
    }
    Ok(())
}

// ------------------------------------------------------------------ report mode

/// Reads JSON lines and prints a side-by-side table of `ours` and
/// `reference` (the last result of each server and phase wins): login
/// rates, latency, server CPU per login, and per hold level the sessions
/// alive, server KiB/threads/fds per session and CPU while idle.
fn report(files: &[PathBuf], ours: &str, reference: &str) -> anyhow::Result<String> {
    use std::fmt::Write as _;
    let mut text = String::new();
    for f in files {
        if f.as_os_str() == "-" {
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut text)?;
        } else {
            text.push_str(&std::fs::read_to_string(f)?);
        }
        text.push('\n');
    }
    // (server, phase) -> result
    let mut by: BTreeMap<(String, String), Value> = BTreeMap::new();
    for line in text.lines().filter(|l| l.trim_start().starts_with('{')) {
        let v: Value = serde_json::from_str(line)?;
        if !v["test"].as_str().unwrap_or("").starts_with("loadgen-") {
            continue;
        }
        let server = v["server"].as_str().unwrap_or("?").to_string();
        let phase = v["phase"]
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| v["mode"].as_str().unwrap_or("?").to_string());
        by.insert((server, phase), v);
    }
    let get = |server: &str, phase: &str| by.get(&(server.to_string(), phase.to_string()));
    let mut out = String::new();
    let w = |out: &mut String, name: &str, a: String, b: String, ratio: String| {
        let _ = writeln!(out, "{name:<46} {a:>16} {b:>16} {ratio:>10}");
    };
    let num = |v: &Value| v.as_f64();
    let fmt = |x: Option<f64>, d: usize| x.map_or("-".into(), |x| format!("{x:.d$}"));
    let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
        (Some(a), Some(b)) if b != 0.0 => format!("{:.3}", a / b),
        _ => "-".into(),
    };
    w(
        &mut out,
        "figure",
        ours.into(),
        reference.into(),
        "ratio".into(),
    );
    for (phase, title) in [("seq", "sequential logins"), ("conc", "concurrent logins")] {
        let (a, b) = (get(ours, phase), get(reference, phase));
        if a.is_none() && b.is_none() {
            continue;
        }
        let f = |r: Option<&Value>, path: &[&str]| {
            let mut v = r?;
            for p in path {
                v = v.get(*p)?;
            }
            num(v)
        };
        let conc = a.or(b).and_then(|r| r["concurrency"].as_u64()).unwrap_or(0);
        let row = |out: &mut String, name: &str, path: &[&str], d: usize| {
            let (x, y) = (f(a, path), f(b, path));
            w(out, name, fmt(x, d), fmt(y, d), ratio(x, y));
        };
        let ok =
            |r: Option<&Value>| r.map_or("-".into(), |r| format!("{}/{}", r["ok"], r["count"]));
        w(
            &mut out,
            &format!("{title} (C={conc}): ok"),
            ok(a),
            ok(b),
            String::new(),
        );
        row(&mut out, "  logins/s", &["login_rate_per_s"], 1);
        row(&mut out, "  latency p50 (ms)", &["latency_ms", "p50"], 2);
        row(&mut out, "  latency p99 (ms)", &["latency_ms", "p99"], 2);
        row(
            &mut out,
            "  server CPU per login (ms)",
            &["server_proc", "cpu_ms_per_login"],
            2,
        );
        row(
            &mut out,
            "  server CPU while logging in (% of a core)",
            &["server_proc", "cpu_pct"],
            0,
        );
        row(
            &mut out,
            "  loadgen CPU per login (ms)",
            &["client_cpu_ms_per_login"],
            2,
        );
        row(
            &mut out,
            "  machine busy (% of all cores)",
            &["machine_cpu", "busy_pct"],
            0,
        );
        let fails = |r: Option<&Value>| {
            r.map_or("-".into(), |r| {
                let f = r["failures"].as_object().map(|m| m.len()).unwrap_or(0);
                if f == 0 {
                    "none".into()
                } else {
                    r["failures"].to_string()
                }
            })
        };
        w(&mut out, "  failures", fails(a), fails(b), String::new());
    }
    let (a, b) = (get(ours, "hold"), get(reference, "hold"));
    if a.is_some() || b.is_some() {
        let idle = |r: Option<&Value>| {
            r.and_then(|r| r.get("server_idle"))
                .filter(|v| !v.is_null())
                .map_or("-".into(), |v| {
                    format!("{} KiB/{}t/{}fd", v["rss_kib"], v["threads"], v["fds"])
                })
        };
        w(
            &mut out,
            "idle server (RSS/threads/fds)",
            idle(a),
            idle(b),
            String::new(),
        );
        let mut levels: Vec<u64> = Vec::new();
        for r in [a, b].into_iter().flatten() {
            for l in r["levels"].as_array().into_iter().flatten() {
                if let Some(n) = l["sessions"].as_u64() {
                    if !levels.contains(&n) {
                        levels.push(n);
                    }
                }
            }
        }
        levels.sort_unstable();
        let level = |r: Option<&Value>, n: u64| -> Option<Value> {
            r?["levels"]
                .as_array()?
                .iter()
                .find(|l| l["sessions"].as_u64() == Some(n))
                .cloned()
        };
        for n in levels {
            let (x, y) = (level(a, n), level(b, n));
            let alive = |l: &Option<Value>| {
                l.as_ref().map_or("-".into(), |l| {
                    if l.get("incomplete").is_some() {
                        format!("BROKE: {} alive", l["alive_now"])
                    } else {
                        format!("{} alive", l["alive_at_end"])
                    }
                })
            };
            w(
                &mut out,
                &format!("hold {n} sessions"),
                alive(&x),
                alive(&y),
                String::new(),
            );
            let row = |out: &mut String, name: &str, key: &str, d: usize| {
                let g = |l: &Option<Value>| l.as_ref().and_then(|l| num(&l[key]));
                w(out, name, fmt(g(&x), d), fmt(g(&y), d), ratio(g(&x), g(&y)));
            };
            let rss =
                |l: &Option<Value>| l.as_ref().and_then(|l| num(&l["server_proc"]["rss_kib"]));
            w(
                &mut out,
                "  server RSS (KiB)",
                fmt(rss(&x), 0),
                fmt(rss(&y), 0),
                ratio(rss(&x), rss(&y)),
            );
            row(
                &mut out,
                "  server KiB per session",
                "server_kib_per_session",
                1,
            );
            row(
                &mut out,
                "  server KiB per session (marginal)",
                "server_kib_per_session_marginal",
                1,
            );
            row(
                &mut out,
                "  server threads per session",
                "server_threads_per_session",
                4,
            );
            row(
                &mut out,
                "  server fds per session",
                "server_fds_per_session",
                3,
            );
            row(
                &mut out,
                "  server CPU while idle (% of a core)",
                "server_cpu_pct_during_hold",
                1,
            );
            row(&mut out, "  ramp logins/s", "ramp_login_rate_per_s", 1);
            row(
                &mut out,
                "  server CPU per ramp login (ms)",
                "server_cpu_ms_per_login_during_ramp",
                2,
            );
        }
        let fails = |r: Option<&Value>| {
            r.map_or("-".into(), |r| {
                let mut s = String::new();
                if let Some(m) = r["login_failures"].as_object() {
                    for (k, v) in m {
                        let _ = write!(s, "{k} x{v}; ");
                    }
                }
                if let Some(m) = r["session_close_reasons"].as_object() {
                    for (k, v) in m {
                        let _ = write!(s, "lost {k} x{v}; ");
                    }
                }
                if let Some(x) = r["aborted"].as_str() {
                    let _ = write!(s, "aborted: {x}");
                }
                if s.is_empty() {
                    "none".into()
                } else {
                    s
                }
            })
        };
        let probe = |r: Option<&Value>| {
            r.and_then(|r| r.get("probe_after_close"))
                .filter(|p| !p.is_null())
                .map_or("-".into(), |p| format!("{}/{} ok", p["ok"], p["attempted"]))
        };
        w(
            &mut out,
            "logins right after closing everything",
            probe(a),
            probe(b),
            String::new(),
        );
        let _ = writeln!(out, "hold failures, {ours}: {}", fails(a));
        let _ = writeln!(out, "hold failures, {reference}: {}", fails(b));
    }
    // Churn cycles on one server process: RSS/fds after each close.
    for k in 1..=20 {
        let phase = format!("churn{k}");
        let (a, b) = (get(ours, &phase), get(reference, &phase));
        if a.is_none() && b.is_none() {
            break;
        }
        let cell = |r: Option<&Value>| {
            r.map_or("-".into(), |r| {
                let lv = &r["levels"][0];
                let last = r["server_after_close"]["samples"]
                    .as_array()
                    .and_then(|v| v.last())
                    .cloned()
                    .unwrap_or(Value::Null);
                format!(
                    "{}/{} {}>{}K {}fd",
                    lv["alive_at_end"],
                    lv["sessions"],
                    lv["server_proc"]["rss_kib"],
                    last[1],
                    last[3]
                )
            })
        };
        w(
            &mut out,
            &format!("churn {k}: alive, RSS held>closed, fds closed"),
            cell(a),
            cell(b),
            String::new(),
        );
    }
    Ok(out)
}

// ------------------------------------------------------------------ setup

/// `a,b,c` or `A.B.C.D-E` (last-octet range), or a mix separated by commas.
fn parse_sources(s: &str) -> Result<Vec<IpAddr>, String> {
    let mut out = Vec::new();
    for part in s.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        if let Some((base, last)) = part.rsplit_once('-') {
            let first: std::net::Ipv4Addr =
                base.parse().map_err(|_| format!("bad address {base}"))?;
            let o = first.octets();
            let end: u8 = last.parse().map_err(|_| format!("bad range end {last}"))?;
            if end < o[3] {
                return Err(format!("empty range {part}"));
            }
            for x in o[3]..=end {
                out.push(IpAddr::from([o[0], o[1], o[2], x]));
            }
        } else {
            out.push(part.parse().map_err(|_| format!("bad address {part}"))?);
        }
    }
    Ok(out)
}

fn allowed_target(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v) => v.is_loopback() || v.is_private() || v.is_link_local(),
        IpAddr::V6(v) => {
            v.is_loopback()
                || (v.segments()[0] & 0xfe00) == 0xfc00
                || (v.segments()[0] & 0xffc0) == 0xfe80
        }
    }
}

/// Raises RLIMIT_NOFILE to at least `need` (soft to hard; as root also the
/// hard limit, up to `fs.nr_open`). Returns the new soft limit.
fn raise_nofile(need: u64) -> Result<u64, String> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let (_, mut hard) =
        getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| format!("getrlimit failed: {e}"))?;
    if hard < need {
        let nr_open: u64 = std::fs::read_to_string("/proc/sys/fs/nr_open")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(1_048_576);
        let want = need.max(1_048_576).min(nr_open);
        if setrlimit(Resource::RLIMIT_NOFILE, want, want).is_ok() {
            hard = want;
        }
    }
    let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
    let (cur, _) =
        getrlimit(Resource::RLIMIT_NOFILE).map_err(|e| format!("getrlimit failed: {e}"))?;
    if cur < need {
        return Err(format!(
            "open-file limit {} is below the {need} this run needs (run as root or raise `ulimit -Hn`)",
            cur
        ));
    }
    Ok(cur)
}

fn make_run(c: &Common, need_fds: u64) -> Result<(Arc<Run>, u64), String> {
    if !allowed_target(c.server) {
        return Err(format!(
            "{} is not a loopback, private or link-local address",
            c.server
        ));
    }
    if c.concurrency == 0 || c.concurrency > 10_000 {
        return Err("--concurrency must be 1..=10000".into());
    }
    if !(1.0..=86_400.0).contains(&c.max_time) {
        return Err("--max-time must be 1..=86400 s".into());
    }
    if !(1.0..=300.0).contains(&c.login_timeout) || !(0.5..=120.0).contains(&c.step_timeout) {
        return Err("--login-timeout must be 1..=300 s and --step-timeout 0.5..=120 s".into());
    }
    let sources = match &c.sources {
        Some(s) => parse_sources(s)?,
        None => Vec::new(),
    };
    if let Some(pid) = c.server_pid {
        if sample_proc(&pid.to_string()).is_none() {
            return Err(format!("no process {pid} (--server-pid)"));
        }
    }
    let nofile = raise_nofile(need_fds)?;
    let mut unique_id = [0u8; 20];
    rand::thread_rng().fill(&mut unique_id);
    Ok((
        Arc::new(Run {
            target_host: c.server.to_string(),
            port: c.port,
            hub: c.hub.clone(),
            user: c.user.clone(),
            hashed: hash_password(&c.user, &c.password),
            unique_id,
            sources,
            concurrency: c.concurrency,
            login_timeout: Duration::from_secs_f64(c.login_timeout),
            step_timeout: Duration::from_secs_f64(c.step_timeout),
            max_failures: c.max_failures,
            deadline: Instant::now() + Duration::from_secs_f64(c.max_time),
            server_pid: c.server_pid.map(|p| p.to_string()),
            aborted: Mutex::new(None),
            stop: AtomicBool::new(false),
            failures: Mutex::new(BTreeMap::new()),
            n_failed: AtomicUsize::new(0),
            first_welcome: Mutex::new(None),
            min_mem_kib: c.min_mem_available_mib * 1024,
        }),
        nofile,
    ))
}

fn main() {
    let cli = Cli::parse();
    let (common, need) = match &cli.mode {
        Mode::Report {
            files,
            ours,
            reference,
        } => match report(files, ours, reference) {
            Ok(t) => {
                print!("{t}");
                std::process::exit(0)
            }
            Err(e) => {
                eprintln!("loadgen: ERROR: {e}");
                std::process::exit(2)
            }
        },
        Mode::Config {
            out,
            port,
            hub,
            user,
            password,
            no_cert,
        } => match write_config(out, *port, hub, user, password, !*no_cert) {
            Ok(()) => {
                eprintln!("loadgen: wrote {}", out.display());
                std::process::exit(0)
            }
            Err(e) => {
                eprintln!("loadgen: ERROR: {e}");
                std::process::exit(2)
            }
        },
        Mode::Login { count, common } => {
            if *count == 0 || *count > 1_000_000 {
                eprintln!("loadgen: ERROR: --count must be 1..=1000000");
                std::process::exit(2);
            }
            (common.clone(), 2 * common.concurrency as u64 + 4096)
        }
        Mode::Hold {
            sessions, common, ..
        } => {
            let levels: Vec<usize> = match sessions
                .split(',')
                .map(|x| x.trim().parse::<usize>())
                .collect::<Result<Vec<_>, _>>()
            {
                Ok(v) => v,
                Err(_) => {
                    eprintln!("loadgen: ERROR: --sessions must be N or N1,N2,...");
                    std::process::exit(2)
                }
            };
            let max = levels.last().copied().unwrap_or(0) as u64;
            (common.clone(), max + common.concurrency as u64 + 256)
        }
        Mode::Soak {
            sessions, common, ..
        } => {
            if *sessions == 0 || *sessions > 200_000 {
                eprintln!("loadgen: ERROR: --sessions must be 1..=200000");
                std::process::exit(2);
            }
            (
                common.clone(),
                *sessions as u64 + common.concurrency as u64 + 256,
            )
        }
    };
    let (run, nofile) = match make_run(&common, need) {
        Ok(r) => r,
        Err(e) => {
            eprintln!("loadgen: ERROR: {e}");
            std::process::exit(2)
        }
    };
    rustether_server::tls::install_crypto_provider();
    let threads = common
        .threads
        .unwrap_or_else(|| std::thread::available_parallelism().map_or(2, |n| n.get()));
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(threads.max(1))
        .enable_all()
        .build()
        .expect("tokio runtime");
    // Last resort if something does not come back: end the process.
    let hard = Duration::from_secs_f64(common.max_time + 60.0);
    std::thread::spawn(move || {
        std::thread::sleep(hard);
        eprintln!("loadgen: FAILED: watchdog: still running {hard:?} after start");
        std::process::exit(3);
    });
    let started = chrono_like_now();
    let load0 = loadavg();
    let (mode_name, res_ok) = rt.block_on(async {
        {
            let run = run.clone();
            tokio::spawn(async move {
                #[cfg(unix)]
                {
                    use tokio::signal::unix::{signal, SignalKind};
                    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
                    let mut int = signal(SignalKind::interrupt()).expect("SIGINT handler");
                    let s = tokio::select! { _ = term.recv() => "SIGTERM", _ = int.recv() => "SIGINT" };
                    run.abort(format!("signal {s}"));
                }
            });
        }
        match cli.mode {
            Mode::Login { count, .. } => {
                eprintln!(
                    "loadgen: login: {}:{} hub {}, {count} logins, concurrency {}, {} source address(es), fd limit {nofile}",
                    run.target_host, run.port, run.hub, run.concurrency, run.sources.len().max(1)
                );
                ("login", run_login(run.clone(), count, common.progress_interval).await)
            }
            Mode::Hold {
                sessions,
                hold,
                sample_interval,
                after_close,
                probe_after_close,
                ..
            } => {
                let levels: Vec<usize> =
                    sessions.split(',').filter_map(|x| x.trim().parse().ok()).collect();
                if levels.is_empty()
                    || levels.windows(2).any(|w| w[0] >= w[1])
                    || levels[0] == 0
                    || *levels.last().unwrap() > 200_000
                {
                    eprintln!("loadgen: ERROR: --sessions levels must be increasing, 1..=200000");
                    std::process::exit(2);
                }
                eprintln!(
                    "loadgen: hold: {}:{} hub {}, levels {sessions}, hold {hold}s, concurrency {}, {} source address(es), fd limit {nofile}",
                    run.target_host, run.port, run.hub, run.concurrency, run.sources.len().max(1)
                );
                (
                    "hold",
                    run_hold(
                        run.clone(),
                        levels,
                        hold,
                        sample_interval.max(0.5),
                        after_close.max(0.0),
                        probe_after_close.min(1000),
                        common.progress_interval,
                    )
                    .await,
                )
            }
            Mode::Soak {
                sessions,
                duration,
                mean_life,
                frames_per_s,
                frame_len,
                sample_interval,
                warmup,
                flat_pct,
                ..
            } => {
                if !(1.0..=86_400.0).contains(&duration) || !(0.0..=1000.0).contains(&frames_per_s)
                    || mean_life < 0.0
                {
                    eprintln!("loadgen: ERROR: --duration must be 1..=86400 s, --frames-per-s 0..=1000, --mean-life >= 0");
                    std::process::exit(2);
                }
                eprintln!(
                    "loadgen: soak: {}:{} hub {}, {sessions} sessions for {duration}s, mean life {mean_life}s, {frames_per_s} frames/s of {frame_len} bytes each, {} source address(es), fd limit {nofile}",
                    run.target_host, run.port, run.hub, run.sources.len().max(1)
                );
                let st = SoakSettings {
                    sessions,
                    duration: Duration::from_secs_f64(duration),
                    mean_life_s: mean_life,
                    frame_interval: (frames_per_s > 0.0)
                        .then(|| Duration::from_secs_f64(1.0 / frames_per_s)),
                    frame_len,
                    sample_interval: Duration::from_secs_f64(sample_interval.max(0.5)),
                    warmup_s: warmup.max(0.0),
                    flat_pct,
                };
                ("soak", run_soak(run.clone(), st, common.progress_interval).await)
            }
            Mode::Config { .. } | Mode::Report { .. } => unreachable!(),
        }
    });
    let (mut res, ok) = res_ok;
    let aborted = run.aborted.lock().unwrap().clone();
    let mut out = json!({
        "test": format!("loadgen-{mode_name}"),
        "server": common.label,
        "target": format!("{}:{}", run.target_host, run.port),
        "hub": run.hub,
        "sources": run.sources.len(),
        "started_at": started,
        "loadavg_before": load0,
        "loadavg_after": loadavg(),
        "nproc": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "negotiated": run.first_welcome.lock().unwrap().clone(),
        "client": client_stats(),
        "client_threads": threads,
        "aborted": aborted,
        "phase": common.phase,
    });
    if let Some(pid) = &run.server_pid {
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map(|s| s.trim().to_string())
            .ok();
        out["server_process"] = json!({"pid": pid, "comm": comm});
    }
    out.as_object_mut()
        .unwrap()
        .extend(res.as_object_mut().unwrap().clone());
    println!("{}", serde_json::to_string(&out).unwrap());
    if let Some(a) = &aborted {
        eprintln!("loadgen: FAILED: aborted: {a}");
        std::process::exit(3);
    }
    if !ok {
        eprintln!("loadgen: FAILED: some logins failed or sessions were lost");
        std::process::exit(1);
    }
    // Do not wait for the runtime's leftover tasks.
    std::process::exit(0);
}

/// UTC time stamp `YYYY-MM-DDTHH:MM:SSZ` without a date crate.
fn chrono_like_now() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let t = rustether_proto::softether::time::UtcTime::from_unix_ms(secs.saturating_mul(1000));
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year, t.month, t.day, t.hour, t.minute, t.second
    )
}
