//! `matterbak search` on backups made by the binary: random words against the server's ground
//! truth, every operator of the query syntax, `--history`, `--json` and a zip source.

use std::collections::BTreeSet;
use std::path::Path;

use fakemm::{Scale, World};
use rand::seq::IndexedRandom;
use serde_json::Value;

use crate::util::{alice, text, user_id, Env};

/// `matterbak search ARGS` on the env's data dir: the hits of `--json` (exit 0 asserted).
fn hits(env: &Env, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["search", "-d", "data", "--json"];
    all.extend_from_slice(args);
    let out = env.exec(&all);
    assert_eq!(out.status.code(), Some(0), "{all:?}\n{}", text(&out));
    (String::from_utf8(out.stdout).unwrap().lines())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn ids(hits: &[Value]) -> BTreeSet<String> {
    (hits.iter())
        .map(|h| h["post_id"].as_str().unwrap().to_string())
        .collect()
}

fn set(ids: &[&String]) -> BTreeSet<String> {
    ids.iter().map(|s| s.to_string()).collect()
}

/// The ids of the channels whose folders are in the data dir.
fn backed_up_channels(data: &Path) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    let mut dirs = vec![data.join("direct"), data.join("groups")];
    for t in std::fs::read_dir(data.join("teams")).unwrap() {
        let t = t.unwrap().path();
        if t.is_dir() {
            dirs.push(t);
        }
    }
    for d in dirs {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries {
            let e = e.unwrap();
            if e.path().is_dir() {
                let name = e.file_name().to_string_lossy().into_owned();
                out.insert(name.split("__").next().unwrap().to_string());
            }
        }
    }
    out
}

/// The words of a message as the test reads them: runs of ASCII letters and digits, lowercased.
fn plain_words(message: &str) -> BTreeSet<String> {
    (message.split(|c: char| !(c.is_alphanumeric() || c == '_')))
        .filter(|w| !w.is_empty())
        .map(str::to_lowercase)
        .collect()
}

/// Every live post (not a system message) of the backed-up channels whose message has `word`.
fn truth(w: &World, channels: &BTreeSet<String>, word: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for c in channels {
        for p in w.live_posts(c) {
            let post = w.post(&p).unwrap();
            if !post.post_type.starts_with("system_") && plain_words(&post.message).contains(word) {
                out.insert(p);
            }
        }
    }
    out
}

#[test]
fn random_words_find_every_live_post_that_has_them_and_nothing_else() {
    let env = Env::new(Scale::Tiny);
    env.run_ok(&["--no-zip"]);
    let channels = backed_up_channels(&env.data());
    assert!(channels.len() > 3, "{channels:?}");
    let words: Vec<String> = env.server.with_world(|w| {
        let mut all: Vec<String> = Vec::new();
        for c in &channels {
            for p in w.live_posts(c) {
                let p = w.post(&p).unwrap();
                if !p.post_type.starts_with("system_") {
                    all.extend(plain_words(&p.message).into_iter().filter(|w| w.is_ascii()));
                }
            }
        }
        all.sort();
        all.dedup();
        let mut rng = rand::rng();
        (0..8)
            .map(|_| all.choose(&mut rng).unwrap().clone())
            .collect()
    });
    for word in &words {
        let want = env.server.with_world(|w| truth(w, &channels, word));
        assert!(!want.is_empty(), "{word}");
        // Upper case: the search ignores case.
        let got = ids(&hits(&env, &[&word.to_uppercase()]));
        assert_eq!(got, want, "the word {word:?} (words picked: {words:?})");
    }
}

/// What a scene put on the server.
struct Scene {
    env: Env,
    channel: String,
    team: String,
    channel_name: String,
    root: String,
    reply: String,
    edited: String,
    deleted: String,
    pinned: String,
    direct: String,
}

/// A Tiny backup with, in alice's busiest open channel: a root with an attachment, a reply
/// with a hashtag, a post edited and one deleted after a first backup, a pinned post; and a
/// direct message from bob. All hold the made-up word "zorblax".
fn scene() -> Scene {
    let env = Env::new(Scale::Tiny);
    let me = alice(&env);
    let (channel, team, channel_name, dm) = env.server.with_world(|w| {
        let mine = w.member_channels(&me);
        let c = (mine.iter())
            .filter(|c| w.channel(c).unwrap().channel_type == 'O')
            .max_by_key(|c| w.channel(c).unwrap().live.len())
            .unwrap()
            .clone();
        let ch = w.channel(&c).unwrap();
        let team = w.team(&ch.team_id.to_string()).unwrap().name.clone();
        let bob = user_id(w, "bob");
        let dm = (mine.iter())
            .find(|d| {
                let d = w.channel(d).unwrap();
                d.channel_type == 'D' && d.members.keys().any(|m| m.to_string() == bob)
            })
            .unwrap()
            .clone();
        (c, team, ch.name.clone(), dm)
    });
    let (edited, deleted) = env.server.with_world(|w| {
        let bob = user_id(w, "bob");
        let carol = user_id(w, "carol");
        let e = (w.add_post(&channel, &bob, "the zorblax numbers are late", None, vec![])).unwrap();
        let d = (w.add_post(&channel, &carol, "zorblax secret to delete", None, vec![])).unwrap();
        (e, d)
    });
    env.run_ok(&["--no-zip"]);
    let (root, reply, pinned, direct) = env.server.with_world(|w| {
        let bob = user_id(w, "bob");
        let carol = user_id(w, "carol");
        let root = w
            .add_post(
                &channel,
                &bob,
                "Zorblax quarterly Crème Brûlée report",
                None,
                vec![("plan.pdf".into(), "application/pdf".into(), 1000)],
            )
            .unwrap();
        let reply = w
            .add_post(
                &channel,
                &carol,
                "zorblaxian idea for #launchday",
                Some(&root),
                vec![],
            )
            .unwrap();
        let pinned = (w.add_post(&channel, &bob, "pin this zorblax note", None, vec![])).unwrap();
        w.set_pinned(&pinned, true).unwrap();
        let direct = (w.add_post(&dm, &bob, "zorblax in private", None, vec![])).unwrap();
        w.edit_post(&edited, "the zorblax figures are final")
            .unwrap();
        w.delete_post(&deleted).unwrap();
        (root, reply, pinned, direct)
    });
    env.run_ok(&[]);
    Scene {
        env,
        channel,
        team,
        channel_name,
        root,
        reply,
        edited,
        deleted,
        pinned,
        direct,
    }
}

#[test]
fn every_operator_of_the_query_syntax() {
    let s = scene();
    let env = &s.env;
    let q = |args: &[&str]| ids(&hits(env, args));
    let live = set(&[&s.root, &s.edited, &s.pinned, &s.direct]);
    // Whole words only; the deleted post is not searched.
    assert_eq!(q(&["zorblax"]), live);
    // A prefix.
    let mut with_reply = live.clone();
    with_reply.insert(s.reply.clone());
    assert_eq!(q(&["zorbla*"]), with_reply);
    assert_eq!(q(&["zorblaxi*"]), set(&[&s.reply]));
    // All words must match; case and accents do not count.
    assert_eq!(q(&["ZORBLAX", "creme", "brulee"]), set(&[&s.root]));
    assert_eq!(q(&["zorblax", "nowhere"]), set(&[]));
    // A phrase: the words in a row.
    assert_eq!(q(&["\"quarterly creme brulee\""]), set(&[&s.root]));
    assert_eq!(q(&["\"brulee creme\""]), set(&[]));
    // Excluded words.
    assert_eq!(
        q(&["zorblax", "-figures", "-\"this zorblax\""]),
        set(&[&s.root, &s.direct])
    );
    // Hashtags.
    assert_eq!(q(&["#launchday"]), set(&[&s.reply]));
    assert_eq!(q(&["#quarterly"]), set(&[]));
    // from:, in: (name, team/name, a direct channel by the other member's username).
    assert_eq!(q(&["from:carol", "zorbla*"]), set(&[&s.reply]));
    assert_eq!(q(&["-from:bob", "zorbla*"]), set(&[&s.reply]));
    let chan = set(&[&s.root, &s.edited, &s.pinned]);
    assert_eq!(q(&[&format!("in:{}", s.channel_name), "zorblax"]), chan);
    let team_chan = format!("in:{}/{}", s.team, s.channel_name);
    assert_eq!(q(&[&team_chan, "zorblax"]), chan);
    assert_eq!(q(&["in:bob", "zorblax"]), set(&[&s.direct]));
    assert_eq!(q(&["-in:bob", "zorblax"]), chan);
    // has:file, is:pinned.
    assert_eq!(q(&["has:file", "zorblax"]), set(&[&s.root]));
    assert_eq!(q(&["is:pinned", "zorblax"]), set(&[&s.pinned]));
    assert_eq!(
        q(&["-is:pinned", "-has:file", "zorblax"]),
        set(&[&s.edited, &s.direct])
    );
    // Dates (the tests run in UTC): the day of the root post.
    let at = env
        .server
        .with_world(|w| w.post(&s.root).unwrap().create_at);
    let day = chrono::DateTime::from_timestamp_millis(at)
        .unwrap()
        .date_naive();
    let d = |d: chrono::NaiveDate| d.format("%Y-%m-%d").to_string();
    let (before, after) = (day.pred_opt().unwrap(), day.succ_opt().unwrap());
    assert!(q(&[&format!("on:{}", d(day)), "zorblax"]).contains(&s.root));
    assert!(q(&[&format!("after:{}", d(before)), "zorblax"]).contains(&s.root));
    assert_eq!(q(&[&format!("on:{}", d(after)), "zorblax"]), set(&[]));
    assert_eq!(q(&[&format!("after:{}", d(day)), "zorblax"]), set(&[]));
    assert_eq!(q(&[&format!("before:{}", d(day)), "zorblax"]), set(&[]));
    assert!(q(&[&format!("before:{}", d(after)), "zorblax"]).contains(&s.root));
}

#[test]
fn history_searches_deleted_posts_and_earlier_versions_and_marks_them() {
    let s = scene();
    let env = &s.env;
    assert!(ids(&hits(env, &["numbers", "zorblax"])).is_empty());
    let h = hits(env, &["--history", "numbers", "zorblax"]);
    assert_eq!(ids(&h), set(&[&s.edited]));
    assert_eq!(h[0]["history"], "earlier version");
    assert_eq!(h[0]["message"], "the zorblax numbers are late");
    let h = hits(env, &["--history", "secret"]);
    assert_eq!(ids(&h), set(&[&s.deleted]));
    assert_eq!(h[0]["history"], "deleted");
    // The current version of the edited post is not marked.
    let h = hits(env, &["--history", "figures", "zorblax"]);
    assert_eq!((h.len(), &h[0]["history"]), (1, &Value::Null));
    // A post a full read no longer found on the server (`deleted_seen_at`) is gone too.
    let (path, _) = (crate::util::tree(&env.data()).into_iter())
        .find(|(p, _)| p.ends_with(&format!("__{}.json", s.pinned)))
        .unwrap();
    let dir = env
        .data()
        .join(path.rsplit_once('/').unwrap().0)
        .join("history");
    std::fs::create_dir_all(&dir).unwrap();
    let record = format!(
        r#"{{"post_id":"{}","versions":[],"deleted_seen_at":1}}"#,
        s.pinned
    );
    std::fs::write(dir.join(format!("{}.json", s.pinned)), record).unwrap();
    assert!(ids(&hits(env, &["pin", "zorblax"])).is_empty());
    let h = hits(env, &["--history", "pin", "zorblax"]);
    assert_eq!(
        (ids(&h), &h[0]["history"]),
        (set(&[&s.pinned]), &Value::from("deleted"))
    );
}

#[test]
fn json_hits_carry_the_fields_and_the_page_of_the_html_export() {
    let s = scene();
    let env = &s.env;
    let h = hits(env, &["zorbla*", &format!("in:{}", s.channel_name)]);
    // Newest first.
    let times: Vec<i64> = h.iter().map(|h| h["create_at"].as_i64().unwrap()).collect();
    assert!(times.windows(2).all(|w| w[0] >= w[1]), "{times:?}");
    let reply = h.iter().find(|h| h["post_id"] == s.reply.as_str()).unwrap();
    let root = h.iter().find(|h| h["post_id"] == s.root.as_str()).unwrap();
    let (at, root_at) = env.server.with_world(|w| {
        (
            w.post(&s.reply).unwrap().create_at,
            w.post(&s.root).unwrap().create_at,
        )
    });
    assert_eq!(reply["channel_id"], s.channel.as_str());
    assert_eq!(reply["channel"], s.channel_name.as_str());
    assert_eq!(reply["team"], s.team.as_str());
    assert_eq!(reply["author"], "carol");
    assert_eq!(reply["create_at"], at);
    assert_eq!(reply["message"], "zorblaxian idea for #launchday");
    assert_eq!(reply["root_id"], s.root.as_str());
    assert_eq!(reply["files"], serde_json::json!([]));
    assert_eq!(root["create_at"], root_at);
    assert_eq!(root["root_id"], "");
    assert_eq!(root["files"], serde_json::json!(["plan.pdf"]));
    let d = hits(env, &["in:bob", "zorblax"]);
    assert_eq!(
        (d[0]["channel"].as_str(), &d[0]["team"]),
        (Some("bob"), &Value::Null)
    );
    // The page: in an HTML export of the same backup, that page holds the post's anchor.
    let out = env.exec(&[
        "export",
        "html",
        "-d",
        "data",
        "-o",
        "site",
        "--page-size",
        "500",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    for hit in [reply, root, &d[0]] {
        let page = hit["html_page"].as_str().unwrap();
        let (file, anchor) = page.split_once('#').unwrap();
        assert!(
            file.starts_with(&format!("c/{}/", hit["channel_id"].as_str().unwrap())),
            "{page}"
        );
        let html = std::fs::read_to_string(env.path("site").join(file)).unwrap();
        assert!(html.contains(&format!("id=\"{anchor}\"")), "{page}");
    }
}

#[test]
fn text_hits_show_time_channel_author_snippet_and_thread_without_colour_when_piped() {
    let s = scene();
    let out = s.env.exec(&["search", "-d", "data", "zorblaxian"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let at = s
        .env
        .server
        .with_world(|w| w.post(&s.reply).unwrap().create_at);
    let time = chrono::DateTime::from_timestamp_millis(at).unwrap();
    let want = format!(
        "{}  {}/{}  carol  zorblaxian idea for #launchday\n    in the thread of bob: Zorblax quarterly Crème Brûlée report\n",
        time.format("%Y-%m-%d %H:%M:%S"),
        s.team,
        s.channel_name
    );
    assert_eq!(stdout, want);
    assert!(!stdout.contains('\x1b'));
    assert!(String::from_utf8_lossy(&out.stderr).contains("1 post found"));
}

#[test]
fn an_unknown_key_or_channel_is_a_usage_error_naming_it() {
    let s = scene();
    for (args, named) in [
        (vec!["zorblax", "foo:bar"], "foo:"),
        (vec!["before:soon"], "before:soon"),
        (vec!["in:no-such-channel", "x"], "no-such-channel"),
        (vec!["from:nobody", "x"], "nobody"),
        (vec!["zorblax", "--frob"], "--frob"),
    ] {
        let mut all = vec!["search", "-d", "data"];
        all.extend(args.iter());
        let out = s.env.exec(&all);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        assert!(text(&out).contains(named), "{args:?}: {}", text(&out));
        assert!(out.stdout.is_empty());
    }
}

#[test]
fn a_zip_finds_what_the_data_dir_finds() {
    let s = scene();
    let env = &s.env;
    let from_dir = hits(env, &["--history", "zorbla*"]);
    let out = env.exec(&["search", "-d", "out.zip", "--json", "--history", "zorbla*"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let from_zip: Vec<Value> = (String::from_utf8(out.stdout).unwrap().lines())
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(from_zip, from_dir);
    assert_eq!(from_dir.len(), 7, "{from_dir:?}");
    // --limit keeps the newest.
    let two = hits(env, &["--history", "--limit", "2", "zorbla*"]);
    assert_eq!(two[..], from_dir[..2]);
    // Options may follow the query, which may start with -word.
    let after = hits(env, &["-nowhere", "zorbla*", "--limit=2", "--history"]);
    assert_eq!(after, two);
}

/// On Demo, whose busiest channels span several pages of the HTML export: every hit's page
/// holds its anchor, and some hits are past the first page.
#[test]
fn every_hit_is_on_the_html_page_it_names() {
    let env = Env::new(Scale::Demo);
    env.run_ok(&["--no-zip"]);
    let h = hits(&env, &["deploy"]);
    let out = env.exec(&["export", "html", "-d", "data", "-o", "site"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let mut later = 0;
    for hit in &h {
        let page = hit["html_page"].as_str().unwrap();
        let (file, anchor) = page.split_once('#').unwrap();
        later += usize::from(!file.ends_with("/1.html"));
        let html = std::fs::read_to_string(env.path("site").join(file)).unwrap();
        assert!(html.contains(&format!("id=\"{anchor}\"")), "{page}");
    }
    assert!(later > 0 && h.len() > later, "{later} of {}", h.len());
}

/// On a terminal the matched words are highlighted; with `NO_COLOR` set they are not.
#[test]
fn a_terminal_gets_the_match_highlighted_unless_no_color() {
    let s = scene();
    if crate::util::require_tool(&["script"], "util-linux").is_none() {
        return;
    }
    let run = |no_color: bool| {
        let cmd = format!(
            "{} search -d data quarterly",
            env!("CARGO_BIN_EXE_matterbak")
        );
        let mut c = std::process::Command::new("script");
        c.current_dir(s.env.tmp.path())
            .env("TZ", "UTC")
            .env_remove("RUST_LOG")
            .env_remove("NO_COLOR")
            .args(["-qec", &cmd, "/dev/null"]);
        if no_color {
            c.env("NO_COLOR", "1");
        }
        let out = c.output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let tty = run(false);
    assert!(tty.contains("\x1b[1;31mquarterly\x1b[0m"), "{tty:?}");
    let plain = run(true);
    assert!(
        plain.contains("Zorblax quarterly Crème") && !plain.contains('\x1b'),
        "{plain:?}"
    );
}
