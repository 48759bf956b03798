//! Storage accounts (create, keys, `primaryEndpoints.blob` pointing at
//! Azurite) and blob containers, created in Azurite too.

use crate::http::{empty, error, json, with_header};
use crate::shared::*;
use crate::state::{key, now_ms, rfc3339, Account, Container, OpKind, State};
use crate::App;
use axum::http::Method;
use axum::response::Response;
use base64::Engine;
use serde_json::{json, Map, Value};

pub(crate) const STORAGE_CREATE_MS: i64 = 20 * 1000;

pub(crate) fn account_body_with(a: &Account, blob: &str) -> Value {
    let mut props = a.properties.clone();
    props.insert("provisioningState".into(), json!("Succeeded"));
    props.entry("networkAcls").or_insert(
        json!({"bypass": "AzureServices", "defaultAction": "Allow", "ipRules": [], "virtualNetworkRules": [], "resourceAccessRules": []}),
    );
    props.insert("creationTime".into(), json!(rfc3339(a.created_ms)));
    props.insert("primaryLocation".into(), json!(a.location));
    props.insert("statusOfPrimary".into(), json!("available"));
    props.insert("primaryEndpoints".into(), json!({"blob": blob}));
    props.insert(
        "keyCreationTime".into(),
        json!({"key1": rfc3339(a.created_ms), "key2": rfc3339(a.created_ms)}),
    );
    json!({"id": a.id, "name": a.name, "type": "Microsoft.Storage/storageAccounts", "kind": a.kind, "location": a.location,
        "sku": {"name": a.sku, "tier": if a.sku.starts_with("Premium") {"Premium"} else {"Standard"}},
        "tags": a.tags, "properties": props})
}

pub(crate) fn container_body(c: &Container) -> Value {
    let mut props = c.properties.clone();
    props.insert("lastModifiedTime".into(), json!(rfc3339(c.created_ms)));
    props.entry("publicAccess").or_insert(json!("None"));
    props.insert("leaseStatus".into(), json!("Unlocked"));
    props.insert("leaseState".into(), json!("Available"));
    props.insert("hasImmutabilityPolicy".into(), json!(false));
    props.insert("hasLegalHold".into(), json!(false));
    json!({"id": c.id, "name": c.name, "type": "Microsoft.Storage/storageAccounts/blobServices/containers",
        "etag": format!("\"0x{:X}\"", c.etag), "properties": props})
}

impl App {
    pub(crate) fn account(&self, st: &mut State, r: &Req, sub: &str) -> Response {
        let (group, name) = (r.names.group.clone(), r.names.resource.clone());
        let id = format!("/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Storage/storageAccounts/{name}");
        let k = key(&id);
        let now = now_ms();
        match *r.method {
            Method::GET => match st.accounts.get(&k).filter(|a| a.op.is_none()) {
                Some(a) => json(200, &self.account_body(a)),
                None => resource_not_found("Microsoft.Storage/storageAccounts", &name, &group),
            },
            // PATCH (Update): tags, and the security settings a backup depends on.
            Method::PATCH => {
                let body: Value = serde_json::from_slice(r.body).unwrap_or(Value::Null);
                let Some(a) = st.accounts.get_mut(&k).filter(|a| a.op.is_none()) else {
                    return resource_not_found("Microsoft.Storage/storageAccounts", &name, &group);
                };
                if let Some(tags) = body.get("tags").and_then(Value::as_object) {
                    a.tags = tags.clone();
                }
                if let Some(props) = body.get("properties").and_then(Value::as_object) {
                    for (k, v) in props {
                        a.properties.insert(k.clone(), v.clone());
                    }
                }
                let a = a.clone();
                json(200, &self.account_body(&a))
            }
            Method::PUT => {
                if self.config.blob_endpoint.is_none() && self.config.storage_needs_blob_endpoint {
                    return error(
                        400,
                        "NoBlobStorage",
                        "this emulator serves no blob storage, so a storage account would point at nothing: start it with --blob-endpoint URL and --blob-accounts (Azurite; `cargo xtask azurite` runs one and prints both)",
                    );
                }
                if !blob_store::names::is_valid_account_name(&name) {
                    return error(400, "AccountNameInvalid", &format!("{name} is not a valid storage account name. Storage account name must be between 3 and 24 characters in length and use numbers and lower-case letters only."));
                }
                let body = match parse_body(r) {
                    Ok(b) => b,
                    Err(e) => return e,
                };
                let Some(location) = body.get("location").and_then(Value::as_str).map(str::to_string) else {
                    return error(400, "LocationRequired", "The location property is required for this definition.");
                };
                let Some(sku) = body
                    .get("sku")
                    .and_then(|s| s.get("name"))
                    .and_then(Value::as_str)
                    .map(str::to_string)
                else {
                    return error(400, "MissingRequiredProperty", "The sku.name property is required.");
                };
                let Some(kind) = body.get("kind").and_then(Value::as_str).map(str::to_string) else {
                    return error(400, "MissingRequiredProperty", "The kind property is required.");
                };
                if st.accounts.iter().any(|(ok, a)| key(&a.name) == key(&name) && *ok != k) {
                    return error(
                        409,
                        "StorageAccountAlreadyTaken",
                        &format!("The storage account named {name} is already taken."),
                    );
                }
                let backing = match self.pick_backing(st, &name) {
                    Ok(b) => b,
                    Err(e) => return e,
                };
                let keys = match self.account_keys(backing.as_deref().unwrap_or(&name)) {
                    Ok(k) => k,
                    Err(e) => return e,
                };
                let properties = body.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
                let tags = body.get("tags").and_then(Value::as_object).cloned().unwrap_or_default();
                if let Some(a) = st.accounts.get_mut(&k) {
                    if a.op.is_some() {
                        return error(
                            409,
                            "OperationNotAllowed",
                            &format!("The storage account {name} is being created; wait for that to finish."),
                        );
                    }
                    a.sku = sku;
                    a.kind = kind;
                    a.tags = tags;
                    a.properties.extend(properties);
                    return json(200, &self.account_body(a));
                }
                let op = new_op(st, OpKind::StorageCreate, &k, scaled(self, STORAGE_CREATE_MS));
                let a = Account {
                    id,
                    name,
                    group,
                    location,
                    kind,
                    sku,
                    properties,
                    tags,
                    created_ms: now,
                    keys,
                    op: Some(op.id.clone()),
                    backing,
                    blob_service: Map::new(),
                };
                st.accounts.insert(k, a);
                // A fresh clock: the operation started after `now` was read.
                st.settle(now_ms());
                if st.accounts.get(&key(&op.target)).is_some_and(|a| a.op.is_none()) {
                    // Finished at once (time-scale 0): ARM answers 200 with the body.
                    return json(200, &self.account_body(&st.accounts[&op.target]));
                }
                let loc = format!(
                    "{}subscriptions/{sub}/providers/Microsoft.Storage/operations/{}?monitor=true&api-version={}",
                    self.base_url,
                    op.id,
                    r.api_version()
                );
                with_header(with_header(empty(202), "location", &loc), "retry-after", &retry_after(&op, now))
            }
            Method::DELETE => {
                if st.accounts.remove(&k).is_none() {
                    return empty(204);
                }
                let prefix = format!("{k}/");
                st.containers.retain(|ck, _| !ck.starts_with(&prefix));
                empty(200)
            }
            _ => method_not_allowed(r),
        }
    }

    /// POST …/regenerateKey `{"keyName": "key1"|"key2"}`: a new key, and the
    /// keys as listKeys shows them. Azurite's keys are fixed when it starts,
    /// so an account it holds refuses (409) rather than hand out a key no
    /// blob request would pass with.
    pub(crate) fn regenerate_key(&self, st: &mut State, r: &Req, sub: &str) -> Response {
        let body: Value = serde_json::from_slice(r.body).unwrap_or(Value::Null);
        let slot = match body.get("keyName").and_then(Value::as_str) {
            Some(k) if k.eq_ignore_ascii_case("key1") => 0,
            Some(k) if k.eq_ignore_ascii_case("key2") => 1,
            _ => return error(400, "InvalidValuesForRequestParameters", "'keyName' must be key1 or key2."),
        };
        let id = format!(
            "/subscriptions/{sub}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/{}",
            r.names.group, r.names.resource
        );
        if st.accounts.get(&key(&id)).is_none_or(|a| a.op.is_some()) {
            return resource_not_found("Microsoft.Storage/storageAccounts", &r.names.resource, &r.names.group);
        }
        if self.config.blob_accounts.iter().any(|(n, _)| n == &r.names.resource) {
            return error(
                409,
                "KeyRegenerationNotSupported",
                "The emulator's Azurite fixes this account's keys when it starts; regenerate keys against Azure, or against an emulator without Azurite.",
            );
        }
        let fresh = base64::engine::general_purpose::STANDARD
            .encode([uuid::Uuid::new_v4().into_bytes(), uuid::Uuid::new_v4().into_bytes()].concat());
        if let Some(a) = st.accounts.get_mut(&key(&id)) {
            a.keys[slot] = fresh;
        }
        self.list_keys(st, r, sub)
    }

    pub(crate) fn list_keys(&self, st: &State, r: &Req, sub: &str) -> Response {
        let id = format!(
            "/subscriptions/{sub}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/{}",
            r.names.group, r.names.resource
        );
        match st.accounts.get(&key(&id)).filter(|a| a.op.is_none()) {
            Some(a) => json(
                200,
                &json!({"keys": [
                    {"creationTime": rfc3339(a.created_ms), "keyName": "key1", "permissions": "FULL", "value": a.keys[0]},
                    {"creationTime": rfc3339(a.created_ms), "keyName": "key2", "permissions": "FULL", "value": a.keys[1]},
                ]}),
            ),
            None => resource_not_found("Microsoft.Storage/storageAccounts", &r.names.resource, &r.names.group),
        }
    }

    /// Storage accounts of a group (`group` given) or of the subscription.
    pub(crate) fn list_accounts(&self, st: &State, sub: &str, group: Option<&str>) -> Response {
        let prefix = match group {
            Some(g) => key(&format!("/subscriptions/{sub}/resourceGroups/{g}/")),
            None => key(&format!("/subscriptions/{sub}/")),
        };
        let value: Vec<Value> = st
            .accounts
            .iter()
            .filter(|(k, a)| k.starts_with(&prefix) && a.op.is_none())
            .map(|(_, a)| self.account_body(a))
            .collect();
        json(200, &json!({"value": value}))
    }

    /// `GET …/blobServices/default/containers`.
    pub(crate) fn list_containers(&self, st: &State, r: &Req, sub: &str) -> Response {
        let (group, account) = (r.names.group.clone(), r.names.resource.clone());
        let account_id = format!("/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Storage/storageAccounts/{account}");
        if st.accounts.get(&key(&account_id)).is_none_or(|a| a.op.is_some()) {
            return resource_not_found("Microsoft.Storage/storageAccounts", &account, &group);
        }
        let prefix = key(&format!("{account_id}/blobServices/default/containers/"));
        let value: Vec<Value> = st
            .containers
            .iter()
            .filter(|(k, _)| k.starts_with(&prefix))
            .map(|(_, c)| container_body(c))
            .collect();
        json(200, &json!({"value": value}))
    }

    /// `…/blobServices/default`: the blob service's properties (CORS rules,
    /// which API Management's backup and restore refuse).
    pub(crate) fn blob_service(&self, st: &mut State, r: &Req, sub: &str) -> Response {
        let (group, account) = (r.names.group.clone(), r.names.resource.clone());
        let account_id = format!("/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Storage/storageAccounts/{account}");
        let Some(acc) = st.accounts.get_mut(&key(&account_id)).filter(|a| a.op.is_none()) else {
            return resource_not_found("Microsoft.Storage/storageAccounts", &account, &group);
        };
        if matches!(*r.method, Method::PUT | Method::PATCH) {
            let body = match parse_body(r) {
                Ok(b) => b,
                Err(e) => return e,
            };
            let props = body.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
            acc.blob_service.extend(props);
        } else if *r.method != Method::GET {
            return method_not_allowed(r);
        }
        let mut props = acc.blob_service.clone();
        props.entry("cors").or_insert_with(|| serde_json::json!({"corsRules": []}));
        props
            .entry("deleteRetentionPolicy")
            .or_insert_with(|| serde_json::json!({"enabled": false}));
        json(
            200,
            &serde_json::json!({"id": format!("{}/blobServices/default", acc.id), "name": "default",
                "type": "Microsoft.Storage/storageAccounts/blobServices", "properties": props}),
        )
    }

    pub(crate) fn container(&self, st: &mut State, r: &Req, sub: &str) -> Response {
        let (group, account, name) = (r.names.group.clone(), r.names.resource.clone(), r.names.container.clone());
        let account_id = format!("/subscriptions/{sub}/resourceGroups/{group}/providers/Microsoft.Storage/storageAccounts/{account}");
        let Some(acc) = st.accounts.get(&key(&account_id)).filter(|a| a.op.is_none()).cloned() else {
            return resource_not_found("Microsoft.Storage/storageAccounts", &account, &group);
        };
        let id = format!("{account_id}/blobServices/default/containers/{name}");
        let k = key(&id);
        match *r.method {
            Method::GET => match st.containers.get(&k) {
                Some(c) => json(200, &container_body(c)),
                None => error(404, "ContainerNotFound", "The specified container does not exist."),
            },
            Method::PUT => {
                let valid = blob_store::names::is_valid_container_name(&name);
                if !valid {
                    return error(
                        400,
                        "ContainerOperationFailure",
                        "The specified resource name contains invalid characters.",
                    );
                }
                let body = if r.body.is_empty() {
                    Map::new()
                } else {
                    match parse_body(r) {
                        Ok(b) => b,
                        Err(e) => return e,
                    }
                };
                let existed = st.containers.contains_key(&k);
                let etag = st.next_etag();
                let props = body.get("properties").and_then(Value::as_object).cloned().unwrap_or_default();
                let c = st.containers.entry(k).or_insert_with(|| Container {
                    id,
                    name,
                    account: acc.name.clone(),
                    created_ms: now_ms(),
                    etag,
                    properties: Map::new(),
                });
                c.properties.extend(props);
                json(if existed { 200 } else { 201 }, &container_body(c))
            }
            Method::DELETE => {
                if st.containers.remove(&k).is_some() {
                    empty(200)
                } else {
                    empty(204)
                }
            }
            _ => method_not_allowed(r),
        }
    }

    pub(crate) fn account_keys(&self, name: &str) -> Result<[String; 2], Response> {
        if let Some((_, k)) = self.config.blob_accounts.iter().find(|(n, _)| n == name) {
            let second = self
                .config
                .blob_secondary_keys
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, k2)| k2.clone());
            return Ok([k.clone(), second.unwrap_or_else(|| k.clone())]);
        }
        if self.config.blob_endpoint.is_some() {
            let known: Vec<&str> = self.config.blob_accounts.iter().map(|(n, _)| n.as_str()).collect();
            return Err(error(
                400,
                "AccountNotInAzurite",
                &format!(
                    "the emulator can only create storage accounts that its Azurite knows (--blob-accounts); '{name}' is not one of: {}",
                    known.join(", ")
                ),
            ));
        }
        let gen = || {
            base64::engine::general_purpose::STANDARD
                .encode([uuid::Uuid::new_v4().into_bytes(), uuid::Uuid::new_v4().into_bytes()].concat())
        };
        Ok([gen(), gen()])
    }

    pub(crate) fn account_body(&self, a: &Account) -> Value {
        account_body_with(a, &self.blob_endpoint_of(a.backing.as_deref().unwrap_or(&a.name)))
    }

    /// Storage account names are global, as on Azure, and any valid one
    /// can be created: a name Azurite does not know is given one of
    /// Azurite's accounts no other storage account uses (`None`: its own
    /// name is one of Azurite's, or there is no Azurite).
    fn pick_backing(&self, st: &State, name: &str) -> Result<Option<String>, Response> {
        let azurite: Vec<&str> = self.config.blob_accounts.iter().map(|(n, _)| n.as_str()).collect();
        if self.config.blob_endpoint.is_none() || azurite.contains(&name) {
            return Ok(None);
        }
        if let Some(a) = st.accounts.values().find(|a| a.name == name) {
            return Ok(a.backing.clone());
        }
        let taken = |n: &str| st.accounts.values().any(|a| a.name == n || a.backing.as_deref() == Some(n));
        match azurite.iter().find(|n| !taken(n)) {
            Some(n) => Ok(Some(n.to_string())),
            None => Err(error(
                409,
                "AccountLimitReached",
                &format!(
                    "every account of the emulator's Azurite ({}) holds another storage account's blobs; delete one, or start Azurite with more accounts (--blob-accounts)",
                    azurite.join(", ")
                ),
            )),
        }
    }

    /// The Azurite account that holds the blobs of storage account `name`.
    pub(crate) fn backing_of(&self, name: &str) -> String {
        let st = self.lock();
        st.accounts
            .values()
            .find(|a| a.name == name)
            .and_then(|a| a.backing.clone())
            .unwrap_or_else(|| name.to_string())
    }

    pub(crate) fn blob_endpoint_of(&self, account: &str) -> String {
        match &self.config.blob_endpoint {
            Some(e) => format!("{}/{account}/", e.trim_end_matches('/')),
            None => format!("https://{account}.blob.core.windows.net/"),
        }
    }

    /// Creates the container in Azurite before ARM records it, as the
    /// real control plane does.
    pub(crate) async fn ensure_blob_container(&self, r: &crate::shared::Req<'_>) -> Result<(), Response> {
        let Some(endpoint) = &self.config.blob_endpoint else {
            return Ok(());
        };
        let (account, container) = (&self.backing_of(&r.names.resource), &r.names.container);
        if !blob_store::names::is_valid_container_name(container) {
            // Refused by the container's own check, with Azure's 400, before Azurite is asked.
            return Ok(());
        }
        let Some((_, k)) = self.config.blob_accounts.iter().find(|(n, _)| n == account) else {
            return Ok(());
        };
        let client = blob_store::BlobClient::new(
            self.http.clone(),
            &format!("{}/{account}/", endpoint.trim_end_matches('/')),
            account,
            blob_store::BlobAuth::SharedKey { key: k.clone() },
        )
        .map_err(|e| crate::http::error(500, "InternalError", &e.to_string()))?;
        client
            .create_container(container)
            .await
            .map_err(|e| crate::http::error(500, "InternalError", &format!("Azurite refused the container: {e}")))
    }
}
