//! Nothing unbounded: listings that never end, member pages that overlap, transfers that
//! trickle. Each run ends in bounded time and requests, the rest is backed up, and a run
//! against a healed server completes the backup.

use std::collections::BTreeMap;
use std::time::Duration;

use fakemm::hostile::HostileMode;
use fakemm::Scale;

use crate::oracle::{assert_matches, diff, everything, want_all, want_all_with, Opts, Want};
use crate::util::{alice, channel_id, text, watched, Env, Watched, FAST};

fn run_watched(env: &Env, extra: &[&str], limit: Duration) -> Watched {
    let mut c = env.cmd();
    c.args(["--rate-limit", "0"]).args(FAST).args(extra);
    watched(c, limit)
}

/// Differences other than files the backup holds beyond the expectation, minus those `skip`
/// accepts.
fn missing_or_different(
    env: &Env,
    want: &BTreeMap<String, Want>,
    skip: impl Fn(&str) -> bool,
) -> Vec<String> {
    diff(&env.data(), want)
        .into_iter()
        .filter(|p| !p.starts_with("unexpected: "))
        .filter(|p| !skip(p.split_once(": ").map_or("", |(_, rest)| rest)))
        .collect()
}

#[test]
fn listings_that_repeat_their_pages_forever_end_and_the_rest_is_backed_up() {
    let env = Env::new(Scale::Tiny);
    env.server.set_hostile(HostileMode::RepeatListings, true);
    env.server.reset_counts();
    let w = run_watched(&env, &[], Duration::from_secs(60));
    let log = text(&w.out);
    assert_eq!(w.out.status.code(), Some(3), "{log}");
    assert!(w.elapsed < Duration::from_secs(60), "{:?}", w.elapsed);
    assert!(
        w.peak_rss() < 64 << 20,
        "peak RSS {} MiB",
        w.peak_rss() >> 20
    );
    // Each listing stops at its second page: a full page with nothing new.
    let me = alice(&env);
    let (channels, teams) = env.server.with_world(|w| everything(w, &me));
    let counts = env.server.request_counts();
    let n = |k: &str| counts.get(k).copied().unwrap_or(0);
    let members = n("GET /api/v4/channels/{channel_id}/members");
    assert!(
        members > 0 && members <= 2 * channels.len() as u64,
        "{members} requests for the members of {} channels",
        channels.len()
    );
    let team_members = n("GET /api/v4/teams/{team_id}/members");
    assert!(
        team_members > 0 && team_members <= 2 * teams.len() as u64,
        "{team_members}"
    );
    assert_eq!(n("GET /api/v4/emoji"), 2);
    // The warnings name the endpoints.
    let stderr = String::from_utf8_lossy(&w.out.stderr);
    for endpoint in [
        "/members",
        &format!("/teams/{}/members", teams[0]),
        "/api/v4/emoji",
    ] {
        assert!(
            stderr
                .lines()
                .any(|l| l.contains(endpoint) && l.contains("repeats its pages")),
            "no warning names {endpoint}:\n{log}"
        );
    }
    // Everything else is backed up: every post and attachment of the direct and team
    // channels, every user and profile image. (A group channel is named by its members: it
    // waits for the next run, as do channel objects, member lists and emojis.)
    let want = want_all(&env);
    let problems = missing_or_different(&env, &want, |path| {
        let in_channel = match path.split('/').next() {
            Some("direct") => path.split('/').count() >= 3,
            Some("teams") => path.split('/').count() >= 4,
            _ => false,
        };
        !(in_channel || path.starts_with("users/"))
    });
    assert!(problems.is_empty(), "{problems:#?}\n{log}");

    // Against a healed server the next run completes the backup.
    env.server.set_hostile(HostileMode::RepeatListings, false);
    env.run_ok(&FAST);
    assert_matches(&env.data(), &want_all(&env));
}

#[test]
fn members_from_overlapping_pages_are_stored_once() {
    let env = Env::new(Scale::Tiny);
    let me = alice(&env);
    let crowd = env.server.with_world(|w| {
        let t = w.team_by_name("acme").unwrap().id.to_string();
        let mut members = vec![me.clone()];
        for i in 0..449 {
            let u = w.add_user(&format!("crowd{i:03}"), "x").unwrap();
            w.add_team_member(&t, &u).unwrap();
            members.push(u);
        }
        w.add_channel(&t, 'O', "crowd", "Crowd", members).unwrap()
    });
    env.server.set_hostile(HostileMode::OverlapMembers, true);
    env.run_ok(&["--skip-user-images"]);
    let file = crate::util::tree(&env.data())
        .into_iter()
        .find(|(k, _)| k.contains(&crowd) && k.ends_with("__members.json"))
        .unwrap()
        .1;
    let ids: Vec<String> = serde_json::from_slice::<Vec<serde_json::Value>>(&file)
        .unwrap()
        .iter()
        .map(|m| m["user_id"].as_str().unwrap().to_string())
        .collect();
    let unique: std::collections::BTreeSet<&String> = ids.iter().collect();
    assert_eq!((ids.len(), unique.len()), (450, 450));
    assert_matches(
        &env.data(),
        &want_all_with(
            &env,
            Opts {
                skip_user_images: true,
                ..Opts::default()
            },
        ),
    );
}

#[test]
fn a_trickling_attachment_and_answer_fail_in_bounded_time_and_the_rest_is_backed_up() {
    let env = Env::new(Scale::Tiny);
    let me = alice(&env);
    let (fid, name) = env.server.with_world(|w| {
        let ch = channel_id(w, "acme", "town-square");
        let pid = w
            .add_post(
                &ch,
                &me,
                "slow",
                None,
                vec![(
                    "slow.bin".into(),
                    "application/octet-stream".into(),
                    100_000,
                )],
            )
            .unwrap();
        let fid = w.post(&pid).unwrap().file_ids[0];
        let h = &mut w.config.hostile;
        h.trickle = true;
        h.trickle_ms = 20; // 50 bytes/s
        h.trickle_file = Some(fid);
        (fid.to_string(), "slow.bin")
    });
    let (retries, min_time) = (1u32, 2u64);
    let w = run_watched(
        &env,
        &[
            "--retries",
            &retries.to_string(),
            "--min-speed",
            "1K",
            "--min-speed-time",
            &min_time.to_string(),
        ],
        Duration::from_secs(120),
    );
    let log = text(&w.out);
    assert_eq!(w.out.status.code(), Some(3), "{log}");
    // Two trickled transfers (the file, the emoji list), each (retries + 1) windows long.
    let bound = Duration::from_secs(2 * (u64::from(retries) + 1) * min_time + 15);
    assert!(w.elapsed < bound, "{:?} > {bound:?}\n{log}", w.elapsed);
    let stderr = String::from_utf8_lossy(&w.out.stderr);
    // The file was resumed with a range after its first slow attempt, then listed as failed.
    assert!(
        stderr.lines().any(|l| l.contains(name)
            && l.contains("too slow")
            && l.contains("resuming at byte")
            && !l.contains("resuming at byte 0 ")),
        "{log}"
    );
    assert!(
        stderr.lines().any(|l| l.contains(&fid)
            && l.contains(name)
            && l.contains("too slow")
            && !l.contains("resuming")),
        "{log}"
    );
    // The emoji list was tried again, then listed as failed.
    assert!(
        stderr.lines().any(|l| l.contains("/api/v4/emoji")
            && l.contains("too slow")
            && l.contains(&format!("({} of {})", retries + 1, retries + 1))),
        "{log}"
    );
    assert!(
        stderr.lines().any(|l| l.contains("custom emojis")
            && l.contains("/api/v4/emoji")
            && l.contains("too slow")),
        "{log}"
    );
    // Everything else is backed up.
    let want = want_all(&env);
    let problems = missing_or_different(&env, &want, |path| {
        path.starts_with("emojis/") || path.contains(&fid)
    });
    assert!(problems.is_empty(), "{problems:#?}\n{log}");

    // Against a healed server the next run completes the backup.
    env.server.with_world(|w| w.config.hostile.trickle = false);
    env.run_ok(&FAST);
    assert_matches(&env.data(), &want_all(&env));
}
