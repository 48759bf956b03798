//! Bearer tokens for ARM and Storage scopes from `azure_identity` credentials.
//!
//! One [`TokenSource`] serves every scope a tool needs. It picks a credential
//! (or, with [`AuthMethod::Auto`], the first that works, in the order
//! DefaultAzureCredential uses) and keeps tokens per scope, refreshing them
//! five minutes before they expire, so a wait of hours never fails on a
//! one-hour token.

use azure_core::cloud::{CloudConfiguration, CustomConfiguration};
use azure_core::credentials::TokenCredential;
use azure_core::http::{ClientOptions, RetryOptions, Transport};
use azure_identity::{
    AzureCliCredential, ClientAssertionCredentialOptions, ClientSecretCredential, ClientSecretCredentialOptions, ManagedIdentityCredential,
    ManagedIdentityCredentialOptions, UserAssignedId, WorkloadIdentityCredential, WorkloadIdentityCredentialOptions,
};
use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use time::{Duration, OffsetDateTime};
use tokio::sync::Mutex;

/// The scope of Azure Storage's data plane.
pub const STORAGE_SCOPE: &str = "https://storage.azure.com/.default";

/// How long before expiry a cached token is replaced.
const REFRESH_MARGIN: Duration = Duration::minutes(5);

#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("authentication failed: {0}")]
    Failed(String),
    /// A failure no retry mends, found at once: nothing listens at the
    /// token endpoint, its certificate is not trusted, or it refused the
    /// credential (4xx).
    #[error("authentication failed: {what}: {cause}")]
    Permanent { what: String, cause: Cause },
    #[error("no credential worked (--auth auto tried, in order): {0}")]
    NoneWorked(String),
    #[error("{0}")]
    Config(String),
}

/// Why a token request cannot succeed however often it is sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cause {
    /// Connection refused: nothing listens there.
    Unreachable(String),
    /// The server's certificate is not trusted by this client.
    Untrusted(String),
    /// The token endpoint answered 4xx (a wrong secret, tenant or client id).
    Rejected(String),
}

impl fmt::Display for Cause {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Cause::Unreachable(m) => write!(f, "connection refused ({m})"),
            Cause::Untrusted(m) => write!(f, "the server's certificate is not trusted ({m})"),
            Cause::Rejected(m) => write!(f, "the token endpoint refused the credential ({m})"),
        }
    }
}

/// The cause in `e`'s chain that no retry mends, if there is one.
pub fn permanent_cause(e: &(dyn std::error::Error + 'static)) -> Option<Cause> {
    let mut cur = Some(e);
    while let Some(x) = cur {
        if let Some(io) = x.downcast_ref::<std::io::Error>() {
            if io.kind() == std::io::ErrorKind::ConnectionRefused {
                return Some(Cause::Unreachable(one_line(&io.to_string())));
            }
        }
        let text = x.to_string();
        let lower = text.to_ascii_lowercase();
        if lower.contains("connection refused") {
            return Some(Cause::Unreachable(one_line(&text)));
        }
        if lower.contains("certificate") || lower.contains("unknownissuer") {
            return Some(Cause::Untrusted(one_line(&text)));
        }
        // Entra ID's refusals carry an AADSTS code (wrong secret, tenant, assertion).
        if text.contains("AADSTS") {
            return Some(Cause::Rejected(one_line(&text)));
        }
        cur = x.source();
    }
    None
}

/// Which credential to use; `Auto` tries them in the order listed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum AuthMethod {
    #[default]
    Auto,
    ClientSecret,
    WorkloadIdentity,
    ManagedIdentity,
    AzureCli,
}

impl AuthMethod {
    pub const ALL: [AuthMethod; 4] = [
        AuthMethod::ClientSecret,
        AuthMethod::WorkloadIdentity,
        AuthMethod::ManagedIdentity,
        AuthMethod::AzureCli,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AuthMethod::Auto => "auto",
            AuthMethod::ClientSecret => "client-secret",
            AuthMethod::WorkloadIdentity => "workload-identity",
            AuthMethod::ManagedIdentity => "managed-identity",
            AuthMethod::AzureCli => "azure-cli",
        }
    }
}

impl fmt::Display for AuthMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for AuthMethod {
    type Err = AuthError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [AuthMethod::Auto]
            .into_iter()
            .chain(AuthMethod::ALL)
            .find(|m| m.as_str() == s)
            .ok_or_else(|| {
                AuthError::Config(format!(
                    "unknown auth method '{s}': use auto, client-secret, workload-identity, managed-identity or azure-cli"
                ))
            })
    }
}

/// Where credentials come from. [`AuthConfig::from_env`] reads the usual
/// `AZURE_*` variables; every field can be overridden.
#[derive(Clone, Default)]
pub struct AuthConfig {
    pub method: AuthMethod,
    /// Entra ID authority, e.g. `https://login.microsoftonline.com`.
    pub authority_host: Option<String>,
    pub tenant_id: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub federated_token_file: Option<PathBuf>,
}

impl fmt::Debug for AuthConfig {
    // The secret never reaches logs, even at -v.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthConfig")
            .field("method", &self.method)
            .field("authority_host", &self.authority_host)
            .field("tenant_id", &self.tenant_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &self.client_secret.as_ref().map(|_| "<redacted>"))
            .field("federated_token_file", &self.federated_token_file)
            .finish()
    }
}

impl AuthConfig {
    pub fn from_env(method: AuthMethod) -> Self {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        AuthConfig {
            method,
            authority_host: var("AZURE_AUTHORITY_HOST"),
            tenant_id: var("AZURE_TENANT_ID"),
            client_id: var("AZURE_CLIENT_ID"),
            client_secret: var("AZURE_CLIENT_SECRET"),
            federated_token_file: var("AZURE_FEDERATED_TOKEN_FILE").map(PathBuf::from),
        }
    }
}

/// A bearer token. `Debug` does not print it.
#[derive(Clone)]
pub struct BearerToken {
    secret: String,
    pub expires_on: OffsetDateTime,
}

impl BearerToken {
    pub fn secret(&self) -> &str {
        &self.secret
    }
}

impl fmt::Debug for BearerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BearerToken")
            .field("secret", &"<redacted>")
            .field("expires_on", &self.expires_on)
            .finish()
    }
}

/// Called with one line per token fetched; never the token.
pub type Logger = Arc<dyn Fn(&str) + Send + Sync>;

/// Tokens for any scope, from one chosen credential, cached per scope.
pub struct TokenSource {
    config: AuthConfig,
    http: reqwest::Client,
    logger: Option<Logger>,
    chosen: Mutex<Option<(AuthMethod, Arc<dyn TokenCredential>)>>,
    cache: Mutex<HashMap<String, BearerToken>>,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSource").field("config", &self.config).finish_non_exhaustive()
    }
}

impl TokenSource {
    /// `http` is the client every token request goes through, so the caller
    /// decides timeouts, proxies and which roots are trusted.
    pub fn new(config: AuthConfig, http: reqwest::Client) -> Self {
        TokenSource {
            config,
            http,
            logger: None,
            chosen: Mutex::new(None),
            cache: Mutex::new(HashMap::new()),
        }
    }

    /// Logs each token fetched (scope, credential, expiry; never the token).
    pub fn with_logger(mut self, logger: Logger) -> Self {
        self.logger = Some(logger);
        self
    }

    /// A token for `scope` (e.g. `https://management.azure.com/.default`).
    pub async fn token(&self, scope: &str) -> Result<BearerToken, AuthError> {
        let mut cache = self.cache.lock().await;
        if let Some(t) = cache.get(scope) {
            if !needs_refresh(t.expires_on, OffsetDateTime::now_utc()) {
                return Ok(t.clone());
            }
        }
        let token = self.fetch(scope).await?;
        if let Some(log) = &self.logger {
            log(&format!("token for {scope}: fetched, valid until {}", token.expires_on));
        }
        cache.insert(scope.to_string(), token.clone());
        Ok(token)
    }

    /// The server refused `rejected` (401): forget it, and the credential
    /// that handed it out, so the next [`TokenSource::token`] asks Entra ID
    /// anew. azure_identity's credentials keep tokens of their own until
    /// shortly before expiry; a new credential instance starts with none.
    /// Only the first caller to report a token does this: requests that
    /// were in flight with the same token find a fresh one already.
    pub async fn invalidate(&self, scope: &str, rejected: &BearerToken) {
        self.invalidate_secret(scope, &rejected.secret).await
    }

    /// [`TokenSource::invalidate`] for a token known only by its text.
    pub async fn invalidate_secret(&self, scope: &str, rejected: &str) {
        let mut cache = self.cache.lock().await;
        if cache.get(scope).is_some_and(|t| t.secret != rejected) {
            return;
        }
        cache.remove(scope);
        let mut chosen = self.chosen.lock().await;
        if let Some((method, _)) = chosen.as_ref() {
            match self.credential(*method) {
                Ok(fresh) => *chosen = Some((*method, fresh)),
                Err(_) => *chosen = None,
            }
        }
    }

    async fn fetch(&self, scope: &str) -> Result<BearerToken, AuthError> {
        let mut chosen = self.chosen.lock().await;
        if let Some((method, cred)) = chosen.as_ref() {
            return get(cred.as_ref(), scope).await.map_err(|e| e.into_auth(*method));
        }
        let methods: Vec<AuthMethod> = match self.config.method {
            AuthMethod::Auto => AuthMethod::ALL.to_vec(),
            m => vec![m],
        };
        let mut tried = Vec::new();
        for method in methods {
            let attempt = match self.credential(method) {
                Ok(cred) => match get(cred.as_ref(), scope).await {
                    Ok(tok) => {
                        *chosen = Some((method, cred));
                        return Ok(tok);
                    }
                    // A credential that is configured but cannot work here
                    // says why, rather than being one line in a list.
                    Err(e @ Failure { cause: Some(_), .. }) => return Err(e.into_auth(method)),
                    Err(e) => e.text,
                },
                Err(e) => e,
            };
            tried.push(format!("{method}: {attempt}"));
        }
        if self.config.method == AuthMethod::Auto {
            Err(AuthError::NoneWorked(tried.join("; ")))
        } else {
            Err(AuthError::Failed(tried.join("; ")))
        }
    }

    fn client_options(&self) -> Result<ClientOptions, String> {
        // azure_identity's own retries took 80 s to say "retry policy
        // expired" of a refused connection; `fetch` retries what is
        // transient and gives up at once on what is not.
        let mut options = ClientOptions {
            transport: Some(Transport::new(Arc::new(self.http.clone()))),
            retry: RetryOptions::none(),
            ..Default::default()
        };
        if let Some(host) = &self.config.authority_host {
            let mut custom = CustomConfiguration::default();
            custom.authority_host = host.trim_end_matches('/').to_string();
            options.cloud = Some(Arc::new(CloudConfiguration::Custom(custom)));
        }
        Ok(options)
    }

    fn credential(&self, method: AuthMethod) -> Result<Arc<dyn TokenCredential>, String> {
        let c = &self.config;
        let client_options = self.client_options()?;
        let need = |v: &Option<String>, name: &str| v.clone().ok_or_else(|| format!("not configured ({name} is not set)"));
        match method {
            AuthMethod::ClientSecret => {
                let tenant = need(&c.tenant_id, "AZURE_TENANT_ID")?;
                let client = need(&c.client_id, "AZURE_CLIENT_ID")?;
                let secret = need(&c.client_secret, "AZURE_CLIENT_SECRET")?;
                let cred = ClientSecretCredential::new(
                    &tenant,
                    client,
                    secret.into(),
                    Some(ClientSecretCredentialOptions { client_options }),
                )
                .map_err(|e| e.to_string())?;
                Ok(cred)
            }
            AuthMethod::WorkloadIdentity => {
                let file = c
                    .federated_token_file
                    .clone()
                    .ok_or("not configured (AZURE_FEDERATED_TOKEN_FILE is not set)")?;
                let cred = WorkloadIdentityCredential::new(Some(WorkloadIdentityCredentialOptions {
                    credential_options: ClientAssertionCredentialOptions { client_options },
                    client_id: c.client_id.clone(),
                    tenant_id: c.tenant_id.clone(),
                    token_file_path: Some(file),
                }))
                .map_err(|e| e.to_string())?;
                Ok(cred)
            }
            AuthMethod::ManagedIdentity => {
                let mut client_options = client_options;
                if c.method == AuthMethod::Auto {
                    // Off Azure (a laptop), the metadata endpoint's address
                    // often drops packets instead of refusing them: a probe
                    // that waits for TCP to give up would stall `auto` for
                    // minutes before it tries the az CLI. On Azure it answers
                    // within milliseconds.
                    let probe = reqwest::Client::builder()
                        .connect_timeout(MANAGED_IDENTITY_PROBE)
                        .build()
                        .map_err(|e| e.to_string())?;
                    client_options.transport = Some(Transport::new(Arc::new(probe)));
                }
                let cred = ManagedIdentityCredential::new(Some(ManagedIdentityCredentialOptions {
                    user_assigned_id: c.client_id.clone().map(UserAssignedId::ClientId),
                    client_options,
                }))
                .map_err(|e| e.to_string())?;
                Ok(cred)
            }
            AuthMethod::AzureCli => {
                let cred = AzureCliCredential::new(None).map_err(|e| e.to_string())?;
                Ok(cred)
            }
            AuthMethod::Auto => Err("auto is not a credential".into()),
        }
    }
}

/// How long `--auth auto` waits to connect to a managed identity endpoint.
const MANAGED_IDENTITY_PROBE: std::time::Duration = std::time::Duration::from_secs(1);

/// A token request that failed: what it said, and why no retry helps, if so.
struct Failure {
    text: String,
    cause: Option<Cause>,
}

impl Failure {
    fn into_auth(self, method: AuthMethod) -> AuthError {
        match self.cause {
            Some(cause) => AuthError::Permanent {
                what: method.to_string(),
                cause,
            },
            None => AuthError::Failed(format!("{method}: {}", self.text)),
        }
    }
}

/// One token, retried (0.5, 1, 2 s) while the failure may pass; at once
/// an error when it cannot (refused, untrusted, rejected with 4xx).
async fn get(cred: &dyn TokenCredential, scope: &str) -> Result<BearerToken, Failure> {
    let mut delay = std::time::Duration::from_millis(500);
    let mut attempt = 0;
    loop {
        match cred.get_token(&[scope], None).await {
            Ok(tok) => {
                return Ok(BearerToken {
                    secret: tok.token.secret().to_string(),
                    expires_on: tok.expires_on,
                })
            }
            Err(e) => {
                let text = one_line(&e.to_string());
                let rejected = e
                    .http_status()
                    .filter(|s| (400..500).contains(&u16::from(*s)) && u16::from(*s) != 429)
                    .map(|s| Cause::Rejected(format!("HTTP {}: {text}", u16::from(s))));
                let cause = rejected.or_else(|| permanent_cause(&e));
                if cause.is_some() || attempt >= 3 || !is_transient(&e) {
                    return Err(Failure { text, cause });
                }
            }
        }
        attempt += 1;
        tokio::time::sleep(delay).await;
        delay *= 2;
    }
}

/// A failure worth another try: no answer (a timeout, a reset) or a 5xx/429.
fn is_transient(e: &azure_core::Error) -> bool {
    match e.http_status().map(u16::from) {
        Some(s) => s == 429 || s >= 500,
        None => matches!(e.kind(), azure_core::error::ErrorKind::Io),
    }
}

/// azure_identity's messages span lines (a troubleshooting link); our
/// errors are one line on stderr.
fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn needs_refresh(expires_on: OffsetDateTime, now: OffsetDateTime) -> bool {
    expires_on - REFRESH_MARGIN <= now
}

/// The `.default` scope of an ARM endpoint, as Entra ID expects it.
pub fn arm_scope(arm_endpoint: &str) -> String {
    format!("{}/.default", arm_endpoint.trim_end_matches('/'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refreshes_five_minutes_early() {
        let now = OffsetDateTime::now_utc();
        assert!(!needs_refresh(now + Duration::minutes(60), now));
        assert!(!needs_refresh(now + Duration::minutes(6), now));
        assert!(needs_refresh(now + Duration::minutes(5), now));
        assert!(needs_refresh(now - Duration::minutes(1), now));
    }

    #[test]
    fn parses_methods() {
        assert_eq!("workload-identity".parse::<AuthMethod>().unwrap(), AuthMethod::WorkloadIdentity);
        let err = "kerberos".parse::<AuthMethod>().unwrap_err().to_string();
        assert!(err.contains("client-secret"), "{err}");
    }

    #[test]
    fn debug_redacts_secret() {
        let c = AuthConfig {
            client_secret: Some("hunter2".into()),
            ..Default::default()
        };
        assert!(!format!("{c:?}").contains("hunter2"));
        let t = BearerToken {
            secret: "eyJabc".into(),
            expires_on: OffsetDateTime::now_utc(),
        };
        assert!(!format!("{t:?}").contains("eyJabc"));
    }

    #[test]
    fn arm_scope_has_one_slash() {
        assert_eq!(arm_scope("https://management.azure.com/"), "https://management.azure.com/.default");
    }

    #[tokio::test]
    async fn auto_lists_every_failure() {
        let cfg = AuthConfig {
            method: AuthMethod::Auto,
            ..Default::default()
        };
        // No env, no IMDS reachable quickly is not guaranteed, so only the
        // explicit, unconfigured methods are exercised here.
        let src = TokenSource::new(
            AuthConfig {
                method: AuthMethod::ClientSecret,
                ..cfg
            },
            reqwest::Client::new(),
        );
        let err = src.token(STORAGE_SCOPE).await.unwrap_err().to_string();
        assert!(err.contains("AZURE_TENANT_ID is not set"), "{err}");
    }
}
