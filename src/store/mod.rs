//! The data directory: layout, names, atomic writes, and its read side ([`read`]). It never
//! speaks HTTP.

pub mod atomic;
mod channel;
pub mod content;
pub mod depth;
mod iddir;
pub mod layout;
pub mod links;
pub mod lock;
pub mod read;
pub mod state;
pub mod verify;

pub use channel::{stored_members, Change, ChannelDir, PostVersion};
pub use iddir::IdDir;
pub use layout::Place;
pub use lock::DirLock;
pub use state::{ChannelState, State};

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};

use atomic::DirSync;

/// An I/O error on a path of the data directory. Its message holds the I/O error's (which is
/// therefore not its `source()`: an error chain says it once).
#[derive(Debug)]
pub struct StoreError {
    pub path: PathBuf,
    pub source: io::Error,
}

impl std::fmt::Display for StoreError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (p, e) = (self.path.display(), &self.source);
        write!(f, "{p}: {e}{}", hint(e))
    }
}

impl std::error::Error for StoreError {}

fn hint(e: &io::Error) -> &'static str {
    match e.raw_os_error() {
        Some(28) => " (the disk is full: free some space and run again; the backup is intact)",
        Some(13) | Some(1) => " (permission denied: check the owner and mode of the data dir)",
        _ => "",
    }
}

/// The data dir that `path` is (or is inside of), if any: the nearest of it and its parents
/// that holds matterbak's state file or lock, or `users/` and a folder of channels (`teams/`,
/// `direct/` or `groups/`: a data dir of the original has no state file). The exports write
/// nowhere inside one. (An import's `data/` folder, with `attachments/` and `emojis/`, is not
/// one; nor is `/home` with a `users/` folder.)
pub fn data_dir_holding(path: &Path) -> Option<PathBuf> {
    path.ancestors().find_map(|d| {
        let marks = [state::STATE_FILE, lock::LOCK_FILE];
        let channels = [layout::TEAMS, layout::DIRECT, layout::GROUPS];
        let is = marks.iter().any(|m| d.join(m).symlink_metadata().is_ok())
            || (d.join(layout::USERS).is_dir() && channels.iter().any(|f| d.join(f).is_dir()));
        is.then(|| d.to_path_buf())
    })
}

pub(crate) trait IoPath<T> {
    fn at(self, path: &Path) -> Result<T, StoreError>;
}

impl<T> IoPath<T> for io::Result<T> {
    fn at(self, path: &Path) -> Result<T, StoreError> {
        self.map_err(|source| StoreError {
            path: path.to_path_buf(),
            source,
        })
    }
}

/// An id that cannot be a file name, for an object that would have been written in `path`.
impl<T> IoPath<T> for Result<T, layout::BadId> {
    fn at(self, path: &Path) -> Result<T, StoreError> {
        self.map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, e))
            .at(path)
    }
}

/// The data directory of one backup.
pub struct Store {
    root: PathBuf,
    sync: DirSync,
    /// Held from [`Store::lock`] on.
    lock: std::sync::OnceLock<DirLock>,
    /// The topmost folder [`Store::lock`] created (the data dir or a parent), if it made one.
    created: std::sync::OnceLock<PathBuf>,
}

/// The image of an object (profile image, team icon, emoji), as the store needs it.
pub struct ImageData<'a> {
    pub content_type: &'a str,
    pub bytes: &'a [u8],
}

impl Store {
    /// The data directory at `root`, not touched yet: until [`Store::lock`], only reading is
    /// allowed (checking a configuration must not change a thing).
    pub fn at(root: &Path) -> Self {
        Store {
            root: root.to_path_buf(),
            sync: DirSync::default(),
            lock: std::sync::OnceLock::new(),
            created: std::sync::OnceLock::new(),
        }
    }

    /// Creates the directory if needed (mode 0700) and takes its lock for as long as the store
    /// lives: before the first request, so that a second run asks the server nothing.
    ///
    /// # Errors
    /// A usage error when the path is a file; when the directory cannot be created, or another
    /// run holds its lock.
    pub fn lock(&self) -> anyhow::Result<()> {
        if self.lock.get().is_some() {
            return Ok(());
        }
        let root = &self.root;
        match std::fs::metadata(root) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => return Err(lock::not_a_folder(root).into()),
            Err(_) if links::is_link(root) => {
                return Err(crate::error::Fatal::usage(format!(
                    "the data dir {} is a symbolic link to a folder that does not exist: create the folder or fix the link",
                    root.display()
                ))
                .into())
            }
            Err(_) => {
                let top = root
                    .ancestors()
                    .take_while(|a| !a.as_os_str().is_empty() && std::fs::symlink_metadata(a).is_err())
                    .last()
                    .map(Path::to_path_buf);
                links::new_dir().recursive(true).create(root).at(root)?;
                if let Some(top) = top {
                    let _ = self.created.set(top);
                }
            }
        }
        let _ = self.lock.set(DirLock::acquire(root)?);
        Ok(())
    }

    /// After a run that failed: removes the data dir again when this run created it and wrote
    /// nothing but the lock (a wrong password leaves no trace).
    pub fn remove_if_unused(&self) {
        let Some(top) = self.created.get() else {
            return;
        };
        let root = &self.root;
        let only_lock = std::fs::read_dir(root).is_ok_and(|rd| {
            rd.flatten()
                .all(|e| e.file_name() == std::ffi::OsStr::new(lock::LOCK_FILE))
        });
        if !only_lock {
            return;
        }
        let _ = std::fs::remove_file(root.join(lock::LOCK_FILE));
        for dir in root.ancestors() {
            if std::fs::remove_dir(dir).is_err() || dir == top.as_path() {
                break;
            }
        }
    }

    /// Takes the lock (unless [`Store::lock`] did) and removes temp files of interrupted runs.
    ///
    /// # Errors
    /// When the directory cannot be created or read, or another run holds its lock.
    pub fn open(&self) -> anyhow::Result<()> {
        let root = &self.root;
        self.lock()?;
        let removed = atomic::remove_stale_temps(root).at(root)?;
        if removed > 0 {
            tracing::info!("removed {removed} temp files left by an interrupted run");
        }
        Ok(())
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// fsyncs every directory changed since the last checkpoint.
    ///
    /// # Errors
    /// When an fsync fails.
    pub fn checkpoint(&self) -> Result<(), StoreError> {
        self.sync.sync().at(&self.root)
    }

    /// Saves the state file after fsyncing the data it describes.
    ///
    /// # Errors
    /// When the write or an fsync fails.
    pub fn save_state(&self, state: &State) -> Result<(), StoreError> {
        self.checkpoint()?;
        state.save(&self.root, &self.sync)
    }

    /// The ids with a JSON file in a folder indexed by object id (none if it does not exist);
    /// unlike [`Store::id_dir`] it creates nothing.
    ///
    /// # Errors
    /// When the folder cannot be read.
    pub fn stored_ids(&self, rel: &Path) -> Result<BTreeSet<String>, StoreError> {
        let dir = self.root.join(rel);
        if !self.is_real_dir(rel) {
            return Ok(BTreeSet::new());
        }
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(BTreeSet::new()),
            Err(e) => return Err(e).at(&dir),
        };
        let mut ids = BTreeSet::new();
        for entry in rd {
            let name = entry.at(&dir)?.file_name().to_string_lossy().into_owned();
            if name.ends_with(".json") && !name.starts_with(atomic::TEMP_PREFIX) {
                ids.insert(layout::id_prefix(&name).to_string());
            }
        }
        Ok(ids)
    }

    /// A top-level folder indexed by object id (`users`, `emojis`, `teams`, `direct`, `groups`).
    /// It and its parents below the data dir are created 0700 and must not be links.
    pub fn id_dir(&self, rel: &Path) -> Result<IdDir, StoreError> {
        let dir = links::ensure_dirs(&self.root, rel)?;
        IdDir::open(&dir, &self.sync)
    }

    /// Is `rel` a folder below the data dir, none of whose parts is a link (a link is warned
    /// about once)? Readers skip anything else.
    pub fn is_real_dir(&self, rel: &Path) -> bool {
        let mut dir = self.root.clone();
        for c in rel.components() {
            dir.push(c);
            if links::is_link(&dir) {
                let _ = links::link_error(&dir);
                return false;
            }
        }
        links::is_real_dir(&dir)
    }

    /// The usernames of the stored user files (`users/<user_id>__<username>.json`, sanitised as
    /// in their names); temp files left out. Empty when `users/` is missing or a link.
    pub fn stored_usernames(&self) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        if !self.is_real_dir(Path::new(layout::USERS)) {
            return names;
        }
        let Ok(rd) = std::fs::read_dir(self.root.join(layout::USERS)) else {
            return names;
        };
        for e in rd.flatten() {
            let n = e.file_name().to_string_lossy().into_owned();
            if n.starts_with(atomic::TEMP_PREFIX) {
                continue;
            }
            if let Some((_, username)) = layout::parse_object_file(&n) {
                names.insert(username.to_string());
            }
        }
        names
    }

    /// The folder of one channel (posts, files, threads), adopting a folder of a renamed channel.
    pub fn channel(
        &self,
        parent: &mut IdDir,
        kind: Place,
        channel_id: &str,
        name: &str,
        zone: layout::NameZone,
    ) -> Result<ChannelDir, StoreError> {
        ChannelDir::open(parent, kind, channel_id, name, zone, &self.sync)
    }

    /// The zone in which the post files present were named, judged from up to 20 of them:
    /// `Local` only when their names match this machine's local time and not UTC (a data dir
    /// of the original on a machine outside UTC). `None` without evidence either way.
    pub fn detect_post_zone(&self) -> Option<layout::NameZone> {
        let (mut utc, mut local, mut seen) = (0, 0, 0);
        let mut dirs = Vec::new();
        for kind in [layout::DIRECT, layout::GROUPS] {
            if self.is_real_dir(Path::new(kind)) {
                dirs.extend(subdirs(&self.root.join(kind)));
            }
        }
        let teams = Path::new(layout::TEAMS);
        for team in subdirs(&self.root.join(layout::TEAMS))
            .into_iter()
            .filter(|_| self.is_real_dir(teams))
        {
            dirs.extend(subdirs(&team));
        }
        'outer: for d in dirs {
            let Ok(rd) = std::fs::read_dir(&d) else {
                continue;
            };
            for e in rd.flatten() {
                let name = e.file_name().to_string_lossy().into_owned();
                let Some(ts) = layout::post_timestamp_of(&name) else {
                    continue;
                };
                let Some(create_at) = links::read(&e.path())
                    .ok()
                    .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
                    .and_then(|v| v.get("create_at")?.as_i64())
                else {
                    continue;
                };
                let (u, l) = (
                    layout::timestamp_in(create_at, layout::NameZone::Utc),
                    layout::timestamp_in(create_at, layout::NameZone::Local),
                );
                utc += usize::from(ts == u);
                local += usize::from(ts == l && l != u);
                seen += 1;
                if seen >= 20 {
                    break 'outer;
                }
            }
        }
        if local > utc {
            Some(layout::NameZone::Local)
        } else if utc > 0 {
            Some(layout::NameZone::Utc)
        } else {
            None
        }
    }

    /// Writes a user object; an older file of the same user (renamed) is removed.
    pub fn write_user(
        &self,
        users: &mut IdDir,
        user_id: &str,
        username: &str,
        raw: &[u8],
    ) -> Result<(), StoreError> {
        let base = layout::object_base(user_id, username).at(users.path())?;
        let name = layout::object_file(&base);
        users.write(&name, raw)?;
        users.remove_others(user_id, &[&name], |n| n.ends_with(".json"))
    }

    /// The stored user object, if any.
    pub fn stored_json(&self, dir: &IdDir, id: &str) -> Option<serde_json::Value> {
        dir.names_of(id)
            .filter(|n| n.ends_with(".json"))
            .find_map(|n| dir.read_json(n))
    }

    /// Does a non-empty image of `id` with this label exist (any extension)? (An empty one
    /// is what a power cut before a checkpoint can leave: fetched again.)
    pub fn has_image(&self, dir: &IdDir, id: &str, label: Option<&str>) -> bool {
        let Ok(prefix) = image_prefix(id, label) else {
            return false;
        };
        dir.names_of(id).any(|n| {
            n.starts_with(&prefix)
                && !n.ends_with(".json")
                && n[prefix.len()..].starts_with('.')
                && std::fs::symlink_metadata(dir.path().join(n))
                    .is_ok_and(|m| m.is_file() && m.len() > 0)
        })
    }

    /// Gives the stored image of `id` that has another label (e.g. a user's former name) this
    /// label, keeping its bytes and extension. Returns false when there is no such image.
    pub fn relabel_image(
        &self,
        dir: &mut IdDir,
        id: &str,
        label: &str,
    ) -> Result<bool, StoreError> {
        let old = dir
            .names_of(id)
            .find(|n| {
                !n.ends_with(".json")
                    && is_image_name(n)
                    && std::fs::symlink_metadata(dir.path().join(n))
                        .is_ok_and(|m| m.is_file() && m.len() > 0)
            })
            .map(str::to_string);
        let Some(old) = old else {
            return Ok(false);
        };
        let ext = old.rsplit_once('.').map_or("png", |(_, e)| e);
        let new = format!("{}.{ext}", image_prefix(id, Some(label)).at(dir.path())?);
        if new != old {
            dir.rename(&old, &new)?;
        }
        Ok(true)
    }

    /// Writes an image as `<id>[__<label>].<ext>` and removes older images of the same id.
    /// Returns false (and writes nothing) when the content type is not `image/*`.
    pub fn write_image(
        &self,
        dir: &mut IdDir,
        id: &str,
        label: Option<&str>,
        img: ImageData<'_>,
    ) -> Result<bool, StoreError> {
        let Some(ext) = layout::image_ext(img.content_type) else {
            tracing::warn!(
                "not storing the image of {id}: content type `{}` is not an image",
                img.content_type
            );
            return Ok(false);
        };
        let name = format!("{}.{ext}", image_prefix(id, label).at(dir.path())?);
        dir.write(&name, img.bytes)?;
        dir.remove_others(id, &[&name], |n| !n.ends_with(".json") && is_image_name(n))?;
        Ok(true)
    }
}

fn image_prefix(id: &str, label: Option<&str>) -> Result<String, layout::BadId> {
    match label {
        Some(l) => layout::object_base(id, l),
        None => layout::checked_id(id).map(str::to_string),
    }
}

/// Image files are `<id>.<ext>`, `<id>__icon.<ext>`, `<id>__<name>.<ext>`, `<id>__<user>__image.<ext>`.
fn is_image_name(n: &str) -> bool {
    let exts = [
        "png", "jpg", "jpeg", "gif", "bmp", "webp", "svg", "svg+xml", "tiff", "x-icon", "avif",
        "heic",
    ];
    n.rsplit_once('.')
        .is_some_and(|(_, e)| exts.contains(&e.to_ascii_lowercase().as_str()))
}

fn subdirs(dir: &Path) -> Vec<PathBuf> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<PathBuf> = rd
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    v.sort();
    v
}
