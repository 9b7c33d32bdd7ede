//! Errors of the Mattermost client, classified so callers and `error::code_for` can act on them.

use crate::error::Code;

/// One failed API call. Messages name the method and URL (never a token) and say what to check.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    #[error(
        "cannot reach {url}: {detail}; check the URL (--url, MATTERBAK_URL, credentials file) and the network"
    )]
    Connect { url: String, detail: String },
    #[error(
        "TLS with {url} failed: {detail}; if the server's CA is private, pass --ca-cert CA.pem"
    )]
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
    #[error("{url} answered with `{content_type}`, not the Mattermost API; check the URL (--url, MATTERBAK_URL, credentials file)")]
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
    /// The server asked for a wait longer than `--timeout` (`Retry-After`, or an empty
    /// rate-limit bucket): not waited; it counts as a failed attempt (retried).
    #[error("{url}: the server asks to wait {:.0} s before the next request ({cause}), longer than --timeout ({:.0} s); not waiting that long (raise --timeout to wait)", wait.as_secs_f64(), timeout.as_secs_f64())]
    WaitTooLong {
        url: String,
        wait: std::time::Duration,
        cause: String,
        timeout: std::time::Duration,
    },
    #[error("interrupted")]
    Cancelled,
}

impl ApiError {
    /// The exit code of a run that this error ended.
    pub fn exit_code(&self) -> Code {
        match self {
            ApiError::Cancelled => Code::Interrupted,
            ApiError::Connect { .. } | ApiError::Tls { .. } | ApiError::NotApi { .. } => {
                Code::Unreachable
            }
            ApiError::Status { status: 401, .. } => Code::Auth,
            // A redirect to another host that was not followed: the URL is wrong.
            ApiError::Status {
                status: 300..=399, ..
            } => Code::Unreachable,
            _ => Code::Failure,
        }
    }

    /// [`ApiError::exit_code`] of a cause in an error chain that is an `ApiError` (an
    /// [`error::Classify`](crate::error::Classify) for [`error::code_for`](crate::error::code_for)).
    pub fn classify(cause: &(dyn std::error::Error + 'static)) -> Option<Code> {
        cause.downcast_ref::<ApiError>().map(ApiError::exit_code)
    }

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

    /// One short line for a retry: the host instead of the URL, the reason without the
    /// library's wording (`cannot reach 127.0.0.1:8065 (connection refused)`).
    pub fn brief(&self) -> String {
        match self {
            ApiError::Connect { url, detail } => format!("cannot reach {} ({detail})", host(url)),
            ApiError::Tls { url, detail } => format!("TLS with {} failed ({detail})", host(url)),
            ApiError::Timeout { url, .. } => {
                format!("no answer from {} within the timeout", host(url))
            }
            ApiError::Status {
                method,
                url,
                status,
                reason,
                ..
            } => format!("{method} {}: {status} {reason}", path(url)),
            ApiError::Transfer { url, detail } => {
                format!("{}: transfer broke off ({})", host(url), cut(detail, 80))
            }
            ApiError::WaitTooLong { wait, timeout, .. } => format!(
                "the server asks to wait {:.0} s, longer than --timeout ({:.0} s)",
                wait.as_secs_f64(),
                timeout.as_secs_f64()
            ),
            other => cut(&other.to_string(), 160),
        }
    }

    pub(crate) fn from_reqwest(url: &str, e: reqwest::Error) -> Self {
        let full = error_chain(&e);
        // The whole chain for `-v`; the message keeps the reason only.
        tracing::debug!("{url}: {full}");
        let detail = reason(&e);
        let url = url.to_string();
        if e.is_timeout() {
            ApiError::Timeout { url, detail }
        } else if is_tls_failure(&full) {
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
    chain_parts(e).join(": ")
}

fn chain_parts(e: &dyn std::error::Error) -> Vec<String> {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.iter().any(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts
}

/// The cause at the end of the chain, in a few words: `connection refused`,
/// `DNS lookup failed: Name or service not known`, `invalid peer certificate: UnknownIssuer`.
fn reason(e: &dyn std::error::Error) -> String {
    let parts = chain_parts(e);
    let last = parts.last().map_or("", String::as_str);
    // " (os error 111)" says nothing to a person
    let last = match last.find(" (os error ") {
        Some(i) if last.ends_with(')') => &last[..i],
        _ => last,
    };
    let mut r = if parts.iter().any(|p| p.contains("dns error")) {
        let last = last
            .strip_prefix("failed to lookup address information: ")
            .unwrap_or(last);
        format!("DNS: {last}")
    } else if last.starts_with("error sending request") {
        "the request failed".to_string()
    } else {
        let mut c = last.chars();
        match c.next() {
            // "Connection refused" -> "connection refused"; "UnknownIssuer" stays
            Some(f) if c.clone().next().is_some_and(char::is_lowercase) => {
                f.to_lowercase().chain(c).collect()
            }
            _ => last.to_string(),
        }
    };
    if r.is_empty() {
        r = "no detail".to_string();
    }
    cut(&r, 120)
}

/// `host:port` of a URL (the URL itself when it does not parse).
fn host(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port_or_known_default()) {
            (Some(h), Some(p)) => format!("{h}:{p}"),
            (Some(h), None) => h.to_string(),
            _ => url.to_string(),
        },
        Err(_) => url.to_string(),
    }
}

/// The path of a URL, without its host and query.
fn path(url: &str) -> String {
    reqwest::Url::parse(url).map_or_else(|_| url.to_string(), |u| u.path().to_string())
}

/// At most `max` characters (an ellipsis marks the cut).
fn cut(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return s.to_string();
    }
    let mut t: String = s.chars().take(max - 1).collect();
    t.push('…');
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_retry_line_is_short_and_names_the_host_once() {
        let e = ApiError::Connect {
            url: "http://127.0.0.1:50397/api/v4/users/login".into(),
            detail: "connection refused".into(),
        };
        assert_eq!(
            e.brief(),
            "cannot reach 127.0.0.1:50397 (connection refused)"
        );
        assert_eq!(e.to_string().matches("127.0.0.1:50397").count(), 1);
        let e = ApiError::Status {
            method: "GET",
            url: "https://mm.example.org/api/v4/users/me?x=1".into(),
            status: 503,
            reason: "Service Unavailable",
            id: None,
            server: ": a long body from the server".into(),
            retry_after: None,
        };
        assert_eq!(e.brief(), "GET /api/v4/users/me: 503 Service Unavailable");
        assert_eq!(cut(&"x".repeat(300), 10).chars().count(), 10);
    }
}
