//! The work behind `apim-namedvalues`: list named values, plan a rewrite
//! with `namedvalue-rewrite`, apply it with If-Match, and compare instances.
//! Secret values never reach stdout or stderr unless --reveal-secrets asks.

use anyhow::Context;
use apim_ops::Written;
use arm_client::ResourceId;
use clap::{Args, Parser, Subcommand};
use futures::StreamExt;
use namedvalue_rewrite::{KeyVault, NamedValue, Rule, RuleSet};
use pipeline::{emit, expect_kind, usage, ChangeDoc, KeyVaultDoc, NamedValueDoc, NamedValueSide, ServiceDoc, Session};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
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
        #[arg(long)]
        reveal_secrets: bool,
    },
    /// apim.namedvalue documents in, an apim.namedvalue.change for each that the rules change.
    Rewrite(RewriteArgs),
    /// Writes apim.namedvalue.change documents, each only if unchanged since the plan.
    Apply {
        /// Writes in flight at once.
        #[arg(long, default_value_t = 8)]
        parallel: usize,
        /// Check each change against the service; write nothing.
        #[arg(long)]
        dry_run: bool,
        #[command(flatten)]
        timeout: pipeline::TimeoutArg,
    },
    /// Compares the named values of two services (apim.service documents); exit 1 when they differ.
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
            let id = service_id(&service)?;
            let session = cli.common.connect()?;
            let (body, etag) = apim_ops::get_named_value(&session.arm, &id, &name)
                .await?
                .ok_or_else(|| anyhow::anyhow!("named value '{name}' does not exist in {}", id.name().unwrap_or_default()))?;
            let mut doc = to_doc(&id, &body, Some(etag));
            if reveal_secrets && doc.secret {
                doc.value = Some(apim_ops::secret_value(&session.arm, &id, &name).await?.0);
            }
            emit(&doc)
        }
        Cmd::Rewrite(a) => {
            let rules = rule_set(&a)?;
            let docs: Vec<NamedValueDoc> = pipeline::read_stdin_documents()?
                .iter()
                .map(|d| expect_kind(d, NamedValueDoc::KIND, "stdin"))
                .collect::<anyhow::Result<_>>()?;
            let session = cli.common.connect()?;
            rewrite(&session, &rules, docs, a.allow_unmatched).await
        }
        Cmd::Apply {
            parallel,
            dry_run,
            timeout,
        } => {
            if parallel == 0 {
                return Err(usage("--parallel must be at least 1"));
            }
            let changes: Vec<ChangeDoc> = pipeline::read_stdin_documents()?
                .iter()
                .map(|d| expect_kind(d, ChangeDoc::KIND, "stdin"))
                .collect::<anyhow::Result<_>>()?;
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
            diff(&session, &ia, &ib).await
        }
    }
}

fn service_file(path: &std::path::Path, what: &str) -> anyhow::Result<ResourceId> {
    let docs = pipeline::read_file_documents(path, what)?;
    let [doc] = docs.as_slice() else {
        return Err(usage(format!(
            "{what} {}: expected one apim.service document, found {}",
            path.display(),
            docs.len()
        )));
    };
    Ok(expect_kind::<ServiceDoc>(doc, ServiceDoc::KIND, &format!("{what} {}", path.display()))?.id)
}

fn service_id(s: &ServiceArg) -> anyhow::Result<ResourceId> {
    match &s.service {
        Some(p) => service_file(p, "--service"),
        None => {
            let docs = pipeline::read_stdin_documents()?;
            let [doc] = docs.as_slice() else {
                return Err(usage(format!(
                    "expected one apim.service document on stdin (or --service FILE), found {}",
                    docs.len()
                )));
            };
            Ok(expect_kind::<ServiceDoc>(doc, ServiceDoc::KIND, "stdin")?.id)
        }
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

fn sha256(s: &str) -> String {
    Sha256::digest(s.as_bytes()).iter().map(|b| format!("{b:02x}")).collect()
}

fn key_vault(body: &Value) -> Option<KeyVaultDoc> {
    let kv = body.pointer("/properties/keyVault").filter(|k| !k.is_null())?;
    Some(KeyVaultDoc {
        secret_identifier: kv.get("secretIdentifier").and_then(Value::as_str).unwrap_or_default().to_string(),
        identity_client_id: kv.get("identityClientId").and_then(Value::as_str).map(str::to_string),
        last_status: kv.get("lastStatus").cloned(),
    })
}

fn to_doc(service: &ResourceId, body: &Value, etag: Option<String>) -> NamedValueDoc {
    let p = |k: &str| body.pointer(&format!("/properties/{k}")).cloned().unwrap_or(Value::Null);
    let secret = p("secret").as_bool().unwrap_or(false);
    NamedValueDoc {
        kind: NamedValueDoc::KIND.into(),
        schema_version: 1,
        service_id: service.clone(),
        name: body.get("name").and_then(Value::as_str).unwrap_or_default().to_string(),
        display_name: p("displayName").as_str().unwrap_or_default().to_string(),
        value: if secret { None } else { p("value").as_str().map(str::to_string) },
        secret,
        tags: p("tags")
            .as_array()
            .map(|t| t.iter().filter_map(|x| x.as_str().map(str::to_string)).collect())
            .unwrap_or_default(),
        key_vault: key_vault(body),
        etag,
    }
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
const READ_PARALLEL: usize = 16;

async fn list(session: &Session, id: &ResourceId, filter: Option<&str>, reveal: bool) -> anyhow::Result<Vec<NamedValueDoc>> {
    let items = apim_ops::list_named_values(&session.arm, id, filter).await?;
    let mut docs: Vec<NamedValueDoc> = items.iter().map(|body| to_doc(id, body, None)).collect();
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

async fn rewrite(session: &Session, rules: &RuleSet, mut docs: Vec<NamedValueDoc>, allow_unmatched: bool) -> anyhow::Result<()> {
    docs.sort_by(|a, b| a.name.cmp(&b.name));
    // Secrets are fetched here and never written down: the plan keeps digests.
    let read = concurrently(&docs, READ_PARALLEL, |d| async move {
        Ok(match (d.secret, d.key_vault.is_some()) {
            (true, false) => {
                let (value, etag) = apim_ops::secret_value(&session.arm, &d.service_id, &d.name)
                    .await
                    .with_context(|| format!("reading secret '{}'", d.name))?;
                (as_input(d, Some(value)), Some(etag))
            }
            _ => (as_input(d, d.value.clone()), None),
        })
    })
    .await?;
    // A secret's ETag comes with its value: no second read for it.
    let secret_etags: std::collections::HashMap<String, String> =
        read.iter().filter_map(|(i, e)| Some((i.name.clone(), e.clone()?))).collect();
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
    // The ETag each change is planned against: apply writes only while it holds.
    let etags = concurrently(&changed, READ_PARALLEL, |(d, _, _)| async move {
        match (&d.etag, secret_etags.get(&d.name)) {
            (Some(e), _) | (None, Some(e)) => Ok(e.clone()),
            (None, None) => Ok(apim_ops::get_named_value(&session.arm, &d.service_id, &d.name)
                .await?
                .map(|(_, e)| e)
                .unwrap_or_default()),
        }
    })
    .await?;
    let specs: Vec<_> = rules.rules().iter().map(Rule::spec).collect();
    for ((doc, input, w), etag) in changed.iter().zip(etags) {
        let side = |value: &Option<String>, kv: Option<KeyVaultDoc>| NamedValueSide {
            value: if doc.secret { None } else { value.clone() },
            sha256: if doc.secret { value.as_deref().map(sha256) } else { None },
            key_vault: kv,
        };
        emit(&ChangeDoc {
            kind: ChangeDoc::KIND.into(),
            schema_version: 1,
            service_id: doc.service_id.clone(),
            name: doc.name.clone(),
            secret: doc.secret,
            etag,
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
    let results: Vec<(ChangeDoc, ApplyResult)> = futures::stream::iter(changes.into_iter().map(|c| async move {
        let r = apply_one(session, &c, dry_run).await;
        (c, r)
    }))
    .buffer_unordered(parallel)
    .collect()
    .await;
    let mut results = results;
    results.sort_by(|a, b| a.0.name.cmp(&b.0.name));
    let (mut conflicts, mut unfinished, mut errors) = (0, 0, Vec::new());
    for (mut c, r) in results {
        match r {
            Ok((status, message)) => {
                conflicts += usize::from(status == "conflict");
                unfinished += usize::from(status == NOT_APPLIED || status == ACCEPTED);
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
            "stopped: {unfinished} change(s) were not written or not yet in effect (status \"{NOT_APPLIED}\" or \"{ACCEPTED}\"); list, rewrite and apply again to finish (changes already made are not made twice)"
        )));
    }
    if conflicts > 0 {
        return Err(anyhow::anyhow!(
            "{conflicts} named value(s) changed since the plan and were left alone (status \"conflict\"); rewrite again"
        ));
    }
    Ok(())
}

/// Statuses of a change that apply left unfinished when it was stopped.
const NOT_APPLIED: &str = "not-applied";
const ACCEPTED: &str = "accepted";

/// (status, message) of one change.
type ApplyResult = anyhow::Result<(String, Option<String>)>;

/// One change: (status, message). A change made elsewhere since the plan
/// is a conflict: the write carries the plan's ETag in If-Match.
async fn apply_one(session: &Session, c: &ChangeDoc, dry_run: bool) -> ApplyResult {
    let arm = &session.arm;
    let conflict = |why: &str| Ok(("conflict".to_string(), Some(why.to_string())));
    if arm.stop().fired() {
        return Ok((
            NOT_APPLIED.into(),
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
        if etag != c.etag || c.before.sha256.as_deref() != Some(sha256(&value).as_str()) {
            return conflict("its secret value changed since the plan");
        }
        let rules = RuleSet::new(
            c.rules
                .iter()
                .map(Rule::from_spec)
                .collect::<Result<_, _>>()
                .map_err(|e| usage(e.to_string()))?,
        );
        let input = NamedValue {
            name: c.name.clone(),
            value: Some(value),
            tags: Vec::new(),
            key_vault: None,
        };
        // Rules scoped by tag need the current tags; a scope that no longer applies is a conflict below.
        let tagged = if c.rules.iter().any(|r| !r.tags.is_empty()) {
            apim_ops::get_named_value(arm, &c.service_id, &c.name)
                .await?
                .map(|(b, _)| to_doc(&c.service_id, &b, None).tags)
                .unwrap_or_default()
        } else {
            Vec::new()
        };
        let new = rules.rewrite(&NamedValue { tags: tagged, ..input }).and_then(|w| w.value);
        match new {
            Some(v) if c.after.sha256.as_deref() == Some(sha256(&v).as_str()) => {
                props.insert("value".into(), json!(v));
            }
            _ => return conflict("re-applying the rules no longer gives the planned value"),
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
            Some((_, e)) if e == c.etag => Ok(("dry-run".into(), None)),
            Some(_) => conflict("its ETag changed since the plan"),
            None => conflict("it no longer exists"),
        };
    }
    match apim_ops::patch_named_value(arm, &c.service_id, &c.name, Value::Object(props), &c.etag).await {
        Ok(Written::Conflict) => conflict("it changed since the plan (412 on If-Match)"),
        Ok(Written::Accepted(_)) => Ok((
            ACCEPTED.into(),
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
            Ok(("applied".into(), Some(format!("Key Vault secret refreshed: {status}"))))
        }
        Ok(Written::Done(_)) => Ok(("applied".into(), None)),
    }
}

async fn diff(session: &Session, a: &ResourceId, b: &ResourceId) -> anyhow::Result<()> {
    let (la, lb) = (list(session, a, None, false).await?, list(session, b, None, false).await?);
    let digest = |id: &ResourceId, d: &NamedValueDoc| {
        let (id, name, secret) = (id.clone(), d.name.clone(), d.secret);
        async move {
            if secret {
                apim_ops::secret_value(&session.arm, &id, &name)
                    .await
                    .map(|(v, _)| Some(sha256(&v)))
            } else {
                Ok(None)
            }
        }
    };
    let mut names: Vec<&str> = la.iter().chain(&lb).map(|d| d.name.as_str()).collect();
    names.sort();
    names.dedup();
    let mut differ = false;
    for name in names {
        let (x, y) = (la.iter().find(|d| d.name == name), lb.iter().find(|d| d.name == name));
        let difference = match (x, y) {
            (Some(_), None) => Some("only in A".to_string()),
            (None, Some(_)) => Some("only in B".to_string()),
            (Some(x), Some(y)) => {
                let mut what = Vec::new();
                if x.secret != y.secret {
                    what.push("secret flag differs");
                } else if x.secret && digest(a, x).await? != digest(b, y).await? {
                    what.push("secret digest differs");
                } else if x.value != y.value {
                    what.push("value differs");
                }
                if x.key_vault.as_ref().map(|k| (&k.secret_identifier, &k.identity_client_id))
                    != y.key_vault.as_ref().map(|k| (&k.secret_identifier, &k.identity_client_id))
                {
                    what.push("key vault reference differs");
                }
                let (mut tx, mut ty) = (x.tags.clone(), y.tags.clone());
                tx.sort();
                ty.sort();
                if tx != ty {
                    what.push("tags differ");
                }
                (!what.is_empty()).then(|| what.join(", "))
            }
            (None, None) => None,
        };
        if let Some(d) = difference {
            differ = true;
            let side = |n: Option<&NamedValueDoc>| n.map(|n| json!({"value": n.value, "secret": n.secret, "tags": n.tags}));
            emit(&json!({"kind": "apim.namedvalue.diff", "schemaVersion": 1, "name": name, "difference": d, "a": side(x), "b": side(y)}))?;
        }
    }
    if differ {
        return Err(pipeline::Exit {
            kind: pipeline::ExitKind::Azure,
            message: "the named values differ".into(),
        }
        .into());
    }
    Ok(())
}
