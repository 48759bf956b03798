//! Writing documents: one JSON value per line on stdout.

use crate::kinds::{Document, Envelope};
use std::io::Write;

/// Writes one document as a line, with its kind and schema version, and
/// flushes, so a pipeline sees it at once. A closed pipe is reported as an
/// io error of kind BrokenPipe, which a binary treats as a normal end.
pub fn emit<D: Document>(doc: &D) -> std::io::Result<()> {
    write_line(&serde_json::to_string(&Envelope::of(doc))?)
}

fn write_line(line: &str) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    writeln!(out, "{line}")?;
    out.flush()?;
    Ok(())
}

/// Something that is written as one document: a [`Document`], or an enum
/// of several kinds (a batch that yields services and containers).
pub trait Emit {
    fn emit(&self) -> std::io::Result<()>;
}

impl<D: Document> Emit for D {
    fn emit(&self) -> std::io::Result<()> {
        emit(self)
    }
}
