//! Running short-lived commands with a time limit.
//!
//! Every command gets `stdin` = `/dev/null` (so a program that prompts, such as
//! `vpncmd` missing a parameter, reads EOF instead of hanging) and its own
//! process group, so that on timeout the whole group we created is killed.

use std::io::Read;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{anyhow, bail, Context, Result};

/// Captured result of a finished command. `stdout`/`stderr` are decoded
/// lossily as UTF-8 and capped at [`MAX_CAPTURE`] bytes each.
#[derive(Debug, Clone)]
pub struct CmdOutput {
    /// Exit status of the command.
    pub status: ExitStatus,
    /// Standard output (possibly truncated to [`MAX_CAPTURE`] bytes).
    pub stdout: String,
    /// Standard error (possibly truncated to [`MAX_CAPTURE`] bytes).
    pub stderr: String,
}

impl CmdOutput {
    /// stdout followed by stderr, for error messages.
    pub fn combined(&self) -> String {
        let mut s = self.stdout.clone();
        if !self.stderr.is_empty() {
            if !s.is_empty() && !s.ends_with('\n') {
                s.push('\n');
            }
            s.push_str(&self.stderr);
        }
        s
    }
}

/// Largest amount of output kept per stream (bytes); the rest is read and dropped.
pub const MAX_CAPTURE: usize = 4 << 20;

/// Human-readable rendering of a command line (program and arguments).
pub fn describe(cmd: &Command) -> String {
    let mut s = cmd.get_program().to_string_lossy().into_owned();
    for a in cmd.get_args() {
        s.push(' ');
        s.push_str(&a.to_string_lossy());
    }
    s
}

fn read_capped(mut r: impl Read) -> Vec<u8> {
    let mut out = Vec::new();
    let mut buf = [0u8; 8192];
    loop {
        match r.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                let room = MAX_CAPTURE.saturating_sub(out.len());
                out.extend_from_slice(&buf[..n.min(room)]);
            }
        }
    }
    out
}

/// Run `cmd` to completion, at most `timeout`. The exit status is NOT checked.
///
/// Errors: the program cannot be started, or it did not finish in time (then
/// its process group is killed with SIGKILL and the error says so).
pub fn run(cmd: &mut Command, timeout: Duration) -> Result<CmdOutput> {
    let what = describe(cmd);
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0)
        .spawn()
        .with_context(|| format!("cannot start `{what}`"))?;
    let pid = child.id() as i32;
    let (tx, rx) = mpsc::channel::<(u8, Vec<u8>)>();
    let out = child.stdout.take().expect("piped stdout");
    let err = child.stderr.take().expect("piped stderr");
    let tx2 = tx.clone();
    thread::spawn(move || {
        let _ = tx.send((1, read_capped(out)));
    });
    thread::spawn(move || {
        let _ = tx2.send((2, read_capped(err)));
    });
    let deadline = Instant::now() + timeout;
    let status = loop {
        match child.try_wait() {
            Ok(Some(st)) => break st,
            Ok(None) => {}
            Err(e) => bail!("waiting for `{what}`: {e}"),
        }
        if Instant::now() >= deadline {
            crate::process::kill_group(pid, libc::SIGKILL);
            let _ = child.wait();
            bail!("`{what}` did not finish within {timeout:?}; killed");
        }
        thread::sleep(Duration::from_millis(10));
    };
    // The pipes close when the last holder exits; a leftover grandchild could
    // keep them open, so wait for the readers only until the deadline (+1 s).
    let mut stdout = None;
    let mut stderr = None;
    let read_deadline = deadline.max(Instant::now()) + Duration::from_secs(1);
    while stdout.is_none() || stderr.is_none() {
        let left = read_deadline.saturating_duration_since(Instant::now());
        match rx.recv_timeout(left) {
            Ok((1, v)) => stdout = Some(v),
            Ok((_, v)) => stderr = Some(v),
            Err(_) => break,
        }
    }
    Ok(CmdOutput {
        status,
        stdout: String::from_utf8_lossy(&stdout.unwrap_or_default()).into_owned(),
        stderr: String::from_utf8_lossy(&stderr.unwrap_or_default()).into_owned(),
    })
}

/// Run `cmd` like [`run`] and require exit status 0; returns stdout.
///
/// Errors: as [`run`], or a non-zero exit (the error shows the last lines of
/// the command's output).
pub fn run_ok(cmd: &mut Command, timeout: Duration) -> Result<String> {
    let what = describe(cmd);
    let out = run(cmd, timeout)?;
    if !out.status.success() {
        return Err(anyhow!(
            "`{what}` failed ({}):\n{}",
            out.status,
            tail_lines(&out.combined(), 15)
        ));
    }
    Ok(out.stdout)
}

/// The last `n` lines of `text`.
pub fn tail_lines(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let start = lines.len().saturating_sub(n);
    lines[start..].join("\n")
}

/// Poll `cond` every `step` until it returns `Ok(true)`, at most `timeout`.
///
/// `cond` returning `Err` aborts the wait at once with that error (use it for
/// "the process we wait for has died"). On timeout the error names `what`.
pub fn wait_until(
    what: &str,
    timeout: Duration,
    step: Duration,
    mut cond: impl FnMut() -> Result<bool>,
) -> Result<()> {
    let deadline = Instant::now() + timeout;
    loop {
        if cond()? {
            return Ok(());
        }
        if Instant::now() >= deadline {
            bail!("timed out after {timeout:?} waiting for {what}");
        }
        thread::sleep(step);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_captures_output_and_status() {
        let out = run(
            Command::new("sh").args(["-c", "echo out; echo err >&2; exit 3"]),
            Duration::from_secs(10),
        )
        .unwrap();
        assert_eq!(out.stdout, "out\n");
        assert_eq!(out.stderr, "err\n");
        assert_eq!(out.status.code(), Some(3));
        let e = run_ok(
            Command::new("sh").args(["-c", "echo boom; exit 1"]),
            Duration::from_secs(10),
        )
        .unwrap_err();
        assert!(format!("{e:#}").contains("boom"), "{e:#}");
    }

    #[test]
    fn run_times_out_and_kills() {
        // `sleep` never ends on its own here: the error means the limit hit.
        let e = run(
            Command::new("sleep").arg("1000000"),
            Duration::from_millis(300),
        )
        .unwrap_err();
        assert!(format!("{e}").contains("did not finish"), "{e}");
    }

    #[test]
    fn stdin_is_closed() {
        // `cat` with a closed stdin ends at once instead of waiting for input.
        let out = run(&mut Command::new("cat"), Duration::from_secs(5)).unwrap();
        assert!(out.status.success());
        assert_eq!(out.stdout, "");
    }

    #[test]
    fn wait_until_times_out_and_propagates_errors() {
        let e = wait_until(
            "never",
            Duration::from_millis(100),
            Duration::from_millis(10),
            || Ok(false),
        )
        .unwrap_err();
        assert!(format!("{e}").contains("never"));
        let e = wait_until(
            "x",
            Duration::from_secs(5),
            Duration::from_millis(10),
            || bail!("died"),
        )
        .unwrap_err();
        assert_eq!(format!("{e}"), "died");
        let mut n = 0;
        wait_until(
            "count",
            Duration::from_secs(5),
            Duration::from_millis(1),
            || {
                n += 1;
                Ok(n == 3)
            },
        )
        .unwrap();
        assert_eq!(n, 3);
    }

    #[test]
    fn tail_lines_keeps_last() {
        assert_eq!(tail_lines("a\nb\nc\n", 2), "b\nc");
        assert_eq!(tail_lines("a", 5), "a");
    }
}
