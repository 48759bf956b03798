//! apim-provision: resource groups, APIM services and backup storage, idempotently.

use apim_provision::Cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli: Cli = pipeline::parse("apim-provision", apim_provision::RENAMED);
    pipeline::finish("apim-provision", apim_provision::run(cli).await)
}
