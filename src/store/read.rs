//! The read side of the data-dir format: which file of a backup is what (users, emojis, teams,
//! channels, members, posts, file infos, attachments, history), each as its JSON with the typed
//! fields the readers need. The names are parsed in [`super::layout`], next to the code that
//! builds them.
//!
//! The files come from a [`Files`]: a data dir or a backup zip (`export::source::Source`).
//! Every reader treats a damaged file the same way: an error that names it (never a file left
//! out without a word). A file of another kind (a members list where channels are listed, a
//! JSON without the object's `id`) is not an error: it is simply not that object.
//!
//! What the readers work around instead of failing is reported through [`Files::damaged`] (a
//! warning naming the file; the export ends with exit 3): a team's or channel's object file that
//! is missing or cannot be read while its folder holds files (its posts are read under a
//! placeholder made from the folder's name, [`teams`], [`channels`]), a post or history file
//! larger than [`MAX_POST`] (left out), and JSON nested deeper than [`depth::MAX_DEPTH`] levels
//! (read without the deeper parts).

use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet};

use anyhow::{Context, Result};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::depth::{self, MAX_DEPTH};
use super::layout::{self, FilesEntry};
use crate::model::ChannelKind;

/// Largest post (or post history) file read, by verify and the exports alike. A post's message
/// is at most 65,535 bytes and its props 800,000 characters on the server; a larger file is not
/// a post, and reading it would take memory in proportion to its size.
pub const MAX_POST: u64 = 16 << 20;

/// The files of a backup, by `/`-separated path relative to its top.
pub trait Files {
    /// The names of the files directly in folder `dir` (no trailing `/`), sorted.
    fn list(&self, dir: &str) -> Vec<String>;
    /// The names of the folders directly in folder `dir` that hold files (at any depth), sorted.
    fn folders(&self, dir: &str) -> Vec<String>;
    /// Whether the file `name` is there.
    fn exists(&self, name: &str) -> bool;
    /// The whole content of the file `name`.
    fn read(&self, name: &str) -> Result<Vec<u8>>;
    /// The whole content of the file `name`, `None` when it holds more than `max` bytes (no more
    /// than `max + 1` are read).
    fn read_at_most(&self, name: &str, max: u64) -> Result<Option<Vec<u8>>>;
    /// `name` as a user can find it (a path, or `zip:entry`).
    fn describe(&self, name: &str) -> String;
    /// Reports the file `name`, which the reader worked around (`what` says how): a warning
    /// naming it, once, and the export ends with exit 3.
    fn damaged(&self, name: &str, what: &str);
}

/// The file `name` parsed as JSON; an error naming it when it is not. Parts nested deeper than
/// [`MAX_DEPTH`] levels are left out, and the file is reported.
pub fn json<T: DeserializeOwned>(files: &dyn Files, name: &str) -> Result<T> {
    let bytes = files.read(name)?;
    parse(files, name, &bytes)
}

/// `bytes` of the file `name` parsed as [`json`] does.
fn parse<T: DeserializeOwned>(files: &dyn Files, name: &str, bytes: &[u8]) -> Result<T> {
    let not_json = || format!("{}: not valid JSON", files.describe(name));
    let bytes = depth::within_depth(bytes).with_context(not_json)?;
    if let Cow::Owned(_) = bytes {
        files.damaged(name, &too_deep());
    }
    serde_json::from_slice(&bytes).with_context(not_json)
}

/// What [`Files::damaged`] says of a file nested too deep.
fn too_deep() -> String {
    format!(
        "nested more than {MAX_DEPTH} levels deep; read without the deeper parts (each is null)"
    )
}

/// A post or post history file's content: `None`, reported, when it is larger than
/// [`MAX_POST`]; parts nested deeper than [`MAX_DEPTH`] levels left out, reported; an error
/// naming it when it is not JSON.
fn post_bytes(files: &dyn Files, name: &str) -> Result<Option<Vec<u8>>> {
    let Some(raw) = files.read_at_most(name, MAX_POST)? else {
        files.damaged(
            name,
            &format!(
                "larger than {MAX_POST} bytes, more than any post (or post history) holds; left                  out of the export"
            ),
        );
        return Ok(None);
    };
    let cut = match depth::within_depth(&raw)
        .with_context(|| format!("{}: not valid JSON", files.describe(name)))?
    {
        Cow::Borrowed(_) => None,
        Cow::Owned(c) => Some(c),
    };
    if cut.is_some() {
        files.damaged(name, &too_deep());
    }
    Ok(Some(cut.unwrap_or(raw)))
}

/// A string field; `null`, a missing field or another type read as empty (as the exports of the
/// original treat them).
fn lenient_str<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    Ok(Value::deserialize(d)?.as_str().unwrap_or("").to_string())
}

/// An integer field; anything else reads as 0.
fn lenient_i64<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    Ok(Value::deserialize(d)?.as_i64().unwrap_or(0))
}

/// A size; anything but a non-negative integer reads as 0.
fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    Ok(Value::deserialize(d)?.as_u64().unwrap_or(0))
}

/// A flag: only `true` is true.
fn lenient_true<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    Ok(Value::deserialize(d)?.as_bool() == Some(true))
}

/// A list of strings; other items are left out, anything but a list reads as empty.
fn lenient_strs<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<String>, D::Error> {
    Ok(match Value::deserialize(d)? {
        Value::Array(a) => a
            .iter()
            .filter_map(Value::as_str)
            .map(String::from)
            .collect(),
        _ => Vec::new(),
    })
}

/// The typed view of an object's JSON (the default when it is not an object).
fn typed<T: DeserializeOwned + Default>(json: &Value) -> T {
    T::deserialize(json).unwrap_or_default()
}

/// The names of a team or channel.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct Names {
    #[serde(default, deserialize_with = "lenient_str")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient_str")]
    pub display_name: String,
}

/// The names of a user besides the username.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PersonNames {
    #[serde(default, deserialize_with = "lenient_str")]
    pub first_name: String,
    #[serde(default, deserialize_with = "lenient_str")]
    pub last_name: String,
    #[serde(default, deserialize_with = "lenient_str")]
    pub nickname: String,
}

/// The fields of a post the readers use.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct PostFields {
    /// The post's `id`, if it has one (a string).
    #[serde(default, deserialize_with = "lenient_opt_str")]
    pub id: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub create_at: i64,
    #[serde(default, deserialize_with = "lenient_str")]
    pub user_id: String,
    #[serde(default, deserialize_with = "lenient_str")]
    pub root_id: String,
    #[serde(default, deserialize_with = "lenient_str")]
    pub message: String,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub update_at: i64,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub edit_at: i64,
    #[serde(default, deserialize_with = "lenient_i64")]
    pub delete_at: i64,
    #[serde(default, deserialize_with = "lenient_true")]
    pub is_pinned: bool,
    /// The post's `type` (`system_join_channel`, ...; empty for a user's post).
    #[serde(rename = "type", default, deserialize_with = "lenient_str")]
    pub kind: String,
    /// The ids of its attachments.
    #[serde(default, deserialize_with = "lenient_strs")]
    pub file_ids: Vec<String>,
}

/// The fields of a file info the readers use.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct FileInfoFields {
    #[serde(default, deserialize_with = "lenient_str")]
    pub name: String,
    #[serde(default, deserialize_with = "lenient_str")]
    pub mime_type: String,
    #[serde(default, deserialize_with = "lenient_u64")]
    pub size: u64,
}

impl PostFields {
    /// The typed view of a post's JSON.
    pub fn of(json: &Value) -> PostFields {
        typed(json)
    }
}

impl FileInfoFields {
    /// The typed view of a file info's JSON (stored, or embedded in its post).
    pub fn of(json: &Value) -> FileInfoFields {
        typed(json)
    }
}

/// `users/<user_id>__<username>.json`.
#[derive(Debug, Clone)]
pub struct UserFile {
    pub id: String,
    /// The user's `username`, if it has one.
    pub username: Option<String>,
    /// The profile image beside it (`<user_id>__<username>__image.<ext>`), if stored.
    pub image: Option<String>,
    pub names: PersonNames,
    pub json: Value,
}

/// `emojis/<emoji_id>__<name>.json`.
#[derive(Debug, Clone)]
pub struct EmojiFile {
    pub id: String,
    pub name: String,
    /// The image beside it (`<emoji_id>__<name>.<ext>`), if stored.
    pub image: Option<String>,
    /// Deleted on the server (`delete_at` set) while its files stay in the backup.
    pub deleted: bool,
}

/// `teams/<team_id>__<name>.json`, with the team's folder.
#[derive(Debug, Clone)]
pub struct TeamFile {
    pub id: String,
    /// The team's folder (`teams/<team_id>__<name>`).
    pub dir: String,
    /// The team's icon (`teams/<team_id>__icon.<ext>`), if stored.
    pub icon: Option<String>,
    pub names: Names,
    pub json: Value,
}

/// `<folder>/<channel_id>__<name>.json`, with the channel's folder.
#[derive(Debug, Clone)]
pub struct ChannelFile {
    pub id: String,
    /// The channel's folder (`direct/<id>__<name>`, `teams/<team>/<id>__<name>`).
    pub dir: String,
    /// The channel's `type`.
    pub kind: ChannelKind,
    pub names: Names,
    pub json: Value,
}

/// `<channel folder>/<TS>__<post_id>.json`.
#[derive(Debug, Clone)]
pub struct PostFile {
    pub id: String,
    pub v: PostFields,
    pub json: Value,
}

/// The JSON files directly in `dir` with their stems (`<stem>.json`), and every name there.
fn json_files(files: &dyn Files, dir: &str) -> (Vec<(String, String)>, Vec<String>) {
    let names = files.list(dir);
    let found = names
        .iter()
        .filter_map(|n| {
            let stem = n.strip_suffix(".json")?;
            Some((format!("{dir}/{n}"), stem.to_string()))
        })
        .collect();
    (found, names)
}

fn str_field<'a>(json: &'a Value, k: &str) -> Option<&'a str> {
    json.get(k).and_then(Value::as_str)
}

/// The users in `users/` (files without an `id` are not users).
pub fn users(files: &dyn Files) -> Result<Vec<UserFile>> {
    let (found, names) = json_files(files, layout::USERS);
    let mut out = Vec::new();
    for (path, stem) in found {
        let json: Value = self::json(files, &path)?;
        let Some(id) = str_field(&json, "id").map(String::from) else {
            left_out(files, &path, "user");
            continue;
        };
        let prefix = layout::user_image_prefix(&stem);
        let image = (names.iter())
            .find(|m| m.starts_with(&prefix))
            .map(|m| format!("{}/{m}", layout::USERS));
        out.push(UserFile {
            username: str_field(&json, "username").map(String::from),
            names: typed(&json),
            id,
            image,
            json,
        });
    }
    Ok(out)
}

/// The custom emojis in `emojis/` (files without `id` and `name` are not emojis).
pub fn emojis(files: &dyn Files) -> Result<Vec<EmojiFile>> {
    let (found, names) = json_files(files, layout::EMOJIS);
    let mut out = Vec::new();
    for (path, stem) in found {
        let json: Value = self::json(files, &path)?;
        let (Some(id), Some(name)) = (str_field(&json, "id"), str_field(&json, "name")) else {
            left_out(files, &path, "custom emoji");
            continue;
        };
        let prefix = format!("{stem}.");
        let image = (names.iter())
            .find(|m| m.starts_with(&prefix) && !m.ends_with(".json"))
            .map(|m| format!("{}/{m}", layout::EMOJIS));
        out.push(EmojiFile {
            deleted: json.get("delete_at").and_then(Value::as_i64).unwrap_or(0) > 0,
            id: id.to_string(),
            name: name.to_string(),
            image,
        });
    }
    Ok(out)
}

/// The teams in `teams/`, in the order of their files, then a placeholder for each team folder
/// without a readable team file (see `orphans`).
pub fn teams(files: &dyn Files) -> Result<Vec<TeamFile>> {
    let (found, names) = json_files(files, layout::TEAMS);
    let mut out = Vec::new();
    let mut unreadable = BTreeMap::new();
    for (path, stem) in found {
        // Members files (an array) are not teams.
        let Some(json) = object_json(files, &path, &mut unreadable)
            .with_context(|| format!("listing the teams in {}", layout::TEAMS))?
        else {
            continue;
        };
        let Some(id) = object_id(&json, &stem) else {
            if !layout::is_members_file(&path) {
                left_out(files, &path, "team");
            }
            continue;
        };
        out.push(TeamFile {
            names: typed(&json),
            dir: format!("{}/{stem}", layout::TEAMS),
            icon: None,
            id,
            json,
        });
    }
    let known: BTreeSet<String> = out.iter().map(|t| t.id.clone()).collect();
    for (id, name, folder) in orphans(files, layout::TEAMS, "team", &known, unreadable) {
        // Invite only: nothing says the team was open.
        let json = serde_json::json!({"id": id, "name": name, "display_name": name, "type": "I"});
        out.push(TeamFile {
            names: typed(&json),
            dir: format!("{}/{folder}", layout::TEAMS),
            icon: None,
            id,
            json,
        });
    }
    for t in &mut out {
        let prefix = layout::team_icon_prefix(&t.id).ok();
        t.icon = (names.iter())
            .find(|m| prefix.as_ref().is_some_and(|p| m.starts_with(p)))
            .map(|m| format!("{}/{m}", layout::TEAMS));
    }
    Ok(out)
}

/// The channels in folder `dir` (`direct`, `groups` or a team's folder), in the order of their
/// files, then a placeholder for each channel folder without a readable channel file
/// (see `orphans`): of the kind its place says (a team's channel is private: nothing says it was
/// open).
pub fn channels(files: &dyn Files, dir: &str) -> Result<Vec<ChannelFile>> {
    let (found, _) = json_files(files, dir);
    let mut out = Vec::new();
    let mut unreadable = BTreeMap::new();
    for (path, stem) in found {
        // Members (an array) and threads (no `id`) files are not channels.
        let Some(json) = object_json(files, &path, &mut unreadable)
            .with_context(|| format!("listing the channels in {dir}"))?
        else {
            continue;
        };
        let Some(id) = object_id(&json, &stem) else {
            if !layout::is_members_file(&path) && !layout::is_threads_file(&path) {
                left_out(files, &path, "channel");
            }
            continue;
        };
        out.push(ChannelFile {
            dir: format!("{dir}/{stem}"),
            kind: ChannelKind::from_code(str_field(&json, "type").unwrap_or("")),
            names: typed(&json),
            id,
            json,
        });
    }
    let known: BTreeSet<String> = out.iter().map(|c| c.id.clone()).collect();
    let kind = match dir {
        layout::DIRECT => ChannelKind::Direct,
        layout::GROUPS => ChannelKind::Group,
        _ => ChannelKind::Private,
    };
    let team_id = (dir.strip_prefix(layout::TEAMS))
        .and_then(|t| t.strip_prefix('/'))
        .and_then(layout::split_base)
        .map(|(id, _)| id);
    for (id, name, folder) in orphans(files, dir, "channel", &known, unreadable) {
        let mut json = serde_json::json!({
            "id": id, "name": name, "display_name": name, "type": kind.code()
        });
        if let Some(t) = team_id {
            json["team_id"] = t.into();
        }
        out.push(ChannelFile {
            dir: format!("{dir}/{folder}"),
            kind: kind.clone(),
            names: typed(&json),
            id,
            json,
        });
    }
    Ok(out)
}

/// A team's or channel's object file as JSON; `None` when it cannot be read (no permission,
/// gone since it was listed): the reason is kept in `unreadable` by path for [`orphans`].
/// Damaged content is an error naming the file.
fn object_json(
    files: &dyn Files,
    path: &str,
    unreadable: &mut BTreeMap<String, String>,
) -> Result<Option<Value>> {
    let bytes = match files.read(path) {
        Ok(b) => b,
        Err(e) if cannot_open(&e) => {
            unreadable.insert(path.to_string(), format!("cannot be read ({e:#})"));
            return Ok(None);
        }
        Err(e) => return Err(e),
    };
    parse(files, path, &bytes).map(Some)
}

/// Whether reading failed because the file cannot be opened (no permission, or gone), not
/// because its content is damaged (a zip entry that fails its CRC-32 stays an error).
fn cannot_open(e: &anyhow::Error) -> bool {
    (e.chain().filter_map(|c| c.downcast_ref::<std::io::Error>())).any(|e| {
        matches!(
            e.kind(),
            std::io::ErrorKind::PermissionDenied | std::io::ErrorKind::NotFound
        )
    })
}

/// The folders `<id>__<name>` in `dir` (teams in `teams/`, channels in a team's folder,
/// `direct/` or `groups/`) whose object file `<id>__<name>.json` is missing, not a regular file
/// (a backup does not read links or FIFOs) or unreadable (`unreadable`, by path), as `(id,
/// name, folder)` for a placeholder: their posts are kept. Each is reported naming the file it lacks;
/// so is an unreadable file without a folder.
fn orphans(
    files: &dyn Files,
    dir: &str,
    what: &str,
    known: &BTreeSet<String>,
    mut unreadable: BTreeMap<String, String>,
) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for folder in files.folders(dir) {
        let Some((id, name)) = layout::split_base(&folder) else {
            continue;
        };
        if known.contains(id) || id.is_empty() {
            continue;
        }
        let file = format!("{dir}/{}", layout::object_file(&folder));
        let why = (unreadable.remove(&file))
            .unwrap_or_else(|| "missing, or not a regular file (a link, a FIFO, ...)".into());
        files.damaged(
            &file,
            &format!(
                "{why}; the posts in {} are exported under a placeholder {what} named from the                  folder",
                files.describe(&format!("{dir}/{folder}"))
            ),
        );
        out.push((id.to_string(), name.to_string(), folder.clone()));
    }
    for (file, why) in unreadable {
        files.damaged(
            &file,
            &format!("{why}; left out (no folder of posts beside it)"),
        );
    }
    out
}

/// The members list of the team or channel whose folder is `dir` (`<dir>__members.json`), if
/// stored.
pub fn members<T: DeserializeOwned>(files: &dyn Files, dir: &str) -> Result<Option<T>> {
    let path = layout::members_file(dir);
    if !files.exists(&path) {
        return Ok(None);
    }
    json(files, &path).map(Some)
}

/// What orders and groups a post, without its content: a channel's index (a few dozen bytes
/// a post, where the post itself takes kilobytes once parsed).
#[derive(Debug, Clone)]
pub struct PostKey {
    pub id: String,
    /// The post file's name in its channel's folder.
    pub file: String,
    pub create_at: i64,
    pub root_id: String,
    /// The author (what `export --from` selects by).
    pub user_id: String,
}

/// The fields of [`PostKey`] read straight from a post file's bytes.
#[derive(Default, Deserialize)]
struct KeyFields {
    #[serde(default, deserialize_with = "lenient_opt_str")]
    id: Option<String>,
    #[serde(default, deserialize_with = "lenient_i64")]
    create_at: i64,
    #[serde(default, deserialize_with = "lenient_str")]
    root_id: String,
    #[serde(default, deserialize_with = "lenient_str")]
    user_id: String,
}

fn lenient_opt_str<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Ok(Value::deserialize(d)?.as_str().map(String::from))
}

/// The posts in a channel's folder as [`PostKey`]s, in the order of their files (a file whose
/// `id` is not the one in its name is not that post, a damaged file is an error naming it), one
/// file parsed at a time and none kept; [`post`] reads each.
pub fn post_keys(files: &dyn Files, channel_dir: &str) -> Result<Vec<PostKey>> {
    let mut out = Vec::new();
    each_post_file::<KeyFields>(files, channel_dir, |key, _| {
        out.push(key);
        Ok(())
    })?;
    Ok(out)
}

/// Every post in a channel's folder with its typed fields, in the order of their files, as
/// [`post_keys`] finds them, each file read and parsed once and dropped before the next: a
/// scan through every post (search) in memory that does not grow with the channel.
pub fn scan_posts(
    files: &dyn Files,
    channel_dir: &str,
    each: impl FnMut(PostKey, PostFields) -> Result<()>,
) -> Result<()> {
    each_post_file::<PostFields>(files, channel_dir, each)
}

/// What [`each_post_file`] reads of a post file: its id, `create_at` and `root_id` at least.
trait PostView: DeserializeOwned + Default {
    /// The id, `create_at`, `root_id` and `user_id`.
    fn key(&self) -> (Option<&str>, i64, &str, &str);
    /// The view of the file's JSON value.
    fn of(json: &Value) -> Self;
}

impl PostView for KeyFields {
    fn key(&self) -> (Option<&str>, i64, &str, &str) {
        (
            self.id.as_deref(),
            self.create_at,
            &self.root_id,
            &self.user_id,
        )
    }
    fn of(json: &Value) -> Self {
        let v: PostFields = typed(json);
        KeyFields {
            id: str_field(json, "id").map(String::from),
            create_at: v.create_at,
            root_id: v.root_id,
            user_id: v.user_id,
        }
    }
}

impl PostView for PostFields {
    fn key(&self) -> (Option<&str>, i64, &str, &str) {
        (
            self.id.as_deref(),
            self.create_at,
            &self.root_id,
            &self.user_id,
        )
    }
    fn of(json: &Value) -> Self {
        typed(json)
    }
}

/// The post files of a channel's folder, each read as a `T` and handed to `each` with its key.
fn each_post_file<T: PostView>(
    files: &dyn Files,
    channel_dir: &str,
    mut each: impl FnMut(PostKey, T) -> Result<()>,
) -> Result<()> {
    for name in files.list(channel_dir) {
        let Some(id) = layout::post_file_id(&name) else {
            continue;
        };
        let path = format!("{channel_dir}/{name}");
        let Some(bytes) = post_bytes(files, &path)? else {
            continue;
        };
        let object = bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
        // An object with each key once reads directly; anything else as a JSON value, which is
        // how `posts` read it (a repeated key: the last one counts).
        let v = match serde_json::from_slice::<T>(&bytes) {
            Ok(v) if object => v,
            _ => {
                let json: Value = serde_json::from_slice(&bytes)
                    .with_context(|| format!("{}: not valid JSON", files.describe(&path)))?;
                T::of(&json)
            }
        };
        let (got, create_at, root_id, user_id) = v.key();
        if got != Some(id) {
            left_out(files, &path, &format!("post {id}"));
            continue;
        }
        let key = PostKey {
            id: id.to_string(),
            file: name.clone(),
            create_at,
            root_id: root_id.to_string(),
            user_id: user_id.to_string(),
        };
        each(key, v)?;
    }
    Ok(())
}

/// The post a [`PostKey`] of `channel_dir` names. An error naming the file when it no longer
/// holds that post (changed since it was listed).
pub fn post(files: &dyn Files, channel_dir: &str, key: &PostKey) -> Result<PostFile> {
    let path = format!("{channel_dir}/{}", key.file);
    let bytes = post_bytes(files, &path)?.with_context(|| {
        format!(
            "{}: larger than {MAX_POST} bytes (the backup changed during the export; run it again)",
            files.describe(&path)
        )
    })?;
    let json: Value = serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not valid JSON", files.describe(&path)))?;
    if str_field(&json, "id") != Some(key.id.as_str()) {
        anyhow::bail!(
            "{}: no longer holds post {} (the backup changed during the export; run it again)",
            files.describe(&path),
            key.id
        );
    }
    Ok(PostFile {
        id: key.id.clone(),
        v: typed(&json),
        json,
    })
}

/// The attachments stored in a channel's `files/` folder: file id to path.
pub fn attachments(files: &dyn Files, channel_dir: &str) -> BTreeMap<String, String> {
    let files_dir = format!("{channel_dir}/{}", layout::FILES);
    (files.list(&files_dir).iter())
        .filter_map(|n| match FilesEntry::parse(n) {
            FilesEntry::Attachment(id, _) => Some((id.to_string(), format!("{files_dir}/{n}"))),
            _ => None,
        })
        .collect()
}

/// The file info of attachment `file_id` in a channel's `files/` folder, if stored.
pub fn file_info(files: &dyn Files, channel_dir: &str, file_id: &str) -> Result<Option<Value>> {
    // An id that cannot be a file name has no file info in a backup.
    let Ok(name) = layout::file_info_name(file_id) else {
        return Ok(None);
    };
    let path = format!("{channel_dir}/{}/{name}", layout::FILES);
    if !files.exists(&path) {
        return Ok(None);
    }
    json(files, &path).map(Some)
}

/// The history of post `post_id` in a channel's folder (`history/<post_id>.json`), if stored.
pub fn history(files: &dyn Files, channel_dir: &str, post_id: &str) -> Result<Option<Value>> {
    let Ok(name) = layout::history_file(post_id) else {
        return Ok(None);
    };
    let path = format!("{channel_dir}/{name}");
    if !files.exists(&path) {
        return Ok(None);
    }
    let Some(bytes) = post_bytes(files, &path)? else {
        return Ok(None);
    };
    serde_json::from_slice(&bytes)
        .with_context(|| format!("{}: not valid JSON", files.describe(&path)))
        .map(Some)
}

/// Reports a file that parses but is not the object its name says; it is left out.
fn left_out(files: &dyn Files, path: &str, what: &str) {
    tracing::warn!(
        "{}: not a {what} (its id is missing or not the one in its name); left out",
        files.describe(path)
    );
}

/// The `id` of a team or channel object whose file is named `<id>__...` (it has a `type`).
fn object_id(json: &Value, stem: &str) -> Option<String> {
    let id = str_field(json, "id")?;
    (json.get("type").is_some() && layout::is_base_of(stem, id)).then(|| id.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Files in memory.
    struct Mem(BTreeMap<String, Vec<u8>>, std::cell::RefCell<Vec<String>>);

    impl Files for Mem {
        fn list(&self, dir: &str) -> Vec<String> {
            let p = format!("{dir}/");
            (self.0.keys())
                .filter_map(|k| k.strip_prefix(&p))
                .filter(|k| !k.contains('/'))
                .map(String::from)
                .collect()
        }
        fn folders(&self, dir: &str) -> Vec<String> {
            let p = format!("{dir}/");
            let set: BTreeSet<String> = (self.0.keys())
                .filter_map(|k| k.strip_prefix(&p)?.split_once('/'))
                .map(|(f, _)| f.to_string())
                .collect();
            set.into_iter().collect()
        }
        fn exists(&self, name: &str) -> bool {
            self.0.contains_key(name)
        }
        fn read(&self, name: &str) -> Result<Vec<u8>> {
            self.0.get(name).cloned().context("missing")
        }
        fn read_at_most(&self, name: &str, max: u64) -> Result<Option<Vec<u8>>> {
            let b = self.read(name)?;
            Ok((b.len() as u64 <= max).then_some(b))
        }
        fn describe(&self, name: &str) -> String {
            format!("mem:{name}")
        }
        fn damaged(&self, name: &str, what: &str) {
            self.1.borrow_mut().push(format!("{name}: {what}"));
        }
    }

    fn mem(files: &[(&str, &str)]) -> Mem {
        Mem(
            (files.iter())
                .map(|(k, v)| (k.to_string(), v.as_bytes().to_vec()))
                .collect(),
            Default::default(),
        )
    }

    #[test]
    fn objects_are_told_from_the_files_beside_them() {
        let m = mem(&[
            (
                "teams/tttttttttttttttttttttttttt__acme.json",
                r#"{"id":"tttttttttttttttttttttttttt","type":"O","name":"acme"}"#,
            ),
            ("teams/tttttttttttttttttttttttttt__acme__members.json", r#"[{"user_id":"u1"}]"#),
            ("teams/tttttttttttttttttttttttttt__icon.png", "png"),
            ("teams/tttttttttttttttttttttttttt__acme/c1__town.json", r#"{"id":"c1","type":"P"}"#),
            ("teams/tttttttttttttttttttttttttt__acme/c1__town__threads.json", "{}"),
            ("teams/tttttttttttttttttttttttttt__acme/c1__town__members.json", "[]"),
            (
                "teams/tttttttttttttttttttttttttt__acme/c1__town/20240101-000000000000__p1.json",
                r#"{"id":"p1"}"#,
            ),
            (
                "teams/tttttttttttttttttttttttttt__acme/c1__town/20240101-000000000000__p2.json",
                r#"{"id":"px"}"#,
            ),
            ("teams/tttttttttttttttttttttttttt__acme/c1__town/files/ffffffffffffffffffffffffff.json", r#"{"id":"ffffffffffffffffffffffffff"}"#),
            ("teams/tttttttttttttttttttttttttt__acme/c1__town/files/ffffffffffffffffffffffffff__a.json", "not json"),
            ("users/u1__bob.json", r#"{"id":"u1","username":"bob"}"#),
            ("users/u1__bob__image.png", "png"),
        ]);
        let t = teams(&m).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!(
            (t[0].id.as_str(), t[0].dir.as_str()),
            (
                "tttttttttttttttttttttttttt",
                "teams/tttttttttttttttttttttttttt__acme"
            )
        );
        assert_eq!(
            t[0].icon.as_deref(),
            Some("teams/tttttttttttttttttttttttttt__icon.png")
        );
        let c = channels(&m, &t[0].dir).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].kind, ChannelKind::Private);
        let p = post_keys(&m, &c[0].dir).unwrap();
        assert_eq!(p.iter().map(|p| p.id.as_str()).collect::<Vec<_>>(), ["p1"]);
        assert_eq!(post(&m, &c[0].dir, &p[0]).unwrap().json["id"], "p1");
        let a = attachments(&m, &c[0].dir);
        assert_eq!(a["ffffffffffffffffffffffffff"], "teams/tttttttttttttttttttttttttt__acme/c1__town/files/ffffffffffffffffffffffffff__a.json");
        assert!(file_info(&m, &c[0].dir, "ffffffffffffffffffffffffff")
            .unwrap()
            .is_some());
        assert!(history(&m, &c[0].dir, "p1").unwrap().is_none());
        let u = users(&m).unwrap();
        assert_eq!(u[0].image.as_deref(), Some("users/u1__bob__image.png"));
        let members: Vec<Value> = members(&m, &t[0].dir).unwrap().unwrap();
        assert_eq!(members.len(), 1);
    }

    #[test]
    fn typed_fields_read_odd_values_as_empty_as_the_exports_always_did() {
        let v: PostFields = typed(&serde_json::json!({
            "create_at": "x", "message": null, "file_ids": [1, "f"], "user_id": 7
        }));
        assert_eq!((v.create_at, v.message.as_str()), (0, ""));
        assert_eq!(
            (v.file_ids, v.user_id.as_str()),
            (vec!["f".to_string()], "")
        );
        let v = PostFields::of(&serde_json::json!({"is_pinned": "true", "type": null}));
        assert!(!v.is_pinned && v.kind.is_empty());
        let v = PostFields::of(&serde_json::json!({"is_pinned": true, "type": "system_x"}));
        assert!(v.is_pinned && v.kind == "system_x");
        let f = FileInfoFields::of(&Value::Null);
        assert_eq!((f.name.as_str(), f.size), ("", 0));
        let f = FileInfoFields::of(&serde_json::json!({"name": "a.txt", "size": -1}));
        assert_eq!((f.name.as_str(), f.size), ("a.txt", 0));
    }

    #[test]
    fn post_keys_read_a_post_file_as_its_json_value_does() {
        let d = "direct/c1__x";
        let m = mem(&[
            // A repeated key: the last one counts, as in a parsed value.
            (
                "direct/c1__x/1__p1.json",
                r#"{"id":"p1","create_at":5,"create_at":7,"root_id":null}"#,
            ),
            // Not an object: not a post.
            ("direct/c1__x/2__p2.json", r#"["p2", 1, ""]"#),
            (
                "direct/c1__x/3__p3.json",
                r#" {"create_at":"x","root_id":"p1","id":"p3","message":"m"}"#,
            ),
        ]);
        let k = post_keys(&m, d).unwrap();
        let got: Vec<_> = (k.iter())
            .map(|k| (k.id.as_str(), k.create_at, k.root_id.as_str()))
            .collect();
        assert_eq!(got, [("p1", 7, ""), ("p3", 0, "p1")]);
        let p = post(&m, d, &k[1]).unwrap();
        assert_eq!((p.v.message.as_str(), p.v.create_at), ("m", 0));
        let m = mem(&[("direct/c1__x/1__p1.json", r#"{"id":"p1","#)]);
        let e = format!("{:#}", post_keys(&m, d).unwrap_err());
        assert!(e.contains("mem:direct/c1__x/1__p1.json"), "{e}");
    }

    /// Issue 18: a team or channel folder without its object file keeps its posts under a
    /// placeholder, and the missing file is reported.
    #[test]
    fn a_folder_without_its_object_file_is_read_under_a_placeholder() {
        let m = mem(&[
            ("teams/t1__acme/c1__town/1__p1.json", r#"{"id":"p1"}"#),
            ("teams/t1__acme/c1__town__members.json", "[]"),
            ("direct/d1__bob/1__p2.json", r#"{"id":"p2"}"#),
            ("direct/d2__carol.json", r#"{"id":"d2","type":"D"}"#),
            ("direct/d2__carol/1__p3.json", r#"{"id":"p3"}"#),
            ("groups/g1__bob__carol/files/f1.json", "{}"),
        ]);
        let t = teams(&m).unwrap();
        assert_eq!(t.len(), 1);
        assert_eq!((t[0].id.as_str(), t[0].names.name.as_str()), ("t1", "acme"));
        assert_eq!(
            (t[0].dir.as_str(), t[0].json["type"].as_str()),
            ("teams/t1__acme", Some("I"))
        );
        let c = channels(&m, &t[0].dir).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(
            (c[0].id.as_str(), c[0].dir.as_str()),
            ("c1", "teams/t1__acme/c1__town")
        );
        assert_eq!(
            (c[0].kind.clone(), c[0].json["team_id"].as_str()),
            (ChannelKind::Private, Some("t1"))
        );
        assert_eq!(post_keys(&m, &c[0].dir).unwrap()[0].id, "p1");
        let d = channels(&m, "direct").unwrap();
        let got: Vec<_> = d.iter().map(|c| (c.id.as_str(), c.kind.code())).collect();
        assert_eq!(got, [("d2", "D"), ("d1", "D")]);
        assert_eq!(channels(&m, "groups").unwrap()[0].kind, ChannelKind::Group);
        let reported = m.1.borrow();
        for f in [
            "teams/t1__acme.json",
            "teams/t1__acme/c1__town.json",
            "direct/d1__bob.json",
            "groups/g1__bob__carol.json",
        ] {
            assert!(
                reported
                    .iter()
                    .any(|r| r.starts_with(&format!("{f}: missing"))),
                "{f}: {reported:?}"
            );
        }
        assert_eq!(reported.len(), 4, "{reported:?}");
    }

    /// Issue 18: a post file larger than [`MAX_POST`] is left out, one nested too deep is read
    /// without its deeper parts; both are reported.
    #[test]
    fn large_and_deep_post_files_are_reported() {
        let deep = format!(
            r#"{{"id":"p2","message":"m","props":{}{}}}"#,
            "[".repeat(200),
            "]".repeat(200)
        );
        let big = format!(
            r#"{{"id":"p1","message":"{}"}}"#,
            "x".repeat(MAX_POST as usize)
        );
        let m = mem(&[
            ("direct/d1__bob.json", r#"{"id":"d1","type":"D"}"#),
            ("direct/d1__bob/1__p1.json", &big),
            ("direct/d1__bob/2__p2.json", &deep),
        ]);
        let k = post_keys(&m, "direct/d1__bob").unwrap();
        assert_eq!(k.iter().map(|k| k.id.as_str()).collect::<Vec<_>>(), ["p2"]);
        let p = post(&m, "direct/d1__bob", &k[0]).unwrap();
        assert_eq!(p.v.message, "m");
        let reported = m.1.borrow();
        assert!(
            reported[0].starts_with("direct/d1__bob/1__p1.json: larger than"),
            "{reported:?}"
        );
        assert!(
            reported[1].starts_with("direct/d1__bob/2__p2.json: nested more than"),
            "{reported:?}"
        );
    }

    #[test]
    fn a_damaged_file_is_an_error_naming_it() {
        let m = mem(&[("teams/t1__acme.json", r#"{"id":"t1","#)]);
        let e = format!("{:#}", teams(&m).unwrap_err());
        assert!(e.contains("mem:teams/t1__acme.json"), "{e}");
        let m = mem(&[("users/u1__bob.json", "{")]);
        assert!(users(&m).is_err());
        let m = mem(&[("direct/c1__x.json", "[")]);
        assert!(channels(&m, "direct").is_err());
    }
}
