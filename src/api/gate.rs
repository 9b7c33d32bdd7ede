//! When a request may be sent: the one gate every request passes (pages of posts, attachments,
//! images, listings, the login), after the client's own `--rate-limit`. It keeps what the
//! server's answers said of its rate limiter, for the whole client:
//!
//! - **the pause**: an empty bucket (`X-RateLimit-Remaining: 0`) or a 429 holds every request
//!   until the server's wait is over (`retry::rate_limit_pause`, `retry::refused_wait`); after
//!   a 429 each waiting request adds its own jitter, so they do not all fire at the same
//!   instant (after an empty bucket the bucket lets one go first);
//! - **the bucket**: no more requests in flight than `X-RateLimit-Remaining` says it still
//!   holds;
//! - **the window** (additive increase, multiplicative decrease, like TCP's congestion window):
//!   a 429 halves the number of requests allowed in flight (at least one), once per round of
//!   requests sent before it; each run of as many successes as the window allows adds one
//!   back, until it is above the most ever in flight, where it is lifted again;
//! - **progress**: when a request last succeeded, so that a 429 is not a failed attempt while
//!   the run goes on (`retry::is_free_retry`), and the 429s counted for the summary.
//!
//! A request counts in flight from the moment it passes the gate until the server's headers
//! arrive. The task that sends it reports the answer ([`Sent::answered`]) as soon as it comes,
//! whether or not the caller's future is polled (a download or a page requested ahead may lie
//! unpolled for a while), so the gate never waits for a future nobody polls.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::HeaderMap;
use reqwest::StatusCode;
use tokio::sync::futures::Notified;
use tokio::sync::Notify;

use super::retry::{rate_limit_pause, refused_wait, MAX_SERVER_WAIT};

/// The most a request adds to a 429's pause, as a fraction of what is left of it (random for
/// each request).
const PAUSE_JITTER: f64 = 0.25;

/// The gate; the client holds it in an `Arc` that every [`Sent`] shares.
pub(crate) struct Gate {
    state: Mutex<State>,
    /// Notified whenever a request stops counting in flight.
    answered: Notify,
    /// Multiplies every pause (`RetryPolicy::scale`: tests run with a tiny one).
    scale: f64,
}

#[derive(Default)]
struct State {
    /// The fewest tokens left of the server's buckets, from the last answer with the headers.
    remaining: Option<u64>,
    in_flight: u64,
    /// The most requests ever in flight at once.
    peak: u64,
    /// Requests allowed in flight since a 429; `None`: no limit but the bucket's.
    window: Option<Window>,
    /// Counts the window's decreases: a 429 to a request sent before the last decrease does
    /// not decrease it again (one halving per round of requests, not per refused request).
    round: u64,
    pause: Option<Pause>,
    /// When a request last succeeded (2xx or 304).
    last_success: Option<Instant>,
    /// Answers 429 Too Many Requests.
    refused: u64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Window {
    limit: u64,
    /// Successes since the limit last changed.
    successes: u64,
}

/// A wait the server asked for, holding every request until `until`.
struct Pause {
    /// The wait the server asked for (times the scale) after its answer.
    until: Instant,
    /// The same without the scale: what is left of it is what the server asks for (logged,
    /// and held against `--timeout`).
    asked_until: Instant,
    /// What the server said, for the log (`X-RateLimit-Remaining: 0, ...`).
    cause: String,
    /// A 429's: each request waits a jitter more.
    spread: bool,
    /// The wait was logged at the default level already.
    logged: bool,
}

/// What a request may do now.
pub(crate) enum Turn<'g> {
    /// Go: the request counts in flight until the [`Sent`] is dropped.
    Go(Sent),
    /// Every request is held: this one sleeps `sleep` (what is left of the pause, plus its
    /// jitter); `wait` is what is left of what the server asked for, before the scale;
    /// `cause`, for the log; `logged`: said once already; `until` names the pause for
    /// [`Gate::logged`].
    Pause {
        sleep: Duration,
        wait: Duration,
        cause: String,
        logged: bool,
        until: Instant,
    },
    /// The bucket or the window is full: wait for an answer, then ask again.
    Full(Notified<'g>),
}

impl Gate {
    /// A gate that multiplies every pause by `scale`.
    pub(crate) fn new(scale: f64) -> Gate {
        Gate {
            state: Mutex::default(),
            answered: Notify::new(),
            scale: scale.max(0.0),
        }
    }

    /// Whether the next request may go now.
    pub(crate) fn turn(self: &Arc<Self>) -> Turn<'_> {
        let answered = self.answered.notified();
        let now = Instant::now();
        let mut s = self.state.lock().expect("not poisoned");
        if let Some(p) = s.pause.as_ref().filter(|p| p.until > now) {
            let left = p.until - now;
            let jitter = if p.spread {
                left.mul_f64(rand::random_range(0.0..PAUSE_JITTER))
            } else {
                Duration::ZERO
            };
            return Turn::Pause {
                sleep: left + jitter,
                wait: p.asked_until.saturating_duration_since(now),
                cause: p.cause.clone(),
                logged: p.logged,
                until: p.until,
            };
        }
        let window = s.window.map_or(u64::MAX, |w| w.limit);
        // With nothing in flight a request fits the bucket: the pause after an empty bucket
        // has waited for one token.
        let bucket = s.in_flight == 0 || s.remaining.is_none_or(|r| s.in_flight < r);
        if s.in_flight < window && bucket {
            s.in_flight += 1;
            s.peak = s.peak.max(s.in_flight);
            return Turn::Go(Sent {
                gate: Arc::clone(self),
                round: s.round,
            });
        }
        Turn::Full(answered)
    }

    /// The pause that ends at `until` was logged at the default level.
    pub(crate) fn logged(&self, until: Instant) {
        let mut s = self.state.lock().expect("not poisoned");
        if let Some(p) = s.pause.as_mut().filter(|p| p.until == until) {
            p.logged = true;
        }
    }

    /// Whether a request succeeded within `within` (the run makes progress).
    pub(crate) fn progressing(&self, within: Duration) -> bool {
        let s = self.state.lock().expect("not poisoned");
        s.last_success.is_some_and(|t| t.elapsed() <= within)
    }

    /// Answers 429 Too Many Requests so far.
    pub(crate) fn refused(&self) -> u64 {
        self.state.lock().expect("not poisoned").refused
    }
}

impl State {
    /// Holds every request for `wait` (cut to [`MAX_SERVER_WAIT`], times `scale`) from `now`,
    /// unless an earlier pause lasts longer.
    fn pause_for(&mut self, now: Instant, wait: Duration, scale: f64, cause: String, spread: bool) {
        let asked = wait.min(MAX_SERVER_WAIT);
        let until = now + asked.mul_f64(scale);
        if self.pause.as_ref().is_none_or(|p| p.until < until) {
            self.pause = Some(Pause {
                until,
                asked_until: now + asked,
                cause,
                spread,
                logged: false,
            });
        }
    }

    /// A 429 to a request sent in `round`: the window halves (at least one), once per round.
    fn decrease(&mut self, round: u64) {
        if round != self.round {
            return;
        }
        let now = self
            .window
            .map_or(self.in_flight, |w| w.limit.min(self.in_flight));
        let limit = (now / 2).max(1);
        self.window = Some(Window {
            limit,
            successes: 0,
        });
        self.round += 1;
        tracing::debug!("the server refused a request (429): at most {limit} requests in flight");
    }

    /// A success: one more request in flight after as many successes as the window allows;
    /// above the most ever in flight, no window.
    fn increase(&mut self) {
        let Some(w) = self.window.as_mut() else {
            return;
        };
        w.successes += 1;
        if w.successes >= w.limit {
            w.limit += 1;
            w.successes = 0;
            if w.limit > self.peak {
                self.window = None;
            }
        }
    }
}

/// A request that passed the gate, counted in flight until it is dropped (answered or failed).
pub(crate) struct Sent {
    gate: Arc<Gate>,
    /// The window's round when it was sent.
    round: u64,
}

impl Sent {
    /// Takes in what an answer says (the tokens left, the pause it asks for, a 429 or a
    /// success), then stops counting the request in flight: the waiting requests see the
    /// answer's pause.
    pub(crate) fn answered(self, status: StatusCode, headers: &HeaderMap) {
        let now = Instant::now();
        let remaining = headers
            .get_all("x-ratelimit-remaining")
            .iter()
            .filter_map(|v| v.to_str().ok()?.trim().parse::<u64>().ok())
            .min();
        let mut s = self.gate.state.lock().expect("not poisoned");
        s.remaining = remaining.or(s.remaining);
        if status == StatusCode::TOO_MANY_REQUESTS {
            s.refused += 1;
            let (wait, cause) = refused_wait(headers);
            s.pause_for(now, wait, self.gate.scale, cause, true);
            s.decrease(self.round);
        } else {
            if let Some(wait) = rate_limit_pause(headers) {
                let reset = headers
                    .get("x-ratelimit-reset")
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or("none");
                let cause = format!(
                    "its rate-limit bucket is empty: X-RateLimit-Remaining: 0, X-RateLimit-Reset: {}",
                    reset.trim()
                );
                s.pause_for(now, wait, self.gate.scale, cause, false);
            }
            if status.is_success() || status == StatusCode::NOT_MODIFIED {
                s.last_success = Some(now);
                s.increase();
            }
        }
    }
}

impl Drop for Sent {
    fn drop(&mut self) {
        let mut s = self.gate.state.lock().expect("not poisoned");
        s.in_flight = s.in_flight.saturating_sub(1);
        drop(s);
        self.gate.answered.notify_waiters();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn go(g: &Arc<Gate>) -> Sent {
        match g.turn() {
            Turn::Go(s) => s,
            Turn::Pause { wait, .. } => panic!("paused for {wait:?}"),
            Turn::Full(_) => panic!("full"),
        }
    }

    fn full(g: &Arc<Gate>) -> bool {
        matches!(g.turn(), Turn::Full(_))
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, v.parse().unwrap());
        }
        h
    }

    fn window(g: &Gate) -> Option<u64> {
        g.state.lock().unwrap().window.map(|w| w.limit)
    }

    #[test]
    fn no_more_in_flight_than_the_bucket_holds() {
        let g = Arc::new(Gate::new(1.0));
        let first = go(&g);
        let second = go(&g);
        first.answered(StatusCode::OK, &headers(&[("x-ratelimit-remaining", "1")]));
        // One token, one request in flight: the next waits until that one is answered.
        assert!(full(&g));
        drop(second);
        let _third = go(&g);
    }

    #[test]
    fn an_empty_bucket_holds_every_request_for_one_token() {
        let g = Arc::new(Gate::new(1.0));
        go(&g).answered(
            StatusCode::OK,
            &headers(&[
                ("x-ratelimit-limit", "2"),
                ("x-ratelimit-remaining", "0"),
                ("x-ratelimit-reset", "2"),
            ]),
        );
        match g.turn() {
            Turn::Pause {
                wait, cause, sleep, ..
            } => {
                assert!(wait <= Duration::from_secs(1) && wait > Duration::from_millis(900));
                assert!(sleep <= wait, "no jitter: the bucket lets one go first");
                assert!(cause.contains("X-RateLimit-Reset: 2"), "{cause}");
            }
            _ => panic!("not paused"),
        }
        assert!(g.progressing(Duration::from_secs(1)));
        assert_eq!(window(&g), None, "a success sets no window");
    }

    #[test]
    fn a_429_halves_the_window_once_per_round_and_successes_grow_it_back() {
        let g = Arc::new(Gate::new(1.0));
        let sent: Vec<Sent> = (0..8).map(|_| go(&g)).collect();
        let mut sent = sent.into_iter();
        // A 429 without rate-limit headers: a pause of one second for every request.
        sent.next()
            .unwrap()
            .answered(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new());
        assert_eq!(window(&g), Some(4), "8 in flight, halved");
        assert_eq!(g.refused(), 1);
        // Every request waits it, each with up to a quarter more at random.
        let sleeps: Vec<Duration> = (0..20)
            .map(|_| match g.turn() {
                Turn::Pause { wait, sleep, .. } => {
                    assert!(wait > Duration::from_millis(900) && wait <= Duration::from_secs(1));
                    assert!(sleep >= wait - Duration::from_millis(50) && sleep <= wait * 5 / 4);
                    sleep
                }
                _ => panic!("not paused"),
            })
            .collect();
        assert!(sleeps.iter().any(|s| *s != sleeps[0]), "jitter: {sleeps:?}");
        // The other requests of that round: refused too, but the window halves only once.
        for s in sent.by_ref().take(3) {
            s.answered(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new());
        }
        assert_eq!(window(&g), Some(4));
        assert_eq!(g.refused(), 4);
        g.state.lock().unwrap().pause = None;
        // 4 still in flight: the window is full.
        assert!(full(&g));
        for s in sent {
            s.answered(StatusCode::OK, &HeaderMap::new());
        }
        // 4 successes: one more.
        assert_eq!(window(&g), Some(5));
        // A request of the new round refused: halved again; then down to one, never zero.
        go(&g).answered(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new());
        assert_eq!(window(&g), Some(1), "1 in flight, at least one");
        g.state.lock().unwrap().pause = None;
        let one = go(&g);
        assert!(full(&g), "window of one");
        one.answered(StatusCode::OK, &HeaderMap::new());
        assert_eq!(window(&g), Some(2));
        // Grown past the most ever in flight (8): lifted.
        for _ in 0..(2 + 3 + 4 + 5 + 6 + 7 + 8) {
            go(&g).answered(StatusCode::OK, &HeaderMap::new());
        }
        assert_eq!(window(&g), None);
        // An error that is no 429 neither shrinks nor grows it, and is no progress.
        let g = Arc::new(Gate::new(1.0));
        go(&g).answered(StatusCode::SERVICE_UNAVAILABLE, &HeaderMap::new());
        assert_eq!(window(&g), None);
        assert!(!g.progressing(Duration::from_secs(60)));
    }
}
