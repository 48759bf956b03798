//! Document parsing over generated input: never a panic, and a one-line
//! `DocumentError` (exit 2 in every binary) for what is not a document of
//! the expected kind.

use apim_documents::{expect_kind, parse_documents, BackupDoc, ChangeDoc, OperationDoc, ServiceDoc};
use proptest::prelude::*;
use serde_json::Value;

fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(Value::from),
        "[ -~]{0,12}".prop_map(Value::String),
        prop_oneof![
            Just("apim.service"),
            Just("apim.backup"),
            Just("apim.operation"),
            Just("apim.namedvalue.change")
        ]
        .prop_map(|s| Value::String(s.into())),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            prop::collection::btree_map(
                prop_oneof![
                    Just("kind".to_string()),
                    Just("schemaVersion".to_string()),
                    Just("id".to_string()),
                    Just("name".to_string()),
                    Just("operation".to_string()),
                    Just("context".to_string()),
                    "[a-zA-Z]{1,8}"
                ],
                inner,
                0..6
            )
            .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

proptest! {
    #[test]
    fn prop_parse_documents_never_panics(text in "\\PC{0,200}") {
        if let Err(e) = parse_documents(&text, "stdin") {
            prop_assert!(e.0.starts_with("stdin"), "{}", e);
        }
    }

    #[test]
    fn prop_documents_of_any_shape_are_read_or_refused_in_one_line(mut v in json_value(), version in 0u64..3) {
        if let Value::Object(m) = &mut v {
            m.insert("schemaVersion".into(), Value::from(version));
        }
        for e in [
            expect_kind::<ServiceDoc>(&v, "stdin").err(),
            expect_kind::<BackupDoc>(&v, "stdin").err(),
            expect_kind::<OperationDoc>(&v, "stdin").err(),
            expect_kind::<ChangeDoc>(&v, "stdin").err(),
        ].into_iter().flatten() {
            prop_assert!(e.0.starts_with("stdin: "), "{}", e);
            prop_assert!(!e.to_string().contains('\n'));
        }
    }
}
