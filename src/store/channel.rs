//! One channel's files: the channel object, members, threads, one file per post, attachments.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use super::atomic::{self, AtomicFile, DirSync};
use super::iddir::IdDir;
use super::layout::{self, sanitize, SEP};
use super::{IoPath, StoreError};

/// Where a channel lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ChannelKind {
    Direct,
    Group,
    Team,
}

/// What writing an object did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Change {
    New,
    Updated,
    Unchanged,
}

/// The stored files of one channel, with indexes of its posts and attachments.
pub struct ChannelDir {
    pub kind: ChannelKind,
    channel_id: String,
    /// `<channel_id>__<name>`
    base: String,
    parent: PathBuf,
    posts_dir: PathBuf,
    files_dir: PathBuf,
    /// post id -> file name in `posts_dir`
    posts: HashMap<String, String>,
    /// file id -> names of attachment files (not `.json`) in `files_dir`
    files: HashMap<String, Vec<String>>,
    /// root post id -> reply ids
    threads: BTreeMap<String, Vec<String>>,
    sync: DirSync,
}

impl ChannelDir {
    pub(crate) fn open(
        parent: &mut IdDir,
        kind: ChannelKind,
        channel_id: &str,
        name: &str,
        sync: &DirSync,
    ) -> Result<Self, StoreError> {
        let base = format!("{channel_id}{SEP}{}", sanitize(name));
        let posts_dir = parent.adopt_dir(channel_id, &base)?;
        let files_dir = posts_dir.join(layout::FILES);
        std::fs::create_dir_all(&files_dir).at(&files_dir)?;
        sync.mark(&posts_dir);

        let mut posts = HashMap::new();
        for entry in std::fs::read_dir(&posts_dir).at(&posts_dir)? {
            let entry = entry.at(&posts_dir)?;
            let fname = entry.file_name().to_string_lossy().into_owned();
            if fname.starts_with(atomic::TEMP_PREFIX)
                || !entry.file_type().at(&posts_dir)?.is_file()
            {
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
            if fname.starts_with(atomic::TEMP_PREFIX) || fname.ends_with(".json") {
                continue;
            }
            files
                .entry(layout::id_prefix(&fname).to_string())
                .or_default()
                .push(fname);
        }

        // Threads of this channel, from the current file and from files of older names.
        let mut threads: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let thread_files: Vec<String> = parent
            .names_of(channel_id)
            .filter(|n| n.ends_with(&format!("{SEP}threads.json")))
            .map(str::to_string)
            .collect();
        for tf in thread_files {
            // The original's older format (a list of lists) is dropped and rebuilt.
            if let Some(serde_json::Value::Object(map)) = parent.read_json(&tf) {
                for (root, replies) in map {
                    let list = threads.entry(root).or_default();
                    for r in replies
                        .as_array()
                        .into_iter()
                        .flatten()
                        .filter_map(|r| r.as_str())
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
            posts,
            files,
            threads,
            sync: sync.clone(),
        })
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
        dir: &Path,
        name: &str,
        data: &[u8],
        existed: bool,
        sync: &DirSync,
    ) -> Result<Change, StoreError> {
        let path = dir.join(name);
        if existed && std::fs::read(&path).is_ok_and(|old| old == data) {
            return Ok(Change::Unchanged);
        }
        atomic::write(&path, data, sync).at(&path)?;
        Ok(if existed {
            Change::Updated
        } else {
            Change::New
        })
    }

    /// `<base>.json` and `<base>__members.json` in the parent folder.
    pub fn write_channel(
        &self,
        parent: &mut IdDir,
        raw: &[u8],
        members: &[u8],
    ) -> Result<(), StoreError> {
        parent.write(&format!("{}.json", self.base), raw)?;
        parent.write(&format!("{}{SEP}members.json", self.base), members)?;
        Ok(())
    }

    /// Writes a post to its one file (an existing file of that post id keeps its name).
    pub fn write_post(
        &mut self,
        post_id: &str,
        create_at: i64,
        raw: &[u8],
    ) -> Result<Change, StoreError> {
        let (name, existed) = match self.posts.get(post_id) {
            Some(n) => (n.clone(), true),
            None => (layout::post_file(create_at, &sanitize(post_id)), false),
        };
        let c = Self::write_in(&self.posts_dir, &name, raw, existed, &self.sync)?;
        self.posts.insert(post_id.to_string(), name);
        Ok(c)
    }

    /// `files/<file_id>.json`
    pub fn write_file_info(&self, file_id: &str, raw: &[u8]) -> Result<Change, StoreError> {
        let name = format!("{}.json", sanitize(file_id));
        let existed = self.files_dir.join(&name).is_file();
        Self::write_in(&self.files_dir, &name, raw, existed, &self.sync)
    }

    /// Is the attachment already stored (under any name) with this size (negative: any size)?
    pub fn has_file(&self, file_id: &str, size: i64) -> bool {
        self.files.get(file_id).into_iter().flatten().any(|n| {
            std::fs::metadata(self.files_dir.join(n))
                .is_ok_and(|m| m.is_file() && (size < 0 || m.len() == size as u64))
        })
    }

    /// Starts writing an attachment `files/<file_id>__<name>`; commit with [`ChannelDir::file_done`].
    pub fn begin_file(
        &self,
        file_id: &str,
        name: &str,
    ) -> Result<(AtomicFile, String), StoreError> {
        let fname = format!("{}{SEP}{}", sanitize(file_id), sanitize(name));
        let path = self.files_dir.join(&fname);
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
        file.commit().at(&path)?;
        let names = self.files.entry(file_id.to_string()).or_default();
        for old in names.drain(..).filter(|n| *n != fname) {
            let p = self.files_dir.join(&old);
            std::fs::remove_file(&p).at(&p)?;
        }
        names.push(fname);
        Ok(())
    }

    /// Records that `reply` belongs to the thread of `root`.
    pub fn add_thread(&mut self, root: &str, reply: &str) {
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
        let tname = format!("{}{SEP}threads.json", self.base);
        parent.write(&tname, &threads)?;
        let keep = [
            format!("{}.json", self.base),
            format!("{}{SEP}members.json", self.base),
            tname,
        ];
        let keep: Vec<&str> = keep.iter().map(String::as_str).collect();
        parent.remove_others(&self.channel_id, &keep, |n| n.ends_with(".json"))?;
        debug_assert_eq!(parent.path(), self.parent);
        Ok(())
    }
}
