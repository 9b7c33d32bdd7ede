//! `matterbak export md`: a channel as Markdown, line for line as the original matterexport
//! writes it, plus markers for edited, deleted and pinned posts.

use std::io::Write;
use std::path::PathBuf;

use anyhow::Result;
use serde_json::Value;

use super::filter::{Filter, Selection};
use super::model::{Backup, Channel, Post};
use super::out::Output;
use super::time;
use crate::cancel::Cancel;
use crate::model::ChannelKind;
use crate::store::layout::Place;

/// What is added to a post's heading line (not written by the original).
pub const EDITED: &str = " *(edited)*";
pub const DELETED: &str = " *(deleted)*";
pub const PINNED: &str = " *(pinned)*";
/// After the heading of a root kept only because a reply is in the filter.
pub const OUTSIDE: &str = " *(outside the filter)*";

/// Options of `matterbak export md`, as the original `matterexport md`.
#[derive(Debug, Clone, clap::Args)]
pub struct MdOptions {
    /// The backup: a data dir or a backup zip.
    #[arg(short = 'd', long, value_name = "DIR|ZIP", default_value = "data")]
    pub data_dir: PathBuf,
    /// The Markdown file to write [default: standard output].
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Which channels and posts [default: every channel, one after the other].
    #[command(flatten)]
    pub filter: Filter,
    /// Group the posts by thread.
    #[arg(long)]
    pub threads: bool,
}

/// What an md export wrote.
#[derive(Debug)]
pub struct MdSummary {
    pub channels: usize,
    pub posts: usize,
    /// Files left out because they hold more than their file info says (exit 3).
    pub left_out: Option<anyhow::Error>,
}

impl MdSummary {
    /// Nothing: the Markdown may go to standard output, and the original prints nothing.
    pub fn lines(&self) -> Vec<String> {
        Vec::new()
    }
}

/// Writes the channels as Markdown to the file (which appears only when complete) or to
/// standard output.
///
/// # Errors
/// A usage error for a path that is not a backup or an unknown channel; an error naming the
/// file for an unreadable backup file or a failed write; `Cancelled` when `cancel` is set.
pub fn export_md(opts: &MdOptions, cancel: &Cancel) -> Result<MdSummary> {
    let backup = Backup::open(&opts.data_dir)?;
    let sel = Selection::new(&opts.filter, std::slice::from_ref(&backup))?;
    let mut out = Output::create(opts.output.as_deref())?;
    let (mut posts, mut channels) = (0, 0);
    for info in sel.channels(&backup) {
        cancel.check()?;
        let channel = backup.load_selected(info, &sel)?;
        if sel.filters_posts() && channel.posts.is_empty() {
            continue;
        }
        if channels > 0 {
            writeln!(out)?;
        }
        write_channel(&backup, &channel, &sel, opts.threads, &mut out, cancel)?;
        posts += channel.posts.len();
        channels += 1;
    }
    out.finish()?;
    Ok(MdSummary {
        channels,
        posts,
        left_out: backup.src.check_left_out().err(),
    })
}

/// One channel: header, the filter (if any), metadata, members (DMs and groups), then the
/// posts.
pub fn write_channel(
    b: &Backup,
    c: &Channel,
    sel: &Selection,
    by_threads: bool,
    out: &mut dyn Write,
    cancel: &Cancel,
) -> Result<()> {
    let meta = &c.info.json;
    let s = |k: &str| meta.get(k).and_then(Value::as_str).unwrap_or("");
    let n = |k: &str| meta.get(k).and_then(Value::as_i64).unwrap_or(0);
    match c.info.kind {
        ChannelKind::Direct => writeln!(out, "# Direct channel\n")?,
        ChannelKind::Group => writeln!(out, "# Group channel\n")?,
        _ => {
            let name = if s("display_name").is_empty() {
                s("name")
            } else {
                s("display_name")
            };
            writeln!(out, "# {name}\n")?
        }
    }
    if let Some(f) = sel.describe_posts() {
        writeln!(out, "*Filtered: {f}*\n")?;
    }
    writeln!(out, "{}\n", s("header"))?;
    writeln!(
        out,
        "{} messages in {} threads or single messages\n",
        n("total_msg_count"),
        n("total_msg_count_root")
    )?;
    writeln!(out, "## Metadata\n")?;
    writeln!(out, "Created at {}\n", time::local(n("create_at")))?;
    if c.info.place == Place::Team && c.info.kind.is_team() {
        let team = c.info.team_id.as_deref().and_then(|t| b.team(t));
        let name = team
            .map(|t| format!("{} ({})", t.display_name, t.name))
            .unwrap_or_default();
        writeln!(out, "Belonging to team {name}\n")?;
    } else {
        writeln!(out, "### Members\n")?;
        for m in &c.members {
            let id = m.get("user_id").and_then(Value::as_str).unwrap_or("");
            writeln!(out, "* {}", b.user_name(id))?;
        }
        writeln!(out, "\n")?;
    }
    writeln!(out, "## Messages\n")?;
    if by_threads {
        for thread in c.threads() {
            cancel.check()?;
            writeln!(out, "### Thread")?;
            for k in thread {
                write_post(b, c, &b.post(c, k)?, "####", out)?;
            }
        }
    } else {
        for k in &c.posts {
            cancel.check()?;
            write_post(b, c, &b.post(c, k)?, "###", out)?;
        }
    }
    Ok(())
}

fn write_post(b: &Backup, c: &Channel, p: &Post, heading: &str, out: &mut dyn Write) -> Result<()> {
    let mut marks = String::new();
    if c.outside_filter(&p.id) {
        marks.push_str(OUTSIDE);
    }
    if p.is_edited() {
        marks.push_str(EDITED);
    }
    if p.is_deleted() {
        marks.push_str(DELETED);
    }
    if p.is_pinned() {
        marks.push_str(PINNED);
    }
    writeln!(
        out,
        "{heading} {} at {}{marks}\n{}\n",
        b.user_name(&p.user_id),
        time::local(p.create_at),
        p.message
    )?;
    if !p.files.is_empty() {
        writeln!(out, "Files:\n")?;
        for f in &p.files {
            let path = f
                .content
                .as_deref()
                .map(|c| b.src.describe(c))
                .unwrap_or_else(|| "None".to_string());
            writeln!(out, "* {}: `{path}`", f.name)?;
        }
        writeln!(out)?;
    }
    let reactions = p.reactions();
    if !reactions.is_empty() {
        writeln!(out, "Reactions:\n")?;
        for r in reactions {
            let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            writeln!(
                out,
                "* {}: `{}`",
                b.user_name(&s("user_id")),
                s("emoji_name")
            )?;
        }
        writeln!(out)?;
    }
    Ok(())
}
