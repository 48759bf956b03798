//! Entra ID as the emulator plays it: the token endpoint (client secret and
//! federated assertions) and the checks on every ARM call's token.

use crate::http;
use crate::state::{key, now_ms, TokenInfo};
use crate::{App, SUBSCRIPTION_ID, TENANT_ID};
use axum::response::Response;
use serde_json::json;
use std::collections::HashMap;

/// The object id of the emulator's service principal.
pub const OBJECT_ID: &str = "0b1ec7ed-0000-4000-8000-00000000e0e0";

/// An access token shaped as Entra ID issues app tokens for ARM: a JWT
/// with the claims clients decode (aud, iss, tid, oid, appid/azp, exp,
/// nbf). Its signature is random: ARM (the emulator) is the only party
/// that checks the token, and it does so by looking it up, not by key.
fn jwt(client: &str, audience: &str, lifetime: i64) -> String {
    use base64::Engine;
    let b64 = |v: &serde_json::Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    let now = now_ms() / 1000;
    let issuer = format!("https://sts.windows.net/{TENANT_ID}/");
    let header = json!({"typ": "JWT", "alg": "RS256", "kid": "apim-emulator"});
    let claims = json!({
        "aud": audience, "iss": issuer, "idp": issuer, "iat": now, "nbf": now, "exp": now + lifetime,
        "appid": client, "azp": client, "appidacr": "1", "idtyp": "app",
        "oid": OBJECT_ID, "sub": OBJECT_ID, "tid": TENANT_ID, "ver": "1.0",
        "uti": uuid::Uuid::new_v4().simple().to_string(),
    });
    let mut sig = [0u8; 64];
    for chunk in sig.chunks_mut(16) {
        chunk.copy_from_slice(uuid::Uuid::new_v4().as_bytes());
    }
    format!(
        "{}.{}.{}",
        b64(&header),
        b64(&claims),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig)
    )
}

impl App {
    pub(crate) fn token(&self, r: &crate::shared::Req) -> Response {
        let form: HashMap<String, String> = url::form_urlencoded::parse(r.body).into_owned().collect();
        let aad = |status: u16, error: &str, code: u32, desc: &str| {
            http::json(
                status,
                &json!({"error": error, "error_description": format!("AADSTS{code}: {desc}"), "error_codes": [code],
                "timestamp": crate::state::rfc3339(now_ms()), "trace_id": uuid::Uuid::new_v4().to_string(), "correlation_id": uuid::Uuid::new_v4().to_string()}),
            )
        };
        if key(&r.names.tenant) != key(TENANT_ID) {
            return aad(
                400,
                "invalid_request",
                90002,
                &format!(
                    "Tenant '{}' not found. Check to make sure you have the correct tenant ID.",
                    r.names.tenant
                ),
            );
        }
        if form.get("grant_type").map(String::as_str) != Some("client_credentials") {
            return aad(400, "unsupported_grant_type", 70003, "The app requested an unsupported grant type.");
        }
        let client = form.get("client_id").cloned().unwrap_or_default();
        if client != self.config.client_id {
            return aad(
                400,
                "unauthorized_client",
                700016,
                &format!("Application with identifier '{client}' was not found in the directory."),
            );
        }
        let secret = self.lock().client_secret.clone();
        const JWT_BEARER: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";
        if form.get("client_assertion_type").map(String::as_str) == Some(JWT_BEARER) {
            // Workload identity: the emulator trusts its client secret as the
            // federated assertion (the file AZURE_FEDERATED_TOKEN_FILE names).
            if form.get("client_assertion").map(|a| a.trim()) != Some(secret.as_str()) {
                return aad(
                    401,
                    "invalid_client",
                    700211,
                    "No matching federated identity record found for presented assertion.",
                );
            }
        } else if form.get("client_secret") != Some(&secret) {
            return aad(401, "invalid_client", 7000215, "Invalid client secret provided. Ensure the secret being sent in the request is the client secret value, not the client secret ID.");
        }
        if !form.get("scope").is_some_and(|s| s.ends_with("/.default")) {
            return aad(400, "invalid_scope", 1002012, "The provided value for scope is not valid. Client credential flows must have a scope value with /.default suffixed to the resource identifier.");
        }
        let lifetime = self.config.token_lifetime_secs;
        let audience = form
            .get("scope")
            .map(|s| s.trim_end_matches("/.default").to_string())
            .unwrap_or_default();
        let token = jwt(&client, &audience, lifetime);
        self.lock().tokens.insert(
            token.clone(),
            TokenInfo {
                client_id: client,
                expires_ms: now_ms() + lifetime * 1000,
                audience: form
                    .get("scope")
                    .map(|s| s.trim_end_matches("/.default").trim_end_matches('/').to_string())
                    .unwrap_or_default(),
            },
        );
        http::json(
            200,
            &json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}),
        )
    }

    /// The tenant's OpenID configuration, which MSAL (and so the az CLI,
    /// Az PowerShell and every Azure SDK) reads before it asks for a token:
    /// `v2` for `/{tenant}/v2.0/.well-known/openid-configuration`, else the v1 form.
    pub(crate) fn openid_configuration(&self, r: &crate::shared::Req, v2: bool) -> Response {
        let base = self.base_url.trim_end_matches('/');
        let tenant = if key(&r.names.tenant) == "common" || key(&r.names.tenant) == "organizations" {
            TENANT_ID
        } else {
            r.names.tenant.as_str()
        };
        if key(tenant) != key(TENANT_ID) {
            return http::json(
                400,
                &json!({"error": "invalid_tenant", "error_description": format!("AADSTS90002: Tenant '{tenant}' not found.")}),
            );
        }
        let (oauth, issuer) = if v2 {
            (format!("{base}/{TENANT_ID}/oauth2/v2.0"), format!("{base}/{TENANT_ID}/v2.0"))
        } else {
            (
                format!("{base}/{TENANT_ID}/oauth2"),
                format!("https://sts.windows.net/{TENANT_ID}/"),
            )
        };
        let keys = if v2 { "discovery/v2.0/keys" } else { "discovery/keys" };
        http::json(
            200,
            &json!({
                "token_endpoint": format!("{oauth}/token"),
                "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt", "client_secret_basic"],
                "jwks_uri": format!("{base}/{TENANT_ID}/{keys}"),
                "response_modes_supported": ["query", "fragment", "form_post"],
                "subject_types_supported": ["pairwise"],
                "id_token_signing_alg_values_supported": ["RS256"],
                "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
                "scopes_supported": ["openid", "profile", "email", "offline_access"],
                "issuer": issuer,
                "request_uri_parameter_supported": false,
                "userinfo_endpoint": format!("{base}/oidc/userinfo"),
                "authorization_endpoint": format!("{oauth}/authorize"),
                "device_authorization_endpoint": format!("{oauth}/devicecode"),
                "http_logout_supported": true,
                "frontchannel_logout_supported": true,
                "end_session_endpoint": format!("{oauth}/logout"),
                "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "tid", "oid", "appid", "azp"],
                "kerberos_endpoint": format!("{base}/{TENANT_ID}/kerberos"),
                "tenant_region_scope": "WW",
                "cloud_instance_name": "apim-emulator",
                "cloud_graph_host_name": "graph.windows.net",
                "msgraph_host": "graph.microsoft.com",
                "rbac_url": "https://pas.windows.net"
            }),
        )
    }

    /// `/common/discovery/instance`: the answer MSAL gets when it validates
    /// an authority it does not know (clients that do not turn that off).
    pub(crate) fn instance_discovery(&self) -> Response {
        let host = url::Url::parse(&self.base_url)
            .ok()
            .and_then(|u| u.host_str().map(|h| format!("{h}:{}", u.port_or_known_default().unwrap_or(443))))
            .unwrap_or_default();
        let base = self.base_url.trim_end_matches('/');
        http::json(
            200,
            &json!({
                "tenant_discovery_endpoint": format!("{base}/{TENANT_ID}/v2.0/.well-known/openid-configuration"),
                "api-version": "1.1",
                "metadata": [{"preferred_network": host, "preferred_cache": host, "aliases": [host]}]
            }),
        )
    }

    /// The signing keys' document: the emulator signs nothing a client
    /// checks (ARM checks its own tokens), so it lists none.
    pub(crate) fn signing_keys(&self) -> Response {
        http::json(200, &json!({"keys": []}))
    }

    /// 401 without or with a bad token; 403 for a subscription the principal lacks.
    /// Checks the bearer token; the principal (client id) it was issued to.
    pub(crate) fn authorize(&self, r: &crate::shared::Req) -> Result<String, Response> {
        let challenge = |resp: Response| {
            http::with_header(
                resp,
                "www-authenticate",
                &format!("Bearer authorization_uri=\"{}{TENANT_ID}\", error=\"invalid_token\"", self.base_url),
            )
        };
        let Some(auth) = r.headers.get("authorization").and_then(|v| v.to_str().ok()) else {
            return Err(challenge(http::error(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is missing.",
            )));
        };
        let Some(token) = auth.strip_prefix("Bearer ").or_else(|| auth.strip_prefix("bearer ")) else {
            return Err(challenge(http::error(
                401,
                "AuthenticationFailed",
                "Authentication failed. The 'Authorization' header is not in the format 'Bearer <token>'.",
            )));
        };
        let st = self.lock();
        let Some(info) = st.tokens.get(token.trim()) else {
            return Err(challenge(http::error(
                401,
                "InvalidAuthenticationToken",
                "The access token is invalid.",
            )));
        };
        // A token for another resource (Storage, Key Vault) is not one for
        // ARM. An emulator's own endpoint counts on any port: a rehearsal
        // restarted with --state on a new port keeps its tokens.
        let arm = self.base_url.trim_end_matches('/');
        let audience = info.audience.as_str();
        let emulator_origin = url::Url::parse(audience)
            .is_ok_and(|u| u.scheme() == "https" && matches!(u.host_str(), Some("127.0.0.1" | "localhost")) && u.path() == "/");
        if !emulator_origin && !["https://management.azure.com", "https://management.core.windows.net"].contains(&audience) {
            return Err(challenge(http::error(
                401,
                "InvalidAuthenticationTokenAudience",
                &format!("The access token has been obtained for wrong audience or resource '{audience}'. It should exactly match with one of the allowed audiences '{arm}/', 'https://management.azure.com/'."),
            )));
        }
        if info.expires_ms <= now_ms() {
            return Err(challenge(http::error(
                401,
                "ExpiredAuthenticationToken",
                "The access token expiry UTC time is earlier than current UTC time.",
            )));
        }
        let sub = r.segs.get(1).map(String::as_str).unwrap_or("");
        if r.lower.first().map(String::as_str) == Some("subscriptions")
            && r.segs.len() >= 2
            && key(sub) != key(SUBSCRIPTION_ID)
            && key(sub) != key(crate::SECOND_SUBSCRIPTION_ID)
        {
            let action = format!("{}/read", r.segs.get(5).map(String::as_str).unwrap_or("Microsoft.Resources"));
            let scope = format!("/{}", r.segs.join("/"));
            let msg = format!("The client '{}' with object id '{}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.", info.client_id, info.client_id);
            return Err(http::error(403, "AuthorizationFailed", &msg));
        }
        Ok(info.client_id.clone())
    }
}
