//! Fleets: `apim-provision list` finds the services, and a backup of all of
//! them is started by one process and finished by another.

use crate::common::*;
use apim_toolkit::azurite_blob;
use serde_json::Value;

fn provision(emu: &apim_toolkit::EmulatorProcess, group: &str, name: &str, env: &str) {
    bin("apim-provision", emu)
        .args([
            "service",
            "--resource-group",
            group,
            "--create-group",
            "--location",
            "westeurope",
            "--name",
            name,
            "--publisher-email",
            "ops@example.com",
            "--publisher-name",
            "Ops",
            "--tag",
            &format!("env={env}"),
        ])
        .assert()
        .success();
}

fn names(stdout: &[u8]) -> Vec<String> {
    let mut n: Vec<String> = docs(stdout)
        .iter()
        .map(|d| {
            assert_eq!(d["kind"], "apim.service");
            d["name"].as_str().unwrap().to_string()
        })
        .collect();
    n.sort();
    n
}

fn list(emu: &apim_toolkit::EmulatorProcess, args: &[&str]) -> Vec<String> {
    let out = bin("apim-provision", emu).arg("list").args(args).assert().success();
    names(&out.get_output().stdout)
}

#[test]
fn list_reads_every_page_and_filters_by_group_and_tag() {
    let emu = emulator(0.0);
    provision(&emu, "apim-rg", "fleet-a", "prod");
    provision(&emu, "apim-rg", "fleet-b", "prod");
    provision(&emu, "other-rg", "fleet-c", "test");
    emu.fault("service-page-size=2").unwrap();
    let before = emu.stats().unwrap()["writes"].as_u64().unwrap();
    assert_eq!(list(&emu, &[]), ["fleet-a", "fleet-b", "fleet-c"], "both pages");
    assert_eq!(list(&emu, &["--resource-group", "apim-rg"]), ["fleet-a", "fleet-b"]);
    assert_eq!(list(&emu, &["-g", "other-rg"]), ["fleet-c"]);
    assert_eq!(list(&emu, &["--tag", "env=prod"]), ["fleet-a", "fleet-b"]);
    assert_eq!(list(&emu, &["--tag", "ENV=test", "-g", "other-rg"]), ["fleet-c"]);
    assert!(list(&emu, &["--tag", "env=staging"]).is_empty(), "none match: no output, exit 0");
    assert_eq!(emu.stats().unwrap()["writes"].as_u64().unwrap(), before, "list only reads");
    bin("apim-provision", &emu)
        .args(["list", "--tag", "no-equals-sign"])
        .assert()
        .code(2);
}

#[test]
fn a_fleet_backup_is_started_by_one_process_and_finished_by_another() {
    let emu = emulator(0.0);
    provision(&emu, "apim-rg", "fleet-a", "prod");
    provision(&emu, "apim-rg", "fleet-b", "prod");
    provision(&emu, "other-rg", "fleet-c", "prod");
    let container = unique_container();
    let store = storage(&emu, &container);
    let dir = tempfile::tempdir().unwrap();
    let store_file = dir.path().join("store.json");
    std::fs::write(&store_file, store.to_string()).unwrap();
    emu.fault("service-page-size=2").unwrap();

    // Backups that take a while: nobody waits for them in the first job.
    emu.set_time_scale(1.0).unwrap();
    let listed = bin("apim-provision", &emu).args(["list", "--tag", "env=prod"]).assert().success();
    let started = bin("apim-backup", &emu)
        .args(["--storage", store_file.to_str().unwrap(), "--no-wait"])
        .write_stdin(listed.get_output().stdout.clone())
        .assert()
        .success();
    let ops = docs(&started.get_output().stdout);
    assert_eq!(ops.len(), 3);
    assert!(ops.iter().all(|o| o["kind"] == "apim.operation" && o["operation"] == "backup"));
    for s in ["fleet-a", "fleet-b", "fleet-c"] {
        let group = if s == "fleet-c" { "other-rg" } else { "apim-rg" };
        let path =
            format!("/subscriptions/{SUB}/resourceGroups/{group}/providers/Microsoft.ApiManagement/service/{s}?api-version=2024-05-01");
        let (_, _, body) = emu.arm("GET", &path, None).unwrap();
        assert_eq!(body["properties"]["provisioningState"], "Updating", "{s}: its backup runs");
    }

    // Later, another job on another machine: resume from the documents alone.
    emu.finish_operations().unwrap();
    let finished = bin("apim-backup", &emu)
        .arg("--resume")
        .write_stdin(ndjson(&ops))
        .assert()
        .success();
    let backups: Vec<Value> = docs(&finished.get_output().stdout);
    assert_eq!(backups.len(), 3);
    let mut backed_up: Vec<&str> = backups.iter().map(|b| b["service"]["name"].as_str().unwrap()).collect();
    backed_up.sort();
    assert_eq!(backed_up, ["fleet-a", "fleet-b", "fleet-c"]);
    for b in &backups {
        assert_eq!(b["kind"], "apim.backup");
        let blob = azurite_blob("apimbackups", &container, b["blob"].as_str().unwrap()).unwrap();
        assert!(blob.is_some_and(|p| p.size > 0), "the blob of {b} is in Azurite");
    }
}

#[test]
fn a_fleet_backs_up_what_it_can_and_says_what_it_could_not() {
    let emu = emulator(0.0);
    for s in ["fleet-a", "fleet-b", "fleet-busy"] {
        provision(&emu, "apim-rg", s, "prod");
    }
    bin("apim-provision", &emu)
        .args([
            "service",
            "-g",
            "apim-rg",
            "-l",
            "westeurope",
            "--name",
            "fleet-cons",
            "--sku",
            "Consumption",
        ])
        .args([
            "--publisher-email",
            "ops@example.com",
            "--publisher-name",
            "Ops",
            "--tag",
            "env=prod",
        ])
        .assert()
        .success();
    let container = unique_container();
    let dir = tempfile::tempdir().unwrap();
    let store_file = dir.path().join("store.json");
    std::fs::write(&store_file, storage(&emu, &container).to_string()).unwrap();
    let store_file = store_file.to_str().unwrap();
    let listed = bin("apim-provision", &emu).args(["list", "--tag", "env=prod"]).assert().success();
    let fleet = docs(&listed.get_output().stdout);
    let one = |name: &str| fleet.iter().find(|d| d["name"] == name).unwrap().to_string();
    // fleet-busy is in the middle of a (slow) backup of its own.
    emu.set_time_scale(1.0).unwrap();
    bin("apim-backup", &emu)
        .args(["--storage", store_file, "--no-wait"])
        .write_stdin(one("fleet-busy"))
        .assert()
        .success();
    emu.set_time_scale(0.0).unwrap();
    // And one of the backups that start will fail in Azure.
    emu.fault("fail-next-operation=backup").unwrap();

    let out = bin("apim-backup", &emu)
        .args(["--storage", store_file])
        .write_stdin(listed.get_output().stdout.clone())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0), "some failed: {err}");
    let done = docs(&out.stdout);
    let backed_up: Vec<&str> = done.iter().map(|d| d["service"]["name"].as_str().unwrap()).collect();
    assert_eq!(backed_up.len(), 1, "one of fleet-a and fleet-b, the other failed: {err}");
    assert!(["fleet-a", "fleet-b"].contains(&backed_up[0]));
    let blob = azurite_blob("apimbackups", &container, done[0]["blob"].as_str().unwrap()).unwrap();
    assert!(blob.is_some_and(|p| p.size > 0));
    assert!(err.contains("fleet-cons: skipped: the Consumption tier has no backup"), "{err}");
    assert!(err.contains("fleet-busy is Updating"), "{err}");
    assert!(err.contains("2 of 3 failed"), "the summary counts what was tried: {err}");

    // Prune over the fleet: a service whose newest backup did not succeed
    // is refused, and the others' retention still runs.
    let ok = backed_up[0].to_string();
    let failed = if ok == "fleet-a" { "fleet-b" } else { "fleet-a" };
    for i in 1..=2 {
        let blob = format!("{ok}-2026010{i}T000000Z.apimbackup");
        let c = container.clone();
        apim_toolkit::with_azurite("apimbackups", async |b| {
            b.put_blob(&c, &blob, b"old".to_vec(), "application/octet-stream", false).await?;
            b.set_metadata(&c, &blob, &[("apimtoolkit_status", "Succeeded")]).await
        })
        .unwrap();
    }
    let c = container.clone();
    let newest_failed = format!("{failed}-20991231T000000Z.apimbackup");
    apim_toolkit::with_azurite("apimbackups", async |b| {
        b.put_blob(&c, &newest_failed, b"partial".to_vec(), "application/octet-stream", false)
            .await
    })
    .unwrap();
    let out = bin("apim-backup", &emu)
        .args(["prune", "--storage", store_file, "--keep", "1"])
        .write_stdin(listed.get_output().stdout.clone())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{failed} refused: {err}");
    assert!(err.contains("did not succeed"), "{err}");
    let pruned = docs(&out.stdout);
    assert_eq!(pruned.len(), 2, "{ok}'s two old backups go all the same: {pruned:?}");
    assert!(pruned.iter().all(|p| p["service"] == ok.as_str()));

    // An empty fleet (none match) is a fleet of none, for backup and prune.
    for args in [vec!["--storage", store_file], vec!["prune", "--storage", store_file, "--keep", "1"]] {
        let out = bin("apim-backup", &emu).args(&args).write_stdin("").output().unwrap();
        assert_eq!(out.status.code(), Some(0), "{args:?}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(String::from_utf8_lossy(&out.stderr).contains("nothing to"));
    }
}

#[test]
fn a_started_backup_outlives_an_emptied_resume_file_and_a_kill_9() {
    let r = Rig::new();
    let state = std::path::PathBuf::from(r.emu.state_dir());
    let recorded = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&state)
            .map(|d| d.flatten().map(|e| e.path()).collect())
            .unwrap_or_default()
    };
    r.emu.set_time_scale(1.0).unwrap();
    // `apim-backup --resume < ops.ndjson > ops.ndjson`: the shell empties the file first.
    let out = r.backup_cmd(&r.services[0]).arg("--no-wait").assert().success();
    assert_eq!(docs(&out.get_output().stdout)[0]["kind"], "apim.operation");
    let files = recorded();
    assert_eq!(files.len(), 1, "recorded the moment Azure accepted it");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(
        std::fs::metadata(&files[0]).unwrap().permissions().mode() & 0o777,
        0o600,
        "owner-only"
    );
    assert_eq!(std::fs::metadata(&state).unwrap().permissions().mode() & 0o777, 0o700);
    r.emu.finish_operations().unwrap();
    let out = bin("apim-backup", &r.emu).arg("--resume").write_stdin("").assert().success();
    let done = docs(&out.get_output().stdout);
    assert_eq!(
        (done[0]["kind"].as_str(), done[0]["service"]["name"].as_str()),
        (Some("apim.backup"), Some("apim-src"))
    );
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("resuming the 1 operation(s) recorded"));
    assert!(recorded().is_empty(), "a finished operation is cleared");

    // kill -9 right after Azure accepted the backup: no document printed, the record is there.
    let mut child = spawn(
        "apim-backup",
        &r.emu,
        &["--storage", &r.path("store.json")],
        &r.services[1].to_string(),
    );
    wait_until("the backup started", || {
        service_state(&r.emu, "apim-dest") == "Updating" && !recorded().is_empty()
    });
    child.kill().unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.stdout.is_empty());
    r.emu.finish_operations().unwrap();
    let out = bin("apim-backup", &r.emu).arg("--resume").write_stdin("").assert().success();
    assert_eq!(docs(&out.get_output().stdout)[0]["service"]["name"], "apim-dest");
    assert!(recorded().is_empty());
    // Nothing recorded, nothing piped: say so.
    bin("apim-backup", &r.emu)
        .arg("--resume")
        .write_stdin("")
        .assert()
        .code(2)
        .stderr(predicates::str::contains("none recorded"));
}

#[test]
fn any_valid_storage_account_name_works_on_the_emulator_and_names_are_global() {
    let r = Rig::new();
    let create = |group: &str, account: &str| {
        bin("apim-provision", &r.emu)
            .args([
                "storage",
                "-g",
                group,
                "--create-group",
                "-l",
                "westeurope",
                "--account",
                account,
                "--container",
                "nightly",
            ])
            .output()
            .unwrap()
    };
    let out = create("apim-rg", "contosobackups1");
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let store = docs(&out.stdout).remove(0);
    assert_eq!(store["account"], "contosobackups1");
    let file = r.write("contoso.json", &[store]);
    let backup = bin("apim-backup", &r.emu)
        .args(["--storage", &file])
        .write_stdin(r.services[0].to_string())
        .assert()
        .success();
    let backup = docs(&backup.get_output().stdout).remove(0);
    assert_eq!(backup["storage"]["account"], "contosobackups1");
    // Names are global, as on Azure: another group cannot take it.
    let out = create("other-rg", "contosobackups1");
    assert_ne!(out.status.code(), Some(0));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("already taken"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Azurite's accounts are fixed when it starts: once each holds an account, say so.
    let out = create("apim-rg", "fabrikambackups");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(0));
    assert!(err.contains("every account of the emulator's Azurite"), "{err}");
}
