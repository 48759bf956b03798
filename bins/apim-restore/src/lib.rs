//! The work behind `apim-restore`: check every rail, optionally take the
//! target's safety backup, then restore and wait.

pub mod rails;

use anyhow::Context;
use apim_ops::{AccessType, BackupAccess, BackupParams};
use arm_client::ResourceId;
use clap::{ArgGroup, Parser};
use pipeline::{
    emit, expect_one, refused, usage, BackupDoc, BackupRef, ConnectArgs, OperationDoc, RestoreDoc, RestoreStatus, Resume, ServiceDoc,
    ServiceRef, Session, WaitArgs,
};
use rails::{Facts, Overrides, Safety};
use std::path::PathBuf;
use storage_accounts::preflight;

#[derive(Parser)]
#[command(after_help = pipeline::help::RESTORE)]
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
    /// The target as an apim.service document file (`-` reads it from stdin).
    #[arg(long, value_name = "FILE")]
    target: Option<PathBuf>,
    /// The target by resource id.
    #[arg(long, value_name = "ID", value_parser = pipeline::parse_service_id)]
    target_id: Option<ResourceId>,
    /// apim.backup documents; one must be a succeeded backup of the target whose blob still exists.
    #[arg(long)]
    safety_backup: Option<PathBuf>,
    /// Back the target up first, into the backup's container.
    #[arg(long)]
    take_safety_backup: bool,
    /// Restore without proof that the target is backed up.
    #[arg(long)]
    no_safety_backup: bool,
    /// How old the target's safety backup may be (it is the way back to the target as it is now; formerly --safety-max-age).
    #[arg(long = "max-backup-age", alias = "safety-max-age", default_value = "24h", value_parser = pipeline::progress::parse_duration)]
    max_backup_age: std::time::Duration,
    /// Allow restoring a service's backup onto that same service (a rollback).
    #[arg(long)]
    allow_same_instance: bool,
    /// Allow a restore that would take everything the target holds (the backup's source holds nothing).
    #[arg(long)]
    allow_emptying_target: bool,
    /// Check every rail and print what would happen; start nothing.
    #[arg(long)]
    dry_run: bool,
    /// How the target reaches the storage account: access-key, system-identity or user-identity (default: as the backup was taken).
    #[arg(long)]
    access_type: Option<AccessType>,
    /// Client id of the target's user-assigned identity (with --access-type user-identity).
    #[arg(long)]
    identity_client_id: Option<String>,
    /// Do not check that the target's managed identity holds a blob data role on the account (for a custom role).
    #[arg(long)]
    skip_role_check: bool,
    /// Do not refresh the target's Key Vault named values once the restore has ended.
    #[arg(long)]
    no_refresh: bool,
    #[command(flatten)]
    wait: WaitArgs,
    #[command(flatten)]
    connect: ConnectArgs,
}

/// Flags renamed since earlier releases: the old spelling still works, with a warning.
pub const RENAMED: &[pipeline::Renamed] = &[pipeline::Renamed {
    subcommand: None,
    old: "--safety-max-age",
    new: "--max-backup-age",
}];

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if cli.wait.resume {
        let ops: Vec<OperationDoc> = cli.connect.read_operations("apim-restore")?;
        for op in &ops {
            restore_of(op)?;
        }
        let session = cli.connect.connect_waiting(&cli.wait)?;
        let targets: Vec<ResourceId> = ops
            .iter()
            .filter_map(|op| restore_of(op).ok())
            .map(|r| r.target.id.clone())
            .collect();
        let work = ops.into_iter().map(|op| follow(&session, op));
        session.batch("apim-restore", work, pipeline::say::restore).await?;
        return refresh_after(&session, &cli, &targets).await;
    }
    let backup = read_backup(&cli)?;
    let target_id = read_target(&cli)?;
    let safety_docs = match &cli.safety_backup {
        Some(p) => pipeline::read_file_documents(p, "--safety-backup")?
            .iter()
            .filter(|d| pipeline::kind_of(d) == <BackupDoc as pipeline::Document>::KIND)
            .map(|d| pipeline::expect_kind::<BackupDoc>(d, "--safety-backup"))
            .collect::<Result<Vec<_>, _>>()?,
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
    if docs.len() > 1 {
        return Err(usage(format!(
            "{source}: expected one apim.backup document, got {}; pick one (e.g. grep '\"name\":\"apim-src\"')",
            docs.len()
        )));
    }
    Ok(expect_one(&docs, &source)?)
}

fn read_target(cli: &Cli) -> anyhow::Result<ResourceId> {
    match (&cli.target, &cli.target_id) {
        (Some(p), None) => Ok(pipeline::read_one_file::<ServiceDoc>(p, "--target")?.id),
        (None, Some(id)) => Ok(id.clone()),
        _ => Err(usage("name the target: --target FILE (an apim.service document) or --target-id ID")),
    }
}

/// Whether a safety backup document proves the target is backed up now,
/// judged by its blob: it exists unchanged, apim-backup marked it, it is a
/// backup of the target (as the blob records), recent, and not the very
/// blob being restored.
async fn check_safety_backup(
    session: &Session,
    d: &BackupDoc,
    restoring: &BackupDoc,
    target: &ServiceRef,
    max_age: std::time::Duration,
    now: time::OffsetDateTime,
) -> anyhow::Result<Safety> {
    let same_blob = d.storage.account_id == restoring.storage.account_id
        && d.storage.container == restoring.storage.container
        && d.blob == restoring.blob;
    if same_blob {
        return Ok(Safety::Unproven(format!(
            "its blob '{}' is the backup being restored, not a backup of the target",
            d.blob
        )));
    }
    Ok(
        match backup_workflow::why_unproven(&session.arm, d, &target.id, (max_age, "--max-backup-age"), now).await? {
            Some(why) => Safety::Unproven(why),
            None => Safety::Proven,
        },
    )
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
    let storage = storage_accounts::blob_client(&session.arm, &backup.storage.account_id)
        .await
        .context("backup storage")?;
    let blob_now = storage.client.properties(&backup.storage.container, &backup.blob).await?;

    let now = time::OffsetDateTime::now_utc();
    let mut safety_ref = None;
    let safety = if cli.take_safety_backup {
        Safety::WillTake
    } else if cli.no_safety_backup {
        Safety::Waived
    } else if cli.safety_backup.is_some() {
        let mine: Vec<&BackupDoc> = safety_docs.iter().filter(|d| d.service.id == target.id).collect();
        match mine.iter().max_by_key(|d| d.completed_at.clone()) {
            None => Safety::Unproven(format!("it holds no succeeded backup of {}", target.name)),
            Some(d) => {
                let verdict = check_safety_backup(session, d, &backup, &target, cli.max_backup_age, now).await?;
                if verdict == Safety::Proven {
                    safety_ref = Some(BackupRef::from(*d));
                }
                verdict
            }
        }
    } else {
        Safety::Missing
    };
    let recorded = blob_now.as_ref().map(backup_workflow::recorded);
    let facts = Facts {
        source_id: backup.service.id.to_string(),
        source_sku: backup.service.sku.name.clone(),
        target_id: target.id.to_string(),
        target_sku: target.sku.name.clone(),
        target_state: target_doc.provisioning_state.clone(),
        backup_blob: backup.blob.clone(),
        backup_etag: backup.etag.clone(),
        blob_etag_now: blob_now.map(|p| p.etag),
        blob_marked: recorded.as_ref().is_some_and(|r| r.marked),
        recorded_source_id: recorded.as_ref().and_then(|r| r.service_id.as_ref()).map(|id| id.to_string()),
        backup_completed: recorded.and_then(|r| r.completed),
        safety,
        now,
    };
    let verdict = rails::check(
        &facts,
        Overrides {
            allow_same_instance: cli.allow_same_instance,
        },
    );
    let mut verdict = verdict;
    match key_vault_readers(session, &backup.service.id).await {
        Ok(Some(refs)) => verdict
            .refusals
            .extend(namedvalue_workflow::missing_identities(&refs, &target_body)),
        Ok(None) => verdict.warnings.push(format!(
            "{} no longer exists: its Key Vault named values' identities could not be checked on the target",
            backup.service.name
        )),
        Err(e) => return Err(e),
    }
    match what_the_target_loses(session, &backup.service, &target).await {
        Ok(loss) => {
            let (refusal, warning) = rails::judge_loss(&loss, cli.allow_emptying_target);
            verdict
                .refusals
                .extend(refusal.map(|r| format!("{r}; pass --allow-emptying-target if that is meant")));
            verdict.warnings.extend(warning.map(|w| w.to_uppercase()));
        }
        Err(e) => verdict.warnings.push(format!(
            "could not compare {} with the target ({}): check by hand that this is the right source",
            backup.service.name,
            pipeline::render(&e)
        )),
    }
    for w in &verdict.warnings {
        session.reporter.info(&format!("warning: {w}"));
    }
    if !verdict.refusals.is_empty() {
        return Err(refused(format!("restore refused: {}", verdict.refusals.join("; "))));
    }
    let access = match (cli.access_type, &cli.identity_client_id, backup.access_type) {
        (Some(AccessType::UserIdentity), Some(c), _) => BackupAccess::UserIdentity(c.clone()),
        (Some(AccessType::UserIdentity), None, _) => return Err(usage("--access-type user-identity needs --identity-client-id (the target's identity)")),
        (Some(AccessType::SystemIdentity), _, _) | (None, _, AccessType::SystemIdentity) => BackupAccess::SystemIdentity,
        (None, _, AccessType::UserIdentity) => return Err(usage("the backup was taken with a user-assigned identity; name the target's with --access-type user-identity --identity-client-id ID")),
        _ => BackupAccess::AccessKey(storage.key.clone().ok_or_else(|| anyhow::anyhow!("cannot read the keys of storage account '{}'; use --access-type system-identity", backup.storage.account))?),
    };
    // Before any freeze (and in a dry run): what makes Azure refuse the
    // storage for this target (a CORS rule, the firewall, shared keys off,
    // its identity without a blob data role). A safety backup writes there
    // too, so then the identity must be able to write.
    let who = match &access {
        BackupAccess::AccessKey(_) => preflight::Access::Key,
        other => preflight::Access::Identity {
            principal_id: preflight::principal_of(&target_body, other.identity_client_id()),
        },
    };
    let facts = preflight::read(
        &session.arm,
        &backup.storage.account_id,
        &backup.storage.container,
        &who,
        cli.skip_role_check,
    )
    .await?;
    let refusals = preflight::refusals(&facts, &who, !cli.take_safety_backup);
    if !refusals.is_empty() {
        return Err(refused(format!("restore refused before it started: {}", refusals.join("; "))));
    }
    let mut doc = RestoreDoc {
        status: RestoreStatus::DryRun,
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
        emit(&doc)?;
        if let Some(line) = pipeline::say::restore(&doc) {
            eprintln!("apim-restore: {line}");
        }
        return Ok(());
    }
    if cli.take_safety_backup {
        let safety = match backup_workflow::backup_and_wait(&session.arm, &session.reporter, &backup.storage, &target).await {
            Ok(d) => d,
            Err(backup_workflow::BackupError::SafetyPending(op)) => {
                emit(op.as_ref())?;
                return Err(pipeline::stopped(
                    "stopped waiting for the safety backup; nothing was restored. Record it with apim-backup --resume < the apim.operation printed above, then run the restore again with --safety-backup",
                ));
            }
            Err(e) => return Err(pipeline::classified(e).context("safety backup")),
        };
        emit(&safety)?;
        doc.safety_backup = Some(BackupRef::from(&safety));
        // The safety backup took minutes: the rails are asked again right
        // before the restore they guard.
        recheck(session, &backup, &target, &storage.client).await?;
    }
    let params = BackupParams {
        account: backup.storage.account.clone(),
        container: backup.storage.container.clone(),
        blob: backup.blob.clone(),
        access,
    };
    session.check_not_interrupted(&format!("the restore onto {}", target.name))?;
    let started = pipeline::documents::now_rfc3339();
    let begun = apim_ops::start_restore(&session.arm, &target.id, &params)
        .await
        .with_context(|| format!("restore onto {}", target.name))?;
    doc.started_at = Some(started.clone());
    doc.status = RestoreStatus::Running;
    let work = Resume::Restore { restore: Box::new(doc) };
    let mut op = OperationDoc::new(work, target.id.clone(), apim_ops::pending_of(begun, &session.arm, &target.id));
    op.started_at = started;
    session.announce_started(&op);
    session.batch("apim-restore", [follow(session, op)], pipeline::say::restore).await?;
    refresh_after(session, cli, std::slice::from_ref(&target.id)).await
}

/// After a restore has ended: the target's identity is not the source's, so
/// every Key Vault named value is refreshed and its status printed; exit 1
/// (the restore itself succeeded) when one cannot read its vault.
async fn refresh_after(session: &Session, cli: &Cli, targets: &[ResourceId]) -> anyhow::Result<()> {
    if cli.no_refresh || session.no_wait {
        return Ok(());
    }
    let mut unreadable = Vec::new();
    for t in targets {
        let statuses = namedvalue_workflow::refresh(&session.arm, t, 16)
            .await
            .map_err(pipeline::classified)?;
        for s in &statuses {
            emit(s)?;
        }
        unreadable.extend(namedvalue_workflow::unreadable(&statuses));
    }
    if unreadable.is_empty() {
        return Ok(());
    }
    Err(pipeline::classified(namedvalue_workflow::Error::Incomplete(format!(
        "the restore succeeded, but {}; give the identity Key Vault Secrets User on the vault (or apim-provision service --like SRC --grant-roles), then apim-namedvalues refresh",
        unreadable.join("; ")
    ))))
}

/// What may have changed while a safety backup ran: the blob to restore
/// (rewritten, deleted) and the target (another operation started on it).
async fn recheck(session: &Session, backup: &BackupDoc, target: &ServiceRef, blobs: &blob_store::BlobClient) -> anyhow::Result<()> {
    match blobs.properties(&backup.storage.container, &backup.blob).await? {
        Some(p) if p.etag == backup.etag => {}
        Some(_) => {
            return Err(refused(format!(
                "restore refused: blob '{}' changed while the safety backup ran; nothing was restored",
                backup.blob
            )))
        }
        None => {
            return Err(refused(format!(
                "restore refused: blob '{}' was deleted while the safety backup ran; nothing was restored",
                backup.blob
            )))
        }
    }
    let body = apim_ops::get_service(&session.arm, &target.id)
        .await?
        .ok_or_else(|| refused(format!("restore refused: {} no longer exists; nothing was restored", target.name)))?;
    let state = arm_client::lro::provisioning_state(&body);
    if state != "Succeeded" {
        return Err(refused(format!(
            "restore refused: {} is {state} (another operation started on it); nothing was restored",
            target.name
        )));
    }
    Ok(())
}

/// The source's Key Vault named values and the identity each reads with;
/// `None` when the source no longer exists.
async fn key_vault_readers(session: &Session, source: &ResourceId) -> anyhow::Result<Option<Vec<(String, Option<String>)>>> {
    let listed = match apim_ops::list_named_values(&session.arm, source, None).await {
        Ok(l) => l,
        Err(apim_ops::OpsError::Arm(e)) if e.status() == Some(404) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    Ok(Some(
        listed
            .iter()
            .filter_map(|b| pipeline::documents::NamedValueStatusDoc::from_arm(source, b))
            .map(|s| (s.display_name, s.identity_client_id))
            .collect(),
    ))
}

/// What the target holds that the backup's source does not, read now.
async fn what_the_target_loses(session: &Session, source: &ServiceRef, target: &ServiceRef) -> anyhow::Result<rails::Loss> {
    // What a backup carries, and so what a restore replaces.
    let carried: Vec<&str> = apim_families::top_level().filter(|f| f.in_backup).map(|f| f.collection).collect();
    let (s, t) = futures::try_join!(
        apim_inventory::read_only(&session.arm, &source.id, 32, &carried),
        apim_inventory::read_only(&session.arm, &target.id, 32, &carried)
    )?;
    Ok(rails::Loss {
        source_total: s.entities.len(),
        target_total: t.entities.len(),
        lost: t.entities.keys().filter(|k| !s.entities.contains_key(*k)).cloned().collect(),
    })
}

/// The restore a resume document holds, or why it is not one.
fn restore_of(op: &OperationDoc) -> anyhow::Result<&RestoreDoc> {
    match &op.work {
        Resume::Restore { restore } => Ok(restore),
        other => Err(usage(format!(
            "apim-restore cannot resume a '{}' operation; use the tool that started it",
            other.name()
        ))),
    }
}

/// Waits for a restore (unless --no-wait) and makes its apim.restore document.
async fn follow(session: &Session, op: OperationDoc) -> anyhow::Result<pipeline::Outcome<RestoreDoc>> {
    let mut doc = restore_of(&op)?.clone();
    session
        .follow(op, |_, result| async move {
            if let Some(other) = backup_workflow::reported_other(&result, &doc.target.id) {
                return Err(usage(format!(
                    "the restore's operation reports {other}, not the target {}; it was not recorded as a restore onto it",
                    doc.target.name
                )));
            }
            let completed = pipeline::documents::now_rfc3339();
            doc.duration_seconds = doc
                .started_at
                .as_deref()
                .map(|started| backup_workflow::seconds_between(started, &completed));
            doc.completed_at = Some(completed);
            doc.status = RestoreStatus::Succeeded;
            Ok(doc)
        })
        .await
}
