//! What the supervisor needs from the configuration: which TCP ports to
//! open, and whether local bridges are configured (to keep CAP_NET_RAW and
//! CAP_NET_ADMIN under `--user`). The worker reads the full configuration
//! itself.

use std::path::Path;

use rustether_config::{ConfigStore, ServerConfig};

use crate::Edition;

/// Listener facts of a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Configured {
    /// Enabled TCP listener ports, in configuration order.
    pub ports: Vec<u16>,
    /// `ListenIP`: the address they bind to (`0.0.0.0` = every interface).
    pub listen_ip: std::net::IpAddr,
    /// `LogRetentionDays`: age limit of the daily log files, 0 = none.
    pub log_retention_days: u32,
    /// `LogMaxTotalSize`: size limit of all daily log files, bytes, 0 = none.
    pub log_max_total_size: u64,
    /// At least one local bridge is configured.
    pub local_bridges: bool,
}

/// Reads the configuration of `edition` in `state_dir` through
/// [`ConfigStore::load`]. A missing file means
/// [`ServerConfig::initial`]. Errors name the file and the line.
pub(crate) fn load(edition: Edition, state_dir: &Path) -> Result<Configured, String> {
    let cfg = match ConfigStore::new(state_dir, edition).load() {
        Ok(Some(c)) => c,
        Ok(None) => ServerConfig::initial(
            edition,
            rustether_config::model::now_ms(),
            &mut rustether_config::model::system_rng(),
        ),
        Err(e) => return Err(format!("Cannot load the configuration: {e}")),
    };
    let mut ports: Vec<u16> = Vec::new();
    for l in cfg.listeners.iter().filter(|l| l.enabled && l.port != 0) {
        if !ports.contains(&l.port) {
            ports.push(l.port);
        }
    }
    Ok(Configured {
        ports,
        listen_ip: cfg.server.listen_ip,
        log_retention_days: cfg.server.log_retention_days(),
        log_max_total_size: cfg.server.log_max_total_size(),
        local_bridges: !cfg.local_bridges.is_empty(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_file_gives_initial_listeners_and_corrupt_file_names_line() {
        let d = tempfile::tempdir().unwrap();
        let c = load(Edition::Server, d.path()).unwrap();
        let initial: Vec<u16> = ServerConfig::initial(
            Edition::Server,
            rustether_config::model::now_ms(),
            &mut rustether_config::model::system_rng(),
        )
        .listeners
        .iter()
        .map(|l| l.port)
        .collect();
        assert_eq!(c.ports, initial);
        assert!(c.ports.contains(&5555) && c.ports.contains(&443));
        assert!(!c.local_bridges);
        let path = d.path().join("vpn_server.config");
        std::fs::write(
            &path,
            "declare root\n{\n\tuint ConfigRevision 0\n\tthis is not valid\n",
        )
        .unwrap();
        let e = load(Edition::Server, d.path()).unwrap_err();
        assert!(e.contains(&path.display().to_string()), "{e}");
        assert!(e.contains("line 4"), "{e}");
    }

    #[test]
    fn enabled_ports_only() {
        let d = tempfile::tempdir().unwrap();
        let mut cfg = ServerConfig::initial(
            Edition::Bridge,
            rustether_config::model::now_ms(),
            &mut rustether_config::model::system_rng(),
        );
        cfg.listeners.truncate(1);
        cfg.listeners[0].port = 20001;
        let mut off = cfg.listeners[0].clone();
        off.port = 20002;
        off.enabled = false;
        cfg.listeners.push(off);
        ConfigStore::new(d.path(), Edition::Bridge)
            .save(&cfg)
            .unwrap();
        assert_eq!(load(Edition::Bridge, d.path()).unwrap().ports, vec![20001]);
    }
}
