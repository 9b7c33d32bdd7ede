//! Errors of the Mattermost client, classified so callers and `error::code_for` can act on them.

/// One failed API call. Messages name the method and URL (never a token) and say what to check.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "cannot reach {url}: {detail} (check the server URL (--url, MATTERBAK_URL or the credentials file) and your network)"
    )]
    Connect { url: String, detail: String },
    #[error("TLS with {url} failed: {detail} (if the server has a private or self-signed certificate, pass --ca-cert FILE with its CA in PEM; --insecure turns the check off)")]
    Tls { url: String, detail: String },
    #[error("{url}: no answer within the timeout ({detail})")]
    Timeout { url: String, detail: String },
    #[error("{method} {url}: {status} {reason}{server}")]
    Status {
        method: &'static str,
        url: String,
        status: u16,
        reason: &'static str,
        /// The server's error id (e.g. `api.context.permissions.app_error`), if it sent one.
        id: Option<String>,
        /// `": <message> (<id>)"` or `": <body start>"`, ready to print.
        server: String,
        /// How long the server asked to wait (`Retry-After`, or on a 429 without one the time for
        /// one token of its rate limiter).
        retry_after: Option<std::time::Duration>,
    },
    #[error("{url} answered with `{content_type}`, not the Mattermost API (check that the server URL (--url, MATTERBAK_URL or the credentials file) points at the Mattermost server)")]
    NotApi { url: String, content_type: String },
    #[error("{url}: invalid JSON from the server: {detail}")]
    BadJson { url: String, detail: String },
    #[error("{url}: response larger than {limit} bytes, refusing to read it")]
    TooLarge { url: String, limit: u64 },
    #[error("{url}: {detail}")]
    Transfer { url: String, detail: String },
    /// A transfer slower than `--min-speed` over `--min-speed-time` (retried, with `Range` for
    /// attachments).
    #[error("{url}: too slow: {bytes} bytes in {secs:.1} s, under the minimum of {min_speed} bytes/s (--min-speed, --min-speed-time)")]
    TooSlow {
        url: String,
        bytes: u64,
        secs: f64,
        min_speed: u64,
    },
    /// A paged listing that does not end: a full page that brings nothing new, or more pages
    /// than any real server has. Nothing of the listing is used.
    #[error("GET {url}: {detail}; stopped there (the server, or a proxy in front of it, repeats its pages)")]
    Endless { url: String, detail: String },
    #[error("interrupted")]
    Cancelled,
}

impl ApiError {
    /// The HTTP status, if the server answered with an error status.
    pub fn status(&self) -> Option<u16> {
        match self {
            ApiError::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The server's error id, if any.
    pub fn server_id(&self) -> Option<&str> {
        match self {
            ApiError::Status { id, .. } => id.as_deref(),
            _ => None,
        }
    }

    pub(crate) fn from_reqwest(url: &str, e: reqwest::Error) -> Self {
        let detail = error_chain(&e);
        let url = url.to_string();
        if e.is_timeout() {
            ApiError::Timeout { url, detail }
        } else if is_tls_failure(&detail) {
            ApiError::Tls { url, detail }
        } else if e.is_connect() {
            ApiError::Connect { url, detail }
        } else if e.is_decode() || e.is_body() {
            ApiError::Transfer { url, detail }
        } else if e.is_redirect() {
            ApiError::Transfer {
                url,
                detail: format!("redirect failed: {detail}"),
            }
        } else {
            ApiError::Connect { url, detail }
        }
    }
}

/// rustls' certificate and handshake errors, as they appear in the error chain (reqwest does not
/// classify them; they come as connect errors).
fn is_tls_failure(detail: &str) -> bool {
    let d = detail.to_ascii_lowercase();
    [
        "invalid peer certificate",
        "certificate",
        "handshake",
        "tls",
    ]
    .iter()
    .any(|k| d.contains(k))
        && !d.contains("connection refused")
}

/// `reqwest` hides the useful part (DNS, TLS, refused) in the source chain.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts.join(": ")
}
