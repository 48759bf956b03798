//! The people of a service: users, groups and their members, and
//! subscriptions with their keys (write-once, read by `listSecrets`).

use crate::entities::{default, display_name, one_of, require, Family, Prepare, BASE};
use crate::http::error;
use crate::state::{key, now_ms, rfc3339};
use axum::response::Response;
use serde_json::{json, Value};

pub(crate) static USERS: Family = Family {
    name: "users",
    type_name: "users",
    hidden: &["/password"],
    prepare: user,
    ..BASE
};

pub(crate) static GROUPS: Family = Family {
    name: "groups",
    type_name: "groups",
    children: &[&GROUP_USERS],
    prepare: group,
    ..BASE
};

/// `groups/{g}/users/{u}` and `products/{p}/groups/{g}`: links, which
/// show what they link to (a user's password stays hidden there too).
pub(crate) static GROUP_USERS: Family = Family {
    name: "users",
    type_name: "groups/users",
    link: true,
    hidden: USERS.hidden,
    ..BASE
};
pub(crate) static PRODUCT_GROUPS: Family = Family {
    name: "groups",
    type_name: "groups",
    link: true,
    ..BASE
};

pub(crate) static SUBSCRIPTIONS: Family = Family {
    name: "subscriptions",
    type_name: "subscriptions",
    hidden: &["/primaryKey", "/secondaryKey"],
    list_secrets: true,
    ids_in: &["scope", "ownerId"],
    prepare: subscription,
    ..BASE
};

fn user(p: &mut Prepare) -> Result<(), Response> {
    require(p.props, "email")?;
    require(p.props, "firstName")?;
    require(p.props, "lastName")?;
    one_of(p.props, "state", &["active", "blocked", "pending", "deleted"])?;
    // Request-only switches, not properties of the user.
    for k in ["confirmation", "appType"] {
        p.props.remove(k);
    }
    default(p.props, "state", json!("active"));
    default(p.props, "note", Value::Null);
    let email = p.props["email"].clone();
    default(p.props, "identities", json!([{"provider": "Basic", "id": email}]));
    default(p.props, "registrationDate", json!(rfc3339(now_ms())));
    Ok(())
}

fn group(p: &mut Prepare) -> Result<(), Response> {
    display_name(p)?;
    one_of(p.props, "type", &["custom", "external", "system"])?;
    default(p.props, "type", json!("custom"));
    default(p.props, "builtIn", json!(false));
    Ok(())
}

fn subscription(p: &mut Prepare) -> Result<(), Response> {
    display_name(p)?;
    require(p.props, "scope")?;
    let scope = p.props["scope"].as_str().unwrap_or_default().to_string();
    let lower = key(&scope);
    let in_service = lower == "/apis" || lower.starts_with("/apis/") || lower.starts_with("/products/");
    if !in_service || (lower != "/apis" && !p.tree.contains_key(&key(&scope[1..]))) {
        return Err(error(
            400,
            "ValidationError",
            &format!("Subscription scope '{scope}' is not an API or a product of this service."),
        ));
    }
    if let Some(owner) = p.props.get("ownerId").and_then(Value::as_str) {
        if !p.tree.contains_key(&key(owner.trim_start_matches('/'))) {
            return Err(error(400, "ValidationError", &format!("User '{owner}' was not found.")));
        }
    }
    one_of(
        p.props,
        "state",
        &["suspended", "active", "expired", "submitted", "rejected", "cancelled"],
    )?;
    default(p.props, "state", json!("submitted"));
    default(p.props, "allowTracing", json!(false));
    default(p.props, "createdDate", json!(rfc3339(now_ms())));
    // Keys a request leaves out are generated, as Azure does.
    for k in ["primaryKey", "secondaryKey"] {
        default(p.props, k, json!(uuid::Uuid::new_v4().simple().to_string()));
    }
    Ok(())
}
