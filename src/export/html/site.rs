//! The site folder: every file is written below it atomically, under names made of sanitised
//! parts; a marker file lists what the export wrote, so that a rerun replaces its own files
//! (and removes those it no longer writes) without touching anything else in the folder.

use std::collections::BTreeSet;
use std::fs;
use std::io;
use std::path::{Component, Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use serde_json::{json, Value};

use crate::error::Fatal;
use crate::export::source::Source;
use crate::store::atomic::{self, AtomicFile, DirSync};
use crate::store::layout::sanitize;

/// The marker of a site written by `matterbak export html`, at the top of the site folder.
pub const MARKER: &str = ".matterbak-site.json";
const GENERATOR: &str = "matterbak export html";

/// A path in the site: parts that each went through [`sanitize`], so none is empty, `.`, `..`
/// or holds a `/` or `\`; joined below the site folder it cannot leave it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct SitePath(Vec<String>);

impl SitePath {
    pub fn new(parts: &[&str]) -> SitePath {
        SitePath(parts.iter().map(|p| sanitize(p)).collect())
    }

    /// `dir/name.ext` where `ext` comes from a file name in the backup (letters and digits
    /// only, else `bin`).
    pub fn with_ext(dir: &str, stem: &str, from_name: &str) -> SitePath {
        SitePath::new(&[dir, &format!("{stem}.{}", ext_of(from_name))])
    }

    /// The path relative to the site folder, `/`-separated.
    pub fn rel(&self) -> String {
        self.0.join("/")
    }

    /// The path as a relative URL (each part percent-encoded).
    pub fn url(&self) -> String {
        self.0
            .iter()
            .map(|p| percent_encode(p))
            .collect::<Vec<_>>()
            .join("/")
    }

    fn under(&self, root: &Path) -> PathBuf {
        let mut p = root.to_path_buf();
        p.extend(&self.0);
        p
    }
}

/// The extension of a file name for a copy in the site: lowercase letters and digits, at most
/// 8 of them; `bin` when there is none.
pub fn ext_of(name: &str) -> String {
    name.rsplit_once('.')
        .map(|(_, e)| e.to_ascii_lowercase())
        .filter(|e| !e.is_empty() && e.len() <= 8 && e.bytes().all(|b| b.is_ascii_alphanumeric()))
        .unwrap_or_else(|| "bin".to_string())
}

/// Percent-encodes everything but unreserved URL characters (RFC 3986), so that a file name
/// with spaces, `#`, `%` or non-ASCII letters is one path segment of a relative URL.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// How often an export records in the marker what it has written so far.
const CHECKPOINT: Duration = Duration::from_secs(5);

/// The site folder being written.
pub struct Site {
    root: PathBuf,
    sync: DirSync,
    previous: BTreeSet<String>,
    written: BTreeSet<String>,
    bytes: u64,
    last_checkpoint: Instant,
}

impl Site {
    /// Opens `root` for a new site: creates it, or takes over a site written before (it has the
    /// marker). Refuses (exit 2) a file, and a folder with other content but no marker.
    pub fn open(root: &Path) -> Result<Site> {
        let previous = match fs::metadata(root) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                fs::create_dir_all(root)
                    .with_context(|| format!("creating the site folder {}", root.display()))?;
                BTreeSet::new()
            }
            Err(e) => return Err(e).with_context(|| format!("reading {}", root.display())),
            Ok(m) if !m.is_dir() => {
                return Err(Fatal::usage(format!(
                    "{}: not a folder (give a new or empty folder for the site with -o)",
                    root.display()
                ))
                .into())
            }
            Ok(_) => {
                let marker = root.join(MARKER);
                if marker.exists() {
                    let files = read_marker(&marker)?;
                    atomic::remove_stale_temps(root).with_context(|| {
                        format!("removing temp files left in {}", root.display())
                    })?;
                    files
                } else if fs::read_dir(root)
                    .with_context(|| format!("reading {}", root.display()))?
                    .next()
                    .is_some()
                {
                    return Err(Fatal::usage(format!(
                        "{}: the folder is not empty and holds no site of matterbak export html \
                         (no {MARKER}); give a new or empty folder with -o",
                        root.display()
                    ))
                    .into());
                } else {
                    BTreeSet::new()
                }
            }
        };
        let site = Site {
            root: root.to_path_buf(),
            sync: DirSync::default(),
            previous,
            written: BTreeSet::new(),
            bytes: 0,
            last_checkpoint: Instant::now(),
        };
        // Marked as a site from the start: an interrupted first export can be rerun.
        site.write_marker(&site.previous)?;
        Ok(site)
    }

    /// Records in the marker what this run has written so far (at most every few seconds), so
    /// that a run after an interrupted one also removes files that only the interrupted run
    /// wrote.
    pub fn checkpoint(&mut self) -> Result<()> {
        if self.last_checkpoint.elapsed() < CHECKPOINT {
            return Ok(());
        }
        self.record()
    }

    /// Records in the marker what this run has written so far, now (an interrupted export).
    pub fn record(&mut self) -> Result<()> {
        let all: BTreeSet<String> = self.previous.union(&self.written).cloned().collect();
        self.write_marker(&all)?;
        self.last_checkpoint = Instant::now();
        Ok(())
    }

    fn write_marker(&self, files: &BTreeSet<String>) -> Result<()> {
        let marker = json!({
            "generator": GENERATOR,
            "version": 1,
            "files": files,
        });
        let mut text = serde_json::to_string_pretty(&marker)?;
        text.push('\n');
        let dest = self.root.join(MARKER);
        atomic::write(&dest, text.as_bytes(), &self.sync)
            .with_context(|| format!("writing {}", dest.display()))?;
        self.sync
            .sync()
            .with_context(|| format!("syncing the folders of {}", self.root.display()))
    }

    /// Writes a file of the site atomically.
    pub fn write(&mut self, path: &SitePath, data: &[u8]) -> Result<()> {
        let dest = self.prepare(path)?;
        atomic::write(&dest, data, &self.sync)
            .with_context(|| format!("writing {}", dest.display()))?;
        self.bytes += data.len() as u64;
        Ok(())
    }

    /// Copies (streams) a file of the backup into the site, atomically (once per run), at most
    /// `limit` bytes. Returns false when the file was left out (it holds more: see
    /// [`Source::copy_to`]).
    pub fn copy(
        &mut self,
        src: &Source,
        name: &str,
        path: &SitePath,
        limit: Option<u64>,
    ) -> Result<bool> {
        if self.written.contains(&path.rel()) {
            return Ok(true);
        }
        let dest = self.prepare(path)?;
        let mut f = AtomicFile::create(&dest, &self.sync)
            .with_context(|| format!("creating {}", dest.display()))?;
        let Some(n) = src.copy_to(name, &mut Sink(&mut f), limit)? else {
            // Dropped, the temp file goes; not written, so `finish` removes an older copy.
            self.written.remove(&path.rel());
            return Ok(false);
        };
        f.commit()
            .with_context(|| format!("writing {}", dest.display()))?;
        self.bytes += n;
        Ok(true)
    }

    /// Files written so far and their total size.
    pub fn stats(&self) -> (usize, u64) {
        (self.written.len(), self.bytes)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    fn prepare(&mut self, path: &SitePath) -> Result<PathBuf> {
        let dest = path.under(&self.root);
        if let Some(dir) = dest.parent() {
            fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        self.written.insert(path.rel());
        Ok(dest)
    }

    /// Removes the files of the previous export that this one did not write, writes the marker,
    /// and syncs the folders. Returns how many old files were removed.
    pub fn finish(mut self) -> Result<usize> {
        let stale: Vec<String> = self.previous.difference(&self.written).cloned().collect();
        let mut removed = 0;
        for rel in &stale {
            let Some(path) = safe_rel(&self.root, rel) else {
                continue;
            };
            if fs::symlink_metadata(&path).is_ok_and(|m| m.is_file()) {
                fs::remove_file(&path)
                    .with_context(|| format!("removing the old file {}", path.display()))?;
                removed += 1;
                // Folders the export made and that are empty now go too.
                let mut dir = path.parent();
                while let Some(d) = dir.filter(|d| *d != self.root) {
                    if fs::remove_dir(d).is_err() {
                        break;
                    }
                    dir = d.parent();
                }
            }
        }
        self.write_marker(&self.written)?;
        self.written.clear();
        Ok(removed)
    }
}

/// The files listed in a site's marker.
fn read_marker(path: &Path) -> Result<BTreeSet<String>> {
    let bad = |why: String| {
        Fatal::usage(format!(
            "{}: {why}; it marks a site of matterbak export html (delete the folder's content, \
             or give another folder with -o)",
            path.display()
        ))
    };
    let text = fs::read(path).with_context(|| format!("reading {}", path.display()))?;
    let v: Value =
        serde_json::from_slice(&text).map_err(|e| bad(format!("not valid JSON ({e})")))?;
    if v.get("generator").and_then(Value::as_str) != Some(GENERATOR) {
        return Err(bad(format!("\"generator\" is not {GENERATOR:?}")).into());
    }
    let files = v
        .get("files")
        .and_then(Value::as_array)
        .ok_or_else(|| bad("no \"files\" list".into()))?;
    Ok(files
        .iter()
        .filter_map(Value::as_str)
        .map(String::from)
        .collect())
}

/// A path from the marker below `root`, if it is a plain relative path (a damaged or planted
/// marker must not make a rerun delete anything outside the site).
fn safe_rel(root: &Path, rel: &str) -> Option<PathBuf> {
    if rel.is_empty() || rel.contains('\\') || rel == MARKER {
        return None;
    }
    let p = Path::new(rel);
    p.components()
        .all(|c| matches!(c, Component::Normal(_)))
        .then(|| root.join(p))
}

/// [`AtomicFile`] as an [`io::Write`] for [`Source::copy_to`].
struct Sink<'a>(&'a mut AtomicFile);

impl io::Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn site_paths_stay_below_the_site() {
        let p = SitePath::new(&["files", "../..", "../../etc/passwd"]);
        assert_eq!(p.rel(), "files/.._/.._.._etc_passwd");
        let root = Path::new("/site");
        assert!(p.under(root).starts_with(root));
        assert!(p
            .under(root)
            .components()
            .all(|c| !matches!(c, Component::ParentDir)));
        assert_eq!(
            SitePath::new(&["files", "id", "Q3 report #1 – Ü.pdf"]).url(),
            "files/id/Q3%20report%20%231%20%E2%80%93%20%C3%9C.pdf"
        );
        assert_eq!(
            SitePath::with_ext("avatars", "u1", "x__image.PNG").rel(),
            "avatars/u1.png"
        );
        assert_eq!(ext_of("noext"), "bin");
        assert_eq!(ext_of("a.p/ng"), "bin");
    }

    #[test]
    fn marker_paths_outside_the_site_are_ignored() {
        let root = Path::new("/site");
        assert!(safe_rel(root, "../x").is_none());
        assert!(safe_rel(root, "/etc/passwd").is_none());
        assert!(safe_rel(root, "a/../../x").is_none());
        assert!(safe_rel(root, "a\\..\\x").is_none());
        assert_eq!(safe_rel(root, "c/x/1.html"), Some(root.join("c/x/1.html")));
    }

    #[test]
    fn a_rerun_replaces_its_files_and_keeps_others() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("site");
        let mut s = Site::open(&root).unwrap();
        s.write(&SitePath::new(&["index.html"]), b"one").unwrap();
        s.write(&SitePath::new(&["c", "x", "2.html"]), b"two")
            .unwrap();
        s.finish().unwrap();
        fs::write(root.join("mine.txt"), b"user's").unwrap();

        let mut s = Site::open(&root).unwrap();
        s.write(&SitePath::new(&["index.html"]), b"new").unwrap();
        assert_eq!(s.finish().unwrap(), 1);
        assert_eq!(fs::read(root.join("index.html")).unwrap(), b"new");
        assert!(!root.join("c").exists(), "the emptied folder is removed");
        assert_eq!(fs::read(root.join("mine.txt")).unwrap(), b"user's");
    }

    #[test]
    fn an_interrupted_first_run_can_be_rerun_and_its_leftovers_go() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("site");
        let mut s = Site::open(&root).unwrap();
        s.write(&SitePath::new(&["c", "x", "9.html"]), b"partial")
            .unwrap();
        s.last_checkpoint -= CHECKPOINT;
        s.checkpoint().unwrap();
        drop(s); // interrupted: no finish

        let mut s = Site::open(&root).expect("the folder is marked as a site");
        s.write(&SitePath::new(&["index.html"]), b"whole").unwrap();
        assert_eq!(s.finish().unwrap(), 1);
        assert!(!root.join("c/x/9.html").exists());
    }

    #[test]
    fn a_foreign_folder_is_refused() {
        let d = tempfile::tempdir().unwrap();
        fs::write(d.path().join("important.doc"), b"x").unwrap();
        let err = Site::open(d.path()).err().unwrap();
        assert_eq!(crate::error::code_for(&err, &[]), crate::error::Code::Usage);
        assert!(err.to_string().contains(MARKER), "{err}");
        // An empty folder is fine.
        let e = tempfile::tempdir().unwrap();
        Site::open(e.path()).unwrap();
    }
}
