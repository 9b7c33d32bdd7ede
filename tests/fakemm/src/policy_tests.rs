//! Tests of the server policies and limits of issue 12: archived channels a server hides,
//! users a caller may not see, a removed profile picture, the rate limiter's headers.

use crate::tests::{authed, get, req};
use crate::{FakeServer, Scale, World};
use std::io::{Read, Write};

/// The values of every `name` header of a raw `GET path` with alice's token (or none).
fn header_values(s: &FakeServer, path: &str, token: bool, name: &str) -> (u16, Vec<String>) {
    let addr = s.base_url().trim_start_matches("http://").to_string();
    let mut c = std::net::TcpStream::connect(&addr).unwrap();
    let auth = if token {
        "Authorization: Bearer alicepersonalaccesstoken0000\r\n"
    } else {
        ""
    };
    let r = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\n{auth}Connection: close\r\n\r\n");
    c.write_all(r.as_bytes()).unwrap();
    let mut raw = Vec::new();
    c.read_to_end(&mut raw).unwrap();
    let head = String::from_utf8_lossy(&raw).into_owned();
    let head = head.split("\r\n\r\n").next().unwrap().to_string();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    let values = head
        .split("\r\n")
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| k.trim().eq_ignore_ascii_case(name))
        .map(|(_, v)| v.trim().to_string())
        .collect();
    (status, values)
}

fn tiny() -> FakeServer {
    FakeServer::start(World::generate(3, Scale::Tiny))
}

fn chan(s: &FakeServer, team: &str, name: &str) -> String {
    s.with_world(|w| w.channel_by_names(team, name).unwrap().id.to_string())
}

#[test]
fn archived_channel_posts_are_refused_when_the_server_hides_them() {
    let s = tiny();
    let old = chan(&s, "acme", "old-announcements");
    let live = chan(&s, "acme", "town-square");
    let paths = |c: &str| {
        vec![
            format!("/api/v4/channels/{c}/posts"),
            format!("/api/v4/channels/{c}/posts?since=1"),
            format!("/api/v4/channels/{c}/posts?page=1&per_page=5"),
        ]
    };
    for p in paths(&old) {
        assert_eq!(get(&s, &p).status, 200, "{p}: shown by default");
    }
    s.with_world(|w| w.config.view_archived_channels = false);
    for p in paths(&old) {
        let r = get(&s, &p);
        assert_eq!(r.status, 403, "{p}");
        assert_eq!(
            r.json()["id"],
            "api.user.view_archived_channels.get_posts_for_channel.app_error"
        );
    }
    for p in paths(&live) {
        assert_eq!(
            get(&s, &p).status,
            200,
            "{p}: a live channel is not affected"
        );
    }
    // Still listed, and its members and pinned posts still answer.
    let listed = get(&s, "/api/v4/users/me/channels?include_deleted=true").json();
    assert!(listed.as_array().unwrap().iter().any(|c| c["id"] == old));
    assert_eq!(
        get(&s, &format!("/api/v4/channels/{old}/members")).status,
        200
    );
    assert_eq!(
        get(&s, &format!("/api/v4/channels/{old}/pinned")).status,
        200
    );
    // A channel alice may not read is still 403 for that reason first.
    let hr = chan(&s, "acme", "hr-private");
    let r = get(&s, &format!("/api/v4/channels/{hr}/posts"));
    assert_eq!(r.json()["id"], "api.context.permissions.app_error");
}

#[test]
fn restricted_callers_see_only_users_who_share_a_channel() {
    let s = tiny();
    let (zed, bob, acme) = s.with_world(|w| {
        let acme = w.team_by_name("acme").unwrap().id.to_string();
        let zed = w.add_user("zed", "zed-password").unwrap();
        w.add_team_member(&acme, &zed).unwrap();
        let bob = w.user_by_name("bob").unwrap().id.to_string();
        (zed, bob, acme)
    });
    let ids = format!("[\"{zed}\",\"{bob}\"]");
    let by_ids = |s: &FakeServer| {
        let v = authed(s, "POST", "/api/v4/users/ids", &[], &ids).json();
        v.as_array()
            .unwrap()
            .iter()
            .map(|u| u["username"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(by_ids(&s), ["bob", "zed"]);
    s.with_world(|w| w.config.restrict_view_members = true);
    assert_eq!(by_ids(&s), ["bob"], "zed shares no channel with alice");
    assert_eq!(get(&s, &format!("/api/v4/users/{zed}")).status, 403);
    assert_eq!(get(&s, &format!("/api/v4/users/{zed}/image")).status, 403);
    assert_eq!(get(&s, "/api/v4/users/username/zed").status, 403);
    assert_eq!(
        get(&s, "/api/v4/users/username/nobody").status,
        403,
        "not 404"
    );
    assert_eq!(get(&s, &format!("/api/v4/users/{bob}")).status, 200);
    assert_eq!(get(&s, "/api/v4/users/me").status, 200);
    let members = get(&s, &format!("/api/v4/teams/{acme}/members?per_page=200")).json();
    assert!(!members
        .as_array()
        .unwrap()
        .iter()
        .any(|m| m["user_id"] == zed));
    // Sharing a channel (an archived one counts) makes zed visible.
    s.with_world(|w| {
        let c = w
            .add_channel(&acme, 'P', "with-zed", "With Zed", ["alice", "zed"])
            .unwrap();
        w.archive_channel(&c).unwrap();
    });
    assert_eq!(by_ids(&s), ["bob", "zed"]);
    assert_eq!(get(&s, &format!("/api/v4/users/{zed}")).status, 200);
}

#[test]
fn a_removed_picture_resets_last_picture_update_and_serves_the_default() {
    let s = tiny();
    let bob = s.with_world(|w| w.user_by_name("bob").unwrap().clone());
    assert!(bob.last_picture_update > 0);
    let before = get(&s, &format!("/api/v4/users/{}/image", bob.id));
    s.with_world(|w| w.remove_profile_picture(bob.id.as_str()).unwrap());
    let u = get(&s, &format!("/api/v4/users/{}", bob.id)).json();
    assert!(u.get("last_picture_update").is_none(), "omitted: {u}");
    assert!(u["update_at"].as_i64().unwrap() > bob.update_at);
    let after = get(&s, &format!("/api/v4/users/{}/image", bob.id));
    assert_ne!(after.body, before.body, "the generated default");
    // SetDefaultProfileImage wrote it to storage: served like a stored image.
    assert_eq!(after.h("etag"), Some("0"));
    assert_eq!(after.h("cache-control"), Some("max-age=86400, private"));
    // Through the control interface too.
    let r = req(
        &s,
        "POST",
        &format!("/__fake/users/{}/picture", bob.id),
        &[("Content-Type", "application/json")],
        "{}",
    );
    assert_eq!(r.status, 200);
    assert!(s.with_world(|w| w.user_by_name("bob").unwrap().last_picture_update > 0));
    let r = req(
        &s,
        "POST",
        &format!("/__fake/users/{}/picture", bob.id),
        &[("Content-Type", "application/json")],
        "{\"remove\": true}",
    );
    assert_eq!(r.status, 200);
    assert_eq!(
        s.with_world(|w| w.user_by_name("bob").unwrap().last_picture_update),
        0
    );
    let r = req(
        &s,
        "POST",
        "/__fake/config",
        &[("Content-Type", "application/json")],
        "{\"view_archived_channels\": false, \"restrict_view_members\": true}",
    );
    assert_eq!(r.status, 200);
    let c = s.with_world(|w| w.config.clone());
    assert!(!c.view_archived_channels && c.restrict_view_members);
}

/// throttled's GCRA headers (`setRateLimitHeaders`): Limit = burst+1, Reset = the time until
/// the bucket is full (rounded up), Retry-After only on a 429: at 1/s with a burst of 5, an
/// empty bucket says Reset 6 while the next request is allowed after 1 s.
#[test]
fn rate_limit_headers_are_throttled_s() {
    let mut w = World::generate(2, Scale::Tiny);
    w.config.rate_limit = Some((1, 5));
    let s = FakeServer::start(w);
    let r: Vec<_> = (0..8).map(|_| get(&s, "/api/v4/system/ping")).collect();
    let h = |k: &str| -> Vec<&str> { r.iter().map(|x| x.h(k).unwrap_or("-")).collect() };
    assert_eq!(h("x-ratelimit-limit"), ["6"; 8]);
    assert_eq!(
        h("x-ratelimit-remaining"),
        ["5", "4", "3", "2", "1", "0", "0", "0"]
    );
    assert_eq!(
        h("x-ratelimit-reset"),
        ["1", "2", "3", "4", "5", "6", "6", "6"]
    );
    assert_eq!(h("retry-after"), ["-", "-", "-", "-", "-", "-", "1", "1"]);
    let status: Vec<u16> = r.iter().map(|x| x.status).collect();
    assert_eq!(status, [200, 200, 200, 200, 200, 200, 429, 429]);
    assert_eq!(s.rate_limited(), 2);
}

/// `VaryByUser`: `RateLimitHandler` keys the bucket by the token, then `UserIdRateLimit`
/// (`web/handlers.go`) checks a second bucket keyed by the user id: two sets of headers
/// (`Header().Add`). A request without a session (the login) gets one set.
#[test]
fn vary_by_user_sends_two_sets_of_headers() {
    let mut w = World::generate(2, Scale::Tiny);
    w.config.rate_limit = Some((1, 5));
    w.config.rate_limit_vary_by_user = true;
    let s = FakeServer::start(w);
    let (st, remaining) = header_values(&s, "/api/v4/users/me", true, "x-ratelimit-remaining");
    assert_eq!(st, 200);
    assert_eq!(remaining, ["5", "5"], "the token's bucket, then the user's");
    let (_, limit) = header_values(&s, "/api/v4/users/me", true, "x-ratelimit-limit");
    assert_eq!(limit, ["6", "6"]);
    let (_, remaining) = header_values(&s, "/api/v4/system/ping", false, "x-ratelimit-remaining");
    assert_eq!(remaining, ["5"], "no token: the IP's bucket only");
    for _ in 0..4 {
        header_values(&s, "/api/v4/users/me", true, "x-ratelimit-remaining");
    }
    // The token's bucket is empty first and refuses alone: the user's is not reached.
    let (st, remaining) = header_values(&s, "/api/v4/users/me", true, "x-ratelimit-remaining");
    assert_eq!(st, 429);
    assert_eq!(remaining, ["0"]);
    let (_, retry) = header_values(&s, "/api/v4/users/me", true, "retry-after");
    assert_eq!(retry, ["1"]);
}

#[test]
fn endless_reset_says_every_bucket_is_empty_for_ages() {
    let s = tiny();
    let (_, none) = header_values(&s, "/api/v4/users/me", true, "x-ratelimit-reset");
    assert!(none.is_empty(), "no limiter, no headers: {none:?}");
    s.set_hostile(crate::HostileMode::EndlessReset, true);
    for name in [
        "x-ratelimit-limit",
        "x-ratelimit-remaining",
        "x-ratelimit-reset",
    ] {
        let (status, v) = header_values(&s, "/api/v4/users/me", true, name);
        assert_eq!(status, 200);
        let want = match name {
            "x-ratelimit-limit" => "1",
            "x-ratelimit-remaining" => "0",
            _ => "999999999",
        };
        assert_eq!(v, [want], "{name}");
    }
    // Only the API: the web app's pages have none.
    let (_, v) = header_values(&s, "/", false, "x-ratelimit-reset");
    assert!(v.is_empty(), "{v:?}");
}
