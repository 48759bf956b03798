//! A durable record of the operations a run started: one owner-only file
//! per operation in the user's state directory, written the moment Azure
//! accepted it and removed once it ended. A run killed outright (kill -9,
//! a lost runner) or a resume file emptied by the shell
//! (`--resume < ops.ndjson > ops.ndjson`) leaves the operation here, and
//! `--resume` with nothing on stdin takes it from here.

use arm_client::PendingOperation;
use serde_json::Value;
use std::path::PathBuf;

/// `$APIM_TOOLKIT_STATE_DIR`, else `$XDG_STATE_HOME/apim-toolkit/operations`,
/// else `~/.local/state/apim-toolkit/operations`.
pub fn dir() -> Option<PathBuf> {
    let var = |k: &str| std::env::var_os(k).filter(|v| !v.is_empty()).map(PathBuf::from);
    if let Some(d) = var("APIM_TOOLKIT_STATE_DIR") {
        return Some(d);
    }
    let base = var("XDG_STATE_HOME").or_else(|| var("HOME").map(|h| h.join(".local/state")))?;
    Some(base.join("apim-toolkit").join("operations"))
}

/// The file name of an operation: what it polls names it, hashed (FNV-1a)
/// to a name a file system takes.
fn file_of(op: &PendingOperation) -> String {
    let key = op
        .location
        .as_deref()
        .or(op.azure_async_operation.as_deref())
        .unwrap_or(&op.resource_url)
        .to_ascii_lowercase();
    let mut h: u64 = 0xcbf29ce484222325;
    for b in key.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x100000001b3);
    }
    format!("{h:016x}.json")
}

/// Records a started operation (its `apim.operation` document), owner-only.
/// Best effort: the run goes on when the state directory cannot be written.
pub fn started(doc: &Value) -> Option<PathBuf> {
    let op: PendingOperation = serde_json::from_value(doc.clone()).ok()?;
    let dir = dir()?;
    create_private_dir(&dir).ok()?;
    let path = dir.join(file_of(&op));
    write_private(&path, &format!("{doc}\n")).ok()?;
    Some(path)
}

/// Forgets an operation that ended (succeeded or failed in Azure).
pub fn ended(op: &PendingOperation) {
    if let Some(dir) = dir() {
        let _ = std::fs::remove_file(dir.join(file_of(op)));
    }
}

/// The recorded operations' documents, oldest first.
pub fn recorded() -> Vec<Value> {
    let Some(dir) = dir() else { return Vec::new() };
    let Ok(entries) = std::fs::read_dir(&dir) else { return Vec::new() };
    let mut docs: Vec<(std::time::SystemTime, Value)> = entries
        .flatten()
        .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
        .filter_map(|e| {
            let modified = e.metadata().ok()?.modified().ok()?;
            let doc = serde_json::from_str(&std::fs::read_to_string(e.path()).ok()?).ok()?;
            Some((modified, doc))
        })
        .collect();
    docs.sort_by_key(|(t, _)| *t);
    docs.into_iter().map(|(_, d)| d).collect()
}

#[cfg(unix)]
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::DirBuilderExt;
    std::fs::DirBuilder::new().recursive(true).mode(0o700).create(dir)
}

#[cfg(not(unix))]
fn create_private_dir(dir: &std::path::Path) -> std::io::Result<()> {
    std::fs::create_dir_all(dir)
}

#[cfg(unix)]
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(text.as_bytes())
}

#[cfg(not(unix))]
fn write_private(path: &std::path::Path, text: &str) -> std::io::Result<()> {
    std::fs::write(path, text)
}

/// The writes earlier `apply` runs made: a change's write key to the ETag
/// its write produced (never a value). Kept owner-only beside the
/// operations, so a plan applied twice on this machine knows its own write.
const WRITES: &str = "applied-writes.ndjson";

pub fn earlier_writes() -> std::collections::HashMap<String, String> {
    let Some(dir) = dir() else { return Default::default() };
    let text = std::fs::read_to_string(dir.join(WRITES)).unwrap_or_default();
    text.lines()
        .filter_map(|l| serde_json::from_str::<(String, String)>(l).ok())
        .collect()
}

/// Adds writes to the record (best effort, as [`started`]).
pub fn remember_writes(writes: &[(String, String)]) {
    if writes.is_empty() {
        return;
    }
    let Some(dir) = dir() else { return };
    if create_private_dir(&dir).is_err() {
        return;
    }
    let mut all = earlier_writes();
    all.extend(writes.iter().cloned());
    let text: String = all
        .iter()
        .filter_map(|w| serde_json::to_string(&w).ok())
        .map(|l| l + "\n")
        .collect();
    let _ = write_private(&dir.join(WRITES), &text);
}
