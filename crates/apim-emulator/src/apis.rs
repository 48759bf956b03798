//! APIs (with revisions), their operations, and API version sets.

use crate::entities::{default, display_name, one_of, require, Family, Prepare};
use crate::loggers::DIAGNOSTICS;
use crate::policies::POLICIES;
use crate::tags::API_TAGS;
use axum::response::Response;
use serde_json::json;

pub(crate) static APIS: Family = Family {
    name: "apis",
    type_name: "apis",
    children: &[&OPERATIONS, &POLICIES, &DIAGNOSTICS, &API_TAGS],
    link: false,
    long_running: true,
    singleton: None,
    prepare: api,
};

pub(crate) static OPERATIONS: Family = Family {
    name: "operations",
    type_name: "operations",
    children: &[&POLICIES, &API_TAGS],
    link: false,
    long_running: false,
    singleton: None,
    prepare: operation,
};

pub(crate) static VERSION_SETS: Family = Family {
    name: "apiVersionSets",
    type_name: "api-version-sets",
    children: &[],
    link: false,
    long_running: false,
    singleton: None,
    prepare: version_set,
};

/// A revision lives at `{apiId};rev={n}`; the id without one is the current revision.
fn api(p: &mut Prepare) -> Result<(), Response> {
    display_name(p)?;
    if !p.props.get("path").is_some_and(|v| v.is_string()) {
        return Err(crate::http::error(400, "ValidationError", "'path' is required."));
    }
    // A version set is referenced by its full id; stored relative to the
    // service, so a restored copy points at its own version set.
    if let Some(v) = p.props.get("apiVersionSetId").and_then(|v| v.as_str()) {
        if let Some(at) = v.to_ascii_lowercase().find("/apiversionsets/") {
            let relative = v[at..].to_string();
            p.props.insert("apiVersionSetId".into(), json!(relative));
        }
    }
    let revision = p.id.split_once(";rev=").map(|(_, r)| r.to_string());
    default(p.props, "apiRevision", json!(revision.clone().unwrap_or_else(|| "1".into())));
    default(p.props, "isCurrent", json!(revision.is_none()));
    default(p.props, "isOnline", json!(true));
    default(p.props, "protocols", json!(["https"]));
    default(
        p.props,
        "subscriptionKeyParameterNames",
        json!({"header": "Ocp-Apim-Subscription-Key", "query": "subscription-key"}),
    );
    if let Some(auth) = p.props.get_mut("authenticationSettings").and_then(|a| a.as_object_mut()) {
        if let Some(o) = auth.get("oAuth2").cloned().filter(|o| !o.is_null()) {
            auth.entry("oAuth2AuthenticationSettings").or_insert_with(|| json!([o]));
        }
    }
    Ok(())
}

fn operation(p: &mut Prepare) -> Result<(), Response> {
    display_name(p)?;
    require(p.props, "method")?;
    require(p.props, "urlTemplate")?;
    default(p.props, "templateParameters", json!([]));
    Ok(())
}

fn version_set(p: &mut Prepare) -> Result<(), Response> {
    display_name(p)?;
    require(p.props, "versioningScheme")?;
    one_of(p.props, "versioningScheme", &["Segment", "Query", "Header"])
}
