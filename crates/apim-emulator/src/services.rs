//! APIM services: create (a long-running operation), get, list, update,
//! delete (soft), the deleted services and purge.

use crate::http::{empty, error, json, with_header};
use crate::shared::*;
use crate::state::{key, now_ms, rfc3339, Op, OpKind, Service, State};
use crate::App;
use axum::http::Method;
use axum::response::Response;
use serde_json::{json, Map, Value};

/// Base durations of operations in real Azure, before `--time-scale`.
pub(crate) const SERVICE_CREATE_MS: i64 = 40 * 60 * 1000;

pub(crate) const SERVICE_UPDATE_MS: i64 = 5 * 60 * 1000;

pub(crate) const SERVICE_DELETE_MS: i64 = 10 * 60 * 1000;
/// A purge: a few minutes (not documented; our choice).
pub(crate) const SERVICE_PURGE_MS: i64 = 2 * 60 * 1000;

/// Fills in what Azure assigns to identities: principal and tenant ids for
/// the system-assigned one, principal and client ids for user-assigned ones
/// (kept from `previous` so they stay stable across updates).
pub(crate) fn complete_identity(mut identity: Value, previous: Option<&Value>) -> Value {
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
            // A user-assigned identity is a resource of its own: the same
            // one on two services has the same ids.
            let client = old
                .and_then(|o| o.get("clientId"))
                .cloned()
                .unwrap_or_else(|| json!(id_of(&format!("client {}", arm_id.to_ascii_lowercase()))));
            let principal = old
                .and_then(|o| o.get("principalId"))
                .cloned()
                .unwrap_or_else(|| json!(id_of(&format!("principal {}", arm_id.to_ascii_lowercase()))));
            *v = json!({"principalId": principal, "clientId": client});
        }
    }
    identity
}

/// A stable GUID for a name.
fn id_of(seed: &str) -> String {
    let fnv = |salt: u64| {
        seed.bytes()
            .fold(0xcbf29ce484222325u64 ^ salt, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
    };
    uuid::Uuid::from_u64_pair(fnv(1), fnv(2)).to_string()
}

/// The protocol and cipher settings Azure reports for a new service.
pub(crate) fn default_custom_properties() -> Value {
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

/// Settings the emulator does not act on but keeps as given (a PUT that
/// dropped them would lose a custom domain or a TLS setting); a PATCH
/// changes them in place.
const KEPT_SETTINGS: &[&str] = &[
    "hostnameConfigurations",
    "customProperties",
    "virtualNetworkType",
    "publicNetworkAccess",
    "apiVersionConstraint",
    "virtualNetworkConfiguration",
    "additionalLocations",
];

impl App {
    pub(crate) fn service_body(&self, st: &State, s: &Service, now: i64) -> Value {
        let (state, target) = st.service_states(s, now);
        let n = &s.name;
        let host = format!("{}.azure-api.net", n.to_ascii_lowercase());
        let mut b = json!({
            "id": s.id, "name": s.name, "type": "Microsoft.ApiManagement/service",
            "tags": s.tags, "location": s.location, "etag": etag(s.etag),
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
        for (k, v) in &s.settings {
            if k == "hostnameConfigurations" {
                // The default gateway host stays; custom ones are added to it.
                let mut all = b["properties"][k].as_array().cloned().unwrap_or_default();
                let default_host = all.first().map(|h| h["hostName"].clone()).unwrap_or(Value::Null);
                all.extend(
                    v.as_array()
                        .cloned()
                        .unwrap_or_default()
                        .into_iter()
                        .filter(|h| h["hostName"] != default_host),
                );
                b["properties"][k] = Value::Array(all);
            } else if k == "customProperties" {
                if let (Some(m), Some(given)) = (b["properties"][k].as_object_mut(), v.as_object()) {
                    m.extend(given.clone());
                }
            } else {
                b["properties"][k] = v.clone();
            }
        }
        b
    }

    /// A page of services, with `nextLink` carrying `$skipToken` as ARM's lists do.
    pub(crate) fn list_services(&self, st: &State, r: &Req, keep: impl Fn(&Service) -> bool) -> Response {
        let now = now_ms();
        let page = self.faults.service_page_size.load(std::sync::atomic::Ordering::Relaxed).max(1) as usize;
        let skip: usize = r.query.get("$skiptoken").and_then(|t| t.parse().ok()).unwrap_or(0);
        let matching: Vec<&Service> = st.services.values().filter(|s| keep(s)).collect();
        let value: Vec<Value> = matching
            .iter()
            .skip(skip)
            .take(page)
            .map(|s| self.service_body(st, s, now))
            .collect();
        let next = (skip + page < matching.len()).then(|| {
            let query = url::form_urlencoded::Serializer::new(String::new())
                .append_pair("api-version", r.api_version())
                .append_pair("$skipToken", &(skip + page).to_string())
                .finish();
            format!("{}{}?{query}", self.base_url, r.segs.join("/"))
        });
        let mut body = json!({"value": value});
        if let Some(n) = next {
            body["nextLink"] = json!(n);
        }
        json(200, &body)
    }

    pub(crate) fn service(&self, st: &mut State, r: &Req, sub: &str) -> Response {
        let (group, name) = (r.names.group.clone(), r.names.resource.clone());
        let id = format!("/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.ApiManagement/service/{name}");
        let k = key(&id);
        let now = now_ms();
        match *r.method {
            Method::GET => match st.services.get(&k) {
                Some(s) => json(200, &self.service_body(st, s, now)),
                None => service_not_found(&name, &group),
            },
            Method::PUT => self.put_service(st, r, sub, &group, &name, id),
            // PATCH (Update): tags and publisher details, the settings
            // changed in place; the answer is the service as it now is.
            Method::PATCH => {
                let body = match parse_body(r) {
                    Ok(b) => b,
                    Err(e) => return e,
                };
                let etag = st.next_etag();
                let Some(s) = st.services.get_mut(&k) else {
                    return service_not_found(&name, &group);
                };
                if s.op.is_some() {
                    return conflict_in_progress(&name);
                }
                if let Some(tags) = body.get("tags").and_then(Value::as_object) {
                    s.tags = tags.clone();
                }
                let props = body.get("properties").and_then(Value::as_object);
                if let Some(e) = props.and_then(|p| p.get("publisherEmail")).and_then(Value::as_str) {
                    s.publisher_email = e.to_string();
                }
                if let Some(n) = props.and_then(|p| p.get("publisherName")).and_then(Value::as_str) {
                    s.publisher_name = n.to_string();
                }
                let mut long = false;
                for k in KEPT_SETTINGS {
                    if let Some(v) = props.and_then(|p| p.get(*k)).filter(|v| !v.is_null()) {
                        s.settings.insert(k.to_string(), v.clone());
                        long = true;
                    }
                }
                if let Some(i) = body.get("identity").filter(|i| !i.is_null()) {
                    s.identity = Some(complete_identity(i.clone(), s.identity.as_ref()));
                    long = true;
                }
                s.etag = etag;
                // Settings and identities take Azure minutes: the update is
                // long-running, as the service's PUT is; tags are at once.
                if long {
                    let op = new_op(st, OpKind::ServiceUpdate, &k, scaled(self, SERVICE_UPDATE_MS));
                    if let Some(s) = st.services.get_mut(&k) {
                        s.op = Some(op.id.clone());
                    }
                    return self.lro_service_answer(st, &k, &op, 200, r.api_version());
                }
                let s = s.clone();
                json(200, &self.service_body(st, &s, now))
            }
            Method::DELETE => {
                let Some(s) = st.services.get(&k) else { return empty(204) };
                if s.op.is_some() {
                    return conflict_in_progress(&name);
                }
                let op = new_op(st, OpKind::ServiceDelete, &k, scaled(self, SERVICE_DELETE_MS));
                let etag = st.next_etag();
                let Some(s) = st.services.get_mut(&k) else { return empty(204) };
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

    pub(crate) fn put_service(&self, st: &mut State, r: &Req, sub: &str, group: &str, name: &str, id: String) -> Response {
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
        // Settings the emulator does not act on but keeps as given, as a PUT
        // that dropped them would lose a custom domain or a TLS setting.
        let kept: serde_json::Map<String, Value> = KEPT_SETTINGS
            .iter()
            .filter_map(|k| props.get(*k).filter(|v| !v.is_null()).map(|v| (k.to_string(), v.clone())))
            .collect();
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
            s.settings.extend(kept);
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
            config: Default::default(),
            settings: kept,
        };
        let op = new_op(st, OpKind::ServiceCreate, &k, scaled(self, SERVICE_CREATE_MS));
        let mut s = s;
        s.op = Some(op.id.clone());
        st.services.insert(k.clone(), s);
        self.lro_service_answer(st, &k, &op, 201, r.api_version())
    }

    /// 201/200 with the service body and both status headers, as the create example shows.
    pub(crate) fn lro_service_answer(&self, st: &mut State, k: &str, op: &Op, status: u16, api_version: &str) -> Response {
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

    pub(crate) fn deleted_body(&self, d: &crate::state::DeletedService) -> Value {
        let s = &d.service;
        json!({
            "id": format!("/subscriptions/{}/providers/Microsoft.ApiManagement/locations/{}/deletedservices/{}", s.subscription, key(&s.location).replace(' ', ""), s.name),
            "name": s.name, "type": "Microsoft.ApiManagement/deletedservices", "location": s.location,
            "properties": {"serviceId": s.id, "scheduledPurgeDate": rfc3339(d.deleted_ms + crate::state::SOFT_DELETE_MS), "deletionDate": rfc3339(d.deleted_ms)}
        })
    }

    pub(crate) fn list_deleted(&self, st: &State, sub: &str) -> Response {
        let value: Vec<Value> = st
            .deleted
            .values()
            .filter(|d| key(&d.service.subscription) == key(sub))
            .map(|d| self.deleted_body(d))
            .collect();
        json(200, &json!({"value": value}))
    }

    pub(crate) fn deleted_service(&self, st: &mut State, r: &Req, sub: &str, name: &str) -> Response {
        // Deleted services are kept by location: another location's path
        // does not find one, as in Azure.
        let place = |l: &str| key(l).replace(' ', "");
        let found = st
            .deleted
            .get(name)
            .filter(|d| key(&d.service.subscription) == key(sub) && place(&d.service.location) == place(&r.names.location));
        let Some(d) = found else {
            return error(404, "ResourceNotFound", &format!("Deleted service '{name}' was not found."));
        };
        match *r.method {
            Method::GET => json(200, &self.deleted_body(d)),
            // A purge is long-running: 202 and where to poll; the service
            // stays listed as deleted until it ends.
            Method::DELETE => {
                let b = self.deleted_body(d);
                let op = new_op(st, OpKind::ServicePurge, name, scaled(self, SERVICE_PURGE_MS));
                let loc = format!(
                    "{}subscriptions/{sub}/providers/Microsoft.ApiManagement/locations/{}/operationresults/{}?api-version={}",
                    self.base_url,
                    r.names.location,
                    op.id,
                    r.api_version()
                );
                let now = now_ms();
                with_header(with_header(json(202, &b), "location", &loc), "retry-after", &retry_after(&op, now))
            }
            _ => method_not_allowed(r),
        }
    }
}
