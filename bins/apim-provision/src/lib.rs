//! The work behind `apim-provision`: turn flags or documents into services
//! and storage, creating only what is missing, concurrently.

use anyhow::Context;
use apim_ops::{ExistingPolicy, OpsError, ServiceSpec, SoftDeletePolicy};
use arm_client::ResourceId;
use clap::{Args, Parser, Subcommand};
use pipeline::{
    emit, expect_all, report, usage, BackupDoc, BackupStatus, ConnectArgs, ContainerDoc, DeletedDoc, DeletionStatus, Emit, OperationDoc,
    Outcome, Progress, Resume, ServiceDoc, Session, WaitArgs,
};
use serde_json::Value;
use std::collections::BTreeMap;
use storage_accounts as accounts;

#[derive(Parser)]
#[command(
    name = "apim-provision",
    version,
    about = "Provision APIM services and backup storage (idempotent)"
)]
pub struct Cli {
    #[command(subcommand)]
    cmd: Option<Cmd>,
    #[command(flatten)]
    wait: WaitArgs,
    #[command(flatten)]
    connect: ConnectArgs,
}

#[derive(Subcommand)]
enum Cmd {
    /// Create APIM services (or return them unchanged); prints one apim.service per service.
    Service(ServiceArgs),
    /// Create a storage account and blob container for backups; prints a storage.container.
    Storage(StorageArgs),
    /// Print the apim.service document of existing services; reads only, changes nothing.
    Get(GetArgs),
    /// An apim.service per service that exists in the subscription (all pages), optionally in one group and with tags; reads only.
    List(ListArgs),
    /// Delete services (apim.service documents on stdin, or --service-id), only with a recent good backup of each; prints one apim.service.deleted per service.
    Delete(DeleteArgs),
}

#[derive(Args)]
struct ListArgs {
    /// Only services in this resource group.
    #[arg(long, short = 'g')]
    resource_group: Option<String>,
    /// Only services with this tag (KEY=VALUE); repeat to require several.
    #[arg(long = "tag", value_parser = parse_tag)]
    tags: Vec<(String, String)>,
}

#[derive(Args)]
struct DeleteArgs {
    #[command(flatten)]
    wait: WaitArgs,
    /// A service by resource id; repeatable. Without it, apim.service documents are read from stdin.
    #[arg(long = "service-id")]
    service_ids: Vec<String>,
    /// apim.backup documents: each service needs a succeeded backup among them whose blob still exists.
    #[arg(long, value_name = "FILE")]
    backups: Option<std::path::PathBuf>,
    /// How old that backup may be.
    #[arg(long, default_value = "24h", value_parser = pipeline::progress::parse_duration)]
    max_backup_age: std::time::Duration,
    /// Delete without proof of a backup: its configuration is gone for good once purged.
    #[arg(long, conflicts_with = "backups")]
    no_backup_check: bool,
    /// Also purge the soft-deleted service, so that its name is free again (no undelete after this).
    #[arg(long)]
    purge: bool,
}

#[derive(Args)]
struct GetArgs {
    /// Resource group of the services named with --name.
    #[arg(long, short = 'g')]
    resource_group: Option<String>,
    /// Service name; repeatable.
    #[arg(long = "name", short = 'n')]
    names: Vec<String>,
    /// A service by resource id; repeatable.
    #[arg(long = "service-id")]
    service_ids: Vec<String>,
}

#[derive(Args)]
struct ServiceArgs {
    #[command(flatten)]
    wait: WaitArgs,
    /// Resource group of the services named with --name.
    #[arg(long, short = 'g')]
    resource_group: Option<String>,
    /// Create the resource group if it does not exist (needs --location).
    #[arg(long)]
    create_group: bool,
    /// Azure region of new services, e.g. westeurope.
    #[arg(long, short = 'l')]
    location: Option<String>,
    /// Service name; repeat for several (provisioned concurrently). Without it, apim.service documents are read from stdin.
    #[arg(long = "name", short = 'n')]
    names: Vec<String>,
    /// Publisher email (needed to create a service).
    #[arg(long)]
    publisher_email: Option<String>,
    /// Publisher name (needed to create a service).
    #[arg(long)]
    publisher_name: Option<String>,
    /// SKU of a new service (default Developer); changes an existing one only with --update.
    #[arg(long)]
    sku: Option<String>,
    /// Units of a new service (default 1); changes an existing one only with --update.
    #[arg(long)]
    capacity: Option<i64>,
    /// Change an existing service where the flags (or documents) ask for other settings.
    #[arg(long)]
    update: bool,
    /// With --update, allow a lower SKU or fewer units.
    #[arg(long, requires = "update")]
    allow_downgrade: bool,
    /// Tag as KEY=VALUE; repeatable.
    #[arg(long = "tag", value_parser = parse_tag)]
    tags: Vec<(String, String)>,
    /// Undelete a soft-deleted service that holds the name.
    #[arg(long, conflicts_with = "purge")]
    recover: bool,
    /// Purge a soft-deleted service that holds the name, then create anew.
    #[arg(long)]
    purge: bool,
}

#[derive(Args)]
struct StorageArgs {
    #[command(flatten)]
    wait: WaitArgs,
    /// Resource group of the storage account.
    #[arg(long, short = 'g')]
    resource_group: Option<String>,
    /// Create the resource group if it does not exist (needs --location).
    #[arg(long)]
    create_group: bool,
    /// Azure region of a new account.
    #[arg(long, short = 'l')]
    location: Option<String>,
    /// Storage account name (3-24 lowercase letters and digits). Without it, storage.container documents are read from stdin.
    #[arg(long)]
    account: Option<String>,
    /// Blob container for the backups.
    #[arg(long)]
    container: Option<String>,
    /// SKU of a new account.
    #[arg(long, default_value = "Standard_LRS")]
    sku: String,
}

fn parse_tag(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("'{s}' is not KEY=VALUE"))
}

/// One service to provision, checked before any request is sent.
struct ServiceRequest {
    id: ResourceId,
    spec: ServiceSpec,
}

/// One storage target.
struct StorageRequest {
    account: ResourceId,
    container: String,
    location: String,
    sku: String,
}

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
        let ops: Vec<OperationDoc> = pipeline::read_operations("apim-provision")?;
        let session = common.connect_waiting(&wait)?;
        return resume(&session, ops).await;
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
                emit(&service_doc(&body)?)?;
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
                let doc = service_doc(&body)?;
                if has_tags(&doc, &a.tags) {
                    emit(&doc)?;
                }
            }
            Ok(())
        }
        None => Err(usage(
            "say what to provision: apim-provision service … or apim-provision storage … (see --help)",
        )),
        Some(Cmd::Service(a)) => {
            let (requests, group) = service_requests(&a, &common)?;
            let session = common.connect_waiting(&wait)?;
            if let Some((sub, rg, loc)) = group {
                ensure_group(&session, &sub, &rg, &loc).await?;
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
            let backups: Vec<BackupDoc> = match &a.backups {
                Some(p) => expect_all(
                    &pipeline::read_file_documents(p, "--backups")?,
                    &format!("--backups {}", p.display()),
                )?,
                None => Vec::new(),
            };
            let session = common.connect_waiting(&wait)?;
            delete_services(&session, &a, ids, &backups).await
        }
        Some(Cmd::Storage(a)) => {
            let (requests, group) = storage_requests(&a, &common)?;
            let session = common.connect_waiting(&wait)?;
            if let Some((sub, rg, loc)) = group {
                ensure_group(&session, &sub, &rg, &loc).await?;
            }
            provision_storage(&session, requests).await
        }
    }
}

/// Whether a service carries every tag asked for (names ignore case, as Azure's do).
fn has_tags(doc: &ServiceDoc, wanted: &[(String, String)]) -> bool {
    wanted
        .iter()
        .all(|(k, v)| doc.tags.iter().any(|(tk, tv)| tk.eq_ignore_ascii_case(k) && tv == v))
}

/// The services `get` reads, checked before any request.
fn get_ids(a: &GetArgs, common: &ConnectArgs) -> anyhow::Result<Vec<ResourceId>> {
    let mut ids = Vec::new();
    for s in &a.service_ids {
        let id: ResourceId = s.parse().map_err(|e| usage(format!("--service-id: {e}")))?;
        pipeline::documents::check_service_id(&id).map_err(|e| usage(format!("--service-id: {e}")))?;
        ids.push(id);
    }
    if !a.names.is_empty() {
        let sub = subscription_flag(common)?;
        let rg = need(&a.resource_group, "--resource-group")?;
        for n in &a.names {
            if !apim_rules::is_valid_service_name(n) {
                return Err(usage(format!("--name '{n}' is not a service name")));
            }
            ids.push(apim_ops::service_id(&sub, rg, n));
        }
    }
    if ids.is_empty() {
        return Err(usage("name the services: --resource-group RG --name NAME, or --service-id ID"));
    }
    Ok(ids)
}

/// The services `delete` removes, checked before any request.
fn delete_ids(a: &DeleteArgs) -> anyhow::Result<Vec<ResourceId>> {
    let mut ids = Vec::new();
    for s in &a.service_ids {
        let id: ResourceId = s.parse().map_err(|e| usage(format!("--service-id: {e}")))?;
        pipeline::documents::check_service_id(&id).map_err(|e| usage(format!("--service-id: {e}")))?;
        ids.push(id);
    }
    if ids.is_empty() {
        ids = expect_all::<ServiceDoc>(&pipeline::read_stdin_documents()?, "stdin")?
            .into_iter()
            .map(|d| d.id)
            .collect();
    }
    if ids.is_empty() {
        return Err(usage(
            "no services to delete: pass --service-id, or apim.service documents on stdin",
        ));
    }
    Ok(ids)
}

/// What deleting one service will do, decided before anything is deleted.
enum Deletion {
    Delete { location: String, backup: Option<String> },
    PurgeOnly { location: String, backup: Option<String> },
    AlreadyGone,
}

/// The rails, for every service before any is touched: a service busy
/// with an operation (a restore into it, an update) is not deleted, and
/// none is deleted or purged without a recent backup whose blob exists.
async fn plan_deletion(session: &Session, a: &DeleteArgs, id: &ResourceId, backups: &[BackupDoc]) -> anyhow::Result<Deletion> {
    let name = id.name().unwrap_or_default().to_string();
    let (location, soft_deleted) = match apim_ops::get_service(&session.arm, id).await? {
        Some(body) => {
            let state = arm_client::lro::provisioning_state(&body);
            if !arm_client::lro::is_terminal(state) {
                return Err(pipeline::refused(format!(
                    "service {name} is {state}: an operation (a restore into it, an update) still runs; wait for it to finish (e.g. apim-restore --resume), then delete"
                )));
            }
            (body.get("location").and_then(Value::as_str).unwrap_or_default().to_string(), false)
        }
        None => {
            let deleted = if a.purge {
                apim_ops::deleted_service(&session.arm, id.subscription_id(), &name).await?
            } else {
                None
            };
            match deleted {
                Some(d) => (d.get("location").and_then(Value::as_str).unwrap_or_default().to_string(), true),
                None => return Ok(Deletion::AlreadyGone),
            }
        }
    };
    let backup = if a.no_backup_check {
        None
    } else {
        let Some(file) = &a.backups else {
            return Err(pipeline::refused(format!(
                "service {name}: no backup given; pass --backups FILE with a recent apim.backup of it (or --no-backup-check to delete without one)"
            )));
        };
        let latest = backups
            .iter()
            .filter(|b| b.service.id == *id && b.status == BackupStatus::Succeeded)
            .max_by_key(|b| b.completed_at.clone());
        let Some(b) = latest else {
            return Err(pipeline::refused(format!(
                "service {name}: --backups {} holds no succeeded backup of it; back it up first (apim-backup), or pass --no-backup-check",
                file.display()
            )));
        };
        let now = time::OffsetDateTime::now_utc();
        if let Some(why) = backup_workflow::why_unproven(session, b, id, (a.max_backup_age, "--max-backup-age"), now).await? {
            return Err(pipeline::refused(format!(
                "service {name}: its backup does not prove it can be brought back: {why}; back it up again, or pass --no-backup-check"
            )));
        }
        Some(format!("{}/{}/{}", b.storage.account, b.storage.container, b.blob))
    };
    Ok(if soft_deleted {
        Deletion::PurgeOnly { location, backup }
    } else {
        Deletion::Delete { location, backup }
    })
}

async fn delete_services(session: &Session, a: &DeleteArgs, ids: Vec<ResourceId>, backups: &[BackupDoc]) -> anyhow::Result<()> {
    let plans = futures::future::try_join_all(ids.iter().map(|id| plan_deletion(session, a, id, backups))).await?;
    let work = ids.iter().zip(plans).map(|(id, plan)| async move {
        let name = id.name().unwrap_or_default().to_string();
        session.check_not_interrupted(&format!("deleting {name}"))?;
        let done = |status, backup| Ok(Progress::Done(deleted(id, status, backup)));
        match plan {
            Deletion::AlreadyGone => {
                session.reporter.info(&format!("{name}: does not exist; nothing to delete"));
                done(DeletionStatus::AlreadyGone, None)
            }
            Deletion::PurgeOnly { location, backup } => {
                purge(session, id, &location).await?;
                done(DeletionStatus::Purged, backup)
            }
            Deletion::Delete { location, backup } => match apim_ops::delete_service(&session.arm, id).await? {
                None => {
                    if a.purge {
                        purge(session, id, &location).await?;
                        return done(DeletionStatus::Purged, backup);
                    }
                    done(DeletionStatus::Deleted, backup)
                }
                Some(op) => {
                    let work = Resume::ServiceDelete {
                        purge: a.purge,
                        location,
                        backup,
                    };
                    finish_operation(session, OperationDoc::new(work, id.clone(), op)).await
                }
            },
        }
    });
    report(futures::future::join_all(work).await, "apim-provision", session.no_wait)
}

/// The `apim.service.deleted` document of a service.
fn deleted(id: &ResourceId, status: DeletionStatus, backup: Option<String>) -> Provisioned {
    Provisioned::Deleted(DeletedDoc {
        id: id.clone(),
        name: id.name().unwrap_or_default().to_string(),
        status,
        backup,
    })
}

async fn purge(session: &Session, id: &ResourceId, location: &str) -> anyhow::Result<()> {
    let name = id.name().unwrap_or_default();
    session.reporter.info(&format!("{name}: purging the soft-deleted service"));
    apim_ops::purge_deleted(&session.arm, id.subscription_id(), location, name)
        .await
        .with_context(|| format!("purging {name}"))
}

fn policy(a: &ServiceArgs) -> SoftDeletePolicy {
    match (a.recover, a.purge) {
        (true, _) => SoftDeletePolicy::Recover,
        (_, true) => SoftDeletePolicy::Purge,
        _ => SoftDeletePolicy::Refuse,
    }
}

type GroupToCreate = Option<(String, String, String)>;

fn subscription_flag(common: &ConnectArgs) -> anyhow::Result<String> {
    common
        .subscription
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| usage("no subscription: pass --subscription or set AZURE_SUBSCRIPTION_ID"))
}

fn need<'a>(v: &'a Option<String>, flag: &str) -> anyhow::Result<&'a str> {
    let v = v
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| usage(format!("{flag} is required")))?;
    if flag == "--resource-group" && !apim_rules::is_valid_resource_group_name(v) {
        return Err(usage(format!(
            "--resource-group '{v}' is invalid: 1-90 letters, digits, '_', '(', ')', '-' and '.', not ending with '.'"
        )));
    }
    Ok(v)
}

fn group_to_create(create: bool, sub: &str, rg: Option<&str>, loc: Option<&str>) -> anyhow::Result<GroupToCreate> {
    if !create {
        return Ok(None);
    }
    let rg = rg.ok_or_else(|| usage("--create-group needs --resource-group"))?;
    let loc = loc.ok_or_else(|| usage("--create-group needs --location"))?;
    Ok(Some((sub.to_string(), rg.to_string(), loc.to_string())))
}

fn service_requests(a: &ServiceArgs, common: &ConnectArgs) -> anyhow::Result<(Vec<ServiceRequest>, GroupToCreate)> {
    let mut out = Vec::new();
    if a.names.is_empty() {
        // Documents from stdin: each carries its own subscription, group and settings.
        for d in expect_all::<ServiceDoc>(&pipeline::read_stdin_documents()?, "stdin")? {
            let mut spec = ServiceSpec::new(&d.location, &d.sku.name, d.sku.capacity, &d.publisher_email, &d.publisher_name);
            spec.tags = d.tags.clone();
            check_spec(&d.name, &spec)?;
            out.push(ServiceRequest { id: d.id.clone(), spec });
        }
        if out.is_empty() {
            return Err(usage("no services: pass --name, or apim.service documents on stdin"));
        }
        let group = match (a.create_group, out.first()) {
            (true, Some(r)) => Some((
                r.id.subscription_id().to_string(),
                r.id.resource_group_name().unwrap_or_default().to_string(),
                r.spec.location.clone(),
            )),
            _ => None,
        };
        return Ok((out, group));
    }
    let sub = subscription_flag(common)?;
    let rg = need(&a.resource_group, "--resource-group")?;
    let location = need(&a.location, "--location")?;
    let mut seen = std::collections::HashSet::new();
    for name in &a.names {
        if !seen.insert(name.to_ascii_lowercase()) {
            return Err(usage(format!("--name {name} is given twice")));
        }
        let spec = ServiceSpec {
            location: location.to_string(),
            sku_name: a.sku.clone(),
            capacity: a.capacity,
            publisher_email: a.publisher_email.clone(),
            publisher_name: a.publisher_name.clone(),
            tags: a.tags.iter().cloned().collect::<BTreeMap<_, _>>(),
        };
        check_spec(name, &spec)?;
        out.push(ServiceRequest {
            id: apim_ops::service_id(&sub, rg, name),
            spec,
        });
    }
    Ok((out, group_to_create(a.create_group, &sub, Some(rg), Some(location))?))
}

/// The checks that need no server: a typo must not cost a 40-minute create.
fn check_spec(name: &str, spec: &ServiceSpec) -> anyhow::Result<()> {
    if !apim_rules::is_valid_service_name(name) {
        return Err(usage(format!(
            "service name '{name}' is invalid: 1-50 letters, digits and hyphens, starting with a letter and not ending with a hyphen"
        )));
    }
    if let Some(sku) = spec.sku_name.as_deref().filter(|s| apim_rules::sku(s).is_none()) {
        return Err(usage(format!("unknown --sku '{sku}': use one of {}", apim_rules::SKUS.join(", "))));
    }
    if let Some(email) = spec.publisher_email.as_deref().filter(|e| !e.contains('@')) {
        return Err(usage(format!("--publisher-email '{email}' is not an email address")));
    }
    Ok(())
}

fn storage_requests(a: &StorageArgs, common: &ConnectArgs) -> anyhow::Result<(Vec<StorageRequest>, GroupToCreate)> {
    let mut out = Vec::new();
    if a.account.is_none() {
        for d in expect_all::<ContainerDoc>(&pipeline::read_stdin_documents()?, "stdin")? {
            out.push(StorageRequest {
                account: d.account_id.clone(),
                container: d.container.clone(),
                location: d.location.clone(),
                sku: a.sku.clone(),
            });
        }
        if out.is_empty() {
            return Err(usage(
                "no storage: pass --account and --container, or storage.container documents on stdin",
            ));
        }
        return Ok((out, None));
    }
    let sub = subscription_flag(common)?;
    let rg = need(&a.resource_group, "--resource-group")?;
    let account = need(&a.account, "--account")?;
    let location = need(&a.location, "--location")?;
    let container = need(&a.container, "--container")?;
    if !accounts::is_valid_account_name(account) {
        return Err(usage(format!(
            "--account '{account}' is invalid: 3-24 lowercase letters and digits"
        )));
    }
    if !accounts::is_valid_container_name(container) {
        return Err(usage(format!(
            "--container '{container}' is invalid: 3-63 lowercase letters, digits and single hyphens"
        )));
    }
    out.push(StorageRequest {
        account: accounts::account_id(&sub, rg, account),
        container: container.to_string(),
        location: location.to_string(),
        sku: a.sku.clone(),
    });
    Ok((out, group_to_create(a.create_group, &sub, Some(rg), Some(location))?))
}

async fn ensure_group(session: &Session, sub: &str, rg: &str, location: &str) -> anyhow::Result<()> {
    let outcome = arm_client::groups::ensure_group(&session.arm, sub, rg, location)
        .await
        .with_context(|| format!("resource group {rg}"))?;
    session.reporter.info(&format!(
        "resource group {rg}: {}",
        if outcome == arm_client::groups::GroupOutcome::Created {
            "created"
        } else {
            "exists"
        }
    ));
    Ok(())
}

async fn provision_services(
    session: &Session,
    requests: Vec<ServiceRequest>,
    policies: (SoftDeletePolicy, ExistingPolicy),
) -> anyhow::Result<()> {
    let update = matches!(policies.1, ExistingPolicy::Update { .. });
    let work = requests.iter().map(|r| async move {
        let name = r.id.name().unwrap_or_default().to_string();
        session.check_not_interrupted(&format!("service {name}"))?;
        let mut differences = Vec::new();
        let started = match apim_ops::create_service(&session.arm, &r.id, &r.spec, policies, &mut differences).await {
            Ok(s) => s,
            Err(OpsError::Refused(m)) => return Err(pipeline::refused(m)),
            Err(OpsError::Usage(m)) => return Err(usage(format!("service {name}: {m}"))),
            Err(e) => return Err(anyhow::Error::new(e).context(format!("service {name}"))),
        };
        let work = match (update, differences.is_empty()) {
            (true, false) => {
                session.reporter.info(&format!("{name}: updating: {}", differences.join(", ")));
                Resume::ServiceUpdate
            }
            (false, false) => {
                // Provisioning never changes what exists unless asked to.
                session.reporter.info(&format!(
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
                    session.reporter.info(&format!("{name}: exists with these settings; nothing to do"));
                }
                Ok(Progress::Done(Provisioned::Service(service_doc(&body)?)))
            }
            Progress::Pending(op) => finish_operation(session, OperationDoc::new(work, r.id.clone(), op)).await,
        }
    });
    report(futures::future::join_all(work).await, "apim-provision", session.no_wait)
}

async fn provision_storage(session: &Session, requests: Vec<StorageRequest>) -> anyhow::Result<()> {
    let work = requests.iter().map(|r| async move {
        let name = r.account.name().unwrap_or_default().to_string();
        session.check_not_interrupted(&format!("storage account {name}"))?;
        match accounts::ensure_account(&session.arm, &r.account, &r.location, &r.sku)
            .await
            .with_context(|| format!("storage account {name}"))?
        {
            Progress::Done(account) => Ok(Progress::Done(Provisioned::Container(
                container_doc(session, &r.account, &account, &r.container).await?,
            ))),
            Progress::Pending(op) => {
                let work = Resume::StorageCreate {
                    container: r.container.clone(),
                };
                finish_operation(session, OperationDoc::new(work, r.account.clone(), op)).await
            }
        }
    });
    report(futures::future::join_all(work).await, "apim-provision", session.no_wait)
}

/// What provisioning yields: a service, or a storage container.
enum Provisioned {
    Service(ServiceDoc),
    Container(ContainerDoc),
    Deleted(DeletedDoc),
}

impl Emit for Provisioned {
    fn emit(&self) -> anyhow::Result<()> {
        match self {
            Provisioned::Service(d) => emit(d),
            Provisioned::Container(d) => emit(d),
            Provisioned::Deleted(d) => emit(d),
        }
    }
}

/// Waits for an operation (unless --no-wait) and turns its result into the document the user expects.
async fn finish_operation(session: &Session, doc: OperationDoc) -> anyhow::Result<Outcome<Provisioned>> {
    if session.no_wait {
        return Ok(Progress::Pending(Box::new(doc)));
    }
    let label = format!("{} {}", doc.resource_id.name().unwrap_or_default(), doc.work.name());
    let result = match session.wait(&label, doc.clone()).await? {
        Progress::Pending(d) => return Ok(Progress::Pending(d)),
        Progress::Done(result) => result,
    };
    match &doc.work {
        Resume::ServiceCreate | Resume::ServiceUpdate => {
            let body = if result.is_null() {
                apim_ops::get_service(&session.arm, &doc.resource_id).await?.unwrap_or(Value::Null)
            } else {
                result
            };
            Ok(Progress::Done(Provisioned::Service(service_doc(&body)?)))
        }
        Resume::StorageCreate { container } => {
            let account = session
                .arm
                .get(session.arm.url(&doc.resource_id.to_string(), accounts::API_VERSION))
                .await?
                .unwrap_or(Value::Null);
            Ok(Progress::Done(Provisioned::Container(
                container_doc(session, &doc.resource_id, &account, container).await?,
            )))
        }
        Resume::ServiceDelete {
            purge: p,
            location,
            backup,
        } => {
            let id = &doc.resource_id;
            let status = if *p {
                purge(session, id, location).await?;
                DeletionStatus::Purged
            } else {
                DeletionStatus::Deleted
            };
            Ok(Progress::Done(deleted(id, status, backup.clone())))
        }
        other => Err(usage(format!(
            "apim-provision cannot resume a '{}' operation; use the tool that started it",
            other.name()
        ))),
    }
}

async fn resume(session: &Session, ops: Vec<OperationDoc>) -> anyhow::Result<()> {
    let work = ops.into_iter().map(|op| finish_operation(session, op));
    report(futures::future::join_all(work).await, "apim-provision", session.no_wait)
}

fn service_doc(body: &Value) -> anyhow::Result<ServiceDoc> {
    ServiceDoc::from_arm(body).map_err(anyhow::Error::msg)
}

async fn container_doc(session: &Session, account_id: &ResourceId, account: &Value, container: &str) -> anyhow::Result<ContainerDoc> {
    accounts::ensure_container(&session.arm, account_id, container)
        .await
        .with_context(|| format!("container {container}"))?;
    let blob = accounts::blob_endpoint(account).unwrap_or_default().to_string();
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
