//! The HTTP server: shared state, middleware (headers, counting, rate limit, error bodies),
//! authentication extractor, and the in-process `FakeServer` handle.

use crate::error::ApiError;
use crate::id::Id;
use crate::ratelimit::Limiter;
use crate::world::World;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// State shared by all handlers.
pub struct Shared {
    pub world: Mutex<World>,
    pub counts: Mutex<BTreeMap<String, u64>>,
    pub total: AtomicU64,
    pub limiter: Mutex<Option<Limiter>>,
}

pub type AppState = Arc<Shared>;

impl Shared {
    pub fn new(world: World) -> AppState {
        Arc::new(Shared {
            world: Mutex::new(world),
            counts: Mutex::new(BTreeMap::new()),
            total: AtomicU64::new(0),
            limiter: Mutex::new(None),
        })
    }
    /// Locks the world (ignoring poisoning).
    pub fn world(&self) -> MutexGuard<'_, World> {
        self.world.lock().unwrap_or_else(|e| e.into_inner())
    }
    pub fn counts_snapshot(&self) -> BTreeMap<String, u64> {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
    pub fn reset_counts(&self) {
        self.counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        self.total.store(0, Ordering::SeqCst);
    }
}

/// The request id of the current request (set by the middleware).
#[derive(Clone, Debug)]
pub struct RequestId(pub String);

/// An authenticated API request: the session user.
pub struct Authed {
    pub user: Id,
}

fn token_from(headers: &HeaderMap) -> Option<String> {
    for c in headers.get_all(header::COOKIE) {
        if let Ok(s) = c.to_str() {
            for part in s.split(';') {
                if let Some(v) = part.trim().strip_prefix("MMAUTHTOKEN=") {
                    if !v.is_empty() {
                        return Some(v.to_string());
                    }
                }
            }
        }
    }
    let auth = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    if auth.len() > 7 && auth[..7].eq_ignore_ascii_case("bearer ") {
        return Some(auth[7..].trim().to_string());
    }
    auth.strip_prefix("token ").map(|t| t.trim().to_string())
}

impl FromRequestParts<AppState> for Authed {
    type Rejection = ApiError;
    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, ApiError> {
        let tok = token_from(&parts.headers);
        if tok.is_none()
            && parts
                .uri
                .query()
                .is_some_and(|q| q.split('&').any(|kv| kv.starts_with("access_token=")))
        {
            return Err(ApiError::new(
                401,
                "api.context.token_provided.app_error",
                "Session is not OAuth but token was provided in the query string",
            ));
        }
        let tok = tok.ok_or_else(ApiError::session_expired)?;
        let user = s
            .world()
            .user_for_token(&tok)
            .ok_or_else(ApiError::session_expired)?;
        Ok(Authed { user })
    }
}

fn new_request_id() -> String {
    Id::generate(&mut rand::rng()).to_string()
}

/// Counting, rate limiting, standard headers and AppError bodies for everything but /__fake.
pub async fn middleware(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let key = match req.extensions().get::<MatchedPath>() {
        Some(m) => format!("{method} {}", m.as_str()),
        None => format!("{method} {path}"),
    };
    *s.counts
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .entry(key)
        .or_insert(0) += 1;
    s.total.fetch_add(1, Ordering::SeqCst);

    let (rl_cfg, version) = {
        let w = s.world();
        (w.config.rate_limit, w.config.server_version.clone())
    };
    let rl = {
        let mut l = s.limiter.lock().unwrap_or_else(|e| e.into_inner());
        match rl_cfg {
            None => {
                *l = None;
                None
            }
            Some((per_sec, burst)) => {
                if l.as_ref().map(|x| x.config()) != Some((per_sec, burst)) {
                    *l = Some(Limiter::new(per_sec, burst));
                }
                l.as_mut().map(|x| x.check(std::time::Instant::now()))
            }
        }
    };
    let rl_headers = |h: &mut HeaderMap| {
        if let Some(r) = &rl {
            h.append("X-RateLimit-Limit", r.limit.into());
            h.append("X-RateLimit-Remaining", r.remaining.into());
            h.append("X-RateLimit-Reset", r.reset_secs.into());
            if r.limited {
                h.append(header::RETRY_AFTER, r.retry_after_secs.into());
            }
        }
    };
    if rl.as_ref().is_some_and(|r| r.limited) {
        let mut resp = (
            StatusCode::TOO_MANY_REQUESTS,
            [
                (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            "limit exceeded\n",
        )
            .into_response();
        rl_headers(resp.headers_mut());
        return resp;
    }

    let rid = new_request_id();
    req.extensions_mut().insert(RequestId(rid.clone()));
    let mut resp = next.run(req).await;
    if let Some(err) = resp.extensions_mut().remove::<ApiError>() {
        let body = err.body(&rid);
        let mut r = (err.status, body).into_response();
        std::mem::swap(r.headers_mut(), resp.headers_mut());
        r.headers_mut().remove(header::CONTENT_LENGTH);
        resp = r;
        resp.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
    }
    if path.starts_with("/api/") {
        let h = resp.headers_mut();
        if let Ok(v) = HeaderValue::from_str(&rid) {
            h.insert("X-Request-ID", v);
        }
        if let Ok(v) = HeaderValue::from_str(&format!(
            "{version}.{version}.0123456789abcdef0123456789abcdef.false"
        )) {
            h.insert("X-Version-ID", v);
        }
        if !h.contains_key(header::CONTENT_TYPE) {
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            );
        }
        if method == Method::GET {
            h.insert(header::EXPIRES, HeaderValue::from_static("0"));
        }
        h.insert(
            header::X_CONTENT_TYPE_OPTIONS,
            HeaderValue::from_static("nosniff"),
        );
        h.insert(
            header::REFERRER_POLICY,
            HeaderValue::from_static("no-referrer"),
        );
        h.insert("Permissions-Policy", HeaderValue::from_static(""));
    }
    rl_headers(resp.headers_mut());
    resp
}

/// The full router (API + HTML fallback + control interface).
pub fn router(state: AppState) -> Router {
    let api = crate::routes::api_router()
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            middleware,
        ))
        .layer(axum::extract::DefaultBodyLimit::disable());
    api.merge(crate::control::router()).with_state(state)
}

/// A running fake server on its own thread and tokio runtime.
pub struct FakeServer {
    state: AppState,
    addr: std::net::SocketAddr,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl FakeServer {
    /// Binds 127.0.0.1:0 and serves `world`; returns once listening.
    pub fn start(world: World) -> FakeServer {
        Self::start_on(world, "127.0.0.1:0").expect("fakemm: failed to start")
    }

    /// Binds `addr` (e.g. "127.0.0.1:8065") and serves `world`.
    pub fn start_on(world: World, addr: &str) -> anyhow::Result<FakeServer> {
        let state = Shared::new(world);
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        let st = state.clone();
        let thread = std::thread::Builder::new()
            .name("fakemm".into())
            .spawn(move || {
                let rt = tokio::runtime::Builder::new_multi_thread()
                    .worker_threads(2)
                    .enable_all()
                    .build()
                    .expect("tokio runtime");
                rt.block_on(async move {
                    let listener =
                        tokio::net::TcpListener::from_std(listener).expect("tokio listener");
                    let app = router(st);
                    tokio::select! {
                        r = axum::serve(listener, app) => { let _ = r; }
                        _ = rx => {}
                    }
                });
                rt.shutdown_timeout(std::time::Duration::from_millis(200));
            })?;
        Ok(FakeServer {
            state,
            addr: local,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT` (no trailing slash, no /api).
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Reads or mutates the world between runs.
    pub fn with_world<R>(&self, f: impl FnOnce(&mut World) -> R) -> R {
        let mut w = self.state.world();
        f(&mut w)
    }

    /// Request counts by "METHOD /route/{pattern}".
    pub fn request_counts(&self) -> BTreeMap<String, u64> {
        self.state.counts_snapshot()
    }

    pub fn total_requests(&self) -> u64 {
        self.state.total.load(Ordering::SeqCst)
    }

    pub fn reset_counts(&self) {
        self.state.reset_counts()
    }

    /// Blocks until the server thread ends (used by the binary; never returns normally).
    pub fn wait(mut self) {
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for FakeServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
