//! Every export of the Demo backup pinned by a digest of its bytes, from the data dir and from
//! the zip: a redesign of the exporters must leave each output byte for byte as it was.
//!
//! The backup of Demo is deterministic (a fixed seed and fixed times), so are the exports, with
//! two exceptions that are masked before hashing: `generated_at` in the HGF zip's
//! `skipped_attachments.json` (the time of the export) and the times of the HGF zip's entries;
//! and the seconds an html export took, in its summary line. The HGF zip is pinned entry by
//! entry (name, compression, content) instead of as a file.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::process::Command;

use fakemm::Scale;

use crate::util::{text, tree, Env};

/// FNV-1a, 64 bits: small, stable, enough to notice a changed byte.
struct Fnv(u64);

impl Fnv {
    fn new() -> Fnv {
        Fnv(0xcbf2_9ce4_8422_2325)
    }
    fn add(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
    }
    /// A part with its length first, so that moving bytes between parts changes the digest.
    fn part(&mut self, bytes: &[u8]) {
        self.add(&(bytes.len() as u64).to_le_bytes());
        self.add(bytes);
    }
    fn hex(&self) -> String {
        format!("{:016x}", self.0)
    }
}

/// The digest of files by relative path (sorted).
fn digest_files(files: &BTreeMap<String, Vec<u8>>) -> String {
    let mut h = Fnv::new();
    for (name, data) in files {
        h.part(name.as_bytes());
        h.part(data);
    }
    h.hex()
}

/// The digest of an HGF zip: each entry in order with its compression method and content;
/// the export's time in `skipped_attachments.json` masked.
fn digest_hgf(path: &Path) -> String {
    let mut zip = zip::ZipArchive::new(std::fs::File::open(path).unwrap()).unwrap();
    let mut h = Fnv::new();
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
        h.part(e.name().as_bytes());
        h.part(format!("{:?}", e.compression()).as_bytes());
        h.part(&data);
    }
    h.hex()
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

fn digest_text(s: &str) -> String {
    let mut h = Fnv::new();
    h.part(s.as_bytes());
    h.hex()
}

/// Every export of the backup at `input` (relative to the env's folder): name -> digest of the
/// output and digest of what it printed.
fn exports(env: &Env, input: &str, channel: &str) -> Vec<(String, String, String)> {
    let tag = input.replace(['.', '/'], "_");
    let out = |name: &str| format!("{tag}-{name}");
    let mut got = Vec::new();
    let mut add = |name: &str, output: String, printed: &str| {
        got.push((
            format!("{input} {name}"),
            output,
            digest_text(&mask_seconds(printed)),
        ));
    };
    let file = |p: &str| {
        let mut m = BTreeMap::new();
        m.insert(String::new(), std::fs::read(env.path(p)).unwrap());
        digest_files(&m)
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
    add("hgf", digest_hgf(&env.path(&hgf)), &p);

    for (name, flags) in [("jsonl", &[][..]), ("jsonl -a", &["-a"][..])] {
        let dir = out(&name.replace(' ', ""));
        let o = format!("{dir}/matter.jsonl");
        let mut args = vec!["export", "jsonl", input, "-o", &o];
        args.extend(flags);
        let p = run(env, &args);
        add(name, digest_files(&tree(&env.path(&dir))), &p);
    }

    let site = out("site");
    let p = run(env, &["export", "html", "-d", input, "-o", &site]);
    add("html", digest_files(&tree(&env.path(&site))), &p);
    got
}

/// (export, digest of the output, digest of what it printed), from the data dir then the zip.
const WANT: &[(&str, &str, &str)] = &[
    ("data md", "8798246b7dbae8c5", "d9c61b24e3ecd694"),
    ("data md --threads", "9bddf1c9186b94c5", "d9c61b24e3ecd694"),
    ("data hgf", "da86e16ed49ae515", "dd2987b8c9a8faf1"),
    ("data jsonl", "d813815436288042", "bc19a74b0607f9b6"),
    ("data jsonl -a", "ebc7fa6770936e99", "d59f18778e45f216"),
    ("data html", "9e2d07a2f1dfd290", "52fd2755f2180585"),
    ("out.zip md", "2e0abb27c113e89d", "d9c61b24e3ecd694"),
    (
        "out.zip md --threads",
        "a01f5aa872d6f49b",
        "d9c61b24e3ecd694",
    ),
    ("out.zip hgf", "da86e16ed49ae515", "fab8f070d6be9a48"),
    ("out.zip jsonl", "d813815436288042", "fc95aecad5e77d79"),
    ("out.zip jsonl -a", "ebc7fa6770936e99", "b4a0f23f86e9fc5c"),
    ("out.zip html", "9e2d07a2f1dfd290", "c830249172a02af5"),
];

#[test]
fn every_export_of_demo_is_byte_for_byte_as_pinned() {
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
    let mut got = exports(&env, "data", &channel);
    got.extend(exports(&env, "out.zip", &channel));
    let table: String = got
        .iter()
        .map(|(n, o, p)| format!("    ({n:?}, {o:?}, {p:?}),\n"))
        .collect();
    let want: String = WANT
        .iter()
        .map(|(n, o, p)| format!("    ({n:?}, {o:?}, {p:?}),\n"))
        .collect();
    assert_eq!(
        table, want,
        "an export changed; if on purpose, pin the new digests:\n{table}"
    );
}
