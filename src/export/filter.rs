//! The selection every export takes (`--channel`, `--after`, `--before`, `--from`): the options
//! ([`Filter`]), resolved against a backup ([`Selection`]), and the one rule that decides which
//! posts of a channel are kept ([`Selection::keep`]).
//!
//! The rule, applied before anything is written:
//! - `--after DAY` and `--before DAY` are days in local time (`TZ` is honoured) and, as in
//!   Mattermost's search (`after:`, `before:`), both exclusive: `--after 2024-01-01` keeps posts
//!   from 2024-01-02 00:00 local time on, `--before 2024-01-31` those before 2024-01-31 00:00.
//! - `--from USER` keeps the posts of those users.
//! - A post is selected when its author is one of `--from` and it, or the root of its thread,
//!   was posted in the window: a thread whose root is in the window is kept whole.
//! - A root that is not selected itself but has a selected reply is kept too, marked as outside
//!   the filter ([`Kept::Context`]), so that every reply is read with its thread.

use std::collections::{BTreeSet, HashMap};

use anyhow::Result;
use chrono::{Local, NaiveDate, TimeZone};

use super::model::{Backup, ChannelInfo};
use crate::error::Fatal;
use crate::store::read::PostKey;

/// The selection options, the same on every export.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct Filter {
    /// Only this channel (repeatable): its name as `matterbak list` prints it (`team/channel`
    /// when the name is in several teams; for direct messages the other user's username), its
    /// display name, id or folder [default: every channel].
    #[arg(short = 'c', long = "channel", value_name = "CHANNEL")]
    pub channels: Vec<String>,
    /// Only posts after this day (YYYY-MM-DD in local time, `TZ` honoured; exclusive, as
    /// Mattermost's `after:`). A thread whose root is in the window is kept whole.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    pub after: Option<NaiveDate>,
    /// Only posts before this day (YYYY-MM-DD in local time; exclusive, as Mattermost's
    /// `before:`). A reply in the window brings its root along, marked.
    #[arg(long, value_name = "DATE", value_parser = parse_day)]
    pub before: Option<NaiveDate>,
    /// Only posts by this user (repeatable): a username (or user id).
    #[arg(long = "from", value_name = "USERNAME")]
    pub from: Vec<String>,
}

/// `YYYY-MM-DD`.
fn parse_day(s: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .map_err(|_| format!("{s:?} is not a day: give YYYY-MM-DD (local time)"))
}

/// The first millisecond of `day` in local time (the first after a gap at midnight).
fn local_midnight(day: NaiveDate) -> i64 {
    let mut t = day.and_hms_opt(0, 0, 0).unwrap_or_default();
    for _ in 0..24 {
        if let Some(dt) = Local.from_local_datetime(&t).earliest() {
            return dt.timestamp_millis();
        }
        t += chrono::Duration::hours(1);
    }
    t.and_utc().timestamp_millis()
}

/// Why a post is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kept {
    /// The filter selects it.
    Selected,
    /// The root of a selected reply, outside the filter itself.
    Context,
}

/// A [`Filter`] resolved against the backups: channel ids, user ids, the window in
/// milliseconds.
#[derive(Debug, Clone, Default)]
pub struct Selection {
    /// The channel ids selected; `None` for every channel.
    channels: Option<BTreeSet<String>>,
    /// Kept posts are at or after `from_ms` and before `until_ms`.
    from_ms: Option<i64>,
    until_ms: Option<i64>,
    /// Authors; `None` for everyone.
    authors: Option<BTreeSet<String>>,
    /// What the filter was, as given, for the headings.
    text: Option<String>,
    /// The same without the channels.
    posts_text: Option<String>,
}

impl Selection {
    /// Resolves `f` against `backups`: a channel or user unknown to all of them, or an
    /// ambiguous channel name, is a usage error naming the candidates, as is an empty window.
    ///
    /// # Errors
    /// A usage error (exit 2) as above.
    pub fn new(f: &Filter, backups: &[Backup]) -> Result<Selection> {
        let mut s = Selection::default();
        if !f.channels.is_empty() {
            let mut ids = BTreeSet::new();
            for name in &f.channels {
                let mut found = false;
                for b in backups {
                    if let Some(c) = b.lookup_channel(name)? {
                        ids.insert(c.id.clone());
                        found = true;
                    }
                }
                if let (false, Some(b)) = (found, backups.first()) {
                    b.find_channel(name)?;
                }
            }
            s.channels = Some(ids);
        }
        if let (Some(a), Some(b)) = (f.after, f.before) {
            if b <= a + chrono::Days::new(1) {
                return Err(Fatal::usage(format!(
                    "no day is after {a} and before {b}: both are exclusive, as in Mattermost's \
                     search (for the posts of {a} alone: --after {} --before {})",
                    a - chrono::Days::new(1),
                    a + chrono::Days::new(1)
                ))
                .into());
            }
        }
        s.from_ms = f.after.map(|d| local_midnight(d + chrono::Days::new(1)));
        s.until_ms = f.before.map(local_midnight);
        if !f.from.is_empty() {
            let mut ids = BTreeSet::new();
            for name in &f.from {
                let want = name.trim_start_matches('@');
                let found: Vec<&str> = (backups.iter())
                    .flat_map(|b| b.users.values())
                    .filter(|u| u.username == want || u.id == want)
                    .map(|u| u.id.as_str())
                    .collect();
                if found.is_empty() {
                    let mut names: Vec<&str> = (backups.iter())
                        .flat_map(|b| b.users.values())
                        .map(|u| u.username.as_str())
                        .collect();
                    names.sort_unstable();
                    names.dedup();
                    let close: Vec<&str> = (names.iter().copied())
                        .filter(|n| n.contains(&want.to_lowercase()))
                        .collect();
                    let shown = if close.is_empty() { &names } else { &close };
                    return Err(Fatal::usage(format!(
                        "--from {name}: no such user in the backup; the users are: {}{}",
                        shown
                            .iter()
                            .take(30)
                            .copied()
                            .collect::<Vec<_>>()
                            .join(", "),
                        if shown.len() > 30 { ", ..." } else { "" }
                    ))
                    .into());
                }
                ids.extend(found.into_iter().map(String::from));
            }
            s.authors = Some(ids);
        }
        let mut parts = Vec::new();
        if let Some(d) = f.after {
            parts.push(format!("after {d}"));
        }
        if let Some(d) = f.before {
            parts.push(format!("before {d}"));
        }
        if !f.from.is_empty() {
            parts.push(format!("from {}", f.from.join(", ")));
        }
        if !parts.is_empty() {
            s.posts_text = Some(parts.join("; "));
        }
        if !f.channels.is_empty() {
            parts.insert(0, format!("channel {}", f.channels.join(", ")));
        }
        if !parts.is_empty() {
            s.text = Some(parts.join("; "));
        }
        Ok(s)
    }

    /// The filter as given (`channel x; after 2024-01-01; from alice`), for the headings of
    /// the exports; `None` without a filter.
    pub fn describe(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// The filter of posts only (`after 2024-01-01; from alice`), for a heading that names its
    /// channel already (md, txt): a channel chosen with `-c` alone is no filter there, and the
    /// Markdown of one channel stays what the original `matterexport` writes.
    pub fn describe_posts(&self) -> Option<&str> {
        self.posts_text.as_deref()
    }

    /// Whether posts are filtered (by time or author), not only channels: a channel left
    /// without posts is then not exported.
    pub fn filters_posts(&self) -> bool {
        self.from_ms.is_some() || self.until_ms.is_some() || self.authors.is_some()
    }

    /// Whether the channel is selected.
    pub fn has_channel(&self, id: &str) -> bool {
        self.channels.as_ref().is_none_or(|c| c.contains(id))
    }

    /// The selected channels of `b`, in its order.
    pub fn channels<'a>(&self, b: &'a Backup) -> Vec<&'a ChannelInfo> {
        (b.channels.iter())
            .filter(|c| self.has_channel(&c.id))
            .collect()
    }

    fn in_window(&self, at: i64) -> bool {
        self.from_ms.is_none_or(|f| at >= f) && self.until_ms.is_none_or(|u| at < u)
    }

    /// The rule (see the module): for each post of a channel (`key` gives its [`PostKey`]),
    /// whether it is kept and why.
    pub fn keep<P>(&self, posts: &[P], key: impl Fn(&P) -> &PostKey) -> Vec<Option<Kept>> {
        if !self.filters_posts() {
            return vec![Some(Kept::Selected); posts.len()];
        }
        let by_id: HashMap<&str, usize> = (posts.iter().enumerate())
            .map(|(i, p)| (key(p).id.as_str(), i))
            .collect();
        // The root of a reply whose root is in the channel.
        let root = |k: &PostKey| -> Option<usize> {
            (!k.root_id.is_empty())
                .then(|| by_id.get(k.root_id.as_str()).copied())
                .flatten()
        };
        let mut out: Vec<Option<Kept>> = (posts.iter())
            .map(|p| {
                let k = key(p);
                let by = self.authors.as_ref().is_none_or(|a| a.contains(&k.user_id));
                let when = self.in_window(k.create_at)
                    || root(k).is_some_and(|r| self.in_window(key(&posts[r]).create_at));
                (by && when).then_some(Kept::Selected)
            })
            .collect();
        for i in 0..posts.len() {
            if out[i] == Some(Kept::Selected) {
                if let Some(r) = root(key(&posts[i])) {
                    if out[r].is_none() {
                        out[r] = Some(Kept::Context);
                    }
                }
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(id: &str, at: i64, root: &str, user: &str) -> PostKey {
        PostKey {
            id: id.into(),
            file: String::new(),
            create_at: at,
            root_id: root.into(),
            user_id: user.into(),
        }
    }

    fn kept(s: &Selection, posts: &[PostKey]) -> Vec<(String, Kept)> {
        (posts.iter().zip(s.keep(posts, |k| k)))
            .filter_map(|(p, k)| k.map(|k| (p.id.clone(), k)))
            .collect()
    }

    #[test]
    fn threads_are_kept_whole_and_replies_bring_their_roots() {
        let posts = [
            key("old", 5, "", "a"),
            key("r1", 10, "", "a"),
            key("x", 12, "old", "b"),
            key("y", 15, "r1", "b"),
            key("late", 30, "r1", "b"),
            key("after", 31, "", "a"),
        ];
        let s = Selection {
            from_ms: Some(10),
            until_ms: Some(30),
            ..Selection::default()
        };
        use Kept::*;
        let want = [
            ("old", Context),
            ("r1", Selected),
            ("x", Selected),
            ("y", Selected),
            ("late", Selected),
        ];
        let want: Vec<(String, Kept)> = want.iter().map(|(i, k)| (i.to_string(), *k)).collect();
        assert_eq!(kept(&s, &posts), want);
        // By author: b's replies, their roots brought along.
        let s = Selection {
            authors: Some(BTreeSet::from(["b".to_string()])),
            ..Selection::default()
        };
        let ids: Vec<(String, Kept)> = kept(&s, &posts);
        assert_eq!(
            ids,
            [
                ("old".to_string(), Context),
                ("r1".into(), Context),
                ("x".into(), Selected),
                ("y".into(), Selected),
                ("late".into(), Selected)
            ]
        );
        // No filter: everything.
        assert_eq!(kept(&Selection::default(), &posts).len(), posts.len());
    }

    #[test]
    fn days_are_local_and_exclusive_as_in_mattermost() {
        let f = Filter {
            after: Some(NaiveDate::from_ymd_opt(2024, 1, 1).unwrap()),
            before: Some(NaiveDate::from_ymd_opt(2024, 1, 3).unwrap()),
            ..Filter::default()
        };
        let s = Selection::new(&f, &[]).unwrap();
        let jan2 = local_midnight(NaiveDate::from_ymd_opt(2024, 1, 2).unwrap());
        assert_eq!(s.from_ms, Some(jan2));
        assert_eq!(s.until_ms, Some(jan2 + 86_400_000));
        assert!(!s.in_window(jan2 - 1) && s.in_window(jan2) && !s.in_window(jan2 + 86_400_000));
        assert_eq!(s.describe(), Some("after 2024-01-01; before 2024-01-03"));
        let empty = Filter {
            before: Some(NaiveDate::from_ymd_opt(2024, 1, 2).unwrap()),
            ..f
        };
        let e = Selection::new(&empty, &[]).unwrap_err();
        assert!(
            e.to_string()
                .contains("--after 2023-12-31 --before 2024-01-02"),
            "{e}"
        );
        assert!(parse_day("2024-1-x").is_err());
    }
}
