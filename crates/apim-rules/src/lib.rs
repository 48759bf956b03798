//! What API Management accepts, written once for the tools that check input
//! before sending it and for the emulator that answers as Azure would.
//! Pure: serde is its only dependency (for the access type documents carry).
//!
//! ```
//! assert_eq!(apim_rules::sku("premium"), Some("Premium"));
//! assert!(!apim_rules::can_back_up("Consumption"));
//! assert!(apim_rules::is_valid_service_name("apim-src"));
//! assert!(!apim_rules::is_valid_named_value_name("../x"));
//! ```

mod backup;
pub mod storage;

pub use backup::AccessType;

/// Every SKU of the 2024-05-01 API, as Azure spells it, and PremiumV2,
/// which later versions add.
pub const SKUS: [&str; 9] = [
    "Developer",
    "Standard",
    "Premium",
    "Basic",
    "Consumption",
    "Isolated",
    "BasicV2",
    "StandardV2",
    "PremiumV2",
];

/// Tiers whose services cannot be backed up or restored.
pub const NO_BACKUP_TIERS: [&str; 4] = ["Consumption", "BasicV2", "StandardV2", "PremiumV2"];

/// The SKU named `name` (any case), as Azure spells it.
pub fn sku(name: &str) -> Option<&'static str> {
    SKUS.into_iter().find(|s| s.eq_ignore_ascii_case(name))
}

/// How much a SKU offers, to tell an upgrade from a downgrade (Consumption
/// lowest; the v2 tiers beside their classic names).
pub fn sku_rank(sku: &str) -> u8 {
    match self::sku(sku) {
        Some("Consumption") => 0,
        Some("Developer") => 1,
        Some("Basic" | "BasicV2") => 2,
        Some("Standard" | "StandardV2") => 3,
        Some("Premium" | "PremiumV2") => 4,
        Some("Isolated") => 5,
        _ => 0,
    }
}

/// Whether services of this SKU can be backed up and restored.
pub fn can_back_up(sku: &str) -> bool {
    !NO_BACKUP_TIERS.iter().any(|t| t.eq_ignore_ascii_case(sku))
}

/// Service names: 1-50 letters, digits and hyphens, starting with a letter
/// and not ending with a hyphen.
pub fn is_valid_service_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 50
        && name.starts_with(|c: char| c.is_ascii_alphabetic())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.ends_with('-')
}

/// Named value names (the entity id): 1-256 characters of letters, digits,
/// `-`, `_` and `.`, not starting or ending with `.`, so a name can never
/// be a path segment such as `..` that climbs out of its service.
pub fn is_valid_named_value_name(name: &str) -> bool {
    (1..=256).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'))
        && !name.starts_with('.')
        && !name.ends_with('.')
}

/// Resource group names, as ARM takes them: 1-90 letters, digits, `_`,
/// `(`, `)`, `-` and `.`, not ending with `.`.
pub fn is_valid_resource_group_name(name: &str) -> bool {
    (1..=90).contains(&name.chars().count()) && name.chars().all(|c| c.is_alphanumeric() || "-_.()".contains(c)) && !name.ends_with('.')
}

/// The longest named value APIM stores, in characters.
pub const MAX_NAMED_VALUE_LENGTH: usize = 4096;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skus_and_tiers() {
        assert_eq!(sku("standardv2"), Some("StandardV2"));
        assert_eq!(sku("Free"), None);
        for t in NO_BACKUP_TIERS {
            assert!(!can_back_up(t) && !can_back_up(&t.to_lowercase()));
            assert!(sku(t).is_some());
        }
        assert!(can_back_up("Developer"));
    }

    #[test]
    fn names() {
        assert!(is_valid_service_name("a"));
        assert!(is_valid_service_name(&"a".repeat(50)));
        for bad in ["", "1abc", "abc-", "a_b", "a.b", &"a".repeat(51)] {
            assert!(!is_valid_service_name(bad), "{bad}");
        }
        for ok in ["backend-host", "a.b_c-d", "X1"] {
            assert!(is_valid_named_value_name(ok), "{ok}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "a b",
            ".hidden",
            "end.",
            "a?b",
            "a#b",
            &"a".repeat(257),
        ] {
            assert!(!is_valid_named_value_name(bad), "{bad}");
        }
    }
}
