//! A side of a comparison or a copy as a file gives it: a live service
//! (an apim.service document) or a snapshot (`apim-diff --inventory`).

use crate::usage;
use apim_documents::{EntityDoc, ServiceDoc};
use apim_inventory::Snapshot;
use std::path::Path;

/// One side as given.
pub enum Side {
    /// A service to read.
    Service(Box<ServiceDoc>),
    /// A snapshot read from a file (it holds no secret values).
    Snapshot(Snapshot),
}

/// Reads `path` (`-` is stdin) as a side; `what` names it in errors.
pub fn read_side(path: &Path, what: &str) -> anyhow::Result<Side> {
    let docs = if path == Path::new("-") {
        apim_documents::read_stdin_documents()?
    } else {
        apim_documents::read_file_documents(path, what)?
    };
    let source = format!("{what} {}", path.display());
    match docs.first().map(apim_documents::kind_of) {
        Some("apim.service") => Ok(Side::Service(Box::new(apim_documents::expect_one(&docs, &source)?))),
        Some("apim.entity") => {
            let entities: Vec<EntityDoc> = apim_documents::expect_all(&docs, &source)?;
            let snap = Snapshot::from_documents(entities).map_err(|path| {
                usage(format!(
                    "{source}: the path '{path}' is in it twice; a snapshot holds each entity once"
                ))
            })?;
            Ok(Side::Snapshot(snap))
        }
        Some(k) => Err(usage(format!(
            "{source}: a '{k}' document; give an apim.service document or a snapshot file (apim-diff --inventory)"
        ))),
        None => Err(usage(format!(
            "{source}: no documents; give an apim.service document or a snapshot file (apim-diff --inventory)"
        ))),
    }
}
