//! The HTTP core: one `send` through which every request goes (rate limit, auth, cancel).

use std::num::NonZeroU32;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION, CONTENT_TYPE};
use reqwest::{Method, Response};
use serde::de::DeserializeOwned;

use super::error::ApiError;
use crate::cancel::Cancel;
use crate::config::Secret;

/// Largest JSON body accepted (a page of 200 posts is well under 10 MiB).
pub(crate) const MAX_JSON_BYTES: u64 = 64 << 20;
/// Largest image accepted (profile images, team icons, emojis).
pub(crate) const MAX_IMAGE_BYTES: u64 = 64 << 20;

/// Settings of the client.
#[derive(Debug, Clone)]
pub struct ClientOptions {
    /// Requests per second over every request; 0 = unlimited.
    pub rate_limit: f64,
    pub connect_timeout: Duration,
    /// Longest silence while waiting for (a part of) an answer.
    pub read_timeout: Duration,
}

impl Default for ClientOptions {
    fn default() -> Self {
        ClientOptions {
            rate_limit: 10.0,
            connect_timeout: Duration::from_secs(30),
            read_timeout: Duration::from_secs(120),
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
    pub(crate) cancel: Cancel,
    requests: AtomicU64,
}

impl Client {
    /// # Errors
    /// When the HTTP stack cannot be set up (TLS roots).
    pub fn new(api_url: &str, opts: &ClientOptions, cancel: Cancel) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .user_agent(concat!("matterbak/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(opts.connect_timeout)
            .read_timeout(opts.read_timeout)
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
            cancel,
            requests: AtomicU64::new(0),
        })
    }

    pub(crate) fn set_token(&mut self, token: Secret) {
        self.token = Some(token);
    }

    /// Number of HTTP requests sent so far.
    pub fn request_count(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    pub fn base_url(&self) -> &str {
        &self.base
    }

    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{}", self.base, path)
    }

    /// Sends one request and returns the response if its status is a success.
    ///
    /// Every request of the tool goes through here: it waits for the rate limiter, adds the
    /// token, and gives up at once when the run is cancelled.
    pub(crate) async fn send(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<Vec<u8>>,
        headers: HeaderMap,
    ) -> Result<Response, ApiError> {
        let url = self.url(path);
        if let Some(l) = &self.limiter {
            tokio::select! {
                _ = l.until_ready() => {}
                _ = self.cancel.cancelled() => return Err(ApiError::Cancelled),
            }
        }
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
            req = req.header(CONTENT_TYPE, "application/json").body(b);
        }
        self.requests.fetch_add(1, Ordering::Relaxed);
        tracing::debug!("{method} {url}");
        let resp = tokio::select! {
            r = req.send() => r.map_err(|e| ApiError::from_reqwest(&url, e))?,
            _ = self.cancel.cancelled() => return Err(ApiError::Cancelled),
        };
        let status = resp.status();
        if status.is_success() || status == reqwest::StatusCode::NOT_MODIFIED {
            return Ok(resp);
        }
        Err(self.status_error(method, &url, resp).await)
    }

    /// Turns an error answer into [`ApiError::Status`] (or `NotApi` for an HTML page).
    async fn status_error(&self, method: Method, url: &str, resp: Response) -> ApiError {
        let status = resp.status();
        let ctype = content_type(&resp);
        let body = self
            .read_limited(url, resp, 64 << 10, true)
            .await
            .unwrap_or_default();
        if ctype.starts_with("text/html") {
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
                let text: String = text.trim().chars().take(200).collect();
                (
                    None,
                    if text.is_empty() {
                        String::new()
                    } else {
                        format!(": {text}")
                    },
                )
            }
        };
        ApiError::Status {
            method: method.to_string(),
            url: url.to_string(),
            status: status.as_u16(),
            reason: status.canonical_reason().unwrap_or("").to_string(),
            id,
            server,
        }
    }

    /// Reads a whole body, refusing more than `limit` bytes (`truncate`: stop there silently).
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
        loop {
            let chunk = tokio::select! {
                c = resp.chunk() => c.map_err(|e| ApiError::from_reqwest(url, e))?,
                _ = self.cancel.cancelled() => return Err(ApiError::Cancelled),
            };
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
        let body = self.read_limited(url, resp, MAX_JSON_BYTES, false).await?;
        serde_json::from_slice(&body).map_err(|e| ApiError::BadJson {
            url: url.to_string(),
            detail: e.to_string(),
        })
    }

    /// `GET` and parse JSON.
    pub(crate) async fn get_json<T: DeserializeOwned>(
        &self,
        path: &str,
        query: &[(&str, &str)],
    ) -> Result<T, ApiError> {
        let resp = self
            .send(Method::GET, path, query, None, HeaderMap::new())
            .await?;
        self.read_json(&self.url(path), resp).await
    }

    /// `GET` a streamed body.
    pub(crate) async fn get_stream(&self, path: &str) -> Result<Download, ApiError> {
        let url = self.url(path);
        let resp = self
            .send(Method::GET, path, &[], None, HeaderMap::new())
            .await?;
        Ok(Download {
            content_length: resp.content_length(),
            content_type: content_type(&resp),
            resp,
            url,
            cancel: self.cancel.clone(),
        })
    }
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
    pub content_length: Option<u64>,
    pub content_type: String,
}

impl Download {
    /// The next chunk, `None` at the end.
    ///
    /// # Errors
    /// A transfer error, a timeout, or [`ApiError::Cancelled`].
    pub async fn chunk(&mut self) -> Result<Option<bytes::Bytes>, ApiError> {
        tokio::select! {
            c = self.resp.chunk() => c.map_err(|e| ApiError::from_reqwest(&self.url, e)),
            _ = self.cancel.cancelled() => Err(ApiError::Cancelled),
        }
    }

    pub fn url(&self) -> &str {
        &self.url
    }
}
