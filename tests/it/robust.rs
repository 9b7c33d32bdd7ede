//! Survival: the lock, verify as an oracle, healing, kill -9 at random moments, bad configs.

use std::process::Stdio;
use std::time::Duration;

use fakemm::Scale;
use serde_json::json;

use crate::oracle::{assert_matches, want_all};
use crate::util::{signal_when, temp_files, text, tree, verify, Env};

#[test]
fn a_second_run_on_the_same_data_dir_refuses() {
    let env = Env::new(Scale::Demo);
    let mut first = env
        .cmd()
        .args(["--rate-limit", "40"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // wait until the first run holds the lock (the data dir exists)
    for _ in 0..100 {
        if env.data().join(".matterbak.lock").exists() {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = env.run(&[]);
    first.kill().unwrap();
    first.wait().unwrap();
    assert_eq!(second.status.code(), Some(6), "{}", text(&second));
    assert!(
        String::from_utf8_lossy(&second.stderr).contains("another matterbak"),
        "{}",
        text(&second)
    );
}

#[test]
fn verify_finds_damage_and_a_full_read_heals_it() {
    let env = Env::backed_up(Scale::Tiny);
    assert_eq!(verify(&env).0, 0, "{}", verify(&env).1);
    let files = tree(&env.data());
    let post = files
        .keys()
        .find(|k| k.rsplit('/').next().unwrap().starts_with("20"))
        .unwrap()
        .clone();
    let attachment = files
        .keys()
        .find(|k| k.contains("/files/") && !k.ends_with(".json"))
        .unwrap()
        .clone();
    let torn = &files[&post][..files[&post].len() / 2];
    std::fs::write(env.data().join(&post), torn).unwrap();
    std::fs::write(env.data().join(&attachment), b"short").unwrap();
    let temp = env.data().join("direct").join(".matterbak-tmp-left");
    std::fs::write(&temp, b"x").unwrap();
    let (code, out) = verify(&env);
    assert_eq!(code, 1, "{out}");
    assert!(
        out.contains("not valid JSON")
            && out.contains("bytes, its file info gives")
            && out.contains("temp file"),
        "{out}"
    );

    env.run_ok(&["--update-old-posts"]);
    assert_eq!(verify(&env).0, 0, "{}", verify(&env).1);
    assert!(temp_files(&env.data()).is_empty());
    assert_matches(&env.data(), &want_all(&env));
}

#[test]
fn kill_9_at_random_moments_then_one_more_run_equals_a_clean_run() {
    let env = Env::new(Scale::Demo);
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    for i in 0..24 {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        // A random moment of the run, counted in requests served rather than in time (a sleep
        // lets a fast run end first and kills a slow one before it starts). Every other run is
        // killed within its first 26 requests, which even a run with nothing new asks; the
        // others anywhere in their first 150 (the first ones, with a lot to fetch, reach it),
        // or not at all once the backup is complete.
        let always = i % 2 == 1;
        let base = env.server.total_requests();
        let at = base + 1 + seed % if always { 26 } else { 150 };
        let mut child = env
            .cmd()
            .args(["--rate-limit", "300"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let ready = || env.server.total_requests() >= at;
        if always {
            signal_when(&mut child, "-KILL", "the backup", ready);
        } else {
            while !ready() && child.try_wait().unwrap().is_none() {
                std::thread::sleep(Duration::from_millis(1));
            }
            if child.try_wait().unwrap().is_none() {
                child.kill().unwrap(); // SIGKILL
            }
        }
        child.wait().unwrap();
    }
    env.run_ok(&[]);
    assert!(
        temp_files(&env.data()).is_empty(),
        "{:?}",
        temp_files(&env.data())
    );
    assert_eq!(verify(&env).0, 0, "{}", verify(&env).1);
    assert_matches(&env.data(), &want_all(&env));
}

#[test]
fn bad_configs_get_one_clear_line_and_exit_2() {
    let env = Env::new(Scale::Tiny);
    let url = env.server.base_url();
    let cases: Vec<(&str, String, String, &str)> = vec![
        (
            "empty selection",
            json!({"user":"alice","password":"alice-password","url":url}).to_string(),
            "{}".into(),
            "selects nothing",
        ),
        (
            "unknown team",
            json!({"user":"alice","password":"alice-password","url":url}).to_string(),
            json!({"teams": {"no-such-team": {}}}).to_string(),
            "no-such-team",
        ),
        (
            "unknown direct user",
            json!({"user":"alice","password":"alice-password","url":url}).to_string(),
            json!({"direct": ["bob", "nosuchuser"]}).to_string(),
            "nosuchuser",
        ),
        (
            "unknown group user",
            json!({"user":"alice","password":"alice-password","url":url}).to_string(),
            json!({"groups": {"exact": [["bob", "ghost.user"]]}}).to_string(),
            "ghost.user",
        ),
        (
            "wrong type",
            json!({"user":"alice","password":"alice-password","url":url}).to_string(),
            json!({"direct": "bob"}).to_string(),
            "line 1",
        ),
        (
            "unknown key",
            json!({"user":"alice","password":"alice-password","url":url}).to_string(),
            json!({"direkt": ["bob"]}).to_string(),
            "direkt",
        ),
        (
            "trailing comma",
            json!({"user":"alice","password":"alice-password","url":url}).to_string(),
            "{\"direct\": [\"bob\"],\n}".into(),
            "comma",
        ),
        (
            "missing url",
            json!({"user":"alice","password":"alice-password"}).to_string(),
            json!({"direct": ["bob"]}).to_string(),
            "\"url\"",
        ),
        (
            "url without scheme",
            json!({"user":"alice","password":"alice-password","url":"mm.example.org"}).to_string(),
            json!({"direct": ["bob"]}).to_string(),
            "url",
        ),
        (
            "password and token both empty",
            json!({"user":"alice","password":"","url":url}).to_string(),
            json!({"direct": ["bob"]}).to_string(),
            "token",
        ),
    ];
    for (what, creds, channels, needle) in cases {
        std::fs::write(env.path("credentials.json"), &creds).unwrap();
        std::fs::write(env.path("channels.json"), &channels).unwrap();
        let out = env.run(&[]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {}", text(&out));
        assert!(err.contains(needle), "{what}: `{needle}` not in {err}");
        assert_eq!(
            err.lines().filter(|l| l.contains("error")).count(),
            1,
            "{what}: one line: {err}"
        );
        assert!(!env.data().exists(), "{what}: the data dir was touched");
    }
}
