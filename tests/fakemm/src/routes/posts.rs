//! Channel posts, single posts, threads, pinned, edit history, reactions.

use super::channels::readable_channel;
use super::{
    etag_matches, flag, json_etag, json_resp, json_str, not_modified, paging, require_id, Params,
};
use crate::error::{ApiError, ApiResult};
use crate::id::Id;
use crate::posts::PostsQuery;
use crate::server::{AppState, Authed};
use crate::world::{Post, World};
use axum::extract::{Path, Query, State};
use axum::http::HeaderMap;
use serde_json::Value;

pub async fn channel_posts(
    State(s): State<AppState>,
    a: Authed,
    Path(cid): Path<String>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> ApiResult {
    let cid = require_id(&cid, "channel_id")?;
    let opt_id = |name: &str| -> Result<Option<String>, ApiError> {
        match q.get(name) {
            Some(v) if !v.is_empty() => {
                Id::parse(v).ok_or_else(|| ApiError::invalid_param(name))?;
                Ok(Some(v.clone()))
            }
            _ => Ok(None),
        }
    };
    let after = opt_id("after")?;
    let before = opt_id("before")?;
    let since = match q.get("since") {
        Some(v) if !v.is_empty() => v
            .parse::<i64>()
            .map_err(|_| ApiError::invalid_param("since"))?,
        _ => 0,
    };
    let skip = flag(&q, "skipFetchThreads");
    let (page, per_page) = paging(&q);
    if flag(&q, "include_deleted") {
        return Err(ApiError::forbidden());
    }
    let w = s.world();
    let c = readable_channel(&w, a.user, cid)?;
    // `api4/post.go getPostsForChannel` (up to v10): with
    // `TeamSettings.ExperimentalViewArchivedChannels` off, every mode (since, before, after,
    // page) of an archived channel is refused, after the read-permission check. (Of the other
    // routes the fake serves, none checks it: members and pinned posts still answer; only
    // `getUsersInChannel` and the channel bookmarks refuse as well.)
    if !w.config.view_archived_channels && c.delete_at != 0 {
        return Err(ApiError::new(
            403,
            "api.user.view_archived_channels.get_posts_for_channel.app_error",
            "Unable to get the posts of an archived channel.",
        ));
    }
    if w.config.hostile.repeat_pages && before.is_some() && after.is_none() && since == 0 {
        // Always the newest page, with a cursor that leads back to it.
        let query = PostsQuery {
            page: 0,
            per_page,
            skip_fetch_threads: skip,
            ..PostsQuery::default()
        };
        let mut out = w.posts_for_channel_out(cid.as_str(), &query);
        if let Some(oldest) = out.order().last().copied() {
            let prev = match c.live.iter().position(|(_, id)| *id == oldest) {
                Some(k) if k > 0 => c.live[k - 1].1,
                _ => oldest,
            };
            out.set_prev_post_id(prev);
        }
        return Ok(json_str(out.to_json()));
    }
    let query = PostsQuery {
        page,
        per_page,
        before,
        after,
        since,
        skip_fetch_threads: skip,
    };
    if since > 0 {
        return Ok(json_str(
            w.posts_for_channel_out(cid.as_str(), &query).to_json(),
        ));
    }
    let etag = w.channel_posts_etag(cid.as_str());
    if etag_matches(&headers, &etag) {
        return Ok(not_modified(&etag));
    }
    let mut r = json_str(w.posts_for_channel_out(cid.as_str(), &query).to_json());
    super::set_etag(&mut r, &etag);
    Ok(r)
}

/// A live (non-deleted, non-history) post the user can read: 404 / 403.
fn readable_post(w: &World, user: Id, id: Id) -> Result<&Post, ApiError> {
    let p = w
        .posts
        .get(&id)
        .filter(|p| p.delete_at == 0)
        .ok_or_else(ApiError::post_not_found)?;
    let c = w
        .channels
        .get(&p.channel_id)
        .ok_or_else(ApiError::post_not_found)?;
    if !w.can_read_channel(user, c) {
        return Err(ApiError::forbidden());
    }
    Ok(p)
}

/// A post (deleted ones too) in a channel the user can read; 403 for anything else.
pub(super) fn post_in_readable_channel(w: &World, user: Id, id: Id) -> Result<&Post, ApiError> {
    let p = w.posts.get(&id).ok_or_else(ApiError::forbidden)?;
    if !w.can_read_channel_id(user, p.channel_id) {
        return Err(ApiError::forbidden());
    }
    Ok(p)
}

pub async fn get_post(
    State(s): State<AppState>,
    a: Authed,
    Path(pid): Path<String>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> ApiResult {
    let pid = require_id(&pid, "post_id")?;
    if flag(&q, "include_deleted") {
        return Err(ApiError::forbidden());
    }
    let w = s.world();
    let p = readable_post(&w, a.user, pid)?;
    let etag = w.etag(&[&p.id, &p.update_at]);
    if etag_matches(&headers, &etag) {
        return Ok(not_modified(&etag));
    }
    Ok(json_etag(&w.post_json(p, true), &etag))
}

pub async fn thread(
    State(s): State<AppState>,
    a: Authed,
    Path(pid): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let pid = require_id(&pid, "post_id")?;
    let w = s.world();
    readable_post(&w, a.user, pid)?;
    let (v, etag) = w
        .post_thread(pid.as_str())
        .ok_or_else(ApiError::post_not_found)?;
    if etag_matches(&headers, &etag) {
        return Ok(not_modified(&etag));
    }
    Ok(json_etag(&v, &etag))
}

pub async fn pinned(
    State(s): State<AppState>,
    a: Authed,
    Path(cid): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let cid = require_id(&cid, "channel_id")?;
    let w = s.world();
    if !w.can_read_channel_id(a.user, cid) {
        return Err(ApiError::forbidden());
    }
    let (v, etag) = w.pinned_posts(cid.as_str());
    if etag_matches(&headers, &etag) {
        return Ok(not_modified(&etag));
    }
    Ok(json_etag(&v, &etag))
}

pub async fn edit_history(
    State(s): State<AppState>,
    a: Authed,
    Path(pid): Path<String>,
) -> ApiResult {
    let pid = require_id(&pid, "post_id")?;
    let w = s.world();
    let forbidden = || {
        ApiError::new(
            403,
            "api.context.permissions.app_error",
            "You do not have the appropriate permissions.",
        )
    };
    let p = w
        .posts
        .get(&pid)
        .filter(|p| p.delete_at == 0)
        .ok_or_else(forbidden)?;
    let can = w
        .channels
        .get(&p.channel_id)
        .is_some_and(|c| c.members.contains_key(&a.user));
    if p.user_id != a.user || !can {
        return Err(forbidden());
    }
    let rows = w.edit_history(pid.as_str());
    if rows.is_empty() {
        return Err(ApiError::post_not_found());
    }
    Ok(json_resp(&Value::Array(rows)))
}

pub async fn reactions(State(s): State<AppState>, a: Authed, Path(pid): Path<String>) -> ApiResult {
    let pid = require_id(&pid, "post_id")?;
    let w = s.world();
    post_in_readable_channel(&w, a.user, pid)?;
    Ok(json_resp(&Value::Array(w.reactions_json(pid))))
}
