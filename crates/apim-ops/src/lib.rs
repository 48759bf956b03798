//! APIM operations, typed, over `arm-client`: create (idempotent, soft-delete
//! aware), get, list, delete, recover and purge services.
//!
//! ```no_run
//! # async fn demo(arm: &arm_client::ArmClient) -> Result<(), apim_ops::OpsError> {
//! use apim_ops::{service_id, ServiceSpec};
//! use arm_client::Progress;
//! let id = service_id("sub", "apim-rg", "apim-src");
//! let spec = ServiceSpec::new("westeurope", "Developer", 1, "ops@example.com", "Example Ops");
//! match apim_ops::create_service(arm, &id, &spec, Default::default(), &mut Vec::new()).await? {
//!     Progress::Done(body) => println!("already there: {body}"),
//!     Progress::Pending(op) => println!("poll {op:?}"),
//! }
//! # Ok(()) }
//! ```

mod backup;
mod entities;
mod named_values;
mod service;

pub use backup::*;
pub use entities::*;
pub use named_values::*;
pub use service::*;

use arm_client::ArmError;

#[derive(Debug, thiserror::Error)]
pub enum OpsError {
    #[error(transparent)]
    Arm(#[from] arm_client::Error),
    /// The name is held by a soft-deleted service.
    #[error("service name '{name}' is held by a soft-deleted service ({arm})")]
    SoftDeleted { name: String, arm: ArmError },
    /// An update would lower the SKU or the units (a safety rail: exit 3).
    #[error("{}", .changes.join(", "))]
    Downgrade { name: String, changes: Vec<String> },
    /// Creating a service needs this setting (exit 2).
    #[error("creating a service needs its {0}")]
    Missing(&'static str),
    #[error("{0}")]
    Invalid(String),
    /// Input that cannot work, found only once ARM was asked (exit 2).
    #[error("{0}")]
    Usage(String),
    /// A safety rail refused (exit 3 in the binaries).
    #[error("{0}")]
    Refused(String),
}
