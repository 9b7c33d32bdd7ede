//! File and folder names of the data directory, exactly as the original matterbak names them,
//! and the sanitising rule for names that come from the server.
//!
//! ```text
//! <kind>/<channel_id>__<name>.json | __members.json | __threads.json | /<TS>__<post_id>.json
//!                                                                      /files/<file_id>.json
//!                                                                      /files/<file_id>__<file name>
//!                                         (any name, `.json` too: see [`FilesEntry`])
//! teams/<team_id>__<team>.json | __members.json, teams/<team_id>__icon.<ext>, teams/<team_id>__<team>/...
//! users/<user_id>__<username>.json, users/<user_id>__<username>__image.<ext>
//! emojis/<emoji_id>__<name>.json, emojis/<emoji_id>__<name>.<ext>
//! ```
//!
//! Every id that goes into a name is checked here, where the name is made ([`checked_id`]): a
//! server (or anything between it and us) that sends `../../x`, an absolute path or a NUL as an
//! id gets a [`BadId`] error, and nothing of that object is written. The store's writers also
//! take only single file names ([`component`]) below folders they hold open.

use std::fmt;

use crate::model::ChannelKind;

/// An id from the server that cannot be part of a file name: not a Mattermost id (26 lowercase
/// letters and digits, [`crate::model::is_id`]). The object it names is not stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadId {
    /// The id as the server sent it.
    pub id: String,
}

impl fmt::Display for BadId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the id {} is not a Mattermost id (26 lowercase letters and digits); it would become a file name, so nothing of this object is stored",
            shown(&self.id)
        )
    }
}

impl std::error::Error for BadId {}

/// A value from the server as a log line shows it: quoted, escaped (NUL, control characters,
/// quotes) and cut to 80 characters.
pub fn shown(s: &str) -> String {
    let mut out: String = s
        .chars()
        .take(80)
        .collect::<String>()
        .escape_debug()
        .to_string();
    if s.chars().count() > 80 {
        out.push_str(&format!("... ({} bytes)", s.len()));
    }
    format!("\"{out}\"")
}

/// `id` if it is a Mattermost id, the one kind of id that becomes part of a file name.
///
/// # Errors
/// [`BadId`] for anything else.
pub fn checked_id(id: &str) -> Result<&str, BadId> {
    if crate::model::is_id(id) {
        Ok(id)
    } else {
        Err(BadId { id: id.to_string() })
    }
}

/// Whether an error chain holds a [`BadId`] (also inside a store error's I/O error).
pub fn is_bad_id(e: &anyhow::Error) -> bool {
    let inner = |io: &std::io::Error| io.get_ref().is_some_and(|i| i.is::<BadId>());
    e.chain().any(|c| {
        c.is::<BadId>()
            || c.downcast_ref::<super::StoreError>()
                .is_some_and(|s| inner(&s.source))
            || c.downcast_ref::<std::io::Error>().is_some_and(inner)
    })
}

/// `name` if it is one plain file name: not empty, not `.` or `..`, no `/` or NUL (nor `\\`
/// on Windows), at most 255 bytes. Every name the store writes, renames or creates below a
/// folder passes here, so no bug elsewhere can make it leave that folder.
///
/// # Errors
/// `InvalidInput` naming the value.
pub fn component(name: &str) -> std::io::Result<&str> {
    let bad = name.is_empty()
        || name == "."
        || name == ".."
        || name.len() > 255
        || name.contains('/')
        || name.contains('\0')
        || (cfg!(windows) && name.contains('\\'));
    if bad {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "{} is not a single file name; matterbak writes nothing there",
                shown(name)
            ),
        ));
    }
    Ok(name)
}

/// Separator between the parts of a name.
pub const SEP: &str = "__";
pub const DIRECT: &str = "direct";
pub const GROUPS: &str = "groups";
pub const TEAMS: &str = "teams";
pub const USERS: &str = "users";
pub const EMOJIS: &str = "emojis";
pub const FILES: &str = "files";
/// Below a posts folder: earlier versions and deletions of posts (not read by the original).
pub const HISTORY: &str = "history";

/// Where the backup keeps a channel: in `teams/<team>/`, `direct/` or `groups/`. It follows
/// from the channel's [`ChannelKind`] ([`Place::of`]) when the backup writes it; a reader takes
/// it from the folder the channel is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Place {
    Team,
    Direct,
    Group,
}

impl Place {
    /// Where a channel of this kind is kept: direct and group messages in their own folders,
    /// every other channel in its team's.
    pub fn of(kind: &ChannelKind) -> Place {
        match kind {
            ChannelKind::Direct => Place::Direct,
            ChannelKind::Group => Place::Group,
            _ => Place::Team,
        }
    }

    /// `team channel`, `direct message`, `group message`.
    pub fn label(self) -> &'static str {
        match self {
            Place::Team => "team channel",
            Place::Direct => "direct message",
            Place::Group => "group message",
        }
    }
}

/// Longest file name written, in bytes (most file systems allow 255).
const MAX_NAME_BYTES: usize = 200;

/// Makes a name from the server safe as one path component.
///
/// The rule (README.md, "Names from the server"): `/`, `\`, NUL, control characters and
/// `< > : " | ? *` become `_`; leading and trailing spaces and dots are trimmed off the end
/// (`.`/`..`/empty become `_`); Windows device names (`CON`, `NUL`, `COM1`, ...) get a `_`
/// prefix; names are cut to at most 200 bytes on a character boundary, keeping an extension of up
/// to 16 bytes. Ordinary names (letters, digits, `-`, `_`, `.`, spaces, any non-ASCII letter)
/// are unchanged, so data dirs of the original keep their names.
pub fn sanitize(name: &str) -> String {
    let mut s: String = name
        .chars()
        .map(|c| match c {
            '/' | '\\' | '<' | '>' | ':' | '"' | '|' | '?' | '*' => '_',
            c if c.is_control() => '_',
            c => c,
        })
        .collect();
    while s.ends_with(' ') || s.ends_with('.') {
        s.pop();
    }
    if s.is_empty() || s.chars().all(|c| c == '.') {
        return "_".to_string();
    }
    let stem = s
        .split('.')
        .next()
        .unwrap_or("")
        .trim_end()
        .to_ascii_uppercase();
    let reserved = matches!(stem.as_str(), "CON" | "PRN" | "AUX" | "NUL")
        || (stem.len() == 4
            && (stem.starts_with("COM") || stem.starts_with("LPT"))
            && stem.as_bytes()[3].is_ascii_digit());
    if reserved {
        s.insert(0, '_');
    }
    truncate_keep_ext(&s, MAX_NAME_BYTES)
}

fn truncate_keep_ext(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let ext = s
        .rfind('.')
        .map(|i| &s[i..])
        .filter(|e| e.len() <= 16 && e.len() < max / 2)
        .unwrap_or("");
    let room = max - ext.len();
    let mut cut = room.min(s.len() - ext.len());
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    format!("{}{}", &s[..cut], ext)
}

/// `%Y%m%d-%H%M%S%f` of a millisecond timestamp, in UTC (the original used local time).
pub fn timestamp(ms: i64) -> String {
    let micros = ms.rem_euclid(1000) * 1000;
    let (y, m, d, hh, mm, ss) = civil(ms.div_euclid(1000));
    format!("{y:04}{m:02}{d:02}-{hh:02}{mm:02}{ss:02}{micros:06}")
}

/// (year, month, day, hour, minute, second) in UTC of seconds since the epoch.
pub fn civil(secs: i64) -> (i64, u32, u32, u32, u32, u32) {
    let sod = secs.rem_euclid(86_400) as u32;
    let (y, m, d) = civil_from_days(secs.div_euclid(86_400));
    (y, m, d, sod / 3600, sod % 3600 / 60, sod % 60)
}

/// Days since 1970-01-01 to (year, month, day); Howard Hinnant's algorithm.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// `<TS>__<post_id>.json`, with the timestamp in UTC.
///
/// # Errors
/// [`BadId`] when `post_id` is not a Mattermost id.
pub fn post_file(create_at: i64, post_id: &str) -> Result<String, BadId> {
    post_file_in(create_at, post_id, NameZone::Utc)
}

/// `<TS>__<post_id>.json`, with the timestamp in the given zone.
///
/// # Errors
/// [`BadId`] when `post_id` is not a Mattermost id.
pub fn post_file_in(create_at: i64, post_id: &str, zone: NameZone) -> Result<String, BadId> {
    let id = checked_id(post_id)?;
    Ok(format!("{}{SEP}{id}.json", timestamp_in(create_at, zone)))
}

/// The time zone of the timestamps in post file names.
///
/// New data dirs use UTC. A data dir whose post files the original named in this machine's
/// local time keeps that convention, so that the original can go on updating it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum NameZone {
    Utc,
    Local,
}

/// [`timestamp`] in the given zone.
pub fn timestamp_in(ms: i64, zone: NameZone) -> String {
    use chrono::TimeZone;
    match zone {
        NameZone::Utc => timestamp(ms),
        NameZone::Local => match chrono::Local.timestamp_millis_opt(ms).single() {
            Some(t) => t.format("%Y%m%d-%H%M%S%6f").to_string(),
            None => timestamp(ms),
        },
    }
}

/// The post id in a post file name (`<TS>__<id>.json`, or any `...__<id>.json`).
pub fn post_id_of(file_name: &str) -> Option<&str> {
    let stem = file_name.strip_suffix(".json")?;
    let id = stem.rsplit(SEP).next()?;
    (!id.is_empty()).then_some(id)
}

/// The id at the start of a name (`<id>__...` or `<id>.ext`).
pub fn id_prefix(file_name: &str) -> &str {
    let end = file_name
        .find(SEP)
        .or_else(|| file_name.find('.'))
        .unwrap_or(file_name.len());
    &file_name[..end]
}

/// `<id>__<name>`: the base of the names of a team's, channel's, user's or emoji's files and
/// folder (`name` sanitised).
///
/// # Errors
/// [`BadId`] when `id` is not a Mattermost id.
pub fn object_base(id: &str, name: &str) -> Result<String, BadId> {
    Ok(format!("{}{SEP}{}", checked_id(id)?, sanitize(name)))
}

/// `<base>.json`: the object file of a team, channel, user or emoji.
pub fn object_file(base: &str) -> String {
    format!("{base}.json")
}

/// The id and the rest of `<id>__<rest>` (a folder, or a name's stem); `None` without `__`.
pub fn split_base(base: &str) -> Option<(&str, &str)> {
    base.split_once(SEP)
}

/// The name part of `<id>__<name>` (the usernames of a direct or group folder: `bob`,
/// `bob__carol`); empty without `__`.
pub fn name_of_base(base: &str) -> &str {
    split_base(base).map(|x| x.1).unwrap_or("")
}

/// `<id>__<rest>.json`: an object file's id and rest; `None` for any other name.
pub fn parse_object_file(file_name: &str) -> Option<(&str, &str)> {
    split_base(file_name.strip_suffix(".json")?)
}

/// The parts of a name joined with `__`: the two user ids of a direct channel's server name
/// (`<id>__<id>`), the usernames in a group's folder name.
pub fn parts(name: &str) -> std::str::Split<'_, &'static str> {
    name.split(SEP)
}

/// The two halves of a name joined by the first `__` (a direct channel's `<id>__<id>`).
pub fn pair(name: &str) -> Option<(&str, &str)> {
    name.split_once(SEP)
}

/// Joins names with `__` (the usernames of a group's folder).
pub fn join_parts(parts: &[String]) -> String {
    parts.join(SEP)
}

/// Whether `base` is `<id>__...` of this id.
pub fn is_base_of(base: &str, id: &str) -> bool {
    base.starts_with(&format!("{id}{SEP}"))
}

/// Whether `base` ends in `__<name>` (a folder `<id>__<name>` of that name, or of a name that
/// ends in `__<name>`).
pub fn base_ends_with_name(base: &str, name: &str) -> bool {
    base.ends_with(&format!("{SEP}{name}"))
}

/// Whether `name` has the `<id>__<name>` form of a channel's or team's folder.
pub fn is_object_base(name: &str) -> bool {
    name.contains(SEP)
}

/// `<base>__members.json`: the members of a team or channel.
pub fn members_file(base: &str) -> String {
    format!("{base}{SEP}members.json")
}

/// `<base>__threads.json`: a channel's threads.
pub fn threads_file(base: &str) -> String {
    format!("{base}{SEP}threads.json")
}

/// A `<base>__members.json` name.
pub fn is_members_file(name: &str) -> bool {
    name.ends_with(&format!("{SEP}members.json"))
}

/// A `<base>__threads.json` name.
pub fn is_threads_file(name: &str) -> bool {
    name.ends_with(&format!("{SEP}threads.json"))
}

/// `<username>__image`: the label of a profile image, which gets the extension of its type
/// (`users/<user_id>__<username>__image.<ext>`).
pub fn user_image_label(username: &str) -> String {
    format!("{}{SEP}image", sanitize(username))
}

/// The start of the name of the profile image beside the user file of stem `stem`
/// (`<user_id>__<username>__image.`).
pub fn user_image_prefix(stem: &str) -> String {
    format!("{stem}{SEP}image.")
}

/// The start of the name of a team's icon (`<team_id>__icon.`).
///
/// # Errors
/// [`BadId`] when `team_id` is not a Mattermost id.
pub fn team_icon_prefix(team_id: &str) -> Result<String, BadId> {
    Ok(format!("{}{SEP}icon.", checked_id(team_id)?))
}

/// `<post_id>.json`: a post's history file in the `history/` folder of its channel.
///
/// # Errors
/// [`BadId`] when `post_id` is not a Mattermost id.
pub fn history_name(post_id: &str) -> Result<String, BadId> {
    Ok(format!("{}.json", checked_id(post_id)?))
}

/// `history/<post_id>.json` below a channel's folder.
///
/// # Errors
/// [`BadId`] when `post_id` is not a Mattermost id.
pub fn history_file(post_id: &str) -> Result<String, BadId> {
    Ok(format!("{HISTORY}/{}", history_name(post_id)?))
}

/// The timestamp and the id of a post file name (`<TS>__<post_id>.json`), split at the last
/// `__`; `None` for any other name.
pub fn post_file_parts(file_name: &str) -> Option<(&str, &str)> {
    file_name.strip_suffix(".json")?.rsplit_once(SEP)
}

/// The post id of a post file as the readers (verify, the exports) take it: `<TS>__<id>.json`
/// with a non-empty id, not a temp file. (The engine's own scan, [`post_id_of`], also takes a
/// bare `<id>.json`.)
pub fn post_file_id(file_name: &str) -> Option<&str> {
    if file_name.starts_with(super::atomic::TEMP_PREFIX) {
        return None;
    }
    let (_, id) = post_file_parts(file_name)?;
    (!id.is_empty()).then_some(id)
}

/// The timestamp of a post file name (the part before the first `__`), if it is one.
pub fn post_timestamp_of(file_name: &str) -> Option<&str> {
    post_id_of(file_name)?;
    file_name.split_once(SEP).map(|x| x.0)
}

/// What a name in a channel's `files/` folder is. The one rule: a file info is exactly
/// `<file_id>.json`; an attachment is `<file_id>__<name>`, whatever its name ends in (an
/// attachment called `config.json` is stored as `<file_id>__config.json`). File ids never hold
/// `__` (server ids are 26 letters and digits), so the first `__` ends the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FilesEntry<'a> {
    /// `<file_id>.json`: the file info.
    Info(&'a str),
    /// `<file_id>__<name>`: the attachment's bytes, opaque whatever its extension.
    Attachment(&'a str, &'a str),
    /// Anything else (temp files, names of other tools).
    Other,
}

impl<'a> FilesEntry<'a> {
    pub fn parse(name: &'a str) -> FilesEntry<'a> {
        if name.starts_with('.') {
            return FilesEntry::Other;
        }
        if let Some((id, rest)) = name.split_once(SEP) {
            if !id.is_empty() && !rest.is_empty() {
                return FilesEntry::Attachment(id, rest);
            }
            return FilesEntry::Other;
        }
        match name.strip_suffix(".json") {
            Some(id) if !id.is_empty() => FilesEntry::Info(id),
            _ => FilesEntry::Other,
        }
    }
}

/// `<file_id>.json`: a file info's name in `files/`.
///
/// # Errors
/// [`BadId`] when `file_id` is not a Mattermost id.
pub fn file_info_name(file_id: &str) -> Result<String, BadId> {
    Ok(format!("{}.json", checked_id(file_id)?))
}

/// `<file_id>__<name>`: an attachment's name in `files/`.
///
/// # Errors
/// [`BadId`] when `file_id` is not a Mattermost id.
pub fn attachment_name(file_id: &str, name: &str) -> Result<String, BadId> {
    Ok(format!("{}{SEP}{}", checked_id(file_id)?, sanitize(name)))
}

/// The extension of an image from its `Content-Type` (`image/png` -> `png`); `None` if not an image.
pub fn image_ext(content_type: &str) -> Option<String> {
    let t = content_type.split(';').next()?.trim().to_ascii_lowercase();
    let sub = t.strip_prefix("image/")?;
    let ext = sanitize(sub);
    (!sub.is_empty()).then_some(ext)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamps_like_the_original() {
        // 2024-01-02 03:04:05.123 UTC
        assert_eq!(timestamp(1_704_164_645_123), "20240102-030405123000");
        assert_eq!(timestamp(0), "19700101-000000000000");
        assert_eq!(timestamp(951_782_400_000), "20000229-000000000000");
        let id = "abcdefghijklmnopqrstuvwxyz";
        assert_eq!(
            post_file(1_704_164_645_123, id).unwrap(),
            format!("20240102-030405123000__{id}.json")
        );
    }

    #[test]
    fn ordinary_names_are_kept() {
        for n in [
            "town-square",
            "report 2024.pdf",
            "Übersicht_ä.png",
            "a__b",
            "x.tar.gz",
        ] {
            assert_eq!(sanitize(n), n);
        }
    }

    #[test]
    fn hostile_names_cannot_escape() {
        assert_eq!(sanitize("../../etc/passwd"), ".._.._etc_passwd");
        assert_eq!(sanitize(".."), "_");
        assert_eq!(sanitize("."), "_");
        assert_eq!(sanitize(""), "_");
        assert_eq!(sanitize("a\0b\nc"), "a_b_c");
        assert_eq!(sanitize("C:\\x"), "C__x");
        assert_eq!(sanitize("con"), "_con");
        assert_eq!(sanitize("LPT1.txt"), "_LPT1.txt");
        assert_eq!(sanitize("COMA"), "COMA");
        assert_eq!(sanitize("name. "), "name");
        let long = format!("{}.pdf", "é".repeat(500));
        let s = sanitize(&long);
        assert!(s.len() <= 200 && s.ends_with(".pdf"), "{s}");
        for n in ["a/b", "..", "x\\..\\y", "/abs"] {
            let s = sanitize(n);
            assert!(!s.contains('/') && s != ".." && s != ".");
        }
    }

    #[test]
    fn only_mattermost_ids_become_names() {
        let ok = "0123456789abcdefghijklmnop";
        assert_eq!(checked_id(ok), Ok(ok));
        let long = "a".repeat(300);
        let hostile = [
            "../../ESCAPED-team",
            "/tmp/x/ESCAPED-emoji",
            "a/b",
            "a\\b",
            "nul\0nul\0nul\0nul\0nul\0nu",
            ".",
            "..",
            "",
            long.as_str(),
            // 26 characters, but not all ASCII lowercase letters and digits
            "0123456789ABCDEFGHIJKLMNOP",
            "0123456789abcdefghijklmno\u{430}",
            "０１２３４５６７８９abcdefghijklmnop",
            "0123456789abcdefghijklm../",
        ];
        for id in hostile {
            let bad = BadId { id: id.to_string() };
            assert_eq!(checked_id(id), Err(bad.clone()), "{id:?}");
            assert_eq!(object_base(id, "name"), Err(bad.clone()));
            assert_eq!(post_file(0, id), Err(bad.clone()));
            assert_eq!(history_file(id), Err(bad.clone()));
            assert_eq!(file_info_name(id), Err(bad.clone()));
            assert_eq!(attachment_name(id, "a.txt"), Err(bad.clone()));
            assert_eq!(team_icon_prefix(id), Err(bad.clone()));
            // The message shows the id escaped and short.
            let msg = bad.to_string();
            assert!(!msg.contains('\0') && msg.len() < 400, "{msg}");
        }
    }

    #[test]
    fn the_writers_take_one_plain_name() {
        for ok in ["a", "a.json", ".matterbak-tmp-1", "x__y z"] {
            assert!(component(ok).is_ok(), "{ok}");
        }
        let long = "a".repeat(256);
        for bad in ["", ".", "..", "a/b", "/abs", "../x", "a\0b", long.as_str()] {
            assert!(component(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn files_entries_by_name_not_by_extension() {
        use FilesEntry::*;
        assert_eq!(FilesEntry::parse("fid.json"), Info("fid"));
        assert_eq!(
            FilesEntry::parse("fid__config.json"),
            Attachment("fid", "config.json")
        );
        assert_eq!(
            FilesEntry::parse("fid__notes__members.json"),
            Attachment("fid", "notes__members.json")
        );
        assert_eq!(
            FilesEntry::parse("fid__Makefile"),
            Attachment("fid", "Makefile")
        );
        assert_eq!(
            FilesEntry::parse("fid__page.html"),
            Attachment("fid", "page.html")
        );
        for other in [
            ".matterbak-tmp-x__a.json",
            "fid",
            "x.txt",
            ".json",
            "__a",
            "fid__",
        ] {
            assert_eq!(FilesEntry::parse(other), Other, "{other}");
        }
        let fid = "0123456789abcdefghijklmnop";
        assert_eq!(
            FilesEntry::parse(&attachment_name(fid, "config.json").unwrap()),
            Attachment(fid, "config.json")
        );
        assert_eq!(FilesEntry::parse(&file_info_name(fid).unwrap()), Info(fid));
    }

    #[test]
    fn ids_from_names() {
        assert_eq!(post_id_of("20240102-030405123000__abc.json"), Some("abc"));
        assert_eq!(post_id_of("x.txt"), None);
        assert_eq!(id_prefix("uid__bob__image.png"), "uid");
        assert_eq!(id_prefix("fid.json"), "fid");
        assert_eq!(
            post_timestamp_of("20240102-030405123000__abc.json"),
            Some("20240102-030405123000")
        );
        assert_eq!(post_timestamp_of("abc.json"), None);
        assert_eq!(post_file_parts("t__a__b.json"), Some(("t__a", "b")));
        assert_eq!(post_file_id("t__a__b.json"), Some("b"));
        for not_post in ["b.json", "t__.json", ".matterbak-tmp-x__b.json", "t__b.txt"] {
            assert_eq!(post_file_id(not_post), None, "{not_post}");
        }
        assert_eq!(parse_object_file("uid__bob.json"), Some(("uid", "bob")));
        assert_eq!(parse_object_file("uid__bob__image.png"), None);
        assert_eq!(name_of_base("gid__bob__carol"), "bob__carol");
        assert_eq!(name_of_base("gid"), "");
        assert!(is_members_file(&members_file("cid__x")));
        assert!(is_threads_file(&threads_file("cid__x")));
        assert!(!is_members_file(&threads_file("cid__x")));
        let cid = "0123456789abcdefghijklmnop";
        assert_eq!(object_base(cid, "a/b").unwrap(), format!("{cid}__a_b"));
        assert_eq!(image_ext("image/png"), Some("png".into()));
        assert_eq!(
            image_ext("image/svg+xml; charset=x"),
            Some("svg+xml".into())
        );
        assert_eq!(image_ext("text/html"), None);
    }
}
