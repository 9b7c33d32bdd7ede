//! Issue 6, for operators: one test per exit code, each with its `--summary-json`; `-q`,
//! `-vv`, `--log-format json`, no escape bytes without a terminal; completions and man page.

use std::process::{Command, Output, Stdio};

use fakemm::faults::Faults;
use fakemm::Scale;
use serde_json::Value;

use crate::util::{
    closed_port, hold_lock, posts_requests, read_json, signal_when, stderr, text, Env, FAST,
};

/// Runs with `--summary-json summary.json` (and `extra`); returns the output and the summary.
fn run_with_summary(env: &Env, extra: &[&str]) -> (Output, Value) {
    let mut args = vec!["--summary-json", "summary.json"];
    args.extend_from_slice(&FAST);
    args.extend_from_slice(&["--retries", "1"]);
    args.extend_from_slice(extra);
    let out = env.run(&args);
    (out, read_summary(env))
}

fn read_summary(env: &Env) -> Value {
    let path = env.path("summary.json");
    let v: Value = read_json(&path);
    // written atomically: no temp file beside it
    let temps: Vec<_> = std::fs::read_dir(env.tmp.path())
        .unwrap()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with(".matterbak-tmp")
        })
        .collect();
    assert!(temps.is_empty(), "{temps:?}");
    v
}

/// The fields every summary has, whatever the outcome.
fn check_summary(v: &Value, code: i32, outcome: &str) {
    assert_eq!(v["exit_code"], code, "{v:#}");
    assert_eq!(v["outcome"], outcome, "{v:#}");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    for k in ["started", "finished"] {
        let t = v[k].as_str().unwrap();
        assert!(
            t.len() == 20 && t.ends_with('Z') && t.as_bytes()[10] == b'T',
            "{k}: {t}"
        );
    }
    assert!(v["duration_secs"].as_f64().unwrap() >= 0.0);
    let counts = [
        "channels",
        "posts_seen",
        "posts_new",
        "posts_updated",
        "posts_edited",
        "posts_deleted",
        "files",
        "bytes",
        "users",
        "profile_images",
        "emojis",
    ];
    let keys: Vec<&str> = v["counts"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    assert_eq!(keys, counts, "the documented counts, nothing else");
    for k in counts {
        assert!(v["counts"][k].is_u64(), "counts.{k}: {v:#}");
    }
    assert!(v["requests"].is_u64() && v["rate_limit_wait_secs"].is_f64());
    assert!(v["http_secs"].is_f64() && v["failures"].is_array());
    assert_eq!(v["error"].is_null(), code == 0 || code == 3, "{v:#}");
}

#[test]
fn exit_0_success_and_quiet_prints_nothing() {
    let env = Env::new(Scale::Tiny);
    let (out, v) = run_with_summary(&env, &["-q"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        out.stdout.is_empty() && out.stderr.is_empty(),
        "-q prints nothing on success: {}",
        text(&out)
    );
    check_summary(&v, 0, "ok");
    let c = &v["counts"];
    assert!(c["channels"].as_u64().unwrap() > 0 && c["posts_new"].as_u64().unwrap() > 0);
    assert!(c["users"].as_u64().unwrap() > 0 && c["files"].as_u64().unwrap() > 0);
    assert!(v["requests"].as_u64().unwrap() > 0);
    assert_eq!(v["failures"], serde_json::json!([]));
    assert!(v["zip"]["entries"].as_u64().unwrap() > 0);
    assert_eq!(v["zip"]["path"], "out.zip");

    // Without -q (and without a terminal): the summary line, log lines with timestamps, no
    // status line and no escape bytes.
    let (out, v) = run_with_summary(&env, &["--no-zip"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    check_summary(&v, 0, "ok");
    assert!(v["zip"].is_null());
    assert_eq!(v["counts"]["posts_new"], 0, "nothing new the second time");
    let so = String::from_utf8_lossy(&out.stdout);
    assert!(
        so.starts_with("matterbak: ") && so.contains(" requests in "),
        "{so}"
    );
    let err = stderr(&out);
    assert!(!err.contains('\x1b') && !err.contains('\r'), "{err:?}");
    assert!(
        err.lines().all(|l| l.starts_with("20")),
        "timestamps: {err}"
    );
}

#[test]
fn exit_3_partial_lists_what_failed() {
    let env = Env::new(Scale::Tiny);
    env.server.set_faults(Faults {
        broken_paths: vec!["/emoji".into()],
        ..Faults::default()
    });
    let (out, v) = run_with_summary(&env, &["-q"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    check_summary(&v, 3, "partial");
    let failures = v["failures"].as_array().unwrap();
    assert_eq!(failures.len(), 1, "{v:#}");
    assert!(failures[0].as_str().unwrap().contains("emoji"), "{v:#}");
    assert!(v["counts"]["posts_new"].as_u64().unwrap() > 0);
    // -q: no summary line, but what failed is an error and is said
    assert!(out.stdout.is_empty(), "{}", text(&out));
    assert!(
        stderr(&out).contains("could not be backed up"),
        "{}",
        text(&out)
    );
}

#[test]
fn exit_2_usage_and_quiet_prints_only_the_error() {
    let env = Env::new(Scale::Tiny);
    std::fs::write(env.path("channels.json"), "{ not json").unwrap();
    let (out, v) = run_with_summary(&env, &["-q"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    check_summary(&v, 2, "usage");
    assert!(
        v["error"].as_str().unwrap().contains("channels.json"),
        "{v:#}"
    );
    assert_eq!(v["requests"], 0);
    assert!(out.stdout.is_empty());
    let err = stderr(&out);
    assert!(
        err.starts_with("matterbak: error: ") && err.lines().count() == 1,
        "{err}"
    );
    assert!(!env.data().exists(), "a usage error touches nothing");

    // A bad command line: clap's usage error, exit 2 (and no summary: parsing failed).
    let out = env.run(&["--log-format", "xml", "--summary-json", "never.json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!env.path("never.json").exists());
}

#[test]
fn exit_4_wrong_password() {
    let env = Env::new(Scale::Tiny);
    env.write_credentials(&serde_json::json!({
        "user": "alice", "password": "not-her-password",
        "url": format!("{}/api", env.server.base_url())
    }));
    let (out, v) = run_with_summary(&env, &[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    check_summary(&v, 4, "auth");
    assert!(
        v["error"]
            .as_str()
            .unwrap()
            .contains("login as alice failed"),
        "{v:#}"
    );
    assert!(!stderr(&out).contains("not-her-password"));
    assert!(!v.to_string().contains("not-her-password"));
}

#[test]
fn exit_5_unreachable() {
    let env = Env::new(Scale::Tiny);
    let port = closed_port();
    env.write_credentials(&serde_json::json!({
        "user": "alice", "password": "alice-password",
        "url": format!("http://127.0.0.1:{port}/api")
    }));
    let (out, v) = run_with_summary(&env, &["--connect-timeout", "2"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    check_summary(&v, 5, "unreachable");
}

#[test]
fn exit_6_locked() {
    let env = Env::new(Scale::Tiny);
    let lock = hold_lock(&env.data());
    let (out, v) = run_with_summary(&env, &[]);
    drop(lock);
    assert_eq!(out.status.code(), Some(6), "{}", text(&out));
    check_summary(&v, 6, "locked");
    assert!(
        v["error"].as_str().unwrap().contains("another matterbak"),
        "{v:#}"
    );
    // released: the next run works
    let (out, v) = run_with_summary(&env, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    check_summary(&v, 0, "ok");
}

#[test]
fn exit_130_interrupted() {
    let env = Env::new(Scale::Demo);
    let mut child = env
        .cmd()
        .args(["--rate-limit", "60", "--summary-json", "summary.json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // In the middle of the walk: a page of posts has been served.
    signal_when(&mut child, "-INT", "the backup", || {
        posts_requests(&env) > 0
    });
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    let v = read_summary(&env);
    check_summary(&v, 130, "interrupted");
    assert!(v["requests"].as_u64().unwrap() > 0, "{v:#}");
    assert!(v["zip"].is_null());
}

#[test]
fn json_logs_are_one_object_a_line_and_never_hold_a_secret_even_at_trace() {
    let env = Env::new(Scale::Tiny);
    let out = env.run(&["--log-format", "json", "-vv"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(
        out.stdout.is_empty(),
        "the summary is a log line: {}",
        text(&out)
    );
    let err = stderr(&out);
    assert!(!err.contains('\x1b') && !err.contains('\r'));
    let lines: Vec<Value> = err
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("{e}: {l}")))
        .collect();
    assert!(lines.len() > 50, "-vv traces: {} lines", lines.len());
    for l in &lines {
        assert!(
            l["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')),
            "{l}"
        );
        assert!(l["level"].is_string() && l.get("message").is_some(), "{l}");
    }
    let summary = lines
        .iter()
        .find(|l| l["message"] == "backup finished")
        .expect("the summary as a log line");
    assert!(summary["posts_seen"].as_u64().unwrap() > 0, "{summary}");
    assert!(
        !err.contains("alice-password"),
        "the password leaked at trace"
    );
    assert!(!err.to_lowercase().contains("bearer "), "a token leaked");

    // An error in JSON mode is a JSON line too.
    std::fs::write(env.path("channels.json"), "[]").unwrap();
    let out = env.run(&["--log-format", "json"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let last: Value = serde_json::from_str(stderr(&out).lines().last().unwrap()).unwrap();
    assert_eq!(last["level"], "ERROR");
    assert_eq!(last["exit_code"], 2);
}

#[test]
fn completions_and_man_page_come_from_the_cli_definition() {
    let bin = env!("CARGO_BIN_EXE_matterbak");
    for shell in ["bash", "zsh", "fish", "elvish", "powershell"] {
        let out = Command::new(bin)
            .args(["completions", shell])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{shell}: {}", text(&out));
        let s = String::from_utf8_lossy(&out.stdout);
        assert!(
            s.contains("summary-json") && s.contains("log-format"),
            "{shell}: {s}"
        );
    }
    let out = Command::new(bin).arg("man").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let man = String::from_utf8_lossy(&out.stdout);
    assert!(
        man.starts_with(".ie") || man.contains(".TH matterbak 1"),
        "{man}"
    );
    assert!(
        man.contains("summary\\-json") && man.contains("EXIT STATUS"),
        "{man}"
    );
    // hidden from the help
    let help = Command::new(bin).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&help.stdout);
    assert!(!help.contains("completions") && help.contains("--summary-json"));
}

/// The options of every command (`-v`, `-q`, `--log-format`) sit under their own heading in
/// every `--help`, never under "Server and login"; the EXIT STATUS of `--help` is the one made
/// from the exit-code table in `error.rs`.
#[test]
fn help_headings_and_exit_status_come_from_one_place() {
    let bin = env!("CARGO_BIN_EXE_matterbak");
    for cmd in [
        &[][..],
        &["list"],
        &["export"],
        &["export", "html"],
        &["export", "md"],
        &["export", "hgf"],
        &["export", "jsonl"],
        &["verify"],
        &["zip"],
    ] {
        let out = Command::new(bin).args(cmd).arg("--help").output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{cmd:?}: {}", text(&out));
        let help = String::from_utf8_lossy(&out.stdout);
        // The heading above each option line: the last line before it that ends with ':' and
        // does not start with a space.
        let mut heading = "";
        let mut seen = 0;
        for line in help.lines() {
            if !line.starts_with(' ') && line.ends_with(':') {
                heading = line;
            }
            let flag = line.trim_start();
            for opt in ["-v, --verbose", "-q, --quiet", "--log-format"] {
                if flag.starts_with(opt) {
                    assert_eq!(
                        heading, "Logging:",
                        "{cmd:?}: {opt} under {heading}\n{help}"
                    );
                    seen += 1;
                }
            }
        }
        assert_eq!(seen, 3, "{cmd:?}: the three options once each\n{help}");
    }
    let out = Command::new(bin).arg("--help").output().unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    assert!(
        help.trim_end()
            .ends_with(&matterbak::error::exit_status_help_all()),
        "{help}"
    );
    for (code, e) in [(0, "success: everything"), (6, "lock"), (130, "a rerun")] {
        let line = help
            .lines()
            .find(|l| l.starts_with(&format!("    {code:<5}")))
            .unwrap_or_else(|| panic!("no line for {code}: {help}"));
        assert!(line.contains(e), "{line}");
    }
}
