//! Applying a plan: wave by wave, each wave's writes at once, each write
//! under its precondition. A 412 is looked at, not trusted: an entity
//! that already reads as the plan wants (a re-run after a kill) is
//! applied; anything else was changed by someone since the plan, and is
//! left alone.

use crate::plan::body_of;
use crate::{check_target, ops, same_instance, Error, Result};
use apim_documents::{one_line, ChangeStatus, SyncAction, SyncChangeDoc};
use apim_families::SecretRead;
use apim_ops::{Precondition, Written};
use arm_client::{ArmClient, ResourceId};
use futures::StreamExt;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// How to apply.
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    /// Deletes in the plan are made only with this (`--allow-deletes`).
    pub allow_deletes: bool,
    /// Writes in flight at once.
    pub parallel: usize,
    /// The service the plan must be for (`--target`), if given.
    pub target: Option<ResourceId>,
}

/// How the changes of a run ended, by status.
#[derive(Debug, Default, Clone)]
pub struct Tally {
    pub by_status: BTreeMap<String, usize>,
    pub failures: Vec<String>,
}

impl Tally {
    fn count(&mut self, c: &SyncChangeDoc) {
        let key = c
            .status
            .and_then(|s| serde_json::to_value(s).ok())
            .and_then(|v| v.as_str().map(str::to_string))
            .unwrap_or_default();
        *self.by_status.entry(key).or_default() += 1;
        if c.status == Some(ChangeStatus::Failed) {
            self.failures.push(format!("{}: {}", c.path, c.message.as_deref().unwrap_or("")));
        }
    }

    fn get(&self, k: &str) -> usize {
        self.by_status.get(k).copied().unwrap_or(0)
    }

    /// The counts as one line, e.g. `40 applied, 2 conflict`.
    pub fn line(&self) -> String {
        let parts: Vec<String> = self.by_status.iter().map(|(k, n)| format!("{n} {k}")).collect();
        parts.join(", ")
    }

    /// How the run ended: failures first, then what a stop left
    /// unwritten, then conflicts.
    pub fn verdict(&self) -> Result<()> {
        if !self.failures.is_empty() {
            return Err(Error::Incomplete(format!(
                "{} change(s) failed: {}",
                self.failures.len(),
                self.failures.join("; ")
            )));
        }
        let unfinished = self.get("not-applied") + self.get("accepted");
        if unfinished > 0 {
            return Err(Error::Stopped(format!(
                "stopped: {unfinished} change(s) not written or not yet in effect; plan and apply again to finish (what was written is not written twice)"
            )));
        }
        if self.get("conflict") > 0 {
            return Err(Error::Conflicts(format!(
                "{} entit(ies) changed since the plan and were left alone (status \"conflict\"); plan again",
                self.get("conflict")
            )));
        }
        Ok(())
    }
}

/// What a plan must be before anything of it is written: one target, one
/// source (not the target), and deletes only when allowed.
pub fn check_plan(changes: &[SyncChangeDoc], opts: &ApplyOptions) -> Result<()> {
    let Some(first) = changes.first() else { return Ok(()) };
    if let Some(t) = &opts.target {
        if let Some(c) = changes.iter().find(|c| !crate::same(&c.target_id, t)) {
            return Err(Error::BadInput(format!(
                "the plan is for {}, not for --target {}; plan again for this target",
                c.target_id.name().unwrap_or_default(),
                t.name().unwrap_or_default()
            )));
        }
    }
    if changes.iter().any(|c| !crate::same(&c.target_id, &first.target_id)) {
        return Err(Error::BadInput(
            "the plan names more than one target; apply one plan per target".into(),
        ));
    }
    let sources: Vec<&ResourceId> = changes.iter().filter_map(|c| c.source_id.as_ref()).collect();
    if let Some(s) = sources.first() {
        if sources.iter().any(|x| !crate::same(x, s)) {
            return Err(Error::BadInput(
                "the plan names more than one source; apply one plan at a time".into(),
            ));
        }
        same_instance(s, &first.target_id)?;
    }
    let deletes = changes.iter().filter(|c| c.action == SyncAction::Delete).count();
    if deletes > 0 && !opts.allow_deletes {
        return Err(Error::Refused(format!(
            "the plan deletes {deletes} entit(ies) of {}; nothing was written. Look at them (action \"delete\") and apply with --allow-deletes, or plan without --delete-extra",
            first.target_id.name().unwrap_or_default()
        )));
    }
    Ok(())
}

/// The Key Vault references the plan writes (named values, certificates),
/// each with the identity it reads with (`None`: the system identity).
pub fn key_vault_readers(changes: &[SyncChangeDoc]) -> Vec<(String, Option<String>)> {
    changes
        .iter()
        .filter(|c| c.action != SyncAction::Delete)
        .filter_map(|c| {
            let kv = c.after.as_ref()?.get("keyVault").filter(|k| k.is_object())?;
            let client = kv.get("identityClientId").and_then(Value::as_str).map(str::to_string);
            Some((c.path.clone(), client))
        })
        .collect()
}

/// Applies the plan in its order (each wave's changes `parallel` at once),
/// handing each change to `done` with its status as soon as it ends.
/// An error means nothing was written (a rail, bad input) or the output
/// failed; how the writes ended is the [`Tally`]'s [`Tally::verdict`].
pub async fn apply(
    arm: &ArmClient,
    mut changes: Vec<SyncChangeDoc>,
    opts: &ApplyOptions,
    mut done: impl FnMut(&SyncChangeDoc) -> std::io::Result<()>,
) -> Result<Tally> {
    check_plan(&changes, opts)?;
    let mut tally = Tally::default();
    let Some(first) = changes.first() else { return Ok(tally) };
    let target = check_target(arm, &first.target_id).await?;
    // A Key Vault reference written to the target reads with the target's
    // identity: one it lacks could read nothing after the copy.
    if let Some(missing) = namedvalue_workflow::missing_identities(&key_vault_readers(&changes), &target) {
        return Err(Error::Refused(format!("{missing}; nothing was written")));
    }
    changes.sort_by_key(|c| c.order);
    let mut rest = changes.into_iter().peekable();
    while let Some(head) = rest.next() {
        let order = head.order;
        let mut wave = vec![head];
        while let Some(c) = rest.next_if(|c| c.order == order) {
            wave.push(c);
        }
        let mut results = futures::stream::iter(wave.into_iter().map(|mut c| async move {
            let (status, message) = match apply_one(arm, &c).await {
                Ok(r) => r,
                Err(e) if arm.stop().fired() => (ChangeStatus::NotApplied, Some(one_line(&e))),
                Err(e) => (ChangeStatus::Failed, Some(one_line(&e))),
            };
            c.status = Some(status);
            c.message = message;
            c
        }))
        .buffer_unordered(opts.parallel.max(1));
        while let Some(c) = results.next().await {
            tally.count(&c);
            done(&c).map_err(Error::Output)?;
        }
    }
    Ok(tally)
}

type Applied = (ChangeStatus, Option<String>);

async fn apply_one(arm: &ArmClient, c: &SyncChangeDoc) -> Result<Applied> {
    if arm.stop().fired() {
        return Ok((
            ChangeStatus::NotApplied,
            Some("stopped (timeout or interrupt) before this change was written".into()),
        ));
    }
    let target = &c.target_id;
    if c.action == SyncAction::Delete {
        let written = apim_ops::delete_entity(arm, target, &c.target_path, c.etag.as_deref().unwrap_or("*"))
            .await
            .map_err(ops(&c.path))?;
        return Ok(match written {
            Written::Conflict => (ChangeStatus::Conflict, Some("it changed since the plan (412 on If-Match)".into())),
            _ => (ChangeStatus::Applied, None),
        });
    }
    let mut body = body_of(c);
    if !c.secrets.is_empty() {
        if let Some(refused) = copy_secrets(arm, c, body.as_mut()).await? {
            return Ok(refused);
        }
    }
    let pre = match (c.action, &c.etag) {
        (SyncAction::Update, Some(e)) => Precondition::Matches(e),
        _ => Precondition::Absent,
    };
    let written = apim_ops::put_entity(arm, target, &c.target_path, body.as_ref(), pre)
        .await
        .map_err(ops(&c.path))?;
    Ok(match written {
        Written::Done(_) => (ChangeStatus::Applied, None),
        Written::Accepted(_) => (
            ChangeStatus::Accepted,
            Some("written; stopped waiting for it to take effect (it goes on in Azure)".into()),
        ),
        Written::Conflict => {
            if reads_as_planned(arm, c).await? {
                (ChangeStatus::Applied, Some("already as planned".into()))
            } else {
                (
                    ChangeStatus::Conflict,
                    Some("the target changed since the plan (412); left alone".into()),
                )
            }
        }
    })
}

/// Reads the change's secrets from the source (if it is still as planned)
/// into the body, hosts rewritten. `Some(status)` when it is not.
async fn copy_secrets(arm: &ArmClient, c: &SyncChangeDoc, body: Option<&mut Value>) -> Result<Option<Applied>> {
    let (Some(source), Some(at), Some(body)) = (&c.source_id, &c.source_path, body) else {
        return Err(Error::BadInput(format!(
            "the change of {} copies secrets but names no source",
            c.path
        )));
    };
    let fam = apim_families::family_of(&c.path).ok_or_else(|| Error::BadInput(format!("'{}' is no family's path", c.path)))?;
    let list_value = fam.secrets.iter().any(|s| s.read == SecretRead::ListValue);
    let action = if list_value { "listValue" } else { "listSecrets" };
    let answer = match apim_ops::read_secrets(arm, source, at, action).await.map_err(ops(&c.path))? {
        None => return Ok(Some((ChangeStatus::Conflict, Some("it is gone from the source".into())))),
        Some((_, e)) if c.source_etag.as_ref().is_some_and(|planned| &e != planned) => {
            return Ok(Some((
                ChangeStatus::Conflict,
                Some("the source changed since the plan; plan again".into()),
            )))
        }
        Some((v, _)) => v,
    };
    for pointer in &c.secrets {
        let name = if list_value {
            "value"
        } else {
            pointer.rsplit('/').next().unwrap_or_default()
        };
        let Some(v) = answer.get(name).and_then(Value::as_str) else {
            continue;
        };
        let mut v = Value::String(v.to_string());
        namedvalue_rewrite::host::replace_in_json(&mut v, &c.hosts);
        set_at(&mut body["properties"], pointer, v);
    }
    Ok(None)
}

/// Sets the value a JSON pointer names, making objects on the way (a
/// value in the way that is not an object is replaced by one).
fn set_at(target: &mut Value, pointer: &str, v: Value) {
    let mut parts = pointer.trim_start_matches('/').split('/').peekable();
    let mut at = target;
    while let Some(p) = parts.next() {
        if !at.is_object() {
            *at = Value::Object(Map::new());
        }
        let Value::Object(m) = at else { return };
        if parts.peek().is_none() {
            m.insert(p.to_string(), v);
            return;
        }
        at = m.entry(p.to_string()).or_insert_with(|| Value::Object(Map::new()));
    }
}

/// Whether the target's entity already is what the change writes (its
/// own earlier write, or the same edit made by someone else).
async fn reads_as_planned(arm: &ArmClient, c: &SyncChangeDoc) -> Result<bool> {
    let Some((now, _)) = apim_ops::get_entity(arm, &c.target_id, &c.target_path)
        .await
        .map_err(ops(&c.path))?
    else {
        return Ok(false);
    };
    let Some(fam) = apim_families::family_of(&c.path) else {
        return Ok(false);
    };
    if fam.link {
        return Ok(true);
    }
    let names: BTreeMap<String, String> = c.refs.iter().map(|(n, id)| (id.to_ascii_lowercase(), n.clone())).collect();
    let props = now.get("properties").cloned().unwrap_or_default();
    let normal = apim_inventory::normalize_properties(&props, &c.target_id.to_string(), &names, fam);
    Ok(Some(&normal) == c.after.as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn change(action: SyncAction, target: &str, source: Option<&str>) -> SyncChangeDoc {
        let id = |n: &str| -> ResourceId {
            format!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/{n}")
                .parse()
                .unwrap()
        };
        SyncChangeDoc {
            source_id: source.map(id),
            target_id: id(target),
            path: "apis/a".into(),
            target_path: "apis/a".into(),
            source_path: source.map(|_| "apis/a".into()),
            action,
            order: 1,
            before: None,
            after: Some(json!({})),
            secrets: vec![],
            source_etag: None,
            etag: None,
            refs: BTreeMap::new(),
            hosts: vec![],
            status: None,
            message: None,
        }
    }

    #[test]
    fn a_plan_is_checked_whole_before_anything_is_written() {
        let ok = [change(SyncAction::Create, "dest", Some("src"))];
        assert!(check_plan(&ok, &ApplyOptions::default()).is_ok());
        let del = [
            change(SyncAction::Create, "dest", Some("src")),
            change(SyncAction::Delete, "dest", Some("src")),
        ];
        assert!(matches!(check_plan(&del, &ApplyOptions::default()), Err(Error::Refused(_))));
        let allow = ApplyOptions {
            allow_deletes: true,
            ..Default::default()
        };
        assert!(check_plan(&del, &allow).is_ok());
        let two = [change(SyncAction::Create, "dest", None), change(SyncAction::Create, "other", None)];
        assert!(matches!(check_plan(&two, &allow), Err(Error::BadInput(_))));
        let itself = [change(SyncAction::Create, "dest", Some("DEST"))];
        assert!(matches!(check_plan(&itself, &allow), Err(Error::Refused(_))));
        let other = ApplyOptions {
            target: Some(change(SyncAction::Create, "other", None).target_id),
            ..Default::default()
        };
        let e = check_plan(&ok, &other).unwrap_err().to_string();
        assert!(e.contains("not for --target other"), "{e}");
    }

    #[test]
    fn secrets_land_where_their_pointer_says() {
        let mut body = json!({"properties": {"displayName": "x"}});
        set_at(&mut body["properties"], "/value", json!("v"));
        set_at(&mut body["properties"], "/credentials/key", json!("k"));
        assert_eq!(
            body,
            json!({"properties": {"displayName": "x", "value": "v", "credentials": {"key": "k"}}})
        );
    }
}
