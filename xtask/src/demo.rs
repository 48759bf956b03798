//! `cargo xtask demo`: the whole flow on the emulator and Azurite, with the real binaries.

use crate::seed::{seed, Shape};
use crate::{cargo, path_str, run_bin};
use anyhow::{bail, Context};
use apim_toolkit::{bin_path, Azurite, EmulatorProcess};

pub(crate) fn demo() -> anyhow::Result<()> {
    eprintln!("demo: building the binaries (a few minutes the first time, on 2 cores)");
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

    eprintln!(
        "\ndemo: 4. configure the source (through ARM): named values holding its host, APIs, operations, policies, a product, a backend"
    );
    seed(&emu, "apim-src", "src", Shape::SMALL)?;

    let dir = std::env::temp_dir().join(format!("apim-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store_file = dir.join("store.json");
    std::fs::write(&store_file, &store)?;
    let src_file = dir.join("src.json");
    std::fs::write(&src_file, services.lines().next().unwrap_or_default())?;
    let dest_file = dir.join("dest.json");
    std::fs::write(&dest_file, services.lines().nth(1).unwrap_or_default())?;

    eprintln!("\ndemo: 5. back up BOTH services, concurrently (the target's backup is the way back)");
    let backups = run_bin("apim-backup", &["--storage", path_str(&store_file)?], &env, Some(&services))?;
    print!("{backups}");
    let backups_file = dir.join("backups.ndjson");
    std::fs::write(&backups_file, &backups)?;

    eprintln!("\ndemo: 6. restore the source's backup onto the target, behind the safety rails");
    let src_backup = backups
        .lines()
        .find(|l| l.contains("\"name\":\"apim-src\""))
        .context("no backup of apim-src")?;
    let restore = run_bin(
        "apim-restore",
        &["--target", path_str(&dest_file)?, "--safety-backup", path_str(&backups_file)?],
        &env,
        Some(src_backup),
    )?;
    print!("{restore}");

    let (src_path, dest_path) = (path_str(&src_file)?, path_str(&dest_file)?);
    eprintln!("\ndemo: 7. the target's configuration now equals the source's (exit 0: no difference)");
    run_bin("apim-diff", &[src_path, dest_path], &env, None)?;

    eprintln!("\ndemo: 8. the target's named values still name the source's host: plan a rewrite, apply it");
    let dest_doc = services.lines().nth(1).unwrap_or_default();
    let nvs = run_bin("apim-namedvalues", &["list"], &env, Some(dest_doc))?;
    let rule = ["--host", "api.src.example.com=api.dest.example.com"];
    let plan = run_bin("apim-namedvalues", &["rewrite", rule[0], rule[1]], &env, Some(&nvs))?;
    print!("{plan}");
    let applied = run_bin("apim-namedvalues", &["apply"], &env, Some(&plan))?;
    eprintln!("demo: applied {} change(s)", applied.lines().count());

    eprintln!("\ndemo: 9. verify: the target is the source with its host rewritten, and nothing still uses the old host");
    run_bin(
        "apim-diff",
        &["--expect-host", "api.src.example.com=api.dest.example.com", src_path, dest_path],
        &env,
        None,
    )?;
    run_bin("apim-diff", &["--scan-host", "api.src.example.com", dest_path], &env, None)?;
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("demo: done: provision → backup → restore → rewrite → verify");
    eprintln!("\ndemo: the commands it ran (with the emulator's env file sourced, see the README):");
    for line in crate::RAN.lock().map(|r| r.clone()).unwrap_or_default() {
        eprintln!("  {line}");
    }
    Ok(())
}
