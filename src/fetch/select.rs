//! Which channels channels.json selects (pure functions, no I/O).

use std::collections::BTreeSet;

use crate::api::model::{Channel, Raw};
use crate::config::TeamSelection;

/// The team channels to back up and the configured names that matched nothing.
pub struct TeamChoice<'a> {
    pub selected: Vec<&'a Raw<Channel>>,
    pub skipped: Vec<&'a Raw<Channel>>,
    pub missing_include: Vec<String>,
    pub missing_exclude: Vec<String>,
}

/// `include` (by name or display name; empty = all), then `exclude` removes; exclude wins.
pub fn team_channels<'a>(channels: &'a [Raw<Channel>], sel: &TeamSelection) -> TeamChoice<'a> {
    let matches = |c: &Raw<Channel>, names: &[String]| {
        names
            .iter()
            .any(|n| *n == c.v.name || *n == c.v.display_name)
    };
    let missing = |names: &[String]| -> Vec<String> {
        let set: BTreeSet<&String> = names
            .iter()
            .filter(|n| {
                !channels
                    .iter()
                    .any(|c| **n == c.v.name || **n == c.v.display_name)
            })
            .collect();
        set.into_iter().cloned().collect()
    };
    let mut selected: Vec<&Raw<Channel>> = channels
        .iter()
        .filter(|c| matches(c, &sel.include))
        .collect();
    if selected.is_empty() {
        selected = channels.iter().collect();
    }
    selected.retain(|c| !matches(c, &sel.exclude));
    let skipped = channels
        .iter()
        .filter(|c| !selected.iter().any(|s| s.v.id == c.v.id))
        .collect();
    TeamChoice {
        selected,
        skipped,
        missing_include: missing(&sel.include),
        missing_exclude: missing(&sel.exclude),
    }
}

/// The other person of a direct channel, from its name `<user_id>__<user_id>`; the caller's own
/// id for the self-DM. `None` if the name is not of that form.
pub fn direct_partner(channel_name: &str, me: &str) -> Option<String> {
    let (a, b) = crate::store::layout::pair(channel_name)?;
    match (a == me, b == me) {
        (true, true) => Some(me.to_string()),
        (true, false) => Some(b.to_string()),
        (false, true) => Some(a.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ch(id: &str, name: &str, display: &str) -> Raw<Channel> {
        let raw = serde_json::value::to_raw_value(&serde_json::json!({
            "id": id, "team_id": "t", "type": "O", "name": name, "display_name": display
        }))
        .unwrap();
        Raw::parse(raw).unwrap()
    }

    fn sel(inc: &[&str], exc: &[&str]) -> TeamSelection {
        TeamSelection {
            include: inc.iter().map(|s| s.to_string()).collect(),
            exclude: exc.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn include_exclude_by_name_or_display_name() {
        let all = vec![
            ch("1", "town-square", "Town Square"),
            ch("2", "off-topic", "Off-Topic"),
            ch("3", "dev", "Developers"),
        ];
        let ids = |c: &TeamChoice| {
            c.selected
                .iter()
                .map(|c| c.v.id.clone())
                .collect::<Vec<_>>()
        };
        assert_eq!(ids(&team_channels(&all, &sel(&[], &[]))), ["1", "2", "3"]);
        assert_eq!(
            ids(&team_channels(&all, &sel(&["Town Square", "dev"], &[]))),
            ["1", "3"]
        );
        let c = team_channels(&all, &sel(&["dev", "nope"], &["dev", "gone"]));
        assert!(ids(&c).is_empty());
        assert_eq!(c.missing_include, ["nope"]);
        assert_eq!(c.missing_exclude, ["gone"]);
        // include that matches nothing at all means "all channels", as in the original
        assert_eq!(
            ids(&team_channels(&all, &sel(&["nope"], &["off-topic"]))),
            ["1", "3"]
        );
    }

    #[test]
    fn direct_partners() {
        assert_eq!(direct_partner("aaa__bbb", "aaa").as_deref(), Some("bbb"));
        assert_eq!(direct_partner("aaa__bbb", "bbb").as_deref(), Some("aaa"));
        assert_eq!(direct_partner("aaa__aaa", "aaa").as_deref(), Some("aaa"));
        assert_eq!(direct_partner("aaa__bbb", "ccc"), None);
        assert_eq!(direct_partner("weird", "ccc"), None);
    }
}
