//! Security and packet logs of the virtual hubs, and syslog forwarding, in
//! SoftEther's format and places (src/Cedar/Logging.c `WriteHubLog`,
//! `PacketLog`, `LogThread`, `SendSysLog`; docs/administration.md "Logs"):
//!
//! * `security_log/<HUB>/sec_YYYYMMDD.log`: `2026-12-03 10:53:08.123 text`;
//! * `packet_log/<HUB>/pkt_YYYYMMDD.log`: `2026-12-03,10:53:08.123,<CSV>`
//!   ([`rustether_hub::packetlog::line`]);
//!
//! under the state directory (SoftEther: the program's directory), with
//! CRLF line ends, the date part of the name as the hub's switch type says
//! (`_YYYYMMDD_HHMMSS` … `_YYYYMM`, none). Times are UTC plus the offset
//! given to [`set_utc_offset`] (the daemon passes the local offset).
//!
//! Logging never blocks the data path: callers put records in a bounded
//! queue ([`QUEUE_RECORDS`]; a packet record holds a copy of at most one
//! frame, so the queue holds at most ~16 384 × 1.6 KB) with `try_send`; one thread formats and
//! writes them through buffered files. A full queue drops the record and
//! counts it ([`Logs::dropped`]); a failing write (full or slow disk)
//! counts too ([`Logs::write_errors`]) and is reported in the server log at
//! most once a minute.
//!
//! Retention ([`crate::logretention`]): files are split at
//! `LoggerMaxLogSize` (`sec_20261203~01.log` …), and the writer thread
//! deletes old files by age and size per hub directory and, when the disk
//! runs low, the oldest log files (SoftEther's eraser) — every
//! `AutoDeleteCheckIntervalSecs`, set with [`Logs::set_retention`].

use std::collections::HashMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::net::{ToSocketAddrs, UdpSocket};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::sync::mpsc::{sync_channel, Receiver, RecvTimeoutError, SyncSender, TrySendError};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use rustether_config::model::{HubLogSetting, SyslogSetting};

use crate::logretention::{self, Append, Retention};

/// Records the queue holds before new ones are dropped.
pub const QUEUE_RECORDS: usize = 16_384;

/// Longest security log text written, in bytes (SoftEther formats into a
/// `MAX_SIZE * 2` wide-char buffer).
const MAX_TEXT: usize = 4096;

/// Syslog datagrams are cut at 1023 bytes (`SendSysLog`).
const MAX_SYSLOG: usize = 1023;

/// Directory of the security logs under the log root (`HUB_SECURITY_LOG_DIR`).
pub const SECURITY_LOG_DIR: &str = "security_log";
/// Directory of the packet logs (`HUB_PACKET_LOG_DIR`).
pub const PACKET_LOG_DIR: &str = "packet_log";
/// Directory of the server log (`SERVER_LOG_DIR`).
pub const SERVER_LOG_DIR: &str = "server_log";

static UTC_OFFSET: AtomicI32 = AtomicI32::new(0);

/// Sets the offset (seconds east of UTC) log times and file names are
/// written in; 0 (UTC) until set.
pub fn set_utc_offset(secs: i32) {
    UTC_OFFSET.store(secs, Ordering::Relaxed);
}

/// Civil date and time of `t` plus the offset: (y, m, d, H, M, S, ms).
fn civil(t: SystemTime) -> (i64, u32, u32, u32, u32, u32, u32) {
    let d = t.duration_since(UNIX_EPOCH).unwrap_or_default();
    let ms = d.as_millis() as i64 + i64::from(UTC_OFFSET.load(Ordering::Relaxed)) * 1000;
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let sod = secs.rem_euclid(86_400);
    let (year, month, day) = rustether_proto::softether::time::civil_from_days(days);
    (
        year,
        month,
        day,
        (sod / 3600) as u32,
        (sod % 3600 / 60) as u32,
        (sod % 60) as u32,
        ms.rem_euclid(1000) as u32,
    )
}

/// `2026-12-03` and `10:53:08.123` (`GetDateStr64`, `GetTimeStrMilli64`).
fn date_time(t: SystemTime) -> (String, String) {
    let (y, mo, d, h, mi, s, ms) = civil(t);
    (
        format!("{y:04}-{mo:02}-{d:02}"),
        format!("{h:02}:{mi:02}:{s:02}.{ms:03}"),
    )
}

/// The date part of a log file name for switch type `switch`
/// (`MakeLogFileNameStringFromTick`): 1 `_YYYYMMDD_HHMMSS`, 2
/// `_YYYYMMDD_HHMM`, 3 `_YYYYMMDD_HH`, 4 `_YYYYMMDD`, 5 `_YYYYMM`, other
/// none.
pub fn file_date(t: SystemTime, switch: u32) -> String {
    let (y, mo, d, h, mi, s, _) = civil(t);
    match switch {
        1 => format!("_{y:04}{mo:02}{d:02}_{h:02}{mi:02}{s:02}"),
        2 => format!("_{y:04}{mo:02}{d:02}_{h:02}{mi:02}"),
        3 => format!("_{y:04}{mo:02}{d:02}_{h:02}"),
        4 => format!("_{y:04}{mo:02}{d:02}"),
        5 => format!("_{y:04}{mo:02}"),
        _ => String::new(),
    }
}

/// A hub name as a directory name: SoftEther's hub names contain no `/`,
/// `\`, control characters or `..` (`IsSafeStr`); anything else is
/// replaced, so no hub name leaves the log directory.
fn dir_name(hub: &str) -> String {
    let s: String = hub
        .chars()
        .map(|c| {
            if c.is_control() || c == '/' || c == '\\' {
                '_'
            } else {
                c
            }
        })
        .collect();
    if s.is_empty() || s == "." || s == ".." {
        "_".into()
    } else {
        s
    }
}

/// Text made one line: control characters (line breaks) escaped as in the
/// server log (`\n`, `\xNN`), cut at [`MAX_TEXT`] bytes.
fn one_line(s: &str) -> String {
    let mut out = String::with_capacity(s.len().min(MAX_TEXT));
    for c in s.chars() {
        if out.len() >= MAX_TEXT {
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c if c.is_control() || matches!(c, '\u{2028}' | '\u{2029}') => {
                out.push_str(&format!("\\x{:02x}", c as u32))
            }
            c => out.push(c),
        }
    }
    out
}

/// One frame to log.
pub struct PacketRecord {
    /// The hub.
    pub hub: Arc<str>,
    /// The hub's `PacketLogSwitchType`.
    pub switch: u32,
    /// When it passed.
    pub at: SystemTime,
    /// A copy of the frame, or of its first
    /// [`rustether_hub::packetlog::HEADER_BYTES`] without `with_data` (a
    /// copy: a shared frame could pin its sender's whole read buffer).
    pub frame: Vec<u8>,
    /// The frame's size.
    pub size: usize,
    /// Level 2: the frame's bytes too.
    pub with_data: bool,
    /// Source session name.
    pub src: Arc<str>,
    /// Destination session name ("" = broadcast).
    pub dst: Arc<str>,
    /// Physical IP of the source session ("" = none).
    pub src_ip: Arc<str>,
    /// Physical IP of the destination session.
    pub dst_ip: Arc<str>,
}

enum Record {
    Security {
        hub: String,
        switch: u32,
        at: SystemTime,
        text: String,
    },
    Packet(Box<PacketRecord>),
    Flush(std::sync::mpsc::Sender<()>),
    Retention(std::sync::mpsc::Sender<()>),
}

/// What the callers and the writer thread share.
struct Shared {
    errors: AtomicU64,
    /// The syslog setting and a generation the writer compares with the
    /// one it applied (a setting never waits for room in the queue).
    syslog: parking_lot::Mutex<(u64, Option<SyslogSetting>)>,
    /// Retention settings; the writer copies them at each use.
    retention: parking_lot::Mutex<Retention>,
    /// Files deleted by retention so far.
    deleted: AtomicU64,
}

/// The hub logs of one server: the queue and its writer thread.
pub struct Logs {
    root: Option<PathBuf>,
    tx: SyncSender<Record>,
    dropped: AtomicU64,
    shared: Arc<Shared>,
    syslog_type: AtomicU32,
}

impl std::fmt::Debug for Logs {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Logs").field("root", &self.root).finish()
    }
}

impl Logs {
    /// Starts the writer thread; files go under `root` (`None`: nothing is
    /// written, for tests). Errors: the thread cannot be started.
    pub fn start(root: Option<PathBuf>) -> std::io::Result<Arc<Logs>> {
        let (tx, rx) = sync_channel(QUEUE_RECORDS);
        let shared = Arc::new(Shared {
            errors: AtomicU64::new(0),
            syslog: parking_lot::Mutex::new((0, None)),
            retention: parking_lot::Mutex::new(Retention::default()),
            deleted: AtomicU64::new(0),
        });
        let w = WriterThread {
            root: root.clone(),
            rx,
            files: HashMap::new(),
            shared: shared.clone(),
            syslog_gen: 0,
            last_report: None,
            last_retention: None,
            low_disk_reported: false,
            syslog: None,
            host: crate::hostaddr::host_name().unwrap_or_else(|| "localhost".into()),
        };
        std::thread::Builder::new()
            .name("hub-logs".into())
            .spawn(move || w.run())?;
        Ok(Arc::new(Logs {
            root,
            tx,
            dropped: AtomicU64::new(0),
            shared,
            syslog_type: AtomicU32::new(0),
        }))
    }

    /// The directory the `server_log`, `security_log` and `packet_log`
    /// directories are in.
    pub fn root(&self) -> Option<&Path> {
        self.root.as_deref()
    }

    /// Records dropped because the queue was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Sets the retention (split size, free-space eraser, age and size
    /// limits; [`crate::logretention`]); the writer applies it from its next
    /// write and check.
    pub fn set_retention(&self, r: Retention) {
        *self.shared.retention.lock() = r;
    }

    /// Log files deleted by retention so far.
    pub fn deleted_files(&self) -> u64 {
        self.shared.deleted.load(Ordering::Relaxed)
    }

    /// Runs the retention checks now (normally every
    /// `AutoDeleteCheckIntervalSecs`) and waits (at most `limit`) until
    /// they are done; whether they were.
    pub fn check_retention(&self, limit: Duration) -> bool {
        let (tx, rx) = std::sync::mpsc::channel();
        if self.tx.send(Record::Retention(tx)).is_err() {
            return false;
        }
        rx.recv_timeout(limit).is_ok()
    }

    /// Failed file writes (full disk, permissions…).
    pub fn write_errors(&self) -> u64 {
        self.shared.errors.load(Ordering::Relaxed)
    }

    fn put(&self, r: Record) {
        match self.tx.try_send(r) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.dropped.fetch_add(1, Ordering::Relaxed);
            }
        }
    }

    /// Writes `text` to the security log of `hub` if `setting` saves it
    /// (`WriteHubLog`); to syslog instead when its save type is 2 or 3.
    pub fn security(&self, hub: &str, setting: &HubLogSetting, text: &str) {
        if !setting.save_security_log {
            return;
        }
        self.put(Record::Security {
            hub: hub.to_owned(),
            switch: setting.security_log_switch_type,
            at: SystemTime::now(),
            text: one_line(text),
        });
    }

    /// Queues a frame for the packet log; never waits.
    pub fn packet(&self, r: PacketRecord) {
        self.put(Record::Packet(Box::new(r)));
    }

    /// Applies a syslog setting (`SiSetSysLogSetting`): save type 0, or no
    /// host or port, is off.
    pub fn set_syslog(&self, s: &SyslogSetting) {
        let on = s.save_type != 0 && !s.host_name.is_empty() && s.port != 0;
        self.syslog_type
            .store(if on { s.save_type } else { 0 }, Ordering::Relaxed);
        let mut cur = self.shared.syslog.lock();
        if cur.1.as_ref() != Some(s) {
            *cur = (cur.0 + 1, Some(s.clone()));
        }
    }

    /// The syslog save type in force (0 off).
    pub fn syslog_type(&self) -> u32 {
        self.syslog_type.load(Ordering::Relaxed)
    }

    /// Waits (at most `limit`) until everything queued before is written
    /// and flushed; whether it was.
    pub fn flush(&self, limit: Duration) -> bool {
        let (tx, rx) = std::sync::mpsc::channel();
        if self.tx.send(Record::Flush(tx)).is_err() {
            return false;
        }
        rx.recv_timeout(limit).is_ok()
    }
}

struct OpenFile {
    /// The name without number and `.log` (directory, prefix, date part).
    base: PathBuf,
    /// Its number (`LoggerMaxLogSize` splits), 0 = none.
    num: u32,
    path: PathBuf,
    /// Bytes in the file (at open plus written since).
    len: u64,
    w: BufWriter<File>,
}

struct WriterThread {
    root: Option<PathBuf>,
    rx: Receiver<Record>,
    /// Open file per (packet?, hub).
    files: HashMap<(bool, String), OpenFile>,
    shared: Arc<Shared>,
    /// Generation of the syslog setting applied.
    syslog_gen: u64,
    last_report: Option<Instant>,
    /// When retention last ran.
    last_retention: Option<Instant>,
    /// "Not enough free space" was reported since space was last enough.
    low_disk_reported: bool,
    syslog: Option<(UdpSocket, std::net::SocketAddr, u32)>,
    host: String,
}

impl WriterThread {
    fn run(mut self) {
        loop {
            match self.rx.recv_timeout(Duration::from_millis(500)) {
                Ok(r) => {
                    self.handle(r);
                    // Drain what is there, then flush once.
                    while let Ok(r) = self.rx.try_recv() {
                        self.handle(r);
                    }
                    self.flush_all();
                }
                Err(RecvTimeoutError::Timeout) => self.flush_all(),
                Err(RecvTimeoutError::Disconnected) => {
                    self.flush_all();
                    return;
                }
            }
            // After the first wait, not before: the server sets the
            // retention right after start.
            let interval = self.shared.retention.lock().check_interval;
            if self.last_retention.is_none_or(|t| t.elapsed() >= interval) {
                self.last_retention = Some(Instant::now());
                self.enforce_retention();
            }
        }
    }

    fn handle(&mut self, r: Record) {
        let wanted = {
            let cur = self.shared.syslog.lock();
            (cur.0 != self.syslog_gen).then(|| (cur.0, cur.1.clone()))
        };
        if let Some((generation, s)) = wanted {
            self.syslog_gen = generation;
            self.configure_syslog(&s.unwrap_or_default());
        }
        match r {
            Record::Security {
                hub,
                switch,
                at,
                text,
            } => {
                if let Some(sys) = self.syslog_on(2) {
                    let msg = self.syslog_line(&hub, "SECURITY_LOG", &text, at);
                    let _ = sys.0.send_to(msg.as_bytes(), sys.1);
                    return;
                }
                let (d, t) = date_time(at);
                let line = format!("{d} {t} {text}\r\n");
                self.write(false, &hub, switch, at, line.as_bytes());
            }
            Record::Packet(p) => {
                let csv = rustether_hub::packetlog::line(
                    &p.frame,
                    p.size,
                    &p.src,
                    &p.dst,
                    p.with_data,
                    &p.src_ip,
                    &p.dst_ip,
                );
                if let Some(sys) = self.syslog_on(3) {
                    let msg = self.syslog_line(&p.hub, "PACKET_LOG", &csv, p.at);
                    let _ = sys.0.send_to(msg.as_bytes(), sys.1);
                    return;
                }
                let (d, t) = date_time(p.at);
                let line = format!("{d},{t},{csv}\r\n");
                self.write(true, &p.hub, p.switch, p.at, line.as_bytes());
            }
            Record::Flush(done) => {
                self.flush_all();
                let _ = done.send(());
            }
            Record::Retention(done) => {
                self.flush_all();
                self.last_retention = Some(Instant::now());
                self.enforce_retention();
                let _ = done.send(());
            }
        }
    }

    fn syslog_on(&self, min: u32) -> Option<&(UdpSocket, std::net::SocketAddr, u32)> {
        self.syslog.as_ref().filter(|s| s.2 >= min)
    }

    /// `SiWriteSysLog`: `[host/VPN/HUB] (date time) <TYPE>: text`, cut
    /// at [`MAX_SYSLOG`] bytes.
    fn syslog_line(&self, hub: &str, kind: &str, text: &str, at: SystemTime) -> String {
        let (d, t) = date_time(at);
        let mut s = format!("[{}/VPN/{hub}] ({d} {t}) <{kind}>: {text}", self.host);
        if s.len() > MAX_SYSLOG {
            let mut cut = MAX_SYSLOG;
            while !s.is_char_boundary(cut) {
                cut -= 1;
            }
            s.truncate(cut);
        }
        s
    }

    fn configure_syslog(&mut self, s: &SyslogSetting) {
        self.syslog = None;
        if s.save_type == 0 || s.host_name.is_empty() || s.port == 0 || s.port > 65535 {
            return;
        }
        // One resolution per setting (SoftEther re-resolves periodically).
        let dest = (s.host_name.as_str(), s.port as u16)
            .to_socket_addrs()
            .ok()
            .and_then(|mut a| a.next());
        let Some(dest) = dest else {
            tracing::warn!(host = %s.host_name, "syslog server name does not resolve; syslog off");
            return;
        };
        let bind = if dest.is_ipv4() {
            "0.0.0.0:0"
        } else {
            "[::]:0"
        };
        match UdpSocket::bind(bind) {
            Ok(sock) => {
                let _ = sock.set_nonblocking(true);
                self.syslog = Some((sock, dest, s.save_type));
            }
            Err(e) => tracing::warn!("syslog socket: {e}"),
        }
    }

    fn write(&mut self, packet: bool, hub: &str, switch: u32, at: SystemTime, line: &[u8]) {
        let Some(root) = &self.root else {
            return;
        };
        let (dir, prefix) = if packet {
            (PACKET_LOG_DIR, "pkt")
        } else {
            (SECURITY_LOG_DIR, "sec")
        };
        let hub_dir = root.join(dir).join(dir_name(hub));
        let base = hub_dir.join(format!("{prefix}{}", file_date(at, switch)));
        let max = self.shared.retention.lock().max_file_size;
        let key = (packet, hub.to_owned());
        let add = line.len() as u64;
        // The file and number to write to: a new period continues the
        // highest existing number (`LogThreadWriteGeneral`).
        let (num, reopen) = match self.files.get(&key) {
            Some(f) if f.base == base => match logretention::append(f.len, add, max) {
                Append::Here => (f.num, false),
                Append::NextFile if f.num < logretention::MAX_FILE_NUMBER => (f.num + 1, true),
                Append::NextFile => (f.num, false),
                Append::Drop => return,
            },
            _ => {
                if add > max {
                    return;
                }
                // The highest existing file may be full already.
                let mut n = highest_number(&base, max);
                let len = std::fs::metadata(numbered(&base, n, max)).map_or(0, |m| m.len());
                if logretention::append(len, add, max) == Append::NextFile
                    && n < logretention::MAX_FILE_NUMBER
                {
                    n += 1;
                }
                (n, true)
            }
        };
        if reopen {
            if let Some(mut old) = self.files.remove(&key) {
                let _ = old.w.flush();
            }
            let path = numbered(&base, num, max);
            let opened = std::fs::create_dir_all(&hub_dir).and_then(|()| {
                std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(&path)
            });
            match opened {
                Ok(f) => {
                    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
                    self.files.insert(
                        key.clone(),
                        OpenFile {
                            base,
                            num,
                            path,
                            len,
                            w: BufWriter::with_capacity(64 * 1024, f),
                        },
                    );
                }
                Err(e) => return self.failed(&path, &e),
            }
        }
        if let Some(f) = self.files.get_mut(&key) {
            if let Err(e) = f.w.write_all(line) {
                let p = f.path.clone();
                self.files.remove(&key);
                self.failed(&p, &e);
            } else {
                f.len += add;
            }
        }
    }

    /// Retention (module docs): age and size per hub directory, then the
    /// free-space eraser. Deletions are reported in the server log.
    fn enforce_retention(&mut self) {
        let Some(root) = self.root.clone() else {
            return;
        };
        let r = *self.shared.retention.lock();
        let open: Vec<PathBuf> = self.files.values().map(|f| f.path.clone()).collect();
        let now = SystemTime::now();
        for dir in [SECURITY_LOG_DIR, PACKET_LOG_DIR] {
            for hub_dir in sub_dirs(&root.join(dir)) {
                let files = log_files(&hub_dir, |n| n.ends_with(".log"));
                for i in logretention::expired(&files, now, &r) {
                    let p = &files[i].path;
                    if !open.contains(p) && std::fs::remove_file(p).is_ok() {
                        self.shared.deleted.fetch_add(1, Ordering::Relaxed);
                        tracing::info!(
                            "deleted old log file {} (LogRetentionDays / LogMaxTotalSize)",
                            p.display()
                        );
                    }
                }
            }
        }
        self.erase_for_free_space(&root, &r, &open);
    }

    /// SoftEther's eraser (`EraserMain`): below `min_free_bytes` of free
    /// space, deletes the oldest files, checking again after each.
    fn erase_for_free_space(&mut self, root: &Path, r: &Retention, open: &[PathBuf]) {
        let Some(free) = free_bytes(root) else {
            return;
        };
        if free >= r.min_free_bytes {
            self.low_disk_reported = false;
            return;
        }
        let mut files = Vec::new();
        let mut dir_index = 0;
        for d in logretention::ERASE_DIRS {
            let top = root.join(d);
            for dir in std::iter::once(top.clone()).chain(sub_dirs(&top)) {
                for f in log_files(&dir, logretention::erasable) {
                    files.push((dir_index, f));
                }
                dir_index += 1;
            }
        }
        let mut enough = false;
        for i in logretention::erase(&files, free, r.min_free_bytes) {
            let p = &files[i].1.path;
            if open.contains(p) {
                continue;
            }
            if std::fs::remove_file(p).is_ok() {
                self.shared.deleted.fetch_add(1, Ordering::Relaxed);
                // LE_DELETE
                tracing::warn!(
                    "Because the free disk space was less than {} bytes, the log file '{}' was deleted.",
                    r.min_free_bytes,
                    p.display()
                );
            }
            if free_bytes(root).is_some_and(|f| f >= r.min_free_bytes) {
                enough = true;
                break;
            }
        }
        if !enough && !self.low_disk_reported {
            // LE_NOT_ENOUGH_FREE
            tracing::error!(
                "The free disk space is less than {} bytes, but no more log files can be deleted.",
                r.min_free_bytes
            );
        }
        self.low_disk_reported = !enough;
    }

    fn flush_all(&mut self) {
        let mut bad = Vec::new();
        for (k, f) in &mut self.files {
            if let Err(e) = f.w.flush() {
                bad.push((k.clone(), f.path.clone(), e));
            }
        }
        for (k, p, e) in bad {
            self.files.remove(&k);
            self.failed(&p, &e);
        }
    }

    fn failed(&mut self, path: &Path, e: &std::io::Error) {
        self.shared.errors.fetch_add(1, Ordering::Relaxed);
        let due = self
            .last_report
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(60));
        if due {
            self.last_report = Some(Instant::now());
            tracing::error!(
                "cannot write log file {}: {e} ({} write errors so far; log lines are lost, the hub is not slowed)",
                path.display(),
                self.shared.errors.load(Ordering::Relaxed)
            );
        }
    }
}

/// `<base><number>.log` ([`logretention::number_suffix`]).
fn numbered(base: &Path, num: u32, max: u64) -> PathBuf {
    let mut s = base.as_os_str().to_owned();
    s.push(logretention::number_suffix(num, max));
    s.push(".log");
    PathBuf::from(s)
}

/// The highest number of an existing `<base>…log` file (probed upwards
/// from 0 as SoftEther does, at most [`logretention::MAX_FILE_NUMBER`]).
fn highest_number(base: &Path, max: u64) -> u32 {
    let mut last = 0;
    for i in 1..=logretention::MAX_FILE_NUMBER {
        if !numbered(base, i, max).exists() {
            break;
        }
        last = i;
    }
    last
}

/// Directories directly in `dir` (not symbolic links).
fn sub_dirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect()
}

/// Regular files directly in `dir` (not symbolic links) whose names pass `ok`.
fn log_files(dir: &Path, ok: impl Fn(&str) -> bool) -> Vec<logretention::LogFile> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    rd.flatten()
        .filter_map(|e| {
            let name = e.file_name().into_string().ok()?;
            let md = std::fs::symlink_metadata(e.path()).ok()?;
            (md.is_file() && ok(&name)).then(|| logretention::LogFile {
                path: e.path(),
                size: md.len(),
                modified: md.modified().unwrap_or(UNIX_EPOCH),
            })
        })
        .collect()
}

/// Bytes available to unprivileged users on the file system of `dir`
/// (`GetDiskFree`); `None` if it cannot be read (then nothing is erased).
// `fsblkcnt_t` and `c_ulong` are narrower than u64 on 32-bit targets.
#[cfg(unix)]
#[allow(clippy::useless_conversion)]
fn free_bytes(dir: &Path) -> Option<u64> {
    let st = nix::sys::statvfs::statvfs(dir).ok()?;
    Some(u64::from(st.blocks_available()).saturating_mul(u64::from(st.fragment_size())))
}

/// Not read on this platform: the low-disk eraser stays idle.
#[cfg(not(unix))]
fn free_bytes(_dir: &Path) -> Option<u64> {
    None
}

/// A log file listed for `EnumLogFile`: (path relative to the root with
/// `/`, size, modification time).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFile {
    /// E.g. `security_log/HUB/sec_20261203.log`.
    pub path: String,
    /// Bytes.
    pub size: u64,
    /// Last modification.
    pub modified: SystemTime,
}

/// The `*.log` files of `root` (`EnumLogFile`): `server_log/` (when `hub`
/// is `None`), and `security_log/<hub>/`, `packet_log/<hub>/` of every hub
/// or only of `hub` (matched case-insensitively). Only regular files
/// directly in those directories whose names are plain (no `/`, `..`,
/// control characters) are listed; symbolic links are not followed.
pub fn list_files(root: &Path, hub: Option<&str>) -> Vec<LogFile> {
    let mut out = Vec::new();
    let plain = |n: &str| {
        !n.is_empty()
            && n != "."
            && n != ".."
            && !n.contains(['/', '\\'])
            && !n.chars().any(char::is_control)
    };
    let mut scan = |rel: String| {
        let Ok(rd) = std::fs::read_dir(root.join(&rel)) else {
            return;
        };
        for e in rd.flatten() {
            let Ok(name) = e.file_name().into_string() else {
                continue;
            };
            let Ok(md) = std::fs::symlink_metadata(e.path()) else {
                continue;
            };
            if md.is_file() && name.ends_with(".log") && plain(&name) {
                out.push(LogFile {
                    path: format!("{rel}/{name}"),
                    size: md.len(),
                    modified: md.modified().unwrap_or(UNIX_EPOCH),
                });
            }
        }
    };
    if hub.is_none() {
        scan(SERVER_LOG_DIR.to_owned());
    }
    for dir in [PACKET_LOG_DIR, SECURITY_LOG_DIR] {
        let Ok(rd) = std::fs::read_dir(root.join(dir)) else {
            continue;
        };
        let mut hubs: Vec<String> = rd
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| plain(n))
            .filter(|n| hub.is_none_or(|h| n.eq_ignore_ascii_case(&dir_name(h))))
            .collect();
        hubs.sort();
        for h in hubs {
            scan(format!("{dir}/{h}"));
        }
    }
    out.sort_by(|a, b| a.path.cmp(&b.path));
    out
}

/// At most `max` bytes of `root/rel` from `offset`; `None` at or past the
/// end or if the file cannot be read (`SiReadLocalLogFile`). `rel` must be
/// a path [`list_files`] returned.
pub fn read_chunk(root: &Path, rel: &str, offset: u64, max: usize) -> Option<Vec<u8>> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = File::open(root.join(rel)).ok()?;
    let len = f.metadata().ok()?.len();
    if offset >= len {
        return None;
    }
    let n = (len - offset).min(max as u64) as usize;
    f.seek(SeekFrom::Start(offset)).ok()?;
    let mut buf = vec![0u8; n];
    let mut got = 0;
    while got < n {
        match f.read(&mut buf[got..]) {
            Ok(0) => break,
            Ok(k) => got += k,
            Err(_) => return None,
        }
    }
    buf.truncate(got);
    (!buf.is_empty()).then_some(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn civil_dates() {
        let t = UNIX_EPOCH + Duration::from_millis(1_796_300_000_123);
        assert_eq!(file_date(t, 4), "_20261203");
        assert_eq!(file_date(t, 5), "_202612");
        assert_eq!(file_date(t, 0), "");
        let (d, tm) = date_time(t);
        assert_eq!(d, "2026-12-03");
        assert!(tm.ends_with(".123"), "{tm}");
        assert_eq!(
            file_date(UNIX_EPOCH + Duration::from_secs(951_782_400), 4),
            "_20000229"
        );
    }

    #[test]
    fn security_and_packet_lines_land_in_softether_places() {
        let d = tempfile::tempdir().unwrap();
        let logs = Logs::start(Some(d.path().to_path_buf())).unwrap();
        let s = HubLogSetting::softether_default();
        logs.security(
            "HUB1",
            &s,
            "Connection \"CID-1\": forged\n2026-01-01 00:00:00.000 x",
        );
        let mut f = vec![0u8; 12];
        f.extend_from_slice(&[0x08, 0x06]);
        f.extend_from_slice(&[0u8; 28]);
        logs.packet(PacketRecord {
            hub: "HUB1".into(),
            switch: 4,
            at: SystemTime::now(),
            size: f.len(),
            frame: f,
            with_data: false,
            src: "SID-A-1".into(),
            dst: "".into(),
            src_ip: "".into(),
            dst_ip: "".into(),
        });
        assert!(logs.flush(Duration::from_secs(10)));
        let files = list_files(d.path(), None);
        assert_eq!(files.len(), 2, "{files:?}");
        assert!(
            files[0].path.starts_with("packet_log/HUB1/pkt_2"),
            "{files:?}"
        );
        assert!(
            files[1].path.starts_with("security_log/HUB1/sec_2"),
            "{files:?}"
        );
        let sec = std::fs::read_to_string(d.path().join(&files[1].path)).unwrap();
        assert_eq!(sec.matches("\r\n").count(), 1, "{sec:?}");
        assert!(
            sec.contains("Connection \"CID-1\": forged\\n2026"),
            "{sec:?}"
        );
        let pkt = read_chunk(d.path(), &files[0].path, 0, 1 << 20).unwrap();
        let pkt = String::from_utf8(pkt).unwrap();
        assert!(
            pkt.contains(",SID-A-1,-,000000000000,000000000000,0x0806,42,ARPv4,"),
            "{pkt}"
        );
        assert_eq!(list_files(d.path(), Some("hub1")).len(), 2);
        assert!(list_files(d.path(), Some("OTHER")).is_empty());
        // Chunks: offset past the end is the end.
        let len = files[1].size;
        assert_eq!(read_chunk(d.path(), &files[1].path, 5, 3).unwrap().len(), 3);
        assert!(read_chunk(d.path(), &files[1].path, len, 3).is_none());
        assert_eq!(logs.dropped(), 0);
    }

    #[test]
    fn unwritable_root_is_counted_not_blocking() {
        let d = tempfile::tempdir().unwrap();
        let file = d.path().join("not-a-dir");
        std::fs::write(&file, b"x").unwrap();
        let logs = Logs::start(Some(file)).unwrap();
        let s = HubLogSetting::softether_default();
        for _ in 0..3 {
            logs.security("H", &s, "x");
        }
        assert!(logs.flush(Duration::from_secs(10)));
        assert!(logs.write_errors() >= 1);
    }

    /// A file of `size` bytes at `dir/name`, last modified `days_ago` days ago.
    fn old_file(dir: &Path, name: &str, size: usize, days_ago: u64) -> PathBuf {
        std::fs::create_dir_all(dir).unwrap();
        let p = dir.join(name);
        std::fs::write(&p, vec![b'x'; size]).unwrap();
        let f = std::fs::File::options().write(true).open(&p).unwrap();
        f.set_modified(SystemTime::now() - Duration::from_secs(days_ago * 86_400))
            .unwrap();
        p
    }

    #[test]
    fn retention_deletes_the_right_old_files() {
        let d = tempfile::tempdir().unwrap();
        let sec = d.path().join("security_log/HUB1");
        let pkt = d.path().join("packet_log/HUB2");
        let a_old = old_file(&sec, "sec_20250101.log", 10, 400);
        let a_mid = old_file(&sec, "sec_20261101.log", 10, 30);
        let a_new = old_file(&sec, "sec_20261202.log", 10, 1);
        let ancient = old_file(&pkt, "pkt_20240101.log", 10, 900);
        let other = old_file(&pkt, "notes.txt", 10, 900);
        let logs = Logs::start(Some(d.path().to_path_buf())).unwrap();
        // 90 days (the default), no size limit; the disk is not full
        logs.set_retention(Retention::new(0, 1, 0, 90, 0));
        assert!(logs.check_retention(Duration::from_secs(10)));
        assert!(!a_old.exists());
        assert!(a_mid.exists() && a_new.exists());
        // the newest (only) log file of a directory stays, however old
        assert!(ancient.exists());
        assert!(other.exists(), "only *.log files are touched");
        // 15 bytes per directory: the oldest goes until it fits
        logs.set_retention(Retention::new(0, 1, 0, 0, 15));
        assert!(logs.check_retention(Duration::from_secs(10)));
        assert!(!a_mid.exists() && a_new.exists());
        assert_eq!(logs.deleted_files(), 2);
        // The eraser: more free space asked for than the disk has deletes
        // every erasable file but the newest of each directory.
        let srv = d.path().join("server_log");
        let s_old = old_file(&srv, "vpn_20261101.log", 10, 30);
        let s_new = old_file(&srv, "vpn_20261203.log", 10, 0);
        let p_old = old_file(&pkt, "pkt_20250101.log", 10, 300);
        logs.set_retention(Retention::new(0, u64::MAX, 0, 0, 0));
        assert!(logs.check_retention(Duration::from_secs(10)));
        assert!(!s_old.exists() && !ancient.exists());
        assert!(s_new.exists() && a_new.exists() && p_old.exists());
        assert!(other.exists(), "only *.log, *.config and *.old files");
    }

    #[test]
    fn files_split_at_logger_max_log_size() {
        let d = tempfile::tempdir().unwrap();
        let logs = Logs::start(Some(d.path().to_path_buf())).unwrap();
        logs.set_retention(Retention::new(100, 1, 0, 0, 0));
        let mut s = HubLogSetting::softether_default();
        s.security_log_switch_type = 0;
        // each line: "YYYY-MM-DD HH:MM:SS.mmm " (24) + 30 + CRLF = 56 bytes
        for _ in 0..5 {
            logs.security("H", &s, &"y".repeat(30));
        }
        // longer than a file may be: dropped
        logs.security("H", &s, &"z".repeat(200));
        assert!(logs.flush(Duration::from_secs(10)));
        let dir = d.path().join("security_log/H");
        let mut names: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .flatten()
            .map(|e| e.file_name().into_string().unwrap())
            .collect();
        names.sort();
        // SoftEther's width for a 100-byte limit is 2 digits
        assert_eq!(
            names,
            [
                "sec.log",
                "sec~01.log",
                "sec~02.log",
                "sec~03.log",
                "sec~04.log"
            ]
        );
        for n in &names {
            let len = std::fs::metadata(dir.join(n)).unwrap().len();
            assert!(len <= 100, "{n}: {len}");
        }
        // a new writer continues the highest number
        drop(logs);
        let logs = Logs::start(Some(d.path().to_path_buf())).unwrap();
        logs.set_retention(Retention::new(100, 1, 0, 0, 0));
        logs.security("H", &s, "again");
        assert!(logs.flush(Duration::from_secs(10)));
        let t = std::fs::read_to_string(dir.join("sec~04.log")).unwrap();
        assert!(t.contains("again"), "{t}");
        assert!(!dir.join("sec~05.log").exists());
    }

    #[test]
    fn hub_names_stay_inside_the_log_directory() {
        assert_eq!(dir_name("../../etc"), ".._.._etc");
        assert_eq!(dir_name(".."), "_");
        assert_eq!(dir_name("a\nb"), "a_b");
    }
}

/// Security log texts of logins, in SoftEther's English wording
/// (`LH_*` of src/bin/hamcore/strtable_en.stb, written by `ServerAccept`
/// in src/Cedar/Protocol.c).
pub mod text {
    use rustether_proto::ErrorCode;
    use std::net::IpAddr;

    /// `LH_AUTH_OK`.
    pub fn auth_ok(conn: &str, user: &str) -> String {
        format!("Connection \"{conn}\": Successfully authenticated as user \"{user}\".")
    }

    /// `LH_NEW_SESSION`; `protocol` as SoftEther names it
    /// (`Standard TCP/IP (IPv4)`, `OpenVPN (UDP)`…).
    pub fn new_session(conn: &str, session: &str, ip: IpAddr, port: u16, protocol: &str) -> String {
        format!(
            "Connection \"{conn}\": The new session \"{session}\" has been created. (IP address: {ip}, Port number: {port}, Physical underlying protocol: \"{protocol}\")"
        )
    }

    /// The refusal of a login with `code` (`LH_AUTH_NG`,
    /// `LH_POLICY_ACCESS_NG`, `LH_POLICY_MONITOR_MODE`,
    /// `LH_POLICY_BRIDGE_MODE`, `LH_LOCAL_ONLY`; other codes, which
    /// SoftEther words with numbers we do not keep, name the error).
    pub fn login_refused(code: ErrorCode, conn: &str, user: &str, peer: IpAddr) -> String {
        if code == ErrorCode::AUTH_FAILED {
            format!("Connection \"{conn}\": User authentication failed. The user name that has been provided was \"{user}\", from {peer}.")
        } else if code == ErrorCode::ACCESS_DENIED {
            format!("Connection \"{conn}\": Access has been refused to user \"{user}\" based on the security policy.")
        } else if code == ErrorCode::MONITOR_MODE_DENIED {
            format!("Connection \"{conn}\": Because of a user whose security policy denies permission for Monitoring Mode requested that Monitoring Mode be enabled and attempted to connect to a Virtual Hub, the connection has been denied.")
        } else if code == ErrorCode::BRIDGE_MODE_DENIED {
            format!("Connection \"{conn}\": Because of a user whose security policy denies both bridge connections and routing operations requested that bridge connections or routing operations be enabled and attempted to connect to the Virtual Hub, the connection has been denied.")
        } else if code == ErrorCode::NULL_PASSWORD_LOCAL_ONLY {
            format!("Connection \"{conn}\": The remote login has been refused because of the password for user \"{user}\" is blank.")
        } else {
            format!(
                "Connection \"{conn}\": The login of user \"{user}\" from {peer} has been refused: {} (error {}).",
                code.message(),
                code.0
            )
        }
    }
}
