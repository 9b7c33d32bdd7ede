//! The expected data dir, computed from the fake server's world, and a diff against a real one.
//!
//! Written from the layout spec (docs/format.md), not from the client's code; only the timestamp
//! format and the sanitising rule, unit-tested on their own, are borrowed from the library.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use fakemm::World;
use matterbak::store::layout::{post_file, sanitize};
use serde_json::Value;

use crate::util::{alice, Env};

/// What a backup should contain.
#[derive(Clone, Copy, Default)]
pub struct Opts {
    pub skip_users: bool,
    pub skip_user_images: bool,
    pub skip_emojis: bool,
}

pub enum Want {
    Json(Value),
    /// The threads file: root -> set of replies.
    Threads(BTreeMap<String, BTreeSet<String>>),
    Bytes(Vec<u8>),
    /// `history/<post_id>.json` of a post the server knows: optional (the backup keeps only
    /// the versions it saw), but what it holds must be true.
    History(HistoryWant),
}

/// What the server knows of a post's past, from fakemm's own record of every edit (its
/// history rows, oldest first) and deletion.
pub struct HistoryWant {
    /// The post's earlier contents, oldest first, consecutive repeats (a pin) left out.
    pub past: Vec<Content>,
    /// Its content now (for a deleted post: when it was deleted).
    pub current: Content,
    /// Deleted on the server.
    pub deleted: bool,
}

/// What the author wrote, by the rule of docs/format.md (written here from the spec, not from
/// the client's code): the message, when it was edited and the set of attachments; absent,
/// `null` and empty are the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Content {
    pub message: String,
    pub edit_at: i64,
    pub file_ids: BTreeSet<String>,
}

impl Content {
    pub fn of(post: &Value) -> Content {
        Content {
            message: post["message"].as_str().unwrap_or("").to_string(),
            edit_at: post["edit_at"].as_i64().unwrap_or(0),
            file_ids: (post["file_ids"].as_array().into_iter().flatten())
                .filter_map(|f| f.as_str().map(String::from))
                .collect(),
        }
    }
}

impl Content {
    /// The content of one of fakemm's rows (a post or an edit-history row, whose message its
    /// rendering hides as deleted).
    fn of_row(p: &fakemm::world::Post) -> Content {
        Content {
            message: p.message.clone(),
            edit_at: p.edit_at,
            file_ids: p.file_ids.iter().map(|f| f.to_string()).collect(),
        }
    }
}

/// A JSON value as an author or admin wrote it, whatever the server version's shape: object
/// keys whose value is absent, `null` or empty (`[]`, `{}`) left out, at every level (servers
/// up to 9.x leave out an empty `file_ids`, later ones send `[]`; a backup keeps the shape it
/// was sent until the post changes).
pub fn shape_free(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), shape_free(v)))
                .filter(|(_, v)| !is_empty(v))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(shape_free).collect()),
        v => v.clone(),
    }
}

fn is_empty(v: &Value) -> bool {
    match v {
        Value::Null => true,
        Value::Array(a) => a.is_empty(),
        Value::Object(m) => m.is_empty(),
        _ => false,
    }
}

/// The history expectation of post `pid` (any post the server has, deleted or not).
fn history_want(w: &World, pid: &str) -> HistoryWant {
    let post = w.post(pid).expect("a post of the world");
    let mut past: Vec<Content> = Vec::new();
    for row in w.history.get(&post.id).into_iter().flatten() {
        let c = Content::of_row(&w.posts[row]);
        if past.last() != Some(&c) {
            past.push(c);
        }
    }
    HistoryWant {
        past,
        current: Content::of_row(post),
        deleted: post.delete_at > 0,
    }
}

/// The problems of a stored history file against what the server knows (`None`: it knows
/// nothing of the post, a test's own `kept` post): a deletion the server never made, a version
/// the post never had, versions out of order, and phantom versions (equal to the next one or to
/// the post itself). `has_post`: the post's file is in the backup (then a deletion on the
/// server must be recorded).
fn history_problems(
    path: &str,
    bytes: Option<&[u8]>,
    want: &HistoryWant,
    has_post: bool,
) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(bytes) = bytes else {
        if want.deleted && has_post {
            problems.push(format!("deletion not recorded: {path}"));
        }
        return problems;
    };
    let Ok(h) = serde_json::from_slice::<Value>(bytes) else {
        return vec![format!("not JSON: {path}")];
    };
    let recorded = !h["deleted"].is_null() || !h["deleted_seen_at"].is_null();
    if recorded && !want.deleted {
        problems.push(format!(
            "false deletion: {path} (the server never deleted it)"
        ));
    }
    if !recorded && want.deleted && has_post {
        problems.push(format!("deletion not recorded: {path}"));
    }
    let versions: Vec<Content> = (h["versions"].as_array().into_iter().flatten())
        .map(Content::of)
        .collect();
    let mut at = 0;
    for (i, v) in versions.iter().enumerate() {
        let next = versions.get(i + 1).unwrap_or(&want.current);
        if v == next {
            problems.push(format!(
                "phantom edit: {path} version {i} equals the one after it"
            ));
            continue;
        }
        match want.past[at.min(want.past.len())..]
            .iter()
            .position(|p| p == v)
        {
            Some(k) => at += k + 1,
            None if want.past.contains(v) => {
                problems.push(format!("versions out of order: {path} version {i}"))
            }
            None => problems.push(format!(
                "a version the post never had: {path} version {i} {v:?}"
            )),
        }
    }
    problems
}

/// The expected files of a backup of everything alice sees, with the default options.
pub fn want_all(env: &Env) -> BTreeMap<String, Want> {
    want_all_with(env, Opts::default())
}

/// The expected files of a backup of everything alice sees, with options `o`.
pub fn want_all_with(env: &Env, o: Opts) -> BTreeMap<String, Want> {
    let me = alice(env);
    env.server.with_world(|w| {
        let (c, t) = everything(w, &me);
        expected(w, &me, &c, &t, o)
    })
}

/// The expected files for the given channels (ids) and teams (ids), as seen by `viewer`.
pub fn expected(
    w: &World,
    viewer: &str,
    channels: &[String],
    teams: &[String],
    o: Opts,
) -> BTreeMap<String, Want> {
    let mut out = BTreeMap::new();
    let mut users: BTreeSet<String> = BTreeSet::new();
    users.insert(viewer.to_string());
    let uname = |id: &str| {
        w.user(id)
            .map(|u| u.username.clone())
            .unwrap_or_else(|| id.to_string())
    };

    for tid in teams {
        let t = w.team(tid).unwrap();
        let base = format!("teams/{tid}__{}", sanitize(&t.name));
        out.insert(format!("{base}.json"), Want::Json(w.render_team(tid)));
        let members = w.render_team_members(tid);
        for m in &members {
            users.insert(m["user_id"].as_str().unwrap().to_string());
        }
        out.insert(
            format!("{base}__members.json"),
            Want::Json(Value::Array(members)),
        );
        if let Some(icon) = w.team_icon(tid) {
            out.insert(format!("teams/{tid}__icon.png"), Want::Bytes(icon));
        }
    }

    for cid in channels {
        let c = w.channel(cid).unwrap();
        let members = w.render_channel_members(cid);
        let others: BTreeSet<String> = members
            .iter()
            .map(|m| m["user_id"].as_str().unwrap().to_string())
            .filter(|u| u != viewer)
            .map(|u| uname(&u))
            .collect();
        let (dir, name) = match c.channel_type {
            'D' => (
                "direct".to_string(),
                others
                    .iter()
                    .next()
                    .cloned()
                    .unwrap_or_else(|| uname(viewer)),
            ),
            'G' => (
                "groups".to_string(),
                others.iter().cloned().collect::<Vec<_>>().join("__"),
            ),
            _ => {
                let t = w.team(&c.team_id.to_string()).unwrap();
                (
                    format!("teams/{}__{}", t.id, sanitize(&t.name)),
                    c.name.clone(),
                )
            }
        };
        let base = format!("{dir}/{cid}__{}", sanitize(&name));
        for m in &members {
            users.insert(m["user_id"].as_str().unwrap().to_string());
        }
        out.insert(format!("{base}.json"), Want::Json(w.render_channel(cid)));
        out.insert(
            format!("{base}__members.json"),
            Want::Json(Value::Array(members)),
        );
        let mut threads: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
        // Every post of the channel the server has (live or deleted): what its history file
        // may say.
        let cid_id = fakemm::id::Id::lookup(cid);
        for p in w.posts.values() {
            if p.channel_id == cid_id && p.original_id.is_none() {
                let pid = p.id.to_string();
                out.insert(
                    format!("{base}/history/{pid}.json"),
                    Want::History(history_want(w, &pid)),
                );
            }
        }
        for pid in w.live_posts(cid) {
            let post = w.render_post(&pid);
            let root = post["root_id"].as_str().unwrap_or("");
            if !root.is_empty() {
                threads
                    .entry(root.to_string())
                    .or_default()
                    .insert(pid.clone());
            }
            users.insert(post["user_id"].as_str().unwrap().to_string());
            for r in post["metadata"]["reactions"]
                .as_array()
                .into_iter()
                .flatten()
            {
                users.insert(r["user_id"].as_str().unwrap().to_string());
            }
            for f in post["metadata"]["files"].as_array().into_iter().flatten() {
                let fid = f["id"].as_str().unwrap();
                out.insert(
                    format!("{base}/files/{fid}.json"),
                    Want::Json(w.render_file_info(fid)),
                );
                out.insert(
                    format!(
                        "{base}/files/{fid}__{}",
                        sanitize(f["name"].as_str().unwrap())
                    ),
                    Want::Bytes(w.file_content(fid)),
                );
            }
            let create_at = post["create_at"].as_i64().unwrap();
            out.insert(
                format!("{base}/{}", post_file(create_at, &pid).unwrap()),
                Want::Json(post),
            );
        }
        out.insert(format!("{base}__threads.json"), Want::Threads(threads));
    }

    if !o.skip_users {
        for id in &users {
            let Some(u) = w.user(id) else { continue };
            let base = format!("users/{id}__{}", sanitize(&u.username));
            out.insert(
                format!("{base}.json"),
                Want::Json(w.render_user(id, viewer)),
            );
            if !o.skip_user_images {
                out.insert(
                    format!("{base}__image.png"),
                    Want::Bytes(w.user_image(id).1),
                );
            }
        }
    }
    if !o.skip_emojis && w.config.custom_emoji_enabled {
        for (id, e) in &w.emojis {
            if e.delete_at > 0 {
                continue;
            }
            let id = id.to_string();
            let base = format!("emojis/{id}__{}", sanitize(&e.name));
            out.insert(format!("{base}.json"), Want::Json(w.render_emoji(&id)));
            let (ct, bytes) = w.emoji_image(&id);
            out.insert(
                format!("{base}.{}", ct.trim_start_matches("image/")),
                Want::Bytes(bytes),
            );
        }
    }
    out
}

/// Compares a data dir with the expectation; returns every difference (empty = equal).
pub fn diff(data: &Path, want: &BTreeMap<String, Want>) -> Vec<String> {
    diff_keeping(data, want, &BTreeSet::new())
}

/// As [`diff`], for a backup that outlived changes on the server: `kept` holds the ids of posts
/// deleted on the server and of their files. Their files may stay in the backup, a threads file
/// may still name them, and `history/` files may exist.
pub fn diff_keeping(
    data: &Path,
    want: &BTreeMap<String, Want>,
    kept: &BTreeSet<String>,
) -> Vec<String> {
    diff_with(data, want, kept, |a, b| shape_free(a) == shape_free(b))
}

/// The counters the server derives from other posts and changes without a new `update_at`
/// (a reply deleted: its root's `reply_count`); a backup has them as of the post's last change.
const DERIVED: [&str; 3] = ["reply_count", "last_reply_at", "participants"];

/// As [`diff_keeping`], with JSON files compared without the [`DERIVED`] counters of their
/// top level: for a sequence of runs where replies come and go.
pub fn diff_authored(
    data: &Path,
    want: &BTreeMap<String, Want>,
    kept: &BTreeSet<String>,
) -> Vec<String> {
    let strip = |v: &Value| {
        let mut v = shape_free(v);
        if let Value::Object(m) = &mut v {
            for k in DERIVED {
                m.remove(k);
            }
        }
        v
    };
    diff_with(data, want, kept, |a, b| strip(a) == strip(b))
}

/// The diff, comparing a JSON file with its expected value by `same`.
fn diff_with(
    data: &Path,
    want: &BTreeMap<String, Want>,
    kept: &BTreeSet<String>,
    same: impl Fn(&Value, &Value) -> bool,
) -> Vec<String> {
    let mut got = crate::util::tree(data);
    got.remove(".matterbak-state.json");
    got.remove(".matterbak.lock");
    let mut problems = Vec::new();
    // The posts whose file is in the backup, by channel folder and id.
    let stored_posts: BTreeSet<(String, String)> = (got.keys())
        .filter(|k| !k.contains("/history/") && !k.contains("/files/"))
        .filter_map(|k| {
            let (dir, name) = k.rsplit_once('/')?;
            let id = matterbak::store::layout::post_file_id(name)?;
            Some((dir.to_string(), id.to_string()))
        })
        .collect();
    for (path, w) in want {
        if let Want::History(h) = w {
            let (dir, name) = path.rsplit_once("/history/").unwrap();
            let pid = name.trim_end_matches(".json");
            let has_post = stored_posts.contains(&(dir.to_string(), pid.to_string()));
            let bytes = got.remove(path);
            if kept.contains(pid) && !h.deleted {
                // A test's own `kept` post the server still has: the test knows better.
                continue;
            }
            problems.extend(history_problems(path, bytes.as_deref(), h, has_post));
            continue;
        }
        let Some(bytes) = got.remove(path) else {
            problems.push(format!("missing: {path}"));
            continue;
        };
        let same = match w {
            Want::Bytes(b) => *b == bytes,
            Want::Json(v) => serde_json::from_slice::<Value>(&bytes).is_ok_and(|g| same(&g, v)),
            Want::History(_) => unreachable!("checked above"),
            Want::Threads(t) => serde_json::from_slice::<BTreeMap<String, BTreeSet<String>>>(
                &bytes,
            )
            .is_ok_and(|g| {
                let g: BTreeMap<String, BTreeSet<String>> = g
                    .into_iter()
                    .filter(|(root, _)| !kept.contains(root))
                    .map(|(root, r)| {
                        (
                            root,
                            r.into_iter()
                                .filter(|id| !kept.contains(id))
                                .collect::<BTreeSet<_>>(),
                        )
                    })
                    .filter(|(_, r)| !r.is_empty())
                    .collect();
                g == *t
            }),
        };
        if !same {
            let shown = match w {
                Want::Json(v) => {
                    format!("\n   want {v}\n   got  {}", String::from_utf8_lossy(&bytes))
                }
                Want::Threads(t) => format!(
                    "\n   want {t:?}\n   got  {}",
                    String::from_utf8_lossy(&bytes)
                ),
                Want::Bytes(b) => format!(" ({} bytes wanted, {} got)", b.len(), bytes.len()),
                Want::History(_) => unreachable!("checked above"),
            };
            problems.push(format!("different: {path}{shown}"));
        }
    }
    for path in got.keys() {
        // A history file of a post the server never had (a test's `kept` post) passes; of any
        // other post it was checked above.
        let allowed = kept.iter().any(|id| path.contains(id.as_str()));
        if !allowed {
            problems.push(format!("unexpected: {path}"));
        }
    }
    problems
}

/// Panics with a readable list if the data dir differs from the expectation.
pub fn assert_matches(data: &Path, want: &BTreeMap<String, Want>) {
    assert_matches_keeping(data, want, &BTreeSet::new());
}

/// As [`assert_matches`], with [`diff_keeping`].
pub fn assert_matches_keeping(data: &Path, want: &BTreeMap<String, Want>, kept: &BTreeSet<String>) {
    let problems = diff_keeping(data, want, kept);
    if !problems.is_empty() {
        let n = problems.len();
        let shown: Vec<_> = problems.into_iter().take(30).collect();
        panic!(
            "data dir differs from the server in {n} places:\n{}",
            shown.join("\n")
        );
    }
}

/// Everything the sample channels.json selects: every channel alice is a member of (team
/// channels of all her teams, her DMs and groups) and all her teams.
pub fn everything(w: &World, viewer: &str) -> (Vec<String>, Vec<String>) {
    let vid = w.user(viewer).unwrap().id;
    let channels: Vec<String> = w.member_channels(viewer);
    let teams: Vec<String> = w
        .teams
        .values()
        .filter(|t| t.delete_at == 0 && t.members.get(&vid).is_some_and(|m| m.delete_at == 0))
        .map(|t| t.id.to_string())
        .collect();
    (channels, teams)
}
