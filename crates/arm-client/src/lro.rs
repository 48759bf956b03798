//! Long-running operations: what to poll, and what a poll answer means.
//! The reading of headers and bodies is pure; [`crate::ArmClient`] does the I/O.

use crate::ArmError;
pub use arm_types::{FinalStateVia, PendingOperation, Progress};
use serde_json::Value;
use std::time::Duration;

/// Reads the first answer of a long-running call: `None` when it finished
/// synchronously, else what to poll. A 201/202, or a body whose
/// provisioningState is not terminal, means the work goes on.
pub fn pending_from(
    status: u16,
    azure_async_operation: Option<&str>,
    location: Option<&str>,
    retry_after: Option<Duration>,
    body: Option<&Value>,
    resource_url: &str,
    final_state_via: FinalStateVia,
) -> Option<PendingOperation> {
    let running_body = body.is_some_and(|b| !is_terminal(provisioning_state(b)));
    let has_headers = azure_async_operation.is_some() || location.is_some();
    let pending = match status {
        202 => true,
        201 => has_headers || running_body,
        200 => running_body,
        _ => false,
    };
    pending.then(|| PendingOperation {
        resource_url: resource_url.to_string(),
        azure_async_operation: azure_async_operation.map(str::to_string),
        location: location.map(str::to_string),
        final_state_via,
        retry_after_seconds: retry_after.map(|d| d.as_secs()),
    })
}

/// The state of an operation after one poll.
#[derive(Debug, Clone, PartialEq)]
pub enum PollState {
    /// Still running; `status` is what the service says (e.g. `InProgress`, `Activating`).
    Running {
        status: String,
        retry_after: Option<Duration>,
    },
    /// Done. The body to return, if the status step already has it.
    Succeeded {
        body: Option<Value>,
    },
    Failed(ArmError),
}

/// Terminal provisioning states; anything else is in progress, and a
/// missing state means Succeeded.
pub fn provisioning_state(body: &Value) -> &str {
    body.pointer("/properties/provisioningState")
        .and_then(Value::as_str)
        .unwrap_or("Succeeded")
}

pub fn is_terminal(state: &str) -> bool {
    ["succeeded", "failed", "canceled", "cancelled"]
        .iter()
        .any(|t| state.eq_ignore_ascii_case(t))
}

/// Reads the answer of a GET on an `Azure-AsyncOperation` URL (always 200
/// with a `status` when the read itself worked).
pub fn read_async_status(body: &Value, retry_after: Option<Duration>, request_id: Option<String>) -> PollState {
    let status = body.get("status").and_then(Value::as_str).unwrap_or("InProgress");
    if status.eq_ignore_ascii_case("succeeded") {
        PollState::Succeeded { body: None }
    } else if is_terminal(status) {
        PollState::Failed(status_error(body, status, request_id))
    } else {
        PollState::Running {
            status: status.to_string(),
            retry_after,
        }
    }
}

/// Reads the answer of a GET on a `Location` URL: 202 = running, 200/201/204
/// = done with that body, an error status = the operation failed.
pub fn read_location(status: u16, body: &[u8], retry_after: Option<Duration>, request_id: Option<String>) -> PollState {
    match status {
        202 => PollState::Running {
            status: "InProgress".into(),
            retry_after,
        },
        200 | 201 => PollState::Succeeded {
            body: serde_json::from_slice(body).ok(),
        },
        204 => PollState::Succeeded { body: None },
        _ => PollState::Failed(ArmError::from_response(status, body, request_id)),
    }
}

/// Reads a resource GET when the operation had no status URL: the
/// resource's own provisioningState tells.
pub fn read_resource(body: &Value, retry_after: Option<Duration>, request_id: Option<String>) -> PollState {
    let state = provisioning_state(body);
    if state.eq_ignore_ascii_case("succeeded") {
        PollState::Succeeded { body: Some(body.clone()) }
    } else if is_terminal(state) {
        PollState::Failed(ArmError {
            status: 200,
            code: format!("Provisioning{state}"),
            message: format!("the resource's provisioningState is {state}"),
            request_id,
        })
    } else {
        PollState::Running {
            status: state.to_string(),
            retry_after,
        }
    }
}

fn status_error(body: &Value, status: &str, request_id: Option<String>) -> ArmError {
    let err = body.get("error");
    let get = |k: &str| err.and_then(|e| e.get(k)).and_then(Value::as_str).map(str::to_string);
    ArmError {
        status: 200,
        code: get("code").unwrap_or_else(|| format!("Operation{status}")),
        message: get("message").unwrap_or_else(|| format!("the operation ended as {status}")),
        request_id,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn async_operation_states() {
        let ra = Some(Duration::from_secs(3));
        assert_eq!(
            read_async_status(&json!({"status":"InProgress"}), ra, None),
            PollState::Running {
                status: "InProgress".into(),
                retry_after: ra
            }
        );
        assert_eq!(
            read_async_status(&json!({"status":"Succeeded"}), None, None),
            PollState::Succeeded { body: None }
        );
        match read_async_status(
            &json!({"status":"Failed","error":{"code":"ActivationFailed","message":"no"}}),
            None,
            Some("r1".into()),
        ) {
            PollState::Failed(e) => assert_eq!(e.to_string(), "ActivationFailed: no (HTTP 200, request id r1)"),
            other => panic!("{other:?}"),
        }
        assert!(matches!(
            read_async_status(&json!({"status":"Canceled"}), None, None),
            PollState::Failed(_)
        ));
    }

    #[test]
    fn location_states() {
        assert!(matches!(read_location(202, b"", None, None), PollState::Running { .. }));
        assert_eq!(
            read_location(200, br#"{"name":"x"}"#, None, None),
            PollState::Succeeded {
                body: Some(json!({"name":"x"}))
            }
        );
        assert_eq!(read_location(204, b"", None, None), PollState::Succeeded { body: None });
        match read_location(404, br#"{"error":{"code":"ResourceNotFound","message":"gone"}}"#, None, None) {
            PollState::Failed(e) => assert_eq!(e.code, "ResourceNotFound"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn resource_provisioning_states() {
        for s in ["Created", "Activating", "Updating", "Accepted"] {
            let b = json!({"properties":{"provisioningState": s}});
            assert!(matches!(read_resource(&b, None, None), PollState::Running { .. }), "{s}");
        }
        assert!(matches!(
            read_resource(&json!({"properties":{}}), None, None),
            PollState::Succeeded { .. }
        ));
        assert!(matches!(
            read_resource(&json!({"properties":{"provisioningState":"Failed"}}), None, None),
            PollState::Failed(_)
        ));
    }

    #[test]
    fn first_answers() {
        let url = "https://h/r?api-version=1";
        let fsv = FinalStateVia::OriginalUri;
        // The APIM create example: 201, both headers, provisioningState Created.
        let created = json!({"properties": {"provisioningState": "Created"}});
        let p = pending_from(
            201,
            Some("https://h/op?x"),
            Some("https://h/op?x"),
            Some(Duration::from_secs(5)),
            Some(&created),
            url,
            fsv,
        )
        .unwrap();
        assert_eq!(p.azure_async_operation.as_deref(), Some("https://h/op?x"));
        assert_eq!(p.retry_after_seconds, Some(5));
        // Backup: 202 with only Location.
        let p = pending_from(202, None, Some("https://h/loc"), None, None, url, FinalStateVia::Location).unwrap();
        assert_eq!((p.azure_async_operation, p.location.as_deref()), (None, Some("https://h/loc")));
        // Storage account that already existed: 200 with a finished body.
        let done = json!({"properties": {"provisioningState": "Succeeded"}});
        assert_eq!(pending_from(200, None, None, None, Some(&done), url, fsv), None);
        // 200 while still updating: poll the resource itself.
        let updating = json!({"properties": {"provisioningState": "Updating"}});
        let p = pending_from(200, None, None, None, Some(&updating), url, fsv).unwrap();
        assert_eq!(p.resource_url, url);
        // A 201 with a finished body and no headers is done.
        assert_eq!(pending_from(201, None, None, None, Some(&done), url, fsv), None);
        assert_eq!(pending_from(204, None, None, None, None, url, fsv), None);
    }

    #[test]
    fn pending_operation_round_trips() {
        let op = PendingOperation {
            resource_url: "https://x/s?api-version=1".into(),
            azure_async_operation: Some("https://x/op".into()),
            location: None,
            final_state_via: FinalStateVia::OriginalUri,
            retry_after_seconds: Some(10),
        };
        let v = serde_json::to_value(&op).unwrap();
        assert_eq!(v["finalStateVia"], "original-uri");
        assert!(v.get("location").is_none());
        assert_eq!(serde_json::from_value::<PendingOperation>(v).unwrap(), op);
    }
}
