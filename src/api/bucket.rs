//! The server's rate-limit bucket as its answers show it: with several requests in flight, no
//! more are sent than `X-RateLimit-Remaining` says the bucket still holds.
//!
//! A request waits for an answer to free a token at most one token's time: an answer is only
//! seen when the future that sent it is polled again, and a page requested ahead may lie
//! unpolled while its walk waits for another request. Sending then is safe: the server has a
//! token again by then, or answers 429, which the retry rules handle.

use std::sync::Mutex;
use std::time::Duration;

use reqwest::header::HeaderMap;
use tokio::sync::futures::Notified;
use tokio::sync::Notify;

/// Requests sent and not answered yet, against the tokens the last answer reported.
#[derive(Default)]
pub(crate) struct Bucket {
    state: Mutex<State>,
    answered: Notify,
}

#[derive(Default)]
struct State {
    /// The fewest tokens left of the server's buckets, from the last answer with the headers.
    remaining: Option<u64>,
    /// The time the server's bucket takes for one token (`Reset / Limit`), from the same answer.
    token: Option<Duration>,
    in_flight: u64,
}

/// The longest wait for an answer when the rate-limit headers say nothing of the token time.
const TOKEN_DEFAULT: Duration = Duration::from_millis(100);

/// A request counted in flight until it is dropped (answered or failed).
pub(crate) struct Sent<'b>(&'b Bucket);

impl Bucket {
    /// Counts one more request if it fits in what the server's bucket holds; else the wait
    /// for the next answer (then the caller checks the server's pause again, and retries).
    /// Without rate-limit headers, or with nothing in flight (the pause after an empty bucket
    /// has waited for one token), it fits.
    pub(crate) fn try_take(&self) -> Result<Sent<'_>, Notified<'_>> {
        let answered = self.answered.notified();
        let mut s = self.state.lock().expect("not poisoned");
        if s.in_flight == 0 || s.remaining.is_none_or(|r| s.in_flight < r) {
            s.in_flight += 1;
            return Ok(Sent(self));
        }
        Err(answered)
    }

    /// Counts one more request whatever the bucket holds (after [`Bucket::patience`]).
    pub(crate) fn take(&self) -> Sent<'_> {
        self.state.lock().expect("not poisoned").in_flight += 1;
        Sent(self)
    }

    /// How long a request waits for an answer to free a token before it is sent anyway: the
    /// time of one token of the server's bucket, between 10 ms and 1 s.
    pub(crate) fn patience(&self) -> Duration {
        let s = self.state.lock().expect("not poisoned");
        s.token
            .unwrap_or(TOKEN_DEFAULT)
            .clamp(Duration::from_millis(10), Duration::from_secs(1))
    }
}

impl Sent<'_> {
    /// Takes the tokens left that an answer reports (the fewest of its buckets).
    pub(crate) fn answered(&self, headers: &HeaderMap) {
        let remaining = headers
            .get_all("x-ratelimit-remaining")
            .iter()
            .filter_map(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
            .min();
        let token = one_token(headers);
        if remaining.is_some() || token.is_some() {
            let mut s = self.0.state.lock().expect("not poisoned");
            s.remaining = remaining.or(s.remaining);
            s.token = token.or(s.token);
        }
    }
}

/// `X-RateLimit-Reset / X-RateLimit-Limit` of the first bucket that has both: the time the
/// server's limiter takes for one token (see `retry::rate_limit_pause`).
fn one_token(headers: &HeaderMap) -> Option<Duration> {
    let first = |name: &str| -> Option<f64> {
        headers
            .get_all(name)
            .iter()
            .find_map(|v| v.to_str().ok()?.trim().parse::<f64>().ok())
    };
    let (reset, limit) = (first("x-ratelimit-reset")?, first("x-ratelimit-limit")?);
    (limit >= 1.0 && reset.is_finite() && reset >= 0.0).then(|| {
        Duration::from_secs_f64((reset / limit).min(super::retry::MAX_SERVER_WAIT.as_secs_f64()))
    })
}

impl Drop for Sent<'_> {
    fn drop(&mut self) {
        let mut s = self.0.state.lock().expect("not poisoned");
        s.in_flight = s.in_flight.saturating_sub(1);
        drop(s);
        self.0.answered.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_more_in_flight_than_the_bucket_holds() {
        let b = Bucket::default();
        let first = b.try_take().ok().unwrap();
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", "1".parse().unwrap());
        first.answered(&h);
        // One token, one request in flight: the next waits until that one is answered.
        assert!(b.try_take().is_err());
        drop(first);
        assert!(b.try_take().is_ok());
    }

    #[test]
    fn patience_is_one_token_of_the_servers_bucket() {
        let b = Bucket::default();
        assert_eq!(b.patience(), TOKEN_DEFAULT);
        let first = b.take();
        let mut h = HeaderMap::new();
        h.insert("x-ratelimit-remaining", "0".parse().unwrap());
        h.insert("x-ratelimit-limit", "101".parse().unwrap());
        h.insert("x-ratelimit-reset", "11".parse().unwrap());
        first.answered(&h);
        assert_eq!(b.patience(), Duration::from_secs_f64(11.0 / 101.0));
        // `first` may be held by a future nobody polls: the next request waits, then is
        // counted all the same.
        assert!(b.try_take().is_err());
        let second = b.take();
        assert_eq!(b.state.lock().unwrap().in_flight, 2);
        drop((first, second));
        assert_eq!(b.state.lock().unwrap().in_flight, 0);
    }
}
