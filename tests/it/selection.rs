//! What a run selects and what it owes: a team named twice, a channel listed twice, team
//! members whose fetch failed (issue 19).

use fakemm::faults::Faults;
use fakemm::Scale;

use crate::oracle::{assert_matches, want_all};
use crate::util::{alice, requests, text, verify, Env, FAST};

/// The sample selection with acme named a second time by its display name, for two of its
/// channels, and alice's direct channels and groups named twice.
fn named_twice(env: &Env) -> serde_json::Value {
    let mut v = env.server.with_world(|w| w.sample_channels_json());
    let display = env.server.with_world(|w| {
        w.teams
            .values()
            .find(|t| t.name == "acme")
            .unwrap()
            .display_name
            .clone()
    });
    assert_ne!(display, "acme");
    v["teams"][display.as_str()] = serde_json::json!({"include": ["town-square", "off-topic"]});
    for key in ["direct", "groups"] {
        if let Some(list) = v[key].as_array().cloned() {
            let mut twice = list.clone();
            twice.extend(list);
            v[key] = serde_json::Value::Array(twice);
        }
    }
    v
}

/// Issue 19: `acme` and `Acme Corp` (its display name) both select town-square and off-topic:
/// each channel is read once, whatever `--jobs`, on the first run and on reruns after new
/// replies; the threads files keep every reply and `verify` is clean.
#[test]
fn issue19_a_team_named_twice_is_read_once_and_keeps_its_replies() {
    for jobs in ["1", "2", "4", "8"] {
        let env = Env::new(Scale::Tiny);
        let once = env.server.with_world(|w| w.sample_channels_json());
        // The requests of the selection without duplicates, as the measure.
        env.run_ok(&[&FAST[..], &["--jobs", jobs]].concat());
        let single = env.server.total_requests();
        std::fs::remove_dir_all(env.data()).unwrap();
        env.server.reset_counts();
        env.write_channels(&named_twice(&env));
        let out = env.run_ok(&[&FAST[..], &["--jobs", jobs, "-v"]].concat());
        assert_eq!(verify(&env).0, 0, "--jobs {jobs}: {}", verify(&env).1);
        assert_matches(&env.data(), &want_all(&env));
        assert_eq!(
            env.server.total_requests(),
            single,
            "--jobs {jobs}: the team named twice costs requests of its own"
        );
        assert!(
            text(&out).contains("named 2 times in the selection"),
            "{}",
            text(&out)
        );

        // New replies in both channels, then a rerun: still complete.
        let me = alice(&env);
        env.server.with_world(|w| {
            for name in ["town-square", "off-topic"] {
                let c = crate::util::channel_id(w, "acme", name);
                let root = w.add_post(&c, &me, "a root", None, vec![]).unwrap();
                w.add_post(&c, &me, "a reply", Some(&root), vec![]).unwrap();
            }
        });
        env.run_ok(&[&FAST[..], &["--jobs", jobs]].concat());
        assert_eq!(verify(&env).0, 0, "--jobs {jobs}: {}", verify(&env).1);
        assert_matches(&env.data(), &want_all(&env));
        env.write_channels(&once);
    }
}

/// Issue 19: a user joins the team (a `system_join_team` post in town-square); the team's
/// members request fails on that run (exit 3). The next run fetches them, although the
/// channel's cursor is past the post; the run after asks for them no more.
#[test]
fn issue19_team_members_owed_by_a_failed_run_are_fetched_by_the_next() {
    let env = Env::new(Scale::Tiny);
    env.run_ok(&FAST);
    let team = env.server.with_world(|w| {
        let t = w
            .teams
            .values()
            .find(|t| t.name == "acme")
            .unwrap()
            .id
            .to_string();
        w.add_user("zoe", "pw").unwrap();
        w.join_team(&t, "zoe").unwrap();
        t
    });
    let route = "GET /api/v4/teams/{team_id}/members";
    env.server.set_faults(Faults {
        broken_paths: vec![format!("/teams/{team}/members")],
        ..Faults::default()
    });
    let out = env.run(&FAST);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    env.server.set_faults(Faults::default());
    env.server.reset_counts();
    env.run_ok(&FAST);
    assert_eq!(
        requests(&env, route),
        1,
        "the owed members were not fetched"
    );
    assert_matches(&env.data(), &want_all(&env));
    env.server.reset_counts();
    env.run_ok(&FAST);
    assert_eq!(
        requests(&env, route),
        0,
        "members fetched again with nothing owed"
    );
}

/// Issue 19: a channel of a type this version does not know (a newer server's) is read as a
/// channel of its team; one of no team is listed in the summary as skipped, with its type.
#[test]
fn issue19_channels_of_an_unknown_type_are_read_or_listed() {
    let env = Env::new(Scale::Tiny);
    let dm = env.server.with_world(|w| {
        let c = crate::util::channel_id(w, "acme", "off-topic");
        let id = fakemm::id::Id::lookup(&c);
        w.channels.get_mut(&id).unwrap().channel_type = 'S';
        // A direct channel of alice's turned into an unknown type of no team.
        let dm = (w.channels.values_mut())
            .find(|c| c.channel_type == 'D' && c.members.len() == 2)
            .unwrap();
        dm.channel_type = 'X';
        dm.id.to_string()
    });
    let summary = env.path("summary.json");
    let out = env.run(&[&FAST[..], &["--summary-json", summary.to_str().unwrap()]].concat());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(text(&out).contains("off-topic: type S"), "{}", text(&out));
    let s = crate::util::read_json(&summary);
    let skipped = s["skipped_channels"].as_array().unwrap();
    assert_eq!(skipped.len(), 1, "{s}");
    assert!(skipped[0].as_str().unwrap().ends_with("(type X)"), "{s}");
    // Everything else as the server has it, the unknown team channel among it.
    env.server.with_world(|w| {
        let id = fakemm::id::Id::lookup(&dm);
        w.channels.get_mut(&id).unwrap().channel_type = 'D';
    });
    let data = crate::util::tree(&env.data());
    assert!(
        data.keys().any(|k| k.contains("__off-topic/")),
        "off-topic not read"
    );
}
