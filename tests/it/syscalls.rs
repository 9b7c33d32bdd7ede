//! Kernel work per post (issue 15, item 4): a new post's file is written in its channel's
//! folder held open, with four system calls and no path lookup beyond its own name: create the
//! temp file (`openat` on the folder), write, rename into place (`renameat2` with
//! `RENAME_NOREPLACE`, which also keeps a link there alone), close. Traced with `strace`.

#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::process::Command;

use fakemm::Scale;

use crate::util::{require_tool, text, walk, Env};

/// Is this a post's file name (`YYYYMMDD-HHMMSSmmmuuu__<id>.json`)?
fn is_post_file(name: &str) -> bool {
    let b = name.as_bytes();
    name.ends_with(".json")
        && b.len() > 24
        && b[..8].iter().all(u8::is_ascii_digit)
        && b[8] == b'-'
        && b[9..21].iter().all(u8::is_ascii_digit)
        && &name[21..23] == "__"
}

/// The first argument of a traced call (`openat(8, "x", ...)` -> `8`).
fn first_arg(line: &str) -> &str {
    line.split_once('(')
        .map_or("", |(_, rest)| rest.split([',', ')']).next().unwrap_or(""))
}

#[test]
fn a_new_post_file_costs_four_system_calls_in_a_folder_held_open() {
    if require_tool(&["strace"], "strace").is_none() {
        return;
    }
    let env = Env::new(Scale::Tiny);
    let mut c = Command::new("strace");
    env.hermetic(&mut c);
    c.args(["-f", "-ff", "-qq", "-o", "trace", "--"])
        .arg(env!("CARGO_BIN_EXE_matterbak"))
        .args([
            "--credentials",
            "credentials.json",
            "--channels",
            "channels.json",
            "-d",
            "data",
            "--no-zip",
            "--rate-limit",
            "0",
        ]);
    let out = c.output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));

    let posts: Vec<String> = walk(&env.data())
        .into_keys()
        .map(|k| k.rsplit('/').next().unwrap().to_owned())
        .filter(|name| is_post_file(name))
        .collect();
    assert!(posts.len() >= 20, "{} post files", posts.len());
    // Each thread's calls, in order.
    let mut threads: Vec<Vec<String>> = Vec::new();
    for e in std::fs::read_dir(env.path("")).unwrap().flatten() {
        if e.file_name().to_string_lossy().starts_with("trace.") {
            let t = std::fs::read_to_string(e.path()).unwrap();
            threads.push(t.lines().map(str::to_string).collect());
        }
    }
    let mut per_post: BTreeMap<usize, usize> = BTreeMap::new();
    for post in &posts {
        let quoted = format!("\"{post}\"");
        let naming: Vec<(usize, usize)> = threads
            .iter()
            .enumerate()
            .flat_map(|(t, lines)| {
                lines
                    .iter()
                    .enumerate()
                    .filter(|(_, l)| l.contains(post.as_str()))
                    .map(move |(i, _)| (t, i))
            })
            .collect();
        // Its name appears once: in the rename, relative to the folder (no stat, no lookup of
        // the whole path).
        assert_eq!(naming.len(), 1, "calls naming {post}: {naming:?}");
        let (t, i) = naming[0];
        let lines = &threads[t];
        let rename = &lines[i];
        assert!(
            rename.starts_with("renameat2(") && rename.contains(&quoted),
            "{rename}"
        );
        let dirfd = first_arg(rename);
        assert!(dirfd.parse::<u32>().is_ok(), "{rename}");
        // The temp file's creation: the last openat before, on the same folder.
        let tmp = rename
            .split('"')
            .nth(1)
            .expect("the temp file's name")
            .to_string();
        let open = (0..i)
            .rev()
            .find(|&j| lines[j].starts_with("openat(") && lines[j].contains(&tmp))
            .unwrap_or_else(|| panic!("no openat of {tmp} before {rename}"));
        assert_eq!(first_arg(&lines[open]), dirfd, "{}", lines[open]);
        let fd = lines[open].rsplit("= ").next().unwrap().trim().to_string();
        let close = (i..lines.len())
            .find(|&j| {
                lines[j] == format!("close({fd}) = 0")
                    || lines[j].starts_with(&format!("close({fd})"))
            })
            .unwrap_or_else(|| panic!("no close({fd}) after {rename}"));
        // A debug build's std checks an fd before closing it (`fcntl(F_GETFD)`); not in release.
        let calls = lines[open..=close]
            .iter()
            .filter(|l| !l.starts_with(&format!("fcntl({fd}, F_GETFD)")))
            .count();
        *per_post.entry(calls).or_default() += 1;
    }
    assert_eq!(
        per_post.keys().copied().collect::<Vec<_>>(),
        [4],
        "system calls per new post file -> how many post files: {per_post:?}"
    );
}
