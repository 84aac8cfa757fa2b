//! What the supervisor needs from the configuration: which TCP ports to
//! open, and whether local bridges are configured (to keep CAP_NET_RAW and
//! CAP_NET_ADMIN under `--user`). The worker reads the full configuration
//! itself.

use std::path::Path;

use crate::Edition;

/// Listener facts of a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Configured {
    /// Enabled TCP listener ports, in configuration order.
    pub ports: Vec<u16>,
    /// At least one local bridge is configured.
    pub local_bridges: bool,
}

/// Default listener ports of a fresh configuration (SoftEther
/// `SiInitListenerList`: 443, 992, 1194, 5555).
const DEFAULT_PORTS: [u16; 4] = [443, 992, 1194, 5555];

/// Reads the configuration of `edition` in `state_dir`. A missing file
/// means the initial configuration. Errors name the file and the line.
pub(crate) fn load(edition: Edition, state_dir: &Path) -> Result<Configured, String> {
    let path = state_dir.join(edition.config_file_name());
    let bytes = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Configured {
                ports: DEFAULT_PORTS.to_vec(),
                local_bridges: false,
            })
        }
        Err(e) => {
            return Err(format!(
                "cannot read the configuration file {}: {e}",
                path.display()
            ))
        }
    };
    let root = rustether_config::parse_bytes(&bytes)
        .map_err(|e| format!("configuration file {}: {e}", path.display()))?;
    let mut ports = Vec::new();
    if let Some(list) = root.folder("ListenerList") {
        for l in &list.folders {
            if l.get_bool("Enabled").unwrap_or(false) {
                if let Some(p) = l
                    .get_uint("Port")
                    .and_then(|p| u16::try_from(p).ok())
                    .filter(|&p| p != 0)
                {
                    ports.push(p);
                }
            }
        }
    } else {
        ports = DEFAULT_PORTS.to_vec();
    }
    let local_bridges = root
        .folder("LocalBridgeList")
        .map(|b| !b.folders.is_empty())
        .unwrap_or(false);
    Ok(Configured {
        ports,
        local_bridges,
    })
}
