//! apim-backup: back up APIM services into blob storage, and prune old backups.

use apim_backup::Cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli: Cli = pipeline::parse("apim-backup", &[]);
    pipeline::finish("apim-backup", apim_backup::run(cli).await)
}
