//! When to send an HTTP request again. Pure: the caller supplies the jitter
//! and does the sleeping.

use std::time::Duration;

/// What came back from one attempt.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    Status {
        status: u16,
        retry_after: Option<Duration>,
    },
    /// No answer at all: reset, timed out.
    ConnectionFailed,
    /// Nothing listens there (connection refused): worth a second look in
    /// case it is restarting, not a minute of backoff.
    Refused,
    /// ARM refused because another operation holds the resource for now
    /// (409 `PessimisticConcurrencyConflict`): not processed, so any
    /// request may go again, after a backoff.
    Contended {
        retry_after: Option<Duration>,
    },
}

/// Attempts after the first for a refused connection.
pub const REFUSED_RETRIES: u32 = 2;

#[derive(Debug, Clone)]
pub struct RetryPolicy {
    /// Attempts after the first.
    pub max_retries: u32,
    pub base_delay: Duration,
    pub max_delay: Duration,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_retries: 10,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(60),
        }
    }
}

pub fn is_retryable_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

impl RetryPolicy {
    /// The wait before attempt `attempt + 1` (attempt counts from 0), or
    /// `None` to give up. Only idempotent requests are retried (a POST that
    /// starts a backup must not run twice), and any request ARM throttled
    /// (429: not processed). `jitter` is in [0, 1).
    pub fn delay(&self, idempotent: bool, attempt: u32, outcome: Outcome, jitter: f64) -> Option<Duration> {
        if attempt >= self.max_retries || (outcome == Outcome::Refused && attempt >= REFUSED_RETRIES) {
            return None;
        }
        // A throttled or contended request was not processed, so even a
        // POST may go again.
        let not_processed = matches!(outcome, Outcome::Status { status: 429, .. } | Outcome::Contended { .. });
        if !idempotent && !not_processed {
            return None;
        }
        let retry_after = match outcome {
            Outcome::Status { status, retry_after } if is_retryable_status(status) => retry_after,
            Outcome::Status { .. } => return None,
            Outcome::Contended { retry_after } => retry_after,
            Outcome::ConnectionFailed | Outcome::Refused => None,
        };
        if let Some(ra) = retry_after {
            // The server's word wins; it is not shortened by jitter.
            return Some(ra.min(self.max_delay.max(ra)));
        }
        // Exponential backoff with "equal jitter": half fixed, half random.
        let exp = self.base_delay.saturating_mul(1u32 << attempt.min(16));
        let capped = exp.min(self.max_delay);
        let half = capped / 2;
        Some(half + half.mul_f64(jitter.clamp(0.0, 1.0)))
    }
}

/// `Retry-After` as seconds or an HTTP date.
pub fn parse_retry_after(value: &str, now: time::OffsetDateTime) -> Option<Duration> {
    let v = value.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let fmt = time::macros::format_description!("[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT");
    let at = time::PrimitiveDateTime::parse(v, &fmt).ok()?.assume_utc();
    let d = at - now;
    Some(if d.is_negative() { Duration::ZERO } else { d.unsigned_abs() })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn st(status: u16) -> Outcome {
        Outcome::Status { status, retry_after: None }
    }

    #[test]
    fn retries_only_transient_statuses() {
        let p = RetryPolicy::default();
        for s in [429, 500, 502, 503, 504] {
            assert!(p.delay(true, 0, st(s), 0.5).is_some(), "{s}");
        }
        let contended = Outcome::Contended { retry_after: None };
        assert!(
            p.delay(false, 0, contended, 0.5).is_some(),
            "a contended POST was not processed: again"
        );
        assert!(p.delay(false, p.max_retries, contended, 0.5).is_none());
        for s in [200, 400, 401, 403, 404, 409, 412, 501] {
            assert!(p.delay(true, 0, st(s), 0.5).is_none(), "{s}");
        }
        assert!(p.delay(true, 0, Outcome::ConnectionFailed, 0.5).is_some());
    }

    #[test]
    fn never_retries_non_idempotent() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay(false, 0, st(503), 0.0), None);
        assert_eq!(p.delay(false, 0, Outcome::ConnectionFailed, 0.0), None);
        // ...unless it was throttled, and so never processed.
        assert!(p.delay(false, 0, st(429), 0.0).is_some());
    }

    #[test]
    fn honours_retry_after() {
        let p = RetryPolicy::default();
        let o = Outcome::Status {
            status: 429,
            retry_after: Some(Duration::from_secs(7)),
        };
        assert_eq!(p.delay(true, 3, o, 0.9), Some(Duration::from_secs(7)));
    }

    #[test]
    fn backs_off_exponentially_with_jitter_and_cap() {
        let p = RetryPolicy {
            max_retries: 10,
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
        };
        assert_eq!(p.delay(true, 0, st(500), 0.0), Some(Duration::from_millis(50)));
        assert_eq!(p.delay(true, 0, st(500), 1.0), Some(Duration::from_millis(100)));
        assert_eq!(p.delay(true, 2, st(500), 0.0), Some(Duration::from_millis(200)));
        assert_eq!(p.delay(true, 9, st(500), 1.0), Some(Duration::from_secs(1)));
        assert_eq!(p.delay(true, 10, st(500), 0.0), None, "gives up after max_retries");
    }

    #[test]
    fn parses_retry_after_forms() {
        let now = time::macros::datetime!(2026-11-27 10:00:00 UTC);
        assert_eq!(parse_retry_after("17", now), Some(Duration::from_secs(17)));
        assert_eq!(
            parse_retry_after("Fri, 27 Nov 2026 10:00:30 GMT", now),
            Some(Duration::from_secs(30))
        );
        assert_eq!(parse_retry_after("Fri, 27 Nov 2026 09:00:00 GMT", now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
    }
}
