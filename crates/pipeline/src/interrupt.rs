//! One handler for Ctrl-C, SIGTERM and SIGHUP, installed before the first
//! request, so a signal that comes while a backup's POST is in flight ends
//! the wait that follows (and its `apim.operation` is printed) instead of
//! killing the process between "Azure started it" and "we said so". A
//! cancelled CI job, `timeout(1)` and Kubernetes send SIGTERM, a closed
//! terminal SIGHUP: all three mean the same here. A second signal exits at
//! once, as a user pressing Ctrl-C twice expects.

use std::sync::OnceLock;
use tokio::sync::watch;

static SIGNAL: OnceLock<watch::Receiver<bool>> = OnceLock::new();

/// Installs the handler (once per process) and returns what turns `true`
/// on the first signal. Must run inside the tokio runtime.
pub fn install() -> watch::Receiver<bool> {
    SIGNAL
        .get_or_init(|| {
            let (tx, rx) = watch::channel(false);
            match Signals::register() {
                Ok(signals) => {
                    tokio::spawn(listen(signals, tx));
                }
                // Without handlers the default applies (the process ends); say so.
                Err(e) => eprintln!("warning: cannot catch Ctrl-C/SIGTERM ({e}); an interrupt will not print resume documents"),
            }
            rx
        })
        .clone()
}

async fn listen(mut signals: Signals, tx: watch::Sender<bool>) {
    loop {
        let name = signals.next().await;
        if tx.send_replace(true) {
            eprintln!("{name} again: exiting now; operations already started go on in Azure");
            std::process::exit(130);
        }
        eprintln!("{name}: stopping; nothing new is started, and operations already started go on in Azure (again to exit at once)");
    }
}

#[cfg(unix)]
struct Signals {
    int: tokio::signal::unix::Signal,
    term: tokio::signal::unix::Signal,
    hup: tokio::signal::unix::Signal,
}

#[cfg(unix)]
impl Signals {
    fn register() -> std::io::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            int: signal(SignalKind::interrupt())?,
            term: signal(SignalKind::terminate())?,
            hup: signal(SignalKind::hangup())?,
        })
    }

    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.int.recv() => "interrupted (SIGINT)",
            _ = self.term.recv() => "terminated (SIGTERM)",
            _ = self.hup.recv() => "hung up (SIGHUP)",
        }
    }
}

#[cfg(not(unix))]
struct Signals;

#[cfg(not(unix))]
impl Signals {
    fn register() -> std::io::Result<Self> {
        Ok(Signals)
    }

    async fn next(&mut self) -> &'static str {
        let _ = tokio::signal::ctrl_c().await;
        "interrupted (Ctrl-C)"
    }
}
