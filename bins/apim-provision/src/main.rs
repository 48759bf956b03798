//! apim-provision: resource groups, APIM services and backup storage, idempotently.

use apim_provision::Cli;
use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    pipeline::finish("apim-provision", apim_provision::run(cli).await)
}
