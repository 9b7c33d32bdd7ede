//! The data dir as the zip sees it: depth first, names in byte order, temp files and the lock
//! left out, and symbolic links (or sockets, pipes, devices) never followed nor read.

use std::fs::{File, Metadata};
use std::io;
use std::path::{Path, PathBuf};

use crate::store::atomic;

/// The data dir, depth first: a folder, then its contents, names sorted by bytes. Holds one
/// listing per level, not the whole tree. Links and other entries that are neither a file nor
/// a folder are left out and listed in [`Walk::skipped`].
pub struct Walk {
    root: PathBuf,
    stack: Vec<(String, std::vec::IntoIter<(String, bool)>)>,
    skipped: Vec<String>,
}

impl Walk {
    pub fn new(root: &Path) -> io::Result<Walk> {
        let mut skipped = Vec::new();
        let top = Self::list(root, "", &mut skipped)?;
        Ok(Walk {
            root: root.to_path_buf(),
            stack: vec![(String::new(), top.into_iter())],
            skipped,
        })
    }

    fn list(
        dir: &Path,
        prefix: &str,
        skipped: &mut Vec<String>,
    ) -> io::Result<Vec<(String, bool)>> {
        let mut v = Vec::new();
        for e in std::fs::read_dir(dir)? {
            let e = e?;
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with(atomic::TEMP_PREFIX) || name == crate::store::lock::LOCK_FILE {
                continue;
            }
            // The type of the entry itself: a link is a link, whatever it points to.
            let t = e.file_type()?;
            if t.is_dir() || t.is_file() {
                v.push((name, t.is_dir()));
            } else {
                skipped.push(format!("{prefix}{name}"));
            }
        }
        v.sort();
        Ok(v)
    }

    /// The next entry: its path relative to the root (`/`-separated) and whether it is a folder.
    pub fn next(&mut self) -> io::Result<Option<(String, bool)>> {
        loop {
            let Some((prefix, items)) = self.stack.last_mut() else {
                return Ok(None);
            };
            let Some((name, is_dir)) = items.next() else {
                self.stack.pop();
                continue;
            };
            let rel = format!("{prefix}{name}");
            if is_dir {
                let path = self.root.join(&rel);
                // A folder swapped for a link since it was listed is not followed either.
                if std::fs::symlink_metadata(&path)?.file_type().is_symlink() {
                    self.skipped.push(rel);
                    continue;
                }
                let listing = Self::list(&path, &format!("{rel}/"), &mut self.skipped)?;
                self.stack.push((format!("{rel}/"), listing.into_iter()));
            }
            return Ok(Some((rel, is_dir)));
        }
    }

    /// Paths (relative to the root) left out so far because they are links or special files.
    pub fn skipped(&self) -> &[String] {
        &self.skipped
    }
}

/// The order entries are written in: component by component, a folder right before its
/// contents (`a/`, `a/x`, `a.json`).
pub fn walk_order(a: &str, b: &str) -> std::cmp::Ordering {
    let parts = |s: &str| -> Vec<String> {
        s.trim_end_matches('/')
            .split('/')
            .map(str::to_string)
            .collect()
    };
    parts(a).cmp(&parts(b))
}

/// Opens the file at `path`, which [`std::fs::symlink_metadata`] found to be `meta` (a regular
/// file), and makes sure the file opened is that one: a path swapped for a link in between is
/// refused, not followed.
pub fn open_regular(path: &Path, meta: &Metadata) -> io::Result<File> {
    // Not through a link, never blocking on a FIFO swapped in, a regular file only.
    let f = crate::store::links::open_file(path)?;
    let opened = f.metadata()?;
    #[cfg(unix)]
    let same = {
        use std::os::unix::fs::MetadataExt;
        opened.dev() == meta.dev() && opened.ino() == meta.ino()
    };
    #[cfg(not(unix))]
    let same = meta.is_file();
    if !same || !opened.is_file() {
        return Err(io::Error::other(
            "it was replaced by a link or another file while being zipped",
        ));
    }
    Ok(f)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn walk_order_puts_a_folder_before_its_contents() {
        let mut v = vec!["a.json", "a/x", "a/", "a__m.json", "b"];
        v.sort_by(|a, b| walk_order(a, b));
        assert_eq!(v, ["a/", "a/x", "a.json", "a__m.json", "b"]);
    }
}
