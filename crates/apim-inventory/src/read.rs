//! Reading a service: every family of the registry, level by level, each
//! level's lists (and the secret reads of the level above) concurrently,
//! through the one ARM client (its retries, pacing and stop signal apply
//! to every read).

use crate::normalize::{normalize_properties, normalize_service};
use crate::{Secret, Snapshot};
use apim_families::{Family, SecretRead, SERVICE_PATH};
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
/// `apim-families` registry, and the service's own settings), `parallel`
/// requests at a time.
pub async fn read(arm: &ArmClient, service: &ResourceId, parallel: usize) -> Result<Snapshot, Error> {
    let mut all: Vec<&str> = apim_families::top_level().map(|f| f.collection).collect();
    all.push(SERVICE_PATH);
    read_only(arm, service, parallel, &all).await
}

/// One list of a read.
enum Job {
    /// The collection `fam` below `parent` (empty: below the service).
    List(String, &'static Family),
    /// The service itself, for its settings.
    Service,
}

enum Got {
    List(String, &'static Family, Vec<Value>),
    Service(Value),
}

/// Reads only these families (top-level collections, and what they hold;
/// `service` for the service's own settings), `parallel` requests at a
/// time; other names are ignored. Named values are always listed, since
/// other families refer to them by id, but appear (and their secrets are
/// read) only when asked for.
///
/// Lists go level by level; secret reads (POST actions, which ARM counts
/// against the write bucket) run beside them on their own `parallel`
/// slots, so a paced write bucket never holds up the reads, nor the
/// reverse.
pub async fn read_only(arm: &ArmClient, service: &ResourceId, parallel: usize, families: &[&str]) -> Result<Snapshot, Error> {
    let before = arm.requests_sent();
    let sid = service.to_string();
    let parallel = parallel.max(1);
    let asked = |top: &str| families.contains(&top);
    let (to_read, secret_jobs) = futures::channel::mpsc::unbounded::<(String, &'static Family)>();
    let run = |job: Job| {
        let sid = &sid;
        async move {
            Ok::<_, Error>(match job {
                Job::List(parent, fam) => {
                    let at = if parent.is_empty() {
                        fam.collection.to_string()
                    } else {
                        format!("{parent}/{}", fam.collection)
                    };
                    let items = arm.list(arm.url(&format!("{sid}/{at}"), API_VERSION)).await?;
                    Got::List(parent, fam, items)
                }
                Job::Service => Got::Service(arm.get(arm.url(sid, API_VERSION)).await?.unwrap_or(Value::Null)),
            })
        }
    };
    let lists = async move {
        let mut raw: BTreeMap<String, Value> = BTreeMap::new();
        let mut service_settings = None;
        let mut jobs: Vec<Job> = apim_families::top_level()
            .filter(|f| asked(f.collection) || f.collection == "namedValues")
            .map(|f| Job::List(String::new(), f))
            .collect();
        if asked(SERVICE_PATH) {
            jobs.push(Job::Service);
        }
        while !jobs.is_empty() {
            let got: Vec<Got> = stream::iter(jobs.into_iter().map(run))
                .buffer_unordered(parallel)
                .try_collect()
                .await?;
            jobs = Vec::new();
            for g in got {
                let Got::List(parent, fam, items) = g else {
                    if let Got::Service(v) = g {
                        service_settings = Some(v);
                    }
                    continue;
                };
                for item in items {
                    let Some(name) = item.get("name").and_then(Value::as_str) else {
                        continue;
                    };
                    let path = if parent.is_empty() {
                        format!("{}/{name}", fam.collection)
                    } else {
                        format!("{parent}/{}/{name}", fam.collection)
                    };
                    // A link (a product's API, a group's user) is recorded
                    // as there; the entity itself is read once, where it
                    // lives, with what it holds.
                    let props = if fam.link {
                        json!({})
                    } else {
                        item.get("properties").cloned().unwrap_or_else(|| json!({}))
                    };
                    let top = path.split('/').next().unwrap_or_default();
                    if asked(top) && readable_secret(fam, &props) {
                        // The reader ends only when this sender is gone.
                        let _ = to_read.unbounded_send((path.clone(), fam));
                    }
                    if !fam.link && asked(top) {
                        jobs.extend(apim_families::children(fam.name).map(|c| Job::List(path.clone(), c)));
                    }
                    raw.insert(path, props);
                }
            }
        }
        drop(to_read);
        Ok::<_, Error>((raw, service_settings))
    };
    let secrets = secret_jobs
        .map(|(path, fam)| {
            let sid = &sid;
            async move { Ok::<_, Error>((path.clone(), read_secrets(arm, sid, &path, fam).await?)) }
        })
        .buffer_unordered(parallel)
        .try_collect::<Vec<(String, (BTreeMap<String, Secret>, String))>>();
    let ((raw, service_settings), secrets) = futures::try_join!(lists, secrets)?;

    // Named values are known by display name: ids may be generated (a
    // logger's key, a cache's connection string), names are what people choose.
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
    let mut entities: BTreeMap<String, Value> = raw
        .iter()
        .filter(|(p, _)| asked(p.split('/').next().unwrap_or_default()))
        .filter_map(|(p, v)| {
            let fam = apim_families::family_of(p)?;
            Some((stable(p), normalize_properties(v, &sid, &nv_names, fam)))
        })
        .collect();
    if let Some(s) = service_settings.filter(|s| !s.is_null()) {
        entities.insert(SERVICE_PATH.to_string(), normalize_service(&s, &sid));
    }
    let mut secret_etags = BTreeMap::new();
    let secrets = secrets
        .into_iter()
        .map(|(p, (v, etag))| {
            if !etag.is_empty() {
                secret_etags.insert(stable(&p), etag);
            }
            (stable(&p), v)
        })
        .collect();
    let ids = raw
        .keys()
        .filter(|p| p.starts_with("namedValues/") && asked("namedValues"))
        .map(|p| (stable(p), p.clone()))
        .filter(|(s, p)| s != p)
        .collect();
    Ok(Snapshot {
        entities,
        secrets: Some(secrets),
        requests: arm.requests_sent() - before,
        ids,
        secret_etags,
    })
}

/// Whether an entity of this family, with these properties, has a secret
/// a call reads (a named value only when it is secret and not in Key Vault).
pub(crate) fn readable_secret(fam: &Family, props: &Value) -> bool {
    fam.secrets.iter().any(|s| {
        matches!(s.read, SecretRead::ListValue | SecretRead::ListSecrets)
            && s.when.is_none_or(|w| props.pointer(w).and_then(Value::as_bool) == Some(true))
            && props.get("keyVault").is_none_or(Value::is_null)
    })
}

/// The secret values of one entity, by property pointer, and the ETag
/// they were read at.
async fn read_secrets(arm: &ArmClient, sid: &str, path: &str, fam: &Family) -> Result<(BTreeMap<String, Secret>, String), Error> {
    let mut out = BTreeMap::new();
    let action = if fam.secrets.iter().any(|s| s.read == SecretRead::ListValue) {
        "listValue"
    } else {
        "listSecrets"
    };
    let url = arm.url(&format!("{sid}/{path}/{action}"), API_VERSION);
    let r = arm.post_read(url).await?.success()?;
    let etag = r.header("etag").unwrap_or_default().to_string();
    let v: Value = r.json()?;
    for s in fam
        .secrets
        .iter()
        .filter(|s| matches!(s.read, SecretRead::ListValue | SecretRead::ListSecrets))
    {
        let name = if s.read == SecretRead::ListValue { "value" } else { s.name() };
        if let Some(x) = v.get(name).and_then(Value::as_str) {
            out.insert(s.property.to_string(), Secret(x.to_string()));
        }
    }
    Ok((out, etag))
}
