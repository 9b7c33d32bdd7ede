//! Teams' objects and icons, users and their profile images, custom emojis and their images.

use std::path::Path;

use anyhow::{Context, Result};

use super::Engine;
use crate::api::model::{Raw, Team};
use crate::store::{layout, IdDir, ImageData};

fn stored_i64(v: &Option<serde_json::Value>, key: &str) -> Option<i64> {
    v.as_ref()
        .map(|v| v.get(key).and_then(|x| x.as_i64()).unwrap_or(0))
}

impl Engine<'_> {
    /// `teams/<id>__<name>.json`, and the icon when the team has one that changed.
    pub(super) async fn backup_team_object(
        &mut self,
        dir: &mut IdDir,
        team: &Raw<Team>,
    ) -> Result<()> {
        let tid = &team.v.id;
        let old = self.store.stored_json(dir, tid);
        dir.write(
            &format!(
                "{tid}{}{}.json",
                layout::SEP,
                layout::sanitize(&team.v.name)
            ),
            team.bytes(),
        )?;
        let has_icon = self.store.has_image(dir, tid, Some("icon"));
        let changed = stored_i64(&old, "last_team_icon_update")
            .is_none_or(|o| o < team.v.last_team_icon_update);
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

    /// Every user seen as a member, author or reactor, plus the caller; images unless skipped.
    pub(super) async fn backup_users(&mut self) -> Result<()> {
        let ids: Vec<String> = self.seen.iter().cloned().collect();
        tracing::info!("users: {} seen", ids.len());
        self.resolve_users(ids.iter().cloned()).await?;
        let mut dir = self.store.id_dir(Path::new(layout::USERS))?;
        let skip_images = self.opts.skip_user_images || self.opts.skip_users;
        let mut images = 0;
        for id in &ids {
            self.cancel.check()?;
            let Some(user) = self.users.get(id) else {
                tracing::debug!("user {id} is unknown to the server");
                continue;
            };
            let old = self.store.stored_json(&dir, id);
            let username = user.v.username.clone();
            let lpu = user.v.last_picture_update;
            self.store
                .write_user(&mut dir, id, &username, user.bytes())?;
            self.summary.users += 1;
            if skip_images {
                continue;
            }
            let label = format!("{}{}image", layout::sanitize(&username), layout::SEP);
            let grew = stored_i64(&old, "last_picture_update").is_none_or(|o| o < lpu);
            if grew || !self.store.has_image(&dir, id, Some(&label)) {
                if let Some(img) = self
                    .client
                    .user_image(id)
                    .await
                    .with_context(|| format!("profile image of {username}"))?
                {
                    if self.store.write_image(
                        &mut dir,
                        id,
                        Some(&label),
                        ImageData {
                            content_type: &img.content_type,
                            bytes: &img.bytes,
                        },
                    )? {
                        images += 1;
                    }
                }
            }
        }
        self.summary.images += images;
        self.store.checkpoint()?;
        tracing::info!(
            "users: {} stored, {images} profile images downloaded",
            self.summary.users
        );
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
        for e in &emojis {
            self.cancel.check()?;
            let id = &e.v.id;
            let old = self.store.stored_json(&dir, id);
            let name = layout::sanitize(&e.v.name);
            let json_name = format!("{id}{}{name}.json", layout::SEP);
            dir.write(&json_name, e.bytes())?;
            dir.remove_others(id, &[&json_name], |n| n.ends_with(".json"))?;
            let changed = stored_i64(&old, "update_at").is_none_or(|o| o < e.v.update_at);
            if changed || !self.store.has_image(&dir, id, Some(&e.v.name)) {
                if let Some(img) = self
                    .client
                    .emoji_image(id)
                    .await
                    .with_context(|| format!("image of emoji {}", e.v.name))?
                {
                    if self.store.write_image(
                        &mut dir,
                        id,
                        Some(&e.v.name),
                        ImageData {
                            content_type: &img.content_type,
                            bytes: &img.bytes,
                        },
                    )? {
                        images += 1;
                    }
                }
            }
            self.summary.emojis += 1;
        }
        self.store.checkpoint()?;
        tracing::info!(
            "custom emojis: {} stored, {images} images downloaded",
            emojis.len()
        );
        Ok(())
    }
}
