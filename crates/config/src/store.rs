//! Crash-safe storage of the configuration file (docs/config-format.md §5.2, §6).
//!
//! # Differences from SoftEther
//!
//! * **Atomic saves.** SoftEther copies the old file to `<file>.log` (+ a
//!   0x1A marker), rewrites `<file>` in place and deletes the `.log`. Here the
//!   new content goes to `<file>.tmp` in the same directory, is fsynced, the
//!   previous file is kept as a backup, `<file>.tmp` is renamed over
//!   `<file>` and the directory is fsynced: at every instant `<file>` is
//!   either the complete old or the complete new configuration.
//! * **Backups of the previous file.** Before it is replaced, the previous
//!   file is kept (hard link, else copy) as
//!   `backup.<file name>/<8-digit revision>_<file name>`, the revision being
//!   the `ConfigRevision` of that previous file. At most [`MAX_BACKUPS`] such
//!   files are kept (the oldest by modification time are deleted);
//!   SoftEther's backups accumulate without bound. `DontBackupConfig` is
//!   honoured. An unchanged configuration is not rewritten at all.
//! * **Never overwrite what does not load.** [`ConfigStore::load`] fails
//!   with the file name and line instead of starting from defaults, so the
//!   server refuses to start and the administrator's file stays untouched.
//!   A corrupt `<file>.new` is left in place (SoftEther deletes it).
//! * Mode 0600 for the file, its backups and the temporary file: they hold
//!   the server's private key.
//!
//! Load order, as SoftEther `CfgReadW`: `<file>.new` (written by the
//! `SetConfig` RPC; saved as the configuration and deleted after it loads),
//! then `<file>.log` if it ends with the 0x1A marker (a SoftEther save that
//! was interrupted; only possible after migrating from SoftEther), then
//! `<file>`. SoftEther's `vpn_server_template.config` and `save_binary`
//! switch are not supported (binary files are read, never written).

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use crate::cfg::{parse_bytes, write_text};
use crate::edition::Edition;
use crate::error::ConfigError;
use crate::model::ServerConfig;

/// How many `<revision>_<file>` backups are kept.
pub const MAX_BACKUPS: usize = 32;

/// The configuration file of one server instance and its companions.
#[derive(Debug)]
pub struct ConfigStore {
    dir: PathBuf,
    path: PathBuf,
    edition: Edition,
    /// Serialises saves within the process (they share `<file>.tmp`).
    lock: Mutex<()>,
}

impl ConfigStore {
    /// The store for `edition`'s file (`vpn_server.config` /
    /// `vpn_bridge.config`) in `state_dir`. Nothing is touched on disk.
    pub fn new(state_dir: &Path, edition: Edition) -> ConfigStore {
        ConfigStore {
            dir: state_dir.to_path_buf(),
            path: state_dir.join(edition.config_file_name()),
            edition,
            lock: Mutex::new(()),
        }
    }

    /// The configuration file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The backup directory: `backup.<file name>` next to the file.
    pub fn backup_dir(&self) -> PathBuf {
        self.dir
            .join(format!("backup.{}", self.edition.config_file_name()))
    }

    fn sibling(&self, suffix: &str) -> PathBuf {
        let mut s = self.path.clone().into_os_string();
        s.push(suffix);
        PathBuf::from(s)
    }

    /// Load the configuration: `<file>.new` (then saved as `<file>` and
    /// deleted), else an interrupted SoftEther save's `<file>.log`, else
    /// `<file>`. `Ok(None)` if none exists. Errors name the file and, for
    /// parse errors, the line; nothing is written or deleted on error.
    pub fn load(&self) -> Result<Option<ServerConfig>, ConfigError> {
        let new = self.sibling(".new");
        if let Some(bytes) = read_if_exists(&new)? {
            if !bytes.is_empty() {
                let cfg = self.decode(&bytes, &new)?;
                self.save(&cfg)?;
                fs::remove_file(&new).map_err(|e| ConfigError::io(&new, e))?;
                tracing::info!(
                    "loaded {} and saved it as {}",
                    new.display(),
                    self.path.display()
                );
                return Ok(Some(cfg));
            }
        }
        let log = self.sibling(".log");
        if let Some(bytes) = read_if_exists(&log)? {
            if bytes.len() >= 2 && bytes.last() == Some(&0x1A) {
                tracing::warn!(
                    "{} holds an interrupted SoftEther save; loading it instead of {}",
                    log.display(),
                    self.path.display()
                );
                return self.decode(&bytes[..bytes.len() - 1], &log).map(Some);
            }
        }
        match read_if_exists(&self.path)? {
            None => Ok(None),
            Some(bytes) => self.decode(&bytes, &self.path).map(Some),
        }
    }

    fn decode(&self, bytes: &[u8], path: &Path) -> Result<ServerConfig, ConfigError> {
        let root = parse_bytes(bytes).map_err(|e| ConfigError::from(e).with_path(path))?;
        let mut cfg = ServerConfig::from_root(&root).map_err(|e| e.with_path(path))?;
        cfg.normalize_for(self.edition);
        Ok(cfg)
    }

    /// Save `cfg` atomically (see the module documentation). Does nothing
    /// if the file already holds exactly this text.
    pub fn save(&self, cfg: &ServerConfig) -> Result<(), ConfigError> {
        let text = write_text(&cfg.to_root());
        self.save_raw(text.as_bytes(), !cfg.server.dont_backup_config)
    }

    /// Validate `text` (an administrator's complete configuration, e.g. from
    /// the `SetConfig` RPC) by parsing it, then save it in canonical form.
    /// Invalid text → error (with the line, without a path) and nothing is
    /// written. Returns the configuration now in force.
    pub fn save_text(&self, text: &str) -> Result<ServerConfig, ConfigError> {
        let root = parse_bytes(text.as_bytes()).map_err(ConfigError::from)?;
        let mut cfg = ServerConfig::from_root(&root)?;
        cfg.normalize_for(self.edition);
        self.save(&cfg)?;
        Ok(cfg)
    }

    fn save_raw(&self, content: &[u8], backup: bool) -> Result<(), ConfigError> {
        let _guard = self.lock.lock().unwrap_or_else(|p| p.into_inner());
        let old = read_if_exists(&self.path)?;
        if old.as_deref() == Some(content) {
            return Ok(());
        }

        let tmp = self.sibling(".tmp");
        let io = |p: &Path| {
            let p = p.to_path_buf();
            move |e| ConfigError::Io { path: p, source: e }
        };
        // A stale temporary file (crash during an earlier save) may have
        // other permissions: start afresh.
        match fs::remove_file(&tmp) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(ConfigError::io(&tmp, e)),
        }
        {
            let mut f = private_new_file(&tmp).map_err(io(&tmp))?;
            f.write_all(content).map_err(io(&tmp))?;
            f.sync_all().map_err(io(&tmp))?;
        }

        if let (true, Some(old)) = (backup, old.as_deref()) {
            if let Err(e) = self.keep_backup(old) {
                // A failed backup must not prevent saving the configuration.
                tracing::warn!("configuration backup failed: {e}");
            }
        }

        if let Err(e) = fs::rename(&tmp, &self.path) {
            let _ = fs::remove_file(&tmp);
            return Err(ConfigError::io(&self.path, e));
        }
        fsync_dir(&self.dir).map_err(io(&self.dir))?;
        // Our save supersedes an interrupted SoftEther save.
        let _ = fs::remove_file(self.sibling(".log"));
        Ok(())
    }

    /// Keep the previous file as `backup.<name>/<revision>_<name>` and prune
    /// the oldest beyond [`MAX_BACKUPS`].
    fn keep_backup(&self, old: &[u8]) -> Result<(), ConfigError> {
        let dir = self.backup_dir();
        match fs::create_dir(&dir) {
            Ok(()) => {
                set_mode(&dir, 0o700);
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(ConfigError::io(&dir, e)),
        }
        let name = self.edition.config_file_name();
        let rev = revision_of(old);
        let dst = dir.join(format!("{rev:08}_{name}"));
        let _ = fs::remove_file(&dst);
        if fs::hard_link(&self.path, &dst).is_err() {
            let mut f = private_new_file(&dst).map_err(|e| ConfigError::io(&dst, e))?;
            f.write_all(old).map_err(|e| ConfigError::io(&dst, e))?;
            f.sync_all().map_err(|e| ConfigError::io(&dst, e))?;
        }
        set_mode(&dst, 0o600);
        fsync_dir(&dir).map_err(|e| ConfigError::io(&dir, e))?;
        prune_backups(&dir, name, MAX_BACKUPS).map_err(|e| ConfigError::io(&dir, e))
    }
}

/// Creates a new file readable only by its owner (mode 0600 on Unix: the
/// configuration holds the server's private key).
fn private_new_file(path: &Path) -> std::io::Result<fs::File> {
    let mut o = OpenOptions::new();
    o.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    o.open(path)
}

/// Sets Unix permission bits (best effort; nothing to do elsewhere).
fn set_mode(path: &Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = fs::set_permissions(path, fs::Permissions::from_mode(mode));
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
}

fn read_if_exists(path: &Path) -> Result<Option<Vec<u8>>, ConfigError> {
    match fs::read(path) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ConfigError::io(path, e)),
    }
}

fn fsync_dir(dir: &Path) -> std::io::Result<()> {
    // Makes the rename durable on Unix; Windows has no directory handles to sync.
    #[cfg(unix)]
    return fs::File::open(dir)?.sync_all();
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// `ConfigRevision` of a file's content, or 0 if it cannot be read (a
/// corrupt previous file is still worth backing up).
fn revision_of(content: &[u8]) -> u32 {
    parse_bytes(content)
        .ok()
        .and_then(|root| root.get_uint("ConfigRevision"))
        .unwrap_or(0)
}

/// Delete the oldest (by modification time) `NNNNNNNN_<name>` files in
/// `dir` so that at most `keep` remain. Other files are not touched.
fn prune_backups(dir: &Path, name: &str, keep: usize) -> std::io::Result<()> {
    let suffix = format!("_{name}");
    let mut found = Vec::new();
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        let file_name = entry.file_name();
        let Some(n) = file_name.to_str() else {
            continue;
        };
        let Some(prefix) = n.strip_suffix(&suffix) else {
            continue;
        };
        if prefix.len() != 8 || !prefix.bytes().all(|c| c.is_ascii_digit()) {
            continue;
        }
        let mtime = entry.metadata()?.modified()?;
        found.push((mtime, n.to_string(), entry.path()));
    }
    if found.len() <= keep {
        return Ok(());
    }
    found.sort();
    for (_, _, path) in &found[..found.len() - keep] {
        fs::remove_file(path)?;
    }
    Ok(())
}
