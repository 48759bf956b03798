//! The paths Azure takes that the happy path never meets, exercised by the
//! real clients: long-running answers (a named value PATCH and
//! refreshSecret answering 202, a purge, a service PATCH) polled to their
//! end, deleted services kept by location, a second subscription and a
//! restore across subscriptions, PremiumV2, and ARM's 409
//! `PessimisticConcurrencyConflict` retried.

use crate::common::*;
use predicates::str::contains;
use serde_json::{json, Value};

const SECOND_SUB: &str = "00000000-0000-4000-8000-00000000b2b2";

#[test]
fn a_named_value_patch_answered_202_is_polled_and_its_etag_recorded() {
    let rig = Rig::new();
    rig.emu.fault("accepted-share=1").unwrap();
    let list = bin("apim-namedvalues", &rig.emu)
        .args(["list", "--service", &rig.path("dest.json")])
        .output()
        .unwrap();
    let plan = bin("apim-namedvalues", &rig.emu)
        .args(["rewrite", "--host", "api.dest.example.com=api.new.example.com"])
        .write_stdin(list.stdout)
        .output()
        .unwrap();
    assert!(plan.status.success(), "{}", String::from_utf8_lossy(&plan.stderr));
    let out = bin("apim-namedvalues", &rig.emu)
        .arg("apply")
        .write_stdin(plan.stdout)
        .output()
        .unwrap();
    let applied = docs(&out.stdout);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(
        !applied.is_empty() && applied.iter().all(|d| d["status"] == "applied"),
        "{applied:?}"
    );
    let etag = applied[0]["appliedEtag"].as_str().unwrap_or_default();
    assert!(
        !etag.is_empty(),
        "a 202 has no ETag: the entity's, read after, is recorded: {:?}",
        applied[0]
    );
    let (_, headers, nv) = rig
        .emu
        .arm(
            "GET",
            &nv_path("apim-dest", "namedValues", applied[0]["name"].as_str().unwrap()),
            None,
        )
        .unwrap();
    assert!(nv["properties"]["value"].as_str().unwrap().contains("api.new.example.com"));
    assert_eq!(headers["etag"].to_str().unwrap(), etag);
}

#[test]
fn contended_writes_are_retried_and_a_purge_is_polled_by_location() {
    let rig = Rig::new();
    // ARM's "another operation holds it": not processed, so even the
    // backup's POST goes again, and succeeds.
    rig.emu.fault("contended=2").unwrap();
    let b = rig.backup(&rig.services[1], &[]);
    assert_eq!(b["kind"], "apim.backup");
    let backups = rig.write("backups.ndjson", &[b]);
    bin("apim-provision", &rig.emu)
        .args(["delete", "--backups", &backups, "--purge"])
        .write_stdin(rig.services[1].to_string())
        .assert()
        .success();
    let deleted = |loc: &str| {
        let url = format!(
            "/subscriptions/{SUB}/providers/Microsoft.ApiManagement/locations/{loc}/deletedservices/apim-dest?api-version=2024-05-01"
        );
        rig.emu.arm("GET", &url, None).unwrap().0
    };
    assert_eq!(deleted("westeurope"), 404, "purged, after its operation was polled to the end");
    // A soft-deleted one is found only at its own location.
    bin("apim-provision", &rig.emu)
        .args(["delete", "--no-backup-check"])
        .write_stdin(rig.services[0].to_string())
        .assert()
        .success();
    let url = |loc: &str| {
        format!("/subscriptions/{SUB}/providers/Microsoft.ApiManagement/locations/{loc}/deletedservices/apim-src?api-version=2024-05-01")
    };
    assert_eq!(rig.emu.arm("GET", &url("westeurope"), None).unwrap().0, 200);
    assert_eq!(rig.emu.arm("GET", &url("northeurope"), None).unwrap().0, 404);
    let (st, headers, _) = rig.emu.arm("DELETE", &url("westeurope"), None).unwrap();
    assert_eq!(st, 202, "a purge is long-running");
    assert!(headers.get("location").is_some());
}

#[test]
fn a_restore_crosses_subscriptions_and_premium_v2_has_no_backup() {
    let rig = Rig::new();
    let (st, _, subs) = rig.emu.arm("GET", "/subscriptions?api-version=2022-12-01", None).unwrap();
    assert_eq!(st, 200);
    assert_eq!(subs["value"].as_array().unwrap().len(), 2);
    let out = bin("apim-provision", &rig.emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-other", "--subscription", SECOND_SUB])
        .assert()
        .success();
    let other = docs(&out.get_output().stdout).remove(0);
    assert!(other["id"].as_str().unwrap().contains(SECOND_SUB));
    let target = rig.write("other.json", std::slice::from_ref(&other));
    let backup = rig.backup(&rig.services[0], &[]);
    bin("apim-restore", &rig.emu)
        .args(["--target", &target, "--no-safety-backup", "--allow-emptying-target"])
        .write_stdin(backup.to_string())
        .assert()
        .success();
    let nv = format!(
        "/subscriptions/{SECOND_SUB}/resourceGroups/apim-rg/providers/Microsoft.ApiManagement/service/apim-other/namedValues/backend-host?api-version=2024-05-01"
    );
    let (st, _, body) = rig.emu.arm("GET", &nv, None).unwrap();
    assert_eq!(st, 200, "the source's configuration is on the other subscription's service: {body}");
    assert_eq!(body["properties"]["value"], "https://api.src.example.com/v1");

    let out = bin("apim-provision", &rig.emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-v2", "--sku", "PremiumV2"])
        .assert()
        .success();
    let v2: Value = docs(&out.get_output().stdout).remove(0);
    assert_eq!(v2["sku"]["name"], "PremiumV2");
    bin("apim-backup", &rig.emu)
        .args(["--storage", &rig.path("store.json")])
        .write_stdin(v2.to_string())
        .assert()
        .success()
        .stderr(contains("the PremiumV2 tier has no backup and restore"));
    let post = format!("{}/backup?api-version=2024-05-01", v2["id"].as_str().unwrap());
    let (st, _, b) = rig
        .emu
        .arm("POST", &post, Some(&json!({"storageAccount": "apimbackups", "containerName": rig.container, "backupName": "x", "accessType": "AccessKey", "accessKey": "k"})))
        .unwrap();
    assert_eq!((st, b["error"]["code"].as_str()), (400, Some("MethodNotAllowedInPricingTier")));
}
