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

pub mod preflight;

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

/// The container resource through ARM (with its `publicAccess`); `None`
/// when it does not exist.
pub async fn get_container(arm: &ArmClient, account: &ResourceId, container: &str) -> Result<Option<Value>, arm_client::Error> {
    arm.get(arm.url(&format!("{account}/blobServices/default/containers/{container}"), API_VERSION))
        .await
}

/// What makes an account or container unfit to hold backups, which carry
/// every secret of an instance: anonymous read access, plain http, TLS
/// older than 1.2. Settings ARM does not report are not guessed at.
pub fn insecure_settings(account: &Value, container: Option<&Value>) -> Vec<String> {
    let p = |k: &str| account.pointer(&format!("/properties/{k}"));
    let mut out = Vec::new();
    if p("allowBlobPublicAccess").and_then(Value::as_bool) == Some(true) {
        out.push("the account allows public blob access (allowBlobPublicAccess)".to_string());
    }
    if p("supportsHttpsTrafficOnly").and_then(Value::as_bool) == Some(false) {
        out.push("the account accepts plain http (supportsHttpsTrafficOnly is false)".to_string());
    }
    if let Some(tls) = p("minimumTlsVersion").and_then(Value::as_str) {
        if matches!(tls, "TLS1_0" | "TLS1_1") {
            out.push(format!("the account accepts {tls} (minimumTlsVersion below TLS1_2)"));
        }
    }
    if let Some(access) = container
        .and_then(|c| c.pointer("/properties/publicAccess"))
        .and_then(Value::as_str)
    {
        if !access.eq_ignore_ascii_case("None") {
            out.push(format!("the container allows anonymous read access (publicAccess {access})"));
        }
    }
    out
}

/// `primaryEndpoints.blob` of an account resource.
pub fn blob_endpoint(account: &Value) -> Option<&str> {
    account.pointer("/properties/primaryEndpoints/blob").and_then(Value::as_str)
}

/// How the toolkit reaches one storage account's blobs.
pub struct AccountAccess {
    /// The account resource as ARM reports it now.
    pub account: Value,
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
///
/// The endpoint is the one ARM reports for the account now, never one a
/// document names: a key or token goes only where Azure says the account
/// lives, and only over https (plain http only on loopback, where the
/// emulator's Azurite runs).
pub async fn blob_client(arm: &ArmClient, account_id: &ResourceId) -> Result<AccountAccess, BlobError> {
    let name = account_id.name().unwrap_or_default();
    let account = arm
        .get(arm.url(&account_id.to_string(), API_VERSION))
        .await
        .map_err(|e| BlobError::Config(format!("storage account {name}: {e}")))?
        .ok_or_else(|| BlobError::Config(format!("storage account '{account_id}' does not exist")))?;
    let endpoint = blob_endpoint(&account)
        .ok_or_else(|| BlobError::Config(format!("storage account {name} reports no blob endpoint")))?
        .to_string();
    check_endpoint(&endpoint).map_err(|e| BlobError::Config(format!("storage account {name}: {e}")))?;
    let shared_key_allowed = account
        .pointer("/properties/allowSharedKeyAccess")
        .and_then(Value::as_bool)
        .unwrap_or(true);
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
    // A key is signed for the account the endpoint serves: the host's on
    // Azure (`{name}.blob.core.windows.net`, the ARM name), the first path
    // segment on a path-style endpoint (Azurite, an IP endpoint), which a
    // rehearsal may back with another account than the ARM name.
    let signer = path_style_account(&endpoint).unwrap_or_else(|| name.to_string());
    let mut client = BlobClient::new(arm.http().clone(), &endpoint, &signer, auth)?;
    if let Some(log) = arm.logger() {
        client = client.with_logger(log);
    }
    Ok(AccountAccess {
        client,
        account,
        key,
        endpoint,
    })
}

/// The account a path-style endpoint names (`http://127.0.0.1:10000/acct/`).
pub fn path_style_account(endpoint: &str) -> Option<String> {
    let url = url::Url::parse(endpoint).ok()?;
    let first = url.path_segments()?.find(|s| !s.is_empty())?;
    is_valid_account_name(first).then(|| first.to_string())
}

/// A blob endpoint credentials may be sent to: https, or http on loopback.
pub fn check_endpoint(endpoint: &str) -> Result<(), String> {
    let url = url::Url::parse(endpoint).map_err(|e| format!("blob endpoint '{endpoint}' is not a URL: {e}"))?;
    let loopback = match url.host() {
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        None => false,
    };
    match url.scheme() {
        "https" => Ok(()),
        "http" if loopback => Ok(()),
        _ => Err(format!(
            "blob endpoint '{endpoint}' is not https; keys and tokens are only sent over https (plain http only to loopback)"
        )),
    }
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
    fn the_signing_account_is_the_one_the_endpoint_names() {
        assert_eq!(
            path_style_account("http://127.0.0.1:10000/apimbackups2/").as_deref(),
            Some("apimbackups2")
        );
        assert_eq!(
            path_style_account("https://contoso.blob.core.windows.net/"),
            None,
            "host-style: the ARM name"
        );
        assert_eq!(path_style_account("http://127.0.0.1:10000/Not_An_Account/"), None);
    }

    #[test]
    fn insecure_settings_are_named() {
        let safe = json!({"properties": {"allowBlobPublicAccess": false, "supportsHttpsTrafficOnly": true, "minimumTlsVersion": "TLS1_2"}});
        assert!(insecure_settings(&safe, Some(&json!({"properties": {"publicAccess": "None"}}))).is_empty());
        assert!(insecure_settings(&json!({}), None).is_empty(), "nothing reported, nothing guessed");
        let open = json!({"properties": {"allowBlobPublicAccess": true, "supportsHttpsTrafficOnly": false, "minimumTlsVersion": "TLS1_0"}});
        let found = insecure_settings(&open, Some(&json!({"properties": {"publicAccess": "Container"}})));
        assert_eq!(found.len(), 4, "{found:?}");
    }

    #[test]
    fn credentials_go_over_https_or_to_loopback_only() {
        for ok in [
            "https://a.blob.core.windows.net/",
            "http://127.0.0.1:10000/a/",
            "http://localhost:1/a/",
            "http://[::1]:1/a/",
        ] {
            assert!(check_endpoint(ok).is_ok(), "{ok}");
        }
        for bad in ["http://evil.example.com/", "http://10.0.0.1/", "ftp://127.0.0.1/", "not a url"] {
            assert!(check_endpoint(bad).is_err(), "{bad}");
        }
    }

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
