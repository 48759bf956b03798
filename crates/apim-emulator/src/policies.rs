//! Policies at global, API, operation and product scope. As Azure does,
//! a `{{display name}}` reference to a named value is stored as
//! `{{named value id}}`, so two instances built apart differ in their
//! policy text while meaning the same; the inventory maps them back.

use crate::entities::{default, one_of, Family, Prepare, BASE};
use crate::http::error;
use axum::response::Response;
use serde_json::{json, Value};

pub(crate) static POLICIES: Family = Family {
    name: "policies",
    type_name: "policies",
    children: &[],
    link: false,
    long_running: false,
    only: &["policy"],
    prepare: policy,
    ..BASE
};

fn policy(p: &mut Prepare) -> Result<(), Response> {
    one_of(p.props, "format", &["xml", "rawxml", "xml-link", "rawxml-link"])?;
    default(p.props, "format", json!("xml"));
    let Some(v) = p.props.get("value").and_then(Value::as_str) else {
        return Err(error(400, "ValidationError", "'value' is required."));
    };
    let t = v.trim();
    if !(t.starts_with("<policies") && t.ends_with("</policies>")) {
        return Err(error(400, "ValidationError", "The policy document must be one <policies> element."));
    }
    let value = references_by_id(v, p.tree);
    p.props.insert("value".into(), json!(value));
    Ok(())
}

/// Replaces `{{displayName}}` with `{{id}}` for every named value whose id
/// differs. The text's own references are collected first, so a policy
/// with none (or few) costs one look at the named values, not one string
/// replacement per named value.
fn references_by_id(text: &str, tree: &crate::entities::Tree) -> String {
    let used: std::collections::HashSet<&str> = text
        .split("{{")
        .skip(1)
        .filter_map(|rest| rest.split_once("}}").map(|(name, _)| name))
        .collect();
    if used.is_empty() {
        return text.to_string();
    }
    let mut out = text.to_string();
    for (_, nv) in crate::entities::members(tree, "namedvalues") {
        let (Some(id), Some(dn)) = (nv["name"].as_str(), nv.pointer("/properties/displayName").and_then(Value::as_str)) else {
            continue;
        };
        if id != dn && used.contains(dn) {
            out = out.replace(&format!("{{{{{dn}}}}}"), &format!("{{{{{id}}}}}"));
        }
    }
    out
}

/// Reusable pieces of policy, referenced by `<include-fragment>`; their
/// writes are long-running.
pub(crate) static POLICY_FRAGMENTS: Family = Family {
    name: "policyFragments",
    type_name: "policyFragments",
    long_running: true,
    prepare: fragment,
    ..BASE
};

fn fragment(p: &mut Prepare) -> Result<(), Response> {
    one_of(p.props, "format", &["xml", "rawxml"])?;
    default(p.props, "format", json!("xml"));
    let Some(v) = p.props.get("value").and_then(Value::as_str) else {
        return Err(error(400, "ValidationError", "'value' is required."));
    };
    let t = v.trim();
    if !(t.starts_with("<fragment") && t.ends_with("</fragment>")) {
        return Err(error(400, "ValidationError", "A policy fragment must be one <fragment> element."));
    }
    let value = references_by_id(v, p.tree);
    p.props.insert("value".into(), json!(value));
    Ok(())
}

/// A GraphQL resolver's policy: one data-source element, not `<policies>`.
pub(crate) static RESOLVER_POLICIES: Family = Family {
    name: "policies",
    type_name: "policies",
    only: &["policy"],
    prepare: resolver_policy,
    ..BASE
};

fn resolver_policy(p: &mut Prepare) -> Result<(), Response> {
    one_of(p.props, "format", &["xml", "rawxml"])?;
    default(p.props, "format", json!("xml"));
    let Some(v) = p.props.get("value").and_then(Value::as_str) else {
        return Err(error(400, "ValidationError", "'value' is required."));
    };
    let t = v.trim();
    let root_ok = ["http-data-source", "sql-data-source", "cosmosdb-data-source", "policies"]
        .iter()
        .any(|r| t.starts_with(&format!("<{r}")) && t.ends_with(&format!("</{r}>")));
    if !root_ok {
        return Err(error(400, "ValidationError", "A resolver policy must be one data-source element."));
    }
    let value = references_by_id(v, p.tree);
    p.props.insert("value".into(), json!(value));
    Ok(())
}
