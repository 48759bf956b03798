//! The OData `$filter` forms APIM documents for named value lists. Pure.

use crate::http::error;
use axum::response::Response;
use serde_json::Value;

/// One clause of a `$filter` over named values.
#[derive(Debug, Default)]
pub(crate) struct Clause {
    field: String,
    op: String,
    value: String,
}

impl Clause {
    pub(crate) fn matches(&self, item: &Value) -> bool {
        if self.field == "tags" {
            let tags = item.pointer("/properties/tags").and_then(Value::as_array);
            return tags.is_some_and(|t| t.iter().any(|t| t.as_str().is_some_and(|t| t.eq_ignore_ascii_case(&self.value))));
        }
        let field = item
            .pointer(&format!("/properties/{}", self.field))
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_ascii_lowercase();
        let v = self.value.to_ascii_lowercase();
        match self.op.as_str() {
            "eq" => field == v,
            "ne" => field != v,
            "startswith" => field.starts_with(&v),
            "endswith" => field.ends_with(&v),
            _ => field.contains(&v),
        }
    }
}

/// The `$filter` forms APIM documents for named values: `eq`/`ne` on
/// displayName, `startswith`, `endswith`, `contains`, `substringof`, and
/// `tags/any(t: t eq 'x')`, joined by `and`.
pub(crate) fn parse_filter(f: &str) -> Result<Vec<Clause>, Response> {
    let bad = || error(400, "ValidationError", &format!("Invalid filter clause specified: '{f}'."));
    let field_of = |s: &str| -> Option<String> {
        let s = s.trim();
        let s = s.strip_prefix("properties/").unwrap_or(s);
        (s == "displayName" || s == "value").then(|| s.to_string())
    };
    let quoted = |s: &str| -> Option<String> { s.trim().strip_prefix('\'')?.strip_suffix('\'').map(|v| v.replace("''", "'")) };
    split_unquoted(f, " and ")
        .into_iter()
        .map(|c| {
            let c = c.trim();
            if let Some(inner) = c.strip_prefix("tags/any(").and_then(|r| r.strip_suffix(')')) {
                let (_, cond) = inner.split_once(':').ok_or_else(bad)?;
                let (_, v) = cond.split_once(" eq ").ok_or_else(bad)?;
                return Ok(Clause {
                    field: "tags".into(),
                    op: "eq".into(),
                    value: quoted(v).ok_or_else(bad)?,
                });
            }
            for func in ["startswith", "endswith", "contains", "substringof"] {
                if let Some(args) = c.strip_prefix(&format!("{func}(")).and_then(|r| r.strip_suffix(')')) {
                    let [a, b] = split_unquoted(args, ",")[..] else {
                        return Err(bad());
                    };
                    let (field, value) = if func == "substringof" { (b, a) } else { (a, b) };
                    return Ok(Clause {
                        field: field_of(field).ok_or_else(bad)?,
                        op: func.into(),
                        value: quoted(value).ok_or_else(bad)?,
                    });
                }
            }
            for op in ["eq", "ne"] {
                if let Some((a, b)) = c.split_once(&format!(" {op} ")) {
                    return Ok(Clause {
                        field: field_of(a).ok_or_else(bad)?,
                        op: op.into(),
                        value: quoted(b).ok_or_else(bad)?,
                    });
                }
            }
            Err(bad())
        })
        .collect()
}

/// `s` cut at every `sep` that is not inside a '…' literal (OData doubles a
/// quote inside one, which toggling twice handles).
pub(crate) fn split_unquoted<'a>(s: &'a str, sep: &str) -> Vec<&'a str> {
    let mut parts = Vec::new();
    let (mut start, mut quoted) = (0, false);
    let mut i = 0;
    while i < s.len() {
        if s.as_bytes()[i] == b'\'' {
            quoted = !quoted;
        } else if !quoted && s.as_bytes()[i..].starts_with(sep.as_bytes()) {
            parts.push(&s[start..i]);
            i += sep.len();
            start = i;
            continue;
        }
        i += 1;
    }
    parts.push(&s[start..]);
    parts
}
#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_honours_quotes() {
        let c = parse_filter("displayName eq 'salt and pepper'").unwrap();
        assert_eq!((c.len(), c[0].value.as_str()), (1, "salt and pepper"));
        let c = parse_filter("substringof('a,b and c',displayName) and tags/any(t: t eq 'x')").unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!((c[0].field.as_str(), c[0].value.as_str()), ("displayName", "a,b and c"));
        let c = parse_filter("displayName eq 'it''s and é'").unwrap();
        assert_eq!(c[0].value, "it's and é");
        assert!(parse_filter("displayName eq 'open").is_err());
    }
}
