//! Deterministic fault injection: what a flaky network or reverse proxy in front of the real
//! server produces (5xx, 429 bursts, dropped connections, truncated bodies, slow responses, 408).
//!
//! The configuration ([`Faults`]) lives in `World.config.faults`. The middleware numbers every
//! `/api/v4` request since the faults were (re)set and asks [`FaultSeq::next_step`] what to do with
//! request `n`; the answer depends only on `(seed, n)`, so the same seed and the same request
//! sequence give the same faults. `/__fake/*` requests never reach the injector.

use axum::body::{Body, Bytes};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::time::Duration;

/// The kinds of fault the injector can produce.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// 500 (Mattermost JSON AppError), or 502/503/504 (proxy text/HTML bodies).
    Status,
    /// 429 `limit exceeded`, with `Retry-After: 1`, possibly followed by a burst of 1..=3 more.
    TooMany,
    /// The connection closes without any response.
    Drop,
    /// A response with the full `Content-Length` whose body stops after about half.
    Truncate,
    /// Headers delayed by `slow_ms`, or the body trickles in with pauses (complete and correct).
    Slow,
    /// 408 Request Timeout (as Go's `net/http` answers it).
    #[serde(rename = "timeout_408")]
    Timeout408,
}

impl FaultKind {
    pub const ALL: [FaultKind; 6] = [
        FaultKind::Status,
        FaultKind::TooMany,
        FaultKind::Drop,
        FaultKind::Truncate,
        FaultKind::Slow,
        FaultKind::Timeout408,
    ];

    /// The JSON / CLI name (`status`, `too_many`, `drop`, `truncate`, `slow`, `timeout_408`).
    pub fn name(self) -> &'static str {
        match self {
            FaultKind::Status => "status",
            FaultKind::TooMany => "too_many",
            FaultKind::Drop => "drop",
            FaultKind::Truncate => "truncate",
            FaultKind::Slow => "slow",
            FaultKind::Timeout408 => "timeout_408",
        }
    }
}

impl std::str::FromStr for FaultKind {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        FaultKind::ALL
            .into_iter()
            .find(|k| k.name() == s)
            .ok_or_else(|| {
                format!("unknown fault kind {s:?} (status, too_many, drop, truncate, slow, timeout_408)")
            })
    }
}

/// The fault configuration (off by default). JSON form (every field optional):
/// `{"rate": 0.1, "seed": 1, "kinds": ["status", "drop"], "latency_ms": [10, 50],
///   "slow_ms": 200, "too_many_burst": true}`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Faults {
    /// Fraction of `/api/v4` requests that get a fault (0 = off).
    pub rate: f64,
    /// Seed of the decisions.
    pub seed: u64,
    /// The enabled kinds (default: all). Empty = no faults.
    pub kinds: BTreeSet<FaultKind>,
    /// Extra latency `[min, max]` ms added to every `/api/v4` request (independent of `rate`).
    pub latency_ms: Option<(u64, u64)>,
    /// The delay of a `slow` fault: before the headers, or spread over the first body pieces.
    pub slow_ms: u64,
    /// A `too_many` fault is followed by 1..=3 (by hash) more 429s.
    pub too_many_burst: bool,
    /// `/api/v4` paths containing one of these strings always get a 500 (a part of the server
    /// that keeps failing, independent of `rate`).
    pub broken_paths: Vec<String>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            rate: 0.0,
            seed: 0,
            kinds: FaultKind::ALL.into_iter().collect(),
            latency_ms: None,
            slow_ms: 200,
            too_many_burst: true,
            broken_paths: Vec::new(),
        }
    }
}

impl Faults {
    /// `rate` and `seed` with every kind enabled.
    pub fn new(rate: f64, seed: u64) -> Faults {
        Faults {
            rate,
            seed,
            ..Faults::default()
        }
    }

    /// Only these kinds.
    pub fn with_kinds(mut self, kinds: &[FaultKind]) -> Faults {
        self.kinds = kinds.iter().copied().collect();
        self
    }

    /// Neither faults nor latency.
    pub fn is_off(&self) -> bool {
        (self.rate <= 0.0 || self.kinds.is_empty())
            && self.latency_ms.is_none()
            && self.broken_paths.is_empty()
    }
}

/// A fault resolved for one request.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fault {
    /// 500, 502, 503 or 504.
    Status(u16),
    /// 429; `burst` is true for the follow-up 429s of a burst.
    TooMany {
        burst: bool,
    },
    Drop,
    Truncate,
    /// Headers delayed by this many ms.
    SlowHead(u64),
    /// The body trickles in; this many ms of pauses in total.
    SlowBody(u64),
    Timeout408,
}

impl Fault {
    pub fn kind(&self) -> FaultKind {
        match self {
            Fault::Status(_) => FaultKind::Status,
            Fault::TooMany { .. } => FaultKind::TooMany,
            Fault::Drop => FaultKind::Drop,
            Fault::Truncate => FaultKind::Truncate,
            Fault::SlowHead(_) | Fault::SlowBody(_) => FaultKind::Slow,
            Fault::Timeout408 => FaultKind::Timeout408,
        }
    }
}

/// What the injector decided for the `n`-th `/api/v4` request (0-based).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Step {
    pub n: u64,
    pub fault: Option<Fault>,
    /// Extra latency before anything else (from `latency_ms`).
    pub latency_ms: u64,
}

/// One injected fault, for [`crate::FakeServer::fault_log`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FaultEvent {
    /// The request number since the faults were set (0-based).
    pub n: u64,
    /// `"METHOD /route/{pattern}"`, as in `request_counts`.
    pub route: String,
    pub fault: Fault,
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// The hash of (seed, n, salt).
pub fn mix(seed: u64, n: u64, salt: u64) -> u64 {
    splitmix(splitmix(splitmix(seed) ^ n) ^ salt)
}

/// A sequence of decisions: the request counter and the remaining 429 burst.
#[derive(Clone, Debug)]
pub struct FaultSeq {
    faults: Faults,
    n: u64,
    burst_left: u32,
}

impl FaultSeq {
    pub fn new(faults: Faults) -> FaultSeq {
        FaultSeq {
            faults,
            n: 0,
            burst_left: 0,
        }
    }

    pub fn faults(&self) -> &Faults {
        &self.faults
    }

    /// The decision for the next request.
    pub fn next_step(&mut self) -> Step {
        let f = &self.faults;
        let n = self.n;
        self.n += 1;
        let latency_ms = match f.latency_ms {
            Some((lo, hi)) if hi > lo => lo + mix(f.seed, n, 1) % (hi - lo + 1),
            Some((lo, _)) => lo,
            None => 0,
        };
        if self.burst_left > 0 {
            self.burst_left -= 1;
            return Step {
                n,
                fault: Some(Fault::TooMany { burst: true }),
                latency_ms,
            };
        }
        let u = (mix(f.seed, n, 2) >> 11) as f64 / (1u64 << 53) as f64;
        if f.kinds.is_empty() || u >= f.rate {
            return Step {
                n,
                fault: None,
                latency_ms,
            };
        }
        let kinds: Vec<FaultKind> = f.kinds.iter().copied().collect();
        let h = mix(f.seed, n, 3);
        let fault = match kinds[(h % kinds.len() as u64) as usize] {
            FaultKind::Status => Fault::Status([500, 502, 503, 504][((h >> 8) % 4) as usize]),
            FaultKind::TooMany => {
                if f.too_many_burst {
                    self.burst_left = 1 + ((h >> 8) % 3) as u32;
                }
                Fault::TooMany { burst: false }
            }
            FaultKind::Drop => Fault::Drop,
            FaultKind::Truncate => Fault::Truncate,
            FaultKind::Slow => {
                if (h >> 8) & 1 == 0 {
                    Fault::SlowHead(f.slow_ms)
                } else {
                    Fault::SlowBody(f.slow_ms)
                }
            }
            FaultKind::Timeout408 => Fault::Timeout408,
        };
        Step {
            n,
            fault: Some(fault),
            latency_ms,
        }
    }
}

fn io_err(msg: &'static str) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::ConnectionAborted, msg)
}

/// A response whose body fails before the first byte: hyper closes the connection without
/// writing the (still buffered) status line, so the client sees a connection error.
pub fn dropped() -> Response {
    let s = futures_util::stream::once(async { Err::<Bytes, _>(io_err("fakemm: injected drop")) });
    let mut r = Response::new(Body::from_stream(s));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    r
}

const NGINX_502: &str = "<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body>\r\n\
<center><h1>502 Bad Gateway</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
const NGINX_504: &str = "<html>\r\n<head><title>504 Gateway Time-out</title></head>\r\n<body>\r\n\
<center><h1>504 Gateway Time-out</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n";
const ENVOY_503: &str =
    "upstream connect error or disconnect/reset before headers. reset reason: connection termination";

/// 500 as the Mattermost server renders an internal error, or 502/503/504 as a proxy does.
pub fn status_response(code: u16, request_id: &str, version: &str) -> Response {
    match code {
        500 => {
            let body = serde_json::json!({
                "id": "api.context.server_error",
                "message": "An internal server error occurred.",
                "detailed_error": "",
                "request_id": request_id,
                "status_code": 500,
            })
            .to_string();
            let mut r = (
                StatusCode::INTERNAL_SERVER_ERROR,
                [(header::CONTENT_TYPE, "application/json")],
                body,
            )
                .into_response();
            let h = r.headers_mut();
            if let Ok(v) = HeaderValue::from_str(request_id) {
                h.insert("X-Request-ID", v);
            }
            if let Ok(v) = HeaderValue::from_str(&format!(
                "{version}.{version}.0123456789abcdef0123456789abcdef.false"
            )) {
                h.insert("X-Version-ID", v);
            }
            r
        }
        503 => (
            StatusCode::SERVICE_UNAVAILABLE,
            [(header::CONTENT_TYPE, "text/plain")],
            ENVOY_503,
        )
            .into_response(),
        504 => (
            StatusCode::GATEWAY_TIMEOUT,
            [(header::CONTENT_TYPE, "text/html")],
            NGINX_504,
        )
            .into_response(),
        _ => (
            StatusCode::BAD_GATEWAY,
            [(header::CONTENT_TYPE, "text/html")],
            NGINX_502,
        )
            .into_response(),
    }
}

/// 429 as the real rate limiter answers it.
pub fn too_many_response() -> Response {
    (
        StatusCode::TOO_MANY_REQUESTS,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::RETRY_AFTER, "1"),
            (header::HeaderName::from_static("x-ratelimit-limit"), "10"),
            (
                header::HeaderName::from_static("x-ratelimit-remaining"),
                "0",
            ),
            (header::HeaderName::from_static("x-ratelimit-reset"), "1"),
        ],
        "limit exceeded\n",
    )
        .into_response()
}

/// 408 as Go's `net/http` answers a request it timed out reading.
pub fn timeout_408_response() -> Response {
    (
        StatusCode::REQUEST_TIMEOUT,
        [
            (header::CONTENT_TYPE, "text/plain; charset=utf-8"),
            (header::CONNECTION, "close"),
        ],
        "408 Request Timeout",
    )
        .into_response()
}

/// The body length: the `Content-Length` header, else the body's exact size hint.
fn known_len(r: &Response) -> Option<u64> {
    r.headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok())
        .or_else(|| axum::body::HttpBody::size_hint(r.body()).exact())
}

/// Keeps the response head (and sets `Content-Length` to the full length when known), sends
/// about half the body, then fails the connection. A body-less response becomes [`dropped`].
pub fn truncate(r: Response) -> Response {
    let len = known_len(&r);
    if len.is_some_and(|n| n < 2) {
        return dropped();
    }
    let limit = len.map(|n| n / 2).unwrap_or(16 * 1024);
    let (mut parts, body) = r.into_parts();
    if let Some(n) = len {
        parts.headers.insert(header::CONTENT_LENGTH, n.into());
    }
    struct St {
        inner: axum::body::BodyDataStream,
        sent: u64,
        limit: u64,
        phase: u8,
    }
    let st = St {
        inner: body.into_data_stream(),
        sent: 0,
        limit,
        phase: 0,
    };
    let s = futures_util::stream::unfold(st, |mut st| async move {
        loop {
            match st.phase {
                0 => match st.inner.next().await {
                    Some(Ok(b)) => {
                        let room = st.limit - st.sent;
                        if (b.len() as u64) < room {
                            st.sent += b.len() as u64;
                            return Some((Ok(b), st));
                        }
                        st.phase = 1;
                        if room > 0 {
                            st.sent = st.limit;
                            return Some((Ok(b.slice(..room as usize)), st));
                        }
                    }
                    Some(Err(_)) => st.phase = 1,
                    None => st.phase = 1,
                },
                1 => {
                    // Let hyper flush what was sent, then break the connection.
                    tokio::time::sleep(Duration::from_millis(30)).await;
                    st.phase = 2;
                    return Some((Err(io_err("fakemm: injected truncation")), st));
                }
                _ => return None,
            }
        }
    });
    Response::from_parts(parts, Body::from_stream(s))
}

/// The body arrives in small pieces with pauses (`total_ms` in all, over at most 8 pieces),
/// then the rest at full speed. Headers (including `Content-Length`) are kept.
pub fn trickle(r: Response, total_ms: u64) -> Response {
    const PIECES: u32 = 8;
    let len = known_len(&r);
    let piece = len
        .map(|n| (n / PIECES as u64).max(1) as usize)
        .unwrap_or(8 * 1024);
    let (mut parts, body) = r.into_parts();
    if let Some(n) = len {
        parts.headers.insert(header::CONTENT_LENGTH, n.into());
    }
    let delay = Duration::from_millis(total_ms / PIECES as u64);
    struct St {
        inner: axum::body::BodyDataStream,
        buf: Bytes,
        pieces: u32,
    }
    let st = St {
        inner: body.into_data_stream(),
        buf: Bytes::new(),
        pieces: 0,
    };
    let s = futures_util::stream::unfold(st, move |mut st| async move {
        while st.buf.is_empty() {
            match st.inner.next().await {
                Some(Ok(b)) => st.buf = b,
                Some(Err(e)) => return Some((Err(std::io::Error::other(e)), st)),
                None => return None,
            }
        }
        if st.pieces >= PIECES {
            let b = std::mem::take(&mut st.buf);
            return Some((Ok(b), st));
        }
        st.pieces += 1;
        tokio::time::sleep(delay).await;
        let n = piece.min(st.buf.len());
        let b = st.buf.split_to(n);
        Some((Ok::<Bytes, std::io::Error>(b), st))
    });
    Response::from_parts(parts, Body::from_stream(s))
}
