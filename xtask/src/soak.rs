//! `cargo xtask soak`: the runbook's writes under weather: 200 named value
//! changes and 20 backup/restore cycles while the emulator fails 10% of all
//! ARM requests (half 503, half 429 with Retry-After). A step that exits 1
//! (a failure Azure reported, nothing left half-done) is run again, as an
//! operator would; at the end every change must be in place, written
//! exactly once, and every restored target equal to its source. Bounded:
//! each step is tried at most 6 times, the whole soak at most 15 minutes.
//! Not part of CI (it takes minutes).

use crate::bench::LIMITS_OFF;
use crate::seed::{apim_diff, seed, Shape};
use anyhow::{bail, Context};
use apim_toolkit::{bin_path, Azurite, EmulatorProcess};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const NAMED_VALUES: usize = 200;
const CYCLES: usize = 20;
const ATTEMPTS: usize = 6;
const FAULTS: &str = "error-rate=0.1";

struct Weather {
    runs: usize,
    reruns: usize,
}

/// Runs a binary until it exits 0; exit 1 means Azure said no (here: the
/// injected faults) and is run again. Anything else ends the soak.
fn until_done(w: &mut Weather, env: &[(String, String)], bin: &str, args: &[&str], stdin: &str) -> anyhow::Result<String> {
    use std::io::Write;
    for attempt in 0..ATTEMPTS {
        let mut child = Command::new(bin_path(bin, "release"))
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .with_context(|| format!("starting {bin}"))?;
        if let Some(mut pipe) = child.stdin.take() {
            pipe.write_all(stdin.as_bytes())?;
        }
        let out = child.wait_with_output()?;
        w.runs += 1;
        match out.status.code() {
            Some(0) => return Ok(String::from_utf8_lossy(&out.stdout).into_owned()),
            Some(1) if attempt + 1 < ATTEMPTS => {
                w.reruns += 1;
                eprintln!(
                    "soak: {bin} {} exited 1 ({}); running it again",
                    args.first().unwrap_or(&""),
                    String::from_utf8_lossy(&out.stderr).lines().last().unwrap_or("")
                );
            }
            code => bail!("{bin} {} exited {code:?}: {}", args.join(" "), String::from_utf8_lossy(&out.stderr)),
        }
    }
    bail!("{bin} {} failed {ATTEMPTS} times", args.join(" "))
}

pub(crate) fn soak() -> anyhow::Result<()> {
    crate::cargo(&["build", "--release", "--workspace", "--bins"])?;
    let started = Instant::now();
    let azurite = Azurite::start()?;
    let emu = EmulatorProcess::start(&bin_path("apim-emulator", "release"), 0.0, Some(&azurite.blob_endpoint), LIMITS_OFF)?;
    let env = emu.env();
    let dir = std::env::temp_dir().join(format!("apim-soak-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let file = |name: &str, text: &str| -> anyhow::Result<String> {
        let p = dir.join(name);
        std::fs::write(&p, text)?;
        Ok(p.to_string_lossy().into_owned())
    };
    let mut w = Weather { runs: 0, reruns: 0 };

    // Calm weather for the set-up.
    let services = until_done(
        &mut w,
        &env,
        "apim-provision",
        &[
            "service",
            "-g",
            "apim-rg",
            "--create-group",
            "-l",
            "westeurope",
            "-n",
            "soak-src",
            "-n",
            "soak-dest",
            "--publisher-email",
            "ops@example.com",
            "--publisher-name",
            "Soak",
        ],
        "",
    )?;
    let store = until_done(
        &mut w,
        &env,
        "apim-provision",
        &[
            "storage",
            "-g",
            "apim-rg",
            "-l",
            "westeurope",
            "--account",
            "apimbackups",
            "--container",
            "soak",
        ],
        "",
    )?;
    let store_file = file("store.json", &store)?;
    let src = services
        .lines()
        .find(|l| l.contains("\"name\":\"soak-src\""))
        .context("soak-src")?
        .to_string();
    let dest = services
        .lines()
        .find(|l| l.contains("\"name\":\"soak-dest\""))
        .context("soak-dest")?
        .to_string();
    let dest_file = file("dest.json", &dest)?;
    let src_file = file("src.json", &src)?;
    let shape = Shape {
        named_values: NAMED_VALUES,
        apis: 20,
        operations: 40,
        policies: 30,
        products: 5,
        backends: 2,
        ..Shape::SMALL
    };
    seed(&emu, "soak-src", "src", shape)?;
    seed(&emu, "soak-dest", "dest", Shape::SMALL)?;
    let writes_before = emu.stats()?["writes"].as_u64().unwrap_or(0);

    emu.fault(FAULTS)?;
    // 1. Named values: plan and apply until the plan is empty.
    let mut rounds = 0;
    loop {
        rounds += 1;
        let listed = until_done(&mut w, &env, "apim-namedvalues", &["list"], &src)?;
        let plan = until_done(
            &mut w,
            &env,
            "apim-namedvalues",
            &[
                "rewrite",
                "--allow-unmatched",
                "--regex",
                "\\.src\\.example\\.com=.soak.example.com",
            ],
            &listed,
        )?;
        if plan.trim().is_empty() {
            break;
        }
        if rounds > ATTEMPTS {
            bail!("named values: still changes to make after {ATTEMPTS} rounds");
        }
        // Conflicts (exit 1) are re-planned by the next round.
        let _ = until_done(&mut w, &env, "apim-namedvalues", &["apply"], &plan);
    }
    emu.fault("error-rate=0")?;
    let nv_writes = emu.stats()?["writes"].as_u64().unwrap_or(0) - writes_before;
    let leftovers = !apim_diff("release", &env, &["--scan-host", "api.src.example.com", &src_file])?;
    if leftovers || nv_writes != NAMED_VALUES as u64 {
        bail!("named values: the old host is still used: {leftovers}; {nv_writes} writes for {NAMED_VALUES} changes");
    }
    eprintln!("soak: {NAMED_VALUES} named values rewritten, each written once, in {rounds} round(s)");

    // 2. Backup both, restore the source onto the target, compare.
    for cycle in 1..=CYCLES {
        emu.fault(FAULTS)?;
        // One service per run, so a re-run repeats only the backup that failed.
        let mut backups = String::new();
        for service in [&src, &dest] {
            backups.push_str(&until_done(&mut w, &env, "apim-backup", &["--storage", &store_file], service)?);
        }
        let backups_file = file("backups.ndjson", &backups)?;
        let src_backup = backups
            .lines()
            .find(|l| l.contains("\"name\":\"soak-src\""))
            .context("no backup of soak-src")?
            .to_string();
        until_done(
            &mut w,
            &env,
            "apim-restore",
            &["--target", &dest_file, "--safety-backup", &backups_file],
            &src_backup,
        )?;
        emu.fault("error-rate=0")?;
        if !apim_diff("release", &env, &[&src_file, &dest_file])? {
            bail!("cycle {cycle}: the restored target differs from its source");
        }
        if started.elapsed() > Duration::from_secs(900) {
            bail!("the soak ran past 15 minutes at cycle {cycle}");
        }
        // Backups are named by the second: the next cycle needs a new one.
        std::thread::sleep(Duration::from_millis(1100));
    }
    eprintln!(
        "soak: {CYCLES} backup/restore cycles correct; {} runs, {} of them re-runs after an injected failure, in {:.0} s",
        w.runs,
        w.reruns,
        started.elapsed().as_secs_f64()
    );
    let _ = std::fs::remove_dir_all(&dir);
    drop(emu);
    drop(azurite);
    Ok(())
}
