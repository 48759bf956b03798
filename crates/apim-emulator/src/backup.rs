//! Backup and restore: long-running operations that really write and
//! read a blob in Azurite, lock the service meanwhile, and copy its
//! configuration but not its identity, hostnames or SKU.

use crate::entities::service_key;
use crate::http::{error, with_header};
use crate::shared::*;
use crate::state::{key, now_ms, rfc3339, OpKind, Service, State};
use crate::App;
use axum::response::Response;
use serde_json::{json, Map, Value};

/// Base durations in real Azure: "several minutes" and "30 or more minutes".
pub(crate) const BACKUP_MS: i64 = 10 * 60 * 1000;

pub(crate) const RESTORE_MS: i64 = 45 * 60 * 1000;

/// Backups older than this cannot be restored.
pub(crate) const BACKUP_MAX_AGE_MS: i64 = 30 * 24 * 3600 * 1000;

pub(crate) const BACKUP_FORMAT: &str = "apim-emulator-backup";

impl App {
    /// POST …/backup and …/restore.
    pub(crate) async fn backup_or_restore(&self, r: &Req<'_>, restore: bool) -> Response {
        let sub = r.names.subscription.clone();
        let sk = service_key(r, &sub);
        // 1. Check everything that fails at once, under the lock, and take what we need.
        let checked = {
            let mut st = self.lock();
            st.settle(now_ms());
            self.check_backup_restore(&st, r, &sk, restore)
        };
        let (params, service, denied) = match checked {
            Ok((p, s)) => {
                let st = self.lock();
                // A CORS rule on the blob service: refused at once, with
                // Azure's opaque code, before the operation starts.
                if let Some(e) = self.cors_refusal(&st, &p) {
                    return e;
                }
                let denied = self.storage_denies(&st, &p, &s, restore);
                (p, s, denied)
            }
            Err(resp) => return resp,
        };
        // 2. The storage I/O, without the lock (unless storage refuses the service).
        let outcome = match denied {
            Some(e) => Err(e),
            None => self.storage_io(&params, &service, restore).await,
        };
        // 3. Record the operation.
        let mut st = self.lock();
        st.settle(now_ms());
        if st.services.get(&sk).is_none_or(|s| s.op.is_some()) {
            return conflict_in_progress(&service.name);
        }
        let kind = if restore { OpKind::ServiceRestore } else { OpKind::ServiceBackup };
        let duration = crate::shared::scaled(self, if restore { RESTORE_MS } else { BACKUP_MS });
        let mut op = crate::shared::new_op(&mut st, kind, &sk, duration);
        if !restore && outcome.is_ok() {
            record_container(&mut st, &params);
        }
        match outcome {
            Ok(payload) => op.payload = payload,
            Err(e) => op.error = Some(e),
        }
        st.ops.insert(op.id.clone(), op.clone());
        let etag = st.next_etag();
        if let Some(s) = st.services.get_mut(&sk) {
            s.op = Some(op.id.clone());
            s.etag = etag;
        }
        let loc = format!(
            "{}{}/operationresults/{}?api-version={}",
            self.base_url,
            &service.id[1..],
            op.id,
            r.api_version()
        );
        let now = now_ms();
        st.settle(now);
        with_header(
            with_header(crate::http::empty(202), "location", &loc),
            "retry-after",
            &retry_after(&op, now),
        )
    }
}

/// ARM shows the container a backup created, as it shows one made through it.
fn record_container(st: &mut State, p: &Map<String, Value>) {
    let account = p.get("storageAccount").and_then(Value::as_str).unwrap_or_default();
    let container = p.get("containerName").and_then(Value::as_str).unwrap_or_default();
    let Some(a) = st.accounts.values().find(|a| key(&a.name) == key(account)).cloned() else {
        return;
    };
    let id = format!("{}/blobServices/default/containers/{container}", a.id);
    if st.containers.contains_key(&key(&id)) {
        return;
    }
    let etag = st.next_etag();
    st.containers.insert(
        key(&id),
        crate::state::Container {
            id,
            name: container.to_string(),
            account: a.name,
            created_ms: now_ms(),
            etag,
            properties: Map::new(),
        },
    );
}

impl App {
    pub(crate) fn check_backup_restore(
        &self,
        st: &State,
        r: &Req,
        sk: &str,
        restore: bool,
    ) -> Result<(Map<String, Value>, Service), Response> {
        let Some(s) = st.services.get(sk) else {
            return Err(error(
                404,
                "ResourceNotFound",
                &format!(
                    "The Resource 'Microsoft.ApiManagement/service/{}' under resource group '{}' was not found.",
                    r.names.resource, r.names.group
                ),
            ));
        };
        if !apim_rules::can_back_up(&s.sku_name) {
            return Err(error(
                400,
                "MethodNotAllowedInPricingTier",
                &format!("Method not allowed in {} pricing tier", s.sku_name),
            ));
        }
        if s.op.is_some() {
            return Err(conflict_in_progress(&s.name));
        }
        let params: Map<String, Value> = match serde_json::from_slice(r.body) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Err(error(
                    400,
                    "InvalidRequestContent",
                    "The request content was invalid and could not be deserialized.",
                ))
            }
        };
        let missing: Vec<&str> = ["storageAccount", "containerName", "backupName"]
            .into_iter()
            .filter(|k| params.get(*k).and_then(Value::as_str).is_none_or(str::is_empty))
            .collect();
        if !missing.is_empty() {
            return Err(error(400, "ValidationError", &format!("'{}' is required.", missing.join("', '"))));
        }
        let access = params.get("accessType").and_then(Value::as_str).unwrap_or("AccessKey");
        let identity_type = s
            .identity
            .as_ref()
            .and_then(|i| i.get("type"))
            .and_then(Value::as_str)
            .unwrap_or("None");
        match access {
            "AccessKey" if params.get("accessKey").and_then(Value::as_str).is_none_or(str::is_empty) => {
                return Err(error(
                    400,
                    "InvalidParameters",
                    "'accessKey' is required when accessType is AccessKey.",
                ));
            }
            "AccessKey" => {}
            "SystemAssignedManagedIdentity" if !identity_type.contains("SystemAssigned") => {
                return Err(error(
                    400,
                    "InvalidParameters",
                    "System assigned managed identity is not enabled on the service; enable it or use another accessType.",
                ));
            }
            "SystemAssignedManagedIdentity" => {}
            "UserAssignedManagedIdentity" => {
                let client = params.get("clientId").and_then(Value::as_str).unwrap_or("");
                let known = s
                    .identity
                    .as_ref()
                    .and_then(|i| i.get("userAssignedIdentities"))
                    .and_then(Value::as_object)
                    .is_some_and(|m| {
                        m.values().any(|v| {
                            v.get("clientId")
                                .and_then(Value::as_str)
                                .is_some_and(|c| c.eq_ignore_ascii_case(client))
                        })
                    });
                if client.is_empty() || !known {
                    return Err(error(
                        400,
                        "InvalidParameters",
                        &format!("User assigned identity with client id '{client}' is not assigned to the service."),
                    ));
                }
            }
            other => {
                return Err(error(
                    400,
                    "InvalidParameters",
                    &format!("Unknown accessType '{other}'. Use AccessKey, SystemAssignedManagedIdentity or UserAssignedManagedIdentity."),
                ))
            }
        }
        let _ = restore;
        Ok((params, s.clone()))
    }

    /// A CORS rule on the account's blob service fails a backup or restore
    /// at once with `400 InvalidParameters` (what operators report).
    fn cors_refusal(&self, st: &State, p: &Map<String, Value>) -> Option<Response> {
        let account = p.get("storageAccount").and_then(Value::as_str).unwrap_or_default();
        let a = st.accounts.values().find(|a| key(&a.name) == key(account))?;
        let rules = a.blob_service.get("cors")?.get("corsRules")?.as_array()?;
        (!rules.is_empty()).then(|| {
            error(
                400,
                "InvalidParameters",
                "Invalid parameters: the storage account's blob service cannot be used (a CORS rule is set on it).",
            )
        })
    }

    /// Why the storage account refuses the service, as the operation's
    /// error: its firewall denies the service, shared key access is off for
    /// an access-key backup, or the managed identity holds no blob data role
    /// (a role assignment) on the container, the account or above it.
    /// Switched per account, so a rehearsal shows what an operator will meet.
    pub(crate) fn storage_denies(&self, st: &State, p: &Map<String, Value>, s: &Service, restore: bool) -> Option<(u16, String, String)> {
        let account = p.get("storageAccount").and_then(Value::as_str).unwrap_or_default();
        let code = if restore { "RestoreFailed" } else { "BackupFailed" };
        let what = if restore { "Restore" } else { "Backup" };
        let fail = |why: String| Some((400u16, code.to_string(), format!("{what} failed: {why}")));
        let a = st.accounts.values().find(|a| key(&a.name) == key(account))?;
        let acls = a.properties.get("networkAcls");
        let deny = acls.and_then(|n| n.get("defaultAction")).and_then(Value::as_str) == Some("Deny");
        let bypass = acls
            .and_then(|n| n.get("bypass"))
            .and_then(Value::as_str)
            .is_some_and(|b| b.contains("AzureServices"));
        let access = p.get("accessType").and_then(Value::as_str).unwrap_or("AccessKey");
        if deny && !(bypass && access != "AccessKey") {
            return fail(format!(
                "the storage account '{account}' denies the API Management service (AuthorizationFailure: its firewall allows selected networks only; allow the service's network, or trusted Azure services with a managed identity)."
            ));
        }
        if access == "AccessKey" && a.properties.get("allowSharedKeyAccess") == Some(&Value::Bool(false)) {
            return fail(format!(
                "Key based authentication is not permitted on the storage account '{account}' (KeyBasedAuthenticationNotPermitted); use a managed identity with a role on the container."
            ));
        }
        let container = p.get("containerName").and_then(Value::as_str).unwrap_or_default();
        let principal = match access {
            "UserAssignedManagedIdentity" => {
                let client = p.get("clientId").and_then(Value::as_str).unwrap_or_default();
                s.identity
                    .as_ref()
                    .and_then(|i| i.get("userAssignedIdentities"))
                    .and_then(Value::as_object)
                    .and_then(|m| {
                        m.values().find(|v| {
                            v.get("clientId")
                                .and_then(Value::as_str)
                                .is_some_and(|c| c.eq_ignore_ascii_case(client))
                        })
                    })
                    .and_then(|v| v.get("principalId"))
                    .and_then(Value::as_str)
            }
            _ => s.identity.as_ref().and_then(|i| i.get("principalId")).and_then(Value::as_str),
        };
        let target = format!("{}/blobServices/default/containers/{container}", a.id);
        let mut roles = crate::extensions::BLOB_WRITERS.to_vec();
        if restore {
            roles.push(crate::extensions::BLOB_READER);
        }
        let no_role = principal.is_none_or(|pid| !crate::extensions::has_role(st, pid, &target, &roles));
        if access != "AccessKey" && no_role {
            return fail(format!(
                "This request is not authorized to perform this operation using this permission (AuthorizationPermissionMismatch): the service's managed identity has no role on the storage account '{account}' (give it Storage Blob Data Contributor)."
            ));
        }
        None
    }

    /// Writes (backup) or reads (restore) the blob. Errors become the
    /// operation's failure, as Azure reports them: after the 202.
    pub(crate) async fn storage_io(
        &self,
        p: &Map<String, Value>,
        s: &Service,
        restore: bool,
    ) -> Result<Option<Value>, (u16, String, String)> {
        let fail = |code: &str, msg: String| (400u16, code.to_string(), msg);
        let named = p["storageAccount"].as_str().unwrap_or_default();
        // Blobs live in the Azurite account behind the storage account.
        let account = &self.backing_of(named);
        let container = p["containerName"].as_str().unwrap_or_default();
        let blob = p["backupName"].as_str().unwrap_or_default();
        if self.config.blob_endpoint.is_none() {
            return Err(fail(
                "InvalidParameters",
                "the emulator has no blob storage (start it with --blob-endpoint)".into(),
            ));
        }
        // Managed identities are granted access by role; Azurite knows keys only, so the emulator uses the account's key for them.
        let key = match p.get("accessType").and_then(Value::as_str).unwrap_or("AccessKey") {
            "AccessKey" => p.get("accessKey").and_then(Value::as_str).unwrap_or_default().to_string(),
            _ => match self.config.blob_accounts.iter().find(|(n, _)| n == account) {
                Some((_, k)) => k.clone(),
                None => return Err(fail("InvalidParameters", format!("Storage account '{account}' was not found."))),
            },
        };
        let client = blob_store::BlobClient::new(
            self.http.clone(),
            &self.blob_endpoint_of(account),
            account,
            blob_store::BlobAuth::SharedKey { key },
        )
        .map_err(|e| fail("InvalidParameters", e.to_string()))?;
        let storage_error = |e: blob_store::BlobError| match e {
            blob_store::BlobError::Service { status: 403, .. } => fail(
                "InvalidParameters",
                format!("Access to storage account '{account}' was denied: the access key or identity is not authorized."),
            ),
            blob_store::BlobError::Service { code, .. } if code == "ContainerNotFound" => fail(
                "InvalidParameters",
                format!("The container '{container}' does not exist in storage account '{account}'."),
            ),
            other => (500, "InternalError".to_string(), format!("Storage failure: {other}")),
        };
        if !restore {
            // The backup creates its container when it is missing, as
            // Microsoft's backup article says.
            client.create_container(container).await.map_err(storage_error)?;
            let carried: crate::entities::Tree = s
                .config
                .iter()
                .filter(|(k, _)| crate::registry::backed_up(k))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect();
            let body = json!({"format": BACKUP_FORMAT, "version": 1, "backedUpAt": rfc3339(now_ms()), "backedUpAtMs": now_ms(),
                "service": {"id": s.id, "name": s.name, "sku": {"name": s.sku_name, "capacity": s.capacity}, "location": s.location},
                "config": carried});
            client
                .put_blob(container, blob, body.to_string().into_bytes(), "application/octet-stream", true)
                .await
                .map_err(storage_error)?;
            return Ok(None);
        }
        let bytes = client.get_blob(container, blob).await.map_err(storage_error)?;
        let Some(bytes) = bytes else {
            return Err(fail(
                "InvalidParameters",
                format!("The backup blob '{blob}' was not found in container '{container}' of storage account '{account}'."),
            ));
        };
        let backup: Value = serde_json::from_slice(&bytes)
            .ok()
            .filter(|v: &Value| v.get("format").and_then(Value::as_str) == Some(BACKUP_FORMAT))
            .ok_or_else(|| fail("InvalidParameters", format!("The blob '{blob}' is not an API Management backup.")))?;
        if backup
            .get("backedUpAtMs")
            .and_then(Value::as_i64)
            .is_some_and(|t| now_ms() - t > BACKUP_MAX_AGE_MS)
        {
            return Err(fail("InvalidParameters", "Cannot restore: backup expired".into()));
        }
        let src_sku = backup.pointer("/service/sku/name").and_then(Value::as_str).unwrap_or("");
        if !src_sku.eq_ignore_ascii_case(&s.sku_name) {
            return Err(fail(
                "RestoreFailed",
                format!(
                    "Cannot restore a backup of a {src_sku} service onto a {} service: the tiers must match.",
                    s.sku_name
                ),
            ));
        }
        Ok(Some(backup.get("config").cloned().unwrap_or_else(|| json!({}))))
    }
}
