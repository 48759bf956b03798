//! `cargo xtask compat`: the seed's runbook with the az CLI (from PyPI,
//! pinned in tools/azure-cli) against the emulator and Azurite, one line
//! per command: which pass, and the error of any that does not. Not part
//! of `cargo xtask test`: the az CLI is 150 packages and ~730 MB, about two
//! minutes to install on this machine.

use crate::cargo;
use anyhow::Context;
use apim_toolkit::{bin_path, Azurite, EmulatorProcess};
use std::process::Command;

pub(crate) fn compat() -> anyhow::Result<()> {
    cargo(&["build", "--workspace", "--bins"])?;
    let az = apim_toolkit::pypi_tool("azure-cli")?.join("az");
    let azurite = Azurite::start()?;
    let emu = EmulatorProcess::start(&bin_path("apim-emulator", "debug"), 0.001, Some(&azurite.blob_endpoint), &[])?;
    let config = tempfile_dir()?;
    let env: Vec<(String, String)> = emu
        .env()
        .into_iter()
        .chain([("AZURE_CONFIG_DIR".to_string(), config.display().to_string())])
        .collect();
    let get = |k: &str| env.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone()).unwrap_or_default();
    let run = |args: &[&str]| -> (bool, String, String) {
        let out = Command::new(&az)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .output();
        match out {
            Ok(o) => (
                o.status.success(),
                String::from_utf8_lossy(&o.stdout).trim().to_string(),
                String::from_utf8_lossy(&o.stderr)
                    .lines()
                    .find(|l| l.contains("ERROR") || l.contains("Error"))
                    .unwrap_or("")
                    .to_string(),
            ),
            Err(e) => (false, String::new(), e.to_string()),
        }
    };
    let (arm, client, secret, tenant) = (
        get("AZURE_ARM_ENDPOINT"),
        get("AZURE_CLIENT_ID"),
        get("AZURE_CLIENT_SECRET"),
        get("AZURE_TENANT_ID"),
    );
    let mut steps: Vec<Vec<String>> = vec![
        vec!["cloud", "register", "-n", "ApimEmulator", "--endpoint-resource-manager", &arm],
        vec!["cloud", "set", "-n", "ApimEmulator"],
        // MSAL validates unknown authorities at login.microsoftonline.com unless told not to (as for Azure Stack).
        vec!["config", "set", "core.instance_discovery=false", "-o", "none"],
        vec![
            "login",
            "--service-principal",
            "-u",
            &client,
            "-p",
            &secret,
            "--tenant",
            &tenant,
            "-o",
            "none",
        ],
        vec!["group", "create", "-n", "apim-rg", "-l", "westeurope", "-o", "none"],
    ]
    .into_iter()
    .map(|v| v.into_iter().map(String::from).collect())
    .collect();
    for name in ["apim-src", "apim-dest"] {
        steps.push(
            [
                "apim",
                "create",
                "-n",
                name,
                "-g",
                "apim-rg",
                "--publisher-email",
                "ops@example.com",
                "--publisher-name",
                "Ops",
            ]
            .iter()
            .chain(&["--sku-name", "Developer", "--no-wait"])
            .map(|s| s.to_string())
            .collect(),
        );
    }
    for name in ["apim-src", "apim-dest"] {
        steps.push(
            ["apim", "wait", "--created", "-n", name, "-g", "apim-rg"]
                .map(String::from)
                .to_vec(),
        );
    }
    steps.push(
        [
            "storage",
            "account",
            "create",
            "-n",
            "apimbackups",
            "-g",
            "apim-rg",
            "-l",
            "westeurope",
            "--sku",
            "Standard_LRS",
            "-o",
            "none",
        ]
        .map(String::from)
        .to_vec(),
    );
    let mut results = Vec::new();
    let mut record = |args: &[String], (ok, _, err): (bool, String, String)| {
        eprintln!(
            "compat: {} az {}",
            if ok { "pass" } else { "FAIL" },
            args.join(" ").replace(&secret, "***")
        );
        if !ok {
            eprintln!("compat:      {err}");
        }
        results.push(serde_json::json!({"kind": "compat.result", "command": format!("az {}", args[..args.len().min(3)].join(" ")), "passed": ok, "error": err}));
    };
    for s in &steps {
        let args: Vec<&str> = s.iter().map(String::as_str).collect();
        record(s, run(&args));
    }
    let keys = [
        "storage",
        "account",
        "keys",
        "list",
        "-n",
        "apimbackups",
        "-g",
        "apim-rg",
        "--query",
        "[0].value",
        "-o",
        "tsv",
    ];
    let got = run(&keys);
    let key = got.1.clone();
    record(&keys.map(String::from), got);
    let mut later: Vec<Vec<&str>> = vec![vec![
        "storage",
        "container-rm",
        "create",
        "--storage-account",
        "apimbackups",
        "-g",
        "apim-rg",
        "-n",
        "apim-backups",
        "-o",
        "none",
    ]];
    let storage = [
        "--storage-account-name",
        "apimbackups",
        "--storage-account-container",
        "apim-backups",
        "--storage-account-key",
        &key,
        "-o",
        "none",
    ];
    for (name, blob) in [("apim-src", "src.apimbackup"), ("apim-dest", "dest.apimbackup")] {
        later.push(
            [
                &["apim", "backup", "-n", name, "-g", "apim-rg", "--backup-name", blob][..],
                &storage[..],
            ]
            .concat(),
        );
    }
    later.push(
        [
            &[
                "apim",
                "restore",
                "-n",
                "apim-dest",
                "-g",
                "apim-rg",
                "--backup-name",
                "src.apimbackup",
            ][..],
            &storage[..],
        ]
        .concat(),
    );
    let nv = [
        "-g",
        "apim-rg",
        "--service-name",
        "apim-dest",
        "--named-value-id",
        "backend",
        "-o",
        "none",
    ];
    later.push(
        [
            &[
                "apim",
                "nv",
                "create",
                "--display-name",
                "backend",
                "--value",
                "https://api.src.example.com",
            ][..],
            &nv[..],
        ]
        .concat(),
    );
    later.push(vec![
        "apim",
        "nv",
        "list",
        "-g",
        "apim-rg",
        "--service-name",
        "apim-dest",
        "-o",
        "none",
    ]);
    later.push([&["apim", "nv", "show"][..], &nv[..]].concat());
    later.push([&["apim", "nv", "show-secret"][..], &nv[..]].concat());
    later.push([&["apim", "nv", "update", "--value", "https://api.dest.example.com"][..], &nv[..]].concat());
    later.push(vec!["apim", "check-name", "-n", "apim-new", "-o", "none"]);
    later.push(vec!["apim", "delete", "-n", "apim-src", "-g", "apim-rg", "--yes"]);
    later.push(vec!["apim", "deletedservice", "list", "-o", "none"]);
    later.push(vec![
        "apim",
        "deletedservice",
        "purge",
        "--service-name",
        "apim-src",
        "--location",
        "westeurope",
    ]);
    later.push(vec!["group", "delete", "-n", "apim-rg", "--yes"]);
    for args in later {
        let owned: Vec<String> = args.iter().map(|s| s.to_string()).collect();
        record(&owned, run(&args));
    }
    let failed = results.iter().filter(|r| r["passed"] == false).count();
    for r in &results {
        println!("{r}");
    }
    eprintln!("compat: {} of {} az commands passed", results.len() - failed, results.len());
    let _ = std::fs::remove_dir_all(&config);
    anyhow::ensure!(failed == 0, "{failed} az command(s) failed (see above)");
    Ok(())
}

fn tempfile_dir() -> anyhow::Result<std::path::PathBuf> {
    let d = std::env::temp_dir().join(format!("apim-compat-az-{}", std::process::id()));
    std::fs::create_dir_all(&d).context("a configuration folder for the az CLI")?;
    Ok(d)
}
