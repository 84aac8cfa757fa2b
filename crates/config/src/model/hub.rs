//! Virtual hubs (`VirtualHUB/<name>`, docs/config-format.md §7.7;
//! `SiLoadHubCfg`, `SiWriteHubCfg` in `src/Cedar/Server.c`), declared with
//! [`cfg_struct!`](super::fields), and the key sets of a new hub.

use super::fields::cfg_struct;
use super::*;

cfg_struct! {
    /// A virtual hub (`VirtualHUB/<name>`, docs/config-format.md §7.7;
    /// `SiLoadHubCfg`, `SiWriteHubCfg`). Keys with a `/` are in that
    /// subfolder; the name and the user, group and cascade lists are read
    /// and written by hand.
    #[derive(Clone, Debug, PartialEq)]
    pub struct HubConfig {
        manual {
            /// Hub name (folder name; matched case-insensitively).
            name: String,
            /// `SecurityAccountDatabase/UserList`.
            users: Vec<UserConfig>,
            /// `SecurityAccountDatabase/GroupList`.
            groups: Vec<GroupConfig>,
            /// `CascadeList`.
            cascades: Vec<CascadeConfig>,
            /// `AccessList`, in evaluation order with `Id`s 1..=n
            /// ([`rustether_proto::softether::access::sorted_list`]).
            access_list: Vec<rustether_proto::softether::access::AccessRule>,
            /// `SecurityAccountDatabase/IPAccessControlList`, sorted, `Id`s
            /// 1..=n ([`rustether_proto::softether::access::sorted_ac_list`]).
            ac_list: Vec<rustether_proto::softether::access::AcEntry>,
        }
        /// The hub is online.
        online: bool = "Online" or false,
        /// Hub admin password, SHA-0(password); missing = empty password.
        hashed_password: [u8; 20] = "HashedPassword" or empty_password_hash(),
        /// SHA-0(password ‖ "ADMINISTRATOR"); missing = empty password.
        secure_password: [u8; 20] = "SecurePassword" or empty_hub_secure_password(),
        /// Always 0 (stand-alone) after loading: a stand-alone server
        /// forces every hub to stand-alone (`SiLoadHubCfg`).
        hub_type: u32 = "Type" or 0,
        /// Creation time, SoftEther time ([`now_ms`]).
        created_time: u64 = "CreatedTime" or 0,
        /// Last communication, SoftEther time; missing or 0 reads as the
        /// load time (`SiLoadHubCfg`).
        last_comm_time: u64 = "LastCommTime" or 0,
        /// Last login, SoftEther time; missing or 0 reads as the load time.
        last_login_time: u64 = "LastLoginTime" or 0,
        /// Number of logins.
        num_login: u32 = "NumLogin" or 0,
        /// Maximum sessions, 0 = unlimited.
        max_session: u32 = "Option/MaxSession" or 0,
        /// Hide the hub from anonymous hub enumeration.
        no_enum: bool = "Option/NoEnum" or false,
        /// Message shown to clients after login (empty = none).
        message: Option<String> = "Message/MessageText" or None,
    }
}

impl HubConfig {
    /// A hub as `CreateHub` makes it on SoftEther 5.01 (docs/config-format.md
    /// §7.7, values verified on a file written by the real server): online,
    /// empty admin password, created now, hub options, log settings (security
    /// and packet log daily), all 41 admin options 0, SecureNAT disabled with
    /// its defaults (192.168.30.1/24), empty lists.
    ///
    /// `now`: SoftEther time ([`now_ms`]) for the created, last-comm and
    /// last-login times; `rng` draws the SecureNAT virtual host MAC.
    pub fn new(name: &str, now: u64, rng: &mut dyn RngCore) -> HubConfig {
        let mut raw = folder_with(
            name,
            &[
                ("RadiusConvertAllMsChapv2AuthRequestToEap", b(false)),
                ("RadiusRealm", s("")),
                ("RadiusRetryInterval", u(0)),
                ("RadiusServerPort", u(1812)),
                ("RadiusSuffixFilter", s("")),
                ("RadiusUsePeapInsteadOfEap", b(false)),
            ],
        );
        raw.add_folder(Folder::new("AccessList"));
        let mut admin = Folder::new("AdminOption");
        for k in ADMIN_OPTIONS {
            admin.set_uint(k, 0);
        }
        raw.add_folder(admin);
        raw.add_folder(Folder::new("CascadeList"));
        raw.add_folder(folder_with(
            "LogSetting",
            &[
                ("PacketLogSwitchType", u(4)),
                ("PACKET_LOG_ARP", u(0)),
                ("PACKET_LOG_DHCP", u(1)),
                ("PACKET_LOG_ETHERNET", u(0)),
                ("PACKET_LOG_ICMP", u(0)),
                ("PACKET_LOG_IP", u(0)),
                ("PACKET_LOG_TCP", u(0)),
                ("PACKET_LOG_TCP_CONN", u(1)),
                ("PACKET_LOG_UDP", u(0)),
                ("SavePacketLog", b(true)),
                ("SaveSecurityLog", b(true)),
                ("SecurityLogSwitchType", u(4)),
            ],
        ));
        raw.add_folder(Folder::new("Message"));
        let mut option = Folder::new("Option");
        for (k, v) in HUB_OPTION_DEFAULTS {
            option.set(k, v.value());
        }
        raw.add_folder(option);
        raw.add_folder(secure_nat_defaults(rng));
        let mut db = Folder::new("SecurityAccountDatabase");
        for k in [
            "CertList",
            "CrlList",
            "GroupList",
            "IPAccessControlList",
            "UserList",
        ] {
            db.add_folder(Folder::new(k));
        }
        raw.add_folder(db);
        raw.add_folder(zero_traffic("Traffic"));
        let mut h = HubConfig::with_defaults(
            name.to_string(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            Vec::new(),
            raw,
        );
        h.online = true;
        h.created_time = now;
        h.last_comm_time = now;
        h.last_login_time = now;
        h
    }

    /// The user called `name` (case-insensitive).
    pub fn user(&self, name: &str) -> Option<&UserConfig> {
        self.users.iter().find(|u| names_equal(&u.name, name))
    }

    /// Mutable access to the user called `name` (case-insensitive).
    pub fn user_mut(&mut self, name: &str) -> Option<&mut UserConfig> {
        self.users.iter_mut().find(|u| names_equal(&u.name, name))
    }

    /// The group called `name` (case-insensitive).
    pub fn group(&self, name: &str) -> Option<&GroupConfig> {
        self.groups.iter().find(|g| names_equal(&g.name, name))
    }

    /// Mutable access to the group called `name` (case-insensitive).
    pub fn group_mut(&mut self, name: &str) -> Option<&mut GroupConfig> {
        self.groups.iter_mut().find(|g| names_equal(&g.name, name))
    }

    /// The cascade whose account name is `name` (case-insensitive).
    pub fn cascade(&self, name: &str) -> Option<&CascadeConfig> {
        self.cascades
            .iter()
            .find(|c| names_equal(&c.account_name, name))
    }

    /// Mutable access to the cascade whose account name is `name`.
    pub fn cascade_mut(&mut self, name: &str) -> Option<&mut CascadeConfig> {
        self.cascades
            .iter_mut()
            .find(|c| names_equal(&c.account_name, name))
    }

    /// The hub's trusted CA certificates, DER, in file order
    /// (`SecurityAccountDatabase/CertList/Cert<i>/X509`; `SiLoadCertList`,
    /// `SiWriteCertList` in src/Cedar/Server.c). Kept in `raw`, so a
    /// SoftEther file's list migrates unchanged.
    pub fn trusted_certs(&self) -> Vec<Vec<u8>> {
        self.raw
            .folder("SecurityAccountDatabase")
            .and_then(|db| db.folder("CertList"))
            .map(|l| {
                l.folders
                    .iter()
                    .filter_map(|c| c.get_bytes("X509"))
                    .filter(|b| !b.is_empty())
                    .map(<[u8]>::to_vec)
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Replaces the trusted CA certificates (written as SoftEther does:
    /// folders `Cert0`, `Cert1`, … each with a byte item `X509`).
    pub fn set_trusted_certs(&mut self, certs: &[Vec<u8>]) {
        let list = self
            .raw
            .folder_or_insert("SecurityAccountDatabase")
            .folder_or_insert("CertList");
        list.folders = certs
            .iter()
            .enumerate()
            .map(|(i, der)| {
                let mut f = Folder::new(&format!("Cert{i}"));
                f.set_bytes("X509", der);
                f
            })
            .collect();
    }

    pub(super) fn from_folder(r: &Rd, now: u64) -> Result<HubConfig, ConfigError> {
        let f = r.f;
        let mut users = Vec::new();
        let mut groups = Vec::new();
        let mut ac_list = Vec::new();
        if let Some(db) = f.folder("SecurityAccountDatabase") {
            if let Some(acl) = db.folder("IPAccessControlList") {
                ac_list = super::access::read_ac_list(acl);
            }
            let db = r.sub(db);
            if let Some(list) = db.f.folder("GroupList") {
                let list = db.sub(list);
                for g in &list.f.folders {
                    groups.push(GroupConfig::from_folder(&list.sub(g))?);
                }
            }
            if let Some(list) = db.f.folder("UserList") {
                let list = db.sub(list);
                for u in &list.f.folders {
                    users.push(UserConfig::from_folder(&list.sub(u))?);
                }
            }
        }
        let mut cascades = Vec::new();
        if let Some(list) = f.folder("CascadeList") {
            let list = r.sub(list);
            for c in &list.f.folders {
                cascades.push(CascadeConfig::from_folder(&list.sub(c))?);
            }
        }
        let access_list = f
            .folder("AccessList")
            .map(super::access::read_access_list)
            .unwrap_or_default();
        let mut h = HubConfig::read_fields(
            r,
            f.name.clone(),
            users,
            groups,
            cascades,
            access_list,
            ac_list,
        )?;
        h.hub_type = 0;
        for t in [&mut h.last_comm_time, &mut h.last_login_time] {
            if *t == 0 {
                *t = now;
            }
        }
        Ok(h)
    }

    pub(super) fn to_folder(&self) -> Folder {
        let mut f = self.raw.clone();
        f.name = self.name.clone();
        self.write_fields(&mut f);
        let db = f.folder_or_insert("SecurityAccountDatabase");
        db.add_folder(super::access::write_ac_list(&self.ac_list));
        let gl = db.folder_or_insert("GroupList");
        gl.folders = self.groups.iter().map(GroupConfig::to_folder).collect();
        let ul = db.folder_or_insert("UserList");
        ul.folders = self.users.iter().map(UserConfig::to_folder).collect();
        f.add_folder(super::access::write_access_list(&self.access_list));
        let cl = f.folder_or_insert("CascadeList");
        cl.folders = self
            .cascades
            .iter()
            .enumerate()
            .map(|(i, c)| c.to_folder(&format!("Cascade{i}")))
            .collect();
        f
    }
}

/// The 41 hub administration options of SoftEther 5.01 (`AdminOption`,
/// docs/config-format.md §7.7; names as written by the real server).
const ADMIN_OPTIONS: [&str; 41] = [
    "allow_hub_admin_change_option",
    "deny_bridge",
    "deny_change_user_password",
    "deny_empty_password",
    "deny_hub_admin_change_ext_option",
    "deny_qos",
    "deny_routing",
    "max_accesslists",
    "max_bitrates_download",
    "max_bitrates_upload",
    "max_groups",
    "max_multilogins_per_user",
    "max_sessions",
    "max_sessions_bridge",
    "max_sessions_client",
    "max_sessions_client_bridge_apply",
    "max_users",
    "no_access_list_include_file",
    "no_cascade",
    "no_change_access_control_list",
    "no_change_access_list",
    "no_change_admin_password",
    "no_change_cert_list",
    "no_change_crl_list",
    "no_change_groups",
    "no_change_log_config",
    "no_change_log_switch_type",
    "no_change_msg",
    "no_change_users",
    "no_delay_jitter_packet_loss",
    "no_delete_iptable",
    "no_delete_mactable",
    "no_disconnect_session",
    "no_enum_session",
    "no_offline",
    "no_online",
    "no_query_session",
    "no_read_log_file",
    "no_securenat",
    "no_securenat_enabledhcp",
    "no_securenat_enablenat",
];

/// A default value in the hub-option table.
#[derive(Clone, Copy)]
enum Dv {
    U(u32),
    B(bool),
    S(&'static str),
}

impl Dv {
    fn value(self) -> CfgValue {
        match self {
            Dv::U(v) => CfgValue::Uint(v),
            Dv::B(v) => CfgValue::Bool(v),
            Dv::S(v) => CfgValue::String(v.to_string()),
        }
    }
}

/// `Option` of a hub created by `CreateHub` on SoftEther 5.01 (verified on
/// the file the real server wrote; docs/config-format.md §7.7).
const HUB_OPTION_DEFAULTS: [(&str, Dv); 59] = [
    ("AccessListIncludeFileCacheLifetime", Dv::U(30)),
    ("AdjustTcpMssValue", Dv::U(0)),
    ("ApplyIPv4AccessListOnArpPacket", Dv::B(false)),
    ("AssignVLanIdByRadiusAttribute", Dv::B(false)),
    ("BroadcastLimiterStrictMode", Dv::B(false)),
    ("BroadcastStormDetectionThreshold", Dv::U(0)),
    ("ClientMinimumRequiredBuild", Dv::U(0)),
    ("DenyAllRadiusLoginWithNoVlanAssign", Dv::B(false)),
    ("DetectDormantSessionInterval", Dv::U(0)),
    ("DisableAdjustTcpMss", Dv::B(false)),
    ("DisableCheckMacOnLocalBridge", Dv::B(false)),
    ("DisableCorrectIpOffloadChecksum", Dv::B(false)),
    ("DisableHttpParsing", Dv::B(false)),
    ("DisableIPParsing", Dv::B(false)),
    ("DisableIpRawModeSecureNAT", Dv::B(false)),
    ("DisableKernelModeSecureNAT", Dv::B(false)),
    ("DisableUdpAcceleration", Dv::B(false)),
    ("DisableUdpFilterForLocalBridgeNic", Dv::B(false)),
    ("DisableUserModeSecureNAT", Dv::B(false)),
    ("DoNotSaveHeavySecurityLogs", Dv::B(false)),
    ("DropArpInPrivacyFilterMode", Dv::B(true)),
    ("DropBroadcastsInPrivacyFilterMode", Dv::B(true)),
    ("FilterBPDU", Dv::B(false)),
    ("FilterIPv4", Dv::B(false)),
    ("FilterIPv6", Dv::B(false)),
    ("FilterNonIP", Dv::B(false)),
    ("FilterOSPF", Dv::B(false)),
    ("FilterPPPoE", Dv::B(false)),
    ("FloodingSendQueueBufferQuota", Dv::U(33_554_432)),
    ("ManageOnlyLocalUnicastIPv6", Dv::B(true)),
    ("ManageOnlyPrivateIP", Dv::B(true)),
    ("MaxLoggedPacketsPerMinute", Dv::U(0)),
    ("MaxSession", Dv::U(0)),
    ("NoArpPolling", Dv::B(false)),
    ("NoDhcpPacketLogOutsideHub", Dv::B(true)),
    ("NoEnum", Dv::B(false)),
    ("NoIpTable", Dv::B(false)),
    ("NoIPv4PacketLog", Dv::B(false)),
    ("NoIPv6AddrPolling", Dv::B(false)),
    ("NoIPv6DefaultRouterInRAWhenIPv6", Dv::B(true)),
    ("NoIPv6PacketLog", Dv::B(false)),
    ("NoLookBPDUBridgeId", Dv::B(false)),
    ("NoMacAddressLog", Dv::B(true)),
    ("NoManageVlanId", Dv::B(false)),
    ("NoPhysicalIPOnPacketLog", Dv::B(false)),
    ("NoSpinLockForPacketDelay", Dv::B(false)),
    ("RemoveDefGwOnDhcpForLocalhost", Dv::B(true)),
    ("RequiredClientId", Dv::U(0)),
    ("SecureNAT_MaxDnsSessionsPerIp", Dv::U(0)),
    ("SecureNAT_MaxIcmpSessionsPerIp", Dv::U(0)),
    ("SecureNAT_MaxTcpSessionsPerIp", Dv::U(0)),
    ("SecureNAT_MaxTcpSynSentPerIp", Dv::U(0)),
    ("SecureNAT_MaxUdpSessionsPerIp", Dv::U(0)),
    ("SecureNAT_RandomizeAssignIp", Dv::B(false)),
    ("SuppressClientUpdateNotification", Dv::B(false)),
    ("UseHubNameAsDhcpUserClassOption", Dv::B(false)),
    ("UseHubNameAsRadiusNasId", Dv::B(false)),
    ("VlanTypeId", Dv::S("0x8100")),
    ("YieldAfterStorePacket", Dv::B(false)),
];

/// `SecureNAT` of a new hub: disabled, 192.168.30.1/24, DHCP .10–.200,
/// random virtual host MAC (docs/config-format.md §7.7).
fn secure_nat_defaults(rng: &mut dyn RngCore) -> Folder {
    let mut f = folder_with("SecureNAT", &[("Disabled", b(true)), ("SaveLog", b(true))]);
    f.add_folder(folder_with(
        "VirtualDhcpServer",
        &[
            ("DhcpDnsServerAddress", s("192.168.30.1")),
            ("DhcpDnsServerAddress2", s("0.0.0.0")),
            ("DhcpDomainName", s("")),
            ("DhcpEnabled", b(true)),
            ("DhcpExpireTimeSpan", u(7200)),
            ("DhcpGatewayAddress", s("192.168.30.1")),
            ("DhcpLeaseIPEnd", s("192.168.30.200")),
            ("DhcpLeaseIPStart", s("192.168.30.10")),
            ("DhcpPushRoutes", s("")),
            ("DhcpSubnetMask", s("255.255.255.0")),
        ],
    ));
    f.add_folder(folder_with(
        "VirtualHost",
        &[
            ("VirtualHostIp", s("192.168.30.1")),
            ("VirtualHostIpSubnetMask", s("255.255.255.0")),
            ("VirtualHostMacAddress", s(&format_mac(&random_mac(rng)))),
        ],
    ));
    f.add_folder(folder_with(
        "VirtualRouter",
        &[
            ("NatEnabled", b(true)),
            ("NatMtu", u(1500)),
            ("NatTcpTimeout", u(1800)),
            ("NatUdpTimeout", u(60)),
        ],
    ));
    f
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::SeedableRng;

    #[test]
    fn new_hub_round_trips_through_one_mapping() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut h = HubConfig::new("H", 77, &mut rng);
        assert!(h.online && h.message.is_none());
        assert_eq!(
            (h.created_time, h.last_comm_time, h.last_login_time),
            (77, 77, 77)
        );
        h.message = Some("hello".into());
        h.max_session = 5;
        let f = h.to_folder();
        assert_eq!(
            f.folder("Message").unwrap().item("MessageText"),
            Some(&CfgValue::String("hello".into()))
        );
        assert_eq!(
            f.folder("Option").unwrap().item("MaxSession"),
            Some(&CfgValue::Uint(5))
        );
        let back = HubConfig::from_folder(&Rd::new(&f, "H"), 1).unwrap();
        assert_eq!(
            HubConfig {
                raw: f.clone(),
                ..h
            },
            back
        );
    }

    #[test]
    fn load_forces_stand_alone_and_fills_missing_times_like_si_load_hub_cfg() {
        let mut f = Folder::new("H");
        f.set_uint("Type", 1);
        f.set_uint64("LastLoginTime", 5);
        f.folder_or_insert("Message").set_str("MessageText", "");
        let h = HubConfig::from_folder(&Rd::new(&f, "H"), 1234).unwrap();
        assert_eq!(h.hub_type, 0);
        assert_eq!((h.last_comm_time, h.last_login_time), (1234, 5));
        assert_eq!(h.message, None);
        assert_eq!(h.hashed_password, empty_password_hash());
    }

    #[test]
    fn trusted_certs_are_stored_as_softether_does() {
        let mut rng = rand::rngs::StdRng::seed_from_u64(1);
        let mut h = HubConfig::new("H", 77, &mut rng);
        assert!(h.trusted_certs().is_empty());
        h.set_trusted_certs(&[vec![0x30, 1], vec![0x30, 2]]);
        let f = h.to_folder();
        let list = f
            .folder("SecurityAccountDatabase")
            .and_then(|d| d.folder("CertList"))
            .unwrap();
        assert_eq!(
            list.folder("Cert1").unwrap().item("X509"),
            Some(&CfgValue::Byte(vec![0x30, 2]))
        );
        let back = HubConfig::from_folder(&Rd::new(&f, "H"), 1).unwrap();
        assert_eq!(back.trusted_certs(), [vec![0x30, 1], vec![0x30, 2]]);
        h.set_trusted_certs(&[]);
        assert!(h.trusted_certs().is_empty());
    }
}
