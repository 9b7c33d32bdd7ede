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

    /// A file that replaces `dest` from outside a data dir (the zip): its temp file is named
    /// after `dest` (`.matterbak-tmp-<file name>-…`) and locked for as long as it lives, so
    /// that [`remove_stale_temps_beside`] can tell a leftover of a killed run from a file
    /// being written.
    pub fn create_beside(dest: &Path, sync: &DirSync) -> io::Result<Self> {
        let dir = absolute(parent(dest))?;
        let tmp = tempfile::Builder::new()
            .prefix(&temp_prefix_of(dest))
            .tempfile_in(dir)?;
        // Best effort: a file system without locks still gets its zip.
        if let Err(e) = tmp.as_file().try_lock() {
            tracing::debug!("cannot lock {}: {e}", tmp.path().display());
        }
        Ok(AtomicFile {
            tmp,
            dest: dest.to_path_buf(),
            written: 0,
            sync: sync.clone(),
        })
    }

    /// Cuts the file at `len` bytes (the zip writer went back over an entry it dropped).
    pub fn set_len(&mut self, len: u64) -> io::Result<()> {
        self.tmp.as_file_mut().set_len(len)
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

/// A folder held open (`O_NOFOLLOW`, checked once when opened): the files written through it
/// are created and renamed by name relative to it, one path lookup each and none through a
/// link, so a new file costs four system calls (create, write, rename, close).
pub struct Dir {
    #[cfg(unix)]
    fd: std::os::fd::OwnedFd,
    path: PathBuf,
}

impl Dir {
    /// Opens the folder `path`; a symbolic link there is an error (see [`super::links`]).
    pub fn open(path: &Path) -> io::Result<Dir> {
        #[cfg(unix)]
        {
            use rustix::fs::{Mode, OFlags};
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
            let fd = match rustix::fs::open(path, flags, Mode::empty()) {
                Ok(fd) => fd,
                Err(e) if e == rustix::io::Errno::LOOP => {
                    return Err(super::links::link_error(path))
                }
                // O_NOFOLLOW|O_DIRECTORY on a link to a folder fails with ENOTDIR on some systems.
                Err(_) if super::links::is_link(path) => {
                    return Err(super::links::link_error(path))
                }
                Err(e) => return Err(e.into()),
            };
            Ok(Dir {
                fd,
                path: path.to_path_buf(),
            })
        }
        #[cfg(not(unix))]
        {
            super::links::refuse_link(path)?;
            Ok(Dir {
                path: path.to_path_buf(),
            })
        }
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Writes `data` to the file `name` in this folder as [`write_batched`] does: a temp file
    /// renamed into place, a new file made durable at the next checkpoint, a file that replaces
    /// another fsynced first, a symbolic link at `name` left alone (an error).
    pub fn write_batched(&self, name: &str, data: &[u8], sync: &DirSync) -> io::Result<()> {
        let name = super::layout::component(name)?;
        #[cfg(unix)]
        {
            self.write_at(name, data, sync)
        }
        #[cfg(not(unix))]
        {
            write_batched(&self.path.join(name), data, sync)
        }
    }

    #[cfg(unix)]
    fn write_at(&self, name: &str, data: &[u8], sync: &DirSync) -> io::Result<()> {
        use rustix::fs::{AtFlags, Mode, OFlags};
        use rustix::io::Errno;
        let flags = OFlags::WRONLY | OFlags::CREATE | OFlags::EXCL | OFlags::CLOEXEC;
        let (tmp, fd) = loop {
            let tmp = temp_name();
            match rustix::fs::openat(&self.fd, &tmp, flags, Mode::from_raw_mode(0o600)) {
                Ok(fd) => break (tmp, fd),
                // A leftover of a killed run of the same process id: take the next name.
                Err(Errno::EXIST) => continue,
                Err(e) => return Err(e.into()),
            }
        };
        let mut file = File::from(fd);
        let unlink = |e: io::Error| {
            let _ = rustix::fs::unlinkat(&self.fd, &tmp, AtFlags::empty());
            e
        };
        file.write_all(data).map_err(unlink)?;
        // A new file: renamed only if nothing is there (no lookup before, no race), fsynced at
        // the next checkpoint.
        #[cfg(target_os = "linux")]
        match rustix::fs::renameat_with(
            &self.fd,
            &tmp,
            &self.fd,
            name,
            rustix::fs::RenameFlags::NOREPLACE,
        ) {
            Ok(()) => {
                sync.mark(&self.path);
                return Ok(());
            }
            // Something is there: the checked replacement below.
            Err(Errno::EXIST) => {}
            // A file system without RENAME_NOREPLACE: looked up first, below.
            Err(Errno::INVAL | Errno::NOSYS | Errno::OPNOTSUPP) => {}
            Err(e) => return Err(unlink(e.into())),
        }
        match rustix::fs::statat(&self.fd, name, AtFlags::SYMLINK_NOFOLLOW) {
            Ok(st) => {
                let t = rustix::fs::FileType::from_raw_mode(st.st_mode);
                if t == rustix::fs::FileType::Symlink {
                    return Err(unlink(super::links::link_error(&self.path.join(name))));
                }
                if t != rustix::fs::FileType::RegularFile {
                    // A FIFO, socket, device or folder where the file belongs: left alone.
                    let kind = std::fs::symlink_metadata(self.path.join(name))
                        .map_or("a special file", |m| super::links::kind_of(m.file_type()));
                    let path = self.path.join(name);
                    return Err(unlink(super::links::damage_error(&path, kind)));
                }
                // It replaces a file: durable before the rename (see the module documentation).
                file.sync_all().map_err(unlink)?;
            }
            Err(Errno::NOENT) => {
                #[cfg(not(target_os = "linux"))]
                sync.mark_file(self.path.join(name));
            }
            Err(e) => return Err(unlink(e.into())),
        }
        rustix::fs::renameat(&self.fd, &tmp, &self.fd, name).map_err(|e| unlink(e.into()))?;
        sync.mark(&self.path);
        Ok(())
    }
}

/// A fresh temp file name for [`Dir::write_batched`]: the prefix, the process id and a counter
/// (the data dir's lock keeps other runs out, the counter other threads).
#[cfg(unix)]
fn temp_name() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    let pid = PID.get_or_init(std::process::id);
    format!("{TEMP_PREFIX}{pid}-{}", N.fetch_add(1, Ordering::Relaxed))
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

/// The start of the names of [`AtomicFile::create_beside`]'s temp files for `dest`.
fn temp_prefix_of(dest: &Path) -> String {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Room for the prefix and the random part within the 255 bytes of a file name.
    let mut cut = name.len().min(160);
    while !name.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{TEMP_PREFIX}{}-", &name[..cut])
}

/// A temp file of the older kind, named `.matterbak-tmp-` and six random letters or digits, is
/// taken for a leftover of a killed zip only when it holds a zip's first bytes and has not
/// been written to for this long (a live writer writes all the time).
const OLD_TEMP_IDLE: std::time::Duration = std::time::Duration::from_secs(3600);

/// Removes what a killed run left beside `dest` (the zip; call it while holding the data dir's
/// lock): temp files of `dest` ([`AtomicFile::create_beside`]) that no live process holds
/// locked, and zip temp files of the older unnamed kind idle for an hour. Nothing else beside
/// `dest` is touched, symbolic links included. Returns how many files were removed.
pub fn remove_stale_temps_beside(dest: &Path) -> io::Result<usize> {
    let ours = temp_prefix_of(dest);
    let dir = parent(dest);
    let mut n = 0;
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(0),
        Err(e) => return Err(e),
    };
    for entry in rd {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix(TEMP_PREFIX) else {
            continue;
        };
        let old_kind = rest.len() == 6 && rest.bytes().all(|b| b.is_ascii_alphanumeric());
        if !(name.starts_with(&ours) || old_kind) || !entry.file_type()?.is_file() {
            continue;
        }
        let path = entry.path();
        let Ok(mut f) = File::open(&path) else {
            continue;
        };
        // A live writer holds its temp file locked (the older kind never does).
        if f.try_lock().is_err() {
            continue;
        }
        if !name.starts_with(&ours) {
            let mut magic = [0u8; 4];
            let idle = f
                .metadata()?
                .modified()?
                .elapsed()
                .is_ok_and(|d| d >= OLD_TEMP_IDLE);
            if !idle || io::Read::read_exact(&mut f, &mut magic).is_err() || magic != *b"PK\x03\x04"
            {
                continue;
            }
        }
        std::fs::remove_file(&path)?;
        n += 1;
    }
    Ok(n)
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
    fn stale_temps_beside_a_zip_are_removed_when_they_are_ours_and_nobody_writes_them() {
        let d = tempfile::tempdir().unwrap();
        let s = DirSync::default();
        let dest = d.path().join("b.zip");
        let live = AtomicFile::create_beside(&dest, &s).unwrap();
        let live_path = live.tmp.path().to_path_buf();
        let name = |p: &Path| p.file_name().unwrap().to_string_lossy().into_owned();
        assert!(name(&live_path).starts_with(".matterbak-tmp-b.zip-"));
        let put = |n: &str, data: &[u8]| std::fs::write(d.path().join(n), data).unwrap();
        put(".matterbak-tmp-b.zip-dead01", b"PK\x03\x04 killed");
        put(".matterbak-tmp-other.zip-x1", b"PK\x03\x04 another zip's");
        put(
            ".matterbak-tmp-Ab3dE9",
            b"PK\x03\x04 old kind, just written",
        );
        put(".matterbak-tmp-Zz9yY8", b"PK\x03\x04 old kind, idle");
        put(".matterbak-tmp-Qq1wW2", b"{\"not\": \"a zip\"}");
        put("b.zip", b"the zip");
        let hour_ago = std::time::SystemTime::now() - OLD_TEMP_IDLE;
        for n in [".matterbak-tmp-Zz9yY8", ".matterbak-tmp-Qq1wW2"] {
            let f = File::options().append(true).open(d.path().join(n)).unwrap();
            f.set_modified(hour_ago).unwrap();
        }
        assert_eq!(remove_stale_temps_beside(&dest).unwrap(), 2);
        let mut left: Vec<String> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| name(&e.unwrap().path()))
            .collect();
        left.sort();
        let mut want = vec![
            ".matterbak-tmp-Ab3dE9".to_string(),
            ".matterbak-tmp-Qq1wW2".into(),
            ".matterbak-tmp-other.zip-x1".into(),
            "b.zip".into(),
            name(&live_path),
        ];
        want.sort();
        assert_eq!(
            left, want,
            "the live one, other zips' and others' files stay"
        );
        drop(live);
    }

    #[cfg(unix)]
    #[test]
    fn a_held_folder_writes_new_files_private_replaces_old_ones_and_leaves_links_alone() {
        use std::os::unix::fs::PermissionsExt;
        let d = tempfile::tempdir().unwrap();
        let s = DirSync::default();
        let dir = Dir::open(d.path()).unwrap();
        dir.write_batched("new.json", b"one", &s).unwrap();
        let mode = std::fs::metadata(d.path().join("new.json"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
        dir.write_batched("new.json", b"two", &s).unwrap();
        assert_eq!(std::fs::read(d.path().join("new.json")).unwrap(), b"two");
        let outside = d.path().join("outside");
        std::fs::write(&outside, b"secret").unwrap();
        std::os::unix::fs::symlink(&outside, d.path().join("link.json")).unwrap();
        let e = dir.write_batched("link.json", b"three", &s).unwrap_err();
        assert!(super::super::links::is_link_error(&anyhow::Error::new(e)));
        assert_eq!(std::fs::read(&outside).unwrap(), b"secret");
        assert!(std::fs::symlink_metadata(d.path().join("link.json"))
            .unwrap()
            .file_type()
            .is_symlink());
        let mut left: Vec<String> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(
            left,
            ["link.json", "new.json", "outside"],
            "no temp file left"
        );
        std::os::unix::fs::symlink(d.path(), d.path().join("sub")).unwrap();
        let e = Dir::open(&d.path().join("sub"))
            .err()
            .expect("a link is refused");
        assert!(super::super::links::is_link_error(&anyhow::Error::new(e)));
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
