//! `matterbak search`: runs a search and prints its hits, newest first: on a terminal with the
//! matched words highlighted (not when piped or with `NO_COLOR`), or with `--json` one object a
//! line. The count goes to standard error.

use std::io::{IsTerminal, Write};
use std::ops::Range;

use anyhow::Result;
use serde_json::json;

use crate::cancel::Cancel;
use crate::error::Code;
use crate::export::time;
use crate::search::{search, Hit, SearchOptions};

/// Characters of a message shown before the first match, and in all.
const BEFORE: usize = 40;
const WIDTH: usize = 140;
const ON: &str = "\x1b[1;31m";
const OFF: &str = "\x1b[0m";

pub fn run(opts: SearchOptions, quiet: bool, cancel: &Cancel) -> Result<Code> {
    let opts = opts.resolved()?;
    let found = search(&opts, cancel)?;
    let colour = std::io::stdout().is_terminal()
        && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    for h in found.hits(cancel) {
        let h = h?;
        if opts.json {
            writeln!(out, "{}", hit_json(&h))?;
        } else {
            write_hit(&mut out, &h, colour)?;
        }
    }
    out.flush()?;
    drop(out);
    if !quiet {
        let mut line = match found.len() {
            0 => "no posts found".to_string(),
            1 => "1 post found".to_string(),
            n => format!("{n} posts found"),
        };
        if found.more > 0 {
            line.push_str(&format!(" ({} more beyond --limit)", found.more));
        }
        eprintln!("matterbak: {line}");
    }
    match found.left_out() {
        Some(e) => Err(e),
        None => Ok(Code::Ok),
    }
}

fn hit_json(h: &Hit) -> serde_json::Value {
    json!({
        "post_id": h.post_id,
        "channel_id": h.channel_id,
        "channel": h.channel,
        "team": h.team,
        "author": h.author,
        "create_at": h.create_at,
        "message": h.message,
        "root_id": h.root_id,
        "files": h.files,
        "history": h.version.label(),
        "html_page": h.page,
    })
}

/// One hit: `date time  channel  author  snippet`, then for a reply the thread it belongs to.
fn write_hit(out: &mut impl Write, h: &Hit, colour: bool) -> Result<()> {
    let channel = match &h.team {
        Some(t) => format!("{t}/{}", h.channel),
        None => format!("@{}", h.channel),
    };
    let mark = h
        .version
        .label()
        .map(|l| format!("({l}) "))
        .unwrap_or_default();
    let mut files = String::new();
    if !h.files.is_empty() {
        files = format!("  [{}]", h.files.join(", "));
    }
    writeln!(
        out,
        "{}  {}  {}  {mark}{}{}",
        time::local(h.create_at),
        one_line(&channel),
        one_line(&h.author),
        snippet(&h.message, &h.matched, colour),
        one_line(&files),
    )?;
    if let Some(t) = &h.thread {
        writeln!(out, "    in the thread of {}", snippet(t, &[], false))?;
    }
    Ok(())
}

fn one_line(s: &str) -> String {
    snippet(s, &[], false)
}

/// `text` on one line (white space and control characters as single spaces), cut to about
/// [`WIDTH`] characters around the first of `matched` (byte ranges), which are highlighted when
/// `colour`.
fn snippet(text: &str, matched: &[Range<usize>], colour: bool) -> String {
    let first = matched.first().map_or(0, |m| m.start);
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    let at = chars.partition_point(|(i, _)| *i < first);
    let start = at.saturating_sub(BEFORE);
    let end = (start + WIDTH).min(chars.len());
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut lit = false;
    let mut space = false;
    for &(i, c) in &chars[start..end] {
        let on = matched.iter().any(|m| m.contains(&i));
        if colour && on != lit {
            out.push_str(if on { ON } else { OFF });
            lit = on;
        }
        if c.is_whitespace() || c.is_control() {
            if !space {
                out.push(' ');
            }
            space = true;
        } else {
            out.push(c);
            space = false;
        }
    }
    if lit {
        out.push_str(OFF);
    }
    if end < chars.len() {
        out.push('…');
    }
    out.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snippets_are_one_line_cut_around_the_match_and_highlighted_only_in_colour() {
        let text = format!("{}needle\n\tend\x1b[2J", "x ".repeat(100));
        let at = text.find("needle").unwrap();
        let m: Vec<Range<usize>> = std::iter::once(at..at + 6).collect();
        let plain = snippet(&text, &m, false);
        assert!(
            plain.starts_with('…') && plain.contains("needle end"),
            "{plain}"
        );
        assert!(
            !plain.contains('\n') && !plain.contains('\x1b'),
            "{plain:?}"
        );
        let lit = snippet(&text, &m, true);
        assert!(lit.contains(&format!("{ON}needle{OFF}")), "{lit:?}");
        assert_eq!(snippet("short", &[], true), "short");
    }
}
