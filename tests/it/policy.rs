//! Issue 12, item 5: what a real server refuses or leaves out by policy, and its rate limiter.
//! Archived channels a server hides, users it does not show, a removed profile picture, and
//! the waits of a rate-limited run.

use fakemm::Scale;
use serde_json::Value;

use crate::util::{read_json, stderr, text, tree, user_id, verify, Env};

fn summary(env: &Env) -> Value {
    read_json(&env.path("summary.json"))
}

fn team_member(id: &str) -> fakemm::Id {
    fakemm::Id::lookup(id)
}

/// `ExperimentalViewArchivedChannels=false` (servers up to v10): the archived channels are
/// still listed, their posts are refused with 403. The backup keeps what it has, says so once,
/// lists them in the summary, and the run is a success.
#[test]
fn archived_channels_the_server_hides_are_kept_and_listed_once() {
    let env = Env::new(Scale::Tiny);
    let (team, labels) = env.server.with_world(|w| {
        let me = user_id(w, "alice");
        let bob = user_id(w, "bob");
        let team = w
            .teams
            .values()
            .find(|t| t.members.contains_key(&fakemm::Id::lookup(&me)))
            .unwrap()
            .clone();
        let mut labels = Vec::new();
        for name in ["old-stuff", "older-stuff"] {
            let c = w
                .add_channel(team.id.as_str(), 'O', name, name, [&me, &bob])
                .unwrap();
            for i in 0..3 {
                w.add_post(&c, &bob, &format!("{name} {i}"), None, vec![])
                    .unwrap();
            }
            w.archive_channel(&c).unwrap();
            labels.push(format!("{}/{name}", team.name));
        }
        // The data set has archived channels of its own: all of them are refused.
        for c in w.channels.values() {
            if c.delete_at != 0 && c.team_id == team.id && w.can_read_channel(team_member(&me), c) {
                let l = format!("{}/{}", team.name, c.name);
                if !labels.contains(&l) {
                    labels.push(l);
                }
            }
        }
        labels.sort();
        (team.name.clone(), labels)
    });
    // The first run, while the server shows archived channels, stores them.
    env.run_ok(&[]);
    let before = tree(&env.data());
    let stored = |t: &std::collections::BTreeMap<String, Vec<u8>>, name: &str| {
        t.keys()
            .filter(|k| k.contains(&format!("__{name}/")) && k.ends_with(".json"))
            .count()
    };
    assert!(stored(&before, "old-stuff") >= 3, "{:?}", before.keys());

    env.server
        .with_world(|w| w.config.view_archived_channels = false);
    for run in 0..2 {
        let out = env.run(&["--summary-json", "summary.json"]);
        assert_eq!(out.status.code(), Some(0), "run {run}: {}", text(&out));
        let err = stderr(&out);
        let lines: Vec<&str> = err.lines().filter(|l| l.contains("old-stuff")).collect();
        assert_eq!(lines.len(), 1, "one line names them: {err}");
        assert!(labels.iter().all(|l| lines[0].contains(l)), "{err}");
        assert!(
            lines[0].contains("ExperimentalViewArchivedChannels"),
            "{err}"
        );
        let so = String::from_utf8_lossy(&out.stdout);
        assert!(
            so.contains(&format!(
                "; {} archived channels the server hides",
                labels.len()
            )),
            "{so}"
        );
        let s = summary(&env);
        assert_eq!(s["outcome"], "ok", "{s:#}");
        assert_eq!(s["failures"], serde_json::json!([]), "{s:#}");
        let mut refused: Vec<String> = s["refused_channels"]
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap().to_string())
            .collect();
        refused.sort();
        assert_eq!(refused, labels, "{s:#}");
        // Nothing changed in the backup: the posts, the channel files and the cursors.
        let after = tree(&env.data());
        let changed: Vec<&String> = after
            .keys()
            .chain(before.keys())
            .filter(|k| !k.ends_with(".matterbak.lock") && after.get(*k) != before.get(*k))
            .collect();
        assert!(
            changed.is_empty(),
            "run {run} changed the backup ({team}): {changed:?}"
        );
    }
    // A channel archived before the backup ever read it: listed as well; the backup verifies.
    let never = env.server.with_world(|w| {
        let me = user_id(w, "alice");
        let tid = w.team_by_name(&team).unwrap().id.to_string();
        let c = w
            .add_channel(&tid, 'O', "never-seen", "never-seen", [&me])
            .unwrap();
        w.add_post(&c, &me, "too late", None, vec![]).unwrap();
        w.archive_channel(&c).unwrap();
        format!("{team}/never-seen")
    });
    let out = env.run(&["--summary-json", "summary.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let s = summary(&env);
    assert!(
        s["refused_channels"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == never.as_str()),
        "{s:#}"
    );
    let (code, report) = verify(&env);
    assert_eq!(code, 0, "{report}");
}

/// `GetViewUsersRestrictions`: a caller without `view_members` (a guest) gets only the users
/// who share a channel with it from `POST /users/ids`. A user who posted and left is missing:
/// reported in one line, not a failure, and their posts are stored.
#[test]
fn users_the_server_does_not_show_are_reported_once_and_their_posts_kept() {
    let env = Env::new(Scale::Tiny);
    let (zed, posts) = env.server.with_world(|w| {
        let me = user_id(w, "alice");
        let bob = user_id(w, "bob");
        let team = w
            .teams
            .values()
            .find(|t| t.members.contains_key(&fakemm::Id::lookup(&me)))
            .unwrap()
            .id
            .to_string();
        let zed = w.add_user("zed", "zed-password").unwrap();
        w.add_team_member(&team, &zed).unwrap();
        let c = w
            .add_channel(&team, 'O', "visitors", "Visitors", [&me, &bob, &zed])
            .unwrap();
        let posts: Vec<String> = (0..2)
            .map(|i| {
                w.add_post(&c, &zed, &format!("zed was here {i}"), None, vec![])
                    .unwrap()
            })
            .collect();
        w.remove_channel_member(&c, &zed).unwrap();
        w.config.restrict_view_members = true;
        (zed, posts)
    });
    let out = env.run(&["--summary-json", "summary.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let err = stderr(&out);
    let lines: Vec<&str> = err.lines().filter(|l| l.contains(&zed)).collect();
    assert_eq!(lines.len(), 1, "one line names the hidden user: {err}");
    assert!(lines[0].contains("does not show"), "{err}");
    let s = summary(&env);
    assert_eq!(s["outcome"], "ok", "{s:#}");
    assert_eq!(s["hidden_users"], serde_json::json!([zed]), "{s:#}");
    let files = tree(&env.data());
    for p in &posts {
        assert!(
            files.keys().any(|k| k.ends_with(&format!("__{p}.json"))),
            "post {p} by the hidden user is stored"
        );
    }
    assert!(!files
        .keys()
        .any(|k| k.starts_with("users/") && k.contains(&zed)));
    assert!(files
        .keys()
        .any(|k| k.starts_with("users/") && k.ends_with("__bob.json")));

    // Once the server shows the user (here: the restriction is lifted), the next run stores
    // their profile: the id was kept pending.
    env.server
        .with_world(|w| w.config.restrict_view_members = false);
    let out = env.run(&["--summary-json", "summary.json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert_eq!(summary(&env)["hidden_users"], serde_json::json!([]));
    assert!(tree(&env.data())
        .keys()
        .any(|k| k.starts_with("users/") && k.ends_with("__zed.json")));
}

/// `SetDefaultProfileImage` / `ResetLastPictureUpdate`: `last_picture_update` goes back to 0.
/// The old picture stays in the backup, and no run asks for the image again.
#[test]
fn a_removed_profile_picture_keeps_the_old_image_and_is_not_fetched_again() {
    let env = Env::new(Scale::Tiny);
    env.run_ok(&[]);
    let (bob, lpu) = env.server.with_world(|w| {
        let b = w.user_by_name("bob").unwrap();
        (b.id.to_string(), b.last_picture_update)
    });
    assert!(lpu > 0, "bob has a picture in the data set");
    let image = |env: &Env| {
        tree(&env.data())
            .into_iter()
            .find(|(k, _)| k.starts_with(&format!("users/{bob}__")) && !k.ends_with(".json"))
            .unwrap_or_else(|| panic!("bob's image is stored"))
    };
    let old = image(&env);
    env.server
        .with_world(|w| w.remove_profile_picture(&bob).unwrap());
    for run in 0..2 {
        env.server.reset_counts();
        env.run_ok(&[]);
        let counts = env.server.request_counts();
        assert_eq!(
            counts.get("GET /api/v4/users/{user_id}/image"),
            None,
            "run {run}: no image request: {counts:?}"
        );
        assert_eq!(image(&env), old, "run {run}: the old picture is kept");
    }
    // The stored profile says the picture was removed.
    let profile = tree(&env.data())
        .into_iter()
        .find(|(k, _)| k == &format!("users/{bob}__bob.json"))
        .unwrap()
        .1;
    let v: Value = serde_json::from_slice(&profile).unwrap();
    assert!(v.get("last_picture_update").is_none(), "{v}");
    // Renamed without a picture: the old picture is renamed with the user, not replaced by
    // the generated default.
    env.server.with_world(|w| {
        let t = w.tick();
        let u = w.users.get_mut(&fakemm::Id::lookup(&bob)).unwrap();
        u.username = "bobby".into();
        u.update_at = t;
    });
    env.write_channels(&env.server.with_world(|w| w.sample_channels_json()));
    env.server.reset_counts();
    env.run_ok(&[]);
    assert_eq!(
        env.server
            .request_counts()
            .get("GET /api/v4/users/{user_id}/image"),
        None
    );
    let files = tree(&env.data());
    let renamed = files
        .iter()
        .find(|(k, _)| k.starts_with(&format!("users/{bob}__bobby__image.")))
        .expect("the image has the new name");
    assert_eq!(renamed.1, &old.1, "the old picture, renamed");
    assert_eq!(
        files
            .keys()
            .filter(|k| k.starts_with(&format!("users/{bob}")))
            .count(),
        2,
        "one profile, one image: {:?}",
        files
            .keys()
            .filter(|k| k.starts_with("users/"))
            .collect::<Vec<_>>()
    );
    // A new upload later is fetched again.
    env.server
        .with_world(|w| w.set_profile_picture(&bob).unwrap());
    env.server.reset_counts();
    env.run_ok(&[]);
    assert_eq!(
        env.server
            .request_counts()
            .get("GET /api/v4/users/{user_id}/image"),
        Some(&1)
    );
    assert_ne!(image(&env).1, old.1);
}

/// throttled's headers: `X-RateLimit-Reset` is the time until the bucket is full, about
/// (burst+1)/rate, rounded up to seconds; the next request is allowed after 1/rate. Without a
/// limit of its own, a run against a server at 20/s with a burst of 5 takes about
/// requests/rate, with few 429s. (Waiting the whole Reset on every empty bucket gives one
/// burst of 6 per second: more than three times as long.)
#[test]
fn an_empty_rate_limit_bucket_waits_one_token_not_the_whole_reset() {
    // Also with `VaryByUser`: two sets of headers (the token's bucket, the user's).
    for vary_by_user in [false, true] {
        let env = Env::new(Scale::Tiny);
        env.server.with_world(|w| {
            w.config.rate_limit = Some((20, 5));
            w.config.rate_limit_vary_by_user = vary_by_user;
        });
        let out = env.run(&[
            "--rate-limit",
            "0",
            "--skip-users",
            "--skip-emojis",
            "--summary-json",
            "summary.json",
        ]);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out));
        // The time the run spent waiting for the server's limit, not the run's wall time: a
        // loaded machine makes requests slower, which only leaves less to wait.
        let waited = summary(&env)["rate_limit_wait_secs"].as_f64().unwrap();
        let n = env.server.total_requests();
        let refused = env.server.rate_limited();
        assert!(n >= 30, "enough requests to measure: {n}");
        // At 20/s, n requests wait about (n - 6)/20 s after the first burst; waiting the whole
        // Reset (1 s) on every empty bucket would wait about (n - 6)/6 s.
        let ideal = (n - 6) as f64 / 20.0;
        let what = format!(
            "vary_by_user {vary_by_user}: {n} requests ({refused} refused), waited {waited:.2}s; at the server's rate {ideal:.2}s"
        );
        eprintln!("{what}");
        assert!(waited < ideal * 1.6 + 0.3, "{what}");
        assert!(refused * 10 <= n, "{what}");
    }
}

/// A guest's channels file naming a user it may not see (or no user at all): the server
/// answers 403 for both (`getUserByUsername`), which is the usage error of an unknown name,
/// before anything is written.
#[test]
fn a_restricted_caller_naming_an_unseen_user_gets_the_usage_error() {
    let env = Env::new(Scale::Tiny);
    env.server
        .with_world(|w| w.config.restrict_view_members = true);
    let mut channels = env.server.with_world(|w| w.sample_channels_json());
    channels["direct"]
        .as_array_mut()
        .unwrap()
        .push("nobody-here".into());
    env.write_channels(&channels);
    let out = env.run(&[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    let err = stderr(&out);
    assert!(
        err.contains("\"nobody-here\"") && err.contains("none you may see"),
        "{err}"
    );
    assert!(!env.data().join("direct").exists(), "nothing written");
}

/// Issue 18: `X-RateLimit-Reset: 999999999` with `Remaining: 0` on every answer (fakemm's
/// hostile `endless_reset`) made each request wait 600 s, logged at debug level only: the run
/// sat silent for hours. A wait longer than `--timeout` is not waited: it counts as a failed
/// attempt, so the run ends after the retries, saying why. With a `--timeout` above the cap
/// of 600 s, every wait is waited and logged at the default level with its length and cause.
#[test]
fn issue18_a_bucket_that_never_refills_is_no_silent_wait_for_hours() {
    let env = Env::new(Scale::Tiny);
    env.server
        .set_hostile(fakemm::HostileMode::EndlessReset, true);
    // A wait of 600 s takes 60 ms at this scale; the backoff between attempts about 1.5 ms.
    let scale = ["--retry-wait-scale", "0.0001", "--skip-emojis"];
    let out = env.run(&[&scale[..], &["--summary-json", "summary.json"]].concat());
    assert_ne!(out.status.code(), Some(0), "{}", text(&out));
    let e = stderr(&out);
    assert!(
        e.contains("the server asks to wait 600 s")
            && e.contains("X-RateLimit-Reset: 999999999")
            && e.contains("longer than --timeout (120 s)")
            && e.contains("(6 of 6)"),
        "{}",
        text(&out)
    );
    assert_ne!(summary(&env)["exit_code"], 0);
    // Not one request was sent after a wait it did not wait: a login, then nothing.
    assert_eq!(env.server.total_requests(), 1, "{}", text(&out));

    // Allowed to wait that long: the run waits, and says so each time.
    let out = env.run(&[&scale[..], &["--timeout", "700"]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let e = stderr(&out);
    let waits = e
        .lines()
        .filter(|l| {
            l.contains("waiting 600 s before the next request: the server asks for it")
                && l.contains("X-RateLimit-Remaining: 0, X-RateLimit-Reset: 999999999")
        })
        .count();
    assert!(waits >= 5, "{waits} waits logged\n{}", text(&out));
}

/// One run of a backup against a server of its own limited to `per_sec` requests per second
/// with a burst of 1, with `--jobs jobs`, beside a run of the same selection without a limit.
struct StrictRun {
    jobs: &'static str,
    out: std::process::Output,
    secs: f64,
    requests: u64,
    /// 429s the server sent.
    refused: u64,
    summary: Value,
    /// Files that differ from the run without a limit, or that one of them lacks.
    differ: Vec<String>,
    verify: (i32, String),
}

/// A data dir's files but the state file and the lock (the state holds the run's times).
fn backed_up(env: &Env) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut t = tree(&env.data());
    t.retain(|k, _| !k.starts_with(".matterbak"));
    t
}

/// Issue 19, part 4: the runs of [`StrictRun`] for each `--jobs`, at once (each takes about
/// requests/rate), of the channels `channels` selects (`None`: the data set's sample).
fn strict_runs(per_sec: u32, channels: Option<Value>, extra: &[&str]) -> Vec<StrictRun> {
    let env_for = || {
        let env = Env::new(Scale::Tiny);
        if let Some(c) = &channels {
            env.write_channels(c);
        }
        env
    };
    let reference = env_for();
    reference.run_ok(extra);
    let want = backed_up(&reference);
    std::thread::scope(|scope| {
        let runs: Vec<_> = ["1", "4", "8"]
            .into_iter()
            .map(|jobs| {
                let env = env_for();
                let want = &want;
                scope.spawn(move || {
                    env.server
                        .with_world(|w| w.config.rate_limit = Some((per_sec, 1)));
                    let start = std::time::Instant::now();
                    let args =
                        [&["--jobs", jobs, "--summary-json", "summary.json"], extra].concat();
                    let out = env.run(&args);
                    let secs = start.elapsed().as_secs_f64();
                    let got = backed_up(&env);
                    let differ = got
                        .keys()
                        .chain(want.keys())
                        .filter(|k| got.get(*k) != want.get(*k))
                        .cloned()
                        .collect();
                    StrictRun {
                        jobs,
                        secs,
                        requests: env.server.total_requests(),
                        refused: env.server.rate_limited(),
                        summary: read_json(&env.path("summary.json")),
                        differ,
                        verify: verify(&env),
                        out,
                    }
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    })
}

/// Each run completes (exit 0, the same files as without a limit), counts the server's 429s
/// in its summary, meets at most a handful of them per minute, and takes about as long as
/// the server's rate allows (`secs_per_request`: the server's time for one request).
fn assert_strict_runs(runs: &[StrictRun], secs_per_request: f64) {
    let what = |r: &StrictRun| {
        format!(
            "--jobs {}: exit {:?}, {} requests, {} answered 429, in {:.1} s",
            r.jobs,
            r.out.status.code(),
            r.requests,
            r.refused,
            r.secs
        )
    };
    for r in runs {
        eprintln!("{}", what(r));
    }
    for r in runs {
        let what = what(r);
        assert_eq!(r.out.status.code(), Some(0), "{what}\n{}", text(&r.out));
        assert_eq!(r.summary["outcome"], "ok", "{what}");
        assert!(r.differ.is_empty(), "{what}: {:?}", r.differ);
        assert_eq!(r.verify.0, 0, "{what}: {}", r.verify.1);
        assert_eq!(
            r.summary["rate_limited"], r.refused,
            "{what}: the summary counts the 429s"
        );
        let so = String::from_utf8_lossy(&r.out.stdout);
        if r.refused > 0 {
            assert!(
                so.contains(&format!(
                    " requests ({} refused: 429 Too Many Requests) in ",
                    r.refused
                )),
                "{what}: {so}"
            );
        }
        let minutes = (r.secs / 60.0).ceil();
        assert!(
            r.refused as f64 <= 2.0 * minutes,
            "{what}: more than two per minute"
        );
        // Slowly, but not slower than the server makes it: its rate, plus the waits it
        // rounds up.
        let ideal = r.requests as f64 * secs_per_request;
        assert!(
            r.secs < ideal * 1.5 + 5.0,
            "{what}: at the server's rate {ideal:.1} s"
        );
    }
}

/// Issue 19, part 4: against a server limited to 1 request/s with a burst of 1 (the real
/// limiter's settings are the server's), the default `--jobs 4` sent every waiting request
/// at once after each wait; the 429s used up each request's 6 attempts, and the run ended
/// partial (exit 3, 4 to 6 failures), while `--jobs 1` completed. A 429 now slows the whole
/// client (one shared pause, fewer requests in flight) and is no failed attempt while the run
/// makes progress. One channel with attachments, the team, the users and their images.
#[test]
fn issue19_a_server_limited_to_1_per_second_slows_the_run_at_any_jobs() {
    let channels =
        serde_json::json!({"teams": {"acme": {"include": ["engineering", "off-topic"]}}});
    let runs = strict_runs(1, Some(channels), &["--skip-emojis"]);
    assert_strict_runs(&runs, 1.0);
}

/// Issue 19, part 4: at 5 requests/s with a burst of 1, `--jobs 8` drew 57 429s against 10 at
/// `--jobs 1`. The whole data set, with `--retries 0`: a 429 is no failed attempt while the
/// run makes progress, so not one item fails for it.
#[test]
fn issue19_a_server_limited_to_5_per_second_slows_the_run_at_any_jobs() {
    let runs = strict_runs(5, None, &["--retries", "0"]);
    assert_strict_runs(&runs, 0.2);
}

/// Issue 19, part 4: a 429 is no failed attempt only while the run makes progress. A server
/// that answers nothing but 429 (here from the moment the first channel's posts were asked
/// for) for `--timeout` seconds makes the requests fail as before: the run ends partial,
/// not long after `--timeout`, the 429s counted.
#[test]
fn issue19_a_server_that_answers_only_429_still_ends_the_run_partial() {
    let env = Env::new(Scale::Tiny);
    env.server
        .with_world(|w| w.config.rate_limit = Some((20, 1)));
    let start = std::time::Instant::now();
    let child = env
        .cmd()
        .args([
            "--rate-limit",
            "0",
            "--timeout",
            "3",
            "--retry-wait-scale",
            "0.1",
            "--summary-json",
            "summary.json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    while crate::util::posts_requests(&env) == 0 {
        assert!(start.elapsed().as_secs() < 30, "no posts asked for");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    env.server.with_world(|w| {
        w.config.faults = fakemm::Faults::new(1.0, 1).with_kinds(&[fakemm::FaultKind::TooMany])
    });
    let only_429 = chrono::Utc::now();
    let out = child.wait_with_output().unwrap();
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let s = summary(&env);
    assert_eq!(s["outcome"], "partial", "{s:#}");
    assert!(!s["failures"].as_array().unwrap().is_empty(), "{s:#}");
    let refused = s["rate_limited"].as_u64().unwrap();
    assert!(refused > 10, "{refused} 429s counted");
    // The 429s were ridden out for --timeout (the first 429 that counts as a failed attempt
    // comes 3 s after the last success, at most a few requests before the server turned),
    // then failed the requests within seconds.
    assert!((3.0..20.0).contains(&secs), "{secs:.1} s\n{}", text(&out));
    let err = stderr(&out);
    let first_counted = err
        .lines()
        .find(|l| l.contains("429 Too Many Requests; retrying in"))
        .unwrap_or_else(|| panic!("no 429 counted: {err}"));
    let at = chrono::DateTime::parse_from_rfc3339(first_counted.split(' ').next().unwrap())
        .unwrap_or_else(|e| panic!("{e}: {first_counted}"));
    let after = (at.with_timezone(&chrono::Utc) - only_429).as_seconds_f64();
    assert!(
        after >= 2.0,
        "{after:.2} s after the server turned: {first_counted}"
    );
}
