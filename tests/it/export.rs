//! `matterbak export md` and `export hgf` on a backup made by the binary: every post in order,
//! authors, files, reactions, threads and markers, from a data dir and from the zip.

use std::io::Read;

use fakemm::Scale;
use serde_json::Value;

use crate::util::{alice, display_name, text, Env};

fn ok(env: &Env, args: &[&str]) -> String {
    let out = env.exec(args);
    assert_eq!(out.status.code(), Some(0), "{args:?}\n{}", text(&out));
    String::from_utf8(out.stdout).unwrap()
}

/// What a scenario did on the server.
struct Scene {
    channel: String,
    root: String,
    reply: String,
    edited: String,
    deleted: String,
    pinned: String,
}

/// A backup of Tiny with, in the busiest channel alice sees: a root with a file and a reaction,
/// a reply, an edited, a deleted and a pinned post. Backed up before and after the changes, so
/// that the edit and the deletion are in the backup's history.
fn scene() -> (Env, Scene) {
    let env = Env::new(Scale::Tiny);
    let me = alice(&env);
    let channel = env.server.with_world(|w| {
        let c = w.member_channels(&me);
        c.into_iter()
            .filter(|c| w.channel(c).unwrap().channel_type == 'O')
            .max_by_key(|c| w.channel(c).unwrap().live.len())
            .unwrap()
    });
    let (edited, deleted, pinned) = env.server.with_world(|w| {
        let plain: Vec<String> = w
            .live_posts(&channel)
            .into_iter()
            .filter(|p| {
                let p = w.post(p).unwrap();
                p.post_type.is_empty() && p.root_id.is_none() && p.file_ids.is_empty()
            })
            .filter(|p| w.reply_count(w.post(p).unwrap()) == 0)
            .collect();
        (plain[1].clone(), plain[2].clone(), plain[3].clone())
    });
    env.run_ok(&[]);
    let (root, reply) = env.server.with_world(|w| {
        let root = w
            .add_post(
                &channel,
                "bob",
                "Root with **bold** and <b>tags</b> ✓",
                None,
                vec![("report.txt".into(), "text/plain".into(), 1234)],
            )
            .unwrap();
        w.add_reaction(&root, &me, "tada").unwrap();
        let reply = w
            .add_post(
                &channel,
                "carol",
                "A reply in the thread",
                Some(&root),
                vec![],
            )
            .unwrap();
        w.edit_post(&edited, "the message after the edit").unwrap();
        w.delete_post(&deleted).unwrap();
        w.set_pinned(&pinned, true).unwrap();
        (root, reply)
    });
    env.run_ok(&[]);
    let scene = Scene {
        channel,
        root,
        reply,
        edited,
        deleted,
        pinned,
    };
    (env, scene)
}

fn shown(env: &Env, user: &str) -> String {
    env.server.with_world(|w| display_name(w, user))
}

/// The post blocks of a Markdown export: (heading line, the rest).
fn blocks<'a>(md: &'a str, heading: &str) -> Vec<(&'a str, &'a str)> {
    let start = md.find("## Messages\n").expect("a Messages section");
    md[start..]
        .split(&format!("\n{heading} "))
        .skip(1)
        .map(|b| b.split_once('\n').unwrap_or((b, "")))
        .collect()
}

#[test]
fn md_has_every_post_in_order_with_authors_files_reactions_and_markers() {
    let (env, s) = scene();
    let md = ok(&env, &["export", "md", "-d", "data", "-c", &s.channel]);
    let (title, team) = env.server.with_world(|w| {
        let c = w.channel(&s.channel).unwrap();
        let t = w.team(&c.team_id.to_string()).unwrap();
        (
            c.display_name.clone(),
            format!("{} ({})", t.display_name, t.name),
        )
    });
    assert!(md.starts_with(&format!("# {title}\n\n")), "{md:.300}");
    assert!(md.contains(&format!("\nBelonging to team {team}\n")));

    // Every post the backup holds (the live ones and the deleted one), oldest first.
    let want: Vec<(String, String)> = env.server.with_world(|w| {
        let mut ids = w.live_posts(&s.channel);
        ids.push(s.deleted.clone());
        let mut posts: Vec<_> = ids.iter().map(|i| w.post(i).unwrap().clone()).collect();
        posts.sort_by_key(|p| (p.create_at, p.id.to_string()));
        posts
            .iter()
            .map(|p| (p.id.to_string(), p.user_id.to_string()))
            .collect()
    });
    let got = blocks(&md, "###");
    assert_eq!(got.len(), want.len(), "one block per post");
    for ((heading, _), (_, user)) in got.iter().zip(&want) {
        assert!(
            heading.starts_with(&format!("{} at ", shown(&env, user))),
            "{heading}"
        );
    }
    let at = |id: &str| want.iter().position(|(p, _)| p == id).unwrap();

    // The new root: its message as written (raw, as the original), its file and the reaction.
    let (head, body) = got[at(&s.root)];
    assert!(head.starts_with(&shown(&env, "bob")));
    assert!(body.starts_with("Root with **bold** and <b>tags</b> ✓\n"));
    let file_line = body
        .lines()
        .find(|l| l.starts_with("* report.txt: `"))
        .expect("the file is listed");
    let path = file_line
        .trim_start_matches("* report.txt: `")
        .trim_end_matches('`');
    assert_eq!(std::fs::metadata(env.path(path)).unwrap().len(), 1234);
    assert!(body.contains(&format!(
        "Reactions:\n\n* {}: `tada`\n",
        shown(&env, "alice")
    )));

    // Markers.
    let (head, body) = got[at(&s.edited)];
    assert!(head.ends_with(" *(edited)*"), "{head}");
    assert!(body.starts_with("the message after the edit\n"));
    let (head, body) = got[at(&s.deleted)];
    assert!(head.ends_with(" *(deleted)*"), "{head}");
    assert!(!body.trim().is_empty(), "the last known content is kept");
    assert!(got[at(&s.pinned)].0.ends_with(" *(pinned)*"));
    let marked = got.iter().filter(|(h, _)| h.ends_with(")*")).count();
    assert_eq!(marked, 3, "only those three are marked");

    // --threads: the reply right after its root, one level down; each post exactly once.
    let threads = ok(
        &env,
        &["export", "md", "-d", "data", "-c", &s.channel, "--threads"],
    );
    let t = blocks(&threads, "####");
    assert_eq!(t.len(), want.len());
    let root_at = t
        .iter()
        .position(|(_, b)| b.starts_with("Root with"))
        .unwrap();
    assert!(t[root_at + 1].1.starts_with("A reply in the thread\n"));
    assert!(threads.contains(&format!("### Thread\n#### {} at", shown(&env, "bob"))));
    let _ = &s.reply;

    // -o FILE writes the same; the zip gives the same but for where files are.
    ok(
        &env,
        &["export", "md", "-d", "data", "-c", &s.channel, "-o", "c.md"],
    );
    assert_eq!(std::fs::read_to_string(env.path("c.md")).unwrap(), md);
    let from_zip = ok(&env, &["export", "md", "-d", "out.zip", "-c", &s.channel]);
    assert_eq!(from_zip.replace("`out.zip:", "`data/"), md);
}

#[test]
fn md_without_a_channel_exports_every_channel_and_bad_names_exit_2() {
    let env = Env::backed_up(Scale::Tiny);
    let all = ok(&env, &["export", "md", "-d", "data"]);
    let me = alice(&env);
    let (channels, posts) = env.server.with_world(|w| {
        let c = w.member_channels(&me);
        let n: usize = c.iter().map(|c| w.live_posts(c).len()).sum();
        (c.len(), n)
    });
    assert_eq!(all.matches("\n## Messages\n").count(), channels);
    assert_eq!(
        all.matches("\n### ").count() - all.matches("\n### Members").count(),
        posts
    );

    let out = env.exec(&["export", "md", "-d", "data", "-c", "no-such-channel"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("no-such-channel"));
    let out = env.exec(&["export", "md", "-d", "missing-dir"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("missing-dir"));
}

#[test]
fn hgf_has_the_archivers_files_posts_newest_first_and_threads() {
    let (env, s) = scene();
    ok(
        &env,
        &[
            "export", "hgf", "-d", "data", "-c", &s.channel, "-o", "c.zip",
        ],
    );
    let mut zip = zip::ZipArchive::new(std::fs::File::open(env.path("c.zip")).unwrap()).unwrap();
    let mut read = |name: &str| {
        let mut v = Vec::new();
        zip.by_name(name).unwrap().read_to_end(&mut v).unwrap();
        v
    };
    let json = |b: Vec<u8>| serde_json::from_slice::<Value>(&b).unwrap();
    let channel = json(read("channel.json"));
    assert_eq!(channel["id"], s.channel.as_str());
    let posts = json(read("posts.json"));
    let posts = posts.as_array().unwrap();
    let created: Vec<i64> = posts
        .iter()
        .map(|p| p["create_at"].as_i64().unwrap())
        .collect();
    assert!(created.windows(2).all(|w| w[0] >= w[1]), "newest first");
    let keys: Vec<&str> = posts[0]
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    assert_eq!(
        keys,
        [
            "id",
            "channel_id",
            "user_id",
            "user_username",
            "user_display_name",
            "create_at",
            "update_at",
            "delete_at",
            "message",
            "type",
            "root_id",
            "file_ids",
            "props",
            "hashtags"
        ]
    );
    let root = posts.iter().find(|p| p["id"] == s.root.as_str()).unwrap();
    assert_eq!(root["user_username"], "bob");
    let threads = json(read("threads.json"));
    let t = threads
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["root_id"] == s.root.as_str())
        .unwrap();
    assert_eq!(t["replies"][0]["id"], s.reply.as_str());
    assert_eq!(t["replies"].as_array().unwrap().len(), 1);
    let fid = root["file_ids"][0].as_str().unwrap();
    assert_eq!(read(&format!("files/{fid}-report.txt")).len(), 1234);
    let skipped = json(read("skipped_attachments.json"));
    assert_eq!(skipped["omitted_count"], 0);
}
