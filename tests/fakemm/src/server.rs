//! The HTTP server: shared state, middleware (headers, counting, rate limit, error bodies),
//! authentication extractor, and the in-process `FakeServer` handle.

use crate::error::ApiError;
use crate::faults::{self, Fault, FaultEvent, FaultSeq, Faults, Step};
use crate::gzip::WebserverMode;
use crate::hostile::{Hostile, HostileMode, OtherHost};
use crate::id::Id;
use crate::ratelimit::Limiters;
use crate::world::World;
use axum::extract::{FromRequestParts, MatchedPath, Request, State};
use axum::http::{header, request::Parts, HeaderMap, HeaderValue, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::Router;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// State shared by all handlers.
pub struct Shared {
    pub world: Mutex<World>,
    pub counts: Mutex<BTreeMap<String, u64>>,
    pub total: AtomicU64,
    /// Body bytes of the responses (`Content-Length`, or the exact size of a full body).
    pub bytes: AtomicU64,
    pub limiter: Mutex<Limiters>,
    /// Requests the rate limiter refused (429) since the start or the last `reset_counts`.
    pub rate_limited: AtomicU64,
    /// The current fault sequence and the log of injected faults.
    pub faults: Mutex<FaultRuntime>,
    /// Faults injected since the start (or the last `reset_counts`).
    pub faults_injected: AtomicU64,
    /// The "other host" of `redirect_other_host`.
    pub other: OtherHost,
    /// Answers sent gzipped (`WebserverMode` "gzip"), in all and by "METHOD /route".
    pub compressed: AtomicU64,
    pub compressed_counts: Mutex<BTreeMap<String, u64>>,
    /// Requests being answered by "METHOD /route": (now, the most at once).
    pub in_flight: Mutex<BTreeMap<String, (u64, u64)>>,
}

/// Counts one request in flight (in [`Shared::in_flight`]) until it is dropped.
struct InFlight<'s> {
    shared: &'s Shared,
    key: String,
}

impl<'s> InFlight<'s> {
    fn start(shared: &'s Shared, key: &str) -> Self {
        let mut m = shared.in_flight.lock().unwrap_or_else(|e| e.into_inner());
        let e = m.entry(key.to_string()).or_insert((0, 0));
        e.0 += 1;
        e.1 = e.1.max(e.0);
        InFlight {
            shared,
            key: key.to_string(),
        }
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        let mut m = self
            .shared
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        if let Some(e) = m.get_mut(&self.key) {
            e.0 = e.0.saturating_sub(1);
        }
    }
}

/// How many [`FaultEvent`]s the log keeps (the newest).
pub const FAULT_LOG_CAP: usize = 10_000;

/// The fault sequence (restarted when `config.faults` changes or is set explicitly) and log.
#[derive(Default)]
pub struct FaultRuntime {
    pub seq: Option<FaultSeq>,
    pub log: VecDeque<FaultEvent>,
}

pub type AppState = Arc<Shared>;

impl Shared {
    pub fn new(world: World) -> AppState {
        Arc::new(Shared {
            world: Mutex::new(world),
            counts: Mutex::new(BTreeMap::new()),
            total: AtomicU64::new(0),
            bytes: AtomicU64::new(0),
            limiter: Mutex::new(Limiters::default()),
            rate_limited: AtomicU64::new(0),
            faults: Mutex::new(FaultRuntime::default()),
            faults_injected: AtomicU64::new(0),
            other: OtherHost::default(),
            compressed: AtomicU64::new(0),
            compressed_counts: Mutex::new(BTreeMap::new()),
            in_flight: Mutex::new(BTreeMap::new()),
        })
    }
    fn fault_rt(&self) -> MutexGuard<'_, FaultRuntime> {
        self.faults.lock().unwrap_or_else(|e| e.into_inner())
    }
    /// Restarts the fault sequence: the next `/api/v4` request is number 0 again.
    pub fn restart_faults(&self) {
        self.fault_rt().seq = None;
    }
    /// Sets `config.faults` and restarts the sequence.
    pub fn set_faults(&self, f: Faults) {
        self.world().config.faults = f;
        self.restart_faults();
    }
    /// The decision for the next `/api/v4` request under `cfg` (`None` when faults are off).
    fn fault_step(&self, cfg: &Faults, route: &str) -> Option<Step> {
        let mut rt = self.fault_rt();
        if cfg.is_off() {
            rt.seq = None;
            return None;
        }
        if rt.seq.as_ref().map(|q| q.faults()) != Some(cfg) {
            rt.seq = Some(FaultSeq::new(cfg.clone()));
        }
        let step = rt.seq.as_mut()?.next_step();
        if let Some(fault) = step.fault {
            self.faults_injected.fetch_add(1, Ordering::SeqCst);
            if rt.log.len() >= FAULT_LOG_CAP {
                rt.log.pop_front();
            }
            rt.log.push_back(FaultEvent {
                n: step.n,
                route: route.to_string(),
                fault,
            });
        }
        Some(step)
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
        self.bytes.store(0, Ordering::SeqCst);
        self.faults_injected.store(0, Ordering::SeqCst);
        self.rate_limited.store(0, Ordering::SeqCst);
        self.fault_rt().log.clear();
        self.compressed.store(0, Ordering::SeqCst);
        self.compressed_counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
        for e in self
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .values_mut()
        {
            e.1 = e.0;
        }
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
        .entry(key.clone())
        .or_insert(0) += 1;
    s.total.fetch_add(1, Ordering::SeqCst);
    let _in_flight = InFlight::start(&s, &key);

    let is_api = path == "/api/v4" || path.starts_with("/api/v4/");
    let (rl_cfg, rl_keys, version, hostile, step, broken, gzip_mode, clock_offset, trickled) = {
        let w = s.world();
        // `RateLimiter.GenerateKey`: the IP (one client here), or with `VaryByUser` the
        // request's token when it has one; then `UserIdRateLimit` (`web/handlers.go`, once the
        // session is valid) keys a second bucket by the user id.
        let mut rl_keys = vec!["ip".to_string()];
        if w.config.rate_limit_vary_by_user {
            if let Some(t) = token_from(req.headers()) {
                rl_keys[0] = format!("token:{t}");
                if let Some(u) = w.user_for_token(&t) {
                    rl_keys.push(format!("user:{u}"));
                }
            }
        }
        let broken = is_api
            && w.config
                .faults
                .broken_paths
                .iter()
                .any(|b| path.contains(b));
        let step = if is_api {
            s.fault_step(&w.config.faults, &key)
        } else {
            None
        };
        (
            w.config.rate_limit,
            rl_keys,
            w.config.server_version.clone(),
            w.config.hostile,
            step,
            broken,
            w.config.webserver_mode == WebserverMode::Gzip,
            w.config.clock_offset_ms,
            method == Method::GET && is_trickled(&w, &path),
        )
    };
    // The gzip handler wraps the API handlers, inside the rate limiter (server.go).
    let gzip = gzip_mode && is_api;
    let accepts_gzip = gzip && crate::gzip::accepts_gzip(req.headers());
    if broken {
        s.faults_injected.fetch_add(1, Ordering::SeqCst);
        return faults::status_response(500, &new_request_id(), &version);
    }
    let fault = step.and_then(|st| st.fault);
    if let Some(st) = step.filter(|st| st.latency_ms > 0) {
        tokio::time::sleep(std::time::Duration::from_millis(st.latency_ms)).await;
    }
    match fault {
        Some(Fault::Status(code)) => {
            return faults::status_response(code, &new_request_id(), &version)
        }
        Some(Fault::TooMany { .. }) => return faults::too_many_response(),
        Some(Fault::Drop) => return faults::dropped(),
        Some(Fault::Timeout408) => return faults::timeout_408_response(),
        Some(Fault::SlowHead(ms)) => tokio::time::sleep(std::time::Duration::from_millis(ms)).await,
        _ => {}
    }
    if let Some(r) = redirect_other_host(&s, &hostile, is_api, &path, req.uri().query()) {
        return r;
    }
    let rl = s.limiter.lock().unwrap_or_else(|e| e.into_inner()).check(
        rl_cfg,
        &rl_keys,
        std::time::Instant::now(),
    );
    // `setRateLimitHeaders` adds (`Header().Add`) one set per bucket checked.
    let rl_headers = |h: &mut HeaderMap| {
        for r in &rl {
            h.append("X-RateLimit-Limit", r.limit.into());
            h.append("X-RateLimit-Remaining", r.remaining.into());
            h.append("X-RateLimit-Reset", r.reset_secs.into());
            if r.limited {
                h.append(header::RETRY_AFTER, r.retry_after_secs.into());
            }
        }
    };
    if rl.iter().any(|r| r.limited) {
        s.rate_limited.fetch_add(1, Ordering::SeqCst);
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

    let path_ids = if is_api {
        s.world().config.path_ids.clone()
    } else {
        Vec::new()
    };
    if !path_ids.is_empty() && method == Method::POST && path.ends_with("/users/ids") {
        req = crate::hostile::unrewrite_ids(req, &path_ids).await;
    }
    let rid = new_request_id();
    req.extensions_mut().insert(RequestId(rid.clone()));
    let mut resp = next.run(req).await;
    if !path_ids.is_empty() {
        resp = crate::hostile::rewrite_ids(resp, &path_ids).await;
    }
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
        let server_now = crate::world::wall_ms() + clock_offset;
        let h = resp.headers_mut();
        // The server's clock, which may be set away from the wall clock (`clock_offset_ms`).
        if let Ok(v) = HeaderValue::from_str(&crate::world::http_date(server_now)) {
            h.insert(header::DATE, v);
        }
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
    if gzip {
        resp.headers_mut()
            .append(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    }
    if accepts_gzip {
        let (r, compressed) = crate::gzip::compress(resp, &s).await;
        resp = r;
        if compressed {
            s.compressed.fetch_add(1, Ordering::SeqCst);
            *s.compressed_counts
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .entry(key.clone())
                .or_insert(0) += 1;
        }
    }
    rl_headers(resp.headers_mut());
    if hostile.endless_reset && is_api {
        crate::hostile::endless_reset(resp.headers_mut());
    }
    s.bytes.fetch_add(body_len(&resp), Ordering::Relaxed);
    match fault {
        Some(Fault::Truncate) => faults::truncate(resp),
        Some(Fault::SlowBody(ms)) => faults::trickle(resp, ms),
        _ if trickled => crate::hostile::trickle(resp, &hostile),
        _ => resp,
    }
}

/// Whether the hostile mode `trickle` slows down this `GET`: the emoji list, and one file.
fn is_trickled(w: &crate::World, path: &str) -> bool {
    let h = &w.config.hostile;
    if !h.trickle {
        return false;
    }
    if path == "/api/v4/emoji" {
        return true;
    }
    let Some(fid) = path.strip_prefix("/api/v4/files/") else {
        return false;
    };
    let chosen = h.trickle_file.or_else(|| w.files.keys().min().copied());
    chosen.is_some_and(|c| c.as_str() == fid)
}

/// The body length of a response: its `Content-Length`, or the exact size of a full body
/// (0 when it is streamed without a known length).
fn body_len(resp: &Response) -> u64 {
    use axum::body::HttpBody;
    resp.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse().ok())
        .or_else(|| resp.body().size_hint().exact())
        .unwrap_or(0)
}

/// `redirect_other_host`: 302 to the same path and query on the other host (not for login).
fn redirect_other_host(
    s: &Shared,
    h: &Hostile,
    is_api: bool,
    path: &str,
    query: Option<&str>,
) -> Option<Response> {
    if !h.redirect_other_host || !is_api || path == "/api/v4/users/login" {
        return None;
    }
    let base = s.other.url.get()?;
    let loc = match query {
        Some(q) => format!("{base}{path}?{q}"),
        None => format!("{base}{path}"),
    };
    let body = format!("<a href=\"{loc}\">Found</a>.\n\n");
    let mut r = (
        StatusCode::FOUND,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response();
    if let Ok(v) = HeaderValue::from_str(&loc) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Some(r)
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
    /// The CA of the certificate, when serving HTTPS.
    ca_pem: Option<String>,
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
        Self::start_with(world, addr, None)
    }

    /// Binds 127.0.0.1:0 and serves `world` over HTTPS with a certificate for `127.0.0.1` and
    /// `localhost` signed by a CA made for this server ([`FakeServer::ca_pem`]); the "other
    /// host" of `redirect_other_host` stays plain HTTP.
    pub fn start_tls(world: World) -> FakeServer {
        let tls = crate::tls::Tls::generate().expect("fakemm: making a certificate");
        Self::start_with(world, "127.0.0.1:0", Some(tls)).expect("fakemm: failed to start")
    }

    fn start_with(
        world: World,
        addr: &str,
        tls: Option<crate::tls::Tls>,
    ) -> anyhow::Result<FakeServer> {
        let ca_pem = tls.as_ref().map(|t| t.ca_pem.clone());
        let state = Shared::new(world);
        let listener = std::net::TcpListener::bind(addr)?;
        listener.set_nonblocking(true)?;
        let local = listener.local_addr()?;
        let (other, other_url) = crate::hostile::bind_other(local)?;
        other.set_nonblocking(true)?;
        let _ = state.other.url.set(other_url);
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
                    let other = tokio::net::TcpListener::from_std(other).expect("tokio listener");
                    let app = router(st.clone());
                    let other_app = Router::new()
                        .fallback(crate::hostile::other_host_handler)
                        .with_state(st);
                    let main = async move {
                        match tls {
                            Some(t) => {
                                let l = crate::tls::TlsListener {
                                    tcp: listener,
                                    acceptor: t.acceptor,
                                };
                                let _ = axum::serve(l, app).await;
                            }
                            None => {
                                let _ = axum::serve(listener, app).await;
                            }
                        }
                    };
                    tokio::select! {
                        _ = main => {}
                        r = axum::serve(other, other_app) => { let _ = r; }
                        _ = rx => {}
                    }
                });
                rt.shutdown_timeout(std::time::Duration::from_millis(200));
            })?;
        Ok(FakeServer {
            state,
            addr: local,
            ca_pem,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// `http://127.0.0.1:PORT`, or `https://` from [`FakeServer::start_tls`] (no trailing
    /// slash, no /api).
    pub fn base_url(&self) -> String {
        let scheme = if self.ca_pem.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}", self.addr)
    }

    /// The PEM of the CA that signed the certificate of a [`FakeServer::start_tls`] server.
    pub fn ca_pem(&self) -> Option<&str> {
        self.ca_pem.as_deref()
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

    /// Response body bytes served since the start or the last [`FakeServer::reset_counts`]
    /// (`Content-Length`s, so a truncated or dropped body counts in full).
    pub fn bytes_served(&self) -> u64 {
        self.state.bytes.load(Ordering::SeqCst)
    }

    /// Answers sent gzipped since the start or the last [`FakeServer::reset_counts`].
    pub fn compressed_responses(&self) -> u64 {
        self.state.compressed.load(Ordering::SeqCst)
    }

    /// The most requests answered at the same time, by "METHOD /route/{pattern}" (as
    /// [`FakeServer::request_counts`]; from the request until its response head), since the
    /// start or the last [`FakeServer::reset_counts`].
    pub fn peak_in_flight(&self) -> BTreeMap<String, u64> {
        self.state
            .in_flight
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .iter()
            .map(|(k, (_, peak))| (k.clone(), *peak))
            .collect()
    }

    /// Gzipped answers by "METHOD /route/{pattern}" (as [`FakeServer::request_counts`]).
    pub fn compressed_counts(&self) -> BTreeMap<String, u64> {
        self.state
            .compressed_counts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Sets `ServiceSettings.WebserverMode` (the default is gzip, as on the real server).
    pub fn set_webserver_mode(&self, mode: WebserverMode) {
        self.state.world().config.webserver_mode = mode;
    }

    /// Requests refused by the rate limiter (429) since the last `reset_counts`.
    pub fn rate_limited(&self) -> u64 {
        self.state.rate_limited.load(Ordering::SeqCst)
    }

    pub fn total_requests(&self) -> u64 {
        self.state.total.load(Ordering::SeqCst)
    }

    pub fn reset_counts(&self) {
        self.state.reset_counts()
    }

    /// Sets the fault configuration and restarts the fault sequence (request 0 is the next
    /// `/api/v4` request). `Faults::default()` turns faults off.
    pub fn set_faults(&self, f: Faults) {
        self.state.set_faults(f)
    }

    /// The current fault configuration.
    pub fn faults(&self) -> Faults {
        self.state.world().config.faults.clone()
    }

    /// Faults injected since the start or the last [`FakeServer::reset_counts`] (each 429 of a
    /// burst counts).
    pub fn faults_injected(&self) -> u64 {
        self.state.faults_injected.load(Ordering::SeqCst)
    }

    /// The injected faults in order (the newest 10,000; cleared by `reset_counts`).
    pub fn fault_log(&self) -> Vec<FaultEvent> {
        self.state.fault_rt().log.iter().cloned().collect()
    }

    /// Switches one hostile mode on or off.
    pub fn set_hostile(&self, mode: HostileMode, on: bool) {
        self.state.world().config.hostile.set(mode, on)
    }

    /// The hostile mode "ids shaped like paths" ([`crate::hostile::pick_path_ids`]): with
    /// `Some(abs_dir)`, a few objects of each kind (never the user `except`) get ids such as
    /// `../../ESCAPED-team-0` or `<abs_dir>/ESCAPED-channel-1` in every JSON answer; `None`
    /// turns it off. Returns the objects it renamed.
    pub fn set_path_ids(&self, abs_dir: Option<&str>, except: &str) -> Vec<crate::hostile::PathId> {
        let mut w = self.state.world();
        let map = match abs_dir {
            Some(d) => crate::hostile::pick_path_ids(&w, except, d),
            None => Vec::new(),
        };
        w.config.path_ids = map.clone();
        map
    }

    /// The current hostile modes.
    pub fn hostile(&self) -> Hostile {
        self.state.world().config.hostile
    }

    /// Whether a request with an `Authorization` header or an `MMAUTHTOKEN` cookie ever
    /// reached the other host of `redirect_other_host`.
    pub fn token_leaked(&self) -> bool {
        self.state.other.leaked.load(Ordering::SeqCst)
    }

    /// Requests the other host received (with or without credentials).
    pub fn other_host_requests(&self) -> u64 {
        self.state.other.requests.load(Ordering::SeqCst)
    }

    /// The other host's base URL: `http://127.0.0.2:PORT`, or `http://localhost:PORT` where
    /// 127.0.0.2 cannot be bound.
    pub fn other_host_url(&self) -> String {
        self.state.other.url.get().cloned().unwrap_or_default()
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
