//! An interrupted export (Ctrl+C) exits 130 and leaves no output file and no half-written file:
//! md with -o, hgf, jsonl and html, each stopped while it writes a backup with one big channel.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use fakemm::Scale;

use crate::util::{signal_when, temp_files, text, Env};

/// Posts added to one channel: enough that each export runs for a second or more after it
/// has begun writing (debug build), and the backup takes seconds, not minutes.
const POSTS: usize = 8_000;

/// A backup of Tiny with `POSTS` more posts (long messages, threads and some small
/// attachments) in the busiest open channel alice is in; returns the channel's id.
fn big_backup() -> (Env, String) {
    let env = Env::new(Scale::Tiny);
    let channel = env.server.with_world(|w| {
        let me = w.user_by_name("alice").unwrap().id.to_string();
        let channel = w
            .member_channels(&me)
            .into_iter()
            .filter(|c| w.channel(c).unwrap().channel_type == 'O')
            .max_by_key(|c| (w.channel(c).unwrap().live.len(), c.clone()))
            .unwrap();
        let words =
            "lorem *ipsum* dolor `sit` amet, consectetur [adipiscing](https://example.com) elit ";
        let mut root = None;
        for i in 0..POSTS {
            let files = if i % 500 == 0 {
                vec![(format!("f{i}.txt"), "text/plain".to_string(), 20_000)]
            } else {
                vec![]
            };
            let user = ["alice", "bob", "carol"][i % 3];
            let msg = format!("post {i}: {}", words.repeat(30));
            let id = w
                .add_post(
                    &channel,
                    user,
                    &msg,
                    root.as_deref().filter(|_| i % 4 != 0),
                    files,
                )
                .unwrap();
            if i % 4 == 0 {
                root = Some(id);
            }
        }
        channel
    });
    env.run_ok(&[]);
    (env, channel)
}

/// Starts `matterbak <args>`, waits until `started()` holds (the export is writing), sends
/// SIGINT; asserts exit 130 and returns what it printed.
fn interrupt(env: &Env, what: &str, args: &[&str], started: impl Fn() -> bool) -> String {
    let mut child = Command::new(env!("CARGO_BIN_EXE_matterbak"))
        .current_dir(env.tmp.path())
        .env("TZ", "UTC")
        .env_remove("RUST_LOG")
        .args(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    signal_when(&mut child, "-INT", what, started);
    let stopping = Instant::now();
    let out = child.wait_with_output().unwrap();
    let printed = text(&out);
    assert_eq!(out.status.code(), Some(130), "{what}: {printed}");
    assert!(
        stopping.elapsed() < Duration::from_secs(10),
        "{what}: took {:?} to stop",
        stopping.elapsed()
    );
    assert!(
        printed.contains("matterbak: interrupted"),
        "{what}: {printed}"
    );
    printed
}

fn has_temp_file(dir: &Path) -> bool {
    dir.exists() && !temp_files(dir).is_empty()
}

#[test]
fn an_interrupted_export_exits_130_and_leaves_nothing_half_written() {
    let (env, channel) = big_backup();
    for dir in ["md", "hgf", "jsonl"] {
        std::fs::create_dir(env.path(dir)).unwrap();
    }

    // md -o: the Markdown file never appears.
    let md = env.path("md");
    interrupt(
        &env,
        "md",
        &["export", "md", "-d", "data", "-o", "md/all.md"],
        || has_temp_file(&md),
    );
    assert!(!env.path("md/all.md").exists(), "md: the file appeared");
    assert_eq!(temp_files(&md), Vec::<String>::new(), "md");

    // hgf: the zip never appears.
    let hgf = env.path("hgf");
    interrupt(
        &env,
        "hgf",
        &[
            "export",
            "hgf",
            "-d",
            "data",
            "-c",
            &channel,
            "-o",
            "hgf/c.zip",
        ],
        || has_temp_file(&hgf),
    );
    assert!(!env.path("hgf/c.zip").exists(), "hgf: the zip appeared");
    assert_eq!(temp_files(&hgf), Vec::<String>::new(), "hgf");

    // jsonl -a: no JSONL file; the attachments copied so far are whole files.
    let jsonl = env.path("jsonl");
    interrupt(
        &env,
        "jsonl",
        &["export", "jsonl", "data", "-a", "-o", "jsonl/matter.jsonl"],
        || has_temp_file(&jsonl),
    );
    assert!(
        !env.path("jsonl/matter.jsonl").exists(),
        "jsonl: the file appeared"
    );
    assert_eq!(temp_files(&jsonl), Vec::<String>::new(), "jsonl");

    // html: stopped among the channel pages; no index, no temp file, and the marker lists
    // every file written, so that a rerun replaces them.
    let site = env.path("site");
    interrupt(
        &env,
        "html",
        &["export", "html", "-d", "data", "-o", "site"],
        || site.join("c").exists(),
    );
    assert!(
        !site.join("index.html").exists(),
        "html: the index appeared"
    );
    assert_eq!(temp_files(&site), Vec::<String>::new(), "html");
    let marker: serde_json::Value =
        serde_json::from_slice(&std::fs::read(site.join(".matterbak-site.json")).unwrap()).unwrap();
    let listed: std::collections::BTreeSet<&str> = marker["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for f in crate::util::tree(&site).keys() {
        assert!(
            f == ".matterbak-site.json" || listed.contains(f.as_str()),
            "html: {f} is not in the marker"
        );
    }
    // A rerun finishes the site.
    let out = Command::new(env!("CARGO_BIN_EXE_matterbak"))
        .current_dir(env.tmp.path())
        .args(["export", "html", "-d", "data", "-o", "site"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(site.join("index.html").exists());
}
