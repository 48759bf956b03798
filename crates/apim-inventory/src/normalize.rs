//! Pure normalization: what makes two instances configured alike read the same.

use apim_families::{Family, SecretRead, READ_ONLY_EVERYWHERE, SERVICE_SETTINGS};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// An entity's properties as a snapshot keeps them: read-only fields
/// dropped (the family's own and those of every family); secret values
/// dropped (a snapshot never holds one); ids inside this service made
/// relative to it (so another service's copy compares equal); `{{id}}`
/// references to named values written with their display names (ids may
/// be generated, names are chosen); policy XML normalized; a policy's
/// read format dropped.
pub fn normalize_properties(props: &Value, service_id: &str, nv_names: &BTreeMap<String, String>, fam: &Family) -> Value {
    let mut v = props.clone();
    for s in fam.secrets.iter().filter(|s| s.read != SecretRead::NamedValue) {
        let applies =
            s.when.is_none_or(|w| v.pointer(w).and_then(Value::as_bool) == Some(true)) && v.get("keyVault").is_none_or(Value::is_null);
        if applies {
            remove_at(&mut v, s.property);
        }
    }
    if let Some(m) = v.as_object_mut() {
        strip(m);
        for k in fam.read_only {
            m.remove(*k);
        }
        if fam.policy_xml {
            m.remove("format");
            if let Some(Value::String(x)) = m.get_mut("value") {
                *x = normalize_policy_xml(x);
            }
        }
    }
    walk_strings(&mut v, &mut |s| {
        let mut out = relative_id(s, service_id);
        if out.contains("{{") {
            out = names_for_ids(&out, nv_names);
        }
        out
    });
    v
}

/// The service's own settings as a snapshot keeps them ([`SERVICE_SETTINGS`]):
/// what Azure derives from the name or sets itself is dropped (the
/// default `*.azure-api.net` hostnames with their built-in certificate,
/// a system identity's principal, addresses, regional URLs), so two
/// services set up alike compare equal.
pub fn normalize_service(service: &Value, service_id: &str) -> Value {
    let props = service.get("properties").cloned().unwrap_or_default();
    let mut out = Map::new();
    for k in SERVICE_SETTINGS {
        let v = match *k {
            "sku" | "identity" => service.get(*k),
            _ => props.get(*k),
        };
        let Some(v) = v.filter(|v| !v.is_null()) else { continue };
        let mut v = v.clone();
        match *k {
            "hostnameConfigurations" => {
                let custom: Vec<Value> = v
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|h| h.get("certificateSource").and_then(Value::as_str) != Some("BuiltIn"))
                    .map(|h| {
                        let mut h = h.clone();
                        if let Some(m) = h.as_object_mut() {
                            m.remove("certificateStatus");
                        }
                        h
                    })
                    .collect();
                if custom.is_empty() {
                    continue;
                }
                v = json!(custom);
            }
            "identity" => {
                if let Some(m) = v.as_object_mut() {
                    m.remove("principalId");
                    m.remove("tenantId");
                }
            }
            "additionalLocations" => {
                for l in v.as_array_mut().into_iter().flatten() {
                    if let Some(m) = l.as_object_mut() {
                        for ro in [
                            "gatewayRegionalUrl",
                            "publicIPAddresses",
                            "privateIPAddresses",
                            "platformVersion",
                            "outboundPublicIPAddresses",
                        ] {
                            m.remove(ro);
                        }
                    }
                }
            }
            _ => {}
        }
        out.insert(k.to_string(), v);
    }
    let mut v = Value::Object(out);
    if let Some(m) = v.as_object_mut() {
        strip(m);
    }
    walk_strings(&mut v, &mut |s| relative_id(s, service_id));
    v
}

/// Removes what a pointer names (`*` stands for any key).
pub(crate) fn remove_at(v: &mut Value, pattern: &str) {
    fn go(v: &mut Value, parts: &[&str]) {
        let Some(m) = v.as_object_mut() else { return };
        match parts {
            [] => {}
            [last] => {
                m.remove(*last);
            }
            ["*", rest @ ..] => m.values_mut().for_each(|c| go(c, rest)),
            [k, rest @ ..] => {
                if let Some(c) = m.get_mut(*k) {
                    go(c, rest)
                }
            }
        }
    }
    let parts: Vec<&str> = pattern.trim_start_matches('/').split('/').collect();
    go(v, &parts);
}

fn strip(m: &mut Map<String, Value>) {
    for k in READ_ONLY_EVERYWHERE {
        m.remove(*k);
    }
    for child in m.values_mut() {
        if let Value::Object(c) = child {
            strip(c);
        }
    }
}

/// Applies `f` to every string in `v`, in place.
pub(crate) fn walk_strings(v: &mut Value, f: &mut impl FnMut(&str) -> String) {
    match v {
        Value::String(s) => {
            let n = f(s);
            if n != *s {
                *s = n;
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| walk_strings(x, f)),
        Value::Object(m) => m.values_mut().for_each(|x| walk_strings(x, f)),
        _ => {}
    }
}

fn relative_id(s: &str, service_id: &str) -> String {
    let n = service_id.len();
    if s.len() > n && s.get(..n).is_some_and(|p| p.eq_ignore_ascii_case(service_id)) && s.as_bytes()[n] == b'/' {
        s[n..].to_string()
    } else {
        s.to_string()
    }
}

fn names_for_ids(s: &str, nv_names: &BTreeMap<String, String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(start) = rest.find("{{") {
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        match after.find("}}") {
            Some(end) => {
                let id = &after[..end];
                let name = nv_names.get(&id.to_ascii_lowercase()).map(String::as_str).unwrap_or(id);
                out.push_str("{{");
                out.push_str(name);
                out.push_str("}}");
                rest = &after[end + 2..];
            }
            None => {
                out.push_str(&rest[start..]);
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// Policy XML in one canonical form: line endings and whitespace between
/// elements dropped, attributes of each element in name order with double
/// quotes. Text that is more than whitespace is kept as written (a
/// `<set-body>` sends it byte for byte), and so are comments, CDATA and
/// expressions: they can change what a policy does.
pub fn normalize_policy_xml(xml: &str) -> String {
    let xml = xml.replace("\r\n", "\n");
    let b = xml.as_str();
    let mut out = String::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let rest = &b[i..];
        if rest.starts_with("<!--") {
            let end = rest.find("-->").map(|e| e + 3).unwrap_or(rest.len());
            out.push_str(&rest[..end]);
            i += end;
        } else if rest.starts_with("<![CDATA[") {
            let end = rest.find("]]>").map(|e| e + 3).unwrap_or(rest.len());
            out.push_str(&rest[..end]);
            i += end;
        } else if rest.starts_with('<') {
            let end = tag_end(rest);
            out.push_str(&normalize_tag(&rest[..end]));
            i += end;
        } else {
            let end = rest.find('<').unwrap_or(rest.len());
            let text = &rest[..end];
            if !text.trim().is_empty() {
                out.push_str(text);
            }
            i += end;
        }
    }
    out
}

/// The length of the tag at the start of `s`, honouring quoted attribute values.
fn tag_end(s: &str) -> usize {
    let mut quote = None;
    for (i, c) in s.char_indices().skip(1) {
        match (quote, c) {
            (None, '"' | '\'') => quote = Some(c),
            (Some(q), c) if c == q => quote = None,
            (None, '>') => return i + 1,
            _ => {}
        }
    }
    s.len()
}

fn normalize_tag(tag: &str) -> String {
    if tag.starts_with("</") || tag.starts_with("<?") || tag.starts_with("<!") {
        return tag.split_whitespace().collect::<Vec<_>>().join(" ");
    }
    let inner = tag.trim_start_matches('<').trim_end_matches('>');
    let (inner, self_closing) = match inner.trim_end().strip_suffix('/') {
        Some(x) => (x, true),
        None => (inner, false),
    };
    let inner = inner.trim();
    let name_end = inner.find(char::is_whitespace).unwrap_or(inner.len());
    let (name, mut attrs_text) = (&inner[..name_end], inner[name_end..].trim());
    let mut attrs: Vec<(String, String)> = Vec::new();
    while !attrs_text.is_empty() {
        let Some(eq) = attrs_text.find('=') else {
            // Not well-formed: keep the tag as written rather than guess.
            return tag.to_string();
        };
        let key = attrs_text[..eq].trim().to_string();
        let after = attrs_text[eq + 1..].trim_start();
        let Some(q) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            return tag.to_string();
        };
        let Some(close) = after[1..].find(q) else {
            return tag.to_string();
        };
        attrs.push((key, after[1..1 + close].to_string()));
        attrs_text = after[close + 2..].trim_start();
    }
    attrs.sort();
    let mut out = format!("<{name}");
    for (k, v) in attrs {
        if v.contains('"') {
            out.push_str(&format!(" {k}='{v}'"));
        } else {
            out.push_str(&format!(" {k}=\"{v}\""));
        }
    }
    out.push_str(if self_closing { " />" } else { ">" });
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn policy_xml_ignores_layout_and_attribute_order_but_not_meaning() {
        let a = "<policies>\r\n  <inbound>\r\n    <rate-limit calls=\"5\" renewal-period='15'></rate-limit>\r\n    <base />\r\n  </inbound>\r\n</policies>";
        let b = "<policies><inbound><rate-limit renewal-period=\"15\"   calls=\"5\"></rate-limit><base/></inbound></policies>";
        assert_eq!(normalize_policy_xml(a), normalize_policy_xml(b));
        let c = b.replace("calls=\"5\"", "calls=\"6\"");
        assert_ne!(normalize_policy_xml(a), normalize_policy_xml(&c));
        let commented = "<policies><!-- keep  me --><inbound /></policies>";
        assert_eq!(normalize_policy_xml(commented), "<policies><!-- keep  me --><inbound /></policies>");
        assert_ne!(
            normalize_policy_xml(commented),
            normalize_policy_xml("<policies><inbound /></policies>")
        );
        let expr = "<policies><inbound><set-header name=\"x\"><value>@(context.Request.Method == \"POST\" ? \"a\" : \"b\")</value></set-header></inbound></policies>";
        assert!(normalize_policy_xml(expr).contains("@(context.Request.Method == \"POST\" ? \"a\" : \"b\")"));
        // A body is sent as written: a space more is another body.
        let body = |text: &str| format!("<policies><outbound><set-body>{text}</set-body></outbound></policies>");
        assert_ne!(
            normalize_policy_xml(&body("{\"a\": 1}")),
            normalize_policy_xml(&body("{\"a\":  1}"))
        );
        assert_ne!(normalize_policy_xml(&body("ok")), normalize_policy_xml(&body(" ok\n")));
        assert_eq!(
            normalize_policy_xml(&body("ok\r\n")),
            normalize_policy_xml(&body("ok\n")),
            "line endings are layout"
        );
    }

    #[test]
    fn envelope_ids_and_references_are_made_stable() {
        let sid = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/src";
        let names = BTreeMap::from([("5f3c0000000000000000aa01".to_string(), "backend-key".to_string())]);
        let props = json!({
            "provisioningState": "Succeeded", "isOnline": true,
            "apiVersionSetId": format!("{sid}/apiVersionSets/v1"),
            "credentials": {"header": {"x-key": ["{{5f3c0000000000000000aa01}}"]}},
            "keyVault": {"secretIdentifier": "https://kv/secrets/x", "lastStatus": {"code": "Success"}},
        });
        let backends = apim_families::family("backends").unwrap();
        let n = normalize_properties(&props, sid, &names, backends);
        assert_eq!(
            n,
            json!({"apiVersionSetId": "/apiVersionSets/v1", "credentials": {"header": {"x-key": ["{{backend-key}}"]}}, "keyVault": {"secretIdentifier": "https://kv/secrets/x"}})
        );
        let other = sid.replace("/src", "/dest");
        assert_eq!(
            n,
            normalize_properties(&props.to_string().replace(sid, &other).parse().unwrap(), &other, &names, backends)
        );
    }
}
