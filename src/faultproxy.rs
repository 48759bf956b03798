//! A fault-injecting HTTP proxy in front of Azurite: Storage answers 503
//! ServerBusy and 500 under load, and refuses stale tokens, but Azurite
//! does neither on demand. The proxy forwards every request unchanged
//! (Shared Key signs the path, not the host, so signatures still hold) and
//! fails the ones it was told to, so the real blob client meets real faults
//! in front of the real storage emulator.

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::Response;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Default)]
struct Faults {
    /// The next N requests get 503 ServerBusy.
    busy: AtomicU32,
    /// The next N requests that carry a bearer token get 401.
    unauthorized: AtomicU32,
    /// Every Authorization header seen, in order.
    seen_auth: Mutex<Vec<String>>,
    /// Requests that reached the proxy.
    requests: AtomicU32,
}

/// A running proxy; it stops with the test process.
pub struct FaultProxy {
    pub endpoint: String,
    faults: Arc<Faults>,
}

impl FaultProxy {
    /// Starts a proxy to `upstream` (e.g. Azurite's blob endpoint) on a free loopback port.
    pub fn start(upstream: &str) -> anyhow::Result<FaultProxy> {
        let faults = Arc::new(Faults::default());
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.set_nonblocking(true)?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        let state = (faults.clone(), upstream.trim_end_matches('/').to_string(), reqwest::Client::new());
        std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread().enable_all().build() else {
                return;
            };
            rt.block_on(async move {
                let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
                    return;
                };
                let app = axum::Router::new().fallback(forward).with_state(state);
                let _ = axum::serve(listener, app).await;
            });
        });
        Ok(FaultProxy { endpoint, faults })
    }

    /// The next `n` requests get 503 ServerBusy with Retry-After: 1.
    pub fn busy(&self, n: u32) {
        self.faults.busy.store(n, Ordering::SeqCst);
    }

    /// The next `n` bearer-token requests get 401 InvalidAuthenticationInfo.
    pub fn unauthorized(&self, n: u32) {
        self.faults.unauthorized.store(n, Ordering::SeqCst);
    }

    pub fn requests(&self) -> u32 {
        self.faults.requests.load(Ordering::SeqCst)
    }

    /// Every Authorization header the proxy saw, in order.
    pub fn seen_auth(&self) -> Vec<String> {
        self.faults.seen_auth.lock().map(|v| v.clone()).unwrap_or_default()
    }
}

type ProxyState = (Arc<Faults>, String, reqwest::Client);

fn take(n: &AtomicU32) -> bool {
    n.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |v| v.checked_sub(1)).is_ok()
}

fn storage_error(status: StatusCode, code: &str, retry_after: bool) -> Response {
    let body = format!("<?xml version=\"1.0\" encoding=\"utf-8\"?><Error><Code>{code}</Code><Message>fault injection</Message></Error>");
    let mut r = Response::builder().status(status).header("x-ms-error-code", code);
    if retry_after {
        r = r.header("retry-after", "1");
    }
    r.body(Body::from(body)).unwrap_or_default()
}

async fn forward(
    State((faults, upstream, http)): State<ProxyState>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    faults.requests.fetch_add(1, Ordering::SeqCst);
    let auth = headers.get("authorization").and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    if let Ok(mut seen) = faults.seen_auth.lock() {
        seen.push(auth.clone());
    }
    if take(&faults.busy) {
        return storage_error(StatusCode::SERVICE_UNAVAILABLE, "ServerBusy", true);
    }
    if auth.starts_with("Bearer ") && take(&faults.unauthorized) {
        return storage_error(StatusCode::UNAUTHORIZED, "InvalidAuthenticationInfo", false);
    }
    let url = format!("{upstream}{}", uri.path_and_query().map(|p| p.as_str()).unwrap_or("/"));
    let mut req = http.request(method, url).body(body);
    for (k, v) in headers.iter().filter(|(k, _)| *k != "host") {
        req = req.header(k, v);
    }
    let Ok(resp) = req.send().await else {
        return storage_error(StatusCode::BAD_GATEWAY, "ProxyUpstreamFailed", false);
    };
    let mut out = Response::builder().status(resp.status());
    for (k, v) in resp.headers() {
        out = out.header(k, v);
    }
    let bytes = resp.bytes().await.unwrap_or_default();
    out.body(Body::from(bytes)).unwrap_or_default()
}
