//! One end-to-end test per fault Azure can throw at a run, with the real
//! binaries: the exit code, a message naming the ARM code and request id,
//! no duplicate operation, and the state left in the emulator and Azurite.
//! Also: runs killed outright (kill -9) and what a re-run makes of them.

use crate::common::*;
use apim_toolkit::azurite_blob;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use serde_json::{json, Value};

#[test]
fn server_errors_and_resets_on_reads_are_retried() {
    let r = Rig::new();
    let requests = r.stat("requests");
    r.emu.fault("fail=2&fail-status=503").unwrap();
    let out = bin("apim-namedvalues", &r.emu)
        .arg("list")
        .write_stdin(r.services[0].to_string())
        .assert()
        .success();
    assert_eq!(docs(&out.get_output().stdout).len(), 2);
    assert_eq!(r.stat("requests") - requests, 4, "a token, two 503s, then the answer");
    r.emu.fault("reset=2").unwrap();
    bin("apim-namedvalues", &r.emu)
        .arg("list")
        .write_stdin(r.services[0].to_string())
        .assert()
        .success();
    // More failures than retries: ARM's code and request id, exit 1.
    r.emu.fault("fail=100&fail-status=500&fail-retry-after=0").unwrap();
    bin("apim-namedvalues", &r.emu)
        .args(["get", "backend-host"])
        .write_stdin(r.services[0].to_string())
        .assert()
        .code(1)
        .stderr(contains("ServiceUnavailable").and(contains("request id")));
    r.emu.fault("fail=0").unwrap();
}

#[test]
fn a_backup_that_ends_failed_is_reported_and_never_marked() {
    let r = Rig::new();
    r.emu.fault("fail-next-operation=backup").unwrap();
    let writes = r.stat("writes");
    let out = r.backup_cmd(&r.services[0]).assert().code(1).stderr(
        contains("OperationFailed")
            .and(contains("backup failed"))
            .and(contains("request id")),
    );
    assert!(out.get_output().stdout.is_empty(), "no apim.backup for a failed backup");
    assert_eq!(r.stat("writes") - writes, 1, "one POST, not retried");
    assert_eq!(service_state(&r.emu, "apim-src"), "Succeeded", "the service is usable again");
    // Whatever the failed backup left in the container carries no success
    // mark, so neither prune nor restore will trust it.
    let blobs = apim_toolkit::with_azurite("apimbackups", async |c| c.list(&r.container, "apim-src-").await).unwrap();
    for b in blobs {
        let p = azurite_blob("apimbackups", &r.container, &b.name).unwrap().unwrap();
        assert!(!p.metadata.contains_key("apimtoolkit_status"), "{} is marked", b.name);
    }
    // A re-run backs up (under a name of its own: the failed one's blob is still there).
    r.backup_cmd(&r.services[0])
        .args(["--blob", "apim-src-rerun.apimbackup"])
        .assert()
        .success();
}

#[test]
fn a_restore_that_is_canceled_changes_nothing() {
    let r = Rig::new();
    let out = bin("apim-backup", &r.emu)
        .args(["--storage", &r.path("store.json")])
        .write_stdin(ndjson(&r.services))
        .assert()
        .success();
    let backups = docs(&out.get_output().stdout);
    let before = config(&r.emu, "apim-dest");
    r.emu.fault("fail-next-operation=restore&outcome=canceled").unwrap();
    bin("apim-restore", &r.emu)
        .args(["--target", &r.path("dest.json"), "--no-safety-backup"])
        .write_stdin(backups[0].to_string())
        .assert()
        .code(1)
        .stderr(contains("Canceled").and(contains("restore failed")));
    assert_eq!(
        config(&r.emu, "apim-dest"),
        before,
        "a canceled restore leaves the target as it was"
    );
    assert_eq!(service_state(&r.emu, "apim-dest"), "Succeeded");
}

#[test]
fn a_write_whose_answer_was_lost_is_not_a_conflict_on_retry() {
    let r = Rig::new();
    let plan = {
        let nvs = docs(
            &bin("apim-namedvalues", &r.emu)
                .arg("list")
                .write_stdin(r.services[1].to_string())
                .assert()
                .success()
                .get_output()
                .stdout,
        );
        docs(
            &bin("apim-namedvalues", &r.emu)
                .args(["rewrite", "--host", "api.dest.example.com=api.new.example.com"])
                .write_stdin(ndjson(&nvs))
                .assert()
                .success()
                .get_output()
                .stdout,
        )
    };
    assert_eq!(plan.len(), 1);
    // The PATCH is applied, and its answer lost: the client sends it again
    // (a conditional write is safe to repeat), meets 412, finds its value.
    r.emu.fault("lose-answer-to=backend-host").unwrap();
    let out = bin("apim-namedvalues", &r.emu)
        .arg("apply")
        .write_stdin(ndjson(&plan))
        .assert()
        .success();
    let done = docs(&out.get_output().stdout);
    assert_eq!(done[0]["status"], "applied", "{done:?}");
    let (_, _, nv) = r
        .emu
        .arm("GET", &nv_path("apim-dest", "namedValues", "backend-host"), None)
        .unwrap();
    assert_eq!(nv["properties"]["value"], "https://api.new.example.com/v1");
}

#[test]
fn a_backup_killed_outright_is_found_by_the_rerun() {
    let r = Rig::new();
    r.emu.set_time_scale(1.0).unwrap(); // ten minutes, until the test ends it
    let child = spawn(
        "apim-backup",
        &r.emu,
        &["--storage", &r.path("store.json")],
        &r.services[0].to_string(),
    );
    wait_until("the backup started", || service_state(&r.emu, "apim-src") == "Updating");
    signal(&child, "KILL");
    let killed = child.wait_with_output().unwrap();
    // The moment ARM accepted it, the backup was recorded in the state
    // directory (the log stays short): the kill leaves a way back.
    assert!(killed.stdout.is_empty());
    assert!(
        std::fs::read_dir(r.emu.state_dir()).unwrap().count() == 1,
        "recorded: {}",
        String::from_utf8_lossy(&killed.stderr)
    );
    // The re-run does not start a second backup onto the running one: it
    // refuses and says how to pick the first one up.
    let writes = r.stat("writes");
    r.backup_cmd(&r.services[0])
        .assert()
        .code(3)
        .stderr(contains("is Updating").and(contains("--resume")));
    assert_eq!(r.stat("writes"), writes);
    r.emu.finish_operations().unwrap();
    let resumed = docs(
        &bin("apim-backup", &r.emu)
            .arg("--resume")
            .write_stdin("")
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .remove(0);
    assert_eq!(resumed["kind"], "apim.backup", "the killed run's backup is recorded");
    r.emu.set_time_scale(0.0).unwrap();
    let b = docs(
        &r.backup_cmd(&r.services[0])
            .args(["--blob", "apim-src-rerun.apimbackup"])
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .remove(0);
    assert_eq!(b["kind"], "apim.backup");
}

#[test]
fn an_apply_killed_midway_converges_on_rerun_with_each_change_written_once() {
    let r = Rig::new();
    for i in 0..12 {
        let (s, _, body) = r
            .emu
            .arm(
                "PUT",
                &nv_path("apim-dest", "namedValues", &format!("host-{i}")),
                Some(&json!({"properties": {"displayName": format!("host-{i}"), "value": "https://api.dest.example.com/"}})),
            )
            .unwrap();
        assert!(s == 200 || s == 201, "{body}");
    }
    let plan_now = || {
        let nvs = docs(
            &bin("apim-namedvalues", &r.emu)
                .arg("list")
                .write_stdin(r.services[1].to_string())
                .assert()
                .success()
                .get_output()
                .stdout,
        );
        let out = bin("apim-namedvalues", &r.emu)
            .args(["rewrite", "--allow-unmatched", "--host", "api.dest.example.com=api.new.example.com"])
            .write_stdin(ndjson(&nvs))
            .assert()
            .success();
        docs(&out.get_output().stdout)
    };
    let plan = plan_now();
    assert_eq!(plan.len(), 13);
    let writes = r.stat("writes");
    r.emu.set_latency(150).unwrap();
    let mut child = spawn("apim-namedvalues", &r.emu, &["apply", "--parallel", "1"], &ndjson(&plan));
    wait_until("some changes were written", || r.stat("writes") - writes >= 3);
    signal(&child, "KILL");
    let _ = child.wait();
    r.emu.set_latency(0).unwrap();
    let written_before = r.stat("writes") - writes;
    assert!(written_before < 13, "killed midway");
    // The re-run plans only what is left, and applies it.
    let rest = plan_now();
    assert_eq!(rest.len() as u64, 13 - written_before, "nothing written twice");
    bin("apim-namedvalues", &r.emu)
        .arg("apply")
        .write_stdin(ndjson(&rest))
        .assert()
        .success();
    assert_eq!(r.stat("writes") - writes, 13, "every change written exactly once");
    assert!(plan_now().is_empty());
}

#[test]
fn a_diff_that_cannot_read_a_side_says_so_with_its_own_code() {
    let r = Rig::new();
    std::fs::write(r.path("src.json"), r.services[0].to_string()).unwrap();
    bin("apim-namedvalues", &r.emu)
        .args(["diff", &r.path("src.json"), &r.path("dest.json")])
        .assert()
        .code(1)
        .stderr(contains("differ").and(contains("error:").not()));
    r.emu.fault("fail=100&fail-status=500&fail-retry-after=0").unwrap();
    bin("apim-namedvalues", &r.emu)
        .args(["diff", &r.path("src.json"), &r.path("dest.json")])
        .assert()
        .code(5)
        .stderr(contains("the comparison could not be made").and(contains("HTTP 500")));
    r.emu.fault("fail=0").unwrap();
}

/// A restore of apim-src's backup onto apim-dest, with a safety backup
/// taken first at `time_scale`, caught while that backup runs: the child,
/// the backup being restored, and apim-dest's configuration before.
fn restore_during_its_safety_backup(r: &Rig, time_scale: f64) -> (std::process::Child, Value, Value) {
    let out = r.backup_cmd(&r.services[0]).assert().success();
    let src_backup = docs(&out.get_output().stdout).remove(0);
    let before = config(&r.emu, "apim-dest");
    r.emu.set_time_scale(time_scale).unwrap();
    let child = spawn(
        "apim-restore",
        &r.emu,
        &["--target", &r.path("dest.json"), "--take-safety-backup"],
        &src_backup.to_string(),
    );
    wait_until("the safety backup started", || service_state(&r.emu, "apim-dest") == "Updating");
    (child, src_backup, before)
}

#[test]
fn a_signal_during_the_safety_backup_prints_it_and_restores_nothing() {
    let r = Rig::new();
    // The safety backup takes ten minutes.
    let (child, _, before) = restore_during_its_safety_backup(&r, 1.0);
    signal(&child, "TERM");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(4), "{}", String::from_utf8_lossy(&out.stderr));
    let op = docs(&out.stdout).remove(0);
    assert_eq!(
        (op["kind"].as_str(), op["operation"].as_str()),
        (Some("apim.operation"), Some("backup"))
    );
    r.emu.finish_operations().unwrap();
    let safety = docs(
        &bin("apim-backup", &r.emu)
            .arg("--resume")
            .write_stdin(op.to_string())
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .remove(0);
    assert_eq!(safety["service"]["name"], "apim-dest");
    assert_eq!(config(&r.emu, "apim-dest"), before, "nothing was restored");
}

#[test]
fn a_blob_rewritten_while_the_safety_backup_ran_is_not_restored() {
    let r = Rig::new();
    // The safety backup takes six seconds: long enough to act meanwhile,
    // short enough that its poll's Retry-After does not slow the suite.
    let (child, src_backup, before) = restore_during_its_safety_backup(&r, 0.01);
    // Meanwhile someone rewrites the blob the rails approved.
    let (container, blob) = (r.container.clone(), src_backup["blob"].as_str().unwrap().to_string());
    apim_toolkit::with_azurite("apimbackups", async |c| {
        c.put_blob(&container, &blob, b"another instance".to_vec(), "application/octet-stream", true)
            .await
    })
    .unwrap();
    r.emu.finish_operations().unwrap();
    let out = child.wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains("changed while the safety backup ran"), "{err}");
    assert_eq!(
        docs(&out.stdout)[0]["kind"],
        "apim.backup",
        "the safety backup is recorded all the same"
    );
    r.emu.set_time_scale(0.0).unwrap();
    assert_eq!(config(&r.emu, "apim-dest"), before, "nothing was restored");
}
