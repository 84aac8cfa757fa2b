//! Thin, checked wrappers over the few system calls the process modes need.

use std::fs::File;
use std::io;
use std::os::fd::{BorrowedFd, RawFd};
use std::time::Duration;

use nix::errno::Errno;
use nix::fcntl::{fcntl, FcntlArg, FdFlag, OFlag};
use nix::sys::signal::{SigSet, Signal};
use nix::sys::signalfd::{SfdFlags, SignalFd};

/// A pipe, both ends close-on-exec: `(read, write)`.
pub(crate) fn pipe() -> io::Result<(File, File)> {
    let (r, w) = nix::unistd::pipe2(OFlag::O_CLOEXEC)?;
    Ok((File::from(r), File::from(w)))
}

/// Sets or clears FD_CLOEXEC. Async-signal-safe (used between fork and exec):
/// two `fcntl` calls, no allocation.
pub(crate) fn set_cloexec(fd: RawFd, on: bool) -> io::Result<()> {
    let flags = FdFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFD)?);
    let mut new = flags;
    new.set(FdFlag::FD_CLOEXEC, on);
    if new != flags {
        fcntl(fd, FcntlArg::F_SETFD(new))?;
    }
    Ok(())
}

/// Sets O_NONBLOCK on `fd`.
pub(crate) fn set_nonblocking(fd: RawFd) -> io::Result<()> {
    let flags = OFlag::from_bits_retain(fcntl(fd, FcntlArg::F_GETFL)?);
    fcntl(fd, FcntlArg::F_SETFL(flags | OFlag::O_NONBLOCK))?;
    Ok(())
}

/// Sets the process name shown by `ps -o comm`/`top` (the kernel derives it
/// from the executed file, which is `exe` when re-executing `/proc/self/exe`).
/// The kernel keeps at most 15 bytes.
pub(crate) fn set_process_name(name: &str) {
    let n: Vec<u8> = name.bytes().take_while(|&b| b != 0).take(15).collect();
    if let Ok(c) = std::ffi::CString::new(n) {
        let _ = nix::sys::prctl::set_name(&c);
    }
}

/// `kill(pid, sig)`.
pub(crate) fn kill(pid: u32, sig: Signal) -> io::Result<()> {
    let pid = i32::try_from(pid).map_err(|_| io::Error::from(Errno::ESRCH))?;
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), sig)?;
    Ok(())
}

/// Field 22 (`starttime`) and field 3 (`state`) of `/proc/<pid>/stat`.
pub(crate) fn proc_stat(pid: u32) -> Option<(u64, char)> {
    let s = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and ')': split after the last ')'.
    let rest = &s[s.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); starttime is field 22 -> index 19.
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((start, state))
}

/// Start time of `pid` in clock ticks after boot.
pub(crate) fn proc_starttime(pid: u32) -> Option<u64> {
    proc_stat(pid).map(|(s, _)| s)
}

/// True when `pid` is a live (not zombie, not dead) process whose start
/// time is `starttime`: the same process the pid file named.
pub(crate) fn same_process_alive(pid: u32, starttime: u64) -> bool {
    match proc_stat(pid) {
        Some((st, state)) => st == starttime && state != 'Z' && state != 'X',
        None => false,
    }
}

/// Waits until one of `fds` is readable or `timeout` passes (`None` =
/// forever). Returns, per descriptor, whether it has events; retries on EINTR.
pub(crate) fn poll_read(
    fds: &[BorrowedFd<'_>],
    timeout: Option<Duration>,
) -> io::Result<Vec<bool>> {
    use nix::poll::{PollFd, PollFlags, PollTimeout};
    let mut p: Vec<PollFd<'_>> = fds
        .iter()
        .map(|fd| PollFd::new(*fd, PollFlags::POLLIN))
        .collect();
    let ms = match timeout {
        None => PollTimeout::NONE,
        Some(d) => PollTimeout::try_from(d).unwrap_or(PollTimeout::MAX),
    };
    loop {
        match nix::poll::poll(&mut p, ms) {
            Ok(_) => {}
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(e.into()),
        }
        return Ok(p
            .iter()
            // `None`: bits nix does not name, still an event.
            .map(|x| x.revents().is_none_or(|r| !r.is_empty()))
            .collect());
    }
}

/// Blocks `signals` in this thread (so that a signalfd receives them) and
/// returns a non-blocking, close-on-exec signalfd for them. Children created
/// with `std::process::Command` keep the mask: `pre_exec` calls
/// [`unblock_all_signals`].
pub(crate) fn block_signals_to_fd(signals: &[Signal]) -> io::Result<SignalFd> {
    let mut set = SigSet::empty();
    for &s in signals {
        set.add(s);
    }
    set.thread_block()?;
    Ok(SignalFd::with_flags(
        &set,
        SfdFlags::SFD_NONBLOCK | SfdFlags::SFD_CLOEXEC,
    )?)
}

/// Empties the signal mask of the calling thread. Async-signal-safe
/// (`pthread_sigmask` on a stack-allocated set).
pub(crate) fn unblock_all_signals() -> io::Result<()> {
    SigSet::empty().thread_set_mask()?;
    Ok(())
}

/// Reads pending signals from a signalfd (non-blocking).
pub(crate) fn read_signals(fd: &SignalFd) -> Vec<Signal> {
    let mut out = Vec::new();
    while let Ok(Some(info)) = fd.read_signal() {
        if let Ok(s) = Signal::try_from(info.ssi_signo as i32) {
            out.push(s);
        }
    }
    out
}

/// Effective uid.
pub(crate) fn euid() -> u32 {
    nix::unistd::geteuid().as_raw()
}

/// Name of a signal for log lines (`SIGTERM`, or `signal 42` for a number
/// with no name).
pub(crate) fn signal_name(sig: i32) -> String {
    match Signal::try_from(sig) {
        Ok(s) => s.as_str().to_string(),
        Err(_) => format!("signal {sig}"),
    }
}

/// Seconds since the Unix epoch.
pub(crate) fn unix_now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

/// Writes `data` to `path` atomically (temporary file + rename), mode 0600.
pub(crate) fn write_atomic(path: &std::path::Path, data: &[u8]) -> io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let tmp = path.with_extension(format!("tmp{}", std::process::id()));
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)?;
    f.write_all(data)?;
    drop(f);
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}
