//! Which backup blobs retention deletes. Pure: the caller lists and deletes.

use std::time::Duration;

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
