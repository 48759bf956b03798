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
//!         for doc in pipeline::read_stdin_documents()? { pipeline::emit(&doc)?; }
//!         Ok(())
//!     })())
//! }
//! ```

pub mod docs;
mod exit;
mod input;
mod interrupt;
mod output;
pub mod progress;
mod session;

pub use docs::{
    BackupDoc, BackupRef, ChangeDoc, ContainerDoc, KeyVaultDoc, NamedValueDoc, NamedValueSide, OperationDoc, PrunedDoc, RestoreDoc,
    ServiceDoc, ServiceRef, Sku, StorageRef,
};
pub use exit::{code_of, finish, refused, render, stopped, usage, Exit, ExitKind};
pub use input::{expect_kind, kind_of, parse_documents, read_file_documents, read_stdin_documents};
pub use output::emit;
pub use progress::Reporter;
pub use session::{http_client, report, stopped_error, ConnectArgs, Outcome, Session, TimeoutArg, WaitArgs, Waited};
