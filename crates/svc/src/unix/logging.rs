//! Log output: stderr in the foreground, and in the daemon a daily file
//! `<log dir>/vpn_YYYYMMDD.log` (SoftEther's server log name, local date),
//! shared by supervisor and worker. Each event is written with one
//! `write(2)` on an `O_APPEND` descriptor, so lines of the two processes
//! never interleave. No background thread: safe in the single-threaded
//! supervisor.

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
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter(level))
        .with_ansi(io::stderr().is_terminal())
        .with_writer(io::stderr)
        .try_init();
}

/// Logs to the daily file in `dir` (created, mode 0700); also to stderr when
/// `also_stderr` (under systemd, where stderr is the journal).
pub(crate) fn init_file(level: Option<&str>, dir: &Path, also_stderr: bool) {
    use std::os::unix::fs::DirBuilderExt;
    let _ = std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir);
    let daily = DailyFile {
        dir: dir.to_path_buf(),
        current: Mutex::new(None),
    };
    let b = tracing_subscriber::fmt()
        .with_env_filter(filter(level))
        .with_ansi(false);
    let _ = if also_stderr {
        b.with_writer(daily.and(io::stderr)).try_init()
    } else {
        b.with_writer(daily).try_init()
    };
}

/// Local date as `YYYYMMDD`.
fn today() -> String {
    // SAFETY: time/localtime_r write into the provided plain-data struct.
    unsafe {
        let t = libc::time(std::ptr::null_mut());
        let mut tm: libc::tm = std::mem::zeroed();
        if libc::localtime_r(&t, &mut tm).is_null() {
            return "19700101".into();
        }
        format!(
            "{:04}{:02}{:02}",
            tm.tm_year + 1900,
            tm.tm_mon + 1,
            tm.tm_mday
        )
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
}

impl DailyFile {
    fn write_event(&self, buf: &[u8]) {
        let date = today();
        let Ok(mut cur) = self.current.lock() else {
            return;
        };
        if cur.as_ref().map(|(d, _)| d != &date).unwrap_or(true) {
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
}
