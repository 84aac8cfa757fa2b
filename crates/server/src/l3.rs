//! Virtual Layer 3 Switches: the router of `rustether_hub::router` attached
//! to its hubs, one port per interface with the interface's own MAC, as
//! SoftEther's `L3SwThread`/`L3IfThread` (src/Cedar/Layer3.c). Like
//! SecureNAT ([`crate::securenat`]) it is a non-client port; this module
//! only moves frames and keeps the configuration.
//!
//! A started switch (`Active`) goes online once every hub it names exists
//! and is online, and offline again (ports detached) as soon as one of
//! them disappears or goes offline; it checks every
//! [`HUB_CHECK_INTERVAL`].
//!
//! [`switches_from_root`] and [`store_in_root`] map the
//! `VirtualLayer3SwitchList` folder of vpn_server.config (SoftEther
//! src/Cedar/Server.c `SiLoadL3Switchs`/`SiWriteL3Switchs`) to
//! [`L3SwitchConfig`]s.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use parking_lot::Mutex;
use rustether_config::Folder;
use rustether_hub::router::{L3Interface, L3Route, Router};
use rustether_hub::{SessionId, SessionPolicy};
use tokio::sync::{mpsc, watch, Notify};
use tracing::{info, warn};

use crate::hub::Hub;
use crate::session::Registry;

/// Most switches (`MAX_NUM_L3_SWITCH`, caps `i_max_l3_sw`).
pub const MAX_NUM_L3_SWITCH: usize = 4096;
/// Most interfaces of a switch (`MAX_NUM_L3_IF`, caps `i_max_l3_if`).
pub const MAX_NUM_L3_IF: usize = 4096;
/// Most routes of a switch (`MAX_NUM_L3_TABLE`, caps `i_max_l3_table`).
pub const MAX_NUM_L3_TABLE: usize = 4096;
/// How often an offline switch looks for its hubs and an online one checks
/// they are still there (SoftEther polls every 50 ms).
pub const HUB_CHECK_INTERVAL: Duration = Duration::from_millis(250);
/// Timer tick of the router (ARP retries, expiry, beacons).
const TICK: Duration = Duration::from_millis(250);
/// The config folder.
pub const FOLDER: &str = "VirtualLayer3SwitchList";
/// User name prefix of a switch's sessions (`L3_USERNAME`).
pub const L3_USERNAME: &str = "L3SW_";

/// One switch's configuration (`L3SW`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct L3SwitchConfig {
    /// Name (the folder name).
    pub name: String,
    /// `Active`: started by the administrator.
    pub active: bool,
    /// `InterfaceList/InterfaceN`, sorted by hub name without case (`CmpL3If`).
    pub ifs: Vec<L3Interface>,
    /// `RoutingTable/EntryN`, sorted as `CmpL3Table`.
    pub routes: Vec<L3Route>,
}

/// SoftEther keeps addresses as the in-memory UINT (network bytes read
/// little-endian on x86); its lists sort by that.
fn le(ip: Ipv4Addr) -> u32 {
    u32::from_le_bytes(ip.octets())
}

/// Sort key of a route (`CmpL3Table`).
pub fn route_key(r: &L3Route) -> (u32, u32, u32, u32) {
    (le(r.network), le(r.mask), le(r.gateway), r.metric)
}

impl L3SwitchConfig {
    /// An empty, stopped switch.
    pub fn new(name: &str) -> L3SwitchConfig {
        L3SwitchConfig {
            name: name.to_owned(),
            active: false,
            ifs: Vec::new(),
            routes: Vec::new(),
        }
    }

    /// Sorts interfaces and routes as SoftEther's lists are.
    pub fn sort(&mut self) {
        self.ifs.sort_by_key(|i| i.hub.to_ascii_uppercase());
        self.routes.sort_by_key(route_key);
    }
}

fn ip(f: &Folder, key: &str) -> Option<Ipv4Addr> {
    f.get_str(key)?.trim().parse().ok()
}

/// The switches of the root folder's `VirtualLayer3SwitchList` (at most
/// [`MAX_NUM_L3_SWITCH`], each with at most [`MAX_NUM_L3_IF`] interfaces
/// and [`MAX_NUM_L3_TABLE`] routes; entries SoftEther's `L3AddIf` /
/// `L3AddTable` would refuse are skipped with a warning).
pub fn switches_from_root(root: &Folder) -> Vec<L3SwitchConfig> {
    let Some(list) = root.folder(FOLDER) else {
        return Vec::new();
    };
    let mut out: Vec<L3SwitchConfig> = Vec::new();
    for f in &list.folders {
        if out.len() >= MAX_NUM_L3_SWITCH {
            warn!("{FOLDER}: more than {MAX_NUM_L3_SWITCH} switches; the rest ignored");
            break;
        }
        if out.iter().any(|s| s.name.eq_ignore_ascii_case(&f.name)) {
            continue;
        }
        let mut sw = L3SwitchConfig::new(&f.name);
        sw.active = f.get_bool("Active").unwrap_or(false);
        for i in f
            .folder("InterfaceList")
            .map(|l| &l.folders[..])
            .unwrap_or(&[])
        {
            let hub = i.get_str("HubName").unwrap_or("").to_owned();
            match (ip(i, "IpAddress"), ip(i, "SubnetMask")) {
                (Some(a), Some(m))
                    if !hub.is_empty()
                        && !a.is_unspecified()
                        && !a.is_broadcast()
                        && sw.ifs.len() < MAX_NUM_L3_IF
                        && !sw.ifs.iter().any(|x| x.hub.eq_ignore_ascii_case(&hub)) =>
                {
                    sw.ifs.push(L3Interface {
                        hub,
                        ip: a,
                        mask: m,
                    })
                }
                _ => warn!(
                    "{FOLDER}/{}: interface {} ignored (invalid)",
                    f.name, i.name
                ),
            }
        }
        for e in f
            .folder("RoutingTable")
            .map(|l| &l.folders[..])
            .unwrap_or(&[])
        {
            let r = (|| {
                Some(L3Route {
                    network: ip(e, "NetworkAddress")?,
                    mask: ip(e, "SubnetMask")?,
                    gateway: ip(e, "GatewayAddress")?,
                    metric: e.get_uint("Metric")?,
                })
            })();
            match r {
                Some(r)
                    if r.metric != 0
                        && !r.gateway.is_unspecified()
                        && !r.gateway.is_broadcast()
                        && sw.routes.len() < MAX_NUM_L3_TABLE
                        && !sw.routes.contains(&r) =>
                {
                    sw.routes.push(r)
                }
                _ => warn!("{FOLDER}/{}: route {} ignored (invalid)", f.name, e.name),
            }
        }
        sw.sort();
        out.push(sw);
    }
    out.sort_by_key(|s| s.name.to_ascii_uppercase());
    out
}

/// Writes `list` as the root folder's `VirtualLayer3SwitchList`
/// (`SiWriteL3SwitchCfg`: `Active`, `InterfaceList/InterfaceN`,
/// `RoutingTable/EntryN`).
pub fn store_in_root(root: &mut Folder, list: &[L3SwitchConfig]) {
    let l = root.folder_or_insert(FOLDER);
    l.folders = list
        .iter()
        .map(|s| {
            let mut f = Folder::new(&s.name);
            f.set_bool("Active", s.active);
            let il = f.folder_or_insert("InterfaceList");
            for (n, i) in s.ifs.iter().enumerate() {
                let mut x = Folder::new(&format!("Interface{n}"));
                x.set_str("HubName", &i.hub);
                x.set_str("IpAddress", &i.ip.to_string());
                x.set_str("SubnetMask", &i.mask.to_string());
                il.add_folder(x);
            }
            let rt = f.folder_or_insert("RoutingTable");
            for (n, r) in s.routes.iter().enumerate() {
                let mut x = Folder::new(&format!("Entry{n}"));
                x.set_str("NetworkAddress", &r.network.to_string());
                x.set_str("SubnetMask", &r.mask.to_string());
                x.set_str("GatewayAddress", &r.gateway.to_string());
                x.set_uint("Metric", r.metric);
                rt.add_folder(x);
            }
            f
        })
        .collect();
}

/// Finds a running hub by name (the server's hub table).
pub type HubLookup = Arc<dyn Fn(&str) -> Option<Arc<Hub>> + Send + Sync>;

/// One attached interface of an online switch, as `SessionList` shows it.
#[derive(Clone, Debug)]
pub struct L3Session {
    /// Hub name.
    pub hub: String,
    /// Session name `SID-L3-<SWITCH>-<n>` (`L3IfThread`).
    pub name: String,
    /// When the switch went online (Unix ms).
    pub since_unix_ms: u64,
}

/// A started switch.
pub struct L3Port {
    /// Switch name.
    pub name: String,
    online: AtomicBool,
    sessions: Mutex<Vec<L3Session>>,
    stop: Notify,
}

impl std::fmt::Debug for L3Port {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("L3Port")
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

impl L3Port {
    /// Attached to all its hubs and routing (`Online`).
    pub fn is_online(&self) -> bool {
        self.online.load(Ordering::Relaxed)
    }

    /// Its sessions while online.
    pub fn sessions(&self) -> Vec<L3Session> {
        self.sessions.lock().clone()
    }

    /// Detaches from its hubs and ends the task.
    pub fn stop(&self) {
        self.stop.notify_one();
    }
}

/// Starts switch `cfg` (which has at least one interface): a task that
/// waits for its hubs, attaches, and routes until [`L3Port::stop`] or
/// server shutdown.
pub fn start(
    cfg: L3SwitchConfig,
    hubs: HubLookup,
    registry: Arc<Registry>,
    shutdown: watch::Receiver<bool>,
) -> Arc<L3Port> {
    let port = Arc::new(L3Port {
        name: cfg.name.clone(),
        online: AtomicBool::new(false),
        sessions: Mutex::new(Vec::new()),
        stop: Notify::new(),
    });
    info!(switch = %cfg.name, "Virtual Layer 3 Switch started");
    tokio::spawn(run(port.clone(), cfg, hubs, registry, shutdown));
    port
}

/// The running hubs of every interface, if all exist and are online.
fn all_hubs(cfg: &L3SwitchConfig, hubs: &HubLookup) -> Option<Vec<Arc<Hub>>> {
    cfg.ifs
        .iter()
        .map(|i| hubs(&i.hub).filter(|h| h.is_online()))
        .collect()
}

async fn run(
    port: Arc<L3Port>,
    cfg: L3SwitchConfig,
    lookup: HubLookup,
    registry: Arc<Registry>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut counter = 0u32;
    'outer: loop {
        // Offline: wait for every hub.
        let hubs = loop {
            if let Some(h) = all_hubs(&cfg, &lookup).filter(|h| !h.is_empty()) {
                break h;
            }
            tokio::select! {
                _ = port.stop.notified() => break 'outer,
                _ = shutdown.changed() => break 'outer,
                _ = tokio::time::sleep(HUB_CHECK_INTERVAL) => {}
            }
        };
        let ifs: Vec<L3Interface> = cfg.ifs.clone();
        let mut router = Router::new(&cfg.name, &ifs, &cfg.routes);
        let (tx, mut rx) = mpsc::channel::<(usize, Bytes)>(1024);
        let mut ids: Vec<SessionId> = Vec::with_capacity(hubs.len());
        let mut pumps = Vec::with_capacity(hubs.len());
        let since = crate::clock::unix_ms();
        let mut sessions = Vec::with_capacity(hubs.len());
        for (i, h) in hubs.iter().enumerate() {
            let id = registry.next_id();
            let (mut from_hub, _stats) = h.attach(id, SessionPolicy::default());
            ids.push(id);
            let tx = tx.clone();
            pumps.push(tokio::spawn(async move {
                while let Some(f) = from_hub.recv().await {
                    // A full router queue drops the frame, as a congested link.
                    if tx.try_send((i, f)).is_err() && tx.is_closed() {
                        break;
                    }
                }
            }));
            counter = counter.wrapping_add(1);
            sessions.push(L3Session {
                hub: h.name().to_owned(),
                name: format!("SID-L3-{}-{counter}", cfg.name.to_ascii_uppercase()),
                since_unix_ms: since,
            });
        }
        drop(tx);
        *port.sessions.lock() = sessions;
        port.online.store(true, Ordering::Relaxed);
        info!(switch = %cfg.name, "Virtual Layer 3 Switch online");
        let started = Instant::now();
        let now = || started.elapsed().as_millis() as u64;
        let mut tick = tokio::time::interval(TICK);
        let mut check = tokio::time::interval(HUB_CHECK_INTERVAL);
        let flush = |router: &mut Router| {
            for (i, f) in router.take_output() {
                let _ = hubs[i].forward(ids[i], &mut vec![Bytes::from(f)]);
            }
        };
        router.poll(now());
        flush(&mut router);
        let stopping = loop {
            tokio::select! {
                _ = port.stop.notified() => break true,
                _ = shutdown.changed() => break true,
                f = rx.recv() => match f {
                    Some((i, f)) => {
                        let t = now();
                        router.input(i, &f, t);
                        router.poll(t);
                        flush(&mut router);
                    }
                    None => break false,
                },
                _ = tick.tick() => {
                    router.poll(now());
                    flush(&mut router);
                }
                _ = check.tick() => {
                    let still = all_hubs(&cfg, &lookup).is_some_and(|now_hubs| {
                        now_hubs.iter().zip(&hubs).all(|(a, b)| Arc::ptr_eq(a, b))
                    });
                    if !still {
                        break false;
                    }
                }
            }
        };
        for (h, id) in hubs.iter().zip(&ids) {
            h.detach(*id);
        }
        for p in pumps {
            p.abort();
        }
        port.online.store(false, Ordering::Relaxed);
        port.sessions.lock().clear();
        info!(switch = %cfg.name, "Virtual Layer 3 Switch offline");
        if stopping {
            break;
        }
    }
    info!(switch = %cfg.name, "Virtual Layer 3 Switch stopped");
}

#[cfg(test)]
mod tests {
    use super::*;

    const SOFTETHER_CFG: &str = "declare root\n{\n\tdeclare VirtualLayer3SwitchList\n\t{\n\t\tdeclare r1\n\t\t{\n\t\t\tbool Active true\n\n\t\t\tdeclare InterfaceList\n\t\t\t{\n\t\t\t\tdeclare Interface0\n\t\t\t\t{\n\t\t\t\t\tstring HubName HUBB\n\t\t\t\t\tstring IpAddress 10.2.0.1\n\t\t\t\t\tstring SubnetMask 255.255.255.0\n\t\t\t\t}\n\t\t\t\tdeclare Interface1\n\t\t\t\t{\n\t\t\t\t\tstring HubName HUBA\n\t\t\t\t\tstring IpAddress 10.1.0.1\n\t\t\t\t\tstring SubnetMask 255.255.255.0\n\t\t\t\t}\n\t\t\t}\n\t\t\tdeclare RoutingTable\n\t\t\t{\n\t\t\t\tdeclare Entry0\n\t\t\t\t{\n\t\t\t\t\tstring GatewayAddress 10.1.0.254\n\t\t\t\t\tuint Metric 5\n\t\t\t\t\tstring NetworkAddress 172.16.0.0\n\t\t\t\t\tstring SubnetMask 255.255.0.0\n\t\t\t\t}\n\t\t\t\tdeclare Entry1\n\t\t\t\t{\n\t\t\t\t\tstring GatewayAddress 10.1.0.254\n\t\t\t\t\tuint Metric 0\n\t\t\t\t\tstring NetworkAddress 172.17.0.0\n\t\t\t\t\tstring SubnetMask 255.255.0.0\n\t\t\t\t}\n\t\t\t}\n\t\t}\n\t}\n}\n";

    #[test]
    fn softether_folder_is_read_sorted_and_written_back() {
        let root = rustether_config::parse_text(SOFTETHER_CFG).unwrap();
        let list = switches_from_root(&root);
        assert_eq!(list.len(), 1);
        let s = &list[0];
        assert_eq!(s.name, "r1");
        assert!(s.active);
        assert_eq!(s.ifs.len(), 2);
        assert_eq!(s.ifs[0].hub, "HUBA", "sorted by hub name");
        assert_eq!(s.ifs[1].ip, Ipv4Addr::new(10, 2, 0, 1));
        assert_eq!(s.routes.len(), 1, "metric 0 is refused as by L3AddTable");
        assert_eq!(s.routes[0].metric, 5);
        let mut out = Folder::new("root");
        store_in_root(&mut out, &list);
        assert_eq!(switches_from_root(&out), list);
        let f = out.folder(FOLDER).unwrap().folder("r1").unwrap();
        let i0 = f
            .folder("InterfaceList")
            .unwrap()
            .folder("Interface0")
            .unwrap();
        assert_eq!(i0.get_str("HubName"), Some("HUBA"));
        assert_eq!(i0.get_str("IpAddress"), Some("10.1.0.1"));
    }
}
