//! Bad configuration and login problems: one clear line, a documented exit code, nothing written.

use fakemm::Scale;
use serde_json::json;

use crate::util::{closed_port, stderr, text, user_id, Env, FAST};

#[test]
fn broken_and_missing_config_files_exit_2_and_touch_nothing() {
    let env = Env::new(Scale::Tiny);
    std::fs::write(env.path("channels.json"), "{\"direct\": [\"bob\",]}").unwrap();
    let out = env.run(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let e = stderr(&out);
    assert!(
        e.contains("channels.json") && e.contains("line 1") && e.contains("comma"),
        "{e}"
    );
    assert!(!env.data().exists());

    std::fs::write(
        env.path("channels.json"),
        "{\"direct\": [\"bob\"], \"grups\": {}}",
    )
    .unwrap();
    let out = env.run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("grups"), "{}", text(&out));

    std::fs::remove_file(env.path("credentials.json")).unwrap();
    let out = env.run(&[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("credentials.json"), "{}", text(&out));
    assert!(!env.data().exists());
    assert_eq!(
        env.server.total_requests(),
        0,
        "no request on a config error"
    );
}

#[test]
fn wrong_password_exits_4_without_leaking_it() {
    let env = Env::new(Scale::Tiny);
    env.write_credentials(
        &json!({"user": "alice", "password": "hunter2-wrong", "url": env.server.base_url()}),
    );
    let out = env.run(&[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    let all = text(&out);
    assert!(
        all.contains("alice") && !all.contains("hunter2-wrong"),
        "{all}"
    );
    assert!(!env.data().exists());
}

#[test]
fn bad_token_exits_4() {
    let env = Env::new(Scale::Tiny);
    env.write_credentials(&json!({"user": "alice", "token": "not-a-valid-token-at-all", "url": env.server.base_url()}));
    let out = env.run(&[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out));
    assert!(!text(&out).contains("not-a-valid-token-at-all"));
}

#[test]
fn unreachable_server_and_html_url_exit_5() {
    let env = Env::new(Scale::Tiny);
    let port = closed_port();
    env.write_credentials(
        &json!({"user": "alice", "password": "x", "url": format!("http://127.0.0.1:{port}")}),
    );
    // Retried (the closed port answers nothing), without the real back-off.
    let out = env.run(&FAST);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    assert!(stderr(&out).contains("cannot reach"), "{}", text(&out));

    // a URL that answers HTML (the web app, not the API)
    env.write_credentials(&json!({"user": "alice", "password": "alice-password", "url": format!("{}/some/page", env.server.base_url())}));
    let out = env.run(&[]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
}

#[test]
fn bad_command_line_exits_2() {
    let env = Env::new(Scale::Tiny);
    let out = env.run(&["--rate-limit", "fast"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let out = env.run(&["--no-such-option"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn no_secret_in_any_log_level_the_data_dir_or_the_zip() {
    let env = Env::new(Scale::Tiny);
    // a session token, as a user copies it from the MMAUTHTOKEN cookie
    let session = env.server.with_world(|w| {
        let alice = user_id(w, "alice");
        w.create_session(&alice).unwrap()
    });
    let no_secret = json!({"user": "alice", "url": env.server.base_url()});
    let netrc = env.path("netrc");
    std::fs::write(&netrc, "default login alice password alice-password\n").unwrap();
    let netrc = netrc.to_str().unwrap();
    for (creds, vars) in [
        (
            json!({"user": "alice", "password": "alice-password", "url": env.server.base_url()}),
            vec![],
        ),
        (
            json!({"user": "alice", "token": "alicepersonalaccesstoken0000", "url": env.server.base_url()}),
            vec![],
        ),
        (
            json!({"user": "alice", "token": session, "url": env.server.base_url()}),
            vec![],
        ),
        // issue 6: secrets from the environment
        (
            no_secret.clone(),
            vec![("MATTERBAK_PASSWORD", "alice-password")],
        ),
        (no_secret.clone(), vec![("NETRC", netrc)]),
        (
            no_secret.clone(),
            vec![("MATTERBAK_TOKEN", "alicepersonalaccesstoken0000")],
        ),
    ] {
        env.write_credentials(&creds);
        let out = env
            .cmd()
            .env("RUST_LOG", "trace")
            .envs(vars)
            .args(["--rate-limit", "0"])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        let logs = text(&out);
        assert!(logs.len() > 1000, "trace logging produced output");
        let mut everything = logs.into_bytes();
        for (_, bytes) in crate::util::tree(&env.data()) {
            everything.extend(bytes);
        }
        everything.extend(std::fs::read(env.zip()).unwrap());
        for secret in [
            "alice-password",
            "alicepersonalaccesstoken0000",
            session.as_str(),
        ] {
            assert!(
                !everything
                    .windows(secret.len())
                    .any(|w| w == secret.as_bytes()),
                "{secret} leaked"
            );
        }
    }
}

/// One bad input and what a person must read about it.
struct Case {
    what: &'static str,
    credentials: Option<serde_json::Value>,
    channels: Option<&'static str>,
    args: &'static [&'static str],
    code: i32,
    /// Lines of standard error at default verbosity, at most.
    max_lines: usize,
    words: &'static [&'static str],
    /// Named once in the final error line (the URL).
    once: Option<String>,
}

/// Issue 13, item 8: every error is short, names its culprit and says what was expected.
#[test]
fn every_bad_input_is_a_few_short_lines_naming_the_culprit() {
    let env = Env::new(Scale::Tiny);
    let api = format!("{}/api", env.server.base_url());
    let closed = closed_port();
    let closed_url = format!("http://127.0.0.1:{closed}");
    let tls =
        fakemm::FakeServer::start_tls(fakemm::World::generate(crate::util::SEED, Scale::Tiny));
    let creds = |url: &str| json!({"user": "alice", "password": "alice-password", "url": url});
    let good_channels = r#"{"direct": ["bob"]}"#;
    let cases = vec![
        Case {
            what: "syntax error",
            credentials: None,
            channels: Some(r#"{"direct": ["bob",]}"#),
            args: &[],
            code: 2,
            max_lines: 1,
            words: &["channels.json", "line 1", "comma"],
            once: None,
        },
        Case {
            what: "wrong type at the top",
            credentials: None,
            channels: Some(r#"{"teams": ["engineering"]}"#),
            args: &[],
            code: 2,
            max_lines: 1,
            words: &["channels.json", "`teams`", "expected a map"],
            once: None,
        },
        Case {
            what: "wrong type in a team",
            credentials: None,
            channels: Some(r#"{"teams": {"engineering": {"include": ["a", "b", 3]}}}"#),
            args: &[],
            code: 2,
            max_lines: 1,
            words: &["`teams.engineering.include[2]`", "expected a string"],
            once: None,
        },
        Case {
            what: "wrong type in groups",
            credentials: None,
            channels: Some(r#"{"groups": {"exact": ["bob"]}}"#),
            args: &[],
            code: 2,
            max_lines: 1,
            words: &["`groups.exact[0]`", "expected a sequence"],
            once: None,
        },
        Case {
            what: "unknown key in channels.json",
            credentials: None,
            channels: Some(r#"{"direct": ["bob"], "grups": {}}"#),
            args: &[],
            code: 2,
            max_lines: 1,
            words: &["channels.json", "unknown field `grups`", "`groups`"],
            once: None,
        },
        Case {
            what: "unknown key in credentials.json",
            credentials: Some(json!({"user": "alice", "pasword": "x", "url": api})),
            channels: Some(good_channels),
            args: &[],
            code: 2,
            max_lines: 1,
            words: &["credentials.json", "unknown field `pasword`", "`password`"],
            once: None,
        },
        Case {
            what: "wrong type in credentials.json",
            credentials: Some(json!({"user": ["alice"], "password": "x", "url": api})),
            channels: Some(good_channels),
            args: &[],
            code: 2,
            max_lines: 1,
            words: &["credentials.json", "`user`", "expected a string"],
            once: None,
        },
        Case {
            what: "wrong password",
            credentials: Some(json!({"user": "alice", "password": "wrong", "url": api})),
            channels: Some(good_channels),
            args: &[],
            code: 4,
            max_lines: 1,
            words: &["alice", "wrong user name or password"],
            once: None,
        },
        Case {
            what: "unreachable host, default retries",
            credentials: Some(creds(&closed_url)),
            channels: Some(good_channels),
            args: &["--retry-wait-scale", "0.01"],
            code: 5,
            max_lines: 6,
            words: &[
                "cannot reach",
                "connection refused",
                "retrying in",
                "(6 of 6)",
                "check the URL",
            ],
            once: Some(format!("127.0.0.1:{closed}")),
        },
        Case {
            what: "DNS failure",
            credentials: Some(creds("http://matterbak-test.invalid")),
            channels: Some(good_channels),
            args: &["--retries", "1", "--retry-wait-scale", "0.01"],
            code: 5,
            max_lines: 2,
            words: &["cannot reach", "matterbak-test.invalid", "DNS"],
            once: Some("matterbak-test.invalid".into()),
        },
        Case {
            what: "TLS failure",
            credentials: Some(creds(&tls.base_url())),
            channels: Some(good_channels),
            args: &["--retries", "1"],
            code: 5,
            max_lines: 1,
            words: &["TLS", "certificate", "--ca-cert"],
            once: Some(tls.base_url()),
        },
        Case {
            what: "HTML instead of JSON",
            credentials: Some(creds(&api)),
            channels: Some(good_channels),
            args: &["--retries", "1", "--hostile-html-login"],
            code: 5,
            max_lines: 1,
            words: &["text/html", "not the Mattermost API"],
            once: None,
        },
        Case {
            what: "no configuration at all",
            credentials: None,
            channels: Some(good_channels),
            args: &["--no-credentials"],
            code: 2,
            max_lines: 3,
            words: &[
                "credentials.json does not exist",
                "MATTERBAK_URL",
                "credentials.example.json",
                "matterbak --help",
            ],
            once: None,
        },
    ];
    for c in cases {
        // (a readable credentials file would add a warning line of its own)
        let cred_path = env.path("credentials.json");
        match &c.credentials {
            Some(v) => env.write_credentials(v),
            None => env.write_credentials(&creds(&api)),
        }
        set_private(&cred_path);
        std::fs::write(
            env.path("channels.json"),
            c.channels.unwrap_or(good_channels),
        )
        .unwrap();
        env.server.set_hostile(
            fakemm::hostile::HostileMode::HtmlLogin,
            c.args.contains(&"--hostile-html-login"),
        );
        let args: Vec<&str> = c
            .args
            .iter()
            .copied()
            .filter(|a| !a.starts_with("--hostile") && *a != "--no-credentials")
            .collect();
        let out = if c.args.contains(&"--no-credentials") {
            std::fs::remove_file(&cred_path).unwrap();
            env.exec(&["-d", "data"])
        } else {
            env.run(&args)
        };
        let what = c.what;
        let err = stderr(&out);
        assert_eq!(out.status.code(), Some(c.code), "{what}: {}", text(&out));
        let lines: Vec<&str> = err.lines().collect();
        assert!(
            !lines.is_empty() && lines.len() <= c.max_lines,
            "{what}: {} lines, at most {} wanted:\n{err}",
            lines.len(),
            c.max_lines
        );
        for l in &lines {
            assert!(
                l.chars().count() <= 200,
                "{what}: a line of {} characters:\n{l}",
                l.chars().count()
            );
        }
        for w in c.words {
            assert!(err.contains(w), "{what}: `{w}` not in:\n{err}");
        }
        let last = lines
            .iter()
            .rfind(|l| l.starts_with("matterbak: error:"))
            .unwrap_or_else(|| panic!("{what}: no error line:\n{err}"));
        if let Some(once) = &c.once {
            assert_eq!(
                last.matches(once.as_str()).count(),
                1,
                "{what}: {once} not named once in:\n{last}"
            );
        }
        assert!(!env.data().exists(), "{what}: the data dir was touched");
    }
}

/// `-v` keeps what the short lines leave out: the request and the library's whole error chain.
#[test]
fn verbose_keeps_the_detail_of_a_failed_connection() {
    let env = Env::new(Scale::Tiny);
    let port = closed_port();
    env.write_credentials(
        &json!({"user": "alice", "password": "x", "url": format!("http://127.0.0.1:{port}")}),
    );
    let out = env.run(&["-v", "--retries", "1", "--retry-wait-scale", "0.01"]);
    assert_eq!(out.status.code(), Some(5), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains(&format!("POST http://127.0.0.1:{port}/api/v4/users/login"))
            && err.contains("tcp connect error")
            && err.contains("os error"),
        "{err}"
    );
}

fn set_private(p: &std::path::Path) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = p;
}

/// Issue 18: a duration or rate out of range (`--timeout 1e20` made `Duration` panic, exit
/// 101) is refused by the parser: exit 2, naming the option, before any request.
#[test]
fn issue18_out_of_range_durations_and_rates_exit_2_naming_the_option() {
    let env = Env::new(Scale::Tiny);
    for (opt, bad) in [
        ("--timeout", "1e20"),
        ("--connect-timeout", "1e20"),
        ("--min-speed-time", "1e20"),
        ("--initial-jitter", "1e20"),
        ("--step-jitter", "1e20"),
        ("--rate-limit", "1e-300"),
    ] {
        let out = env.run(&[opt, bad, "--summary-json", "summary.json"]);
        assert_eq!(out.status.code(), Some(2), "{opt} {bad}\n{}", text(&out));
        let e = stderr(&out);
        assert!(e.contains(opt) && e.contains("out of range"), "{opt}: {e}");
    }
    let out = env
        .cmd()
        .env("MATTERBAK_MIN_SPEED_TIME", "1e20")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("--min-speed-time"), "{}", text(&out));
    let out = env.exec(&["list", "--timeout", "1e20"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(stderr(&out).contains("--timeout"), "{}", text(&out));
    assert_eq!(env.server.total_requests(), 0);
    assert!(!env.data().exists());
}
