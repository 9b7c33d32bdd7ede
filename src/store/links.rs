//! Nothing matterbak writes follows a symbolic link inside the data dir.
//!
//! A link below the data dir (a restored copy, a folder moved to another disk, or one planted
//! by someone else) is reported once and left alone: folders are checked with `lstat` before
//! use and created 0700, files are opened with `O_NOFOLLOW`, and a file is never renamed over
//! a link. The data dir's own path may be a link (the user's choice).
//!
//! Nor does anything in the data dir hang a run: every file of it is opened by [`open_file`]
//! (`O_NOFOLLOW|O_NONBLOCK`, then `fstat`), so a FIFO, socket or device where a file belongs
//! is damage ([`NotRegular`]) reported with its path, never read, never replaced, and the run
//! ends partial ([`take_damaged`]).

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

/// The error inside an [`io::Error`] for a path that is neither a regular file nor a link where
/// matterbak keeps a file (a FIFO, a socket, a device, a folder): damage, never opened for
/// reading (a FIFO would block for good) nor replaced.
#[derive(Debug)]
pub struct NotRegular {
    /// What it is: `a FIFO (named pipe)`, `a socket`, ...
    pub kind: &'static str,
}

impl fmt::Display for NotRegular {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "is {}, not a regular file; matterbak neither reads nor replaces it and left it alone (remove it: the next backup writes the file again)",
            self.kind
        )
    }
}

impl std::error::Error for NotRegular {}

/// The error inside an [`io::Error`] for a path where matterbak keeps a folder that is
/// something else (a file, a FIFO): damage, left alone like [`NotRegular`].
#[derive(Debug)]
pub struct NotAFolder {
    /// What it is: `a regular file`, `a FIFO (named pipe)`, ...
    pub kind: &'static str,
}

impl fmt::Display for NotAFolder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "is {} where matterbak keeps a folder (move it away)",
            self.kind
        )
    }
}

impl std::error::Error for NotAFolder {}

/// What an entry of this type is, in words.
pub fn kind_of(t: std::fs::FileType) -> &'static str {
    #[cfg(unix)]
    {
        use std::os::unix::fs::FileTypeExt;
        if t.is_fifo() {
            return "a FIFO (named pipe)";
        }
        if t.is_socket() {
            return "a socket";
        }
        if t.is_char_device() {
            return "a character device";
        }
        if t.is_block_device() {
            return "a block device";
        }
    }
    if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a folder"
    } else if t.is_file() {
        "a regular file"
    } else {
        "a special file"
    }
}

/// Paths warned about (links and damage), once per path and run.
static WARNED: Mutex<BTreeSet<PathBuf>> = Mutex::new(BTreeSet::new());
/// Damage found this run (path, what it is), for [`take_damaged`].
static DAMAGED: Mutex<Vec<(PathBuf, String)>> = Mutex::new(Vec::new());

fn first_time(path: &Path) -> bool {
    WARNED
        .lock()
        .expect("not poisoned")
        .insert(path.to_path_buf())
}

/// The error for the link at `path`, with a warning naming it (once per path and run).
pub fn link_error(path: &Path) -> io::Error {
    if first_time(path) {
        tracing::warn!(
            "{} is a symbolic link: left alone, nothing is read or written through it",
            path.display()
        );
    }
    io::Error::other(Link)
}

/// The error for the damage at `path` (it is `kind`, not a regular file), with a warning
/// naming it, recorded once per path and run for [`take_damaged`].
pub fn damage_error(path: &Path, kind: &'static str) -> io::Error {
    let e = NotRegular { kind };
    if first_time(path) {
        tracing::warn!("{}: {e}", path.display());
        DAMAGED
            .lock()
            .expect("not poisoned")
            .push((path.to_path_buf(), e.to_string()));
    }
    io::Error::other(e)
}

/// The damage (files that are not regular files) found since the last call, each with what
/// it is: a run that met some is partial even where nothing had to be written there.
pub fn take_damaged() -> Vec<(PathBuf, String)> {
    std::mem::take(&mut *DAMAGED.lock().expect("not poisoned"))
}

/// Whether an error chain comes from a symbolic link, or from damage ([`NotRegular`]), in the
/// data dir: what would be read or written through it is left out, the rest of the run goes on.
pub fn is_link_error(e: &anyhow::Error) -> bool {
    let is_ours = |inner: &(dyn std::error::Error + 'static)| {
        inner.is::<Link>() || inner.is::<NotRegular>() || inner.is::<NotAFolder>()
    };
    let ours = |io: &io::Error| io.get_ref().is_some_and(|inner| is_ours(inner));
    e.chain().any(|c| {
        c.downcast_ref::<StoreError>()
            .is_some_and(|s| ours(&s.source))
            || c.downcast_ref::<io::Error>().is_some_and(ours)
            || is_ours(c)
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

/// Fails with a [`Link`] error when `path` is a symbolic link, and with a [`NotRegular`] one
/// when it is anything else but a regular file (nothing is written over either); a missing
/// `path` is fine.
pub fn refuse_link(path: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(path) {
        Ok(m) if m.file_type().is_symlink() => Err(link_error(path)),
        Ok(m) if !m.is_file() => Err(damage_error(path, kind_of(m.file_type()))),
        _ => Ok(()),
    }
}

/// Makes sure `dir` is a folder of its own, creating it (mode 0700) when missing; its parent
/// must have been checked already. A link or a file there is an error.
pub fn ensure_dir(dir: &Path) -> Result<(), StoreError> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.is_dir() => Ok(()),
        Ok(m) if m.file_type().is_symlink() => Err(link_error(dir)).at(dir),
        // Damage: what would be written below it is left out, the rest of the run goes on.
        Ok(m) => {
            let kind = kind_of(m.file_type());
            if first_time(dir) {
                let what = format!("is {kind} where matterbak keeps a folder (move it away)");
                tracing::warn!("{}: {what}", dir.display());
                DAMAGED
                    .lock()
                    .expect("not poisoned")
                    .push((dir.to_path_buf(), what));
            }
            Err(io::Error::other(NotAFolder { kind })).at(dir)
        }
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

/// Opens the file at `path` for reading, the one way every file of a data dir is opened: not
/// through a symbolic link (a [`Link`] error), without blocking (`O_NONBLOCK`: opening a FIFO
/// would wait for a writer for good), and only if the file opened is a regular file (checked
/// with `fstat` on what was opened; anything else is a [`NotRegular`] error). Neither error
/// warns: [`read`] does, for the backup; `verify` reports them itself.
pub fn open_file(path: &Path) -> io::Result<std::fs::File> {
    let mut o = no_follow();
    o.read(true);
    #[cfg(unix)]
    {
        use rustix::fs::OFlags;
        let flags = OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut o, flags.bits() as i32);
    }
    let f = match o.open(path) {
        Ok(f) => f,
        Err(e) if is_eloop(&e) => return Err(io::Error::other(Link)),
        Err(e) => return Err(e),
    };
    let t = f.metadata()?.file_type();
    if !t.is_file() {
        return Err(io::Error::other(NotRegular { kind: kind_of(t) }));
    }
    Ok(f)
}

/// Opens a file outside the data dir that matterbak reads back (the previous zip), following
/// a link (the user's choice there), without blocking and only if it is a regular file (a
/// [`NotRegular`] error otherwise): a FIFO in its place cannot hang a run.
pub fn open_regular(path: &Path) -> io::Result<std::fs::File> {
    #[allow(unused_mut)]
    let mut o = std::fs::OpenOptions::new();
    o.read(true);
    #[cfg(unix)]
    {
        use rustix::fs::OFlags;
        let flags = OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
        std::os::unix::fs::OpenOptionsExt::custom_flags(&mut o, flags.bits() as i32);
    }
    let f = o.open(path)?;
    let t = f.metadata()?.file_type();
    if !t.is_file() {
        return Err(io::Error::other(NotRegular { kind: kind_of(t) }));
    }
    Ok(f)
}

/// Reads a whole file as [`open_file`] opens it; a link or damage is warned about (once).
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    let mut f = match open_file(path) {
        Ok(f) => f,
        Err(e) if e.get_ref().is_some_and(|i| i.is::<Link>()) => return Err(link_error(path)),
        Err(e) => {
            return Err(
                match e.get_ref().and_then(|i| i.downcast_ref::<NotRegular>()) {
                    Some(n) => damage_error(path, n.kind),
                    None => e,
                },
            )
        }
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
