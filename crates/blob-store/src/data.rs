//! The Blob data plane: what the toolkit needs of backup blobs.

use crate::sharedkey::{authorization, Signable};
use crate::BlobError;
use http_retry::{Outcome, RetryPolicy};
use reqwest::Method;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use url::Url;

const VERSION: &str = "2023-11-03";

/// Hands out an Entra ID token for Storage (`https://storage.azure.com/.default`)
/// each time a request is sent, so a client kept through a two-hour wait
/// never sends a token taken before it.
pub trait TokenProvider: Send + Sync {
    fn token(&self) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + '_>>;
    /// The service refused `rejected` (401): the next [`TokenProvider::token`]
    /// must be a new one.
    fn rejected<'a>(&'a self, rejected: &'a str) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>>;
}

/// How requests to the account are authorised.
#[derive(Clone)]
pub enum BlobAuth {
    SharedKey {
        key: String,
    },
    /// Entra ID tokens, asked for on every request.
    Bearer {
        tokens: Arc<dyn TokenProvider>,
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
#[derive(Clone)]
pub struct BlobClient {
    http: reqwest::Client,
    endpoint: Url,
    account: String,
    auth: BlobAuth,
    retry: RetryPolicy,
    logger: Option<Logger>,
}

/// Called with one line per request (method, path, status, time): never a
/// key, token or query string (a SAS lives there).
pub type Logger = Arc<dyn Fn(&str) + Send + Sync>;

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
            retry: RetryPolicy::default(),
            logger: None,
        })
    }

    /// Logs each request (for `-v`).
    pub fn with_logger(mut self, logger: Logger) -> Self {
        self.logger = Some(logger);
        self
    }

    /// Replaces the default retry policy (10 retries, 0.5 s doubling to 60 s).
    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// The URL of a container or blob on this account's endpoint. Names are
    /// checked first: a container `//host` or a blob `a#b` must not address
    /// anything else (with the account's key or token on the request).
    fn url(&self, container: &str, blob: Option<&str>) -> Result<Url, BlobError> {
        if !crate::names::is_valid_container_name(container) {
            return Err(BlobError::Config(format!(
                "'{container}' is not a container name (3-63 lowercase letters, digits and single hyphens)"
            )));
        }
        let rel = match blob {
            Some(b) if crate::names::is_valid_blob_name(b) => format!("{container}/{b}"),
            Some(b) => {
                return Err(BlobError::Config(format!(
                    "'{b}' is not a blob name this toolkit uses (no '?', '#', '\\', control characters, or empty, '.' or '..' segments)"
                )))
            }
            None => container.to_string(),
        };
        self.endpoint
            .join(&rel)
            .map_err(|e| BlobError::Config(format!("bad blob path '{rel}': {e}")))
    }

    async fn send(&self, method: Method, url: Url, extra: &[(&str, &str)]) -> Result<reqwest::Response, BlobError> {
        self.send_body(method, url, extra, None).await
    }

    /// One request, sent again after what Storage asks to retry (500,
    /// 503 ServerBusy, 429, a lost connection), honouring Retry-After, and
    /// once with a new token after a 401. Every call the toolkit makes of
    /// the data plane is idempotent (a conditional PUT, HEAD, GET, DELETE
    /// with If-Match), so each may go again. `extra` are headers; those
    /// that take part in the Shared Key signature are read from it by name.
    async fn send_body(
        &self,
        method: Method,
        url: Url,
        extra: &[(&str, &str)],
        body: Option<(Vec<u8>, &str)>,
    ) -> Result<reqwest::Response, BlobError> {
        let mut attempt = 0u32;
        let mut reauthenticated = false;
        loop {
            let (req, token) = self.request(&method, &url, extra, body.as_ref()).await?;
            let started = std::time::Instant::now();
            let sent = req.send().await;
            if let Some(log) = &self.logger {
                let what = match &sent {
                    Ok(r) => r.status().as_u16().to_string(),
                    Err(e) => e.to_string(),
                };
                log(&format!(
                    "{method} {}{} -> {what} ({} ms, blob storage)",
                    url.origin().ascii_serialization(),
                    url.path(),
                    started.elapsed().as_millis()
                ));
            }
            let delay = match sent {
                Ok(r) if r.status().as_u16() == 401 && !reauthenticated && token.is_some() => {
                    reauthenticated = true;
                    if let (BlobAuth::Bearer { tokens }, Some(t)) = (&self.auth, &token) {
                        tokens.rejected(t).await;
                    }
                    continue;
                }
                Ok(r) => {
                    let o = Outcome::Status {
                        status: r.status().as_u16(),
                        retry_after: r
                            .headers()
                            .get("retry-after")
                            .and_then(|v| v.to_str().ok())
                            .and_then(|v| http_retry::parse_retry_after(v, time::OffsetDateTime::now_utc())),
                    };
                    match self.retry.delay(true, attempt, o, rand::random()) {
                        None => return Ok(r),
                        Some(d) => d,
                    }
                }
                Err(e) => match self.retry.delay(true, attempt, Outcome::ConnectionFailed, rand::random()) {
                    None => {
                        return Err(BlobError::Network {
                            url: url.path().to_string(),
                            message: e.to_string(),
                        })
                    }
                    Some(d) => d,
                },
            };
            attempt += 1;
            tokio::time::sleep(delay).await;
        }
    }

    /// The signed request, and the bearer token it carries (if any).
    async fn request(
        &self,
        method: &Method,
        url: &Url,
        extra: &[(&str, &str)],
        body: Option<&(Vec<u8>, &str)>,
    ) -> Result<(reqwest::RequestBuilder, Option<String>), BlobError> {
        let date = httpdate_now();
        let mut ms = vec![
            ("x-ms-date".to_string(), date.clone()),
            ("x-ms-version".to_string(), VERSION.to_string()),
        ];
        let header = |name: &str| {
            extra
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| *v)
                .unwrap_or("")
        };
        for (k, v) in extra {
            if k.to_ascii_lowercase().starts_with("x-ms-") {
                ms.push((k.to_string(), v.to_string()));
            }
        }
        let (len, content_type) = body.map(|(b, t)| (b.len() as u64, *t)).unwrap_or((0, ""));
        let mut req = self
            .http
            .request(method.clone(), url.clone())
            .header("x-ms-date", &date)
            .header("x-ms-version", VERSION);
        for (k, v) in extra {
            req = req.header(*k, *v);
        }
        let (auth, token) = match &self.auth {
            BlobAuth::SharedKey { key } => {
                let s = Signable {
                    method: method.as_str(),
                    path: url.path(),
                    query: url.query_pairs().map(|(k, v)| (k.into_owned(), v.into_owned())).collect(),
                    content_length: len,
                    content_type,
                    if_match: header("if-match"),
                    if_none_match: header("if-none-match"),
                    range: "",
                    ms_headers: ms,
                };
                (authorization(&self.account, key, &s).map_err(BlobError::Config)?, None)
            }
            BlobAuth::Bearer { tokens } => {
                let t = tokens
                    .token()
                    .await
                    .map_err(|e| BlobError::Config(format!("storage account {}: no token: {e}", self.account)))?;
                (format!("Bearer {t}"), Some(t))
            }
        };
        req = req.header("authorization", auth);
        req = match body {
            Some((b, t)) => req
                .header("content-type", *t)
                .header("content-length", b.len().to_string())
                .body(b.clone()),
            None => req.header("content-length", "0"),
        };
        Ok((req, token))
    }

    /// Uploads a block blob in one request. Without `overwrite`, an
    /// existing blob is left alone and the answer is `BlobAlreadyExists`.
    pub async fn put_blob(
        &self,
        container: &str,
        name: &str,
        data: Vec<u8>,
        content_type: &str,
        overwrite: bool,
    ) -> Result<BlobProperties, BlobError> {
        let url = self.url(container, Some(name))?;
        let mut headers = vec![("x-ms-blob-type", "BlockBlob")];
        if !overwrite {
            headers.push(("if-none-match", "*"));
        }
        let r = self.send_body(Method::PUT, url, &headers, Some((data, content_type))).await?;
        if r.status().as_u16() != 201 {
            return Err(BlobError::from_response(r).await);
        }
        self.properties(container, name)
            .await?
            .ok_or_else(|| BlobError::Config(format!("blob {container}/{name} vanished after upload")))
    }

    /// Size, ETag and last-modified time; `None` when the blob does not exist.
    pub async fn properties(&self, container: &str, name: &str) -> Result<Option<BlobProperties>, BlobError> {
        let r = self.send(Method::HEAD, self.url(container, Some(name))?, &[]).await?;
        match r.status().as_u16() {
            200 => Ok(Some(BlobProperties::from_headers(name, r.headers()))),
            404 => Ok(None),
            _ => Err(BlobError::from_response(r).await),
        }
    }

    /// The blob's bytes; `None` when it does not exist.
    pub async fn get_blob(&self, container: &str, name: &str) -> Result<Option<Vec<u8>>, BlobError> {
        let r = self.send(Method::GET, self.url(container, Some(name))?, &[]).await?;
        match r.status().as_u16() {
            200 => Ok(Some(
                r.bytes()
                    .await
                    .map_err(|e| BlobError::Network {
                        url: name.to_string(),
                        message: e.to_string(),
                    })?
                    .to_vec(),
            )),
            404 => Ok(None),
            _ => Err(BlobError::from_response(r).await),
        }
    }

    /// Deletes a blob; with `if_match`, only if it is still that version.
    /// `false` when it did not exist.
    pub async fn delete_blob(&self, container: &str, name: &str, if_match: Option<&str>) -> Result<bool, BlobError> {
        let headers: Vec<(&str, &str)> = if_match.map(|e| vec![("if-match", e)]).unwrap_or_default();
        let r = self.send(Method::DELETE, self.url(container, Some(name))?, &headers).await?;
        match r.status().as_u16() {
            202 => Ok(true),
            404 => Ok(false),
            _ => Err(BlobError::from_response(r).await),
        }
    }

    /// A URL another account can read the blob through, for `valid_for`:
    /// the blob URL with a read-only SAS. Needs Shared Key (a SAS is signed
    /// with the account key).
    pub fn read_url(&self, container: &str, name: &str, valid_for: std::time::Duration) -> Result<String, BlobError> {
        let BlobAuth::SharedKey { key } = &self.auth else {
            return Err(BlobError::Config(format!(
                "a readable URL for '{name}' needs the account key of '{}'",
                self.account
            )));
        };
        let expiry = time::OffsetDateTime::now_utc() + valid_for;
        let fmt = time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
        let sas = crate::sharedkey::read_sas(&self.account, key, container, name, &expiry.format(&fmt).unwrap_or_default())
            .map_err(BlobError::Config)?;
        let mut url = self.url(container, Some(name))?;
        url.set_query(Some(&sas));
        Ok(url.to_string())
    }

    /// Server-side copy from `source_url` (same account, or any URL the
    /// service can read, such as [`BlobClient::read_url`]) into this
    /// account, waiting until the copy is done.
    pub async fn copy_from_url(&self, container: &str, name: &str, source_url: &str, overwrite: bool) -> Result<BlobProperties, BlobError> {
        let mut headers = vec![("x-ms-copy-source", source_url)];
        if !overwrite {
            headers.push(("if-none-match", "*"));
        }
        let r = self.send(Method::PUT, self.url(container, Some(name))?, &headers).await?;
        if r.status().as_u16() != 202 {
            return Err(BlobError::from_response(r).await);
        }
        for _ in 0..600 {
            let r = self.send(Method::HEAD, self.url(container, Some(name))?, &[]).await?;
            let status = r
                .headers()
                .get("x-ms-copy-status")
                .and_then(|v| v.to_str().ok())
                .unwrap_or("success")
                .to_string();
            match status.as_str() {
                "pending" => tokio::time::sleep(std::time::Duration::from_millis(500)).await,
                "success" => return Ok(BlobProperties::from_headers(name, r.headers())),
                other => {
                    return Err(BlobError::Service {
                        status: 500,
                        code: format!("Copy{other}"),
                        message: format!("the copy of '{name}' ended as {other}"),
                    })
                }
            }
        }
        Err(BlobError::Config(format!("the copy of '{name}' did not finish within 5 minutes")))
    }

    /// Replaces the blob's metadata (`x-ms-meta-*`). Changes its ETag.
    pub async fn set_metadata(&self, container: &str, name: &str, metadata: &[(&str, &str)]) -> Result<BlobProperties, BlobError> {
        let mut url = self.url(container, Some(name))?;
        url.query_pairs_mut().append_pair("comp", "metadata");
        let headers: Vec<(String, String)> = metadata.iter().map(|(k, v)| (format!("x-ms-meta-{k}"), v.to_string())).collect();
        let refs: Vec<(&str, &str)> = headers.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
        let r = self.send(Method::PUT, url, &refs).await?;
        if r.status().as_u16() != 200 {
            return Err(BlobError::from_response(r).await);
        }
        self.properties(container, name)
            .await?
            .ok_or_else(|| BlobError::Config(format!("blob {container}/{name} vanished")))
    }

    /// Every blob whose name starts with `prefix`, following continuation markers.
    pub async fn list(&self, container: &str, prefix: &str) -> Result<Vec<BlobProperties>, BlobError> {
        let mut out = Vec::new();
        let mut marker = String::new();
        loop {
            let mut url = self.url(container, None)?;
            {
                let mut q = url.query_pairs_mut();
                q.append_pair("restype", "container")
                    .append_pair("comp", "list")
                    .append_pair("prefix", prefix);
                if !marker.is_empty() {
                    q.append_pair("marker", &marker);
                }
            }
            let r = self.send(Method::GET, url, &[]).await?;
            if r.status().as_u16() != 200 {
                return Err(BlobError::from_response(r).await);
            }
            let xml = r.text().await.map_err(|e| BlobError::Network {
                url: container.to_string(),
                message: e.to_string(),
            })?;
            out.extend(crate::xml::blobs(&xml));
            marker = crate::xml::next_marker(&xml).unwrap_or_default();
            if marker.is_empty() {
                return Ok(out);
            }
        }
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

/// What the toolkit records about a blob.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobProperties {
    pub name: String,
    pub size: u64,
    pub etag: String,
    /// RFC 1123, as the service sends it.
    pub last_modified: String,
    /// `x-ms-meta-*` values, by lower-case name.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub metadata: std::collections::BTreeMap<String, String>,
}

impl BlobProperties {
    /// `last_modified` as seconds since the Unix epoch.
    pub fn modified_unix(&self) -> Option<i64> {
        let fmt = time::macros::format_description!("[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT");
        time::PrimitiveDateTime::parse(&self.last_modified, &fmt)
            .ok()
            .map(|t| t.assume_utc().unix_timestamp())
    }

    fn from_headers(name: &str, h: &reqwest::header::HeaderMap) -> Self {
        let get = |k: &str| h.get(k).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let metadata = h
            .iter()
            .filter_map(|(k, v)| Some((k.as_str().strip_prefix("x-ms-meta-")?.to_string(), v.to_str().ok()?.to_string())))
            .collect();
        BlobProperties {
            name: name.to_string(),
            size: get("content-length").parse().unwrap_or(0),
            etag: get("etag"),
            last_modified: get("last-modified"),
            metadata,
        }
    }
}

fn httpdate_now() -> String {
    let fmt = time::macros::format_description!("[weekday repr:short], [day] [month repr:short] [year] [hour]:[minute]:[second] GMT");
    time::OffsetDateTime::now_utc().format(&fmt).unwrap_or_default()
}

impl fmt::Debug for BlobClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BlobClient")
            .field("endpoint", &self.endpoint.as_str())
            .field("account", &self.account)
            .field("auth", &self.auth)
            .finish_non_exhaustive()
    }
}
