//! Entra ID as the emulator plays it: the token endpoint (client secret and
//! federated assertions) and the checks on every ARM call's token.

use crate::http;
use crate::state::{key, now_ms, TokenInfo};
use crate::{App, SUBSCRIPTION_ID, TENANT_ID};
use axum::response::Response;
use serde_json::json;
use std::collections::HashMap;

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
        if key(&r.segs[0]) != key(TENANT_ID) {
            return aad(
                400,
                "invalid_request",
                90002,
                &format!(
                    "Tenant '{}' not found. Check to make sure you have the correct tenant ID.",
                    r.segs[0]
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
        let token = format!("emu.{}.{}", uuid::Uuid::new_v4().simple(), uuid::Uuid::new_v4().simple());
        let lifetime = self.config.token_lifetime_secs;
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
        if r.lower.first().map(String::as_str) == Some("subscriptions") && key(sub) != key(SUBSCRIPTION_ID) {
            let action = format!("{}/read", r.segs.get(5).map(String::as_str).unwrap_or("Microsoft.Resources"));
            let scope = format!("/{}", r.segs.join("/"));
            let msg = format!("The client '{}' with object id '{}' does not have authorization to perform action '{action}' over scope '{scope}' or the scope is invalid. If access was recently granted, please refresh your credentials.", info.client_id, info.client_id);
            return Err(http::error(403, "AuthorizationFailed", &msg));
        }
        Ok(info.client_id.clone())
    }
}
