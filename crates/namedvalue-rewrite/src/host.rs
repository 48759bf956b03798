//! Whole-hostname matching: `api.src.example.com` is found in
//! `https://API.src.example.com:8443/x` but not in `myapi.src.example.com`
//! nor in `api.src.example.com.evil`.

/// A hostname as a `--host` rule may name: dot-separated labels of letters,
/// digits and hyphens, none empty or starting or ending with a hyphen, 253
/// characters at most. No scheme, port, path, `?` or space: those are not
/// part of a host, and a rule that wrote them would break every URL it touched.
pub fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.')
            .all(|l| !l.is_empty() && l.len() <= 63 && !l.starts_with('-') && !l.ends_with('-') && l.bytes().all(is_label_char))
}

fn is_label_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'-'
}

/// Byte ranges where `host` occurs in `text` as a whole hostname, ignoring case.
pub fn find(text: &str, host: &str) -> Vec<(usize, usize)> {
    let (t, h) = (text.as_bytes(), host.as_bytes());
    let mut out = Vec::new();
    if h.is_empty() || t.len() < h.len() {
        return out;
    }
    let mut i = 0;
    while i + h.len() <= t.len() {
        let j = i + h.len();
        let same = t[i..j].eq_ignore_ascii_case(h);
        let before_ok = i == 0 || starts_a_name(t, i);
        // After: not followed by more of a name (label character, or a dot then a label).
        let after_ok = j == t.len() || !(is_label_char(t[j]) || (t[j] == b'.' && j + 1 < t.len() && is_label_char(t[j + 1])));
        if same && before_ok && after_ok && text.is_char_boundary(i) && text.is_char_boundary(j) {
            out.push((i, j));
            i = j;
        } else {
            i += 1;
        }
    }
    out
}

/// Whether a name may start at `i`: the byte before is not part of a
/// longer name (a label character, or a dot joining a label), or is a
/// leading dot (a cookie's `Domain=.host`), or ends a percent-encoded byte
/// (`https%3A%2F%2Fhost`: the `F` of `%2F` is not a label's).
fn starts_a_name(t: &[u8], i: usize) -> bool {
    let prev = t[i - 1];
    let encoded = i >= 3 && t[i - 3] == b'%' && t[i - 2].is_ascii_hexdigit() && prev.is_ascii_hexdigit();
    let leading_dot = prev == b'.' && (i < 2 || !is_label_char(t[i - 2]));
    encoded || leading_dot || !(is_label_char(prev) || prev == b'.')
}

/// `text` with every whole-hostname occurrence of `old` replaced by `new`.
pub fn replace(text: &str, old: &str, new: &str) -> Option<String> {
    let spans = find(text, old);
    if spans.is_empty() {
        return None;
    }
    let mut out = String::with_capacity(text.len());
    let mut last = 0;
    for (a, b) in spans {
        out.push_str(&text[last..a]);
        out.push_str(new);
        last = b;
    }
    out.push_str(&text[last..]);
    Some(out)
}

/// Every string in `v` with each `(old, new)` host rule applied, in order.
pub fn replace_in_json(v: &mut serde_json::Value, hosts: &[(String, String)]) {
    use serde_json::Value;
    match v {
        Value::String(s) => {
            for (old, new) in hosts {
                if let Some(r) = replace(s, old, new) {
                    *s = r;
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| replace_in_json(x, hosts)),
        Value::Object(m) => m.values_mut().for_each(|x| replace_in_json(x, hosts)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const OLD: &str = "api.src.example.com";

    #[test]
    fn whole_hostnames_only() {
        assert_eq!(
            replace("https://api.src.example.com/v1", OLD, "api.dest.example.com").unwrap(),
            "https://api.dest.example.com/v1"
        );
        assert_eq!(
            replace("https://API.Src.Example.COM:8443/x?y", OLD, "h").unwrap(),
            "https://h:8443/x?y"
        );
        assert_eq!(replace("api.src.example.com", OLD, "h").unwrap(), "h");
        assert_eq!(
            replace("a api.src.example.com. b", OLD, "h").unwrap(),
            "a h. b",
            "a sentence's full stop is not part of the name"
        );
        assert_eq!(replace("x,api.src.example.com;api.src.example.com", OLD, "h").unwrap(), "x,h;h");
        for no in [
            "https://myapi.src.example.com/",
            "api.src.example.com.evil",
            "https://x.api.src.example.com",
            "api.src.example.community",
            "api-api.src.example.com",
        ] {
            assert_eq!(replace(no, OLD, "h"), None, "{no}");
        }
    }

    #[test]
    fn encoded_urls_and_cookie_domains_are_boundaries() {
        assert_eq!(
            replace("redirect_uri=https%3A%2F%2Fapi.src.example.com%2Fcb", OLD, "h").unwrap(),
            "redirect_uri=https%3A%2F%2Fh%2Fcb"
        );
        assert_eq!(replace("x%2fapi.src.example.com", OLD, "h").unwrap(), "x%2fh", "lower-case hex too");
        assert_eq!(
            replace("Set-Cookie: a=b; Domain=.api.src.example.com; Path=/", OLD, "h").unwrap(),
            "Set-Cookie: a=b; Domain=.h; Path=/"
        );
        assert_eq!(replace(".api.src.example.com", OLD, "h").unwrap(), ".h");
        for no in ["x.api.src.example.com", "%2Fmyapi.src.example.com", "AF2api.src.example.com"] {
            assert_eq!(replace(no, OLD, "h"), None, "{no}");
        }
    }

    #[test]
    fn non_ascii_text_is_safe() {
        assert_eq!(replace("é api.src.example.com ü", OLD, "h").unwrap(), "é h ü");
        // Matching is on bytes; slicing only ever happens on character boundaries.
        assert_eq!(replace("ééé", "é", "h").as_deref(), Some("hhh"));
        assert_eq!(replace("\u{e9}", "\u{c3}", "h"), None);
    }
}
