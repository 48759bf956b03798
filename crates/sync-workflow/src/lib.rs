//! A copy of one APIM instance onto another through the management API,
//! as `apim-sync` runs it: read both (every family of the registry), plan
//! what the target lacks or has otherwise (hosts rewritten as planned),
//! then write it wave by wave, each write under a precondition (If-Match
//! on the plan's ETag, If-None-Match for a create), secrets read from the
//! source only at the moment they are written. The source is only read.
//!
//! ```no_run
//! # async fn f(arm: &arm_client::ArmClient, src: arm_client::ResourceId, dst: arm_client::ResourceId) -> Result<(), sync_workflow::Error> {
//! let opts = sync_workflow::Options { hosts: vec![("api.src.example.com".into(), "api.dest.example.com".into())], ..Default::default() };
//! let plan = sync_workflow::plan(arm, sync_workflow::Source::Service(src), &dst, &opts, 32).await?;
//! let apply = sync_workflow::ApplyOptions { parallel: 32, ..Default::default() };
//! let tally = sync_workflow::apply(arm, plan.changes, &apply, |c| { println!("{} {:?}", c.path, c.status); Ok(()) }).await?;
//! eprintln!("{}", tally.line());
//! tally.verdict()?;
//! # Ok(()) }
//! ```

mod apply;
mod plan;

pub use apply::{apply, check_plan, key_vault_readers, ApplyOptions, Tally};
pub use plan::{body_of, check_family, plan as plan_pure, wave, Options, Planned};

use apim_documents::{Classify, Failure, SyncAction};
use apim_inventory::Snapshot;
use apim_ops::OpsError;
use arm_client::{ArmClient, ResourceId};
use futures::{StreamExt, TryStreamExt};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The input cannot work (nothing was written).
    #[error("{0}")]
    BadInput(String),
    /// A rail refused (nothing was written).
    #[error("{0}")]
    Refused(String),
    /// Stopped before every change was written.
    #[error("{0}")]
    Stopped(String),
    /// Some changes failed or met a target changed since the plan.
    #[error("{0}")]
    Incomplete(String),
    /// Changes met a target changed since the plan, and were left alone.
    #[error("{0}")]
    Conflicts(String),
    #[error("reading {what}")]
    Read {
        what: String,
        #[source]
        source: apim_inventory::Error,
    },
    #[error("{what}")]
    Ops {
        what: String,
        #[source]
        source: Box<OpsError>,
    },
    #[error(transparent)]
    Output(std::io::Error),
}

impl Classify for Error {
    fn failure(&self) -> Failure {
        match self {
            Error::BadInput(_) => Failure::BadInput,
            Error::Refused(_) | Error::Conflicts(_) => Failure::Refused,
            Error::Stopped(_) => Failure::Stopped,
            Error::Incomplete(_) | Error::Read { .. } | Error::Ops { .. } | Error::Output(_) => Failure::Azure,
        }
    }
}

fn ops(what: impl Into<String>) -> impl FnOnce(OpsError) -> Error {
    let what = what.into();
    move |e| match e {
        OpsError::Arm(ref a) if a.status() == Some(404) => Error::BadInput(format!("{what}: no such service (404)")),
        e => Error::Ops { what, source: Box::new(e) },
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// Where a copy comes from.
pub enum Source {
    /// A live service: read, never written.
    Service(ResourceId),
    /// A snapshot file (`apim-diff --inventory`): no secrets, which become gaps.
    Snapshot(Snapshot),
}

/// The same instance on both sides (ids compare without case, as ARM's do).
fn same(a: &ResourceId, b: &ResourceId) -> bool {
    a.to_string().eq_ignore_ascii_case(&b.to_string())
}

/// The target must exist and be still: a copy onto a service that is
/// being updated (a restore, a scale) would race it. Its body, if so.
pub(crate) async fn check_target(arm: &ArmClient, target: &ResourceId) -> Result<serde_json::Value> {
    let name = target.name().unwrap_or_default().to_string();
    let Some(svc) = apim_ops::get_service(arm, target)
        .await
        .map_err(ops(format!("the target {name}")))?
    else {
        return Err(Error::BadInput(format!(
            "the target {name} does not exist; create it first (apim-provision service)"
        )));
    };
    let state = svc.pointer("/properties/provisioningState").and_then(|v| v.as_str()).unwrap_or("");
    if state.eq_ignore_ascii_case("Updating") {
        return Err(Error::Refused(format!(
            "the target {name} is Updating (a restore, a scale or a setting is being applied); copy once it is Succeeded"
        )));
    }
    Ok(svc)
}

pub(crate) fn same_instance(source: &ResourceId, target: &ResourceId) -> Result<()> {
    if same(source, target) {
        return Err(Error::Refused(format!(
            "the source and the target are the same instance ({}); a copy needs two",
            target.name().unwrap_or_default()
        )));
    }
    Ok(())
}

/// Reads the source (unless it is a snapshot) and the target, `parallel`
/// reads at a time each, and plans the copy; then takes the target's ETag
/// of each entity to update or delete, so apply writes only over what was
/// seen (the source's ETag of each secret came with its value).
pub async fn plan(arm: &ArmClient, source: Source, target: &ResourceId, opts: &Options, parallel: usize) -> Result<Planned> {
    if let Source::Service(s) = &source {
        same_instance(s, target)?;
        let name = s.name().unwrap_or_default().to_string();
        if apim_ops::get_service(arm, s)
            .await
            .map_err(ops(format!("the source {name}")))?
            .is_none()
        {
            return Err(Error::BadInput(format!("the source {name} does not exist")));
        }
    }
    check_target(arm, target).await?;
    let read = |id: ResourceId| async move {
        apim_inventory::read(arm, &id, parallel).await.map_err(|source| Error::Read {
            what: id.name().unwrap_or_default().to_string(),
            source,
        })
    };
    let (src, source_id, dst) = match source {
        Source::Service(id) => {
            let (s, t) = futures::try_join!(read(id.clone()), read(target.clone()))?;
            (s, Some(id), t)
        }
        Source::Snapshot(s) => (s, None, read(target.clone()).await?),
    };
    let mut planned = plan::plan(&src, &dst, source_id.as_ref(), target, opts);
    // The target's ETags, taken after the read: a write is made only over
    // what was seen. (The source's, for its secrets, came with them.)
    let etags = futures::stream::iter(
        planned
            .changes
            .iter()
            .enumerate()
            .filter(|(_, c)| c.action != SyncAction::Create)
            .map(|(i, c)| async move {
                let now = apim_ops::get_entity(arm, &c.target_id, &c.target_path)
                    .await
                    .map_err(ops(format!("reading {}", c.path)))?;
                Ok::<_, Error>((i, now.map(|(_, e)| e)))
            }),
    )
    .buffer_unordered(parallel.max(1))
    .try_collect::<Vec<_>>()
    .await?;
    for (i, e) in etags {
        planned.changes[i].etag = e;
    }
    Ok(planned)
}
