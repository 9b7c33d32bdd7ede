//! `matterbak export csv`: one row per post (RFC 4180, UTF-8, a header row), for a spreadsheet
//! or pandas; one file, or one per channel with `--split`.
//!
//! The quoting is [`field`], a few lines with their tests, rather than a dependency.

use std::borrow::Cow;
use std::io::Write;

use anyhow::Result;
use chrono::{TimeZone, Utc};
use serde_json::Value;

use super::model::{Backup, Channel, Post};
use crate::cancel::Cancel;

/// The columns, in order.
pub const HEADER: [&str; 13] = [
    "id",
    "time",
    "team",
    "channel",
    "username",
    "display_name",
    "message",
    "root_id",
    "is_reply",
    "files",
    "reactions",
    "edited",
    "deleted",
];

/// Options of `matterbak export csv`.
pub type CsvOptions = super::channels::ChannelsOptions;

/// What a csv export wrote.
pub type CsvSummary = super::channels::Summary;

/// Writes the posts the filter keeps as CSV, one post in memory at a time.
///
/// # Errors
/// As [`super::channels::export`].
pub fn export_csv(opts: &CsvOptions, cancel: &Cancel) -> Result<CsvSummary> {
    super::channels::export(opts, "csv", cancel, |b, _, out, c, first| {
        if first {
            row(out, HEADER.iter().map(|h| Cow::Borrowed(*h)))?;
        }
        for k in &c.posts {
            cancel.check()?;
            let p = b.post(c, k)?;
            row(out, post_fields(b, c, &p).into_iter().map(Cow::Owned))?;
        }
        Ok(())
    })
}

/// A post's cells, in the order of [`HEADER`].
fn post_fields(b: &Backup, c: &Channel, p: &Post) -> Vec<String> {
    let team = (c.info.team_id.as_deref())
        .and_then(|t| b.team(t))
        .map(|t| t.name.clone())
        .unwrap_or_default();
    let channel = if team.is_empty() {
        b.list_name(&c.info)
    } else {
        c.info.name.clone()
    };
    let user = b.user(&p.user_id);
    let time = Utc
        .timestamp_millis_opt(p.create_at)
        .single()
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default();
    let files: Vec<&str> = p.files.iter().map(|f| f.name.as_str()).collect();
    // `emoji:count`, in the order each emoji was first used.
    let mut reactions: Vec<(String, usize)> = Vec::new();
    for r in p.reactions() {
        let name = r.get("emoji_name").and_then(Value::as_str).unwrap_or("");
        match reactions.iter_mut().find(|(n, _)| n == name) {
            Some((_, n)) => *n += 1,
            None => reactions.push((name.to_string(), 1)),
        }
    }
    let yes = |b: bool| if b { "true" } else { "false" }.to_string();
    vec![
        p.id.clone(),
        time,
        team,
        channel,
        user.map_or_else(|| p.user_id.clone(), |u| u.username.clone()),
        b.user_name(&p.user_id),
        p.message.clone(),
        p.root_id.clone(),
        yes(!p.root_id.is_empty()),
        files.join("; "),
        (reactions.iter())
            .map(|(n, c)| format!("{n}:{c}"))
            .collect::<Vec<_>>()
            .join(" "),
        yes(p.is_edited()),
        yes(p.is_deleted()),
    ]
}

/// A record: the fields, separated by commas, ended by CRLF (RFC 4180).
fn row<'a>(out: &mut dyn Write, fields: impl Iterator<Item = Cow<'a, str>>) -> Result<()> {
    let mut line = String::new();
    for (i, f) in fields.enumerate() {
        if i > 0 {
            line.push(',');
        }
        line.push_str(&field(&f));
    }
    line.push_str("\r\n");
    out.write_all(line.as_bytes())?;
    Ok(())
}

/// A field as RFC 4180 writes it: in double quotes, with each quote doubled, when it holds a
/// comma, a quote, CR or LF (or starts or ends with a space, which some readers trim);
/// otherwise as it is.
pub fn field(s: &str) -> Cow<'_, str> {
    let quote = s.contains([',', '"', '\r', '\n']) || s.starts_with(' ') || s.ends_with(' ');
    if quote {
        Cow::Owned(format!("\"{}\"", s.replace('"', "\"\"")))
    } else {
        Cow::Borrowed(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_are_quoted_as_rfc_4180_says() {
        assert_eq!(field("plain"), "plain");
        assert_eq!(field(""), "");
        assert_eq!(field("ünïcode 🎉"), "ünïcode 🎉");
        assert_eq!(field("a,b"), "\"a,b\"");
        assert_eq!(field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(field("two\nlines"), "\"two\nlines\"");
        assert_eq!(field("cr\r"), "\"cr\r\"");
        assert_eq!(field(" padded"), "\" padded\"");
        let mut out = Vec::new();
        row(&mut out, ["a", "b,c", ""].into_iter().map(Cow::Borrowed)).unwrap();
        assert_eq!(out, b"a,\"b,c\",\r\n");
    }
}
