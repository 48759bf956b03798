//! apim-namedvalues: list, rewrite, apply and diff APIM named values.

use apim_namedvalues::Cli;
use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = Cli::parse();
    pipeline::finish("apim-namedvalues", apim_namedvalues::run(cli).await)
}
