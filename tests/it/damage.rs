//! Damage in the data dir (issue 18, parts 2 and 5): nothing there hangs a run (a FIFO where a
//! file belongs is reported with its path, the run goes on and ends partial), the lock is never
//! written through a hard link, and `verify` reports what the exports and the backup would
//! trip over, and does not check a data dir while a backup writes it.

#![cfg(unix)]

use std::os::unix::fs::FileTypeExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use fakemm::Scale;

use crate::util::{hold_lock, stderr, text, verify, walk, watched, Env, HANG};

/// Runs `c` to its end, or kills it and fails the test when it takes [`HANG`].
fn run_timed(c: Command) -> Output {
    watched(c, HANG).out
}

/// A backup run (`extra` arguments, no rate limit) that must not hang.
fn backup_timed(env: &Env, extra: &[&str]) -> Output {
    let mut c = env.cmd();
    c.args(["--rate-limit", "0"]).args(extra);
    run_timed(c)
}

/// `matterbak ARGS` that must not hang.
fn exec_timed(env: &Env, args: &[&str]) -> Output {
    let mut c = env.bare();
    c.args(args);
    run_timed(c)
}

/// Replaces the file at `path` with a FIFO.
fn fifo(path: &Path) {
    std::fs::remove_file(path).unwrap();
    let ok = Command::new("mkfifo").arg(path).status().unwrap().success();
    assert!(ok, "mkfifo {}", path.display());
}

fn is_fifo(path: &Path) -> bool {
    use std::os::unix::fs::FileTypeExt;
    std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_fifo())
}

/// `path` relative to the env's temp dir, as the binary (run there) names it.
fn rel(env: &Env, path: &Path) -> String {
    path.strip_prefix(env.tmp.path())
        .unwrap()
        .to_string_lossy()
        .into_owned()
}

/// Asserts a partial run (exit 3) whose failures name `path` as a FIFO.
fn assert_damage_reported(env: &Env, out: &Output, path: &Path) {
    assert_eq!(out.status.code(), Some(3), "{}", text(out));
    let rel = rel(env, path);
    let e = stderr(out);
    assert!(
        e.lines()
            .any(|l| l.contains(&rel) && l.contains("FIFO") && !l.contains("WARN")),
        "a failure names {rel} as a FIFO:\n{e}"
    );
}

/// The first file below `dir` (in path order) whose name satisfies `pred`.
fn find(dir: &Path, pred: &dyn Fn(&str) -> bool) -> PathBuf {
    let rel = walk(dir)
        .into_iter()
        .find(|(rel, m)| m.is_file() && pred(rel.rsplit('/').next().unwrap()))
        .unwrap_or_else(|| panic!("no such file below {}", dir.display()))
        .0;
    dir.join(rel)
}

/// A post file of a team channel (a JSON file in a folder with a `files/` folder).
fn a_post_file(data: &Path) -> PathBuf {
    let teams = data.join("teams");
    let rel = walk(&teams)
        .into_iter()
        .find(|(rel, m)| {
            let p = teams.join(rel);
            m.is_file() && rel.ends_with(".json") && p.parent().unwrap().join("files").is_dir()
        })
        .unwrap_or_else(|| panic!("no post file below {}", data.display()))
        .0;
    teams.join(rel)
}

#[test]
fn issue18_a_fifo_as_the_state_file_hangs_nothing_and_is_replaced() {
    let env = Env::backed_up(Scale::Tiny);
    let state = env.data().join(".matterbak-state.json");
    fifo(&state);
    let out = backup_timed(&env, &[]);
    assert_damage_reported(&env, &out, &state);
    // The state file is matterbak's own: replaced by a real one, the next run is clean.
    assert!(std::fs::symlink_metadata(&state).unwrap().is_file());
    let out = backup_timed(&env, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn issue18_a_fifo_as_a_user_file_is_reported_and_left_alone() {
    let env = Env::backed_up(Scale::Tiny);
    let user = find(&env.data().join("users"), &|n| n.ends_with(".json"));
    fifo(&user);
    let out = backup_timed(&env, &[]);
    assert_damage_reported(&env, &out, &user);
    assert!(is_fifo(&user), "left alone");
    // verify names it too, and does not hang either.
    let out = exec_timed(&env, &["verify", "-d", "data"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let o = String::from_utf8_lossy(&out.stdout).into_owned();
    let name = user.strip_prefix(env.data()).unwrap().to_string_lossy();
    assert!(o.contains(&format!("{name}: is a FIFO")), "{o}");
}

#[test]
fn issue18_a_fifo_as_a_profile_image_is_reported_and_left_alone() {
    let env = Env::backed_up(Scale::Tiny);
    let image = find(&env.data().join("users"), &|n| n.contains("__image."));
    fifo(&image);
    let out = backup_timed(&env, &[]);
    assert_damage_reported(&env, &out, &image);
    assert!(is_fifo(&image), "left alone");
}

#[test]
fn issue18_a_fifo_as_a_post_file_hangs_neither_backup_nor_verify_nor_zip() {
    let env = Env::backed_up(Scale::Tiny);
    let post = a_post_file(&env.data());
    fifo(&post);
    // An incremental run does not need the post, a full read would write it: both report it.
    for extra in [&[][..], &["--update-old-posts"][..]] {
        let out = backup_timed(&env, extra);
        assert_damage_reported(&env, &out, &post);
        assert!(is_fifo(&post), "left alone");
    }
    let out = exec_timed(&env, &["verify", "-d", "data"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let name = post.strip_prefix(env.data()).unwrap().to_string_lossy();
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("{name}: is a FIFO")),
        "{}",
        text(&out)
    );
    let out = exec_timed(&env, &["zip", "-d", "data", "-o", "again.zip"]);
    assert!(out.status.code().is_some(), "{}", text(&out));
    assert!(stderr(&out).contains(&rel(&env, &post)), "{}", text(&out));
}

#[test]
fn issue18_a_hard_link_as_the_lock_does_not_truncate_what_it_names() {
    let env = Env::new(Scale::Tiny);
    std::fs::create_dir(env.data()).unwrap();
    let precious = env.path("precious.txt");
    std::fs::write(&precious, b"keep me").unwrap();
    let lock = env.data().join(".matterbak.lock");
    std::fs::hard_link(&precious, &lock).unwrap();
    let out = backup_timed(&env, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(std::fs::read(&precious).unwrap(), b"keep me");
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::symlink_metadata(&lock).unwrap();
    assert!(m.is_file() && m.nlink() == 1, "a fresh lock file");
    assert!(stderr(&out).contains("hard link"), "{}", text(&out));
}

#[test]
fn issue18_a_fifo_as_the_lock_is_replaced_by_a_lock_file() {
    let env = Env::new(Scale::Tiny);
    std::fs::create_dir(env.data()).unwrap();
    let lock = env.data().join(".matterbak.lock");
    std::fs::write(&lock, b"").unwrap();
    fifo(&lock);
    let out = backup_timed(&env, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(!is_fifo(&lock), "replaced by a lock file");
    let pid = std::fs::read_to_string(&lock).unwrap();
    assert!(
        pid.parse::<u32>().is_ok(),
        "the lock holds a process id: {pid:?}"
    );
    let out = exec_timed(&env, &["verify", "-d", "data"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
}

#[test]
fn issue18_verify_reports_a_running_backup_instead_of_false_problems() {
    let env = Env::backed_up(Scale::Tiny);
    let mut held = hold_lock(&env.data());
    use std::io::Write;
    held.set_len(0).unwrap();
    write!(held, "4242").unwrap();
    let (code, out) = verify(&env);
    assert_eq!(code, 6, "{out}");
    assert!(
        out.contains("a backup is running") && out.contains("process 4242"),
        "{out}"
    );
    drop(held);
    let (code, out) = verify(&env);
    assert_eq!(code, 0, "{out}");
}

/// The data dir of a finished backup with the folder `rel` replaced by a file: `verify` names it.
fn assert_folder_as_file_reported(env: &Env, rel: &str) {
    let good = env.path("good");
    let data = env.data();
    let _ = std::fs::remove_dir_all(&data);
    let ok = Command::new("cp")
        .arg("-a")
        .arg(&good)
        .arg(&data)
        .status()
        .unwrap()
        .success();
    assert!(ok);
    let p = data.join(rel);
    std::fs::remove_dir_all(&p).unwrap();
    std::fs::write(&p, b"a file").unwrap();
    let (code, out) = verify(env);
    assert_eq!(code, 1, "{rel}: {out}");
    assert!(
        out.lines()
            .any(|l| l.starts_with(&format!("{rel}: is a file where the backup keeps"))),
        "{rel}: {out}"
    );
}

#[test]
fn issue18_verify_reports_folders_replaced_by_files() {
    let env = Env::new(Scale::Tiny);
    env.run_ok(&["--no-zip"]);
    assert_eq!(verify(&env).0, 0, "{}", verify(&env).1);
    std::fs::rename(env.data(), env.path("good")).unwrap();
    let good = env.path("good");
    let channel = a_post_file(&good).parent().unwrap().to_path_buf();
    let team = channel.parent().unwrap().to_path_buf();
    let dm = find(&good.join("direct"), &|n| n.ends_with(".json"))
        .parent()
        .unwrap()
        .to_path_buf();
    let rel = |p: &Path| {
        p.strip_prefix(&good)
            .unwrap()
            .to_string_lossy()
            .into_owned()
    };
    for r in [
        "direct".to_string(),
        "users".to_string(),
        "teams".to_string(),
        rel(&team),
        rel(&channel),
        rel(&dm),
    ] {
        assert_folder_as_file_reported(&env, &r);
    }
}

#[test]
fn issue18_verify_reports_an_unreadable_folder() {
    use std::os::unix::fs::PermissionsExt;
    let env = Env::new(Scale::Tiny);
    env.run_ok(&["--no-zip"]);
    let users = env.data().join("users");
    std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::read_dir(&users).is_ok() {
        // root reads every folder whatever its mode: nothing to test here.
        eprintln!("note: running as root, an unreadable folder cannot be made; skipped");
        std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o700)).unwrap();
        return;
    }
    let (code, out) = verify(&env);
    std::fs::set_permissions(&users, std::fs::Permissions::from_mode(0o700)).unwrap();
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("users: cannot read this folder"), "{out}");
}

#[test]
fn issue18_a_folder_replaced_by_a_file_is_damage_and_the_run_goes_on() {
    let env = Env::backed_up(Scale::Tiny);
    let channel = a_post_file(&env.data()).parent().unwrap().to_path_buf();
    let users = env.data().join("users");
    for dir in [&channel, &users] {
        std::fs::remove_dir_all(dir).unwrap();
        std::fs::write(dir, b"a file").unwrap();
    }
    let out = backup_timed(&env, &["--update-old-posts"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let e = stderr(&out);
    for dir in [&channel, &users] {
        let rel = rel(&env, dir);
        assert!(
            e.lines()
                .any(|l| l.contains(&rel) && l.contains("where matterbak keeps a folder")),
            "{rel} named:\n{e}"
        );
        assert_eq!(std::fs::read(dir).unwrap(), b"a file", "left alone");
    }
    // The rest was backed up: the other channels' posts are there.
    assert!(env.data().join("direct").is_dir());
}

/// A FIFO where the zip goes (outside the data dir) hangs neither `matterbak zip` nor the
/// backup: it is neither read as the previous zip nor replaced (the error names it), and once
/// it is gone the zip is written.
#[test]
fn issue18_a_fifo_as_the_zip_hangs_nothing() {
    let env = Env::new(Scale::Tiny);
    let out = backup_timed(&env, &["--no-zip"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let zip = env.path("out.zip");
    std::fs::write(&zip, b"").unwrap();
    fifo(&zip);
    for out in [
        exec_timed(&env, &["zip", "-d", "data", "-o", "out.zip"]),
        backup_timed(&env, &[]),
    ] {
        assert_eq!(out.status.code(), Some(1), "{}", text(&out));
        assert!(
            stderr(&out).contains("out.zip: is a FIFO"),
            "{}",
            text(&out)
        );
        assert!(std::fs::symlink_metadata(&zip)
            .unwrap()
            .file_type()
            .is_fifo());
    }
    std::fs::remove_file(&zip).unwrap();
    let out = exec_timed(&env, &["zip", "-d", "data", "-o", "out.zip"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(std::fs::symlink_metadata(&zip).unwrap().is_file());
}
