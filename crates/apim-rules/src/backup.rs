//! How a service reaches the storage account of its backups.

/// How a service reaches the storage account, as flags and documents name it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AccessType {
    AccessKey,
    SystemIdentity,
    UserIdentity,
}

impl AccessType {
    pub const ALL: [AccessType; 3] = [AccessType::AccessKey, AccessType::SystemIdentity, AccessType::UserIdentity];

    pub fn as_str(self) -> &'static str {
        match self {
            AccessType::AccessKey => "access-key",
            AccessType::SystemIdentity => "system-identity",
            AccessType::UserIdentity => "user-identity",
        }
    }
}

impl std::fmt::Display for AccessType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for AccessType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        AccessType::ALL
            .into_iter()
            .find(|a| a.as_str() == s)
            .ok_or_else(|| format!("unknown access type '{s}': use access-key, system-identity or user-identity"))
    }
}
