//! The zip step: `--no-zip`, `matterbak zip`, and a rerun that copies unchanged entries.

use fakemm::Scale;

use crate::util::{assert_zip_is, text, tree, user_id, Env};

/// How many files the zip holds: every file of the data dir but the lock.
fn zipped_files(env: &Env) -> usize {
    tree(&env.data())
        .keys()
        .filter(|k| !k.ends_with(".matterbak.lock"))
        .count()
}

#[test]
fn no_zip_then_zip_then_a_rerun_reuses_every_unchanged_entry() {
    let env = Env::new(Scale::Tiny);
    env.run_ok(&["--no-zip"]);
    assert!(!env.zip().exists(), "--no-zip writes no zip");

    let out = env.exec(&["zip", "-d", "data", "-o", "out.zip"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stdout).contains(" 0 copied from the previous zip"));

    // A rerun without changes on the server: every file entry comes from the previous zip.
    let out = env.run_ok(&[]);
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    let files = zipped_files(&env);
    assert!(
        line.contains(&format!("({files} entries, {files} reused"))
            || line.contains(&format!("unchanged ({files} entries")),
        "every entry is reused: {line}"
    );
    // Nothing changed since that zip (a no-change run leaves the state file alone): kept.
    let before = std::fs::read(env.zip()).unwrap();
    let out = env.run_ok(&[]);
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    assert!(
        line.contains(&format!("unchanged ({files} entries")),
        "{line}"
    );
    assert_eq!(std::fs::read(env.zip()).unwrap(), before);

    // A new post with a file, and a rerun: the new and changed files are compressed anew.
    env.server.with_world(|w| {
        let me = user_id(w, "alice");
        let c = w.member_channels(&me)[0].clone();
        w.add_post(
            &c,
            "bob",
            "after the zip",
            None,
            vec![("n.txt".into(), "text/plain".into(), 99)],
        )
        .unwrap();
    });
    let out = env.run_ok(&[]);
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    let files = zipped_files(&env);
    let reused: usize = line
        .split(&format!("({files} entries, "))
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("{line}"));
    assert!(reused > 0 && reused + 4 <= files, "{line}");

    // The zip holds exactly the data dir.
    assert_zip_is(&env.zip(), &env.data());
}

#[test]
fn a_run_that_finds_nothing_new_changes_nothing_on_disk() {
    let env = Env::backed_up(Scale::Demo);
    // The first `since` read can move a cursor past what a full read sees (deleted posts).
    env.run_ok(&[]);
    let state = env.data().join(".matterbak-state.json");
    let mtime = |p: &std::path::Path| std::fs::metadata(p).unwrap().modified().unwrap();
    let files = || {
        let mut t = tree(&env.data());
        t.remove(".matterbak.lock");
        t
    };
    let (state_before, data_before) = (mtime(&state), files());
    let bytes_before = std::fs::read(&state).unwrap();
    // The newest posts of each channel come back in every `since` answer (the overlap), with
    // their authors: stored already, so nothing to remember for them.
    let out = env.run_ok(&[]);
    let line = String::from_utf8_lossy(&out.stdout).to_string();
    assert_eq!(
        String::from_utf8_lossy(&std::fs::read(&state).unwrap()),
        String::from_utf8_lossy(&bytes_before)
    );
    assert_eq!(mtime(&state), state_before, "the state file was rewritten");
    let after = files();
    let changed: Vec<&String> = after
        .keys()
        .chain(data_before.keys())
        .filter(|k| after.get(*k) != data_before.get(*k))
        .collect();
    assert!(changed.is_empty(), "changed: {changed:?}");
    assert!(line.contains(" unchanged ("), "the zip is kept: {line}");
}

/// Sets the modification time of every file and folder below `root` to an hour ago: every zip
/// written after trusts the same times, whatever second it starts in.
fn age(root: &std::path::Path) {
    let t = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
    for e in std::fs::read_dir(root).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            age(&p);
        }
        std::fs::File::open(&p).unwrap().set_modified(t).unwrap();
    }
}

/// Issue 15: new entries are compressed on worker threads, and the zip is still the one a single
/// thread writes, byte for byte.
#[test]
fn the_zip_of_the_demo_data_set_is_the_same_whatever_the_number_of_threads() {
    let env = Env::backed_up(Scale::Demo);
    age(&env.data());
    let zip = |name: &str, extra: &[&str]| {
        let mut args = vec!["zip", "-d", "data", "-o", name];
        args.extend(extra);
        let out = env.exec(&args);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        std::fs::read(env.path(name)).unwrap()
    };
    let one = zip("one.zip", &["--threads", "1"]);
    let files = zipped_files(&env);
    let mut z = zip::ZipArchive::new(std::io::Cursor::new(&one)).unwrap();
    assert_eq!(
        (0..z.len())
            .filter(|&i| !z.by_index(i).unwrap().is_dir())
            .count(),
        files
    );
    for threads in ["2", "5"] {
        let many = zip(&format!("{threads}.zip"), &["--threads", threads]);
        assert!(
            many == one,
            "--threads {threads}: not the zip of one thread"
        );
    }
    // The default: one thread per core (a backup's zip step has the same).
    assert!(zip("default.zip", &[]) == one);
}
