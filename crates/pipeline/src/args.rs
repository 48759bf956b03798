//! One vocabulary of flags for every binary: a service is named the same
//! way everywhere, values are parsed (and refused, exit 2) before any
//! connection, and a renamed flag keeps working with one warning.

use apim_documents::ServiceDoc;
use arm_client::ResourceId;
use std::path::PathBuf;

/// A single service: `--service FILE` (an apim.service document; `-` is
/// stdin) or `--service-id ID`. Neither: the document is read from stdin.
#[derive(clap::Args, Debug, Clone, Default)]
pub struct ServiceArg {
    /// The service as an apim.service document file; `-` (or nothing) reads it from stdin.
    #[arg(long, value_name = "FILE")]
    pub service: Option<PathBuf>,
    /// The service by resource id, instead of a document.
    #[arg(long, value_name = "ID", conflicts_with = "service", value_parser = parse_service_id)]
    pub service_id: Option<ResourceId>,
}

impl ServiceArg {
    pub fn resolve(&self) -> anyhow::Result<ResourceId> {
        if let Some(id) = &self.service_id {
            return Ok(id.clone());
        }
        let path = self.service.clone().unwrap_or_else(|| PathBuf::from("-"));
        let source = if path == std::path::Path::new("-") {
            "stdin (or --service FILE, --service-id ID)"
        } else {
            "--service"
        };
        Ok(apim_documents::read_one_file::<ServiceDoc>(&path, source)?.id)
    }
}

/// A host rewrite, OLD=NEW with two whole hostnames, as `--host` and
/// `--expect-host` take it; `flag` names the flag in the error.
pub fn parse_host_rule(flag: &str, spec: &str) -> anyhow::Result<(String, String)> {
    let bad = || {
        crate::usage(format!(
            "{flag} '{spec}': give OLD=NEW hostnames, e.g. api.src.example.com=api.dest.example.com"
        ))
    };
    let (old, new) = spec.split_once('=').ok_or_else(bad)?;
    let (old, new) = (old.trim(), new.trim());
    if !namedvalue_rewrite::host::is_hostname(old) || !namedvalue_rewrite::host::is_hostname(new) {
        return Err(bad());
    }
    Ok((old.to_string(), new.to_string()))
}

/// An APIM service's resource id, checked as documents check it.
pub fn parse_service_id(s: &str) -> Result<ResourceId, String> {
    let id: ResourceId = s.parse().map_err(|e: arm_client::IdError| e.to_string())?;
    apim_documents::check_service_id(&id)?;
    Ok(id)
}

/// `KEY=VALUE`, the key not empty.
pub fn parse_tag(s: &str) -> Result<(String, String), String> {
    s.split_once('=')
        .filter(|(k, _)| !k.is_empty())
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .ok_or_else(|| format!("'{s}' is not KEY=VALUE"))
}

/// A flag that was renamed: `old` (under `subcommand`, when it is one
/// subcommand's own) is now `new`.
pub struct Renamed {
    pub subcommand: Option<&'static str>,
    pub old: &'static str,
    pub new: &'static str,
}

/// One warning line on stderr per renamed flag the command line still
/// uses; clap accepts the old spelling as a hidden alias, so scripts keep
/// working. Returns the warnings, for tests.
pub fn warn_renamed(binary: &str, args: &[String], renamed: &[Renamed]) -> Vec<String> {
    let mut out = Vec::new();
    for r in renamed {
        if r.subcommand.is_some_and(|sub| !args.iter().skip(1).any(|a| a == sub)) {
            continue;
        }
        let used = args
            .iter()
            .skip(1)
            .take_while(|a| *a != "--")
            .any(|a| a == r.old || a.strip_prefix(r.old).is_some_and(|rest| rest.starts_with('=')));
        if used {
            let line = format!(
                "{binary}: warning: {} is now {}; the old spelling still works for now",
                r.old, r.new
            );
            eprintln!("{line}");
            out.push(line);
        }
    }
    out
}

/// Parses the command line after warning about renamed flags it uses. A
/// document file given where no file is taken (`apim-backup src.json`) is
/// told to come on stdin, rather than "unrecognized subcommand".
pub fn parse<C: clap::Parser>(binary: &str, renamed: &[Renamed]) -> C {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let text: Vec<String> = args.iter().map(|a| a.to_string_lossy().into_owned()).collect();
    warn_renamed(binary, &text, renamed);
    match C::try_parse_from(&args) {
        Ok(c) => c,
        Err(e) => {
            use clap::error::{ContextKind, ContextValue};
            let offending = [ContextKind::InvalidSubcommand, ContextKind::InvalidArg]
                .into_iter()
                .find_map(|k| match e.get(k) {
                    Some(ContextValue::String(s)) => Some(s.clone()),
                    _ => None,
                });
            let stray = offending.filter(|a| is_document_file(a));
            match stray {
                Some(file) => {
                    eprintln!(
                        "{binary}: error: '{file}' is a file, and {binary} takes no file there: pass documents on stdin: {binary} … < {file}"
                    );
                    std::process::exit(2)
                }
                None => e.exit(),
            }
        }
    }
}

/// Whether a word of the command line names a document file that exists.
fn is_document_file(word: &str) -> bool {
    !word.starts_with('-') && std::path::Path::new(word).is_file()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(a: &[&str]) -> Vec<String> {
        a.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn old_spellings_warn_once_each() {
        let r = [
            Renamed {
                subcommand: None,
                old: "--safety-max-age",
                new: "--max-backup-age",
            },
            Renamed {
                subcommand: Some("storage"),
                old: "--sku",
                new: "--storage-sku",
            },
        ];
        let w = warn_renamed("t", &args(&["t", "--safety-max-age=1h"]), &r);
        assert_eq!(
            w,
            ["t: warning: --safety-max-age is now --max-backup-age; the old spelling still works for now"]
        );
        assert!(
            warn_renamed("t", &args(&["t", "service", "--sku", "Premium"]), &r).is_empty(),
            "another subcommand's --sku"
        );
        assert_eq!(warn_renamed("t", &args(&["t", "storage", "--sku", "Standard_LRS"]), &r).len(), 1);
        assert!(warn_renamed("t", &args(&["t", "--max-backup-age", "1h"]), &r).is_empty());
    }

    #[test]
    fn service_ids_are_checked_before_any_connection() {
        assert!(parse_service_id("/subscriptions/s/resourceGroups/g/providers/Microsoft.ApiManagement/service/apim-src").is_ok());
        let e = parse_service_id("/subscriptions/s/resourceGroups/g/providers/Microsoft.Storage/storageAccounts/x").unwrap_err();
        assert!(e.contains("is not the id of an API Management service"), "{e}");
        assert!(parse_service_id("apim-src").is_err());
        assert_eq!(parse_tag("env=prod").unwrap(), ("env".into(), "prod".into()));
        assert!(parse_tag("=x").is_err());
    }
}
