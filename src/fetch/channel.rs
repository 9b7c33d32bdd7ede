//! Backing up one channel: members, every post page by page, threads, attachments.

use std::collections::HashSet;

use anyhow::{Context, Result};

use super::Engine;
use crate::api::model::{Channel, FileInfo, Member, Post, PostList, Raw};
use crate::api::{Anchor, ApiError};
use crate::store::{Change, ChannelKind, ChannelState, IdDir};

/// Counts of one channel's backup.
#[derive(Debug, Default, Clone, Copy)]
pub struct ChannelStats {
    pub posts_seen: u64,
    pub posts_new: u64,
    pub posts_updated: u64,
    pub files: u64,
    pub bytes: u64,
}

impl Engine<'_> {
    /// Backs up a channel into `parent/<channel_id>__<name>...`.
    /// `members`: the channel's members if the caller has them already.
    pub(super) async fn backup_channel(
        &mut self,
        parent: &mut IdDir,
        kind: ChannelKind,
        channel: &Raw<Channel>,
        members: Option<Vec<Raw<Member>>>,
        name: &str,
        label: &str,
    ) -> Result<()> {
        self.cancel.check()?;
        let cid = &channel.v.id;
        let mut dir = self.store.channel(parent, kind, cid, name)?;
        let members = match members {
            Some(m) => m,
            None => self
                .client
                .channel_members(cid)
                .await
                .with_context(|| format!("members of {label}"))?,
        };
        for m in &members {
            self.seen.insert(m.v.user_id.clone());
        }
        dir.write_channel(
            parent,
            channel.raw.get().as_bytes(),
            &json_array(members.iter().map(|m| m.raw.get())),
        )?;

        // Walk backwards from the newest post. Once a walk of this channel has completed (the
        // state says so), every post older than a stored one is stored too, so the walk stops
        // at the first page that holds a stored post: one request for an unchanged channel.
        // Without a completed walk (first run, an interrupted first run, a data dir of the
        // original, --update-old-posts) it reads the whole channel.
        let previous = if self.opts.update_old_posts {
            None
        } else {
            self.state.channels.get(cid.as_str()).cloned()
        };
        let mut stats = ChannelStats::default();
        let mut seen_ids: HashSet<String> = HashSet::new();
        let mut max_update_at = previous.as_ref().map_or(0, |p| p.max_update_at);
        let mut anchor = Anchor::Newest;
        loop {
            self.cancel.check()?;
            let page = self
                .client
                .posts(cid, &anchor)
                .await
                .with_context(|| format!("posts of {label}"))?;
            let mut fresh = 0;
            let mut reached_stored = false;
            for id in &page.order {
                if !seen_ids.insert(id.clone()) {
                    continue;
                }
                fresh += 1;
                reached_stored |= previous.is_some() && dir.has_post(id);
                let raw = page.posts.get(id).with_context(|| format!("posts of {label}: the server listed post {id} in `order` but did not send it"))?;
                max_update_at =
                    max_update_at.max(self.save_post(&mut dir, raw, &mut stats, label).await?);
            }
            if reached_stored {
                break;
            }
            match next_anchor(&page, fresh, &post_times(&page)) {
                Some(a) => anchor = a,
                None => break,
            }
        }
        dir.finish(parent)?;
        self.state
            .channels
            .insert(cid.clone(), ChannelState { max_update_at });
        self.store.save_state(&self.state)?;
        tracing::info!(
            "{label}: {} posts read ({} new, {} updated), {} files downloaded ({})",
            stats.posts_seen,
            stats.posts_new,
            stats.posts_updated,
            stats.files,
            human_bytes(stats.bytes)
        );
        self.summary.add(&stats);
        self.summary.channels += 1;
        Ok(())
    }

    /// Stores a post and its attachments; returns its `update_at`.
    async fn save_post(
        &mut self,
        dir: &mut crate::store::ChannelDir,
        raw: &serde_json::value::RawValue,
        stats: &mut ChannelStats,
        label: &str,
    ) -> Result<i64> {
        let post: Post = serde_json::from_str(raw.get())
            .with_context(|| format!("{label}: a post the server sent is not valid"))?;
        stats.posts_seen += 1;
        match dir.write_post(&post.id, post.create_at, raw.get().as_bytes())? {
            Change::New => stats.posts_new += 1,
            Change::Updated => stats.posts_updated += 1,
            Change::Unchanged => {}
        }
        if !post.root_id.is_empty() {
            dir.add_thread(&post.root_id, &post.id);
        }
        if !post.user_id.is_empty() {
            self.seen.insert(post.user_id.clone());
        }
        for r in &post.metadata.reactions {
            if !r.user_id.is_empty() {
                self.seen.insert(r.user_id.clone());
            }
        }
        for f in &post.metadata.files {
            let info: Raw<FileInfo> = Raw::parse(f.clone())
                .with_context(|| format!("{label}: post {} has an invalid file info", post.id))?;
            dir.write_file_info(&info.v.id, info.bytes())?;
            if dir.has_file(&info.v.id, info.v.size) {
                continue;
            }
            self.cancel.check()?;
            match self.download(dir, &info.v).await {
                Ok(n) => {
                    stats.files += 1;
                    stats.bytes += n;
                }
                Err(e) if is_item_error(&e) => {
                    let msg = format!(
                        "{label}: file {} ({}) of post {}: {e:#}",
                        info.v.id, info.v.name, post.id
                    );
                    tracing::warn!("{msg}");
                    self.summary.failures.push(msg);
                }
                Err(e) => return Err(e),
            }
        }
        Ok(post.update_at)
    }

    /// Streams one attachment to disk; it appears under its name only when complete.
    async fn download(
        &mut self,
        dir: &mut crate::store::ChannelDir,
        info: &FileInfo,
    ) -> Result<u64> {
        let mut dl = self.client.file(&info.id).await?;
        let (mut file, fname) = dir.begin_file(&info.id, &info.name)?;
        while let Some(chunk) = dl.chunk().await? {
            file.write_all(&chunk)
                .with_context(|| format!("writing {}", fname))?;
            if info.size >= 0 && file.written() > info.size as u64 {
                anyhow::bail!(ItemError(format!(
                    "the server sent more than the {} bytes its file info gives",
                    info.size
                )));
            }
        }
        if info.size >= 0 && file.written() != info.size as u64 {
            anyhow::bail!(ItemError(format!(
                "the server sent {} bytes, its file info gives {}",
                file.written(),
                info.size
            )));
        }
        let n = file.written();
        dir.file_done(&info.id, fname, file)?;
        Ok(n)
    }
}

/// `(id, create_at)` of a page's posts in `order`.
fn post_times(page: &PostList) -> Vec<(String, i64)> {
    #[derive(serde::Deserialize)]
    struct T {
        #[serde(default)]
        create_at: i64,
    }
    page.order
        .iter()
        .map(|id| {
            let t = page
                .posts
                .get(id)
                .and_then(|r| serde_json::from_str::<T>(r.get()).ok())
                .map_or(0, |t| t.create_at);
            (id.clone(), t)
        })
        .collect()
}

/// An error that concerns one item only (one file); the run goes on.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct ItemError(pub String);

fn is_item_error(e: &anyhow::Error) -> bool {
    e.downcast_ref::<ItemError>().is_some()
        || e.downcast_ref::<ApiError>()
            .is_some_and(|a| matches!(a.status(), Some(403 | 404 | 410)))
}

/// Where the next (older) page starts, or `None` when the walk is done.
///
/// Done when `prev_post_id` is empty: the server sets it empty on a short page, so no trailing
/// empty request is made. The anchor is not the page's oldest post but the oldest one with a
/// newer `create_at`: the server compares `create_at` strictly, so posts sharing the timestamp
/// of the page's edge would otherwise be skipped. A page that brought nothing new ends the walk
/// (a broken server repeating itself).
fn next_anchor(page: &PostList, fresh: usize, times: &[(String, i64)]) -> Option<Anchor> {
    if page.order.is_empty() || page.prev_post_id.is_empty() {
        return None;
    }
    if fresh == 0 {
        tracing::warn!("the server repeated a page of posts; stopping this channel's walk");
        return None;
    }
    let edge = times.last()?.1;
    let pick = times
        .iter()
        .rev()
        .find(|(_, t)| *t != edge)
        .or(times.last())?;
    Some(Anchor::Before(pick.0.clone()))
}

/// `[a,b,c]` from raw JSON values.
pub(super) fn json_array<'a>(items: impl Iterator<Item = &'a str>) -> Vec<u8> {
    let mut out = b"[".to_vec();
    for (i, it) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        out.extend_from_slice(it.as_bytes());
    }
    out.push(b']');
    out
}

pub(crate) fn human_bytes(n: u64) -> String {
    const U: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut v = n as f64;
    let mut i = 0;
    while v >= 1024.0 && i < U.len() - 1 {
        v /= 1024.0;
        i += 1;
    }
    if i == 0 {
        format!("{n} B")
    } else {
        format!("{v:.1} {}", U[i])
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn page(order: &[&str], prev: &str, next: &str) -> PostList {
        PostList {
            order: order.iter().map(|s| s.to_string()).collect(),
            posts: Default::default(),
            next_post_id: next.into(),
            prev_post_id: prev.into(),
        }
    }

    fn times(v: &[(&str, i64)]) -> Vec<(String, i64)> {
        v.iter().map(|(a, b)| (a.to_string(), *b)).collect()
    }

    #[test]
    fn walk_stops_on_empty_prev_and_overlaps_equal_times() {
        let t = times(&[("c", 30), ("b", 20), ("a", 20)]);
        assert_eq!(next_anchor(&page(&["c", "b", "a"], "", "x"), 3, &t), None);
        assert_eq!(
            next_anchor(&page(&["c", "b", "a"], "z", ""), 3, &t),
            Some(Anchor::Before("c".into()))
        );
        let t = times(&[("c", 30), ("b", 25), ("a", 20)]);
        assert_eq!(
            next_anchor(&page(&["c", "b", "a"], "z", ""), 3, &t),
            Some(Anchor::Before("b".into()))
        );
        // all the same: nothing better than the last one
        let t = times(&[("b", 5), ("a", 5)]);
        assert_eq!(
            next_anchor(&page(&["b", "a"], "z", ""), 2, &t),
            Some(Anchor::Before("a".into()))
        );
    }

    #[test]
    fn a_repeated_page_ends_the_walk() {
        let t = times(&[("c", 30)]);
        assert_eq!(next_anchor(&page(&["c"], "q", "n"), 0, &t), None);
        assert_eq!(next_anchor(&page(&[], "q", "n"), 0, &[]), None);
    }
}
