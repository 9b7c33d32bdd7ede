//! A channel's posts as the importer takes them: merged over the backups, system messages and
//! deleted posts left out, replies nested under their thread's first post, reactions and
//! attachments attached.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::Result;
use serde_json::{Map, Value};

use super::files::Files;
use super::index::{Index, Src};
use super::limits;
use super::names;
use super::Stats;
use crate::cancel::Cancel;
use crate::export::model::{Backup, Channel, Post};
use crate::store::read::PostKey;

/// Where an attachment's content is: backup and path.
type Content = Option<(usize, String)>;

/// A post merged over the backups, without its content (a channel's posts are all held while
/// merging, so each is a few hundred bytes): what orders, filters and groups it, and where the
/// newest stored version is, which [`MergedChannel::read`] reads again when it is written.
pub struct Merged {
    /// The newest version's file, with the post's own `create_at` and `root_id`.
    pub key: PostKey,
    /// The copy of the channel ([`MergedChannel::copies`]) that has that version.
    copy: usize,
    update_at: i64,
    /// A `system_*` post.
    system: bool,
    /// Whether any backup saw it deleted.
    pub deleted: bool,
    /// The newest version's attachments (file ids) and where each one's content is, if
    /// anywhere: an attachment missing from that version's backup may be in another.
    files: Vec<(String, Content)>,
    /// The author and the reactors of the newest version, for the user lines.
    users: Vec<String>,
}

/// A channel's posts merged over every backup that has it, oldest first.
pub struct MergedChannel {
    /// Each backup's copy of the channel (without its index of posts and its members): what
    /// reading a post of it needs.
    copies: Vec<(usize, Channel)>,
    pub posts: Vec<Merged>,
}

impl MergedChannel {
    /// The newest version of `m`, read again from its backup.
    pub fn read(&self, backups: &[Backup], m: &Merged) -> Result<Post> {
        let (b, channel) = &self.copies[m.copy];
        backups[*b].post(channel, &m.key)
    }
}

/// Why a post is not exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Skip {
    /// `system_*` posts (joins, leaves, header changes): the importer has no line for them.
    System,
    /// Deleted on the server, or no longer listed by it.
    Deleted,
    /// No `create_at`: the importer refuses such a post.
    NoTime,
}

/// A thread: its first post and its replies, oldest first.
pub struct Thread<'a> {
    pub root: &'a Merged,
    pub replies: Vec<&'a Merged>,
}

/// Indexes the channel in every backup that has it and merges the posts by id, oldest first.
/// Each post is read once here and dropped; only its [`Merged`] index entry stays.
pub fn merge(backups: &[Backup], sources: &[Src], cancel: &Cancel) -> Result<MergedChannel> {
    let mut by_id: BTreeMap<String, Merged> = BTreeMap::new();
    let mut copies = Vec::with_capacity(sources.len());
    for (copy, s) in sources.iter().enumerate() {
        cancel.check()?;
        let b = &backups[s.backup];
        let mut channel = b.load(&s.info)?;
        let keys = std::mem::take(&mut channel.posts);
        channel.members = Vec::new();
        for k in keys {
            cancel.check()?;
            let p = b.post(&channel, &k)?;
            let mut users = vec![p.user_id.clone()];
            users.extend(
                (p.reactions().iter())
                    .filter_map(|r| r.get("user_id").and_then(Value::as_str))
                    .map(String::from),
            );
            let new = Merged {
                key: PostKey {
                    id: p.id.clone(),
                    file: k.file,
                    create_at: p.create_at,
                    root_id: p.root_id.clone(),
                    user_id: p.user_id.clone(),
                },
                copy,
                update_at: p.update_at,
                system: p.post_type().starts_with("system_"),
                deleted: is_gone(&p),
                files: (p.files.iter())
                    .map(|f| (f.id.clone(), f.content.clone().map(|c| (s.backup, c))))
                    .collect(),
                users,
            };
            match by_id.get_mut(&p.id) {
                None => {
                    by_id.insert(p.id, new);
                }
                Some(m) => {
                    let deleted = m.deleted | new.deleted;
                    // Keep the newest version; an attachment missing from it may be in the other.
                    let other = if new.update_at > m.update_at {
                        std::mem::replace(m, new)
                    } else {
                        new
                    };
                    m.deleted = deleted;
                    let found: HashMap<String, (usize, String)> = (other.files.into_iter())
                        .filter_map(|(id, c)| c.map(|c| (id, c)))
                        .collect();
                    for (id, c) in &mut m.files {
                        if c.is_none() {
                            *c = found.get(id).cloned();
                        }
                    }
                }
            }
        }
        copies.push((s.backup, channel));
    }
    let mut posts: Vec<Merged> = by_id.into_values().collect();
    posts.sort_by(|a, b| (a.key.create_at, &a.key.id).cmp(&(b.key.create_at, &b.key.id)));
    Ok(MergedChannel { copies, posts })
}

/// Deleted on the server (`delete_at`, or a deletion recorded in `history/`), or no longer
/// listed by it (`deleted_seen_at` in `history/`).
fn is_gone(p: &Post) -> bool {
    p.is_deleted()
        || p.history
            .as_ref()
            .is_some_and(|h| h.deleted_seen_at.is_some())
}

pub fn skip_reason(m: &Merged) -> Option<Skip> {
    if m.system {
        Some(Skip::System)
    } else if m.deleted {
        Some(Skip::Deleted)
    } else if m.key.create_at <= 0 {
        Some(Skip::NoTime)
    } else {
        None
    }
}

/// The exported posts grouped into threads, in order of their first posts. A reply whose first
/// post is not exported (deleted, or not in the backup) becomes a post of its own (counted in
/// `orphans`). Skipped posts are counted in `skipped`.
pub fn threads<'a>(
    posts: &'a [Merged],
    skipped: &mut HashMap<Skip, usize>,
    orphans: &mut usize,
) -> Vec<Thread<'a>> {
    let mut kept: Vec<&Merged> = Vec::new();
    for m in posts {
        match skip_reason(m) {
            Some(s) => *skipped.entry(s).or_default() += 1,
            None => kept.push(m),
        }
    }
    let roots: HashSet<&str> = kept
        .iter()
        .filter(|m| m.key.root_id.is_empty())
        .map(|m| m.key.id.as_str())
        .collect();
    let is_reply = |m: &Merged| !m.key.root_id.is_empty() && roots.contains(m.key.root_id.as_str());
    let mut out: Vec<Thread> = Vec::new();
    let mut at: HashMap<&str, usize> = HashMap::new();
    for m in kept.iter().copied().filter(|m| !is_reply(m)) {
        if !m.key.root_id.is_empty() {
            *orphans += 1;
        }
        at.insert(m.key.id.as_str(), out.len());
        out.push(Thread {
            root: m,
            replies: Vec::new(),
        });
    }
    for m in kept.iter().copied().filter(|m| is_reply(m)) {
        if let Some(&i) = at.get(m.key.root_id.as_str()) {
            out[i].replies.push(m);
        }
    }
    out
}

/// Builds the JSON of posts, replies and reactions; copies attachments with `-a`.
pub struct Convert<'a> {
    pub backups: &'a [Backup],
    pub index: &'a Index,
    pub files: Option<&'a mut Files>,
    pub stats: &'a mut Stats,
    pub cancel: &'a Cancel,
}

impl Convert<'_> {
    /// A `post` line of a team channel: the thread's posts read again from `c`.
    pub fn post(
        &mut self,
        team: &str,
        channel: &str,
        c: &MergedChannel,
        t: &Thread,
    ) -> Result<Value> {
        let mut o = Map::new();
        o.insert("team".into(), team.into());
        o.insert("channel".into(), channel.into());
        let more = self.body(c, t.root, &mut o, false)?;
        self.replies(c, t, more, &mut o, false)?;
        self.stats.posts += 1;
        self.stats.replies += t.replies.len();
        Ok(line("post", o))
    }

    /// A `direct_post` line of a direct or group channel.
    pub fn direct_post(
        &mut self,
        members: &[String],
        c: &MergedChannel,
        t: &Thread,
    ) -> Result<Value> {
        let mut o = Map::new();
        o.insert("channel_members".into(), members.into());
        let more = self.body(c, t.root, &mut o, true)?;
        self.replies(c, t, more, &mut o, true)?;
        self.stats.direct_posts += 1;
        self.stats.direct_replies += t.replies.len();
        Ok(line("direct_post", o))
    }

    /// The thread's replies: `first` (the continuations of its first post's message), then
    /// each reply followed by the continuations of its message.
    fn replies(
        &mut self,
        c: &MergedChannel,
        t: &Thread,
        first: Vec<Map<String, Value>>,
        o: &mut Map<String, Value>,
        direct: bool,
    ) -> Result<()> {
        let mut replies: Vec<Value> = first.into_iter().map(Value::Object).collect();
        for r in &t.replies {
            let mut ro = Map::new();
            let more = self.body(c, r, &mut ro, direct)?;
            replies.push(Value::Object(ro));
            replies.extend(more.into_iter().map(Value::Object));
        }
        if !replies.is_empty() {
            o.insert("replies".into(), Value::Array(replies));
        }
        Ok(())
    }

    /// What posts and replies share: user, type, message, props, times, pin, reactions,
    /// attachments. A message longer than the importer takes is split: `o` gets its first
    /// part, the rest are returned as replies to follow it (same author and type, each a
    /// millisecond later), so that no text is lost and the parts read in order.
    fn body(
        &mut self,
        c: &MergedChannel,
        m: &Merged,
        o: &mut Map<String, Value>,
        direct: bool,
    ) -> Result<Vec<Map<String, Value>>> {
        let p = &c.read(self.backups, m)?;
        let user = self.username(&p.user_id);
        o.insert("user".into(), user.clone().into());
        let t = p.post_type();
        if keep_type(t) {
            o.insert("type".into(), t.into());
        }
        let parts = limits::split_message(&p.message, limits::POST_MESSAGE_MAX_RUNES);
        if parts.len() > 1 {
            self.stats.split += 1;
            self.stats.split_parts += parts.len() - 1;
            tracing::warn!(
                "post {}: its message has {} characters, more than the importer takes ({}): it \
                 is imported as {} posts, the parts after the first as replies in its thread",
                p.id,
                p.message.chars().count(),
                limits::POST_MESSAGE_MAX_RUNES,
                parts.len()
            );
        }
        if direct {
            self.stats.long_direct += (parts.iter())
                .filter(|m| m.chars().count() > limits::MMCTL_DIRECT_POST_MAX_RUNES)
                .count();
        }
        let mut more = Vec::new();
        for (i, part) in (1..).zip(&parts[1..]) {
            let mut mo = Map::new();
            mo.insert("user".into(), user.clone().into());
            if keep_type(t) {
                mo.insert("type".into(), t.into());
            }
            mo.insert("message".into(), part.clone().into());
            mo.insert("create_at".into(), (p.create_at + i).into());
            more.push(mo);
        }
        o.insert("message".into(), parts[0].clone().into());
        if let Some(props) = props(p) {
            o.insert("props".into(), props);
        }
        o.insert("create_at".into(), p.create_at.into());
        let edit_at = p.edit_at;
        if edit_at > 0 {
            o.insert("edit_at".into(), edit_at.into());
        }
        if p.is_pinned() {
            o.insert("is_pinned".into(), true.into());
        }
        let reactions = self.reactions(p);
        if !reactions.is_empty() {
            self.stats.reactions += reactions.len();
            o.insert("reactions".into(), Value::Array(reactions));
        }
        let attachments = self.attachments(p, m)?;
        if !attachments.is_empty() {
            o.insert("attachments".into(), Value::Array(attachments));
        }
        Ok(more)
    }

    /// Reactions (`user`, `emoji_name`, `create_at`), one per user and emoji; a reaction time
    /// before the post's (clock skew) becomes the post's, as the validator wants it not earlier.
    fn reactions(&self, p: &Post) -> Vec<Value> {
        let mut seen: HashSet<(String, String)> = HashSet::new();
        let mut out = Vec::new();
        for r in p.reactions() {
            let s = |k: &str| r.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            let (user, emoji) = (s("user_id"), s("emoji_name"));
            let deleted = r.get("delete_at").and_then(Value::as_i64).unwrap_or(0) > 0;
            if deleted || emoji.is_empty() || emoji.chars().count() > names::EMOJI_NAME_MAX {
                continue;
            }
            if !seen.insert((user.clone(), emoji.clone())) {
                continue;
            }
            let at = r
                .get("create_at")
                .and_then(Value::as_i64)
                .unwrap_or(0)
                .max(p.create_at);
            let mut o = Map::new();
            o.insert("user".into(), self.username(&user).into());
            o.insert("emoji_name".into(), emoji.into());
            o.insert("create_at".into(), at.into());
            out.push(Value::Object(o));
        }
        out
    }

    /// With `-a`: copies the attachments that are in the backup and lists their paths (relative
    /// to the import's `data/` folder). Counts the ones that are not in the backup.
    fn attachments(&mut self, p: &Post, m: &Merged) -> Result<Vec<Value>> {
        let Some(files) = self.files.as_deref_mut() else {
            self.stats.attachments_not_exported += p.files.len();
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (f, (_, content)) in p.files.iter().zip(&m.files) {
            self.cancel.check()?;
            let Some((bi, path)) = content else {
                self.stats.attachments_missing += 1;
                continue;
            };
            let name = if f.name.is_empty() { &f.id } else { &f.name };
            let src = &self.backups[*bi].src;
            let Some(rel) = files.attachment(src, path, &f.id, name, f.limit())? else {
                self.stats.attachments_missing += 1;
                continue;
            };
            let size = f.limit().unwrap_or(0);
            if size > limits::DEFAULT_MAX_FILE_SIZE {
                self.stats.big_attachments += 1;
                self.stats.biggest_attachment = self.stats.biggest_attachment.max(size);
                tracing::warn!(
                    "post {}: attachment {rel} has {size} bytes, more than a server takes with \
                     the default FileSettings.MaxFileSize ({} bytes): raise it to at least \
                     {size} before the import, or the server leaves the file out",
                    p.id,
                    limits::DEFAULT_MAX_FILE_SIZE
                );
            }
            let mut o = Map::new();
            o.insert("path".into(), rel.into());
            out.push(Value::Object(o));
        }
        Ok(out)
    }

    fn username(&self, id: &str) -> String {
        // Every author and reactor was given a user (or a placeholder) before writing.
        self.index
            .user_name(id)
            .map(String::from)
            .unwrap_or_else(|| names::placeholder_username(id))
    }
}

/// `{"type": kind, kind: o}`.
pub fn line(kind: &str, o: Map<String, Value>) -> Value {
    let mut m = Map::new();
    m.insert("type".into(), kind.into());
    m.insert(kind.into(), Value::Object(o));
    Value::Object(m)
}

/// Post types kept: ordinary posts have none; message attachments (`slack_attachment`), `/me`
/// posts and plugin posts (`custom_*`) keep theirs. Any other type is dropped (the post is
/// imported as an ordinary one), since the server refuses posts of types it does not know.
fn keep_type(t: &str) -> bool {
    matches!(t, "slack_attachment" | "me") || t.starts_with("custom_")
}

/// The post's props when there are any and they fit (`model.PostPropsMaxRunes`, counted as Go
/// encodes them, with `<`, `>`, `&` as six-character escapes).
fn props(p: &Post) -> Option<Value> {
    let props = p.json.get("props")?.as_object()?;
    if props.is_empty() {
        return None;
    }
    let v = Value::Object(props.clone());
    let s = v.to_string();
    let escapes = s.chars().filter(|c| matches!(c, '<' | '>' | '&')).count();
    if s.chars().count() + 5 * escapes > names::POST_PROPS_MAX_RUNES {
        tracing::warn!(
            "post {}: its props are too large for the importer, left out",
            p.id
        );
        return None;
    }
    Some(v)
}

/// Which user ids the exported posts of `c` refer to (authors and reactors).
pub fn referenced_users(c: &MergedChannel) -> impl Iterator<Item = &str> {
    (c.posts.iter())
        .filter(|m| skip_reason(m).is_none())
        .flat_map(|m| m.users.iter().map(String::as_str))
}
