//! Per-test working directories.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};

use anyhow::{Context, Result};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// A fresh directory `$TMPDIR/rustether-<label>-<pid>-<n>` for one test's
/// state and logs.
///
/// Removed on drop, except when the thread is panicking (a failed test) or
/// `RUSTETHER_KEEP_LOGS=1` is set; then its path is printed so the logs can be
/// read.
#[derive(Debug)]
pub struct TestDir {
    path: PathBuf,
    keep: bool,
}

impl TestDir {
    /// Create the directory. `label` should be short and path-safe.
    ///
    /// Errors: the directory cannot be created.
    pub fn new(label: &str) -> Result<TestDir> {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let path =
            std::env::temp_dir().join(format!("rustether-{label}-{}-{n}", std::process::id()));
        if path.exists() {
            std::fs::remove_dir_all(&path).ok();
        }
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(TestDir {
            path,
            keep: std::env::var_os("RUSTETHER_KEEP_LOGS").is_some_and(|v| v == "1"),
        })
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// `path()/name`, creating it as a directory.
    ///
    /// Errors: it cannot be created.
    pub fn subdir(&self, name: &str) -> Result<PathBuf> {
        let p = self.path.join(name);
        std::fs::create_dir_all(&p).with_context(|| format!("cannot create {}", p.display()))?;
        Ok(p)
    }

    /// Keep the directory when dropped.
    pub fn keep(&mut self) {
        self.keep = true;
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        if self.keep || std::thread::panicking() {
            eprintln!("testkit: logs kept in {}", self.path.display());
            return;
        }
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unique_and_removed() {
        let a = TestDir::new("tmpunit").unwrap();
        let b = TestDir::new("tmpunit").unwrap();
        assert_ne!(a.path(), b.path());
        let p = a.subdir("x/y").unwrap();
        assert!(p.is_dir());
        let root = a.path().to_path_buf();
        drop(a);
        assert!(!root.exists());
    }
}
