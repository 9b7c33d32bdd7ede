//! `matterbak export txt`: a plain-text transcript of each channel, as people paste it into a
//! mail or a ticket:
//!
//! ```text
//! == Town Square (acme/town-square) ==
//! Filtered: after 2024-01-01
//!
//! --- Tuesday, 2024-01-02 ---
//! [09:15] alice: Good morning
//!     [09:20] bob: a reply, indented under its thread's first post
//!     [file: report.pdf (1.2 MiB)]
//! ```

use std::io::Write;

use anyhow::Result;
use chrono::{Local, TimeZone};

use super::filter::Selection;
use super::model::{Backup, Channel, Post};
use super::time;
use crate::cancel::Cancel;
use crate::units::human_bytes;

/// The indentation of a reply, and of a post's further lines.
const INDENT: &str = "    ";

/// Options of `matterbak export txt`.
pub type TxtOptions = super::channels::ChannelsOptions;

/// What a txt export wrote.
pub type TxtSummary = super::channels::Summary;

/// Writes a transcript of each selected channel, one post in memory at a time; times are local.
///
/// # Errors
/// As [`super::channels::export`].
pub fn export_txt(opts: &TxtOptions, cancel: &Cancel) -> Result<TxtSummary> {
    super::channels::export(opts, "txt", cancel, |b, sel, out, c, first| {
        if !first {
            writeln!(out)?;
        }
        write_channel(b, c, sel, out, cancel)
    })
}

fn write_channel(
    b: &Backup,
    c: &Channel,
    sel: &Selection,
    out: &mut dyn Write,
    cancel: &Cancel,
) -> Result<()> {
    writeln!(out, "== {} ({}) ==", b.title(&c.info), b.list_name(&c.info))?;
    if let Some(f) = sel.describe_posts() {
        writeln!(out, "Filtered: {f}")?;
    }
    let mut day = String::new();
    for thread in c.threads() {
        let root_day = time::local_date(thread[0].create_at);
        if root_day != day {
            writeln!(out, "\n--- {} ---", day_label(thread[0].create_at))?;
            day = root_day;
        }
        for (i, k) in thread.iter().enumerate() {
            cancel.check()?;
            let p = b.post(c, k)?;
            let indent = if i == 0 { "" } else { INDENT };
            write_post(b, c, &p, indent, &day, out)?;
        }
    }
    Ok(())
}

/// `[HH:MM] name: message` (with the day when it is not the header's), further lines and
/// attachments indented below.
fn write_post(
    b: &Backup,
    c: &Channel,
    p: &Post,
    indent: &str,
    day: &str,
    out: &mut dyn Write,
) -> Result<()> {
    let local = time::local(p.create_at);
    let when = if time::local_date(p.create_at) == day {
        local.get(11..16).unwrap_or(&local).to_string()
    } else {
        local.get(..16).unwrap_or(&local).to_string()
    };
    let name = b
        .user(&p.user_id)
        .map_or(p.user_id.as_str(), |u| &u.username);
    let mut text = p.message.trim_end().to_string();
    for (mark, on) in [
        (" (edited)", p.is_edited()),
        (" (deleted)", p.is_deleted()),
        (" (outside the filter)", c.outside_filter(&p.id)),
    ] {
        if on {
            text.push_str(mark);
        }
    }
    let mut lines = text.lines();
    let first = lines.next().unwrap_or("");
    if p.post_type().starts_with("system_") {
        writeln!(out, "{indent}[{when}] * {first}")?;
    } else {
        writeln!(out, "{indent}[{when}] {name}: {first}")?;
    }
    for l in lines {
        writeln!(out, "{indent}{INDENT}{l}")?;
    }
    for f in &p.files {
        writeln!(
            out,
            "{indent}{INDENT}[file: {} ({})]",
            f.name,
            human_bytes(f.size)
        )?;
    }
    Ok(())
}

/// `Monday, 2024-01-01`, in local time.
fn day_label(ms: i64) -> String {
    match Local.timestamp_millis_opt(ms).single() {
        Some(t) => t.format("%A, %Y-%m-%d").to_string(),
        None => time::local_date(ms),
    }
}
