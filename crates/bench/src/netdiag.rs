//! Where the inner TCP flow of T1 loses its segments (issue 11): kernel
//! counters of the client and server namespaces read before and after each
//! iperf3 run, and the frames that vanished between the sending client's
//! TAP device and the receiving client's.
//!
//! Sources (all read through `ip netns exec`, so per namespace):
//! `/proc/net/snmp` and `/proc/net/netstat` (what `nstat` shows: `Tcp*`,
//! `TcpExt*`), `ip -s -j link` (interface packets and drops), and the
//! machine-wide `/proc/net/softnet_stat` (backlog drops above
//! `net.core.netdev_max_backlog`, column 2; time squeezes, column 3).

use std::collections::BTreeMap;
use std::time::Duration;

use anyhow::{Context, Result};
use rustether_testkit::netns::Netns;
use rustether_testkit::server::Server;
use rustether_testkit::softether::parse_table;
use serde_json::{json, Map, Value};

/// The TAP device a SoftEther vpnclient creates for virtual NIC `vpn`.
pub(crate) const CLIENT_TAP: &str = "vpn_vpn";

/// TCP and UDP counters worth showing when they move (Linux `nstat` names).
pub(crate) const TCP_KEYS: &[&str] = &[
    "TcpRetransSegs",
    "TcpExtTCPLostRetransmit",
    "TcpExtTCPSackRecovery",
    "TcpExtTCPFastRetrans",
    "TcpExtTCPTimeouts",
    "TcpExtTCPLossProbes",
    "TcpExtTCPSACKReorder",
    "TcpExtTCPTSReorder",
    "TcpExtTCPDSACKRecv",
    "TcpExtTCPDSACKOldSent",
    "TcpExtTCPDSACKOfoSent",
    "TcpExtTCPSpuriousRTOs",
    "TcpExtTCPOFOQueue",
    "TcpExtTCPOFODrop",
    "TcpExtTCPRcvQDrop",
    "TcpExtTCPBacklogDrop",
    "TcpExtPruneCalled",
    "TcpExtTCPRcvCollapsed",
    "TcpExtTCPZeroWindowDrop",
    // UDP acceleration: datagrams the kernel dropped for a full socket
    // buffer or a bad checksum (shown under "tcp" too).
    "UdpRcvbufErrors",
    "UdpSndbufErrors",
    "UdpInErrors",
];

/// Counters of one namespace at one moment: `nstat`-style TCP counters and
/// `<ifname>.<rx|tx>_<field>` for every interface.
#[derive(Debug, Clone, Default)]
pub(crate) struct Snapshot {
    pub(crate) counters: BTreeMap<String, i64>,
}

impl Snapshot {
    /// `self - before` for every counter present in both.
    pub(crate) fn delta(&self, before: &Snapshot) -> BTreeMap<String, i64> {
        self.counters
            .iter()
            .filter_map(|(k, v)| before.counters.get(k).map(|b| (k.clone(), v - b)))
            .collect()
    }
}

/// Parse `/proc/net/snmp` or `/proc/net/netstat`: pairs of lines
/// `Prefix: name...` / `Prefix: value...`; keys as `nstat` spells them
/// (`Tcp` + `RetransSegs`, `TcpExt` + `TCPSackRecovery`). Values that do
/// not parse as integers are skipped.
pub(crate) fn parse_proc_net(text: &str, out: &mut BTreeMap<String, i64>) {
    let lines: Vec<&str> = text.lines().collect();
    for pair in lines.chunks(2) {
        let [names, values] = pair else { continue };
        let (Some((p1, n)), Some((p2, v))) = (names.split_once(':'), values.split_once(':')) else {
            continue;
        };
        if p1 != p2 {
            continue;
        }
        for (name, val) in n.split_whitespace().zip(v.split_whitespace()) {
            if let Ok(x) = val.parse::<i64>() {
                out.insert(format!("{p1}{name}"), x);
            }
        }
    }
}

/// Parse `ip -s -j link` output into `<ifname>.<rx|tx>_<field>` counters.
///
/// Errors: not JSON.
pub(crate) fn parse_ip_link(text: &str, out: &mut BTreeMap<String, i64>) -> Result<()> {
    let v: Value = serde_json::from_str(text).context("ip -j link output is not JSON")?;
    for link in v.as_array().map(Vec::as_slice).unwrap_or_default() {
        let Some(name) = link.get("ifname").and_then(Value::as_str) else {
            continue;
        };
        for dir in ["rx", "tx"] {
            if let Some(m) = link
                .pointer(&format!("/stats64/{dir}"))
                .and_then(Value::as_object)
            {
                for (k, x) in m {
                    if let Some(x) = x.as_i64() {
                        out.insert(format!("{name}.{dir}_{k}"), x);
                    }
                }
            }
        }
    }
    Ok(())
}

/// Sum over CPUs of `/proc/net/softnet_stat` columns 2 (dropped: the
/// per-CPU backlog was full) and 3 (time squeeze), hexadecimal.
pub(crate) fn parse_softnet(text: &str) -> (i64, i64) {
    let mut dropped = 0;
    let mut squeezed = 0;
    for line in text.lines() {
        let cols: Vec<&str> = line.split_whitespace().collect();
        if cols.len() >= 3 {
            dropped += i64::from_str_radix(cols[1], 16).unwrap_or(0);
            squeezed += i64::from_str_radix(cols[2], 16).unwrap_or(0);
        }
    }
    (dropped, squeezed)
}

/// Read the counters of `ns` (TCP and interfaces).
///
/// Errors: a command fails or its output cannot be parsed.
pub(crate) fn snapshot(ns: &Netns) -> Result<Snapshot> {
    let t = Duration::from_secs(10);
    let mut counters = BTreeMap::new();
    for f in ["/proc/net/snmp", "/proc/net/netstat"] {
        parse_proc_net(&ns.run("cat", &[f], t)?, &mut counters);
    }
    parse_ip_link(
        &ns.run("ip", &["-s", "-j", "link", "show"], t)?,
        &mut counters,
    )?;
    Ok(Snapshot { counters })
}

/// Machine-wide softnet drops and squeezes.
///
/// Errors: `/proc/net/softnet_stat` cannot be read.
pub(crate) fn softnet() -> Result<(i64, i64)> {
    Ok(parse_softnet(
        &std::fs::read_to_string("/proc/net/softnet_stat").context("/proc/net/softnet_stat")?,
    ))
}

/// Counters of the sender's and receiver's namespaces and of the server's,
/// taken around one iperf3 run.
#[derive(Debug)]
pub(crate) struct RunProbe {
    sender: Snapshot,
    receiver: Snapshot,
    server: Snapshot,
    softnet: (i64, i64),
}

impl RunProbe {
    /// Snapshot before the run.
    ///
    /// Errors: as [`snapshot`].
    pub(crate) fn start(sender: &Netns, receiver: &Netns, server: &Netns) -> Result<RunProbe> {
        Ok(RunProbe {
            sender: snapshot(sender)?,
            receiver: snapshot(receiver)?,
            server: snapshot(server)?,
            softnet: softnet()?,
        })
    }

    /// Snapshot after the run and the breakdown as JSON:
    /// `frames_lost_data` = frames the sending vpnclient read from its TAP
    /// minus the frames the receiving vpnclient wrote to its TAP (data
    /// direction; lost in either client or the server), `frames_lost_acks`
    /// the same for the reverse direction, interface drops, and the TCP
    /// counters of [`TCP_KEYS`] that moved per namespace.
    ///
    /// Errors: as [`snapshot`].
    pub(crate) fn finish(&self, sender: &Netns, receiver: &Netns, server: &Netns) -> Result<Value> {
        let ds = snapshot(sender)?.delta(&self.sender);
        let dr = snapshot(receiver)?.delta(&self.receiver);
        let dv = snapshot(server)?.delta(&self.server);
        let (sd, sq) = softnet()?;
        let g = |m: &BTreeMap<String, i64>, k: &str| m.get(k).copied().unwrap_or(0);
        let tap = |m: &BTreeMap<String, i64>, f: &str| g(m, &format!("{CLIENT_TAP}.{f}"));
        let tcp = |m: &BTreeMap<String, i64>| -> Value {
            let mut o = Map::new();
            for k in TCP_KEYS {
                let v = g(m, k);
                if v != 0 {
                    o.insert((*k).to_string(), json!(v));
                }
            }
            Value::Object(o)
        };
        // Every non-zero drop/error counter of every interface.
        let drops = |m: &BTreeMap<String, i64>| -> Value {
            let mut o = Map::new();
            for (k, v) in m {
                // Interface counters only (`<ifname>.<field>`).
                let Some((_, field)) = k.rsplit_once('.') else {
                    continue;
                };
                let volume = ["_packets", "_bytes", "_multicast"]
                    .iter()
                    .any(|s| field.ends_with(s));
                if *v != 0 && !volume {
                    o.insert(k.clone(), json!(v));
                }
            }
            Value::Object(o)
        };
        Ok(json!({
            "frames_lost_data": tap(&ds, "tx_packets") - tap(&dr, "rx_packets"),
            "frames_lost_acks": tap(&dr, "tx_packets") - tap(&ds, "rx_packets"),
            "sender_tap_tx_packets": tap(&ds, "tx_packets"),
            "receiver_tap_rx_packets": tap(&dr, "rx_packets"),
            "softnet_dropped": sd - self.softnet.0,
            "softnet_squeezed": sq - self.softnet.1,
            "if_drops": {"sender": drops(&ds), "receiver": drops(&dr), "server": drops(&dv)},
            "tcp": {"sender": tcp(&ds), "receiver": tcp(&dr), "server": tcp(&dv)},
        }))
    }
}

/// Frames the server counted for one session since it began, as vpncmd
/// `SessionGet` shows them (both servers): `Outgoing Unicast Packets` (the
/// client's frames into the hub) and `Incoming Unicast Packets` (frames the
/// hub handed to the session for the client). SoftEther counts a frame for
/// the client after its hub queue (`StorePacket`, at most
/// `MAX_STORED_QUEUE_NUM` frames) and before its connection's send queue
/// (src/Cedar/Session.c `SessionMain`); ours when it enters the session's
/// queue (crates/server/src/hub.rs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct SessionFrames {
    /// Frames from the client into the hub.
    pub(crate) from_client: i64,
    /// Frames from the hub for the client.
    pub(crate) to_client: i64,
}

/// `SessionGet`'s two unicast packet counters from its table; `None` when
/// one is missing. Values look like `1,234 packets`.
pub(crate) fn parse_session_frames(text: &str) -> Option<SessionFrames> {
    let t = parse_table(text);
    let num = |k: &str| -> Option<i64> {
        let v = &t.iter().find(|(n, _)| n == k)?.1;
        let digits: String = v
            .chars()
            .take_while(|c| c.is_ascii_digit() || *c == ',')
            .filter(char::is_ascii_digit)
            .collect();
        digits.parse().ok()
    };
    Some(SessionFrames {
        from_client: num("Outgoing Unicast Packets")?,
        to_client: num("Incoming Unicast Packets")?,
    })
}

/// The name of `user`'s session in vpncmd `SessionList` output.
pub(crate) fn session_of_user(text: &str, user: &str) -> Option<String> {
    let mut name = None;
    for (k, v) in parse_table(text) {
        match k.as_str() {
            "Session Name" => name = Some(v),
            "User Name" if v.eq_ignore_ascii_case(user) => return name,
            _ => {}
        }
    }
    None
}

/// [`SessionFrames`] of `user`'s session on `hub`, through the real vpncmd.
///
/// Errors: vpncmd fails, the user has no session, or the counters are
/// missing from `SessionGet`.
pub(crate) fn session_frames(srv: &Server, hub: &str, user: &str) -> Result<SessionFrames> {
    let list = srv.vpncmd(None, Some(hub), &["SessionList"])?;
    let name = session_of_user(&list, user)
        .with_context(|| format!("no session of {user} in SessionList:\n{list}"))?;
    let get = srv.vpncmd(None, Some(hub), &["SessionGet", &name])?;
    parse_session_frames(&get)
        .with_context(|| format!("no unicast packet counters in SessionGet {name}:\n{get}"))
}

/// Splits `frames_lost_data` of [`RunProbe::finish`]'s JSON by place, with
/// the server's counters of the sending and the receiving session taken
/// around the same run: lost in the sending vpnclient (read from its TAP,
/// never reached the server), in the server (reached it, not handed to the
/// receiving session), in the receiving vpnclient (handed to its session,
/// never written to its TAP: its own queues, or the TCP connection's way to
/// it). Adds the fields to `v`.
pub(crate) fn split_loss(v: &mut Value, from_sender: i64, to_receiver: i64) {
    let n = |v: &Value, k: &str| v.get(k).and_then(Value::as_i64).unwrap_or(0);
    let read = n(v, "sender_tap_tx_packets");
    let written = n(v, "receiver_tap_rx_packets");
    if let Some(o) = v.as_object_mut() {
        o.insert("server_frames_from_sender".into(), json!(from_sender));
        o.insert("server_frames_to_receiver".into(), json!(to_receiver));
        o.insert("lost_in_sending_client".into(), json!(read - from_sender));
        o.insert("lost_in_server".into(), json!(from_sender - to_receiver));
        o.insert(
            "lost_in_receiving_client".into(),
            json!(to_receiver - written),
        );
    }
}

/// One line for the progress log from [`RunProbe::finish`]'s JSON.
pub(crate) fn summary(v: &Value) -> String {
    let n = |p: &str| v.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    let mut s = format!(
        "frames lost sender TAP->receiver TAP {} of {} (acks {}), softnet drops {}",
        n("/frames_lost_data"),
        n("/sender_tap_tx_packets"),
        n("/frames_lost_acks"),
        n("/softnet_dropped"),
    );
    if v.get("lost_in_server").is_some() {
        s.push_str(&format!(
            "; lost in sending client {}, server {}, receiving client {}",
            n("/lost_in_sending_client"),
            n("/lost_in_server"),
            n("/lost_in_receiving_client"),
        ));
    }
    for side in ["sender", "receiver", "server"] {
        for what in ["if_drops", "tcp"] {
            if let Some(o) = v
                .pointer(&format!("/{what}/{side}"))
                .and_then(Value::as_object)
            {
                if !o.is_empty() {
                    let kv: Vec<String> = o
                        .iter()
                        .map(|(k, x)| format!("{}={x}", k.trim_start_matches("TcpExt")))
                        .collect();
                    s.push_str(&format!("; {side} {}: {}", what, kv.join(" ")));
                }
            }
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn proc_net_pairs_become_nstat_names() {
        let t = "Tcp: RtoAlgorithm RetransSegs\nTcp: 1 42\nUdp: InDatagrams\nUdp: 7\n";
        let mut m = BTreeMap::new();
        parse_proc_net(t, &mut m);
        assert_eq!(m.get("TcpRetransSegs"), Some(&42));
        assert_eq!(m.get("UdpInDatagrams"), Some(&7));
        let t = "TcpExt: TCPSackRecovery TCPBacklogDrop\nTcpExt: 3 9\n";
        parse_proc_net(t, &mut m);
        assert_eq!(m.get("TcpExtTCPBacklogDrop"), Some(&9));
    }

    #[test]
    fn ip_link_json_and_softnet() {
        let j = r#"[{"ifname":"vpn_vpn","stats64":{"rx":{"packets":10,"dropped":1},"tx":{"packets":20,"dropped":2}}}]"#;
        let mut m = BTreeMap::new();
        parse_ip_link(j, &mut m).unwrap();
        assert_eq!(m.get("vpn_vpn.tx_dropped"), Some(&2));
        assert_eq!(m.get("vpn_vpn.rx_packets"), Some(&10));
        let s = "0000a000 00000010 00000002 0\n0000b000 00000001 00000000 0\n";
        assert_eq!(parse_softnet(s), (17, 2));
    }

    #[test]
    fn session_counters_from_vpncmd_tables() {
        let list = "Item              |Value\n\
                    ------------------+------\n\
                    Session Name      |SID-U1-2\n\
                    User Name         |u1\n\
                    Session Name      |SID-U2-3\n\
                    User Name         |u2\n";
        assert_eq!(session_of_user(list, "u2").as_deref(), Some("SID-U2-3"));
        assert_eq!(session_of_user(list, "u3"), None);
        let get = "Outgoing Unicast Packets  |1,234,567 packets\n\
                   Outgoing Unicast Total Size|9 bytes\n\
                   Incoming Unicast Packets  |89 packets\n";
        assert_eq!(
            parse_session_frames(get),
            Some(SessionFrames {
                from_client: 1_234_567,
                to_client: 89
            })
        );
        assert_eq!(
            parse_session_frames("Incoming Unicast Packets|1 packets\n"),
            None
        );
        let mut v = json!({"sender_tap_tx_packets": 100, "receiver_tap_rx_packets": 90});
        split_loss(&mut v, 97, 95);
        assert_eq!(v["lost_in_sending_client"], 3);
        assert_eq!(v["lost_in_server"], 2);
        assert_eq!(v["lost_in_receiving_client"], 5);
    }
}
