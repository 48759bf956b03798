//! A service's configuration as a normalized snapshot: one entity per
//! path, sorted, with ARM's envelope and read-only fields dropped, policy
//! XML normalized and generated ids made stable, so that two instances
//! configured alike compare equal. Secret values are held in the process
//! for comparisons and scans, and never written out (not even as a hash).
//!
//! ```no_run
//! # async fn f(arm: &arm_client::ArmClient, a: &arm_client::ResourceId, b: &arm_client::ResourceId) -> Result<(), apim_inventory::Error> {
//! let (a, b) = (apim_inventory::read(arm, a, 32).await?, apim_inventory::read(arm, b, 32).await?);
//! let expect = [("api.src.example.com".to_string(), "api.dest.example.com".to_string())];
//! for d in apim_inventory::diff(&a, &b, &expect).differences {
//!     println!("{} {:?}", d.path, d.difference);
//! }
//! # Ok(()) }
//! ```

mod compare;
mod normalize;
mod read;

pub use compare::{diff, scan, without_tier, Diff, Unscanned};
pub use normalize::{normalize_policy_xml, normalize_properties, normalize_service};
pub use read::{read, read_only, Error};

use apim_documents::EntityDoc;
use serde_json::Value;
use std::collections::BTreeMap;

/// A secret's value (a secret named value's, a subscription key, a
/// client secret): compared and scanned in the process, never printed,
/// serialized or logged.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub(crate) String);

impl Secret {
    /// The value, for the one place that must send it (a copy's write).
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Debug for Secret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// A service's configuration, normalized.
#[derive(Debug, Clone, Default)]
pub struct Snapshot {
    /// Entity path to its normalized properties.
    pub entities: BTreeMap<String, Value>,
    /// Secret values by entity path, then by property pointer (`/value`,
    /// `/primaryKey`); `None` when this snapshot was read from a file
    /// (which never holds them).
    pub secrets: Option<BTreeMap<String, BTreeMap<String, Secret>>>,
    /// ARM requests the read made.
    pub requests: u64,
    /// The path ARM knows an entity by, where it is not the snapshot's
    /// (named values are kept by display name): empty for a file.
    pub ids: BTreeMap<String, String>,
    /// The ETag each entity's secrets were read at (their action answers
    /// with it), by path: a copy writes them only while it holds.
    pub secret_etags: BTreeMap<String, String>,
}

impl Snapshot {
    /// A snapshot as `apim-diff --inventory` writes it: no secret values.
    /// A path given twice is refused (which one would count?): the path.
    pub fn from_documents(docs: Vec<EntityDoc>) -> Result<Snapshot, String> {
        let mut entities = BTreeMap::new();
        for d in docs {
            if entities.insert(d.path.clone(), d.properties).is_some() {
                return Err(d.path);
            }
        }
        Ok(Snapshot {
            entities,
            secrets: None,
            requests: 0,
            ids: BTreeMap::new(),
            secret_etags: BTreeMap::new(),
        })
    }

    /// The documents of a snapshot file, in path order.
    pub fn documents(&self) -> impl Iterator<Item = EntityDoc> + '_ {
        self.entities.iter().map(|(p, v)| EntityDoc {
            path: p.clone(),
            properties: v.clone(),
        })
    }

    /// How many entities hold a secret a call reads (their values are
    /// left out of every document).
    pub fn secret_count(&self) -> usize {
        self.entities
            .iter()
            .filter(|(p, v)| apim_families::family_of(p).is_some_and(|f| read::readable_secret(f, v)))
            .count()
    }

    /// The path below the service where ARM has the entity a snapshot
    /// keeps at `path`.
    pub fn arm_path<'a>(&'a self, path: &'a str) -> &'a str {
        self.ids.get(path).map(String::as_str).unwrap_or(path)
    }

    /// The secret values of the entity at `path`: `None` for a file, or
    /// where nothing was read.
    pub fn secret(&self, path: &str, property: &str) -> Option<&Secret> {
        self.secrets.as_ref()?.get(path)?.get(property)
    }

    /// The ETag the entity's secrets were read at, if they were.
    pub fn secret_etag(&self, path: &str) -> Option<&str> {
        self.secret_etags.get(path).map(String::as_str)
    }

    /// The secret values read for the entity at `path` (none for a file).
    pub(crate) fn secrets_of(&self, path: &str) -> Option<&BTreeMap<String, Secret>> {
        self.secrets.as_ref().map(|m| m.get(path).unwrap_or(&NO_SECRETS))
    }
}

static NO_SECRETS: BTreeMap<String, Secret> = BTreeMap::new();

/// Whether the entity at `path` holds a secret a call reads.
pub(crate) fn has_secret(path: &str, props: &Value) -> bool {
    apim_families::family_of(path).is_some_and(|f| read::readable_secret(f, props))
}
