//! Which backup blobs retention deletes ([`plan`], pure), and deleting them
//! ([`prune`]).

use apim_documents::{PrunedDoc, StorageRef};
use blob_store::{BlobClient, BlobError, BlobProperties};
use std::time::Duration;

/// How many backups to keep, and how old they may grow. The newest
/// restorable backup is always kept.
#[derive(Debug, Clone, Default)]
pub struct Retention {
    /// Keep this many of the newest; older ones go.
    pub keep: Option<usize>,
    /// Delete backups older than this; among the `keep` newest only when
    /// `age_beats_keep` says so (a count is a promise, not a default).
    pub max_age: Option<Duration>,
    pub age_beats_keep: bool,
    /// Say what would be deleted; delete nothing.
    pub dry_run: bool,
}

/// What a prune did (or, with `dry_run`, would do).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Pruned {
    pub deleted: usize,
    pub kept: usize,
    /// Older than `max_age` but kept as one of the `keep` newest.
    pub held_by_keep: Vec<String>,
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
) -> Result<Pruned, PruneError> {
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
    let p = plan(&candidates, retention, now).map_err(PruneError::Refused)?;
    let mut out = Pruned {
        deleted: p.delete.len(),
        kept: candidates.len() - p.delete.len(),
        held_by_keep: p.held_by_keep,
    };
    for (name, reason) in p.delete {
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
    out.held_by_keep.sort();
    Ok(out)
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

/// What retention decided: the blobs to delete with the reason, newest
/// first, and those kept by the count though older than the age.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Plan {
    pub delete: Vec<(String, String)>,
    pub held_by_keep: Vec<String>,
}

/// `30 days`, `12 hours`, `90 seconds`: an age as a person reads it.
pub fn fmt_age(d: Duration) -> String {
    let s = d.as_secs();
    let (n, unit) = match s {
        s if s >= 86400 && s % 86400 == 0 => (s / 86400, "day"),
        s if s >= 3600 && s % 3600 == 0 => (s / 3600, "hour"),
        s if s >= 60 && s % 60 == 0 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// The plan for `blobs`. `Err` when the newest backup did not succeed:
/// then the last good one is all there is.
pub fn plan(blobs: &[Candidate], r: &Retention, now: i64) -> Result<Plan, String> {
    let mut sorted: Vec<&Candidate> = blobs.iter().collect();
    sorted.sort_by(|a, b| b.modified.cmp(&a.modified).then_with(|| b.name.cmp(&a.name)));
    let Some(newest) = sorted.first() else { return Ok(Plan::default()) };
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
    let mut out = Plan::default();
    for (i, c) in sorted.iter().enumerate() {
        if Some(&c.name) == protected.as_ref() {
            continue;
        }
        let old = r.max_age.filter(|m| age(c) > *m).map(|m| format!("older than {}", fmt_age(m)));
        let reason = match (r.keep, old) {
            (Some(k), _) if i >= k => Some(format!("beyond the {k} newest")),
            (Some(k), Some(old)) if r.age_beats_keep => Some(format!("{old}, though one of the {k} newest")),
            (Some(_), Some(_)) => {
                out.held_by_keep.push(c.name.clone());
                None
            }
            (_, old) => old,
        };
        if let Some(reason) = reason {
            out.delete.push((c.name.clone(), reason));
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

    fn keep(n: usize) -> Retention {
        Retention {
            keep: Some(n),
            ..Default::default()
        }
    }

    fn names(p: &Plan) -> Vec<&str> {
        p.delete.iter().map(|(n, _)| n.as_str()).collect()
    }

    #[test]
    fn keeps_the_n_newest() {
        let blobs = [c("a", 1, true), c("b", 2, true), c("c", 3, true), c("d", 4, true)];
        assert_eq!(names(&plan(&blobs, &keep(2), NOW).unwrap()), ["c", "d"]);
    }

    #[test]
    fn max_age_deletes_old_ones_but_never_the_newest_restorable() {
        let blobs = [c("new", 10, true), c("old", 40, true)];
        let r = Retention {
            max_age: Some(Duration::from_secs(7 * DAY as u64)),
            ..Default::default()
        };
        assert_eq!(
            plan(&blobs, &r, NOW).unwrap().delete,
            vec![("old".to_string(), "older than 7 days".to_string())],
            "'new' is the newest restorable one"
        );
    }

    #[test]
    fn the_keep_count_is_never_overridden_by_age_unless_asked() {
        // `--keep 5 --max-age 30s`, 30 meant as days: nothing among the five goes.
        let blobs = [
            c("a", 1, true),
            c("b", 2, true),
            c("c", 3, true),
            c("d", 4, true),
            c("e", 5, true),
            c("f", 6, true),
        ];
        let mut r = Retention {
            keep: Some(5),
            max_age: Some(Duration::from_secs(30)),
            ..Default::default()
        };
        let p = plan(&blobs, &r, NOW).unwrap();
        assert_eq!(names(&p), ["f"], "only beyond the five newest");
        assert_eq!(
            p.held_by_keep,
            ["b", "c", "d", "e"],
            "old, kept by the count (a is the protected newest)"
        );
        r.age_beats_keep = true;
        let p = plan(&blobs, &r, NOW).unwrap();
        assert_eq!(names(&p), ["b", "c", "d", "e", "f"]);
        assert_eq!(p.delete[0].1, "older than 30 seconds, though one of the 5 newest");
    }

    #[test]
    fn keep_zero_still_keeps_the_newest_restorable() {
        let blobs = [c("a", 1, true), c("b", 2, true)];
        assert_eq!(names(&plan(&blobs, &keep(0), NOW).unwrap()), ["b"]);
    }

    #[test]
    fn refuses_when_the_newest_did_not_succeed() {
        let blobs = [c("failed", 0, false), c("good", 1, true)];
        let e = plan(&blobs, &keep(1), NOW).unwrap_err();
        assert!(e.contains("'failed' did not succeed"));
    }

    #[test]
    fn failed_older_ones_are_not_the_protected_one() {
        let blobs = [c("a", 1, true), c("b", 2, false), c("c", 3, true)];
        assert_eq!(names(&plan(&blobs, &keep(1), NOW).unwrap()), ["b", "c"]);
    }

    #[test]
    fn nothing_to_do() {
        assert_eq!(plan(&[], &keep(3), NOW).unwrap(), Plan::default());
    }

    #[test]
    fn ages_read_as_people_write_them() {
        assert_eq!(fmt_age(Duration::from_secs(30 * 86400)), "30 days");
        assert_eq!(fmt_age(Duration::from_secs(86400)), "1 day");
        assert_eq!(fmt_age(Duration::from_secs(7200)), "2 hours");
        assert_eq!(fmt_age(Duration::from_secs(30)), "30 seconds");
    }
}
