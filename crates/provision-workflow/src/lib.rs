//! APIM services and backup storage, as `apim-provision` manages them:
//! create what is missing, change what exists only when asked, and delete
//! a service only while a recent backup of it is proven by its blob. Works
//! over an ARM client, reports through an [`Observer`], prints nothing.
//!
//! ```no_run
//! # async fn demo(arm: &arm_client::ArmClient, id: arm_client::ResourceId) -> Result<(), provision_workflow::ProvisionError> {
//! use provision_workflow::{provision_service, ServiceRequest};
//! let spec = apim_ops::ServiceSpec::new("westeurope", "Developer", 1, "ops@example.com", "Ops");
//! let request = ServiceRequest::new(id, spec).expect("valid settings");
//! let started = provision_service(arm, &arm_client::Silent, &request, Default::default()).await?;
//! # Ok(()) }
//! ```

mod delete;
pub mod like;

pub use delete::{backup_for, delete_service, plan_deletion, prove_backup, purge, Deletion, DeletionRail, Unproven};

use apim_documents::{Classify, ContainerDoc, DeletedDoc, DeletionStatus, Emit, Failure, OperationDoc, Resume, ServiceDoc};
use apim_ops::{ExistingPolicy, OpsError, ServiceSpec, SoftDeletePolicy};
use arm_client::{ArmClient, Observer, Progress, ResourceId};
use serde_json::Value;
use std::collections::BTreeMap;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    /// Input that cannot work, found before anything was sent (or once ARM answered).
    #[error("{0}")]
    BadInput(String),
    /// A safety rail refused.
    #[error("{0}")]
    Refused(String),
    /// Nothing was started: a signal came first.
    #[error("interrupted before {0} started; it was not started")]
    Interrupted(String),
    #[error("{what}")]
    Ops {
        what: String,
        #[source]
        source: Box<OpsError>,
    },
    #[error("{what}")]
    Arm {
        what: String,
        #[source]
        source: Box<arm_client::Error>,
    },
    #[error(transparent)]
    Blob(#[from] blob_store::BlobError),
    /// The backup rail refused a purge (the service stays soft-deleted).
    #[error("service {service}: not purged: {why}; it stays soft-deleted and can be recovered for 48 hours")]
    PurgeRefused { service: String, why: Unproven },
    /// ARM answered with a resource this toolkit cannot read.
    #[error("{0}")]
    Unreadable(String),
    /// A resume document of another tool's operation.
    #[error("a '{0}' operation is not one of provisioning's; resume it with the tool that started it")]
    NotMine(&'static str),
}

impl Classify for ProvisionError {
    fn failure(&self) -> Failure {
        match self {
            ProvisionError::BadInput(_) | ProvisionError::NotMine(_) => Failure::BadInput,
            ProvisionError::Refused(_) | ProvisionError::PurgeRefused { .. } => Failure::Refused,
            ProvisionError::Interrupted(_) => Failure::Stopped,
            ProvisionError::Ops { source, .. } => match **source {
                OpsError::Refused(_) | OpsError::Downgrade { .. } => Failure::Refused,
                OpsError::Usage(_) | OpsError::Missing(_) => Failure::BadInput,
                _ => Failure::Azure,
            },
            _ => Failure::Azure,
        }
    }
}

type Result<T> = std::result::Result<T, ProvisionError>;

fn ops(what: impl Into<String>) -> impl FnOnce(OpsError) -> ProvisionError {
    let what = what.into();
    move |source| ProvisionError::Ops {
        what,
        source: Box::new(source),
    }
}

fn arm(what: impl Into<String>) -> impl FnOnce(arm_client::Error) -> ProvisionError {
    let what = what.into();
    move |source| ProvisionError::Arm {
        what,
        source: Box::new(source),
    }
}

/// What provisioning yields: a service, a storage container, or a deleted service.
#[derive(Debug)]
pub enum Provisioned {
    Service(ServiceDoc),
    Container(ContainerDoc),
    Deleted(DeletedDoc),
}

impl Emit for Provisioned {
    fn emit(&self) -> std::io::Result<()> {
        match self {
            Provisioned::Service(d) => apim_documents::emit(d),
            Provisioned::Container(d) => apim_documents::emit(d),
            Provisioned::Deleted(d) => apim_documents::emit(d),
        }
    }
}

/// Done, or an operation that runs on in Azure (not yet followed).
pub type Started = Progress<Provisioned, OperationDoc>;

/// One service to provision, checked before any request is sent.
#[derive(Debug, Clone)]
pub struct ServiceRequest {
    pub id: ResourceId,
    pub spec: ServiceSpec,
}

impl ServiceRequest {
    /// The checks that need no server: a typo must not cost a 40-minute create.
    pub fn new(id: ResourceId, spec: ServiceSpec) -> std::result::Result<Self, SpecError> {
        check_spec(id.name().unwrap_or_default(), &spec)?;
        Ok(ServiceRequest { id, spec })
    }
}

/// What is wrong with a service's settings, found before any request.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("service name '{0}' is invalid: 1-50 letters, digits and hyphens, starting with a letter and not ending with a hyphen")]
    Name(String),
    #[error("unknown SKU '{0}'")]
    Sku(String),
    #[error("publisher email '{0}' is not an email address")]
    Email(String),
}

/// A service name APIM takes, a known SKU, an email that looks like one.
pub fn check_spec(name: &str, spec: &ServiceSpec) -> std::result::Result<(), SpecError> {
    if !apim_rules::is_valid_service_name(name) {
        return Err(SpecError::Name(name.to_string()));
    }
    if let Some(sku) = spec.sku_name.as_deref().filter(|s| apim_rules::sku(s).is_none()) {
        return Err(SpecError::Sku(sku.to_string()));
    }
    if let Some(email) = spec.publisher_email.as_deref().filter(|e| !e.contains('@')) {
        return Err(SpecError::Email(email.to_string()));
    }
    Ok(())
}

/// Whether a service carries every tag asked for (names ignore case, as Azure's do).
pub fn has_tags(doc: &ServiceDoc, wanted: &[(String, String)]) -> bool {
    wanted
        .iter()
        .all(|(k, v)| doc.tags.iter().any(|(tk, tv)| tk.eq_ignore_ascii_case(k) && tv == v))
}

/// How a service is handled: what to do with a soft-deleted name, and with
/// one that exists (kept as it is unless `Update`).
pub type Policies = (SoftDeletePolicy, ExistingPolicy);

/// Creates one service, or returns it as it is (see [`apim_ops::plan_existing`]):
/// `Done` with its document, or the operation that creates or updates it.
pub async fn provision_service(arm_client: &ArmClient, observer: &dyn Observer, r: &ServiceRequest, policies: Policies) -> Result<Started> {
    let name = r.id.name().unwrap_or_default().to_string();
    if arm_client.stop().interrupted() {
        return Err(ProvisionError::Interrupted(format!("service {name}")));
    }
    let update = matches!(policies.1, ExistingPolicy::Update { .. });
    let mut differences = Vec::new();
    let started = apim_ops::create_service(arm_client, &r.id, &r.spec, policies, &mut differences)
        .await
        .map_err(|e| match e {
            OpsError::Refused(m) => ProvisionError::Refused(m),
            OpsError::Usage(m) => ProvisionError::BadInput(format!("service {name}: {m}")),
            e => ops(format!("service {name}"))(e),
        })?;
    let work = match (update, differences.is_empty()) {
        (true, false) => {
            observer.info(&format!("{name}: updating: {}", differences.join(", ")));
            Resume::ServiceUpdate
        }
        (false, false) => {
            observer.info(&format!(
                "{name}: exists and is left as it is; not applied: {} (pass --update to change it)",
                differences.join(", ")
            ));
            Resume::ServiceCreate
        }
        _ => Resume::ServiceCreate,
    };
    match started {
        Progress::Done(body) => {
            if differences.is_empty() {
                observer.info(&format!("{name}: exists with these settings; nothing to do"));
            }
            Ok(Progress::Done(Provisioned::Service(service_doc(&body)?)))
        }
        Progress::Pending(op) => Ok(Progress::Pending(OperationDoc::new(work, r.id.clone(), op))),
    }
}

/// One storage target.
#[derive(Debug, Clone)]
pub struct StorageRequest {
    pub account: ResourceId,
    pub container: String,
    pub location: String,
    pub sku: String,
}

/// Creates the account unless it exists, then the container.
pub async fn provision_storage(arm_client: &ArmClient, r: &StorageRequest) -> Result<Started> {
    let name = r.account.name().unwrap_or_default().to_string();
    if arm_client.stop().interrupted() {
        return Err(ProvisionError::Interrupted(format!("storage account {name}")));
    }
    match storage_accounts::ensure_account(arm_client, &r.account, &r.location, &r.sku)
        .await
        .map_err(arm(format!("storage account {name}")))?
    {
        Progress::Done(account) => Ok(Progress::Done(Provisioned::Container(
            container_doc(arm_client, &r.account, &account, &r.container).await?,
        ))),
        Progress::Pending(op) => {
            let work = Resume::StorageCreate {
                container: r.container.clone(),
            };
            Ok(Progress::Pending(OperationDoc::new(work, r.account.clone(), op)))
        }
    }
}

/// Whether the operation is one of provisioning's (checked before any wait).
pub fn check_resumable(op: &OperationDoc) -> Result<()> {
    match &op.work {
        Resume::ServiceCreate | Resume::ServiceUpdate | Resume::StorageCreate { .. } | Resume::ServiceDelete { .. } => Ok(()),
        other => Err(ProvisionError::NotMine(other.name())),
    }
}

/// Turns a finished operation (`result` is what ARM returned) into the
/// document the user expects; a delete that asked for it is purged, the
/// backup rail checked again right before.
pub async fn finish(
    arm_client: &ArmClient,
    observer: &dyn Observer,
    op: OperationDoc,
    result: Value,
    rail: &DeletionRail,
) -> Result<Provisioned> {
    match &op.work {
        Resume::ServiceCreate | Resume::ServiceUpdate => {
            let body = if result.is_null() {
                apim_ops::get_service(arm_client, &op.resource_id)
                    .await
                    .map_err(ops("reading the service"))?
                    .unwrap_or(Value::Null)
            } else {
                result
            };
            Ok(Provisioned::Service(service_doc(&body)?))
        }
        Resume::StorageCreate { container } => {
            let account = arm_client
                .get(arm_client.url(&op.resource_id.to_string(), storage_accounts::API_VERSION))
                .await
                .map_err(arm("reading the storage account"))?
                .unwrap_or(Value::Null);
            Ok(Provisioned::Container(
                container_doc(arm_client, &op.resource_id, &account, container).await?,
            ))
        }
        Resume::ServiceDelete {
            purge: p,
            location,
            backup,
        } => {
            let id = &op.resource_id;
            let status = if *p {
                purge(arm_client, observer, id, location, rail).await?;
                DeletionStatus::Purged
            } else {
                DeletionStatus::Deleted
            };
            Ok(deleted(id, status, backup.clone()))
        }
        other => Err(ProvisionError::NotMine(other.name())),
    }
}

/// The `apim.service.deleted` document of a service.
pub fn deleted(id: &ResourceId, status: DeletionStatus, backup: Option<String>) -> Provisioned {
    Provisioned::Deleted(DeletedDoc {
        id: id.clone(),
        name: id.name().unwrap_or_default().to_string(),
        status,
        backup,
    })
}

pub fn service_doc(body: &Value) -> Result<ServiceDoc> {
    ServiceDoc::from_arm(body).map_err(ProvisionError::Unreadable)
}

async fn container_doc(arm_client: &ArmClient, account_id: &ResourceId, account: &Value, container: &str) -> Result<ContainerDoc> {
    storage_accounts::ensure_container(arm_client, account_id, container)
        .await
        .map_err(arm(format!("container {container}")))?;
    let blob = storage_accounts::blob_endpoint(account).unwrap_or_default().to_string();
    Ok(ContainerDoc {
        account: account_id.name().unwrap_or_default().to_string(),
        subscription_id: account_id.subscription_id().to_string(),
        resource_group: account_id.resource_group_name().unwrap_or_default().to_string(),
        account_id: account_id.clone(),
        container: container.to_string(),
        location: account.get("location").and_then(Value::as_str).unwrap_or_default().to_string(),
        blob_endpoint: blob,
    })
}

/// Creates the resource group unless it exists; says which.
pub async fn ensure_group(arm_client: &ArmClient, observer: &dyn Observer, sub: &str, rg: &str, location: &str) -> Result<()> {
    let outcome = arm_client::groups::ensure_group(arm_client, sub, rg, location)
        .await
        .map_err(arm(format!("resource group {rg}")))?;
    let what = if outcome == arm_client::groups::GroupOutcome::Created {
        "created"
    } else {
        "exists"
    };
    observer.info(&format!("resource group {rg}: {what}"));
    Ok(())
}

/// Tags as a map, for a spec.
pub fn tag_map(tags: &[(String, String)]) -> BTreeMap<String, String> {
    tags.iter().cloned().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn doc(tags: &[(&str, &str)]) -> ServiceDoc {
        let body = serde_json::json!({
            "id": "/subscriptions/s/resourceGroups/g/providers/Microsoft.ApiManagement/service/apim-src",
            "name": "apim-src", "location": "westeurope", "sku": {"name": "Developer", "capacity": 1},
            "tags": tags.iter().map(|(k, v)| (k.to_string(), serde_json::json!(v))).collect::<serde_json::Map<_, _>>(),
        });
        ServiceDoc::from_arm(&body).unwrap()
    }

    #[test]
    fn tags_match_by_name_ignoring_case_and_by_value_exactly() {
        let d = doc(&[("Env", "prod"), ("team", "a")]);
        assert!(has_tags(&d, &[("env".into(), "prod".into())]));
        assert!(!has_tags(&d, &[("env".into(), "Prod".into())]));
        assert!(!has_tags(&d, &[("env".into(), "prod".into()), ("owner".into(), "x".into())]));
        assert!(has_tags(&d, &[]));
    }

    #[test]
    fn a_typo_fails_before_any_request() {
        let ok = ServiceSpec::new("westeurope", "Developer", 1, "a@b.c", "P");
        assert!(check_spec("apim-src", &ok).is_ok());
        assert_eq!(check_spec("-bad", &ok), Err(SpecError::Name("-bad".into())));
        let sku = ServiceSpec::new("westeurope", "Platinum", 1, "a@b.c", "P");
        assert_eq!(check_spec("apim-src", &sku), Err(SpecError::Sku("Platinum".into())));
        let mail = ServiceSpec::new("westeurope", "Developer", 1, "nobody", "P");
        assert_eq!(check_spec("apim-src", &mail), Err(SpecError::Email("nobody".into())));
    }

    #[test]
    fn resume_documents_of_other_tools_are_bad_input() {
        let id: ResourceId = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ApiManagement/service/x"
            .parse()
            .unwrap();
        let pending = arm_client::PendingOperation::on_resource("https://h/x");
        let create = serde_json::from_value::<Resume>(serde_json::json!({"operation": "service.create"})).unwrap();
        assert!(check_resumable(&OperationDoc::new(create, id.clone(), pending.clone())).is_ok());
        let storage = OperationDoc::new(Resume::StorageCreate { container: "c".into() }, id.clone(), pending.clone());
        assert!(check_resumable(&storage).is_ok());
        let restore = serde_json::from_value::<Resume>(serde_json::json!({"operation": "restore", "context": {"restore": {
            "status": "Running", "notRestored": [],
            "source": {"id": id.to_string(), "name": "x", "sku": {"name": "Developer", "capacity": 1}, "location": "l"},
            "target": {"id": id.to_string(), "name": "x", "sku": {"name": "Developer", "capacity": 1}, "location": "l"},
            "backup": {"account": "a", "container": "c", "blob": "b", "etag": "e"}}}}))
        .unwrap();
        let e = check_resumable(&OperationDoc::new(restore, id, pending)).unwrap_err();
        assert!(matches!(e, ProvisionError::NotMine("restore")), "{e}");
        assert_eq!(e.failure(), Failure::BadInput);
    }
}
