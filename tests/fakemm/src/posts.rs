//! Post-list queries: channel page/before/after/since, thread, pinned, with cursor fields.

use crate::id::Id;
use crate::render::PostOut;
use crate::world::{Post, World};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashSet};

/// A serializable PostList (`model.PostList` field order).
#[derive(Serialize)]
pub struct PostListOut<'a> {
    order: Vec<Id>,
    posts: BTreeMap<Id, PostOut<'a>>,
    next_post_id: Id,
    prev_post_id: Id,
    first_inaccessible_post_time: i64,
}

impl PostListOut<'_> {
    /// As a JSON value.
    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
    /// As a JSON string.
    pub fn to_json(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }
    /// The post ids in order (newest first for channel pages).
    pub fn order(&self) -> &[Id] {
        &self.order
    }
    /// Overrides `prev_post_id` (used by the `repeat_pages` hostile mode).
    pub fn set_prev_post_id(&mut self, id: Id) {
        self.prev_post_id = id;
    }
}

/// Which `GET /channels/{id}/posts` mode to run (already parsed and clamped).
#[derive(Clone, Debug, Default)]
pub struct PostsQuery {
    pub page: usize,
    pub per_page: usize,
    pub before: Option<String>,
    pub after: Option<String>,
    pub since: i64,
    pub skip_fetch_threads: bool,
}

/// The posts that [`crate::world::Config::filter_before_pages`] removes from `before` pages
/// (about one in 40, by id).
pub fn filtered_from_pages(id: Id) -> bool {
    let h = id
        .as_str()
        .bytes()
        .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
    h % 40 == 7
}

/// The since query's row cap (`LIMIT 1000` inside the CTE).
pub const SINCE_CAP: usize = 1000;

impl World {
    /// `<ver>.<max update_at of any row in the channel>`, or `<ver>.<now>` when empty.
    pub fn channel_posts_etag(&self, channel_id: &str) -> String {
        let max = self
            .channel(channel_id)
            .and_then(|c| c.by_update.last().map(|(u, _)| *u));
        match max {
            Some(u) => self.etag(&[&u]),
            None => self.etag(&[&self.now_ms()]),
        }
    }

    /// GetPostIdAfterTime: the oldest live post with create_at > t.
    fn post_id_after(&self, ch: Id, t: i64) -> Id {
        let Some(c) = self.channels.get(&ch) else {
            return Id::NONE;
        };
        let k = c.live.partition_point(|(ca, _)| *ca <= t);
        c.live.get(k).map(|(_, id)| *id).unwrap_or(Id::NONE)
    }

    /// GetPostIdBeforeTime: the newest live post with create_at < t.
    fn post_id_before(&self, ch: Id, t: i64) -> Id {
        let Some(c) = self.channels.get(&ch) else {
            return Id::NONE;
        };
        let k = c.live.partition_point(|(ca, _)| *ca < t);
        if k == 0 {
            Id::NONE
        } else {
            c.live[k - 1].1
        }
    }

    /// Renders a PostList: `order` plus `posts` (sorted keys like Go's map encoding).
    fn post_list(
        &self,
        order: &[Id],
        extra: &[Id],
        reply_count: bool,
        next: Id,
        prev: Id,
    ) -> PostListOut<'_> {
        let mut posts = BTreeMap::new();
        for id in order.iter().chain(extra) {
            if posts.contains_key(id) {
                continue;
            }
            if let Some(p) = self.posts.get(id) {
                posts.insert(*id, self.post_out(p, reply_count));
            }
        }
        PostListOut {
            order: order.to_vec(),
            posts,
            next_post_id: next,
            prev_post_id: prev,
            first_inaccessible_post_time: 0,
        }
    }

    /// Roots (non-deleted) of replies in `order` and, unless `skip`, their non-deleted replies.
    fn thread_extras(&self, order: &[Id], skip: bool) -> Vec<Id> {
        let mut roots: Vec<Id> = Vec::new();
        let mut seen = HashSet::new();
        for id in order {
            if let Some(p) = self.posts.get(id) {
                if !p.root_id.is_none() && seen.insert(p.root_id) {
                    roots.push(p.root_id);
                }
            }
        }
        let live = |id: &Id| self.posts.get(id).is_some_and(|p| p.delete_at == 0);
        let mut out = Vec::new();
        for r in roots {
            if live(&r) {
                out.push(r);
            }
            if !skip {
                if let Some(rs) = self.replies.get(&r) {
                    out.extend(rs.iter().filter(|i| live(i)).copied());
                }
            }
        }
        out
    }

    /// `GET /channels/{id}/posts` body for an existing channel (permission already checked).
    pub fn posts_for_channel(&self, channel_id: &str, q: &PostsQuery) -> Value {
        self.posts_for_channel_out(channel_id, q).to_value()
    }

    /// Like [`World::posts_for_channel`], as a serializable list (fast path for the server).
    pub fn posts_for_channel_out(&self, channel_id: &str, q: &PostsQuery) -> PostListOut<'_> {
        let ch = Id::lookup(channel_id);
        let Some(c) = self.channels.get(&ch) else {
            return self.post_list(&[], &[], false, Id::NONE, Id::NONE);
        };
        let skip = q.skip_fetch_threads;
        if q.since > 0 {
            return self.posts_since(ch, q.since, skip);
        }
        let live = &c.live;
        let n = live.len();
        let off = q.page.saturating_mul(q.per_page);
        let take = q.per_page;
        let (order, mode): (Vec<Id>, u8) = if let Some(after) = &q.after {
            let order = match self.posts.get(&Id::lookup(after)) {
                Some(a) => {
                    let k = live.partition_point(|(ca, _)| *ca <= a.create_at);
                    let mut v: Vec<Id> = live[k..]
                        .iter()
                        .skip(off)
                        .take(take)
                        .map(|(_, i)| *i)
                        .collect();
                    v.reverse();
                    v
                }
                None => vec![],
            };
            (order, 1)
        } else if let Some(before) = &q.before {
            let mut order: Vec<Id> = match self.posts.get(&Id::lookup(before)) {
                Some(b) => {
                    let k = live.partition_point(|(ca, _)| *ca < b.create_at);
                    live[..k]
                        .iter()
                        .rev()
                        .skip(off)
                        .take(take)
                        .map(|(_, i)| *i)
                        .collect()
                }
                None => vec![],
            };
            if self.config.filter_before_pages {
                // Filtered after the read, before the cursors (see `Config`).
                order.retain(|id| !filtered_from_pages(*id));
            }
            (order, 2)
        } else {
            let v = live.iter().rev().skip(off).take(take).map(|(_, i)| *i);
            let _ = n;
            (v.collect(), 0)
        };
        let (mut next, mut prev) = (None, None);
        match mode {
            1 => {
                if q.page == 0 {
                    prev = Some(Id::lookup(q.after.as_deref().unwrap_or("")));
                }
                if order.len() < q.per_page {
                    next = Some(Id::NONE);
                }
            }
            2 => {
                if q.page == 0 {
                    next = Some(Id::lookup(q.before.as_deref().unwrap_or("")));
                }
                if order.len() < q.per_page {
                    prev = Some(Id::NONE);
                }
            }
            _ => {}
        }
        let (next, prev) = if order.is_empty() {
            (Id::NONE, Id::NONE)
        } else {
            let newest = self.posts[&order[0]].create_at;
            let oldest = self.posts[&order[order.len() - 1]].create_at;
            (
                next.unwrap_or_else(|| self.post_id_after(ch, newest)),
                prev.unwrap_or_else(|| self.post_id_before(ch, oldest)),
            )
        };
        let extra = self.thread_extras(&order, skip);
        self.post_list(&order, &extra, skip, next, prev)
    }

    /// Rows changed since `since` (any state), capped at 1000 (smallest ids win), newest first.
    fn posts_since(&self, ch: Id, since: i64, skip: bool) -> PostListOut<'_> {
        let c = &self.channels[&ch];
        let mut rows: Vec<Id> = c
            .by_update
            .range((since.saturating_add(1), Id::NONE)..)
            .map(|(_, id)| *id)
            .collect();
        if rows.len() > SINCE_CAP {
            rows.select_nth_unstable(SINCE_CAP - 1);
            rows.truncate(SINCE_CAP);
        }
        let key = |id: &Id| (self.posts[id].create_at, *id);
        rows.sort_by_key(|id| std::cmp::Reverse(key(id)));
        let in_set: HashSet<Id> = rows.iter().copied().collect();
        let mut extra = Vec::new();
        for id in &rows {
            let r = self.posts[id].root_id;
            if !r.is_none() && !in_set.contains(&r) && !extra.contains(&r) {
                extra.push(r);
            }
        }
        self.post_list(&rows, &extra, skip, Id::NONE, Id::NONE)
    }

    /// `GET /posts/{id}/thread` body: order = [requested, root, live replies...] (the requested
    /// id appears twice, like the real server), plus its ETag.
    pub fn post_thread(&self, post_id: &str) -> Option<(Value, String)> {
        let p = self.post(post_id).filter(|p| p.delete_at == 0)?;
        let root = if p.root_id.is_none() { p.id } else { p.root_id };
        let mut all: Vec<&Post> = Vec::new();
        if let Some(r) = self.posts.get(&root).filter(|r| r.delete_at == 0) {
            all.push(r);
        }
        if let Some(rs) = self.replies.get(&root) {
            all.extend(
                rs.iter()
                    .filter_map(|i| self.posts.get(i))
                    .filter(|r| r.delete_at == 0),
            );
        }
        all.sort_by_key(|p| (p.create_at, p.id));
        let mut order = vec![p.id];
        order.extend(all.iter().map(|p| p.id));
        let v = self
            .post_list(&order, &[], true, Id::NONE, Id::NONE)
            .to_value();
        let etag = self.post_list_etag(&order);
        Some((v, etag))
    }

    /// `PostList.Etag()`: `Etag(order[0], idOfMaxUpdateAt, maxUpdateAt)`.
    pub fn post_list_etag(&self, ids: &[Id]) -> String {
        let mut id = Id::NONE;
        let mut t = 0i64;
        for p in ids.iter().filter_map(|i| self.posts.get(i)) {
            if p.update_at > t || (p.update_at == t && p.id > id) {
                t = p.update_at;
                id = p.id;
            }
        }
        let first = ids.first().copied().unwrap_or(Id::NONE);
        let id_s = if id.is_none() {
            "0".to_string()
        } else {
            id.to_string()
        };
        self.etag(&[&first, &id_s, &t])
    }

    /// `GET /channels/{id}/pinned` body (oldest first) and its ETag.
    pub fn pinned_posts(&self, channel_id: &str) -> (Value, String) {
        let order: Vec<Id> = self
            .channel(channel_id)
            .map(|c| {
                c.live
                    .iter()
                    .filter(|(_, id)| self.posts[id].is_pinned)
                    .map(|(_, id)| *id)
                    .collect()
            })
            .unwrap_or_default();
        let v = self
            .post_list(&order, &[], true, Id::NONE, Id::NONE)
            .to_value();
        (v, self.post_list_etag(&order))
    }

    /// Edit-history rows of a post, newest edit first (raw rows, old messages intact).
    pub fn edit_history(&self, post_id: &str) -> Vec<Value> {
        let mut rows: Vec<&Post> = self
            .history
            .get(&Id::lookup(post_id))
            .map(|h| h.iter().filter_map(|i| self.posts.get(i)).collect())
            .unwrap_or_default();
        rows.sort_by_key(|p| std::cmp::Reverse((p.edit_at, p.update_at, p.id)));
        rows.into_iter().map(|p| self.raw_post_json(p)).collect()
    }
}
