//! On a terminal the backup shows a status line (phase, counts, waiting for the rate limit)
//! that log lines never mix with and that is cleared at the end; without one, only log lines.

use std::process::Command;

use fakemm::Scale;

use crate::util::{require_tool, text, Env};

const CLEAR: &str = "\r\x1b[2K";

#[test]
fn a_terminal_gets_a_status_line_that_is_cleared_and_a_pipe_gets_none() {
    if require_tool(&["script"], "util-linux").is_none() {
        return;
    }
    let env = Env::new(Scale::Tiny);
    // At 20 requests per second the run lasts a few seconds: several redraws.
    let cmd = format!(
        "{} --credentials credentials.json --channels channels.json -d data -o out.zip --rate-limit 20",
        env!("CARGO_BIN_EXE_matterbak")
    );
    let out = Command::new("script")
        .current_dir(env.tmp.path())
        .env("TZ", "UTC")
        .env_remove("RUST_LOG")
        .args(["-qec", &cmd, "/dev/null"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let tty = String::from_utf8_lossy(&out.stdout).replace("\r\n", "\n");
    let draws: Vec<&str> = tty
        .split(CLEAR)
        .skip(1)
        .filter(|s| s.contains(" posts | "))
        .collect();
    assert!(draws.len() >= 3, "status line drawn: {tty:?}");
    assert!(
        draws
            .iter()
            .any(|d| d.contains("waiting for the rate limit")),
        "waiting shown as such: {draws:?}"
    );
    assert!(
        draws
            .iter()
            .any(|d| d.starts_with("teams ") && d.contains("] ")),
        "a bar of the teams' channels: {draws:?}"
    );
    // Every log line starts on a cleared line, and the summary comes after the last clear.
    for line in tty.lines().filter(|l| l.contains(" INFO ")) {
        assert!(
            !line.contains(" posts | "),
            "a log line mixed with the status line: {line:?}"
        );
    }
    let last = tty.rfind(CLEAR).unwrap();
    assert!(
        tty[last..].starts_with(&format!("{CLEAR}matterbak: ")),
        "the status line is cleared before the summary: {:?}",
        &tty[last.saturating_sub(200)..]
    );

    // Through pipes: no status line, no escape sequences, also while it waits for the limit.
    let out = env.run_ok(&["--rate-limit", "40"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!err.contains('\x1b') && !err.contains('\r'), "{err:?}");
    assert!(err.lines().count() >= 3, "log lines: {err}");
}
