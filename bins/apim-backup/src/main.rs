//! apim-backup: back up APIM services into blob storage, and prune old backups.

use apim_backup::Cli;
use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    pipeline::finish("apim-backup", apim_backup::run(cli).await)
}
