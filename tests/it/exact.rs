//! Issue 12, "Exact on real servers": posts saved with an old timestamp, pages the server
//! shortened by filtering, runs of posts in one millisecond, and a server clock that jumps.
//! Each test fails against a client that trusts `since`, `prev_post_id` or its cursors.

use std::collections::BTreeMap;

use fakemm::id::Id;
use fakemm::{Scale, World};
use serde_json::Value;

use crate::util::{channel_id, posts_requests, read_json, text, tree, user_id, verify, Env};

const DAY: i64 = 86_400_000;

/// Post ids with a post file in the backup.
fn stored_posts(env: &Env) -> BTreeMap<String, String> {
    tree(&env.data())
        .into_keys()
        .filter(|k| !k.contains("/files/") && !k.contains("/history/"))
        .filter_map(|k| {
            let name = k.rsplit('/').next()?.strip_suffix(".json")?;
            let (ts, id) = name.split_once("__")?;
            (id.len() == 26 && ts.len() == 21 && ts.as_bytes()[8] == b'-')
                .then(|| (id.to_string(), k.clone()))
        })
        .collect()
}

/// Deletions the backup recorded (post id -> history).
fn recorded_deletions(env: &Env) -> Vec<String> {
    tree(&env.data())
        .into_iter()
        .filter(|(k, _)| k.contains("/history/"))
        .filter_map(|(k, v)| {
            let h: Value = serde_json::from_slice(&v).ok()?;
            (h.get("deleted_seen_at").is_some() || h.get("deleted").is_some()).then_some(k)
        })
        .collect()
}

/// The selected channels' ids (one `since` request each on a rerun without changes).
fn channel_count(env: &Env) -> u64 {
    let state = read_json(&env.data().join(".matterbak-state.json"));
    state["channels"].as_object().unwrap().len() as u64
}

/// A live post in the middle of a channel (by create_at).
fn middle_post(w: &World, channel: &str) -> (i64, String) {
    let c = w.channel(channel).unwrap();
    let (t, id) = c.live[c.live.len() / 2];
    (t, id.to_string())
}

fn dm_with(w: &World, me: &str, other: &str) -> String {
    let o = w.user_by_name(other).unwrap().id;
    let me = Id::lookup(me);
    w.channels
        .values()
        .find(|c| {
            c.channel_type == 'D' && c.members.contains_key(&me) && c.members.contains_key(&o)
        })
        .unwrap()
        .id
        .to_string()
}

#[test]
fn issue12_posts_saved_with_an_old_timestamp_are_found_by_the_count() {
    let env = Env::backed_up(Scale::Demo);
    let imported: Vec<String> = env.server.with_world(|w| {
        let me = user_id(w, "alice");
        let town = channel_id(w, "acme", "town-square");
        let off = channel_id(w, "acme", "off-topic");
        let dm = dm_with(w, &me, "bob");
        let mut out = Vec::new();
        // Spread between existing posts of a team channel, a DM, and as replies in a thread.
        for (k, ch) in [&town, &town, &dm, &dm].into_iter().enumerate() {
            let (t, _) = middle_post(w, ch);
            let t = t - 1 - k as i64;
            out.push(
                w.import_post(ch, &me, &format!("imported {k}"), None, t)
                    .unwrap(),
            );
        }
        let (root_t, root) = {
            let c = w.channel(&off).unwrap();
            c.live
                .iter()
                .find(|(_, id)| {
                    let p = w.post(&id.to_string()).unwrap();
                    p.root_id.is_none() && p.post_type.is_empty()
                })
                .map(|(t, id)| (*t, id.to_string()))
                .unwrap()
        };
        for k in 0..2 {
            out.push(
                w.import_post(
                    &off,
                    &me,
                    &format!("imported reply {k}"),
                    Some(&root),
                    root_t + 10 + k,
                )
                .unwrap(),
            );
        }
        out
    });

    env.server.reset_counts();
    let out = env.run_ok(&[]);
    let stored = stored_posts(&env);
    for id in &imported {
        assert!(
            stored.contains_key(id),
            "imported post {id} missing:\n{}",
            text(&out)
        );
    }
    let threads: Value = {
        let t = tree(&env.data());
        let k = t
            .keys()
            .find(|k| k.contains("off-topic__threads.json"))
            .unwrap()
            .clone();
        serde_json::from_slice(&t[&k]).unwrap()
    };
    let replies = threads.as_object().unwrap();
    assert!(
        imported[4..].iter().all(|r| replies.values().any(|v| v
            .as_array()
            .unwrap()
            .iter()
            .any(|x| x == r))),
        "imported replies not in the threads file"
    );
    assert!(recorded_deletions(&env).is_empty());

    // Afterwards a rerun without changes is one request per channel again.
    env.server.reset_counts();
    env.run_ok(&[]);
    assert_eq!(posts_requests(&env), channel_count(&env));
}

#[test]
fn issue12_a_page_shortened_by_filtering_does_not_end_the_walk() {
    // A full backup while the server does not filter.
    let env = Env::backed_up(Scale::Demo);
    let before = stored_posts(&env);
    let eng = env
        .server
        .with_world(|w| channel_id(w, "acme", "engineering"));

    // The server now filters `before` pages (and computes the cursors after): a full re-read
    // must neither stop at the first short page nor call the older posts deleted.
    env.server
        .with_world(|w| w.config.filter_before_pages = true);
    env.server.reset_counts();
    let out = env.run_ok(&["--update-old-posts"]);
    let deleted = recorded_deletions(&env);
    assert!(
        deleted.is_empty(),
        "false deletions {deleted:?}\n{}",
        text(&out)
    );
    assert_eq!(stored_posts(&env), before);

    // A fresh backup of a filtering server has every post the server lists anywhere in its
    // pages: all of engineering but the filtered ones beyond the newest page.
    let fresh = Env::new(Scale::Demo);
    fresh
        .server
        .with_world(|w| w.config.filter_before_pages = true);
    fresh.run_ok(&[]);
    let got = stored_posts(&fresh);
    let (want, filtered) = fresh.server.with_world(|w| {
        let c = w.channel(&eng).unwrap();
        let n = c.live.len();
        let mut want = Vec::new();
        let mut filtered = 0;
        for (k, (_, id)) in c.live.iter().enumerate() {
            if k + 200 < n && fakemm::posts::filtered_from_pages(*id) {
                filtered += 1;
            } else {
                want.push(id.to_string());
            }
        }
        (want, filtered)
    });
    assert!(filtered > 0, "the data set must have filtered posts");
    for id in &want {
        assert!(got.contains_key(id), "engineering post {id} missing");
    }
    // A root the server never listed, with replies it did list, is no damage: verify says so
    // and passes.
    let (code, out) = verify(&fresh);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("the server did not list it"), "{out}");
}

#[test]
fn issue12_runs_of_posts_in_one_millisecond_are_read_whole() {
    let mut w = World::generate(crate::util::SEED, Scale::Tiny);
    let ch = w.add_same_ms_channel("acme", "imports").to_string();
    let env = Env::with_world(w);
    let out = env.run_ok(&[]);
    let stored = stored_posts(&env);
    let want: Vec<String> = env.server.with_world(|w| {
        w.channel(&ch)
            .unwrap()
            .live
            .iter()
            .map(|(_, id)| id.to_string())
            .collect()
    });
    assert_eq!(want.len(), 1080);
    let missing: Vec<&String> = want.iter().filter(|id| !stored.contains_key(*id)).collect();
    assert!(
        missing.is_empty(),
        "{} posts missing\n{}",
        missing.len(),
        text(&out)
    );
}

/// Sets every cursor of the state file `ahead` ms into the future.
fn move_cursors(env: &Env, ahead: i64) {
    let p = env.data().join(".matterbak-state.json");
    let mut state: Value = read_json(&p);
    for c in state["channels"].as_object_mut().unwrap().values_mut() {
        let t = c["max_update_at"].as_i64().unwrap();
        c["max_update_at"] = (t + ahead).into();
    }
    std::fs::write(&p, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
}

fn max_cursor(env: &Env) -> i64 {
    let p = env.data().join(".matterbak-state.json");
    let state: Value = read_json(&p);
    state["channels"]
        .as_object()
        .unwrap()
        .values()
        .map(|c| c["max_update_at"].as_i64().unwrap())
        .max()
        .unwrap()
}

/// Adds `n` posts and edits one post in town-square; returns the new ids and the edited one.
fn change_town_square(env: &Env, n: usize) -> (Vec<String>, String) {
    env.server.with_world(|w| {
        let me = user_id(w, "alice");
        let town = channel_id(w, "acme", "town-square");
        let new = (0..n)
            .map(|k| {
                w.add_post(&town, &me, &format!("new {k}"), None, vec![])
                    .unwrap()
            })
            .collect();
        let (_, edited) = middle_post(w, &town);
        w.edit_post(&edited, "edited while the cursor was ahead")
            .unwrap();
        (new, edited)
    })
}

fn assert_has(env: &Env, new: &[String], edited: &str, out: &std::process::Output) {
    let stored = stored_posts(env);
    for id in new {
        assert!(
            stored.contains_key(id),
            "new post {id} missing\n{}",
            text(out)
        );
    }
    let body = std::fs::read_to_string(env.data().join(&stored[edited])).unwrap();
    assert!(
        body.contains("edited while the cursor was ahead"),
        "edit missed\n{}",
        text(out)
    );
}

#[test]
fn issue12_a_state_file_with_future_cursors_misses_nothing() {
    let env = Env::backed_up(Scale::Tiny);
    move_cursors(&env, 10 * 365 * DAY);
    let (new, edited) = change_town_square(&env, 5);
    let out = env.run_ok(&[]);
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("ahead of the server's clock"),
        "{}",
        text(&out)
    );
    assert_has(&env, &new, &edited, &out);
    let now = fakemm::world::wall_ms();
    assert!(
        max_cursor(&env) <= now + 1000,
        "a future cursor was written back"
    );
    // The run after is a run without changes again.
    env.server.reset_counts();
    let out = env.run_ok(&[]);
    assert!(
        !String::from_utf8_lossy(&out.stderr).contains("ahead of"),
        "{}",
        text(&out)
    );
    assert_eq!(posts_requests(&env), channel_count(&env));
}

#[test]
fn issue12_a_server_clock_that_jumps_ahead_and_back_misses_nothing() {
    let env = Env::backed_up(Scale::Tiny);
    // The clock runs a day ahead: posts get future stamps, and a run sees them.
    env.server.with_world(|w| w.set_clock_offset(DAY));
    let (ahead, _) = change_town_square(&env, 2);
    env.run_ok(&[]);
    // Set back: later posts are older than those stamped meanwhile.
    env.server.with_world(|w| w.set_clock_offset(0));
    let (new, edited) = change_town_square(&env, 5);
    let out = env.run_ok(&[]);
    assert_has(&env, &new, &edited, &out);
    let stored = stored_posts(&env);
    assert!(ahead.iter().all(|id| stored.contains_key(id)));
    // And the run after that is a run without changes.
    env.server.reset_counts();
    let out = env.run_ok(&[]);
    assert_eq!(posts_requests(&env), channel_count(&env), "{}", text(&out));
    let again = tree(&env.data());
    env.run_ok(&[]);
    let now = tree(&env.data());
    let changed: Vec<&String> = now
        .iter()
        .filter(|(k, v)| again.get(*k) != Some(*v) && !k.ends_with(".matterbak.lock"))
        .map(|(k, _)| k)
        .collect();
    let state = |t: &BTreeMap<String, Vec<u8>>| {
        String::from_utf8_lossy(&t[".matterbak-state.json"]).into_owned()
    };
    assert!(
        changed.is_empty(),
        "a run without changes changed {changed:?}: {} -> {}",
        state(&again),
        state(&now)
    );
}

#[test]
fn issue12_reread_every_finds_what_no_counter_shows() {
    let env = Env::backed_up(Scale::Tiny);
    // A post imported while the state had no count to compare with (a state file of an
    // earlier version): no counter can show it.
    let p = env.data().join(".matterbak-state.json");
    let mut state: Value = read_json(&p);
    for c in state["channels"].as_object_mut().unwrap().values_mut() {
        let c = c.as_object_mut().unwrap();
        c.remove("msg_count");
        c.remove("full_read_day");
    }
    std::fs::write(&p, serde_json::to_vec(&state).unwrap()).unwrap();
    let id = env.server.with_world(|w| {
        let me = user_id(w, "alice");
        let town = channel_id(w, "acme", "town-square");
        let (t, _) = middle_post(w, &town);
        w.import_post(&town, &me, "imported long ago", None, t - 1)
            .unwrap()
    });
    env.run_ok(&[]);
    assert!(
        !stored_posts(&env).contains_key(&id),
        "a plain run cannot see it"
    );

    // Every channel's last full read long ago: --reread-every reads them all.
    let mut state: Value = read_json(&p);
    for c in state["channels"].as_object_mut().unwrap().values_mut() {
        c["full_read_day"] = 0.into();
    }
    std::fs::write(&p, serde_json::to_vec(&state).unwrap()).unwrap();
    let out = env.run_ok(&["--reread-every", "30"]);
    assert!(stored_posts(&env).contains_key(&id), "{}", text(&out));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--reread-every"));
    // Read today: not again tomorrow's run of the same day.
    env.server.reset_counts();
    env.run_ok(&["--reread-every", "30"]);
    assert_eq!(posts_requests(&env), channel_count(&env));
}

/// How often bob's profile image was asked for since the counts were reset.
fn bob_images(env: &Env) -> u64 {
    crate::util::requests(env, "GET /api/v4/users/{user_id}/image")
}

/// Issue 18: the users cursor of a state file ahead of the server's clock made `since` hide
/// every later change: profile images were no longer updated. The rule of the channels holds
/// for it too: the run reads every stored user again, and writes back no future cursor.
#[test]
fn issue18_a_users_cursor_ahead_of_the_servers_clock_misses_no_profile_image() {
    let env = Env::backed_up(Scale::Tiny);
    let p = env.data().join(".matterbak-state.json");
    let mut state: Value = read_json(&p);
    let ahead = state["users_max_update_at"].as_i64().unwrap() + 10 * 365 * DAY;
    state["users_max_update_at"] = ahead.into();
    std::fs::write(&p, serde_json::to_vec_pretty(&state).unwrap()).unwrap();
    env.server.with_world(|w| {
        let bob = user_id(w, "bob");
        w.set_profile_picture(&bob).unwrap();
    });
    env.server.reset_counts();
    let out = env.run_ok(&[]);
    assert_eq!(bob_images(&env), 1, "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("users: the last run's cursor"),
        "{}",
        text(&out)
    );
    let cursor = read_json(&p)["users_max_update_at"].as_i64().unwrap();
    assert!(
        cursor <= fakemm::world::wall_ms() + 1000,
        "a future cursor was written back"
    );
    // The run after is a run without changes again.
    env.server.reset_counts();
    let out = env.run_ok(&[]);
    assert_eq!(bob_images(&env), 0, "{}", text(&out));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("ahead of"));
}

/// Issue 18: a picture set while the server's clock ran a day ahead, then one set after the
/// clock was put right: the second is older than the first, and was never fetched. A stored
/// stamp ahead of the server's clock says nothing, for images as for cursors.
#[test]
fn issue18_a_server_clock_that_jumps_back_misses_no_profile_image() {
    let env = Env::backed_up(Scale::Tiny);
    env.server.with_world(|w| {
        w.set_clock_offset(DAY);
        let bob = user_id(w, "bob");
        w.set_profile_picture(&bob).unwrap();
    });
    env.server.reset_counts();
    env.run_ok(&[]);
    assert_eq!(bob_images(&env), 1);
    env.server.with_world(|w| {
        w.set_clock_offset(0);
        let bob = user_id(w, "bob");
        w.set_profile_picture(&bob).unwrap();
    });
    env.server.reset_counts();
    let out = env.run_ok(&[]);
    assert_eq!(bob_images(&env), 1, "{}", text(&out));
    env.server.reset_counts();
    let out = env.run_ok(&[]);
    assert_eq!(bob_images(&env), 0, "{}", text(&out));
}
