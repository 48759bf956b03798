//! What a client reads about where it is before it touches a resource: the
//! cloud's endpoints, the subscriptions and tenants its principal sees, and
//! whether a name is free.

use crate::http::{error, json};
use crate::shared::*;
use crate::state::{key, State};
use crate::{App, SECOND_SUBSCRIPTION_ID, SUBSCRIPTION_ID, TENANT_ID};
use axum::response::Response;
use serde_json::{json, Value};

impl App {
    fn subscription_body(&self, id: &str) -> Value {
        let name = if id == SUBSCRIPTION_ID {
            "APIM emulator"
        } else {
            "APIM emulator (second)"
        };
        json!({
            "id": format!("/subscriptions/{id}"),
            "authorizationSource": "RoleBased",
            "managedByTenants": [],
            "subscriptionId": id,
            "tenantId": TENANT_ID,
            "displayName": name,
            "state": "Enabled",
            "subscriptionPolicies": {"locationPlacementId": "Public_2014-09-01", "quotaId": "PayAsYouGo_2014-09-01", "spendingLimit": "Off"}
        })
    }

    /// `GET /subscriptions`: the two subscriptions the principal can use.
    pub(crate) fn subscriptions(&self, _r: &Req) -> Response {
        let value: Vec<Value> = [SUBSCRIPTION_ID, SECOND_SUBSCRIPTION_ID]
            .iter()
            .map(|s| self.subscription_body(s))
            .collect();
        json(200, &json!({"value": value, "count": {"type": "Total", "value": 2}}))
    }

    /// `GET /subscriptions/{id}`.
    pub(crate) fn subscription(&self, r: &Req) -> Response {
        let Some(id) = [SUBSCRIPTION_ID, SECOND_SUBSCRIPTION_ID]
            .into_iter()
            .find(|s| key(s) == key(&r.names.subscription))
        else {
            return error(
                404,
                "SubscriptionNotFound",
                &format!("The subscription '{}' could not be found.", r.names.subscription),
            );
        };
        json(200, &self.subscription_body(id))
    }

    /// `GET /tenants`.
    pub(crate) fn tenants(&self, _r: &Req) -> Response {
        json(
            200,
            &json!({"value": [{"id": format!("/tenants/{TENANT_ID}"), "tenantId": TENANT_ID, "countryCode": "US",
                "displayName": "APIM emulator", "domains": ["apim-emulator.example.com"], "tenantCategory": "Home",
                "defaultDomain": "apim-emulator.example.com", "tenantType": "AAD"}]}),
        )
    }

    /// `GET /metadata/endpoints`: the emulator as a cloud a client can
    /// register (`az cloud register --endpoint-resource-manager`).
    pub(crate) fn cloud_metadata(&self) -> Response {
        let base = self.base_url.clone();
        let cloud = json!({
            "name": "ApimEmulator",
            "portal": base,
            "authentication": {"loginEndpoint": base, "audiences": [base.clone(), base.trim_end_matches('/')], "tenant": "common", "identityProvider": "AAD"},
            "media": base,
            "graphAudience": base,
            "graph": base,
            "resourceManager": base,
            "sqlManagement": base,
            "batch": base,
            "activeDirectoryDataLake": base,
            "microsoftGraphResourceId": base,
            "suffixes": {"storage": "core.windows.net", "keyVaultDns": "vault.azure.net", "sqlServerHostname": "database.windows.net",
                "acrLoginServer": "azurecr.io", "azureDataLakeStoreFileSystem": "azuredatalakestore.net",
                "azureDataLakeAnalyticsCatalogAndJob": "azuredatalakeanalytics.net"},
            "vmImageAliasDoc": "",
        });
        // One cloud, as a private cloud's (Azure Stack's) endpoint answers,
        // which is what `az cloud register --endpoint-resource-manager`
        // reads; the older fields are kept for older clients.
        let mut one = cloud;
        one["galleryEndpoint"] = json!(base);
        one["graphEndpoint"] = json!(base);
        one["portalEndpoint"] = json!(base);
        json(200, &one)
    }

    /// `POST …/checkNameAvailability` for storage accounts and APIM services.
    pub(crate) fn check_name(&self, st: &State, r: &Req, _sub: &str, storage: bool) -> Response {
        let body: Value = serde_json::from_slice(r.body).unwrap_or(Value::Null);
        let Some(name) = body.get("name").and_then(Value::as_str) else {
            return error(400, "InvalidRequestContent", "The request content must have a 'name'.");
        };
        if storage {
            if !blob_store::names::is_valid_account_name(name) {
                return json(
                    200,
                    &json!({"nameAvailable": false, "reason": "AccountNameInvalid",
                        "message": format!("{name} is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only.")}),
                );
            }
            // Storage names are global: taken in any group of any subscription.
            let taken = st.accounts.values().any(|a| key(&a.name) == key(name));
            return json(
                200,
                &if taken {
                    json!({"nameAvailable": false, "reason": "AlreadyExists", "message": format!("The storage account named {name} is already taken.")})
                } else {
                    json!({"nameAvailable": true})
                },
            );
        }
        if !apim_rules::is_valid_service_name(name) {
            return json(
                200,
                &json!({"nameAvailable": false, "reason": "Invalid", "message": format!("Invalid name '{name}': 1-50 letters, digits and hyphens, starting with a letter.")}),
            );
        }
        let taken = st.services.values().any(|s| key(&s.name) == key(name)) || st.deleted.contains_key(&key(name));
        json(
            200,
            &if taken {
                json!({"nameAvailable": false, "reason": "AlreadyExists", "message": format!("{name} is already in use.")})
            } else {
                json!({"nameAvailable": true, "reason": "Valid", "message": ""})
            },
        )
    }
}
