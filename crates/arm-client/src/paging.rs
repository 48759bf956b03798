//! Pageable lists: `{"value":[…],"nextLink":"…"}`.

use serde_json::Value;

/// The items of one page and the link to the next, if any. An empty or
/// null nextLink ends the list (APIM sends `""`).
pub fn read_page(page: Value) -> (Vec<Value>, Option<String>) {
    let mut page = page;
    let link = page
        .get("nextLink")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_string);
    let items = match page.get_mut("value").map(Value::take) {
        Some(Value::Array(a)) => a,
        _ => Vec::new(),
    };
    (items, link)
}

/// The links of every page after the first, when the first says how
/// many items there are (`count`, as APIM's lists do) and its nextLink
/// pages by `$skip`: those pages can then be read at once instead of one
/// after another. `None` when the list does not page that way.
pub fn remaining_pages(next: &url::Url, first_len: usize, count: u64) -> Option<Vec<url::Url>> {
    let skip: u64 = next.query_pairs().find(|(k, _)| k == "$skip")?.1.parse().ok()?;
    if first_len == 0 || skip != first_len as u64 || next.query_pairs().any(|(k, _)| k == "$top" || k == "$skiptoken") {
        return None;
    }
    let mut out = Vec::new();
    let mut at = skip;
    while at < count {
        let mut u = next.clone();
        let pairs: Vec<(String, String)> = next
            .query_pairs()
            .map(|(k, v)| {
                if k == "$skip" {
                    (k.into_owned(), at.to_string())
                } else {
                    (k.into_owned(), v.into_owned())
                }
            })
            .collect();
        u.query_pairs_mut().clear().extend_pairs(pairs);
        out.push(u);
        at += first_len as u64;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pages_after_the_first_are_known_from_count_and_skip() {
        let next = url::Url::parse("https://arm/x/namedValues?api-version=2024-05-01&$skip=100").unwrap();
        let pages = remaining_pages(&next, 100, 250).unwrap();
        let skips: Vec<String> = pages
            .iter()
            .map(|u| u.query_pairs().find(|(k, _)| k == "$skip").unwrap().1.into_owned())
            .collect();
        assert_eq!(skips, ["100", "200"]);
        assert!(pages.iter().all(|u| u.query().unwrap().contains("api-version=2024-05-01")));
        // Not that way: a token, a $top, or a skip that is not the page's length.
        assert!(remaining_pages(&url::Url::parse("https://arm/x?$skipToken=abc").unwrap(), 100, 250).is_none());
        assert!(remaining_pages(&url::Url::parse("https://arm/x?$skip=100&$top=5").unwrap(), 100, 250).is_none());
        assert!(remaining_pages(&url::Url::parse("https://arm/x?$skip=50").unwrap(), 100, 250).is_none());
    }

    #[test]
    fn reads_items_and_link() {
        let (items, link) = read_page(json!({"value":[1,2],"nextLink":"https://x/next?$skip=2"}));
        assert_eq!(items, vec![json!(1), json!(2)]);
        assert_eq!(link.as_deref(), Some("https://x/next?$skip=2"));
    }

    #[test]
    fn empty_or_missing_link_ends() {
        assert_eq!(read_page(json!({"value":[],"nextLink":""})).1, None);
        assert_eq!(read_page(json!({"value":[1],"nextLink":null})).1, None);
        assert_eq!(read_page(json!({"value":[1]})), (vec![json!(1)], None));
        assert_eq!(read_page(json!({})).0, Vec::<Value>::new());
    }
}
