//! The Prometheus endpoint `/metrics` (docs/metrics.md) and the data path
//! it reports on (issue 11 items 1 and 6).
//!
//! Our server runs in-process on a loopback port and is driven with our own
//! client code (`rustether_server::client`); `/metrics` is fetched with
//! `curl` over HTTPS on the same port. Checked: off by default, the server
//! administrator's password required (401 without or with a wrong one, 403
//! for a hub administrator) or the read-only `MetricsToken` (which opens no
//! API call), counters that move with real traffic, and a
//! stalled receiver that is bounded while another receiver gets every
//! frame. Every wait is bounded by a deadline that only guards against a
//! hang; nothing is timed.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::BytesMut;
use rustether_config::model::now_ms;
use rustether_config::{Edition, UserAuth, UserConfig};
use rustether_proto::block::{BlockDecoder, BlockEncoder, BlockEvent};
use rustether_proto::messages::LoginRequest;
use rustether_proto::password::{hash_password, secure_password};
use rustether_proto::sha0::sha0;
use rustether_server::client::{self, ClientTarget};
use rustether_server::hub::PORT_QUEUE_BYTES;
use rustether_server::server::Server;
use rustether_server::transport::{DataReader, DataWriter};
use rustether_server::worker::Services;
use rustether_testkit::prereq::{require, Prereq};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Deadline of a wait for something that must happen (never a speed limit).
const LONG: Duration = Duration::from_secs(60);
const PW: &str = "pw";
const ADMIN_PW: &str = "metrics-admin";
const HUB_PW: &str = "hub-admin";

struct TestServer {
    server: Arc<Server>,
    addr: SocketAddr,
    services: Services,
    _dir: tempfile::TempDir,
}

impl TestServer {
    /// Hub DEFAULT with users `users` (password [`PW`]), a server
    /// administrator password, a hub administrator password, and
    /// `EnableMetrics` as given.
    async fn start(users: &[&str], metrics: bool) -> TestServer {
        rustether_server::tls::install_crypto_provider();
        let dir = tempfile::tempdir().unwrap();
        let server = Server::open(Edition::Server, dir.path()).unwrap();
        let users: Vec<UserConfig> = users
            .iter()
            .map(|n| {
                UserConfig::new(
                    n,
                    UserAuth::Password {
                        hash: hash_password(n, PW),
                        nt_hash: None,
                    },
                    now_ms(),
                )
            })
            .collect();
        server
            .update_config(move |c| {
                c.server.hashed_password = sha0(ADMIN_PW.as_bytes());
                if metrics {
                    c.server.raw.set_bool("EnableMetrics", true);
                }
                let hub = c.hub_mut("DEFAULT").unwrap();
                hub.users.extend(users);
                hub.hashed_password = sha0(HUB_PW.as_bytes());
                hub.secure_password = hash_password("administrator", HUB_PW);
                Ok(())
            })
            .await
            .unwrap();
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.set_nonblocking(true).unwrap();
        let addr = l.local_addr().unwrap();
        let services = Services::new(server.clone());
        services.serve(l);
        TestServer {
            server,
            addr,
            services,
            _dir: dir,
        }
    }

    async fn login_with(&self, user: &str, pw: &str) -> Result<Peer, u32> {
        let target = ClientTarget {
            host: "127.0.0.1".into(),
            port: self.addr.port(),
            source: None,
            not_this_host: false,
        };
        let (welcome, conn) = client::login(&target, |h| {
            let sp = secure_password(&hash_password(user, pw), &h.random);
            let mut r = LoginRequest::cascade("DEFAULT", user, sp, [7u8; 20]);
            r.client_str = "SoftEther VPN Client".into();
            r.require_bridge_routing_mode = false;
            r
        })
        .await
        .map_err(|e| e.code.0)?;
        let compress = welcome.use_compress;
        let (stream, leftover) = conn.into_data(welcome.use_encrypt);
        let (r, w) = stream.split();
        Ok(Peer {
            r,
            w,
            buf: leftover,
            dec: BlockDecoder::new(compress),
            enc: BlockEncoder::new(compress),
        })
    }

    async fn login(&self, user: &str) -> Peer {
        self.login_with(user, PW).await.expect("login")
    }

    /// `GET /metrics` with curl (`-u user:pw` if given): (status, body).
    async fn metrics(&self, auth: Option<(&str, &str)>) -> (u16, String) {
        let mut args = Vec::new();
        if let Some((u, p)) = auth {
            args.push("-u".to_string());
            args.push(format!("{u}:{p}"));
        }
        self.curl("/metrics", &args).await
    }

    /// curl on `path` with extra arguments: (status, body).
    async fn curl(&self, path: &str, extra: &[String]) -> (u16, String) {
        let url = format!("https://127.0.0.1:{}{path}", self.addr.port());
        let mut cmd = std::process::Command::new("curl");
        cmd.args(["-sk", "--max-time", "30", "-w", "\n%{http_code}"]);
        cmd.args(extra);
        cmd.arg(&url);
        // curl is bounded by --max-time; run it off the runtime's threads.
        let out = tokio::task::spawn_blocking(move || cmd.output())
            .await
            .unwrap()
            .expect("curl runs");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        let (body, code) = text.rsplit_once('\n').expect("status line");
        (code.trim().parse().expect("status"), body.to_string())
    }

    async fn scrape(&self) -> String {
        let (code, body) = self.metrics(Some(("administrator", ADMIN_PW))).await;
        assert_eq!(code, 200, "{body}");
        body
    }
}

/// The value of the sample `name{labels}` (labels exactly as rendered,
/// e.g. `hub="DEFAULT",direction="in"`), or `None`.
fn sample(body: &str, name: &str, labels: &str) -> Option<f64> {
    let key = if labels.is_empty() {
        name.to_string()
    } else {
        format!("{name}{{{labels}}}")
    };
    body.lines()
        .filter(|l| !l.starts_with('#'))
        .find_map(|l| l.strip_prefix(&key)?.strip_prefix(' ')?.trim().parse().ok())
}

struct Peer {
    r: DataReader,
    w: DataWriter,
    buf: BytesMut,
    dec: BlockDecoder,
    enc: BlockEncoder,
}

impl Peer {
    async fn send(&mut self, frames: &[Vec<u8>]) {
        let mut out = BytesMut::new();
        self.enc
            .encode_frames(&mut out, frames.iter().map(|f| &f[..]));
        self.w.write_all(&out).await.unwrap();
        self.w.flush().await.unwrap();
    }

    /// Reads until `want` frames from `src` arrived (others are skipped).
    async fn count_from(&mut self, src: [u8; 6], want: usize) -> usize {
        let mut n = 0;
        while n < want {
            match self.dec.next_event(&mut self.buf).unwrap() {
                Some(BlockEvent::Frame(f)) => {
                    if f[6..12] == src {
                        n += 1;
                    }
                    continue;
                }
                Some(BlockEvent::KeepAlive) => continue,
                None => {}
            }
            if self.r.read_buf(&mut self.buf).await.unwrap_or(0) == 0 {
                break;
            }
        }
        n
    }
}

fn frame(dst: [u8; 6], src: [u8; 6], len: usize) -> Vec<u8> {
    let mut f = vec![0u8; len];
    f[..6].copy_from_slice(&dst);
    f[6..12].copy_from_slice(&src);
    f[12] = 0x88;
    f[13] = 0xb5;
    f
}

fn mac(n: u8) -> [u8; 6] {
    [0x02, 0, 0, 0, 0, n]
}

const BCAST: [u8; 6] = [0xff; 6];

#[tokio::test]
async fn metrics_are_off_by_default() {
    if !require(&[Prereq::Program("curl")]) {
        return;
    }
    let ts = TestServer::start(&[], false).await;
    let (code, body) = ts.metrics(Some(("administrator", ADMIN_PW))).await;
    assert_eq!(code, 404, "{body}");
    assert!(!body.contains("rustether_"), "{body}");
}

#[tokio::test]
async fn metrics_need_the_server_administrator() {
    if !require(&[Prereq::Program("curl")]) {
        return;
    }
    let ts = TestServer::start(&[], true).await;
    assert_eq!(ts.metrics(None).await.0, 401, "no credentials");
    assert_eq!(
        ts.metrics(Some(("administrator", "wrong"))).await.0,
        401,
        "wrong password"
    );
    let (code, body) = ts.metrics(Some(("DEFAULT", HUB_PW))).await;
    assert_eq!(code, 403, "a hub administrator: {body}");
    let body = ts.scrape().await;
    assert!(
        body.contains("# TYPE rustether_hub_frames_total counter"),
        "{body}"
    );
    assert_eq!(
        sample(&body, "rustether_hub_online", "hub=\"DEFAULT\""),
        Some(1.0)
    );
}

/// curl arguments of a JSON-RPC call of `method` (POST `/api/`).
fn rpc_args(method: &str, auth: &[&str]) -> Vec<String> {
    let body = format!(r#"{{"jsonrpc":"2.0","id":"m-1","method":"{method}","params":{{}}}}"#);
    let mut a: Vec<String> = auth.iter().map(|s| s.to_string()).collect();
    a.extend(["-H", "Content-Type: application/json", "--data-binary"].map(String::from));
    a.push(body);
    a
}

/// `MetricsToken`: the bearer token reads `/metrics` and nothing else; a
/// wrong, missing or too short token is refused, and token guesses are
/// throttled like administrator logins.
#[tokio::test]
async fn the_metrics_token_reads_metrics_and_nothing_else() {
    if !require(&[Prereq::Program("curl")]) {
        return;
    }
    const TOKEN: &str = "scrape-7f3a9c01d2e4b5a6";
    let ts = TestServer::start(&[], true).await;
    let set_token = |t: &'static str| {
        ts.server.update_config(move |c| {
            c.server.raw.set_str("MetricsToken", t);
            Ok(())
        })
    };
    let bearer = |t: &str| vec!["-H".to_string(), format!("Authorization: Bearer {t}")];
    // No token configured: a bearer token opens nothing.
    assert_eq!(
        ts.curl("/metrics", &bearer(TOKEN)).await.0,
        401,
        "no MetricsToken set"
    );
    set_token(TOKEN).await.unwrap();

    // The API works with the administrator password (so the refusals
    // below are about the token, not a disabled API).
    let (code, body) = ts
        .curl(
            "/api/",
            &rpc_args(
                "GetServerInfo",
                &["-u", &format!("administrator:{ADMIN_PW}")],
            ),
        )
        .await;
    assert_eq!(code, 200, "{body}");
    assert!(body.contains("\"result\""), "{body}");

    let (code, body) = ts.curl("/metrics", &bearer(TOKEN)).await;
    assert_eq!(code, 200, "{body}");
    assert!(
        body.contains("# TYPE rustether_uptime_seconds gauge"),
        "{body}"
    );

    // The token is not an administrator credential, in any form.
    for auth in [
        bearer(TOKEN),
        vec!["-u".to_string(), format!("administrator:{TOKEN}")],
        vec!["-H".to_string(), format!("X-VPNADMIN-PASSWORD: {TOKEN}")],
    ] {
        let a: Vec<&str> = auth.iter().map(String::as_str).collect();
        let (code, body) = ts.curl("/api/", &rpc_args("GetServerInfo", &a)).await;
        assert_eq!(code, 401, "{auth:?}: {body}");
        assert!(!body.contains("\"result\""), "{body}");
    }
    let (code, _) = ts.curl("/api/GetServerInfo", &bearer(TOKEN)).await;
    assert_eq!(code, 401, "GET /api/GetServerInfo with the token");

    // Wrong token, another scheme's header, no header.
    assert_eq!(
        ts.curl("/metrics", &bearer("scrape-7f3a9c01d2e4b5a7"))
            .await
            .0,
        401
    );
    assert_eq!(ts.curl("/metrics", &[]).await.0, 401);

    // A token shorter than 16 characters is ignored, even when presented
    // exactly.
    set_token("short-token").await.unwrap();
    assert_eq!(
        ts.curl("/metrics", &bearer("short-token")).await.0,
        401,
        "short token"
    );

    // Guessing is throttled: after three failures each further guess must
    // wait (1 s, 2 s, 4 s, ...); a guess sent sooner is refused unchecked
    // and counted. The guesses follow each other at once, so one lands
    // inside a wait long before the bound of 8.
    set_token(TOKEN).await.unwrap();
    let before = ts.services.admin.throttled_logins();
    let mut guesses = 0;
    while ts.services.admin.throttled_logins() == before {
        guesses += 1;
        assert!(guesses <= 8, "no token guess was throttled");
        let (code, _) = ts.curl("/metrics", &bearer("guess-0000000000000000")).await;
        assert_eq!(code, 401);
    }
    // The administrator password still reads /metrics (its own account).
    ts.scrape().await;
}

#[tokio::test]
async fn counters_move_with_real_traffic() {
    if !require(&[Prereq::Program("curl")]) {
        return;
    }
    let ts = TestServer::start(&["u1", "u2"], true).await;
    let before = ts.scrape().await;
    let tls_before = sample(&before, "rustether_tls_handshakes_total", "result=\"ok\"").unwrap();
    assert_eq!(sample(&before, "rustether_logins_total", ""), Some(0.0));
    assert_eq!(
        sample(
            &before,
            "rustether_hub_frames_total",
            "hub=\"DEFAULT\",direction=\"in\""
        ),
        Some(0.0)
    );

    assert_eq!(
        ts.login_with("u1", "bad").await.err(),
        Some(9),
        "ERR_AUTH_FAILED"
    );
    let mut a = ts.login("u1").await;
    let mut b = ts.login("u2").await;
    a.send(&[frame(BCAST, mac(0xa), 60)]).await;
    assert_eq!(b.count_from(mac(0xa), 1).await, 1);
    let burst: Vec<Vec<u8>> = (0..100).map(|_| frame(mac(0xa), mac(0xb), 1000)).collect();
    b.send(&burst).await;
    assert_eq!(a.count_from(mac(0xb), 100).await, 100);

    let after = ts.scrape().await;
    let get = |name: &str, labels: &str| {
        sample(&after, name, labels).unwrap_or_else(|| panic!("{name}{{{labels}}}:\n{after}"))
    };
    assert_eq!(get("rustether_logins_total", ""), 2.0);
    assert_eq!(
        get(
            "rustether_login_failures_total",
            "reason=\"ERR_AUTH_FAILED\""
        ),
        1.0
    );
    // Three VPN logins and the scrapes themselves went through TLS.
    assert!(get("rustether_tls_handshakes_total", "result=\"ok\"") >= tls_before + 3.0);
    assert_eq!(
        get("rustether_sessions", "hub=\"DEFAULT\",kind=\"client\""),
        2.0
    );
    assert_eq!(
        get(
            "rustether_hub_frames_total",
            "hub=\"DEFAULT\",direction=\"in\""
        ),
        101.0
    );
    assert_eq!(
        get(
            "rustether_hub_frames_total",
            "hub=\"DEFAULT\",direction=\"out\""
        ),
        101.0
    );
    assert_eq!(
        get(
            "rustether_hub_bytes_total",
            "hub=\"DEFAULT\",direction=\"in\""
        ),
        60.0 + 100.0 * 1000.0
    );
    assert_eq!(
        get(
            "rustether_hub_dropped_frames_total",
            "hub=\"DEFAULT\",stage=\"queue\",reason=\"queue_full\""
        ),
        0.0
    );
    assert!(after.contains("rustether_hub_queue_bytes{hub=\"DEFAULT\",agg=\"max\"}"));
}

/// One receiver stops reading: its queue stays within the bound and the
/// excess is dropped and counted, while another receiver of the same
/// sender gets every frame (issue 11 item 1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_session_is_bounded_and_the_others_get_everything() {
    if !require(&[Prereq::Program("curl")]) {
        return;
    }
    let ts = TestServer::start(&["u1", "u2", "u3"], true).await;
    let mut a = ts.login("u1").await;
    let mut b = ts.login("u2").await; // will stop reading
    let mut c = ts.login("u3").await;
    // Teach the hub the three MAC addresses.
    b.send(&[frame(BCAST, mac(0xb), 60)]).await;
    c.send(&[frame(BCAST, mac(0xc), 60)]).await;
    a.send(&[frame(BCAST, mac(0xa), 60)]).await;
    assert_eq!(c.count_from(mac(0xa), 1).await, 1);
    // B keeps its session alive (it sends, it never reads again).
    let Peer {
        w: mut bw,
        enc: mut benc,
        ..
    } = b;
    let keep_b = tokio::spawn(async move {
        loop {
            let mut out = BytesMut::new();
            let f = frame(mac(0x7f), mac(0xb), 60);
            benc.encode_frames(&mut out, [&f[..]].into_iter());
            if bw.write_all(&out).await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
    });
    // A sends alternately to B and C: far more than B's queue, the kernel's
    // socket buffers and B's TLS buffers can hold together.
    const PER_DST: usize = 16_000; // ~24 MB each
    let reader = tokio::spawn(async move {
        let n = tokio::time::timeout(LONG, c.count_from(mac(0xa), PER_DST)).await;
        (n, c)
    });
    let writer = tokio::spawn(async move {
        for _ in 0..PER_DST / 100 {
            let batch: Vec<Vec<u8>> = (0..100)
                .flat_map(|_| {
                    [
                        frame(mac(0xb), mac(0xa), 1514),
                        frame(mac(0xc), mac(0xa), 1514),
                    ]
                })
                .collect();
            a.send(&batch).await;
        }
        a
    });
    let (got, _c) = reader.await.unwrap();
    assert_eq!(got.ok(), Some(PER_DST), "C received every frame of A");
    let _a = tokio::time::timeout(LONG, writer)
        .await
        .expect("A finished")
        .unwrap();

    let hub = ts.server.hub("DEFAULT").unwrap();
    let levels = hub.queue_levels();
    let peak = levels.iter().map(|l| l.1).max().unwrap_or(0);
    assert!(peak <= PORT_QUEUE_BYTES, "{levels:?}");
    let body = ts.scrape().await;
    let get = |name: &str, labels: &str| {
        sample(&body, name, labels).unwrap_or_else(|| panic!("{name}{{{labels}}}:\n{body}"))
    };
    let dropped = get(
        "rustether_hub_dropped_frames_total",
        "hub=\"DEFAULT\",stage=\"queue\",reason=\"queue_full\"",
    );
    assert!(dropped > 0.0, "B's excess was dropped and counted:\n{body}");
    assert!(get("rustether_hub_stalled_receivers_total", "hub=\"DEFAULT\"") >= 1.0);
    assert!(
        get("rustether_hub_queue_bytes", "hub=\"DEFAULT\",agg=\"max\"") <= PORT_QUEUE_BYTES as f64
    );
    keep_b.abort();
}
