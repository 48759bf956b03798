//! The flags every binary shares, and what they build: one HTTP client,
//! one token source, one ARM client, one progress reporter.

use crate::exit::usage;
use crate::progress::{parse_duration, Reporter};
use anyhow::Context;
use apim_documents::Emit;
use apim_documents::OperationDoc;
use arm_auth::{AuthConfig, AuthMethod, TokenSource};
use arm_client::{ArmClient, Progress, Stop, WaitError};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// The flags every binary takes: where ARM is, who we are, how much to say.
#[derive(clap::Args, Debug, Clone)]
#[command(next_help_heading = "Connection (every binary)")]
pub struct ConnectArgs {
    /// Subscription id.
    #[arg(long, env = "AZURE_SUBSCRIPTION_ID", global = true)]
    pub subscription: Option<String>,
    /// ARM endpoint (sovereign clouds, the emulator).
    #[arg(long, env = "AZURE_ARM_ENDPOINT", default_value = "https://management.azure.com", global = true)]
    pub arm_endpoint: String,
    /// Credential: auto, client-secret, workload-identity, managed-identity, azure-cli.
    #[arg(long, default_value = "auto", value_parser = parse_auth, global = true)]
    pub auth: AuthMethod,
    /// Extra PEM roots to trust (SSL_CERT_FILE is trusted too).
    #[arg(long, global = true)]
    pub ca_cert: Option<PathBuf>,
    /// No progress on stderr.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Log every request on stderr.
    #[arg(short, long, global = true)]
    pub verbose: bool,
}

/// How long to wait; every binary that waits for operations takes it.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct TimeoutArg {
    /// Stop waiting after this long (90s, 30m, 2h; at most 3660d); the operation goes on and a resume document is printed.
    #[arg(long, value_parser = parse_timeout)]
    pub timeout: Option<Duration>,
}

/// The flags of binaries that start long-running operations.
#[derive(clap::Args, Debug, Clone, Default)]
#[command(next_help_heading = "Waiting")]
pub struct WaitArgs {
    #[command(flatten)]
    pub timeout: TimeoutArg,
    /// Start the operation, print its apim.operation document and exit.
    #[arg(long)]
    pub no_wait: bool,
    /// Read apim.operation documents on stdin and wait for them.
    #[arg(long)]
    pub resume: bool,
}

impl WaitArgs {
    /// Either set of flags, for a binary that takes them before and after its subcommand.
    pub fn or(&self, other: &WaitArgs) -> WaitArgs {
        WaitArgs {
            timeout: TimeoutArg {
                timeout: self.timeout.timeout.or(other.timeout.timeout),
            },
            no_wait: self.no_wait || other.no_wait,
            resume: self.resume || other.resume,
        }
    }
}

fn parse_auth(s: &str) -> Result<AuthMethod, String> {
    s.parse().map_err(|e: arm_auth::AuthError| e.to_string())
}

fn parse_timeout(s: &str) -> Result<Duration, String> {
    parse_duration(s)
}

/// What a run of a binary works with.
pub struct Session {
    pub arm: Arc<ArmClient>,
    pub http: reqwest::Client,
    pub reporter: Reporter,
    pub args: ConnectArgs,
    /// --no-wait: start operations, print their documents, do not wait.
    pub no_wait: bool,
}

/// The end of waiting for one operation: its result, or the document that
/// resumes it (after a timeout or a signal).
pub type Waited = Progress<Value, Box<OperationDoc>>;

impl ConnectArgs {
    /// A session whose waits end only with their operations (or a signal).
    pub fn connect(&self) -> anyhow::Result<Session> {
        self.connect_waiting(&WaitArgs::default())
    }

    /// A session whose waits also end at the --timeout deadline, counted
    /// from now and shared by every operation of the run.
    pub fn connect_waiting(&self, wait: &WaitArgs) -> anyhow::Result<Session> {
        if self.quiet && self.verbose {
            return Err(usage("-q and -v contradict each other; pick one"));
        }
        let reporter = Reporter::new(self.quiet, self.verbose);
        let http = http_client(self.ca_cert.as_deref())?;
        let mut tokens = TokenSource::new(AuthConfig::from_env(self.auth), http.clone());
        if self.verbose {
            let r = reporter.clone();
            tokens = tokens.with_logger(Arc::new(move |line: &str| r.debug(line)));
        }
        let tokens = Arc::new(tokens);
        // parse_timeout caps the duration, so the deadline cannot overflow.
        let deadline = wait.timeout.timeout.and_then(|t| tokio::time::Instant::now().checked_add(t));
        let stop = Stop::new(Some(crate::interrupt::install()), deadline);
        let mut arm = ArmClient::new(http.clone(), &self.arm_endpoint, tokens)
            .map_err(|e| usage(format!("--arm-endpoint: {e}")))?
            .with_stop(stop);
        if self.verbose {
            let r = reporter.clone();
            arm = arm.with_logger(Arc::new(move |line: &str| r.debug(line)));
        }
        Ok(Session {
            arm: Arc::new(arm),
            http,
            reporter,
            args: self.clone(),
            no_wait: wait.no_wait,
        })
    }
}

/// One reqwest client for ARM, tokens and blobs: one place for trust,
/// timeouts and the user agent. SSL_CERT_FILE replaces the system roots, as
/// it does for OpenSSL and curl (and spares loading the system store);
/// `--ca-cert` adds to whichever roots are in force.
pub fn http_client(ca_cert: Option<&std::path::Path>) -> anyhow::Result<reqwest::Client> {
    let read = |p: &std::path::Path, what: &str| -> anyhow::Result<Vec<reqwest::Certificate>> {
        let pem = std::fs::read(p).map_err(|e| usage(format!("{what} {}: {e}", p.display())))?;
        reqwest::Certificate::from_pem_bundle(&pem)
            .map_err(|e| usage(format!("{what} {}: not a PEM certificate bundle ({e})", p.display())))
    };
    let extra = match ca_cert {
        Some(p) => read(p, "--ca-cert")?,
        None => Vec::new(),
    };
    let builder = reqwest::Client::builder()
        .user_agent(concat!("apim-toolkit/", env!("CARGO_PKG_VERSION")))
        .connect_timeout(Duration::from_secs(15))
        .timeout(Duration::from_secs(300));
    let builder = match std::env::var_os("SSL_CERT_FILE").filter(|v| !v.is_empty()) {
        Some(file) => {
            let path = std::path::Path::new(&file);
            if !path.exists() {
                return Err(usage(format!(
                    "SSL_CERT_FILE {} does not exist (an env file of an emulator that has stopped?); start the emulator again and source its new env file, or unset SSL_CERT_FILE",
                    path.display()
                )));
            }
            let mut roots = read(path, "SSL_CERT_FILE")?;
            roots.extend(extra);
            builder.tls_certs_only(roots)
        }
        None => builder.tls_certs_merge(extra),
    };
    builder.build().context("building the HTTP client")
}

impl Session {
    pub fn subscription(&self) -> anyhow::Result<String> {
        self.args
            .subscription
            .clone()
            .filter(|s| !s.is_empty())
            .ok_or_else(|| usage("no subscription: pass --subscription or set AZURE_SUBSCRIPTION_ID"))
    }

    /// Refuses to start anything new once the user pressed Ctrl-C (or the
    /// process got SIGTERM): exit 4, and what `what` would have started
    /// was not started.
    pub fn check_not_interrupted(&self, what: &str) -> anyhow::Result<()> {
        if self.arm.stop().interrupted() {
            return Err(crate::exit::stopped(format!(
                "interrupted before {what} started; it was not started"
            )));
        }
        Ok(())
    }

    /// Says on stderr, the moment ARM accepted an operation, how to resume it.
    pub fn announce_started(&self, op: &OperationDoc) {
        if let Ok(doc) = apim_documents::to_value(op) {
            arm_client::Observer::started(&self.reporter, &op.label(), &doc);
        }
    }

    /// The one cycle of a started long-running operation, for every binary
    /// that starts them: with --no-wait its document is handed back to be
    /// printed; else it is waited for (a signal or --timeout ends the wait
    /// with the document that resumes it), and `finish` turns the
    /// operation's result into the run's document. `--resume` enters here
    /// too, with the document read back.
    pub async fn follow<T, F, Fut>(&self, op: OperationDoc, finish: F) -> anyhow::Result<Outcome<T>>
    where
        F: FnOnce(OperationDoc, Value) -> Fut,
        Fut: std::future::Future<Output = anyhow::Result<T>>,
    {
        if self.no_wait {
            return Ok(Progress::Pending(Box::new(op)));
        }
        match self.wait(&op.label(), op.clone()).await? {
            Progress::Pending(d) => Ok(Progress::Pending(d)),
            Progress::Done(result) => Ok(Progress::Done(finish(op, result).await?)),
        }
    }

    /// Runs every item of a batch at once and reports them (see [`report`]).
    /// `say` gives the plain line each finished document ends with on stderr.
    pub async fn batch<T, Fut>(
        &self,
        binary: &str,
        work: impl IntoIterator<Item = Fut>,
        say: impl Fn(&T) -> Option<String>,
    ) -> anyhow::Result<()>
    where
        T: Emit,
        Fut: std::future::Future<Output = anyhow::Result<Outcome<T>>>,
    {
        report(futures::future::join_all(work).await, binary, self.no_wait, say)
    }

    /// Waits for one operation with progress under `label`.
    pub async fn wait(&self, label: &str, op: OperationDoc) -> anyhow::Result<Waited> {
        match self.arm.wait_watched(op.pending.clone(), &self.reporter, label).await {
            Ok(v) => Ok(Progress::Done(v)),
            Err(WaitError::Stopped(pending)) => Ok(Progress::Pending(Box::new(OperationDoc { pending, ..op }))),
            Err(WaitError::Failed(e)) => Err(anyhow::Error::new(e).context(format!("{label} failed"))),
        }
    }
}

/// The end of one item of a batch: its document, or the operation still
/// running (after --no-wait, a timeout or Ctrl-C).
pub type Outcome<T> = Progress<T, Box<OperationDoc>>;

/// Prints every document in input order, then fails with the first error
/// (the others on stderr), or exits 4 when operations were left running
/// without --no-wait having asked for that.
pub fn report<T: Emit>(
    results: Vec<anyhow::Result<Outcome<T>>>,
    binary: &str,
    no_wait: bool,
    say: impl Fn(&T) -> Option<String>,
) -> anyhow::Result<()> {
    let total = results.len();
    let mut errors = Vec::new();
    let (mut stopped, mut pending) = (0, 0);
    for r in results {
        match r {
            Ok(Progress::Done(doc)) => {
                doc.emit()?;
                if let Some(line) = say(&doc) {
                    eprintln!("{binary}: {line}");
                }
            }
            Ok(Progress::Pending(op)) => {
                stopped += usize::from(!no_wait);
                crate::emit(op.as_ref())?;
                pending += 1;
            }
            Err(e) => errors.push(e),
        }
    }
    let failed = errors.len();
    let mut errors = errors.into_iter();
    if let Some(first) = errors.next() {
        for e in errors {
            eprintln!("{binary}: error: {}", crate::render(&e));
        }
        // In a batch, the others went on: say how many did not.
        if total > 1 {
            return Err(first.context(format!("{failed} of {total} failed (each named above or here)")));
        }
        return Err(first);
    }
    if stopped > 0 {
        return Err(stopped_error(stopped, binary));
    }
    if no_wait && pending > 0 {
        eprintln!("{binary}: {pending} operation(s) started and running in Azure; wait for them with: {binary} --resume < the apim.operation documents printed on stdout");
    }
    Ok(())
}

/// After printing resume documents: exit 4 with how to pick up again.
pub fn stopped_error(count: usize, binary: &str) -> anyhow::Error {
    crate::exit::stopped(format!(
        "stopped waiting for {count} operation(s); they go on in Azure. Resume with: {binary} --resume < the apim.operation documents this run printed on stdout"
    ))
}

impl ConnectArgs {
    /// The `apim.operation` documents `--resume` waits for: at least one,
    /// each bound to the operation it claims (its own resource, polled on
    /// this ARM endpoint): a document edited to name another service is
    /// bad input, refused before any request.
    pub fn read_operations(&self, binary: &str) -> anyhow::Result<Vec<OperationDoc>> {
        use std::io::IsTerminal;
        let piped = if std::io::stdin().is_terminal() {
            Vec::new()
        } else {
            apim_documents::read_stdin_documents()?
        };
        // Nothing on stdin (none piped, or a file the shell emptied): what
        // this binary started and the state directory still records.
        let arm = url::Url::parse(&self.arm_endpoint).map_err(|e| usage(format!("--arm-endpoint: {e}")))?;
        let (docs, source) = if piped.is_empty() {
            // Only this binary's, on this ARM endpoint (a rehearsal's records
            // are not offered to a run against Azure).
            let mine: Vec<Value> = crate::record::recorded()
                .into_iter()
                .filter(|d| resumed_by(d) == binary)
                .filter(|d| serde_json::from_value::<OperationDoc>(d.clone()).is_ok_and(|op| op.unbound(&arm).is_none()))
                .collect();
            if !mine.is_empty() {
                let dir = crate::record::dir().map(|d| d.display().to_string()).unwrap_or_default();
                eprintln!(
                    "{binary}: nothing on stdin: resuming the {} operation(s) recorded in {dir}",
                    mine.len()
                );
            }
            (mine, "the state directory")
        } else {
            (piped, "stdin")
        };
        let ops: Vec<OperationDoc> = apim_documents::expect_all(&docs, source)?;
        if ops.is_empty() {
            return Err(usage(format!(
                "--resume: no apim.operation documents on stdin, and none recorded; pipe in those {binary} printed after --no-wait, --timeout or Ctrl-C"
            )));
        }
        for op in &ops {
            if let Some(why) = op.unbound(&arm) {
                return Err(usage(format!(
                    "stdin: the {} document of {} does not hold together: {why}; resume only documents this toolkit printed",
                    op.work.name(),
                    op.resource_id.name().unwrap_or_default()
                )));
            }
        }
        Ok(ops)
    }
}

/// The binary that resumes an `apim.operation` document, by its operation.
pub(crate) fn resumed_by(doc: &Value) -> &'static str {
    match doc.get("operation").and_then(Value::as_str) {
        Some("backup") => "apim-backup",
        Some("restore") => "apim-restore",
        _ => "apim-provision",
    }
}
