//! A first backup equals the server, object by object, for every skip option and selection.

use fakemm::Scale;
use serde_json::json;

use crate::oracle::{assert_matches, everything, expected, want_all, Opts};
use crate::util::{alice, assert_zip_is, temp_files, text, tree, verify, Env};

#[test]
fn demo_backup_equals_the_server() {
    let env = Env::new(Scale::Demo);
    let out = env.run_ok(&[]);
    let want = want_all(&env);
    assert_matches(&env.data(), &want);
    assert!(temp_files(&env.data()).is_empty());
    let (code, report) = verify(&env);
    assert_eq!(code, 0, "{report}");
    assert_zip_is(&env.zip(), &env.data());
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("requests"), "{}", text(&out));
}

#[test]
fn skip_options() {
    for (flags, o, direct, groups, teams) in [
        (
            vec!["--skip-users"],
            Opts {
                skip_users: true,
                ..Opts::default()
            },
            true,
            true,
            true,
        ),
        (
            vec!["--skip-user-images"],
            Opts {
                skip_user_images: true,
                ..Opts::default()
            },
            true,
            true,
            true,
        ),
        (
            vec!["--skip-emojis"],
            Opts {
                skip_emojis: true,
                ..Opts::default()
            },
            true,
            true,
            true,
        ),
        (
            vec!["--skip-direct", "--skip-groups"],
            Opts::default(),
            false,
            false,
            true,
        ),
        (vec!["--skip-teams"], Opts::default(), true, true, false),
    ] {
        let env = Env::new(Scale::Tiny);
        env.run_ok(&flags);
        let me = alice(&env);
        let want = env.server.with_world(|w| {
            let (c, t) = everything(w, &me);
            let c: Vec<String> = c
                .into_iter()
                .filter(|id| match w.channel(id).unwrap().channel_type {
                    'D' => direct,
                    'G' => groups,
                    _ => teams,
                })
                .collect();
            expected(w, &me, &c, if teams { &t } else { &[] }, o)
        });
        assert_matches(&env.data(), &want);
    }
}

#[test]
fn custom_emoji_disabled_is_a_notice_not_a_failure() {
    let env = Env::new(Scale::Tiny);
    env.server.with_world(|w| {
        let mut c = w.config.clone();
        c.custom_emoji_enabled = false;
        w.set_config(c);
    });
    let out = env.run_ok(&[]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("disabled"),
        "{}",
        text(&out)
    );
    assert!(!env
        .data()
        .join("emojis")
        .read_dir()
        .map(|mut d| d.next().is_some())
        .unwrap_or(false));
}

#[test]
fn selection_include_exclude_exact_subset() {
    let env = Env::new(Scale::Demo);
    let me = alice(&env);
    // Pick names from the data: the first team, two of its channels, a group and a DM partner.
    let (team, team_id, chans, group_others, dm) = env.server.with_world(|w| {
        let (c, t) = everything(w, &me);
        let mine_in = |tid: &String| -> Vec<_> {
            c.iter()
                .map(|id| w.channel(id).unwrap())
                .filter(|ch| ch.team_id.to_string() == *tid)
                .collect()
        };
        let tid = t
            .iter()
            .find(|tid| mine_in(tid).len() >= 3)
            .expect("a demo team with at least 3 channels of alice");
        let team = w.team(tid).unwrap();
        let mine = mine_in(tid);
        let group = c
            .iter()
            .map(|id| w.channel(id).unwrap())
            .find(|ch| ch.channel_type == 'G')
            .unwrap();
        let others: Vec<String> = group
            .members
            .keys()
            .filter(|u| u.to_string() != me)
            .map(|u| w.user(&u.to_string()).unwrap().username.clone())
            .collect();
        let dm = c
            .iter()
            .map(|id| w.channel(id).unwrap())
            .find(|ch| ch.channel_type == 'D' && ch.members.len() == 2)
            .unwrap();
        let partner = dm.members.keys().find(|u| u.to_string() != me).unwrap();
        (
            team.name.clone(),
            team.id.to_string(),
            mine.iter()
                .map(|c| (c.id.to_string(), c.name.clone(), c.display_name.clone()))
                .collect::<Vec<_>>(),
            (group.id.to_string(), others),
            (
                dm.id.to_string(),
                w.user(&partner.to_string()).unwrap().username.clone(),
            ),
        )
    });
    // include by name and display name, exclude one of them, name a channel that does not exist
    env.write_channels(&json!({
        "teams": { &team: { "include": [&chans[0].1, &chans[1].2, &chans[2].1, "no-such-channel"], "exclude": [&chans[2].2] } },
        "direct": [&dm.1, "dave"],
        "groups": { "exact": [group_others.1.clone()], "subset": [] }
    }));
    let out = env.run_ok(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no-such-channel") && err.contains("dave"),
        "{}",
        text(&out)
    );
    let want = env.server.with_world(|w| {
        expected(
            w,
            &me,
            &[
                chans[0].0.clone(),
                chans[1].0.clone(),
                group_others.0.clone(),
                dm.0.clone(),
            ],
            std::slice::from_ref(&team_id),
            Opts::default(),
        )
    });
    assert_matches(&env.data(), &want);

    // subset: one other member selects the group; exact with that one member does not.
    let env2 = Env::new(Scale::Demo);
    env2.write_channels(
        &json!({ "groups": { "exact": [[&group_others.1[0]]], "subset": [[&group_others.1[0]]] } }),
    );
    env2.run_ok(&["--skip-users", "--skip-emojis"]);
    let dirs: Vec<String> = std::fs::read_dir(env2.data().join("groups"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        dirs.iter().any(|d| d.starts_with(&group_others.0)),
        "{dirs:?}"
    );
}

#[test]
fn token_login() {
    let env = Env::new(Scale::Tiny);
    env.write_credentials(&json!({"user": "alice", "token": "alicepersonalaccesstoken0000", "url": env.server.base_url()}));
    env.run_ok(&["--skip-users"]);
    assert!(env.data().join("direct").is_dir());
}

#[test]
fn every_request_is_rate_limited() {
    let env = Env::new(Scale::Tiny);
    let start = std::time::Instant::now();
    let out = env.run(&["--rate-limit", "40", "--skip-users", "--skip-emojis"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let requests = env.server.total_requests();
    // n requests at 40/s take at least (n-1)/40 s (the first one is free).
    let min = (requests.saturating_sub(1)) as f64 / 40.0;
    assert!(
        start.elapsed().as_secs_f64() >= min * 0.95,
        "{requests} requests in {:?}",
        start.elapsed()
    );
}

#[test]
fn the_oracle_sees_damage() {
    let env = Env::backed_up(Scale::Tiny);
    let want = want_all(&env);
    assert!(crate::oracle::diff(&env.data(), &want).is_empty());
    let files = tree(&env.data());
    let post = files
        .keys()
        .find(|k| k.ends_with(".json") && k.rsplit('/').next().unwrap().starts_with("20"))
        .unwrap();
    let attachment = files
        .keys()
        .find(|k| k.contains("/files/") && !k.ends_with(".json"))
        .unwrap();
    std::fs::write(env.data().join(post), b"{\"id\":\"tampered\"}").unwrap();
    std::fs::remove_file(env.data().join(attachment)).unwrap();
    std::fs::write(env.data().join("stray.json"), b"{}").unwrap();
    let problems = crate::oracle::diff(&env.data(), &want);
    assert_eq!(problems.len(), 3, "{problems:#?}");
}

/// Issue 22: the oracle reads `history/`: a deletion the server never made, a version equal to
/// the post (a phantom edit) and a version the post never had are each a problem, and an edit
/// the backup saw is not.
#[test]
fn the_oracle_sees_false_deletions_and_phantom_edits() {
    let env = Env::backed_up(Scale::Tiny);
    let me = crate::util::alice(&env);
    // A real edit, seen by a second run: its history is true.
    let edited = env.server.with_world(|w| {
        let (c, _) = crate::oracle::everything(w, &me);
        let p = crate::util::user_posts(w, &c[0])[0].clone();
        w.edit_post(&p, "edited for the oracle").unwrap();
        p
    });
    env.run_ok(&[]);
    assert!(crate::oracle::diff(&env.data(), &want_all(&env)).is_empty());
    let files = tree(&env.data());
    assert!(
        files
            .keys()
            .any(|k| k.ends_with(&format!("history/{edited}.json"))),
        "the edit was recorded"
    );
    let posts: Vec<(String, Vec<u8>)> = (files.into_iter())
        .filter(|(k, _)| {
            let name = k.rsplit('/').next().unwrap();
            !k.contains("/history/")
                && !k.contains(&edited)
                // `<YYYYMMDD-hhmmss...>__<id>.json`, not a channel's `<id>__<name>.json`
                && name.get(8..9) == Some("-")
                && matterbak::store::layout::post_file_id(name).is_some()
        })
        .take(3)
        .collect();
    let history = |(path, _): &(String, Vec<u8>)| {
        let (dir, name) = path.rsplit_once('/').unwrap();
        let id = matterbak::store::layout::post_file_id(name).unwrap();
        let h = env.data().join(dir).join("history");
        std::fs::create_dir_all(&h).unwrap();
        (h.join(format!("{id}.json")), id.to_string())
    };
    // A false deletion.
    let (h, id) = history(&posts[0]);
    std::fs::write(
        &h,
        format!(r#"{{"post_id":"{id}","versions":[],"deleted_seen_at":1}}"#),
    )
    .unwrap();
    // A phantom edit: the post itself as an earlier version.
    let (h, id) = history(&posts[1]);
    let post = String::from_utf8(posts[1].1.clone()).unwrap();
    std::fs::write(&h, format!(r#"{{"post_id":"{id}","versions":[{post}]}}"#)).unwrap();
    // A version the post never had.
    let (h, id) = history(&posts[2]);
    std::fs::write(
        &h,
        format!(r#"{{"post_id":"{id}","versions":[{{"id":"{id}","message":"never written"}}]}}"#),
    )
    .unwrap();
    let problems = crate::oracle::diff(&env.data(), &want_all(&env));
    assert_eq!(problems.len(), 3, "{problems:#?}");
    for words in [
        "false deletion",
        "phantom edit",
        "a version the post never had",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(words)),
            "{words}: {problems:#?}"
        );
    }
}
