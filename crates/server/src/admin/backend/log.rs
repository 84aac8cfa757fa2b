//! Log RPCs over the running server: a hub's `LogSetting`, the files of
//! `server_log/`, `security_log/<HUB>/`, `packet_log/<HUB>/` under the
//! state directory, and `SyslogSettings` (src/Cedar/Admin.c `StGetHubLog`,
//! `StSetHubLog`, `StEnumLogFile`, `StReadLogFile`, `StGetSysLog`,
//! `StSetSysLog`; docs/administration.md "Logs").

use std::time::{Duration, UNIX_EPOCH};

use rustether_admin::rpc::{EnumLogFile, EnumLogFileItem, HubLog, SysLogSetting, LOG_READ_BLOCK};
use rustether_config::model::{HubLogSetting, SyslogSetting};
use rustether_proto::softether::time::from_unix_ms;
use rustether_proto::ErrorCode;
use tracing::info;

use super::ServerBackend;
use crate::admin::sys;

/// How long `EnumLogFile` waits for queued lines to reach the files.
const FLUSH_WAIT: Duration = Duration::from_secs(2);

pub(super) fn get_hub_log(this: &mut ServerBackend<'_>, hub: &str) -> Result<HubLog, ErrorCode> {
    this.bridge_edition()?;
    let s = this
        .server
        .with_config(|c| c.hub(hub).map(|h| h.log_setting()));
    let s = s.ok_or(ErrorCode::HUB_NOT_FOUND)?;
    Ok(HubLog {
        hub_name: hub.to_owned(),
        save_security_log: s.save_security_log,
        security_log_switch_type: s.security_log_switch_type,
        save_packet_log: s.save_packet_log,
        packet_log_switch_type: s.packet_log_switch_type,
        packet_log_config: s.packet_log_config,
    })
}

/// Stored in the hub's `LogSetting`; the hub applies it from the next
/// line (the configuration's writer re-syncs the hubs).
pub(super) fn set_hub_log(this: &mut ServerBackend<'_>, req: &HubLog) -> Result<(), ErrorCode> {
    this.bridge_edition()?;
    // Levels above 2 and switch types above 5 mean nothing to SoftEther
    // (it stores them); ours are clamped so the config stays meaningful.
    let s = HubLogSetting {
        save_security_log: req.save_security_log,
        security_log_switch_type: req.security_log_switch_type.min(5),
        save_packet_log: req.save_packet_log,
        packet_log_switch_type: req.packet_log_switch_type.min(5),
        packet_log_config: req.packet_log_config.map(|l| l.min(2)),
    };
    this.server.update_config_blocking(|c| {
        let h = c.hub_mut(&req.hub_name).ok_or(ErrorCode::HUB_NOT_FOUND)?;
        h.set_log_setting(&s);
        Ok(())
    })?;
    info!(hub = %req.hub_name, "admin: log settings changed");
    Ok(())
}

pub(super) fn enum_log_file(
    this: &mut ServerBackend<'_>,
    hub: Option<&str>,
) -> Result<EnumLogFile, ErrorCode> {
    let logs = &this.server.logs;
    let Some(root) = logs.root() else {
        return Ok(EnumLogFile::default());
    };
    logs.flush(FLUSH_WAIT);
    let host = sys::hostname();
    let items = crate::hublog::list_files(root, hub)
        .into_iter()
        .map(|f| EnumLogFileItem {
            file_path: f.path,
            server_name: host.clone(),
            file_size: u32::try_from(f.size).unwrap_or(u32::MAX),
            updated_time: from_unix_ms(
                f.modified
                    .duration_since(UNIX_EPOCH)
                    .map(|d| d.as_millis() as u64)
                    .unwrap_or(0),
            ),
        })
        .collect();
    Ok(EnumLogFile { items })
}

pub(super) fn read_log_file(
    this: &mut ServerBackend<'_>,
    path: &str,
    offset: u32,
) -> Result<Option<Vec<u8>>, ErrorCode> {
    let Some(root) = this.server.logs.root() else {
        return Err(ErrorCode::OBJECT_NOT_FOUND);
    };
    if offset == 0 {
        info!(path, "admin: log file read");
    }
    Ok(crate::hublog::read_chunk(
        root,
        path,
        u64::from(offset),
        LOG_READ_BLOCK,
    ))
}

pub(super) fn get_sys_log(this: &mut ServerBackend<'_>) -> Result<SysLogSetting, ErrorCode> {
    let s = this.server.with_config(|c| c.server.syslog());
    Ok(SysLogSetting {
        save_type: s.save_type,
        port: s.port,
        hostname: s.host_name,
    })
}

/// Stored in `ServerConfiguration/SyslogSettings`; the log writer sends
/// from the next line on.
pub(super) fn set_sys_log(
    this: &mut ServerBackend<'_>,
    req: &SysLogSetting,
) -> Result<(), ErrorCode> {
    let s = SyslogSetting {
        save_type: req.save_type,
        host_name: req.hostname.clone(),
        port: req.port,
    };
    this.server.update_config_blocking(|c| {
        c.server.set_syslog(&s);
        Ok(())
    })?;
    info!(save_type = s.save_type, host = %s.host_name, port = s.port, "admin: syslog setting changed");
    Ok(())
}
