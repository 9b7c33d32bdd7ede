//! The HTTP core: every request goes through `send_once` (the rate limits, auth, cancel)
//! inside `with_retry` (backoff, `Retry-After`, 429s). When a request may be sent after what
//! the server's rate limiter said is the [`gate`](super::gate)'s decision.
//!
//! Compression: the client accepts gzip (reqwest's `gzip` feature), which a server in its
//! default `WebserverMode` "gzip" uses for API answers of 1400 bytes or more, and reqwest
//! inflates as the body is read, so every size limit here counts inflated bytes. Downloads and
//! images ask for `Accept-Encoding: identity`: their bytes are compressed already, and a file's
//! size check and `Range` resume work on the raw bytes.

use std::future::Future;
use std::num::NonZeroU32;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{
    HeaderMap, HeaderValue, ACCEPT_ENCODING, AUTHORIZATION, CONTENT_TYPE, LOCATION, RANGE,
    RETRY_AFTER,
};
use reqwest::{Method, Response, StatusCode};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use super::gate::{Gate, Sent, Turn};
use super::pace::{next_chunk, MinSpeed, Pace};
use super::retry::{
    is_free_retry, is_retryable, rate_limit_pause, server_wait, RetryPolicy, LONG_WAIT,
    MAX_SERVER_WAIT,
};
use crate::cancel::Cancel;
use crate::config::Secret;

/// Largest JSON body accepted, inflated (a page of 200 posts is well under 10 MiB).
pub(crate) const MAX_JSON_BYTES: u64 = 64 << 20;
/// Largest image accepted, inflated (profile images, team icons, emojis).
pub(crate) const MAX_IMAGE_BYTES: u64 = 64 << 20;
/// Redirects followed at most (only to the same host).
const MAX_REDIRECTS: usize = 5;

/// Settings of the client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Requests per second over every request; 0 = unlimited.
    pub rate_limit: f64,
    pub connect_timeout: Duration,
    /// Longest silence while waiting for (a part of) an answer.
    pub read_timeout: Duration,
    /// Slowest body accepted (`--min-speed`, `--min-speed-time`).
    pub min_speed: MinSpeed,
    pub retry: RetryPolicy,
    /// Certificate authorities trusted besides the built-in ones (`--ca-cert`).
    pub ca_certs: Vec<reqwest::Certificate>,
    /// Accept any certificate (`--insecure`).
    pub insecure: bool,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            rate_limit: 10.0,
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(120),
            min_speed: MinSpeed::default(),
            retry: RetryPolicy::default(),
            ca_certs: Vec::new(),
            insecure: false,
        }
    }
}

/// A logged-in (or about to be) Mattermost API client.
pub struct Client {
    http: reqwest::Client,
    /// `https://host/api/v4`, no trailing slash.
    base: String,
    token: Option<Secret>,
    limiter: Option<DefaultDirectRateLimiter>,
    pub(crate) retry: RetryPolicy,
    min_speed: MinSpeed,
    /// `--timeout`: also the longest wait the server may ask for before a request.
    timeout: Duration,
    /// What the server's rate limiter said: the pause every request waits for, the requests
    /// allowed in flight, the 429s.
    gate: Arc<Gate>,
    pub(crate) cancel: Cancel,
    requests: AtomicU64,
    retries: AtomicU64,
    /// The server's clock (ms) by the `Date` of the latest answer; 0 before any.
    server_clock: AtomicI64,
    /// Time during which some request waited for the rate limiter or for a pause the server
    /// asked for.
    limit_wait: Busy,
    /// Time during which some request was in flight: from sending to the answer's headers, and
    /// reading JSON answers.
    in_flight: Busy,
    /// Raised while a request waits for the rate limit (shown on the status line).
    waiting: Arc<AtomicBool>,
}

impl Client {
    /// # Errors
    /// When the HTTP stack cannot be set up (TLS roots).
    pub fn new(api_url: &str, opts: &ClientOptions, cancel: Cancel) -> Result<Self, ApiError> {
        // Follow redirects only within the same host: the token must never go elsewhere.
        let policy = reqwest::redirect::Policy::custom(|attempt| {
            let first = &attempt.previous()[0];
            let same_host = attempt.url().host_str() == first.host_str()
                && (attempt.url().port_or_known_default() == first.port_or_known_default()
                    || (first.scheme() == "http" && attempt.url().scheme() == "https"));
            if same_host && attempt.previous().len() <= MAX_REDIRECTS {
                attempt.follow()
            } else {
                attempt.stop()
            }
        });
        let mut builder = reqwest::Client::builder()
            .user_agent(concat!("matterbak/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(opts.connect_timeout)
            .read_timeout(opts.read_timeout)
            .redirect(policy)
            .gzip(true)
            .danger_accept_invalid_certs(opts.insecure);
        for c in &opts.ca_certs {
            builder = builder.add_root_certificate(c.clone());
        }
        let http = builder
            .build()
            .map_err(|e| ApiError::from_reqwest(api_url, e))?;
        let limiter = (opts.rate_limit > 0.0).then(|| {
            let period =
                Duration::from_secs_f64(1.0 / opts.rate_limit).max(Duration::from_nanos(1));
            let quota = Quota::with_period(period)
                .expect("period > 0")
                .allow_burst(NonZeroU32::MIN);
            RateLimiter::direct(quota)
        });
        Ok(Client {
            http,
            base: api_url.trim_end_matches('/').to_string(),
            token: None,
            limiter,
            retry: opts.retry.clone(),
            min_speed: opts.min_speed,
            timeout: opts.read_timeout,
            gate: Arc::new(Gate::new(opts.retry.scale)),
            cancel,
            requests: AtomicU64::new(0),
            retries: AtomicU64::new(0),
            server_clock: AtomicI64::new(0),
            limit_wait: Busy::default(),
            in_flight: Busy::default(),
            waiting: Arc::new(AtomicBool::new(false)),
        })
    }

    pub(crate) fn set_token(&mut self, token: Secret) {
        self.token = Some(token);
    }

    /// Number of HTTP requests sent so far (retries included).
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// Raise `flag` while a request waits for the rate limit.
    pub fn set_waiting_flag(&mut self, flag: Arc<AtomicBool>) {
        self.waiting = flag;
    }

    /// Wall time during which some request waited for the rate limit (ours or the server's).
    pub fn limit_wait(&self) -> Duration {
        self.limit_wait.total()
    }

    /// Wall time during which some HTTP request was in flight (until its headers, or reading a
    /// JSON answer); downloads streaming their bodies are not counted.
    pub fn http_time(&self) -> Duration {
        self.in_flight.total()
    }

    /// The server's clock (ms since the epoch) by the `Date` header of the latest answer that
    /// had one: what the cursors of the engine are checked against.
    pub fn server_time(&self) -> Option<i64> {
        Some(self.server_clock.load(Ordering::Relaxed)).filter(|t| *t > 0)
    }

    /// Answers 429 Too Many Requests so far (each tried again).
    pub fn rate_limited_count(&self) -> u64 {
        self.gate.refused()
    }

    /// Number of requests that were attempts after a failure.
    pub fn retry_count(&self) -> u64 {
        self.retries.load(Ordering::Relaxed)
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Runs `attempt` until it succeeds, fails for good, or the attempts are used up.
    pub(crate) async fn with_retry<T, F, Fut>(
        &self,
        what: &str,
        mut attempt: F,
    ) -> Result<T, ApiError>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = Result<T, ApiError>>,
    {
        let mut n = 1;
        // 429s that did not count as failed attempts.
        let mut free = 0;
        loop {
            match attempt().await {
                Ok(v) => return Ok(v),
                // The gate holds the next attempt with every other request (a shared pause,
                // fewer in flight): no wait of its own, and no attempt used up.
                Err(e) if is_free_retry(&e, self.gate.progressing(self.timeout), free) => {
                    tracing::debug!("{what}: {e}; trying again after the server's pause");
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    free += 1;
                }
                Err(e) if n < self.retry.attempts && is_retryable(&e) => {
                    // One short line; `-v` adds the request and the whole error.
                    tracing::debug!("{what}: {e}");
                    // The wait the server asks for (`Retry-After`) wins over the backoff; one
                    // longer than --timeout is not waited (this attempt failed anyway). A 429's
                    // is the gate's pause, which holds the next attempt too.
                    let asked = match &e {
                        ApiError::Status {
                            retry_after: Some(a),
                            status,
                            reason,
                            ..
                        } if *status != 429 => Some((*a, format!("it answered {status} {reason}"))),
                        _ => None,
                    };
                    let (e, wait) = match asked {
                        Some((a, cause)) => match self.server_wait(a, cause, what, true) {
                            Ok(w) => (e, self.retry.scaled(w)),
                            Err(too_long) => (too_long, self.retry.delay(n)),
                        },
                        None => (e, self.retry.delay(n)),
                    };
                    tracing::warn!(
                        "{}; retrying in {:.1} s ({} of {})",
                        e.brief(),
                        wait.as_secs_f64(),
                        n + 1,
                        self.retry.attempts
                    );
                    self.cancel
                        .sleep(wait)
                        .await
                        .map_err(|_| ApiError::Cancelled)?;
                    self.retries.fetch_add(1, Ordering::Relaxed);
                    n += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Sends one request (one attempt) and returns the response if its status is a success.
    ///
    /// It waits for the rate limiter and at the gate, adds the token, and gives up at once when
    /// the run is cancelled. The request is sent on a task of its own, which reports the answer
    /// to the gate as soon as its headers arrive.
    pub(crate) async fn send_once(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&[u8]>,
        headers: HeaderMap,
    ) -> Result<Response, ApiError> {
        let url = self.url(path);
        let waited = {
            let _w = self.limit_wait.enter(Some(&self.waiting));
            self.wait_turn(&url).await
        };
        let sent = waited?;
        self.cancel.check().map_err(|_| ApiError::Cancelled)?;
        let mut req = self.http.request(method.clone(), &url).headers(headers);
        if !query.is_empty() {
            req = req.query(query);
        }
        if let Some(t) = &self.token {
            let mut v = HeaderValue::from_str(&format!("Bearer {}", t.expose())).map_err(|_| {
                ApiError::Connect {
                    url: url.clone(),
                    detail: "the token contains characters not allowed in an HTTP header".into(),
                }
            })?;
            v.set_sensitive(true);
            req = req.header(AUTHORIZATION, v);
        }
        if let Some(b) = body {
            req = req
                .header(CONTENT_TYPE, "application/json")
                .body(b.to_vec());
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        tracing::debug!("{method} {url}");
        let resp = {
            let _h = self.in_flight.enter(None);
            let mut sending = Sending::start(req, sent);
            tokio::select! {
                r = sending.answer(&url) => r,
                _ = self.cancel.cancelled() => Err(ApiError::Cancelled),
            }
        };
        let resp = resp?;
        if let Some(t) = resp
            .headers()
            .get(reqwest::header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(super::endpoints::http_date_ms)
        {
            self.server_clock.store(t, Ordering::Relaxed);
        }
        let status = resp.status();
        if status.is_success() || status == StatusCode::NOT_MODIFIED {
            return Ok(resp);
        }
        Err(self.status_error(method, &url, resp).await)
    }

    /// Waits for the rate limiter, then at the gate: for a pause the server asked for (as
    /// [`Client::server_wait`] decides, logged at the default level once per pause), and for
    /// room in flight.
    async fn wait_turn(&self, url: &str) -> Result<Sent, ApiError> {
        if let Some(l) = &self.limiter {
            tokio::select! {
                _ = l.until_ready() => {}
                _ = self.cancel.cancelled() => return Err(ApiError::Cancelled),
            }
        }
        loop {
            match self.gate.turn() {
                Turn::Go(sent) => return Ok(sent),
                Turn::Pause {
                    sleep,
                    wait,
                    cause,
                    logged,
                    until,
                } => {
                    let wait = self.server_wait(wait, cause, url, !logged)?;
                    if wait >= LONG_WAIT {
                        self.gate.logged(until);
                    }
                    self.cancel
                        .sleep(sleep)
                        .await
                        .map_err(|_| ApiError::Cancelled)?;
                }
                Turn::Full(answered) => tokio::select! {
                    _ = answered => {}
                    _ = self.cancel.cancelled() => return Err(ApiError::Cancelled),
                },
            }
        }
    }

    /// The one place that decides on a wait the server asked for (`cause`, for the log):
    /// cut to [`MAX_SERVER_WAIT`]; longer than `--timeout`, not waited but a failed attempt
    /// ([`ApiError::WaitTooLong`], retried); of [`LONG_WAIT`] or more, logged at the default
    /// level when `log` (else at debug level).
    fn server_wait(
        &self,
        asked: Duration,
        cause: String,
        url: &str,
        log: bool,
    ) -> Result<Duration, ApiError> {
        match server_wait(asked, self.timeout) {
            Err(wait) => Err(ApiError::WaitTooLong {
                url: url.to_string(),
                wait,
                cause,
                timeout: self.timeout,
            }),
            Ok(wait) => {
                if log && wait >= LONG_WAIT {
                    tracing::info!(
                        "waiting {:.0} s before the next request: the server asks for it ({cause})",
                        wait.as_secs_f64()
                    );
                } else {
                    tracing::debug!(
                        "waiting {:.2} s before the next request ({cause})",
                        wait.as_secs_f64()
                    );
                }
                Ok(wait)
            }
        }
    }

    /// Sends a request and reads its JSON answer, with retries (a broken body is retried too).
    pub(crate) async fn fetch_json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> Result<T, ApiError> {
        let url = self.url(path);
        let what = format!("{method} {url}");
        self.with_retry(&what, || async {
            let resp = self
                .send_once(method.clone(), path, query, body, HeaderMap::new())
                .await?;
            self.read_json(&url, resp).await
        })
        .await
    }

    /// Turns an error answer into [`ApiError::Status`] (or `NotApi` for an HTML page).
    async fn status_error(&self, method: Method, url: &str, resp: Response) -> ApiError {
        let status = resp.status();
        let ctype = content_type(&resp);
        // `Retry-After` wins; a 429 without one waits for one token of the bucket (see
        // `rate_limit_pause`), not for the bucket to fill.
        let retry_after = header_u64(&resp, RETRY_AFTER.as_str())
            .map(|s| Duration::from_secs(s).min(MAX_SERVER_WAIT))
            .or_else(|| {
                (status == StatusCode::TOO_MANY_REQUESTS)
                    .then(|| rate_limit_pause(resp.headers()))
                    .flatten()
            });
        let location = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let body = self
            .read_limited(url, resp, 64 << 10, true)
            .await
            .unwrap_or_default();
        if status.is_redirection() {
            let to = location.unwrap_or_default();
            return ApiError::Status {
                method: method_name(&method),
                url: url.to_string(),
                status: status.as_u16(),
                reason: status.canonical_reason().unwrap_or(""),
                id: None,
                server: format!(
                    ": redirected to another host ({to}); not followed, so that the token is not sent there (if that is the right server, put its URL in the credentials file)"
                ),
                retry_after: None,
            };
        }
        // An HTML page answering an API request is not the API; a proxy's 5xx page is an error.
        if ctype.starts_with("text/html") && !status.is_server_error() {
            return ApiError::NotApi {
                url: url.to_string(),
                content_type: ctype,
            };
        }
        #[derive(serde::Deserialize)]
        struct AppError {
            id: Option<String>,
            message: Option<String>,
        }
        let (id, server) = match serde_json::from_slice::<AppError>(&body) {
            Ok(AppError { id, message }) => {
                let text = match (&message, &id) {
                    (Some(m), Some(i)) if !i.is_empty() => format!(": {m} ({i})"),
                    (Some(m), _) => format!(": {m}"),
                    (None, Some(i)) => format!(": {i}"),
                    (None, None) => String::new(),
                };
                (id.filter(|i| !i.is_empty()), text)
            }
            Err(_) => {
                let text = String::from_utf8_lossy(&body);
                let text: String = text
                    .trim()
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(200)
                    .collect();
                (
                    None,
                    if text.is_empty() || ctype.starts_with("text/html") {
                        String::new()
                    } else {
                        format!(": {text}")
                    },
                )
            }
        };
        ApiError::Status {
            method: method_name(&method),
            url: url.to_string(),
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or(""),
            id,
            server,
            retry_after,
        }
    }

    /// Reads a whole body, refusing more than `limit` bytes (`truncate`: stop there silently)
    /// or a body slower than the minimum speed.
    ///
    /// A gzipped answer is inflated chunk by chunk as it is read (reqwest drops its
    /// `Content-Length`), so `limit` bounds the inflated size: a small body that inflates
    /// without end is refused once `limit` is passed, with no more than that in memory.
    pub(crate) async fn read_limited(
        &self,
        url: &str,
        mut resp: Response,
        limit: u64,
        truncate: bool,
    ) -> Result<Vec<u8>, ApiError> {
        if let Some(len) = resp.content_length() {
            if len > limit && !truncate {
                return Err(ApiError::TooLarge {
                    url: url.to_string(),
                    limit,
                });
            }
        }
        let mut buf = Vec::new();
        let mut pace = Pace::new(self.min_speed);
        loop {
            let chunk = next_chunk(&mut resp, &mut pace, &self.cancel, url).await?;
            let Some(chunk) = chunk else { break };
            if buf.len() as u64 + chunk.len() as u64 > limit {
                if truncate {
                    let room = (limit as usize).saturating_sub(buf.len());
                    buf.extend_from_slice(&chunk[..room.min(chunk.len())]);
                    break;
                }
                return Err(ApiError::TooLarge {
                    url: url.to_string(),
                    limit,
                });
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(buf)
    }

    /// Reads a JSON answer into `T`, checking that it is JSON at all.
    pub(crate) async fn read_json<T: DeserializeOwned>(
        &self,
        url: &str,
        resp: Response,
    ) -> Result<T, ApiError> {
        let ctype = content_type(&resp);
        if ctype.starts_with("text/html") {
            return Err(ApiError::NotApi {
                url: url.to_string(),
                content_type: ctype,
            });
        }
        let body = {
            let _h = self.in_flight.enter(None);
            self.read_limited(url, resp, MAX_JSON_BYTES, false).await
        };
        let body = body?;
        serde_json::from_slice(&body).map_err(|e| ApiError::BadJson {
            url: url.to_string(),
            detail: e.to_string(),
        })
    }

    /// `GET` and parse JSON, with retries.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ApiError> {
        self.fetch_json(Method::GET, path, query, None).await
    }

    /// `GET` a body to stream, from byte `offset` on (`Range`), with retries until the headers.
    pub(crate) async fn get_stream(&self, path: &str, offset: u64) -> Result<Download, ApiError> {
        let url = self.url(path);
        let what = format!("GET {url}");
        let resp = self
            .with_retry(&what, || {
                let mut h = identity();
                if offset > 0 {
                    h.insert(
                        RANGE,
                        HeaderValue::from_str(&format!("bytes={offset}-")).expect("ascii"),
                    );
                }
                self.send_once(Method::GET, path, &[], None, h)
            })
            .await?;
        Ok(Download {
            partial: resp.status() == StatusCode::PARTIAL_CONTENT,
            content_length: resp.content_length(),
            content_type: content_type(&resp),
            resp,
            url,
            cancel: self.cancel.clone(),
            pace: Pace::new(self.min_speed),
        })
    }
}

/// Headers asking for the raw bytes, not gzip: for files and images (compressed already), so
/// that `Content-Length`, `Range` and the size check concern the bytes that are stored.
/// (reqwest keeps an `Accept-Encoding` set by the caller; it would otherwise send `gzip`, even
/// with a `Range`.)
pub(crate) fn identity() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(ACCEPT_ENCODING, HeaderValue::from_static("identity"));
    h
}

fn header_u64(resp: &Response, name: &str) -> Option<u64> {
    resp.headers().get(name)?.to_str().ok()?.trim().parse().ok()
}

pub(crate) fn content_type(resp: &Response) -> String {
    resp.headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase()
}

/// A response body to stream to disk chunk by chunk (never held whole in memory).
pub struct Download {
    resp: Response,
    url: String,
    cancel: Cancel,
    pace: Pace,
    /// The server answered a `Range` request with 206: the body continues at the offset.
    pub partial: bool,
    pub content_length: Option<u64>,
    pub content_type: String,
}

impl Download {
    /// The next chunk, `None` at the end.
    ///
    /// # Errors
    /// A transfer error, a timeout, a transfer slower than the minimum speed
    /// ([`ApiError::TooSlow`]), or [`ApiError::Cancelled`].
    pub async fn chunk(&mut self) -> Result<Option<bytes::Bytes>, ApiError> {
        next_chunk(&mut self.resp, &mut self.pace, &self.cancel, &self.url).await
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}

/// The name of one of the methods the client uses, as a static string.
fn method_name(m: &Method) -> &'static str {
    match *m {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        _ => "REQUEST",
    }
}

/// A request on its way, on a task of its own: it reaches the server, and its answer reaches
/// the gate, whether or not the caller's future is polled. Dropped, it is aborted.
struct Sending(tokio::task::JoinHandle<reqwest::Result<Response>>);

impl Sending {
    fn start(req: reqwest::RequestBuilder, sent: Sent) -> Sending {
        Sending(tokio::spawn(async move {
            let r = req.send().await;
            match &r {
                Ok(resp) => sent.answered(resp.status(), resp.headers()),
                Err(_) => drop(sent),
            }
            r
        }))
    }

    /// The answer's headers (the body is read by the caller).
    async fn answer(&mut self, url: &str) -> Result<Response, ApiError> {
        match (&mut self.0).await {
            Ok(r) => r.map_err(|e| ApiError::from_reqwest(url, e)),
            Err(e) if e.is_panic() => std::panic::resume_unwind(e.into_panic()),
            // The runtime shuts down.
            Err(_) => Err(ApiError::Cancelled),
        }
    }
}

impl Drop for Sending {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Wall time during which at least one of several overlapping activities was going on.
#[derive(Default)]
struct Busy {
    /// How many are going on, and since when at least one is.
    now: Mutex<(u32, Option<Instant>)>,
    total_us: AtomicU64,
}

impl Busy {
    /// One more is going on until the guard is dropped; `flag` is raised while any is.
    fn enter<'b>(&'b self, flag: Option<&'b AtomicBool>) -> BusyGuard<'b> {
        let mut n = self.now.lock().unwrap_or_else(|e| e.into_inner());
        if n.0 == 0 {
            n.1 = Some(Instant::now());
            if let Some(f) = flag {
                f.store(true, Ordering::Relaxed);
            }
        }
        n.0 += 1;
        BusyGuard { busy: self, flag }
    }

    fn total(&self) -> Duration {
        Duration::from_micros(self.total_us.load(Ordering::Relaxed))
    }
}

struct BusyGuard<'b> {
    busy: &'b Busy,
    flag: Option<&'b AtomicBool>,
}

impl Drop for BusyGuard<'_> {
    fn drop(&mut self) {
        let mut n = self.busy.now.lock().unwrap_or_else(|e| e.into_inner());
        n.0 -= 1;
        if n.0 == 0 {
            if let Some(t) = n.1.take() {
                self.busy
                    .total_us
                    .fetch_add(t.elapsed().as_micros() as u64, Ordering::Relaxed);
            }
            if let Some(f) = self.flag {
                f.store(false, Ordering::Relaxed);
            }
        }
    }
}
