//! The names Storage accepts, checked before they become part of a URL: a
//! container named `//host` or a blob named `a#b` would address something
//! else than the user meant.

/// Storage account names: 3-24 lowercase letters and digits.
pub fn is_valid_account_name(name: &str) -> bool {
    (3..=24).contains(&name.len()) && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
}

/// Container names: 3-63 lowercase letters, digits and hyphens, every
/// hyphen between two letters or digits.
pub fn is_valid_container_name(name: &str) -> bool {
    (3..=63).contains(&name.len())
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--")
}

/// Blob names: 1-1024 characters, none of them a control character, `?`,
/// `#` or `\\`, and no path segment that is empty, `.` or `..` (a URL
/// would resolve it to another blob).
pub fn is_valid_blob_name(name: &str) -> bool {
    (1..=1024).contains(&name.chars().count())
        && !name.chars().any(|c| c.is_control() || matches!(c, '?' | '#' | '\\'))
        && name.split('/').all(|seg| !seg.is_empty() && seg != "." && seg != "..")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert!(is_valid_account_name("apimbackups2"));
        for bad in ["ab", "Apim", "apim-backups", "a234567890123456789012345"] {
            assert!(!is_valid_account_name(bad), "{bad}");
        }
        assert!(is_valid_container_name("apim-backups"));
        for bad in ["ab", "-abc", "abc-", "a--b", "Abc", "a_b", "//host"] {
            assert!(!is_valid_container_name(bad), "{bad}");
        }
        assert!(is_valid_blob_name("apim-src-20261129T000000Z.apimbackup"));
        assert!(is_valid_blob_name("nightly/apim-src.apimbackup"));
        for bad in ["", "a?b", "a#b", "../x", "a/./b", "/a", "a/", "a\\b", "a\nb", &"x".repeat(1025)] {
            assert!(!is_valid_blob_name(bad), "{bad:?}");
        }
    }
}
