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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
