//! `cargo xtask test|demo|bench|azurite`: project automation in Rust, so it
//! runs the same on a laptop and in CI.

use anyhow::{bail, Context};
use apim_toolkit::{bin_path, workspace_root, Azurite, EmulatorProcess};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const USAGE: &str = "usage: cargo xtask <test|demo|bench|azurite>
  test     fmt --check, clippy -D warnings, then every test with Azurite running
  demo     the whole flow on the emulator + Azurite, with the real binaries
  bench    timings of the binaries against the emulator (release build)
  azurite  run Azurite in the foreground (prints its endpoint) until Ctrl-C";

fn main() -> std::process::ExitCode {
    let task = std::env::args().nth(1).unwrap_or_default();
    let result = match task.as_str() {
        "test" => test(),
        "demo" => demo(),
        "bench" => bench(),
        "azurite" => azurite(),
        _ => {
            eprintln!("{USAGE}");
            return std::process::ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask {task}: error: {e:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

fn cargo(args: &[&str]) -> anyhow::Result<()> {
    cargo_env(args, &[])
}

fn cargo_env(args: &[&str], env: &[(String, String)]) -> anyhow::Result<()> {
    eprintln!("xtask: cargo {}", args.join(" "));
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .current_dir(workspace_root())
        .status()
        .context("running cargo")?;
    if !status.success() {
        bail!("cargo {} failed", args.join(" "));
    }
    Ok(())
}

fn test() -> anyhow::Result<()> {
    let started = Instant::now();
    cargo(&["fmt", "--all", "--", "--check"])?;
    cargo(&["clippy", "--workspace", "--all-targets", "--", "-D", "warnings"])?;
    cargo(&["build", "--workspace", "--bins"])?;
    let azurite = Azurite::start()?;
    eprintln!("xtask: Azurite at {}", azurite.blob_endpoint);
    let env = vec![("AZURITE_BLOB_ENDPOINT".to_string(), azurite.blob_endpoint.clone())];
    cargo_env(&["test", "--workspace"], &env)?;
    drop(azurite);
    eprintln!("xtask: tests passed in {:.0} s", started.elapsed().as_secs_f64());
    Ok(())
}

/// Runs a binary with the emulator's environment; returns its stdout.
fn run_bin(bin: &str, args: &[&str], env: &[(String, String)], stdin: Option<&str>) -> anyhow::Result<String> {
    use std::io::Write;
    let path = bin_path(bin, "debug");
    let mut child = Command::new(&path)
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(if stdin.is_some() { Stdio::piped() } else { Stdio::null() })
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .with_context(|| format!("starting {}", path.display()))?;
    if let (Some(input), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(input.as_bytes())?;
    }
    let out = child.wait_with_output()?;
    if !out.status.success() {
        bail!("{bin} {} exited with {}", args.join(" "), out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn demo() -> anyhow::Result<()> {
    cargo(&["build", "--workspace", "--bins"])?;
    let azurite = Azurite::start()?;
    // 1/1000 of Azure's real durations: a 40-minute create takes 2.4 s.
    let emu = EmulatorProcess::start(&bin_path("apim-emulator", "debug"), 0.001, Some(&azurite.blob_endpoint), &[])?;
    let env = emu.env();
    eprintln!("demo: emulator at {}, Azurite at {}", emu.arm_endpoint(), azurite.blob_endpoint);

    eprintln!("\ndemo: 1. provision two APIM services (concurrently)");
    let services = run_bin(
        "apim-provision",
        &[
            "service",
            "--resource-group",
            "apim-rg",
            "--create-group",
            "--location",
            "westeurope",
            "--name",
            "apim-src",
            "--name",
            "apim-dest",
            "--publisher-email",
            "ops@example.com",
            "--publisher-name",
            "Example Ops",
        ],
        &env,
        None,
    )?;
    print!("{services}");

    eprintln!("\ndemo: 2. provision backup storage (account + container, in Azurite)");
    let store = run_bin(
        "apim-provision",
        &[
            "storage",
            "--resource-group",
            "apim-rg",
            "--location",
            "westeurope",
            "--account",
            "apimbackups",
            "--container",
            "apim-backups",
        ],
        &env,
        None,
    )?;
    print!("{store}");

    eprintln!("\ndemo: 3. run it again: nothing changes, nothing is written");
    let again = run_bin("apim-provision", &["service"], &env, Some(&services))?;
    if again.lines().count() != 2 {
        bail!("re-provisioning from the documents should return both services");
    }

    eprintln!("\ndemo: 4. put named values, APIs and products into the source (through ARM)");
    seed(&emu, "apim-src", "src", (5, 2, 1))?;

    let dir = std::env::temp_dir().join(format!("apim-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store_file = dir.join("store.json");
    std::fs::write(&store_file, &store)?;
    let dest_file = dir.join("dest.json");
    std::fs::write(&dest_file, services.lines().nth(1).unwrap_or_default())?;

    eprintln!("\ndemo: 5. back up BOTH services, concurrently (the target's backup is the way back)");
    let backups = run_bin("apim-backup", &["--storage", path_str(&store_file)?], &env, Some(&services))?;
    print!("{backups}");
    let backups_file = dir.join("backups.ndjson");
    std::fs::write(&backups_file, &backups)?;

    eprintln!("\ndemo: 6. restore the source's backup onto the target, behind the safety rails");
    let src_backup = backups
        .lines()
        .find(|l| l.contains("\"name\":\"apim-src\""))
        .context("no backup of apim-src")?;
    let restore = run_bin(
        "apim-restore",
        &["--target", path_str(&dest_file)?, "--safety-backup", path_str(&backups_file)?],
        &env,
        Some(src_backup),
    )?;
    print!("{restore}");

    eprintln!("\ndemo: 7. the target's configuration now equals the source's");
    let (src, dest) = (configuration(&emu, "apim-src")?, configuration(&emu, "apim-dest")?);
    if src != dest {
        bail!("the target's configuration differs from the source's after the restore");
    }
    let count = |c: &serde_json::Value, k: &str| c[k].as_object().map(|m| m.len()).unwrap_or(0);
    eprintln!(
        "demo: equal: {} named values, {} APIs, {} products",
        count(&src, "namedValues"),
        count(&src, "apis"),
        count(&src, "products")
    );

    eprintln!("\ndemo: 8. the target's named values still name the source's hosts: plan a rewrite, apply it");
    let dest_doc = services.lines().nth(1).unwrap_or_default();
    let nvs = run_bin("apim-namedvalues", &["list"], &env, Some(dest_doc))?;
    let rule = [r"--regex", r"\.src\.example\.com=.dest.example.com"];
    let plan = run_bin("apim-namedvalues", &["rewrite", rule[0], rule[1]], &env, Some(&nvs))?;
    print!("{plan}");
    let applied = run_bin("apim-namedvalues", &["apply"], &env, Some(&plan))?;
    eprintln!("demo: applied {} change(s)", applied.lines().count());

    eprintln!("\ndemo: 9. verify: a second plan is empty, and the target is the source with its hosts rewritten");
    let nvs = run_bin("apim-namedvalues", &["list"], &env, Some(dest_doc))?;
    if !run_bin(
        "apim-namedvalues",
        &["rewrite", rule[0], rule[1], "--allow-unmatched"],
        &env,
        Some(&nvs),
    )?
    .is_empty()
    {
        bail!("a second rewrite should plan nothing");
    }
    // Named values carry the new hosts; APIs and products are as restored.
    let mut expected = configuration(&emu, "apim-src")?;
    expected["namedValues"] = serde_json::from_str(&expected["namedValues"].to_string().replace(".src.example.com", ".dest.example.com"))?;
    if configuration(&emu, "apim-dest")? != expected {
        bail!("the target's configuration is not the source's with its hosts rewritten");
    }
    let _ = std::fs::remove_dir_all(&dir);
    eprintln!("demo: done: provision → backup → restore → rewrite → verify");
    Ok(())
}

fn path_str(p: &std::path::Path) -> anyhow::Result<&str> {
    p.to_str().context("temp path is not UTF-8")
}

const CONFIG_COLLECTIONS: [&str; 3] = ["namedValues", "apis", "products"];

/// The emulator's own subscription.
const SUBSCRIPTION: &str = "00000000-0000-4000-8000-00000000a1a1";

fn child_path(service: &str, coll: &str, id: Option<&str>) -> String {
    let base = format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/apim-rg/providers/Microsoft.ApiManagement/service/{service}/{coll}");
    match id {
        Some(id) => format!("{base}/{id}?api-version=2024-05-01"),
        None => format!("{base}?api-version=2024-05-01"),
    }
}

/// Puts named values (one in five secret), APIs and products into a service.
fn seed(emu: &EmulatorProcess, service: &str, tag: &str, (n, apis, products): (usize, usize, usize)) -> anyhow::Result<()> {
    let put = |coll: &str, id: String, props: serde_json::Value| -> anyhow::Result<()> {
        let (status, _, body) = emu.arm(
            "PUT",
            &child_path(service, coll, Some(&id)),
            Some(&serde_json::json!({"properties": props})),
        )?;
        if status != 200 && status != 201 {
            bail!("seeding {coll}/{id}: {status} {body}");
        }
        Ok(())
    };
    for i in 0..n {
        let props = serde_json::json!({"displayName": format!("nv-{i}"), "value": format!("https://backend-{i}.{tag}.example.com/api"), "secret": i % 5 == 4, "tags": ["seed"]});
        put("namedValues", format!("nv-{i}"), props)?;
    }
    for i in 0..apis {
        put(
            "apis",
            format!("api-{i}"),
            serde_json::json!({"displayName": format!("API {i}"), "path": format!("api-{i}"), "serviceUrl": format!("https://api-{i}.{tag}.example.com"), "protocols": ["https"]}),
        )?;
    }
    for i in 0..products {
        put(
            "products",
            format!("product-{i}"),
            serde_json::json!({"displayName": format!("Product {i}"), "state": "published", "subscriptionRequired": true}),
        )?;
    }
    Ok(())
}

/// A service's configuration as ARM lists it (secret values are not listed; the rest of each secret is).
fn configuration(emu: &EmulatorProcess, service: &str) -> anyhow::Result<serde_json::Value> {
    let mut out = serde_json::Map::new();
    for coll in CONFIG_COLLECTIONS {
        let (status, _, list) = emu.arm("GET", &child_path(service, coll, None), None)?;
        if status != 200 {
            bail!("listing {coll} of {service}: {status} {list}");
        }
        let items: serde_json::Map<String, serde_json::Value> = list["value"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|i| (i["name"].as_str().unwrap_or_default().to_string(), i["properties"].clone()))
                    .collect()
            })
            .unwrap_or_default();
        out.insert(coll.to_string(), serde_json::Value::Object(items));
    }
    Ok(serde_json::Value::Object(out))
}

fn median(mut v: Vec<Duration>) -> Duration {
    v.sort();
    v[v.len() / 2]
}

fn time_runs(n: usize, mut f: impl FnMut() -> anyhow::Result<()>) -> anyhow::Result<Duration> {
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
fn measured(bin: &str, args: &[&str], env: &[(String, String)], stdin: Option<&str>) -> anyhow::Result<(Duration, Option<u64>, String)> {
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
fn bench_provision(env: &[(String, String)], names: &[&str], container: &str) -> anyhow::Result<(String, String)> {
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

fn requests(emu: &EmulatorProcess) -> anyhow::Result<u64> {
    emu.stats()?["requests"].as_u64().context("emulator stats")
}

fn bench() -> anyhow::Result<()> {
    cargo(&["build", "--release", "--workspace", "--bins"])?;
    let emu = EmulatorProcess::start(&bin_path("apim-emulator", "release"), 0.0, None, &[])?;
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
    report(
        "apim-provision --help",
        serde_json::json!({"runs": 20, "medianMs": help.as_secs_f64() * 1e3, "targetMs": 20}),
    );
    report(
        "apim-provision service (idempotent)",
        serde_json::json!({"runs": 20, "medianMs": idem.as_secs_f64() * 1e3, "targetMs": 60}),
    );
    drop(emu);

    // Backup + restore of a large service, time-scale 0.
    let azurite = Azurite::start()?;
    let emu = EmulatorProcess::start(&bin_path("apim-emulator", "release"), 0.0, Some(&azurite.blob_endpoint), &[])?;
    let env = emu.env();
    let (services, store) = bench_provision(&env, &["apim-src", "apim-dest"], "bench")?;
    let seeding = Instant::now();
    seed(&emu, "apim-src", "src", (2000, 200, 50))?;
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
    if configuration(&emu, "apim-src")? != configuration(&emu, "apim-dest")? {
        bail!("bench: the restored configuration differs");
    }
    // Polling discipline at a real pace: a 0.01 time scale makes a backup take 6 s.
    let emu = EmulatorProcess::start(&bin_path("apim-emulator", "release"), 0.01, Some(&azurite.blob_endpoint), &[])?;
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
    bench_named_values(&azurite)
}

/// list | rewrite | apply over 5,000 named values (APIM's maximum for the
/// tier), 1,000 of them changed, with 20 ms added to every ARM call.
fn bench_named_values(azurite: &Azurite) -> anyhow::Result<()> {
    // Seed without latency, then add it for the measured run.
    let seeding = EmulatorProcess::start(&bin_path("apim-emulator", "release"), 0.0, Some(&azurite.blob_endpoint), &[])?;
    let (services, _) = bench_provision(&seeding.env(), &["apim-nv"], "bench-nv")?;
    let started = Instant::now();
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let workers: Vec<_> = (0..4)
            .map(|w| {
                let emu = &seeding;
                scope.spawn(move || -> anyhow::Result<()> {
                    for i in (w..5000).step_by(4) {
                        let host = if i % 5 == 0 { "api.src.example.com" } else { "api.other.example.com" };
                        let props = serde_json::json!({"displayName": format!("nv-{i:04}"), "value": format!("https://{host}/{i}"), "secret": i % 10 == 0});
                        let (status, _, body) = emu.arm("PUT", &child_path("apim-nv", "namedValues", Some(&format!("nv-{i:04}"))), Some(&serde_json::json!({"properties": props})))?;
                        if status != 201 {
                            bail!("seeding nv-{i}: {status} {body}");
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for w in workers {
            w.join().map_err(|_| anyhow::anyhow!("a seeding thread panicked"))??;
        }
        Ok(())
    })?;
    eprintln!("bench: seeded 5,000 named values in {:.1} s", started.elapsed().as_secs_f64());
    let emu = seeding;
    emu.set_latency(20)?;
    let env = emu.env();
    let svc = services.lines().next().unwrap_or_default().to_string();
    let before = requests(&emu)?;
    let total = Instant::now();
    let (list_wall, list_rss, nvs) = measured("apim-namedvalues", &["-q", "list"], &env, Some(&svc))?;
    let (rewrite_wall, rewrite_rss, plan) = measured(
        "apim-namedvalues",
        &["-q", "rewrite", "--host", "api.src.example.com=api.dest.example.com"],
        &env,
        Some(&nvs),
    )?;
    let (apply_wall, apply_rss, applied) = measured("apim-namedvalues", &["-q", "apply"], &env, Some(&plan))?;
    let wall = total.elapsed();
    let sent = requests(&emu)? - before;
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
    let ms = |d: Duration| d.as_secs_f64() * 1e3;
    println!(
        "{}",
        serde_json::json!({"kind": "bench.result", "bench": "named values: list | rewrite | apply (5,000, 1,000 changed, 20 ms latency)",
        "result": {"wallMs": ms(wall), "targetMs": 10000, "requests": sent,
            "listMs": ms(list_wall), "rewriteMs": ms(rewrite_wall), "applyMs": ms(apply_wall),
            "peakRssKiB": {"list": list_rss, "rewrite": rewrite_rss, "apply": apply_rss}, "targetPeakRssKiB": 50 * 1024}})
    );
    Ok(())
}

fn azurite() -> anyhow::Result<()> {
    let a = Azurite::start()?;
    println!(
        "{}",
        serde_json::json!({"kind": "azurite.ready", "blobEndpoint": a.blob_endpoint, "accounts": apim_toolkit::blob_accounts_flag()})
    );
    eprintln!("xtask: Azurite running; Ctrl-C to stop");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
