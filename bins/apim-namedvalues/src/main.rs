//! apim-namedvalues: list, rewrite, apply and diff APIM named values.

use apim_namedvalues::Cli;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli: Cli = pipeline::parse("apim-namedvalues", apim_namedvalues::RENAMED);
    pipeline::finish("apim-namedvalues", apim_namedvalues::run(cli).await)
}
