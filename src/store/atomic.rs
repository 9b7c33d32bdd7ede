//! Atomic writes: a temp file in the same directory, then rename; made durable in batches.
//!
//! A file that replaces another is fsynced before the rename, so a power cut leaves the old
//! content or the new one. A new file (the bulk of a backup: one per post) is renamed at once
//! and fsynced with everything else at the next checkpoint ([`DirSync::sync`], one `syncfs` on
//! Linux), which comes before the state that points past it is saved. A power cut before the
//! checkpoint can leave such a file empty or short; the state then still points before it, so
//! the next run fetches it again and replaces it.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use tempfile::NamedTempFile;

/// Every temp file the tool creates starts with this; a later run removes leftovers.
pub const TEMP_PREFIX: &str = ".matterbak-tmp-";

/// Directories whose entries changed and new files not yet fsynced (made durable at checkpoints).
#[derive(Clone, Default)]
pub struct DirSync {
    pending: Arc<Mutex<Pending>>,
}

#[derive(Default)]
struct Pending {
    dirs: BTreeSet<PathBuf>,
    /// New files renamed into place without an fsync.
    files: Vec<PathBuf>,
}

impl DirSync {
    pub fn mark(&self, dir: &Path) {
        let mut p = self.pending.lock().expect("not poisoned");
        if !p.dirs.contains(dir) {
            p.dirs.insert(dir.to_path_buf());
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn mark_file(&self, file: PathBuf) {
        self.pending.lock().expect("not poisoned").files.push(file);
    }

    /// Makes every file and directory change since the last call durable: on Linux one
    /// `syncfs` per file system, elsewhere an fsync of each new file and changed directory.
    pub fn sync(&self) -> io::Result<()> {
        let p = std::mem::take(&mut *self.pending.lock().expect("not poisoned"));
        if p.dirs.is_empty() && p.files.is_empty() {
            return Ok(());
        }
        #[cfg(target_os = "linux")]
        {
            use std::os::unix::fs::MetadataExt;
            let mut devices = BTreeSet::new();
            for d in &p.dirs {
                let f = match File::open(d) {
                    Ok(f) => f,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                    Err(e) => return Err(e),
                };
                if devices.insert(f.metadata()?.dev()) {
                    rustix::fs::syncfs(&f)?;
                }
            }
            Ok(())
        }
        #[cfg(not(target_os = "linux"))]
        {
            for f in &p.files {
                match File::open(f) {
                    Ok(f) => f.sync_all()?,
                    Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                    Err(e) => return Err(e),
                }
            }
            for d in &p.dirs {
                sync_dir(d)?;
            }
            Ok(())
        }
    }
}

pub fn sync_dir(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        match File::open(dir) {
            Ok(f) => f.sync_all(),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(e),
        }
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// The folder of `path` (`.` for a bare file name).
pub fn parent(path: &Path) -> &Path {
    path.parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
}

/// A file being written; it appears under its final name only on [`AtomicFile::commit`].
/// Dropped without commit, it leaves nothing behind.
pub struct AtomicFile {
    tmp: NamedTempFile,
    dest: PathBuf,
    written: u64,
    sync: DirSync,
}

impl AtomicFile {
    pub fn create(dest: &Path, sync: &DirSync) -> io::Result<Self> {
        let dir = absolute(parent(dest))?;
        let tmp = tempfile::Builder::new()
            .prefix(TEMP_PREFIX)
            .tempfile_in(dir)?;
        Ok(AtomicFile {
            tmp,
            dest: dest.to_path_buf(),
            written: 0,
            sync: sync.clone(),
        })
    }

    pub fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.tmp.as_file_mut().write_all(buf)?;
        self.written += buf.len() as u64;
        Ok(())
    }

    /// Bytes written so far (for a streamed download: its length).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Empties the file to write it again from the start.
    pub fn truncate(&mut self) -> io::Result<()> {
        use std::io::Seek;
        self.tmp.as_file_mut().set_len(0)?;
        self.tmp.as_file_mut().seek(std::io::SeekFrom::Start(0))?;
        self.written = 0;
        Ok(())
    }

    /// Moves the write position (the zip writer goes back to patch headers).
    pub fn seek(&mut self, pos: std::io::SeekFrom) -> io::Result<u64> {
        use std::io::Seek;
        self.tmp.as_file_mut().seek(pos)
    }

    /// Cuts the file at the write position (a zip writer that went back over an entry it
    /// dropped may end before bytes it wrote earlier).
    pub fn cut_at_position(&mut self) -> io::Result<()> {
        use std::io::Seek;
        let f = self.tmp.as_file_mut();
        let end = f.stream_position()?;
        f.set_len(end)
    }

    /// fsyncs and renames into place; the directory is fsynced at the next checkpoint. A
    /// symbolic link at the destination is left alone (an error; see [`super::links`]).
    pub fn commit(self) -> io::Result<()> {
        super::links::refuse_link(&self.dest)?;
        self.tmp.as_file().sync_all()?;
        let dir = parent(&self.dest).to_path_buf();
        self.tmp.persist(&self.dest).map_err(|e| e.error)?;
        self.sync.mark(&dir);
        Ok(())
    }

    /// Renames into place; a new file is fsynced at the next checkpoint, a file that replaces
    /// another is fsynced first (see the module documentation).
    pub fn commit_batched(self) -> io::Result<()> {
        super::links::refuse_link(&self.dest)?;
        if std::fs::symlink_metadata(&self.dest).is_ok() {
            return self.commit();
        }
        let dir = parent(&self.dest).to_path_buf();
        self.tmp.persist(&self.dest).map_err(|e| e.error)?;
        self.sync.mark(&dir);
        #[cfg(not(target_os = "linux"))]
        self.sync.mark_file(self.dest);
        Ok(())
    }
}

/// Writes `data` to `dest` atomically and durably.
pub fn write(dest: &Path, data: &[u8], sync: &DirSync) -> io::Result<()> {
    let mut f = AtomicFile::create(dest, sync)?;
    f.write_all(data)?;
    f.commit()
}

/// Writes `data` to `dest` atomically, durable at the next checkpoint
/// ([`AtomicFile::commit_batched`]).
pub fn write_batched(dest: &Path, data: &[u8], sync: &DirSync) -> io::Result<()> {
    let mut f = AtomicFile::create(dest, sync)?;
    f.write_all(data)?;
    f.commit_batched()
}

/// `dir` made absolute with a working directory looked up once (the temp file crate would
/// otherwise ask the kernel for it on every file).
fn absolute(dir: &Path) -> io::Result<std::borrow::Cow<'_, Path>> {
    static CWD: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();
    if dir.is_absolute() {
        return Ok(dir.into());
    }
    let cwd = match CWD.get() {
        Some(c) => c,
        None => {
            let c = std::env::current_dir()?;
            CWD.get_or_init(|| c)
        }
    };
    Ok(cwd.join(dir).into())
}

/// Removes temp files left by an interrupted run, anywhere below `root`. Returns how many.
pub fn remove_stale_temps(root: &Path) -> io::Result<usize> {
    let mut n = 0;
    let mut stack = vec![root.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => return Err(e),
        };
        for entry in rd {
            let entry = entry?;
            let ft = entry.file_type()?;
            if ft.is_dir() {
                stack.push(entry.path());
            } else if entry.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
                std::fs::remove_file(entry.path())?;
                n += 1;
            }
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dropped_file_leaves_nothing_and_commit_replaces() {
        let d = tempfile::tempdir().unwrap();
        let s = DirSync::default();
        let dest = d.path().join("a.json");
        write(&dest, b"old", &s).unwrap();
        {
            let mut f = AtomicFile::create(&dest, &s).unwrap();
            f.write_all(b"half").unwrap();
        }
        assert_eq!(std::fs::read(&dest).unwrap(), b"old");
        assert_eq!(std::fs::read_dir(d.path()).unwrap().count(), 1);
        write(&dest, b"new", &s).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"new");
        s.sync().unwrap();
    }

    #[test]
    fn stale_temps_are_removed() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("x/y")).unwrap();
        std::fs::write(d.path().join("x/y").join(format!("{TEMP_PREFIX}abc")), b"t").unwrap();
        std::fs::write(d.path().join("x/keep.json"), b"{}").unwrap();
        assert_eq!(remove_stale_temps(d.path()).unwrap(), 1);
        assert!(d.path().join("x/keep.json").exists());
    }
}
