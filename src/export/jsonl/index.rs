//! The merged view of one or more backups, keyed as the importer keys things: teams and users by
//! name, team channels by team and name, direct and group channels by their members. The same
//! object (by id) in several backups appears once; the posts stay on disk until written.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use anyhow::Result;
use serde_json::Value;

use super::names;
use super::Stats;
use crate::export::model::{Backup, ChannelInfo, Emoji};
use crate::store::layout;
use crate::store::layout::Place;
use crate::store::read;

/// One backup's copy of a channel.
#[derive(Debug, Clone)]
pub struct Src {
    pub backup: usize,
    pub info: ChannelInfo,
}

/// A team line: its import name and the newest stored team object.
#[derive(Debug)]
pub struct TeamOut {
    pub json: Value,
}

/// A channel line and where its posts are.
#[derive(Debug)]
pub struct ChannelOut {
    pub json: Value,
    pub sources: Vec<Src>,
}

/// A direct or group channel: its members (usernames, sorted) and where its posts are.
#[derive(Debug)]
pub struct DirectOut {
    pub json: Value,
    pub sources: Vec<Src>,
}

/// A user line: the stored user object (`None` for a placeholder of a user the backup refers to
/// but does not have), the ids that map to this username, and the email to import.
#[derive(Debug)]
pub struct UserOut {
    pub ids: BTreeSet<String>,
    pub json: Option<Value>,
    pub email: String,
}

/// A user's membership of a team, with the channels of it (channel name -> admin).
#[derive(Debug, Default, Clone)]
pub struct Membership {
    pub team_admin: bool,
    pub channels: BTreeMap<String, bool>,
}

/// A custom emoji and the backup that has its image.
#[derive(Debug)]
pub struct EmojiOut {
    pub backup: usize,
    pub emoji: Emoji,
}

#[derive(Default)]
pub struct Index {
    pub teams: BTreeMap<String, TeamOut>,
    pub channels: BTreeMap<(String, String), ChannelOut>,
    pub directs: BTreeMap<Vec<String>, DirectOut>,
    pub users: BTreeMap<String, UserOut>,
    pub emojis: BTreeMap<String, EmojiOut>,
    /// user id -> username to import.
    user_names: HashMap<String, String>,
    /// user id -> team name -> membership.
    members: HashMap<String, BTreeMap<String, Membership>>,
}

impl Index {
    /// Reads the lists of every backup (teams, channels, users, members files, emojis) and
    /// merges them. Renamed and shortened values are reported and counted in `stats`.
    pub fn build(backups: &[Backup], stats: &mut Stats) -> Result<Index> {
        let mut ix = Index::default();
        ix.add_users(backups, stats);
        let team_names = ix.add_teams(backups, stats);
        ix.add_channels(backups, &team_names, stats)?;
        ix.add_team_members(backups, &team_names)?;
        ix.add_emojis(backups)?;
        Ok(ix)
    }

    /// Keeps only these team channels, direct channels and users (ids) and the teams of the
    /// channels kept: what a filter's posts need. The members of a direct channel kept stay.
    pub fn retain(
        &mut self,
        channels: &BTreeSet<(String, String)>,
        directs: &BTreeSet<Vec<String>>,
        user_ids: &BTreeSet<String>,
    ) {
        self.channels.retain(|k, _| channels.contains(k));
        self.directs.retain(|k, _| directs.contains(k));
        let teams: BTreeSet<&String> = self.channels.keys().map(|(t, _)| t).collect();
        self.teams.retain(|t, _| teams.contains(t));
        let mut names: BTreeSet<&String> = (user_ids.iter())
            .filter_map(|id| self.user_names.get(id))
            .collect();
        names.extend(self.directs.keys().flatten());
        let names: BTreeSet<String> = names.into_iter().cloned().collect();
        self.users.retain(|n, _| names.contains(n));
    }

    /// The username a user id is imported as; a user the backup does not have gets a
    /// placeholder user (`unknown-<id>`) on first use.
    pub fn user(&mut self, id: &str, stats: &mut Stats) -> String {
        if let Some(n) = self.user_names.get(id) {
            return n.clone();
        }
        let base = names::placeholder_username(id);
        let mut name = base.clone();
        let mut n = 1;
        while self.users.contains_key(&name) {
            n += 1;
            name = format!("{base}-{n}");
        }
        self.users.insert(
            name.clone(),
            UserOut {
                ids: BTreeSet::from([id.to_string()]),
                json: None,
                email: String::new(),
            },
        );
        self.user_names.insert(id.to_string(), name.clone());
        stats.placeholders += 1;
        name
    }

    /// The username of a known user id (after [`Index::user`] made sure of it).
    pub fn user_name(&self, id: &str) -> Option<&str> {
        self.user_names.get(id).map(String::as_str)
    }

    /// The memberships of a user (all its ids), by team name.
    pub fn memberships(&self, u: &UserOut) -> BTreeMap<String, Membership> {
        let mut out: BTreeMap<String, Membership> = BTreeMap::new();
        for id in &u.ids {
            for (team, m) in self.members.get(id).into_iter().flatten() {
                let e = out.entry(team.clone()).or_default();
                e.team_admin |= m.team_admin;
                for (c, admin) in &m.channels {
                    *e.channels.entry(c.clone()).or_default() |= *admin;
                }
            }
        }
        out.retain(|team, _| self.teams.contains_key(team));
        out
    }

    /// Gives every user the email to import: the stored one when valid and not taken by an
    /// earlier user, else `<username>@localhost.invalid` (the server hides addresses from
    /// other users unless its privacy settings show them).
    pub fn assign_emails(&mut self, stats: &mut Stats) {
        let mut taken: BTreeSet<String> = BTreeSet::new();
        for (name, u) in self.users.iter_mut() {
            let stored = u
                .json
                .as_ref()
                .and_then(|j| j.get("email"))
                .and_then(Value::as_str)
                .and_then(names::email);
            u.email = match stored {
                Some(e) if !taken.contains(&e) => e,
                Some(e) => {
                    tracing::warn!(
                        "users {name} and another one share the email address {e}; {name} gets {}",
                        names::placeholder_email(name)
                    );
                    stats.no_email += 1;
                    names::placeholder_email(name)
                }
                None => {
                    if u.json.is_some() {
                        stats.no_email += 1;
                    }
                    names::placeholder_email(name)
                }
            };
            taken.insert(u.email.clone());
        }
    }

    fn add_users(&mut self, backups: &[Backup], stats: &mut Stats) {
        // The best record per id: one with an email first, then the newest.
        let mut best: BTreeMap<&str, &Value> = BTreeMap::new();
        for b in backups {
            for (id, u) in &b.users {
                let better = match best.get(id.as_str()) {
                    None => true,
                    Some(old) => rank(&u.json) > rank(old),
                };
                if better {
                    best.insert(id, &u.json);
                }
            }
        }
        for (id, json) in best {
            let raw = json.get("username").and_then(Value::as_str).unwrap_or("");
            let name = match names::username(raw) {
                Some(n) => n,
                None => names::placeholder_username(id),
            };
            if name != raw {
                stats.renamed += 1;
                tracing::warn!("user {raw:?} ({id}) is imported as {name} (not a valid username)");
            }
            match self.users.get_mut(&name) {
                Some(u) => {
                    tracing::warn!(
                        "users {} and {id} are both named {name}: they are imported as one user",
                        u.ids.iter().next().map(String::as_str).unwrap_or("")
                    );
                    if u.json.as_ref().is_none_or(|j| rank(json) > rank(j)) {
                        u.json = Some(json.clone());
                    }
                    u.ids.insert(id.to_string());
                }
                None => {
                    self.users.insert(
                        name.clone(),
                        UserOut {
                            ids: BTreeSet::from([id.to_string()]),
                            json: Some(json.clone()),
                            email: String::new(),
                        },
                    );
                }
            }
            self.user_names.insert(id.to_string(), name);
        }
    }

    /// Returns team id -> team name to import.
    fn add_teams(&mut self, backups: &[Backup], stats: &mut Stats) -> HashMap<String, String> {
        let mut team_names: HashMap<String, String> = HashMap::new();
        for b in backups {
            for t in &b.teams {
                let name = team_names
                    .entry(t.id.clone())
                    .or_insert_with(|| {
                        let n = names::team_name(&t.name, &t.id);
                        if n != t.name {
                            stats.renamed += 1;
                            tracing::warn!(
                                "team {:?} is imported as {n} (not a valid team name for the importer)",
                                t.name
                            );
                        }
                        n
                    })
                    .clone();
                match self.teams.get_mut(&name) {
                    Some(old) if newer(&t.json, &old.json) => old.json = t.json.clone(),
                    Some(_) => {}
                    None => {
                        self.teams.insert(
                            name,
                            TeamOut {
                                json: t.json.clone(),
                            },
                        );
                    }
                }
            }
        }
        team_names
    }

    fn add_channels(
        &mut self,
        backups: &[Backup],
        team_names: &HashMap<String, String>,
        stats: &mut Stats,
    ) -> Result<()> {
        let mut channel_names: HashMap<String, String> = HashMap::new();
        for (bi, b) in backups.iter().enumerate() {
            for c in &b.channels {
                let src = Src {
                    backup: bi,
                    info: c.clone(),
                };
                if c.place != Place::Team {
                    self.add_direct(b, src, stats)?;
                    continue;
                }
                let Some(team) = c.team_id.as_deref().and_then(|t| team_names.get(t)) else {
                    continue;
                };
                if !c.kind.is_team() {
                    stats.skipped_channels += 1;
                    tracing::warn!(
                        "{}: a team channel of type {:?} is not exported",
                        b.src.describe(&c.dir),
                        c.kind.code()
                    );
                    continue;
                }
                let name = channel_names
                    .entry(c.id.clone())
                    .or_insert_with(|| {
                        let n = names::channel_name(&c.name, &c.id);
                        if n != c.name {
                            stats.renamed += 1;
                            let why = if names::looks_like_direct_name(&c.name.to_lowercase()) {
                                "named like a direct or group channel, which the server refuses \
                                 for a team channel"
                            } else {
                                "not a valid channel name"
                            };
                            tracing::warn!(
                                "channel {team}/{:?} is imported as {n} ({why})",
                                c.name
                            );
                        }
                        n
                    })
                    .clone();
                self.add_channel_members(b, c, team, &name)?;
                match self.channels.get_mut(&(team.clone(), name.clone())) {
                    Some(old) => {
                        if newer(&c.json, &old.json) {
                            old.json = c.json.clone();
                        }
                        old.sources.push(src);
                    }
                    None => {
                        self.channels.insert(
                            (team.clone(), name),
                            ChannelOut {
                                json: c.json.clone(),
                                sources: vec![src],
                            },
                        );
                    }
                }
            }
        }
        Ok(())
    }

    fn add_direct(&mut self, b: &Backup, src: Src, stats: &mut Stats) -> Result<()> {
        let c = &src.info;
        let ids = direct_member_ids(b, c)?;
        let count_ok = match c.place {
            Place::Direct => ids.len() == 2,
            _ => (3..=8).contains(&ids.len()),
        };
        if !count_ok {
            stats.skipped_channels += 1;
            tracing::warn!(
                "{}: the members of this {} are not known ({} found), it is not exported",
                b.src.describe(&c.dir),
                c.place.label(),
                ids.len()
            );
            return Ok(());
        }
        let mut members: Vec<String> = ids.iter().map(|id| self.user(id, stats)).collect();
        members.sort();
        match self.directs.get_mut(&members) {
            Some(old) => {
                if newer(&c.json, &old.json) {
                    old.json = c.json.clone();
                }
                old.sources.push(src);
            }
            None => {
                self.directs.insert(
                    members,
                    DirectOut {
                        json: c.json.clone(),
                        sources: vec![src],
                    },
                );
            }
        }
        Ok(())
    }

    fn add_channel_members(
        &mut self,
        b: &Backup,
        c: &ChannelInfo,
        team: &str,
        channel: &str,
    ) -> Result<()> {
        for m in members_file(b, &c.dir)? {
            let Some(uid) = m.get("user_id").and_then(Value::as_str) else {
                continue;
            };
            let admin = has_role(&m, "channel_admin");
            let e = self
                .members
                .entry(uid.to_string())
                .or_default()
                .entry(team.to_string())
                .or_default();
            *e.channels.entry(channel.to_string()).or_default() |= admin;
        }
        Ok(())
    }

    fn add_team_members(
        &mut self,
        backups: &[Backup],
        team_names: &HashMap<String, String>,
    ) -> Result<()> {
        for b in backups {
            for t in &b.teams {
                let Some(team) = team_names.get(&t.id) else {
                    continue;
                };
                for m in members_file(b, &t.dir)? {
                    let left = m.get("delete_at").and_then(Value::as_i64).unwrap_or(0) > 0;
                    let Some(uid) = m.get("user_id").and_then(Value::as_str) else {
                        continue;
                    };
                    if left {
                        continue;
                    }
                    let e = self
                        .members
                        .entry(uid.to_string())
                        .or_default()
                        .entry(team.clone())
                        .or_default();
                    e.team_admin |= has_role(&m, "team_admin");
                }
            }
        }
        Ok(())
    }

    fn add_emojis(&mut self, backups: &[Backup]) -> Result<()> {
        for (bi, b) in backups.iter().enumerate() {
            for (name, e) in &b.emojis {
                if e.image.is_none() {
                    continue;
                }
                if self.emojis.contains_key(name) {
                    continue;
                }
                if !names::is_valid_emoji_name(name) {
                    tracing::warn!(
                        "custom emoji {name:?} is not exported (not a valid emoji name)"
                    );
                    continue;
                }
                // A deleted emoji whose files are still in the backup stays out.
                if e.deleted {
                    continue;
                }
                self.emojis.insert(
                    name.clone(),
                    EmojiOut {
                        backup: bi,
                        emoji: e.clone(),
                    },
                );
            }
        }
        Ok(())
    }
}

/// The members of a direct or group channel as user ids: a direct channel's name is
/// `<id>__<id>` (the same id twice for the self-DM); otherwise the members file says.
fn direct_member_ids(b: &Backup, c: &ChannelInfo) -> Result<Vec<String>> {
    if c.place == Place::Direct {
        if let Some((x, y)) = layout::pair(&c.name) {
            let id = |s: &str| s.len() == 26 && s.bytes().all(|b| b.is_ascii_alphanumeric());
            if id(x) && id(y) {
                return Ok(vec![x.to_string(), y.to_string()]);
            }
        }
    }
    let mut ids: Vec<String> = members_file(b, &c.dir)?
        .iter()
        .filter_map(|m| m.get("user_id").and_then(Value::as_str))
        .map(String::from)
        .collect();
    ids.sort();
    ids.dedup();
    if c.place == Place::Direct && ids.len() == 1 {
        ids.push(ids[0].clone());
    }
    Ok(ids)
}

/// `<dir>__members.json` of a team or channel: its member objects (none when missing).
fn members_file(b: &Backup, dir: &str) -> Result<Vec<Value>> {
    Ok(match read::members(&b.src, dir)? {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    })
}

/// A member object with this role (in `roles`) or its scheme flag (`scheme_admin`).
fn has_role(m: &Value, role: &str) -> bool {
    let in_roles = m
        .get("roles")
        .and_then(Value::as_str)
        .is_some_and(|r| r.split_whitespace().any(|x| x == role));
    in_roles || m.get("scheme_admin").and_then(Value::as_bool) == Some(true)
}

/// How good a stored user record is: one with a valid email beats one without, then the newer.
fn rank(u: &Value) -> (bool, i64) {
    let email = u
        .get("email")
        .and_then(Value::as_str)
        .and_then(names::email)
        .is_some();
    (
        email,
        u.get("update_at").and_then(Value::as_i64).unwrap_or(0),
    )
}

/// Whether object `a` was updated after `b` (by `update_at`).
fn newer(a: &Value, b: &Value) -> bool {
    let t = |v: &Value| v.get("update_at").and_then(Value::as_i64).unwrap_or(0);
    t(a) > t(b)
}
