//! Teams' objects and icons, users and their profile images, custom emojis and their images.

use std::collections::BTreeSet;
use std::path::Path;

use anyhow::{Context, Result};
use futures_util::StreamExt;

use super::clock::{self, Cursor};
use super::Engine;
use crate::api::model::{Image, Raw, Team};
use crate::store::{layout, IdDir, ImageData};

/// `since` on users is strictly greater-than: ask again for a little before the newest change.
const USERS_SINCE_OVERLAP_MS: i64 = 5_000;

fn stored_i64(v: &Option<serde_json::Value>, key: &str) -> Option<i64> {
    v.as_ref()
        .map(|v| v.get(key).and_then(|x| x.as_i64()).unwrap_or(0))
}

impl Engine<'_> {
    /// Stores an image the server sent (`None`: it has none) as `<id>__<label>`; whether a file
    /// was written.
    fn write_fetched_image(
        &self,
        dir: &mut IdDir,
        id: &str,
        label: &str,
        img: Option<Image>,
    ) -> Result<bool> {
        let Some(img) = img else {
            return Ok(false);
        };
        Ok(self.store.write_image(
            dir,
            id,
            Some(label),
            ImageData {
                content_type: &img.content_type,
                bytes: &img.bytes,
            },
        )?)
    }

    /// `teams/<id>__<name>.json`, and the icon when the team has one that changed.
    pub(super) async fn backup_team_object(
        &mut self,
        dir: &mut IdDir,
        team: &Raw<Team>,
    ) -> Result<()> {
        let tid = &team.v.id;
        let old = self.store.stored_json(dir, tid);
        dir.write(
            &layout::object_file(&layout::object_base(tid, &team.v.name)?),
            team.bytes(),
        )?;
        let has_icon = self.store.has_image(dir, tid, Some("icon"));
        let changed = clock::changed(
            stored_i64(&old, "last_team_icon_update"),
            team.v.last_team_icon_update,
            self.client.server_time(),
        );
        if team.v.last_team_icon_update > 0 && (!has_icon || changed) {
            if let Some(img) = self
                .client
                .team_icon(tid)
                .await
                .with_context(|| format!("icon of team {}", team.v.name))?
            {
                self.store.write_image(
                    dir,
                    tid,
                    Some("icon"),
                    ImageData {
                        content_type: &img.content_type,
                        bytes: &img.bytes,
                    },
                )?;
            }
        }
        Ok(())
    }

    /// Every user seen as a member, author or reactor, plus the caller, and every user stored
    /// before (deactivated users keep their data). Users never stored are fetched in full;
    /// stored ones only when their profile changed (`POST /users/ids?since=`). Profile images
    /// are fetched when `last_picture_update` changed or the image is missing.
    pub(super) async fn backup_users(&mut self) -> Result<()> {
        let mut dir = self.store.id_dir(Path::new(layout::USERS))?;
        let stored: BTreeSet<String> = dir.ids_with(|n| n.ends_with(".json")).collect();
        let pending = self.state.get_mut().pending_users.clone();
        let all: BTreeSet<String> = stored
            .iter()
            .chain(self.seen.get_mut().iter())
            .chain(&pending)
            .cloned()
            .collect();
        tracing::info!(
            "users: {} seen in this run, {} in the backup",
            self.seen.get_mut().len(),
            all.len()
        );

        let new: Vec<String> = all
            .iter()
            .filter(|id| !stored.contains(*id) && !self.fresh.contains(*id))
            .cloned()
            .collect();
        let known: Vec<String> = stored
            .iter()
            .filter(|id| !self.fresh.contains(*id))
            .cloned()
            .collect();
        // The channels' rule (`clock`): a cursor ahead of the server's clock (by the answers
        // so far) asks for every stored user.
        let before = self.state.get_mut().users_max_update_at;
        let mut cursor = Cursor::new(before);
        cursor.saw_clock(self.client.server_time());
        let since = match clock::since(before, USERS_SINCE_OVERLAP_MS, cursor.now()) {
            _ if before <= 0 => None,
            Ok(since) => Some(since),
            Err(now) => {
                tracing::warn!(
                    "users: the last run's cursor ({}) is ahead of the server's clock ({}); reading every stored user so that no change stamped since is missed",
                    super::walk::utc(before),
                    super::walk::utc(now),
                );
                None
            }
        };
        let mut fetched = Vec::new();
        if !new.is_empty() {
            fetched.extend(
                self.client
                    .users_by_ids(&new, None)
                    .await
                    .context("fetching users")?,
            );
        }
        if !known.is_empty() {
            fetched.extend(
                self.client
                    .users_by_ids(&known, since)
                    .await
                    .context("fetching changed users")?,
            );
        }
        cursor.saw_clock(self.client.server_time());
        let now = cursor.now();
        for u in fetched {
            self.fresh.insert(u.v.id.clone());
            self.users.insert(u.v.id.clone(), u);
        }

        let skip_images = self.opts.skip_user_images || self.opts.skip_users;
        let (mut written, mut images) = (0, 0);
        let mut wanted: Vec<(String, String, String)> = Vec::new();
        for id in &all {
            self.cancel.check()?;
            let Some(user) = self.users.get(id) else {
                continue;
            };
            let old = self.store.stored_json(&dir, id);
            let username = user.v.username.clone();
            let lpu = user.v.last_picture_update;
            if self.fresh.contains(id) {
                cursor.saw(user.v.update_at);
                let r = self.store.write_user(&mut dir, id, &username, user.bytes());
                let label = format!("user {}", layout::shown(id));
                if self.item(r.map_err(Into::into), &label)?.is_none() {
                    continue;
                }
                written += 1;
            }
            if skip_images {
                continue;
            }
            let label = layout::user_image_label(&username);
            // Only a picture newer than the stored one is fetched. A removed picture
            // (`last_picture_update` back to 0) keeps the old image: the server now serves a
            // generated default. Without an uploaded picture, an image stored under a former
            // name is renamed, not replaced by the default.
            let grew = clock::changed(stored_i64(&old, "last_picture_update"), lpu, now);
            let mut missing = !self.store.has_image(&dir, id, Some(&label));
            if missing && !grew && lpu == 0 {
                missing = !self.store.relabel_image(&mut dir, id, &label)?;
            }
            if grew || missing {
                wanted.push((id.clone(), username, label));
            }
        }
        // Up to --jobs images in flight, written in the users' order.
        let client = self.client;
        let mut fetches = futures_util::stream::iter(wanted)
            .map(|(id, username, label)| async move {
                let r = client
                    .user_image(&id)
                    .await
                    .with_context(|| format!("profile image of {username}"));
                (id, label, r)
            })
            .buffered(self.opts.jobs.max(1));
        while let Some((id, label, r)) = fetches.next().await {
            self.cancel.check()?;
            images += u64::from(self.write_fetched_image(&mut dir, &id, &label, r?)?);
        }
        drop(fetches);
        // Users the server left out of its answer (`GetViewUsersRestrictions`: a guest, or a
        // scheme without `view_members`): no failure; their posts are stored all the same.
        // They stay pending, so a later run stores them once the server shows them.
        let hidden: Vec<String> = new
            .iter()
            .filter(|id| !self.users.contains_key(*id))
            .cloned()
            .collect();
        if !hidden.is_empty() {
            tracing::info!(
                "users: the server does not show {} user(s) to {} (a guest account or restricted permissions); their posts are kept, without a profile: {}",
                hidden.len(),
                self.me.v.username,
                hidden.join(", ")
            );
        }
        self.state.get_mut().users_max_update_at = cursor.next();
        // All stored now: nothing else is pending any more.
        self.seen.get_mut().clear();
        self.state.get_mut().pending_users = hidden.iter().cloned().collect();
        self.summary.get_mut().hidden_users = hidden;
        self.summary.get_mut().users += written;
        self.summary.get_mut().images += images;
        self.store.checkpoint()?;
        tracing::info!("users: {written} fetched and stored, {images} profile images downloaded");
        Ok(())
    }

    /// All custom emojis; the image when new or changed. Disabled custom emoji: a notice.
    pub(super) async fn backup_emojis(&mut self) -> Result<()> {
        let Some(emojis) = self
            .client
            .emojis()
            .await
            .context("listing custom emojis")?
        else {
            tracing::info!("custom emojis: disabled on this server (501), skipping");
            return Ok(());
        };
        let mut dir = self.store.id_dir(Path::new(layout::EMOJIS))?;
        let mut images = 0;
        let mut wanted = Vec::new();
        for e in &emojis {
            self.cancel.check()?;
            let id = &e.v.id;
            let old = self.store.stored_json(&dir, id);
            let r = layout::object_base(id, &e.v.name);
            let label = format!(
                "custom emoji {} ({})",
                layout::shown(&e.v.name),
                layout::shown(id)
            );
            let Some(base) = self.item(r.map_err(Into::into), &label)? else {
                continue;
            };
            let json_name = layout::object_file(&base);
            dir.write(&json_name, e.bytes())?;
            dir.remove_others(id, &[&json_name], |n| n.ends_with(".json"))?;
            let changed = clock::changed(
                stored_i64(&old, "update_at"),
                e.v.update_at,
                self.client.server_time(),
            );
            if changed || !self.store.has_image(&dir, id, Some(&e.v.name)) {
                wanted.push((id.as_str(), e.v.name.as_str()));
            }
            self.summary.get_mut().emojis += 1;
        }
        // Up to --jobs images in flight, written in the emojis' order.
        let client = self.client;
        let mut fetches = futures_util::stream::iter(wanted)
            .map(|(id, name)| async move {
                let r = client
                    .emoji_image(id)
                    .await
                    .with_context(|| format!("image of emoji {name}"));
                (id, name, r)
            })
            .buffered(self.opts.jobs.max(1));
        while let Some((id, name, r)) = fetches.next().await {
            self.cancel.check()?;
            images += u64::from(self.write_fetched_image(&mut dir, id, name, r?)?);
        }
        drop(fetches);
        self.store.checkpoint()?;
        tracing::info!(
            "custom emojis: {} stored, {images} images downloaded",
            emojis.len()
        );
        Ok(())
    }
}
