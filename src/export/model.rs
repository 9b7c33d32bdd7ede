//! A backup as the exports see it: teams, channels, posts, users and emojis, read from a
//! [`Source`] by [`crate::store::read`]: a channel is an index of its posts, each post read
//! when an export writes it.

use std::collections::{BTreeMap, BTreeSet};

use anyhow::Result;
use serde_json::Value;

use super::filter::{Kept, Selection};
use super::source::Source;
use crate::error::Fatal;
use crate::model::ChannelKind;
use crate::store::layout::{self, Place};
use crate::store::read::{self, Files, PostKey};

#[derive(Debug, Clone)]
pub struct Team {
    pub id: String,
    pub name: String,
    pub display_name: String,
    /// The team's folder (`teams/<id>__<name>`).
    pub dir: String,
    pub icon: Option<String>,
    pub json: Value,
}

/// A channel as listed: its metadata file, not yet its posts.
#[derive(Debug, Clone)]
pub struct ChannelInfo {
    pub id: String,
    /// Which folder the channel is in.
    pub place: Place,
    /// The team's id for team channels.
    pub team_id: Option<String>,
    /// The channel's folder (`direct/<id>__<name>`, `teams/<team>/<id>__<name>`).
    pub dir: String,
    pub name: String,
    pub display_name: String,
    /// The channel's `type`.
    pub kind: ChannelKind,
    pub json: Value,
}

/// A user from `users/`.
#[derive(Debug, Clone)]
pub struct User {
    pub id: String,
    pub username: String,
    pub image: Option<String>,
    pub names: read::PersonNames,
    pub json: Value,
}

impl User {
    /// First and last name, or empty.
    pub fn given_name(&self) -> String {
        let n = &self.names;
        format!("{} {}", n.first_name.trim(), n.last_name.trim())
            .trim()
            .to_string()
    }

    /// The name the original's exports show: nickname, else first and last name, else username.
    pub fn display_name(&self) -> String {
        let nick = self.names.nickname.trim();
        if !nick.is_empty() {
            return nick.to_string();
        }
        let given = self.given_name();
        if !given.is_empty() {
            return given;
        }
        self.username.clone()
    }
}

#[derive(Debug, Clone)]
pub struct Emoji {
    pub id: String,
    pub name: String,
    pub image: Option<String>,
    /// Deleted on the server while its files stay in the backup.
    pub deleted: bool,
}

/// An attachment: its file info and, when it was backed up, its content.
#[derive(Debug, Clone)]
pub struct Attachment {
    pub id: String,
    pub name: String,
    pub mime: String,
    pub size: u64,
    pub info: Value,
    /// Path of the content in the source, when present.
    pub content: Option<String>,
}

impl Attachment {
    /// The size its file info gives: no more is copied from the backup.
    pub fn limit(&self) -> Option<u64> {
        self.info.get("size").and_then(Value::as_u64)
    }

    pub fn is_image(&self) -> bool {
        self.mime.starts_with("image/")
            || matches!(
                self.info.get("extension").and_then(Value::as_str),
                Some("png" | "jpg" | "jpeg" | "gif" | "webp" | "bmp")
            )
    }
}

/// Earlier versions and the deletion of a post (`history/<post_id>.json`).
#[derive(Debug, Clone, Default)]
pub struct History {
    pub versions: Vec<Value>,
    pub deleted: Option<Value>,
    pub deleted_seen_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub struct Post {
    pub id: String,
    pub create_at: i64,
    pub user_id: String,
    pub root_id: String,
    pub message: String,
    pub update_at: i64,
    pub edit_at: i64,
    pub delete_at: i64,
    pub pinned: bool,
    /// The post's `type`.
    pub kind: String,
    pub json: Value,
    pub files: Vec<Attachment>,
    pub history: Option<History>,
}

impl Post {
    /// A post from its file: its id, typed fields and JSON.
    pub fn new(id: String, v: read::PostFields, json: Value) -> Post {
        Post {
            id,
            create_at: v.create_at,
            user_id: v.user_id,
            root_id: v.root_id,
            message: v.message,
            update_at: v.update_at,
            edit_at: v.edit_at,
            delete_at: v.delete_at,
            pinned: v.is_pinned,
            kind: v.kind,
            json,
            files: Vec::new(),
            history: None,
        }
    }

    pub fn is_pinned(&self) -> bool {
        self.pinned
    }
    pub fn is_edited(&self) -> bool {
        self.edit_at > 0
            || self
                .history
                .as_ref()
                .is_some_and(|h| !h.versions.is_empty())
    }
    pub fn is_deleted(&self) -> bool {
        self.delete_at > 0 || self.history.as_ref().is_some_and(|h| h.deleted.is_some())
    }
    /// A system message (`system_join_channel`, ...).
    pub fn post_type(&self) -> &str {
        &self.kind
    }
    /// The reactions in `metadata.reactions`.
    pub fn reactions(&self) -> &[Value] {
        self.json
            .pointer("/metadata/reactions")
            .and_then(Value::as_array)
            .map(Vec::as_slice)
            .unwrap_or(&[])
    }
}

/// What [`Channel::threads`] needs of a post.
pub trait Threaded {
    fn id(&self) -> &str;
    fn root_id(&self) -> &str;
}

impl Threaded for Post {
    fn id(&self) -> &str {
        &self.id
    }
    fn root_id(&self) -> &str {
        &self.root_id
    }
}

impl Threaded for PostKey {
    fn id(&self) -> &str {
        &self.id
    }
    fn root_id(&self) -> &str {
        &self.root_id
    }
}

/// A channel with its members and the index of its posts, oldest first: the posts themselves
/// are read when needed ([`Backup::post`]), so a channel of any size takes little memory.
#[derive(Debug, Clone)]
pub struct Channel {
    pub info: ChannelInfo,
    pub members: Vec<Value>,
    pub posts: Vec<PostKey>,
    /// The attachments stored in the channel's `files/`: file id to path.
    attachments: BTreeMap<String, String>,
    /// Roots kept only because a reply is in the filter ([`Kept::Context`]).
    pub context: BTreeSet<String>,
}

impl Channel {
    /// Threads in order of their roots: each root (or single post) first, then its replies,
    /// oldest first. A reply whose root is not in the backup (or is not a root) stands alone.
    pub fn threads(&self) -> Vec<Vec<&PostKey>> {
        threads(&self.posts)
    }

    /// Whether the post is here only as the root of a reply in the filter.
    pub fn outside_filter(&self, id: &str) -> bool {
        self.context.contains(id)
    }
}

/// [`Channel::threads`] of posts given oldest first.
pub fn threads<P: Threaded>(posts: &[P]) -> Vec<Vec<&P>> {
    let roots: std::collections::BTreeSet<&str> = (posts.iter())
        .filter(|p| p.root_id().is_empty())
        .map(|p| p.id())
        .collect();
    let is_reply = |p: &P| roots.contains(p.root_id());
    let mut replies: BTreeMap<&str, Vec<&P>> = BTreeMap::new();
    for p in posts.iter().filter(|p| is_reply(p)) {
        replies.entry(p.root_id()).or_default().push(p);
    }
    posts
        .iter()
        .filter(|p| !is_reply(p))
        .map(|root| {
            let mut t = vec![root];
            t.extend(replies.remove(root.id()).unwrap_or_default());
            t
        })
        .collect()
}

/// Puts a channel's posts in the order of [`Channel::posts`]: oldest first (by id within a
/// millisecond).
pub fn sort_posts(posts: &mut [PostKey]) {
    posts.sort_by(|a, b| (a.create_at, &a.id).cmp(&(b.create_at, &b.id)));
}

/// A backup opened for reading.
pub struct Backup {
    pub src: Source,
    pub teams: Vec<Team>,
    pub channels: Vec<ChannelInfo>,
    pub users: BTreeMap<String, User>,
    pub emojis: BTreeMap<String, Emoji>,
}

impl Backup {
    /// Reads the lists (teams, channels, users, emojis) of the backup at `path`.
    pub fn open(path: &std::path::Path) -> Result<Backup> {
        let src = Source::open(path)?;
        let mut b = Backup {
            teams: Vec::new(),
            channels: Vec::new(),
            users: BTreeMap::new(),
            emojis: BTreeMap::new(),
            src,
        };
        b.read_users()?;
        b.read_emojis()?;
        b.read_teams()?;
        for (place, dir) in [
            (Place::Direct, layout::DIRECT),
            (Place::Group, layout::GROUPS),
        ] {
            b.read_channels(place, dir, None)?;
        }
        for t in b.teams.clone() {
            b.read_channels(Place::Team, &t.dir, Some(&t.id))?;
        }
        if b.channels.is_empty() && b.users.is_empty() && b.teams.is_empty() {
            return Err(Fatal::usage(format!(
                "{}: no matterbak backup found there (no teams, channels or users)",
                path.display()
            ))
            .into());
        }
        Ok(b)
    }

    pub fn user(&self, id: &str) -> Option<&User> {
        self.users.get(id)
    }

    /// The display name of a user id (the id itself when the user is not in the backup).
    pub fn user_name(&self, id: &str) -> String {
        self.user(id)
            .map(User::display_name)
            .unwrap_or_else(|| id.to_string())
    }

    pub fn team(&self, id: &str) -> Option<&Team> {
        self.teams.iter().find(|t| t.id == id)
    }

    /// A readable title: the display name, or for DMs and groups the other members' names.
    pub fn title(&self, c: &ChannelInfo) -> String {
        if c.place == Place::Team {
            return if c.display_name.is_empty() {
                c.name.clone()
            } else {
                c.display_name.clone()
            };
        }
        // DMs: `<id1>__<id2>`; the folder names carry usernames, the JSON the ids.
        let ids: Vec<&str> = layout::parts(&c.name).filter(|s| s.len() == 26).collect();
        if !ids.is_empty() && ids.iter().all(|i| self.users.contains_key(*i)) {
            return ids
                .iter()
                .map(|i| self.user_name(i))
                .collect::<Vec<_>>()
                .join(", ");
        }
        let dir_name = c.dir.rsplit('/').next().unwrap_or("");
        let names = layout::split_base(dir_name).map_or(dir_name, |x| x.1);
        if !names.is_empty() {
            return layout::parts(names).collect::<Vec<_>>().join(", ");
        }
        c.display_name.clone()
    }

    /// Finds a channel as the original matterexport does (by id, by name, or by folder path),
    /// by display name, `team/name`, or as `matterbak list` names a direct or group channel
    /// (the other members' usernames): the one place where a channel is named.
    ///
    /// # Errors
    /// A usage error naming the candidates when the name is unknown or ambiguous.
    pub fn find_channel(&self, ident: &str) -> Result<&ChannelInfo> {
        if let Some(c) = self.lookup_channel(ident)? {
            return Ok(c);
        }
        let all: Vec<String> = self.channels.iter().map(|c| self.list_name(c)).collect();
        let lower = ident.to_lowercase();
        let close: Vec<&String> = (all.iter())
            .filter(|n| n.to_lowercase().contains(&lower) || lower.contains(&n.to_lowercase()))
            .collect();
        let shown: Vec<&String> = if close.is_empty() {
            all.iter().collect()
        } else {
            close
        };
        Err(Fatal::usage(format!(
            "no channel {ident:?} in {} (give a name as `matterbak list` prints it, team/name, a display name, id or folder); {}: {}{}",
            self.src.origin().display(),
            if shown.len() < all.len() { "similar names" } else { "the channels are" },
            shown.iter().take(30).map(|s| s.as_str()).collect::<Vec<_>>().join(", "),
            if shown.len() > 30 { ", ..." } else { "" }
        ))
        .into())
    }

    /// A channel's name as `matterbak list` prints it: `team/name` for a team channel, the
    /// members' usernames for a direct or group channel.
    pub fn list_name(&self, c: &ChannelInfo) -> String {
        match c.team_id.as_deref().and_then(|t| self.team(t)) {
            Some(t) => format!("{}/{}", t.name, c.name),
            None if c.place == Place::Team => c.name.clone(),
            None => self.member_usernames(c).join(", "),
        }
    }

    /// The usernames of a direct or group channel's members, from its name (the user ids of a
    /// direct channel) or its folder.
    fn member_usernames(&self, c: &ChannelInfo) -> Vec<String> {
        let ids: Vec<&str> = layout::parts(&c.name).filter(|s| s.len() == 26).collect();
        if !ids.is_empty() && ids.iter().all(|i| self.users.contains_key(*i)) {
            return ids
                .iter()
                .map(|i| self.users[*i].username.clone())
                .collect();
        }
        let dir_name = c.dir.rsplit('/').next().unwrap_or("");
        let names = layout::split_base(dir_name).map_or(dir_name, |x| x.1);
        layout::parts(names).map(String::from).collect()
    }

    /// [`Backup::find_channel`] without the error for an unknown name: `None`.
    ///
    /// # Errors
    /// A usage error naming the candidates when several channels have the name.
    pub fn lookup_channel(&self, ident: &str) -> Result<Option<&ChannelInfo>> {
        let folder = |c: &&ChannelInfo| c.dir.rsplit('/').next().unwrap_or("").to_string();
        let by = |f: &dyn Fn(&&ChannelInfo) -> bool| -> Vec<&ChannelInfo> {
            self.channels.iter().filter(|c| f(c)).collect()
        };
        let path = ident.trim_end_matches('/');
        // `matterbak list` names a direct channel by the other member, a group by the others:
        // the backup does not say who "me" is, so all members but at most one.
        let wanted: BTreeSet<&str> = ident
            .split(',')
            .map(|s| s.trim().trim_start_matches('@'))
            .collect();
        for found in [
            by(&|c| c.id == ident),
            by(&|c| c.name == ident || layout::base_ends_with_name(&folder(c), ident)),
            by(&|c| c.dir == path || path.ends_with(&format!("/{}", c.dir))),
            by(&|c| c.display_name == ident),
            by(&|c| {
                let team = c.team_id.as_deref().and_then(|t| self.team(t));
                team.is_some_and(|t| format!("{}/{}", t.name, c.name) == ident)
            }),
            by(&|c| {
                if c.place == Place::Team {
                    return false;
                }
                let names = self.member_usernames(c);
                let has: BTreeSet<&str> = names.iter().map(String::as_str).collect();
                wanted.is_subset(&has) && has.len() <= wanted.len() + 1
            }),
        ] {
            match found.len() {
                0 => continue,
                1 => return Ok(Some(found[0])),
                _ => {
                    let names: Vec<String> = found
                        .iter()
                        .map(|c| format!("{} (id {})", self.list_name(c), c.id))
                        .collect();
                    return Err(Fatal::usage(format!(
                        "channel {ident:?} is ambiguous in {}; give team/name or one of these ids with -c: {}",
                        self.src.origin().display(),
                        names.join(", ")
                    ))
                    .into());
                }
            }
        }
        Ok(None)
    }

    /// Reads a channel's members and the index of its posts (oldest first).
    pub fn load(&self, info: &ChannelInfo) -> Result<Channel> {
        let src: &dyn Files = &self.src;
        let members = read::members(src, &info.dir)?.unwrap_or_default();
        let attachments = read::attachments(src, &info.dir);
        let mut posts = read::post_keys(src, &info.dir)?;
        sort_posts(&mut posts);
        Ok(Channel {
            info: info.clone(),
            members,
            posts,
            attachments,
            context: BTreeSet::new(),
        })
    }

    /// [`Backup::load`] with only the posts `sel` keeps ([`Selection::keep`]).
    pub fn load_selected(&self, info: &ChannelInfo, sel: &Selection) -> Result<Channel> {
        let mut c = self.load(info)?;
        let verdicts = sel.keep(&c.posts, |k| k);
        let posts = std::mem::take(&mut c.posts);
        for (k, v) in posts.into_iter().zip(verdicts) {
            match v {
                Some(Kept::Selected) => c.posts.push(k),
                Some(Kept::Context) => {
                    c.context.insert(k.id.clone());
                    c.posts.push(k);
                }
                None => {}
            }
        }
        Ok(c)
    }

    /// Reads a post of channel `c`, with its attachments and history.
    pub fn post(&self, c: &Channel, key: &PostKey) -> Result<Post> {
        let src: &dyn Files = &self.src;
        let dir = &c.info.dir;
        let read::PostFile { id, v, json } = read::post(src, dir, key)?;
        let mut files = Vec::new();
        for fid in &v.file_ids {
            let info: Value = match read::file_info(src, dir, fid)? {
                Some(v) => v,
                // Fall back to the file info embedded in the post.
                None => json
                    .pointer("/metadata/files")
                    .and_then(Value::as_array)
                    .and_then(|a| {
                        a.iter()
                            .find(|f| f.get("id").and_then(Value::as_str) == Some(fid))
                    })
                    .cloned()
                    .unwrap_or(Value::Null),
            };
            let f = read::FileInfoFields::of(&info);
            files.push(Attachment {
                id: fid.to_string(),
                name: f.name,
                mime: f.mime_type,
                size: f.size,
                content: c.attachments.get(fid).cloned(),
                info,
            });
        }
        // Only real edits: a version whose authored content equals the next one's (a
        // phantom, `store::content`) is left out.
        let history = read::history(src, dir, &id)?.map(|h: Value| History {
            versions: crate::store::content::real_versions(
                h.get("versions")
                    .and_then(Value::as_array)
                    .map_or(&[][..], Vec::as_slice),
                &json,
            )
            .0,
            deleted: h.get("deleted").cloned(),
            deleted_seen_at: h.get("deleted_seen_at").and_then(Value::as_i64),
        });
        Ok(Post {
            files,
            history,
            ..Post::new(id, v, json)
        })
    }

    /// Reads the posts of `keys` (of channel `c`) in their order.
    pub fn posts<'a>(
        &self,
        c: &Channel,
        keys: impl IntoIterator<Item = &'a PostKey>,
    ) -> Result<Vec<Post>> {
        keys.into_iter().map(|k| self.post(c, k)).collect()
    }

    fn read_users(&mut self) -> Result<()> {
        for u in read::users(&self.src)? {
            self.users.insert(
                u.id.clone(),
                User {
                    username: u.username.unwrap_or_else(|| u.id.clone()),
                    id: u.id,
                    image: u.image,
                    names: u.names,
                    json: u.json,
                },
            );
        }
        Ok(())
    }

    fn read_emojis(&mut self) -> Result<()> {
        for e in read::emojis(&self.src)? {
            self.emojis.insert(
                e.name.clone(),
                Emoji {
                    id: e.id,
                    name: e.name,
                    image: e.image,
                    deleted: e.deleted,
                },
            );
        }
        Ok(())
    }

    fn read_teams(&mut self) -> Result<()> {
        for t in read::teams(&self.src)? {
            self.teams.push(Team {
                name: t.names.name,
                display_name: t.names.display_name,
                dir: t.dir,
                icon: t.icon,
                id: t.id,
                json: t.json,
            });
        }
        self.teams
            .sort_by(|a, b| (&a.display_name, &a.id).cmp(&(&b.display_name, &b.id)));
        Ok(())
    }

    fn read_channels(&mut self, place: Place, dir: &str, team: Option<&str>) -> Result<()> {
        let mut found = Vec::new();
        for c in read::channels(&self.src, dir)? {
            found.push(ChannelInfo {
                place,
                team_id: team.map(String::from),
                name: c.names.name,
                display_name: c.names.display_name,
                dir: c.dir,
                kind: c.kind,
                id: c.id,
                json: c.json,
            });
        }
        found.sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
        self.channels.extend(found);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn post(id: &str, at: i64, root: &str) -> Post {
        Post {
            id: id.into(),
            create_at: at,
            user_id: String::new(),
            root_id: root.into(),
            message: String::new(),
            update_at: 0,
            edit_at: 0,
            delete_at: 0,
            pinned: false,
            kind: String::new(),
            json: Value::Null,
            files: Vec::new(),
            history: None,
        }
    }

    #[test]
    fn threads_put_the_root_first_and_each_post_once() {
        // "a" sorts before its root "r" (same millisecond); "o" answers a root not in the
        // backup; "n" names a reply as its root.
        let posts = vec![
            post("a", 1, "r"),
            post("r", 1, ""),
            post("s", 2, ""),
            post("o", 3, "gone"),
            post("b", 4, "r"),
            post("n", 5, "a"),
        ];
        let ids: Vec<Vec<&str>> = threads(&posts)
            .iter()
            .map(|t| t.iter().map(|p| p.id.as_str()).collect())
            .collect();
        assert_eq!(ids, [vec!["r", "a", "b"], vec!["s"], vec!["o"], vec!["n"]]);
    }
}
