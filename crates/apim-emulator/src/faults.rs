//! Fault injection, switched at `POST /_emulator/faults` (see the README):
//! what a test or a rehearsal turns on, and how it changes an answer.

use crate::http;
use crate::shared::Req;
use crate::state::{now_ms, OpKind};
use crate::App;
use axum::body::Bytes;
use axum::http::Method;
use axum::response::Response;
use serde_json::json;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// Every fault the emulator can be switched into, in one place.
pub(crate) struct Faults {
    /// Lose the answer to the next POST whose last path segment is this
    /// (e.g. `backup`), after doing the work.
    pub lose_next_answer: Mutex<Option<String>>,
    /// Delay the answer to the next POST whose last path segment is this,
    /// after doing the work.
    pub slow_next_answer: Mutex<Option<SlowAnswer>>,
    /// Answer the next POST whose last path segment is this with 502, after doing the work.
    pub gateway_error_next: Mutex<Option<String>>,
    /// ARM requests that fail before being processed.
    pub fail_requests: Mutex<FailRequests>,
    /// This many ARM requests lose their connection before being processed.
    pub reset_requests: AtomicU64,
    /// `f64` bits of the chance that a request fails (503 or 429).
    pub error_rate: AtomicU64,
    /// This many ARM requests get 429 before any is served.
    pub throttle: AtomicU64,
    /// Services per page of a service list.
    pub service_page_size: AtomicU64,
    /// Key Vault secrets by identifier, as the rehearsal sets them.
    pub vault: Mutex<HashMap<String, String>>,
    /// Every Nth named value PATCH and `refreshSecret` answers 202 with
    /// where to poll, as Azure may (0: never).
    pub accepted_share: AtomicU64,
    pub accepted_seen: AtomicU64,
    /// This many ARM writes get 409 `PessimisticConcurrencyConflict`
    /// (another operation holds the resource), unprocessed.
    pub contended: AtomicU64,
}

/// The next answer to an action, held back.
pub(crate) struct SlowAnswer {
    pub action: String,
    pub ms: u64,
}

/// The next `count` ARM requests fail with `status` (and Retry-After, if set).
pub(crate) struct FailRequests {
    pub count: u64,
    pub status: u16,
    pub retry_after: Option<u64>,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            lose_next_answer: Mutex::new(None),
            slow_next_answer: Mutex::new(None),
            gateway_error_next: Mutex::new(None),
            fail_requests: Mutex::new(FailRequests {
                count: 0,
                status: 503,
                retry_after: None,
            }),
            reset_requests: AtomicU64::new(0),
            error_rate: AtomicU64::new(0),
            throttle: AtomicU64::new(0),
            service_page_size: AtomicU64::new(100),
            vault: Mutex::new(HashMap::new()),
            accepted_share: AtomicU64::new(0),
            accepted_seen: AtomicU64::new(0),
            contended: AtomicU64::new(0),
        }
    }
}

impl Faults {
    /// Whether this write answers 202 (the `accepted-share` switch).
    pub(crate) fn take_accepted(&self) -> bool {
        let share = self.accepted_share.load(Ordering::Relaxed);
        share > 0 && self.accepted_seen.fetch_add(1, Ordering::Relaxed).is_multiple_of(share)
    }
}

impl App {
    /// Applies the faults a `POST /_emulator/faults` names; the others stay.
    pub(crate) fn set_faults(&self, query: &std::collections::HashMap<String, String>) -> Response {
        let q = |k: &str| query.get(k);
        let action = q("lose-answer-to").cloned();
        if action.is_some() {
            *self.faults.lose_next_answer.lock().unwrap_or_else(|p| p.into_inner()) = action.clone();
        }
        if let (Some(id), Some(v)) = (q("kv-secret-id"), q("kv-secret-value")) {
            self.faults
                .vault
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .insert(id.trim_end_matches('/').to_string(), v.clone());
        }
        if let Some(l) = q("arm-limits") {
            match crate::limits::ArmLimits::parse(l) {
                Ok(l) => self.buckets.set(l),
                Err(e) => return http::error(400, "InvalidFault", &e),
            }
        }
        if let Some(n) = q("service-page-size").and_then(|n| n.parse::<u64>().ok()) {
            self.faults.service_page_size.store(n.max(1), Ordering::Relaxed);
        }
        if let Some(n) = q("contended").and_then(|n| n.parse().ok()) {
            self.faults.contended.store(n, Ordering::Relaxed);
        }
        if let Some(n) = q("accepted-share").and_then(|n| n.parse().ok()) {
            self.faults.accepted_share.store(n, Ordering::Relaxed);
            self.faults.accepted_seen.store(0, Ordering::Relaxed);
        }
        if let Some(n) = q("throttle").and_then(|n| n.parse().ok()) {
            self.faults.throttle.store(n, Ordering::Relaxed);
        }
        if let Some(ms) = q("latency-ms").and_then(|n| n.parse().ok()) {
            self.latency_ms.store(ms, Ordering::Relaxed);
        }
        if let Some(scale) = q("time-scale").and_then(|n| n.parse::<f64>().ok()) {
            if !(scale >= 0.0 && scale.is_finite()) {
                return http::error(400, "InvalidTimeScale", "time-scale must be a finite number >= 0");
            }
            self.time_scale.store(scale.to_bits(), Ordering::Relaxed);
        }
        if let Some(n) = q("fail").and_then(|n| n.parse().ok()) {
            let status = q("fail-status").and_then(|s| s.parse().ok()).unwrap_or(503);
            let retry_after = q("fail-retry-after").and_then(|s| s.parse().ok());
            *self.faults.fail_requests.lock().unwrap_or_else(|p| p.into_inner()) = FailRequests {
                count: n,
                status,
                retry_after,
            };
        }
        if let Some(n) = q("reset").and_then(|n| n.parse().ok()) {
            self.faults.reset_requests.store(n, Ordering::Relaxed);
        }
        if let Some(p) = q("error-rate").and_then(|n| n.parse::<f64>().ok()) {
            if !(0.0..=1.0).contains(&p) {
                return http::error(400, "InvalidErrorRate", "error-rate must be between 0 and 1");
            }
            self.faults.error_rate.store(p.to_bits(), Ordering::Relaxed);
        }
        if let Some(kind) = q("fail-next-operation") {
            let kind = match kind.as_str() {
                "create" => OpKind::ServiceCreate,
                "backup" => OpKind::ServiceBackup,
                "restore" => OpKind::ServiceRestore,
                "delete" => OpKind::ServiceDelete,
                other => return http::error(400, "InvalidFault", &format!("unknown operation kind '{other}'")),
            };
            let error = match q("outcome").map(String::as_str) {
                Some("canceled") => (
                    409,
                    crate::operations::CANCELED.to_string(),
                    "The operation was canceled.".to_string(),
                ),
                // A failed operation's Location answers with the failure
                // (4xx): a 5xx there would read as "try the poll again".
                _ => (
                    400,
                    "OperationFailed".to_string(),
                    "The operation failed: an internal error occurred in the service; try again later.".to_string(),
                ),
            };
            self.lock().fail_next = Some((kind, error));
        }
        if let Some(action) = q("gateway-error-to") {
            *self.faults.gateway_error_next.lock().unwrap_or_else(|p| p.into_inner()) = Some(action.clone());
        }
        if let Some(action) = q("slow-answer-to") {
            let ms = q("slow-ms").and_then(|n| n.parse().ok()).unwrap_or(3000);
            *self.faults.slow_next_answer.lock().unwrap_or_else(|p| p.into_inner()) = Some(SlowAnswer {
                action: action.clone(),
                ms,
            });
        }
        if query.contains_key("finish-operations") {
            // Every running operation ends now (as it would have ended
            // later): tests interrupt a long operation, then finish it
            // without waiting its scaled time.
            let now = now_ms();
            let mut st = self.lock();
            for op in st.ops.values_mut().filter(|o| !o.done) {
                op.duration_ms = (now - op.started_ms).max(0);
            }
            st.settle(now);
        }
        if query.contains_key("revoke-tokens") {
            // As when a principal's sessions are revoked: every token
            // issued so far is refused from now on.
            self.lock().tokens.clear();
        }
        http::json(
            200,
            &json!({"loseAnswerTo": action, "throttle": self.faults.throttle.load(Ordering::Relaxed),
                "latencyMs": self.latency_ms.load(Ordering::Relaxed), "timeScale": self.time_scale()}),
        )
    }

    /// A fault that answers before the request is processed: a failure
    /// status (`fail`, or by chance at `error-rate`, half 503 and half 429),
    /// or a connection reset (`reset`). `None` lets the request through.
    pub(crate) fn fault_before(&self) -> Option<Response> {
        let take = |n: &mut u64| {
            let hit = *n > 0;
            *n = n.saturating_sub(1);
            hit
        };
        if self
            .faults
            .reset_requests
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
        {
            let broken =
                futures::stream::once(async { Err::<Bytes, std::io::Error>(std::io::Error::other("fault injection: connection reset")) });
            let mut r = Response::new(axum::body::Body::from_stream(broken));
            *r.status_mut() = axum::http::StatusCode::OK;
            return Some(r);
        }
        let failure = {
            let mut f = self.faults.fail_requests.lock().unwrap_or_else(|p| p.into_inner());
            take(&mut f.count).then_some((f.status, f.retry_after))
        };
        let rate = f64::from_bits(self.faults.error_rate.load(Ordering::Relaxed));
        let failure =
            failure.or_else(|| (rate > 0.0 && rand_unit() < rate).then(|| if rand_unit() < 0.5 { (503, None) } else { (429, Some(1)) }));
        failure.map(|(s, retry_after)| {
            let r = match s {
                429 => http::error(
                    429,
                    "TooManyRequests",
                    "The request was throttled; retry after the time in Retry-After.",
                ),
                s => http::error(s, "ServiceUnavailable", "The service is temporarily unavailable; try again later."),
            };
            match retry_after {
                Some(secs) => http::with_header(r, "retry-after", &secs.to_string()),
                None => r,
            }
        })
    }

    /// The answer as the faults leave it: late, or broken off after the
    /// work was done, for the next POST whose last segment they name.
    pub(crate) async fn injected_faults(&self, r: &Req<'_>, resp: Response) -> Response {
        let hits = |action: &str| !matches!(*r.method, Method::GET | Method::HEAD) && r.lower.last().is_some_and(|l| l == action);
        let slow = {
            let mut fault = self.faults.slow_next_answer.lock().unwrap_or_else(|p| p.into_inner());
            match fault.as_ref() {
                Some(s) if hits(&s.action) => fault.take().map(|s| s.ms),
                _ => None,
            }
        };
        if let Some(ms) = slow {
            // The work is done; the answer is late, as over a congested link.
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        let gateway_error = {
            let mut fault = self.faults.gateway_error_next.lock().unwrap_or_else(|p| p.into_inner());
            let hit = fault.as_deref().is_some_and(hits);
            if hit {
                *fault = None;
            }
            hit
        };
        if gateway_error {
            // The work is done; a gateway in between answers 502, as when
            // the answer was lost behind ARM's front door.
            return http::error(502, "BadGateway", "The gateway did not receive a response in time.");
        }
        let lose = {
            let mut fault = self.faults.lose_next_answer.lock().unwrap_or_else(|p| p.into_inner());
            let hit = fault.as_deref().is_some_and(hits);
            if hit {
                *fault = None;
            }
            hit
        };
        if !lose {
            return resp;
        }
        // The work is done; the answer breaks off after its headers, as a
        // connection lost in transit would.
        let (parts, _) = resp.into_parts();
        let broken = futures::stream::once(async { Err::<Bytes, std::io::Error>(std::io::Error::other("fault injection: answer lost")) });
        Response::from_parts(parts, axum::body::Body::from_stream(broken))
    }
}

/// A number in [0, 1) from the uuid generator's randomness (no other RNG here).
fn rand_unit() -> f64 {
    // The low 53 bits: a v4 uuid's version and variant bits lie above them.
    (uuid::Uuid::new_v4().as_u128() as u64 & ((1u64 << 53) - 1)) as f64 / (1u64 << 53) as f64
}
