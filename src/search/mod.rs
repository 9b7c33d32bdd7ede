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

use anyhow::Result;
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
    /// from:USER, in:CHANNEL, before:/after:/on:YYYY-MM-DD, has:file, is:pinned.
    #[arg(value_name = "QUERY", required = true, num_args = 1.., allow_hyphen_values = true)]
    pub query: Vec<String>,
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

/// What a search found.
#[derive(Debug)]
pub struct Found {
    /// Newest first.
    pub hits: Vec<Hit>,
    /// Hits beyond `--limit` that were left out.
    pub more: usize,
    /// Files of a damaged backup that were left out or read in part (exit 3).
    pub left_out: Option<anyhow::Error>,
}

/// A hit before it is shown: what the scan keeps (the rest is read for the hits left at the
/// end).
struct Raw {
    channel: usize,
    key: PostKey,
    v: PostFields,
    version: Version,
}

/// Where the hits of a channel are: the HTML page of each hit post, the file of each hit's
/// thread root.
#[derive(Default)]
struct Placed {
    page: BTreeMap<String, usize>,
    root_file: BTreeMap<String, String>,
}

/// Runs a search.
pub fn search(opts: &SearchOptions, cancel: &Cancel) -> Result<Found> {
    let q = Query::parse(&opts.query)?;
    let b = Backup::open(&opts.data_dir)?;
    let f = Filter::new(&q, &b)?;
    let src: &dyn Files = &b.src;
    let mut raw: Vec<Raw> = Vec::new();
    let limit = opts.limit.unwrap_or(usize::MAX);
    let mut total = 0usize;
    let mut placed: BTreeMap<usize, Placed> = BTreeMap::new();
    for (ci, c) in b.channels.iter().enumerate() {
        if !f.channel(ci) {
            continue;
        }
        cancel.check()?;
        // Every post's key (for the pages of the HTML export), the ids that matched.
        let mut keys: Vec<PostKey> = Vec::new();
        let mut hits: BTreeSet<String> = BTreeSet::new();
        let mut roots: BTreeSet<String> = BTreeSet::new();
        read::scan_posts(src, &c.dir, |key, v| {
            keys.push(key.clone());
            if v.kind.starts_with("system_") || !f.post(&v) {
                return Ok(());
            }
            let history = read::history(src, &c.dir, &key.id)?;
            let deleted = v.delete_at > 0
                || (history.as_ref())
                    .is_some_and(|h| h.get("deleted").is_some_and(|d| !d.is_null()));
            let mut candidates = Vec::new();
            if opts.history {
                if let Some(h) = &history {
                    let versions = h.get("versions").and_then(Value::as_array);
                    let json = read::post(src, &c.dir, &key)?.json;
                    let real = crate::store::content::real_versions(
                        versions.map_or(&[][..], Vec::as_slice),
                        &json,
                    )
                    .0;
                    for old in real {
                        let old = PostFields::of(&old);
                        if f.post(&old) {
                            candidates.push((old, Version::Earlier));
                        }
                    }
                }
            } else if deleted {
                return Ok(());
            }
            let version = if deleted {
                Version::Deleted
            } else {
                Version::Current
            };
            candidates.push((v, version));
            for (v, version) in candidates {
                if prefilter(&q, &v.message) && q.matches_words(&text::words(&v.message)) {
                    total += 1;
                    hits.insert(key.id.clone());
                    if !key.root_id.is_empty() {
                        roots.insert(key.root_id.clone());
                    }
                    raw.push(Raw {
                        channel: ci,
                        key: key.clone(),
                        v,
                        version,
                    });
                    keep_newest(&mut raw, limit);
                }
            }
            Ok(())
        })?;
        if !hits.is_empty() {
            placed.insert(ci, place(keys, &hits, &roots));
        }
    }
    sort_newest(&mut raw);
    raw.truncate(limit);
    let more = total - raw.len();
    let hits = describe(&b, &q, raw, &placed, cancel)?;
    Ok(Found {
        hits,
        more,
        left_out: b.src.check_left_out().err(),
    })
}

/// Where the posts `hits` of a channel whose posts are `keys` are in its HTML export, and the
/// files of the thread roots `roots`.
fn place(mut keys: Vec<PostKey>, hits: &BTreeSet<String>, roots: &BTreeSet<String>) -> Placed {
    model::sort_posts(&mut keys);
    let mut out = Placed::default();
    let (threads, ranges) = html::channel::pages(&keys, html::PAGE_SIZE);
    for (n, range) in ranges.iter().enumerate() {
        for k in threads[range.clone()].iter().flatten() {
            if hits.contains(&k.id) {
                out.page.insert(k.id.clone(), n + 1);
            }
            if roots.contains(&k.id) {
                out.root_file.insert(k.id.clone(), k.file.clone());
            }
        }
    }
    out
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
        (b.v.create_at, &b.key.id, b.version as u8).cmp(&(
            a.v.create_at,
            &a.key.id,
            a.version as u8,
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

/// Turns what the scan kept into hits: names, attachments, the thread, the HTML page.
fn describe(
    b: &Backup,
    q: &Query,
    raw: Vec<Raw>,
    placed: &BTreeMap<usize, Placed>,
    cancel: &Cancel,
) -> Result<Vec<Hit>> {
    let src: &dyn Files = &b.src;
    let mut out = Vec::with_capacity(raw.len());
    for r in raw {
        cancel.check()?;
        let c = &b.channels[r.channel];
        let here = placed.get(&r.channel);
        let page_no = (here.and_then(|p| p.page.get(&r.key.id)).copied()).unwrap_or(1);
        let words = text::words(&r.v.message);
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
        let root_file = here.and_then(|p| p.root_file.get(&r.key.root_id));
        let thread = match root_file {
            Some(file) => {
                let key = PostKey {
                    id: r.key.root_id.clone(),
                    file: file.clone(),
                    create_at: 0,
                    root_id: String::new(),
                };
                let p = read::post(src, &c.dir, &key)?;
                Some(format!("{}: {}", username(b, &p.v.user_id), p.v.message))
            }
            None => None,
        };
        let files = attachment_names(src, &c.dir, &r.v.file_ids)?;
        out.push(Hit {
            page: html::channel::post_link(&c.id, page_no, &r.key.id),
            post_id: r.key.id,
            channel_id: c.id.clone(),
            channel: channel_name(c),
            team: (c.team_id.as_deref().and_then(|t| b.team(t))).map(|t| t.name.clone()),
            author: username(b, &r.v.user_id),
            create_at: r.v.create_at,
            root_id: r.v.root_id,
            version: r.version,
            matched,
            files,
            thread,
            message: r.v.message,
        });
    }
    Ok(out)
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
