//! Issue 20: the selection every export takes (`-c`, `--after`, `--before`, `--from`), checked
//! against the fake server's truth; `export csv` parsed back; `export txt`'s shape.
//!
//! The rule is computed here from the world ([`truth`]), not from the exporter: a post is
//! selected when its author is one of `--from` and it or its thread's root is in the window
//! (both days exclusive, local time: the tests run with `TZ=UTC`); the root of a selected reply
//! comes along, marked.

use std::collections::{BTreeMap, BTreeSet};

use fakemm::{Scale, World};
use serde_json::Value;

use crate::util::{alice, text, user_id, Env};

const DAY: i64 = 86_400_000;
/// 2020-03-10 00:00 UTC: the day `--after` names.
const D0: i64 = 1_583_798_400_000;
const AFTER: &str = "2020-03-10";
/// Exclusive: the window is 2020-03-11 and 2020-03-12.
const BEFORE: &str = "2020-03-13";

/// Why a post is kept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Why {
    Selected,
    Context,
}

/// The scene's posts in the filtered channel.
struct Scene {
    channel: String,
    /// Root before the window; its reply `x1` inside it.
    r1: String,
    x1: String,
    /// Root inside the window; its reply `y1` after it.
    r2: String,
    y1: String,
    /// A root after the window.
    r3: String,
}

/// A backup of Tiny where the busiest open channel alice sees has, beside its generated posts,
/// two threads and a post around the window 2020-03-11..12.
fn scene() -> (Env, Scene) {
    let env = Env::new(Scale::Tiny);
    let me = alice(&env);
    let s = env.server.with_world(|w| {
        let channel = (w.member_channels(&me).into_iter())
            .filter(|c| w.channel(c).unwrap().channel_type == 'O')
            .max_by_key(|c| w.channel(c).unwrap().live.len())
            .unwrap();
        let at = |d: i64, h: i64| D0 + d * DAY + h * 3_600_000;
        let r1 = w
            .import_post(&channel, "alice", "r1 before", None, at(-5, 9))
            .unwrap();
        let x1 = w
            .import_post(&channel, "bob", "x1 in", Some(&r1), at(1, 10))
            .unwrap();
        let r2 = w
            .import_post(&channel, "alice", "r2 in", None, at(2, 23))
            .unwrap();
        let y1 = w
            .import_post(&channel, "bob", "y1 after", Some(&r2), at(3, 0))
            .unwrap();
        let r3 = w
            .import_post(&channel, "bob", "r3 after", None, at(3, 1))
            .unwrap();
        Scene {
            channel,
            r1,
            x1,
            r2,
            y1,
            r3,
        }
    });
    env.run_ok(&[]);
    (env, s)
}

/// The posts of `channel` the rule keeps, from the world.
fn truth(
    w: &World,
    channel: &str,
    window: Option<(i64, i64)>,
    authors: Option<&BTreeSet<String>>,
) -> BTreeMap<String, Why> {
    let posts: Vec<String> = w.live_posts(channel);
    let all: BTreeSet<&String> = posts.iter().collect();
    let inside = |id: &str| {
        let t = w.post(id).unwrap().create_at;
        window.is_none_or(|(a, b)| t >= a && t < b)
    };
    let mut out = BTreeMap::new();
    for id in &posts {
        let p = w.post(id).unwrap();
        let by = authors.is_none_or(|a| a.contains(&p.user_id.to_string()));
        let root = (!p.root_id.is_none())
            .then(|| p.root_id.to_string())
            .filter(|r| all.contains(r));
        if by && (inside(id) || root.as_deref().is_some_and(inside)) {
            out.insert(id.clone(), Why::Selected);
        }
    }
    for id in out.clone().keys() {
        let p = w.post(id).unwrap();
        let root = p.root_id.to_string();
        if !p.root_id.is_none() && all.contains(&root) && !out.contains_key(&root) {
            out.insert(root, Why::Context);
        }
    }
    out
}

fn ok(env: &Env, args: &[&str]) -> String {
    let out = env.exec(args);
    assert_eq!(out.status.code(), Some(0), "{args:?}\n{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// RFC 4180 records, read independently of the exporter: quoted fields with doubled quotes,
/// CRLF between records.
fn parse_csv(s: &str) -> Vec<Vec<String>> {
    let (mut rows, mut row, mut f) = (Vec::new(), Vec::new(), String::new());
    let mut chars = s.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (quoted, c) {
            (true, '"') if chars.peek() == Some(&'"') => {
                chars.next();
                f.push('"');
            }
            (true, '"') => quoted = false,
            (true, c) => f.push(c),
            (false, '"') => quoted = true,
            (false, ',') => row.push(std::mem::take(&mut f)),
            (false, '\r') => assert_eq!(chars.next(), Some('\n'), "CR without LF"),
            (false, '\n') => panic!("a record ends with LF alone"),
            (false, c) => f.push(c),
        }
        if !quoted && c == '\r' {
            row.push(std::mem::take(&mut f));
            rows.push(std::mem::take(&mut row));
        }
    }
    assert!(
        f.is_empty() && row.is_empty(),
        "the last record is not ended"
    );
    rows
}

/// The ids in a csv export and the rows by id.
fn csv_rows(s: &str) -> (Vec<String>, BTreeMap<String, BTreeMap<String, String>>) {
    let rows = parse_csv(s);
    let header = rows[0].clone();
    let mut ids = Vec::new();
    let mut by_id = BTreeMap::new();
    for r in &rows[1..] {
        assert_eq!(r.len(), header.len(), "{r:?}");
        let m: BTreeMap<String, String> = header.iter().cloned().zip(r.iter().cloned()).collect();
        ids.push(m["id"].clone());
        by_id.insert(m["id"].clone(), m);
    }
    (ids, by_id)
}

#[test]
fn every_export_keeps_what_the_filter_selects_threads_whole_and_roots_marked() {
    let (env, s) = scene();
    let window = Some((D0 + DAY, D0 + 3 * DAY));
    let want = env
        .server
        .with_world(|w| truth(w, &s.channel, window, None));
    let name = env
        .server
        .with_world(|w| w.channel(&s.channel).unwrap().name.clone());
    let f = ["-c", &s.channel, "--after", AFTER, "--before", BEFORE];
    // The scene itself: x1 brings r1 along; r2's thread is kept whole; r3 is out.
    assert_eq!(want.get(&s.r1), Some(&Why::Context));
    for id in [&s.x1, &s.r2, &s.y1] {
        assert_eq!(want.get(id), Some(&Why::Selected), "{id}");
    }
    assert!(!want.contains_key(&s.r3));
    let context: BTreeSet<&String> = (want.iter())
        .filter(|(_, w)| **w == Why::Context)
        .map(|(i, _)| i)
        .collect();

    // csv: the ids.
    let csv = ok(&env, &[&["export", "csv"][..], &f].concat());
    let (ids, _) = csv_rows(&csv);
    let got: BTreeSet<&String> = ids.iter().collect();
    assert_eq!(ids.len(), got.len(), "a post twice");
    assert_eq!(got, want.keys().collect());

    // md and txt: as many posts, the roots outside the filter marked, the filter named.
    let md = ok(&env, &[&["export", "md"][..], &f].concat());
    assert_eq!(md.matches(" *(outside the filter)*").count(), context.len());
    // The channel is the heading; the filter of its posts is named under it.
    assert!(md.contains(&format!("*Filtered: after {AFTER}; before {BEFORE}*")));
    let posts_in_md = (md.lines())
        .filter(|l| l.starts_with("### ") && l.contains(" at 20"))
        .count();
    assert_eq!(posts_in_md, want.len(), "{md}");
    let txt = ok(&env, &[&["export", "txt"][..], &f].concat());
    assert_eq!(txt.matches(" (outside the filter)").count(), context.len());
    assert!(txt.contains("r1 before (outside the filter)"), "{txt}");
    assert!(
        txt.lines()
            .any(|l| l.starts_with("    [") && l.ends_with("] bob: x1 in")),
        "{txt}"
    );

    // hgf: the ids, and which filter.
    ok(&env, &[&["export", "hgf", "-o", "c.zip"][..], &f].concat());
    let mut zip = zip::ZipArchive::new(std::fs::File::open(env.path("c.zip")).unwrap()).unwrap();
    let posts: Value = serde_json::from_reader(zip.by_name("posts.json").unwrap()).unwrap();
    let got: BTreeSet<String> = (posts.as_array().unwrap().iter())
        .map(|p| p["id"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(got, want.keys().cloned().collect());
    let filter: Value = serde_json::from_reader(zip.by_name("filter.json").unwrap()).unwrap();
    assert_eq!(filter["outside_the_filter"], serde_json::json!(context));

    // html: one channel page with the kept posts; the index names the filter.
    ok(&env, &[&["export", "html", "-o", "site"][..], &f].concat());
    let index = std::fs::read_to_string(env.path("site/index.html")).unwrap();
    assert!(
        index.contains(&format!("Filtered: channel {}", s.channel)),
        "{index}"
    );
    let page = std::fs::read_to_string(env.path(&format!("site/c/{}/1.html", s.channel))).unwrap();
    assert_eq!(
        page.matches("<article ").count() + page.matches("class=\"post system\"").count(),
        want.len()
    );
    assert_eq!(page.matches("outside the filter").count(), context.len());
    let pages = std::fs::read_dir(env.path("site/c")).unwrap().count();
    assert_eq!(pages, 1);

    // The channel by its name as `matterbak list` prints it gives the same.
    let by_name = ok(
        &env,
        &[
            "export", "csv", "-c", &name, "--after", AFTER, "--before", BEFORE,
        ],
    );
    if csv_rows(&by_name).0.len() == ids.len() {
        assert_eq!(by_name, csv);
    }
}

#[test]
fn from_keeps_the_users_posts_and_brings_their_roots() {
    let (env, s) = scene();
    let bob = env.server.with_world(|w| user_id(w, "bob"));
    let authors = BTreeSet::from([bob]);
    let want = env
        .server
        .with_world(|w| truth(w, &s.channel, None, Some(&authors)));
    assert_eq!(want.get(&s.r1), Some(&Why::Context));
    assert_eq!(want.get(&s.x1), Some(&Why::Selected));
    let csv = ok(&env, &["export", "csv", "-c", &s.channel, "--from", "bob"]);
    let (ids, rows) = csv_rows(&csv);
    assert_eq!(ids.iter().collect::<BTreeSet<_>>(), want.keys().collect());
    for (id, why) in &want {
        assert_eq!(rows[id]["username"] == "bob", *why == Why::Selected, "{id}");
    }
    // Every channel: bob's posts everywhere; channels without any are left out.
    let all = ok(
        &env,
        &["export", "csv", "--from", "bob", "--split", "-o", "split"],
    );
    assert!(all.is_empty());
    let mut n = 0;
    for f in std::fs::read_dir(env.path("split")).unwrap() {
        let s = std::fs::read_to_string(f.unwrap().path()).unwrap();
        let (ids, _) = csv_rows(&s);
        assert!(!ids.is_empty(), "a channel without posts of bob");
        n += ids.len();
    }
    let me = alice(&env);
    let everywhere: usize = env.server.with_world(|w| {
        (w.member_channels(&me).iter())
            .map(|c| truth(w, c, None, Some(&authors)).len())
            .sum()
    });
    assert_eq!(n, everywhere);
}

#[test]
fn unknown_channels_users_and_empty_windows_are_usage_errors_naming_what_there_is() {
    let (env, s) = scene();
    let name = env
        .server
        .with_world(|w| w.channel(&s.channel).unwrap().name.clone());
    for (args, needle) in [
        (
            vec!["export", "md", "-c", "no-such-channel"],
            "the channels are",
        ),
        (vec!["export", "csv", "-c", &name[..3]], &name[..]),
        (vec!["export", "txt", "--from", "nobody"], "bob"),
        (
            vec!["export", "jsonl", "data", "-c", "no-such-channel"],
            "no channel",
        ),
        (
            vec![
                "export",
                "html",
                "-o",
                "s",
                "--after",
                "2020-01-02",
                "--before",
                "2020-01-03",
            ],
            "--after 2020-01-01 --before 2020-01-03",
        ),
        (vec!["export", "csv", "--after", "2020-13-01"], "YYYY-MM-DD"),
    ] {
        let out = env.exec(&args);
        assert_eq!(out.status.code(), Some(2), "{args:?}\n{}", text(&out));
        assert!(text(&out).contains(needle), "{args:?}: {}", text(&out));
    }
    assert!(!env.path("s").exists());
}

#[test]
fn csv_has_a_row_per_post_with_its_fields() {
    let env = Env::new(Scale::Tiny);
    let me = alice(&env);
    let (channel, post) = env.server.with_world(|w| {
        let channel = (w.member_channels(&me).into_iter())
            .filter(|c| w.channel(c).unwrap().channel_type == 'O')
            .max_by_key(|c| w.channel(c).unwrap().live.len())
            .unwrap();
        let p = w
            .add_post(
                &channel,
                "bob",
                "quote \" comma , and\nnewline",
                None,
                vec![("a,b.txt".into(), "text/plain".into(), 1234)],
            )
            .unwrap();
        w.add_reaction(&p, "alice", "smile").unwrap();
        w.add_reaction(&p, "bob", "smile").unwrap();
        w.add_reaction(&p, "alice", "tada").unwrap();
        (channel, p)
    });
    env.run_ok(&[]);
    ok(&env, &["export", "csv", "-o", "all.csv"]);
    let csv = std::fs::read_to_string(env.path("all.csv")).unwrap();
    assert!(csv.starts_with(
        "id,time,team,channel,username,display_name,message,root_id,is_reply,files,reactions,edited,deleted\r\n"
    ));
    let (ids, rows) = csv_rows(&csv);
    env.server.with_world(|w| {
        let every: usize = (w.member_channels(&me).iter())
            .map(|c| w.live_posts(c).len())
            .sum();
        assert_eq!(ids.len(), every);
        for id in w.live_posts(&channel) {
            let p = w.post(&id).unwrap();
            let r = &rows[&id];
            let t = chrono::DateTime::parse_from_rfc3339(&r["time"]).unwrap();
            assert_eq!(t.timestamp_millis(), p.create_at);
            assert_eq!(
                r["username"],
                w.user(&p.user_id.to_string()).unwrap().username
            );
            assert_eq!(r["message"], p.message);
            assert_eq!(r["channel"], w.channel(&channel).unwrap().name);
            let team = w
                .team(&w.channel(&channel).unwrap().team_id.to_string())
                .unwrap();
            assert_eq!(r["team"], team.name);
            let root = if p.root_id.is_none() {
                String::new()
            } else {
                p.root_id.to_string()
            };
            assert_eq!(r["root_id"], root);
            assert_eq!(r["is_reply"], (!root.is_empty()).to_string());
            assert_eq!(r["deleted"], "false");
        }
    });
    let r = &rows[&post];
    assert_eq!(r["message"], "quote \" comma , and\nnewline");
    assert_eq!(r["files"], "a,b.txt");
    assert_eq!(r["reactions"], "smile:2 tada:1");
    assert_eq!(r["edited"], "false");

    // --split: one file per channel, each with its header, together the same rows.
    ok(&env, &["export", "csv", "--split", "-o", "split"]);
    let mut n = 0;
    for f in std::fs::read_dir(env.path("split")).unwrap() {
        let f = f.unwrap().path();
        assert_eq!(f.extension().unwrap(), "csv");
        let (ids, split_rows) = csv_rows(&std::fs::read_to_string(&f).unwrap());
        for id in &ids {
            assert_eq!(split_rows[id], rows[id]);
        }
        n += ids.len();
    }
    assert_eq!(n, ids.len());
}

#[test]
fn txt_is_a_transcript_with_days_times_replies_and_files() {
    let env = Env::new(Scale::Tiny);
    let me = alice(&env);
    let (channel, root) = env.server.with_world(|w| {
        let channel = (w.member_channels(&me).into_iter())
            .filter(|c| w.channel(c).unwrap().channel_type == 'O')
            .max_by_key(|c| w.channel(c).unwrap().live.len())
            .unwrap();
        let root = w
            .add_post(
                &channel,
                "bob",
                "the root\nsecond line",
                None,
                vec![("report.txt".into(), "text/plain".into(), 1234)],
            )
            .unwrap();
        w.add_post(&channel, "alice", "the reply", Some(&root), vec![])
            .unwrap();
        (channel, root)
    });
    env.run_ok(&[]);
    let txt = ok(&env, &["export", "txt", "-c", &channel]);
    let (name, title, time) = env.server.with_world(|w| {
        let c = w.channel(&channel).unwrap();
        let team = w.team(&c.team_id.to_string()).unwrap().name.clone();
        let t = chrono::DateTime::from_timestamp_millis(w.post(&root).unwrap().create_at).unwrap();
        (
            format!("{team}/{}", c.name),
            c.display_name.clone(),
            t.format("%H:%M").to_string(),
        )
    });
    let lines: Vec<&str> = txt.lines().collect();
    assert_eq!(lines[0], format!("== {title} ({name}) =="));
    let i = lines
        .iter()
        .position(|l| *l == format!("[{time}] bob: the root"))
        .expect(&txt);
    assert_eq!(lines[i + 1], "    second line");
    assert_eq!(lines[i + 2], "    [file: report.txt (1.2 KiB)]");
    assert!(
        lines[i + 3].starts_with("    [") && lines[i + 3].ends_with("] alice: the reply"),
        "{txt}"
    );
    assert!(lines
        .iter()
        .any(|l| l.starts_with("--- ") && l.ends_with(" ---")));
    let posts = env.server.with_world(|w| w.live_posts(&channel).len());
    let post_lines = lines
        .iter()
        .filter(|l| l.trim_start().starts_with('[') && !l.trim_start().starts_with("[file: "))
        .count();
    assert_eq!(post_lines, posts, "{txt}");
}
