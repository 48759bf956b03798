//! apim-diff end to end: the real binary against the emulator, with a copy
//! made by the real backup and restore (blobs in Azurite).

use crate::common::*;
use serde_json::{json, Value};

const OLD: &str = "api.src.example.com";
const NEW: &str = "api.dest.example.com";

fn put(rig: &Rig, service: &str, path: &str, body: Value) {
    put_entity(&rig.emu, service, path, &body);
}

fn delete(rig: &Rig, service: &str, path: &str) {
    let (s, _, b) = rig.emu.arm("DELETE", &entity_path(service, path), None).unwrap();
    assert_eq!(s, 200, "{path}: {b}");
}

fn policy(host: &str, extra: &str) -> Value {
    json!({"properties": {"format": "xml", "value": format!(
        "<policies>\r\n  <inbound>\r\n    <base />\r\n    <set-backend-service base-url=\"https://{host}/v1\" />{extra}\r\n  </inbound>\r\n  <backend><base /></backend>\r\n  <outbound><base /></outbound>\r\n</policies>"
    )}})
}

/// Every family a real instance carries, each naming `host` where it can.
fn seed_everything(rig: &Rig, service: &str, host: &str) {
    let p = |path: &str, props: Value| put(rig, service, path, json!({"properties": props}));
    p(
        "namedValues/gateway-host",
        json!({"displayName": "gateway-host", "value": host, "tags": ["env"]}),
    );
    p(
        "namedValues/5f3c0000000000000000aa01",
        json!({"displayName": "backend-key", "value": format!("https://{host}/?sig=abc"), "secret": true}),
    );
    p(
        "apiVersionSets/echo-set",
        json!({"displayName": "Echo", "versioningScheme": "Segment"}),
    );
    p("tags/public", json!({"displayName": "Public"}));
    for api in ["echo", "orders"] {
        p(
            &format!("apis/{api}"),
            json!({"displayName": api, "path": api, "serviceUrl": format!("https://{host}/{api}"), "protocols": ["https"], "apiVersionSetId": format!("{}/apiVersionSets/echo-set", rig.services.iter().find(|s| s["name"] == service).unwrap()["id"].as_str().unwrap())}),
        );
        p(
            &format!("apis/{api}/operations/get"),
            json!({"displayName": "get", "method": "GET", "urlTemplate": "/"}),
        );
        put(
            rig,
            service,
            &format!("apis/{api}/operations/get/policies/policy"),
            policy(host, ""),
        );
        put(
            rig,
            service,
            &format!("apis/{api}/policies/policy"),
            policy(
                host,
                "<set-header name=\"x-key\" exists-action=\"override\"><value>{{backend-key}}</value></set-header>",
            ),
        );
        put(rig, service, &format!("apis/{api}/tags/public"), json!({}));
    }
    put(rig, service, "policies/policy", policy(host, ""));
    p("products/starter", json!({"displayName": "Starter", "state": "published"}));
    put(rig, service, "products/starter/apis/echo", json!({}));
    put(rig, service, "products/starter/apis/orders", json!({}));
    put(rig, service, "products/starter/policies/policy", policy(host, ""));
    p(
        "backends/orders",
        json!({"url": format!("https://{host}/orders"), "protocol": "http", "credentials": {"header": {"x-key": ["{{backend-key}}"]}}}),
    );
    p(
        "loggers/hub",
        json!({"loggerType": "azureEventHub", "credentials": {"name": "hub", "connectionString": format!("Endpoint=sb://{host}/;SharedAccessKeyName=k;SharedAccessKey=secret")}}),
    );
    p(
        "diagnostics/applicationinsights",
        json!({"loggerId": "/loggers/hub", "alwaysLog": "allErrors"}),
    );
}

/// The rig with `apim-src` fully configured and copied onto `apim-dest` by backup and restore.
fn copied() -> Rig {
    let rig = Rig::new();
    seed_everything(&rig, "apim-src", OLD);
    let backup = rig.backup(&rig.services[0], &[]);
    bin("apim-restore", &rig.emu)
        .args(["--target", &rig.path("dest.json"), "--no-safety-backup"])
        .write_stdin(backup.to_string())
        .assert()
        .success();
    rig
}

fn diff(rig: &Rig, args: &[&str]) -> (i32, Vec<Value>, String) {
    let out = bin("apim-diff", &rig.emu).args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        docs(&out.stdout),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn seen(docs: &[Value]) -> Vec<(String, String, String)> {
    docs.iter()
        .map(|d| {
            assert_eq!(d["kind"], "apim.difference");
            (
                d["path"].as_str().unwrap().to_string(),
                d["property"].as_str().unwrap_or("").to_string(),
                d["difference"].as_str().unwrap().to_string(),
            )
        })
        .collect()
}

#[test]
fn a_copy_equals_its_source_and_each_kind_of_difference_is_found() {
    let rig = copied();
    let (src, dest) = (rig.path("src.json"), rig.path("dest.json"));
    let (code, out, err) = diff(&rig, &[&src, &src]);
    assert_eq!((code, out.len()), (0, 0), "{err}");
    let (code, out, err) = diff(&rig, &[&src, &dest]);
    assert_eq!((code, out.len()), (0, 0), "a restored copy equals its source: {out:?} {err}");
    assert!(err.contains("0 difference(s)"), "{err}");

    delete(&rig, "apim-dest", "apis/orders");
    put(
        &rig,
        "apim-dest",
        "apis/echo/operations/get/policies/policy",
        policy(OLD, "<rate-limit calls=\"5\" renewal-period=\"60\" />"),
    );
    delete(&rig, "apim-dest", "products/starter/apis/echo");
    put(
        &rig,
        "apim-dest",
        "namedValues/gateway-host",
        json!({"properties": {"displayName": "gateway-host", "value": "elsewhere.example.com", "tags": ["env"]}}),
    );
    put(
        &rig,
        "apim-dest",
        "namedValues/5f3c0000000000000000aa01",
        json!({"properties": {"displayName": "backend-key", "value": "rotated-secret-value", "secret": true}}),
    );
    put(
        &rig,
        "apim-dest",
        "backends/orders",
        json!({"properties": {"url": "https://moved.example.com/orders", "protocol": "http", "credentials": {"header": {"x-key": ["{{backend-key}}"]}}}}),
    );
    let (code, out, err) = diff(&rig, &[&src, &dest]);
    assert_eq!(code, 1, "{err}");
    assert!(!err.contains("error:"), "differences are an outcome, not an error: {err}");
    let mut expected: Vec<(String, String, String)> = [
        ("apis/echo/operations/get/policies/policy", "value", "changed"),
        ("apis/orders", "", "missing-in-b"),
        ("apis/orders/operations/get", "", "missing-in-b"),
        ("apis/orders/operations/get/policies/policy", "", "missing-in-b"),
        ("apis/orders/policies/policy", "", "missing-in-b"),
        ("apis/orders/tags/public", "", "missing-in-b"),
        ("backends/orders", "url", "changed"),
        ("namedValues/backend-key", "value", "changed"),
        ("namedValues/gateway-host", "value", "changed"),
        ("products/starter/apis/echo", "", "missing-in-b"),
        ("products/starter/apis/orders", "", "missing-in-b"),
    ]
    .iter()
    .map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string()))
    .collect();
    expected.sort();
    assert_eq!(seen(&out), expected, "{err}");
    let secret = out.iter().find(|d| d["path"] == "namedValues/backend-key").unwrap();
    assert_eq!(secret["secret"], true);
    assert!(secret.get("a").is_none() && secret.get("b").is_none());
    let all = format!("{out:?}{err}");
    assert!(
        !all.contains("rotated-secret-value") && !all.contains("sig=abc"),
        "a secret leaked: {all}"
    );
    assert!(
        err.contains("missing-in-b") && err.contains("apis"),
        "a summary table on stderr: {err}"
    );
}

#[test]
fn the_expected_rewrite_hides_exactly_its_differences_and_the_scan_finds_the_leftovers() {
    let rig = copied();
    let (src, dest) = (rig.path("src.json"), rig.path("dest.json"));
    let expect = format!("{OLD}={NEW}");
    // Before any rewrite, the host is everywhere in the copy, secrets included.
    let (code, refs, err) = diff(&rig, &["--scan-host", OLD, &dest]);
    assert_eq!(code, 1, "{err}");
    // The last line says what fixes each kind of place.
    assert!(
        err.contains("apim-namedvalues rewrite --host") && err.contains("apim-sync plan"),
        "{err}"
    );
    assert!(!err.contains("error:"), "a host still used is an outcome: {err}");
    let places: Vec<(String, String, bool)> = refs
        .iter()
        .map(|r| {
            assert_eq!(r["kind"], "apim.hostref");
            (
                r["path"].as_str().unwrap().to_string(),
                r["property"].as_str().unwrap().to_string(),
                r["secret"] == true,
            )
        })
        .collect();
    for want in [
        ("namedValues/gateway-host", "/value", false),
        ("namedValues/backend-key", "/value", true),
        ("backends/orders", "/url", false),
        ("apis/echo", "/serviceUrl", false),
        ("apis/echo/operations/get/policies/policy", "/value", false),
        ("apis/echo/policies/policy", "/value", false),
        ("products/starter/policies/policy", "/value", false),
        ("policies/policy", "/value", false),
    ] {
        assert!(
            places.contains(&(want.0.to_string(), want.1.to_string(), want.2)),
            "{want:?} not in {places:?}"
        );
    }
    // The logger's connection string lives in a secret named value, as in Azure.
    assert!(
        places
            .iter()
            .any(|(p, _, s)| p.starts_with("namedValues/Logger-Credentials--") && *s),
        "{places:?}"
    );
    assert!(refs.iter().filter(|r| r["secret"] == true).all(|r| r.get("value").is_none()));
    assert!(!format!("{refs:?}").contains("sig=abc"));

    // Rewrite everything but the product policy in the copy.
    let text = |s: &str| s.replace(OLD, NEW);
    let rewrite_nv = |id: &str, display: &str, value: &str, secret: bool| {
        put(
            &rig,
            "apim-dest",
            &format!("namedValues/{id}"),
            json!({"properties": {"displayName": display, "value": text(value), "secret": secret, "tags": if secret { json!([]) } else { json!(["env"]) }}}),
        );
    };
    rewrite_nv("gateway-host", "gateway-host", OLD, false);
    rewrite_nv("backend-host", "backend-host", &format!("https://{OLD}/v1"), false);
    rewrite_nv("5f3c0000000000000000aa01", "backend-key", &format!("https://{OLD}/?sig=abc"), true);
    let (_, _, nvs) = rig.emu.arm("GET", &entity_path("apim-dest", "namedValues"), None).unwrap();
    for nv in nvs["value"].as_array().unwrap() {
        let name = nv["name"].as_str().unwrap();
        if nv["properties"]["displayName"]
            .as_str()
            .unwrap()
            .starts_with("Logger-Credentials--")
        {
            let (_, _, v) = rig
                .emu
                .arm("POST", &entity_path("apim-dest", &format!("namedValues/{name}/listValue")), None)
                .unwrap();
            let display = nv["properties"]["displayName"].as_str().unwrap();
            put(
                &rig,
                "apim-dest",
                &format!("namedValues/{name}"),
                json!({"properties": {"displayName": display, "value": text(v["value"].as_str().unwrap()), "secret": true}}),
            );
        }
    }
    put(
        &rig,
        "apim-dest",
        "backends/orders",
        json!({"properties": {"url": format!("https://{NEW}/orders"), "protocol": "http", "credentials": {"header": {"x-key": ["{{backend-key}}"]}}}}),
    );
    let vs = format!("{}/apiVersionSets/echo-set", rig.services[1]["id"].as_str().unwrap());
    for api in ["echo", "orders"] {
        put(
            &rig,
            "apim-dest",
            &format!("apis/{api}"),
            json!({"properties": {"displayName": api, "path": api, "serviceUrl": format!("https://{NEW}/{api}"), "protocols": ["https"], "apiVersionSetId": vs}}),
        );
        put(
            &rig,
            "apim-dest",
            &format!("apis/{api}/operations/get/policies/policy"),
            policy(NEW, ""),
        );
        put(
            &rig,
            "apim-dest",
            &format!("apis/{api}/policies/policy"),
            policy(
                NEW,
                "<set-header name=\"x-key\" exists-action=\"override\"><value>{{backend-key}}</value></set-header>",
            ),
        );
    }
    put(&rig, "apim-dest", "policies/policy", policy(NEW, ""));

    let (code, out, err) = diff(&rig, &["--expect-host", &expect, &src, &dest]);
    assert_eq!(code, 1, "{err}");
    assert_eq!(
        seen(&out),
        [(
            "products/starter/policies/policy".to_string(),
            "value".to_string(),
            "changed".to_string()
        )],
        "only the place the rewrite missed: {err}"
    );
    let (code, refs, _) = diff(&rig, &["--scan-host", OLD, &dest]);
    assert_eq!(code, 1);
    assert_eq!(refs.len(), 1);
    assert_eq!(refs[0]["path"], "products/starter/policies/policy");

    put(&rig, "apim-dest", "products/starter/policies/policy", policy(NEW, ""));
    let (code, out, err) = diff(&rig, &["--expect-host", &expect, &src, &dest]);
    assert_eq!((code, out.len()), (0, 0), "{out:?} {err}");
    let (code, refs, err) = diff(&rig, &["--scan-host", OLD, &dest]);
    assert_eq!((code, refs.len()), (0, 0), "{err}");
    // Without the expectation, the rewrite is a difference everywhere it happened.
    let (code, out, _) = diff(&rig, &[&src, &dest]);
    assert_eq!(code, 1);
    assert!(out.len() >= 10, "{out:?}");
}

#[test]
fn a_snapshot_is_stable_secret_free_and_diffable_on_either_side() {
    let rig = copied();
    let (src, dest) = (rig.path("src.json"), rig.path("dest.json"));
    let snap = |file: &str| {
        let out = bin("apim-diff", &rig.emu).args(["--inventory", file]).assert().success();
        String::from_utf8(out.get_output().stdout.clone()).unwrap()
    };
    let a = snap(&src);
    assert_eq!(a, snap(&src), "the same service gives the same bytes");
    assert_eq!(a, snap(&dest), "a restored copy gives the same snapshot: plain diff works");
    let lines = docs(a.as_bytes());
    let paths: Vec<&str> = lines.iter().map(|d| d["path"].as_str().unwrap()).collect();
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);
    assert!(lines
        .iter()
        .all(|d| d["kind"] == "apim.entity" && d.get("id").is_none() && d["properties"].get("provisioningState").is_none()));
    assert!(
        !a.contains("sig=abc") && !a.contains("SharedAccessKey=secret"),
        "no secret value, not even in a snapshot"
    );
    let absolute: Vec<&str> = a.lines().filter(|l| l.contains("/subscriptions/")).collect();
    assert!(absolute.is_empty(), "ids inside the service are relative to it: {absolute:?}");
    assert!(a.contains("\"namedValues/backend-key\""), "named values by display name");
    assert!(a.contains("{{backend-key}}"), "references by display name");
    std::fs::write(rig.path("src.snapshot.ndjson"), &a).unwrap();

    // Either side may be a snapshot; its secrets are not compared, and that is said once.
    put(
        &rig,
        "apim-dest",
        "namedValues/5f3c0000000000000000aa01",
        json!({"properties": {"displayName": "backend-key", "value": "other", "secret": true}}),
    );
    let (code, out, err) = diff(&rig, &[&rig.path("src.snapshot.ndjson"), &dest]);
    assert_eq!((code, out.len()), (0, 0), "{err}");
    assert_eq!(err.matches("not compared").count(), 1, "{err}");
    let (code, out, _) = diff(&rig, &[&src, &dest]);
    assert_eq!(
        (code, seen(&out)),
        (1, vec![("namedValues/backend-key".into(), "value".into(), "changed".into())])
    );

    // Two snapshots compare without Azure at all.
    put(&rig, "apim-dest", "tags/public", json!({"properties": {"displayName": "Everyone"}}));
    std::fs::write(rig.path("dest.snapshot.ndjson"), snap(&dest)).unwrap();
    let out = assert_cmd::Command::new(apim_toolkit::bin_path("apim-diff", "debug"))
        .env_clear()
        .args([rig.path("src.snapshot.ndjson"), rig.path("dest.snapshot.ndjson")])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        seen(&docs(&out.stdout)),
        [("tags/public".into(), "displayName".into(), "changed".into())]
    );
}

#[test]
fn bad_input_is_refused_with_exit_2() {
    let rig = Rig::new();
    let src = rig.path("src.json");
    let store = rig.path("store.json");
    let bad = rig.write("bad.ndjson", &[]);
    std::fs::write(&bad, "{not json").unwrap();
    let entity = serde_json::json!({"kind": "apim.entity", "schemaVersion": 1, "path": "backends/b", "properties": {"url": "https://a.example.com"}});
    let mut again = entity.clone();
    again["properties"]["url"] = serde_json::json!("https://b.example.com");
    let twice = rig.write("twice.ndjson", &[entity, again]);
    for (args, says) in [
        (vec![twice.as_str(), twice.as_str()], "'backends/b' is in it twice"),
        (vec![src.as_str()], "give two sides"),
        (vec![src.as_str(), store.as_str()], "storage.container"),
        (vec![src.as_str(), bad.as_str()], "B"),
        (vec!["--expect-host", "nohost", src.as_str(), src.as_str()], "OLD=NEW"),
        (
            vec!["--expect-host", "a.example.com=https://b.example.com/", src.as_str(), src.as_str()],
            "OLD=NEW",
        ),
        (vec!["--scan-host", "https://x.example.com", src.as_str()], "hostname"),
        (vec!["--scan-host", "x.example.com", src.as_str(), src.as_str()], "exactly one"),
        (vec!["--inventory", store.as_str()], "storage.container"),
    ] {
        let (code, out, err) = diff(&rig, &args);
        assert_eq!(code, 2, "{args:?}: {err}");
        assert!(out.is_empty());
        assert!(err.contains(says), "{args:?}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{err}");
    }
}
