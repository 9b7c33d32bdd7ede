//! The backup engine: walks the API in the original's order and hands every object to the store.
//!
//! Order of work: direct channels, group channels, team channels (team, icon, channels,
//! members), users, custom emojis. The zip is made by the caller.

mod channel;
mod clock;
pub mod inventory;
mod people;
mod pool;
pub mod select;
mod walk;

use std::cell::{Cell, RefCell};
use std::collections::{BTreeSet, HashMap, HashSet};
use std::path::Path;
use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use rand::Rng;

use crate::api::model::{Channel, Member, Raw, Team, User};
use crate::api::{ApiError, Client};
use crate::cancel::Cancel;
use crate::config::ChannelsConfig;
use crate::model::ChannelKind;
use crate::store::layout::{self, Place};
use crate::store::{stored_members, State, Store};
use channel::ChannelStats;
use serde_json::value::RawValue;

/// What to back up (the skip options of the command line).
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub update_old_posts: bool,
    pub skip_direct: bool,
    pub skip_groups: bool,
    pub skip_teams: bool,
    pub skip_users: bool,
    pub skip_user_images: bool,
    pub skip_emojis: bool,
    /// Up to this many seconds of random pause between backup units.
    pub step_jitter: f64,
    /// Channels walked at the same time; attachments (of each channel) and images downloaded
    /// at the same time.
    pub jobs: usize,
    /// `--reread-every DAYS`: also read in full the channels whose turn it is (0: never).
    pub reread_every: u32,
    /// Where the run's progress is counted (for the status line).
    pub progress: std::sync::Arc<crate::progress::Progress>,
}

/// What a run did (the `counts` of the summary JSON; its failures are listed on their own).
#[derive(Debug, Default, Clone, serde::Serialize)]
pub struct Summary {
    pub channels: u64,
    pub posts_seen: u64,
    pub posts_new: u64,
    pub posts_updated: u64,
    pub posts_edited: u64,
    pub posts_deleted: u64,
    pub files: u64,
    pub bytes: u64,
    pub users: u64,
    #[serde(rename = "profile_images")]
    pub images: u64,
    pub emojis: u64,
    /// Items that could not be backed up (the run went on without them).
    #[serde(skip)]
    pub failures: Vec<String>,
    /// Channels whose posts the server refuses by policy (archived channels on a server with
    /// `ExperimentalViewArchivedChannels` off): kept as they are, not a failure.
    #[serde(skip)]
    pub refused_channels: Vec<String>,
    /// Ids of users the server does not show (`POST /users/ids` left them out: a guest
    /// account or a restrictive permission scheme): their posts are kept, without a profile.
    #[serde(skip)]
    pub hidden_users: Vec<String>,
    /// Channels of a type this version does not know and that belong to no team: not read
    /// (`<name> (type <T>)`). Unknown types of a team are read as its channels.
    #[serde(skip)]
    pub skipped_channels: Vec<String>,
}

impl Summary {
    fn add(&mut self, s: &ChannelStats) {
        self.posts_seen += s.posts_seen;
        self.posts_new += s.posts_new;
        self.posts_updated += s.posts_updated;
        self.posts_edited += s.posts_edited;
        self.posts_deleted += s.posts_deleted;
        self.files += s.files;
        self.bytes += s.bytes;
    }
}

/// A group channel with its members' ids, and the members themselves if they were fetched.
struct GroupMembers<'c> {
    channel: &'c Raw<Channel>,
    ids: Vec<String>,
    fetched: Option<Vec<Raw<Member>>>,
}

/// One backup run.
pub struct Engine<'a> {
    client: &'a Arc<Client>,
    store: &'a Store,
    cfg: &'a ChannelsConfig,
    opts: &'a Options,
    cancel: Cancel,
    me: Raw<User>,
    /// Users known so far, by id (fetched in this run, or read from the backup).
    users: HashMap<String, Raw<User>>,
    /// The ids in `users` that were fetched from the server in this run.
    fresh: BTreeSet<String>,
    /// Cursors of the channels whose walk completed. The fields in a `RefCell` are shared by
    /// the channels walked at the same time (on one task; never borrowed across an `.await`).
    state: RefCell<State>,
    /// When this run started (ms since the epoch), for records of deletions.
    now: i64,
    /// Every user id seen as a member, author or reactor.
    seen: RefCell<BTreeSet<String>>,
    /// Users with a stored profile when the run started (read at the first save of the state).
    stored_users: RefCell<Option<BTreeSet<String>>>,
    summary: RefCell<Summary>,
    /// Attachment downloads in flight over all channels walked at once (`--jobs` at most, but
    /// one for each channel with none of its own in flight).
    downloads: Rc<Cell<usize>>,
    /// The channels walked in this run: a channel is walked at most once (its folder's index
    /// and its threads are never taken before another walk of it ended).
    walked: RefCell<HashSet<String>>,
}

impl<'a> Engine<'a> {
    pub fn new(
        client: &'a Arc<Client>,
        store: &'a Store,
        cfg: &'a ChannelsConfig,
        opts: &'a Options,
        me: Raw<User>,
        cancel: Cancel,
    ) -> Self {
        let mut seen = BTreeSet::new();
        seen.insert(me.v.id.clone());
        let mut users = HashMap::new();
        let me_again = Raw::parse(me.raw.clone()).expect("parsed once already");
        users.insert(me.v.id.clone(), me_again);
        let state = State::default();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let fresh = BTreeSet::from([me.v.id.clone()]);
        Engine {
            client,
            store,
            cfg,
            opts,
            cancel,
            me,
            users,
            fresh,
            state: RefCell::new(state),
            now,
            seen: RefCell::new(seen),
            stored_users: RefCell::new(None),
            summary: RefCell::new(Summary::default()),
            downloads: Rc::default(),
            walked: RefCell::default(),
        }
    }

    /// Runs the whole backup (without the zip).
    ///
    /// # Errors
    /// The first error that is not limited to one item; [`crate::cancel::Cancelled`] on Ctrl+C.
    /// `teams` and `channels`: the user's teams and channels (`GET /users/me/channels`, one
    /// request for every team's channels and the direct and group channels).
    ///
    /// The summary is returned whatever the outcome: on an error it counts what was done
    /// before it (for `--summary-json`).
    pub async fn run(
        mut self,
        teams: Vec<Raw<Team>>,
        channels: Vec<Raw<Channel>>,
    ) -> (Summary, Result<()>) {
        let r = self.phases(teams, channels).await;
        let mut summary = self.summary.into_inner();
        // Damage met on the way (a FIFO where a file belongs), also where nothing had to be
        // written: the run is partial and names it, once.
        for (path, what) in crate::store::links::take_damaged() {
            let path = path.display().to_string();
            if !summary.failures.iter().any(|f| f.contains(&path)) {
                summary.failures.push(format!("{path}: {what}"));
            }
        }
        (summary, r)
    }

    async fn phases(&mut self, teams: Vec<Raw<Team>>, channels: Vec<Raw<Channel>>) -> Result<()> {
        let state = self.state.get_mut();
        *state = State::load(self.store.root());
        if state.post_names.is_none() {
            let zone = self
                .store
                .detect_post_zone()
                .unwrap_or(layout::NameZone::Utc);
            if zone == layout::NameZone::Local {
                tracing::info!("post files in this data dir are named in local time (as by the original matterbak); keeping that");
            }
            state.post_names = Some(zone);
        }
        // Each channel once, whatever the server's list repeats.
        let mut ids = HashSet::new();
        let channels: Vec<Raw<Channel>> = (channels.into_iter())
            .filter(|c| ids.insert(c.v.id.clone()))
            .collect();
        let (personal, team_channels): (Vec<Raw<Channel>>, Vec<Raw<Channel>>) =
            channels.into_iter().partition(|c| c.v.kind.is_personal());
        // A type this version does not know (a newer server's): read with its team's channels
        // when it has a team, else listed as skipped.
        let (team_channels, unknown): (Vec<Raw<Channel>>, Vec<Raw<Channel>>) = team_channels
            .into_iter()
            .partition(|c| c.v.kind.is_team() || !c.v.team_id.is_empty());
        for c in &unknown {
            let label = format!("{} (type {})", c.v.name, c.v.kind.code());
            tracing::warn!(
                "channel {label}: a type this version of matterbak does not know, and of no team; not read"
            );
            self.summary.get_mut().skipped_channels.push(label);
        }

        let progress = self.opts.progress.clone();
        if !self.opts.skip_direct {
            progress.phase("direct");
            let r = self.direct_channels(&personal).await;
            self.unless_link(r, layout::DIRECT)?;
            self.step_jitter().await?;
        }
        if !self.opts.skip_groups {
            progress.phase("groups");
            let r = self.group_channels(&personal).await;
            self.unless_link(r, layout::GROUPS)?;
            self.step_jitter().await?;
        }
        if !self.opts.skip_teams {
            let r = self.team_channels(&teams, &team_channels).await;
            self.unless_link(r, layout::TEAMS)?;
            self.step_jitter().await?;
        }
        let refused = &mut self.summary.get_mut().refused_channels;
        if !refused.is_empty() {
            // Channels walked at the same time end in any order: list them in a stable one.
            refused.sort();
            tracing::warn!(
                "the server does not show the posts of archived channels (TeamSettings.ExperimentalViewArchivedChannels is off); kept what the backup has of {} (an admin can turn the setting on)",
                refused.join(", ")
            );
        }
        if !self.opts.skip_users {
            progress.phase("users");
            let r = self.backup_users().await;
            self.item(r, "users")?;
            self.step_jitter().await?;
        }
        if !self.opts.skip_emojis {
            progress.phase("emojis");
            let r = self.backup_emojis().await;
            self.item(r, "custom emojis")?;
            self.step_jitter().await?;
        }
        if self.opts.skip_users {
            self.state.get_mut().pending_users.clear();
        }
        self.save_state()?;
        Ok(())
    }

    /// Checks, before anything is written, that every username of `direct` and `groups` is a
    /// user of the server. Names of direct partners and of users in the backup count as known;
    /// only other names are looked up (one request each).
    ///
    /// # Errors
    /// A usage [`Fatal`](crate::error::Fatal) naming the users that do not exist.
    pub async fn check_selection(
        &mut self,
        channels: &[Raw<Channel>],
        channels_file: &Path,
    ) -> Result<()> {
        let mut names: BTreeSet<&String> = BTreeSet::new();
        if !self.opts.skip_direct {
            names.extend(&self.cfg.direct);
        }
        if !self.opts.skip_groups {
            names.extend(
                self.cfg
                    .groups
                    .exact
                    .iter()
                    .chain(&self.cfg.groups.subset)
                    .flatten(),
            );
        }
        if names.is_empty() {
            return Ok(());
        }
        let me = self.me.v.id.clone();
        let partners: Vec<String> = channels
            .iter()
            .filter(|c| c.v.kind == ChannelKind::Direct)
            .filter_map(|c| select::direct_partner(&c.v.name, &me))
            .collect();
        self.resolve_users(partners).await?;
        let mut known: BTreeSet<String> =
            self.users.values().map(|u| u.v.username.clone()).collect();
        known.extend(self.store.stored_usernames());
        let mut missing = Vec::new();
        for name in names.into_iter().filter(|n| !known.contains(*n)) {
            if !self
                .client
                .user_exists(name)
                .await
                .with_context(|| format!("looking up user {name}"))?
            {
                missing.push(format!("\"{name}\""));
            }
        }
        if missing.is_empty() {
            return Ok(());
        }
        Err(crate::error::Fatal::usage(format!(
            "channels file {}: no user called {} on the server, or none you may see (check the spelling of the usernames in \"direct\" and \"groups\")",
            channels_file.display(),
            missing.join(", ")
        ))
        .into())
    }

    /// Saves the state (after a checkpoint of the data), with the users seen so far whose
    /// profile is not stored yet (stored ones are refreshed by every users phase anyway; so a
    /// run that finds nothing new leaves the state file as it was).
    fn save_state(&self) -> Result<()> {
        let mut stored_users = self.stored_users.borrow_mut();
        let stored = match &mut *stored_users {
            Some(s) => s,
            None => stored_users.insert(self.store.stored_ids(Path::new(layout::USERS))?),
        };
        let mut state = self.state.borrow_mut();
        let unstored = self.seen.borrow();
        let unstored = unstored.iter().filter(|id| !stored.contains(*id));
        state.pending_users.extend(unstored.cloned());
        Ok(self.store.save_state(&state)?)
    }

    /// Records a failure that concerns one item (a channel, the users, the emojis) and lets the
    /// run go on; anything else (disk, interruption, authentication, a server gone) ends it.
    ///
    /// A channel whose posts the server refuses by policy (see [`is_policy_refusal`]) is no
    /// failure: it is listed once at the end of the channels (and in the summary), and keeps
    /// what the backup has of it and its cursor.
    fn item<T>(&self, r: Result<T>, label: &str) -> Result<Option<T>> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(e) if is_policy_refusal(&e) => {
                tracing::debug!("{label}: {e:#}");
                self.summary
                    .borrow_mut()
                    .refused_channels
                    .push(label.to_string());
                Ok(None)
            }
            Err(e) if is_item_failure(&e) => {
                let msg = format!("{label}: {e:#}");
                tracing::error!("{msg} (the next run tries again)");
                self.summary.borrow_mut().failures.push(msg);
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Like [`Engine::item`], for a symbolic link in the data dir only: what would be written
    /// through it is left out, the rest of the run goes on; any other error ends the run.
    fn unless_link<T>(&self, r: Result<T>, label: &str) -> Result<Option<T>> {
        match r {
            Err(e) if !crate::store::links::is_link_error(&e) => Err(e),
            r => self.item(r, label),
        }
    }

    async fn step_jitter(&self) -> Result<()> {
        if self.opts.step_jitter > 0.0 {
            let s = rand::rng().random_range(0.0..self.opts.step_jitter);
            tracing::info!("step jitter: sleeping {s:.2}s");
            self.cancel.sleep(Duration::from_secs_f64(s)).await?;
        }
        Ok(())
    }

    /// Makes sure these users are known: from the backup's users folder where they are stored
    /// (the users phase refreshes them), else with one `POST /users/ids` for all the others.
    async fn resolve_users(&mut self, ids: impl IntoIterator<Item = String>) -> Result<()> {
        let unknown: BTreeSet<String> = ids
            .into_iter()
            .filter(|id| !self.users.contains_key(id))
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        let stored = if self.store.is_real_dir(Path::new(layout::USERS)) {
            Some(self.store.id_dir(Path::new(layout::USERS))?)
        } else {
            None
        };
        let mut ask = Vec::new();
        for id in unknown {
            let raw = stored.as_ref().and_then(|d| {
                let name = d.names_of(&id).find(|n| n.ends_with(".json"))?.to_string();
                let text = String::from_utf8(d.read(&name)?).ok()?;
                Raw::<User>::parse(RawValue::from_string(text).ok()?).ok()
            });
            match raw {
                Some(u) => {
                    self.users.insert(id, u);
                }
                None => ask.push(id),
            }
        }
        if !ask.is_empty() {
            for u in self
                .client
                .users_by_ids(&ask, None)
                .await
                .context("fetching users")?
            {
                self.fresh.insert(u.v.id.clone());
                self.users.insert(u.v.id.clone(), u);
            }
        }
        Ok(())
    }

    fn username(&self, id: &str) -> String {
        self.users
            .get(id)
            .map_or_else(|| id.to_string(), |u| u.v.username.clone())
    }

    async fn direct_channels(&mut self, personal: &[Raw<Channel>]) -> Result<()> {
        let me = self.me.v.id.clone();
        let mut dms: Vec<(&Raw<Channel>, String)> = Vec::new();
        for c in personal.iter().filter(|c| c.v.kind == ChannelKind::Direct) {
            let partner = match select::direct_partner(&c.v.name, &me) {
                Some(p) => p,
                // Not named `<id>__<id>`: ask for the members instead.
                None => {
                    let r = self
                        .client
                        .channel_members(&c.v.id)
                        .await
                        .context("members of a direct channel");
                    let Some(members) = self.item(r, &format!("direct channel {}", c.v.id))? else {
                        continue;
                    };
                    members
                        .iter()
                        .map(|m| m.v.user_id.clone())
                        .find(|u| *u != me)
                        .unwrap_or_else(|| me.clone())
                }
            };
            dms.push((c, partner));
        }
        self.resolve_users(dms.iter().map(|(_, p)| p.clone()))
            .await?;
        let mut wanted: BTreeSet<&String> = self.cfg.direct.iter().collect();
        tracing::info!(
            "direct channels: {} found, {} configured",
            dms.len(),
            wanted.len()
        );
        let dir = RefCell::new(self.store.id_dir(Path::new(layout::DIRECT))?);
        self.opts.progress.add_total(
            dms.iter()
                .filter(|(_, p)| wanted.contains(&self.username(p)))
                .count() as u64,
        );
        let mut chosen = Vec::new();
        for (c, partner) in dms {
            let name = self.username(&partner);
            if wanted.remove(&name) {
                chosen.push((c, name));
            } else {
                tracing::debug!("skipping direct channel with {name}");
            }
        }
        let this = &*self;
        pool::each(
            this.opts.jobs,
            chosen,
            |(c, name)| {
                let dir = &dir;
                async move {
                    let label = format!("direct/{name}");
                    let r = this
                        .backup_channel(dir, Place::of(&c.v.kind), c, None, &name, &label)
                        .await;
                    (label, r)
                }
            },
            |(label, r)| this.item(r, &label).map(drop),
        )
        .await?;
        if !wanted.is_empty() {
            tracing::warn!(
                "configured but missing direct channels: {}",
                serde_json::to_string(&wanted)?
            );
        }
        Ok(())
    }

    /// Group channels are named by their other members: taken from the stored members list
    /// when there is one (no request), else fetched.
    async fn group_channels(&mut self, personal: &[Raw<Channel>]) -> Result<()> {
        let groups: Vec<&Raw<Channel>> = personal
            .iter()
            .filter(|c| c.v.kind == ChannelKind::Group)
            .collect();
        tracing::info!("group channels: {} found", groups.len());
        let dir = RefCell::new(self.store.id_dir(Path::new(layout::GROUPS))?);
        let mut with_members: Vec<GroupMembers> = Vec::new();
        for c in groups {
            self.cancel.check()?;
            let stored = if self.opts.update_old_posts {
                None
            } else {
                stored_members(&dir.borrow(), &c.v.id)
            };
            match stored {
                Some(ids) => with_members.push(GroupMembers {
                    channel: c,
                    ids,
                    fetched: None,
                }),
                None => {
                    let r = self
                        .client
                        .channel_members(&c.v.id)
                        .await
                        .context("members of a group channel");
                    let label = format!("group channel {} ({})", c.v.id, c.v.display_name);
                    let Some(m) = self.item(r, &label)? else {
                        continue;
                    };
                    with_members.push(GroupMembers {
                        channel: c,
                        ids: m.iter().map(|m| m.v.user_id.clone()).collect(),
                        fetched: Some(m),
                    });
                }
            }
        }
        self.resolve_users(with_members.iter().flat_map(|g| g.ids.iter().cloned()))
            .await?;
        let mut chosen = Vec::new();
        for GroupMembers {
            channel: c,
            ids,
            fetched: members,
        } in with_members
        {
            let others: BTreeSet<String> = ids
                .iter()
                .filter(|u| **u != self.me.v.id)
                .map(|u| self.username(u))
                .collect();
            let name = layout::join_parts(&others.iter().cloned().collect::<Vec<_>>());
            if self.cfg.group_selected(&others) {
                self.opts.progress.add_total(1);
                chosen.push((c, members, name));
            } else {
                tracing::debug!("skipping group channel with {name}");
            }
        }
        let this = &*self;
        pool::each(
            this.opts.jobs,
            chosen,
            |(c, members, name)| {
                let dir = &dir;
                async move {
                    let label = format!("groups/{name}");
                    let r = this
                        .backup_channel(dir, Place::of(&c.v.kind), c, members, &name, &label)
                        .await;
                    (label, r)
                }
            },
            |(label, r)| this.item(r, &label).map(drop),
        )
        .await?;
        Ok(())
    }

    async fn team_channels(
        &mut self,
        teams: &[Raw<Team>],
        channels: &[Raw<Channel>],
    ) -> Result<()> {
        let mut teams_dir = self.store.id_dir(Path::new(layout::TEAMS))?;
        self.opts.progress.phase("teams");
        // First each team's object and folder, then the channels of all teams in one pool
        // (a team with one large channel does not hold up the next team's channels), then
        // each team's members.
        // Each entry of the selection resolved to its team first: a team named twice (by its
        // name and its display name) is one team, whose channels are walked once, the union
        // of what its entries select.
        let mut entries: Vec<(&Raw<Team>, Vec<&str>)> = Vec::new();
        for key in self.cfg.teams.keys() {
            let Some(team) = teams
                .iter()
                .find(|t| t.v.name == *key || t.v.display_name == *key)
            else {
                tracing::warn!(
                    "team \"{key}\": {} is not a member of such a team, skipping it",
                    self.me.v.username
                );
                continue;
            };
            match entries.iter_mut().find(|(t, _)| t.v.id == team.v.id) {
                Some((_, keys)) => keys.push(key),
                None => entries.push((team, vec![key])),
            }
        }
        let mut work = Vec::new();
        for (team, keys) in entries {
            self.cancel.check()?;
            let key = keys[0];
            if keys.len() > 1 {
                tracing::info!(
                    "team \"{}\": named {} times in the selection ({}); its channels are read once",
                    team.v.name,
                    keys.len(),
                    keys.join(", ")
                );
            }
            let tid = team.v.id.clone();
            // Open and private channels, and those of a type this version does not know.
            let all: Vec<Raw<Channel>> = channels
                .iter()
                .filter(|c| c.v.team_id == tid)
                .map(|c| Raw::parse(c.raw.clone()))
                .collect::<Result<_, _>>()?;
            for c in all.iter().filter(|c| !c.v.kind.is_team()) {
                tracing::info!(
                    "{}/{}: type {}, which this version of matterbak does not know; read as a channel of the team",
                    team.v.name,
                    c.v.name,
                    c.v.kind.code()
                );
            }
            // channel id -> the entries that select it, in the order first selected.
            let mut picked: Vec<(&Raw<Channel>, Vec<&str>)> = Vec::new();
            for &k in &keys {
                let sel = self.cfg.team(k).map_err(anyhow::Error::msg)?;
                let choice = select::team_channels(&all, &sel);
                if !choice.missing_include.is_empty() {
                    tracing::warn!(
                        "team \"{k}\": include names not found: {}",
                        serde_json::to_string(&choice.missing_include)?
                    );
                }
                if !choice.missing_exclude.is_empty() {
                    tracing::warn!(
                        "team \"{k}\": exclude names not found: {}",
                        serde_json::to_string(&choice.missing_exclude)?
                    );
                }
                tracing::info!(
                    "team \"{k}\": {}/{} channels selected, {} skipped",
                    choice.selected.len(),
                    all.len(),
                    choice.skipped.len()
                );
                for c in choice.selected {
                    match picked.iter_mut().find(|(p, _)| p.v.id == c.v.id) {
                        Some((_, by)) => by.push(k),
                        None => picked.push((c, vec![k])),
                    }
                }
            }
            for (c, by) in picked.iter().filter(|(_, by)| by.len() > 1) {
                tracing::debug!(
                    "{}/{}: selected by the entries {}; read once",
                    team.v.name,
                    c.v.name,
                    by.join(", ")
                );
            }
            self.opts.progress.add_total(picked.len() as u64);
            // A team whose id cannot be a file name: none of it is stored.
            let r = layout::object_base(&tid, &team.v.name).map_err(Into::into);
            let Some(team_base) = self.item(r, &format!("team {key}"))? else {
                continue;
            };
            let r = self.backup_team_object(&mut teams_dir, team).await;
            self.item(r, &format!("team {key}"))?;
            let r = teams_dir.adopt_dir(&tid, &team_base).and_then(|_| {
                self.store
                    .id_dir(&Path::new(layout::TEAMS).join(&team_base))
            });
            // A link in place of the team's folder: that team is not written this run.
            let Some(channels_dir) =
                self.unless_link(r.map_err(Into::into), &format!("team {key}"))?
            else {
                continue;
            };
            // Owned, to outlive this team's list of channels.
            let selected = picked
                .iter()
                .map(|(c, _)| Raw::parse(c.raw.clone()))
                .collect::<Result<_, _>>()?;
            work.push(TeamWork {
                key,
                team,
                team_base,
                dir: RefCell::new(channels_dir),
                selected,
                members_changed: Cell::new(false),
            });
        }

        let this = &*self;
        let all = work
            .iter()
            .flat_map(|w| w.selected.iter().map(move |c| (w, c)));
        pool::each(
            this.opts.jobs,
            all,
            |(w, c)| async move {
                let label = format!("{}/{}", w.team.v.name, c.v.name);
                let r = this
                    .backup_channel(&w.dir, Place::of(&c.v.kind), c, None, &c.v.name, &label)
                    .await;
                (w, label, r)
            },
            |(w, label, r)| {
                // A failed channel may hide a join or leave; a refused one is not read at all.
                let refused = r.as_ref().err().is_some_and(is_policy_refusal);
                let done = this.item(r, &label)?;
                if done.unwrap_or(!refused) {
                    w.members_changed.set(true);
                }
                Ok(())
            },
        )
        .await?;

        for w in &work {
            let (key, tid, team_base) = (w.key, &w.team.v.id, &w.team_base);
            // Team members: when a post says someone joined or left, on a full read, or when
            // they were never stored.
            let members_name = layout::members_file(team_base);
            let owed = self.state.borrow().pending_team_members.contains(tid);
            if w.members_changed.get()
                || owed
                || self.opts.update_old_posts
                || !teams_dir.contains(&members_name)
            {
                let r = self
                    .client
                    .team_members(tid)
                    .await
                    .with_context(|| format!("members of team {key}"));
                let Some(members) = self.item(r, &format!("team {key}"))? else {
                    continue;
                };
                self.seen
                    .get_mut()
                    .extend(members.iter().map(|m| m.v.user_id.clone()));
                teams_dir.write(
                    &members_name,
                    &channel::json_array(members.iter().map(|m| m.raw.get())),
                )?;
                self.store.checkpoint()?;
                self.state.get_mut().pending_team_members.remove(tid);
                self.save_state()?;
            }
            teams_dir.remove_others(tid, &[&format!("{team_base}.json"), &members_name], |n| {
                n.ends_with(".json")
            })?;
            self.store.checkpoint()?;
        }
        Ok(())
    }
}

/// A team whose channels are walked: what its members step needs afterwards.
struct TeamWork<'t> {
    key: &'t str,
    team: &'t Raw<Team>,
    team_base: String,
    dir: RefCell<crate::store::IdDir>,
    selected: Vec<Raw<Channel>>,
    /// A channel of the team showed (or may hide) a change of the team's members.
    members_changed: Cell<bool>,
}

/// The server's error id for the posts of an archived channel when
/// `TeamSettings.ExperimentalViewArchivedChannels` is off (`api4/post.go getPostsForChannel`,
/// servers up to v10).
const ARCHIVED_HIDDEN: &str = "api.user.view_archived_channels.get_posts_for_channel.app_error";

/// A 403 by server policy for a channel the server lists: not the backup's fault, not
/// something a retry or the next run changes.
fn is_policy_refusal(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<ApiError>()
            .is_some_and(|a| a.status() == Some(403) && a.server_id() == Some(ARCHIVED_HIDDEN))
    })
}

/// An error that concerns one item: the server answered with an error for it (after retries),
/// sent something broken, or a file of it could not be fetched.
fn is_item_failure(e: &anyhow::Error) -> bool {
    // A symbolic link in the data dir, or an id that cannot be a file name: what would be
    // written there is left out.
    if crate::store::links::is_link_error(e) || layout::is_bad_id(e) {
        return true;
    }
    for cause in e.chain() {
        if cause.downcast_ref::<channel::ItemError>().is_some() {
            return true;
        }
        if let Some(a) = cause.downcast_ref::<ApiError>() {
            return !matches!(
                a,
                ApiError::Cancelled
                    | ApiError::Connect { .. }
                    | ApiError::Tls { .. }
                    | ApiError::Status { status: 401, .. }
            );
        }
    }
    false
}
