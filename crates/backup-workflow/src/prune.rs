//! Which backup blobs retention deletes ([`plan`], pure), and deleting them
//! ([`prune`]).

use apim_documents::{PrunedDoc, StorageRef};
use blob_store::{BlobClient, BlobError, BlobProperties};
use std::time::Duration;

/// How many backups to keep, and how old they may grow.
#[derive(Debug, Clone)]
pub struct Retention {
    pub keep: usize,
    pub max_age: Option<Duration>,
    /// Say what would be deleted; delete nothing.
    pub dry_run: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum PruneError {
    /// Retention refuses to run (the newest backup did not succeed).
    #[error("{0}")]
    Refused(String),
    #[error("deleting {blob}")]
    Delete {
        blob: String,
        #[source]
        source: BlobError,
    },
    #[error(transparent)]
    Blob(#[from] BlobError),
    /// Printing a result failed (a closed pipe).
    #[error(transparent)]
    Output(std::io::Error),
}

/// Deletes the backups of the service named `service` that `retention`
/// lets go, handing each to `done` as it goes. Only that service's backups
/// count (by the service id its blob records, or, for older blobs, its
/// exact default name), and only the version looked at is deleted: a blob
/// rewritten meanwhile stays.
pub async fn prune(
    blobs: &BlobClient,
    storage: &StorageRef,
    service: &str,
    retention: &Retention,
    now: i64,
    mut done: impl FnMut(&PrunedDoc) -> std::io::Result<()>,
) -> Result<(), PruneError> {
    let listed = blobs.list(&storage.container, &format!("{service}-")).await?;
    // Listings do not carry metadata everywhere (Azurite leaves it out), so
    // each backup's own properties are read: there are few of them.
    let mut mine: Vec<BlobProperties> = Vec::new();
    for b in listed.iter().filter(|b| b.name.ends_with(".apimbackup")) {
        if let Some(props) = blobs.properties(&storage.container, &b.name).await? {
            if crate::is_backup_of(&props, service) {
                mine.push(props);
            }
        }
    }
    let candidates: Vec<Candidate> = mine
        .iter()
        .map(|b| Candidate {
            name: b.name.clone(),
            modified: b.modified_unix().unwrap_or(0),
            succeeded: crate::is_marked(b),
        })
        .collect();
    for (name, reason) in plan(&candidates, retention.keep, retention.max_age, now).map_err(PruneError::Refused)? {
        let Some(b) = mine.iter().find(|b| b.name == name) else { continue };
        if !retention.dry_run {
            blobs
                .delete_blob(&storage.container, &name, Some(&b.etag))
                .await
                .map_err(|source| PruneError::Delete {
                    blob: name.clone(),
                    source,
                })?;
        }
        done(&PrunedDoc {
            service: service.to_string(),
            storage: storage.clone(),
            blob: name,
            etag: b.etag.clone(),
            last_modified: b.last_modified.clone(),
            size: b.size,
            reason,
            dry_run: retention.dry_run,
        })
        .map_err(PruneError::Output)?;
    }
    Ok(())
}

/// What retention needs to know of one blob.
#[derive(Debug, Clone, PartialEq)]
pub struct Candidate {
    pub name: String,
    /// Seconds since the Unix epoch.
    pub modified: i64,
    /// Marked by apim-backup after the backup succeeded.
    pub succeeded: bool,
}

/// A backup older than this cannot be restored.
pub const RESTORABLE_FOR: Duration = Duration::from_secs(30 * 24 * 3600);

/// The blobs to delete, each with the reason, newest first. `Err` when the
/// newest backup did not succeed: then the last good one is all there is.
pub fn plan(blobs: &[Candidate], keep: usize, max_age: Option<Duration>, now: i64) -> Result<Vec<(String, String)>, String> {
    let mut sorted: Vec<&Candidate> = blobs.iter().collect();
    sorted.sort_by(|a, b| b.modified.cmp(&a.modified).then_with(|| b.name.cmp(&a.name)));
    let Some(newest) = sorted.first() else { return Ok(Vec::new()) };
    if !newest.succeeded {
        return Err(format!(
            "the newest backup '{}' did not succeed (it has no success mark); nothing is pruned until a backup succeeds",
            newest.name
        ));
    }
    let age = |c: &Candidate| Duration::from_secs((now - c.modified).max(0) as u64);
    let protected = sorted
        .iter()
        .find(|c| c.succeeded && age(c) < RESTORABLE_FOR)
        .map(|c| c.name.clone());
    let mut out = Vec::new();
    for (i, c) in sorted.iter().enumerate() {
        if Some(&c.name) == protected.as_ref() {
            continue;
        }
        let reason = if i >= keep {
            Some(format!("beyond the {keep} newest"))
        } else {
            max_age
                .filter(|m| age(c) > *m)
                .map(|m| format!("older than {} days", m.as_secs() / 86400))
        };
        if let Some(r) = reason {
            out.push((c.name.clone(), r));
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86400;
    const NOW: i64 = 100 * DAY;

    fn c(name: &str, days_ago: i64, ok: bool) -> Candidate {
        Candidate {
            name: name.into(),
            modified: NOW - days_ago * DAY,
            succeeded: ok,
        }
    }

    #[test]
    fn keeps_the_n_newest() {
        let blobs = [c("a", 1, true), c("b", 2, true), c("c", 3, true), c("d", 4, true)];
        let p = plan(&blobs, 2, None, NOW).unwrap();
        assert_eq!(p.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["c", "d"]);
    }

    #[test]
    fn max_age_deletes_old_ones_but_never_the_newest_restorable() {
        let blobs = [c("new", 10, true), c("old", 40, true)];
        let p = plan(&blobs, 5, Some(Duration::from_secs(7 * DAY as u64)), NOW).unwrap();
        assert_eq!(
            p,
            vec![("old".to_string(), "older than 7 days".to_string())],
            "'new' is the newest restorable one"
        );
    }

    #[test]
    fn keep_zero_still_keeps_the_newest_restorable() {
        let blobs = [c("a", 1, true), c("b", 2, true)];
        let p = plan(&blobs, 0, None, NOW).unwrap();
        assert_eq!(p.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["b"]);
    }

    #[test]
    fn refuses_when_the_newest_did_not_succeed() {
        let blobs = [c("failed", 0, false), c("good", 1, true)];
        let e = plan(&blobs, 1, None, NOW).unwrap_err();
        assert!(e.contains("'failed' did not succeed"));
    }

    #[test]
    fn failed_older_ones_are_not_the_protected_one() {
        let blobs = [c("a", 1, true), c("b", 2, false), c("c", 3, true)];
        let p = plan(&blobs, 1, None, NOW).unwrap();
        assert_eq!(p.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(), ["b", "c"]);
    }

    #[test]
    fn nothing_to_do() {
        assert_eq!(plan(&[], 3, None, NOW).unwrap(), vec![]);
    }
}
