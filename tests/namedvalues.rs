//! apim-namedvalues end to end: list | rewrite | apply against the emulator.

use crate::common::*;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use serde_json::{json, Value};

const SECRET: &str = "Bearer s3cr3t-token from https://api.src.example.com/token";

fn put_nv(emu: &apim_toolkit::EmulatorProcess, service: &str, id: &str, props: Value) {
    let (s, _, b) = emu
        .arm("PUT", &nv_path(service, "namedValues", id), Some(&json!({"properties": props})))
        .unwrap();
    assert!(s == 200 || s == 201, "{id}: {s} {b}");
}

fn setup() -> (apim_toolkit::EmulatorProcess, Value, tempfile::TempDir) {
    let emu = emulator(0.0);
    let out = bin("apim-provision", &emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-dest"])
        .assert()
        .success();
    let svc = docs(&out.get_output().stdout).remove(0);
    put_nv(
        &emu,
        "apim-dest",
        "backend-host",
        json!({"displayName": "backend-host", "value": "https://api.src.example.com:8443/v1", "tags": ["env"]}),
    );
    put_nv(
        &emu,
        "apim-dest",
        "lookalike",
        json!({"displayName": "lookalike", "value": "https://myapi.src.example.com/ and api.src.example.com.evil"}),
    );
    put_nv(
        &emu,
        "apim-dest",
        "auth-header",
        json!({"displayName": "auth-header", "value": SECRET, "secret": true}),
    );
    put_nv(
        &emu,
        "apim-dest",
        "kv-ref",
        json!({"displayName": "kv-ref", "keyVault": {"secretIdentifier": "https://kv-src.vault.azure.net/secrets/api-key", "identityClientId": "11111111-1111-1111-1111-111111111111"}}),
    );
    put_nv(&emu, "apim-dest", "unrelated", json!({"displayName": "unrelated", "value": "42"}));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("dest.json"), svc.to_string()).unwrap();
    (emu, svc, dir)
}

fn get(emu: &apim_toolkit::EmulatorProcess, id: &str) -> Value {
    emu.arm("GET", &nv_path("apim-dest", "namedValues", id), None).unwrap().2
}

fn secret(emu: &apim_toolkit::EmulatorProcess, id: &str) -> String {
    let (_, _, v) = emu
        .arm(
            "POST",
            &nv_path("apim-dest", "namedValues", id).replace("?api", "/listValue?api"),
            None,
        )
        .unwrap();
    v["value"].as_str().unwrap().to_string()
}

/// The service's named values, as `apim-namedvalues list` prints them.
fn listed(emu: &apim_toolkit::EmulatorProcess, svc: &Value) -> Vec<Value> {
    docs(
        &bin("apim-namedvalues", emu)
            .arg("list")
            .write_stdin(svc.to_string())
            .assert()
            .success()
            .get_output()
            .stdout,
    )
}

/// Runs `list` as given, then `rewrite` with [`RULES`]; returns the plan.
fn list_and_plan(emu: &apim_toolkit::EmulatorProcess, list: &mut assert_cmd::Command) -> Vec<Value> {
    let nvs = docs(&list.assert().success().get_output().stdout);
    let out = bin("apim-namedvalues", emu)
        .arg("rewrite")
        .args(RULES)
        .write_stdin(ndjson(&nvs))
        .assert()
        .success();
    docs(&out.get_output().stdout)
}

const RULES: [&str; 6] = [
    "--host",
    "api.src.example.com=api.dest.example.com",
    "--host",
    "kv-src.vault.azure.net=kv-dest.vault.azure.net",
    "--rewrite-identity",
    "11111111-1111-1111-1111-111111111111=22222222-2222-2222-2222-222222222222",
];

#[test]
fn the_old_spelling_of_the_identity_rule_still_works_with_a_warning() {
    let (emu, svc, _dir) = setup();
    let nvs = listed(&emu, &svc);
    let plan_with = |rules: &[&str]| {
        let out = bin("apim-namedvalues", &emu)
            .arg("rewrite")
            .args(rules)
            .write_stdin(ndjson(&nvs))
            .assert()
            .success();
        let o = out.get_output();
        (docs(&o.stdout), String::from_utf8_lossy(&o.stderr).into_owned())
    };
    let (new, quiet) = plan_with(&RULES);
    let mut old_rules = RULES;
    old_rules[4] = "--identity-client-id";
    let (old, warned) = plan_with(&old_rules);
    assert_eq!(old, new, "the same plan either way");
    assert!(!quiet.contains("warning"), "{quiet}");
    assert!(
        warned.contains("apim-namedvalues: warning: --identity-client-id is now --rewrite-identity"),
        "{warned}"
    );
    assert!(new.iter().any(|c| c["rulesFired"].to_string().contains("identity")), "{new:?}");
}

#[test]
fn rewrite_and_apply_fix_exactly_the_old_hosts_and_keep_secrets_secret() {
    let (emu, svc, _dir) = setup();
    let mut all_output = String::new();
    let mut run = |args: &[&str], stdin: String| -> Vec<Value> {
        let out = bin("apim-namedvalues", &emu).args(args).write_stdin(stdin).assert().success();
        all_output.push_str(&String::from_utf8_lossy(&out.get_output().stdout));
        all_output.push_str(&String::from_utf8_lossy(&out.get_output().stderr));
        docs(&out.get_output().stdout)
    };
    let nvs = run(&["list"], svc.to_string());
    assert_eq!(
        nvs.iter().map(|d| d["name"].as_str().unwrap()).collect::<Vec<_>>(),
        ["auth-header", "backend-host", "kv-ref", "lookalike", "unrelated"],
        "sorted by name"
    );
    let auth = &nvs[0];
    assert_eq!((auth["secret"].clone(), auth["value"].clone()), (json!(true), Value::Null));

    let mut args = vec!["rewrite"];
    args.extend(RULES);
    let plan = run(&args, ndjson(&nvs));
    assert_eq!(
        plan.iter().map(|d| d["name"].as_str().unwrap()).collect::<Vec<_>>(),
        ["auth-header", "backend-host", "kv-ref"]
    );
    assert!(plan.iter().all(|d| d["kind"] == "apim.namedvalue.change"));
    assert_eq!(plan[1]["after"]["value"], "https://api.dest.example.com:8443/v1");
    assert_eq!(plan[1]["rulesFired"], json!(["--host api.src.example.com=api.dest.example.com"]));
    assert_eq!(plan[0]["after"]["value"], Value::Null);
    // A secret's sides carry nothing to test a guess against: no value, no digest.
    assert_eq!(
        (&plan[0]["before"], &plan[0]["after"]),
        (&json!({"value": null}), &json!({"value": null}))
    );

    let applied = run(&["apply"], ndjson(&plan));
    assert!(applied.iter().all(|d| d["status"] == "applied"), "{applied:?}");
    let kv_change = applied.iter().find(|d| d["name"] == "kv-ref").unwrap();
    // The rule moved it to an identity the service does not have: written,
    // and the refresh after the write says the vault cannot be read.
    assert!(
        kv_change["message"].as_str().unwrap().contains("refreshed: IdentityNotFound"),
        "{kv_change}"
    );

    assert_eq!(
        get(&emu, "backend-host")["properties"]["value"],
        "https://api.dest.example.com:8443/v1"
    );
    assert_eq!(
        get(&emu, "lookalike")["properties"]["value"],
        "https://myapi.src.example.com/ and api.src.example.com.evil"
    );
    assert_eq!(get(&emu, "unrelated")["properties"]["value"], "42");
    assert_eq!(
        secret(&emu, "auth-header"),
        "Bearer s3cr3t-token from https://api.dest.example.com/token"
    );
    let kv = get(&emu, "kv-ref")["properties"]["keyVault"].clone();
    assert_eq!(kv["secretIdentifier"], "https://kv-dest.vault.azure.net/secrets/api-key");
    assert_eq!(kv["identityClientId"], "22222222-2222-2222-2222-222222222222");
    assert_eq!(kv["lastStatus"]["code"], "IdentityNotFound");

    // The same plan applied again (a re-run, a lost answer): already
    // applied, not a conflict. A plan value is compared; a secret (whose
    // plan holds nothing of it) is known by the ETag this run's write made.
    let writes = emu.stats().unwrap()["writes"].as_u64().unwrap();
    let again = run(&["apply"], ndjson(&plan));
    assert_eq!(again.len(), plan.len());
    for d in &again {
        let message = d["message"].as_str().unwrap_or_default();
        assert_eq!(d["status"], "applied", "{d}");
        assert!(message.starts_with("already applied"), "{d}");
    }
    assert_eq!(emu.stats().unwrap()["writes"].as_u64().unwrap(), writes, "nothing written twice");

    // Running again: an empty plan, exit 0.
    let nvs = run(&["list"], svc.to_string());
    let mut args = vec!["rewrite"];
    args.extend(RULES);
    assert!(run(&args, ndjson(&nvs)).is_empty());
    // No secret text reached any output.
    assert!(!all_output.contains("s3cr3t"), "a secret leaked: {all_output}");
}

#[test]
fn reveal_secrets_is_explicit() {
    let (emu, svc, _dir) = setup();
    let out = bin("apim-namedvalues", &emu)
        .args(["list", "--reveal-secrets"])
        .write_stdin(svc.to_string())
        .assert()
        .success();
    assert_eq!(docs(&out.get_output().stdout)[0]["value"], SECRET);
    let out = bin("apim-namedvalues", &emu)
        .args(["get", "auth-header"])
        .write_stdin(svc.to_string())
        .assert()
        .success();
    let d = docs(&out.get_output().stdout).remove(0);
    assert_eq!(d["value"], Value::Null);
    assert!(d["etag"].as_str().is_some_and(|e| !e.is_empty()));
}

#[test]
fn a_change_made_after_the_plan_is_a_conflict_and_the_rest_applies() {
    let (emu, svc, _dir) = setup();
    let plan = list_and_plan(&emu, bin("apim-namedvalues", &emu).arg("list").write_stdin(svc.to_string()));
    // Someone edits backend-host between rewrite and apply.
    put_nv(
        &emu,
        "apim-dest",
        "backend-host",
        json!({"displayName": "backend-host", "value": "https://api.src.example.com/edited", "tags": ["env"]}),
    );
    emu.throttle(6).unwrap(); // and ARM throttles meanwhile
    let out = bin("apim-namedvalues", &emu)
        .arg("apply")
        .write_stdin(ndjson(&plan))
        .assert()
        .code(1)
        .stderr(contains("changed since the plan"));
    let results = docs(&out.get_output().stdout);
    // Results come as each write ends; which one ended first does not matter.
    let mut status: Vec<(&str, &str)> = results
        .iter()
        .map(|d| (d["name"].as_str().unwrap(), d["status"].as_str().unwrap()))
        .collect();
    status.sort();
    assert_eq!(
        status,
        [("auth-header", "applied"), ("backend-host", "conflict"), ("kv-ref", "applied")]
    );
    assert_eq!(
        get(&emu, "backend-host")["properties"]["value"],
        "https://api.src.example.com/edited",
        "the edit is kept"
    );
}

#[test]
fn paging_filters_and_a_429_storm() {
    let emu = emulator(0.0);
    bin("apim-provision", &emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-dest"])
        .assert()
        .success();
    let svc = docs(
        &bin("apim-provision", &emu)
            .args(SERVICE_ARGS)
            .args(["--name", "apim-dest"])
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .remove(0);
    // Seeding is the test's set-up, not a client under ARM's budget.
    emu.fault("arm-limits=off").unwrap();
    for i in 0..250 {
        put_nv(
            &emu,
            "apim-dest",
            &format!("nv-{i:03}"),
            json!({"displayName": format!("nv-{i:03}"), "value": format!("https://api.src.example.com/{i}"), "tags": if i % 50 == 0 { json!(["fifty"]) } else { json!([]) }}),
        );
    }
    // 250 items are 3 pages of 100.
    let (_, _, page) = emu.arm("GET", &format!("/subscriptions/{SUB}/resourceGroups/apim-rg/providers/Microsoft.ApiManagement/service/apim-dest/namedValues?api-version=2024-05-01"), None).unwrap();
    assert_eq!((page["value"].as_array().unwrap().len(), page["count"].as_u64()), (100, Some(250)));
    assert!(page["nextLink"].as_str().unwrap().contains("%24skip=100") || page["nextLink"].as_str().unwrap().contains("$skip=100"));
    emu.fault("arm-limits=azure").unwrap();
    emu.throttle(10).unwrap();
    let out = bin("apim-namedvalues", &emu)
        .arg("list")
        .write_stdin(svc.to_string())
        .assert()
        .success();
    let all = docs(&out.get_output().stdout);
    assert_eq!(all.len(), 250);
    assert_eq!(all[249]["name"], "nv-249");
    let out = bin("apim-namedvalues", &emu)
        .args(["list", "--tag", "fifty"])
        .write_stdin(svc.to_string())
        .assert()
        .success();
    assert_eq!(docs(&out.get_output().stdout).len(), 5);
    let out = bin("apim-namedvalues", &emu)
        .args(["list", "--filter", "startswith(properties/displayName,'nv-24')"])
        .write_stdin(svc.to_string())
        .assert()
        .success();
    assert_eq!(docs(&out.get_output().stdout).len(), 10);
}

#[test]
fn bad_plans_and_typos() {
    let (emu, svc, _dir) = setup();
    let writes = emu.stats().unwrap()["writes"].clone();
    bin("apim-namedvalues", &emu)
        .arg("apply")
        .write_stdin("{\"kind\":\"apim.namedvalue.change\"")
        .assert()
        .code(2)
        .stderr(contains("malformed JSON"));
    bin("apim-namedvalues", &emu)
        .arg("apply")
        .write_stdin(svc.to_string())
        .assert()
        .code(2)
        .stderr(contains("expected an 'apim.namedvalue.change'"));
    assert_eq!(emu.stats().unwrap()["writes"], writes, "nothing written");

    let nvs = listed(&emu, &svc);
    bin("apim-namedvalues", &emu)
        .args(["rewrite", "--host", "api.src.exmaple.com=api.dest.example.com"])
        .write_stdin(ndjson(&nvs))
        .assert()
        .code(2)
        .stderr(contains("--host api.src.exmaple.com=api.dest.example.com").and(contains("--allow-unmatched")));
    bin("apim-namedvalues", &emu)
        .args(["rewrite", "--host", "api.src.exmaple.com=x", "--allow-unmatched"])
        .write_stdin(ndjson(&nvs))
        .assert()
        .success()
        .stdout("");
    bin("apim-namedvalues", &emu)
        .args(["rewrite", "--regex", "(unclosed=x"])
        .write_stdin(ndjson(&nvs))
        .assert()
        .code(2);
    bin("apim-namedvalues", &emu)
        .args(["rewrite"])
        .write_stdin(ndjson(&nvs))
        .assert()
        .code(2)
        .stderr(contains("no rules"));
}

#[test]
fn diff_two_instances() {
    let (emu, svc, dir) = setup();
    bin("apim-provision", &emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-twin"])
        .assert()
        .success();
    let twin = docs(
        &bin("apim-provision", &emu)
            .args(SERVICE_ARGS)
            .args(["--name", "apim-twin"])
            .assert()
            .success()
            .get_output()
            .stdout,
    )
    .remove(0);
    for id in ["backend-host", "lookalike", "auth-header", "kv-ref", "unrelated"] {
        let (_, _, mut body) = emu.arm("GET", &nv_path("apim-dest", "namedValues", id), None).unwrap();
        if body["properties"]["secret"] == json!(true) {
            body["properties"]["value"] = json!(secret(&emu, id));
        }
        let (s, _, _) = emu
            .arm(
                "PUT",
                &nv_path("apim-twin", "namedValues", id),
                Some(&json!({"properties": body["properties"]})),
            )
            .unwrap();
        assert!(s == 201);
    }
    let twin_file = dir.path().join("twin.json");
    std::fs::write(&twin_file, twin.to_string()).unwrap();
    let dest_file = dir.path().join("dest.json");
    bin("apim-namedvalues", &emu)
        .arg("diff")
        .arg(&dest_file)
        .arg(&twin_file)
        .assert()
        .success()
        .stdout("");
    put_nv(
        &emu,
        "apim-twin",
        "auth-header",
        json!({"displayName": "auth-header", "value": "another-secret", "secret": true}),
    );
    put_nv(&emu, "apim-twin", "extra", json!({"displayName": "extra", "value": "x"}));
    let out = bin("apim-namedvalues", &emu)
        .arg("diff")
        .arg(&dest_file)
        .arg(&twin_file)
        .assert()
        .code(1);
    // The comparison is apim-diff's, restricted to named values.
    let d = docs(&out.get_output().stdout);
    let what: Vec<(&str, &str)> = d
        .iter()
        .map(|x| (x["path"].as_str().unwrap(), x["difference"].as_str().unwrap()))
        .collect();
    assert_eq!(
        what,
        [("namedValues/auth-header", "changed"), ("namedValues/extra", "missing-in-a")]
    );
    assert!(d.iter().all(|x| x["kind"] == "apim.difference"), "{d:?}");
    assert_eq!(d[0]["secret"], true, "a secret difference says only that it differs");
    assert!(d[0].get("a").is_none() && d[0].get("b").is_none(), "{}", d[0]);
    assert!(!String::from_utf8_lossy(&out.get_output().stdout).contains("another-secret"));
    let stderr = String::from_utf8_lossy(&out.get_output().stderr);
    assert!(!stderr.contains("error:"), "differences are an outcome, not an error: {stderr}");
    let _ = svc;
}

#[test]
fn dry_run_checks_and_writes_nothing() {
    let (emu, svc, dir) = setup();
    let plan = list_and_plan(
        &emu,
        bin("apim-namedvalues", &emu)
            .args(["list", "--service"])
            .arg(dir.path().join("dest.json")),
    );
    let writes = emu.stats().unwrap()["writes"].clone();
    let out = bin("apim-namedvalues", &emu)
        .args(["apply", "--dry-run"])
        .write_stdin(ndjson(&plan))
        .assert()
        .success();
    assert!(docs(&out.get_output().stdout).iter().all(|d| d["status"] == "dry-run"));
    assert_eq!(emu.stats().unwrap()["writes"], writes);
    assert_eq!(
        get(&emu, "backend-host")["properties"]["value"],
        "https://api.src.example.com:8443/v1"
    );
    bin("apim-namedvalues", &emu)
        .args(["get", "no-such"])
        .write_stdin(svc.to_string())
        .assert()
        .code(1)
        .stderr(contains("does not exist"));
}

#[test]
fn apply_stops_at_its_timeout_and_a_rerun_finishes_the_rest() {
    let (emu, svc, _dir) = setup();
    for i in 0..6 {
        put_nv(
            &emu,
            "apim-dest",
            &format!("host-{i}"),
            json!({"displayName": format!("host-{i}"), "value": "https://api.src.example.com/"}),
        );
    }
    let plan = list_and_plan(&emu, bin("apim-namedvalues", &emu).arg("list").write_stdin(svc.to_string()));
    assert!(plan.len() >= 8, "{plan:?}");
    emu.set_latency(300).unwrap();
    let out = bin("apim-namedvalues", &emu)
        .args(["apply", "--parallel", "1", "--timeout", "1s"])
        .write_stdin(ndjson(&plan))
        .assert()
        .code(4)
        .stderr(contains("apply again"));
    emu.set_latency(0).unwrap();
    let results = docs(&out.get_output().stdout);
    assert_eq!(results.len(), plan.len(), "every change is accounted for");
    let status = |s: &str| results.iter().filter(|c| c["status"] == s).count();
    assert!(status("not-applied") >= 5, "{results:?}");
    for c in &results {
        let name = c["name"].as_str().unwrap();
        let now = get(&emu, name)["properties"]["value"].clone();
        match c["status"].as_str().unwrap() {
            "not-applied" if !c["secret"].as_bool().unwrap() => {
                assert_eq!(now, c["before"]["value"], "{name} was not written")
            }
            "applied" | "accepted" if !c["secret"].as_bool().unwrap() && c["after"]["value"].is_string() => {
                assert_eq!(now, c["after"]["value"], "{name} was written")
            }
            _ => {}
        }
    }
    // The documented way to finish: plan again from what is there now.
    let plan = list_and_plan(&emu, bin("apim-namedvalues", &emu).arg("list").write_stdin(svc.to_string()));
    bin("apim-namedvalues", &emu)
        .arg("apply")
        .write_stdin(ndjson(&plan))
        .assert()
        .success();
    for i in 0..6 {
        assert_eq!(
            get(&emu, &format!("host-{i}"))["properties"]["value"],
            "https://api.dest.example.com/"
        );
    }
    assert!(secret(&emu, "auth-header").contains("api.dest.example.com"));
    let again = list_and_plan(&emu, bin("apim-namedvalues", &emu).arg("list").write_stdin(svc.to_string()));
    assert!(again.is_empty(), "converged: {again:?}");
}

#[test]
fn a_change_made_between_list_and_rewrite_is_never_overwritten() {
    let (emu, svc, _dir) = setup();
    // The documented two-step flow: list now, rewrite later.
    let listed = listed(&emu, &svc);
    // Meanwhile a colleague changes a value the rules would rewrite.
    let colleague = "https://api.src.example.com:9443/v2";
    put_nv(
        &emu,
        "apim-dest",
        "backend-host",
        json!({"displayName": "backend-host", "value": colleague, "tags": ["env"]}),
    );
    let writes = emu.stats().unwrap()["writes"].as_u64().unwrap();
    let out = bin("apim-namedvalues", &emu)
        .arg("rewrite")
        .args(RULES)
        .write_stdin(ndjson(&listed))
        .assert()
        .code(3)
        .stderr(contains("backend-host").and(contains("list them again")));
    assert!(out.get_output().stdout.is_empty(), "no plan is printed");
    assert_eq!(get(&emu, "backend-host")["properties"]["value"], colleague);
    assert_eq!(emu.stats().unwrap()["writes"].as_u64().unwrap(), writes);
}

#[test]
fn import_creates_and_never_overwrites() {
    let (emu, _svc, dir) = setup();
    let dest = dir.path().join("dest.json");
    let input = [
        json!({"kind": "apim.namedvalue", "schemaVersion": 1, "name": "new-host", "displayName": "new-host",
            "value": "https://api.src.example.com/new", "secret": false, "tags": ["env"]}),
        json!({"kind": "apim.namedvalue", "schemaVersion": 1, "name": "new-secret", "displayName": "new-secret",
            "value": "imp0rted-s3cret", "secret": true}),
    ];
    let out = bin("apim-namedvalues", &emu)
        .args(["import", "--service", dest.to_str().unwrap()])
        .write_stdin(ndjson(&input))
        .assert()
        .success();
    let made = docs(&out.get_output().stdout);
    assert_eq!(made.len(), 2);
    assert!(!String::from_utf8_lossy(&out.get_output().stdout).contains("imp0rted"));
    assert_eq!(get(&emu, "new-host")["properties"]["value"], "https://api.src.example.com/new");
    assert_eq!(secret(&emu, "new-secret"), "imp0rted-s3cret");
    // The same import again (its answer lost, or run twice): what is there
    // as described counts as imported; a corrected re-run finishes the rest.
    let third =
        json!({"kind": "apim.namedvalue", "schemaVersion": 1, "name": "third", "displayName": "third", "value": "3", "secret": false});
    let writes = emu.stats().unwrap()["writes"].as_u64().unwrap();
    let out = bin("apim-namedvalues", &emu)
        .args(["import", "--service", dest.to_str().unwrap()])
        .write_stdin(ndjson(&[input[0].clone(), input[1].clone(), third.clone()]))
        .assert()
        .success();
    let again = docs(&out.get_output().stdout);
    assert_eq!(
        again.iter().map(|d| d["name"].as_str().unwrap()).collect::<Vec<_>>(),
        ["new-host", "new-secret", "third"]
    );
    assert_eq!(
        emu.stats().unwrap()["writes"].as_u64().unwrap(),
        writes + 1,
        "only the missing one is written"
    );
    // Again, with another value: what exists is left alone, exit 3, and
    // nothing else of the import is written either.
    let mut changed = input[0].clone();
    changed["value"] = json!("https://other.example.com/");
    let fourth =
        json!({"kind": "apim.namedvalue", "schemaVersion": 1, "name": "fourth", "displayName": "fourth", "value": "4", "secret": false});
    bin("apim-namedvalues", &emu)
        .args(["import", "--service", dest.to_str().unwrap()])
        .write_stdin(ndjson(&[fourth, changed]))
        .assert()
        .code(3)
        .stderr(contains("exist already").and(contains("new-host")));
    assert_eq!(get(&emu, "new-host")["properties"]["value"], "https://api.src.example.com/new");
    let (status, _, _) = emu.arm("GET", &nv_path("apim-dest", "namedValues", "fourth"), None).unwrap();
    assert_eq!(status, 404, "checked before anything was written");
    // A display name another named value holds is taken too.
    let mut clash = third.clone();
    clash["name"] = json!("third-again");
    bin("apim-namedvalues", &emu)
        .args(["import", "--service", dest.to_str().unwrap()])
        .write_stdin(clash.to_string())
        .assert()
        .code(3)
        .stderr(contains("display name 'third' is taken"));
    // A secret without its value is bad input.
    let mut empty = input[1].clone();
    empty["value"] = Value::Null;
    bin("apim-namedvalues", &emu)
        .args(["import", "--service", dest.to_str().unwrap()])
        .write_stdin(empty.to_string())
        .assert()
        .code(2)
        .stderr(contains("has no value"));
}

#[test]
fn a_host_rule_written_the_wrong_way_round_is_called_out() {
    let (emu, svc, _dir) = setup();
    let nvs = listed(&emu, &svc);
    bin("apim-namedvalues", &emu)
        .args(["rewrite", "--host", "api.dest.example.com=api.src.example.com"])
        .write_stdin(ndjson(&nvs))
        .assert()
        .success()
        .stdout("")
        .stderr(contains("api.src.example.com is used and api.dest.example.com nowhere").and(contains("the wrong way round?")));
}
