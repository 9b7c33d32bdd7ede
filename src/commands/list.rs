//! `matterbak list`: every team, channel, direct and group conversation the user can see, as a
//! table, as JSON, or as a channels.json that selects all of it.
//!
//! It reads the API only (see [`crate::fetch::inventory`] for the requests) and writes nothing
//! but its output.

use std::fmt::Write as _;
use std::io::Write as _;
use std::path::Path;
use std::time::Instant;

use anyhow::{Context, Result};
use serde_json::{json, Value};

use super::login::{self, Session};
use crate::api::ClientOptions;
use crate::cancel::Cancel;
use crate::cli::ListArgs;
use crate::config::{ChannelsConfig, Credentials};
use crate::error::Code;
use crate::export::out::Output;
use crate::export::time;
use crate::fetch::inventory::{self, ChannelEntry, Inventory, Person};
use crate::model::ChannelKind;

/// Runs the listing; returns the exit code for a run that ended normally.
pub fn run(args: ListArgs, cancel: &Cancel) -> Result<Code> {
    // Configuration and the output file first: a mistake there must not cost a login.
    let creds = login::credentials(&args.connect)?;
    let opts = login::client_options(&args.connect, args.rate_limit, args.retry_wait_scale)?;
    let mut out = Output::create(args.output.as_deref())?;

    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    let inv = rt.block_on(read(&args, &creds, &opts, cancel.clone()))?;

    let text = if args.json {
        let mut s = serde_json::to_string_pretty(&to_json(&inv, &creds.api_url))?;
        s.push('\n');
        s
    } else if args.channels_json {
        let (text, left_out) = skeleton(&inv)?;
        for why in &left_out {
            tracing::warn!("not in the channels.json: {}", printable(why));
        }
        text
    } else {
        table(&inv)
    };
    let ctx = || match &args.output {
        Some(p) => format!("writing {}", p.display()),
        None => "writing to standard output".to_string(),
    };
    out.write_all(text.as_bytes()).with_context(ctx)?;
    out.finish().with_context(ctx)?;
    Ok(Code::Ok)
}

/// Logs in, reads what the user can see, logs out (password logins).
async fn read(
    args: &ListArgs,
    creds: &Credentials,
    opts: &ClientOptions,
    cancel: Cancel,
) -> Result<Inventory> {
    let started = Instant::now();
    let (session, me) = Session::open(creds, args.connect.mfa_token.clone(), opts, cancel).await?;
    let result = inventory::gather(&session.client, &me).await;
    session.logout().await;
    let inv = result?;
    tracing::info!(
        "{} teams with {} channels, {} direct and {} group channels; {} requests in {:.1}s",
        inv.teams.len(),
        inv.teams.iter().map(|t| t.channels.len()).sum::<usize>() + inv.orphans.len(),
        inv.direct.len(),
        inv.groups.len(),
        session.client.request_count(),
        started.elapsed().as_secs_f64()
    );
    Ok(inv)
}

// ---------------------------------------------------------------------------------------------
// The table

/// Longest name or display name that widens its column; longer ones overflow (names) or are
/// cut (display names).
const MAX_COLUMN: usize = 40;
const HEADER: [&str; 6] = [
    "NAME",
    "DISPLAY NAME",
    "TYPE",
    "ARCHIVED",
    "POSTS",
    "LAST POST",
];

/// Server text made safe for a terminal: control characters (escape sequences) become `?`.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

fn cut(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        s
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

fn person_name(p: &Person) -> String {
    let mut s = p.full_name.clone();
    if p.deactivated {
        s.push_str(if s.is_empty() {
            "(deactivated)"
        } else {
            " (deactivated)"
        });
    }
    s
}

/// The six cells of a channel's row.
fn row(c: &ChannelEntry) -> [String; 6] {
    let (name, display) = match c.kind {
        ChannelKind::Direct => (
            c.others
                .iter()
                .map(Person::label)
                .collect::<Vec<_>>()
                .join(", "),
            c.others
                .iter()
                .map(person_name)
                .collect::<Vec<_>>()
                .join(", "),
        ),
        ChannelKind::Group => (
            c.others
                .iter()
                .map(Person::label)
                .collect::<Vec<_>>()
                .join(", "),
            c.display_name.clone(),
        ),
        _ => (c.name.clone(), c.display_name.clone()),
    };
    [
        printable(&name),
        cut(printable(&display), MAX_COLUMN),
        printable(c.kind.label()),
        if c.archived() { "yes" } else { "no" }.to_string(),
        c.posts.to_string(),
        last_post(c.last_post_at).unwrap_or_else(|| "-".into()),
    ]
}

fn last_post(ms: i64) -> Option<String> {
    (ms > 0).then(|| time::local(ms))
}

fn count(n: usize) -> String {
    match n {
        0 => "no channels".into(),
        1 => "1 channel".into(),
        n => format!("{n} channels"),
    }
}

/// The readable table: one section per team, then direct, then groups (then channels of teams
/// the user is not in, if any); the columns line up over all sections.
pub fn table(inv: &Inventory) -> String {
    let mut sections: Vec<(String, Vec<[String; 6]>)> = Vec::new();
    for t in &inv.teams {
        let title = if t.display_name.is_empty() || t.display_name == t.name {
            format!("team {}", printable(&t.name))
        } else {
            format!(
                "team {} ({})",
                printable(&t.name),
                printable(&t.display_name)
            )
        };
        sections.push((
            format!("{title}: {}", count(t.channels.len())),
            t.channels.iter().map(row).collect(),
        ));
    }
    sections.push((
        format!("direct: {}", count(inv.direct.len())),
        inv.direct.iter().map(row).collect(),
    ));
    sections.push((
        format!("groups: {}", count(inv.groups.len())),
        inv.groups.iter().map(row).collect(),
    ));
    if !inv.orphans.is_empty() {
        sections.push((
            format!(
                "channels of teams you are not a member of (a channels.json cannot select them): {}",
                count(inv.orphans.len())
            ),
            inv.orphans.iter().map(row).collect(),
        ));
    }

    let mut width = HEADER.map(|h| h.chars().count());
    for r in sections.iter().flat_map(|(_, rows)| rows) {
        for (w, cell) in width.iter_mut().zip(r) {
            *w = (*w).max(cell.chars().count().min(MAX_COLUMN));
        }
    }
    // Two spaces before every cell; POSTS is right-aligned, the rest left-aligned.
    let line = |cells: &[String; 6]| {
        let mut s = String::new();
        for (i, (cell, w)) in cells.iter().zip(width).enumerate() {
            let pad = " ".repeat(w.saturating_sub(cell.chars().count()));
            s.push_str("  ");
            if i == 4 {
                s.push_str(&pad);
                s.push_str(cell);
            } else {
                s.push_str(cell);
                s.push_str(&pad);
            }
        }
        s.truncate(s.trim_end().len());
        s
    };
    let header = HEADER.map(String::from);
    let mut out = String::new();
    for (i, (title, rows)) in sections.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = writeln!(out, "{title}");
        if !rows.is_empty() {
            let _ = writeln!(out, "{}", line(&header));
            for r in rows {
                let _ = writeln!(out, "{}", line(r));
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------
// JSON

fn person_json(p: &Person) -> Value {
    json!({
        "id": p.id,
        "username": p.username,
        "name": p.full_name,
        "deactivated": p.deactivated,
    })
}

/// A channel for `--json`; `with_team`: say which team it belongs to (it is not nested in one).
fn channel_json(c: &ChannelEntry, with_team: bool) -> Value {
    let mut v = json!({
        "id": c.id,
        "name": c.name,
        "display_name": c.display_name,
        "type": c.kind.label(),
        "archived": c.archived(),
        "delete_at": c.delete_at,
        "posts": c.posts,
        "root_posts": c.root_posts,
        "last_post_at": c.last_post_at,
        "last_post": last_post(c.last_post_at),
    });
    if c.kind.is_personal() {
        v["other_members"] = c.others.iter().map(person_json).collect();
    } else if with_team {
        v["team_id"] = json!(c.team_id);
    }
    v
}

/// One object for scripts: `user`, `server`, `teams` (each with `channels`), `direct`,
/// `groups`, and `other_team_channels` (channels of teams the user is not a member of).
pub fn to_json(inv: &Inventory, server: &str) -> Value {
    json!({
        "user": person_json(&inv.me),
        "server": server,
        "teams": inv.teams.iter().map(|t| json!({
            "id": t.id,
            "name": t.name,
            "display_name": t.display_name,
            "channels": t.channels.iter().map(|c| channel_json(c, false)).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "direct": inv.direct.iter().map(|c| channel_json(c, false)).collect::<Vec<_>>(),
        "groups": inv.groups.iter().map(|c| channel_json(c, false)).collect::<Vec<_>>(),
        "other_team_channels": inv.orphans.iter().map(|c| channel_json(c, true)).collect::<Vec<_>>(),
    })
}

// ---------------------------------------------------------------------------------------------
// The channels.json skeleton

fn quoted(s: &str) -> String {
    serde_json::to_string(s).expect("strings serialise")
}

/// `[]`, or one element per line (so that a line can be deleted to drop the element).
fn block(items: &[String], indent: usize) -> String {
    if items.is_empty() {
        return "[]".into();
    }
    let pad = " ".repeat(indent + 2);
    let lines: Vec<String> = items.iter().map(|i| format!("{pad}{i}")).collect();
    format!("[\n{}\n{}]", lines.join(",\n"), " ".repeat(indent))
}

/// A channels.json, in the format [`ChannelsConfig`] reads, that selects every channel in the
/// list: each team with all its channels in `include` (and an empty `exclude`), every direct
/// partner, every group in `exact`. Returns the text and what could not be put in it (and why).
///
/// # Errors
/// Only if the text would not be accepted by the backup (a bug).
pub fn skeleton(inv: &Inventory) -> Result<(String, Vec<String>)> {
    let mut left_out = Vec::new();
    let mut teams = Vec::new();
    for t in &inv.teams {
        let mut include = Vec::new();
        for c in &t.channels {
            match c.kind {
                ChannelKind::Open | ChannelKind::Private => include.push(quoted(&c.name)),
                _ => left_out.push(format!(
                    "channel {} of team {}: type {} is not backed up",
                    c.name,
                    t.name,
                    c.kind.label()
                )),
            }
        }
        teams.push(format!(
            "    {}: {{\n      \"include\": {},\n      \"exclude\": []\n    }}",
            quoted(&t.name),
            block(&include, 6)
        ));
    }
    for c in &inv.orphans {
        left_out.push(format!(
            "channel {} ({}) belongs to team {}, of which you are not a member",
            c.name, c.id, c.team_id
        ));
    }
    let mut direct = Vec::new();
    for c in &inv.direct {
        match c.other_usernames().as_deref() {
            Some([name]) => direct.push(quoted(name)),
            _ => left_out.push(format!(
                "direct channel {}: the server does not know the other person any more",
                c.id
            )),
        }
    }
    direct.dedup();
    let mut groups = Vec::new();
    for c in &inv.groups {
        match c.other_usernames() {
            Some(mut names) => {
                names.sort();
                let names: Vec<String> = names.iter().map(|n| quoted(n)).collect();
                groups.push(format!("[{}]", names.join(", ")));
            }
            None => left_out.push(format!(
                "group channel {} ({}): the server does not know some of its members any more",
                c.display_name, c.id
            )),
        }
    }
    let teams = if teams.is_empty() {
        "{}".to_string()
    } else {
        format!("{{\n{}\n  }}", teams.join(",\n"))
    };
    let text = format!(
        "{{\n  \"teams\": {teams},\n  \"direct\": {},\n  \"groups\": {{\n    \"exact\": {},\n    \"subset\": []\n  }}\n}}\n",
        block(&direct, 2),
        block(&groups, 4)
    );
    ChannelsConfig::from_str(&text, Path::new("(the printed channels.json)"))
        .context("the channels.json skeleton does not parse (a bug: please report it)")?;
    Ok((text, left_out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fetch::inventory::TeamEntry;

    fn person(name: &str, deactivated: bool) -> Person {
        Person {
            id: format!("{name:a>26}"),
            username: Some(name.into()),
            full_name: format!("{} Example", name.to_uppercase()),
            deactivated,
        }
    }

    fn channel(name: &str, kind: ChannelKind, others: Vec<Person>) -> ChannelEntry {
        ChannelEntry {
            id: format!("{name:c>26}"),
            name: name.into(),
            display_name: format!("Display {name}"),
            kind,
            team_id: String::new(),
            delete_at: 0,
            posts: 12,
            root_posts: 10,
            last_post_at: 1_704_067_200_000,
            others,
        }
    }

    fn sample() -> Inventory {
        let mut archived = channel("old\u{1b}[31m", ChannelKind::Private, vec![]);
        archived.delete_at = 5;
        Inventory {
            me: person("alice", false),
            teams: vec![
                TeamEntry {
                    id: "t1".into(),
                    name: "acme".into(),
                    display_name: "Acme \"Corp\"".into(),
                    channels: vec![channel("general", ChannelKind::Open, vec![]), archived],
                },
                TeamEntry {
                    id: "t2".into(),
                    name: "empty".into(),
                    display_name: "empty".into(),
                    channels: vec![],
                },
            ],
            direct: vec![
                channel("d1", ChannelKind::Direct, vec![person("alice", false)]),
                channel("d2", ChannelKind::Direct, vec![person("erin", true)]),
                channel(
                    "d3",
                    ChannelKind::Direct,
                    vec![Person {
                        id: "gone".into(),
                        ..Person::default()
                    }],
                ),
            ],
            groups: vec![channel(
                "g1",
                ChannelKind::Group,
                vec![person("carol", false), person("bob", false)],
            )],
            orphans: vec![],
        }
    }

    #[test]
    fn skeleton_selects_everything_and_parses() {
        let (text, left_out) = skeleton(&sample()).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            json!({
                "teams": {
                    "acme": {"include": ["general", "old\u{1b}[31m"], "exclude": []},
                    "empty": {"include": [], "exclude": []}
                },
                "direct": ["alice", "erin"],
                "groups": {"exact": [["bob", "carol"]], "subset": []}
            })
        );
        assert_eq!(left_out.len(), 1, "{left_out:?}");
        assert!(
            left_out[0].contains(&format!("{:c>26}", "d3")),
            "{left_out:?}"
        );
        // One element per line: a line can be deleted to drop a channel.
        assert!(text.contains("\n        \"general\",\n"), "{text}");
        assert!(text.contains("\n      [\"bob\", \"carol\"]\n"), "{text}");
    }

    #[test]
    fn empty_inventory_gives_a_valid_skeleton() {
        let (text, _) = skeleton(&Inventory::default()).unwrap();
        let v: Value = serde_json::from_str(&text).unwrap();
        assert_eq!(
            v,
            json!({"teams": {}, "direct": [], "groups": {"exact": [], "subset": []}})
        );
    }

    #[test]
    fn table_is_aligned_and_safe_for_terminals() {
        let t = table(&sample());
        assert!(!t.contains('\u{1b}'), "{t}");
        assert!(t.contains("team acme (Acme \"Corp\"): 2 channels"), "{t}");
        assert!(t.contains("team empty: no channels"), "{t}");
        assert!(t.contains("direct: 3 channels"), "{t}");
        assert!(t.contains("ERIN Example (deactivated)"), "{t}");
        let rows: Vec<&str> = t.lines().filter(|l| l.starts_with("  ")).collect();
        assert_eq!(rows.len(), 3 + 2 + 3 + 1, "{t}");
        // Every column starts at the same place in every row.
        let col = |l: &str, word: &str| l.find(word);
        let header = rows.iter().find(|l| l.contains("NAME")).unwrap();
        let type_col = col(header, "TYPE").unwrap();
        for r in rows.iter().filter(|l| !l.contains("NAME")) {
            let kind = ["open", "private", "direct", "group"]
                .iter()
                .find_map(|k| col(r, &format!(" {k} ")))
                .unwrap();
            assert_eq!(kind + 1, type_col, "{t}");
        }
        assert!(t.contains("[gone]"), "{t}");
    }

    #[test]
    fn json_has_the_members_and_counts() {
        let v = to_json(&sample(), "https://mm/api/v4");
        assert_eq!(v["teams"][0]["channels"][1]["archived"], json!(true));
        assert_eq!(v["teams"][0]["channels"][0]["posts"], json!(12));
        assert_eq!(v["teams"][0]["channels"][0]["type"], json!("open"));
        assert_eq!(
            v["groups"][0]["other_members"][0]["username"],
            json!("carol")
        );
        assert_eq!(
            v["direct"][1]["other_members"][0]["deactivated"],
            json!(true)
        );
        assert_eq!(v["direct"][2]["other_members"][0]["username"], Value::Null);
        assert_eq!(v["user"]["username"], json!("alice"));
    }
}
