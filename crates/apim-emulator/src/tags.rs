//! Tags: the service's own, and links to them from APIs and products.

use crate::entities::{any, display_name, Family, BASE};

/// `apis/{a}/tags/{t}` and `products/{p}/tags/{t}`: links to `tags/{t}`.
pub(crate) static API_TAGS: Family = Family {
    name: "tags",
    type_name: "tags",
    children: &[],
    link: true,
    long_running: false,
    prepare: any,
    ..BASE
};
pub(crate) static TAGS: Family = Family {
    name: "tags",
    type_name: "tags",
    children: &[],
    link: false,
    long_running: false,
    prepare: display_name,
    ..BASE
};
