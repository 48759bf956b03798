//! Configuration put into emulated services for the demo, the soak and the
//! benches: shaped like a real instance's. Hosts live in named values
//! (`api.{tag}.example.com`); policies reach them through `{{references}}`,
//! as operators are told to write them.

use anyhow::bail;
use apim_toolkit::EmulatorProcess;
use serde_json::{json, Value};

/// The emulator's own subscription.
pub(crate) const SUBSCRIPTION: &str = "00000000-0000-4000-8000-00000000a1a1";

pub(crate) fn child_path(service: &str, coll: &str, id: Option<&str>) -> String {
    let base = format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/apim-rg/providers/Microsoft.ApiManagement/service/{service}/{coll}");
    match id {
        Some(id) => format!("{base}/{id}?api-version=2024-05-01"),
        None => format!("{base}?api-version=2024-05-01"),
    }
}

/// How much configuration to seed.
#[derive(Clone, Copy)]
pub(crate) struct Shape {
    pub named_values: usize,
    pub apis: usize,
    /// In all, spread over the APIs.
    pub operations: usize,
    /// In all: one per API first, then on operations.
    pub policies: usize,
    pub products: usize,
    pub backends: usize,
    /// The families beyond the seed's nine: users, subscriptions (on the
    /// products), policy fragments, self-hosted gateways, and `others`
    /// of every other family (groups, certificates, schemas, …).
    pub users: usize,
    pub subscriptions: usize,
    pub fragments: usize,
    pub gateways: usize,
    pub others: usize,
}

impl Shape {
    /// The bench instance, shaped like a large real one.
    pub(crate) const BENCH: Shape = Shape {
        named_values: 5000,
        apis: 200,
        operations: 2000,
        policies: 500,
        products: 10,
        backends: 100,
        users: 2000,
        subscriptions: 3000,
        fragments: 100,
        gateways: 20,
        others: 30,
    };

    pub(crate) const SMALL: Shape = Shape {
        named_values: 5,
        apis: 2,
        operations: 4,
        policies: 3,
        products: 1,
        backends: 1,
        users: 0,
        subscriptions: 0,
        fragments: 0,
        gateways: 0,
        others: 0,
    };
}

fn policy(nv: usize) -> Value {
    json!({"properties": {"format": "xml", "value": format!(
        "<policies>\r\n  <inbound>\r\n    <base />\r\n    <set-backend-service base-url=\"{{{{nv-{nv}}}}}\" />\r\n  </inbound>\r\n  <backend>\r\n    <base />\r\n  </backend>\r\n  <outbound>\r\n    <base />\r\n  </outbound>\r\n</policies>"
    )}})
}

/// Seeds `service` with `shape`, four writers at a time. Named values are
/// `nv-{i}` (one in five secret) holding `https://api.{tag}.example.com/svc-{i}`.
pub(crate) fn seed(emu: &EmulatorProcess, service: &str, tag: &str, shape: Shape) -> anyhow::Result<()> {
    let host = format!("api.{tag}.example.com");
    let mut first: Vec<(String, Value)> = Vec::new();
    for i in 0..shape.named_values {
        let props =
            json!({"displayName": format!("nv-{i}"), "value": format!("https://{host}/svc-{i}"), "secret": i % 5 == 4, "tags": ["seed"]});
        first.push((format!("namedValues/nv-{i}"), json!({"properties": props})));
    }
    for i in 0..shape.apis {
        let props = json!({"displayName": format!("API {i}"), "path": format!("api-{i}"), "serviceUrl": format!("https://backend.internal.example.net/api-{i}"), "protocols": ["https"]});
        first.push((format!("apis/api-{i}"), json!({"properties": props})));
    }
    for i in 0..shape.products {
        first.push((
            format!("products/product-{i}"),
            json!({"properties": {"displayName": format!("Product {i}"), "state": "published", "subscriptionRequired": true}}),
        ));
    }
    for i in 0..shape.backends {
        let props = json!({"url": "https://backend.internal.example.net/", "protocol": "http", "credentials": {"header": {"x-target": [format!("{{{{nv-{}}}}}", i % shape.named_values.max(1))]}}});
        first.push((format!("backends/backend-{i}"), json!({"properties": props})));
    }
    let mut second: Vec<(String, Value)> = Vec::new();
    let nv = |i: usize| i % shape.named_values.max(1);
    for i in 0..shape.operations {
        let api = i % shape.apis.max(1);
        let props = json!({"displayName": format!("op {i}"), "method": "GET", "urlTemplate": format!("/op-{i}")});
        second.push((format!("apis/api-{api}/operations/op-{i}"), json!({"properties": props})));
    }
    for i in 0..shape.policies.min(shape.apis) {
        second.push((format!("apis/api-{i}/policies/policy"), policy(nv(i))));
    }
    for i in 0..shape.products {
        for a in 0..shape.apis.min(3) {
            second.push((format!("products/product-{i}/apis/api-{a}"), json!({})));
        }
    }
    let mut third: Vec<(String, Value)> = Vec::new();
    for i in 0..shape.policies.saturating_sub(shape.apis).min(shape.operations) {
        let api = i % shape.apis.max(1);
        third.push((format!("apis/api-{api}/operations/op-{i}/policies/policy"), policy(nv(i))));
    }
    let (more_first, more_second, more_third) = every_other_family(&host, shape);
    first.extend(more_first);
    second.extend(more_second);
    third.extend(more_third);
    // Parents before children: each wave finishes before the next starts.
    for wave in [first, second, third] {
        put_all(emu, service, &wave)?;
    }
    Ok(())
}

type Wave = Vec<(String, Value)>;

/// The families beyond the seed's nine, in three waves (parents first).
fn every_other_family(host: &str, shape: Shape) -> (Wave, Wave, Wave) {
    let p = |path: String, props: Value| (path, json!({"properties": props}));
    let (mut first, mut second, mut third) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..shape.users {
        first.push(p(
            format!("users/user-{i}"),
            json!({"email": format!("user-{i}@contoso.example"), "firstName": "User", "lastName": format!("{i}")}),
        ));
    }
    for i in 0..shape.fragments {
        first.push(p(
            format!("policyFragments/fragment-{i}"),
            json!({"format": "xml", "value": format!("<fragment><set-backend-service base-url=\"https://{host}/f-{i}\" /></fragment>")}),
        ));
    }
    for i in 0..shape.gateways {
        first.push(p(
            format!("gateways/gateway-{i}"),
            json!({"locationData": {"name": format!("site {i}")}}),
        ));
        second.push(p(
            format!("gateways/gateway-{i}/hostnameConfigurations/default"),
            json!({"hostname": host}),
        ));
        if shape.apis > 0 {
            second.push((format!("gateways/gateway-{i}/apis/api-{}", i % shape.apis), json!({})));
        }
    }
    for i in 0..shape.others {
        first.push(p(format!("groups/group-{i}"), json!({"displayName": format!("Group {i}")})));
        first.push(p(format!("tags/tag-{i}"), json!({"displayName": format!("Tag {i}")})));
        first.push(p(
            format!("certificates/cert-{i}"),
            json!({"keyVault": {"secretIdentifier": format!("https://vault.vault.azure.net/secrets/cert-{i}")}}),
        ));
        first.push(p(
            format!("authorizationServers/as-{i}"),
            json!({"displayName": format!("AS {i}"), "clientRegistrationEndpoint": format!("https://{host}/register"), "authorizationEndpoint": format!("https://{host}/authorize"), "grantTypes": ["authorizationCode"], "clientId": "c", "clientSecret": format!("s-{i}")}),
        ));
        first.push(p(
            format!("openidConnectProviders/oidc-{i}"),
            json!({"displayName": format!("OIDC {i}"), "metadataEndpoint": format!("https://{host}/.well-known/openid-configuration"), "clientId": "c", "clientSecret": format!("s-{i}")}),
        ));
        first.push(p(
            format!("schemas/schema-{i}"),
            json!({"schemaType": "json", "document": {"$id": format!("https://{host}/s-{i}")}}),
        ));
        first.push(p(
            format!("documentations/doc-{i}"),
            json!({"title": format!("Doc {i}"), "content": format!("See https://{host}/doc-{i}")}),
        ));
        first.push(p(
            format!("templates/template-{i}"),
            json!({"subject": "s", "body": format!("<p>https://{host}/t-{i}</p>")}),
        ));
        first.push(p(
            format!("policyRestrictions/restriction-{i}"),
            json!({"scope": format!("/apis/api-{i}"), "requireBase": "true"}),
        ));
        first.push(p(
            format!("authorizationProviders/provider-{i}"),
            json!({"displayName": format!("P {i}"), "identityProvider": "aad", "oauth2": {"redirectUrl": format!("https://{host}/r"), "grantTypes": {"clientCredentials": {"clientId": "c", "clientSecret": "s"}}}}),
        ));
        second.push(p(
            format!("authorizationProviders/provider-{i}/authorizations/daemon"),
            json!({"authorizationType": "OAuth2", "oauth2grantType": "ClientCredentials", "parameters": {"clientId": "c", "clientSecret": "s"}}),
        ));
        third.push(p(
            format!("authorizationProviders/provider-{i}/authorizations/daemon/accessPolicies/ops"),
            json!({"tenantId": "t", "objectId": format!("o-{i}")}),
        ));
        if i < shape.apis {
            second.push(p(
                format!("apis/api-{i}/releases/r1"),
                json!({"apiId": format!("/apis/api-{i}"), "notes": "first"}),
            ));
            second.push(p(
                format!("apis/api-{i}/resolvers/resolver-{i}"),
                json!({"displayName": "r", "path": "Query/r"}),
            ));
            second.push(p(
                format!("apis/api-{i}/tagDescriptions/tag-{i}"),
                json!({"description": "d", "externalDocsUrl": format!("https://{host}/tags/{i}")}),
            ));
            second.push(p(
                format!("apis/api-{i}/schemas/schema"),
                json!({"contentType": "application/json", "document": {"value": "{}"}}),
            ));
            third.push(p(
                format!("apis/api-{i}/resolvers/resolver-{i}/policies/policy"),
                json!({"format": "xml", "value": format!("<http-data-source><http-request><set-url>https://{host}/r</set-url></http-request></http-data-source>")}),
            ));
        }
        if i < shape.users {
            second.push((format!("groups/group-{i}/users/user-{i}"), json!({})));
        }
    }
    for i in 0..shape.subscriptions {
        let product = i % shape.products.max(1);
        let mut props =
            json!({"displayName": format!("Subscription {i}"), "scope": format!("/products/product-{product}"), "state": "active"});
        if shape.users > 0 {
            props["ownerId"] = json!(format!("/users/user-{}", i % shape.users));
        }
        // The keys are chosen, so two instances seeded alike compare equal.
        props["primaryKey"] = json!(format!("primary-{i}"));
        props["secondaryKey"] = json!(format!("secondary-{i}"));
        second.push(p(format!("subscriptions/sub-{i}"), props));
    }
    if shape.others > 0 {
        for id in ["signin", "signup"] {
            first.push(p(format!("portalsettings/{id}"), json!({"enabled": true})));
        }
        first.push(p(
            "portalsettings/delegation".into(),
            json!({"url": format!("https://{host}/delegate")}),
        ));
        first.push(("notifications/BCC".into(), json!({})));
        first.push(p(
            "caches/default".into(),
            json!({"connectionString": "{{nv-0}}", "useFromLocation": "default"}),
        ));
    }
    (first, second, third)
}

/// PUTs every `(path below the service, body)`, four writers at a time.
pub(crate) fn put_all(emu: &EmulatorProcess, service: &str, items: &[(String, Value)]) -> anyhow::Result<()> {
    std::thread::scope(|scope| -> anyhow::Result<()> {
        let workers: Vec<_> = (0..4)
            .map(|w| {
                scope.spawn(move || -> anyhow::Result<()> {
                    for (path, body) in items.iter().skip(w).step_by(4) {
                        let (coll, id) = path.rsplit_once('/').unwrap_or((path, ""));
                        let (status, _, answer) = emu.arm("PUT", &child_path(service, coll, Some(id)), Some(body))?;
                        if status != 200 && status != 201 {
                            bail!("seeding {path}: {status} {answer}");
                        }
                    }
                    Ok(())
                })
            })
            .collect();
        for w in workers {
            w.join().map_err(|_| anyhow::anyhow!("a seeding thread panicked"))??;
        }
        Ok(())
    })
}

/// What `apim-diff` (built with `profile`) says of `args`: `true` for exit
/// 0 (equal, or no leftover host), `false` for 1; anything else is an error.
pub(crate) fn apim_diff(profile: &str, env: &[(String, String)], args: &[&str]) -> anyhow::Result<bool> {
    let out = std::process::Command::new(apim_toolkit::bin_path("apim-diff", profile))
        .arg("-q")
        .args(args)
        .envs(env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
        .stdin(std::process::Stdio::null())
        .output()?;
    match out.status.code() {
        Some(0) => Ok(true),
        Some(1) => Ok(false),
        _ => bail!("apim-diff {} failed: {}", args.join(" "), String::from_utf8_lossy(&out.stderr)),
    }
}
