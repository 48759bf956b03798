//! apim-restore: restore an apim.backup onto a target, behind safety rails.

use apim_restore::Cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli: Cli = pipeline::parse("apim-restore", apim_restore::RENAMED);
    pipeline::finish("apim-restore", apim_restore::run(cli).await)
}
