//! Where a backup is read from: a data dir or a backup zip, seen as one list of relative paths
//! ([`crate::store::read::Files`]; what each file is, `store::read` says).

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};

use crate::archive::{EntryLoc, ZipReader};
use crate::error::{Code, Fatal};
use crate::store::atomic::TEMP_PREFIX;

/// Largest single entry read into memory (JSON objects); attachments are streamed instead.
const MAX_READ: u64 = 512 << 20;
/// Largest file copied that has no file info to give its size (profile images, team icons,
/// custom emoji; an attachment whose file info is lost): the server makes no such image nearly
/// this large.
const MAX_UNSIZED: u64 = 64 << 20;
/// Names of left-out files listed in the final error (the warnings name them all).
const LIST_LEFT_OUT: usize = 5;

/// A backup to read: the files of a data dir or the entries of a zip, by `/`-separated relative
/// path. Internal files (`.matterbak-*`) and temp files are left out.
pub struct Source {
    origin: PathBuf,
    kind: Kind,
    /// Files left out of the export or read in part, each once ([`Source::damaged`]).
    left_out: Mutex<Vec<String>>,
}

enum Kind {
    /// The data dir and its files.
    Dir(PathBuf, Tree<()>),
    /// The zip, the prefix of its entries (empty, or `data/` for a zip of a folder), and its
    /// entries without the prefix, with where each is (the zip's central directory is read
    /// once, one record at a time, into this index).
    Zip(Box<Mutex<ZipReader>>, String, Tree<EntryLoc>),
}

/// The files of a backup by folder (`/`-separated, without a trailing `/`; `""` for the top):
/// each folder's file names sorted, each with a `T` (where a zip entry is). A path is stored
/// once per folder instead of once per file: a few dozen bytes a file, where the Large data
/// set's paths are about 130 bytes long.
struct Tree<T> {
    folders: BTreeMap<String, Vec<(Box<str>, T)>>,
}

impl<T> Tree<T> {
    fn new() -> Tree<T> {
        Tree {
            folders: BTreeMap::new(),
        }
    }

    fn get(&self, name: &str) -> Option<&T> {
        let (dir, base) = name.rsplit_once('/').unwrap_or(("", name));
        let files = self.folders.get(dir)?;
        let i = files.binary_search_by(|(n, _)| (**n).cmp(base)).ok()?;
        Some(&files[i].1)
    }

    fn children<'a>(&'a self, dir: &str) -> impl Iterator<Item = &'a str> + 'a {
        (self.folders.get(dir).into_iter().flatten()).map(|(n, _)| &**n)
    }

    /// The folders directly in `dir` that hold files (at any depth), sorted.
    fn subfolders(&self, dir: &str) -> Vec<String> {
        let prefix = if dir.is_empty() {
            String::new()
        } else {
            format!("{dir}/")
        };
        // `a__x`, `a__x-y`, `a__x/c`: one folder's keys need not be next to each other.
        let found: BTreeSet<&str> = (self.folders.range(prefix.clone()..).map(|(k, _)| k))
            .take_while(|k| k.starts_with(&prefix))
            .filter_map(|k| k[prefix.len()..].split('/').next())
            .filter(|f| !f.is_empty())
            .collect();
        found.into_iter().map(String::from).collect()
    }

    fn is_empty(&self) -> bool {
        self.folders.is_empty()
    }

    /// Adds `name` to the end of its folder (call [`Tree::sort`] when all are in).
    fn push(&mut self, name: &str, v: T) {
        let (dir, base) = name.rsplit_once('/').unwrap_or(("", name));
        let files = match self.folders.get_mut(dir) {
            Some(f) => f,
            None => self.folders.entry(dir.to_string()).or_default(),
        };
        files.push((base.into(), v));
    }

    /// Sorts each folder; returns the names that are in it more than once.
    fn sort(&mut self) -> BTreeSet<String> {
        let mut dups = BTreeSet::new();
        for (dir, files) in &mut self.folders {
            files.sort_by(|a, b| a.0.cmp(&b.0));
            files.shrink_to_fit();
            for w in files.windows(2).filter(|w| w[0].0 == w[1].0) {
                dups.insert(join(dir, &w[0].0));
            }
        }
        dups
    }
}

/// `dir/base`, or `base` at the top.
fn join(dir: &str, base: &str) -> String {
    if dir.is_empty() {
        base.to_string()
    } else {
        format!("{dir}/{base}")
    }
}

impl Source {
    /// Opens a data dir, or a zip file written by matterbak (or the original).
    pub fn open(path: &Path) -> Result<Source> {
        let meta = std::fs::metadata(path).map_err(|e| {
            Fatal::usage(format!(
                "{}: {e} (give a matterbak data dir or backup zip with -d)",
                path.display()
            ))
        })?;
        if meta.is_dir() {
            let mut names = Tree::new();
            walk(path, "", &mut names)
                .with_context(|| format!("reading the data dir {}", path.display()))?;
            if names.is_empty() {
                return Err(Fatal::usage(format!(
                    "{}: the data dir is empty (run a backup first, or give another -d)",
                    path.display()
                ))
                .into());
            }
            return Ok(Source {
                origin: path.to_path_buf(),
                kind: Kind::Dir(path.to_path_buf(), names),
                left_out: Mutex::default(),
            });
        }
        let not_zip = |e: io::Error| {
            Fatal::usage(format!(
                "{}: not a data dir and not a readable zip ({e})",
                path.display()
            ))
        };
        let mut zip = ZipReader::open(path).map_err(not_zip)?;
        // Every record, folders and left-out files included, counts for the duplicates.
        let mut entries = Tree::new();
        let mut folders = HashSet::new();
        let mut dups = BTreeSet::new();
        while let Some((name, loc)) = zip.next_entry().map_err(not_zip)? {
            if name.ends_with('/') {
                if !folders.insert(name.clone()) {
                    dups.insert(name);
                }
            } else {
                entries.push(&name, loc);
            }
        }
        drop(folders);
        dups.extend(entries.sort());
        refuse_duplicates(path, &dups)?;
        // A name per folder is enough to find the prefix: it is a folder.
        let firsts: Vec<String> = (entries.folders.iter())
            .filter_map(|(dir, files)| Some(join(dir, &files.first()?.0)))
            .collect();
        let prefix = zip_prefix(firsts.iter().map(String::as_str));
        let top = prefix.trim_end_matches('/');
        entries.folders = (std::mem::take(&mut entries.folders).into_iter())
            .map(|(dir, mut files)| {
                files.retain(|(n, _)| keep(n));
                let dir = match dir.strip_prefix(&prefix) {
                    _ if prefix.is_empty() => dir,
                    Some(d) => d.to_string(),
                    None if dir == top => String::new(),
                    None => dir,
                };
                (dir, files)
            })
            .filter(|(_, files)| !files.is_empty())
            .collect();
        Ok(Source {
            origin: path.to_path_buf(),
            kind: Kind::Zip(Box::new(Mutex::new(zip)), prefix, entries),
            left_out: Mutex::default(),
        })
    }

    /// The path given on the command line.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    pub fn exists(&self, name: &str) -> bool {
        match &self.kind {
            Kind::Dir(_, names) => names.get(name).is_some(),
            Kind::Zip(_, _, entries) => entries.get(name).is_some(),
        }
    }

    /// The files directly in folder `dir` (no trailing `/`), as their names within it, sorted.
    pub fn children<'a>(&'a self, dir: &str) -> Box<dyn Iterator<Item = &'a str> + 'a> {
        match &self.kind {
            Kind::Dir(_, names) => Box::new(names.children(dir)),
            Kind::Zip(_, _, entries) => Box::new(entries.children(dir)),
        }
    }

    /// The whole content of a file (at most 512 MiB).
    pub fn read(&self, name: &str) -> Result<Vec<u8>> {
        match self.read_at_most(name, MAX_READ)? {
            Some(out) => Ok(out),
            None => bail!("{}: larger than 512 MiB", self.describe(name)),
        }
    }

    /// The whole content of a file, `None` when it holds more than `max` bytes (of which no
    /// more than `max + 1` are read).
    pub fn read_at_most(&self, name: &str, max: u64) -> Result<Option<Vec<u8>>> {
        let mut out = Vec::new();
        self.with_reader(name, |r| {
            r.take(max + 1).read_to_end(&mut out)?;
            Ok(())
        })?;
        Ok((out.len() as u64 <= max).then_some(out))
    }

    /// Reports a file left out of the export or read in part: a warning naming it (once per
    /// file), and [`Source::check_left_out`] ends the export with exit 3.
    pub fn damaged(&self, name: &str, what: &str) {
        let file = self.describe(name);
        let mut left = self.left_out.lock().unwrap_or_else(|e| e.into_inner());
        if !left.contains(&file) {
            tracing::warn!("{file}: {what}");
            left.push(file);
        }
    }

    /// Copies a file to `dest` (streamed), never more than `limit` bytes: an attachment's size
    /// from its file info, or `None` for a file that has none (`MAX_UNSIZED`). A file that
    /// holds more (a damaged or crafted backup: a small zip entry can inflate to gigabytes) is
    /// not copied: it is reported, [`Source::check_left_out`] fails the export at its end, and
    /// `Ok(None)` tells the caller to discard what `dest` got.
    pub fn copy_to(
        &self,
        name: &str,
        dest: &mut dyn io::Write,
        limit: Option<u64>,
    ) -> Result<Option<u64>> {
        let max = limit.unwrap_or(MAX_UNSIZED);
        let mut n = 0;
        let mut more = false;
        self.with_reader(name, |r| {
            n = io::copy(&mut r.take(max), dest)?;
            let mut one = [0u8; 1];
            more = n == max && read_some(r, &mut one)? > 0;
            Ok(())
        })?;
        if !more {
            return Ok(Some(n));
        }
        let what = match limit {
            Some(size) => format!("the {size} bytes its file info gives"),
            None => format!("{MAX_UNSIZED} bytes and has no file info to give its size"),
        };
        self.damaged(
            name,
            &format!(
                "holds more than {what}; left out of the export (the backup is damaged or was \
                 tampered with)"
            ),
        );
        Ok(None)
    }

    /// After an export: an error with exit code 3 when files were left out or read in part
    /// ([`Source::damaged`]: by [`Source::copy_to`] and the readers of `store::read`).
    pub fn check_left_out(&self) -> Result<()> {
        let left = self.left_out.lock().unwrap_or_else(|e| e.into_inner());
        if left.is_empty() {
            return Ok(());
        }
        let mut names = left[..left.len().min(LIST_LEFT_OUT)].join(", ");
        if left.len() > LIST_LEFT_OUT {
            names.push_str(", ...");
        }
        Err(Fatal {
            code: Code::Partial,
            msg: format!(
                "the backup is damaged: left out of the export or read in part (see the \
                 warnings above): {names}"
            ),
        }
        .into())
    }

    /// `name` as a user can find it: a path in the data dir, or `zip:entry`.
    pub fn describe(&self, name: &str) -> String {
        match &self.kind {
            Kind::Dir(root, _) => root.join(name).display().to_string(),
            Kind::Zip(_, prefix, _) => format!("{}:{prefix}{name}", self.origin.display()),
        }
    }

    fn with_reader(
        &self,
        name: &str,
        f: impl FnOnce(&mut dyn Read) -> io::Result<()>,
    ) -> Result<()> {
        let ctx = || format!("reading {}", self.describe(name));
        match &self.kind {
            Kind::Dir(root, _) => {
                // As every file of a data dir is opened: never blocking (a FIFO), regular only.
                let mut file =
                    crate::store::links::open_file(&root.join(name)).with_context(ctx)?;
                f(&mut file).with_context(ctx)
            }
            Kind::Zip(zip, _, entries) => {
                let loc = entries.get(name).with_context(|| {
                    format!("{}: no such entry in the zip", self.describe(name))
                })?;
                let mut zip = zip.lock().unwrap_or_else(|e| e.into_inner());
                let mut entry = zip.entry(loc).with_context(ctx)?;
                f(&mut entry).with_context(ctx)
            }
        }
    }
}

impl crate::store::read::Files for Source {
    fn list(&self, dir: &str) -> Vec<String> {
        self.children(dir).map(String::from).collect()
    }
    fn folders(&self, dir: &str) -> Vec<String> {
        match &self.kind {
            Kind::Dir(_, names) => names.subfolders(dir),
            Kind::Zip(_, _, entries) => entries.subfolders(dir),
        }
    }
    fn exists(&self, name: &str) -> bool {
        Source::exists(self, name)
    }
    fn read(&self, name: &str) -> Result<Vec<u8>> {
        Source::read(self, name)
    }
    fn read_at_most(&self, name: &str, max: u64) -> Result<Option<Vec<u8>>> {
        Source::read_at_most(self, name, max)
    }
    fn describe(&self, name: &str) -> String {
        Source::describe(self, name)
    }
    fn damaged(&self, name: &str, what: &str) {
        Source::damaged(self, name, what)
    }
}

/// One `read` that is retried when interrupted.
fn read_some(r: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    loop {
        match r.read(buf) {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            other => return other,
        }
    }
}

/// A zip that names an entry twice is refused: readers disagree on which one counts (`unzip`
/// takes the first, the zip library the last), so what an export shows would depend on the tool.
fn refuse_duplicates(path: &Path, dups: &BTreeSet<String>) -> Result<()> {
    if dups.is_empty() {
        return Ok(());
    }
    let mut list = (dups.iter().take(LIST_LEFT_OUT))
        .map(String::as_str)
        .collect::<Vec<_>>()
        .join(", ");
    if dups.len() > LIST_LEFT_OUT {
        list.push_str(", ...");
    }
    Err(Fatal::usage(format!(
        "{}: entries named twice in the zip ({list}); tools disagree on which one counts, so it \
         is not read (a damaged or tampered zip: export from the data dir instead)",
        path.display()
    ))
    .into())
}

/// Files that belong to the backup (not matterbak's own state, lock or temp files).
fn keep(rel: &str) -> bool {
    let base = rel.rsplit('/').next().unwrap_or(rel);
    !base.starts_with(".matterbak") && !base.starts_with(TEMP_PREFIX)
}

fn walk(dir: &Path, rel: &str, out: &mut Tree<()>) -> io::Result<()> {
    let mut files = Vec::new();
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            continue; // matterbak writes only UTF-8 names
        };
        let t = e.file_type()?;
        if t.is_dir() {
            walk(&e.path(), &join(rel, &name), out)?;
        } else if t.is_file() && keep(&name) {
            files.push((name.into_boxed_str(), ()));
        }
    }
    if !files.is_empty() {
        files.sort_by(|a, b| a.0.cmp(&b.0));
        files.shrink_to_fit();
        out.folders.insert(rel.to_string(), files);
    }
    Ok(())
}

/// The folder all entries share when the zip holds the data dir as a folder (`data/users/...`).
fn zip_prefix<'a>(names: impl Iterator<Item = &'a str> + Clone) -> String {
    const TOP: [&str; 5] = ["users/", "teams/", "direct/", "groups/", "emojis/"];
    if names.clone().any(|n| TOP.iter().any(|t| n.starts_with(t))) {
        return String::new();
    }
    let Some(first) = names.clone().next().and_then(|n| n.split_once('/')) else {
        return String::new();
    };
    let p = format!("{}/", first.0);
    if names.clone().all(|n| n.starts_with(&p)) {
        p
    } else {
        String::new()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_zip_of_a_folder_is_read_below_it() {
        let n = |v: &'static [&'static str]| v.iter().copied();
        assert_eq!(zip_prefix(n(&["users/a.json", "teams/t.json"])), "");
        assert_eq!(
            zip_prefix(n(&["data/users/a.json", "data/t.json"])),
            "data/"
        );
        assert_eq!(zip_prefix(n(&["a/users/a.json", "b/t.json"])), "");
    }

    #[test]
    fn a_tree_finds_files_by_folder_and_reports_the_ones_named_twice() {
        let mut t = Tree::new();
        for (n, v) in [("b/y", 1), ("a", 2), ("b/x", 3), ("b/c/z", 4), ("b/x", 5)] {
            t.push(n, v);
        }
        assert_eq!(t.sort().into_iter().collect::<Vec<_>>(), ["b/x"]);
        assert_eq!(t.get("b/y"), Some(&1));
        assert_eq!(t.get("a"), Some(&2));
        assert_eq!(t.get("b/c/z"), Some(&4));
        assert_eq!(t.get("b/z"), None);
        assert_eq!(t.get("b"), None);
        assert_eq!(t.children("b").collect::<Vec<_>>(), ["x", "x", "y"]);
        assert_eq!(t.children("").collect::<Vec<_>>(), ["a"]);
        assert_eq!(t.children("b/c/z").count(), 0);
    }

    #[test]
    fn children_are_direct_only() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("direct/c/files")).unwrap();
        std::fs::write(dir.path().join("direct/c/1__p.json"), "{}").unwrap();
        std::fs::write(dir.path().join("direct/c/files/f.json"), "{}").unwrap();
        std::fs::write(dir.path().join("direct/c.json"), "{}").unwrap();
        std::fs::write(dir.path().join(".matterbak-state.json"), "{}").unwrap();
        let s = Source::open(dir.path()).unwrap();
        assert_eq!(s.children("direct/c").collect::<Vec<_>>(), ["1__p.json"]);
        assert_eq!(s.children("direct").collect::<Vec<_>>(), ["c.json"]);
        assert!(!s.exists(".matterbak-state.json"));
    }

    #[test]
    fn copies_stop_at_the_limit_and_are_left_out_beyond_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("direct/c/files")).unwrap();
        std::fs::write(dir.path().join("direct/c/files/f__a.json"), [1u8; 100]).unwrap();
        let s = Source::open(dir.path()).unwrap();
        let name = "direct/c/files/f__a.json";
        let mut out = Vec::new();
        assert_eq!(s.copy_to(name, &mut out, Some(100)).unwrap(), Some(100));
        assert_eq!(
            s.copy_to(name, &mut Vec::new(), Some(200)).unwrap(),
            Some(100)
        );
        assert!(s.check_left_out().is_ok());
        assert_eq!(s.copy_to(name, &mut Vec::new(), Some(99)).unwrap(), None);
        let e = s.check_left_out().unwrap_err();
        assert_eq!(crate::error::code_for(&e, &[]), Code::Partial);
        assert!(e.to_string().contains("f__a.json"), "{e}");
    }
}
