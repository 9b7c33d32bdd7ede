//! `matterbak export hgf`: one channel as a zip in the format of the Helmholtz Mattermost
//! archiver, as the original `matterexport hgf` writes it (channel, posts newest first, threads,
//! skipped attachments, and the attachments under `files/<id>-<name>`).

use std::io::Write;
use std::path::PathBuf;

use anyhow::{Context, Result};
use serde::Serialize;
use serde_json::{json, Map, Value};
use zip::write::SimpleFileOptions;
use zip::CompressionMethod;

use super::filter::{Filter, Selection};
use super::model::{Backup, Post};
use super::out::FileSink;
use crate::cancel::Cancel;
use crate::error::Fatal;
use crate::store::layout::sanitize;
use crate::units::human_bytes;

/// The post fields the archiver's format has, in its order.
const POST_KEYS: [&str; 14] = [
    "id",
    "channel_id",
    "user_id",
    "user_username",
    "user_display_name",
    "create_at",
    "update_at",
    "delete_at",
    "message",
    "type",
    "root_id",
    "file_ids",
    "props",
    "hashtags",
];

/// Options of `matterbak export hgf`, as the original `matterexport hgf`.
#[derive(Debug, Clone, clap::Args)]
pub struct HgfOptions {
    /// The backup: a data dir or a backup zip.
    #[arg(short = 'd', long, value_name = "DIR|ZIP", default_value = "data")]
    pub data_dir: PathBuf,
    /// The zip file to write.
    #[arg(short = 'o', long, value_name = "FILE")]
    pub output: PathBuf,
    /// The channel (exactly one `-c`) and the posts.
    #[command(flatten)]
    pub filter: Filter,
    /// Accepted for compatibility with matterexport (the HGF format always has threads.json).
    #[arg(long)]
    pub threads: bool,
}

/// What an hgf export wrote.
#[derive(Debug)]
pub struct HgfSummary {
    pub posts: usize,
    /// The channel as the user knows it.
    pub channel: String,
    pub output: PathBuf,
    /// Files left out because they hold more than their file info says (exit 3).
    pub left_out: Option<anyhow::Error>,
}

impl HgfSummary {
    /// The summary line.
    pub fn lines(&self) -> Vec<String> {
        vec![format!(
            "{} posts of {} in {}",
            self.posts,
            self.channel,
            self.output.display()
        )]
    }
}

/// Writes one channel as an HGF zip; the zip appears only when complete.
///
/// # Errors
/// A usage error for a path that is not a backup or an unknown channel; an error naming the
/// file for an unreadable backup file or a failed write; `Cancelled` when `cancel` is set.
pub fn export_hgf(opts: &HgfOptions, cancel: &Cancel) -> Result<HgfSummary> {
    let backup = Backup::open(&opts.data_dir)?;
    if opts.filter.channels.len() != 1 {
        return Err(
            Fatal::usage("export hgf writes one channel: give it with one -c CHANNEL").into(),
        );
    }
    let sel = Selection::new(&opts.filter, std::slice::from_ref(&backup))?;
    let info = backup.find_channel(&opts.filter.channels[0])?.clone();
    let channel = backup.load_selected(&info, &sel)?;

    let sink = FileSink::create(&opts.output)?;
    let mut zip = zip::ZipWriter::new(sink);
    let deflated = SimpleFileOptions::default().compression_method(CompressionMethod::Deflated);
    let stored = SimpleFileOptions::default()
        .compression_method(CompressionMethod::Stored)
        .large_file(true);
    let add_json = |zip: &mut zip::ZipWriter<FileSink>, name: &str, v: &Value| -> Result<()> {
        zip.start_file(name, deflated)?;
        zip.write_all(&pretty(v)?)?;
        Ok(())
    };

    add_json(&mut zip, "channel.json", &channel.info.json)?;
    // Not in the archiver's format: which filter made the zip, and the roots it holds only
    // because a reply is in the filter.
    if let Some(f) = sel.describe_posts() {
        let v = json!({"filter": f, "outside_the_filter": channel.context});
        add_json(&mut zip, "filter.json", &v)?;
    }
    // The lists are written item by item: one post in memory at a time.
    zip.start_file("posts.json", deflated)?;
    write_array(
        &mut zip,
        channel.posts.iter().rev().map(|k| {
            cancel.check()?;
            Ok(post_data(&backup, &backup.post(&channel, k)?))
        }),
    )?;

    zip.start_file("threads.json", deflated)?;
    write_array(
        &mut zip,
        channel.threads().into_iter().map(|t| {
            cancel.check()?;
            let mut o = Map::new();
            o.insert("root_id".into(), json!(t[0].id));
            o.insert(
                "root".into(),
                post_data(&backup, &backup.post(&channel, t[0])?),
            );
            if t.len() > 1 {
                let replies = (t[1..].iter())
                    .map(|k| Ok(post_data(&backup, &backup.post(&channel, k)?)))
                    .collect::<Result<_>>()?;
                o.insert("replies".into(), Value::Array(replies));
            }
            Ok(Value::Object(o))
        }),
    )?;

    // Attachments that are not in the backup are listed as skipped (the original would stop).
    let mut skipped = Vec::new();
    let mut skipped_bytes = 0;
    let mut max = 0;
    let mut names = std::collections::BTreeSet::new();
    for k in &channel.posts {
        let p = backup.post(&channel, k)?;
        for f in &p.files {
            cancel.check()?;
            let Some(content) = &f.content else {
                skipped_bytes += f.size;
                max = max.max(f.size);
                skipped.push(json!({"post_id": p.id, "file_id": f.id, "name": f.name,
                    "size": f.size, "reason": "not in the backup"}));
                continue;
            };
            let name = format!("files/{}-{}", f.id, sanitize(&f.name));
            if !names.insert(name.clone()) {
                continue;
            }
            zip.start_file(&name, stored)?;
            if backup.src.copy_to(content, &mut zip, f.limit())?.is_none() {
                // More than its file info gives: the entry goes, the file is listed as skipped.
                zip.abort_file()?;
                skipped_bytes += f.size;
                max = max.max(f.size);
                skipped.push(json!({"post_id": p.id, "file_id": f.id, "name": f.name,
                    "size": f.size, "reason": "larger in the backup than its file info says"}));
            }
        }
    }
    let generated_at = chrono::Utc::now().format("%Y-%m-%dT%H:%M:%S").to_string();
    let skipped_json = json!({
        "generated_at": generated_at,
        "omitted_count": skipped.len(),
        "omitted_total": human_size(skipped_bytes),
        "max_per_file": human_size(max),
        "attachments": skipped,
    });
    add_json(&mut zip, "skipped_attachments.json", &skipped_json)?;
    let sink = zip
        .finish()
        .with_context(|| format!("writing {}", opts.output.display()))?;
    sink.commit()?;
    Ok(HgfSummary {
        posts: channel.posts.len(),
        channel: backup.title(&channel.info),
        output: opts.output.clone(),
        left_out: backup.src.check_left_out().err(),
    })
}

/// A post as the archiver's format has it, with the author's username and display name.
fn post_data(b: &Backup, p: &Post) -> Value {
    let user = b.user(&p.user_id);
    let username = user.map_or("Unknown".to_string(), |u| u.username.clone());
    let display = match user {
        None => "Unknown".to_string(),
        Some(u) if !u.given_name().is_empty() => u.given_name(),
        Some(u) if !u.username.is_empty() => u.username.clone(),
        Some(_) => "Unknown".to_string(),
    };
    let mut o = Map::new();
    for k in POST_KEYS {
        let v = match k {
            "user_username" => json!(username),
            "user_display_name" => json!(display),
            "file_ids" => p.json.get(k).cloned().unwrap_or_else(|| json!([])),
            "props" => p.json.get(k).cloned().unwrap_or_else(|| json!({})),
            "hashtags" | "message" | "type" | "root_id" => {
                p.json.get(k).cloned().unwrap_or_else(|| json!(""))
            }
            _ => p.json.get(k).cloned().unwrap_or(Value::Null),
        };
        o.insert(k.to_string(), v);
    }
    Value::Object(o)
}

/// A JSON array of `items` written as [`pretty`] writes the whole array, one item at a time.
fn write_array(out: &mut dyn Write, items: impl Iterator<Item = Result<Value>>) -> Result<()> {
    let mut first = true;
    out.write_all(b"[")?;
    for item in items {
        let mut buf: Vec<u8> = if first {
            b"\n  ".to_vec()
        } else {
            b",\n  ".to_vec()
        };
        first = false;
        // One level deeper: JSON text holds no raw newline but between its lines.
        for (i, line) in pretty(&item?)?.split(|&b| b == b'\n').enumerate() {
            if i > 0 {
                buf.extend_from_slice(b"\n  ");
            }
            buf.extend_from_slice(line);
        }
        out.write_all(&buf)?;
    }
    out.write_all(if first { b"]" } else { b"\n]" })?;
    Ok(())
}

/// JSON indented by two spaces, as Python's `json.dump(indent=2, ensure_ascii=False)`.
fn pretty(v: &Value) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    let fmt = serde_json::ser::PrettyFormatter::with_indent(b"  ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, fmt);
    v.serialize(&mut ser)?;
    Ok(out)
}

/// "0 B", "1.5 KiB", ... for the skipped-attachments summary.
fn human_size(n: u64) -> String {
    if n == 0 {
        "0 B".to_string()
    } else {
        human_bytes(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_written_item_by_item_are_the_arrays_pretty_writes() {
        let items = [
            json!({"a": [1, {"b": "x\ny"}], "c": {}, "d": []}),
            json!("s"),
            json!({"e": {"f": [true, null]}}),
        ];
        for n in 0..=items.len() {
            let mut out = Vec::new();
            write_array(&mut out, items[..n].iter().cloned().map(Ok)).unwrap();
            let whole = pretty(&Value::Array(items[..n].to_vec())).unwrap();
            assert_eq!(
                String::from_utf8(out).unwrap(),
                String::from_utf8(whole).unwrap()
            );
        }
    }
}
