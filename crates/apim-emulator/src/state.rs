//! Everything the emulator knows, serializable so `--state FILE` survives a
//! restart. Operations are stored with their start time and scaled
//! duration; states advance lazily whenever a request looks at them.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub fn now_ms() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp_nanos() as i64 / 1_000_000
}

pub fn rfc3339(ms: i64) -> String {
    let t = time::OffsetDateTime::from_unix_timestamp_nanos(ms as i128 * 1_000_000).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    t.format(&time::format_description::well_known::Rfc3339).unwrap_or_default()
}

/// Case-insensitive map key for ARM ids and names.
pub fn key(s: &str) -> String {
    s.to_ascii_lowercase()
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct TokenInfo {
    pub client_id: String,
    pub expires_ms: i64,
    /// The resource the token was asked for (the scope without `/.default`).
    #[serde(default)]
    pub audience: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Group {
    pub id: String,
    pub name: String,
    pub location: String,
    pub tags: Map<String, Value>,
    /// Set while a delete runs.
    pub deleting_op: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Service {
    pub id: String,
    pub name: String,
    pub subscription: String,
    pub group: String,
    pub location: String,
    pub sku_name: String,
    pub capacity: i64,
    pub publisher_email: String,
    pub publisher_name: String,
    pub tags: Map<String, Value>,
    pub identity: Option<Value>,
    pub created_ms: i64,
    pub etag: u64,
    /// The running operation on this service, if any.
    pub op: Option<String>,
    /// Whatever else the service holds (named values, APIs, policies…),
    /// by lower-case path: what backup carries and restore replaces.
    #[serde(default)]
    pub config: BTreeMap<String, Value>,
    /// Service properties kept as given (custom hostnames, TLS settings…).
    #[serde(default)]
    pub settings: Map<String, Value>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeletedService {
    pub service: Service,
    pub deleted_ms: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Account {
    pub id: String,
    pub name: String,
    pub group: String,
    pub location: String,
    pub kind: String,
    pub sku: String,
    pub properties: Map<String, Value>,
    pub tags: Map<String, Value>,
    pub created_ms: i64,
    pub keys: [String; 2],
    pub op: Option<String>,
    /// The blob service's properties (`cors`, …), as last written.
    #[serde(default)]
    pub blob_service: Map<String, Value>,
    /// The Azurite account that holds its blobs, when its own name is not
    /// one of Azurite's (Azurite's accounts are fixed when it starts).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backing: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Container {
    pub id: String,
    pub name: String,
    pub account: String,
    pub created_ms: i64,
    pub etag: u64,
    pub properties: Map<String, Value>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum OpKind {
    ServiceCreate,
    ServiceUpdate,
    ServiceRecover,
    ServiceDelete,
    /// Purging a soft-deleted service (the target is its lower-case name).
    ServicePurge,
    StorageCreate,
    GroupDelete,
    ServiceBackup,
    ServiceRestore,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Op {
    pub id: String,
    pub kind: OpKind,
    /// Key of the resource the operation works on.
    pub target: String,
    pub started_ms: i64,
    pub duration_ms: i64,
    pub done: bool,
    /// How the operation ends if it fails: (HTTP status, code, message).
    #[serde(default)]
    pub error: Option<(u16, String, String)>,
    /// For a restore: the configuration to put in place when it ends.
    #[serde(default)]
    pub payload: Option<Value>,
}

impl Op {
    pub fn fraction(&self, now: i64) -> f64 {
        if self.duration_ms <= 0 {
            return 1.0;
        }
        ((now - self.started_ms) as f64 / self.duration_ms as f64).clamp(0.0, 1.0)
    }

    pub fn remaining_ms(&self, now: i64) -> i64 {
        (self.started_ms + self.duration_ms - now).max(0)
    }
}

#[derive(Debug, Default, Serialize, Deserialize)]
pub struct State {
    pub client_secret: String,
    pub tokens: BTreeMap<String, TokenInfo>,
    pub groups: BTreeMap<String, Group>,
    pub services: BTreeMap<String, Service>,
    /// Soft-deleted services by lower-case name (names are global).
    pub deleted: BTreeMap<String, DeletedService>,
    pub accounts: BTreeMap<String, Account>,
    pub containers: BTreeMap<String, Container>,
    pub ops: BTreeMap<String, Op>,
    /// Role assignments by lower-case id, at any scope.
    #[serde(default)]
    pub roles: BTreeMap<String, Value>,
    /// Azure Monitor diagnostic settings by lower-case id, at any scope.
    #[serde(default)]
    pub diagnostic_settings: BTreeMap<String, Value>,
    pub etag_counter: u64,
    /// Fault injection: how the next operation of a kind ends instead of
    /// succeeding (`Failed` with Azure's error, or `Canceled`).
    #[serde(skip)]
    pub fail_next: Option<(OpKind, (u16, String, String))>,
}

/// How long soft-deleted services are kept before Azure purges them.
pub const SOFT_DELETE_MS: i64 = 48 * 3600 * 1000;

impl State {
    pub fn next_etag(&mut self) -> u64 {
        self.etag_counter += 1;
        self.etag_counter
    }

    /// Completes every operation whose time has come.
    pub fn settle(&mut self, now: i64) {
        let due: Vec<String> = self
            .ops
            .values()
            .filter(|o| !o.done && o.started_ms + o.duration_ms <= now)
            .map(|o| o.id.clone())
            .collect();
        for id in due {
            let Some(op) = self.ops.get_mut(&id) else { continue };
            op.done = true;
            let (kind, target) = (op.kind, op.target.clone());
            match kind {
                OpKind::ServiceCreate | OpKind::ServiceUpdate | OpKind::ServiceRecover => {
                    if let Some(s) = self.services.get_mut(&target) {
                        s.op = None;
                    }
                }
                OpKind::ServiceDelete => {
                    if let Some(mut s) = self.services.remove(&target) {
                        s.op = None;
                        self.deleted.insert(
                            key(&s.name),
                            DeletedService {
                                service: s,
                                deleted_ms: now,
                            },
                        );
                    }
                }
                OpKind::ServicePurge => {
                    self.deleted.remove(&target);
                }
                OpKind::ServiceBackup => {
                    if let Some(s) = self.services.get_mut(&target) {
                        s.op = None;
                    }
                }
                OpKind::ServiceRestore => {
                    let payload = self
                        .ops
                        .get(&id)
                        .and_then(|o| if o.error.is_none() { o.payload.clone() } else { None });
                    if let Some(s) = self.services.get_mut(&target) {
                        s.op = None;
                        if let Some(mut config) = payload.and_then(|p| serde_json::from_value::<crate::entities::Tree>(p).ok()) {
                            // What a backup never carries stays as the target had it.
                            let kept = s.config.iter().filter(|(k, _)| !crate::registry::backed_up(k));
                            config.extend(kept.map(|(k, v)| (k.clone(), v.clone())));
                            s.config = config;
                        }
                    }
                }
                OpKind::StorageCreate => {
                    if let Some(a) = self.accounts.get_mut(&target) {
                        a.op = None;
                    }
                }
                OpKind::GroupDelete => {
                    let prefix = format!("{target}/");
                    self.groups.remove(&target);
                    let gone: Vec<String> = self.services.keys().filter(|k| k.starts_with(&prefix)).cloned().collect();
                    for k in gone {
                        if let Some(s) = self.services.remove(&k) {
                            self.deleted.insert(
                                key(&s.name),
                                DeletedService {
                                    service: s,
                                    deleted_ms: now,
                                },
                            );
                        }
                    }
                    self.accounts.retain(|k, _| !k.starts_with(&prefix));
                    self.containers.retain(|k, _| !k.starts_with(&prefix));
                }
            }
        }
        self.deleted.retain(|_, d| d.deleted_ms + SOFT_DELETE_MS > now);
        self.tokens.retain(|_, t| t.expires_ms > now);
    }

    /// provisioningState and targetProvisioningState of a service now.
    pub fn service_states(&self, s: &Service, now: i64) -> (&'static str, &'static str) {
        let Some(op) = s.op.as_ref().and_then(|id| self.ops.get(id)) else {
            return ("Succeeded", "");
        };
        match op.kind {
            OpKind::ServiceCreate | OpKind::ServiceRecover => {
                if op.fraction(now) < 1.0 / 3.0 {
                    ("Created", "Activating")
                } else {
                    ("Activating", "Succeeded")
                }
            }
            OpKind::ServiceUpdate | OpKind::ServiceBackup | OpKind::ServiceRestore => ("Updating", "Succeeded"),
            OpKind::ServiceDelete => ("Succeeded", "Deleting"),
            _ => ("Succeeded", ""),
        }
    }
}
