//! The zip carries nothing forward (issue 13): a killed zip's temp file is removed by the next
//! run, a damaged or unreadable previous zip is healed instead of copied, `verify --zip` checks
//! a zip, and links inside the data dir are never followed.

use std::io::Read;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use fakemm::Scale;

use crate::util::{assert_zip_is, signal_when, text, tree, Env};

/// `matterbak <args>` in the env's temp dir.
/// Temp files of matterbak beside the zip (in the env's temp dir itself).
fn temps_beside(env: &Env) -> Vec<String> {
    std::fs::read_dir(env.tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(".matterbak-tmp"))
        .collect()
}

/// Starts `matterbak zip` (deflate level 9) and kills it with SIGKILL once its temp file is
/// there; returns that temp file's name.
fn kill_while_zipping(env: &Env) -> String {
    let mut c = Command::new(env!("CARGO_BIN_EXE_matterbak"));
    env.hermetic(&mut c);
    let mut child = c
        .args(["zip", "-d", "data", "-o", "out.zip", "--zip-level", "9"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let before = temps_beside(env);
    let new_temp = || temps_beside(env).into_iter().find(|t| !before.contains(t));
    signal_when(&mut child, "-KILL", "the zip", || new_temp().is_some());
    let temp = new_temp().unwrap();
    child.wait().unwrap();
    assert!(env.tmp.path().join(&temp).exists(), "kill -9 leaves {temp}");
    temp
}

#[test]
fn a_zip_killed_with_sigkill_leaves_a_temp_file_the_next_run_removes() {
    let env = Env::new(Scale::Tiny);
    env.run_ok(&["--no-zip"]);
    // Enough compressible text for the zip to take a while at level 9.
    let mut x = 7u64;
    let words: String = (0..3_000_000)
        .map(|_| {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            ["lorem ", "ipsum ", "dolor ", "sit ", "amet\n"][(x >> 61) as usize % 5]
        })
        .collect();
    std::fs::write(env.data().join("big.txt"), words).unwrap();
    // Someone else's file of the same look beside the zip stays.
    std::fs::write(
        env.path(".matterbak-tmp-other.zip-x1"),
        b"PK\x03\x04 not ours",
    )
    .unwrap();

    kill_while_zipping(&env);
    let out = env.exec(&["zip", "-d", "data", "-o", "out.zip", "--zip-level", "1"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(
        temps_beside(&env),
        [".matterbak-tmp-other.zip-x1"],
        "{}",
        text(&out)
    );
    assert_zip_is(&env.zip(), &env.data());

    // Killed again; this time a backup run writes the same zip and cleans up.
    std::fs::remove_file(env.zip()).unwrap();
    kill_while_zipping(&env);
    let out = env.run_ok(&["--zip-level", "1"]);
    assert_eq!(
        temps_beside(&env),
        [".matterbak-tmp-other.zip-x1"],
        "{}",
        text(&out)
    );
    assert_zip_is(&env.zip(), &env.data());
}

/// The name and the data range of the largest deflated entry that a no-change run keeps.
fn a_deflated_entry(env: &Env) -> (String, u64, u64) {
    let mut z = zip::ZipArchive::new(std::fs::File::open(env.zip()).unwrap()).unwrap();
    let mut best: Option<(String, u64, u64)> = None;
    for i in 0..z.len() {
        let e = z.by_index(i).unwrap();
        if e.compression() != zip::CompressionMethod::Deflated || e.name().contains(".matterbak") {
            continue;
        }
        if best.as_ref().is_none_or(|b| e.compressed_size() > b.2) {
            best = Some((e.name().to_string(), e.data_start(), e.compressed_size()));
        }
    }
    best.expect("a deflated entry")
}

fn verify_zip(env: &Env) -> (i32, String) {
    let out = env.exec(&["verify", "-d", "data", "--zip", "out.zip"]);
    (out.status.code().unwrap_or(-1), text(&out))
}

#[test]
fn a_flipped_byte_in_the_zip_is_healed_by_the_next_run_and_found_by_verify() {
    let env = Env::backed_up(Scale::Tiny);
    env.run_ok(&[]);
    let (code, out) = verify_zip(&env);
    assert_eq!(code, 0, "a healthy zip passes: {out}");
    assert!(
        out.contains("out.zip: ") && out.contains(" entries checked"),
        "{out}"
    );

    let (name, start, comp) = a_deflated_entry(&env);
    let mut b = std::fs::read(env.zip()).unwrap();
    b[(start + comp / 2) as usize] ^= 0x20;
    std::fs::write(env.zip(), &b).unwrap();
    let (code, out) = verify_zip(&env);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains(&format!("{name} is damaged")), "{out}");

    // A run that finds nothing new: the damaged entry is compressed afresh, and said so.
    let out = env.run_ok(&[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&name) && stderr.contains("damaged"),
        "{}",
        text(&out)
    );
    assert_zip_is(&env.zip(), &env.data());
    let (code, out) = verify_zip(&env);
    assert_eq!(code, 0, "{out}");
    // And the one after keeps the healed zip.
    let out = env.run_ok(&[]);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(" unchanged ("),
        "{}",
        text(&out)
    );
}

#[test]
fn verify_checks_the_default_zip_and_names_entries_missing_from_it() {
    let env = Env::new(Scale::Tiny);
    // Without -o: the zip of the user of credentials.json, beside it.
    let out = env.cmd().args(["--rate-limit", "0"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let mut c = Command::new(env!("CARGO_BIN_EXE_matterbak"));
    env.hermetic(&mut c);
    let out = c.args(["verify", "-d", "data"]).output().unwrap();
    let s = text(&out);
    assert!(
        !s.contains("matterbak_alice.zip"),
        "-o out.zip was given: {s}"
    );
    std::fs::rename(env.zip(), env.path("matterbak_alice.zip")).unwrap();
    std::fs::write(env.data().join("new.json"), b"{}").unwrap();
    let out = env.exec(&["verify", "-d", "data"]);
    let s = text(&out);
    assert_eq!(out.status.code(), Some(1), "{s}");
    assert!(
        s.contains("matterbak_alice.zip: new.json is in the data dir but not in the zip"),
        "{s}"
    );
}

#[test]
fn an_unreadable_previous_zip_never_blocks_a_run() {
    let env = Env::backed_up(Scale::Tiny);
    let good = std::fs::read(env.zip()).unwrap();
    // A broken local header where the directory points (the first entry's), a truncated
    // file, and garbage.
    let mut broken = good.clone();
    broken[..4].copy_from_slice(b"XXXX");
    let cases: [(&str, Vec<u8>); 3] = [
        ("broken local header", broken),
        ("truncated", good[..good.len() * 2 / 3].to_vec()),
        ("garbage", b"PK\x05\x06 garbage".repeat(100)),
    ];
    let a_file = env.data().join(
        tree(&env.data())
            .into_keys()
            .find(|k| k.starts_with("users/"))
            .unwrap(),
    );
    for (what, bytes) in cases {
        std::fs::write(env.zip(), &bytes).unwrap();
        // A file with a new time: read again, the others copied from the previous zip.
        std::fs::File::options()
            .append(true)
            .open(&a_file)
            .unwrap()
            .set_modified(std::time::SystemTime::now() - Duration::from_secs(10))
            .unwrap();
        let out = env.run(&[]);
        assert_eq!(out.status.code(), Some(0), "{what}: {}", text(&out));
        let stderr = String::from_utf8_lossy(&out.stderr);
        let warnings = stderr
            .lines()
            .filter(|l| l.contains("previous zip"))
            .count();
        assert_eq!(warnings, 1, "{what}: one warning: {}", text(&out));
        assert_zip_is(&env.zip(), &env.data());
        let out = env.exec(&["zip", "-d", "data", "-o", "out.zip"]);
        assert_eq!(out.status.code(), Some(0), "{what}: {}", text(&out));
    }
}

#[cfg(unix)]
#[test]
fn the_zip_never_follows_a_link_inside_the_data_dir() {
    let env = Env::new(Scale::Tiny);
    env.run_ok(&["--no-zip"]);
    let secret = env.path("outside/passwd");
    std::fs::create_dir_all(secret.parent().unwrap()).unwrap();
    std::fs::write(&secret, b"root:x:0:0:q7-outside-the-data-dir").unwrap();
    // A post file that is a link to a file outside, and a linked folder.
    let post = tree(&env.data())
        .into_keys()
        .find(|k| {
            let parts: Vec<&str> = k.split('/').collect();
            parts.len() == 3
                && parts[2].ends_with(".json")
                && parts[2].as_bytes()[0].is_ascii_digit()
        })
        .expect("a post file");
    let post_path = env.data().join(&post);
    std::fs::remove_file(&post_path).unwrap();
    std::os::unix::fs::symlink(&secret, &post_path).unwrap();
    std::os::unix::fs::symlink(env.path("outside"), env.data().join("teams/linked")).unwrap();

    // The data dir may be a link itself (the user's choice).
    std::os::unix::fs::symlink(env.data(), env.path("via")).unwrap();
    let out = env.exec(&["zip", "-d", "via", "-o", "out.zip"]);
    let s = text(&out);
    assert_eq!(out.status.code(), Some(0), "{s}");
    assert!(
        s.contains(&post) && s.contains("teams/linked"),
        "both named: {s}"
    );
    let mut z = zip::ZipArchive::new(std::fs::File::open(env.zip()).unwrap()).unwrap();
    assert!(z.by_name(&post).is_err(), "the linked post is left out");
    assert!(!z.file_names().any(|n| n.starts_with("teams/linked")));
    for i in 0..z.len() {
        let mut v = Vec::new();
        z.by_index(i).unwrap().read_to_end(&mut v).unwrap();
        assert!(
            !String::from_utf8_lossy(&v).contains("q7-outside-the-data-dir"),
            "nothing outside is read"
        );
    }
    assert!(Path::new(&secret).exists());
}
