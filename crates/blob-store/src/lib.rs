//! Storage for APIM backups: the blob data plane (Shared Key or Entra ID),
//! as small as the toolkit needs, with retries of what Storage asks to
//! retry. The storage accounts and containers themselves are ARM
//! resources: see the `storage-accounts` crate.
//!
//! ```no_run
//! # async fn demo() -> Result<(), blob_store::BlobError> {
//! use blob_store::{BlobAuth, BlobClient};
//! let blobs = BlobClient::new(reqwest::Client::new(), "http://127.0.0.1:10000/apimbackups/", "apimbackups",
//!     BlobAuth::SharedKey { key: "base64key==".into() })?;
//! blobs.create_container("apim-backups").await?;
//! # Ok(()) }
//! ```

mod data;
pub use apim_rules::storage as names;
pub mod sharedkey;
mod xml;

pub use data::{BlobAuth, BlobClient, BlobProperties, Logger, TokenProvider};

#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    #[error("{0}")]
    Config(String),
    #[error("network error calling blob storage ({url}): {message}")]
    Network { url: String, message: String },
    #[error("{code}: {message} (HTTP {status}, blob storage)")]
    Service { status: u16, code: String, message: String },
}

impl BlobError {
    async fn from_response(r: reqwest::Response) -> Self {
        let status = r.status().as_u16();
        let code = r
            .headers()
            .get("x-ms-error-code")
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_string();
        let body = r.text().await.unwrap_or_default();
        let message = between(&body, "<Message>", "</Message>")
            .map(|m| m.lines().next().unwrap_or("").to_string())
            .unwrap_or_else(|| body.chars().take(200).collect());
        let code = if code.is_empty() {
            between(&body, "<Code>", "</Code>").unwrap_or("Unknown").to_string()
        } else {
            code
        };
        BlobError::Service { status, code, message }
    }
}

fn between<'a>(s: &'a str, a: &str, b: &str) -> Option<&'a str> {
    let start = s.find(a)? + a.len();
    let end = s[start..].find(b)? + start;
    Some(&s[start..end])
}
