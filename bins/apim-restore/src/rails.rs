//! The safety rails and pre-flight checks of a restore. Pure: the caller
//! gathers the facts, this decides.

use time::OffsetDateTime;

pub const MAX_AGE_DAYS: i64 = 30;
pub const WARN_AGE_DAYS: i64 = 25;

/// What is known about the target's own backup.
#[derive(Debug, Clone, PartialEq)]
pub enum Safety {
    /// A succeeded backup of the target whose blob still exists.
    Proven,
    /// --safety-backup was given but does not prove it; why.
    Unproven(String),
    /// --take-safety-backup: one will be taken before the restore.
    WillTake,
    /// --no-safety-backup.
    Waived,
    /// None of the three flags.
    Missing,
}

#[derive(Debug, Clone)]
pub struct Facts {
    pub source_id: String,
    pub source_sku: String,
    pub target_id: String,
    pub target_sku: String,
    pub target_state: String,
    pub backup_blob: String,
    pub backup_etag: String,
    /// The blob's ETag now; `None` when it is gone.
    pub blob_etag_now: Option<String>,
    /// Whether the blob carries apim-backup's success mark.
    pub blob_marked: bool,
    /// The service id recorded in the blob when it was marked (`None` for
    /// blobs marked by an older apim-backup): what the backup really is of.
    pub recorded_source_id: Option<String>,
    /// When the blob says the backup completed (recorded, or Last-Modified);
    /// never the document's claim.
    pub backup_completed: Option<OffsetDateTime>,
    pub safety: Safety,
    pub now: OffsetDateTime,
}

#[derive(Debug, Default, Clone, Copy)]
pub struct Overrides {
    pub allow_same_instance: bool,
}

#[derive(Debug, Default, PartialEq)]
pub struct Verdict {
    /// Each a sentence that names the flag overriding it, where one does.
    pub refusals: Vec<String>,
    pub warnings: Vec<String>,
}

/// How far in the future a recorded time may lie (clock skew) before it is
/// a lie.
const SKEW: time::Duration = time::Duration::minutes(5);

pub fn check(f: &Facts, o: Overrides) -> Verdict {
    let mut v = Verdict::default();
    // The blob says what it is a backup of; the document only claims it.
    let source_id = match &f.recorded_source_id {
        Some(recorded) if !recorded.eq_ignore_ascii_case(&f.source_id) => {
            v.refusals.push(format!(
                "the backup blob '{}' is a backup of {recorded}, not of {} as the document says; use the document apim-backup wrote for it",
                f.backup_blob, f.source_id
            ));
            recorded
        }
        Some(recorded) => recorded,
        None => {
            if f.blob_marked {
                v.warnings.push(format!(
                    "the backup blob '{}' does not record its service (marked by an older apim-backup); trusting the document",
                    f.backup_blob
                ));
            }
            &f.source_id
        }
    };
    if source_id.eq_ignore_ascii_case(&f.target_id) && !o.allow_same_instance {
        v.refusals.push(format!(
            "the target {} is the backup's own source; pass --allow-same-instance if this is a rollback",
            f.target_id
        ));
    }
    if f.blob_etag_now.is_some() && !f.blob_marked {
        v.refusals.push(format!(
            "the backup blob '{}' has no success mark (apim-backup never verified it); back up again",
            f.backup_blob
        ));
    }
    match &f.safety {
        Safety::Proven | Safety::WillTake | Safety::Waived => {}
        Safety::Unproven(why) => v.refusals.push(format!("--safety-backup does not prove the target is backed up: {why}; pass a current one, --take-safety-backup or --no-safety-backup")),
        Safety::Missing => v.refusals.push(
            "no proof that the target itself is backed up (its backup is the way back if source and target were mixed up); pass --safety-backup FILE, --take-safety-backup or --no-safety-backup".into(),
        ),
    }
    match &f.blob_etag_now {
        None => v.refusals.push(format!("the backup blob '{}' no longer exists", f.backup_blob)),
        Some(now) if now != &f.backup_etag => v.refusals.push(format!(
            "the backup blob '{}' changed since the backup (ETag {} is now {}); back up again",
            f.backup_blob, f.backup_etag, now
        )),
        Some(_) => {}
    }
    for (what, sku) in [("target", &f.target_sku), ("source", &f.source_sku)] {
        if !apim_rules::can_back_up(sku) {
            v.refusals
                .push(format!("the {what} is in the {sku} tier, which cannot be backed up or restored"));
        }
    }
    if !f.source_sku.eq_ignore_ascii_case(&f.target_sku) {
        v.refusals.push(format!(
            "the target's SKU {} differs from the backup's source SKU {}; restore needs the same tier",
            f.target_sku, f.source_sku
        ));
    }
    if !f.target_state.eq_ignore_ascii_case("Succeeded") {
        v.refusals.push(format!(
            "the target is {} (not Succeeded); wait until its current operation ends",
            f.target_state
        ));
    }
    match f.backup_completed {
        Some(done) if done > f.now + SKEW => v.refusals.push(format!(
            "the backup claims to have completed in the future ({done}); it cannot be trusted"
        )),
        Some(done) => {
            let age = f.now - done;
            let days = age.whole_days();
            if age > time::Duration::days(MAX_AGE_DAYS) {
                v.refusals.push(format!(
                    "the backup is {days} days old; Azure restores backups up to {MAX_AGE_DAYS} days old"
                ));
            } else if days >= WARN_AGE_DAYS {
                v.warnings.push(format!(
                    "the backup is {days} days old; it cannot be restored after {MAX_AGE_DAYS} days"
                ));
            }
        }
        None => v.refusals.push("the backup blob records no completion time".into()),
    }
    v
}

/// What a backup never carries, to redo on the target after a restore: the
/// families registry's list, so the document, the README and the diff
/// cannot drift.
pub use apim_families::NOT_IN_BACKUP as NOT_RESTORED;

/// What the target holds that the backup's source does not: what a restore
/// would take from it. Counts of entities, and a few paths to show.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Loss {
    pub source_total: usize,
    pub target_total: usize,
    pub lost: Vec<String>,
}

/// A mix-up of source and target shows as a restore that takes most of
/// what the target holds: refused (exit 3) when it would take everything
/// unless allowed, a loud warning when it would take most. Pure.
pub fn judge_loss(l: &Loss, allow_emptying: bool) -> (Option<String>, Option<String>) {
    let shown = l.lost.iter().take(5).cloned().collect::<Vec<_>>().join(", ");
    if l.target_total > 0 && l.source_total == 0 {
        let refusal = format!(
            "the backup's source holds no configuration and the target holds {} entities ({shown}…): restoring would empty the target (source and target mixed up?)",
            l.target_total
        );
        return if allow_emptying {
            (None, Some(refusal))
        } else {
            (Some(refusal), None)
        };
    }
    if l.target_total > 0 && l.lost.len() * 2 > l.target_total {
        return (
            None,
            Some(format!(
                "the target would lose {} of its {} entities, e.g. {shown} (is this the right source and target?)",
                l.lost.len(),
                l.target_total
            )),
        );
    }
    (None, None)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restore_that_would_empty_the_target_is_refused_and_one_that_takes_most_is_called_out() {
        let loss = |source_total, target_total, lost: usize| Loss {
            source_total,
            target_total,
            lost: (0..lost).map(|i| format!("apis/a{i}")).collect(),
        };
        let (refused, _) = judge_loss(&loss(0, 40, 40), false);
        assert!(refused.unwrap().contains("restoring would empty the target"));
        let (refused, warned) = judge_loss(&loss(0, 40, 40), true);
        assert!(refused.is_none() && warned.is_some(), "allowed: still said");
        let (refused, warned) = judge_loss(&loss(10, 40, 30), false);
        assert!(refused.is_none());
        assert!(warned.unwrap().contains("would lose 30 of its 40"));
        assert_eq!(judge_loss(&loss(40, 40, 3), false), (None, None), "a copy onto its like");
        assert_eq!(judge_loss(&loss(10, 0, 0), false), (None, None), "a fresh target");
    }
    use time::Duration;

    fn facts() -> Facts {
        let now = time::macros::datetime!(2026-11-27 10:00 UTC);
        Facts {
            source_id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim-src".into(),
            source_sku: "Developer".into(),
            target_id: "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim-dest".into(),
            target_sku: "Developer".into(),
            target_state: "Succeeded".into(),
            backup_blob: "apim-src-1.apimbackup".into(),
            backup_etag: "\"0x1\"".into(),
            blob_etag_now: Some("\"0x1\"".into()),
            blob_marked: true,
            recorded_source_id: Some("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim-src".into()),
            backup_completed: Some(now - Duration::hours(2)),
            safety: Safety::Proven,
            now,
        }
    }

    #[test]
    fn a_good_restore_passes() {
        assert_eq!(check(&facts(), Overrides::default()), Verdict::default());
    }

    #[test]
    fn the_blob_not_the_document_says_what_it_is() {
        // A document edited to claim another source: refused.
        let mut f = facts();
        f.source_id = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/other".into();
        let r = check(&f, Overrides::default()).refusals;
        assert!(r.iter().any(|r| r.contains("is a backup of") && r.contains("apim-src")), "{r:?}");
        // The same-instance rail uses the recorded source even then.
        f.target_id = f.recorded_source_id.clone().unwrap();
        let r = check(&f, Overrides::default()).refusals;
        assert!(r.iter().any(|r| r.contains("--allow-same-instance")), "{r:?}");
        // Not marked: refused; in the future: refused.
        let mut f = facts();
        f.blob_marked = false;
        assert!(check(&f, Overrides::default()).refusals[0].contains("no success mark"));
        let mut f = facts();
        f.backup_completed = Some(f.now + Duration::days(2));
        assert!(check(&f, Overrides::default()).refusals[0].contains("in the future"));
        // An older blob without a recorded service: trusted, with a warning.
        let mut f = facts();
        f.recorded_source_id = None;
        let v = check(&f, Overrides::default());
        assert!(v.refusals.is_empty() && v.warnings[0].contains("older apim-backup"));
    }

    #[test]
    fn same_instance_needs_the_flag() {
        let mut f = facts();
        f.target_id = f.source_id.to_uppercase();
        let v = check(&f, Overrides::default());
        assert_eq!(v.refusals.len(), 1);
        assert!(v.refusals[0].contains("--allow-same-instance"));
        assert!(check(&f, Overrides { allow_same_instance: true }).refusals.is_empty());
    }

    #[test]
    fn safety_backup_rail_names_its_three_ways_out() {
        let mut f = facts();
        f.safety = Safety::Missing;
        let r = &check(&f, Overrides::default()).refusals[0];
        for flag in ["--safety-backup", "--take-safety-backup", "--no-safety-backup"] {
            assert!(r.contains(flag), "{r}");
        }
        f.safety = Safety::Unproven("its blob is gone".into());
        assert!(check(&f, Overrides::default()).refusals[0].contains("its blob is gone"));
        for ok in [Safety::WillTake, Safety::Waived] {
            f.safety = ok;
            assert!(check(&f, Overrides::default()).refusals.is_empty());
        }
    }

    #[test]
    fn blob_gone_or_changed() {
        let mut f = facts();
        f.blob_etag_now = None;
        assert!(check(&f, Overrides::default()).refusals[0].contains("no longer exists"));
        f.blob_etag_now = Some("\"0x2\"".into());
        assert!(check(&f, Overrides::default()).refusals[0].contains("changed since the backup"));
    }

    #[test]
    fn preflight_sku_tier_state_age() {
        let mut f = facts();
        f.target_sku = "Premium".into();
        assert!(check(&f, Overrides::default()).refusals[0].contains("SKU Premium differs"));
        let mut f = facts();
        f.source_sku = "Consumption".into();
        f.target_sku = "Consumption".into();
        assert!(check(&f, Overrides::default())
            .refusals
            .iter()
            .any(|r| r.contains("Consumption tier")));
        let mut f = facts();
        f.target_state = "Updating".into();
        assert!(check(&f, Overrides::default()).refusals[0].contains("Updating"));
        let mut f = facts();
        f.backup_completed = Some(f.now - Duration::days(31));
        assert!(check(&f, Overrides::default()).refusals[0].contains("31 days old"));
        f.backup_completed = Some(f.now - Duration::days(26));
        let v = check(&f, Overrides::default());
        assert!(v.refusals.is_empty());
        assert!(v.warnings[0].contains("26 days old"));
    }
}
