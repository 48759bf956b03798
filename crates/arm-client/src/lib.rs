//! ARM over reqwest: typed resource ids, retries with backoff for what is
//! safe to retry, long-running operations, nextLink paging, and ARM error
//! bodies rendered as `CODE: message (request id …)`.
//!
//! ```no_run
//! # async fn demo(client: arm_client::ArmClient) -> Result<(), arm_client::Error> {
//! use arm_client::{FinalStateVia, ResourceId};
//! let id: ResourceId = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim-src".parse()?;
//! let url = client.url(&id.to_string(), "2024-05-01");
//! let service = client.get(url).await?; // None when it does not exist
//! # Ok(()) }
//! ```

mod client;
mod error;
pub mod groups;
pub mod lro;
pub mod pacing;
pub mod paging;
mod stop;
pub mod watch;

pub use arm_types::{is_plain_segment, IdError, ResourceId};
pub use client::{ArmClient, Logger, Response, WaitError};
pub use error::{ArmError, Error};
pub use http_retry::RetryPolicy;
pub use lro::{FinalStateVia, PendingOperation, PollState, Progress};
pub use reqwest::Method;
pub use stop::Stop;
pub use watch::{Observer, Silent, TaskObserver};
