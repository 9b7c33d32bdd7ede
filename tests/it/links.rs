//! Symbolic links, modes and the lock (issue 13, item 6): nothing matterbak writes follows a
//! link inside the data dir; folders are 0700, files and the lock 0600; the lock comes before
//! the first request.

#![cfg(unix)]

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};

use fakemm::Scale;

use crate::util::{hold_lock, stderr, text, tree, Env};

/// A folder outside the data dir with one file in it, and its content.
fn outside(env: &Env) -> (PathBuf, std::collections::BTreeMap<String, Vec<u8>>) {
    let dir = env.path("outside");
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("precious.txt"), b"root:x:0:0:root:/root:/bin/sh\n").unwrap();
    let before = tree(&dir);
    (dir, before)
}

/// The folder of one channel (a folder holding `files/`) below `data/<kind>`.
fn a_channel_folder(data: &Path) -> PathBuf {
    let mut stack = vec![data.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                if e.path().join("files").is_dir() {
                    return e.path();
                }
                stack.push(e.path());
            }
        }
    }
    panic!("no channel folder in {}", data.display())
}

/// Asserts a partial run that warned about the link `rel` (relative to the temp dir).
fn assert_link_reported(out: &std::process::Output, rel: &str) {
    assert_eq!(out.status.code(), Some(3), "{}", text(out));
    let e = stderr(out);
    let warned: Vec<&str> = e
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("symbolic link"))
        .collect();
    assert_eq!(warned.len(), 1, "one warning: {e}");
    assert!(warned[0].contains(rel), "the warning names {rel}: {e}");
}

#[test]
fn a_users_folder_that_is_a_link_is_left_alone() {
    let env = Env::new(Scale::Tiny);
    let (dir, before) = outside(&env);
    std::fs::create_dir(env.data()).unwrap();
    symlink(&dir, env.data().join("users")).unwrap();
    // (--no-zip: what the zip makes of links is a test of its own)
    let out = env.run(&["--no-zip"]);
    assert_link_reported(&out, "data/users");
    assert_eq!(tree(&dir), before, "nothing written outside the data dir");
    assert!(std::fs::symlink_metadata(env.data().join("users"))
        .unwrap()
        .file_type()
        .is_symlink());
    // the channels were backed up all the same
    assert!(tree(&env.data()).keys().any(|k| k.starts_with("direct/")));
}

#[test]
fn a_channel_folder_that_is_a_link_is_not_written() {
    let env = Env::backed_up(Scale::Tiny);
    let (dir, before) = outside(&env);
    let chan = a_channel_folder(&env.data());
    std::fs::remove_dir_all(&chan).unwrap();
    symlink(&dir, &chan).unwrap();
    let out = env.run(&["--update-old-posts", "--no-zip"]);
    let rel = chan.strip_prefix(env.tmp.path()).unwrap().to_str().unwrap();
    assert_link_reported(&out, rel);
    assert_eq!(tree(&dir), before, "nothing written outside the data dir");
    assert!(std::fs::symlink_metadata(&chan)
        .unwrap()
        .file_type()
        .is_symlink());
}

#[test]
fn a_post_file_that_is_a_link_is_neither_read_nor_replaced() {
    let env = Env::backed_up(Scale::Tiny);
    let (dir, before) = outside(&env);
    let chan = a_channel_folder(&env.data());
    let post = std::fs::read_dir(&chan)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| p.is_file() && p.extension().is_some_and(|x| x == "json"))
        .expect("a post file");
    std::fs::remove_file(&post).unwrap();
    symlink(dir.join("precious.txt"), &post).unwrap();
    // An incremental run does not write the post again: the link is only reported.
    let out = env.run(&["--no-zip"]);
    let rel = post.strip_prefix(env.tmp.path()).unwrap().to_str().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        stderr(&out).contains(&format!("{rel} is a symbolic link")),
        "{}",
        text(&out)
    );
    // A full read would write it: that channel is left out of this run.
    let out = env.run(&["--update-old-posts", "--no-zip"]);
    assert_link_reported(&out, rel);
    assert_eq!(tree(&dir), before, "the link's target is untouched");
    assert!(
        std::fs::symlink_metadata(&post)
            .unwrap()
            .file_type()
            .is_symlink(),
        "not replaced"
    );
    let leaked = tree(&env.data())
        .values()
        .any(|b| b.windows(9).any(|w| w == b"root:x:0:"));
    assert!(!leaked, "the target's content was read into the backup");
}

#[test]
fn a_lock_file_that_is_a_link_is_not_followed() {
    let env = Env::new(Scale::Tiny);
    let (dir, before) = outside(&env);
    std::fs::create_dir(env.data()).unwrap();
    symlink(dir.join("precious.txt"), env.data().join(".matterbak.lock")).unwrap();
    let out = env.run(&[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    let e = stderr(&out);
    assert!(
        e.contains(".matterbak.lock") && e.contains("symbolic link"),
        "{e}"
    );
    assert_eq!(tree(&dir), before, "the lock's target is not truncated");
    assert_eq!(env.server.total_requests(), 0);
}

#[test]
fn a_locked_data_dir_is_refused_before_any_request() {
    let env = Env::new(Scale::Tiny);
    // Another run holds the lock.
    let held = hold_lock(&env.data());
    let out = env.run(&[]);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    assert!(stderr(&out).contains("another matterbak"), "{}", text(&out));
    assert_eq!(env.server.total_requests(), 0, "no request before the lock");
    drop(held);
}

#[test]
fn a_second_run_beside_a_running_one_makes_no_request() {
    let env = Env::new(Scale::Tiny);
    // The first run holds the lock while it waits out its initial jitter (no request yet).
    let mut first = env
        .cmd()
        .args(["--initial-jitter", "3600"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let lock = env.data().join(".matterbak.lock");
    for _ in 0..500 {
        if std::fs::read_to_string(&lock).is_ok_and(|pid| !pid.is_empty()) {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let second = env.run(&[]);
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(second.status.code(), Some(6), "{}", text(&second));
    assert!(
        stderr(&second).contains("another matterbak"),
        "{}",
        text(&second)
    );
    assert_eq!(env.server.total_requests(), 0, "no request from either run");
}

#[test]
fn a_data_dir_that_is_a_file_is_one_clear_line() {
    let env = Env::new(Scale::Tiny);
    std::fs::write(env.data(), b"not a folder").unwrap();
    let out = env.run(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let e = stderr(&out);
    let errors: Vec<&str> = e.lines().filter(|l| l.contains("error")).collect();
    assert_eq!(errors.len(), 1, "{e}");
    assert!(
        errors[0].contains("data dir data is a file") && !errors[0].contains("os error"),
        "{e}"
    );
    assert_eq!(env.server.total_requests(), 0);
    assert_eq!(std::fs::read(env.data()).unwrap(), b"not a folder");
}

#[test]
fn folders_are_0700_and_files_and_the_lock_0600() {
    let env = Env::new(Scale::Tiny);
    env.run_ok(&[]);
    let mut stack = vec![env.data()];
    let (mut dirs, mut files) = (0, 0);
    while let Some(d) = stack.pop() {
        let mode = std::fs::metadata(&d).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o700, "{}", d.display());
        dirs += 1;
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                let mode = e.metadata().unwrap().permissions().mode() & 0o777;
                assert_eq!(mode, 0o600, "{}", e.path().display());
                files += 1;
            }
        }
    }
    assert!(dirs > 3 && files > 3);
    assert!(env.data().join(".matterbak.lock").exists());
}

#[test]
fn a_failed_login_leaves_no_data_dir() {
    let env = Env::new(Scale::Tiny);
    env.write_credentials(&serde_json::json!({
        "user": "alice", "password": "wrong", "url": env.server.base_url()
    }));
    let out = env
        .bare()
        .args([
            "--credentials",
            "credentials.json",
            "--channels",
            "channels.json",
        ])
        .args(["-d", "new/nested/data", "--rate-limit", "0"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(
        !env.path("new").exists(),
        "the folders this run made are gone"
    );
}

#[test]
fn the_data_dir_itself_may_be_a_link() {
    let env = Env::new(Scale::Tiny);
    let real = env.path("big-disk/data");
    std::fs::create_dir_all(&real).unwrap();
    symlink(&real, env.data()).unwrap();
    env.run_ok(&[]);
    assert!(real.join(".matterbak-state.json").is_file());
    assert!(tree(&real).keys().any(|k| k.starts_with("users/")));
}
