//! Resource groups: the one piece of Microsoft.Resources every tool needs.

use crate::{ArmClient, Error, Method, ResourceId};
use serde_json::{json, Value};

pub const API_VERSION: &str = "2025-04-01";

/// What [`ensure_group`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupOutcome {
    Existed,
    Created,
}

/// Creates the group unless it exists. An existing group in another
/// location is an error: resources would land where nobody expects them.
pub async fn ensure_group(arm: &ArmClient, subscription: &str, name: &str, location: &str) -> Result<GroupOutcome, Error> {
    let id = ResourceId::resource_group(subscription, name);
    let url = arm.url(&id.to_string(), API_VERSION);
    if let Some(existing) = arm.get(url.clone()).await? {
        let have = existing.get("location").and_then(Value::as_str).unwrap_or("");
        if normalize_location(have) != normalize_location(location) {
            return Err(Error::Arm(crate::ArmError {
                status: 409,
                code: "InvalidResourceGroupLocation".into(),
                message: format!("resource group '{name}' already exists in '{have}', not '{location}'"),
                request_id: None,
            }));
        }
        return Ok(GroupOutcome::Existed);
    }
    arm.send(Method::PUT, url, Some(&json!({"location": location})), &[])
        .await?
        .success()?;
    Ok(GroupOutcome::Created)
}

/// `West Europe` and `westeurope` are the same region to ARM.
pub fn normalize_location(l: &str) -> String {
    l.chars().filter(|c| !c.is_whitespace()).flat_map(char::to_lowercase).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn locations_compare_loosely() {
        assert_eq!(super::normalize_location("West Europe"), "westeurope");
        assert_eq!(super::normalize_location("westeurope"), "westeurope");
    }
}
