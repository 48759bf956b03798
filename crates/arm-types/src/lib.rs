//! ARM's values without a client: resource ids (parsed, compared as ARM
//! compares them) and a long-running operation in flight, as documents
//! carry them between processes. No HTTP, no runtime: a crate that only
//! reads or writes these values links none.
//!
//! ```
//! use arm_types::ResourceId;
//! let id: ResourceId = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim-src".parse().unwrap();
//! assert_eq!(id.name(), Some("apim-src"));
//! ```

mod id;

pub use id::{is_plain_segment, IdError, ResourceId};
use serde::{Deserialize, Serialize};

/// Where a piece of work stands: finished with its result, or still going
/// on in Azure (a [`PendingOperation`] to poll, or a document that resumes
/// it). One type for every "done, or still running" the toolkit reports.
#[derive(Debug)]
pub enum Progress<T, P = PendingOperation> {
    Done(T),
    Pending(P),
}

/// Where the final result comes from, as the operation's spec says
/// (`x-ms-long-running-operation-options.final-state-via`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FinalStateVia {
    /// GET the Location URL once done (APIM backup, restore, named values).
    Location,
    /// The status resource itself is the result.
    AzureAsyncOperation,
    /// GET the resource (the ARM default for PUT and PATCH).
    OriginalUri,
}

/// A started operation, enough to pick it up again in another process.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PendingOperation {
    /// The resource URL the operation was started on (with api-version).
    pub resource_url: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure_async_operation: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    pub final_state_via: FinalStateVia,
    /// Seconds the server last asked us to wait between polls.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_seconds: Option<u64>,
}

impl PendingOperation {
    /// An operation known only by its resource, whose provisioningState
    /// tells how it goes (no status URL to poll).
    pub fn on_resource(resource_url: &str) -> Self {
        PendingOperation {
            resource_url: resource_url.to_string(),
            azure_async_operation: None,
            location: None,
            final_state_via: FinalStateVia::OriginalUri,
            retry_after_seconds: None,
        }
    }
}
