//! The channel-by-channel exports (csv, txt): the selected channels, each with the posts the
//! filter keeps, written into one output or, with `--split`, into one file per channel.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use super::filter::{Filter, Selection};
use super::model::{Backup, Channel};
use super::out::Output;
use crate::cancel::Cancel;
use crate::error::Fatal;
use crate::store::layout::sanitize;

/// Options of the channel-by-channel exports (`export csv`, `export txt`).
#[derive(Debug, Clone, clap::Args)]
pub struct ChannelsOptions {
    /// The backup: a data dir or a backup zip.
    #[arg(short = 'd', long, value_name = "DIR|ZIP", default_value = "data")]
    pub data_dir: PathBuf,
    /// The file to write [default: standard output]; with --split, the folder.
    #[arg(short = 'o', long, value_name = "FILE|DIR")]
    pub output: Option<PathBuf>,
    /// One file per channel, `<team>__<channel>.<csv or txt>` (direct messages: the
    /// usernames), in the folder -o names.
    #[arg(long)]
    pub split: bool,
    #[command(flatten)]
    pub filter: Filter,
}

/// Runs a channel-by-channel export: opens the backup, resolves the filter, and hands each
/// selected channel to `write(backup, selection, out, channel, first_of_its_file)` through
/// `write_channels` (`ext`: the extension of the files of `--split`).
///
/// # Errors
/// A usage error for a path that is not a backup, an unknown channel or user, `--split`
/// without a folder or an output inside a data dir; an error naming the file for an
/// unreadable backup file or a failed write; `Cancelled` when `cancel` is set.
pub fn export(
    opts: &ChannelsOptions,
    ext: &str,
    cancel: &Cancel,
    mut write: impl FnMut(&Backup, &Selection, &mut Output, &Channel, bool) -> Result<()>,
) -> Result<Summary> {
    let b = Backup::open(&opts.data_dir)?;
    let sel = Selection::new(&opts.filter, std::slice::from_ref(&b))?;
    let split = opts.split.then_some(ext);
    let done = write_channels(
        &b,
        &sel,
        opts.output.as_deref(),
        split,
        cancel,
        |out, c, first| write(&b, &sel, out, c, first),
    )?;
    Ok(Summary::of(done, b.src.check_left_out().err()))
}

/// How many channels and posts were written, and where.
#[derive(Debug, Default)]
pub struct Written {
    pub channels: usize,
    pub posts: usize,
    /// The files written (none for standard output).
    pub files: Vec<PathBuf>,
}

/// What a channel-by-channel export (csv, txt) wrote, and the backup's files it left out.
#[derive(Debug)]
pub struct Summary {
    pub channels: usize,
    pub posts: usize,
    pub files: Vec<PathBuf>,
    /// Files left out because they hold more than their file info says (exit 3).
    pub left_out: Option<anyhow::Error>,
}

impl Summary {
    /// The summary of what `write_channels` did, with the backup's left-out files.
    pub fn of(done: Written, left_out: Option<anyhow::Error>) -> Summary {
        Summary {
            channels: done.channels,
            posts: done.posts,
            files: done.files,
            left_out,
        }
    }

    /// The summary line (stderr), or nothing when the export went to standard output.
    pub fn lines(&self) -> Vec<String> {
        if self.files.is_empty() {
            return Vec::new();
        }
        vec![format!(
            "{} posts of {} channels in {} file{}",
            self.posts,
            self.channels,
            self.files.len(),
            if self.files.len() == 1 { "" } else { "s" }
        )]
    }
}

/// Writes each selected channel that has posts to keep (every selected channel without a
/// filter of posts) with `write(out, channel, first_of_its_file)`, into `output` (standard
/// output for `None` or `-`) or with `split` into `output/<channel>.<ext>`. Each file appears
/// only when complete.
///
/// # Errors
/// A usage error for `--split` without a folder or an output inside a data dir; what `write`
/// returns; a failed write.
fn write_channels(
    b: &Backup,
    sel: &Selection,
    output: Option<&Path>,
    split: Option<&str>,
    cancel: &Cancel,
    mut write: impl FnMut(&mut Output, &Channel, bool) -> Result<()>,
) -> Result<Written> {
    let mut done = Written::default();
    let mut taken = BTreeSet::new();
    // Whatever the export reads (a zip too): nothing is written into a data dir, where it
    // would become part of the backup and of its zip.
    if let Some(p) = output.filter(|p| p.as_os_str() != "-") {
        if let Some(d) = crate::store::data_dir_holding(p) {
            return Err(Fatal::usage(format!(
                "{} is inside the data dir {}; give -o outside it",
                p.display(),
                d.display()
            ))
            .into());
        }
    }
    let dir = match (split, output) {
        (None, _) => None,
        (Some(_), Some(d)) if d.as_os_str() != "-" => {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            Some(d)
        }
        (Some(_), _) => {
            return Err(
                Fatal::usage("--split writes a file per channel: give a folder with -o").into(),
            )
        }
    };
    let mut one = match dir {
        None => Some(Output::create(output)?),
        Some(_) => None,
    };
    if let (Some(o), Some(p)) = (&one, output) {
        if matches!(o, Output::File(_)) {
            done.files.push(p.to_path_buf());
        }
    }
    for info in sel.channels(b) {
        cancel.check()?;
        let c = b.load_selected(info, sel)?;
        if sel.filters_posts() && c.posts.is_empty() {
            continue;
        }
        match (&mut one, dir, split) {
            (Some(out), _, _) => write(out, &c, done.channels == 0)?,
            (None, Some(dir), Some(ext)) => {
                let mut base = sanitize(&b.list_name(info).replace('/', "__"));
                if !taken.insert(base.to_lowercase()) {
                    base = format!("{base}-{}", info.id);
                }
                let path = dir.join(format!("{base}.{ext}"));
                let mut out = Output::create(Some(&path))?;
                write(&mut out, &c, true)?;
                out.finish()?;
                done.files.push(path);
            }
            _ => unreachable!("one output or a folder"),
        }
        done.channels += 1;
        done.posts += c.posts.len();
    }
    if let Some(out) = one {
        out.finish()?;
    }
    Ok(done)
}
