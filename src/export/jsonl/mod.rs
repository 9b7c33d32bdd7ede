//! `matterbak export jsonl`: Mattermost bulk-import JSONL from one or more backups, for
//! `mmctl import upload` / `mmctl import process`.
//!
//! The format and its rules are the server's (`server/channels/app/imports/import_types.go`,
//! `import_validators.go`, `server/channels/app/import.go`, `import_functions.go` of
//! mattermost/mattermost). The first line is the version; the importer then takes the lines in
//! segments of one type, each finished before the next begins, so everything a line refers to
//! comes earlier: teams, channels (refer to teams), users (with their team and channel
//! memberships), posts (refer to team, channel, users), direct channels, direct posts (refer to
//! users), emojis (as Mattermost's own export orders them).
//!
//! - `names`: what the importer accepts as names, emails, roles; repairs.
//! - `index`: the backups merged into teams, channels, users, direct channels, emojis.
//! - `posts`: a channel's posts merged into an index, filtered, grouped into threads, each read
//!   again as it is written, as JSON.
//! - `files`: the `data/` folder of `-a`.
//! - `limits`: the importer's size limits, those a setting of the target server decides and
//!   the fixed ones.

mod files;
mod index;
mod limits;
mod names;
mod posts;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use anyhow::{Context, Result};
use serde_json::{Map, Value};

use self::files::{EmojiCopy, Files, DATA_DIR};
use self::index::{Index, Src, UserOut};
use self::posts::{Convert, Skip};
use super::filter::{Filter, Selection};
use super::model::Backup;
use super::out::Output;
use crate::cancel::Cancel;
use crate::error::Fatal;

/// The importer reads lines of at most this many bytes (`maxScanTokenSize` in `import.go`).
const MAX_LINE: usize = 16 * 1024 * 1024;

/// What was written and left out, for the summary on stderr.
#[derive(Debug, Default)]
pub struct Stats {
    pub teams: usize,
    pub channels: usize,
    pub users: usize,
    pub placeholders: usize,
    pub no_email: usize,
    pub posts: usize,
    pub replies: usize,
    pub direct_channels: usize,
    pub direct_posts: usize,
    pub direct_replies: usize,
    pub reactions: usize,
    pub skipped: HashMap<Skip, usize>,
    pub orphans: usize,
    pub attachments_missing: usize,
    pub attachments_not_exported: usize,
    pub renamed: usize,
    pub cut: usize,
    pub skipped_channels: usize,
    pub long_lines: usize,
    /// Messages split into several posts, and the posts that were added for them.
    pub split: usize,
    pub split_parts: usize,
    /// Direct posts and replies longer than `mmctl import validate` takes.
    pub long_direct: usize,
    /// Attachments over the default `FileSettings.MaxFileSize`, and the largest one's size.
    pub big_attachments: usize,
    pub biggest_attachment: u64,
    /// Custom emoji images over `MaxEmojiFileSize`, left out.
    pub big_emojis: usize,
    /// Custom emojis named like a system emoji (the importer skips them), left out.
    pub system_named_emojis: usize,
    /// Teams with more members than the default `TeamSettings.MaxUsersPerTeam`, with the
    /// setting each needs.
    pub big_teams: Vec<(String, usize)>,
}

/// Options of `matterbak export jsonl`, as the original `mattermerge`.
#[derive(Debug, Clone, clap::Args)]
pub struct JsonlOptions {
    /// Backups to merge: data dirs or backup zips (the same server's teams, channels, users
    /// and posts appear once).
    #[arg(value_name = "DIR|ZIP", required = true)]
    pub backups: Vec<PathBuf>,
    /// The JSONL file to write (`-` for standard output, without -a).
    #[arg(short = 'o', long, value_name = "FILE", default_value = "matter.jsonl")]
    pub output: PathBuf,
    /// Also export attachments and custom emojis: they are copied into a `data/` folder beside
    /// the JSONL file, which the import's paths point into.
    #[arg(short = 'a', long)]
    pub attachments: bool,
    /// Which channels and posts [default: everything]. With a filter, only the teams,
    /// channels and users that the kept posts need are written.
    #[command(flatten)]
    pub filter: Filter,
}

/// What a jsonl export wrote and left out.
#[derive(Debug)]
pub struct JsonlSummary {
    pub stats: Stats,
    /// The JSONL file, `-` for standard output.
    pub output: PathBuf,
    /// With `-a`: the `data/` folder and how many attachments, custom emoji images and bytes
    /// were copied into it.
    pub copied: Option<(PathBuf, usize, usize, u64)>,
    /// Files left out because they hold more than their file info says (exit 3).
    pub left_out: Option<anyhow::Error>,
}

/// Writes the JSONL of `opts.backups` to `opts.output` (and with `-a` the `data/` folder
/// beside it).
///
/// # Errors
/// A usage error (exit 2) for a path that is not a backup or an output inside a backup; an
/// error naming the file for an unreadable backup file or a failed write; `Cancelled` when
/// `cancel` is set. The JSONL file appears only when complete.
pub fn export_jsonl(opts: &JsonlOptions, cancel: &Cancel) -> Result<JsonlSummary> {
    let to_stdout = opts.output.as_os_str() == "-";
    if to_stdout && opts.attachments {
        return Err(Fatal::usage(
            "-a copies attachments into a data/ folder beside the JSONL file: give -o FILE, not -o -",
        )
        .into());
    }
    let backups = opts
        .backups
        .iter()
        .map(|p| Backup::open(p))
        .collect::<Result<Vec<_>>>()?;
    let out_dir = parent_dir(&opts.output);
    if !to_stdout {
        check_paths(opts, &out_dir)?;
    }

    let sel = Selection::new(&opts.filter, &backups)?;
    let mut stats = Stats::default();
    let mut index = Index::build(&backups, &mut stats)?;
    // Every author and reactor needs a user line before the posts: read the posts once to find
    // the ones the backups do not have (and, with a filter, what the kept posts need).
    let sources: Vec<Sources> = (index.channels.iter())
        .map(|(k, c)| (Some(k.clone()), None, c.sources.clone()))
        .chain((index.directs.iter()).map(|(k, d)| (None, Some(k.clone()), d.sources.clone())))
        .collect();
    let mut channels = std::collections::BTreeSet::new();
    let mut directs = std::collections::BTreeSet::new();
    let mut users = std::collections::BTreeSet::new();
    for (channel, direct, s) in &sources {
        if !s.iter().any(|s| sel.has_channel(&s.info.id)) {
            continue;
        }
        let merged = merge(&backups, s, &sel, cancel)?;
        let referenced: Vec<&str> = posts::referenced_users(&merged).collect();
        if sel.filters_posts() && referenced.is_empty() {
            continue;
        }
        for id in referenced {
            index.user(id, &mut stats);
            users.insert(id.to_string());
        }
        channels.extend(channel.clone());
        directs.extend(direct.clone());
    }
    if sel.describe().is_some() {
        index.retain(&channels, &directs, &users);
    }
    index.assign_emails(&mut stats);
    check_team_sizes(&index, &mut stats);

    if !to_stdout {
        std::fs::create_dir_all(&out_dir)
            .with_context(|| format!("creating {}", out_dir.display()))?;
    }
    let mut files = opts.attachments.then(|| Files::new(out_dir.join(DATA_DIR)));
    let mut out = Output::create((!to_stdout).then_some(opts.output.as_path()))?;
    let mut w = Writer {
        out: &mut out,
        stats: &mut stats,
    };
    write_all(&backups, &index, &sel, files.as_mut(), &mut w, cancel)?;
    // The copies are on disk before the JSONL that names them appears.
    let copied = files
        .as_ref()
        .map(|f| (f.root().to_path_buf(), f.attachments, f.emojis, f.bytes));
    if let Some(f) = files {
        f.finish()?;
    }
    out.finish()?;
    Ok(JsonlSummary {
        stats,
        output: opts.output.clone(),
        copied,
        left_out: backups.iter().find_map(|b| b.src.check_left_out().err()),
    })
}

/// Writes lines, counting the ones the importer cannot read.
struct Writer<'a> {
    out: &'a mut Output,
    stats: &'a mut Stats,
}

impl Writer<'_> {
    fn line(&mut self, v: &Value) -> Result<()> {
        let mut s = serde_json::to_vec(v)?;
        if s.len() > MAX_LINE {
            self.stats.long_lines += 1;
            let kind = v.get("type").and_then(|t| t.as_str()).unwrap_or("?");
            tracing::warn!(
                "a {kind} line is {} bytes long, more than the importer reads ({MAX_LINE}): it will stop there",
                s.len()
            );
        }
        s.push(b'\n');
        self.out.write_all(&s)?;
        Ok(())
    }
}

/// A team channel (team, name) or a direct channel (members), and its copies in the backups.
type Sources = (Option<(String, String)>, Option<Vec<String>>, Vec<Src>);

/// A channel's posts merged over the backups that have it: those `sel` keeps.
fn merge(
    backups: &[Backup],
    sources: &[Src],
    sel: &Selection,
    cancel: &Cancel,
) -> Result<posts::MergedChannel> {
    let mut m = posts::merge(backups, sources, cancel)?;
    if sel.filters_posts() {
        let mut keep = sel.keep(&m.posts, |p| &p.key).into_iter();
        m.posts.retain(|_| keep.next().flatten().is_some());
    }
    Ok(m)
}

fn write_all(
    backups: &[Backup],
    index: &Index,
    sel: &Selection,
    mut files: Option<&mut Files>,
    w: &mut Writer,
    cancel: &Cancel,
) -> Result<()> {
    let mut version = Map::new();
    version.insert("type".into(), "version".into());
    version.insert("version".into(), 1.into());
    w.line(&Value::Object(version))?;

    for (name, t) in &index.teams {
        let v = team_line(name, &t.json, w.stats);
        w.line(&v)?;
        w.stats.teams += 1;
    }
    for ((team, name), c) in &index.channels {
        let v = channel_line(team, name, &c.json, w.stats);
        w.line(&v)?;
        w.stats.channels += 1;
    }
    for (name, u) in &index.users {
        let v = user_line(name, u, index, w.stats);
        w.line(&v)?;
        w.stats.users += 1;
    }
    for ((team, name), c) in &index.channels {
        let merged = merge(backups, &c.sources, sel, cancel)?;
        let threads = posts::threads(&merged.posts, &mut w.stats.skipped, &mut w.stats.orphans);
        for t in &threads {
            let v = convert(backups, index, files.as_deref_mut(), w.stats, cancel)
                .post(team, name, &merged, t)?;
            w.line(&v)?;
        }
    }
    for (members, d) in &index.directs {
        let v = direct_channel_line(members, &d.json, w.stats);
        w.line(&v)?;
        w.stats.direct_channels += 1;
    }
    for (members, d) in &index.directs {
        let merged = merge(backups, &d.sources, sel, cancel)?;
        let threads = posts::threads(&merged.posts, &mut w.stats.skipped, &mut w.stats.orphans);
        for t in &threads {
            let v = convert(backups, index, files.as_deref_mut(), w.stats, cancel)
                .direct_post(members, &merged, t)?;
            w.line(&v)?;
        }
    }
    if let Some(files) = files {
        for (name, e) in &index.emojis {
            let Some(image) = &e.emoji.image else {
                continue;
            };
            cancel.check()?;
            if limits::is_system_emoji_name(name) {
                w.stats.system_named_emojis += 1;
                tracing::warn!(
                    "custom emoji {name}: a system emoji has that name, so the server's importer \
                     skips it (model.emoji.system_emoji_name.app_error): left out; posts that \
                     use :{name}: show the system emoji"
                );
                continue;
            }
            let rel = match files.emoji(&backups[e.backup].src, image, name)? {
                EmojiCopy::Copied(rel) => rel,
                EmojiCopy::LeftOut => continue,
                EmojiCopy::TooLarge(n) => {
                    w.stats.big_emojis += 1;
                    tracing::warn!(
                        "custom emoji {name}: its image has {n} bytes, more than the server \
                         takes ({} bytes, MaxEmojiFileSize, which no setting raises): left out",
                        limits::MAX_EMOJI_FILE_SIZE
                    );
                    continue;
                }
            };
            let mut o = Map::new();
            o.insert("name".into(), name.clone().into());
            o.insert("image".into(), rel.into());
            w.line(&posts::line("emoji", o))?;
        }
    }
    Ok(())
}

/// Warns, before anything is written, of each team with more members than a server with the
/// default `TeamSettings.MaxUsersPerTeam` takes, naming the value it needs.
fn check_team_sizes(index: &Index, stats: &mut Stats) {
    let mut joining = Vec::new();
    for u in index.users.values() {
        let deactivated = (u.json.as_ref())
            .and_then(|j| j.get("delete_at"))
            .and_then(Value::as_i64)
            .is_some_and(|d| d > 0);
        for team in index.memberships(u).into_keys() {
            joining.push((team, deactivated));
        }
    }
    let joining = joining.iter().map(|(team, deactivated)| limits::Joining {
        team,
        deactivated: *deactivated,
    });
    for (team, needed) in limits::teams_over_limit(joining) {
        tracing::warn!(
            "team {team} has more members than a server with the default \
             TeamSettings.MaxUsersPerTeam ({}) takes: set it to at least {needed} before the \
             import (System Console > Site Configuration > Users and Teams > Max Users Per \
             Team), or the import stops at the user who joins past it",
            limits::DEFAULT_MAX_USERS_PER_TEAM
        );
        stats.big_teams.push((team.to_string(), needed));
    }
}

fn convert<'a>(
    backups: &'a [Backup],
    index: &'a Index,
    files: Option<&'a mut Files>,
    stats: &'a mut Stats,
    cancel: &'a Cancel,
) -> Convert<'a> {
    Convert {
        backups,
        index,
        files,
        stats,
        cancel,
    }
}

/// A team: `name`, `display_name` (1 to 64 characters), `type` (`O` open or `I` invite only),
/// `description` (at most 255 bytes), `allow_open_invite`.
fn team_line(name: &str, t: &Value, stats: &mut Stats) -> Value {
    let s = |k: &str| {
        t.get(k)
            .and_then(Value::as_str)
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let mut o = Map::new();
    o.insert("name".into(), name.into());
    let display = if s("display_name").is_empty() {
        name.to_string()
    } else {
        s("display_name")
    };
    let what = format!("team {name}");
    o.insert(
        "display_name".into(),
        cut(
            &display,
            names::TEAM_DISPLAY_NAME_MAX_RUNES,
            &what,
            "display name",
            stats,
        )
        .into(),
    );
    let kind = if s("type") == "O" { "O" } else { "I" };
    o.insert("type".into(), kind.into());
    let description = s("description");
    if !description.is_empty() {
        let (d, was_cut) = names::cut_bytes(&description, names::TEAM_DESCRIPTION_MAX);
        if was_cut {
            note_cut(stats, &what, "description");
        }
        o.insert("description".into(), d.into());
    }
    let open = t.get("allow_open_invite").and_then(Value::as_bool) == Some(true);
    o.insert("allow_open_invite".into(), open.into());
    posts::line("team", o)
}

/// A team channel: `team`, `name`, `display_name`, `type` (`O` or `P`), `header`, `purpose`,
/// and `deleted_at` for an archived channel.
fn channel_line(team: &str, name: &str, c: &Value, stats: &mut Stats) -> Value {
    let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    let what = format!("channel {team}/{name}");
    let mut o = Map::new();
    o.insert("team".into(), team.into());
    o.insert("name".into(), name.into());
    let display = if s("display_name").trim().is_empty() {
        name.to_string()
    } else {
        s("display_name")
    };
    o.insert(
        "display_name".into(),
        cut(
            &display,
            names::CHANNEL_DISPLAY_NAME_MAX_RUNES,
            &what,
            "display name",
            stats,
        )
        .into(),
    );
    o.insert("type".into(), s("type").into());
    if !s("header").is_empty() {
        let h = cut(
            &s("header"),
            names::CHANNEL_HEADER_MAX_RUNES,
            &what,
            "header",
            stats,
        );
        o.insert("header".into(), h.into());
    }
    if !s("purpose").is_empty() {
        let p = cut(
            &s("purpose"),
            names::CHANNEL_PURPOSE_MAX_RUNES,
            &what,
            "purpose",
            stats,
        );
        o.insert("purpose".into(), p.into());
    }
    let deleted = c.get("delete_at").and_then(Value::as_i64).unwrap_or(0);
    if deleted > 0 {
        o.insert("deleted_at".into(), deleted.into());
    }
    posts::line("channel", o)
}

/// A user: `username`, `email`, names, `position`, `roles`, `locale`, `delete_at` of a
/// deactivated user, and `teams` with their `channels` as the members files show them.
/// A placeholder has only username, email and roles.
fn user_line(name: &str, u: &UserOut, index: &Index, stats: &mut Stats) -> Value {
    let what = format!("user {name}");
    let mut o = Map::new();
    o.insert("username".into(), name.into());
    o.insert("email".into(), u.email.clone().into());
    let json = u.json.as_ref();
    let s = |k: &str| {
        json.and_then(|j| j.get(k))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string()
    };
    if json.is_some() {
        for (k, max) in [
            ("nickname", names::USER_NAME_PART_MAX_RUNES),
            ("first_name", names::USER_NAME_PART_MAX_RUNES),
            ("last_name", names::USER_NAME_PART_MAX_RUNES),
            ("position", names::POSITION_MAX_RUNES),
        ] {
            o.insert(k.into(), cut(&s(k), max, &what, k, stats).into());
        }
    }
    let roles = names::user_roles(&s("roles"));
    let guest = roles == "system_guest";
    o.insert("roles".into(), roles.into());
    if let Some(l) = names::locale(&s("locale")) {
        o.insert("locale".into(), l.into());
    }
    let deleted = json
        .and_then(|j| j.get("delete_at"))
        .and_then(Value::as_i64)
        .unwrap_or(0);
    if deleted > 0 {
        o.insert("delete_at".into(), deleted.into());
    }
    let teams: Vec<Value> = index
        .memberships(u)
        .into_iter()
        .map(|(team, m)| {
            let mut t = Map::new();
            t.insert("name".into(), team.clone().into());
            let roles = match (guest, m.team_admin) {
                (true, _) => "team_guest",
                (false, true) => "team_user team_admin",
                (false, false) => "team_user",
            };
            t.insert("roles".into(), roles.into());
            let channels: Vec<Value> = m
                .channels
                .iter()
                .filter(|(c, _)| index.channels.contains_key(&(team.clone(), (*c).clone())))
                .map(|(c, admin)| {
                    let roles = match (guest, admin) {
                        (true, _) => "channel_guest",
                        (false, true) => "channel_user channel_admin",
                        (false, false) => "channel_user",
                    };
                    let mut co = Map::new();
                    co.insert("name".into(), c.clone().into());
                    co.insert("roles".into(), roles.into());
                    Value::Object(co)
                })
                .collect();
            if !channels.is_empty() {
                t.insert("channels".into(), Value::Array(channels));
            }
            Value::Object(t)
        })
        .collect();
    if !teams.is_empty() {
        o.insert("teams".into(), Value::Array(teams));
    }
    posts::line("user", o)
}

/// A direct or group channel: `members` (usernames; the self-DM names its user twice, as
/// Mattermost's own export does) and `header`.
fn direct_channel_line(members: &[String], c: &Value, stats: &mut Stats) -> Value {
    let mut o = Map::new();
    o.insert("members".into(), members.into());
    let header = c.get("header").and_then(Value::as_str).unwrap_or("");
    if !header.is_empty() {
        let what = format!("direct channel of {}", members.join(", "));
        let h = cut(
            header,
            names::CHANNEL_HEADER_MAX_RUNES,
            &what,
            "header",
            stats,
        );
        o.insert("header".into(), h.into());
    }
    posts::line("direct_channel", o)
}

/// `s` cut to `max` characters; a cut is reported.
fn cut(s: &str, max: usize, what: &str, field: &str, stats: &mut Stats) -> String {
    let (v, was_cut) = names::cut_runes(s, max);
    if was_cut {
        note_cut(stats, what, field);
    }
    v
}

fn note_cut(stats: &mut Stats, what: &str, field: &str) {
    stats.cut += 1;
    tracing::warn!("{what}: the {field} is longer than the importer takes, it is shortened");
}

/// The folder of the output file (`.` for a bare name).
fn parent_dir(p: &Path) -> PathBuf {
    match p.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// The output must not go into a backup (a data dir's files would change, a zip would be
/// replaced), and neither may the `data/` folder of `-a` (the default `-o matter.jsonl`
/// beside a data dir called `data` would otherwise write into it).
fn check_paths(args: &JsonlOptions, out_dir: &Path) -> Result<()> {
    let out_file = resolve(&args.output);
    let data = resolve(&out_dir.join(DATA_DIR));
    for b in &args.backups {
        let input = b
            .canonicalize()
            .with_context(|| format!("resolving {}", b.display()))?;
        let inside = |p: &Path| p == input || p.starts_with(&input);
        if inside(&out_file) {
            return Err(Fatal::usage(format!(
                "-o {} is inside the backup {}: write the JSONL somewhere else",
                args.output.display(),
                b.display()
            ))
            .into());
        }
        if args.attachments && (inside(&data) || input.starts_with(&data)) {
            return Err(Fatal::usage(format!(
                "-a would copy attachments into {}, which is (or holds) the backup {}; \
                 give -o in another folder, e.g. -o import/matter.jsonl",
                out_dir.join(DATA_DIR).display(),
                b.display()
            ))
            .into());
        }
    }
    // Whatever the backups are (a zip too): not into a data dir, such as `./data` beside a zip.
    let mut targets = vec![(&out_file, format!("-o {}", args.output.display()))];
    if args.attachments {
        let what = format!(
            "-a would copy attachments into {}",
            out_dir.join(DATA_DIR).display()
        );
        targets.push((&data, what));
    }
    for (target, what) in targets {
        if let Some(d) = crate::store::data_dir_holding(target) {
            return Err(Fatal::usage(format!(
                "{what}, which is inside the data dir {}: give -o in another folder, e.g. -o \
                 import/matter.jsonl",
                d.display()
            ))
            .into());
        }
    }
    Ok(())
}

/// `p` made absolute with symlinks resolved as far as it exists.
fn resolve(p: &Path) -> PathBuf {
    let abs = std::path::absolute(p).unwrap_or_else(|_| p.to_path_buf());
    let mut rest = Vec::new();
    let mut cur = abs.as_path();
    loop {
        if let Ok(c) = cur.canonicalize() {
            return rest
                .iter()
                .rev()
                .fold(c, |acc: PathBuf, part| acc.join(part));
        }
        match (cur.parent(), cur.file_name()) {
            (Some(parent), Some(name)) => {
                rest.push(name.to_os_string());
                cur = parent;
            }
            _ => return abs,
        }
    }
}

impl JsonlSummary {
    /// The summary: what was written, then what was left out.
    pub fn lines(&self) -> Vec<String> {
        let s = &self.stats;
        let mut lines = Vec::new();
        let target = if self.output.as_os_str() == "-" {
            "standard output".to_string()
        } else {
            self.output.display().to_string()
        };
        lines.push(format!(
            "wrote {target}: {} teams, {} channels, {} users, {} posts with {} replies, \
         {} direct and group channels with {} posts and {} replies, {} reactions",
            s.teams,
            s.channels,
            s.users,
            s.posts,
            s.replies,
            s.direct_channels,
            s.direct_posts,
            s.direct_replies,
            s.reactions
        ));
        if let Some((dir, attachments, emojis, bytes)) = &self.copied {
            lines.push(format!(
                "copied {attachments} attachments and {emojis} custom emoji images \
             ({bytes} bytes) to {}",
                dir.display()
            ));
        }
        let mut notes = Vec::new();
        if s.placeholders > 0 {
            notes.push(format!(
                "{} users the backup refers to but does not have are imported as unknown-<id>",
                s.placeholders
            ));
        }
        if s.no_email > 0 {
            notes.push(format!(
                "{} users without an email address in the backup get <username>@{}",
                s.no_email,
                names::PLACEHOLDER_EMAIL_DOMAIN
            ));
        }
        if s.orphans > 0 {
            notes.push(format!(
                "{} replies whose thread start is not exported are imported as posts",
                s.orphans
            ));
        }
        if s.renamed + s.cut > 0 {
            notes.push(format!(
                "{} names and {} texts were changed to fit the importer (see the warnings above)",
                s.renamed, s.cut
            ));
        }
        if let Some(needed) = s.big_teams.iter().map(|(_, n)| *n).max() {
            notes.push(format!(
                "{} teams have more than {} members: before the import, set \
                 TeamSettings.MaxUsersPerTeam to at least {needed}",
                s.big_teams.len(),
                limits::DEFAULT_MAX_USERS_PER_TEAM
            ));
        }
        if s.big_attachments > 0 {
            notes.push(format!(
                "{} attachments are larger than the default FileSettings.MaxFileSize ({} \
                 bytes): before the import, set it to at least {}",
                s.big_attachments,
                limits::DEFAULT_MAX_FILE_SIZE,
                s.biggest_attachment
            ));
        }
        if s.split > 0 {
            notes.push(format!(
                "{} messages longer than {} characters were split into {} posts",
                s.split,
                limits::POST_MESSAGE_MAX_RUNES,
                s.split + s.split_parts
            ));
        }
        if s.long_direct > 0 {
            notes.push(format!(
                "{} direct messages are longer than {} characters: the import takes them, \
                 `mmctl import validate` reports them (it checks direct posts against that \
                 older limit)",
                s.long_direct,
                limits::MMCTL_DIRECT_POST_MAX_RUNES
            ));
        }
        lines.extend(notes);
        let count = |k: Skip| s.skipped.get(&k).copied().unwrap_or(0);
        let mut skipped = vec![
            format!(
                "{} system messages (joins, leaves, header changes: the importer takes none)",
                count(Skip::System)
            ),
            format!("{} deleted posts", count(Skip::Deleted)),
        ];
        if count(Skip::NoTime) > 0 {
            skipped.push(format!("{} posts without a time", count(Skip::NoTime)));
        }
        if s.attachments_missing > 0 {
            skipped.push(format!(
                "{} attachments that are not in the backup",
                s.attachments_missing
            ));
        }
        if s.attachments_not_exported > 0 {
            skipped.push(format!(
                "{} attachments and the custom emojis (give -a to copy them)",
                s.attachments_not_exported
            ));
        }
        if s.big_emojis > 0 {
            skipped.push(format!(
                "{} custom emojis whose image is over {} bytes (the server's MaxEmojiFileSize)",
                s.big_emojis,
                limits::MAX_EMOJI_FILE_SIZE
            ));
        }
        if s.system_named_emojis > 0 {
            skipped.push(format!(
                "{} custom emojis named like system emojis (the importer skips them)",
                s.system_named_emojis
            ));
        }
        if s.skipped_channels > 0 {
            skipped.push(format!(
                "{} channels (see the warnings above)",
                s.skipped_channels
            ));
        }
        if s.long_lines > 0 {
            lines.push(format!(
                "{} lines are longer than the importer reads (see the warnings above)",
                s.long_lines
            ));
        }
        lines.push(format!("left out {}", skipped.join(", ")));
        lines
    }
}
