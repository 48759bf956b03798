//! `apim-provision`'s flags and how they become requests; the rules of
//! creating, updating and deleting live in `provision-workflow`.

use apim_ops::{ExistingPolicy, ServiceSpec, SoftDeletePolicy};
use arm_client::ResourceId;
use clap::{Args, Parser, Subcommand};
use pipeline::{
    classified, emit, expect_all, usage, BackupDoc, ConnectArgs, ContainerDoc, OperationDoc, Outcome, ServiceDoc, Session, WaitArgs,
};
use provision_workflow::{self as workflow, Deletion, DeletionRail, Provisioned, ServiceRequest, SpecError, StorageRequest, Unproven};
use storage_accounts as accounts;

/// Flags renamed since earlier releases: the old spelling still works, with a warning.
pub const RENAMED: &[pipeline::Renamed] = &[pipeline::Renamed {
    subcommand: Some("storage"),
    old: "--sku",
    new: "--storage-sku",
}];

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
    #[arg(long = "tag", value_parser = pipeline::parse_tag)]
    tags: Vec<(String, String)>,
}

#[derive(Args)]
struct DeleteArgs {
    #[command(flatten)]
    wait: WaitArgs,
    /// A service by resource id; repeatable. Without it, apim.service documents are read from stdin.
    #[arg(long = "service-id", value_parser = pipeline::parse_service_id)]
    service_ids: Vec<ResourceId>,
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
    #[arg(long = "service-id", value_parser = pipeline::parse_service_id)]
    service_ids: Vec<ResourceId>,
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
    #[arg(long = "tag", value_parser = pipeline::parse_tag)]
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
    /// SKU of a new account (formerly --sku).
    #[arg(long = "storage-sku", alias = "sku", default_value = "Standard_LRS")]
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
        for op in &ops {
            workflow::check_resumable(op).map_err(classified)?;
        }
        let session = common.connect_waiting(&wait)?;
        let work = ops.into_iter().map(|op| follow(&session, op));
        return session.batch("apim-provision", work).await;
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
            let backups: Vec<BackupDoc> = match &a.backups {
                Some(p) => expect_all(
                    &pipeline::read_file_documents(p, "--backups")?,
                    &format!("--backups {}", p.display()),
                )?,
                None => Vec::new(),
            };
            let rail = match (a.no_backup_check, a.backups.is_some()) {
                (true, _) => DeletionRail::Waived,
                (false, true) => DeletionRail::Backups {
                    docs: backups,
                    max_age: a.max_backup_age,
                },
                (false, false) => DeletionRail::NoneGiven,
            };
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
                started_or_follow(&session, started).await
            });
            session.batch("apim-provision", work).await
        }
    }
}

/// The services `get` reads, checked before any request.
fn get_ids(a: &GetArgs, common: &ConnectArgs) -> anyhow::Result<Vec<ResourceId>> {
    let mut ids = a.service_ids.clone();
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
    let mut ids = a.service_ids.clone();
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
        let started = workflow::delete_service(&session.arm, &session.reporter, id, plan, a.purge)
            .await
            .map_err(classified)?;
        started_or_follow(session, started).await
    });
    session.batch("apim-provision", work).await
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
            out.push(ServiceRequest::new(d.id.clone(), spec).map_err(spec_error)?);
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
            tags: workflow::tag_map(&a.tags),
        };
        out.push(ServiceRequest::new(apim_ops::service_id(&sub, rg, name), spec).map_err(spec_error)?);
    }
    Ok((out, group_to_create(a.create_group, &sub, Some(rg), Some(location))?))
}

/// A setting that cannot work, named by the flag that sets it.
fn spec_error(e: SpecError) -> anyhow::Error {
    usage(match e {
        SpecError::Name(_) => e.to_string(),
        SpecError::Sku(sku) => format!("unknown --sku '{sku}': use one of {}", apim_rules::SKUS.join(", ")),
        SpecError::Email(email) => format!("--publisher-email '{email}' is not an email address"),
    })
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

async fn provision_services(session: &Session, requests: Vec<ServiceRequest>, policies: workflow::Policies) -> anyhow::Result<()> {
    let work = requests.iter().map(|r| async move {
        let started = workflow::provision_service(&session.arm, &session.reporter, r, policies)
            .await
            .map_err(classified)?;
        started_or_follow(session, started).await
    });
    session.batch("apim-provision", work).await
}

/// A result at once, or an operation followed to its end (or left, with --no-wait).
async fn started_or_follow(session: &Session, started: workflow::Started) -> anyhow::Result<Outcome<Provisioned>> {
    match started {
        arm_client::Progress::Done(p) => Ok(arm_client::Progress::Done(p)),
        arm_client::Progress::Pending(op) => follow(session, op).await,
    }
}

async fn follow(session: &Session, op: OperationDoc) -> anyhow::Result<Outcome<Provisioned>> {
    session
        .follow(op, |op, result| async move {
            workflow::finish(&session.arm, &session.reporter, op, result)
                .await
                .map_err(classified)
        })
        .await
}
