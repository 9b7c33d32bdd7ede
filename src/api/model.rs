//! The few typed fields matterbak needs from each API object, kept beside the raw JSON.
//!
//! Every object is stored exactly as the server sent it ([`Raw::raw`]), so fields this version
//! does not know survive; the typed view ([`Raw::v`]) only drives the backup logic.

use std::collections::HashMap;

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

pub use crate::model::ChannelKind;

/// An API object as sent by the server, plus the typed fields matterbak uses.
#[derive(Debug)]
pub struct Raw<T> {
    pub raw: Box<RawValue>,
    pub v: T,
}

impl<T: for<'de> Deserialize<'de>> Raw<T> {
    pub fn parse(raw: Box<RawValue>) -> Result<Self, serde_json::Error> {
        let v = serde_json::from_str(raw.get())?;
        Ok(Raw { raw, v })
    }

    pub fn bytes(&self) -> &[u8] {
        self.raw.get().as_bytes()
    }
}

/// `null` and a missing field both become the default.
fn nullable<'de, D: Deserializer<'de>, T: Default + Deserialize<'de>>(d: D) -> Result<T, D::Error> {
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

#[derive(Debug, Clone, Deserialize)]
pub struct User {
    pub id: String,
    pub username: String,
    #[serde(default, deserialize_with = "nullable")]
    pub update_at: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub last_picture_update: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Team {
    pub id: String,
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub display_name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub last_team_icon_update: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Channel {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub team_id: String,
    #[serde(rename = "type")]
    pub kind: ChannelKind,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub display_name: String,
    /// The server's count of the channel's posts (replies too, join/leave messages not; a
    /// deleted post still counts). `None` when the server does not send it.
    #[serde(default)]
    pub total_msg_count: Option<i64>,
    /// The newest `create_at` of its posts, or the time of the latest edit (ms).
    #[serde(default, deserialize_with = "nullable")]
    pub last_post_at: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Member {
    pub user_id: String,
}

#[derive(Debug, Deserialize)]
pub struct Post {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub create_at: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub update_at: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub edit_at: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub delete_at: i64,
    #[serde(default, deserialize_with = "nullable")]
    pub root_id: String,
    /// Set on edit-history rows (an old version of the post with this id), empty on posts.
    #[serde(default, deserialize_with = "nullable")]
    pub original_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub user_id: String,
    #[serde(rename = "type", default, deserialize_with = "nullable")]
    pub kind: String,
    #[serde(default, deserialize_with = "nullable")]
    pub metadata: PostMetadata,
}

/// The post types that say someone joined or left a channel or team:
/// `model.MembershipSystemPostTypes()` (`server/public/model/post.go`). The team ones are
/// posted in the team's default channel, whose members change with the team's.
pub const MEMBERSHIP_POST_TYPES: [&str; 12] = [
    "system_join_leave",
    "system_add_remove",
    "system_join_channel",
    "system_guest_join_channel",
    "system_leave_channel",
    "system_join_team",
    "system_leave_team",
    "system_add_to_channel",
    "system_add_guest_to_chan",
    "system_remove_from_channel",
    "system_add_to_team",
    "system_remove_from_team",
];

/// The team ones among [`MEMBERSHIP_POST_TYPES`].
const TEAM_MEMBERSHIP_POST_TYPES: [&str; 4] = [
    "system_join_team",
    "system_leave_team",
    "system_add_to_team",
    "system_remove_from_team",
];

impl Post {
    /// A system message that says someone joined or left the channel (or its team: see
    /// [`MEMBERSHIP_POST_TYPES`]).
    pub fn changes_channel_members(&self) -> bool {
        MEMBERSHIP_POST_TYPES.contains(&self.kind.as_str())
    }

    /// A post the server counts in the channel's `total_msg_count`: not an edit-history row,
    /// not a join/leave message (`Post.IsJoinLeaveMessage`, `model/post.go`).
    pub fn counts_as_message(&self) -> bool {
        Self::counting(&self.kind, &self.original_id)
    }

    /// [`Post::counts_as_message`] from a post's `type` and `original_id`.
    pub fn counting(kind: &str, original_id: &str) -> bool {
        original_id.is_empty()
            && !matches!(
                kind,
                "system_join_leave"
                    | "system_add_remove"
                    | "system_join_channel"
                    | "system_leave_channel"
                    | "system_join_team"
                    | "system_leave_team"
                    | "system_add_to_channel"
                    | "system_remove_from_channel"
                    | "system_add_to_team"
                    | "system_remove_from_team"
            )
    }

    /// A system message that says someone joined or left the team.
    pub fn changes_team_members(&self) -> bool {
        TEAM_MEMBERSHIP_POST_TYPES.contains(&self.kind.as_str())
    }
}

#[derive(Debug, Default, Deserialize)]
pub struct PostMetadata {
    /// File infos of the post's attachments, raw (stored as `files/<id>.json`).
    #[serde(default, deserialize_with = "nullable")]
    pub files: Vec<Box<RawValue>>,
    #[serde(default, deserialize_with = "nullable")]
    pub reactions: Vec<Reaction>,
}

#[derive(Debug, Deserialize)]
pub struct Reaction {
    #[serde(default, deserialize_with = "nullable")]
    pub user_id: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct FileInfo {
    pub id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub size: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Emoji {
    pub id: String,
    pub name: String,
    #[serde(default, deserialize_with = "nullable")]
    pub update_at: i64,
}

/// One page of `GET /channels/{id}/posts`: only `order` defines the page.
#[derive(Debug, Deserialize)]
pub struct PostList {
    #[serde(default, deserialize_with = "nullable")]
    pub order: Vec<String>,
    #[serde(default, deserialize_with = "nullable")]
    pub posts: HashMap<String, Box<RawValue>>,
    #[serde(default, deserialize_with = "nullable")]
    pub next_post_id: String,
    #[serde(default, deserialize_with = "nullable")]
    pub prev_post_id: String,
    /// The server's clock when it answered (its `Date` header, ms), if it sent one.
    #[serde(skip)]
    pub server_time: Option<i64>,
}

/// An image answer (profile image, team icon, emoji).
#[derive(Debug)]
pub struct Image {
    pub content_type: String,
    pub bytes: Vec<u8>,
}
