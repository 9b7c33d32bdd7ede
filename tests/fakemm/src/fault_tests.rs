//! Tests of fault injection and the hostile modes, with a raw HTTP/1.1 client that reports
//! dropped connections and incomplete bodies instead of failing.

use crate::faults::{Fault, FaultKind, FaultSeq, Faults};
use crate::hostile::{HostileMode, FILE_EXTRA_BYTES};
use crate::{FakeServer, Scale, World};
use serde_json::Value;
use std::collections::HashMap;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

const PAT: &str = "alicepersonalaccesstoken0000";

/// What came back over one connection.
#[derive(Debug)]
pub(crate) struct Raw {
    /// None: the connection closed (or failed) before a status line.
    pub(crate) status: Option<u16>,
    pub(crate) headers: HashMap<String, String>,
    /// The body as received (de-chunked when chunked).
    pub(crate) body: Vec<u8>,
    /// The body arrived completely (Content-Length reached, or the last chunk seen).
    complete: bool,
    /// The read ended with an error (reset) rather than EOF.
    read_error: bool,
}

impl Raw {
    fn h(&self, k: &str) -> Option<&str> {
        self.headers
            .get(&k.to_ascii_lowercase())
            .map(|s| s.as_str())
    }
    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("bad json ({e}): {}", String::from_utf8_lossy(&self.body)))
    }
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).to_string()
    }
}

/// Tolerant de-chunking: (data, whether the terminating chunk was seen).
fn dechunk(mut b: &[u8]) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    loop {
        let Some(pos) = b.windows(2).position(|w| w == b"\r\n") else {
            return (out, false);
        };
        let Ok(n) = usize::from_str_radix(String::from_utf8_lossy(&b[..pos]).trim(), 16) else {
            return (out, false);
        };
        b = &b[pos + 2..];
        if n == 0 {
            return (out, true);
        }
        if b.len() < n {
            out.extend_from_slice(b);
            return (out, false);
        }
        out.extend_from_slice(&b[..n]);
        b = &b[(n + 2).min(b.len())..];
    }
}

/// One request on a fresh connection to `addr` ("host:port"); reads at most `max` bytes.
fn raw_to(
    addr: &str,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
    max: usize,
) -> Raw {
    let mut c = std::net::TcpStream::connect(addr).unwrap();
    c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
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
    let mut buf = [0u8; 64 * 1024];
    let mut read_error = false;
    while raw.len() < max {
        match c.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => raw.extend_from_slice(&buf[..n]),
            Err(_) => {
                read_error = true;
                break;
            }
        }
    }
    let Some(split) = raw.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Raw {
            status: None,
            headers: HashMap::new(),
            body: raw,
            complete: false,
            read_error,
        };
    };
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines
        .next()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|s| s.parse().ok());
    let mut hm = HashMap::new();
    for l in lines {
        if let Some((k, v)) = l.split_once(':') {
            hm.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let mut body = raw[split + 4..].to_vec();
    let complete;
    if hm.get("transfer-encoding").map(|s| s.as_str()) == Some("chunked") {
        (body, complete) = dechunk(&body);
    } else if let Some(n) = hm
        .get("content-length")
        .and_then(|v| v.parse::<usize>().ok())
    {
        complete = body.len() == n;
    } else {
        complete = !read_error;
    }
    Raw {
        status,
        headers: hm,
        body,
        complete,
        read_error,
    }
}

pub(crate) fn addr(s: &FakeServer) -> String {
    s.base_url().trim_start_matches("http://").to_string()
}

pub(crate) fn raw(
    s: &FakeServer,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: &str,
) -> Raw {
    raw_to(&addr(s), method, path, headers, body, usize::MAX)
}

pub(crate) fn get(s: &FakeServer, path: &str) -> Raw {
    let auth = format!("Bearer {PAT}");
    raw(s, "GET", path, &[("Authorization", &auth)], "")
}

fn get_h(s: &FakeServer, path: &str, extra: (&str, &str)) -> Raw {
    let auth = format!("Bearer {PAT}");
    raw(s, "GET", path, &[("Authorization", &auth), extra], "")
}

fn post(s: &FakeServer, path: &str, body: &str) -> Raw {
    raw(
        s,
        "POST",
        path,
        &[("Content-Type", "application/json")],
        body,
    )
}

pub(crate) fn tiny() -> FakeServer {
    FakeServer::start(World::generate(42, Scale::Tiny))
}

fn only(kind: FaultKind) -> Faults {
    Faults::new(1.0, 1).with_kinds(&[kind])
}

/// The id and size of a non-image file (streamed in 64 KiB chunks) of at least `min` bytes.
pub(crate) fn big_file(s: &FakeServer, min: u64) -> (String, u64) {
    s.with_world(|w| {
        let ch = w
            .channel_by_names("acme", "town-square")
            .unwrap()
            .id
            .to_string();
        let pid = w
            .add_post(
                &ch,
                "alice",
                "big",
                None,
                vec![("big.bin".into(), "application/zip".into(), min)],
            )
            .unwrap();
        let p = w.post(&pid).unwrap();
        let fid = p.file_ids[0];
        (fid.to_string(), w.files[&fid].size)
    })
}

#[test]
fn fault_sequence_is_deterministic() {
    let f = Faults::new(0.3, 99);
    let run = |f: &Faults| {
        let mut q = FaultSeq::new(f.clone());
        (0..2000).map(|_| q.next_step()).collect::<Vec<_>>()
    };
    let a = run(&f);
    assert_eq!(a, run(&f));
    let other = run(&Faults::new(0.3, 100));
    assert_ne!(a, other);
    let faulted = a.iter().filter(|s| s.fault.is_some()).count();
    // 30% plus the 429 bursts (1..=3 after each of ~1/6 of the faults).
    assert!((600..=900).contains(&faulted), "{faulted}");
    let kinds: std::collections::BTreeSet<FaultKind> =
        a.iter().filter_map(|s| s.fault).map(|f| f.kind()).collect();
    assert_eq!(kinds.len(), 6, "{kinds:?}");
    let codes: std::collections::BTreeSet<u16> = a
        .iter()
        .filter_map(|s| match s.fault {
            Some(Fault::Status(c)) => Some(c),
            _ => None,
        })
        .collect();
    assert_eq!(codes.into_iter().collect::<Vec<_>>(), [500, 502, 503, 504]);
    // Every non-burst 429 is followed by 1..=3 burst 429s.
    for (i, s) in a.iter().enumerate() {
        if s.fault == Some(Fault::TooMany { burst: false }) && i + 4 < a.len() {
            let k = a[i + 1..]
                .iter()
                .take_while(|s| s.fault == Some(Fault::TooMany { burst: true }))
                .count();
            assert!((1..=3).contains(&k), "burst of {k} at {i}");
        }
    }
    // No kinds / rate 0: nothing.
    let none = run(&Faults::new(0.0, 99));
    assert!(none.iter().all(|s| s.fault.is_none() && s.latency_ms == 0));
    let none = run(&Faults::new(1.0, 99).with_kinds(&[]));
    assert!(none.iter().all(|s| s.fault.is_none()));
    // Latency within its range, deterministic.
    let mut l = Faults::new(0.0, 5);
    l.latency_ms = Some((10, 20));
    let ls = run(&l);
    assert!(ls.iter().all(|s| (10..=20).contains(&s.latency_ms)));
    assert!(ls.iter().any(|s| s.latency_ms != ls[0].latency_ms));
}

#[test]
fn same_seed_same_faults_over_http() {
    let s = tiny();
    let f = Faults::new(0.5, 7).with_kinds(&[
        FaultKind::Status,
        FaultKind::TooMany,
        FaultKind::Timeout408,
        FaultKind::Drop,
    ]);
    let run = || {
        s.reset_counts();
        s.set_faults(f.clone());
        let st: Vec<Option<u16>> = (0..40)
            .map(|_| get(&s, "/api/v4/users/me").status)
            .collect();
        (st, s.fault_log(), s.faults_injected())
    };
    let (a, log_a, n_a) = run();
    let (b, log_b, n_b) = run();
    assert_eq!(a, b);
    assert_eq!(log_a, log_b);
    assert_eq!(n_a, n_b);
    let bad = a.iter().filter(|x| **x != Some(200)).count() as u64;
    assert_eq!(bad, n_a);
    assert!((10..40).contains(&n_a), "{n_a}");
    assert!(a.contains(&None), "a dropped connection: {a:?}");
    assert!(a.contains(&Some(408)) && a.contains(&Some(429)), "{a:?}");
    assert_eq!(log_a[0].route, "GET /api/v4/users/{user_id}");
    // Faulted requests are counted under their route.
    assert_eq!(s.request_counts()["GET /api/v4/users/{user_id}"], 40);
    // The control interface reports the same counter.
    let st = raw(&s, "GET", "/__fake/stats", &[], "").json();
    assert_eq!(st["faults"], n_b);
    assert_eq!(st["total"], 40);
}

#[test]
fn rate_zero_gives_no_faults() {
    let s = tiny();
    for _ in 0..30 {
        assert_eq!(get(&s, "/api/v4/users/me").status, Some(200));
    }
    s.set_faults(Faults::new(0.0, 3));
    for _ in 0..30 {
        assert_eq!(get(&s, "/api/v4/users/me/teams").status, Some(200));
    }
    assert_eq!(s.faults_injected(), 0);
    assert!(s.fault_log().is_empty());
}

#[test]
fn fake_interface_is_never_faulted() {
    let s = tiny();
    s.set_faults(Faults::new(1.0, 1).with_kinds(&[FaultKind::Drop, FaultKind::Status]));
    for _ in 0..20 {
        assert_eq!(raw(&s, "GET", "/__fake/stats", &[], "").status, Some(200));
        assert_eq!(raw(&s, "GET", "/__fake/world", &[], "").status, Some(200));
    }
    // Nor is the web app (non-API paths).
    assert_eq!(raw(&s, "GET", "/login", &[], "").status, Some(200));
    assert_eq!(s.faults_injected(), 0);
    let r = get(&s, "/api/v4/system/ping");
    assert_ne!(r.status, Some(200));
    assert_eq!(s.faults_injected(), 1);
}

#[test]
fn status_faults_look_like_server_and_proxy_errors() {
    let s = tiny();
    s.set_faults(only(FaultKind::Status));
    let mut seen = std::collections::BTreeMap::new();
    for _ in 0..40 {
        let r = get(&s, "/api/v4/users/me");
        seen.entry(r.status.unwrap()).or_insert(r);
    }
    assert_eq!(
        seen.keys().copied().collect::<Vec<_>>(),
        [500, 502, 503, 504]
    );
    let e = &seen[&500];
    assert_eq!(e.h("content-type"), Some("application/json"));
    let v = e.json();
    assert_eq!(v["id"], "api.context.server_error");
    assert_eq!(v["status_code"], 500);
    assert_eq!(v["detailed_error"], "");
    assert_eq!(v["request_id"].as_str(), e.h("x-request-id"));
    assert!(seen[&502].text().contains("502 Bad Gateway"));
    assert_eq!(seen[&502].h("content-type"), Some("text/html"));
    assert!(seen[&503].text().starts_with("upstream connect error"));
    assert!(seen[&504].text().contains("504 Gateway Time-out"));
    // Login faults too.
    let r = post(
        &s,
        "/api/v4/users/login",
        r#"{"login_id":"alice","password":"alice-password"}"#,
    );
    assert!(r.status.unwrap() >= 500, "{r:?}");
    assert!(r.h("token").is_none());
}

#[test]
fn too_many_and_408() {
    let s = tiny();
    s.set_faults(only(FaultKind::TooMany));
    let r = get(&s, "/api/v4/users/me");
    assert_eq!(r.status, Some(429));
    assert_eq!(r.text(), "limit exceeded\n");
    assert_eq!(r.h("content-type"), Some("text/plain; charset=utf-8"));
    assert_eq!(r.h("retry-after"), Some("1"));
    assert_eq!(r.h("x-ratelimit-remaining"), Some("0"));
    assert_eq!(r.h("x-ratelimit-reset"), Some("1"));
    assert!(r.h("x-ratelimit-limit").is_some());

    s.set_faults(only(FaultKind::Timeout408));
    let r = get(&s, "/api/v4/users/me");
    assert_eq!(r.status, Some(408));
    assert_eq!(s.faults_injected(), 2);
}

#[test]
fn drop_gives_no_response_at_all() {
    let s = tiny();
    s.set_faults(only(FaultKind::Drop));
    for path in ["/api/v4/users/me", "/api/v4/users/me/teams"] {
        let r = get(&s, path);
        assert_eq!(r.status, None, "{r:?}");
        assert!(r.body.is_empty(), "{r:?}");
    }
}

#[test]
fn truncated_json_and_file_resume_with_range() {
    let s = tiny();
    let full = get(&s, "/api/v4/users/me");
    s.set_faults(only(FaultKind::Truncate));
    let r = get(&s, "/api/v4/users/me");
    assert_eq!(r.status, Some(200));
    let n: usize = r.h("content-length").unwrap().parse().unwrap();
    assert_eq!(n, full.body.len());
    assert!(!r.complete);
    assert_eq!(r.body.len(), n / 2);
    assert_eq!(r.body[..], full.body[..n / 2]);

    // A streamed file: half arrives, the rest with a Range request.
    s.set_faults(Faults::default());
    let (fid, size) = big_file(&s, 300_000);
    let want = s.with_world(|w| w.file_content(&fid));
    assert_eq!(want.len() as u64, size);
    s.set_faults(only(FaultKind::Truncate));
    let r = get(&s, &format!("/api/v4/files/{fid}"));
    assert_eq!(r.status, Some(200));
    assert_eq!(r.h("content-length"), Some(size.to_string().as_str()));
    assert!(!r.complete);
    assert_eq!(r.body.len() as u64, size / 2);
    assert_eq!(r.body[..], want[..r.body.len()]);
    s.set_faults(Faults::default());
    let range = format!("bytes={}-", r.body.len());
    let rest = get_h(&s, &format!("/api/v4/files/{fid}"), ("Range", &range));
    assert_eq!(rest.status, Some(206));
    assert!(rest.complete);
    let mut all = r.body.clone();
    all.extend_from_slice(&rest.body);
    assert_eq!(all, want);
}

#[test]
fn slow_responses_complete_correctly() {
    let s = tiny();
    let want = get(&s, "/api/v4/users/me/teams").json();
    let (fid, size) = big_file(&s, 200_000);
    let mut f = only(FaultKind::Slow);
    f.slow_ms = 240;
    s.set_faults(f);
    let (mut head, mut body) = (0, 0);
    for _ in 0..6 {
        let t = Instant::now();
        let r = get(&s, "/api/v4/users/me/teams");
        assert!(
            t.elapsed() >= Duration::from_millis(200),
            "{:?}",
            t.elapsed()
        );
        assert_eq!(r.status, Some(200));
        assert!(r.complete);
        assert_eq!(r.json(), want);
        let r = get(&s, &format!("/api/v4/files/{fid}"));
        assert!(r.complete);
        assert_eq!(r.body.len() as u64, size);
    }
    for e in s.fault_log() {
        match e.fault {
            Fault::SlowHead(240) => head += 1,
            Fault::SlowBody(240) => body += 1,
            f => panic!("{f:?}"),
        }
    }
    assert!(head > 0 && body > 0, "{head} {body}");
}

#[test]
fn latency_applies_to_every_api_request() {
    let s = tiny();
    let mut f = Faults::new(0.0, 1);
    f.latency_ms = Some((150, 160));
    s.set_faults(f);
    let t = Instant::now();
    assert_eq!(get(&s, "/api/v4/system/ping").status, Some(200));
    assert!(t.elapsed() >= Duration::from_millis(150));
    assert_eq!(s.faults_injected(), 0);
    // A control request takes no step of the injector, so no latency either: a count, not a
    // clock (a loaded machine makes any request slow). With a fault on every request the log
    // numbers the steps: the API requests around the control request are steps 0 and 1.
    let mut f = Faults::new(1.0, 1).with_kinds(&[FaultKind::Status]);
    f.latency_ms = Some((150, 160));
    s.set_faults(f);
    assert_ne!(get(&s, "/api/v4/system/ping").status, Some(200));
    assert_eq!(raw(&s, "GET", "/__fake/stats", &[], "").status, Some(200));
    assert_ne!(get(&s, "/api/v4/system/ping").status, Some(200));
    let steps: Vec<u64> = s.fault_log().iter().map(|e| e.n).collect();
    assert_eq!(steps, [0, 1], "{:?}", s.fault_log());
}

#[test]
fn faults_via_the_control_interface() {
    let s = tiny();
    let r = post(
        &s,
        "/__fake/faults",
        r#"{"rate": 1, "seed": 3, "kinds": ["timeout_408"]}"#,
    );
    assert_eq!(r.status, Some(200), "{}", r.text());
    assert_eq!(
        r.json()["faults"]["kinds"],
        serde_json::json!(["timeout_408"])
    );
    assert_eq!(get(&s, "/api/v4/users/me").status, Some(408));
    let v = raw(&s, "GET", "/__fake/faults", &[], "").json();
    assert_eq!(v["injected"], 1);
    assert_eq!(v["faults"]["rate"], 1.0);
    assert_eq!(raw(&s, "GET", "/__fake/stats", &[], "").json()["faults"], 1);
    // `{}` turns them off.
    assert_eq!(post(&s, "/__fake/faults", "{}").status, Some(200));
    assert_eq!(get(&s, "/api/v4/users/me").status, Some(200));
    assert_eq!(s.faults(), Faults::default());
    for bad in [
        r#"{"rate": 2}"#,
        r#"{"kinds": ["nope"]}"#,
        r#"{"typo": 1}"#,
        r#"{"latency_ms": [5, 1]}"#,
    ] {
        assert_eq!(post(&s, "/__fake/faults", bad).status, Some(400), "{bad}");
    }
    // Setting them through the world works too (the sequence restarts on change).
    s.with_world(|w| w.config.faults = only(FaultKind::TooMany));
    assert_eq!(get(&s, "/api/v4/users/me").status, Some(429));
    let r = post(&s, "/__fake/reset-stats", "");
    assert_eq!(r.status, Some(200));
    assert_eq!(s.faults_injected(), 0);
}

fn host_port(url: &str) -> (String, String) {
    let rest = url.trim_start_matches("http://");
    let (hp, path) = rest.split_at(rest.find('/').unwrap_or(rest.len()));
    (hp.to_string(), path.to_string())
}

#[test]
fn redirect_to_other_host_and_token_leak_detection() {
    let s = tiny();
    let other = s.other_host_url();
    assert!(
        other.starts_with("http://127.0.0.2:") || other.starts_with("http://localhost:"),
        "{other}"
    );
    s.set_hostile(HostileMode::RedirectOtherHost, true);
    let r = get(&s, "/api/v4/channels/abc/posts?page=0&per_page=200");
    assert_eq!(r.status, Some(302));
    let loc = r.h("location").unwrap().to_string();
    assert_eq!(
        loc,
        format!("{other}/api/v4/channels/abc/posts?page=0&per_page=200")
    );
    // Login is not redirected.
    let r = post(
        &s,
        "/api/v4/users/login",
        r#"{"login_id":"alice","password":"alice-password"}"#,
    );
    assert_eq!(r.status, Some(200));
    // A client that drops credentials on a cross-host redirect leaks nothing.
    let (hp, path) = host_port(&loc);
    let hp = hp.replace("localhost", "127.0.0.1");
    let r = raw_to(&hp, "GET", &path, &[], "", usize::MAX);
    assert_eq!(r.status, Some(401));
    assert_eq!(s.other_host_requests(), 1);
    assert!(!s.token_leaked());
    // A cookie leaks.
    raw_to(
        &hp,
        "GET",
        &path,
        &[("Cookie", "a=b; MMAUTHTOKEN=xyz")],
        "",
        1 << 20,
    );
    assert!(s.token_leaked());
    let v = raw(&s, "GET", "/__fake/hostile", &[], "").json();
    assert_eq!(v["token_leaked"], true);
    assert_eq!(v["other_host_requests"], 2);
    assert_eq!(v["hostile"]["redirect_other_host"], true);

    // Authorization header on a fresh server, switched through the control interface.
    let s = tiny();
    let r = post(
        &s,
        "/__fake/hostile",
        r#"{"mode": "redirect_other_host", "on": true}"#,
    );
    assert_eq!(r.status, Some(200));
    let loc = get(&s, "/api/v4/users/me")
        .h("location")
        .unwrap()
        .to_string();
    let (hp, path) = host_port(&loc);
    let hp = hp.replace("localhost", "127.0.0.1");
    let auth = format!("Bearer {PAT}");
    raw_to(&hp, "GET", &path, &[("Authorization", &auth)], "", 1 << 20);
    assert!(s.token_leaked());
    let r = post(
        &s,
        "/__fake/hostile",
        r#"{"mode": "redirect_other_host", "on": false}"#,
    );
    assert_eq!(r.status, Some(200));
    assert_eq!(get(&s, "/api/v4/users/me").status, Some(200));
    assert_eq!(
        post(&s, "/__fake/hostile", r#"{"mode": "nope", "on": true}"#).status,
        Some(400)
    );
}

#[test]
fn repeat_pages_never_end() {
    let s = FakeServer::start(World::generate(42, Scale::Demo));
    let eng = s.with_world(|w| {
        w.channel_by_names("acme", "engineering")
            .unwrap()
            .id
            .to_string()
    });
    let first = get(&s, &format!("/api/v4/channels/{eng}/posts?per_page=50")).json();
    let newest_order = first["order"].clone();
    s.set_hostile(HostileMode::RepeatPages, true);
    // Without before=: unchanged.
    let again = get(&s, &format!("/api/v4/channels/{eng}/posts?per_page=50")).json();
    assert_eq!(again["order"], newest_order);
    let mut cursor = newest_order
        .as_array()
        .unwrap()
        .last()
        .unwrap()
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..5 {
        let v = get(
            &s,
            &format!("/api/v4/channels/{eng}/posts?per_page=50&before={cursor}"),
        )
        .json();
        assert_eq!(v["order"], newest_order);
        let prev = v["prev_post_id"].as_str().unwrap();
        assert!(!prev.is_empty());
        cursor = prev.to_string();
    }
    // A channel with fewer posts than a page still gets a cursor.
    let t = s.with_world(|w| w.team_by_name("acme").unwrap().id.to_string());
    let small = s.with_world(|w| {
        let c = w
            .add_channel(&t, 'O', "small", "Small", vec!["alice".to_string()])
            .unwrap();
        w.add_post(&c, "alice", "one", None, vec![]).unwrap();
        c
    });
    let v = get(
        &s,
        &format!("/api/v4/channels/{small}/posts?per_page=50&before={cursor}"),
    )
    .json();
    assert!(!v["prev_post_id"].as_str().unwrap().is_empty());
}

#[test]
fn huge_response_streams_without_length() {
    let s = tiny();
    s.set_hostile(HostileMode::HugeResponse, true);
    let auth = format!("Bearer {PAT}");
    let r = raw_to(
        &addr(&s),
        "GET",
        "/api/v4/users/me/teams",
        &[("Authorization", &auth)],
        "",
        4 << 20,
    );
    assert_eq!(r.status, Some(200));
    assert!(r.h("content-length").is_none());
    assert_eq!(r.h("transfer-encoding"), Some("chunked"));
    assert!(!r.complete);
    assert!(r.body.len() > 3 << 20, "{}", r.body.len());
    assert!(r.body.starts_with(b"[{\"id\":"));
}

#[test]
fn invalid_json_and_html_login() {
    let s = tiny();
    s.set_hostile(HostileMode::InvalidJson, true);
    let r = get(&s, "/api/v4/users/me/channels");
    assert_eq!(r.status, Some(200));
    assert_eq!(r.h("content-type"), Some("application/json"));
    assert!(r.complete);
    assert!(serde_json::from_slice::<Value>(&r.body).is_err());
    assert!(r.body.starts_with(b"[{"));

    s.set_hostile(HostileMode::HtmlLogin, true);
    let r = post(
        &s,
        "/api/v4/users/login",
        r#"{"login_id":"alice","password":"alice-password"}"#,
    );
    assert_eq!(r.status, Some(200));
    assert_eq!(r.h("content-type"), Some("text/html; charset=utf-8"));
    assert!(r.h("token").is_none());
    assert!(r.text().contains("<form"));
    assert_eq!(
        s.hostile(),
        crate::Hostile {
            invalid_json: true,
            html_login: true,
            ..Default::default()
        }
    );
}

#[test]
fn file_size_mismatch_both_ways() {
    let s = tiny();
    let (fid, size) = big_file(&s, 150_000);
    let want = s.with_world(|w| w.file_content(&fid));
    let info = get(&s, &format!("/api/v4/files/{fid}/info")).json();
    assert_eq!(info["size"], size);

    s.set_hostile(HostileMode::FileSizeMismatch, true);
    let r = get(&s, &format!("/api/v4/files/{fid}"));
    assert_eq!(r.status, Some(200));
    assert!(r.h("content-length").is_none());
    assert!(r.complete);
    assert_eq!(r.body.len() as u64, size + FILE_EXTRA_BYTES as u64);
    assert_eq!(r.body[..want.len()], want[..]);

    s.set_hostile(HostileMode::FileSizeMismatch, false);
    s.set_hostile(HostileMode::FileSizeShort, true);
    let r = get(&s, &format!("/api/v4/files/{fid}"));
    assert_eq!(r.status, Some(200));
    assert!(r.h("content-length").is_none());
    assert!(r.complete && !r.read_error);
    assert_eq!(r.body.len() as u64, size / 2);
    // Images too (they are not streamed from a generator).
    let png = s.with_world(|w| {
        w.files
            .values()
            .find(|f| f.name == "screenshot.png")
            .map(|f| (f.id.to_string(), f.size))
            .unwrap()
    });
    let r = get(&s, &format!("/api/v4/files/{}", png.0));
    assert!(r.complete);
    assert_eq!(r.body.len() as u64, png.1 / 2);
}

#[test]
fn hostile_names_through_world_and_control() {
    let s = tiny();
    let long = "n".repeat(5000);
    let names = [
        "a/b",
        "..",
        "../../etc/passwd",
        "nul\u{0}byte",
        "ctl\u{1}\u{7}\u{1b}[31m\u{7f}",
        "CON",
        "con.txt",
        long.as_str(),
    ];
    let t = s.with_world(|w| w.team_by_name("acme").unwrap().id.to_string());
    for (i, n) in names.iter().enumerate() {
        let (cid, uid, eid, pid) = s.with_world(|w| {
            let cid = w
                .add_channel(&t, 'O', n, n, vec!["alice".to_string()])
                .unwrap();
            let uid = w.add_user(&format!("{n}{i}"), "pw").unwrap();
            w.add_team_member(&t, &uid).unwrap();
            let eid = w.add_emoji(n, "alice").unwrap();
            let pid = w
                .add_post(
                    &cid,
                    &uid,
                    n,
                    None,
                    vec![(n.to_string(), "text/plain".into(), 20)],
                )
                .unwrap();
            (cid, uid, eid, pid)
        });
        let c = get(&s, &format!("/api/v4/channels/{cid}")).json();
        assert_eq!(c["name"], *n);
        assert_eq!(c["display_name"], *n);
        let u = get(&s, &format!("/api/v4/users/{uid}")).json();
        assert_eq!(u["username"], format!("{n}{i}"));
        let e = get(&s, &format!("/api/v4/emoji/{eid}")).json();
        assert_eq!(e["name"], *n);
        let p = get(&s, &format!("/api/v4/posts/{pid}")).json();
        let fid = p["file_ids"][0].as_str().unwrap().to_string();
        let f = get(&s, &format!("/api/v4/files/{fid}/info")).json();
        assert_eq!(f["name"], *n);
        assert_eq!(get(&s, &format!("/api/v4/files/{fid}")).status, Some(200));
    }
    // The control interface takes the same names (JSON escapes for NUL and controls).
    let body = serde_json::json!({
        "team_id": t, "type": "O", "name": "x\u{0}/../CON", "display_name": "\u{1}",
        "members": ["alice"],
    })
    .to_string();
    assert!(body.contains("\\u0000"));
    let r = post(&s, "/__fake/channels", &body);
    assert_eq!(r.status, Some(200), "{}", r.text());
    let cid = r.json()["id"].as_str().unwrap().to_string();
    assert_eq!(
        get(&s, &format!("/api/v4/channels/{cid}")).json()["name"],
        "x\u{0}/../CON"
    );
    let body = serde_json::json!({"username": format!("u\u{0}{long}"), "password": "p",
        "teams": ["acme"]})
    .to_string();
    assert_eq!(post(&s, "/__fake/users", &body).status, Some(200));
    let body = serde_json::json!({"name": "../e\u{0}", "creator": "alice"}).to_string();
    assert_eq!(post(&s, "/__fake/emojis", &body).status, Some(200));
    let body = serde_json::json!({"channel_id": cid, "user": "alice", "message": "m",
        "files": [{"name": "../\u{0}CON", "mime": "text/plain", "size": 5}]})
    .to_string();
    assert_eq!(post(&s, "/__fake/posts", &body).status, Some(200));
}
