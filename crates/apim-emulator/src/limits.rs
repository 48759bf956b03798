//! ARM's request throttling: a token bucket per subscription, principal
//! and kind of request (reads, writes, deletes), as ARM has applied per
//! region since 2024. Every answer says what is left in its bucket
//! (`x-ms-ratelimit-remaining-subscription-{reads,writes,deletes}`); an
//! empty bucket answers 429 with `Retry-After` and ARM's error body. The
//! buckets run on the wall clock: `--time-scale` shortens operations, not
//! ARM's budget.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Which bucket a request draws from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Class {
    Reads,
    Writes,
    Deletes,
}

impl Class {
    pub fn of(method: &axum::http::Method) -> Class {
        match *method {
            axum::http::Method::GET | axum::http::Method::HEAD => Class::Reads,
            axum::http::Method::DELETE => Class::Deletes,
            // POST actions (listKeys, backup) count as writes, as in ARM.
            _ => Class::Writes,
        }
    }

    pub fn header(self) -> &'static str {
        match self {
            Class::Reads => "x-ms-ratelimit-remaining-subscription-reads",
            Class::Writes => "x-ms-ratelimit-remaining-subscription-writes",
            Class::Deletes => "x-ms-ratelimit-remaining-subscription-deletes",
        }
    }

    fn word(self) -> &'static str {
        match self {
            Class::Reads => "read",
            Class::Writes => "write",
            Class::Deletes => "delete",
        }
    }
}

/// A bucket's size and how many tokens come back each second.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Bucket {
    pub capacity: f64,
    pub refill_per_sec: f64,
}

/// `--arm-limits`: `azure` (ARM's figures), `off`, or `READS,WRITES` for
/// smaller buckets that refill at ARM's rates (reads 25, writes and
/// deletes 10 a second), so a test sees a bucket empty with few requests
/// and a client paced for ARM is paced right.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ArmLimits {
    Off,
    On { reads: Bucket, writes: Bucket, deletes: Bucket },
}

impl ArmLimits {
    pub const AZURE: ArmLimits = ArmLimits::On {
        reads: Bucket {
            capacity: 250.0,
            refill_per_sec: 25.0,
        },
        writes: Bucket {
            capacity: 200.0,
            refill_per_sec: 10.0,
        },
        deletes: Bucket {
            capacity: 200.0,
            refill_per_sec: 10.0,
        },
    };

    pub fn parse(s: &str) -> Result<ArmLimits, String> {
        match s {
            "azure" => Ok(Self::AZURE),
            "off" => Ok(ArmLimits::Off),
            other => {
                let bad = || format!("--arm-limits '{other}': use azure, off, or READS,WRITES (bucket sizes, e.g. 20,10)");
                let (r, w) = other.split_once(',').ok_or_else(bad)?;
                let (r, w): (f64, f64) = (r.trim().parse().map_err(|_| bad())?, w.trim().parse().map_err(|_| bad())?);
                if !(r >= 1.0 && w >= 1.0 && r.is_finite() && w.is_finite()) {
                    return Err(bad());
                }
                let writes = Bucket {
                    capacity: w,
                    refill_per_sec: 10.0,
                };
                Ok(ArmLimits::On {
                    reads: Bucket {
                        capacity: r,
                        refill_per_sec: 25.0,
                    },
                    writes,
                    deletes: writes,
                })
            }
        }
    }

    fn bucket(&self, class: Class) -> Option<Bucket> {
        match self {
            ArmLimits::Off => None,
            ArmLimits::On { reads, writes, deletes } => Some(match class {
                Class::Reads => *reads,
                Class::Writes => *writes,
                Class::Deletes => *deletes,
            }),
        }
    }
}

/// What taking a token said.
#[derive(Debug, Clone, PartialEq)]
pub enum Taken {
    /// Go ahead; this many are left (for the header).
    Left(u64),
    /// Throttled: retry after this many whole seconds.
    Throttled {
        retry_after_secs: u64,
    },
    Unlimited,
}

/// A bucket's tokens and when they were last counted, by (subscription, principal, kind).
type Levels = HashMap<(String, String, Class), (f64, Instant)>;

pub struct Buckets {
    limits: Mutex<ArmLimits>,
    /// (subscription, principal, class) → (tokens, when last refilled).
    state: Mutex<Levels>,
}

impl Buckets {
    pub fn new(limits: ArmLimits) -> Self {
        Buckets {
            limits: Mutex::new(limits),
            state: Mutex::new(HashMap::new()),
        }
    }

    pub fn set(&self, limits: ArmLimits) {
        *self.limits.lock().unwrap_or_else(|p| p.into_inner()) = limits;
        self.state.lock().unwrap_or_else(|p| p.into_inner()).clear();
    }

    pub fn take(&self, subscription: &str, principal: &str, class: Class) -> Taken {
        self.take_at(subscription, principal, class, Instant::now())
    }

    fn take_at(&self, subscription: &str, principal: &str, class: Class, now: Instant) -> Taken {
        let limits = *self.limits.lock().unwrap_or_else(|p| p.into_inner());
        let Some(b) = limits.bucket(class) else {
            return Taken::Unlimited;
        };
        let mut st = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let entry = st
            .entry((subscription.to_ascii_lowercase(), principal.to_string(), class))
            .or_insert((b.capacity, now));
        let elapsed = now.saturating_duration_since(entry.1).as_secs_f64();
        entry.0 = (entry.0 + elapsed * b.refill_per_sec).min(b.capacity);
        entry.1 = now;
        if entry.0 >= 1.0 {
            entry.0 -= 1.0;
            Taken::Left(entry.0.floor() as u64)
        } else {
            let wait = ((1.0 - entry.0) / b.refill_per_sec).ceil().max(1.0);
            Taken::Throttled {
                retry_after_secs: wait as u64,
            }
        }
    }
}

/// ARM's answer to a throttled request.
pub fn throttled(class: Class, subscription: &str, principal: &str, retry_after_secs: u64) -> axum::response::Response {
    let message = format!(
        "Number of '{}' requests for subscription '{subscription}' actor '{principal}' exceeded. Please try again after '{retry_after_secs}' seconds after additional tokens are available. Refer to https://aka.ms/arm-throttling",
        class.word()
    );
    let r = crate::http::error(429, "SubscriptionRequestsThrottled", &message);
    let r = crate::http::with_header(r, "retry-after", &retry_after_secs.to_string());
    crate::http::with_header(r, class.header(), "0")
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn buckets_empty_then_refill_at_their_rate() {
        let b = Buckets::new(ArmLimits::parse("20,10").unwrap());
        let t0 = Instant::now();
        for left in (0..10).rev() {
            assert_eq!(b.take_at("s", "p", Class::Writes, t0), Taken::Left(left));
        }
        // Writes refill at 10 a second: the next token in 0.1 s, said as 1 s.
        assert_eq!(b.take_at("s", "p", Class::Writes, t0), Taken::Throttled { retry_after_secs: 1 });
        assert_eq!(
            b.take_at("s", "p", Class::Writes, t0 + Duration::from_millis(50)),
            Taken::Throttled { retry_after_secs: 1 }
        );
        assert_eq!(b.take_at("s", "p", Class::Writes, t0 + Duration::from_millis(100)), Taken::Left(0));
        assert_eq!(b.take_at("s", "p", Class::Writes, t0 + Duration::from_millis(350)), Taken::Left(1));
        // Each class, subscription and principal has its own bucket.
        assert_eq!(b.take_at("s", "p", Class::Reads, t0), Taken::Left(19));
        assert_eq!(b.take_at("s", "p", Class::Deletes, t0), Taken::Left(9));
        assert_eq!(b.take_at("s", "other", Class::Writes, t0), Taken::Left(9));
        assert_eq!(b.take_at("S2", "p", Class::Writes, t0), Taken::Left(9));
        // Never above the capacity however long it waits.
        assert_eq!(b.take_at("s", "p", Class::Reads, t0 + Duration::from_secs(3600)), Taken::Left(19));
    }

    #[test]
    fn azure_figures_and_parsing() {
        assert_eq!(ArmLimits::parse("azure").unwrap(), ArmLimits::AZURE);
        assert_eq!(ArmLimits::parse("off").unwrap(), ArmLimits::Off);
        for bad in ["", "10", "a,b", "0,5", "-1,2", "inf,2"] {
            assert!(ArmLimits::parse(bad).is_err(), "{bad}");
        }
        let b = Buckets::new(ArmLimits::AZURE);
        let t0 = Instant::now();
        assert_eq!(b.take_at("s", "p", Class::Reads, t0), Taken::Left(249));
        assert_eq!(b.take_at("s", "p", Class::Writes, t0), Taken::Left(199));
        assert_eq!(Buckets::new(ArmLimits::Off).take_at("s", "p", Class::Reads, t0), Taken::Unlimited);
    }
}
