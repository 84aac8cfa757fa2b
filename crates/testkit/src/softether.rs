//! The installed real SoftEther programs (Debian packages, 5.01 build 9674)
//! and the per-instance sandbox they run in.
//!
//! Each SoftEther program runs as
//! `ip netns exec <ns> unshare -m --propagation private /bin/sh -c <script> sh <dir> <program> <args>`:
//! a private mount namespace in which `<dir>/{lib,run,log}` are bind-mounted
//! over `/var/lib/softether`, `/run/softether` and `/var/log/softether`, and
//! `<dir>/resolv.conf` (a resolver on the namespace's own loopback: name
//! lookups fail at once) over `/etc/resolv.conf`. So instances never share a
//! configuration, pid, lock or log file with each other or with the host.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use anyhow::{bail, ensure, Context, Result};

use crate::cmd::{run, tail_lines};
use crate::netns::netns_exec;

/// Directory of the SoftEther programs: `$RUSTETHER_SOFTETHER_DIR` or
/// `/usr/libexec/softether` (Debian's layout `<dir>/<name>/<name>`).
pub fn softether_dir() -> PathBuf {
    std::env::var_os("RUSTETHER_SOFTETHER_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/libexec/softether"))
}

/// Path of SoftEther program `name` (`vpnserver`, `vpnclient`, `vpncmd`, `vpnbridge`).
pub fn program(name: &str) -> PathBuf {
    softether_dir().join(name).join(name)
}

/// Require the given SoftEther programs to be installed and executable.
///
/// Errors: one is missing (the message names the Debian package).
pub fn require_programs(names: &[&str]) -> Result<()> {
    use std::os::unix::fs::PermissionsExt;
    for n in names {
        let p = program(n);
        let ok = std::fs::metadata(&p)
            .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
            .unwrap_or(false);
        ensure!(
            ok,
            "{} not found: install the Debian package softether-{n}",
            p.display()
        );
    }
    Ok(())
}

const SANDBOX_SH: &str = r#"set -e
d=$1; shift
for m in lib:/var/lib/softether run:/run/softether log:/var/log/softether; do
    src=$d/${m%%:*}; dst=${m#*:}
    mkdir -p "$src" "$dst"
    mount --bind "$src" "$dst"
done
mount --bind "$d/resolv.conf" /etc/resolv.conf
cd "$d"
exec "$@"
"#;

/// A per-instance directory (`lib/`, `run/`, `log/`, `resolv.conf`) and the
/// commands that run SoftEther programs over it (see the module docs).
#[derive(Debug, Clone)]
pub struct Sandbox {
    dir: PathBuf,
}

impl Sandbox {
    /// Prepare `dir` (created if needed).
    ///
    /// Errors: the directory or its files cannot be created.
    pub fn new(dir: &Path) -> Result<Sandbox> {
        for d in ["lib", "run", "log"] {
            std::fs::create_dir_all(dir.join(d))
                .with_context(|| format!("cannot create {}", dir.join(d).display()))?;
        }
        std::fs::write(
            dir.join("resolv.conf"),
            "nameserver 127.0.0.1\noptions timeout:1 attempts:1\n",
        )?;
        Ok(Sandbox {
            dir: dir.to_path_buf(),
        })
    }

    /// The instance directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// What the program sees as `/var/lib/softether` (its configuration).
    pub fn lib_dir(&self) -> PathBuf {
        self.dir.join("lib")
    }

    /// What the program sees as `/var/log/softether`.
    pub fn log_dir(&self) -> PathBuf {
        self.dir.join("log")
    }

    /// Command running `program args...` in namespace `ns` inside this sandbox.
    pub fn command(&self, ns: &str, program: &Path, args: &[&str]) -> Command {
        let mut c = netns_exec(
            ns,
            "unshare",
            &["-m", "--propagation", "private", "/bin/sh", "-c"],
        );
        c.arg(SANDBOX_SH)
            .arg("sh")
            .arg(&self.dir)
            .arg(program)
            .args(args);
        c
    }

    /// Runs the real `vpncmd args...` in namespace `ns` inside this
    /// sandbox, bounded by `limit`, and returns its standard output. The
    /// one runner of the testkit's server, bridge and client wrappers.
    ///
    /// Errors: timeout, or a non-zero exit (vpncmd exits with the
    /// SoftEther error code): "vpncmd (`what`) `shown` failed (status)"
    /// with the last 12 lines of its output; `shown` is the command as it
    /// may be printed (passwords left out by the caller).
    pub fn vpncmd(
        &self,
        ns: &str,
        args: &[&str],
        what: &str,
        shown: &str,
        limit: Duration,
    ) -> Result<String> {
        let mut c = self.command(ns, &program("vpncmd"), args);
        let out = run(&mut c, limit)?;
        if !out.status.success() {
            bail!(
                "vpncmd ({what}) {shown} failed ({}):\n{}",
                out.status,
                tail_lines(&out.combined(), 12)
            );
        }
        Ok(out.stdout)
    }
}

/// Parse vpncmd's two-column tables (`Item |Value` lines) into pairs, in order.
/// Lines without `|` and the header/separator lines are skipped.
pub fn parse_table(text: &str) -> Vec<(String, String)> {
    let mut v = Vec::new();
    for line in text.lines() {
        let Some((k, val)) = line.split_once('|') else {
            continue;
        };
        let k = k.trim();
        if k.is_empty() || k.starts_with('-') || (k == "Item" && val.trim() == "Value") {
            continue;
        }
        v.push((k.to_string(), val.trim().to_string()));
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_parsing() {
        let t = "AccountStatusGet command - Get Current VPN Connection Setting Status\n\
                 Item                                      |Value\n\
                 ------------------------------------------+------\n\
                 VPN Connection Setting Name               |lab\n\
                 Session Status                            |Connection Completed (Session Established)\n\
                 Number of TCP Connections                 |2\n\
                 The command completed successfully.\n";
        let p = parse_table(t);
        assert_eq!(
            p,
            vec![
                ("VPN Connection Setting Name".into(), "lab".into()),
                (
                    "Session Status".into(),
                    "Connection Completed (Session Established)".into()
                ),
                ("Number of TCP Connections".into(), "2".into()),
            ]
        );
    }

    #[test]
    fn program_paths() {
        assert!(program("vpncmd").ends_with("vpncmd/vpncmd"));
    }
}
