//! A folder whose entries start with an object id (`<id>__...`), indexed by that id.

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};

use super::atomic::{self, Dir, DirSync};
use super::layout::{component, id_prefix};
use super::links;
use super::{IoPath, StoreError};

/// A folder such as `users/` or `teams/`, with an index from id to the names of its entries.
pub struct IdDir {
    dir: PathBuf,
    /// The folder held open (not through a link): every file is written by name in it.
    fd: Dir,
    index: HashMap<String, BTreeSet<String>>,
    sync: DirSync,
}

impl IdDir {
    /// Opens (creating it 0700) the folder `dir`, whose parents were checked not to be links.
    pub(crate) fn open(dir: &Path, sync: &DirSync) -> Result<Self, StoreError> {
        links::ensure_dir(dir)?;
        let fd = Dir::open(dir).at(dir)?;
        if let Some(p) = dir.parent() {
            sync.mark(p);
        }
        let mut index: HashMap<String, BTreeSet<String>> = HashMap::new();
        for entry in std::fs::read_dir(dir).at(dir)? {
            let entry = entry.at(dir)?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with(atomic::TEMP_PREFIX) {
                continue;
            }
            let kind = entry.file_type().at(dir)?;
            if !kind.is_file() && !kind.is_dir() && !kind.is_symlink() {
                // a FIFO or the like: damage, reported (once) and left alone
                let _ = links::damage_error(&entry.path(), links::kind_of(kind));
            }
            index
                .entry(id_prefix(&name).to_string())
                .or_default()
                .insert(name);
        }
        Ok(IdDir {
            dir: dir.to_path_buf(),
            fd,
            index,
            sync: sync.clone(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.dir
    }

    /// Names of the entries (files and folders) of an id.
    pub fn names_of<'a>(&'a self, id: &str) -> impl Iterator<Item = &'a str> + 'a {
        self.index.get(id).into_iter().flatten().map(String::as_str)
    }

    /// The ids that have an entry whose name matches `pred`.
    pub fn ids_with<'a>(
        &'a self,
        pred: impl Fn(&str) -> bool + 'a,
    ) -> impl Iterator<Item = String> + 'a {
        self.index
            .iter()
            .filter(move |(_, names)| names.iter().any(|n| pred(n)))
            .map(|(id, _)| id.clone())
    }

    pub fn contains(&self, name: &str) -> bool {
        self.index
            .get(id_prefix(name))
            .is_some_and(|s| s.contains(name))
    }

    pub fn read(&self, name: &str) -> Option<Vec<u8>> {
        links::read(&self.dir.join(name)).ok()
    }

    pub fn read_json(&self, name: &str) -> Option<serde_json::Value> {
        serde_json::from_slice(&self.read(name)?).ok()
    }

    /// Writes a file atomically, unless it already holds exactly these bytes. Returns whether
    /// it wrote.
    pub fn write(&mut self, name: &str, data: &[u8]) -> Result<bool, StoreError> {
        let path = self.dir.join(name);
        if self.contains(name) && links::read(&path).is_ok_and(|old| old == data) {
            return Ok(false);
        }
        self.fd.write_batched(name, data, &self.sync).at(&path)?;
        self.note(name);
        Ok(true)
    }

    /// Records an entry created by someone else (an attachment download, a renamed folder).
    pub(crate) fn note(&mut self, name: &str) {
        self.index
            .entry(id_prefix(name).to_string())
            .or_default()
            .insert(name.to_string());
    }

    /// Removes the files of `id` that match `pred` and are not in `keep` (folders are kept).
    pub fn remove_others(
        &mut self,
        id: &str,
        keep: &[&str],
        pred: impl Fn(&str) -> bool,
    ) -> Result<(), StoreError> {
        let Some(names) = self.index.get_mut(id) else {
            return Ok(());
        };
        let doomed: Vec<String> = names
            .iter()
            .filter(|n| !keep.contains(&n.as_str()) && pred(n))
            .cloned()
            .collect();
        for n in doomed {
            let p = self.dir.join(&n);
            if std::fs::symlink_metadata(&p).is_ok_and(|m| m.is_file()) {
                std::fs::remove_file(&p).at(&p)?;
                self.sync.mark(&self.dir);
            }
            names.remove(&n);
        }
        Ok(())
    }

    /// Renames an entry (used to adopt the folder of a renamed channel or team).
    pub(crate) fn rename(&mut self, from: &str, to: &str) -> Result<(), StoreError> {
        let (a, b) = (self.dir.join(from), self.dir.join(to));
        component(from).at(&a)?;
        component(to).at(&b)?;
        std::fs::rename(&a, &b).at(&a)?;
        self.sync.mark(&self.dir);
        if let Some(s) = self.index.get_mut(id_prefix(from)) {
            s.remove(from);
        }
        self.note(to);
        Ok(())
    }

    /// The folder `<name>` below this one, adopting an existing folder of the same id under an
    /// older name (so a renamed channel or team keeps its posts and files).
    pub(crate) fn adopt_dir(&mut self, id: &str, name: &str) -> Result<PathBuf, StoreError> {
        let target = self.dir.join(name);
        component(name).at(&target)?;
        if !links::is_real_dir(&target) && !links::is_link(&target) {
            let old = self
                .names_of(id)
                .find(|n| *n != name && links::is_real_dir(&self.dir.join(n)))
                .map(str::to_string);
            if let Some(old) = old {
                tracing::info!(
                    "{}: renamed on the server, moving {old} to {name}",
                    self.dir.display()
                );
                self.rename(&old, name)?;
            }
        }
        links::ensure_dir(&target)?;
        self.note(name);
        self.sync.mark(&self.dir);
        Ok(target)
    }
}
