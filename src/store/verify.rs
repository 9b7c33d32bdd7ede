//! `verify`: checks a data dir without the server: JSON parses, attachments are complete,
//! threads match the posts, no temp files are left.
//!
//! Nothing large is read whole: a JSON file over 8 MiB is parsed as it streams by from a buffered
//! reader (a file that is only checked for syntax is skipped through, not held), the files whose
//! fields are compared have a size limit far above what the server sends, and attachments are
//! opaque bytes measured by their metadata against their file info's size, never read. Memory
//! stays small whatever the files hold; it grows only with the number of posts of one channel.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::io::{BufReader, Read};
use std::path::{Path, PathBuf};

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Deserialize;
use serde_json::Value;

use super::atomic::TEMP_PREFIX;
use super::depth::{self, MAX_DEPTH};
use super::layout::{self, FilesEntry};
use super::read::MAX_POST;
/// Largest file info read (the server's are well under a kilobyte).
const MAX_FILE_INFO: u64 = 1 << 20;
/// A threads file names each post at most once (an id is 26 characters): this many bytes per
/// post of the channel, with room for stale entries, are more than a real one needs.
const THREADS_BYTES_PER_POST: u64 = 128;
/// JSON files up to this size are read whole and parsed from memory (fast); larger ones are
/// parsed as they stream by from a buffered reader (slower, but in constant memory).
const IN_MEMORY: u64 = 8 << 20;
/// Read buffer of the streamed JSON checks.
const BUF: usize = 64 << 10;

/// What `verify` found.
#[derive(Debug, Default)]
pub struct Report {
    pub files: usize,
    pub posts: usize,
    pub attachments: usize,
    pub problems: Vec<String>,
    /// What a healthy backup can show too (the server decides what it lists): said, but not a
    /// problem.
    pub notes: Vec<String>,
}

impl Report {
    fn problem(&mut self, root: &Path, path: &Path, what: impl std::fmt::Display) {
        let rel = path.strip_prefix(root).unwrap_or(path);
        self.problems.push(format!("{}: {what}", rel.display()));
    }

    fn note(&mut self, root: &Path, path: &Path, what: impl std::fmt::Display) {
        let rel = path.strip_prefix(root).unwrap_or(path);
        self.notes.push(format!("{}: {what}", rel.display()));
    }
}

/// One entry of a folder, with what its metadata says (links are not followed).
struct Ent {
    name: String,
    path: PathBuf,
    is_dir: bool,
    /// What it is when it is neither a folder nor a regular file (`a FIFO (named pipe)`,
    /// `a symbolic link`, ...).
    odd: Option<&'static str>,
    len: u64,
}

/// The entries of `dir`, sorted by name. A folder that cannot be read is a problem (a missing
/// one is not; one that is a file is reported by [`check_folders`]).
fn entries(r: &mut Report, root: &Path, dir: &Path) -> Vec<Ent> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e)
            if matches!(
                e.kind(),
                std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory
            ) =>
        {
            return Vec::new()
        }
        Err(e) => {
            r.problem(
                root,
                dir,
                format!(
                    "cannot read this folder ({e}): backup, zip and exports miss what it holds"
                ),
            );
            return Vec::new();
        }
    };
    let mut v: Vec<Ent> = rd
        .flatten()
        .map(|e| {
            let meta = e.metadata().ok();
            let t = meta.as_ref().map(|m| m.file_type());
            Ent {
                name: e.file_name().to_string_lossy().into_owned(),
                path: e.path(),
                is_dir: t.is_some_and(|t| t.is_dir()),
                odd: t
                    .filter(|t| !t.is_dir() && !t.is_file())
                    .map(super::links::kind_of),
                len: meta.map_or(0, |m| m.len()),
            }
        })
        .collect();
    v.sort_by(|a, b| a.name.cmp(&b.name));
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
    check_folders(&mut r, root);
    // The channel folders, checked file by file below; everything else is checked here.
    let mut parents = vec![root.join(layout::DIRECT), root.join(layout::GROUPS)];
    for e in entries(&mut r, root, &root.join(layout::TEAMS)) {
        if e.is_dir {
            parents.push(e.path);
        }
    }
    let mut channels = Vec::new();
    for parent in &parents {
        // (An unreadable one is reported by the walk below.)
        for e in entries(&mut Report::default(), root, parent) {
            if e.is_dir && layout::is_object_base(&e.name) {
                channels.push((parent.clone(), e.name, e.path));
            }
        }
    }
    let skip: HashSet<PathBuf> = channels.iter().map(|(_, _, p)| p.clone()).collect();
    walk(&mut r, root, root, &skip);
    let mut posts_below: HashMap<&Path, usize> = HashMap::new();
    for (parent, name, posts_dir) in &channels {
        let before = r.posts;
        check_channel(&mut r, root, parent, name, posts_dir);
        if r.posts > before {
            check_object_file(&mut r, root, parent, name, "channel");
            *posts_below.entry(parent).or_default() += r.posts - before;
        }
    }
    for team_dir in &parents[2..] {
        if let (Some(name), true) = (team_dir.file_name(), posts_below.contains_key(&**team_dir)) {
            let name = name.to_string_lossy();
            check_object_file(&mut r, root, &root.join(layout::TEAMS), &name, "team");
        }
    }
    r
}

/// The object file `<base>.json` of the team or channel folder `base` in `dir`, whose folder
/// holds posts: a problem when it is missing, not a regular file or unreadable (the exports keep
/// the posts under a placeholder, and report the file).
fn check_object_file(r: &mut Report, root: &Path, dir: &Path, base: &str, what: &str) {
    let path = dir.join(layout::object_file(base));
    let why = match std::fs::symlink_metadata(&path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => "missing".to_string(),
        Err(e) => format!("cannot be read ({e})"),
        Ok(m) if !m.is_file() => "not a regular file (a link, a folder, a FIFO, ...)".into(),
        Ok(_) => match super::links::open_file(&path) {
            Ok(_) => return,
            Err(e) => format!("cannot be read ({e})"),
        },
    };
    r.problem(
        root,
        &path,
        format!(
            "{why}, but its {what}'s folder holds posts (the exports keep them under a \
             placeholder {what} named from the folder)"
        ),
    );
}

/// The folders the backup keeps, as the exports and the next backup need them: `direct/`,
/// `groups/`, `users/`, `emojis/` and `teams/` are folders where they exist, and so is the
/// folder beside each team's and channel's JSON (`<id>__<name>` beside `<id>__<name>.json`).
/// Something else there (a file, a FIFO) hides what the backup holds from the exports and
/// stops the next backup of it.
fn check_folders(r: &mut Report, root: &Path) {
    let top = [
        layout::DIRECT,
        layout::GROUPS,
        layout::USERS,
        layout::EMOJIS,
        layout::TEAMS,
    ];
    for name in top {
        let path = root.join(name);
        if let Ok(m) = std::fs::symlink_metadata(&path) {
            if !m.is_dir() {
                let kind = match m.is_file() {
                    true => "a file",
                    false => super::links::kind_of(m.file_type()),
                };
                r.problem(
                    root,
                    &path,
                    format!("is {kind} where the backup keeps a folder"),
                );
            }
        }
    }
    let mut parents = vec![root.join(layout::TEAMS)];
    for name in [layout::DIRECT, layout::GROUPS] {
        parents.push(root.join(name));
    }
    for e in entries(&mut Report::default(), root, &root.join(layout::TEAMS)) {
        if e.is_dir {
            parents.push(e.path);
        }
    }
    for parent in &parents {
        let all = entries(&mut Report::default(), root, parent);
        let names: HashSet<&str> = all.iter().map(|e| e.name.as_str()).collect();
        for e in all.iter().filter(|e| !e.is_dir) {
            let json = format!("{}.json", e.name);
            if layout::is_object_base(&e.name) && names.contains(json.as_str()) {
                let kind = e.odd.unwrap_or("a file");
                r.problem(
                    root,
                    &e.path,
                    format!("is {kind} where the backup keeps the folder of {json}"),
                );
            }
        }
    }
}

/// Every file below `dir` (but the folders in `skip`): no temp files, JSON parses.
fn walk(r: &mut Report, root: &Path, dir: &Path, skip: &HashSet<PathBuf>) {
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in entries(r, root, &d) {
            if e.is_dir {
                if !skip.contains(&e.path) {
                    stack.push(e.path);
                }
                continue;
            }
            check_file(r, root, &e);
        }
    }
}

/// Reports an entry that is neither a folder nor a regular file (a FIFO, a socket, a link):
/// backup, zip and exports leave it out. Returns whether it was one.
fn odd(r: &mut Report, root: &Path, e: &Ent) -> bool {
    let Some(kind) = e.odd else {
        return false;
    };
    r.problem(
        root,
        &e.path,
        format!(
            "is {kind}, not a regular file: backup, zip and exports leave it out (remove it; the next backup writes the file again)"
        ),
    );
    true
}

/// A file whose content is only checked for syntax.
fn check_file(r: &mut Report, root: &Path, e: &Ent) {
    r.files += 1;
    if odd(r, root, e) {
        return;
    }
    if e.name.starts_with(TEMP_PREFIX) {
        r.problem(
            root,
            &e.path,
            "temp file left by an interrupted run (the next backup removes it)",
        );
    } else if e.name.ends_with(".json") {
        if let Err(why) = json_syntax(&e.path, e.len) {
            r.problem(root, &e.path, why);
        }
    }
}

/// Parses a JSON file (`len` bytes by its metadata), keeping nothing of it.
fn json_syntax(path: &Path, len: u64) -> Result<(), String> {
    if len <= IN_MEMORY {
        return parse_capped::<IgnoredAny>(path, len, IN_MEMORY).map(|_| ());
    }
    let f = super::links::open_file(path).map_err(|e| format!("cannot read it: {e}"))?;
    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(BUF, f));
    IgnoredAny::deserialize(&mut de)
        .and_then(|_| de.end())
        .map_err(|e| format!("not valid JSON ({e})"))
}

/// Parses a JSON file of at most `max` bytes (`len` from its metadata) into `T`, from memory.
fn parse_capped<T: DeserializeOwned>(path: &Path, len: u64, max: u64) -> Result<T, String> {
    let bytes = read_capped(path, len, max)?;
    serde_json::from_slice(&bytes).map_err(|e| format!("not valid JSON ({e})"))
}

/// A post file's head as the exports read the post ([`depth::within_depth`], [`MAX_POST`]),
/// and whether parts nested too deep were left out.
fn parse_post(path: &Path, len: u64) -> Result<(PostHead, bool), String> {
    let bytes = read_capped(path, len, MAX_POST)?;
    let json = depth::within_depth(&bytes).map_err(|e| format!("not valid JSON ({e})"))?;
    let head = serde_json::from_slice(&json).map_err(|e| format!("not valid JSON ({e})"))?;
    let cut = matches!(json, std::borrow::Cow::Owned(_));
    Ok((head, cut))
}

/// The content of a file of at most `max` bytes (`len` from its metadata).
fn read_capped(path: &Path, len: u64, max: u64) -> Result<Vec<u8>, String> {
    if len > max {
        return Err(format!(
            "{len} bytes, more than the {max} bytes such a file can have; not read"
        ));
    }
    let f = super::links::open_file(path).map_err(|e| format!("cannot read it: {e}"))?;
    // At most `max` bytes, whatever the file grew to since its metadata was read.
    let mut bytes = Vec::with_capacity(len as usize);
    f.take(max + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| format!("cannot read it: {e}"))?;
    if bytes.len() as u64 > max {
        return Err(format!(
            "more than the {max} bytes such a file can have; not read"
        ));
    }
    Ok(bytes)
}

/// The fields of a post file that are compared.
#[derive(Deserialize)]
struct PostHead {
    #[serde(default)]
    id: Value,
    #[serde(default)]
    root_id: Value,
}

/// The fields of a file info that are compared.
#[derive(Deserialize)]
struct InfoHead {
    #[serde(default)]
    size: Option<i64>,
    #[serde(default)]
    name: Option<String>,
}

fn check_channel(r: &mut Report, root: &Path, parent: &Path, base: &str, posts_dir: &Path) {
    // posts: one file per id, the id in the name is the id in the file
    let mut root_of: BTreeMap<String, String> = BTreeMap::new();
    let mut ids: BTreeSet<String> = BTreeSet::new();
    let mut post_files: BTreeMap<String, std::path::PathBuf> = BTreeMap::new();
    let skip = HashSet::new();
    for e in entries(r, root, posts_dir) {
        if e.is_dir {
            if e.name == layout::FILES {
                check_files(r, root, &e.path);
            } else {
                if e.name == layout::HISTORY {
                    // As for the posts: the exports read no larger history.
                    for h in entries(&mut Report::default(), root, &e.path)
                        .iter()
                        .filter(|h| h.len > MAX_POST)
                    {
                        r.problem(
                            root,
                            &h.path,
                            format!("{} bytes, more than the {MAX_POST} bytes a post's history can have; the exports leave it out", h.len),
                        );
                    }
                }
                // history/ and folders of other tools: syntax only
                walk(r, root, &e.path, &skip);
            }
            continue;
        }
        let post_id = layout::post_file_id(&e.name);
        let Some(id) = post_id else {
            check_file(r, root, &e);
            continue;
        };
        r.files += 1;
        r.posts += 1;
        if odd(r, root, &e) {
            continue;
        }
        let head: PostHead = match parse_post(&e.path, e.len) {
            Ok((h, cut)) => {
                if cut {
                    r.note(
                        root,
                        &e.path,
                        format!(
                            "nested more than {MAX_DEPTH} levels deep: the exports read it \
                             without the deeper parts"
                        ),
                    );
                }
                h
            }
            Err(why) => {
                r.problem(root, &e.path, why);
                continue;
            }
        };
        if head.id.as_str() != Some(id) {
            r.problem(root, &e.path, format!("holds post {}, not {id}", head.id));
        }
        if !ids.insert(id.to_string()) {
            r.problem(root, &e.path, format!("a second file of post {id}"));
        }
        if let Some(rt) = head.root_id.as_str().filter(|x| !x.is_empty()) {
            root_of.insert(id.to_string(), rt.to_string());
        }
        post_files.insert(id.to_string(), e.path.clone());
    }
    check_phantoms(r, root, posts_dir, &post_files);
    // threads: every listed post exists, every reply is listed under its root
    let tpath = parent.join(layout::threads_file(base));
    let Ok(meta) = std::fs::symlink_metadata(&tpath) else {
        if !root_of.is_empty() {
            r.problem(root, &tpath, "missing, but the channel has replies");
        }
        return;
    };
    // Its syntax was checked with the folder above; the original's older format (a list of
    // lists) is read as empty, and so are unreadable ones.
    let max = THREADS_BYTES_PER_POST * (ids.len() as u64 + 64);
    let threads: BTreeMap<String, Vec<String>> = match parse_capped(&tpath, meta.len(), max) {
        Ok(t) => t,
        Err(why) if meta.len() > max => {
            r.problem(
                root,
                &tpath,
                format!("{why} (the channel has {} posts)", ids.len()),
            );
            return;
        }
        Err(_) => BTreeMap::new(),
    };
    for (rt, replies) in &threads {
        // A root the server never listed (it leaves out posts a user may not see, filtered
        // or removed by a retention policy) while it listed replies: the backup has what the
        // server showed.
        if !ids.contains(rt) {
            r.note(
                root,
                &tpath,
                format!(
                    "thread root {rt} has no post file (the server did not list it; its \
                     replies are kept)"
                ),
            );
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

/// Earlier versions equal to the next one (phantom edits: an older matterbak recorded one when
/// a server upgrade changed a field's shape) are a note: nothing is lost, the exports and
/// search leave them out ([`super::content::real_versions`]), and a later run adds none.
fn check_phantoms(
    r: &mut Report,
    root: &Path,
    posts_dir: &Path,
    post_files: &BTreeMap<String, std::path::PathBuf>,
) {
    let dir = posts_dir.join(layout::HISTORY);
    // Damage there is reported by the walk of the folder.
    for h in entries(&mut Report::default(), root, &dir)
        .iter()
        .filter(|h| !h.is_dir && h.len <= MAX_POST)
    {
        let Some(post) = h
            .name
            .strip_suffix(".json")
            .and_then(|id| post_files.get(id))
        else {
            continue;
        };
        let read = |p: &Path| -> Option<Value> {
            let len = std::fs::symlink_metadata(p).ok()?.len();
            parse_capped::<Value>(p, len, MAX_POST).ok()
        };
        let (Some(history), Some(post)) = (read(&h.path), read(post)) else {
            continue;
        };
        let versions = history
            .get("versions")
            .and_then(Value::as_array)
            .map_or(&[][..], Vec::as_slice);
        let (_, phantoms) = super::content::real_versions(versions, &post);
        if phantoms > 0 {
            r.note(
                root,
                &h.path,
                format!(
                    "{phantoms} earlier version(s) the same as the next one (phantom edits,                      e.g. recorded across a server upgrade by an older matterbak): the exports                      and search leave them out"
                ),
            );
        }
    }
}

/// A channel's `files/`: every file info parses and its attachment is there, as large as the
/// file info says. Attachments are opaque (a `config.json` need not hold JSON) and not read.
fn check_files(r: &mut Report, root: &Path, dir: &Path) {
    let all = entries(r, root, dir);
    let mut stored: HashMap<&str, &Ent> = HashMap::new();
    for e in &all {
        if e.is_dir {
            walk(r, root, &e.path, &HashSet::new());
        } else if let FilesEntry::Attachment(fid, _) = FilesEntry::parse(&e.name) {
            r.files += 1;
            odd(r, root, e);
            stored.entry(fid).or_insert(e);
        }
    }
    for e in all.iter().filter(|e| !e.is_dir) {
        let fid = match FilesEntry::parse(&e.name) {
            FilesEntry::Info(fid) => fid,
            FilesEntry::Attachment(..) => continue,
            FilesEntry::Other => {
                check_file(r, root, e);
                continue;
            }
        };
        r.files += 1;
        if odd(r, root, e) {
            continue;
        }
        let info: InfoHead = match parse_capped(&e.path, e.len, MAX_FILE_INFO) {
            Ok(i) => i,
            Err(why) => {
                r.problem(root, &e.path, why);
                continue;
            }
        };
        let size = info.size.unwrap_or(-1);
        match stored.get(fid) {
            None => r.problem(
                root,
                &e.path,
                format!(
                    "attachment {fid} ({}) is missing",
                    info.name.as_deref().unwrap_or("?")
                ),
            ),
            Some(a) => {
                r.attachments += 1;
                if a.odd.is_none() && size >= 0 && a.len != size as u64 {
                    r.problem(
                        root,
                        &a.path,
                        format!("{} bytes, its file info gives {size}", a.len),
                    );
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn put(root: &Path, rel: &str, data: &[u8]) {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, data).unwrap();
    }

    #[test]
    fn attachments_are_opaque_whatever_their_name() {
        let d = tempfile::tempdir().unwrap();
        let c = "direct/cid__bob";
        put(d.path(), "direct/cid__bob.json", b"{}");
        put(
            d.path(),
            &format!("{c}/20240101-000000000000__p1.json"),
            br#"{"id":"p1","file_ids":["f1","f2"]}"#,
        );
        put(d.path(), "direct/cid__bob__threads.json", b"{}");
        put(d.path(), &format!("{c}/files/f1.json"), br#"{"size":5}"#);
        put(d.path(), &format!("{c}/files/f1__payload.json"), b"not{j");
        put(d.path(), &format!("{c}/files/f2.json"), br#"{"size":2}"#);
        put(d.path(), &format!("{c}/files/f2__x__members.json"), b"{}");
        let r = verify(d.path());
        assert!(r.problems.is_empty(), "{:?}", r.problems);
        assert_eq!((r.posts, r.attachments, r.files), (1, 2, 7));

        put(d.path(), &format!("{c}/files/f2__x__members.json"), b"{} ");
        put(d.path(), &format!("{c}/files/f3.json"), b"{");
        let r = verify(d.path());
        assert_eq!(r.problems.len(), 2, "{:?}", r.problems);
        assert!(r.problems[0].contains("3 bytes, its file info gives 2"));
        assert!(r.problems[1].contains("f3.json: not valid JSON"));
    }

    #[test]
    fn an_oversized_post_file_is_reported_without_reading_it() {
        let d = tempfile::tempdir().unwrap();
        let p = d
            .path()
            .join("direct/cid__bob/20240101-000000000000__p1.json");
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        // A sparse file: 32 MiB of NULs that take no space and are never read.
        std::fs::write(d.path().join("direct/cid__bob.json"), b"{}").unwrap();
        let f = std::fs::File::create(&p).unwrap();
        f.set_len(MAX_POST * 2).unwrap();
        let r = verify(d.path());
        assert_eq!(r.problems.len(), 1, "{:?}", r.problems);
        assert!(r.problems[0].contains("not read"), "{:?}", r.problems);
        // A history as large: the exports leave it out too.
        let h = d.path().join("direct/cid__bob/history/p1.json");
        std::fs::create_dir_all(h.parent().unwrap()).unwrap();
        std::fs::File::create(&h)
            .unwrap()
            .set_len(MAX_POST + 1)
            .unwrap();
        let r = verify(d.path());
        assert_eq!(r.problems.len(), 3, "{:?}", r.problems);
        assert!(
            r.problems[1].contains("history/p1.json: 16777217 bytes"),
            "{:?}",
            r.problems
        );
    }
}
