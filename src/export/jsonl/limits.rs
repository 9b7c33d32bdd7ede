//! The importer's size limits: the ones the target server's settings decide (a team's members,
//! an attachment's size), which the export can only name before the import, and the fixed
//! ones (a message's length, an emoji image's size), which it works around.
//!
//! From the server's source (mattermost/mattermost): `importUserTeams` saves the memberships
//! with `SqlTeamStore.SaveMultipleMembers(members, TeamSettings.MaxUsersPerTeam)`, which refuses
//! a member past the limit and stops the import at that user's line; `uploadAttachments` skips
//! (with a log line) an attachment `UploadFileX` refuses for being over `FileSettings.MaxFileSize`;
//! `importEmoji` reads at most `MaxEmojiFileSize` bytes of an image and fails the line past it;
//! `ValidatePostImportData` / `ValidateReplyImportData` refuse a message over `MaxPostSize()`
//! runes; `mmctl import validate` checks direct posts against `PostMessageMaxRunesV1`.

use std::collections::BTreeMap;

/// `TeamSettings.MaxUsersPerTeam` in `model/config.go`'s defaults.
pub const DEFAULT_MAX_USERS_PER_TEAM: usize = 50;
/// `FileSettings.MaxFileSize` in `model/config.go`'s defaults (100 MiB).
pub const DEFAULT_MAX_FILE_SIZE: u64 = 100 * 1024 * 1024;
/// `MaxEmojiFileSize` of `server/channels/app/emoji.go` (512 KiB): a constant, no setting.
pub const MAX_EMOJI_FILE_SIZE: u64 = 512 * 1024;
/// The names of the system emojis (`scripts/system-emojis.sh` writes the file from the emoji
/// data the server's `model.SystemEmojis` is built from), sorted, after `#` comment lines.
const SYSTEM_EMOJIS: &str = include_str!("system_emojis.txt");

/// Whether a custom emoji has a system emoji's name: `ValidateEmojiImportData` refuses it
/// (`model.emoji.system_emoji_name.app_error`) and `importEmoji` skips it with a log line
/// (older servers stop the import there).
pub fn is_system_emoji_name(name: &str) -> bool {
    let names: Vec<&str> = SYSTEM_EMOJIS
        .lines()
        .filter(|l| !l.starts_with('#'))
        .collect();
    names.binary_search(&name).is_ok()
}

/// `model.PostMessageMaxRunesV2`: what `MaxPostSize()` gives on current databases.
pub const POST_MESSAGE_MAX_RUNES: usize = 16_383;
/// `model.PostMessageMaxRunesV1`, which `mmctl import validate` checks direct posts against.
pub const MMCTL_DIRECT_POST_MAX_RUNES: usize = 4_000;

/// A team member as the user lines bring them in, in the order of those lines.
pub struct Joining<'a> {
    pub team: &'a str,
    /// A deactivated user (`delete_at`).
    pub deactivated: bool,
}

/// Per team, the `TeamSettings.MaxUsersPerTeam` its import needs on an empty server, when that
/// is more than the default: `SaveMultipleMembers` counts the team's members whose user is
/// active and refuses a new one when that count plus one is over the limit; a deactivated user
/// (imported with its `delete_at` before its teams) needs a place while it joins but is not
/// counted after.
pub fn teams_over_limit<'a>(
    joining: impl IntoIterator<Item = Joining<'a>>,
) -> BTreeMap<&'a str, usize> {
    let mut active: BTreeMap<&str, usize> = BTreeMap::new();
    let mut needed: BTreeMap<&str, usize> = BTreeMap::new();
    for j in joining {
        let a = active.entry(j.team).or_default();
        let n = needed.entry(j.team).or_default();
        *n = (*n).max(*a + 1);
        if !j.deactivated {
            *a += 1;
        }
    }
    needed.retain(|_, n| *n > DEFAULT_MAX_USERS_PER_TEAM);
    needed
}

/// `message` in parts of at most `max` characters (runes, as the server counts them), each cut
/// after the last line break (else space) in the second half of its window, so that paragraphs
/// stay whole where they can. One part when it fits.
pub fn split_message(message: &str, max: usize) -> Vec<String> {
    let mut parts = Vec::new();
    let mut rest = message;
    while let Some((hard, _)) = rest.char_indices().nth(max) {
        let window = &rest[..hard];
        let half = window.char_indices().nth(max / 2).map_or(0, |(i, _)| i);
        let at = window[half..]
            .rfind('\n')
            .or_else(|| window[half..].rfind(char::is_whitespace))
            .map(|i| half + i + window[half + i..].chars().next().map_or(1, char::len_utf8))
            .unwrap_or(hard);
        parts.push(rest[..at].to_string());
        rest = &rest[at..];
    }
    parts.push(rest.to_string());
    parts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn system_emoji_names_are_known() {
        for n in ["smile", "+1", "thumbsup", "100", "heart"] {
            assert!(is_system_emoji_name(n), "{n}");
        }
        for n in ["partyparrot", "shipit", "smile2", ""] {
            assert!(!is_system_emoji_name(n), "{n}");
        }
    }

    #[test]
    fn messages_are_split_into_parts_that_fit() {
        assert_eq!(split_message("short", 10), ["short"]);
        assert_eq!(split_message("", 10), [""]);
        // At a line break in the second half of the window, which stays with the first part.
        let parts = split_message("aaaa bbb\ncc dddddd", 10);
        assert_eq!(parts, ["aaaa bbb\n", "cc dddddd"]);
        // No break: a hard cut at the limit, counted in characters, not bytes.
        let s = "ä".repeat(25);
        let parts = split_message(&s, 10);
        assert_eq!(
            parts.iter().map(|p| p.chars().count()).collect::<Vec<_>>(),
            [10, 10, 5]
        );
        assert_eq!(parts.concat(), s);
        let long = "word ".repeat(10_000);
        let parts = split_message(&long, POST_MESSAGE_MAX_RUNES);
        assert_eq!(parts.len(), 4);
        assert!(parts
            .iter()
            .all(|p| p.chars().count() <= POST_MESSAGE_MAX_RUNES));
        assert_eq!(parts.concat(), long);
    }

    #[test]
    fn a_team_over_the_default_needs_its_active_members_and_a_place_for_each_joining() {
        let j = |team, deactivated| Joining { team, deactivated };
        let mut v: Vec<Joining> = (0..50).map(|_| j("acme", false)).collect();
        assert!(teams_over_limit(v.drain(..)).is_empty());
        let mut v: Vec<Joining> = (0..50).map(|_| j("acme", false)).collect();
        v.push(j("acme", true));
        v.push(j("beta", false));
        assert_eq!(teams_over_limit(v), BTreeMap::from([("acme", 51)]));
        let mut v: Vec<Joining> = (0..60).map(|_| j("acme", false)).collect();
        v.insert(0, j("acme", true));
        assert_eq!(teams_over_limit(v), BTreeMap::from([("acme", 60)]));
    }
}
