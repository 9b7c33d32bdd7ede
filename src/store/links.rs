//! Nothing matterbak writes follows a symbolic link inside the data dir.
//!
//! A link below the data dir (a restored copy, a folder moved to another disk, or one planted
//! by someone else) is reported once and left alone: folders are checked with `lstat` before
//! use and created 0700, files are opened with `O_NOFOLLOW`, and a file is never renamed over
//! a link. The data dir's own path may be a link (the user's choice).

use std::collections::BTreeSet;
use std::fmt;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use super::{IoPath, StoreError};

/// The error inside an [`io::Error`] for a path that is a symbolic link.
#[derive(Debug)]
pub struct Link;

impl fmt::Display for Link {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("is a symbolic link; matterbak does not write through links inside the data dir and left it alone (replace it with a real folder or file to back this up)")
    }
}

impl std::error::Error for Link {}

/// The error for the link at `path`, with a warning naming it (once per path and run).
pub fn link_error(path: &Path) -> io::Error {
    static WARNED: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());
    if WARNED
        .lock()
        .expect("not poisoned")
        .insert(path.to_path_buf())
    {
        tracing::warn!(
            "{} is a symbolic link: left alone, nothing is read or written through it",
            path.display()
        );
    }
    io::Error::other(Link)
}

/// Whether an error chain comes from a symbolic link in the data dir.
pub fn is_link_error(e: &anyhow::Error) -> bool {
    let is_link = |io: &io::Error| io.get_ref().is_some_and(|inner| inner.is::<Link>());
    e.chain().any(|c| {
        c.downcast_ref::<StoreError>()
            .is_some_and(|s| is_link(&s.source))
            || c.downcast_ref::<io::Error>().is_some_and(is_link)
            || c.is::<Link>()
    })
}

/// Is `path` a symbolic link (not followed)?
pub fn is_link(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink())
}

/// Is `path` a folder and not a link to one?
pub fn is_real_dir(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir())
}

/// Fails with a [`Link`] error when `path` is a symbolic link.
pub fn refuse_link(path: &Path) -> io::Result<()> {
    if is_link(path) {
        return Err(link_error(path));
    }
    Ok(())
}

/// Makes sure `dir` is a folder of its own, creating it (mode 0700) when missing; its parent
/// must have been checked already. A link or a file there is an error.
pub fn ensure_dir(dir: &Path) -> Result<(), StoreError> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(m) if m.file_type().is_symlink() => Err(link_error(dir)).at(dir),
        Ok(_) => Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            "is a file where matterbak keeps a folder (move it away)",
        ))
        .at(dir),
        Err(e) if e.kind() == io::ErrorKind::NotFound => match new_dir().create(dir) {
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => ensure_dir(dir),
            r => r.at(dir),
        },
        Err(e) => Err(e).at(dir),
    }
}

/// Checks (and creates) each folder of `rel` below `root`, none of which may be a link.
/// Each part of `rel` must be a plain name ([`super::layout::component`]): no `..`, no root.
pub fn ensure_dirs(root: &Path, rel: &Path) -> Result<PathBuf, StoreError> {
    let mut dir = root.to_path_buf();
    for c in rel.components() {
        let std::path::Component::Normal(name) = c else {
            return Err(io::Error::new(
                io::ErrorKind::InvalidInput,
                "is not a folder below the data dir; matterbak writes nothing there",
            ))
            .at(&root.join(rel));
        };
        dir.push(name);
        super::layout::component(&name.to_string_lossy()).at(&dir)?;
        ensure_dir(&dir)?;
    }
    Ok(dir)
}

/// A builder of folders with mode 0700 (the backup is private, like its files).
pub fn new_dir() -> std::fs::DirBuilder {
    #[allow(unused_mut)]
    let mut b = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut b, 0o700);
    b
}

/// Options that open the last component of a path only if it is not a symbolic link.
pub fn no_follow() -> std::fs::OpenOptions {
    #[allow(unused_mut)]
    let mut o = std::fs::OpenOptions::new();
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::custom_flags(
        &mut o,
        rustix::fs::OFlags::NOFOLLOW.bits() as i32,
    );
    o
}

/// Is this the error of opening a link with `O_NOFOLLOW` (`ELOOP`)?
pub fn is_eloop(e: &io::Error) -> bool {
    #[cfg(unix)]
    {
        e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error())
    }
    #[cfg(not(unix))]
    {
        let _ = e;
        false
    }
}

/// Reads a whole file, not through a link.
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    let mut f = match no_follow().read(true).open(path) {
        Ok(f) => f,
        Err(e) if is_eloop(&e) => return Err(link_error(path)),
        Err(e) => return Err(e),
    };
    let mut buf = Vec::new();
    f.read_to_end(&mut buf)?;
    Ok(buf)
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;

    #[test]
    fn links_are_neither_read_nor_entered() {
        let d = tempfile::tempdir().unwrap();
        let outside = d.path().join("outside");
        std::fs::write(&outside, b"secret").unwrap();
        let root = d.path().join("root");
        std::fs::create_dir(&root).unwrap();
        std::os::unix::fs::symlink(&outside, root.join("f")).unwrap();
        std::os::unix::fs::symlink(d.path(), root.join("dir")).unwrap();
        let e = read(&root.join("f")).unwrap_err();
        assert!(is_link_error(&anyhow::Error::new(e)));
        let e = ensure_dirs(&root, Path::new("dir/sub")).unwrap_err();
        assert!(is_link_error(&anyhow::Error::new(e)));
        assert!(!d.path().join("sub").exists());
        ensure_dirs(&root, Path::new("a/b")).unwrap();
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(root.join("a/b"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o077, 0, "{mode:o}");
    }
}
