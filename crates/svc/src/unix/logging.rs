//! Log output: stderr in the foreground, and in the daemon a daily file
//! `<log dir>/vpn_YYYYMMDD.log` (SoftEther's server log name, local date;
//! lines start with SoftEther's local `YYYY-MM-DD HH:MM:SS.mmm`),
//! shared by supervisor and worker. Each event is written with one
//! `write(2)` on an `O_APPEND` descriptor, so lines of the two processes
//! never interleave. No background thread: safe in the single-threaded
//! supervisor.
//!
//! Every event passes [`Escaping`], the one place where text from the
//! network (user, hub and host names, …) is made harmless: line breaks and
//! other control characters inside an event are written as `\n`, `\r`,
//! `\xNN`, `\u{NNNN}`, so no input can forge a log line (issue 9 item 6).
//! Old daily files are deleted by age and total size ([`Retention`]).

use std::fs::{File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use tracing_subscriber::fmt::writer::MakeWriterExt;
use tracing_subscriber::fmt::MakeWriter;
use tracing_subscriber::EnvFilter;

fn filter(level: Option<&str>) -> EnvFilter {
    match level {
        Some(l) => EnvFilter::try_new(l).unwrap_or_else(|_| EnvFilter::new("info")),
        None => EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new("info")),
    }
}

/// Logs to stderr (foreground mode).
pub(crate) fn init_stderr(level: Option<&str>) {
    use std::io::IsTerminal;
    // Colour codes only for a person at a terminal, not in files or journals.
    let ansi = io::stderr().is_terminal();
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(level))
        .with_timer(SoftEtherTime::new())
        .with_ansi(ansi)
        .with_writer(Escaping {
            inner: io::stderr,
            keep_esc: ansi,
        })
        .try_init();
}

/// Logs to the daily file in `dir` (created, mode 0700); also to stderr when
/// `also_stderr` (under systemd, where stderr is the journal). Old files
/// are deleted as `retention` says when a day's file is opened.
pub(crate) fn init_file(level: Option<&str>, dir: &Path, also_stderr: bool, retention: Retention) {
    use std::os::unix::fs::DirBuilderExt;
    let _ = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir);
    let daily = DailyFile {
        dir: dir.to_path_buf(),
        current: Mutex::new(None),
        retention,
    };
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter(level))
        .with_timer(SoftEtherTime::new())
        .with_ansi(false);
    let _ = if also_stderr {
        b.with_writer(Escaping {
            inner: daily.and(io::stderr),
            keep_esc: false,
        })
        .try_init()
    } else {
        b.with_writer(Escaping {
            inner: daily,
            keep_esc: false,
        })
        .try_init()
    };
}

/// How long and how much of the daily log files is kept
/// (`ServerConfiguration/LogRetentionDays`, `LogMaxTotalSize`,
/// docs/config-format.md §7.6).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Retention {
    /// Files last written more than this many days ago are deleted; 0 =
    /// no age limit.
    pub max_age_days: u32,
    /// The oldest files are deleted while all `vpn_*.log` files together
    /// exceed this many bytes; 0 = no size limit. Today's file is never
    /// deleted, so it alone may exceed the limit until the next day.
    pub max_total_bytes: u64,
}

impl Retention {
    /// The retention the configuration of `ctx` asks for (its defaults when
    /// it cannot be read).
    pub(crate) fn configured(ctx: &super::Ctx) -> Retention {
        let (days, bytes) = match crate::config::load(ctx.edition, &ctx.paths.state_dir) {
            Ok(c) => (c.log_retention_days, c.log_max_total_size),
            Err(_) => (
                rustether_config::model::DEFAULT_LOG_RETENTION_DAYS,
                rustether_config::model::DEFAULT_LOG_MAX_TOTAL_SIZE,
            ),
        };
        Retention {
            max_age_days: days,
            max_total_bytes: bytes,
        }
    }

    /// Nothing is deleted.
    #[cfg(test)]
    pub(crate) const KEEP_ALL: Retention = Retention {
        max_age_days: 0,
        max_total_bytes: 0,
    };
}

/// Deletes old `vpn_YYYYMMDD.log` files of `dir` as `r` says, except
/// `keep` (today's); returns how many were deleted. Errors are ignored (a
/// file another process deleted first, a file we may not delete).
pub(crate) fn prune(dir: &Path, keep: &str, r: Retention) -> usize {
    use rustether_server::logretention::{expired_in_order, LogFile};
    let Ok(rd) = std::fs::read_dir(dir) else {
        return 0;
    };
    let mut files: Vec<LogFile> = rd
        .filter_map(|e| {
            let e = e.ok()?;
            let name = e.file_name().into_string().ok()?;
            let is_log = name.len() == 16
                && name.starts_with("vpn_")
                && name.ends_with(".log")
                && name[4..12].bytes().all(|b| b.is_ascii_digit());
            let md = e.metadata().ok()?;
            let modified = md.modified().ok()?;
            (is_log && md.is_file()).then(|| LogFile {
                path: e.path(),
                size: md.len(),
                modified,
            })
        })
        .collect();
    // Oldest first: the date is in the name.
    files.sort_by(|a, b| a.path.cmp(&b.path));
    let order: Vec<usize> = (0..files.len()).collect();
    let keep = files
        .iter()
        .position(|f| f.path.file_name().is_some_and(|n| n == keep));
    let max_age = (r.max_age_days > 0)
        .then(|| std::time::Duration::from_secs(u64::from(r.max_age_days) * 86_400));
    let now = std::time::SystemTime::now();
    expired_in_order(&files, &order, keep, now, max_age, r.max_total_bytes)
        .into_iter()
        .filter(|&i| std::fs::remove_file(&files[i].path).is_ok())
        .count()
}

/// A [`MakeWriter`] that escapes each event (see the module docs) and
/// hands it to `inner` in one write.
struct Escaping<M> {
    inner: M,
    /// Keep ESC (colour codes of a terminal's ANSI output).
    keep_esc: bool,
}

/// Collects one event; escapes and writes it when dropped.
struct EscapingWriter<W: Write> {
    inner: W,
    keep_esc: bool,
    buf: Vec<u8>,
}

impl<W: Write> Write for EscapingWriter<W> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<W: Write> Drop for EscapingWriter<W> {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            let out = escape_event(&self.buf, self.keep_esc);
            let _ = self.inner.write_all(&out);
        }
    }
}

impl<'a, M: MakeWriter<'a>> MakeWriter<'a> for Escaping<M> {
    type Writer = EscapingWriter<M::Writer>;
    fn make_writer(&'a self) -> Self::Writer {
        EscapingWriter {
            inner: self.inner.make_writer(),
            keep_esc: self.keep_esc,
            buf: Vec::with_capacity(256),
        }
    }
}

/// One formatted event with every line break and control character
/// escaped except the final newline (and tabs; ESC when `keep_esc`).
/// Invalid UTF-8 is replaced. Unicode line separators (U+0085, U+2028,
/// U+2029) are escaped too: some log viewers break lines there.
pub(crate) fn escape_event(event: &[u8], keep_esc: bool) -> Vec<u8> {
    use std::fmt::Write as _;
    let text = String::from_utf8_lossy(event);
    let (body, end) = match text.strip_suffix('\n') {
        Some(b) => (b, "\n"),
        None => (&*text, ""),
    };
    let mut out = String::with_capacity(body.len() + 1);
    for c in body.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push('\t'),
            '\x1b' if keep_esc => out.push(c),
            c if (c as u32) < 0x20 || c == '\x7f' => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            '\u{85}' | '\u{2028}' | '\u{2029}' => {
                let _ = write!(out, "\\u{{{:04x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push_str(end);
    out.into_bytes()
}

/// The local time now: (year, month, day, hour, minute, second,
/// millisecond, offset from UTC in seconds); the Unix epoch in UTC if the
/// C library cannot say.
fn local_now() -> (i64, i64, i64, i64, i64, i64, u32, i64) {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let t = now.as_secs() as libc::time_t;
    // SAFETY: localtime_r reads `t` and writes into the provided
    // plain-data struct.
    let tm = unsafe {
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return (1970, 1, 1, 0, 0, 0, 0, 0);
        }
        tm
    };
    (
        i64::from(tm.tm_year) + 1900,
        i64::from(tm.tm_mon) + 1,
        i64::from(tm.tm_mday),
        i64::from(tm.tm_hour),
        i64::from(tm.tm_min),
        i64::from(tm.tm_sec),
        now.subsec_millis(),
        tm.tm_gmtoff,
    )
}

/// Local date as `YYYYMMDD`.
fn today() -> String {
    let (y, m, d, ..) = local_now();
    format!("{y:04}{m:02}{d:02}")
}

/// Event times as SoftEther writes them in its server log: local
/// `2026-12-03 10:53:08.123` (`WriteRecordToBuffer`, src/Cedar/Logging.c).
/// Also hands the local offset to the hub logs
/// ([`rustether_server::hublog::set_utc_offset`]).
struct SoftEtherTime;

impl SoftEtherTime {
    fn new() -> SoftEtherTime {
        let off = local_now().7;
        rustether_server::hublog::set_utc_offset(i32::try_from(off).unwrap_or(0));
        SoftEtherTime
    }
}

impl tracing_subscriber::fmt::time::FormatTime for SoftEtherTime {
    fn format_time(&self, w: &mut tracing_subscriber::fmt::format::Writer<'_>) -> std::fmt::Result {
        let (y, mo, d, h, mi, s, ms, _) = local_now();
        write!(w, "{y:04}-{mo:02}-{d:02} {h:02}:{mi:02}:{s:02}.{ms:03}")
    }
}

/// Log file name for a date: `vpn_YYYYMMDD.log`.
pub(crate) fn file_name(date: &str) -> String {
    format!("vpn_{date}.log")
}

/// Path of today's log file in `dir`.
pub(crate) fn today_path(dir: &Path) -> PathBuf {
    dir.join(file_name(&today()))
}

struct DailyFile {
    dir: PathBuf,
    current: Mutex<Option<(String, File)>>,
    retention: Retention,
}

impl DailyFile {
    fn write_event(&self, buf: &[u8]) {
        let date = today();
        let Ok(mut cur) = self.current.lock() else {
            return;
        };
        if cur.as_ref().map(|(d, _)| d != &date).unwrap_or(true) {
            prune(&self.dir, &file_name(&date), self.retention);
            *cur = OpenOptions::new()
                .create(true)
                .append(true)
                .mode(0o600)
                .open(self.dir.join(file_name(&date)))
                .ok()
                .map(|f| (date, f));
        }
        if let Some((_, f)) = cur.as_mut() {
            let _ = f.write_all(buf);
        }
    }
}

/// Collects one event and writes it in one piece when dropped.
struct EventWriter<'a> {
    target: &'a DailyFile,
    buf: Vec<u8>,
}

impl Write for EventWriter<'_> {
    fn write(&mut self, b: &[u8]) -> io::Result<usize> {
        self.buf.extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for EventWriter<'_> {
    fn drop(&mut self) {
        if !self.buf.is_empty() {
            self.target.write_event(&self.buf);
        }
    }
}

impl<'a> MakeWriter<'a> for DailyFile {
    type Writer = EventWriter<'a>;
    fn make_writer(&'a self) -> Self::Writer {
        EventWriter {
            target: self,
            buf: Vec::with_capacity(256),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn daily_file_appends_whole_events() {
        let d = tempfile::tempdir().unwrap();
        let f = DailyFile {
            dir: d.path().to_path_buf(),
            current: Mutex::new(None),
            retention: Retention::KEEP_ALL,
        };
        {
            let mut w = f.make_writer();
            w.write_all(b"one ").unwrap();
            w.write_all(b"line\n").unwrap();
        }
        f.make_writer().write_all(b"two\n").unwrap();
        let text = std::fs::read_to_string(today_path(d.path())).unwrap();
        assert_eq!(text, "one line\ntwo\n");
        let name = today_path(d.path())
            .file_name()
            .unwrap()
            .to_string_lossy()
            .into_owned();
        assert!(
            name.starts_with("vpn_") && name.ends_with(".log") && name.len() == 16,
            "{name}"
        );
    }

    #[test]
    fn network_text_cannot_forge_lines() {
        let forged = "2026-12-03T00:00:00.000000Z  INFO admin: login ok";
        let ev = format!("WARN login refused user=bob\r\n{forged}\u{2028}x\x00\x1b[31m\n");
        let out = String::from_utf8(escape_event(ev.as_bytes(), false)).unwrap();
        assert_eq!(out.matches('\n').count(), 1, "{out:?}");
        assert!(out.ends_with('\n'));
        assert!(!out.contains('\r') && !out.contains('\x1b') && !out.contains('\u{2028}'));
        assert!(
            out.contains(&format!("user=bob\\r\\n{forged}\\u{{2028}}x\\x00\\x1b[31m")),
            "{out:?}"
        );
        // Colours of a terminal survive; tabs too; no trailing newline added.
        assert_eq!(
            escape_event(b"\x1b[2mINFO\x1b[0m\ta", true),
            b"\x1b[2mINFO\x1b[0m\ta"
        );
        let d = tempfile::tempdir().unwrap();
        let esc = Escaping {
            inner: DailyFile {
                dir: d.path().to_path_buf(),
                current: Mutex::new(None),
                retention: Retention::KEEP_ALL,
            },
            keep_esc: false,
        };
        esc.make_writer().write_all(ev.as_bytes()).unwrap();
        let text = std::fs::read_to_string(today_path(d.path())).unwrap();
        assert_eq!(text.lines().count(), 1, "{text:?}");
    }

    #[test]
    fn retention_by_age_and_total_size() {
        let d = tempfile::tempdir().unwrap();
        let day = std::time::Duration::from_secs(86_400);
        let now = std::time::SystemTime::now();
        let make = |name: &str, len: usize, age_days: u32| {
            let p = d.path().join(name);
            std::fs::write(&p, vec![b'x'; len]).unwrap();
            let f = File::options().write(true).open(&p).unwrap();
            f.set_modified(now - day * age_days).unwrap();
        };
        make("vpn_20260101.log", 100, 40);
        make("vpn_20260201.log", 100, 10);
        make("vpn_20260202.log", 100, 9);
        make("vpn_20260203.log", 100, 8);
        make("vpn_20260301.log", 500, 40); // "today": never deleted
        make("other_20260101.log", 100, 400); // not ours
        let names = || {
            let mut v: Vec<String> = std::fs::read_dir(d.path())
                .unwrap()
                .map(|e| e.unwrap().file_name().into_string().unwrap())
                .collect();
            v.sort();
            v
        };
        assert_eq!(prune(d.path(), "vpn_20260301.log", Retention::KEEP_ALL), 0);
        let age = Retention {
            max_age_days: 30,
            max_total_bytes: 0,
        };
        assert_eq!(prune(d.path(), "vpn_20260301.log", age), 1);
        assert!(!names().contains(&"vpn_20260101.log".to_owned()));
        // 800 bytes of ours; at most 650: the two oldest go.
        let size = Retention {
            max_age_days: 0,
            max_total_bytes: 650,
        };
        assert_eq!(prune(d.path(), "vpn_20260301.log", size), 2);
        assert_eq!(
            names(),
            vec!["other_20260101.log", "vpn_20260203.log", "vpn_20260301.log"]
        );
    }
}
