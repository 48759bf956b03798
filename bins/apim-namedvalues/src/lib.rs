//! `apim-namedvalues`' flags and documents; listing, planning, applying
//! and importing live in `namedvalue-workflow`, comparing in
//! `apim-inventory`. Secret values never reach stdout or stderr unless
//! --reveal-secrets asks.

use arm_client::ResourceId;
use clap::{Args, Parser, Subcommand};
use namedvalue_rewrite::{Rule, RuleSet};
use namedvalue_workflow::ApplyError;
use pipeline::{classified, emit, expect_all, usage, ChangeDoc, NamedValueDoc, ServiceArg, ServiceDoc};
use serde_json::{json, Value};
use std::path::PathBuf;

/// Flags renamed since earlier releases: the old spelling still works, with a warning.
pub const RENAMED: &[pipeline::Renamed] = &[pipeline::Renamed {
    subcommand: Some("rewrite"),
    old: "--identity-client-id",
    new: "--rewrite-identity",
}];

#[derive(Parser)]
#[command(after_help = pipeline::help::NAMEDVALUES)]
#[command(name = "apim-namedvalues", version, about = "List, rewrite, apply and diff APIM named values")]
pub struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    #[command(flatten)]
    common: pipeline::ConnectArgs,
}

#[derive(Subcommand)]
enum Cmd {
    /// One apim.namedvalue per named value, sorted by name.
    #[command(after_help = pipeline::help::sub::reads(pipeline::help::sub::NV_LIST))]
    List {
        #[command(flatten)]
        service: ServiceArg,
        /// Include secret values (they are null otherwise).
        #[arg(long)]
        reveal_secrets: bool,
        /// An OData $filter, e.g. "startswith(properties/displayName,'backend')".
        #[arg(long)]
        filter: Option<String>,
        /// Only named values with this tag.
        #[arg(long)]
        tag: Option<String>,
    },
    /// Refreshes every Key Vault named value and prints how each reads now (one apim.namedvalue.status each).
    #[command(after_help = pipeline::help::sub::changes(pipeline::help::sub::NV_REFRESH))]
    Refresh {
        #[command(flatten)]
        service: ServiceArg,
        /// Refreshes in flight at once.
        #[arg(long, default_value_t = 16)]
        parallel: usize,
    },
    /// One named value.
    #[command(after_help = pipeline::help::sub::reads(pipeline::help::sub::NV_GET))]
    Get {
        name: String,
        #[command(flatten)]
        service: ServiceArg,
        /// Include the secret's value (it is null otherwise).
        #[arg(long)]
        reveal_secrets: bool,
    },
    /// apim.namedvalue documents in, an apim.namedvalue.change for each that the rules change.
    #[command(after_help = pipeline::help::sub::changes(pipeline::help::sub::NV_REWRITE))]
    Rewrite(RewriteArgs),
    /// Creates named values from apim.namedvalue documents on stdin (as list --reveal-secrets prints them, or written by hand); never overwrites one that exists.
    #[command(after_help = pipeline::help::sub::changes(pipeline::help::sub::NV_IMPORT))]
    Import {
        /// The service to create them in (default: each document's serviceId).
        #[command(flatten)]
        service: ServiceArg,
    },
    /// Writes apim.namedvalue.change documents, each only if unchanged since the plan.
    #[command(after_help = pipeline::help::sub::changes(pipeline::help::sub::NV_APPLY))]
    Apply {
        /// Changes in flight at once (each reads, writes and polls). 32 measured best at 20 ms per call (5,000 values, 1,000 changes: 8 took 7.1 s, 32 about 1.6 s); under ARM's throttling the pacing, not this, sets the pace.
        #[arg(long, default_value_t = 32)]
        parallel: usize,
        /// Check each change against the service; write nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        timeout: pipeline::TimeoutArg,
    },
    /// Compares the named values of two services (apim.service documents) as `apim-diff --only namedValues` does: one apim.difference each; exit 1 when they differ, 5 when the comparison failed.
    #[command(after_help = pipeline::help::sub::NV_DIFF)]
    Diff { a: PathBuf, b: PathBuf },
}

#[derive(Args)]
struct RewriteArgs {
    /// OLD=NEW: a whole hostname, case-insensitively.
    #[arg(long = "host")]
    hosts: Vec<String>,
    /// OLD=NEW: literal text.
    #[arg(long = "replace")]
    replaces: Vec<String>,
    /// PATTERN=REPLACEMENT, with $1 capture groups.
    #[arg(long = "regex")]
    regexes: Vec<String>,
    /// OLD=NEW: the managed identity client id of Key Vault references (formerly --identity-client-id).
    #[arg(long = "rewrite-identity", alias = "identity-client-id", value_name = "OLD=NEW")]
    identities: Vec<String>,
    /// A JSON list of rules, each optionally limited by names/tags globs.
    #[arg(long)]
    rules: Option<PathBuf>,
    /// Do not fail when a rule matches nothing.
    #[arg(long)]
    allow_unmatched: bool,
}

pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.cmd {
        Cmd::List {
            service,
            reveal_secrets,
            filter,
            tag,
        } => {
            let id = service.resolve()?;
            let session = cli.common.connect()?;
            let odata = match (filter, tag) {
                (Some(f), Some(t)) => Some(format!("{f} and tags/any(t: t eq '{}')", t.replace('\'', "''"))),
                (Some(f), None) => Some(f),
                (None, Some(t)) => Some(format!("tags/any(t: t eq '{}')", t.replace('\'', "''"))),
                (None, None) => None,
            };
            let docs = namedvalue_workflow::list(&session.arm, &id, odata.as_deref(), reveal_secrets)
                .await
                .map_err(classified)?;
            for doc in docs {
                emit(&doc)?;
            }
            Ok(())
        }
        Cmd::Refresh { service, parallel } => {
            let id = service.resolve()?;
            let session = cli.common.connect()?;
            let statuses = namedvalue_workflow::refresh(&session.arm, &id, parallel)
                .await
                .map_err(classified)?;
            for s in &statuses {
                emit(s)?;
            }
            let unreadable = namedvalue_workflow::unreadable(&statuses);
            eprintln!(
                "apim-namedvalues: {} Key Vault named value(s) refreshed, {} cannot read their vault",
                statuses.len(),
                unreadable.len()
            );
            if unreadable.is_empty() {
                return Ok(());
            }
            Err(classified(namedvalue_workflow::Error::Incomplete(format!(
                "{}; give the identity Key Vault Secrets User on the vault",
                unreadable.join("; ")
            ))))
        }
        Cmd::Get {
            name,
            service,
            reveal_secrets,
        } => {
            if !apim_rules::is_valid_named_value_name(&name) {
                return Err(usage(format!(
                    "'{name}' is not a named value name (letters, digits, '-', '_' and '.')"
                )));
            }
            let id = service.resolve()?;
            let session = cli.common.connect()?;
            let (body, etag) = apim_ops::get_named_value(&session.arm, &id, &name)
                .await?
                .ok_or_else(|| anyhow::anyhow!("named value '{name}' does not exist in {}", id.name().unwrap_or_default()))?;
            let mut doc = NamedValueDoc::from_arm(&id, &body, Some(etag));
            if reveal_secrets && doc.secret {
                doc.value = Some(apim_ops::secret_value(&session.arm, &id, &name).await?.0);
            }
            Ok(emit(&doc)?)
        }
        Cmd::Rewrite(a) => {
            let rules = rule_set(&a)?;
            let docs = pipeline::stdin_documents()?;
            let session = cli.common.connect()?;
            // Documents are taken as they arrive, so the secrets of the first
            // are read while `list` still writes the last; nothing is planned
            // until all are in.
            let (tx, rx) = tokio::sync::mpsc::channel::<anyhow::Result<NamedValueDoc>>(256);
            tokio::task::spawn_blocking(move || {
                for v in docs {
                    let d = v
                        .and_then(|v| pipeline::expect_kind::<NamedValueDoc>(&v, "stdin"))
                        .map_err(anyhow::Error::from);
                    let stop = d.is_err();
                    if tx.blocking_send(d).is_err() || stop {
                        break;
                    }
                }
            });
            let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|d| (d, rx)) });
            let plan = namedvalue_workflow::rewrite(&session.arm, &rules, stream, a.allow_unmatched)
                .await
                .map_err(|e| match e.downcast::<namedvalue_workflow::Error>() {
                    Ok(namedvalue_workflow::Error::Unmatched(names)) => usage(format!(
                        "rule(s) matched no named value (a typo?): {}; pass --allow-unmatched if that is expected",
                        names.join(", ")
                    )),
                    Ok(e) => classified(e),
                    Err(e) => e,
                })?;
            for change in &plan.changes {
                emit(change)?;
            }
            for note in &plan.notes {
                eprintln!("rewrite: note: {note}");
            }
            let secrets = plan.changes.iter().filter(|c| c.secret).count();
            eprintln!(
                "rewrite: {} change(s) ({secrets} secret), {} named value(s) the rules leave as they are",
                plan.changes.len(),
                plan.read - plan.changes.len()
            );
            Ok(())
        }
        Cmd::Import { service } => {
            let target = match (&service.service, &service.service_id) {
                (None, None) => None,
                _ => Some(service.resolve()?),
            };
            let mut raw = pipeline::read_stdin_documents()?;
            if let Some(t) = &target {
                // --service names the service: documents need not.
                for v in raw.iter_mut().filter_map(Value::as_object_mut) {
                    v.insert("serviceId".into(), json!(t.to_string()));
                }
            }
            let docs: Vec<NamedValueDoc> = expect_all(&raw, "stdin")?;
            for d in &docs {
                namedvalue_workflow::check_importable(d).map_err(classified)?;
            }
            let session = cli.common.connect()?;
            namedvalue_workflow::import(&session.arm, docs, emit).await.map_err(applied)
        }
        Cmd::Apply {
            parallel,
            dry_run,
            timeout,
        } => {
            if parallel == 0 {
                return Err(usage("--parallel must be at least 1"));
            }
            let changes: Vec<ChangeDoc> = expect_all(&pipeline::read_stdin_documents()?, "stdin")?;
            for c in &changes {
                for r in &c.rules {
                    Rule::from_spec(r).map_err(|e| usage(format!("stdin: change of '{}': {e}", c.name)))?;
                }
            }
            let session = cli.common.connect_waiting(&pipeline::WaitArgs {
                timeout,
                ..Default::default()
            })?;
            if changes.is_empty() {
                // An empty plan is what rewrite prints when nothing needs changing.
                session.reporter.info("nothing to apply: the plan on stdin holds no change");
                return Ok(());
            }
            // Say which service changes before it does: a plan for the
            // wrong instance is caught here, not after.
            let mut services: Vec<&str> = changes.iter().filter_map(|c| c.service_id.name()).collect();
            services.sort_unstable();
            services.dedup();
            let verb = if dry_run { "checking" } else { "changing" };
            eprintln!("apply: {verb} {} named value(s) of {}", changes.len(), services.join(", "));
            let tally = std::cell::RefCell::new(std::collections::BTreeMap::<String, usize>::new());
            let writes = std::cell::RefCell::new(Vec::new());
            let counted = |c: &ChangeDoc| {
                let status = c.status.and_then(|s| serde_json::to_value(s).ok());
                let key = status.as_ref().and_then(Value::as_str).unwrap_or("unknown").to_string();
                *tally.borrow_mut().entry(key).or_default() += 1;
                if let Some(e) = &c.applied_etag {
                    writes.borrow_mut().push((c.write_key(), e.clone()));
                }
                emit(c)
            };
            // What this machine's earlier runs wrote: a plan applied twice
            // knows its own secret writes by their ETags.
            let earlier = pipeline::record::earlier_writes();
            let result = namedvalue_workflow::apply(&session.arm, changes, parallel, dry_run, &earlier, counted).await;
            pipeline::record::remember_writes(&writes.into_inner());
            let tally = tally.into_inner();
            let count = |k: &str| tally.get(k).copied().unwrap_or(0);
            let mut line = format!("apply: {} applied, {} conflict(s)", count("applied"), count("conflict"));
            for other in ["dry-run", "not-applied", "accepted"] {
                if count(other) > 0 {
                    line.push_str(&format!(", {} {other}", count(other)));
                }
            }
            eprintln!("{line}");
            result.map_err(applied)
        }
        Cmd::Diff { a, b } => {
            let (ia, ib) = (service_file(&a, "first")?, service_file(&b, "second")?);
            let session = cli.common.connect()?;
            // 1 means "they differ"; a failure to read either side is 5.
            let read = |id: ResourceId| {
                let arm = &session.arm;
                async move {
                    apim_inventory::read_only(arm, &id, 32, &["namedValues"])
                        .await
                        .map_err(|e| pipeline::compare_failed(anyhow::Error::new(e).context(format!("reading {id}"))))
                }
            };
            let (sa, sb) = tokio::try_join!(read(ia), read(ib))?;
            let d = apim_inventory::diff(&sa, &sb, &[]);
            for x in &d.differences {
                emit(x)?;
            }
            if d.differences.is_empty() {
                Ok(())
            } else {
                Err(pipeline::differ(format!(
                    "the named values differ in {} place(s)",
                    d.differences.len()
                )))
            }
        }
    }
}

/// The end of an apply or import: a closed stdout is a quiet end, not a failure.
fn applied(e: ApplyError) -> anyhow::Error {
    match e {
        ApplyError::Output(io) => io.into(),
        other => classified(other),
    }
}

fn service_file(path: &std::path::Path, what: &str) -> anyhow::Result<ResourceId> {
    Ok(pipeline::read_one_file::<ServiceDoc>(path, what)?.id)
}

fn rule_set(a: &RewriteArgs) -> anyhow::Result<RuleSet> {
    let mut rules = Vec::new();
    for (kind, specs) in [
        ("host", &a.hosts),
        ("replace", &a.replaces),
        ("regex", &a.regexes),
        ("identity-client-id", &a.identities),
    ] {
        for s in specs {
            rules.push(Rule::parse(kind, s).map_err(|e| usage(e.to_string()))?);
        }
    }
    if let Some(p) = &a.rules {
        let text = std::fs::read_to_string(p).map_err(|e| usage(format!("--rules {}: {e}", p.display())))?;
        rules.extend(namedvalue_rewrite::parse_rules_file(&text).map_err(|e| usage(format!("--rules {}: {e}", p.display())))?);
    }
    if rules.is_empty() {
        return Err(usage("no rules: pass --host, --replace, --regex, --identity-client-id or --rules"));
    }
    Ok(RuleSet::new(rules))
}
