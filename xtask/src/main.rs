//! `cargo xtask test|demo|bench|azurite`: project automation in Rust, so it
//! runs the same on a laptop and in CI.

mod azurite;
mod bench;
mod bench_sync;
mod compat;
mod demo;
mod dist;
mod fuzz;
mod seed;
mod soak;
mod test;

use anyhow::{bail, Context};
use apim_toolkit::{bin_path, workspace_root};
use std::process::{Command, Stdio};

const USAGE: &str = "usage: cargo xtask <test|demo|bench|fuzz|soak|compat|azurite|dist|install>
  test     fmt --check, clippy -D warnings, then every test with Azurite running
  demo     the whole flow on the emulator + Azurite, with the real binaries
  bench    timings of the binaries against the emulator (release build); `bench diff`, `bench namedvalues` or `bench sync` runs one
  fuzz     the property tests of every parser, many more cases, for SECONDS (default 60)
  soak     named value applies and backup/restore cycles under injected faults (not in CI)
  compat   the seed's runbook with the az CLI (from PyPI) against the emulator; which commands pass (not in CI: ~730 MB)
  dist     release binaries (stripped), man pages and bash/zsh/fish completions into target/dist/
  install  --prefix DIR: dist, then DIR/bin, DIR/share/man/man1 and the completion folders
  azurite  run Azurite in the foreground (prints its endpoint; --env-file FILE writes it for the emulator) until Ctrl-C";

fn main() -> std::process::ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "test" => test::test(),
        "demo" => demo::demo(),
        "bench" => match std::env::args().nth(2).as_deref() {
            Some("diff") => bench::bench_diff_only(),
            Some("namedvalues") => bench::bench_named_values_only(),
            Some("sync") => bench::bench_sync_only(),
            _ => bench::bench(),
        },
        "fuzz" => fuzz::fuzz(std::env::args().nth(2)),
        "soak" => soak::soak(),
        "compat" => compat::compat(),
        "dist" => dist::dist().map(|_| ()),
        "install" => dist::install(&std::env::args().skip(2).collect::<Vec<_>>()),
        "azurite" => azurite::azurite(&std::env::args().skip(2).collect::<Vec<_>>()),
        _ => {
            eprintln!("{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {task}: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

pub(crate) fn cargo(args: &[&str]) -> anyhow::Result<()> {
    cargo_env(args, &[])
}

pub(crate) fn cargo_env(args: &[&str], env: &[(String, String)]) -> anyhow::Result<()> {
    eprintln!("xtask: cargo {}", args.join(" "));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(workspace_root())
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("cargo {} failed", args.join(" "));
    }
    Ok(())
}
/// Runs a binary with the emulator's environment; returns its stdout.
/// Every command `run_bin` ran, as a user would type it: the demo ends by
/// printing them, so a newcomer can repeat them by hand.
pub(crate) static RAN: std::sync::Mutex<Vec<String>> = std::sync::Mutex::new(Vec::new());

pub(crate) fn run_bin(bin: &str, args: &[&str], env: &[(String, String)], stdin: Option<&str>) -> anyhow::Result<String> {
    use std::io::Write;
    let shown: Vec<String> = std::iter::once(bin.to_string())
        .chain(args.iter().map(|a| {
            if a.contains(' ') || a.contains('"') {
                format!("'{a}'")
            } else {
                a.to_string()
            }
        }))
        .collect();
    let line = match stdin {
        Some(_) => format!("{} < (the documents of the step before)", shown.join(" ")),
        None => shown.join(" "),
    };
    if let Ok(mut ran) = RAN.lock() {
        ran.push(line);
    }
    let path = bin_path(bin, "debug");
    let mut child = Command::new(&path)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", path.display()))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("{bin} {} exited with {}", args.join(" "), out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

pub(crate) fn path_str(p: &std::path::Path) -> anyhow::Result<&str> {
    p.to_str().context("temp path is not UTF-8")
}
