//! Applying a plan, and importing: each write only where nothing changed
//! since the plan (If-Match on the plan's ETag; a secret re-read and its
//! ETag compared first), each create only where nothing exists
//! (If-None-Match). The rules that decide a change's status are pure
//! functions below, tested without a server.

use crate::{context, Error, NamedValueWrite, Result};
use apim_documents::{ChangeDoc, ChangeStatus, NamedValueDoc};
use apim_ops::{OpsError, Written};
use arm_client::ArmClient;
use futures::StreamExt;
use namedvalue_rewrite::{NamedValue, Rule, RuleSet};
use serde_json::Value;

/// (status, message) of one change.
pub type Applied = (ChangeStatus, Option<String>);

fn conflict(why: &str) -> Result<Applied> {
    Ok((ChangeStatus::Conflict, Some(why.to_string())))
}

/// Applies every change, `parallel` at once, handing each to `done` as
/// soon as its write ends (so a run killed halfway leaves a record of every
/// change it made). Ends with an error when any failed, stopped before its
/// write, or met a newer value.
/// `earlier` holds what earlier runs wrote: [`ChangeDoc::write_key`] to
/// the ETag their write produced; a secret now at that ETag is this plan's
/// own earlier write (already applied), not someone else's change.
pub async fn apply(
    arm: &ArmClient,
    changes: Vec<ChangeDoc>,
    parallel: usize,
    dry_run: bool,
    earlier: &std::collections::HashMap<String, String>,
    mut done: impl FnMut(&ChangeDoc) -> std::io::Result<()>,
) -> std::result::Result<(), ApplyError> {
    let mut results = futures::stream::iter(changes.into_iter().map(|c| async move {
        let r = apply_one(arm, &c, dry_run, earlier.get(&c.write_key()).map(String::as_str)).await;
        (c, r)
    }))
    .buffer_unordered(parallel.max(1));
    let mut tally = Tally::default();
    while let Some((mut c, r)) = results.next().await {
        match r {
            Ok(((status, message), written)) => {
                tally.count(status);
                c.status = Some(status);
                c.message = message;
                c.applied_etag = written;
                done(&c).map_err(ApplyError::Output)?;
            }
            Err(e) => tally.errors.push(format!("{}: {}", c.name, apim_documents::one_line(&e))),
        }
    }
    tally.verdict().map_err(ApplyError::Apply)
}

/// Why `apply` did not end well: the work, or printing its results.
#[derive(Debug, thiserror::Error)]
pub enum ApplyError {
    #[error(transparent)]
    Apply(Error),
    #[error(transparent)]
    Output(std::io::Error),
}

impl apim_documents::Classify for ApplyError {
    fn failure(&self) -> apim_documents::Failure {
        match self {
            ApplyError::Apply(e) => apim_documents::Classify::failure(e),
            ApplyError::Output(_) => apim_documents::Failure::Azure,
        }
    }
}

/// How the changes of a run ended.
#[derive(Debug, Default)]
struct Tally {
    conflicts: usize,
    unfinished: usize,
    errors: Vec<String>,
}

impl Tally {
    fn count(&mut self, status: ChangeStatus) {
        self.conflicts += usize::from(status == ChangeStatus::Conflict);
        self.unfinished += usize::from(matches!(status, ChangeStatus::NotApplied | ChangeStatus::Accepted));
    }

    /// Failures first, then what a stop left unwritten, then conflicts.
    fn verdict(self) -> Result<()> {
        if !self.errors.is_empty() {
            return Err(Error::Incomplete(format!(
                "{} change(s) failed: {}",
                self.errors.len(),
                self.errors.join("; ")
            )));
        }
        if self.unfinished > 0 {
            return Err(Error::Stopped(format!(
                "stopped: {} change(s) were not written or not yet in effect (status \"not-applied\" or \"accepted\"); list, rewrite and apply again to finish (changes already made are not made twice)",
                self.unfinished
            )));
        }
        if self.conflicts > 0 {
            return Err(Error::Incomplete(format!(
                "{} named value(s) changed since the plan and were left alone (status \"conflict\"); rewrite again",
                self.conflicts
            )));
        }
        Ok(())
    }
}

/// What a dry run says of a change, given the ETag the value has now.
pub fn dry_run_status(now: Option<&str>, planned: &str) -> Applied {
    match now {
        Some(e) if e == planned => (ChangeStatus::DryRun, None),
        Some(_) => (ChangeStatus::Conflict, Some("its ETag changed since the plan".into())),
        None => (ChangeStatus::Conflict, Some("it no longer exists".into())),
    }
}

/// What a write's answer means for the change: a 412 whose value is what
/// the plan wrote is a retried write that landed (applied), else a lost
/// update avoided (conflict).
pub fn status_of_write(written: &Written, already_in_place: bool) -> Applied {
    match written {
        Written::Conflict if already_in_place => (ChangeStatus::Applied, Some("already applied".into())),
        Written::Conflict => (ChangeStatus::Conflict, Some("it changed since the plan (412 on If-Match)".into())),
        Written::Accepted(_) => (
            ChangeStatus::Accepted,
            Some("written; stopped waiting for it to take effect (it goes on in Azure)".into()),
        ),
        Written::Done(_) => (ChangeStatus::Applied, None),
    }
}

/// One change. A change made elsewhere since the plan is a conflict: the
/// write carries the plan's ETag in If-Match, and a secret is written only
/// while its ETag is still the plan's.
/// `earlier`: the ETag an earlier run of this plan wrote, if one did.
/// Also returns the ETag this run's write produced.
pub async fn apply_one(arm: &ArmClient, c: &ChangeDoc, dry_run: bool, earlier: Option<&str>) -> Result<(Applied, Option<String>)> {
    let mut written = None;
    let applied = apply_change(arm, c, dry_run, earlier, &mut written).await?;
    Ok((applied, written))
}

async fn apply_change(
    arm: &ArmClient,
    c: &ChangeDoc,
    dry_run: bool,
    earlier: Option<&str>,
    produced: &mut Option<String>,
) -> Result<Applied> {
    if arm.stop().fired() {
        return Ok((
            ChangeStatus::NotApplied,
            Some("stopped (timeout or interrupt) before this change was written".into()),
        ));
    }
    let mut write = NamedValueWrite::default();
    if c.secret && c.after.key_vault.is_none() {
        // Re-derive the new value from the current one; it never left this process.
        let (value, etag) = match apim_ops::secret_value(arm, &c.service_id, &c.name).await {
            Ok(v) => v,
            Err(OpsError::Arm(e)) if e.status() == Some(404) => return conflict("it no longer exists"),
            Err(e) => return Err(e.into()),
        };
        if etag != c.etag && earlier == Some(etag.as_str()) {
            return Ok((
                ChangeStatus::Applied,
                Some("already applied (by an earlier run of this plan)".into()),
            ));
        }
        if etag != c.etag {
            // A plan holds nothing of a secret's value, so whether this is
            // the plan's own earlier run cannot be proven: a hint, and still
            // a conflict (a plan moved to another service looks alike).
            let rules = rule_set(c)?;
            let now = NamedValue {
                name: c.name.clone(),
                value: Some(value),
                tags: Vec::new(),
                key_vault: None,
            };
            if c.rules.iter().all(|r| r.tags.is_empty()) && rules.rewrite(&now).is_none() {
                return conflict(
                    "its secret value changed since the plan, and the rules find nothing left to change in it (already applied by an earlier run?)",
                );
            }
            return conflict("its secret value changed since the plan");
        }
        let rules = rule_set(c)?;
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
            Some(v) => write.value = Some(v),
            None => return conflict("re-applying the rules no longer changes it"),
        }
    } else {
        write.value = c.after.value.clone();
    }
    write.key_vault = c.after.key_vault.as_ref().map(Into::into);
    if dry_run {
        let now = apim_ops::get_named_value(arm, &c.service_id, &c.name).await?.map(|(_, e)| e);
        return Ok(dry_run_status(now.as_deref(), &c.etag));
    }
    let written = match apim_ops::patch_named_value(arm, &c.service_id, &c.name, write.to_value(), &c.etag).await {
        Err(OpsError::Arm(e)) if e.status() == Some(404) => return conflict("it no longer exists"),
        other => other.map_err(context(format!("writing '{}'", c.name)))?,
    };
    // A write whose answer was lost and sent again meets its own new
    // ETag: if what is there now is what the plan wrote, it is applied.
    if let Written::Done(e) | Written::Accepted(e) = &written {
        *produced = Some(e.clone());
    }
    let in_place = matches!(written, Written::Conflict) && already_in_place(arm, c, &write).await?;
    let status = status_of_write(&written, in_place);
    if matches!(written, Written::Done(_)) && c.after.key_vault.is_some() {
        let refreshed = apim_ops::refresh_secret(arm, &c.service_id, &c.name).await?;
        let code = refreshed
            .pointer("/properties/keyVault/lastStatus/code")
            .and_then(Value::as_str)
            .unwrap_or("unknown");
        return Ok((ChangeStatus::Applied, Some(format!("Key Vault secret refreshed: {code}"))));
    }
    Ok(status)
}

/// The rules a change carries, to re-derive a secret's value.
fn rule_set(c: &ChangeDoc) -> Result<RuleSet> {
    Ok(RuleSet::new(
        c.rules
            .iter()
            .map(Rule::from_spec)
            .collect::<std::result::Result<_, _>>()
            .map_err(|e| Error::BadInput(e.to_string()))?,
    ))
}

/// Whether the named value now holds what `planned` writes; a secret is
/// compared here, in the process.
async fn already_in_place(arm: &ArmClient, c: &ChangeDoc, planned: &NamedValueWrite) -> Result<bool> {
    let Some((body, _)) = apim_ops::get_named_value(arm, &c.service_id, &c.name).await? else {
        return Ok(false);
    };
    if let Some(v) = &planned.value {
        let now = if c.secret {
            Some(apim_ops::secret_value(arm, &c.service_id, &c.name).await?.0)
        } else {
            body.pointer("/properties/value").and_then(Value::as_str).map(str::to_string)
        };
        if now.as_ref() != Some(v) {
            return Ok(false);
        }
    }
    if let Some(kv) = &planned.key_vault {
        let now = body.pointer("/properties/keyVault").cloned().unwrap_or(Value::Null);
        if now.get("secretIdentifier").and_then(Value::as_str) != Some(kv.secret_identifier.as_str())
            || now.get("identityClientId").and_then(Value::as_str) != kv.identity_client_id.as_deref()
        {
            return Ok(false);
        }
    }
    Ok(true)
}

/// What an imported document must hold before anything is sent: a value
/// (or a Key Vault reference) APIM would store.
pub fn check_importable(d: &NamedValueDoc) -> Result<()> {
    let name = &d.name;
    let bad = |m: String| Err(Error::BadInput(m));
    match (&d.value, &d.key_vault) {
        (None, None) if d.secret => bad(format!(
            "stdin: secret '{name}' has no value (list it with --reveal-secrets, or write the value into the document)"
        )),
        (None, None) => bad(format!("stdin: '{name}' has no value")),
        (Some(v), _) if v.chars().count() > namedvalue_rewrite::MAX_VALUE_CHARS => bad(format!(
            "stdin: the value of '{name}' is longer than the {} characters APIM stores",
            namedvalue_rewrite::MAX_VALUE_CHARS
        )),
        (Some(v), _) if v.trim().is_empty() => bad(format!("stdin: the value of '{name}' is empty")),
        _ => Ok(()),
    }
}

/// Whether the named value `now` (ARM's body) is what `d` asks for: the
/// same display name, secret flag, tags, Key Vault reference and value (a
/// secret's compared here, in the process).
async fn holds(arm: &ArmClient, d: &NamedValueDoc, body: &Value) -> Result<bool> {
    let now = NamedValueDoc::from_arm(&d.service_id, body, None);
    let sorted = |t: &[String]| {
        let mut t = t.to_vec();
        t.sort();
        t
    };
    if now.display_name != d.display_name
        || now.secret != d.secret
        || sorted(&now.tags) != sorted(&d.tags)
        || !apim_documents::KeyVaultDoc::same_reference(now.key_vault.as_ref(), d.key_vault.as_ref())
    {
        return Ok(false);
    }
    if d.key_vault.is_some() {
        return Ok(true);
    }
    let value = if now.secret {
        Some(apim_ops::secret_value(arm, &d.service_id, &d.name).await?.0)
    } else {
        now.value
    };
    Ok(value == d.value)
}

/// What an import finds for one document before it writes anything.
enum Found {
    /// Nothing of that name or display name: create it.
    Missing,
    /// There already, as the document says (an earlier, partly failed run): done.
    InPlace,
    /// Something else holds the name or the display name: left alone.
    Other(String),
}

/// Creates the named values `docs` describe. Every name and display name
/// is checked first: if something else holds one, nothing is written
/// (exit 3); one already there as described counts as imported, so a
/// re-run of a partly failed import finishes it. Each create carries
/// If-None-Match, and one that meets its own result (a lost answer, sent
/// again) counts as done. Each imported one is handed to `created` (a
/// secret's value as null).
pub async fn import(
    arm: &ArmClient,
    docs: Vec<NamedValueDoc>,
    mut created: impl FnMut(&NamedValueDoc) -> std::io::Result<()>,
) -> std::result::Result<(), ApplyError> {
    let fail = |e: Error| ApplyError::Apply(e);
    let mut listed: std::collections::HashMap<String, Vec<Value>> = std::collections::HashMap::new();
    let mut found = Vec::with_capacity(docs.len());
    for d in &docs {
        let key = d.service_id.to_string().to_ascii_lowercase();
        if !listed.contains_key(&key) {
            let all = apim_ops::list_named_values(arm, &d.service_id, None)
                .await
                .map_err(|e| fail(e.into()))?;
            listed.insert(key.clone(), all);
        }
        let same_name = |b: &&Value| {
            b.get("name")
                .and_then(Value::as_str)
                .is_some_and(|n| n.eq_ignore_ascii_case(&d.name))
        };
        let same_display = |b: &&Value| b.pointer("/properties/displayName").and_then(Value::as_str) == Some(d.display_name.as_str());
        let existing = &listed[&key];
        found.push(match existing.iter().find(same_name) {
            Some(b) if holds(arm, d, b).await.map_err(fail)? => Found::InPlace,
            Some(_) => Found::Other(d.name.clone()),
            None => match existing.iter().find(same_display) {
                Some(_) => Found::Other(format!("{} (its display name '{}' is taken)", d.name, d.display_name)),
                None => Found::Missing,
            },
        });
    }
    let others: Vec<&str> = found
        .iter()
        .filter_map(|f| match f {
            Found::Other(n) => Some(n.as_str()),
            _ => None,
        })
        .collect();
    if !others.is_empty() {
        return Err(fail(Error::Refused(format!(
            "{} named value(s) exist already with other values and were left alone: {}; nothing was imported; change them with rewrite and apply",
            others.len(),
            others.join(", ")
        ))));
    }
    let mut existed = Vec::new();
    for (d, f) in docs.into_iter().zip(found) {
        let etag = match f {
            Found::InPlace => apim_ops::get_named_value(arm, &d.service_id, &d.name)
                .await
                .map_err(|e| fail(e.into()))?
                .map(|(_, e)| e),
            _ => match apim_ops::create_named_value(arm, &d.service_id, &d.name, NamedValueWrite::create(&d).to_value())
                .await
                .map_err(|e| fail(context(format!("creating '{}'", d.name))(e)))?
            {
                Written::Done(etag) | Written::Accepted(etag) => Some(etag),
                Written::Conflict => match apim_ops::get_named_value(arm, &d.service_id, &d.name)
                    .await
                    .map_err(|e| fail(e.into()))?
                {
                    Some((body, etag)) if holds(arm, &d, &body).await.map_err(fail)? => Some(etag),
                    _ => {
                        existed.push(d.name.clone());
                        continue;
                    }
                },
            },
        };
        created(&NamedValueDoc {
            value: if d.secret { None } else { d.value.clone() },
            etag,
            ..d
        })
        .map_err(ApplyError::Output)?;
    }
    if !existed.is_empty() {
        return Err(fail(Error::Refused(format!(
            "{} named value(s) appeared meanwhile with other values and were left alone: {}; change them with rewrite and apply",
            existed.len(),
            existed.join(", ")
        ))));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use apim_documents::{Classify, Failure};

    #[test]
    fn a_write_that_meets_a_newer_value_is_a_conflict_never_an_overwrite() {
        assert_eq!(status_of_write(&Written::Conflict, false).0, ChangeStatus::Conflict);
        assert_eq!(
            status_of_write(&Written::Conflict, true),
            (ChangeStatus::Applied, Some("already applied".into())),
            "a retried write that met its own result"
        );
        assert_eq!(status_of_write(&Written::Done("e2".into()), false), (ChangeStatus::Applied, None));
        assert_eq!(status_of_write(&Written::Accepted("e2".into()), false).0, ChangeStatus::Accepted);
    }

    #[test]
    fn a_dry_run_checks_the_plans_etag() {
        assert_eq!(dry_run_status(Some("e1"), "e1"), (ChangeStatus::DryRun, None));
        assert_eq!(dry_run_status(Some("e2"), "e1").0, ChangeStatus::Conflict);
        assert_eq!(dry_run_status(None, "e1").1.as_deref(), Some("it no longer exists"));
    }

    #[test]
    fn failures_outrank_stops_which_outrank_conflicts() {
        let mut t = Tally::default();
        t.count(ChangeStatus::Applied);
        assert!(t.verdict().is_ok());
        let mut t = Tally::default();
        t.count(ChangeStatus::Conflict);
        assert_eq!(t.verdict().unwrap_err().failure(), Failure::Azure);
        let mut t = Tally::default();
        t.count(ChangeStatus::Conflict);
        t.count(ChangeStatus::NotApplied);
        assert_eq!(t.verdict().unwrap_err().failure(), Failure::Stopped, "exit 4 tells to run again");
        let mut t = Tally::default();
        t.count(ChangeStatus::Accepted);
        t.errors.push("x: boom".into());
        assert!(t.verdict().unwrap_err().to_string().starts_with("1 change(s) failed"));
    }

    #[test]
    fn an_import_needs_a_value_apim_stores() {
        let d = |value: Option<&str>, secret| NamedValueDoc {
            service_id: "/subscriptions/s/resourceGroups/g/providers/Microsoft.ApiManagement/service/x"
                .parse()
                .unwrap(),
            name: "n".into(),
            display_name: "n".into(),
            value: value.map(str::to_string),
            secret,
            tags: vec![],
            key_vault: None,
            etag: None,
        };
        assert!(check_importable(&d(Some("v"), false)).is_ok());
        assert!(check_importable(&d(None, true))
            .unwrap_err()
            .to_string()
            .contains("--reveal-secrets"));
        assert!(check_importable(&d(Some("  "), false)).is_err());
        let long = "x".repeat(namedvalue_rewrite::MAX_VALUE_CHARS + 1);
        assert_eq!(check_importable(&d(Some(&long), false)).unwrap_err().failure(), Failure::BadInput);
    }
}
