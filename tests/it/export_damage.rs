//! Issue 18 ("Exports never drop data silently"), part 3: damage the backup in the ways the
//! issue lists and each export keeps what it can, names the damaged file and exits 3; `verify`
//! agrees with the exports on what is readable; an export writes into no data dir.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Output;

use fakemm::Scale;

use crate::util::{text, tree, verify, watched, Env, HANG};

/// The post headings of a Markdown export (`### <author> at <time>`).
fn md_posts(path: &Path) -> usize {
    let md = std::fs::read_to_string(path).unwrap();
    md.lines()
        .filter(|l| l.starts_with("### ") && l.contains(" at "))
        .count()
}

/// The summary line starting with `matterbak: <start>`, up to its first `;`.
fn summary_line(out: &Output, start: &str) -> String {
    let all = text(out);
    let line = all
        .lines()
        .find(|l| l.starts_with(&format!("matterbak: {start}")))
        .unwrap_or_else(|| panic!("no summary line {start:?}:\n{all}"));
    line.split(';').next().unwrap().to_string()
}

/// What the exports of `src` give: md posts, html's channels and posts, jsonl's counts; each
/// export must end with `code`, and its stderr name each of `named`.
fn exports(env: &Env, src: &str, code: i32, named: &[&str]) -> (usize, String, String) {
    let check = |args: &[&str]| {
        let out = env.exec(args);
        assert_eq!(out.status.code(), Some(code), "{args:?}\n{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        for n in named {
            assert!(err.contains(n), "{args:?} does not name {n}:\n{err}");
        }
        out
    };
    check(&["export", "md", "-d", src, "-o", "all.md"]);
    let html = check(&["export", "html", "-d", src, "-o", "site"]);
    let jsonl = check(&["export", "jsonl", src, "-o", "import/matter.jsonl"]);
    check(&[
        "export",
        "hgf",
        "-d",
        src,
        "-c",
        "acme/town-square",
        "-o",
        "t.zip",
    ]);
    (
        md_posts(&env.path("all.md")),
        summary_line(&html, ""),
        summary_line(&jsonl, "wrote"),
    )
}

/// Issue 18, part 3, item 1: a team file that is missing, a team channel file that is a link
/// and a direct channel file that is a FIFO made their posts vanish from every export (exit 0,
/// no word; verify: 0 problems). Now every export keeps the posts under placeholders named from
/// the folders, with the same counts, warns naming each file and exits 3, from the data dir and
/// from a zip of it; verify reports the files.
#[test]
fn a_team_or_channel_without_its_file_keeps_its_posts_in_every_export() {
    let env = Env::backed_up(Scale::Tiny);
    std::fs::create_dir_all(env.path("import")).unwrap();
    let before = exports(&env, "data", 0, &[]);
    assert!(before.0 > 0);

    let data = tree(&env.data());
    let object = |top: &str, slashes: usize, name: &str| {
        data.keys()
            .find(|k| {
                k.starts_with(top)
                    && k.matches('/').count() == slashes
                    && k.ends_with(name)
                    && !k.ends_with("__members.json")
                    && !k.ends_with("__threads.json")
            })
            .unwrap_or_else(|| panic!("no {top} {name}"))
            .clone()
    };
    let team = object("teams/", 1, "__acme.json");
    let linked = object("teams/", 2, "__town-square.json");
    let fifo = object("direct/", 1, ".json");
    std::fs::remove_file(env.data().join(&team)).unwrap();
    std::fs::rename(env.data().join(&linked), env.path("elsewhere.json")).unwrap();
    std::os::unix::fs::symlink(env.path("elsewhere.json"), env.data().join(&linked)).unwrap();
    // The zip leaves the link out: in the zip, the file is missing.
    let out = env.exec(&["zip", "-d", "data", "-o", "damaged.zip"]);
    assert!(env.path("damaged.zip").is_file(), "{}", text(&out));
    let (code, out) = verify(&env);
    assert_eq!(code, 1, "{out}");
    for f in [&team, &linked] {
        assert!(out.contains(&format!("{f}: ")), "{f}\n{out}");
    }
    std::fs::remove_file(env.data().join(&fifo)).unwrap();
    let made = std::process::Command::new("mkfifo")
        .arg(env.data().join(&fifo))
        .status()
        .unwrap();
    assert!(made.success());

    let after = exports(&env, "data", 3, &[&team, &linked, &fifo]);
    assert_eq!(after, before);
    let after = exports(&env, "damaged.zip", 3, &[&team, &linked]);
    assert_eq!(after, before);
}

/// A post object whose `props` nest `levels` deep.
fn deep_post(post: &[u8], levels: usize) -> Vec<u8> {
    let mut v: serde_json::Value = serde_json::from_slice(post).unwrap();
    v["props"] = serde_json::json!({});
    let mut s = serde_json::to_string(&v).unwrap();
    let at = s.find(r#""props":{}"#).unwrap() + r#""props":"#.len();
    let nested = format!("{}1{}", "[".repeat(levels), "]".repeat(levels));
    s.replace_range(at..at + 2, &nested);
    s.into_bytes()
}

/// Issue 18, part 3, item 2: one post whose props nest 130 levels deep (any bot can post one)
/// made every export of the whole backup fail (`recursion limit exceeded`) while verify
/// accepted it. Now every export reads it (and one nested 100,000 levels deep, which must not
/// crash either) without the deeper parts, names it and exits 3; verify agrees that it is
/// readable and notes the same.
#[test]
fn a_post_nested_too_deep_is_exported_without_the_deeper_parts() {
    let env = Env::backed_up(Scale::Tiny);
    std::fs::create_dir_all(env.path("import")).unwrap();
    let before = exports(&env, "data", 0, &[]);
    let data = tree(&env.data());
    let posts: Vec<&String> = data
        .keys()
        .filter(|k| {
            k.starts_with("teams/") && k.contains("__town-square/") && k.matches('/').count() == 3
        })
        .take(2)
        .collect();
    assert_eq!(posts.len(), 2);
    for (p, levels) in posts.iter().zip([130, 100_000]) {
        std::fs::write(env.data().join(p), deep_post(&data[*p], levels)).unwrap();
    }
    let (code, out) = verify(&env);
    assert_eq!(code, 0, "{out}");
    for p in &posts {
        assert!(
            out.contains(&format!("{p}: nested more than")),
            "{p}\n{out}"
        );
    }
    let out = env.exec(&["zip", "-d", "data", "-o", "deep.zip"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let named: Vec<&str> = posts.iter().map(|p| p.as_str()).collect();
    for src in ["data", "deep.zip"] {
        assert_eq!(exports(&env, src, 3, &named), before, "{src}");
        let md = std::fs::read_to_string(env.path("all.md")).unwrap();
        for p in &posts {
            let v: serde_json::Value = serde_json::from_slice(&data[*p]).unwrap();
            let m = v["message"].as_str().unwrap();
            assert!(md.contains(m), "{src}: {m:?} not in the Markdown");
        }
    }
}

/// Issue 18, part 3, item 3: `export jsonl -a` of a zip run beside its data dir (`./data`, the
/// default) copied attachments and emojis into the data dir. Whatever the source, the export
/// writes into no data dir.
#[test]
fn export_jsonl_of_a_zip_writes_nothing_into_the_data_dir_beside_it() {
    let env = Env::backed_up(Scale::Tiny);
    let before = tree(env.tmp.path());
    for args in [
        &["export", "jsonl", "out.zip", "-a"][..],
        &["export", "jsonl", "out.zip", "-o", "data/matter.jsonl"],
        &[
            "export",
            "jsonl",
            "out.zip",
            "-a",
            "-o",
            "data/x/matter.jsonl",
        ],
    ] {
        refused_inside_the_data_dir(&env, args, &before);
    }
    // Elsewhere it is fine, and so is a rerun into the same import folder.
    for _ in 0..2 {
        let out = env
            .bare()
            .args([
                "export",
                "jsonl",
                "out.zip",
                "-a",
                "-o",
                "import/matter.jsonl",
            ])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    }
    assert!(env.path("import/data/attachments").is_dir());
}

/// An export with `args` exits 2 naming the data dir it would have written into, and leaves
/// the env's folder as it was (`before`).
fn refused_inside_the_data_dir(env: &Env, args: &[&str], before: &BTreeMap<String, Vec<u8>>) {
    let out = env.bare().args(args).output().unwrap();
    assert_eq!(out.status.code(), Some(2), "{args:?}\n{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("inside the data dir"),
        "{args:?}\n{}",
        text(&out)
    );
    assert_eq!(tree(env.tmp.path()), *before, "{args:?} changed files");
}

/// Issue 18: nor do html, csv and txt, from the data dir or its zip, one file or one per
/// channel.
#[test]
fn export_html_csv_and_txt_write_nothing_into_the_data_dir() {
    let env = Env::backed_up(Scale::Tiny);
    let before = tree(env.tmp.path());
    for args in [
        &["export", "html", "-d", "out.zip", "-o", "data/site"][..],
        &["export", "csv", "-d", "out.zip", "-o", "data/all.csv"],
        &["export", "txt", "-d", "data", "--split", "-o", "data/txt"],
    ] {
        refused_inside_the_data_dir(&env, args, &before);
    }
}

/// Issue 18, part 3, item 4: export memory grew with one post file's size (a 300 MiB post
/// file: 0.9-1.5 GB RSS). A post file larger than the limit verify has (16 MiB) is left out
/// with a warning naming it (exit 3), reading no more than the limit.
#[cfg(target_os = "linux")]
#[test]
fn a_huge_post_file_is_left_out_in_bounded_memory() {
    const LIMIT: u64 = 96 << 20;
    let env = Env::backed_up(Scale::Tiny);
    std::fs::create_dir_all(env.path("import")).unwrap();
    let data = tree(&env.data());
    let channel = data
        .keys()
        .find(|k| k.starts_with("teams/") && k.contains("__town-square/"))
        .map(|k| k.rsplit_once('/').unwrap().0.to_string())
        .unwrap();
    let huge = format!("{channel}/20240101-000000000000__{:x>26}.json", "h");
    // Sparse: 300 MiB that take no disk space.
    let f = std::fs::File::create(env.data().join(&huge)).unwrap();
    f.set_len(300 << 20).unwrap();
    let (code, out) = verify(&env);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&huge), "{out}");
    for args in [
        &["export", "md", "-d", "data", "-o", "all.md"][..],
        &["export", "html", "-d", "data", "-o", "site"],
        &["export", "jsonl", "data", "-o", "import/matter.jsonl"],
    ] {
        let mut c = env.bare();
        c.args(args);
        let w = watched(c, HANG);
        let (out, peak) = (&w.out, w.peak_rss());
        assert_eq!(out.status.code(), Some(3), "{args:?}\n{}", text(out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(
            err.contains(&huge) && err.contains("larger than"),
            "{args:?}\n{err}"
        );
        assert!(peak < LIMIT, "{args:?}: peak RSS {} MiB", peak >> 20);
    }
}
