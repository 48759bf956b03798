//! The attack review's findings, each replayed against the real binaries,
//! the emulator and Azurite: data that must not be lost, tokens and keys
//! that must not go where a document points, documents that must not be
//! trusted over what Azure and the blobs themselves say.

use crate::common::*;
use apim_toolkit::{azurite_blob, with_azurite, FaultProxy};
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use serde_json::{json, Value};

#[test]
fn prune_of_one_service_never_touches_a_service_whose_name_it_prefixes() {
    let r = Rig::new();
    let out = bin("apim-provision", &r.emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-src-eu"])
        .assert()
        .success();
    let eu = docs(&out.get_output().stdout).remove(0);
    let eu_backup = r.backup(&eu, &["--blob", "apim-src-eu-20261101T000000Z.apimbackup"]);
    for i in 1..=2 {
        r.backup(&r.services[0], &["--blob", &format!("apim-src-2026112{i}T000000Z.apimbackup")]);
    }
    let out = bin("apim-backup", &r.emu)
        .args(["prune", "--storage", &r.path("store.json"), "--name", "apim-src", "--keep", "1"])
        .assert()
        .success();
    let pruned: Vec<String> = docs(&out.get_output().stdout)
        .iter()
        .map(|d| d["blob"].as_str().unwrap().to_string())
        .collect();
    assert_eq!(pruned, ["apim-src-20261121T000000Z.apimbackup"]);
    assert!(
        azurite_blob("apimbackups", &r.container, eu_backup["blob"].as_str().unwrap())
            .unwrap()
            .is_some(),
        "apim-src-eu's only backup survives"
    );
    bin("apim-backup", &r.emu)
        .args(["prune", "--storage", &r.path("store.json"), "--name", "apim-src/..", "--keep", "0"])
        .assert()
        .code(2);
}

#[test]
fn keys_and_tokens_go_only_where_arm_says_the_account_is() {
    let r = Rig::new();
    // A listener standing in for someone else's host: nothing may reach it.
    let trap = FaultProxy::start("http://127.0.0.1:9").unwrap();
    let store: Value = serde_json::from_str(&std::fs::read_to_string(r.path("store.json")).unwrap()).unwrap();

    // An account that does not exist, with a blob endpoint of the document's choosing.
    let mut forged = store.clone();
    forged["accountId"] = json!(store["accountId"].as_str().unwrap().replace("apimbackups", "nosuchaccount"));
    forged["account"] = json!("nosuchaccount");
    forged["blobEndpoint"] = json!(format!("{}/nosuchaccount/", trap.endpoint));
    let forged_file = r.write("forged.json", &[forged]);
    bin("apim-backup", &r.emu)
        .args(["--storage", &forged_file])
        .write_stdin(r.services[0].to_string())
        .assert()
        .code(1)
        .stderr(contains("does not exist"));
    bin("apim-backup", &r.emu)
        .args(["prune", "--storage", &forged_file, "--name", "apim-src", "--keep", "1"])
        .assert()
        .code(1);

    // An existing account, with the document pointing its endpoint elsewhere:
    // the endpoint ARM reports is used, the document's is ignored.
    let mut redirected = store.clone();
    redirected["blobEndpoint"] = json!(format!("{}/apimbackups/", trap.endpoint));
    let redirected_file = r.write("redirected.json", &[redirected]);
    let out = bin("apim-backup", &r.emu)
        .args(["--storage", &redirected_file])
        .write_stdin(r.services[0].to_string())
        .assert()
        .success();
    let b = docs(&out.get_output().stdout).remove(0);
    assert_eq!(b["storage"]["blobEndpoint"], store["blobEndpoint"]);
    assert_eq!(trap.requests(), 0, "no request went to the document's endpoint");

    // Names that would address something else are bad input: exit 2, nothing sent.
    let before = r.stat("requests");
    let mut hostile = store.clone();
    hostile["container"] = json!("//evil.example.com");
    let hostile_file = r.write("hostile.json", &[hostile]);
    bin("apim-backup", &r.emu)
        .args(["--storage", &hostile_file])
        .write_stdin(r.services[0].to_string())
        .assert()
        .code(2)
        .stderr(contains("not a container name"));
    let mut other_blob = b.clone();
    other_blob["blob"] = json!("apim-src-x.apimbackup#../other");
    bin("apim-restore", &r.emu)
        .args(["--target", &r.path("dest.json"), "--no-safety-backup", "--dry-run"])
        .write_stdin(other_blob.to_string())
        .assert()
        .code(2)
        .stderr(contains("not a blob name"));
    assert_eq!(r.stat("requests"), before, "bad input sends nothing");
}

#[test]
fn restore_trusts_the_blob_not_the_document() {
    let r = Rig::new();
    let src = r.backup(&r.services[0], &[]);
    let dest = r.backup(&r.services[1], &[]);
    let safety = r.write("safety.ndjson", std::slice::from_ref(&dest));
    let restore = |backup: &Value, extra: &[&str]| {
        let mut c = bin("apim-restore", &r.emu);
        c.args(["--target", &r.path("dest.json"), "--dry-run"])
            .args(extra)
            .write_stdin(backup.to_string());
        c
    };
    restore(&src, &["--safety-backup", &safety]).assert().success();

    // A document edited to claim the backup is of another service, so that the
    // "restore onto its own source" rail would not see it: the blob says otherwise.
    let mut edited = dest.clone();
    edited["service"] = src["service"].clone();
    restore(&edited, &["--no-safety-backup"])
        .assert()
        .code(3)
        .stderr(contains("is a backup of").and(contains("apim-dest")));
    // A non-canonical source id is bad input.
    let mut climbing = src.clone();
    climbing["service"]["id"] = json!(format!("{}/x/..", src["service"]["id"].as_str().unwrap()));
    restore(&climbing, &["--no-safety-backup"]).assert().code(2);

    // The safety "backup" is the very blob being restored.
    let mut itself = src.clone();
    itself["service"] = dest["service"].clone();
    let itself_file = r.write("itself.ndjson", &[itself]);
    restore(&src, &["--safety-backup", &itself_file])
        .assert()
        .code(3)
        .stderr(contains("the backup being restored"));
    // A safety backup older than allowed.
    restore(&src, &["--safety-backup", &safety, "--max-backup-age", "0s"])
        .assert()
        .code(3)
        .stderr(contains("--max-backup-age"));
    // The flag's old spelling still works, and says it was renamed.
    restore(&src, &["--safety-backup", &safety, "--safety-max-age", "0s"])
        .assert()
        .code(3)
        .stderr(contains("warning: --safety-max-age is now --max-backup-age").and(contains("more than --max-backup-age")));

    // A completion time in the future, written into the blob itself.
    let blob = src["blob"].as_str().unwrap().to_string();
    let props = with_azurite("apimbackups", async |c| {
        let p = c.properties(&r.container, &blob).await?.unwrap();
        let meta: Vec<(&str, &str)> = p
            .metadata
            .iter()
            .map(|(k, v)| {
                if k == "apimtoolkit_completedat" {
                    (k.as_str(), "2099-01-01T00:00:00Z")
                } else {
                    (k.as_str(), v.as_str())
                }
            })
            .collect();
        c.set_metadata(&r.container, &blob, &meta).await
    })
    .unwrap();
    let mut future = src.clone();
    future["etag"] = json!(props.etag);
    restore(&future, &["--safety-backup", &safety])
        .assert()
        .code(3)
        .stderr(contains("in the future"));
}

#[test]
fn a_second_resume_of_a_finished_backup_leaves_the_blob_alone() {
    let r = Rig::new();
    let out = bin("apim-backup", &r.emu)
        .args(["--storage", &r.path("store.json"), "--no-wait"])
        .write_stdin(r.services[0].to_string())
        .assert()
        .success();
    let op = docs(&out.get_output().stdout).remove(0);
    let resume = || {
        let out = bin("apim-backup", &r.emu)
            .arg("--resume")
            .write_stdin(op.to_string())
            .assert()
            .success();
        docs(&out.get_output().stdout).remove(0)
    };
    let first = resume();
    let second = resume();
    assert_eq!(first["etag"], second["etag"]);
    assert_eq!(first["completedAt"], second["completedAt"]);
    let blob = azurite_blob("apimbackups", &r.container, first["blob"].as_str().unwrap())
        .unwrap()
        .unwrap();
    assert_eq!(
        Some(blob.etag.as_str()),
        first["etag"].as_str(),
        "the first document still proves the blob"
    );
    assert_eq!(
        blob.metadata.get("apimtoolkit_serviceid").map(String::as_str),
        r.services[0]["id"].as_str(),
        "the blob records whose backup it is"
    );
}

#[test]
fn a_gateway_error_after_the_backup_started_is_followed_not_reported() {
    let r = Rig::new();
    r.emu.set_time_scale(0.002).unwrap(); // the backup runs a little while
    r.emu.fault("gateway-error-to=backup").unwrap();
    let writes = r.stat("writes");
    let b = r.backup(&r.services[0], &[]);
    assert_eq!(b["kind"], "apim.backup");
    assert!(azurite_blob("apimbackups", &r.container, b["blob"].as_str().unwrap())
        .unwrap()
        .is_some());
    assert_eq!(
        r.stat("writes") - writes,
        1,
        "one backup POST in all: the 502 was followed, not answered by a second POST"
    );
}

#[test]
fn overflowing_durations_and_climbing_names_are_bad_input() {
    let r = Rig::new();
    let before = r.stat("requests");
    bin("apim-backup", &r.emu)
        .args(["--storage", &r.path("store.json"), "--timeout", "18446744073709551615s"])
        .write_stdin(r.services[0].to_string())
        .assert()
        .code(2)
        .stderr(contains("10 years"));
    bin("apim-backup", &r.emu)
        .args(["prune", "--storage", &r.path("store.json"), "--name", "apim-src", "--keep", "1"])
        .args(["--max-age", "99999999999999d"])
        .assert()
        .code(2);
    // A change aimed at another service through its name.
    let change = json!({"kind": "apim.namedvalue.change", "schemaVersion": 1,
        "serviceId": r.services[1]["id"], "name": "../../apim-src/namedValues/x", "secret": false, "etag": "*",
        "before": {"value": "a"}, "after": {"value": "b"}, "rulesFired": [], "rules": []});
    bin("apim-namedvalues", &r.emu)
        .arg("apply")
        .write_stdin(change.to_string())
        .assert()
        .code(2)
        .stderr(contains("not a named value name"));
    bin("apim-namedvalues", &r.emu)
        .args(["get", "../../apim-src/namedValues/x", "--service", &r.path("dest.json")])
        .assert()
        .code(2);
    let mut bad_service = r.services[1].clone();
    bad_service["id"] = json!(format!("{}/namedValues/..", r.services[1]["id"].as_str().unwrap()));
    bin("apim-namedvalues", &r.emu)
        .arg("list")
        .write_stdin(bad_service.to_string())
        .assert()
        .code(2);
    assert_eq!(r.stat("requests"), before, "nothing was sent");
}

#[test]
fn storage_open_to_the_world_is_refused_for_backups() {
    let r = Rig::new();
    let store: Value = serde_json::from_str(&std::fs::read_to_string(r.path("store.json")).unwrap()).unwrap();
    let account = store["accountId"].as_str().unwrap().to_string();
    let (s, _, body) = r
        .emu
        .arm(
            "PUT",
            &format!("{account}?api-version=2023-05-01"),
            Some(
                &json!({"location": "westeurope", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2",
                "properties": {"allowBlobPublicAccess": true, "supportsHttpsTrafficOnly": false, "minimumTlsVersion": "TLS1_0"}}),
            ),
        )
        .unwrap();
    assert_eq!(s, 200, "{body}");
    let (s, _, body) = r
        .emu
        .arm(
            "PUT",
            &format!("{account}/blobServices/default/containers/{}?api-version=2023-05-01", r.container),
            Some(&json!({"properties": {"publicAccess": "Container"}})),
        )
        .unwrap();
    assert!(s == 200 || s == 201, "{body}");
    let writes = r.stat("writes");
    bin("apim-backup", &r.emu)
        .args(["--storage", &r.path("store.json")])
        .write_stdin(r.services[0].to_string())
        .assert()
        .code(3)
        .stderr(
            contains("allowBlobPublicAccess")
                .and(contains("plain http"))
                .and(contains("TLS1_0"))
                .and(contains("publicAccess Container"))
                .and(contains("--allow-insecure-storage")),
        );
    assert_eq!(r.stat("writes"), writes, "no backup was started");
    let b = r.backup(&r.services[0], &["--allow-insecure-storage"]);
    assert_eq!(b["kind"], "apim.backup");
}

#[test]
fn small_holes_are_bad_input_and_send_nothing() {
    let r = Rig::new();
    let nvs = docs(
        &bin("apim-namedvalues", &r.emu)
            .arg("list")
            .write_stdin(r.services[0].to_string())
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    let before = r.stat("requests");
    // A --host rule whose NEW is no hostname would break every URL it touches.
    for bad in ["api.src.example.com=", "api.src.example.com=api.dest.example.com/v2", "a.b=c d"] {
        bin("apim-namedvalues", &r.emu)
            .args(["rewrite", "--host", bad])
            .write_stdin(ndjson(&nvs))
            .assert()
            .code(2)
            .stderr(contains("is not a hostname"));
    }
    // --resume with nothing to resume.
    for b in ["apim-backup", "apim-restore", "apim-provision"] {
        bin(b, &r.emu)
            .arg("--resume")
            .write_stdin("")
            .assert()
            .code(2)
            .stderr(contains("no apim.operation documents"));
    }
    // The same service twice would mean a second backup.
    bin("apim-backup", &r.emu)
        .args(["--storage", &r.path("store.json")])
        .write_stdin(ndjson(&[r.services[0].clone(), r.services[0].clone()]))
        .assert()
        .code(2)
        .stderr(contains("given twice"));
    // A resource group ARM would refuse.
    bin("apim-provision", &r.emu)
        .args(["service", "-g", "rg/../other", "-l", "westeurope", "-n", "x"])
        .args(["--publisher-email", "a@b.c", "--publisher-name", "X"])
        .assert()
        .code(2)
        .stderr(contains("--resource-group"));
    assert_eq!(r.stat("requests"), before, "nothing was sent");

    // What should work does: a byte order mark, -v before prune, an empty plan.
    let bom = format!("\u{feff}{}", r.services[0]);
    bin("apim-namedvalues", &r.emu).arg("list").write_stdin(bom).assert().success();
    bin("apim-backup", &r.emu)
        .args([
            "-v",
            "prune",
            "--storage",
            &r.path("store.json"),
            "--name",
            "apim-src",
            "--keep",
            "3",
        ])
        .assert()
        .success();
    bin("apim-backup", &r.emu)
        .args([
            "--blob",
            "x.apimbackup",
            "prune",
            "--storage",
            &r.path("store.json"),
            "--name",
            "apim-src",
            "--keep",
            "3",
        ])
        .assert()
        .code(2)
        .stderr(contains("after the word prune"));
    bin("apim-namedvalues", &r.emu)
        .arg("apply")
        .write_stdin("")
        .assert()
        .success()
        .stderr(contains("nothing to apply"));
}

#[test]
fn rules_that_grow_a_value_without_bound_are_refused() {
    let r = Rig::new();
    let (s, _, body) = r
        .emu
        .arm(
            "PUT",
            &nv_path("apim-src", "namedValues", "grow"),
            Some(&json!({"properties": {"displayName": "grow", "value": "a"}})),
        )
        .unwrap();
    assert!(s == 200 || s == 201, "{body}");
    let nvs = docs(
        &bin("apim-namedvalues", &r.emu)
            .args(["list", "--filter", "displayName eq 'grow'"])
            .write_stdin(r.services[0].to_string())
            .assert()
            .success()
            .get_output()
            .stdout,
    );
    let rules: Vec<&str> = (0..30).flat_map(|_| ["--replace", "a=aaaa"]).collect();
    let out = bin("apim-namedvalues", &r.emu)
        .arg("rewrite")
        .args(&rules)
        .write_stdin(ndjson(&nvs))
        .assert()
        .code(2)
        .stderr(contains("longer than the 4096 characters"));
    assert!(out.get_output().stdout.is_empty());
}

#[test]
fn the_emulators_controls_need_its_token() {
    let r = Rig::new();
    let http = reqwest::blocking::Client::builder()
        .tls_certs_merge(reqwest::Certificate::from_pem_bundle(&std::fs::read(r.emu.get("caCertPath")).unwrap()).unwrap())
        .build()
        .unwrap();
    for (method, path) in [("POST", "faults?revoke-tokens=1"), ("GET", "stats")] {
        let status = http
            .request(method.parse().unwrap(), format!("{}/_emulator/{path}", r.emu.arm_endpoint()))
            .send()
            .unwrap()
            .status();
        assert_eq!(status.as_u16(), 401, "{method} {path}");
    }
    // The harness's own calls carry a token and still work.
    assert!(r.stat("requests") > 0);
}

/// Swaps every mention of one resource path for another, as a forger edits
/// a resume document (ids, names, URLs).
fn forge(doc: &Value, from: &str, to: &str) -> Value {
    serde_json::from_str(&doc.to_string().replace(from, to)).unwrap()
}

#[test]
fn a_forged_resume_document_is_refused_before_anything_is_written() {
    let r = Rig::new();
    let (src, dest) = (&r.services[0], &r.services[1]);
    // A real --no-wait backup of apim-dest, the document a CI job hands on.
    let out = r.backup_cmd(dest).arg("--no-wait").assert().success();
    let op = docs(&out.get_output().stdout).remove(0);
    assert_eq!(op["operation"], "backup");
    r.emu.finish_operations().unwrap();
    let src_id = src["id"].as_str().unwrap();
    let dest_id = dest["id"].as_str().unwrap();

    // Its context says apim-src: marking would call apim-dest's blob a backup of apim-src.
    let mut context_only = op.clone();
    context_only["context"]["service"] = json!({"id": src_id, "name": "apim-src", "sku": src["sku"], "location": src["location"]});
    // Everything says apim-src except the operation it polls (still apim-dest's).
    let mut all_but_poll = forge(&op, dest_id, src_id);
    all_but_poll["location"] = op["location"].clone();
    // Another group, another subscription, another origin.
    let other_group = forge(&op, "/resourceGroups/apim-rg/", "/resourceGroups/other-rg/");
    let sub = dest_id.split('/').nth(2).unwrap();
    let other_sub = forge(&op, sub, "00000000-0000-4000-8000-00000000f0f0");
    let mut other_origin = op.clone();
    let loc = op["location"].as_str().unwrap();
    let path_at = loc.find("/subscriptions/").unwrap();
    other_origin["location"] = json!(format!("https://127.0.0.1:9{}", &loc[path_at..]));

    let writes = r.stat("writes");
    for (what, forged, says) in [
        ("context of another service", context_only, "its context names"),
        ("another service's operation", all_but_poll, "not an operation of"),
        ("another origin", other_origin, "not on the ARM endpoint"),
    ] {
        let out = bin("apim-backup", &r.emu)
            .arg("--resume")
            .write_stdin(forged.to_string())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{what}: {err}");
        assert!(err.contains(says), "{what}: {err}");
        assert!(out.stdout.is_empty(), "{what}");
    }
    // Consistent forgeries (every id moved together) point at an operation
    // that is not there: Azure says no, and nothing is marked.
    for (what, forged) in [("another group", other_group), ("another subscription", other_sub)] {
        let out = bin("apim-backup", &r.emu)
            .arg("--resume")
            .write_stdin(forged.to_string())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_ne!(out.status.code(), Some(0), "{what}: {err}");
        assert!(out.stdout.is_empty(), "{what}");
    }
    assert_eq!(r.stat("writes"), writes, "no forgery wrote anything");
    // apim-dest's blob was never marked as anyone's backup.
    let blob = op["context"]["blob"].as_str().unwrap();
    let props = azurite_blob("apimbackups", &r.container, blob).unwrap().unwrap();
    assert!(!props.metadata.contains_key("apimtoolkit_status"), "{:?}", props.metadata);
    // The genuine document still records the genuine backup.
    let out = bin("apim-backup", &r.emu)
        .arg("--resume")
        .write_stdin(op.to_string())
        .assert()
        .success();
    let done = docs(&out.get_output().stdout).remove(0);
    assert_eq!(done["service"]["id"], json!(dest_id));

    // A restore document edited to name another target: refused too.
    let backup = r.backup(src, &[]);
    let rop = r.restore_no_wait(&backup);
    r.emu.finish_operations().unwrap();
    let mut retarget = rop.clone();
    retarget["context"]["restore"]["target"]["id"] = json!(src_id);
    let out = bin("apim-restore", &r.emu)
        .arg("--resume")
        .write_stdin(retarget.to_string())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("its context names"), "{err}");
}

#[test]
fn a_plan_or_a_backup_document_moved_to_another_service_writes_nothing_there() {
    let r = Rig::new();
    let (src, dest) = (&r.services[0], &r.services[1]);
    let src_id = src["id"].as_str().unwrap().to_string();
    let dest_id = dest["id"].as_str().unwrap().to_string();
    // A plan for apim-dest (rewrite its own host), then moved to apim-src.
    let out = bin("apim-namedvalues", &r.emu)
        .arg("list")
        .write_stdin(dest.to_string())
        .assert()
        .success();
    let listed = out.get_output().stdout.clone();
    let out = bin("apim-namedvalues", &r.emu)
        .args([
            "rewrite",
            "--host",
            "api.dest.example.com=api.new.example.com",
            "--replace",
            "s3cr3t-dest=rotated",
        ])
        .write_stdin(listed)
        .assert()
        .success();
    let plan = docs(&out.get_output().stdout);
    assert_eq!(plan.len(), 2, "{plan:?}");
    let src_before = config(&r.emu, "apim-src");
    let writes = r.stat("writes");
    for (what, to) in [
        ("another service", src_id.clone()),
        (
            "another group",
            dest_id.replace("/resourceGroups/apim-rg/", "/resourceGroups/other-rg/"),
        ),
        (
            "another subscription",
            dest_id.replace(dest_id.split('/').nth(2).unwrap(), "00000000-0000-4000-8000-00000000f0f0"),
        ),
    ] {
        let moved: Vec<Value> = plan.iter().map(|c| forge(c, &dest_id, &to)).collect();
        let out = bin("apim-namedvalues", &r.emu)
            .arg("apply")
            .write_stdin(ndjson(&moved))
            .output()
            .unwrap();
        assert_ne!(out.status.code(), Some(0), "{what}: {}", String::from_utf8_lossy(&out.stderr));
        assert!(
            docs(&out.stdout).iter().all(|c| c["status"] != "applied"),
            "{what}: nothing applied: {}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    assert_eq!(
        r.stat("writes"),
        writes,
        "the plan's ETags belong to apim-dest: no write anywhere else"
    );
    assert_eq!(config(&r.emu, "apim-src"), src_before);

    // apim-dest's backup, its document moved to apim-src: no delete of apim-src.
    let backup = r.backup(dest, &[]);
    let moved = forge(&backup, &dest_id, &src_id);
    let moved = forge(&moved, "\"name\":\"apim-dest\"", "\"name\":\"apim-src\"");
    let file = r.write("moved.ndjson", &[moved]);
    let out = bin("apim-provision", &r.emu)
        .args(["delete", "--backups", &file])
        .write_stdin(src.to_string())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("is a backup of") && err.contains("apim-dest"), "{err}");
    assert_eq!(r.emu.arm("GET", &service_path("apim-src"), None).unwrap().0, 200);
}

#[test]
fn restoring_an_empty_instance_over_a_populated_one_is_refused_even_in_a_dry_run() {
    let r = Rig::new();
    let out = bin("apim-provision", &r.emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-new"])
        .assert()
        .success();
    let fresh = docs(&out.get_output().stdout).remove(0);
    let backup = r.backup(&fresh, &[]);
    let restore = |extra: &[&str]| {
        bin("apim-restore", &r.emu)
            .args(["--target", &r.path("dest.json"), "--no-safety-backup"])
            .args(extra)
            .write_stdin(backup.to_string())
            .output()
            .unwrap()
    };
    let writes = r.stat("writes");
    for extra in [&["--dry-run"][..], &[]] {
        let out = restore(extra);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(3), "{extra:?}: {err}");
        assert!(
            err.contains("restoring would empty the target") && err.contains("--allow-emptying-target"),
            "{err}"
        );
    }
    assert_eq!(r.stat("writes"), writes, "nothing restored");
    let out = restore(&["--dry-run", "--allow-emptying-target"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{err}");
    assert!(err.contains("RESTORING WOULD EMPTY THE TARGET"), "still said, loudly: {err}");
}
