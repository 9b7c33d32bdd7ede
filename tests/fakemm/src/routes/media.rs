//! Files (streamed, with Range), file infos, profile images, team icons and custom emoji.

use super::channels::readable_team;
use super::posts::post_in_readable_channel;
use super::{
    etag_matches, json_etag, json_resp, not_modified, require_id, require_user, set_etag, Params,
};
use crate::content::{self, Kind};
use crate::error::{ApiError, ApiResult};
use crate::server::{AppState, Authed};
use crate::world::{FileInfo, World};
use axum::body::{Body, Bytes};
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

fn image_response(ct: &str, cache: &str, bytes: Vec<u8>) -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, ct.to_string()),
            (header::CACHE_CONTROL, cache.to_string()),
        ],
        bytes,
    )
        .into_response()
}

/// A stored profile image or team icon: cached for a day, with its ETag.
fn stored_image_response(ct: &str, bytes: Vec<u8>, etag: &str) -> Response {
    let mut r = image_response(ct, "max-age=86400, private", bytes);
    set_etag(&mut r, etag);
    r
}

/// File infos are cached privately for 30 days.
fn file_info_cache(mut r: Response) -> Response {
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("max-age=2592000, private"),
    );
    r
}

pub async fn user_image(
    State(s): State<AppState>,
    a: Authed,
    Path(uid): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let uid = require_user(&uid, a.user)?;
    let mut w = s.world();
    // `api4/user.go getProfileImage`: `UserCanSeeOtherUser`, else 403.
    if !w.can_see_user(a.user, uid) {
        return Err(ApiError::forbidden());
    }
    let u = w.users.get(&uid).ok_or_else(ApiError::user_not_found)?;
    let etag = u.last_picture_update.to_string();
    if etag_matches(&headers, &etag) {
        return Ok(not_modified(&etag));
    }
    // No stored picture: the default avatar is generated (and, with last_picture_update == 0,
    // written to storage, so later requests read it like an uploaded one).
    let read_failed = u.last_picture_update == 0 && !w.default_picture_written.contains(&uid);
    if u.last_picture_update == 0 {
        w.default_picture_written.insert(uid);
    }
    let (ct, bytes) = w.user_image(uid.as_str());
    if read_failed {
        Ok(image_response(&ct, "max-age=300, private", bytes))
    } else {
        Ok(stored_image_response(&ct, bytes, &etag))
    }
}

pub async fn team_image(
    State(s): State<AppState>,
    a: Authed,
    Path(tid): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let tid = require_id(&tid, "team_id")?;
    let w = s.world();
    let t = readable_team(&w, a.user, tid)?;
    let etag = t.last_team_icon_update.to_string();
    if etag_matches(&headers, &etag) {
        return Ok(not_modified(&etag));
    }
    let bytes = w.team_icon(tid.as_str()).ok_or_else(|| {
        ApiError::new(
            404,
            "api.team.get_team_icon.read_file.app_error",
            "Unable to read the team icon file.",
        )
    })?;
    Ok(stored_image_response("image/png", bytes, &etag))
}

/// A non-deleted file the user may read (uploader or channel reader): 404 / 403.
fn readable_file(w: &World, user: crate::id::Id, fid: crate::id::Id) -> Result<FileInfo, ApiError> {
    let f = w
        .files
        .get(&fid)
        .filter(|f| f.delete_at == 0)
        .ok_or_else(ApiError::file_not_found)?;
    if f.user_id != user && !w.can_read_channel_id(user, f.channel_id) {
        return Err(ApiError::forbidden());
    }
    Ok(f.clone())
}

/// Go's `url.PathEscape`.
pub fn path_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-_.~$&+:=@".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// RFC 7231 IMF-fixdate.
pub fn http_date(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (h, m, s) = (rem / 3600, rem % 3600 / 60, rem % 60);
    // civil_from_days (Howard Hinnant).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let mo = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + if mo <= 2 { 1 } else { 0 };
    let wd = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"][days.rem_euclid(7) as usize];
    let mon = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][(mo - 1) as usize];
    format!("{wd}, {d:02} {mon} {y} {h:02}:{m:02}:{s:02} GMT")
}

/// Parses a single `bytes=` range against `size`: Ok(None) = no/ignored range,
/// Err(()) = unsatisfiable.
fn parse_range(h: &str, size: u64) -> Result<Option<(u64, u64)>, ()> {
    let Some(spec) = h.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let (a, b) = spec.split_once('-').ok_or(())?;
    let (a, b) = (a.trim(), b.trim());
    if a.is_empty() {
        let n: u64 = b.parse().map_err(|_| ())?;
        if n == 0 || size == 0 {
            return Err(());
        }
        let n = n.min(size);
        return Ok(Some((size - n, size - 1)));
    }
    let start: u64 = a.parse().map_err(|_| ())?;
    if start >= size {
        return Err(());
    }
    let end = if b.is_empty() {
        size - 1
    } else {
        let e: u64 = b.parse().map_err(|_| ())?;
        if e < start {
            return Err(());
        }
        e.min(size - 1)
    };
    Ok(Some((start, end)))
}

const UNSAFE_TYPES: &[&str] = &[
    "application/javascript",
    "application/ecmascript",
    "text/javascript",
    "text/ecmascript",
    "application/x-javascript",
    "text/html",
];

pub async fn get_file(
    State(s): State<AppState>,
    a: Authed,
    Path(fid): Path<String>,
    Query(q): Query<Params>,
    headers: HeaderMap,
) -> ApiResult {
    let fid = require_id(&fid, "file_id")?;
    let (f, seed, hostile, gzip_mode) = {
        let w = s.world();
        (
            readable_file(&w, a.user, fid)?,
            w.seed,
            w.config.hostile,
            w.config.webserver_mode == crate::gzip::WebserverMode::Gzip,
        )
    };
    let mut ct = if f.mime_type.is_empty() {
        "application/octet-stream".to_string()
    } else {
        f.mime_type.clone()
    };
    if UNSAFE_TYPES.iter().any(|u| ct.starts_with(u)) {
        ct = "text/plain".into();
    }
    let media = ct.starts_with("image") || ct.starts_with("video") || ct.starts_with("audio");
    let download = super::flag(&q, "download");
    let disp = if media && !download {
        "inline"
    } else {
        "attachment"
    };
    let esc = path_escape(&f.name);
    let size = f.size;
    let mut hm = HeaderMap::new();
    let mut put = |k: header::HeaderName, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            hm.insert(k, v);
        }
    };
    put(header::CONTENT_TYPE, ct);
    put(
        header::CONTENT_DISPOSITION,
        format!("{disp};filename=\"{esc}\"; filename*=UTF-8''{esc}"),
    );
    put(header::ACCEPT_RANGES, "bytes".into());
    if gzip_mode && size > 0 {
        // WriteFileResponse: in gzip mode the size goes here instead of Content-Length
        // (http.ServeContent still sets Content-Length to the bytes sent, which the gzip
        // handler removes when it compresses).
        put(
            header::HeaderName::from_static("x-uncompressed-content-length"),
            size.to_string(),
        );
    }
    put(header::LAST_MODIFIED, http_date(f.update_at));
    put(
        header::CACHE_CONTROL,
        "public, max-age=31536000, immutable".into(),
    );
    put(header::X_FRAME_OPTIONS, "DENY".into());
    put(
        header::CONTENT_SECURITY_POLICY,
        "Frame-ancestors 'none'".into(),
    );
    let (status, start, end) = match headers
        .get(header::RANGE)
        .and_then(|v| v.to_str().ok())
        .map(|r| parse_range(r, size))
    {
        Some(Err(())) => {
            put(header::CONTENT_RANGE, format!("bytes */{size}"));
            put(header::CONTENT_TYPE, "text/plain; charset=utf-8".into());
            let mut r = (
                StatusCode::RANGE_NOT_SATISFIABLE,
                "invalid range: failed to overlap\n",
            )
                .into_response();
            r.headers_mut().extend(hm);
            return Ok(r);
        }
        Some(Ok(Some((a, b)))) => {
            put(header::CONTENT_RANGE, format!("bytes {a}-{b}/{size}"));
            (StatusCode::PARTIAL_CONTENT, a, b + 1)
        }
        _ => (StatusCode::OK, 0, size),
    };
    let key = content::file_key(seed, f.id);
    let mut body = stream_body(f.kind, key, size, start, end);
    if hostile.file_size_mismatch {
        body = crate::hostile::longer_body(body);
    } else if hostile.file_size_short {
        body = crate::hostile::shorter_body(body, (end - start) / 2);
    } else {
        put(header::CONTENT_LENGTH, (end - start).to_string());
    }
    let mut r = (status, body).into_response();
    r.headers_mut().extend(hm);
    Ok(r)
}

/// Streams bytes `[start, end)` in 64 KiB chunks (images are generated once, they are small).
fn stream_body(kind: Kind, key: u64, size: u64, start: u64, end: u64) -> Body {
    if kind.is_image() {
        let all = content::image_bytes(kind, key, size);
        return Body::from(all[start as usize..end as usize].to_vec());
    }
    const CHUNK: u64 = 64 * 1024;
    let stream = futures_util::stream::unfold(start, move |pos| async move {
        if pos >= end {
            return None;
        }
        let n = CHUNK.min(end - pos);
        let mut buf = vec![0u8; n as usize];
        content::fill_range(kind, key, size, pos, &mut buf);
        Some((Ok::<Bytes, std::io::Error>(Bytes::from(buf)), pos + n))
    });
    Body::from_stream(stream)
}

pub async fn file_info(State(s): State<AppState>, a: Authed, Path(fid): Path<String>) -> ApiResult {
    let fid = require_id(&fid, "file_id")?;
    let w = s.world();
    let f = readable_file(&w, a.user, fid)?;
    Ok(file_info_cache(json_resp(
        &w.render_file_info(f.id.as_str()),
    )))
}

pub async fn post_file_infos(
    State(s): State<AppState>,
    a: Authed,
    Path(pid): Path<String>,
    headers: HeaderMap,
) -> ApiResult {
    let pid = require_id(&pid, "post_id")?;
    let w = s.world();
    let p = post_in_readable_channel(&w, a.user, pid)?;
    let infos: Vec<&FileInfo> = p
        .file_ids
        .iter()
        .filter_map(|f| w.files.get(f))
        .filter(|f| f.delete_at == 0)
        .collect();
    let etag = match infos.first() {
        None => w.config.server_version.clone(),
        Some(first) => {
            let max = infos.iter().map(|f| f.update_at).max().unwrap_or(0);
            w.etag(&[&first.post_id, &max])
        }
    };
    if etag_matches(&headers, &etag) {
        return Ok(not_modified(&etag));
    }
    let v = Value::Array(
        infos
            .iter()
            .map(|f| w.render_file_info(f.id.as_str()))
            .collect(),
    );
    Ok(file_info_cache(json_etag(&v, &etag)))
}

fn emoji_enabled(w: &World) -> Result<(), ApiError> {
    if w.config.custom_emoji_enabled {
        Ok(())
    } else {
        Err(ApiError::emoji_disabled())
    }
}

pub async fn emoji_list(
    State(s): State<AppState>,
    _a: Authed,
    Query(q): Query<Params>,
) -> ApiResult {
    let w = s.world();
    emoji_enabled(&w)?;
    let sort = q.get("sort").map(|s| s.as_str()).unwrap_or("");
    if !matches!(sort, "" | "name") {
        return Err(ApiError::invalid_url_param("sort"));
    }
    let mut list: Vec<_> = w.emojis.values().filter(|e| e.delete_at == 0).collect();
    if sort == "name" {
        list.sort_by(|a, b| a.name.cmp(&b.name));
    }
    let list: Vec<Value> = list
        .into_iter()
        .map(|e| w.render_emoji(e.id.as_str()))
        .collect();
    let v = crate::hostile::listing_page(&w.config.hostile, false, &q, list);
    Ok(json_resp(&Value::Array(v)))
}

pub async fn get_emoji(
    State(s): State<AppState>,
    _a: Authed,
    Path(eid): Path<String>,
) -> ApiResult {
    let w = s.world();
    emoji_enabled(&w)?;
    let eid = require_id(&eid, "emoji_id")?;
    match w.emojis.get(&eid) {
        Some(e) if e.delete_at == 0 => Ok(json_resp(&w.render_emoji(eid.as_str()))),
        _ => Err(ApiError::emoji_not_found()),
    }
}

pub async fn emoji_by_name(
    State(s): State<AppState>,
    _a: Authed,
    Path(name): Path<String>,
) -> ApiResult {
    let w = s.world();
    emoji_enabled(&w)?;
    let valid = !name.is_empty()
        && name.len() <= 64
        && name
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || b"_-+".contains(&c));
    if !valid {
        return Err(ApiError::invalid_url_param("emoji_name"));
    }
    match w.emoji_by_name(&name) {
        Some(e) => Ok(json_resp(&w.render_emoji(e.id.as_str()))),
        None => Err(ApiError::new(
            404,
            "app.emoji.get_by_name.no_result",
            "Unable to find the emoji.",
        )),
    }
}

pub async fn emoji_image(
    State(s): State<AppState>,
    _a: Authed,
    Path(eid): Path<String>,
) -> ApiResult {
    let w = s.world();
    emoji_enabled(&w)?;
    let eid = require_id(&eid, "emoji_id")?;
    match w.emojis.get(&eid) {
        Some(e) if e.delete_at == 0 => {
            let (ct, bytes) = w.emoji_image(eid.as_str());
            Ok(image_response(&ct, "max-age=2592000, private", bytes))
        }
        _ => Err(ApiError::emoji_not_found()),
    }
}
