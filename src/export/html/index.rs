//! The site's front page: teams with their channels, direct and group messages, each with its
//! number of posts, first and last post and pages; a filter box when JavaScript runs.

use std::fmt::Write as _;

use super::assets;
use super::channel::Stats;
use super::lookup::{channel_badges, page_path};
use super::page;
use super::post::time_html;
use super::render::escape;
use crate::export::model::{Backup, ChannelInfo, Team};
use crate::export::time;
use crate::store::layout::Place;

/// A channel as listed on the index.
pub struct Row<'a> {
    pub info: &'a ChannelInfo,
    pub title: String,
    pub stats: Stats,
}

/// The index page. `team_icons`: team id → icon URL (relative to the site folder).
pub fn index_html(
    b: &Backup,
    rows: &[Row],
    team_icons: &std::collections::BTreeMap<String, String>,
    filter: Option<&str>,
) -> String {
    let mut body = String::new();
    let posts: usize = rows.iter().map(|r| r.stats.posts).sum();
    let first = rows.iter().filter_map(|r| r.stats.first).min();
    let last = rows.iter().filter_map(|r| r.stats.last).max();
    body.push_str("<h1>Mattermost backup</h1>\n<p class=\"meta\">");
    let _ = write!(
        body,
        "{} team{} · {} channel{} · {} post{}",
        b.teams.len(),
        plural(b.teams.len()),
        rows.len(),
        plural(rows.len()),
        posts,
        plural(posts)
    );
    if let (Some(f), Some(l)) = (first, last) {
        let _ = write!(
            body,
            " · {} – {}",
            escape(&time::local_date(f)),
            escape(&time::local_date(l))
        );
    }
    body.push_str("</p>\n");
    if let Some(f) = filter {
        let _ = writeln!(body, "<p class=\"meta filter\">Filtered: {}</p>", escape(f));
    }
    body.push_str(
        "<input type=\"search\" id=\"filter\" placeholder=\"Filter channels, people, teams…\" \
         aria-label=\"Filter channels\" hidden>\n",
    );
    for team in &b.teams {
        let mut list: Vec<&Row> = rows
            .iter()
            .filter(|r| r.info.place == Place::Team && r.info.team_id.as_deref() == Some(&team.id))
            .collect();
        list.sort_by_key(|r| (r.title.to_lowercase(), r.info.id.clone()));
        let heading = team_heading(team, team_icons.get(&team.id));
        section(&mut body, &heading, &team.display_name, &list);
    }
    // Team channels whose team file is missing.
    let orphans: Vec<&Row> = rows
        .iter()
        .filter(|r| {
            r.info.place == Place::Team
                && r.info
                    .team_id
                    .as_deref()
                    .is_none_or(|t| b.team(t).is_none())
        })
        .collect();
    if !orphans.is_empty() {
        section(&mut body, "Other channels", "", &orphans);
    }
    for (kind, label) in [
        (Place::Direct, "Direct messages"),
        (Place::Group, "Group messages"),
    ] {
        let mut list: Vec<&Row> = rows.iter().filter(|r| r.info.place == kind).collect();
        list.sort_by_key(|r| (r.title.to_lowercase(), r.info.id.clone()));
        if !list.is_empty() {
            section(&mut body, &escape(label), "", &list);
        }
    }
    if rows.is_empty() {
        body.push_str("<p class=\"empty\">The backup holds no channels.</p>\n");
    }
    let _ = writeln!(
        body,
        "<footer>Exported by matterbak {}. Times are in the exporting machine's time zone; \
         hover over a time for UTC.</footer>",
        env!("CARGO_PKG_VERSION")
    );
    page::document("Mattermost backup", "", &[], &body, Some(assets::INDEX_JS))
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

fn team_heading(team: &Team, icon: Option<&String>) -> String {
    let name = if team.display_name.is_empty() {
        &team.name
    } else {
        &team.display_name
    };
    let icon = match icon {
        Some(src) => format!(
            "<img class=\"team-icon\" src=\"{}\" alt=\"\" width=\"28\" height=\"28\">",
            escape(src)
        ),
        None => format!(
            "<span class=\"team-icon initial\" style=\"background:#5b7fd6\" aria-hidden=\"true\">{}</span>",
            escape(
                &name
                    .chars()
                    .find(|c| c.is_alphanumeric())
                    .map(|c| c.to_uppercase().collect::<String>())
                    .unwrap_or_default()
            )
        ),
    };
    format!("{icon}{}", escape(name))
}

/// A heading (HTML) and the table of its channels; `filter_extra` is matched by the filter too.
fn section(body: &mut String, heading_html: &str, filter_extra: &str, rows: &[&Row]) {
    body.push_str("<section class=\"group\">\n");
    let _ = writeln!(body, "<h2>{heading_html}</h2>");
    body.push_str(
        "<table class=\"channels\"><thead><tr><th>Channel</th><th class=\"num c-posts\">Posts</th>\
         <th class=\"c-date\">First post</th><th class=\"c-date\">Last post</th>\
         <th class=\"num c-pages\">Pages</th></tr></thead><tbody>\n",
    );
    for r in rows {
        let url = page_path(&r.info.id, 1).url();
        let filter = format!("{} {} {}", r.title, r.info.name, filter_extra).to_lowercase();
        let _ = write!(
            body,
            "<tr data-filter=\"{}\"><td><a href=\"{}\">{}</a>",
            escape(&filter),
            escape(&url),
            escape(&r.title)
        );
        if r.info.place == Place::Team && r.info.name != r.title {
            let _ = write!(
                body,
                " <span class=\"username\">~{}</span>",
                escape(&r.info.name)
            );
        }
        for badge in channel_badges(r.info)
            .into_iter()
            .filter(|b| !b.ends_with("message"))
        {
            let _ = write!(body, "<span class=\"badge\">{badge}</span>");
        }
        let date = |t: Option<i64>| {
            t.map(|t| time_html(t, &time::local_date(t)))
                .unwrap_or_else(|| "–".to_string())
        };
        let pages = if r.stats.pages > 1 {
            format!(
                "<a href=\"{}\" title=\"the newest posts\">{}</a>",
                escape(&page_path(&r.info.id, r.stats.pages).url()),
                r.stats.pages
            )
        } else {
            r.stats.pages.to_string()
        };
        let _ = writeln!(
            body,
            "</td><td class=\"num\">{}</td><td class=\"date\">{}</td><td class=\"date\">{}</td><td class=\"num\">{}</td></tr>",
            r.stats.posts,
            date(r.stats.first),
            date(r.stats.last),
            pages
        );
    }
    body.push_str("</tbody></table>\n</section>\n");
}
