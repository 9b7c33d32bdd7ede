//! The rules of reading a channel's posts that do not touch the network or the disk: where the
//! next page starts, when a walk has provably reached a channel's first post, what the
//! channel's message count says about posts a `since` answer cannot show, and which channels
//! `--reread-every` reads in full tonight.

use std::collections::HashSet;

use serde::Deserialize;

use crate::api::model::{Channel, PostList};
use crate::api::{Anchor, PER_PAGE};

/// The fields of a listed post that decide the walk.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Listed {
    pub id: String,
    pub create_at: i64,
    /// Counted in the channel's `total_msg_count` (not a join/leave message).
    pub counted: bool,
}

/// `order` of a page with the fields the walk needs (newest first, as the server sends it).
pub(super) fn listed(page: &PostList) -> Vec<Listed> {
    #[derive(Deserialize)]
    struct T {
        #[serde(default)]
        create_at: Option<i64>,
        #[serde(default, rename = "type")]
        kind: Option<String>,
        #[serde(default)]
        original_id: Option<String>,
    }
    page.order
        .iter()
        .map(|id| {
            let t = page
                .posts
                .get(id)
                .and_then(|r| serde_json::from_str::<T>(r.get()).ok());
            let (create_at, counted) = t.map_or((0, true), |t| {
                let post = crate::api::model::Post::counting(
                    t.kind.as_deref().unwrap_or(""),
                    t.original_id.as_deref().unwrap_or(""),
                );
                (t.create_at.unwrap_or(0), post)
            });
            Listed {
                id: id.clone(),
                create_at,
                counted,
            }
        })
        .collect()
}

/// What to do after a page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Step {
    /// Ask for this page next.
    Next(Anchor),
    /// An empty answer: every post older than the last one listed was read.
    End,
    /// The server repeated itself: what it sent brought nothing new.
    Repeated,
}

/// The state of one walk from the newest post to the first.
#[derive(Debug, Default)]
pub(super) struct Cursor {
    /// Every id listed so far.
    pub seen: HashSet<String>,
    /// `create_at` of every post listed so far (for the offset of a same-millisecond run).
    times: Vec<i64>,
    /// While paging by offset through a run of posts sharing one millisecond: that time.
    run: Option<i64>,
    /// Offset pages in a row that brought nothing new.
    stale: usize,
    /// The channel's `total_msg_count` and `last_post_at` when the channel list was read, if
    /// the server gave a count: see [`Cursor::counted_all`].
    count: Option<(i64, i64)>,
    /// Counted posts listed so far that existed when the channel list was read.
    counted: i64,
}

impl Cursor {
    /// Takes a page in; returns the ids it listed for the first time, in order.
    pub fn take<'p>(&mut self, page: &'p [Listed]) -> Vec<&'p Listed> {
        let fresh: Vec<&Listed> = page
            .iter()
            .filter(|p| self.seen.insert(p.id.clone()))
            .collect();
        self.times.extend(fresh.iter().map(|p| p.create_at));
        if let Some((_, last_post_at)) = self.count {
            let n = fresh
                .iter()
                .filter(|p| p.counted && p.create_at <= last_post_at)
                .count();
            self.counted += n as i64;
        }
        fresh
    }

    /// A walk of a channel whose list entry gave `total_msg_count` and `last_post_at`
    /// (`count`), if the server sent a count.
    pub fn counting(count: Option<(i64, i64)>) -> Cursor {
        Cursor {
            count: count.filter(|(n, _)| *n > 0),
            ..Cursor::default()
        }
    }

    /// Whether the walk has listed as many counted posts, among those that existed when the
    /// channel list was read, as the channel's count then. Posts created since are not counted
    /// against it, and deleted ones only make the count higher than what is listed. A server
    /// that filters a page (burn-on-read posts, `revealBurnOnReadPostsForUser`) leaves out
    /// posts that its count includes, so the count is not reached while one is hidden: a short
    /// page with every counted post listed is short because the channel ends there.
    fn counted_all(&self) -> bool {
        self.count.is_some_and(|(total, _)| self.counted >= total)
    }

    /// Where the walk goes after `page` (`fresh` of its posts were new), asked for with
    /// `anchor`.
    ///
    /// - An empty page ends the walk: that is the only proof that no older post exists. The
    ///   server's `prev_post_id` is not trusted: it is empty after a page that the server
    ///   shortened by filtering, and after a full page that ends inside a run of posts sharing
    ///   the oldest post's millisecond (`before` compares `create_at` strictly).
    /// - A short page is followed by `before=<its oldest post>`, to confirm the end, unless
    ///   the channel's own count proves that every counted post was listed
    ///   ([`Cursor::counted_all`]): then it is the end. (A short page alone proves nothing:
    ///   newer servers shorten pages by filtering while older posts remain.)
    /// - A full page is followed by `before=<the oldest post with a newer create_at than the
    ///   page's oldest>`, so posts sharing the page's last millisecond are read again rather
    ///   than skipped.
    /// - A full page whose posts all share one millisecond cannot be paged past with `before`:
    ///   the walk goes on by offset (`page=k`) from where that millisecond starts, until a page
    ///   reaches older posts.
    pub fn step(&mut self, anchor: &Anchor, page: &[Listed], fresh: usize) -> Step {
        let (Some(newest), Some(oldest)) = (page.first(), page.last()) else {
            return Step::End;
        };
        // An offset page may repeat posts (it starts a little early), but not three in a row.
        let by_offset = matches!(anchor, Anchor::Page(_));
        self.stale = if fresh == 0 { self.stale + 1 } else { 0 };
        if fresh == 0 && (!by_offset || self.stale > 2) {
            return Step::Repeated;
        }
        if let (Anchor::Page(k), Some(t)) = (anchor, self.run) {
            // Not past the run yet (or still before it, where the offset started early).
            if oldest.create_at >= t {
                return Step::Next(Anchor::Page(k + 1));
            }
            self.run = None;
        }
        if page.len() < PER_PAGE {
            if self.counted_all() {
                return Step::End;
            }
            return Step::Next(Anchor::Before(oldest.id.clone()));
        }
        if newest.create_at == oldest.create_at {
            let t = oldest.create_at;
            self.run = Some(t);
            // The posts newer than this millisecond come first in offset order; start a little
            // before (offsets move when posts are deleted meanwhile: reading a post twice is
            // harmless, skipping one is not).
            let newer = self.times.iter().filter(|c| **c > t).count();
            let start = newer.saturating_sub(PER_PAGE / 10) / PER_PAGE;
            let k = match anchor {
                Anchor::Page(k) => start.max(k + 1),
                _ => start,
            };
            return Step::Next(Anchor::Page(k));
        }
        let edge = oldest.create_at;
        let pick = page
            .iter()
            .rev()
            .find(|p| p.create_at != edge)
            .unwrap_or(oldest);
        Step::Next(Anchor::Before(pick.id.clone()))
    }
}

/// The most posts a walk lists before it gives up: far more than the server's count, which
/// leaves out join and leave messages.
pub(super) fn walk_cap(channel: &Channel) -> usize {
    let counted = channel.total_msg_count.unwrap_or(0).max(0) as usize;
    counted.saturating_mul(3).saturating_add(100_000)
}

/// The channel's message count against the posts this run saw: posts that were saved with an
/// old `create_at` (imports, an admin's or a bot's backdated post, shared-channel sync) keep an
/// old `update_at` and never appear in a `since` answer, but the server counts them.
///
/// The baseline is the server's `total_msg_count` as the last run read it from the channel
/// list, plus the counted posts that run stored which were created after that read (newer
/// than the channel's `last_post_at` then). This run expects `total_msg_count - baseline`
/// posts created in between; the counted posts that the `since` answer brings and the backup
/// did not have, created after the last run's `last_post_at` and not after this run's, are
/// those. What is left is the number of posts that arrived without a new `update_at`.
#[derive(Debug, Default)]
pub(super) struct Tally {
    /// `total_msg_count` now.
    count: Option<i64>,
    /// `last_post_at` now.
    last_post_at: i64,
    /// The last run's baseline and `last_post_at`.
    before: Option<(i64, i64)>,
    counted: HashSet<String>,
    /// Counted posts new to the backup, created between the two reads of the channel list.
    arrived: i64,
    /// Counted posts created after this run read the channel list.
    later: i64,
}

impl Tally {
    pub fn new(channel: &Channel, before: Option<(i64, i64)>) -> Tally {
        Tally {
            count: channel.total_msg_count,
            last_post_at: channel.last_post_at,
            before,
            ..Tally::default()
        }
    }

    /// Notes a post row the run received; `stored`: the backup had it before.
    pub fn see(&mut self, p: &Listed, stored: bool) {
        if !p.counted || !self.counted.insert(p.id.clone()) {
            return;
        }
        if p.create_at > self.last_post_at {
            self.later += 1;
        } else if !stored && self.before.is_some_and(|(_, l)| p.create_at > l) {
            self.arrived += 1;
        }
    }

    /// Is this post one of those the count says are missing (new to the backup, counted, and
    /// created before this run read the channel list)?
    pub fn is_missing_kind(&self, p: &Listed, stored: bool) -> bool {
        !stored && p.counted && p.create_at <= self.last_post_at
    }

    /// How many counted posts the server has that this run has not seen arrive.
    pub fn missing(&self) -> i64 {
        match (self.count, self.before) {
            (Some(c), Some((b, _))) => c - b - self.arrived,
            _ => 0,
        }
    }

    /// The baseline for the next run, with this run's `last_post_at`.
    pub fn baseline(&self) -> Option<(i64, i64)> {
        self.count.map(|c| (c + self.later, self.last_post_at))
    }
}

const DAY_MS: i64 = 86_400_000;

/// A time (ms) for a log line: `2026-12-05 07:43:51 UTC`.
pub(super) fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(
        || format!("{ms} ms"),
        |d| d.format("%Y-%m-%d %H:%M:%S UTC").to_string(),
    )
}

/// The day of a time (ms): days since 1970-01-01, UTC.
pub(super) fn day(ms: i64) -> i64 {
    ms.div_euclid(DAY_MS)
}

/// Does `--reread-every days` read this channel in full tonight? A channel is due when its last
/// full read (`last`, a [`day`]) is `days` days old or more, and on its own day of the cycle (a
/// fixed day for each channel id, so about `1/days` of the channels come up each night) once a
/// day has passed since its last full read.
pub(super) fn reread_due(channel_id: &str, last: Option<i64>, now: i64, days: u32) -> bool {
    if days == 0 {
        return false;
    }
    let day = day(now);
    let days = i64::from(days);
    if last.is_some_and(|l| day - l >= days) {
        return true;
    }
    if last.is_some_and(|l| day - l < 1) {
        return false;
    }
    // FNV-1a: the same day of the cycle for a channel on every machine and every run.
    let h = channel_id.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    (day.rem_euclid(days) as u64) == h % days as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn l(id: &str, t: i64) -> Listed {
        Listed {
            id: id.into(),
            create_at: t,
            counted: true,
        }
    }

    fn full(prefix: &str, times: impl Fn(usize) -> i64) -> Vec<Listed> {
        (0..PER_PAGE)
            .map(|i| l(&format!("{prefix}{i:03}"), times(i)))
            .collect()
    }

    #[test]
    fn short_pages_are_confirmed_and_only_an_empty_page_ends() {
        let mut c = Cursor::default();
        let page = vec![l("c", 30), l("b", 20), l("a", 10)];
        let fresh = c.take(&page).len();
        assert_eq!(
            c.step(&Anchor::Newest, &page, fresh),
            Step::Next(Anchor::Before("a".into()))
        );
        assert_eq!(c.step(&Anchor::Before("a".into()), &[], 0), Step::End);
    }

    #[test]
    fn full_pages_reread_the_last_millisecond() {
        let mut c = Cursor::default();
        // the last three posts share one millisecond
        let page = full("p", |i| {
            if i >= PER_PAGE - 3 {
                5
            } else {
                1000 - i as i64
            }
        });
        let fresh = c.take(&page).len();
        let want = page[PER_PAGE - 4].id.clone();
        assert_eq!(
            c.step(&Anchor::Newest, &page, fresh),
            Step::Next(Anchor::Before(want))
        );
    }

    #[test]
    fn a_repeated_page_is_not_an_end() {
        let mut c = Cursor::default();
        let page = vec![l("c", 30)];
        c.take(&page);
        let fresh = c.take(&page).len();
        assert_eq!(
            c.step(&Anchor::Before("x".into()), &page, fresh),
            Step::Repeated
        );
    }

    #[test]
    fn a_page_inside_one_millisecond_goes_on_by_offset() {
        let mut c = Cursor::default();
        // 250 posts newer than the run, then a full page of the run
        let newer: Vec<Listed> = (0..250)
            .map(|i| l(&format!("n{i:03}"), 10_000 - i))
            .collect();
        c.take(&newer);
        let run = full("r", |_| 7);
        let fresh = c.take(&run).len();
        let a = c.step(&Anchor::Before("n249".into()), &run, fresh);
        // starts at or before offset 250
        assert_eq!(a, Step::Next(Anchor::Page(1)));
        // still inside the run: the next offset page
        let run2 = full("s", |_| 7);
        let fresh = c.take(&run2).len();
        assert_eq!(
            c.step(&Anchor::Page(1), &run2, fresh),
            Step::Next(Anchor::Page(2))
        );
        // a page that reaches older posts returns to `before`
        let mixed = full("t", |i| if i < 100 { 7 } else { 6 - i as i64 });
        let fresh = c.take(&mixed).len();
        let want = mixed[PER_PAGE - 2].id.clone();
        assert_eq!(
            c.step(&Anchor::Page(2), &mixed, fresh),
            Step::Next(Anchor::Before(want))
        );
        // an offset page that brings nothing new is no reason to stop
        assert_eq!(
            c.step(&Anchor::Page(3), &[l("t150", 1)], 0),
            Step::Next(Anchor::Before("t150".into()))
        );
        // but a server that answers every offset with the same page is
        let mut c = Cursor::default();
        let run = full("r", |_| 7);
        let fresh = c.take(&run).len();
        let mut a = c.step(&Anchor::Newest, &run, fresh);
        let mut n = 0;
        while let Step::Next(anchor) = a {
            n += 1;
            assert!(n < 10, "no end");
            let fresh = c.take(&run).len();
            a = c.step(&anchor, &run, fresh);
        }
        assert_eq!(a, Step::Repeated);
    }

    #[test]
    fn tally_finds_posts_that_arrived_without_update() {
        let ch = |count, last| Channel {
            id: "c".into(),
            team_id: String::new(),
            kind: crate::model::ChannelKind::Open,
            name: String::new(),
            display_name: String::new(),
            total_msg_count: Some(count),
            last_post_at: last,
        };
        // last run: 10 counted posts, last post at 100
        let mut t = Tally::new(&ch(14, 200), Some((10, 100)));
        // two new posts in the since answer, one seen before (overlap), one created after
        // this run's list read
        t.see(&l("n1", 150), false);
        t.see(&l("n2", 190), false);
        t.see(&l("n2", 190), false);
        t.see(&l("old", 90), true);
        t.see(&l("later", 250), false);
        assert_eq!(t.missing(), 2);
        assert_eq!(t.baseline(), Some((15, 200)));
        assert!(t.is_missing_kind(&l("x", 50), false));
        assert!(!t.is_missing_kind(&l("x", 50), true));
        assert!(!t.is_missing_kind(&l("x", 250), false));
        // no baseline yet: nothing can be said
        assert_eq!(Tally::new(&ch(14, 200), None).missing(), 0);
    }

    #[test]
    fn reread_spreads_channels_over_the_days() {
        let day = DAY_MS;
        let ids: Vec<String> = (0..3000).map(|i| format!("channel{i:05}")).collect();
        let last = Some(100);
        for d in 101..110 {
            let n = ids
                .iter()
                .filter(|id| reread_due(id, last, d * day + 5, 30))
                .count();
            assert!((50..=150).contains(&n), "day {d}: {n} of 3000 due");
        }
        // overdue channels are always due, fresh ones never
        assert!(reread_due("x", Some(0), 31 * day, 30));
        assert!(!reread_due("x", Some(31), 31 * day + 10, 30));
        assert!(!reread_due("x", Some(0), 31 * day, 0));
    }
}
