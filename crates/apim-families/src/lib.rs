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

/// How a secret property's value is read (a GET never shows it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SecretRead {
    /// `POST …/{id}/listValue` answers `{"value": …}` (named values).
    ListValue,
    /// `POST …/{id}/listSecrets` answers an object holding the property
    /// under its own name (subscription keys, client secrets, the portal's
    /// delegation validation key).
    ListSecrets,
    /// The property is a `{{reference}}` to a secret named value that
    /// Azure made for it (a cache's connection string, a logger's key):
    /// the value is read, compared and scanned as that named value.
    NamedValue,
    /// Write-only for good: no call reads it back (a user's password, an
    /// uploaded certificate's private key, a credential provider's client
    /// secret). What can be compared is what Azure shows beside it.
    Never,
}

/// A property that holds a secret, and how to read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Secret {
    /// A JSON pointer into the properties, e.g. `/value`; `*` stands for
    /// any key (`/oauth2/grantTypes/*/clientSecret`).
    pub property: &'static str,
    /// Only when this boolean property is true (`/secret`), if set.
    pub when: Option<&'static str>,
    pub read: SecretRead,
}

impl Secret {
    /// The name the value has in a `listSecrets` answer: the pointer's last key.
    pub fn name(&self) -> &'static str {
        self.property.rsplit('/').next().unwrap_or(self.property)
    }
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
    /// The only id an entity may have (`policy`, a wiki's `default`).
    pub singleton: Option<&'static str>,
    pub secrets: &'static [Secret],
    /// Properties Azure sets and no one configures (dates, states): left
    /// out of a snapshot, never compared. Some apply to every family
    /// ([`READ_ONLY_EVERYWHERE`]).
    pub read_only: &'static [&'static str],
    /// Families it refers to: those are written first.
    pub refers_to: &'static [&'static str],
    pub key: Key,
    /// Whether a backup carries it (Microsoft's backup article: the
    /// developer portal's content is not backed up).
    pub in_backup: bool,
    /// The format a policy-like document is written in, if it is one:
    /// its `value` is normalized as policy XML.
    pub policy_xml: bool,
    /// Every instance has its entities (notifications, email templates,
    /// portal settings): a copy updates them, never deletes them.
    pub fixed: bool,
    /// Its entities' ids are ids of this top-level family (a gateway's
    /// certificate authority is named by its certificate): it needs that
    /// entity, as a link needs the one it links.
    pub id_of: Option<&'static str>,
}

/// Entities Azure makes in every instance and refuses to delete (the
/// built-in groups, the administrator): a copy never deletes them.
pub const BUILT_IN: &[&str] = &["groups/administrators", "groups/developers", "groups/guests", "users/1"];

/// Whether a copy may delete the entity at this snapshot path.
pub fn deletable(path: &str) -> bool {
    !BUILT_IN.iter().any(|b| b.eq_ignore_ascii_case(path)) && family_of(path).is_some_and(|f| !f.fixed)
}

/// Read-only properties of any family.
pub const READ_ONLY_EVERYWHERE: &[&str] = &["provisioningState", "isOnline", "lastStatus"];

const NONE: &[Secret] = &[];

const fn secret(property: &'static str, read: SecretRead) -> Secret {
    Secret {
        property,
        when: None,
        read,
    }
}

/// Every family, parents before their children, each after what it refers to.
pub const FAMILIES: &[Family] = &[
    Family {
        key: Key::DisplayName,
        secrets: &[Secret {
            property: "/value",
            when: Some("/secret"),
            read: SecretRead::ListValue,
        }],
        ..top("namedValues", &[])
    },
    top("tags", &[]),
    top("apiVersionSets", &[]),
    Family {
        secrets: &[secret("/data", SecretRead::Never), secret("/password", SecretRead::Never)],
        ..top("certificates", &["namedValues"])
    },
    top("backends", &["namedValues", "certificates"]),
    Family {
        secrets: &[
            secret("/credentials/instrumentationKey", SecretRead::NamedValue),
            secret("/credentials/connectionString", SecretRead::NamedValue),
        ],
        ..top("loggers", &["namedValues"])
    },
    Family {
        secrets: &[secret("/connectionString", SecretRead::NamedValue)],
        ..top("caches", &["namedValues"])
    },
    Family {
        policy_xml: true,
        ..top("policyFragments", &["namedValues", "backends"])
    },
    Family {
        secrets: &[
            secret("/clientSecret", SecretRead::ListSecrets),
            secret("/resourceOwnerUsername", SecretRead::ListSecrets),
            secret("/resourceOwnerPassword", SecretRead::ListSecrets),
        ],
        ..top("authorizationServers", &[])
    },
    Family {
        secrets: &[secret("/clientSecret", SecretRead::ListSecrets)],
        ..top("identityProviders", &[])
    },
    Family {
        secrets: &[secret("/clientSecret", SecretRead::ListSecrets)],
        ..top("openidConnectProviders", &[])
    },
    top("schemas", &[]),
    top("documentations", &[]),
    top("apis", &["apiVersionSets", "authorizationServers", "openidConnectProviders"]),
    top("products", &[]),
    Family {
        secrets: &[secret("/password", SecretRead::Never)],
        read_only: &["registrationDate"],
        ..top("users", &[])
    },
    Family {
        read_only: &["builtIn"],
        ..top("groups", &[])
    },
    Family {
        secrets: &[
            secret("/primaryKey", SecretRead::ListSecrets),
            secret("/secondaryKey", SecretRead::ListSecrets),
        ],
        read_only: &[
            "createdDate",
            "startDate",
            "expirationDate",
            "endDate",
            "notificationDate",
            "stateComment",
        ],
        ..top("subscriptions", &["apis", "products", "users"])
    },
    Family {
        singleton: Some("policy"),
        policy_xml: true,
        ..top("policies", &["namedValues", "backends", "policyFragments", "caches"])
    },
    top("diagnostics", &["loggers"]),
    top("gateways", &[]),
    Family {
        secrets: &[secret("/validationKey", SecretRead::ListSecrets)],
        fixed: true,
        ..top("portalsettings", &[])
    },
    Family {
        fixed: true,
        ..top("notifications", &[])
    },
    Family {
        fixed: true,
        ..top("templates", &[])
    },
    Family {
        secrets: &[secret("/oauth2/grantTypes/*/clientSecret", SecretRead::Never)],
        ..top("authorizationProviders", &[])
    },
    top("policyRestrictions", &[]),
    Family {
        in_backup: false,
        ..top("contentTypes", &[])
    },
    below("apiOperations", "operations", "apis", &[]),
    Family {
        singleton: Some("policy"),
        policy_xml: true,
        ..below("apiPolicies", "policies", "apis", &["namedValues", "backends", "policyFragments"])
    },
    below("apiDiagnostics", "diagnostics", "apis", &["loggers"]),
    Family {
        link: true,
        ..below("apiTags", "tags", "apis", &["tags"])
    },
    below("apiSchemas", "schemas", "apis", &[]),
    Family {
        read_only: &["createdDateTime", "updatedDateTime"],
        ..below("apiReleases", "releases", "apis", &[])
    },
    Family {
        singleton: Some("default"),
        ..below("apiWikis", "wikis", "apis", &["documentations"])
    },
    below("apiResolvers", "resolvers", "apis", &[]),
    Family {
        read_only: &["displayName", "tagId"],
        ..below("apiTagDescriptions", "tagDescriptions", "apis", &["tags"])
    },
    Family {
        singleton: Some("policy"),
        policy_xml: true,
        ..below(
            "apiOperationPolicies",
            "policies",
            "apiOperations",
            &["namedValues", "backends", "policyFragments"],
        )
    },
    Family {
        link: true,
        ..below("apiOperationTags", "tags", "apiOperations", &["tags"])
    },
    Family {
        singleton: Some("policy"),
        policy_xml: true,
        ..below(
            "apiResolverPolicies",
            "policies",
            "apiResolvers",
            &["namedValues", "backends", "policyFragments"],
        )
    },
    Family {
        link: true,
        ..below("productApis", "apis", "products", &["apis"])
    },
    Family {
        singleton: Some("policy"),
        policy_xml: true,
        ..below(
            "productPolicies",
            "policies",
            "products",
            &["namedValues", "backends", "policyFragments"],
        )
    },
    Family {
        link: true,
        ..below("productTags", "tags", "products", &["tags"])
    },
    Family {
        link: true,
        ..below("productGroups", "groups", "products", &["groups"])
    },
    Family {
        singleton: Some("default"),
        ..below("productWikis", "wikis", "products", &["documentations"])
    },
    Family {
        link: true,
        ..below("groupUsers", "users", "groups", &["users"])
    },
    Family {
        link: true,
        ..below("gatewayApis", "apis", "gateways", &["apis"])
    },
    below(
        "gatewayHostnameConfigurations",
        "hostnameConfigurations",
        "gateways",
        &["certificates"],
    ),
    Family {
        id_of: Some("certificates"),
        ..below(
            "gatewayCertificateAuthorities",
            "certificateAuthorities",
            "gateways",
            &["certificates"],
        )
    },
    below("notificationRecipientUsers", "recipientUsers", "notifications", &["users"]),
    below("notificationRecipientEmails", "recipientEmails", "notifications", &[]),
    Family {
        secrets: &[secret("/parameters/clientSecret", SecretRead::Never)],
        read_only: &["status", "error"],
        ..below("authorizations", "authorizations", "authorizationProviders", &[])
    },
    below("authorizationAccessPolicies", "accessPolicies", "authorizations", &[]),
    Family {
        in_backup: false,
        ..below("contentItems", "contentItems", "contentTypes", &[])
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
        read_only: &[],
        refers_to,
        key: Key::Id,
        in_backup: true,
        policy_xml: false,
        fixed: false,
        id_of: None,
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

/// The family of the entity at a snapshot path (`apis/echo/operations/get`
/// is an `apiOperations`), or `None` for a path no family has.
pub fn family_of(path: &str) -> Option<&'static Family> {
    let segs: Vec<&str> = path.split('/').collect();
    if !segs.len().is_multiple_of(2) {
        return None;
    }
    let mut at: Option<&'static Family> = None;
    for pair in segs.chunks(2) {
        let coll = pair[0];
        at = Some(match at {
            None => top_level().find(|f| f.collection == coll)?,
            Some(p) => children(p.name).find(|f| f.collection == coll)?,
        });
    }
    at
}

impl Family {
    /// The top-level family whose entity of the same id this one needs: a
    /// link's, or [`Family::id_of`].
    pub fn named_after(&self) -> Option<&'static str> {
        if self.link {
            top_level().find(|f| f.collection == self.collection).map(|f| f.name)
        } else {
            self.id_of
        }
    }
}

/// The service's own settings: one entity a snapshot keeps at [`SERVICE_PATH`].
pub const SERVICE_PATH: &str = "service";

/// The service's settings a copy must match, as properties of the service
/// (`sku` is the resource's own, beside `properties`): what a backup
/// never carries and an operator redoes on the target.
pub const SERVICE_SETTINGS: &[&str] = &[
    "sku",
    "identity",
    "hostnameConfigurations",
    "customProperties",
    "publicNetworkAccess",
    "virtualNetworkType",
    "virtualNetworkConfiguration",
    "apiVersionConstraint",
    "additionalLocations",
    "certificates",
];

/// What a backup never carries, and so a restore never brings: redo these
/// on the target (the service's own settings and what lives outside it).
pub const NOT_IN_BACKUP: &[&str] = &[
    "custom domain TLS certificates",
    "custom CA (root and intermediate) certificates",
    "managed identity settings",
    "virtual network integration settings",
    "Azure Monitor diagnostic settings",
    "protocol and cipher settings",
    "developer portal content (content types and items)",
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
        assert_eq!(top_level().count(), 27);
        assert!(top_level().take(2).any(|f| f.collection == "namedValues"));
        let below_api: Vec<&str> = children("apis").map(|f| f.collection).collect();
        assert_eq!(
            below_api,
            [
                "operations",
                "policies",
                "diagnostics",
                "tags",
                "schemas",
                "releases",
                "wikis",
                "resolvers",
                "tagDescriptions"
            ]
        );
        assert!(children("products").any(|f| f.collection == "apis" && f.link));
        assert_eq!(family("productGroups").unwrap().named_after(), Some("groups"));
        assert_eq!(family("gatewayCertificateAuthorities").unwrap().named_after(), Some("certificates"));
        assert_eq!(family("apiOperations").unwrap().named_after(), None);
        assert_eq!(
            family_of("apis/echo/operations/get/policies/policy").unwrap().name,
            "apiOperationPolicies"
        );
        assert_eq!(family_of("apis/g/resolvers/r/policies/policy").unwrap().name, "apiResolverPolicies");
        assert_eq!(family_of("groups/g/users/u").unwrap().name, "groupUsers");
        assert!(family_of("apis/echo/operations").is_none() && family_of("nothing/x").is_none());
    }

    #[test]
    fn built_in_and_fixed_entities_are_never_deleted() {
        assert!(!deletable("groups/developers") && !deletable("templates/newIssueNotificationMessage"));
        assert!(!deletable("users/1") && !deletable("portalsettings/signin"));
        assert!(deletable("groups/developers/users/alice") && deletable("notifications/x/recipientEmails/a@b.c"));
        assert!(deletable("apis/echo") && deletable("users/10") && !deletable("nothing/x"));
    }

    #[test]
    fn what_a_backup_leaves_out_is_named_in_the_list_too() {
        for f in FAMILIES.iter().filter(|f| !f.in_backup && f.parent.is_none()) {
            assert!(NOT_IN_BACKUP.iter().any(|n| n.contains("portal content")), "{}", f.name);
        }
        let kinds = |r: SecretRead| FAMILIES.iter().flat_map(|f| f.secrets).filter(|s| s.read == r).count();
        assert!(kinds(SecretRead::ListSecrets) >= 7 && kinds(SecretRead::Never) >= 4);
    }
}
