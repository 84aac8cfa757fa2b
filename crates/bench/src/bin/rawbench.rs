//! Throughput micro-benchmark of `RawDevice`: frames per second sent on one end of a veth
//! pair and received on the other, inside a network namespace of its own.
//!
//! ```text
//! sudo cargo run --release -p rustether-bench --bin rawbench -- [FRAMES] [SIZE]
//! ```
//!
//! Defaults: 200000 frames of 1514 bytes (also try 60). Prints frames/s and Mbit/s for the
//! sending and the receiving side and the loss (frames the receiving socket buffer
//! dropped). Needs root (it creates namespace `rtnd-bench-<pid>` and deletes it at the end).
#![forbid(unsafe_code)]

#[cfg(target_os = "linux")]
fn main() {
    linux::main();
}

#[cfg(not(target_os = "linux"))]
fn main() {
    eprintln!("rawbench: Linux only");
}

#[cfg(target_os = "linux")]
mod linux {
    use std::process::Command;
    use std::sync::Arc;
    use std::time::{Duration, Instant};

    use rustether_netdev::{RawDevice, RawOptions};

    struct Netns(String);

    impl Drop for Netns {
        fn drop(&mut self) {
            let _ = Command::new("ip").args(["netns", "del", &self.0]).status();
        }
    }

    fn ip(args: &[&str]) {
        let st = Command::new("ip").args(args).status().expect("run ip");
        assert!(st.success(), "ip {args:?} failed");
    }

    pub(crate) fn main() {
        let mut args = std::env::args().skip(1);
        let frames: u64 = args.next().map_or(200_000, |a| a.parse().expect("FRAMES"));
        let size: usize = args.next().map_or(1514, |a| a.parse().expect("SIZE"));
        assert!((14..=1514).contains(&size), "SIZE must be 14..=1514");
        if !nix::unistd::geteuid().is_root() {
            eprintln!("rawbench needs root (network namespace, raw sockets)");
            std::process::exit(2);
        }
        let ns = Netns(format!("rtnd-bench-{}", std::process::id()));
        ip(&["netns", "add", &ns.0]);
        ip(&[
            "-n", &ns.0, "link", "add", "name", "bench0", "type", "veth", "peer", "name", "bench1",
        ]);
        ip(&["-n", &ns.0, "link", "set", "dev", "bench0", "up"]);
        ip(&["-n", &ns.0, "link", "set", "dev", "bench1", "up"]);
        // Enter the namespace before any other thread exists, so the runtime's threads
        // (and every socket) live in it.
        let f = std::fs::File::open(format!("/run/netns/{}", ns.0)).expect("open netns");
        nix::sched::setns(f, nix::sched::CloneFlags::CLONE_NEWNET).expect("setns");

        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .expect("runtime");
        rt.block_on(run(frames, size));
    }

    async fn run(frames: u64, size: usize) {
        let opts = RawOptions::default();
        let tx = Arc::new(RawDevice::open("bench0", opts).expect("open bench0"));
        let rx = Arc::new(RawDevice::open("bench1", opts).expect("open bench1"));
        let mut frame = vec![0u8; size];
        frame[..6].copy_from_slice(&rx.mac());
        frame[6..12].copy_from_slice(&tx.mac());
        frame[12..14].copy_from_slice(&0x88B5u16.to_be_bytes());

        let receiver = {
            let rx = rx.clone();
            tokio::spawn(async move {
                let mut bufs = vec![vec![0u8; 2048]; 32];
                let mut lens = vec![0usize; 32];
                let mut got = 0u64;
                let mut first: Option<Instant> = None;
                let mut last = Instant::now();
                while got < frames {
                    let mut one = [0u8; 2048];
                    match tokio::time::timeout(Duration::from_secs(1), rx.recv(&mut one)).await {
                        Err(_) => break, // idle: the rest was lost
                        Ok(r) => {
                            r.expect("recv");
                        }
                    }
                    first.get_or_insert_with(Instant::now);
                    got += 1;
                    // Drain what is queued without waiting.
                    let mut refs: Vec<&mut [u8]> =
                        bufs.iter_mut().map(|b| b.as_mut_slice()).collect();
                    got += rx.try_recv_batch(&mut refs, &mut lens).expect("batch") as u64;
                    last = Instant::now();
                }
                (got, first.map(|f| last - f).unwrap_or_default())
            })
        };
        tokio::time::sleep(Duration::from_millis(50)).await;
        let start = Instant::now();
        for _ in 0..frames {
            tx.send(&frame).await.expect("send");
        }
        let send_time = start.elapsed();
        let (got, recv_time) = receiver.await.expect("receiver");
        let tx_stats = tx.stats();
        let report = |what: &str, n: u64, t: Duration| {
            let s = t.as_secs_f64().max(1e-9);
            println!(
                "{what:>8}: {n:>9} frames in {:>7.3} s = {:>10.0} frames/s, {:>8.1} Mbit/s",
                s,
                n as f64 / s,
                n as f64 * size as f64 * 8.0 / s / 1e6
            );
        };
        println!("rawbench: {frames} frames of {size} bytes over a veth pair");
        report("send", frames, send_time);
        report("receive", got, recv_time);
        // The host may add frames of its own (IPv6 neighbour discovery on a
        // fresh veth): more received than sent is no loss.
        let lost = frames.saturating_sub(got);
        println!(
            "    loss: {} frames ({:.2} %), send queue drops: {}",
            lost,
            lost as f64 * 100.0 / frames as f64,
            tx_stats.tx_dropped
        );
    }
}
