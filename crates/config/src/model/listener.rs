//! TCP listeners (`ListenerList/ListenerN`, docs/config-format.md §7.4;
//! `SiLoadListenerCfg`, `SiWriteListenerCfg` in `src/Cedar/Server.c`). The
//! folder is rebuilt from the three modelled keys, as SoftEther writes it.

use super::*;

/// One TCP listener (`ListenerList/ListenerN`, docs/config-format.md §7.4).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ListenerConfig {
    /// TCP port (1–65535).
    pub port: u16,
    /// Whether the listener is started.
    pub enabled: bool,
    /// Disables the per-listener DoS protection.
    pub disable_dos: bool,
}

impl ListenerConfig {
    pub(super) fn from_folder(r: &Rd) -> Result<Option<ListenerConfig>, ConfigError> {
        let port = r.u32_or("Port", 0)?;
        if port == 0 {
            // SoftEther ignores such an entry (`SiLoadListenerCfg`).
            tracing::warn!("{}: listener with port 0 ignored", r.path);
            return Ok(None);
        }
        let port =
            u16::try_from(port).map_err(|_| r.bad("Port", format!("{port} is not a TCP port")))?;
        Ok(Some(ListenerConfig {
            port,
            enabled: r.bool_or("Enabled", false)?,
            disable_dos: r.bool_or("DisableDos", false)?,
        }))
    }

    pub(super) fn to_folder(&self, name: &str) -> Folder {
        folder_with(
            name,
            &[
                ("DisableDos", b(self.disable_dos)),
                ("Enabled", b(self.enabled)),
                ("Port", u(u32::from(self.port))),
            ],
        )
    }
}
