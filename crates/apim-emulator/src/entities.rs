//! The configuration a service holds (named values, APIs, operations,
//! policies, products, backends, loggers, diagnostics, version sets, tags),
//! as one tree keyed by lower-case path (`apis/echo/operations/get`). Each
//! resource family says in its own module what its entities require and
//! which defaults Azure fills in; this module does what they share: paths,
//! lists with paging and `$filter`, get, PUT/PATCH/DELETE with ETags and
//! If-Match, links (a product's APIs, an API's tags) and cascading deletes.
//! Keeping the tree ordered makes every page a range read, not a sort.
//! The list of families is in `registry`, which no family imports.

use crate::http::error;
use crate::shared::*;
use crate::state::key;
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
    /// What the service's Key Vault references can read.
    pub vault: &'a crate::extensions::VaultAccess<'a>,
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
    /// The only ids an entity may have (`policy`; a portal setting's
    /// `signin`, `signup`, `delegation`); empty for any id.
    pub only: &'static [&'static str],
    /// Write-only properties (JSON pointers, `*` for any key): stored,
    /// carried by a backup, never shown by a GET or a list.
    pub hidden: &'static [&'static str],
    /// `POST …/{id}/listSecrets` answers the hidden values.
    pub list_secrets: bool,
    /// Properties holding the id of another entity of the service: stored
    /// relative to it (so a restored copy points at its own), shown whole.
    pub ids_in: &'static [&'static str],
    /// Whether a backup carries it (developer portal content is not).
    pub in_backup: bool,
    /// Azure has every entity from the start (portal settings,
    /// notifications): a PUT answers 200, never 201.
    pub built_in: bool,
    pub prepare: fn(&mut Prepare) -> Result<(), Response>,
}

/// What most families are: nothing hidden, any id, backed up.
pub(crate) const BASE: Family = Family {
    name: "",
    type_name: "",
    children: &[],
    link: false,
    long_running: false,
    only: &[],
    hidden: &[],
    list_secrets: false,
    ids_in: &[],
    in_backup: true,
    built_in: false,
    prepare: any,
};

pub(crate) fn any(_: &mut Prepare) -> Result<(), Response> {
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

/// A path below a service, resolved against the families.
pub(crate) struct Path {
    /// `(family, id)` of the entities it lives in, from the top.
    above: Vec<(&'static Family, String)>,
    /// Its own family, and its id (`None` for a collection).
    family: &'static Family,
    id: Option<String>,
}

impl Path {
    /// Resolves the segments after `service/{name}` against the families
    /// at the top (`top`); `None` for a path no family has.
    pub(crate) fn parse(top: &[&'static Family], segs: &[String]) -> Option<Path> {
        let mut above = Vec::new();
        let mut choices: &[&Family] = top;
        let mut pairs = segs.chunks(2).peekable();
        while let Some(pair) = pairs.next() {
            let fam = *choices.iter().find(|f| f.name.eq_ignore_ascii_case(&pair[0]))?;
            let id = pair.get(1).cloned();
            if let Some(id) = &id {
                if !fam.only.is_empty() && !fam.only.iter().any(|o| o.eq_ignore_ascii_case(id)) {
                    return None;
                }
            }
            if pairs.peek().is_none() {
                return Some(Path { above, family: fam, id });
            }
            // Only the last segment can name a collection: chunks of two
            // before it always hold an id.
            above.push((fam, id?));
            choices = fam.children;
        }
        None
    }

    /// The entity of this collection named `id`.
    pub(crate) fn member(&self, id: &str) -> Path {
        Path {
            above: self.above.clone(),
            family: self.family,
            id: Some(id.to_string()),
        }
    }

    pub(crate) fn is_collection(&self) -> bool {
        self.id.is_none()
    }

    pub(crate) fn family(&self) -> &'static Family {
        self.family
    }

    pub(crate) fn id(&self) -> &str {
        self.id.as_deref().unwrap_or("")
    }

    /// The tree key of the entity (or of the collection's parent, plus the collection).
    pub(crate) fn key(&self) -> String {
        key(&self.display())
    }

    /// The path as Azure spells it, for ids.
    pub(crate) fn display(&self) -> String {
        let mut out = Vec::new();
        for (f, id) in &self.above {
            out.extend([f.name, id.as_str()]);
        }
        out.push(self.family.name);
        out.extend(self.id.as_deref());
        out.join("/")
    }

    /// The ARM type of the entities at this path.
    pub(crate) fn arm_type(&self) -> String {
        let fam = self.family();
        if fam.link {
            return format!("Microsoft.ApiManagement/service/{}", fam.type_name);
        }
        let names: Vec<&str> = self.above.iter().map(|(f, _)| f.type_name).chain([fam.type_name]).collect();
        format!("Microsoft.ApiManagement/service/{}", names.join("/"))
    }

    /// The key of the entity this one lives in, if it is nested.
    pub(crate) fn parent_key(&self) -> Option<String> {
        let mut above = self.above.clone();
        let (family, id) = above.pop()?;
        Some(
            Path {
                above,
                family,
                id: Some(id),
            }
            .key(),
        )
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
            Some(t) => {
                let mut props = t.get("properties").cloned().unwrap_or_else(|| json!({}));
                for pattern in fam.hidden {
                    remove_at(&mut props, pattern);
                }
                json!({
                    "id": format!("{service_id}/{}/{}", fam.name, t["name"].as_str().unwrap_or(name)),
                    "type": path.arm_type(),
                    "name": t["name"],
                    "properties": props,
                })
            }
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
    for pattern in fam.hidden {
        remove_at(&mut props, pattern);
    }
    for field in fam.ids_in {
        if let Some(Value::String(v)) = props.get_mut(*field) {
            if v.starts_with('/') && !v.starts_with("/subscriptions/") {
                *v = format!("{service_id}{v}");
            }
        }
    }
    json!({"id": format!("{service_id}/{path_display}"), "type": path.arm_type(), "name": name, "properties": props})
}

/// Removes what a pointer pattern names (`*` matches any key).
pub(crate) fn remove_at(v: &mut Value, pattern: &str) {
    let parts: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    fn go(v: &mut Value, parts: &[&str]) {
        let Some(m) = v.as_object_mut() else { return };
        match parts {
            [] => {}
            [last] => {
                m.remove(*last);
            }
            ["*", rest @ ..] => m.values_mut().for_each(|c| go(c, rest)),
            [k, rest @ ..] => {
                if let Some(c) = m.get_mut(*k) {
                    go(c, rest)
                }
            }
        }
    }
    go(v, &parts);
}

/// The values hidden at a family's pointers that have no wildcard, by
/// their last key: what `listSecrets` answers.
pub(crate) fn hidden_values(fam: &Family, props: &Value) -> Map<String, Value> {
    fam.hidden
        .iter()
        .filter(|p| !p.contains('*'))
        .filter_map(|p| Some((p.rsplit('/').next()?.to_string(), props.pointer(p)?.clone())))
        .collect()
}

/// An id inside this service, made relative to it (`/users/u1`).
pub(crate) fn relative_to(service_id: &str, v: &str) -> Option<String> {
    let n = service_id.len();
    (v.len() > n && v.get(..n).is_some_and(|p| p.eq_ignore_ascii_case(service_id)) && v.as_bytes()[n] == b'/').then(|| v[n..].to_string())
}

/// The entities directly in the collection whose key is `coll_key`, in order.
pub(crate) fn members<'t>(tree: &'t Tree, coll_key: &str) -> impl Iterator<Item = (&'t String, &'t Value)> {
    let prefix = format!("{coll_key}/");
    let len = prefix.len();
    tree.range(prefix.clone()..)
        .take_while(move |(k, _)| k.starts_with(&prefix))
        .filter(move |(k, _)| !k[len..].contains('/'))
}

pub(crate) fn service_key(r: &Req, sub: &str) -> String {
    key(&format!(
        "/subscriptions/{sub}/resourceGroups/{}/providers/Microsoft.ApiManagement/service/{}",
        r.names.group, r.names.resource
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

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
