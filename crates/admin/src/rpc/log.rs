//! Log RPCs: a hub's log settings, the log files, syslog forwarding
//! (`RPC_HUB_LOG`, `RPC_ENUM_LOG_FILE`, `RPC_READ_LOG_FILE`,
//! `SYSLOG_SETTING`; `InRpcHubLog`/`OutRpcHubLog`, `InRpcEnumLogFile`,
//! `InRpcReadLogFile` in src/Cedar/Admin.c, `InRpcSysLogSetting` in
//! src/Cedar/Server.c).

use rustether_proto::{ErrorCode, Pack};

use super::{flat_message, pack_struct, push_kind, read_items, write_kind, Reader, RpcMessage};
use crate::outpack::OutPack;

/// Number of packet kinds of `PacketLogConfig` (`NUM_PACKET_LOG`,
/// src/Cedar/Cedar.h): TCP connections, TCP data, DHCP, UDP, ICMP, IP,
/// ARP, Ethernet, in this order (`PACKET_LOG_TCP_CONN` = 0 …
/// `PACKET_LOG_ETHERNET` = 7).
pub const NUM_PACKET_LOG: usize = 8;

/// Largest chunk [`ReadLogFile`] answers with: `FTP_BLOCK_SIZE`, 640 KiB
/// (src/Cedar/Cedar.h, `SiReadLocalLogFile`).
pub const LOG_READ_BLOCK: usize = 640 * 1024;

/// RPC_HUB_LOG: request and answer of `GetHubLog`/`SetHubLog` (vpncmd
/// `LogGet`, `LogEnable`, `LogDisable`, `LogSwitchSet`,
/// `LogPacketSaveType`). `PacketLogConfig` is an INT array of
/// [`NUM_PACKET_LOG`] values (0 none, 1 header, 2 whole packet).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct HubLog {
    /// `HubName`.
    pub hub_name: String,
    /// `SaveSecurityLog`.
    pub save_security_log: bool,
    /// `SecurityLogSwitchType` (`LOG_SWITCH_*`: 0 none, 1 second, 2
    /// minute, 3 hour, 4 day, 5 month).
    pub security_log_switch_type: u32,
    /// `SavePacketLog`.
    pub save_packet_log: bool,
    /// `PacketLogSwitchType` (`LOG_SWITCH_*`).
    pub packet_log_switch_type: u32,
    /// `PacketLogConfig[]`.
    pub packet_log_config: [u32; NUM_PACKET_LOG],
}

impl RpcMessage for HubLog {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        let mut cfg = [0u32; NUM_PACKET_LOG];
        for (i, c) in cfg.iter_mut().enumerate() {
            *c = r.int("PacketLogConfig", i)?;
        }
        Ok(HubLog {
            hub_name: r.name("HubName", 0)?,
            save_security_log: r.bool("SaveSecurityLog", 0)?,
            security_log_switch_type: r.int("SecurityLogSwitchType", 0)?,
            save_packet_log: r.bool("SavePacketLog", 0)?,
            packet_log_switch_type: r.int("PacketLogSwitchType", 0)?,
            packet_log_config: cfg,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.str("HubName", &self.hub_name);
        o.bool("SaveSecurityLog", self.save_security_log);
        o.int("SecurityLogSwitchType", self.security_log_switch_type);
        o.bool("SavePacketLog", self.save_packet_log);
        o.int("PacketLogSwitchType", self.packet_log_switch_type);
        for v in self.packet_log_config {
            o.push_int("PacketLogConfig", v);
        }
    }
}

pack_struct! {
    /// One file of [`EnumLogFile`] (`RPC_ENUM_LOG_FILE_ITEM`).
    pub struct EnumLogFileItem {
        /// `FilePath[]`: relative to the log root, `/`-separated, e.g.
        /// `security_log/HUB/sec_20261203.log`.
        file_path: String = "FilePath" as str,
        /// `ServerName[]`: this host's name.
        server_name: String = "ServerName" as str,
        /// `FileSize[]` in bytes (saturated at `u32::MAX`).
        file_size: u32 = "FileSize" as int,
        /// `UpdatedTime[]`: last modification, SoftEther time.
        updated_time: u64 = "UpdatedTime" as time,
    }
}

/// RPC_ENUM_LOG_FILE: answer of `EnumLogFile` (vpncmd `LogFileList`);
/// count from INT `NumItem`, always sent; JSON group `LogFiles`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EnumLogFile {
    /// The files.
    pub items: Vec<EnumLogFileItem>,
}

impl RpcMessage for EnumLogFile {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(EnumLogFile {
            items: read_items(&r, r.num_item("FilePath")?, EnumLogFileItem::read_item)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.int("NumItem", self.items.len() as u32);
        o.group("LogFiles", |o| {
            self.items.iter().for_each(|e| e.push_item(o))
        });
    }
}

/// RPC_READ_LOG_FILE: request and answer of `ReadLogFile` (vpncmd
/// `LogFileGet`, which calls it with growing `Offset` until `Buffer` is
/// absent, `DownloadFileFromServer`), and the answer of
/// `MakeOpenVpnConfigFile` (the zip in `Buffer`). The answer's `Buffer` holds at most
/// [`LOG_READ_BLOCK`] bytes from `Offset`; absent at or past the end.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ReadLogFile {
    /// `FilePath`: as listed by `EnumLogFile`.
    pub file_path: String,
    /// `ServerName`.
    pub server_name: String,
    /// `Offset` in bytes.
    pub offset: u32,
    /// `Buffer` (DATA), absent at the end of the file.
    pub buffer: Option<Vec<u8>>,
}

impl RpcMessage for ReadLogFile {
    fn from_pack(p: &Pack) -> Result<Self, ErrorCode> {
        let r = Reader::new(p);
        Ok(ReadLogFile {
            file_path: r.name("FilePath", 0)?,
            server_name: r.name("ServerName", 0)?,
            offset: r.int("Offset", 0)?,
            buffer: r.opt_data("Buffer", 0)?,
        })
    }
    fn write(&self, o: &mut OutPack) {
        o.str("FilePath", &self.file_path);
        o.str("ServerName", &self.server_name);
        o.int("Offset", self.offset);
        if let Some(b) = &self.buffer {
            o.data("Buffer", b);
        }
    }
}

pack_struct! {
    /// SYSLOG_SETTING: request and answer of `GetSysLog`/`SetSysLog`
    /// (vpncmd `SyslogGet`, `SyslogEnable`, `SyslogDisable`).
    pub struct SysLogSetting {
        /// `SaveType`: 0 off, 1 server log, 2 server and hub security
        /// logs, 3 also packet logs (`SYSLOG_*`, src/Cedar/Cedar.h).
        save_type: u32 = "SaveType" as int,
        /// `Port`: UDP port of the syslog server.
        port: u32 = "Port" as int,
        /// `Hostname`: host name or address of the syslog server.
        hostname: String = "Hostname" as name,
    }
}

flat_message!(SysLogSetting);

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rpc::testutil::round_trip;

    #[test]
    fn hub_log_round_trip_and_layout() {
        let h = HubLog {
            hub_name: "H".into(),
            save_security_log: true,
            security_log_switch_type: 4,
            save_packet_log: false,
            packet_log_switch_type: 3,
            packet_log_config: [1, 0, 1, 0, 2, 0, 0, 0],
        };
        let p = round_trip(&h);
        assert_eq!(p.count("PacketLogConfig"), NUM_PACKET_LOG);
        assert_eq!(p.get_int_at("PacketLogConfig", 4), Some(2));
    }

    #[test]
    fn read_log_file_buffer_absent_at_end() {
        let r = ReadLogFile {
            file_path: "server_log/vpn_20261203.log".into(),
            server_name: "h".into(),
            offset: 10,
            buffer: None,
        };
        let p = round_trip(&r);
        assert!(p.element("Buffer").is_none());
        round_trip(&ReadLogFile {
            buffer: Some(b"abc".to_vec()),
            ..r
        });
    }

    #[test]
    fn enum_log_file_round_trip() {
        let e = EnumLogFile {
            items: vec![EnumLogFileItem {
                file_path: "security_log/H/sec_20261203.log".into(),
                server_name: "h".into(),
                file_size: 12,
                updated_time: 1000,
            }],
        };
        let p = round_trip(&e);
        assert_eq!(p.get_int("NumItem"), Some(1));
        round_trip(&SysLogSetting {
            save_type: 2,
            port: 514,
            hostname: "10.0.0.1".into(),
        });
    }
}
