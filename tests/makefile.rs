//! examples/Makefile, the runbook as make targets, end to end against the
//! emulator and Azurite with the real binaries.

use crate::common::*;
use serde_json::{json, Value};
use std::path::Path;

const OLD: &str = "api.src.example.com";
const NEW: &str = "api.dest.example.com";
/// An API policy that reaches its backend through the `backend-url` named value.
const BACKEND_POLICY: &str = "<policies><inbound><base /><set-backend-service base-url=\"{{backend-url}}\" /></inbound><backend><base /></backend><outbound><base /></outbound></policies>";

struct Run {
    emu: apim_toolkit::EmulatorProcess,
    out: tempfile::TempDir,
    container: String,
}

impl Run {
    /// A fresh emulator, output folder and backup container.
    fn new() -> Run {
        Run {
            emu: emulator(0.0),
            out: tempfile::tempdir().unwrap(),
            container: unique_container(),
        }
    }

    fn make(&self, targets: &[&str], old_host: &str) -> std::process::Output {
        let bin_dir = Path::new(&apim_toolkit::bin_path("apim-diff", "debug"))
            .parent()
            .unwrap()
            .to_path_buf();
        std::process::Command::new("make")
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .envs(self.emu.env())
            .arg("-f")
            .arg("examples/Makefile")
            .args([
                "RG=apim-rg",
                "SRC=apim-src",
                "DEST=apim-dest",
                &format!("OLD_HOST={old_host}"),
                &format!("NEW_HOST={NEW}"),
                &format!("OUT={}", self.out.path().display()),
                &format!("APIM_BIN={}/", bin_dir.display()),
                &format!("CONTAINER={}", self.container),
            ])
            .args(targets)
            .output()
            .unwrap()
    }

    fn ok(&self, targets: &[&str]) -> String {
        let o = self.make(targets, OLD);
        let err = String::from_utf8_lossy(&o.stderr).into_owned() + &String::from_utf8_lossy(&o.stdout);
        assert!(o.status.success(), "make {targets:?} failed: {err}");
        err
    }

    fn file(&self, name: &str) -> String {
        std::fs::read_to_string(self.out.path().join(name)).unwrap_or_default()
    }

    fn put(&self, service: &str, path: &str, props: Value) {
        let body = if props.is_null() { json!({}) } else { json!({"properties": props}) };
        put_entity(&self.emu, service, path, &body);
    }
}

#[test]
fn the_makefile_runbook_runs_end_to_end_and_a_failed_step_is_rerun_alone() {
    let run = Run::new();
    let log = run.ok(&["provision", "storage"]);
    assert!(
        log.contains("--name \"$SRC\" --name \"$DEST\""),
        "both instances in one call, created at once: {log}"
    );
    assert!(run.file("src.json").contains("\"apim-src\"") && run.file("dest.json").contains("\"apim-dest\""));
    assert!(run.file("store.json").contains("storage.container"));

    // The source as operators build it: hosts in named values, policies referencing them.
    run.put(
        "apim-src",
        "namedValues/backend-url",
        json!({"displayName": "backend-url", "value": format!("https://{OLD}/v1")}),
    );
    run.put(
        "apim-src",
        "namedValues/callback",
        json!({"displayName": "callback", "value": format!("https://{OLD}/hook?sig=s3cret"), "secret": true}),
    );
    run.put(
        "apim-src",
        "apis/echo",
        json!({"displayName": "Echo", "path": "echo", "serviceUrl": "https://echo.internal.example.net"}),
    );
    run.put(
        "apim-src",
        "apis/echo/operations/get",
        json!({"displayName": "get", "method": "GET", "urlTemplate": "/"}),
    );
    run.put("apim-src", "apis/echo/policies/policy", json!({"value": BACKEND_POLICY}));
    run.put(
        "apim-src",
        "products/starter",
        json!({"displayName": "Starter", "state": "published"}),
    );
    run.put("apim-src", "products/starter/apis/echo", Value::Null);

    run.ok(&["-j2", "backup-both"]);
    let (bsrc, bdest) = (run.file("backup-src.ndjson"), run.file("backup-dest.ndjson"));
    assert!(bsrc.contains("apim.backup") && bsrc.contains("apim-src") && bdest.contains("apim-dest"));

    // Teardown before the copy is proven is refused, and deletes nothing.
    let o = run.make(&["teardown"], OLD);
    assert!(!o.status.success());
    assert!(String::from_utf8_lossy(&o.stderr).contains("make verify"));
    assert_eq!(run.emu.arm("GET", &service_path("apim-src"), None).unwrap().0, 200);

    // A step that fails (a rewrite that matches nothing) leaves no file behind…
    let o = run.make(&["rewrite"], "api.typo.example.com");
    assert!(!o.status.success());
    assert!(run.out.path().join("restore.ndjson").exists());
    assert!(
        !run.out.path().join("plan.ndjson").exists(),
        ".DELETE_ON_ERROR keeps a failed step from looking done"
    );
    // …and re-running it runs it alone: the restore is not done again.
    let restores = run.file("restore.ndjson");
    let log = run.ok(&["rewrite"]);
    assert!(!log.contains("apim-restore") && !log.contains("apim-backup"), "{log}");
    assert_eq!(run.file("restore.ndjson"), restores);
    assert!(run.file("plan.ndjson").contains("apim.namedvalue.change"));
    assert!(!run.file("plan.ndjson").contains("s3cret"));

    // A corrected host makes a new plan, not the stale one again.
    let o = run.make(&["rewrite", "NEW_HOST=api.other.example.com"], OLD);
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(run.file("plan.ndjson").contains("api.other.example.com"));
    run.ok(&["rewrite"]);
    assert!(!run.file("plan.ndjson").contains("api.other.example.com"));
    // verify does not apply a plan nobody read: it stops and says so.
    let o = run.make(&["verify"], OLD);
    assert!(!o.status.success());
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("review"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(!run.out.path().join("applied.ndjson").exists(), "nothing applied");
    run.ok(&["apply", "verify", "scan"]);
    assert_eq!(run.file("differences.ndjson"), "", "the copy is the source with the host rewritten");
    assert_eq!(run.file("leftovers.ndjson"), "", "no place still uses the old host");

    run.ok(&["teardown"]);
    let deleted: Value = serde_json::from_str(run.file("deleted.ndjson").trim()).unwrap();
    assert_eq!(
        (deleted["name"].as_str(), deleted["status"].as_str()),
        (Some("apim-src"), Some("deleted"))
    );
    assert_eq!(run.emu.arm("GET", &service_path("apim-src"), None).unwrap().0, 404);
    assert_eq!(run.emu.arm("GET", &service_path("apim-dest"), None).unwrap().0, 200);
}

#[test]
fn the_fleet_targets_start_every_backup_finish_them_elsewhere_and_prune() {
    let run = Run::new();
    for (group, name) in [("apim-rg", "fleet-a"), ("apim-rg", "fleet-b"), ("other-rg", "fleet-c")] {
        bin("apim-provision", &run.emu)
            .args(["service", "-g", group, "--create-group", "-l", "westeurope", "-n", name])
            .args(["--publisher-email", "ops@example.com", "--publisher-name", "Ops"])
            .assert()
            .success();
    }
    run.ok(&["storage"]);
    run.emu.fault("service-page-size=2").unwrap();
    run.emu.set_time_scale(1.0).unwrap();
    run.ok(&["fleet-start"]);
    assert_eq!(run.file("fleet.ndjson").lines().count(), 3, "every service, over two pages");
    let ops = run.file("fleet-operations.ndjson");
    assert_eq!(ops.lines().filter(|l| l.contains("\"apim.operation\"")).count(), 3);
    assert_eq!(service_state(&run.emu, "fleet-a"), "Updating", "started, not waited for");

    // Another process, later: finishes from the documents alone.
    run.emu.finish_operations().unwrap();
    run.ok(&["fleet-finish"]);
    let first = run.file("fleet-backups.ndjson");
    assert_eq!(first.lines().filter(|l| l.contains("\"apim.backup\"")).count(), 3, "{first}");

    // A second night, then keep one backup of each.
    run.emu.set_time_scale(0.0).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(1100));
    run.ok(&["fleet-start"]);
    run.ok(&["fleet-finish"]);
    run.ok(&["fleet-prune", "KEEP=1"]);
    let pruned: Vec<Value> = run
        .file("fleet-pruned.ndjson")
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let mut services: Vec<&str> = pruned.iter().map(|p| p["service"].as_str().unwrap()).collect();
    services.sort();
    assert_eq!(
        services,
        ["fleet-a", "fleet-b", "fleet-c"],
        "the older backup of each, and only that"
    );
    for p in &pruned {
        assert!(first.contains(p["blob"].as_str().unwrap()), "the first night's backup went: {p}");
    }
}

/// Stand-ins for the binaries that record each call (arguments separated
/// by NUL, calls by RS) and print an empty document, so every target runs
/// without Azure and a test sees exactly what each command received.
fn stubs(dir: &Path) -> std::path::PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    for name in ["apim-provision", "apim-backup", "apim-restore", "apim-namedvalues", "apim-diff"] {
        let path = bin.join(name);
        std::fs::write(
            &path,
            "#!/bin/sh\n{ printf '%s\\0' \"$(basename \"$0\")\" \"$@\"; printf '\\036'; } >> \"$STUB_LOG\"\necho '{}'\n",
        )
        .unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    bin
}

const TARGETS: &[&str] = &[
    "provision",
    "storage",
    "backup-both",
    "restore",
    "rewrite",
    "apply",
    "verify",
    "scan",
    "teardown",
    "fleet-start",
    "fleet-finish",
    "fleet-prune",
];

/// Runs every target with `vars` (and good values for the rest) against the
/// stubs; the calls the stubs saw, each a list of arguments, and stderr.
fn make_with(dir: &Path, vars: &[(&str, &str)]) -> (Vec<Vec<String>>, String) {
    let bin = stubs(dir);
    let out = dir.join("out");
    let log = dir.join("calls");
    let _ = std::fs::remove_dir_all(&out);
    let _ = std::fs::remove_file(&log);
    let mut cmd = std::process::Command::new("make");
    cmd.current_dir(dir)
        .env("STUB_LOG", &log)
        .arg("-k")
        .arg("-f")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/Makefile"))
        .arg(format!("OUT={}", out.display()))
        .arg(format!("APIM_BIN={}/", bin.display()));
    for (k, v) in [
        ("RG", "apim-rg"),
        ("SRC", "apim-src"),
        ("DEST", "apim-dest"),
        ("OLD_HOST", OLD),
        ("NEW_HOST", NEW),
    ] {
        if !vars.iter().any(|(name, _)| *name == k) {
            cmd.arg(format!("{k}={v}"));
        }
    }
    for (k, v) in vars {
        cmd.arg(format!("{k}={v}"));
    }
    let o = cmd.args(TARGETS).output().unwrap();
    let calls = std::fs::read(&log).unwrap_or_default();
    let calls = calls
        .split(|b| *b == 0x1e)
        .filter(|c| !c.is_empty())
        .map(|c| {
            c.split(|b| *b == 0)
                .filter(|a| !a.is_empty())
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .collect()
        })
        .collect();
    (calls, String::from_utf8_lossy(&o.stderr).into_owned())
}

#[test]
fn hostile_values_never_run_as_commands() {
    let dir = tempfile::tempdir().unwrap();
    let canary = dir.path().join("CANARY");
    let c = canary.display().to_string();
    let hostile = [
        format!("x; touch {c}"),
        format!("$(touch {c})"),
        format!("`touch {c}`"),
        format!("x' ; touch {c}; echo '"),
        format!("x\" ; touch {c}; echo \""),
        format!("a b\ntouch {c}"),
        format!("$(shell touch {c})"),
        "O'Brien & Sons".to_string(),
    ];
    // Free text: passed to the binary intact, as one argument, whatever it holds.
    for v in &hostile {
        let vars = [
            ("PUBLISHER_NAME", v.as_str()),
            ("PUBLISHER_EMAIL", v.as_str()),
            ("FLEET_TAG", v.as_str()),
            ("KEEP", v.as_str()),
        ];
        let (calls, err) = make_with(dir.path(), &vars);
        assert!(!canary.exists(), "{v:?} ran a command: {err}");
        let create = calls
            .iter()
            .find(|c| c[0] == "apim-provision" && c[1] == "service")
            .unwrap_or_else(|| panic!("{err}"));
        let after = |flag: &str, call: &Vec<String>| call.iter().position(|a| a == flag).map(|i| call[i + 1].clone());
        assert_eq!(after("--publisher-name", create).as_deref(), Some(v.as_str()), "{create:?}");
        assert_eq!(after("--publisher-email", create).as_deref(), Some(v.as_str()));
        let list = calls.iter().find(|c| c[0] == "apim-provision" && c[1] == "list").unwrap();
        assert_eq!(after("--tag", list).as_deref(), Some(v.as_str()), "{list:?}");
        let prune = calls.iter().find(|c| c[0] == "apim-backup" && c[1] == "prune").unwrap();
        assert_eq!(after("--keep", prune).as_deref(), Some(v.as_str()), "{prune:?}");
    }
    // Rewrite flags are split into words, never run.
    for v in &hostile {
        let (_, err) = make_with(dir.path(), &[("REWRITE_FLAGS", v.as_str())]);
        assert!(!canary.exists(), "REWRITE_FLAGS={v:?} ran a command: {err}");
    }
    // Names and hosts: refused by make before any binary sees them.
    for var in ["RG", "SRC", "DEST", "OLD_HOST", "NEW_HOST", "LOCATION", "ACCOUNT", "CONTAINER"] {
        for v in &hostile {
            let (calls, err) = make_with(dir.path(), &[(var, v.as_str())]);
            assert!(!canary.exists(), "{var}={v:?} ran a command: {err}");
            assert!(
                calls.iter().all(|c| !c.iter().any(|a| a.contains(v.as_str()))),
                "{var}={v:?} reached a binary: {calls:?}"
            );
            assert!(err.contains(&format!("make: set {var} to")), "{var}={v:?}: {err}");
        }
    }
}

#[test]
fn a_folder_of_one_runbook_refuses_the_values_of_another() {
    let dir = tempfile::tempdir().unwrap();
    let (calls, err) = make_with(dir.path(), &[]);
    assert!(calls.iter().any(|c| c[1] == "delete"), "the runbook ran to its teardown: {err}");
    let out = dir.path().join("out");
    // Outputs of the apim-src runbook are there, all but its teardown; now a
    // teardown for another source.
    std::fs::remove_file(out.join("deleted.ndjson")).unwrap();
    std::fs::write(dir.path().join("calls"), "").unwrap();
    let o = std::process::Command::new("make")
        .current_dir(dir.path())
        .env("STUB_LOG", dir.path().join("calls"))
        .arg("-f")
        .arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/Makefile"))
        .arg(format!("OUT={}", out.display()))
        .arg(format!("APIM_BIN={}/", dir.path().join("bin").display()))
        .args([
            "RG=apim-rg",
            "SRC=apim-old",
            "DEST=apim-dest",
            &format!("OLD_HOST={OLD}"),
            &format!("NEW_HOST={NEW}"),
        ])
        .arg("teardown")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success());
    assert!(
        err.contains("holds the runbook of other values") && err.contains("SRC=apim-src"),
        "{err}"
    );
    assert_eq!(std::fs::read_to_string(dir.path().join("calls")).unwrap(), "", "no binary ran");
}

#[test]
fn the_makefile_copies_without_a_freeze_and_proves_it() {
    let run = Run::new();
    run.ok(&["provision"]);
    run.put(
        "apim-src",
        "namedValues/backend-url",
        json!({"displayName": "backend-url", "value": format!("https://{OLD}/v1")}),
    );
    run.put(
        "apim-src",
        "apis/echo",
        json!({"displayName": "Echo", "path": "echo", "serviceUrl": format!("https://{OLD}/echo")}),
    );
    run.put("apim-src", "apis/echo/policies/policy", json!({"value": BACKEND_POLICY}));
    run.ok(&["copy-plan"]);
    assert!(run.file("sync-plan.ndjson").contains("apim.sync.change"));
    // Reviewed first: verify alone does not write the copy (nor restore).
    let o = run.make(&["verify"], OLD);
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!o.status.success() && err.contains("then run make copy"), "{err}");
    assert_eq!(run.file("restore.ndjson"), "");
    let log = run.ok(&["copy", "verify", "scan"]);
    assert!(!log.contains("apim-backup") && !log.contains("apim-restore"), "no freeze: {log}");
    assert!(run.file("copied.ndjson").contains("\"applied\""));
    assert_eq!(run.file("differences.ndjson"), "");
    assert_eq!(run.file("leftovers.ndjson"), "");
    let (_, _, api) = run.emu.arm("GET", &entity_path("apim-dest", "apis/echo"), None).unwrap();
    assert_eq!(api["properties"]["serviceUrl"], format!("https://{NEW}/echo"));
}
