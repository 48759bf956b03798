//! What a service holds (named values, APIs, products) and the operations
//! that copy it: backup and restore, which really write and read a blob in
//! Azurite.

use crate::arm::Req;
use crate::arm::{conflict_in_progress as conflict, retry_after};
use crate::http::{error, json, with_header};
use crate::state::{key, now_ms, rfc3339, OpKind, Service, State};
use crate::App;
use axum::http::Method;
use axum::response::Response;
use base64::Engine;
use serde_json::{json, Map, Value};

/// Items per page of a list, as APIM pages named values.
const PAGE_SIZE: usize = 100;

fn precondition_failed(id: &str) -> Response {
    error(
        412,
        "PreconditionFailed",
        &format!("The entity '{id}' was modified since it was read: its ETag does not match If-Match."),
    )
}

/// One clause of a `$filter` over named values.
#[derive(Debug, Default)]
struct Clause {
    field: String,
    op: String,
    value: String,
}

impl Clause {
    fn matches(&self, item: &Value) -> bool {
        if self.field == "tags" {
            let tags = item.pointer("/properties/tags").and_then(Value::as_array);
            return tags.is_some_and(|t| t.iter().any(|t| t.as_str().is_some_and(|t| t.eq_ignore_ascii_case(&self.value))));
        }
        let field = item
            .pointer(&format!("/properties/{}", self.field))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        let v = self.value.to_ascii_lowercase();
        match self.op.as_str() {
            "eq" => field == v,
            "ne" => field != v,
            "startswith" => field.starts_with(&v),
            "endswith" => field.ends_with(&v),
            _ => field.contains(&v),
        }
    }
}

/// The `$filter` forms APIM documents for named values: `eq`/`ne` on
/// displayName, `startswith`, `endswith`, `contains`, `substringof`, and
/// `tags/any(t: t eq 'x')`, joined by `and`.
fn parse_filter(f: &str) -> Result<Vec<Clause>, Response> {
    let bad = || error(400, "ValidationError", &format!("Invalid filter clause specified: '{f}'."));
    let field_of = |s: &str| -> Option<String> {
        let s = s.trim();
        let s = s.strip_prefix("properties/").unwrap_or(s);
        (s == "displayName" || s == "value").then(|| s.to_string())
    };
    let quoted = |s: &str| -> Option<String> { s.trim().strip_prefix('\'')?.strip_suffix('\'').map(|v| v.replace("''", "'")) };
    split_unquoted(f, " and ")
        .into_iter()
        .map(|c| {
            let c = c.trim();
            if let Some(inner) = c.strip_prefix("tags/any(").and_then(|r| r.strip_suffix(')')) {
                let (_, cond) = inner.split_once(':').ok_or_else(bad)?;
                let (_, v) = cond.split_once(" eq ").ok_or_else(bad)?;
                return Ok(Clause {
                    field: "tags".into(),
                    op: "eq".into(),
                    value: quoted(v).ok_or_else(bad)?,
                });
            }
            for func in ["startswith", "endswith", "contains", "substringof"] {
                if let Some(args) = c.strip_prefix(&format!("{func}(")).and_then(|r| r.strip_suffix(')')) {
                    let [a, b] = split_unquoted(args, ",")[..] else {
                        return Err(bad());
                    };
                    let (field, value) = if func == "substringof" { (b, a) } else { (a, b) };
                    return Ok(Clause {
                        field: field_of(field).ok_or_else(bad)?,
                        op: func.into(),
                        value: quoted(value).ok_or_else(bad)?,
                    });
                }
            }
            for op in ["eq", "ne"] {
                if let Some((a, b)) = c.split_once(&format!(" {op} ")) {
                    return Ok(Clause {
                        field: field_of(a).ok_or_else(bad)?,
                        op: op.into(),
                        value: quoted(b).ok_or_else(bad)?,
                    });
                }
            }
            Err(bad())
        })
        .collect()
}

/// `s` cut at every `sep` that is not inside a '…' literal (OData doubles a
/// quote inside one, which toggling twice handles).
fn split_unquoted<'a>(s: &'a str, sep: &str) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    let mut i = 0;
    while i < s.len() {
        if s.as_bytes()[i] == b'\'' {
            quoted = !quoted;
        } else if !quoted && s.as_bytes()[i..].starts_with(sep.as_bytes()) {
            parts.push(&s[start..i]);
            i += sep.len();
            start = i;
            continue;
        }
        i += 1;
    }
    parts.push(&s[start..]);
    parts
}

/// Base durations in real Azure: "several minutes" and "30 or more minutes".
const BACKUP_MS: i64 = 10 * 60 * 1000;
const RESTORE_MS: i64 = 45 * 60 * 1000;
/// Backups older than this cannot be restored.
const BACKUP_MAX_AGE_MS: i64 = 30 * 24 * 3600 * 1000;
pub const BACKUP_FORMAT: &str = "apim-emulator-backup";

/// The collection a path segment names, with its ARM type and canonical name.
fn collection(segment: &str) -> Option<(&'static str, &'static str)> {
    match segment {
        "namedvalues" => Some(("namedValues", "Microsoft.ApiManagement/service/namedValues")),
        "apis" => Some(("apis", "Microsoft.ApiManagement/service/apis")),
        "products" => Some(("products", "Microsoft.ApiManagement/service/products")),
        _ => None,
    }
}

fn service_key(r: &Req, sub: &str) -> String {
    key(&format!(
        "/subscriptions/{sub}/resourceGroups/{}/providers/Microsoft.ApiManagement/service/{}",
        r.segs[3], r.segs[7]
    ))
}

fn child_body(service_id: &str, coll: &str, ty: &str, id: &str, item: &Value, reveal: bool) -> Value {
    let mut props = item.get("properties").cloned().unwrap_or_else(|| json!({}));
    if !reveal && props.get("secret").and_then(Value::as_bool) == Some(true) {
        if let Some(p) = props.as_object_mut() {
            p.remove("value");
        }
    }
    json!({"id": format!("{service_id}/{coll}/{id}"), "type": ty, "name": id, "properties": props})
}

fn etag_of(item: &Value) -> String {
    format!(
        "\"{}\"",
        base64::engine::general_purpose::STANDARD.encode(item.get("etag").and_then(Value::as_u64).unwrap_or(0).to_be_bytes())
    )
}

fn valid_named_value(props: &Map<String, Value>) -> Result<(), Response> {
    let name = props.get("displayName").and_then(Value::as_str).unwrap_or("");
    if name.is_empty() || name.len() > 256 || !name.chars().all(|c| c.is_ascii_alphanumeric() || "-._".contains(c)) {
        return Err(error(
            400,
            "ValidationError",
            "'displayName' is required and may contain only letters, digits, '-', '.' and '_' (1-256 characters).",
        ));
    }
    let has_kv = props.get("keyVault").is_some_and(|k| !k.is_null());
    match props.get("value").and_then(Value::as_str) {
        Some(v) if v.trim().is_empty() && !has_kv => Err(error(400, "ValidationError", "'value' must not be empty or whitespace.")),
        Some(v) if v.chars().count() > 4096 => Err(error(400, "ValidationError", "'value' must be at most 4096 characters long.")),
        None if !has_kv => Err(error(400, "ValidationError", "'value' is required.")),
        _ => Ok(()),
    }
}

impl App {
    pub(crate) fn list_children(&self, st: &State, r: &Req, sub: &str) -> Response {
        let Some(s) = st.services.get(&service_key(r, sub)) else {
            return error(404, "ResourceNotFound", &format!("Service '{}' was not found.", r.segs[7]));
        };
        let Some((coll, ty)) = collection(&r.lower[8]) else {
            return error(404, "NotFound", "unknown collection");
        };
        let filter = match r.query.get("$filter").map(|f| parse_filter(f)).transpose() {
            Ok(f) => f.unwrap_or_default(),
            Err(e) => return e,
        };
        let number = |k: &str, min: usize| -> Result<Option<usize>, Response> {
            match r.query.get(k) {
                None => Ok(None),
                Some(v) => v
                    .parse::<usize>()
                    .ok()
                    .filter(|n| *n >= min)
                    .map(Some)
                    .ok_or_else(|| error(400, "ValidationError", &format!("'{k}' must be an integer >= {min}."))),
            }
        };
        let (top, skip) = match (number("$top", 1), number("$skip", 0)) {
            (Ok(t), Ok(s)) => (t, s.unwrap_or(0)),
            (Err(e), _) | (_, Err(e)) => return e,
        };
        let mut all: Vec<(&String, &Value)> = s
            .config
            .get(coll)
            .and_then(Value::as_object)
            .map(|m| m.iter().filter(|(_, item)| filter.iter().all(|c| c.matches(item))).collect())
            .unwrap_or_default();
        all.sort_by(|a, b| a.0.cmp(b.0));
        let total = all.len();
        let want = top.unwrap_or(usize::MAX);
        let page: Vec<Value> = all
            .iter()
            .skip(skip)
            .take(want.min(PAGE_SIZE))
            .map(|(id, item)| child_body(&s.id, coll, ty, id, item, false))
            .collect();
        let shown = skip + page.len();
        let more = shown < total && want > page.len();
        let next = more.then(|| {
            let mut q: Vec<(String, String)> = r
                .query
                .iter()
                .filter(|(k, _)| *k != "$skip" && *k != "$top")
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            q.push(("$skip".into(), shown.to_string()));
            if let Some(t) = top {
                q.push(("$top".into(), (t - page.len()).to_string()));
            }
            q.sort();
            let query = url::form_urlencoded::Serializer::new(String::new()).extend_pairs(q).finish();
            format!("{}{}/{coll}?{query}", self.base_url, &s.id[1..])
        });
        json(200, &json!({"value": page, "count": total, "nextLink": next}))
    }

    pub(crate) fn child(&self, st: &mut State, r: &Req, sub: &str) -> Response {
        let sk = service_key(r, sub);
        let Some((coll, ty)) = collection(&r.lower[8]) else {
            return error(404, "NotFound", "unknown collection");
        };
        let id = r.segs[9].clone();
        let etag = st.next_etag();
        let Some(s) = st.services.get_mut(&sk) else {
            return error(404, "ResourceNotFound", &format!("Service '{}' was not found.", r.segs[7]));
        };
        let sid = s.id.clone();
        let items = s.config.entry(coll).or_insert_with(|| json!({}));
        let Some(items) = items.as_object_mut() else {
            return error(500, "InternalError", "corrupt configuration");
        };
        match *r.method {
            Method::GET | Method::HEAD => match items.get(&id) {
                Some(item) => {
                    let e = etag_of(item);
                    let body = child_body(&sid, coll, ty, &id, item, false);
                    with_header(json(200, &body), "etag", &e)
                }
                None => error(404, "ResourceNotFound", &format!("{coll} entity '{id}' was not found.")),
            },
            Method::PUT | Method::PATCH => {
                let if_match = r.headers.get("if-match").and_then(|v| v.to_str().ok());
                let current = items.get(&id);
                if *r.method == Method::PATCH && if_match.is_none() {
                    return error(
                        400,
                        "ValidationError",
                        "The 'If-Match' header is required for this operation; pass the entity's ETag or '*'.",
                    );
                }
                if *r.method == Method::PATCH && current.is_none() {
                    return error(404, "ResourceNotFound", &format!("{coll} entity '{id}' was not found."));
                }
                if let (Some(m), Some(cur)) = (if_match, current) {
                    if m != "*" && m != etag_of(cur) {
                        return precondition_failed(&id);
                    }
                }
                let body: Value = match serde_json::from_slice(r.body) {
                    Ok(v) => v,
                    Err(e) => {
                        return error(
                            400,
                            "InvalidRequestContent",
                            &format!("The request content was invalid and could not be deserialized: '{e}'."),
                        )
                    }
                };
                let mut props = body.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
                if *r.method == Method::PATCH {
                    let mut merged = current
                        .and_then(|c| c.get("properties"))
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default();
                    merged.extend(props);
                    props = merged;
                }
                if let Some(kv) = props.get_mut("keyVault").and_then(Value::as_object_mut) {
                    kv.insert("lastStatus".into(), json!({"code": "Success", "timeStampUtc": rfc3339(now_ms())}));
                }
                if coll == "namedValues" {
                    if let Err(e) = valid_named_value(&props) {
                        return e;
                    }
                } else if props.get("displayName").and_then(Value::as_str).is_none_or(str::is_empty) {
                    return error(400, "ValidationError", "'displayName' is required.");
                }
                let existed = items.contains_key(&id);
                let item = json!({"properties": props, "etag": etag});
                let e = etag_of(&item);
                items.insert(id.clone(), item.clone());
                let mut body = child_body(&sid, coll, ty, &id, &item, false);
                let code = if existed { 200 } else { 201 };
                if coll != "namedValues" {
                    return with_header(json(code, &body), "etag", &e);
                }
                // Named value writes are long-running in this api-version: the
                // answer says InProgress and names where to poll, as the examples do.
                body["properties"]["provisioningState"] = json!("InProgress");
                let async_id = format!("{:024x}", etag);
                let location = format!(
                    "{}{}/namedValues/{id}?api-version={}&asyncId={async_id}&asyncCode={code}",
                    self.base_url,
                    &sid[1..],
                    r.api_version()
                );
                let aao = format!(
                    "{}{}/tenant/operationResults/{async_id}?api-version={}",
                    self.base_url,
                    &sid[1..],
                    r.api_version()
                );
                let resp = with_header(json(code, &body), "etag", &e);
                with_header(with_header(resp, "location", &location), "azure-asyncoperation", &aao)
            }
            Method::DELETE => {
                match (r.headers.get("if-match").and_then(|v| v.to_str().ok()), items.get(&id)) {
                    (None, Some(_)) if coll == "namedValues" => {
                        return error(
                            400,
                            "ValidationError",
                            "The 'If-Match' header is required for this operation; pass the entity's ETag or '*'.",
                        )
                    }
                    (Some(m), Some(cur)) if m != "*" && m != etag_of(cur) => return precondition_failed(&id),
                    _ => {}
                }
                if items.remove(&id).is_some() {
                    crate::http::empty(200)
                } else {
                    crate::http::empty(204)
                }
            }
            _ => error(405, "MethodNotAllowed", "method not allowed"),
        }
    }

    /// GET …/tenant/operationResults/{id}: named value writes finish at once here.
    pub(crate) fn tenant_operation(&self, r: &Req) -> Response {
        json(
            200,
            &json!({"id": r.segs[10], "name": r.segs[10], "status": "Succeeded", "startTime": rfc3339(now_ms()), "endTime": rfc3339(now_ms())}),
        )
    }

    /// POST …/namedValues/{id}/refreshSecret: re-reads a Key Vault secret.
    pub(crate) fn refresh_secret(&self, st: &mut State, r: &Req, sub: &str) -> Response {
        let etag = st.next_etag();
        let Some(s) = st.services.get_mut(&service_key(r, sub)) else {
            return error(404, "ResourceNotFound", &format!("Service '{}' was not found.", r.segs[7]));
        };
        let sid = s.id.clone();
        let item = s.config.get_mut("namedValues").and_then(|m| m.get_mut(&r.segs[9]));
        let Some(item) = item else {
            return error(
                404,
                "ResourceNotFound",
                &format!("namedValues entity '{}' was not found.", r.segs[9]),
            );
        };
        let Some(kv) = item.pointer_mut("/properties/keyVault").and_then(Value::as_object_mut) else {
            return error(400, "ValidationError", "The named value is not a Key Vault reference.");
        };
        kv.insert("lastStatus".into(), json!({"code": "Success", "timeStampUtc": rfc3339(now_ms())}));
        item["etag"] = json!(etag);
        let body = child_body(
            &sid,
            "namedValues",
            "Microsoft.ApiManagement/service/namedValues",
            &r.segs[9],
            item,
            false,
        );
        with_header(json(200, &body), "etag", &etag_of(item))
    }

    pub(crate) fn list_value(&self, st: &State, r: &Req, sub: &str) -> Response {
        let item = st
            .services
            .get(&service_key(r, sub))
            .and_then(|s| s.config.get("namedValues"))
            .and_then(|m| m.get(&r.segs[9]));
        match item {
            Some(item) => with_header(
                json(
                    200,
                    &json!({"value": item.pointer("/properties/value").cloned().unwrap_or(Value::Null)}),
                ),
                "etag",
                &etag_of(item),
            ),
            None => error(
                404,
                "ResourceNotFound",
                &format!("namedValues entity '{}' was not found.", r.segs[9]),
            ),
        }
    }

    /// POST …/backup and …/restore.
    pub(crate) async fn backup_or_restore(&self, r: &Req<'_>, restore: bool) -> Response {
        let sub = r.segs[1].clone();
        let sk = service_key(r, &sub);
        // 1. Check everything that fails at once, under the lock, and take what we need.
        let checked = {
            let mut st = self.lock();
            st.settle(now_ms());
            self.check_backup_restore(&st, r, &sk, restore)
        };
        let (params, service) = match checked {
            Ok(v) => v,
            Err(resp) => return resp,
        };
        // 2. The storage I/O, without the lock.
        let outcome = self.storage_io(&params, &service, restore).await;
        // 3. Record the operation.
        let mut st = self.lock();
        st.settle(now_ms());
        if st.services.get(&sk).is_none_or(|s| s.op.is_some()) {
            return conflict(&service.name);
        }
        let kind = if restore { OpKind::ServiceRestore } else { OpKind::ServiceBackup };
        let duration = crate::arm::scaled(self, if restore { RESTORE_MS } else { BACKUP_MS });
        let mut op = crate::arm::new_op(&mut st, kind, &sk, duration);
        match outcome {
            Ok(payload) => op.payload = payload,
            Err(e) => op.error = Some(e),
        }
        st.ops.insert(op.id.clone(), op.clone());
        let etag = st.next_etag();
        if let Some(s) = st.services.get_mut(&sk) {
            s.op = Some(op.id.clone());
            s.etag = etag;
        }
        let loc = format!(
            "{}{}/operationresults/{}?api-version={}",
            self.base_url,
            &service.id[1..],
            op.id,
            r.api_version()
        );
        let now = now_ms();
        st.settle(now);
        with_header(
            with_header(crate::http::empty(202), "location", &loc),
            "retry-after",
            &retry_after(&op, now),
        )
    }

    fn check_backup_restore(&self, st: &State, r: &Req, sk: &str, restore: bool) -> Result<(Map<String, Value>, Service), Response> {
        let Some(s) = st.services.get(sk) else {
            return Err(error(
                404,
                "ResourceNotFound",
                &format!(
                    "The Resource 'Microsoft.ApiManagement/service/{}' under resource group '{}' was not found.",
                    r.segs[7], r.segs[3]
                ),
            ));
        };
        if !apim_rules::can_back_up(&s.sku_name) {
            return Err(error(
                400,
                "MethodNotAllowedInPricingTier",
                &format!("Method not allowed in {} pricing tier", s.sku_name),
            ));
        }
        if s.op.is_some() {
            return Err(conflict(&s.name));
        }
        let params: Map<String, Value> = match serde_json::from_slice(r.body) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Err(error(
                    400,
                    "InvalidRequestContent",
                    "The request content was invalid and could not be deserialized.",
                ))
            }
        };
        let missing: Vec<&str> = ["storageAccount", "containerName", "backupName"]
            .into_iter()
            .filter(|k| params.get(*k).and_then(Value::as_str).is_none_or(str::is_empty))
            .collect();
        if !missing.is_empty() {
            return Err(error(400, "ValidationError", &format!("'{}' is required.", missing.join("', '"))));
        }
        let access = params.get("accessType").and_then(Value::as_str).unwrap_or("AccessKey");
        let identity_type = s
            .identity
            .as_ref()
            .and_then(|i| i.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("None");
        match access {
            "AccessKey" if params.get("accessKey").and_then(Value::as_str).is_none_or(str::is_empty) => {
                return Err(error(
                    400,
                    "InvalidParameters",
                    "'accessKey' is required when accessType is AccessKey.",
                ));
            }
            "AccessKey" => {}
            "SystemAssignedManagedIdentity" if !identity_type.contains("SystemAssigned") => {
                return Err(error(
                    400,
                    "InvalidParameters",
                    "System assigned managed identity is not enabled on the service; enable it or use another accessType.",
                ));
            }
            "SystemAssignedManagedIdentity" => {}
            "UserAssignedManagedIdentity" => {
                let client = params.get("clientId").and_then(Value::as_str).unwrap_or("");
                let known = s
                    .identity
                    .as_ref()
                    .and_then(|i| i.get("userAssignedIdentities"))
                    .and_then(Value::as_object)
                    .is_some_and(|m| {
                        m.values().any(|v| {
                            v.get("clientId")
                                .and_then(Value::as_str)
                                .is_some_and(|c| c.eq_ignore_ascii_case(client))
                        })
                    });
                if client.is_empty() || !known {
                    return Err(error(
                        400,
                        "InvalidParameters",
                        &format!("User assigned identity with client id '{client}' is not assigned to the service."),
                    ));
                }
            }
            other => {
                return Err(error(
                    400,
                    "InvalidParameters",
                    &format!("Unknown accessType '{other}'. Use AccessKey, SystemAssignedManagedIdentity or UserAssignedManagedIdentity."),
                ))
            }
        }
        let _ = restore;
        Ok((params, s.clone()))
    }

    /// Writes (backup) or reads (restore) the blob. Errors become the
    /// operation's failure, as Azure reports them: after the 202.
    async fn storage_io(&self, p: &Map<String, Value>, s: &Service, restore: bool) -> Result<Option<Value>, (u16, String, String)> {
        let fail = |code: &str, msg: String| (400u16, code.to_string(), msg);
        let account = p["storageAccount"].as_str().unwrap_or_default();
        let container = p["containerName"].as_str().unwrap_or_default();
        let blob = p["backupName"].as_str().unwrap_or_default();
        if self.config.blob_endpoint.is_none() {
            return Err(fail(
                "InvalidParameters",
                "the emulator has no blob storage (start it with --blob-endpoint)".into(),
            ));
        }
        // Managed identities are granted access by role; Azurite knows keys only, so the emulator uses the account's key for them.
        let key = match p.get("accessType").and_then(Value::as_str).unwrap_or("AccessKey") {
            "AccessKey" => p.get("accessKey").and_then(Value::as_str).unwrap_or_default().to_string(),
            _ => match self.config.blob_accounts.iter().find(|(n, _)| n == account) {
                Some((_, k)) => k.clone(),
                None => return Err(fail("InvalidParameters", format!("Storage account '{account}' was not found."))),
            },
        };
        let client = blob_store::BlobClient::new(
            self.http.clone(),
            &self.blob_endpoint_of(account),
            account,
            blob_store::BlobAuth::SharedKey { key },
        )
        .map_err(|e| fail("InvalidParameters", e.to_string()))?;
        let storage_error = |e: blob_store::BlobError| match e {
            blob_store::BlobError::Service { status: 403, .. } => fail(
                "InvalidParameters",
                format!("Access to storage account '{account}' was denied: the access key or identity is not authorized."),
            ),
            blob_store::BlobError::Service { code, .. } if code == "ContainerNotFound" => fail(
                "InvalidParameters",
                format!("The container '{container}' does not exist in storage account '{account}'."),
            ),
            other => (500, "InternalError".to_string(), format!("Storage failure: {other}")),
        };
        if !restore {
            let body = json!({"format": BACKUP_FORMAT, "version": 1, "backedUpAt": rfc3339(now_ms()), "backedUpAtMs": now_ms(),
                "service": {"id": s.id, "name": s.name, "sku": {"name": s.sku_name, "capacity": s.capacity}, "location": s.location},
                "config": s.config});
            client
                .put_blob(container, blob, body.to_string().into_bytes(), "application/octet-stream", true)
                .await
                .map_err(storage_error)?;
            return Ok(None);
        }
        let bytes = client.get_blob(container, blob).await.map_err(storage_error)?;
        let Some(bytes) = bytes else {
            return Err(fail(
                "InvalidParameters",
                format!("The backup blob '{blob}' was not found in container '{container}' of storage account '{account}'."),
            ));
        };
        let backup: Value = serde_json::from_slice(&bytes)
            .ok()
            .filter(|v: &Value| v.get("format").and_then(Value::as_str) == Some(BACKUP_FORMAT))
            .ok_or_else(|| fail("InvalidParameters", format!("The blob '{blob}' is not an API Management backup.")))?;
        if backup
            .get("backedUpAtMs")
            .and_then(Value::as_i64)
            .is_some_and(|t| now_ms() - t > BACKUP_MAX_AGE_MS)
        {
            return Err(fail("InvalidParameters", "Cannot restore: backup expired".into()));
        }
        let src_sku = backup.pointer("/service/sku/name").and_then(Value::as_str).unwrap_or("");
        if !src_sku.eq_ignore_ascii_case(&s.sku_name) {
            return Err(fail(
                "InvalidParameters",
                format!(
                    "Cannot restore a backup of a {src_sku} service onto a {} service: the tiers must match.",
                    s.sku_name
                ),
            ));
        }
        Ok(Some(backup.get("config").cloned().unwrap_or_else(|| json!({}))))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_honours_quotes() {
        let c = parse_filter("displayName eq 'salt and pepper'").unwrap();
        assert_eq!((c.len(), c[0].value.as_str()), (1, "salt and pepper"));
        let c = parse_filter("substringof('a,b and c',displayName) and tags/any(t: t eq 'x')").unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].field.as_str(), c[0].value.as_str()), ("displayName", "a,b and c"));
        let c = parse_filter("displayName eq 'it''s and é'").unwrap();
        assert_eq!(c[0].value, "it's and é");
        assert!(parse_filter("displayName eq 'open").is_err());
    }
}
