//! What every ARM answer shares: the request as parsed once, api-version
//! checks, bodies, ETags, scaled durations and ARM's error shapes.

use crate::http::{error, json};
use crate::state::{now_ms, Op, OpKind, State};
use crate::App;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

/// The api-versions Microsoft.ApiManagement publishes (stable and preview)
/// that clients send for what the emulator serves, from the
/// azure-rest-api-specs folder list; each is answered in 2024-05-01's shape,
/// which the later ones keep for these operations.
pub const APIM_VERSIONS: &[&str] = &[
    "2021-01-01-preview",
    "2021-04-01-preview",
    "2021-08-01",
    "2021-12-01-preview",
    "2022-04-01-preview",
    "2022-08-01",
    "2022-09-01-preview",
    "2023-03-01-preview",
    "2023-05-01-preview",
    "2023-09-01-preview",
    "2024-05-01",
    "2024-06-01-preview",
    "2024-10-01-preview",
    "2025-03-01-preview",
];

/// Microsoft.Storage's versions from 2021 on (the az CLI 2.91 sends 2025-08-01).
pub const STORAGE_VERSIONS: &[&str] = &[
    "2021-09-01",
    "2022-05-01",
    "2022-09-01",
    "2023-01-01",
    "2023-04-01",
    "2023-05-01",
    "2024-01-01",
    "2025-01-01",
    "2025-06-01",
    "2025-08-01",
    "2026-09-01",
];

/// Microsoft.Authorization role assignment versions clients send.
pub const AUTHORIZATION_VERSIONS: &[&str] = &[
    "2018-09-01-preview",
    "2020-04-01-preview",
    "2020-08-01-preview",
    "2020-10-01-preview",
    "2022-01-01-preview",
    "2022-04-01",
];

/// Microsoft.Resources (groups, subscriptions, tenants) versions clients send.
pub const RESOURCE_VERSIONS: &[&str] = &[
    "2016-06-01",
    "2019-11-01",
    "2020-01-01",
    "2020-06-01",
    "2021-01-01",
    "2021-04-01",
    "2022-09-01",
    "2022-12-01",
    "2024-03-01",
    "2024-07-01",
    "2024-11-01",
    "2025-03-01",
    "2025-04-01",
];

pub struct Req<'a> {
    pub method: &'a Method,
    /// What the route's path names, as the client spelled it.
    pub names: Names,
    pub segs: Vec<String>,
    pub lower: Vec<String>,
    pub query: HashMap<String, String>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

/// The names a route carries, captured once by the router; a field a
/// route has no place for is empty.
#[derive(Debug, Default, Clone)]
pub struct Names {
    pub tenant: String,
    pub subscription: String,
    pub group: String,
    /// The service or storage account the path is under.
    pub resource: String,
    pub named_value: String,
    pub container: String,
    /// An operation's id (`…/operationresults/{id}`, `…/operations/{id}`).
    pub operation: String,
    /// A deleted service's location.
    pub location: String,
    /// The path below `service/{name}`, e.g. `apis/echo/operations/get`.
    pub below: Vec<String>,
    /// A role assignment's scope: the path before `/providers/Microsoft.Authorization`.
    pub scope: String,
}

impl Req<'_> {
    pub fn api_version(&self) -> &str {
        self.query.get("api-version").map(String::as_str).unwrap_or("")
    }
}

pub(crate) fn scaled(app: &App, base_ms: i64) -> i64 {
    (base_ms as f64 * app.time_scale()).round() as i64
}

pub(crate) fn parse_body(r: &Req) -> Result<Map<String, Value>, Response> {
    match serde_json::from_slice::<Value>(r.body) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(error(
            400,
            "InvalidRequestContent",
            "The request content was invalid and could not be deserialized: 'expected a JSON object'.",
        )),
        Err(e) => Err(error(
            400,
            "InvalidRequestContent",
            &format!("The request content was invalid and could not be deserialized: '{e}'."),
        )),
    }
}

pub(crate) fn check_version(r: &Req, versions: &[&str], provider_type: Option<(&str, &str)>) -> Option<Response> {
    let v = r.api_version();
    if v.is_empty() {
        return Some(error(
            400,
            "MissingApiVersionParameter",
            "The api-version query parameter (?api-version=) is required for all requests.",
        ));
    }
    if versions.contains(&v) {
        return None;
    }
    let supported = versions.iter().rev().cloned().collect::<Vec<_>>().join(", ");
    Some(match provider_type {
        Some((ns, ty)) => error(
            400,
            "NoRegisteredProviderFound",
            &format!("No registered resource provider found for location 'global' and API version '{v}' for type '{ty}' of namespace '{ns}'. The supported api-versions are '{supported}'."),
        ),
        None => error(400, "InvalidApiVersionParameter", &format!("The api-version '{v}' is invalid. The supported versions are '{supported}'.")),
    })
}

pub(crate) fn retry_after(op: &Op, now: i64) -> String {
    let secs = (op.remaining_ms(now) + 999) / 1000;
    secs.clamp(1, 60).to_string()
}

pub(crate) fn new_op(st: &mut State, kind: OpKind, target: &str, duration_ms: i64) -> Op {
    let id = base64::engine::general_purpose::STANDARD.encode(format!("emulator_{}", uuid::Uuid::new_v4().simple()));
    let op = Op {
        id: id.clone(),
        kind,
        target: target.to_string(),
        started_ms: now_ms(),
        duration_ms,
        done: false,
        error: st.fail_next.take_if(|(k, _)| *k == kind).map(|(_, e)| e),
        payload: None,
    };
    st.ops.insert(id, op.clone());
    op
}

pub(crate) fn validation(problems: &[(&str, String)]) -> Response {
    let details: Vec<Value> = problems
        .iter()
        .map(|(t, m)| json!({"code": "ValidationError", "target": t, "message": m}))
        .collect();
    json(
        400,
        &json!({"error": {"code": "ValidationError", "message": "One or more fields contain incorrect values:", "details": details}}),
    )
}

pub(crate) fn conflict_in_progress(name: &str) -> Response {
    error(
        409,
        "Conflict",
        &format!("Operation on the service '{name}' is already in progress; wait for it to finish and try again."),
    )
}

pub(crate) fn group_not_found(name: &str) -> Response {
    error(
        404,
        "ResourceGroupNotFound",
        &format!("Resource group '{name}' could not be found."),
    )
}

pub(crate) fn service_not_found(name: &str, group: &str) -> Response {
    resource_not_found("Microsoft.ApiManagement/service", name, group)
}

pub(crate) fn resource_not_found(ty: &str, name: &str, group: &str) -> Response {
    error(404, "ResourceNotFound", &format!("The Resource '{ty}/{name}' under resource group '{group}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"))
}

pub(crate) fn not_found_path(r: &Req) -> Response {
    error(
        404,
        "InvalidResourceType",
        &format!("The resource type could not be found for path '/{}'.", r.segs.join("/")),
    )
}

pub(crate) fn method_not_allowed(r: &Req) -> Response {
    error(
        405,
        "MethodNotAllowed",
        &format!("The requested method {} is not allowed for this resource.", r.method),
    )
}

pub(crate) fn precondition_failed(id: &str) -> Response {
    error(
        412,
        "PreconditionFailed",
        &format!("The entity '{id}' was modified since it was read: its ETag does not match If-Match."),
    )
}

/// An ETag as ARM bodies carry it: the entity's version counter, in base64.
pub(crate) fn etag(n: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(n.to_be_bytes())
}

/// The `ETag` header of an entity whose body holds its version counter.
pub(crate) fn etag_header(item: &Value) -> String {
    format!("\"{}\"", etag(item.get("etag").and_then(Value::as_u64).unwrap_or(0)))
}
