//! Helpers of the administration tests (`admin_*.rs`): our `vpnserver`
//! started in a network namespace on a state directory it keeps across
//! restarts, and the real `vpncmd` run in the same (or another) namespace
//! with its exit status, output and duration.
//!
//! Built on `rustether-testkit` (namespaces, process guards, SoftEther
//! sandboxes); everything is an RAII guard and bounded in time.
#![allow(dead_code, unreachable_pub)] // each test binary uses a different subset

use std::net::SocketAddrV4;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rustether_config::{parse_bytes, ServerConfig};
use rustether_testkit::anyhow::{self, Context, Result};
use rustether_testkit::cmd::{run, wait_until};
use rustether_testkit::netns::{netns_exec, Netns};
use rustether_testkit::process::Proc;
use rustether_testkit::seconfig::ServerConfigSpec;
use rustether_testkit::softether::{program, require_programs, Sandbox};

pub mod openvpn;

/// Time limit of one vpncmd run.
pub const VPNCMD_LIMIT: Duration = Duration::from_secs(40);

/// `vpncmd` printed this after a successful command.
pub const DONE: &str = "The command completed successfully.";

/// The configuration text of `spec` (internet features off, as the
/// testkit writes it), with the JSON-RPC web API on or off.
pub fn config_text(spec: &ServerConfigSpec, web_api: bool) -> String {
    let text = spec.render().expect("render the configuration");
    if web_api {
        let t = text.replace(
            "bool DisableJsonRpcWebApi true",
            "bool DisableJsonRpcWebApi false",
        );
        assert_ne!(
            t, text,
            "the testkit configuration must name DisableJsonRpcWebApi"
        );
        t
    } else {
        text
    }
}

/// Our `vpnserver start --foreground --dir <state>` in a namespace.
#[derive(Debug)]
pub struct OurServer {
    proc: Proc,
    ns: String,
    state: PathBuf,
    logs: PathBuf,
    name: String,
    port: u16,
    /// Runs as nobody (uid/gid 65534, no capabilities): User Mode.
    unprivileged: bool,
}

impl OurServer {
    /// Writes `config` into `<dir>/<name>/state/vpn_server.config`, starts
    /// the server in `ns` and waits (30 s) until `port` listens.
    pub fn start(ns: &Netns, dir: &Path, name: &str, port: u16, config: &str) -> Result<OurServer> {
        Self::start_with(ns, dir, name, port, config, false)
    }

    /// Like [`OurServer::start`], the server running as nobody (uid and
    /// gid 65534, no capabilities, via setpriv): an ordinary user in User
    /// Mode. `port` must be ≥ 1024.
    pub fn start_unprivileged(
        ns: &Netns,
        dir: &Path,
        name: &str,
        port: u16,
        config: &str,
    ) -> Result<OurServer> {
        Self::start_with(ns, dir, name, port, config, true)
    }

    fn start_with(
        ns: &Netns,
        dir: &Path,
        name: &str,
        port: u16,
        config: &str,
        unprivileged: bool,
    ) -> Result<OurServer> {
        let state = dir.join(name).join("state");
        std::fs::create_dir_all(&state)?;
        std::fs::write(state.join("vpn_server.config"), config)?;
        if unprivileged {
            for p in [
                state.parent().unwrap_or(&state),
                &state,
                &state.join("vpn_server.config"),
            ] {
                std::os::unix::fs::chown(p, Some(65534), Some(65534))?;
            }
        }
        let mut s = OurServer {
            proc: Self::spawn(ns.name(), &state, &dir.join("logs"), name, unprivileged)?,
            ns: ns.name().to_owned(),
            state,
            logs: dir.join("logs"),
            name: name.to_owned(),
            port,
            unprivileged,
        };
        s.wait_listening(ns)?;
        Ok(s)
    }

    fn spawn(ns: &str, state: &Path, logs: &Path, name: &str, unprivileged: bool) -> Result<Proc> {
        let bin = env!("CARGO_BIN_EXE_vpnserver");
        let state_s = state.to_string_lossy().into_owned();
        let cmd = if unprivileged {
            netns_exec(
                ns,
                "setpriv",
                &[
                    "--reuid=65534",
                    "--regid=65534",
                    "--clear-groups",
                    bin,
                    "start",
                    "--foreground",
                    "--dir",
                    &state_s,
                ],
            )
        } else {
            netns_exec(ns, bin, &["start", "--foreground", "--dir", &state_s])
        };
        Proc::spawn(name, cmd, logs)
    }

    fn wait_listening(&mut self, ns: &Netns) -> Result<()> {
        let proc = &mut self.proc;
        ns.wait_tcp_listening(self.port, Duration::from_secs(30), || proc.ensure_running())
            .with_context(|| format!("{} did not come up", self.name))
    }

    /// Kills the server with SIGKILL (no chance to save anything) and
    /// waits until it is gone.
    pub fn kill9(&mut self) {
        rustether_testkit::process::kill_group(self.proc.pid(), libc::SIGKILL);
        let _ = self.proc.stop();
    }

    /// Starts the server again on the same state directory (the
    /// configuration file is not rewritten).
    pub fn restart(&mut self, ns: &Netns) -> Result<()> {
        let _ = self.proc.stop();
        self.proc = Self::spawn(
            &self.ns,
            &self.state,
            &self.logs,
            &self.name,
            self.unprivileged,
        )?;
        self.wait_listening(ns)
    }

    /// Process id.
    pub fn pid(&self) -> i32 {
        self.proc.pid()
    }

    /// The configuration file.
    pub fn config_path(&self) -> PathBuf {
        self.state.join("vpn_server.config")
    }

    /// The configuration as saved on disk right now.
    pub fn saved_config(&self) -> ServerConfig {
        let bytes = std::fs::read(self.config_path()).expect("read the saved configuration");
        ServerConfig::from_root(&parse_bytes(&bytes).expect("parse the saved configuration"))
            .expect("a valid saved configuration")
    }

    /// Everything the server logged so far.
    pub fn log(&self) -> String {
        self.proc.log_since(0)
    }

    /// `Ok` while the server runs.
    pub fn ensure_running(&mut self) -> Result<()> {
        self.proc.ensure_running()
    }
}

/// One finished vpncmd run.
#[derive(Debug, Clone)]
pub struct Out {
    /// Exit status (vpncmd exits with the SoftEther error code).
    pub code: i32,
    /// Output after vpncmd's banner.
    pub text: String,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl Out {
    /// The value of the first table row `item` (`Item |Value` lines).
    pub fn row(&self, item: &str) -> Option<&str> {
        self.rows(item).into_iter().next()
    }

    /// The values of every table row `item`.
    pub fn rows(&self, item: &str) -> Vec<&str> {
        self.text
            .lines()
            .filter_map(|l| l.split_once('|'))
            .filter(|(k, _)| k.trim_end() == item)
            .map(|(_, v)| v.trim())
            .collect()
    }
}

/// The real vpncmd in a namespace, with its own state directories.
#[derive(Debug)]
pub struct Vpncmd {
    ns: String,
    sandbox: Sandbox,
    target: SocketAddrV4,
}

impl Vpncmd {
    /// vpncmd in `ns` for the server at `target`, state under `dir`.
    pub fn new(ns: &Netns, dir: &Path, target: SocketAddrV4) -> Result<Vpncmd> {
        require_programs(&["vpncmd"])?;
        Ok(Vpncmd {
            ns: ns.name().to_owned(),
            sandbox: Sandbox::new(dir)?,
            target,
        })
    }

    /// The directory vpncmd runs in (`ConfigGet <file>` writes there).
    pub fn dir(&self) -> &Path {
        self.sandbox.dir()
    }

    /// The same vpncmd against another port.
    pub fn with_port(&self, port: u16) -> Vpncmd {
        Vpncmd {
            ns: self.ns.clone(),
            sandbox: self.sandbox.clone(),
            target: SocketAddrV4::new(*self.target.ip(), port),
        }
    }

    /// The command `vpncmd <target> /SERVER <args…>` (to run it with
    /// stdin of one's own, e.g. as an interactive session).
    pub fn command(&self, args: &[&str]) -> Command {
        let target = self.target.to_string();
        let mut full = vec![target.as_str(), "/SERVER"];
        full.extend_from_slice(args);
        self.sandbox.command(&self.ns, &program("vpncmd"), &full)
    }

    /// `vpncmd <target> /SERVER <args…>` with stdin closed.
    pub fn run(&self, args: &[&str]) -> Out {
        let target = self.target.to_string();
        let mut full = vec![target.as_str(), "/SERVER"];
        full.extend_from_slice(args);
        let mut c: Command = self.sandbox.command(&self.ns, &program("vpncmd"), &full);
        let t0 = Instant::now();
        let out = run(&mut c, VPNCMD_LIMIT).expect("vpncmd ran");
        let elapsed = t0.elapsed();
        let text = out.stdout;
        let start = text.find("All rights reserved.").map_or(0, |i| i + 20);
        Out {
            code: out.status.code().unwrap_or(-1),
            text: text[start..].to_owned(),
            elapsed,
        }
    }

    /// Like [`Vpncmd::run`], requiring exit status 0 and the success line.
    pub fn ok(&self, args: &[&str]) -> Out {
        let o = self.run(args);
        assert_eq!(o.code, 0, "vpncmd {args:?} failed:\n{}", o.text);
        assert!(o.text.contains(DONE), "vpncmd {args:?}:\n{}", o.text);
        o
    }

    /// Like [`Vpncmd::run`], requiring exit status `code`.
    pub fn fails(&self, code: i32, args: &[&str]) -> Out {
        let o = self.run(args);
        assert_eq!(o.code, code, "vpncmd {args:?}:\n{}", o.text);
        assert!(
            o.text
                .contains(&format!("Error occurred. (Error code: {code})")),
            "vpncmd {args:?}:\n{}",
            o.text
        );
        o
    }

    /// Runs `args` until `pred` holds for the output (at most `limit`).
    pub fn wait_for(
        &self,
        args: &[&str],
        limit: Duration,
        mut pred: impl FnMut(&Out) -> bool,
    ) -> Out {
        let mut last = None;
        let r = wait_until(
            &format!("vpncmd {args:?}"),
            limit,
            Duration::from_millis(300),
            || {
                let o = self.run(args);
                let done = pred(&o);
                last = Some(o);
                Ok(done)
            },
        );
        let last = last.expect("ran at least once");
        if let Err(e) = r {
            panic!("{e}; last output:\n{}", last.text);
        }
        last
    }
}

/// A number as vpncmd prints it (`13,641`).
pub fn thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// True if a TCP connection to `port` on `addr` inside `ns` is accepted.
pub fn tcp_accepts(ns: &Netns, addr: &str, port: u16) -> bool {
    let script = format!("exec 3<>/dev/tcp/{addr}/{port}");
    run(
        &mut ns.command("bash", &["-c", &script]),
        Duration::from_secs(10),
    )
    .map(|o| o.status.success())
    .unwrap_or(false)
}

/// Waits until `f` holds (at most `limit`), else fails with `what`.
pub fn eventually(what: &str, limit: Duration, mut f: impl FnMut() -> bool) {
    wait_until(what, limit, Duration::from_millis(100), || Ok(f()))
        .unwrap_or_else(|e: anyhow::Error| panic!("{e}"));
}

/// One HTTP answer received by curl.
#[derive(Debug, Clone)]
pub struct Http {
    /// Status code.
    pub status: u16,
    /// Headers as received.
    pub headers: Vec<(String, String)>,
    /// Body text.
    pub body: String,
}

impl Http {
    /// First value of header `name` (case-insensitive).
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The body as JSON.
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("body is not JSON ({e}): {}", self.body))
    }
}

/// `curl -sk -i <args…>` in `ns` (20 s limit); the response is parsed
/// (status line, headers, body).
pub fn curl(ns: &Netns, args: &[&str]) -> Http {
    let mut full = vec!["-sk", "-i", "-m", "20"];
    full.extend_from_slice(args);
    let out = run(&mut ns.command("curl", &full), Duration::from_secs(30)).expect("curl ran");
    assert!(
        out.status.success(),
        "curl {args:?} failed: {}",
        out.combined()
    );
    parse_http(&out.stdout)
}

/// The JSON-RPC API of a server at `url` (`https://<addr>:<port>/api/`)
/// seen from `ns`, called with curl.
pub struct Api<'a> {
    /// Namespace curl runs in.
    pub ns: &'a Netns,
    /// The API's URL.
    pub url: String,
}

impl Api<'_> {
    /// POST a JSON-RPC call (id `rt-1`) with extra curl arguments
    /// (headers, `-u`).
    pub fn post(&self, auth: &[&str], method: &str, params: serde_json::Value) -> Http {
        let body =
            serde_json::json!({"jsonrpc": "2.0", "id": "rt-1", "method": method, "params": params})
                .to_string();
        let mut args: Vec<&str> = auth.to_vec();
        args.extend_from_slice(&[
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            &body,
        ]);
        args.push(&self.url);
        curl(self.ns, &args)
    }

    /// POST, require HTTP 200, the JSON-RPC envelope, CORS headers and a
    /// `result`; returns it.
    pub fn ok(&self, auth: &[&str], method: &str, params: serde_json::Value) -> serde_json::Value {
        let h = self.post(auth, method, params);
        assert_eq!(h.status, 200, "{method}: {h:?}");
        assert_eq!(h.header("Content-Type"), Some("application/json"));
        assert_cors(&h);
        let v = h.json();
        assert_eq!(v["jsonrpc"], "2.0");
        assert_eq!(v["id"], "rt-1");
        assert!(v.get("error").is_none(), "{method}: {v}");
        v["result"].clone()
    }

    /// POST, require HTTP 200 with `error.code` = `code` and SoftEther's
    /// message `Error code <code>…`.
    pub fn err(&self, auth: &[&str], method: &str, params: serde_json::Value, code: u64) {
        let h = self.post(auth, method, params);
        assert_eq!(h.status, 200, "{method}: {h:?}");
        let v = h.json();
        assert_eq!(v["error"]["code"], code, "{method}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .is_some_and(|m| m.starts_with(&format!("Error code {code}"))),
            "{v}"
        );
    }
}

/// The CORS headers of every JSON-RPC answer (SoftEther `AdminWebSendBody`).
pub fn assert_cors(h: &Http) {
    assert_eq!(
        h.header("Access-Control-Allow-Methods"),
        Some("OPTIONS,GET,POST"),
        "{h:?}"
    );
    assert_eq!(
        h.header("Access-Control-Allow-Headers"),
        Some("X-VPNADMIN-HUBNAME,X-VPNADMIN-PASSWORD")
    );
    assert_eq!(h.header("Access-Control-Allow-Credentials"), Some("true"));
}

/// Parses the first final (non-1xx) `HTTP/1.1 …` response in `text`.
pub fn parse_http(text: &str) -> Http {
    let mut resp = text;
    while resp.starts_with("HTTP/1.1 1") {
        resp = resp.split_once("\r\n\r\n").map_or("", |(_, rest)| rest);
    }
    assert!(
        resp.starts_with("HTTP/1.1 "),
        "not an HTTP response: {text}"
    );
    let (head, body) = resp.split_once("\r\n\r\n").unwrap_or((resp, ""));
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .expect("a status code");
    let headers = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
        .collect();
    Http {
        status,
        headers,
        body: body.to_owned(),
    }
}

const B64: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard base64 with padding.
pub fn base64_encode(data: &[u8]) -> String {
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(B64[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Decodes standard base64 (padding optional, no white space).
pub fn base64_decode(s: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let mut acc = 0u32;
    let mut bits = 0;
    for c in s.bytes().filter(|&c| c != b'=') {
        let v = B64.iter().position(|&x| x == c).expect("base64 character") as u32;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_round_trip() {
        for data in [
            &b""[..],
            b"f",
            b"fo",
            b"foo",
            b"foob",
            b"\xef\xbb\xbfdeclare",
        ] {
            assert_eq!(base64_decode(&base64_encode(data)), data);
        }
        assert_eq!(base64_encode(b"foob"), "Zm9vYg==");
    }

    #[test]
    fn http_parsing() {
        let h = parse_http("HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 401 Unauthorized\r\nA: b\r\nC-D: e f\r\n\r\nbody");
        assert_eq!(h.status, 401);
        assert_eq!(h.header("c-d"), Some("e f"));
        assert_eq!(h.body, "body");
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(13641), "13,641");
        assert_eq!(thousands(1_234_567), "1,234,567");
    }
}
