//! `matterbak export html`: a static site to read a backup offline, from disk, in any browser.
//!
//! ```text
//! SITE/index.html                      teams, channels, direct and group messages
//! SITE/c/<channel_id>/<n>.html         page n of a channel (whole threads, oldest first)
//! SITE/files/<file_id>/<file name>     attachments
//! SITE/avatars/<user_id>.<ext>         profile images
//! SITE/emoji/<emoji_id>.<ext>          custom emoji images
//! SITE/teams/<team_id>.<ext>           team icons
//! SITE/.matterbak-site.json            what the export wrote (a rerun replaces exactly that)
//! ```
//!
//! - [`render`]: Mattermost-flavoured Markdown; [`emoji`]: standard emoji.
//! - [`post`], [`channel`], [`index`], [`page`], [`assets`]: the pages.
//! - [`paging`]: pages of whole threads; [`lookup`]: names and paths; [`site`]: the output folder.
//!
//! Every page carries a Content-Security-Policy that allows images from the site's own folder
//! and inline style only (and the index's inline script), so nothing is ever loaded from the
//! network; messages are escaped, names from the backup are sanitised before they become paths.

pub mod assets;
pub mod channel;
pub mod emoji;
pub mod index;
pub mod lookup;
pub mod page;
pub mod paging;
pub mod post;
pub mod render;
pub mod site;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use self::index::Row;
use self::lookup::{channel_title, Lookup};
use self::site::{Site, SitePath};
use crate::cancel::{Cancel, Cancelled};
use crate::error::Fatal;
use crate::export::filter::{Filter, Selection};
use crate::export::model::Backup;
use crate::units::human_bytes;

/// Posts per channel page unless `--page-size` says otherwise.
pub const PAGE_SIZE: usize = 500;

/// Options of `matterbak export html`.
#[derive(Debug, Clone, clap::Args)]
pub struct HtmlOptions {
    /// The backup: a data dir or a backup zip.
    #[arg(short = 'd', long, value_name = "DIR|ZIP", default_value = "data")]
    pub data_dir: PathBuf,
    /// The folder to write the site to (created; files matterbak wrote there before are replaced).
    #[arg(short = 'o', long, value_name = "DIR")]
    pub output: PathBuf,
    /// Posts per page of a channel.
    #[arg(long, value_name = "N", default_value_t = PAGE_SIZE)]
    pub page_size: usize,
    /// Which channels and posts [default: everything].
    #[command(flatten)]
    pub filter: Filter,
}

/// What an html export wrote.
#[derive(Debug)]
pub struct HtmlSummary {
    pub channels: usize,
    pub posts: usize,
    pub pages: usize,
    /// Files written and their total size in bytes.
    pub files: usize,
    pub bytes: u64,
    /// Files of the previous export into the same folder that this one no longer wrote.
    pub removed: usize,
    /// The site folder.
    pub output: PathBuf,
    pub elapsed: Duration,
    /// Files left out because they hold more than their file info says (exit 3).
    pub left_out: Option<anyhow::Error>,
}

impl HtmlSummary {
    /// The summary line.
    pub fn lines(&self) -> Vec<String> {
        vec![format!(
            "{} channels, {} posts, {} pages; {} files ({}) in {}{}; open {} in {:.1}s",
            self.channels,
            self.posts,
            self.pages,
            self.files,
            human_bytes(self.bytes),
            self.output.display(),
            if self.removed > 0 {
                format!(" ({} old files removed)", self.removed)
            } else {
                String::new()
            },
            self.output.join("index.html").display(),
            self.elapsed.as_secs_f64()
        )]
    }
}

/// Writes the site into `opts.output`; every file appears only when complete.
///
/// # Errors
/// A usage error (exit 2) for a page size of 0, a path that is not a backup, or a site folder
/// that may not be written; an error naming the file for an unreadable backup file or a failed
/// write; `Cancelled` when `cancel` is set (what was written so far is recorded in the marker,
/// so that a rerun replaces it).
pub fn export_html(opts: &HtmlOptions, cancel: &Cancel) -> Result<HtmlSummary> {
    if opts.page_size == 0 {
        return Err(Fatal::usage("--page-size must be at least 1").into());
    }
    let started = Instant::now();
    let backup = Backup::open(&opts.data_dir)?;
    let sel = Selection::new(&opts.filter, std::slice::from_ref(&backup))?;
    refuse_site_in_backup(&opts.data_dir, &opts.output)?;
    let mut site = Site::open(&opts.output)?;
    let summary = match export(&backup, &sel, &mut site, opts.page_size, cancel) {
        Ok(s) => s,
        Err(e) => {
            if e.chain().any(|c| c.is::<Cancelled>()) {
                site.record()?;
            }
            return Err(e);
        }
    };
    let (files, bytes) = site.stats();
    let removed = site.finish()?;
    Ok(HtmlSummary {
        channels: summary.channels,
        posts: summary.posts,
        pages: summary.pages,
        files,
        bytes,
        removed,
        output: opts.output.clone(),
        elapsed: started.elapsed(),
        left_out: backup.src.check_left_out().err(),
    })
}

/// What was exported.
#[derive(Debug, Default)]
pub struct Summary {
    pub channels: usize,
    pub posts: usize,
    pub pages: usize,
}

/// Writes the whole site: images, every channel's pages and attachments, the index.
pub fn export(
    b: &Backup,
    sel: &Selection,
    site: &mut Site,
    page_size: usize,
    cancel: &Cancel,
) -> Result<Summary> {
    let mut avatars = BTreeMap::new();
    for u in b.users.values() {
        cancel.check()?;
        if let Some(img) = &u.image {
            let path = SitePath::with_ext("avatars", &u.id, img);
            if site.copy(&b.src, img, &path, None)? {
                avatars.insert(u.id.clone(), path.url());
            }
        }
    }
    let mut emojis = BTreeMap::new();
    for e in b.emojis.values() {
        cancel.check()?;
        if let Some(img) = &e.image {
            let path = SitePath::with_ext("emoji", &e.id, img);
            if site.copy(&b.src, img, &path, None)? {
                emojis.insert(e.name.clone(), path.url());
            }
        }
    }
    let mut team_icons = BTreeMap::new();
    for t in &b.teams {
        cancel.check()?;
        if let Some(img) = &t.icon {
            let path = SitePath::with_ext("teams", &t.id, img);
            if site.copy(&b.src, img, &path, None)? {
                team_icons.insert(t.id.clone(), path.url());
            }
        }
    }
    let lookup = Lookup::new(b, &avatars, emojis);
    let mut rows = Vec::with_capacity(b.channels.len());
    let mut summary = Summary::default();
    for info in sel.channels(b) {
        // One channel's index and one page's posts in memory at a time.
        cancel.check()?;
        let c = b.load_selected(info, sel)?;
        if sel.filters_posts() && c.posts.is_empty() {
            continue;
        }
        let stats = channel::write(site, b, &lookup, &c, page_size, cancel)
            .with_context(|| format!("exporting the channel {}", b.src.describe(&info.dir)))?;
        summary.channels += 1;
        summary.posts += stats.posts;
        summary.pages += stats.pages;
        site.checkpoint()?;
        rows.push(Row {
            info,
            title: channel_title(b, info),
            stats,
        });
    }
    let html = index::index_html(b, &rows, &team_icons, sel.describe());
    site.write(&SitePath::new(&["index.html"]), html.as_bytes())?;
    Ok(summary)
}

/// A site written into the data dir would become part of the backup (and of its zip): into
/// any data dir, whatever the export reads (a zip too: `-o data/site` beside it).
fn refuse_site_in_backup(data: &Path, output: &Path) -> Result<()> {
    if let Some(d) = crate::store::data_dir_holding(output) {
        return Err(Fatal::usage(format!(
            "{}: the site folder is inside the data dir {}; give a folder outside it with -o",
            output.display(),
            d.display()
        ))
        .into());
    }
    let Ok(data) = data.canonicalize() else {
        return Ok(());
    };
    if !data.is_dir() {
        return Ok(());
    }
    // The output may not exist yet: resolve its nearest existing ancestor.
    let mut probe = output.to_path_buf();
    let mut tail = Vec::new();
    let resolved = loop {
        if let Ok(p) = probe.canonicalize() {
            break tail
                .iter()
                .rev()
                .fold(p, |p, t: &std::ffi::OsString| p.join(t));
        }
        match (probe.file_name(), probe.parent()) {
            (Some(name), Some(parent)) => {
                tail.push(name.to_os_string());
                probe = if parent.as_os_str().is_empty() {
                    Path::new(".").to_path_buf()
                } else {
                    parent.to_path_buf()
                };
            }
            _ => return Ok(()),
        }
    };
    if resolved.starts_with(&data) {
        return Err(Fatal::usage(format!(
            "{}: the site folder is inside the data dir {}; give a folder outside it with -o",
            output.display(),
            data.display()
        ))
        .into());
    }
    Ok(())
}
