use crate::OpsError;
use arm_client::groups::normalize_location;
use arm_client::{ArmClient, FinalStateVia, Method, PendingOperation, Progress, ResourceId};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

pub const API_VERSION: &str = "2024-05-01";
pub const NAMESPACE: &str = "Microsoft.ApiManagement";

pub fn service_id(subscription: &str, group: &str, name: &str) -> ResourceId {
    ResourceId::resource(subscription, group, NAMESPACE, "service", name)
}

/// The settings of a service that `apim-provision` manages. `None` means
/// "not asked for": on a new service the default (Developer, capacity 1),
/// on an existing one what it has now. Only settings asked for can change
/// an existing service.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ServiceSpec {
    pub location: String,
    pub sku_name: Option<String>,
    pub capacity: Option<i64>,
    pub publisher_email: Option<String>,
    pub publisher_name: Option<String>,
    pub tags: BTreeMap<String, String>,
}

impl ServiceSpec {
    /// A spec with every setting given.
    pub fn new(location: &str, sku: &str, capacity: i64, email: &str, name: &str) -> Self {
        ServiceSpec {
            location: location.into(),
            sku_name: Some(sku.into()),
            capacity: Some(capacity),
            publisher_email: Some(email.into()),
            publisher_name: Some(name.into()),
            tags: BTreeMap::new(),
        }
    }

    /// The PUT body that creates the service.
    pub fn body(&self) -> Result<Value, OpsError> {
        let sku = self.sku_name.clone().unwrap_or_else(|| "Developer".into());
        let capacity = self.capacity.unwrap_or(if sku.eq_ignore_ascii_case("Consumption") { 0 } else { 1 });
        let need = |v: &Option<String>, what: &'static str| v.clone().ok_or(OpsError::Missing(what));
        Ok(json!({
            "location": self.location,
            "sku": {"name": sku, "capacity": capacity},
            "properties": {"publisherEmail": need(&self.publisher_email, "publisher email")?,
                "publisherName": need(&self.publisher_name, "publisher name")?},
            "tags": self.tags,
        }))
    }

    /// Which settings asked for differ from the existing service's. Tags
    /// the service has beyond ours are left alone (someone else's).
    pub fn differences(&self, existing: &Value) -> Vec<String> {
        let s = |p: &str| existing.pointer(p).and_then(Value::as_str).unwrap_or("");
        let mut out = Vec::new();
        if normalize_location(s("/location")) != normalize_location(&self.location) {
            out.push(format!("location {} -> {}", s("/location"), self.location));
        }
        if let Some(sku) = &self.sku_name {
            if !s("/sku/name").eq_ignore_ascii_case(sku) {
                out.push(format!("sku {} -> {sku}", s("/sku/name")));
            }
        }
        let cap = existing.pointer("/sku/capacity").and_then(Value::as_i64).unwrap_or(-1);
        if let Some(c) = self.capacity.filter(|c| *c != cap) {
            out.push(format!("capacity {cap} -> {c}"));
        }
        if self
            .publisher_email
            .as_deref()
            .is_some_and(|e| e != s("/properties/publisherEmail"))
        {
            out.push("publisherEmail".into());
        }
        if self.publisher_name.as_deref().is_some_and(|n| n != s("/properties/publisherName")) {
            out.push("publisherName".into());
        }
        let tags = existing.get("tags").and_then(Value::as_object).cloned().unwrap_or_default();
        for (k, v) in &self.tags {
            if tags.get(k).and_then(Value::as_str) != Some(v) {
                out.push(format!("tag {k}"));
            }
        }
        out
    }

    /// Changes that take capacity away: a lower SKU, fewer units.
    pub fn downgrades(&self, existing: &Value) -> Vec<String> {
        let mut out = Vec::new();
        let now_sku = existing.pointer("/sku/name").and_then(Value::as_str).unwrap_or("");
        if let Some(sku) = &self.sku_name {
            if apim_rules::sku_rank(sku) < apim_rules::sku_rank(now_sku) {
                out.push(format!("sku {now_sku} -> {sku} is a downgrade"));
            }
        }
        let cap = existing.pointer("/sku/capacity").and_then(Value::as_i64).unwrap_or(0);
        if let Some(c) = self.capacity.filter(|c| *c < cap) {
            out.push(format!("capacity {cap} -> {c} removes units"));
        }
        out
    }

    /// The update's PUT body: the settings asked for over the service's own,
    /// its own tags and identity kept.
    fn merged_body(&self, existing: &Value) -> Value {
        let s = |p: &str| existing.pointer(p).cloned().unwrap_or(Value::Null);
        let mut tags: Map<String, Value> = existing.get("tags").and_then(Value::as_object).cloned().unwrap_or_default();
        for (k, v) in &self.tags {
            tags.insert(k.clone(), json!(v));
        }
        let mut body = json!({
            "location": self.location,
            "sku": {"name": self.sku_name.clone().map(Value::from).unwrap_or_else(|| s("/sku/name")),
                "capacity": self.capacity.map(Value::from).unwrap_or_else(|| s("/sku/capacity"))},
            "properties": {
                "publisherEmail": self.publisher_email.clone().map(Value::from).unwrap_or_else(|| s("/properties/publisherEmail")),
                "publisherName": self.publisher_name.clone().map(Value::from).unwrap_or_else(|| s("/properties/publisherName")),
            },
            "tags": tags,
        });
        // A PUT replaces the resource: keep the identity we do not manage.
        if let Some(identity) = existing.get("identity").filter(|i| !i.is_null()) {
            body["identity"] = identity.clone();
        }
        body
    }
}

/// What may happen to a service that exists already.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ExistingPolicy {
    /// Return it as it is, whatever the spec asks (the default: provisioning
    /// never changes what exists by accident).
    #[default]
    Keep,
    /// Change what the spec asks for; a downgrade only if allowed too.
    Update { allow_downgrade: bool },
}

/// What to do about a name held by a soft-deleted service.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum SoftDeletePolicy {
    /// Fail, naming --recover and --purge.
    #[default]
    Refuse,
    /// Undelete it (PUT with `restore: true`).
    Recover,
    /// Purge it, then create anew.
    Purge,
}

/// What [`create_service`] did: `Done` with the service when it exists
/// with these settings and is not busy (nothing was written), `Pending`
/// while a create, update or recovery runs (ours or one already under way).
pub type Started = Progress<Value>;

pub async fn get_service(arm: &ArmClient, id: &ResourceId) -> Result<Option<Value>, OpsError> {
    Ok(arm.get(arm.url(&id.to_string(), API_VERSION)).await?)
}

pub async fn list_services(arm: &ArmClient, subscription: &str, group: Option<&str>) -> Result<Vec<Value>, OpsError> {
    let scope = match group {
        Some(g) => ResourceId::resource_group(subscription, g).to_string(),
        None => ResourceId::subscription(subscription).to_string(),
    };
    Ok(arm
        .list(arm.url(&format!("{scope}/providers/{NAMESPACE}/service"), API_VERSION))
        .await?)
}

/// A soft-deleted service holding `name` in this subscription, if any.
pub async fn deleted_service(arm: &ArmClient, subscription: &str, name: &str) -> Result<Option<Value>, OpsError> {
    let url = arm.url(
        &format!("/subscriptions/{subscription}/providers/{NAMESPACE}/deletedservices"),
        API_VERSION,
    );
    let all = arm.list(url).await?;
    Ok(all
        .into_iter()
        .find(|d| d.get("name").and_then(Value::as_str).is_some_and(|n| n.eq_ignore_ascii_case(name))))
}

/// Purges a soft-deleted service for good.
pub async fn purge_deleted(arm: &ArmClient, subscription: &str, location: &str, name: &str) -> Result<(), OpsError> {
    let path = format!(
        "/subscriptions/{subscription}/providers/{NAMESPACE}/locations/{}/deletedservices/{name}",
        normalize_location(location)
    );
    let r = arm.send(Method::DELETE, arm.url(&path, API_VERSION), None, &[]).await?.success()?;
    if let Some(op) = arm.operation(&r, &arm.url(&path, API_VERSION), FinalStateVia::Location) {
        arm.wait(op, |_| {}).await.map_err(|e| match e {
            arm_client::WaitError::Failed(e) => OpsError::Arm(e),
            arm_client::WaitError::Stopped(_) => OpsError::Invalid("purge stopped".into()),
        })?;
    }
    Ok(())
}

/// What to do with a service that exists already.
#[derive(Debug, Clone, PartialEq)]
pub enum Existing {
    /// Leave it as it is and return it.
    Keep,
    /// An operation already runs on it: follow that.
    Follow,
    /// Write this body (an update that was asked for).
    Update(Value),
}

/// The rules for a service that exists: never change it unasked (without
/// [`ExistingPolicy::Update`], whatever the spec says), never downgrade its
/// SKU or units unless that is allowed too, and follow an operation that
/// already runs on it rather than write over it. Pure.
pub fn plan_existing(name: &str, spec: &ServiceSpec, existing: &Value, policy: ExistingPolicy) -> Result<Existing, OpsError> {
    let busy = !arm_client::lro::is_terminal(arm_client::lro::provisioning_state(existing));
    if let ExistingPolicy::Update { allow_downgrade } = policy {
        if !spec.differences(existing).is_empty() {
            let downgrades = spec.downgrades(existing);
            if !downgrades.is_empty() && !allow_downgrade {
                return Err(OpsError::Downgrade {
                    name: name.to_string(),
                    changes: downgrades,
                });
            }
            return Ok(Existing::Update(spec.merged_body(existing)));
        }
    }
    Ok(if busy { Existing::Follow } else { Existing::Keep })
}

/// Creates the service, or returns it as it is when it exists, unless
/// `existing` allows an update and `spec` asks for a change. Never writes
/// without a reason.
///
/// `seen` receives, for an existing service, the differences between it and
/// the spec: applied with an update, left alone otherwise.
pub async fn create_service(
    arm: &ArmClient,
    id: &ResourceId,
    spec: &ServiceSpec,
    (policy, existing_policy): (SoftDeletePolicy, ExistingPolicy),
    seen: &mut Vec<String>,
) -> Result<Started, OpsError> {
    let url = arm.url(&id.to_string(), API_VERSION);
    let name = id.name().unwrap_or_default().to_string();
    if let Some(existing) = arm.get(url.clone()).await? {
        seen.clone_from(&spec.differences(&existing));
        return match plan_existing(&name, spec, &existing, existing_policy)? {
            Existing::Update(body) => put(arm, &url, &body).await,
            // Already on its way (e.g. a create started by an earlier run): follow it.
            Existing::Follow => Ok(Progress::Pending(PendingOperation::on_resource(url.as_str()))),
            Existing::Keep => Ok(Progress::Done(existing)),
        };
    }
    let mut body = spec.body()?;
    match policy {
        SoftDeletePolicy::Recover => {
            body["properties"]["restore"] = json!(true);
        }
        SoftDeletePolicy::Purge => {
            if let Some(d) = deleted_service(arm, id.subscription_id(), &name).await? {
                let loc = d.get("location").and_then(Value::as_str).unwrap_or(&spec.location).to_string();
                purge_deleted(arm, id.subscription_id(), &loc, &name).await?;
            }
        }
        SoftDeletePolicy::Refuse => {}
    }
    match put(arm, &url, &body).await {
        Err(OpsError::Arm(arm_client::Error::Arm(e))) if e.code == "ServiceAlreadyExistsInSoftDeletedState" => {
            Err(OpsError::SoftDeleted { name, arm: e })
        }
        other => other,
    }
}

async fn put(arm: &ArmClient, url: &url::Url, body: &Value) -> Result<Started, OpsError> {
    let r = arm.send(Method::PUT, url.clone(), Some(body), &[]).await?.success()?;
    match arm.operation(&r, url, FinalStateVia::OriginalUri) {
        Some(op) => Ok(Progress::Pending(op)),
        None => Ok(Progress::Done(r.json()?)),
    }
}

/// Starts deleting the service; `None` when it did not exist.
pub async fn delete_service(arm: &ArmClient, id: &ResourceId) -> Result<Option<PendingOperation>, OpsError> {
    let url = arm.url(&id.to_string(), API_VERSION);
    let r = arm.send(Method::DELETE, url.clone(), None, &[]).await?.success()?;
    if r.status == 204 {
        return Ok(None);
    }
    Ok(arm.operation(&r, &url, FinalStateVia::Location))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn existing() -> Value {
        json!({"location": "West Europe", "sku": {"name": "Developer", "capacity": 1}, "tags": {"owner": "team-a"},
            "properties": {"publisherEmail": "ops@example.com", "publisherName": "Example Ops", "provisioningState": "Succeeded"}})
    }

    fn service(sku: &str, capacity: i64, state: &str) -> Value {
        json!({"location": "westeurope", "sku": {"name": sku, "capacity": capacity},
               "properties": {"provisioningState": state, "publisherEmail": "a@b.c", "publisherName": "P"}})
    }

    #[test]
    fn what_exists_is_never_changed_unasked() {
        let spec = ServiceSpec::new("westeurope", "Premium", 2, "a@b.c", "P");
        let there = service("Developer", 1, "Succeeded");
        assert_eq!(plan_existing("s", &spec, &there, ExistingPolicy::Keep).unwrap(), Existing::Keep);
        let busy = service("Developer", 1, "Updating");
        assert_eq!(plan_existing("s", &spec, &busy, ExistingPolicy::Keep).unwrap(), Existing::Follow);
        let up = plan_existing("s", &spec, &there, ExistingPolicy::Update { allow_downgrade: false }).unwrap();
        let Existing::Update(body) = up else { panic!("{up:?}") };
        assert_eq!(body["sku"], json!({"name": "Premium", "capacity": 2}));
        let same = ServiceSpec::new("westeurope", "Developer", 1, "a@b.c", "P");
        assert_eq!(
            plan_existing("s", &same, &there, ExistingPolicy::Update { allow_downgrade: false }).unwrap(),
            Existing::Keep,
            "an update with nothing to change writes nothing"
        );
    }

    #[test]
    fn a_downgrade_needs_its_own_permission() {
        let spec = ServiceSpec::new("westeurope", "Developer", 1, "a@b.c", "P");
        let there = service("Premium", 2, "Succeeded");
        let e = plan_existing("s", &spec, &there, ExistingPolicy::Update { allow_downgrade: false }).unwrap_err();
        assert!(matches!(&e, OpsError::Downgrade { changes, .. } if !changes.is_empty()), "{e}");
        assert!(matches!(
            plan_existing("s", &spec, &there, ExistingPolicy::Update { allow_downgrade: true }).unwrap(),
            Existing::Update(_)
        ));
    }

    #[test]
    fn same_settings_mean_no_write() {
        let spec = ServiceSpec::new("westeurope", "developer", 1, "ops@example.com", "Example Ops");
        assert!(spec.differences(&existing()).is_empty());
    }

    #[test]
    fn differences_are_named() {
        let mut spec = ServiceSpec::new("westeurope", "Premium", 2, "ops@example.com", "Example Ops");
        spec.tags.insert("env".into(), "prod".into());
        let d = spec.differences(&existing());
        assert_eq!(d, vec!["sku Developer -> Premium", "capacity 1 -> 2", "tag env"]);
    }

    #[test]
    fn only_settings_asked_for_count() {
        let spec = ServiceSpec {
            location: "westeurope".into(),
            ..Default::default()
        };
        let premium = json!({"location": "West Europe", "sku": {"name": "Premium", "capacity": 2}, "properties": {"publisherEmail": "a@b.c", "publisherName": "X"}});
        assert!(spec.differences(&premium).is_empty(), "no --sku is no wish for Developer");
        let b = spec.merged_body(&premium);
        assert_eq!(b["sku"], json!({"name": "Premium", "capacity": 2}));
        let down = ServiceSpec {
            sku_name: Some("Developer".into()),
            capacity: Some(1),
            ..spec.clone()
        };
        assert_eq!(down.downgrades(&premium).len(), 2);
        assert!(matches!(spec.body(), Err(OpsError::Missing("publisher email"))));
    }

    #[test]
    fn updates_keep_foreign_tags() {
        let mut spec = ServiceSpec::new("westeurope", "Developer", 1, "ops@example.com", "Example Ops");
        spec.tags.insert("env".into(), "prod".into());
        let b = spec.merged_body(&existing());
        assert_eq!(b["tags"], json!({"owner": "team-a", "env": "prod"}));
    }
}
