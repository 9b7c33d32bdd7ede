//! Names and values as the Mattermost bulk importer accepts them.
//!
//! The rules are those of the server's import validators and models
//! (`server/channels/app/imports/import_validators.go`, `server/public/model/{user,team,channel,
//! emoji,role,utils}.go` of mattermost/mattermost). A value the server itself accepted passes
//! unchanged; anything else (a name made under older rules, a name a newer server reserves) is
//! repaired into a valid one, and the caller says so.

/// `model.UserNameMaxLength` (bytes).
pub const USERNAME_MAX: usize = 64;
/// `restrictedUsernames` of `model/user.go`.
const RESTRICTED_USERNAMES: [&str; 4] = ["all", "channel", "matterbot", "system"];
/// `model.UserEmailMaxLength` (bytes).
pub const EMAIL_MAX: usize = 128;
/// `model.UserNicknameMaxRunes`, `UserFirstNameMaxRunes`, `UserLastNameMaxRunes`.
pub const USER_NAME_PART_MAX_RUNES: usize = 64;
/// `model.UserPositionMaxRunes`.
pub const POSITION_MAX_RUNES: usize = 128;
/// `model.UserLocaleMaxLength`.
const LOCALE_MAX: usize = 5;
/// `model.RoleNameMaxLength`.
const ROLE_NAME_MAX: usize = 64;

/// `model.TeamNameMinLength` / `TeamNameMaxLength` (bytes).
const TEAM_NAME_MIN: usize = 2;
pub const TEAM_NAME_MAX: usize = 64;
/// `model.TeamDisplayNameMaxRunes`.
pub const TEAM_DISPLAY_NAME_MAX_RUNES: usize = 64;
/// `model.TeamDescriptionMaxLength` (bytes).
pub const TEAM_DESCRIPTION_MAX: usize = 255;
/// `reservedName` of `model/utils.go`: a team name may not start with any of these.
const RESERVED_TEAM_PREFIXES: [&str; 17] = [
    "admin",
    "api",
    "channel",
    "claim",
    "error",
    "files",
    "help",
    "landing",
    "login",
    "mfa",
    "oauth",
    "plug",
    "plugins",
    "post",
    "signup",
    "boards",
    "playbooks",
];

/// `model.ChannelNameMaxLength` (bytes).
pub const CHANNEL_NAME_MAX: usize = 64;
/// `model.ChannelDisplayNameMaxRunes`.
pub const CHANNEL_DISPLAY_NAME_MAX_RUNES: usize = 64;
/// `model.ChannelHeaderMaxRunes`.
pub const CHANNEL_HEADER_MAX_RUNES: usize = 1024;
/// `model.ChannelPurposeMaxRunes`.
pub const CHANNEL_PURPOSE_MAX_RUNES: usize = 250;

/// `model.EmojiNameMaxLength`.
pub const EMOJI_NAME_MAX: usize = 64;
/// `model.PostPropsMaxRunes`.
pub const POST_PROPS_MAX_RUNES: usize = 800_000;

/// The domain of the placeholder addresses (RFC 2606: `.invalid` never resolves, so no mail
/// can go anywhere).
pub const PLACEHOLDER_EMAIL_DOMAIN: &str = "localhost.invalid";

/// `model.IsValidUsername`: 1 to 64 of `a-z 0-9 . - _`, not a restricted name.
pub fn is_valid_username(s: &str) -> bool {
    (1..=USERNAME_MAX).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b))
        && !RESTRICTED_USERNAMES.contains(&s)
}

/// The username to import: the stored one lowercased (the server lowercases usernames), or a
/// repaired one (other characters become `-`, cut to 64 bytes). `None` when nothing usable is
/// left (then the caller uses a placeholder).
pub fn username(raw: &str) -> Option<String> {
    let lower = raw.trim().to_lowercase();
    if is_valid_username(&lower) {
        return Some(lower);
    }
    let mut s: String = lower
        .chars()
        .map(|c| {
            if c.is_ascii_lowercase() || c.is_ascii_digit() || "._-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .collect();
    s.truncate(USERNAME_MAX);
    let s = s.trim_matches('-').to_string();
    is_valid_username(&s).then_some(s)
}

/// The name of a user who is referred to (as author, reactor or member) but not in the backup.
pub fn placeholder_username(user_id: &str) -> String {
    let id: String = user_id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(26)
        .collect::<String>()
        .to_lowercase();
    format!("unknown-{id}")
}

/// The address of a user whose email the backup does not have (hidden by the server's privacy
/// settings, or not a valid address): `<username>@localhost.invalid`.
pub fn placeholder_email(username: &str) -> String {
    format!("{username}@{PLACEHOLDER_EMAIL_DOMAIN}")
}

/// An address the server takes as it is (`model.IsValidEmail`, approximated: one `@`, a local
/// part and a domain, no spaces, quotes or angle brackets, at most 128 bytes); lowercased (the
/// server lowercases addresses). `None` otherwise.
pub fn email(raw: &str) -> Option<String> {
    let e = raw.trim().to_lowercase();
    let (local, domain) = e.split_once('@')?;
    let bad = |c: char| c.is_whitespace() || c.is_control() || "<>()[]\\,;:\"@".contains(c);
    let ok = !e.is_empty()
        && e.len() <= EMAIL_MAX
        && !local.is_empty()
        && !local.starts_with('.')
        && !local.ends_with('.')
        && !local.contains("..")
        && !domain.is_empty()
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !domain.contains("..")
        && !local.chars().any(bad)
        && !domain.chars().any(bad);
    ok.then_some(e)
}

/// `model.IsValidTeamName` on the lowercased name, and not reserved (`IsReservedTeamName`).
pub fn is_valid_team_name(s: &str) -> bool {
    (TEAM_NAME_MIN..=TEAM_NAME_MAX).contains(&s.len())
        && is_alnum_dash(s)
        && !RESERVED_TEAM_PREFIXES.iter().any(|p| s.starts_with(p))
}

/// `^[a-z0-9]+([a-z\-0-9]+|(__)?)[a-z0-9]+$`: starts and ends with a letter or digit, dashes
/// between, or two parts joined by exactly `__`.
fn is_alnum_dash(s: &str) -> bool {
    let alnum = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    let b = s.as_bytes();
    if b.len() < 2 || !alnum(b[0]) || !alnum(b[b.len() - 1]) {
        return false;
    }
    if b.iter().all(|&c| alnum(c) || c == b'-') {
        return true;
    }
    match crate::store::layout::pair(s) {
        Some((l, r)) => {
            !l.is_empty() && !r.is_empty() && l.bytes().all(alnum) && r.bytes().all(alnum)
        }
        None => false,
    }
}

/// The team name to import: the stored one lowercased, or a repaired one (other characters
/// become `-`; a reserved name gets the prefix `t-`; too short ones become `team-<id>`).
pub fn team_name(raw: &str, team_id: &str) -> String {
    let lower = raw.trim().to_lowercase();
    if is_valid_team_name(&lower) {
        return lower;
    }
    let mut s = squeeze_dashes(&lower, |c| c.is_ascii_lowercase() || c.is_ascii_digit());
    if RESERVED_TEAM_PREFIXES.iter().any(|p| s.starts_with(p)) {
        s.insert_str(0, "t-");
    }
    s.truncate(TEAM_NAME_MAX);
    let s = s.trim_matches('-').to_string();
    if is_valid_team_name(&s) {
        s
    } else {
        format!("team-{}", id_part(team_id))
    }
}

/// `model.IsValidChannelIdentifier` on the lowercased name: 1 to 64 bytes, a letter or digit
/// first, then letters, digits, `-` and `_`; and not named like a direct or group channel
/// ([`looks_like_direct_name`]).
pub fn is_valid_channel_name(s: &str) -> bool {
    let b = s.as_bytes();
    (1..=CHANNEL_NAME_MAX).contains(&b.len())
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter()
            .all(|&c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == b'-' || c == b'_')
        && !looks_like_direct_name(s)
}

/// The prefix a team channel named like a direct or group channel gets.
pub const DIRECT_LOOKALIKE_PREFIX: &str = "c-";

/// A name `Channel.IsValid` (`server/public/model/channel.go`) refuses for a team channel
/// (`model.channel.is_valid.name.app_error`): a group channel's name (`gmNameRegex`, 40
/// lowercase hex digits) or a direct channel's (`<id>__<id>`, two `IsValidId`s: 26 letters
/// or digits each). An older server created such channels; `CreateChannel` on import does not.
pub fn looks_like_direct_name(s: &str) -> bool {
    let gm = s.len() == 40
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
    let id = |p: &str| p.len() == 26 && p.chars().all(char::is_alphanumeric);
    let parts: Vec<&str> = s.split("__").collect();
    gm || (parts.len() == 2 && id(parts[0]) && id(parts[1]))
}

/// The channel name to import: the stored one lowercased, or a repaired one (a name like a
/// direct or group channel's gets the prefix `c-`; other characters become `-`; nothing usable
/// gives `channel-<id>`).
pub fn channel_name(raw: &str, channel_id: &str) -> String {
    let lower = raw.trim().to_lowercase();
    if is_valid_channel_name(&lower) {
        return lower;
    }
    if looks_like_direct_name(&lower) {
        return format!("{DIRECT_LOOKALIKE_PREFIX}{lower}");
    }
    let mut s = squeeze_dashes(&lower, |c| {
        c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_'
    });
    s.truncate(CHANNEL_NAME_MAX);
    let s = s.trim_start_matches(['-', '_']).to_string();
    if is_valid_channel_name(&s) {
        s
    } else {
        format!("channel-{}", id_part(channel_id))
    }
}

/// `model.IsValidEmojiName` without the list of system emojis (which a custom emoji the
/// server accepted cannot collide with): 1 to 64 of `a-z A-Z 0-9 + _ -`.
pub fn is_valid_emoji_name(s: &str) -> bool {
    (1..=EMOJI_NAME_MAX).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+_-".contains(&b))
}

/// `model.IsValidRoleName`: 1 to 64 of `a-z 0-9 _`.
pub fn is_valid_role_name(s: &str) -> bool {
    (1..=ROLE_NAME_MAX).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

/// System roles to import: the stored valid role names, always with `system_user` (or only
/// `system_guest` for a guest), so that `model.IsValidUserRoles` and the importer's guest
/// consistency rule hold.
pub fn user_roles(raw: &str) -> String {
    let roles: Vec<&str> = raw
        .split_whitespace()
        .filter(|r| is_valid_role_name(r))
        .collect();
    if roles.contains(&"system_guest") {
        return "system_guest".to_string();
    }
    let mut out: Vec<&str> = vec!["system_user"];
    for r in roles {
        if !out.contains(&r) && !r.ends_with("_guest") {
            out.push(r);
        }
    }
    out.join(" ")
}

/// A locale the server takes (`model.IsValidLocale`, approximated: a language tag of at most
/// five characters such as `en`, `de`, `pt-BR`, `zh-TW`). `None` means "the server default".
pub fn locale(raw: &str) -> Option<String> {
    let s = raw.trim();
    let (lang, region) = match s.split_once(['-', '_']) {
        Some((l, r)) => (l, Some(r)),
        None => (s, None),
    };
    let ok = s.len() <= LOCALE_MAX
        && (2..=3).contains(&lang.len())
        && lang.bytes().all(|b| b.is_ascii_alphabetic())
        && region.is_none_or(|r| {
            (2..=3).contains(&r.len()) && r.bytes().all(|b| b.is_ascii_alphanumeric())
        });
    ok.then(|| s.replace('_', "-"))
}

/// `s` cut to at most `max` characters (runes); whether it was cut.
pub fn cut_runes(s: &str, max: usize) -> (String, bool) {
    match s.char_indices().nth(max) {
        Some((i, _)) => (s[..i].to_string(), true),
        None => (s.to_string(), false),
    }
}

/// `s` cut to at most `max` bytes on a character boundary; whether it was cut.
pub fn cut_bytes(s: &str, max: usize) -> (String, bool) {
    if s.len() <= max {
        return (s.to_string(), false);
    }
    let mut i = max;
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    (s[..i].to_string(), true)
}

/// Characters outside `keep` become `-`, with runs of `-` squeezed to one.
fn squeeze_dashes(s: &str, keep: impl Fn(char) -> bool) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let c = if keep(c) { c } else { '-' };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out
}

/// The letters and digits of an id, lowercased (ids from a backup are 26 of them).
fn id_part(id: &str) -> String {
    let s: String = id
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(26)
        .collect::<String>()
        .to_lowercase();
    if s.is_empty() {
        "x".to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames_follow_the_server() {
        for ok in ["alice", "a", "bob.smith", "x-y_z", "0day"] {
            assert!(is_valid_username(ok), "{ok}");
            assert_eq!(username(ok).as_deref(), Some(ok));
        }
        for bad in [
            "",
            "all",
            "system",
            "Alice",
            "bob smith",
            "a:b",
            &"a".repeat(65),
        ] {
            assert!(!is_valid_username(bad), "{bad}");
        }
        assert_eq!(username("Alice").as_deref(), Some("alice"));
        assert_eq!(username("bob smith").as_deref(), Some("bob-smith"));
        assert_eq!(username("remote:carol").as_deref(), Some("remote-carol"));
        assert_eq!(username("ÄÖÜ"), None);
        assert_eq!(username("channel"), None);
        assert_eq!(username(&"b".repeat(80)).unwrap().len(), 64);
        assert!(is_valid_username(&placeholder_username(
            "abcdefghijklmnopqrstuvwxyz"
        )));
    }

    #[test]
    fn emails_are_checked_and_lowercased() {
        assert_eq!(email("Bob@Example.COM").as_deref(), Some("bob@example.com"));
        for bad in [
            "",
            "bob",
            "bob@",
            "@x.org",
            "a b@x.org",
            "a@b@x.org",
            "a@x..org",
            "<a@x.org>",
        ] {
            assert_eq!(email(bad), None, "{bad}");
        }
        let p = placeholder_email("alice");
        assert_eq!(p, "alice@localhost.invalid");
        assert_eq!(email(&p).as_deref(), Some(p.as_str()));
        assert_eq!(email(&format!("{}@x.org", "a".repeat(130))), None);
        assert_eq!(email("root@localhost").as_deref(), Some("root@localhost"));
    }

    #[test]
    fn team_names_follow_the_server() {
        for ok in ["acme", "ab", "my-team", "a1__b2", "x0"] {
            assert!(is_valid_team_name(ok), "{ok}");
            assert_eq!(team_name(ok, "id"), ok);
        }
        for bad in [
            "a",
            "-ab",
            "ab-",
            "a_b",
            "helpdesk",
            "api",
            "Acme Corp",
            "a__b__c",
        ] {
            assert!(!is_valid_team_name(bad), "{bad}");
        }
        assert_eq!(team_name("Acme", "id"), "acme");
        assert_eq!(team_name("Acme Corp!", "id"), "acme-corp");
        assert_eq!(team_name("helpdesk", "id"), "t-helpdesk");
        assert_eq!(
            team_name("a", "n6tu9y4e94p4ap4ryzqowqwxdr"),
            "team-n6tu9y4e94p4ap4ryzqowqwxdr"
        );
        assert!(is_valid_team_name(&team_name(&"x".repeat(100), "id")));
    }

    #[test]
    fn channel_names_follow_the_server() {
        for ok in ["town-square", "a", "off_topic", "x-", "ab__cd", "9lives"] {
            assert!(is_valid_channel_name(ok), "{ok}");
            assert_eq!(channel_name(ok, "id"), ok);
        }
        for bad in ["", "-a", "_a", "a b", "Town", "a.b"] {
            assert!(!is_valid_channel_name(bad), "{bad}");
        }
        assert_eq!(channel_name("Off Topic", "id"), "off-topic");
        assert_eq!(channel_name("__x", "id"), "x");
        assert_eq!(channel_name("日本", "abc"), "channel-abc");
        // Names of direct and group channels, which the server refuses for a team channel.
        let dm = format!("{}__{}", "a".repeat(26), "b1".repeat(13));
        let gm = "0123456789abcdef0123456789abcdef01234567";
        for bad in [dm.as_str(), gm] {
            assert!(
                looks_like_direct_name(bad) && !is_valid_channel_name(bad),
                "{bad}"
            );
            let fixed = channel_name(bad, "id");
            assert_eq!(fixed, format!("c-{bad}"));
            assert!(is_valid_channel_name(&fixed), "{fixed}");
        }
        for ok in [
            &format!("{}__{}", "a".repeat(25), "b".repeat(26)),
            &"0123456789abcdef0123456789abcdef0123456".to_string(),
            &"0123456789abcdef0123456789abcdef0123456g".to_string(),
        ] {
            assert!(!looks_like_direct_name(ok), "{ok}");
        }
    }

    #[test]
    fn roles_keep_the_guest_rule() {
        assert_eq!(user_roles("system_user"), "system_user");
        assert_eq!(user_roles("system_admin"), "system_user system_admin");
        assert_eq!(
            user_roles("system_user system_admin"),
            "system_user system_admin"
        );
        assert_eq!(user_roles("system_guest"), "system_guest");
        assert_eq!(user_roles(""), "system_user");
        assert_eq!(user_roles("system_user Bad-Role"), "system_user");
    }

    #[test]
    fn locales_and_cuts() {
        assert_eq!(locale("en").as_deref(), Some("en"));
        assert_eq!(locale("pt-BR").as_deref(), Some("pt-BR"));
        assert_eq!(locale("zh_TW").as_deref(), Some("zh-TW"));
        assert_eq!(locale(""), None);
        assert_eq!(locale("english"), None);
        assert_eq!(cut_runes("äöü", 2), ("äö".to_string(), true));
        assert_eq!(cut_runes("äö", 2), ("äö".to_string(), false));
        assert_eq!(cut_bytes("äö", 3), ("ä".to_string(), true));
        assert!(is_valid_emoji_name("coffee-time") && is_valid_emoji_name("+1"));
        assert!(!is_valid_emoji_name("a b") && !is_valid_emoji_name(""));
    }
}
