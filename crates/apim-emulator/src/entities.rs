//! The configuration a service holds (named values, APIs, operations,
//! policies, products, backends, loggers, diagnostics, version sets, tags),
//! as one tree keyed by lower-case path (`apis/echo/operations/get`). Each
//! resource family says in its own module what its entities require and
//! which defaults Azure fills in; this module does what they share: paths,
//! lists with paging and `$filter`, get, PUT/PATCH/DELETE with ETags and
//! If-Match, links (a product's APIs, an API's tags) and cascading deletes.
//! Keeping the tree ordered makes every page a range read, not a sort.

use crate::http::{error, json, with_header};
use crate::odata::parse_filter;
use crate::shared::*;
use crate::state::{key, State};
use crate::App;
use crate::{apis, loggers, namedvalues, policies, products};
use axum::http::Method;
use axum::response::Response;
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Items per page of a list, as APIM pages named values.
pub(crate) const PAGE_SIZE: usize = 100;

/// The configuration of one service: entity path (lower case) to
/// `{"name", "properties", "etag"}` (or `{"name", "link": true, "etag"}`).
pub(crate) type Tree = BTreeMap<String, Value>;

/// What a family's entity checks and fills in before it is stored.
pub(crate) struct Prepare<'a> {
    pub id: &'a str,
    pub props: &'a mut Map<String, Value>,
    /// The rest of the service's configuration, for references.
    pub tree: &'a Tree,
    /// Entities the write creates besides itself (a logger's credential).
    pub also: Vec<(String, Value)>,
    pub etag: u64,
}

/// A resource family: one kind of collection in a service.
pub(crate) struct Family {
    /// The collection's path segment, as Azure spells it.
    pub name: &'static str,
    /// The last segment of its ARM type.
    pub type_name: &'static str,
    /// Collections below one of its entities.
    pub children: &'static [&'static Family],
    /// Entities are links to the top-level entity of the same id
    /// (`products/{p}/apis/{a}` links `apis/{a}`); answers show the target.
    pub link: bool,
    /// Writes answer with the long-running headers, as named values and APIs do.
    pub long_running: bool,
    /// The only id an entity may have (`policy`).
    pub singleton: Option<&'static str>,
    pub prepare: fn(&mut Prepare) -> Result<(), Response>,
}

fn any(_: &mut Prepare) -> Result<(), Response> {
    Ok(())
}

pub(crate) fn require(props: &Map<String, Value>, field: &str) -> Result<(), Response> {
    match props.get(field) {
        Some(Value::String(s)) if !s.trim().is_empty() => Ok(()),
        Some(v) if !v.is_null() && !v.is_string() => Ok(()),
        _ => Err(error(400, "ValidationError", &format!("'{field}' is required."))),
    }
}

pub(crate) fn one_of(props: &Map<String, Value>, field: &str, allowed: &[&str]) -> Result<(), Response> {
    match props.get(field).and_then(Value::as_str) {
        Some(v) if allowed.iter().any(|a| a.eq_ignore_ascii_case(v)) => Ok(()),
        None if !props.contains_key(field) => Ok(()),
        _ => Err(error(
            400,
            "ValidationError",
            &format!("'{field}' must be one of: {}.", allowed.join(", ")),
        )),
    }
}

pub(crate) fn default(props: &mut Map<String, Value>, field: &str, v: Value) {
    if props.get(field).is_none_or(Value::is_null) {
        props.insert(field.into(), v);
    }
}

pub(crate) fn display_name(p: &mut Prepare) -> Result<(), Response> {
    require(p.props, "displayName")
}

pub(crate) static API_TAGS: Family = Family {
    name: "tags",
    type_name: "tags",
    children: &[],
    link: true,
    long_running: false,
    singleton: None,
    prepare: any,
};
pub(crate) static TAGS: Family = Family {
    name: "tags",
    type_name: "tags",
    children: &[],
    link: false,
    long_running: false,
    singleton: None,
    prepare: display_name,
};
pub(crate) static DIAGNOSTICS: Family = Family {
    name: "diagnostics",
    type_name: "diagnostics",
    children: &[],
    link: false,
    long_running: false,
    singleton: None,
    prepare: loggers::diagnostic,
};

/// The collections directly under a service.
pub(crate) static TOP: &[&Family] = &[
    &namedvalues::NAMED_VALUES,
    &apis::APIS,
    &apis::VERSION_SETS,
    &products::PRODUCTS,
    &policies::POLICIES,
    &loggers::BACKENDS,
    &loggers::LOGGERS,
    &DIAGNOSTICS,
    &TAGS,
];

/// A path below a service, resolved against the families.
pub(crate) struct Path {
    /// `(family, id)` from the top; the last id is `None` for a collection.
    pub steps: Vec<(&'static Family, Option<String>)>,
}

impl Path {
    /// Resolves the segments after `service/{name}`; `None` for a path no family has.
    pub(crate) fn parse(segs: &[String]) -> Option<Path> {
        let mut steps = Vec::new();
        let mut choices: &[&Family] = TOP;
        for pair in segs.chunks(2) {
            let fam = *choices.iter().find(|f| f.name.eq_ignore_ascii_case(&pair[0]))?;
            let id = pair.get(1).cloned();
            if let (Some(only), Some(id)) = (fam.singleton, &id) {
                if !id.eq_ignore_ascii_case(only) {
                    return None;
                }
            }
            steps.push((fam, id));
            choices = fam.children;
        }
        (!steps.is_empty()).then_some(Path { steps })
    }

    pub(crate) fn is_collection(&self) -> bool {
        self.steps.last().is_some_and(|(_, id)| id.is_none())
    }

    pub(crate) fn family(&self) -> &'static Family {
        self.steps.last().map(|(f, _)| *f).expect("a path has a step")
    }

    pub(crate) fn id(&self) -> &str {
        self.steps.last().and_then(|(_, id)| id.as_deref()).unwrap_or("")
    }

    /// The tree key of the entity (or of the collection's parent, plus the collection).
    pub(crate) fn key(&self) -> String {
        key(&self.display())
    }

    /// The path as Azure spells it, for ids.
    pub(crate) fn display(&self) -> String {
        let mut out = Vec::new();
        for (f, id) in &self.steps {
            out.push(f.name.to_string());
            if let Some(id) = id {
                out.push(id.clone());
            }
        }
        out.join("/")
    }

    /// The ARM type of the entities at this path.
    pub(crate) fn arm_type(&self) -> String {
        let fam = self.family();
        if fam.link {
            return format!("Microsoft.ApiManagement/service/{}", fam.type_name);
        }
        let names: Vec<&str> = self.steps.iter().map(|(f, _)| f.type_name).collect();
        format!("Microsoft.ApiManagement/service/{}", names.join("/"))
    }

    /// The key of the entity this one lives in, if it is nested.
    fn parent_key(&self) -> Option<String> {
        (self.steps.len() > 1).then(|| {
            Path {
                steps: self.steps[..self.steps.len() - 1].to_vec(),
            }
            .key()
        })
    }
}

/// The body of an entity as ARM shows it. Secret named values lose their
/// value; links show what they link to.
pub(crate) fn body(service_id: &str, tree: &Tree, path_display: &str, path: &Path, item: &Value) -> Value {
    let fam = path.family();
    let name = item.get("name").and_then(Value::as_str).unwrap_or("");
    if fam.link {
        let target_path = format!("{}/{name}", fam.name);
        return match tree.get(&key(&target_path)) {
            Some(t) => json!({
                "id": format!("{service_id}/{}/{}", fam.name, t["name"].as_str().unwrap_or(name)),
                "type": path.arm_type(),
                "name": t["name"],
                "properties": t.get("properties").cloned().unwrap_or_else(|| json!({})),
            }),
            None => Value::Null,
        };
    }
    let mut props = item.get("properties").cloned().unwrap_or_else(|| json!({}));
    if let Some(Value::String(v)) = props.get_mut("apiVersionSetId") {
        if v.starts_with('/') {
            *v = format!("{service_id}{v}");
        }
    }
    if props.get("secret").and_then(Value::as_bool) == Some(true) {
        if let Some(p) = props.as_object_mut() {
            p.remove("value");
        }
    }
    json!({"id": format!("{service_id}/{path_display}"), "type": path.arm_type(), "name": name, "properties": props})
}

/// The entities directly in the collection whose key is `coll_key`, in order.
pub(crate) fn members<'t>(tree: &'t Tree, coll_key: &str) -> impl Iterator<Item = (&'t String, &'t Value)> {
    let prefix = format!("{coll_key}/");
    let len = prefix.len();
    tree.range(prefix.clone()..)
        .take_while(move |(k, _)| k.starts_with(&prefix))
        .filter(move |(k, _)| !k[len..].contains('/'))
}

impl App {
    /// Any request under `service/{name}/…` that a family answers.
    pub(crate) fn entity(&self, st: &mut State, r: &Req, sub: &str) -> Response {
        let Some(path) = Path::parse(&r.segs[8..]) else {
            return not_found_path(r);
        };
        let sk = service_key(r, sub);
        let etag = st.next_etag();
        let Some(s) = st.services.get_mut(&sk) else {
            return error(404, "ResourceNotFound", &format!("Service '{}' was not found.", r.segs[7]));
        };
        let sid = s.id.clone();
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
                    let body: Value = if r.body.is_empty() && *r.method == Method::PATCH {
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
                    let mut prep = Prepare {
                        id: &id,
                        props: &mut props,
                        tree,
                        also: Vec::new(),
                        etag,
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
                let code = if existed { 200 } else { 201 };
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
                let resp = with_header(json(code, &b), "etag", &e);
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
            let mut p = Path { steps: path.steps.clone() };
            if let Some(last) = p.steps.last_mut() {
                last.1 = Some(name.to_string());
            }
            body(sid, tree, &format!("{coll_display}/{name}"), &p, item)
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

pub(crate) fn service_key(r: &Req, sub: &str) -> String {
    key(&format!(
        "/subscriptions/{sub}/resourceGroups/{}/providers/Microsoft.ApiManagement/service/{}",
        r.segs[3], r.segs[7]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn segs(p: &str) -> Vec<String> {
        p.split('/').map(String::from).collect()
    }

    #[test]
    fn paths_resolve_by_family() {
        let p = Path::parse(&segs("apis/Echo/operations/get/policies/policy")).unwrap();
        assert_eq!(p.key(), "apis/echo/operations/get/policies/policy");
        assert_eq!(p.arm_type(), "Microsoft.ApiManagement/service/apis/operations/policies");
        let p = Path::parse(&segs("products/starter/apis/echo")).unwrap();
        assert!(p.family().link);
        assert_eq!(p.arm_type(), "Microsoft.ApiManagement/service/apis");
        assert_eq!(
            Path::parse(&segs("apiVersionSets/v")).unwrap().arm_type(),
            "Microsoft.ApiManagement/service/api-version-sets"
        );
        assert!(Path::parse(&segs("apis/echo")).is_some_and(|p| !p.is_collection()));
        assert!(Path::parse(&segs("apis/echo/operations")).is_some_and(|p| p.is_collection()));
        assert!(Path::parse(&segs("policies/other")).is_none(), "a policy is always named 'policy'");
        assert!(Path::parse(&segs("backends/b/operations")).is_none());
        assert!(Path::parse(&segs("nothing")).is_none());
    }

    #[test]
    fn members_are_direct_children_in_order() {
        let mut t = Tree::new();
        for k in ["apis/b", "apis/a", "apis/a/operations/x", "apiversionsets/v", "apis/c"] {
            t.insert(k.into(), json!({"name": k}));
        }
        let got: Vec<&String> = members(&t, "apis").map(|(k, _)| k).collect();
        assert_eq!(got, ["apis/a", "apis/b", "apis/c"]);
    }
}
