//! Reading a service: every collection, concurrently, through the one ARM
//! client (its retries, pacing and stop signal apply to every read).

use crate::normalize::normalize_properties;
use crate::{Secret, Snapshot};
use apim_ops::API_VERSION;
use arm_client::{ArmClient, ResourceId};
use futures::stream::{self, StreamExt, TryStreamExt};
use serde_json::{json, Value};
use std::collections::BTreeMap;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Arm(#[from] arm_client::Error),
}

/// The collections directly under a service.
const TOP: &[&str] = &[
    "namedValues",
    "apis",
    "apiVersionSets",
    "products",
    "policies",
    "backends",
    "loggers",
    "diagnostics",
    "tags",
];
/// What is read below each API, each operation and each product. A
/// product's APIs and the tags of an API or product are links: the
/// snapshot records that the link exists, the entity itself is read once.
const BELOW_API: &[&str] = &["operations", "policies", "diagnostics", "tags"];
const BELOW_OPERATION: &[&str] = &["policies"];
const BELOW_PRODUCT: &[&str] = &["apis", "policies", "tags"];

fn is_link(parent: &str, coll: &str) -> bool {
    !parent.is_empty() && (coll == "tags" || (coll == "apis" && parent.starts_with("products/")))
}

/// The families directly under a service that a snapshot reads.
pub const FAMILIES: &[&str] = TOP;

/// Reads the service's whole configuration, `parallel` requests at a time.
pub async fn read(arm: &ArmClient, service: &ResourceId, parallel: usize) -> Result<Snapshot, Error> {
    read_only(arm, service, parallel, FAMILIES).await
}

/// Reads only these families (and what they hold), `parallel` requests at
/// a time; names not among [`FAMILIES`] are ignored. Named values are
/// always listed, since other families refer to them by id, but appear
/// (and their secrets are read) only when asked for.
pub async fn read_only(arm: &ArmClient, service: &ResourceId, parallel: usize, families: &[&str]) -> Result<Snapshot, Error> {
    let before = arm.requests_sent();
    let sid = service.to_string();
    let parallel = parallel.max(1);
    let list = |parent: String, coll: &'static str| {
        let sid = &sid;
        async move {
            let at = if parent.is_empty() {
                coll.to_string()
            } else {
                format!("{parent}/{coll}")
            };
            let items = arm.list(arm.url(&format!("{sid}/{at}"), API_VERSION)).await?;
            Ok::<_, Error>((parent, coll, items))
        }
    };
    let mut raw: BTreeMap<String, Value> = BTreeMap::new();
    let record = |raw: &mut BTreeMap<String, Value>, parent: &str, coll: &str, items: Vec<Value>| -> Vec<String> {
        let mut paths = Vec::new();
        for item in items {
            let Some(name) = item.get("name").and_then(Value::as_str) else {
                continue;
            };
            let path = if parent.is_empty() {
                format!("{coll}/{name}")
            } else {
                format!("{parent}/{coll}/{name}")
            };
            let props = if is_link(parent, coll) {
                json!({})
            } else {
                item.get("properties").cloned().unwrap_or_else(|| json!({}))
            };
            raw.insert(path.clone(), props);
            paths.push(path);
        }
        paths
    };

    let top: Vec<_> = stream::iter(
        TOP.iter()
            .filter(|c| families.contains(c) || **c == "namedValues")
            .map(|c| list(String::new(), c)),
    )
    .buffer_unordered(parallel)
    .try_collect()
    .await?;
    let mut second = Vec::new();
    for (parent, coll, items) in top {
        for p in record(&mut raw, &parent, coll, items) {
            match coll {
                "apis" => second.extend(BELOW_API.iter().map(|c| (p.clone(), *c))),
                "products" => second.extend(BELOW_PRODUCT.iter().map(|c| (p.clone(), *c))),
                _ => {}
            }
        }
    }
    // Secret values are read alongside the nested lists.
    let nv_asked = families.contains(&"namedValues");
    let secret_names: Vec<String> = raw
        .iter()
        .filter(|(p, v)| nv_asked && p.starts_with("namedValues/") && crate::is_secret(v))
        .map(|(p, _)| p["namedValues/".len()..].to_string())
        .collect();
    let secrets = stream::iter(secret_names.into_iter().map(|name| {
        let sid = &sid;
        async move {
            let url = arm.url(&format!("{sid}/namedValues/{name}/listValue"), API_VERSION);
            let v: Value = arm.post_read(url).await?.success()?.json()?;
            Ok::<_, Error>((name, v.get("value").and_then(Value::as_str).unwrap_or_default().to_string()))
        }
    }))
    .buffer_unordered(parallel)
    .try_collect::<Vec<_>>();
    let nested = stream::iter(second.into_iter().map(|(p, c)| list(p, c)))
        .buffer_unordered(parallel)
        .try_collect::<Vec<_>>();
    let (secrets, nested) = futures::future::try_join(secrets, nested).await?;
    let mut third = Vec::new();
    for (parent, coll, items) in nested {
        for p in record(&mut raw, &parent, coll, items) {
            if coll == "operations" {
                third.extend(BELOW_OPERATION.iter().map(|c| (p.clone(), *c)));
            }
        }
    }
    let deepest: Vec<_> = stream::iter(third.into_iter().map(|(p, c)| list(p, c)))
        .buffer_unordered(parallel)
        .try_collect()
        .await?;
    for (parent, coll, items) in deepest {
        record(&mut raw, &parent, coll, items);
    }

    // Named values are known by display name: ids may be generated (a
    // logger's key, a portal edit), names are what people choose.
    let nv_names: BTreeMap<String, String> = raw
        .iter()
        .filter_map(|(p, v)| {
            let id = p.strip_prefix("namedValues/")?;
            let name = v.get("displayName").and_then(Value::as_str)?;
            Some((id.to_ascii_lowercase(), name.to_string()))
        })
        .collect();
    let stable = |path: &str| -> String {
        match path.strip_prefix("namedValues/") {
            Some(id) => format!(
                "namedValues/{}",
                nv_names.get(&id.to_ascii_lowercase()).map(String::as_str).unwrap_or(id)
            ),
            None => path.to_string(),
        }
    };
    let asked = |p: &str| p.split('/').next().is_some_and(|f| families.contains(&f));
    let entities = raw
        .iter()
        .filter(|(p, _)| asked(p))
        .map(|(p, v)| {
            let is_policy = p == "policies/policy" || p.ends_with("/policies/policy");
            let mut n = normalize_properties(v, &sid, &nv_names, is_policy);
            if crate::is_secret(&n) {
                if let Some(m) = n.as_object_mut() {
                    m.remove("value");
                }
            }
            (stable(p), n)
        })
        .collect();
    let secrets = secrets
        .into_iter()
        .map(|(name, v)| (stable(&format!("namedValues/{name}")), Secret(v)))
        .collect();
    Ok(Snapshot {
        entities,
        secrets: Some(secrets),
        requests: arm.requests_sent() - before,
    })
}
