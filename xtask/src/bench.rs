//! `cargo xtask bench`: the binaries timed against the emulator (release build).

use crate::seed::{apim_diff, put_all, seed, Shape};
use crate::{cargo, path_str};
use anyhow::{bail, Context};
use apim_toolkit::{bin_path, Azurite, EmulatorProcess};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Benches measure the client against the emulator alone unless they say
/// otherwise: ARM's throttling is switched on where a bench models it.
pub(crate) const LIMITS_OFF: &[&str] = &["--arm-limits", "off"];

pub(crate) fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

pub(crate) fn time_runs(n: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
    let mut times = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        f()?;
        times.push(t.elapsed());
    }
    Ok(median(times))
}

/// Runs a release binary once with the emulator's environment; returns
/// (wall time, peak RSS in KiB if /usr/bin/time can tell, stdout).
pub(crate) fn measured(
    bin: &str,
    args: &[&str],
    env: &[(String, String)],
    stdin: Option<&str>,
) -> anyhow::Result<(Duration, Option<u64>, String)> {
    use std::io::Write;
    let path = bin_path(bin, "release");
    let gnu_time = std::path::Path::new("/usr/bin/time").exists();
    let mut cmd = if gnu_time {
        let mut c = Command::new("/usr/bin/time");
        c.arg("-f").arg("PEAK_RSS_KB=%M").arg(&path);
        c
    } else {
        Command::new(&path)
    };
    let started = Instant::now();
    let mut child = cmd
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    let wall = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    if !out.status.success() {
        bail!("{bin} {} failed: {stderr}", args.join(" "));
    }
    let rss = stderr
        .lines()
        .find_map(|l| l.strip_prefix("PEAK_RSS_KB="))
        .and_then(|v| v.trim().parse().ok());
    Ok((wall, rss, String::from_utf8_lossy(&out.stdout).into_owned()))
}

/// Provisions services and a storage container with the release binaries;
/// returns (apim.service lines, storage.container line).
pub(crate) fn bench_provision(env: &[(String, String)], names: &[&str], container: &str) -> anyhow::Result<(String, String)> {
    let mut args = vec![
        "service",
        "-q",
        "-g",
        "apim-rg",
        "--create-group",
        "-l",
        "westeurope",
        "--publisher-email",
        "ops@example.com",
        "--publisher-name",
        "Bench",
    ];
    for n in names {
        args.extend(["--name", n]);
    }
    let (_, _, services) = measured("apim-provision", &args, env, None)?;
    let storage = [
        "storage",
        "-q",
        "-g",
        "apim-rg",
        "-l",
        "westeurope",
        "--account",
        "apimbackups",
        "--container",
        container,
    ];
    let (_, _, store) = measured("apim-provision", &storage, env, None)?;
    Ok((services, store))
}

pub(crate) fn requests(emu: &EmulatorProcess) -> anyhow::Result<u64> {
    emu.stats()?["requests"].as_u64().context("emulator stats")
}

pub(crate) fn bench() -> anyhow::Result<()> {
    cargo(&["build", "--release", "--workspace", "--bins"])?;
    let emu = EmulatorProcess::start(&bin_path("apim-emulator", "release"), 0.0, None, LIMITS_OFF)?;
    let env = emu.env();
    let provision = bin_path("apim-provision", "release");
    let service_args = [
        "service",
        "-q",
        "--resource-group",
        "bench-rg",
        "--create-group",
        "--location",
        "westeurope",
        "--name",
        "apim-bench",
        "--publisher-email",
        "ops@example.com",
        "--publisher-name",
        "Bench",
    ];
    let run = |args: &[&str]| -> anyhow::Result<()> {
        let out = Command::new(&provision)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()?;
        if !out.success() {
            bail!("apim-provision {} failed: {out}", args.join(" "));
        }
        Ok(())
    };
    run(&service_args)?; // create once; what follows is the idempotent path
    let help = time_runs(20, || run(&["--help"]))?;
    let idem = time_runs(20, || run(&service_args))?;
    let report =
        |bench: &str, v: serde_json::Value| println!("{}", serde_json::json!({"kind": "bench.result", "bench": bench, "result": v}));
    // One call: a token and one ARM read (apim-provision get).
    let one_call = time_runs(30, || run(&["get", "-g", "bench-rg", "-n", "apim-bench"]))?;
    report(
        "apim-provision --help",
        serde_json::json!({"runs": 20, "medianMs": help.as_secs_f64() * 1e3, "targetMs": 3}),
    );
    report(
        "one call (apim-provision get: a token and one ARM read)",
        serde_json::json!({"runs": 30, "medianMs": one_call.as_secs_f64() * 1e3, "targetMs": 10}),
    );
    report(
        "apim-provision service (idempotent)",
        serde_json::json!({"runs": 20, "medianMs": idem.as_secs_f64() * 1e3, "targetMs": 60}),
    );
    drop(emu);

    // Backup + restore of a large service, time-scale 0.
    let azurite = Azurite::start()?;
    let emu = EmulatorProcess::start(&bin_path("apim-emulator", "release"), 0.0, Some(&azurite.blob_endpoint), LIMITS_OFF)?;
    let env = emu.env();
    let (services, store) = bench_provision(&env, &["apim-src", "apim-dest"], "bench")?;
    let seeding = Instant::now();
    let shape = Shape {
        named_values: 2000,
        apis: 200,
        operations: 0,
        policies: 0,
        products: 50,
        backends: 0,
        ..Shape::SMALL
    };
    seed(&emu, "apim-src", "src", shape)?;
    eprintln!(
        "bench: seeded 2,000 named values, 200 APIs, 50 products in {:.1} s",
        seeding.elapsed().as_secs_f64()
    );
    let dir = std::env::temp_dir().join(format!("apim-bench-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store_file = dir.join("store.json");
    std::fs::write(&store_file, &store)?;
    let dest_file = dir.join("dest.json");
    std::fs::write(&dest_file, services.lines().nth(1).unwrap_or_default())?;
    let src = services.lines().next().unwrap_or_default().to_string();
    let src_file = dir.join("src.json");
    std::fs::write(&src_file, &src)?;

    let before = requests(&emu)?;
    let (wall, rss, backup) = measured("apim-backup", &["-q", "--storage", path_str(&store_file)?], &env, Some(&src))?;
    let sent = requests(&emu)? - before;
    let size = serde_json::from_str::<serde_json::Value>(backup.trim())?["size"]
        .as_u64()
        .unwrap_or(0);
    report(
        "apim-backup (2,000 named values, 200 APIs, 50 products)",
        serde_json::json!({"wallMs": wall.as_secs_f64() * 1e3, "requests": sent, "peakRssKiB": rss, "blobBytes": size, "targetPeakRssKiB": 30 * 1024}),
    );

    let before = requests(&emu)?;
    let (wall, rss, _) = measured(
        "apim-restore",
        &["-q", "--target", path_str(&dest_file)?, "--no-safety-backup"],
        &env,
        Some(backup.trim()),
    )?;
    let sent = requests(&emu)? - before;
    report(
        "apim-restore (same service)",
        serde_json::json!({"wallMs": wall.as_secs_f64() * 1e3, "requests": sent, "peakRssKiB": rss, "targetPeakRssKiB": 30 * 1024}),
    );
    if !apim_diff("release", &env, &[path_str(&src_file)?, path_str(&dest_file)?])? {
        bail!("bench: the restored configuration differs");
    }
    // Polling discipline at a real pace: a 0.01 time scale makes a backup take 6 s.
    let emu = EmulatorProcess::start(
        &bin_path("apim-emulator", "release"),
        0.01,
        Some(&azurite.blob_endpoint),
        LIMITS_OFF,
    )?;
    let env = emu.env();
    let (services, store) = bench_provision(&env, &["apim-slow"], "bench-slow")?;
    std::fs::write(&store_file, &store)?;
    let before = requests(&emu)?;
    let (wall, _, _) = measured(
        "apim-backup",
        &["-q", "--storage", path_str(&store_file)?],
        &env,
        Some(services.trim()),
    )?;
    let sent = requests(&emu)? - before;
    report(
        "apim-backup polling (6 s backup, Retry-After honoured)",
        serde_json::json!({"wallMs": wall.as_secs_f64() * 1e3, "requests": sent,
        "note": "requests include the token, storage checks and the final blob read; polls are at most one per Retry-After second"}),
    );
    let _ = std::fs::remove_dir_all(&dir);
    drop(emu);
    bench_named_values(&azurite)?;
    bench_diff(&azurite)?;
    crate::bench_sync::bench_sync(&azurite)
}

pub(crate) fn bench_named_values_only() -> anyhow::Result<()> {
    cargo(&["build", "--release", "--workspace", "--bins"])?;
    bench_named_values(&Azurite::start()?)
}

pub(crate) fn bench_sync_only() -> anyhow::Result<()> {
    cargo(&["build", "--release", "--workspace", "--bins"])?;
    crate::bench_sync::bench_sync(&Azurite::start()?)
}

pub(crate) fn bench_diff_only() -> anyhow::Result<()> {
    cargo(&["build", "--release", "--workspace", "--bins"])?;
    bench_diff(&Azurite::start()?)
}

/// apim-diff of two instances shaped like large real ones, with 20 ms added
/// to every ARM answer: every read counts against ARM's read budget, so
/// the request count is reported with the time.
pub(crate) fn bench_diff(azurite: &Azurite) -> anyhow::Result<()> {
    let emu = EmulatorProcess::start(&bin_path("apim-emulator", "release"), 0.0, Some(&azurite.blob_endpoint), LIMITS_OFF)?;
    let env = emu.env();
    let (services, _) = bench_provision(&env, &["apim-big-a", "apim-big-b"], "bench-diff")?;
    let shape = Shape::BENCH;
    let started = Instant::now();
    seed(&emu, "apim-big-a", "src", shape)?;
    seed(&emu, "apim-big-b", "dest", shape)?;
    eprintln!(
        "bench: seeded two instances (every family; 5,000 named values, 3,000 subscriptions, 2,000 users, 2,000 operations each) in {:.1} s",
        started.elapsed().as_secs_f64()
    );
    let dir = std::env::temp_dir().join(format!("apim-bench-diff-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let (a, b) = (dir.join("a.json"), dir.join("b.json"));
    std::fs::write(&a, services.lines().next().unwrap_or_default())?;
    std::fs::write(&b, services.lines().nth(1).unwrap_or_default())?;
    emu.set_latency(20)?;
    let before = requests(&emu)?;
    let (wall, rss, out) = measured(
        "apim-diff",
        &[
            "-q",
            "--expect-host",
            "api.src.example.com=api.dest.example.com",
            path_str(&a)?,
            path_str(&b)?,
        ],
        &env,
        None,
    )?;
    let sent = requests(&emu)? - before;
    if !out.is_empty() {
        bail!(
            "bench: two instances seeded alike differ: {}",
            out.lines().next().unwrap_or_default()
        );
    }
    let before = requests(&emu)?;
    let (inv_wall, inv_rss, snapshot) = measured("apim-diff", &["-q", "--inventory", path_str(&a)?], &env, None)?;
    let inv_sent = requests(&emu)? - before;
    println!(
        "{}",
        serde_json::json!({"kind": "bench.result", "bench": "apim-diff of two instances with every family (5,000 named values, 200 APIs, 2,000 operations, 500 policies, 100 backends, 2,000 users, 3,000 subscriptions, 100 policy fragments, 20 gateways, 30 of each other family; 20 ms latency)",
        "result": {"wallMs": wall.as_secs_f64() * 1e3, "targetMs": 15000, "requests": sent, "peakRssKiB": rss, "targetPeakRssKiB": 100 * 1024,
            "inventoryOneMs": inv_wall.as_secs_f64() * 1e3, "inventoryTargetMs": 5000, "inventoryOneRequests": inv_sent, "inventoryPeakRssKiB": inv_rss,
            "entities": snapshot.lines().count()}})
    );
    // The same inventory under ARM's buckets (full at the start): the
    // floor is what they allow for its reads and its secret reads (POST
    // actions draw on the write bucket).
    emu.fault("arm-limits=azure")?;
    let stat = |k: &str| -> anyhow::Result<u64> { emu.stats()?[k].as_u64().context("emulator stats") };
    let before = [stat("reads")?, stat("writeRequests")?, stat("throttled")?];
    let (lim_wall, _, _) = measured("apim-diff", &["-q", "--inventory", path_str(&a)?], &env, None)?;
    let (reads, writes, throttled) = (
        stat("reads")? - before[0],
        stat("writeRequests")? - before[1],
        stat("throttled")? - before[2],
    );
    let floor = |n: u64, size: f64, rate: f64| ((n as f64 - size) / rate).max(0.0);
    let min_secs = floor(reads, 250.0, 25.0).max(floor(writes, 200.0, 10.0));
    println!(
        "{}",
        serde_json::json!({"kind": "bench.result", "bench": "one inventory of every family under ARM's throttling (--arm-limits azure; 20 ms latency)",
        "result": {"wallMs": lim_wall.as_secs_f64() * 1e3, "minimumMs": min_secs * 1e3, "ratio": lim_wall.as_secs_f64() / min_secs.max(1e-9), "targetRatio": 1.15,
            "reads": reads, "secretReads": writes, "throttled": throttled}})
    );
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// One list | rewrite | apply, measured.
struct RewriteRun {
    wall: Duration,
    stages: [Duration; 3],
    rss: [Option<u64>; 3],
    requests: u64,
    /// Reads, writes, deletes.
    by_class: [u64; 3],
    throttled: u64,
}

fn rewrite_run(emu: &EmulatorProcess, env: &[(String, String)], svc: &str, (old, new): (&str, &str)) -> anyhow::Result<RewriteRun> {
    let stat = |k: &str| -> anyhow::Result<u64> { emu.stats()?[k].as_u64().context("emulator stats") };
    let before = [
        requests(emu)?,
        stat("reads")?,
        stat("writeRequests")?,
        stat("deletes")?,
        stat("throttled")?,
    ];
    let total = Instant::now();
    let (list_wall, list_rss, nvs) = measured("apim-namedvalues", &["-q", "list"], env, Some(svc))?;
    let rule = format!("{old}={new}");
    let (rewrite_wall, rewrite_rss, plan) = measured("apim-namedvalues", &["-q", "rewrite", "--host", &rule], env, Some(&nvs))?;
    let (apply_wall, apply_rss, applied) = measured("apim-namedvalues", &["-q", "apply"], env, Some(&plan))?;
    let wall = total.elapsed();
    if nvs.lines().count() != 5000
        || plan.lines().count() != 1000
        || applied.lines().filter(|l| l.contains("\"status\":\"applied\"")).count() != 1000
    {
        bail!(
            "bench: expected 5,000 listed, 1,000 planned and applied; got {}, {}, {}",
            nvs.lines().count(),
            plan.lines().count(),
            applied.lines().count()
        );
    }
    Ok(RewriteRun {
        wall,
        stages: [list_wall, rewrite_wall, apply_wall],
        rss: [list_rss, rewrite_rss, apply_rss],
        requests: requests(emu)? - before[0],
        by_class: [
            stat("reads")? - before[1],
            stat("writeRequests")? - before[2],
            stat("deletes")? - before[3],
        ],
        throttled: stat("throttled")? - before[4],
    })
}

/// list | rewrite | apply over 5,000 named values (APIM's maximum for the
/// tier), 1,000 of them changed, with 20 ms added to every ARM call.
pub(crate) fn bench_named_values(azurite: &Azurite) -> anyhow::Result<()> {
    // Seed without latency, then add it for the measured run.
    let seeding = EmulatorProcess::start(&bin_path("apim-emulator", "release"), 0.0, Some(&azurite.blob_endpoint), LIMITS_OFF)?;
    let (services, _) = bench_provision(&seeding.env(), &["apim-nv"], "bench-nv")?;
    let started = Instant::now();
    let items: Vec<(String, serde_json::Value)> = (0..5000)
        .map(|i| {
            let host = if i % 5 == 0 {
                "api.src.example.com"
            } else {
                "api.other.example.com"
            };
            let props =
                serde_json::json!({"displayName": format!("nv-{i:04}"), "value": format!("https://{host}/{i}"), "secret": i % 10 == 0});
            (format!("namedValues/nv-{i:04}"), serde_json::json!({"properties": props}))
        })
        .collect();
    put_all(&seeding, "apim-nv", &items)?;
    eprintln!("bench: seeded 5,000 named values in {:.1} s", started.elapsed().as_secs_f64());
    let emu = seeding;
    emu.set_latency(20)?;
    let env = emu.env();
    let svc = services.lines().next().unwrap_or_default().to_string();
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    // Limits off: the client alone.
    let run = rewrite_run(&emu, &env, &svc, ("api.src.example.com", "api.dest.example.com"))?;
    println!(
        "{}",
        serde_json::json!({"kind": "bench.result", "bench": "named values: list | rewrite | apply (5,000, 1,000 changed, 20 ms latency)",
        "result": {"wallMs": ms(run.wall), "targetMs": 5000, "requests": run.requests, "requestsPerChange": run.requests as f64 / 1000.0,
            "listMs": ms(run.stages[0]), "rewriteMs": ms(run.stages[1]), "applyMs": ms(run.stages[2]),
            "peakRssKiB": run.rss, "targetPeakRssKiB": 50 * 1024}})
    );
    let toolkit = run.wall;
    // The same rewrite back, written with Microsoft's Python SDK on 16 threads.
    let python = apim_toolkit::pypi_tool("python-sdk")?.join("python");
    let script = apim_toolkit::workspace_root().join("xtask/bench/sdk_rewrite.py");
    let before = requests(&emu)?;
    let started = Instant::now();
    let out = Command::new(&python)
        .arg(&script)
        .args(["apim-rg", "apim-nv", "api.dest.example.com", "api.src.example.com"])
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .output()
        .context("running the Python SDK script")?;
    let sdk = started.elapsed();
    if !out.status.success() {
        bail!("the Python SDK script failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    let said: serde_json::Value = serde_json::from_slice(&out.stdout).context("the script's result")?;
    if said["changes"] != 1000 {
        bail!("the Python SDK script made {} changes, not 1,000", said["changes"]);
    }
    println!(
        "{}",
        serde_json::json!({"kind": "bench.result", "bench": "the same rewrite with Microsoft's Python SDK (azure-mgmt-apimanagement, 16 threads, polling 0.05 s; 20 ms latency)",
        "result": {"sdkMs": ms(sdk), "toolkitMs": ms(toolkit), "speedup": sdk.as_secs_f64() / toolkit.as_secs_f64(), "targetSpeedup": 1.5,
            "sdkRequests": requests(&emu)? - before}})
    );
    // ARM's buckets on, full at the start: the floor is what they allow for these requests.
    emu.fault("arm-limits=azure")?;
    let run = rewrite_run(&emu, &env, &svc, ("api.src.example.com", "api.dest.example.com"))?;
    let floor = |n: u64, size: f64, rate: f64| ((n as f64 - size) / rate).max(0.0);
    let min_secs = floor(run.by_class[0], 250.0, 25.0)
        .max(floor(run.by_class[1], 200.0, 10.0))
        .max(floor(run.by_class[2], 200.0, 10.0));
    println!(
        "{}",
        serde_json::json!({"kind": "bench.result", "bench": "named values under ARM's throttling (--arm-limits azure; 1,000 changes, 20 ms latency)",
        "result": {"wallMs": ms(run.wall), "minimumMs": min_secs * 1e3, "ratio": run.wall.as_secs_f64() / min_secs.max(1e-9), "targetRatio": 1.15,
            "requests": run.requests, "reads": run.by_class[0], "writes": run.by_class[1], "throttled": run.throttled,
            "throttledShare": run.throttled as f64 / run.requests.max(1) as f64, "targetThrottledShare": 0.01,
            "listMs": ms(run.stages[0]), "rewriteMs": ms(run.stages[1]), "applyMs": ms(run.stages[2]), "peakRssKiB": run.rss}})
    );
    Ok(())
}
