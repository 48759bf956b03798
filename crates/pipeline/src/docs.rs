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
