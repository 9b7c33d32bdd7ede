//! Issue 7 ("compressed responses where the server offers them"): API answers come gzipped
//! from a server in its default `WebserverMode` "gzip"; files never do. (The gzip bomb is a
//! row of the hostile modes in `hostile.rs`.)

use fakemm::{Scale, WebserverMode};

use crate::util::{tree, verify, Env};

/// A data dir without what differs from run to run (times of the run, the lock).
fn stable_tree(env: &Env) -> std::collections::BTreeMap<String, Vec<u8>> {
    let mut t = tree(&env.data());
    t.retain(|k, _| !matches!(k.as_str(), ".matterbak.lock" | "state.json"));
    t
}

#[test]
fn issue7_a_gzip_backup_equals_an_uncompressed_one() {
    let gz = Env::new(Scale::Tiny);
    let plain = Env::new(Scale::Tiny);
    plain.server.set_webserver_mode(WebserverMode::Disabled);
    gz.run_ok(&[]);
    plain.run_ok(&[]);

    let compressed = gz.server.compressed_counts();
    assert!(gz.server.compressed_responses() > 0, "{compressed:?}");
    assert!(
        compressed
            .keys()
            .any(|k| k.starts_with("GET /api/v4/channels/{channel_id}/posts")),
        "{compressed:?}"
    );
    // Files and images are asked for as they are (Accept-Encoding: identity).
    for k in compressed.keys() {
        assert!(
            !k.contains("/files/{file_id}") || k.ends_with("/info"),
            "{k} compressed: {compressed:?}"
        );
        assert!(!k.ends_with("/image"), "{k} compressed: {compressed:?}");
    }
    assert!(gz.server.request_counts()["GET /api/v4/files/{file_id}"] > 0);
    assert_eq!(plain.server.compressed_responses(), 0);
    assert!(
        gz.server.bytes_served() < plain.server.bytes_served(),
        "{} gzipped vs {} plain",
        gz.server.bytes_served(),
        plain.server.bytes_served()
    );

    let (a, b) = (stable_tree(&gz), stable_tree(&plain));
    let names =
        |t: &std::collections::BTreeMap<String, Vec<u8>>| t.keys().cloned().collect::<Vec<_>>();
    assert_eq!(names(&a), names(&b));
    for (k, v) in &a {
        assert!(&b[k] == v, "{k} differs");
    }
    let (code, report) = verify(&gz);
    assert_eq!(code, 0, "{report}");
}
