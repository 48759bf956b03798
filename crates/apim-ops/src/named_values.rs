//! Named values: list (all pages), get, listValue, patch with If-Match, refreshSecret.

use crate::service::API_VERSION;
use crate::OpsError;
use arm_client::{ArmClient, Method, ResourceId};
use serde_json::{json, Value};

/// The URL of one named value. A name that is not one APIM accepts (`..`,
/// `a/b`) is refused before it can become a path to something else.
fn nv_url(arm: &ArmClient, service: &ResourceId, name: &str, suffix: &str) -> Result<url::Url, OpsError> {
    if !apim_rules::is_valid_named_value_name(name) {
        return Err(OpsError::Invalid(format!("'{name}' is not a named value name")));
    }
    Ok(arm.url(&format!("{}{suffix}", service.child("namedValues", name)), API_VERSION))
}

/// Every named value of the service (following nextLink), optionally filtered with an OData `$filter`.
pub async fn list_named_values(arm: &ArmClient, service: &ResourceId, filter: Option<&str>) -> Result<Vec<Value>, OpsError> {
    let mut url = arm.url(&format!("{service}/namedValues"), API_VERSION);
    if let Some(f) = filter {
        url.query_pairs_mut().append_pair("$filter", f);
    }
    Ok(arm.list(url).await?)
}

/// One named value and its ETag; `None` when it does not exist.
pub async fn get_named_value(arm: &ArmClient, service: &ResourceId, name: &str) -> Result<Option<(Value, String)>, OpsError> {
    let r = arm.send(Method::GET, nv_url(arm, service, name, "")?, None, &[]).await?;
    if r.status == 404 {
        return Ok(None);
    }
    let r = r.success()?;
    let etag = r.header("etag").unwrap_or_default().to_string();
    Ok(Some((r.json()?, etag)))
}

/// A secret's value and the ETag it was read at.
pub async fn secret_value(arm: &ArmClient, service: &ResourceId, name: &str) -> Result<(String, String), OpsError> {
    let r = arm.post_read(nv_url(arm, service, name, "/listValue")?).await?.success()?;
    let etag = r.header("etag").unwrap_or_default().to_string();
    let v: Value = r.json()?;
    Ok((v.get("value").and_then(Value::as_str).unwrap_or_default().to_string(), etag))
}

/// The outcome of a conditional write.
#[derive(Debug)]
pub enum Written {
    /// Written; the new ETag.
    Done(String),
    /// Someone changed it since `etag` was read (412).
    Conflict,
    /// ARM accepted the write (its new ETag), and waiting for it to take
    /// effect was stopped (timeout, Ctrl-C): it goes on in Azure.
    Accepted(String),
}

/// PATCH `properties` with If-Match; a 412 is a conflict, not an error.
pub async fn patch_named_value(
    arm: &ArmClient,
    service: &ResourceId,
    name: &str,
    properties: Value,
    etag: &str,
) -> Result<Written, OpsError> {
    nv_url(arm, service, name, "")?;
    let body = json!({"properties": properties});
    crate::entities::write_entity(
        arm,
        service,
        &format!("namedValues/{name}"),
        Method::PATCH,
        Some(&body),
        ("if-match", etag),
    )
    .await
}

/// Creates a named value with If-None-Match: * (never overwriting one that
/// exists: that is `Written::Conflict`), and waits until it is in effect.
pub async fn create_named_value(arm: &ArmClient, service: &ResourceId, name: &str, properties: Value) -> Result<Written, OpsError> {
    nv_url(arm, service, name, "")?;
    let body = json!({"properties": properties});
    crate::put_entity(
        arm,
        service,
        &format!("namedValues/{name}"),
        Some(&body),
        crate::Precondition::Absent,
    )
    .await
}

/// Asks APIM to read a Key Vault secret again; returns the entity (with `lastStatus`).
///
/// Azure may answer 202 with where to poll (the spec's example does): the
/// refresh is waited for to its end, and the named value then read, so the
/// answer is always the named value with its new `lastStatus`.
pub async fn refresh_secret(arm: &ArmClient, service: &ResourceId, name: &str) -> Result<Value, OpsError> {
    let r = arm
        .send(Method::POST, nv_url(arm, service, name, "/refreshSecret")?, None, &[])
        .await?
        .success()?;
    if let Some(op) = arm.operation(&r, &nv_url(arm, service, name, "")?, arm_client::FinalStateVia::Location) {
        match arm.wait_until_done(op).await {
            Ok(()) | Err(arm_client::WaitError::Stopped(_)) => {}
            Err(arm_client::WaitError::Failed(e)) => return Err(OpsError::Arm(e)),
        }
    } else if r.status == 200 && !r.body.is_empty() {
        return Ok(r.json()?);
    }
    Ok(get_named_value(arm, service, name).await?.map(|(b, _)| b).unwrap_or(Value::Null))
}
