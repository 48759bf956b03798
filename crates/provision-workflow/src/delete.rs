//! Deleting a service: the rail that needs a recent backup proven by its
//! blob, decided for every service before any is touched.

use crate::{deleted, ops, ProvisionError, Result, Started};
use apim_documents::{BackupDoc, BackupStatus, DeletionStatus, OperationDoc, Resume};
use arm_client::{ArmClient, Observer, Progress, ResourceId};
use serde_json::Value;
use std::time::Duration;

/// What a deletion must prove first.
#[derive(Debug, Clone)]
pub enum DeletionRail {
    /// The user waived the check: the configuration is gone for good once purged.
    Waived,
    /// A succeeded backup of each service among these, younger than `max_age`,
    /// whose blob still exists unchanged and records that service.
    Backups { docs: Vec<BackupDoc>, max_age: Duration },
    /// No backups were given.
    NoneGiven,
}

/// Why a service may not be deleted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unproven {
    #[error("no backup given")]
    NoneGiven,
    #[error("the backups given hold no succeeded backup of it")]
    NoBackupOfIt,
    #[error("its backup does not prove it can be brought back: {0}")]
    Blob(String),
    #[error("an operation (a restore into it, an update) still runs: it is {0}")]
    Busy(String),
}

/// What deleting one service will do, decided before anything is deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Deletion {
    Delete { location: String, backup: Option<String> },
    PurgeOnly { location: String, backup: Option<String> },
    AlreadyGone,
}

/// The newest succeeded backup of `id` among `docs`, by what the documents
/// say (the blob is asked next). Pure.
pub fn backup_for<'a>(docs: &'a [BackupDoc], id: &ResourceId) -> Option<&'a BackupDoc> {
    docs.iter()
        .filter(|b| b.service.id == *id && b.status == BackupStatus::Succeeded)
        .max_by_key(|b| b.completed_at.clone())
}

/// The rails for one service: one busy with an operation is not deleted,
/// and none is deleted or purged without a recent backup whose blob
/// proves it. `Err(Refused)` names the service and why; the binary adds
/// the flags that get past it.
pub async fn plan_deletion(
    arm: &ArmClient,
    id: &ResourceId,
    purge: bool,
    rail: &DeletionRail,
) -> Result<std::result::Result<Deletion, Unproven>> {
    let name = id.name().unwrap_or_default().to_string();
    let (location, soft_deleted) = match apim_ops::get_service(arm, id).await.map_err(ops(format!("reading {name}")))? {
        Some(body) => {
            let state = arm_client::lro::provisioning_state(&body);
            if !arm_client::lro::is_terminal(state) {
                return Ok(Err(Unproven::Busy(state.to_string())));
            }
            (location_of(&body), false)
        }
        None => {
            let deleted = if purge {
                apim_ops::deleted_service(arm, id.subscription_id(), &name)
                    .await
                    .map_err(ops(format!("reading deleted {name}")))?
            } else {
                None
            };
            match deleted {
                Some(d) => (location_of(&d), true),
                None => return Ok(Ok(Deletion::AlreadyGone)),
            }
        }
    };
    let backup = match prove_backup(arm, id, rail).await? {
        Ok(b) => b,
        Err(why) => return Ok(Err(why)),
    };
    Ok(Ok(if soft_deleted {
        Deletion::PurgeOnly { location, backup }
    } else {
        Deletion::Delete { location, backup }
    }))
}

/// The rail itself: `Ok(Some(blob))` with the backup that proves `id` can
/// be brought back, `Ok(None)` when the check was waived. Asked before a
/// delete and again right before every purge (a delete may have taken
/// long, a resumed one carries only what its document says).
pub async fn prove_backup(arm: &ArmClient, id: &ResourceId, rail: &DeletionRail) -> Result<std::result::Result<Option<String>, Unproven>> {
    match rail {
        DeletionRail::Waived => Ok(Ok(None)),
        DeletionRail::NoneGiven => Ok(Err(Unproven::NoneGiven)),
        DeletionRail::Backups { docs, max_age } => {
            let Some(b) = backup_for(docs, id) else {
                return Ok(Err(Unproven::NoBackupOfIt));
            };
            let now = time::OffsetDateTime::now_utc();
            if let Some(why) = backup_workflow::why_unproven(arm, b, id, (*max_age, "--max-backup-age"), now).await? {
                return Ok(Err(Unproven::Blob(why)));
            }
            Ok(Ok(Some(format!("{}/{}/{}", b.storage.account, b.storage.container, b.blob))))
        }
    }
}

fn location_of(body: &Value) -> String {
    body.get("location").and_then(Value::as_str).unwrap_or_default().to_string()
}

/// Carries out one planned deletion: done, or the delete operation to follow.
pub async fn delete_service(
    arm: &ArmClient,
    observer: &dyn Observer,
    id: &ResourceId,
    plan: Deletion,
    purge_too: bool,
    rail: &DeletionRail,
) -> Result<Started> {
    let name = id.name().unwrap_or_default().to_string();
    if arm.stop().interrupted() {
        return Err(ProvisionError::Interrupted(format!("deleting {name}")));
    }
    let done = |status, backup| Ok(Progress::Done(deleted(id, status, backup)));
    match plan {
        Deletion::AlreadyGone => {
            observer.info(&format!("{name}: does not exist; nothing to delete"));
            done(DeletionStatus::AlreadyGone, None)
        }
        Deletion::PurgeOnly { location, backup } => {
            purge(arm, observer, id, &location, rail).await?;
            done(DeletionStatus::Purged, backup)
        }
        Deletion::Delete { location, backup } => match apim_ops::delete_service(arm, id).await.map_err(ops(format!("deleting {name}")))? {
            None if purge_too => {
                purge(arm, observer, id, &location, rail).await?;
                done(DeletionStatus::Purged, backup)
            }
            None => done(DeletionStatus::Deleted, backup),
            Some(op) => {
                let work = Resume::ServiceDelete {
                    purge: purge_too,
                    location,
                    backup,
                };
                Ok(Progress::Pending(OperationDoc::new(work, id.clone(), op)))
            }
        },
    }
}

/// Purges a soft-deleted service: its name is free again, and nothing
/// brings it back; so the backup rail is asked again first, whoever asks.
pub async fn purge(arm: &ArmClient, observer: &dyn Observer, id: &ResourceId, location: &str, rail: &DeletionRail) -> Result<()> {
    let name = id.name().unwrap_or_default();
    if let Err(why) = prove_backup(arm, id, rail).await? {
        return Err(ProvisionError::PurgeRefused {
            service: name.to_string(),
            why,
        });
    }
    observer.info(&format!("{name}: purging the soft-deleted service"));
    apim_ops::purge_deleted(arm, id.subscription_id(), location, name)
        .await
        .map_err(ops(format!("purging {name}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use apim_documents::{ServiceRef, Sku, StorageRef};

    fn backup(service: &str, completed: &str) -> BackupDoc {
        let id: ResourceId = format!("/subscriptions/s/resourceGroups/g/providers/Microsoft.ApiManagement/service/{service}")
            .parse()
            .unwrap();
        let account: ResourceId = "/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/b"
            .parse()
            .unwrap();
        BackupDoc {
            status: BackupStatus::Succeeded,
            service: ServiceRef {
                name: service.into(),
                id,
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
            blob: format!("{service}-{completed}.apimbackup"),
            access_type: apim_rules::AccessType::AccessKey,
            identity_client_id: None,
            started_at: completed.into(),
            completed_at: completed.into(),
            duration_seconds: 1.0,
            size: 1,
            etag: "e".into(),
            last_modified: completed.into(),
        }
    }

    #[test]
    fn the_newest_backup_of_that_very_service_is_the_one_checked() {
        let docs = [
            backup("apim-src", "2026-12-01T00:00:00Z"),
            backup("apim-src", "2026-12-03T00:00:00Z"),
            backup("apim-src-eu", "2026-12-05T00:00:00Z"),
            backup("apim-dest", "2026-12-06T00:00:00Z"),
        ];
        let src = docs[0].service.id.clone();
        assert_eq!(backup_for(&docs, &src).unwrap().completed_at, "2026-12-03T00:00:00Z");
        let other: ResourceId = "/subscriptions/s/resourceGroups/g/providers/Microsoft.ApiManagement/service/apim-x"
            .parse()
            .unwrap();
        assert!(backup_for(&docs, &other).is_none(), "no backup of another service counts");
    }
}
