//! The HTTP side: bearer tokens, retries, paging, polling.

use crate::lro::{self, FinalStateVia, PendingOperation, PollState};
use crate::{ArmError, Error, Stop};
use arm_auth::TokenSource;
use http_retry::{parse_retry_after, Outcome, RetryPolicy};
use reqwest::header::HeaderMap;
use reqwest::Method;
use serde::de::DeserializeOwned;
use serde_json::Value;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use url::Url;

/// A finished HTTP exchange, whatever its status.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: bytes::Bytes,
    pub url: String,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn request_id(&self) -> Option<String> {
        ["x-ms-request-id", "x-ms-correlation-request-id"]
            .iter()
            .find_map(|h| self.header(h))
            .map(str::to_string)
    }

    pub fn retry_after(&self) -> Option<Duration> {
        self.header("retry-after")
            .and_then(|v| parse_retry_after(v, time::OffsetDateTime::now_utc()))
    }

    pub fn is_success(&self) -> bool {
        (200..300).contains(&self.status)
    }

    pub fn json<T: DeserializeOwned>(&self) -> Result<T, Error> {
        serde_json::from_slice(&self.body).map_err(|e| Error::Decode {
            url: self.url.clone(),
            message: format!("{e}"),
        })
    }

    pub fn arm_error(&self) -> ArmError {
        ArmError::from_response(self.status, &self.body, self.request_id())
    }

    /// `Ok(self)` for 2xx, the ARM error otherwise.
    pub fn success(self) -> Result<Self, Error> {
        if self.is_success() {
            Ok(self)
        } else {
            Err(self.arm_error().into())
        }
    }
}

/// Called with one line per request; never a token.
pub type Logger = Arc<dyn Fn(&str) + Send + Sync>;

/// What made [`ArmClient::wait`] return without a result.
#[derive(Debug)]
pub enum WaitError {
    /// The stop future fired (timeout, Ctrl-C); the operation goes on.
    Stopped(PendingOperation),
    Failed(Error),
}

impl From<Error> for WaitError {
    fn from(e: Error) -> Self {
        WaitError::Failed(e)
    }
}

/// Pages of one list read at once, when their links are known.
const LIST_PARALLEL: usize = 16;

/// An ARM client: one endpoint, one token source, one HTTP client.
pub struct ArmClient {
    http: reqwest::Client,
    endpoint: Url,
    scope: String,
    tokens: Arc<TokenSource>,
    retry: RetryPolicy,
    /// Poll interval when the service sends no Retry-After.
    pub default_poll_interval: Duration,
    sent: AtomicU64,
    logger: Option<Logger>,
    stop: Stop,
    /// ARM's throttling, mirrored from its answers.
    pacer: crate::pacing::Pacer,
}

impl ArmClient {
    pub fn new(http: reqwest::Client, endpoint: &str, tokens: Arc<TokenSource>) -> Result<Self, Error> {
        let endpoint = Url::parse(endpoint).map_err(|e| Error::Decode {
            url: endpoint.to_string(),
            message: format!("not a URL: {e}"),
        })?;
        Ok(ArmClient {
            http,
            scope: arm_auth::arm_scope(endpoint.as_str()),
            endpoint,
            tokens,
            retry: RetryPolicy::default(),
            default_poll_interval: Duration::from_secs(10),
            sent: AtomicU64::new(0),
            logger: None,
            stop: Stop::never(),
            pacer: crate::pacing::Pacer::default(),
        })
    }

    pub fn with_retry(mut self, retry: RetryPolicy) -> Self {
        self.retry = retry;
        self
    }

    /// Called with one line per request (method, URL, status, time); never tokens.
    pub fn with_logger(mut self, logger: Logger) -> Self {
        self.logger = Some(logger);
        self
    }

    /// What ends every wait of this client (a deadline, Ctrl-C).
    pub fn with_stop(mut self, stop: Stop) -> Self {
        self.stop = stop;
        self
    }

    pub fn stop(&self) -> &Stop {
        &self.stop
    }

    /// The request logger (`-v`), for clients of other services to log alike.
    pub fn logger(&self) -> Option<Logger> {
        self.logger.clone()
    }

    pub fn endpoint(&self) -> &Url {
        &self.endpoint
    }

    pub fn tokens(&self) -> &Arc<TokenSource> {
        &self.tokens
    }

    pub fn http(&self) -> &reqwest::Client {
        &self.http
    }

    /// Requests sent so far, retries and polls included.
    pub fn requests_sent(&self) -> u64 {
        self.sent.load(Ordering::Relaxed)
    }

    /// `path` (an id such as `/subscriptions/…`) on this endpoint with `api-version`.
    pub fn url(&self, path: &str, api_version: &str) -> Url {
        let mut u = self.endpoint.clone();
        u.set_path(path);
        u.query_pairs_mut().clear().append_pair("api-version", api_version);
        u
    }

    /// Sends one request, retrying what is safe to retry; returns any status.
    pub async fn send(&self, method: Method, url: Url, body: Option<&Value>, headers: &[(&str, &str)]) -> Result<Response, Error> {
        // A write conditional on an ETag cannot apply twice: sent again after
        // it was applied, it meets a new ETag and gets 412.
        let conditional = headers.iter().any(|(k, v)| k.eq_ignore_ascii_case("if-match") && *v != "*");
        let idempotent = conditional || matches!(method, Method::GET | Method::HEAD | Method::PUT | Method::DELETE | Method::OPTIONS);
        self.send_inner(method, url, body, headers, idempotent).await
    }

    /// A POST that only reads (listKeys, listValue): safe to retry.
    pub async fn post_read(&self, url: Url) -> Result<Response, Error> {
        self.send_inner(Method::POST, url, None, &[], true).await
    }

    async fn send_inner(
        &self,
        method: Method,
        url: Url,
        body: Option<&Value>,
        headers: &[(&str, &str)],
        idempotent: bool,
    ) -> Result<Response, Error> {
        let mut attempt = 0u32;
        let mut reauthenticated = false;
        let class = crate::pacing::Class::of(&method);
        loop {
            self.pacer.acquire(class).await;
            let token = self.tokens.token(&self.scope).await?;
            let mut req = self
                .http
                .request(method.clone(), url.clone())
                .bearer_auth(token.secret())
                .header("x-ms-client-request-id", uuid::Uuid::new_v4().to_string());
            for (k, v) in headers {
                req = req.header(*k, *v);
            }
            if let Some(b) = body {
                req = req.json(b);
            } else if method == Method::POST || method == Method::PUT {
                req = req.header("content-length", "0");
            }
            let started = Instant::now();
            self.sent.fetch_add(1, Ordering::Relaxed);
            let outcome = match req.send().await {
                Ok(resp) => {
                    let status = resp.status().as_u16();
                    let resp_headers = resp.headers().clone();
                    let body = match resp.bytes().await {
                        Ok(b) => b,
                        Err(e) => {
                            self.log(&format!("{method} {url} -> body lost: {e}"));
                            if let Some(d) = self.retry.delay(idempotent, attempt, Outcome::ConnectionFailed, rand::random()) {
                                attempt += 1;
                                tokio::time::sleep(d).await;
                                continue;
                            }
                            return Err(network_error(&url, &e));
                        }
                    };
                    let r = Response {
                        status,
                        headers: resp_headers,
                        body,
                        url: url.to_string(),
                    };
                    self.log(&format!(
                        "{method} {} -> {status} ({} ms)",
                        redact_query(&url),
                        started.elapsed().as_millis()
                    ));
                    r
                }
                Err(e) => {
                    self.log(&format!("{method} {} -> {e}", redact_query(&url)));
                    // An untrusted certificate stays untrusted; a refused
                    // connection gets a short second look, not a minute.
                    let outcome = match arm_auth::permanent_cause(&e) {
                        Some(arm_auth::Cause::Untrusted(_)) => None,
                        Some(_) => Some(Outcome::Refused),
                        None => Some(Outcome::ConnectionFailed),
                    };
                    if let Some(d) = outcome.and_then(|o| self.retry.delay(idempotent, attempt, o, rand::random())) {
                        attempt += 1;
                        tokio::time::sleep(d).await;
                        continue;
                    }
                    return Err(network_error(&url, &e));
                }
            };
            // A rejected token was not processed, so asking again is safe
            // for any method; once, in case the cached token went stale.
            if outcome.status == 401 && !reauthenticated {
                reauthenticated = true;
                self.tokens.invalidate(&self.scope, &token).await;
                continue;
            }
            self.pacer
                .observe(class, outcome.status, &outcome.headers, outcome.retry_after(), Instant::now());
            let o = if outcome.status == 409 && is_contended(&outcome.body) {
                Outcome::Contended {
                    retry_after: outcome.retry_after(),
                }
            } else {
                Outcome::Status {
                    status: outcome.status,
                    retry_after: outcome.retry_after(),
                }
            };
            match self.retry.delay(idempotent, attempt, o, rand::random()) {
                Some(d) => {
                    attempt += 1;
                    tokio::time::sleep(d).await;
                }
                None => return Ok(outcome),
            }
        }
    }

    fn log(&self, line: &str) {
        if let Some(l) = &self.logger {
            l(line);
        }
    }

    /// GET a resource; `None` when it does not exist.
    pub async fn get(&self, url: Url) -> Result<Option<Value>, Error> {
        let r = self.send(Method::GET, url, None, &[]).await?;
        if r.status == 404 {
            return Ok(None);
        }
        Ok(Some(r.success()?.json()?))
    }

    /// Every item of a pageable list. When the first page says how many
    /// items there are and pages by `$skip` (APIM's lists), the other
    /// pages are read at once; if the list changed meanwhile (the count no
    /// longer adds up), it is read again by following `nextLink`.
    pub async fn list(&self, url: Url) -> Result<Vec<Value>, Error> {
        let first: Value = self.send(Method::GET, url.clone(), None, &[]).await?.success()?.json()?;
        let count = first.get("count").and_then(Value::as_u64);
        let (mut out, link) = crate::paging::read_page(first);
        let Some(link) = link else {
            return Ok(out);
        };
        let next = own_url(&self.endpoint, &link, "the list's nextLink")?;
        if let Some(pages) = count.and_then(|c| crate::paging::remaining_pages(&next, out.len(), c)) {
            use futures::stream::{self, StreamExt, TryStreamExt};
            let read: Vec<(Vec<Value>, Option<String>)> = stream::iter(pages.into_iter().map(|u| async move {
                let page: Value = self.send(Method::GET, u, None, &[]).await?.success()?.json()?;
                Ok::<_, Error>(crate::paging::read_page(page))
            }))
            .buffered(LIST_PARALLEL)
            .try_collect()
            .await?;
            let last_ends = read.last().is_some_and(|(_, l)| l.is_none());
            let total = out.len() + read.iter().map(|(i, _)| i.len()).sum::<usize>();
            if last_ends && Some(total as u64) == count {
                out.extend(read.into_iter().flat_map(|(i, _)| i));
                return Ok(out);
            }
            out.clear();
            return self.list_sequentially(url, out).await;
        }
        self.list_sequentially(next, out).await
    }

    /// Follows `nextLink` from `url` to the end, after the items already read.
    async fn list_sequentially(&self, url: Url, mut out: Vec<Value>) -> Result<Vec<Value>, Error> {
        let mut next = Some(url);
        while let Some(u) = next.take() {
            let page: Value = self.send(Method::GET, u, None, &[]).await?.success()?.json()?;
            let (items, link) = crate::paging::read_page(page);
            out.extend(items);
            if let Some(l) = link {
                next = Some(own_url(&self.endpoint, &l, "the list's nextLink")?);
            }
        }
        Ok(out)
    }

    /// From the first answer of a long-running call: `None` when it
    /// already finished, the operation to poll otherwise.
    pub fn operation(&self, initial: &Response, resource_url: &Url, final_state_via: FinalStateVia) -> Option<PendingOperation> {
        let body = serde_json::from_slice::<Value>(&initial.body).ok();
        lro::pending_from(
            initial.status,
            initial.header("azure-asyncoperation"),
            initial.header("location"),
            initial.retry_after(),
            body.as_ref(),
            resource_url.as_str(),
            final_state_via,
        )
    }

    /// A polling URL from a response or a resume document. It must be on
    /// this client's endpoint: the bearer token goes with it.
    fn operation_url(&self, s: &str) -> Result<Url, Error> {
        own_url(&self.endpoint, s, "the operation")
    }

    /// One poll. Updates the operation's Retry-After.
    pub async fn poll(&self, op: &mut PendingOperation) -> Result<PollState, Error> {
        let parse = |s: &str| self.operation_url(s);
        let state = if let Some(aao) = &op.azure_async_operation {
            let r = self.send(Method::GET, parse(aao)?, None, &[]).await?.success()?;
            lro::read_async_status(&r.json()?, r.retry_after(), r.request_id())
        } else if let Some(loc) = &op.location {
            let r = self.send(Method::GET, parse(loc)?, None, &[]).await?;
            lro::read_location(r.status, &r.body, r.retry_after(), r.request_id())
        } else {
            let r = self.send(Method::GET, parse(&op.resource_url)?, None, &[]).await?.success()?;
            lro::read_resource(&r.json()?, r.retry_after(), r.request_id())
        };
        if let PollState::Running { retry_after: Some(d), .. } = &state {
            op.retry_after_seconds = Some(d.as_secs());
        }
        Ok(state)
    }

    /// The operation's result once it succeeded, from where its spec says.
    async fn result(&self, op: &PendingOperation, body: Option<Value>) -> Result<Value, Error> {
        let parse = |s: &str| self.operation_url(s);
        let from_location = op.final_state_via == FinalStateVia::Location && op.azure_async_operation.is_some();
        match (body, from_location, &op.location) {
            (Some(b), false, _) => Ok(b),
            (_, true, Some(loc)) => {
                let r = self.send(Method::GET, parse(loc)?, None, &[]).await?.success()?;
                if r.body.is_empty() {
                    Ok(Value::Null)
                } else {
                    r.json()
                }
            }
            _ if op.final_state_via == FinalStateVia::AzureAsyncOperation => Ok(Value::Null),
            _ => Ok(self.get(parse(&op.resource_url)?).await?.unwrap_or(Value::Null)),
        }
    }

    /// Polls until the operation ends or this client's [`Stop`] fires,
    /// honouring Retry-After between polls. `observe` sees each state (for progress).
    pub async fn wait(&self, op: PendingOperation, observe: impl FnMut(&str)) -> Result<Value, WaitError> {
        self.wait_inner(op, observe, true).await
    }

    /// [`ArmClient::wait`] shown as one task of `observer`, which is told
    /// how it ended.
    pub async fn wait_watched(&self, op: PendingOperation, observer: &dyn crate::Observer, label: &str) -> Result<Value, WaitError> {
        let task = observer.task(label);
        let result = self.wait(op.clone(), |s| task.state(s)).await;
        if !matches!(result, Err(WaitError::Stopped(_))) {
            observer.ended(&op);
        }
        task.finish(match &result {
            Ok(_) => "done",
            Err(WaitError::Stopped(_)) => "still running in Azure; stopped waiting",
            Err(WaitError::Failed(_)) => "failed",
        });
        result
    }

    /// Like [`ArmClient::wait`], for a caller that needs only to know the
    /// operation succeeded: the final result is not fetched.
    pub async fn wait_until_done(&self, op: PendingOperation) -> Result<(), WaitError> {
        self.wait_inner(op, |_| {}, false).await.map(|_| ())
    }

    async fn wait_inner(&self, mut op: PendingOperation, mut observe: impl FnMut(&str), fetch_result: bool) -> Result<Value, WaitError> {
        let stop = self.stop.wait();
        tokio::pin!(stop);
        loop {
            let state = tokio::select! {
                biased;
                _ = &mut stop => return Err(WaitError::Stopped(op)),
                s = self.poll(&mut op) => s?,
            };
            match state {
                PollState::Succeeded { body } => {
                    observe("Succeeded");
                    if !fetch_result {
                        return Ok(Value::Null);
                    }
                    return Ok(self.result(&op, body).await?);
                }
                PollState::Failed(e) => return Err(WaitError::Failed(e.into())),
                PollState::Running { status, retry_after } => {
                    observe(&status);
                    let d = retry_after.unwrap_or(self.default_poll_interval);
                    tokio::select! {
                        biased;
                        _ = &mut stop => return Err(WaitError::Stopped(op)),
                        _ = tokio::time::sleep(d) => {}
                    }
                }
            }
        }
    }
}

/// `link` (a polling URL, a nextLink), parsed, if it is on `endpoint`'s
/// origin: ARM's bearer token goes to it, so a URL a server or a document
/// names elsewhere is refused, never followed.
pub(crate) fn own_url(endpoint: &Url, link: &str, what: &str) -> Result<Url, Error> {
    let u = Url::parse(link).map_err(|e| Error::Decode {
        url: link.to_string(),
        message: format!("{what}: {e}"),
    })?;
    if u.origin() != endpoint.origin() {
        return Err(Error::Decode {
            url: redact_query(&u),
            message: format!("{what} is not on the ARM endpoint {endpoint} (pass the --arm-endpoint it was started on)"),
        });
    }
    Ok(u)
}

fn network_error(url: &Url, e: &reqwest::Error) -> Error {
    use std::error::Error as _;
    let mut message = e.to_string();
    let mut src = e.source();
    while let Some(s) = src {
        message.push_str(": ");
        message.push_str(&s.to_string());
        src = s.source();
    }
    Error::Network {
        url: redact_query(url),
        message,
    }
}

/// Query strings can carry SAS signatures; logs and errors show the path only.
fn redact_query(url: &Url) -> String {
    let mut u = url.clone();
    let keep: Vec<(String, String)> = u
        .query_pairs()
        .filter(|(k, _)| k == "api-version")
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    u.set_query(None);
    if !keep.is_empty() {
        u.query_pairs_mut().extend_pairs(keep);
    }
    u.to_string()
}

/// Whether a 409's body is ARM's "another operation holds the resource"
/// (retried), not a conflict of the request itself (never retried).
fn is_contended(body: &[u8]) -> bool {
    serde_json::from_slice::<Value>(body)
        .ok()
        .and_then(|v| v.pointer("/error/code").and_then(Value::as_str).map(str::to_string))
        .is_some_and(|c| c.eq_ignore_ascii_case("PessimisticConcurrencyConflict"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_stay_on_the_arm_endpoint() {
        let arm = Url::parse("https://management.azure.com").unwrap();
        assert!(own_url(
            &arm,
            "https://management.azure.com/subscriptions/s?api-version=1&$skip=100",
            "nextLink"
        )
        .is_ok());
        for bad in [
            "https://evil.example.com/subscriptions/s",
            "http://management.azure.com/subscriptions/s",
            "https://management.azure.com:8443/subscriptions/s",
            "https://management.azure.com.evil.example.com/x",
        ] {
            let e = own_url(&arm, bad, "the list's nextLink").unwrap_err().to_string();
            assert!(e.contains("is not on the ARM endpoint"), "{bad}: {e}");
        }
    }
}
