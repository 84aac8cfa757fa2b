//! ConfigStore: atomic saves, backups, load order, refusal to touch files
//! that do not load.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rustether_config::cfg::BANNER;
use rustether_config::store::MAX_BACKUPS;
use rustether_config::{
    write_text, ConfigError, ConfigStore, Edition, HubConfig, ServerConfig, UserAuth, UserConfig,
};

fn mode(p: &Path) -> u32 {
    fs::metadata(p).unwrap().permissions().mode() & 0o777
}

fn backups(store: &ConfigStore) -> Vec<String> {
    let mut v: Vec<String> = match fs::read_dir(store.backup_dir()) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

#[test]
fn save_and_load_round_trip_with_backups() {
    let dir = tempfile::tempdir().unwrap();
    let store = ConfigStore::new(dir.path(), Edition::Server);
    assert_eq!(store.path(), dir.path().join("vpn_server.config"));
    assert!(store.load().unwrap().is_none());

    let mut cfg = ServerConfig::initial(
        Edition::Server,
        rustether_config::model::now_ms(),
        &mut rustether_config::model::system_rng(),
    );
    store.save(&cfg).unwrap();
    let text = fs::read_to_string(store.path()).unwrap();
    assert!(text.starts_with(BANNER));
    assert_eq!(mode(store.path()), 0o600);
    assert!(backups(&store).is_empty(), "nothing to back up yet");
    assert_eq!(store.load().unwrap().unwrap().to_root(), {
        let mut r = cfg.to_root();
        r.sort_recursive();
        r
    });

    // change and save: the previous file (revision 0) becomes a backup
    cfg.config_revision = 1;
    cfg.hubs[0].users.push(UserConfig::new(
        "alice",
        UserAuth::Password {
            hash: [7; 20],
            nt_hash: None,
        },
        rustether_config::model::now_ms(),
    ));
    store.save(&cfg).unwrap();
    assert_eq!(backups(&store), ["00000000_vpn_server.config"]);
    let b = store.backup_dir().join("00000000_vpn_server.config");
    assert_eq!(fs::read_to_string(&b).unwrap(), text);
    assert_eq!(mode(&b), 0o600);
    assert_eq!(mode(&store.backup_dir()), 0o700);
    let loaded = store.load().unwrap().unwrap();
    assert!(loaded.hub("DEFAULT").unwrap().user("ALICE").is_some());
    assert_eq!(loaded.config_revision, 1);

    // saving the same content again writes nothing and backs up nothing
    let before = fs::metadata(store.path()).unwrap().modified().unwrap();
    store.save(&loaded).unwrap();
    assert_eq!(
        fs::metadata(store.path()).unwrap().modified().unwrap(),
        before
    );
    assert_eq!(backups(&store).len(), 1);
    assert!(!dir.path().join("vpn_server.config.tmp").exists());
}

#[test]
fn backups_are_bounded_and_keep_the_newest() {
    let dir = tempfile::tempdir().unwrap();
    let store = ConfigStore::new(dir.path(), Edition::Server);
    let mut cfg = ServerConfig::initial(
        Edition::Server,
        rustether_config::model::now_ms(),
        &mut rustether_config::model::system_rng(),
    );
    let n = MAX_BACKUPS as u32 + 8;
    for rev in 0..=n {
        cfg.config_revision = rev;
        store.save(&cfg).unwrap();
    }
    let b = backups(&store);
    assert_eq!(b.len(), MAX_BACKUPS);
    assert_eq!(
        b.first().unwrap(),
        &format!("{:08}_vpn_server.config", n - MAX_BACKUPS as u32)
    );
    assert_eq!(
        b.last().unwrap(),
        &format!("{:08}_vpn_server.config", n - 1)
    );
    // unrelated files in the backup directory are left alone
    fs::write(store.backup_dir().join("2026112201_vpn_server.config"), "x").unwrap();
    cfg.config_revision += 1;
    store.save(&cfg).unwrap();
    assert!(store
        .backup_dir()
        .join("2026112201_vpn_server.config")
        .exists());
}

#[test]
fn dont_backup_config_is_honoured() {
    let dir = tempfile::tempdir().unwrap();
    let store = ConfigStore::new(dir.path(), Edition::Server);
    let mut cfg = ServerConfig::initial(
        Edition::Server,
        rustether_config::model::now_ms(),
        &mut rustether_config::model::system_rng(),
    );
    cfg.server.dont_backup_config = true;
    store.save(&cfg).unwrap();
    cfg.config_revision = 5;
    store.save(&cfg).unwrap();
    assert!(backups(&store).is_empty());
}

#[test]
fn corrupt_file_is_reported_and_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    let store = ConfigStore::new(dir.path(), Edition::Server);
    let mut text = write_text(
        &ServerConfig::initial(
            Edition::Server,
            rustether_config::model::now_ms(),
            &mut rustether_config::model::system_rng(),
        )
        .to_root(),
    );
    text = text.replacen(
        "\tbool Enabled true",
        "\tbool Enabled true\r\n\tdeclare Oops",
        1,
    );
    fs::write(store.path(), &text).unwrap();
    let e = store.load().unwrap_err();
    let line = e.line().expect("a parse error has a line");
    assert_eq!(text.lines().nth(line - 1).unwrap().trim(), "declare Oops");
    assert_eq!(e.path(), Some(store.path()));
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!("file {}, line {line}: ", store.path().display())),
        "{msg}"
    );
    assert_eq!(fs::read_to_string(store.path()).unwrap(), text);

    // a file that parses but is not a server configuration
    fs::write(store.path(), "declare root\n{\n}\n").unwrap();
    let e = store.load().unwrap_err();
    assert!(matches!(e, ConfigError::Invalid { .. }));
    assert!(e.to_string().contains("ServerConfiguration"));
}

#[test]
fn new_file_hand_off_is_loaded_saved_and_deleted() {
    let dir = tempfile::tempdir().unwrap();
    let store = ConfigStore::new(dir.path(), Edition::Server);
    store
        .save(&ServerConfig::initial(
            Edition::Server,
            rustether_config::model::now_ms(),
            &mut rustether_config::model::system_rng(),
        ))
        .unwrap();
    let mut cfg = ServerConfig::initial(
        Edition::Server,
        rustether_config::model::now_ms(),
        &mut rustether_config::model::system_rng(),
    );
    cfg.hubs.push(HubConfig::new(
        "FROMNEW",
        rustether_config::model::now_ms(),
        &mut rustether_config::model::system_rng(),
    ));
    cfg.config_revision = 9;
    let new = dir.path().join("vpn_server.config.new");
    // LF-only, no banner: any text SoftEther's SetConfig would accept
    let text = write_text(&cfg.to_root()).replace("\r\n", "\n");
    fs::write(&new, text.trim_start_matches('\u{feff}')).unwrap();
    let loaded = store.load().unwrap().unwrap();
    assert!(loaded.hub("fromnew").is_some());
    assert!(!new.exists());
    assert!(fs::read_to_string(store.path())
        .unwrap()
        .contains("declare FROMNEW\r\n"));
    assert_eq!(backups(&store), ["00000000_vpn_server.config"]);

    // a broken .new is an error naming it, and stays for the administrator
    fs::write(&new, "declare root\n{\n").unwrap();
    let before = fs::read(store.path()).unwrap();
    let e = store.load().unwrap_err();
    assert!(
        e.to_string().contains("vpn_server.config.new, line 1"),
        "{e}"
    );
    assert!(new.exists());
    assert_eq!(fs::read(store.path()).unwrap(), before);
}

#[test]
fn interrupted_softether_save_is_recovered_from_the_log_file() {
    let dir = tempfile::tempdir().unwrap();
    let store = ConfigStore::new(dir.path(), Edition::Server);
    let mut good = ServerConfig::initial(
        Edition::Server,
        rustether_config::model::now_ms(),
        &mut rustether_config::model::system_rng(),
    );
    good.config_revision = 3;
    let mut log = write_text(&good.to_root()).into_bytes();
    log.push(0x1A);
    fs::write(dir.path().join("vpn_server.config.log"), &log).unwrap();
    fs::write(store.path(), "declare root\n{\n\tuint Conf").unwrap(); // half written
    let loaded = store.load().unwrap().unwrap();
    assert_eq!(loaded.config_revision, 3);
    store.save(&loaded).unwrap();
    assert!(!dir.path().join("vpn_server.config.log").exists());
    assert_eq!(store.load().unwrap().unwrap().config_revision, 3);

    // without the 0x1A marker the .log is ignored
    log.pop();
    let mut other = good.clone();
    other.config_revision = 4;
    fs::write(dir.path().join("vpn_server.config.log"), &log).unwrap();
    store.save(&other).unwrap();
    fs::write(dir.path().join("vpn_server.config.log"), &log).unwrap();
    assert_eq!(store.load().unwrap().unwrap().config_revision, 4);
}

#[test]
fn save_text_validates_first() {
    let dir = tempfile::tempdir().unwrap();
    let store = ConfigStore::new(dir.path(), Edition::Server);
    let e = store
        .save_text("declare root\n{\n\tbogus line\n}\n")
        .unwrap_err();
    assert_eq!(e.line(), Some(3));
    assert_eq!(
        e.to_string(),
        e.to_string().replace("file ", ""),
        "no path for RPC text"
    );
    assert!(!store.path().exists());
    let e = store.save_text("declare root\n{\n}\n").unwrap_err();
    assert!(matches!(e, ConfigError::Invalid { .. }));
    assert!(!store.path().exists());

    let mut cfg = ServerConfig::initial(
        Edition::Server,
        rustether_config::model::now_ms(),
        &mut rustether_config::model::system_rng(),
    );
    cfg.hubs.push(HubConfig::new(
        "X",
        rustether_config::model::now_ms(),
        &mut rustether_config::model::system_rng(),
    ));
    let applied = store.save_text(&write_text(&cfg.to_root())).unwrap();
    assert!(applied.hub("X").is_some());
    assert!(store.load().unwrap().unwrap().hub("X").is_some());
}

#[test]
fn stale_temporary_file_is_replaced() {
    let dir = tempfile::tempdir().unwrap();
    let store = ConfigStore::new(dir.path(), Edition::Bridge);
    let tmp = dir.path().join("vpn_bridge.config.tmp");
    fs::write(&tmp, "garbage").unwrap();
    fs::set_permissions(&tmp, fs::Permissions::from_mode(0o644)).unwrap();
    store
        .save(&ServerConfig::initial(
            Edition::Bridge,
            rustether_config::model::now_ms(),
            &mut rustether_config::model::system_rng(),
        ))
        .unwrap();
    assert!(!tmp.exists());
    assert_eq!(mode(store.path()), 0o600);
    assert!(store.load().unwrap().unwrap().hub("BRIDGE").is_some());
}

#[test]
fn bridge_hubs_without_online_key_run() {
    let dir = tempfile::tempdir().unwrap();
    let store = ConfigStore::new(dir.path(), Edition::Bridge);
    let mut root = ServerConfig::initial(
        Edition::Bridge,
        rustether_config::model::now_ms(),
        &mut rustether_config::model::system_rng(),
    )
    .to_root();
    root.folder_mut("VirtualHUB").unwrap().folders[0].remove_item("Online");
    fs::write(store.path(), write_text(&root)).unwrap();
    assert!(store.load().unwrap().unwrap().hub("BRIDGE").unwrap().online);
    let server = ConfigStore::new(dir.path(), Edition::Server);
    fs::write(server.path(), write_text(&root)).unwrap();
    assert!(
        !server
            .load()
            .unwrap()
            .unwrap()
            .hub("BRIDGE")
            .unwrap()
            .online
    );
}
