//! Where a backup is read from: a data dir or a backup zip, seen as one list of relative paths
//! ([`crate::store::read::Files`]; what each file is, `store::read` says).

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use anyhow::{bail, Context, Result};

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
    names: BTreeSet<String>,
    /// Files that held more than they may and were not copied ([`Source::copy_to`]).
    left_out: Mutex<Vec<String>>,
}

enum Kind {
    Dir(PathBuf),
    /// The archive and the prefix of its entries (empty, or `data/` for a zip of a folder).
    Zip(Mutex<zip::ZipArchive<File>>, String),
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
            let mut names = BTreeSet::new();
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
                kind: Kind::Dir(path.to_path_buf()),
                names,
                left_out: Mutex::default(),
            });
        }
        let file = File::open(path).with_context(|| format!("opening {}", path.display()))?;
        let zip = zip::ZipArchive::new(file).map_err(|e| {
            Fatal::usage(format!(
                "{}: not a data dir and not a readable zip ({e})",
                path.display()
            ))
        })?;
        refuse_duplicates(path)?;
        let all: Vec<String> = zip
            .file_names()
            .filter(|n| !n.ends_with('/'))
            .map(str::to_string)
            .collect();
        let prefix = zip_prefix(&all);
        let names = all
            .iter()
            .filter_map(|n| n.strip_prefix(&prefix))
            .filter(|n| keep(n))
            .map(str::to_string)
            .collect();
        Ok(Source {
            origin: path.to_path_buf(),
            kind: Kind::Zip(Mutex::new(zip), prefix),
            names,
            left_out: Mutex::default(),
        })
    }

    /// The path given on the command line.
    pub fn origin(&self) -> &Path {
        &self.origin
    }

    /// Every file, sorted.
    pub fn names(&self) -> &BTreeSet<String> {
        &self.names
    }

    pub fn exists(&self, name: &str) -> bool {
        self.names.contains(name)
    }

    /// The files directly in folder `dir` (no trailing `/`), as their names within it.
    pub fn children<'a>(&'a self, dir: &str) -> impl Iterator<Item = &'a str> + 'a {
        let prefix = format!("{dir}/");
        let n = prefix.len();
        self.names
            .range(prefix.clone()..)
            .take_while(move |s| s.starts_with(&prefix))
            .map(move |s| &s[n..])
            .filter(|s| !s.contains('/'))
    }

    /// The whole content of a file (at most 512 MiB).
    pub fn read(&self, name: &str) -> Result<Vec<u8>> {
        let mut out = Vec::new();
        self.with_reader(name, |r| {
            r.take(MAX_READ + 1).read_to_end(&mut out)?;
            Ok(())
        })?;
        if out.len() as u64 > MAX_READ {
            bail!("{}: larger than 512 MiB", self.describe(name));
        }
        Ok(out)
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
        tracing::warn!(
            "{}: holds more than {what}; left out of the export (the backup is damaged or was \
             tampered with)",
            self.describe(name)
        );
        self.left_out
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(self.describe(name));
        Ok(None)
    }

    /// After an export: an error with exit code 3 when [`Source::copy_to`] left files out.
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
                "left out of the export, as they hold more than their file info says (see the \
                 warnings above): {names}"
            ),
        }
        .into())
    }

    /// `name` as a user can find it: a path in the data dir, or `zip:entry`.
    pub fn describe(&self, name: &str) -> String {
        match &self.kind {
            Kind::Dir(root) => root.join(name).display().to_string(),
            Kind::Zip(_, prefix) => format!("{}:{prefix}{name}", self.origin.display()),
        }
    }

    fn with_reader(
        &self,
        name: &str,
        f: impl FnOnce(&mut dyn Read) -> io::Result<()>,
    ) -> Result<()> {
        let ctx = || format!("reading {}", self.describe(name));
        match &self.kind {
            Kind::Dir(root) => {
                let mut file = File::open(root.join(name)).with_context(ctx)?;
                f(&mut file).with_context(ctx)
            }
            Kind::Zip(zip, prefix) => {
                let mut zip = zip.lock().unwrap_or_else(|e| e.into_inner());
                let mut entry = zip.by_name(&format!("{prefix}{name}")).with_context(ctx)?;
                f(&mut entry).with_context(ctx)
            }
        }
    }
}

impl crate::store::read::Files for Source {
    fn list(&self, dir: &str) -> Vec<String> {
        self.children(dir).map(String::from).collect()
    }
    fn exists(&self, name: &str) -> bool {
        Source::exists(self, name)
    }
    fn read(&self, name: &str) -> Result<Vec<u8>> {
        Source::read(self, name)
    }
    fn describe(&self, name: &str) -> String {
        Source::describe(self, name)
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
fn refuse_duplicates(path: &Path) -> Result<()> {
    let dups = crate::archive::duplicate_names(path)
        .with_context(|| format!("reading the directory of {}", path.display()))?;
    if dups.is_empty() {
        return Ok(());
    }
    let mut list = dups[..dups.len().min(LIST_LEFT_OUT)].join(", ");
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

fn walk(dir: &Path, rel: &str, out: &mut BTreeSet<String>) -> io::Result<()> {
    for e in std::fs::read_dir(dir)? {
        let e = e?;
        let Some(name) = e.file_name().to_str().map(str::to_string) else {
            continue; // matterbak writes only UTF-8 names
        };
        let r = if rel.is_empty() {
            name
        } else {
            format!("{rel}/{name}")
        };
        let t = e.file_type()?;
        if t.is_dir() {
            walk(&e.path(), &r, out)?;
        } else if t.is_file() && keep(&r) {
            out.insert(r);
        }
    }
    Ok(())
}

/// The folder all entries share when the zip holds the data dir as a folder (`data/users/...`).
fn zip_prefix(names: &[String]) -> String {
    const TOP: [&str; 5] = ["users/", "teams/", "direct/", "groups/", "emojis/"];
    if names.iter().any(|n| TOP.iter().any(|t| n.starts_with(t))) {
        return String::new();
    }
    let Some(first) = names.first().and_then(|n| n.split_once('/')) else {
        return String::new();
    };
    let p = format!("{}/", first.0);
    if names.iter().all(|n| n.starts_with(&p)) {
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
        let n = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(zip_prefix(&n(&["users/a.json", "teams/t.json"])), "");
        assert_eq!(
            zip_prefix(&n(&["data/users/a.json", "data/t.json"])),
            "data/"
        );
        assert_eq!(zip_prefix(&n(&["a/users/a.json", "b/t.json"])), "");
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
