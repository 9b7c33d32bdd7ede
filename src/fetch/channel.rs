//! Backing up one channel: its posts (in full, or only what changed since the last run),
//! threads, attachments, and members when they may have changed.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use anyhow::{Context, Result};
use futures_util::stream::{FuturesUnordered, StreamExt};
use serde_json::value::RawValue;

use super::clock::{self, Cursor};
use super::{walk, Engine};
use crate::api::model::{Channel, FileInfo, Member, Post, PostList, Raw};
use crate::api::{Anchor, ApiError, Client};
use crate::cancel::Cancel;
use crate::store::atomic::AtomicFile;
use crate::store::{layout, Change, ChannelDir, ChannelState, IdDir, Place, PostVersion};
use crate::units::human_bytes;

/// `since` is strictly greater-than: ask again for this much before the newest change seen, so
/// that a change stored with the same timestamp (or committed a little late) is not missed.
const SINCE_OVERLAP_MS: i64 = 5_000;
/// The server answers `since` with at most this many rows, an arbitrary subset beyond it.
const SINCE_CAP: usize = 1000;

/// Counts of one channel's backup.
#[derive(Debug, Default, Clone, Copy)]
pub struct ChannelStats {
    pub posts_seen: u64,
    pub posts_new: u64,
    pub posts_updated: u64,
    pub posts_edited: u64,
    pub posts_deleted: u64,
    pub files: u64,
    pub bytes: u64,
}

/// What reading a channel's posts found out.
#[derive(Debug, Default)]
struct Walk {
    /// The `update_at` of the post rows against the server's clock: the next run's `since`.
    /// Rows not newer than its `known_until` were seen already (the overlap of `since`).
    cursor: Cursor,
    /// A post says that someone joined or left the channel.
    members_changed: bool,
    /// A post says that someone joined or left the team.
    team_members_changed: bool,
    /// The oldest `update_at` of a post whose attachment could not be fetched: the next run
    /// starts there, so that it tries again.
    retry_from: Option<i64>,
    /// The channel's count against what this run saw.
    tally: walk::Tally,
    /// The most posts a walk may list (see [`walk::walk_cap`]).
    cap: usize,
    /// The channel's count when the channel list was read, for the walks ([`walk::Cursor::counting`]).
    count: Option<(i64, i64)>,
}

/// Attachments being downloaded while the walk goes on: at most `jobs` at a time, each into
/// its temp file; they are committed by the walk (which owns the channel folder) as they end.
struct Downloads<'a> {
    pool: FuturesUnordered<Pin<Box<dyn Future<Output = Fetched> + 'a>>>,
    queued: HashSet<String>,
    jobs: usize,
}

/// A download that ended, well or not.
struct Fetched {
    info: FileInfo,
    fname: String,
    post_id: String,
    update_at: i64,
    result: Result<AtomicFile>,
}

/// A page request on its way, on a task of its own: it is sent, and its answer read, while the
/// walk writes the page before it. Dropped, it is aborted.
struct PageRequest(tokio::task::JoinHandle<PageResult>);
type PageResult = Result<PostList, ApiError>;

impl Drop for PageRequest {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Starts the request for a page of posts.
fn request_page(client: &Arc<Client>, channel_id: &str, anchor: Anchor) -> PageRequest {
    let (client, cid) = (Arc::clone(client), channel_id.to_string());
    PageRequest(tokio::spawn(
        async move { client.posts(&cid, &anchor).await },
    ))
}

/// Runs `fut` while the downloads go on; returns its output and the downloads that ended.
async fn drive<T>(dl: &mut Downloads<'_>, fut: impl Future<Output = T>) -> (T, Vec<Fetched>) {
    let mut fut = std::pin::pin!(fut);
    let mut done = Vec::new();
    loop {
        if dl.pool.is_empty() {
            return (fut.await, done);
        }
        // The downloads first: a page requested ahead is often there already, and the
        // downloads are only read on while the walk waits here.
        tokio::select! {
            biased;
            Some(f) = dl.pool.next() => done.push(f),
            out = &mut fut => return (out, done),
        }
    }
}

impl<'a> Engine<'a> {
    /// Backs up a channel into `parent/<channel_id>__<name>...`; returns whether its posts show
    /// a change of the team's members.
    ///
    /// Without a record of a completed read in the state file (first run, an interrupted first
    /// run, a data dir of the original, `--update-old-posts`), or when `--reread-every` says it
    /// is the channel's turn, all posts are read page by page. Otherwise one `since` request
    /// brings every post row changed since the last run: new posts, edits, reactions, pins and
    /// deletions. The channel is read in full after all when that answer is at the server's
    /// cap of 1000 rows (it may be incomplete) or when the last run's cursor is ahead of the
    /// server's clock (posts stamped since then would look old). When the server counts more
    /// posts than the `since` answer explains (posts saved with an old `create_at`), the posts
    /// are read from the newest on until those are found.
    ///
    /// `members`: the channel's members if the caller fetched them already.
    pub(super) async fn backup_channel(
        &self,
        parent: &RefCell<IdDir>,
        kind: Place,
        channel: &Raw<Channel>,
        members: Option<Vec<Raw<Member>>>,
        name: &str,
        label: &str,
    ) -> Result<bool> {
        self.cancel.check()?;
        let cid = channel.v.id.clone();
        if !self.walked.borrow_mut().insert(cid.clone()) {
            tracing::debug!("{label}: already read in this run");
            return Ok(false);
        }
        let (zone, stored) = {
            let state = self.state.borrow();
            let zone = state
                .post_names
                .unwrap_or(crate::store::layout::NameZone::Utc);
            (zone, state.channels.get(&cid).cloned())
        };
        let mut dir = self
            .store
            .channel(&mut parent.borrow_mut(), kind, &cid, name, zone)?;
        let due = self.opts.reread_every > 0
            && stored.is_some()
            && walk::reread_due(
                &cid,
                stored.as_ref().and_then(|s| s.full_read_day),
                self.now,
                self.opts.reread_every,
            );
        if due {
            tracing::info!("{label}: re-reading in full (--reread-every)");
        }
        let previous = if self.opts.update_old_posts || due {
            None
        } else {
            stored.clone()
        };
        let mut stats = ChannelStats::default();
        let known_until = previous.as_ref().map_or(0, |p| p.max_update_at);
        let baseline = previous
            .as_ref()
            .and_then(|p| p.msg_count.map(|c| (c, p.last_post_at)));
        let mut walk = Walk {
            cursor: Cursor::new(known_until),
            tally: walk::Tally::new(&channel.v, baseline),
            cap: walk::walk_cap(&channel.v),
            count: channel
                .v
                .total_msg_count
                .map(|n| (n, channel.v.last_post_at)),
            ..Walk::default()
        };

        let mut dl = Downloads {
            pool: FuturesUnordered::new(),
            queued: HashSet::new(),
            jobs: self.opts.jobs.max(1),
        };
        let mut full = previous.is_none();
        let mut read_all = false;
        if let Some(prev) = &previous {
            let since = prev.max_update_at - SINCE_OVERLAP_MS;
            let page = self
                .client
                .posts_since(&cid, since)
                .await
                .with_context(|| format!("changed posts of {label}"))?;
            walk.cursor.saw_clock(page.server_time);
            if let Err(now) = clock::since(prev.max_update_at, SINCE_OVERLAP_MS, page.server_time) {
                tracing::warn!(
                    "{label}: the last run's cursor ({}) is ahead of the server's clock ({}); reading the whole channel so that no post stamped since is missed",
                    walk::utc(prev.max_update_at),
                    walk::utc(now),
                );
                full = true;
            } else if page.order.len() >= SINCE_CAP {
                tracing::info!(
                    "{label}: {} or more changes since the last run, reading the whole channel",
                    SINCE_CAP
                );
                full = true;
            } else {
                for p in walk::listed(&page) {
                    walk.tally.see(&p, dir.has_post(&p.id));
                    let raw = listed(&page, &p.id, label)?;
                    self.apply_post(&mut dir, &mut dl, raw, &mut stats, &mut walk, label)
                        .await?;
                }
                let missing = walk.tally.missing();
                if missing > 0 {
                    tracing::info!(
                        "{label}: the server counts {missing} more post(s) than the changes since the last run show (imported or backdated posts); looking for them"
                    );
                    read_all = self
                        .walk_posts(
                            &mut dir,
                            &mut dl,
                            &mut stats,
                            &mut walk,
                            label,
                            Some(missing),
                        )
                        .await?;
                }
            }
        }
        if full {
            read_all = self
                .walk_posts(&mut dir, &mut dl, &mut stats, &mut walk, label, None)
                .await?;
        }
        while let Some(f) = dl.pool.next().await {
            self.file_fetched(&mut dir, f, &mut stats, &mut walk, label)?;
        }

        let unknown_members = dir.stored_members(&parent.borrow()).is_none();
        let members = if full || walk.members_changed || unknown_members {
            let m = match members {
                Some(m) => m,
                None => self
                    .client
                    .channel_members(&cid)
                    .await
                    .with_context(|| format!("members of {label}"))?,
            };
            self.seen
                .borrow_mut()
                .extend(m.iter().map(|u| u.v.user_id.clone()));
            Some(json_array(m.iter().map(|u| u.raw.get())))
        } else {
            None
        };
        {
            let mut parent = parent.borrow_mut();
            dir.write_channel(&mut parent, channel.bytes(), members.as_deref())?;
            dir.finish(&mut parent)?;
        }
        let mut max_update_at = walk.cursor.next();
        if let Some(r) = walk.retry_from {
            max_update_at = max_update_at.min(r - 1);
        }
        let (msg_count, last_post_at) = walk.tally.baseline().unzip();
        let full_read_day = if read_all {
            Some(walk::day(self.now))
        } else {
            stored.and_then(|s| s.full_read_day)
        };
        let cursor = ChannelState {
            max_update_at,
            msg_count,
            last_post_at: last_post_at.unwrap_or(0),
            full_read_day,
        };
        let team_members = walk.team_members_changed || full;
        {
            let mut state = self.state.borrow_mut();
            // The team's members are owed before the cursor moves past what showed it.
            if team_members && kind == Place::Team && !channel.v.team_id.is_empty() {
                state.pending_team_members.insert(channel.v.team_id.clone());
            }
            state.channels.insert(cid, cursor);
        }
        self.save_state()?;

        tracing::info!(
            "{label}: {} posts read ({} new, {} changed, {} edited, {} deleted), {} files downloaded ({})",
            stats.posts_seen,
            stats.posts_new,
            stats.posts_updated,
            stats.posts_edited,
            stats.posts_deleted,
            stats.files,
            human_bytes(stats.bytes)
        );
        let mut summary = self.summary.borrow_mut();
        summary.add(&stats);
        summary.channels += 1;
        drop(summary);
        self.opts.progress.channel_done();
        Ok(team_members)
    }

    /// Reads the channel's posts from the newest to the first (see [`walk::Cursor::step`]).
    ///
    /// `missing`: stop once this many posts the channel's count says are missing were found.
    /// Returns whether the walk provably reached the channel's first post; then the stored
    /// posts the server no longer lists are checked one by one, and those it says are gone
    /// are recorded as deleted.
    ///
    /// # Errors
    /// An [`ItemError`] when the server repeats itself or lists more posts than it can have:
    /// the channel is then partial and keeps its cursor, so the next run tries again.
    async fn walk_posts(
        &self,
        dir: &mut ChannelDir,
        dl: &mut Downloads<'a>,
        stats: &mut ChannelStats,
        walk: &mut Walk,
        label: &str,
        mut missing: Option<i64>,
    ) -> Result<bool> {
        let cid = dir.channel_id().to_string();
        let mut cursor = walk::Cursor::counting(walk.count);
        let cap = walk.cap;
        let mut anchor = Anchor::Newest;
        let mut next = Some(request_page(self.client, &cid, anchor.clone()));
        let mut proven = false;
        while let Some(mut request) = next.take() {
            self.cancel.check()?;
            let (answer, done) = drive(dl, &mut request.0).await;
            for f in done {
                self.file_fetched(dir, f, stats, walk, label)?;
            }
            let page = answer
                .map_err(|e| anyhow::anyhow!("posts of {label}: the request's task failed: {e}"))?
                .with_context(|| format!("posts of {label}"))?;
            walk.cursor.saw_clock(page.server_time);
            let posts = walk::listed(&page);
            let fresh = cursor.take(&posts);
            let mut found = 0;
            for p in &fresh {
                let had = dir.has_post(&p.id);
                if walk.tally.is_missing_kind(p, had) {
                    found += 1;
                }
                walk.tally.see(p, had);
            }
            let done_looking = missing.is_some_and(|m| found >= m);
            if let Some(m) = &mut missing {
                *m -= found;
            }
            // The next page is asked for before this one is written: the server prepares it
            // while the posts go to disk.
            let step = cursor.step(&anchor, &posts, fresh.len());
            let ids: Vec<String> = fresh.iter().map(|p| p.id.clone()).collect();
            let stop = match step {
                _ if done_looking => None,
                walk::Step::Next(a) if cursor.seen.len() <= cap => {
                    anchor = a;
                    next = Some(request_page(self.client, &cid, anchor.clone()));
                    None
                }
                walk::Step::Next(_) => Some(format!(
                    "GET /channels/{cid}/posts: the server listed more than {cap} posts, far more than the channel's count; stopped (the next run tries again)"
                )),
                walk::Step::End => {
                    proven = true;
                    None
                }
                walk::Step::Repeated => Some(format!(
                    "GET /channels/{cid}/posts: the server repeated a page of posts after {} posts; stopped (the next run tries again)",
                    cursor.seen.len()
                )),
            };
            for id in &ids {
                let raw = listed(&page, id, label)?;
                self.apply_post(dir, dl, raw, stats, walk, label).await?;
            }
            if let Some(msg) = stop {
                self.finish_downloads(dir, dl, stats, walk, label).await?;
                anyhow::bail!(ItemError(msg));
            }
        }
        if let Some(m) = missing.filter(|m| *m > 0 && proven) {
            tracing::info!(
                "{label}: read the whole channel; {m} of the posts its count includes were not found (deleted before any run saw them?)"
            );
        }
        if proven {
            self.check_unlisted(dir, &cursor.seen, stats, label).await?;
        }
        Ok(proven)
    }

    /// Asks the server about each stored post that a complete walk did not list: one that it
    /// says does not exist (404) is recorded as deleted; one it still has (it was filtered
    /// from the pages) is kept as it is.
    async fn check_unlisted(
        &self,
        dir: &mut ChannelDir,
        listed: &HashSet<String>,
        stats: &mut ChannelStats,
        label: &str,
    ) -> Result<()> {
        for id in dir.unlisted(listed)? {
            self.cancel.check()?;
            match self.client.post(&id).await {
                Ok(None) => {
                    dir.record_deleted(&id, self.now)?;
                    stats.posts_deleted += 1;
                }
                Ok(Some(_)) => {
                    tracing::debug!(
                        "{label}: post {id} is not in the pages but the server has it; kept"
                    );
                }
                Err(e) if !is_fatal(&e) => {
                    tracing::debug!("{label}: post {id}: {e}; not recorded as deleted");
                }
                Err(e) => {
                    return Err(anyhow::Error::new(e).context(format!("post {id} of {label}")))
                }
            }
        }
        Ok(())
    }

    /// Waits for the downloads in flight and commits them.
    async fn finish_downloads(
        &self,
        dir: &mut ChannelDir,
        dl: &mut Downloads<'a>,
        stats: &mut ChannelStats,
        walk: &mut Walk,
        label: &str,
    ) -> Result<()> {
        while let Some(f) = dl.pool.next().await {
            self.file_fetched(dir, f, stats, walk, label)?;
        }
        Ok(())
    }

    /// Files one post row of the server: a post (new, changed, edited or deleted) with its
    /// attachments, or an edit-history row (skipped: the store keeps the versions it saw).
    async fn apply_post(
        &self,
        dir: &mut ChannelDir,
        dl: &mut Downloads<'a>,
        raw: &RawValue,
        stats: &mut ChannelStats,
        walk: &mut Walk,
        label: &str,
    ) -> Result<()> {
        let post: Post = serde_json::from_str(raw.get())
            .with_context(|| format!("{label}: a post the server sent is not valid"))?;
        walk.cursor.saw(post.update_at);
        if !post.original_id.is_empty() {
            return Ok(());
        }
        if post.update_at > walk.cursor.known_until {
            walk.members_changed |= post.changes_channel_members();
            walk.team_members_changed |= post.changes_team_members();
        }
        stats.posts_seen += 1;
        self.opts.progress.posts(1);
        let version = PostVersion {
            id: &post.id,
            create_at: post.create_at,
            delete_at: post.delete_at,
            raw: raw.get().as_bytes(),
        };
        let saved = dir.save_post(version, self.now);
        let Some(change) = self.unless_bad_id(saved, walk, post.update_at, || {
            format!("{label}: post {}", layout::shown(&post.id))
        })?
        else {
            return Ok(());
        };
        match change {
            Change::New => stats.posts_new += 1,
            Change::Updated => stats.posts_updated += 1,
            Change::Edited => stats.posts_edited += 1,
            Change::Deleted => stats.posts_deleted += 1,
            Change::Unchanged => {}
            Change::Skipped => return Ok(()),
        }
        if !post.root_id.is_empty() {
            dir.add_thread(&post.root_id, &post.id);
        }
        if !post.user_id.is_empty() {
            self.seen.borrow_mut().insert(post.user_id.clone());
        }
        for r in &post.metadata.reactions {
            if !r.user_id.is_empty() {
                self.seen.borrow_mut().insert(r.user_id.clone());
            }
        }
        for f in &post.metadata.files {
            let info: Raw<FileInfo> = Raw::parse(f.clone())
                .with_context(|| format!("{label}: post {} has an invalid file info", post.id))?;
            let written = dir.write_file_info(&info.v.id, info.bytes());
            let what = || {
                let (id, name) = (layout::shown(&info.v.id), layout::shown(&info.v.name));
                format!("{label}: file {id} ({name}) of post {}", post.id)
            };
            if self
                .unless_bad_id(written, walk, post.update_at, what)?
                .is_none()
            {
                continue;
            }
            if dir.has_file(&info.v.id, info.v.size) || dl.queued.contains(&info.v.id) {
                continue;
            }
            self.cancel.check()?;
            // `--jobs` downloads in flight over all channels walked at once; a channel with
            // none in flight may always start one, so no walk waits for another's downloads.
            while dl.pool.len() >= dl.jobs
                || (!dl.pool.is_empty() && self.downloads.get() >= dl.jobs)
            {
                if let Some(f) = dl.pool.next().await {
                    self.file_fetched(dir, f, stats, walk, label)?;
                }
            }
            let (file, fname) = dir.begin_file(&info.v.id, &info.v.name)?;
            dl.queued.insert(info.v.id.clone());
            let counted = Counted::new(&self.downloads);
            let download = fetch(
                self.client,
                self.cancel.clone(),
                info.v,
                file,
                fname,
                post.id.clone(),
                post.update_at,
            );
            dl.pool.push(Box::pin(async move {
                let fetched = download.await;
                drop(counted);
                fetched
            }));
        }
        Ok(())
    }

    /// A post or file whose id cannot be a file name ([`layout::BadId`]) is left out: reported
    /// as a failure, and the channel's cursor stays before it (the next run sees it again).
    /// Any other error is returned.
    fn unless_bad_id<T>(
        &self,
        r: Result<T, crate::store::StoreError>,
        walk: &mut Walk,
        update_at: i64,
        what: impl FnOnce() -> String,
    ) -> Result<Option<T>> {
        match r.map_err(anyhow::Error::from) {
            Ok(v) => Ok(Some(v)),
            Err(e) if layout::is_bad_id(&e) => {
                let msg = format!("{}: {e:#}", what());
                tracing::warn!("{msg}");
                self.summary.borrow_mut().failures.push(msg);
                walk.retry_from = Some(walk.retry_from.map_or(update_at, |r| r.min(update_at)));
                Ok(None)
            }
            Err(e) => Err(e),
        }
    }

    /// Commits a download that ended, or records its failure (the next run tries again).
    fn file_fetched(
        &self,
        dir: &mut ChannelDir,
        f: Fetched,
        stats: &mut ChannelStats,
        walk: &mut Walk,
        label: &str,
    ) -> Result<()> {
        match f.result {
            Ok(file) => {
                let n = file.written();
                dir.file_done(&f.info.id, f.fname, file)?;
                stats.files += 1;
                stats.bytes += n;
                self.opts.progress.file(n);
            }
            Err(e) if is_item_error(&e) => {
                let msg = format!(
                    "{label}: file {} ({}) of post {}: {e:#}",
                    f.info.id, f.info.name, f.post_id
                );
                tracing::warn!("{msg}");
                self.summary.borrow_mut().failures.push(msg);
                walk.retry_from = Some(walk.retry_from.map_or(f.update_at, |r| r.min(f.update_at)));
            }
            Err(e) => return Err(e),
        }
        Ok(())
    }
}

/// Streams one attachment into `file`; it is complete when the server sent exactly the size its
/// file info gives. A transfer that breaks off is resumed with `Range` (or started over when the
/// server ignores the range), within the retry policy's attempts.
/// One download counted in flight in [`Engine`]'s `downloads` until it ends or is dropped.
pub(super) struct Counted(Rc<Cell<usize>>);

impl Counted {
    fn new(count: &Rc<Cell<usize>>) -> Self {
        count.set(count.get() + 1);
        Counted(Rc::clone(count))
    }
}

impl Drop for Counted {
    fn drop(&mut self) {
        self.0.set(self.0.get().saturating_sub(1));
    }
}

async fn fetch(
    client: &Client,
    cancel: Cancel,
    info: FileInfo,
    file: AtomicFile,
    fname: String,
    post_id: String,
    update_at: i64,
) -> Fetched {
    let result = stream_into(client, &cancel, &info, file, &fname).await;
    Fetched {
        info,
        fname,
        post_id,
        update_at,
        result,
    }
}

async fn stream_into(
    client: &Client,
    cancel: &Cancel,
    info: &FileInfo,
    mut file: AtomicFile,
    fname: &str,
) -> Result<AtomicFile> {
    let too_long = |n: u64| info.size >= 0 && n > info.size as u64;
    let mut attempt = 1;
    loop {
        let offset = file.written();
        let mut dl = client.file(&info.id, offset).await?;
        if offset > 0 && !dl.partial {
            file.truncate()
                .with_context(|| format!("writing {fname}"))?;
        }
        let broke = loop {
            match dl.chunk().await {
                Ok(Some(chunk)) => {
                    file.write_all(&chunk)
                        .with_context(|| format!("writing {fname}"))?;
                    if too_long(file.written()) {
                        anyhow::bail!(ItemError(format!(
                            "the server sent more than the {} bytes its file info gives",
                            info.size
                        )));
                    }
                }
                Ok(None) => break None,
                Err(e) => break Some(e),
            }
        };
        match broke {
            None => break,
            Some(e) if attempt < client.retry.attempts && crate::api::is_retryable(&e) => {
                let wait = client.retry.delay(attempt);
                tracing::warn!(
                    "{}: {e}; resuming at byte {} in {:.1}s",
                    info.name,
                    file.written(),
                    wait.as_secs_f64()
                );
                cancel.sleep(wait).await?;
                attempt += 1;
            }
            Some(e) => return Err(e.into()),
        }
    }
    if info.size >= 0 && file.written() != info.size as u64 {
        anyhow::bail!(ItemError(format!(
            "the server sent {} bytes, its file info gives {}",
            file.written(),
            info.size
        )));
    }
    Ok(file)
}

/// The raw post of an id in `order`.
fn listed<'p>(page: &'p PostList, id: &str, label: &str) -> Result<&'p RawValue> {
    page.posts.get(id).map(|r| &**r).with_context(|| {
        format!("posts of {label}: the server listed post {id} in `order` but did not send it")
    })
}

/// An error that concerns one item only (one file); the run goes on.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub(super) struct ItemError(pub String);

fn is_item_error(e: &anyhow::Error) -> bool {
    e.downcast_ref::<ItemError>().is_some()
        || e.downcast_ref::<ApiError>().is_some_and(|a| !is_fatal(a))
}

/// An API error that ends the run, not only the item: interrupted, server gone, login lost.
fn is_fatal(a: &ApiError) -> bool {
    matches!(
        a,
        ApiError::Cancelled
            | ApiError::Connect { .. }
            | ApiError::Tls { .. }
            | ApiError::Status { status: 401, .. }
    )
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
