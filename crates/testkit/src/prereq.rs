//! The one gate for a test's prerequisites (root, network namespaces,
//! `/dev/net/tun`, the real SoftEther programs, programs on `PATH`).
//!
//! ```no_run
//! use rustether_testkit::prereq::{require, Prereq};
//! # fn a_test() {
//! if !require(&[Prereq::Netns, Prereq::SoftEther, Prereq::Program("iperf3")]) {
//!     return; // skipped visibly and counted; never reached in CI
//! }
//! # }
//! ```
//!
//! A missing prerequisite:
//! - in CI (environment variable `CI` set, non-empty, not `0`/`false`):
//!   panics naming what is missing, so the test fails;
//! - otherwise: writes `SKIPPED <test>: <reason>` directly to the process's
//!   stderr (past libtest's output capture, so it shows with `cargo test`),
//!   appends one line to the skip tally (see [`skip_log_path`]) and returns
//!   `false`; the test then returns.
//!
//! The tally is read by the project's test script (`./test.sh`), which
//! prints how many tests skipped and why at the end of the run.

use std::io::Write;
use std::path::{Path, PathBuf};

/// Environment variable naming the skip tally file (see [`skip_log_path`]).
pub const SKIP_LOG_ENV: &str = "RUSTETHER_SKIP_LOG";

/// File name of the default skip tally.
pub const SKIP_LOG_NAME: &str = "rustether-skipped.log";

/// One prerequisite of a test.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prereq {
    /// Effective uid 0.
    Root,
    /// Network namespaces: root and the `ip` program (Debian package iproute2).
    Netns,
    /// The character device `/dev/net/tun` (tap devices of the real vpnclient).
    Tun,
    /// The real SoftEther programs `vpnserver`, `vpnclient`, `vpncmd` and
    /// `vpnbridge` (Debian layout `/usr/libexec/softether/<prog>/<prog>`,
    /// or under `$RUSTETHER_SOFTETHER_DIR`; see [`crate::softether::program`]).
    SoftEther,
    /// A program found on `PATH`, e.g. `"iperf3"`, `"curl"`, `"setpriv"`,
    /// `"ethtool"`, `"systemd-analyze"`.
    Program(&'static str),
}

/// The SoftEther programs behind [`Prereq::SoftEther`].
pub const SOFTETHER_PROGRAMS: [&str; 4] = ["vpnserver", "vpnclient", "vpncmd", "vpnbridge"];

impl Prereq {
    /// `None` when the prerequisite holds, else why not (with what to install).
    pub fn missing(&self) -> Option<String> {
        match self {
            Prereq::Root => (!crate::is_root()).then(|| {
                let uid = nix::unistd::geteuid().as_raw();
                format!("needs root (running as uid {uid})")
            }),
            Prereq::Netns => {
                if let Some(r) = Prereq::Root.missing() {
                    return Some(format!("network namespaces: {r}"));
                }
                Prereq::Program("ip").missing()
            }
            Prereq::Tun => {
                use std::os::unix::fs::FileTypeExt;
                let ok = std::fs::metadata("/dev/net/tun")
                    .map(|m| m.file_type().is_char_device())
                    .unwrap_or(false);
                (!ok).then(|| "/dev/net/tun is missing (modprobe tun)".to_string())
            }
            Prereq::SoftEther => {
                let missing: Vec<&str> = SOFTETHER_PROGRAMS
                    .iter()
                    .copied()
                    .filter(|p| !is_executable(&crate::softether::program(p)))
                    .collect();
                (!missing.is_empty()).then(|| {
                    let pkgs: Vec<String> =
                        missing.iter().map(|p| format!("softether-{p}")).collect();
                    format!(
                        "SoftEther programs missing under {}: {} (Debian packages {})",
                        crate::softether::softether_dir().display(),
                        missing.join(", "),
                        pkgs.join(" ")
                    )
                })
            }
            Prereq::Program(name) => find_program(name).is_none().then(|| {
                format!(
                    "program `{name}` not found on PATH (Debian package {})",
                    debian_package(name)
                )
            }),
        }
    }
}

/// The Debian package that provides program `name` (best effort; the
/// program's own name when unknown).
pub fn debian_package(name: &str) -> &str {
    match name {
        "ip" | "ss" => "iproute2",
        "timeout" => "coreutils",
        "ping" => "iputils-ping",
        "setpriv" | "unshare" | "nsenter" | "flock" | "setsid" => "util-linux",
        "systemd-analyze" | "systemctl" => "systemd",
        "pgrep" | "ps" => "procps",
        "modprobe" => "kmod",
        other => other,
    }
}

/// Full path of `name` on `PATH` (an executable regular file), if any.
pub fn find_program(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// True when the environment variable `CI` is set, non-empty and not
/// `0`/`false` (any case): missing prerequisites then fail the test.
pub fn in_ci() -> bool {
    ci_value_means_ci(std::env::var("CI").ok().as_deref())
}

fn ci_value_means_ci(v: Option<&str>) -> bool {
    match v.map(str::trim) {
        None | Some("") | Some("0") => false,
        Some(v) => !v.eq_ignore_ascii_case("false"),
    }
}

/// Path of the skip tally: `$RUSTETHER_SKIP_LOG` when set (and non-empty),
/// else `rustether-skipped.log` in the cargo profile directory of the
/// running test binary (`target/debug/` for `target/debug/deps/<test>-<hash>`),
/// else in the temporary directory.
///
/// Each skip appends one line `<binary> <test>: <reason>`. The default file
/// is never truncated by the tests themselves: a runner that wants a count
/// per run sets `RUSTETHER_SKIP_LOG` to a fresh file (as `./test.sh` does).
pub fn skip_log_path() -> PathBuf {
    if let Some(p) = std::env::var_os(SKIP_LOG_ENV).filter(|p| !p.is_empty()) {
        return PathBuf::from(p);
    }
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            let deps = exe.parent()?;
            (deps.file_name()? == "deps").then(|| deps.parent().map(Path::to_path_buf))?
        })
        .unwrap_or_else(std::env::temp_dir)
        .join(SKIP_LOG_NAME)
}

/// Name of the running test: libtest names each test's thread after the
/// test (`module::test_name`); `"?"` for an unnamed thread.
pub fn current_test_name() -> String {
    std::thread::current().name().unwrap_or("?").to_string()
}

/// Name of the running test binary without cargo's `-<hash>` suffix.
fn binary_name() -> String {
    let exe = std::env::current_exe().ok();
    let stem = exe
        .as_deref()
        .and_then(Path::file_stem)
        .and_then(|s| s.to_str())
        .unwrap_or("?");
    match stem.rsplit_once('-') {
        Some((name, hash)) if hash.len() == 16 && hash.bytes().all(|b| b.is_ascii_hexdigit()) => {
            name.to_string()
        }
        _ => stem.to_string(),
    }
}

/// `true` when every prerequisite in `needs` holds.
///
/// Otherwise, with `CI` set (see [`in_ci`]), panics naming what is missing;
/// else writes `SKIPPED <test name>: <reason>` to the process's stderr with
/// `std::io::stderr().write_all` (which libtest does not capture), appends
/// one line to the skip tally ([`skip_log_path`]) and returns `false`.
pub fn require(needs: &[Prereq]) -> bool {
    let reasons: Vec<String> = needs.iter().filter_map(Prereq::missing).collect();
    if reasons.is_empty() {
        return true;
    }
    let test = current_test_name();
    let reason = reasons.join("; ");
    if in_ci() {
        panic!("prerequisite missing for {test} (CI is set, so this fails instead of skipping): {reason}");
    }
    skip(&test, &reason);
    false
}

/// Records a skip of `test`: the stderr line and the tally line (see
/// [`require`]). Errors writing either are ignored (the stderr line is the
/// one that matters to a person watching).
fn skip(test: &str, reason: &str) {
    let line = format!("SKIPPED {test}: {reason}\n");
    let _ = std::io::stderr().write_all(line.as_bytes());
    let tally = format!("{} {test}: {reason}\n", binary_name());
    let path = skip_log_path();
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&path)
    {
        // One write call: O_APPEND keeps lines from parallel tests whole.
        let _ = f.write_all(tally.as_bytes());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn present_and_missing_programs() {
        assert!(Prereq::Program("sh").missing().is_none(), "sh is on PATH");
        let r = Prereq::Program("rustether-no-such-program")
            .missing()
            .expect("a program that does not exist is missing");
        assert!(r.contains("rustether-no-such-program"), "{r}");
        assert_eq!(debian_package("setpriv"), "util-linux");
    }

    #[test]
    fn root_matches_euid() {
        assert_eq!(Prereq::Root.missing().is_none(), crate::is_root());
    }

    #[test]
    fn test_name_is_the_thread_name() {
        assert_eq!(
            current_test_name(),
            "prereq::tests::test_name_is_the_thread_name"
        );
    }

    #[test]
    fn skip_line_goes_to_the_tally() {
        let dir = crate::tmp::TestDir::new("prereq").unwrap();
        let log = dir.path().join("skips.log");
        // A child process, so that the environment (CI, RUSTETHER_SKIP_LOG)
        // of this process is not changed under other tests.
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "prereq::tests::skip_child",
                "--include-ignored",
                "--nocapture",
            ])
            .env(SKIP_LOG_ENV, &log)
            .env_remove("CI")
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(
            stderr.contains("SKIPPED prereq::tests::skip_child: program `rustether-no-such-program` not found on PATH"),
            "{stderr}"
        );
        let tally = std::fs::read_to_string(&log).unwrap();
        assert_eq!(tally.lines().count(), 1, "{tally}");
        assert!(
            tally.starts_with("rustether_testkit prereq::tests::skip_child: program"),
            "{tally}"
        );

        // With CI set the same test fails.
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "prereq::tests::skip_child", "--include-ignored"])
            .env(SKIP_LOG_ENV, &log)
            .env("CI", "true")
            .output()
            .unwrap();
        assert!(!out.status.success(), "{out:?}");
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            stdout.contains("prerequisite missing for prereq::tests::skip_child"),
            "{stdout}"
        );
        assert_eq!(
            std::fs::read_to_string(&log).unwrap(),
            tally,
            "CI: no tally line"
        );
    }

    /// Run by [`skip_line_goes_to_the_tally`] in a child process.
    #[test]
    #[ignore = "run as a child process by skip_line_goes_to_the_tally"]
    fn skip_child() {
        assert!(!require(&[
            Prereq::Program("sh"),
            Prereq::Program("rustether-no-such-program")
        ]));
    }

    #[test]
    fn ci_values() {
        let ci = |v| ci_value_means_ci(Some(v));
        assert!(ci("true") && ci("1") && ci("yes"));
        assert!(!ci("") && !ci("0") && !ci("FALSE") && !ci_value_means_ci(None));
    }
}
