//! Atomic output: a file or directory appears complete or not at all, so an
//! error never leaves a half-written artefact behind.

use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};

fn sibling_tmp(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    target.with_file_name(format!(".{name}.tmp-{}", std::process::id()))
}

/// Writes `bytes` to `path` through a temporary sibling and a rename.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    let tmp = sibling_tmp(path);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)
            .with_context(|| format!("{}: cannot create", tmp.display()))?;
        f.write_all(bytes)
            .with_context(|| format!("{}: cannot write", tmp.display()))?;
        f.sync_all().ok();
        std::fs::rename(&tmp, path)
            .with_context(|| format!("{}: cannot rename into place", path.display()))
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A directory built under a temporary name and renamed into place by
/// [`AtomicDir::commit`]; dropped without commit, it is removed.
pub struct AtomicDir {
    target: PathBuf,
    tmp: PathBuf,
    committed: bool,
}

impl AtomicDir {
    /// `marker` names a file that identifies a directory this tool wrote
    /// earlier: an existing target is replaced only if it holds the marker
    /// (or is empty), so unrelated directories are never deleted.
    pub fn new(target: &Path, marker: &str) -> Result<AtomicDir> {
        if target.exists() {
            let empty = std::fs::read_dir(target)
                .map(|mut d| d.next().is_none())
                .unwrap_or(false);
            if !target.is_dir() || (!empty && !target.join(marker).exists()) {
                bail!(
                    "{}: exists and was not written by nasa (no {marker}); refusing to replace it",
                    target.display()
                );
            }
        }
        let tmp = sibling_tmp(target);
        if tmp.exists() {
            std::fs::remove_dir_all(&tmp)
                .with_context(|| format!("{}: cannot remove stale temporary", tmp.display()))?;
        }
        std::fs::create_dir_all(&tmp)
            .with_context(|| format!("{}: cannot create", tmp.display()))?;
        Ok(AtomicDir {
            target: target.to_path_buf(),
            tmp,
            committed: false,
        })
    }

    /// Where to write the directory's files until commit.
    pub fn path(&self) -> &Path {
        &self.tmp
    }

    pub fn commit(mut self) -> Result<()> {
        if self.target.exists() {
            std::fs::remove_dir_all(&self.target)
                .with_context(|| format!("{}: cannot replace", self.target.display()))?;
        }
        std::fs::rename(&self.tmp, &self.target)
            .with_context(|| format!("{}: cannot rename into place", self.target.display()))?;
        self.committed = true;
        Ok(())
    }
}

impl Drop for AtomicDir {
    fn drop(&mut self) {
        if !self.committed {
            let _ = std::fs::remove_dir_all(&self.tmp);
        }
    }
}

/// The executable of this name on the PATH, if any.
pub fn on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}
