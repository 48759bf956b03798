//! APIM backups as the toolkit keeps them. A backup counts only once its
//! operation succeeded and its blob was found and marked; every tool that
//! takes a backup (apim-backup, apim-restore's safety backup) or relies on
//! one (prune, restore rails, teardown) goes through here, so the rule is
//! written once.

pub mod prune;

use anyhow::Context;
use apim_ops::BackupAccess;
use blob_store::{BlobClient, BlobProperties};
use pipeline::{usage, BackupContext, BackupDoc, BackupStatus, OperationDoc, Outcome, Progress, Resume, ServiceRef, Session, StorageRef};

/// Set on a backup blob once its backup succeeded; prune and the rails
/// trust only marked blobs.
pub const SUCCESS_MARK: (&str, &str) = ("apimtoolkit_status", "Succeeded");

/// Whether a blob carries the success mark.
pub fn is_marked(blob: &BlobProperties) -> bool {
    blob.metadata.get(SUCCESS_MARK.0).map(String::as_str) == Some(SUCCESS_MARK.1)
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
/// to record the backup later, here or after --resume. Nothing starts
/// after Ctrl-C or SIGTERM.
pub async fn start(
    session: &Session,
    storage: &StorageRef,
    service: &ServiceRef,
    blob: String,
    access: &BackupAccess,
) -> anyhow::Result<OperationDoc> {
    let params = apim_ops::BackupParams {
        account: storage.account.clone(),
        container: storage.container.clone(),
        blob: blob.clone(),
        access: access.clone(),
    };
    session.check_not_interrupted(&format!("the backup of {}", service.name))?;
    let started_at = pipeline::documents::now_rfc3339();
    let begun = apim_ops::start_backup(&session.arm, &service.id, &params)
        .await
        .with_context(|| format!("backup of {}", service.name))?;
    let work = Resume::Backup(Box::new(BackupContext {
        service: service.clone(),
        storage: storage.clone(),
        blob,
        access_type: access.access_type(),
        identity_client_id: access.identity_client_id().map(str::to_string),
    }));
    let mut op = OperationDoc::new(work, service.id.clone(), apim_ops::pending_of(begun, &session.arm, &service.id));
    op.started_at = started_at;
    Ok(op)
}

/// Waits for a backup and records its blob, marking it as succeeded (once:
/// a second resume of the same backup leaves the blob and its ETag alone).
/// `blobs` is a client for the backup's account, when the caller has one.
pub async fn finish(session: &Session, op: OperationDoc, blobs: Option<&BlobClient>) -> anyhow::Result<Outcome<BackupDoc>> {
    let ctx = match &op.work {
        Resume::Backup(ctx) => ctx.as_ref().clone(),
        other => {
            return Err(usage(format!(
                "apim-backup cannot resume a '{}' operation; use the tool that started it",
                other.name()
            )))
        }
    };
    let label = format!("{} backup", ctx.service.name);
    let started_at = op.started_at.clone();
    if let Progress::Pending(d) = session.wait(&label, op).await? {
        return Ok(Progress::Pending(d));
    }
    let owned;
    let blobs = match blobs {
        Some(b) => b,
        None => {
            owned = storage_accounts::blob_client(&session.arm, &ctx.storage.account_id, &ctx.storage.blob_endpoint)
                .await?
                .client;
            &owned
        }
    };
    let props = match blobs.properties(&ctx.storage.container, &ctx.blob).await? {
        Some(p) if is_marked(&p) => p,
        Some(_) => blobs.set_metadata(&ctx.storage.container, &ctx.blob, &[SUCCESS_MARK]).await?,
        None => {
            return Err(anyhow::anyhow!(
                "the backup of {} reported success, but blob '{}' is not in container '{}'",
                ctx.service.name,
                ctx.blob,
                ctx.storage.container
            ))
        }
    };
    let completed_at = pipeline::documents::now_rfc3339();
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
/// the account key, and waits for it: what `apim-restore
/// --take-safety-backup` and teardown need.
pub async fn backup_and_wait(session: &Session, storage: &StorageRef, service: &ServiceRef) -> anyhow::Result<BackupDoc> {
    let access = storage_accounts::blob_client(&session.arm, &storage.account_id, &storage.blob_endpoint).await?;
    let key = access.key.clone().ok_or_else(|| {
        anyhow::anyhow!(
            "cannot read the keys of storage account '{}' for the safety backup",
            storage.account
        )
    })?;
    let op = start(
        session,
        storage,
        service,
        default_blob_name(&service.name),
        &BackupAccess::AccessKey(key),
    )
    .await
    .context("safety backup")?;
    match finish(session, op, Some(&access.client)).await? {
        Progress::Done(d) => Ok(d),
        Progress::Pending(op) => {
            // The safety backup goes on in Azure: say how to record it.
            pipeline::emit(op.as_ref())?;
            Err(pipeline::stopped(
                "stopped waiting for the safety backup; nothing was restored. Record it with apim-backup --resume < the apim.operation printed above, then run the restore again with --safety-backup",
            ))
        }
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
