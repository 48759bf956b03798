//! Long-running operations: their status (Azure-AsyncOperation) and
//! result (Location) endpoints.

use crate::http::{empty, error, json, with_header};
use crate::shared::*;
use crate::state::{rfc3339, Op, State};
use crate::App;
use axum::response::Response;
use serde_json::json;

/// The error code of an operation that ends Canceled rather than Failed.
pub(crate) const CANCELED: &str = "OperationCanceled";

impl App {
    /// GET on a Location URL: 202 while running, then what `done` says.
    pub(crate) fn location_result(&self, st: &mut State, id: &str, now: i64, done: impl Fn(&State, &Op) -> Response) -> Response {
        let Some(op) = st.ops.get(id).cloned() else {
            return error(404, "OperationNotFound", &format!("The operation '{id}' could not be found."));
        };
        if !op.done {
            return with_header(empty(202), "retry-after", &retry_after(&op, now));
        }
        if let Some((status, code, msg)) = &op.error {
            return error(*status, code, msg);
        }
        done(st, &op)
    }

    /// GET on an Azure-AsyncOperation URL: always 200 with a status.
    pub(crate) fn async_status(&self, st: &mut State, id: &str, now: i64) -> Response {
        let Some(op) = st.ops.get(id).cloned() else {
            return error(404, "OperationNotFound", &format!("The operation '{id}' could not be found."));
        };
        let mut b = json!({"id": id, "name": id, "startTime": rfc3339(op.started_ms)});
        if !op.done {
            b["status"] = json!("InProgress");
            return with_header(json(200, &b), "retry-after", &retry_after(&op, now));
        }
        b["endTime"] = json!(rfc3339(op.started_ms + op.duration_ms));
        match &op.error {
            Some((_, code, _)) if code == CANCELED => b["status"] = json!("Canceled"),
            Some((_, code, msg)) => {
                b["status"] = json!("Failed");
                b["error"] = json!({"code": code, "message": msg});
            }
            None => b["status"] = json!("Succeeded"),
        }
        json(200, &b)
    }
}
