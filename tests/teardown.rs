//! `apim-provision delete`: the old instance is retired only with a way back.

use crate::common::*;
use serde_json::Value;

fn delete(rig: &Rig, args: &[&str], stdin: &Value) -> (i32, Vec<Value>, String) {
    let out = bin("apim-provision", &rig.emu)
        .arg("delete")
        .args(args)
        .write_stdin(stdin.to_string())
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        docs(&out.stdout),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn exists(rig: &Rig, name: &str) -> bool {
    rig.emu.arm("GET", &service_path(name), None).unwrap().0 == 200
}

fn soft_deleted(rig: &Rig, name: &str) -> bool {
    let (_, _, list) = rig
        .emu
        .arm(
            "GET",
            &format!("/subscriptions/{SUB}/providers/Microsoft.ApiManagement/deletedservices?api-version=2024-05-01"),
            None,
        )
        .unwrap();
    list["value"].as_array().unwrap().iter().any(|d| d["name"] == name)
}

#[test]
fn delete_refuses_without_a_recent_good_backup() {
    let rig = Rig::new();
    let src = &rig.services[0];
    let (code, out, err) = delete(&rig, &[], src);
    assert_eq!((code, out.len()), (3, 0), "{err}");
    assert!(err.contains("--backups") && err.contains("--no-backup-check"), "{err}");

    // A backup of another service proves nothing about this one.
    let other = rig.backup(&rig.services[1], &[]);
    let backups = rig.write("backups.ndjson", std::slice::from_ref(&other));
    let (code, _, err) = delete(&rig, &["--backups", &backups], src);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("no succeeded backup"), "{err}");

    // A stale one neither.
    let mine = rig.backup(src, &[]);
    let backups = rig.write("backups.ndjson", &[other, mine.clone()]);
    let (code, _, err) = delete(&rig, &["--backups", &backups, "--max-backup-age", "0s"], src);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("--max-backup-age"), "{err}");

    // Nor one whose blob is gone.
    let mut gone = mine.clone();
    gone["blob"] = Value::from("apim-src-20000101T000000Z.apimbackup");
    let backups_gone = rig.write("gone.ndjson", &[gone]);
    let (code, _, err) = delete(&rig, &["--backups", &backups_gone], src);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("no longer exists"), "{err}");

    // Nor another service's blob marked by an older toolkit (no service id
    // recorded), whose document was edited to name this service: only the
    // exact name <service>-<timestamp> would say whose it is, as for prune.
    let dest_backup = rig.backup(&rig.services[1], &["--blob", "nightly.apimbackup"]);
    let container = rig.container.clone();
    apim_toolkit::with_azurite("apimbackups", async |c| {
        c.set_metadata(
            &container,
            "nightly.apimbackup",
            &[
                ("apimtoolkit_status", "Succeeded"),
                ("apimtoolkit_completedat", mine["completedAt"].as_str().unwrap()),
            ],
        )
        .await
    })
    .unwrap();
    let etag = apim_toolkit::azurite_blob("apimbackups", &rig.container, "nightly.apimbackup")
        .unwrap()
        .unwrap()
        .etag;
    let mut claimed = dest_backup.clone();
    claimed["service"] = mine["service"].clone();
    claimed["etag"] = Value::from(etag);
    let backups_old = rig.write("old-mark.ndjson", &[claimed]);
    let (code, _, err) = delete(&rig, &["--backups", &backups_old], src);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("records no service"), "{err}");
    assert!(exists(&rig, "apim-src"), "nothing was deleted by a refusal");

    // With it: soft-deleted, and a second run is a no-op.
    let (code, out, err) = delete(&rig, &["--backups", &backups], src);
    assert_eq!(code, 0, "{err}");
    assert_eq!(out.len(), 1);
    assert_eq!(out[0]["kind"], "apim.service.deleted");
    assert_eq!(out[0]["status"], "deleted");
    assert!(out[0]["backup"].as_str().unwrap().ends_with(mine["blob"].as_str().unwrap()));
    assert!(!exists(&rig, "apim-src") && soft_deleted(&rig, "apim-src"));
    let (code, out, err) = delete(&rig, &["--backups", &backups], src);
    assert_eq!((code, out[0]["status"].as_str()), (0, Some("already-gone")), "{err}");
}

#[test]
fn purge_frees_the_name_and_a_soft_deleted_service_can_be_purged_later() {
    let rig = Rig::new();
    let (src, dest) = (&rig.services[0], &rig.services[1]);
    let backups = rig.write("backups.ndjson", &[rig.backup(src, &[]), rig.backup(dest, &[])]);
    let (code, out, err) = delete(&rig, &["--backups", &backups, "--purge"], src);
    assert_eq!((code, out[0]["status"].as_str()), (0, Some("purged")), "{err}");
    assert!(!exists(&rig, "apim-src") && !soft_deleted(&rig, "apim-src"));
    // The name is free: the same service can be created again.
    bin("apim-provision", &rig.emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-src"])
        .assert()
        .success();

    // Deleted first, purged by a later run (still behind the backup rail).
    let (code, _, err) = delete(&rig, &["--backups", &backups], dest);
    assert_eq!(code, 0, "{err}");
    assert!(soft_deleted(&rig, "apim-dest"));
    let (code, _, err) = delete(&rig, &["--purge"], dest);
    assert_eq!(code, 3, "purging loses the way back too: {err}");
    assert!(soft_deleted(&rig, "apim-dest"));
    let (code, out, err) = delete(&rig, &["--backups", &backups, "--purge"], dest);
    assert_eq!((code, out[0]["status"].as_str()), (0, Some("purged")), "{err}");
    assert!(!soft_deleted(&rig, "apim-dest"));
}

#[test]
fn a_busy_service_is_not_deleted_and_a_delete_can_be_resumed() {
    let rig = Rig::new();
    let (src, dest) = (&rig.services[0], &rig.services[1]);
    let backup = rig.backup(src, &[]);
    let backups = rig.write("backups.ndjson", &[backup.clone(), rig.backup(dest, &[])]);
    // A restore into dest still runs: dest is not deleted under it.
    rig.emu.set_time_scale(1.0).unwrap();
    rig.restore_no_wait(&backup);
    let (code, _, err) = delete(&rig, &["--backups", &backups], dest);
    assert_eq!(code, 3, "{err}");
    assert!(err.contains("still runs"), "{err}");
    assert!(exists(&rig, "apim-dest"));
    rig.emu.finish_operations().unwrap();
    // Back to instant operations: a purge takes minutes at Azure's pace.
    rig.emu.set_time_scale(0.0).unwrap();

    // --no-wait prints the operation; --resume finishes it, from another process.
    let (code, ops, err) = delete(&rig, &["--backups", &backups, "--no-wait", "--purge"], src);
    assert_eq!(code, 0, "{err}");
    assert_eq!(ops[0]["kind"], "apim.operation");
    assert_eq!(ops[0]["operation"], "service.delete");
    rig.emu.finish_operations().unwrap();
    // A purge is the point of no return: a resumed delete asks the backup
    // rail again, and a document alone (it may have been edited to say
    // "purge") proves nothing.
    let out = bin("apim-provision", &rig.emu)
        .arg("--resume")
        .write_stdin(ndjson(&ops))
        .assert()
        .code(3);
    let err = String::from_utf8_lossy(&out.get_output().stderr).into_owned();
    assert!(err.contains("not purged") && err.contains("--backups"), "{err}");
    assert!(soft_deleted(&rig, "apim-src"), "deleted, not purged: it can still be recovered");
    let out = bin("apim-provision", &rig.emu)
        .args(["delete", "--resume", "--backups", &backups])
        .write_stdin(ndjson(&ops))
        .assert()
        .success();
    let out = docs(&out.get_output().stdout);
    assert_eq!(out[0]["status"], "purged");
    assert!(!exists(&rig, "apim-src") && !soft_deleted(&rig, "apim-src"));
}

#[test]
fn a_delete_document_edited_to_purge_purges_nothing_without_a_backup() {
    let rig = Rig::new();
    let dest = &rig.services[1];
    // A delete without purge, no backup check, left running.
    let (code, mut ops, err) = delete(&rig, &["--no-backup-check", "--no-wait"], dest);
    assert_eq!(code, 0, "{err}");
    rig.emu.finish_operations().unwrap();
    ops[0]["context"]["purge"] = serde_json::json!(true);
    let writes = rig.emu.stats().unwrap()["writes"].as_u64().unwrap();
    let out = bin("apim-provision", &rig.emu)
        .arg("--resume")
        .write_stdin(ndjson(&ops))
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("not purged"), "{err}");
    assert!(soft_deleted(&rig, "apim-dest"), "still recoverable");
    assert_eq!(rig.emu.stats().unwrap()["writes"].as_u64().unwrap(), writes, "nothing written");
}

#[test]
fn delete_bad_input_changes_nothing() {
    let rig = Rig::new();
    let store = rig.path("store.json");
    for (args, stdin, says) in [
        (vec![], "{\"kind\":\"storage.container\"}".to_string(), "apim.service"),
        (
            vec!["--service-id", "/subscriptions/x/resourceGroups/rg"],
            String::new(),
            "--service-id",
        ),
        (vec!["--backups", store.as_str()], rig.services[0].to_string(), "apim.backup"),
        (vec!["--backups", "/nonexistent/file"], rig.services[0].to_string(), "--backups"),
    ] {
        let out = bin("apim-provision", &rig.emu)
            .arg("delete")
            .args(&args)
            .write_stdin(stdin)
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {err}");
        assert!(err.contains(says), "{args:?}: {err}");
    }
    assert!(exists(&rig, "apim-src"));
}

#[test]
fn every_command_ends_with_a_plain_line_saying_what_happened() {
    let rig = Rig::new();
    let (src, dest) = (&rig.services[0], &rig.services[1]);
    let stderr = |o: &std::process::Output| String::from_utf8_lossy(&o.stderr).into_owned();
    let out = rig.backup_cmd(src).output().unwrap();
    assert!(stderr(&out).contains("apim-backup: backed up apim-src into "), "{}", stderr(&out));
    let backup = docs(&out.stdout).remove(0);
    let dest_backup = rig.backup(dest, &[]);
    let safety = rig.write("safety.ndjson", &[dest_backup]);
    let restore = |extra: &[&str]| {
        bin("apim-restore", &rig.emu)
            .args(["--target", &rig.path("dest.json"), "--safety-backup", &safety])
            .args(extra)
            .write_stdin(backup.to_string())
            .output()
            .unwrap()
    };
    let out = restore(&["--dry-run"]);
    assert!(
        stderr(&out).contains("would restore apim-src-") && stderr(&out).contains("onto apim-dest; all rails pass"),
        "{}",
        stderr(&out)
    );
    let out = restore(&[]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let said = stderr(&out);
    assert!(
        said.contains("apim-restore: restored apim-src-") && said.contains("redo them by hand"),
        "{said}"
    );
    assert!(
        !said.contains("resume it with: echo"),
        "the resume line only when there is something to resume: {said}"
    );

    let out = bin("apim-namedvalues", &rig.emu)
        .arg("list")
        .write_stdin(dest.to_string())
        .output()
        .unwrap();
    let out = bin("apim-namedvalues", &rig.emu)
        .args(["rewrite", "--host", "api.src.example.com=api.dest.example.com"])
        .write_stdin(out.stdout)
        .output()
        .unwrap();
    assert!(
        stderr(&out).contains("rewrite: 1 change(s) (0 secret), 1 named value(s) the rules leave as they are"),
        "{}",
        stderr(&out)
    );
    let out = bin("apim-namedvalues", &rig.emu)
        .arg("apply")
        .write_stdin(out.stdout)
        .output()
        .unwrap();
    let said = stderr(&out);
    assert!(
        said.contains("apply: changing 1 named value(s) of apim-dest") && said.contains("apply: 1 applied, 0 conflict(s)"),
        "{said}"
    );

    let backups = rig.write("backups.ndjson", std::slice::from_ref(&backup));
    let (code, _, err) = delete(&rig, &["--backups", &backups], src);
    assert_eq!(code, 0, "{err}");
    assert!(
        err.contains("apim-src soft-deleted; recover it within 48 h with: apim-provision service --recover"),
        "{err}"
    );
}
