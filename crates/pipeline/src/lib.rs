//! The shell every apim-toolkit binary shares: the common flags, the session
//! they build, exit codes, progress on stderr and signals. The only crate
//! that knows binary names and flags; the documents themselves live in
//! `apim-documents` (re-exported here for the binaries).
//!
//! ```no_run
//! use clap::Parser;
//! #[derive(Parser)]
//! struct Cli { #[command(flatten)] common: pipeline::ConnectArgs }
//! fn main() -> std::process::ExitCode {
//!     let cli = Cli::parse();
//!     pipeline::finish("my-tool", (|| {
//!         let session = cli.common.connect()?;
//!         let services: Vec<pipeline::ServiceDoc> = pipeline::expect_all(&pipeline::read_stdin_documents()?, "stdin")?;
//!         for doc in &services { pipeline::emit(doc)?; }
//!         Ok(())
//!     })())
//! }
//! ```

mod args;
mod exit;
pub mod help;
mod interrupt;
pub mod progress;
pub mod record;
pub mod say;
mod session;
mod sides;

/// The documents crate, for binaries that name it through the shell.
pub use apim_documents as documents;

pub use apim_documents::{
    emit, expect_all, expect_kind, expect_one, kind_of, parse_documents, read_file_documents, read_one_file, read_stdin_documents,
    stdin_documents, to_value, BackupContext, BackupDoc, BackupRef, BackupStatus, ChangeDoc, ChangeStatus, ContainerDoc, DeletedDoc,
    DeletionStatus, DifferenceDoc, DifferenceKind, Document, DocumentError, Emit, EntityDoc, HostRefDoc, KeyVaultDoc, NamedValueDoc,
    NamedValueSide, OperationDoc, PrunedDoc, RestoreDoc, RestoreStatus, Resume, ServiceDoc, ServiceRef, Sku, StorageRef, MAX_LINE_BYTES,
};
pub use args::{parse, parse_host_rule, parse_service_id, parse_tag, warn_renamed, Renamed, ServiceArg};
pub use arm_client::Progress;
pub use exit::{classified, code_of, compare_failed, differ, finish, hinted, refused, render, stopped, usage, Exit, ExitKind};
pub use progress::Reporter;
pub use session::{http_client, report, stopped_error, ConnectArgs, Outcome, Session, TimeoutArg, WaitArgs, Waited};
pub use sides::{read_side, Side};
