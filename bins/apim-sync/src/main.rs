//! apim-sync: copy an APIM instance onto another through the management API.

use apim_sync::Cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli: Cli = pipeline::parse("apim-sync", &[]);
    pipeline::finish("apim-sync", apim_sync::run(cli).await)
}
