//! What `--help` (and the man pages made from it) says after the flags:
//! examples, what the rails check, and the exit codes. Written once here,
//! the crate that knows the binaries and their flags.

pub const PROVISION: &str = "Examples:
  apim-provision service -g apim-rg --create-group -l westeurope --name apim-src --name apim-dest \\
      --publisher-email ops@example.com --publisher-name Ops > services.ndjson
  apim-provision storage -g apim-rg -l westeurope --account apimbackups --container apim-backups > store.json
  apim-provision list --tag env=prod
  apim-provision delete --backups backups.ndjson < src.json

Rails: an existing service is never changed without --update, nor downgraded without --allow-downgrade; a name \
held by a soft-deleted service needs --recover or --purge; delete needs a recent backup of each service proven by \
its blob (--backups, --max-backup-age) and refuses a service another operation runs on; a purge asks that rail again \
right before it, resumed or not.

Exit codes: 0 done; 1 Azure (or the network) said no; 2 bad input or flags (nothing was changed); 3 refused by a \
safety rail; 4 stopped waiting (timeout, Ctrl-C): the operation goes on in Azure and the apim.operation document \
printed on stdout resumes it (--resume).";

pub const BACKUP: &str = "Examples:
  apim-backup --storage store.json < services.ndjson > backups.ndjson
  apim-provision list --tag env=prod | apim-backup --storage store.json --no-wait > ops.ndjson
  apim-backup --resume < ops.ndjson >> backups.ndjson
  apim-backup prune --storage store.json --name apim-src --keep 5 --dry-run

Rails: refuses storage open to the world (public blob access, plain http, TLS below 1.2) unless \
--allow-insecure-storage; before anything starts, refuses what Azure would (a CORS rule on the blob service, a \
firewall the access type cannot pass, shared keys off with an access key, a managed identity without a blob data \
role: --skip-role-check for a custom role); never replaces a blob without --overwrite; refuses a service another \
operation runs on. In a fleet (several services on stdin) a tier without backup (Consumption, v2) is skipped and one service's failure \
does not stop the others; the run ends non-zero saying how many failed. A backup counts only once its blob is found \
and marked with the service it is of.

Exit codes: 0 done; 1 Azure (or the network) said no; 2 bad input or flags (nothing was changed); 3 refused by a \
safety rail; 4 stopped waiting (timeout, Ctrl-C): the operation goes on in Azure and the apim.operation document \
printed on stdout resumes it (--resume).";

pub const RESTORE: &str = "Examples:
  grep '\"apim-src\"' backups.ndjson | apim-restore --target dest.json --safety-backup backups.ndjson --dry-run
  grep '\"apim-src\"' backups.ndjson | apim-restore --target dest.json --safety-backup backups.ndjson
  apim-restore --target dest.json --take-safety-backup < backup-src.json

Rails: never onto the backup's own source (--allow-same-instance for a rollback); only with proof that the target \
is backed up (--safety-backup FILE, younger than --max-backup-age; --take-safety-backup; or --no-safety-backup); the \
blob must exist unchanged, marked by apim-backup as a backup of the service its document names; the tiers must allow \
it (same SKU, no Consumption or v2); the storage must be one Azure will use (as apim-backup checks it); the target \
must have the identities the source's Key Vault named values read with. --dry-run checks all of it and starts \
nothing. Once the restore has ended, the target's Key Vault named values are refreshed (--no-refresh skips it): \
exit 1, the restore done, when one cannot read its vault.

Exit codes: 0 done; 1 Azure (or the network) said no; 2 bad input or flags (nothing was changed); 3 refused by a \
safety rail; 4 stopped waiting (timeout, Ctrl-C): the operation goes on in Azure and the apim.operation document \
printed on stdout resumes it (--resume).";

pub const NAMEDVALUES: &str = "Examples:
  apim-namedvalues list --service dest.json \\
    | apim-namedvalues rewrite --host api.src.example.com=api.dest.example.com > plan.ndjson
  apim-namedvalues apply --dry-run < plan.ndjson
  apim-namedvalues apply < plan.ndjson
  apim-namedvalues diff src.json dest.json

Rails: a plan never holds a secret's value; apply writes a change only while the named value's ETag is the plan's \
(one changed since is a conflict, never overwritten); a rule that matches nothing is refused (a typo?) unless \
--allow-unmatched; import never overwrites a named value that exists with another value.

Exit codes: 0 done; 1 Azure said no, or changes conflicted; 2 bad input or flags (nothing was changed); 3 refused \
(values changed since they were listed); 4 stopped before every change was written; diff: 1 they differ, 5 a side \
could not be read.";

pub const DIFF: &str = "Examples:
  apim-diff --expect-host api.src.example.com=api.dest.example.com src.json dest.json
  apim-diff --scan-host api.src.example.com dest.json
  apim-diff --inventory src.json > src.snapshot.ndjson

Secret values are compared and scanned in the process and never shown; a snapshot holds none.

Exit codes: 0 equal (or the host is used nowhere); 1 they differ (or the host is still used); 2 bad input or \
flags; 5 a side could not be read.";

pub const SYNC: &str = "Examples:
  apim-sync plan --source src.json --target dest.json --host api.src.example.com=api.dest.example.com > plan.ndjson
  apim-sync apply < plan.ndjson > applied.ndjson
  apim-diff --expect-host api.src.example.com=api.dest.example.com src.json dest.json

The source is only read (no freeze; any tier, v2 and Consumption included). A plan never holds a secret's value: \
apply reads each secret from the source when it writes it, only if the source is as planned. Each write is made \
only if the target is as planned (If-Match; If-None-Match for a create); a write that finds its own result counts as \
applied, so plan and apply again converge after any stop. What cannot be copied (an uploaded certificate's private \
key, users' passwords) is an apim.sync.gap document saying what to do instead.

Rails: deletes only with --delete-extra (plan) and --allow-deletes (apply); the same instance on both sides, or a \
target that is Updating, is refused.

Exit codes: 0 done; 1 Azure said no; 2 bad input or flags (nothing was changed); 3 refused by a rail, or entities \
changed since the plan were left alone; 4 stopped before every change was written (plan and apply again).";

/// Per subcommand: `apim-provision service`, and so on.
pub mod sub {
    const CHANGES: &str = "Exit codes: 0 done; 1 Azure said no; 2 bad input or flags (nothing was changed); 3 refused by a safety rail; 4 stopped waiting (resume with --resume).";
    const READS: &str = "Exit codes: 0 done; 1 Azure said no; 2 bad input or flags.";

    pub const SERVICE: &str = "Examples:
  apim-provision service -g apim-rg --create-group -l westeurope --name apim-src \\
      --publisher-email ops@example.com --publisher-name Ops > src.json
  apim-provision service --update --sku Premium --capacity 2 < src.json
  apim-provision service --like src.json -g apim-rg -n apim-dest --host api.src.example.com=api.dest.example.com --grant-roles

Rails: what exists is returned as it is unless --update; a lower SKU or fewer units also needs --allow-downgrade; a name \
held by a soft-deleted service needs --recover (undelete) or --purge. --like shows, as apim.service.setting documents, \
what a backup never carries and the target has otherwise (custom hostnames with their Key Vault certificates, \
protocols and ciphers, identities, API version constraint, diagnostic settings; with --grant-roles the roles of the \
source's identity) and changes it only with --update.";
    pub const STORAGE: &str = "Examples:
  apim-provision storage -g apim-rg -l westeurope --account apimbackups --container apim-backups > store.json

Creates a StorageV2 account (https only, TLS 1.2, no public blob access: backups hold every secret) unless it exists, \
then the container.";
    pub const GET: &str = "Examples:
  apim-provision get -g apim-rg -n apim-src > src.json
  apim-provision get --service-id /subscriptions/…/resourceGroups/apim-rg/providers/Microsoft.ApiManagement/service/apim-src";
    pub const LIST: &str = "Examples:
  apim-provision list --tag env=prod | apim-backup --storage store.json --no-wait > ops.ndjson
  apim-provision list -g apim-rg";
    pub const DELETE: &str = "Examples:
  apim-provision delete --backups backups.ndjson < src.json
  apim-provision delete --purge --backups backups.ndjson --service-id /subscriptions/…/service/apim-old
  apim-provision delete --resume --backups backups.ndjson < ops.ndjson

Rails: each service needs a succeeded backup among --backups whose blob exists unchanged, is marked as a backup of \
that service and is younger than --max-backup-age (or --no-backup-check); a service another operation runs on is not \
deleted; a purge (no undelete after it) asks that rail again right before it, resumed or not.";
    pub const PRUNE: &str = "Examples:
  apim-backup prune --storage store.json --name apim-src --keep 5 --dry-run
  apim-provision list --tag env=prod | apim-backup prune --storage store.json --keep 7

Rails: the newest restorable backup is never deleted; nothing is pruned while the newest backup did not succeed; \
--max-age never beats --keep unless --max-age-overrides-keep; a duration needs a unit (30d, not 30).";
    pub const NV_LIST: &str = "Examples:
  apim-namedvalues list --service dest.json > namedvalues.ndjson
  apim-namedvalues list --service-id /subscriptions/…/service/apim-dest --tag env";
    pub const NV_GET: &str = "Examples:
  apim-namedvalues get backend-host --service dest.json";
    pub const NV_REWRITE: &str = "Examples:
  apim-namedvalues list --service dest.json | apim-namedvalues rewrite --host api.src.example.com=api.dest.example.com > plan.ndjson
  apim-namedvalues rewrite --rules rules.json < namedvalues.ndjson

Rails: the plan never holds a secret's value; a value changed since it was listed refuses the plan (exit 3); a rule \
that matches nothing is refused (exit 2) unless --allow-unmatched.";
    pub const NV_IMPORT: &str = "Examples:
  apim-namedvalues import --service dest.json < namedvalues.ndjson
  apim-namedvalues list --service src.json --reveal-secrets | apim-namedvalues import --service dest.json

Rails: every name and display name is checked before anything is written; one that exists with another value \
refuses the import (exit 3); one there as described counts as imported.";
    pub const NV_APPLY: &str = "Examples:
  apim-namedvalues apply --dry-run < plan.ndjson
  apim-namedvalues apply < plan.ndjson > applied.ndjson

Rails: each change is written only while the named value's ETag is the plan's; one changed since is a conflict, \
never overwritten.";
    pub const NV_REFRESH: &str = "Examples:
  apim-namedvalues refresh --service dest.json > kv-status.ndjson

After a copy the target's identity is new: each Key Vault named value is refreshed (a 202 is waited for to its \
end) and one apim.namedvalue.status printed with its lastStatus. Exit 1 when any cannot read its vault, naming \
the identity and the vault: give that identity Key Vault Secrets User on the vault (apim-provision service --like \
--grant-roles does it for the source's roles).";
    pub const SYNC_PLAN: &str = "Examples:
  apim-sync plan --source src.json --target dest.json --host api.src.example.com=api.dest.example.com > plan.ndjson
  apim-sync plan --source src.snapshot.ndjson --target rehearsal.json --exclude users > plan.ndjson

Reads both instances (the source only read) and prints what the target needs, in write order; secrets are named, \
never held; --delete-extra also plans deletes of what only the target has.

Exit codes: 0 planned; 1 Azure said no; 2 bad input or flags; 3 refused (the same instance on both sides, or a target \
that is Updating).";
    pub const SYNC_APPLY: &str = "Examples:
  apim-sync apply < plan.ndjson > applied.ndjson
  apim-sync apply --allow-deletes --target dest.json --timeout 30m < plan.ndjson

Each write only where the target is as planned; stopped (--timeout, Ctrl-C, kill): plan and apply again.

Exit codes: 0 applied; 1 Azure refused a write; 2 bad input (nothing was written); 3 refused (deletes without \
--allow-deletes, a target that is Updating: nothing written), or entities changed since the plan were left alone; \
4 stopped before every change was written (plan and apply again).";
    pub const NV_DIFF: &str = "Examples:
  apim-namedvalues diff src.json dest.json

Exit codes: 0 equal; 1 they differ; 2 bad input; 5 a side could not be read.";

    /// A subcommand that changes things: its text, then the exit codes.
    pub fn changes(text: &str) -> String {
        format!("{text}\n\n{CHANGES}")
    }

    /// A subcommand that only reads.
    pub fn reads(text: &str) -> String {
        format!("{text}\n\n{READS}")
    }
}
