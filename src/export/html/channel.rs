//! A channel's pages: whole threads in the order of their roots, replies indented under them,
//! day headers, page navigation; and the copies of the channel's attachments.

use std::fmt::Write as _;
use std::ops::Range;

use anyhow::Result;
use serde_json::Value;

use super::lookup::{channel_badges, channel_title, file_path, page_path, Lookup};
use super::page;
use super::paging::{nav_items, paginate, NavItem};
use super::post::{anchor, post_html};
use super::render::{escape, markdown};
use super::site::Site;
use crate::cancel::Cancel;
use crate::export::model::{threads, Backup, Channel, Post, Threaded};
use crate::export::time;
use crate::store::layout::Place;
use crate::store::read::PostKey;

/// From a channel page (`c/<id>/<n>.html`) to the site folder.
pub const UP: &str = "../../";

/// What the index shows of a channel.
#[derive(Debug, Clone, Default)]
pub struct Stats {
    pub posts: usize,
    pub first: Option<i64>,
    pub last: Option<i64>,
    pub pages: usize,
}

/// Writes the pages of `c`, one page's posts in memory at a time, with the copies of their
/// attachments. An attachment left out of the copy (larger than its file info says) is shown as
/// not in the backup.
pub fn write(
    site: &mut Site,
    b: &Backup,
    lookup: &Lookup,
    c: &Channel,
    page_size: usize,
    cancel: &Cancel,
) -> Result<Stats> {
    let (threads, pages) = pages(&c.posts, page_size);
    let stats = Stats {
        posts: c.posts.len(),
        first: c.posts.first().map(|p| p.create_at),
        last: c.posts.last().map(|p| p.create_at),
        pages: pages.len(),
    };
    let title = channel_title(b, &c.info);
    let team = c.info.team_id.as_deref().and_then(|t| b.team(t));
    let cx = lookup.on_page(c.info.team_id.as_deref(), UP);
    let head = header_html(b, c, &title, &stats, &cx);
    let mut crumbs = Vec::new();
    match (c.info.place, team) {
        (Place::Team, Some(t)) => crumbs.push((t.display_name.clone(), None)),
        (Place::Direct, _) => crumbs.push(("Direct messages".to_string(), None)),
        (Place::Group, _) => crumbs.push(("Group messages".to_string(), None)),
        _ => {}
    }
    crumbs.push((title.clone(), None));
    for (i, range) in pages.iter().enumerate() {
        cancel.check()?;
        let n = i + 1;
        let nav = nav_html(n, pages.len());
        let mut body = String::with_capacity(64 * 1024);
        body.push_str(&head);
        body.push_str(&nav);
        let mut day = String::new();
        if range.is_empty() {
            body.push_str("<p class=\"empty\">No posts in this channel.</p>\n");
        }
        for keys in &threads[range.clone()] {
            let mut thread = Vec::with_capacity(keys.len());
            for k in keys {
                cancel.check()?;
                thread.push(read_post(site, b, c, k)?);
            }
            let root = &thread[0];
            let d = time::local_date(root.create_at);
            if d != day {
                let _ = writeln!(
                    body,
                    "<div class=\"day\">{}</div>",
                    escape(&day_label(root.create_at))
                );
                day = d;
            }
            body.push_str("<div class=\"thread\">\n");
            let outside = c.outside_filter(&root.id);
            post_html(
                &mut body,
                root,
                &cx,
                &day,
                !root.root_id.is_empty(),
                outside,
            );
            if thread.len() > 1 {
                body.push_str("<div class=\"replies\">\n");
                for reply in &thread[1..] {
                    post_html(&mut body, reply, &cx, &day, false, false);
                }
                body.push_str("</div>\n");
            }
            body.push_str("</div>\n");
        }
        if pages.len() > 1 {
            body.push_str(&nav);
        }
        let page_title = if pages.len() > 1 {
            format!("{title} ({n}/{})", pages.len())
        } else {
            title.clone()
        };
        let html = page::document(&page_title, UP, &crumbs, &body, None);
        site.write(&page_path(&c.info.id, n), html.as_bytes())?;
    }
    Ok(stats)
}

/// The pages of a channel whose posts are `posts` (in the order of [`Channel::posts`]): its
/// threads ([`threads`]) and the range of threads on each page ([`paginate`]).
pub fn pages<P: Threaded>(posts: &[P], page_size: usize) -> (Vec<Vec<&P>>, Vec<Range<usize>>) {
    let threads = threads(posts);
    let sizes: Vec<usize> = threads.iter().map(Vec::len).collect();
    let pages = paginate(&sizes, page_size);
    (threads, pages)
}

/// Where post `post_id` of channel `channel_id` is in the site, from the site folder, when it
/// is on page `n`: `c/<channel_id>/<n>.html#p-<post_id>`.
pub fn post_link(channel_id: &str, n: usize, post_id: &str) -> String {
    format!("{}#{}", page_path(channel_id, n).url(), anchor(post_id))
}

/// A post of `c` with its attachments copied into the site.
fn read_post(site: &mut Site, b: &Backup, c: &Channel, key: &PostKey) -> Result<Post> {
    let mut p = b.post(c, key)?;
    for f in &mut p.files {
        if let Some(content) = &f.content {
            if !site.copy(&b.src, content, &file_path(f), f.limit())? {
                f.content = None;
            }
        }
    }
    Ok(p)
}

/// `Monday, 2024-01-01`, in local time.
fn day_label(ms: i64) -> String {
    use chrono::{Local, TimeZone};
    match Local.timestamp_millis_opt(ms).single() {
        Some(t) => t.format("%A, %Y-%m-%d").to_string(),
        None => time::local_date(ms),
    }
}

fn header_html(
    b: &Backup,
    c: &Channel,
    title: &str,
    stats: &Stats,
    cx: &super::lookup::OnPage,
) -> String {
    let mut h = String::new();
    let _ = write!(h, "<h1>{}", escape(title));
    for badge in channel_badges(&c.info) {
        let _ = write!(h, "<span class=\"badge\">{badge}</span>");
    }
    h.push_str("</h1>\n<p class=\"meta\">");
    let mut meta = Vec::new();
    if c.info.place == Place::Team {
        let team = c.info.team_id.as_deref().and_then(|t| b.team(t));
        let t = team.map(|t| t.display_name.as_str()).unwrap_or("");
        meta.push(format!("~{} in {}", escape(&c.info.name), escape(t)));
    } else {
        let names: Vec<String> = c
            .members
            .iter()
            .filter_map(|m| m.get("user_id").and_then(Value::as_str))
            .map(|u| escape(&cx.lookup.person(u).display))
            .collect();
        if !names.is_empty() {
            meta.push(format!("members: {}", names.join(", ")));
        }
    }
    meta.push(format!(
        "{} post{}",
        stats.posts,
        if stats.posts == 1 { "" } else { "s" }
    ));
    if let (Some(f), Some(l)) = (stats.first, stats.last) {
        meta.push(format!(
            "{} – {}",
            escape(&time::local_date(f)),
            escape(&time::local_date(l))
        ));
    }
    h.push_str(&meta.join(" · "));
    h.push_str("</p>\n");
    for key in ["purpose", "header"] {
        let text = c.info.json.get(key).and_then(Value::as_str).unwrap_or("");
        if !text.trim().is_empty() {
            let _ = writeln!(
                h,
                "<div class=\"channel-header\">{}</div>",
                markdown(text, cx)
            );
        }
    }
    h
}

/// Previous / page numbers / next, for page `n` of `total` (nothing for a single page).
fn nav_html(n: usize, total: usize) -> String {
    if total <= 1 {
        return String::new();
    }
    let mut h = String::from("<nav class=\"pages\" aria-label=\"pages\">");
    if n > 1 {
        let _ = write!(h, "<a href=\"{}.html\" rel=\"prev\">‹ Previous</a>", n - 1);
    } else {
        h.push_str("<span class=\"off\">‹ Previous</span>");
    }
    for item in nav_items(n, total) {
        match item {
            NavItem::Page(p, true) => {
                let _ = write!(
                    h,
                    "<span class=\"current\" aria-current=\"page\">{p}</span>"
                );
            }
            NavItem::Page(p, false) => {
                let _ = write!(h, "<a href=\"{p}.html\">{p}</a>");
            }
            NavItem::Gap => h.push_str("<span class=\"gap\">…</span>"),
        }
    }
    if n < total {
        let _ = write!(h, "<a href=\"{}.html\" rel=\"next\">Next ›</a>", n + 1);
    } else {
        h.push_str("<span class=\"off\">Next ›</span>");
    }
    h.push_str("</nav>\n");
    h
}
