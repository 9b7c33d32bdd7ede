//! A server upgraded (or downgraded) between two runs sends the same posts in another shape:
//! no edit is recorded, and phantom versions an older matterbak recorded are left out of every
//! export and reported by `verify` (issue 19).

use fakemm::Scale;

use crate::oracle::{assert_matches, want_all};
use crate::util::{read_json, text, tree, verify, Env, FAST};

/// The summary JSON of a run with these options.
fn summary(env: &Env, extra: &[&str]) -> serde_json::Value {
    let path = env.path("summary.json");
    let mut args: Vec<&str> = vec!["--summary-json", path.to_str().unwrap()];
    args.extend(FAST);
    args.extend(extra);
    env.run_ok(&args);
    read_json(&path)
}

/// The posts marked edited in the Markdown and in the HTML export of the data dir.
fn edited_in_exports(env: &Env, tag: &str) -> (usize, usize) {
    let md = env.path(&format!("{tag}.md"));
    let out = env.exec(&["export", "md", "-d", "data", "-o", md.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let in_md = std::fs::read_to_string(&md)
        .unwrap()
        .matches("(edited)")
        .count();
    let html = env.path(&format!("{tag}-html"));
    let out = env.exec(&["export", "html", "-d", "data", "-o", html.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let in_html = (tree(&html).into_values())
        .map(|b| String::from_utf8_lossy(&b).matches("mark edited").count())
        .sum::<usize>();
    (in_md, in_html)
}

fn history_files(env: &Env) -> Vec<String> {
    (tree(&env.data()).into_keys())
        .filter(|k| k.contains("/history/"))
        .collect()
}

/// Issue 19: servers up to 9.x leave `file_ids` out of a post without attachments, 10.x sends
/// `[]`. A backup made under one and continued under the other, with `--update-old-posts`,
/// records no edit, in either direction; the stored posts take the new shape.
#[test]
fn issue19_a_server_upgrade_records_no_edit() {
    for (from, to) in [("9.11.0", "10.11.0"), ("10.11.0", "9.11.0")] {
        let env = Env::new(Scale::Tiny);
        env.server
            .with_world(|w| w.config.server_version = from.to_string());
        env.run_ok(&FAST);
        let before = history_files(&env);
        env.server
            .with_world(|w| w.config.server_version = to.to_string());
        for extra in [&[][..], &["--update-old-posts"][..]] {
            let s = summary(&env, extra);
            assert_eq!(
                s["counts"]["posts_edited"], 0,
                "{from} -> {to} {extra:?}: {s}"
            );
        }
        assert_eq!(history_files(&env), before, "{from} -> {to}");
        assert_eq!(verify(&env).0, 0, "{}", verify(&env).1);
        assert_matches(&env.data(), &want_all(&env));
    }
}

/// Issue 19: a data dir with phantom versions (a version the same as the next one, as an older
/// matterbak recorded across an upgrade): `verify` notes them (exit 0), no export shows the post
/// as edited, and a rerun adds none.
#[test]
fn issue19_phantom_versions_are_reported_and_left_out_of_the_exports() {
    let env = Env::new(Scale::Tiny);
    env.run_ok(&FAST);
    let before = edited_in_exports(&env, "before");
    // Every user post of one channel gets a phantom: itself without `file_ids`.
    let files = tree(&env.data());
    let mut phantoms = 0;
    for (path, bytes) in &files {
        let name = path.rsplit('/').next().unwrap();
        if !path.contains("town-square/") || name.get(8..9) != Some("-") {
            continue;
        }
        let mut post: serde_json::Value = serde_json::from_slice(bytes).unwrap();
        if post["type"] != "" || post["edit_at"] != 0 {
            continue;
        }
        post.as_object_mut().unwrap().remove("file_ids");
        let id = post["id"].as_str().unwrap().to_string();
        let dir = env
            .data()
            .join(path.rsplit_once('/').unwrap().0)
            .join("history");
        std::fs::create_dir_all(&dir).unwrap();
        let h = serde_json::json!({"post_id": id, "versions": [post]});
        std::fs::write(dir.join(format!("{id}.json")), h.to_string()).unwrap();
        phantoms += 1;
    }
    assert!(phantoms >= 3, "{phantoms}");
    let (code, out) = verify(&env);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out.matches("phantom edits").count(), phantoms, "{out}");

    // The exports show as many edited posts as before the phantoms.
    assert_eq!(
        edited_in_exports(&env, "after"),
        before,
        "the exports show phantom edits"
    );

    let s = summary(&env, &["--update-old-posts"]);
    assert_eq!(s["counts"]["posts_edited"], 0, "{s}");
}
