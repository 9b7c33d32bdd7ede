//! The `data/` folder beside the JSONL file (`-a`): attachments and custom emoji images, at the
//! paths the JSONL names relative to it.
//!
//! The importer resolves an attachment's `path` against the import's data folder: a zip given to
//! `mmctl import upload` is processed with `model.ExportDataDir` (`data`) as base, and each path
//! is looked up as the zip entry `data/<path>` (`processAttachmentPaths` in
//! `server/channels/app/import.go`); paths that leave that folder are refused
//! (`ValidateAttachmentPathForImport`). The file keeps the base name of its path, so the
//! original file name is the last part of the path.

use std::collections::HashSet;
use std::io::{self, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::limits::MAX_EMOJI_FILE_SIZE;
use crate::export::source::Source;
use crate::store::atomic::{AtomicFile, DirSync};
use crate::store::layout::sanitize;

/// Name of the folder beside the JSONL file (the importer's `model.ExportDataDir`).
pub const DATA_DIR: &str = "data";

pub struct Files {
    root: PathBuf,
    written: HashSet<String>,
    sync: DirSync,
    /// Attachments copied (each file once).
    pub attachments: usize,
    /// Emoji images copied.
    pub emojis: usize,
    pub bytes: u64,
}

impl Files {
    /// Files below `root` (the `data/` folder beside the JSONL file; created when needed).
    pub fn new(root: PathBuf) -> Files {
        Files {
            root,
            written: HashSet::new(),
            sync: DirSync::default(),
            attachments: 0,
            emojis: 0,
            bytes: 0,
        }
    }

    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Copies attachment `file_id` (named `name`, `limit` bytes at most: see
    /// [`Source::copy_to`]) from `path` in `src` to `data/attachments/<file_id>/<name>`; returns
    /// the path the JSONL names, or `None` when the file was left out.
    pub fn attachment(
        &mut self,
        src: &Source,
        path: &str,
        file_id: &str,
        name: &str,
        limit: Option<u64>,
    ) -> Result<Option<String>> {
        let rel = format!("attachments/{}/{}", sanitize(file_id), sanitize(name));
        Ok(match self.copy(src, path, &rel, limit, None)? {
            Copy::Done => {
                self.attachments += 1;
                Some(rel)
            }
            Copy::Before => Some(rel),
            Copy::LeftOut | Copy::TooLarge(_) => None,
        })
    }

    /// Copies the image of custom emoji `name` from `path` in `src` to
    /// `data/emojis/<name>.<ext>`. An image over the importer's [`MAX_EMOJI_FILE_SIZE`] is not
    /// kept: the importer would fail its line and stop there.
    pub fn emoji(&mut self, src: &Source, path: &str, name: &str) -> Result<EmojiCopy> {
        let ext = path
            .rsplit_once('.')
            .map(|(_, e)| e)
            .filter(|e| !e.contains('/'))
            .unwrap_or("img");
        let rel = format!("emojis/{}", sanitize(&format!("{name}.{ext}")));
        Ok(
            match self.copy(src, path, &rel, None, Some(MAX_EMOJI_FILE_SIZE))? {
                Copy::Done => {
                    self.emojis += 1;
                    EmojiCopy::Copied(rel)
                }
                Copy::Before => EmojiCopy::Copied(rel),
                Copy::LeftOut => EmojiCopy::LeftOut,
                Copy::TooLarge(n) => EmojiCopy::TooLarge(n),
            },
        )
    }

    /// fsyncs the folders the copies went into.
    pub fn finish(self) -> Result<()> {
        self.sync
            .sync()
            .with_context(|| format!("writing {}", self.root.display()))
    }

    /// Copies once per path, atomically. `rel` is made of sanitized components only, so it
    /// stays below the data folder whatever the backup's names are. A copy of more than
    /// `keep_max` bytes is discarded.
    fn copy(
        &mut self,
        src: &Source,
        from: &str,
        rel: &str,
        limit: Option<u64>,
        keep_max: Option<u64>,
    ) -> Result<Copy> {
        if self.written.contains(rel) {
            return Ok(Copy::Before);
        }
        debug_assert!(rel
            .split('/')
            .all(|c| !c.is_empty() && c != "." && c != ".."));
        let dest = self.root.join(rel);
        let dir = dest.parent().unwrap_or(&self.root);
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        let mut f = AtomicFile::create(&dest, &self.sync)
            .with_context(|| format!("creating {}", dest.display()))?;
        let copied = src
            .copy_to(from, &mut Sink(&mut f), limit)
            .with_context(|| format!("copying {} to {}", src.describe(from), dest.display()))?;
        let Some(n) = copied else {
            return Ok(Copy::LeftOut);
        };
        if keep_max.is_some_and(|max| n > max) {
            return Ok(Copy::TooLarge(n));
        }
        f.commit()
            .with_context(|| format!("writing {}", dest.display()))?;
        self.bytes += n;
        self.written.insert(rel.to_string());
        Ok(Copy::Done)
    }
}

/// What [`Files::copy`] did.
enum Copy {
    Done,
    /// Copied earlier in this run.
    Before,
    /// Held more than it may ([`Source::copy_to`]); nothing written.
    LeftOut,
    /// Held this many bytes, more than the caller keeps; nothing written.
    TooLarge(u64),
}

/// What [`Files::emoji`] did.
pub enum EmojiCopy {
    /// The path the JSONL names.
    Copied(String),
    /// Held more than its backup may ([`Source::copy_to`]); nothing written.
    LeftOut,
    /// Its image has this many bytes, more than [`MAX_EMOJI_FILE_SIZE`]; nothing written.
    TooLarge(u64),
}

/// An [`AtomicFile`] as an [`io::Write`].
struct Sink<'a>(&'a mut AtomicFile);

impl Write for Sink<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write_all(buf)?;
        Ok(buf.len())
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}
