//! The registry of the families a service holds, and the one handler that
//! answers any path of theirs. No family module imports it: the families
//! know only the shared entity core (`entities`), so the list that names
//! them all lives here, above them.

use crate::entities::{body, hidden_values, members, relative_to, service_key, Family, Path, Prepare, Tree, PAGE_SIZE};
use crate::http::{error, json, with_header};
use crate::odata::parse_filter;
use crate::shared::*;
use crate::state::{key, State};
use crate::App;
use crate::{apis, gateways, loggers, namedvalues, people, policies, portal, products, security, tags};
use axum::http::Method;
use axum::response::Response;
use serde_json::{json, Value};

/// The collections directly under a service.
pub(crate) static TOP: &[&Family] = &[
    &namedvalues::NAMED_VALUES,
    &apis::APIS,
    &apis::VERSION_SETS,
    &products::PRODUCTS,
    &policies::POLICIES,
    &loggers::BACKENDS,
    &loggers::LOGGERS,
    &loggers::DIAGNOSTICS,
    &tags::TAGS,
    &people::USERS,
    &people::GROUPS,
    &people::SUBSCRIPTIONS,
    &security::CERTIFICATES,
    &policies::POLICY_FRAGMENTS,
    &security::AUTHORIZATION_SERVERS,
    &security::IDENTITY_PROVIDERS,
    &security::OPENID_PROVIDERS,
    &gateways::GATEWAYS,
    &apis::GLOBAL_SCHEMAS,
    &portal::DOCUMENTATIONS,
    &security::CACHES,
    &portal::PORTAL_SETTINGS,
    &portal::NOTIFICATIONS,
    &portal::TEMPLATES,
    &security::AUTHORIZATION_PROVIDERS,
    &security::POLICY_RESTRICTIONS,
    &portal::CONTENT_TYPES,
];

/// Whether a backup carries the entity at this tree key (Microsoft's
/// backup article: developer portal content is not backed up).
pub(crate) fn backed_up(tree_key: &str) -> bool {
    let first = tree_key.split('/').next().unwrap_or_default();
    TOP.iter().find(|f| f.name.eq_ignore_ascii_case(first)).is_none_or(|f| f.in_backup)
}

impl App {
    /// Any request under `service/{name}/…` that a family answers.
    pub(crate) fn entity(&self, st: &mut State, r: &Req, sub: &str) -> Response {
        let Some(path) = Path::parse(TOP, &r.names.below) else {
            return not_found_path(r);
        };
        let sk = service_key(r, sub);
        let etag = st.next_etag();
        let Some(s) = st.services.get_mut(&sk) else {
            return error(404, "ResourceNotFound", &format!("Service '{}' was not found.", r.names.resource));
        };
        let sid = s.id.clone();
        let vault = crate::extensions::VaultAccess {
            roles: &st.roles,
            identity: s.identity.as_ref(),
        };
        if path.is_collection() {
            return match *r.method {
                Method::GET => self.list(&sid, &s.config, r, &path),
                _ => method_not_allowed(r),
            };
        }
        let tree = &mut s.config;
        let k = path.key();
        let fam = path.family();
        let id = path.id().to_string();
        let not_found = || error(404, "ResourceNotFound", &format!("{} entity '{id}' was not found.", fam.name));
        match *r.method {
            Method::GET | Method::HEAD => match tree.get(&k) {
                Some(item) => {
                    let b = body(&sid, tree, &path.display(), &path, item);
                    with_header(json(200, &b), "etag", &etag_header(item))
                }
                None => not_found(),
            },
            Method::PUT | Method::PATCH => {
                if let Some(parent) = path.parent_key() {
                    if !tree.contains_key(&parent) {
                        return error(404, "ResourceNotFound", "The parent entity was not found.");
                    }
                }
                let if_match = r.headers.get("if-match").and_then(|v| v.to_str().ok());
                let current = tree.get(&k);
                if *r.method == Method::PATCH {
                    if if_match.is_none() {
                        return error(
                            400,
                            "ValidationError",
                            "The 'If-Match' header is required for this operation; pass the entity's ETag or '*'.",
                        );
                    }
                    if current.is_none() {
                        return not_found();
                    }
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
                let existed = current.is_some();
                let item = if fam.link {
                    if !tree.contains_key(&key(&format!("{}/{id}", fam.name))) {
                        return error(404, "ResourceNotFound", &format!("{} entity '{id}' was not found.", fam.name));
                    }
                    json!({"name": id, "link": true, "etag": etag})
                } else {
                    // Notifications and their recipients are written without a body.
                    let body: Value = if r.body.is_empty() {
                        json!({})
                    } else {
                        match serde_json::from_slice(r.body) {
                            Ok(v) => v,
                            Err(e) => {
                                return error(
                                    400,
                                    "InvalidRequestContent",
                                    &format!("The request content was invalid and could not be deserialized: '{e}'."),
                                )
                            }
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
                    // Ids inside this service are kept relative to it, so
                    // a restored copy points at its own entities.
                    for field in fam.ids_in {
                        if let Some(Value::String(v)) = props.get_mut(*field) {
                            if let Some(rel) = relative_to(&sid, v) {
                                *v = rel;
                            }
                        }
                    }
                    let mut prep = Prepare {
                        id: &id,
                        props: &mut props,
                        tree,
                        also: Vec::new(),
                        etag,
                        vault: &vault,
                    };
                    if let Err(e) = (fam.prepare)(&mut prep) {
                        return e;
                    }
                    let also = std::mem::take(&mut prep.also);
                    for (k, v) in also {
                        tree.insert(k, v);
                    }
                    json!({"name": id, "properties": props, "etag": etag})
                };
                let e = etag_header(&item);
                tree.insert(k, item.clone());
                let mut b = body(&sid, tree, &path.display(), &path, &item);
                let code = if existed || fam.built_in { 200 } else { 201 };
                if !fam.long_running {
                    return with_header(json(code, &b), "etag", &e);
                }
                // These writes are long-running in this api-version: the answer
                // says InProgress and names where to poll, as the examples do.
                b["properties"]["provisioningState"] = json!("InProgress");
                let async_id = format!("{etag:024x}");
                let location = format!(
                    "{}{}/{}?api-version={}&asyncId={async_id}&asyncCode={code}",
                    self.base_url,
                    &sid[1..],
                    path.display(),
                    r.api_version()
                );
                let aao = format!(
                    "{}{}/tenant/operationResults/{async_id}?api-version={}",
                    self.base_url,
                    &sid[1..],
                    r.api_version()
                );
                // Azure may also answer 202 with no body (a named value PATCH):
                // on the `accepted-share` switch, so clients meet both.
                let resp = if *r.method == Method::PATCH && fam.name == "namedValues" && self.faults.take_accepted() {
                    crate::http::empty(202)
                } else {
                    with_header(json(code, &b), "etag", &e)
                };
                with_header(with_header(resp, "location", &location), "azure-asyncoperation", &aao)
            }
            Method::DELETE => {
                match (r.headers.get("if-match").and_then(|v| v.to_str().ok()), tree.get(&k)) {
                    (None, Some(_)) if fam.name == "namedValues" => {
                        return error(
                            400,
                            "ValidationError",
                            "The 'If-Match' header is required for this operation; pass the entity's ETag or '*'.",
                        )
                    }
                    (Some(m), Some(cur)) if m != "*" && m != etag_header(cur) => return precondition_failed(&id),
                    _ => {}
                }
                if tree.remove(&k).is_none() {
                    return crate::http::empty(204);
                }
                // What lives in the entity goes with it, and so do links to it.
                let prefix = format!("{k}/");
                let link_suffix = format!("/{k}");
                tree.retain(|key, item| {
                    let inside = key.starts_with(&prefix);
                    let links_here = item.get("link").is_some() && key.ends_with(&link_suffix);
                    !(inside || links_here)
                });
                crate::http::empty(200)
            }
            _ => method_not_allowed(r),
        }
    }

    /// `POST …/{entity}/listSecrets`: the write-only values of an
    /// authorization server, identity or OpenID provider, subscription or
    /// the portal's delegation settings.
    pub(crate) fn list_secrets(&self, st: &State, r: &Req, sub: &str) -> Response {
        let below = &r.names.below;
        let Some(path) = Path::parse(TOP, below).filter(|p| !p.is_collection() && p.family().list_secrets) else {
            return not_found_path(r);
        };
        let Some(s) = st.services.get(&service_key(r, sub)) else {
            return error(404, "ResourceNotFound", &format!("Service '{}' was not found.", r.names.resource));
        };
        match s.config.get(&path.key()) {
            Some(item) => {
                let props = item.get("properties").cloned().unwrap_or_default();
                with_header(
                    json(200, &Value::Object(hidden_values(path.family(), &props))),
                    "etag",
                    &etag_header(item),
                )
            }
            None => error(
                404,
                "ResourceNotFound",
                &format!("{} entity '{}' was not found.", path.family().name, path.id()),
            ),
        }
    }

    fn list(&self, sid: &str, tree: &Tree, r: &Req, path: &Path) -> Response {
        if let Some(parent) = path.parent_key() {
            if !tree.contains_key(&parent) {
                return error(404, "ResourceNotFound", "The parent entity was not found.");
            }
        }
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
        let coll_display = path.display();
        let coll_key = path.key();
        let shown_body = |item: &Value| {
            let name = item.get("name").and_then(Value::as_str).unwrap_or("");
            body(sid, tree, &format!("{coll_display}/{name}"), &path.member(name), item)
        };
        let want = top.unwrap_or(usize::MAX);
        let mut total = 0;
        let mut page = Vec::new();
        for (_, item) in members(tree, &coll_key) {
            let in_window = total >= skip && page.len() < want.min(PAGE_SIZE);
            // Without a filter, only the page's own items need a body.
            if filter.is_empty() && !path.family().link {
                if in_window {
                    page.push(shown_body(item));
                }
                total += 1;
                continue;
            }
            let b = shown_body(item);
            if b.is_null() || !filter.iter().all(|c| c.matches(&b)) {
                continue;
            }
            if in_window {
                page.push(b);
            }
            total += 1;
        }
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
            format!("{}{}/{coll_display}?{query}", self.base_url, &sid[1..])
        });
        json(200, &json!({"value": page, "count": total, "nextLink": next}))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(p: &str) -> Vec<String> {
        p.split('/').map(String::from).collect()
    }

    #[test]
    fn paths_resolve_by_family() {
        let p = Path::parse(TOP, &segs("apis/Echo/operations/get/policies/policy")).unwrap();
        assert_eq!(p.key(), "apis/echo/operations/get/policies/policy");
        assert_eq!(p.arm_type(), "Microsoft.ApiManagement/service/apis/operations/policies");
        let p = Path::parse(TOP, &segs("products/starter/apis/echo")).unwrap();
        assert!(p.family().link);
        assert_eq!(p.arm_type(), "Microsoft.ApiManagement/service/apis");
        assert_eq!(
            Path::parse(TOP, &segs("apiVersionSets/v")).unwrap().arm_type(),
            "Microsoft.ApiManagement/service/api-version-sets"
        );
        assert!(Path::parse(TOP, &segs("apis/echo")).is_some_and(|p| !p.is_collection()));
        let ops = Path::parse(TOP, &segs("apis/Echo/operations")).unwrap();
        assert!(ops.is_collection());
        assert_eq!(
            (ops.display(), ops.parent_key()),
            ("apis/Echo/operations".into(), Some("apis/echo".into()))
        );
        let get = ops.member("get");
        assert_eq!((get.display(), get.id()), ("apis/Echo/operations/get".into(), "get"));
        assert_eq!(get.parent_key().as_deref(), Some("apis/echo"));
        assert_eq!(Path::parse(TOP, &segs("apis")).unwrap().parent_key(), None);
        assert!(
            Path::parse(TOP, &segs("policies/other")).is_none(),
            "a policy is always named 'policy'"
        );
        assert!(Path::parse(TOP, &segs("backends/b/operations")).is_none());
        assert!(Path::parse(TOP, &segs("nothing")).is_none());
    }
}
