//! The one plain line a command ends with on stderr, per document: what
//! happened, in words, beside the JSON on stdout.

use apim_documents::{BackupDoc, ContainerDoc, DeletedDoc, DeletionStatus, RestoreDoc, RestoreStatus, ServiceDoc};

pub fn backup(d: &BackupDoc) -> Option<String> {
    Some(format!(
        "backed up {} into {}/{} in {:.0} s",
        d.service.name, d.storage.container, d.blob, d.duration_seconds
    ))
}

pub fn restore(d: &RestoreDoc) -> Option<String> {
    let redo = if d.not_restored.is_empty() {
        String::new()
    } else {
        format!("; a backup never carries these, redo them by hand: {}", d.not_restored.join(", "))
    };
    Some(match d.status {
        RestoreStatus::DryRun => format!(
            "would restore {} (a backup of {}) onto {}; all rails pass",
            d.backup.blob, d.source.name, d.target.name
        ),
        RestoreStatus::Running => format!("restoring {} onto {}", d.backup.blob, d.target.name),
        RestoreStatus::Succeeded => format!(
            "restored {} onto {} in {:.0} s{redo}",
            d.backup.blob,
            d.target.name,
            d.duration_seconds.unwrap_or_default()
        ),
    })
}

pub fn service(d: &ServiceDoc) -> Option<String> {
    Some(format!(
        "{}: {} ({} x{}, {})",
        d.name, d.provisioning_state, d.sku.name, d.sku.capacity, d.location
    ))
}

pub fn container(d: &ContainerDoc) -> Option<String> {
    Some(format!("storage {}/{} ready for backups", d.account, d.container))
}

pub fn deleted(d: &DeletedDoc) -> Option<String> {
    let rg = d.id.resource_group_name().unwrap_or_default();
    Some(match d.status {
        DeletionStatus::Deleted => format!(
            "{} soft-deleted; recover it within 48 h with: apim-provision service --recover -g {rg} -l LOCATION --name {}",
            d.name, d.name
        ),
        DeletionStatus::Purged => format!("{} deleted and purged: its name is free, and nothing brings it back", d.name),
        DeletionStatus::AlreadyGone => format!("{}: already gone", d.name),
    })
}
