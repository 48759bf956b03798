//! `apim-backup`'s flags.

use apim_ops::AccessType;
use arm_client::ResourceId;
use clap::{Args, Parser, Subcommand};
use pipeline::{ConnectArgs, WaitArgs};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Parser)]
#[command(after_help = pipeline::help::BACKUP)]
#[command(
    name = "apim-backup",
    version,
    about = "Back up APIM services into blob storage (reads apim.service documents on stdin)"
)]
pub struct Cli {
    #[command(subcommand)]
    pub(crate) cmd: Option<Cmd>,
    #[command(flatten)]
    pub(crate) backup: BackupArgs,
    #[command(flatten)]
    pub(crate) wait: WaitArgs,
    #[command(flatten)]
    pub(crate) connect: ConnectArgs,
}

#[derive(Subcommand)]
pub(crate) enum Cmd {
    /// Delete old backup blobs of a service (or of each apim.service on stdin), never the newest restorable one; says on stderr what it deletes and why. Try it with --dry-run first.
    #[command(after_help = pipeline::help::sub::changes(pipeline::help::sub::PRUNE))]
    Prune(PruneArgs),
}

#[derive(Args)]
pub(crate) struct StorageArgs {
    /// A storage.container document (from apim-provision storage).
    #[arg(long)]
    pub(crate) storage: Option<PathBuf>,
    /// The storage account's resource id (instead of --storage).
    #[arg(long, conflicts_with = "storage", requires = "container")]
    pub(crate) storage_account: Option<String>,
    /// The blob container (with --storage-account).
    #[arg(long)]
    pub(crate) container: Option<String>,
}

#[derive(Args)]
pub(crate) struct BackupArgs {
    #[command(flatten)]
    pub(crate) storage: StorageArgs,
    /// A service to back up, by resource id; repeatable. Without it, apim.service documents are read from stdin.
    #[arg(long = "service-id", value_parser = pipeline::parse_service_id)]
    pub(crate) service_ids: Vec<ResourceId>,
    /// Blob name (one service only). Default: <service>-<UTC timestamp>.apimbackup.
    #[arg(long)]
    pub(crate) blob: Option<String>,
    /// Replace an existing blob of the same name.
    #[arg(long)]
    pub(crate) overwrite: bool,
    /// How the service reaches the storage account: access-key, system-identity or user-identity.
    #[arg(long, default_value = "access-key")]
    pub(crate) access_type: AccessType,
    /// Client id of the user-assigned identity (with --access-type user-identity).
    #[arg(long)]
    pub(crate) identity_client_id: Option<String>,
    /// Back up into an account or container that allows public access, plain http or TLS below 1.2.
    #[arg(long)]
    pub(crate) allow_insecure_storage: bool,
    /// Do not check that the managed identity holds a blob data role on the account (for a custom role).
    #[arg(long)]
    pub(crate) skip_role_check: bool,
}

#[derive(Args)]
pub(crate) struct PruneArgs {
    #[command(flatten)]
    pub(crate) storage: StorageArgs,
    /// The service whose backups to prune, by name (its backups record it; older ones are named <service>-<timestamp>.apimbackup). Without it, apim.service documents are read from stdin (e.g. from apim-provision list) and each one's backups are pruned.
    #[arg(long = "name", short = 'n')]
    pub(crate) service: Option<String>,
    /// How many of the newest backups to keep; older ones are deleted.
    #[arg(long, required_unless_present = "max_age")]
    pub(crate) keep: Option<usize>,
    /// Delete backups older than this (a unit is required: 30d, 12h); with --keep, only beyond the kept ones.
    #[arg(long, value_parser = pipeline::progress::parse_duration)]
    pub(crate) max_age: Option<Duration>,
    /// Let --max-age delete backups among the --keep newest too.
    #[arg(long, requires_all = ["keep", "max_age"])]
    pub(crate) max_age_overrides_keep: bool,
    /// Print what would be deleted, and why; delete nothing.
    #[arg(long)]
    pub(crate) dry_run: bool,
}
