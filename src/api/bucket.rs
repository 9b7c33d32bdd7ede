//! The server's rate-limit bucket as its answers show it: with several requests in flight, no
//! more are sent than `X-RateLimit-Remaining` says the bucket still holds.

use std::sync::Mutex;

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
    in_flight: u64,
}

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
}

impl Sent<'_> {
    /// Takes the tokens left that an answer reports (the fewest of its buckets).
    pub(crate) fn answered(&self, headers: &HeaderMap) {
        let remaining = headers
            .get_all("x-ratelimit-remaining")
            .iter()
            .filter_map(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
            .min();
        if let Some(r) = remaining {
            self.0.state.lock().expect("not poisoned").remaining = Some(r);
        }
    }
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
}
