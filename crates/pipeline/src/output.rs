//! Writing documents: one JSON value per line on stdout.

use serde::Serialize;
use std::io::Write;

/// Writes one document as a line and flushes, so a pipeline sees it at once.
/// A closed pipe is reported as an io error of kind BrokenPipe, which
/// [`crate::finish`] treats as a normal end.
pub fn emit<T: Serialize>(doc: &T) -> anyhow::Result<()> {
    let line = serde_json::to_string(doc)?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}
