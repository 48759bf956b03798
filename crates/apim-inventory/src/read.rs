//! Reading a service: every collection, concurrently, through the one ARM
//! client (its retries, pacing and stop signal apply to every read).

use crate::normalize::normalize_properties;
use crate::{Secret, Snapshot};
use apim_families::Family;
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

/// Reads the service's whole configuration (every family of the
/// `apim-families` registry), `parallel` requests at a time.
pub async fn read(arm: &ArmClient, service: &ResourceId, parallel: usize) -> Result<Snapshot, Error> {
    let all: Vec<&str> = apim_families::top_level().map(|f| f.collection).collect();
    read_only(arm, service, parallel, &all).await
}

/// Reads only these families (and what they hold), `parallel` requests at
/// a time; names of no top-level family are ignored. Named values are
/// always listed, since other families refer to them by id, but appear
/// (and their secrets are read) only when asked for.
pub async fn read_only(arm: &ArmClient, service: &ResourceId, parallel: usize, families: &[&str]) -> Result<Snapshot, Error> {
    let before = arm.requests_sent();
    let sid = service.to_string();
    let parallel = parallel.max(1);
    let list = |parent: String, fam: &'static Family| {
        let sid = &sid;
        async move {
            let at = if parent.is_empty() {
                fam.collection.to_string()
            } else {
                format!("{parent}/{}", fam.collection)
            };
            let items = arm.list(arm.url(&format!("{sid}/{at}"), API_VERSION)).await?;
            Ok::<_, Error>((parent, fam, items))
        }
    };
    let mut raw: BTreeMap<String, Value> = BTreeMap::new();
    // A link (a product's API, an API's tag) is recorded as there; the
    // entity itself is read once, where it lives.
    let record = |raw: &mut BTreeMap<String, Value>, parent: &str, fam: &Family, items: Vec<Value>| -> Vec<String> {
        let mut paths = Vec::new();
        for item in items {
            let Some(name) = item.get("name").and_then(Value::as_str) else {
                continue;
            };
            let path = if parent.is_empty() {
                format!("{}/{name}", fam.collection)
            } else {
                format!("{parent}/{}/{name}", fam.collection)
            };
            let props = if fam.link {
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
        apim_families::top_level()
            .filter(|f| families.contains(&f.collection) || f.collection == "namedValues")
            .map(|f| list(String::new(), f)),
    )
    .buffer_unordered(parallel)
    .try_collect()
    .await?;
    let mut second = Vec::new();
    for (parent, fam, items) in top {
        for p in record(&mut raw, &parent, fam, items) {
            second.extend(apim_families::children(fam.name).map(|c| (p.clone(), c)));
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
    for (parent, fam, items) in nested {
        for p in record(&mut raw, &parent, fam, items) {
            // A link's target has its own children where it lives.
            if !fam.link {
                third.extend(apim_families::children(fam.name).map(|c| (p.clone(), c)));
            }
        }
    }
    let deepest: Vec<_> = stream::iter(third.into_iter().map(|(p, c)| list(p, c)))
        .buffer_unordered(parallel)
        .try_collect()
        .await?;
    for (parent, fam, items) in deepest {
        record(&mut raw, &parent, fam, items);
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
