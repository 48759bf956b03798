//! A local ARM + Entra ID token endpoint that behaves like Azure for what
//! the toolkit calls, so a freeze-time runbook can be rehearsed on a laptop.
//!
//! ```no_run
//! # async fn demo() -> anyhow::Result<()> {
//! let emu = apim_emulator::Emulator::start(apim_emulator::Config { time_scale: 0.001, ..Default::default() }).await?;
//! println!("{}", emu.ready_document()); // armEndpoint, authorityHost, credentials, caCertPath
//! # Ok(()) }
//! ```

// Handlers return `Result<_, Response>` so an early error is the answer
// itself; one per request, so its size does not matter.
#![allow(clippy::result_large_err)]

mod arm;
mod config;
mod http;
pub mod state;
mod tls;

use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use serde_json::{json, Value};
use state::{key, now_ms, State, TokenInfo};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use arm::{APIM_VERSIONS, RESOURCE_VERSIONS, STORAGE_VERSIONS};

/// Well-known ids, so documents from one rehearsal make sense in the next.
pub const TENANT_ID: &str = "72f988bf-0000-4000-8000-00000000e1e1";
pub const SUBSCRIPTION_ID: &str = "00000000-0000-4000-8000-00000000a1a1";
/// A subscription that exists but the emulator's principal may not use.
pub const FORBIDDEN_SUBSCRIPTION_ID: &str = "00000000-0000-4000-8000-00000000f0f0";
pub const CLIENT_ID: &str = "a7e7c0de-0000-4000-8000-0000000c11e1";

#[derive(Debug, Clone)]
pub struct Config {
    /// 0 picks a free port.
    pub port: u16,
    /// Multiplies Azure's real durations (1.0 = real time, 0 = instant).
    pub time_scale: f64,
    /// Azurite's blob endpoint, e.g. `http://127.0.0.1:10000`.
    pub blob_endpoint: Option<String>,
    /// Storage accounts Azurite knows, with their keys.
    pub blob_accounts: Vec<(String, String)>,
    pub state_file: Option<PathBuf>,
    /// Where the CA certificate is written.
    pub ca_cert_path: Option<PathBuf>,
    pub token_lifetime_secs: i64,
    pub client_id: String,
    /// Added to every ARM answer, to model a distant region.
    pub latency_ms: u64,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 0,
            time_scale: 1.0,
            blob_endpoint: None,
            blob_accounts: Vec::new(),
            state_file: None,
            ca_cert_path: None,
            token_lifetime_secs: 3599,
            client_id: CLIENT_ID.to_string(),
            latency_ms: 0,
        }
    }
}

pub struct App {
    pub config: Config,
    pub base_url: String,
    state: Mutex<State>,
    http: reqwest::Client,
    requests: AtomicU64,
    writes: AtomicU64,
    /// Fault injection: lose the answer to the next POST whose last path
    /// segment is this (e.g. `backup`), after doing the work.
    lose_next_answer: Mutex<Option<String>>,
    /// Fault injection: delay the answer to the next POST whose last path
    /// segment is this, after doing the work, by so many milliseconds.
    slow_next_answer: Mutex<Option<(String, u64)>>,
    /// Fault injection: this many ARM requests get 429 before any is served.
    throttle: AtomicU64,
    /// `f64` bits of the time scale; starts as --time-scale, changed at /_emulator/faults.
    time_scale: AtomicU64,
    /// Added to every ARM answer; starts as --latency-ms, changed at /_emulator/faults.
    latency_ms: AtomicU64,
    /// Writes not yet in the state file.
    dirty: std::sync::atomic::AtomicBool,
}

pub struct Emulator {
    pub addr: SocketAddr,
    pub ca_cert_path: PathBuf,
    /// Whether we chose the CA path (and so remove the file on shutdown).
    own_ca_file: bool,
    app: Arc<App>,
    handle: axum_server::Handle<SocketAddr>,
}

impl Emulator {
    pub async fn start(config: Config) -> anyhow::Result<Emulator> {
        use anyhow::Context;
        let certs = tls::generate().context("generating the emulator's TLS certificate")?;
        let own_ca_file = config.ca_cert_path.is_none();
        let ca_cert_path = match &config.ca_cert_path {
            Some(p) => p.clone(),
            None => std::env::temp_dir().join(format!("apim-emulator-ca-{}.pem", uuid::Uuid::new_v4().simple())),
        };
        std::fs::write(&ca_cert_path, &certs.ca_pem).with_context(|| format!("writing {}", ca_cert_path.display()))?;

        let mut st = match &config.state_file {
            Some(p) if p.exists() => {
                let text = std::fs::read_to_string(p).with_context(|| format!("reading state file {}", p.display()))?;
                serde_json::from_str(&text).with_context(|| {
                    format!(
                        "state file {} is not an emulator state; remove it or pass another --state",
                        p.display()
                    )
                })?
            }
            _ => State::default(),
        };
        if st.client_secret.is_empty() {
            st.client_secret = format!("emu~{}", uuid::Uuid::new_v4().simple());
        }

        let listener =
            std::net::TcpListener::bind(("127.0.0.1", config.port)).with_context(|| format!("binding 127.0.0.1:{}", config.port))?;
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let tls = axum_server::tls_rustls::RustlsConfig::from_pem(certs.server_pem.into_bytes(), certs.server_key_pem.into_bytes())
            .await
            .context("loading the emulator's TLS certificate")?;
        let (latency_ms, time_scale) = (config.latency_ms, config.time_scale);
        let app = Arc::new(App {
            base_url: format!("https://127.0.0.1:{}/", addr.port()),
            config,
            state: Mutex::new(st),
            http: reqwest::Client::new(),
            requests: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            lose_next_answer: Mutex::new(None),
            slow_next_answer: Mutex::new(None),
            throttle: AtomicU64::new(0),
            time_scale: AtomicU64::new(time_scale.to_bits()),
            latency_ms: AtomicU64::new(latency_ms),
            dirty: std::sync::atomic::AtomicBool::new(false),
        });
        if app.config.state_file.is_some() {
            // Saving rewrites the whole file, so it happens at most once a
            // second rather than after every write; shutdown saves too.
            let saver = Arc::downgrade(&app);
            tokio::spawn(async move {
                let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
                loop {
                    tick.tick().await;
                    let Some(app) = saver.upgrade() else { return };
                    if app.dirty.swap(false, Ordering::Relaxed) {
                        app.save();
                    }
                }
            });
        }
        app.save();
        let router = axum::Router::new().fallback(handle).with_state(app.clone());
        let handle_srv = axum_server::Handle::new();
        // Without TCP_NODELAY small answers wait on delayed ACKs (40 ms a call).
        let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls).acceptor(axum_server::accept::NoDelayAcceptor::new());
        let server = axum_server::from_tcp(listener)?.acceptor(acceptor).handle(handle_srv.clone());
        tokio::spawn(async move {
            if let Err(e) = server.serve(router.into_make_service()).await {
                eprintln!("apim-emulator: server stopped: {e}");
            }
        });
        Ok(Emulator {
            addr,
            ca_cert_path,
            own_ca_file,
            app,
            handle: handle_srv,
        })
    }

    pub fn arm_endpoint(&self) -> String {
        format!("https://127.0.0.1:{}", self.addr.port())
    }

    pub fn client_secret(&self) -> String {
        self.app.lock().client_secret.clone()
    }

    /// The `emulator.ready` document: everything a client needs to connect.
    pub fn ready_document(&self) -> Value {
        json!({
            "kind": "emulator.ready", "schemaVersion": 1,
            "armEndpoint": self.arm_endpoint(), "authorityHost": self.arm_endpoint(),
            "tenantId": TENANT_ID, "subscriptionId": SUBSCRIPTION_ID,
            "clientId": self.app.config.client_id, "clientSecret": self.client_secret(),
            "caCertPath": self.ca_cert_path.display().to_string(),
        })
    }

    /// `export` lines for a shell, so every binary runs against the emulator unchanged.
    pub fn env_file(&self) -> String {
        let q = |s: &str| format!("'{}'", s.replace('\'', "'\\''"));
        [
            ("AZURE_ARM_ENDPOINT", self.arm_endpoint()),
            ("AZURE_AUTHORITY_HOST", self.arm_endpoint()),
            ("AZURE_TENANT_ID", TENANT_ID.to_string()),
            ("AZURE_SUBSCRIPTION_ID", SUBSCRIPTION_ID.to_string()),
            ("AZURE_CLIENT_ID", self.app.config.client_id.clone()),
            ("AZURE_CLIENT_SECRET", self.client_secret()),
            ("SSL_CERT_FILE", self.ca_cert_path.display().to_string()),
        ]
        .iter()
        .map(|(k, v)| format!("export {k}={}\n", q(v)))
        .collect()
    }

    pub fn shutdown(&self) {
        self.app.save();
        self.handle.shutdown();
        if self.own_ca_file {
            let _ = std::fs::remove_file(&self.ca_cert_path);
        }
    }
}

impl Drop for Emulator {
    // An emulator dropped without `shutdown` (in-process tests) still leaves
    // no certificate behind in the temp directory.
    fn drop(&mut self) {
        if self.own_ca_file {
            let _ = std::fs::remove_file(&self.ca_cert_path);
        }
    }
}

impl App {
    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        // A panic while holding the lock must not take the emulator down.
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Multiplies Azure's real durations for operations started from now on.
    pub(crate) fn time_scale(&self) -> f64 {
        f64::from_bits(self.time_scale.load(Ordering::Relaxed))
    }

    fn save(&self) {
        if let Some(p) = &self.config.state_file {
            let text = serde_json::to_string_pretty(&*self.lock()).unwrap_or_default();
            let tmp = p.with_extension("tmp");
            if std::fs::write(&tmp, text).and_then(|_| std::fs::rename(&tmp, p)).is_err() {
                eprintln!("apim-emulator: could not save state to {}", p.display());
            }
        }
    }

    fn token(&self, r: &arm::Req) -> Response {
        let form: HashMap<String, String> = url::form_urlencoded::parse(r.body).into_owned().collect();
        let aad = |status: u16, error: &str, code: u32, desc: &str| {
            http::json(
                status,
                &json!({"error": error, "error_description": format!("AADSTS{code}: {desc}"), "error_codes": [code],
                "timestamp": state::rfc3339(now_ms()), "trace_id": uuid::Uuid::new_v4().to_string(), "correlation_id": uuid::Uuid::new_v4().to_string()}),
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
            },
        );
        http::json(
            200,
            &json!({"token_type": "Bearer", "expires_in": lifetime, "ext_expires_in": lifetime, "access_token": token}),
        )
    }

    /// 401 without or with a bad token; 403 for a subscription the principal lacks.
    fn authorize(&self, r: &arm::Req) -> Result<(), Response> {
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
        Ok(())
    }

    /// Creates the container in Azurite before ARM records it, as the
    /// real control plane does.
    async fn ensure_blob_container(&self, r: &arm::Req<'_>) -> Result<(), Response> {
        let Some(endpoint) = &self.config.blob_endpoint else {
            return Ok(());
        };
        let (account, container) = (&r.segs[7], &r.segs[11]);
        let Some((_, k)) = self.config.blob_accounts.iter().find(|(n, _)| n == account) else {
            return Ok(());
        };
        let client = blob_store::BlobClient::new(
            self.http.clone(),
            &format!("{}/{account}/", endpoint.trim_end_matches('/')),
            account,
            blob_store::BlobAuth::SharedKey { key: k.clone() },
        )
        .map_err(|e| http::error(500, "InternalError", &e.to_string()))?;
        client
            .create_container(container)
            .await
            .map_err(|e| http::error(500, "InternalError", &format!("Azurite refused the container: {e}")))
    }

    fn stats(&self) -> Value {
        json!({"kind": "emulator.stats", "requests": self.requests.load(Ordering::Relaxed), "writes": self.writes.load(Ordering::Relaxed)})
    }
}

async fn handle(AxState(app): AxState<Arc<App>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let segs: Vec<String> = uri.path().split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    let lower = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let query: HashMap<String, String> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let r = arm::Req {
        method: &method,
        segs,
        lower,
        query,
        headers: &headers,
        body: &body,
    };
    let request_id = uuid::Uuid::new_v4().to_string();
    let resp = route(&app, &r).await;
    http::with_header(
        http::with_header(resp, "x-ms-request-id", &request_id),
        "x-ms-correlation-request-id",
        &request_id,
    )
}

async fn route(app: &Arc<App>, r: &arm::Req<'_>) -> Response {
    if r.lower.first().map(String::as_str) == Some("_emulator") {
        return match r.lower.get(1).map(String::as_str) {
            Some("stats") => http::json(200, &app.stats()),
            Some("faults") if *r.method == Method::POST => {
                let action = r.query.get("lose-answer-to").cloned();
                if action.is_some() {
                    *app.lose_next_answer.lock().unwrap_or_else(|p| p.into_inner()) = action.clone();
                }
                if let Some(n) = r.query.get("throttle").and_then(|n| n.parse().ok()) {
                    app.throttle.store(n, Ordering::Relaxed);
                }
                let throttle = app.throttle.load(Ordering::Relaxed);
                if let Some(ms) = r.query.get("latency-ms").and_then(|n| n.parse().ok()) {
                    app.latency_ms.store(ms, Ordering::Relaxed);
                }
                if let Some(scale) = r.query.get("time-scale").and_then(|n| n.parse::<f64>().ok()) {
                    if !(scale >= 0.0 && scale.is_finite()) {
                        return http::error(400, "InvalidTimeScale", "time-scale must be a finite number >= 0");
                    }
                    app.time_scale.store(scale.to_bits(), Ordering::Relaxed);
                }
                if let Some(action) = r.query.get("slow-answer-to") {
                    let ms = r.query.get("slow-ms").and_then(|n| n.parse().ok()).unwrap_or(3000);
                    *app.slow_next_answer.lock().unwrap_or_else(|p| p.into_inner()) = Some((action.clone(), ms));
                }
                if r.query.contains_key("finish-operations") {
                    // Every running operation ends now (as it would have
                    // later): tests interrupt a long operation, then finish
                    // it without waiting its scaled time.
                    let now = now_ms();
                    let mut st = app.lock();
                    for op in st.ops.values_mut().filter(|o| !o.done) {
                        op.duration_ms = (now - op.started_ms).max(0);
                    }
                    st.settle(now);
                }
                if r.query.contains_key("revoke-tokens") {
                    // As when a principal's sessions are revoked: every
                    // token issued so far is refused from now on.
                    app.lock().tokens.clear();
                }
                http::json(
                    200,
                    &json!({"loseAnswerTo": action, "throttle": throttle, "latencyMs": app.latency_ms.load(Ordering::Relaxed),
                        "timeScale": app.time_scale()}),
                )
            }
            _ => http::error(404, "NotFound", "unknown emulator admin path"),
        };
    }
    app.requests.fetch_add(1, Ordering::Relaxed);
    if *r.method == Method::POST && arm::is_token_route(r) {
        return app.token(r);
    }
    if r.lower.first().map(String::as_str) != Some("subscriptions") || r.segs.len() < 2 {
        return http::error(404, "NotFound", &format!("No route for '/{}'.", r.segs.join("/")));
    }
    let latency = app.latency_ms.load(Ordering::Relaxed);
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    if app
        .throttle
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
    {
        let r = http::error(
            429,
            "TooManyRequests",
            "The request was throttled; retry after the time in Retry-After.",
        );
        return http::with_header(r, "retry-after", "1");
    }
    if let Err(resp) = app.authorize(r) {
        return resp;
    }
    // listKeys and listValue are POSTs that only read.
    let is_list_action = *r.method == Method::POST && r.lower.last().is_some_and(|l| l.starts_with("list"));
    let is_write = !matches!(*r.method, Method::GET | Method::HEAD) && !is_list_action;
    let is_container_put = *r.method == Method::PUT && r.lower.len() == 12 && r.lower[8] == "blobservices" && r.lower[9] == "default";
    if is_container_put {
        let account_ready = {
            let st = app.lock();
            let id = format!(
                "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/{}",
                r.segs[1], r.segs[3], r.segs[7]
            );
            st.accounts.get(&key(&id)).is_some_and(|a| a.op.is_none())
        };
        if account_ready {
            if let Err(e) = app.ensure_blob_container(r).await {
                return e;
            }
        }
    }
    let is_backup_restore = *r.method == Method::POST
        && r.lower.len() == 9
        && r.lower[2] == "resourcegroups"
        && r.lower[5] == "microsoft.apimanagement"
        && r.lower[6] == "service"
        && (r.lower[8] == "backup" || r.lower[8] == "restore");
    let resp = if is_backup_restore && !arm::APIM_VERSIONS.contains(&r.api_version()) {
        let mut st = app.lock();
        app.arm(&mut st, r) // answers with the api-version error
    } else if is_backup_restore {
        app.backup_or_restore(r, r.lower[8] == "restore").await
    } else {
        let mut st = app.lock();
        app.arm(&mut st, r)
    };
    if is_write && resp.status().is_success() {
        // Counted after the fact: a refused write changed nothing.
        app.writes.fetch_add(1, Ordering::Relaxed);
        app.dirty.store(true, Ordering::Relaxed);
    }
    let lose = {
        let mut fault = app.lose_next_answer.lock().unwrap_or_else(|p| p.into_inner());
        let hit = *r.method == Method::POST && fault.as_deref().is_some_and(|a| r.lower.last().is_some_and(|l| l == a));
        if hit {
            *fault = None;
        }
        hit
    };
    let slow = {
        let mut fault = app.slow_next_answer.lock().unwrap_or_else(|p| p.into_inner());
        let hit = *r.method == Method::POST && fault.as_ref().is_some_and(|(a, _)| r.lower.last().is_some_and(|l| l == a));
        if hit {
            fault.take().map(|(_, ms)| ms)
        } else {
            None
        }
    };
    if let Some(ms) = slow {
        // The work is done; the answer is late, as over a congested link.
        tokio::time::sleep(std::time::Duration::from_millis(ms)).await;
    }
    if lose {
        // The work is done; the answer breaks off after its headers, as a
        // connection lost in transit would.
        let (parts, _) = resp.into_parts();
        let broken = futures::stream::once(async { Err::<Bytes, std::io::Error>(std::io::Error::other("fault injection: answer lost")) });
        return Response::from_parts(parts, axum::body::Body::from_stream(broken));
    }
    resp
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}
