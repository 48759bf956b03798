//! ARM resource ids: parse, format, compare as ARM does (segment names and
//! resource names are case-insensitive).

use std::fmt;
use std::str::FromStr;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid resource id '{id}': {reason}")]
pub struct IdError {
    pub id: String,
    pub reason: &'static str,
}

/// `/subscriptions/{s}[/resourceGroups/{rg}][/providers/{ns}/{type}/{name}[/{type}/{name}]...]`
#[derive(Debug, Clone)]
pub struct ResourceId {
    subscription: String,
    resource_group: Option<String>,
    namespace: Option<String>,
    /// (type, name) pairs below the namespace; the first is the top-level resource.
    types: Vec<(String, String)>,
}

impl ResourceId {
    pub fn subscription(subscription: &str) -> Self {
        ResourceId {
            subscription: subscription.to_string(),
            resource_group: None,
            namespace: None,
            types: Vec::new(),
        }
    }

    pub fn resource_group(subscription: &str, group: &str) -> Self {
        ResourceId {
            resource_group: Some(group.to_string()),
            ..Self::subscription(subscription)
        }
    }

    /// A top-level resource, e.g. `Microsoft.ApiManagement`, `service`, `apim-src`.
    pub fn resource(subscription: &str, group: &str, namespace: &str, ty: &str, name: &str) -> Self {
        ResourceId {
            namespace: Some(namespace.to_string()),
            types: vec![(ty.to_string(), name.to_string())],
            ..Self::resource_group(subscription, group)
        }
    }

    /// A child resource of this one, e.g. `.child("namedValues", "backend-host")`.
    pub fn child(&self, ty: &str, name: &str) -> Self {
        let mut c = self.clone();
        c.types.push((ty.to_string(), name.to_string()));
        c
    }

    pub fn subscription_id(&self) -> &str {
        &self.subscription
    }

    pub fn resource_group_name(&self) -> Option<&str> {
        self.resource_group.as_deref()
    }

    pub fn namespace(&self) -> Option<&str> {
        self.namespace.as_deref()
    }

    /// The resource's own name (the last segment).
    pub fn name(&self) -> Option<&str> {
        self.types.last().map(|(_, n)| n.as_str()).or(self.resource_group.as_deref())
    }

    /// Full type, e.g. `Microsoft.ApiManagement/service/namedValues`.
    pub fn resource_type(&self) -> Option<String> {
        let ns = self.namespace.as_ref()?;
        let mut t = ns.clone();
        for (ty, _) in &self.types {
            t.push('/');
            t.push_str(ty);
        }
        Some(t)
    }

    /// True when `self` is `other` or lies below it.
    pub fn is_within(&self, other: &ResourceId) -> bool {
        let (a, b) = (self.to_string().to_ascii_lowercase(), other.to_string().to_ascii_lowercase());
        a == b || a.starts_with(&format!("{b}/"))
    }
}

impl fmt::Display for ResourceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "/subscriptions/{}", self.subscription)?;
        if let Some(rg) = &self.resource_group {
            write!(f, "/resourceGroups/{rg}")?;
        }
        if let Some(ns) = &self.namespace {
            write!(f, "/providers/{ns}")?;
            for (t, n) in &self.types {
                write!(f, "/{t}/{n}")?;
            }
        }
        Ok(())
    }
}

impl PartialEq for ResourceId {
    fn eq(&self, other: &Self) -> bool {
        self.to_string().eq_ignore_ascii_case(&other.to_string())
    }
}
impl Eq for ResourceId {}

impl std::hash::Hash for ResourceId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.to_string().to_ascii_lowercase().hash(state)
    }
}

impl FromStr for ResourceId {
    type Err = IdError;
    fn from_str(id: &str) -> Result<Self, IdError> {
        let err = |reason| IdError {
            id: id.to_string(),
            reason,
        };
        let rest = id.strip_prefix('/').ok_or(err("must start with '/'"))?;
        let segs: Vec<&str> = rest.trim_end_matches('/').split('/').collect();
        if segs.iter().any(|s| s.is_empty()) {
            return Err(err("empty segment"));
        }
        // A segment that a URL would resolve or split (`..`, `?`, `#`) could
        // address another resource than the one the id names.
        if segs.iter().any(|s| !is_plain_segment(s)) {
            return Err(err("a segment is '.', '..' or holds '?', '#', '%', '\\' or whitespace"));
        }
        let mut it = segs.into_iter().peekable();
        match (it.next(), it.next()) {
            (Some(k), Some(sub)) if k.eq_ignore_ascii_case("subscriptions") => {
                let mut out = ResourceId::subscription(sub);
                if it.peek().is_some_and(|k| k.eq_ignore_ascii_case("resourceGroups")) {
                    it.next();
                    out.resource_group = Some(it.next().ok_or(err("resource group name missing"))?.to_string());
                }
                match it.next() {
                    None => return Ok(out),
                    Some(k) if k.eq_ignore_ascii_case("providers") => {}
                    Some(_) => return Err(err("expected 'providers' after the resource group")),
                }
                out.namespace = Some(it.next().ok_or(err("provider namespace missing"))?.to_string());
                let rest: Vec<&str> = it.collect();
                if rest.is_empty() || !rest.len().is_multiple_of(2) {
                    return Err(err("types and names must come in pairs"));
                }
                out.types = rest.chunks(2).map(|p| (p[0].to_string(), p[1].to_string())).collect();
                Ok(out)
            }
            _ => Err(err("must start with /subscriptions/{id}")),
        }
    }
}

/// A path segment that means only itself in a URL.
pub fn is_plain_segment(s: &str) -> bool {
    !s.is_empty()
        && s != "."
        && s != ".."
        && !s
            .chars()
            .any(|c| matches!(c, '?' | '#' | '%' | '\\' | '/') || c.is_whitespace() || c.is_control())
}

impl serde::Serialize for ResourceId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for ResourceId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SVC: &str =
        "/subscriptions/00000000-0000-0000-0000-000000000001/resourceGroups/apim-rg/providers/Microsoft.ApiManagement/service/apim-src";

    #[test]
    fn round_trips() {
        let id: ResourceId = SVC.parse().unwrap();
        assert_eq!(id.to_string(), SVC);
        assert_eq!(id.subscription_id(), "00000000-0000-0000-0000-000000000001");
        assert_eq!(id.resource_group_name(), Some("apim-rg"));
        assert_eq!(id.name(), Some("apim-src"));
        assert_eq!(id.resource_type().unwrap(), "Microsoft.ApiManagement/service");
    }

    #[test]
    fn segments_compare_case_insensitively() {
        let lower: ResourceId = SVC.to_lowercase().replace("resourcegroups", "RESOURCEGROUPS").parse().unwrap();
        let id: ResourceId = SVC.parse().unwrap();
        assert_eq!(id, lower);
        // Canonical casing of the fixed segments on output.
        assert!(lower.to_string().contains("/resourceGroups/"));
    }

    #[test]
    fn children_and_containment() {
        let id: ResourceId = SVC.parse().unwrap();
        let nv = id.child("namedValues", "backend");
        assert_eq!(nv.resource_type().unwrap(), "Microsoft.ApiManagement/service/namedValues");
        assert!(nv.is_within(&id));
        let other: ResourceId = format!("{SVC}2").parse().unwrap();
        assert!(!other.is_within(&id), "a name prefix is not containment");
    }

    #[test]
    fn group_and_subscription_ids() {
        let rg: ResourceId = "/subscriptions/s/resourcegroups/rg".parse().unwrap();
        assert_eq!(rg.to_string(), "/subscriptions/s/resourceGroups/rg");
        assert_eq!(rg.name(), Some("rg"));
        let sub_level: ResourceId = "/subscriptions/s/providers/Microsoft.ApiManagement/locations/westeurope/deletedservices/x"
            .parse()
            .unwrap();
        assert_eq!(sub_level.resource_group_name(), None);
        assert_eq!(sub_level.name(), Some("x"));
    }

    #[test]
    fn rejects_malformed() {
        for bad in [
            "",
            "subscriptions/s",
            "/subscription/s",
            "/subscriptions/s/resourceGroups",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.X/service",
            "/subscriptions//resourceGroups/rg",
            "/subscriptions/s/resourceGroups/rg/foo/bar",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim-src/x/..",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/..",
            "/subscriptions/s/resourceGroups/./providers/Microsoft.ApiManagement/service/a",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/a?x=1",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/a#b",
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/a%2F..",
            "/subscriptions/s/resourceGroups/r g/providers/Microsoft.ApiManagement/service/a",
        ] {
            assert!(bad.parse::<ResourceId>().is_err(), "{bad}");
        }
    }
}
