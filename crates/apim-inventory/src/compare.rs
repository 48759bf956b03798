//! Pure comparisons of snapshots: the differences between two, and the
//! places one still uses a host.

use crate::normalize::walk_strings;
use crate::{has_secret, Snapshot};
use apim_documents::{DifferenceDoc, DifferenceKind, HostRefDoc};
use namedvalue_rewrite::host;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};

/// What [`diff`] found.
#[derive(Debug, Default)]
pub struct Diff {
    pub differences: Vec<DifferenceDoc>,
    /// Secrets that could not be compared because a side is a snapshot file.
    pub secrets_not_compared: usize,
    /// The tiers (SKU names) of A and B, when they differ: a copy may move
    /// to another tier on purpose, so this is said, never counted (units
    /// within one tier are compared).
    pub tiers: Option<(String, String)>,
}

/// The service's tier is a choice a copy may change (classic to v2), not
/// configuration: when the tiers differ, the SKU (tier and units) is taken
/// out of the comparison and the two tiers are returned; within one tier
/// the SKU stays in, so a capacity difference is reported.
pub fn without_tier(x: &mut Value, y: &mut Value) -> Option<(String, String)> {
    let name = |v: &Value| v.pointer("/sku/name").and_then(Value::as_str).unwrap_or_default().to_string();
    let tiers = (name(x), name(y));
    if tiers.0.eq_ignore_ascii_case(&tiers.1) {
        return None;
    }
    for v in [x, y] {
        if let Some(m) = v.as_object_mut() {
            m.remove("sku");
        }
    }
    Some(tiers)
}

/// How `b` differs from `a` once each `(old, new)` host rewrite is applied
/// to `a` everywhere a host can occur (named values, secret values, URLs,
/// policy XML, logger settings): exactly the differences the rewrite does
/// not explain. In path order; per property for entities on both sides.
pub fn diff(a: &Snapshot, b: &Snapshot, expect_hosts: &[(String, String)]) -> Diff {
    let rewrite = |s: &str| -> String {
        let mut out = s.to_string();
        for (old, new) in expect_hosts {
            if let Some(r) = host::replace(&out, old, new) {
                out = r;
            }
        }
        out
    };
    let mut out = Diff::default();
    let paths: BTreeSet<&String> = a.entities.keys().chain(b.entities.keys()).collect();
    for path in paths {
        match (a.entities.get(path), b.entities.get(path)) {
            (Some(x), None) => out
                .differences
                .push(missing(path, DifferenceKind::MissingInB, Some(x.clone()), None)),
            (None, Some(y)) => out
                .differences
                .push(missing(path, DifferenceKind::MissingInA, None, Some(y.clone()))),
            (Some(x), Some(y)) => {
                let mut x = x.clone();
                let mut y = y.clone();
                if path == apim_families::SERVICE_PATH {
                    out.tiers = without_tier(&mut x, &mut y);
                }
                let y = &y;
                if !expect_hosts.is_empty() {
                    walk_strings(&mut x, &mut |s| rewrite(s));
                }
                changed_properties(path, &x, y, &mut out.differences);
                if has_secret(path, &x) && has_secret(path, y) {
                    match (a.secrets_of(path), b.secrets_of(path)) {
                        (Some(sa), Some(sb)) => {
                            let props: BTreeSet<&String> = sa.keys().chain(sb.keys()).collect();
                            for p in props {
                                let (va, vb) = (sa.get(p).map(|v| rewrite(&v.0)), sb.get(p).map(|v| &v.0));
                                if va.as_ref() != vb {
                                    out.differences.push(DifferenceDoc {
                                        path: path.clone(),
                                        property: Some(p.trim_start_matches('/').replace('/', ".")),
                                        difference: DifferenceKind::Changed,
                                        secret: true,
                                        a: None,
                                        b: None,
                                    });
                                }
                            }
                        }
                        _ => out.secrets_not_compared += 1,
                    }
                }
            }
            (None, None) => {}
        }
    }
    out
}

fn missing(path: &str, kind: DifferenceKind, a: Option<Value>, b: Option<Value>) -> DifferenceDoc {
    DifferenceDoc {
        path: path.to_string(),
        property: None,
        difference: kind,
        secret: false,
        a,
        b,
    }
}

fn changed_properties(path: &str, x: &Value, y: &Value, out: &mut Vec<DifferenceDoc>) {
    let empty = serde_json::Map::new();
    let (xm, ym) = (x.as_object().unwrap_or(&empty), y.as_object().unwrap_or(&empty));
    let keys: BTreeSet<&String> = xm.keys().chain(ym.keys()).collect();
    for k in keys {
        let (va, vb) = (xm.get(k).filter(|v| !v.is_null()), ym.get(k).filter(|v| !v.is_null()));
        if va != vb {
            out.push(DifferenceDoc {
                path: path.to_string(),
                property: Some(k.clone()),
                difference: DifferenceKind::Changed,
                secret: false,
                a: va.cloned(),
                b: vb.cloned(),
            });
        }
    }
}

/// Secret values a scan could not look into, by why.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Unscanned {
    /// A snapshot file holds no secret values.
    pub snapshot: usize,
    /// Held in Key Vault: the instance keeps only a reference.
    pub key_vault: usize,
}

/// Every place `host` is still used in `s`, as a whole hostname: in any
/// property of any entity (URLs, policy XML, logger settings, named
/// values) and in secret values (checked here, never shown); with the
/// secret values it could not look into.
pub fn scan(s: &Snapshot, host_name: &str) -> (Vec<HostRefDoc>, Unscanned) {
    let mut refs = Vec::new();
    let mut unchecked = Unscanned::default();
    for (path, props) in &s.entities {
        let mut found = BTreeMap::new();
        pointers(props, String::new(), &mut |ptr, text| {
            if !host::find(text, host_name).is_empty() {
                found.insert(ptr, text.to_string());
            }
        });
        for (ptr, text) in found {
            refs.push(HostRefDoc {
                host: host_name.to_string(),
                path: path.clone(),
                property: ptr,
                secret: false,
                value: Some(text),
            });
        }
        if has_secret(path, props) {
            match s.secrets_of(path) {
                Some(values) => {
                    for (ptr, v) in values {
                        if !host::find(&v.0, host_name).is_empty() {
                            refs.push(HostRefDoc {
                                host: host_name.to_string(),
                                path: path.clone(),
                                property: ptr.clone(),
                                secret: true,
                                value: None,
                            });
                        }
                    }
                }
                None => unchecked.snapshot += 1,
            }
        } else if props.get("keyVault").is_some_and(|k| !k.is_null()) && props.get("secret").and_then(Value::as_bool) == Some(true) {
            unchecked.key_vault += 1;
        }
    }
    (refs, unchecked)
}

/// Calls `f` with the JSON pointer and text of every string in `v`.
fn pointers(v: &Value, at: String, f: &mut impl FnMut(String, &str)) {
    match v {
        Value::String(s) => f(at, s),
        Value::Array(a) => a.iter().enumerate().for_each(|(i, x)| pointers(x, format!("{at}/{i}"), f)),
        Value::Object(m) => m
            .iter()
            .for_each(|(k, x)| pointers(x, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), f)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    use crate::Secret;

    fn values(v: &str) -> std::collections::BTreeMap<String, Secret> {
        [("/value".to_string(), Secret(v.to_string()))].into()
    }

    fn snap(entities: Value, secrets: &[(&str, &str)]) -> Snapshot {
        Snapshot {
            entities: entities.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            secrets: Some(secrets.iter().map(|(k, v)| (k.to_string(), values(v))).collect()),
            requests: 0,
            ..Default::default()
        }
    }

    #[test]
    fn another_tier_is_said_not_counted_and_units_within_a_tier_are_compared() {
        let svc = |name: &str, capacity: u32| {
            snap(
                json!({"service": {"sku": {"name": name, "capacity": capacity}, "apiVersionConstraint": {"minApiVersion": "2021-08-01"}}}),
                &[],
            )
        };
        let d = diff(&svc("Developer", 1), &svc("StandardV2", 1), &[]);
        assert!(d.differences.is_empty());
        assert_eq!(d.tiers, Some(("Developer".to_string(), "StandardV2".to_string())));
        let d = diff(&svc("Premium", 1), &svc("Premium", 2), &[]);
        assert_eq!((d.differences.len(), d.tiers), (1, None));
        assert_eq!(d.differences[0].property.as_deref(), Some("sku"));
    }

    fn src() -> Snapshot {
        snap(
            json!({
                "apis/echo": {"displayName": "Echo", "path": "echo", "serviceUrl": "https://api.src.example.com/echo"},
                "apis/echo/operations/get/policies/policy": {"value": "<policies><inbound><set-backend-service base-url=\"https://api.src.example.com\" /></inbound></policies>"},
                "backends/b": {"url": "https://api.src.example.com/", "protocol": "http"},
                "namedValues/host": {"displayName": "host", "value": "api.src.example.com", "secret": false},
                "namedValues/key": {"displayName": "key", "secret": true},
                "products/starter/apis/echo": {},
            }),
            &[("namedValues/key", "k-1")],
        )
    }

    #[test]
    fn a_snapshot_equals_itself() {
        let d = diff(&src(), &src(), &[]);
        assert!(d.differences.is_empty() && d.secrets_not_compared == 0);
    }

    #[test]
    fn each_kind_of_difference_is_found_and_a_secret_is_only_said_to_differ() {
        let mut b = src();
        b.entities.remove("apis/echo");
        b.entities.insert(
            "backends/b".into(),
            json!({"url": "https://other.example.com/", "protocol": "http"}),
        );
        b.entities.remove("products/starter/apis/echo");
        b.entities.insert("products/starter/apis/other".into(), json!({}));
        b.secrets.as_mut().unwrap().insert("namedValues/key".into(), values("k-2"));
        let d = diff(&src(), &b, &[]).differences;
        let seen: Vec<(&str, Option<&str>, DifferenceKind)> =
            d.iter().map(|x| (x.path.as_str(), x.property.as_deref(), x.difference)).collect();
        assert_eq!(
            seen,
            [
                ("apis/echo", None, DifferenceKind::MissingInB),
                ("backends/b", Some("url"), DifferenceKind::Changed),
                ("namedValues/key", Some("value"), DifferenceKind::Changed),
                ("products/starter/apis/echo", None, DifferenceKind::MissingInB),
                ("products/starter/apis/other", None, DifferenceKind::MissingInA),
            ]
        );
        let secret = &d[2];
        assert!(secret.secret && secret.a.is_none() && secret.b.is_none());
        assert!(!serde_json::to_string(&d).unwrap().contains("k-1"));
    }

    #[test]
    fn the_expected_rewrite_hides_exactly_its_own_differences() {
        let a = src();
        let rewritten = |s: &Snapshot| {
            let text = serde_json::to_string(&s.entities)
                .unwrap()
                .replace("api.src.example.com", "api.dest.example.com");
            Snapshot {
                entities: serde_json::from_str(&text).unwrap(),
                secrets: s.secrets.clone(),
                requests: 0,
                ..Default::default()
            }
        };
        let b = rewritten(&a);
        let expect = [("api.src.example.com".to_string(), "api.dest.example.com".to_string())];
        assert!(!diff(&a, &b, &[]).differences.is_empty());
        assert!(diff(&a, &b, &expect).differences.is_empty());
        // A place the rewrite missed still shows…
        let mut missed = b.clone();
        missed.entities.insert(
            "backends/b".into(),
            json!({"url": "https://api.src.example.com/", "protocol": "http"}),
        );
        let d = diff(&a, &missed, &expect).differences;
        assert_eq!(d.len(), 1);
        assert_eq!(d[0].path, "backends/b");
        // …and so does any other change, and a host only containing the old one is not rewritten.
        let mut other = b.clone();
        other.entities.insert(
            "apis/echo".into(),
            json!({"displayName": "Echo 2", "path": "echo", "serviceUrl": "https://api.dest.example.com/echo"}),
        );
        assert_eq!(diff(&a, &other, &expect).differences.len(), 1);
        let mut longer = a.clone();
        longer.entities.insert(
            "backends/b".into(),
            json!({"url": "https://myapi.src.example.com/", "protocol": "http"}),
        );
        let mut longer_b = b.clone();
        longer_b.entities.insert(
            "backends/b".into(),
            json!({"url": "https://myapi.dest.example.com/", "protocol": "http"}),
        );
        assert_eq!(diff(&longer, &longer_b, &expect).differences.len(), 1);
    }

    #[test]
    fn a_secret_on_a_snapshot_side_is_not_compared() {
        let mut file = src();
        file.secrets = None;
        let d = diff(&src(), &file, &[]);
        assert!(d.differences.is_empty());
        assert_eq!(d.secrets_not_compared, 1);
    }

    #[test]
    fn the_scan_finds_the_host_wherever_it_hides() {
        let mut s = src();
        s.secrets
            .as_mut()
            .unwrap()
            .insert("namedValues/key".into(), values("https://api.src.example.com?k=1"));
        s.entities.insert(
            "loggers/l".into(),
            json!({"loggerType": "azureEventHub", "credentials": {"endpointAddress": "api.src.example.com"}}),
        );
        s.entities
            .insert("backends/unrelated".into(), json!({"url": "https://myapi.src.example.com/"}));
        s.entities.insert(
            "namedValues/kv".into(),
            json!({"displayName": "kv", "secret": true, "keyVault": {"secretIdentifier": "https://v.vault.azure.net/secrets/s"}}),
        );
        // Encoded into a query string, or a cookie's domain: still the host.
        s.entities.insert(
            "policies/policy".into(),
            json!({"value": "<set-header name=\"Set-Cookie\"><value>s=1; Domain=.api.src.example.com</value></set-header><rewrite-uri template=\"/login?r=https%3A%2F%2Fapi.src.example.com%2Fcb\" />"}),
        );
        let (refs, unchecked) = scan(&s, "API.src.example.com");
        let found: Vec<(&str, &str, bool)> = refs.iter().map(|r| (r.path.as_str(), r.property.as_str(), r.secret)).collect();
        assert_eq!(
            found,
            [
                ("apis/echo", "/serviceUrl", false),
                ("apis/echo/operations/get/policies/policy", "/value", false),
                ("backends/b", "/url", false),
                ("loggers/l", "/credentials/endpointAddress", false),
                ("namedValues/host", "/value", false),
                ("namedValues/key", "/value", true),
                ("policies/policy", "/value", false),
            ]
        );
        assert_eq!(
            unchecked,
            Unscanned { snapshot: 0, key_vault: 1 },
            "a Key Vault secret is counted as not scanned"
        );
        assert!(refs.iter().all(|r| r.secret == r.value.is_none()));
        assert!(scan(&s, "nowhere.example.com").0.is_empty());
    }
}
