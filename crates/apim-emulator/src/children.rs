//! What a service holds (named values, APIs, products): lists with
//! paging and `$filter`, get, PUT/PATCH/DELETE with ETags and If-Match,
//! and the named value actions (listValue, refreshSecret).

use crate::http::{error, json, with_header};
use crate::odata::parse_filter;
use crate::shared::*;
use crate::state::{key, now_ms, rfc3339, State};
use crate::App;
use axum::http::Method;
use axum::response::Response;
use serde_json::{json, Map, Value};

/// Items per page of a list, as APIM pages named values.
pub(crate) const PAGE_SIZE: usize = 100;

/// The collection a path segment names, with its ARM type and canonical name.
pub(crate) fn collection(segment: &str) -> Option<(&'static str, &'static str)> {
    match segment {
        "namedvalues" => Some(("namedValues", "Microsoft.ApiManagement/service/namedValues")),
        "apis" => Some(("apis", "Microsoft.ApiManagement/service/apis")),
        "products" => Some(("products", "Microsoft.ApiManagement/service/products")),
        _ => None,
    }
}

pub(crate) fn service_key(r: &Req, sub: &str) -> String {
    key(&format!(
        "/subscriptions/{sub}/resourceGroups/{}/providers/Microsoft.ApiManagement/service/{}",
        r.segs[3], r.segs[7]
    ))
}

pub(crate) fn child_body(service_id: &str, coll: &str, ty: &str, id: &str, item: &Value, reveal: bool) -> Value {
    let mut props = item.get("properties").cloned().unwrap_or_else(|| json!({}));
    if !reveal && props.get("secret").and_then(Value::as_bool) == Some(true) {
        if let Some(p) = props.as_object_mut() {
            p.remove("value");
        }
    }
    json!({"id": format!("{service_id}/{coll}/{id}"), "type": ty, "name": id, "properties": props})
}

pub(crate) fn valid_named_value(props: &Map<String, Value>) -> Result<(), Response> {
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
                    let e = etag_header(item);
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
                    if m != "*" && m != etag_header(cur) {
                        return precondition_failed(&id);
                    }
                }
                // If-None-Match: * creates only: an existing entity is left alone.
                let create_only = r.headers.get("if-none-match").and_then(|v| v.to_str().ok()) == Some("*");
                if create_only && current.is_some() {
                    return precondition_failed(&id);
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
                let e = etag_header(&item);
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
                    (Some(m), Some(cur)) if m != "*" && m != etag_header(cur) => return precondition_failed(&id),
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
        with_header(json(200, &body), "etag", &etag_header(item))
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
                &etag_header(item),
            ),
            None => error(
                404,
                "ResourceNotFound",
                &format!("namedValues entity '{}' was not found.", r.segs[9]),
            ),
        }
    }
}
