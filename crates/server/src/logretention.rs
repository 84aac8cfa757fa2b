//! Retention of the hubs' security and packet logs: which files to split,
//! keep and delete (sans-IO decisions; the log writer thread in
//! [`crate::hublog`] lists the files, asks, and deletes).
//!
//! Three rules, the first two SoftEther's (src/Cedar/Logging.c), the
//! third the one our server log has (docs/operating-modes.md, the `svc`
//! crate's `Retention`):
//!
//! 1. **File size** (`ServerConfiguration/LoggerMaxLogSize`, default
//!    1 073 741 823 bytes, `MAX_LOG_SIZE_DEFAULT`): a file that would grow
//!    past it is continued in `<name>~01.log`, `~02` … (`MakeLogFileName`;
//!    the number is wider when the limit is smaller: [`number_suffix`]);
//!    after a restart or a new period the highest existing number is
//!    continued. A single line longer than the limit is dropped.
//! 2. **Free disk space** (`AutoDeleteCheckDiskFreeSpaceMin`, default
//!    100 MiB, at least 1 MiB; `AutoDeleteCheckIntervalSecs`, default 300):
//!    while the file system of the log directory has less free space, the
//!    oldest `*.log`, `*.config` and `*.old` files under `packet_log/`,
//!    `security_log/` and `server_log/` are deleted, oldest modification
//!    first (`EraserMain`, `GenerateEraseFileList`). Unlike SoftEther, the
//!    newest file of each directory (the one being written, whose deletion
//!    would free nothing while it is open) is never deleted.
//! 3. **Age and total size** (`LogRetentionDays`, default 90;
//!    `LogMaxTotalSize`, default 4 GiB; 0 = no limit; RustEther only):
//!    per hub log directory (`security_log/<HUB>/`, `packet_log/<HUB>/`),
//!    files last written more than that many days ago are deleted, then the
//!    oldest while the directory's files together are larger. Per directory,
//!    so one hub's packet log cannot push out another hub's security log;
//!    rule 2 bounds the sum. The newest file of the directory is kept.

use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// `MAX_LOG_SIZE_DEFAULT` (src/Cedar/Logging.h): 1 073 741 823 bytes.
pub const DEFAULT_MAX_FILE_SIZE: u64 = 1_073_741_823;
/// `DISK_FREE_SPACE_MIN` (src/Cedar/Cedar.h): 1 MiB.
pub const DISK_FREE_SPACE_MIN: u64 = 1_048_576;
/// `DISK_FREE_SPACE_DEFAULT` (src/Cedar/Cedar.h): 100 MiB.
pub const DISK_FREE_SPACE_DEFAULT: u64 = 100 * DISK_FREE_SPACE_MIN;
/// `DISK_FREE_CHECK_INTERVAL_DEFAULT` (src/Cedar/Cedar.h): 300 s.
pub const DEFAULT_CHECK_INTERVAL: Duration = Duration::from_secs(300);
/// Directories under the log root the free-space rule deletes in
/// (SoftEther's `delete_targets` that a VPN server writes).
pub const ERASE_DIRS: &[&str] = &["packet_log", "security_log", "server_log"];
/// Highest file number looked for or used (bounds the directory probes).
pub const MAX_FILE_NUMBER: u32 = 9_999;

/// The retention settings of the hub logs, from `ServerConfiguration`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Retention {
    /// `LoggerMaxLogSize`, bytes per file (0 in the file = the default).
    pub max_file_size: u64,
    /// `AutoDeleteCheckDiskFreeSpaceMin`, bytes (0 = the default, below
    /// [`DISK_FREE_SPACE_MIN`] = that minimum, as `NewEraser`).
    pub min_free_bytes: u64,
    /// `AutoDeleteCheckIntervalSecs` (0 = the default).
    pub check_interval: Duration,
    /// `LogRetentionDays` as a duration; `None` = no age limit.
    pub max_age: Option<Duration>,
    /// `LogMaxTotalSize` per directory, bytes; 0 = no limit.
    pub max_dir_bytes: u64,
}

impl Default for Retention {
    /// SoftEther's defaults and ours: 1 GiB − 1 files, 100 MiB free, every
    /// 300 s, 90 days, 4 GiB per directory.
    fn default() -> Self {
        Retention::new(
            0,
            0,
            0,
            rustether_config::model::DEFAULT_LOG_RETENTION_DAYS,
            rustether_config::model::DEFAULT_LOG_MAX_TOTAL_SIZE,
        )
    }
}

impl Retention {
    /// From the raw settings, normalised as SoftEther does (`SetMaxLogSize`,
    /// `NewEraser`, `SetEraserCheckInterval`): `max_file_size` and
    /// `min_free` 0 = default, `min_free` at least 1 MiB, `interval_secs` 0
    /// = 300; `days` 0 = no age limit, `dir_bytes` 0 = no size limit.
    pub fn new(
        max_file_size: u64,
        min_free: u64,
        interval_secs: u32,
        days: u32,
        dir_bytes: u64,
    ) -> Retention {
        Retention {
            max_file_size: if max_file_size == 0 {
                DEFAULT_MAX_FILE_SIZE
            } else {
                max_file_size
            },
            min_free_bytes: match min_free {
                0 => DISK_FREE_SPACE_DEFAULT,
                n => n.max(DISK_FREE_SPACE_MIN),
            },
            check_interval: match interval_secs {
                0 => DEFAULT_CHECK_INTERVAL,
                n => Duration::from_secs(u64::from(n)),
            },
            max_age: (days > 0).then(|| Duration::from_secs(u64::from(days) * 86_400)),
            max_dir_bytes: dir_bytes,
        }
    }

    /// The settings of `ServerConfiguration` (`LoggerMaxLogSize`,
    /// `AutoDeleteCheckDiskFreeSpaceMin`, `AutoDeleteCheckIntervalSecs`,
    /// `LogRetentionDays`, `LogMaxTotalSize`; docs/config-format.md).
    pub fn from_settings(s: &rustether_config::model::ServerSettings) -> Retention {
        Retention::new(
            s.logger_max_log_size(),
            s.auto_delete_min_free(),
            s.auto_delete_interval_secs(),
            s.log_retention_days(),
            s.log_max_total_size(),
        )
    }
}

/// The number part of a split file's name (`MakeLogFileName`): none for
/// 0; `~NN` (two digits) with the default limit; otherwise zero-padded to
/// a width that grows as the limit shrinks: 3 digits from 10⁹ bytes, 4
/// from 10⁸ … 9 from 10³, 2 below.
pub fn number_suffix(num: u32, max_file_size: u64) -> String {
    if num == 0 {
        return String::new();
    }
    let width = if max_file_size == DEFAULT_MAX_FILE_SIZE {
        2
    } else {
        match max_file_size {
            n if n >= 1_000_000_000 => 3,
            n if n >= 100_000_000 => 4,
            n if n >= 10_000_000 => 5,
            n if n >= 1_000_000 => 6,
            n if n >= 100_000 => 7,
            n if n >= 10_000 => 8,
            n if n >= 1_000 => 9,
            _ => 2,
        }
    };
    format!("~{num:0width$}")
}

/// What to do with a line of `add` bytes for a file that has `current`
/// bytes, under limit `max` (`LogThreadWriteGeneral`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Append {
    /// Append to the current file.
    Here,
    /// Continue in the file with the next number.
    NextFile,
    /// The line alone is longer than a file may be: drop it.
    Drop,
}

/// See [`Append`]; an empty file takes any line that fits the limit.
pub fn append(current: u64, add: u64, max: u64) -> Append {
    if add > max {
        Append::Drop
    } else if current > 0 && current.saturating_add(add) > max {
        Append::NextFile
    } else {
        Append::Here
    }
}

/// One log file as listed.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LogFile {
    /// Its path.
    pub path: PathBuf,
    /// Bytes.
    pub size: u64,
    /// Last modification.
    pub modified: SystemTime,
}

/// Oldest first (modification time, then path); the index of each file in
/// `files`.
fn oldest_first(files: &[LogFile]) -> Vec<usize> {
    let mut order: Vec<usize> = (0..files.len()).collect();
    order.sort_by(|&a, &b| {
        (files[a].modified, &files[a].path).cmp(&(files[b].modified, &files[b].path))
    });
    order
}

/// Rule 3 for the files of one directory at `now`: the indices to delete,
/// oldest first (by modification time). The newest file is never among
/// them.
pub fn expired(files: &[LogFile], now: SystemTime, r: &Retention) -> Vec<usize> {
    let order = oldest_first(files);
    let keep = order.last().copied();
    expired_in_order(files, &order, keep, now, r.max_age, r.max_dir_bytes)
}

/// Age and total size over `files` taken in `order` (oldest first, as the
/// caller dates them: the server log by the date in its names), never
/// `keep`: first every file last modified more than `max_age` before
/// `now`, then the oldest while all files together (`keep` included) hold
/// more than `max_bytes` (0 = no limit). The indices to delete, in that
/// order. One rule for the server log (`rustether-svc`) and the hub logs.
pub fn expired_in_order(
    files: &[LogFile],
    order: &[usize],
    keep: Option<usize>,
    now: SystemTime,
    max_age: Option<Duration>,
    max_bytes: u64,
) -> Vec<usize> {
    let mut gone = vec![false; files.len()];
    let mut out = Vec::new();
    let candidates = || {
        order
            .iter()
            .copied()
            .filter(|&i| Some(i) != keep && i < files.len())
    };
    if let Some(a) = max_age {
        for i in candidates() {
            if now
                .duration_since(files[i].modified)
                .is_ok_and(|age| age > a)
            {
                gone[i] = true;
                out.push(i);
            }
        }
    }
    if max_bytes > 0 {
        let mut total: u64 = (0..files.len())
            .filter(|&i| !gone[i])
            .map(|i| files[i].size)
            .sum();
        for i in candidates() {
            if total <= max_bytes {
                break;
            }
            if !gone[i] {
                gone[i] = true;
                total = total.saturating_sub(files[i].size);
                out.push(i);
            }
        }
    }
    out
}

/// Rule 2: with `free` bytes free, the indices of `files` (each tagged
/// with its directory) to delete, oldest first, until `free` plus the
/// bytes deleted reach `min_free`; empty when there is enough. The newest
/// file of each directory is never among them. The caller deletes in this
/// order and may stop early when the file system reports enough free
/// space (SoftEther checks after every deletion).
pub fn erase(files: &[(usize, LogFile)], free: u64, min_free: u64) -> Vec<usize> {
    if free >= min_free {
        return Vec::new();
    }
    let mut newest: std::collections::HashMap<usize, usize> = Default::default();
    for (i, (dir, f)) in files.iter().enumerate() {
        let e = newest.entry(*dir).or_insert(i);
        let cur = &files[*e].1;
        if (f.modified, &f.path) > (cur.modified, &cur.path) {
            *e = i;
        }
    }
    let plain: Vec<LogFile> = files.iter().map(|(_, f)| f.clone()).collect();
    let mut freed = free;
    let mut out = Vec::new();
    for i in oldest_first(&plain) {
        if freed >= min_free {
            break;
        }
        if newest.get(&files[i].0) == Some(&i) {
            continue;
        }
        freed = freed.saturating_add(files[i].1.size);
        out.push(i);
    }
    out
}

/// True for the names the free-space rule may delete (`EnumEraseFile`).
pub fn erasable(name: &str) -> bool {
    name.ends_with(".log") || name.ends_with(".config") || name.ends_with(".old")
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: Duration = Duration::from_secs(86_400);

    fn f(name: &str, size: u64, days_ago: u64, now: SystemTime) -> LogFile {
        LogFile {
            path: PathBuf::from(name),
            size,
            modified: now - DAY * days_ago as u32,
        }
    }

    #[test]
    fn softether_number_suffixes() {
        assert_eq!(number_suffix(0, DEFAULT_MAX_FILE_SIZE), "");
        assert_eq!(number_suffix(1, DEFAULT_MAX_FILE_SIZE), "~01");
        assert_eq!(number_suffix(123, DEFAULT_MAX_FILE_SIZE), "~123");
        assert_eq!(number_suffix(1, 2_000_000_000), "~001");
        assert_eq!(number_suffix(1, 1_000_000), "~000001");
        assert_eq!(number_suffix(7, 1000), "~000000007");
        assert_eq!(number_suffix(7, 999), "~07");
    }

    #[test]
    fn append_splits_and_drops() {
        assert_eq!(append(0, 10, 100), Append::Here);
        assert_eq!(append(90, 10, 100), Append::Here);
        assert_eq!(append(91, 10, 100), Append::NextFile);
        assert_eq!(append(0, 100, 100), Append::Here);
        assert_eq!(append(0, 101, 100), Append::Drop);
        assert_eq!(append(50, 101, 100), Append::Drop);
    }

    #[test]
    fn settings_normalised_as_softether() {
        let r = Retention::new(0, 0, 0, 0, 0);
        assert_eq!(r.max_file_size, DEFAULT_MAX_FILE_SIZE);
        assert_eq!(r.min_free_bytes, DISK_FREE_SPACE_DEFAULT);
        assert_eq!(r.check_interval, DEFAULT_CHECK_INTERVAL);
        assert_eq!(r.max_age, None);
        let r = Retention::new(5000, 10, 60, 7, 1 << 20);
        assert_eq!(r.max_file_size, 5000);
        assert_eq!(r.min_free_bytes, DISK_FREE_SPACE_MIN);
        assert_eq!(r.check_interval, Duration::from_secs(60));
        assert_eq!(r.max_age, Some(DAY * 7));
        assert_eq!(r.max_dir_bytes, 1 << 20);
        let d = Retention::default();
        assert_eq!(d.max_age, Some(DAY * 90));
        assert_eq!(d.max_dir_bytes, 4 << 30);
    }

    #[test]
    fn read_from_server_configuration() {
        use rustether_config::model::{now_ms, system_rng};
        let mut cfg = rustether_config::ServerConfig::initial(
            rustether_config::Edition::Server,
            now_ms(),
            &mut system_rng(),
        );
        // a new file carries SoftEther's values: the defaults
        assert_eq!(Retention::from_settings(&cfg.server), Retention::default());
        let raw = &mut cfg.server.raw;
        raw.set_uint64("LoggerMaxLogSize", 5000);
        raw.set_uint64("AutoDeleteCheckDiskFreeSpaceMin", 1 << 30);
        raw.set_uint("AutoDeleteCheckIntervalSecs", 60);
        raw.set_uint("LogRetentionDays", 7);
        raw.set_uint64("LogMaxTotalSize", 1 << 20);
        assert_eq!(
            Retention::from_settings(&cfg.server),
            Retention::new(5000, 1 << 30, 60, 7, 1 << 20)
        );
    }

    #[test]
    fn age_and_directory_size() {
        let now = SystemTime::now();
        let files = [
            f("sec_20260101.log", 100, 200, now),
            f("sec_20260601.log", 100, 40, now),
            f("sec_20260901.log", 100, 10, now),
            f("sec_20261203.log", 100, 0, now),
        ];
        let mut r = Retention::new(0, 0, 0, 30, 0);
        assert_eq!(expired(&files, now, &r), [0, 1]);
        r.max_age = None;
        assert!(expired(&files, now, &r).is_empty());
        r.max_dir_bytes = 250;
        assert_eq!(expired(&files, now, &r), [0, 1]);
        r.max_dir_bytes = 50;
        // the newest file stays even alone above the limit
        assert_eq!(expired(&files, now, &r), [0, 1, 2]);
        // even when every file is older than the age limit
        let r = Retention::new(0, 0, 0, 1, 0);
        let old = [f("a.log", 1, 9, now), f("b.log", 1, 8, now)];
        assert_eq!(expired(&old, now, &r), [0]);
        assert!(expired(&[], now, &r).is_empty());
    }

    #[test]
    fn caller_order_and_kept_file() {
        // The server log: ordered by the date in the name, "today" kept
        // however old its modification time.
        let now = SystemTime::now();
        let files = [
            f("vpn_20260101.log", 100, 40, now),
            f("vpn_20260201.log", 100, 10, now),
            f("vpn_20260202.log", 100, 9, now),
            f("vpn_20260301.log", 500, 40, now),
        ];
        let order = [0, 1, 2, 3];
        let age = Some(DAY * 30);
        assert_eq!(expired_in_order(&files, &order, Some(3), now, age, 0), [0]);
        // age first, then size over what is left (700, 600 > 550)
        assert_eq!(
            expired_in_order(&files, &order, Some(3), now, age, 550),
            [0, 1, 2]
        );
        assert!(expired_in_order(&files, &order, Some(3), now, None, 0).is_empty());
        assert_eq!(
            expired_in_order(&files, &order, None, now, None, 100),
            [0, 1, 2, 3]
        );
    }

    #[test]
    fn eraser_deletes_oldest_first_until_enough_is_free() {
        let now = SystemTime::now();
        let files = [
            (0, f("security_log/A/sec_1.log", 30, 5, now)),
            (0, f("security_log/A/sec_2.log", 30, 1, now)),
            (1, f("packet_log/A/pkt_1.log", 50, 9, now)),
            (1, f("packet_log/A/pkt_2.log", 50, 3, now)),
            (1, f("packet_log/A/pkt_3.log", 50, 0, now)),
            (2, f("server_log/vpn_1.log", 10, 7, now)),
        ];
        assert!(erase(&files, 1000, 1000).is_empty());
        // 60 more bytes needed: pkt_1 (50), then the server log's only
        // file is skipped (newest of its directory), then sec_1 (30)
        assert_eq!(erase(&files, 940, 1000), [2, 0]);
        // not enough to delete: every file but the newest of each directory
        assert_eq!(erase(&files, 0, 10_000), [2, 0, 3]);
    }

    #[test]
    fn erasable_names() {
        assert!(erasable("sec_20261203.log"));
        assert!(erasable("00000019_vpn_server.config"));
        assert!(erasable("x.old"));
        assert!(!erasable("notes.txt"));
    }
}
