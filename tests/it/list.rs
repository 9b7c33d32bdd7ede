//! `matterbak list`: the table, the JSON and the channels.json skeleton against the fake
//! server's world; the skeleton round trip through the backup; login errors and exit codes.

use std::collections::{BTreeMap, BTreeSet};

use fakemm::{Scale, World};
use serde_json::{json, Value};

use crate::util::{closed_port, list, text, Env, FAST};

fn list_ok(env: &Env, extra: &[&str]) -> String {
    let out = list(env, &[], extra);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// What the world says alice sees, computed from the world's own fields.
#[derive(Debug, Clone, PartialEq)]
struct Want {
    id: String,
    /// Team name, or "direct" / "groups".
    section: String,
    /// Channel name; for direct and group channels the other members' usernames, sorted,
    /// joined by ", " (alice for her self-DM).
    name: String,
    display_name: String,
    kind: &'static str,
    archived: bool,
    posts: i64,
    root_posts: i64,
    last_post_at: i64,
}

fn utc(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .unwrap()
        .format("%Y-%m-%d %H:%M:%S")
        .to_string()
}

fn alice_id(w: &World) -> fakemm::Id {
    w.user_by_name("alice").unwrap().id
}

/// Alice's teams: name -> display name.
fn teams(w: &World) -> BTreeMap<String, String> {
    let alice = alice_id(w);
    w.teams
        .values()
        .filter(|t| t.delete_at == 0 && t.members.get(&alice).is_some_and(|m| m.delete_at == 0))
        .map(|t| (t.name.clone(), t.display_name.clone()))
        .collect()
}

/// Every channel alice is a member of.
fn visible(w: &World) -> Vec<Want> {
    let alice = alice_id(w);
    let mut out = Vec::new();
    for c in w
        .channels
        .values()
        .filter(|c| c.members.contains_key(&alice))
    {
        let mut others: Vec<String> = c
            .members
            .keys()
            .filter(|u| **u != alice)
            .map(|u| w.users[u].username.clone())
            .collect();
        others.sort();
        let (section, name, kind) = match c.channel_type {
            'D' => {
                if others.is_empty() {
                    others.push("alice".into());
                }
                ("direct".to_string(), others.join(", "), "direct")
            }
            'G' => ("groups".to_string(), others.join(", "), "group"),
            t => (
                w.teams[&c.team_id].name.clone(),
                c.name.clone(),
                if t == 'O' { "open" } else { "private" },
            ),
        };
        out.push(Want {
            id: c.id.to_string(),
            section,
            name,
            display_name: c.display_name.clone(),
            kind,
            archived: c.delete_at > 0,
            posts: c.total_msg_count,
            root_posts: c.total_msg_count_root,
            last_post_at: c.last_post_at,
        });
    }
    out
}

/// The table's rows as (section, cells by column title), cut at the header's column starts.
fn parse_table(table: &str) -> Vec<(String, BTreeMap<String, String>)> {
    let titles = [
        "NAME",
        "DISPLAY NAME",
        "TYPE",
        "ARCHIVED",
        "POSTS",
        "LAST POST",
    ];
    let mut rows = Vec::new();
    let mut section = String::new();
    let mut starts: Vec<usize> = Vec::new();
    for line in table.lines().filter(|l| !l.is_empty()) {
        let chars: Vec<char> = line.chars().collect();
        if !line.starts_with("  ") {
            section = line.to_string();
        } else if line.trim_start().starts_with("NAME  ") {
            starts = titles
                .iter()
                .map(|t| line.find(&format!("  {t}")).unwrap() + 2)
                .collect();
            // POSTS is right-aligned: its column begins after ARCHIVED.
        } else {
            let mut cells = BTreeMap::new();
            for (i, t) in titles.iter().enumerate() {
                let from = starts[i].min(chars.len());
                let to = starts
                    .get(i + 1)
                    .copied()
                    .unwrap_or(chars.len())
                    .min(chars.len());
                let cell: String = chars[from..to].iter().collect();
                cells.insert(t.to_string(), cell.trim().to_string());
            }
            rows.push((section.clone(), cells));
        }
    }
    rows
}

/// "team acme (Acme Corp): 7 channels" -> "acme"; "direct: 5 channels" -> "direct".
fn section_key(title: &str) -> String {
    let head = title.split(':').next().unwrap();
    match head.strip_prefix("team ") {
        Some(rest) => rest.split(" (").next().unwrap().to_string(),
        None => head.to_string(),
    }
}

#[test]
fn table_shows_every_visible_channel_with_its_counts_in_few_requests() {
    let env = Env::new(Scale::Demo);
    let sessions = env.server.with_world(|w| w.sessions.len());
    let stdout = list_ok(&env, &[]);
    let (want, teams) = env.server.with_world(|w| (visible(w), teams(w)));
    let rows = parse_table(&stdout);
    assert_eq!(rows.len(), want.len(), "one row per channel:\n{stdout}");
    for w in &want {
        let found: Vec<&BTreeMap<String, String>> = rows
            .iter()
            .filter(|(s, r)| section_key(s) == w.section && r["NAME"] == w.name)
            .map(|(_, r)| r)
            .collect();
        assert_eq!(found.len(), 1, "{w:?} in\n{stdout}");
        let r = found[0];
        assert_eq!(r["TYPE"], w.kind, "{w:?}");
        assert_eq!(
            r["ARCHIVED"],
            if w.archived { "yes" } else { "no" },
            "{w:?}"
        );
        assert_eq!(r["POSTS"], w.posts.to_string(), "{w:?}");
        assert_eq!(r["LAST POST"], utc(w.last_post_at), "{w:?}");
        if w.kind != "direct" {
            assert_eq!(r["DISPLAY NAME"], w.display_name, "{w:?}");
        }
    }
    // Teams first (by name), then direct, then groups; each team's title has its display name.
    let titles: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.starts_with(' ') && !l.is_empty())
        .collect();
    let mut expect: Vec<String> = teams
        .iter()
        .map(|(n, d)| {
            let count = want.iter().filter(|w| w.section == *n).count();
            format!("team {n} ({d}): {count} channels")
        })
        .collect();
    expect.push(format!(
        "direct: {} channels",
        want.iter().filter(|w| w.section == "direct").count()
    ));
    expect.push(format!(
        "groups: {} channels",
        want.iter().filter(|w| w.section == "groups").count()
    ));
    assert_eq!(titles, expect, "{stdout}");
    // The demo data set has all of these: the table must show them.
    assert!(want.iter().any(|w| w.archived) && want.iter().any(|w| w.name == "alice"));
    assert!(stdout.contains("Erin Example (deactivated)"), "{stdout}");

    // Teams, channels, the members of each group, the users; login and logout.
    let groups = want.iter().filter(|c| c.kind == "group").count() as u64;
    let want: BTreeMap<String, u64> = [
        ("POST /api/v4/users/login", 1),
        ("GET /api/v4/users/{user_id}/teams", 1),
        ("GET /api/v4/users/{user_id}/channels", 1),
        ("GET /api/v4/channels/{channel_id}/members", groups),
        ("POST /api/v4/users/ids", 1),
        ("POST /api/v4/users/logout", 1),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(env.server.request_counts(), want);
    assert_eq!(
        env.server.with_world(|w| w.sessions.len()),
        sessions,
        "logged out"
    );
}

/// Alice's channels as the JSON output lists them: id -> (section, name, the fields).
fn json_channels(v: &Value) -> BTreeMap<String, (String, Value)> {
    let mut out = BTreeMap::new();
    for t in v["teams"].as_array().unwrap() {
        for c in t["channels"].as_array().unwrap() {
            let name = t["name"].as_str().unwrap().to_string();
            out.insert(c["id"].as_str().unwrap().to_string(), (name, c.clone()));
        }
    }
    for section in ["direct", "groups"] {
        for c in v[section].as_array().unwrap() {
            out.insert(
                c["id"].as_str().unwrap().to_string(),
                (section.to_string(), c.clone()),
            );
        }
    }
    out
}

#[test]
fn json_matches_the_world() {
    let env = Env::new(Scale::Demo);
    // With a token this time: no login, no logout.
    env.write_credentials(&json!({"user": "alice", "token": "alicepersonalaccesstoken0000", "url": env.server.base_url()}));
    let stdout = list_ok(&env, &["--json"]);
    let v: Value = serde_json::from_str(&stdout).expect("--json prints JSON");
    let (want, teams, users) = env.server.with_world(|w| {
        let users: BTreeMap<String, (String, bool)> = w
            .users
            .values()
            .map(|u| (u.username.clone(), (u.id.to_string(), u.delete_at > 0)))
            .collect();
        (visible(w), teams(w), users)
    });
    assert_eq!(v["user"]["username"], "alice");
    assert_eq!(v["user"]["id"], users["alice"].0.as_str());
    let got_teams: BTreeMap<String, String> = v["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["name"].as_str().unwrap().to_string(),
                t["display_name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(got_teams, teams);
    let got = json_channels(&v);
    assert_eq!(
        got.keys().collect::<BTreeSet<_>>(),
        want.iter().map(|w| &w.id).collect::<BTreeSet<_>>()
    );
    for w in &want {
        let (section, c) = &got[&w.id];
        assert_eq!(*section, w.section, "{w:?}");
        assert_eq!(c["type"], w.kind, "{w:?}");
        assert_eq!(c["archived"], w.archived, "{w:?}");
        assert_eq!(c["posts"], w.posts, "{w:?}");
        assert_eq!(c["root_posts"], w.root_posts, "{w:?}");
        assert_eq!(c["last_post_at"], w.last_post_at, "{w:?}");
        assert_eq!(c["last_post"], utc(w.last_post_at).as_str(), "{w:?}");
        assert_eq!(c["display_name"], w.display_name.as_str(), "{w:?}");
        if matches!(w.kind, "direct" | "group") {
            let others = c["other_members"].as_array().unwrap();
            let names: Vec<&str> = others
                .iter()
                .map(|p| p["username"].as_str().unwrap())
                .collect();
            assert_eq!(names.join(", "), w.name, "{w:?}");
            for p in others {
                let (id, deactivated) = &users[p["username"].as_str().unwrap()];
                assert_eq!(p["id"], id.as_str());
                assert_eq!(p["deactivated"], *deactivated);
            }
        } else {
            assert_eq!(c["name"], w.name.as_str(), "{w:?}");
        }
    }
    assert_eq!(v["other_team_channels"], json!([]));
    let counts = env.server.request_counts();
    assert_eq!(counts.get("GET /api/v4/users/{user_id}"), Some(&1));
    assert!(!counts.contains_key("POST /api/v4/users/login"));
    assert!(!counts.contains_key("POST /api/v4/users/logout"));
}

#[test]
fn channels_json_round_trip_through_the_backup() {
    let mut world = World::generate(crate::util::SEED, Scale::Tiny);
    let acme = world.team_by_name("acme").unwrap().id.to_string();
    // More kinds of channel than Tiny has, and a name that must neither escape the data dir
    // nor reach the terminal raw.
    world
        .add_channel(&acme, 'P', "plans", "Plans", ["alice", "bob"])
        .unwrap();
    world
        .add_channel(
            &acme,
            'O',
            "../x\u{1b}[2J",
            "Evil / \u{1b}[31mName",
            ["alice"],
        )
        .unwrap();
    world
        .add_channel(
            "",
            'G',
            "0123456789abcdef0123456789abcdef01234567",
            "alice, dave, erin",
            ["alice", "dave", "erin"],
        )
        .unwrap();
    let archived = world
        .add_channel(&acme, 'O', "gone", "Gone", ["alice"])
        .unwrap();
    world.archive_channel(&archived).unwrap();
    let env = Env::with_world(world);

    let table = list_ok(&env, &[]);
    assert!(
        !table.contains('\u{1b}'),
        "no escape sequence reaches the terminal"
    );

    let skeleton = list_ok(&env, &["--channels-json"]);
    // -o writes the same text, atomically.
    list_ok(&env, &["--channels-json", "-o", "listed.json"]);
    assert_eq!(
        std::fs::read_to_string(env.path("listed.json")).unwrap(),
        skeleton
    );
    std::fs::write(env.path("channels.json"), &skeleton).unwrap();

    let (want, alice) = env
        .server
        .with_world(|w| (visible(w), alice_id(w).to_string()));
    let v: Value = serde_json::from_str(&skeleton).unwrap();
    // Every listed channel is named in it, and nothing else.
    let mut named = BTreeSet::new();
    for (team, sel) in v["teams"].as_object().unwrap() {
        assert_eq!(sel["exclude"], json!([]));
        for c in sel["include"].as_array().unwrap() {
            named.insert(format!("{team}/{}", c.as_str().unwrap()));
        }
    }
    for d in v["direct"].as_array().unwrap() {
        named.insert(format!("direct/{}", d.as_str().unwrap()));
    }
    for g in v["groups"]["exact"].as_array().unwrap() {
        let names: Vec<&str> = g
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n.as_str().unwrap())
            .collect();
        named.insert(format!("groups/{}", names.join(", ")));
    }
    assert_eq!(v["groups"]["subset"], json!([]));
    let listed: BTreeSet<String> = want
        .iter()
        .map(|w| format!("{}/{}", w.section, w.name))
        .collect();
    assert_eq!(named, listed);

    // The backup accepts it and backs up exactly the listed channels.
    let out = env.run(&["--skip-users", "--skip-emojis"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stored: BTreeSet<String> = crate::util::tree(&env.data())
        .into_keys()
        .filter(|k| {
            k.ends_with(".json") && !k.ends_with("__members.json") && !k.ends_with("__threads.json")
        })
        .filter_map(|k| {
            let parts: Vec<&str> = k.split('/').collect();
            let channel_object =
                matches!(parts.as_slice(), ["direct" | "groups", _] | ["teams", _, _]);
            channel_object.then(|| {
                parts
                    .last()
                    .unwrap()
                    .split("__")
                    .next()
                    .unwrap()
                    .to_string()
            })
        })
        .collect();
    let ids: BTreeSet<String> = want.iter().map(|w| w.id.clone()).collect();
    assert_eq!(stored, ids, "backed up = listed");
    assert!(
        want.iter().any(|w| w.archived),
        "an archived channel is listed and backed up"
    );
    assert!(!alice.is_empty());
}

#[test]
fn login_errors_exit_like_the_backup() {
    let env = Env::new(Scale::Tiny);
    env.write_credentials(
        &json!({"user": "alice", "password": "hunter2-wrong", "url": env.server.base_url()}),
    );
    let out = list(&env, &[], &["-o", "list.txt"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("login as alice failed") && !all.contains("hunter2-wrong"),
        "{all}"
    );
    assert!(out.stdout.is_empty());
    assert!(!env.path("list.txt").exists(), "no output file on failure");
    let leftovers: Vec<String> = crate::util::tree(env.tmp.path())
        .into_keys()
        .filter(|k| k.contains(".matterbak-tmp"))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");

    env.write_credentials(&json!({"user": "alice", "token": "not-a-valid-token-at-all", "url": env.server.base_url()}));
    let out = list(&env, &[], &["--json"]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(out.stdout.is_empty());

    let port = closed_port();
    env.write_credentials(&json!({"user": "alice", "password": "alice-password", "url": format!("http://127.0.0.1:{port}/api")}));
    // Retried (the closed port answers nothing), without the real back-off.
    let out = list(&env, &[], &FAST);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));

    let before = env.server.total_requests();
    std::fs::write(env.path("credentials.json"), "{\"user\": \"alice\",}").unwrap();
    let out = list(&env, &[], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(text(&out).contains("credentials.json"), "{}", text(&out));
    assert_eq!(
        env.server.total_requests(),
        before,
        "no request on a config error"
    );

    let out = list(&env, &[], &["--json", "--channels-json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn respects_the_rate_limit_and_rides_out_429s() {
    let env = Env::new(Scale::Demo);
    // The server allows 5 requests per second (burst 1): at 4/s no request is refused.
    env.server
        .with_world(|w| w.config.rate_limit = Some((5, 1)));
    let start = std::time::Instant::now();
    list_ok(&env, &["--rate-limit", "4"]);
    let n = env.server.total_requests();
    assert!(
        start.elapsed().as_secs_f64() >= (n - 1) as f64 / 4.0 * 0.95,
        "{n} requests in {:?}",
        start.elapsed()
    );
    assert_eq!(n, 7, "no request was refused and tried again");
    // Without a limit of its own, matterbak meets 429s, waits and still lists everything.
    env.server.reset_counts();
    let stdout = list_ok(&env, &["--rate-limit", "0", "--retry-wait-scale", "0.05"]);
    assert!(
        env.server.total_requests() > 7,
        "the server refused some requests"
    );
    let rows = parse_table(&stdout);
    assert_eq!(rows.len(), env.server.with_world(|w| visible(w).len()));
}
