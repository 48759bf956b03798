//! Fault injection, switched at `POST /_emulator/faults` (see the README):
//! what a test or a rehearsal turns on, and how it changes an answer.

use crate::http;
use crate::shared::Req;
use crate::state::now_ms;
use crate::App;
use axum::body::Bytes;
use axum::http::Method;
use axum::response::Response;
use serde_json::json;
use std::sync::atomic::Ordering;

impl App {
    /// Applies the faults a `POST /_emulator/faults` names; the others stay.
    pub(crate) fn set_faults(&self, r: &Req) -> Response {
        let q = |k: &str| r.query.get(k);
        let action = q("lose-answer-to").cloned();
        if action.is_some() {
            *self.lose_next_answer.lock().unwrap_or_else(|p| p.into_inner()) = action.clone();
        }
        if let Some(n) = q("throttle").and_then(|n| n.parse().ok()) {
            self.throttle.store(n, Ordering::Relaxed);
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
        if let Some(action) = q("gateway-error-to") {
            *self.gateway_error_next.lock().unwrap_or_else(|p| p.into_inner()) = Some(action.clone());
        }
        if let Some(action) = q("slow-answer-to") {
            let ms = q("slow-ms").and_then(|n| n.parse().ok()).unwrap_or(3000);
            *self.slow_next_answer.lock().unwrap_or_else(|p| p.into_inner()) = Some((action.clone(), ms));
        }
        if r.query.contains_key("finish-operations") {
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
        if r.query.contains_key("revoke-tokens") {
            // As when a principal's sessions are revoked: every token
            // issued so far is refused from now on.
            self.lock().tokens.clear();
        }
        http::json(
            200,
            &json!({"loseAnswerTo": action, "throttle": self.throttle.load(Ordering::Relaxed),
                "latencyMs": self.latency_ms.load(Ordering::Relaxed), "timeScale": self.time_scale()}),
        )
    }

    /// The answer as the faults leave it: late, or broken off after the
    /// work was done, for the next POST whose last segment they name.
    pub(crate) async fn injected_faults(&self, r: &Req<'_>, resp: Response) -> Response {
        let hits = |action: &str| *r.method == Method::POST && r.lower.last().is_some_and(|l| l == action);
        let slow = {
            let mut fault = self.slow_next_answer.lock().unwrap_or_else(|p| p.into_inner());
            match fault.as_ref() {
                Some((a, _)) if hits(a) => fault.take().map(|(_, ms)| ms),
                _ => None,
            }
        };
        if let Some(ms) = slow {
            // The work is done; the answer is late, as over a congested link.
            tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
        }
        let gateway_error = {
            let mut fault = self.gateway_error_next.lock().unwrap_or_else(|p| p.into_inner());
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
            let mut fault = self.lose_next_answer.lock().unwrap_or_else(|p| p.into_inner());
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
