//! The `/api/v4` router and helpers shared by the handlers (params, ETags, responses).

mod channels;
mod media;
mod posts;
mod users;

use crate::error::ApiError;
use crate::id::Id;
use crate::server::AppState;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{any, get, post};
use axum::Router;
use serde_json::Value;
use std::collections::HashMap;

/// Query parameters (first value wins).
pub type Params = HashMap<String, String>;

pub fn api_router() -> Router<AppState> {
    Router::new()
        .route("/api/v4/system/ping", get(users::ping))
        .route("/api/v4/users/login", post(users::login))
        .route("/api/v4/users/logout", post(users::logout))
        .route("/api/v4/users/ids", post(users::users_by_ids))
        .route("/api/v4/users/username/{username}", get(users::by_username))
        .route("/api/v4/users/{user_id}", get(users::get_user))
        .route("/api/v4/users/{user_id}/image", get(media::user_image))
        .route("/api/v4/users/{user_id}/teams", get(channels::user_teams))
        .route(
            "/api/v4/users/{user_id}/teams/{team_id}/channels",
            get(channels::user_team_channels),
        )
        .route(
            "/api/v4/users/{user_id}/channels",
            get(channels::user_channels),
        )
        .route("/api/v4/channels/{channel_id}", get(channels::get_channel))
        .route(
            "/api/v4/channels/{channel_id}/posts",
            get(posts::channel_posts),
        )
        .route(
            "/api/v4/channels/{channel_id}/members",
            get(channels::channel_members),
        )
        .route("/api/v4/channels/{channel_id}/pinned", get(posts::pinned))
        .route("/api/v4/posts/{post_id}", get(posts::get_post))
        .route("/api/v4/posts/{post_id}/thread", get(posts::thread))
        .route(
            "/api/v4/posts/{post_id}/edit_history",
            get(posts::edit_history),
        )
        .route("/api/v4/posts/{post_id}/reactions", get(posts::reactions))
        .route(
            "/api/v4/posts/{post_id}/files/info",
            get(media::post_file_infos),
        )
        .route("/api/v4/teams/{team_id}", get(channels::get_team))
        .route(
            "/api/v4/teams/{team_id}/members",
            get(channels::team_members),
        )
        .route(
            "/api/v4/teams/{team_id}/channels",
            get(channels::team_public_channels),
        )
        .route("/api/v4/teams/{team_id}/image", get(media::team_image))
        .route("/api/v4/files/{file_id}", get(media::get_file))
        .route("/api/v4/files/{file_id}/info", get(media::file_info))
        .route("/api/v4/emoji", get(media::emoji_list))
        .route("/api/v4/emoji/name/{emoji_name}", get(media::emoji_by_name))
        .route("/api/v4/emoji/{emoji_id}", get(media::get_emoji))
        .route("/api/v4/emoji/{emoji_id}/image", get(media::emoji_image))
        .route("/api/v4", any(api_404))
        .route("/api/v4/", any(api_404))
        .route("/api/v4/{*rest}", any(api_404))
        .fallback(html_page)
}

async fn api_404() -> ApiError {
    ApiError::not_found_route()
}

const INDEX_HTML: &str = "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">\
<title>Mattermost</title></head><body><noscript>To use Mattermost, please enable JavaScript.\
</noscript><div id=\"root\"></div></body></html>";

/// What the webapp serves for non-API paths: index.html.
async fn html_page() -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "text/html; charset=utf-8"),
            (header::CACHE_CONTROL, "no-cache, max-age=31556926, public"),
        ],
        INDEX_HTML,
    )
        .into_response()
}

/// `page` (default 0; invalid/negative -> 0) and `per_page` (default 60, max 200, clamped;
/// invalid/negative -> 60; 0 allowed).
pub fn paging(q: &Params) -> (usize, usize) {
    let page = q
        .get("page")
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|v| *v >= 0)
        .unwrap_or(0) as usize;
    let per_page = q
        .get("per_page")
        .or_else(|| q.get("pageSize"))
        .and_then(|v| v.parse::<i64>().ok())
        .filter(|v| *v >= 0)
        .map(|v| v.min(200))
        .unwrap_or(60) as usize;
    (page, per_page)
}

/// The `page`/`per_page` window (see [`paging`]) of `items`.
pub fn paged<I: IntoIterator>(q: &Params, items: I) -> impl Iterator<Item = I::Item> {
    let (page, per_page) = paging(q);
    items
        .into_iter()
        .skip(page.saturating_mul(per_page))
        .take(per_page)
}

/// `strconv.ParseBool` (invalid -> false).
pub fn flag(q: &Params, name: &str) -> bool {
    matches!(
        q.get(name).map(|s| s.as_str()),
        Some("1" | "t" | "T" | "true" | "TRUE" | "True")
    )
}

/// A path id that must satisfy `IsValidId`, else 400 invalid_url_param.
pub fn require_id(s: &str, name: &str) -> Result<Id, ApiError> {
    Id::parse(s).ok_or_else(|| ApiError::invalid_url_param(name))
}

/// `{user_id}` which may be `me`.
pub fn require_user(s: &str, me: Id) -> Result<Id, ApiError> {
    if s == "me" {
        Ok(me)
    } else {
        require_id(s, "user_id")
    }
}

/// 200 with a JSON body.
pub fn json_resp(v: &Value) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        v.to_string(),
    )
        .into_response()
}

/// 200 with a pre-serialized JSON body.
pub fn json_str(body: String) -> Response {
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// Exact string compare of If-None-Match with the ETag.
pub fn etag_matches(h: &HeaderMap, etag: &str) -> bool {
    h.get(header::IF_NONE_MATCH)
        .is_some_and(|v| v.as_bytes() == etag.as_bytes())
}

/// 304 with the ETag and an empty body.
pub fn not_modified(etag: &str) -> Response {
    let mut r = StatusCode::NOT_MODIFIED.into_response();
    set_etag(&mut r, etag);
    r
}

pub fn set_etag(r: &mut Response, etag: &str) {
    if let Ok(v) = HeaderValue::from_str(etag) {
        r.headers_mut().insert(header::ETAG, v);
    }
}

/// JSON response with an ETag.
pub fn json_etag(v: &Value, etag: &str) -> Response {
    let mut r = json_resp(v);
    set_etag(&mut r, etag);
    r
}
