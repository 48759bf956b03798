//! `apim-sync`: a copy through the management API, onto any tier, with
//! the source only read; proven by `apim-diff --expect-host`.

use crate::common::*;
use crate::families::{apim_diff, every_family, list_secrets, put, sid, MARK, NEW, OLD};
use serde_json::{json, Value};
use std::sync::atomic::{AtomicBool, Ordering};

/// A new, empty service of this tier with a system identity (its Key
/// Vault references read with it); its apim.service document's path.
fn target(rig: &Rig, name: &str, sku: &str) -> String {
    let doc = bare_target(rig, name, sku);
    system_identity(rig, name);
    doc
}

/// Turns on the service's system identity, as the source's copy needs.
fn system_identity(rig: &Rig, name: &str) {
    let (_, _, mut body) = rig.emu.arm("GET", &service_path(name), None).unwrap();
    body["identity"] = json!({"type": "SystemAssigned"});
    let (st, _, b) = rig.emu.arm("PUT", &service_path(name), Some(&body)).unwrap();
    assert_eq!(st, 200, "{b}");
    wait_until("the identity", || service_state(&rig.emu, name) == "Succeeded");
}

/// The source with every family, and an identity its Key Vault references read with.
fn every_family_source(rig: &Rig) -> Vec<(String, Value, bool)> {
    system_identity(rig, "apim-src");
    let table = every_family(&sid(rig, "apim-src"), OLD);
    for (path, props, _) in &table {
        put(rig, "apim-src", path, props);
    }
    table
}

/// The same without an identity.
fn bare_target(rig: &Rig, name: &str, sku: &str) -> String {
    let capacity = if sku == "Consumption" { "0" } else { "1" };
    let out = bin("apim-provision", &rig.emu)
        .args(SERVICE_ARGS)
        .args(["--name", name, "--sku", sku, "--capacity", capacity])
        .assert()
        .success();
    rig.write(&format!("{name}.json"), &docs(&out.get_output().stdout))
}

struct Ran {
    code: i32,
    docs: Vec<Value>,
    stdout: String,
    stderr: String,
}

fn sync(rig: &Rig, args: &[&str], stdin: &str) -> Ran {
    let out = bin("apim-sync", &rig.emu).args(args).write_stdin(stdin).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    Ran {
        code: out.status.code().unwrap_or(-1),
        docs: docs(&out.stdout),
        stdout,
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn plan(rig: &Rig, target: &str, extra: &[&str]) -> Ran {
    let src = rig.path("src.json");
    let host = format!("{OLD}={NEW}");
    let mut args = vec!["plan", "--source", &src, "--target", target, "--host", &host];
    args.extend_from_slice(extra);
    let r = sync(rig, &args, "");
    assert!(!r.stdout.contains(MARK) && !r.stderr.contains(MARK), "a plan holds no secret");
    r
}

fn kind<'a>(docs: &'a [Value], k: &str) -> Vec<&'a Value> {
    docs.iter().filter(|d| d["kind"] == k).collect()
}

/// Every entity's ETag, as a GET shows it: a copy must leave the source's alone.
fn etags(rig: &Rig, service: &str, paths: &[String]) -> Vec<String> {
    paths
        .iter()
        .map(|p| {
            rig.emu
                .arm("GET", &entity_path(service, p), None)
                .unwrap()
                .1
                .get("etag")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default()
                .to_string()
        })
        .collect()
}

#[test]
fn a_classic_instance_is_copied_onto_every_tier_with_the_source_only_read() {
    let rig = Rig::new();
    // Pacing is the benchmark's subject (cargo xtask bench sync), not this test's.
    rig.emu.fault("arm-limits=off").unwrap();
    let table = every_family_source(&rig);
    let paths: Vec<String> = table.iter().map(|(p, _, _)| p.clone()).collect();
    let before = etags(&rig, "apim-src", &paths);

    // The source's state, watched for the whole copy.
    let left_succeeded = AtomicBool::new(false);
    let done = AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::Relaxed) {
                // A throttled read says nothing of the state.
                let state = service_state(&rig.emu, "apim-src");
                if !state.is_empty() && state != "Succeeded" {
                    left_succeeded.store(true, Ordering::Relaxed);
                }
                std::thread::sleep(std::time::Duration::from_millis(300));
            }
        });
        // Ends the watch even when the copy fails an assertion.
        struct Ends<'a>(&'a AtomicBool);
        impl Drop for Ends<'_> {
            fn drop(&mut self) {
                self.0.store(true, Ordering::Relaxed);
            }
        }
        let _ends = Ends(&done);
        copy_onto_every_tier(&rig, &table);
    });
    assert!(!left_succeeded.load(Ordering::Relaxed), "the source left Succeeded during the copy");
    assert_eq!(etags(&rig, "apim-src", &paths), before, "the source's entities were not written");
}

fn copy_onto_every_tier(rig: &Rig, table: &[(String, Value, bool)]) {
    for (name, sku) in [("apim-v2", "StandardV2"), ("apim-p2", "PremiumV2"), ("apim-cons", "Consumption")] {
        let dest = target(rig, name, sku);
        // These tiers have no backup at all, as on Azure: a copy is the only way.
        for action in ["backup", "restore"] {
            let (s, _, b) = rig.emu.arm("POST", &entity_path(name, action), Some(&json!({}))).unwrap();
            assert_eq!(
                (s, b["error"]["code"].as_str()),
                (400, Some("MethodNotAllowedInPricingTier")),
                "{name} {action}"
            );
        }
        let p = plan(rig, &dest, &[]);
        assert_eq!(p.code, 0, "{name}: {}", p.stderr);
        let changes = kind(&p.docs, "apim.sync.change");
        assert!(changes.len() >= table.len(), "{name}: {} changes", changes.len());
        assert!(changes.iter().all(|c| c["action"] == "create"));
        // What cannot be read is a gap naming the fix, not a silent loss.
        let gaps = kind(&p.docs, "apim.sync.gap");
        let gap_paths: Vec<&str> = gaps.iter().map(|g| g["path"].as_str().unwrap()).collect();
        for expected in ["certificates/backend-ca", "users/alice", "authorizationProviders/aad-graph"] {
            assert!(gap_paths.contains(&expected), "{name}: no gap for {expected}: {gap_paths:?}");
        }
        assert!(gaps.iter().all(|g| !g["fix"].as_str().unwrap().is_empty()));
        // Secrets are named, never held.
        let nv = changes.iter().find(|c| c["path"] == "namedValues/client-secret").unwrap();
        assert_eq!(nv["secrets"], json!(["/value"]));
        assert!(nv["after"].get("value").is_none());

        let a = sync(rig, &["apply"], &p.stdout);
        assert_eq!(a.code, 0, "{name}: {}", a.stderr);
        assert!(!a.stdout.contains(MARK) && !a.stderr.contains(MARK));
        let applied = kind(&a.docs, "apim.sync.change");
        assert_eq!(applied.len(), changes.len());
        assert!(applied.iter().all(|c| c["status"] == "applied"), "{name}: {applied:?}");
        assert!(a.stderr.contains("apim.sync.gap"), "{}", a.stderr);

        // The secrets came across, hosts rewritten where they held one.
        assert_eq!(
            list_secrets(rig, name, "subscriptions/partner-key")["primaryKey"],
            format!("{MARK}-primary")
        );
        assert_eq!(
            list_secrets(rig, name, "authorizationServers/corp")["clientSecret"],
            format!("{MARK}-as")
        );
        let (_, _, v) = rig
            .emu
            .arm("POST", &entity_path(name, "namedValues/client-secret/listValue"), None)
            .unwrap();
        assert_eq!(v["value"], "s3cr3t-src");

        // What needs the certificate waits for it: the gap's fix, by
        // hand, then plan and apply again; the copy is then the source,
        // hosts rewritten.
        assert!(gap_paths.contains(&"gateways/onprem/hostnameConfigurations/default"));
        let (path, props, _) = table.iter().find(|(p, _, _)| p == "certificates/backend-ca").unwrap();
        put(rig, name, path, props);
        let rest = plan(rig, &dest, &[]);
        assert_eq!(kind(&rest.docs, "apim.sync.change").len(), 2, "{} {}", rest.stdout, rest.stderr);
        assert_eq!(sync(rig, &["apply"], &rest.stdout).code, 0);
        let (code, out, _, err) = apim_diff(rig, &["--expect-host", &format!("{OLD}={NEW}"), &rig.path("src.json"), &dest]);
        assert_eq!((code, out.len()), (0, 0), "{name}: {out:?} {err}");

        // A second plan has nothing left to do.
        let again = plan(rig, &dest, &[]);
        assert_eq!((again.code, again.docs.len()), (0, 0), "{name}: {:?} {}", again.docs, again.stderr);
    }
}

#[test]
fn right_after_a_restore_the_plan_is_the_host_rewrite_everywhere() {
    let rig = Rig::new();
    let table = every_family_source(&rig);
    let backup = rig.backup(&rig.services[0], &[]);
    bin("apim-restore", &rig.emu)
        .args(["--target", &rig.path("dest.json"), "--no-safety-backup", "--allow-emptying-target"])
        .write_stdin(backup.to_string())
        .assert()
        .success();
    let p = plan(&rig, &rig.path("dest.json"), &[]);
    assert_eq!(p.code, 0, "{}", p.stderr);
    // Updates only where a host was planted (and the portal content a
    // backup leaves out): nothing else differs after a restore.
    let changes = kind(&p.docs, "apim.sync.change");
    for c in &changes {
        let path = c["path"].as_str().unwrap();
        if c["action"] == "update" {
            assert!(c.to_string().contains(NEW), "{path}: an update that is not the rewrite: {c}");
        } else {
            assert!(path.starts_with("contentTypes"), "{path}: {c}");
        }
    }
    for (path, _, planted) in &table {
        if *planted && !path.starts_with("contentTypes") {
            assert!(
                changes.iter().any(|c| c["path"] == path.as_str()),
                "{path}: its host is not rewritten"
            );
        }
    }
    let a = sync(&rig, &["apply"], &p.stdout);
    assert_eq!(a.code, 0, "{}", a.stderr);
    let (code, refs, _, err) = apim_diff(&rig, &["--scan-host", OLD, &rig.path("dest.json")]);
    assert_eq!((code, refs.len()), (0, 0), "{refs:?} {err}");
}

#[test]
fn drift_is_planned_and_deleted_only_with_both_flags() {
    let rig = Rig::new();
    let dest = bare_target(&rig, "apim-v2", "StandardV2");
    let first = plan(&rig, &dest, &[]);
    assert_eq!(sync(&rig, &["apply"], &first.stdout).code, 0);
    // Someone changes the target: an extra API, a changed policy.
    put_entity(
        &rig.emu,
        "apim-v2",
        "apis/extra",
        &json!({"properties": {"displayName": "Extra", "path": "extra"}}),
    );
    put_entity(
        &rig.emu,
        "apim-v2",
        "apis/echo",
        &json!({"properties": {"displayName": "Echo hacked", "path": "echo", "serviceUrl": "https://evil.example.com"}}),
    );
    let p = plan(&rig, &dest, &[]);
    let actions: Vec<(String, String)> = kind(&p.docs, "apim.sync.change")
        .iter()
        .map(|c| (c["path"].as_str().unwrap().to_string(), c["action"].as_str().unwrap().to_string()))
        .collect();
    assert_eq!(actions, [("apis/echo".to_string(), "update".to_string())]);
    assert!(p.stderr.contains("--delete-extra"), "{}", p.stderr);

    let p = plan(&rig, &dest, &["--delete-extra"]);
    assert!(kind(&p.docs, "apim.sync.change")
        .iter()
        .any(|c| c["path"] == "apis/extra" && c["action"] == "delete"));
    let writes = rig.stat("writes");
    let refused = sync(&rig, &["apply"], &p.stdout);
    assert_eq!(refused.code, 3, "{}", refused.stderr);
    assert!(refused.stderr.contains("--allow-deletes"), "{}", refused.stderr);
    assert_eq!(rig.stat("writes"), writes, "nothing written");

    let ok = sync(&rig, &["apply", "--allow-deletes"], &p.stdout);
    assert_eq!(ok.code, 0, "{}", ok.stderr);
    let (s, _, _) = rig.emu.arm("GET", &entity_path("apim-v2", "apis/extra"), None).unwrap();
    assert_eq!(s, 404);
    let (code, out, _, err) = apim_diff(&rig, &["--expect-host", &format!("{OLD}={NEW}"), &rig.path("src.json"), &dest]);
    assert_eq!(code, 0, "{out:?} {err}");

    // A target changed between plan and apply is left alone: exit 3.
    put_entity(
        &rig.emu,
        "apim-v2",
        "apis/echo",
        &json!({"properties": {"displayName": "Drift", "path": "echo"}}),
    );
    let p = plan(&rig, &dest, &[]);
    put_entity(
        &rig.emu,
        "apim-v2",
        "apis/echo",
        &json!({"properties": {"displayName": "Drift again", "path": "echo"}}),
    );
    let a = sync(&rig, &["apply"], &p.stdout);
    assert_eq!(a.code, 3, "{}", a.stderr);
    assert_eq!(a.docs[0]["status"], "conflict");
    let (_, _, api) = rig.emu.arm("GET", &entity_path("apim-v2", "apis/echo"), None).unwrap();
    assert_eq!(api["properties"]["displayName"], "Drift again", "never overwritten");

    // A secret changed on the source since the plan is not copied: the
    // plan named it at the source's ETag, apply re-reads it there.
    let secret = |v: &str| json!({"properties": {"displayName": "client-secret", "value": v, "secret": true}});
    put_entity(&rig.emu, "apim-src", "namedValues/client-secret", &secret("rotated-once"));
    let p = plan(&rig, &dest, &["--only", "namedValues"]);
    let c = &kind(&p.docs, "apim.sync.change")[0];
    assert_eq!(
        (c["path"].as_str(), &c["secrets"]),
        (Some("namedValues/client-secret"), &json!(["/value"]))
    );
    assert!(!p.stdout.contains("rotated-once"));
    put_entity(&rig.emu, "apim-src", "namedValues/client-secret", &secret("rotated-twice"));
    let a = sync(&rig, &["apply"], &p.stdout);
    assert_eq!(a.code, 3, "{}", a.stderr);
    assert!(a.docs[0]["message"].as_str().unwrap().contains("source changed"), "{:?}", a.docs);
    let (_, _, v) = rig
        .emu
        .arm("POST", &entity_path("apim-v2", "namedValues/client-secret/listValue"), None)
        .unwrap();
    assert_eq!(v["value"], "s3cr3t-src", "the target keeps what it had");
}

#[test]
fn exclude_only_and_a_snapshot_as_the_source() {
    let rig = Rig::new();
    every_family_source(&rig);
    let dest = target(&rig, "apim-v2", "StandardV2");
    let p = plan(&rig, &dest, &["--exclude", "users"]);
    assert!(kind(&p.docs, "apim.sync.change")
        .iter()
        .all(|c| !c["path"].as_str().unwrap().starts_with("users/")));
    let p = plan(&rig, &dest, &["--only", "apis"]);
    assert!(kind(&p.docs, "apim.sync.change")
        .iter()
        .all(|c| c["path"].as_str().unwrap().starts_with("apis/")));

    // A snapshot file seeds a rehearsal instance; its secrets are gaps.
    let (code, _, snapshot, err) = apim_diff(&rig, &["--inventory", &rig.path("src.json")]);
    assert_eq!(code, 0, "{err}");
    std::fs::write(rig.path("src.snapshot.ndjson"), snapshot).unwrap();
    let host = format!("{OLD}={NEW}");
    let snap = rig.path("src.snapshot.ndjson");
    let p = sync(&rig, &["plan", "--source", &snap, "--target", &dest, "--host", &host], "");
    assert_eq!(p.code, 0, "{}", p.stderr);
    let gaps = kind(&p.docs, "apim.sync.gap");
    assert!(gaps
        .iter()
        .any(|g| g["path"] == "namedValues/client-secret" && g["reason"].as_str().unwrap().contains("snapshot")));
    let a = sync(&rig, &["apply"], &p.stdout);
    assert_eq!(a.code, 0, "{}", a.stderr);
    let (s, _, api) = rig.emu.arm("GET", &entity_path("apim-v2", "apis/graph"), None).unwrap();
    assert_eq!(
        (s, api["properties"]["serviceUrl"].as_str()),
        (200, Some(format!("https://{NEW}/graphql").as_str()))
    );
}

#[test]
fn a_killed_apply_converges_on_the_next_plan_and_apply() {
    let rig = Rig::new();
    rig.emu.fault("arm-limits=off").unwrap();
    let table = every_family_source(&rig);
    for i in 0..200 {
        put_entity(
            &rig.emu,
            "apim-src",
            &format!("namedValues/nv-{i}"),
            &json!({"properties": {"displayName": format!("nv-{i}"), "value": format!("https://{OLD}/{i}")}}),
        );
    }
    let dest = target(&rig, "apim-v2", "StandardV2");
    let (path, props, _) = table.iter().find(|(p, _, _)| p == "certificates/backend-ca").unwrap();
    put(&rig, "apim-v2", path, props);
    let p = plan(&rig, &dest, &[]);
    rig.emu.set_latency(20).unwrap();
    // A deadline stops it: what was not written says so, exit 4.
    let stopped = sync(&rig, &["apply", "--parallel", "2", "--timeout", "1s"], &p.stdout);
    assert_eq!(stopped.code, 4, "{}", stopped.stderr);
    let statuses: Vec<&str> = stopped.docs.iter().filter_map(|d| d["status"].as_str()).collect();
    assert!(statuses.contains(&"applied") && statuses.contains(&"not-applied"), "{statuses:?}");
    let p = plan(&rig, &dest, &[]);
    let mut child = spawn("apim-sync", &rig.emu, &["apply", "--parallel", "4"], &p.stdout);
    wait_until("the apply has written some", || rig.stat("writes") > 60);
    child.kill().unwrap(); // SIGKILL: no chance to tidy up
    child.wait().unwrap();
    rig.emu.set_latency(0).unwrap();
    let p = plan(&rig, &dest, &[]);
    let left = kind(&p.docs, "apim.sync.change").len();
    assert!(left > 0, "the kill left work to do");
    let a = sync(&rig, &["apply"], &p.stdout);
    assert_eq!(a.code, 0, "{}", a.stderr);
    let (code, out, _, err) = apim_diff(&rig, &["--expect-host", &format!("{OLD}={NEW}"), &rig.path("src.json"), &dest]);
    assert_eq!((code, out.len()), (0, 0), "{out:?} {err}");
}

#[test]
fn bad_input_and_rails_write_nothing() {
    let rig = Rig::new();
    let dest = target(&rig, "apim-v2", "StandardV2");
    let src = rig.path("src.json");
    let writes = rig.stat("writes");
    // An unknown family, a bad host rule.
    let r = sync(&rig, &["plan", "--source", &src, "--target", &dest, "--exclude", "userz"], "");
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(
        r.stderr.contains("'userz' is not a family") && r.stderr.lines().count() == 1,
        "{}",
        r.stderr
    );
    let r = sync(&rig, &["plan", "--source", &src, "--target", &dest, "--host", "https://x/"], "");
    assert_eq!(r.code, 2, "{}", r.stderr);
    // The same instance on both sides.
    let r = sync(&rig, &["plan", "--source", &src, "--target", &src], "");
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("same instance"), "{}", r.stderr);
    // A malformed line, a document of another kind.
    let p = plan(&rig, &dest, &[]);
    let broken = format!("{}\n{{not json\n", p.stdout.lines().next().unwrap());
    let r = sync(&rig, &["apply"], &broken);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = sync(&rig, &["apply"], &rig.services[0].to_string());
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("apim.sync.change"), "{}", r.stderr);
    // A plan for another target.
    let r = sync(&rig, &["apply", "--target", &rig.path("dest.json")], &p.stdout);
    assert_eq!(r.code, 2, "{}", r.stderr);
    assert!(r.stderr.contains("plan again for this target"), "{}", r.stderr);
    // A plan edited to write a source secret where anyone reads it: into
    // another kind of entity, or into a property that is no secret.
    let change = |path: &str| -> Value {
        p.docs
            .iter()
            .find(|d| d["path"] == path)
            .unwrap_or_else(|| panic!("{path} in the plan"))
            .clone()
    };
    let mut moved = change("namedValues/client-secret");
    moved["targetPath"] = json!("apis/echo");
    let mut leaked = change("apis/echo");
    leaked["sourcePath"] = json!("apis/echo");
    leaked["secrets"] = json!(["/description"]);
    for forged in [moved, leaked] {
        let r = sync(&rig, &["apply"], &ndjson(&[forged]));
        assert_eq!(r.code, 2, "{}", r.stderr);
        assert!(r.stderr.contains("apis/echo") || r.stderr.contains("not a secret"), "{}", r.stderr);
    }
    // A plan edited to aim back at its source.
    let aimed: String = p.stdout.replace("/service/apim-v2", "/service/apim-src");
    let r = sync(&rig, &["apply"], &aimed);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(rig.stat("writes"), writes, "nothing was written");
    // A target that is Updating (a restore runs into it).
    let p = plan(&rig, &rig.path("dest.json"), &[]);
    assert_eq!(p.code, 0, "{}", p.stderr);
    let backup = rig.backup(&rig.services[0], &[]);
    rig.emu.set_time_scale(1.0).unwrap();
    rig.restore_no_wait(&backup);
    let writes = rig.stat("writes");
    let r = sync(&rig, &["apply"], &p.stdout);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("Updating"), "{}", r.stderr);
    let r = plan(&rig, &rig.path("dest.json"), &[]);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert_eq!(rig.stat("writes"), writes, "nothing was written");
    rig.emu.finish_operations().unwrap();
}

#[test]
fn key_vault_references_need_the_targets_identity_and_are_read_again_after() {
    let rig = Rig::new();
    put_entity(
        &rig.emu,
        "apim-src",
        "namedValues/kv-secret",
        &json!({"properties": {"displayName": "kv-secret", "keyVault": {"secretIdentifier": "https://contoso-vault.vault.azure.net/secrets/db"}}}),
    );
    // A target without the identity the reference reads with: refused, nothing written.
    let bare = bare_target(&rig, "apim-bare", "StandardV2");
    let p = plan(&rig, &bare, &[]);
    let writes = rig.stat("writes");
    let r = sync(&rig, &["apply"], &p.stdout);
    assert_eq!(r.code, 3, "{}", r.stderr);
    assert!(r.stderr.contains("kv-secret (the system-assigned identity)"), "{}", r.stderr);
    assert_eq!(rig.stat("writes"), writes);

    // With the identity but no role on the vault: copied, then read again,
    // and the status says who cannot read which vault (exit 1).
    let dest = target(&rig, "apim-v2", "StandardV2");
    let p = plan(&rig, &dest, &[]);
    let r = sync(&rig, &["apply"], &p.stdout);
    assert_eq!(r.code, 1, "{}", r.stderr);
    assert!(r.stderr.contains("the copy succeeded, but"), "{}", r.stderr);
    let status = kind(&r.docs, "apim.namedvalue.status");
    assert_eq!(status.len(), 1, "{:?}", r.docs);
    assert_ne!(status[0]["code"], "Success");
    let again = plan(&rig, &dest, &[]);
    assert_eq!(kind(&again.docs, "apim.sync.change").len(), 0, "{}", again.stdout);
}
