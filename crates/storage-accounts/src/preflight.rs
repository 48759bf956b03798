//! What makes Azure refuse a backup or restore for reasons of the storage
//! account, found before any freeze: each refusal of the blob service
//! (a CORS rule), the firewall, shared-key access and the identity's data
//! role is a pure check of what ARM reports (`refusals`); `read` gathers
//! those reports.

use arm_client::{ArmClient, ResourceId};
use serde_json::Value;

/// The role-assignment api-version, deployed in every cloud.
pub const ROLES_API_VERSION: &str = "2022-04-01";

/// Built-in roles that let an identity write blobs (a backup) or read
/// them (a restore), by role-definition GUID. Custom roles are not known
/// here: `--skip-role-check` is for them.
pub const BLOB_WRITERS: &[(&str, &str)] = &[
    ("ba92f5b4-2d11-453d-a403-e96b0029c9fe", "Storage Blob Data Contributor"),
    ("b7e6dc6d-f1e8-4753-8033-0f276bb0955b", "Storage Blob Data Owner"),
];
pub const BLOB_READERS: &[(&str, &str)] = &[("2a2b9908-6ea1-4ae2-8e65-a410df84e7d1", "Storage Blob Data Reader")];

/// How the service reaches the account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Access {
    Key,
    /// A managed identity, by its principal (object) id when known.
    Identity {
        principal_id: Option<String>,
    },
}

/// What ARM reports, gathered by [`read`].
#[derive(Debug, Clone, Default)]
pub struct Facts {
    pub account: Value,
    /// `blobServices/default`; `None` when ARM does not show it.
    pub blob_service: Option<Value>,
    /// The identity's role assignments at, above or below the account;
    /// `None` when they were not read (an access key, or the check skipped).
    pub roles: Option<Vec<Value>>,
    /// The container's id, the narrowest scope a role may be given at.
    pub container_id: String,
}

/// Every reason Azure will refuse the operation, each naming its fix;
/// empty when none is known.
pub fn refusals(f: &Facts, access: &Access, restore: bool) -> Vec<String> {
    let name = f.account.get("name").and_then(Value::as_str).unwrap_or("the account");
    let p = |k: &str| f.account.pointer(&format!("/properties/{k}"));
    let what = if restore { "restore" } else { "backup" };
    let mut out = Vec::new();
    let cors = f
        .blob_service
        .as_ref()
        .and_then(|b| b.pointer("/properties/cors/corsRules"))
        .and_then(Value::as_array)
        .map_or(0, Vec::len);
    if cors > 0 {
        out.push(format!(
            "the blob service of storage account '{name}' has {cors} CORS rule(s), and API Management's {what} fails with InvalidParameters while any is set: remove them (az storage account blob-service-properties update --account-name {name} --enable-cors false, or clear the rules in the portal)"
        ));
    }
    let acls = p("networkAcls");
    let denies = acls.and_then(|a| a.get("defaultAction")).and_then(Value::as_str) == Some("Deny")
        || p("publicNetworkAccess").and_then(Value::as_str) == Some("Disabled");
    let trusted = acls
        .and_then(|a| a.get("bypass"))
        .and_then(Value::as_str)
        .is_some_and(|b| b.split(',').any(|x| x.trim() == "AzureServices"));
    match access {
        Access::Key if denies => out.push(format!(
            "storage account '{name}' lets only selected networks in, and with an access key API Management's {what} comes from its control plane, which no network rule admits: use --access-type system-identity (or user-identity) with the trusted Azure services exception, or allow public network access for the {what}"
        )),
        Access::Identity { .. } if denies && !trusted => out.push(format!(
            "storage account '{name}' lets only selected networks in and has no trusted Azure services exception: add it (networkAcls.bypass AzureServices) so API Management's managed identity can reach the account"
        )),
        _ => {}
    }
    if *access == Access::Key && p("allowSharedKeyAccess").and_then(Value::as_bool) == Some(false) {
        out.push(format!(
            "storage account '{name}' refuses shared keys (allowSharedKeyAccess is false), so an access-key {what} fails: use --access-type system-identity or user-identity with a data role on the account"
        ));
    }
    if let (Access::Identity { principal_id: None }, Some(_)) = (access, &f.roles) {
        out.push(format!(
            "the service has no such managed identity (its system-assigned identity is off, or no user-assigned identity has that client id), so API Management cannot reach storage account '{name}' with it: turn it on, or choose another --access-type"
        ));
        return out;
    }
    if let (Access::Identity { principal_id }, Some(roles)) = (access, &f.roles) {
        let mut enough: Vec<&(&str, &str)> = BLOB_WRITERS.iter().collect();
        if restore {
            enough.extend(BLOB_READERS);
        }
        let held = roles.iter().any(|r| {
            let def = r
                .pointer("/properties/roleDefinitionId")
                .and_then(Value::as_str)
                .unwrap_or_default();
            let scope = r.pointer("/properties/scope").and_then(Value::as_str).unwrap_or_default();
            let covers = f.container_id.to_ascii_lowercase().starts_with(&scope.to_ascii_lowercase());
            covers && enough.iter().any(|(guid, _)| def.to_ascii_lowercase().ends_with(guid))
        });
        if !held {
            let who = principal_id.as_deref().unwrap_or("its managed identity");
            let role = if restore {
                "Storage Blob Data Reader"
            } else {
                "Storage Blob Data Contributor"
            };
            out.push(format!(
                "the service's managed identity ({who}) holds no blob data role on storage account '{name}': give it {role} on the account (az role assignment create --assignee {who} --role \"{role}\" --scope ACCOUNT_ID), or pass --skip-role-check if a custom role grants it"
            ));
        }
    }
    out
}

/// Reads what [`refusals`] judges: the account, its blob service, and
/// (for an identity, unless `skip_roles`) the identity's role assignments.
pub async fn read(
    arm: &ArmClient,
    account_id: &ResourceId,
    container: &str,
    access: &Access,
    skip_roles: bool,
) -> Result<Facts, arm_client::Error> {
    let account = arm
        .get(arm.url(&account_id.to_string(), crate::API_VERSION))
        .await?
        .unwrap_or(Value::Null);
    let blob_service = arm
        .get(arm.url(&format!("{account_id}/blobServices/default"), crate::API_VERSION))
        .await?;
    let roles = match access {
        Access::Identity { principal_id: Some(pid) } if !skip_roles => {
            let mut url = arm.url(
                &format!("{account_id}/providers/Microsoft.Authorization/roleAssignments"),
                ROLES_API_VERSION,
            );
            url.query_pairs_mut().append_pair("$filter", &format!("principalId eq '{pid}'"));
            Some(arm.list(url).await?)
        }
        Access::Identity { principal_id: None } if !skip_roles => Some(Vec::new()),
        _ => None,
    };
    Ok(Facts {
        account,
        blob_service,
        roles,
        container_id: format!("{account_id}/blobServices/default/containers/{container}"),
    })
}

/// The principal id of the identity the service uses: its system identity,
/// or the user-assigned one with this client id.
pub fn principal_of(service: &Value, client_id: Option<&str>) -> Option<String> {
    let identity = service.get("identity")?;
    match client_id {
        None => identity.get("principalId").and_then(Value::as_str).map(str::to_string),
        Some(c) => identity
            .get("userAssignedIdentities")
            .and_then(Value::as_object)?
            .values()
            .find(|v| v.get("clientId").and_then(Value::as_str).is_some_and(|x| x.eq_ignore_ascii_case(c)))
            .and_then(|v| v.get("principalId"))
            .and_then(Value::as_str)
            .map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const ACCOUNT: &str = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/backups";

    fn facts(props: Value, cors: usize, roles: Option<Vec<Value>>) -> Facts {
        let rules: Vec<Value> = (0..cors).map(|_| json!({"allowedOrigins": ["*"]})).collect();
        Facts {
            account: json!({"name": "backups", "properties": props}),
            blob_service: Some(json!({"properties": {"cors": {"corsRules": rules}}})),
            roles,
            container_id: format!("{ACCOUNT}/blobServices/default/containers/apim"),
        }
    }

    fn role(guid: &str, scope: &str) -> Value {
        json!({"properties": {"roleDefinitionId": format!("/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/{guid}"), "scope": scope, "principalId": "p"}})
    }

    const MI: fn() -> Access = || Access::Identity {
        principal_id: Some("p".into()),
    };

    #[test]
    fn an_open_account_with_a_key_passes() {
        assert!(refusals(&facts(json!({}), 0, None), &Access::Key, false).is_empty());
    }

    #[test]
    fn each_refusal_is_found_and_names_its_fix() {
        let one = |f: &Facts, a: &Access, restore| {
            let r = refusals(f, a, restore);
            assert_eq!(r.len(), 1, "{r:?}");
            r[0].clone()
        };
        assert!(one(&facts(json!({}), 2, None), &Access::Key, false).contains("2 CORS rule(s)"));
        let firewall = json!({"networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"}});
        assert!(one(&facts(firewall.clone(), 0, None), &Access::Key, false).contains("--access-type system-identity"));
        let owner = role(BLOB_WRITERS[1].0, ACCOUNT);
        assert!(
            refusals(&facts(firewall, 0, Some(vec![owner.clone()])), &MI(), false).is_empty(),
            "trusted services pass"
        );
        let closed = json!({"networkAcls": {"defaultAction": "Deny", "bypass": "Logging"}});
        assert!(one(&facts(closed, 0, Some(vec![owner.clone()])), &MI(), false).contains("trusted Azure services"));
        assert!(one(&facts(json!({"allowSharedKeyAccess": false}), 0, None), &Access::Key, false).contains("refuses shared keys"));
        assert!(one(&facts(json!({}), 0, Some(vec![])), &MI(), false).contains("Storage Blob Data Contributor"));
    }

    #[test]
    fn a_role_counts_at_the_account_above_it_or_on_the_container_and_a_reader_only_restores() {
        let ok = |roles: Vec<Value>, restore| refusals(&facts(json!({}), 0, Some(roles)), &MI(), restore).is_empty();
        let writer = BLOB_WRITERS[0].0;
        assert!(ok(vec![role(writer, "/subscriptions/s/resourceGroups/rg")], false));
        assert!(ok(
            vec![role(writer, &format!("{ACCOUNT}/blobServices/default/containers/apim"))],
            false
        ));
        assert!(!ok(
            vec![role(writer, &format!("{ACCOUNT}/blobServices/default/containers/other"))],
            false
        ));
        assert!(!ok(vec![role(writer, "/subscriptions/s/resourceGroups/other")], false));
        let reader = BLOB_READERS[0].0;
        assert!(ok(vec![role(reader, ACCOUNT)], true));
        assert!(!ok(vec![role(reader, ACCOUNT)], false));
        // Owner of the account (control plane) is not a data role.
        assert!(!ok(vec![role("8e3af657-a8ff-443c-a75c-2fe8c4bcb635", ACCOUNT)], false));
    }

    #[test]
    fn the_principal_is_the_system_identity_or_the_named_user_identity() {
        let s = json!({"identity": {"principalId": "sys", "userAssignedIdentities": {"/x/ua": {"clientId": "C1", "principalId": "ua-p"}}}});
        assert_eq!(principal_of(&s, None).as_deref(), Some("sys"));
        assert_eq!(principal_of(&s, Some("c1")).as_deref(), Some("ua-p"));
        assert_eq!(principal_of(&s, Some("other")), None);
    }
}
