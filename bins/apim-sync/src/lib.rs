//! `apim-sync`'s flags and documents; planning and applying live in
//! `sync-workflow`. A plan never holds a secret's value, and neither does
//! anything this prints.

use clap::{Parser, Subcommand};
use pipeline::documents::{SyncChangeDoc, SyncGapDoc};
use pipeline::{classified, emit, read_side, usage, ServiceDoc, Side};
use std::collections::BTreeMap;
use std::path::PathBuf;
use sync_workflow::{ApplyOptions, Options, Source};

#[derive(Parser)]
#[command(
    name = "apim-sync",
    version,
    about = "Copy an APIM instance onto another through the management API: no freeze, any tier",
    after_help = pipeline::help::SYNC
)]
pub struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    #[command(flatten)]
    common: pipeline::ConnectArgs,
}

#[derive(Subcommand)]
enum Cmd {
    #[command(after_help = pipeline::help::sub::SYNC_PLAN)]
    /// Reads both instances and prints one apim.sync.change per entity to create, update or delete on the target (in write order), and one apim.sync.gap per thing a copy cannot carry.
    Plan {
        /// The source: an apim.service document (read, never written) or a snapshot file (apim-diff --inventory).
        #[arg(long, value_name = "FILE")]
        source: PathBuf,
        /// The target: an apim.service document.
        #[arg(long, value_name = "FILE")]
        target: PathBuf,
        /// OLD=NEW: a whole hostname, rewritten wherever it occurs in the copy (repeatable).
        #[arg(long = "host", value_name = "OLD=NEW")]
        hosts: Vec<String>,
        /// Leave this family (and what it holds) out (repeatable), e.g. users.
        #[arg(long, value_name = "FAMILY")]
        exclude: Vec<String>,
        /// Copy only this family (and what it holds) (repeatable).
        #[arg(long, value_name = "FAMILY")]
        only: Vec<String>,
        /// Also plan to delete what the target has and the source does not (apply needs --allow-deletes too).
        #[arg(long)]
        delete_extra: bool,
        /// Let the target make its own subscription keys (by default consumers keep theirs).
        #[arg(long)]
        new_subscription_keys: bool,
        /// Reads in flight at once, per instance.
        #[arg(long, default_value_t = 64)]
        parallel: usize,
    },
    #[command(after_help = pipeline::help::sub::SYNC_APPLY)]
    /// Writes a plan (stdin) to its target, each change only if the target is as planned; prints each change with its status as it ends.
    Apply {
        /// Make the deletes the plan holds (refused otherwise, nothing written).
        #[arg(long)]
        allow_deletes: bool,
        /// The target the plan must be for (an apim.service document): a plan for another is refused.
        #[arg(long, value_name = "FILE")]
        target: Option<PathBuf>,
        /// Writes in flight at once.
        #[arg(long, default_value_t = 32)]
        parallel: usize,
        /// Do not refresh the target's Key Vault named values at the end (by default each is read again, so a vault the target's identity cannot read is found now).
        #[arg(long)]
        no_refresh: bool,
        #[command(flatten)]
        timeout: pipeline::TimeoutArg,
    },
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::Plan {
            source,
            target,
            hosts,
            exclude,
            only,
            delete_extra,
            new_subscription_keys,
            parallel,
        } => {
            if parallel == 0 {
                return Err(usage("--parallel must be at least 1"));
            }
            for f in only.iter().chain(&exclude) {
                sync_workflow::check_family(f).map_err(|e| usage(format!("--only/--exclude: {e}")))?;
            }
            let opts = Options {
                hosts: hosts
                    .iter()
                    .map(|h| pipeline::parse_host_rule("--host", h))
                    .collect::<anyhow::Result<_>>()?,
                only,
                exclude,
                delete_extra,
                new_subscription_keys,
            };
            let source = match read_side(&source, "--source")? {
                Side::Service(doc) => Source::Service(doc.id),
                Side::Snapshot(s) => Source::Snapshot(s),
            };
            let target = pipeline::read_one_file::<ServiceDoc>(&target, "--target")?;
            let session = cli.common.connect()?;
            session
                .reporter
                .info(&format!("reading both instances to plan the copy onto {}", target.name));
            let planned = sync_workflow::plan(&session.arm, source, &target.id, &opts, parallel)
                .await
                .map_err(classified)?;
            for c in &planned.changes {
                emit(c)?;
            }
            for g in &planned.gaps {
                emit(g)?;
            }
            summary(&planned.changes, &planned.gaps, planned.extra);
            Ok(())
        }
        Cmd::Apply {
            allow_deletes,
            target,
            parallel,
            no_refresh,
            timeout,
        } => {
            if parallel == 0 {
                return Err(usage("--parallel must be at least 1"));
            }
            let target = target
                .map(|t| pipeline::read_one_file::<ServiceDoc>(&t, "--target").map(|d| d.id))
                .transpose()?;
            let (changes, gaps) = read_plan()?;
            let opts = ApplyOptions {
                allow_deletes,
                parallel,
                target,
            };
            // The whole plan is judged before a connection is made.
            sync_workflow::check_plan(&changes, &opts).map_err(classified)?;
            let session = cli.common.connect_waiting(&pipeline::WaitArgs {
                timeout,
                ..Default::default()
            })?;
            for g in &gaps {
                emit(g)?;
            }
            if changes.is_empty() {
                session.reporter.info("nothing to apply: the plan holds no change");
                return gaps_said(&gaps);
            }
            eprintln!(
                "apply: writing {} change(s) to {}",
                changes.len(),
                changes[0].target_id.name().unwrap_or_default()
            );
            let target_id = changes[0].target_id.clone();
            let refresh = !no_refresh && !sync_workflow::key_vault_readers(&changes).is_empty();
            let tally = sync_workflow::apply(&session.arm, changes, &opts, emit).await.map_err(classified)?;
            eprintln!("apply: {}", tally.line());
            tally.verdict().map_err(classified)?;
            gaps_said(&gaps)?;
            if refresh {
                refresh_key_vault(&session, &target_id).await?;
            }
            Ok(())
        }
    }
}

/// The plan on stdin: its changes and its gaps; any other document, or
/// a malformed line, is bad input before anything is written.
fn read_plan() -> anyhow::Result<(Vec<SyncChangeDoc>, Vec<SyncGapDoc>)> {
    let docs = pipeline::read_stdin_documents()?;
    let (mut changes, mut gaps) = (Vec::new(), Vec::new());
    for (i, d) in docs.iter().enumerate() {
        let source = format!("stdin document {}", i + 1);
        match pipeline::kind_of(d) {
            "apim.sync.gap" => gaps.push(pipeline::expect_kind(d, &source)?),
            _ => changes.push(
                pipeline::expect_kind::<SyncChangeDoc>(d, &source)
                    .map_err(|e| usage(format!("{e} (apply takes what apim-sync plan prints)")))?,
            ),
        }
    }
    Ok((changes, gaps))
}

/// The copy wrote Key Vault references: each is read again with the
/// target's identity, and its status printed; exit 1 (the copy itself
/// succeeded) when one cannot read its vault.
async fn refresh_key_vault(session: &pipeline::Session, target: &arm_client::ResourceId) -> anyhow::Result<()> {
    let statuses = namedvalue_workflow::refresh(&session.arm, target, 16).await.map_err(classified)?;
    for s in &statuses {
        emit(s)?;
    }
    let unreadable = namedvalue_workflow::unreadable(&statuses);
    if unreadable.is_empty() {
        return Ok(());
    }
    Err(classified(namedvalue_workflow::Error::Incomplete(format!(
        "the copy succeeded, but {}; give the identity Key Vault Secrets User on the vault (or apim-provision service --like SRC --grant-roles), then apim-namedvalues refresh",
        unreadable.join("; ")
    ))))
}

/// Gaps are not failures, and never silent: one line says what was not copied.
fn gaps_said(gaps: &[SyncGapDoc]) -> anyhow::Result<()> {
    if !gaps.is_empty() {
        eprintln!(
            "apim-sync: {} thing(s) a copy cannot carry were not copied: see the apim.sync.gap documents (each says what to do instead)",
            gaps.len()
        );
    }
    Ok(())
}

/// A table on stderr: changes by family and action.
fn summary(changes: &[SyncChangeDoc], gaps: &[SyncGapDoc], extra: usize) {
    let mut rows: BTreeMap<&str, [usize; 3]> = BTreeMap::new();
    for c in changes {
        let family = c.path.split('/').next().unwrap_or("");
        let i = match c.action {
            pipeline::documents::SyncAction::Create => 0,
            pipeline::documents::SyncAction::Update => 1,
            pipeline::documents::SyncAction::Delete => 2,
        };
        rows.entry(family).or_default()[i] += 1;
    }
    eprintln!("plan: {} change(s), {} gap(s)", changes.len(), gaps.len());
    if !rows.is_empty() {
        eprintln!("  {:<24} {:>7} {:>7} {:>7}", "family", "create", "update", "delete");
        for (f, [c, u, d]) in rows {
            eprintln!("  {f:<24} {c:>7} {u:>7} {d:>7}");
        }
    }
    if extra > 0 {
        eprintln!("plan: {extra} entit(ies) only the target has were left alone (plan with --delete-extra to delete them)");
    }
}
