//! The Blob data plane: what the toolkit needs of backup blobs.

use crate::sharedkey::{authorization, Signable};
use crate::BlobError;
use reqwest::Method;
use std::fmt;
use url::Url;

const VERSION: &str = "2023-11-03";

/// How requests to the account are authorised.
#[derive(Clone)]
pub enum BlobAuth {
    SharedKey {
        key: String,
    },
    /// An Entra ID token for `https://storage.azure.com/.default`.
    Bearer {
        token: String,
    },
}

impl fmt::Debug for BlobAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BlobAuth::SharedKey { .. } => "SharedKey(<redacted>)",
            BlobAuth::Bearer { .. } => "Bearer(<redacted>)",
        })
    }
}

/// One storage account's blob endpoint (`primaryEndpoints.blob`).
#[derive(Debug, Clone)]
pub struct BlobClient {
    http: reqwest::Client,
    endpoint: Url,
    account: String,
    auth: BlobAuth,
}

impl BlobClient {
    pub fn new(http: reqwest::Client, endpoint: &str, account: &str, auth: BlobAuth) -> Result<Self, BlobError> {
        let mut endpoint = Url::parse(endpoint).map_err(|e| BlobError::Config(format!("blob endpoint '{endpoint}' is not a URL: {e}")))?;
        if !endpoint.path().ends_with('/') {
            let p = format!("{}/", endpoint.path());
            endpoint.set_path(&p);
        }
        Ok(BlobClient {
            http,
            endpoint,
            account: account.to_string(),
            auth,
        })
    }

    fn url(&self, container: &str, blob: Option<&str>) -> Result<Url, BlobError> {
        let rel = match blob {
            Some(b) => format!("{container}/{b}"),
            None => container.to_string(),
        };
        self.endpoint
            .join(&rel)
            .map_err(|e| BlobError::Config(format!("bad blob path '{rel}': {e}")))
    }

    async fn send(&self, method: Method, url: Url, extra: &[(&str, &str)]) -> Result<reqwest::Response, BlobError> {
        let date = httpdate_now();
        let mut ms = vec![
            ("x-ms-date".to_string(), date.clone()),
            ("x-ms-version".to_string(), VERSION.to_string()),
        ];
        for (k, v) in extra {
            if k.starts_with("x-ms-") {
                ms.push((k.to_string(), v.to_string()));
            }
        }
        let mut req = self
            .http
            .request(method.clone(), url.clone())
            .header("x-ms-date", &date)
            .header("x-ms-version", VERSION);
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let auth = match &self.auth {
            BlobAuth::SharedKey { key } => {
                let s = Signable {
                    method: method.as_str(),
                    path: url.path(),
                    query: url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect(),
                    ms_headers: ms,
                    ..Default::default()
                };
                authorization(&self.account, key, &s).map_err(BlobError::Config)?
            }
            BlobAuth::Bearer { token } => format!("Bearer {token}"),
        };
        req.header("authorization", auth)
            .header("content-length", "0")
            .send()
            .await
            .map_err(|e| BlobError::Network {
                url: url.path().to_string(),
                message: e.to_string(),
            })
    }

    /// Creates the container; an existing one is fine.
    pub async fn create_container(&self, container: &str) -> Result<(), BlobError> {
        let mut url = self.url(container, None)?;
        url.query_pairs_mut().append_pair("restype", "container");
        let r = self.send(Method::PUT, url, &[]).await?;
        match r.status().as_u16() {
            201 => Ok(()),
            409 => Ok(()),
            _ => Err(BlobError::from_response(r).await),
        }
    }

    /// Whether the container exists.
    pub async fn container_exists(&self, container: &str) -> Result<bool, BlobError> {
        let mut url = self.url(container, None)?;
        url.query_pairs_mut().append_pair("restype", "container");
        let r = self.send(Method::HEAD, url, &[]).await?;
        match r.status().as_u16() {
            200 => Ok(true),
            404 => Ok(false),
            _ => Err(BlobError::from_response(r).await),
        }
    }
}

fn httpdate_now() -> String {
    let fmt = time::macros::format_description!("[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT");
    time::OffsetDateTime::now_utc().format(&fmt).unwrap_or_default()
}
