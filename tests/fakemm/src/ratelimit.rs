//! GCRA rate limiter mirroring `throttled` (used by the real server when rate limiting is on).

use std::time::{Duration, Instant};

/// Outcome of one rate-limit check (header values).
#[derive(Clone, Debug)]
pub struct RateResult {
    pub limited: bool,
    pub limit: u32,
    pub remaining: u32,
    /// Seconds, rounded up.
    pub reset_secs: u64,
    /// Seconds, rounded up; only meaningful when limited.
    pub retry_after_secs: u64,
}

/// One global bucket (the fake has a single client IP in practice).
#[derive(Debug)]
pub struct Limiter {
    per_sec: u32,
    burst: u32,
    tat: Option<Instant>,
}

fn ceil_secs(d: Duration) -> u64 {
    let n = d.as_nanos();
    n.div_ceil(1_000_000_000) as u64
}

impl Limiter {
    pub fn new(per_sec: u32, burst: u32) -> Limiter {
        Limiter {
            per_sec: per_sec.max(1),
            burst,
            tat: None,
        }
    }

    pub fn config(&self) -> (u32, u32) {
        (self.per_sec, self.burst)
    }

    /// throttled's GCRARateLimiter.RateLimit with quantity 1.
    pub fn check(&mut self, now: Instant) -> RateResult {
        let emission = Duration::from_nanos(1_000_000_000 / self.per_sec as u64);
        let tolerance = emission * (self.burst + 1);
        let tat = self.tat.unwrap_or(now).max(now);
        let new_tat = tat + emission;
        // allowAt = newTat - tolerance; limited when now < allowAt.
        let limited = new_tat > now + tolerance;
        let (ttl, retry) = if limited {
            let retry = new_tat - tolerance - now;
            (tat - now, retry)
        } else {
            self.tat = Some(new_tat);
            (new_tat - now, Duration::ZERO)
        };
        // next = tolerance - ttl; remaining = next / emission when next > -emission.
        let remaining = if tolerance >= ttl {
            ((tolerance - ttl).as_nanos() / emission.as_nanos()) as u32
        } else {
            0
        };
        RateResult {
            limited,
            limit: self.burst + 1,
            remaining,
            reset_secs: ceil_secs(ttl),
            retry_after_secs: ceil_secs(retry),
        }
    }
}

/// The buckets of one limiter configuration, by key (throttled's memstore).
#[derive(Debug, Default)]
pub struct Limiters {
    config: Option<(u32, u32)>,
    buckets: std::collections::HashMap<String, Limiter>,
}

impl Limiters {
    /// Checks the buckets `keys` in order, as the real server does: `RateLimitHandler` (the
    /// token or IP key) around everything, then, once the session is known,
    /// `UserIdRateLimit` (the user's key, with `VaryByUser`). A refused check ends it: the
    /// handler behind it never runs. `None` config: no limiter, no results (buckets dropped).
    pub fn check(
        &mut self,
        config: Option<(u32, u32)>,
        keys: &[String],
        now: Instant,
    ) -> Vec<RateResult> {
        if self.config != config {
            self.buckets.clear();
            self.config = config;
        }
        let Some((per_sec, burst)) = config else {
            return Vec::new();
        };
        let mut out = Vec::new();
        for k in keys {
            let r = self
                .buckets
                .entry(k.clone())
                .or_insert_with(|| Limiter::new(per_sec, burst))
                .check(now);
            let limited = r.limited;
            out.push(r);
            if limited {
                break;
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_limited() {
        let mut l = Limiter::new(10, 5);
        let now = Instant::now();
        let mut allowed = 0;
        for _ in 0..20 {
            let r = l.check(now);
            assert_eq!(r.limit, 6);
            if !r.limited {
                allowed += 1;
            } else {
                assert!(r.retry_after_secs >= 1);
            }
        }
        assert_eq!(allowed, 6);
        let r = l.check(now + Duration::from_millis(150));
        assert!(!r.limited);
    }

    #[test]
    fn an_empty_bucket_refills_one_token_per_emission_interval() {
        // 20/s, burst 5: Reset says 1 s (0.3 s rounded up) but one token is back after 50 ms.
        let mut l = Limiter::new(20, 5);
        let t0 = Instant::now();
        for _ in 0..6 {
            assert!(!l.check(t0).limited);
        }
        let r = l.check(t0);
        assert!(r.limited && r.remaining == 0 && r.reset_secs == 1 && r.retry_after_secs == 1);
        assert!(l.check(t0 + Duration::from_millis(49)).limited);
        let r = l.check(t0 + Duration::from_millis(50));
        assert!(!r.limited && r.remaining == 0, "{r:?}");
    }
}
