//! `verify`: checks a data dir without the server: JSON parses, attachments are complete,
//! threads match the posts, no temp files are left.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use super::atomic::TEMP_PREFIX;
use super::layout::{self, SEP};

/// What `verify` found.
#[derive(Debug, Default)]
pub struct Report {
    pub files: usize,
    pub posts: usize,
    pub attachments: usize,
    pub problems: Vec<String>,
}

impl Report {
    fn problem(&mut self, root: &Path, path: &Path, what: impl std::fmt::Display) {
        let rel = path.strip_prefix(root).unwrap_or(path);
        self.problems.push(format!("{}: {what}", rel.display()));
    }
}

fn entries(dir: &Path) -> Vec<(String, PathBuf, bool)> {
    let Ok(rd) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut v: Vec<_> = rd
        .flatten()
        .map(|e| {
            (
                e.file_name().to_string_lossy().into_owned(),
                e.path(),
                e.file_type().is_ok_and(|t| t.is_dir()),
            )
        })
        .collect();
    v.sort();
    v
}

/// Checks the data dir at `root`.
pub fn verify(root: &Path) -> Report {
    let mut r = Report::default();
    if !root.is_dir() {
        r.problems
            .push(format!("{}: not a directory", root.display()));
        return r;
    }
    // Every file: no temp files, JSON parses.
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for (name, path, is_dir) in entries(&d) {
            if is_dir {
                stack.push(path);
                continue;
            }
            r.files += 1;
            if name.starts_with(TEMP_PREFIX) {
                r.problem(
                    root,
                    &path,
                    "temp file left by an interrupted run (the next backup removes it)",
                );
            } else if name.ends_with(".json") {
                let ok = std::fs::read(&path)
                    .ok()
                    .is_some_and(|b| serde_json::from_slice::<serde_json::Value>(&b).is_ok());
                if !ok {
                    r.problem(root, &path, "not valid JSON");
                }
            }
        }
    }
    // Every channel folder: posts, attachments, threads.
    let mut parents = vec![root.join(layout::DIRECT), root.join(layout::GROUPS)];
    for (_, team, is_dir) in entries(&root.join(layout::TEAMS)) {
        if is_dir {
            parents.push(team);
        }
    }
    for parent in parents {
        for (name, posts_dir, is_dir) in entries(&parent) {
            if is_dir && name.contains(SEP) {
                check_channel(&mut r, root, &parent, &name, &posts_dir);
            }
        }
    }
    r
}

fn read_json(path: &Path) -> Option<serde_json::Value> {
    serde_json::from_slice(&std::fs::read(path).ok()?).ok()
}

fn check_channel(r: &mut Report, root: &Path, parent: &Path, base: &str, posts_dir: &Path) {
    // posts: one file per id, the id in the name is the id in the file
    let mut root_of: BTreeMap<String, String> = BTreeMap::new();
    let mut ids: BTreeSet<String> = BTreeSet::new();
    for (name, path, is_dir) in entries(posts_dir) {
        let Some(id) = layout::post_id_of(&name).filter(|_| !is_dir && name.contains(SEP)) else {
            continue;
        };
        r.posts += 1;
        let Some(v) = read_json(&path) else { continue };
        if v.get("id").and_then(|x| x.as_str()) != Some(id) {
            r.problem(
                root,
                &path,
                format!(
                    "holds post {}, not {id}",
                    v.get("id").unwrap_or(&serde_json::Value::Null)
                ),
            );
        }
        if !ids.insert(id.to_string()) {
            r.problem(root, &path, format!("a second file of post {id}"));
        }
        if let Some(rt) = v
            .get("root_id")
            .and_then(|x| x.as_str())
            .filter(|x| !x.is_empty())
        {
            root_of.insert(id.to_string(), rt.to_string());
        }
    }
    // attachments: complete, with the size of their file info
    let files_dir = posts_dir.join(layout::FILES);
    let all = entries(&files_dir);
    for (name, path, _) in &all {
        let Some(fid) = name.strip_suffix(".json").filter(|f| !f.contains(SEP)) else {
            continue;
        };
        let Some(info) = read_json(path) else {
            continue;
        };
        let size = info.get("size").and_then(|s| s.as_i64()).unwrap_or(-1);
        let prefix = format!("{fid}{SEP}");
        match all.iter().find(|(n, _, d)| !d && n.starts_with(&prefix)) {
            None => r.problem(
                root,
                path,
                format!(
                    "attachment {fid} ({}) is missing",
                    info.get("name").and_then(|n| n.as_str()).unwrap_or("?")
                ),
            ),
            Some((_, p, _)) => {
                r.attachments += 1;
                let len = std::fs::metadata(p).map(|m| m.len() as i64).unwrap_or(-1);
                if size >= 0 && len != size {
                    r.problem(root, p, format!("{len} bytes, its file info gives {size}"));
                }
            }
        }
    }
    // threads: every listed post exists, every reply is listed under its root
    let tpath = parent.join(format!("{base}{SEP}threads.json"));
    let threads: BTreeMap<String, Vec<String>> = match std::fs::read(&tpath) {
        Ok(b) => serde_json::from_slice(&b).unwrap_or_default(),
        Err(_) => {
            if !root_of.is_empty() {
                r.problem(root, &tpath, "missing, but the channel has replies");
            }
            return;
        }
    };
    for (rt, replies) in &threads {
        if !ids.contains(rt) {
            r.problem(root, &tpath, format!("thread root {rt} has no post file"));
        }
        for reply in replies {
            if !ids.contains(reply) {
                r.problem(root, &tpath, format!("reply {reply} has no post file"));
            }
        }
    }
    for (reply, rt) in &root_of {
        if !threads.get(rt).is_some_and(|l| l.contains(reply)) {
            r.problem(
                root,
                &tpath,
                format!("reply {reply} is not listed under its root {rt}"),
            );
        }
    }
}
