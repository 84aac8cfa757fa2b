//! `--user NAME`: after the listening sockets are open, continue as an
//! unprivileged user. Done before the worker's runtime exists (one thread),
//! because capability sets and `PR_SET_KEEPCAPS` are per thread on Linux.
//!
//! Kept capabilities: none, or CAP_NET_RAW + CAP_NET_ADMIN when local
//! bridges are configured (raw packet sockets, promiscuous mode, tap
//! devices; `process-model` 14.1 lists what each capability is for).

use std::io;
use std::path::Path;

use caps::{CapSet, Capability, CapsHashSet};
use nix::unistd::{Gid, Uid, User};

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
    if name.contains('\0') {
        return Err(format!("invalid user name {name:?}"));
    }
    match User::from_name(name) {
        Ok(Some(pw)) => Ok(TargetUser {
            name: pw.name,
            uid: pw.uid.as_raw(),
            gid: pw.gid.as_raw(),
        }),
        Ok(None) => Err(format!("user {name:?} does not exist")),
        Err(e) => Err(format!(
            "cannot look up user {name:?}: {}",
            io::Error::from(e)
        )),
    }
}

fn check<T, E: Into<io::Error>>(r: Result<T, E>, what: &str) -> io::Result<T> {
    r.map_err(|e| {
        let e: io::Error = e.into();
        io::Error::new(e.kind(), format!("{what}: {e}"))
    })
}

fn caps_err(e: caps::errors::CapsError) -> io::Error {
    io::Error::other(e.to_string())
}

/// Sets the permitted and effective sets of this thread to `keep` and the
/// inheritable set to empty (one `capset` per set).
fn keep_only(keep: &CapsHashSet) -> io::Result<()> {
    // Permitted first: effective must stay a subset of it.
    caps::set(None, CapSet::Permitted, keep).map_err(caps_err)?;
    caps::set(None, CapSet::Effective, keep).map_err(caps_err)?;
    caps::set(None, CapSet::Inheritable, &CapsHashSet::new()).map_err(caps_err)?;
    Ok(())
}

/// Switches this (single-threaded) process to `user`: supplementary groups
/// = the primary group only, real/effective/saved gid and uid. With
/// `keep_net_caps`, CAP_NET_RAW and CAP_NET_ADMIN stay permitted and
/// effective; every other capability is gone. Errors leave the process in
/// an unspecified state: the caller must exit.
pub(crate) fn drop_to(user: &TargetUser, keep_net_caps: bool) -> io::Result<()> {
    use nix::sys::prctl::set_keepcaps;
    if keep_net_caps {
        check(set_keepcaps(true), "prctl(PR_SET_KEEPCAPS)")?;
    }
    let (uid, gid) = (Uid::from_raw(user.uid), Gid::from_raw(user.gid));
    check(nix::unistd::setgroups(&[gid]), "setgroups")?;
    check(nix::unistd::setresgid(gid, gid, gid), "setresgid")?;
    check(nix::unistd::setresuid(uid, uid, uid), "setresuid")?;
    if keep_net_caps {
        let keep: CapsHashSet = [Capability::CAP_NET_ADMIN, Capability::CAP_NET_RAW]
            .into_iter()
            .collect();
        check(keep_only(&keep), "capset")?;
        check(set_keepcaps(false), "prctl(PR_SET_KEEPCAPS)")?;
    }
    // Paranoia: regaining root must be impossible now.
    if user.uid != 0 && nix::unistd::setuid(Uid::from_raw(0)).is_ok() {
        return Err(io::Error::other(
            "setuid(0) still succeeds after dropping privileges",
        ));
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

    /// The capability and uid lines of this thread (capabilities are per
    /// thread; libtest runs each test on a thread of its own).
    fn thread_status() -> String {
        std::fs::read_to_string("/proc/thread-self/status")
            .unwrap()
            .lines()
            .filter(|l| {
                ["Uid:", "Gid:", "CapInh:", "CapPrm:", "CapEff:"]
                    .iter()
                    .any(|k| l.starts_with(k))
            })
            .map(|l| format!("PROBE {l}\n"))
            .collect()
    }

    #[test]
    #[ignore = "helper: run as root by drop_to_keeps_exactly_the_net_capabilities in a child process"]
    fn drop_probe() {
        let keep = std::env::var("RUSTETHER_PRIVDROP_KEEP").as_deref() == Ok("1");
        let u = lookup("nobody").unwrap();
        drop_to(&u, keep).unwrap();
        print!("{}", thread_status());
    }

    #[test]
    fn drop_to_keeps_exactly_the_net_capabilities() {
        use rustether_testkit::prereq::{require, Prereq};
        if !require(&[Prereq::Root]) {
            return;
        }
        let nobody = lookup("nobody").unwrap();
        let probe = |keep: bool| -> String {
            let out = std::process::Command::new(std::env::current_exe().unwrap())
                .args([
                    "--ignored",
                    "--exact",
                    "unix::privdrop::tests::drop_probe",
                    "--nocapture",
                    "--test-threads=1",
                ])
                .env("RUSTETHER_PRIVDROP_KEEP", if keep { "1" } else { "0" })
                .output()
                .unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            assert!(
                out.status.success(),
                "child failed: {text}{}",
                String::from_utf8_lossy(&out.stderr)
            );
            text
        };
        let field = |text: &str, key: &str| -> String {
            text.lines()
                // libtest may print the first line right after "test ... ".
                .find_map(|l| l.split(&format!("PROBE {key}")).nth(1))
                .unwrap_or_else(|| panic!("no {key} in {text}"))
                .trim()
                .to_string()
        };
        let ids = |v: u32| format!("{v}\t{v}\t{v}\t{v}");
        // CAP_NET_ADMIN (12) and CAP_NET_RAW (13) only.
        let t = probe(true);
        assert_eq!(field(&t, "Uid:"), ids(nobody.uid), "{t}");
        assert_eq!(field(&t, "Gid:"), ids(nobody.gid), "{t}");
        assert_eq!(field(&t, "CapEff:"), "0000000000003000", "{t}");
        assert_eq!(field(&t, "CapPrm:"), "0000000000003000", "{t}");
        assert_eq!(field(&t, "CapInh:"), "0000000000000000", "{t}");
        // Without local bridges nothing is kept.
        let t = probe(false);
        assert_eq!(field(&t, "Uid:"), ids(nobody.uid), "{t}");
        assert_eq!(field(&t, "CapEff:"), "0000000000000000", "{t}");
        assert_eq!(field(&t, "CapPrm:"), "0000000000000000", "{t}");
    }
}
