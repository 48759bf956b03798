//! APIs (with revisions), their operations, and API version sets.

use crate::entities::{default, display_name, one_of, require, Family, Prepare, BASE};
use crate::loggers::DIAGNOSTICS;
use crate::policies::POLICIES;
use crate::portal::WIKIS;
use crate::tags::API_TAGS;
use axum::response::Response;
use serde_json::json;

pub(crate) static APIS: Family = Family {
    name: "apis",
    type_name: "apis",
    children: &[
        &OPERATIONS,
        &POLICIES,
        &DIAGNOSTICS,
        &API_TAGS,
        &API_SCHEMAS,
        &RELEASES,
        &WIKIS,
        &RESOLVERS,
        &TAG_DESCRIPTIONS,
    ],
    link: false,
    long_running: true,
    prepare: api,
    ..BASE
};

pub(crate) static OPERATIONS: Family = Family {
    name: "operations",
    type_name: "operations",
    children: &[&POLICIES, &API_TAGS],
    link: false,
    long_running: false,
    prepare: operation,
    ..BASE
};

pub(crate) static VERSION_SETS: Family = Family {
    name: "apiVersionSets",
    type_name: "api-version-sets",
    children: &[],
    link: false,
    long_running: false,
    prepare: version_set,
    ..BASE
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

/// `schemas/{id}` (global) and `apis/{a}/schemas/{id}`: long-running writes.
pub(crate) static GLOBAL_SCHEMAS: Family = Family {
    name: "schemas",
    type_name: "schemas",
    long_running: true,
    prepare: global_schema,
    ..BASE
};

pub(crate) static API_SCHEMAS: Family = Family {
    name: "schemas",
    type_name: "schemas",
    long_running: true,
    prepare: api_schema,
    ..BASE
};

pub(crate) static RELEASES: Family = Family {
    name: "releases",
    type_name: "releases",
    ids_in: &["apiId"],
    prepare: release,
    ..BASE
};

/// GraphQL resolvers, each with its own policy.
pub(crate) static RESOLVERS: Family = Family {
    name: "resolvers",
    type_name: "resolvers",
    children: &[&crate::policies::RESOLVER_POLICIES],
    prepare: resolver,
    ..BASE
};

/// `apis/{a}/tagDescriptions/{tag}`: how an API describes one of its tags.
pub(crate) static TAG_DESCRIPTIONS: Family = Family {
    name: "tagDescriptions",
    type_name: "tagDescriptions",
    prepare: tag_description,
    ..BASE
};

fn global_schema(p: &mut Prepare) -> Result<(), Response> {
    require(p.props, "schemaType")?;
    one_of(p.props, "schemaType", &["xml", "json"])?;
    if p.props.get("value").is_none() && p.props.get("document").is_none() {
        return Err(crate::http::error(400, "ValidationError", "'value' or 'document' is required."));
    }
    Ok(())
}

fn api_schema(p: &mut Prepare) -> Result<(), Response> {
    require(p.props, "contentType")?;
    require(p.props, "document")
}

fn release(p: &mut Prepare) -> Result<(), Response> {
    require(p.props, "apiId")?;
    let now = json!(crate::state::rfc3339(crate::state::now_ms()));
    default(p.props, "createdDateTime", now.clone());
    p.props.insert("updatedDateTime".into(), now);
    Ok(())
}

fn resolver(p: &mut Prepare) -> Result<(), Response> {
    display_name(p)?;
    require(p.props, "path")
}

fn tag_description(p: &mut Prepare) -> Result<(), Response> {
    let Some(tag) = p.tree.get(&crate::state::key(&format!("tags/{}", p.id))) else {
        return Err(crate::http::error(
            404,
            "ResourceNotFound",
            &format!("Tag '{}' was not found.", p.id),
        ));
    };
    let name = tag.pointer("/properties/displayName").cloned().unwrap_or_default();
    p.props.insert("displayName".into(), name);
    let id = p.id.to_string();
    p.props.insert("tagId".into(), json!(format!("/tags/{id}")));
    Ok(())
}
