//! Backup and restore: POSTs that start long-running operations and must
//! never be sent twice by accident.

use crate::service::{get_service, API_VERSION};
use crate::OpsError;
pub use apim_rules::AccessType;
use arm_client::{ArmClient, FinalStateVia, Method, PendingOperation, Progress, ResourceId};
use serde_json::{json, Value};
use std::fmt;

/// How the service reaches the storage account.
#[derive(Clone, PartialEq, Eq)]
pub enum BackupAccess {
    /// The account key (sent to the service, never printed).
    AccessKey(String),
    SystemIdentity,
    /// A user-assigned identity, by client id.
    UserIdentity(String),
}

impl BackupAccess {
    pub fn access_type(&self) -> AccessType {
        match self {
            BackupAccess::AccessKey(_) => AccessType::AccessKey,
            BackupAccess::SystemIdentity => AccessType::SystemIdentity,
            BackupAccess::UserIdentity(_) => AccessType::UserIdentity,
        }
    }

    /// The client id of a user-assigned identity.
    pub fn identity_client_id(&self) -> Option<&str> {
        match self {
            BackupAccess::UserIdentity(c) => Some(c),
            _ => None,
        }
    }
}

impl fmt::Debug for BackupAccess {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            BackupAccess::AccessKey(_) => f.write_str("AccessKey(<redacted>)"),
            BackupAccess::SystemIdentity => f.write_str("SystemIdentity"),
            BackupAccess::UserIdentity(c) => write!(f, "UserIdentity({c})"),
        }
    }
}

/// The body of POST …/backup and …/restore.
#[derive(Debug, Clone)]
pub struct BackupParams {
    pub account: String,
    pub container: String,
    pub blob: String,
    pub access: BackupAccess,
}

impl BackupParams {
    pub fn body(&self) -> Value {
        let mut b = json!({"storageAccount": self.account, "containerName": self.container, "backupName": self.blob});
        match &self.access {
            BackupAccess::AccessKey(k) => {
                b["accessType"] = json!("AccessKey");
                b["accessKey"] = json!(k);
            }
            BackupAccess::SystemIdentity => b["accessType"] = json!("SystemAssignedManagedIdentity"),
            BackupAccess::UserIdentity(c) => {
                b["accessType"] = json!("UserAssignedManagedIdentity");
                b["clientId"] = json!(c);
            }
        }
        b
    }
}

/// What the POST started: `Pending` while it runs, `Done` with the service
/// when it finished at once.
pub type Begun = Progress<Value>;

/// What to wait for: a call that already finished becomes an operation
/// followed on the resource, whose state then says Succeeded.
pub fn pending_of(begun: Begun, arm: &ArmClient, id: &ResourceId) -> PendingOperation {
    match begun {
        Progress::Pending(p) => p,
        Progress::Done(_) => PendingOperation::on_resource(arm.url(&id.to_string(), API_VERSION).as_str()),
    }
}

pub async fn start_backup(arm: &ArmClient, id: &ResourceId, params: &BackupParams) -> Result<Begun, OpsError> {
    start(arm, id, "backup", params).await
}

pub async fn start_restore(arm: &ArmClient, id: &ResourceId, params: &BackupParams) -> Result<Begun, OpsError> {
    start(arm, id, "restore", params).await
}

async fn start(arm: &ArmClient, id: &ResourceId, action: &str, params: &BackupParams) -> Result<Begun, OpsError> {
    let url = arm.url(&format!("{id}/{action}"), API_VERSION);
    match arm.send(Method::POST, url.clone(), Some(&params.body()), &[]).await {
        // A gateway error (502, 504) may come after ARM passed the request
        // on: look before reporting a failure that may not be one.
        Ok(r) if r.status >= 500 => running(arm, id)
            .await?
            .ok_or_else(|| arm_client::Error::from(r.arm_error()).into()),
        Ok(r) => {
            let r = r.success()?;
            match arm.operation(&r, &url, FinalStateVia::Location) {
                Some(op) => Ok(Progress::Pending(op)),
                None => Ok(Progress::Done(if r.body.is_empty() { Value::Null } else { r.json()? })),
            }
        }
        // The answer was lost: the service may or may not have started.
        // Look before sending anything again.
        Err(arm_client::Error::Network { message, .. }) => running(arm, id).await?.ok_or_else(|| {
            OpsError::Invalid(format!(
                "the {action} request got no answer ({message}) and the service shows no operation running now: either it never started, or it already ended; check the container for the blob before running the command again"
            ))
        }),
        Err(e) => Err(e.into()),
    }
}

/// After a POST whose outcome is unknown: the operation to follow on the
/// service when it shows one running, `None` when it shows none.
async fn running(arm: &ArmClient, id: &ResourceId) -> Result<Option<Begun>, OpsError> {
    Ok(match get_service(arm, id).await? {
        Some(service) if !arm_client::lro::is_terminal(arm_client::lro::provisioning_state(&service)) => Some(Progress::Pending(
            PendingOperation::on_resource(arm.url(&id.to_string(), API_VERSION).as_str()),
        )),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_per_access_type() {
        let p = |access| BackupParams {
            account: "acct".into(),
            container: "c".into(),
            blob: "b".into(),
            access,
        };
        let b = p(BackupAccess::AccessKey("sekret".into())).body();
        assert_eq!(b["accessType"], "AccessKey");
        assert_eq!(b["accessKey"], "sekret");
        assert_eq!(
            p(BackupAccess::SystemIdentity).body()["accessType"],
            "SystemAssignedManagedIdentity"
        );
        let u = p(BackupAccess::UserIdentity("cid".into())).body();
        assert_eq!(
            (u["accessType"].as_str(), u["clientId"].as_str()),
            (Some("UserAssignedManagedIdentity"), Some("cid"))
        );
        assert!(u.get("accessKey").is_none());
    }

    #[test]
    fn keys_never_print() {
        let p = BackupParams {
            account: "a".into(),
            container: "c".into(),
            blob: "b".into(),
            access: BackupAccess::AccessKey("sekret".into()),
        };
        assert!(!format!("{p:?}").contains("sekret"));
    }
}
