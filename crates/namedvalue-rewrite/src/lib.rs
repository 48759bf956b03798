//! Rewrite rules for APIM named values, and the plan they make. Pure: no
//! I/O, so a rule set can be reviewed and tested on its own.
//!
//! ```
//! use namedvalue_rewrite::{NamedValue, Rule, RuleSet};
//! let rules = RuleSet::new(vec![Rule::parse("host", "api.src.example.com=api.dest.example.com").unwrap()]);
//! let nv = NamedValue::plain("backend", "https://api.src.example.com/v1");
//! let change = rules.rewrite(&nv).unwrap();
//! assert_eq!(change.value.as_deref(), Some("https://api.dest.example.com/v1"));
//! assert_eq!(change.fired, vec![0]);
//! ```
//!
//! Rules apply in order, each to the output of the one before. A rule may be
//! limited to named values whose name, or one of whose tags, matches a glob
//! (`*`, `?`, case-insensitive).

pub mod host;

use regex::Regex;
use serde::Deserialize;

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum RuleError {
    #[error("{0}: expected OLD=NEW")]
    NotAPair(String),
    #[error("{0}: OLD must not be empty")]
    EmptyOld(String),
    #[error("--regex {0}: {1}")]
    BadRegex(String, String),
    #[error("unknown rule kind '{0}': use host, replace, regex or identity-client-id")]
    UnknownKind(String),
    #[error("rules file: {0}")]
    File(String),
    #[error("{0}: {1} is not a hostname (letters, digits, hyphens and dots; no scheme, port, path, '?' or space)")]
    NotAHost(String, String),
}

/// A Key Vault reference of a named value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyVault {
    pub secret_identifier: String,
    pub identity_client_id: Option<String>,
}

/// What a rule looks at. `value` is the plain or secret value (the caller
/// fetches secrets); `None` for Key Vault references.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedValue {
    pub name: String,
    pub value: Option<String>,
    pub tags: Vec<String>,
    pub key_vault: Option<KeyVault>,
}

impl NamedValue {
    pub fn plain(name: &str, value: &str) -> Self {
        NamedValue {
            name: name.into(),
            value: Some(value.into()),
            tags: Vec::new(),
            key_vault: None,
        }
    }
}

#[derive(Debug, Clone)]
pub enum RuleKind {
    /// A whole hostname, case-insensitively; ports, paths and scheme stay.
    Host { old: String, new: String },
    /// A literal substring.
    Replace { old: String, new: String },
    /// A regular expression; the replacement may use `$1`, `${name}`.
    Regex { re: Regex, replacement: String },
    /// The managed identity's client id in Key Vault references.
    IdentityClientId { old: String, new: String },
}

#[derive(Debug, Clone)]
pub struct Rule {
    pub kind: RuleKind,
    /// Globs over named value names; empty = all.
    pub names: Vec<String>,
    /// Globs over tags; empty = all.
    pub tags: Vec<String>,
}

fn pair(flag: &str, spec: &str) -> Result<(String, String), RuleError> {
    let (old, new) = spec
        .split_once('=')
        .ok_or_else(|| RuleError::NotAPair(format!("--{flag} {spec}")))?;
    if old.is_empty() {
        return Err(RuleError::EmptyOld(format!("--{flag} {spec}")));
    }
    Ok((old.to_string(), new.to_string()))
}

impl Rule {
    /// A rule from a flag: `host`, `replace`, `regex` or `identity-client-id`
    /// with `OLD=NEW` (for regex, split at the first `=`; a pattern with `=`
    /// belongs in a rules file).
    pub fn parse(kind: &str, spec: &str) -> Result<Rule, RuleError> {
        let kind = match kind {
            "host" => {
                let (old, new) = pair(kind, spec)?;
                for h in [&old, &new] {
                    if !host::is_hostname(h) {
                        return Err(RuleError::NotAHost(format!("--host {spec}"), format!("'{h}'")));
                    }
                }
                RuleKind::Host { old, new }
            }
            "replace" => {
                let (old, new) = pair(kind, spec)?;
                RuleKind::Replace { old, new }
            }
            "regex" => {
                let (pattern, replacement) = pair(kind, spec)?;
                let re = Regex::new(&pattern)
                    .map_err(|e| RuleError::BadRegex(pattern.clone(), e.to_string().lines().last().unwrap_or("").trim().to_string()))?;
                RuleKind::Regex { re, replacement }
            }
            "identity-client-id" => {
                let (old, new) = pair(kind, spec)?;
                RuleKind::IdentityClientId { old, new }
            }
            other => return Err(RuleError::UnknownKind(other.to_string())),
        };
        Ok(Rule {
            kind,
            names: Vec::new(),
            tags: Vec::new(),
        })
    }

    /// How the rule is written on the command line, for reports.
    pub fn label(&self) -> String {
        let scope = if self.names.is_empty() && self.tags.is_empty() {
            String::new()
        } else {
            format!(" (names {:?}, tags {:?})", self.names, self.tags)
        };
        let body = match &self.kind {
            RuleKind::Host { old, new } => format!("--host {old}={new}"),
            RuleKind::Replace { old, new } => format!("--replace {old}={new}"),
            RuleKind::Regex { re, replacement } => format!("--regex {}={replacement}", re.as_str()),
            RuleKind::IdentityClientId { old, new } => format!("--rewrite-identity {old}={new}"),
        };
        body + &scope
    }

    fn applies_to(&self, nv: &NamedValue) -> bool {
        (self.names.is_empty() || self.names.iter().any(|g| glob(g, &nv.name)))
            && (self.tags.is_empty() || self.tags.iter().any(|g| nv.tags.iter().any(|t| glob(g, t))))
    }

    /// The text rewritten, or `None` when the rule does not match it.
    fn apply_text(&self, text: &str) -> Option<String> {
        match &self.kind {
            RuleKind::Host { old, new } => host::replace(text, old, new),
            RuleKind::Replace { old, new } => text.contains(old.as_str()).then(|| text.replace(old.as_str(), new)),
            RuleKind::Regex { re, replacement } => re.is_match(text).then(|| re.replace_all(text, replacement.as_str()).into_owned()),
            RuleKind::IdentityClientId { .. } => None,
        }
    }

    /// Whether `text` already holds what this rule writes (so a rule that
    /// no longer matches after an apply is not a typo).
    fn already_applied(&self, text: &str) -> bool {
        match &self.kind {
            RuleKind::Host { new, .. } => !new.is_empty() && !host::find(text, new).is_empty(),
            RuleKind::Replace { new, .. } => !new.is_empty() && text.contains(new.as_str()),
            // Only a literal replacement can be looked for.
            RuleKind::Regex { replacement, .. } => {
                !replacement.is_empty() && !replacement.contains('$') && text.contains(replacement.as_str())
            }
            RuleKind::IdentityClientId { new, .. } => text.eq_ignore_ascii_case(new),
        }
    }
}

/// The kinds of rule, as flags and documents name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RuleType {
    Host,
    Replace,
    Regex,
    IdentityClientId,
}

impl RuleType {
    pub fn as_str(self) -> &'static str {
        match self {
            RuleType::Host => "host",
            RuleType::Replace => "replace",
            RuleType::Regex => "regex",
            RuleType::IdentityClientId => "identity-client-id",
        }
    }
}

/// A rule as data, for documents that must re-apply it later.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, Deserialize)]
pub struct RuleSpec {
    pub kind: RuleType,
    pub old: String,
    pub new: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tags: Vec<String>,
}

impl Rule {
    pub fn spec(&self) -> RuleSpec {
        let (kind, old, new) = match &self.kind {
            RuleKind::Host { old, new } => (RuleType::Host, old.clone(), new.clone()),
            RuleKind::Replace { old, new } => (RuleType::Replace, old.clone(), new.clone()),
            RuleKind::Regex { re, replacement } => (RuleType::Regex, re.as_str().to_string(), replacement.clone()),
            RuleKind::IdentityClientId { old, new } => (RuleType::IdentityClientId, old.clone(), new.clone()),
        };
        RuleSpec {
            kind,
            old,
            new,
            names: self.names.clone(),
            tags: self.tags.clone(),
        }
    }

    /// The rule a document carries. Built field by field, not re-parsed
    /// as `OLD=NEW`, so an `=` inside OLD survives the round trip.
    pub fn from_spec(s: &RuleSpec) -> Result<Rule, RuleError> {
        let label = || format!("--{} {}={}", s.kind.as_str(), s.old, s.new);
        if s.old.is_empty() {
            return Err(RuleError::EmptyOld(label()));
        }
        let (old, new) = (s.old.clone(), s.new.clone());
        let kind = match s.kind {
            RuleType::Regex => RuleKind::Regex {
                re: Regex::new(&s.old)
                    .map_err(|e| RuleError::BadRegex(s.old.clone(), e.to_string().lines().last().unwrap_or("").trim().to_string()))?,
                replacement: new,
            },
            RuleType::Host => {
                for h in [&old, &new] {
                    if !host::is_hostname(h) {
                        return Err(RuleError::NotAHost(label(), format!("'{h}'")));
                    }
                }
                RuleKind::Host { old, new }
            }
            RuleType::Replace => RuleKind::Replace { old, new },
            RuleType::IdentityClientId => RuleKind::IdentityClientId { old, new },
        };
        Ok(Rule {
            kind,
            names: s.names.clone(),
            tags: s.tags.clone(),
        })
    }
}

/// `*` and `?` globs, case-insensitive.
pub fn glob(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.to_lowercase().chars().collect(), text.to_lowercase().chars().collect());
    let (mut pi, mut ti, mut star, mut mark) = (0, 0, None, 0);
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some(pi);
            mark = ti;
            pi += 1;
        } else if let Some(s) = star {
            pi = s + 1;
            mark += 1;
            ti = mark;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// What the rules make of one named value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewrite {
    pub value: Option<String>,
    pub key_vault: Option<KeyVault>,
    /// Indexes of the rules that changed something, in order.
    pub fired: Vec<usize>,
}

/// The longest named value APIM stores, in characters.
pub const MAX_VALUE_CHARS: usize = 4096;
/// Rewriting stops once a value is longer than this many bytes (the most
/// 4096 characters can take): the result is then too long to store anyway.
const MAX_VALUE_BYTES: usize = MAX_VALUE_CHARS * 4;

impl Rewrite {
    /// Whether the new value is longer than APIM stores.
    pub fn too_long(&self) -> bool {
        self.value.as_ref().is_some_and(|v| v.chars().count() > MAX_VALUE_CHARS)
    }
}

#[derive(Debug, Clone)]
pub struct RuleSet {
    rules: Vec<Rule>,
}

impl RuleSet {
    pub fn new(rules: Vec<Rule>) -> Self {
        RuleSet { rules }
    }

    pub fn rules(&self) -> &[Rule] {
        &self.rules
    }

    /// The named value after every rule, or `None` when nothing changes.
    pub fn rewrite(&self, nv: &NamedValue) -> Option<Rewrite> {
        let mut value = nv.value.clone();
        let mut kv = nv.key_vault.clone();
        let mut fired = Vec::new();
        for (i, rule) in self.rules.iter().enumerate() {
            if !rule.applies_to(nv) {
                continue;
            }
            let mut hit = false;
            if let Some(v) = value.as_deref() {
                // Past what APIM stores, stop: rules that grow a value on
                // every pass would otherwise grow it without bound.
                if v.len() > MAX_VALUE_BYTES {
                    break;
                }
                if let Some(n) = rule.apply_text(v) {
                    hit |= n != v;
                    value = Some(n);
                }
            }
            if let Some(k) = kv.as_mut() {
                if let Some(n) = rule.apply_text(&k.secret_identifier) {
                    hit |= n != k.secret_identifier;
                    k.secret_identifier = n;
                }
                if let (RuleKind::IdentityClientId { old, new }, Some(id)) = (&rule.kind, k.identity_client_id.as_mut()) {
                    if id.eq_ignore_ascii_case(old) && id != new {
                        *id = new.clone();
                        hit = true;
                    }
                }
            }
            if hit {
                fired.push(i);
            }
        }
        (value != nv.value || kv != nv.key_vault).then_some(Rewrite {
            value,
            key_vault: kv,
            fired,
        })
    }

    /// Rules that match no named value in scope, where none holds their
    /// replacement either: most likely a typo.
    pub fn unmatched(&self, nvs: &[NamedValue]) -> Vec<String> {
        self.rules
            .iter()
            .filter(|rule| {
                !nvs.iter().filter(|nv| rule.applies_to(nv)).any(|nv| {
                    let texts = nv.value.iter().chain(nv.key_vault.iter().map(|k| &k.secret_identifier));
                    let ids = nv.key_vault.iter().filter_map(|k| k.identity_client_id.as_ref());
                    let matches_id =
                        |id: &String| matches!(&rule.kind, RuleKind::IdentityClientId { old, .. } if id.eq_ignore_ascii_case(old));
                    texts.clone().any(|t| rule.apply_text(t).is_some() || rule.already_applied(t))
                        || ids.clone().any(|id| matches_id(id) || rule.already_applied(id))
                })
            })
            .map(Rule::label)
            .collect()
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRule {
    host: Option<String>,
    replace: Option<String>,
    regex: Option<FileRegex>,
    #[serde(rename = "identityClientId")]
    identity_client_id: Option<String>,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    tags: Vec<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileRegex {
    pattern: String,
    replacement: String,
}

/// A rules file: a JSON list such as
/// `[{"host": "a.src.com=a.dest.com", "names": ["backend-*"]}, {"regex": {"pattern": "src-(\\d+)", "replacement": "dest-$1"}, "tags": ["env"]}]`.
pub fn parse_rules_file(json: &str) -> Result<Vec<Rule>, RuleError> {
    let items: Vec<FileRule> = serde_json::from_str(json).map_err(|e| RuleError::File(e.to_string()))?;
    items
        .into_iter()
        .enumerate()
        .map(|(i, f)| {
            let mut kinds = Vec::new();
            if let Some(s) = &f.host {
                kinds.push(Rule::parse("host", s)?);
            }
            if let Some(s) = &f.replace {
                kinds.push(Rule::parse("replace", s)?);
            }
            if let Some(r) = &f.regex {
                let re = Regex::new(&r.pattern)
                    .map_err(|e| RuleError::BadRegex(r.pattern.clone(), e.to_string().lines().last().unwrap_or("").trim().to_string()))?;
                kinds.push(Rule {
                    kind: RuleKind::Regex {
                        re,
                        replacement: r.replacement.clone(),
                    },
                    names: Vec::new(),
                    tags: Vec::new(),
                });
            }
            if let Some(s) = &f.identity_client_id {
                kinds.push(Rule::parse("identity-client-id", s)?);
            }
            match kinds.len() {
                1 => {
                    let mut r = kinds.remove(0);
                    r.names = f.names;
                    r.tags = f.tags;
                    Ok(r)
                }
                _ => Err(RuleError::File(format!(
                    "rule {} must have exactly one of host, replace, regex, identityClientId",
                    i + 1
                ))),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rules(specs: &[(&str, &str)]) -> RuleSet {
        RuleSet::new(specs.iter().map(|(k, s)| Rule::parse(k, s).unwrap()).collect())
    }

    #[test]
    fn growth_is_bounded() {
        let doubling: Vec<Rule> = (0..40).map(|_| Rule::parse("replace", "a=aa").unwrap()).collect();
        let w = RuleSet::new(doubling).rewrite(&NamedValue::plain("x", "a")).unwrap();
        assert!(w.too_long());
        assert!(
            w.value.unwrap().len() <= 2 * MAX_VALUE_BYTES + 2,
            "stopped early, not after 2^40 bytes"
        );
        let fine = RuleSet::new(vec![Rule::parse("replace", "a=b").unwrap()])
            .rewrite(&NamedValue::plain("x", "a"))
            .unwrap();
        assert!(!fine.too_long());
    }

    #[test]
    fn host_rules_take_hostnames_only() {
        assert!(Rule::parse("host", "api.src.example.com=api.dest.example.com").is_ok());
        for bad in [
            "api.src.example.com=",
            "api.src.example.com=api.dest.example.com/v2",
            "api.src.example.com=api.dest.example.com?x",
            "api.src.example.com=api dest.example.com",
            "api.src.example.com=https://api.dest.example.com",
            "api.src.example.com=api.dest.example.com:8443",
            "api..src=x.y",
        ] {
            assert!(matches!(Rule::parse("host", bad), Err(RuleError::NotAHost(..))), "{bad}");
        }
    }

    #[test]
    fn specs_round_trip_with_an_equals_sign_in_old() {
        let r = Rule::parse("replace", "a=b").unwrap();
        let mut spec = r.spec();
        spec.old = "k=v".into();
        spec.new = "k=w".into();
        let back = Rule::from_spec(&spec).unwrap();
        assert_eq!(back.spec(), spec);
        let json = serde_json::to_value(&spec).unwrap();
        assert_eq!(json["kind"], "replace");
        assert!(serde_json::from_value::<RuleSpec>(serde_json::json!({"kind": "sed", "old": "a", "new": "b"})).is_err());
    }

    #[test]
    fn rules_apply_in_order_and_report_what_fired() {
        let r = rules(&[
            ("host", "api.src.example.com=api.dest.example.com"),
            ("replace", "/v1=/v2"),
            ("regex", r"tenant-(\d+)=t$1"),
        ]);
        let nv = NamedValue::plain("backend", "https://api.src.example.com/v1?tenant-42");
        let w = r.rewrite(&nv).unwrap();
        assert_eq!(w.value.as_deref(), Some("https://api.dest.example.com/v2?t42"));
        assert_eq!(w.fired, vec![0, 1, 2]);
        assert_eq!(r.rewrite(&NamedValue::plain("other", "nothing here")), None);
    }

    #[test]
    fn key_vault_references_and_identities() {
        let r = rules(&[
            ("host", "kv-src.vault.azure.net=kv-dest.vault.azure.net"),
            ("identity-client-id", "aaaa=bbbb"),
        ]);
        let nv = NamedValue {
            name: "kv".into(),
            value: None,
            tags: vec![],
            key_vault: Some(KeyVault {
                secret_identifier: "https://kv-src.vault.azure.net/secrets/s".into(),
                identity_client_id: Some("AAAA".into()),
            }),
        };
        let w = r.rewrite(&nv).unwrap();
        let kv = w.key_vault.unwrap();
        assert_eq!(kv.secret_identifier, "https://kv-dest.vault.azure.net/secrets/s");
        assert_eq!(kv.identity_client_id.as_deref(), Some("bbbb"));
        assert_eq!(w.fired, vec![0, 1]);
    }

    #[test]
    fn scope_by_name_and_tag() {
        let mut rule = Rule::parse("replace", "src=dest").unwrap();
        rule.names = vec!["backend-*".into()];
        rule.tags = vec!["e?v".into()];
        let r = RuleSet::new(vec![rule]);
        let mut nv = NamedValue::plain("Backend-1", "src");
        assert_eq!(r.rewrite(&nv), None, "tag does not match");
        nv.tags = vec!["ENV".into()];
        assert!(r.rewrite(&nv).is_some());
        nv.name = "frontend".into();
        assert_eq!(r.rewrite(&nv), None);
    }

    #[test]
    fn unmatched_rules_are_typos_unless_already_applied() {
        let r = rules(&[("host", "api.src.exmaple.com=api.dest.example.com"), ("host", "kv.src=kv.dest")]);
        let nvs = [
            NamedValue::plain("a", "https://api.src.example.com"),
            NamedValue::plain("b", "https://kv.dest/x"),
        ];
        assert_eq!(
            r.unmatched(&nvs),
            vec!["--host api.src.exmaple.com=api.dest.example.com".to_string()]
        );
        // After an apply the old host is gone but the new one is there: not a typo.
        let after = [NamedValue::plain("a", "https://api.dest.example.com")];
        assert!(rules(&[("host", "api.src.example.com=api.dest.example.com")])
            .unmatched(&after)
            .is_empty());
    }

    #[test]
    fn parse_errors() {
        assert_eq!(
            Rule::parse("host", "nopair").unwrap_err(),
            RuleError::NotAPair("--host nopair".into())
        );
        assert_eq!(
            Rule::parse("replace", "=x").unwrap_err(),
            RuleError::EmptyOld("--replace =x".into())
        );
        assert!(matches!(Rule::parse("regex", "(unclosed=x").unwrap_err(), RuleError::BadRegex(..)));
        assert!(matches!(Rule::parse("dns", "a=b").unwrap_err(), RuleError::UnknownKind(_)));
    }

    #[test]
    fn rules_files() {
        let rs = parse_rules_file(r#"[{"host":"a.src.com=a.dest.com","names":["backend-*"]},{"regex":{"pattern":"src-(\\d+)","replacement":"dest-$1"},"tags":["env"]},{"identityClientId":"x=y"}]"#).unwrap();
        assert_eq!(rs.len(), 3);
        assert_eq!(rs[0].names, vec!["backend-*"]);
        assert_eq!(rs[1].label(), r#"--regex src-(\d+)=dest-$1 (names [], tags ["env"])"#);
        assert!(parse_rules_file(r#"[{"host":"a=b","replace":"c=d"}]"#).is_err());
        assert!(parse_rules_file(r#"[{"hots":"a=b"}]"#).is_err());
        assert!(parse_rules_file("not json").is_err());
    }

    #[test]
    fn specs_round_trip() {
        let mut r = Rule::parse("regex", r"a=(\d)=b$1").unwrap();
        r.tags = vec!["env".into()];
        let back = Rule::from_spec(&r.spec()).unwrap();
        assert_eq!(back.label(), r.label());
        let h = Rule::parse("host", "a.b=c.d").unwrap();
        assert_eq!(Rule::from_spec(&h.spec()).unwrap().label(), "--host a.b=c.d");
    }

    #[test]
    fn globs() {
        assert!(glob("*", ""));
        assert!(glob("backend-*", "BACKEND-host"));
        assert!(glob("a?c", "abc"));
        assert!(!glob("a?c", "abbc"));
        assert!(glob("*-url", "callback-url"));
        assert!(!glob("*-url", "callback-uri"));
    }
}
