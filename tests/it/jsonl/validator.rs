//! The importer's rules for the bulk-import JSONL, as a [`Validator`] the tests of
//! `export jsonl` check every export with.
//!
//! Written from the Mattermost server's import code
//! (`server/channels/app/imports/import_types.go` and `import_validators.go`, the model rules
//! they call in `server/public/model`, the line order and attachment lookup of
//! `server/channels/app/import.go`, and the cross-line checks of `mmctl import validate` in
//! `server/cmd/mmctl/commands/importer/validate.go`), not from the exporter's code.

use std::collections::{HashMap, HashSet};
use std::path::Path;

use serde_json::{Map, Value};

/// The line types in the order the importer needs them (each refers only to earlier ones).
const ORDER: [&str; 8] = [
    "version",
    "team",
    "channel",
    "user",
    "post",
    "direct_channel",
    "direct_post",
    "emoji",
];

/// The settings of the target server that decide what its import takes
/// (`server/public/model/config.go`'s defaults unless a test raises them).
#[derive(Clone, Copy)]
pub(super) struct Target {
    /// `TeamSettings.MaxUsersPerTeam`.
    pub max_users_per_team: usize,
    /// `FileSettings.MaxFileSize`.
    pub max_file_size: u64,
}

impl Default for Target {
    fn default() -> Target {
        Target {
            max_users_per_team: 50,
            max_file_size: 100 * 1024 * 1024,
        }
    }
}

/// `MaxPostSize()` of `server/channels/app/post.go` on current databases:
/// `model.PostMessageMaxRunesV2`.
const MAX_POST_RUNES: usize = 16383;
/// `model.PostMessageMaxRunesV1`: `mmctl import validate` (`validateDirectPost` in
/// `importer/validate.go`) checks direct posts against it, the server's import does not.
const MMCTL_DIRECT_POST_RUNES: usize = 4000;
/// `MaxEmojiFileSize` of `server/channels/app/emoji.go`: `importEmoji` reads an image through
/// `utils.NewLimitedReaderWithError(file, MaxEmojiFileSize)` and fails the line past it.
const MAX_EMOJI_FILE_SIZE: u64 = 1 << 19;

fn runes(s: &str) -> usize {
    s.chars().count()
}

/// `model.IsValidUsername`.
fn valid_username(s: &str) -> bool {
    let chars_ok = s
        .chars()
        .all(|c| matches!(c, 'a'..='z' | '0'..='9' | '.' | '-' | '_'));
    !s.is_empty()
        && s.len() <= 64
        && chars_ok
        && !["all", "channel", "matterbot", "system"].contains(&s)
}

/// `model.IsValidEmail` (lowercase, one address without a display name) and
/// `UserEmailMaxLength`.
fn valid_email(s: &str) -> bool {
    let parts: Vec<&str> = s.split('@').collect();
    parts.len() == 2
        && !parts[0].is_empty()
        && !parts[1].is_empty()
        && s.len() <= 128
        && s == s.to_lowercase()
        && !s.chars().any(|c| c.is_whitespace() || "<>\"".contains(c))
}

/// `validAlphaNum` of `model/utils.go` and `TeamNameMinLength`/`MaxLength`, and not starting
/// with a reserved name (`IsReservedTeamName`).
fn valid_team_name(s: &str) -> bool {
    const RESERVED: [&str; 17] = [
        "admin",
        "api",
        "channel",
        "claim",
        "error",
        "files",
        "help",
        "landing",
        "login",
        "mfa",
        "oauth",
        "plug",
        "plugins",
        "post",
        "signup",
        "boards",
        "playbooks",
    ];
    let alnum = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit();
    let ends = s.starts_with(alnum) && s.ends_with(alnum);
    let body = s.chars().all(|c| alnum(c) || c == '-')
        || (s.matches("__").count() == 1 && s.chars().all(|c| alnum(c) || c == '_'));
    (2..=64).contains(&s.len()) && ends && body && !RESERVED.iter().any(|r| s.starts_with(r))
}

/// `model.IsValidChannelIdentifier` (on the lowercased name) and `ChannelNameMaxLength`.
fn valid_channel_name(s: &str) -> bool {
    let mut cs = s.chars();
    let first_ok = cs
        .next()
        .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    first_ok
        && s.len() <= 64
        && cs.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

/// `Channel.IsValid` (`model/channel.go`), which `CreateChannel` runs on an imported channel:
/// a channel that is not direct or group may not match `gmNameRegex` (`^[a-f0-9]{40}$`) nor
/// split at `__` into exactly two `IsValidId`s (26 letters or digits).
fn named_like_direct(s: &str) -> bool {
    let is_id = |p: &str| p.chars().count() == 26 && p.chars().all(char::is_alphanumeric);
    let parts: Vec<&str> = s.split("__").collect();
    let gm = s.len() == 40 && s.chars().all(|c| matches!(c, 'a'..='f' | '0'..='9'));
    gm || (parts.len() == 2 && is_id(parts[0]) && is_id(parts[1]))
}

/// `model.IsValidUserRoles`: role names of `a-z 0-9 _` (at most 64), never `system_admin` alone.
fn valid_roles(s: &str) -> bool {
    let roles: Vec<&str> = s.split_whitespace().collect();
    roles.iter().all(|r| {
        !r.is_empty()
            && r.len() <= 64
            && r.chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
    }) && roles != ["system_admin"]
}

/// The fields each object may have (`import_types.go`); anything else the importer ignores,
/// so a misspelt field would lose data silently.
fn allowed(kind: &str) -> &'static [&'static str] {
    match kind {
        "team" => &[
            "name",
            "display_name",
            "type",
            "description",
            "allow_open_invite",
            "scheme",
        ],
        "channel" => &[
            "team",
            "name",
            "display_name",
            "type",
            "header",
            "purpose",
            "scheme",
            "deleted_at",
        ],
        "user" => &[
            "username",
            "email",
            "auth_service",
            "auth_data",
            "password",
            "nickname",
            "first_name",
            "last_name",
            "position",
            "roles",
            "locale",
            "delete_at",
            "teams",
            "notify_props",
            "profile_image",
        ],
        "user_team" => &["name", "roles", "theme", "channels"],
        "user_channel" => &["name", "roles", "notify_props", "favorite"],
        "post" => &[
            "team",
            "channel",
            "user",
            "type",
            "message",
            "props",
            "create_at",
            "edit_at",
            "flagged_by",
            "reactions",
            "replies",
            "attachments",
            "is_pinned",
        ],
        "direct_post" => &[
            "channel_members",
            "user",
            "type",
            "message",
            "props",
            "create_at",
            "edit_at",
            "flagged_by",
            "reactions",
            "replies",
            "attachments",
            "is_pinned",
        ],
        "reply" => &[
            "user",
            "type",
            "message",
            "props",
            "create_at",
            "edit_at",
            "flagged_by",
            "reactions",
            "attachments",
            "is_pinned",
        ],
        "reaction" => &["user", "create_at", "emoji_name"],
        "attachment" => &["path"],
        "direct_channel" => &["members", "favorited_by", "header"],
        "emoji" => &["name", "image"],
        _ => &[],
    }
}

/// Checks the lines as the importer would, plus the references between them (what `mmctl
/// import validate` checks), and that every attachment path names a file in `data`.
struct Validator<'a> {
    data: Option<&'a Path>,
    target: Target,
    /// Per team: its members whose user is active, as `SaveMultipleMembers` counts them.
    team_members: HashMap<String, usize>,
    teams: HashSet<String>,
    channels: HashSet<(String, String)>,
    users: HashSet<String>,
    emails: HashSet<String>,
    emojis: HashSet<String>,
    rank: usize,
    line: usize,
    errors: Vec<String>,
}

impl<'a> Validator<'a> {
    fn check(lines: &[Value], data: Option<&'a Path>, target: Target) -> Vec<String> {
        let mut v = Validator {
            data,
            target,
            team_members: HashMap::new(),
            teams: HashSet::new(),
            channels: HashSet::new(),
            users: HashSet::new(),
            emails: HashSet::new(),
            emojis: HashSet::new(),
            rank: 0,
            line: 0,
            errors: Vec::new(),
        };
        for (i, l) in lines.iter().enumerate() {
            v.line = i + 1;
            v.one(l);
        }
        if lines.is_empty() {
            v.errors.push("no lines".into());
        }
        v.errors
    }

    fn err(&mut self, msg: impl Into<String>) {
        let m = format!("line {}: {}", self.line, msg.into());
        self.errors.push(m);
    }

    fn one(&mut self, l: &Value) {
        let kind = l["type"].as_str().unwrap_or("").to_string();
        let Some(rank) = ORDER.iter().position(|k| *k == kind) else {
            return self.err(format!("unknown type {kind:?}"));
        };
        if self.line == 1 && kind != "version" {
            self.err("the first line must be the version");
        }
        if kind == "version" && self.line != 1 {
            self.err("the version must be the first line only");
        }
        if rank < self.rank {
            self.err(format!("{kind} after {}", ORDER[self.rank]));
        }
        self.rank = rank;
        let keys: Vec<&String> = l.as_object().unwrap().keys().collect();
        if keys.len() != 2 {
            self.err(format!("a line has `type` and one object, not {keys:?}"));
        }
        if kind == "version" {
            if l["version"] != 1 {
                self.err("version must be 1");
            }
            return;
        }
        let Some(o) = l[&kind].as_object() else {
            return self.err(format!("{kind}: missing"));
        };
        self.fields(&kind, o);
        match kind.as_str() {
            "team" => self.team(o),
            "channel" => self.channel(o),
            "user" => self.user(o),
            "post" => self.post(o),
            "direct_channel" => self.direct_channel(o),
            "direct_post" => self.direct_post(o),
            "emoji" => self.emoji(o),
            _ => {}
        }
    }

    fn fields(&mut self, kind: &str, o: &Map<String, Value>) {
        for k in o.keys() {
            if !allowed(kind).contains(&k.as_str()) {
                self.err(format!("{kind}: unknown field {k:?}"));
            }
        }
    }

    fn string<'v>(&mut self, o: &'v Map<String, Value>, k: &str, what: &str) -> Option<&'v str> {
        match o.get(k) {
            Some(Value::String(s)) => Some(s),
            Some(_) => {
                self.err(format!("{what}.{k} is not a string"));
                None
            }
            None => {
                self.err(format!("{what}.{k} is missing"));
                None
            }
        }
    }

    fn max_runes(&mut self, o: &Map<String, Value>, k: &str, max: usize, what: &str) {
        if let Some(v) = o.get(k) {
            match v.as_str() {
                Some(s) if runes(s) <= max => {}
                Some(_) => self.err(format!("{what}.{k} is longer than {max} characters")),
                None => self.err(format!("{what}.{k} is not a string")),
            }
        }
    }

    fn team(&mut self, o: &Map<String, Value>) {
        if let Some(n) = self.string(o, "name", "team") {
            if !valid_team_name(&n.to_lowercase()) {
                self.err(format!("team name {n:?} is not valid"));
            }
            if !self.teams.insert(n.to_string()) {
                self.err(format!("team {n} twice"));
            }
        }
        if let Some(d) = self.string(o, "display_name", "team") {
            if !(1..=64).contains(&runes(d)) {
                self.err("team.display_name must have 1 to 64 characters");
            }
        }
        if let Some(t) = self.string(o, "type", "team") {
            if t != "O" && t != "I" {
                self.err(format!("team.type {t:?}"));
            }
        }
        if let Some(d) = o.get("description") {
            if d.as_str().is_none_or(|d| d.len() > 255) {
                self.err("team.description longer than 255 bytes");
            }
        }
        if o.get("allow_open_invite").is_some_and(|v| !v.is_boolean()) {
            self.err("team.allow_open_invite is not a boolean");
        }
    }

    fn channel(&mut self, o: &Map<String, Value>) {
        let team = self.string(o, "team", "channel").unwrap_or("").to_string();
        if !self.teams.contains(&team) {
            self.err(format!("channel of unknown team {team:?}"));
        }
        if let Some(n) = self.string(o, "name", "channel") {
            if !valid_channel_name(&n.to_lowercase()) {
                self.err(format!("channel name {n:?} is not valid"));
            }
            if named_like_direct(n) {
                self.err(format!(
                    "channel name {n:?} is a direct or group channel's (Channel.IsValid)"
                ));
            }
            if !self.channels.insert((team.clone(), n.to_string())) {
                self.err(format!("channel {team}/{n} twice"));
            }
        }
        self.max_runes(o, "display_name", 64, "channel");
        if let Some(t) = self.string(o, "type", "channel") {
            if t != "O" && t != "P" {
                self.err(format!("channel.type {t:?}"));
            }
        }
        self.max_runes(o, "header", 1024, "channel");
        self.max_runes(o, "purpose", 250, "channel");
        if o.get("deleted_at")
            .is_some_and(|d| d.as_i64().is_none_or(|d| d <= 0))
        {
            self.err("channel.deleted_at must be a time");
        }
    }

    fn user(&mut self, o: &Map<String, Value>) {
        if let Some(n) = self.string(o, "username", "user") {
            if !valid_username(&n.to_lowercase()) {
                self.err(format!("username {n:?} is not valid"));
            }
            if !self.users.insert(n.to_string()) {
                self.err(format!("user {n} twice"));
            }
        }
        if let Some(e) = self.string(o, "email", "user") {
            if !valid_email(e) {
                self.err(format!("email {e:?} is not valid"));
            }
            if !self.emails.insert(e.to_string()) {
                self.err(format!(
                    "email {e} twice (the server refuses the second user)"
                ));
            }
        }
        for (k, max) in [
            ("nickname", 64),
            ("first_name", 64),
            ("last_name", 64),
            ("position", 128),
        ] {
            self.max_runes(o, k, max, "user");
        }
        if o.get("locale")
            .is_some_and(|l| l.as_str().is_none_or(|l| l.len() > 5 || l.is_empty()))
        {
            self.err("user.locale is not a locale");
        }
        if o.contains_key("auth_service") && !o.contains_key("auth_data") {
            self.err("user.auth_service without auth_data");
        }
        let roles = o.get("roles").and_then(Value::as_str).unwrap_or("");
        if o.contains_key("roles") && !valid_roles(roles) {
            self.err(format!("user.roles {roles:?}"));
        }
        let guest = roles.split_whitespace().any(|r| r == "system_guest");
        let teams = o
            .get("teams")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for t in &teams {
            let Some(t) = t.as_object() else {
                self.err("user.teams[] is not an object");
                continue;
            };
            self.fields("user_team", t);
            let name = self
                .string(t, "name", "user.teams[]")
                .unwrap_or("")
                .to_string();
            if !self.teams.contains(&name) {
                self.err(format!("user in unknown team {name:?}"));
            }
            // `importUserTeams` → `SqlTeamStore.SaveMultipleMembers(members, MaxUsersPerTeam)`:
            // the team's members with an active user, plus this one, may not pass the limit
            // (`ErrLimitExceeded`, the import stops). The user was saved (with its `delete_at`)
            // before, so a deactivated one is not counted afterwards.
            let members = self.team_members.entry(name.clone()).or_default();
            let over = *members + 1 > self.target.max_users_per_team;
            if o.get("delete_at").and_then(Value::as_i64).unwrap_or(0) == 0 {
                *members += 1;
            }
            if over {
                self.err(format!(
                    "team {name} is full: TeamSettings.MaxUsersPerTeam is {}",
                    self.target.max_users_per_team
                ));
            }
            let troles = t.get("roles").and_then(Value::as_str).unwrap_or("");
            if !valid_roles(troles) {
                self.err(format!("team roles {troles:?}"));
            }
            if guest != troles.split_whitespace().any(|r| r == "team_guest") {
                self.err("system and team guest roles disagree");
            }
            for c in t
                .get("channels")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let Some(c) = c.as_object() else {
                    self.err("channels[] is not an object");
                    continue;
                };
                self.fields("user_channel", c);
                let cname = self
                    .string(c, "name", "channels[]")
                    .unwrap_or("")
                    .to_string();
                if !self.channels.contains(&(name.clone(), cname.clone())) {
                    self.err(format!("member of unknown channel {name}/{cname}"));
                }
                let croles = c.get("roles").and_then(Value::as_str).unwrap_or("");
                if !valid_roles(croles) {
                    self.err(format!("channel roles {croles:?}"));
                }
                if guest != croles.split_whitespace().any(|r| r == "channel_guest") {
                    self.err("system and channel guest roles disagree");
                }
            }
        }
    }

    fn known_user(&mut self, o: &Map<String, Value>, what: &str) {
        if let Some(u) = self.string(o, "user", what) {
            if !self.users.contains(u) {
                self.err(format!("{what} by unknown user {u:?}"));
            }
        }
    }

    /// What posts, direct posts and replies share; returns `create_at`.
    fn body(&mut self, o: &Map<String, Value>, what: &str, max_message: usize) -> i64 {
        self.known_user(o, what);
        if let Some(m) = self.string(o, "message", what) {
            if runes(m) > max_message {
                self.err(format!("{what}.message longer than {max_message}"));
            }
        }
        let at = match o.get("create_at").and_then(Value::as_i64) {
            Some(t) if t != 0 => t,
            _ => {
                self.err(format!("{what}.create_at missing or zero"));
                0
            }
        };
        if let Some(p) = o.get("props") {
            if !p.is_object() || runes(&p.to_string()) > 800_000 {
                self.err(format!("{what}.props"));
            }
        }
        if let Some(t) = o.get("type").and_then(Value::as_str) {
            if t.starts_with("system_") {
                self.err(format!("{what} of type {t}"));
            }
        }
        for r in o
            .get("reactions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let r = r.as_object().unwrap();
            self.fields("reaction", r);
            self.known_user(r, "reaction");
            match r.get("emoji_name").and_then(Value::as_str) {
                Some(e) if !e.is_empty() && runes(e) <= 64 => {}
                _ => self.err("reaction.emoji_name"),
            }
            match r.get("create_at").and_then(Value::as_i64) {
                Some(t) if t != 0 && t >= at => {}
                _ => self.err(format!(
                    "reaction.create_at missing, zero or before its {what}"
                )),
            }
        }
        for a in o
            .get("attachments")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let a = a.as_object().unwrap();
            self.fields("attachment", a);
            let p = a.get("path").and_then(Value::as_str).unwrap_or("");
            // `uploadAttachments` → `importAttachment` → `UploadFileX`: a file over
            // `FileSettings.MaxFileSize` is refused and left out of the post (a log line only).
            if let Some(size) = self.data_file(p, "attachment") {
                if size > self.target.max_file_size {
                    self.err(format!(
                        "attachment {p} has {size} bytes: the server leaves it out \
                         (FileSettings.MaxFileSize is {})",
                        self.target.max_file_size
                    ));
                }
            }
        }
        at
    }

    /// A path below the import's `data/` folder (`ValidateAttachmentPathForImport`) that names
    /// a file there; its size.
    fn data_file(&mut self, p: &str, what: &str) -> Option<u64> {
        let escapes = p.is_empty()
            || p.starts_with('/')
            || p.split('/').any(|c| c == ".." || c == "." || c.is_empty());
        if escapes {
            self.err(format!("{what} path {p:?} is not a plain path below data/"));
            return None;
        }
        let d = self.data?;
        match std::fs::metadata(d.join(p)) {
            Ok(m) if m.is_file() => Some(m.len()),
            _ => {
                self.err(format!("{what} {p:?} is not in {}", d.display()));
                None
            }
        }
    }

    fn replies(&mut self, o: &Map<String, Value>, what: &str, max_message: usize) {
        for r in o
            .get("replies")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let r = r.as_object().unwrap();
            self.fields("reply", r);
            self.body(r, &format!("{what}.reply"), max_message);
        }
    }

    fn post(&mut self, o: &Map<String, Value>) {
        let team = self.string(o, "team", "post").unwrap_or("").to_string();
        let channel = self.string(o, "channel", "post").unwrap_or("").to_string();
        if !self.channels.contains(&(team.clone(), channel.clone())) {
            self.err(format!("post in unknown channel {team}/{channel}"));
        }
        // `ValidatePostImportData` / `ValidateReplyImportData` with `a.MaxPostSize()`.
        self.body(o, "post", MAX_POST_RUNES);
        self.replies(o, "post", MAX_POST_RUNES);
    }

    fn members(&mut self, o: &Map<String, Value>, k: &str, what: &str) {
        let Some(m) = o.get(k).and_then(Value::as_array) else {
            return self.err(format!("{what}.{k} missing"));
        };
        if m.len() != 2 && !(3..=8).contains(&m.len()) {
            self.err(format!("{what}.{k}: {} members", m.len()));
        }
        for u in m {
            let u = u.as_str().unwrap_or("");
            if !self.users.contains(u) {
                self.err(format!("{what}.{k}: unknown user {u:?}"));
            }
        }
    }

    fn direct_channel(&mut self, o: &Map<String, Value>) {
        self.members(o, "members", "direct_channel");
        self.max_runes(o, "header", 1024, "direct_channel");
    }

    fn direct_post(&mut self, o: &Map<String, Value>) {
        self.members(o, "channel_members", "direct_post");
        // `ValidateDirectPostImportData` with `a.MaxPostSize()` (`mmctl import validate`'s
        // stricter check: [`mmctl_long_direct_messages`]).
        self.body(o, "direct_post", MAX_POST_RUNES);
        self.replies(o, "direct_post", MAX_POST_RUNES);
    }

    fn emoji(&mut self, o: &Map<String, Value>) {
        if let Some(n) = self.string(o, "name", "emoji") {
            let ok = !n.is_empty()
                && n.len() <= 64
                && n.chars()
                    .all(|c| c.is_ascii_alphanumeric() || "+_-".contains(c));
            if !ok {
                self.err(format!("emoji name {n:?}"));
            }
            if !self.emojis.insert(n.to_string()) {
                self.err(format!("emoji {n} twice"));
            }
            // `ValidateEmojiImportData`: `model.IsSystemEmojiName` refuses it
            // (`model.emoji.system_emoji_name.app_error`); `importEmoji` skips the line.
            if is_system_emoji_name(n) {
                self.err(format!(
                    "emoji {n} has a system emoji's name: importEmoji skips it"
                ));
            }
        }
        if let Some(i) = self.string(o, "image", "emoji") {
            if let Some(size) = self.data_file(i, "emoji image") {
                if size > MAX_EMOJI_FILE_SIZE {
                    self.err(format!(
                        "emoji image {i} has {size} bytes: importEmoji fails past \
                         MaxEmojiFileSize ({MAX_EMOJI_FILE_SIZE})"
                    ));
                }
            }
        }
    }
}

/// `model.SystemEmojis`'s names, from the emoji data the server builds it from (the list
/// `scripts/system-emojis.sh` writes).
fn is_system_emoji_name(name: &str) -> bool {
    let list = include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/export/jsonl/system_emojis.txt"
    ));
    list.lines().any(|l| l == name)
}

/// The direct posts and replies that `mmctl import validate` reports as too long although the
/// server's import takes them (more than `PostMessageMaxRunesV1` characters).
pub(super) fn mmctl_long_direct_messages(lines: &[Value]) -> usize {
    let long = |o: &Value| {
        o["message"]
            .as_str()
            .is_some_and(|m| runes(m) > MMCTL_DIRECT_POST_RUNES)
    };
    lines
        .iter()
        .filter_map(|l| l.get("direct_post"))
        .map(|o| {
            usize::from(long(o))
                + (o["replies"].as_array().into_iter().flatten())
                    .filter(|r| long(r))
                    .count()
        })
        .sum()
}

pub(super) fn assert_valid(lines: &[Value], data: Option<&Path>) {
    assert_valid_on(lines, data, Target::default());
}

/// [`assert_valid`] for a server with these settings.
pub(super) fn assert_valid_on(lines: &[Value], data: Option<&Path>, target: Target) {
    let errors = Validator::check(lines, data, target);
    assert!(
        errors.is_empty(),
        "{} problems, the first ones:\n{}",
        errors.len(),
        errors
            .iter()
            .take(20)
            .cloned()
            .collect::<Vec<_>>()
            .join("\n")
    );
}

#[test]
fn the_validator_catches_what_the_importer_refuses() {
    let ok = [
        r#"{"type":"version","version":1}"#,
        r#"{"type":"team","team":{"name":"acme","display_name":"Acme","type":"O"}}"#,
        r#"{"type":"channel","channel":{"team":"acme","name":"town-square","display_name":"Town","type":"O"}}"#,
        r#"{"type":"user","user":{"username":"bob","email":"bob@x.org","roles":"system_user","teams":[{"name":"acme","roles":"team_user","channels":[{"name":"town-square","roles":"channel_user"}]}]}}"#,
        r#"{"type":"post","post":{"team":"acme","channel":"town-square","user":"bob","message":"hi","create_at":5,"reactions":[{"user":"bob","emoji_name":"+1","create_at":6}]}}"#,
        r#"{"type":"direct_channel","direct_channel":{"members":["bob","bob"]}}"#,
        r#"{"type":"direct_post","direct_post":{"channel_members":["bob","bob"],"user":"bob","message":"x","create_at":7}}"#,
    ];
    let parse = |v: &[&str]| {
        v.iter()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect::<Vec<Value>>()
    };
    assert_eq!(
        Validator::check(&parse(&ok), None, Target::default()),
        Vec::<String>::new()
    );
    // Each of these breaks one rule of the importer.
    let long_post = format!(
        r#"{{"type":"post","post":{{"team":"acme","channel":"town-square","user":"bob","message":"{}","create_at":5}}}}"#,
        "x".repeat(16384)
    );
    let long_direct = format!(
        r#"{{"type":"direct_post","direct_post":{{"channel_members":["bob","bob"],"user":"bob","message":"x","create_at":7,"replies":[{{"user":"bob","message":"{}","create_at":8}}]}}}}"#,
        "x".repeat(16384)
    );
    let dm_name = format!(
        r#"{{"type":"channel","channel":{{"team":"acme","name":"{}__{}","type":"O"}}}}"#,
        "a".repeat(26),
        "b".repeat(26)
    );
    let gm_name = r#"{"type":"channel","channel":{"team":"acme","name":"0123456789abcdef0123456789abcdef01234567","type":"O"}}"#;
    let bad: Vec<(usize, &str)> = vec![
        (4, &long_post),
        (6, &long_direct),
        (2, &dm_name),
        (2, gm_name),
        (0, r#"{"type":"version","version":2}"#),
        (
            1,
            r#"{"type":"team","team":{"name":"helpdesk","display_name":"H","type":"O"}}"#,
        ),
        (
            1,
            r#"{"type":"team","team":{"name":"acme","display_name":"","type":"O"}}"#,
        ),
        (
            2,
            r#"{"type":"channel","channel":{"team":"nope","name":"town-square","type":"O"}}"#,
        ),
        (
            2,
            r#"{"type":"channel","channel":{"team":"acme","name":"town-square","type":"D"}}"#,
        ),
        (
            3,
            r#"{"type":"user","user":{"username":"bob","email":"","roles":"system_user"}}"#,
        ),
        (
            3,
            r#"{"type":"user","user":{"username":"Bob Smith","email":"b@x.org"}}"#,
        ),
        (
            3,
            r#"{"type":"user","user":{"username":"bob","email":"b@x.org","roles":"system_admin"}}"#,
        ),
        (
            4,
            r#"{"type":"post","post":{"team":"acme","channel":"town-square","user":"bob","message":"hi","create_at":0}}"#,
        ),
        (
            4,
            r#"{"type":"post","post":{"team":"acme","channel":"town-square","user":"eve","message":"hi","create_at":5}}"#,
        ),
        (
            4,
            r#"{"type":"post","post":{"team":"acme","channel":"town-square","user":"bob","message":"hi","create_at":5,"reactions":[{"user":"bob","emoji":"+1","create_at":4}]}}"#,
        ),
        (
            5,
            r#"{"type":"direct_channel","direct_channel":{"members":["bob"]}}"#,
        ),
    ];
    for (i, line) in bad {
        let mut v = ok.to_vec();
        v[i] = line;
        assert!(
            !Validator::check(&parse(&v), None, Target::default()).is_empty(),
            "not caught: {line}"
        );
    }
    // A team that is full on a server whose TeamSettings.MaxUsersPerTeam is lower.
    let full = Target {
        max_users_per_team: 0,
        ..Target::default()
    };
    assert!(!Validator::check(&parse(&ok), None, full).is_empty());
    // A direct message between mmctl's limit and the server's: only mmctl complains.
    let mut v = ok.to_vec();
    let direct_4001 = format!(
        r#"{{"type":"direct_post","direct_post":{{"channel_members":["bob","bob"],"user":"bob","message":"{}","create_at":7}}}}"#,
        "x".repeat(4001)
    );
    v[6] = &direct_4001;
    assert!(Validator::check(&parse(&v), None, Target::default()).is_empty());
    assert_eq!(mmctl_long_direct_messages(&parse(&v)), 1);
    assert_eq!(mmctl_long_direct_messages(&parse(&ok)), 0);
    // Out of order: a post before the users.
    let mut v = ok.to_vec();
    v.swap(3, 4);
    assert!(!Validator::check(&parse(&v), None, Target::default()).is_empty());
}
