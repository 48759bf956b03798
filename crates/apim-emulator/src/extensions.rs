//! Extension resources, which live beside a resource at any scope: role
//! assignments (`Microsoft.Authorization/roleAssignments`) and the one
//! question the emulator asks of them (does this principal hold one of
//! these roles at, or above, this resource? a backup's storage and a Key
//! Vault reference's vault ask it), and Azure Monitor diagnostic settings.

use crate::http::{empty, error, json};
use crate::shared::*;
use crate::state::{key, now_ms, rfc3339, State};
use crate::App;
use axum::http::Method;
use axum::response::Response;
use serde_json::{json, Value};

/// Built-in data roles, by role-definition GUID.
pub(crate) const BLOB_WRITERS: &[&str] = &["ba92f5b4-2d11-453d-a403-e96b0029c9fe", "b7e6dc6d-f1e8-4753-8033-0f276bb0955b"];
pub(crate) const BLOB_READER: &str = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1";
/// Key Vault Secrets User and Key Vault Secrets Officer, and Key Vault Administrator.
pub(crate) const SECRET_READERS: &[&str] = &[
    "4633458b-17de-408a-b874-0445c86b69e6",
    "b86a8fe4-44ce-4948-aee5-eccb2c155cd7",
    "00482a5a-887f-4fb3-b363-3b7fe8e74483",
];

/// What a service's Key Vault references can read: its identities, and
/// the role assignments that give them access to a vault.
pub(crate) struct VaultAccess<'a> {
    pub roles: &'a std::collections::BTreeMap<String, Value>,
    pub identity: Option<&'a Value>,
}

impl VaultAccess<'_> {
    /// The `lastStatus` of a Key Vault reference read now: `Success` when
    /// the identity it names (its `identityClientId`, else the system
    /// identity) holds a secrets role on the vault (at the vault, or at a
    /// subscription or group: the emulator does not know the vault's
    /// group); otherwise the failure Azure shows, naming both.
    pub(crate) fn status(&self, kv: &Value) -> Value {
        let now = rfc3339(now_ms());
        let secret = kv.get("secretIdentifier").and_then(Value::as_str).unwrap_or_default();
        let vault = url::Url::parse(secret)
            .ok()
            .and_then(|u| u.host_str().map(|h| h.split('.').next().unwrap_or_default().to_string()))
            .unwrap_or_default();
        let client = kv.get("identityClientId").and_then(Value::as_str).filter(|c| !c.is_empty());
        let principal = match client {
            Some(c) => self
                .identity
                .and_then(|i| i.get("userAssignedIdentities"))
                .and_then(Value::as_object)
                .and_then(|m| {
                    m.values()
                        .find(|v| v.get("clientId").and_then(Value::as_str).is_some_and(|x| x.eq_ignore_ascii_case(c)))
                })
                .and_then(|v| v.get("principalId"))
                .and_then(Value::as_str),
            None => self.identity.and_then(|i| i.get("principalId")).and_then(Value::as_str),
        };
        let who = match client {
            Some(c) => format!("the user-assigned identity with client id {c}"),
            None => "the service's system-assigned identity".to_string(),
        };
        let Some(principal) = principal else {
            return json!({"code": "IdentityNotFound", "timeStampUtc": now,
                "message": format!("{who} is not assigned to the service, so vault '{vault}' cannot be read.")});
        };
        let allowed = self.roles.values().any(|a| {
            let p = |k: &str| a.pointer(&format!("/properties/{k}")).and_then(Value::as_str).unwrap_or_default();
            let scope = key(p("scope"));
            let segs = scope.trim_start_matches('/').split('/').count();
            let at_vault = scope.ends_with(&format!("/providers/microsoft.keyvault/vaults/{}", key(&vault)));
            p("principalId").eq_ignore_ascii_case(principal)
                && (at_vault || (scope.starts_with("/subscriptions/") && segs <= 4))
                && SECRET_READERS.iter().any(|r| key(p("roleDefinitionId")).ends_with(r))
        });
        if allowed {
            json!({"code": "Success", "timeStampUtc": now})
        } else {
            json!({"code": "Forbidden", "timeStampUtc": now,
                "message": format!("Caller is not authorized to read secrets of vault '{vault}': {who} (principal {principal}) holds no Key Vault secrets role on it.")})
        }
    }
}

/// Whether `scope` is `target` or one of its parents, segment by segment.
fn covers(scope: &str, target: &str) -> bool {
    let (s, t) = (key(scope.trim_end_matches('/')), key(target));
    t == s || t.starts_with(&format!("{s}/"))
}

/// Whether `principal` holds one of `roles` (GUIDs) at `target` or above.
pub(crate) fn has_role(st: &State, principal: &str, target: &str, roles: &[&str]) -> bool {
    st.roles.values().any(|a| {
        let p = |k: &str| a.pointer(&format!("/properties/{k}")).and_then(Value::as_str).unwrap_or_default();
        p("principalId").eq_ignore_ascii_case(principal)
            && covers(p("scope"), target)
            && roles.iter().any(|r| key(p("roleDefinitionId")).ends_with(r))
    })
}

impl App {
    /// `{scope}/providers/Microsoft.Authorization/roleAssignments/{name}`.
    pub(crate) fn role_assignment(&self, st: &mut State, r: &Req) -> Response {
        let scope = &r.names.scope;
        let name = &r.names.resource;
        let id = format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}");
        let k = key(&id);
        match *r.method {
            Method::GET => match st.roles.get(&k) {
                Some(a) => json(200, a),
                None => error(404, "RoleAssignmentNotFound", "The role assignment does not exist."),
            },
            Method::PUT => {
                let body = match parse_body(r) {
                    Ok(b) => b,
                    Err(e) => return e,
                };
                let props = body.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
                let field = |f: &str| props.get(f).and_then(Value::as_str).filter(|v| !v.is_empty());
                let (Some(role), Some(principal)) = (field("roleDefinitionId"), field("principalId")) else {
                    return error(
                        400,
                        "InvalidRoleAssignmentRequest",
                        "'roleDefinitionId' and 'principalId' are required.",
                    );
                };
                if let Some(existing) = st.roles.get(&k) {
                    return json(200, existing);
                }
                let clash = st.roles.values().any(|a| {
                    a.pointer("/properties/scope")
                        .and_then(Value::as_str)
                        .is_some_and(|s| key(s) == key(scope))
                        && a.pointer("/properties/principalId") == Some(&json!(principal))
                        && a.pointer("/properties/roleDefinitionId").and_then(Value::as_str).map(key) == Some(key(role))
                });
                if clash {
                    return error(409, "RoleAssignmentExists", "The role assignment already exists.");
                }
                let a = json!({
                    "id": id, "type": "Microsoft.Authorization/roleAssignments", "name": name,
                    "properties": {"roleDefinitionId": role, "principalId": principal,
                        "principalType": field("principalType").unwrap_or("ServicePrincipal"),
                        "scope": scope, "createdOn": rfc3339(now_ms()), "updatedOn": rfc3339(now_ms())}
                });
                st.roles.insert(k, a.clone());
                json(201, &a)
            }
            Method::DELETE => match st.roles.remove(&k) {
                Some(a) => json(200, &a),
                None => empty(204),
            },
            _ => method_not_allowed(r),
        }
    }

    /// `GET {scope}/providers/Microsoft.Authorization/roleAssignments`:
    /// with `$filter=atScope()` those at the scope and above; with
    /// `principalId eq '{id}'` that principal's at, above and below it;
    /// with no filter, all at, above and below it.
    pub(crate) fn list_role_assignments(&self, st: &State, r: &Req) -> Response {
        let scope = &r.names.scope;
        let filter = r.query.get("$filter").map(String::as_str).unwrap_or("").trim();
        let principal = filter.strip_prefix("principalId eq '").and_then(|rest| rest.strip_suffix('\''));
        if !filter.is_empty() && filter != "atScope()" && principal.is_none() {
            return error(400, "UnsupportedQuery", &format!("The filter '{filter}' is not supported."));
        }
        let value: Vec<&Value> = st
            .roles
            .values()
            .filter(|a| {
                let s = a.pointer("/properties/scope").and_then(Value::as_str).unwrap_or_default();
                let above = covers(s, scope);
                let below = covers(scope, s);
                let who = a.pointer("/properties/principalId").and_then(Value::as_str).unwrap_or_default();
                match (filter, principal) {
                    ("atScope()", _) => above,
                    (_, Some(p)) => (above || below) && who.eq_ignore_ascii_case(p),
                    _ => above || below,
                }
            })
            .collect();
        json(200, &json!({"value": value}))
    }
}

impl App {
    /// `{scope}/providers/Microsoft.Insights/diagnosticSettings/{name}`:
    /// where a resource sends its logs and metrics (Azure Monitor), kept
    /// outside the resource, so a backup never carries it.
    pub(crate) fn diagnostic_setting(&self, st: &mut State, r: &Req) -> Response {
        let id = format!(
            "{}/providers/Microsoft.Insights/diagnosticSettings/{}",
            r.names.scope, r.names.resource
        );
        let k = key(&id);
        match *r.method {
            Method::GET => match st.diagnostic_settings.get(&k) {
                Some(d) => json(200, d),
                None => error(404, "ResourceNotFound", "The diagnostic setting does not exist."),
            },
            Method::PUT => {
                let body = match parse_body(r) {
                    Ok(b) => b,
                    Err(e) => return e,
                };
                let props = body.get("properties").cloned().unwrap_or_else(|| json!({}));
                let sinks = [
                    "workspaceId",
                    "storageAccountId",
                    "eventHubAuthorizationRuleId",
                    "marketplacePartnerId",
                ];
                if !sinks.iter().any(|s| props.get(s).is_some_and(|v| v.is_string())) {
                    return error(
                        400,
                        "BadRequest",
                        "A diagnostic setting needs a destination: workspaceId, storageAccountId, eventHubAuthorizationRuleId or marketplacePartnerId.",
                    );
                }
                let d = json!({"id": id, "name": r.names.resource, "type": "Microsoft.Insights/diagnosticSettings", "properties": props});
                st.diagnostic_settings.insert(k, d.clone());
                json(200, &d)
            }
            Method::DELETE => match st.diagnostic_settings.remove(&k) {
                Some(_) => empty(200),
                None => empty(204),
            },
            _ => method_not_allowed(r),
        }
    }

    pub(crate) fn list_diagnostic_settings(&self, st: &State, r: &Req) -> Response {
        let prefix = format!("{}/providers/microsoft.insights/diagnosticsettings/", key(&r.names.scope));
        let value: Vec<&Value> = st
            .diagnostic_settings
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, v)| v)
            .collect();
        json(200, &json!({"value": value}))
    }
}
