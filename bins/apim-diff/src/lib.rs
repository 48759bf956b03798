//! The work behind `apim-diff`: read each side (a live service or a
//! snapshot file), then compare, scan or print a snapshot with the pure
//! functions of the `apim-inventory` crate.

use apim_inventory::Snapshot;
use clap::Parser;
use pipeline::{emit, read_side, usage, DifferenceKind, Session, Side};
use std::collections::BTreeMap;
use std::path::PathBuf;

#[derive(Parser)]
#[command(
    name = "apim-diff",
    version,
    about = "Compare two APIM instances' configuration, find where a host is still used, or write a snapshot",
    long_about = "apim-diff A B: A and B are each an apim.service document (read live) or a snapshot file \
(apim-diff --inventory). Prints one apim.difference per difference, a summary on stderr; exit 0 when equal, \
1 when they differ, 2 on bad input, 5 when a side could not be read.\n\n\
apim-diff --scan-host HOST SERVICE: one apim.hostref per place HOST is still used; exit 1 when there is one.\n\n\
apim-diff --inventory SERVICE: the service's snapshot (apim.entity documents, sorted; never a secret's value).",
    after_help = pipeline::help::DIFF
)]
pub struct Cli {
    /// The sides to compare (two), or the service to scan (one). `-` is stdin.
    files: Vec<PathBuf>,
    /// A host rewrite that is intended (OLD=NEW, repeatable): A with it applied everywhere is what B should be.
    #[arg(long, value_name = "OLD=NEW")]
    expect_host: Vec<String>,
    /// Report every place this host is still used in the one service given.
    #[arg(long, value_name = "HOST", conflicts_with_all = ["expect_host", "inventory"])]
    scan_host: Option<String>,
    /// Print this service's snapshot (stable and sorted: plain `diff` works on two of them).
    #[arg(long, value_name = "SERVICE", conflicts_with = "expect_host")]
    inventory: Option<PathBuf>,
    /// Reads in flight at once, per service.
    #[arg(long, default_value_t = 64)]
    parallel: usize,
    #[command(flatten)]
    common: pipeline::ConnectArgs,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    if cli.parallel == 0 {
        return Err(usage("--parallel must be at least 1"));
    }
    if let Some(path) = &cli.inventory {
        if !cli.files.is_empty() {
            return Err(usage("--inventory takes one service and no other files"));
        }
        let side = read_side(path, "--inventory")?;
        let Side::Service(_) = side else {
            return Err(usage("--inventory: give an apim.service document (this is already a snapshot)"));
        };
        let snap = load(&cli, side, None).await?;
        for d in snap.documents() {
            emit(&d)?;
        }
        eprintln!(
            "apim-diff: {} entities ({} secret, values left out), {} requests",
            snap.entities.len(),
            snap.secret_count(),
            snap.requests
        );
        return Ok(());
    }
    if let Some(host) = &cli.scan_host {
        if !namedvalue_rewrite::host::is_hostname(host) {
            return Err(usage(format!("--scan-host '{host}': give a hostname such as api.src.example.com")));
        }
        let [path] = cli.files.as_slice() else {
            return Err(usage("--scan-host HOST SERVICE: give exactly one service (or snapshot) to scan"));
        };
        let side = read_side(path, "service")?;
        let snap = load(&cli, side, None).await?;
        let (refs, unchecked) = apim_inventory::scan(&snap, host);
        if unchecked.snapshot > 0 {
            eprintln!(
                "apim-diff: {} secret value(s) not scanned: a snapshot file holds none; scan the live service to include them",
                unchecked.snapshot
            );
        }
        if unchecked.key_vault > 0 {
            eprintln!(
                "apim-diff: {} secret value(s) not scanned: they are held in Key Vault (the instance keeps only the reference); check those secrets in their vault",
                unchecked.key_vault
            );
        }
        for r in &refs {
            emit(r)?;
        }
        eprintln!("apim-diff: {} place(s) still use {host}", refs.len());
        if refs.is_empty() {
            return Ok(());
        }
        let in_named_values = refs.iter().filter(|r| r.path.starts_with("namedValues/")).count();
        let elsewhere = refs.len() - in_named_values;
        let mut next = Vec::new();
        if in_named_values > 0 {
            next.push(format!(
                "{in_named_values} in named values: apim-namedvalues list --service SERVICE | apim-namedvalues rewrite --host {host}=NEW | apim-namedvalues apply"
            ));
        }
        if elsewhere > 0 {
            next.push(format!(
                "{elsewhere} elsewhere (APIs, policies, fragments, backends, gateways, portal settings, …): apim-sync plan --source SRC --target SERVICE --host {host}=NEW, then apim-sync apply"
            ));
        }
        return Err(found(format!(
            "{host} is still used in {} place(s); {}",
            refs.len(),
            next.join("; ")
        )));
    }
    let [a, b] = cli.files.as_slice() else {
        return Err(usage(
            "give two sides to compare (apim-diff A B), or --scan-host HOST SERVICE, or --inventory SERVICE",
        ));
    };
    let rewrites = cli
        .expect_host
        .iter()
        .map(|s| pipeline::parse_host_rule("--expect-host", s))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let (sa, sb) = (read_side(a, "A")?, read_side(b, "B")?);
    let session = connect_if_needed(&cli, [&sa, &sb])?;
    let (sa, sb) = tokio::try_join!(load(&cli, sa, session.as_ref()), load(&cli, sb, session.as_ref()))?;
    let d = apim_inventory::diff(&sa, &sb, &rewrites);
    if d.secrets_not_compared > 0 {
        eprintln!(
            "apim-diff: {} secret value(s) not compared: a snapshot file holds none (compare the live services to include them)",
            d.secrets_not_compared
        );
    }
    if let Some((ta, tb)) = &d.tiers {
        eprintln!("apim-diff: the tiers differ (A {ta}, B {tb}): a copy may change tier, so this is not counted as a difference");
    }
    for x in &d.differences {
        emit(x)?;
    }
    summary(&d.differences, sa.entities.len(), sb.entities.len());
    if d.differences.is_empty() {
        Ok(())
    } else {
        Err(found(format!("the configurations differ in {} place(s)", d.differences.len())))
    }
}

/// Exit 1: what diff(1) says for "different" (an outcome, not an error).
fn found(message: String) -> anyhow::Error {
    pipeline::differ(message)
}

fn connect_if_needed<'a>(cli: &Cli, sides: impl IntoIterator<Item = &'a Side>) -> anyhow::Result<Option<Session>> {
    if sides.into_iter().any(|s| matches!(s, Side::Service(_))) {
        Ok(Some(cli.common.connect()?))
    } else {
        Ok(None)
    }
}

async fn load(cli: &Cli, side: Side, session: Option<&Session>) -> anyhow::Result<Snapshot> {
    match side {
        Side::Snapshot(s) => Ok(s),
        Side::Service(doc) => {
            let owned;
            let session = match session {
                Some(s) => s,
                None => {
                    owned = cli.common.connect()?;
                    &owned
                }
            };
            session.reporter.info(&format!("reading {}", doc.name));
            apim_inventory::read(&session.arm, &doc.id, cli.parallel)
                .await
                .map_err(|e| pipeline::compare_failed(anyhow::Error::new(e).context(format!("reading {}", doc.name))))
        }
    }
}

/// A table on stderr: differences by family and kind.
fn summary(diffs: &[pipeline::DifferenceDoc], a: usize, b: usize) {
    let mut rows: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    for d in diffs {
        let family = d.path.split('/').next().unwrap_or("");
        let i = match d.difference {
            DifferenceKind::MissingInA => 0,
            DifferenceKind::MissingInB => 1,
            DifferenceKind::Changed => 2,
        };
        rows.entry(family).or_default()[i] += 1;
    }
    eprintln!("apim-diff: A has {a} entities, B has {b}; {} difference(s)", diffs.len());
    if rows.is_empty() {
        return;
    }
    eprintln!("  {:<16} {:>12} {:>12} {:>8}", "family", "missing-in-a", "missing-in-b", "changed");
    for (f, [ma, mb, c]) in rows {
        eprintln!("  {f:<16} {ma:>12} {mb:>12} {c:>8}");
    }
}
