//! The ARM surface: routing, authentication, api-versions, and the
//! resource providers the toolkit calls.

use crate::http::{empty, error, json, with_header};
use crate::state::{key, now_ms, rfc3339, Account, Container, Group, Op, OpKind, Service, State};
use crate::App;
use axum::http::{HeaderMap, Method};
use axum::response::Response;
use base64::Engine;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

pub const APIM_VERSIONS: &[&str] = &[
    "2021-08-01",
    "2022-08-01",
    "2023-03-01-preview",
    "2023-05-01-preview",
    "2023-09-01-preview",
    "2024-05-01",
    "2024-06-01-preview",
];
pub const STORAGE_VERSIONS: &[&str] = &[
    "2021-09-01",
    "2022-09-01",
    "2023-01-01",
    "2023-05-01",
    "2024-01-01",
    "2025-01-01",
    "2025-06-01",
    "2026-09-01",
];
pub const RESOURCE_VERSIONS: &[&str] = &[
    "2021-04-01",
    "2022-09-01",
    "2024-03-01",
    "2024-07-01",
    "2024-11-01",
    "2025-03-01",
    "2025-04-01",
];

/// Base durations of operations in real Azure, before `--time-scale`.
const SERVICE_CREATE_MS: i64 = 40 * 60 * 1000;
const SERVICE_UPDATE_MS: i64 = 5 * 60 * 1000;
const SERVICE_DELETE_MS: i64 = 10 * 60 * 1000;
const STORAGE_CREATE_MS: i64 = 20 * 1000;
const GROUP_DELETE_MS: i64 = 60 * 1000;

pub struct Req<'a> {
    pub method: &'a Method,
    pub segs: Vec<String>,
    pub lower: Vec<String>,
    pub query: HashMap<String, String>,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
}

impl Req<'_> {
    pub fn api_version(&self) -> &str {
        self.query.get("api-version").map(String::as_str).unwrap_or("")
    }
    fn is(&self, pattern: &[&str]) -> bool {
        pattern.len() == self.lower.len() && pattern.iter().zip(&self.lower).all(|(p, s)| *p == "*" || p == s)
    }
}

fn etag_string(n: u64) -> String {
    base64::engine::general_purpose::STANDARD.encode(n.to_be_bytes())
}

pub(crate) fn scaled(app: &App, base_ms: i64) -> i64 {
    (base_ms as f64 * app.time_scale()).round() as i64
}

fn parse_body(r: &Req) -> Result<Map<String, Value>, Response> {
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

fn check_version(r: &Req, versions: &[&str], provider_type: Option<(&str, &str)>) -> Option<Response> {
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
        error: None,
        payload: None,
    };
    st.ops.insert(id, op.clone());
    op
}

impl App {
    /// Every request under /subscriptions, after the token was accepted.
    pub fn arm(&self, st: &mut State, r: &Req) -> Response {
        let now = now_ms();
        st.settle(now);
        let sub = r.segs[1].clone();
        let l: Vec<&str> = r.lower.iter().map(String::as_str).collect();
        match l.as_slice() {
            ["subscriptions", _, "resourcegroups", _] => {
                if let Some(e) = check_version(r, RESOURCE_VERSIONS, None) {
                    return e;
                }
                self.group(st, r, &sub, &r.segs[3].clone())
            }
            ["subscriptions", _, "operationresults", _] => {
                if let Some(e) = check_version(r, RESOURCE_VERSIONS, None) {
                    return e;
                }
                self.location_result(st, &r.segs[3], now, |_, _| empty(200))
            }
            ["subscriptions", _, "providers", "microsoft.apimanagement", rest @ ..] => {
                if let Some(e) = check_version(r, APIM_VERSIONS, Some(("Microsoft.ApiManagement", "service"))) {
                    return e;
                }
                match rest {
                    ["service"] if r.method == Method::GET => self.list_services(st, |s| key(&s.subscription) == key(&sub)),
                    ["deletedservices"] if r.method == Method::GET => self.list_deleted(st, &sub),
                    ["locations", _, "deletedservices", name] => self.deleted_service(st, r, &sub, name),
                    _ => not_found_path(r),
                }
            }
            ["subscriptions", _, "providers", "microsoft.storage", "operations", _] => {
                if let Some(e) = check_version(r, STORAGE_VERSIONS, Some(("Microsoft.Storage", "operations"))) {
                    return e;
                }
                let id = r.segs[5].clone();
                self.location_result(st, &id, now, |st, op| match st.accounts.get(&op.target) {
                    Some(a) => json(200, &self.account_body(a)),
                    None => empty(200),
                })
            }
            ["subscriptions", _, "resourcegroups", _, "providers", ns, rest @ ..] => {
                let gk = key(&format!("/subscriptions/{}/resourceGroups/{}", sub, r.segs[3]));
                match (*ns, rest) {
                    ("microsoft.apimanagement", rest) => {
                        if let Some(e) = check_version(r, APIM_VERSIONS, Some(("Microsoft.ApiManagement", "service"))) {
                            return e;
                        }
                        if !st.groups.contains_key(&gk) {
                            return group_not_found(&r.segs[3]);
                        }
                        match rest {
                            ["service"] if r.method == Method::GET => self.list_services(st, |s| {
                                key(&format!("/subscriptions/{}/resourceGroups/{}", s.subscription, s.group)) == gk
                            }),
                            ["service", _] => self.service(st, r, &sub),
                            ["service", _, "namedvalues"] | ["service", _, "apis"] | ["service", _, "products"]
                                if r.method == Method::GET =>
                            {
                                self.list_children(st, r, &sub)
                            }
                            ["service", _, "namedvalues", _] | ["service", _, "apis", _] | ["service", _, "products", _] => {
                                self.child(st, r, &sub)
                            }
                            ["service", _, "namedvalues", _, "listvalue"] if r.method == Method::POST => self.list_value(st, r, &sub),
                            ["service", _, "namedvalues", _, "refreshsecret"] if r.method == Method::POST => {
                                self.refresh_secret(st, r, &sub)
                            }
                            ["service", _, "tenant", "operationresults", _] if r.method == Method::GET => self.tenant_operation(r),
                            ["service", _, "operationresults", _] => {
                                let id = r.segs[9].clone();
                                if r.query.contains_key("asyncresponse") {
                                    self.async_status(st, &id, now)
                                } else {
                                    self.location_result(st, &id, now, |st, op| match st.services.get(&op.target) {
                                        Some(s) if op.kind != OpKind::ServiceDelete => json(200, &self.service_body(st, s, now)),
                                        _ => empty(200),
                                    })
                                }
                            }
                            _ => not_found_path(r),
                        }
                    }
                    ("microsoft.storage", rest) => {
                        if let Some(e) = check_version(r, STORAGE_VERSIONS, Some(("Microsoft.Storage", "storageAccounts"))) {
                            return e;
                        }
                        if !st.groups.contains_key(&gk) {
                            return group_not_found(&r.segs[3]);
                        }
                        match rest {
                            ["storageaccounts", _] => self.account(st, r, &sub),
                            ["storageaccounts", _, "listkeys"] if r.method == Method::POST => self.list_keys(st, r, &sub),
                            ["storageaccounts", _, "blobservices", "default", "containers", _] => self.container(st, r, &sub),
                            _ => not_found_path(r),
                        }
                    }
                    _ => not_found_path(r),
                }
            }
            _ => not_found_path(r),
        }
    }

    fn group(&self, st: &mut State, r: &Req, sub: &str, name: &str) -> Response {
        let id = format!("/subscriptions/{sub}/resourceGroups/{name}");
        let k = key(&id);
        let body_of = |g: &Group| {
            let mut b = json!({"id": g.id, "name": g.name, "type": "Microsoft.Resources/resourceGroups", "location": g.location,
                "properties": {"provisioningState": if g.deleting_op.is_some() {"Deleting"} else {"Succeeded"}}});
            if !g.tags.is_empty() {
                b["tags"] = Value::Object(g.tags.clone());
            }
            b
        };
        match *r.method {
            Method::PUT => {
                if name.len() > 90 || !name.chars().all(|c| c.is_alphanumeric() || "-_.()".contains(c)) || name.ends_with('.') {
                    return error(400, "InvalidResourceGroup", &format!("The provided resource group name '{name}' has these invalid characters: the name can only include alphanumeric, underscore, parentheses, hyphen, period (except at end), and Unicode characters that match the allowed characters."));
                }
                let body = match parse_body(r) {
                    Ok(b) => b,
                    Err(e) => return e,
                };
                let Some(location) = body.get("location").and_then(Value::as_str) else {
                    return error(400, "LocationRequired", "The location property is required for this definition.");
                };
                let tags = body.get("tags").and_then(Value::as_object).cloned().unwrap_or_default();
                let existed = st.groups.contains_key(&k);
                if let Some(g) = st.groups.get(&k) {
                    if g.deleting_op.is_some() {
                        return error(
                            409,
                            "ResourceGroupBeingDeleted",
                            &format!("The resource group '{name}' is in deprovisioning state and cannot perform this operation."),
                        );
                    }
                    if key(&g.location) != key(location) {
                        return error(
                            409,
                            "InvalidResourceGroupLocation",
                            &format!(
                                "Invalid resource group location '{location}'. The Resource group already exists in location '{}'.",
                                g.location
                            ),
                        );
                    }
                }
                let g = Group {
                    id: id.clone(),
                    name: name.to_string(),
                    location: location.to_string(),
                    tags,
                    deleting_op: None,
                };
                let b = body_of(&g);
                st.groups.insert(k, g);
                json(if existed { 200 } else { 201 }, &b)
            }
            Method::GET => match st.groups.get(&k) {
                Some(g) => json(200, &body_of(g)),
                None => group_not_found(name),
            },
            Method::HEAD => empty(if st.groups.contains_key(&k) { 204 } else { 404 }),
            Method::DELETE => {
                if !st.groups.contains_key(&k) {
                    return empty(204);
                }
                let op = new_op(st, OpKind::GroupDelete, &k, scaled(self, GROUP_DELETE_MS));
                if let Some(g) = st.groups.get_mut(&k) {
                    g.deleting_op = Some(op.id.clone());
                }
                let loc = format!(
                    "{}subscriptions/{sub}/operationresults/{}?api-version={}",
                    self.base_url,
                    op.id,
                    r.api_version()
                );
                with_header(
                    with_header(empty(202), "location", &loc),
                    "retry-after",
                    &retry_after(&op, now_ms()),
                )
            }
            _ => method_not_allowed(r),
        }
    }

    /// GET on a Location URL: 202 while running, then what `done` says.
    fn location_result(&self, st: &mut State, id: &str, now: i64, done: impl Fn(&State, &Op) -> Response) -> Response {
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
    fn async_status(&self, st: &mut State, id: &str, now: i64) -> Response {
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
            Some((_, code, msg)) => {
                b["status"] = json!("Failed");
                b["error"] = json!({"code": code, "message": msg});
            }
            None => b["status"] = json!("Succeeded"),
        }
        json(200, &b)
    }

    pub fn service_body(&self, st: &State, s: &Service, now: i64) -> Value {
        let (state, target) = st.service_states(s, now);
        let n = &s.name;
        let host = format!("{}.azure-api.net", n.to_ascii_lowercase());
        let mut b = json!({
            "id": s.id, "name": s.name, "type": "Microsoft.ApiManagement/service",
            "tags": s.tags, "location": s.location, "etag": etag_string(s.etag),
            "properties": {
                "publisherEmail": s.publisher_email, "publisherName": s.publisher_name,
                "notificationSenderEmail": "apimgmt-noreply@mail.windowsazure.com",
                "provisioningState": state, "targetProvisioningState": target,
                "createdAtUtc": rfc3339(s.created_ms),
                "gatewayUrl": format!("https://{host}"),
                "gatewayRegionalUrl": format!("https://{}-{}-01.regional.azure-api.net", n.to_ascii_lowercase(), key(&s.location).replace(' ', "")),
                "portalUrl": format!("https://{}.portal.azure-api.net", n.to_ascii_lowercase()),
                "developerPortalUrl": format!("https://{}.developer.azure-api.net", n.to_ascii_lowercase()),
                "managementApiUrl": format!("https://{}.management.azure-api.net", n.to_ascii_lowercase()),
                "scmUrl": format!("https://{}.scm.azure-api.net", n.to_ascii_lowercase()),
                "hostnameConfigurations": [{"type": "Proxy", "hostName": host, "negotiateClientCertificate": false, "defaultSslBinding": true, "certificateSource": "BuiltIn"}],
                "publicIPAddresses": ["203.0.113.10"],
                "customProperties": default_custom_properties(),
                "virtualNetworkType": "None", "disableGateway": false, "publicNetworkAccess": "Enabled",
                "platformVersion": if state == "Succeeded" { "stv2" } else { "undetermined" }
            },
            "sku": {"name": s.sku_name, "capacity": s.capacity},
            "systemData": {"createdBy": self.config.client_id, "createdByType": "Application", "createdAt": rfc3339(s.created_ms),
                "lastModifiedBy": self.config.client_id, "lastModifiedByType": "Application", "lastModifiedAt": rfc3339(s.created_ms)}
        });
        if let Some(i) = &s.identity {
            b["identity"] = i.clone();
        }
        b
    }

    fn list_services(&self, st: &State, keep: impl Fn(&Service) -> bool) -> Response {
        let now = now_ms();
        let value: Vec<Value> = st
            .services
            .values()
            .filter(|s| keep(s))
            .map(|s| self.service_body(st, s, now))
            .collect();
        json(200, &json!({"value": value}))
    }

    fn service(&self, st: &mut State, r: &Req, sub: &str) -> Response {
        let (group, name) = (r.segs[3].clone(), r.segs[7].clone());
        let id = format!("/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.ApiManagement/service/{name}");
        let k = key(&id);
        let now = now_ms();
        match *r.method {
            Method::GET => match st.services.get(&k) {
                Some(s) => json(200, &self.service_body(st, s, now)),
                None => service_not_found(&name, &group),
            },
            Method::PUT => self.put_service(st, r, sub, &group, &name, id),
            Method::DELETE => {
                let Some(s) = st.services.get(&k) else { return empty(204) };
                if s.op.is_some() {
                    return conflict_in_progress(&name);
                }
                let op = new_op(st, OpKind::ServiceDelete, &k, scaled(self, SERVICE_DELETE_MS));
                let etag = st.next_etag();
                let s = st.services.get_mut(&k).expect("checked above");
                s.op = Some(op.id.clone());
                s.etag = etag;
                let body = self.service_body(st, &st.services[&k], now);
                let loc = format!(
                    "{}{}/operationresults/{}?api-version={}",
                    self.base_url,
                    &id[1..],
                    op.id,
                    r.api_version()
                );
                with_header(
                    with_header(json(202, &body), "location", &loc),
                    "retry-after",
                    &retry_after(&op, now),
                )
            }
            _ => method_not_allowed(r),
        }
    }

    fn put_service(&self, st: &mut State, r: &Req, sub: &str, group: &str, name: &str, id: String) -> Response {
        let k = key(&id);
        let now = now_ms();
        let valid_name = apim_rules::is_valid_service_name(name);
        if !valid_name {
            return error(400, "InvalidResourceName", &format!("Resource name '{name}' is invalid. The name can contain only letters, numbers, and hyphens. The first character must be a letter and last character must be a letter or a number. The value must be between 1 and 50 characters long."));
        }
        let body = match parse_body(r) {
            Ok(b) => b,
            Err(e) => return e,
        };
        let props = body.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();

        // Undelete: only the name and location matter.
        if props.get("restore").and_then(Value::as_bool) == Some(true) {
            let Some(d) = st.deleted.remove(&key(name)) else {
                return error(
                    404,
                    "ServiceNotFound",
                    &format!("Soft-deleted service '{name}' was not found; it cannot be restored."),
                );
            };
            let mut s = d.service;
            s.id = id.clone();
            s.group = group.to_string();
            s.subscription = sub.to_string();
            s.etag = st.next_etag();
            let op = new_op(st, OpKind::ServiceRecover, &k, scaled(self, SERVICE_CREATE_MS));
            s.op = Some(op.id.clone());
            st.services.insert(k.clone(), s);
            return self.lro_service_answer(st, &k, &op, 201, r.api_version());
        }

        let Some(location) = body.get("location").and_then(Value::as_str).map(str::to_string) else {
            return error(400, "LocationRequired", "The location property is required for this definition.");
        };
        let sku = body.get("sku").and_then(Value::as_object);
        let sku_name = sku.and_then(|s| s.get("name")).and_then(Value::as_str).unwrap_or("");
        let Some(sku_name) = apim_rules::sku(sku_name) else {
            return validation(&[(
                "sku.name",
                format!("Invalid SKU name '{sku_name}'. Valid values are {}.", apim_rules::SKUS.join(", ")),
            )]);
        };
        let capacity = sku.and_then(|s| s.get("capacity")).and_then(Value::as_i64).unwrap_or(1);
        let mut problems = Vec::new();
        for f in ["publisherEmail", "publisherName"] {
            match props.get(f).and_then(Value::as_str) {
                None | Some("") => problems.push((f, format!("{f} is required."))),
                Some(v) if v.len() > 100 => problems.push((f, format!("{f} must be at most 100 characters long."))),
                _ => {}
            }
        }
        if let Some(e) = props.get("publisherEmail").and_then(Value::as_str) {
            if !e.is_empty() && !e.contains('@') {
                problems.push(("publisherEmail", "Email address is not valid.".to_string()));
            }
        }
        if sku_name == "Consumption" && capacity != 0 {
            problems.push(("sku.capacity", "Capacity must be 0 for the Consumption SKU.".to_string()));
        } else if sku_name != "Consumption" && !(1..=12).contains(&capacity) {
            problems.push((
                "sku.capacity",
                format!("Capacity {capacity} is out of range for the {sku_name} SKU."),
            ));
        }
        if !problems.is_empty() {
            return validation(&problems);
        }
        // Names are global: they become DNS names.
        if let Some(other) = st.services.values().find(|s| key(&s.name) == key(name) && key(&s.id) != k) {
            let _ = other;
            return error(409, "ServiceAlreadyExists", &format!("Api service already exists: {name}"));
        }
        if st.deleted.contains_key(&key(name)) {
            return error(409, "ServiceAlreadyExistsInSoftDeletedState", &format!("Api service {name} was soft-deleted. In order to create the new service with the same name, you have to either undelete the service or purge it."));
        }
        let tags = body.get("tags").and_then(Value::as_object).cloned().unwrap_or_default();
        let previous = st.services.get(&k).and_then(|s| s.identity.clone());
        let identity = body
            .get("identity")
            .cloned()
            .filter(|i| !i.is_null())
            .map(|i| complete_identity(i, previous.as_ref()));
        let (publisher_email, publisher_name) = (
            props["publisherEmail"].as_str().unwrap_or_default().to_string(),
            props["publisherName"].as_str().unwrap_or_default().to_string(),
        );
        let etag = st.next_etag();
        if let Some(existing) = st.services.get(&k) {
            if existing.op.is_some() {
                return conflict_in_progress(name);
            }
            let mut s = existing.clone();
            if key(&s.location).replace(' ', "") != key(&location).replace(' ', "") {
                return error(
                    400,
                    "LocationCannotBeChanged",
                    &format!("Service location cannot be changed from '{}' to '{location}'.", s.location),
                );
            }
            s.sku_name = sku_name.to_string();
            s.capacity = capacity;
            s.publisher_email = publisher_email;
            s.publisher_name = publisher_name;
            s.tags = tags;
            s.identity = identity;
            s.etag = etag;
            let op = new_op(st, OpKind::ServiceUpdate, &k, scaled(self, SERVICE_UPDATE_MS));
            s.op = Some(op.id.clone());
            st.services.insert(k.clone(), s);
            return self.lro_service_answer(st, &k, &op, 200, r.api_version());
        }
        let s = Service {
            id: id.clone(),
            name: name.to_string(),
            subscription: sub.to_string(),
            group: group.to_string(),
            location,
            sku_name: sku_name.to_string(),
            capacity,
            publisher_email,
            publisher_name,
            tags,
            identity,
            created_ms: now,
            etag,
            op: None,
            config: Map::new(),
        };
        let op = new_op(st, OpKind::ServiceCreate, &k, scaled(self, SERVICE_CREATE_MS));
        let mut s = s;
        s.op = Some(op.id.clone());
        st.services.insert(k.clone(), s);
        self.lro_service_answer(st, &k, &op, 201, r.api_version())
    }

    /// 201/200 with the service body and both status headers, as the create example shows.
    fn lro_service_answer(&self, st: &mut State, k: &str, op: &Op, status: u16, api_version: &str) -> Response {
        let now = now_ms();
        st.settle(now);
        let s = &st.services[k];
        let url = format!(
            "{}{}/operationresults/{}?api-version={api_version}&asyncResponse",
            self.base_url,
            &s.id[1..],
            op.id
        );
        let r = json(status, &self.service_body(st, s, now));
        let r = with_header(r, "location", &url);
        let r = with_header(r, "azure-asyncoperation", &url);
        with_header(r, "retry-after", &retry_after(op, now))
    }

    fn deleted_body(&self, d: &crate::state::DeletedService) -> Value {
        let s = &d.service;
        json!({
            "id": format!("/subscriptions/{}/providers/Microsoft.ApiManagement/locations/{}/deletedservices/{}", s.subscription, key(&s.location).replace(' ', ""), s.name),
            "name": s.name, "type": "Microsoft.ApiManagement/deletedservices", "location": s.location,
            "properties": {"serviceId": s.id, "scheduledPurgeDate": rfc3339(d.deleted_ms + crate::state::SOFT_DELETE_MS), "deletionDate": rfc3339(d.deleted_ms)}
        })
    }

    fn list_deleted(&self, st: &State, sub: &str) -> Response {
        let value: Vec<Value> = st
            .deleted
            .values()
            .filter(|d| key(&d.service.subscription) == key(sub))
            .map(|d| self.deleted_body(d))
            .collect();
        json(200, &json!({"value": value}))
    }

    fn deleted_service(&self, st: &mut State, r: &Req, sub: &str, name: &str) -> Response {
        let found = st.deleted.get(name).filter(|d| key(&d.service.subscription) == key(sub));
        let Some(d) = found else {
            return error(404, "ResourceNotFound", &format!("Deleted service '{name}' was not found."));
        };
        match *r.method {
            Method::GET => json(200, &self.deleted_body(d)),
            Method::DELETE => {
                let b = self.deleted_body(d);
                st.deleted.remove(name);
                json(200, &b)
            }
            _ => method_not_allowed(r),
        }
    }

    fn account(&self, st: &mut State, r: &Req, sub: &str) -> Response {
        let (group, name) = (r.segs[3].clone(), r.segs[7].clone());
        let id = format!("/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Storage/storageAccounts/{name}");
        let k = key(&id);
        let now = now_ms();
        match *r.method {
            Method::GET => match st.accounts.get(&k).filter(|a| a.op.is_none()) {
                Some(a) => json(200, &self.account_body(a)),
                None => resource_not_found("Microsoft.Storage/storageAccounts", &name, &group),
            },
            Method::PUT => {
                if !blob_store::names::is_valid_account_name(&name) {
                    return error(400, "AccountNameInvalid", &format!("{name} is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only."));
                }
                let body = match parse_body(r) {
                    Ok(b) => b,
                    Err(e) => return e,
                };
                let Some(location) = body.get("location").and_then(Value::as_str).map(str::to_string) else {
                    return error(400, "LocationRequired", "The location property is required for this definition.");
                };
                let Some(sku) = body
                    .get("sku")
                    .and_then(|s| s.get("name"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
                else {
                    return error(400, "MissingRequiredProperty", "The sku.name property is required.");
                };
                let Some(kind) = body.get("kind").and_then(Value::as_str).map(str::to_string) else {
                    return error(400, "MissingRequiredProperty", "The kind property is required.");
                };
                if st.accounts.iter().any(|(ok, a)| key(&a.name) == key(&name) && *ok != k) {
                    return error(
                        409,
                        "StorageAccountAlreadyTaken",
                        &format!("The storage account named {name} is already taken."),
                    );
                }
                let keys = match self.account_keys(&name) {
                    Ok(k) => k,
                    Err(e) => return e,
                };
                let properties = body.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
                let tags = body.get("tags").and_then(Value::as_object).cloned().unwrap_or_default();
                if let Some(a) = st.accounts.get_mut(&k) {
                    if a.op.is_some() {
                        return error(
                            409,
                            "OperationNotAllowed",
                            &format!("The storage account {name} is being created; wait for that to finish."),
                        );
                    }
                    a.sku = sku;
                    a.kind = kind;
                    a.tags = tags;
                    a.properties.extend(properties);
                    return json(200, &self.account_body(a));
                }
                let op = new_op(st, OpKind::StorageCreate, &k, scaled(self, STORAGE_CREATE_MS));
                let a = Account {
                    id,
                    name,
                    group,
                    location,
                    kind,
                    sku,
                    properties,
                    tags,
                    created_ms: now,
                    keys,
                    op: Some(op.id.clone()),
                };
                st.accounts.insert(k, a);
                // A fresh clock: the operation started after `now` was read.
                st.settle(now_ms());
                if st.accounts.get(&key(&op.target)).is_some_and(|a| a.op.is_none()) {
                    // Finished at once (time-scale 0): ARM answers 200 with the body.
                    return json(200, &self.account_body(&st.accounts[&op.target]));
                }
                let loc = format!(
                    "{}subscriptions/{sub}/providers/Microsoft.Storage/operations/{}?monitor=true&api-version={}",
                    self.base_url,
                    op.id,
                    r.api_version()
                );
                with_header(with_header(empty(202), "location", &loc), "retry-after", &retry_after(&op, now))
            }
            Method::DELETE => {
                if st.accounts.remove(&k).is_none() {
                    return empty(204);
                }
                let prefix = format!("{k}/");
                st.containers.retain(|ck, _| !ck.starts_with(&prefix));
                empty(200)
            }
            _ => method_not_allowed(r),
        }
    }

    fn list_keys(&self, st: &State, r: &Req, sub: &str) -> Response {
        let id = format!(
            "/subscriptions/{sub}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/{}",
            r.segs[3], r.segs[7]
        );
        match st.accounts.get(&key(&id)).filter(|a| a.op.is_none()) {
            Some(a) => json(
                200,
                &json!({"keys": [
                    {"creationTime": rfc3339(a.created_ms), "keyName": "key1", "permissions": "FULL", "value": a.keys[0]},
                    {"creationTime": rfc3339(a.created_ms), "keyName": "key2", "permissions": "FULL", "value": a.keys[1]},
                ]}),
            ),
            None => resource_not_found("Microsoft.Storage/storageAccounts", &r.segs[7], &r.segs[3]),
        }
    }

    fn container(&self, st: &mut State, r: &Req, sub: &str) -> Response {
        let (group, account, name) = (r.segs[3].clone(), r.segs[7].clone(), r.segs[11].clone());
        let account_id = format!("/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Storage/storageAccounts/{account}");
        let Some(acc) = st.accounts.get(&key(&account_id)).filter(|a| a.op.is_none()).cloned() else {
            return resource_not_found("Microsoft.Storage/storageAccounts", &account, &group);
        };
        let id = format!("{account_id}/blobServices/default/containers/{name}");
        let k = key(&id);
        match *r.method {
            Method::GET => match st.containers.get(&k) {
                Some(c) => json(200, &container_body(c)),
                None => error(404, "ContainerNotFound", "The specified container does not exist."),
            },
            Method::PUT => {
                let valid = blob_store::names::is_valid_container_name(&name);
                if !valid {
                    return error(
                        400,
                        "ContainerOperationFailure",
                        "The specified resource name contains invalid characters.",
                    );
                }
                let body = if r.body.is_empty() {
                    Map::new()
                } else {
                    match parse_body(r) {
                        Ok(b) => b,
                        Err(e) => return e,
                    }
                };
                let existed = st.containers.contains_key(&k);
                let etag = st.next_etag();
                let props = body.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
                let c = st.containers.entry(k).or_insert_with(|| Container {
                    id,
                    name,
                    account: acc.name.clone(),
                    created_ms: now_ms(),
                    etag,
                    properties: Map::new(),
                });
                c.properties.extend(props);
                json(if existed { 200 } else { 201 }, &container_body(c))
            }
            Method::DELETE => {
                if st.containers.remove(&k).is_some() {
                    empty(200)
                } else {
                    empty(204)
                }
            }
            _ => method_not_allowed(r),
        }
    }

    fn account_keys(&self, name: &str) -> Result<[String; 2], Response> {
        if let Some((_, k)) = self.config.blob_accounts.iter().find(|(n, _)| n == name) {
            return Ok([k.clone(), k.clone()]);
        }
        if self.config.blob_endpoint.is_some() {
            let known: Vec<&str> = self.config.blob_accounts.iter().map(|(n, _)| n.as_str()).collect();
            return Err(error(
                400,
                "AccountNotInAzurite",
                &format!(
                    "the emulator can only create storage accounts that its Azurite knows (--blob-accounts); '{name}' is not one of: {}",
                    known.join(", ")
                ),
            ));
        }
        let gen = || {
            base64::engine::general_purpose::STANDARD
                .encode([uuid::Uuid::new_v4().into_bytes(), uuid::Uuid::new_v4().into_bytes()].concat())
        };
        Ok([gen(), gen()])
    }

    fn account_body(&self, a: &Account) -> Value {
        account_body_with(a, &self.blob_endpoint_of(&a.name))
    }

    pub fn blob_endpoint_of(&self, account: &str) -> String {
        match &self.config.blob_endpoint {
            Some(e) => format!("{}/{account}/", e.trim_end_matches('/')),
            None => format!("https://{account}.blob.core.windows.net/"),
        }
    }
}

pub fn account_body_with(a: &Account, blob: &str) -> Value {
    let mut props = a.properties.clone();
    props.insert("provisioningState".into(), json!("Succeeded"));
    props.entry("networkAcls").or_insert(
        json!({"bypass": "AzureServices", "defaultAction": "Allow", "ipRules": [], "virtualNetworkRules": [], "resourceAccessRules": []}),
    );
    props.insert("creationTime".into(), json!(rfc3339(a.created_ms)));
    props.insert("primaryLocation".into(), json!(a.location));
    props.insert("statusOfPrimary".into(), json!("available"));
    props.insert("primaryEndpoints".into(), json!({"blob": blob}));
    props.insert(
        "keyCreationTime".into(),
        json!({"key1": rfc3339(a.created_ms), "key2": rfc3339(a.created_ms)}),
    );
    json!({"id": a.id, "name": a.name, "type": "Microsoft.Storage/storageAccounts", "kind": a.kind, "location": a.location,
        "sku": {"name": a.sku, "tier": if a.sku.starts_with("Premium") {"Premium"} else {"Standard"}},
        "tags": a.tags, "properties": props})
}

fn container_body(c: &Container) -> Value {
    let mut props = c.properties.clone();
    props.insert("lastModifiedTime".into(), json!(rfc3339(c.created_ms)));
    props.entry("publicAccess").or_insert(json!("None"));
    props.insert("leaseStatus".into(), json!("Unlocked"));
    props.insert("leaseState".into(), json!("Available"));
    props.insert("hasImmutabilityPolicy".into(), json!(false));
    props.insert("hasLegalHold".into(), json!(false));
    json!({"id": c.id, "name": c.name, "type": "Microsoft.Storage/storageAccounts/blobServices/containers",
        "etag": format!("\"0x{:X}\"", c.etag), "properties": props})
}

/// Fills in what Azure assigns to identities: principal and tenant ids for
/// the system-assigned one, principal and client ids for user-assigned ones
/// (kept from `previous` so they stay stable across updates).
fn complete_identity(mut identity: Value, previous: Option<&Value>) -> Value {
    let new_id = || uuid::Uuid::new_v4().to_string();
    let ty = identity.get("type").and_then(Value::as_str).unwrap_or("None").to_string();
    if ty.contains("SystemAssigned") {
        let principal = previous
            .and_then(|p| p.get("principalId"))
            .cloned()
            .unwrap_or_else(|| json!(new_id()));
        identity["principalId"] = principal;
        identity["tenantId"] = json!(crate::TENANT_ID);
    }
    if let Some(uai) = identity.get_mut("userAssignedIdentities").and_then(Value::as_object_mut) {
        for (arm_id, v) in uai.iter_mut() {
            let old =
                previous.and_then(|p| p.pointer(&format!("/userAssignedIdentities/{}", arm_id.replace('~', "~0").replace('/', "~1"))));
            let client = old.and_then(|o| o.get("clientId")).cloned().unwrap_or_else(|| json!(new_id()));
            let principal = old.and_then(|o| o.get("principalId")).cloned().unwrap_or_else(|| json!(new_id()));
            *v = json!({"principalId": principal, "clientId": client});
        }
    }
    identity
}

/// The protocol and cipher settings Azure reports for a new service.
fn default_custom_properties() -> Value {
    let prefix = "Microsoft.WindowsAzure.ApiManagement.Gateway";
    let mut m = Map::new();
    for k in [
        "Security.Protocols.Tls10",
        "Security.Protocols.Tls11",
        "Security.Protocols.Ssl30",
        "Security.Ciphers.TripleDes168",
        "Security.Backend.Protocols.Tls10",
        "Security.Backend.Protocols.Tls11",
        "Security.Backend.Protocols.Ssl30",
        "Protocols.Server.Http2",
    ] {
        m.insert(format!("{prefix}.{k}"), json!("False"));
    }
    Value::Object(m)
}

fn validation(problems: &[(&str, String)]) -> Response {
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

fn group_not_found(name: &str) -> Response {
    error(
        404,
        "ResourceGroupNotFound",
        &format!("Resource group '{name}' could not be found."),
    )
}

fn service_not_found(name: &str, group: &str) -> Response {
    resource_not_found("Microsoft.ApiManagement/service", name, group)
}

fn resource_not_found(ty: &str, name: &str, group: &str) -> Response {
    error(404, "ResourceNotFound", &format!("The Resource '{ty}/{name}' under resource group '{group}' was not found. For more details please go to https://aka.ms/ARMResourceNotFoundFix"))
}

fn not_found_path(r: &Req) -> Response {
    error(
        404,
        "InvalidResourceType",
        &format!("The resource type could not be found for path '/{}'.", r.segs.join("/")),
    )
}

fn method_not_allowed(r: &Req) -> Response {
    error(
        405,
        "MethodNotAllowed",
        &format!("The requested method {} is not allowed for this resource.", r.method),
    )
}

pub fn is_token_route(r: &Req) -> bool {
    r.is(&["*", "oauth2", "v2.0", "token"])
}
