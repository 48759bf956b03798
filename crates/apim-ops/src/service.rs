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

/// The settings of a service that `apim-provision` manages.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceSpec {
    pub location: String,
    pub sku_name: String,
    pub capacity: i64,
    pub publisher_email: String,
    pub publisher_name: String,
    pub tags: BTreeMap<String, String>,
}

impl ServiceSpec {
    pub fn new(location: &str, sku: &str, capacity: i64, email: &str, name: &str) -> Self {
        ServiceSpec {
            location: location.into(),
            sku_name: sku.into(),
            capacity,
            publisher_email: email.into(),
            publisher_name: name.into(),
            tags: BTreeMap::new(),
        }
    }

    /// The PUT body.
    pub fn body(&self) -> Value {
        json!({
            "location": self.location,
            "sku": {"name": self.sku_name, "capacity": self.capacity},
            "properties": {"publisherEmail": self.publisher_email, "publisherName": self.publisher_name},
            "tags": self.tags,
        })
    }

    /// Which managed settings of an existing service differ from this spec.
    /// Tags the service has beyond ours are left alone (someone else's).
    pub fn differences(&self, existing: &Value) -> Vec<String> {
        let s = |p: &str| existing.pointer(p).and_then(Value::as_str).unwrap_or("");
        let mut out = Vec::new();
        if normalize_location(s("/location")) != normalize_location(&self.location) {
            out.push(format!("location {} -> {}", s("/location"), self.location));
        }
        if !s("/sku/name").eq_ignore_ascii_case(&self.sku_name) {
            out.push(format!("sku {} -> {}", s("/sku/name"), self.sku_name));
        }
        let cap = existing.pointer("/sku/capacity").and_then(Value::as_i64).unwrap_or(-1);
        if cap != self.capacity {
            out.push(format!("capacity {cap} -> {}", self.capacity));
        }
        if s("/properties/publisherEmail") != self.publisher_email {
            out.push("publisherEmail".into());
        }
        if s("/properties/publisherName") != self.publisher_name {
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

    /// The spec with the service's own tags kept, so an update does not drop them.
    fn merged_body(&self, existing: &Value) -> Value {
        let mut body = self.body();
        let mut tags: Map<String, Value> = existing.get("tags").and_then(Value::as_object).cloned().unwrap_or_default();
        for (k, v) in &self.tags {
            tags.insert(k.clone(), json!(v));
        }
        body["tags"] = Value::Object(tags);
        // A PUT replaces the resource: keep the identity we do not manage.
        if let Some(identity) = existing.get("identity").filter(|i| !i.is_null()) {
            body["identity"] = identity.clone();
        }
        body
    }
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

/// Creates the service, updates it where `spec` differs, or returns it
/// untouched when it already matches. Never writes without a reason.
pub async fn create_service(arm: &ArmClient, id: &ResourceId, spec: &ServiceSpec, policy: SoftDeletePolicy) -> Result<Started, OpsError> {
    let url = arm.url(&id.to_string(), API_VERSION);
    let name = id.name().unwrap_or_default().to_string();
    if let Some(existing) = arm.get(url.clone()).await? {
        let state = arm_client::lro::provisioning_state(&existing);
        let busy = !arm_client::lro::is_terminal(state);
        let diffs = spec.differences(&existing);
        if diffs.is_empty() && !busy {
            return Ok(Progress::Done(existing));
        }
        if diffs.is_empty() {
            // Already on its way (e.g. a create started by an earlier run): follow it.
            return Ok(Progress::Pending(PendingOperation::on_resource(url.as_str())));
        }
        return put(arm, &url, &spec.merged_body(&existing)).await;
    }
    let mut body = spec.body();
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
    fn updates_keep_foreign_tags() {
        let mut spec = ServiceSpec::new("westeurope", "Developer", 1, "ops@example.com", "Example Ops");
        spec.tags.insert("env".into(), "prod".into());
        let b = spec.merged_body(&existing());
        assert_eq!(b["tags"], json!({"owner": "team-a", "env": "prod"}));
    }
}
