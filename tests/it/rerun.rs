//! Reruns: no duplicates, new posts and channels picked up, interruption healed.

use std::time::Duration;

use fakemm::Scale;

use crate::oracle::{assert_matches, diff, everything, want_all};
use crate::util::{alice, posts_requests, signal_when, temp_files, text, tree, user_id, Env};

#[test]
fn rerun_picks_up_new_posts_and_channels_without_duplicates() {
    let env = Env::backed_up(Scale::Tiny);
    let before = tree(&env.data());
    // no change: same files
    env.run_ok(&[]);
    let mut again = tree(&env.data());
    let mut b2 = before.clone();
    for k in [".matterbak-state.json", ".matterbak.lock"] {
        again.remove(k);
        b2.remove(k);
    }
    assert_eq!(
        b2.keys().collect::<Vec<_>>(),
        again.keys().collect::<Vec<_>>()
    );

    // new posts (a root with a file, a reply) and a new channel
    let me = alice(&env);
    env.server.with_world(|w| {
        let (c, t) = everything(w, &me);
        let ch = c
            .iter()
            .find(|id| w.channel(id).unwrap().channel_type == 'O')
            .unwrap()
            .clone();
        let root = w
            .add_post(
                &ch,
                &me,
                "a new root",
                None,
                vec![("new file.txt".into(), "text/plain".into(), 1234)],
            )
            .unwrap();
        w.add_post(&ch, &me, "a reply", Some(&root), vec![])
            .unwrap();
        let bob = user_id(w, "bob");
        let nc = w
            .add_channel(
                &t[0],
                'O',
                "brand-new",
                "Brand New",
                vec![me.clone(), bob.clone()],
            )
            .unwrap();
        w.add_post(&nc, &bob, "hello in the new channel", None, vec![])
            .unwrap();
    });
    env.run_ok(&[]);
    assert_matches(&env.data(), &want_all(&env));
}

fn interrupt_and_heal(signal: &str) {
    let env = Env::new(Scale::Demo);
    let mut child = env
        .cmd()
        .args(["--rate-limit", "60"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // In the middle of the walk: a page of posts has been served.
    signal_when(&mut child, signal, "the backup", || {
        posts_requests(&env) > 0
    });
    let started = std::time::Instant::now();
    let out = child.wait_with_output().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "took {:?} to stop",
        started.elapsed()
    );
    assert_eq!(out.status.code(), Some(130), "{}", text(&out));
    assert!(
        temp_files(&env.data()).is_empty(),
        "{:?}",
        temp_files(&env.data())
    );
    assert!(!env.zip().exists(), "no zip from an interrupted run");
    assert!(
        !diff(&env.data(), &want_all(&env)).is_empty(),
        "the run was interrupted before its end"
    );

    env.run_ok(&[]);
    assert_matches(&env.data(), &want_all(&env));
    assert!(env.zip().exists());
}

#[test]
fn interrupted_run_is_healed_by_the_next() {
    interrupt_and_heal("-INT");
}

#[test]
fn terminated_run_is_healed_by_the_next() {
    interrupt_and_heal("-TERM");
}
