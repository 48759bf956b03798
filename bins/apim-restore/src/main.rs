//! apim-restore: restore an apim.backup onto a target, behind safety rails.

use apim_restore::Cli;
use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    pipeline::finish("apim-restore", apim_restore::run(cli).await)
}
