//! `cargo xtask azurite [--env-file FILE]`: Azurite in the foreground until
//! Ctrl-C (or until the process that started it ends). With `--env-file`, the
//! `export` lines the emulator reads (AZURITE_BLOB_ENDPOINT,
//! AZURITE_ACCOUNTS), written whole once Azurite listens.

use apim_toolkit::Azurite;
use std::time::Duration;

pub(crate) fn azurite(args: &[String]) -> anyhow::Result<()> {
    let env_file = match args {
        [] => None,
        [flag, path] if flag == "--env-file" => Some(path.clone()),
        _ => anyhow::bail!("usage: cargo xtask azurite [--env-file FILE]"),
    };
    // Backgrounded (`cargo xtask azurite &`), this process's parent is
    // cargo: when `kill %1` ends cargo, this ends, and Azurite with it.
    apim_toolkit::end_with_parent();
    let a = Azurite::start()?;
    let accounts = apim_toolkit::blob_accounts_flag();
    if let Some(path) = env_file {
        // Written to a temporary name and renamed, so a reader waiting for
        // the file never sees half of it.
        let tmp = format!("{path}.tmp");
        std::fs::write(
            &tmp,
            format!(
                "export AZURITE_BLOB_ENDPOINT='{}'\nexport AZURITE_ACCOUNTS='{accounts}'\n",
                a.blob_endpoint
            ),
        )?;
        std::fs::rename(&tmp, &path)?;
    }
    println!(
        "{}",
        serde_json::json!({"kind": "azurite.ready", "blobEndpoint": a.blob_endpoint, "accounts": accounts})
    );
    eprintln!("xtask: Azurite running; Ctrl-C to stop");
    loop {
        std::thread::sleep(Duration::from_secs(3600));
    }
}
