//! `apim-emulator serve`: a local ARM + token endpoint for rehearsals and tests.

use apim_emulator_bin::{run, Cli};
use clap::Parser;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("apim-emulator: error: {e:#}");
            std::process::ExitCode::from(2)
        }
    }
}
