//! The data dir's lock: one backup at a time writes into a data dir.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::Path;

use crate::error::{Code, Fatal};

/// Held for the whole run; released when dropped (or when the process dies).
pub struct DirLock {
    _file: File,
}

pub const LOCK_FILE: &str = ".matterbak.lock";

impl DirLock {
    /// Takes the lock of the data dir `root` (which must exist). The lock file is created
    /// 0600 and never opened through a symbolic link.
    ///
    /// # Errors
    /// A [`Fatal`] with [`Code::Locked`] when another run holds it.
    pub fn acquire(root: &Path) -> Result<DirLock, Fatal> {
        if std::fs::metadata(root).is_ok_and(|m| !m.is_dir()) {
            return Err(not_a_folder(root));
        }
        let path = root.join(LOCK_FILE);
        let mut opts = super::links::no_follow();
        opts.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
        let mut file = opts.open(&path).map_err(|e| Fatal {
            code: Code::Failure,
            msg: if super::links::is_eloop(&e) {
                format!(
                    "{} is a symbolic link; matterbak does not follow it (it would truncate its target): remove the link and run again",
                    path.display()
                )
            } else {
                format!("{}: cannot open the lock file: {e}", path.display())
            },
        })?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut holder = String::new();
                let _ = file.read_to_string(&mut holder);
                let holder = holder.trim();
                return Err(Fatal {
                    code: Code::Locked,
                    msg: format!(
                        "another matterbak{} is backing up into {}; wait for it to finish (or stop it) and run again",
                        if holder.is_empty() { String::new() } else { format!(" (process {holder})") },
                        root.display()
                    ),
                });
            }
            Err(TryLockError::Error(e)) => {
                return Err(Fatal {
                    code: Code::Failure,
                    msg: format!("{}: cannot lock: {e}", path.display()),
                })
            }
        }
        // A lock file left by an older version may be world-readable: private like the rest.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
        }
        let _ = file.set_len(0);
        let _ = file.rewind();
        let _ = write!(file, "{}", std::process::id());
        Ok(DirLock { _file: file })
    }
}

/// The usage error for a data dir path that is a file.
pub fn not_a_folder(root: &Path) -> Fatal {
    Fatal::usage(format!(
        "the data dir {} is a file, not a folder: give --data-dir a folder (or move the file away)",
        root.display()
    ))
}
