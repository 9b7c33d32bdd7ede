//! Every way to log in (issue 6): password, session token, personal access token, environment
//! variables without a credentials file, precedence flag > env > file > netrc, ~/.netrc, MFA
//! (code from the flag or variable, asked on a terminal, missing, wrong), and a server with a
//! private CA (--ca-cert, none, --insecure).

use std::process::{Command, Output, Stdio};

use fakemm::{FakeServer, Scale, World};
use serde_json::json;

use crate::util::{closed_port, list, require_tool, stderr, text, user_id, Env, SEED};

const MFA_SECRET: &str = "JBSWY3DPEHPK3PXPJBSWY3DP";

#[track_caller]
fn assert_listed(out: &Output) {
    assert_eq!(out.status.code(), Some(0), "{}", text(out));
    let table = String::from_utf8_lossy(&out.stdout);
    assert!(table.contains("town-square"), "{}", text(out));
}

#[track_caller]
fn assert_code(out: &Output, code: i32, needle: &str) {
    assert_eq!(out.status.code(), Some(code), "{}", text(out));
    assert!(
        stderr(out).contains(needle),
        "{needle:?} in:\n{}",
        text(out)
    );
}

fn url(env: &Env) -> String {
    env.server.base_url()
}

#[test]
fn password_session_token_and_personal_access_token() {
    let env = Env::new(Scale::Tiny);
    // the credentials.json of Env: alice's password
    let before = env.server.request_counts();
    assert!(before.is_empty());
    assert_listed(&list(&env, &[], &[]));
    assert_eq!(
        env.server.request_counts().get("POST /api/v4/users/login"),
        Some(&1)
    );

    let session = env.server.with_world(|w| {
        let alice = user_id(w, "alice");
        w.create_session(&alice).unwrap()
    });
    for token in [session.as_str(), "alicepersonalaccesstoken0000"] {
        env.write_credentials(&json!({"user": "alice", "token": token, "url": url(&env)}));
        env.server.reset_counts();
        assert_listed(&list(&env, &[], &[]));
        assert_eq!(
            env.server.request_counts().get("POST /api/v4/users/login"),
            None,
            "a token needs no login"
        );
    }
    env.write_credentials(&json!({"user": "alice", "token": "revoked0000", "url": url(&env)}));
    assert_code(&list(&env, &[], &[]), 4, "credentials.json was rejected");
}

#[test]
fn environment_variables_alone_run_a_backup_without_a_credentials_file() {
    let env = Env::new(Scale::Tiny);
    std::fs::remove_file(env.path("credentials.json")).unwrap();
    let u = url(&env);
    let out = env
        .bare()
        .args(["--channels", "channels.json", "-d", "data", "-o", "out.zip"])
        .args(["--rate-limit", "0"])
        .env("MATTERBAK_URL", &u)
        .env("MATTERBAK_USER", "alice")
        .env("MATTERBAK_PASSWORD", "alice-password")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(env.data().join("state.json").exists() || env.data().is_dir());
    assert!(env.zip().exists());

    // the same with a token, for `list`
    let out = list(
        &env,
        &[
            ("MATTERBAK_URL", &u),
            ("MATTERBAK_USER", "alice"),
            ("MATTERBAK_TOKEN", "alicepersonalaccesstoken0000"),
        ],
        &[],
    );
    assert_listed(&out);
}

#[test]
fn what_is_missing_is_named_with_every_place_it_could_come_from() {
    let env = Env::new(Scale::Tiny);
    std::fs::remove_file(env.path("credentials.json")).unwrap();
    let u = url(&env);
    let out = list(
        &env,
        &[("MATTERBAK_URL", &u), ("MATTERBAK_USER", "alice")],
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let e = stderr(&out);
    for place in [
        "password or token",
        "MATTERBAK_TOKEN",
        "MATTERBAK_PASSWORD",
        "credentials.json",
        "netrc",
    ] {
        assert!(e.contains(place), "{place:?} in {e}");
    }
    assert!(
        !e.contains("MATTERBAK_USER"),
        "the user is not missing: {e}"
    );

    let out = list(&env, &[], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let e = stderr(&out);
    for place in [
        "--url",
        "MATTERBAK_URL",
        "--user",
        "MATTERBAK_USER",
        "does not exist",
    ] {
        assert!(e.contains(place), "{place:?} in {e}");
    }
    assert_eq!(
        env.server.total_requests(),
        0,
        "no request on a config error"
    );

    // an explicit --credentials file must exist
    let out = list(&env, &[], &["--credentials", "mine.json"]);
    assert_code(&out, 2, "mine.json");
}

#[test]
fn a_flag_beats_the_environment_which_beats_the_file() {
    let env = Env::new(Scale::Tiny);
    let u = url(&env);
    env.write_credentials(&json!({"user": "alice", "password": "wrong-in-file", "url": u}));
    assert_code(
        &list(&env, &[], &["--credentials", "credentials.json"]),
        4,
        "wrong user name or password",
    );
    // the environment's password beats the file's (and the default file is read when present)
    assert_listed(&list(
        &env,
        &[("MATTERBAK_PASSWORD", "alice-password")],
        &[],
    ));
    // the environment's user beats the file's ...
    let vars = [
        ("MATTERBAK_PASSWORD", "alice-password"),
        ("MATTERBAK_USER", "bob"),
    ];
    assert_code(&list(&env, &vars, &[]), 4, "login as bob failed");
    // ... and the flag beats the environment
    assert_listed(&list(&env, &vars, &["--user", "alice"]));
    // the same for the URL: a dead one in the environment, the right one as a flag
    let dead = format!("http://127.0.0.1:{}", closed_port());
    let vars = [
        ("MATTERBAK_PASSWORD", "alice-password"),
        ("MATTERBAK_URL", dead.as_str()),
    ];
    assert_code(&list(&env, &vars, &["--retries", "0"]), 5, "cannot reach");
    assert_listed(&list(&env, &vars, &["--url", &u]));
}

#[test]
fn netrc_gives_user_and_password_for_the_host() {
    let env = Env::new(Scale::Tiny);
    std::fs::remove_file(env.path("credentials.json")).unwrap();
    let u = url(&env);
    let netrc = env.path(".netrc");
    std::fs::write(
        &netrc,
        "machine example.org login x password y\n\
         macdefine init\nmachine 127.0.0.1 login mallory password from-a-macro\n\n\
         machine 127.0.0.1\n  login alice\n  account ignored\n  password alice-password\n",
    )
    .unwrap();
    chmod(&netrc, 0o600);
    let out = list(&env, &[("MATTERBAK_URL", &u)], &[]);
    assert_listed(&out);
    assert!(!stderr(&out).contains("chmod"), "{}", text(&out));

    // a password from a higher source wins over the netrc's
    let out = list(
        &env,
        &[("MATTERBAK_URL", &u), ("MATTERBAK_PASSWORD", "wrong")],
        &[],
    );
    assert_code(&out, 4, "MATTERBAK_PASSWORD");

    // $NETRC instead of ~/.netrc, with a `default` entry; readable by others: a warning
    std::fs::remove_file(&netrc).unwrap();
    let other = env.path("other-netrc");
    std::fs::write(&other, "default login alice password alice-password").unwrap();
    chmod(&other, 0o644);
    let out = list(
        &env,
        &[("MATTERBAK_URL", &u), ("NETRC", other.to_str().unwrap())],
        &[],
    );
    assert_listed(&out);
    #[cfg(unix)]
    assert!(stderr(&out).contains("chmod 600"), "{}", text(&out));

    // a netrc entry for another login does not give bob a password
    let out = list(
        &env,
        &[
            ("MATTERBAK_URL", &u),
            ("MATTERBAK_USER", "bob"),
            ("NETRC", other.to_str().unwrap()),
        ],
        &[],
    );
    assert_code(&out, 2, "password or token");
}

fn chmod(p: &std::path::Path, mode: u32) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    }
    #[cfg(not(unix))]
    let _ = (p, mode);
}

fn mfa_env() -> Env {
    let env = Env::new(Scale::Tiny);
    env.server
        .with_world(|w| w.enable_mfa("alice", MFA_SECRET))
        .unwrap();
    env
}

#[test]
fn mfa_code_from_the_flag_or_the_environment() {
    let env = mfa_env();
    let code = fakemm::totp::code_now(MFA_SECRET);
    assert_listed(&list(&env, &[], &["--mfa-token", &code]));
    assert_listed(&list(&env, &[("MATTERBAK_MFA_TOKEN", &code)], &[]));
    // a token login needs no code
    env.write_credentials(
        &json!({"user": "alice", "token": "alicepersonalaccesstoken0000", "url": url(&env)}),
    );
    assert_listed(&list(&env, &[], &[]));
}

#[test]
fn mfa_without_a_code_and_no_terminal_exits_4_saying_what_to_pass() {
    let env = mfa_env();
    let out = list(&env, &[], &[]);
    assert_code(&out, 4, "--mfa-token");
    assert!(stderr(&out).contains("MATTERBAK_TOKEN"), "{}", text(&out));
    assert_eq!(
        env.server.request_counts().get("POST /api/v4/users/login"),
        Some(&1),
        "no second try without a code"
    );
}

#[test]
fn a_wrong_or_malformed_mfa_code_exits_4() {
    let env = mfa_env();
    let now = fakemm::totp::now();
    let valid: Vec<String> = [now - 60, now - 30, now, now + 30, now + 60]
        .iter()
        .map(|t| fakemm::totp::code_at(MFA_SECRET, *t))
        .collect();
    let wrong = (0..)
        .map(|i| format!("{:06}", i * 7919 % 1_000_000))
        .find(|c| !valid.contains(c))
        .unwrap();
    assert_code(
        &list(&env, &[], &["--mfa-token", &wrong]),
        4,
        "MFA code was not accepted",
    );
    assert_code(&list(&env, &[], &["--mfa-token", "12ab"]), 4, "malformed");
    // the right password is still needed
    env.write_credentials(&json!({"user": "alice", "password": "nope", "url": url(&env)}));
    let code = fakemm::totp::code_now(MFA_SECRET);
    assert_code(
        &list(&env, &[], &["--mfa-token", &code]),
        4,
        "wrong user name or password",
    );
}

#[test]
fn mfa_code_is_asked_on_a_terminal() {
    let env = mfa_env();
    if require_tool(&["script"], "util-linux").is_none() {
        return;
    }
    let cmd = format!(
        "{} list --rate-limit 0 --credentials credentials.json",
        env!("CARGO_BIN_EXE_matterbak")
    );
    let mut c = Command::new("script");
    env.hermetic(&mut c);
    let mut child = c
        .args(["-qec", &cmd, "/dev/null"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The prompt comes after the first login attempt; typed-ahead input waits in the terminal.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let code = fakemm::totp::code_now(MFA_SECRET);
    let mut stdin = child.stdin.take().unwrap();
    std::io::Write::write_all(&mut stdin, format!("{code}\n").as_bytes()).unwrap();
    // keep standard input open until the run ends: `script` stops when its input ends
    let out = child.wait_with_output().unwrap();
    drop(stdin);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let tty = String::from_utf8_lossy(&out.stdout);
    assert!(tty.contains("MFA code for alice"), "{tty}");
    assert!(tty.contains("town-square"), "{tty}");
    assert_eq!(
        env.server.request_counts().get("POST /api/v4/users/login"),
        Some(&2)
    );
}

fn tls_env() -> (Env, std::path::PathBuf) {
    let world = World::generate(SEED, Scale::Tiny);
    let server = FakeServer::start_tls(world);
    let env = Env {
        server,
        tmp: tempfile::tempdir().unwrap(),
    };
    env.write_credentials(
        &json!({"user": "alice", "password": "alice-password", "url": url(&env)}),
    );
    let ca = env.path("ca.pem");
    std::fs::write(&ca, env.server.ca_pem().unwrap()).unwrap();
    (env, ca)
}

#[test]
fn a_private_ca_is_trusted_with_ca_cert_and_only_then() {
    let (env, ca) = tls_env();
    assert!(url(&env).starts_with("https://"));
    assert_listed(&list(&env, &[], &["--ca-cert", ca.to_str().unwrap()]));
    assert_listed(&list(
        &env,
        &[("MATTERBAK_CA_CERT", ca.to_str().unwrap())],
        &[],
    ));

    // `-v` logs every attempt (`POST https://...`) and every retry: a certificate error is
    // tried once, a count rather than a clock.
    let out = list(&env, &[], &["-v"]);
    assert_code(&out, 5, "--ca-cert");
    let e = stderr(&out);
    assert!(e.contains("certificate"), "{}", text(&out));
    let attempts = e.lines().filter(|l| l.contains(" POST https://")).count();
    assert_eq!(attempts, 1, "a certificate error is not retried:\n{e}");
    assert!(!e.contains("retrying"), "{e}");

    std::fs::write(env.path("junk.pem"), "not a certificate").unwrap();
    assert_code(&list(&env, &[], &["--ca-cert", "junk.pem"]), 2, "junk.pem");
}

#[test]
fn insecure_accepts_the_certificate_and_warns() {
    let (env, _) = tls_env();
    let out = list(&env, &[], &["--insecure"]);
    assert_listed(&out);
    let e = stderr(&out);
    assert!(e.contains("warning") && e.contains("--insecure"), "{e}");
    // the warning is there even when the log shows errors only
    let out = list(&env, &[("RUST_LOG", "error")], &["--insecure"]);
    assert_listed(&out);
    assert!(stderr(&out).contains("--insecure"), "{}", text(&out));
}

/// Issue 18: a secret from an env file with CRLF line endings ends in a CR. It was sent as it
/// is, retried for 12 s and reported as "cannot reach the server" (exit 5); now it is refused
/// at once (exit 2), naming where it came from, never printing it, asking the server nothing.
#[test]
fn issue18_a_secret_ending_in_cr_lf_exits_2_naming_its_source() {
    let env = Env::new(Scale::Tiny);
    let token = "alicepersonalaccesstoken0000";
    let out = list(
        &env,
        &[
            ("MATTERBAK_URL", &url(&env)),
            ("MATTERBAK_USER", "alice"),
            ("MATTERBAK_TOKEN", &format!("{token}\r\n")),
        ],
        &[],
    );
    assert_code(&out, 2, "MATTERBAK_TOKEN ends with a line feed");
    assert!(stderr(&out).contains("dos2unix"), "{}", text(&out));
    assert!(!text(&out).contains(token), "{}", text(&out));

    env.write_credentials(
        &json!({"user": "alice", "password": "alice-password\r", "url": url(&env)}),
    );
    let out = env.run(&[]);
    assert_code(
        &out,
        2,
        "the password from field \"password\" of the credentials file credentials.json ends with a carriage return (CR)",
    );
    assert!(!text(&out).contains("alice-password"), "{}", text(&out));
    assert_eq!(env.server.total_requests(), 0);
    assert!(!env.data().exists());
}
