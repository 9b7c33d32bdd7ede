//! The backup engine: walks the API in the original's order and hands every object to the store.
//!
//! Order of work: direct channels, group channels, team channels (team, icon, channels,
//! members), users, custom emojis. The zip is made by the caller.

mod channel;
mod people;
pub mod select;

use std::collections::{BTreeSet, HashMap};
use std::path::Path;
use std::time::Duration;

use anyhow::{Context, Result};
use rand::Rng;

use crate::api::model::{Channel, Raw, Team, User};
use crate::api::Client;
use crate::cancel::Cancel;
use crate::config::ChannelsConfig;
use crate::store::{layout, ChannelKind, State, Store};
pub(crate) use channel::human_bytes;
use channel::ChannelStats;

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
}

/// What a run did.
#[derive(Debug, Default)]
pub struct Summary {
    pub channels: u64,
    pub posts_seen: u64,
    pub posts_new: u64,
    pub posts_updated: u64,
    pub files: u64,
    pub bytes: u64,
    pub users: u64,
    pub images: u64,
    pub emojis: u64,
    /// Items that could not be backed up (the run went on without them).
    pub failures: Vec<String>,
}

impl Summary {
    fn add(&mut self, s: &ChannelStats) {
        self.posts_seen += s.posts_seen;
        self.posts_new += s.posts_new;
        self.posts_updated += s.posts_updated;
        self.files += s.files;
        self.bytes += s.bytes;
    }
}

/// One backup run.
pub struct Engine<'a> {
    client: &'a Client,
    store: &'a Store,
    cfg: &'a ChannelsConfig,
    opts: &'a Options,
    cancel: Cancel,
    me: Raw<User>,
    /// Users fetched so far, by id.
    users: HashMap<String, Raw<User>>,
    /// Cursors of the channels whose walk completed.
    state: State,
    /// Every user id seen as a member, author or reactor.
    seen: BTreeSet<String>,
    summary: Summary,
}

impl<'a> Engine<'a> {
    pub fn new(
        client: &'a Client,
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
        let state = State::load(store.root());
        Engine {
            client,
            store,
            cfg,
            opts,
            cancel,
            me,
            users,
            state,
            seen,
            summary: Summary::default(),
        }
    }

    /// Runs the whole backup (without the zip).
    ///
    /// # Errors
    /// The first error that is not limited to one item; [`crate::cancel::Cancelled`] on Ctrl+C.
    pub async fn run(mut self) -> Result<Summary> {
        let me_id = self.me.v.id.clone();
        let teams = self
            .client
            .teams_for_user(&me_id)
            .await
            .context("listing your teams")?;
        // DMs and groups appear in every team's channel list; without a team, ask for all.
        let mut team_lists: HashMap<String, Vec<Raw<Channel>>> = HashMap::new();
        let personal: Vec<Raw<Channel>> = if self.opts.skip_direct && self.opts.skip_groups {
            Vec::new()
        } else if let Some(first) = teams.first() {
            let list = self
                .client
                .channels_for_team(&me_id, &first.v.id)
                .await
                .context("listing your channels")?;
            let personal = list
                .iter()
                .filter(|c| matches!(c.v.kind.as_str(), "D" | "G"))
                .map(|c| Raw::parse(c.raw.clone()))
                .collect::<Result<_, _>>()?;
            team_lists.insert(first.v.id.clone(), list);
            personal
        } else {
            let list = self
                .client
                .channels_for_user(&me_id)
                .await
                .context("listing your channels")?;
            list.into_iter()
                .filter(|c| matches!(c.v.kind.as_str(), "D" | "G"))
                .collect()
        };

        if !self.opts.skip_direct {
            self.direct_channels(&personal).await?;
            self.step_jitter().await?;
        }
        if !self.opts.skip_groups {
            self.group_channels(&personal).await?;
            self.step_jitter().await?;
        }
        if !self.opts.skip_teams {
            self.team_channels(&teams, &mut team_lists).await?;
            self.step_jitter().await?;
        }
        if !self.opts.skip_users {
            self.backup_users().await?;
            self.step_jitter().await?;
        }
        if !self.opts.skip_emojis {
            self.backup_emojis().await?;
            self.step_jitter().await?;
        }
        self.store.checkpoint()?;
        Ok(self.summary)
    }

    async fn step_jitter(&self) -> Result<()> {
        if self.opts.step_jitter > 0.0 {
            let s = rand::rng().random_range(0.0..self.opts.step_jitter);
            tracing::info!("step jitter: sleeping {s:.2}s");
            self.cancel.sleep(Duration::from_secs_f64(s)).await?;
        }
        Ok(())
    }

    /// Makes sure these users are known (one `POST /users/ids` for all unknown ones).
    async fn resolve_users(&mut self, ids: impl IntoIterator<Item = String>) -> Result<()> {
        let unknown: Vec<String> = ids
            .into_iter()
            .filter(|id| !self.users.contains_key(id))
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect();
        if unknown.is_empty() {
            return Ok(());
        }
        for u in self
            .client
            .users_by_ids(&unknown)
            .await
            .context("fetching users")?
        {
            self.users.insert(u.v.id.clone(), u);
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
        for c in personal.iter().filter(|c| c.v.kind == "D") {
            let partner = match select::direct_partner(&c.v.name, &me) {
                Some(p) => p,
                // Not named `<id>__<id>`: ask for the members instead.
                None => {
                    let members = self
                        .client
                        .channel_members(&c.v.id)
                        .await
                        .context("members of a direct channel")?;
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
        let mut dir = self.store.id_dir(Path::new(layout::DIRECT))?;
        for (c, partner) in dms {
            let name = self.username(&partner);
            if wanted.remove(&name) {
                self.backup_channel(
                    &mut dir,
                    ChannelKind::Direct,
                    c,
                    None,
                    &name,
                    &format!("direct/{name}"),
                )
                .await?;
            } else {
                tracing::debug!("skipping direct channel with {name}");
            }
        }
        if !wanted.is_empty() {
            tracing::warn!(
                "configured but missing direct channels: {}",
                serde_json::to_string(&wanted)?
            );
        }
        Ok(())
    }

    async fn group_channels(&mut self, personal: &[Raw<Channel>]) -> Result<()> {
        let groups: Vec<&Raw<Channel>> = personal.iter().filter(|c| c.v.kind == "G").collect();
        tracing::info!("group channels: {} found", groups.len());
        let mut dir = self.store.id_dir(Path::new(layout::GROUPS))?;
        // Every group's members first, so that one request resolves all their names.
        let mut with_members = Vec::new();
        for c in groups {
            self.cancel.check()?;
            let members = self
                .client
                .channel_members(&c.v.id)
                .await
                .context("members of a group channel")?;
            with_members.push((c, members));
        }
        self.resolve_users(
            with_members
                .iter()
                .flat_map(|(_, m)| m.iter().map(|m| m.v.user_id.clone())),
        )
        .await?;
        for (c, members) in with_members {
            let others: BTreeSet<String> = members
                .iter()
                .filter(|m| m.v.user_id != self.me.v.id)
                .map(|m| self.username(&m.v.user_id))
                .collect();
            let name = others.iter().cloned().collect::<Vec<_>>().join(layout::SEP);
            if self.cfg.group_selected(&others) {
                self.backup_channel(
                    &mut dir,
                    ChannelKind::Group,
                    c,
                    Some(members),
                    &name,
                    &format!("groups/{name}"),
                )
                .await?;
            } else {
                tracing::debug!("skipping group channel with {name}");
            }
        }
        Ok(())
    }

    async fn team_channels(
        &mut self,
        teams: &[Raw<Team>],
        lists: &mut HashMap<String, Vec<Raw<Channel>>>,
    ) -> Result<()> {
        let me = self.me.v.id.clone();
        let mut teams_dir = self.store.id_dir(Path::new(layout::TEAMS))?;
        for key in self.cfg.teams.keys() {
            self.cancel.check()?;
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
            let sel = self.cfg.team(key).map_err(anyhow::Error::msg)?;
            let tid = team.v.id.clone();
            if !lists.contains_key(&tid) {
                let list = self
                    .client
                    .channels_for_team(&me, &tid)
                    .await
                    .with_context(|| format!("channels of team {key}"))?;
                lists.insert(tid.clone(), list);
            }
            let all: Vec<Raw<Channel>> = lists[&tid]
                .iter()
                .filter(|c| matches!(c.v.kind.as_str(), "O" | "P"))
                .map(|c| Raw::parse(c.raw.clone()))
                .collect::<Result<_, _>>()?;
            let choice = select::team_channels(&all, &sel);
            if !choice.missing_include.is_empty() {
                tracing::warn!(
                    "team \"{key}\": include names not found: {}",
                    serde_json::to_string(&choice.missing_include)?
                );
            }
            if !choice.missing_exclude.is_empty() {
                tracing::warn!(
                    "team \"{key}\": exclude names not found: {}",
                    serde_json::to_string(&choice.missing_exclude)?
                );
            }
            tracing::info!(
                "team \"{key}\": {}/{} channels selected, {} skipped",
                choice.selected.len(),
                all.len(),
                choice.skipped.len()
            );

            let tname = layout::sanitize(&team.v.name);
            self.backup_team_object(&mut teams_dir, team).await?;
            let team_base = format!("{tid}{}{tname}", layout::SEP);
            teams_dir.adopt_dir(&tid, &team_base)?;
            let mut channels_dir = self
                .store
                .id_dir(&Path::new(layout::TEAMS).join(&team_base))?;
            for c in choice.selected {
                let label = format!("{}/{}", team.v.name, c.v.name);
                self.backup_channel(
                    &mut channels_dir,
                    ChannelKind::Team,
                    c,
                    None,
                    &c.v.name,
                    &label,
                )
                .await?;
            }
            let members = self
                .client
                .team_members(&tid)
                .await
                .with_context(|| format!("members of team {key}"))?;
            for m in &members {
                self.seen.insert(m.v.user_id.clone());
            }
            teams_dir.write(
                &format!("{team_base}{}members.json", layout::SEP),
                &channel::json_array(members.iter().map(|m| m.raw.get())),
            )?;
            teams_dir.remove_others(
                &tid,
                &[
                    &format!("{team_base}.json"),
                    &format!("{team_base}{}members.json", layout::SEP),
                ],
                |n| n.ends_with(".json"),
            )?;
            self.store.checkpoint()?;
        }
        Ok(())
    }
}
