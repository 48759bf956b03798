//! The work behind `apim-restore`: check every rail, optionally take the
//! target's safety backup, then restore and wait.

pub mod rails;

use anyhow::Context;
use apim_ops::{BackupAccess, BackupParams};
use arm_client::ResourceId;
use clap::{ArgGroup, Parser, ValueEnum};
use pipeline::{
    emit, expect_kind, refused, usage, BackupDoc, BackupRef, ConnectArgs, OperationDoc, RestoreDoc, ServiceDoc, ServiceRef, Session,
    WaitArgs, Waited,
};
use rails::{Facts, Overrides, Safety};
use serde_json::json;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "apim-restore",
    version,
    about = "Restore an apim.backup (stdin or --backup) onto a target service"
)]
#[command(group(ArgGroup::new("safety").args(["safety_backup", "take_safety_backup", "no_safety_backup"])))]
#[command(group(ArgGroup::new("target_by").args(["target", "target_id"])))]
pub struct Cli {
    /// The apim.backup document to restore (default: stdin).
    #[arg(long)]
    backup: Option<PathBuf>,
    /// The target as an apim.service document.
    #[arg(long)]
    target: Option<PathBuf>,
    /// The target by resource id.
    #[arg(long)]
    target_id: Option<String>,
    /// apim.backup documents; one must be a succeeded backup of the target whose blob still exists.
    #[arg(long)]
    safety_backup: Option<PathBuf>,
    /// Back the target up first, into the backup's container.
    #[arg(long)]
    take_safety_backup: bool,
    /// Restore without proof that the target is backed up.
    #[arg(long)]
    no_safety_backup: bool,
    /// Allow restoring a service's backup onto that same service (a rollback).
    #[arg(long)]
    allow_same_instance: bool,
    /// Check every rail and print what would happen; start nothing.
    #[arg(long)]
    dry_run: bool,
    /// How the target reaches the storage account (default: as the backup was taken).
    #[arg(long, value_enum)]
    access_type: Option<AccessType>,
    /// Client id of the target's user-assigned identity (with --access-type user-identity).
    #[arg(long)]
    identity_client_id: Option<String>,
    #[command(flatten)]
    wait: WaitArgs,
    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Clone, Copy, ValueEnum, PartialEq, Eq)]
enum AccessType {
    AccessKey,
    SystemIdentity,
    UserIdentity,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if cli.wait.resume {
        let ops: Vec<OperationDoc> = pipeline::read_stdin_documents()?
            .iter()
            .map(|d| expect_kind(d, OperationDoc::KIND, "stdin"))
            .collect::<anyhow::Result<_>>()?;
        let session = cli.connect.connect_waiting(&cli.wait)?;
        let mut stopped = 0;
        for op in ops {
            stopped += usize::from(!wait_and_report(&session, op).await?);
        }
        return if stopped > 0 {
            Err(pipeline::stopped_error(stopped, "apim-restore"))
        } else {
            Ok(())
        };
    }
    let backup = read_backup(&cli)?;
    let target_id = read_target(&cli)?;
    let safety_docs = match &cli.safety_backup {
        Some(p) => pipeline::read_file_documents(p, "--safety-backup")?
            .iter()
            .filter(|d| pipeline::kind_of(d) == BackupDoc::KIND)
            .map(|d| expect_kind::<BackupDoc>(d, BackupDoc::KIND, "--safety-backup"))
            .collect::<anyhow::Result<Vec<_>>>()?,
        None => Vec::new(),
    };
    let session = cli.connect.connect_waiting(&cli.wait)?;
    restore(&session, &cli, backup, target_id, safety_docs).await
}

fn read_backup(cli: &Cli) -> anyhow::Result<BackupDoc> {
    let (docs, source) = match &cli.backup {
        Some(p) => (pipeline::read_file_documents(p, "--backup")?, format!("--backup {}", p.display())),
        None => (pipeline::read_stdin_documents()?, "stdin".to_string()),
    };
    match docs.as_slice() {
        [one] => {
            let b: BackupDoc = expect_kind(one, BackupDoc::KIND, &source)?;
            if b.status != "Succeeded" {
                return Err(usage(format!("{source}: the backup's status is {}, not Succeeded", b.status)));
            }
            Ok(b)
        }
        [] => Err(usage(format!("{source}: expected one apim.backup document, got none"))),
        more => Err(usage(format!(
            "{source}: expected one apim.backup document, got {}; pick one (e.g. grep '\"name\":\"apim-src\"')",
            more.len()
        ))),
    }
}

fn read_target(cli: &Cli) -> anyhow::Result<ResourceId> {
    match (&cli.target, &cli.target_id) {
        (Some(p), None) => {
            let docs = pipeline::read_file_documents(p, "--target")?;
            let [doc] = docs.as_slice() else {
                return Err(usage(format!(
                    "--target {}: expected one apim.service document, found {}",
                    p.display(),
                    docs.len()
                )));
            };
            Ok(expect_kind::<ServiceDoc>(doc, ServiceDoc::KIND, &format!("--target {}", p.display()))?.id)
        }
        (None, Some(id)) => id.parse().map_err(|e| usage(format!("--target-id: {e}"))),
        _ => Err(usage("name the target: --target FILE (an apim.service document) or --target-id ID")),
    }
}

fn parse_time(s: &str) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

async fn restore(
    session: &Session,
    cli: &Cli,
    backup: BackupDoc,
    target_id: ResourceId,
    safety_docs: Vec<BackupDoc>,
) -> anyhow::Result<()> {
    // Facts first; nothing is frozen or written until every rail passed.
    let target_body = apim_ops::get_service(&session.arm, &target_id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("target service {target_id} does not exist"))?;
    let target_doc = ServiceDoc::from_arm(&target_body).map_err(anyhow::Error::msg)?;
    let target = ServiceRef::from(&target_doc);
    let storage = storage_accounts::blob_client(&session.arm, &backup.storage.account_id, &backup.storage.blob_endpoint)
        .await
        .context("backup storage")?;
    let blob_now = storage.client.properties(&backup.storage.container, &backup.blob).await?;

    let mut safety_ref = None;
    let safety = if cli.take_safety_backup {
        Safety::WillTake
    } else if cli.no_safety_backup {
        Safety::Waived
    } else if cli.safety_backup.is_some() {
        let mine: Vec<&BackupDoc> = safety_docs
            .iter()
            .filter(|d| d.service.id == target.id && d.status == "Succeeded")
            .collect();
        match mine.iter().max_by_key(|d| d.completed_at.clone()) {
            None => Safety::Unproven(format!("it holds no succeeded backup of {}", target.name)),
            Some(d) => {
                let s = storage_accounts::blob_client(&session.arm, &d.storage.account_id, &d.storage.blob_endpoint).await?;
                match s.client.properties(&d.storage.container, &d.blob).await? {
                    Some(p) if p.etag == d.etag => {
                        safety_ref = Some(BackupRef::from(*d));
                        Safety::Proven
                    }
                    Some(_) => Safety::Unproven(format!("its blob '{}' changed since that backup", d.blob)),
                    None => Safety::Unproven(format!("its blob '{}' no longer exists", d.blob)),
                }
            }
        }
    } else {
        Safety::Missing
    };
    let facts = Facts {
        source_id: backup.service.id.to_string(),
        source_sku: backup.service.sku.name.clone(),
        target_id: target.id.to_string(),
        target_sku: target.sku.name.clone(),
        target_state: target_doc.provisioning_state.clone(),
        backup_blob: backup.blob.clone(),
        backup_etag: backup.etag.clone(),
        blob_etag_now: blob_now.map(|p| p.etag),
        backup_completed: parse_time(&backup.completed_at),
        safety,
        now: time::OffsetDateTime::now_utc(),
    };
    let verdict = rails::check(
        &facts,
        Overrides {
            allow_same_instance: cli.allow_same_instance,
        },
    );
    for w in &verdict.warnings {
        session.reporter.info(&format!("warning: {w}"));
    }
    if !verdict.refusals.is_empty() {
        return Err(refused(format!("restore refused: {}", verdict.refusals.join("; "))));
    }
    let access = match (cli.access_type, &cli.identity_client_id, backup.access_type.as_str()) {
        (Some(AccessType::UserIdentity), Some(c), _) => BackupAccess::UserIdentity(c.clone()),
        (Some(AccessType::UserIdentity), None, _) => return Err(usage("--access-type user-identity needs --identity-client-id (the target's identity)")),
        (Some(AccessType::SystemIdentity), _, _) | (None, _, "system-identity") => BackupAccess::SystemIdentity,
        (None, _, "user-identity") => return Err(usage("the backup was taken with a user-assigned identity; name the target's with --access-type user-identity --identity-client-id ID")),
        _ => BackupAccess::AccessKey(storage.key.clone().ok_or_else(|| anyhow::anyhow!("cannot read the keys of storage account '{}'; use --access-type system-identity", backup.storage.account))?),
    };
    let mut doc = RestoreDoc {
        kind: RestoreDoc::KIND.into(),
        schema_version: 1,
        status: "DryRun".into(),
        source: backup.service.clone(),
        target: target.clone(),
        backup: BackupRef::from(&backup),
        safety_backup: safety_ref,
        started_at: None,
        completed_at: None,
        duration_seconds: None,
        not_restored: rails::NOT_RESTORED.iter().map(|s| s.to_string()).collect(),
        warnings: verdict.warnings.clone(),
    };
    if cli.dry_run {
        if cli.take_safety_backup {
            doc.warnings
                .push(format!("a safety backup of {} would be taken first", target.name));
        }
        return emit(&doc);
    }
    if cli.take_safety_backup {
        let safety = apim_backup::backup_and_wait(session, &backup.storage, &target).await?;
        emit(&safety)?;
        doc.safety_backup = Some(BackupRef::from(&safety));
    }
    let params = BackupParams {
        account: backup.storage.account.clone(),
        container: backup.storage.container.clone(),
        blob: backup.blob.clone(),
        access,
    };
    session.check_not_interrupted(&format!("the restore onto {}", target.name))?;
    let started = pipeline::docs::now_rfc3339();
    let pending = apim_ops::start_restore(&session.arm, &target.id, &params)
        .await
        .with_context(|| format!("restore onto {}", target.name))?
        .into_pending(&session.arm, &target.id);
    doc.started_at = Some(started.clone());
    let mut op = OperationDoc::new("restore", target.id.clone(), pending);
    op.started_at = started;
    op.context = json!({"restore": doc});
    if session.no_wait {
        return emit(&op);
    }
    if wait_and_report(session, op).await? {
        Ok(())
    } else {
        Err(pipeline::stopped_error(1, "apim-restore"))
    }
}

/// Waits for a restore and prints its apim.restore document; `false` when
/// it stopped waiting (the apim.operation document was printed instead).
async fn wait_and_report(session: &Session, op: OperationDoc) -> anyhow::Result<bool> {
    if op.operation != "restore" {
        return Err(usage(format!(
            "apim-restore cannot resume a '{}' operation; use the tool that started it",
            op.operation
        )));
    }
    let mut doc: RestoreDoc = serde_json::from_value(op.context["restore"].clone())
        .map_err(|e| usage(format!("restore operation document: context.restore: {e}")))?;
    let label = format!("{} restore", doc.target.name);
    match session.wait(&label, op.clone()).await? {
        Waited::Stopped(d) => {
            emit(&d)?;
            Ok(false)
        }
        Waited::Done(_) => {
            let completed = pipeline::docs::now_rfc3339();
            doc.duration_seconds = match (doc.started_at.as_deref().and_then(parse_time), parse_time(&completed)) {
                (Some(a), Some(b)) => Some(((b - a).as_seconds_f64() * 1000.0).round() / 1000.0),
                _ => None,
            };
            doc.completed_at = Some(completed);
            doc.status = "Succeeded".into();
            emit(&doc)?;
            Ok(true)
        }
    }
}
