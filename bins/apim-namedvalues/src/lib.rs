//! The work behind `apim-namedvalues`: list named values, plan a rewrite
//! with `namedvalue-rewrite`, apply it with If-Match, and compare instances.
//! Secret values never reach stdout or stderr unless --reveal-secrets asks.

use anyhow::Context;
use apim_ops::Written;
use arm_client::ResourceId;
use clap::{Args, Parser, Subcommand};
use futures::{StreamExt, TryStreamExt};
use namedvalue_rewrite::{KeyVault, NamedValue, Rule, RuleSet};
use pipeline::{
    emit, expect_all, refused, usage, ChangeDoc, ChangeStatus, KeyVaultDoc, NamedValueDiffDoc, NamedValueDoc, NamedValueSide,
    NamedValueSummary, ServiceDoc, Session,
};
use serde_json::{json, Value};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "apim-namedvalues", version, about = "List, rewrite, apply and diff APIM named values")]
pub struct Cli {
    #[command(subcommand)]
    cmd: Cmd,
    #[command(flatten)]
    common: pipeline::ConnectArgs,
}

#[derive(Args)]
struct ServiceArg {
    /// The service as an apim.service document (default: stdin).
    #[arg(long)]
    service: Option<PathBuf>,
}

#[derive(Subcommand)]
enum Cmd {
    /// One apim.namedvalue per named value, sorted by name.
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
    /// One named value.
    Get {
        name: String,
        #[command(flatten)]
        service: ServiceArg,
        /// Include the secret's value (it is null otherwise).
        #[arg(long)]
        reveal_secrets: bool,
    },
    /// apim.namedvalue documents in, an apim.namedvalue.change for each that the rules change.
    Rewrite(RewriteArgs),
    /// Creates named values from apim.namedvalue documents on stdin (as list --reveal-secrets prints them, or written by hand); never overwrites one that exists.
    Import {
        /// The service to create them in (default: each document's serviceId).
        #[command(flatten)]
        service: ServiceArg,
    },
    /// Writes apim.namedvalue.change documents, each only if unchanged since the plan.
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
    /// Compares the named values of two services (apim.service documents); exit 1 when they differ, 5 when the comparison failed.
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
    /// OLD=NEW: the managed identity client id of Key Vault references.
    #[arg(long = "identity-client-id")]
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
            let id = service_id(&service)?;
            let session = cli.common.connect()?;
            let odata = match (filter, tag) {
                (Some(f), Some(t)) => Some(format!("{f} and tags/any(t: t eq '{}')", t.replace('\'', "''"))),
                (Some(f), None) => Some(f),
                (None, Some(t)) => Some(format!("tags/any(t: t eq '{}')", t.replace('\'', "''"))),
                (None, None) => None,
            };
            for doc in list(&session, &id, odata.as_deref(), reveal_secrets).await? {
                emit(&doc)?;
            }
            Ok(())
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
            let id = service_id(&service)?;
            let session = cli.common.connect()?;
            let (body, etag) = apim_ops::get_named_value(&session.arm, &id, &name)
                .await?
                .ok_or_else(|| anyhow::anyhow!("named value '{name}' does not exist in {}", id.name().unwrap_or_default()))?;
            let mut doc = NamedValueDoc::from_arm(&id, &body, Some(etag));
            if reveal_secrets && doc.secret {
                doc.value = Some(apim_ops::secret_value(&session.arm, &id, &name).await?.0);
            }
            emit(&doc)
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
                    let d = v.and_then(|v| pipeline::expect_kind::<NamedValueDoc>(&v, "stdin"));
                    let stop = d.is_err();
                    if tx.blocking_send(d).is_err() || stop {
                        break;
                    }
                }
            });
            let stream = futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|d| (d, rx)) });
            rewrite(&session, &rules, stream, a.allow_unmatched).await
        }
        Cmd::Import { service } => {
            let target = service.service.as_ref().map(|p| service_file(p, "--service")).transpose()?;
            let mut raw = pipeline::read_stdin_documents()?;
            if let Some(t) = &target {
                // --service names the service: documents need not.
                for v in raw.iter_mut().filter_map(Value::as_object_mut) {
                    v.insert("serviceId".into(), json!(t.to_string()));
                }
            }
            let docs: Vec<NamedValueDoc> = expect_all(&raw, "stdin")?;
            for d in &docs {
                check_importable(d)?;
            }
            let session = cli.common.connect()?;
            import(&session, docs).await
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
            apply(&session, changes, parallel, dry_run).await
        }
        Cmd::Diff { a, b } => {
            let (ia, ib) = (service_file(&a, "first")?, service_file(&b, "second")?);
            let session = cli.common.connect()?;
            // 1 means "they differ"; a failure to read either side is 5.
            let differences = diff(&session, &ia, &ib).await.map_err(pipeline::compare_failed)?;
            for d in &differences {
                emit(d)?;
            }
            if !differences.is_empty() {
                return Err(pipeline::Exit {
                    kind: pipeline::ExitKind::Azure,
                    message: "the named values differ".into(),
                }
                .into());
            }
            Ok(())
        }
    }
}

fn service_file(path: &std::path::Path, what: &str) -> anyhow::Result<ResourceId> {
    Ok(pipeline::read_one_file::<ServiceDoc>(path, what)?.id)
}

fn service_id(s: &ServiceArg) -> anyhow::Result<ResourceId> {
    match &s.service {
        Some(p) => service_file(p, "--service"),
        None => Ok(pipeline::expect_one::<ServiceDoc>(&pipeline::read_stdin_documents()?, "stdin (or --service FILE)")?.id),
    }
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

/// Runs `f` over `items` with at most `parallel` in flight, and returns
/// the results in the items' order. Unordered buffering keeps every slot
/// busy even when most items finish at once (plain values need no read).
async fn concurrently<'a, T, R, F, Fut>(items: &'a [T], parallel: usize, f: F) -> anyhow::Result<Vec<R>>
where
    F: Fn(&'a T) -> Fut,
    Fut: std::future::Future<Output = anyhow::Result<R>>,
{
    let f = &f;
    let mut done: Vec<(usize, anyhow::Result<R>)> =
        futures::stream::iter(items.iter().enumerate().map(|(i, x)| async move { (i, f(x).await) }))
            .buffer_unordered(parallel)
            .collect()
            .await;
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Reads in flight at once when fetching secrets and ETags.
const READ_PARALLEL: usize = 32;

async fn list(session: &Session, id: &ResourceId, filter: Option<&str>, reveal: bool) -> anyhow::Result<Vec<NamedValueDoc>> {
    let items = apim_ops::list_named_values(&session.arm, id, filter).await?;
    let mut docs: Vec<NamedValueDoc> = items.iter().map(|body| NamedValueDoc::from_arm(id, body, None)).collect();
    if reveal {
        let values = concurrently(&docs, READ_PARALLEL, |d| async move {
            Ok(if d.secret && d.key_vault.is_none() {
                Some(apim_ops::secret_value(&session.arm, id, &d.name).await?.0)
            } else {
                d.value.clone()
            })
        })
        .await?;
        for (d, v) in docs.iter_mut().zip(values) {
            d.value = v;
        }
    }
    docs.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(docs)
}

fn as_input(doc: &NamedValueDoc, value: Option<String>) -> NamedValue {
    NamedValue {
        name: doc.name.clone(),
        value,
        tags: doc.tags.clone(),
        key_vault: doc.key_vault.as_ref().map(|k| KeyVault {
            secret_identifier: k.secret_identifier.clone(),
            identity_client_id: k.identity_client_id.clone(),
        }),
    }
}

fn kv_doc(k: &KeyVault) -> KeyVaultDoc {
    KeyVaultDoc {
        secret_identifier: k.secret_identifier.clone(),
        identity_client_id: k.identity_client_id.clone(),
        last_status: None,
    }
}

async fn rewrite(
    session: &Session,
    rules: &RuleSet,
    docs: impl futures::Stream<Item = anyhow::Result<NamedValueDoc>>,
    allow_unmatched: bool,
) -> anyhow::Result<()> {
    // Secrets are fetched here, with their ETag, and never written down.
    let mut read: Vec<(NamedValueDoc, NamedValue, Option<String>)> = docs
        .map(|d| async move {
            let d = d?;
            Ok::<_, anyhow::Error>(match (d.secret, d.key_vault.is_some()) {
                (true, false) => {
                    let (value, etag) = apim_ops::secret_value(&session.arm, &d.service_id, &d.name)
                        .await
                        .with_context(|| format!("reading secret '{}'", d.name))?;
                    let input = as_input(&d, Some(value));
                    (d, input, Some(etag))
                }
                _ => {
                    let input = as_input(&d, d.value.clone());
                    (d, input, None)
                }
            })
        })
        .buffer_unordered(READ_PARALLEL)
        .try_collect()
        .await?;
    read.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    let mut docs = Vec::with_capacity(read.len());
    let mut read_inputs = Vec::with_capacity(read.len());
    for (d, i, e) in read {
        docs.push(d);
        read_inputs.push((i, e));
    }
    let read = read_inputs;
    let secret_etags: HashMap<String, String> = read.iter().filter_map(|(i, e)| Some((i.name.clone(), e.clone()?))).collect();
    let secret_etags = &secret_etags;
    let inputs: Vec<NamedValue> = read.into_iter().map(|(i, _)| i).collect();
    let unmatched = rules.unmatched(&inputs);
    if !unmatched.is_empty() && !allow_unmatched {
        return Err(anyhow::anyhow!(
            "rule(s) matched no named value (a typo?): {}; pass --allow-unmatched if that is expected",
            unmatched.join(", ")
        ));
    }
    let changed: Vec<(&NamedValueDoc, &NamedValue, namedvalue_rewrite::Rewrite)> = docs
        .iter()
        .zip(&inputs)
        .filter_map(|(d, i)| rules.rewrite(i).map(|w| (d, i, w)))
        .collect();
    let too_long: Vec<&str> = changed
        .iter()
        .filter(|(_, _, w)| w.too_long())
        .map(|(d, _, _)| d.name.as_str())
        .collect();
    if !too_long.is_empty() {
        return Err(usage(format!(
            "the rules make {} longer than the {} characters APIM stores; check the rules (nothing was planned)",
            too_long.join(", "),
            namedvalue_rewrite::MAX_VALUE_CHARS
        )));
    }
    // The ETag each change is planned against, read together with the value
    // it was planned from: a list is not current, so a value that changed
    // since it was listed would be overwritten under a fresh ETag.
    let etags = concurrently(&changed, READ_PARALLEL, |(d, _, _)| async move {
        if let Some(e) = d.etag.as_ref().or_else(|| secret_etags.get(&d.name)) {
            return Ok(Some(e.clone()));
        }
        let Some((body, etag)) = apim_ops::get_named_value(&session.arm, &d.service_id, &d.name).await? else {
            return Ok(None);
        };
        let now = NamedValueDoc::from_arm(&d.service_id, &body, None);
        Ok((now.value == d.value && KeyVaultDoc::same_reference(now.key_vault.as_ref(), d.key_vault.as_ref())).then_some(etag))
    })
    .await?;
    let stale: Vec<&str> = changed
        .iter()
        .zip(&etags)
        .filter(|(_, e)| e.is_none())
        .map(|((d, _, _), _)| d.name.as_str())
        .collect();
    if !stale.is_empty() {
        return Err(refused(format!(
            "named value(s) changed or deleted since they were listed: {}; list them again and rewrite that (nothing was planned)",
            stale.join(", ")
        )));
    }
    let specs: Vec<_> = rules.rules().iter().map(Rule::spec).collect();
    for ((doc, input, w), etag) in changed.iter().zip(etags) {
        let side = |value: &Option<String>, kv: Option<KeyVaultDoc>| NamedValueSide {
            value: if doc.secret { None } else { value.clone() },
            key_vault: kv,
        };
        emit(&ChangeDoc {
            service_id: doc.service_id.clone(),
            name: doc.name.clone(),
            secret: doc.secret,
            etag: etag.unwrap_or_default(),
            before: side(&input.value, doc.key_vault.clone()),
            after: side(&w.value, w.key_vault.as_ref().map(kv_doc)),
            rules_fired: w.fired.iter().map(|i| rules.rules()[*i].label()).collect(),
            rules: specs.clone(),
            status: None,
            message: None,
        })?;
    }
    Ok(())
}

async fn apply(session: &Session, changes: Vec<ChangeDoc>, parallel: usize, dry_run: bool) -> anyhow::Result<()> {
    if changes.is_empty() {
        // An empty plan is what rewrite prints when nothing needs changing.
        session.reporter.info("nothing to apply: the plan on stdin holds no change");
        return Ok(());
    }
    // Each result is printed as soon as its write ends, so a run killed
    // halfway leaves a record of every change it made.
    let mut results = futures::stream::iter(changes.into_iter().map(|c| async move {
        let r = apply_one(session, &c, dry_run).await;
        (c, r)
    }))
    .buffer_unordered(parallel);
    let (mut conflicts, mut unfinished, mut errors) = (0, 0, Vec::new());
    while let Some((mut c, r)) = results.next().await {
        match r {
            Ok((status, message)) => {
                conflicts += usize::from(status == ChangeStatus::Conflict);
                unfinished += usize::from(matches!(status, ChangeStatus::NotApplied | ChangeStatus::Accepted));
                c.status = Some(status);
                c.message = message;
                emit(&c)?;
            }
            Err(e) => errors.push(format!("{}: {}", c.name, pipeline::render(&e))),
        }
    }
    if !errors.is_empty() {
        return Err(anyhow::anyhow!("{} change(s) failed: {}", errors.len(), errors.join("; ")));
    }
    if unfinished > 0 {
        return Err(pipeline::stopped(format!(
            "stopped: {unfinished} change(s) were not written or not yet in effect (status \"not-applied\" or \"accepted\"); list, rewrite and apply again to finish (changes already made are not made twice)"
        )));
    }
    if conflicts > 0 {
        return Err(anyhow::anyhow!(
            "{conflicts} named value(s) changed since the plan and were left alone (status \"conflict\"); rewrite again"
        ));
    }
    Ok(())
}

/// What an imported document must hold before anything is sent: a value
/// (or a Key Vault reference) APIM would store.
fn check_importable(d: &NamedValueDoc) -> anyhow::Result<()> {
    let name = &d.name;
    match (&d.value, &d.key_vault) {
        (None, None) if d.secret => Err(usage(format!(
            "stdin: secret '{name}' has no value (list it with --reveal-secrets, or write the value into the document)"
        ))),
        (None, None) => Err(usage(format!("stdin: '{name}' has no value"))),
        (Some(v), _) if v.chars().count() > namedvalue_rewrite::MAX_VALUE_CHARS => Err(usage(format!(
            "stdin: the value of '{name}' is longer than the {} characters APIM stores",
            namedvalue_rewrite::MAX_VALUE_CHARS
        ))),
        (Some(v), _) if v.trim().is_empty() => Err(usage(format!("stdin: the value of '{name}' is empty"))),
        _ => Ok(()),
    }
}

/// Creates each named value unless one of that name exists (If-None-Match),
/// printing each as created (a secret's value as null); exit 3 when some
/// existed and were left alone.
async fn import(session: &Session, docs: Vec<NamedValueDoc>) -> anyhow::Result<()> {
    let mut existed = Vec::new();
    for d in docs {
        let mut props = serde_json::Map::new();
        props.insert("displayName".into(), json!(d.display_name.clone()));
        props.insert("secret".into(), json!(d.secret));
        props.insert("tags".into(), json!(d.tags));
        if let Some(v) = &d.value {
            props.insert("value".into(), json!(v));
        }
        if let Some(kv) = &d.key_vault {
            props.insert(
                "keyVault".into(),
                json!({"secretIdentifier": kv.secret_identifier, "identityClientId": kv.identity_client_id}),
            );
        }
        match apim_ops::create_named_value(&session.arm, &d.service_id, &d.name, Value::Object(props))
            .await
            .with_context(|| format!("creating '{}'", d.name))?
        {
            Written::Conflict => existed.push(d.name.clone()),
            Written::Done(etag) | Written::Accepted(etag) => emit(&NamedValueDoc {
                value: if d.secret { None } else { d.value.clone() },
                etag: Some(etag),
                key_vault: d.key_vault.clone(),
                ..d
            })?,
        }
    }
    if !existed.is_empty() {
        return Err(refused(format!(
            "{} named value(s) exist already and were left alone: {}; change them with rewrite and apply",
            existed.len(),
            existed.join(", ")
        )));
    }
    Ok(())
}

/// (status, message) of one change.
type ApplyResult = anyhow::Result<(ChangeStatus, Option<String>)>;

/// One change. A change made elsewhere since the plan is a conflict: the
/// write carries the plan's ETag in If-Match, and a secret is written only
/// while its ETag is still the plan's.
async fn apply_one(session: &Session, c: &ChangeDoc, dry_run: bool) -> ApplyResult {
    let arm = &session.arm;
    let conflict = |why: &str| Ok((ChangeStatus::Conflict, Some(why.to_string())));
    if arm.stop().fired() {
        return Ok((
            ChangeStatus::NotApplied,
            Some("stopped (timeout or interrupt) before this change was written".into()),
        ));
    }
    let mut props = serde_json::Map::new();
    if c.secret && c.after.key_vault.is_none() {
        // Re-derive the new value from the current one; it never left this process.
        let (value, etag) = match apim_ops::secret_value(arm, &c.service_id, &c.name).await {
            Ok(v) => v,
            Err(apim_ops::OpsError::Arm(e)) if e.status() == Some(404) => return conflict("it no longer exists"),
            Err(e) => return Err(e.into()),
        };
        if etag != c.etag {
            return conflict("its secret value changed since the plan");
        }
        let rules = RuleSet::new(
            c.rules
                .iter()
                .map(Rule::from_spec)
                .collect::<Result<_, _>>()
                .map_err(|e| usage(e.to_string()))?,
        );
        // Rules scoped by tag need the current tags; a scope that no longer applies is a conflict below.
        let tags = if c.rules.iter().any(|r| !r.tags.is_empty()) {
            apim_ops::get_named_value(arm, &c.service_id, &c.name)
                .await?
                .map(|(b, _)| NamedValueDoc::from_arm(&c.service_id, &b, None).tags)
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let input = NamedValue {
            name: c.name.clone(),
            value: Some(value),
            tags,
            key_vault: None,
        };
        match rules.rewrite(&input).and_then(|w| w.value) {
            Some(v) => {
                props.insert("value".into(), json!(v));
            }
            None => return conflict("re-applying the rules no longer changes it"),
        }
    } else if let Some(v) = &c.after.value {
        props.insert("value".into(), json!(v));
    }
    if let Some(kv) = &c.after.key_vault {
        props.insert(
            "keyVault".into(),
            json!({"secretIdentifier": kv.secret_identifier, "identityClientId": kv.identity_client_id}),
        );
    }
    if dry_run {
        return match apim_ops::get_named_value(arm, &c.service_id, &c.name).await? {
            Some((_, e)) if e == c.etag => Ok((ChangeStatus::DryRun, None)),
            Some(_) => conflict("its ETag changed since the plan"),
            None => conflict("it no longer exists"),
        };
    }
    let planned = props.clone();
    match apim_ops::patch_named_value(arm, &c.service_id, &c.name, Value::Object(props), &c.etag).await {
        // A write whose answer was lost and sent again meets its own new
        // ETag: if what is there now is what the plan wrote, it is applied.
        Ok(Written::Conflict) if already_in_place(arm, c, &planned).await? => {
            Ok((ChangeStatus::Applied, Some("already in place (a retried write)".into())))
        }
        Ok(Written::Conflict) => conflict("it changed since the plan (412 on If-Match)"),
        Ok(Written::Accepted(_)) => Ok((
            ChangeStatus::Accepted,
            Some("written; stopped waiting for it to take effect (it goes on in Azure)".into()),
        )),
        Err(apim_ops::OpsError::Arm(e)) if e.status() == Some(404) => conflict("it no longer exists"),
        Err(e) => Err(e.into()),
        Ok(Written::Done(_)) if c.after.key_vault.is_some() => {
            let refreshed = apim_ops::refresh_secret(arm, &c.service_id, &c.name).await?;
            let status = refreshed
                .pointer("/properties/keyVault/lastStatus/code")
                .and_then(Value::as_str)
                .unwrap_or("unknown");
            Ok((ChangeStatus::Applied, Some(format!("Key Vault secret refreshed: {status}"))))
        }
        Ok(Written::Done(_)) => Ok((ChangeStatus::Applied, None)),
    }
}

/// Whether the named value now holds what `planned` (the PATCH body's
/// properties) writes; a secret is compared here, in the process.
async fn already_in_place(arm: &arm_client::ArmClient, c: &ChangeDoc, planned: &serde_json::Map<String, Value>) -> anyhow::Result<bool> {
    let Some((body, _)) = apim_ops::get_named_value(arm, &c.service_id, &c.name).await? else {
        return Ok(false);
    };
    if let Some(v) = planned.get("value") {
        let now = if c.secret {
            Value::String(apim_ops::secret_value(arm, &c.service_id, &c.name).await?.0)
        } else {
            body.pointer("/properties/value").cloned().unwrap_or(Value::Null)
        };
        if &now != v {
            return Ok(false);
        }
    }
    if let Some(kv) = planned.get("keyVault") {
        let now = body.pointer("/properties/keyVault").cloned().unwrap_or(Value::Null);
        if now.get("secretIdentifier") != kv.get("secretIdentifier") || now.get("identityClientId") != kv.get("identityClientId") {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Both services' named values, read concurrently, with the secret values
/// of the names both hold (compared here, never printed).
async fn diff(session: &Session, a: &ResourceId, b: &ResourceId) -> anyhow::Result<Vec<NamedValueDiffDoc>> {
    let (la, lb) = futures::try_join!(list(session, a, None, false), list(session, b, None, false))?;
    let in_b: HashMap<&str, &NamedValueDoc> = lb.iter().map(|d| (d.name.as_str(), d)).collect();
    let both_secret: Vec<&str> = la
        .iter()
        .filter(|x| x.secret && x.key_vault.is_none() && in_b.get(x.name.as_str()).is_some_and(|y| y.secret && y.key_vault.is_none()))
        .map(|x| x.name.as_str())
        .collect();
    let secret_pairs = concurrently(&both_secret, READ_PARALLEL / 2, |name| async move {
        let (x, y) = futures::try_join!(
            apim_ops::secret_value(&session.arm, a, name),
            apim_ops::secret_value(&session.arm, b, name)
        )?;
        Ok((name.to_string(), x.0 == y.0))
    })
    .await?;
    let secrets_equal: HashMap<String, bool> = secret_pairs.into_iter().collect();
    Ok(diff_named_values(&la, &lb, &secrets_equal))
}

/// How two lists of named values differ, by name, in name order. Pure:
/// `secrets_equal` says, for names that are secret on both sides, whether
/// the values are the same (the caller compared them in-process).
pub fn diff_named_values(a: &[NamedValueDoc], b: &[NamedValueDoc], secrets_equal: &HashMap<String, bool>) -> Vec<NamedValueDiffDoc> {
    let mut by_name: BTreeMap<&str, (Option<&NamedValueDoc>, Option<&NamedValueDoc>)> = BTreeMap::new();
    for x in a {
        by_name.entry(&x.name).or_default().0 = Some(x);
    }
    for y in b {
        by_name.entry(&y.name).or_default().1 = Some(y);
    }
    let summary = |d: &NamedValueDoc| NamedValueSummary {
        value: d.value.clone(),
        secret: d.secret,
        tags: d.tags.clone(),
    };
    by_name
        .into_iter()
        .filter_map(|(name, (x, y))| {
            let difference = match (x, y) {
                (Some(_), None) => "only in A".to_string(),
                (None, Some(_)) => "only in B".to_string(),
                (Some(x), Some(y)) => {
                    let mut what = Vec::new();
                    if x.secret != y.secret {
                        what.push("secret flag differs");
                    } else if x.secret && x.key_vault.is_none() && secrets_equal.get(name) == Some(&false) {
                        what.push("secret digest differs");
                    } else if x.value != y.value {
                        what.push("value differs");
                    }
                    if !KeyVaultDoc::same_reference(x.key_vault.as_ref(), y.key_vault.as_ref()) {
                        what.push("key vault reference differs");
                    }
                    let (mut tx, mut ty) = (x.tags.clone(), y.tags.clone());
                    tx.sort();
                    ty.sort();
                    if tx != ty {
                        what.push("tags differ");
                    }
                    if what.is_empty() {
                        return None;
                    }
                    what.join(", ")
                }
                (None, None) => return None,
            };
            Some(NamedValueDiffDoc {
                name: name.to_string(),
                difference,
                a: x.map(summary),
                b: y.map(summary),
            })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nv(name: &str, value: Option<&str>, secret: bool) -> NamedValueDoc {
        NamedValueDoc {
            service_id: "/subscriptions/s/resourceGroups/g/providers/Microsoft.ApiManagement/service/x"
                .parse()
                .unwrap(),
            name: name.into(),
            display_name: name.into(),
            value: value.map(str::to_string),
            secret,
            tags: Vec::new(),
            key_vault: None,
            etag: None,
        }
    }

    #[test]
    fn diff_is_by_name_and_never_shows_secrets() {
        let a = [
            nv("same", Some("1"), false),
            nv("changed", Some("1"), false),
            nv("only-a", Some("x"), false),
            nv("s", None, true),
        ];
        let b = [
            nv("changed", Some("2"), false),
            nv("same", Some("1"), false),
            nv("only-b", Some("y"), false),
            nv("s", None, true),
        ];
        let secrets = HashMap::from([("s".to_string(), false)]);
        let d = diff_named_values(&a, &b, &secrets);
        let got: Vec<(&str, &str)> = d.iter().map(|d| (d.name.as_str(), d.difference.as_str())).collect();
        assert_eq!(
            got,
            [
                ("changed", "value differs"),
                ("only-a", "only in A"),
                ("only-b", "only in B"),
                ("s", "secret digest differs")
            ]
        );
        assert_eq!(d[3].a.as_ref().unwrap().value, None);
        let same = HashMap::from([("s".to_string(), true)]);
        assert!(diff_named_values(&a[..1], &b[1..2], &same).is_empty());
    }
}
