//! APIM backups as the toolkit keeps them. A backup counts only once its
//! operation succeeded and its blob was found and marked; every tool that
//! takes a backup (a backup, a restore's safety backup) or relies on one
//! (prune, restore rails, teardown) goes through here, so the rule is
//! written once. It works over an ARM client and reports through an
//! [`Observer`]; it prints nothing and returns documents.

pub mod prune;

use apim_documents::{BackupContext, BackupDoc, BackupStatus, Classify, Failure, OperationDoc, Resume, ServiceRef, StorageRef};
use apim_ops::BackupAccess;
use arm_client::{ArmClient, Observer, Progress, ResourceId, WaitError};
use blob_store::{BlobClient, BlobError, BlobProperties};

/// A backup finished, or the document that waits for it again.
pub type Outcome<T> = Progress<T, Box<OperationDoc>>;

/// What went wrong with a backup.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    /// Nothing was started: a signal (or the deadline) came first.
    #[error("interrupted before {0} started; it was not started")]
    Interrupted(String),
    /// A resume document of another kind of operation.
    #[error("a '{0}' operation is not a backup; resume it with the tool that started it")]
    NotABackup(&'static str),
    #[error("backup of {service}")]
    Start {
        service: String,
        #[source]
        source: apim_ops::OpsError,
    },
    #[error("{label} failed")]
    Failed {
        label: String,
        #[source]
        source: arm_client::Error,
    },
    #[error("the backup of {service} reported success, but blob '{blob}' is not in container '{container}'")]
    BlobMissing { service: String, blob: String, container: String },
    #[error("cannot read the keys of storage account '{0}' for the safety backup")]
    NoKey(String),
    /// The safety backup goes on in Azure; the document resumes it.
    #[error("stopped waiting for the safety backup; nothing was restored")]
    SafetyPending(Box<OperationDoc>),
    /// The operation reported another resource than the document's service:
    /// nothing is marked.
    #[error("the operation reports {reported}, not {service}; nothing was recorded")]
    NotThatService { service: String, reported: String },
    #[error(transparent)]
    Blob(#[from] BlobError),
}

/// The id an operation's result reports, when it is not `expected`.
pub fn reported_other(result: &serde_json::Value, expected: &ResourceId) -> Option<String> {
    let id = result.get("id").and_then(serde_json::Value::as_str)?;
    match id.parse::<ResourceId>() {
        Ok(r) if &r == expected => None,
        _ => Some(id.to_string()),
    }
}

impl Classify for BackupError {
    fn failure(&self) -> Failure {
        match self {
            BackupError::Interrupted(_) | BackupError::SafetyPending(_) => Failure::Stopped,
            BackupError::NotABackup(_) | BackupError::NotThatService { .. } => Failure::BadInput,
            _ => Failure::Azure,
        }
    }
}

/// Set on a backup blob once its backup succeeded; prune and the rails
/// trust only marked blobs.
pub const SUCCESS_MARK: (&str, &str) = ("apimtoolkit_status", "Succeeded");

/// The service a marked blob is a backup of (its resource id).
pub const SERVICE_KEY: &str = "apimtoolkit_serviceid";
/// When the backup completed (RFC 3339).
pub const COMPLETED_KEY: &str = "apimtoolkit_completedat";

/// Whether a blob carries the success mark.
pub fn is_marked(blob: &BlobProperties) -> bool {
    blob.metadata.get(SUCCESS_MARK.0).map(String::as_str) == Some(SUCCESS_MARK.1)
}

/// What a backup blob itself says about the backup, as recorded when it
/// was marked: the rails trust this, not what a document claims.
#[derive(Debug, Clone, PartialEq)]
pub struct Recorded {
    pub marked: bool,
    /// `None` on blobs marked by an older apim-backup.
    pub service_id: Option<ResourceId>,
    /// The recorded completion time, else the blob's Last-Modified.
    pub completed: Option<time::OffsetDateTime>,
}

pub fn recorded(blob: &BlobProperties) -> Recorded {
    let completed = blob
        .metadata
        .get(COMPLETED_KEY)
        .and_then(|t| time::OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
        .or_else(|| blob.modified_unix().and_then(|t| time::OffsetDateTime::from_unix_timestamp(t).ok()));
    Recorded {
        marked: is_marked(blob),
        service_id: blob.metadata.get(SERVICE_KEY).and_then(|id| id.parse().ok()),
        completed,
    }
}

/// Whether a blob is a backup of the service named `service`: by the
/// service id recorded in it, or, for blobs marked before ids were
/// recorded, by its exact default name `<service>-<timestamp>.apimbackup`
/// (so `apim-src` never claims `apim-src-eu-…`).
pub fn is_backup_of(blob: &BlobProperties, service: &str) -> bool {
    if let Some(id) = recorded(blob).service_id {
        return id.name().is_some_and(|n| n.eq_ignore_ascii_case(service));
    }
    let Some(rest) = blob.name.strip_prefix(&format!("{service}-")) else {
        return false;
    };
    let Some(stamp) = rest.strip_suffix(".apimbackup") else {
        return false;
    };
    stamp.len() == 16
        && stamp.char_indices().all(|(i, c)| match i {
            8 => c == 'T',
            15 => c == 'Z',
            _ => c.is_ascii_digit(),
        })
}

/// Why the backup document `d` does not prove that `service` is backed up
/// now (`None` when it does), judged by its blob, not by what the document
/// says: the blob exists unchanged, apim-backup marked it, it records
/// `service`, and it completed within `max_age` (the flag that sets it is
/// named in the refusal).
pub async fn why_unproven(
    arm: &ArmClient,
    d: &BackupDoc,
    service: &ResourceId,
    (max_age, max_age_flag): (std::time::Duration, &str),
    now: time::OffsetDateTime,
) -> Result<Option<String>, BlobError> {
    let s = storage_accounts::blob_client(arm, &d.storage.account_id).await?;
    let Some(p) = s.client.properties(&d.storage.container, &d.blob).await? else {
        return Ok(Some(format!("its blob '{}' no longer exists", d.blob)));
    };
    if p.etag != d.etag {
        return Ok(Some(format!("its blob '{}' changed since that backup", d.blob)));
    }
    let r = recorded(&p);
    if !r.marked {
        return Ok(Some(format!("its blob '{}' has no success mark", d.blob)));
    }
    match &r.service_id {
        Some(id) if id != service => {
            return Ok(Some(format!("its blob '{}' is a backup of {id}, not of {service}", d.blob)));
        }
        Some(_) => {}
        // Marked by an older toolkit: its name is all that says whose it is,
        // and prune's rule is the one that counts.
        None if !is_backup_of(&p, service.name().unwrap_or_default()) => {
            return Ok(Some(format!(
                "its blob '{}' records no service and is not named {}-<timestamp>.apimbackup",
                d.blob,
                service.name().unwrap_or_default()
            )));
        }
        None => {}
    }
    let Some(completed) = r.completed else {
        return Ok(Some(format!("its blob '{}' records no completion time", d.blob)));
    };
    if completed > now + time::Duration::minutes(5) {
        return Ok(Some(format!("its blob '{}' claims to be from the future", d.blob)));
    }
    let age = now - completed;
    if age > max_age {
        return Ok(Some(format!(
            "it is {} hours old (more than {max_age_flag} {} hours); take a new one",
            age.whole_hours(),
            max_age.as_secs() / 3600
        )));
    }
    Ok(None)
}

/// `<service>-<UTC timestamp>.apimbackup`.
pub fn default_blob_name(service: &str) -> String {
    let fmt = time::macros::format_description!("[year][month][day]T[hour][minute][second]Z");
    format!(
        "{service}-{}.apimbackup",
        time::OffsetDateTime::now_utc().format(&fmt).unwrap_or_default()
    )
}

/// Starts one backup. The operation document carries all that is needed
/// to record the backup later, here or after a resume. Nothing starts once
/// the client's stop has been interrupted (Ctrl-C, SIGTERM).
pub async fn start(
    arm: &ArmClient,
    observer: &dyn Observer,
    storage: &StorageRef,
    service: &ServiceRef,
    blob: String,
    access: &BackupAccess,
) -> Result<OperationDoc, BackupError> {
    let params = apim_ops::BackupParams {
        account: storage.account.clone(),
        container: storage.container.clone(),
        blob: blob.clone(),
        access: access.clone(),
    };
    if arm.stop().interrupted() {
        return Err(BackupError::Interrupted(format!("the backup of {}", service.name)));
    }
    let started_at = apim_documents::now_rfc3339();
    let begun = apim_ops::start_backup(arm, &service.id, &params)
        .await
        .map_err(|source| BackupError::Start {
            service: service.name.clone(),
            source,
        })?;
    let work = Resume::Backup(Box::new(BackupContext {
        service: service.clone(),
        storage: storage.clone(),
        blob,
        access_type: access.access_type(),
        identity_client_id: access.identity_client_id().map(str::to_string),
    }));
    let mut op = OperationDoc::new(work, service.id.clone(), apim_ops::pending_of(begun, arm, &service.id));
    op.started_at = started_at;
    if let Ok(doc) = apim_documents::to_value(&op) {
        observer.started(&op.label(), &doc);
    }
    Ok(op)
}

/// Waits for a backup and records its blob, marking it as succeeded (once:
/// a second resume of the same backup leaves the blob and its ETag alone).
/// `blobs` is a client for the backup's account, when the caller has one.
pub async fn finish(
    arm: &ArmClient,
    observer: &dyn Observer,
    op: OperationDoc,
    blobs: Option<&BlobClient>,
) -> Result<Outcome<BackupDoc>, BackupError> {
    let ctx = match &op.work {
        Resume::Backup(ctx) => ctx.as_ref().clone(),
        other => return Err(BackupError::NotABackup(other.name())),
    };
    let label = op.label();
    let started_at = op.started_at.clone();
    match arm.wait_watched(op.pending.clone(), observer, &label).await {
        Ok(result) => {
            if let Some(other) = reported_other(&result, &ctx.service.id) {
                return Err(BackupError::NotThatService {
                    service: ctx.service.id.to_string(),
                    reported: other,
                });
            }
        }
        Err(WaitError::Stopped(pending)) => return Ok(Progress::Pending(Box::new(OperationDoc { pending, ..op }))),
        Err(WaitError::Failed(source)) => return Err(BackupError::Failed { label, source }),
    }
    let owned;
    let blobs = match blobs {
        Some(b) => b,
        None => {
            owned = storage_accounts::blob_client(arm, &ctx.storage.account_id).await?.client;
            &owned
        }
    };
    let completed_at = apim_documents::now_rfc3339();
    let props = match blobs.properties(&ctx.storage.container, &ctx.blob).await? {
        Some(p) if is_marked(&p) => p,
        Some(_) => {
            let id = ctx.service.id.to_string();
            let mark = [SUCCESS_MARK, (SERVICE_KEY, id.as_str()), (COMPLETED_KEY, completed_at.as_str())];
            blobs.set_metadata(&ctx.storage.container, &ctx.blob, &mark).await?
        }
        None => {
            return Err(BackupError::BlobMissing {
                service: ctx.service.name,
                blob: ctx.blob,
                container: ctx.storage.container,
            })
        }
    };
    // A blob marked by an earlier resume keeps its time: the same backup
    // reports the same completion.
    let completed_at = props.metadata.get(COMPLETED_KEY).cloned().unwrap_or(completed_at);
    Ok(Progress::Done(BackupDoc {
        status: BackupStatus::Succeeded,
        duration_seconds: seconds_between(&started_at, &completed_at),
        service: ctx.service,
        storage: ctx.storage,
        blob: ctx.blob,
        access_type: ctx.access_type,
        identity_client_id: ctx.identity_client_id,
        started_at,
        completed_at,
        size: props.size,
        etag: props.etag,
        last_modified: props.last_modified,
    }))
}

/// Backs up one service into `storage` under the default blob name, with
/// the account key, and waits for it: what a restore's safety backup
/// needs. Stopped waiting, it returns [`BackupError::SafetyPending`] with
/// the document that records it later.
pub async fn backup_and_wait(
    arm: &ArmClient,
    observer: &dyn Observer,
    storage: &StorageRef,
    service: &ServiceRef,
) -> Result<BackupDoc, BackupError> {
    let access = storage_accounts::blob_client(arm, &storage.account_id).await?;
    let key = access.key.clone().ok_or_else(|| BackupError::NoKey(storage.account.clone()))?;
    let op = start(
        arm,
        observer,
        storage,
        service,
        default_blob_name(&service.name),
        &BackupAccess::AccessKey(key),
    )
    .await?;
    match finish(arm, observer, op, Some(&access.client)).await? {
        Progress::Done(d) => Ok(d),
        Progress::Pending(op) => Err(BackupError::SafetyPending(op)),
    }
}

/// Seconds from one RFC 3339 time to another, to the millisecond; 0 when
/// either does not parse.
pub fn seconds_between(a: &str, b: &str) -> f64 {
    let parse = |s: &str| time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok();
    match (parse(a), parse(b)) {
        (Some(a), Some(b)) => ((b - a).as_seconds_f64() * 1000.0).round() / 1000.0,
        _ => 0.0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    fn blob(name: &str, meta: &[(&str, &str)]) -> BlobProperties {
        BlobProperties {
            name: name.into(),
            size: 1,
            etag: "e".into(),
            last_modified: "Sun, 29 Nov 2026 01:00:00 GMT".into(),
            metadata: meta.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect::<BTreeMap<_, _>>(),
        }
    }

    #[test]
    fn a_backup_belongs_to_one_service_exactly() {
        let plain = blob("apim-src-20261129T010000Z.apimbackup", &[]);
        assert!(is_backup_of(&plain, "apim-src"));
        let eu = blob("apim-src-eu-20261129T010000Z.apimbackup", &[]);
        assert!(!is_backup_of(&eu, "apim-src"), "another service's backup");
        assert!(is_backup_of(&eu, "apim-src-eu"));
        assert!(!is_backup_of(&blob("apim-src-latest.apimbackup", &[]), "apim-src"));
        // The recorded id wins over the name.
        let id = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ApiManagement/service/apim-src-eu";
        let renamed = blob("apim-src-20261129T010000Z.apimbackup", &[(SERVICE_KEY, id)]);
        assert!(!is_backup_of(&renamed, "apim-src"));
        assert!(is_backup_of(&renamed, "APIM-SRC-EU"));
    }

    #[test]
    fn recorded_facts_come_from_the_blob() {
        let id = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ApiManagement/service/apim-src";
        let r = recorded(&blob(
            "x.apimbackup",
            &[SUCCESS_MARK, (SERVICE_KEY, id), (COMPLETED_KEY, "2026-11-28T10:00:00Z")],
        ));
        assert!(r.marked);
        assert_eq!(r.service_id.unwrap().to_string(), id);
        assert_eq!(r.completed.unwrap(), time::macros::datetime!(2026-11-28 10:00 UTC));
        let old = recorded(&blob("x.apimbackup", &[]));
        assert!(!old.marked && old.service_id.is_none());
        assert_eq!(
            old.completed.unwrap(),
            time::macros::datetime!(2026-11-29 01:00 UTC),
            "Last-Modified"
        );
    }
}
