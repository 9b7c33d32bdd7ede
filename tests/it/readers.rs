//! Issue 13 ("Nothing unbounded"), items 4 and 7: attachments are `<file_id>__<name>` whatever
//! they are called, and the readers (verify, the exports) trust nothing they read: memory stays
//! small whatever the file sizes, a zip entry cannot inflate past its file info, and a zip that
//! names an entry twice is refused.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::Path;

use fakemm::Scale;
use serde_json::Value;

use crate::util::{requests, text, tree, verify, walk, watched, Env, HANG};

/// The attachments of the data set whose names a client could mistake for its own files.
const ODD: [&str; 5] = [
    "config.json",
    "payload.json",
    "index.html",
    "Makefile",
    "notes__members.json",
];

fn attachment_downloads(env: &Env) -> u64 {
    requests(env, "GET /api/v4/files/{file_id}")
}

/// The path (relative to the data dir) of the stored attachment called `name`.
fn attachment(data: &BTreeMap<String, Vec<u8>>, name: &str) -> String {
    let suffix = format!("__{name}");
    let found: Vec<&String> = data
        .keys()
        .filter(|k| k.contains("/files/") && k.ends_with(&suffix))
        .collect();
    assert_eq!(found.len(), 1, "{name}: {found:?}");
    found[0].clone()
}

/// Issue 13, item 4: JSON-named (with and without JSON inside), HTML and extension-less
/// attachments are seen as stored: a data dir without a state file (as the original leaves it)
/// and `--update-old-posts` download none of them again, and verify passes.
#[test]
fn attachments_named_like_json_are_stored_once_and_verify_passes() {
    let env = Env::new(Scale::Tiny);
    env.run_ok(&[]);
    let data = tree(&env.data());
    for name in ODD {
        attachment(&data, name);
    }
    let config = &data[&attachment(&data, "config.json")];
    assert!(serde_json::from_slice::<Value>(config).is_ok());
    let payload = &data[&attachment(&data, "payload.json")];
    assert!(serde_json::from_slice::<Value>(payload).is_err());
    let (code, out) = verify(&env);
    assert_eq!(code, 0, "{out}");

    // The original's data dir: everything is there, no state file, so every post is read.
    std::fs::remove_file(env.data().join(".matterbak-state.json")).unwrap();
    env.server.reset_counts();
    let out = env.run_ok(&[]);
    assert_eq!(attachment_downloads(&env), 0, "{}", text(&out));

    env.server.reset_counts();
    let out = env.run_ok(&["--update-old-posts"]);
    assert_eq!(attachment_downloads(&env), 0, "{}", text(&out));
    assert_eq!(tree(&env.data()).len(), data.len());
    let (code, out) = verify(&env);
    assert_eq!(code, 0, "{out}");
}

/// A JSON file of about `mib` MiB: one object with a long string (written in pieces).
fn big_json(path: &Path, head: &str, mib: usize) {
    let mut f = std::io::BufWriter::new(std::fs::File::create(path).unwrap());
    f.write_all(head.as_bytes()).unwrap();
    f.write_all(br#","pad":""#).unwrap();
    let chunk = vec![b'x'; 1 << 20];
    for _ in 0..mib {
        f.write_all(&chunk).unwrap();
    }
    f.write_all(b"\"}").unwrap();
    f.flush().unwrap();
}

/// Issue 13, item 7: verify streams. A 96 MiB members file is parsed from a reader, a 96 MiB
/// post file (no post is that large) is reported without being read; peak RSS stays under
/// 64 MiB. Before, both were read whole (and parsed into a value).
#[cfg(target_os = "linux")]
#[test]
fn verify_stays_small_whatever_the_file_sizes() {
    const MIB: usize = 96;
    let env = Env::backed_up(Scale::Tiny);
    let data = tree(&env.data());
    let members = data
        .keys()
        .find(|k| k.starts_with("teams/") && k.ends_with("__members.json") && k.contains('/'))
        .unwrap()
        .clone();
    big_json(&env.data().join(&members), r#"{"user_id":"u""#, MIB);
    let post = data
        .keys()
        .find(|k| k.starts_with("direct/") && k.matches('/').count() == 2 && k.ends_with(".json"))
        .unwrap()
        .clone();
    let id = post.rsplit("__").next().unwrap().trim_end_matches(".json");
    big_json(&env.data().join(&post), &format!(r#"{{"id":"{id}""#), MIB);

    let mut cmd = env.bare();
    cmd.args(["verify", "-d", "data"]);
    let w = watched(cmd, HANG);
    let (out, peak) = (&w.out, w.peak_rss());
    let stdout = String::from_utf8_lossy(&out.stdout);
    // The members file is valid JSON (streamed through); the post file is too large to be one.
    assert_eq!(out.status.code(), Some(1), "{}", text(out));
    let problems: Vec<&str> = stdout
        .lines()
        .filter(|l| !l.starts_with("verify "))
        .collect();
    assert_eq!(problems.len(), 1, "{stdout}");
    assert!(
        problems[0].starts_with(&post) && problems[0].contains("not read"),
        "{stdout}"
    );
    assert!(peak < 64 << 20, "peak RSS {} MiB", peak >> 20);
}

/// Issue 13, item 7: `verify -d backup.zip` is a usage error, not "1 problems".
#[test]
fn verify_of_a_zip_given_as_data_dir_is_a_usage_error() {
    let env = Env::backed_up(Scale::Tiny);
    let out = env.exec(&["verify", "-d", "out.zip"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("out.zip is a file, not a data dir"), "{err}");
    assert!(err.lines().count() <= 2, "{err}");
}

/// Every file below `root` larger than `max` bytes.
fn larger_than(root: &Path, max: u64) -> Vec<String> {
    walk(root)
        .into_iter()
        .filter(|(_, m)| !m.is_dir() && m.len() > max)
        .map(|(rel, _)| rel)
        .collect()
}

/// Issue 13, item 7: an attachment that holds far more than its file info says (50 MiB of zeros
/// where the file info gives 3,000 bytes: a zip entry of 50 KB) is left out of every export,
/// from the data dir and from a zip: html, jsonl -a and hgf report it and exit 3, and write
/// nothing of it.
#[test]
fn an_attachment_larger_than_its_file_info_is_left_out_of_exports() {
    const BIG: u64 = 50 << 20;
    let env = Env::backed_up(Scale::Tiny);
    let data = tree(&env.data());
    let notes = attachment(&data, "notes.txt");
    let info: Value = {
        let fid = notes
            .rsplit('/')
            .next()
            .unwrap()
            .split("__")
            .next()
            .unwrap();
        let dir = notes.rsplit_once('/').unwrap().0;
        serde_json::from_slice(&data[&format!("{dir}/{fid}.json")]).unwrap()
    };
    assert_eq!(info["size"], 3000);
    let f = std::fs::File::create(env.data().join(&notes)).unwrap();
    f.set_len(BIG).unwrap();
    drop(f);
    let out = env.exec(&["zip", "-d", "data", "-o", "crafted.zip"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(std::fs::metadata(env.path("crafted.zip")).unwrap().len() < BIG / 10);

    for src in ["data", "crafted.zip"] {
        let tag = src.replace('.', "-");
        let site = format!("site-{tag}");
        let jsonl = format!("import-{tag}/matter.jsonl");
        let hgf = format!("hgf-{tag}.zip");
        std::fs::create_dir_all(env.path(&format!("import-{tag}"))).unwrap();
        let runs: [&[&str]; 3] = [
            &["export", "html", "-d", src, "-o", &site],
            &["export", "jsonl", src, "-o", &jsonl, "-a"],
            &[
                "export",
                "hgf",
                "-d",
                src,
                "-c",
                "acme/off-topic",
                "-o",
                &hgf,
            ],
        ];
        for args in runs {
            let out = env.exec(args);
            assert_eq!(out.status.code(), Some(3), "{args:?}\n{}", text(&out));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("notes.txt") && err.contains("left out"),
                "{args:?}\n{err}"
            );
        }
        // The site shows it as not in the backup, without a link to a file it does not have.
        let pages: String = tree(&env.path(&site))
            .into_iter()
            .filter(|(k, _)| k.ends_with(".html"))
            .map(|(_, v)| String::from_utf8(v).unwrap())
            .collect();
        assert!(!pages.contains("/notes.txt\""));
        assert!(pages.contains("notes.txt <span class=\"size\">2.9 KiB · not in the backup"));
        for dir in [site, format!("import-{tag}")] {
            let big = larger_than(&env.path(&dir), 1 << 20);
            assert!(big.is_empty(), "{big:?}");
        }
        let hgf_path = env.path(&hgf);
        assert!(std::fs::metadata(&hgf_path).unwrap().len() < 1 << 20);
        let mut zip = zip::ZipArchive::new(std::fs::File::open(&hgf_path).unwrap()).unwrap();
        assert!(zip.file_names().all(|n| !n.ends_with("notes.txt")));
        let mut skipped = String::new();
        zip.by_name("skipped_attachments.json")
            .unwrap()
            .read_to_string(&mut skipped)
            .unwrap();
        assert!(skipped.contains("notes.txt"), "{skipped}");
        // Everything else is there: the other attachments of that post.
        assert!(zip.file_names().any(|n| n.ends_with("config.json")));
        // The JSONL names no file it did not write.
        let lines = std::fs::read_to_string(env.path(&jsonl)).unwrap();
        assert!(!lines.contains("notes.txt"));
        assert!(lines.contains("config.json"));
    }
}

/// A copy of the zip at `from` with one more entry: `name` again, with `content` (zip writers
/// refuse a name twice, so the entry is written under a name of the same length and renamed in
/// the bytes).
fn with_duplicate(from: &Path, to: &Path, name: &str, content: &[u8]) {
    let placeholder: String = name
        .chars()
        .rev()
        .map(|c| if c == '/' { '/' } else { 'Q' })
        .collect::<String>()
        .chars()
        .rev()
        .collect();
    assert_eq!(placeholder.len(), name.len());
    let mut src = zip::ZipArchive::new(std::fs::File::open(from).unwrap()).unwrap();
    let mut out = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for i in 0..src.len() {
        let e = src.by_index_raw(i).unwrap();
        out.raw_copy_file(e).unwrap();
    }
    out.start_file(&placeholder, zip::write::SimpleFileOptions::default())
        .unwrap();
    out.write_all(content).unwrap();
    let mut bytes = out.finish().unwrap().into_inner();
    let (p, n) = (placeholder.as_bytes(), name.as_bytes());
    let mut replaced = 0;
    let mut i = 0;
    while i + p.len() <= bytes.len() {
        if &bytes[i..i + p.len()] == p {
            bytes[i..i + p.len()].copy_from_slice(n);
            replaced += 1;
            i += p.len();
        } else {
            i += 1;
        }
    }
    assert_eq!(replaced, 2, "local header and directory record");
    std::fs::write(to, bytes).unwrap();
}

/// Issue 13, item 7: a zip with two entries of the same name is refused by the readers, with the
/// name (before, the zip library silently took the last one, `unzip` the first).
#[test]
fn a_zip_naming_an_entry_twice_is_refused() {
    let env = Env::backed_up(Scale::Tiny);
    let user = tree(&env.data())
        .into_keys()
        .find(|k| k.starts_with("users/") && k.ends_with("__alice.json"))
        .unwrap();
    with_duplicate(
        &env.zip(),
        &env.path("twice.zip"),
        &user,
        br#"{"id":"x","username":"mallory"}"#,
    );
    std::fs::create_dir_all(env.path("import")).unwrap();
    for args in [
        &["export", "md", "-d", "twice.zip"][..],
        &["export", "html", "-d", "twice.zip", "-o", "site"],
        &["export", "jsonl", "twice.zip", "-o", "import/matter.jsonl"],
    ] {
        let out = env.exec(args);
        assert_eq!(out.status.code(), Some(2), "{args:?}\n{}", text(&out));
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(&user) && err.contains("twice"), "{err}");
    }
    assert!(!env.path("site").exists());
    // The zip it was made from is read as before.
    let out = env.exec(&["export", "md", "-d", "out.zip"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

/// Issue 14, step 1: a damaged file is reported the same way by every reader. A team whose JSON
/// is damaged (in the data dir, or one byte flipped in the zip) fails every export naming the
/// file, as a damaged user or channel file does (before, the exports dropped the team and all
/// its channels without a word and exited 0), and verify reports it.
#[test]
fn a_damaged_team_file_fails_every_export_naming_it() {
    let env = Env::backed_up(Scale::Tiny);
    let team = tree(&env.data())
        .into_keys()
        .find(|k| k.starts_with("teams/") && k.ends_with("__acme.json"))
        .unwrap();
    // The zip: one byte of the team's entry flipped (stored uncompressed so that the byte is
    // the team's), which the entry's CRC reveals.
    let out = env.exec(&["zip", "-d", "data", "-o", "stored.zip", "--zip-level", "0"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let mut bytes = std::fs::read(env.path("stored.zip")).unwrap();
    let json = std::fs::read(env.data().join(&team)).unwrap();
    let at = bytes
        .windows(json.len())
        .position(|w| w == json.as_slice())
        .expect("the team's bytes stored as they are");
    bytes[at + json.len() / 2] ^= 0x20;
    std::fs::write(env.path("flipped.zip"), bytes).unwrap();
    // The data dir: the file cut short.
    std::fs::write(env.data().join(&team), &json[..json.len() / 2]).unwrap();

    std::fs::create_dir_all(env.path("import")).unwrap();
    for src in ["data", "flipped.zip"] {
        for args in [
            &["export", "md", "-d", src, "-o", "all.md"][..],
            &["export", "html", "-d", src, "-o", "site"],
            &["export", "jsonl", src, "-o", "import/matter.jsonl"],
            &[
                "export",
                "hgf",
                "-d",
                src,
                "-c",
                "acme/town-square",
                "-o",
                "t.zip",
            ],
        ] {
            let out = env.exec(args);
            assert_eq!(out.status.code(), Some(1), "{args:?}\n{}", text(&out));
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(err.contains(&team), "{args:?}\n{err}");
        }
    }
    let (code, out) = verify(&env);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&team), "{out}");
}

/// Issue 14, step 1: the engine reads the stored users through the store, which leaves temp
/// files out: a temp file in `users/` named like a user file does not make its username known
/// (before, a channels file naming that user passed the check and the user was never looked up).
#[test]
fn a_temp_file_in_users_does_not_make_a_user_known() {
    let env = Env::backed_up(Scale::Tiny);
    std::fs::write(
        env.data().join("users/.matterbak-tmp-x__nobody-here.json"),
        br#"{"id":"x","username":"nobody-here"}"#,
    )
    .unwrap();
    let mut channels = env.server.with_world(|w| w.sample_channels_json());
    channels["direct"]
        .as_array_mut()
        .unwrap()
        .push("nobody-here".into());
    env.write_channels(&channels);
    let out = env.run(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("\"nobody-here\""), "{err}");
}

/// Issue 14, step 1: a file that parses but is not the object its name says (a post file that
/// holds another post, a user file without an id) is left out with a warning naming it, never
/// without a word.
#[test]
fn a_file_that_is_not_what_its_name_says_is_reported() {
    let env = Env::backed_up(Scale::Tiny);
    let data = tree(&env.data());
    let post = data
        .keys()
        .find(|k| k.starts_with("direct/") && k.matches('/').count() == 2 && k.ends_with(".json"))
        .unwrap()
        .clone();
    std::fs::write(env.data().join(&post), br#"{"id":"someotherpost"}"#).unwrap();
    let user = data
        .keys()
        .find(|k| k.starts_with("users/") && k.ends_with("__bob.json"))
        .unwrap()
        .clone();
    std::fs::write(env.data().join(&user), br#"{"username":"bob"}"#).unwrap();
    let out = env.exec(&["export", "md", "-d", "data", "-o", "all.md"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    for f in [&post, &user] {
        assert!(
            err.contains(f.as_str()) && err.contains("left out"),
            "{f}\n{err}"
        );
    }
}
