//! Pacing under ARM's throttling. ARM keeps a token bucket per
//! subscription, principal and kind of request, and says on every answer
//! how many tokens are left (`x-ms-ratelimit-remaining-subscription-*`).
//! The pacer mirrors each bucket: it starts believing the answers, refills
//! at ARM's published rate between them, and makes a request wait for a
//! token rather than spend one ARM does not have; a 429 stops the whole
//! class until its Retry-After. A bulk run so runs at the bucket's refill
//! rate instead of bursting into 429s.

use reqwest::header::HeaderMap;
use reqwest::Method;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Which of ARM's buckets a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Class {
    Reads,
    Writes,
    Deletes,
}

impl Class {
    pub fn of(method: &Method) -> Class {
        match *method {
            Method::GET | Method::HEAD => Class::Reads,
            Method::DELETE => Class::Deletes,
            _ => Class::Writes,
        }
    }

    fn index(self) -> usize {
        self as usize
    }

    fn header(self) -> &'static str {
        match self {
            Class::Reads => "x-ms-ratelimit-remaining-subscription-reads",
            Class::Writes => "x-ms-ratelimit-remaining-subscription-writes",
            Class::Deletes => "x-ms-ratelimit-remaining-subscription-deletes",
        }
    }

    /// ARM's refill rate and bucket size (per second, tokens) since 2024.
    fn bucket(self) -> (f64, f64) {
        match self {
            Class::Reads => (25.0, 250.0),
            Class::Writes | Class::Deletes => (10.0, 200.0),
        }
    }
}

/// Tokens kept back for other clients of the same subscription and principal.
const RESERVE: f64 = 1.0;

#[derive(Debug)]
struct Mirror {
    /// `None` until an answer says how many are left.
    tokens: Option<f64>,
    last: Instant,
    blocked_until: Option<Instant>,
    /// While nothing is known, one request goes first to learn the count
    /// (another process may have emptied the bucket): when it went.
    probe_sent: Option<Instant>,
    /// Answers carry no count (no throttling there): nothing to pace.
    uncounted: bool,
}

/// How long a first request may take before another goes without its answer.
const PROBE_PATIENCE: Duration = Duration::from_secs(2);
/// How often a request waiting for the first answer looks again.
const PROBE_POLL: Duration = Duration::from_millis(5);

#[derive(Debug)]
pub struct Pacer {
    mirrors: [Mutex<Mirror>; 3],
}

impl Default for Pacer {
    fn default() -> Self {
        let m = || {
            Mutex::new(Mirror {
                tokens: None,
                last: Instant::now(),
                blocked_until: None,
                probe_sent: None,
                uncounted: false,
            })
        };
        Pacer { mirrors: [m(), m(), m()] }
    }
}

impl Mirror {
    /// The tokens the bucket holds by `now`, refilled at ARM's rate since
    /// they were last counted; `None` while nothing is known.
    fn refilled(&self, class: Class, now: Instant) -> Option<f64> {
        let (rate, size) = class.bucket();
        self.tokens
            .map(|t| (t + now.saturating_duration_since(self.last).as_secs_f64() * rate).min(size))
    }
}

impl Pacer {
    /// How long a request of `class` must wait before it is sent; when it
    /// need not, its token is taken.
    pub fn wait_needed(&self, class: Class, now: Instant) -> Option<Duration> {
        let rate = class.bucket().0;
        let mut m = self.mirrors[class.index()].lock().unwrap_or_else(|p| p.into_inner());
        if let Some(until) = m.blocked_until {
            if until > now {
                return Some(until - now);
            }
            m.blocked_until = None;
        }
        if m.uncounted {
            return None;
        }
        let Some(refilled) = m.refilled(class, now) else {
            // Nothing known yet: one goes first, the rest wait for its answer.
            return match m.probe_sent {
                Some(t) if now.saturating_duration_since(t) < PROBE_PATIENCE => Some(PROBE_POLL),
                _ => {
                    m.probe_sent = Some(now);
                    None
                }
            };
        };
        m.last = now;
        if refilled >= 1.0 + RESERVE {
            m.tokens = Some(refilled - 1.0);
            None
        } else {
            m.tokens = Some(refilled);
            Some(Duration::from_secs_f64((1.0 + RESERVE - refilled) / rate))
        }
    }

    /// Learns from an answer: what is left, or (429) how long to stop.
    pub fn observe(&self, class: Class, status: u16, headers: &HeaderMap, retry_after: Option<Duration>, now: Instant) {
        let mut m = self.mirrors[class.index()].lock().unwrap_or_else(|p| p.into_inner());
        if status == 429 {
            m.tokens = Some(0.0);
            m.last = now;
            let until = now + retry_after.unwrap_or(Duration::from_secs(1));
            m.blocked_until = Some(m.blocked_until.map_or(until, |u| u.max(until)));
            return;
        }
        let left = headers
            .get(class.header())
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<f64>().ok());
        if left.is_none() && m.tokens.is_none() && (200..300).contains(&status) {
            m.uncounted = true;
        }
        if let Some(left) = left {
            // Requests still in flight were taken here but not yet there: the lower count wins.
            let mine = m.refilled(class, now);
            m.tokens = Some(mine.map_or(left, |t| t.min(left)));
            m.last = now;
        }
    }

    /// Waits, as long as needed, for a token of `class`.
    pub async fn acquire(&self, class: Class) {
        while let Some(d) = self.wait_needed(class, Instant::now()) {
            tokio::time::sleep(d).await;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &str, v: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            reqwest::header::HeaderName::from_bytes(name.as_bytes()).unwrap(),
            v.parse().unwrap(),
        );
        h
    }

    #[test]
    fn one_goes_first_then_paced_at_the_refill_rate() {
        let p = Pacer::default();
        let t0 = Instant::now();
        assert_eq!(p.wait_needed(Class::Writes, t0), None, "nothing known: one goes");
        assert_eq!(p.wait_needed(Class::Writes, t0), Some(PROBE_POLL), "the rest wait for its answer");
        p.observe(
            Class::Writes,
            200,
            &headers("x-ms-ratelimit-remaining-subscription-writes", "3"),
            None,
            t0,
        );
        assert_eq!(p.wait_needed(Class::Writes, t0), None);
        assert_eq!(p.wait_needed(Class::Writes, t0), None);
        // One left is kept back; the next token comes at 10 a second.
        let w = p.wait_needed(Class::Writes, t0).unwrap();
        assert!(w > Duration::from_millis(50) && w <= Duration::from_millis(100), "{w:?}");
        assert_eq!(p.wait_needed(Class::Writes, t0 + Duration::from_millis(100)), None);
        // Reads are another bucket.
        assert_eq!(p.wait_needed(Class::Reads, t0), None);
    }

    #[test]
    fn answers_without_a_count_are_not_paced() {
        let p = Pacer::default();
        let t0 = Instant::now();
        assert_eq!(p.wait_needed(Class::Reads, t0), None);
        p.observe(Class::Reads, 200, &HeaderMap::new(), None, t0);
        for _ in 0..1000 {
            assert_eq!(p.wait_needed(Class::Reads, t0), None);
        }
    }

    #[test]
    fn a_429_stops_the_class_until_its_retry_after() {
        let p = Pacer::default();
        let t0 = Instant::now();
        p.observe(Class::Writes, 429, &HeaderMap::new(), Some(Duration::from_secs(3)), t0);
        assert_eq!(
            p.wait_needed(Class::Writes, t0 + Duration::from_secs(1)),
            Some(Duration::from_secs(2))
        );
        assert_eq!(p.wait_needed(Class::Deletes, t0), None);
        // After it, a token has come back (30 refilled in 3 s).
        assert_eq!(p.wait_needed(Class::Writes, t0 + Duration::from_secs(3)), None);
    }
}
