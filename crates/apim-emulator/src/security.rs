//! What a service trusts and signs in with: certificates, OAuth 2.0
//! authorization servers, identity and OpenID Connect providers,
//! credential manager (authorization providers, their authorizations and
//! access policies), external caches and policy restrictions. Client
//! secrets are write-only; `listSecrets` reads those Azure lets out.

use crate::entities::{default, display_name, one_of, require, Family, Prepare, BASE};
use crate::http::error;
use axum::response::Response;
use serde_json::{json, Value};

pub(crate) static CERTIFICATES: Family = Family {
    name: "certificates",
    type_name: "certificates",
    hidden: &["/data", "/password"],
    prepare: certificate,
    ..BASE
};

pub(crate) static AUTHORIZATION_SERVERS: Family = Family {
    name: "authorizationServers",
    type_name: "authorizationServers",
    hidden: &["/clientSecret", "/resourceOwnerUsername", "/resourceOwnerPassword"],
    list_secrets: true,
    prepare: authorization_server,
    ..BASE
};

pub(crate) static IDENTITY_PROVIDERS: Family = Family {
    name: "identityProviders",
    type_name: "identityProviders",
    only: &["facebook", "google", "microsoft", "twitter", "aad", "aadB2C"],
    hidden: &["/clientSecret"],
    list_secrets: true,
    prepare: identity_provider,
    ..BASE
};

pub(crate) static OPENID_PROVIDERS: Family = Family {
    name: "openidConnectProviders",
    type_name: "openidConnectProviders",
    hidden: &["/clientSecret"],
    list_secrets: true,
    prepare: openid_provider,
    ..BASE
};

pub(crate) static AUTHORIZATION_PROVIDERS: Family = Family {
    name: "authorizationProviders",
    type_name: "authorizationProviders",
    children: &[&AUTHORIZATIONS],
    hidden: &["/oauth2/grantTypes/*/clientSecret"],
    prepare: authorization_provider,
    ..BASE
};

pub(crate) static AUTHORIZATIONS: Family = Family {
    name: "authorizations",
    type_name: "authorizations",
    children: &[&ACCESS_POLICIES],
    hidden: &["/parameters/clientSecret"],
    prepare: authorization,
    ..BASE
};

pub(crate) static ACCESS_POLICIES: Family = Family {
    name: "accessPolicies",
    type_name: "accessPolicies",
    prepare: access_policy,
    ..BASE
};

pub(crate) static CACHES: Family = Family {
    name: "caches",
    type_name: "caches",
    prepare: cache,
    ..BASE
};

pub(crate) static POLICY_RESTRICTIONS: Family = Family {
    name: "policyRestrictions",
    type_name: "policyRestrictions",
    prepare: policy_restriction,
    ..BASE
};

/// An uploaded certificate shows its subject, thumbprint and expiry, never
/// its key. The emulator cannot open a PFX: it takes the thumbprint from
/// the uploaded bytes and names the subject after the certificate (see
/// the README). A Key Vault certificate keeps its reference.
fn certificate(p: &mut Prepare) -> Result<(), Response> {
    let kv = p.props.get("keyVault").filter(|v| !v.is_null()).cloned();
    match (p.props.get("data").and_then(Value::as_str), &kv) {
        (Some(data), None) => {
            use base64::Engine;
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(data.trim())
                .map_err(|_| error(400, "ValidationError", "'data' must be a base64-encoded certificate."))?;
            p.props.insert("thumbprint".into(), json!(thumbprint(&bytes)));
            default(p.props, "subject", json!(format!("CN={}", p.id)));
            default(p.props, "expirationDate", json!(CERTIFICATE_EXPIRY));
        }
        (None, Some(kv)) => {
            if kv.get("secretIdentifier").and_then(Value::as_str).is_none_or(str::is_empty) {
                return Err(error(400, "ValidationError", "'keyVault.secretIdentifier' is required."));
            }
            let status = p.vault.status(kv);
            p.props["keyVault"]["lastStatus"] = status;
            let id = kv["secretIdentifier"]
                .as_str()
                .unwrap_or_default()
                .trim_end_matches('/')
                .to_string();
            default(p.props, "thumbprint", json!(thumbprint(id.as_bytes())));
            default(p.props, "subject", json!(format!("CN={}", p.id)));
            default(p.props, "expirationDate", json!(CERTIFICATE_EXPIRY));
        }
        _ => {
            return Err(error(
                400,
                "ValidationError",
                "Either 'data' (with 'password') or 'keyVault' is required, not both.",
            ))
        }
    }
    Ok(())
}

/// The expiry every certificate shows: the emulator cannot read one, and
/// a date that depends only on what was uploaded keeps two instances given
/// the same certificate equal.
const CERTIFICATE_EXPIRY: &str = "2036-01-01T00:00:00Z";

/// SHA-1 of the bytes, in upper-case hex, as Azure shows a thumbprint.
fn thumbprint(bytes: &[u8]) -> String {
    let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA1_FOR_LEGACY_USE_ONLY, bytes);
    digest.as_ref().iter().map(|b| format!("{b:02X}")).collect()
}

fn authorization_server(p: &mut Prepare) -> Result<(), Response> {
    display_name(p)?;
    for k in ["clientRegistrationEndpoint", "authorizationEndpoint", "grantTypes", "clientId"] {
        require(p.props, k)?;
    }
    default(p.props, "clientAuthenticationMethod", json!(["Basic"]));
    default(p.props, "authorizationMethods", json!(["GET"]));
    Ok(())
}

fn identity_provider(p: &mut Prepare) -> Result<(), Response> {
    require(p.props, "clientId")?;
    let id = p.id.to_string();
    default(p.props, "type", json!(id));
    Ok(())
}

fn openid_provider(p: &mut Prepare) -> Result<(), Response> {
    display_name(p)?;
    require(p.props, "metadataEndpoint")?;
    require(p.props, "clientId")
}

fn authorization_provider(p: &mut Prepare) -> Result<(), Response> {
    display_name(p)?;
    require(p.props, "identityProvider")?;
    require(p.props, "oauth2")
}

fn authorization(p: &mut Prepare) -> Result<(), Response> {
    require(p.props, "authorizationType")?;
    one_of(p.props, "authorizationType", &["OAuth2"])?;
    require(p.props, "oauth2grantType")?;
    one_of(p.props, "oauth2grantType", &["AuthorizationCode", "ClientCredentials"])?;
    // A new authorization code connection waits for someone to consent.
    if p.props["oauth2grantType"] == "AuthorizationCode" {
        default(p.props, "status", json!("Error"));
        default(
            p.props,
            "error",
            json!({"code": "Unauthenticated", "message": "This connection is not authenticated."}),
        );
    } else {
        default(p.props, "status", json!("Connected"));
    }
    Ok(())
}

fn access_policy(p: &mut Prepare) -> Result<(), Response> {
    require(p.props, "tenantId")?;
    require(p.props, "objectId")
}

/// As Azure does, the connection string moves into a secret named value
/// and the cache keeps a `{{reference}}` to it.
fn cache(p: &mut Prepare) -> Result<(), Response> {
    require(p.props, "connectionString")?;
    require(p.props, "useFromLocation")?;
    let cs = p.props["connectionString"].as_str().unwrap_or_default().to_string();
    if !cs.starts_with("{{") {
        // A new connection string goes into the named value the cache
        // already has, if it has one.
        let held = p
            .tree
            .get(&crate::state::key(&format!("caches/{}", p.id)))
            .and_then(|c| c.pointer("/properties/connectionString"))
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("{{")?.strip_suffix("}}").map(str::to_string));
        let nv_id = held.unwrap_or_else(|| format!("{:024x}", p.etag.wrapping_mul(0x9e3779b97f4a7c15)));
        let nv = json!({
            "name": nv_id,
            "properties": {"displayName": format!("cache-{}-connection-string", p.id), "value": cs, "secret": true, "tags": []},
            "etag": p.etag,
        });
        p.also.push((format!("namedvalues/{nv_id}"), nv));
        p.props.insert("connectionString".into(), json!(format!("{{{{{nv_id}}}}}")));
    }
    Ok(())
}

fn policy_restriction(p: &mut Prepare) -> Result<(), Response> {
    require(p.props, "scope")?;
    one_of(p.props, "requireBase", &["true", "false"])?;
    default(p.props, "requireBase", json!("false"));
    Ok(())
}
