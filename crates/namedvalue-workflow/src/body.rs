//! The bodies named value writes send, typed: what is sent is what these
//! types say, and a test can read it without a server.

use apim_documents::{KeyVaultDoc, NamedValueDoc};
use serde::Serialize;
use serde_json::Value;

/// A Key Vault reference as APIM takes it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct KeyVaultWrite {
    pub secret_identifier: String,
    pub identity_client_id: Option<String>,
}

impl From<&KeyVaultDoc> for KeyVaultWrite {
    fn from(k: &KeyVaultDoc) -> Self {
        KeyVaultWrite {
            secret_identifier: k.secret_identifier.clone(),
            identity_client_id: k.identity_client_id.clone(),
        }
    }
}

/// The `properties` of a named value create (PUT) or change (PATCH):
/// only what is set is sent.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NamedValueWrite {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secret: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub key_vault: Option<KeyVaultWrite>,
}

impl NamedValueWrite {
    /// What creates the named value `d` describes.
    pub fn create(d: &NamedValueDoc) -> Self {
        NamedValueWrite {
            display_name: Some(d.display_name.clone()),
            secret: Some(d.secret),
            tags: Some(d.tags.clone()),
            value: d.value.clone(),
            key_vault: d.key_vault.as_ref().map(KeyVaultWrite::from),
        }
    }

    pub fn to_value(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

impl std::fmt::Display for NamedValueWrite {
    /// Never the value: it may be a secret.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "value {}", if self.value.is_some() { "set" } else { "unchanged" })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn only_what_is_set_is_sent() {
        let patch = NamedValueWrite {
            value: Some("https://api.dest.example.com".into()),
            ..Default::default()
        };
        assert_eq!(patch.to_value(), json!({"value": "https://api.dest.example.com"}));
        let kv = NamedValueWrite {
            key_vault: Some(KeyVaultWrite {
                secret_identifier: "https://v.vault.azure.net/secrets/s".into(),
                identity_client_id: None,
            }),
            ..Default::default()
        };
        assert_eq!(
            kv.to_value(),
            json!({"keyVault": {"secretIdentifier": "https://v.vault.azure.net/secrets/s", "identityClientId": null}})
        );
    }

    #[test]
    fn a_create_carries_the_whole_named_value() {
        let d = NamedValueDoc {
            service_id: "/subscriptions/s/resourceGroups/g/providers/Microsoft.ApiManagement/service/x"
                .parse()
                .unwrap(),
            name: "backend".into(),
            display_name: "backend".into(),
            value: Some("v".into()),
            secret: true,
            tags: vec!["t".into()],
            key_vault: None,
            etag: None,
        };
        assert_eq!(
            NamedValueWrite::create(&d).to_value(),
            json!({"displayName": "backend", "secret": true, "tags": ["t"], "value": "v"})
        );
        assert_eq!(NamedValueWrite::create(&d).to_string(), "value set", "never the value");
    }
}
