//! A target made like its source in what a backup never carries: custom
//! hostnames (with their Key Vault certificate references, hosts
//! rewritten), protocol and cipher settings, identities, the API version
//! constraint and its Azure Monitor diagnostic settings; and, asked for,
//! the roles the source's system identity holds, given to the target's at
//! the same scopes, so the copy reaches the same vaults and storage.
//! `plan`, `missing_roles` and `missing_diagnostics` are pure; `apply`
//! writes.

use crate::{arm, ops, ProvisionError, Result};
use apim_ops::API_VERSION;
use arm_client::{ArmClient, FinalStateVia, Method, ResourceId};
use serde_json::{json, Map, Value};

/// The service settings `--like` carries (of the service settings family).
pub const CARRIED: &[&str] = &["hostnameConfigurations", "customProperties", "identity", "apiVersionConstraint"];

/// The role-assignment api-version.
const ROLES_API_VERSION: &str = "2022-04-01";
/// The Azure Monitor diagnostic settings api-version.
const DIAGNOSTICS_API_VERSION: &str = "2021-05-01-preview";

/// One setting to change, or one role to give.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    /// `hostnameConfigurations`, …, or `roleAssignment`.
    pub setting: String,
    /// What the source has (hosts rewritten); for a role, its scope and definition.
    pub want: Value,
    /// What the target has now.
    pub now: Value,
}

/// The settings in which the target differs from the source (after the
/// host rewrites), each with what it wants and what it has; settings of
/// the family that `--like` does not carry (SKU, network) are named in
/// `not_carried` when they differ.
pub fn plan(source: &Value, target: &Value, hosts: &[(String, String)]) -> (Vec<Change>, Vec<String>) {
    let sid = |v: &Value| v.get("id").and_then(Value::as_str).unwrap_or_default().to_string();
    let mut want = apim_inventory::normalize_service(source, &sid(source));
    namedvalue_rewrite::host::replace_in_json(&mut want, hosts);
    let now = apim_inventory::normalize_service(target, &sid(target));
    let get = |v: &Value, k: &str| v.get(k).cloned().unwrap_or(Value::Null);
    let changes = CARRIED
        .iter()
        .filter(|k| !same(&get(&want, k), &get(&now, k)))
        .map(|k| Change {
            setting: k.to_string(),
            want: get(&want, k),
            now: get(&now, k),
        })
        .collect();
    let not_carried = apim_families::SERVICE_SETTINGS
        .iter()
        .filter(|k| !CARRIED.contains(k) && get(&want, k) != get(&now, k))
        .map(|k| k.to_string())
        .collect();
    (changes, not_carried)
}

/// Identities compare by kind and by which user-assigned ones; a custom
/// property left out is the default either way.
fn same(a: &Value, b: &Value) -> bool {
    a == b || (a.is_null() && b.as_object().is_some_and(Map::is_empty)) || (b.is_null() && a.as_object().is_some_and(Map::is_empty))
}

/// The PATCH that makes the target's settings the wanted ones. Hostnames
/// keep the target's own built-in (default domain) entries.
pub fn patch_body(changes: &[Change], target: &Value) -> Value {
    let mut props = Map::new();
    let mut body = json!({});
    for c in changes {
        match c.setting.as_str() {
            "identity" => {
                let mut identity = json!({"type": c.want.get("type").cloned().unwrap_or(json!("None"))});
                if let Some(ua) = c.want.get("userAssignedIdentities").and_then(Value::as_object) {
                    let ids: Map<String, Value> = ua.keys().map(|k| (k.clone(), json!({}))).collect();
                    identity["userAssignedIdentities"] = Value::Object(ids);
                }
                body["identity"] = identity;
            }
            "hostnameConfigurations" => {
                let mut all: Vec<Value> = target
                    .pointer("/properties/hostnameConfigurations")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                    .filter(|h| h.get("certificateSource").and_then(Value::as_str) == Some("BuiltIn"))
                    .cloned()
                    .collect();
                all.extend(c.want.as_array().cloned().unwrap_or_default());
                props.insert(c.setting.clone(), Value::Array(all));
            }
            s if s == "roleAssignment" || s.starts_with("diagnosticSettings/") => {}
            other => {
                props.insert(other.to_string(), c.want.clone());
            }
        }
    }
    if !props.is_empty() {
        body["properties"] = Value::Object(props);
    }
    body
}

/// The role assignments `principal` holds, anywhere in the subscription.
pub async fn roles_of(arm_client: &ArmClient, subscription: &str, principal: &str) -> Result<Vec<Value>> {
    let mut url = arm_client.url(
        &format!("/subscriptions/{subscription}/providers/Microsoft.Authorization/roleAssignments"),
        ROLES_API_VERSION,
    );
    url.query_pairs_mut()
        .append_pair("$filter", &format!("principalId eq '{principal}'"));
    arm_client.list(url).await.map_err(arm("reading role assignments"))
}

/// The roles (scope and definition) the source holds and the target does not.
pub fn missing_roles(source_roles: &[Value], target_roles: &[Value]) -> Vec<Change> {
    let pair = |r: &Value| {
        let p = |k: &str| {
            r.pointer(&format!("/properties/{k}"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_ascii_lowercase()
        };
        (p("scope"), p("roleDefinitionId"))
    };
    let held: Vec<(String, String)> = target_roles.iter().map(pair).collect();
    let mut out: Vec<Change> = source_roles
        .iter()
        .filter(|r| !held.contains(&pair(r)))
        .map(|r| {
            let p = |k: &str| r.pointer(&format!("/properties/{k}")).cloned().unwrap_or(Value::Null);
            Change {
                setting: "roleAssignment".into(),
                want: json!({"scope": p("scope"), "roleDefinitionId": p("roleDefinitionId")}),
                now: Value::Null,
            }
        })
        .collect();
    out.sort_by_key(|c| c.want.to_string());
    out.dedup();
    out
}

/// The service's Azure Monitor diagnostic settings (they live beside it).
pub async fn diagnostic_settings(arm_client: &ArmClient, service: &ResourceId) -> Result<Vec<Value>> {
    let url = arm_client.url(
        &format!("{service}/providers/Microsoft.Insights/diagnosticSettings"),
        DIAGNOSTICS_API_VERSION,
    );
    arm_client.list(url).await.map_err(arm("reading diagnostic settings"))
}

/// The source's diagnostic settings the target lacks or has otherwise, by name.
pub fn missing_diagnostics(source: &[Value], target: &[Value]) -> Vec<Change> {
    let name = |d: &Value| d.get("name").and_then(Value::as_str).unwrap_or_default().to_string();
    source
        .iter()
        .filter_map(|d| {
            let want = d.get("properties").cloned().unwrap_or(Value::Null);
            let now = target
                .iter()
                .find(|t| name(t).eq_ignore_ascii_case(&name(d)))
                .and_then(|t| t.get("properties").cloned())
                .unwrap_or(Value::Null);
            (want != now).then(|| Change {
                setting: format!("diagnosticSettings/{}", name(d)),
                want,
                now,
            })
        })
        .collect()
}

/// The system identity's principal of a service body.
pub fn system_principal(service: &Value) -> Option<String> {
    service.pointer("/identity/principalId").and_then(Value::as_str).map(str::to_string)
}

/// Writes the settings (one PATCH, waited for) and then gives the roles to
/// the target's system identity as it is once the PATCH has ended (the
/// PATCH may have turned it on). The service as it is afterwards.
pub async fn apply(arm_client: &ArmClient, target: &ResourceId, changes: &[Change], current: &Value) -> Result<Value> {
    let url = arm_client.url(&target.to_string(), API_VERSION);
    let body = patch_body(changes, current);
    if body.get("properties").is_some() || body.get("identity").is_some() {
        let r = arm_client
            .send(Method::PATCH, url.clone(), Some(&body), &[])
            .await
            .and_then(|r| r.success())
            .map_err(arm(format!("updating {}", target.name().unwrap_or_default())))?;
        if let Some(op) = arm_client.operation(&r, &url, FinalStateVia::AzureAsyncOperation) {
            arm_client.wait_until_done(op).await.map_err(|e| match e {
                arm_client::WaitError::Failed(e) => ProvisionError::Arm {
                    what: format!("updating {}", target.name().unwrap_or_default()),
                    source: Box::new(e),
                },
                arm_client::WaitError::Stopped(_) => ProvisionError::Interrupted(format!(
                    "waiting for the update of {} (it goes on in Azure)",
                    target.name().unwrap_or_default()
                )),
            })?;
        }
    }
    let now = apim_ops::get_service(arm_client, target)
        .await
        .map_err(ops("reading the target"))?
        .unwrap_or(Value::Null);
    for c in changes {
        let Some(name) = c.setting.strip_prefix("diagnosticSettings/") else {
            continue;
        };
        let url = arm_client.url(
            &format!("{target}/providers/Microsoft.Insights/diagnosticSettings/{name}"),
            DIAGNOSTICS_API_VERSION,
        );
        arm_client
            .send(Method::PUT, url, Some(&json!({"properties": c.want})), &[])
            .await
            .and_then(|r| r.success())
            .map_err(arm(format!("writing diagnostic setting {name}")))?;
    }
    let roles: Vec<&Change> = changes.iter().filter(|c| c.setting == "roleAssignment").collect();
    if !roles.is_empty() {
        let principal = system_principal(&now).ok_or_else(|| {
            ProvisionError::Refused(format!(
                "{} has no system-assigned identity to give the roles to; turn it on (its source's identity is carried with the settings)",
                target.name().unwrap_or_default()
            ))
        })?;
        for c in roles {
            let scope = c.want["scope"].as_str().unwrap_or_default();
            let role = c.want["roleDefinitionId"].as_str().unwrap_or_default();
            let name = assignment_name(scope, role, &principal);
            let url = arm_client.url(
                &format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}"),
                ROLES_API_VERSION,
            );
            let body = json!({"properties": {"roleDefinitionId": role, "principalId": principal, "principalType": "ServicePrincipal"}});
            let r = arm_client
                .send(Method::PUT, url, Some(&body), &[])
                .await
                .map_err(arm("giving a role"))?;
            // Given already (by an earlier run): nothing to do.
            if r.status != 409 {
                r.success().map_err(arm(format!("giving {role} at {scope}")))?;
            }
        }
    }
    Ok(now)
}

/// A role assignment's name: a GUID that depends only on what it assigns,
/// so a second run finds the first's.
fn assignment_name(scope: &str, role: &str, principal: &str) -> String {
    let seed = format!("{}|{}|{}", scope.to_ascii_lowercase(), role.to_ascii_lowercase(), principal);
    let h = |salt: u64| {
        seed.bytes()
            .fold(0xcbf29ce484222325u64 ^ salt, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
    };
    let (a, b) = (h(1), h(2));
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(name: &str, extra: Value) -> Value {
        let mut s = json!({"id": format!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/{name}"),
            "sku": {"name": "Developer", "capacity": 1},
            "properties": {"hostnameConfigurations": [{"type": "Proxy", "hostName": format!("{name}.azure-api.net"), "certificateSource": "BuiltIn"}],
                "customProperties": {"Tls10": "False"}}});
        if let (Some(m), Some(e)) = (s.as_object_mut(), extra.as_object()) {
            for (k, v) in e {
                if k == "properties" {
                    m["properties"].as_object_mut().unwrap().extend(v.as_object().unwrap().clone());
                } else {
                    m.insert(k.clone(), v.clone());
                }
            }
        }
        s
    }

    #[test]
    fn hosts_protocols_and_identities_are_planned_with_hosts_rewritten() {
        let src = service(
            "src",
            json!({"identity": {"type": "SystemAssigned, UserAssigned", "principalId": "p-src", "userAssignedIdentities": {"/ua/ops": {"clientId": "c", "principalId": "u"}}},
                "properties": {"customProperties": {"Tls10": "True"}, "hostnameConfigurations": [
                    {"type": "Proxy", "hostName": "src.azure-api.net", "certificateSource": "BuiltIn"},
                    {"type": "Proxy", "hostName": "api.src.example.com", "certificateSource": "KeyVault", "keyVaultId": "https://kv.vault.azure.net/secrets/gw"}]}}),
        );
        let dest = service("dest", json!({}));
        let hosts = [("api.src.example.com".to_string(), "api.dest.example.com".to_string())];
        let (changes, not_carried) = plan(&src, &dest, &hosts);
        let names: Vec<&str> = changes.iter().map(|c| c.setting.as_str()).collect();
        assert_eq!(names, ["hostnameConfigurations", "customProperties", "identity"]);
        assert!(not_carried.is_empty());
        assert_eq!(changes[0].want[0]["hostName"], "api.dest.example.com");
        let body = patch_body(&changes, &dest);
        let hosts = body["properties"]["hostnameConfigurations"].as_array().unwrap();
        assert_eq!(hosts.len(), 2, "the target's default host stays: {hosts:?}");
        assert_eq!(hosts[0]["hostName"], "dest.azure-api.net");
        assert_eq!(
            body["identity"],
            json!({"type": "SystemAssigned, UserAssigned", "userAssignedIdentities": {"/ua/ops": {}}})
        );
        // Once applied, nothing is left to plan.
        let mut done = dest.clone();
        done["properties"]["hostnameConfigurations"] = json!(hosts);
        done["properties"]["customProperties"] = json!({"Tls10": "True"});
        done["identity"] = json!({"type": "SystemAssigned, UserAssigned", "principalId": "p-dest", "userAssignedIdentities": {"/ua/ops": {"clientId": "c", "principalId": "u"}}});
        let hosts = [("api.src.example.com".to_string(), "api.dest.example.com".to_string())];
        assert!(plan(&src, &done, &hosts).0.is_empty());
    }

    #[test]
    fn a_role_the_target_lacks_is_planned_once_and_its_name_is_stable() {
        let role = |scope: &str, def: &str| json!({"properties": {"scope": scope, "roleDefinitionId": def, "principalId": "x"}});
        let src = [
            role("/v/kv", "/r/secrets-user"),
            role("/v/kv", "/r/secrets-user"),
            role("/s/st", "/r/blob"),
        ];
        let dest = [role("/S/ST", "/R/BLOB")];
        let missing = missing_roles(&src, &dest);
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].want["scope"], "/v/kv");
        assert_eq!(assignment_name("/v/kv", "r", "p"), assignment_name("/V/KV", "R", "p"));
        assert_ne!(assignment_name("/v/kv", "r", "p"), assignment_name("/v/kv", "r", "q"));
    }
}
