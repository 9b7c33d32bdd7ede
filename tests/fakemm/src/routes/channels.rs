//! Teams, channel lists, channels and members.

use super::{
    etag_matches, flag, json_etag, json_resp, not_modified, paged, require_id, require_user, Params,
};
use crate::error::{ApiError, ApiResult};
use crate::id::Id;
use crate::server::{AppState, Authed, RequestId};
use crate::world::{Channel, Team, World};
use axum::extract::{Extension, Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::IntoResponse;
use serde_json::Value;

/// `include_deleted` / `last_delete_at` filter.
fn deleted_filter(q: &Params) -> Result<(bool, i64), ApiError> {
    let last = match q.get("last_delete_at") {
        Some(v) => v.parse::<i64>().unwrap_or(0),
        None => 0,
    };
    if last < 0 {
        return Err(ApiError::invalid_url_param("last_delete_at"));
    }
    Ok((flag(q, "include_deleted"), last))
}

fn keep(c: &Channel, (incl, last): (bool, i64)) -> bool {
    c.delete_at == 0 || (incl && (last == 0 || c.delete_at >= last))
}

pub async fn user_teams(
    State(s): State<AppState>,
    a: Authed,
    Path(uid): Path<String>,
) -> ApiResult {
    let uid = require_user(&uid, a.user)?;
    if uid != a.user {
        return Err(ApiError::forbidden());
    }
    let w = s.world();
    let teams: Vec<Value> = w
        .teams
        .values()
        .filter(|t| t.delete_at == 0 && w.is_team_member(t.id, uid))
        .map(|t| w.render_team(t.id.as_str()))
        .collect();
    if w.config.hostile.gzip_bomb {
        return Ok(crate::hostile::gzip_bomb());
    }
    if w.config.hostile.huge_response {
        let item = teams.first().cloned().unwrap_or(Value::Null).to_string();
        return Ok(crate::hostile::huge_array(item));
    }
    Ok(json_resp(&Value::Array(teams)))
}

/// `ChannelList.Etag()`.
fn channel_list_etag(w: &World, list: &[&Channel]) -> String {
    let mut id = "0".to_string();
    let mut t = 0i64;
    for c in list {
        if c.last_post_at > t {
            t = c.last_post_at;
            id = c.id.to_string();
        }
        if c.update_at > t {
            t = c.update_at;
            id = c.id.to_string();
        }
    }
    w.etag(&[&id, &t, &0, &list.len()])
}

pub async fn user_team_channels(
    State(s): State<AppState>,
    a: Authed,
    Path((uid, tid)): Path<(String, String)>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> ApiResult {
    let uid = require_user(&uid, a.user)?;
    let tid = require_id(&tid, "team_id")?;
    let filter = deleted_filter(&q)?;
    let w = s.world();
    if uid != a.user || !w.is_team_member(tid, uid) {
        return Err(ApiError::forbidden());
    }
    let mut list: Vec<&Channel> = w
        .channels
        .values()
        .filter(|c| (c.team_id == tid || c.team_id.is_none()) && c.members.contains_key(&uid))
        .filter(|c| keep(c, filter))
        .collect();
    list.sort_by(|a, b| (&a.display_name, a.id).cmp(&(&b.display_name, b.id)));
    if list.is_empty() {
        return Err(ApiError::channels_not_found());
    }
    let etag = channel_list_etag(&w, &list);
    if etag_matches(&headers, &etag) {
        return Ok(not_modified(&etag));
    }
    let v = Value::Array(list.iter().map(|c| w.channel_json(c)).collect());
    Ok(json_etag(&v, &etag))
}

/// Streams `[` + each channel encoded with a trailing newline, comma-separated, + `]`.
/// With no channels the body is `[` followed by an AppError (HTTP 200), like the real server.
pub async fn user_channels(
    State(s): State<AppState>,
    a: Authed,
    Path(uid): Path<String>,
    Query(q): Query<Params>,
    Extension(rid): Extension<RequestId>,
) -> ApiResult {
    let uid = require_user(&uid, a.user)?;
    let filter = deleted_filter(&q)?;
    if uid != a.user {
        return Err(ApiError::forbidden());
    }
    let w = s.world();
    let list: Vec<&Channel> = w
        .channels
        .values()
        .filter(|c| c.members.contains_key(&uid) && keep(c, filter))
        .collect();
    let mut body = String::from("[");
    if list.is_empty() {
        body.push_str(&ApiError::channels_not_found().body(&rid.0));
    } else {
        for (i, c) in list.iter().enumerate() {
            if i > 0 {
                body.push(',');
            }
            body.push_str(&w.channel_json(c).to_string());
            body.push('\n');
        }
        body.push(']');
    }
    if w.config.hostile.invalid_json {
        // Half a document (or the start of an object when there is nothing to cut).
        let mut cut = body.into_bytes();
        cut.truncate(cut.len() / 2);
        if cut.len() < 16 {
            cut = br#"[{"id": "abc", "create_at": 17"#.to_vec();
        }
        return Ok((
            StatusCode::OK,
            [(header::CONTENT_TYPE, "application/json")],
            cut,
        )
            .into_response());
    }
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response())
}

/// Looks up a channel (404) and checks read permission (403).
pub(crate) fn readable_channel(w: &World, user: Id, id: Id) -> Result<&Channel, ApiError> {
    let c = w
        .channels
        .get(&id)
        .ok_or_else(ApiError::channel_not_found)?;
    if !w.can_read_channel(user, c) {
        return Err(ApiError::forbidden());
    }
    Ok(c)
}

pub async fn get_channel(
    State(s): State<AppState>,
    a: Authed,
    Path(cid): Path<String>,
) -> ApiResult {
    let cid = require_id(&cid, "channel_id")?;
    let w = s.world();
    let c = readable_channel(&w, a.user, cid)?;
    Ok(json_resp(&w.channel_json(c)))
}

pub async fn channel_members(
    State(s): State<AppState>,
    a: Authed,
    Path(cid): Path<String>,
    Query(q): Query<Params>,
) -> ApiResult {
    let cid = require_id(&cid, "channel_id")?;
    let w = s.world();
    // Permission is checked first: an unknown channel is a 403 here.
    if !w.can_read_channel_id(a.user, cid) {
        return Err(ApiError::forbidden());
    }
    // `SqlChannelStore.GetMembers`: LIMIT/OFFSET without ORDER BY (`overlap_members`).
    let all = w.render_channel_members(cid.as_str());
    let v = crate::hostile::listing_page(&w.config.hostile, true, &q, all);
    Ok(json_resp(&Value::Array(v)))
}

/// Looks up a team (404) and checks that `user` may see it: a member, or the team is open (403).
pub(super) fn readable_team(w: &World, user: Id, id: Id) -> Result<&Team, ApiError> {
    let t = w.teams.get(&id).ok_or_else(ApiError::team_not_found)?;
    let open = t.allow_open_invite && t.team_type == 'O';
    if !open && !w.is_team_member(id, user) {
        return Err(ApiError::forbidden());
    }
    Ok(t)
}

pub async fn get_team(State(s): State<AppState>, a: Authed, Path(tid): Path<String>) -> ApiResult {
    let tid = require_id(&tid, "team_id")?;
    let w = s.world();
    readable_team(&w, a.user, tid)?;
    Ok(json_resp(&w.render_team(tid.as_str())))
}

pub async fn team_members(
    State(s): State<AppState>,
    a: Authed,
    Path(tid): Path<String>,
    Query(q): Query<Params>,
) -> ApiResult {
    let tid = require_id(&tid, "team_id")?;
    let w = s.world();
    if !w.is_team_member(tid, a.user) {
        return Err(ApiError::forbidden());
    }
    let mut all = w.render_team_members(tid.as_str());
    // `SqlTeamStore.GetMembers` with the caller's `GetViewUsersRestrictions`
    // (`applyTeamMemberViewRestrictionsFilter`): only members the caller may see.
    all.retain(|m| w.can_see_user(a.user, Id::lookup(m["user_id"].as_str().unwrap_or(""))));
    if flag(&q, "exclude_deleted_users") {
        all.retain(|m| {
            let u = Id::lookup(m["user_id"].as_str().unwrap_or(""));
            w.users.get(&u).is_some_and(|u| u.delete_at == 0)
        });
    }
    if q.get("sort").map(|s| s.as_str()) == Some("Username") {
        all.sort_by_key(|m| {
            let u = Id::lookup(m["user_id"].as_str().unwrap_or(""));
            w.users
                .get(&u)
                .map(|u| u.username.clone())
                .unwrap_or_default()
        });
    }
    let v = crate::hostile::listing_page(&w.config.hostile, false, &q, all);
    Ok(json_resp(&Value::Array(v)))
}

pub async fn team_public_channels(
    State(s): State<AppState>,
    a: Authed,
    Path(tid): Path<String>,
    Query(q): Query<Params>,
) -> ApiResult {
    let tid = require_id(&tid, "team_id")?;
    let w = s.world();
    if !w.is_team_member(tid, a.user) {
        return Err(ApiError::forbidden());
    }
    let mut list: Vec<&Channel> = w
        .channels
        .values()
        .filter(|c| c.team_id == tid && c.channel_type == 'O' && c.delete_at == 0)
        .collect();
    list.sort_by(|a, b| (&a.display_name, a.id).cmp(&(&b.display_name, b.id)));
    let v: Vec<Value> = paged(&q, list).map(|c| w.channel_json(c)).collect();
    Ok(json_resp(&Value::Array(v)))
}
