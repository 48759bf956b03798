//! Named values: plain, secret and Key Vault references, and their actions
//! (listValue, refreshSecret). Writes are long-running in 2024-05-01.

use crate::entities::{body, default, service_key, Family, Path, Prepare, BASE};
use crate::http::{error, json, with_header};
use crate::shared::*;
use crate::state::{key, now_ms, rfc3339, State};
use crate::App;
use axum::response::Response;
use serde_json::{json, Map, Value};

pub(crate) static NAMED_VALUES: Family = Family {
    name: "namedValues",
    type_name: "namedValues",
    children: &[],
    link: false,
    long_running: true,
    prepare,
    ..BASE
};

fn prepare(p: &mut Prepare) -> Result<(), Response> {
    if let Some(kv) = p.props.get("keyVault").filter(|k| k.is_object()) {
        let status = p.vault.status(kv);
        p.props["keyVault"]["lastStatus"] = status;
    }
    valid_named_value(p.props)?;
    // Display names are unique in a service: policies reference them.
    let name = p.props.get("displayName").and_then(Value::as_str).unwrap_or_default();
    let clash = crate::entities::members(p.tree, "namedvalues").any(|(_, nv)| {
        nv["name"].as_str().is_some_and(|id| !id.eq_ignore_ascii_case(p.id))
            && nv
                .pointer("/properties/displayName")
                .and_then(Value::as_str)
                .is_some_and(|d| d.eq_ignore_ascii_case(name))
    });
    if clash {
        return Err(error(
            400,
            "ValidationError",
            &format!("A named value with the display name '{name}' already exists; display names are unique in a service."),
        ));
    }
    default(p.props, "secret", json!(false));
    default(p.props, "tags", json!([]));
    Ok(())
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

fn not_found(id: &str) -> Response {
    error(404, "ResourceNotFound", &format!("namedValues entity '{id}' was not found."))
}

impl App {
    /// GET …/tenant/operationResults/{id}: configuration writes finish at once here.
    pub(crate) fn tenant_operation(&self, r: &Req) -> Response {
        json(
            200,
            &json!({"id": r.names.operation, "name": r.names.operation, "status": "Succeeded", "startTime": rfc3339(now_ms()), "endTime": rfc3339(now_ms())}),
        )
    }

    /// POST …/namedValues/{id}/refreshSecret: re-reads a Key Vault secret.
    pub(crate) fn refresh_secret(&self, st: &mut State, r: &Req, sub: &str) -> Response {
        let etag = st.next_etag();
        let Some(s) = st.services.get_mut(&service_key(r, sub)) else {
            return error(404, "ResourceNotFound", &format!("Service '{}' was not found.", r.names.resource));
        };
        let vault = crate::extensions::VaultAccess {
            roles: &st.roles,
            identity: s.identity.as_ref(),
        };
        let sid = s.id.clone();
        let k = key(&format!("namedValues/{}", r.names.named_value));
        let Some(item) = s.config.get_mut(&k) else {
            return not_found(&r.names.named_value);
        };
        let Some(kv) = item.pointer_mut("/properties/keyVault").filter(|k| k.is_object()) else {
            return error(400, "ValidationError", "The named value is not a Key Vault reference.");
        };
        let status = vault.status(kv);
        kv["lastStatus"] = status;
        item["etag"] = json!(etag);
        let item = item.clone();
        let Some(path) = Path::parse(&[&NAMED_VALUES], &r.names.below) else {
            return not_found(&r.names.named_value);
        };
        if self.faults.take_accepted() {
            // The spec's example answers 202: where to poll, then the entity.
            let location = format!(
                "{}{}/{}?api-version={}&asyncId={etag:024x}&asyncCode=200",
                self.base_url,
                &sid[1..],
                path.display(),
                r.api_version()
            );
            return with_header(crate::http::empty(202), "location", &location);
        }
        let b = body(&sid, &s.config, &path.display(), &path, &item);
        with_header(json(200, &b), "etag", &etag_header(&item))
    }

    /// POST …/namedValues/{id}/listValue: the value, secret or not. A Key
    /// Vault reference has no value of its own here (no vault is reached).
    pub(crate) fn list_value(&self, st: &State, r: &Req, sub: &str) -> Response {
        let item = st
            .services
            .get(&service_key(r, sub))
            .and_then(|s| s.config.get(&key(&format!("namedValues/{}", r.names.named_value))));
        // A Key Vault reference's value is the vault's secret, as APIM
        // fetched it; the emulator's vault holds what the rehearsal put there.
        let from_vault = |item: &Value| {
            let id = item.pointer("/properties/keyVault/secretIdentifier").and_then(Value::as_str)?;
            self.faults
                .vault
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .get(id.trim_end_matches('/'))
                .cloned()
        };
        match item {
            Some(item) => with_header(
                json(
                    200,
                    &json!({"value": from_vault(item).map(Value::String).or_else(|| item.pointer("/properties/value").cloned()).unwrap_or(Value::Null)}),
                ),
                "etag",
                &etag_header(item),
            ),
            None => not_found(&r.names.named_value),
        }
    }
}
