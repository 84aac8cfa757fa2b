//! Console texts. Wording follows SoftEther's `UNIX_SVC_*` strings
//! (`src/bin/hamcore/strtable_en.stb`) and the manuals ("SoftEther VPN Server
//! Service Started."), with the RustEther titles of [`Edition::title`].

use crate::Edition;

/// Usage text (SoftEther's layout, `process-model` section 2), ending with an
/// empty line.
pub(crate) fn usage(e: Edition) -> String {
    let n = e.program_name();
    let t = e.title();
    format!(
        "{t} service program\n\
         Copyright (c) RustEther VPN contributors. Licensed under the Apache License 2.0.\n\
         \n\
         {n} command usage:\n \
         {n} start          - Start the {t} service.\n \
         {n} stop           - Stop the {t} service if the service has been already started.\n \
         {n} status         - Show whether the {t} service runs, its processes, listeners and uptime.\n \
         {n} start --foreground - Run the {t} as one process in the foreground (systemd, containers).\n \
         {n} execsvc        - Run the service supervisor and worker in the foreground of the caller.\n \
         {n} password-set   - Set the server administrator password (service stopped; prompt, or first line of stdin).\n \
         {n} install        - Install and enable the {t} systemd service (--unit-dir DIR: only write the unit).\n \
         {n} uninstall      - Disable and remove the {t} systemd service.\n\
         \n\
         Options (before or after the command):\n \
         --dir DIR        state directory (configuration, lock, pid, status). Default: /var/lib/rustether\n                  \
                          for root, $XDG_STATE_HOME/rustether or ~/.local/state/rustether otherwise.\n \
         --log-dir DIR    log directory (default: DIR/server_log).\n \
         --user NAME      root only: open the listeners, then run as user NAME.\n \
         --log-level LVL  error, warn, info (default), debug or trace.\n\
         \n"
    )
}

/// `start` succeeded (the manuals' text, with our title).
pub(crate) fn started(e: Edition) -> String {
    format!("{} Service Started.", e.title())
}

/// `stop` succeeded.
pub(crate) fn stopped(e: Edition) -> String {
    format!("{} Service Stopped.", e.title())
}

/// `start` while an instance runs (SoftEther `UNIX_SVC_ALREADY_START`).
pub(crate) fn already_started(e: Edition) -> String {
    format!(
        "{} service has been already started.\nRun the \"{} stop\" command to stop this service.",
        e.title(),
        e.program_name()
    )
}

/// `stop` with nothing running (SoftEther `UNIX_SVC_NOT_STARTED`).
pub(crate) fn not_started(e: Edition) -> String {
    format!(
        "{} service has not yet been started.\nRun the \"{} start\" command to start this service.",
        e.title(),
        e.program_name()
    )
}

/// Warning for a listener port that could not be opened, with the remedy.
/// `reason` is the OS error text.
pub(crate) fn port_warning(port: u16, reason: &str) -> String {
    let mut s = format!(
        "Warning: TCP listener port {port} could not be opened: {reason}. It is retried every few seconds."
    );
    let denied =
        reason.contains("os error 13") || reason.to_ascii_lowercase().contains("permission denied");
    if port < 1024 && denied {
        s.push_str(
            " Ports below 1024 need the CAP_NET_BIND_SERVICE capability: run as root, grant it to the \
             program (setcap cap_net_bind_service=+ep <program>), start it from systemd with \
             AmbientCapabilities=CAP_NET_BIND_SERVICE, or pass the socket by systemd socket activation \
             (LISTEN_FDS). Ports 1024 and above (such as 5555) work without privileges."
        );
    } else if reason.contains("os error 98")
        || reason.to_ascii_lowercase().contains("address in use")
    {
        s.push_str(" Another program is listening on this port.");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_use_edition_names() {
        assert_eq!(
            started(Edition::Server),
            "RustEther VPN Server Service Started."
        );
        assert_eq!(
            stopped(Edition::Bridge),
            "RustEther VPN Bridge Service Stopped."
        );
        let u = usage(Edition::Bridge);
        assert!(u.starts_with("RustEther VPN Bridge service program\n"));
        assert!(u.contains("vpnbridge command usage:\n vpnbridge start "));
        assert!(u.ends_with("\n\n"));
    }

    #[test]
    fn privileged_port_warning_names_remedy() {
        let w = port_warning(443, "Permission denied (os error 13)");
        assert!(w.contains("port 443"));
        assert!(
            w.contains("CAP_NET_BIND_SERVICE") && w.contains("setcap") && w.contains("LISTEN_FDS")
        );
        let w = port_warning(5555, "Address already in use (os error 98)");
        assert!(!w.contains("setcap"));
        assert!(w.contains("Another program"));
    }
}
