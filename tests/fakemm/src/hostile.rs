//! Hostile-server modes: a server (or something pretending to be one) that tries to make the
//! client leak its token, loop forever, run out of memory, or store wrong data. All off by
//! default; they live in `World.config.hostile`.

use crate::server::AppState;
use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::OnceLock;

/// The switches. JSON form: `{"redirect_other_host": false, "repeat_pages": false, ...}`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Hostile {
    /// Every `/api/v4` request but `POST /users/login` answers `302 Found` to the same path
    /// on another host ([`crate::FakeServer::other_host_url`]).
    pub redirect_other_host: bool,
    /// `GET /channels/{id}/posts?before=…` always answers the newest page, with a non-empty
    /// `prev_post_id`.
    pub repeat_pages: bool,
    /// `GET /users/{id}/teams` streams a 2 GiB JSON array without `Content-Length`.
    pub huge_response: bool,
    /// `GET /users/{id}/channels` answers 200 `application/json` with half a JSON document.
    pub invalid_json: bool,
    /// `POST /users/login` answers 200 `text/html` with a login page.
    pub html_login: bool,
    /// `GET /files/{id}`: no `Content-Length` (chunked) and 4096 bytes more than the file size.
    pub file_size_mismatch: bool,
    /// `GET /files/{id}`: no `Content-Length` (chunked) and a body that ends cleanly after
    /// half of the file.
    pub file_size_short: bool,
    /// `GET /users/{id}/teams` answers `Content-Encoding: gzip` (whatever the request
    /// accepts) with about 100 KB that inflate to [`crate::gzip::BOMB_BYTES`] (96 MiB) of JSON.
    pub gzip_bomb: bool,
    /// `GET /channels/{id}/members`, `GET /teams/{id}/members` and `GET /emoji`: every page
    /// answers the listing's first items, repeated to fill a full page (`per_page` items), so
    /// the listing never ends (a proxy that caches one answer whatever the query string).
    pub repeat_listings: bool,
    /// `GET /channels/{id}/members`: page `p` starts at row `p × (per_page − 1)`, so every
    /// page repeats the last member of the page before it. `SqlChannelStore.GetMembers` pages with
    /// `LIMIT`/`OFFSET` and no `ORDER BY`, so a live database may return overlapping pages;
    /// this is the stable form of that.
    pub overlap_members: bool,
    /// `GET /emoji` (the list) and `GET /files/{id}` of one file ([`Hostile::trickle_file`])
    /// send their body one byte every [`Hostile::trickle_ms`] ms: never silent, never done.
    pub trickle: bool,
    /// The file `trickle` slows down; `None`: the file with the smallest id.
    #[serde(skip)]
    pub trickle_file: Option<crate::id::Id>,
    /// Milliseconds between two bytes of a `trickle` answer; 0 means 1000.
    pub trickle_ms: u64,
    /// Every `/api/v4` answer says its rate-limit bucket is empty and refills in about 32
    /// years: `X-RateLimit-Limit: 1`, `X-RateLimit-Remaining: 0`, `X-RateLimit-Reset:
    /// 999999999` (in place of the limiter's headers). No real limiter says this: throttled's
    /// `ResetAfter` is at most (burst + 1) / rate.
    pub endless_reset: bool,
}

/// One switch of [`Hostile`]; JSON / CLI names are the snake_case field names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HostileMode {
    RedirectOtherHost,
    RepeatPages,
    HugeResponse,
    InvalidJson,
    HtmlLogin,
    FileSizeMismatch,
    FileSizeShort,
    GzipBomb,
    RepeatListings,
    OverlapMembers,
    Trickle,
    EndlessReset,
}

impl HostileMode {
    pub const ALL: [HostileMode; 12] = [
        HostileMode::RedirectOtherHost,
        HostileMode::RepeatPages,
        HostileMode::HugeResponse,
        HostileMode::InvalidJson,
        HostileMode::HtmlLogin,
        HostileMode::FileSizeMismatch,
        HostileMode::FileSizeShort,
        HostileMode::GzipBomb,
        HostileMode::RepeatListings,
        HostileMode::OverlapMembers,
        HostileMode::Trickle,
        HostileMode::EndlessReset,
    ];

    pub fn name(self) -> &'static str {
        match self {
            HostileMode::RedirectOtherHost => "redirect_other_host",
            HostileMode::RepeatPages => "repeat_pages",
            HostileMode::HugeResponse => "huge_response",
            HostileMode::InvalidJson => "invalid_json",
            HostileMode::HtmlLogin => "html_login",
            HostileMode::FileSizeMismatch => "file_size_mismatch",
            HostileMode::FileSizeShort => "file_size_short",
            HostileMode::GzipBomb => "gzip_bomb",
            HostileMode::RepeatListings => "repeat_listings",
            HostileMode::OverlapMembers => "overlap_members",
            HostileMode::Trickle => "trickle",
            HostileMode::EndlessReset => "endless_reset",
        }
    }
}

impl std::str::FromStr for HostileMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        HostileMode::ALL
            .into_iter()
            .find(|m| m.name() == s)
            .ok_or_else(|| {
                let all: Vec<&str> = HostileMode::ALL.iter().map(|m| m.name()).collect();
                format!("unknown hostile mode {s:?} ({})", all.join(", "))
            })
    }
}

impl Hostile {
    fn field(&mut self, m: HostileMode) -> &mut bool {
        match m {
            HostileMode::RedirectOtherHost => &mut self.redirect_other_host,
            HostileMode::RepeatPages => &mut self.repeat_pages,
            HostileMode::HugeResponse => &mut self.huge_response,
            HostileMode::InvalidJson => &mut self.invalid_json,
            HostileMode::HtmlLogin => &mut self.html_login,
            HostileMode::FileSizeMismatch => &mut self.file_size_mismatch,
            HostileMode::FileSizeShort => &mut self.file_size_short,
            HostileMode::GzipBomb => &mut self.gzip_bomb,
            HostileMode::RepeatListings => &mut self.repeat_listings,
            HostileMode::OverlapMembers => &mut self.overlap_members,
            HostileMode::Trickle => &mut self.trickle,
            HostileMode::EndlessReset => &mut self.endless_reset,
        }
    }
    pub fn set(&mut self, m: HostileMode, on: bool) {
        *self.field(m) = on;
    }
    pub fn get(&self, m: HostileMode) -> bool {
        let mut c = *self;
        *c.field(m)
    }
}

/// One page of a listing under the hostile modes: `repeat_listings` (the first items, repeated
/// to `per_page`), `overlap_members` when `overlap` (each page starts one row
/// earlier, so that it repeats the last item of the page before), else the page as the server
/// pages it.
pub fn listing_page<T: Clone>(
    h: &Hostile,
    overlap: bool,
    q: &crate::routes::Params,
    all: Vec<T>,
) -> Vec<T> {
    let (page, per_page) = crate::routes::paging(q);
    if h.repeat_listings {
        return all.iter().cycle().take(per_page).cloned().collect();
    }
    let start = if overlap && h.overlap_members && per_page > 1 {
        page.saturating_mul(per_page - 1)
    } else {
        page.saturating_mul(per_page)
    };
    all.into_iter().skip(start).take(per_page).collect()
}

/// The `endless_reset` headers, replacing the limiter's.
pub fn endless_reset(h: &mut axum::http::HeaderMap) {
    for (name, value) in [
        ("X-RateLimit-Limit", "1"),
        ("X-RateLimit-Remaining", "0"),
        ("X-RateLimit-Reset", "999999999"),
    ] {
        h.insert(name, axum::http::HeaderValue::from_static(value));
    }
}

/// The `trickle` answer: the same headers, the body one byte every `h.trickle_ms` ms.
pub fn trickle(resp: Response, h: &Hostile) -> Response {
    let every = std::time::Duration::from_millis(if h.trickle_ms == 0 {
        1000
    } else {
        h.trickle_ms
    });
    let (parts, body) = resp.into_parts();
    let bytes = body
        .into_data_stream()
        .flat_map(|r| {
            let items: Vec<Result<Bytes, std::io::Error>> = match r {
                Ok(b) => (0..b.len()).map(|i| Ok(b.slice(i..i + 1))).collect(),
                Err(e) => vec![Err(std::io::Error::other(e))],
            };
            futures_util::stream::iter(items)
        })
        .then(move |item| async move {
            tokio::time::sleep(every).await;
            item
        });
    Response::from_parts(parts, Body::from_stream(bytes))
}

/// Bytes the `huge_response` array runs to before it is closed.
pub const HUGE_RESPONSE_BYTES: u64 = 2 << 30;

/// Extra bytes appended by `file_size_mismatch`.
pub const FILE_EXTRA_BYTES: usize = 4096;

/// `[` + `item,` repeated to about [`HUGE_RESPONSE_BYTES`] + `item]`, streamed in ~64 KiB chunks.
pub fn huge_array(item: String) -> Response {
    let mut chunk = String::new();
    while chunk.len() < 64 * 1024 {
        chunk.push_str(&item);
        chunk.push(',');
    }
    let chunk = Bytes::from(chunk);
    let n = HUGE_RESPONSE_BYTES / chunk.len() as u64;
    let body = futures_util::stream::once(async { Bytes::from_static(b"[") })
        .chain(futures_util::stream::iter(
            (0..n).map(move |_| chunk.clone()),
        ))
        .chain(futures_util::stream::once(async move {
            Bytes::from(format!("{item}]"))
        }))
        .map(Ok::<Bytes, std::io::Error>);
    (
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json")],
        Body::from_stream(body),
    )
        .into_response()
}

/// The `gzip_bomb` answer: a small gzip body that inflates past every sane limit.
pub fn gzip_bomb() -> Response {
    (
        StatusCode::OK,
        [
            (header::CONTENT_TYPE, "application/json"),
            (header::CONTENT_ENCODING, "gzip"),
        ],
        crate::gzip::bomb(),
    )
        .into_response()
}

/// The body followed by [`FILE_EXTRA_BYTES`] more bytes, chunked (no exact length).
pub fn longer_body(body: Body) -> Body {
    let extra: Vec<u8> = (0..FILE_EXTRA_BYTES).map(|i| b"fakemm!\n"[i % 8]).collect();
    let s = body
        .into_data_stream()
        .map(|r| r.map_err(std::io::Error::other))
        .chain(futures_util::stream::once(
            async move { Ok(Bytes::from(extra)) },
        ));
    Body::from_stream(s)
}

/// The first `limit` bytes of the body, then a clean end, chunked (no exact length).
pub fn shorter_body(body: Body, limit: u64) -> Body {
    let s = body.into_data_stream().scan(0u64, move |sent, r| {
        let out = match r {
            Err(e) => Some(Err(std::io::Error::other(e))),
            Ok(_) if *sent >= limit => None,
            Ok(b) => {
                let n = (b.len() as u64).min(limit - *sent);
                *sent += n;
                Some(Ok(b.slice(..n as usize)))
            }
        };
        futures_util::future::ready(out)
    });
    Body::from_stream(s)
}

/// A small HTML login page, as an SSO proxy or a captive portal serves it.
pub const LOGIN_HTML: &str = "<!doctype html><html><head><meta charset=\"utf-8\">\
<title>Sign in</title></head><body><form method=\"post\" action=\"/login\">\
<input name=\"username\"><input name=\"password\" type=\"password\">\
<button type=\"submit\">Sign in</button></form></body></html>\n";

/// The second listener that stands for "another host" in `redirect_other_host`.
#[derive(Default)]
pub struct OtherHost {
    /// `http://127.0.0.2:PORT` (or `http://localhost:PORT` when 127.0.0.2 cannot be bound).
    pub url: OnceLock<String>,
    /// Some request carried an `Authorization` header or an `MMAUTHTOKEN` cookie.
    pub leaked: AtomicBool,
    /// Requests it received.
    pub requests: AtomicU64,
}

/// Whether the request carries credentials: any `Authorization` header, or an
/// `MMAUTHTOKEN` cookie.
pub fn carries_token(h: &axum::http::HeaderMap) -> bool {
    h.contains_key(header::AUTHORIZATION)
        || h.get_all(header::COOKIE).iter().any(|c| {
            c.to_str()
                .is_ok_and(|s| s.split(';').any(|p| p.trim().starts_with("MMAUTHTOKEN=")))
        })
}

/// Everything the other host answers: it records the request and says 401.
pub async fn other_host_handler(State(s): State<AppState>, req: Request) -> Response {
    s.other.requests.fetch_add(1, Ordering::SeqCst);
    if carries_token(req.headers()) {
        s.other.leaked.store(true, Ordering::SeqCst);
    }
    let body = crate::error::ApiError::session_expired().body("");
    (
        StatusCode::UNAUTHORIZED,
        [(header::CONTENT_TYPE, "application/json")],
        body,
    )
        .into_response()
}

/// Binds the other host's listener: 127.0.0.2 (127.0.0.1 if the main server is on 127.0.0.2),
/// else 127.0.0.1 named `localhost`. Returns the listener and its base URL.
pub fn bind_other(main: std::net::SocketAddr) -> anyhow::Result<(std::net::TcpListener, String)> {
    let ip = if main.ip().to_string() == "127.0.0.2" {
        "127.0.0.1"
    } else {
        "127.0.0.2"
    };
    if let Ok(l) = std::net::TcpListener::bind((ip, 0)) {
        let port = l.local_addr()?.port();
        return Ok((l, format!("http://{ip}:{port}")));
    }
    let l = std::net::TcpListener::bind(("127.0.0.1", 0))?;
    let port = l.local_addr()?.port();
    Ok((l, format!("http://localhost:{port}")))
}

/// Victims of each kind in the `path_ids` mode: how many objects of that kind get an id shaped
/// like a path. One team only, so that the other teams' channels are still backed up.
const PATH_ID_VICTIMS: [(&str, usize); 6] = [
    ("team", 1),
    ("channel", 3),
    ("user", 3),
    ("post", 4),
    ("file", 3),
    ("emoji", 3),
];

/// The `path_ids` mode's hostile id number `n` (of an object of `kind`): `../`, an absolute
/// path below `abs_dir`, `/`, `\`, NUL, `.`, `..`, 300 characters, and 26-character look-alikes
/// (full-width letters, a Cyrillic letter, upper case) of a real id. `.` and `..` are taken
/// once; later turns get `./` and `../` names. Every string is unique.
fn path_id(kind: &str, n: usize, real: &str, abs_dir: &str, used: &[String]) -> String {
    let tag = format!("ESCAPED-{kind}-{n}");
    let pad26 = |s: String| -> String {
        let mut s: String = s.chars().take(26).collect();
        while s.chars().count() < 26 {
            s.push('x');
        }
        s
    };
    let once = |s: &str, or: String| {
        if used.iter().any(|u| u == s) {
            or
        } else {
            s.to_string()
        }
    };
    match n % 11 {
        0 => format!("../../{tag}"),
        1 => format!("{}/{tag}", abs_dir.trim_end_matches('/')),
        2 => format!("ESCAPED/{kind}-{n}"),
        3 => format!("ESCAPED\\{kind}-{n}"),
        4 => format!("ESCAPED-{kind}\u{0}{n}"),
        5 => once(".", format!("./{tag}")),
        6 => once("..", format!("../{tag}")),
        7 => format!("{tag}-{}", "x".repeat(300)),
        // Full-width letters: `ｅｓｃａｐｅｄ` and the number.
        8 => pad26(format!(
            "\u{ff45}\u{ff53}\u{ff43}\u{ff41}\u{ff50}\u{ff45}\u{ff44}{kind}{n}"
        )),
        // A Cyrillic `е` in an otherwise valid-looking id.
        9 => pad26(format!("\u{435}scaped{kind}{n}")),
        _ => real.to_ascii_uppercase(),
    }
}

/// An object whose id the `path_ids` mode shows as a path.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PathId {
    /// `team`, `channel`, `user`, `post`, `file` or `emoji`.
    pub kind: &'static str,
    /// Its real id.
    pub real: String,
    /// The id every JSON answer shows instead.
    pub hostile: String,
}

/// Picks the objects the `path_ids` mode renames and their hostile ids, among what the user
/// `except` (who logs in, and is never picked) can see: the team of theirs with the fewest
/// channels, then per kind the first by id of their channels outside that team, of the posts
/// and files of the channels left, of the other users and of the emojis. Each kind's objects
/// are outside the ones picked before, so that every kind reaches the client.
pub fn pick_path_ids(w: &crate::World, except: &str, abs_dir: &str) -> Vec<PathId> {
    use crate::id::Id;
    let me = w.user_by_name(except).map(|u| u.id);
    let mine: Vec<Id> = me
        .map(|m| w.member_channels(m.as_str()))
        .unwrap_or_default()
        .iter()
        .map(|c| Id::lookup(c))
        .collect();
    let channel_team = |c: &Id| w.channels.get(c).map(|c| c.team_id);
    let mut out: Vec<PathId> = Vec::new();
    let mut n = 0;
    for (kind, count) in PATH_ID_VICTIMS {
        let picked = |k: &str, id: &Id| out.iter().any(|p| p.kind == k && p.real == id.as_str());
        let left =
            |c: &Id| !picked("channel", c) && channel_team(c).is_none_or(|t| !picked("team", &t));
        let mut all: Vec<String> = match kind {
            "team" => {
                let mut teams: Vec<(usize, String)> = (w.teams.values())
                    .filter(|t| me.is_some_and(|m| t.members.contains_key(&m)))
                    .map(|t| {
                        let channels = mine.iter().filter(|c| channel_team(c) == Some(t.id));
                        (channels.count(), t.id.to_string())
                    })
                    .collect();
                teams.sort();
                teams.into_iter().map(|(_, id)| id).collect()
            }
            "channel" => mine
                .iter()
                .filter(|c| left(c))
                .map(|i| i.to_string())
                .collect(),
            "user" => (w.users.keys())
                .filter(|i| Some(**i) != me)
                .map(|i| i.to_string())
                .collect(),
            "post" => (w.posts.values())
                .filter(|p| p.original_id.is_none() && mine.contains(&p.channel_id))
                .filter(|p| left(&p.channel_id) && p.file_ids.is_empty())
                .map(|p| p.id.to_string())
                .collect(),
            "file" => (w.files.values())
                .filter(|f| mine.contains(&f.channel_id) && left(&f.channel_id))
                .filter(|f| !picked("post", &f.post_id))
                .map(|f| f.id.to_string())
                .collect(),
            _ => w.emojis.keys().map(|i| i.to_string()).collect(),
        };
        if kind != "team" {
            all.sort();
        }
        all.truncate(count);
        for real in all {
            let used: Vec<String> = out.iter().map(|p| p.hostile.clone()).collect();
            let hostile = path_id(kind, n, &real, abs_dir, &used);
            out.push(PathId {
                kind,
                real,
                hostile,
            });
            n += 1;
        }
    }
    out
}

/// The `path_ids` mode on a JSON answer: every real id of a victim becomes its hostile id
/// (JSON-escaped), wherever it stands (its own `id`, `team_id`, `user_id`, `file_ids`, a direct
/// channel's name), so the answer stays consistent: a server whose ids look like paths.
pub async fn rewrite_ids(resp: Response, map: &[PathId]) -> Response {
    let is_json = resp
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|t| t.starts_with("application/json"));
    if !is_json || map.is_empty() {
        return resp;
    }
    let (mut parts, body) = resp.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 256 << 20).await else {
        return Response::from_parts(parts, Body::empty());
    };
    let mut text = String::from_utf8_lossy(&bytes).into_owned();
    for p in map {
        if text.contains(p.real.as_str()) {
            let quoted = serde_json::to_string(&p.hostile).unwrap_or_default();
            text = text.replace(p.real.as_str(), &quoted[1..quoted.len() - 1]);
        }
    }
    parts.headers.remove(header::CONTENT_LENGTH);
    Response::from_parts(parts, Body::from(text))
}

/// The `path_ids` mode on a request body that lists ids (`POST /users/ids`): a hostile id the
/// client sends back is the real one for the handler. Other bodies pass unchanged.
pub async fn unrewrite_ids(req: Request, map: &[PathId]) -> Request {
    let (parts, body) = req.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, 16 << 20).await else {
        return Request::from_parts(parts, Body::empty());
    };
    let out = match serde_json::from_slice::<Vec<String>>(&bytes) {
        Ok(list) => {
            let list: Vec<String> = list
                .into_iter()
                .map(|id| {
                    map.iter()
                        .find(|p| p.hostile == id)
                        .map_or(id, |p| p.real.clone())
                })
                .collect();
            Bytes::from(serde_json::to_vec(&list).unwrap_or_default())
        }
        Err(_) => bytes,
    };
    Request::from_parts(parts, Body::from(out))
}
