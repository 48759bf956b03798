//! apim-diff: compare two APIM instances (or snapshots), scan one for a host, or snapshot one.

use apim_diff::Cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli: Cli = pipeline::parse("apim-diff", &[]);
    pipeline::finish("apim-diff", apim_diff::run(cli).await)
}
