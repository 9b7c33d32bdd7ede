//! Every export of the Demo backup (md, md --threads, hgf, jsonl, jsonl -a, html) is the same
//! from the data dir and from its zip, and the same when made twice: file by file, with the
//! first differing line shown. What the exports hold is checked against the server's truth and
//! the importer's rules elsewhere (`export.rs`, `html.rs`, `jsonl.rs`); nothing here is pinned.
//!
//! Masked before comparing: where an attachment is (`data/...` against `out.zip:...` in the
//! Markdown), the time in the HGF zip's `skipped_attachments.json` and its entries' times, and
//! the seconds an export took, in its summary line.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Command;

use fakemm::Scale;

use crate::util::{text, tree, Env};

/// An export's output: relative path -> content.
type Files = BTreeMap<String, Vec<u8>>;

/// The entries of an HGF zip in order (name, compression, content), the export's time in
/// `skipped_attachments.json` masked.
fn hgf_entries(path: &Path) -> Files {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut out = Files::new();
    for i in 0..zip.len() {
        let mut e = zip.by_index(i).unwrap();
        let mut data = Vec::new();
        e.read_to_end(&mut data).unwrap();
        if e.name() == "skipped_attachments.json" {
            let mut v: serde_json::Value = serde_json::from_slice(&data).unwrap();
            let at = v["generated_at"].as_str().unwrap();
            assert_eq!(at.len(), "2024-01-01T00:00:00".len(), "{at}");
            v["generated_at"] = "MASKED".into();
            data = serde_json::to_vec(&v).unwrap();
        }
        out.insert(format!("{i:04} {} {:?}", e.name(), e.compression()), data);
    }
    out
}

/// The first difference of two outputs: a file only in one, or the first line that differs.
fn first_difference(a: &Files, b: &Files) -> Option<String> {
    for name in a.keys().chain(b.keys()) {
        let (Some(x), Some(y)) = (a.get(name), b.get(name)) else {
            return Some(format!("{name} is in only one of them"));
        };
        if x != y {
            let (x, y) = (String::from_utf8_lossy(x), String::from_utf8_lossy(y));
            let at = x.lines().zip(y.lines()).position(|(l, m)| l != m);
            let at = at.unwrap_or(x.lines().count().min(y.lines().count()));
            return Some(format!(
                "{name}, line {}:\n  {}\n  {}",
                at + 1,
                x.lines().nth(at).unwrap_or("<end>"),
                y.lines().nth(at).unwrap_or("<end>")
            ));
        }
    }
    None
}

/// `matterbak <args>` in the env's folder: asserts exit 0, returns what it printed (stdout,
/// then the stderr lines of matterbak's own summary, without log lines).
fn run(env: &Env, args: &[&str]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_matterbak"))
        .current_dir(env.tmp.path())
        .env("TZ", "UTC")
        .env_remove("RUST_LOG")
        .args(args)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{args:?}\n{}", text(&out));
    let mut printed = String::from_utf8(out.stdout).unwrap();
    printed.push_str("--- stderr\n");
    for line in String::from_utf8(out.stderr).unwrap().lines() {
        if line.starts_with("matterbak: ") {
            printed.push_str(line);
            printed.push('\n');
        }
    }
    printed
}

/// The html summary ends "in 0.4s": the time goes.
fn mask_seconds(printed: &str) -> String {
    printed
        .lines()
        .map(|l| match l.rsplit_once(" in ") {
            Some((head, t)) if t.ends_with('s') && t[..t.len() - 1].parse::<f64>().is_ok() => {
                format!("{head} in Xs")
            }
            _ => l.to_string(),
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// Every export of the backup at `input` (relative to the env's folder), written below
/// `<tag>-...`: its name, its files and what it printed (masked as the module says).
fn exports(env: &Env, input: &str, channel: &str, tag: &str) -> Vec<(String, Files, String)> {
    let out = |name: &str| format!("{tag}-{name}");
    let mut got = Vec::new();
    let mut add = |name: &str, files: Files, printed: &str| {
        let printed = mask_seconds(printed).replace(&format!("{tag}-"), "OUT-");
        got.push((name.to_string(), files, printed));
    };
    // Where an attachment is: the same place, however the backup was read.
    let file = |p: &str| {
        let text = String::from_utf8(std::fs::read(env.path(p)).unwrap()).unwrap();
        let text = text.replace("`out.zip:", "`data/");
        Files::from([(String::new(), text.into_bytes())])
    };

    let md = out("all.md");
    let p = run(env, &["export", "md", "-d", input, "-o", &md]);
    add("md", file(&md), &p);
    let stdout = run(env, &["export", "md", "-d", input]);
    assert_eq!(
        stdout.trim_end_matches("--- stderr\n").as_bytes(),
        std::fs::read(env.path(&md)).unwrap(),
        "md to standard output is md to a file"
    );

    let md = out("threads.md");
    let p = run(env, &["export", "md", "--threads", "-d", input, "-o", &md]);
    add("md --threads", file(&md), &p);

    let hgf = out("channel.zip");
    let p = run(
        env,
        &["export", "hgf", "-d", input, "-c", channel, "-o", &hgf],
    );
    add("hgf", hgf_entries(&env.path(&hgf)), &p);

    for (name, flags) in [("jsonl", &[][..]), ("jsonl -a", &["-a"][..])] {
        let dir = out(&name.replace(' ', ""));
        let o = format!("{dir}/matter.jsonl");
        let mut args = vec!["export", "jsonl", input, "-o", &o];
        args.extend(flags);
        let p = run(env, &args);
        add(name, tree(&env.path(&dir)), &p);
    }

    let site = out("site");
    let p = run(env, &["export", "html", "-d", input, "-o", &site]);
    add("html", tree(&env.path(&site)), &p);
    got
}

#[test]
fn every_export_of_demo_is_the_same_from_the_data_dir_and_from_its_zip() {
    let env = Env::new(Scale::Demo);
    env.run_ok(&[]);
    // The busiest open channel alice is in, with attachments.
    let channel = env.server.with_world(|w| {
        let me = w.user_by_name("alice").unwrap().id.to_string();
        w.member_channels(&me)
            .into_iter()
            .filter(|c| w.channel(c).unwrap().channel_type == 'O')
            .max_by_key(|c| (w.channel(c).unwrap().live.len(), c.clone()))
            .unwrap()
    });
    let from_dir = exports(&env, "data", &channel, "a");
    let from_zip = exports(&env, "out.zip", &channel, "b");
    for ((name, dir, _), (_, zip, _)) in from_dir.iter().zip(&from_zip) {
        if let Some(d) = first_difference(dir, zip) {
            panic!("export {name}: from the zip it differs from the data dir's: {d}");
        }
    }
    // And the same again, what it printed too: an export is deterministic.
    let again = exports(&env, "data", &channel, "c");
    for ((name, a, pa), (_, b, pb)) in from_dir.iter().zip(&again) {
        if let Some(d) = first_difference(a, b) {
            panic!("export {name}: two exports of the data dir differ: {d}");
        }
        assert_eq!(
            pa, pb,
            "export {name}: printed something else the second time"
        );
    }
}
