//! The minimum transfer speed (curl's `--speed-limit` and `--speed-time`): a body that brings
//! fewer than `bytes_per_sec` × `over` bytes in a window of `over` is [`ApiError::TooSlow`].
//!
//! Only the time spent waiting for the network counts: time the caller spends between chunks
//! (writing to disk, waiting for other work) is not the server's fault. A wait is cut at the
//! end of the window, so a server that sends nothing at all is caught as surely as a trickle.

use std::time::{Duration, Instant};

use reqwest::Response;

use super::error::ApiError;
use crate::cancel::Cancel;

/// The limit; `bytes_per_sec == 0` turns it off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinSpeed {
    pub bytes_per_sec: u64,
    /// The window the speed is averaged over.
    pub over: Duration,
}

impl Default for MinSpeed {
    /// 1 KiB/s over 30 s.
    fn default() -> Self {
        MinSpeed {
            bytes_per_sec: 1024,
            over: Duration::from_secs(30),
        }
    }
}

/// The speed of one body as it is read.
#[derive(Debug)]
pub(crate) struct Pace {
    min: MinSpeed,
    /// Time spent waiting for the network in the current window.
    waited: Duration,
    /// Bytes that came in the current window.
    bytes: u64,
}

impl Pace {
    pub(crate) fn new(min: MinSpeed) -> Self {
        Pace {
            min,
            waited: Duration::ZERO,
            bytes: 0,
        }
    }

    fn on(&self) -> bool {
        self.min.bytes_per_sec > 0 && !self.min.over.is_zero()
    }

    /// How long the next wait may last before the window ends (`None`: no limit).
    fn budget(&self) -> Option<Duration> {
        self.on().then(|| self.min.over.saturating_sub(self.waited))
    }

    /// Counts a wait of `d` that brought `n` bytes; at the end of a window, an error when the
    /// window brought too little, else a new window.
    fn record(&mut self, d: Duration, n: u64, url: &str) -> Result<(), ApiError> {
        self.waited += d;
        self.bytes += n;
        if !self.on() || self.waited < self.min.over {
            return Ok(());
        }
        let need = self.min.bytes_per_sec as f64 * self.min.over.as_secs_f64();
        if (self.bytes as f64) < need {
            return Err(ApiError::TooSlow {
                url: url.to_string(),
                bytes: self.bytes,
                secs: self.waited.as_secs_f64(),
                min_speed: self.min.bytes_per_sec,
            });
        }
        self.waited = Duration::ZERO;
        self.bytes = 0;
        Ok(())
    }
}

/// The next chunk of `resp`'s body (`None` at the end), within the minimum speed.
///
/// # Errors
/// A transfer error or timeout, [`ApiError::TooSlow`], or [`ApiError::Cancelled`].
pub(crate) async fn next_chunk(
    resp: &mut Response,
    pace: &mut Pace,
    cancel: &Cancel,
    url: &str,
) -> Result<Option<bytes::Bytes>, ApiError> {
    loop {
        let start = Instant::now();
        let window_end = async {
            match pace.budget() {
                Some(d) => tokio::time::sleep(d).await,
                None => std::future::pending().await,
            }
        };
        // `Response::chunk` is cancel-safe: a chunk is taken only when it is returned.
        tokio::select! {
            c = resp.chunk() => {
                let c = c.map_err(|e| ApiError::from_reqwest(url, e))?;
                if let Some(b) = &c {
                    pace.record(start.elapsed(), b.len() as u64, url)?;
                }
                return Ok(c);
            }
            _ = window_end => pace.record(start.elapsed(), 0, url)?,
            _ = cancel.cancelled() => return Err(ApiError::Cancelled),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pace(bps: u64, secs: u64) -> Pace {
        Pace::new(MinSpeed {
            bytes_per_sec: bps,
            over: Duration::from_secs(secs),
        })
    }

    #[test]
    fn a_window_below_the_minimum_is_too_slow() {
        let mut p = pace(100, 10);
        assert_eq!(p.budget(), Some(Duration::from_secs(10)));
        p.record(Duration::from_secs(4), 500, "u").unwrap();
        assert_eq!(p.budget(), Some(Duration::from_secs(6)));
        let e = p.record(Duration::from_secs(6), 499, "u").unwrap_err();
        assert!(
            matches!(
                e,
                ApiError::TooSlow {
                    bytes: 999,
                    min_speed: 100,
                    ..
                }
            ),
            "{e}"
        );
        assert!(crate::api::is_retryable(&e));
    }

    #[test]
    fn a_fast_window_starts_a_new_one_and_off_means_no_limit() {
        let mut p = pace(100, 10);
        p.record(Duration::from_secs(10), 1000, "u").unwrap();
        assert_eq!(p.budget(), Some(Duration::from_secs(10)));
        // The next window is judged on its own bytes.
        assert!(p.record(Duration::from_secs(10), 10, "u").is_err());

        let mut off = pace(0, 10);
        assert_eq!(off.budget(), None);
        off.record(Duration::from_secs(1000), 0, "u").unwrap();
    }
}
