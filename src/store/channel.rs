//! One channel's files: the channel object, members, threads, one file per post, attachments.

use std::collections::{BTreeMap, HashMap, HashSet};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;
use std::path::{Path, PathBuf};

use super::atomic::{self, AtomicFile, Dir, DirSync};
use super::content::Authored;
use super::iddir::IdDir;
use super::layout::{self, Place};
use super::links;
use super::{IoPath, StoreError};

/// What writing an object did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    New,
    Updated,
    /// The message changed: the earlier version went to the post's history.
    Edited,
    /// Deleted on the server: the stored content was kept and the deletion recorded.
    Deleted,
    Unchanged,
    /// Deleted on the server before the backup ever saw it: nothing to keep, not stored.
    Skipped,
}

/// A post as the server sent it, with the fields the store needs to file it.
pub struct PostVersion<'a> {
    pub id: &'a str,
    pub create_at: i64,
    pub delete_at: i64,
    pub raw: &'a [u8],
}

/// `history/<post_id>.json`: what the server no longer shows of a post.
#[derive(Debug, Default, Serialize, Deserialize)]
struct History {
    post_id: String,
    /// Earlier versions, oldest first, each as the server sent it while it was current.
    #[serde(default)]
    versions: Vec<Box<RawValue>>,
    /// The post as the server sent it once deleted (its message is empty there).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deleted: Option<Box<RawValue>>,
    /// When matterbak first saw that the post was deleted (ms since the epoch).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    deleted_seen_at: Option<i64>,
}

fn raw_value(bytes: &[u8], path: &Path) -> Result<Box<RawValue>, StoreError> {
    let invalid = |e: Box<dyn std::error::Error + Send + Sync>| StoreError {
        path: path.to_path_buf(),
        source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
    };
    let text = String::from_utf8(bytes.to_vec()).map_err(|e| invalid(e.into()))?;
    RawValue::from_string(text).map_err(|e| invalid(e.into()))
}

/// The stored files of one channel, with indexes of its posts and attachments.
pub struct ChannelDir {
    pub kind: Place,
    channel_id: String,
    /// `<channel_id>__<name>`
    base: String,
    parent: PathBuf,
    posts_dir: PathBuf,
    files_dir: PathBuf,
    /// `posts_dir` and `files_dir` held open: a post's file is written by name in it.
    posts_fd: Dir,
    files_fd: Dir,
    /// post id -> file name in `posts_dir`
    posts: HashMap<String, String>,
    /// file id -> names of attachment files (`<file_id>__<name>`, any extension) in `files_dir`
    files: HashMap<String, Vec<String>>,
    /// root post id -> reply ids
    threads: BTreeMap<String, Vec<String>>,
    /// The zone of new post file names.
    zone: layout::NameZone,
    sync: DirSync,
}

impl ChannelDir {
    pub(crate) fn open(
        parent: &mut IdDir,
        kind: Place,
        channel_id: &str,
        name: &str,
        zone: layout::NameZone,
        sync: &DirSync,
    ) -> Result<Self, StoreError> {
        let base = layout::object_base(channel_id, name).at(parent.path())?;
        let posts_dir = parent.adopt_dir(channel_id, &base)?;
        let files_dir = posts_dir.join(layout::FILES);
        links::ensure_dir(&files_dir)?;
        sync.mark(&posts_dir);
        // Opened without following a link: checked here once, not once per file.
        let posts_fd = Dir::open(&posts_dir).at(&posts_dir)?;
        let files_fd = Dir::open(&files_dir).at(&files_dir)?;

        let mut posts = HashMap::new();
        for entry in std::fs::read_dir(&posts_dir).at(&posts_dir)? {
            let entry = entry.at(&posts_dir)?;
            let fname = entry.file_name().to_string_lossy().into_owned();
            let kind = entry.file_type().at(&posts_dir)?;
            if kind.is_symlink() {
                // reported (once) and left alone
                let _ = links::link_error(&entry.path());
            } else if !kind.is_file() && !kind.is_dir() {
                // a FIFO or the like: damage, reported (once) and left alone
                let _ = links::damage_error(&entry.path(), links::kind_of(kind));
            }
            if fname.starts_with(atomic::TEMP_PREFIX) || !kind.is_file() {
                continue;
            }
            if let Some(id) = layout::post_id_of(&fname) {
                // One file per post id: should two exist (a crashed foreign tool), keep the newest name.
                let keep = posts.get(id).is_none_or(|old: &String| fname > *old);
                if keep {
                    posts.insert(id.to_string(), fname);
                }
            }
        }
        let mut files: HashMap<String, Vec<String>> = HashMap::new();
        for entry in std::fs::read_dir(&files_dir).at(&files_dir)? {
            let entry = entry.at(&files_dir)?;
            let fname = entry.file_name().to_string_lossy().into_owned();
            let kind = entry.file_type().at(&files_dir)?;
            if !kind.is_file() && !kind.is_dir() && !kind.is_symlink() {
                let _ = links::damage_error(&entry.path(), links::kind_of(kind));
            }
            if let layout::FilesEntry::Attachment(id, _) = layout::FilesEntry::parse(&fname) {
                files.entry(id.to_string()).or_default().push(fname);
            }
        }

        // Threads of this channel, from the current file and from files of older names.
        let mut threads: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let thread_files: Vec<String> = parent
            .names_of(channel_id)
            .filter(|n| layout::is_threads_file(n))
            .map(str::to_string)
            .collect();
        for tf in thread_files {
            // The original's older format (a list of lists) is dropped and rebuilt.
            if let Some(serde_json::Value::Object(map)) = parent.read_json(&tf) {
                // Only ids: what a hostile server once sent as a root or reply id is dropped.
                for (root, replies) in map
                    .into_iter()
                    .filter(|(r, _)| layout::checked_id(r).is_ok())
                {
                    let list = threads.entry(root).or_default();
                    for r in replies
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|r| r.as_str())
                        .filter(|r| layout::checked_id(r).is_ok())
                    {
                        if !list.iter().any(|x| x == r) {
                            list.push(r.to_string());
                        }
                    }
                }
            }
        }

        Ok(ChannelDir {
            kind,
            channel_id: channel_id.to_string(),
            base,
            parent: parent.path().to_path_buf(),
            posts_dir,
            files_dir,
            posts_fd,
            files_fd,
            posts,
            files,
            threads,
            zone,
            sync: sync.clone(),
        })
    }

    pub fn channel_id(&self) -> &str {
        &self.channel_id
    }

    pub fn posts_dir(&self) -> &Path {
        &self.posts_dir
    }

    /// `<channel_id>__<name>`: the stem of the channel's files.
    pub fn base(&self) -> &str {
        &self.base
    }

    pub fn post_count(&self) -> usize {
        self.posts.len()
    }

    pub fn has_post(&self, post_id: &str) -> bool {
        self.posts.contains_key(post_id)
    }

    fn write_in(
        dir: &Dir,
        name: &str,
        data: &[u8],
        existed: bool,
        sync: &DirSync,
    ) -> Result<Change, StoreError> {
        let at = || dir.path().join(name);
        if existed && links::read(&at()).is_ok_and(|old| old == data) {
            return Ok(Change::Unchanged);
        }
        dir.write_batched(name, data, sync)
            .map_err(|source| StoreError { path: at(), source })?;
        Ok(if existed {
            Change::Updated
        } else {
            Change::New
        })
    }

    /// `<base>.json`, and `<base>__members.json` when the members were fetched.
    pub fn write_channel(
        &self,
        parent: &mut IdDir,
        raw: &[u8],
        members: Option<&[u8]>,
    ) -> Result<(), StoreError> {
        parent.write(&format!("{}.json", self.base), raw)?;
        if let Some(m) = members {
            parent.write(&layout::members_file(&self.base), m)?;
        }
        Ok(())
    }

    /// The user ids of the stored members list (of this name or an older name of the channel).
    pub fn stored_members(&self, parent: &IdDir) -> Option<Vec<String>> {
        stored_members(parent, &self.channel_id)
    }

    /// Files a post: a new post gets its file; a changed post replaces its file (an edit keeps
    /// the earlier version in `history/`); a deleted post keeps its last known content and the
    /// deletion is recorded in `history/`. A deleted post never seen before is not stored.
    pub fn save_post(&mut self, p: PostVersion<'_>, now: i64) -> Result<Change, StoreError> {
        let Some(name) = self.posts.get(p.id).cloned() else {
            if p.delete_at > 0 {
                return Ok(Change::Skipped);
            }
            let name = layout::post_file_in(p.create_at, p.id, self.zone).at(&self.posts_dir)?;
            Self::write_in(&self.posts_fd, &name, p.raw, false, &self.sync)?;
            self.posts.insert(p.id.to_string(), name);
            return Ok(Change::New);
        };
        let path = self.posts_dir.join(&name);
        if p.delete_at > 0 {
            let mut h = self.history(p.id)?;
            if h.deleted
                .as_ref()
                .is_some_and(|d| d.get().as_bytes() == p.raw)
            {
                return Ok(Change::Unchanged);
            }
            h.deleted = Some(raw_value(p.raw, &path)?);
            h.deleted_seen_at.get_or_insert(now);
            self.write_history(&h)?;
            return Ok(Change::Deleted);
        }
        let old = links::read(&path).at(&path)?;
        if old == p.raw {
            return Ok(Change::Unchanged);
        }
        // An edit only when what the author wrote or attached changed (`content`).
        let edited = match Authored::of_bytes(&old) {
            Some(a) => Authored::of_bytes(p.raw).is_none_or(|b| a != b),
            // Cut short by a power cut before its checkpoint: replaced, nothing to keep.
            None => false,
        };
        if edited {
            let mut h = self.history(p.id)?;
            // A run killed between this write and the post's would come here again: keep the
            // version once.
            let known = h
                .versions
                .last()
                .is_some_and(|v| v.get().as_bytes() == old.as_slice());
            if let (false, Ok(v)) = (known, raw_value(&old, &path)) {
                h.versions.push(v);
                self.write_history(&h)?;
            }
        }
        Self::write_in(&self.posts_fd, &name, p.raw, true, &self.sync)?;
        Ok(if edited {
            Change::Edited
        } else {
            Change::Updated
        })
    }

    /// After a complete walk: records the stored posts that the server no longer lists as
    /// deleted (their content stays). Returns how many were newly recorded.
    /// The stored posts that are not in `listed` and not recorded as deleted yet: after a
    /// walk through all of a channel's posts, the ones the server may have deleted.
    pub fn unlisted(&self, listed: &HashSet<String>) -> Result<Vec<String>, StoreError> {
        let mut out = Vec::new();
        for id in self.posts.keys().filter(|id| !listed.contains(*id)) {
            let h = self.history(id)?;
            if h.deleted.is_none() && h.deleted_seen_at.is_none() {
                out.push(id.clone());
            }
        }
        out.sort();
        Ok(out)
    }

    /// Records that the server no longer has this stored post (its content is kept).
    pub fn record_deleted(&mut self, post_id: &str, now: i64) -> Result<(), StoreError> {
        let mut h = self.history(post_id)?;
        if h.deleted.is_none() && h.deleted_seen_at.is_none() {
            h.deleted_seen_at = Some(now);
            self.write_history(&h)?;
        }
        Ok(())
    }

    fn history_path(&self, post_id: &str) -> Result<PathBuf, StoreError> {
        let dir = self.posts_dir.join(layout::HISTORY);
        let name = layout::history_name(post_id).at(&dir)?;
        Ok(dir.join(name))
    }

    fn history(&self, post_id: &str) -> Result<History, StoreError> {
        let path = self.history_path(post_id)?;
        let fresh = || History {
            post_id: post_id.to_string(),
            ..History::default()
        };
        match links::read(&path) {
            Ok(b) => Ok(serde_json::from_slice(&b).unwrap_or_else(|e| {
                tracing::warn!("{}: {e}; starting it anew", path.display());
                fresh()
            })),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(fresh()),
            Err(e) => Err(StoreError { path, source: e }),
        }
    }

    fn write_history(&self, h: &History) -> Result<(), StoreError> {
        let path = self.history_path(&h.post_id)?;
        let dir = path.parent().expect("history file has a folder");
        if !links::is_real_dir(dir) {
            links::ensure_dir(dir)?;
            self.sync.mark(&self.posts_dir);
        }
        let bytes = serde_json::to_vec(h).expect("history serialises");
        // Written by name in the folder opened without following a link (edits are rare: one
        // open per history file written).
        let name = layout::history_name(&h.post_id).at(dir)?;
        Dir::open(dir)
            .and_then(|d| d.write_batched(&name, &bytes, &self.sync))
            .at(&path)
    }

    /// `files/<file_id>.json`
    pub fn write_file_info(&self, file_id: &str, raw: &[u8]) -> Result<Change, StoreError> {
        let name = layout::file_info_name(file_id).at(&self.files_dir)?;
        let existed =
            std::fs::symlink_metadata(self.files_dir.join(&name)).is_ok_and(|m| m.is_file());
        Self::write_in(&self.files_fd, &name, raw, existed, &self.sync)
    }

    /// Is the attachment already stored (under any name) with this size (negative: any size)?
    pub fn has_file(&self, file_id: &str, size: i64) -> bool {
        self.files.get(file_id).into_iter().flatten().any(|n| {
            std::fs::symlink_metadata(self.files_dir.join(n))
                .is_ok_and(|m| m.is_file() && (size < 0 || m.len() == size as u64))
        })
    }

    /// Starts writing an attachment `files/<file_id>__<name>`; commit with [`ChannelDir::file_done`].
    pub fn begin_file(
        &self,
        file_id: &str,
        name: &str,
    ) -> Result<(AtomicFile, String), StoreError> {
        let fname = layout::attachment_name(file_id, name).at(&self.files_dir)?;
        let path = self.files_dir.join(&fname);
        layout::component(&fname).at(&path)?;
        Ok((AtomicFile::create(&path, &self.sync).at(&path)?, fname))
    }

    /// Commits a downloaded attachment and forgets other names of the same file id.
    pub fn file_done(
        &mut self,
        file_id: &str,
        fname: String,
        file: AtomicFile,
    ) -> Result<(), StoreError> {
        let path = self.files_dir.join(&fname);
        file.commit_batched().at(&path)?;
        let names = self.files.entry(file_id.to_string()).or_default();
        for old in names.drain(..).filter(|n| *n != fname) {
            let p = self.files_dir.join(&old);
            if !links::is_link(&p) {
                std::fs::remove_file(&p).at(&p)?;
            }
        }
        names.push(fname);
        Ok(())
    }

    /// Records that `reply` belongs to the thread of `root`. Ids only: a reply whose root is
    /// not a Mattermost id ([`layout::checked_id`]) is not threaded (it keeps its `root_id`).
    pub fn add_thread(&mut self, root: &str, reply: &str) {
        if layout::checked_id(root).is_err() || layout::checked_id(reply).is_err() {
            tracing::warn!(
                "{}: post {} answers {}, which is not a post id; not recorded as a thread",
                self.base,
                layout::shown(reply),
                layout::shown(root)
            );
            return;
        }
        let list = self.threads.entry(root.to_string()).or_default();
        if !list.iter().any(|r| r == reply) {
            list.push(reply.to_string());
        }
    }

    /// Writes the threads file (replies in creation order) and removes files of older names.
    pub fn finish(mut self, parent: &mut IdDir) -> Result<(), StoreError> {
        let posts = &self.posts;
        for replies in self.threads.values_mut() {
            replies.sort_by(|a, b| posts.get(a).cmp(&posts.get(b)).then(a.cmp(b)));
        }
        let threads = serde_json::to_vec(&self.threads).expect("strings serialise");
        let tname = layout::threads_file(&self.base);
        parent.write(&tname, &threads)?;
        let keep = [
            format!("{}.json", self.base),
            layout::members_file(&self.base),
            tname,
        ];
        let keep: Vec<&str> = keep.iter().map(String::as_str).collect();
        parent.remove_others(&self.channel_id, &keep, |n| n.ends_with(".json"))?;
        debug_assert_eq!(parent.path(), self.parent);
        Ok(())
    }
}

/// The user ids in the stored members list of a channel, if there is one.
pub fn stored_members(parent: &IdDir, channel_id: &str) -> Option<Vec<String>> {
    let name = parent
        .names_of(channel_id)
        .find(|n| layout::is_members_file(n))?;
    let v = parent.read_json(name)?;
    Some(
        v.as_array()?
            .iter()
            .filter_map(|m| m.get("user_id")?.as_str().map(str::to_string))
            .collect(),
    )
}
