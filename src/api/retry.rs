//! Which failed requests are tried again, and how long to wait before the next attempt.

use std::time::Duration;

use rand::Rng;

use super::error::ApiError;

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
    /// The wait before attempt `attempt + 1` (attempt counts from 1), honouring a server hint.
    pub fn delay(&self, attempt: u32, hint: Option<Duration>) -> Duration {
        let d = match hint {
            Some(h) => h.min(Duration::from_secs(600)),
            None => {
                let exp = self
                    .base
                    .saturating_mul(1u32 << attempt.saturating_sub(1).min(16))
                    .min(self.cap);
                // full jitter on the upper half: between exp/2 and exp
                let half = exp / 2;
                half + half.mul_f64(rand::rng().random_range(0.0..=1.0))
            }
        };
        d.mul_f64(self.scale.max(0.0))
    }
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
        | ApiError::TooSlow { .. } => true,
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

    #[test]
    fn backoff_doubles_up_to_the_cap_and_hints_win() {
        let p = RetryPolicy {
            attempts: 10,
            base: Duration::from_millis(100),
            cap: Duration::from_secs(1),
            scale: 1.0,
        };
        let d1 = p.delay(1, None);
        assert!(
            d1 >= Duration::from_millis(50) && d1 <= Duration::from_millis(100),
            "{d1:?}"
        );
        let d3 = p.delay(3, None);
        assert!(
            d3 >= Duration::from_millis(200) && d3 <= Duration::from_millis(400),
            "{d3:?}"
        );
        assert!(p.delay(20, None) <= Duration::from_secs(1));
        assert_eq!(
            p.delay(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        let fast = RetryPolicy { scale: 0.001, ..p };
        assert_eq!(
            fast.delay(1, Some(Duration::from_secs(3))),
            Duration::from_millis(3)
        );
    }
}
