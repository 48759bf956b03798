//! The work behind `apim-backup`: back up services (concurrently) into a
//! blob container, record what was written, and prune old backups.

use anyhow::Context;
use apim_ops::{AccessType, BackupAccess};
use arm_client::ResourceId;
use backup_workflow::prune;
use blob_store::BlobClient;
use pipeline::{emit, expect_all, refused, usage, ContainerDoc, Progress, ServiceDoc, ServiceRef, Session, StorageRef};
use storage_accounts::preflight;

mod args;

pub use args::Cli;
use args::{BackupArgs, Cmd, PruneArgs, StorageArgs};

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if cli.wait.resume {
        let ops = cli.connect.read_operations("apim-backup")?;
        let session = cli.connect.connect_waiting(&cli.wait)?;
        let work = ops.into_iter().map(|op| finish(&session, op, None));
        return session.batch("apim-backup", work, pipeline::say::backup).await;
    }
    match cli.cmd {
        Some(Cmd::Prune(p)) => {
            // Connection flags (-v, --subscription) may come before `prune`;
            // a backup's own flags there would be silently ignored.
            let b = &cli.backup;
            let backup_flags = b.storage.storage.is_some()
                || b.storage.storage_account.is_some()
                || b.storage.container.is_some()
                || !b.service_ids.is_empty()
                || b.blob.is_some()
                || b.overwrite
                || b.access_type != AccessType::AccessKey
                || b.identity_client_id.is_some()
                || b.allow_insecure_storage
                || b.skip_role_check
                || cli.wait.no_wait
                || cli.wait.timeout.timeout.is_some();
            if backup_flags {
                return Err(usage("flags of a backup were given with prune; prune takes its own flags after the word prune (see apim-backup prune --help)"));
            }
            let storage = storage_input(&p.storage)?;
            let services = match &p.service {
                Some(n) => vec![n.clone()],
                None => expect_all::<ServiceDoc>(&pipeline::read_stdin_documents()?, "stdin")?
                    .into_iter()
                    .map(|d| d.name)
                    .collect(),
            };
            if services.is_empty() {
                // Documents were piped, and none: a fleet of none.
                eprintln!("apim-backup: no apim.service documents on stdin: nothing to prune");
                return Ok(());
            }
            for name in &services {
                if !apim_rules::is_valid_service_name(name) {
                    return Err(usage(format!("--name '{name}' is not a service name")));
                }
            }
            let session = cli.connect.connect()?;
            let storage = resolve_storage(&session, storage).await?;
            // One service refused (its newest backup failed) leaves the
            // others' retention to run: each is its own.
            let mut results = Vec::new();
            for name in &services {
                results.push(prune(&storage, name, &p).await.map(|()| arm_client::Progress::Done(Pruned)));
            }
            pipeline::report(results, "apim-backup", false, |_| None)
        }
        None => {
            let b = cli.backup;
            let storage = storage_input(&b.storage)?;
            let services = service_input(&b)?;
            let access = match (b.access_type, &b.identity_client_id) {
                (AccessType::UserIdentity, None) => return Err(usage("--access-type user-identity needs --identity-client-id")),
                (AccessType::UserIdentity, Some(c)) => BackupAccess::UserIdentity(c.clone()),
                (_, Some(_)) => return Err(usage("--identity-client-id goes with --access-type user-identity")),
                (AccessType::SystemIdentity, None) => BackupAccess::SystemIdentity,
                (AccessType::AccessKey, None) => BackupAccess::AccessKey(String::new()),
            };
            if services.is_empty() {
                // Documents were piped, and none: a fleet of none.
                eprintln!("apim-backup: no apim.service documents on stdin: nothing to back up");
                return Ok(());
            }
            if b.blob.is_some() && services.len() != 1 {
                return Err(usage(format!(
                    "--blob names one blob, but {} services were given; leave it out to get one blob per service",
                    services.len()
                )));
            }
            let session = cli.connect.connect_waiting(&cli.wait)?;
            let rails = Rails {
                overwrite: b.overwrite,
                allow_insecure: b.allow_insecure_storage,
                skip_role_check: b.skip_role_check,
            };
            backup(&session, storage, services, access, b.blob, rails).await
        }
    }
}

/// Where the blobs go, as the user named it (resolved against ARM later).
enum StorageInput {
    Doc(ContainerDoc),
    Account { id: ResourceId, container: String },
}

fn storage_input(a: &StorageArgs) -> anyhow::Result<StorageInput> {
    if let Some(path) = &a.storage {
        return Ok(StorageInput::Doc(pipeline::read_one_file(path, "--storage")?));
    }
    match (&a.storage_account, &a.container) {
        (Some(id), Some(c)) => {
            let id: ResourceId = id.parse().map_err(|e| usage(format!("--storage-account: {e}")))?;
            if !id
                .resource_type()
                .is_some_and(|t| t.eq_ignore_ascii_case("Microsoft.Storage/storageAccounts"))
            {
                return Err(usage(format!("--storage-account: '{id}' is not the id of a storage account")));
            }
            if !blob_store::names::is_valid_container_name(c) {
                return Err(usage(format!(
                    "--container '{c}' is invalid: 3-63 lowercase letters, digits and single hyphens"
                )));
            }
            Ok(StorageInput::Account { id, container: c.clone() })
        }
        _ => Err(usage(
            "say where backups go: --storage FILE (a storage.container document) or --storage-account ID --container NAME",
        )),
    }
}

fn service_input(b: &BackupArgs) -> anyhow::Result<Vec<ServiceInput>> {
    if !b.service_ids.is_empty() {
        return Ok(b.service_ids.iter().cloned().map(ServiceInput::Id).collect());
    }
    let docs = pipeline::read_stdin_documents()?;
    let services = expect_all::<ServiceDoc>(&docs, "stdin")?;
    // The same service twice would start a second backup into a second blob.
    let mut seen = std::collections::HashSet::new();
    if let Some(twice) = services.iter().find(|d| !seen.insert(d.id.clone())) {
        return Err(usage(format!("stdin: service {} is given twice", twice.name)));
    }
    Ok(services.into_iter().map(|d| ServiceInput::Doc(Box::new(d))).collect())
}

enum ServiceInput {
    Doc(Box<ServiceDoc>),
    Id(ResourceId),
}

/// The storage, resolved: its reference for documents and a data-plane client.
struct Storage {
    r: StorageRef,
    blobs: BlobClient,
    key: Option<String>,
    /// The account resource, as ARM reports it.
    account: serde_json::Value,
}

async fn resolve_storage(session: &Session, input: StorageInput) -> anyhow::Result<Storage> {
    // Only the account and container are taken from the input: where its
    // blobs live is what ARM says now, not what a document claims.
    let (id, container) = match input {
        StorageInput::Doc(d) => (d.account_id, d.container),
        StorageInput::Account { id, container } => (id, container),
    };
    let account = id.name().unwrap_or_default().to_string();
    let access = storage_accounts::blob_client(&session.arm, &id)
        .await
        .with_context(|| format!("storage account {account}"))?;
    Ok(Storage {
        r: StorageRef {
            account_id: id,
            account,
            container,
            blob_endpoint: access.endpoint,
        },
        blobs: access.client,
        key: access.key,
        account: access.account,
    })
}

/// The service as ARM reports it now (its identity is in the body).
async fn resolve_service(session: &Session, s: ServiceInput) -> anyhow::Result<(ServiceRef, serde_json::Value)> {
    let id = match s {
        ServiceInput::Doc(d) => d.id.clone(),
        ServiceInput::Id(id) => id,
    };
    let body = apim_ops::get_service(&session.arm, &id)
        .await?
        .ok_or_else(|| anyhow::anyhow!("service {id} does not exist"))?;
    let state = arm_client::lro::provisioning_state(&body);
    if !arm_client::lro::is_terminal(state) {
        // A second backup would only get Azure's conflict; a re-run after a
        // lost terminal should pick the running one up instead.
        return Err(refused(format!(
            "service {} is {state}: an operation is running on it; if it is a backup you started, record it with apim-backup --resume < its apim.operation document, else wait until it ends",
            id.name().unwrap_or_default()
        )));
    }
    let d = ServiceDoc::from_arm(&body).map_err(anyhow::Error::msg)?;
    Ok((ServiceRef::from(&d), body))
}

/// The rails a backup can be told to pass or keep.
struct Rails {
    overwrite: bool,
    allow_insecure: bool,
    skip_role_check: bool,
}

/// How the service reaches the account, for the pre-flight.
fn preflight_access(access: &BackupAccess, service: Option<&serde_json::Value>) -> preflight::Access {
    match access {
        BackupAccess::AccessKey(_) => preflight::Access::Key,
        other => preflight::Access::Identity {
            principal_id: service.and_then(|s| preflight::principal_of(s, other.identity_client_id())),
        },
    }
}

async fn backup(
    session: &Session,
    storage: StorageInput,
    services: Vec<ServiceInput>,
    access: BackupAccess,
    blob: Option<String>,
    rails: Rails,
) -> anyhow::Result<()> {
    let storage = resolve_storage(session, storage).await?;
    // Before any freeze, and before we touch a blob ourselves: what makes
    // Azure refuse the storage (a CORS rule, the firewall, shared keys
    // off), read from ARM and judged now.
    let facts = preflight::read(
        &session.arm,
        &storage.r.account_id,
        &storage.r.container,
        &preflight::Access::Key,
        true,
    )
    .await?;
    let refusals = preflight::refusals(&facts, &preflight_access(&access, None), false);
    if !refusals.is_empty() {
        return Err(refused(format!("backup refused before it started: {}", refusals.join("; "))));
    }
    if !storage.blobs.container_exists(&storage.r.container).await? {
        session.reporter.info(&format!(
            "container '{}' does not exist in storage account '{}': the backup creates it",
            storage.r.container, storage.r.account
        ));
    }
    // Backups hold every secret of an instance: the account and the
    // container (its access level is an ARM property) must keep them private.
    let container = storage_accounts::get_container(&session.arm, &storage.r.account_id, &storage.r.container).await?;
    let insecure = storage_accounts::insecure_settings(&storage.account, container.as_ref());
    if !insecure.is_empty() {
        let what = insecure.join("; ");
        if !rails.allow_insecure {
            return Err(refused(format!(
                "storage account '{}' is not fit for backups, which hold every secret of an instance: {what}; fix the account, or pass --allow-insecure-storage",
                storage.r.account
            )));
        }
        session
            .reporter
            .info(&format!("warning: {what} (allowed by --allow-insecure-storage)"));
    }
    let access = match access {
        BackupAccess::AccessKey(_) => BackupAccess::AccessKey(storage.key.clone().ok_or_else(|| {
            anyhow::anyhow!("cannot read the keys of storage account '{}' (or it refuses shared keys); use --access-type system-identity or user-identity", storage.r.account)
        })?),
        other => other,
    };
    // Every rail is checked before anything starts. One service is all or
    // nothing; in a fleet a service that fails its rails is reported and
    // the others go on, and a tier that has no backup is skipped.
    let fleet = services.len() > 1;
    let mut plans = Vec::new();
    for s in services {
        let plan = match plan_one(session, &storage, s, &blob, &access, &rails).await {
            Ok(Some(p)) => Ok(p),
            Ok(None) => continue,
            Err(e) if fleet => Err(e),
            Err(e) => return Err(e),
        };
        plans.push(plan);
    }
    let work = plans.into_iter().map(|plan| {
        let (storage, access) = (&storage, &access);
        async move {
            let (service, blob) = plan?;
            let op = backup_workflow::start(&session.arm, &session.reporter, &storage.r, &service, blob, access)
                .await
                .map_err(pipeline::classified)?;
            if session.no_wait {
                return Ok(Progress::Pending(Box::new(op)));
            }
            finish(session, op, Some(&storage.blobs)).await
        }
    });
    session.batch("apim-backup", work, pipeline::say::backup).await
}

/// One service's rails: the service and the blob it would write. `None`
/// for a tier that has no backup (said on stderr).
async fn plan_one(
    session: &Session,
    storage: &Storage,
    s: ServiceInput,
    blob: &Option<String>,
    access: &BackupAccess,
    rails: &Rails,
) -> anyhow::Result<Option<(ServiceRef, String)>> {
    let (t, body) = resolve_service(session, s).await?;
    if !apim_rules::can_back_up(&t.sku.name) {
        session.reporter.info(&format!(
            "{}: skipped: the {} tier has no backup and restore (copy it with the management API instead)",
            t.name, t.sku.name
        ));
        return Ok(None);
    }
    // The identity this service sends must hold a blob data role there.
    let who = preflight_access(access, Some(&body));
    if who != preflight::Access::Key && !rails.skip_role_check {
        let facts = preflight::read(&session.arm, &storage.r.account_id, &storage.r.container, &who, false).await?;
        let refusals = preflight::refusals(&facts, &who, false);
        if !refusals.is_empty() {
            return Err(refused(format!(
                "{}: backup refused before it started: {}",
                t.name,
                refusals.join("; ")
            )));
        }
    }
    let name = blob.clone().unwrap_or_else(|| backup_workflow::default_blob_name(&t.name));
    if !rails.overwrite && storage.blobs.properties(&storage.r.container, &name).await?.is_some() {
        return Err(refused(format!(
            "blob '{name}' already exists in container '{}'; pass --overwrite to replace it",
            storage.r.container
        )));
    }
    Ok(Some((t, name)))
}

/// Waits for a backup and records it (a resume document of another tool is bad input).
async fn finish(
    session: &Session,
    op: pipeline::OperationDoc,
    blobs: Option<&BlobClient>,
) -> anyhow::Result<pipeline::Outcome<pipeline::BackupDoc>> {
    backup_workflow::finish(&session.arm, &session.reporter, op, blobs)
        .await
        .map_err(pipeline::classified)
}

/// One service's retention ran (its deletions were printed as they went).
struct Pruned;

impl pipeline::Emit for Pruned {
    fn emit(&self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Prunes the backups of the service named `service` in `storage`,
/// printing each blob deleted (or, with --dry-run, to delete).
async fn prune(storage: &Storage, service: &str, p: &PruneArgs) -> anyhow::Result<()> {
    let retention = prune::Retention {
        keep: p.keep,
        max_age: p.max_age,
        age_beats_keep: p.max_age_overrides_keep,
        dry_run: p.dry_run,
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let verb = if p.dry_run { "would delete" } else { "deleting" };
    let said = |d: &pipeline::PrunedDoc| {
        eprintln!("apim-backup: {service}: {verb} {} ({})", d.blob, d.reason);
        emit(d)
    };
    let done = match prune::prune(&storage.blobs, &storage.r, service, &retention, now, said).await {
        Ok(done) => done,
        Err(prune::PruneError::Refused(why)) => return Err(refused(format!("{service}: {why}"))),
        Err(prune::PruneError::Output(e)) => return Err(e.into()),
        Err(e) => return Err(e.into()),
    };
    if !done.held_by_keep.is_empty() {
        eprintln!(
            "apim-backup: {service}: kept {} older than --max-age as one of the --keep newest: {} (--max-age-overrides-keep deletes them)",
            done.held_by_keep.len(),
            done.held_by_keep.join(", ")
        );
    }
    let verb = if p.dry_run { "would delete" } else { "deleted" };
    eprintln!("prune: {service}: {verb} {}, kept {}", done.deleted, done.kept);
    Ok(())
}
