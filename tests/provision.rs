//! apim-provision end to end: the real binary against the emulator and Azurite.

use crate::common::*;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use serde_json::{json, Value};

#[test]
fn provisions_two_services_and_storage_then_changes_nothing() {
    let emu = emulator(0.0005);
    let out = bin("apim-provision", &emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-src", "--name", "apim-dest", "--tag", "env=rehearsal"])
        .assert()
        .success();
    let services = docs(&out.get_output().stdout);
    assert_eq!(services.len(), 2);
    for (doc, name) in services.iter().zip(["apim-src", "apim-dest"]) {
        assert_eq!(doc["kind"], "apim.service");
        assert_eq!(doc["schemaVersion"], 1);
        assert_eq!(doc["name"], name);
        assert_eq!(doc["provisioningState"], "Succeeded");
        assert_eq!(doc["sku"], json!({"name": "Developer", "capacity": 1}));
        assert_eq!(doc["tags"], json!({"env": "rehearsal"}));
        assert_eq!(
            doc["id"],
            format!("/subscriptions/{SUB}/resourceGroups/apim-rg/providers/Microsoft.ApiManagement/service/{name}")
        );
        // The emulator agrees.
        let (status, _, body) = emu.arm("GET", &service_path(name), None).unwrap();
        assert_eq!(status, 200);
        assert_eq!(body["properties"]["provisioningState"], "Succeeded");
        assert_eq!(body["properties"]["publisherEmail"], "ops@example.com");
    }

    let out = bin("apim-provision", &emu)
        .args([
            "storage",
            "--resource-group",
            "apim-rg",
            "--location",
            "westeurope",
            "--account",
            "apimbackups",
            "--container",
            "apim-backups",
        ])
        .assert()
        .success();
    let store = docs(&out.get_output().stdout);
    assert_eq!(store.len(), 1);
    let s = &store[0];
    assert_eq!(s["kind"], "storage.container");
    assert_eq!(s["account"], "apimbackups");
    assert_eq!(s["container"], "apim-backups");
    assert_eq!(
        s["blobEndpoint"],
        format!("{}/apimbackups/", apim_toolkit::azurite_endpoint().trim_end_matches('/'))
    );
    assert!(
        s.get("key").is_none() && !s.to_string().contains(apim_toolkit::BLOB_ACCOUNTS[0].1),
        "no storage key in the document"
    );
    assert!(
        apim_toolkit::azurite_container_exists("apimbackups", "apim-backups").unwrap(),
        "the container exists in Azurite"
    );

    // Again, from the documents: same answer, not one write.
    let writes_before = emu.stats().unwrap()["writes"].as_u64().unwrap();
    let storage_text = String::from_utf8(out.get_output().stdout.clone()).unwrap();
    let services_text: String = services.iter().map(|d| d.to_string() + "\n").collect();
    let again = bin("apim-provision", &emu)
        .arg("service")
        .write_stdin(services_text.clone())
        .assert()
        .success();
    let again = docs(&again.get_output().stdout);
    assert_eq!(
        again.iter().map(|d| d["id"].clone()).collect::<Vec<_>>(),
        services.iter().map(|d| d["id"].clone()).collect::<Vec<_>>()
    );
    bin("apim-provision", &emu)
        .arg("storage")
        .write_stdin(services_text)
        .assert()
        .code(2)
        .stderr(contains("expected an 'storage.container' document"));
    let again = bin("apim-provision", &emu)
        .arg("storage")
        .write_stdin(storage_text.clone())
        .assert()
        .success();
    assert_eq!(String::from_utf8_lossy(&again.get_output().stdout), storage_text);
    bin("apim-provision", &emu)
        .args([
            "storage",
            "--resource-group",
            "apim-rg",
            "--location",
            "westeurope",
            "--account",
            "apimbackups",
            "--container",
            "apim-backups",
        ])
        .assert()
        .success();
    assert_eq!(
        emu.stats().unwrap()["writes"].as_u64().unwrap(),
        writes_before,
        "idempotent runs write nothing"
    );
}

#[test]
fn wrong_client_secret_exits_1_without_leaking_it() {
    let emu = emulator(0.0);
    let out = bin("apim-provision", &emu)
        .env("AZURE_CLIENT_SECRET", "not-the-secret-xyz")
        .args(SERVICE_ARGS)
        .args(["--name", "apim-src", "--auth", "client-secret"])
        .assert()
        .code(1)
        .stderr(contains("Invalid client secret"));
    let stderr = String::from_utf8_lossy(&out.get_output().stderr);
    assert!(!stderr.contains("not-the-secret-xyz"), "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one line: {stderr}");
    assert!(out.get_output().stdout.is_empty());
}

#[test]
fn a_subscription_the_principal_lacks_gets_403() {
    let emu = emulator(0.0);
    bin("apim-provision", &emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-src", "--subscription", FORBIDDEN_SUB])
        .assert()
        .code(1)
        .stderr(
            contains("AuthorizationFailed")
                .and(contains("does not have authorization"))
                .and(contains("request id")),
        );
}

#[test]
fn bad_input_exits_2_and_sends_nothing() {
    let emu = emulator(0.0);
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (vec!["service"], "{\"kind\":\"apim.service\",", "malformed JSON"),
        (
            vec!["service"],
            "{\"kind\":\"apim.backup\",\"schemaVersion\":1}\n",
            "expected an 'apim.service' document",
        ),
        (vec!["service"], "", "no services"),
        (
            vec!["--resume"],
            "{\"kind\":\"apim.service\",\"schemaVersion\":1}\n",
            "expected an 'apim.operation'",
        ),
        (
            vec![
                "service",
                "-g",
                "rg",
                "-l",
                "westeurope",
                "--name",
                "1bad",
                "--publisher-email",
                "a@b.c",
                "--publisher-name",
                "x",
            ],
            "",
            "is invalid",
        ),
        (
            vec![
                "service",
                "-g",
                "rg",
                "-l",
                "westeurope",
                "--name",
                "ok",
                "--publisher-email",
                "a@b.c",
                "--publisher-name",
                "x",
                "--sku",
                "Gold",
            ],
            "",
            "unknown --sku",
        ),
        (
            vec![
                "service",
                "-g",
                "rg",
                "--name",
                "ok",
                "--publisher-email",
                "a@b.c",
                "--publisher-name",
                "x",
            ],
            "",
            "--location is required",
        ),
        (
            vec![
                "storage",
                "-g",
                "rg",
                "-l",
                "westeurope",
                "--account",
                "Bad_Name",
                "--container",
                "c1c",
            ],
            "",
            "--account 'Bad_Name' is invalid",
        ),
        (vec!["service", "--timeout", "soon"], "", "not a duration"),
    ];
    let before = emu.stats().unwrap()["requests"].clone();
    for (args, stdin, message) in cases {
        bin("apim-provision", &emu)
            .args(&args)
            .write_stdin(stdin)
            .assert()
            .code(2)
            .stderr(contains(message));
    }
    assert_eq!(emu.stats().unwrap()["requests"], before, "no request reached the emulator");
}

#[test]
fn no_wait_then_resume_completes_the_same_operation() {
    let emu = emulator(1.0); // a create takes Azure's 40 minutes until the test ends it
    let out = bin("apim-provision", &emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-nw", "--no-wait"])
        .assert()
        .success();
    let ops = docs(&out.get_output().stdout);
    assert_eq!(ops.len(), 1);
    let op = &ops[0];
    assert_eq!(op["kind"], "apim.operation");
    assert_eq!(op["operation"], "service.create");
    assert!(op["azureAsyncOperation"].as_str().unwrap().starts_with(&emu.arm_endpoint()));
    let (_, _, body) = emu.arm("GET", &service_path("apim-nw"), None).unwrap();
    assert_ne!(
        body["properties"]["provisioningState"], "Succeeded",
        "still creating after --no-wait"
    );

    emu.finish_operations().unwrap();
    let writes = emu.stats().unwrap()["writes"].clone();
    let out = bin("apim-provision", &emu)
        .arg("--resume")
        .write_stdin(op.to_string())
        .assert()
        .success();
    let done = docs(&out.get_output().stdout);
    assert_eq!(done[0]["kind"], "apim.service");
    assert_eq!(done[0]["id"], op["resourceId"]);
    assert_eq!(done[0]["provisioningState"], "Succeeded");
    assert_eq!(emu.stats().unwrap()["writes"], writes, "resume only polls");
}

#[test]
fn timeout_exits_4_with_a_resumable_document() {
    let emu = emulator(1.0); // a create takes Azure's 40 minutes until the test ends it
    let out = bin("apim-provision", &emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-slow", "--timeout", "1s"])
        .assert()
        .code(4)
        .stderr(contains("--resume"));
    let ops = docs(&out.get_output().stdout);
    assert_eq!(ops.len(), 1);
    assert_eq!(ops[0]["kind"], "apim.operation");
    let recorded = || std::fs::read_dir(emu.state_dir()).map(|d| d.count()).unwrap_or(0);
    assert_eq!(recorded(), 1, "the create is recorded in the state directory");
    emu.finish_operations().unwrap();
    let out = bin("apim-provision", &emu)
        .arg("--resume")
        .write_stdin(ops[0].to_string())
        .assert()
        .success();
    assert_eq!(docs(&out.get_output().stdout)[0]["provisioningState"], "Succeeded");
    assert_eq!(recorded(), 0, "and forgotten once it ended");
}

#[test]
fn resume_refuses_operations_on_another_endpoint() {
    let emu = emulator(0.0);
    let op = json!({"kind": "apim.operation", "schemaVersion": 1, "operation": "service.create",
        "resourceId": format!("/subscriptions/{SUB}/resourceGroups/rg/providers/Microsoft.ApiManagement/service/x"),
        "startedAt": "2026-11-27T00:00:00Z", "resourceUrl": "https://evil.example.com/x", "azureAsyncOperation": "https://evil.example.com/op",
        "finalStateVia": "original-uri"});
    bin("apim-provision", &emu)
        .arg("--resume")
        .write_stdin(op.to_string())
        .assert()
        .code(2)
        .stderr(contains("not on the ARM endpoint"));
}

#[test]
fn soft_deleted_name_needs_recover_or_purge() {
    let emu = emulator(0.0);
    bin("apim-provision", &emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-old"])
        .assert()
        .success();
    let (status, headers, _) = emu.arm("DELETE", &service_path("apim-old"), None).unwrap();
    assert_eq!(status, 202);
    assert!(headers.contains_key("location"));
    let (status, _, _) = emu.arm("GET", &service_path("apim-old"), None).unwrap();
    assert_eq!(status, 404);

    bin("apim-provision", &emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-old"])
        .assert()
        .code(1)
        .stderr(contains("soft-deleted").and(contains("--recover")).and(contains("--purge")));

    let out = bin("apim-provision", &emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-old", "--recover"])
        .assert()
        .success();
    assert_eq!(docs(&out.get_output().stdout)[0]["provisioningState"], "Succeeded");
    let (_, _, deleted) = emu
        .arm(
            "GET",
            &format!("/subscriptions/{SUB}/providers/Microsoft.ApiManagement/deletedservices?api-version=2024-05-01"),
            None,
        )
        .unwrap();
    assert_eq!(deleted["value"], json!([]));

    // Delete again, then purge and create anew.
    emu.arm("DELETE", &service_path("apim-old"), None).unwrap();
    bin("apim-provision", &emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-old", "--purge"])
        .assert()
        .success();
    let (status, _, body) = emu.arm("GET", &service_path("apim-old"), None).unwrap();
    assert_eq!(status, 200);
    assert_eq!(body["properties"]["provisioningState"], Value::from("Succeeded"));
}

#[test]
fn broken_pipe_is_a_quiet_end() {
    let emu = emulator(0.0);
    bin("apim-provision", &emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-a", "--name", "apim-b"])
        .assert()
        .success();
    // `| head -0`: stdout closed before anything is written.
    let mut child = std::process::Command::new(apim_toolkit::bin_path("apim-provision", "debug"))
        .envs(emu.env())
        .args(SERVICE_ARGS)
        .args(["--name", "apim-a", "--name", "apim-b"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!String::from_utf8_lossy(&out.stderr).contains("error"));
}

#[test]
fn an_existing_service_is_never_changed_unless_asked() {
    let emu = emulator(0.0);
    let create = |extra: &[&str]| {
        let mut c = bin("apim-provision", &emu);
        c.args(SERVICE_ARGS).args(["--name", "apim-prod"]).args(extra);
        c
    };
    create(&["--sku", "Premium", "--capacity", "2"]).assert().success();
    let writes = emu.stats().unwrap()["writes"].clone();
    // Run again without --sku: the default is no wish; it stays Premium x2.
    let out = create(&[]).assert().success();
    assert_eq!(docs(&out.get_output().stdout)[0]["sku"], json!({"name": "Premium", "capacity": 2}));
    // Other settings asked for, without --update: shown, not applied.
    create(&["--sku", "Standard", "--tag", "env=prod"]).assert().success().stderr(
        contains("left as it is")
            .and(contains("sku Premium -> Standard"))
            .and(contains("--update")),
    );
    assert_eq!(emu.stats().unwrap()["writes"], writes, "nothing was written");
    // With --update, a downgrade needs its own flag.
    create(&["--update", "--capacity", "1"])
        .assert()
        .code(3)
        .stderr(contains("removes units").and(contains("--allow-downgrade")));
    assert_eq!(emu.stats().unwrap()["writes"], writes, "nothing was written");
    let out = create(&["--update", "--tag", "env=prod"])
        .assert()
        .success()
        .stderr(contains("updating: tag env"));
    let svc = docs(&out.get_output().stdout).remove(0);
    assert_eq!(
        (svc["sku"]["name"].as_str(), svc["tags"]["env"].as_str()),
        (Some("Premium"), Some("prod"))
    );
    create(&["--update", "--allow-downgrade", "--sku", "Developer", "--capacity", "1"])
        .assert()
        .success();
    // A read-only way to get the document of an existing service.
    let writes = emu.stats().unwrap()["writes"].clone();
    let out = bin("apim-provision", &emu)
        .args(["get", "-g", "apim-rg", "-n", "apim-prod"])
        .assert()
        .success();
    assert_eq!(
        docs(&out.get_output().stdout)[0]["sku"],
        json!({"name": "Developer", "capacity": 1})
    );
    bin("apim-provision", &emu)
        .args(["get", "-g", "apim-rg", "-n", "apim-none"])
        .assert()
        .code(1)
        .stderr(contains("does not exist"));
    assert_eq!(emu.stats().unwrap()["writes"], writes, "get writes nothing");
}

#[test]
fn newcomer_paper_cuts() {
    let emu = emulator(0.0);
    // ARM's error details name the field.
    bin("apim-provision", &emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-cons", "--sku", "Consumption", "--capacity", "1"])
        .assert()
        .code(1)
        .stderr(contains("sku.capacity"));
    // jq's pretty-printed output is input like any other.
    let out = bin("apim-provision", &emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-pretty"])
        .assert()
        .success();
    let doc = docs(&out.get_output().stdout).remove(0);
    bin("apim-namedvalues", &emu)
        .arg("list")
        .write_stdin(serde_json::to_string_pretty(&doc).unwrap())
        .assert()
        .success();
    // An env file of an emulator that has stopped: one clear line.
    bin("apim-namedvalues", &emu)
        .env("SSL_CERT_FILE", "/tmp/apim-emulator-ca-gone.pem")
        .arg("list")
        .write_stdin(doc.to_string())
        .assert()
        .code(2)
        .stderr(contains("does not exist").and(contains("env file")));
    // An emulator without blob storage hands out no storage account.
    let bare = apim_toolkit::EmulatorProcess::start(&apim_toolkit::bin_path("apim-emulator", "debug"), 0.0, None, &[]).unwrap();
    bin("apim-provision", &bare)
        .args([
            "storage",
            "-g",
            "apim-rg",
            "--create-group",
            "-l",
            "westeurope",
            "--account",
            "apimbackups",
            "--container",
            "c1c",
        ])
        .assert()
        .code(1)
        .stderr(contains("NoBlobStorage").and(contains("--blob-endpoint")));
}
