//! The flags of `apim-emulator serve` and the serve loop; `main.rs` only
//! parses and calls [`run`].

use anyhow::Context;
use clap::{Parser, Subcommand};
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "apim-emulator",
    version,
    about = "A local Azure Resource Manager for APIM, storage and tokens"
)]
pub struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
}

#[derive(Subcommand)]
pub enum Cmd {
    /// Serve on 127.0.0.1 (HTTPS) until Ctrl-C; prints one `emulator.ready` line.
    Serve {
        /// Port to listen on; 0 picks a free one.
        #[arg(long, default_value_t = 0)]
        port: u16,
        /// Multiplies Azure's real operation durations (1 = real time, 0 = instant).
        #[arg(long, default_value_t = 1.0)]
        time_scale: f64,
        /// Write `export AZURE_…=` lines here for `source`.
        #[arg(long)]
        env_file: Option<PathBuf>,
        /// Azurite's blob endpoint, e.g. http://127.0.0.1:10000 (as `cargo xtask azurite --env-file` exports it).
        #[arg(long, env = "AZURITE_BLOB_ENDPOINT", requires = "blob_accounts")]
        blob_endpoint: Option<String>,
        /// Accounts Azurite knows: NAME:KEY,NAME:KEY (better from the environment, as Azurite takes them: keys on a command line are visible to every user of the machine).
        #[arg(long, env = "AZURITE_ACCOUNTS", hide_env_values = true, value_delimiter = ',')]
        blob_accounts: Vec<String>,
        /// Keep state in this file, so a rehearsal survives a restart.
        #[arg(long)]
        state: Option<PathBuf>,
        /// Where to write the CA certificate (default: a temp file).
        #[arg(long)]
        ca_cert: Option<PathBuf>,
        /// Lifetime of issued tokens in seconds.
        #[arg(long, default_value_t = 3599)]
        token_lifetime: i64,
        /// Stop when standard input closes (for harnesses that own the process).
        #[arg(long)]
        stop_on_eof: bool,
        /// Milliseconds added to every ARM answer (a distant region).
        #[arg(long, default_value_t = 0)]
        latency_ms: u64,
        /// ARM's request throttling: azure (token buckets per subscription and principal: reads 250 refilled 25/s, writes and deletes 200 refilled 10/s), off, or READS,WRITES for smaller buckets (see the README).
        #[arg(long, default_value = "azure", value_parser = apim_emulator::limits::ArmLimits::parse)]
        arm_limits: apim_emulator::limits::ArmLimits,
        /// Faults from the start, as POST /_emulator/faults takes them, e.g. "error-rate=0.1&throttle=5" (see the README).
        #[arg(long)]
        faults: Option<String>,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    let Cmd::Serve {
        port,
        time_scale,
        env_file,
        blob_endpoint,
        blob_accounts,
        state,
        ca_cert,
        token_lifetime,
        stop_on_eof,
        latency_ms,
        arm_limits,
        faults,
    } = cli.cmd;
    if !(time_scale >= 0.0 && time_scale.is_finite()) {
        anyhow::bail!("--time-scale must be a number >= 0 (0 = instant, 1 = real time)");
    }
    // NAME:KEY or NAME:KEY1:KEY2 (Azurite's own form: an account has two keys).
    let mut blob_secondary_keys = Vec::new();
    let blob_accounts = blob_accounts
        .iter()
        .map(|a| {
            let mut parts = a.splitn(3, ':');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(n), Some(k1), k2) if !n.is_empty() && !k1.is_empty() => {
                    if let Some(k2) = k2.filter(|k| !k.is_empty()) {
                        blob_secondary_keys.push((n.to_string(), k2.to_string()));
                    }
                    Ok((n.to_string(), k1.to_string()))
                }
                _ => anyhow::bail!("--blob-accounts takes NAME:KEY (or NAME:KEY1:KEY2) separated by commas"),
            }
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    let emu = apim_emulator::Emulator::start(apim_emulator::Config {
        port,
        time_scale,
        blob_endpoint,
        blob_accounts,
        blob_secondary_keys,
        state_file: state,
        ca_cert_path: ca_cert,
        token_lifetime_secs: token_lifetime,
        latency_ms,
        storage_needs_blob_endpoint: true,
        arm_limits,
        ..Default::default()
    })
    .await?;
    if let Some(f) = &faults {
        emu.set_faults(f)?;
    }
    if let Some(p) = env_file {
        // The env file holds the client secret: owner-only, like the state file.
        apim_emulator::write_private(&p, emu.env_file().as_bytes()).with_context(|| format!("writing {}", p.display()))?;
    }
    println!("{}", emu.ready_document());
    eprintln!("apim-emulator: listening on {} (time scale {time_scale})", emu.arm_endpoint());
    let eof = async {
        if stop_on_eof {
            use tokio::io::AsyncReadExt;
            let mut buf = [0u8; 64];
            let mut stdin = tokio::io::stdin();
            while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
        } else {
            std::future::pending::<()>().await;
        }
    };
    let term = async {
        #[cfg(unix)]
        {
            if let Ok(mut s) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                s.recv().await;
                return;
            }
        }
        std::future::pending::<()>().await
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = eof => {}
        _ = term => {}
    }
    emu.shutdown();
    Ok(())
}
