//! Which failed requests are tried again, and how long to wait before the next attempt.

use std::time::Duration;

use rand::Rng;

use super::error::ApiError;

/// The longest wait the server can make a request wait (`Retry-After`, or the time for one
/// token of an empty rate-limit bucket): a longer one is cut to this.
pub const MAX_SERVER_WAIT: Duration = Duration::from_secs(600);
/// A wait the server asks for that is at least this long is logged at the default level.
pub const LONG_WAIT: Duration = Duration::from_secs(5);

/// What becomes of a wait the server asked for before the next request: cut to
/// [`MAX_SERVER_WAIT`]; longer than `timeout` (`--timeout`), it is not waited at all, and the
/// request counts as a failed attempt (`Err`, the wait it would have been). The one place
/// for this rule.
pub fn server_wait(asked: Duration, timeout: Duration) -> Result<Duration, Duration> {
    let wait = asked.min(MAX_SERVER_WAIT);
    if wait > timeout {
        Err(wait)
    } else {
        Ok(wait)
    }
}

/// Retry settings: capped exponential backoff with jitter; the server's `Retry-After` wins.
#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts in all, the first included (1 = no retry).
    pub attempts: u32,
    /// The first backoff; each further one doubles, up to `cap`.
    pub base: Duration,
    pub cap: Duration,
    /// Multiplies every wait, the server's included (tests run with a tiny scale).
    pub scale: f64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            attempts: 6,
            base: Duration::from_millis(500),
            cap: Duration::from_secs(30),
            scale: 1.0,
        }
    }
}

impl RetryPolicy {
    /// The backoff before attempt `attempt + 1` (attempt counts from 1). A pause the server
    /// asked for is not this: it holds every request (`api::gate`).
    pub fn delay(&self, attempt: u32) -> Duration {
        let exp = self
            .base
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
            .min(self.cap);
        // full jitter on the upper half: between exp/2 and exp
        let half = exp / 2;
        let d = half + half.mul_f64(rand::rng().random_range(0.0..=1.0));
        self.scaled(d)
    }

    /// `d` times the test factor `scale`.
    pub fn scaled(&self, d: Duration) -> Duration {
        d.mul_f64(self.scale.max(0.0))
    }
}

/// How long to hold the next request after an answer whose rate-limit headers say a bucket of
/// the server's limiter is empty (`X-RateLimit-Remaining: 0`); `None` when none is.
///
/// The real server sets these headers from throttled's GCRA limiter (`app/ratelimit.go`
/// `setRateLimitHeaders`, with `Header().Add`, so once per bucket: the IP bucket and, with
/// `VaryByUser`, the user's): `X-RateLimit-Limit` is MaxBurst+1, and `X-RateLimit-Reset` is
/// `ResetAfter`, the time until the bucket is *full* again, rounded up to whole seconds: about
/// (MaxBurst+1)/rate. The next request is allowed after one emission interval, 1/rate.
/// `Reset / Limit` is the time for one token: never shorter than the wait needed (the
/// remaining wait is at most `ResetAfter - MaxBurst/rate`, which is at most
/// `ResetAfter/(MaxBurst+1)`) and close to 1/rate for a limiter with a burst (the defaults,
/// 10/s and 100, give 11/101 s). Waiting the whole Reset would cut the rate to about one
/// burst per Reset. Buckets pair up by position; the longest wait wins.
pub fn rate_limit_pause(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let values = |name: &str| -> Vec<Option<f64>> {
        headers
            .get_all(name)
            .iter()
            .map(|v| v.to_str().ok()?.trim().parse::<f64>().ok())
            .collect()
    };
    let remaining = values("x-ratelimit-remaining");
    let reset = values("x-ratelimit-reset");
    let limit = values("x-ratelimit-limit");
    remaining
        .iter()
        .enumerate()
        .filter(|(_, r)| **r == Some(0.0))
        .map(|(i, _)| {
            // Without a Reset, one second (the shortest the server can say); without a Limit,
            // the whole Reset.
            let reset = reset.get(i).copied().flatten().unwrap_or(1.0);
            let limit = limit.get(i).copied().flatten().unwrap_or(1.0).max(1.0);
            (reset / limit).clamp(0.0, MAX_SERVER_WAIT.as_secs_f64())
        })
        .reduce(f64::max)
        .map(Duration::from_secs_f64)
}

/// How long every request waits after a 429, and why (for the log).
///
/// throttled's `Retry-After` is the wait rounded up to whole seconds (at 20/s, 1 s for a wait
/// of at most 50 ms), and the same answer's rate-limit headers say the time for one token
/// (`Reset / Limit`, see [`rate_limit_pause`]), never shorter than the wait: when
/// `Retry-After` is no more than that time rounded up, it says nothing more, and the token's
/// time wins. A `Retry-After` beyond it (a proxy's, another limiter's) is waited as it is;
/// without either, one second (the shortest a `Retry-After` says).
pub fn refused_wait(headers: &reqwest::header::HeaderMap) -> (Duration, String) {
    let retry_after = headers
        .get(reqwest::header::RETRY_AFTER)
        .and_then(|v| v.to_str().ok()?.trim().parse::<u64>().ok());
    let token = rate_limit_pause(headers);
    let wait = match (retry_after, token) {
        (Some(ra), Some(t)) if ra as f64 <= t.as_secs_f64().ceil() => t,
        (Some(ra), _) => Duration::from_secs(ra),
        (None, Some(t)) => t,
        (None, None) => Duration::from_secs(1),
    };
    let header = |name: &str| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| format!(", {name}: {}", v.trim()))
            .unwrap_or_default()
    };
    let cause = format!(
        "it answered 429 Too Many Requests{}{}{}",
        header("retry-after"),
        header("x-ratelimit-limit"),
        header("x-ratelimit-reset")
    );
    (wait.min(MAX_SERVER_WAIT), cause)
}

/// The most 429s one request may meet without counting them as failed attempts (a bound for a
/// server that refuses one request for ever while it answers the others).
pub const MAX_FREE_REFUSALS: u32 = 100;

/// Whether a failed attempt is tried again without counting against `--retries`: a 429 while
/// the run makes progress (`progressing`: a request succeeded within `--timeout`), up to
/// [`MAX_FREE_REFUSALS`] for one request (`free`: how many it met so far). The server's
/// limiter refuses what comes too early, not what is wrong, and the shared pause and the
/// window (`api::gate`) slow every request after it; a server that answers nothing but 429
/// for `--timeout` makes them failed attempts again, so the run ends.
pub fn is_free_retry(e: &ApiError, progressing: bool, free: u32) -> bool {
    matches!(e, ApiError::Status { status: 429, .. }) && progressing && free < MAX_FREE_REFUSALS
}

/// Whether an error is worth another attempt: 429, 408, 5xx but 501, timeouts, broken
/// connections and bodies. Other 4xx, bad JSON, HTML pages and redirects are final.
pub fn is_retryable(e: &ApiError) -> bool {
    match e {
        ApiError::Status { status, .. } => {
            matches!(*status, 408 | 429) || (*status >= 500 && *status != 501)
        }
        ApiError::Connect { .. }
        | ApiError::Timeout { .. }
        | ApiError::Transfer { .. }
        | ApiError::TooSlow { .. }
        | ApiError::WaitTooLong { .. } => true,
        // A certificate does not become trusted by waiting.
        ApiError::Tls { .. }
        | ApiError::NotApi { .. }
        | ApiError::BadJson { .. }
        | ApiError::TooLarge { .. }
        | ApiError::Endless { .. }
        | ApiError::Cancelled => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn status(s: u16) -> ApiError {
        ApiError::Status {
            method: "GET",
            url: "u".into(),
            status: s,
            reason: "",
            id: None,
            server: String::new(),
            retry_after: None,
        }
    }

    #[test]
    fn classification() {
        for s in [408, 429, 500, 502, 503, 504] {
            assert!(is_retryable(&status(s)), "{s}");
        }
        for s in [400, 401, 403, 404, 413, 501] {
            assert!(!is_retryable(&status(s)), "{s}");
        }
        assert!(is_retryable(&ApiError::Transfer {
            url: "u".into(),
            detail: "reset".into()
        }));
        assert!(!is_retryable(&ApiError::BadJson {
            url: "u".into(),
            detail: "x".into()
        }));
        assert!(!is_retryable(&ApiError::Cancelled));
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> reqwest::header::HeaderMap {
        let mut h = reqwest::header::HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, reqwest::header::HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn an_empty_bucket_waits_for_one_token_not_for_the_reset() {
        // The server's defaults: 10/s, burst 100: Limit 101, Reset 11 s when empty.
        let h = headers(&[
            ("x-ratelimit-limit", "101"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "11"),
        ]);
        let d = rate_limit_pause(&h).unwrap();
        assert!((d.as_secs_f64() - 11.0 / 101.0).abs() < 1e-9, "{d:?}");
        // Tokens left: no pause.
        let h = headers(&[
            ("x-ratelimit-limit", "101"),
            ("x-ratelimit-remaining", "3"),
            ("x-ratelimit-reset", "11"),
        ]);
        assert_eq!(rate_limit_pause(&h), None);
        assert_eq!(rate_limit_pause(&headers(&[])), None);
    }

    #[test]
    fn two_buckets_the_empty_one_decides() {
        // Header().Add once per bucket: the IP bucket has tokens, the user's is empty.
        let h = headers(&[
            ("x-ratelimit-limit", "101"),
            ("x-ratelimit-remaining", "40"),
            ("x-ratelimit-reset", "7"),
            ("x-ratelimit-limit", "6"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "3"),
        ]);
        assert_eq!(rate_limit_pause(&h), Some(Duration::from_millis(500)));
        // Without a Limit, the whole Reset (the only safe reading).
        let h = headers(&[("x-ratelimit-remaining", "0"), ("x-ratelimit-reset", "2")]);
        assert_eq!(rate_limit_pause(&h), Some(Duration::from_secs(2)));
    }

    #[test]
    fn backoff_doubles_up_to_the_cap_and_hints_win() {
        let p = RetryPolicy {
            attempts: 10,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            scale: 1.0,
        };
        let d1 = p.delay(1);
        assert!(
            d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100),
            "{d1:?}"
        );
        let d3 = p.delay(3);
        assert!(
            d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400),
            "{d3:?}"
        );
        assert!(p.delay(20) <= Duration::from_secs(1));
        let fast = RetryPolicy { scale: 0.001, ..p };
        assert!(fast.delay(1) <= Duration::from_micros(100));
        assert_eq!(
            fast.scaled(Duration::from_secs(3)),
            Duration::from_millis(3)
        );
    }

    #[test]
    fn issue19_a_429_waits_the_token_time_unless_retry_after_says_more() {
        // throttled at 20/s, burst 5: Retry-After 1 is the wait rounded up; 1/6 s is enough.
        let h = headers(&[
            ("retry-after", "1"),
            ("x-ratelimit-limit", "6"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1"),
        ]);
        let (wait, cause) = refused_wait(&h);
        assert!((wait.as_secs_f64() - 1.0 / 6.0).abs() < 1e-9, "{wait:?}");
        assert_eq!(
            cause,
            "it answered 429 Too Many Requests, retry-after: 1, x-ratelimit-limit: 6, x-ratelimit-reset: 1"
        );
        // At 1/s, burst 1: one second either way.
        let h = headers(&[
            ("retry-after", "1"),
            ("x-ratelimit-limit", "2"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "2"),
        ]);
        assert_eq!(refused_wait(&h).0, Duration::from_secs(1));
        // A Retry-After beyond the token: it wins; alone: as it is; nothing: one second.
        let h = headers(&[
            ("retry-after", "30"),
            ("x-ratelimit-limit", "6"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "1"),
        ]);
        assert_eq!(refused_wait(&h).0, Duration::from_secs(30));
        assert_eq!(
            refused_wait(&headers(&[("retry-after", "7")])).0,
            Duration::from_secs(7)
        );
        assert_eq!(refused_wait(&headers(&[])).0, Duration::from_secs(1));
        assert_eq!(
            refused_wait(&headers(&[("retry-after", "999999")])).0,
            MAX_SERVER_WAIT
        );
    }

    #[test]
    fn issue19_a_429_is_free_while_the_run_makes_progress() {
        let e = status(429);
        assert!(is_free_retry(&e, true, 0));
        assert!(is_free_retry(&e, true, MAX_FREE_REFUSALS - 1));
        assert!(!is_free_retry(&e, true, MAX_FREE_REFUSALS));
        assert!(!is_free_retry(&e, false, 0), "no progress within --timeout");
        assert!(!is_free_retry(&status(503), true, 0));
    }

    #[test]
    fn issue18_a_server_wait_is_capped_and_longer_than_the_timeout_is_not_waited() {
        let s = Duration::from_secs;
        assert_eq!(server_wait(s(3), s(120)), Ok(s(3)));
        assert_eq!(server_wait(s(120), s(120)), Ok(s(120)));
        assert_eq!(server_wait(s(121), s(120)), Err(s(121)));
        assert_eq!(server_wait(s(999_999_999), s(120)), Err(MAX_SERVER_WAIT));
        assert_eq!(server_wait(s(999_999_999), s(86_400)), Ok(MAX_SERVER_WAIT));
        let h = headers(&[
            ("x-ratelimit-limit", "1"),
            ("x-ratelimit-remaining", "0"),
            ("x-ratelimit-reset", "999999999"),
        ]);
        assert_eq!(rate_limit_pause(&h), Some(MAX_SERVER_WAIT));
    }
}
