//! Bad configuration and login problems: one clear line, a documented exit code, nothing written.

use fakemm::Scale;
use serde_json::json;

use crate::util::{text, Env};

fn stderr(out: &std::process::Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

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
    // a port nobody listens on
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    env.write_credentials(
        &json!({"user": "alice", "password": "x", "url": format!("http://127.0.0.1:{port}")}),
    );
    let out = env.run(&[]);
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
        let alice = w.user_by_name("alice").unwrap().id.to_string();
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
