//! Development stand-in for `rustether_server::worker::run` (cargo feature
//! `fake-worker`, never in release builds): honours the same contract
//! (inherited listeners by port, binds the rest, `on_ready`, clean stop on
//! SIGTERM/SIGINT) and accepts then closes connections. Lets the process
//! model be exercised before the engine exists.

use std::net::TcpListener;
use std::os::fd::AsRawFd;

use rustether_server::worker::{ReadyInfo, WorkerOptions};

use super::{listeners, sys};

pub(crate) fn run(mut opts: WorkerOptions) -> anyhow::Result<()> {
    let cfg = crate::config::load(opts.edition, &opts.state_dir).map_err(anyhow::Error::msg)?;
    let sigfd = sys::block_signals_to_fd(&[libc::SIGTERM, libc::SIGINT])?;
    let mut socks: Vec<TcpListener> = Vec::new();
    let mut info = ReadyInfo {
        listening: Vec::new(),
        failed: Vec::new(),
    };
    for port in cfg.ports {
        let pos = opts
            .inherited
            .iter()
            .position(|l| l.local_addr().ok().map(|a| a.port()) == Some(port));
        let s = match pos {
            Some(i) => Ok(opts.inherited.swap_remove(i)),
            None => listeners::bind_port(port),
        };
        match s {
            Ok(s) => {
                info.listening.push(port);
                socks.push(s);
            }
            Err(e) => info.failed.push((port, e.to_string())),
        }
    }
    if socks.is_empty() {
        anyhow::bail!("no listener could be bound");
    }
    if let Some(f) = opts.after_bind.take() {
        f()?;
    }
    if let Some(f) = opts.on_ready.take() {
        f(&info);
    }
    let mut fds = vec![sigfd.as_raw_fd()];
    fds.extend(socks.iter().map(|s| s.as_raw_fd()));
    loop {
        let r = sys::poll_read(&fds, None)?;
        if r[0] {
            tracing::info!("fake worker: stop signal, exiting");
            return Ok(());
        }
        for (i, s) in socks.iter().enumerate() {
            if r[i + 1] {
                let _ = s.accept();
            }
        }
    }
}
