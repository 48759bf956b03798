//! The documents that flow between binaries. Each type is the body of one
//! kind; `kind` and `schemaVersion` are written by [`crate::emit`] and
//! checked by [`crate::expect_kind`], never set by hand.

use apim_rules::storage::{is_valid_account_name, is_valid_blob_name, is_valid_container_name};
use apim_rules::AccessType;
use arm_types::{PendingOperation, ResourceId};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;

pub const SCHEMA_VERSION: u32 = 1;

/// A document type: its body, the `kind` it travels under, and what a
/// document read from outside must satisfy before anything acts on it.
pub trait Document: Serialize + DeserializeOwned {
    const KIND: &'static str;

    /// Names that become part of URLs (services, containers, blobs, named
    /// values) are what Azure accepts, so none can address something else.
    fn validate(&self) -> Result<(), String> {
        Ok(())
    }
}

macro_rules! kinds {
    ($($ty:ty => $kind:literal $(, $check:ident)?);* $(;)?) => {
        $(impl Document for $ty {
            const KIND: &'static str = $kind;
            $(fn validate(&self) -> Result<(), String> {
                $check(self)
            })?
        })*
    };
}

kinds! {
    ServiceDoc => "apim.service", check_service_doc;
    ContainerDoc => "storage.container", check_container_doc;
    OperationDoc => "apim.operation", check_operation;
    BackupDoc => "apim.backup", check_backup;
    RestoreDoc => "apim.restore";
    PrunedDoc => "apim.backup.pruned";
    NamedValueDoc => "apim.namedvalue", check_named_value;
    ChangeDoc => "apim.namedvalue.change", check_change;
    EntityDoc => "apim.entity", check_entity;
    DifferenceDoc => "apim.difference";
    HostRefDoc => "apim.hostref";
    DeletedDoc => "apim.service.deleted";
    NamedValueStatusDoc => "apim.namedvalue.status";
    SettingDoc => "apim.service.setting";
    SyncChangeDoc => "apim.sync.change", check_sync_change;
    SyncGapDoc => "apim.sync.gap";
}

/// What a copy does to one entity of the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SyncAction {
    Create,
    Update,
    Delete,
}

/// `apim.sync.change`: one entity `apim-sync plan` writes (or deletes) on
/// the target, and, once `apply` has run, what became of it. Never a
/// secret's value: `secrets` names what apply reads from the source then.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncChangeDoc {
    /// Where secrets are read from; `None` when the source is a snapshot file.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_id: Option<ResourceId>,
    pub target_id: ResourceId,
    /// The snapshot's path (`apis/echo`; named values by display name).
    pub path: String,
    /// Where ARM has it below the target service.
    pub target_path: String,
    /// Where ARM has it below the source service (for its secrets).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_path: Option<String>,
    pub action: SyncAction,
    /// The wave it is written in: what it refers to has a lower one;
    /// deletes run after every write, in reverse.
    pub order: u32,
    /// The target's properties (normalized, as `apim-diff --inventory` shows them).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub before: Option<Value>,
    /// What is written (normalized; hosts rewritten; no secret values).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub after: Option<Value>,
    /// Secret properties (JSON pointers) apply reads from the source and writes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub secrets: Vec<String>,
    /// The source's ETag when planned: its secrets are copied only if it still holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_etag: Option<String>,
    /// The target's ETag when planned (updates, deletes): written only if it still holds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub etag: Option<String>,
    /// Named values the properties refer to, by display name, with the
    /// id each has on the target.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub refs: BTreeMap<String, String>,
    /// Host rewrites, applied to secret values as they are copied.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hosts: Vec<(String, String)>,
    /// Set by apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ChangeStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

/// `apim.sync.gap`: what a copy through the management API cannot carry
/// (a private key, a password), and what to do instead.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SyncGapDoc {
    pub target_id: ResourceId,
    pub path: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    /// Why it is not copied.
    pub reason: String,
    /// What to do instead.
    pub fix: String,
}

/// A service setting (or a role of its identity) that `apim-provision
/// service --like` makes as the source has it: what the source has (hosts
/// rewritten) and what the target had.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SettingDoc {
    pub service_id: ResourceId,
    /// `hostnameConfigurations`, `customProperties`, `identity`,
    /// `apiVersionConstraint`, or `roleAssignment`.
    pub setting: String,
    pub source: Value,
    pub target: Value,
    pub status: SettingStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SettingStatus {
    /// Shown, not changed (no `--update`).
    Planned,
    Applied,
}

/// How a Key Vault named value reads now (`apim-namedvalues refresh`):
/// its `lastStatus` after a refresh, and who reads which vault.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamedValueStatusDoc {
    pub service_id: ResourceId,
    pub name: String,
    pub display_name: String,
    pub secret_identifier: String,
    /// The user-assigned identity it reads with; `None`: the system identity.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_client_id: Option<String>,
    /// `lastStatus.code`: `Success`, or why the vault could not be read.
    pub code: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_stamp_utc: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl NamedValueStatusDoc {
    /// From a Key Vault named value as ARM shows it; `None` for any other.
    pub fn from_arm(service: &ResourceId, body: &Value) -> Option<Self> {
        let kv = body.pointer("/properties/keyVault").filter(|k| k.is_object())?;
        let s = |v: Option<&Value>| v.and_then(Value::as_str).map(str::to_string);
        Some(NamedValueStatusDoc {
            service_id: service.clone(),
            name: s(body.get("name")).unwrap_or_default(),
            display_name: s(body.pointer("/properties/displayName")).unwrap_or_default(),
            secret_identifier: s(kv.get("secretIdentifier")).unwrap_or_default(),
            identity_client_id: s(kv.get("identityClientId")).filter(|c| !c.is_empty()),
            code: s(kv.pointer("/lastStatus/code")).unwrap_or_else(|| "Unknown".into()),
            time_stamp_utc: s(kv.pointer("/lastStatus/timeStampUtc")),
            message: s(kv.pointer("/lastStatus/message")),
        })
    }

    pub fn readable(&self) -> bool {
        self.code.eq_ignore_ascii_case("Success")
    }

    /// The vault's name: the secret identifier's first host label.
    pub fn vault(&self) -> String {
        url::Url::parse(&self.secret_identifier)
            .ok()
            .and_then(|u| u.host_str().map(|h| h.split('.').next().unwrap_or(h).to_string()))
            .unwrap_or_else(|| self.secret_identifier.clone())
    }

    /// Who reads the vault, in words.
    pub fn reader(&self) -> String {
        match &self.identity_client_id {
            Some(c) => format!("the user-assigned identity {c}"),
            None => "the system-assigned identity".into(),
        }
    }
}

fn check_entity(d: &EntityDoc) -> Result<(), String> {
    // `service` is the service's own settings.
    let segs: Vec<&str> = d.path.split('/').collect();
    if d.path != "service" && !segs.len().is_multiple_of(2) || segs.iter().any(|s| s.is_empty()) {
        return Err(format!(
            "'{}' is not an entity path (service, or collection/id[/collection/id…])",
            d.path
        ));
    }
    if !d.properties.is_object() {
        return Err(format!("the properties of '{}' are not a JSON object", d.path));
    }
    Ok(())
}

/// An APIM service id, as every document that names one must carry.
pub fn check_service_id(id: &ResourceId) -> Result<(), String> {
    let is_service = id
        .resource_type()
        .is_some_and(|t| t.eq_ignore_ascii_case("Microsoft.ApiManagement/service"))
        && id.resource_group_name().is_some();
    match id.name() {
        Some(n) if is_service && apim_rules::is_valid_service_name(n) => Ok(()),
        _ => Err(format!("'{id}' is not the id of an API Management service")),
    }
}

fn check_service_doc(d: &ServiceDoc) -> Result<(), String> {
    check_service_id(&d.id)?;
    if !d.id.name().is_some_and(|n| n.eq_ignore_ascii_case(&d.name)) {
        return Err(format!("its name '{}' is not the name in its id '{}'", d.name, d.id));
    }
    Ok(())
}

/// An account and container as Storage names them, the account named
/// once: the name must be the one in its id.
fn check_storage(account_id: &ResourceId, account: &str, container: &str) -> Result<(), String> {
    if !is_valid_account_name(account) {
        return Err(format!("'{account}' is not a storage account name"));
    }
    if account_id.name() != Some(account) {
        return Err(format!("its account '{account}' is not the account in '{account_id}'"));
    }
    if !is_valid_container_name(container) {
        return Err(format!(
            "'{container}' is not a container name (3-63 lowercase letters, digits and single hyphens)"
        ));
    }
    Ok(())
}

fn check_storage_ref(s: &StorageRef, blob: &str) -> Result<(), String> {
    check_storage(&s.account_id, &s.account, &s.container)?;
    if !is_valid_blob_name(blob) {
        return Err(format!("'{blob}' is not a blob name this toolkit writes"));
    }
    Ok(())
}

fn check_container_doc(d: &ContainerDoc) -> Result<(), String> {
    check_storage(&d.account_id, &d.account, &d.container)
}

fn check_backup(d: &BackupDoc) -> Result<(), String> {
    check_service_id(&d.service.id)?;
    check_storage_ref(&d.storage, &d.blob)
}

fn check_operation(d: &OperationDoc) -> Result<(), String> {
    match &d.work {
        Resume::Backup(c) => {
            check_service_id(&c.service.id)?;
            check_storage_ref(&c.storage, &c.blob)
        }
        Resume::Restore { restore } => check_service_id(&restore.target.id),
        Resume::ServiceDelete { .. } => check_service_id(&d.resource_id),
        Resume::StorageCreate { container } if !is_valid_container_name(container) => Err(format!("'{container}' is not a container name")),
        _ => Ok(()),
    }
}

fn check_named_value_name(service: &ResourceId, name: &str) -> Result<(), String> {
    check_service_id(service)?;
    if !apim_rules::is_valid_named_value_name(name) {
        return Err(format!(
            "'{name}' is not a named value name (letters, digits, '-', '_' and '.', not starting or ending with '.')"
        ));
    }
    Ok(())
}

fn check_named_value(d: &NamedValueDoc) -> Result<(), String> {
    check_named_value_name(&d.service_id, &d.name)
}

fn check_sync_change(d: &SyncChangeDoc) -> Result<(), String> {
    check_service_id(&d.target_id)?;
    if let Some(s) = &d.source_id {
        check_service_id(s)?;
    }
    for p in std::iter::once(&d.target_path).chain(d.source_path.as_ref()) {
        check_entity_path(p)?;
    }
    // One entity of one family on both sides: a change cannot write what
    // it read from one kind of entity into another.
    let fam = apim_families::family_of(&d.path).ok_or_else(|| format!("'{}' is no family's entity path", d.path))?;
    for p in std::iter::once(&d.target_path).chain(d.source_path.as_ref()) {
        if apim_families::family_of(p).map(|f| f.name) != Some(fam.name) {
            return Err(format!("the change of '{}' ({}) names '{p}', which is not one", d.path, fam.name));
        }
    }
    if d.action != SyncAction::Delete && !d.after.as_ref().is_some_and(Value::is_object) {
        return Err(format!("the change of '{}' has no properties to write ('after')", d.path));
    }
    if d.action == SyncAction::Delete && !apim_families::deletable(&d.path) {
        return Err(format!("'{}' is made by Azure in every instance and is never deleted", d.path));
    }
    if !d.secrets.is_empty() && (d.source_id.is_none() || d.source_path.is_none()) {
        return Err(format!("the change of '{}' copies secrets but names no source", d.path));
    }
    // A secret goes only where its family keeps it, never into a property
    // anyone can read.
    let readable = |p: &String| {
        fam.secrets.iter().any(|s| {
            s.property == p
                && matches!(
                    s.read,
                    apim_families::SecretRead::ListValue | apim_families::SecretRead::ListSecrets
                )
        })
    };
    if let Some(p) = d.secrets.iter().find(|p| !readable(p)) {
        return Err(format!("'{p}' is not a secret of {} a copy reads", fam.name));
    }
    if let Some((old, new)) = d
        .hosts
        .iter()
        .find(|(old, new)| !namedvalue_rewrite::host::is_hostname(old) || !namedvalue_rewrite::host::is_hostname(new))
    {
        return Err(format!("the host rule '{old}={new}' does not name two hostnames"));
    }
    Ok(())
}

/// A path below a service that names one entity and nothing else: pairs
/// of collection and id, each a plain URL segment.
fn check_entity_path(p: &str) -> Result<(), String> {
    let segs: Vec<&str> = p.split('/').collect();
    let plain = |s: &&str| !s.is_empty() && *s != "." && *s != ".." && !s.contains(['?', '#', '\\', '%']);
    if !segs.len().is_multiple_of(2) || !segs.iter().all(plain) {
        return Err(format!("'{p}' is not an entity path (collection/id[/collection/id…])"));
    }
    Ok(())
}

fn check_change(d: &ChangeDoc) -> Result<(), String> {
    check_named_value_name(&d.service_id, &d.name)
}

/// What every document looks like on the wire: kind and version first.
#[derive(Serialize)]
pub(crate) struct Envelope<'a, D> {
    pub kind: &'static str,
    #[serde(rename = "schemaVersion")]
    pub schema_version: u32,
    #[serde(flatten)]
    pub body: &'a D,
}

impl<'a, D: Document> Envelope<'a, D> {
    pub fn of(body: &'a D) -> Self {
        Envelope {
            kind: D::KIND,
            schema_version: SCHEMA_VERSION,
            body,
        }
    }
}

/// A document as a JSON value, with its kind and version.
pub fn to_value<D: Document>(doc: &D) -> serde_json::Result<Value> {
    serde_json::to_value(Envelope::of(doc))
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
    pub account_id: ResourceId,
    pub account: String,
    pub container: String,
    pub subscription_id: String,
    pub resource_group: String,
    pub location: String,
    /// `primaryEndpoints.blob` as ARM reports it.
    pub blob_endpoint: String,
}

/// `apim.operation`: a long-running operation still going on in Azure.
/// `--resume` with this document on stdin waits for it again.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct OperationDoc {
    /// What was started and what finishing it needs (`operation` and
    /// `context` on the wire).
    #[serde(flatten)]
    pub work: Resume,
    pub resource_id: ResourceId,
    pub started_at: String,
    #[serde(flatten)]
    pub pending: PendingOperation,
}

impl OperationDoc {
    pub fn new(work: Resume, resource_id: ResourceId, pending: PendingOperation) -> Self {
        OperationDoc {
            work,
            resource_id,
            started_at: now_rfc3339(),
            pending,
        }
    }

    /// How progress names the operation: `apim-src backup`.
    pub fn label(&self) -> String {
        format!("{} {}", self.resource_id.name().unwrap_or_default(), self.work.name())
    }

    /// The resource the work is about, as its context names it: the
    /// service backed up, the restore's target, else `resource_id`.
    pub fn subject(&self) -> &ResourceId {
        match &self.work {
            Resume::Backup(c) => &c.service.id,
            Resume::Restore { restore } => &restore.target.id,
            _ => &self.resource_id,
        }
    }

    /// Why this document does not bind to the operation it claims to
    /// resume (`None` when it does). A resume document travels (CI
    /// artifacts, files) and is believed by what finishing it writes (a
    /// backup's mark records the service it names), so: its context and
    /// its resource are one resource; every URL it polls is on `arm` (the
    /// ARM endpoint in use); the URL it started on is that resource's; and
    /// a backup's or restore's status URL is one of that service's
    /// operations, as APIM answers them (`…/service/{name}/operationresults/…`).
    pub fn unbound(&self, arm: &url::Url) -> Option<String> {
        let subject = self.subject();
        if subject != &self.resource_id {
            return Some(format!(
                "its context names {subject} but its operation runs on {}",
                self.resource_id
            ));
        }
        let under = |u: &str, what: &str| -> Option<String> {
            let parsed = match url::Url::parse(u) {
                Ok(p) => p,
                Err(e) => return Some(format!("its {what} '{u}' is not a URL ({e})")),
            };
            if parsed.origin() != arm.origin() {
                return Some(format!(
                    "its {what} is on {}, not on the ARM endpoint {}",
                    parsed.origin().ascii_serialization(),
                    arm.origin().ascii_serialization()
                ));
            }
            let (path, id) = (parsed.path().to_ascii_lowercase(), subject.to_string().to_ascii_lowercase());
            let inside = path == id || path.starts_with(&format!("{id}/"));
            (!inside).then(|| format!("its {what} is not an operation of {subject}"))
        };
        let bound_status = matches!(self.work, Resume::Backup(_) | Resume::Restore { .. });
        under(&self.pending.resource_url, "resource URL")
            .or_else(|| {
                self.pending
                    .location
                    .as_deref()
                    .filter(|_| bound_status)
                    .and_then(|l| under(l, "status URL (Location)"))
            })
            .or_else(|| {
                self.pending
                    .azure_async_operation
                    .as_deref()
                    .filter(|_| bound_status)
                    .and_then(|a| under(a, "status URL (Azure-AsyncOperation)"))
            })
            .or_else(|| {
                // Other operations report status where ARM chooses; it must still be ARM.
                [&self.pending.location, &self.pending.azure_async_operation]
                    .into_iter()
                    .flatten()
                    .filter(|_| !bound_status)
                    .find_map(|u| match url::Url::parse(u) {
                        Ok(p) if p.origin() == arm.origin() => None,
                        _ => Some(format!("its status URL '{u}' is not on the ARM endpoint")),
                    })
            })
    }
}

/// What an operation started, with what the tool that started it needs to
/// finish its work once the operation is done (here or after `--resume`).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "operation", content = "context")]
pub enum Resume {
    #[serde(rename = "service.create")]
    ServiceCreate,
    /// An existing service changed with --update.
    #[serde(rename = "service.update")]
    ServiceUpdate,
    /// The container is created once the account exists.
    #[serde(rename = "storage.create")]
    StorageCreate { container: String },
    #[serde(rename = "backup")]
    Backup(Box<BackupContext>),
    #[serde(rename = "restore")]
    Restore { restore: Box<RestoreDoc> },
    /// A service being deleted; purged once it is gone when `purge` is set.
    #[serde(rename = "service.delete")]
    ServiceDelete {
        purge: bool,
        location: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        backup: Option<String>,
    },
}

impl Resume {
    /// The name the documents use, e.g. `service.create`.
    pub fn name(&self) -> &'static str {
        match self {
            Resume::ServiceCreate => "service.create",
            Resume::ServiceUpdate => "service.update",
            Resume::StorageCreate { .. } => "storage.create",
            Resume::Backup(_) => "backup",
            Resume::Restore { .. } => "restore",
            Resume::ServiceDelete { .. } => "service.delete",
        }
    }
}

/// What recording a finished backup needs.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupContext {
    pub service: ServiceRef,
    pub storage: StorageRef,
    pub blob: String,
    pub access_type: AccessType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_client_id: Option<String>,
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

/// The status of a backup document: only finished, verified backups are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum BackupStatus {
    Succeeded,
}

/// Where a restore stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RestoreStatus {
    /// --dry-run: every check passed; nothing was started.
    DryRun,
    /// Started; not finished when this was written (resume documents).
    Running,
    Succeeded,
}

/// What apply did with one change.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ChangeStatus {
    Applied,
    /// Changed by someone else since the plan; left alone.
    Conflict,
    /// --dry-run: it would apply.
    DryRun,
    /// Stopped (timeout, Ctrl-C) before it was written.
    NotApplied,
    /// Written; stopped waiting for it to take effect.
    Accepted,
    /// Azure refused the write (the message says why).
    Failed,
}

/// `apim.backup`: a finished backup and the blob that holds it.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BackupDoc {
    pub status: BackupStatus,
    pub service: ServiceRef,
    pub storage: StorageRef,
    pub blob: String,
    pub access_type: AccessType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity_client_id: Option<String>,
    pub started_at: String,
    pub completed_at: String,
    pub duration_seconds: f64,
    pub size: u64,
    pub etag: String,
    pub last_modified: String,
}

/// `apim.restore`: what a restore did (or, with --dry-run, would do).
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RestoreDoc {
    pub status: RestoreStatus,
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
    pub service: String,
    pub storage: StorageRef,
    pub blob: String,
    pub etag: String,
    pub last_modified: String,
    pub size: u64,
    pub reason: String,
    pub dry_run: bool,
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

impl KeyVaultDoc {
    /// Whether both name the same secret through the same identity (the
    /// last refresh status is not part of the reference).
    pub fn same_reference(a: Option<&KeyVaultDoc>, b: Option<&KeyVaultDoc>) -> bool {
        a.map(|k| (&k.secret_identifier, &k.identity_client_id)) == b.map(|k| (&k.secret_identifier, &k.identity_client_id))
    }
}

/// `apim.namedvalue`: one named value. A secret's `value` is null unless
/// the user asked with --reveal-secrets.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamedValueDoc {
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
    /// From ARM's named value resource; a secret's value is left out.
    pub fn from_arm(service: &ResourceId, body: &Value, etag: Option<String>) -> Self {
        let p = |k: &str| body.pointer(&format!("/properties/{k}")).cloned().unwrap_or(Value::Null);
        let secret = p("secret").as_bool().unwrap_or(false);
        let key_vault = body.pointer("/properties/keyVault").filter(|k| !k.is_null()).map(|kv| KeyVaultDoc {
            secret_identifier: kv.get("secretIdentifier").and_then(Value::as_str).unwrap_or_default().to_string(),
            identity_client_id: kv.get("identityClientId").and_then(Value::as_str).map(str::to_string),
            last_status: kv.get("lastStatus").cloned(),
        });
        NamedValueDoc {
            service_id: service.clone(),
            name: body.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
            display_name: p("displayName").as_str().unwrap_or_default().to_string(),
            value: if secret { None } else { p("value").as_str().map(str::to_string) },
            secret,
            tags: p("tags")
                .as_array()
                .map(|t| t.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
                .unwrap_or_default(),
            key_vault,
            etag,
        }
    }
}

/// One side of a change. A secret's value is never written down, not even
/// as a digest (a digest of a short secret is a guess away from it): apply
/// re-reads the secret and relies on its ETag.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamedValueSide {
    pub value: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_vault: Option<KeyVaultDoc>,
}

/// `apim.namedvalue.change`: what rewrite plans and apply reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ChangeDoc {
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
    /// Set by apply.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<ChangeStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
    /// Set by apply: the ETag its write produced, so that a later run of
    /// the same plan knows its own write (a secret's value is never kept).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub applied_etag: Option<String>,
}

impl ChangeDoc {
    /// What identifies this change's write across runs: service, named
    /// value and the ETag the plan was made at.
    pub fn write_key(&self) -> String {
        format!("{}|{}|{}", self.service_id, self.name, self.etag).to_ascii_lowercase()
    }
}

/// `apim.entity`: one entity of a service's configuration in a snapshot
/// (`apim-diff --inventory`): normalized, sorted by path, and never with a
/// secret's value.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityDoc {
    /// `apis/echo/operations/get`; named values by display name.
    pub path: String,
    pub properties: Value,
}

/// How one difference between two configurations shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DifferenceKind {
    MissingInA,
    MissingInB,
    Changed,
}

/// `apim.difference`: one difference between A and B (`apim-diff`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DifferenceDoc {
    pub path: String,
    /// The property that differs; absent when a whole entity is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub property: Option<String>,
    pub difference: DifferenceKind,
    /// A secret's values are never shown: it only says that they differ.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub a: Option<Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub b: Option<Value>,
}

/// `apim.hostref`: a place where a host is still used (`apim-diff --scan-host`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HostRefDoc {
    pub host: String,
    pub path: String,
    /// A JSON pointer into the entity's properties, e.g. `/serviceUrl`.
    pub property: String,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub secret: bool,
    /// The text it was found in; never for a secret.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
}

/// What `apim-provision delete` did to a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum DeletionStatus {
    /// Soft-deleted: `apim-provision service --recover` brings it back for 48 hours.
    Deleted,
    /// Deleted and purged: the name is free again.
    Purged,
    /// There was nothing to delete.
    AlreadyGone,
}

/// `apim.service.deleted`: a service `apim-provision delete` removed.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DeletedDoc {
    pub id: ResourceId,
    pub name: String,
    pub status: DeletionStatus,
    /// The backup that made deleting it safe, when one was checked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backup: Option<String>,
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
        let v = to_value(&d).unwrap();
        assert_eq!(v["kind"], "apim.service");
        assert_eq!(v["schemaVersion"], 1);
        assert_eq!(v["subscriptionId"], "s");
        assert_eq!(v["tags"]["env"], "test");
    }

    #[test]
    fn operation_doc_flattens_the_pending_operation_and_the_work() {
        let p = PendingOperation {
            resource_url: "https://h/x?api-version=1".into(),
            azure_async_operation: Some("https://h/op".into()),
            location: None,
            final_state_via: arm_types::FinalStateVia::OriginalUri,
            retry_after_seconds: None,
        };
        let id: ResourceId = "/subscriptions/s/resourceGroups/r".parse().unwrap();
        let d = OperationDoc::new(Resume::ServiceCreate, id.clone(), p.clone());
        let v = to_value(&d).unwrap();
        assert_eq!(
            (v["kind"].as_str(), v["operation"].as_str(), v["azureAsyncOperation"].as_str()),
            (Some("apim.operation"), Some("service.create"), Some("https://h/op"))
        );
        assert!(v.get("context").is_none(), "{v}");
        let back: OperationDoc = serde_json::from_value(v).unwrap();
        assert_eq!(back.pending, p);
        assert!(matches!(back.work, Resume::ServiceCreate));

        let d = OperationDoc::new(
            Resume::StorageCreate {
                container: "apim-backups".into(),
            },
            id,
            p,
        );
        let v = to_value(&d).unwrap();
        assert_eq!(v["context"]["container"], "apim-backups");
        let back: OperationDoc = serde_json::from_value(v).unwrap();
        assert!(matches!(back.work, Resume::StorageCreate { container } if container == "apim-backups"));
    }

    fn backup_op(service: &str, location: &str) -> OperationDoc {
        let svc = format!("/subscriptions/s/resourceGroups/g/providers/Microsoft.ApiManagement/service/{service}");
        let id: ResourceId = svc.parse().unwrap();
        let account: ResourceId = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/b"
            .parse()
            .unwrap();
        let ctx = BackupContext {
            service: ServiceRef {
                id: id.clone(),
                name: service.into(),
                sku: Sku {
                    name: "Developer".into(),
                    capacity: 1,
                },
                location: "westeurope".into(),
            },
            storage: StorageRef {
                account_id: account,
                account: "b".into(),
                container: "c".into(),
                blob_endpoint: "https://b.blob.core.windows.net/".into(),
            },
            blob: format!("{service}-20261207T000000Z.apimbackup"),
            access_type: AccessType::AccessKey,
            identity_client_id: None,
        };
        let pending = PendingOperation {
            resource_url: format!("https://arm.example{svc}/backup?api-version=2024-05-01"),
            azure_async_operation: None,
            location: Some(location.replace("{svc}", &svc)),
            final_state_via: arm_types::FinalStateVia::Location,
            retry_after_seconds: None,
        };
        OperationDoc::new(Resume::Backup(Box::new(ctx)), id, pending)
    }

    #[test]
    fn a_resume_document_binds_to_its_own_service_on_the_arm_endpoint() {
        let arm = url::Url::parse("https://arm.example/").unwrap();
        let good = backup_op("apim-src", "https://arm.example{svc}/operationresults/abc?api-version=2024-05-01");
        assert_eq!(good.unbound(&arm), None);
        // The context swapped to another service: the mark would name it.
        let mut forged = good.clone();
        if let Resume::Backup(c) = &mut forged.work {
            c.service.id = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ApiManagement/service/apim-dest"
                .parse()
                .unwrap();
        }
        assert!(
            forged.unbound(&arm).unwrap().contains("its context names"),
            "{:?}",
            forged.unbound(&arm)
        );
        // Another service's operation under this context.
        let other = backup_op(
            "apim-src",
            "https://arm.example/subscriptions/s/resourceGroups/g/providers/Microsoft.ApiManagement/service/apim-dest/operationresults/abc",
        );
        assert!(other.unbound(&arm).unwrap().contains("not an operation of"));
        let prefix = backup_op("apim-src", "https://arm.example{svc}-eu/operationresults/abc");
        assert!(prefix.unbound(&arm).is_some(), "apim-src-eu is not apim-src");
        let elsewhere = backup_op("apim-src", "https://evil.example{svc}/operationresults/abc");
        assert!(elsewhere.unbound(&arm).unwrap().contains("not on the ARM endpoint"));
        let other_sub = backup_op(
            "apim-src",
            "https://arm.example/subscriptions/t/resourceGroups/g/providers/Microsoft.ApiManagement/service/apim-src/operationresults/x",
        );
        assert!(other_sub.unbound(&arm).is_some(), "another subscription");
        assert!(backup_op("apim-src", "not a url").unbound(&arm).is_some());
    }

    #[test]
    fn statuses_are_spelled_as_before() {
        assert_eq!(json!(ChangeStatus::NotApplied), "not-applied");
        assert_eq!(json!(ChangeStatus::DryRun), "dry-run");
        assert_eq!(json!(RestoreStatus::DryRun), "DryRun");
        assert_eq!(json!(BackupStatus::Succeeded), "Succeeded");
        assert_eq!(json!(AccessType::SystemIdentity), "system-identity");
    }

    #[test]
    fn a_sync_change_moves_one_entity_and_its_secrets_only_where_they_are_kept() {
        let sid = |n: &str| -> ResourceId {
            format!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/{n}")
                .parse()
                .unwrap()
        };
        let ok = SyncChangeDoc {
            source_id: Some(sid("src")),
            target_id: sid("dest"),
            path: "namedValues/Backend Key".into(),
            target_path: "namedValues/backend-key".into(),
            source_path: Some("namedValues/backend-key".into()),
            action: SyncAction::Create,
            order: 1,
            before: None,
            after: Some(json!({"displayName": "Backend Key", "secret": true})),
            secrets: vec!["/value".into()],
            source_etag: None,
            etag: None,
            refs: BTreeMap::new(),
            hosts: vec![("api.src.example.com".into(), "api.dest.example.com".into())],
            status: None,
            message: None,
        };
        assert_eq!(ok.validate(), Ok(()));
        let refused = |f: &dyn Fn(&mut SyncChangeDoc), says: &str| {
            let mut d = ok.clone();
            f(&mut d);
            let e = d.validate().unwrap_err();
            assert!(e.contains(says), "{e}");
        };
        // A secret read from one kind of entity, written into another.
        refused(&|d| d.target_path = "apis/echo".into(), "apis/echo");
        refused(&|d| d.source_path = Some("subscriptions/s1".into()), "subscriptions/s1");
        // A secret put where anyone can read it.
        refused(
            &|d| {
                d.path = "apis/echo".into();
                d.target_path = "apis/echo".into();
                d.source_path = Some("apis/echo".into());
                d.secrets = vec!["/description".into()];
            },
            "'/description' is not a secret of apis",
        );
        refused(&|d| d.secrets = vec!["/displayName".into()], "is not a secret of namedValues");
        refused(&|d| d.path = "nothing/x".into(), "no family's");
        refused(&|d| d.hosts = vec![("a.example.com".into(), "https://x/".into())], "host rule");
        refused(
            &|d| {
                d.action = SyncAction::Delete;
                d.path = "groups/developers".into();
                d.target_path = "groups/developers".into();
                d.source_path = None;
                d.secrets.clear();
            },
            "never deleted",
        );
    }
}
