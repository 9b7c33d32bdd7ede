//! Integration-style unit tests (real HTTP over a loopback socket).

use crate::{FakeServer, Scale, World};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{Read, Write};

const PAT: &str = "alicepersonalaccesstoken0000";

pub(super) struct Resp {
    pub(super) status: u16,
    headers: HashMap<String, String>,
    pub(super) body: Vec<u8>,
}

impl Resp {
    pub(super) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("bad json ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    pub(super) fn h(&self, k: &str) -> Option<&str> {
        self.headers
            .get(&k.to_ascii_lowercase())
            .map(|s| s.as_str())
    }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let pos = b.windows(2).position(|w| w == b"\r\n").expect("chunk size");
        let n = usize::from_str_radix(std::str::from_utf8(&b[..pos]).unwrap().trim(), 16).unwrap();
        b = &b[pos + 2..];
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[..n]);
        b = &b[n + 2..];
    }
}

pub(super) fn req(
    s: &FakeServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Resp {
    let addr = s.base_url().trim_start_matches("http://").to_string();
    let mut c = std::net::TcpStream::connect(&addr).unwrap();
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        r.push_str(&format!("{k}: {v}\r\n"));
    }
    if !body.is_empty() || method == "POST" {
        r.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    r.push_str("\r\n");
    r.push_str(body);
    c.write_all(r.as_bytes()).unwrap();
    let mut raw = Vec::new();
    c.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .unwrap()
        .split(' ')
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let mut headers = HashMap::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let mut body = raw[split + 4..].to_vec();
    if headers.get("transfer-encoding").map(|s| s.as_str()) == Some("chunked") {
        body = dechunk(&body);
    }
    Resp {
        status,
        headers,
        body,
    }
}

/// A request authenticated with alice's personal access token.
pub(super) fn authed(
    s: &FakeServer,
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &str,
) -> Resp {
    let auth = format!("Bearer {PAT}");
    let mut headers = vec![("Authorization", auth.as_str())];
    headers.extend_from_slice(extra);
    req(s, method, path, &headers, body)
}

pub(super) fn get(s: &FakeServer, path: &str) -> Resp {
    authed(s, "GET", path, &[], "")
}

fn get_h(s: &FakeServer, path: &str, extra: (&str, &str)) -> Resp {
    authed(s, "GET", path, &[extra], "")
}

fn login(s: &FakeServer, body: &str) -> Resp {
    req(s, "POST", "/api/v4/users/login", &[], body)
}

/// `GET /users/me` with exactly these headers.
fn get_me(s: &FakeServer, headers: &[(&str, &str)]) -> Resp {
    req(s, "GET", "/api/v4/users/me", headers, "")
}

fn order(v: &Value) -> Vec<String> {
    v["order"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap().to_string())
        .collect()
}

/// The string field `key` of every object of the array `v`, asserted to be in sorted order.
fn sorted_field<'a>(v: &'a Value, key: &str) -> Vec<&'a str> {
    let vals: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o[key].as_str().unwrap())
        .collect();
    assert!(vals.is_sorted(), "{key} not sorted: {vals:?}");
    vals
}

/// The id of the (first) file named `name`.
fn file_id(s: &FakeServer, name: &str) -> String {
    s.with_world(|w| {
        w.files
            .values()
            .find(|f| f.name == name)
            .unwrap()
            .id
            .to_string()
    })
}

fn demo() -> FakeServer {
    FakeServer::start(World::generate(42, Scale::Demo))
}

fn chan(s: &FakeServer, team: &str, name: &str) -> String {
    s.with_world(|w| w.channel_by_names(team, name).unwrap().id.to_string())
}

#[test]
fn generation_is_deterministic() {
    let a = World::generate(7, Scale::Tiny);
    let b = World::generate(7, Scale::Tiny);
    assert_eq!(
        a.posts.keys().collect::<std::collections::BTreeSet<_>>(),
        b.posts.keys().collect::<std::collections::BTreeSet<_>>()
    );
    let c = World::generate(8, Scale::Tiny);
    assert_ne!(
        a.user_by_name("alice").unwrap().id,
        c.user_by_name("alice").unwrap().id
    );
}

#[test]
fn login_and_auth_errors() {
    let s = FakeServer::start(World::generate(1, Scale::Tiny));
    let r = login(
        &s,
        r#"{"login_id":"alice@example.com","password":"alice-password"}"#,
    );
    assert_eq!(r.status, 200);
    let tok = r.h("token").unwrap().to_string();
    assert_eq!(r.json()["username"], "alice");
    let me = get_me(&s, &[("authorization", &format!("bearer {tok}"))]);
    assert_eq!(me.status, 200);
    assert!(me.h("etag").is_some());
    assert_eq!(me.h("expires"), Some("0"));
    let me2 = get_me(&s, &[("Authorization", &format!("token {tok}"))]);
    assert_eq!(me2.status, 200);
    let ck = get_me(&s, &[("Cookie", &format!("MMAUTHTOKEN={tok}"))]);
    assert_eq!(ck.status, 200);

    let bad = login(&s, r#"{"login_id":"alice","password":"x"}"#);
    assert_eq!(bad.status, 401);
    assert_eq!(
        bad.json()["id"],
        "api.user.login.invalid_credentials_email_username"
    );
    let inactive = login(&s, r#"{"login_id":"erin","password":"erin-password"}"#);
    assert_eq!(inactive.json()["id"], "api.user.login.inactive.app_error");

    let r = get_me(&s, &[]);
    assert_eq!(r.status, 401);
    let j = r.json();
    assert_eq!(j["id"], "api.context.session_expired.app_error");
    assert_eq!(j["detailed_error"], "");
    assert_eq!(j["status_code"], 401);
    assert_eq!(
        j["request_id"].as_str().unwrap(),
        r.h("x-request-id").unwrap()
    );
    let r = get_me(&s, &[("Authorization", "Bearer nope")]);
    assert_eq!(r.status, 401);

    let r = get(&s, "/api/v4/channels/notanid");
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["id"], "api.context.invalid_url_param.app_error");
    let r = get(&s, "/api/v4/channels/abcdefghijklmnopqrstuvwxyz");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["id"], "app.channel.get.existing.app_error");
    let r = get(&s, "/api/v4/no/such/route");
    assert_eq!(r.json()["id"], "api.context.404.app_error");
    let r = req(&s, "GET", "/", &[], "");
    assert!(r.h("content-type").unwrap().starts_with("text/html"));

    let hr = chan(&s, "acme", "hr-private");
    let r = get(&s, &format!("/api/v4/channels/{hr}/posts"));
    assert_eq!(r.status, 403);
    assert_eq!(r.json()["id"], "api.context.permissions.app_error");
    let sales = chan(&s, "acme", "sales");
    assert_eq!(
        get(&s, &format!("/api/v4/channels/{sales}/posts")).status,
        200
    );

    let counts = s.request_counts();
    assert!(counts.contains_key("GET /api/v4/channels/{channel_id}/posts"));
    assert!(s.total_requests() > 5);
}

#[test]
fn paging_cursors_and_equal_create_at() {
    let s = demo();
    let eng = chan(&s, "acme", "engineering");
    let live = s.with_world(|w| w.live_posts(&eng));
    let n = live.len();
    assert!(n > 450);
    let newest_first: Vec<String> = live.iter().rev().cloned().collect();
    let ca = |id: &str| s.with_world(|w| w.post(id).unwrap().create_at);
    // the equal block
    let c200 = ca(&newest_first[200]);
    for (i, id) in newest_first.iter().enumerate().take(206).skip(195) {
        assert_eq!(ca(id), c200, "position {i}");
    }
    assert_ne!(ca(&newest_first[194]), c200);
    assert_ne!(ca(&newest_first[206]), c200);

    // page mode
    let p0 = get(
        &s,
        &format!("/api/v4/channels/{eng}/posts?per_page=200&skipFetchThreads=true"),
    );
    assert_eq!(p0.status, 200);
    let etag = p0.h("etag").unwrap().to_string();
    let v = p0.json();
    let o = order(&v);
    assert_eq!(o, newest_first[..200].to_vec());
    assert_eq!(v["next_post_id"], "");
    // prev = newest post strictly older than oldest's create_at -> skips the equal block
    assert_eq!(v["prev_post_id"], newest_first[206].as_str());
    let p1 = get(
        &s,
        &format!("/api/v4/channels/{eng}/posts?per_page=200&page=1"),
    );
    assert_eq!(order(&p1.json()), newest_first[200..400].to_vec());
    assert_eq!(p1.h("etag").unwrap(), etag);

    // before: strict on create_at
    let b = get(
        &s,
        &format!(
            "/api/v4/channels/{eng}/posts?per_page=200&before={}",
            o[199]
        ),
    )
    .json();
    let bo = order(&b);
    assert_eq!(bo[0], newest_first[206]);
    assert_eq!(b["next_post_id"], o[199].as_str());
    assert_eq!(b["prev_post_id"], newest_first[406].as_str());
    // short page: prev ""
    let last = &newest_first[n - 10];
    let b = get(
        &s,
        &format!("/api/v4/channels/{eng}/posts?per_page=200&before={last}"),
    )
    .json();
    assert_eq!(order(&b).len(), 9);
    assert_eq!(b["prev_post_id"], "");
    // before page 1: next computed
    let b = get(
        &s,
        &format!(
            "/api/v4/channels/{eng}/posts?per_page=10&page=1&before={}",
            o[0]
        ),
    )
    .json();
    assert_eq!(order(&b), newest_first[11..21].to_vec());
    assert_eq!(b["next_post_id"], newest_first[10].as_str());

    // after
    let anchor = &newest_first[300];
    let a = get(
        &s,
        &format!("/api/v4/channels/{eng}/posts?per_page=5&after={anchor}"),
    )
    .json();
    assert_eq!(order(&a), newest_first[295..300].to_vec());
    assert_eq!(a["prev_post_id"], anchor.as_str());
    assert_eq!(a["next_post_id"], newest_first[294].as_str());
    let a = get(
        &s,
        &format!(
            "/api/v4/channels/{eng}/posts?per_page=50&after={}",
            newest_first[3]
        ),
    )
    .json();
    assert_eq!(order(&a).len(), 3);
    assert_eq!(a["next_post_id"], "");
    // unknown anchor: empty, both cursors ""
    let a = get(
        &s,
        &format!("/api/v4/channels/{eng}/posts?after=abcdefghijklmnopqrstuvwxyz"),
    )
    .json();
    assert!(order(&a).is_empty());
    assert_eq!(a["prev_post_id"], "");

    // per_page: 0 -> empty, 500 -> 200, negative -> 60
    assert!(order(&get(&s, &format!("/api/v4/channels/{eng}/posts?per_page=0")).json()).is_empty());
    assert_eq!(
        order(&get(&s, &format!("/api/v4/channels/{eng}/posts?per_page=500")).json()).len(),
        200
    );
    assert_eq!(
        order(&get(&s, &format!("/api/v4/channels/{eng}/posts?per_page=-3")).json()).len(),
        60
    );
    let r = get(&s, &format!("/api/v4/channels/{eng}/posts?before=bad"));
    assert_eq!(r.status, 400);
    let r = get(&s, &format!("/api/v4/channels/{eng}/posts?since=abc"));
    assert_eq!(r.json()["id"], "api.context.invalid_body_param.app_error");

    // ETag
    let r = get_h(
        &s,
        &format!("/api/v4/channels/{eng}/posts?per_page=1"),
        ("If-None-Match", &etag),
    );
    assert_eq!(r.status, 304);
    assert!(r.body.is_empty());
    let quoted = format!("\"{etag}\"");
    let r = get_h(
        &s,
        &format!("/api/v4/channels/{eng}/posts?per_page=1"),
        ("If-None-Match", &quoted),
    );
    assert_eq!(r.status, 200);
    let alice = s.with_world(|w| w.user_by_name("alice").unwrap().id.to_string());
    s.with_world(|w| w.add_reaction(&newest_first[300], &alice, "tada").unwrap());
    let r = get_h(
        &s,
        &format!("/api/v4/channels/{eng}/posts?per_page=1"),
        ("If-None-Match", &etag),
    );
    assert_eq!(r.status, 200);
    // empty channel: ETag is "<ver>.<now>" and never matches
    let q = chan(&s, "acme", "quiet-corner");
    let r = get(&s, &format!("/api/v4/channels/{q}/posts"));
    let e = r.h("etag").unwrap().to_string();
    std::thread::sleep(std::time::Duration::from_millis(3));
    assert_eq!(
        get_h(
            &s,
            &format!("/api/v4/channels/{q}/posts"),
            ("If-None-Match", &e)
        )
        .status,
        200
    );
}

#[test]
fn threads_in_posts_map() {
    let s = demo();
    let off = chan(&s, "acme", "off-topic");
    let v = get(&s, &format!("/api/v4/channels/{off}/posts?per_page=8")).json();
    let o = order(&v);
    let posts = v["posts"].as_object().unwrap();
    // a reply in the page -> root in posts
    for id in &o {
        let root = posts[id]["root_id"].as_str().unwrap();
        if !root.is_empty() {
            assert!(posts.contains_key(root));
        }
    }
    // skipFetchThreads: reply_count computed; otherwise 0
    let plan = s.with_world(|w| {
        w.posts
            .values()
            .find(|p| p.message.starts_with("Let's plan the offsite"))
            .unwrap()
            .id
            .to_string()
    });
    let v = get(&s, &format!("/api/v4/posts/{plan}")).json();
    assert_eq!(v["reply_count"], 3);
    assert_eq!(v["metadata"]["emojis"][0]["name"], "partyparrot");
    let expected = s.with_world(|w| w.render_post(&plan));
    assert_eq!(v, expected);
    let t = get(&s, &format!("/api/v4/posts/{plan}/thread")).json();
    assert_eq!(order(&t)[0], plan);
    assert_eq!(order(&t).len(), 5);
}

#[test]
fn since_deletions_and_history() {
    let s = FakeServer::start(World::generate(3, Scale::Tiny));
    let off = chan(&s, "acme", "off-topic");
    let (alice, bob) = s.with_world(|w| {
        (
            w.user_by_name("alice").unwrap().id.to_string(),
            w.user_by_name("bob").unwrap().id.to_string(),
        )
    });
    let t0 = s.with_world(|w| w.clock_last);
    let root = s.with_world(|w| w.add_post(&off, "bob", "root", None, vec![]).unwrap());
    let r1 = s.with_world(|w| {
        w.add_post(&off, "alice", "r1", Some(&root), vec![])
            .unwrap()
    });
    let mine = s.with_world(|w| w.add_post(&off, &alice, "mine", None, vec![]).unwrap());
    s.with_world(|w| w.edit_post(&mine, "mine v2").unwrap());
    let v = get(&s, &format!("/api/v4/channels/{off}/posts?since={t0}")).json();
    assert_eq!(v["next_post_id"], "");
    let posts = v["posts"].as_object().unwrap();
    let o = order(&v);
    assert_eq!(o.len(), 4); // root, r1, mine, history row
    let hist: Vec<&Value> = posts
        .values()
        .filter(|p| p["original_id"] == mine.as_str())
        .collect();
    assert_eq!(hist.len(), 1);
    assert_eq!(hist[0]["message"], "");
    assert!(hist[0]["delete_at"].as_i64().unwrap() > 0);
    assert_eq!(posts[&mine]["message"], "mine v2");
    assert!(posts[&mine]["edit_at"].as_i64().unwrap() > 0);

    // edit history: author only
    let h = get(&s, &format!("/api/v4/posts/{mine}/edit_history"));
    assert_eq!(h.status, 200);
    assert_eq!(h.json()[0]["message"], "mine");
    assert_eq!(
        get(&s, &format!("/api/v4/posts/{root}/edit_history")).status,
        403
    );
    assert_eq!(
        get(&s, &format!("/api/v4/posts/{r1}/edit_history")).status,
        404
    );

    // delete root -> reply deleted too; since shows both with empty message
    let t1 = s.with_world(|w| w.clock_last);
    s.with_world(|w| w.delete_post(&root).unwrap());
    let v = get(&s, &format!("/api/v4/channels/{off}/posts?since={t1}")).json();
    let posts = v["posts"].as_object().unwrap();
    assert_eq!(order(&v).len(), 2);
    for id in [&root, &r1] {
        assert_eq!(posts[id.as_str()]["message"], "");
        assert_eq!(posts[id.as_str()]["metadata"], serde_json::json!({}));
        assert_eq!(posts[id.as_str()]["props"]["deleteBy"], bob.as_str());
    }
    assert_eq!(get(&s, &format!("/api/v4/posts/{root}")).status, 404);
    assert!(!s.with_world(|w| w.live_posts(&off)).contains(&r1));

    // since cap: 1000 rows max
    let t2 = s.with_world(|w| w.clock_last);
    s.with_world(|w| {
        for i in 0..1100 {
            w.add_post(&off, "alice", &format!("bulk {i}"), None, vec![])
                .unwrap();
        }
    });
    let v = get(&s, &format!("/api/v4/channels/{off}/posts?since={t2}")).json();
    let o = order(&v);
    assert_eq!(o.len(), 1000);
    let cas: Vec<i64> = o
        .iter()
        .map(|i| v["posts"][i]["create_at"].as_i64().unwrap())
        .collect();
    assert!(cas.windows(2).all(|w| w[0] >= w[1]));
    assert!(get(&s, &format!("/api/v4/channels/{off}/posts?since={t2}"))
        .h("etag")
        .is_none());
}

#[test]
fn files_ranges_and_images() {
    let s = FakeServer::start(World::generate(5, Scale::Tiny));
    let (fid, size, bytes, name) = s.with_world(|w| {
        let f = w
            .files
            .values()
            .find(|f| f.name.contains("Übersicht"))
            .unwrap();
        (
            f.id.to_string(),
            f.size,
            w.file_content(&f.id.to_string()),
            f.name.clone(),
        )
    });
    assert!(name.contains(' '));
    let r = get(&s, &format!("/api/v4/files/{fid}"));
    assert_eq!(r.status, 200);
    assert_eq!(r.body, bytes);
    assert_eq!(r.h("content-length").unwrap(), size.to_string());
    assert_eq!(r.h("content-type"), Some("application/pdf"));
    assert_eq!(r.h("accept-ranges"), Some("bytes"));
    assert!(r.h("last-modified").unwrap().ends_with("GMT"));
    let cd = r.h("content-disposition").unwrap();
    assert!(
        cd.starts_with("attachment;filename=\"Q3%20report%20%E2%80%93%20%C3%9Cbersicht"),
        "{cd}"
    );
    assert!(cd.contains("; filename*=UTF-8''Q3%20report"));
    let r = get_h(
        &s,
        &format!("/api/v4/files/{fid}"),
        ("Range", "bytes=10-19"),
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.body, bytes[10..20].to_vec());
    assert_eq!(r.h("content-range").unwrap(), format!("bytes 10-19/{size}"));
    let r = get_h(&s, &format!("/api/v4/files/{fid}"), ("Range", "bytes=100-"));
    assert_eq!(r.body, bytes[100..].to_vec());
    let r = get_h(
        &s,
        &format!("/api/v4/files/{fid}"),
        ("Range", &format!("bytes={size}-")),
    );
    assert_eq!(r.status, 416);
    // images are inline and real
    let png = file_id(&s, "screenshot.png");
    let r = get(&s, &format!("/api/v4/files/{png}"));
    assert!(r.h("content-disposition").unwrap().starts_with("inline;"));
    assert_eq!(&r.body[..8], b"\x89PNG\r\n\x1a\n");
    // deleted post's file: 404
    let del = file_id(&s, "to-be-deleted.txt");
    assert_eq!(get(&s, &format!("/api/v4/files/{del}")).status, 404);
    // user images
    let bob = s.with_world(|w| w.user_by_name("bob").unwrap().clone());
    let r = get(&s, &format!("/api/v4/users/{}/image", bob.id));
    assert_eq!(r.h("content-type"), Some("image/png"));
    assert_eq!(r.h("etag").unwrap(), bob.last_picture_update.to_string());
    let r = get_h(
        &s,
        &format!("/api/v4/users/{}/image", bob.id),
        ("If-None-Match", &bob.last_picture_update.to_string()),
    );
    assert_eq!(r.status, 304);
    let carol = s.with_world(|w| w.user_by_name("carol").unwrap().id);
    let r = get(&s, &format!("/api/v4/users/{carol}/image"));
    assert_eq!(r.h("cache-control"), Some("max-age=300, private"));
    assert!(r.h("etag").is_none());
}

#[test]
fn lists_members_emoji_and_quirks() {
    let s = demo();
    let acme = s.with_world(|w| w.team_by_name("acme").unwrap().id.to_string());
    let beta = s.with_world(|w| w.team_by_name("beta").unwrap().id.to_string());
    let r = get(&s, &format!("/api/v4/teams/{beta}/image"));
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["id"], "api.team.get_team_icon.read_file.app_error");
    assert_eq!(get(&s, &format!("/api/v4/teams/{acme}/image")).status, 200);
    let r = get(&s, &format!("/api/v4/users/me/teams/{acme}/channels"));
    let et = r.h("etag").unwrap().to_string();
    let list = r.json();
    assert!(list.as_array().unwrap().iter().any(|c| c["type"] == "D"));
    assert_eq!(
        get_h(
            &s,
            &format!("/api/v4/users/me/teams/{acme}/channels"),
            ("If-None-Match", &et)
        )
        .status,
        304
    );
    let r = get(&s, "/api/v4/users/me/channels");
    let text = String::from_utf8(r.body.clone()).unwrap();
    assert!(text.starts_with("[{") && text.ends_with("}\n]") && text.contains("}\n,{"));
    let members = get(&s, &format!("/api/v4/teams/{acme}/members?per_page=200")).json();
    let ids = sorted_field(&members, "user_id");
    let grace = s.with_world(|w| w.user_by_name("grace").unwrap().id.to_string());
    assert!(!ids.contains(&grace.as_str()));
    let ids_body = serde_json::to_string(&ids).unwrap();
    let users_by_ids = |body: &str| authed(&s, "POST", "/api/v4/users/ids", &[], body);
    sorted_field(&users_by_ids(&ids_body).json(), "username");
    let big = format!("[\"{}\"]", "a".repeat(300_001));
    assert_eq!(users_by_ids(&big).status, 413);
    assert_eq!(users_by_ids("[]").status, 400);
    let e = get(&s, "/api/v4/emoji?sort=name&per_page=200").json();
    assert_eq!(e.as_array().unwrap().len(), 6);
    assert_eq!(get(&s, "/api/v4/emoji?sort=bad").status, 400);
    s.with_world(|w| w.config.custom_emoji_enabled = false);
    assert_eq!(get(&s, "/api/v4/emoji").status, 501);
    // pinned oldest first
    let off = chan(&s, "acme", "off-topic");
    let p = get(&s, &format!("/api/v4/channels/{off}/pinned")).json();
    let o = order(&p);
    assert!(o.len() >= 2);
    let cas: Vec<i64> = o
        .iter()
        .map(|i| p["posts"][i]["create_at"].as_i64().unwrap())
        .collect();
    assert!(cas.windows(2).all(|w| w[0] <= w[1]));
}

#[test]
fn rate_limit_429() {
    let mut w = World::generate(2, Scale::Tiny);
    w.config.rate_limit = Some((1, 3));
    let s = FakeServer::start(w);
    let mut statuses = vec![];
    for _ in 0..6 {
        statuses.push(get(&s, "/api/v4/system/ping"));
    }
    assert_eq!(statuses[0].h("x-ratelimit-limit"), Some("4"));
    let limited = statuses.iter().find(|r| r.status == 429).expect("limited");
    assert_eq!(limited.body, b"limit exceeded\n");
    assert_eq!(limited.h("content-type"), Some("text/plain; charset=utf-8"));
    assert!(limited.h("retry-after").is_some());
}

#[test]
fn large_generation_is_fast_enough() {
    let t = std::time::Instant::now();
    let w = World::generate(42, Scale::Large);
    let el = t.elapsed();
    assert!(w.posts.len() > 140_000, "{}", w.posts.len());
    assert!(w.channels.values().any(|c| c.live.len() > 30_000));
    assert!(w.files.values().any(|f| f.size == 200 * 1024 * 1024));
    eprintln!("large generation took {el:?}");
}

#[test]
#[ignore = "benchmark; run with --release -- --ignored"]
fn bench_page_render() {
    let w = World::generate(42, Scale::Large);
    let eng = w
        .channel_by_names("acme", "engineering")
        .unwrap()
        .id
        .to_string();
    let t = std::time::Instant::now();
    let mut bytes = 0;
    for page in 0..100 {
        let q = crate::PostsQuery {
            page,
            per_page: 200,
            skip_fetch_threads: true,
            ..Default::default()
        };
        bytes += w.posts_for_channel_out(&eng, &q).to_json().len();
    }
    eprintln!("100 pages: {:?} ({bytes} bytes)", t.elapsed());
}

fn gunzip(b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    flate2::read::GzDecoder::new(b)
        .read_to_end(&mut out)
        .expect("a valid gzip body");
    out
}

const GZIP: (&str, &str) = ("Accept-Encoding", "gzip, deflate");

#[test]
fn gzip_mode_compresses_api_answers_of_1400_bytes_or_more() {
    let s = FakeServer::start(World::generate(5, Scale::Tiny));
    let (mut small, mut large) = (0, 0);
    let posts = format!(
        "/api/v4/channels/{}/posts?per_page=200",
        chan(&s, "acme", "engineering")
    );
    for path in [
        "/api/v4/system/ping",
        "/api/v4/users/me",
        "/api/v4/users/me/teams",
        "/api/v4/users/me/channels",
        &posts,
        "/api/v4/no/such/route",
    ] {
        let plain = get(&s, path);
        assert_eq!(plain.h("content-encoding"), None, "{path}");
        assert_eq!(plain.h("vary"), Some("Accept-Encoding"), "{path}");
        let r = get_h(&s, path, GZIP);
        assert_eq!(r.status, plain.status, "{path}");
        if plain.body.len() >= crate::gzip::MIN_SIZE {
            large += 1;
            assert_eq!(r.h("content-encoding"), Some("gzip"), "{path}");
            // the compressed length, if any (Go sends one when the gzipped answer fits its
            // 2 KiB chunking buffer)
            if let Some(n) = r.h("content-length") {
                assert_eq!(n, r.body.len().to_string(), "{path}");
            }
            assert!(r.body.len() < plain.body.len(), "{path}");
            assert_eq!(gunzip(&r.body), plain.body, "{path}");
        } else {
            small += 1;
            assert_eq!(r.h("content-encoding"), None, "{path}");
            // (an error body differs in its request_id only)
            assert_eq!(r.body.len(), plain.body.len(), "{path}");
        }
        // identity, or gzip with q=0, is never compressed
        for ae in ["identity", "gzip;q=0"] {
            let r = get_h(&s, path, ("Accept-Encoding", ae));
            assert_eq!(r.h("content-encoding"), None, "{path} {ae}");
            assert_eq!(r.body.len(), plain.body.len(), "{path} {ae}");
        }
    }
    assert!(small >= 2 && large >= 2, "{small} small, {large} large");
    assert_eq!(s.compressed_responses(), large);
    let counts = s.compressed_counts();
    assert_eq!(counts.get("GET /api/v4/users/{user_id}/channels"), Some(&1));
    assert_eq!(counts.get("GET /api/v4/system/ping"), None);
    s.reset_counts();
    assert_eq!(s.compressed_responses(), 0);
    assert!(s.compressed_counts().is_empty());
}

#[test]
fn gzip_mode_files_ranges_and_disabled_mode() {
    let s = FakeServer::start(World::generate(5, Scale::Tiny));
    let (fid, size, bytes) = s.with_world(|w| {
        let f = w
            .files
            .values()
            .find(|f| f.name.contains("Übersicht"))
            .unwrap();
        (f.id.to_string(), f.size, w.file_content(&f.id.to_string()))
    });
    assert!(size > 2000, "{size}");
    let path = format!("/api/v4/files/{fid}");
    // identity: the raw bytes with their length, and the size in X-Uncompressed-Content-Length
    let r = get_h(&s, &path, ("Accept-Encoding", "identity"));
    assert_eq!(r.h("content-encoding"), None);
    assert_eq!(r.h("content-length").unwrap(), size.to_string());
    assert_eq!(
        r.h("x-uncompressed-content-length").unwrap(),
        size.to_string()
    );
    assert_eq!(r.body, bytes);
    assert_eq!(s.compressed_responses(), 0);
    // gzip: the file is compressed like any API answer (streamed, no length)
    let r = get_h(&s, &path, GZIP);
    assert_eq!(r.h("content-encoding"), Some("gzip"));
    assert_eq!(r.h("content-length"), None);
    assert_eq!(
        r.h("x-uncompressed-content-length").unwrap(),
        size.to_string()
    );
    assert_eq!(gunzip(&r.body), bytes);
    // a range is cut first, then compressed
    let auth = format!("Bearer {PAT}");
    let r = req(
        &s,
        "GET",
        &path,
        &[("Authorization", &auth), GZIP, ("Range", "bytes=100-")],
        "",
    );
    assert_eq!(r.status, 206);
    assert_eq!(r.h("content-encoding"), Some("gzip"));
    assert_eq!(gunzip(&r.body), bytes[100..].to_vec());
    // a range under 1400 bytes stays plain
    let r = req(
        &s,
        "GET",
        &path,
        &[("Authorization", &auth), GZIP, ("Range", "bytes=0-99")],
        "",
    );
    assert_eq!(r.h("content-encoding"), None);
    assert_eq!(r.body, bytes[..100].to_vec());
    assert_eq!(
        s.compressed_counts().get("GET /api/v4/files/{file_id}"),
        Some(&2)
    );

    s.set_webserver_mode(crate::WebserverMode::Disabled);
    s.reset_counts();
    let r = get_h(&s, &path, GZIP);
    assert_eq!(r.h("content-encoding"), None);
    assert_eq!(r.h("vary"), None);
    assert_eq!(r.h("x-uncompressed-content-length"), None);
    assert_eq!(r.h("content-length").unwrap(), size.to_string());
    assert_eq!(r.body, bytes);
    let r = get_h(&s, "/api/v4/users/me/channels", GZIP);
    assert_eq!(r.h("content-encoding"), None);
    assert!(r.body.len() >= crate::gzip::MIN_SIZE);
    assert_eq!(s.compressed_responses(), 0);
}

#[test]
fn gzip_bomb_is_small_on_the_wire() {
    let s = FakeServer::start(World::generate(5, Scale::Tiny));
    s.set_hostile(crate::HostileMode::GzipBomb, true);
    // sent compressed even to a client that asked for identity
    let r = get_h(
        &s,
        "/api/v4/users/me/teams",
        ("Accept-Encoding", "identity"),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.h("content-encoding"), Some("gzip"));
    assert!(r.body.len() < 1 << 20, "{}", r.body.len());
    let mut head = [0u8; 4096];
    flate2::read::GzDecoder::new(&r.body[..])
        .read_exact(&mut head)
        .unwrap();
    assert_eq!(head[0], b'[');
    assert!(head[1..].iter().all(|b| *b == b' '));
    // not counted as compressed by the gzip handler (it was encoded already)
    assert_eq!(s.compressed_responses(), 0);
}

#[test]
fn http_date_is_imf_fixdate() {
    assert_eq!(crate::world::http_date(0), "Thu, 01 Jan 1970 00:00:00 GMT");
    assert_eq!(
        crate::world::http_date(1_796_456_631_999),
        "Sat, 05 Dec 2026 07:43:51 GMT"
    );
    assert_eq!(
        crate::world::http_date(951_782_400_000),
        "Tue, 29 Feb 2000 00:00:00 GMT"
    );
}

#[test]
fn imported_posts_keep_their_time_and_count() {
    let mut w = World::generate(1, Scale::Tiny);
    let ch = w.channels.values().find(|c| c.live.len() > 4).unwrap();
    let (cid, before, last) = (ch.id.to_string(), ch.total_msg_count, ch.last_post_at);
    let t = ch.live[1].0 + 1;
    let alice = w.user_by_name("alice").unwrap().id.to_string();
    let id = w.import_post(&cid, &alice, "imported", None, t).unwrap();
    let p = w.post(&id).unwrap();
    assert_eq!((p.create_at, p.update_at), (t, t));
    let ch = w.channel(&cid).unwrap();
    assert_eq!(ch.total_msg_count, before + 1);
    assert_eq!(ch.last_post_at, last);
    // a since answer from the newest update never shows it
    let since = w.posts_for_channel(
        &cid,
        &crate::PostsQuery {
            since: last - 1,
            ..Default::default()
        },
    );
    assert!(!since["order"].as_array().unwrap().iter().any(|x| x == &id));
}
