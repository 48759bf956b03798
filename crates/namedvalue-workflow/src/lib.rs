//! Named values as `apim-namedvalues` handles them: list them, plan a
//! rewrite against the ETag each value was read at, apply a plan only where
//! nothing changed since (a lost update is a conflict, never an
//! overwrite), and import new ones without touching those that exist.
//! Secret values are read and compared in the process only: they are never
//! written into a plan, not even as a digest.
//!
//! ```no_run
//! # async fn demo(arm: &arm_client::ArmClient, id: &arm_client::ResourceId) -> Result<(), namedvalue_workflow::Error> {
//! use namedvalue_rewrite::{Rule, RuleSet};
//! let rules = RuleSet::new(vec![Rule::parse("host", "api.src.example.com=api.dest.example.com").unwrap()]);
//! let listed = namedvalue_workflow::list(arm, id, None, false).await?;
//! let plan = namedvalue_workflow::rewrite(arm, &rules, futures::stream::iter(listed.into_iter().map(Ok::<_, namedvalue_workflow::Error>)), false).await?;
//! # Ok(()) }
//! ```

mod apply;
mod body;
mod refresh;

pub use apply::{apply, apply_one, check_importable, dry_run_status, import, status_of_write, Applied, ApplyError};
pub use body::{KeyVaultWrite, NamedValueWrite};
pub use refresh::{missing_identities, refresh, unreadable};

use apim_documents::{ChangeDoc, Classify, Failure, KeyVaultDoc, NamedValueDoc, NamedValueSide};
use apim_ops::OpsError;
use arm_client::{ArmClient, ResourceId};
use futures::{StreamExt, TryStreamExt};
use namedvalue_rewrite::{KeyVault, NamedValue, Rule, RuleSet};
use std::collections::HashMap;

/// What went wrong.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input cannot work (nothing was written).
    #[error("{0}")]
    BadInput(String),
    /// Refused to go on: values changed since they were listed, or exist already.
    #[error("{0}")]
    Refused(String),
    /// Stopped (a signal or the deadline) before every change was written.
    #[error("{0}")]
    Stopped(String),
    /// Some changes could not be made, or met a newer value.
    #[error("{0}")]
    Incomplete(String),
    /// Rules that matched no named value (a typo?).
    #[error("rule(s) matched no named value (a typo?): {}", .0.join(", "))]
    Unmatched(Vec<String>),
    #[error("{what}")]
    Ops {
        what: String,
        #[source]
        source: Box<OpsError>,
    },
}

impl Classify for Error {
    fn failure(&self) -> Failure {
        match self {
            // A rule that matches nothing is a typo in the input, not Azure's no.
            Error::BadInput(_) | Error::Unmatched(_) => Failure::BadInput,
            Error::Refused(_) => Failure::Refused,
            Error::Stopped(_) => Failure::Stopped,
            Error::Incomplete(_) | Error::Ops { .. } => Failure::Azure,
        }
    }
}

impl From<OpsError> for Error {
    fn from(source: OpsError) -> Self {
        Error::Ops {
            what: "named values".into(),
            source: Box::new(source),
        }
    }
}

pub type Result<T> = std::result::Result<T, Error>;

fn context(what: impl Into<String>) -> impl FnOnce(OpsError) -> Error {
    let what = what.into();
    move |source| Error::Ops {
        what,
        source: Box::new(source),
    }
}

/// Runs `f` over `items` with at most `parallel` in flight, and returns
/// the results in the items' order. Unordered buffering keeps every slot
/// busy even when most items finish at once (plain values need no read).
async fn concurrently<'a, T, R, F, Fut>(items: &'a [T], parallel: usize, f: F) -> Result<Vec<R>>
where
    F: Fn(&'a T) -> Fut,
    Fut: std::future::Future<Output = Result<R>>,
{
    let f = &f;
    let mut done: Vec<(usize, Result<R>)> = futures::stream::iter(items.iter().enumerate().map(|(i, x)| async move { (i, f(x).await) }))
        .buffer_unordered(parallel)
        .collect()
        .await;
    done.sort_by_key(|(i, _)| *i);
    done.into_iter().map(|(_, r)| r).collect()
}

/// Reads in flight at once when fetching secrets and ETags.
const READ_PARALLEL: usize = 32;

/// One apim.namedvalue per named value, sorted by name; a secret's value
/// only when `reveal` asks (read with listValue).
pub async fn list(arm: &ArmClient, id: &ResourceId, filter: Option<&str>, reveal: bool) -> Result<Vec<NamedValueDoc>> {
    let items = apim_ops::list_named_values(arm, id, filter).await?;
    let mut docs: Vec<NamedValueDoc> = items.iter().map(|body| NamedValueDoc::from_arm(id, body, None)).collect();
    if reveal {
        let values = concurrently(&docs, READ_PARALLEL, |d| async move {
            Ok(if d.secret && d.key_vault.is_none() {
                Some(apim_ops::secret_value(arm, id, &d.name).await?.0)
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

/// Plans the changes `rules` make, each against the ETag its value was read
/// at. Documents are taken as they arrive (secrets read meanwhile); nothing
/// is planned until all are in. A rule that matches nothing is bad input
/// unless `allow_unmatched`; a value changed since it was listed refuses
/// the whole plan.
pub async fn rewrite<E>(
    arm: &ArmClient,
    rules: &RuleSet,
    docs: impl futures::Stream<Item = std::result::Result<NamedValueDoc, E>>,
    allow_unmatched: bool,
) -> std::result::Result<Planned, E>
where
    E: From<Error>,
{
    // Secrets are fetched here, with their ETag, and never written down.
    let mut read: Vec<(NamedValueDoc, NamedValue, Option<String>)> = docs
        .map(|d| async move {
            let d = d?;
            Ok::<_, E>(match (d.secret, d.key_vault.is_some()) {
                (true, false) => {
                    let (value, etag) = apim_ops::secret_value(arm, &d.service_id, &d.name)
                        .await
                        .map_err(context(format!("reading secret '{}'", d.name)))?;
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
        return Err(Error::Unmatched(unmatched).into());
    }
    let notes = reversed_host_rules(rules, &inputs);
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
        return Err(Error::BadInput(format!(
            "the rules make {} longer than the {} characters APIM stores; check the rules (nothing was planned)",
            too_long.join(", "),
            namedvalue_rewrite::MAX_VALUE_CHARS
        ))
        .into());
    }
    // The ETag each change is planned against, read together with the value
    // it was planned from: a list is not current, so a value that changed
    // since it was listed would be overwritten under a fresh ETag.
    let etags = concurrently(&changed, READ_PARALLEL, |(d, _, _)| async move {
        if let Some(e) = d.etag.as_ref().or_else(|| secret_etags.get(&d.name)) {
            return Ok(Some(e.clone()));
        }
        let Some((body, etag)) = apim_ops::get_named_value(arm, &d.service_id, &d.name).await? else {
            return Ok(None);
        };
        Ok(unchanged_since_listed(d, &NamedValueDoc::from_arm(&d.service_id, &body, None)).then_some(etag))
    })
    .await?;
    let stale: Vec<&str> = changed
        .iter()
        .zip(&etags)
        .filter(|(_, e)| e.is_none())
        .map(|((d, _, _), _)| d.name.as_str())
        .collect();
    if !stale.is_empty() {
        return Err(Error::Refused(format!(
            "named value(s) changed or deleted since they were listed: {}; list them again and rewrite that (nothing was planned)",
            stale.join(", ")
        ))
        .into());
    }
    let specs: Vec<_> = rules.rules().iter().map(Rule::spec).collect();
    let mut plan = Vec::with_capacity(changed.len());
    for ((doc, input, w), etag) in changed.iter().zip(etags) {
        let side = |value: &Option<String>, kv: Option<KeyVaultDoc>| NamedValueSide {
            value: if doc.secret { None } else { value.clone() },
            key_vault: kv,
        };
        plan.push(ChangeDoc {
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
            applied_etag: None,
        });
    }
    Ok(Planned {
        changes: plan,
        read: docs.len(),
        notes,
    })
}

/// A rewrite's plan, how many named values it read, and what is worth
/// saying about the rules (see [`reversed_host_rules`]).
#[derive(Debug, Clone, Default)]
pub struct Planned {
    pub changes: Vec<ChangeDoc>,
    pub read: usize,
    pub notes: Vec<String>,
}

/// Host rules that change nothing because their new host is already used
/// and their old one nowhere: a re-run after the rewrite, or a rule
/// written the wrong way round (the copy still holds the source's hosts).
/// Either way worth a line: the values alone cannot tell which.
pub fn reversed_host_rules(rules: &RuleSet, inputs: &[NamedValue]) -> Vec<String> {
    let found = |host: &str| {
        inputs.iter().any(|i| {
            i.value
                .as_deref()
                .is_some_and(|v| !namedvalue_rewrite::host::find(v, host).is_empty())
        })
    };
    rules
        .rules()
        .iter()
        .map(Rule::spec)
        .filter(|s| matches!(s.kind, namedvalue_rewrite::RuleType::Host) && s.names.is_empty() && s.tags.is_empty())
        .filter(|s| !found(&s.old) && found(&s.new))
        .map(|s| {
            format!(
                "--host {}={} changes nothing: {} is used and {} nowhere; already applied, or written the wrong way round?",
                s.old, s.new, s.new, s.old
            )
        })
        .collect()
}

/// Whether a value read now is the one listed (the plan is made against
/// the ETag read now, so a value changed in between would be overwritten).
pub fn unchanged_since_listed(listed: &NamedValueDoc, now: &NamedValueDoc) -> bool {
    now.value == listed.value && KeyVaultDoc::same_reference(now.key_vault.as_ref(), listed.key_vault.as_ref())
}
