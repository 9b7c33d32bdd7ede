//! Types of the server's objects that every layer shares (`api`, `fetch`, `store`, `export`).

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Whether `s` is a Mattermost id: 26 lowercase ASCII letters and digits, as `model.NewId`
/// makes them (base32 of 16 random bytes). The one rule for ids that go into a URL or a file
/// name.
pub fn is_id(s: &str) -> bool {
    s.len() == 26
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// A channel's type as the server gives it (`Channel.Type`: `O`, `P`, `D`, `G`).
///
/// This is what the channel is; where the backup keeps it (the `direct`, `groups` or `teams`
/// folder) is [`crate::store::layout::Place`], derived from it by
/// [`crate::store::layout::Place::of`].
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum ChannelKind {
    /// `O`: a public team channel.
    Open,
    /// `P`: a private team channel.
    Private,
    /// `D`: a direct message between two users (or a user and themself).
    Direct,
    /// `G`: a group message among three to eight users.
    Group,
    /// A type this version does not know (newer servers may have more), as the server sent it.
    Other(String),
}

impl ChannelKind {
    /// The kind of the server's letter.
    pub fn from_code(t: &str) -> ChannelKind {
        match t {
            "O" => ChannelKind::Open,
            "P" => ChannelKind::Private,
            "D" => ChannelKind::Direct,
            "G" => ChannelKind::Group,
            other => ChannelKind::Other(other.to_string()),
        }
    }

    /// The server's letter (`O`, `P`, `D`, `G`, or what it sent).
    pub fn code(&self) -> &str {
        match self {
            ChannelKind::Open => "O",
            ChannelKind::Private => "P",
            ChannelKind::Direct => "D",
            ChannelKind::Group => "G",
            ChannelKind::Other(t) => t,
        }
    }

    /// `open`, `private`, `direct`, `group`, or the server's letter.
    pub fn label(&self) -> &str {
        match self {
            ChannelKind::Open => "open",
            ChannelKind::Private => "private",
            ChannelKind::Direct => "direct",
            ChannelKind::Group => "group",
            ChannelKind::Other(t) => t,
        }
    }

    /// A direct or group message: a channel of no team.
    pub fn is_personal(&self) -> bool {
        matches!(self, ChannelKind::Direct | ChannelKind::Group)
    }

    /// An open or private channel of a team.
    pub fn is_team(&self) -> bool {
        matches!(self, ChannelKind::Open | ChannelKind::Private)
    }
}

impl<'de> Deserialize<'de> for ChannelKind {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Ok(ChannelKind::from_code(&String::deserialize(d)?))
    }
}

impl Serialize for ChannelKind {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_server_letters_round_trip() {
        for t in ["O", "P", "D", "G", "X", ""] {
            let k: ChannelKind = serde_json::from_str(&format!("{t:?}")).unwrap();
            assert_eq!(k.code(), t);
            assert_eq!(serde_json::to_string(&k).unwrap(), format!("{t:?}"));
        }
        assert_eq!(ChannelKind::from_code("X"), ChannelKind::Other("X".into()));
        assert!(ChannelKind::Direct.is_personal() && ChannelKind::Group.is_personal());
        assert!(ChannelKind::Open.is_team() && ChannelKind::Private.is_team());
        assert!(!ChannelKind::Other("X".into()).is_team());
        assert!(!ChannelKind::Other("X".into()).is_personal());
    }
}
