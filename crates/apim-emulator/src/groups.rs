//! Resource groups.

use crate::http::{empty, error, json, with_header};
use crate::shared::*;
use crate::state::{key, now_ms, Group, OpKind, State};
use crate::App;
use axum::http::Method;
use axum::response::Response;
use serde_json::{json, Value};

pub(crate) const GROUP_DELETE_MS: i64 = 60 * 1000;

impl App {
    /// `GET /subscriptions/{id}/resourcegroups`.
    pub(crate) fn list_groups(&self, st: &State, sub: &str) -> Response {
        let prefix = key(&format!("/subscriptions/{sub}/"));
        let value: Vec<Value> = st
            .groups
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, g)| group_body(g))
            .collect();
        json(200, &json!({"value": value}))
    }

    pub(crate) fn group(&self, st: &mut State, r: &Req, sub: &str, name: &str) -> Response {
        let id = format!("/subscriptions/{sub}/resourceGroups/{name}");
        let k = key(&id);
        let body_of = group_body;
        match *r.method {
            Method::PUT => {
                if !apim_rules::is_valid_resource_group_name(name) {
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
            Method::PATCH => {
                let body: Value = serde_json::from_slice(r.body).unwrap_or(Value::Null);
                let Some(g) = st.groups.get_mut(&k) else {
                    return group_not_found(name);
                };
                if let Some(tags) = body.get("tags").and_then(Value::as_object) {
                    g.tags = tags.clone();
                }
                json(200, &body_of(g))
            }
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
}

/// A resource group as ARM shows it.
fn group_body(g: &Group) -> Value {
    let mut b = json!({"id": g.id, "name": g.name, "type": "Microsoft.Resources/resourceGroups", "location": g.location,
        "properties": {"provisioningState": if g.deleting_op.is_some() {"Deleting"} else {"Succeeded"}}});
    if !g.tags.is_empty() {
        b["tags"] = Value::Object(g.tags.clone());
    }
    b
}
