//! A channel's posts as the importer takes them: merged over the backups, system messages and
//! deleted posts left out, replies nested under their thread's first post, reactions and
//! attachments attached.

use std::collections::{BTreeMap, HashMap, HashSet};

use anyhow::Result;
use serde_json::{Map, Value};

use super::files::Files;
use super::index::{Index, Src};
use super::names;
use super::Stats;
use crate::cancel::Cancel;
use crate::export::model::{Backup, Post};

/// A post as the backups have it: the newest stored version, whether any backup saw it
/// deleted, and where each attachment's content is (backup, path), if anywhere.
pub struct Merged {
    pub post: Post,
    pub deleted: bool,
    pub content: Vec<Option<(usize, String)>>,
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

/// Loads the channel from every backup that has it and merges the posts by id, oldest first.
pub fn merge(backups: &[Backup], sources: &[Src], cancel: &Cancel) -> Result<Vec<Merged>> {
    let mut by_id: BTreeMap<String, Merged> = BTreeMap::new();
    for s in sources {
        cancel.check()?;
        let channel = backups[s.backup].load(&s.info)?;
        for k in &channel.posts {
            let p = backups[s.backup].post(&channel, k)?;
            let deleted = is_gone(&p);
            let p = slim(p);
            let content: Vec<Option<(usize, String)>> = p
                .files
                .iter()
                .map(|f| f.content.clone().map(|c| (s.backup, c)))
                .collect();
            match by_id.get_mut(&p.id) {
                None => {
                    by_id.insert(
                        p.id.clone(),
                        Merged {
                            post: p,
                            deleted,
                            content,
                        },
                    );
                }
                Some(m) => {
                    m.deleted |= deleted;
                    // Keep the newest version; an attachment missing from it may be in the other.
                    let (other, other_content) = if p.update_at > m.post.update_at {
                        let old = std::mem::replace(&mut m.post, p);
                        (old, std::mem::replace(&mut m.content, content))
                    } else {
                        (p, content)
                    };
                    let found: HashMap<String, (usize, String)> = other
                        .files
                        .iter()
                        .zip(other_content)
                        .filter_map(|(f, c)| c.map(|c| (f.id.clone(), c)))
                        .collect();
                    for (f, c) in m.post.files.iter().zip(m.content.iter_mut()) {
                        if c.is_none() {
                            *c = found.get(&f.id).cloned();
                        }
                    }
                }
            }
        }
    }
    let mut out: Vec<Merged> = by_id.into_values().collect();
    out.sort_by(|a, b| (a.post.create_at, &a.post.id).cmp(&(b.post.create_at, &b.post.id)));
    Ok(out)
}

/// The part of a post the conversion reads (a channel's posts are all held while merging):
/// without its history (read by [`is_gone`] before), its JSON cut to `props` and
/// `metadata.reactions`, its attachments' file infos to their `size`.
fn slim(mut p: Post) -> Post {
    let mut o = Map::new();
    if let Some(v) = p.json.get_mut("props") {
        o.insert("props".into(), v.take());
    }
    if let Some(v) = p.json.pointer_mut("/metadata/reactions") {
        let mut meta = Map::new();
        meta.insert("reactions".into(), v.take());
        o.insert("metadata".into(), Value::Object(meta));
    }
    p.json = Value::Object(o);
    p.history = None;
    for f in &mut p.files {
        let mut info = Map::new();
        if let Some(v) = f.info.get_mut("size") {
            info.insert("size".into(), v.take());
        }
        f.info = Value::Object(info);
    }
    p
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
    if m.post.post_type().starts_with("system_") {
        Some(Skip::System)
    } else if m.deleted {
        Some(Skip::Deleted)
    } else if m.post.create_at <= 0 {
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
        .filter(|m| m.post.root_id.is_empty())
        .map(|m| m.post.id.as_str())
        .collect();
    let is_reply =
        |m: &Merged| !m.post.root_id.is_empty() && roots.contains(m.post.root_id.as_str());
    let mut out: Vec<Thread> = Vec::new();
    let mut at: HashMap<&str, usize> = HashMap::new();
    for m in kept.iter().copied().filter(|m| !is_reply(m)) {
        if !m.post.root_id.is_empty() {
            *orphans += 1;
        }
        at.insert(m.post.id.as_str(), out.len());
        out.push(Thread {
            root: m,
            replies: Vec::new(),
        });
    }
    for m in kept.iter().copied().filter(|m| is_reply(m)) {
        if let Some(&i) = at.get(m.post.root_id.as_str()) {
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
    /// A `post` line of a team channel.
    pub fn post(&mut self, team: &str, channel: &str, t: &Thread) -> Result<Value> {
        let mut o = Map::new();
        o.insert("team".into(), team.into());
        o.insert("channel".into(), channel.into());
        self.body(t.root, &mut o)?;
        self.replies(t, &mut o)?;
        self.stats.posts += 1;
        self.stats.replies += t.replies.len();
        Ok(line("post", o))
    }

    /// A `direct_post` line of a direct or group channel.
    pub fn direct_post(&mut self, members: &[String], t: &Thread) -> Result<Value> {
        let mut o = Map::new();
        o.insert("channel_members".into(), members.into());
        self.body(t.root, &mut o)?;
        self.replies(t, &mut o)?;
        self.stats.direct_posts += 1;
        self.stats.direct_replies += t.replies.len();
        Ok(line("direct_post", o))
    }

    fn replies(&mut self, t: &Thread, o: &mut Map<String, Value>) -> Result<()> {
        if t.replies.is_empty() {
            return Ok(());
        }
        let mut replies = Vec::with_capacity(t.replies.len());
        for r in &t.replies {
            let mut ro = Map::new();
            self.body(r, &mut ro)?;
            replies.push(Value::Object(ro));
        }
        o.insert("replies".into(), Value::Array(replies));
        Ok(())
    }

    /// What posts and replies share: user, type, message, props, times, pin, reactions,
    /// attachments.
    fn body(&mut self, m: &Merged, o: &mut Map<String, Value>) -> Result<()> {
        let p = &m.post;
        o.insert("user".into(), self.username(&p.user_id).into());
        let t = p.post_type();
        if keep_type(t) {
            o.insert("type".into(), t.into());
        }
        o.insert("message".into(), p.message.clone().into());
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
        let attachments = self.attachments(m)?;
        if !attachments.is_empty() {
            o.insert("attachments".into(), Value::Array(attachments));
        }
        Ok(())
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
    fn attachments(&mut self, m: &Merged) -> Result<Vec<Value>> {
        let Some(files) = self.files.as_deref_mut() else {
            self.stats.attachments_not_exported += m.post.files.len();
            return Ok(Vec::new());
        };
        let mut out = Vec::new();
        for (f, content) in m.post.files.iter().zip(&m.content) {
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

/// Which user ids the exported posts of `posts` refer to (authors and reactors).
pub fn referenced_users(posts: &[Merged]) -> Vec<String> {
    let mut out = Vec::new();
    for m in posts.iter().filter(|m| skip_reason(m).is_none()) {
        out.push(m.post.user_id.clone());
        for r in m.post.reactions() {
            if let Some(u) = r.get("user_id").and_then(Value::as_str) {
                out.push(u.to_string());
            }
        }
    }
    out
}
