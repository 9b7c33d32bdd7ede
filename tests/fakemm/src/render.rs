//! JSON rendering of entities exactly as the real API returns them (field sets and order).

use crate::content;
use crate::id::Id;
use crate::world::{Channel, Post, User, World};
use serde::{Serialize, Serializer};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// `props`, serialized with sorted keys like Go's map encoding.
pub(crate) struct SortedProps<'a>(&'a Map<String, Value>);

impl Serialize for SortedProps<'_> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let sorted: BTreeMap<&String, &Value> = self.0.iter().collect();
        sorted.serialize(s)
    }
}

/// Post metadata (every field omitempty).
#[derive(Serialize, Default)]
pub(crate) struct MetaOut {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    emojis: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    files: Vec<Value>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    reactions: Vec<Value>,
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// A prepared post in the field order of `model.Post`.
#[derive(Serialize)]
pub(crate) struct PostOut<'a> {
    id: Id,
    create_at: i64,
    update_at: i64,
    edit_at: i64,
    delete_at: i64,
    is_pinned: bool,
    user_id: Id,
    channel_id: Id,
    root_id: Id,
    original_id: Id,
    message: &'a str,
    #[serde(rename = "type")]
    post_type: &'a str,
    props: SortedProps<'a>,
    hashtags: &'static str,
    /// Left out when empty by servers up to 9.x (`json:"file_ids,omitempty"`), always there
    /// from 10.0 (`json:"file_ids"`): see [`World::omits_empty_file_ids`].
    #[serde(skip_serializing_if = "Option::is_none")]
    file_ids: Option<&'a [Id]>,
    pending_post_id: &'static str,
    #[serde(skip_serializing_if = "is_false")]
    has_reactions: bool,
    reply_count: i64,
    last_reply_at: i64,
    participants: Option<()>,
    metadata: MetaOut,
}

fn sorted_map(pairs: &[(&str, &str)]) -> Value {
    let mut v: Vec<_> = pairs.to_vec();
    v.sort();
    Value::Object(
        v.into_iter()
            .map(|(k, s)| (k.to_string(), Value::String(s.to_string())))
            .collect(),
    )
}

impl World {
    /// Whether this server version leaves `file_ids` out of a post without attachments:
    /// `model.Post.FileIds` is `json:"file_ids,omitempty"` up to 9.x and `json:"file_ids"` from
    /// 10.0 (`server/public/model/post.go`). Set `config.server_version` (e.g. "9.11.0") to
    /// switch shapes between runs, as an upgrade does.
    pub fn omits_empty_file_ids(&self) -> bool {
        let major = self.config.server_version.split('.').next();
        major
            .and_then(|m| m.parse::<u32>().ok())
            .is_some_and(|m| m < 10)
    }

    /// `model.Etag(parts...)` = `<version>.<p1>.<p2>...`.
    pub fn etag(&self, parts: &[&dyn std::fmt::Display]) -> String {
        let mut s = self.config.server_version.clone();
        for p in parts {
            s.push('.');
            s.push_str(&p.to_string());
        }
        s
    }

    /// A user as `viewer` sees it: full sanitized self view, or the sanitized profile.
    pub fn render_user(&self, user_id: &str, viewer: &str) -> Value {
        match self.user(user_id) {
            Some(u) => self.user_json(u, u.id == Id::lookup(viewer)),
            None => Value::Null,
        }
    }

    pub(crate) fn user_json(&self, u: &User, is_self: bool) -> Value {
        let mut m = Map::new();
        m.insert("id".into(), json!(u.id));
        m.insert("create_at".into(), json!(u.create_at));
        m.insert("update_at".into(), json!(u.update_at));
        m.insert("delete_at".into(), json!(u.delete_at));
        m.insert("username".into(), json!(u.username));
        m.insert("auth_service".into(), json!(""));
        m.insert("email".into(), json!(u.email));
        if is_self {
            m.insert("email_verified".into(), json!(true));
        }
        m.insert("nickname".into(), json!(u.nickname));
        m.insert("first_name".into(), json!(u.first_name));
        m.insert("last_name".into(), json!(u.last_name));
        m.insert("position".into(), json!(u.position));
        m.insert("roles".into(), json!(u.roles));
        if is_self && !u.mfa_secret.is_empty() {
            m.insert("mfa_active".into(), json!(true));
        }
        if is_self {
            m.insert(
                "notify_props".into(),
                sorted_map(&[
                    ("channel", "true"),
                    ("comments", "never"),
                    ("desktop", "mention"),
                    ("desktop_sound", "true"),
                    ("email", "true"),
                    ("first_name", "false"),
                    ("mention_keys", ""),
                    ("push", "mention"),
                    ("push_status", "online"),
                ]),
            );
            m.insert("last_password_update".into(), json!(u.last_password_update));
        }
        if u.last_picture_update != 0 {
            m.insert("last_picture_update".into(), json!(u.last_picture_update));
        }
        m.insert("locale".into(), json!("en"));
        m.insert(
            "timezone".into(),
            json!({"automaticTimezone": "", "manualTimezone": "", "useAutomaticTimezone": "true"}),
        );
        m.insert("disable_welcome_email".into(), json!(false));
        Value::Object(m)
    }

    /// ETag of `GET /users/{id}`.
    pub fn user_etag(&self, u: &User) -> String {
        self.etag(&[&u.id, &u.update_at, &"", &0, &true, &true])
    }

    /// A team (sanitized for a non-admin: empty email and invite_id).
    pub fn render_team(&self, team_id: &str) -> Value {
        let Some(t) = self.team(team_id) else {
            return Value::Null;
        };
        let mut m = Map::new();
        m.insert("id".into(), json!(t.id));
        m.insert("create_at".into(), json!(t.create_at));
        m.insert("update_at".into(), json!(t.update_at));
        m.insert("delete_at".into(), json!(t.delete_at));
        m.insert("display_name".into(), json!(t.display_name));
        m.insert("name".into(), json!(t.name));
        m.insert("description".into(), json!(t.description));
        m.insert("email".into(), json!(""));
        m.insert("type".into(), json!(t.team_type.to_string()));
        m.insert("company_name".into(), json!(""));
        m.insert("allowed_domains".into(), json!(""));
        m.insert("invite_id".into(), json!(""));
        m.insert("allow_open_invite".into(), json!(t.allow_open_invite));
        if t.last_team_icon_update != 0 {
            m.insert(
                "last_team_icon_update".into(),
                json!(t.last_team_icon_update),
            );
        }
        m.insert("scheme_id".into(), Value::Null);
        m.insert("group_constrained".into(), Value::Null);
        m.insert("policy_id".into(), Value::Null);
        m.insert("cloud_limits_archived".into(), json!(false));
        Value::Object(m)
    }

    /// A channel as `GET /channels/{id}` returns it.
    pub fn render_channel(&self, channel_id: &str) -> Value {
        self.channel(channel_id)
            .map(|c| self.channel_json(c))
            .unwrap_or(Value::Null)
    }

    pub(crate) fn channel_json(&self, c: &Channel) -> Value {
        json!({
            "id": c.id,
            "create_at": c.create_at,
            "update_at": c.update_at,
            "delete_at": c.delete_at,
            "team_id": c.team_id,
            "type": c.channel_type.to_string(),
            "display_name": c.display_name,
            "name": c.name,
            "header": c.header,
            "purpose": c.purpose,
            "last_post_at": c.last_post_at,
            "total_msg_count": c.total_msg_count,
            "extra_update_at": 0,
            "creator_id": c.creator_id,
            "scheme_id": null,
            "props": null,
            "group_constrained": null,
            "shared": null,
            "total_msg_count_root": c.total_msg_count_root,
            "policy_id": null,
            "last_root_post_at": c.last_root_post_at,
        })
    }

    /// All channel members in the server's (stable: by user id) order.
    pub fn render_channel_members(&self, channel_id: &str) -> Vec<Value> {
        let Some(c) = self.channel(channel_id) else {
            return vec![];
        };
        c.members
            .values()
            .map(|m| {
                json!({
                    "channel_id": c.id,
                    "user_id": m.user_id,
                    "roles": m.roles,
                    "last_viewed_at": m.last_viewed_at,
                    "msg_count": m.msg_count,
                    "mention_count": 0,
                    "mention_count_root": 0,
                    "urgent_mention_count": 0,
                    "msg_count_root": m.msg_count_root,
                    "notify_props": sorted_map(&[
                        ("desktop", "default"),
                        ("email", "default"),
                        ("ignore_channel_mentions", "default"),
                        ("mark_unread", "all"),
                        ("push", "default"),
                    ]),
                    "last_update_at": m.last_update_at,
                    "scheme_guest": false,
                    "scheme_user": true,
                    "scheme_admin": m.scheme_admin,
                    "explicit_roles": "",
                })
            })
            .collect()
    }

    /// Active team members ordered by user id.
    pub fn render_team_members(&self, team_id: &str) -> Vec<Value> {
        let Some(t) = self.team(team_id) else {
            return vec![];
        };
        t.members
            .values()
            .filter(|m| m.delete_at == 0)
            .map(|m| {
                json!({
                    "team_id": t.id,
                    "user_id": m.user_id,
                    "roles": m.roles,
                    "delete_at": m.delete_at,
                    "scheme_guest": false,
                    "scheme_user": true,
                    "scheme_admin": m.roles.contains("team_admin"),
                    "explicit_roles": "",
                    "create_at": m.create_at,
                })
            })
            .collect()
    }

    pub fn render_emoji(&self, emoji_id: &str) -> Value {
        match self.emoji(emoji_id) {
            Some(e) => json!({
                "id": e.id,
                "create_at": e.create_at,
                "update_at": e.update_at,
                "delete_at": e.delete_at,
                "creator_id": e.creator_id,
                "name": e.name,
            }),
            None => Value::Null,
        }
    }

    pub fn render_file_info(&self, file_id: &str) -> Value {
        let Some(f) = self.file(file_id) else {
            return Value::Null;
        };
        let mut m = Map::new();
        m.insert("id".into(), json!(f.id));
        m.insert("user_id".into(), json!(f.user_id));
        if !f.post_id.is_none() {
            m.insert("post_id".into(), json!(f.post_id));
        }
        m.insert("channel_id".into(), json!(f.channel_id));
        m.insert("create_at".into(), json!(f.create_at));
        m.insert("update_at".into(), json!(f.update_at));
        m.insert("delete_at".into(), json!(f.delete_at));
        m.insert("name".into(), json!(f.name));
        m.insert("extension".into(), json!(f.extension));
        m.insert("size".into(), json!(f.size));
        m.insert("mime_type".into(), json!(f.mime_type));
        if f.width > 0 {
            m.insert("width".into(), json!(f.width));
            m.insert("height".into(), json!(f.height));
            m.insert("has_preview_image".into(), json!(true));
        }
        m.insert("mini_preview".into(), Value::Null);
        m.insert("remote_id".into(), json!(""));
        m.insert("archived".into(), json!(false));
        Value::Object(m)
    }

    /// The post exactly as post lists with `skipFetchThreads=true` return it (reply_count
    /// computed). See [`World::render_post_with`] for the `reply_count: 0` variant.
    pub fn render_post(&self, post_id: &str) -> Value {
        self.render_post_with(post_id, true)
    }

    /// The post, with `reply_count` computed (`true`) or 0 (`false`, the page query without
    /// `skipFetchThreads`).
    pub fn render_post_with(&self, post_id: &str, reply_count: bool) -> Value {
        match self.post(post_id) {
            Some(p) => self.post_json(p, reply_count),
            None => Value::Null,
        }
    }

    /// Custom emoji names used in a message (`:name:`) and in reactions, if custom emoji exist.
    fn post_emojis(&self, p: &Post) -> Vec<Value> {
        if !self.config.custom_emoji_enabled {
            return vec![];
        }
        let mut names: Vec<&str> = Vec::new();
        for part in p.message.split(':').skip(1).step_by(2) {
            if !part.is_empty() && part.len() <= 64 && !part.contains(' ') {
                names.push(part);
            }
        }
        if p.has_reactions {
            if let Some(rs) = self.reactions.get(&p.id) {
                names.extend(rs.iter().map(|r| r.emoji_name.as_str()));
            }
        }
        let mut found: BTreeMap<&str, Value> = BTreeMap::new();
        for n in names {
            if let Some(e) = self.emoji_by_name(n) {
                found
                    .entry(n)
                    .or_insert_with(|| self.render_emoji(e.id.as_str()));
            }
        }
        found.into_values().collect()
    }

    /// The reactions of a post, as `GET /posts/{id}/reactions` and post metadata list them.
    pub(crate) fn reactions_json(&self, post_id: Id) -> Vec<Value> {
        self.reactions
            .get(&post_id)
            .map(|rs| {
                rs.iter()
                    .map(|r| {
                        json!({
                            "user_id": r.user_id,
                            "post_id": r.post_id,
                            "emoji_name": r.emoji_name,
                            "create_at": r.create_at,
                            "update_at": r.update_at,
                            "delete_at": 0,
                            "remote_id": "",
                            "channel_id": r.channel_id,
                        })
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub(crate) fn post_json(&self, p: &Post, with_reply_count: bool) -> Value {
        serde_json::to_value(self.post_out(p, with_reply_count)).unwrap_or(Value::Null)
    }

    /// The serializable form of a prepared post (fast path for post lists).
    pub(crate) fn post_out<'a>(&'a self, p: &'a Post, with_reply_count: bool) -> PostOut<'a> {
        let deleted = p.delete_at > 0;
        let mut meta = MetaOut::default();
        if !deleted {
            meta.emojis = self.post_emojis(p);
            meta.files = p
                .file_ids
                .iter()
                .filter(|f| self.files.get(f).is_some_and(|f| f.delete_at == 0))
                .map(|f| self.render_file_info(f.as_str()))
                .collect();
            if p.has_reactions {
                meta.reactions = self.reactions_json(p.id);
            }
        }
        PostOut {
            id: p.id,
            create_at: p.create_at,
            update_at: p.update_at,
            edit_at: p.edit_at,
            delete_at: p.delete_at,
            is_pinned: p.is_pinned,
            user_id: p.user_id,
            channel_id: p.channel_id,
            root_id: p.root_id,
            original_id: p.original_id,
            message: if deleted { "" } else { p.message.as_str() },
            post_type: &p.post_type,
            props: SortedProps(&p.props),
            hashtags: "",
            file_ids: Some(p.file_ids.as_slice())
                .filter(|f| !f.is_empty() || !self.omits_empty_file_ids()),
            pending_post_id: "",
            has_reactions: p.has_reactions,
            reply_count: if with_reply_count {
                self.reply_count(p)
            } else {
                0
            },
            last_reply_at: 0,
            participants: None,
            metadata: meta,
        }
    }

    /// The raw post row (edit history: message kept, no metadata preparation).
    pub(crate) fn raw_post_json(&self, p: &Post) -> Value {
        let mut v = self.post_json(
            &Post {
                delete_at: 0,
                ..p.clone()
            },
            false,
        );
        v["delete_at"] = json!(p.delete_at);
        v["reply_count"] = json!(0);
        if let Some(m) = v.as_object_mut() {
            m.insert("metadata".into(), json!({}));
        }
        v
    }

    /// Bytes of a (small) file, for tests. Empty for unknown ids.
    pub fn file_content(&self, file_id: &str) -> Vec<u8> {
        match self.file(file_id) {
            Some(f) => content::full_bytes(f.kind, content::file_key(self.seed, f.id), f.size),
            None => vec![],
        }
    }

    /// What `GET /users/{id}/image` returns: always `image/png` (uploaded or default avatar).
    pub fn user_image(&self, user_id: &str) -> (String, Vec<u8>) {
        let Some(u) = self.user(user_id) else {
            return ("image/png".into(), vec![]);
        };
        let key = content::file_key(self.seed, u.id);
        let bytes = if u.last_picture_update != 0 {
            content::png(128, 128, key ^ u.last_picture_update as u64, 0)
        } else {
            content::png(64, 64, key, 0)
        };
        ("image/png".into(), bytes)
    }

    /// The team icon PNG, if the team has one.
    pub fn team_icon(&self, team_id: &str) -> Option<Vec<u8>> {
        let t = self.team(team_id)?;
        if t.last_team_icon_update == 0 {
            return None;
        }
        let key = content::file_key(self.seed, t.id) ^ t.last_team_icon_update as u64;
        Some(content::png(96, 96, key, 0))
    }

    /// The custom emoji image: (content type, bytes).
    pub fn emoji_image(&self, emoji_id: &str) -> (String, Vec<u8>) {
        let Some(e) = self.emoji(emoji_id) else {
            return ("image/png".into(), vec![]);
        };
        let key = content::file_key(self.seed, e.id);
        (e.kind.mime().into(), content::image_bytes(e.kind, key, 0))
    }
}
