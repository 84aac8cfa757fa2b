//! The systemd unit of Service Mode (sans-IO: text only).
//!
//! Modelled on the Debian/Ubuntu `softether-vpnserver.service` (`process-model`
//! 14.2: `ProtectSystem=strict`, `ProtectHome`, `PrivateTmp`, the same
//! `CapabilityBoundingSet`, `StateDirectory`/`LogsDirectory`), but
//! `Type=notify` instead of `Type=forking`: the supervisor is the main
//! process and reports `READY=1` when the worker accepts, and `WATCHDOG=1`
//! pings while it runs. `KillMode=mixed` sends SIGTERM to the supervisor
//! only, which forwards it to the worker and waits for the clean shutdown.

use std::path::{Path, PathBuf};

use crate::Edition;

/// What goes into a unit.
#[derive(Debug, Clone)]
pub struct UnitOptions {
    /// Absolute path of the `vpnserver`/`vpnbridge` executable.
    pub exe: PathBuf,
    /// State directory given to `--dir` (`/var/lib/rustether`).
    pub state_dir: PathBuf,
    /// Log directory given to `--log-dir` (`/var/log/rustether`).
    pub log_dir: PathBuf,
    /// Run as this user (`User=`) with ambient network capabilities instead of root.
    pub user: Option<String>,
}

impl UnitOptions {
    /// The standard Service Mode layout for `exe`.
    pub fn standard(exe: &Path) -> UnitOptions {
        UnitOptions {
            exe: exe.to_path_buf(),
            state_dir: PathBuf::from("/var/lib/rustether"),
            log_dir: PathBuf::from("/var/log/rustether"),
            user: None,
        }
    }
}

/// Unit file name: `rustether-vpnserver.service` / `rustether-vpnbridge.service`.
pub fn unit_name(edition: Edition) -> String {
    format!("rustether-{}.service", edition.program_name())
}

/// Capabilities the engine may need: privileged ports, raw packet sockets and
/// promiscuous mode / tap devices for local bridges, broadcasts (SoftEther's
/// bounding set without CAP_SYS_NICE, CAP_SYSLOG, CAP_SETUID).
pub const CAPABILITIES: &str = "CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_BROADCAST CAP_NET_RAW";

/// Quotes one `ExecStart=` word (systemd.service "Command lines"): `%` is
/// doubled, words with blanks, quotes or backslashes are double-quoted.
fn exec_word(s: &str) -> String {
    let s = s.replace('%', "%%");
    if s.is_empty()
        || s.chars()
            .any(|c| c.is_whitespace() || c == '"' || c == '\\' || c == '\'' || c == ';')
    {
        let mut q = String::from("\"");
        for c in s.chars() {
            if c == '"' || c == '\\' {
                q.push('\\');
            }
            q.push(c);
        }
        q.push('"');
        q
    } else {
        s
    }
}

/// The unit text.
pub fn render(edition: Edition, o: &UnitOptions) -> String {
    let exec = [
        o.exe.to_string_lossy().into_owned(),
        "execsvc".into(),
        "--dir".into(),
        o.state_dir.to_string_lossy().into_owned(),
        "--log-dir".into(),
        o.log_dir.to_string_lossy().into_owned(),
    ]
    .iter()
    .map(|w| exec_word(w))
    .collect::<Vec<_>>()
    .join(" ");
    let state_name = o
        .state_dir
        .strip_prefix("/var/lib")
        .ok()
        .map(|p| p.to_string_lossy().into_owned());
    let logs_name = o
        .log_dir
        .strip_prefix("/var/log")
        .ok()
        .map(|p| p.to_string_lossy().into_owned());
    let mut u = String::new();
    u.push_str(&format!(
        "# Written by \"{prog} install\". Remove with \"{prog} uninstall\".\n\
         [Unit]\n\
         Description={title}\n\
         After=network-online.target\n\
         Wants=network-online.target\n\
         \n\
         [Service]\n\
         Type=notify\n\
         NotifyAccess=all\n\
         ExecStart={exec}\n\
         KillMode=mixed\n\
         TimeoutStartSec=60\n\
         TimeoutStopSec=30\n\
         WatchdogSec=30\n\
         Restart=on-failure\n\
         RestartSec=1\n\
         LimitNOFILE=65536\n",
        prog = edition.program_name(),
        title = edition.title(),
    ));
    if let Some(user) = &o.user {
        u.push_str(&format!(
            "User={user}\nAmbientCapabilities={CAPABILITIES}\n"
        ));
    }
    u.push_str(&format!(
        "\n# Hardening (as Debian's softether units)\n\
         CapabilityBoundingSet={CAPABILITIES}\n\
         NoNewPrivileges=yes\n\
         ProtectSystem=strict\n\
         ProtectHome=yes\n\
         PrivateTmp=yes\n\
         ProtectControlGroups=yes\n\
         ProtectKernelModules=yes\n\
         LockPersonality=yes\n\
         RestrictAddressFamilies=AF_UNIX AF_INET AF_INET6 AF_PACKET AF_NETLINK\n"
    ));
    match &state_name {
        Some(n) if !n.is_empty() => {
            u.push_str(&format!("StateDirectory={n}\nStateDirectoryMode=0700\n"))
        }
        _ => u.push_str(&format!(
            "ReadWritePaths={}\n",
            exec_word(&o.state_dir.to_string_lossy())
        )),
    }
    match &logs_name {
        Some(n) if !n.is_empty() => u.push_str(&format!("LogsDirectory={n}\n")),
        _ => u.push_str(&format!(
            "ReadWritePaths={}\n",
            exec_word(&o.log_dir.to_string_lossy())
        )),
    }
    u.push_str("\n[Install]\nWantedBy=multi-user.target\n");
    u
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_unit() {
        let u = render(
            Edition::Server,
            &UnitOptions::standard(Path::new("/usr/bin/vpnserver")),
        );
        for line in [
            "Type=notify",
            "ExecStart=/usr/bin/vpnserver execsvc --dir /var/lib/rustether --log-dir /var/log/rustether",
            "WatchdogSec=30",
            "Restart=on-failure",
            "CapabilityBoundingSet=CAP_NET_ADMIN CAP_NET_BIND_SERVICE CAP_NET_BROADCAST CAP_NET_RAW",
            "ProtectSystem=strict",
            "ProtectHome=yes",
            "PrivateTmp=yes",
            "StateDirectory=rustether",
            "LogsDirectory=rustether",
            "WantedBy=multi-user.target",
        ] {
            assert!(u.lines().any(|l| l == line), "missing {line:?} in\n{u}");
        }
        assert!(!u.contains("User="));
        assert_eq!(unit_name(Edition::Bridge), "rustether-vpnbridge.service");
    }

    #[test]
    fn user_and_odd_paths() {
        let o = UnitOptions {
            exe: PathBuf::from("/opt/my vpn/vpnbridge"),
            state_dir: PathBuf::from("/srv/100%"),
            log_dir: PathBuf::from("/var/log/rustether-bridge"),
            user: Some("vpn".into()),
        };
        let u = render(Edition::Bridge, &o);
        assert!(
            u.contains("ExecStart=\"/opt/my vpn/vpnbridge\" execsvc --dir /srv/100%% --log-dir")
        );
        assert!(u.contains("\nUser=vpn\nAmbientCapabilities=CAP_NET_ADMIN"));
        assert!(u.contains("ReadWritePaths=/srv/100%%\n"));
        assert!(u.contains("LogsDirectory=rustether-bridge\n"));
        assert!(u.contains("Description=RustEther VPN Bridge\n"));
    }
}
