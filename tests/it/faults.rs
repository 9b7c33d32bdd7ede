//! A flaky server: 10% of requests failing in every way, and one channel that keeps failing.
//! (The hostile modes are in `hostile.rs`.)

use std::collections::BTreeSet;

use fakemm::faults::Faults;
use fakemm::Scale;

use crate::oracle::{assert_matches, everything, want_all};
use crate::util::{alice, requests, temp_files, text, tree, verify, Env, FAST};

#[test]
fn ten_percent_of_requests_failing_still_gives_a_complete_backup_and_rerun() {
    let env = Env::new(Scale::Demo);
    env.server.set_faults(Faults::new(0.10, 11));
    let out = env.run_ok(&FAST);
    let injected = env.server.faults_injected();
    assert!(
        injected >= 10,
        "only {injected} faults injected:\n{}",
        text(&out)
    );
    assert_eq!(verify(&env).0, 0, "{}", verify(&env).1);
    assert!(temp_files(&env.data()).is_empty());
    assert_matches(&env.data(), &want_all(&env));

    // changes, then a rerun under faults as well
    let me = alice(&env);
    env.server.with_world(|w| {
        let (c, _) = everything(w, &me);
        for (i, ch) in c.iter().enumerate().take(6) {
            w.add_post(
                ch,
                &me,
                &format!("under faults {i}"),
                None,
                vec![(
                    format!("f{i}.bin"),
                    "application/octet-stream".into(),
                    300_000,
                )],
            )
            .unwrap();
        }
    });
    env.server.set_faults(Faults::new(0.10, 12));
    env.run_ok(&FAST);
    assert_eq!(verify(&env).0, 0, "{}", verify(&env).1);
    assert_matches(&env.data(), &want_all(&env));
}

#[test]
fn a_channel_that_keeps_failing_does_not_stop_the_others_and_the_next_run_completes_it() {
    let env = Env::new(Scale::Tiny);
    // The channel with the most posts: its posts endpoint answers 500 to every request.
    let me = alice(&env);
    let visible = env.server.with_world(|w| everything(w, &me).0);
    let (id, name) = env.server.with_world(|w| {
        let c = (visible.iter())
            .map(|id| w.channel(id).unwrap())
            .max_by_key(|c| c.live.len())
            .unwrap();
        (c.id.to_string(), c.display_name.clone())
    });
    env.server.set_faults(Faults {
        broken_paths: vec![format!("/channels/{id}/posts")],
        ..Faults::default()
    });
    let out = env.run(&FAST);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&name) || err.contains(&id), "{}", text(&out));
    // The others are complete: every post of every other channel has its file.
    let (others, failing): (BTreeSet<String>, BTreeSet<String>) = env.server.with_world(|w| {
        let ids = |f: &dyn Fn(&str) -> bool| {
            (visible.iter())
                .map(|id| w.channel(id).unwrap())
                .filter(|c| f(&c.id.to_string()))
                .flat_map(|c| c.live.iter().map(|(_, p)| p.to_string()))
                .collect()
        };
        (ids(&|c| c != id), ids(&|c| c == id))
    });
    let stored = |env: &Env| -> BTreeSet<String> {
        tree(&env.data())
            .keys()
            .filter_map(|k| {
                // Post files: `YYYYMMDD-HHMMSSmmmuuu__<id>.json`.
                let n = k.rsplit('/').next()?.strip_suffix(".json")?;
                let (time, id) = n.split_once("__")?;
                time.starts_with(|c: char| c.is_ascii_digit())
                    .then(|| id.to_string())
            })
            .collect()
    };
    assert!(!others.is_empty() && !failing.is_empty());
    let have = stored(&env);
    assert!(others.is_subset(&have), "the other channels are complete");
    assert!(failing.is_disjoint(&have));
    assert!(temp_files(&env.data()).is_empty());
    assert_eq!(verify(&env).0, 0, "{}", verify(&env).1);
    // The server heals; the next run brings exactly what failed: the failing channel's posts
    // and their attachments, nothing else stored or downloaded again.
    let files = env.server.with_world(|w| {
        failing
            .iter()
            .map(|p| w.post(p).unwrap().file_ids.len() as u64)
            .sum::<u64>()
    });
    assert!(files > 0, "the failing channel has attachments");
    let paths_before = tree(&env.data());
    env.server.set_faults(Faults::default());
    env.server.reset_counts();
    env.run_ok(&FAST);
    let new: BTreeSet<String> = stored(&env).difference(&have).cloned().collect();
    assert_eq!(new, failing, "exactly the posts that failed are new");
    let elsewhere: Vec<String> = tree(&env.data())
        .into_keys()
        .filter(|k| !paths_before.contains_key(k) && !k.contains(&format!("/{id}__")))
        .collect();
    assert!(
        elsewhere.is_empty(),
        "new outside the failing channel: {elsewhere:?}"
    );
    assert_eq!(
        requests(&env, "GET /api/v4/files/{file_id}"),
        files,
        "{:#?}",
        env.server.request_counts()
    );
    assert_eq!(verify(&env).0, 0, "{}", verify(&env).1);
    assert_matches(&env.data(), &want_all(&env));
}
