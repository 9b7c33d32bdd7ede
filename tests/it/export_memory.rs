//! Exports in bounded memory (issue 15): a channel's posts are read one page (html) or one post
//! (md, hgf, jsonl, csv, txt) at a time, never all at once, from a data dir or a zip. A backup with one
//! channel of 4,000 posts of 16 KB each (64 MB of JSON) is exported, and the export's own peak
//! RSS (`VmHWM`, which starts anew at `exec`) stays far below what holding the channel would
//! take.

use std::path::Path;

use fakemm::Scale;

use crate::util::{text, watched, Env, HANG};

const POSTS: usize = 4000;
const MESSAGE: usize = 16 << 10;
/// Holding the channel would take more than twice its 64 MB (each message twice, once parsed).
const LIMIT_KIB: u64 = 48 << 10;

/// A data dir with one team channel of `POSTS` long posts.
fn big_channel(data: &Path) {
    let id = |p: &str, i: usize| format!("{p}{i:0>25}");
    let (user, team, chan) = (id("u", 1), id("t", 1), id("c", 1));
    let w = |rel: &str, v: serde_json::Value| {
        let p = data.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, v.to_string()).unwrap();
    };
    w(
        &format!("users/{user}__bob.json"),
        serde_json::json!({"id": user, "username": "bob"}),
    );
    let tdir = format!("teams/{team}__acme");
    w(
        &format!("{tdir}.json"),
        serde_json::json!({"id": team, "type": "O", "name": "acme", "display_name": "Acme"}),
    );
    let cdir = format!("{tdir}/{chan}__big");
    w(
        &format!("{cdir}.json"),
        serde_json::json!({"id": chan, "type": "O", "name": "big", "display_name": "Big",
            "team_id": team}),
    );
    let text = "lorem ipsum ".repeat(MESSAGE / 12);
    for i in 0..POSTS {
        let pid = id("p", i);
        let at = 1_700_000_000_000i64 + i as i64 * 60_000;
        w(
            &format!("{cdir}/20231114-{i:012}__{pid}.json"),
            serde_json::json!({"id": pid, "create_at": at, "update_at": at, "user_id": user,
                "channel_id": chan, "root_id": "", "message": format!("{i} {text}"),
                "type": "", "props": {}}),
        );
    }
}

#[test]
fn exports_of_a_big_channel_stay_in_bounded_memory() {
    let env = Env::new(Scale::Tiny);
    big_channel(&env.path("big"));
    let out = env.exec(&["zip", "-d", "big", "-o", "backup.zip"]);
    assert_eq!(out.status.code(), Some(0), "{}", crate::util::text(&out));
    for args in [
        &["export", "md", "-d", "big", "-o", "big.md"][..],
        &["export", "html", "-d", "big", "-o", "site"],
        &["export", "hgf", "-d", "big", "-c", "big", "-o", "big.zip"],
        &["export", "jsonl", "big", "-o", "import/matter.jsonl"],
        &["export", "md", "-d", "backup.zip", "-o", "zip.md"],
        &["export", "jsonl", "backup.zip", "-o", "zip/matter.jsonl"],
        &["export", "csv", "-d", "big", "-o", "big.csv"],
        &["export", "txt", "-d", "big", "-o", "big.txt"],
        &[
            "export",
            "csv",
            "-d",
            "backup.zip",
            "--after",
            "2023-11-14",
            "-o",
            "after.csv",
        ],
    ] {
        let mut c = env.bare();
        c.args(args);
        let w = watched(c, HANG);
        assert!(w.out.status.success(), "{args:?}: {}", text(&w.out));
        let kib = w.peak_rss() >> 10;
        eprintln!("{args:?}: peak RSS {kib} KiB");
        assert!(
            kib < LIMIT_KIB,
            "{args:?}: peak RSS {} MiB, not under {} MiB",
            kib >> 10,
            LIMIT_KIB >> 10
        );
    }
    let md = std::fs::read_to_string(env.path("big.md")).unwrap();
    let posts = md.lines().filter(|l| l.starts_with("### bob at ")).count();
    assert_eq!(posts, POSTS);
    let csv = std::fs::read_to_string(env.path("big.csv")).unwrap();
    assert_eq!(csv.matches("\r\n").count(), POSTS + 1);
    let txt = std::fs::read_to_string(env.path("big.txt")).unwrap();
    assert_eq!(txt.lines().filter(|l| l.contains("] bob: ")).count(), POSTS);
    let jsonl = std::fs::read_to_string(env.path("import/matter.jsonl")).unwrap();
    assert_eq!(
        jsonl
            .lines()
            .filter(|l| l.contains(r#""type":"post""#))
            .count(),
        POSTS
    );
    assert_eq!(
        std::fs::read(env.path("zip/matter.jsonl")).unwrap(),
        jsonl.as_bytes()
    );
}
