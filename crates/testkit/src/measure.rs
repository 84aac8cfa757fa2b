//! ping and iperf3 between namespaces.

use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail, Context, Result};
use serde::Serialize;

use crate::cmd::{run, tail_lines, wait_until};
use crate::netns::Netns;
use crate::process::Proc;

/// Summary of one `ping` run (iputils). Times in milliseconds.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct PingResult {
    /// Echo requests sent.
    pub sent: u32,
    /// Echo replies received.
    pub received: u32,
    /// Packet loss in % as ping reports it.
    pub loss_pct: f64,
    /// Minimum RTT (None when nothing came back).
    pub rtt_min_ms: Option<f64>,
    /// Average RTT.
    pub rtt_avg_ms: Option<f64>,
    /// Maximum RTT.
    pub rtt_max_ms: Option<f64>,
    /// Mean deviation of the RTT.
    pub rtt_mdev_ms: Option<f64>,
    /// Median of the per-reply RTTs.
    pub rtt_median_ms: Option<f64>,
}

/// Parse iputils `ping` output.
///
/// Errors: no "packets transmitted" summary line.
pub fn parse_ping(out: &str) -> Result<PingResult> {
    let mut times: Vec<f64> = Vec::new();
    let mut summary = None;
    let mut rtt = None;
    for line in out.lines() {
        if let Some(i) = line.find(" time=") {
            let t: String = line[i + 6..]
                .chars()
                .take_while(|c| c.is_ascii_digit() || *c == '.')
                .collect();
            if let Ok(v) = t.parse() {
                times.push(v);
            }
        }
        if line.contains("packets transmitted") {
            // "20 packets transmitted, 20 received, 0% packet loss, time 3801ms"
            let mut sent = None;
            let mut recv = None;
            let mut loss = None;
            for part in line.split(',') {
                let p = part.trim();
                let num = p.split_whitespace().next().unwrap_or("");
                if p.ends_with("packets transmitted") {
                    sent = num.parse().ok();
                } else if p.ends_with("received") {
                    recv = num.parse().ok();
                } else if p.ends_with("packet loss") {
                    loss = num.trim_end_matches('%').parse().ok();
                }
            }
            summary = Some((sent, recv, loss));
        }
        if line.starts_with("rtt ") || line.starts_with("round-trip") {
            // "rtt min/avg/max/mdev = 0.629/0.761/0.953/0.080 ms"
            if let Some(v) = line.split('=').nth(1) {
                let nums: Vec<f64> = v
                    .trim()
                    .trim_end_matches("ms")
                    .trim()
                    .split('/')
                    .filter_map(|x| x.trim().parse().ok())
                    .collect();
                if nums.len() == 4 {
                    rtt = Some(nums);
                }
            }
        }
    }
    let (sent, received, loss) = summary.ok_or_else(|| anyhow!("no ping summary in output"))?;
    let (Some(sent), Some(received), Some(loss_pct)) = (sent, received, loss) else {
        bail!("unreadable ping summary");
    };
    Ok(PingResult {
        sent,
        received,
        loss_pct,
        rtt_min_ms: rtt.as_ref().map(|v| v[0]),
        rtt_avg_ms: rtt.as_ref().map(|v| v[1]),
        rtt_max_ms: rtt.as_ref().map(|v| v[2]),
        rtt_mdev_ms: rtt.as_ref().map(|v| v[3]),
        rtt_median_ms: median(&times).map(|m| (m * 1000.0).round() / 1000.0),
    })
}

/// Median of `v` (None when empty).
pub fn median(v: &[f64]) -> Option<f64> {
    if v.is_empty() {
        return None;
    }
    let mut s = v.to_vec();
    s.sort_by(|a, b| a.total_cmp(b));
    let n = s.len();
    Some(if n % 2 == 1 {
        s[n / 2]
    } else {
        (s[n / 2 - 1] + s[n / 2]) / 2.0
    })
}

/// `ping -c count -i interval -W 2 target` inside `ns`. Loss is reported,
/// not an error.
///
/// Errors: ping cannot run, times out (count × interval + 15 s) or prints no summary.
pub fn ping(ns: &Netns, target: Ipv4Addr, count: u32, interval: Duration) -> Result<PingResult> {
    let i = format!("{:.3}", interval.as_secs_f64());
    let c = count.to_string();
    let t = target.to_string();
    let limit = interval * count + Duration::from_secs(15);
    let out = run(
        &mut ns.command("ping", &["-n", "-c", &c, "-i", &i, "-W", "2", &t]),
        limit,
    )?;
    parse_ping(&out.stdout).with_context(|| {
        format!(
            "ping {t} in {}: {}",
            ns.name(),
            tail_lines(&out.combined(), 5)
        )
    })
}

/// Wait until one ping from `ns` to `target` is answered, at most `timeout`.
pub fn wait_ping(ns: &Netns, target: Ipv4Addr, timeout: Duration) -> Result<()> {
    let t = target.to_string();
    wait_until(
        &format!("{t} to answer ping from {}", ns.name()),
        timeout,
        Duration::from_millis(200),
        || {
            Ok(run(
                &mut ns.command("ping", &["-n", "-c", "1", "-W", "1", &t]),
                Duration::from_secs(5),
            )
            .is_ok_and(|o| o.status.success()))
        },
    )
}

/// Options of one iperf3 run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IperfOptions {
    /// Test length in seconds (`-t`).
    pub secs: u32,
    /// Parallel streams (`-P`).
    pub parallel: u32,
    /// Server sends (`-R`).
    pub reverse: bool,
    /// TCP port (`-p`), default 5201.
    pub port: u16,
    /// Client source address (`-B` on the client), if any.
    pub bind: Option<Ipv4Addr>,
    /// Target rate in Mbit/s (`-b <n>M`), `None` = as fast as possible.
    pub bitrate_mbps: Option<u32>,
}

impl IperfOptions {
    /// `secs` seconds, one stream, forward, port 5201.
    pub fn new(secs: u32) -> IperfOptions {
        IperfOptions {
            secs,
            parallel: 1,
            reverse: false,
            port: 5201,
            bind: None,
            bitrate_mbps: None,
        }
    }
}

/// Result of one iperf3 run.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct IperfResult {
    /// Receiver rate in Mbit/s (10^6 bit/s), `end.sum_received`.
    pub mbps: f64,
    /// Sender rate in Mbit/s, `end.sum_sent`.
    pub sender_mbps: f64,
    /// TCP retransmits of the sender (`end.sum_sent.retransmits`), if reported.
    pub retransmits: Option<u64>,
}

/// Parse `iperf3 -J` output.
///
/// Errors: not JSON, an `error` field, or no `end.sum_received`.
pub fn parse_iperf_json(text: &str) -> Result<IperfResult> {
    let v: serde_json::Value = serde_json::from_str(text).context("iperf3 output is not JSON")?;
    if let Some(e) = v.get("error").and_then(|e| e.as_str()) {
        bail!("iperf3: {e}");
    }
    let end = v
        .get("end")
        .ok_or_else(|| anyhow!("iperf3 JSON has no `end`"))?;
    let rx = end
        .pointer("/sum_received/bits_per_second")
        .and_then(|x| x.as_f64())
        .ok_or_else(|| anyhow!("iperf3 JSON has no end.sum_received.bits_per_second"))?;
    let tx = end
        .pointer("/sum_sent/bits_per_second")
        .and_then(|x| x.as_f64())
        .unwrap_or(0.0);
    let rt = end
        .pointer("/sum_sent/retransmits")
        .and_then(|x| x.as_u64());
    Ok(IperfResult {
        mbps: (rx / 1e4).round() / 100.0,
        sender_mbps: (tx / 1e4).round() / 100.0,
        retransmits: rt,
    })
}

/// One iperf3 measurement: `iperf3 -s -1 -B target` in `server_ns`, then
/// `iperf3 -c target -J` from `client_ns`. The iperf3 server's log goes to
/// `log_dir/iperf3-server.log`.
///
/// Errors: the server does not listen within 10 s, the client fails or runs
/// longer than `secs + 30` s, or the output cannot be parsed.
pub fn iperf3(
    server_ns: &Netns,
    client_ns: &Netns,
    target: Ipv4Addr,
    opts: &IperfOptions,
    log_dir: &Path,
) -> Result<IperfResult> {
    let t = target.to_string();
    let port = opts.port.to_string();
    let mut srv = Proc::spawn(
        "iperf3-server",
        server_ns.command("iperf3", &["-s", "-1", "-B", &t, "-p", &port]),
        log_dir,
    )?;
    srv.set_stop_timeout(Duration::from_secs(3));
    server_ns.wait_tcp_listening(opts.port, Duration::from_secs(10), || srv.ensure_running())?;
    let secs = opts.secs.to_string();
    let par = opts.parallel.to_string();
    let mut args = vec!["-c", &t, "-p", &port, "-t", &secs, "-J"];
    if opts.parallel > 1 {
        args.extend(["-P", &par]);
    }
    if opts.reverse {
        args.push("-R");
    }
    let b;
    if let Some(bind) = opts.bind {
        b = bind.to_string();
        args.extend(["-B", &b]);
    }
    let rate;
    if let Some(r) = opts.bitrate_mbps {
        rate = format!("{r}M");
        args.extend(["-b", &rate]);
    }
    let out = run(
        &mut client_ns.command("iperf3", &args),
        Duration::from_secs(u64::from(opts.secs) + 30),
    )?;
    parse_iperf_json(&out.stdout).with_context(|| {
        format!(
            "iperf3 {} -> {t} ({}): {}",
            client_ns.name(),
            out.status,
            tail_lines(&out.combined(), 8)
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const PING_OK: &str = "PING 192.168.231.12 (192.168.231.12) 56(84) bytes of data.\n\
64 bytes from 192.168.231.12: icmp_seq=1 ttl=64 time=0.900 ms\n\
64 bytes from 192.168.231.12: icmp_seq=2 ttl=64 time=0.700 ms\n\
64 bytes from 192.168.231.12: icmp_seq=3 ttl=64 time=0.800 ms\n\
\n--- 192.168.231.12 ping statistics ---\n\
3 packets transmitted, 3 received, 0% packet loss, time 401ms\n\
rtt min/avg/max/mdev = 0.700/0.800/0.900/0.081 ms\n";

    #[test]
    fn ping_parsing() {
        let r = parse_ping(PING_OK).unwrap();
        assert_eq!((r.sent, r.received), (3, 3));
        assert_eq!(r.loss_pct, 0.0);
        assert_eq!(r.rtt_avg_ms, Some(0.8));
        assert_eq!(r.rtt_median_ms, Some(0.8));
        assert_eq!(r.rtt_max_ms, Some(0.9));
        let lost =
            "PING 10.0.0.9 (10.0.0.9) 56(84) bytes of data.\n\n--- 10.0.0.9 ping statistics ---\n\
                    2 packets transmitted, 0 received, +2 errors, 100% packet loss, time 1001ms\n";
        let r = parse_ping(lost).unwrap();
        assert_eq!((r.sent, r.received, r.loss_pct), (2, 0, 100.0));
        assert_eq!(r.rtt_avg_ms, None);
        assert!(parse_ping("ping: connect: Network is unreachable").is_err());
    }

    #[test]
    fn median_even_odd() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), Some(2.5));
        assert_eq!(median(&[]), None);
    }

    #[test]
    fn iperf_parsing() {
        let j = r#"{"start":{},"intervals":[],"end":{"sum_sent":{"bits_per_second":7.3259e8,"retransmits":96},
                   "sum_received":{"bits_per_second":732590000.0}}}"#;
        let r = parse_iperf_json(j).unwrap();
        assert_eq!(r.mbps, 732.59);
        assert_eq!(r.sender_mbps, 732.59);
        assert_eq!(r.retransmits, Some(96));
        let e = parse_iperf_json(r#"{"start":{},"end":{},"error":"unable to connect to server"}"#)
            .unwrap_err();
        assert!(format!("{e}").contains("unable to connect"));
        assert!(parse_iperf_json("garbage").is_err());
    }
}
