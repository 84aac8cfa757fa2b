//! Messages between the processes of one instance, and the pid and status
//! files (sans-IO: encoding and parsing only).
//!
//! Readiness travels on pipes as one JSON object per line:
//! worker → supervisor (every worker start), supervisor → `start` launcher
//! (first start only). A line longer than [`MAX_LINE`] is an error.

use serde::{Deserialize, Serialize};

/// Longest accepted report line, bytes (a report is a few hundred bytes).
pub const MAX_LINE: usize = 64 * 1024;

/// A listener port that could not be opened.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FailedPort {
    /// TCP port.
    pub port: u16,
    /// OS error text, e.g. `Permission denied (os error 13)`.
    pub reason: String,
}

/// One readiness message.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Report {
    /// The worker accepts connections on `listening`; `failed` could not be
    /// opened (retried in the background by the worker).
    Ready {
        /// Listening TCP ports.
        listening: Vec<u16>,
        /// Ports that failed, with the reason.
        failed: Vec<FailedPort>,
    },
    /// Start-up failed; `message` is complete, human-readable text.
    Error {
        /// The reason, e.g. the configuration error naming file and line.
        message: String,
    },
}

impl Report {
    /// One line of JSON, `\n`-terminated.
    pub fn to_line(&self) -> String {
        // Serialising this plain enum cannot fail.
        let mut s = serde_json::to_string(self).unwrap_or_else(|_| "{}".into());
        s.push('\n');
        s
    }

    /// Parses one line (without or with its `\n`).
    pub fn parse_line(line: &[u8]) -> Result<Report, ReportError> {
        if line.len() > MAX_LINE {
            return Err(ReportError::TooLong(line.len()));
        }
        serde_json::from_slice(line.strip_suffix(b"\n").unwrap_or(line))
            .map_err(|e| ReportError::Malformed(e.to_string()))
    }
}

/// A report line that cannot be understood.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ReportError {
    /// Longer than [`MAX_LINE`].
    #[error("report line of {0} bytes is too long")]
    TooLong(usize),
    /// Not a report.
    #[error("malformed report: {0}")]
    Malformed(String),
}

/// Accumulates bytes from a pipe and yields complete lines, bounded by
/// [`MAX_LINE`].
#[derive(Debug, Default)]
pub struct LineBuffer {
    buf: Vec<u8>,
}

impl LineBuffer {
    /// Appends `data` and returns every complete line (without `\n`).
    /// Errors when a partial line grows past [`MAX_LINE`] (the buffer is then cleared).
    pub fn push(&mut self, data: &[u8]) -> Result<Vec<Vec<u8>>, ReportError> {
        self.buf.extend_from_slice(data);
        let mut lines = Vec::new();
        while let Some(pos) = self.buf.iter().position(|&b| b == b'\n') {
            let rest = self.buf.split_off(pos + 1);
            let mut line = std::mem::replace(&mut self.buf, rest);
            line.pop();
            lines.push(line);
        }
        if self.buf.len() > MAX_LINE {
            let n = self.buf.len();
            self.buf.clear();
            return Err(ReportError::TooLong(n));
        }
        Ok(lines)
    }
}

/// Role of a process named in the pid file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// The `execsvc` supervisor (watchdog).
    Supervisor,
    /// The worker (`execsvc` child, or the `start --foreground` process).
    Worker,
}

/// A process named in the pid file. `starttime` is field 22 of
/// `/proc/<pid>/stat` (clock ticks after boot) and tells a live process from
/// a later one that reuses the pid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ProcEntry {
    /// Which process.
    pub role: Role,
    /// Process id.
    pub pid: u32,
    /// Start time, clock ticks since boot.
    pub starttime: u64,
}

/// Formats the pid file: one line `supervisor|worker <pid> <starttime>` each.
pub fn format_pid_file(entries: &[ProcEntry]) -> String {
    entries
        .iter()
        .map(|e| {
            let r = match e.role {
                Role::Supervisor => "supervisor",
                Role::Worker => "worker",
            };
            format!("{r} {} {}\n", e.pid, e.starttime)
        })
        .collect()
}

/// Parses a pid file; unknown or malformed lines are skipped, at most 16 lines read.
pub fn parse_pid_file(text: &str) -> Vec<ProcEntry> {
    text.lines()
        .take(16)
        .filter_map(|l| {
            let mut it = l.split_whitespace();
            let role = match it.next()? {
                "supervisor" => Role::Supervisor,
                "worker" => Role::Worker,
                _ => return None,
            };
            let pid: u32 = it.next()?.parse().ok()?;
            let starttime: u64 = it.next()?.parse().ok()?;
            (pid > 1).then_some(ProcEntry {
                role,
                pid,
                starttime,
            })
        })
        .collect()
}

/// Contents of the status file (`<program>.status`, JSON), written each time
/// a worker becomes ready.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusFile {
    /// `execsvc` (supervisor + worker) or `foreground`.
    pub mode: String,
    /// Supervisor pid (absent in foreground mode).
    pub supervisor_pid: Option<u32>,
    /// Current worker pid.
    pub worker_pid: u32,
    /// When the instance started (supervisor start), seconds since the Unix epoch.
    pub started_unix: u64,
    /// When the current worker became ready, seconds since the Unix epoch.
    pub worker_ready_unix: u64,
    /// Worker restarts since the instance started.
    pub restarts: u32,
    /// Listening ports.
    pub listening: Vec<u16>,
    /// Ports that failed to open.
    pub failed: Vec<FailedPort>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_round_trip() {
        let r = Report::Ready {
            listening: vec![5555, 992],
            failed: vec![FailedPort {
                port: 443,
                reason: "Permission denied (os error 13)".into(),
            }],
        };
        let line = r.to_line();
        assert!(line.ends_with('\n') && line.matches('\n').count() == 1);
        assert_eq!(Report::parse_line(line.as_bytes()).unwrap(), r);
        let e = Report::Error {
            message: "a\nb".into(),
        };
        assert_eq!(Report::parse_line(e.to_line().as_bytes()).unwrap(), e);
    }

    #[test]
    fn bad_lines_are_errors() {
        assert!(matches!(
            Report::parse_line(b"nonsense"),
            Err(ReportError::Malformed(_))
        ));
        assert!(matches!(
            Report::parse_line(&vec![b'x'; MAX_LINE + 1]),
            Err(ReportError::TooLong(_))
        ));
    }

    #[test]
    fn line_buffer_splits_and_bounds() {
        let mut b = LineBuffer::default();
        assert_eq!(b.push(b"ab").unwrap(), Vec::<Vec<u8>>::new());
        assert_eq!(
            b.push(b"c\nd\ne").unwrap(),
            vec![b"abc".to_vec(), b"d".to_vec()]
        );
        assert_eq!(b.push(b"\n").unwrap(), vec![b"e".to_vec()]);
        assert!(b.push(&vec![b'x'; MAX_LINE + 1]).is_err());
        assert_eq!(b.push(b"ok\n").unwrap(), vec![b"ok".to_vec()]);
    }

    #[test]
    fn pid_file_round_trip_and_garbage() {
        let e = vec![
            ProcEntry {
                role: Role::Supervisor,
                pid: 10,
                starttime: 5,
            },
            ProcEntry {
                role: Role::Worker,
                pid: 11,
                starttime: 6,
            },
        ];
        assert_eq!(parse_pid_file(&format_pid_file(&e)), e);
        assert_eq!(
            parse_pid_file("worker x 1\nfoo 1 2\nworker 1 2\nworker 0 2\n\n"),
            vec![]
        );
    }
}
