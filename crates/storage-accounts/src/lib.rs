//! Storage accounts and blob containers as ARM resources (create, get,
//! listKeys, container create), and a data-plane client for an account
//! that authorises the way the account and the caller allow.

use arm_auth::TokenSource;
use arm_client::{ArmClient, FinalStateVia, Method, Progress, ResourceId};
use blob_store::{BlobAuth, BlobClient, BlobError, TokenProvider};
use serde_json::{json, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

pub use blob_store::names::{is_valid_account_name, is_valid_container_name};

/// A conservative Microsoft.Storage version, deployed in every cloud.
pub const API_VERSION: &str = "2023-05-01";

pub fn account_id(subscription: &str, group: &str, account: &str) -> ResourceId {
    ResourceId::resource(subscription, group, "Microsoft.Storage", "storageAccounts", account)
}

/// What [`ensure_account`] found (`Done`, the account) or started.
pub type AccountState = Progress<Value>;

/// Creates a StorageV2 account for backups unless it exists. HTTPS only,
/// TLS 1.2, no public blob access: backups hold every secret of an instance.
pub async fn ensure_account(arm: &ArmClient, id: &ResourceId, location: &str, sku: &str) -> Result<AccountState, arm_client::Error> {
    let url = arm.url(&id.to_string(), API_VERSION);
    if let Some(existing) = arm.get(url.clone()).await? {
        return Ok(Progress::Done(existing));
    }
    let body = json!({
        "location": location,
        "sku": {"name": sku},
        "kind": "StorageV2",
        "properties": {"minimumTlsVersion": "TLS1_2", "allowBlobPublicAccess": false, "supportsHttpsTrafficOnly": true},
    });
    let r = arm.send(Method::PUT, url.clone(), Some(&body), &[]).await?.success()?;
    match arm.operation(&r, &url, FinalStateVia::OriginalUri) {
        Some(op) if r.status == 202 => Ok(Progress::Pending(op)),
        _ if r.body.is_empty() => Ok(Progress::Done(arm.get(url).await?.unwrap_or(Value::Null))),
        _ => Ok(Progress::Done(r.json()?)),
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
    pub client: BlobClient,
    /// The account key, for operations that hand it to APIM; `None` when
    /// the caller may not list it or the account refuses shared keys.
    pub key: Option<String>,
    /// `primaryEndpoints.blob` as ARM reports it now.
    pub endpoint: String,
}

/// A data-plane client for the account: Shared Key when the caller may
/// list its keys and the account accepts them, an Entra ID token otherwise.
/// Only a refusal to list the keys (403) falls back to a token: a throttled
/// or failed listKeys is an error, not a silent change of how we sign.
pub async fn blob_client(arm: &ArmClient, account_id: &ResourceId, fallback_endpoint: &str) -> Result<AccountAccess, BlobError> {
    let name = account_id.name().unwrap_or_default();
    let account = arm
        .get(arm.url(&account_id.to_string(), API_VERSION))
        .await
        .map_err(|e| BlobError::Config(format!("storage account {name}: {e}")))?;
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
        match account_key(arm, account_id).await {
            Ok(k) => Some(k),
            Err(e) if key_refused(&e) => None,
            Err(e) => return Err(BlobError::Config(format!("storage account {name}: listing its keys: {e}"))),
        }
    } else {
        None
    };
    let auth = match &key {
        Some(k) => BlobAuth::SharedKey { key: k.clone() },
        None => BlobAuth::Bearer {
            tokens: Arc::new(StorageTokens(arm.tokens().clone())),
        },
    };
    Ok(AccountAccess {
        client: BlobClient::new(arm.http().clone(), &endpoint, name, auth)?,
        key,
        endpoint,
    })
}

/// Whether a listKeys failure means "you may not have the key" (so a token
/// is the way in) rather than a failure to report.
pub fn key_refused(e: &arm_client::Error) -> bool {
    e.status() == Some(403)
}

/// Storage-scoped tokens from the toolkit's token source, asked for anew on
/// every request (the source caches and refreshes them).
struct StorageTokens(Arc<TokenSource>);

impl TokenProvider for StorageTokens {
    fn token(&self) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + '_>> {
        Box::pin(async move {
            self.0
                .token(arm_auth::STORAGE_SCOPE)
                .await
                .map(|t| t.secret().to_string())
                .map_err(|e| e.to_string())
        })
    }

    fn rejected<'a>(&'a self, rejected: &'a str) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move { self.0.invalidate_secret(arm_auth::STORAGE_SCOPE, rejected).await })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_refusal_falls_back_to_a_token() {
        let arm = |status: u16| {
            arm_client::Error::from(arm_client::ArmError::from_response(
                status,
                br#"{"error":{"code":"X","message":"m"}}"#,
                None,
            ))
        };
        assert!(key_refused(&arm(403)));
        for status in [429, 500, 503, 404] {
            assert!(!key_refused(&arm(status)), "{status}");
        }
        let network = arm_client::Error::Network {
            url: "u".into(),
            message: "reset".into(),
        };
        assert!(!key_refused(&network));
    }
}
