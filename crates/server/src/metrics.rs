//! The Prometheus text endpoint `/metrics` (docs/metrics.md): what it
//! shows, rendered from the server's live state. Off by default; served on
//! the listeners' HTTPS side like the JSON-RPC API when
//! `ServerConfiguration/EnableMetrics` is true, to the server administrator
//! only (see `crate::admin`'s web module for the HTTP side).
//!
//! Format: Prometheus text exposition format 0.0.4 (`# HELP`, `# TYPE`,
//! one sample per line, label values escaped). Counters count since the
//! process started; per-hub counters include ports that have left.
//! Per-session figures are not exported (their number is unbounded); the
//! per-port counters behind them are summed per hub.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use crate::cascade::CascadeStatus;
use crate::hub::DataDrop;
use crate::server::Server;

/// `Content-Type` of the answer.
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Whether `/metrics` is served: `ServerConfiguration/EnableMetrics`
/// (RustEther only; missing = false).
pub fn enabled(server: &Server) -> bool {
    server.with_config(|c| c.server.metrics_enabled())
}

/// A label value escaped for the text format (`\`, `"`, newline).
fn esc(v: &str) -> String {
    let mut out = String::with_capacity(v.len());
    for c in v.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' => out.push_str("\\\""),
            '\n' => out.push_str("\\n"),
            c => out.push(c),
        }
    }
    out
}

/// Collects samples grouped by metric name, so that each metric's HELP
/// and TYPE come once, before its samples.
#[derive(Default)]
struct Out {
    metrics: Vec<(&'static str, &'static str, &'static str, String)>,
}

impl Out {
    fn family(&mut self, name: &'static str, kind: &'static str, help: &'static str) -> usize {
        self.metrics.push((name, kind, help, String::new()));
        self.metrics.len() - 1
    }

    fn sample(&mut self, fam: usize, labels: &[(&str, &str)], value: impl std::fmt::Display) {
        let (name, _, _, body) = &mut self.metrics[fam];
        body.push_str(name);
        if !labels.is_empty() {
            body.push('{');
            for (i, (k, v)) in labels.iter().enumerate() {
                if i > 0 {
                    body.push(',');
                }
                let _ = write!(body, "{k}=\"{}\"", esc(v));
            }
            body.push('}');
        }
        let _ = writeln!(body, " {value}");
    }

    fn finish(self) -> String {
        let mut s = String::new();
        for (name, kind, help, body) in self.metrics {
            let _ = writeln!(s, "# HELP {name} {help}");
            let _ = writeln!(s, "# TYPE {name} {kind}");
            s.push_str(&body);
        }
        s
    }
}

/// The `/metrics` body for the server's state now.
pub fn render(server: &Server) -> String {
    let mut o = Out::default();
    let st = &server.stats;

    let up = o.family(
        "rustether_uptime_seconds",
        "gauge",
        "Seconds since the server started.",
    );
    let secs = server.started.elapsed().map(|d| d.as_secs()).unwrap_or(0);
    o.sample(up, &[], secs);

    let tls = o.family(
        "rustether_tls_handshakes_total",
        "counter",
        "TLS handshakes on the listeners by result (ok, failed, timeout).",
    );
    for (result, c) in [
        ("ok", &st.tls_handshakes_ok),
        ("failed", &st.tls_handshakes_failed),
        ("timeout", &st.tls_handshakes_timeout),
    ] {
        o.sample(tls, &[("result", result)], c.load(Ordering::Relaxed));
    }

    let logins = o.family(
        "rustether_logins_total",
        "counter",
        "VPN logins that created a session.",
    );
    o.sample(logins, &[], st.logins_ok.load(Ordering::Relaxed));
    let failures = o.family(
        "rustether_login_failures_total",
        "counter",
        "Refused VPN logins by SoftEther error name.",
    );
    for (reason, n) in st.login_failures() {
        o.sample(failures, &[("reason", reason)], n);
    }

    // Sessions per hub (client logins and cascade sessions).
    let mut sessions: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    for s in server.sessions.all() {
        if s.has_ended() {
            continue;
        }
        let e = sessions.entry(s.hub.name().to_string()).or_default();
        if s.info.server_side {
            e.1 += 1;
        } else {
            e.0 += 1;
        }
    }
    let hubs = server.hubs();
    let fam_sessions = o.family(
        "rustether_sessions",
        "gauge",
        "Live sessions by hub and kind (client: logged in to this server; cascade: this server's cascades).",
    );
    let fam_online = o.family("rustether_hub_online", "gauge", "1 if the hub is online.");
    let fam_frames = o.family(
        "rustether_hub_frames_total",
        "counter",
        "Frames into the hub from its ports (in) and queued to its ports (out).",
    );
    let fam_bytes = o.family(
        "rustether_hub_bytes_total",
        "counter",
        "Bytes into the hub from its ports (in) and queued to its ports (out).",
    );
    let fam_drops = o.family(
        "rustether_hub_dropped_frames_total",
        "counter",
        "Frames dropped by reason: stage=queue for the data path (queue_full, vlan_mismatch, shaping, no_connection, decode, bridge_tx, bridge_rx), stage=switch for the switch's decisions (policy_filter, mac_limit, ...).",
    );
    let fam_waits = o.family(
        "rustether_hub_backpressure_waits_total",
        "counter",
        "Times a sender stopped reading because a unicast destination's queue was above its high-water mark.",
    );
    let fam_stalls = o.family(
        "rustether_hub_stalled_receivers_total",
        "counter",
        "Times such a wait gave up because the destination did not drain (stalled receiver).",
    );
    let fam_ports = o.family(
        "rustether_hub_ports",
        "gauge",
        "Ports attached to the hub (sessions, cascades, local bridges, SecureNAT).",
    );
    let fam_qbytes = o.family(
        "rustether_hub_queue_bytes",
        "gauge",
        "Bytes queued to the hub's ports now (frame lengths plus 64 per frame): sum and max over ports.",
    );
    let fam_qframes = o.family(
        "rustether_hub_queue_frames",
        "gauge",
        "Frames queued to the hub's ports now: sum and max over ports.",
    );
    let fam_qlimit = o.family(
        "rustether_port_queue_limit_bytes",
        "gauge",
        "Bound of each port's queue in bytes (SoftEther MAX_SEND_SOCKET_QUEUE_SIZE).",
    );
    o.sample(fam_qlimit, &[], crate::hub::PORT_QUEUE_BYTES);
    for hub in &hubs {
        let h = hub.name();
        let (clients, cascades) = sessions.get(h).copied().unwrap_or_default();
        o.sample(fam_sessions, &[("hub", h), ("kind", "client")], clients);
        o.sample(fam_sessions, &[("hub", h), ("kind", "cascade")], cascades);
        o.sample(fam_online, &[("hub", h)], u8::from(hub.is_online()));
        let hs = hub.stats();
        let ld = |c: &std::sync::atomic::AtomicU64| c.load(Ordering::Relaxed);
        o.sample(
            fam_frames,
            &[("hub", h), ("direction", "in")],
            ld(&hs.frames_in),
        );
        o.sample(
            fam_frames,
            &[("hub", h), ("direction", "out")],
            ld(&hs.frames_out),
        );
        o.sample(
            fam_bytes,
            &[("hub", h), ("direction", "in")],
            ld(&hs.bytes_in),
        );
        o.sample(
            fam_bytes,
            &[("hub", h), ("direction", "out")],
            ld(&hs.bytes_out),
        );
        for r in DataDrop::ALL {
            o.sample(
                fam_drops,
                &[("hub", h), ("stage", "queue"), ("reason", r.as_str())],
                hs.drops.get(r),
            );
        }
        for (r, n) in hub.switch_drops() {
            o.sample(
                fam_drops,
                &[("hub", h), ("stage", "switch"), ("reason", r.as_str())],
                n,
            );
        }
        o.sample(fam_waits, &[("hub", h)], ld(&hs.backpressure_waits));
        o.sample(fam_stalls, &[("hub", h)], ld(&hs.stalls));
        let levels = hub.queue_levels();
        o.sample(fam_ports, &[("hub", h)], levels.len());
        let sum_b: usize = levels.iter().map(|l| l.1).sum();
        let max_b = levels.iter().map(|l| l.1).max().unwrap_or(0);
        let sum_f: usize = levels.iter().map(|l| l.2).sum();
        let max_f = levels.iter().map(|l| l.2).max().unwrap_or(0);
        o.sample(fam_qbytes, &[("hub", h), ("agg", "sum")], sum_b);
        o.sample(fam_qbytes, &[("hub", h), ("agg", "max")], max_b);
        o.sample(fam_qframes, &[("hub", h), ("agg", "sum")], sum_f);
        o.sample(fam_qframes, &[("hub", h), ("agg", "max")], max_f);
    }

    // Cascades: every configured one, with its state.
    let fam_casc = o.family(
        "rustether_cascade_online",
        "gauge",
        "1 if the cascade's session is established; status gives vpncmd CascadeList's text.",
    );
    let cascades: Vec<(String, String)> = server.with_config(|c| {
        c.hubs
            .iter()
            .flat_map(|h| {
                h.cascades
                    .iter()
                    .map(|k| (h.name.clone(), k.account_name.clone()))
            })
            .collect()
    });
    for (hub, name) in cascades {
        let status = server.cascade_status(&hub, &name);
        let online = matches!(status, CascadeStatus::Online { .. });
        let text = status.display_text();
        o.sample(
            fam_casc,
            &[("hub", &hub), ("cascade", &name), ("status", &text)],
            u8::from(online),
        );
    }

    // Local bridges.
    let fam_br = o.family(
        "rustether_bridge_operating",
        "gauge",
        "1 if the local bridge's device is open and frames flow; status gives vpncmd BridgeList's text.",
    );
    let fam_br_dev = o.family(
        "rustether_bridge_device_frames_total",
        "counter",
        "Frames of the local bridge's raw device since it was last opened, by kind (rx, tx, rx_dropped: unrepairable offload frames, rx_truncated, tx_dropped: interface queue full).",
    );
    for b in server.bridges() {
        let status = b.status();
        let h = b.hub.name();
        let mode = if b.tap { "tap" } else { "device" };
        o.sample(
            fam_br,
            &[
                ("hub", h),
                ("device", &b.device_name),
                ("mode", mode),
                ("status", &status),
            ],
            u8::from(b.is_operating()),
        );
        if let Some(d) = b.device_stats() {
            for (kind, n) in [
                ("rx", d.rx_frames),
                ("tx", d.tx_frames),
                ("rx_dropped", d.rx_dropped),
                ("rx_truncated", d.rx_truncated),
                ("tx_dropped", d.tx_dropped),
            ] {
                o.sample(
                    fam_br_dev,
                    &[("hub", h), ("device", &b.device_name), ("kind", kind)],
                    n,
                );
            }
        }
    }
    o.finish()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(esc(r#"a"b\c"#), r#"a\"b\\c"#);
        assert_eq!(esc("x\ny"), "x\\ny");
    }

    #[test]
    fn families_come_once_with_help_and_type() {
        let mut o = Out::default();
        let f = o.family("m_total", "counter", "help text");
        o.sample(f, &[("hub", "A\"")], 1);
        o.sample(f, &[("hub", "B")], 2);
        let g = o.family("g", "gauge", "g help");
        o.sample(g, &[], 7);
        assert_eq!(
            o.finish(),
            "# HELP m_total help text\n# TYPE m_total counter\nm_total{hub=\"A\\\"\"} 1\nm_total{hub=\"B\"} 2\n\
             # HELP g g help\n# TYPE g gauge\ng 7\n"
        );
    }
}
