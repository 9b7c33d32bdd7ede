//! Login/logout, users, users by ids, ping.

use super::{etag_matches, json_etag, json_resp, not_modified, require_user, Params};
use crate::error::{ApiError, ApiResult};
use crate::id::Id;
use crate::server::{AppState, Authed};
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue};
use axum::response::IntoResponse;
use serde_json::{json, Value};

pub async fn ping() -> ApiResult {
    Ok(json_resp(&json!({
        "ActiveSearchBackend": "database",
        "AndroidLatestVersion": "",
        "AndroidMinVersion": "",
        "IosLatestVersion": "",
        "IosMinVersion": "",
        "status": "OK"
    })))
}

fn invalid_credentials() -> ApiError {
    ApiError::new(
        401,
        "api.user.login.invalid_credentials_email_username",
        "Enter a valid email or username and/or password.",
    )
}

pub async fn login(State(s): State<AppState>, body: Bytes) -> ApiResult {
    if s.world().config.hostile.html_login {
        return Ok((
            axum::http::StatusCode::OK,
            [(axum::http::header::CONTENT_TYPE, "text/html; charset=utf-8")],
            crate::hostile::LOGIN_HTML,
        )
            .into_response());
    }
    let props: serde_json::Map<String, Value> = serde_json::from_slice(&body).unwrap_or_default();
    let get = |k: &str| props.get(k).and_then(|v| v.as_str()).unwrap_or("");
    let (login_id, password) = (get("login_id").to_lowercase(), get("password").to_string());
    let mut w = s.world();
    let user = w
        .users
        .values()
        .find(|u| !login_id.is_empty() && (u.username == login_id || u.email == login_id))
        .cloned()
        .ok_or_else(invalid_credentials)?;
    if user.delete_at != 0 {
        return Err(ApiError::new(
            401,
            "api.user.login.inactive.app_error",
            "Login failed because your account has been deactivated. Please contact an administrator.",
        ));
    }
    if password.is_empty() || user.password != password {
        return Err(invalid_credentials());
    }
    // As `CheckPasswordAndAllCriteria`: MFA after the password. Both errors pass the login
    // handler's masking; `authenticateUser` makes the 400 of a malformed code a 401.
    if !user.mfa_secret.is_empty() {
        match crate::totp::check(&user.mfa_secret, get("token"), crate::totp::now()) {
            crate::totp::Check::Ok => {}
            crate::totp::Check::Malformed => {
                return Err(ApiError::new(
                    401,
                    "mfa.validate_token.authenticate.app_error",
                    "Error trying to authenticate MFA token.",
                ))
            }
            crate::totp::Check::Wrong => {
                return Err(ApiError::new(
                    401,
                    "api.user.check_user_mfa.bad_code.app_error",
                    "Invalid MFA token.",
                ))
            }
        }
    }
    let token = w
        .create_session(user.id.as_str())
        .map_err(|_| invalid_credentials())?;
    let mut r = json_resp(&w.user_json(&user, true));
    if let Ok(v) = HeaderValue::from_str(&token) {
        r.headers_mut().insert("Token", v);
    }
    Ok(r)
}

pub async fn logout(State(s): State<AppState>, headers: HeaderMap) -> ApiResult {
    if let Some(tok) = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|a| a.split_once(' ').map(|(_, t)| t.trim().to_string()))
    {
        s.world().sessions.remove(&tok);
    }
    Ok(json_resp(&json!({"status": "OK"})))
}

pub async fn get_user(
    State(s): State<AppState>,
    a: Authed,
    Path(uid): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let id = require_user(&uid, a.user)?;
    let w = s.world();
    // `api4/user.go getUser`: `UserCanSeeOtherUser` first, so a hidden user is 403
    // (`PermissionViewMembers`) whether or not it exists.
    if !w.can_see_user(a.user, id) {
        return Err(ApiError::forbidden());
    }
    let u = w.users.get(&id).ok_or_else(ApiError::user_not_found)?;
    let etag = w.user_etag(u);
    if etag_matches(&headers, &etag) {
        return Ok(not_modified(&etag));
    }
    Ok(json_etag(&w.user_json(u, u.id == a.user), &etag))
}

fn valid_username(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.as_bytes()[0].is_ascii_lowercase()
        && s.bytes()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b".-_".contains(&c))
}

pub async fn by_username(
    State(s): State<AppState>,
    a: Authed,
    Path(name): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    if !valid_username(&name) {
        return Err(ApiError::invalid_param("username"));
    }
    let w = s.world();
    // `api4/user.go getUserByUsername`: a caller with view restrictions gets 403 for a user it
    // may not see, and for an unknown name (existence is not leaked).
    match w.user_by_name(&name) {
        Some(u) if !w.can_see_user(a.user, u.id) => return Err(ApiError::forbidden()),
        None if w.view_restricted(a.user) => return Err(ApiError::forbidden()),
        _ => {}
    }
    let u = w.user_by_name(&name).ok_or_else(|| {
        ApiError::new(
            404,
            "app.user.get_by_username.app_error",
            "Unable to find an existing account matching your username for this team. This team may require an invite from the team owner to join.",
        )
    })?;
    let etag = w.user_etag(u);
    if etag_matches(&headers, &etag) {
        return Ok(not_modified(&etag));
    }
    Ok(json_etag(&w.user_json(u, u.id == a.user), &etag))
}

pub async fn users_by_ids(
    State(s): State<AppState>,
    a: Authed,
    Query(q): Query<Params>,
    body: Bytes,
) -> ApiResult {
    let w = s.world();
    if body.len() > w.config.max_payload_bytes {
        return Err(ApiError::new(
            413,
            "api.context.request_body_too_large.app_error",
            "The request body is too large.",
        ));
    }
    let since = match q.get("since") {
        Some(v) if !v.is_empty() => v
            .parse::<i64>()
            .map_err(|_| ApiError::invalid_param("since"))?,
        _ => 0,
    };
    let ids: Vec<String> =
        serde_json::from_slice(&body).map_err(|_| ApiError::invalid_param("user_ids"))?;
    if ids.is_empty() {
        return Err(ApiError::invalid_param("user_ids"));
    }
    let mut users: Vec<_> = ids
        .iter()
        .map(|i| Id::lookup(i))
        .collect::<std::collections::BTreeSet<_>>()
        .into_iter()
        .filter_map(|i| w.users.get(&i))
        .filter(|u| since == 0 || u.update_at > since)
        // `getUsersByIds` passes `GetViewUsersRestrictions` to `GetUsersByIds`: users the
        // caller may not see are left out, silently.
        .filter(|u| w.can_see_user(a.user, u.id))
        .collect();
    users.sort_by(|a, b| a.username.cmp(&b.username));
    let arr: Vec<Value> = users.iter().map(|u| w.user_json(u, false)).collect();
    Ok(json_resp(&Value::Array(arr)).into_response())
}
