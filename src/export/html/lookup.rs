//! What the pages link to: people (names, avatars), channels by name, custom emoji images, and
//! the site paths of channel pages and attachments.

use std::collections::BTreeMap;

use serde_json::Value;

use super::render::Resolve;
use super::site::SitePath;
use crate::export::model::{Attachment, Backup, ChannelInfo};
use crate::model::ChannelKind;
use crate::store::layout::Place;
use crate::store::layout::{self, FilesEntry};

/// A user as the pages show them.
#[derive(Debug, Clone)]
pub struct Person {
    pub display: String,
    pub username: String,
    /// The avatar's URL relative to the site folder.
    pub avatar: Option<String>,
}

/// A channel that `~name` can link to.
#[derive(Debug, Clone)]
struct ChannelRef {
    team_id: Option<String>,
    url: String,
    title: String,
}

pub struct Lookup {
    people: BTreeMap<String, Person>,
    by_username: BTreeMap<String, String>,
    channels: BTreeMap<String, Vec<ChannelRef>>,
    emojis: BTreeMap<String, String>,
}

impl Lookup {
    /// `avatars`: user id → URL; `emojis`: emoji name → URL (relative to the site folder).
    pub fn new(
        b: &Backup,
        avatars: &BTreeMap<String, String>,
        emojis: BTreeMap<String, String>,
    ) -> Lookup {
        let mut people = BTreeMap::new();
        let mut by_username = BTreeMap::new();
        for (id, u) in &b.users {
            let display = u.display_name();
            by_username.insert(u.username.to_lowercase(), display.clone());
            people.insert(
                id.clone(),
                Person {
                    display,
                    username: u.username.clone(),
                    avatar: avatars.get(id).cloned(),
                },
            );
        }
        let mut channels: BTreeMap<String, Vec<ChannelRef>> = BTreeMap::new();
        for c in b.channels.iter().filter(|c| c.place == Place::Team) {
            channels
                .entry(c.name.to_lowercase())
                .or_default()
                .push(ChannelRef {
                    team_id: c.team_id.clone(),
                    url: page_path(&c.id, 1).url(),
                    title: channel_title(b, c),
                });
        }
        Lookup {
            people,
            by_username,
            channels,
            emojis,
        }
    }

    /// A user by id; one that is not in the backup is shown by their id.
    pub fn person(&self, id: &str) -> Person {
        self.people.get(id).cloned().unwrap_or_else(|| Person {
            display: id.to_string(),
            username: id.to_string(),
            avatar: None,
        })
    }

    /// The resolver for a page of `team` whose way up to the site folder is `up`.
    pub fn on_page<'a>(&'a self, team: Option<&'a str>, up: &'a str) -> OnPage<'a> {
        OnPage {
            lookup: self,
            team,
            up,
        }
    }
}

/// [`Lookup`] for one page: links relative to it, channels of its team first.
pub struct OnPage<'a> {
    pub lookup: &'a Lookup,
    pub team: Option<&'a str>,
    pub up: &'a str,
}

impl Resolve for OnPage<'_> {
    fn user(&self, username: &str) -> Option<String> {
        self.lookup.by_username.get(username).cloned()
    }
    fn channel(&self, name: &str) -> Option<(String, String)> {
        let all = self.lookup.channels.get(name)?;
        let c = all
            .iter()
            .find(|c| c.team_id.as_deref() == self.team)
            .or_else(|| all.first())?;
        Some((format!("{}{}", self.up, c.url), c.title.clone()))
    }
    fn custom_emoji(&self, name: &str) -> Option<String> {
        self.lookup
            .emojis
            .get(name)
            .map(|u| format!("{}{u}", self.up))
    }
}

/// Page `n` (1-based) of a channel.
pub fn page_path(channel_id: &str, n: usize) -> SitePath {
    SitePath::new(&["c", channel_id, &format!("{n}.html")])
}

/// Where an attachment's copy goes: `files/<file id>/<file name>`.
pub fn file_path(f: &Attachment) -> SitePath {
    let name = if f.name.trim().is_empty() {
        // The name in the backup: `<file_id>__<name>`.
        f.content
            .as_deref()
            .and_then(|c| c.rsplit('/').next())
            .and_then(|n| match FilesEntry::parse(n) {
                FilesEntry::Attachment(_, name) => Some(name.to_string()),
                _ => None,
            })
            .unwrap_or_else(|| "file".to_string())
    } else {
        f.name.clone()
    };
    SitePath::new(&["files", &f.id, &name])
}

/// A channel's title: the display name of a team channel; for a direct message the other
/// person's name (or "notes to self"), for a group the other members' names.
pub fn channel_title(b: &Backup, c: &ChannelInfo) -> String {
    let folder = c.dir.rsplit('/').next().unwrap_or("");
    let names_in_folder = layout::name_of_base(folder);
    let by_username = |u: &str| {
        b.users
            .values()
            .find(|x| x.username == u)
            .map(|x| x.display_name())
            .unwrap_or_else(|| u.to_string())
    };
    match c.place {
        Place::Team => b.title(c),
        Place::Direct => {
            let ids: Vec<&str> = layout::parts(&c.name).collect();
            if ids.len() == 2 && ids[0] == ids[1] {
                return format!("{} (notes to self)", b.user_name(ids[0]));
            }
            if names_in_folder.is_empty() {
                b.title(c)
            } else {
                by_username(names_in_folder)
            }
        }
        Place::Group => {
            if names_in_folder.is_empty() {
                b.title(c)
            } else {
                layout::parts(names_in_folder)
                    .map(by_username)
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        }
    }
}

/// The channel's kind in words, with its state: "public channel", "private channel, archived".
pub fn channel_badges(c: &ChannelInfo) -> Vec<&'static str> {
    let mut out = Vec::new();
    match c.kind {
        ChannelKind::Private => out.push("private"),
        ChannelKind::Direct => out.push("direct message"),
        ChannelKind::Group => out.push("group message"),
        _ => {}
    }
    if c.json.get("delete_at").and_then(Value::as_i64).unwrap_or(0) > 0 {
        out.push("archived");
    }
    out
}

#[cfg(test)]
impl Lookup {
    /// A lookup without a backup: people as `(id, username, display name)`, custom emojis as
    /// `(name, url)`.
    pub fn for_tests(people: &[(&str, &str, &str)], emojis: &[(&str, &str)]) -> Lookup {
        Lookup {
            people: people
                .iter()
                .map(|(id, u, d)| {
                    let p = Person {
                        display: d.to_string(),
                        username: u.to_string(),
                        avatar: Some(format!("avatars/{id}.png")),
                    };
                    (id.to_string(), p)
                })
                .collect(),
            by_username: people
                .iter()
                .map(|(_, u, d)| (u.to_string(), d.to_string()))
                .collect(),
            channels: BTreeMap::new(),
            emojis: emojis
                .iter()
                .map(|(n, u)| (n.to_string(), u.to_string()))
                .collect(),
        }
    }
}
