//! The `/__fake/` control interface (stats and mutations) for out-of-process use. Not counted.

use crate::server::AppState;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{json, Value};

type Res = Result<Json<Value>, (StatusCode, String)>;

fn done(r: Result<String, String>) -> Res {
    r.map(|id| Json(json!({ "id": id })))
        .map_err(|e| (StatusCode::BAD_REQUEST, e))
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/__fake/stats", get(stats))
        .route("/__fake/reset-stats", post(reset_stats))
        .route("/__fake/world", get(world_summary))
        .route("/__fake/posts", post(add_post))
        .route("/__fake/posts/{id}/edit", post(edit_post))
        .route("/__fake/posts/{id}/delete", post(delete_post))
        .route("/__fake/posts/{id}/pin", post(pin_post))
        .route("/__fake/posts/{id}/reactions", post(reaction))
        .route("/__fake/channels", post(add_channel))
        .route("/__fake/channels/{id}/archive", post(archive_channel))
        .route("/__fake/channels/{id}/members", post(channel_member))
        .route("/__fake/users", post(add_user))
        .route("/__fake/users/{id}/picture", post(picture))
        .route("/__fake/users/{id}/deactivate", post(deactivate))
        .route("/__fake/teams/{id}/icon", post(team_icon))
        .route("/__fake/emojis", post(add_emoji))
        .route("/__fake/config", post(config))
        .route("/__fake/faults", get(get_faults).post(set_faults))
        .route("/__fake/hostile", get(get_hostile).post(set_hostile))
}

async fn stats(State(s): State<AppState>) -> Json<Value> {
    Json(json!({
        "total": s.total.load(std::sync::atomic::Ordering::SeqCst),
        "counts": s.counts_snapshot(),
        "faults": s.faults_injected.load(std::sync::atomic::Ordering::SeqCst),
        "rate_limited": s.rate_limited.load(std::sync::atomic::Ordering::SeqCst),
    }))
}

fn faults_json(s: &AppState) -> Value {
    let f = s.world().config.faults.clone();
    json!({
        "faults": f,
        "injected": s.faults_injected.load(std::sync::atomic::Ordering::SeqCst),
    })
}

/// `{"faults": {rate, seed, kinds, latency_ms, slow_ms, too_many_burst}, "injected": n}`.
async fn get_faults(State(s): State<AppState>) -> Json<Value> {
    Json(faults_json(&s))
}

/// Replaces the fault configuration (missing fields take their defaults, so `{}` turns faults
/// off) and restarts the fault sequence.
async fn set_faults(
    State(s): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, (StatusCode, String)> {
    let f: crate::faults::Faults = serde_json::from_slice(&body)
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("bad faults: {e}")))?;
    if !(0.0..=1.0).contains(&f.rate) {
        return Err((StatusCode::BAD_REQUEST, "rate must be in [0, 1]".into()));
    }
    if f.latency_ms.is_some_and(|(lo, hi)| lo > hi) {
        return Err((StatusCode::BAD_REQUEST, "latency_ms: min > max".into()));
    }
    s.set_faults(f);
    Ok(Json(faults_json(&s)))
}

fn hostile_json(s: &AppState) -> Value {
    use std::sync::atomic::Ordering;
    let h = s.world().config.hostile;
    json!({
        "hostile": h,
        "token_leaked": s.other.leaked.load(Ordering::SeqCst),
        "other_host_requests": s.other.requests.load(Ordering::SeqCst),
        "other_host_url": s.other.url.get().cloned().unwrap_or_default(),
    })
}

/// `{"hostile": {mode: bool, ...}, "token_leaked": bool, "other_host_requests": n,
/// "other_host_url": "http://127.0.0.2:PORT"}`.
async fn get_hostile(State(s): State<AppState>) -> Json<Value> {
    Json(hostile_json(&s))
}

#[derive(Deserialize)]
struct HostileSwitch {
    mode: String,
    #[serde(default = "yes")]
    on: bool,
}

/// `{"mode": "repeat_pages", "on": true}`.
async fn set_hostile(
    State(s): State<AppState>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, (StatusCode, String)> {
    let b: HostileSwitch = serde_json::from_slice(&body)
        .map_err(|e| (StatusCode::BAD_REQUEST, format!("bad body: {e}")))?;
    let mode: crate::hostile::HostileMode =
        b.mode.parse().map_err(|e| (StatusCode::BAD_REQUEST, e))?;
    s.world().config.hostile.set(mode, b.on);
    Ok(Json(hostile_json(&s)))
}

async fn reset_stats(State(s): State<AppState>) -> Json<Value> {
    s.reset_counts();
    Json(json!({"status": "OK"}))
}

/// Notable ids for scripting: users, teams, channels (by team/name).
async fn world_summary(State(s): State<AppState>) -> Json<Value> {
    let w = s.world();
    let users: serde_json::Map<String, Value> = w
        .users
        .values()
        .map(|u| (u.username.clone(), json!(u.id)))
        .collect();
    let teams: serde_json::Map<String, Value> = w
        .teams
        .values()
        .map(|t| (t.name.clone(), json!(t.id)))
        .collect();
    let channels: Vec<Value> = w
        .channels
        .values()
        .map(|c| {
            let team = w
                .teams
                .get(&c.team_id)
                .map(|t| t.name.as_str())
                .unwrap_or("");
            json!({"id": c.id, "team": team, "name": c.name, "type": c.channel_type.to_string(),
                   "display_name": c.display_name, "posts": c.live.len()})
        })
        .collect();
    Json(json!({"users": users, "teams": teams, "channels": channels}))
}

#[derive(Deserialize)]
struct FileSpec {
    name: String,
    mime: String,
    size: u64,
}

#[derive(Deserialize)]
struct NewPost {
    channel_id: String,
    /// user id or username
    user: String,
    message: String,
    #[serde(default)]
    root_id: Option<String>,
    #[serde(default)]
    files: Vec<FileSpec>,
    /// An explicit, older `create_at` (an import): see `World::import_post`. No files then.
    #[serde(default)]
    create_at: Option<i64>,
}

async fn add_post(State(s): State<AppState>, Json(b): Json<NewPost>) -> Res {
    if let Some(t) = b.create_at {
        return done(s.world().import_post(
            &b.channel_id,
            &b.user,
            &b.message,
            b.root_id.as_deref(),
            t,
        ));
    }
    let files = b
        .files
        .into_iter()
        .map(|f| (f.name, f.mime, f.size))
        .collect();
    done(s.world().add_post(
        &b.channel_id,
        &b.user,
        &b.message,
        b.root_id.as_deref(),
        files,
    ))
}

#[derive(Deserialize)]
struct Edit {
    message: String,
}

async fn edit_post(State(s): State<AppState>, Path(id): Path<String>, Json(b): Json<Edit>) -> Res {
    done(s.world().edit_post(&id, &b.message))
}

async fn delete_post(State(s): State<AppState>, Path(id): Path<String>) -> Res {
    done(s.world().delete_post(&id))
}

#[derive(Deserialize)]
struct Pin {
    #[serde(default = "yes")]
    pinned: bool,
}
fn yes() -> bool {
    true
}

async fn pin_post(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Option<Json<Pin>>,
) -> Res {
    let pinned = body.map(|b| b.pinned).unwrap_or(true);
    done(s.world().set_pinned(&id, pinned))
}

#[derive(Deserialize)]
struct React {
    user: String,
    emoji_name: String,
    #[serde(default)]
    remove: bool,
}

async fn reaction(State(s): State<AppState>, Path(id): Path<String>, Json(b): Json<React>) -> Res {
    let mut w = s.world();
    done(if b.remove {
        w.remove_reaction(&id, &b.user, &b.emoji_name)
    } else {
        w.add_reaction(&id, &b.user, &b.emoji_name)
    })
}

#[derive(Deserialize)]
struct NewChannel {
    #[serde(default)]
    team_id: String,
    #[serde(rename = "type")]
    channel_type: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    members: Vec<String>,
}

async fn add_channel(State(s): State<AppState>, Json(b): Json<NewChannel>) -> Res {
    let ty = b.channel_type.chars().next().unwrap_or('O');
    done(
        s.world()
            .add_channel(&b.team_id, ty, &b.name, &b.display_name, b.members),
    )
}

async fn archive_channel(State(s): State<AppState>, Path(id): Path<String>) -> Res {
    done(s.world().archive_channel(&id))
}

#[derive(Deserialize)]
struct Member {
    user: String,
    #[serde(default)]
    remove: bool,
}

async fn channel_member(
    State(s): State<AppState>,
    Path(id): Path<String>,
    Json(b): Json<Member>,
) -> Res {
    let mut w = s.world();
    done(if b.remove {
        w.remove_channel_member(&id, &b.user)
    } else {
        w.add_channel_member(&id, &b.user)
    })
}

#[derive(Deserialize)]
struct NewUser {
    username: String,
    password: String,
    #[serde(default)]
    teams: Vec<String>,
}

async fn add_user(State(s): State<AppState>, Json(b): Json<NewUser>) -> Res {
    let mut w = s.world();
    let id = w.add_user(&b.username, &b.password);
    if let Ok(uid) = &id {
        for t in &b.teams {
            let tid = w
                .team_by_name(t)
                .map(|t| t.id.to_string())
                .unwrap_or(t.clone());
            if let Err(e) = w.add_team_member(&tid, uid) {
                return Err((StatusCode::BAD_REQUEST, e));
            }
        }
    }
    done(id)
}

#[derive(Deserialize, Default)]
struct Picture {
    /// Remove the picture (back to the generated default) instead of uploading a new one.
    #[serde(default)]
    remove: bool,
}

/// `{}` (or no body): a new picture is uploaded; `{"remove": true}`: the picture is removed.
async fn picture(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: Option<Json<Picture>>,
) -> Res {
    let b = body.map(|b| b.0).unwrap_or_default();
    let mut w = s.world();
    done(if b.remove {
        w.remove_profile_picture(&id)
    } else {
        w.set_profile_picture(&id)
    })
}

async fn deactivate(State(s): State<AppState>, Path(id): Path<String>) -> Res {
    done(s.world().deactivate_user(&id))
}

async fn team_icon(State(s): State<AppState>, Path(id): Path<String>) -> Res {
    done(s.world().set_team_icon(&id))
}

#[derive(Deserialize)]
struct NewEmoji {
    name: String,
    creator: String,
}

async fn add_emoji(State(s): State<AppState>, Json(b): Json<NewEmoji>) -> Res {
    done(s.world().add_emoji(&b.name, &b.creator))
}

#[derive(Deserialize)]
struct ConfigPatch {
    custom_emoji_enabled: Option<bool>,
    /// `[per_sec, burst]`; `[0, 0]` disables rate limiting.
    rate_limit: Option<(u32, u32)>,
    /// `RateLimitSettings.VaryByUser`.
    rate_limit_vary_by_user: Option<bool>,
    max_payload_bytes: Option<usize>,
    server_version: Option<String>,
    /// "gzip", "uncompressed" or "disabled".
    webserver_mode: Option<crate::gzip::WebserverMode>,
    /// The server clock's distance from the wall clock (ms).
    clock_offset_ms: Option<i64>,
    /// Drop some posts from `before` pages before the cursors are computed.
    filter_before_pages: Option<bool>,
    /// `TeamSettings.ExperimentalViewArchivedChannels`.
    view_archived_channels: Option<bool>,
    /// Callers without `view_members` see only users who share a channel with them.
    restrict_view_members: Option<bool>,
}

async fn config(State(s): State<AppState>, Json(b): Json<ConfigPatch>) -> Response {
    let mut w = s.world();
    let mut c = w.config.clone();
    if let Some(v) = b.custom_emoji_enabled {
        c.custom_emoji_enabled = v;
    }
    if let Some((per_sec, burst)) = b.rate_limit {
        c.rate_limit = (per_sec > 0).then_some((per_sec, burst));
    }
    if let Some(v) = b.rate_limit_vary_by_user {
        c.rate_limit_vary_by_user = v;
    }
    if let Some(v) = b.max_payload_bytes {
        c.max_payload_bytes = v;
    }
    if let Some(v) = b.server_version {
        c.server_version = v;
    }
    if let Some(v) = b.webserver_mode {
        c.webserver_mode = v;
    }
    if let Some(v) = b.clock_offset_ms {
        c.clock_offset_ms = v;
    }
    if let Some(v) = b.filter_before_pages {
        c.filter_before_pages = v;
    }
    if let Some(v) = b.view_archived_channels {
        c.view_archived_channels = v;
    }
    if let Some(v) = b.restrict_view_members {
        c.restrict_view_members = v;
    }
    w.set_config(c);
    Json(json!({"status": "OK"})).into_response()
}
