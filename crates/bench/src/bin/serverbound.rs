//! Server-bound data-plane benchmark (issue 11 item 3): our own client code
//! ([`rustether_server::client`]) opens N encrypted sessions to one hub,
//! pairs them (session 2k ↔ 2k+1) and sends Ethernet frames through the hub
//! as fast as TCP allows, so that the server, not a real vpnclient, is the
//! limit.
//!
//! ```text
//! serverbound run --server IP --port P --hub H --user U --password PW --sessions N
//!                 [--secs 8] [--frame-size 1514] [--batch 16] [--server-pid PID] ...
//! serverbound report FILE...
//! ```
//!
//! `run` phases, each session on its own TLS connection (`use_encrypt=1`,
//! `max_connection=1`, no QoS, no compression, like the loadgen sessions):
//!
//! 1. login (at most `--login-concurrency` in flight, source addresses
//!    round-robin over `--sources`); keep-alives while waiting;
//! 2. announce: session 0 sends one frame to session 1 (one flood), then
//!    every other session one frame to session 0, so the hub learns every
//!    MAC with a single flood (a frame whose destination equals its source
//!    is dropped before learning, SoftEther src/Cedar/Hub.c `StorePacket`,
//!    crates/hub `Switch::route`);
//! 3. idle: `--idle-rate` frames/s in total, paced, for 1 s (not
//!    sampled) plus `--idle-secs`: latency of a lightly loaded server;
//!    then 1 s quiet, so that idle frames still in flight are not queued
//!    behind the load (`idle_samples_after_load_start` counts those that
//!    still were);
//! 4. load: every session writes blocks of `--batch` frames to its partner
//!    without pacing, but with at most `--window` frames in flight (written
//!    and not yet seen by the partner, as a TCP flow inside the tunnel
//!    would; after 200 ms without progress the frames in flight count as
//!    dropped and the sender goes on; `--window 0`: pure flood); after `--warmup` s the measurement window of `--secs`
//!    s starts: frames and bytes received, server CPU (utime + stime of the
//!    server's process group from `/proc/<pid>/stat`), our own CPU
//!    (`getrusage`), the machine's busy and steal time;
//! 5. drain: senders stop; receivers count until nothing arrives for 0.5 s
//!    (at most `--drain-secs`). Loss = load frames written to TLS minus load
//!    frames received. TCP does not lose frames, so every lost frame was
//!    dropped by the server.
//!
//! Frames: destination = partner's MAC, source = own MAC
//! (`02:5b:xx:xx:xx:xx`, locally administered), EtherType 0x88B5 (IEEE
//! local experimental), payload `magic u32 | phase u8 | 3 pad | sender u32 |
//! seq u64 | send time ns u64`, zero-filled to `--frame-size`. Latency =
//! receiver's decode time − the time the sender built the block (one clock:
//! both ends live in this process), so under load it includes queueing in
//! both TCP connections and in the server.
//!
//! Throughput = Ethernet frame bytes received per second in the window
//! (frame bytes, not TCP payload as iperf3 counts). One JSON line on
//! stdout; progress on stderr. Exit status 0 = measured, 1 = a session
//! failed or the run was incomplete, 2 = bad arguments or environment.
//!
//! Bounds: the target must be a loopback or private address; at most
//! 20 000 sessions; every login bounded by 30 s; the whole run by
//! `--max-time` (the process exits with status 3 when it is exceeded).
#![forbid(unsafe_code)]

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{BufMut, BytesMut};
use clap::{Args, Parser, Subcommand};
use rand::Rng;
use rustether_proto::block::{
    keepalive_interval_ms, keepalive_len, BlockDecoder, BlockEncoder, BlockEvent,
};
use rustether_proto::messages::{LoginRequest, Welcome};
use rustether_proto::password::{hash_password, secure_password};
use rustether_server::client::{ClientConn, ClientTarget};
use rustether_server::transport::{DataReader, DataWriter};
use rustether_testkit::cpu::CpuWindow;
use serde_json::{json, Value};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::{watch, Semaphore};

/// EtherType of the benchmark frames (IEEE 802 local experimental).
const ETHERTYPE: u16 = 0x88B5;
/// First payload word of a benchmark frame ("RTSB").
const MAGIC: u32 = 0x5254_5342;
/// Ethernet header + payload header.
const MIN_FRAME: usize = 14 + 28;
/// Largest frame a SoftEther hub accepts (`MAX_PACKET_SIZE` minus VLAN tag room).
const MAX_FRAME: usize = 1514;
const MAX_SESSIONS: usize = 20_000;
const LOGIN_TIMEOUT: Duration = Duration::from_secs(30);

const PH_WAIT: u8 = 0;
const PH_ANNOUNCE0: u8 = 5;
const PH_ANNOUNCE: u8 = 3;
const PH_IDLE: u8 = 1;
const PH_LOAD: u8 = 2;
const PH_STOP: u8 = 4;
/// Between idle and load: nothing sent, so that the idle frames still in
/// flight arrive before the load's queues form (otherwise their latency
/// measures the load, by Little's law, not the idle server).
const PH_QUIET: u8 = 6;
/// Length of the quiet phase.
const QUIET: Duration = Duration::from_secs(1);

#[derive(Parser, Debug)]
#[command(
    name = "serverbound",
    about = "Server-bound benchmark: N encrypted sessions exchange frames through one hub"
)]
struct Cli {
    #[command(subcommand)]
    mode: Mode,
}

#[derive(Subcommand, Debug)]
enum Mode {
    /// Measure one server at one session count (one JSON line on stdout).
    Run(Box<RunArgs>),
    /// Side-by-side table (ratios to the reference label) from JSON lines.
    Report {
        /// JSON-lines files written by `run` (via bench/serverbound.sh).
        files: Vec<PathBuf>,
        /// Label of the reference server in the ratio columns.
        #[arg(long, default_value = "softether")]
        reference: String,
    },
}

#[derive(Args, Debug, Clone)]
struct RunArgs {
    /// Server address (loopback or private).
    #[arg(long)]
    server: IpAddr,
    #[arg(long, default_value_t = 5555)]
    port: u16,
    #[arg(long, default_value = "DEFAULT")]
    hub: String,
    #[arg(long)]
    user: String,
    #[arg(long)]
    password: String,
    /// Number of sessions (even: they are paired).
    #[arg(long)]
    sessions: usize,
    /// Seconds of the measurement window under load.
    #[arg(long, default_value_t = 8.0)]
    secs: f64,
    /// Seconds of unpaced load before the window opens.
    #[arg(long, default_value_t = 1.0)]
    warmup: f64,
    /// Seconds of the lightly loaded latency phase.
    #[arg(long, default_value_t = 2.0)]
    idle_secs: f64,
    /// Frames per second, all sessions together, in the idle phase.
    #[arg(long, default_value_t = 500.0)]
    idle_rate: f64,
    /// At most this many seconds of draining after the window.
    #[arg(long, default_value_t = 5.0)]
    drain_secs: f64,
    /// Ethernet frame size in bytes (42..=1514).
    #[arg(long, default_value_t = 1514)]
    frame_size: usize,
    /// Frames per data block (one TLS write) under load.
    #[arg(long, default_value_t = 16)]
    batch: usize,
    /// Frames a sender may have in flight (written, not yet seen by its
    /// partner) under load; 0 = no limit (pure flood).
    #[arg(long, default_value_t = 128)]
    window: u64,
    /// Under load, one latency sample every this many frames.
    #[arg(long, default_value_t = 8)]
    sample_every: u64,
    /// Logins in flight at once.
    #[arg(long, default_value_t = 20)]
    login_concurrency: usize,
    /// Local source addresses, e.g. `10.233.0.101-120` (round-robin).
    #[arg(long)]
    sources: Option<String>,
    /// The server's pid (its process group is measured; start it with setsid).
    #[arg(long)]
    server_pid: Option<i32>,
    /// Label in the results (e.g. `ours-1t`, `softether`).
    #[arg(long, default_value = "server")]
    label: String,
    /// Runtime threads of the server, recorded in the results only.
    #[arg(long)]
    server_threads: Option<usize>,
    /// Runtime threads of this load client.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// Abort after this many seconds in total.
    #[arg(long, default_value_t = 300.0)]
    max_time: f64,
}

fn main() {
    let cli = Cli::parse();
    match cli.mode {
        Mode::Report { files, reference } => match report(&files, &reference) {
            Ok(t) => {
                print!("{t}");
            }
            Err(e) => {
                eprintln!("serverbound: ERROR: {e}");
                std::process::exit(2);
            }
        },
        Mode::Run(a) => {
            let a = *a;
            if let Err(e) = check_args(&a) {
                eprintln!("serverbound: ERROR: {e}");
                std::process::exit(2);
            }
            let max = Duration::from_secs_f64(a.max_time);
            std::thread::spawn(move || {
                std::thread::sleep(max);
                eprintln!("serverbound: ERROR: --max-time exceeded");
                std::process::exit(3);
            });
            let rt = match tokio::runtime::Builder::new_multi_thread()
                .worker_threads(a.threads)
                .enable_all()
                .build()
            {
                Ok(rt) => rt,
                Err(e) => {
                    eprintln!("serverbound: ERROR: runtime: {e}");
                    std::process::exit(2);
                }
            };
            let (line, ok) = rt.block_on(run(a));
            println!("{line}");
            // Sessions are dropped with the runtime (the servers see resets).
            rt.shutdown_timeout(Duration::from_secs(1));
            std::process::exit(if ok { 0 } else { 1 });
        }
    }
}

fn check_args(a: &RunArgs) -> Result<(), String> {
    let private = match a.server {
        IpAddr::V4(v) => v.is_loopback() || v.is_private(),
        IpAddr::V6(v) => v.is_loopback(),
    };
    if !private {
        return Err(format!("{} is not a loopback or private address", a.server));
    }
    if a.sessions < 2 || !a.sessions.is_multiple_of(2) || a.sessions > MAX_SESSIONS {
        return Err(format!("--sessions must be even, 2..={MAX_SESSIONS}"));
    }
    if !(MIN_FRAME..=MAX_FRAME).contains(&a.frame_size) {
        return Err(format!("--frame-size must be {MIN_FRAME}..={MAX_FRAME}"));
    }
    if !(1..=256).contains(&a.batch) || a.sample_every == 0 {
        return Err("--batch must be 1..=256 and --sample-every >= 1".into());
    }
    if !(0.5..=600.0).contains(&a.secs)
        || !(0.0..=60.0).contains(&a.warmup)
        || !(0.0..=60.0).contains(&a.idle_secs)
        || !(0.0..=60.0).contains(&a.drain_secs)
        || !(1.0..=100_000.0).contains(&a.idle_rate)
        || !(1.0..=3600.0).contains(&a.max_time)
    {
        return Err("a duration or rate is out of range".into());
    }
    if !(1..=1000).contains(&a.login_concurrency) || !(1..=64).contains(&a.threads) {
        return Err("--login-concurrency 1..=1000, --threads 1..=64".into());
    }
    Ok(())
}

/// Counters shared by every session task (updated once per block or read).
#[derive(Default)]
struct Shared {
    /// Per sender: 1 + the highest sequence number its partner has seen
    /// (or the sender gave up waiting for); the flow-control window.
    acked: Vec<AtomicU64>,
    /// Per sender: woken when `acked` moves.
    wake: Vec<tokio::sync::Notify>,
    phase: AtomicU8,
    sent: [AtomicU64; 3],
    recv: [AtomicU64; 3],
    recv_load_bytes: AtomicU64,
    /// Benchmark frames that arrived at a session that is not their
    /// sender's partner (flooded).
    misdelivered: AtomicU64,
    /// Frames that are not benchmark frames (e.g. the server's own).
    foreign: AtomicU64,
    session_errors: AtomicUsize,
    /// Idle-phase frames sent before this time (ns since the run's base)
    /// are not latency samples: the first second settles the sessions.
    idle_from_ns: AtomicU64,
    /// Idle latency samples received after the load phase began (their
    /// latency includes the queues of the load).
    idle_late: AtomicU64,
    first_error: std::sync::Mutex<Option<String>>,
}

impl Shared {
    fn fail(&self, what: String) {
        self.session_errors.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut g) = self.first_error.lock() {
            g.get_or_insert(what);
        }
    }
}

fn mac(i: usize) -> [u8; 6] {
    let b = (i as u32).to_be_bytes();
    [0x02, 0x5b, b[0], b[1], b[2], b[3]]
}

fn partner(i: usize) -> usize {
    i ^ 1
}

/// What a benchmark frame carries: (phase, sender index, sequence number,
/// send time in ns since the run's base).
type Stamp = (u8, u32, u64, u64);

/// Appends one benchmark frame of `size` bytes to `out`.
fn put_frame(out: &mut BytesMut, dst: [u8; 6], src: [u8; 6], stamp: Stamp, size: usize) {
    let (phase, sender, seq, t) = stamp;
    let start = out.len();
    out.put_slice(&dst);
    out.put_slice(&src);
    out.put_u16(ETHERTYPE);
    out.put_u32(MAGIC);
    out.put_u8(phase);
    out.put_slice(&[0, 0, 0]);
    out.put_u32(sender);
    out.put_u64(seq);
    out.put_u64(t);
    out.resize(start + size.max(MIN_FRAME), 0);
}

/// The [`Stamp`] of a benchmark frame.
fn parse_frame(f: &[u8]) -> Option<Stamp> {
    if f.len() < MIN_FRAME || u16::from_be_bytes([f[12], f[13]]) != ETHERTYPE {
        return None;
    }
    let p = &f[14..];
    if u32::from_be_bytes(p[0..4].try_into().ok()?) != MAGIC {
        return None;
    }
    Some((
        p[4],
        u32::from_be_bytes(p[8..12].try_into().ok()?),
        u64::from_be_bytes(p[12..20].try_into().ok()?),
        u64::from_be_bytes(p[20..28].try_into().ok()?),
    ))
}

struct Session {
    reader: DataReader,
    writer: DataWriter,
    leftover: BytesMut,
    timeout_ms: u32,
}

async fn login(a: &RunArgs, idx: usize, sources: &[IpAddr]) -> Result<Session, String> {
    let target = ClientTarget {
        host: a.server.to_string(),
        port: a.port,
        source: (!sources.is_empty()).then(|| sources[idx % sources.len()]),
        not_this_host: false,
    };
    let hashed = hash_password(&a.user, &a.password);
    let mut unique_id = [0u8; 20];
    rand::thread_rng().fill(&mut unique_id);
    let fut = async {
        let (mut conn, hello) = ClientConn::connect(&target)
            .await
            .map_err(|e| format!("connect: {e}"))?;
        let sp = secure_password(&hashed, &hello.random);
        let mut r = LoginRequest::cascade(&a.hub, &a.user, sp, unique_id);
        // A plain client session, as loadgen's (not a bridge/routing cascade).
        r.client_str = "SoftEther VPN Client".into();
        r.hello = r.client_str.clone();
        r.require_bridge_routing_mode = false;
        r.max_connection = 1;
        r.use_encrypt = true;
        r.use_compress = false;
        r.qos = false;
        let reply = conn
            .request(&r.to_pack())
            .await
            .map_err(|e| format!("login: {e}"))?;
        let w = Welcome::from_pack(&reply).map_err(|c| format!("welcome: {}", c.name()))?;
        if !w.use_encrypt || w.use_compress || w.timeout_ms == 0 {
            return Err("welcome: unexpected session settings".to_string());
        }
        let (stream, leftover) = conn.into_data(true);
        let (reader, writer) = stream.split();
        Ok(Session {
            reader,
            writer,
            leftover,
            timeout_ms: w.timeout_ms,
        })
    };
    tokio::time::timeout(LOGIN_TIMEOUT, fut)
        .await
        .map_err(|_| "login timed out".to_string())?
}

#[allow(clippy::too_many_arguments)]
async fn writer_task(
    idx: usize,
    mut w: DataWriter,
    timeout_ms: u32,
    shared: Arc<Shared>,
    mut phase_rx: watch::Receiver<u8>,
    base: Instant,
    a: Arc<RunArgs>,
) {
    let me = mac(idx);
    let peer = mac(partner(idx));
    let mut enc = BlockEncoder::new(false);
    let mut out = BytesMut::with_capacity(a.batch * (a.frame_size + 4) + 8);
    let mut block = BytesMut::with_capacity(a.batch * a.frame_size);
    let mut seq = 0u64;
    let t = |base: Instant| base.elapsed().as_nanos() as u64;
    // Idle pacing: each session sends every sessions/idle_rate seconds, offset at random.
    let idle_every = Duration::from_secs_f64(a.sessions as f64 / a.idle_rate);
    let mut next_idle =
        tokio::time::Instant::now() + idle_every.mul_f64(rand::thread_rng().gen_range(0.0..1.0));
    let mut next_ka = tokio::time::Instant::now();
    let mut announced = false;
    loop {
        let phase = *phase_rx.borrow_and_update();
        out.clear();
        // Benchmark frames in `out` (keep-alives and the announcement do not count).
        let mut count = 0u64;
        match phase {
            PH_WAIT => {
                tokio::select! {
                    _ = phase_rx.changed() => continue,
                    _ = tokio::time::sleep_until(next_ka) => {
                        let mut rng = rand::thread_rng();
                        let len = keepalive_len(&mut rng);
                        enc.encode_keepalive(&mut out, &mut rng, len);
                        next_ka = tokio::time::Instant::now()
                            + Duration::from_millis(keepalive_interval_ms(&mut rng, timeout_ms));
                    }
                }
            }
            // The hub learns a MAC from a frame's source, but drops a frame
            // whose destination is its own source: session 0 announces to
            // session 1 (one flood), then everyone else to session 0.
            PH_ANNOUNCE0 if idx == 0 && !announced => {
                announced = true;
                block.clear();
                put_frame(&mut block, peer, me, (0, idx as u32, 0, t(base)), 60);
                enc.encode_frames(&mut out, [&block[..]]);
            }
            PH_ANNOUNCE | PH_IDLE if !announced => {
                announced = true;
                block.clear();
                put_frame(&mut block, mac(0), me, (0, idx as u32, 0, t(base)), 60);
                enc.encode_frames(&mut out, [&block[..]]);
            }
            PH_ANNOUNCE0 | PH_ANNOUNCE | PH_QUIET => {
                if phase_rx.changed().await.is_err() {
                    return;
                }
                continue;
            }
            PH_IDLE => {
                tokio::select! {
                    _ = phase_rx.changed() => continue,
                    _ = tokio::time::sleep_until(next_idle) => {}
                }
                next_idle += idle_every;
                block.clear();
                put_frame(
                    &mut block,
                    peer,
                    me,
                    (PH_IDLE, idx as u32, seq, t(base)),
                    a.frame_size,
                );
                seq += 1;
                count = 1;
                enc.encode_frames(&mut out, [&block[..]]);
            }
            PH_LOAD => {
                let acked = shared.acked[idx].load(Ordering::Relaxed);
                if a.window > 0 && seq + a.batch as u64 > acked + a.window {
                    tokio::select! {
                        _ = shared.wake[idx].notified() => {}
                        _ = phase_rx.changed() => {}
                        // Nothing seen for a while: what is in flight was
                        // dropped (counted as lost at the end); go on.
                        _ = tokio::time::sleep(Duration::from_millis(200)) => {
                            shared.acked[idx].fetch_max(seq, Ordering::Relaxed);
                        }
                    }
                    continue;
                }
                block.clear();
                let now = t(base);
                for _ in 0..a.batch {
                    put_frame(
                        &mut block,
                        peer,
                        me,
                        (PH_LOAD, idx as u32, seq, now),
                        a.frame_size,
                    );
                    seq += 1;
                }
                count = a.batch as u64;
                enc.encode_frames(&mut out, block.chunks(a.frame_size));
            }
            _ => {
                // Stop: nothing more to send; keep the connection open.
                let _ = phase_rx.changed().await;
                return;
            }
        }
        if let Err(e) = w.write_all(&out).await {
            shared.fail(format!("session {idx}: write: {e}"));
            return;
        }
        if count > 0 {
            shared.sent[phase as usize].fetch_add(count, Ordering::Relaxed);
        }
    }
}

/// Latency samples (µs) of the idle and the load phase.
type Samples = (Vec<u32>, Vec<u32>);

async fn reader_task(
    idx: usize,
    mut r: DataReader,
    mut buf: BytesMut,
    shared: Arc<Shared>,
    mut stop: watch::Receiver<bool>,
    base: Instant,
    sample_every: u64,
) -> Samples {
    let mut dec = BlockDecoder::new(false);
    let (mut idle, mut load) = (Vec::new(), Vec::new());
    let want = partner(idx) as u32;
    loop {
        buf.reserve(64 * 1024);
        tokio::select! {
            _ = stop.changed() => break,
            n = r.read_buf(&mut buf) => match n {
                Ok(0) => {
                    if !*stop.borrow() {
                        shared.fail(format!("session {idx}: the server closed the connection"));
                    }
                    break;
                }
                Err(e) => {
                    shared.fail(format!("session {idx}: read: {e}"));
                    break;
                }
                Ok(_) => {}
            }
        }
        let now = base.elapsed().as_nanos() as u64;
        let (mut c_idle, mut c_load, mut bytes, mut mis, mut foreign) = (0, 0, 0, 0, 0);
        let mut seen = None;
        loop {
            match dec.next_event(&mut buf) {
                Ok(Some(BlockEvent::Frame(f))) => match parse_frame(&f) {
                    Some((ph, sender, seq, t)) if sender == want => {
                        if ph == PH_IDLE || ph == PH_LOAD {
                            seen = Some(seq + 1);
                        }
                        let us = (now.saturating_sub(t) / 1000).min(u32::MAX as u64) as u32;
                        if ph == PH_IDLE {
                            c_idle += 1;
                            if t >= shared.idle_from_ns.load(Ordering::Relaxed) {
                                idle.push(us);
                                if matches!(shared.phase.load(Ordering::Relaxed), PH_LOAD | PH_STOP)
                                {
                                    shared.idle_late.fetch_add(1, Ordering::Relaxed);
                                }
                            }
                        } else if ph == PH_LOAD {
                            c_load += 1;
                            bytes += f.len() as u64;
                            if seq % sample_every == 0 && load.len() < 2_000_000 {
                                load.push(us);
                            }
                        }
                    }
                    Some((0, _, _, _)) => {}
                    Some(_) => mis += 1,
                    None => foreign += 1,
                },
                Ok(Some(BlockEvent::KeepAlive)) => {}
                Ok(None) => break,
                Err(e) => {
                    shared.fail(format!("session {idx}: bad block: {e}"));
                    return (idle, load);
                }
            }
        }
        if let Some(s) = seen {
            shared.acked[want as usize].fetch_max(s, Ordering::Relaxed);
            shared.wake[want as usize].notify_one();
        }
        if c_idle > 0 {
            shared.recv[PH_IDLE as usize].fetch_add(c_idle, Ordering::Relaxed);
        }
        if c_load > 0 {
            shared.recv[PH_LOAD as usize].fetch_add(c_load, Ordering::Relaxed);
            shared.recv_load_bytes.fetch_add(bytes, Ordering::Relaxed);
        }
        if mis > 0 {
            shared.misdelivered.fetch_add(mis, Ordering::Relaxed);
        }
        if foreign > 0 {
            shared.foreign.fetch_add(foreign, Ordering::Relaxed);
        }
    }
    (idle, load)
}

fn log(label: &str, msg: &str) {
    eprintln!("serverbound[{label}]: {msg}");
}

fn percentiles(mut v: Vec<u32>) -> Value {
    if v.is_empty() {
        return json!(null);
    }
    v.sort_unstable();
    let p = |q: f64| v[((v.len() - 1) as f64 * q).round() as usize];
    json!({"samples": v.len(), "p50": p(0.50), "p90": p(0.90), "p99": p(0.99), "max": v[v.len() - 1]})
}

/// TCP segments retransmitted so far by this network namespace
/// (`RetransSegs` of /proc/net/snmp, which is per namespace); `None` if
/// unreadable.
fn tcp_retrans_segs() -> Option<u64> {
    proc_counter("/proc/net/snmp", "Tcp:", "RetransSegs")
}

/// Counter `name` of the `prefix` table (`Tcp:`, `TcpExt:`) in a
/// /proc/net/snmp-style file (a names line, then a values line).
fn proc_counter(path: &str, prefix: &str, name: &str) -> Option<u64> {
    parse_counter(&std::fs::read_to_string(path).ok()?, prefix, name)
}

/// [`proc_counter`] on the file's text.
fn parse_counter(text: &str, prefix: &str, name: &str) -> Option<u64> {
    let mut rows = text.lines().filter(|l| l.starts_with(prefix));
    let (names, values) = (rows.next()?, rows.next()?);
    let i = names.split_whitespace().position(|n| n == name)?;
    values.split_whitespace().nth(i)?.parse().ok()
}

/// This namespace's TCP counters at one instant: retransmitted segments,
/// of which tail loss probes (`TCPLossProbes`), and duplicate-SACKs
/// received (`TCPDSACKRecv`: the peer already had the segment, so the
/// retransmission was spurious). Linux counters of /proc/net/snmp and
/// /proc/net/netstat.
#[derive(Clone, Copy, Default)]
struct TcpCounters {
    retrans: Option<u64>,
    tlp: Option<u64>,
    dsack: Option<u64>,
}

impl TcpCounters {
    fn now() -> TcpCounters {
        TcpCounters {
            retrans: tcp_retrans_segs(),
            tlp: proc_counter("/proc/net/netstat", "TcpExt:", "TCPLossProbes"),
            dsack: proc_counter("/proc/net/netstat", "TcpExt:", "TCPDSACKRecv"),
        }
    }

    /// `{"retrans":N,"tlp":N,"dsack":N}` from `self` to `later`.
    fn delta(&self, later: &TcpCounters) -> Value {
        let d = |a: Option<u64>, b: Option<u64>| Some(b?.saturating_sub(a?));
        json!({
            "retrans": d(self.retrans, later.retrans),
            "tlp": d(self.tlp, later.tlp),
            "dsack": d(self.dsack, later.dsack),
        })
    }
}

fn self_cpu_s() -> f64 {
    use nix::sys::resource::{getrusage, UsageWho};
    match getrusage(UsageWho::RUSAGE_SELF) {
        Ok(u) => {
            let tv = |t: nix::sys::time::TimeVal| t.tv_sec() as f64 + t.tv_usec() as f64 / 1e6;
            tv(u.user_time()) + tv(u.system_time())
        }
        Err(_) => 0.0,
    }
}

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

fn raise_nofile(need: u64) {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    if let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) {
        if soft < need {
            let want = need.max(hard);
            if setrlimit(Resource::RLIMIT_NOFILE, want, want).is_err() {
                let _ = setrlimit(Resource::RLIMIT_NOFILE, hard, hard);
            }
        }
    }
}

/// Runs one measurement; returns the JSON line and whether it is complete.
async fn run(a: RunArgs) -> (Value, bool) {
    let a = Arc::new(a);
    let label = a.label.clone();
    let mut res = json!({
        "test": "serverbound",
        "label": a.label,
        "server_threads": a.server_threads,
        "sessions": a.sessions,
        "frame_bytes": a.frame_size,
        "batch": a.batch,
        "window": a.window,
        "secs": a.secs,
        "loadavg_1m_before": std::fs::read_to_string("/proc/loadavg").ok()
            .and_then(|s| s.split_whitespace().next()?.parse::<f64>().ok()),
        "nproc": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
        "date_utc": std::process::Command::new("date").args(["-u", "+%Y-%m-%dT%H:%M:%SZ"])
            .output().ok().map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string()),
    });
    let sources = match a.sources.as_deref().map(parse_sources).transpose() {
        Ok(s) => s.unwrap_or_default(),
        Err(e) => {
            res["error"] = json!(e);
            return (res, false);
        }
    };
    raise_nofile(a.sessions as u64 * 2 + 256);
    let shared = Arc::new(Shared {
        acked: (0..a.sessions).map(|_| AtomicU64::new(0)).collect(),
        wake: (0..a.sessions)
            .map(|_| tokio::sync::Notify::new())
            .collect(),
        idle_from_ns: AtomicU64::new(u64::MAX),
        ..Shared::default()
    });
    let base = Instant::now();

    // 1. Logins.
    let tcp_login = TcpCounters::now();
    let t0 = Instant::now();
    let sem = Arc::new(Semaphore::new(a.login_concurrency));
    let mut logins = Vec::with_capacity(a.sessions);
    for idx in 0..a.sessions {
        let (a, sem, sources) = (a.clone(), sem.clone(), sources.clone());
        logins.push(tokio::spawn(async move {
            let _permit = sem.acquire().await.map_err(|e| e.to_string())?;
            login(&a, idx, &sources).await
        }));
    }
    let (phase_tx, phase_rx) = watch::channel(PH_WAIT);
    let (stop_tx, stop_rx) = watch::channel(false);
    let mut readers = Vec::with_capacity(a.sessions);
    let mut writers = Vec::with_capacity(a.sessions);
    let mut failed = 0usize;
    let mut first_fail = None;
    for (idx, h) in logins.into_iter().enumerate() {
        match h.await.map_err(|e| e.to_string()).and_then(|r| r) {
            Ok(s) => {
                readers.push(tokio::spawn(reader_task(
                    idx,
                    s.reader,
                    s.leftover,
                    shared.clone(),
                    stop_rx.clone(),
                    base,
                    a.sample_every,
                )));
                writers.push(tokio::spawn(writer_task(
                    idx,
                    s.writer,
                    s.timeout_ms,
                    shared.clone(),
                    phase_rx.clone(),
                    base,
                    a.clone(),
                )));
            }
            Err(e) => {
                failed += 1;
                first_fail.get_or_insert(format!("session {idx}: {e}"));
            }
        }
    }
    let login_s = t0.elapsed().as_secs_f64();
    res["login_secs"] = json!(round(login_s, 2));
    res["failed_logins"] = json!(failed);
    log(
        &label,
        &format!(
            "{} sessions logged in in {login_s:.1} s ({failed} failed)",
            a.sessions - failed
        ),
    );
    if let Some(e) = first_fail {
        res["error"] = json!(e);
        return (res, false);
    }

    let tcp_logged_in = TcpCounters::now();
    let retrans0 = tcp_logged_in.retrans;
    // 2. Announce own MACs; 3. idle latency.
    let set = |p: u8| {
        shared.phase.store(p, Ordering::Relaxed);
        let _ = phase_tx.send(p);
    };
    set(PH_ANNOUNCE0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    set(PH_ANNOUNCE);
    tokio::time::sleep(Duration::from_millis(1000)).await;
    set(PH_IDLE);
    tokio::time::sleep(Duration::from_secs(1)).await;
    shared
        .idle_from_ns
        .store(base.elapsed().as_nanos() as u64, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_secs_f64(a.idle_secs)).await;
    set(PH_QUIET);
    tokio::time::sleep(QUIET).await;

    // 4. Load.
    let tcp_idle_end = TcpCounters::now();
    set(PH_LOAD);
    tokio::time::sleep(Duration::from_secs_f64(a.warmup)).await;
    let groups: Vec<i32> = a.server_pid.into_iter().collect();
    let win = CpuWindow::start(&groups);
    let tcp_warm = TcpCounters::now();
    let retrans1 = tcp_warm.retrans;
    let (f0, b0, c0, w0) = (
        shared.recv[PH_LOAD as usize].load(Ordering::Relaxed),
        shared.recv_load_bytes.load(Ordering::Relaxed),
        self_cpu_s(),
        Instant::now(),
    );
    tokio::time::sleep(Duration::from_secs_f64(a.secs)).await;
    let (f1, b1, c1, wall) = (
        shared.recv[PH_LOAD as usize].load(Ordering::Relaxed),
        shared.recv_load_bytes.load(Ordering::Relaxed),
        self_cpu_s(),
        w0.elapsed().as_secs_f64(),
    );
    let u = win.finish();
    let tcp_end = TcpCounters::now();
    let retrans2 = tcp_end.retrans;

    // 5. Drain.
    set(PH_STOP);
    let drain_end = Instant::now() + Duration::from_secs_f64(a.drain_secs);
    let mut last = (u64::MAX, u64::MAX);
    while Instant::now() < drain_end {
        tokio::time::sleep(Duration::from_millis(500)).await;
        let now = (
            shared.recv[PH_LOAD as usize].load(Ordering::Relaxed),
            shared.sent[PH_LOAD as usize].load(Ordering::Relaxed),
        );
        if now == last && writers.iter().all(|w| w.is_finished()) {
            break;
        }
        last = now;
    }
    let _ = stop_tx.send(true);
    let (mut idle_s, mut load_s) = (Vec::new(), Vec::new());
    for r in readers {
        match tokio::time::timeout(Duration::from_secs(5), r).await {
            Ok(Ok((i, l))) => {
                idle_s.extend(i);
                load_s.extend(l);
            }
            _ => shared.fail("a reader did not finish".into()),
        }
    }
    for w in &writers {
        w.abort();
    }

    let mbps = (b1 - b0) as f64 * 8.0 / wall / 1e6;
    let srv_cpu = u.group_pct.first().copied();
    let sent_l = shared.sent[PH_LOAD as usize].load(Ordering::Relaxed);
    let recv_l = shared.recv[PH_LOAD as usize].load(Ordering::Relaxed);
    let sent_i = shared.sent[PH_IDLE as usize].load(Ordering::Relaxed);
    let recv_i = shared.recv[PH_IDLE as usize].load(Ordering::Relaxed);
    let lost = sent_l.saturating_sub(recv_l);
    res["throughput_mbps"] = json!(round(mbps, 1));
    res["frames_per_s"] = json!(round((f1 - f0) as f64 / wall, 0));
    res["server_cpu_pct"] = json!(srv_cpu);
    res["server_cpu_pct_per_gbps"] =
        json!(srv_cpu.and_then(|c| (mbps > 0.0).then(|| round(c / (mbps / 1000.0), 2))));
    res["loadgen_cpu_pct"] = json!(round((c1 - c0) / wall * 100.0, 1));
    res["machine_busy_pct"] = json!(u.machine_busy_pct);
    res["cpu_steal_pct"] = json!(u.steal_pct);
    res["load_frames_sent"] = json!(sent_l);
    res["load_frames_received"] = json!(recv_l);
    res["load_frames_lost"] = json!(lost);
    res["load_loss_pct"] = json!(if sent_l > 0 {
        round(lost as f64 / sent_l as f64 * 100.0, 3)
    } else {
        0.0
    });
    res["idle_frames_sent"] = json!(sent_i);
    res["idle_frames_lost"] = json!(sent_i.saturating_sub(recv_i));
    res["misdelivered_frames"] = json!(shared.misdelivered.load(Ordering::Relaxed));
    res["foreign_frames"] = json!(shared.foreign.load(Ordering::Relaxed));
    // Retransmissions by the client side (the server namespace's own are
    // not visible here): a frame stuck behind a retransmission timeout
    // shows as a latency of hundreds of ms or more.
    let diff = |a: Option<u64>, b: Option<u64>| Some(b?.saturating_sub(a?));
    res["client_tcp_retrans_before_load"] = json!(diff(retrans0, retrans1));
    res["client_tcp_retrans_in_window"] = json!(diff(retrans1, retrans2));
    // The same by phase, with the share of tail loss probes and of
    // retransmissions the server reported as duplicates (DSACK).
    // `before_load` above = `idle` + `warmup` here (the warm-up is loaded).
    res["client_tcp"] = json!({
        "login": tcp_login.delta(&tcp_logged_in),
        "idle": tcp_logged_in.delta(&tcp_idle_end),
        "warmup": tcp_idle_end.delta(&tcp_warm),
        "window": tcp_warm.delta(&tcp_end),
    });
    res["latency_idle_us"] = percentiles(idle_s);
    res["idle_samples_after_load_start"] = json!(shared.idle_late.load(Ordering::Relaxed));
    res["latency_load_us"] = percentiles(load_s);
    let errors = shared.session_errors.load(Ordering::Relaxed);
    res["session_errors"] = json!(errors);
    if let Ok(g) = shared.first_error.lock() {
        if let Some(e) = g.as_ref() {
            res["first_session_error"] = json!(e);
        }
    }
    log(
        &label,
        &format!(
            "{} sessions: {mbps:.0} Mbit/s, server CPU {}%, loss {lost}/{sent_l}, errors {errors}",
            a.sessions,
            srv_cpu.map_or("-".into(), |c| c.to_string())
        ),
    );
    let ok = errors == 0 && recv_l > 0;
    (res, ok)
}

fn round(x: f64, digits: i32) -> f64 {
    let m = 10f64.powi(digits);
    (x * m).round() / m
}

/// Table per session count: one column group per label, ratios to `reference`.
fn report(files: &[PathBuf], reference: &str) -> Result<String, String> {
    let mut rows: Vec<Value> = Vec::new();
    for f in files {
        let text =
            std::fs::read_to_string(f).map_err(|e| format!("cannot read {}: {e}", f.display()))?;
        for line in text.lines().filter(|l| l.trim_start().starts_with('{')) {
            if let Ok(v) = serde_json::from_str::<Value>(line) {
                if v["test"] == "serverbound" {
                    rows.push(v);
                }
            }
        }
    }
    let mut labels: Vec<String> = Vec::new();
    let mut levels: Vec<u64> = Vec::new();
    for r in &rows {
        if let Some(l) = r["label"].as_str() {
            if !labels.iter().any(|x| x == l) {
                labels.push(l.to_string());
            }
        }
        if let Some(n) = r["sessions"].as_u64() {
            if !levels.contains(&n) {
                levels.push(n);
            }
        }
    }
    levels.sort_unstable();
    let find = |label: &str, n: u64| {
        rows.iter()
            .rev()
            .find(|r| r["label"] == label && r["sessions"].as_u64() == Some(n))
    };
    type Figure<'a> = (&'a str, &'a dyn Fn(&Value) -> Option<f64>);
    let figures: [Figure; 7] = [
        ("throughput Mbit/s", &|r| r["throughput_mbps"].as_f64()),
        ("server CPU %", &|r| r["server_cpu_pct"].as_f64()),
        ("server CPU % per Gbit/s", &|r| {
            r["server_cpu_pct_per_gbps"].as_f64()
        }),
        ("loss % (load)", &|r| r["load_loss_pct"].as_f64()),
        ("latency idle p50/p99 us", &|r| {
            r["latency_idle_us"]["p50"].as_f64()
        }),
        ("latency load p50 us", &|r| {
            r["latency_load_us"]["p50"].as_f64()
        }),
        ("latency load p99 us", &|r| {
            r["latency_load_us"]["p99"].as_f64()
        }),
    ];
    let mut s = String::new();
    for n in levels {
        s.push_str(&format!("\nserver-bound, {n} sessions ({} pairs)\n", n / 2));
        s.push_str(&format!("{:<26}", "figure"));
        for l in &labels {
            s.push_str(&format!("{l:>14}"));
        }
        for l in labels.iter().filter(|l| *l != reference) {
            s.push_str(&format!("{:>20}", format!("{l}/{reference}")));
        }
        s.push('\n');
        for (title, get) in figures.iter() {
            s.push_str(&format!("{title:<26}"));
            for l in &labels {
                let cell = match find(l, n) {
                    Some(r) if r.get("error").is_some() => "FAILED".to_string(),
                    Some(r) if *title == "latency idle p50/p99 us" => format!(
                        "{}/{}",
                        r["latency_idle_us"]["p50"], r["latency_idle_us"]["p99"]
                    ),
                    Some(r) => get(r).map_or("-".into(), |x| format!("{x:.1}")),
                    None => "-".into(),
                };
                s.push_str(&format!("{cell:>14}"));
            }
            let refv = find(reference, n).and_then(get);
            for l in labels.iter().filter(|l| *l != reference) {
                let cell = match (find(l, n).and_then(get), refv) {
                    (Some(o), Some(r)) if r != 0.0 => format!("{:.2}x", o / r),
                    _ => "-".into(),
                };
                s.push_str(&format!("{cell:>20}"));
            }
            s.push('\n');
        }
    }
    s.push_str(
        "\n(1) under load every pair keeps --window frames in flight, so this is\n    \
         about window x pairs / throughput (Little's law), not an independent figure.\n",
    );
    Ok(s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frame_round_trip() {
        let mut b = BytesMut::new();
        put_frame(&mut b, mac(1), mac(0), (PH_LOAD, 0, 42, 7), 100);
        assert_eq!(b.len(), 100);
        assert_eq!(&b[0..6], &mac(1));
        assert_eq!(parse_frame(&b), Some((PH_LOAD, 0, 42, 7)));
        b[14] ^= 1;
        assert_eq!(parse_frame(&b), None);
        assert_eq!(parse_frame(&b[..20]), None);
    }

    #[test]
    fn pairs_and_macs() {
        assert_eq!(partner(0), 1);
        assert_eq!(partner(7), 6);
        assert_ne!(mac(1), mac(256));
        // Locally administered, unicast.
        assert_eq!(mac(5)[0] & 0x03, 0x02);
    }

    #[test]
    fn counters_are_read_from_the_named_table() {
        let text = "TcpExt: SyncookiesSent TCPLossProbes TCPDSACKRecv\n\
                    TcpExt: 0 17 12\n\
                    IpExt: InNoRoutes TCPLossProbes\n\
                    IpExt: 0 99\n";
        assert_eq!(parse_counter(text, "TcpExt:", "TCPLossProbes"), Some(17));
        assert_eq!(parse_counter(text, "TcpExt:", "TCPDSACKRecv"), Some(12));
        assert_eq!(parse_counter(text, "IpExt:", "TCPLossProbes"), Some(99));
        assert_eq!(parse_counter(text, "TcpExt:", "Missing"), None);
        assert_eq!(parse_counter("TcpExt: A B\n", "TcpExt:", "A"), None);
    }

    #[test]
    fn percentile_summary() {
        let v: Vec<u32> = (1..=100).collect();
        let p = percentiles(v);
        assert_eq!(p["p50"], 51);
        assert_eq!(p["p99"], 99);
        assert_eq!(p["max"], 100);
        assert_eq!(percentiles(Vec::new()), json!(null));
    }
}
