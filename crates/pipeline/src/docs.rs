//! The documents that flow between binaries. Every one has `kind` and
//! `schemaVersion: 1`.

use arm_client::{PendingOperation, ResourceId};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub const SCHEMA_VERSION: u32 = 1;

fn v1() -> u32 {
    SCHEMA_VERSION
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sku {
    pub name: String,
    pub capacity: i64,
}

/// `apim.service`: one APIM instance, enough to aim any tool at it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceDoc {
    pub kind: String,
    #[serde(default = "v1")]
    pub schema_version: u32,
    pub id: ResourceId,
    pub name: String,
    pub subscription_id: String,
    pub resource_group: String,
    pub location: String,
    pub sku: Sku,
    pub provisioning_state: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gateway_url: Option<String>,
    #[serde(default)]
    pub publisher_email: String,
    #[serde(default)]
    pub publisher_name: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

impl ServiceDoc {
    pub const KIND: &'static str = "apim.service";

    /// From ARM's service resource.
    pub fn from_arm(body: &Value) -> Result<Self, String> {
        let s = |p: &str| body.pointer(p).and_then(Value::as_str).unwrap_or("").to_string();
        let id: ResourceId = s("/id").parse().map_err(|e| format!("service resource: {e}"))?;
        let tags = body
            .get("tags")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .map(|(k, v)| (k.clone(), v.as_str().unwrap_or_default().to_string()))
                    .collect()
            })
            .unwrap_or_default();
        Ok(ServiceDoc {
            kind: Self::KIND.into(),
            schema_version: SCHEMA_VERSION,
            name: s("/name"),
            subscription_id: id.subscription_id().to_string(),
            resource_group: id.resource_group_name().unwrap_or_default().to_string(),
            id,
            location: s("/location"),
            sku: Sku {
                name: s("/sku/name"),
                capacity: body.pointer("/sku/capacity").and_then(Value::as_i64).unwrap_or(0),
            },
            provisioning_state: body
                .pointer("/properties/provisioningState")
                .and_then(Value::as_str)
                .unwrap_or("Succeeded")
                .to_string(),
            gateway_url: body.pointer("/properties/gatewayUrl").and_then(Value::as_str).map(str::to_string),
            publisher_email: s("/properties/publisherEmail"),
            publisher_name: s("/properties/publisherName"),
            tags,
        })
    }
}

/// `storage.container`: where backups go. Never carries a key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContainerDoc {
    pub kind: String,
    #[serde(default = "v1")]
    pub schema_version: u32,
    pub account_id: ResourceId,
    pub account: String,
    pub container: String,
    pub subscription_id: String,
    pub resource_group: String,
    pub location: String,
    /// `primaryEndpoints.blob` as ARM reports it.
    pub blob_endpoint: String,
}

impl ContainerDoc {
    pub const KIND: &'static str = "storage.container";
}

/// `apim.operation`: a long-running operation still going on in Azure.
/// `--resume` with this document on stdin waits for it again.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationDoc {
    pub kind: String,
    #[serde(default = "v1")]
    pub schema_version: u32,
    /// What was started, e.g. `service.create`.
    pub operation: String,
    pub resource_id: ResourceId,
    pub started_at: String,
    #[serde(flatten)]
    pub pending: PendingOperation,
    /// What the tool needs to finish its work afterwards (e.g. the container to create).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub context: Value,
}

impl OperationDoc {
    pub const KIND: &'static str = "apim.operation";

    pub fn new(operation: &str, resource_id: ResourceId, pending: PendingOperation) -> Self {
        OperationDoc {
            kind: Self::KIND.into(),
            schema_version: SCHEMA_VERSION,
            operation: operation.into(),
            resource_id,
            started_at: now_rfc3339(),
            pending,
            context: Value::Null,
        }
    }
}

/// Which service a backup or restore is about.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServiceRef {
    pub id: ResourceId,
    pub name: String,
    pub sku: Sku,
    pub location: String,
}

impl From<&ServiceDoc> for ServiceRef {
    fn from(d: &ServiceDoc) -> Self {
        ServiceRef {
            id: d.id.clone(),
            name: d.name.clone(),
            sku: d.sku.clone(),
            location: d.location.clone(),
        }
    }
}

/// Where a backup blob lives. Never carries a key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StorageRef {
    pub account_id: ResourceId,
    pub account: String,
    pub container: String,
    pub blob_endpoint: String,
}

impl From<&ContainerDoc> for StorageRef {
    fn from(d: &ContainerDoc) -> Self {
        StorageRef {
            account_id: d.account_id.clone(),
            account: d.account.clone(),
            container: d.container.clone(),
            blob_endpoint: d.blob_endpoint.clone(),
        }
    }
}

/// `apim.backup`: a finished backup and the blob that holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupDoc {
    pub kind: String,
    #[serde(default = "v1")]
    pub schema_version: u32,
    pub status: String,
    pub service: ServiceRef,
    pub storage: StorageRef,
    pub blob: String,
    /// access-key, system-identity or user-identity.
    pub access_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_client_id: Option<String>,
    pub started_at: String,
    pub completed_at: String,
    pub duration_seconds: f64,
    pub size: u64,
    pub etag: String,
    pub last_modified: String,
}

impl BackupDoc {
    pub const KIND: &'static str = "apim.backup";
}

/// `apim.restore`: what a restore did (or, with --dry-run, would do).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreDoc {
    pub kind: String,
    #[serde(default = "v1")]
    pub schema_version: u32,
    /// Succeeded, or DryRun.
    pub status: String,
    pub source: ServiceRef,
    pub target: ServiceRef,
    pub backup: BackupRef,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub safety_backup: Option<BackupRef>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub started_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub completed_at: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_seconds: Option<f64>,
    /// What a backup never carries: redo these on the target.
    pub not_restored: Vec<String>,
    #[serde(default)]
    pub warnings: Vec<String>,
}

impl RestoreDoc {
    pub const KIND: &'static str = "apim.restore";
}

/// A backup blob, as a restore names it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupRef {
    pub account: String,
    pub container: String,
    pub blob: String,
    pub etag: String,
}

impl From<&BackupDoc> for BackupRef {
    fn from(b: &BackupDoc) -> Self {
        BackupRef {
            account: b.storage.account.clone(),
            container: b.storage.container.clone(),
            blob: b.blob.clone(),
            etag: b.etag.clone(),
        }
    }
}

/// `apim.backup.pruned`: one blob deleted (or, with --dry-run, to delete) by retention.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PrunedDoc {
    pub kind: String,
    #[serde(default = "v1")]
    pub schema_version: u32,
    pub service: String,
    pub storage: StorageRef,
    pub blob: String,
    pub etag: String,
    pub last_modified: String,
    pub size: u64,
    pub reason: String,
    pub dry_run: bool,
}

impl PrunedDoc {
    pub const KIND: &'static str = "apim.backup.pruned";
}

/// A Key Vault reference as documents show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyVaultDoc {
    pub secret_identifier: String,
    #[serde(default)]
    pub identity_client_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_status: Option<Value>,
}

/// `apim.namedvalue`: one named value. A secret's `value` is null unless
/// the user asked with --reveal-secrets.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamedValueDoc {
    pub kind: String,
    #[serde(default = "v1")]
    pub schema_version: u32,
    pub service_id: ResourceId,
    pub name: String,
    pub display_name: String,
    pub value: Option<String>,
    pub secret: bool,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_vault: Option<KeyVaultDoc>,
    /// Known when read one by one (`get`); lists carry none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
}

impl NamedValueDoc {
    pub const KIND: &'static str = "apim.namedvalue";
}

/// One side of a change. For a secret, only the SHA-256 of the value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamedValueSide {
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_vault: Option<KeyVaultDoc>,
}

/// `apim.namedvalue.change`: what rewrite plans and apply reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeDoc {
    pub kind: String,
    #[serde(default = "v1")]
    pub schema_version: u32,
    pub service_id: ResourceId,
    pub name: String,
    pub secret: bool,
    /// The ETag the plan was made at: apply writes only if it still holds.
    pub etag: String,
    pub before: NamedValueSide,
    pub after: NamedValueSide,
    /// Labels of the rules that fired, in order.
    pub rules_fired: Vec<String>,
    /// The rules, so apply can re-derive a secret's new value without it ever being written down.
    pub rules: Vec<namedvalue_rewrite::RuleSpec>,
    /// Set by apply: applied, conflict, or dry-run.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl ChangeDoc {
    pub const KIND: &'static str = "apim.namedvalue.change";
}

pub fn now_rfc3339() -> String {
    time::OffsetDateTime::now_utc()
        .format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn service_doc_from_the_official_example_shape() {
        let body = json!({
            "id": "/subscriptions/s/resourceGroups/rg1/providers/Microsoft.ApiManagement/service/apimService1",
            "name": "apimService1", "location": "East US", "tags": {"env": "test"},
            "properties": {"provisioningState": "Succeeded", "gatewayUrl": "https://apimService1.azure-api.net", "publisherEmail": "a@b.c", "publisherName": "foo"},
            "sku": {"name": "Standard", "capacity": 1}
        });
        let d = ServiceDoc::from_arm(&body).unwrap();
        assert_eq!(d.resource_group, "rg1");
        assert_eq!(
            d.sku,
            Sku {
                name: "Standard".into(),
                capacity: 1
            }
        );
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["kind"], "apim.service");
        assert_eq!(v["schemaVersion"], 1);
        assert_eq!(v["subscriptionId"], "s");
        assert_eq!(v["tags"]["env"], "test");
    }

    #[test]
    fn operation_doc_flattens_the_pending_operation() {
        let p = PendingOperation {
            resource_url: "https://h/x?api-version=1".into(),
            azure_async_operation: Some("https://h/op".into()),
            location: None,
            final_state_via: arm_client::FinalStateVia::OriginalUri,
            retry_after_seconds: None,
        };
        let d = OperationDoc::new("service.create", "/subscriptions/s/resourceGroups/r".parse().unwrap(), p.clone());
        let v = serde_json::to_value(&d).unwrap();
        assert_eq!(v["azureAsyncOperation"], "https://h/op");
        let back: OperationDoc = serde_json::from_value(v).unwrap();
        assert_eq!(back.pending, p);
    }
}
