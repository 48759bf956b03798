//! `cargo xtask fuzz [SECONDS]`: the property tests of everything that
//! parses untrusted input (documents, resource ids, blob names and URLs,
//! rewrite rules, the emulator's routes and filters), run again and again
//! with many more cases and fresh random seeds until the time is up.
//! proptest keeps each failing case under `proptest-regressions/` next to
//! its test, where the normal suite replays it: every crash found becomes a
//! regression test once that file is committed.

use crate::cargo_env;
use std::time::{Duration, Instant};

const PACKAGES: [&str; 5] = ["pipeline", "arm-client", "blob-store", "namedvalue-rewrite", "apim-emulator"];

pub(crate) fn fuzz(seconds: Option<String>) -> anyhow::Result<()> {
    let budget = Duration::from_secs(seconds.and_then(|s| s.parse().ok()).unwrap_or(60));
    let started = Instant::now();
    let mut args = vec!["test", "--release", "-q"];
    for p in PACKAGES {
        args.extend(["-p", p]);
    }
    args.extend(["--lib", "--tests", "--", "prop"]);
    let env = [("PROPTEST_CASES".to_string(), "20000".to_string())];
    let mut rounds = 0;
    while rounds == 0 || started.elapsed() < budget {
        cargo_env(&args, &env)?;
        rounds += 1;
    }
    eprintln!(
        "xtask fuzz: {rounds} round(s) of 20000 cases per property in {:.0} s, no failure",
        started.elapsed().as_secs_f64()
    );
    Ok(())
}
