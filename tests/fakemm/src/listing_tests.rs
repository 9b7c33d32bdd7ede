//! Tests of the hostile modes for listings and slow answers: `repeat_listings`,
//! `overlap_members` and `trickle`.

use crate::fault_tests::{addr, big_file, get, tiny};
use crate::hostile::HostileMode;
use serde_json::Value;
use std::io::{Read, Write};
use std::time::{Duration, Instant};

fn keys(v: &Value, key: &str) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|m| m[key].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn repeat_listings_answer_every_page_with_the_first_items_repeated_to_a_full_page() {
    let s = tiny();
    let (cid, tid) = s.with_world(|w| {
        let c = w.channel_by_names("acme", "town-square").unwrap().id;
        (
            c.to_string(),
            w.team_by_name("acme").unwrap().id.to_string(),
        )
    });
    let listings = [
        (format!("/api/v4/channels/{cid}/members"), "user_id"),
        (format!("/api/v4/teams/{tid}/members"), "user_id"),
        ("/api/v4/emoji".to_string(), "id"),
    ];
    let mut plain = Vec::new();
    for (path, key) in &listings {
        let all = keys(&get(&s, &format!("{path}?page=0&per_page=200")).json(), key);
        assert!(!all.is_empty() && all.len() < 200, "{path}: {}", all.len());
        let next = get(&s, &format!("{path}?page=1&per_page=200")).json();
        assert_eq!(next, Value::Array(vec![]), "{path}");
        plain.push(all);
    }
    s.set_hostile(HostileMode::RepeatListings, true);
    for ((path, key), all) in listings.iter().zip(&plain) {
        let first = get(&s, &format!("{path}?page=0&per_page=200")).json();
        let later = get(&s, &format!("{path}?page=7&per_page=200")).json();
        assert_eq!(first, later, "{path}");
        let ids = keys(&first, key);
        assert_eq!(ids.len(), 200, "{path}");
        assert_eq!(&ids[..all.len()], &all[..], "{path}");
        assert_eq!(ids[all.len()], all[0], "{path}");
    }
}

#[test]
fn overlapping_member_pages_repeat_the_last_member_of_the_page_before() {
    let s = tiny();
    let cid = s.with_world(|w| {
        let t = w.team_by_name("acme").unwrap().id.to_string();
        let mut members = vec!["alice".to_string()];
        for i in 0..249 {
            let u = w.add_user(&format!("crowd{i:03}"), "x").unwrap();
            w.add_team_member(&t, &u).unwrap();
            members.push(u);
        }
        w.add_channel(&t, 'O', "crowd", "Crowd", members).unwrap()
    });
    let page = |p: usize| {
        let path = format!("/api/v4/channels/{cid}/members?page={p}&per_page=100");
        keys(&get(&s, &path).json(), "user_id")
    };
    let plain: Vec<Vec<String>> = (0..3).map(page).collect();
    assert_eq!(
        plain.iter().map(Vec::len).collect::<Vec<_>>(),
        [100, 100, 50]
    );
    s.set_hostile(HostileMode::OverlapMembers, true);
    let over: Vec<Vec<String>> = (0..4).map(page).collect();
    assert_eq!(over[0], plain[0]);
    assert_eq!(over[1][0], plain[0][99]);
    assert_eq!(over[2][0], over[1][99]);
    assert_eq!(over[2].len(), 52);
    assert!(over[3].is_empty());
    // Nobody is lost, two are listed twice.
    let mut all: Vec<&String> = over.iter().flatten().collect();
    assert_eq!(all.len(), 252);
    all.sort();
    all.dedup();
    assert_eq!(all.len(), 250);
}

#[test]
fn trickle_sends_one_byte_at_a_time_for_the_emoji_list_and_one_file() {
    let s = tiny();
    let (fid, _) = big_file(&s, 100_000);
    let (other, _) = big_file(&s, 100_000);
    s.with_world(|w| {
        let h = &mut w.config.hostile;
        h.trickle = true;
        h.trickle_ms = 20;
        h.trickle_file = crate::id::Id::parse(&fid);
    });
    // Bytes of the body that arrive within `ms` ms.
    let body_within = |path: &str, ms: u64| -> usize {
        let a = addr(&s);
        let mut c = std::net::TcpStream::connect(&a).unwrap();
        let req = format!(
            "GET {path} HTTP/1.1\r\nHost: {a}\r\nAuthorization: Bearer alicepersonalaccesstoken0000\r\nConnection: close\r\n\r\n"
        );
        c.write_all(req.as_bytes()).unwrap();
        let end = Instant::now() + Duration::from_millis(ms);
        let mut raw = Vec::new();
        let mut buf = [0u8; 65536];
        while let Some(left) = end.checked_duration_since(Instant::now()) {
            c.set_read_timeout(Some(left.max(Duration::from_millis(1))))
                .unwrap();
            match c.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => raw.extend_from_slice(&buf[..n]),
            }
        }
        let head = raw.windows(4).position(|w| w == b"\r\n\r\n").unwrap();
        raw.len() - head - 4
    };
    let slow = body_within(&format!("/api/v4/files/{fid}"), 500);
    // 25 bytes at most, each in a chunk of its own (about 6 bytes on the wire).
    assert!((5..=200).contains(&slow), "{slow} bytes in 0.5 s");
    let slow = body_within("/api/v4/emoji?page=0&per_page=200", 500);
    // 25 bytes at most, each in a chunk of its own (about 6 bytes on the wire).
    assert!((5..=200).contains(&slow), "{slow} bytes in 0.5 s");
    // Other files and answers are not slowed down.
    assert!(body_within(&format!("/api/v4/files/{other}"), 500) >= 100_000);
    assert!(body_within("/api/v4/users/me", 500) > 100);
}
