//! Device I/O tests against real kernel interfaces, each in network namespaces of its
//! own. Prerequisites (root, `ip`, `/dev/net/tun`, ethtool, setpriv) go through
//! `rustether_testkit::prereq`: skipped visibly and counted without them, failing when
//! `CI` is set.

#![cfg(target_os = "linux")]

mod common;

use std::collections::HashMap;
use std::process::Command;
use std::time::{Duration, Instant};

use common::*;
use rustether_netdev::{
    frame, list_devices, offload_features, set_offload, DeviceStatus, NetdevError, RawDevice,
    RawOptions, ResilientDevice, TapDevice, DEFAULT_RETRY_INTERVAL,
};
use rustether_testkit::prereq::{require, Prereq};

const PLAIN: RawOptions = RawOptions {
    promiscuous: false,
    disable_offloads: false,
};

/// Receive frames until one with the test EtherType arrives (interfaces that come up send
/// IPv6 MLD/RS frames of their own); bounded.
async fn recv_test_frame(dev: &RawDevice, buf: &mut [u8]) -> (usize, rustether_netdev::FrameMeta) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let m = tokio::time::timeout(left, dev.recv_meta(buf))
            .await
            .expect("no test frame within 5 s")
            .expect("recv");
        if ethertype(&buf[..m.len]) == TEST_ETHERTYPE {
            return (m.len, m);
        }
    }
}

#[test]
fn list_devices_shows_ethernet_interfaces_only() {
    if !require(&[Prereq::Netns, Prereq::Tun]) {
        return;
    }
    let ns = Netns::new("list");
    ns.veth("zz1", "aa1");
    ns.ip(&["link", "set", "aa1", "down"]);
    ns.ip(&["link", "set", "aa1", "mtu", "1400"]);
    ns.ip(&["tuntap", "add", "tun0", "mode", "tun"]);
    ns.ip(&["tuntap", "add", "tap_x", "mode", "tap"]);
    let mac_aa1 = mac_of(&ns, "aa1");
    let mac_zz1 = mac_of(&ns, "zz1");
    let list = ns.block_on(|| async { list_devices().expect("list") });
    let names: Vec<&str> = list.iter().map(|d| d.name.as_str()).collect();
    // Sorted, only the veth pair: not lo, not the tun (ARPHRD_NONE), not tap_*.
    assert_eq!(names, ["aa1", "zz1"], "{list:#?}");
    assert_eq!(list[0].mac, mac_aa1);
    assert_eq!(list[1].mac, mac_zz1);
    assert!(!list[0].up && list[1].up);
    assert_eq!((list[0].mtu, list[1].mtu), (1400, 1500));
    let idx = ns.ip(&["-o", "link", "show", "dev", "zz1"]);
    let idx: u32 = idx.split(':').next().unwrap().trim().parse().unwrap();
    assert_eq!(list[1].ifindex, idx);
}

#[test]
fn raw_frames_cross_a_veth_byte_exact() {
    if !require(&[Prereq::Netns]) {
        return;
    }
    let ns = Netns::new("veth");
    ns.veth("va", "vb");
    let (mac_a, mac_b) = (mac_of(&ns, "va"), mac_of(&ns, "vb"));
    ns.block_on(move || async move {
        let a = RawDevice::open("va", RawOptions::default()).expect("open a");
        let b = RawDevice::open("vb", RawOptions::default()).expect("open b");
        assert_eq!((a.mac(), b.mac()), (mac_a, mac_b));
        assert_eq!(a.mtu(), 1500);
        let mut buf = vec![0u8; 2048];
        // b -> a, sizes from minimum to full MTU; one to a foreign unicast MAC.
        for (i, len) in [60usize, 61, 200, 1000, 1514].into_iter().enumerate() {
            let dst = if i == 2 { [2, 9, 9, 9, 9, 9] } else { mac_a };
            let f = test_frame(dst, mac_b, len, i as u8);
            b.send(&f).await.expect("send b");
            let (n, meta) = recv_test_frame(&a, &mut buf).await;
            assert_eq!(&buf[..n], &f[..], "frame {i} b->a");
            assert!(!meta.vlan_reinserted && !meta.segmented && !meta.checksum_completed);
        }
        // a -> b
        for (i, len) in [64usize, 1514].into_iter().enumerate() {
            let f = test_frame(mac_b, mac_a, len, 100 + i as u8);
            a.send(&f).await.expect("send a");
            let (n, _) = recv_test_frame(&b, &mut buf).await;
            assert_eq!(&buf[..n], &f[..], "frame {i} a->b");
        }
        // An 802.1Q-tagged frame: the kernel strips the tag before packet sockets see it;
        // the device puts it back.
        let mut tagged = test_frame(mac_a, mac_b, 300, 7);
        tagged.splice(12..12, [0x81, 0x00, 0x20, 0x64]); // PCP 1, VID 100
        b.send(&tagged).await.expect("send tagged");
        let (n, meta) = recv_test_frame(&a, &mut buf).await;
        assert_eq!(&buf[..n], &tagged[..]);
        assert!(meta.vlan_reinserted);
        // Too small a buffer: reported, not silently cut.
        let f = test_frame(mac_a, mac_b, 1000, 9);
        b.send(&f).await.unwrap();
        let mut small = [0u8; 100];
        loop {
            match a.recv(&mut small).await {
                Err(NetdevError::Truncated { len, cap }) => {
                    assert_eq!((len, cap), (1000, 100));
                    assert_eq!(&small[..], &f[..100]);
                    break;
                }
                Ok(n) => assert_ne!(ethertype(&small[..n]), TEST_ETHERTYPE),
                Err(e) => panic!("{e}"),
            }
        }
        // Bad frames are refused with a clear error.
        assert!(matches!(
            b.send(&[0u8; 10]).await,
            Err(NetdevError::BadFrame { len: 10, .. })
        ));
        let jumbo = test_frame(mac_a, mac_b, 3000, 1);
        assert!(matches!(
            b.send(&jumbo).await,
            Err(NetdevError::BadFrame { len: 3000, .. })
        ));
        let s = a.stats();
        assert!(
            s.rx_frames >= 6 && s.tx_frames == 2 && s.rx_truncated == 1,
            "{s:?}"
        );
    });
}

/// `send_batch` (one `sendmmsg` per call) delivers every frame in order and byte-exact;
/// a frame the interface refuses is reported alone and the rest still goes out.
#[test]
fn batched_sends_cross_a_veth_in_order() {
    if !require(&[Prereq::Netns]) {
        return;
    }
    let ns = Netns::new("batch");
    ns.veth("ba", "bb");
    let (mac_a, mac_b) = (mac_of(&ns, "ba"), mac_of(&ns, "bb"));
    ns.block_on(move || async move {
        let a = RawDevice::open("ba", PLAIN).expect("open a");
        let b = RawDevice::open("bb", PLAIN).expect("open b");
        // 150 frames (more than one sendmmsg takes), a jumbo frame at 100.
        let frames: Vec<Vec<u8>> = (0..150usize)
            .map(|i| {
                let len = if i == 100 { 3000 } else { 60 + (i * 37) % 1454 };
                test_frame(mac_a, mac_b, len, i as u8)
            })
            .collect();
        let mut i = 0;
        let mut calls = 0;
        let mut refused = Vec::new();
        let mut buf = vec![0u8; 2048];
        while i < frames.len() {
            calls += 1;
            match b.send_batch(&frames[i..]).await {
                Ok(n) => {
                    assert!(n >= 1 && i + n <= frames.len());
                    // Receive each batch before the next (the socket buffer is small).
                    for (k, f) in frames.iter().enumerate().skip(i).take(n) {
                        let (len, _) = recv_test_frame(&a, &mut buf).await;
                        assert_eq!(&buf[..len], &f[..], "frame {k}");
                    }
                    i += n;
                }
                Err(NetdevError::BadFrame { len, .. }) => {
                    refused.push((i, len));
                    i += 1;
                }
                Err(e) => panic!("{e}"),
            }
        }
        assert_eq!(refused, [(100, 3000)]);
        assert!(calls < frames.len(), "batched: {calls} calls");
        assert_eq!(b.stats().tx_frames, 149);
        assert!(matches!(
            b.send_batch(&[[0u8; 10]]).await,
            Err(NetdevError::BadFrame { len: 10, .. })
        ));
        assert_eq!(b.send_batch::<Vec<u8>>(&[]).await.unwrap(), 0);
    });
}

#[test]
fn own_outgoing_frames_are_skipped_and_partial_checksums_completed() {
    if !require(&[Prereq::Netns, Prereq::Program("ethtool")]) {
        return;
    }
    let ns = Netns::new("outg");
    ns.veth("va", "vb");
    ns.ip(&["addr", "add", "10.99.0.1/24", "dev", "va"]);
    let mac_b = mac_of(&ns, "vb");
    let mac_a = mac_of(&ns, "va");
    let mac_b_str = mac_b
        .iter()
        .map(|x| format!("{x:02x}"))
        .collect::<Vec<_>>()
        .join(":");
    ns.ip(&[
        "neigh",
        "add",
        "10.99.0.2",
        "lladdr",
        &mac_b_str,
        "dev",
        "va",
    ]);
    // veth defaults: TX checksum offload on, so the host's UDP leaves `a` with a partial
    // checksum.
    assert_eq!(ethtool_k(&ns, "va")["tx-checksum-ip-generic"], "on");
    ns.block_on(move || async move {
        let a = RawDevice::open("va", RawOptions::default()).expect("open a");
        let b = RawDevice::open("vb", RawOptions::default()).expect("open b");
        let sock = std::net::UdpSocket::bind("10.99.0.1:0").unwrap();
        sock.send_to(&[0x42; 100], "10.99.0.2:9999").unwrap();
        // b sees the datagram, with its checksum completed and valid.
        let mut buf = vec![0u8; 2048];
        let deadline = Instant::now() + Duration::from_secs(5);
        let (n, meta) = loop {
            assert!(Instant::now() < deadline, "UDP datagram not seen on b");
            let m = tokio::time::timeout(Duration::from_secs(5), b.recv_meta(&mut buf))
                .await
                .unwrap()
                .unwrap();
            if ethertype(&buf[..m.len]) == 0x0800 && buf[23] == 17 {
                break (m.len, m);
            }
        };
        assert!(meta.checksum_completed, "{meta:?}");
        let mut check = buf[..n].to_vec();
        assert!(frame::recompute_l4_checksum(&mut check).unwrap());
        assert_eq!(
            check,
            &buf[..n],
            "completed checksum equals a full recomputation"
        );
        assert_ne!(&buf[40..42], &[0, 0], "UDP checksum present");
        // a (the sender's own interface) must not have received its own outgoing frame:
        // the first frame of interest it sees is the marker b sends now.
        let marker = test_frame(mac_a, mac_b, 64, 3);
        b.send(&marker).await.unwrap();
        loop {
            let n = tokio::time::timeout(Duration::from_secs(5), a.recv(&mut buf))
                .await
                .unwrap()
                .unwrap();
            assert!(
                !(ethertype(&buf[..n]) == 0x0800 && buf[23] == 17),
                "a received the host's own outgoing UDP frame"
            );
            if buf[..n] == marker[..] {
                break;
            }
        }
    });
}

/// `ethtool -k <dev>` parsed into long name → "on"/"off"; panics when ethtool fails.
fn ethtool_k(ns: &Netns, dev: &str) -> HashMap<String, String> {
    let out = ns.exec(&["ethtool", "-k", dev]);
    assert!(
        out.status.success(),
        "ethtool -k {dev}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (k, v) = l.split_once(':')?;
            Some((
                k.trim().to_string(),
                v.split_whitespace().next()?.to_string(),
            ))
        })
        .collect()
}

#[test]
fn promiscuous_membership_exists_only_while_open() {
    if !require(&[Prereq::Netns]) {
        return;
    }
    let ns = Netns::new("promisc");
    ns.veth("va", "vb");
    assert_eq!(ns.link_attr("va", "promiscuity"), Some(0));
    let name = ns.name.clone();
    ns.block_on(move || async move {
        let ip_attr = |key: &str| {
            let out = run(
                Command::new("ip").args(["-n", &name, "-d", "-j", "link", "show", "dev", "va"])
            );
            let pat = format!("\"{key}\":");
            let at = out.find(&pat).unwrap() + pat.len();
            out[at..]
                .chars()
                .take_while(|c| c.is_ascii_digit())
                .collect::<String>()
        };
        // The administrative IFF_PROMISC flag (what SoftEther sets and never clears) is
        // not touched: the membership only counts in `promiscuity`.
        let flags = || rustether_netdev::device_info("va").unwrap().promiscuous;
        let plain = RawDevice::open("va", PLAIN).unwrap();
        assert_eq!(ip_attr("promiscuity"), "0");
        assert!(!flags());
        let p1 = RawDevice::open("va", RawOptions::default()).unwrap();
        assert_eq!(ip_attr("promiscuity"), "1");
        assert!(!flags(), "administrative IFF_PROMISC untouched");
        let p2 = RawDevice::open("va", RawOptions::default()).unwrap();
        assert_eq!(ip_attr("promiscuity"), "2");
        drop(p1);
        assert_eq!(ip_attr("promiscuity"), "1");
        drop(p2);
        assert_eq!(ip_attr("promiscuity"), "0");
        assert!(!flags(), "IFF_PROMISC cleared after the last device closed");
        drop(plain);
    });
    assert_eq!(ns.link_attr("va", "promiscuity"), Some(0));
}

#[test]
fn offloads_are_disabled_while_open_and_restored_exactly() {
    if !require(&[Prereq::Netns, Prereq::Program("ethtool")]) {
        return;
    }
    let ns = Netns::new("offl");
    ns.veth("va", "vb");
    // A non-default starting point: GRO on (veth default off), TSO6 off (default on).
    let before = ns.block_on(|| async {
        set_offload("va", "rx-gro", true).unwrap();
        set_offload("va", "tx-tcp6-segmentation", false).unwrap();
        offload_features("va").unwrap()
    });
    let get = |v: &[rustether_netdev::OffloadFeature], n: &str| {
        v.iter().find(|f| f.name == n).map(|f| f.active)
    };
    assert_eq!(get(&before, "rx-gro"), Some(true));
    assert_eq!(get(&before, "tx-tcp6-segmentation"), Some(false));
    assert_eq!(get(&before, "tx-tcp-segmentation"), Some(true));
    assert_eq!(get(&before, "tx-generic-segmentation"), Some(true));
    // Independent view through the ethtool program.
    let ethtool_before = ethtool_k(&ns, "va");
    assert_eq!(ethtool_before["generic-receive-offload"], "on");
    assert_eq!(ethtool_before["tcp-segmentation-offload"], "on");
    let ns_name = ns.name.clone();
    let after = ns.block_on(move || async move {
        let dev = RawDevice::open("va", RawOptions::default()).unwrap();
        let during = offload_features("va").unwrap();
        for f in &during {
            if f.changeable {
                assert!(!f.active, "{} still active while open: {during:#?}", f.name);
            }
        }
        let disabled = dev.disabled_offloads().to_vec();
        assert!(disabled.contains(&"rx-gro".to_string()), "{disabled:?}");
        assert!(disabled.contains(&"tx-tcp-segmentation".to_string()));
        assert!(
            !disabled.contains(&"tx-tcp6-segmentation".to_string()),
            "was already off"
        );
        let out = Command::new("ip")
            .args(["netns", "exec", &ns_name, "ethtool", "-k", "va"])
            .output()
            .unwrap();
        assert!(out.status.success(), "ethtool -k va: {out:?}");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        for key in [
            "generic-receive-offload",
            "tcp-segmentation-offload",
            "generic-segmentation-offload",
        ] {
            assert!(
                text.contains(&format!("{key}: off")),
                "{key} not off while open:\n{text}"
            );
        }
        // A second device on the same interface shares the state: closing the first one
        // must not switch the offloads back on under the second.
        let second = RawDevice::open("va", RawOptions::default()).unwrap();
        assert_eq!(second.disabled_offloads(), disabled.as_slice());
        drop(dev);
        let still = offload_features("va").unwrap();
        assert!(
            still.iter().all(|f| !f.changeable || !f.active),
            "{still:#?}"
        );
        drop(second);
        offload_features("va").unwrap()
    });
    assert_eq!(after, before, "offloads restored exactly");
    assert_eq!(ethtool_k(&ns, "va"), ethtool_before, "ethtool -k unchanged");
}

#[test]
fn tap_device_lifecycle() {
    if !require(&[Prereq::Netns, Prereq::Tun]) {
        return;
    }
    let ns = Netns::new("tap");
    let mac = [0x5E, 0x64, 0x50, 0x13, 0xEA, 0x43];
    let name = ns.name.clone();
    ns.block_on(move || async move {
        assert!(matches!(
            TapDevice::create("abcdefghijkl", None),
            Err(NetdevError::NameTooLong(n)) if n == "tap_abcdefghijkl"
        ));
        let tap = TapDevice::create("  Test ", Some(mac)).expect("create tap");
        assert_eq!(tap.name(), "tap_test");
        assert_eq!(tap.mac().unwrap(), mac);
        let show =
            run(Command::new("ip").args(["-n", &name, "-d", "link", "show", "dev", "tap_test"]));
        assert!(show.contains("UP"), "{show}");
        assert!(
            show.contains("tun type tap pi off vnet_hdr off persist off"),
            "{show}"
        );
        let info = rustether_netdev::device_info("tap_test").unwrap();
        assert!(info.up);
        assert_eq!(info.mac, mac);

        let raw = RawDevice::open("tap_test", PLAIN).expect("raw on tap");
        let mut buf = vec![0u8; 2048];
        // Into the host through the TAP: seen on the interface by the raw socket.
        let f = test_frame([2, 1, 1, 1, 1, 1], [2, 2, 2, 2, 2, 2], 777, 5);
        tap.send(&f).await.unwrap();
        let (n, _) = recv_test_frame(&raw, &mut buf).await;
        assert_eq!(&buf[..n], &f[..]);
        // Transmitted on the interface: comes out of the TAP.
        let g = test_frame(mac, [2, 3, 3, 3, 3, 3], 1514, 6);
        raw.send(&g).await.unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            assert!(Instant::now() < deadline);
            let n = tokio::time::timeout(Duration::from_secs(5), tap.recv(&mut buf))
                .await
                .unwrap()
                .unwrap();
            if ethertype(&buf[..n]) == TEST_ETHERTYPE {
                assert_eq!(&buf[..n], &g[..]);
                break;
            }
        }
        // Short buffer: truncation reported.
        raw.send(&g).await.unwrap();
        let mut small = [0u8; 64];
        loop {
            match tokio::time::timeout(Duration::from_secs(5), tap.recv(&mut small))
                .await
                .unwrap()
            {
                Err(NetdevError::Truncated { len: 1514, cap: 64 }) => break,
                Ok(n) => assert_ne!(ethertype(&small[..n]), TEST_ETHERTYPE),
                Err(e) => panic!("{e}"),
            }
        }
        drop(raw);
        drop(tap);
    });
    assert!(!ns.has_link("tap_test"), "tap removed after drop");
}

/// Child side of the capability test: runs only when re-executed by it.
#[test]
#[ignore = "helper: run by capabilities_missing_are_named in a child process"]
fn child_probe() {
    let what = std::env::var("RUSTETHER_NETDEV_PROBE").expect(
        "RUSTETHER_NETDEV_PROBE: this helper runs only as capabilities_missing_are_named's child",
    );
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _g = rt.enter();
    let result = match what.as_str() {
        "raw-plain" => RawDevice::open("va", PLAIN).map(drop),
        "raw-promisc" => RawDevice::open(
            "va",
            RawOptions {
                promiscuous: true,
                disable_offloads: false,
            },
        )
        .map(drop),
        "raw-offloads" => RawDevice::open(
            "va",
            RawOptions {
                promiscuous: false,
                disable_offloads: true,
            },
        )
        .map(drop),
        "tap" => TapDevice::create("probe", None).map(drop),
        "list" => list_devices().map(|l| assert!(l.iter().any(|d| d.name == "va"))),
        "supported" => {
            println!(
                "PROBE-SUPPORTED: {}",
                rustether_netdev::is_bridge_supported()
            );
            Ok(())
        }
        other => panic!("unknown probe {other}"),
    };
    match result {
        Ok(()) => println!("PROBE-RESULT: ok"),
        Err(NetdevError::MissingCapability { cap, .. }) => {
            let msg = result_message(&what);
            println!("PROBE-RESULT: missing {cap}");
            println!("PROBE-MESSAGE: {msg}");
        }
        Err(e) => println!("PROBE-RESULT: error {e}"),
    }
}

fn result_message(what: &str) -> String {
    let _ = what;
    rustether_netdev::check_capabilities(true)
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default()
}

#[test]
fn capabilities_missing_are_named() {
    if !require(&[Prereq::Netns, Prereq::Tun, Prereq::Program("setpriv")]) {
        return;
    }
    let ns = Netns::new("caps");
    ns.veth("va", "vb");
    let exe = std::env::current_exe().unwrap();
    let probe = |bounding: &str, what: &str| -> String {
        let out = Command::new("ip")
            .args(["netns", "exec", &ns.name, "setpriv", "--inh-caps=-all"])
            .arg(format!("--bounding-set={bounding}"))
            .arg("--")
            .arg(&exe)
            .args([
                "--ignored",
                "--exact",
                "child_probe",
                "--nocapture",
                "--test-threads=1",
            ])
            .env("RUSTETHER_NETDEV_PROBE", what)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        assert!(
            out.status.success(),
            "child failed: {text}{}",
            String::from_utf8_lossy(&out.stderr)
        );
        text
    };
    let result = |text: &str| -> String {
        text.lines()
            .find_map(|l| l.split("PROBE-RESULT: ").nth(1))
            .unwrap_or_else(|| panic!("no result in {text}"))
            .to_string()
    };
    // No capabilities at all: raw sockets refused, naming CAP_NET_RAW; listing still works.
    let none = "-all";
    let t = probe(none, "raw-plain");
    assert_eq!(result(&t), "missing CAP_NET_RAW", "{t}");
    let msg = t
        .lines()
        .find_map(|l| l.split("PROBE-MESSAGE: ").nth(1))
        .unwrap();
    assert!(
        msg.contains("CAP_NET_RAW") && msg.contains("setcap cap_net_raw,cap_net_admin+ep"),
        "{msg}"
    );
    assert!(msg.contains("AmbientCapabilities"), "{msg}");
    assert_eq!(result(&probe(none, "tap")), "missing CAP_NET_RAW");
    assert_eq!(result(&probe(none, "list")), "ok");
    assert!(probe(none, "supported").contains("PROBE-SUPPORTED: false"));
    // CAP_NET_RAW only: a plain raw socket works; promiscuous mode, offloads and TAP
    // name CAP_NET_ADMIN.
    let raw_only = "-all,+net_raw";
    assert_eq!(result(&probe(raw_only, "raw-plain")), "ok");
    assert!(probe(raw_only, "supported").contains("PROBE-SUPPORTED: true"));
    let t = probe(raw_only, "raw-promisc");
    assert_eq!(result(&t), "missing CAP_NET_ADMIN", "{t}");
    assert_eq!(
        result(&probe(raw_only, "raw-offloads")),
        "missing CAP_NET_ADMIN"
    );
    assert_eq!(result(&probe(raw_only, "tap")), "missing CAP_NET_ADMIN");
    // Both: everything works.
    let both = "-all,+net_raw,+net_admin";
    assert_eq!(result(&probe(both, "raw-promisc")), "ok");
    assert_eq!(result(&probe(both, "raw-offloads")), "ok");
}

#[test]
fn resilient_device_reopens_when_the_interface_returns() {
    if !require(&[Prereq::Netns]) {
        return;
    }
    let ns = Netns::new("resil");
    ns.veth("va", "vb");
    let name = ns.name.clone();
    ns.block_on(move || async move {
        let ip = |args: &[&str]| run(Command::new("ip").arg("-n").arg(&name).args(args));
        let dev = std::sync::Arc::new(ResilientDevice::new("va", RawOptions::default()).unwrap());
        let mut status = dev.subscribe();
        assert_eq!(dev.status(), DeviceStatus::Opening);
        // The receiving task: forwards test frames' first payload byte.
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let d2 = dev.clone();
        let reader = tokio::spawn(async move {
            let mut buf = vec![0u8; 2048];
            loop {
                let n = d2.recv(&mut buf).await.unwrap();
                if ethertype(&buf[..n]) == TEST_ETHERTYPE && tx.send(buf[14]).is_err() {
                    return;
                }
            }
        });
        // Send test frames from b until one arrives (b is reopened each round because it
        // too disappears with the pair).
        async fn probe_until_received(
            rx: &mut tokio::sync::mpsc::UnboundedReceiver<u8>,
            tag: u8,
        ) -> Duration {
            let start = Instant::now();
            loop {
                assert!(start.elapsed() < Duration::from_secs(10), "never received");
                if let Ok(b) = RawDevice::open("vb", PLAIN) {
                    let mut f = test_frame([2, 0, 0, 0, 0, 1], b.mac(), 64, 0);
                    f[14] = tag;
                    let _ = b.send(&f).await;
                }
                match tokio::time::timeout(Duration::from_millis(50), rx.recv()).await {
                    Ok(Some(t)) if t == tag => return start.elapsed(),
                    _ => {}
                }
            }
        }
        probe_until_received(&mut rx, 1).await;
        assert_eq!(dev.status(), DeviceStatus::Operating);
        let first_ifindex = dev.device().unwrap().ifindex();

        // Delete the interface: the device notices and reports an error.
        // Deadlines only (the test is bounded), from the retry interval.
        let deadline = DEFAULT_RETRY_INTERVAL * 10;
        ip(&["link", "del", "va"]);
        let t0 = Instant::now();
        tokio::time::timeout(
            deadline,
            status.wait_for(|s| matches!(s, DeviceStatus::Error(_))),
        )
        .await
        .expect("deletion noticed")
        .unwrap();
        eprintln!("deletion noticed after {:?}", t0.elapsed());
        assert!(dev.device().is_none());
        assert!(matches!(
            dev.send(&[0u8; 60]).await,
            Err(NetdevError::Gone(_))
        ));
        // Let a reopen attempt or two fail while the interface is absent.
        tokio::time::sleep(DEFAULT_RETRY_INTERVAL * 3 / 2).await;

        // Recreate: back in operation at a later retry.
        ip(&["link", "add", "va", "type", "veth", "peer", "name", "vb"]);
        ip(&["link", "set", "va", "up"]);
        ip(&["link", "set", "vb", "up"]);
        let t1 = Instant::now();
        tokio::time::timeout(deadline, status.wait_for(|s| *s == DeviceStatus::Operating))
            .await
            .expect("reopened after the interface came back")
            .unwrap();
        eprintln!("reopened {:?} after the interface came back", t1.elapsed());
        assert_ne!(dev.device().unwrap().ifindex(), first_ifindex);
        probe_until_received(&mut rx, 2).await;
        reader.abort();
    });
}

#[test]
fn tcp_through_a_user_space_bridge_with_offloads_on_the_peers() {
    if !require(&[Prereq::Netns]) {
        return;
    }
    // left (10.77.0.1) --veth-- [l0  bridge ns  r0] --veth-- right (10.77.0.2)
    // The peers keep veth defaults (TX checksum offload, TSO, GSO on), so the bridge
    // receives partial checksums and 64 KiB super-frames.
    let br = Netns::new("br");
    let left = Netns::new("left");
    let right = Netns::new("right");
    br.ip(&[
        "link", "add", "l0", "type", "veth", "peer", "name", "eth0", "netns", &left.name,
    ]);
    br.ip(&[
        "link",
        "add",
        "r0",
        "type",
        "veth",
        "peer",
        "name",
        "eth0",
        "netns",
        &right.name,
    ]);
    for (ns, addr) in [(&left, "10.77.0.1/24"), (&right, "10.77.0.2/24")] {
        ns.ip(&["addr", "add", addr, "dev", "eth0"]);
        ns.ip(&["link", "set", "eth0", "up"]);
        let f = ns.block_on(|| async { offload_features("eth0").unwrap() });
        assert!(
            f.iter()
                .any(|x| x.name == "tx-tcp-segmentation" && x.active),
            "{f:?}"
        );
    }
    br.ip(&["link", "set", "l0", "up"]);
    br.ip(&["link", "set", "r0", "up"]);

    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let bridge = {
        let path = format!("/run/netns/{}", br.name);
        std::thread::spawn(move || {
            enter(&path);
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async move {
                let l = std::sync::Arc::new(RawDevice::open("l0", RawOptions::default()).unwrap());
                let r = std::sync::Arc::new(RawDevice::open("r0", RawOptions::default()).unwrap());
                let fwd = |from: std::sync::Arc<RawDevice>, to: std::sync::Arc<RawDevice>| async move {
                    let mut buf = vec![0u8; 2048];
                    loop {
                        let n = from.recv(&mut buf).await.expect("bridge recv");
                        assert!(n <= 1518, "frame of {n} bytes reached the bridge");
                        to.send(&buf[..n]).await.expect("bridge send");
                    }
                };
                let a = tokio::spawn(fwd(l.clone(), r.clone()));
                let b = tokio::spawn(fwd(r.clone(), l.clone()));
                let mut stop = stop_rx;
                let _ = tokio::time::timeout(BODY_TIMEOUT, stop.wait_for(|s| *s)).await;
                a.abort();
                b.abort();
                let _ = a.await;
                let _ = b.await;
                (l.stats(), r.stats())
            })
        })
    };

    const BYTES: usize = 8 << 20;
    let server = {
        let path = format!("/run/netns/{}", right.name);
        std::thread::spawn(move || {
            use std::io::{Read, Write};
            enter(&path);
            let l = std::net::TcpListener::bind("10.77.0.2:5001").unwrap();
            let (mut s, _) = l.accept().unwrap();
            s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            let mut total = 0usize;
            let mut sum = 0u64;
            let mut buf = vec![0u8; 65536];
            loop {
                let n = s.read(&mut buf).unwrap();
                if n == 0 {
                    break;
                }
                for &x in &buf[..n] {
                    sum = sum.wrapping_mul(31).wrapping_add(u64::from(x));
                }
                total += n;
            }
            s.write_all(format!("{total} {sum}").as_bytes()).unwrap();
        })
    };
    let (sent_sum, reply) = left.run(move || {
        use std::io::{Read, Write};
        let deadline = Instant::now() + Duration::from_secs(10);
        let mut s = loop {
            match std::net::TcpStream::connect_timeout(
                &"10.77.0.2:5001".parse().unwrap(),
                Duration::from_secs(2),
            ) {
                Ok(s) => break s,
                Err(e) if Instant::now() < deadline => {
                    eprintln!("connect: {e}; retrying");
                    std::thread::sleep(Duration::from_millis(200));
                }
                Err(e) => panic!("connect: {e}"),
            }
        };
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        s.set_write_timeout(Some(Duration::from_secs(30))).unwrap();
        let data: Vec<u8> = (0..BYTES).map(|i| (i * 131 + i / 7) as u8).collect();
        let mut sum = 0u64;
        for &x in &data {
            sum = sum.wrapping_mul(31).wrapping_add(u64::from(x));
        }
        s.write_all(&data).unwrap();
        s.shutdown(std::net::Shutdown::Write).unwrap();
        let mut reply = String::new();
        s.read_to_string(&mut reply).unwrap();
        (sum, reply)
    });
    server.join().unwrap();
    stop_tx.send(true).unwrap();
    let (ls, rs) = bridge.join().unwrap();
    assert_eq!(reply, format!("{BYTES} {sent_sum}"), "data arrived intact");
    eprintln!("left side {ls:?}\nright side {rs:?}");
    // The repair paths were really exercised: the sender's TSO super-frames were cut and
    // the partial checksums of both peers completed.
    assert!(ls.rx_superframes > 0, "{ls:?}");
    assert!(
        ls.rx_checksums_completed + rs.rx_checksums_completed > 0,
        "{ls:?} {rs:?}"
    );
    assert_eq!(ls.rx_dropped + rs.rx_dropped, 0);
}

#[test]
fn raw_device_survives_link_down_and_up() {
    if !require(&[Prereq::Netns]) {
        return;
    }
    let ns = Netns::new("downup");
    ns.veth("va", "vb");
    let name = ns.name.clone();
    ns.block_on(move || async move {
        let ip = |args: &[&str]| run(Command::new("ip").arg("-n").arg(&name).args(args));
        let a = RawDevice::open("va", RawOptions::default()).unwrap();
        let b = RawDevice::open("vb", PLAIN).unwrap();
        ip(&["link", "set", "dev", "va", "down"]);
        // Down is not gone: recv keeps waiting (past its 0.5 s liveness check).
        let mut buf = vec![0u8; 2048];
        let r = tokio::time::timeout(Duration::from_millis(1200), async {
            loop {
                let n = a.recv(&mut buf).await?;
                if ethertype(&buf[..n]) == TEST_ETHERTYPE {
                    return Ok::<_, NetdevError>(n);
                }
            }
        })
        .await;
        assert!(r.is_err(), "recv returned while the link was down: {r:?}");
        assert!(a.is_alive());
        ip(&["link", "set", "dev", "va", "up"]);
        let f = test_frame(a.mac(), b.mac(), 128, 4);
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            // The carrier takes a moment to come back; resend until it arrives.
            b.send(&f).await.unwrap();
            match tokio::time::timeout(Duration::from_millis(100), a.recv(&mut buf)).await {
                Ok(Ok(n)) if buf[..n] == f[..] => break,
                Ok(Err(e)) => panic!("{e}"),
                _ => assert!(
                    Instant::now() < deadline,
                    "no frame after the link came back"
                ),
            }
        }
    });
}

#[test]
fn wait_for_device_returns_once_the_interface_exists() {
    if !require(&[Prereq::Netns]) {
        return;
    }
    let ns = Netns::new("wait");
    let name = ns.name.clone();
    ns.block_on(move || async move {
        let poll = Duration::from_millis(50);
        let early = tokio::time::timeout(
            Duration::from_millis(300),
            rustether_netdev::wait_for_device("vz", poll),
        )
        .await;
        assert!(early.is_err(), "returned before the interface existed");
        let waiter = tokio::spawn(rustether_netdev::wait_for_device("vz", poll));
        tokio::time::sleep(Duration::from_millis(100)).await;
        run(Command::new("ip").args([
            "-n", &name, "link", "add", "name", "vz", "type", "veth", "peer", "name", "vz1",
        ]));
        tokio::time::timeout(Duration::from_secs(2), waiter)
            .await
            .expect("wait_for_device did not return")
            .unwrap()
            .unwrap();
        assert!(matches!(
            rustether_netdev::wait_for_device("sixteen-chars-xx", poll).await,
            Err(NetdevError::NameTooLong(_))
        ));
    });
}
