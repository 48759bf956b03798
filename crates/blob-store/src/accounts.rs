//! Storage accounts and blob containers: ARM resources.

use arm_client::{ArmClient, FinalStateVia, Method, PendingOperation, ResourceId};
use serde_json::{json, Value};

/// Storage account names: 3-24 lowercase letters and digits.
pub fn is_valid_account_name(name: &str) -> bool {
    (3..=24).contains(&name.len()) && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// Container names: 3-63 lowercase letters, digits and hyphens, every
/// hyphen between two letters or digits.
pub fn is_valid_container_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

/// A conservative Microsoft.Storage version, deployed in every cloud.
pub const API_VERSION: &str = "2023-05-01";

pub fn account_id(subscription: &str, group: &str, account: &str) -> ResourceId {
    ResourceId::resource(subscription, group, "Microsoft.Storage", "storageAccounts", account)
}

/// What [`ensure_account`] found or started.
#[derive(Debug)]
pub enum AccountState {
    Ready(Value),
    Creating(PendingOperation),
}

/// Creates a StorageV2 account for backups unless it exists. HTTPS only,
/// TLS 1.2, no public blob access: backups hold every secret of an instance.
pub async fn ensure_account(arm: &ArmClient, id: &ResourceId, location: &str, sku: &str) -> Result<AccountState, arm_client::Error> {
    let url = arm.url(&id.to_string(), API_VERSION);
    if let Some(existing) = arm.get(url.clone()).await? {
        return Ok(AccountState::Ready(existing));
    }
    let body = json!({
        "location": location,
        "sku": {"name": sku},
        "kind": "StorageV2",
        "properties": {"minimumTlsVersion": "TLS1_2", "allowBlobPublicAccess": false, "supportsHttpsTrafficOnly": true},
    });
    let r = arm.send(Method::PUT, url.clone(), Some(&body), &[]).await?.success()?;
    match arm.operation(&r, &url, FinalStateVia::OriginalUri) {
        Some(op) if r.status == 202 => Ok(AccountState::Creating(op)),
        _ if r.body.is_empty() => Ok(AccountState::Ready(arm.get(url).await?.unwrap_or(Value::Null))),
        _ => Ok(AccountState::Ready(r.json()?)),
    }
}

/// The account's first key with full permissions.
pub async fn account_key(arm: &ArmClient, id: &ResourceId) -> Result<String, arm_client::Error> {
    let url = arm.url(&format!("{id}/listKeys"), API_VERSION);
    let keys: Value = arm.post_read(url).await?.success()?.json()?;
    keys.get("keys")
        .and_then(Value::as_array)
        .and_then(|ks| {
            ks.iter().find(|k| {
                k.get("permissions")
                    .and_then(Value::as_str)
                    .is_some_and(|p| p.eq_ignore_ascii_case("full"))
            })
        })
        .and_then(|k| k.get("value"))
        .and_then(Value::as_str)
        .map(str::to_string)
        .ok_or_else(|| arm_client::Error::Decode {
            url: format!("{id}/listKeys"),
            message: "no key with Full permissions".into(),
        })
}

/// Creates the container through ARM unless it exists; `true` if created.
pub async fn ensure_container(arm: &ArmClient, account: &ResourceId, container: &str) -> Result<bool, arm_client::Error> {
    let url = arm.url(&format!("{account}/blobServices/default/containers/{container}"), API_VERSION);
    if arm.get(url.clone()).await?.is_some() {
        return Ok(false);
    }
    arm.send(Method::PUT, url, Some(&json!({})), &[]).await?.success()?;
    Ok(true)
}

/// `primaryEndpoints.blob` of an account resource.
pub fn blob_endpoint(account: &Value) -> Option<&str> {
    account.pointer("/properties/primaryEndpoints/blob").and_then(Value::as_str)
}

/// How the toolkit reaches one storage account's blobs.
pub struct AccountAccess {
    pub client: crate::BlobClient,
    /// The account key, for operations that hand it to APIM; `None` when it
    /// cannot be listed or the account refuses shared keys.
    pub key: Option<String>,
    /// `primaryEndpoints.blob` as ARM reports it now.
    pub endpoint: String,
}

/// A data-plane client for the account: Shared Key when the caller may
/// list its keys and the account accepts them, an Entra ID token otherwise.
pub async fn blob_client(arm: &ArmClient, account_id: &ResourceId, fallback_endpoint: &str) -> Result<AccountAccess, crate::BlobError> {
    let name = account_id.name().unwrap_or_default();
    let account = arm
        .get(arm.url(&account_id.to_string(), API_VERSION))
        .await
        .map_err(|e| crate::BlobError::Config(format!("storage account {name}: {e}")))?;
    let shared_key_allowed = account
        .as_ref()
        .and_then(|a| a.pointer("/properties/allowSharedKeyAccess"))
        .and_then(Value::as_bool)
        .unwrap_or(true);
    let endpoint = account
        .as_ref()
        .and_then(blob_endpoint)
        .map(str::to_string)
        .unwrap_or_else(|| fallback_endpoint.to_string());
    let key = if shared_key_allowed {
        account_key(arm, account_id).await.ok()
    } else {
        None
    };
    let auth = match &key {
        Some(k) => crate::BlobAuth::SharedKey { key: k.clone() },
        None => {
            let token = arm
                .tokens()
                .token(arm_auth::STORAGE_SCOPE)
                .await
                .map_err(|e| crate::BlobError::Config(format!("storage account {name}: no key and no token: {e}")))?;
            crate::BlobAuth::Bearer {
                token: token.secret().to_string(),
            }
        }
    };
    Ok(AccountAccess {
        client: crate::BlobClient::new(arm.http().clone(), &endpoint, name, auth)?,
        key,
        endpoint,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_valid_account_name("apimbackups2"));
        for bad in ["ab", "Apim", "apim-backups", "a234567890123456789012345"] {
            assert!(!is_valid_account_name(bad), "{bad}");
        }
        assert!(is_valid_container_name("apim-backups"));
        for bad in ["ab", "-abc", "abc-", "a--b", "Abc", "a_b"] {
            assert!(!is_valid_container_name(bad), "{bad}");
        }
    }
}
