//! `matterbak export html`: a backup made by the binary against the fake server, exported, and
//! the pages opened in headless Chromium: what they render, and that they load nothing from the
//! network or from outside the site's folder.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::Output;

use fakemm::{Scale, World};
use serde_json::Value;

use crate::browser::{chromium, outside_loads, render, static_problems, Rendered};
use crate::util::{channel_id, display_name, read_json, text, tree, user_id, Env};

/// Runs `matterbak export html -d <from> -o <site> <extra>` in the env's folder.
fn export(env: &Env, from: &Path, site: &str, extra: &[&str]) -> Output {
    env.bare()
        .args(["export", "html", "-d"])
        .arg(from)
        .args(["-o", site])
        .args(extra)
        .output()
        .unwrap()
}

fn export_ok(env: &Env, from: &Path, site: &str, extra: &[&str]) -> PathBuf {
    let out = export(env, from, site, extra);
    assert_eq!(out.status.code(), Some(0), "export failed:\n{}", text(&out));
    env.path(site)
}

/// The live post of a channel with this message (the first, oldest).
fn post_with(w: &World, channel: &str, message: &str) -> String {
    w.live_posts(channel)
        .into_iter()
        .find(|p| w.post(p).unwrap().message == message)
        .unwrap_or_else(|| panic!("no post {message:?}"))
}

/// The HTML of the element with `id="p-<post>"`, from its start tag to its end.
fn post_element<'a>(dom: &'a str, post: &str) -> &'a str {
    let at = dom
        .find(&format!("id=\"p-{post}\""))
        .unwrap_or_else(|| panic!("post {post} is not on the page"));
    let start = dom[..at].rfind('<').unwrap();
    let (open, close) = if dom[start..].starts_with("<article") {
        ("<article", "</article>")
    } else {
        ("<div", "</div></div>")
    };
    assert!(dom[start..].starts_with(open));
    let end = dom[start..].find(close).unwrap() + start + close.len();
    &dom[start..end]
}

/// The HTML of the thread (`<div class="thread">`) that holds post `post`.
fn thread_of<'a>(dom: &'a str, post: &str) -> &'a str {
    let at = dom.find(&format!("id=\"p-{post}\"")).unwrap();
    let start = dom[..at].rfind("<div class=\"thread\">").unwrap();
    let end = dom[at..]
        .find("<div class=\"thread\">")
        .or_else(|| dom[at..].find("</main>"))
        .unwrap()
        + at;
    &dom[start..end]
}

/// Every page of the site.
fn pages(site: &Path) -> Vec<PathBuf> {
    tree(site)
        .into_keys()
        .filter(|k| k.ends_with(".html") && !k.starts_with("files/"))
        .map(|k| site.join(k))
        .collect()
}

fn assert_no_outside_loads(r: &Rendered, site: &Path, what: &str) {
    let bad = outside_loads(r, site);
    assert!(bad.is_empty(), "{what} reached outside the site: {bad:#?}");
}

fn assert_static_ok(site: &Path) {
    for page in pages(site) {
        let html = std::fs::read_to_string(&page).unwrap();
        let bad = static_problems(&html, &page, site);
        assert!(bad.is_empty(), "{bad:#?}");
        assert!(
            html.contains("<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; img-src 'self';"),
            "{} has no strict CSP",
            page.display()
        );
    }
}

/// Post files of a channel folder in the data dir (by channel id): post id → JSON.
fn stored_posts(data: &Path, channel: &str) -> BTreeMap<String, Value> {
    let files = tree(data);
    let dir = files
        .keys()
        .find(|k| {
            k.contains(&format!("/{channel}__"))
                && k.ends_with(".json")
                && !k.contains("__members")
                && !k.contains("__threads")
        })
        .map(|k| k.strip_suffix(".json").unwrap().to_string())
        .unwrap_or_else(|| panic!("no channel {channel} in the backup"));
    files
        .iter()
        .filter(|(k, _)| {
            k.strip_prefix(&format!("{dir}/"))
                .is_some_and(|rest| !rest.contains('/') && rest.ends_with(".json"))
        })
        .map(|(_, v)| {
            let j: Value = serde_json::from_slice(v).unwrap();
            (j["id"].as_str().unwrap().to_string(), j)
        })
        .collect()
}

const PWN: &str = "<img src=x onerror=\"document.body.setAttribute('data-pwned','img')\"><script>document.body.setAttribute('data-pwned','script')</script>";

struct Scenario {
    off: String,
    town: String,
    md_post: String,
    image_post: String,
    edited: String,
    old_message: String,
    deleted_reply: String,
    deleted_message: String,
    plan: String,
    plan_replies: Vec<String>,
    pinned: Vec<String>,
    reactions: BTreeMap<String, usize>,
    partyparrot: String,
    /// The display names of who reacted with :+1:, as the tooltip lists them.
    plus_one_by: String,
}

/// A Tiny world plus Markdown, an image, reactions (also a custom emoji) and a pin; backed up;
/// then a post edited and a reply deleted, and backed up again (so history holds both).
fn scenario(env: &Env) -> Scenario {
    let s = env.server.with_world(|w| {
        let off = channel_id(w, "acme", "off-topic");
        let town = channel_id(w, "acme", "town-square");
        let md = format!(
            "**Markdown** from @alice in ~town-square :partyparrot: :tada: `code <b>` https://example.org/x\n\n\
             ```rust\nfn main() {{}}\n```\n\n> quoted\n\n{PWN}"
        );
        let md_post = w.add_post(&off, "bob", &md, None, vec![]).unwrap();
        let image_post = w
            .add_post(
                &off,
                "carol",
                "a picture",
                None,
                vec![
                    ("pic.png".into(), "image/png".into(), 3000),
                    ("notes & <more>.txt".into(), "text/plain".into(), 500),
                ],
            )
            .unwrap();
        for (u, e) in [("bob", "+1"), ("carol", "+1"), ("alice", "partyparrot"), ("dave", "tada")] {
            w.add_reaction(&md_post, u, e).unwrap();
        }
        w.set_pinned(&md_post, true).unwrap();
        let edited = w.add_post(&off, "alice", "first wording", None, vec![]).unwrap();
        let plan = post_with(w, &off, "Let's plan the offsite :partyparrot:");
        let plan_replies: Vec<String> = w
            .live_posts(&off)
            .into_iter()
            .filter(|p| w.post(p).unwrap().root_id.to_string() == plan)
            .collect();
        let deleted_reply = w
            .add_post(&off, "carol", "a reply that goes away", Some(&plan), vec![])
            .unwrap();
        let pinned = w
            .live_posts(&off)
            .into_iter()
            .filter(|p| w.post(p).unwrap().is_pinned)
            .collect();
        let mut reactions = BTreeMap::new();
        for r in &w.reactions[&fakemm::id::Id::lookup(&md_post)] {
            *reactions.entry(r.emoji_name.clone()).or_insert(0) += 1;
        }
        let partyparrot = w.emoji_by_name("partyparrot").unwrap().id.to_string();
        let plus_one_by = ["bob", "carol"].map(|u| display_name(w, u)).join(", ");
        Scenario {
            off,
            town,
            md_post,
            image_post,
            edited,
            old_message: "first wording".into(),
            deleted_reply,
            deleted_message: "a reply that goes away".into(),
            plan,
            plan_replies,
            pinned,
            reactions,
            partyparrot,
            plus_one_by,
        }
    });
    env.run_ok(&[]);
    env.server.with_world(|w| {
        w.edit_post(&s.edited, "second wording").unwrap();
        w.delete_post(&s.deleted_reply).unwrap();
    });
    env.run_ok(&[]);
    s
}

#[test]
fn a_channel_page_renders_posts_threads_files_reactions_and_history_in_a_browser() {
    let Some(browser) = chromium() else { return };
    let env = Env::new(Scale::Tiny);
    let s = scenario(&env);
    let site = export_ok(&env, &env.data(), "site", &[]);
    let page = site.join(format!("c/{}/1.html", s.off));
    let r = render(&browser, &page, true);
    let dom = &r.dom;

    // Markdown as Mattermost renders it, and nothing from the message runs.
    let md = post_element(dom, &s.md_post);
    for want in [
        "<strong>Markdown</strong>",
        "<span class=\"mention\"",
        ">@alice</span>",
        &format!(
            "<a class=\"channel-link\" href=\"../../c/{}/1.html\"",
            s.town
        ),
        "<span class=\"emoji\" title=\":tada:\">🎉</span>",
        "<code>code &lt;b&gt;</code>",
        "<a href=\"https://example.org/x\"",
        "<pre><code class=\"language-rust\">fn main() {}",
        "<blockquote>",
        "&lt;script&gt;document.body.setAttribute",
        "&lt;img src=x onerror=",
        "<span class=\"mark pinned\">pinned</span>",
    ] {
        assert!(md.contains(want), "{want:?} missing in {md}");
    }
    let body_tag = &dom[dom.find("<body").unwrap()..];
    let body_tag = &body_tag[..body_tag.find('>').unwrap()];
    assert!(
        !body_tag.contains("data-pwned"),
        "a message ran a script: {body_tag}"
    );
    // The custom emoji is its backed-up image, in the message and in the reactions.
    let emoji_src = format!("../../emoji/{}.gif", s.partyparrot);
    assert_eq!(
        md.matches(&format!("<img class=\"emoji\" src=\"{emoji_src}\""))
            .count(),
        2,
        "{md}"
    );
    assert!(page.parent().unwrap().join(&emoji_src).is_file());
    // Reactions with their counts and who reacted.
    for (emoji, n) in &s.reactions {
        let at = md
            .find(&format!("reacted with :{emoji}:\""))
            .unwrap_or_else(|| panic!("no reaction {emoji} in {md}"));
        let pill = &md[at..at + md[at..].find("</span></span>").unwrap()];
        assert!(
            pill.ends_with(&format!("<span class=\"count\">{n}")),
            "{emoji}: {pill}"
        );
    }
    assert!(
        md.contains(&format!("title=\"{} reacted with :+1:\"", s.plus_one_by)),
        "{md}"
    );

    // A thread: the root, its replies indented under it, in order.
    let thread = thread_of(dom, &s.plan);
    let replies_at = thread.find("<div class=\"replies\">").expect("replies");
    assert!(thread.find(&format!("id=\"p-{}\"", s.plan)).unwrap() < replies_at);
    let mut last = replies_at;
    for r in &s.plan_replies {
        let at = thread
            .find(&format!("id=\"p-{r}\""))
            .unwrap_or_else(|| panic!("reply {r} not under its root"));
        assert!(at > last, "replies out of order");
        last = at;
    }

    // The deleted reply: marked, with its last content, still under its root.
    let del = post_element(dom, &s.deleted_reply);
    assert!(
        del.contains(">(deleted)</span>") && del.contains(&s.deleted_message),
        "{del}"
    );
    assert!(thread.contains(&format!("id=\"p-{}\"", s.deleted_reply)));
    // The edited post: marked, the earlier version in a <details>.
    let ed = post_element(dom, &s.edited);
    assert!(
        ed.contains(">(edited)</span>") && ed.contains("second wording"),
        "{ed}"
    );
    let details = &ed[ed.find("<details class=\"history\">").expect("history")..];
    assert!(
        details.contains("1 earlier version") && details.contains(&s.old_message),
        "{details}"
    );
    // Pinned posts are marked.
    for p in &s.pinned {
        assert!(
            post_element(dom, p).contains("<span class=\"mark pinned\">"),
            "{p}"
        );
    }

    // The image is shown inline from its copy in the site, linked to the full file; the other
    // attachment is a link with its name and size.
    let img = post_element(dom, &s.image_post);
    let srcs = crate::browser::attr_values(img, "img", "src");
    let pic = srcs
        .iter()
        .find(|s| s.ends_with("/pic.png"))
        .unwrap_or_else(|| panic!("{img}"));
    let copy = page.parent().unwrap().join(pic);
    let original = tree(&env.data())
        .into_iter()
        .find(|(k, _)| k.ends_with("__pic.png"))
        .unwrap()
        .1;
    assert_eq!(std::fs::read(&copy).unwrap(), original);
    assert!(img.contains(&format!("<a href=\"{pic}\"")), "{img}");
    assert!(
        img.contains("notes &amp; &lt;more&gt;.txt <span class=\"size\">500 B</span>"),
        "{img}"
    );
    let txt = crate::browser::attr_values(img, "a", "href")
        .into_iter()
        .find(|h| h.ends_with(".txt"))
        .unwrap();
    assert!(
        page.parent()
            .unwrap()
            .join(crate::browser::percent_decode(&txt))
            .is_file(),
        "{txt}"
    );

    // Avatars are the backed-up profile images.
    let avatar = crate::browser::attr_values(md, "img", "src")
        .into_iter()
        .find(|s| s.contains("avatars/"))
        .expect("bob's avatar");
    assert!(page.parent().unwrap().join(&avatar).is_file());

    // What the browser loaded: the page, its images, nothing else, nothing from the network.
    assert!(
        r.file_loads.iter().any(|u| u.ends_with("/pic.png")),
        "{:?}",
        r.file_loads
    );
    assert!(
        r.file_loads.iter().any(|u| u.contains("/avatars/")),
        "{:?}",
        r.file_loads
    );
    assert_no_outside_loads(&r, &site, "the off-topic page");
    assert_static_ok(&site);
}

#[test]
fn the_index_lists_every_channel_with_and_without_javascript() {
    let Some(browser) = chromium() else { return };
    let env = Env::backed_up(Scale::Tiny);
    let site = export_ok(&env, &env.zip(), "site", &[]);
    let index = site.join("index.html");
    let off = env
        .server
        .with_world(|w| channel_id(w, "acme", "off-topic"));
    let want_posts = stored_posts(&env.data(), &off).len();
    let channels = tree(&env.data())
        .keys()
        .filter(|k| {
            let depth = k.matches('/').count();
            let base = k.rsplit('/').next().unwrap();
            k.ends_with(".json")
                && !base.contains("__members")
                && !base.contains("__threads")
                && ((k.starts_with("direct/") || k.starts_with("groups/")) && depth == 1
                    || k.starts_with("teams/") && depth == 2)
        })
        .count();
    for js in [true, false] {
        let r = render(&browser, &index, js);
        let rows = r.dom.matches("<tr data-filter=").count();
        assert_eq!(rows, channels, "js={js}");
        let row_at = r
            .dom
            .find(&format!("href=\"c/{off}/1.html\""))
            .expect("off-topic listed");
        let row = &r.dom[row_at..row_at + r.dom[row_at..].find("</tr>").unwrap()];
        assert!(
            row.contains(&format!("<td class=\"num\">{want_posts}</td>")),
            "{row}"
        );
        assert!(row.contains("<time datetime=\""), "{row}");
        // The filter box is there only when its script runs.
        let input = &r.dom[r.dom.find("<input").unwrap()..];
        let input = &input[..input.find('>').unwrap()];
        assert_eq!(input.contains("hidden"), !js, "{input}");
        assert_no_outside_loads(&r, &site, "the index");
    }
    // The filter hides what does not match (typed into by a script appended to a copy).
    let typed = site.join(".typed-index.html");
    let html = std::fs::read_to_string(&index).unwrap().replace(
        "</body>",
        "<script>var f = document.getElementById('filter'); f.value = 'Town';\
         f.dispatchEvent(new Event('input'));</script></body>",
    );
    std::fs::write(&typed, html).unwrap();
    let r = render(&browser, &typed, true);
    std::fs::remove_file(&typed).unwrap();
    let rows: Vec<&str> = r.dom.split("<tr data-filter=\"").skip(1).collect();
    let shown: Vec<&str> = rows
        .iter()
        .filter(|r| !r[..r.find('>').unwrap()].contains("hidden"))
        .copied()
        .collect();
    assert!(
        !shown.is_empty() && shown.len() < rows.len(),
        "{} of {} shown",
        shown.len(),
        rows.len()
    );
    assert!(
        shown
            .iter()
            .all(|r| r[..r.find('"').unwrap()].contains("town")),
        "{shown:?}"
    );
    assert_static_ok(&site);
}

#[test]
fn the_network_check_catches_a_page_that_reaches_out() {
    // The checks above must be able to fail: a page that loads from the network and from
    // outside its folder is caught by both the browser's logs and the static check.
    let Some(browser) = chromium() else { return };
    let d = tempfile::tempdir().unwrap();
    let site = d.path().join("site");
    std::fs::create_dir_all(&site).unwrap();
    std::fs::write(d.path().join("outside.png"), b"not really").unwrap();
    let page = site.join("bad.html");
    std::fs::write(
        &page,
        "<!DOCTYPE html><html><body><img src=\"http://127.0.0.1:9/x.png\"><img src=\"../outside.png\">\
         <script>document.body.setAttribute('data-pwned', 'yes')</script></body></html>",
    )
    .unwrap();
    let r = render(&browser, &page, true);
    // A script that runs is seen in the DOM (the XSS checks rely on it).
    assert!(r.dom.contains("<body data-pwned=\"yes\">"), "{}", r.dom);
    let bad = outside_loads(&r, &site);
    assert!(
        bad.iter()
            .any(|b| b.contains("network request: http://127.0.0.1:9/x.png")),
        "{bad:?}"
    );
    assert!(
        bad.iter()
            .any(|b| b.contains("file outside the site") && b.ends_with("/outside.png")),
        "{bad:?}"
    );
    let html = std::fs::read_to_string(&page).unwrap();
    let stat = static_problems(&html, &page, &site);
    assert_eq!(stat.len(), 2, "{stat:?}");
}

#[test]
fn large_channels_are_split_into_pages_of_whole_threads() {
    let env = Env::backed_up(Scale::Tiny);
    let eng = env
        .server
        .with_world(|w| channel_id(w, "acme", "engineering"));
    let posts = stored_posts(&env.data(), &eng);
    let size = 4;
    let site = export_ok(
        &env,
        &env.data(),
        "site",
        &["--page-size", &size.to_string()],
    );
    let dir = site.join(format!("c/{eng}"));
    let n = std::fs::read_dir(&dir).unwrap().count();
    assert!(
        n >= posts.len() / size / 2 && n > 2,
        "{n} pages for {} posts",
        posts.len()
    );
    let root_of = |id: &str| -> String {
        let r = posts[id]["root_id"].as_str().unwrap_or("");
        if !r.is_empty() && posts.contains_key(r) {
            r.to_string()
        } else {
            id.to_string()
        }
    };
    let mut seen: BTreeMap<String, usize> = BTreeMap::new();
    let mut last_root_time = 0;
    for k in 1..=n {
        let html = std::fs::read_to_string(dir.join(format!("{k}.html"))).unwrap();
        let threads: Vec<&str> = html.split("<div class=\"thread\">").skip(1).collect();
        let ids: Vec<String> = html
            .match_indices("id=\"p-")
            .map(|(i, _)| html[i + 6..i + 32].to_string())
            .collect();
        assert!(
            ids.len() <= size || threads.len() == 1,
            "page {k}: {} posts in {} threads",
            ids.len(),
            threads.len()
        );
        for t in &threads {
            let tids: Vec<String> = t
                .match_indices("id=\"p-")
                .map(|(i, _)| t[i + 6..i + 32].to_string())
                .collect();
            // One root, then its replies; roots in order of time across pages.
            let root = &tids[0];
            assert!(
                tids.iter().all(|p| &root_of(p) == root),
                "page {k}: mixed thread {tids:?}"
            );
            let t0 = posts[root]["create_at"].as_i64().unwrap();
            assert!(t0 >= last_root_time, "roots out of order on page {k}");
            last_root_time = t0;
            if tids.len() > 1 {
                assert!(
                    t.find("<div class=\"replies\">").unwrap()
                        < t.find(&format!("id=\"p-{}\"", tids[1])).unwrap()
                );
            }
        }
        for id in ids {
            assert!(seen.insert(id.clone(), k).is_none(), "{id} on two pages");
        }
        // Navigation: this page is current; previous and next point at existing pages.
        assert!(html.contains(&format!(
            "<span class=\"current\" aria-current=\"page\">{k}</span>"
        )));
        if k > 1 {
            assert!(html.contains(&format!("<a href=\"{}.html\" rel=\"prev\">", k - 1)));
        }
        if k < n {
            assert!(html.contains(&format!("<a href=\"{}.html\" rel=\"next\">", k + 1)));
        }
    }
    assert_eq!(
        seen.keys().cloned().collect::<BTreeSet<_>>(),
        posts.keys().cloned().collect::<BTreeSet<_>>()
    );
    // Every reply is on its root's page.
    for id in posts.keys() {
        assert_eq!(
            seen[id],
            seen[&root_of(id)],
            "{id} is not on its root's page"
        );
    }
    assert_static_ok(&site);
    if let Some(browser) = chromium() {
        for k in [1, n] {
            let r = render(&browser, &dir.join(format!("{k}.html")), true);
            assert!(r.dom.contains("<nav class=\"pages\""));
            assert_no_outside_loads(&r, &site, "a page of engineering");
        }
    }
    let out = export(&env, &env.data(), "site", &["--page-size", "0"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
}

#[test]
fn a_rerun_replaces_the_site_and_the_same_backup_gives_the_same_site() {
    let env = Env::backed_up(Scale::Tiny);
    let eng = env
        .server
        .with_world(|w| channel_id(w, "acme", "engineering"));
    let site = export_ok(&env, &env.data(), "site", &["--page-size", "3"]);
    let many = std::fs::read_dir(site.join(format!("c/{eng}")))
        .unwrap()
        .count();
    assert!(many > 3);
    std::fs::write(site.join("my-notes.txt"), b"mine").unwrap();
    export_ok(&env, &env.data(), "site", &[]);
    assert_eq!(
        std::fs::read_dir(site.join(format!("c/{eng}")))
            .unwrap()
            .count(),
        1
    );
    assert_eq!(std::fs::read(site.join("my-notes.txt")).unwrap(), b"mine");
    let marker: Value = read_json(&site.join(".matterbak-site.json"));
    let listed: BTreeSet<String> = marker["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    let mut on_disk: BTreeSet<String> = tree(&site).into_keys().collect();
    on_disk.remove("my-notes.txt");
    on_disk.remove(".matterbak-site.json");
    assert_eq!(listed, on_disk);

    // Deterministic: the zip of the same backup gives a byte-identical site.
    let again = export_ok(&env, &env.zip(), "site2", &[]);
    let mut a = tree(&site);
    a.remove("my-notes.txt");
    assert_eq!(a, tree(&again));

    // A folder with other content is refused, and so is a site inside the data dir.
    std::fs::create_dir_all(env.path("other")).unwrap();
    std::fs::write(env.path("other/thesis.tex"), b"precious").unwrap();
    let out = export(&env, &env.data(), "other", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains(".matterbak-site.json"),
        "{}",
        text(&out)
    );
    assert_eq!(tree(&env.path("other")).len(), 1);
    let out = export(&env, &env.data(), "data/site", &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out));
    assert!(!env.path("data/site").exists());
}

#[test]
fn hostile_names_and_ids_stay_inside_the_site_and_are_shown_as_text() {
    let env = Env::new(Scale::Tiny);
    let evil = env.server.with_world(|w| {
        let acme = w.team_by_name("acme").unwrap().id.to_string();
        let me = user_id(w, "alice");
        let con = w.add_user("con", "x").unwrap();
        w.add_team_member(&acme, &con).unwrap();
        let evil = w
            .add_channel(
                &acme,
                'O',
                "../../evil",
                "<img src=x onerror=alert(1)>Evil",
                vec![me, con.clone()],
            )
            .unwrap();
        w.add_post(
            &evil,
            &con,
            "<script>alert(1)</script> [x](javascript:alert(1))",
            None,
            vec![
                ("../../../escape.html".into(), "text/html".into(), 100),
                ("<b>x</b>.png".into(), "image/png".into(), 500),
                ("..".into(), "application/octet-stream".into(), 12),
            ],
        )
        .unwrap();
        evil
    });
    env.run_ok(&[]);
    // A tampered backup: a user id and a file id that are paths.
    let files = tree(&env.data());
    let (user_file, _) = files
        .iter()
        .find(|(k, _)| k.starts_with("users/") && k.ends_with("__con.json"))
        .unwrap();
    let mut user: Value = serde_json::from_slice(&files[user_file]).unwrap();
    user["id"] = "../../../../pwned".into();
    std::fs::write(env.data().join(user_file), user.to_string()).unwrap();

    let before: BTreeSet<String> = tree(env.tmp.path()).into_keys().collect();
    let site = export_ok(&env, &env.data(), "site", &[]);
    let after: BTreeSet<String> = tree(env.tmp.path())
        .into_keys()
        .filter(|k| !k.starts_with("site/"))
        .collect();
    assert_eq!(before, after, "the export wrote outside its folder");
    let written = tree(&site);
    assert!(
        written
            .keys()
            .any(|k| k.starts_with("avatars/.._.._.._.._pwned.")),
        "{:?}",
        written
            .keys()
            .filter(|k| k.starts_with("avatars"))
            .collect::<Vec<_>>()
    );
    assert!(written.keys().any(|k| k.ends_with("/.._.._.._escape.html")));
    assert_static_ok(&site);
    let page = site.join(format!("c/{evil}/1.html"));
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"));
    assert!(!html.contains("href=\"javascript:"), "a javascript: link");
    // The HTML attachment is offered as a download, not opened in the site's context.
    assert!(html.contains("escape.html\" download>"), "{html}");
    if let Some(browser) = chromium() {
        for p in [site.join("index.html"), page] {
            let r = render(&browser, &p, true);
            assert!(
                !r.dom.contains("<img src=\"x\""),
                "the channel name became markup"
            );
            assert!(
                r.dom.contains("&lt;img src=x onerror=alert(1)&gt;Evil"),
                "the channel name is not shown"
            );
            assert_no_outside_loads(&r, &site, &p.display().to_string());
        }
    }
}
