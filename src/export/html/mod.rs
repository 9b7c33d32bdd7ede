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
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};

use self::index::Row;
use self::lookup::{channel_title, Lookup};
use self::site::{Site, SitePath};
use crate::cli::HtmlArgs;
use crate::error::{Code, Fatal};
use crate::export::model::Backup;
use crate::units::human_bytes;

/// The end of `matterbak export html --help`.
pub fn after_help() -> String {
    let exit = crate::error::exit_status_help(&[
        (Code::Ok, Some("the site was written")),
        (
            Code::Failure,
            Some("a run-time error (unreadable backup file, disk full, ...)"),
        ),
        (
            Code::Usage,
            Some(
                "bad command line, no backup at -d, or -o is not a folder the export may write to",
            ),
        ),
    ]);
    format!(
        "\
Open DIR/index.html in a browser: the site works from disk, without a server, without
JavaScript, and loads nothing from the network. Channel pages are DIR/c/<channel id>/<n>.html.
A rerun into the same folder replaces what the previous export wrote there and leaves other
files alone; a folder with other content and no .matterbak-site.json is refused.

{exit}"
    )
}

pub fn run(args: &HtmlArgs) -> Result<()> {
    if args.page_size == 0 {
        return Err(Fatal::usage("--page-size must be at least 1").into());
    }
    let started = Instant::now();
    let backup = Backup::open(&args.data_dir)?;
    refuse_site_in_backup(&args.data_dir, &args.output)?;
    let mut site = Site::open(&args.output)?;
    let summary = export(&backup, &mut site, args.page_size)?;
    let (files, bytes) = site.stats();
    let removed = site.finish()?;
    println!(
        "matterbak: {} channels, {} posts, {} pages; {} files ({}) in {}{}; open {} in {:.1}s",
        summary.channels,
        summary.posts,
        summary.pages,
        files,
        human_bytes(bytes),
        args.output.display(),
        if removed > 0 {
            format!(" ({removed} old files removed)")
        } else {
            String::new()
        },
        args.output.join("index.html").display(),
        started.elapsed().as_secs_f64()
    );
    backup.src.check_left_out()
}

/// What was exported.
#[derive(Debug, Default)]
pub struct Summary {
    pub channels: usize,
    pub posts: usize,
    pub pages: usize,
}

/// Writes the whole site: images, every channel's pages and attachments, the index.
pub fn export(b: &Backup, site: &mut Site, page_size: usize) -> Result<Summary> {
    let mut avatars = BTreeMap::new();
    for u in b.users.values() {
        if let Some(img) = &u.image {
            let path = SitePath::with_ext("avatars", &u.id, img);
            if site.copy(&b.src, img, &path, None)? {
                avatars.insert(u.id.clone(), path.url());
            }
        }
    }
    let mut emojis = BTreeMap::new();
    for e in b.emojis.values() {
        if let Some(img) = &e.image {
            let path = SitePath::with_ext("emoji", &e.id, img);
            if site.copy(&b.src, img, &path, None)? {
                emojis.insert(e.name.clone(), path.url());
            }
        }
    }
    let mut team_icons = BTreeMap::new();
    for t in &b.teams {
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
    for info in &b.channels {
        // One channel in memory at a time.
        let mut c = b.load(info)?;
        let stats = channel::write(site, b, &lookup, &mut c, page_size)
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
    let html = index::index_html(b, &rows, &team_icons);
    site.write(&SitePath::new(&["index.html"]), html.as_bytes())?;
    Ok(summary)
}

/// A site written into the data dir would become part of the backup (and of its zip).
fn refuse_site_in_backup(data: &Path, output: &Path) -> Result<()> {
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
