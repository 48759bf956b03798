//! Any entity of a service, by its path below the service
//! (`apis/echo/operations/get`): read with its ETag, written and deleted
//! under a precondition, its secrets listed. A 412 is an answer here, not
//! an error: the caller decides what a changed entity means.

use crate::named_values::Written;
use crate::service::API_VERSION;
use crate::OpsError;
use arm_client::{ArmClient, FinalStateVia, Method, ResourceId};
use serde_json::Value;

fn entity_url(arm: &ArmClient, service: &ResourceId, path: &str, suffix: &str) -> url::Url {
    arm.url(&format!("{service}/{path}{suffix}"), API_VERSION)
}

/// The entity and its ETag; `None` when it does not exist.
pub async fn get_entity(arm: &ArmClient, service: &ResourceId, path: &str) -> Result<Option<(Value, String)>, OpsError> {
    let r = arm.send(Method::GET, entity_url(arm, service, path, ""), None, &[]).await?;
    if r.status == 404 {
        return Ok(None);
    }
    let r = r.success()?;
    let etag = r.header("etag").unwrap_or_default().to_string();
    Ok(Some((r.json()?, etag)))
}

/// What must hold for a write to happen.
#[derive(Debug, Clone, Copy)]
pub enum Precondition<'a> {
    /// Nothing there yet (If-None-Match: *).
    Absent,
    /// The entity still has this ETag (If-Match).
    Matches(&'a str),
}

/// PUTs the entity under `pre`, and waits until a long-running write is
/// in effect. `body` is `None` for a link (a product's API), which has none.
pub async fn put_entity(
    arm: &ArmClient,
    service: &ResourceId,
    path: &str,
    body: Option<&Value>,
    pre: Precondition<'_>,
) -> Result<Written, OpsError> {
    let header = match pre {
        Precondition::Absent => ("if-none-match", "*"),
        Precondition::Matches(e) => ("if-match", e),
    };
    write_entity(arm, service, path, Method::PUT, body, header).await
}

/// One conditional write (PUT or PATCH): a 412 is `Conflict`; a
/// long-running write is waited for (`Accepted` when the wait was
/// stopped); the new ETag is read back when a 202 carried none.
pub(crate) async fn write_entity(
    arm: &ArmClient,
    service: &ResourceId,
    path: &str,
    method: Method,
    body: Option<&Value>,
    precondition: (&str, &str),
) -> Result<Written, OpsError> {
    let url = entity_url(arm, service, path, "");
    let r = arm.send(method, url.clone(), body, &[precondition]).await?;
    if r.status == 412 {
        return Ok(Written::Conflict);
    }
    let r = r.success()?;
    let mut etag = r.header("etag").unwrap_or_default().to_string();
    if let Some(op) = arm.operation(&r, &url, FinalStateVia::Location) {
        match arm.wait_until_done(op).await {
            Ok(()) => {}
            Err(arm_client::WaitError::Failed(e)) => return Err(OpsError::Arm(e)),
            Err(arm_client::WaitError::Stopped(_)) => return Ok(Written::Accepted(etag)),
        }
    }
    // A 202 carries no ETag: the entity, once written, has it.
    if etag.is_empty() {
        etag = get_entity(arm, service, path).await?.map(|(_, e)| e).unwrap_or_default();
    }
    Ok(Written::Done(etag))
}

/// DELETEs the entity if it still has `etag`; one already gone is done.
pub async fn delete_entity(arm: &ArmClient, service: &ResourceId, path: &str, etag: &str) -> Result<Written, OpsError> {
    let r = arm
        .send(Method::DELETE, entity_url(arm, service, path, ""), None, &[("if-match", etag)])
        .await?;
    match r.status {
        412 => Ok(Written::Conflict),
        404 => Ok(Written::Done(String::new())),
        _ => {
            r.success()?;
            Ok(Written::Done(String::new()))
        }
    }
}

/// The answer of the entity's secret-reading action (`listValue`,
/// `listSecrets`), values to be sent on and never shown, with the ETag
/// they were read at; `None` when the entity is gone.
pub async fn read_secrets(arm: &ArmClient, service: &ResourceId, path: &str, action: &str) -> Result<Option<(Value, String)>, OpsError> {
    let r = arm.post_read(entity_url(arm, service, path, &format!("/{action}"))).await?;
    if r.status == 404 {
        return Ok(None);
    }
    let r = r.success()?;
    let etag = r.header("etag").unwrap_or_default().to_string();
    Ok(Some((r.json()?, etag)))
}
