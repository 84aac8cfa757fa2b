//! `--user NAME`: after the listening sockets are open, continue as an
//! unprivileged user. Done before the worker's runtime exists (one thread),
//! because capability sets and `PR_SET_KEEPCAPS` are per thread on Linux.
//!
//! Kept capabilities: none, or CAP_NET_RAW + CAP_NET_ADMIN when local
//! bridges are configured (raw packet sockets, promiscuous mode, tap
//! devices; `process-model` 14.1 lists what each capability is for).

use std::ffi::{CStr, CString};
use std::io;
use std::path::Path;

/// A resolved user account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TargetUser {
    /// Login name.
    pub name: String,
    /// User id.
    pub uid: u32,
    /// Primary group id.
    pub gid: u32,
}

/// Looks `name` up in the user database (`getpwnam_r`).
pub(crate) fn lookup(name: &str) -> Result<TargetUser, String> {
    let c = CString::new(name).map_err(|_| format!("invalid user name {name:?}"))?;
    let mut buf = vec![0u8; 16 * 1024];
    // SAFETY: passwd is plain data; getpwnam_r fills it with pointers into buf.
    unsafe {
        let mut pw: libc::passwd = std::mem::zeroed();
        let mut res: *mut libc::passwd = std::ptr::null_mut();
        let r = libc::getpwnam_r(
            c.as_ptr(),
            &mut pw,
            buf.as_mut_ptr() as *mut libc::c_char,
            buf.len(),
            &mut res,
        );
        if r != 0 {
            return Err(format!(
                "cannot look up user {name:?}: {}",
                io::Error::from_raw_os_error(r)
            ));
        }
        if res.is_null() {
            return Err(format!("user {name:?} does not exist"));
        }
        let n = CStr::from_ptr(pw.pw_name).to_string_lossy().into_owned();
        Ok(TargetUser {
            name: n,
            uid: pw.pw_uid,
            gid: pw.pw_gid,
        })
    }
}

const CAP_NET_ADMIN: u32 = 12;
const CAP_NET_RAW: u32 = 13;
const LINUX_CAPABILITY_VERSION_3: u32 = 0x2008_0522;

#[repr(C)]
struct CapHeader {
    version: u32,
    pid: libc::c_int,
}

#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

fn capset(bits: u32) -> io::Result<()> {
    let hdr = CapHeader {
        version: LINUX_CAPABILITY_VERSION_3,
        pid: 0,
    };
    let data = [
        CapData {
            effective: bits,
            permitted: bits,
            inheritable: 0,
        },
        CapData::default(),
    ];
    // SAFETY: capset reads a header and two data structs of the v3 layout.
    let r = unsafe { libc::syscall(libc::SYS_capset, &hdr as *const CapHeader, data.as_ptr()) };
    if r != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn check(r: libc::c_int, what: &str) -> io::Result<()> {
    if r != 0 {
        let e = io::Error::last_os_error();
        return Err(io::Error::new(e.kind(), format!("{what}: {e}")));
    }
    Ok(())
}

/// Switches this (single-threaded) process to `user`: supplementary groups
/// = the primary group only, real/effective/saved gid and uid. With
/// `keep_net_caps`, CAP_NET_RAW and CAP_NET_ADMIN stay permitted and
/// effective; every other capability is gone. Errors leave the process in
/// an unspecified state: the caller must exit.
pub(crate) fn drop_to(user: &TargetUser, keep_net_caps: bool) -> io::Result<()> {
    // SAFETY: plain system calls on this process.
    unsafe {
        if keep_net_caps {
            check(
                libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0),
                "prctl(PR_SET_KEEPCAPS)",
            )?;
        }
        let groups = [user.gid as libc::gid_t];
        check(libc::setgroups(1, groups.as_ptr()), "setgroups")?;
        check(libc::setresgid(user.gid, user.gid, user.gid), "setresgid")?;
        check(libc::setresuid(user.uid, user.uid, user.uid), "setresuid")?;
        if keep_net_caps {
            capset((1 << CAP_NET_ADMIN) | (1 << CAP_NET_RAW))?;
            check(
                libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0),
                "prctl(PR_SET_KEEPCAPS)",
            )?;
        }
        // Paranoia: regaining root must be impossible now.
        if user.uid != 0 && libc::setuid(0) == 0 {
            return Err(io::Error::other(
                "setuid(0) still succeeds after dropping privileges",
            ));
        }
    }
    Ok(())
}

/// Gives `user` ownership of the state directory, its configuration file and
/// backups, and the log directory with its files, so that the worker can
/// save the configuration and write logs after dropping root. Files of the
/// supervisor (lock, pid, status) stay root's.
pub(crate) fn chown_for(
    user: &TargetUser,
    state_dir: &Path,
    config: &Path,
    log_dir: &Path,
) -> io::Result<()> {
    use std::os::unix::fs::chown;
    let (u, g) = (Some(user.uid), Some(user.gid));
    chown(state_dir, u, g)?;
    if config.exists() {
        chown(config, u, g)?;
    }
    for dir in [log_dir.to_path_buf()] {
        std::fs::create_dir_all(&dir)?;
        chown(&dir, u, g)?;
        for e in std::fs::read_dir(&dir)?.flatten() {
            let _ = chown(e.path(), u, g);
        }
    }
    // Configuration backups (`backup.vpn_server.config/` as SoftEther).
    if let Some(name) = config.file_name() {
        let b = state_dir.join(format!("backup.{}", name.to_string_lossy()));
        if b.is_dir() {
            chown(&b, u, g)?;
            for e in std::fs::read_dir(&b)?.flatten() {
                let _ = chown(e.path(), u, g);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_root_and_missing() {
        let r = lookup("root").unwrap();
        assert_eq!((r.uid, r.gid), (0, 0));
        assert!(lookup("no-such-user-rustether-x")
            .unwrap_err()
            .contains("does not exist"));
        assert!(lookup("a\0b").is_err());
    }
}
