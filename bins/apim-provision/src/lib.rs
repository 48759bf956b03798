//! `apim-provision`'s flags and how they become requests; the rules of
//! creating, updating and deleting live in `provision-workflow`.

mod args;
mod requests;

pub use args::{Cli, RENAMED};

use apim_ops::ExistingPolicy;
use args::{Cmd, DeleteArgs};
use arm_client::ResourceId;
use pipeline::{classified, emit, expect_all, usage, BackupDoc, OperationDoc, Outcome, Session};
use provision_workflow::{self as workflow, Deletion, DeletionRail, Provisioned, ServiceRequest, Unproven};
use requests::*;

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let common = cli.connect;
    // Wait flags go before or after the subcommand, as a user types them.
    let wait = match &cli.cmd {
        Some(Cmd::Service(a)) => cli.wait.or(&a.wait),
        Some(Cmd::Storage(a)) => cli.wait.or(&a.wait),
        Some(Cmd::Delete(a)) => cli.wait.or(&a.wait),
        Some(Cmd::Get(_)) | Some(Cmd::List(_)) | None => cli.wait.clone(),
    };
    if wait.resume {
        let ops: Vec<OperationDoc> = common.read_operations("apim-provision")?;
        for op in &ops {
            workflow::check_resumable(op).map_err(classified)?;
        }
        // A resumed delete that purges asks the backup rail again: with
        // `delete --resume --backups FILE` (or --no-backup-check).
        let rail = match &cli.cmd {
            Some(Cmd::Delete(a)) => deletion_rail(a)?,
            _ => DeletionRail::NoneGiven,
        };
        let session = common.connect_waiting(&wait)?;
        let work = ops.into_iter().map(|op| follow(&session, op, &rail));
        return session.batch("apim-provision", work, said).await;
    }
    match cli.cmd {
        Some(Cmd::Get(a)) => {
            let ids = get_ids(&a, &common)?;
            let session = common.connect()?;
            for id in ids {
                let body = apim_ops::get_service(&session.arm, &id).await?.ok_or_else(|| {
                    anyhow::anyhow!(
                        "service {} does not exist in resource group {}",
                        id.name().unwrap_or_default(),
                        id.resource_group_name().unwrap_or_default()
                    )
                })?;
                emit(&workflow::service_doc(&body).map_err(classified)?)?;
            }
            Ok(())
        }
        Some(Cmd::List(a)) => {
            let sub = subscription_flag(&common)?;
            if a.resource_group.is_some() {
                need(&a.resource_group, "--resource-group")?;
            }
            let session = common.connect()?;
            let services = apim_ops::list_services(&session.arm, &sub, a.resource_group.as_deref()).await?;
            for body in services {
                let doc = workflow::service_doc(&body).map_err(classified)?;
                if workflow::has_tags(&doc, &a.tags) {
                    emit(&doc)?;
                }
            }
            Ok(())
        }
        None => Err(usage(
            "say what to provision: apim-provision service … or apim-provision storage … (see --help)",
        )),
        Some(Cmd::Service(a)) if a.like.is_some() => {
            let Some(req) = like_request(&a, &common)? else {
                return Err(usage("--like needs a source"));
            };
            let session = common.connect_waiting(&wait)?;
            like(&session, req, a.update, a.grant_roles).await
        }
        Some(Cmd::Service(a)) => {
            let (requests, group) = service_requests(&a, &common)?;
            let session = common.connect_waiting(&wait)?;
            if let Some((sub, rg, loc)) = group {
                workflow::ensure_group(&session.arm, &session.reporter, &sub, &rg, &loc)
                    .await
                    .map_err(classified)?;
            }
            let existing = if a.update {
                ExistingPolicy::Update {
                    allow_downgrade: a.allow_downgrade,
                }
            } else {
                ExistingPolicy::Keep
            };
            provision_services(&session, requests, (policy(&a), existing)).await
        }
        Some(Cmd::Delete(a)) => {
            let ids = delete_ids(&a)?;
            let rail = deletion_rail(&a)?;
            let session = common.connect_waiting(&wait)?;
            delete_services(&session, &a, ids, &rail).await
        }
        Some(Cmd::Storage(a)) => {
            let (requests, group) = storage_requests(&a, &common)?;
            let session = common.connect_waiting(&wait)?;
            if let Some((sub, rg, loc)) = group {
                workflow::ensure_group(&session.arm, &session.reporter, &sub, &rg, &loc)
                    .await
                    .map_err(classified)?;
            }
            let work = requests.iter().map(|r| async {
                let started = workflow::provision_storage(&session.arm, r).await.map_err(classified)?;
                started_or_follow(&session, started, &DeletionRail::NoneGiven).await
            });
            session.batch("apim-provision", work, said).await
        }
    }
}

/// Every service's rail is checked before any is deleted; then all go at once.
async fn delete_services(session: &Session, a: &DeleteArgs, ids: Vec<ResourceId>, rail: &DeletionRail) -> anyhow::Result<()> {
    let plans = futures::future::try_join_all(ids.iter().map(|id| async move {
        match workflow::plan_deletion(&session.arm, id, a.purge, rail).await.map_err(classified)? {
            Ok(plan) => Ok(plan),
            Err(why) => Err(pipeline::refused(refusal(id, &why, a))),
        }
    }))
    .await?;
    let work = ids.iter().zip(plans).map(|(id, plan): (&ResourceId, Deletion)| async move {
        let started = workflow::delete_service(&session.arm, &session.reporter, id, plan, a.purge, rail)
            .await
            .map_err(with_hint)?;
        started_or_follow(session, started, rail).await
    });
    session.batch("apim-provision", work, said).await
}

/// A refusal of the delete rail, with the flags that get past it.
fn refusal(id: &ResourceId, why: &Unproven, a: &DeleteArgs) -> String {
    let name = id.name().unwrap_or_default();
    match why {
        Unproven::Busy(state) => format!(
            "service {name} is {state}: an operation (a restore into it, an update) still runs; wait for it to finish (e.g. apim-restore --resume), then delete"
        ),
        Unproven::NoneGiven => format!(
            "service {name}: no backup given; pass --backups FILE with a recent apim.backup of it (or --no-backup-check to delete without one)"
        ),
        Unproven::NoBackupOfIt => format!(
            "service {name}: --backups {} holds no succeeded backup of it; back it up first (apim-backup), or pass --no-backup-check",
            a.backups.as_deref().unwrap_or(std::path::Path::new("-")).display()
        ),
        Unproven::Blob(why) => format!(
            "service {name}: its backup does not prove it can be brought back: {why}; back it up again, or pass --no-backup-check"
        ),
    }
}

/// `service --like`: each target's settings (and with `--grant-roles` its
/// identity's roles) made as the source's, shown first; changed only with
/// `update`.
async fn like(session: &Session, req: LikeRequest, update: bool, grant_roles: bool) -> anyhow::Result<()> {
    use pipeline::documents::{SettingDoc, SettingStatus};
    use workflow::like;
    let read = |id: ResourceId| async move {
        apim_ops::get_service(&session.arm, &id).await?.ok_or_else(|| {
            usage(format!(
                "service {} does not exist; create it first (apim-provision service)",
                id.name().unwrap_or_default()
            ))
        })
    };
    let source = read(req.source.clone()).await?;
    let source_roles = match (grant_roles, like::system_principal(&source)) {
        (false, _) => Vec::new(),
        (true, None) => {
            session
                .reporter
                .info("--grant-roles: the source has no system-assigned identity, so it holds no roles to give");
            Vec::new()
        }
        (true, Some(p)) => like::roles_of(&session.arm, req.source.subscription_id(), &p)
            .await
            .map_err(classified)?,
    };
    let source_diagnostics = like::diagnostic_settings(&session.arm, &req.source).await.map_err(classified)?;
    let mut planned = 0;
    for target in &req.targets {
        let now = read(target.clone()).await?;
        let (mut changes, not_carried) = like::plan(&source, &now, &req.hosts);
        let target_diagnostics = like::diagnostic_settings(&session.arm, target).await.map_err(classified)?;
        changes.extend(like::missing_diagnostics(&source_diagnostics, &target_diagnostics));
        if grant_roles {
            let held = match like::system_principal(&now) {
                Some(p) => like::roles_of(&session.arm, target.subscription_id(), &p)
                    .await
                    .map_err(classified)?,
                None => Vec::new(),
            };
            changes.extend(like::missing_roles(&source_roles, &held));
        }
        for s in &not_carried {
            session.reporter.info(&format!(
                "{}: {s} differs from the source's; --like does not carry it (apim-provision service --update, or the network's own tools)",
                target.name().unwrap_or_default()
            ));
        }
        let doc = |c: &like::Change, status| SettingDoc {
            service_id: target.clone(),
            setting: c.setting.clone(),
            source: c.want.clone(),
            target: c.now.clone(),
            status,
        };
        if !update || changes.is_empty() {
            for c in &changes {
                emit(&doc(c, SettingStatus::Planned))?;
            }
            planned += changes.len();
            continue;
        }
        like::apply(&session.arm, target, &changes, &now).await.map_err(classified)?;
        for c in &changes {
            emit(&doc(c, SettingStatus::Applied))?;
        }
        session.reporter.info(&format!(
            "{}: {} setting(s) made like the source's",
            target.name().unwrap_or_default(),
            changes.len()
        ));
    }
    if planned > 0 {
        eprintln!("apim-provision: {planned} change(s) planned, none made; run again with --update to make them");
    }
    Ok(())
}

async fn provision_services(session: &Session, requests: Vec<ServiceRequest>, policies: workflow::Policies) -> anyhow::Result<()> {
    let work = requests.iter().map(|r| async move {
        let started = workflow::provision_service(&session.arm, &session.reporter, r, policies)
            .await
            .map_err(with_hint)?;
        started_or_follow(session, started, &DeletionRail::NoneGiven).await
    });
    session.batch("apim-provision", work, said).await
}

/// The plain line each provisioned document ends with.
fn said(p: &Provisioned) -> Option<String> {
    match p {
        Provisioned::Service(d) => pipeline::say::service(d),
        Provisioned::Container(d) => pipeline::say::container(d),
        Provisioned::Deleted(d) => pipeline::say::deleted(d),
    }
}

/// What a delete (or a resumed one) must prove before it deletes or purges.
fn deletion_rail(a: &DeleteArgs) -> anyhow::Result<DeletionRail> {
    Ok(match (a.no_backup_check, &a.backups) {
        (true, _) => DeletionRail::Waived,
        (false, Some(p)) => DeletionRail::Backups {
            docs: expect_all::<BackupDoc>(
                &pipeline::read_file_documents(p, "--backups")?,
                &format!("--backups {}", p.display()),
            )?,
            max_age: a.max_backup_age,
        },
        (false, None) => DeletionRail::NoneGiven,
    })
}

/// A provisioning error with the flag that gets past it, where one does.
fn with_hint(e: workflow::ProvisionError) -> anyhow::Error {
    use apim_ops::OpsError;
    let hint = match &e {
        workflow::ProvisionError::Ops { source, .. } => match source.as_ref() {
            OpsError::SoftDeleted { .. } => Some("pass --recover to undelete it, or --purge to delete it for good and create a new one"),
            OpsError::Downgrade { .. } => Some("pass --allow-downgrade to do it"),
            OpsError::Missing("publisher email") => Some("pass --publisher-email"),
            OpsError::Missing(_) => Some("pass --publisher-name"),
            _ => None,
        },
        workflow::ProvisionError::PurgeRefused { .. } => Some(
            "purge it with apim-provision delete --purge (or delete --resume) and --backups FILE holding a recent apim.backup of it, or --no-backup-check",
        ),
        _ => None,
    };
    pipeline::hinted(e, hint)
}

/// A result at once, or an operation followed to its end (or left, with --no-wait).
async fn started_or_follow(session: &Session, started: workflow::Started, rail: &DeletionRail) -> anyhow::Result<Outcome<Provisioned>> {
    match started {
        arm_client::Progress::Done(p) => Ok(arm_client::Progress::Done(p)),
        arm_client::Progress::Pending(op) => {
            // Recorded in the state directory, as backups and restores are.
            session.announce_started(&op);
            follow(session, op, rail).await
        }
    }
}

async fn follow(session: &Session, op: OperationDoc, rail: &DeletionRail) -> anyhow::Result<Outcome<Provisioned>> {
    session
        .follow(op, |op, result| async move {
            workflow::finish(&session.arm, &session.reporter, op, result, rail)
                .await
                .map_err(with_hint)
        })
        .await
}
