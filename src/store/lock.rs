//! The data dir's lock: one backup at a time writes into a data dir, and `verify` does not
//! check one while a backup writes it.
//!
//! A backup (or `matterbak zip`) holds an exclusive `flock` on `.matterbak.lock` and writes its
//! process id into it; `verify` holds a shared one. The lock file is only ever written when it
//! is a regular file of its own: a symbolic link there is refused, and a hard link to another
//! file (which writing the process id would truncate) or a FIFO, socket or device is replaced
//! by a fresh lock file, created under a temp name with `O_EXCL` and renamed into place while
//! this run holds the lock of the old one. A run that opened the old one before the rename
//! then finds, once it holds that lock, that the path names another file now, and starts over
//! with the new one (which the first run holds): no two runs ever hold "the" lock.

use std::fs::{File, TryLockError};
use std::io::{self, Read, Write};
use std::path::Path;

use crate::error::{Code, Fatal};

/// Held for the whole run; released when dropped (or when the process dies).
pub struct DirLock {
    _file: File,
}

pub const LOCK_FILE: &str = ".matterbak.lock";

/// Opening the lock file again and again because other runs replace it is given up after this
/// many attempts.
const ATTEMPTS: usize = 8;

impl DirLock {
    /// Takes the lock of the data dir `root` (which must exist). The lock file is created
    /// 0600, never opened through a symbolic link, and written only when it is a regular file
    /// with one name (anything else is replaced; see the module documentation).
    ///
    /// # Errors
    /// A [`Fatal`] with [`Code::Locked`] when another run holds it (or `verify` reads the data
    /// dir); [`Code::Failure`] when the lock file is a link or cannot be opened or replaced.
    pub fn acquire(root: &Path) -> Result<DirLock, Fatal> {
        if std::fs::metadata(root).is_ok_and(|m| !m.is_dir()) {
            return Err(not_a_folder(root));
        }
        let path = root.join(LOCK_FILE);
        let failure = |msg: String| Fatal {
            code: Code::Failure,
            msg,
        };
        for _ in 0..ATTEMPTS {
            let mut file = open_lock(&path)?;
            match file.try_lock() {
                Ok(()) => {}
                Err(TryLockError::WouldBlock) => return Err(held(root, &mut file)),
                Err(TryLockError::Error(e)) => {
                    return Err(failure(format!("{}: cannot lock: {e}", path.display())))
                }
            }
            let opened = file
                .metadata()
                .map_err(|e| failure(format!("{}: {e}", path.display())))?;
            // Replaced by another run between the open and the lock: start over with the new one.
            if !same_file(&path, &opened) {
                continue;
            }
            if let Some(what) = damage(&opened) {
                // Held until the fresh file is in place, then released.
                let fresh = replace(root, &path).map_err(|e| {
                    failure(format!(
                        "{}: {what}, and cannot be replaced by a fresh lock file: {e} (remove it and run again)",
                        path.display()
                    ))
                })?;
                tracing::warn!(
                    "{}: was {what}; replaced by a fresh lock file (what it named is untouched)",
                    path.display()
                );
                return Ok(DirLock { _file: fresh });
            }
            // A lock file left by an older version may be world-readable: private like the rest.
            #[cfg(unix)]
            {
                use std::os::unix::fs::PermissionsExt;
                let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
            }
            let _ = file.set_len(0);
            let _ = write!(file, "{}", std::process::id());
            return Ok(DirLock { _file: file });
        }
        Err(failure(format!(
            "{}: replaced again and again by other runs while this one tried to lock it; run again",
            path.display()
        )))
    }
}

/// A shared lock of a data dir, held by `verify` while it reads: a backup does not start
/// meanwhile.
pub struct ReadLock {
    _file: Option<File>,
}

impl ReadLock {
    /// Takes a shared lock of the data dir `root` without waiting, creating nothing: without a
    /// lock file (no backup ran here, or one that has not begun) or on a file system without
    /// locks, there is nothing to hold. A lock file that is not a regular file is left to
    /// `verify` to report.
    ///
    /// # Errors
    /// A [`Fatal`] with [`Code::Locked`] naming the process when a backup holds the lock.
    pub fn acquire(root: &Path) -> Result<ReadLock, Fatal> {
        let path = root.join(LOCK_FILE);
        let Ok(mut file) = super::links::open_file(&path) else {
            return Ok(ReadLock { _file: None });
        };
        match file.try_lock_shared() {
            Ok(()) => Ok(ReadLock { _file: Some(file) }),
            Err(TryLockError::WouldBlock) => Err(Fatal {
                code: Code::Locked,
                msg: format!(
                    "a backup is running into {}{}: verify would take the files it is writing for damage; run verify when it has finished",
                    root.display(),
                    holder(&mut file)
                        .map(|p| format!(" (process {p})"))
                        .unwrap_or_default(),
                ),
            }),
            Err(TryLockError::Error(e)) => {
                tracing::debug!("{}: cannot lock: {e}", path.display());
                Ok(ReadLock { _file: None })
            }
        }
    }
}

/// Opens (creating it 0600) the lock file for reading and writing: not through a symbolic
/// link, never blocking (a FIFO there), whatever it is.
fn open_lock(path: &Path) -> Result<File, Fatal> {
    let mut opts = super::links::no_follow();
    opts.read(true).write(true).create(true).truncate(false);
    #[cfg(unix)]
    {
        use rustix::fs::OFlags;
        let flags = OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut opts, flags.bits() as i32);
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    }
    opts.open(path).map_err(|e| Fatal {
        code: Code::Failure,
        msg: if super::links::is_eloop(&e) {
            format!(
                "{} is a symbolic link; matterbak does not follow it (it would truncate its target): remove the link and run again",
                path.display()
            )
        } else {
            format!(
                "{}: cannot open the lock file: {e} (if it is not a file, move it away)",
                path.display()
            )
        },
    })
}

/// The error for a lock another process holds: a backup (exclusively), or `verify` (shared).
fn held(root: &Path, file: &mut File) -> Fatal {
    let msg = if file.try_lock_shared().is_ok() {
        format!(
            "a matterbak verify is checking {}; run again when it has finished",
            root.display()
        )
    } else {
        format!(
            "another matterbak{} is backing up into {}; wait for it to finish (or stop it) and run again",
            holder(file)
                .map(|p| format!(" (process {p})"))
                .unwrap_or_default(),
            root.display()
        )
    };
    Fatal {
        code: Code::Locked,
        msg,
    }
}

/// The process id written in a regular lock file, if any.
fn holder(file: &mut File) -> Option<String> {
    if !file.metadata().is_ok_and(|m| m.is_file()) {
        return None;
    }
    let mut s = String::new();
    let _ = file.take(32).read_to_string(&mut s);
    Some(s.trim().to_string()).filter(|s| !s.is_empty())
}

/// What is wrong with the opened lock file, if writing the process id into it would harm
/// something or cannot work: a hard link to another file, or not a regular file.
fn damage(m: &std::fs::Metadata) -> Option<String> {
    if !m.is_file() {
        return Some(super::links::kind_of(m.file_type()).to_string());
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if m.nlink() > 1 {
            return Some(format!(
                "a hard link to a file with {} names (writing the process id would overwrite it)",
                m.nlink()
            ));
        }
    }
    None
}

/// Does `path` still name the file `opened` (not followed if a link)?
fn same_file(path: &Path, opened: &std::fs::Metadata) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        std::fs::symlink_metadata(path)
            .is_ok_and(|m| m.dev() == opened.dev() && m.ino() == opened.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = (path, opened);
        true
    }
}

/// A fresh lock file, locked and holding this process id, renamed over `path`.
fn replace(root: &Path, path: &Path) -> io::Result<File> {
    // Created with O_EXCL, 0600.
    let mut tmp = tempfile::Builder::new()
        .prefix(super::atomic::TEMP_PREFIX)
        .tempfile_in(root)?;
    tmp.as_file().try_lock()?;
    write!(tmp.as_file_mut(), "{}", std::process::id())?;
    tmp.persist(path).map_err(|e| e.error)
}

/// The usage error for a data dir path that is a file.
pub fn not_a_folder(root: &Path) -> Fatal {
    Fatal::usage(format!(
        "the data dir {} is a file, not a folder: give --data-dir a folder (or move the file away)",
        root.display()
    ))
}
