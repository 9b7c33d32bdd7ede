//! `matterbak export jsonl`: the bulk-import JSONL of backups made by the binary against the
//! fake server, checked line by line against the importer's rules and against the world.
//!
//! The importer's rules live in [`validator`], written from the Mattermost server's import code,
//! not from the exporter's code.

mod validator;

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use fakemm::{Scale, World};
use serde_json::Value;

use crate::util::{channel_id, read_json, text, tree, user_id, user_posts, Env};
use validator::{assert_valid, assert_valid_on, mmctl_long_direct_messages, Target};

/// `matterbak export jsonl ARGS` in the env's temp dir.
fn export(env: &Env, args: &[&str]) -> Output {
    env.bare()
        .args(["export", "jsonl"])
        .args(args)
        .output()
        .unwrap()
}

fn export_ok(env: &Env, args: &[&str]) -> Output {
    let out = export(env, args);
    assert_eq!(out.status.code(), Some(0), "export failed:\n{}", text(&out));
    out
}

/// The lines of a JSONL file: every line ends with a newline and is one JSON object.
fn read_lines(path: &Path) -> Vec<Value> {
    let bytes = std::fs::read(path).unwrap();
    let s = String::from_utf8(bytes).expect("UTF-8");
    assert!(
        s.ends_with('\n'),
        "{} does not end with a newline",
        path.display()
    );
    s.lines()
        .enumerate()
        .map(|(i, l)| {
            let v: Value = serde_json::from_str(l)
                .unwrap_or_else(|e| panic!("line {}: not JSON ({e}): {l}", i + 1));
            assert!(v.is_object(), "line {} is not an object", i + 1);
            v
        })
        .collect()
}

// ---------------------------------------------------------------------------------------------
// What the world says the JSONL must hold.

/// A post as the JSONL identifies it: channel (`team/name` or the members of a direct
/// channel), the author and time and message of its thread's first post (for a reply), its
/// author, time and message.
type Key = (String, Option<(String, i64, String)>, String, i64, String);

struct Wanted {
    posts: Vec<Key>,
    reactions: BTreeMap<Key, BTreeSet<(String, String)>>,
    /// Attachments (name, size) per post.
    files: BTreeMap<Key, BTreeSet<(String, u64)>>,
}

fn uname(w: &World, id: &str) -> String {
    w.user(id).map(|u| u.username.clone()).unwrap()
}

fn channel_key(w: &World, cid: &str) -> String {
    let c = w.channel(cid).unwrap();
    match c.channel_type {
        'O' | 'P' => format!("{}/{}", w.team(c.team_id.as_str()).unwrap().name, c.name),
        _ => {
            let mut m: Vec<String> = c.members.keys().map(|u| uname(w, u.as_str())).collect();
            if m.len() == 1 {
                m.push(m[0].clone());
            }
            m.sort();
            m.join(",")
        }
    }
}

/// The live posts of alice's channels (the sample selection backs up exactly those), without
/// system messages; replies whose first post is gone stand alone.
fn wanted(w: &World) -> Wanted {
    let alice = user_id(w, "alice");
    let mut out = Wanted {
        posts: Vec::new(),
        reactions: BTreeMap::new(),
        files: BTreeMap::new(),
    };
    for cid in w.member_channels(&alice) {
        let ck = channel_key(w, &cid);
        let live: HashSet<String> = w.live_posts(&cid).into_iter().collect();
        for pid in w.live_posts(&cid) {
            let p = w.post(&pid).unwrap();
            if p.post_type.starts_with("system_") {
                continue;
            }
            let root = p.root_id.as_str();
            let parent = if !root.is_empty() && live.contains(root) {
                let r = w.post(root).unwrap();
                Some((uname(w, r.user_id.as_str()), r.create_at, r.message.clone()))
            } else {
                None
            };
            let key: Key = (
                ck.clone(),
                parent,
                uname(w, p.user_id.as_str()),
                p.create_at,
                p.message.clone(),
            );
            let reactions = w
                .reactions
                .get(&p.id)
                .into_iter()
                .flatten()
                .map(|r| (uname(w, r.user_id.as_str()), r.emoji_name.clone()))
                .collect();
            out.reactions.insert(key.clone(), reactions);
            let files = p
                .file_ids
                .iter()
                .filter_map(|f| w.files.get(f))
                .filter(|f| f.delete_at == 0)
                .map(|f| (f.name.clone(), f.size))
                .collect();
            out.files.insert(key.clone(), files);
            out.posts.push(key);
        }
    }
    out.posts.sort();
    out
}

/// The same from the JSONL (attachment sizes read from `data`).
fn found(lines: &[Value], data: Option<&Path>) -> Wanted {
    let mut out = Wanted {
        posts: Vec::new(),
        reactions: BTreeMap::new(),
        files: BTreeMap::new(),
    };
    let mut add =
        |ck: &str, parent: Option<(String, i64, String)>, o: &Value| -> (String, i64, String) {
            let me = (
                o["user"].as_str().unwrap().to_string(),
                o["create_at"].as_i64().unwrap(),
                o["message"].as_str().unwrap().to_string(),
            );
            let key: Key = (ck.to_string(), parent, me.0.clone(), me.1, me.2.clone());
            let reactions = o["reactions"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|r| {
                    (
                        r["user"].as_str().unwrap().to_string(),
                        r["emoji_name"].as_str().unwrap().to_string(),
                    )
                })
                .collect();
            out.reactions.insert(key.clone(), reactions);
            let files = o["attachments"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|a| {
                    let p = a["path"].as_str().unwrap();
                    let size = data
                        .map(|d| std::fs::metadata(d.join(p)).unwrap().len())
                        .unwrap_or(0);
                    (p.rsplit('/').next().unwrap().to_string(), size)
                })
                .collect();
            out.files.insert(key.clone(), files);
            out.posts.push(key);
            me
        };
    for l in lines {
        let (ck, o) = match l["type"].as_str().unwrap() {
            "post" => {
                let o = &l["post"];
                (
                    format!(
                        "{}/{}",
                        o["team"].as_str().unwrap(),
                        o["channel"].as_str().unwrap()
                    ),
                    o,
                )
            }
            "direct_post" => {
                let o = &l["direct_post"];
                let m: Vec<&str> = o["channel_members"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|m| m.as_str().unwrap())
                    .collect();
                (m.join(","), o)
            }
            _ => continue,
        };
        let root = add(&ck, None, o);
        for r in o["replies"].as_array().into_iter().flatten() {
            add(&ck, Some(root.clone()), r);
        }
    }
    out.posts.sort();
    out
}

/// Every live post once, replies under their first post, with their reactions (and with
/// `data`, their attachments).
fn assert_complete(w: &World, lines: &[Value], data: Option<&Path>) {
    let want = wanted(w);
    let got = found(lines, data);
    let missing: Vec<&Key> = want
        .posts
        .iter()
        .filter(|k| !got.posts.contains(k))
        .collect();
    let extra: Vec<&Key> = got
        .posts
        .iter()
        .filter(|k| !want.posts.contains(k))
        .collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:#?}\nextra {extra:#?}"
    );
    assert_eq!(want.posts, got.posts, "a post appears more than once");
    assert_eq!(want.reactions, got.reactions);
    if data.is_some() {
        assert_eq!(want.files, got.files);
    }
}

fn count_type(lines: &[Value], kind: &str) -> usize {
    lines.iter().filter(|l| l["type"] == kind).count()
}

// ---------------------------------------------------------------------------------------------

#[test]
fn jsonl_of_the_demo_backup_is_valid_and_complete() {
    let env = Env::new(Scale::Demo);
    env.run_ok(&[]);
    // Deletions, edits, pins and reactions after the first backup: the second run records
    // them (deleted posts stay in the data dir, marked in history/).
    let deleted = env.server.with_world(|w| {
        let alice = user_id(w, "alice");
        let bob = user_id(w, "bob");
        let dm = w
            .channels
            .values()
            .find(|c| {
                c.channel_type == 'D'
                    && c.members.len() == 2
                    && c.members.keys().any(|u| u.as_str() == bob)
                    && c.members.keys().any(|u| u.as_str() == alice)
            })
            .unwrap()
            .id
            .to_string();
        let mut deleted = Vec::new();
        let town = channel_id(w, "acme", "town-square");
        let leadership = channel_id(w, "acme", "leadership");
        for c in [town, leadership, dm] {
            // A root with replies (its replies go with it), a single post, an edit, a pin,
            // a reaction, a new post.
            let root = user_posts(w, &c).into_iter().find(|p| {
                w.replies
                    .get(&w.post(p).unwrap().id)
                    .is_some_and(|r| !r.is_empty())
            });
            if let Some(root) = root {
                w.delete_post(&root).unwrap();
                deleted.push(root);
            }
            let live = user_posts(w, &c);
            let n = live.len();
            w.delete_post(&live[n - 3]).unwrap();
            deleted.push(live[n - 3].clone());
            w.edit_post(&live[n - 2], "edited for the import").unwrap();
            w.set_pinned(&live[n - 4], true).unwrap();
            w.add_reaction(&live[n - 5], &bob, "shipit").unwrap();
            w.add_post(
                &c,
                &alice,
                "a new post after the first backup",
                None,
                vec![],
            )
            .unwrap();
        }
        deleted
    });
    env.run_ok(&[]);
    let out = export_ok(&env, &["data", "-o", "import/matter.jsonl", "-a"]);
    let lines = read_lines(&env.path("import/matter.jsonl"));
    let data = env.path("import/data");
    assert_valid(&lines, Some(&data));
    env.server.with_world(|w| {
        assert_complete(w, &lines, Some(&data));
        for d in &deleted {
            let msg = &w.post(d).unwrap().message;
            assert!(
                !lines
                    .iter()
                    .any(|l| l.to_string().contains(&serde_json::to_string(msg).unwrap())),
                "deleted post {msg:?} exported"
            );
        }
        // Teams, channels, users, direct channels, emojis as the server has them.
        let alice = user_id(w, "alice");
        let channels = w.member_channels(&alice);
        let team_channels = channels
            .iter()
            .filter(|c| matches!(w.channel(c).unwrap().channel_type, 'O' | 'P'))
            .count();
        assert_eq!(count_type(&lines, "team"), 3);
        assert_eq!(count_type(&lines, "channel"), team_channels);
        assert_eq!(
            count_type(&lines, "direct_channel"),
            channels.len() - team_channels
        );
        let emojis: BTreeSet<String> = w
            .emojis
            .values()
            .filter(|e| e.delete_at == 0)
            .map(|e| e.name.clone())
            .collect();
        let got: BTreeSet<String> = lines
            .iter()
            .filter(|l| l["type"] == "emoji")
            .map(|l| l["emoji"]["name"].as_str().unwrap().to_string())
            .collect();
        assert_eq!(got, emojis);
        // Every user the world has for these channels, with the server's email and a
        // deactivated user kept deactivated.
        for l in lines.iter().filter(|l| l["type"] == "user") {
            let u = &l["user"];
            let wu = w.user_by_name(u["username"].as_str().unwrap()).unwrap();
            assert_eq!(u["email"], wu.email.as_str());
            assert_eq!(u["delete_at"].as_i64().unwrap_or(0), wu.delete_at);
        }
        // Pinned and edited posts keep those marks.
        let off = w.channel_by_names("acme", "off-topic").unwrap();
        let pinned: Vec<String> = w
            .live_posts(&off.id.to_string())
            .into_iter()
            .filter(|p| w.post(p).unwrap().is_pinned && w.post(p).unwrap().root_id.is_none())
            .map(|p| w.post(&p).unwrap().message.clone())
            .collect();
        assert!(!pinned.is_empty());
        for m in pinned {
            let l = lines
                .iter()
                .find(|l| l["post"]["message"] == m.as_str())
                .unwrap();
            assert_eq!(l["post"]["is_pinned"], true, "{m}");
        }
        let edited = lines
            .iter()
            .find(|l| l["post"]["message"] == "Hello, world!")
            .unwrap();
        assert!(edited["post"]["edit_at"].as_i64().unwrap() > 0);
    });
    // Attachment names as uploaded (the importer names the file after the path's last part).
    let report = lines
        .iter()
        .find(|l| l["post"]["message"] == "Files for the report")
        .unwrap();
    let names: Vec<&str> = report["post"]["attachments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["path"].as_str().unwrap().rsplit('/').next().unwrap())
        .collect();
    assert!(
        names.contains(&"Q3 report – Übersicht (final) v2.pdf"),
        "{names:?}"
    );
    let stderr = String::from_utf8_lossy(&out.stderr);
    let last = stderr.lines().last().unwrap();
    let system = env.server.with_world(|w| {
        let alice = user_id(w, "alice");
        w.member_channels(&alice)
            .iter()
            .flat_map(|c| w.live_posts(c))
            .filter(|p| w.post(p).unwrap().post_type.starts_with("system_"))
            .count()
    });
    assert!(
        last.contains(&format!("left out {system} system messages")),
        "{stderr}"
    );
    assert!(
        last.contains("deleted posts") && !last.contains(" 0 deleted posts"),
        "{stderr}"
    );
    assert!(env.path("import/data").is_dir());
}

#[test]
fn jsonl_of_the_tiny_backup_matches_the_golden_file() {
    let env = Env::new(Scale::Tiny);
    env.run_ok(&[]);
    export_ok(&env, &["data", "-o", "import/matter.jsonl", "-a"]);
    let got = std::fs::read_to_string(env.path("import/matter.jsonl")).unwrap();
    // A change detector with a readable diff; its content is checked against the server's
    // truth and the importer's rules below. A change is reviewed by hand: the new output is
    // left beside the build for a diff, never written over the golden file by the test.
    let golden = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/expected/jsonl_tiny.jsonl");
    let want = std::fs::read_to_string(&golden).unwrap();
    if got != want {
        let new = Path::new(env!("CARGO_TARGET_TMPDIR")).join("jsonl_tiny.jsonl");
        std::fs::write(&new, &got).unwrap();
        let at = got
            .lines()
            .zip(want.lines())
            .position(|(a, b)| a != b)
            .unwrap_or(got.lines().count().min(want.lines().count()));
        panic!(
            "the JSONL differs from {} at line {} (the new output is {}: diff the two, and copy \
             it over the golden file only if every change is meant):\n got: {}\nwant: {}",
            golden.display(),
            new.display(),
            at + 1,
            got.lines().nth(at).unwrap_or("<end>"),
            want.lines().nth(at).unwrap_or("<end>")
        );
    }
    let lines = read_lines(&env.path("import/matter.jsonl"));
    assert_valid(&lines, Some(&env.path("import/data")));
    env.server
        .with_world(|w| assert_complete(w, &lines, Some(&env.path("import/data"))));
}

/// Copies a directory tree.
fn copy_tree(from: &Path, to: &Path) {
    for (rel, bytes) in tree(from) {
        let p = to.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, bytes).unwrap();
    }
}

#[test]
fn merging_an_old_and_a_new_backup_gives_each_thing_once() {
    let env = Env::new(Scale::Tiny);
    env.run_ok(&[]);
    copy_tree(&env.data(), &env.path("old"));
    std::fs::rename(env.zip(), env.path("old.zip")).unwrap();
    env.server.with_world(|w| {
        let c = channel_id(w, "acme", "town-square");
        let live = user_posts(w, &c);
        w.delete_post(&live[1]).unwrap();
        w.edit_post(&live[2], "changed after the old backup")
            .unwrap();
        w.add_post(&c, "carol", "only in the new backup", None, vec![])
            .unwrap();
    });
    env.run_ok(&[]);
    export_ok(&env, &["data", "-o", "new/matter.jsonl", "-a"]);
    let single = std::fs::read_to_string(env.path("new/matter.jsonl")).unwrap();
    for (dir, args) in [
        ("m1", vec!["old", "data"]),
        ("m2", vec!["data", "old"]),
        ("m3", vec!["old.zip", "data", "old"]),
        ("m4", vec!["data", "data"]),
    ] {
        let out = format!("{dir}/matter.jsonl");
        let mut a = args.clone();
        a.extend(["-o", &out, "-a"]);
        export_ok(&env, &a);
        let merged = std::fs::read_to_string(env.path(&out)).unwrap();
        let lines = read_lines(&env.path(&out));
        assert_valid(&lines, Some(&env.path(&format!("{dir}/data"))));
        env.server.with_world(|w| assert_complete(w, &lines, None));
        assert!(
            merged == single,
            "{args:?}: the merge differs from the new backup alone"
        );
        assert_eq!(
            tree(&env.path(&format!("{dir}/data"))),
            tree(&env.path("new/data"))
        );
    }
}

#[test]
fn the_zip_gives_the_same_export_as_the_data_dir() {
    let env = Env::new(Scale::Tiny);
    env.run_ok(&[]);
    export_ok(&env, &["data", "-o", "a/matter.jsonl", "-a"]);
    export_ok(&env, &["out.zip", "-o", "b/matter.jsonl", "-a"]);
    assert_eq!(
        std::fs::read(env.path("a/matter.jsonl")).unwrap(),
        std::fs::read(env.path("b/matter.jsonl")).unwrap()
    );
    let a = tree(&env.path("a/data"));
    assert!(
        a.keys().any(|k| k.starts_with("attachments/"))
            && a.keys().any(|k| k.starts_with("emojis/"))
    );
    assert_eq!(a, tree(&env.path("b/data")));
    // To standard output, without attachments: the same lines without the paths and emojis.
    let out = export_ok(&env, &["out.zip", "-o", "-"]);
    let lines: Vec<Value> = String::from_utf8(out.stdout)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_valid(&lines, None);
    assert!(!lines
        .iter()
        .any(|l| l.to_string().contains("\"attachments\"")));
    assert_eq!(count_type(&lines, "emoji"), 0);
    let with = read_lines(&env.path("a/matter.jsonl"));
    assert_eq!(
        count_type(&lines, "post") + count_type(&lines, "direct_post"),
        count_type(&with, "post") + count_type(&with, "direct_post")
    );
}

#[test]
fn users_without_email_or_record_get_placeholders() {
    let env = Env::new(Scale::Tiny);
    // The server hides these addresses (privacy settings).
    env.server.with_world(|w| {
        for u in w.users.values_mut() {
            if u.username == "bob" || u.username == "carol" {
                u.email.clear();
            }
        }
    });
    env.run_ok(&[]);
    // dave's record is missing from this backup (an author whose profile was never stored).
    let dave = env.server.with_world(|w| user_id(w, "dave"));
    let users = env.data().join("users");
    for e in std::fs::read_dir(&users).unwrap() {
        let p = e.unwrap().path();
        if p.file_name().unwrap().to_string_lossy().starts_with(&dave) {
            std::fs::remove_file(p).unwrap();
        }
    }
    let out = export_ok(&env, &["data", "-o", "x/matter.jsonl"]);
    let lines = read_lines(&env.path("x/matter.jsonl"));
    assert_valid(&lines, None);
    let user = |n: &str| {
        lines
            .iter()
            .find(|l| l["user"]["username"] == n)
            .unwrap_or_else(|| panic!("no user {n}"))["user"]
            .clone()
    };
    assert_eq!(user("bob")["email"], "bob@localhost.invalid");
    assert_eq!(user("carol")["email"], "carol@localhost.invalid");
    assert_eq!(user("alice")["email"], "alice@example.com");
    let placeholder = format!("unknown-{dave}");
    assert_eq!(
        user(&placeholder)["email"],
        format!("{placeholder}@localhost.invalid")
    );
    assert!(lines.iter().all(|l| l["user"]["username"] != "dave"));
    // dave's posts are all there, by the placeholder.
    env.server.with_world(|w| {
        let mut want = wanted(w);
        for k in want.posts.iter_mut() {
            if k.2 == "dave" {
                k.2 = placeholder.clone();
            }
        }
        want.posts.sort();
        let got = found(&lines, None);
        let by_placeholder = got.posts.iter().filter(|k| k.2 == placeholder).count();
        assert!(by_placeholder > 0);
        let strip = |v: &[Key]| {
            v.iter()
                .map(|k| (k.0.clone(), k.2.clone(), k.3, k.4.clone()))
                .collect::<Vec<_>>()
        };
        let mut a = strip(&want.posts);
        let mut b = strip(&got.posts);
        a.sort();
        b.sort();
        assert_eq!(a, b);
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("1 users the backup refers to but does not have"),
        "{stderr}"
    );
    assert!(
        stderr.contains("2 users without an email address"),
        "{stderr}"
    );
}

#[test]
fn the_export_never_writes_into_a_backup() {
    let env = Env::new(Scale::Tiny);
    env.run_ok(&[]);
    let before = tree(env.tmp.path());
    // The default -o matter.jsonl puts data/ onto the data dir itself.
    for args in [
        vec!["data", "-a"],
        vec!["data", "-o", "data/matter.jsonl"],
        vec!["data", "-o", "data/teams/x.jsonl"],
        vec!["out.zip", "-o", "out.zip"],
        vec!["data", "-a", "-o", "-"],
    ] {
        let out = export(&env, &args);
        assert_eq!(out.status.code(), Some(2), "{args:?}\n{}", text(&out));
        assert!(
            String::from_utf8_lossy(&out.stderr).contains("error:"),
            "{args:?}"
        );
        assert_eq!(tree(env.tmp.path()), before, "{args:?} changed files");
    }
    // Without -a the data dir's neighbour is fine.
    export_ok(&env, &["data"]);
    assert!(env.path("matter.jsonl").is_file());
    let out = export(&env, &["nothing-here"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn hostile_file_names_stay_inside_the_output_folder() {
    let env = Env::new(Scale::Tiny);
    env.run_ok(&[]);
    // Give every stored file info a name that tries to climb out.
    let mut changed = 0;
    let files: Vec<PathBuf> = tree(&env.data())
        .into_keys()
        .filter(|k| {
            let base = k.rsplit('/').next().unwrap();
            k.contains("/files/") && base.ends_with(".json") && !base.contains("__")
        })
        .map(|k| env.data().join(k))
        .collect();
    for f in files {
        let mut v: Value = read_json(&f);
        v["name"] = Value::from(format!("../../../../escaped-{changed}/../x.txt"));
        std::fs::write(&f, v.to_string()).unwrap();
        changed += 1;
    }
    assert!(changed > 0);
    let before: BTreeSet<String> = tree(env.tmp.path()).into_keys().collect();
    export_ok(&env, &["data", "-o", "deep/inside/matter.jsonl", "-a"]);
    let after: BTreeSet<String> = tree(env.tmp.path()).into_keys().collect();
    let new: Vec<&String> = after.difference(&before).collect();
    assert!(!new.is_empty());
    for n in &new {
        assert!(
            n.starts_with("deep/inside/"),
            "{n} written outside the output folder"
        );
    }
    let lines = read_lines(&env.path("deep/inside/matter.jsonl"));
    assert_valid(&lines, Some(&env.path("deep/inside/data")));
    let paths: Vec<String> = lines
        .iter()
        .flat_map(|l| {
            let o = l
                .get("post")
                .or(l.get("direct_post"))
                .cloned()
                .unwrap_or(Value::Null);
            let mut v: Vec<Value> = o["attachments"].as_array().cloned().unwrap_or_default();
            for r in o["replies"].as_array().into_iter().flatten() {
                v.extend(r["attachments"].as_array().cloned().unwrap_or_default());
            }
            v
        })
        .map(|a| a["path"].as_str().unwrap().to_string())
        .collect();
    assert!(!paths.is_empty());
    assert!(
        paths
            .iter()
            .all(|p| p.split('/').all(|c| c != ".." && c != ".")),
        "{paths:?}"
    );
}

#[test]
fn names_the_importer_refuses_are_repaired_everywhere() {
    let env = Env::new(Scale::Tiny);
    // Names an older server accepted that the importer refuses: a team name with a reserved
    // prefix, a channel name with capitals and spaces, a username with a space.
    env.server.with_world(|w| {
        let acme = w.team_by_name("acme").unwrap().id;
        w.teams.get_mut(&acme).unwrap().name = "helpdesk".into();
        let off = w.channel_by_names("helpdesk", "off-topic").unwrap().id;
        w.channels.get_mut(&off).unwrap().name = "Off Topic!".into();
        let bob = w.user_by_name("bob").unwrap().id;
        w.users.get_mut(&bob).unwrap().username = "Bob Smith".into();
    });
    env.write_channels(&env.server.with_world(|w| w.sample_channels_json()));
    env.run_ok(&[]);
    let out = export_ok(&env, &["data", "-o", "x/matter.jsonl"]);
    let lines = read_lines(&env.path("x/matter.jsonl"));
    assert_valid(&lines, None);
    let teams: Vec<&str> = lines
        .iter()
        .filter_map(|l| l["team"]["name"].as_str())
        .collect();
    assert_eq!(teams, ["t-helpdesk"]);
    assert!(lines
        .iter()
        .any(|l| l["channel"]["name"] == "off-topic-" && l["channel"]["team"] == "t-helpdesk"));
    assert!(lines.iter().any(|l| l["user"]["username"] == "bob-smith"));
    // Every post still arrives, under the repaired names.
    env.server.with_world(|w| {
        let fix = |k: &Key| -> Key {
            let chan = match k.0.split_once('/') {
                Some(("helpdesk", "Off Topic!")) => "t-helpdesk/off-topic-".to_string(),
                Some(("helpdesk", c)) => format!("t-helpdesk/{c}"),
                _ => k.0.replace("Bob Smith", "bob-smith"),
            };
            let who = |u: &str| u.replace("Bob Smith", "bob-smith");
            let parent = k.1.as_ref().map(|(u, t, m)| (who(u), *t, m.clone()));
            (chan, parent, who(&k.2), k.3, k.4.clone())
        };
        let mut want: Vec<Key> = wanted(w).posts.iter().map(fix).collect();
        want.sort();
        // The GM's key lists bob under his old name sorted among the others.
        let norm = |v: Vec<Key>| -> Vec<Key> {
            let mut v: Vec<Key> = v
                .into_iter()
                .map(|mut k| {
                    let mut m: Vec<&str> = k.0.split(',').collect();
                    m.sort();
                    k.0 = m.join(",");
                    k
                })
                .collect();
            v.sort();
            v
        };
        assert_eq!(norm(want), norm(found(&lines, None).posts));
    });
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("is imported as t-helpdesk"), "{stderr}");
    assert!(
        stderr.contains("3 names and 0 texts were changed"),
        "{stderr}"
    );
}

/// The number after `marker` in `text` (as in "set it to at least 57").
fn number_after(text: &str, marker: &str) -> u64 {
    let at = text
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker:?} in:\n{text}"));
    text[at + marker.len()..]
        .chars()
        .take_while(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap()
}

/// Issue 19: what the importer refuses by size or name. On a server with the settings the
/// warnings name, the export imports whole; with one less, it does not.
#[test]
fn the_importers_limits_are_worked_around_or_named_before_the_import() {
    let env = Env::new(Scale::Tiny);
    let long = "A long paragraph of a pasted log line. ".repeat(1_000);
    let long_reply = "ü".repeat(20_000);
    let long_direct = "Ein langer Absatz. ".repeat(300);
    let dm_lookalike = format!("{}__{}", "k".repeat(26), "m7".repeat(13));
    let gm_lookalike = "0123456789abcdef0123456789abcdef01234567".to_string();
    let members = env.server.with_world(|w| {
        let acme = w.team_by_name("acme").unwrap().id.to_string();
        let alice = user_id(w, "alice");
        // Channels an older server let users name like direct and group channels.
        for name in [&dm_lookalike, &gm_lookalike] {
            w.add_channel(&acme, 'O', name, "Look-alike", [alice.as_str(), "bob"])
                .unwrap();
        }
        // A team past the default TeamSettings.MaxUsersPerTeam (50).
        for i in 0..52 {
            let u = w.add_user(&format!("member{i:02}"), "pw").unwrap();
            w.add_team_member(&acme, &u).unwrap();
        }
        let town = channel_id(w, "acme", "town-square");
        let root = w.add_post(&town, &alice, &long, None, vec![]).unwrap();
        w.add_post(&town, "bob", &long_reply, Some(&root), vec![])
            .unwrap();
        let dm = w
            .channels
            .values()
            .find(|c| c.channel_type == 'D' && c.members.keys().any(|u| u.as_str() == alice))
            .unwrap()
            .id
            .to_string();
        w.add_post(&dm, &alice, &long_direct, None, vec![]).unwrap();
        w.team_by_name("acme").unwrap().members.len()
    });
    assert!(members > 52);
    env.write_channels(&env.server.with_world(|w| w.sample_channels_json()));
    env.run_ok(&[]);
    // An emoji image over MaxEmojiFileSize (512 KiB) and an attachment over the default
    // FileSettings.MaxFileSize (100 MiB), as a backup of a server with other limits holds them.
    let files = tree(&env.data());
    let emoji = files
        .keys()
        .find(|k| k.starts_with("emojis/") && !k.ends_with(".json"))
        .unwrap()
        .clone();
    let big_emoji = emoji
        .rsplit_once("__")
        .unwrap()
        .1
        .rsplit_once('.')
        .unwrap()
        .0
        .to_string();
    std::fs::write(env.data().join(&emoji), vec![7u8; 512 * 1024 + 1]).unwrap();
    let info = files
        .keys()
        .find(|k| {
            k.contains("/files/")
                && k.ends_with(".json")
                && !k.rsplit('/').next().unwrap().contains("__")
        })
        .unwrap()
        .clone();
    let content = files
        .keys()
        .find(|k| k.starts_with(&format!("{}__", info.trim_end_matches(".json"))))
        .unwrap()
        .clone();
    let big = 100 * 1024 * 1024 + 1;
    let mut v: Value = read_json(&env.data().join(&info));
    v["size"] = big.into();
    std::fs::write(env.data().join(&info), v.to_string()).unwrap();
    std::fs::File::create(env.data().join(&content))
        .unwrap()
        .set_len(big)
        .unwrap();

    let out = export_ok(&env, &["data", "-o", "import/matter.jsonl", "-a"]);
    let stderr = String::from_utf8_lossy(&out.stderr).to_string();
    let lines = read_lines(&env.path("import/matter.jsonl"));
    let data = env.path("import/data");
    // The settings the export names are the ones the import needs: with each one less, the
    // validator (written from the server) refuses.
    let team_size = number_after(&stderr, "TeamSettings.MaxUsersPerTeam to at least ");
    let file_size = number_after(
        &stderr,
        "FileSettings.MaxFileSize (104857600 bytes): before the import, set it to at least ",
    );
    assert_eq!(file_size, big);
    let target = Target {
        max_users_per_team: usize::try_from(team_size).unwrap(),
        max_file_size: file_size,
    };
    assert_valid_on(&lines, Some(&data), target);
    for less in [
        Target {
            max_users_per_team: target.max_users_per_team - 1,
            ..target
        },
        Target {
            max_file_size: file_size - 1,
            ..target
        },
    ] {
        assert!(
            std::panic::catch_unwind(|| assert_valid_on(&lines, Some(&data), less)).is_err(),
            "valid with less than the export names"
        );
    }
    // Messages over 16,383 characters arrive whole, split into replies that follow them.
    let town = lines
        .iter()
        .find(|l| {
            l["post"]["message"]
                .as_str()
                .is_some_and(|m| long.starts_with(m) && m.len() > 1000)
        })
        .expect("the long post");
    let parts: Vec<&Value> = std::iter::once(&town["post"])
        .chain(town["post"]["replies"].as_array().unwrap())
        .collect();
    let text: String = parts
        .iter()
        .map(|p| p["message"].as_str().unwrap())
        .collect();
    assert_eq!(text, format!("{long}{long_reply}"));
    assert!(parts.len() >= 4, "{}", parts.len());
    assert!(
        stderr.contains("messages longer than 16383 characters were split into"),
        "{stderr}"
    );
    // The direct message fits the server, not `mmctl import validate`: said so.
    assert!(lines
        .iter()
        .any(|l| l["direct_post"]["message"] == long_direct.as_str()));
    let n = mmctl_long_direct_messages(&lines);
    assert_eq!(n, 1);
    assert!(
        stderr.contains(&format!(
            "{n} direct messages are longer than 4000 characters"
        )),
        "{stderr}"
    );
    // Look-alike channel names get the prefix c-.
    for name in [&dm_lookalike, &gm_lookalike] {
        let fixed = format!("c-{name}");
        assert!(
            lines.iter().any(|l| l["channel"]["name"] == fixed.as_str()),
            "{fixed}"
        );
        assert!(
            stderr.contains(&format!(
                "is imported as {fixed} (named like a direct or group channel"
            )),
            "{stderr}"
        );
    }
    // The oversized emoji image is left out, with a warning.
    assert!(!lines
        .iter()
        .any(|l| l["emoji"]["name"] == big_emoji.as_str()));
    assert!(
        stderr.contains(&format!(
            "custom emoji {big_emoji}: its image has 524289 bytes"
        )),
        "{stderr}"
    );
    assert!(
        stderr.contains("1 custom emojis whose image is over 524288 bytes"),
        "{stderr}"
    );
}

/// Issue 20: with a filter, the file holds the kept posts and what they need (their team,
/// channel and users), and the importer's rules accept it.
#[test]
fn a_filtered_export_is_valid_and_holds_only_what_its_posts_need() {
    let env = Env::new(Scale::Tiny);
    env.run_ok(&[]);
    let alice = crate::util::alice(&env);
    let (channel, team, name, bob, posts) = env.server.with_world(|w| {
        let channel = (w.member_channels(&alice).into_iter())
            .filter(|c| w.channel(c).unwrap().channel_type == 'O')
            .max_by_key(|c| w.channel(c).unwrap().live.len())
            .unwrap();
        let c = w.channel(&channel).unwrap();
        let team = w.team(&c.team_id.to_string()).unwrap().name.clone();
        let bob = user_id(w, "bob");
        // bob's ordinary posts, and the roots his replies bring along.
        let mut kept = BTreeSet::new();
        for id in w.live_posts(&channel) {
            let p = w.post(&id).unwrap();
            if p.user_id.to_string() == bob {
                kept.insert(id.clone());
                if !p.root_id.is_none() {
                    kept.insert(p.root_id.to_string());
                }
            }
        }
        let posts = (kept.iter())
            .filter(|id| w.post(id).unwrap().post_type.is_empty())
            .count();
        (channel, team, c.name.clone(), bob, posts)
    });
    assert!(posts > 0);
    export_ok(
        &env,
        &[
            "data",
            "-o",
            "f/matter.jsonl",
            "-c",
            &channel,
            "--from",
            "bob",
        ],
    );
    let lines = read_lines(&env.path("f/matter.jsonl"));
    assert_valid(&lines, None);
    let of = |t: &'static str| lines.iter().filter(move |l| l["type"] == t);
    assert_eq!(of("team").count(), 1);
    assert_eq!(of("team").next().unwrap()["team"]["name"], team.as_str());
    assert_eq!(of("channel").count(), 1);
    assert_eq!(
        of("channel").next().unwrap()["channel"]["name"],
        name.as_str()
    );
    assert_eq!(of("direct_channel").count() + of("direct_post").count(), 0);
    let written: usize = of("post")
        .map(|l| 1 + l["post"]["replies"].as_array().map_or(0, Vec::len))
        .sum();
    assert_eq!(written, posts);
    // Users: the authors and reactors of these posts, no one else.
    let mut needed = BTreeSet::new();
    for l in of("post") {
        let p = &l["post"];
        for q in std::iter::once(p).chain(p["replies"].as_array().into_iter().flatten()) {
            needed.insert(q["user"].as_str().unwrap().to_string());
            for r in q["reactions"].as_array().into_iter().flatten() {
                needed.insert(r["user"].as_str().unwrap().to_string());
            }
        }
    }
    let users: BTreeSet<String> = of("user")
        .map(|l| l["user"]["username"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(users, needed);
    assert!(users.contains("bob"), "{bob}");
}

/// Issue 19: a custom emoji named like a system emoji is skipped by the importer; the export
/// leaves it out with a warning, and what it writes validates.
#[test]
fn a_custom_emoji_named_like_a_system_emoji_is_left_out_with_a_warning() {
    let env = Env::new(Scale::Tiny);
    env.server
        .with_world(|w| w.add_emoji("smile", "bob").unwrap());
    env.run_ok(&[]);
    let out = export_ok(&env, &["data", "-o", "import/matter.jsonl", "-a"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("custom emoji smile: a system emoji has that name"),
        "{stderr}"
    );
    let lines = read_lines(&env.path("import/matter.jsonl"));
    assert!(!lines
        .iter()
        .any(|l| l["type"] == "emoji" && l["emoji"]["name"] == "smile"));
    assert!(
        lines.iter().any(|l| l["type"] == "emoji"),
        "the other emojis"
    );
    assert_valid(&lines, Some(&env.path("import/data")));
}
