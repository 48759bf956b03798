//! The JSON contract between the apim-toolkit binaries: one Rust type per
//! document kind, what a document read from outside must satisfy, and
//! NDJSON (or one JSON array) read and written as a stream. No CLI, HTTP,
//! runtime or credential crate below it: a tool that only reads or writes
//! documents links none of them.
//!
//! ```no_run
//! use apim_documents::{emit, expect_all, read_stdin_documents, ServiceDoc};
//! let services: Vec<ServiceDoc> = expect_all(&read_stdin_documents()?, "stdin")?;
//! for s in &services {
//!     emit(s)?; // {"kind":"apim.service","schemaVersion":1,...}
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod kinds;
mod read;
mod write;

pub use kinds::*;
pub use read::{
    expect_all, expect_kind, expect_one, kind_of, parse_documents, read_file_documents, read_one_file, read_stdin_documents,
    stdin_documents, stream_documents, MAX_LINE_BYTES,
};
pub use write::{emit, Emit};

/// Input that is not what it should be: malformed JSON, a document of
/// another kind or version, a field Azure would not accept, a line over
/// [`MAX_LINE_BYTES`], an unreadable file. The message names the source
/// (`stdin line 3`, `--backups b.json`) and what was expected; nothing was
/// acted on.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct DocumentError(pub String);

/// How a failure ends a run, as the contract's exit codes sort them: the
/// libraries say which it is, every binary turns it into the same code.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Azure (or the network) said no: exit 1.
    Azure,
    /// The input or the flags were wrong; nothing was changed: exit 2.
    BadInput,
    /// A safety rail refused: exit 3.
    Refused,
    /// Stopped before the end (a signal, a deadline); what runs in Azure goes on: exit 4.
    Stopped,
}

/// An error and its causes on one line, as a document's `message` or a
/// summary holds them.
pub fn one_line(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// An error that knows which [`Failure`] it is.
pub trait Classify {
    fn failure(&self) -> Failure;
}
