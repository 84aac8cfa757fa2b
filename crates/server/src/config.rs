//! The running configuration: an immutable snapshot that every reader
//! (logins, new connections, administration reads) takes without a lock,
//! and one writer at a time that builds the next snapshot, saves it and
//! only then publishes it.
//!
//! Saving writes the file atomically with fsyncs
//! (`rustether_config::store::ConfigStore::save`), which can take tens of
//! milliseconds on a loaded disk. The writer runs off the runtime threads
//! (`Server::update_config` moves it to tokio's blocking pool; the
//! administration RPCs already run there), so a stream of changes never
//! holds up a login: a login reads the snapshot published last, whatever
//! the writer is doing. A change is visible to readers only once it is on
//! disk; on a save error it is dropped, and readers never see it.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use arc_swap::ArcSwap;
use parking_lot::{Mutex, MutexGuard};
use rustether_config::store::ConfigStore;
use rustether_config::ServerConfig;

/// Where snapshots are saved: the configuration file (the [`ConfigStore`]),
/// or a stand-in in tests.
pub trait Persist: Send {
    /// Saves `cfg` atomically (with a backup). Errors: the text of the
    /// I/O error.
    fn save(&mut self, cfg: &ServerConfig) -> Result<(), String>;
    /// Checks that `text` is a loadable configuration, saves it atomically
    /// and returns it parsed. Errors: the parse error (naming the line) or
    /// the I/O error.
    fn save_text(&mut self, text: &str) -> Result<ServerConfig, String>;
    /// The file the configuration is saved in.
    fn path(&self) -> PathBuf;
}

impl Persist for ConfigStore {
    fn save(&mut self, cfg: &ServerConfig) -> Result<(), String> {
        ConfigStore::save(self, cfg).map_err(|e| e.to_string())
    }

    fn save_text(&mut self, text: &str) -> Result<ServerConfig, String> {
        ConfigStore::save_text(self, text).map_err(|e| e.to_string())
    }

    fn path(&self) -> PathBuf {
        ConfigStore::path(self).to_path_buf()
    }
}

/// The running configuration (see the module docs).
pub struct ConfigCell {
    current: ArcSwap<ServerConfig>,
    /// The one writer. Taken only off the runtime threads: it is held
    /// across a save.
    writer: Mutex<Box<dyn Persist>>,
    path: PathBuf,
}

impl std::fmt::Debug for ConfigCell {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ConfigCell")
            .field("path", &self.path)
            .field("revision", &self.current.load().config_revision)
            .finish_non_exhaustive()
    }
}

impl ConfigCell {
    /// A cell publishing `initial` (already saved) and saving through `store`.
    pub fn new(initial: ServerConfig, store: Box<dyn Persist>) -> ConfigCell {
        let path = store.path();
        ConfigCell {
            current: ArcSwap::from_pointee(initial),
            writer: Mutex::new(store),
            path,
        }
    }

    /// The snapshot published last. Lock-free; a writer saving at the same
    /// time is not waited for.
    pub fn snapshot(&self) -> Arc<ServerConfig> {
        self.current.load_full()
    }

    /// Runs `f` on the snapshot published last (lock-free, without taking a
    /// reference count).
    pub fn read<T>(&self, f: impl FnOnce(&ServerConfig) -> T) -> T {
        f(&self.current.load())
    }

    /// The file the configuration is saved in.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Becomes the writer, waiting for the one before. Blocks: call it off
    /// the runtime threads.
    pub fn write(&self) -> ConfigWriter<'_> {
        ConfigWriter {
            cell: self,
            store: self.writer.lock(),
        }
    }

    /// Replaces how snapshots are saved (tests: slow or failing saves).
    #[cfg(test)]
    pub(crate) fn set_persist(&self, store: Box<dyn Persist>) {
        *self.writer.lock() = store;
    }
}

/// The writer of a [`ConfigCell`]: builds, saves and publishes snapshots.
/// Other writers wait until it is dropped; readers never do.
pub struct ConfigWriter<'a> {
    cell: &'a ConfigCell,
    store: MutexGuard<'a, Box<dyn Persist>>,
}

impl ConfigWriter<'_> {
    /// The snapshot published last (the base of the next one).
    pub fn current(&self) -> Arc<ServerConfig> {
        self.cell.current.load_full()
    }

    /// Saves `cfg` and, if that worked, publishes it. On a save error
    /// nothing is published. Errors: the save error's text.
    pub fn commit(&mut self, cfg: ServerConfig) -> Result<Arc<ServerConfig>, String> {
        self.store.save(&cfg)?;
        let cfg = Arc::new(cfg);
        self.cell.current.store(cfg.clone());
        Ok(cfg)
    }

    /// Saves `text` (checked to load first) and returns it parsed, without
    /// publishing it: the caller may still fix it up ([`Self::commit`]) or
    /// publish it as it is ([`Self::publish`]).
    pub fn save_text(&mut self, text: &str) -> Result<ServerConfig, String> {
        self.store.save_text(text)
    }

    /// Publishes `cfg` without saving it (it was saved by
    /// [`Self::save_text`]).
    pub fn publish(&mut self, cfg: ServerConfig) -> Arc<ServerConfig> {
        let cfg = Arc::new(cfg);
        self.cell.current.store(cfg.clone());
        cfg
    }

    /// Saves the published snapshot again (shutdown, `Flush`).
    pub fn save_current(&mut self) -> Result<(), String> {
        let cfg = self.current();
        self.store.save(&cfg)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rustether_config::Edition;

    /// Saves into memory, failing when told to.
    struct Memory {
        saved: Arc<Mutex<Vec<u32>>>,
        fail: bool,
    }

    impl Persist for Memory {
        fn save(&mut self, cfg: &ServerConfig) -> Result<(), String> {
            if self.fail {
                return Err("disk full".into());
            }
            self.saved.lock().push(cfg.config_revision);
            Ok(())
        }
        fn save_text(&mut self, _text: &str) -> Result<ServerConfig, String> {
            Err("not here".into())
        }
        fn path(&self) -> PathBuf {
            PathBuf::from("/nonexistent/vpn_server.config")
        }
    }

    #[test]
    fn readers_see_a_change_only_once_it_is_saved() {
        let saved = Arc::new(Mutex::new(Vec::new()));
        let cell = ConfigCell::new(
            ServerConfig::initial(
                Edition::Server,
                rustether_config::model::now_ms(),
                &mut rustether_config::model::system_rng(),
            ),
            Box::new(Memory {
                saved: saved.clone(),
                fail: false,
            }),
        );
        let before = cell.snapshot();
        let mut w = cell.write();
        let mut next = (*w.current()).clone();
        next.config_revision = 7;
        // building the next snapshot changes nothing for readers
        assert_eq!(cell.read(|c| c.config_revision), 0);
        w.commit(next).unwrap();
        drop(w);
        assert_eq!(cell.read(|c| c.config_revision), 7);
        assert_eq!(*saved.lock(), vec![7]);
        // an older snapshot stays valid and unchanged for whoever holds it
        assert_eq!(before.config_revision, 0);

        cell.set_persist(Box::new(Memory {
            saved: saved.clone(),
            fail: true,
        }));
        let mut w = cell.write();
        let mut next = (*w.current()).clone();
        next.config_revision = 8;
        assert_eq!(w.commit(next), Err("disk full".to_string()));
        assert_eq!(w.save_current(), Err("disk full".to_string()));
        drop(w);
        assert_eq!(cell.read(|c| c.config_revision), 7, "not published");
        assert_eq!(*saved.lock(), vec![7]);
    }
}
