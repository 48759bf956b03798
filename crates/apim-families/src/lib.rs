//! The registry of the resource families an API Management instance holds,
//! written once for every tool that reads, compares, scans or copies them
//! (not for the emulator, which stays an independent judge): where each
//! family lives (its collection, below which parent, a singleton or not),
//! which properties are secret and how a secret is read, which families it
//! refers to (writes go in that order), how its entities are known across
//! instances, and what a backup never carries. Pure data.
//!
//! ```
//! let apis = apim_families::family("apis").unwrap();
//! assert!(apim_families::children("apis").any(|f| f.collection == "operations"));
//! assert_eq!(apim_families::family("namedValues").unwrap().key, apim_families::Key::DisplayName);
//! assert!(apis.parent.is_none());
//! ```

/// How the entities of a family are known across two instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    /// By their id (the last path segment), which people choose.
    Id,
    /// By their display name: Azure may generate ids (a logger's key, a
    /// portal edit), names are what people choose.
    DisplayName,
}

/// How a secret property's value is read (a list never shows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretRead {
    /// `POST …/{id}/listValue` answers `{"value": …}`.
    ListValue,
}

/// A property that holds a secret, and how to read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Secret {
    /// A JSON pointer into the properties, e.g. `/value`.
    pub property: &'static str,
    /// Only when this boolean property is true (`/secret`), if set.
    pub when: Option<&'static str>,
    pub read: SecretRead,
}

/// One family: a kind of collection in a service.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Family {
    /// A name for it, unique in the registry (`apis`, `apiOperations`).
    pub name: &'static str,
    /// Its collection's path segment, as ARM spells it (`operations`).
    pub collection: &'static str,
    /// The family whose entities hold this collection; `None` directly
    /// below the service.
    pub parent: Option<&'static str>,
    /// Its entities link to the top-level entity of the same id
    /// (`products/{p}/apis/{a}` links `apis/{a}`): the link is recorded,
    /// the entity itself is read once, where it lives.
    pub link: bool,
    /// The only id an entity may have (`policy`).
    pub singleton: Option<&'static str>,
    pub secrets: &'static [Secret],
    /// Families its entities refer to: those are written first.
    pub refers_to: &'static [&'static str],
    pub key: Key,
}

const NONE: &[Secret] = &[];

/// Every family, parents before their children.
pub const FAMILIES: &[Family] = &[
    Family {
        name: "namedValues",
        collection: "namedValues",
        parent: None,
        link: false,
        singleton: None,
        secrets: &[Secret {
            property: "/value",
            when: Some("/secret"),
            read: SecretRead::ListValue,
        }],
        refers_to: &[],
        key: Key::DisplayName,
    },
    top("tags", &[]),
    top("apiVersionSets", &[]),
    top("backends", &["namedValues"]),
    top("loggers", &["namedValues"]),
    top("apis", &["apiVersionSets"]),
    top("products", &[]),
    Family {
        singleton: Some("policy"),
        ..top("policies", &["namedValues", "backends"])
    },
    top("diagnostics", &["loggers"]),
    below("apiOperations", "operations", "apis", &[]),
    Family {
        singleton: Some("policy"),
        ..below("apiPolicies", "policies", "apis", &["namedValues", "backends"])
    },
    below("apiDiagnostics", "diagnostics", "apis", &["loggers"]),
    Family {
        link: true,
        ..below("apiTags", "tags", "apis", &["tags"])
    },
    Family {
        singleton: Some("policy"),
        ..below("apiOperationPolicies", "policies", "apiOperations", &["namedValues", "backends"])
    },
    Family {
        link: true,
        ..below("productApis", "apis", "products", &["apis"])
    },
    Family {
        singleton: Some("policy"),
        ..below("productPolicies", "policies", "products", &["namedValues", "backends"])
    },
    Family {
        link: true,
        ..below("productTags", "tags", "products", &["tags"])
    },
];

const fn top(name: &'static str, refers_to: &'static [&'static str]) -> Family {
    Family {
        name,
        collection: name,
        parent: None,
        link: false,
        singleton: None,
        secrets: NONE,
        refers_to,
        key: Key::Id,
    }
}

const fn below(name: &'static str, collection: &'static str, parent: &'static str, refers_to: &'static [&'static str]) -> Family {
    Family {
        parent: Some(parent),
        collection,
        ..top(name, refers_to)
    }
}

/// The family of this name.
pub fn family(name: &str) -> Option<&'static Family> {
    FAMILIES.iter().find(|f| f.name == name)
}

/// The families directly below the service.
pub fn top_level() -> impl Iterator<Item = &'static Family> {
    FAMILIES.iter().filter(|f| f.parent.is_none())
}

/// The families held by each entity of `parent`.
pub fn children(parent: &'static str) -> impl Iterator<Item = &'static Family> {
    FAMILIES.iter().filter(move |f| f.parent == Some(parent))
}

/// What a backup never carries, and so a restore never brings: redo these
/// on the target (the service's own settings and what lives outside it).
pub const NOT_IN_BACKUP: &[&str] = &[
    "custom domain TLS certificates",
    "custom CA (root and intermediate) certificates",
    "managed identity settings",
    "virtual network integration settings",
    "Azure Monitor diagnostic settings",
    "protocol and cipher settings",
    "developer portal content",
    "usage and analytics data",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_is_unique_and_every_parent_and_reference_is_a_family() {
        for (i, f) in FAMILIES.iter().enumerate() {
            assert!(FAMILIES.iter().skip(i + 1).all(|g| g.name != f.name), "{} twice", f.name);
            if let Some(p) = f.parent {
                let at = FAMILIES
                    .iter()
                    .position(|g| g.name == p)
                    .unwrap_or_else(|| panic!("{}: parent {p}", f.name));
                assert!(at < i, "{}: its parent comes first", f.name);
            }
            for r in f.refers_to {
                assert!(family(r).is_some(), "{} refers to {r}", f.name);
            }
        }
    }

    #[test]
    fn a_family_comes_after_what_it_refers_to_unless_it_links_back() {
        for (i, f) in FAMILIES.iter().enumerate() {
            for r in f.refers_to {
                let at = FAMILIES.iter().position(|g| g.name == *r).unwrap();
                assert!(at < i, "{} is written before {r}, which it refers to", f.name);
            }
        }
    }

    #[test]
    fn the_shape_the_inventory_reads() {
        let top: Vec<&str> = top_level().map(|f| f.collection).collect();
        assert_eq!(
            top,
            [
                "namedValues",
                "tags",
                "apiVersionSets",
                "backends",
                "loggers",
                "apis",
                "products",
                "policies",
                "diagnostics"
            ]
        );
        let below_api: Vec<&str> = children("apis").map(|f| f.collection).collect();
        assert_eq!(below_api, ["operations", "policies", "diagnostics", "tags"]);
        assert!(children("products").any(|f| f.collection == "apis" && f.link));
    }
}
