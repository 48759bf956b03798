//! What a long wait shows while it goes on. Libraries report through an
//! [`Observer`]; the program that runs them decides how it looks (a
//! spinner, a line a minute, nothing).

use serde_json::Value;

/// Receives what a library has to say while it works.
pub trait Observer: Send + Sync {
    /// One line of progress.
    fn info(&self, line: &str);
    /// One long-running task, e.g. `apim-src backup`.
    fn task(&self, label: &str) -> Box<dyn TaskObserver + '_>;
    /// An operation was accepted by Azure: `resume` is the document that
    /// waits for it again. Said the moment it starts, so that a run killed
    /// outright still leaves a way back in its log.
    fn started(&self, label: &str, resume: &Value) {
        let _ = (label, resume);
    }
    /// An operation reached its end in Azure (succeeded or failed): nothing
    /// is left to resume.
    fn ended(&self, op: &crate::PendingOperation) {
        let _ = op;
    }
}

/// One task's states and its end.
pub trait TaskObserver: Send + Sync {
    fn state(&self, state: &str);
    fn finish(&self, outcome: &str);
}

/// Says nothing: for callers that show no progress.
pub struct Silent;

impl Observer for Silent {
    fn info(&self, _: &str) {}
    fn task(&self, _: &str) -> Box<dyn TaskObserver + '_> {
        Box::new(Silent)
    }
}

impl TaskObserver for Silent {
    fn state(&self, _: &str) {}
    fn finish(&self, _: &str) {}
}
