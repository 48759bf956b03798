//! ARM's throttling: the emulator's buckets, and the binaries pacing
//! themselves by what ARM says is left.

use crate::common::*;
use serde_json::{json, Value};

fn service(emu: &apim_toolkit::EmulatorProcess) -> Value {
    let out = bin("apim-provision", emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-dest"])
        .assert()
        .success();
    docs(&out.get_output().stdout).remove(0)
}

fn seed(emu: &apim_toolkit::EmulatorProcess, n: usize) {
    emu.fault("arm-limits=off").unwrap();
    for i in 0..n {
        let path = entity_path("apim-dest", &format!("namedValues/nv-{i:02}"));
        let body = json!({"properties": {"displayName": format!("nv-{i:02}"), "value": format!("https://api.src.example.com/{i}")}});
        let (s, _, b) = emu.arm("PUT", &path, Some(&body)).unwrap();
        assert_eq!(s, 201, "{b}");
    }
}

/// `apim-namedvalues list | rewrite` of the service: the plan's stdout.
fn plan(emu: &apim_toolkit::EmulatorProcess, svc: &Value) -> Vec<u8> {
    let listed = bin("apim-namedvalues", emu)
        .arg("list")
        .write_stdin(svc.to_string())
        .assert()
        .success();
    let plan = bin("apim-namedvalues", emu)
        .args(["rewrite", "--host", "api.src.example.com=api.dest.example.com"])
        .write_stdin(listed.get_output().stdout.clone())
        .assert()
        .success();
    plan.get_output().stdout.clone()
}

fn stat(emu: &apim_toolkit::EmulatorProcess, what: &str) -> u64 {
    emu.stats().unwrap()[what].as_u64().unwrap()
}

#[test]
fn the_buckets_count_down_empty_and_refill() {
    let emu = emulator(0.0);
    let _ = service(&emu);
    emu.fault("arm-limits=20,10").unwrap();
    let path = service_path("apim-dest");
    let remaining = |h: &reqwest::header::HeaderMap, name: &str| h[name].to_str().unwrap().parse::<u64>().unwrap();
    let (_, h, _) = emu.arm("GET", &path, None).unwrap();
    assert_eq!(remaining(&h, "x-ms-ratelimit-remaining-subscription-reads"), 19);
    let (_, h, _) = emu.arm("GET", &path, None).unwrap();
    assert_eq!(remaining(&h, "x-ms-ratelimit-remaining-subscription-reads"), 18, "it counts down");
    // Writes: 10, refilled at ARM's 10 a second.
    let nv = entity_path("apim-dest", "namedValues/x");
    let body = json!({"properties": {"displayName": "x", "value": "1"}});
    for left in (0..10).rev() {
        let (s, h, _) = emu.arm("PUT", &nv, Some(&body)).unwrap();
        assert!(s == 200 || s == 201);
        assert_eq!(remaining(&h, "x-ms-ratelimit-remaining-subscription-writes"), left);
    }
    let (s, h, b) = emu.arm("PUT", &nv, Some(&body)).unwrap();
    assert_eq!(s, 429, "{b}");
    assert_eq!(b["error"]["code"], "SubscriptionRequestsThrottled");
    assert_eq!(h["retry-after"], "1");
    // Reads are a bucket of their own; the time scale does not shrink the wait.
    assert_eq!(emu.arm("GET", &path, None).unwrap().0, 200);
    emu.set_time_scale(0.001).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    let (s, h, _) = emu.arm("PUT", &nv, Some(&body)).unwrap();
    assert_eq!(s, 200, "a token came back after Retry-After");
    assert_eq!(
        remaining(&h, "x-ms-ratelimit-remaining-subscription-writes"),
        9,
        "refilled at 10 a second, one taken"
    );
    let (_, h, _) = emu.arm("DELETE", &nv, None).unwrap();
    assert_eq!(
        remaining(&h, "x-ms-ratelimit-remaining-subscription-deletes"),
        9,
        "deletes draw from their own bucket"
    );
}

#[test]
fn a_bulk_apply_under_small_buckets_applies_each_change_once_with_few_429s() {
    let emu = emulator(0.0);
    let svc = service(&emu);
    seed(&emu, 60);
    // Writes: a bucket of 20, refilled at ARM's 10 a second.
    emu.fault("arm-limits=400,20").unwrap();
    let plan = plan(&emu, &svc);
    assert_eq!(docs(&plan).len(), 60);
    let (writes, throttled) = (stat(&emu, "writes"), stat(&emu, "throttled"));
    let started = std::time::Instant::now();
    let applied = bin("apim-namedvalues", &emu)
        .args(["apply", "--parallel", "8"])
        .write_stdin(plan)
        .assert()
        .success();
    let took = started.elapsed();
    let out = docs(&applied.get_output().stdout);
    assert_eq!(out.iter().filter(|d| d["status"] == "applied").count(), 60, "{out:?}");
    assert_eq!(stat(&emu, "writes") - writes, 60, "each change written exactly once");
    let answered_429 = stat(&emu, "throttled") - throttled;
    assert!(
        answered_429 <= 2,
        "paced by the remaining-count headers, not by 429s: {answered_429}"
    );
    // 20 in the bucket, 40 more at 10 a second: about 4 s, never much less.
    assert!(took >= std::time::Duration::from_millis(3500), "{took:?}");
}

#[test]
fn a_throttled_write_is_retried_after_retry_after_and_not_before() {
    let emu = emulator(0.0);
    let svc = service(&emu);
    seed(&emu, 1);
    emu.fault("arm-limits=azure").unwrap();
    let plan = plan(&emu, &svc);
    let writes = stat(&emu, "writes");
    emu.throttle(1).unwrap();
    let started = std::time::Instant::now();
    bin("apim-namedvalues", &emu).arg("apply").write_stdin(plan).assert().success();
    assert!(
        started.elapsed() >= std::time::Duration::from_secs(1),
        "Retry-After: 1 was honoured"
    );
    assert_eq!(stat(&emu, "throttled"), 1);
    assert_eq!(stat(&emu, "writes") - writes, 1, "written once");
}
