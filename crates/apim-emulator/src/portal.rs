//! What the developer portal and its mail show: sign-in, sign-up and
//! delegation settings (the validation key is write-only), notifications
//! and their recipients, email templates, documentations, and the
//! portal's own content (types and items), which a backup never carries.

use crate::entities::{default, require, Family, Prepare, BASE};
use crate::http::error;
use crate::state::key;
use axum::response::Response;
use serde_json::{json, Value};

pub(crate) static PORTAL_SETTINGS: Family = Family {
    name: "portalsettings",
    type_name: "portalsettings",
    only: &["signin", "signup", "delegation"],
    hidden: &["/validationKey"],
    list_secrets: true,
    built_in: true,
    prepare: portal_setting,
    ..BASE
};

/// The notifications Azure has; each is written without a body.
pub(crate) static NOTIFICATIONS: Family = Family {
    name: "notifications",
    type_name: "notifications",
    children: &[&RECIPIENT_USERS, &RECIPIENT_EMAILS],
    only: &[
        "RequestPublisherNotificationMessage",
        "PurchasePublisherNotificationMessage",
        "NewApplicationNotificationMessage",
        "BCC",
        "NewIssuePublisherNotificationMessage",
        "AccountClosedPublisher",
        "QuotaLimitApproachingPublisherNotificationMessage",
    ],
    built_in: true,
    prepare: notification,
    ..BASE
};

pub(crate) static RECIPIENT_USERS: Family = Family {
    name: "recipientUsers",
    type_name: "recipientUsers",
    prepare: recipient_user,
    ..BASE
};

pub(crate) static RECIPIENT_EMAILS: Family = Family {
    name: "recipientEmails",
    type_name: "recipientEmails",
    prepare: recipient_email,
    ..BASE
};

pub(crate) static TEMPLATES: Family = Family {
    name: "templates",
    type_name: "templates",
    prepare: template,
    ..BASE
};

pub(crate) static DOCUMENTATIONS: Family = Family {
    name: "documentations",
    type_name: "documentations",
    prepare: documentation,
    ..BASE
};

/// `apis/{a}/wikis/default` and `products/{p}/wikis/default`.
pub(crate) static WIKIS: Family = Family {
    name: "wikis",
    type_name: "wikis",
    only: &["default"],
    prepare: wiki,
    ..BASE
};

pub(crate) static CONTENT_TYPES: Family = Family {
    name: "contentTypes",
    type_name: "contentTypes",
    children: &[&CONTENT_ITEMS],
    in_backup: false,
    ..BASE
};

pub(crate) static CONTENT_ITEMS: Family = Family {
    name: "contentItems",
    type_name: "contentItems",
    in_backup: false,
    ..BASE
};

fn portal_setting(p: &mut Prepare) -> Result<(), Response> {
    if p.id.eq_ignore_ascii_case("delegation") {
        if let Some(k) = p.props.get("validationKey").and_then(Value::as_str) {
            use base64::Engine;
            if base64::engine::general_purpose::STANDARD.decode(k).is_err() {
                return Err(error(400, "ValidationError", "'validationKey' must be base64."));
            }
        }
    } else {
        default(p.props, "enabled", json!(false));
    }
    Ok(())
}

fn notification(p: &mut Prepare) -> Result<(), Response> {
    let id = p.id.to_string();
    default(p.props, "title", json!(id));
    default(p.props, "description", json!(format!("The {id} notification.")));
    Ok(())
}

fn recipient_user(p: &mut Prepare) -> Result<(), Response> {
    if !p.tree.contains_key(&key(&format!("users/{}", p.id))) {
        return Err(error(404, "ResourceNotFound", &format!("User '{}' was not found.", p.id)));
    }
    let user = format!("/users/{}", p.id);
    p.props.insert("userId".into(), json!(user));
    Ok(())
}

fn recipient_email(p: &mut Prepare) -> Result<(), Response> {
    if !p.id.contains('@') {
        return Err(error(400, "ValidationError", "A recipient email must be an email address."));
    }
    let email = p.id.to_string();
    p.props.insert("email".into(), json!(email));
    Ok(())
}

fn template(p: &mut Prepare) -> Result<(), Response> {
    require(p.props, "subject")?;
    require(p.props, "body")?;
    default(p.props, "isDefault", json!(false));
    Ok(())
}

fn documentation(p: &mut Prepare) -> Result<(), Response> {
    require(p.props, "title")
}

fn wiki(p: &mut Prepare) -> Result<(), Response> {
    default(p.props, "documents", json!([]));
    for d in p.props["documents"].as_array().cloned().unwrap_or_default() {
        let id = d.get("documentationId").and_then(Value::as_str).unwrap_or_default();
        if !p.tree.contains_key(&key(&format!("documentations/{id}"))) {
            return Err(error(400, "ValidationError", &format!("Documentation '{id}' was not found.")));
        }
    }
    Ok(())
}
