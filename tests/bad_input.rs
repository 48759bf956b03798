//! Bad input, every binary: exit 2, one line on stderr that names the
//! problem, and not one request sent (the emulator's counter proves it).
//! Unknown fields in documents are accepted and ignored, so documents from
//! a newer toolkit of the same schemaVersion still read (tested last).

use crate::common::*;
use serde_json::{json, Value};

#[test]
fn every_binary_refuses_bad_input_with_exit_2_and_sends_nothing() {
    let emu = emulator(0.0);
    let container = unique_container();
    let (services, store) = provision_all(&emu, &container);
    let dir = tempfile::tempdir().unwrap();
    let file = |name: &str, text: &str| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p.to_str().unwrap().to_string()
    };
    let store_file = file("store.json", &store.to_string());
    let svc = services[0].to_string();
    let dest_file = file("dest.json", &services[1].to_string());
    let truncated = &svc[..svc.len() / 2];
    let mixed = format!("[{svc}]\n{svc}\n");
    let wrong_kind = store.to_string();
    let mut bad_name = services[0].clone();
    bad_name["name"] = json!("apim-dest");
    let mut bad_id = services[0].clone();
    bad_id["id"] = json!("/subscriptions/x/resourceGroups/apim-rg/providers/Microsoft.Storage/storageAccounts/apimbackups");
    let mut future = services[0].clone();
    future["schemaVersion"] = json!(2);
    let backup = json!({"kind": "apim.backup", "schemaVersion": 1, "status": "Succeeded",
        "service": {"id": services[0]["id"], "name": "apim-src", "sku": {"name": "Developer", "capacity": 1}, "location": "westeurope"},
        "storage": {"accountId": store["accountId"], "account": "apimbackups", "container": container, "blobEndpoint": store["blobEndpoint"]},
        "blob": "apim-src-1.apimbackup", "accessType": "access-key", "startedAt": "2026-11-29T00:00:00Z",
        "completedAt": "2026-11-29T00:01:00Z", "durationSeconds": 60.0, "size": 1, "etag": "\"0x1\"", "lastModified": "x"});
    let mut failed_backup = backup.clone();
    failed_backup["status"] = json!("Failed");
    let mut bad_access = backup.clone();
    bad_access["accessType"] = json!("anonymous");

    // (binary, args, stdin, what stderr must say)
    let cases: Vec<(&str, Vec<&str>, String, &str)> = vec![
        ("apim-provision", vec!["service"], truncated.to_string(), "malformed JSON"),
        ("apim-provision", vec!["service"], mixed.clone(), "malformed JSON"),
        (
            "apim-provision",
            vec!["service"],
            wrong_kind.clone(),
            "expected an 'apim.service' document",
        ),
        ("apim-provision", vec!["service"], bad_name.to_string(), "not the name in its id"),
        ("apim-provision", vec!["service"], future.to_string(), "schemaVersion 2"),
        (
            "apim-provision",
            vec!["storage"],
            svc.clone(),
            "expected an 'storage.container' document",
        ),
        (
            "apim-provision",
            vec![
                "service",
                "-g",
                "apim-rg",
                "-l",
                "westeurope",
                "-n",
                "x-",
                "--publisher-email",
                "a@b.c",
                "--publisher-name",
                "X",
            ],
            String::new(),
            "service name 'x-' is invalid",
        ),
        (
            "apim-provision",
            vec![
                "service",
                "--sku",
                "Free",
                "-g",
                "apim-rg",
                "-l",
                "westeurope",
                "-n",
                "x",
                "--publisher-email",
                "a@b.c",
                "--publisher-name",
                "X",
            ],
            String::new(),
            "unknown --sku",
        ),
        (
            "apim-backup",
            vec!["--storage", &store_file],
            truncated.to_string(),
            "malformed JSON",
        ),
        (
            "apim-provision",
            vec!["service", "--like", &store_file, "--name", "apim-dest", "-g", "apim-rg"],
            String::new(),
            "expected an 'apim.service' document",
        ),
        (
            "apim-provision",
            vec![
                "service",
                "--like",
                &dest_file,
                "--name",
                "apim-src",
                "-g",
                "apim-rg",
                "--host",
                "not a host",
            ],
            String::new(),
            "give OLD=NEW hostnames",
        ),
        (
            "apim-provision",
            vec![
                "service",
                "--host",
                "a.example.com=b.example.com",
                "--name",
                "apim-src",
                "-g",
                "apim-rg",
            ],
            String::new(),
            "--like",
        ),
        ("apim-namedvalues", vec!["refresh"], String::new(), "--service"),
        (
            "apim-backup",
            vec!["--storage", &store_file],
            bad_id.to_string(),
            "is not the id of an API Management service",
        ),
        (
            "apim-backup",
            vec!["--storage", &dest_file],
            svc.clone(),
            "expected an 'storage.container' document",
        ),
        (
            "apim-backup",
            vec!["--storage", &store_file, "--access-type", "user-identity"],
            svc.clone(),
            "needs --identity-client-id",
        ),
        (
            "apim-backup",
            vec!["--storage", &store_file, "--access-type", "magic"],
            svc.clone(),
            "unknown access type",
        ),
        (
            "apim-backup",
            vec!["--storage-account", "/subscriptions/x/resourceGroups/g", "--container", "c1c"],
            svc.clone(),
            "not the id of a storage account",
        ),
        (
            "apim-backup",
            vec!["--resume"],
            svc.clone(),
            "expected an 'apim.operation' document",
        ),
        (
            "apim-backup",
            vec![
                "prune",
                "--storage",
                &store_file,
                "--name",
                "apim-src",
                "--keep",
                "1",
                "--max-age",
                "soon",
            ],
            String::new(),
            "not a duration",
        ),
        (
            "apim-restore",
            vec!["--target", &dest_file, "--no-safety-backup"],
            failed_backup.to_string(),
            "invalid 'apim.backup' document",
        ),
        (
            "apim-restore",
            vec!["--target", &dest_file, "--no-safety-backup"],
            bad_access.to_string(),
            "invalid 'apim.backup' document",
        ),
        (
            "apim-restore",
            vec!["--target", &dest_file, "--no-safety-backup"],
            format!("{backup}\n{backup}\n"),
            "expected one apim.backup document, got 2",
        ),
        (
            "apim-restore",
            vec!["--target", &dest_file, "--no-safety-backup"],
            svc.clone(),
            "expected an 'apim.backup' document",
        ),
        (
            "apim-restore",
            vec!["--target", &store_file, "--no-safety-backup"],
            backup.to_string(),
            "expected an 'apim.service' document",
        ),
        (
            "apim-restore",
            vec!["--target-id", "/subscriptions/x", "--no-safety-backup"],
            backup.to_string(),
            "not the id of an API Management service",
        ),
        (
            "apim-backup",
            vec!["--storage", &store_file, "--service-id", "/subscriptions/x/resourceGroups/g"],
            String::new(),
            "not the id of an API Management service",
        ),
        ("apim-restore", vec!["--no-safety-backup"], backup.to_string(), "name the target"),
        (
            "apim-restore",
            vec!["--target", &dest_file, "--no-safety-backup", "--take-safety-backup"],
            backup.to_string(),
            "cannot be used with",
        ),
        ("apim-namedvalues", vec!["list"], truncated.to_string(), "malformed JSON"),
        (
            "apim-namedvalues",
            vec!["list"],
            format!("{svc}\n{svc}\n"),
            "expected one apim.service document, found 2",
        ),
        ("apim-namedvalues", vec!["rewrite"], String::new(), "no rules"),
        ("apim-namedvalues", vec!["rewrite", "--regex", "([=x"], String::new(), "--regex"),
        (
            "apim-namedvalues",
            vec!["rewrite", "--host", "a.b=c.d"],
            svc.clone(),
            "expected an 'apim.namedvalue' document",
        ),
        (
            "apim-namedvalues",
            vec!["apply"],
            svc.clone(),
            "expected an 'apim.namedvalue.change' document",
        ),
        ("apim-namedvalues", vec!["apply", "--parallel", "0"], String::new(), "--parallel"),
        (
            "apim-namedvalues",
            vec!["diff", &dest_file, &store_file],
            String::new(),
            "expected an 'apim.service' document",
        ),
        (
            "apim-namedvalues",
            vec!["get", "a/b", "--service", &dest_file],
            String::new(),
            "not a named value name",
        ),
    ];
    let before = emu.stats().unwrap()["requests"].as_u64().unwrap();
    for (binary, args, stdin, says) in &cases {
        let out = bin(binary, &emu).args(args).write_stdin(stdin.clone()).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{binary} {args:?}: {stderr}");
        assert!(stderr.contains(says), "{binary} {args:?}: expected '{says}' in: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "{binary} {args:?}: printed {}",
            String::from_utf8_lossy(&out.stdout)
        );
        if !binary.is_empty() && !args.is_empty() && stderr.starts_with(&format!("{binary}: error:")) {
            assert_eq!(stderr.trim_end().lines().count(), 1, "{binary} {args:?}: one line: {stderr}");
        }
    }
    assert_eq!(
        emu.stats().unwrap()["requests"].as_u64().unwrap(),
        before,
        "not one of {} bad inputs sent a request",
        cases.len()
    );

    // Unknown fields are ignored: a document with more than this version knows still reads.
    let mut newer: Value = services[0].clone();
    newer["addedLater"] = json!({"anything": true});
    bin("apim-namedvalues", &emu)
        .arg("list")
        .write_stdin(newer.to_string())
        .assert()
        .success();
}

/// A line longer than the cap is refused as it arrives (exit 2), whether
/// the tool reads its input whole (apply) or as it streams (rewrite).
#[test]
fn a_line_over_the_cap_is_refused_with_exit_2() {
    let huge = format!(
        "{{\"kind\":\"apim.namedvalue.change\",\"x\":\"{}\"}}\n",
        "a".repeat(20 * 1024 * 1024)
    );
    for args in [vec!["apply"], vec!["rewrite", "--host", "a.example.com=b.example.com"]] {
        let out = assert_cmd::Command::new(apim_toolkit::bin_path("apim-namedvalues", "debug"))
            .args(&args)
            .env("AZURE_SUBSCRIPTION_ID", "00000000-0000-0000-0000-000000000000")
            .write_stdin(huge.clone())
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains("longer than 16 MiB"), "{args:?}: {err}");
        assert!(out.stdout.is_empty());
    }
    // A file named by a flag is capped as stdin is.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("huge.ndjson");
    std::fs::write(&file, &huge).unwrap();
    let out = assert_cmd::Command::new(apim_toolkit::bin_path("apim-provision", "debug"))
        .args([
            "delete",
            "--service-id",
            "/subscriptions/s/resourceGroups/g/providers/Microsoft.ApiManagement/service/x",
        ])
        .arg("--backups")
        .arg(&file)
        .env("AZURE_SUBSCRIPTION_ID", "00000000-0000-0000-0000-000000000000")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{err}");
    assert!(err.contains("--backups") && err.contains("longer than 16 MiB"), "{err}");
}

#[test]
fn a_document_file_given_as_an_argument_is_told_to_come_on_stdin() {
    let emu = emulator(0.0);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("src.json");
    std::fs::write(&file, "{}").unwrap();
    for binary in ["apim-backup", "apim-restore", "apim-namedvalues"] {
        let out = bin(binary, &emu).arg(&file).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{binary}: {err}");
        assert!(err.contains("pass documents on stdin") && err.contains("< "), "{binary}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}

#[test]
fn control_characters_in_input_never_reach_the_terminal() {
    let emu = emulator(0.0);
    let service = "{\"kind\":\"apim.service\",\"schemaVersion\":1,\"id\":\"/subscriptions/s/resourceGroups/g/providers/Microsoft.ApiManagement/service/apim\\u001b[2Jsrc\",\"name\":\"x\"}";
    for (binary, args, stdin) in [
        ("apim-namedvalues", vec!["get", "name\u{1b}]0;owned\u{7}"], service.to_string()),
        ("apim-backup", vec!["--storage", "/dev/null"], service.to_string()),
    ] {
        let out = bin(binary, &emu).args(&args).write_stdin(stdin).output().unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{binary}: {err}");
        assert!(
            !err.contains('\u{1b}') && !err.contains('\u{7}'),
            "{binary} echoed a control character: {err:?}"
        );
    }
}

#[test]
fn every_binary_says_how_it_is_used_what_it_checks_and_how_it_ends() {
    for binary in [
        "apim-provision",
        "apim-backup",
        "apim-restore",
        "apim-namedvalues",
        "apim-diff",
        "apim-sync",
    ] {
        let out = assert_cmd::Command::new(apim_toolkit::bin_path(binary, "debug"))
            .arg("--help")
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{binary}");
        for part in ["Examples:", &format!("  {binary} "), "Exit codes:", "Connection (every binary):"] {
            assert!(help.contains(part), "{binary} --help lacks {part:?}:\n{help}");
        }
        if binary != "apim-diff" {
            assert!(help.contains("Rails:"), "{binary}");
        }
    }
    // And every subcommand, which has a man page of its own.
    for (binary, sub) in [
        ("apim-provision", "service"),
        ("apim-provision", "storage"),
        ("apim-provision", "get"),
        ("apim-provision", "list"),
        ("apim-provision", "delete"),
        ("apim-backup", "prune"),
        ("apim-namedvalues", "list"),
        ("apim-namedvalues", "get"),
        ("apim-namedvalues", "rewrite"),
        ("apim-namedvalues", "import"),
        ("apim-namedvalues", "apply"),
        ("apim-namedvalues", "diff"),
        ("apim-sync", "plan"),
        ("apim-sync", "apply"),
    ] {
        let out = assert_cmd::Command::new(apim_toolkit::bin_path(binary, "debug"))
            .args([sub, "--help"])
            .output()
            .unwrap();
        let help = String::from_utf8_lossy(&out.stdout);
        for part in ["Examples:", &format!("  {binary} {sub}"), "Exit codes:"] {
            assert!(help.contains(part), "{binary} {sub} --help lacks {part:?}:\n{help}");
        }
    }
}
