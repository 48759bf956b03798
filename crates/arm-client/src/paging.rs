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

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

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
