//! channels.json: which teams, channels, direct and group conversations to back up.

use std::collections::BTreeSet;
use std::path::Path;

use serde::Deserialize;
use serde_json::Map;

use crate::error::Fatal;

/// The selection, as in the original (see README.md, "channels.json").
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ChannelsConfig {
    /// Team name or display name -> selection, in file order.
    #[serde(default)]
    pub teams: Map<String, serde_json::Value>,
    /// Usernames of the other person of a direct channel (your own for the self-DM).
    #[serde(default)]
    pub direct: Vec<String>,
    #[serde(default)]
    pub groups: GroupsConfig,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct GroupsConfig {
    /// Each list equals the set of the other members of a group channel.
    #[serde(default)]
    pub exact: Vec<Vec<String>>,
    /// Each list is a subset of the other members of a group channel.
    #[serde(default)]
    pub subset: Vec<Vec<String>>,
}

/// One team's selection: `include` (empty = all channels), then `exclude` removes.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TeamSelection {
    #[serde(default)]
    pub include: Vec<String>,
    #[serde(default)]
    pub exclude: Vec<String>,
}

impl ChannelsConfig {
    /// # Errors
    /// A [`Fatal`] usage error naming the file, line and column, or the team key.
    pub fn load(path: &Path) -> Result<Self, Fatal> {
        let cfg: ChannelsConfig = super::load_json(path, "channels")?;
        cfg.validate(path)?;
        Ok(cfg)
    }

    /// Parses from a string (tests, `list` skeletons).
    pub fn from_str(text: &str, path: &Path) -> Result<Self, Fatal> {
        let cfg: ChannelsConfig = super::parse_json(text, path, "channels")?;
        cfg.validate(path)?;
        Ok(cfg)
    }

    fn validate(&self, path: &Path) -> Result<(), Fatal> {
        for key in self.teams.keys() {
            self.team(key)
                .map_err(|e| Fatal::usage(format!("channels file {}: {e}", path.display())))?;
        }
        Ok(())
    }

    /// The selection of a team key (an empty object or `null` selects every channel).
    pub fn team(&self, key: &str) -> Result<TeamSelection, String> {
        match self.teams.get(key) {
            None | Some(serde_json::Value::Null) => Ok(TeamSelection::default()),
            Some(v) => serde_path_to_error::deserialize(v.clone()).map_err(|e| {
                let path = match e.path().to_string().as_str() {
                    "." => format!("teams.{key}"),
                    p => format!("teams.{key}.{p}"),
                };
                let msg = e.into_inner().to_string().replace(
                    "struct TeamSelection",
                    r#"an object like {"include": [...], "exclude": [...]} (or {} for every channel)"#,
                );
                format!("{}{msg}", super::json_path(&path))
            }),
        }
    }

    /// No team, no direct and no group channel is named.
    pub fn selects_nothing(&self) -> bool {
        self.teams.is_empty()
            && self.direct.is_empty()
            && self.groups.exact.is_empty()
            && self.groups.subset.is_empty()
    }

    /// Does a group channel whose other members are `others` match the selection?
    pub fn group_selected(&self, others: &BTreeSet<String>) -> bool {
        let exact = self
            .groups
            .exact
            .iter()
            .any(|g| g.iter().cloned().collect::<BTreeSet<_>>() == *others);
        let subset = self
            .groups
            .subset
            .iter()
            .any(|g| g.iter().all(|u| others.contains(u)));
        exact || subset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(t: &str) -> Result<ChannelsConfig, Fatal> {
        ChannelsConfig::from_str(t, Path::new("channels.json"))
    }

    #[test]
    fn the_original_example_parses() {
        let c = parse(
            r#"{ "teams":  { "team1": { "include": ["channel1", "channel2", "channel3"], "exclude": ["channel3"] },
              "team2": {}, "team3": { "exclude": ["channel4"] } },
  "direct": ["user1", "user2"],
  "groups": { "exact": [["user3", "user4"]], "subset": [["user3", "user5"]] } }"#,
        )
        .unwrap();
        assert_eq!(
            c.teams.keys().collect::<Vec<_>>(),
            ["team1", "team2", "team3"]
        );
        assert_eq!(c.team("team1").unwrap().exclude, ["channel3"]);
        assert!(c.team("team2").unwrap().include.is_empty());
        assert_eq!(c.direct, ["user1", "user2"]);
    }

    #[test]
    fn group_matching() {
        let c = parse(r#"{"groups": {"exact": [["a","b"]], "subset": [["c"]]}}"#).unwrap();
        let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
        assert!(c.group_selected(&set(&["a", "b"])));
        assert!(!c.group_selected(&set(&["a", "b", "d"])));
        assert!(c.group_selected(&set(&["c", "d"])));
        assert!(!c.group_selected(&set(&["d"])));
    }

    #[test]
    fn typos_are_named() {
        let e = parse(r#"{"team": {}}"#).unwrap_err().to_string();
        assert!(e.contains("unknown field `team`"), "{e}");
        let e = parse(r#"{"teams": {"t": {"includes": ["x"]}}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`teams.t.includes`"), "{e}");
        let e = parse(r#"{"teams": ["engineering"]}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`teams`") && e.contains("expected a map"), "{e}");
        let e = parse(r#"{"teams": {"t": {"include": ["a", "b", 3]}}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`teams.t.include[2]`"), "{e}");
        let e = parse(r#"{"groups": {"exact": ["bob"]}}"#)
            .unwrap_err()
            .to_string();
        assert!(e.contains("`groups.exact[0]`"), "{e}");
        let e = parse(r#"{"direct": ["a",]}"#).unwrap_err().to_string();
        assert!(e.contains("comma") && e.contains("line 1"), "{e}");
    }
}
