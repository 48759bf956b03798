//! What every apim-toolkit binary shares: the JSON documents, reading and
//! writing them, exit codes, progress on stderr, and the common flags.
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

pub mod documents;
mod exit;
mod input;
mod interrupt;
mod output;
pub mod progress;
mod session;

pub use arm_client::Progress;
pub use documents::{
    to_value, BackupContext, BackupDoc, BackupRef, BackupStatus, ChangeDoc, ChangeStatus, ContainerDoc, DeletedDoc, DeletionStatus,
    DifferenceDoc, DifferenceKind, Document, EntityDoc, HostRefDoc, KeyVaultDoc, NamedValueDiffDoc, NamedValueDoc, NamedValueSide,
    NamedValueSummary, OperationDoc, PrunedDoc, RestoreDoc, RestoreStatus, Resume, ServiceDoc, ServiceRef, Sku, StorageRef,
};
pub use exit::{code_of, compare_failed, finish, refused, render, stopped, usage, Exit, ExitKind};
pub use input::{
    expect_all, expect_kind, expect_one, kind_of, parse_documents, read_file_documents, read_one_file, read_operations,
    read_stdin_documents, stdin_documents, MAX_LINE_BYTES,
};
pub use output::{emit, Emit};
pub use progress::Reporter;
pub use session::{http_client, report, stopped_error, ConnectArgs, Outcome, Session, TimeoutArg, WaitArgs, Waited};
