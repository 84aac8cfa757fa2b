//! Single-instance lock: `flock(LOCK_EX|LOCK_NB)` on `<state>/<program>.lock`.
//!
//! `flock` (not SoftEther's `fcntl` lock) because the lock belongs to the
//! open file description: the worker inherits the descriptor from the
//! supervisor, so the instance stays locked while *either* process lives
//! (an orphaned worker whose supervisor was killed still blocks a second
//! `start`). The file is never unlinked, not even after a failed attempt
//! (SoftEther 5.01 unlinks it there, `process-model` 4.2).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::fd::AsRawFd;

use rustix::fs::{flock, FlockOperation};
use rustix::io::Errno;
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;

/// A held instance lock; released when dropped (and when every process
/// holding an inherited copy of the descriptor has exited).
#[derive(Debug)]
pub(crate) struct InstanceLock {
    file: File,
}

/// Why the lock could not be taken.
#[derive(Debug, thiserror::Error)]
pub(crate) enum LockError {
    /// Another process holds it: an instance is running.
    #[error("the lock is held by a running instance")]
    Held,
    /// The lock file cannot be opened or locked.
    #[error("cannot open the lock file {path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// OS error.
        source: io::Error,
    },
}

impl InstanceLock {
    /// Opens (creating, mode 0600) and locks `path` without blocking.
    pub(crate) fn acquire(path: &Path) -> Result<InstanceLock, LockError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o600)
            .open(path)
            .map_err(|source| LockError::Io {
                path: path.display().to_string(),
                source,
            })?;
        // `rustix::fs::flock`, not `nix::fcntl::Flock`: nix's guard unlocks
        // on drop, which would release the lock the worker inherited.
        loop {
            match flock(&file, FlockOperation::NonBlockingLockExclusive) {
                Ok(()) => return Ok(InstanceLock { file }),
                Err(Errno::INTR) => continue,
                Err(Errno::WOULDBLOCK) => return Err(LockError::Held),
                Err(e) => {
                    return Err(LockError::Io {
                        path: path.display().to_string(),
                        source: e.into(),
                    })
                }
            }
        }
    }

    /// True when an instance holds the lock at `path`. A missing file means
    /// no instance. Takes the lock for an instant when it is free (and never
    /// removes the file).
    pub(crate) fn is_held(path: &Path) -> Result<bool, LockError> {
        if !path.exists() {
            return Ok(false);
        }
        match InstanceLock::acquire(path) {
            Ok(l) => {
                drop(l);
                Ok(false)
            }
            Err(LockError::Held) => Ok(true),
            Err(e) => Err(e),
        }
    }

    /// The descriptor, for handing it to the worker.
    pub(crate) fn raw_fd(&self) -> i32 {
        self.file.as_raw_fd()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_acquire_fails_and_file_stays() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("x.lock");
        assert!(!InstanceLock::is_held(&p).unwrap());
        let l = InstanceLock::acquire(&p).unwrap();
        assert!(matches!(InstanceLock::acquire(&p), Err(LockError::Held)));
        assert!(p.exists(), "a failed attempt must not unlink the lock file");
        assert!(InstanceLock::is_held(&p).unwrap());
        drop(l);
        assert!(!InstanceLock::is_held(&p).unwrap());
        assert!(p.exists());
        let _again = InstanceLock::acquire(&p).unwrap();
    }
}
