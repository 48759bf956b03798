//! Properties of rule sets, over generated text.

use namedvalue_rewrite::{host, NamedValue, Rule, RuleSet};
use proptest::prelude::*;

/// Text around hostnames: letters, digits, URL punctuation.
fn filler() -> impl Strategy<Value = String> {
    "[a-z0-9 /:?=&,;]{0,20}"
}

fn hostname() -> impl Strategy<Value = String> {
    "[a-z]{1,6}(\\.[a-z]{2,6}){1,3}"
}

proptest! {
    /// Applied twice, a rule set changes nothing the second time (NEW does not contain OLD).
    #[test]
    fn prop_idempotent(old in hostname(), new in hostname(), pre in filler(), post in filler(), lit_old in "[A-Z]{3,5}", lit_new in "[a-z]{3,5}") {
        prop_assume!(!new.to_lowercase().contains(&old.to_lowercase()));
        let rules = RuleSet::new(vec![
            Rule::parse("host", &format!("{old}={new}")).unwrap(),
            Rule::parse("replace", &format!("{lit_old}={lit_new}")).unwrap(),
        ]);
        let nv = NamedValue::plain("n", &format!("{pre} https://{old}/x {lit_old} {post}"));
        let once = rules.rewrite(&nv).map(|w| w.value.unwrap()).unwrap_or_else(|| nv.value.clone().unwrap());
        let twice = rules.rewrite(&NamedValue::plain("n", &once));
        prop_assert_eq!(twice, None);
    }

    /// A host rule touches only its matches: the text around them is kept byte for byte.
    #[test]
    fn prop_touches_only_matches(old in hostname(), new in hostname(), pre in filler(), post in filler()) {
        prop_assume!(!pre.contains(&old) && !post.contains(&old));
        // Separators that cannot join a hostname.
        let text = format!("{pre} {old} {post}");
        let out = host::replace(&text, &old, &new).unwrap();
        prop_assert_eq!(out, format!("{pre} {new} {post}"));
    }

    /// Text without the old hostname is never changed.
    #[test]
    fn prop_no_match_no_change(old in hostname(), text in "[a-z0-9 ./:-]{0,40}") {
        prop_assume!(!text.to_lowercase().contains(&old.to_lowercase()));
        prop_assert_eq!(host::replace(&text, &old, "x.y"), None);
    }

    /// A hostname embedded in a longer name is never matched.
    #[test]
    fn prop_longer_names_are_left_alone(old in hostname(), label in "[a-z0-9]{1,5}", tld in "[a-z]{2,4}") {
        for text in [format!("{label}{old}"), format!("{label}.{old}"), format!("{old}.{tld}"), format!("{old}{label}")] {
            prop_assert_eq!(host::replace(&text, &old, "x.y"), None, "{}", text);
        }
    }
}
