//! `cargo xtask azurite`: Azurite in the foreground until Ctrl-C.

use apim_toolkit::Azurite;
use std::time::Duration;

pub(crate) fn azurite() -> anyhow::Result<()> {
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
