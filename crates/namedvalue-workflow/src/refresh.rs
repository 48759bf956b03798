//! Key Vault named values after a copy: the target's identity is new, so
//! each reference is refreshed (waiting for a 202 to its end) and its
//! `lastStatus` read, so a vault the identity cannot read is found now and
//! not by the first call that needs the secret.

use crate::{context, Result};
use apim_documents::NamedValueStatusDoc;
use arm_client::{ArmClient, ResourceId};
use futures::{StreamExt, TryStreamExt};

/// Refreshes every Key Vault named value of the service, `parallel` at a
/// time, and says how each reads now, by name.
pub async fn refresh(arm: &ArmClient, service: &ResourceId, parallel: usize) -> Result<Vec<NamedValueStatusDoc>> {
    let listed = apim_ops::list_named_values(arm, service, None)
        .await
        .map_err(context("listing named values"))?;
    let names: Vec<String> = listed
        .iter()
        .filter(|b| NamedValueStatusDoc::from_arm(service, b).is_some())
        .filter_map(|b| b.get("name").and_then(|n| n.as_str()).map(str::to_string))
        .collect();
    let mut out: Vec<NamedValueStatusDoc> = futures::stream::iter(names.into_iter().map(|name| async move {
        let body = apim_ops::refresh_secret(arm, service, &name)
            .await
            .map_err(context(format!("refreshing '{name}'")))?;
        Ok::<_, crate::Error>(NamedValueStatusDoc::from_arm(service, &body))
    }))
    .buffer_unordered(parallel.max(1))
    .try_collect::<Vec<_>>()
    .await?
    .into_iter()
    .flatten()
    .collect();
    out.sort_by(|a, b| a.display_name.cmp(&b.display_name));
    Ok(out)
}

/// One line per named value that cannot read its vault, naming the
/// identity and the vault; empty when all can.
pub fn unreadable(statuses: &[NamedValueStatusDoc]) -> Vec<String> {
    statuses
        .iter()
        .filter(|s| !s.readable())
        .map(|s| {
            format!(
                "{} cannot read vault '{}' with {} ({}{})",
                s.display_name,
                s.vault(),
                s.reader(),
                s.code,
                s.message.as_deref().map(|m| format!(": {m}")).unwrap_or_default()
            )
        })
        .collect()
}

/// The identities the source's Key Vault references read with
/// (`identityClientId`, or `None` for the system identity), by named
/// value, that the target does not have: after the restore those
/// references could read nothing. `None` when the target has them all.
pub fn missing_identities(references: &[(String, Option<String>)], target: &serde_json::Value) -> Option<String> {
    let identity = target.get("identity");
    let has = |client: &Option<String>| match client {
        None => identity
            .and_then(|i| i.get("principalId"))
            .and_then(serde_json::Value::as_str)
            .is_some(),
        Some(c) => identity
            .and_then(|i| i.get("userAssignedIdentities"))
            .and_then(serde_json::Value::as_object)
            .is_some_and(|m| {
                m.values().any(|v| {
                    v.get("clientId")
                        .and_then(serde_json::Value::as_str)
                        .is_some_and(|x| x.eq_ignore_ascii_case(c))
                })
            }),
    };
    let mut missing: Vec<String> = references
        .iter()
        .filter(|(_, c)| !has(c))
        .map(|(name, c)| match c {
            Some(c) => format!("{name} (user-assigned identity {c})"),
            None => format!("{name} (the system-assigned identity)"),
        })
        .collect();
    missing.sort();
    let shown = if missing.len() > 5 {
        format!("{} and {} more", missing[..5].join(", "), missing.len() - 5)
    } else {
        missing.join(", ")
    };
    (!missing.is_empty()).then(|| {
        format!(
            "the target lacks the identity these Key Vault references read with: {shown}; assign it to the target first (apim-provision service --like SOURCE --update carries identities)"
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_key_vault_reference_needs_its_identity_on_the_target() {
        let refs = vec![("kv-a".to_string(), None), ("kv-b".to_string(), Some("C-1".to_string()))];
        let target = serde_json::json!({"identity": {"principalId": "p", "userAssignedIdentities": {"/x": {"clientId": "c-1"}}}});
        assert_eq!(missing_identities(&refs, &target), None);
        let bare = serde_json::json!({});
        let said = missing_identities(&refs, &bare).unwrap();
        assert!(
            said.contains("kv-a (the system-assigned identity)") && said.contains("kv-b (user-assigned identity C-1)"),
            "{said}"
        );
    }

    #[test]
    fn a_failing_reference_names_its_identity_and_vault() {
        let sid: ResourceId = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/a"
            .parse()
            .unwrap();
        let ok = json!({"name": "a", "properties": {"displayName": "a", "keyVault": {"secretIdentifier": "https://kv-one.vault.azure.net/secrets/x", "lastStatus": {"code": "Success"}}}});
        let bad = json!({"name": "b", "properties": {"displayName": "b", "keyVault": {"secretIdentifier": "https://kv-two.vault.azure.net/secrets/y", "identityClientId": "c-1", "lastStatus": {"code": "Forbidden", "message": "no role"}}}});
        let plain = json!({"name": "c", "properties": {"displayName": "c", "value": "1"}});
        assert!(NamedValueStatusDoc::from_arm(&sid, &plain).is_none());
        let s: Vec<_> = [ok, bad].iter().filter_map(|b| NamedValueStatusDoc::from_arm(&sid, b)).collect();
        let lines = unreadable(&s);
        assert_eq!(
            lines,
            ["b cannot read vault 'kv-two' with the user-assigned identity c-1 (Forbidden: no role)"]
        );
    }
}
