//! The state file `.matterbak-state.json`: per-channel cursors, written atomically after the
//! data it describes.
//!
//! A channel is in the state only once a walk of it completed: from then on every post older
//! than a stored one is stored too, and the next run only reads until it meets a stored post. Deleting the file loses nothing: the next run re-reads every channel in full.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::atomic::{self, DirSync};
use super::{IoPath, StoreError};

pub const STATE_FILE: &str = ".matterbak-state.json";
const VERSION: u32 = 1;

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub version: u32,
    /// channel id -> cursor
    #[serde(default)]
    pub channels: BTreeMap<String, ChannelState>,
    /// The newest `update_at` of the users stored, never past the server's clock (the next run
    /// asks for changes after it).
    #[serde(default)]
    pub users_max_update_at: i64,
    /// Users seen as members, authors or reactors whose profile the users phase has not stored
    /// yet (so that a run killed in between does not forget them).
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub pending_users: BTreeSet<String>,
    /// Teams whose members a channel walk showed (or may hide) a change of: saved with that
    /// channel's cursor, removed once the members are stored, so that a failed or killed
    /// members request is made again by the next run.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub pending_team_members: BTreeSet<String>,
    /// The time zone of post file names in this data dir (decided once, then kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub post_names: Option<super::layout::NameZone>,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, Eq)]
pub struct ChannelState {
    /// The newest `update_at` of the posts seen so far (never past the server's clock).
    #[serde(default)]
    pub max_update_at: i64,
    /// The server's message count that the next run compares with (`total_msg_count` when
    /// the channel list was read, plus the counted posts stored that were created after).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub msg_count: Option<i64>,
    /// The channel's `last_post_at` when the channel list was read (ms).
    #[serde(default, skip_serializing_if = "is_zero")]
    pub last_post_at: i64,
    /// The day (since 1970-01-01, UTC, this machine's clock) of the last walk through all of
    /// the channel's posts (for `--reread-every`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub full_read_day: Option<i64>,
}

fn is_zero(v: &i64) -> bool {
    *v == 0
}

impl State {
    pub fn path(root: &Path) -> PathBuf {
        root.join(STATE_FILE)
    }

    /// Loads the state; a missing, unreadable or newer-version file gives an empty state
    /// (every channel is then read in full once), with a warning.
    pub fn load(root: &Path) -> State {
        let path = Self::path(root);
        let bytes = match super::links::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return State {
                    version: VERSION,
                    ..State::default()
                }
            }
            Err(e) => {
                tracing::warn!("{}: {e}; reading every channel in full", path.display());
                return State {
                    version: VERSION,
                    ..State::default()
                };
            }
        };
        match serde_json::from_slice::<State>(&bytes) {
            Ok(s) if s.version == VERSION => s,
            Ok(s) => {
                tracing::warn!(
                    "{}: version {} is unknown to this matterbak; reading every channel in full",
                    path.display(),
                    s.version
                );
                State {
                    version: VERSION,
                    ..State::default()
                }
            }
            Err(e) => {
                tracing::warn!("{}: {e}; reading every channel in full", path.display());
                State {
                    version: VERSION,
                    ..State::default()
                }
            }
        }
    }

    /// Writes the state atomically and durably (call it after a checkpoint of the data it
    /// describes): the file is fsynced before it replaces the old one, then the data dir. No
    /// second checkpoint: nothing else is written in between.
    pub fn save(&self, root: &Path, sync: &DirSync) -> Result<(), StoreError> {
        let path = Self::path(root);
        let bytes = serde_json::to_vec_pretty(self).expect("state serialises");
        // The state file is matterbak's own: a FIFO or the like there (reported when it was
        // loaded) holds nothing and is replaced.
        if let Ok(m) = std::fs::symlink_metadata(&path) {
            let t = m.file_type();
            if !t.is_file() && !t.is_symlink() && !t.is_dir() {
                std::fs::remove_file(&path).at(&path)?;
            }
        }
        // Unchanged (a run that found nothing new): left alone, so the zip can be kept too.
        if super::links::read(&path).is_ok_and(|old| old == bytes) {
            return Ok(());
        }
        atomic::write(&path, &bytes, sync).at(&path)?;
        atomic::sync_dir(root).at(root)
    }
}
