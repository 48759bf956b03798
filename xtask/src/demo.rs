//! `cargo xtask demo`: the whole flow on the emulator and Azurite, with the real binaries.

use crate::seed::{configuration, seed};
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

    eprintln!("\ndemo: 4. put named values, APIs and products into the source (through ARM)");
    seed(&emu, "apim-src", "src", (5, 2, 1))?;

    let dir = std::env::temp_dir().join(format!("apim-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store_file = dir.join("store.json");
    std::fs::write(&store_file, &store)?;
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

    eprintln!("\ndemo: 7. the target's configuration now equals the source's");
    let (src, dest) = (configuration(&emu, "apim-src")?, configuration(&emu, "apim-dest")?);
    if src != dest {
        bail!("the target's configuration differs from the source's after the restore");
    }
    let count = |c: &serde_json::Value, k: &str| c[k].as_object().map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "demo: equal: {} named values, {} APIs, {} products",
        count(&src, "namedValues"),
        count(&src, "apis"),
        count(&src, "products")
    );

    eprintln!("\ndemo: 8. the target's named values still name the source's hosts: plan a rewrite, apply it");
    let dest_doc = services.lines().nth(1).unwrap_or_default();
    let nvs = run_bin("apim-namedvalues", &["list"], &env, Some(dest_doc))?;
    let rule = [r"--regex", r"\.src\.example\.com=.dest.example.com"];
    let plan = run_bin("apim-namedvalues", &["rewrite", rule[0], rule[1]], &env, Some(&nvs))?;
    print!("{plan}");
    let applied = run_bin("apim-namedvalues", &["apply"], &env, Some(&plan))?;
    eprintln!("demo: applied {} change(s)", applied.lines().count());

    eprintln!("\ndemo: 9. verify: a second plan is empty, and the target is the source with its hosts rewritten");
    let nvs = run_bin("apim-namedvalues", &["list"], &env, Some(dest_doc))?;
    if !run_bin(
        "apim-namedvalues",
        &["rewrite", rule[0], rule[1], "--allow-unmatched"],
        &env,
        Some(&nvs),
    )?
    .is_empty()
    {
        bail!("a second rewrite should plan nothing");
    }
    // Named values carry the new hosts; APIs and products are as restored.
    let mut expected = configuration(&emu, "apim-src")?;
    expected["namedValues"] = serde_json::from_str(&expected["namedValues"].to_string().replace(".src.example.com", ".dest.example.com"))?;
    if configuration(&emu, "apim-dest")? != expected {
        bail!("the target's configuration is not the source's with its hosts rewritten");
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("demo: done: provision → backup → restore → rewrite → verify");
    eprintln!("\ndemo: the commands it ran (with the emulator's env file sourced, see the README):");
    for line in crate::RAN.lock().map(|r| r.clone()).unwrap_or_default() {
        eprintln!("  {line}");
    }
    Ok(())
}
