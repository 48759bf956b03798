//! ARM error bodies and the errors of this crate.

use serde::Deserialize;
use std::fmt;

/// An error answer from ARM or a resource provider: what a support ticket needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmError {
    pub status: u16,
    pub code: String,
    pub message: String,
    pub request_id: Option<String>,
}

impl fmt::Display for ArmError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.message)?;
        match &self.request_id {
            Some(id) => write!(f, " (HTTP {}, request id {id})", self.status),
            None => write!(f, " (HTTP {})", self.status),
        }
    }
}

impl std::error::Error for ArmError {}

#[derive(Deserialize)]
struct Envelope {
    error: Option<Body>,
    // Some APIM answers put code/message at the top level.
    code: Option<String>,
    message: Option<String>,
}

#[derive(Deserialize)]
struct Body {
    code: Option<String>,
    message: Option<String>,
    /// What a validation error is about: a field (`target`) and why.
    #[serde(default)]
    details: Vec<Detail>,
}

#[derive(Deserialize)]
struct Detail {
    code: Option<String>,
    target: Option<String>,
    message: Option<String>,
}

impl ArmError {
    /// Reads `{"error":{"code","message"}}` (or the flat APIM form); a body
    /// that is neither still gives a useful error.
    pub fn from_response(status: u16, body: &[u8], request_id: Option<String>) -> Self {
        let parsed: Option<Envelope> = serde_json::from_slice(body).ok();
        let (code, message) = match parsed {
            Some(Envelope { error: Some(b), .. }) => {
                // "One or more fields contain incorrect values:" says nothing
                // without its details: the field and why.
                let details: Vec<String> = b
                    .details
                    .iter()
                    .filter_map(|d| {
                        let m = d.message.as_deref().or(d.code.as_deref())?;
                        Some(match &d.target {
                            Some(t) => format!("{t}: {m}"),
                            None => m.to_string(),
                        })
                    })
                    .collect();
                let message = match (b.message, details.is_empty()) {
                    (Some(m), false) => Some(format!("{} {}", m.trim_end_matches(':'), details.join("; "))),
                    (None, false) => Some(details.join("; ")),
                    (m, true) => m,
                };
                (b.code, message)
            }
            Some(Envelope { code, message, .. }) => (code, message),
            None => (None, None),
        };
        let fallback_message = || {
            let text = String::from_utf8_lossy(body);
            let text = text.trim();
            if text.is_empty() {
                "no error body".to_string()
            } else {
                text.chars().take(300).collect()
            }
        };
        ArmError {
            status,
            code: code.unwrap_or_else(|| format!("HTTP{status}")),
            message: message
                .map(|m| m.split_whitespace().collect::<Vec<_>>().join(" "))
                .unwrap_or_else(fallback_message),
            request_id,
        }
    }
}

/// Everything a call through [`crate::ArmClient`] can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Arm(#[from] ArmError),
    #[error(transparent)]
    Auth(#[from] arm_auth::AuthError),
    #[error("network error calling {url}: {message}")]
    Network { url: String, message: String },
    #[error("unexpected answer from {url}: {message}")]
    Decode { url: String, message: String },
    #[error(transparent)]
    Id(#[from] crate::IdError),
}

impl Error {
    /// The HTTP status ARM answered with, if it answered.
    pub fn status(&self) -> Option<u16> {
        match self {
            Error::Arm(e) => Some(e.status),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_code_message_and_request_id() {
        let e = ArmError::from_response(
            409,
            br#"{"error":{"code":"ServiceAlreadyExists","message":"Api service already exists:\n apim-src"}}"#,
            Some("abc-123".into()),
        );
        assert_eq!(
            e.to_string(),
            "ServiceAlreadyExists: Api service already exists: apim-src (HTTP 409, request id abc-123)"
        );
    }

    #[test]
    fn flat_and_unparseable_bodies() {
        let detailed = ArmError::from_response(
            400,
            br#"{"error":{"code":"ValidationError","message":"One or more fields contain incorrect values:","details":[{"code":"ValidationError","target":"sku.capacity","message":"Capacity must be 0 for the Consumption SKU."}]}}"#,
            None,
        );
        assert_eq!(
            detailed.message,
            "One or more fields contain incorrect values sku.capacity: Capacity must be 0 for the Consumption SKU."
        );
        let flat = ArmError::from_response(400, br#"{"code":"ValidationError","message":"bad"}"#, None);
        assert_eq!(flat.to_string(), "ValidationError: bad (HTTP 400)");
        let html = ArmError::from_response(502, b"<html>Bad Gateway</html>", None);
        assert_eq!(html.code, "HTTP502");
        assert!(html.message.contains("Bad Gateway"));
        let empty = ArmError::from_response(404, b"", None);
        assert_eq!(empty.to_string(), "HTTP404: no error body (HTTP 404)");
    }
}
