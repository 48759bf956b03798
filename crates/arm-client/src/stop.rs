//! When to stop waiting: a deadline, or a signal the process received
//! (Ctrl-C, SIGTERM). One [`Stop`] lives in the [`crate::ArmClient`], so
//! every wait in every library observes the same signal without being
//! handed it.

use tokio::sync::watch;
use tokio::time::Instant;

#[derive(Clone, Debug, Default)]
pub struct Stop {
    /// Turns `true` once, when the process is asked to stop.
    signal: Option<watch::Receiver<bool>>,
    deadline: Option<Instant>,
}

impl Stop {
    /// Never fires: waits last until the operation ends.
    pub fn never() -> Self {
        Stop::default()
    }

    pub fn new(signal: Option<watch::Receiver<bool>>, deadline: Option<Instant>) -> Self {
        Stop { signal, deadline }
    }

    /// Whether the process was asked to stop (not the deadline): nothing
    /// new should be started after that.
    pub fn interrupted(&self) -> bool {
        self.signal.as_ref().is_some_and(|s| *s.borrow())
    }

    /// Whether waiting must stop now.
    pub fn fired(&self) -> bool {
        self.interrupted() || self.deadline.is_some_and(|d| d <= Instant::now())
    }

    /// Resolves when waiting must stop.
    pub async fn wait(&self) {
        let deadline = async {
            match self.deadline {
                Some(d) => tokio::time::sleep_until(d).await,
                None => std::future::pending().await,
            }
        };
        let signal = async {
            match self.signal.clone() {
                // An error means the sender is gone: no signal can come.
                Some(mut s) => {
                    if s.wait_for(|v| *v).await.is_err() {
                        std::future::pending::<()>().await
                    }
                }
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            _ = deadline => {}
            _ = signal => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[tokio::test]
    async fn fires_on_signal_or_deadline() {
        assert!(!Stop::never().fired());
        let (tx, rx) = watch::channel(false);
        let s = Stop::new(Some(rx), None);
        assert!(!s.fired());
        let waiter = tokio::spawn({
            let s = s.clone();
            async move { s.wait().await }
        });
        tx.send_replace(true);
        tokio::time::timeout(Duration::from_secs(5), waiter).await.unwrap().unwrap();
        assert!(s.interrupted() && s.fired());

        let s = Stop::new(None, Some(Instant::now() + Duration::from_millis(20)));
        assert!(!s.fired());
        tokio::time::timeout(Duration::from_secs(5), s.wait()).await.unwrap();
        assert!(s.fired() && !s.interrupted());
    }
}
