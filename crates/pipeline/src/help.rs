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
--allow-insecure-storage; never replaces a blob without --overwrite; refuses a service another operation runs on. \
In a fleet (several services on stdin) a tier without backup (Consumption, v2) is skipped and one service's failure \
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
it (same SKU, no Consumption or v2). --dry-run checks all of it and starts nothing.

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
