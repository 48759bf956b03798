//! apim-backup and apim-restore end to end: the real binaries, the emulator,
//! and the backup blobs really in Azurite.

use crate::common::*;
use apim_toolkit::azurite_blob;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use serde_json::{json, Value};
use std::path::Path;

struct Setup {
    emu: apim_toolkit::EmulatorProcess,
    dir: tempfile::TempDir,
    services: Vec<Value>,
    container: String,
}

impl Setup {
    /// Provisions and seeds at full speed; operations started afterwards
    /// take `time_scale` of Azure's time.
    fn new(time_scale: f64) -> Setup {
        let emu = emulator(0.0);
        let container = unique_container();
        let (services, store) = provision_all(&emu, &container);
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("store.json"), store.to_string()).unwrap();
        std::fs::write(dir.path().join("dest.json"), services[1].to_string()).unwrap();
        std::fs::write(dir.path().join("src.json"), services[0].to_string()).unwrap();
        seed(&emu, "apim-src", "src");
        seed(&emu, "apim-dest", "dest");
        emu.set_time_scale(time_scale).unwrap();
        Setup {
            emu,
            dir,
            services,
            container,
        }
    }

    fn path(&self, f: &str) -> std::path::PathBuf {
        self.dir.path().join(f)
    }

    fn write(&self, f: &str, docs: &[Value]) -> std::path::PathBuf {
        let p = self.path(f);
        std::fs::write(&p, ndjson(docs)).unwrap();
        p
    }

    /// Backs up both services; returns [src, dest] apim.backup documents.
    fn backup_both(&self) -> Vec<Value> {
        let out = bin("apim-backup", &self.emu)
            .arg("--storage")
            .arg(self.path("store.json"))
            .write_stdin(ndjson(&self.services))
            .assert()
            .success();
        docs(&out.get_output().stdout)
    }

    fn restore(&self, backup: &Value) -> assert_cmd::Command {
        let mut c = bin("apim-restore", &self.emu);
        c.arg("--target").arg(self.path("dest.json")).write_stdin(backup.to_string());
        c
    }
}

fn arg(p: &Path) -> &str {
    p.to_str().unwrap()
}

#[test]
fn seed_flow_backup_both_restore_source_onto_target() {
    let s = Setup::new(0.0005);
    let backups = s.backup_both();
    assert_eq!(backups.len(), 2);
    for (b, name) in backups.iter().zip(["apim-src", "apim-dest"]) {
        assert_eq!(b["kind"], "apim.backup");
        assert_eq!(b["status"], "Succeeded");
        assert_eq!(b["service"]["name"], name);
        assert_eq!(b["accessType"], "access-key");
        assert!(b["blob"].as_str().unwrap().starts_with(&format!("{name}-")));
        assert!(b["durationSeconds"].as_f64().unwrap() > 0.0);
        // The blob really is in Azurite, with the size and ETag reported.
        let p = azurite_blob("apimbackups", &s.container, b["blob"].as_str().unwrap())
            .unwrap()
            .expect("blob exists");
        assert_eq!(p.size, b["size"].as_u64().unwrap());
        assert!(p.size > 100);
        assert_eq!(p.etag, b["etag"].as_str().unwrap());
    }
    let backups_file = s.write("backups.ndjson", &backups);
    let src_config = config(&s.emu, "apim-src");
    assert_ne!(src_config, config(&s.emu, "apim-dest"));

    let out = s.restore(&backups[0]).arg("--safety-backup").arg(&backups_file).assert().success();
    let restored = docs(&out.get_output().stdout);
    assert_eq!(restored.len(), 1);
    let r = &restored[0];
    assert_eq!(r["kind"], "apim.restore");
    assert_eq!(r["status"], "Succeeded");
    assert_eq!(r["source"]["name"], "apim-src");
    assert_eq!(r["target"]["name"], "apim-dest");
    assert_eq!(r["safetyBackup"]["blob"], backups[1]["blob"]);
    assert!(r["notRestored"]
        .as_array()
        .unwrap()
        .iter()
        .any(|x| x.as_str().unwrap().contains("custom domain")));

    // The target now holds the source's configuration, and keeps its own name and SKU.
    assert_eq!(config(&s.emu, "apim-dest"), src_config);
    let (_, _, dest) = s.emu.arm("GET", &service_path("apim-dest"), None).unwrap();
    assert_eq!(dest["name"], "apim-dest");
    assert_eq!(dest["properties"]["gatewayUrl"], "https://apim-dest.azure-api.net");
    assert_eq!(dest["properties"]["provisioningState"], "Succeeded");
    // No secret reached any output.
    assert!(!String::from_utf8_lossy(&out.get_output().stdout).contains("s3cr3t"));
    assert!(!String::from_utf8_lossy(&out.get_output().stderr).contains("s3cr3t"));
}

#[test]
fn safety_rails_refuse_and_name_their_override() {
    let s = Setup::new(0.0);
    let backups = s.backup_both();
    let backups_file = s.write("backups.ndjson", &backups);

    // Restoring the source onto itself.
    bin("apim-restore", &s.emu)
        .arg("--target")
        .arg(s.path("src.json"))
        .arg("--no-safety-backup")
        .write_stdin(backups[0].to_string())
        .assert()
        .code(3)
        .stderr(contains("--allow-same-instance"));
    bin("apim-restore", &s.emu)
        .args(["--target", arg(&s.path("src.json")), "--no-safety-backup", "--allow-same-instance"])
        .write_stdin(backups[0].to_string())
        .assert()
        .success();

    // No proof the target is backed up.
    s.restore(&backups[0]).assert().code(3).stderr(
        contains("--safety-backup")
            .and(contains("--take-safety-backup"))
            .and(contains("--no-safety-backup")),
    );
    // A safety file without a backup of the target does not count.
    let only_src = s.write("only-src.ndjson", &backups[..1]);
    s.restore(&backups[0])
        .arg("--safety-backup")
        .arg(&only_src)
        .assert()
        .code(3)
        .stderr(contains("no succeeded backup of apim-dest"));
    // --take-safety-backup backs the target up first and prints that backup.
    let out = s.restore(&backups[0]).arg("--take-safety-backup").assert().success();
    let d = docs(&out.get_output().stdout);
    assert_eq!(
        (d[0]["kind"].as_str(), d[0]["service"]["name"].as_str()),
        (Some("apim.backup"), Some("apim-dest"))
    );
    assert!(azurite_blob("apimbackups", &s.container, d[0]["blob"].as_str().unwrap())
        .unwrap()
        .is_some());
    assert_eq!(d[1]["kind"], "apim.restore");
    assert_eq!(d[1]["safetyBackup"]["blob"], d[0]["blob"]);

    // The backup's blob changed since the backup.
    let blob = backups[0]["blob"].as_str().unwrap().to_string();
    apim_toolkit::with_azurite("apimbackups", async |c| {
        c.set_metadata(&s.container, &blob, &[("touched", "yes")]).await
    })
    .unwrap();
    s.restore(&backups[0])
        .arg("--safety-backup")
        .arg(&backups_file)
        .assert()
        .code(3)
        .stderr(contains("changed since the backup"));
    // ... or is gone.
    apim_toolkit::with_azurite("apimbackups", async |c| c.delete_blob(&s.container, &blob, None).await).unwrap();
    s.restore(&backups[0])
        .arg("--safety-backup")
        .arg(&backups_file)
        .assert()
        .code(3)
        .stderr(contains("no longer exists"));
    // The target's safety blob gone: no proof either.
    let dest_blob = backups[1]["blob"].as_str().unwrap().to_string();
    apim_toolkit::with_azurite("apimbackups", async |c| c.delete_blob(&s.container, &dest_blob, None).await).unwrap();
    s.restore(&backups[0])
        .arg("--safety-backup")
        .arg(&backups_file)
        .assert()
        .code(3)
        .stderr(contains("no longer exists"));
}

#[test]
fn preflight_checks_stop_before_anything_is_frozen() {
    let s = Setup::new(0.0);
    let backups = s.backup_both();
    let backups_file = s.write("backups.ndjson", &backups);
    let writes = s.emu.stats().unwrap()["writes"].clone();

    // Too old, and nearly too old: the age the blob records counts (a
    // document's completedAt is only a claim).
    let mut old = backups[0].clone();
    let mut age_blob = |d: i64| {
        let when = (time::OffsetDateTime::now_utc() - time::Duration::days(d))
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap();
        let blob = old["blob"].as_str().unwrap().to_string();
        let p = apim_toolkit::with_azurite("apimbackups", async |c| {
            let p = c.properties(&s.container, &blob).await?.unwrap();
            let mut meta: Vec<(&str, &str)> = p
                .metadata
                .iter()
                .filter(|(k, _)| *k != "apimtoolkit_completedat")
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            meta.push(("apimtoolkit_completedat", &when));
            c.set_metadata(&s.container, &blob, &meta).await
        })
        .unwrap();
        old["etag"] = json!(p.etag);
        old["completedAt"] = json!(when);
        old.clone()
    };
    let old = age_blob(31);
    s.restore(&old)
        .arg("--safety-backup")
        .arg(&backups_file)
        .assert()
        .code(3)
        .stderr(contains("31 days old"));
    let old = age_blob(26);
    let out = s
        .restore(&old)
        .args(["--dry-run", "--safety-backup", arg(&backups_file)])
        .assert()
        .success()
        .stderr(contains("warning: the backup is 26 days old"));
    let plan = docs(&out.get_output().stdout);
    assert_eq!(plan[0]["status"], "DryRun");
    assert_eq!(s.emu.stats().unwrap()["writes"], writes, "checks and --dry-run write nothing");

    // SKU mismatch.
    let mut premium = backups[0].clone();
    premium["service"]["sku"]["name"] = json!("Premium");
    s.restore(&premium)
        .arg("--safety-backup")
        .arg(&backups_file)
        .assert()
        .code(3)
        .stderr(contains("SKU Developer differs from the backup's source SKU Premium"));
    // Consumption tier.
    let mut consumption = backups[0].clone();
    consumption["service"]["sku"]["name"] = json!("Consumption");
    s.restore(&consumption)
        .arg("--safety-backup")
        .arg(&backups_file)
        .assert()
        .code(3)
        .stderr(contains("Consumption tier"));
    assert_eq!(s.emu.stats().unwrap()["writes"], writes);
}

#[test]
fn target_busy_is_refused_and_management_writes_conflict() {
    let s = Setup::new(0.0);
    let src_backup = {
        let out = bin("apim-backup", &s.emu)
            .args(["--storage", arg(&s.path("store.json")), "--timeout", "30s"])
            .write_stdin(s.services[0].to_string())
            .assert()
            .success();
        docs(&out.get_output().stdout).remove(0)
    };
    // The target's backup runs as long as Azure's (ten minutes) until the
    // test ends it: no race with the checks below.
    s.emu.set_time_scale(1.0).unwrap();
    // Start a backup of the target and do not wait.
    let out = bin("apim-backup", &s.emu)
        .args([
            "--storage",
            arg(&s.path("store.json")),
            "--no-wait",
            "--blob",
            "dest-running.apimbackup",
        ])
        .write_stdin(s.services[1].to_string())
        .assert()
        .success();
    let op = docs(&out.get_output().stdout).remove(0);
    assert_eq!(op["kind"], "apim.operation");
    let (_, _, dest) = s.emu.arm("GET", &service_path("apim-dest"), None).unwrap();
    assert_eq!(
        dest["properties"]["provisioningState"], "Updating",
        "reads still work while it runs"
    );

    // A restore onto it is refused before anything starts.
    s.restore(&src_backup)
        .arg("--no-safety-backup")
        .assert()
        .code(3)
        .stderr(contains("target is Updating"));

    // A management write to the service gets Azure's conflict, reported clearly.
    bin("apim-provision", &s.emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-dest", "--tag", "owner=someone", "--update"])
        .assert()
        .code(1)
        .stderr(contains("Conflict").and(contains("already in progress")));
    bin("apim-backup", &s.emu)
        .args(["--storage", arg(&s.path("store.json")), "--blob", "dest-second.apimbackup"])
        .write_stdin(s.services[1].to_string())
        .assert()
        .code(3)
        .stderr(contains("is Updating").and(contains("apim-backup --resume")));
    assert!(azurite_blob("apimbackups", &s.container, "dest-second.apimbackup")
        .unwrap()
        .is_none());

    // Resume the first backup once it is done: same operation, now recorded.
    s.emu.finish_operations().unwrap();
    let out = bin("apim-backup", &s.emu)
        .arg("--resume")
        .write_stdin(op.to_string())
        .assert()
        .success();
    let b = docs(&out.get_output().stdout).remove(0);
    assert_eq!(b["kind"], "apim.backup");
    assert_eq!(b["blob"], "dest-running.apimbackup");
    assert!(azurite_blob("apimbackups", &s.container, "dest-running.apimbackup")
        .unwrap()
        .is_some());
}

#[test]
fn restore_timeout_then_resume() {
    let s = Setup::new(0.0);
    let backups = s.backup_both();
    let backups_file = s.write("backups.ndjson", &backups);
    s.emu.set_time_scale(1.0).unwrap(); // the restore takes Azure's 45 minutes
    let out = s
        .restore(&backups[0])
        .args(["--safety-backup", arg(&backups_file), "--timeout", "1s"])
        .assert()
        .code(4)
        .stderr(contains("--resume"));
    s.emu.finish_operations().unwrap();
    let op = docs(&out.get_output().stdout).remove(0);
    assert_eq!(
        (op["kind"].as_str(), op["operation"].as_str()),
        (Some("apim.operation"), Some("restore"))
    );
    let out = bin("apim-restore", &s.emu)
        .arg("--resume")
        .write_stdin(op.to_string())
        .assert()
        .success();
    let r = docs(&out.get_output().stdout).remove(0);
    assert_eq!(
        (r["kind"].as_str(), r["status"].as_str()),
        (Some("apim.restore"), Some("Succeeded"))
    );
    assert_eq!(config(&s.emu, "apim-dest"), config(&s.emu, "apim-src"));
}

#[test]
fn existing_blob_needs_overwrite_and_bad_input_is_usage() {
    let s = Setup::new(0.0);
    let store = s.path("store.json");
    let args = ["--storage", arg(&store), "--blob", "fixed.apimbackup"];
    bin("apim-backup", &s.emu)
        .args(args)
        .write_stdin(s.services[0].to_string())
        .assert()
        .success();
    bin("apim-backup", &s.emu)
        .args(args)
        .write_stdin(s.services[0].to_string())
        .assert()
        .code(3)
        .stderr(contains("--overwrite"));
    bin("apim-backup", &s.emu)
        .args(args)
        .arg("--overwrite")
        .write_stdin(s.services[0].to_string())
        .assert()
        .success();
    // --blob with two services, a wrong document, malformed JSON, no storage.
    bin("apim-backup", &s.emu)
        .args(args)
        .write_stdin(ndjson(&s.services))
        .assert()
        .code(2)
        .stderr(contains("--blob names one blob"));
    bin("apim-backup", &s.emu)
        .args(["--storage", arg(&s.path("store.json"))])
        .write_stdin(s.path("store.json").to_str().unwrap().to_string())
        .assert()
        .code(2);
    bin("apim-backup", &s.emu)
        .args(["--storage", arg(&s.path("dest.json"))])
        .write_stdin(s.services[0].to_string())
        .assert()
        .code(2)
        .stderr(contains("expected an 'storage.container'"));
    bin("apim-backup", &s.emu)
        .write_stdin(s.services[0].to_string())
        .assert()
        .code(2)
        .stderr(contains("--storage"));
    bin("apim-restore", &s.emu)
        .args(["--target", arg(&s.path("dest.json"))])
        .write_stdin(s.services[0].to_string())
        .assert()
        .code(2)
        .stderr(contains("expected an 'apim.backup'"));
}

#[test]
fn a_missing_container_is_made_by_the_backup_and_a_wrong_key_fails_clearly() {
    let s = Setup::new(0.0);
    let mut store: Value = serde_json::from_str(&std::fs::read_to_string(s.path("store.json")).unwrap()).unwrap();
    let fresh = format!("{}-new", s.container);
    store["container"] = json!(fresh);
    let missing = s.write("missing.json", &[store]);
    // As Microsoft's backup article says, the backup creates its container.
    let out = bin("apim-backup", &s.emu)
        .arg("--storage")
        .arg(&missing)
        .write_stdin(s.services[0].to_string())
        .assert()
        .success()
        .stderr(contains(format!("container '{fresh}' does not exist")).and(contains("the backup creates it")));
    let b = docs(&out.get_output().stdout).remove(0);
    assert!(azurite_blob("apimbackups", &fresh, b["blob"].as_str().unwrap()).unwrap().is_some());
    let container = format!("/subscriptions/{SUB}/resourceGroups/apim-rg/providers/Microsoft.Storage/storageAccounts/apimbackups/blobServices/default/containers/{fresh}?api-version=2023-05-01");
    assert_eq!(
        s.emu.arm("GET", &container, None).unwrap().0,
        200,
        "ARM shows the container the backup made"
    );

    // An emulator whose key for the account does not match Azurite's: the
    // account exists in ARM, the container exists in Azurite.
    let wrong_key = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ==";
    let emu = apim_toolkit::EmulatorProcess::start(
        &apim_toolkit::bin_path("apim-emulator", "debug"),
        0.0,
        None,
        &[
            "--blob-endpoint",
            &apim_toolkit::azurite_endpoint(),
            "--blob-accounts",
            &format!("apimbackups:{wrong_key}"),
        ],
    )
    .unwrap();
    let out = bin("apim-provision", &emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-k"])
        .assert()
        .success();
    let svc = docs(&out.get_output().stdout).remove(0);
    let account = format!("/subscriptions/{SUB}/resourceGroups/apim-rg/providers/Microsoft.Storage/storageAccounts/apimbackups");
    let (st, _, acc) = emu
        .arm(
            "PUT",
            &format!("{account}?api-version=2023-05-01"),
            Some(&json!({"location": "westeurope", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"})),
        )
        .unwrap();
    assert_eq!(st, 200, "{acc}");
    apim_toolkit::with_azurite("apimbackups", async |c| c.create_container(&s.container).await).unwrap();
    let store = json!({"kind": "storage.container", "schemaVersion": 1, "accountId": account, "account": "apimbackups", "container": s.container,
        "subscriptionId": SUB, "resourceGroup": "apim-rg", "location": "westeurope", "blobEndpoint": acc["properties"]["primaryEndpoints"]["blob"]});
    let store_file = s.write("wrong-key-store.json", &[store]);
    let out = bin("apim-backup", &emu)
        .arg("--storage")
        .arg(&store_file)
        .write_stdin(svc.to_string())
        .assert()
        .code(1);
    let stderr = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(stderr.contains("HTTP 403"), "{stderr}");
    assert!(!stderr.contains(wrong_key), "the key never appears");

    // And the service itself, handed a wrong key, fails the operation as Azure does.
    let (st, h, _) = s
        .emu
        .arm(
            "POST",
            &service_path("apim-src").replace("?api", "/backup?api"),
            Some(&json!({"storageAccount": "apimbackups", "containerName": s.container, "backupName": "x.apimbackup", "accessType": "AccessKey", "accessKey": wrong_key})),
        )
        .unwrap();
    assert_eq!(st, 202);
    let loc = h["location"]
        .to_str()
        .unwrap()
        .trim_start_matches(&s.emu.arm_endpoint())
        .to_string();
    let (st, _, body) = s.emu.arm("GET", &loc, None).unwrap();
    assert_eq!((st, body["error"]["code"].as_str()), (400, Some("InvalidParameters")), "{body}");
    assert!(body["error"]["message"].as_str().unwrap().contains("denied"));
}

#[test]
fn a_lost_answer_to_the_backup_post_is_never_answered_by_a_second_post() {
    let s = Setup::new(0.002);
    s.emu.lose_answer_to("backup").unwrap();
    let writes = s.emu.stats().unwrap()["writes"].as_u64().unwrap();
    let out = bin("apim-backup", &s.emu)
        .args(["--storage", arg(&s.path("store.json"))])
        .write_stdin(s.services[0].to_string())
        .assert()
        .success();
    let b = docs(&out.get_output().stdout).remove(0);
    assert_eq!(b["kind"], "apim.backup");
    assert!(azurite_blob("apimbackups", &s.container, b["blob"].as_str().unwrap())
        .unwrap()
        .is_some());
    // One write: the backup POST whose answer was lost. No second POST.
    assert_eq!(s.emu.stats().unwrap()["writes"].as_u64().unwrap() - writes, 1);
}

#[test]
fn identity_access_types() {
    let s = Setup::new(0.0);
    let store = arg(&s.path("store.json")).to_string();
    let writes = s.emu.stats().unwrap()["writes"].clone();
    bin("apim-backup", &s.emu)
        .args(["--storage", &store, "--access-type", "system-identity"])
        .write_stdin(s.services[0].to_string())
        .assert()
        .code(3)
        .stderr(contains("no such managed identity").and(contains("before it started")));
    assert_eq!(s.emu.stats().unwrap()["writes"], writes, "refused before any POST");
    // Enable both kinds of identity on the source.
    let (_, _, mut body) = s.emu.arm("GET", &service_path("apim-src"), None).unwrap();
    let uami = format!("/subscriptions/{SUB}/resourceGroups/apim-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/backup-id");
    body["identity"] = json!({"type": "SystemAssigned, UserAssigned", "userAssignedIdentities": {uami.clone(): {}}});
    let (st, _, updated) = s.emu.arm("PUT", &service_path("apim-src"), Some(&body)).unwrap();
    assert_eq!(st, 200, "{updated}");
    let client_id = updated["identity"]["userAssignedIdentities"][&uami]["clientId"]
        .as_str()
        .unwrap()
        .to_string();
    // Neither identity holds a blob data role on the account: refused
    // before the freeze, naming the role; skipping the check lets Azure say it.
    bin("apim-backup", &s.emu)
        .args(["--storage", &store, "--access-type", "system-identity"])
        .write_stdin(s.services[0].to_string())
        .assert()
        .code(3)
        .stderr(contains("Storage Blob Data Contributor").and(contains("--skip-role-check")));
    bin("apim-backup", &s.emu)
        .args(["--storage", &store, "--access-type", "system-identity", "--skip-role-check"])
        .write_stdin(s.services[0].to_string())
        .assert()
        .code(1)
        .stderr(contains("AuthorizationPermissionMismatch"));
    let account = format!("/subscriptions/{SUB}/resourceGroups/apim-rg/providers/Microsoft.Storage/storageAccounts/apimbackups");
    for principal in [
        &updated["identity"]["principalId"],
        &updated["identity"]["userAssignedIdentities"][&uami]["principalId"],
    ] {
        grant(
            &s.emu,
            &account,
            "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
            principal.as_str().unwrap(),
        );
    }
    let out = bin("apim-backup", &s.emu)
        .args(["--storage", &store, "--access-type", "system-identity", "--timeout", "60s"])
        .write_stdin(s.services[0].to_string())
        .assert()
        .success();
    assert_eq!(docs(&out.get_output().stdout)[0]["accessType"], "system-identity");
    let out = bin("apim-backup", &s.emu)
        .args([
            "--storage",
            &store,
            "--access-type",
            "user-identity",
            "--identity-client-id",
            &client_id,
            "--blob",
            "uami.apimbackup",
        ])
        .write_stdin(s.services[0].to_string())
        .assert()
        .success();
    assert_eq!(docs(&out.get_output().stdout)[0]["identityClientId"], client_id.as_str());
    bin("apim-backup", &s.emu)
        .args([
            "--storage",
            &store,
            "--access-type",
            "user-identity",
            "--identity-client-id",
            "00000000-0000-0000-0000-000000000bad",
            "--blob",
            "bad.apimbackup",
        ])
        .write_stdin(s.services[0].to_string())
        .assert()
        .code(3)
        .stderr(contains("no such managed identity"));
}

#[test]
fn prune_keeps_the_newest_restorable_backup() {
    let s = Setup::new(0.0);
    let store = arg(&s.path("store.json")).to_string();
    for i in 1..=3 {
        bin("apim-backup", &s.emu)
            .args(["--storage", &store, "--blob", &format!("apim-src-2026112{i}T000000Z.apimbackup")])
            .write_stdin(s.services[0].to_string())
            .assert()
            .success();
    }
    // The newcomer's mistake: 30 meant days. A duration without a unit is
    // refused, and a count to keep is never beaten by an age unasked.
    bin("apim-backup", &s.emu)
        .args(["prune", "--storage", &store, "--name", "apim-src", "--keep", "5", "--max-age", "30"])
        .assert()
        .code(2)
        .stderr(contains("30 what? write 30d"));
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let out = bin("apim-backup", &s.emu)
        .args(["prune", "--storage", &store, "--name", "apim-src"])
        .args(["--keep", "5", "--max-age", "1s"])
        .assert()
        .success();
    assert!(docs(&out.get_output().stdout).is_empty(), "all three are among the five newest");
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("kept 2 older than --max-age as one of the --keep newest"), "{err}");
    assert!(err.contains("prune: apim-src: deleted 0, kept 3"), "{err}");
    let out = bin("apim-backup", &s.emu)
        .args(["prune", "--storage", &store, "--name", "apim-src", "--keep", "5", "--max-age", "1s"])
        .args(["--max-age-overrides-keep", "--dry-run"])
        .assert()
        .success();
    assert_eq!(docs(&out.get_output().stdout).len(), 2, "asked for: age beats the count");
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(
        err.contains("would delete apim-src-20261121T000000Z.apimbackup (older than 1 second, though one of the 5 newest)"),
        "{err}"
    );

    let out = bin("apim-backup", &s.emu)
        .args(["prune", "--storage", &store, "--name", "apim-src", "--keep", "1", "--dry-run"])
        .assert()
        .success();
    assert_eq!(docs(&out.get_output().stdout).len(), 2);
    assert!(
        azurite_blob("apimbackups", &s.container, "apim-src-20261121T000000Z.apimbackup")
            .unwrap()
            .is_some(),
        "--dry-run deletes nothing"
    );

    let out = bin("apim-backup", &s.emu)
        .args(["prune", "--storage", &store, "--name", "apim-src", "--keep", "1"])
        .assert()
        .success();
    let pruned = docs(&out.get_output().stdout);
    assert_eq!(
        pruned.iter().map(|d| d["blob"].as_str().unwrap()).collect::<Vec<_>>(),
        ["apim-src-20261122T000000Z.apimbackup", "apim-src-20261121T000000Z.apimbackup"]
    );
    assert!(pruned.iter().all(|d| d["kind"] == "apim.backup.pruned" && d["dryRun"] == false));
    assert!(azurite_blob("apimbackups", &s.container, "apim-src-20261123T000000Z.apimbackup")
        .unwrap()
        .is_some());
    assert!(azurite_blob("apimbackups", &s.container, "apim-src-20261121T000000Z.apimbackup")
        .unwrap()
        .is_none());

    // A newer blob that no backup marked as succeeded: prune refuses.
    apim_toolkit::with_azurite("apimbackups", async |c| {
        c.put_blob(
            &s.container,
            "apim-src-20261124T000000Z.apimbackup",
            b"partial".to_vec(),
            "application/octet-stream",
            false,
        )
        .await
    })
    .unwrap();
    bin("apim-backup", &s.emu)
        .args(["prune", "--storage", &store, "--name", "apim-src", "--keep", "0"])
        .assert()
        .code(3)
        .stderr(contains("did not succeed"));
    assert!(azurite_blob("apimbackups", &s.container, "apim-src-20261123T000000Z.apimbackup")
        .unwrap()
        .is_some());
}

#[test]
fn ctrl_c_leaves_the_restore_running_and_prints_how_to_resume() {
    let s = Setup::new(0.0);
    let backups = s.backup_both();
    let backups_file = s.write("backups.ndjson", &backups);
    s.emu.set_time_scale(1.0).unwrap(); // the restore takes Azure's 45 minutes
    let child = spawn(
        "apim-restore",
        &s.emu,
        &["--target", arg(&s.path("dest.json")), "--safety-backup", arg(&backups_file)],
        &backups[0].to_string(),
    );
    wait_until("the restore started", || service_state(&s.emu, "apim-dest") == "Updating");
    signal(&child, "INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    let op = docs(&out.stdout).remove(0);
    assert_eq!(
        (
            op["kind"].as_str(),
            op["operation"].as_str(),
            op["context"]["restore"]["status"].as_str()
        ),
        (Some("apim.operation"), Some("restore"), Some("Running"))
    );
    assert_eq!(service_state(&s.emu, "apim-dest"), "Updating", "the restore goes on in Azure");
    s.emu.finish_operations().unwrap();
    let out = bin("apim-restore", &s.emu)
        .arg("--resume")
        .write_stdin(op.to_string())
        .assert()
        .success();
    assert_eq!(docs(&out.get_output().stdout)[0]["status"], "Succeeded");
    assert_eq!(config(&s.emu, "apim-dest"), config(&s.emu, "apim-src"));
}

#[test]
fn a_signal_during_the_backup_post_prints_the_operation_to_resume() {
    // SIGINT is Ctrl-C; SIGTERM is what a cancelled CI job or Kubernetes sends.
    for sig in ["INT", "TERM"] {
        let s = Setup::new(1.0); // the backup takes Azure's ten minutes
                                 // The backup starts at once, but its answer comes 2 s late: the
                                 // signal lands while the POST is in flight.
        s.emu.fault("slow-answer-to=backup&slow-ms=2000").unwrap();
        let writes = s.emu.stats().unwrap()["writes"].as_u64().unwrap();
        let child = spawn(
            "apim-backup",
            &s.emu,
            &["--storage", arg(&s.path("store.json"))],
            &s.services[0].to_string(),
        );
        wait_until("the backup started", || service_state(&s.emu, "apim-src") == "Updating");
        signal(&child, sig);
        let out = child.wait_with_output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(4), "SIG{sig}: {stderr}");
        assert!(stderr.contains("--resume"), "SIG{sig}: {stderr}");
        let op = docs(&out.stdout).remove(0);
        assert_eq!(
            (op["kind"].as_str(), op["operation"].as_str()),
            (Some("apim.operation"), Some("backup")),
            "SIG{sig}"
        );
        s.emu.finish_operations().unwrap();
        let out = bin("apim-backup", &s.emu)
            .arg("--resume")
            .write_stdin(op.to_string())
            .assert()
            .success();
        let b = docs(&out.get_output().stdout).remove(0);
        assert_eq!(b["kind"], "apim.backup");
        let blob = azurite_blob("apimbackups", &s.container, b["blob"].as_str().unwrap())
            .unwrap()
            .expect("the backup's blob is in Azurite");
        assert_eq!(blob.metadata.get("apimtoolkit_status").map(String::as_str), Some("Succeeded"));
        assert_eq!(b["etag"].as_str(), Some(blob.etag.as_str()));
        // One backup POST in all: the resume only waited for it.
        assert_eq!(s.emu.stats().unwrap()["writes"].as_u64().unwrap() - writes, 1, "SIG{sig}");
    }
}

/// A storage account has two keys, and a backup works with either.
#[test]
fn both_storage_keys_differ_and_either_backs_up() {
    let emu = emulator(0.0);
    let container = unique_container();
    storage(&emu, &container);
    bin("apim-provision", &emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-keys"])
        .assert()
        .success();
    let account = format!("/subscriptions/{SUB}/resourceGroups/apim-rg/providers/Microsoft.Storage/storageAccounts/apimbackups");
    let (_, _, keys) = emu
        .arm("POST", &format!("{account}/listKeys?api-version=2025-08-01"), None)
        .unwrap();
    let (k1, k2) = (
        keys["keys"][0]["value"].as_str().unwrap(),
        keys["keys"][1]["value"].as_str().unwrap(),
    );
    assert_ne!(k1, k2, "key1 and key2 are two keys");
    let body = serde_json::json!({"storageAccount": "apimbackups", "containerName": container, "backupName": "by-key2.apimbackup",
        "accessType": "AccessKey", "accessKey": k2});
    let (s, h, b) = emu.arm("POST", &entity_path("apim-keys", "backup"), Some(&body)).unwrap();
    assert_eq!(s, 202, "{b}");
    let loc = h["location"].to_str().unwrap().trim_start_matches(&emu.arm_endpoint()).to_string();
    emu.finish_operations().unwrap();
    let (s, _, _) = emu.arm("GET", &loc, None).unwrap();
    assert_eq!(s, 200, "the backup with the second key succeeded");
    assert!(azurite_blob("apimbackups", &container, "by-key2.apimbackup").unwrap().is_some());
    // A container name Azure refuses gets Azure's 400, not Azurite's trouble.
    let (s, _, b) = emu
        .arm(
            "PUT",
            &format!("{account}/blobServices/default/containers/Bad_Name?api-version=2025-08-01"),
            Some(&serde_json::json!({})),
        )
        .unwrap();
    assert_eq!(s, 400, "{b}");
}

#[test]
fn the_storage_is_judged_before_the_freeze_as_azure_would_refuse_it() {
    let s = Setup::new(0.0);
    let store = arg(&s.path("store.json")).to_string();
    let account = format!("/subscriptions/{SUB}/resourceGroups/apim-rg/providers/Microsoft.Storage/storageAccounts/apimbackups");
    let patch = |body: Value| {
        let (st, _, b) = s
            .emu
            .arm("PATCH", &format!("{account}?api-version=2023-05-01"), Some(&body))
            .unwrap();
        assert_eq!(st, 200, "{b}");
    };
    let backup = || {
        bin("apim-backup", &s.emu)
            .args(["--storage", &store])
            .write_stdin(s.services[0].to_string())
            .output()
            .unwrap()
    };
    let writes = || s.emu.stats().unwrap()["writes"].as_u64().unwrap();

    // A CORS rule on the blob service: Azure answers the POST with an
    // opaque 400; the pre-flight names it and its fix.
    let blob_service = format!("{account}/blobServices/default?api-version=2023-05-01");
    let cors = json!({"properties": {"cors": {"corsRules": [{"allowedOrigins": ["https://portal.example.com"], "allowedMethods": ["GET"], "allowedHeaders": ["*"], "exposedHeaders": ["*"], "maxAgeInSeconds": 60}]}}});
    assert_eq!(s.emu.arm("PUT", &blob_service, Some(&cors)).unwrap().0, 200);
    let before = writes();
    let out = backup();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("1 CORS rule(s)") && err.contains("enable-cors false"), "{err}");
    assert_eq!(writes(), before, "no backup was started");
    // What the pre-flight spares the operator: Azure's own answer.
    let post = format!("{}/backup?api-version=2024-05-01", s.services[0]["id"].as_str().unwrap());
    let params = json!({"storageAccount": "apimbackups", "containerName": s.container, "backupName": "x", "accessType": "AccessKey", "accessKey": "k"});
    let (st, _, b) = s.emu.arm("POST", &post, Some(&params)).unwrap();
    assert_eq!((st, b["error"]["code"].as_str()), (400, Some("InvalidParameters")), "{b}");
    // A restore is judged the same way, in a dry run too.
    let taken = {
        assert_eq!(
            s.emu
                .arm("PUT", &blob_service, Some(&json!({"properties": {"cors": {"corsRules": []}}})))
                .unwrap()
                .0,
            200
        );
        let out = backup();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(s.emu.arm("PUT", &blob_service, Some(&cors)).unwrap().0, 200);
        docs(&out.stdout).remove(0)
    };
    bin("apim-restore", &s.emu)
        .args(["--target", arg(&s.path("dest.json")), "--no-safety-backup", "--dry-run"])
        .write_stdin(taken.to_string())
        .assert()
        .code(3)
        .stderr(contains("CORS"));
    assert_eq!(
        s.emu
            .arm("PUT", &blob_service, Some(&json!({"properties": {"cors": {"corsRules": []}}})))
            .unwrap()
            .0,
        200
    );

    // A firewall: an access key never passes it; a managed identity needs
    // the trusted-services exception.
    patch(json!({"properties": {"networkAcls": {"defaultAction": "Deny", "bypass": "None"}}}));
    let before = writes();
    let out = backup();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(
        err.contains("selected networks") && err.contains("--access-type system-identity"),
        "{err}"
    );
    assert_eq!(writes(), before);
    patch(json!({"properties": {"networkAcls": {"defaultAction": "Allow", "bypass": "AzureServices"}, "allowSharedKeyAccess": false}}));
    // Shared keys off: an access-key backup cannot work.
    let before = writes();
    let out = backup();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("refuses shared keys"), "{err}");
    assert_eq!(writes(), before, "nothing was started by any refused run");
}
