//! The README's walkthrough, run as a newcomer pastes it: every `sh` block
//! of "What works today", top to bottom, exactly as written, in one shell,
//! with the binaries on PATH. It starts Azurite and the emulator itself, as
//! the README tells the user to; the whole process group is stopped after.

use std::os::unix::process::CommandExt;
use std::process::Command;

#[test]
fn the_readme_walkthrough_runs_as_written() {
    let root = apim_toolkit::workspace_root();
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let start = readme.find("## What works today").expect("the walkthrough section");
    let end = readme[start..].find("\n## ").map(|i| start + i).unwrap_or(readme.len());
    let blocks: Vec<&str> = readme[start..end]
        .split("```sh\n")
        .skip(1)
        .filter_map(|b| b.split("```").next())
        .collect();
    assert!(blocks.len() >= 4, "the walkthrough has its blocks");
    // Inside the workspace (so `cargo xtask` works, as in a clone), under
    // target/ (ignored by git).
    let dir = root.join("target").join(format!("readme-walkthrough-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let script = format!("set -euo pipefail\n{}\necho WALKTHROUGH-DONE\n", blocks.join("\n"));
    std::fs::write(dir.join("walkthrough.sh"), &script).unwrap();
    let bin_dir = apim_toolkit::bin_path("apim-provision", "debug").parent().unwrap().to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let mut child = Command::new("bash")
        .arg("walkthrough.sh")
        .current_dir(&dir)
        .env("PATH", path)
        .env_remove("AZURITE_BLOB_ENDPOINT")
        .env_remove("SSL_CERT_FILE")
        .process_group(0)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let group = child.id();
    // Whatever happens, the servers the walkthrough started stop with it.
    struct Stop(u32);
    impl Drop for Stop {
        fn drop(&mut self) {
            let _ = Command::new("kill").args(["-TERM", "--", &format!("-{}", self.0)]).status();
        }
    }
    let _stop = Stop(group);
    let _stop = Some(_stop);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(240);
    while child.try_wait().unwrap().is_none() {
        assert!(std::time::Instant::now() < deadline, "the walkthrough hangs");
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    // The servers it started in the background hold its output pipes open:
    // stop them before reading.
    drop(_stop);
    let out = child.wait_with_output().unwrap();
    let (stdout, stderr) = (String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    assert!(out.status.success(), "the walkthrough failed:\n{stderr}\n{stdout}");
    assert!(stdout.contains("WALKTHROUGH-DONE"));
    // What it promised happened.
    // The walkthrough works in a folder of its own.
    let work = dir.join("rehearsal");
    let restore = std::fs::read_to_string(work.join("restore.json")).unwrap();
    assert!(restore.contains("\"status\":\"Succeeded\""), "{restore}");
    let plan = std::fs::read_to_string(work.join("plan.ndjson")).unwrap();
    let left: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n != "walkthrough.sh" && n != "rehearsal")
        .collect();
    assert!(left.is_empty(), "nothing outside the work folder: {left:?}");
    assert!(plan.contains("https://api.dest.example.com/v1"), "{plan}");
    assert!(stdout.contains("as intended"));
    let _ = std::fs::remove_dir_all(&dir);
}
