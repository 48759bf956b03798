//! Products, the APIs they publish (links) and their tags.

use crate::entities::{default, display_name, one_of, Family, Prepare, BASE};
use crate::policies::POLICIES;
use crate::tags::API_TAGS;
use axum::response::Response;
use serde_json::json;

pub(crate) static PRODUCTS: Family = Family {
    name: "products",
    type_name: "products",
    children: &[
        &PRODUCT_APIS,
        &POLICIES,
        &API_TAGS,
        &crate::people::PRODUCT_GROUPS,
        &crate::portal::WIKIS,
    ],
    link: false,
    long_running: false,
    prepare: product,
    ..BASE
};

/// `products/{p}/apis/{a}`: a PUT without a body adds API `a` to the product.
pub(crate) static PRODUCT_APIS: Family = Family {
    name: "apis",
    type_name: "apis",
    children: &[],
    link: true,
    long_running: false,
    prepare: |_| Ok(()),
    ..BASE
};

fn product(p: &mut Prepare) -> Result<(), Response> {
    display_name(p)?;
    one_of(p.props, "state", &["notPublished", "published"])?;
    default(p.props, "subscriptionRequired", json!(true));
    default(p.props, "approvalRequired", json!(false));
    default(p.props, "state", json!("notPublished"));
    Ok(())
}
