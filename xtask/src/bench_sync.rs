//! `cargo xtask bench sync`: a copy of the bench instance through the
//! management API onto empty targets, at 20 ms per call; then a second
//! plan (nothing to do); then the same copy under ARM's buckets.

use crate::bench::{bench_provision, measured, requests, LIMITS_OFF};
use crate::path_str;
use crate::seed::{seed, Shape};
use anyhow::{bail, Context};
use apim_toolkit::{bin_path, Azurite, EmulatorProcess};
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Instant;

const HOST: &str = "api.src.example.com=api.copy.example.com";

/// What a plan holds, by family and action.
fn changes_by_family(plan: &str) -> anyhow::Result<(usize, usize, BTreeMap<String, usize>)> {
    let (mut changes, mut gaps, mut by) = (0, 0, BTreeMap::new());
    for line in plan.lines() {
        let v: serde_json::Value = serde_json::from_str(line)?;
        match v["kind"].as_str() {
            Some("apim.sync.change") => {
                changes += 1;
                let path = v["path"].as_str().unwrap_or_default();
                *by.entry(path.split('/').next().unwrap_or_default().to_string()).or_default() += 1;
            }
            Some("apim.sync.gap") => gaps += 1,
            _ => {}
        }
    }
    Ok((changes, gaps, by))
}

/// One plan | apply, measured.
struct Copied {
    plan_s: f64,
    apply_s: f64,
    /// Peak RSS of the larger of the two, KiB.
    rss: Option<u64>,
    plan: String,
}

/// plan | apply onto `target`.
fn copy(env: &[(String, String)], source: &Path, target: &Path) -> anyhow::Result<Copied> {
    let (plan_wall, plan_rss, plan) = measured(
        "apim-sync",
        &[
            "-q",
            "plan",
            "--source",
            path_str(source)?,
            "--target",
            path_str(target)?,
            "--host",
            HOST,
        ],
        env,
        None,
    )?;
    let (apply_wall, apply_rss, applied) = measured("apim-sync", &["-q", "apply", "--parallel", "64"], env, Some(&plan))?;
    if applied
        .lines()
        .any(|l| l.contains("\"apim.sync.change\"") && !l.contains("\"status\":\"applied\""))
    {
        bail!("bench: a change was not applied");
    }
    Ok(Copied {
        plan_s: plan_wall.as_secs_f64(),
        apply_s: apply_wall.as_secs_f64(),
        rss: plan_rss.max(apply_rss),
        plan,
    })
}

pub(crate) fn bench_sync(azurite: &Azurite) -> anyhow::Result<()> {
    let emu = EmulatorProcess::start(&bin_path("apim-emulator", "release"), 0.0, Some(&azurite.blob_endpoint), LIMITS_OFF)?;
    let env = emu.env();
    let (services, _) = bench_provision(&env, &["apim-big-src", "apim-copy-one", "apim-copy-two"], "bench-sync")?;
    let shape = Shape::BENCH;
    let started = Instant::now();
    seed(&emu, "apim-big-src", "src", shape)?;
    eprintln!("bench: seeded the source in {:.1} s", started.elapsed().as_secs_f64());
    // The targets read Key Vault references with their system identity, as
    // the source's copy needs (apim-provision service --like carries it).
    for line in services.lines().skip(1) {
        let id = serde_json::from_str::<serde_json::Value>(line)?["id"]
            .as_str()
            .context("a service document's id")?
            .to_string();
        let url = format!("{id}?api-version=2024-05-01");
        let (_, _, mut body) = emu.arm("GET", &url, None)?;
        body["identity"] = serde_json::json!({"type": "SystemAssigned"});
        let (status, _, answer) = emu.arm("PUT", &url, Some(&body))?;
        if status != 200 {
            bail!("bench: giving {id} an identity: {status} {answer}");
        }
    }
    let dir = std::env::temp_dir().join(format!("apim-bench-sync-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let files: Vec<_> = ["src.json", "one.json", "two.json"].iter().map(|f| dir.join(f)).collect();
    for (f, line) in files.iter().zip(services.lines()) {
        std::fs::write(f, line)?;
    }
    emu.set_latency(20)?;

    let before = requests(&emu)?;
    let Copied {
        plan_s,
        apply_s,
        rss,
        plan,
    } = copy(&env, &files[0], &files[1])?;
    let sent = requests(&emu)? - before;
    let (changes, gaps, by_family) = changes_by_family(&plan)?;
    let before = requests(&emu)?;
    let (again, _, again_plan) = measured(
        "apim-sync",
        &[
            "-q",
            "plan",
            "--source",
            path_str(&files[0])?,
            "--target",
            path_str(&files[1])?,
            "--host",
            HOST,
        ],
        &env,
        None,
    )?;
    let again_sent = requests(&emu)? - before;
    let (left, _, _) = changes_by_family(&again_plan)?;
    let (inventory, _, _) = measured("apim-diff", &["-q", "--inventory", path_str(&files[0])?], &env, None)?;
    println!(
        "{}",
        serde_json::json!({"kind": "bench.result", "bench": "apim-sync plan | apply of the bench instance (5,000 named values, 200 APIs, 2,000 operations, 500 policies, 100 backends, 2,000 users, 3,000 subscriptions, every other family) onto an empty target (20 ms latency, limits off)",
        "result": {"wallMs": (plan_s + apply_s) * 1e3, "targetMs": 30000, "planMs": plan_s * 1e3, "applyMs": apply_s * 1e3,
            "peakRssKiB": rss, "targetPeakRssKiB": 150 * 1024, "changes": changes, "gaps": gaps,
            "requests": sent, "requestsPerEntity": sent as f64 / changes.max(1) as f64, "changesByFamily": by_family,
            "secondPlanMs": again.as_secs_f64() * 1e3, "secondPlanChanges": left, "secondPlanRequests": again_sent,
            "twoInventoriesMs": 2.0 * inventory.as_secs_f64() * 1e3}})
    );
    if left != 0 {
        bail!("bench: a second plan still holds {left} change(s)");
    }

    // The same copy under ARM's buckets (full at the start): writes (and
    // the secret reads, POST actions) draw on the write bucket.
    emu.fault("arm-limits=azure")?;
    let stat = |k: &str| -> anyhow::Result<u64> { emu.stats()?[k].as_u64().context("emulator stats") };
    let before = [stat("reads")?, stat("writeRequests")?, stat("throttled")?, requests(&emu)?];
    let Copied { plan_s, apply_s, .. } = copy(&env, &files[0], &files[2])?;
    let (reads, writes, throttled, answers) = (
        stat("reads")? - before[0],
        stat("writeRequests")? - before[1],
        stat("throttled")? - before[2],
        requests(&emu)? - before[3],
    );
    let floor = |n: u64, size: f64, rate: f64| ((n as f64 - size) / rate).max(0.0);
    let min_secs = floor(reads, 250.0, 25.0).max(floor(writes, 200.0, 10.0));
    let wall = plan_s + apply_s;
    println!(
        "{}",
        serde_json::json!({"kind": "bench.result", "bench": "the same copy under ARM's throttling (--arm-limits azure; 20 ms latency)",
        "result": {"wallMs": wall * 1e3, "minimumMs": min_secs * 1e3, "ratio": wall / min_secs.max(1e-9), "targetRatio": 1.15,
            "reads": reads, "writes": writes, "throttled": throttled, "throttledShare": throttled as f64 / answers.max(1) as f64, "targetThrottledShare": 0.01}})
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}
