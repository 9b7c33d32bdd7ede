//! What the user can see, for `matterbak list`: teams with their channels, direct and group
//! channels with the other members' usernames, read from the API only (nothing is written).
//!
//! Requests: the teams (1), every channel of every team plus the direct and group channels
//! (1, archived ones included), the members of each group channel (1 each), and one
//! `POST /users/ids` for the usernames. Direct partners come from the channel name.

use std::collections::{BTreeSet, HashMap};

use anyhow::{Context, Result};
use serde::Deserialize;

use super::select::direct_partner;
use crate::api::model::{Channel, Raw, User};
use crate::api::Client;
use crate::model::ChannelKind;

/// Everything `list` shows.
#[derive(Debug, Default)]
pub struct Inventory {
    /// The user the list is for.
    pub me: Person,
    /// The user's teams, sorted by name, each with its channels sorted by name.
    pub teams: Vec<TeamEntry>,
    /// Direct channels, sorted by the other person's username.
    pub direct: Vec<ChannelEntry>,
    /// Group channels, sorted by the other members' usernames.
    pub groups: Vec<ChannelEntry>,
    /// Team channels of a team that is not among the user's teams (the team was archived, or
    /// the user left it but kept channel memberships). The backup cannot select them.
    pub orphans: Vec<ChannelEntry>,
}

#[derive(Debug, Default)]
pub struct TeamEntry {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub channels: Vec<ChannelEntry>,
}

/// One channel with the numbers the server keeps on it.
#[derive(Debug, Clone)]
pub struct ChannelEntry {
    pub id: String,
    pub name: String,
    pub display_name: String,
    pub kind: ChannelKind,
    pub team_id: String,
    /// When the channel was archived (ms), 0 if it is not.
    pub delete_at: i64,
    /// The server's message count (`total_msg_count`): posts and replies, without join/leave
    /// messages; posts deleted later still count.
    pub posts: i64,
    /// The same for thread roots only (`total_msg_count_root`).
    pub root_posts: i64,
    /// The server's `last_post_at` (ms; new posts and edits move it), 0 if unknown.
    pub last_post_at: i64,
    /// Direct and group channels: the members other than the user, sorted by username (the
    /// user alone for the self-DM). Empty for team channels.
    pub others: Vec<Person>,
}

impl ChannelEntry {
    pub fn archived(&self) -> bool {
        self.delete_at > 0
    }

    /// The usernames of [`ChannelEntry::others`], as channels.json names them; `None` if a
    /// member is not known to the server (any more).
    pub fn other_usernames(&self) -> Option<Vec<String>> {
        self.others.iter().map(|p| p.username.clone()).collect()
    }
}

/// A user as `list` shows one.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Person {
    pub id: String,
    /// `None` when the server does not know the id (the user was deleted for good).
    pub username: Option<String>,
    /// First and last name, or the nickname; may be empty.
    pub full_name: String,
    pub deactivated: bool,
}

impl Person {
    /// The username, or the id in brackets when the server does not know the user.
    pub fn label(&self) -> String {
        self.username
            .clone()
            .unwrap_or_else(|| format!("[{}]", self.id))
    }
}

/// Channel fields the backup itself does not need (read from the raw JSON).
#[derive(Deserialize)]
struct ChannelNumbers {
    #[serde(default, deserialize_with = "nullable")]
    delete_at: i64,
    #[serde(default, deserialize_with = "nullable")]
    total_msg_count: i64,
    #[serde(default, deserialize_with = "nullable")]
    total_msg_count_root: i64,
    #[serde(default, deserialize_with = "nullable")]
    last_post_at: i64,
}

/// User fields for the display name (read from the raw JSON).
#[derive(Deserialize)]
struct UserNames {
    #[serde(default, deserialize_with = "nullable")]
    first_name: String,
    #[serde(default, deserialize_with = "nullable")]
    last_name: String,
    #[serde(default, deserialize_with = "nullable")]
    nickname: String,
    #[serde(default, deserialize_with = "nullable")]
    delete_at: i64,
}

/// `null` and a missing field both become the default.
fn nullable<'de, D: serde::Deserializer<'de>, T: Default + Deserialize<'de>>(
    d: D,
) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

fn person(u: &Raw<User>) -> Person {
    let names: Option<UserNames> = serde_json::from_str(u.raw.get()).ok();
    let (full_name, deactivated) = names.map_or((String::new(), false), |n| {
        let full = format!("{} {}", n.first_name.trim(), n.last_name.trim());
        let full = full.trim();
        let shown = if full.is_empty() {
            n.nickname.trim().to_string()
        } else {
            full.to_string()
        };
        (shown, n.delete_at > 0)
    });
    Person {
        id: u.v.id.clone(),
        username: Some(u.v.username.clone()),
        full_name,
        deactivated,
    }
}

fn entry(c: &Raw<Channel>, others: Vec<Person>) -> ChannelEntry {
    // The typed view parsed, so the object is valid JSON; odd numbers count as unknown (0).
    let n: Option<ChannelNumbers> = serde_json::from_str(c.raw.get()).ok();
    let n = n.unwrap_or(ChannelNumbers {
        delete_at: 0,
        total_msg_count: 0,
        total_msg_count_root: 0,
        last_post_at: 0,
    });
    ChannelEntry {
        id: c.v.id.clone(),
        name: c.v.name.clone(),
        display_name: c.v.display_name.clone(),
        kind: c.v.kind.clone(),
        team_id: c.v.team_id.clone(),
        delete_at: n.delete_at,
        posts: n.total_msg_count,
        root_posts: n.total_msg_count_root,
        last_post_at: n.last_post_at,
        others,
    }
}

/// Reads what `me` can see.
///
/// # Errors
/// The first request that fails (after retries), with what was being read.
pub async fn gather(client: &Client, me: &Raw<User>) -> Result<Inventory> {
    let my_id = me.v.id.clone();
    let teams = client
        .teams_for_user(&my_id)
        .await
        .context("listing your teams")?;
    let channels = client
        .channels_for_user(&my_id)
        .await
        .context("listing your channels")?;

    // The members of direct and group channels other than me, as ids.
    let mut others: HashMap<String, Vec<String>> = HashMap::new();
    for c in channels.iter().filter(|c| c.v.kind.is_personal()) {
        client.cancel.check()?;
        let partner = (c.v.kind == ChannelKind::Direct)
            .then(|| direct_partner(&c.v.name, &my_id))
            .flatten();
        let ids = match partner {
            Some(p) => vec![p],
            // Groups, and direct channels not named `<id>__<id>`: ask for the members.
            None => {
                let members = client.channel_members(&c.v.id).await.with_context(|| {
                    format!(
                        "reading the members of {} channel {}",
                        c.v.kind.label(),
                        c.v.id
                    )
                })?;
                let mut ids: Vec<String> = members
                    .into_iter()
                    .map(|m| m.v.user_id)
                    .filter(|u| *u != my_id)
                    .collect();
                if ids.is_empty() && c.v.kind == ChannelKind::Direct {
                    ids.push(my_id.clone());
                }
                ids
            }
        };
        others.insert(c.v.id.clone(), ids);
    }

    let mut people: HashMap<String, Person> = HashMap::new();
    people.insert(my_id.clone(), person(me));
    let ask: Vec<String> = others
        .values()
        .flatten()
        .filter(|id| !people.contains_key(*id))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    if !ask.is_empty() {
        for u in client
            .users_by_ids(&ask, None)
            .await
            .context("reading the members of your direct and group channels")?
        {
            people.insert(u.v.id.clone(), person(&u));
        }
    }
    let resolve = |id: &String| {
        people.get(id).cloned().unwrap_or_else(|| Person {
            id: id.clone(),
            ..Person::default()
        })
    };

    let mut inv = Inventory {
        me: person(me),
        teams: teams
            .iter()
            .map(|t| TeamEntry {
                id: t.v.id.clone(),
                name: t.v.name.clone(),
                display_name: t.v.display_name.clone(),
                channels: Vec::new(),
            })
            .collect(),
        ..Inventory::default()
    };
    for c in &channels {
        let mut people_of: Vec<Person> = others
            .get(&c.v.id)
            .map(|ids| ids.iter().map(resolve).collect())
            .unwrap_or_default();
        people_of.sort_by(|a, b| (&a.username, &a.id).cmp(&(&b.username, &b.id)));
        let e = entry(c, people_of);
        match e.kind {
            ChannelKind::Direct => inv.direct.push(e),
            ChannelKind::Group => inv.groups.push(e),
            _ => match inv.teams.iter_mut().find(|t| t.id == e.team_id) {
                Some(t) => t.channels.push(e),
                None => inv.orphans.push(e),
            },
        }
    }
    inv.teams
        .sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    for t in &mut inv.teams {
        t.channels
            .sort_by(|a, b| (&a.name, &a.id).cmp(&(&b.name, &b.id)));
    }
    let by_others = |a: &ChannelEntry, b: &ChannelEntry| {
        let key = |e: &ChannelEntry| e.others.iter().map(Person::label).collect::<Vec<_>>();
        (key(a), &a.id).cmp(&(key(b), &b.id))
    };
    inv.direct.sort_by(by_others);
    inv.groups.sort_by(by_others);
    inv.orphans
        .sort_by(|a, b| (&a.team_id, &a.name, &a.id).cmp(&(&b.team_id, &b.name, &b.id)));
    Ok(inv)
}
