//! Every family an instance holds, end to end: written to a source through
//! the emulator (bodies shaped as the 2024-05-01 examples' requests),
//! carried by the real backup and restore onto a target, equal under
//! apim-diff; changed on the target, named in a difference; an old host
//! planted wherever the family can hold one, found by --scan-host; secret
//! values in no output, snapshot or error.

use crate::common::*;
use serde_json::{json, Value};

pub(crate) const OLD: &str = "api.src.example.com";
pub(crate) const NEW: &str = "api.dest.example.com";
/// In every secret the source holds: no output may contain it.
pub(crate) const MARK: &str = "zq7-secret-marker";

pub(crate) fn sid(rig: &Rig, service: &str) -> String {
    rig.services.iter().find(|s| s["name"] == service).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn b64(s: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(s)
}

/// One entity of every family beyond the seed's, in write order: its path,
/// its properties, and whether `host` is planted in it (where the family
/// can hold one).
pub(crate) fn every_family(sid: &str, host: &str) -> Vec<(String, Value, bool)> {
    let e = |p: &str, v: Value, planted: bool| (p.to_string(), v, planted);
    vec![
        e(
            "users/alice",
            json!({"email": "alice@contoso.example", "firstName": "Alice", "lastName": "Smith", "note": format!("profile at https://{host}/me"), "password": format!("{MARK}-pw")}),
            true,
        ),
        e(
            "groups/partners",
            json!({"displayName": "Partners", "description": format!("see https://{host}/partners"), "type": "custom"}),
            true,
        ),
        e("groups/partners/users/alice", json!({}), false),
        e(
            "documentations/getting-started",
            json!({"title": "Getting started", "content": format!("Call https://{host}/echo first.")}),
            true,
        ),
        e("products/gold", json!({"displayName": "Gold", "state": "published"}), false),
        e("products/gold/groups/partners", json!({}), false),
        e(
            "products/gold/wikis/default",
            json!({"documents": [{"documentationId": "getting-started"}]}),
            false,
        ),
        e(
            "apis/graph",
            json!({"displayName": "Graph", "path": "graph", "type": "graphql", "serviceUrl": format!("https://{host}/graphql"), "protocols": ["https"]}),
            true,
        ),
        e(
            "apis/graph/schemas/graphql",
            json!({"contentType": "application/vnd.ms-azure-apim.graphql.schema", "document": {"value": format!("# served by https://{host}\ntype Query {{ users: [String] }}")}}),
            true,
        ),
        e(
            "apis/graph/resolvers/users",
            json!({"displayName": "users", "path": "Query/users", "description": "all users"}),
            false,
        ),
        e(
            "apis/graph/resolvers/users/policies/policy",
            json!({"format": "xml", "value": format!("<http-data-source><http-request><set-method>GET</set-method><set-url>https://{host}/users</set-url></http-request></http-data-source>")}),
            true,
        ),
        e(
            "apis/graph/releases/v1",
            json!({"apiId": format!("{sid}/apis/graph"), "notes": format!("moved from https://{host}")}),
            true,
        ),
        e(
            "apis/graph/wikis/default",
            json!({"documents": [{"documentationId": "getting-started"}]}),
            false,
        ),
        e("tags/beta", json!({"displayName": "Beta"}), false),
        e(
            "apis/graph/tagDescriptions/beta",
            json!({"description": "Beta APIs", "externalDocsUrl": format!("https://{host}/beta"), "externalDocsDescription": "About beta"}),
            true,
        ),
        e(
            "subscriptions/partner-key",
            json!({"displayName": "Partner key", "scope": format!("{sid}/products/gold"), "ownerId": format!("{sid}/users/alice"), "state": "active", "primaryKey": format!("{MARK}-primary"), "secondaryKey": format!("{MARK}-secondary")}),
            false,
        ),
        e(
            "certificates/backend-ca",
            json!({"data": b64(&format!("{MARK} certificate bytes")), "password": format!("{MARK}-pfx")}),
            false,
        ),
        e(
            "certificates/vault-cert",
            json!({"keyVault": {"secretIdentifier": "https://contoso-vault.vault.azure.net/secrets/gateway-cert"}}),
            false,
        ),
        e(
            "policyFragments/forward",
            json!({"format": "xml", "description": "forward to the backend", "value": format!("<fragment><set-backend-service base-url=\"https://{host}/v2\" /></fragment>")}),
            true,
        ),
        e(
            "authorizationServers/corp",
            json!({"displayName": "Corp", "clientRegistrationEndpoint": format!("https://{host}/register"), "authorizationEndpoint": format!("https://{host}/authorize"), "tokenEndpoint": format!("https://{host}/token"), "grantTypes": ["authorizationCode"], "authorizationMethods": ["GET"], "bearerTokenSendingMethods": ["authorizationHeader"], "clientId": "corp-client", "clientSecret": format!("{MARK}-as"), "resourceOwnerUsername": "svc", "resourceOwnerPassword": format!("{MARK}-ro")}),
            true,
        ),
        e(
            "identityProviders/aad",
            json!({"clientId": "aad-client", "clientSecret": format!("{MARK}-idp"), "allowedTenants": ["contoso.example"], "signinTenant": "contoso.example", "authority": "login.microsoftonline.com"}),
            false,
        ),
        e(
            "openidConnectProviders/corp-oidc",
            json!({"displayName": "Corp OIDC", "metadataEndpoint": format!("https://{host}/.well-known/openid-configuration"), "clientId": "oidc-client", "clientSecret": format!("{MARK}-oidc")}),
            true,
        ),
        e(
            "gateways/onprem",
            json!({"locationData": {"name": "Dublin", "city": "Dublin"}, "description": "on premises"}),
            false,
        ),
        e("gateways/onprem/apis/graph", json!({}), false),
        e(
            "gateways/onprem/hostnameConfigurations/default",
            json!({"hostname": host, "certificateId": format!("{sid}/certificates/backend-ca"), "negotiateClientCertificate": false, "tls10Enabled": false, "tls11Enabled": false, "http2Enabled": true}),
            true,
        ),
        e(
            "gateways/onprem/certificateAuthorities/backend-ca",
            json!({"isTrusted": true}),
            false,
        ),
        e(
            "schemas/order",
            json!({"schemaType": "json", "description": "An order", "document": {"$id": format!("https://{host}/schemas/order"), "type": "object"}}),
            true,
        ),
        e(
            "caches/default",
            json!({"connectionString": format!("{host}:6380,password={MARK}-redis,ssl=True"), "useFromLocation": "default", "description": "Redis"}),
            false,
        ),
        e(
            "portalsettings/delegation",
            json!({"url": format!("https://{host}/delegate"), "validationKey": b64(&format!("{MARK}-vk")), "subscriptions": {"enabled": true}, "userRegistration": {"enabled": true}}),
            true,
        ),
        e(
            "portalsettings/signup",
            json!({"enabled": true, "termsOfService": {"enabled": true, "text": format!("Terms at https://{host}/terms"), "consentRequired": true}}),
            true,
        ),
        e("portalsettings/signin", json!({"enabled": true}), false),
        e("notifications/BCC", json!({}), false),
        e("notifications/BCC/recipientEmails/ops@contoso.example", json!({}), false),
        e("notifications/BCC/recipientUsers/alice", json!({}), false),
        e(
            "templates/applicationApprovedNotificationMessage",
            json!({"subject": "Your application was approved", "body": format!("<p>Visit https://{host}/apps</p>"), "title": "Approved", "description": "Sent on approval"}),
            true,
        ),
        e(
            "authorizationProviders/aad-graph",
            json!({"displayName": "aad-graph", "identityProvider": "aad", "oauth2": {"redirectUrl": format!("https://{host}/redirect"), "grantTypes": {"clientCredentials": {"clientId": "cc", "clientSecret": format!("{MARK}-ap"), "resourceUri": "https://graph.microsoft.com"}}}}),
            true,
        ),
        e(
            "authorizationProviders/aad-graph/authorizations/daemon",
            json!({"authorizationType": "OAuth2", "oauth2grantType": "ClientCredentials", "parameters": {"clientId": "cc", "clientSecret": format!("{MARK}-authz")}}),
            false,
        ),
        e(
            "authorizationProviders/aad-graph/authorizations/daemon/accessPolicies/ops",
            json!({"tenantId": "13932a0d-5c63-4d37-901d-1df9c97722ff", "objectId": "fe0bed83-631f-4149-bd0b-0464b1bc7cab", "appIds": ["d5f04bb0-ba78-4878-a43e-35a0b74fe315"]}),
            false,
        ),
        e(
            "policyRestrictions/strict",
            json!({"scope": "/apis/graph", "requireBase": "true"}),
            false,
        ),
        e(
            "contentTypes/page",
            json!({"name": "Page", "description": "A portal page", "schema": {"type": "object"}, "version": "1.0.0"}),
            false,
        ),
        e(
            "contentTypes/page/contentItems/home",
            json!({"en_us": {"title": "Home", "permalink": format!("https://{host}/")}}),
            true,
        ),
    ]
}

/// The long-running writes answer 201 with where to poll; the emulator
/// finishes them at once, so a PUT is enough.
pub(crate) fn put(rig: &Rig, service: &str, path: &str, props: &Value) {
    let body = if props.as_object().is_some_and(|m| m.is_empty()) {
        json!({})
    } else {
        json!({"properties": props})
    };
    put_entity(&rig.emu, service, path, &body);
}

pub(crate) fn apim_diff(rig: &Rig, args: &[&str]) -> (i32, Vec<Value>, String, String) {
    let out = bin("apim-diff", &rig.emu).args(args).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    (
        out.status.code().unwrap_or(-1),
        docs(&out.stdout),
        text,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

pub(crate) fn list_secrets(rig: &Rig, service: &str, path: &str) -> Value {
    let url = entity_path(service, &format!("{path}/listSecrets"));
    let (s, _, b) = rig.emu.arm("POST", &url, None).unwrap();
    assert_eq!(s, 200, "{path}: {b}");
    b
}

#[test]
fn every_family_is_carried_compared_scanned_and_keeps_its_secrets() {
    let rig = Rig::new();
    let (src, dest) = (rig.path("src.json"), rig.path("dest.json"));
    let table = every_family(&sid(&rig, "apim-src"), OLD);
    for (path, props, _) in &table {
        put(&rig, "apim-src", path, props);
    }
    // What a GET shows never holds a secret the write gave.
    for (path, _, _) in &table {
        let (s, _, b) = rig.emu.arm("GET", &entity_path("apim-src", path), None).unwrap();
        assert_eq!(s, 200, "{path}: {b}");
        assert!(!b.to_string().contains(MARK), "{path} shows a secret: {b}");
    }

    // Backup and restore carry them, keys included, portal content not.
    let backup = rig.backup(&rig.services[0], &[]);
    let restored = bin("apim-restore", &rig.emu)
        .args(["--target", &dest, "--no-safety-backup", "--allow-emptying-target"])
        .write_stdin(backup.to_string())
        .assert()
        .success();
    let said = format!("{backup}{:?}", restored.get_output());
    assert!(!said.contains(MARK), "no secret in what backup and restore say");
    for (path, _, _) in table.iter().filter(|(p, _, _)| !p.starts_with("contentTypes")) {
        let (s, _, b) = rig.emu.arm("GET", &entity_path("apim-dest", path), None).unwrap();
        assert_eq!(s, 200, "{path} was not restored: {b}");
    }
    assert_eq!(
        list_secrets(&rig, "apim-dest", "subscriptions/partner-key")["primaryKey"],
        format!("{MARK}-primary"),
        "subscription keys travel in a backup"
    );
    assert_eq!(
        list_secrets(&rig, "apim-dest", "authorizationServers/corp")["clientSecret"],
        format!("{MARK}-as")
    );
    let (s, _, _) = rig.emu.arm("GET", &entity_path("apim-dest", "contentTypes/page"), None).unwrap();
    assert_eq!(s, 404, "developer portal content is not in a backup");

    // The diff names exactly what a restore never carries…
    let (code, out, text, err) = apim_diff(&rig, &[&src, &dest]);
    assert!(!text.contains(MARK) && !err.contains(MARK));
    let missing: Vec<&str> = out.iter().map(|d| d["path"].as_str().unwrap()).collect();
    assert_eq!(
        (code, missing),
        (1, vec!["contentTypes/page", "contentTypes/page/contentItems/home"]),
        "{err}"
    );
    assert!(out.iter().all(|d| d["difference"] == "missing-in-b"));
    // …and once the operator redoes it, the copy is equal, secrets included.
    for (path, props, _) in table.iter().filter(|(p, _, _)| p.starts_with("contentTypes")) {
        put(&rig, "apim-dest", path, props);
    }
    let (code, out, _, err) = apim_diff(&rig, &[&src, &dest]);
    assert_eq!((code, out.len()), (0, 0), "{out:?} {err}");
    assert!(!err.contains("not compared"), "{err}");

    // The inventory holds every family, sorted, with no secret value.
    let (code, snap, text, err) = apim_diff(&rig, &["--inventory", &src]);
    assert_eq!(code, 0, "{err}");
    assert_eq!(
        text,
        apim_diff(&rig, &["--inventory", &src]).2,
        "the same service gives the same bytes"
    );
    assert!(!text.contains(MARK) && !err.contains(MARK), "a snapshot holds no secret");
    let paths: Vec<&str> = snap.iter().map(|d| d["path"].as_str().unwrap()).collect();
    for (path, _, _) in &table {
        assert!(paths.contains(&path.as_str()), "{path} is not in the inventory");
    }
    assert!(paths.contains(&"service"), "the service's own settings are an entity");
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(paths, sorted);

    // The scan finds the old host wherever it was planted, in secret
    // values too (said, never shown).
    let (code, refs, text, err) = apim_diff(&rig, &["--scan-host", OLD, &src]);
    assert_eq!(code, 1, "{err}");
    assert!(!text.contains(MARK) && !err.contains(MARK));
    let found: Vec<&str> = refs.iter().map(|r| r["path"].as_str().unwrap()).collect();
    for (path, _, planted) in &table {
        if *planted {
            assert!(found.contains(&path.as_str()), "{path}: the planted host was not found");
        }
    }
    let cache_secret = refs
        .iter()
        .find(|r| r["path"].as_str().unwrap().starts_with("namedValues/cache-default"))
        .expect("the cache's connection string is scanned as the secret it became");
    assert!(cache_secret["secret"] == true && cache_secret.get("value").is_none_or(Value::is_null));

    // Changed on the target, every family: a property changed (and the
    // host, where planted), a link or a built-in entity removed, a key
    // rotated. Each is named; a secret only as differing.
    let dest_sid = sid(&rig, "apim-dest");
    let changed = every_family(&dest_sid, NEW);
    for (path, props, _) in changed.iter().rev() {
        if props.as_object().is_some_and(|m| m.is_empty()) {
            let (s, _, b) = rig.emu.arm("DELETE", &entity_path("apim-dest", path), None).unwrap();
            assert!(s == 200 || s == 204, "{path}: {b}");
        }
    }
    for (path, props, _) in &changed {
        if props.as_object().is_some_and(|m| !m.is_empty()) {
            let mut props = props.clone();
            props["description"] = json!("changed on the target");
            put(&rig, "apim-dest", path, &props);
        }
    }
    let mut subs = changed.iter().find(|(p, _, _)| p.starts_with("subscriptions/")).unwrap().1.clone();
    subs["primaryKey"] = json!(format!("{MARK}-rotated"));
    put(&rig, "apim-dest", "subscriptions/partner-key", &subs);
    let (code, out, text, err) = apim_diff(&rig, &[&src, &dest]);
    assert_eq!(code, 1, "{err}");
    assert!(!text.contains(MARK) && !err.contains(MARK), "no secret in a difference");
    let differ: Vec<&str> = out.iter().map(|d| d["path"].as_str().unwrap()).collect();
    for (path, _, _) in &changed {
        assert!(differ.contains(&path.as_str()), "{path}: the change is not named");
    }
    let key = out
        .iter()
        .find(|d| d["path"] == "subscriptions/partner-key" && d["property"] == "primaryKey")
        .expect("a rotated key differs");
    assert!(key["secret"] == true && key["a"].is_null() && key["b"].is_null());
    // The expected rewrite explains the host changes; the rotated key stays.
    let expect = format!("{OLD}={NEW}");
    let (_, out, _, _) = apim_diff(&rig, &["--expect-host", &expect, &src, &dest]);
    let left: Vec<(String, String)> = out
        .iter()
        .map(|d| {
            (
                d["path"].as_str().unwrap().to_string(),
                d["property"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    assert!(
        left.contains(&("subscriptions/partner-key".into(), "primaryKey".into())),
        "{left:?}"
    );
    for planted in [
        "policyFragments/forward",
        "gateways/onprem/hostnameConfigurations/default",
        "schemas/order",
    ] {
        let props: Vec<&str> = left.iter().filter(|(p, _)| p == planted).map(|(_, k)| k.as_str()).collect();
        assert_eq!(props, ["description"], "{planted}: the host change is explained, the rest is not");
    }
    assert!(changed.len() > 35);
}

#[test]
fn the_service_settings_are_compared_and_rewritten_like_any_family() {
    let rig = Rig::new();
    let (src, dest) = (rig.path("src.json"), rig.path("dest.json"));
    let patch = |service: &str, props: Value| {
        let (s, _, b) = rig
            .emu
            .arm("PATCH", &service_path(service), Some(&json!({"properties": props})))
            .unwrap();
        assert_eq!(s, 200, "{b}");
    };
    let domain = |host: &str| {
        json!({"hostnameConfigurations": [{"type": "Proxy", "hostName": host, "certificateSource": "KeyVault", "keyVaultId": "https://contoso-vault.vault.azure.net/secrets/gw", "negotiateClientCertificate": false, "defaultSslBinding": false}],
            "apiVersionConstraint": {"minApiVersion": "2021-08-01"}})
    };
    patch("apim-src", domain(OLD));
    patch("apim-dest", domain(NEW));
    let (code, out, _, err) = apim_diff(&rig, &["--inventory", &src]);
    assert_eq!(code, 0, "{err}");
    let service = out.iter().find(|d| d["path"] == "service").unwrap();
    let hosts = service["properties"]["hostnameConfigurations"].as_array().unwrap();
    assert_eq!(hosts.len(), 1, "the default *.azure-api.net host is not a setting: {hosts:?}");
    assert_eq!(service["properties"]["sku"]["name"], "Developer");

    let expect = format!("{OLD}={NEW}");
    let seeded = |out: &[Value]| {
        out.iter()
            .filter(|d| d["path"] == "service")
            .map(|d| d["property"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    let (_, out, _, _) = apim_diff(&rig, &[&src, &dest]);
    assert_eq!(seeded(&out), ["hostnameConfigurations"]);
    let (_, out, _, _) = apim_diff(&rig, &["--expect-host", &expect, &src, &dest]);
    assert!(
        seeded(&out).is_empty(),
        "--expect-host rewrites the service's hostnames too: {out:?}"
    );

    patch(
        "apim-dest",
        json!({"customProperties": {"Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Protocols.Tls10": "True"}}),
    );
    let (code, out, _, _) = apim_diff(&rig, &["--expect-host", &expect, &src, &dest]);
    assert_eq!((code, seeded(&out)), (1, vec!["customProperties".to_string()]));
    let (code, refs, _, _) = apim_diff(&rig, &["--scan-host", OLD, &src]);
    assert_eq!(code, 1);
    assert!(refs
        .iter()
        .any(|r| r["path"] == "service" && r["property"] == "/hostnameConfigurations/0/hostName"));
}
