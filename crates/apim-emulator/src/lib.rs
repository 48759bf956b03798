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

mod apis;
mod backup;
mod entities;
mod extensions;
mod faults;
mod gateways;
mod groups;
mod http;
mod identity;
pub mod limits;
mod loggers;
mod namedvalues;
mod odata;
mod operations;
mod people;
mod policies;
mod portal;
mod products;
mod registry;
mod router;
mod security;
mod services;
mod shared;
pub mod state;
mod storage;
mod tags;
mod tenant;
mod tls;

use serde_json::{json, Value};
use state::State;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

pub use shared::{APIM_VERSIONS, RESOURCE_VERSIONS, STORAGE_VERSIONS};

/// Well-known ids, so documents from one rehearsal make sense in the next.
pub const TENANT_ID: &str = "72f988bf-0000-4000-8000-00000000e1e1";
pub const SUBSCRIPTION_ID: &str = "00000000-0000-4000-8000-00000000a1a1";
/// A second subscription the principal may use (a copy across subscriptions).
pub const SECOND_SUBSCRIPTION_ID: &str = "00000000-0000-4000-8000-00000000b2b2";
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
    /// Storage accounts Azurite knows, with their (primary) keys.
    pub blob_accounts: Vec<(String, String)>,
    /// Their second keys, where Azurite was given two.
    pub blob_secondary_keys: Vec<(String, String)>,
    pub state_file: Option<PathBuf>,
    /// Where the CA certificate is written.
    pub ca_cert_path: Option<PathBuf>,
    pub token_lifetime_secs: i64,
    pub client_id: String,
    /// Added to every ARM answer, to model a distant region.
    pub latency_ms: u64,
    /// Refuse to create storage accounts without `blob_endpoint`, rather
    /// than hand out an endpoint nothing serves (the binary sets it; an
    /// embedder that never touches blobs need not).
    pub storage_needs_blob_endpoint: bool,
    /// ARM's request throttling (`--arm-limits`).
    pub arm_limits: limits::ArmLimits,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            port: 0,
            time_scale: 1.0,
            blob_endpoint: None,
            blob_accounts: Vec::new(),
            blob_secondary_keys: Vec::new(),
            state_file: None,
            ca_cert_path: None,
            token_lifetime_secs: 3599,
            client_id: CLIENT_ID.to_string(),
            latency_ms: 0,
            storage_needs_blob_endpoint: false,
            arm_limits: limits::ArmLimits::AZURE,
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
    /// What a test or a rehearsal switched on at `/_emulator/faults`.
    faults: faults::Faults,
    buckets: limits::Buckets,
    /// Requests answered 429 (by a bucket or the `throttle` fault).
    throttled: AtomicU64,
    /// ARM requests by kind (reads, writes, deletes), throttled or not.
    by_class: [AtomicU64; 3],
    /// `f64` bits of the time scale; starts as --time-scale, changed at /_emulator/faults.
    time_scale: AtomicU64,
    /// Added to every ARM answer; starts as --latency-ms, changed at /_emulator/faults.
    latency_ms: AtomicU64,
    /// Writes not yet in the state file.
    dirty: std::sync::atomic::AtomicBool,
}

/// The system's roots and the emulator's CA in one file, beside the CA.
pub fn bundle_path(ca: &std::path::Path) -> PathBuf {
    let mut name = ca.file_name().map(|n| n.to_os_string()).unwrap_or_default();
    name.push(".bundle.pem");
    ca.with_file_name(name)
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
        // Python clients (requests, the az CLI) trust only REQUESTS_CA_BUNDLE:
        // it must hold the system's roots as well as the emulator's CA.
        let system = [
            "/etc/ssl/certs/ca-certificates.crt",
            "/etc/pki/tls/certs/ca-bundle.crt",
            "/etc/ssl/cert.pem",
        ]
        .iter()
        .find_map(|p| std::fs::read_to_string(p).ok())
        .unwrap_or_default();
        std::fs::write(bundle_path(&ca_cert_path), format!("{system}\n{}", certs.ca_pem))
            .with_context(|| format!("writing {}", bundle_path(&ca_cert_path).display()))?;

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
        let (latency_ms, time_scale, arm_limits) = (config.latency_ms, config.time_scale, config.arm_limits);
        let app = Arc::new(App {
            base_url: format!("https://127.0.0.1:{}/", addr.port()),
            config,
            state: Mutex::new(st),
            http: reqwest::Client::new(),
            requests: AtomicU64::new(0),
            writes: AtomicU64::new(0),
            faults: faults::Faults::default(),
            buckets: limits::Buckets::new(arm_limits),
            throttled: AtomicU64::new(0),
            by_class: [AtomicU64::new(0), AtomicU64::new(0), AtomicU64::new(0)],
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
        let router = axum::Router::new().fallback(router::handle).with_state(app.clone());
        let handle_srv = axum_server::Handle::new();
        // Without TCP_NODELAY small answers wait on delayed ACKs (40 ms a call).
        let acceptor = axum_server::tls_rustls::RustlsAcceptor::new(tls).acceptor(axum_server::accept::NoDelayAcceptor::new());
        // A client that connects and sends nothing (or headers a byte at a
        // time) is cut off: 10 s for the first request, and hyper's 30 s
        // header read timeout (axum-server installs the timer) after that.
        let server = axum_server::from_tcp(listener)?
            .acceptor(acceptor)
            .first_request_timeout(std::time::Duration::from_secs(10))
            .handle(handle_srv.clone());
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
            "caBundlePath": bundle_path(&self.ca_cert_path).display().to_string(),
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
            // The bundle (the system's roots and the emulator's CA), not the
            // CA alone: other tools in the same shell still reach the internet.
            ("SSL_CERT_FILE", bundle_path(&self.ca_cert_path).display().to_string()),
            ("REQUESTS_CA_BUNDLE", bundle_path(&self.ca_cert_path).display().to_string()),
            // A rehearsal's started operations are recorded apart from real ones.
            (
                "APIM_TOOLKIT_STATE_DIR",
                std::env::temp_dir()
                    .join(format!("apim-emulator-{}-operations", self.addr.port()))
                    .display()
                    .to_string(),
            ),
        ]
        .iter()
        .map(|(k, v)| format!("export {k}={}\n", q(v)))
        .collect()
    }

    /// Switches faults on as `POST /_emulator/faults?QUERY` does (see the
    /// README), e.g. `error-rate=0.1&latency-ms=20`; an error names the bad one.
    pub fn set_faults(&self, query: &str) -> anyhow::Result<()> {
        let q: HashMap<String, String> = url::form_urlencoded::parse(query.as_bytes())
            .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
            .collect();
        let r = self.app.set_faults(&q);
        anyhow::ensure!(
            r.status().is_success(),
            "--faults '{query}' is not a fault setting (see the emulator's README)"
        );
        Ok(())
    }

    pub fn shutdown(&self) {
        self.app.save();
        self.handle.shutdown();
        if self.own_ca_file {
            let _ = std::fs::remove_file(&self.ca_cert_path);
            let _ = std::fs::remove_file(bundle_path(&self.ca_cert_path));
        }
    }
}

/// Writes a file only its owner can read (it holds the client secret and
/// tokens): through a new temporary file beside it, created exclusively
/// (so a link planted under that name is never followed), then renamed.
pub fn write_private(path: &std::path::Path, contents: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let mut f = options.open(&tmp)?;
    let written = f.write_all(contents).and_then(|_| f.sync_all());
    drop(f);
    match written.and_then(|_| std::fs::rename(&tmp, path)) {
        Ok(()) => Ok(()),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

impl Drop for Emulator {
    // An emulator dropped without `shutdown` (in-process tests) still leaves
    // no certificate behind in the temp directory.
    fn drop(&mut self) {
        if self.own_ca_file {
            let _ = std::fs::remove_file(&self.ca_cert_path);
            let _ = std::fs::remove_file(bundle_path(&self.ca_cert_path));
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
            if write_private(p, text.as_bytes()).is_err() {
                eprintln!("apim-emulator: could not save state to {}", p.display());
            }
        }
    }

    fn stats(&self) -> Value {
        json!({"kind": "emulator.stats", "requests": self.requests.load(Ordering::Relaxed), "writes": self.writes.load(Ordering::Relaxed),
            "throttled": self.throttled.load(Ordering::Relaxed),
            "reads": self.by_class[0].load(Ordering::Relaxed), "writeRequests": self.by_class[1].load(Ordering::Relaxed),
            "deletes": self.by_class[2].load(Ordering::Relaxed)})
    }
}
