//! One post as HTML: author and avatar, time, markers (edited, deleted, pinned), the message,
//! attachments, reactions and earlier versions; system messages as a quiet line.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use chrono::{TimeZone, Utc};
use serde_json::Value;

use super::lookup::{file_path, OnPage, Person};
use super::render::{emoji_html, escape, escape_into, markdown, safe_url};
use crate::export::model::{Attachment, Post};
use crate::export::time;
use crate::units::human_bytes;

/// The largest thumbnail, in CSS pixels (the style sheet says the same).
const THUMB_W: u64 = 320;
const THUMB_H: u64 = 220;

/// The HTML id of a post's element.
pub fn anchor(post_id: &str) -> String {
    format!("p-{}", post_id)
}

/// `<time>` with the UTC instant in `datetime` and the local time as text (`shown`).
pub fn time_html(ms: i64, shown: &str) -> String {
    let iso = Utc
        .timestamp_millis_opt(ms)
        .single()
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_default();
    format!(
        "<time datetime=\"{iso}\" title=\"{} (UTC {})\">{}</time>",
        escape(&time::local(ms)),
        escape(&time::utc(ms)),
        escape(shown)
    )
}

/// The local time of a post for a page whose day header says `day`: the hour and minute on that
/// day, else the date too.
fn shown_time(ms: i64, day: &str) -> String {
    let local = time::local(ms);
    match local.get(..16) {
        Some(t) if local.starts_with(day) => t[11..].to_string(),
        Some(t) => t.to_string(),
        None => local,
    }
}

/// A post of a channel page. `day` is the local date of the day header above its thread;
/// `missing_root`: the post replies to a post that is not in the backup.
/// `outside`: a root shown only because a reply is in the export's filter.
pub fn post_html(
    out: &mut String,
    p: &Post,
    cx: &OnPage,
    day: &str,
    missing_root: bool,
    outside: bool,
) {
    let id = anchor(&p.id);
    let person = cx.lookup.person(&p.user_id);
    let msg_src = message_of(p);
    if p.post_type().starts_with("system_") {
        let _ = writeln!(
            out,
            "<div class=\"post system\" id=\"{}\"><a class=\"time\" href=\"#{}\">{}</a><div class=\"msg\">{}</div></div>",
            escape(&id),
            escape(&id),
            time_html(p.create_at, &shown_time(p.create_at, day)),
            markdown(&msg_src, cx)
        );
        return;
    }
    let mut classes = String::from("post");
    if p.is_pinned() {
        classes.push_str(" pinned-post");
    }
    if p.is_deleted() {
        classes.push_str(" deleted-post");
    }
    let _ = write!(out, "<article class=\"{classes}\" id=\"{}\">", escape(&id));
    let (shown_name, bot) = match p
        .json
        .pointer("/props/override_username")
        .and_then(Value::as_str)
    {
        Some(n) if !n.trim().is_empty() => (n.to_string(), true),
        _ => (person.display.clone(), false),
    };
    avatar_html(out, &person, &p.user_id, cx.up);
    out.push_str("<div class=\"body\"><div class=\"head\">");
    let _ = write!(
        out,
        "<span class=\"author\" title=\"@{}\">{}</span>",
        escape(&person.username),
        escape(&shown_name)
    );
    if bot {
        out.push_str("<span class=\"badge\">BOT</span>");
    }
    let _ = write!(
        out,
        "<a class=\"time\" href=\"#{}\">{}</a>",
        escape(&id),
        time_html(p.create_at, &shown_time(p.create_at, day))
    );
    marks_html(out, p);
    out.push_str("</div>");
    if missing_root {
        out.push_str("<div class=\"reply-to\">↪ reply to a post that is not in the backup</div>");
    }
    if outside {
        out.push_str("<div class=\"reply-to\">outside the filter: shown for its replies</div>");
    }
    let _ = write!(out, "<div class=\"msg\">{}</div>", markdown(&msg_src, cx));
    props_attachments_html(out, &p.json, cx);
    files_html(out, &p.files, cx.up);
    reactions_html(out, p.reactions(), cx);
    history_html(out, p, cx);
    out.push_str("</div></article>\n");
}

/// The message to show: the post's, or for a deleted post stored without one, its last version.
fn message_of(p: &Post) -> String {
    if !p.message.is_empty() {
        return p.message.clone();
    }
    p.history
        .as_ref()
        .and_then(|h| h.versions.last())
        .and_then(|v| v.get("message"))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

fn avatar_html(out: &mut String, person: &Person, user_id: &str, up: &str) {
    match &person.avatar {
        Some(src) => {
            let _ = write!(
                out,
                "<img class=\"avatar\" src=\"{}{}\" alt=\"\" width=\"36\" height=\"36\">",
                escape(up),
                escape(src)
            );
        }
        None => {
            // A coloured circle with the initial, as Mattermost's default avatar.
            const COLOURS: [&str; 8] = [
                "#5b7fd6", "#3aa17e", "#c2571a", "#8e5bd6", "#d64b7f", "#2f8fb0", "#a07a1e",
                "#5f6b7a",
            ];
            let h = user_id
                .bytes()
                .fold(0u32, |h, b| h.wrapping_mul(31).wrapping_add(b as u32));
            let initial: String = person
                .display
                .chars()
                .find(|c| c.is_alphanumeric())
                .map(|c| c.to_uppercase().collect())
                .unwrap_or_else(|| "?".to_string());
            let _ = write!(
                out,
                "<span class=\"avatar initial\" style=\"background:{}\" aria-hidden=\"true\">{}</span>",
                COLOURS[h as usize % COLOURS.len()],
                escape(&initial)
            );
        }
    }
}

fn marks_html(out: &mut String, p: &Post) {
    if p.is_pinned() {
        out.push_str("<span class=\"mark pinned\">pinned</span>");
    }
    if p.is_edited() {
        let at = p.edit_at;
        let title = if at > 0 {
            format!("edited {}", time::local(at))
        } else {
            "edited".to_string()
        };
        let _ = write!(
            out,
            "<span class=\"mark edited\" title=\"{}\">(edited)</span>",
            escape(&title)
        );
    }
    if p.is_deleted() {
        let h = p.history.as_ref();
        let at = h
            .and_then(|h| h.deleted.as_ref())
            .and_then(|d| d.get("delete_at"))
            .and_then(Value::as_i64)
            .filter(|t| *t > 0)
            .unwrap_or(p.delete_at);
        let title = if at > 0 {
            format!(
                "deleted {}; the last known content is shown",
                time::local(at)
            )
        } else if let Some(seen) = h.and_then(|h| h.deleted_seen_at) {
            format!(
                "deleted (seen missing {}); the last known content is shown",
                time::local(seen)
            )
        } else {
            "deleted; the last known content is shown".to_string()
        };
        let _ = write!(
            out,
            "<span class=\"mark deleted\" title=\"{}\">(deleted)</span>",
            escape(&title)
        );
    }
}

/// Message attachments of integrations (`props.attachments`): pretext, title, text, fields.
fn props_attachments_html(out: &mut String, json: &Value, cx: &OnPage) {
    let Some(list) = json.pointer("/props/attachments").and_then(Value::as_array) else {
        return;
    };
    for a in list {
        let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("").to_string();
        let colour = s("color");
        let border = if colour.len() <= 7
            && colour.starts_with('#')
            && colour[1..].bytes().all(|b| b.is_ascii_hexdigit())
        {
            format!(" style=\"border-left-color:{colour}\"")
        } else {
            String::new()
        };
        let _ = write!(out, "<blockquote class=\"attachment msg\"{border}>");
        if !s("pretext").is_empty() {
            out.push_str(&markdown(&s("pretext"), cx));
        }
        if !s("title").is_empty() {
            out.push_str("<p><strong>");
            let link = s("title_link");
            if safe_url(&link) {
                let _ = write!(
                    out,
                    "<a href=\"{}\" rel=\"noreferrer noopener\">{}</a>",
                    escape(&link),
                    escape(&s("title"))
                );
            } else {
                escape_into(out, &s("title"));
            }
            out.push_str("</strong></p>");
        }
        if !s("text").is_empty() {
            out.push_str(&markdown(&s("text"), cx));
        }
        for f in a
            .get("fields")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let t = f.get("title").and_then(Value::as_str).unwrap_or("");
            let v = match f.get("value") {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Null) | None => String::new(),
                Some(other) => other.to_string(),
            };
            let _ = write!(
                out,
                "<p><strong>{}</strong></p>{}",
                escape(t),
                markdown(&v, cx)
            );
        }
        out.push_str("</blockquote>");
    }
}

/// Files the browser might run if opened from the site are offered as downloads instead.
fn active_content(name: &str) -> bool {
    let lower = name.to_ascii_lowercase();
    [".html", ".htm", ".xhtml", ".svg", ".xml", ".shtml"]
        .iter()
        .any(|e| lower.ends_with(e))
}

fn files_html(out: &mut String, files: &[Attachment], up: &str) {
    let (images, others): (Vec<&Attachment>, Vec<&Attachment>) = files
        .iter()
        .partition(|f| f.content.is_some() && f.is_image());
    if !images.is_empty() {
        out.push_str("<div class=\"images\">");
        for f in images {
            image_html(out, f, up);
        }
        out.push_str("</div>");
    }
    if others.is_empty() {
        return;
    }
    out.push_str("<div class=\"files\">");
    for f in others {
        let name = if f.name.is_empty() { "file" } else { &f.name };
        let ext = name
            .rsplit_once('.')
            .map(|x| x.1.to_uppercase())
            .filter(|e| (1..=5).contains(&e.chars().count()))
            .unwrap_or_else(|| "FILE".to_string());
        let size = human_bytes(f.size);
        match &f.content {
            None => {
                let _ = write!(
                    out,
                    "<span class=\"file missing\" title=\"the file is not in the backup\"><span class=\"ext\">{}</span>{} <span class=\"size\">{} · not in the backup</span></span>",
                    escape(&ext),
                    escape(name),
                    escape(&size)
                );
            }
            Some(_) => {
                let href = format!("{up}{}", file_path(f).url());
                let download = if active_content(name) {
                    " download"
                } else {
                    ""
                };
                let _ = write!(
                    out,
                    "<a class=\"file\" href=\"{}\"{download}><span class=\"ext\">{}</span>{} <span class=\"size\">{}</span></a>",
                    escape(&href),
                    escape(&ext),
                    escape(name),
                    escape(&size)
                );
            }
        }
    }
    out.push_str("</div>");
}

/// A thumbnail (scaled by the browser) that links to the full image.
fn image_html(out: &mut String, f: &Attachment, up: &str) {
    let name = if f.name.is_empty() { "image" } else { &f.name };
    let href = format!("{up}{}", file_path(f).url());
    let dims = match (
        f.info.get("width").and_then(Value::as_u64),
        f.info.get("height").and_then(Value::as_u64),
    ) {
        (Some(w), Some(h)) if w > 0 && h > 0 => {
            let scale = f64::min(
                1.0,
                f64::min(THUMB_W as f64 / w as f64, THUMB_H as f64 / h as f64),
            );
            let (tw, th) = (
                ((w as f64 * scale).round() as u64).max(1),
                ((h as f64 * scale).round() as u64).max(1),
            );
            format!(" width=\"{tw}\" height=\"{th}\"")
        }
        _ => String::new(),
    };
    let _ = write!(
        out,
        "<figure class=\"image\"><a href=\"{h}\" title=\"open the full image\"><img src=\"{h}\" alt=\"{n}\" loading=\"lazy\"{dims}></a><figcaption>{n} <span class=\"size\">{s}</span></figcaption></figure>",
        h = escape(&href),
        n = escape(name),
        s = escape(&human_bytes(f.size))
    );
}

fn reactions_html(out: &mut String, reactions: &[Value], cx: &OnPage) {
    if reactions.is_empty() {
        return;
    }
    // By emoji, in the order of each emoji's first reaction.
    let mut groups: BTreeMap<&str, (i64, Vec<&str>)> = BTreeMap::new();
    for r in reactions {
        let name = r.get("emoji_name").and_then(Value::as_str).unwrap_or("");
        let user = r.get("user_id").and_then(Value::as_str).unwrap_or("");
        let at = r.get("create_at").and_then(Value::as_i64).unwrap_or(0);
        let g = groups.entry(name).or_insert((at, Vec::new()));
        g.0 = g.0.min(at);
        g.1.push(user);
    }
    let mut order: Vec<(&str, &(i64, Vec<&str>))> = groups.iter().map(|(k, v)| (*k, v)).collect();
    order.sort_by_key(|(name, (at, _))| (*at, *name));
    out.push_str("<div class=\"reactions\">");
    for (name, (_, users)) in order {
        let who: Vec<String> = users.iter().map(|u| cx.lookup.person(u).display).collect();
        let _ = write!(
            out,
            "<span class=\"reaction\" title=\"{} reacted with :{}:\">",
            escape(&who.join(", ")),
            escape(name)
        );
        if !emoji_html(out, name, cx) {
            let _ = write!(out, "<span class=\"name\">:{}:</span>", escape(name));
        }
        let _ = write!(out, "<span class=\"count\">{}</span></span>", users.len());
    }
    out.push_str("</div>");
}

fn history_html(out: &mut String, p: &Post, cx: &OnPage) {
    let Some(h) = p.history.as_ref().filter(|h| !h.versions.is_empty()) else {
        return;
    };
    let n = h.versions.len();
    let _ = write!(
        out,
        "<details class=\"history\"><summary>{n} earlier version{}</summary>",
        if n == 1 { "" } else { "s" }
    );
    for v in &h.versions {
        let edit_at = v.get("edit_at").and_then(Value::as_i64).unwrap_or(0);
        let (label, at) = if edit_at > 0 {
            ("edited", edit_at)
        } else {
            (
                "original",
                v.get("create_at")
                    .and_then(Value::as_i64)
                    .unwrap_or(p.create_at),
            )
        };
        let msg = v.get("message").and_then(Value::as_str).unwrap_or("");
        let _ = write!(
            out,
            "<div class=\"version\"><span class=\"time\">{label} {}</span><div class=\"msg\">{}</div></div>",
            time_html(at, &time::local(at)),
            markdown(msg, cx)
        );
    }
    out.push_str("</details>");
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::html::lookup::Lookup;
    use crate::export::model::History;
    use serde_json::json;

    fn post(json: Value) -> Post {
        let id = json["id"].as_str().unwrap_or("").to_string();
        Post::new(id, crate::store::read::PostFields::of(&json), json)
    }

    fn html(p: &Post) -> String {
        let lookup = Lookup::for_tests(
            &[("u1", "bob", "Bob <B>"), ("u2", "carol", "Carol")],
            &[("parrot", "emoji/e1.gif")],
        );
        let mut out = String::new();
        let day = time::local_date(p.create_at);
        post_html(
            &mut out,
            p,
            &lookup.on_page(None, "../../"),
            &day,
            false,
            false,
        );
        out
    }

    #[test]
    fn a_post_with_reactions_files_and_marks() {
        let mut p = post(json!({
            "id": "p1", "user_id": "u1", "create_at": 1_704_103_200_000i64, "message": "hi :parrot:",
            "is_pinned": true, "edit_at": 1_704_103_260_000i64,
            "metadata": {"reactions": [
                {"user_id": "u2", "emoji_name": "parrot", "create_at": 5},
                {"user_id": "u1", "emoji_name": "+1", "create_at": 3},
                {"user_id": "u2", "emoji_name": "+1", "create_at": 4},
                {"user_id": "u3", "emoji_name": "no_such", "create_at": 6}
            ]}
        }));
        p.files = vec![
            Attachment {
                id: "f1".into(),
                name: "<x>.png".into(),
                mime: "image/png".into(),
                size: 2048,
                info: json!({"width": 640, "height": 220}),
                content: Some("teams/t/c/files/f1__<x>.png".into()),
            },
            Attachment {
                id: "f2".into(),
                name: "gone.txt".into(),
                mime: "text/plain".into(),
                size: 10,
                info: json!({}),
                content: None,
            },
        ];
        p.history = Some(History {
            versions: vec![
                json!({"message": "**old**", "create_at": 1_704_103_200_000i64, "edit_at": 0}),
            ],
            ..History::default()
        });
        let h = html(&p);
        assert!(h.starts_with("<article class=\"post pinned-post\" id=\"p-p1\"><img class=\"avatar\" src=\"../../avatars/u1.png\""), "{h}");
        assert!(
            h.contains("<span class=\"author\" title=\"@bob\">Bob &lt;B&gt;</span>"),
            "{h}"
        );
        // On the day of the day header: the local hour and minute only.
        let hm = &time::local(p.create_at)[11..16];
        assert!(h.contains(&format!(">{hm}</time>")), "{h}");
        assert!(
            h.contains("<span class=\"mark pinned\">pinned</span><span class=\"mark edited\""),
            "{h}"
        );
        // Reactions in the order of their first use, counted, with who reacted.
        let plus = h
            .find("title=\"Bob &lt;B&gt;, Carol reacted with :+1:\">")
            .expect(&h);
        let parrot = h.find("title=\"Carol reacted with :parrot:\"><img class=\"emoji\" src=\"../../emoji/e1.gif\"").expect(&h);
        assert!(plus < parrot);
        assert!(h.contains("👍</span><span class=\"count\">2</span>"), "{h}");
        assert!(h.contains("title=\"u3 reacted with :no_such:\"><span class=\"name\">:no_such:</span><span class=\"count\">1</span>"), "{h}");
        // The thumbnail keeps its aspect ratio within 320x220, links to the copy.
        assert!(h.contains("<a href=\"../../files/f1/_x_.png\" title=\"open the full image\"><img src=\"../../files/f1/_x_.png\" alt=\"&lt;x&gt;.png\" loading=\"lazy\" width=\"320\" height=\"110\">"), "{h}");
        assert!(
            h.contains("gone.txt <span class=\"size\">10 B · not in the backup</span>"),
            "{h}"
        );
        assert!(
            h.contains("<summary>1 earlier version</summary>")
                && h.contains("<strong>old</strong>"),
            "{h}"
        );
    }

    #[test]
    fn system_deleted_and_integration_posts() {
        let sys = post(
            json!({"id": "s1", "user_id": "u1", "type": "system_join_channel",
            "message": "bob joined the channel.", "create_at": 1_704_103_200_000i64}),
        );
        let h = html(&sys);
        assert!(
            h.starts_with("<div class=\"post system\" id=\"p-s1\">"),
            "{h}"
        );
        assert!(!h.contains("avatar"), "{h}");

        let mut del = post(json!({"id": "d1", "user_id": "u9", "message": "", "delete_at": 7}));
        del.history = Some(History {
            versions: vec![json!({"message": "last words"})],
            deleted: Some(json!({"delete_at": 1_704_103_200_000i64})),
            deleted_seen_at: None,
        });
        let h = html(&del);
        assert!(
            h.contains("deleted-post")
                && h.contains(">(deleted)</span>")
                && h.contains("last words"),
            "{h}"
        );
        assert!(h.contains("<span class=\"avatar initial\""), "{h}");

        let hook = post(
            json!({"id": "w1", "user_id": "u1", "message": "", "props": {
            "override_username": "ci-bot",
            "attachments": [{"color": "#ff0000\" onload=\"x", "title": "Build", "title_link": "javascript:x()",
                "text": "**failed**", "fields": [{"title": "branch", "value": "main"}]}]}}),
        );
        let h = html(&hook);
        assert!(
            h.contains(">ci-bot</span><span class=\"badge\">BOT</span>"),
            "{h}"
        );
        assert!(h.contains("<blockquote class=\"attachment msg\"><p><strong>Build</strong></p><p><strong>failed</strong></p>"), "{h}");
        assert!(!h.contains("onload") && !h.contains("javascript:"), "{h}");
    }

    #[test]
    fn times_are_local_text_with_the_utc_instant() {
        let t = time_html(1_704_103_200_123, "x");
        assert!(
            t.starts_with("<time datetime=\"2024-01-01T10:00:00.123Z\""),
            "{t}"
        );
        assert!(t.ends_with(">x</time>"), "{t}");
    }

    #[test]
    fn active_content_is_downloaded() {
        assert!(active_content("evil.HTML"));
        assert!(active_content("x.svg"));
        assert!(!active_content("report.pdf"));
    }
}
