//! `cargo xtask test|demo|bench|azurite`: project automation in Rust, so it
//! runs the same on a laptop and in CI.

use anyhow::{bail, Context};
use apim_toolkit::{bin_path, workspace_root, Azurite, EmulatorProcess};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const USAGE: &str = "usage: cargo xtask <test|demo|bench|azurite>
  test     fmt --check, clippy -D warnings, then every test with Azurite running
  demo     the whole flow on the emulator + Azurite, with the real binaries
  bench    timings of the binaries against the emulator (release build)
  azurite  run Azurite in the foreground (prints its endpoint) until Ctrl-C";

fn main() -> std::process::ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "test" => test(),
        "demo" => demo(),
        "bench" => bench(),
        "azurite" => azurite(),
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

fn cargo(args: &[&str]) -> anyhow::Result<()> {
    cargo_env(args, &[])
}

fn cargo_env(args: &[&str], env: &[(String, String)]) -> anyhow::Result<()> {
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

fn test() -> anyhow::Result<()> {
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

/// Runs a binary with the emulator's environment; returns its stdout.
fn run_bin(bin: &str, args: &[&str], env: &[(String, String)], stdin: Option<&str>) -> anyhow::Result<String> {
    use std::io::Write;
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

fn demo() -> anyhow::Result<()> {
    cargo(&["build", "--workspace", "--bins"])?;
    let azurite = Azurite::start()?;
    // 1/1000 of Azure's real durations: a 40-minute create takes 2.4 s.
    let emu = EmulatorProcess::start(&bin_path("apim-emulator", "debug"), 0.001, Some(&azurite.blob_endpoint), &[])?;
    let env = emu.env();
    eprintln!("demo: emulator at {}, Azurite at {}", emu.arm_endpoint(), azurite.blob_endpoint);

    eprintln!("\ndemo: 1. provision two APIM services (concurrently)");
    let services = run_bin(
        "apim-provision",
        &[
            "service",
            "--resource-group",
            "apim-rg",
            "--create-group",
            "--location",
            "westeurope",
            "--name",
            "apim-src",
            "--name",
            "apim-dest",
            "--publisher-email",
            "ops@example.com",
            "--publisher-name",
            "Example Ops",
        ],
        &env,
        None,
    )?;
    print!("{services}");

    eprintln!("\ndemo: 2. provision backup storage (account + container, in Azurite)");
    let store = run_bin(
        "apim-provision",
        &[
            "storage",
            "--resource-group",
            "apim-rg",
            "--location",
            "westeurope",
            "--account",
            "apimbackups",
            "--container",
            "apim-backups",
        ],
        &env,
        None,
    )?;
    print!("{store}");

    eprintln!("\ndemo: 3. run it again: nothing changes, nothing is written");
    let again = run_bin("apim-provision", &["service"], &env, Some(&services))?;
    if again.lines().count() != 2 {
        bail!("re-provisioning from the documents should return both services");
    }
    eprintln!("demo: done. Next steps (backup, restore, named values) arrive with their issues.");
    Ok(())
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time_runs(n: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed());
    }
    Ok(median(times))
}

fn bench() -> anyhow::Result<()> {
    cargo(&["build", "--release", "--workspace", "--bins"])?;
    let emu = EmulatorProcess::start(&bin_path("apim-emulator", "release"), 0.0, None, &[])?;
    let env = emu.env();
    let provision = bin_path("apim-provision", "release");
    let service_args = [
        "service",
        "-q",
        "--resource-group",
        "bench-rg",
        "--create-group",
        "--location",
        "westeurope",
        "--name",
        "apim-bench",
        "--publisher-email",
        "ops@example.com",
        "--publisher-name",
        "Bench",
    ];
    let run = |args: &[&str]| -> anyhow::Result<()> {
        let out = Command::new(&provision)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        if !out.success() {
            bail!("apim-provision {} failed: {out}", args.join(" "));
        }
        Ok(())
    };
    run(&service_args)?; // create once; what follows is the idempotent path
    let help = time_runs(20, || run(&["--help"]))?;
    let idem = time_runs(20, || run(&service_args))?;
    println!(
        "{}",
        serde_json::json!({"kind": "bench.result", "bench": "apim-provision --help", "runs": 20, "medianMs": help.as_secs_f64() * 1e3, "targetMs": 20})
    );
    println!(
        "{}",
        serde_json::json!({"kind": "bench.result", "bench": "apim-provision service (idempotent, emulator)", "runs": 20, "medianMs": idem.as_secs_f64() * 1e3, "targetMs": 60})
    );
    Ok(())
}

fn azurite() -> anyhow::Result<()> {
    let a = Azurite::start()?;
    println!(
        "{}",
        serde_json::json!({"kind": "azurite.ready", "blobEndpoint": a.blob_endpoint, "accounts": apim_toolkit::blob_accounts_flag()})
    );
    eprintln!("xtask: Azurite running; Ctrl-C to stop");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
