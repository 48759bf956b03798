//! Resource ids over generated input: parsing never panics, what parses
//! prints back to an id that parses to the same, and no segment of a parsed
//! id can climb or split a URL.

use arm_client::{is_plain_segment, ResourceId};
use proptest::prelude::*;

fn segment() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-zA-Z0-9._()-]{1,12}",
        Just("..".to_string()),
        Just(".".to_string()),
        "[ -~]{1,6}"
    ]
}

proptest! {
    #[test]
    fn prop_ids_parse_or_refuse_and_round_trip(text in "\\PC{0,120}") {
        if let Ok(id) = text.parse::<ResourceId>() {
            let again: ResourceId = id.to_string().parse().unwrap();
            prop_assert_eq!(&again, &id);
        }
    }

    #[test]
    fn prop_parsed_ids_have_plain_segments(segs in prop::collection::vec(segment(), 1..8)) {
        let text = format!("/subscriptions/s/resourceGroups/{}", segs.join("/"));
        if let Ok(id) = text.parse::<ResourceId>() {
            for seg in id.to_string().split('/').filter(|s| !s.is_empty()) {
                prop_assert!(is_plain_segment(seg), "{}", seg);
            }
        }
    }
}
