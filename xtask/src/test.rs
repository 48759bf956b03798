//! `cargo xtask test`: fmt, clippy, then every test with Azurite running.

use crate::{cargo, cargo_env};
use apim_toolkit::Azurite;
use std::time::Instant;

pub(crate) fn test() -> anyhow::Result<()> {
    let started = Instant::now();
    cargo(&["fmt", "--all", "--", "--check"])?;
    cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    cargo(&["build", "--workspace", "--bins"])?;
    let azurite = Azurite::start()?;
    eprintln!("xtask: Azurite at {}", azurite.blob_endpoint);
    let env = vec![("AZURITE_BLOB_ENDPOINT".to_string(), azurite.blob_endpoint.clone())];
    cargo_env(&["test", "--workspace"], &env)?;
    drop(azurite);
    eprintln!("xtask: tests passed in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}
