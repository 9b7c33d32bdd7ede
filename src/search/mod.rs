//! `matterbak search`: finds posts in a backup (data dir or zip) with Mattermost's query syntax,
//! never asking the server.
//!
//! - [`query`]: the syntax, parsed into a [`query::Query`].
//! - [`text`]: words, folded case- and accent-insensitively.
//!
//! The search is a streaming scan: every post file of the channels in question is read and
//! parsed once ([`read::scan_posts`]), one at a time, and dropped unless it matches; no index
//! (why: [docs/search.md](../../docs/search.md)). System messages (joins, leaves, header
//! changes) are not searched, as on the server. Deleted posts and the earlier versions of edited
//! posts are searched only with `--history`.

pub mod query;
pub mod text;

use std::collections::{BTreeMap, BTreeSet};
use std::ops::Range;
use std::path::PathBuf;

use anyhow::{Context, Result};
use chrono::{Local, NaiveDate, TimeZone};
use serde_json::Value;

use self::query::Query;
use crate::cancel::Cancel;
use crate::error::Fatal;
use crate::export::html;
use crate::export::model::{self, Backup, ChannelInfo};
use crate::store::layout::{self, FilesEntry, Place};
use crate::store::read::{self, Files, PostFields, PostKey};

/// Options of `matterbak search`.
#[derive(Debug, Clone, clap::Args)]
pub struct SearchOptions {
    /// The backup: a data dir or a backup zip.
    #[arg(short = 'd', long, value_name = "DIR|ZIP", default_value = "data")]
    pub data_dir: PathBuf,
    /// One JSON object per hit and line.
    #[arg(long)]
    pub json: bool,
    /// At most N hits (the newest).
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
    /// Also search deleted posts and the earlier versions of edited posts (marked as such).
    #[arg(long)]
    pub history: bool,
    /// What to look for, in Mattermost's syntax: words, "a phrase", -word, wor*, #tag,
    /// from:USER, in:CHANNEL, before:/after:/on:YYYY-MM-DD, has:file, is:pinned. The options
    /// above may also come after it.
    #[arg(value_name = "QUERY", required = true, num_args = 1.., allow_hyphen_values = true)]
    pub query: Vec<String>,
}

impl SearchOptions {
    /// The options given among the words of the query (clap hands everything after the first
    /// word to QUERY, so that `-word` is a word): `--json`, `--history`, `--limit N`,
    /// `-d`/`--data-dir DIR`, also as `--opt=value`. Any other word starting with `--` is a
    /// usage error.
    pub fn resolved(&self) -> Result<SearchOptions> {
        let mut o = self.clone();
        o.query.clear();
        let mut words = self.query.iter();
        let usage = |m: String| anyhow::Error::from(Fatal::usage(m));
        while let Some(w) = words.next() {
            let (flag, inline) = match w.split_once('=') {
                Some((f, v)) if f.starts_with("--") => (f, Some(v.to_string())),
                _ => (w.as_str(), None),
            };
            let mut value = |name: &str| {
                inline
                    .clone()
                    .or_else(|| words.next().cloned())
                    .ok_or_else(|| usage(format!("{name} needs a value")))
            };
            match flag {
                "--json" => o.json = true,
                "--history" => o.history = true,
                "--limit" => {
                    let v = value("--limit")?;
                    o.limit = Some(
                        v.parse()
                            .map_err(|_| usage(format!("--limit {v}: not a number of hits")))?,
                    );
                }
                "-d" | "--data-dir" => o.data_dir = value(flag)?.into(),
                f if f.starts_with("--") && f.len() > 2 => {
                    return Err(usage(format!(
                        "{f}: not an option of search (--json, --limit N, --history, -d DIR|ZIP)"
                    )));
                }
                _ => o.query.push(w.clone()),
            }
        }
        Ok(o)
    }
}

/// Which version of a post a hit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Version {
    /// The post as the backup has it now.
    Current,
    /// A post deleted on the server (its last known content).
    Deleted,
    /// An earlier version of an edited post.
    Earlier,
}

impl Version {
    /// How a hit says it (`None` for the current version).
    pub fn label(self) -> Option<&'static str> {
        match self {
            Version::Current => None,
            Version::Deleted => Some("deleted"),
            Version::Earlier => Some("earlier version"),
        }
    }
}

/// A post that matched.
#[derive(Debug, Clone)]
pub struct Hit {
    pub post_id: String,
    pub channel_id: String,
    /// The channel as `matterbak list` names it: its name, or the other members' usernames.
    pub channel: String,
    /// The team's name, for a team channel.
    pub team: Option<String>,
    /// The author's username (the user id when the backup has no profile).
    pub author: String,
    pub create_at: i64,
    pub message: String,
    pub root_id: String,
    pub version: Version,
    /// Where the matched words are in `message` (byte ranges, in order).
    pub matched: Vec<Range<usize>>,
    /// The names of the post's attachments.
    pub files: Vec<String>,
    /// The root post of a reply, as `author: message`.
    pub thread: Option<String>,
    /// The post's place in `matterbak export html` of the same backup, from the site folder.
    pub page: String,
}

/// What a search found: the hits, newest first, each read again when it is shown
/// ([`Found::hits`]), so that memory grows by about a hundred bytes a hit, not by its message.
pub struct Found {
    b: Backup,
    q: Query,
    raw: Vec<Raw>,
    /// Hits beyond `--limit` that were left out.
    pub more: usize,
}

/// A hit as the scan keeps it.
struct Raw {
    channel: u32,
    create_at: i64,
    /// The post file's name in its channel's folder.
    file: Box<str>,
    version: Version,
    /// Which of the post's earlier versions, for [`Version::Earlier`].
    nth: u32,
    /// The post's page in the HTML export.
    page: u32,
    /// The file of the thread's root, for a reply whose root is in the backup.
    root_file: Option<Box<str>>,
}

impl Found {
    /// How many hits there are to show.
    pub fn len(&self) -> usize {
        self.raw.len()
    }

    pub fn is_empty(&self) -> bool {
        self.raw.is_empty()
    }

    /// Each hit, newest first, read from the backup.
    pub fn hits<'a>(&'a self, cancel: &'a Cancel) -> impl Iterator<Item = Result<Hit>> + 'a {
        self.raw.iter().map(move |r| {
            cancel.check()?;
            describe(&self.b, &self.q, r)
        })
    }

    /// After the hits were shown: an error with exit code 3 when the backup is damaged (files
    /// left out or read in part, named in the warnings).
    pub fn left_out(&self) -> Option<anyhow::Error> {
        self.b.src.check_left_out().err()
    }
}

/// Runs a search: scans every post of the channels in question, one at a time.
pub fn search(opts: &SearchOptions, cancel: &Cancel) -> Result<Found> {
    let opts = &opts.resolved()?;
    let q = Query::parse(&opts.query)?;
    let b = Backup::open(&opts.data_dir)?;
    let f = Filter::new(&q, &b)?;
    let src: &dyn Files = &b.src;
    let mut raw: Vec<Raw> = Vec::new();
    let limit = opts.limit.unwrap_or(usize::MAX);
    let mut total = 0usize;
    for (ci, c) in b.channels.iter().enumerate() {
        if !f.channel(ci) {
            continue;
        }
        cancel.check()?;
        // Every post's key (for the pages of the HTML export and the threads).
        let mut keys: Vec<PostKey> = Vec::new();
        let first = raw.len();
        read::scan_posts(src, &c.dir, |key, v| {
            keys.push(key.clone());
            if v.kind.starts_with("system_") || !f.post(&v) {
                return Ok(());
            }
            let history = read::history(src, &c.dir, &key.id)?;
            let deleted = v.delete_at > 0 || history.as_ref().is_some_and(gone);
            if deleted && !opts.history {
                return Ok(());
            }
            let mut hit = |v: &PostFields, version, nth| {
                if prefilter(&q, &v.message) && q.matches_words(&text::words(&v.message)) {
                    total += 1;
                    raw.push(Raw {
                        channel: ci as u32,
                        create_at: key.create_at,
                        file: key.file.as_str().into(),
                        version,
                        nth,
                        page: 1,
                        root_file: None,
                    });
                }
            };
            if let (true, Some(h)) = (opts.history, &history) {
                let json = read::post(src, &c.dir, &key)?.json;
                for (nth, old) in earlier_versions(h, &json).iter().enumerate() {
                    let old = PostFields::of(old);
                    if f.post(&old) {
                        hit(&old, Version::Earlier, nth as u32);
                    }
                }
            }
            let version = if deleted {
                Version::Deleted
            } else {
                Version::Current
            };
            hit(&v, version, 0);
            Ok(())
        })?;
        if raw.len() > first {
            place(keys, &mut raw[first..]);
            keep_newest(&mut raw, limit);
        }
    }
    sort_newest(&mut raw);
    raw.truncate(limit);
    let more = total - raw.len();
    Ok(Found { b, q, raw, more })
}

/// Whether a post's history says it is gone from the server: deleted, or no longer there
/// (`deleted_seen_at`), as `export jsonl` leaves posts out.
fn gone(history: &Value) -> bool {
    ["deleted", "deleted_seen_at"]
        .iter()
        .any(|k| history.get(k).is_some_and(|v| !v.is_null()))
}

/// The real earlier versions of a post (`store::content::real_versions`: phantoms left out),
/// from its history and its current JSON.
fn earlier_versions(history: &Value, json: &Value) -> Vec<Value> {
    let versions = history.get("versions").and_then(Value::as_array);
    crate::store::content::real_versions(versions.map_or(&[][..], Vec::as_slice), json).0
}

/// Sets the HTML page and the thread root's file of the hits `raw` of a channel whose posts
/// are `keys`.
fn place(mut keys: Vec<PostKey>, raw: &mut [Raw]) {
    model::sort_posts(&mut keys);
    let (threads, ranges) = html::channel::pages(&keys, html::PAGE_SIZE);
    let mut page: BTreeMap<&str, u32> = BTreeMap::new();
    for (n, range) in ranges.iter().enumerate() {
        for k in threads[range.clone()].iter().flatten() {
            page.insert(&k.file, n as u32 + 1);
        }
    }
    let by_id: BTreeMap<&str, &PostKey> = keys.iter().map(|k| (k.id.as_str(), k)).collect();
    let by_file: BTreeMap<&str, &PostKey> = keys.iter().map(|k| (k.file.as_str(), k)).collect();
    for r in raw {
        r.page = page.get(&*r.file).copied().unwrap_or(1);
        let root = by_file.get(&*r.file).map_or("", |k| k.root_id.as_str());
        r.root_file = by_id.get(root).map(|k| k.file.as_str().into());
    }
}

/// A cheap test before a message is cut into words: each word the query needs first must be
/// somewhere in the folded message.
fn prefilter(q: &Query, message: &str) -> bool {
    if q.terms.is_empty() {
        return true;
    }
    let hay = text::fold(message);
    q.terms.iter().all(|t| hay.contains(t.words[0].as_str()))
}

fn sort_newest(raw: &mut [Raw]) {
    raw.sort_by(|a, b| {
        (b.create_at, &b.file, b.version as u8, b.nth).cmp(&(
            a.create_at,
            &a.file,
            a.version as u8,
            a.nth,
        ))
    });
}

/// Keeps at most about twice `limit` hits while scanning (the newest).
fn keep_newest(raw: &mut Vec<Raw>, limit: usize) {
    if limit < usize::MAX / 2 && raw.len() > 2 * limit.max(16) {
        sort_newest(raw);
        raw.truncate(limit);
    }
}

/// The conditions of a query on channels and posts, resolved against a backup.
struct Filter<'a> {
    q: &'a Query,
    /// Indexes into the backup's channels allowed (`None`: all), and those left out.
    channels: Option<BTreeSet<usize>>,
    not_channels: BTreeSet<usize>,
    from: Option<BTreeSet<String>>,
    not_from: BTreeSet<String>,
    /// Milliseconds: created in `[since, until)`.
    since: i64,
    until: i64,
}

impl<'a> Filter<'a> {
    fn new(q: &'a Query, b: &Backup) -> Result<Filter<'a>> {
        let channels = |names: &[String]| -> Result<BTreeSet<usize>> {
            let mut out = BTreeSet::new();
            for n in names {
                let found: Vec<usize> = (b.channels.iter().enumerate())
                    .filter(|(_, c)| channel_matches(b, c, n))
                    .map(|(i, _)| i)
                    .collect();
                if found.is_empty() {
                    return Err(Fatal::usage(format!(
                        "in:{n}: no such channel in {} (give its name as `matterbak list` shows it, team/name, or for direct and group messages the other members' usernames, e.g. in:bob,carol)",
                        b.src.origin().display()
                    ))
                    .into());
                }
                out.extend(found);
            }
            Ok(out)
        };
        let users = |names: &[String]| -> Result<BTreeSet<String>> {
            let mut out = BTreeSet::new();
            for n in names {
                let found: Vec<&String> = (b.users.values())
                    .filter(|u| u.username.to_lowercase() == *n)
                    .map(|u| &u.id)
                    .collect();
                if found.is_empty() {
                    return Err(Fatal::usage(format!(
                        "from:{n}: no such user in {}",
                        b.src.origin().display()
                    ))
                    .into());
                }
                out.extend(found.into_iter().cloned());
            }
            Ok(out)
        };
        let day = |d: NaiveDate| -> i64 {
            let t = d.and_hms_opt(0, 0, 0).expect("midnight");
            Local
                .from_local_datetime(&t)
                .earliest()
                .map_or_else(|| t.and_utc().timestamp_millis(), |t| t.timestamp_millis())
        };
        let next = |d: NaiveDate| d.succ_opt().unwrap_or(d);
        let mut since = i64::MIN;
        let mut until = i64::MAX;
        if let Some(d) = q.after {
            since = since.max(day(next(d)));
        }
        if let Some(d) = q.before {
            until = until.min(day(d));
        }
        if let Some(d) = q.on {
            since = since.max(day(d));
            until = until.min(day(next(d)));
        }
        Ok(Filter {
            q,
            channels: (!q.in_channels.is_empty())
                .then(|| channels(&q.in_channels))
                .transpose()?,
            not_channels: channels(&q.not_in)?,
            from: (!q.from.is_empty()).then(|| users(&q.from)).transpose()?,
            not_from: users(&q.not_from)?,
            since,
            until,
        })
    }

    fn channel(&self, i: usize) -> bool {
        self.channels.as_ref().is_none_or(|c| c.contains(&i)) && !self.not_channels.contains(&i)
    }

    /// Everything but the words.
    fn post(&self, v: &PostFields) -> bool {
        let q = self.q;
        self.from.as_ref().is_none_or(|f| f.contains(&v.user_id))
            && !self.not_from.contains(&v.user_id)
            && (self.since..self.until).contains(&v.create_at)
            && q.has_file.is_none_or(|h| h != v.file_ids.is_empty())
            && q.pinned.is_none_or(|p| p == v.is_pinned)
    }
}

/// The other members' usernames of a direct or group channel, from its folder's name
/// (`<id>__<username>...`).
fn other_members(c: &ChannelInfo) -> Vec<String> {
    let folder = c.dir.rsplit('/').next().unwrap_or("");
    layout::split_base(folder)
        .map(|(_, names)| layout::parts(names).map(String::from).collect())
        .unwrap_or_default()
}

/// The channel as `matterbak list` names it.
fn channel_name(c: &ChannelInfo) -> String {
    match c.place {
        Place::Team => c.name.clone(),
        _ => other_members(c).join(", "),
    }
}

/// Whether `in:name` names channel `c`: its id, name or `team/name`, or for a direct or group
/// channel the other members' usernames (any order, `,` between them).
fn channel_matches(b: &Backup, c: &ChannelInfo, name: &str) -> bool {
    match c.place {
        Place::Team => {
            let team = c.team_id.as_deref().and_then(|t| b.team(t));
            c.id == name
                || c.name.eq_ignore_ascii_case(name)
                || team.is_some_and(|t| format!("{}/{}", t.name, c.name).eq_ignore_ascii_case(name))
        }
        _ => {
            let mut want: Vec<String> = (name.split(',').map(str::trim))
                .filter(|s| !s.is_empty())
                .map(|s| s.trim_start_matches('@').to_lowercase())
                .collect();
            let mut have: Vec<String> = other_members(c).iter().map(|s| s.to_lowercase()).collect();
            want.sort();
            have.sort();
            c.id == name || (!want.is_empty() && want == have)
        }
    }
}

/// A hit as shown: the post (or its earlier version) read again, with names, attachments,
/// the thread and the HTML page.
fn describe(b: &Backup, q: &Query, r: &Raw) -> Result<Hit> {
    let src: &dyn Files = &b.src;
    let c = &b.channels[r.channel as usize];
    let id = layout::post_file_id(&r.file)
        .unwrap_or_default()
        .to_string();
    let key = PostKey {
        id: id.clone(),
        file: r.file.to_string(),
        create_at: r.create_at,
        root_id: String::new(),
        user_id: String::new(),
    };
    let p = read::post(src, &c.dir, &key)?;
    let v = match r.version {
        Version::Earlier => {
            let h = read::history(src, &c.dir, &id)?.unwrap_or_default();
            let old = earlier_versions(&h, &p.json);
            let old = old.get(r.nth as usize).with_context(|| {
                format!(
                    "{}: changed during the search; run it again",
                    src.describe(&c.dir)
                )
            })?;
            PostFields::of(old)
        }
        _ => p.v,
    };
    let words = text::words(&v.message);
    let mut matched: Vec<Range<usize>> = Vec::new();
    for t in &q.terms {
        let mut from = 0;
        while let Some(found) = t.find(&words[from..]) {
            let (s, e) = (from + found.start, from + found.end);
            matched.push(words[s].at.start..words[e - 1].at.end);
            from = e;
        }
    }
    matched.sort_by_key(|m| m.start);
    let thread = match &r.root_file {
        Some(file) => {
            let key = PostKey {
                id: v.root_id.clone(),
                file: file.to_string(),
                create_at: 0,
                root_id: String::new(),
                user_id: String::new(),
            };
            let p = read::post(src, &c.dir, &key)?;
            Some(format!("{}: {}", username(b, &p.v.user_id), p.v.message))
        }
        None => None,
    };
    Ok(Hit {
        page: html::channel::post_link(&c.id, r.page as usize, &id),
        files: attachment_names(src, &c.dir, &v.file_ids)?,
        post_id: id,
        channel_id: c.id.clone(),
        channel: channel_name(c),
        team: (c.team_id.as_deref().and_then(|t| b.team(t))).map(|t| t.name.clone()),
        author: username(b, &v.user_id),
        create_at: r.create_at,
        root_id: v.root_id,
        version: r.version,
        matched,
        thread,
        message: v.message,
    })
}

fn username(b: &Backup, id: &str) -> String {
    b.user(id)
        .map_or_else(|| id.to_string(), |u| u.username.clone())
}

/// The names of attachments `ids` of a post in channel folder `dir`: from the file info, else
/// the stored file's name, else the id.
fn attachment_names(src: &dyn Files, dir: &str, ids: &[String]) -> Result<Vec<String>> {
    let mut out = Vec::new();
    let stored = if ids.is_empty() {
        BTreeMap::new()
    } else {
        read::attachments(src, dir)
    };
    for id in ids {
        let info = read::file_info(src, dir, id)?;
        let name = (info.as_ref())
            .map(|i| read::FileInfoFields::of(i).name)
            .filter(|n| !n.is_empty())
            .or_else(|| {
                let path = stored.get(id)?;
                match FilesEntry::parse(path.rsplit('/').next()?) {
                    FilesEntry::Attachment(_, name) => Some(name.to_string()),
                    _ => None,
                }
            })
            .unwrap_or_else(|| id.clone());
        out.push(name);
    }
    Ok(out)
}
