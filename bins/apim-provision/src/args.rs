//! `apim-provision`'s flags.

use arm_client::ResourceId;
use clap::{Args, Parser, Subcommand};
use pipeline::{ConnectArgs, WaitArgs};

/// Flags renamed since earlier releases: the old spelling still works, with a warning.
pub const RENAMED: &[pipeline::Renamed] = &[pipeline::Renamed {
    subcommand: Some("storage"),
    old: "--sku",
    new: "--storage-sku",
}];

#[derive(Parser)]
#[command(after_help = pipeline::help::PROVISION)]
#[command(
    name = "apim-provision",
    version,
    about = "Provision APIM services and backup storage (idempotent)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) cmd: Option<Cmd>,
    #[command(flatten)]
    pub(crate) wait: WaitArgs,
    #[command(flatten)]
    pub(crate) connect: ConnectArgs,
}

#[derive(Subcommand)]
pub(crate) enum Cmd {
    /// Create APIM services (or return them unchanged); prints one apim.service per service.
    #[command(after_help = pipeline::help::sub::changes(pipeline::help::sub::SERVICE))]
    Service(ServiceArgs),
    /// Create a storage account and blob container for backups; prints a storage.container.
    #[command(after_help = pipeline::help::sub::changes(pipeline::help::sub::STORAGE))]
    Storage(StorageArgs),
    /// Print the apim.service document of existing services; reads only, changes nothing.
    #[command(after_help = pipeline::help::sub::reads(pipeline::help::sub::GET))]
    Get(GetArgs),
    /// An apim.service per service that exists in the subscription (all pages), optionally in one group and with tags; reads only.
    #[command(after_help = pipeline::help::sub::reads(pipeline::help::sub::LIST))]
    List(ListArgs),
    /// Delete services (apim.service documents on stdin, or --service-id), only with a recent good backup of each; prints one apim.service.deleted per service.
    #[command(after_help = pipeline::help::sub::changes(pipeline::help::sub::DELETE))]
    Delete(DeleteArgs),
}

#[derive(Args)]
pub(crate) struct ListArgs {
    /// Only services in this resource group.
    #[arg(long, short = 'g')]
    pub(crate) resource_group: Option<String>,
    /// Only services with this tag (KEY=VALUE); repeat to require several.
    #[arg(long = "tag", value_parser = pipeline::parse_tag)]
    pub(crate) tags: Vec<(String, String)>,
}

#[derive(Args)]
pub(crate) struct DeleteArgs {
    #[command(flatten)]
    pub(crate) wait: WaitArgs,
    /// A service by resource id; repeatable. Without it, apim.service documents are read from stdin.
    #[arg(long = "service-id", value_parser = pipeline::parse_service_id)]
    pub(crate) service_ids: Vec<ResourceId>,
    /// apim.backup documents: each service needs a succeeded backup among them whose blob still exists.
    #[arg(long, value_name = "FILE")]
    pub(crate) backups: Option<std::path::PathBuf>,
    /// How old that backup may be.
    #[arg(long, default_value = "24h", value_parser = pipeline::progress::parse_duration)]
    pub(crate) max_backup_age: std::time::Duration,
    /// Delete without proof of a backup: its configuration is gone for good once purged.
    #[arg(long, conflicts_with = "backups")]
    pub(crate) no_backup_check: bool,
    /// Also purge the soft-deleted service, so that its name is free again (no undelete after this).
    #[arg(long)]
    pub(crate) purge: bool,
}

#[derive(Args)]
pub(crate) struct GetArgs {
    /// Resource group of the services named with --name.
    #[arg(long, short = 'g')]
    pub(crate) resource_group: Option<String>,
    /// Service name; repeatable.
    #[arg(long = "name", short = 'n')]
    pub(crate) names: Vec<String>,
    /// A service by resource id; repeatable.
    #[arg(long = "service-id", value_parser = pipeline::parse_service_id)]
    pub(crate) service_ids: Vec<ResourceId>,
}

/// Where new services and accounts go.
#[derive(Args)]
pub(crate) struct Placement {
    /// Resource group of what is named with --name or --account.
    #[arg(long, short = 'g')]
    pub(crate) resource_group: Option<String>,
    /// Create the resource group if it does not exist (needs --location).
    #[arg(long)]
    pub(crate) create_group: bool,
    /// Azure region of what is created, e.g. westeurope.
    #[arg(long, short = 'l')]
    pub(crate) location: Option<String>,
}

#[derive(Args)]
pub(crate) struct ServiceArgs {
    #[command(flatten)]
    pub(crate) wait: WaitArgs,
    #[command(flatten)]
    pub(crate) at: Placement,
    /// Service name; repeat for several (provisioned concurrently). Without it, apim.service documents are read from stdin.
    #[arg(long = "name", short = 'n')]
    pub(crate) names: Vec<String>,
    /// Publisher email (needed to create a service).
    #[arg(long)]
    pub(crate) publisher_email: Option<String>,
    /// Publisher name (needed to create a service).
    #[arg(long)]
    pub(crate) publisher_name: Option<String>,
    /// SKU of a new service (default Developer); changes an existing one only with --update.
    #[arg(long)]
    pub(crate) sku: Option<String>,
    /// Units of a new service (default 1); changes an existing one only with --update.
    #[arg(long)]
    pub(crate) capacity: Option<i64>,
    /// Change an existing service where the flags (or documents) ask for other settings.
    #[arg(long)]
    pub(crate) update: bool,
    /// With --update, allow a lower SKU or fewer units.
    #[arg(long, requires = "update")]
    pub(crate) allow_downgrade: bool,
    /// Tag as KEY=VALUE; repeatable.
    #[arg(long = "tag", value_parser = pipeline::parse_tag)]
    pub(crate) tags: Vec<(String, String)>,
    /// Undelete a soft-deleted service that holds the name.
    #[arg(long, conflicts_with = "purge")]
    pub(crate) recover: bool,
    /// Purge a soft-deleted service that holds the name, then create anew.
    #[arg(long)]
    pub(crate) purge: bool,
    /// Make existing services like this one (an apim.service document) in what a backup never carries: custom hostnames with their Key Vault certificates, protocols and ciphers, identities, API version constraint. Shows the changes; --update makes them.
    #[arg(long, value_name = "SOURCE.json", conflicts_with_all = ["recover", "purge", "sku", "capacity"])]
    pub(crate) like: Option<std::path::PathBuf>,
    /// With --like: a hostname to rewrite, OLD=NEW; repeatable.
    #[arg(long = "host", value_name = "OLD=NEW", requires = "like")]
    pub(crate) hosts: Vec<String>,
    /// With --like: give the target's system identity the roles the source's holds, at the same scopes.
    #[arg(long, requires = "like")]
    pub(crate) grant_roles: bool,
}

#[derive(Args)]
pub(crate) struct StorageArgs {
    #[command(flatten)]
    pub(crate) wait: WaitArgs,
    #[command(flatten)]
    pub(crate) at: Placement,
    /// Storage account name (3-24 lowercase letters and digits). Without it, storage.container documents are read from stdin.
    #[arg(long)]
    pub(crate) account: Option<String>,
    /// Blob container for the backups.
    #[arg(long)]
    pub(crate) container: Option<String>,
    /// SKU of a new account (formerly --sku).
    #[arg(long = "storage-sku", alias = "sku", default_value = "Standard_LRS")]
    pub(crate) sku: String,
}
