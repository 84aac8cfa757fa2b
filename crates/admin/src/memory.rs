//! An in-memory [`AdminBackend`]: hubs, users, listeners, local bridges,
//! cascades and sessions as plain data, with SoftEther's error codes for
//! missing and duplicate objects (docs/admin-rpc.md §6). Nothing is persisted and
//! nothing runs; it exists for tests, examples and as an executable
//! reference of the backend contract.

use std::collections::BTreeMap;

use rustether_proto::password::{hash_admin_password, hash_password};
use rustether_proto::ErrorCode;

use crate::dispatch::AdminBackend;
use crate::rpc::*;

/// One hub of a [`MemoryBackend`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemHub {
    /// Settings as `CreateHub` carries them (name as created).
    pub hub: CreateHub,
    /// Users by lower-case name.
    pub users: BTreeMap<String, SetUser>,
    /// Cascades by lower-case account name.
    pub links: BTreeMap<String, CreateLink>,
    /// Sessions.
    pub sessions: Vec<EnumSessionItem>,
    /// Hub administration options (`no_change_users`, …).
    pub admin_options: BTreeMap<String, u32>,
    /// `CreatedTime`.
    pub created_time: u64,
    /// The access list in list order.
    pub access: Vec<rustether_proto::softether::access::AccessRule>,
    /// The source IP access control list in list order.
    pub ac_list: Vec<rustether_proto::softether::access::AcEntry>,
    /// The hub message ("" = none).
    pub msg: String,
    /// Extended options that were set, by their RPC name (others read 0).
    pub ext_options: BTreeMap<String, u32>,
}

/// The in-memory backend.
#[derive(Clone, Debug, Default)]
pub struct MemoryBackend {
    /// Server administrator hash SHA-0(password).
    pub server_password: [u8; 20],
    /// Hubs by lower-case name.
    pub hubs: BTreeMap<String, MemHub>,
    /// Listeners: port → enabled.
    pub listeners: BTreeMap<u32, bool>,
    /// Local bridges.
    pub bridges: Vec<LocalBridge>,
    /// Keep-alive setting.
    pub keep: Keep,
    /// Configuration text returned by `GetConfig`, replaced by `SetConfig`.
    pub config: Vec<u8>,
    /// Capabilities returned by `GetCaps`.
    pub caps: CapsList,
    /// Server certificate (DER) and key (DER).
    pub cert: KeyPair,
    /// Clock used for `CreatedTime`/`UpdatedTime` (SoftEther time, [`rustether_proto::softether::time`]).
    pub now_ms: u64,
    /// Number of `Flush` calls.
    pub flushes: u32,
}

fn k(s: &str) -> String {
    s.to_ascii_lowercase()
}

impl MemoryBackend {
    /// A server with the given administrator password and listener 5555.
    pub fn new(server_password: &str) -> MemoryBackend {
        MemoryBackend {
            server_password: hash_admin_password(server_password),
            listeners: BTreeMap::from([(5555, true)]),
            keep: Keep {
                keep_connect_host: "keepalive.softether.org".into(),
                keep_connect_port: 80,
                keep_connect_protocol: 1,
                keep_connect_interval: 50,
                ..Keep::default()
            },
            config: b"\xef\xbb\xbfdeclare root\r\n{\r\n}\r\n".to_vec(),
            caps: CapsList {
                caps: vec![
                    ("b_standalone".into(), 1),
                    ("b_support_config_rw".into(), 1),
                    ("b_support_cascade".into(), 1),
                    ("b_local_bridge".into(), 1),
                    ("b_tap_supported".into(), 1),
                    ("i_max_hubs".into(), 100_000),
                    ("i_max_users_per_hub".into(), 10_000),
                    ("i_max_packet_size".into(), 1600),
                ],
            },
            now_ms: 1_795_284_146_000,
            ..MemoryBackend::default()
        }
    }

    /// Adds hub `name` with administrator password `password`, online.
    pub fn add_hub(&mut self, name: &str, password: &str) -> &mut MemHub {
        let hub = CreateHub {
            fields: CreateHubFields {
                hub_name: name.into(),
                hashed_password: hash_admin_password(password),
                secure_password: hash_password("administrator", password),
                online: true,
                ..CreateHubFields::default()
            },
            ..CreateHub::default()
        };
        self.hubs.entry(k(name)).or_insert(MemHub {
            hub,
            created_time: self.now_ms,
            ..MemHub::default()
        })
    }

    /// The hub called `name` (case-insensitive).
    pub fn hub(&self, name: &str) -> Option<&MemHub> {
        self.hubs.get(&k(name))
    }

    fn hub_mut(&mut self, name: &str) -> Result<&mut MemHub, ErrorCode> {
        self.hubs.get_mut(&k(name)).ok_or(ErrorCode::HUB_NOT_FOUND)
    }

    fn hub_ref(&self, name: &str) -> Result<&MemHub, ErrorCode> {
        self.hubs.get(&k(name)).ok_or(ErrorCode::HUB_NOT_FOUND)
    }
}

impl AdminBackend for MemoryBackend {
    fn get_hub_admin_options(&mut self, hub: &str) -> Result<Vec<AdminOptionItem>, ErrorCode> {
        let h = self.hub_ref(hub)?;
        let mut items: Vec<AdminOptionItem> = crate::hub_admin_option::DEFAULT_NAMES
            .iter()
            .map(|n| AdminOptionItem {
                name: (*n).to_owned(),
                value: h.admin_options.get(*n).copied().unwrap_or(0),
                descrption: String::new(),
            })
            .collect();
        items.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(items)
    }

    fn set_hub_admin_options(
        &mut self,
        hub: &str,
        items: &[AdminOptionItem],
    ) -> Result<(), ErrorCode> {
        let h = self.hub_mut(hub)?;
        h.admin_options = items.iter().map(|i| (i.name.clone(), i.value)).collect();
        Ok(())
    }

    fn get_hub_ext_options(&mut self, hub: &str) -> Result<Vec<AdminOptionItem>, ErrorCode> {
        let h = self.hub_ref(hub)?;
        Ok(crate::hub_ext_option::EXT_OPTIONS
            .iter()
            .map(|o| AdminOptionItem {
                name: o.name.to_owned(),
                value: h.ext_options.get(o.name).copied().unwrap_or(0),
                descrption: String::new(),
            })
            .collect())
    }

    fn set_hub_ext_options(
        &mut self,
        hub: &str,
        items: &[AdminOptionItem],
    ) -> Result<(), ErrorCode> {
        let h = self.hub_mut(hub)?;
        for i in items {
            h.ext_options.insert(i.name.clone(), i.value);
        }
        Ok(())
    }

    fn rename_link(&mut self, hub: &str, old: &str, new: &str) -> Result<(), ErrorCode> {
        let h = self.hub_mut(hub)?;
        if !h.links.contains_key(&k(old)) {
            return Err(ErrorCode::OBJECT_NOT_FOUND);
        }
        if h.links.contains_key(&k(new)) {
            return Err(ErrorCode::LINK_ALREADY_EXISTS);
        }
        let mut l = h.links.remove(&k(old)).ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        l.option.account_name = new.to_owned();
        h.links.insert(k(new), l);
        Ok(())
    }

    fn get_hub_msg(&mut self, hub: &str) -> Result<String, ErrorCode> {
        Ok(self.hub_ref(hub)?.msg.clone())
    }

    fn set_hub_msg(&mut self, hub: &str, msg: &str) -> Result<(), ErrorCode> {
        self.hub_mut(hub)?.msg = msg.to_owned();
        Ok(())
    }

    fn get_ac_list(
        &mut self,
        hub: &str,
    ) -> Result<Vec<rustether_proto::softether::access::AcEntry>, ErrorCode> {
        Ok(self.hub_ref(hub)?.ac_list.clone())
    }

    fn set_ac_list(
        &mut self,
        hub: &str,
        list: &[rustether_proto::softether::access::AcEntry],
    ) -> Result<(), ErrorCode> {
        self.hub_mut(hub)?.ac_list =
            rustether_proto::softether::access::sorted_ac_list(list.to_vec());
        Ok(())
    }

    fn add_access(
        &mut self,
        hub: &str,
        rule: &rustether_proto::softether::access::AccessRule,
    ) -> Result<(), ErrorCode> {
        let h = self.hub_mut(hub)?;
        let mut list = std::mem::take(&mut h.access);
        list.push(rule.clone());
        h.access = rustether_proto::softether::access::sorted_list(list);
        Ok(())
    }

    fn delete_access(&mut self, hub: &str, id: u32) -> Result<(), ErrorCode> {
        let h = self.hub_mut(hub)?;
        let i = h
            .access
            .iter()
            .position(|a| a.id == id)
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        h.access.remove(i);
        Ok(())
    }

    fn enum_access(
        &mut self,
        hub: &str,
    ) -> Result<Vec<rustether_proto::softether::access::AccessRule>, ErrorCode> {
        Ok(self.hub_ref(hub)?.access.clone())
    }

    fn set_access_list(
        &mut self,
        hub: &str,
        rules: &[rustether_proto::softether::access::AccessRule],
    ) -> Result<(), ErrorCode> {
        self.hub_mut(hub)?.access = rustether_proto::softether::access::sorted_list(rules.to_vec());
        Ok(())
    }

    fn hub_admin_option(&self, hub: &str, name: &str) -> u32 {
        self.hub(hub)
            .and_then(|h| h.admin_options.get(name).copied())
            .unwrap_or(0)
    }

    fn get_server_info(&mut self) -> Result<ServerInfo, ErrorCode> {
        Ok(ServerInfo {
            fields: ServerInfoFields {
                server_product_name: "RustEther VPN Server (memory backend)".into(),
                server_version_string: "Version 5.01 Build 9674".into(),
                server_build_info_string: "memory".into(),
                server_ver_int: 501,
                server_build_int: 9674,
                server_host_name: "memory".into(),
                server_type: 0,
                server_build_date: 0,
                server_family_name: "RustEther".into(),
            },
            os: OsInfo {
                os_type: 3100,
                os_system_name: "Linux".into(),
                kernel_name: "UNIX".into(),
                ..OsInfo::default()
            },
        })
    }

    fn get_server_status(&mut self) -> Result<ServerStatus, ErrorCode> {
        let mut s = ServerStatus::default();
        s.fields.num_hub_total = self.hubs.len() as u32;
        s.fields.num_hub_standalone = self.hubs.len() as u32;
        s.fields.num_users = self.hubs.values().map(|h| h.users.len() as u32).sum();
        s.fields.num_sessions_total = self.hubs.values().map(|h| h.sessions.len() as u32).sum();
        s.fields.num_sessions_local = s.fields.num_sessions_total;
        s.fields.current_time = self.now_ms;
        s.fields.start_time = self.now_ms;
        Ok(s)
    }

    fn create_listener(&mut self, req: &Listener) -> Result<(), ErrorCode> {
        if self.listeners.contains_key(&req.port) {
            return Err(ErrorCode::LISTENER_ALREADY_EXISTS);
        }
        self.listeners.insert(req.port, req.enable);
        Ok(())
    }

    fn enum_listener(&mut self) -> Result<ListenerList, ErrorCode> {
        Ok(ListenerList {
            listeners: self
                .listeners
                .iter()
                .map(|(p, e)| ListenerItem {
                    port: *p,
                    enable: *e,
                    error: false,
                })
                .collect(),
        })
    }

    fn delete_listener(&mut self, port: u32) -> Result<(), ErrorCode> {
        self.listeners
            .remove(&port)
            .map(|_| ())
            .ok_or(ErrorCode::LISTENER_NOT_FOUND)
    }

    fn enable_listener(&mut self, req: &Listener) -> Result<(), ErrorCode> {
        let e = self
            .listeners
            .get_mut(&req.port)
            .ok_or(ErrorCode::LISTENER_NOT_FOUND)?;
        *e = req.enable;
        Ok(())
    }

    fn set_server_password(&mut self, hashed_password: &[u8; 20]) -> Result<(), ErrorCode> {
        self.server_password = *hashed_password;
        Ok(())
    }

    fn get_server_cert(&mut self) -> Result<KeyPair, ErrorCode> {
        Ok(self.cert.clone())
    }

    fn get_caps(&mut self) -> Result<CapsList, ErrorCode> {
        Ok(self.caps.clone())
    }

    fn get_keep(&mut self) -> Result<Keep, ErrorCode> {
        Ok(self.keep.clone())
    }

    fn set_keep(&mut self, req: &Keep) -> Result<(), ErrorCode> {
        self.keep = req.clone();
        Ok(())
    }

    fn flush(&mut self) -> Result<u32, ErrorCode> {
        self.flushes += 1;
        Ok(self.config.len() as u32)
    }

    fn get_config(&mut self) -> Result<Config, ErrorCode> {
        Ok(Config {
            file_name: "$vpn_server.config".into(),
            file_data: self.config.clone(),
        })
    }

    fn set_config(&mut self, req: &Config) -> Result<(), ErrorCode> {
        self.config = req.file_data.clone();
        Ok(())
    }

    fn get_bridge_support(&mut self) -> Result<BridgeSupport, ErrorCode> {
        Ok(BridgeSupport {
            is_bridge_supported_os: true,
            is_win_pcap_needed: false,
        })
    }

    fn create_hub(&mut self, req: &CreateHub) -> Result<(), ErrorCode> {
        let key = k(&req.fields.hub_name);
        if self.hubs.contains_key(&key) {
            return Err(ErrorCode::HUB_ALREADY_EXISTS);
        }
        let mut hub = req.clone();
        hub.fields.admin_password_plain_text.clear();
        self.hubs.insert(
            key,
            MemHub {
                hub,
                created_time: self.now_ms,
                ..MemHub::default()
            },
        );
        Ok(())
    }

    fn set_hub(&mut self, req: &CreateHub) -> Result<(), ErrorCode> {
        let h = self.hub_mut(&req.fields.hub_name)?;
        h.hub.option = req.option.clone();
        h.hub.fields.online = req.fields.online;
        if req.fields.hashed_password != [0; 20] && req.fields.secure_password != [0; 20] {
            h.hub.fields.hashed_password = req.fields.hashed_password;
            h.hub.fields.secure_password = req.fields.secure_password;
        }
        Ok(())
    }

    fn get_hub(&mut self, hub: &str) -> Result<CreateHub, ErrorCode> {
        Ok(self.hub_ref(hub)?.hub.clone())
    }

    fn enum_hub(&mut self) -> Result<EnumHub, ErrorCode> {
        Ok(EnumHub {
            hubs: self
                .hubs
                .values()
                .map(|h| EnumHubItem {
                    fields: EnumHubItemFields {
                        hub_name: h.hub.fields.hub_name.clone(),
                        online: h.hub.fields.online,
                        hub_type: h.hub.hub_type,
                        num_sessions: h.sessions.len() as u32,
                        num_users: h.users.len() as u32,
                        created_time: h.created_time,
                        last_comm_time: h.created_time,
                        last_login_time: h.created_time,
                        is_traffic_filled: true,
                        ..EnumHubItemFields::default()
                    },
                    traffic: Traffic::default(),
                })
                .collect(),
        })
    }

    fn delete_hub(&mut self, hub: &str) -> Result<(), ErrorCode> {
        self.hubs
            .remove(&k(hub))
            .map(|_| ())
            .ok_or(ErrorCode::HUB_NOT_FOUND)
    }

    fn set_hub_online(&mut self, hub: &str, online: bool) -> Result<(), ErrorCode> {
        self.hub_mut(hub)?.hub.fields.online = online;
        Ok(())
    }

    fn get_hub_status(&mut self, hub: &str) -> Result<HubStatus, ErrorCode> {
        let h = self.hub_ref(hub)?;
        Ok(HubStatus {
            fields: HubStatusFields {
                hub_name: h.hub.fields.hub_name.clone(),
                online: h.hub.fields.online,
                num_sessions: h.sessions.len() as u32,
                num_users: h.users.len() as u32,
                created_time: h.created_time,
                ..HubStatusFields::default()
            },
            traffic: Traffic::default(),
        })
    }

    fn create_user(&mut self, req: &SetUser) -> Result<(), ErrorCode> {
        let now = self.now_ms;
        let h = self.hub_mut(&req.fields.hub_name)?;
        let key = k(&req.fields.name);
        if h.users.contains_key(&key) {
            return Err(ErrorCode::USER_ALREADY_EXISTS);
        }
        if !req.fields.group_name.is_empty() {
            return Err(ErrorCode::GROUP_NOT_FOUND); // no groups in this backend
        }
        let mut u = req.clone();
        u.fields.created_time = now;
        u.fields.updated_time = now;
        h.users.insert(key, u);
        Ok(())
    }

    fn set_user(&mut self, req: &SetUser) -> Result<(), ErrorCode> {
        let now = self.now_ms;
        let h = self.hub_mut(&req.fields.hub_name)?;
        let u = h
            .users
            .get_mut(&k(&req.fields.name))
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        if !req.fields.group_name.is_empty() {
            return Err(ErrorCode::GROUP_NOT_FOUND);
        }
        u.fields.realname = req.fields.realname.clone();
        u.fields.note = req.fields.note.clone();
        u.fields.expire_time = req.fields.expire_time;
        u.fields.updated_time = now;
        u.auth = req.auth.clone();
        u.policy = req.policy.clone();
        Ok(())
    }

    fn get_user(&mut self, hub: &str, name: &str) -> Result<SetUser, ErrorCode> {
        self.hub_ref(hub)?
            .users
            .get(&k(name))
            .cloned()
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)
    }

    fn delete_user(&mut self, hub: &str, name: &str) -> Result<(), ErrorCode> {
        self.hub_mut(hub)?
            .users
            .remove(&k(name))
            .map(|_| ())
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)
    }

    fn enum_user(&mut self, hub: &str) -> Result<EnumUser, ErrorCode> {
        let h = self.hub_ref(hub)?;
        Ok(EnumUser {
            hub_name: h.hub.fields.hub_name.clone(),
            users: h
                .users
                .values()
                .map(|u| EnumUserItem {
                    fields: EnumUserItemFields {
                        name: u.fields.name.clone(),
                        group_name: u.fields.group_name.clone(),
                        realname: u.fields.realname.clone(),
                        note: u.fields.note.clone(),
                        auth_type: u.auth.auth_type(),
                        num_login: u.num_login,
                        is_traffic_filled: true,
                        is_expires_filled: true,
                        expires: u.fields.expire_time,
                        ..EnumUserItemFields::default()
                    },
                    traffic: u.traffic,
                })
                .collect(),
        })
    }

    fn enum_session(&mut self, hub: &str) -> Result<EnumSession, ErrorCode> {
        let h = self.hub_ref(hub)?;
        Ok(EnumSession {
            hub_name: h.hub.fields.hub_name.clone(),
            sessions: h.sessions.clone(),
        })
    }

    fn get_session_status(&mut self, hub: &str, name: &str) -> Result<SessionStatus, ErrorCode> {
        let h = self.hub_ref(hub)?;
        let s = h
            .sessions
            .iter()
            .find(|s| s.name.eq_ignore_ascii_case(name))
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        Ok(SessionStatus {
            fields: SessionStatusFields {
                hub_name: h.hub.fields.hub_name.clone(),
                name: s.name.clone(),
                username: s.username.clone(),
                real_username: s.username.clone(),
                client_ip: s.ip,
                client_ip6: match s.client_ip {
                    Some(std::net::IpAddr::V6(v6)) => v6.octets(),
                    _ => [0; 16],
                },
                client_ip_address: s.client_ip,
                client_host_name: s.hostname.clone(),
                ..SessionStatusFields::default()
            },
            ..SessionStatus::default()
        })
    }

    fn delete_session(&mut self, hub: &str, name: &str) -> Result<(), ErrorCode> {
        let h = self.hub_mut(hub)?;
        let i = h
            .sessions
            .iter()
            .position(|s| s.name.eq_ignore_ascii_case(name))
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        let s = &h.sessions[i];
        if s.link_mode {
            return Err(ErrorCode::LINK_CANT_DISCONNECT);
        }
        if s.secure_nat_mode {
            return Err(ErrorCode::SNAT_CANT_DISCONNECT);
        }
        if s.bridge_mode {
            return Err(ErrorCode::BRIDGE_CANT_DISCONNECT);
        }
        if s.layer3_mode {
            return Err(ErrorCode::LAYER3_CANT_DISCONNECT);
        }
        h.sessions.remove(i);
        Ok(())
    }

    fn enum_ethernet(&mut self) -> Result<EnumEth, ErrorCode> {
        Ok(EnumEth::default())
    }

    fn add_local_bridge(&mut self, req: &LocalBridge) -> Result<(), ErrorCode> {
        let same = |b: &LocalBridge| {
            b.hub_name.eq_ignore_ascii_case(&req.hub_name)
                && b.device_name.eq_ignore_ascii_case(&req.device_name)
        };
        if !self.bridges.iter().any(same) {
            self.bridges.push(req.clone());
        }
        Ok(())
    }

    fn delete_local_bridge(&mut self, req: &LocalBridge) -> Result<(), ErrorCode> {
        let before = self.bridges.len();
        self.bridges.retain(|b| {
            !(b.hub_name.eq_ignore_ascii_case(&req.hub_name)
                && b.device_name.eq_ignore_ascii_case(&req.device_name))
        });
        if self.bridges.len() == before {
            return Err(ErrorCode::OBJECT_NOT_FOUND);
        }
        Ok(())
    }

    fn enum_local_bridge(&mut self) -> Result<EnumLocalBridge, ErrorCode> {
        Ok(EnumLocalBridge {
            items: self
                .bridges
                .iter()
                .map(|b| LocalBridgeItem {
                    device_name: b.device_name.clone(),
                    hub_name: b.hub_name.clone(),
                    online: self.hub(&b.hub_name).is_some_and(|h| h.hub.fields.online),
                    active: false,
                    tap_mode: b.tap_mode,
                })
                .collect(),
        })
    }

    fn create_link(&mut self, req: &CreateLink) -> Result<(), ErrorCode> {
        let h = self.hub_mut(&req.hub_name)?;
        let key = k(&req.option.account_name);
        if h.links.contains_key(&key) {
            return Err(ErrorCode::LINK_ALREADY_EXISTS);
        }
        let mut l = req.clone();
        l.normalize_for_server();
        l.online = false; // links are always created offline (verified)
        h.links.insert(key, l);
        Ok(())
    }

    fn get_link(&mut self, hub: &str, account: &str) -> Result<CreateLink, ErrorCode> {
        self.hub_ref(hub)?
            .links
            .get(&k(account))
            .cloned()
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)
    }

    fn set_link(&mut self, req: &CreateLink) -> Result<(), ErrorCode> {
        let h = self.hub_mut(&req.hub_name)?;
        let l = h
            .links
            .get_mut(&k(&req.option.account_name))
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)?;
        let online = l.online;
        *l = req.clone();
        l.normalize_for_server();
        l.online = online;
        Ok(())
    }

    fn enum_link(&mut self, hub: &str) -> Result<EnumLink, ErrorCode> {
        let h = self.hub_ref(hub)?;
        Ok(EnumLink {
            hub_name: h.hub.fields.hub_name.clone(),
            links: h
                .links
                .values()
                .map(|l| EnumLinkItem {
                    account_name: l.option.account_name.clone(),
                    hostname: l.option.hostname.clone(),
                    hub_name: l.option.hub_name.clone(),
                    online: l.online,
                    ..EnumLinkItem::default()
                })
                .collect(),
        })
    }

    fn get_link_status(&mut self, hub: &str, account: &str) -> Result<LinkStatus, ErrorCode> {
        self.get_link(hub, account)?;
        // nothing ever connects in memory
        Err(ErrorCode::LINK_IS_OFFLINE)
    }

    fn set_link_online(&mut self, hub: &str, account: &str, online: bool) -> Result<(), ErrorCode> {
        let h = self.hub_mut(hub)?;
        h.links
            .get_mut(&k(account))
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)?
            .online = online;
        Ok(())
    }

    fn delete_link(&mut self, hub: &str, account: &str) -> Result<(), ErrorCode> {
        self.hub_mut(hub)?
            .links
            .remove(&k(account))
            .map(|_| ())
            .ok_or(ErrorCode::OBJECT_NOT_FOUND)
    }
}
