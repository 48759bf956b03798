//! Exit codes, in one place, for every binary.

use std::fmt;

/// The exit codes of DESIGN.md.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitKind {
    /// Azure (or the network) said no.
    Azure = 1,
    /// Bad flags or bad input; nothing was changed.
    Usage = 2,
    /// A safety rail refused.
    Refused = 3,
    /// Stopped waiting (timeout, Ctrl-C); resume documents were printed.
    Stopped = 4,
    /// A comparison could not be made (Azure or the network said no): a
    /// diff's own failure, apart from its 1 for "different", as diff(1)
    /// keeps 1 for differences and 2 for trouble.
    CompareFailed = 5,
    /// A comparison found differences: exit 1 as diff(1), an outcome and
    /// not an error (its message is a plain line, no `error:`).
    Differ = 101,
}

impl ExitKind {
    pub fn code(self) -> u8 {
        match self {
            ExitKind::Differ => 1,
            other => other as u8,
        }
    }
}

/// An error that knows its exit code.
#[derive(Debug)]
pub struct Exit {
    pub kind: ExitKind,
    pub message: String,
}

impl fmt::Display for Exit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Exit {}

pub fn usage(message: impl Into<String>) -> anyhow::Error {
    Exit {
        kind: ExitKind::Usage,
        message: message.into(),
    }
    .into()
}

/// The end of a comparison that found differences (exit 1, no `error:`).
pub fn differ(message: impl Into<String>) -> anyhow::Error {
    Exit {
        kind: ExitKind::Differ,
        message: message.into(),
    }
    .into()
}

pub fn refused(message: impl Into<String>) -> anyhow::Error {
    Exit {
        kind: ExitKind::Refused,
        message: message.into(),
    }
    .into()
}

/// A comparison that could not be made; the cause stays in the chain.
pub fn compare_failed(e: anyhow::Error) -> anyhow::Error {
    let message = render(&e);
    Exit {
        kind: ExitKind::CompareFailed,
        message: format!("the comparison could not be made: {message}"),
    }
    .into()
}

pub fn stopped(message: impl Into<String>) -> anyhow::Error {
    Exit {
        kind: ExitKind::Stopped,
        message: message.into(),
    }
    .into()
}

/// A library's typed error with the exit code its [`Failure`] calls for;
/// the message keeps the whole chain of causes.
///
/// [`Failure`]: apim_documents::Failure
pub fn classified<E>(e: E) -> anyhow::Error
where
    E: apim_documents::Classify + std::error::Error + Send + Sync + 'static,
{
    // Azure's own errors keep their chain (a closed pipe, a known cause).
    match exit_kind(e.failure()) {
        ExitKind::Azure => anyhow::Error::new(e),
        kind => Exit {
            kind,
            message: render(&anyhow::Error::new(e)),
        }
        .into(),
    }
}

/// The exit code a library's [`Failure`] calls for.
///
/// [`Failure`]: apim_documents::Failure
fn exit_kind(f: apim_documents::Failure) -> ExitKind {
    use apim_documents::Failure;
    match f {
        Failure::Azure => ExitKind::Azure,
        Failure::BadInput => ExitKind::Usage,
        Failure::Refused => ExitKind::Refused,
        Failure::Stopped => ExitKind::Stopped,
    }
}

/// [`classified`], with a hint appended that names what gets past it (a
/// flag, a command): libraries say what happened, binaries what to do.
pub fn hinted<E>(e: E, hint: Option<&str>) -> anyhow::Error
where
    E: apim_documents::Classify + std::error::Error + Send + Sync + 'static,
{
    let Some(hint) = hint else { return classified(e) };
    Exit {
        kind: exit_kind(e.failure()),
        message: format!("{}; {hint}", render(&anyhow::Error::new(e))),
    }
    .into()
}

/// The exit code for an error that ended a run: the first cause that
/// knows its code (an [`Exit`], or a document that was not what it should
/// be), else 1.
pub fn code_of(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(e) = cause.downcast_ref::<Exit>() {
            return e.kind.code();
        }
        if cause.is::<apim_documents::DocumentError>() {
            return ExitKind::Usage as u8;
        }
    }
    ExitKind::Azure as u8
}

/// One line: the chain of contexts, joined, with newlines folded and
/// other control characters escaped (text from a document must not drive
/// the terminal it is shown on).
pub fn render(err: &anyhow::Error) -> String {
    let text = format!("{err:#}");
    text.split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
        .chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Runs a binary's body and maps its end to an exit code: the one place
/// where errors become codes and reach stderr.
pub fn finish(name: &str, result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) if is_broken_pipe(&e) => std::process::ExitCode::SUCCESS,
        Err(e) if e.downcast_ref::<Exit>().is_some_and(|x| x.kind == ExitKind::Differ) => {
            eprintln!("{name}: {e}");
            std::process::ExitCode::from(1)
        }
        Err(e) => {
            let hint = what_to_do(&e).map(|h| format!("; {h}")).unwrap_or_default();
            eprintln!("{name}: error: {}{hint}", render(&e));
            std::process::ExitCode::from(code_of(&e))
        }
    }
}

/// The fix for a failure no retry mends, named where the cause is known:
/// the endpoint, the trust, the credential.
fn what_to_do(err: &anyhow::Error) -> Option<&'static str> {
    use arm_auth::{AuthError, Cause};
    for cause in err.chain() {
        let known = match cause.downcast_ref::<AuthError>() {
            Some(AuthError::Permanent { cause, .. }) => Some(cause.clone()),
            _ => arm_auth::permanent_cause(cause),
        };
        if let Some(c) = known {
            return Some(match c {
                Cause::Unreachable(_) => {
                    "is the endpoint right and running? (--arm-endpoint, AZURE_AUTHORITY_HOST; rehearsing: start apim-emulator and source its env file)"
                }
                Cause::Untrusted(_) => {
                    "trust its CA with --ca-cert FILE or SSL_CERT_FILE (rehearsing: source the emulator's env file, whose SSL_CERT_FILE is its CA bundle)"
                }
                Cause::Rejected(_) => "check AZURE_TENANT_ID, AZURE_CLIENT_ID and the secret or federated token",
            });
        }
    }
    None
}

fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<std::io::Error>()
            .is_some_and(|io| io.kind() == std::io::ErrorKind::BrokenPipe)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use anyhow::Context;

    #[test]
    fn codes_survive_context() {
        let e = Err::<(), _>(refused("target is the source")).context("restore").unwrap_err();
        assert_eq!(code_of(&e), 3);
        assert_eq!(code_of(&usage("x")), 2);
        assert_eq!(code_of(&stopped("x")), 4);
        assert_eq!(code_of(&differ("they differ")), 1);
        assert_eq!(code_of(&anyhow::anyhow!("Conflict: busy")), 1);
        let bad = apim_documents::parse_documents("{oops}", "stdin").unwrap_err();
        assert_eq!(
            code_of(&anyhow::Error::new(bad).context("reading")),
            2,
            "bad documents are bad input"
        );
    }

    #[test]
    fn renders_one_line() {
        let e = anyhow::anyhow!("line one\nline two").context("reading stdin");
        assert_eq!(render(&e), "reading stdin: line one line two");
    }

    #[test]
    fn control_characters_from_documents_are_escaped() {
        let e = anyhow::anyhow!("'apim\u{1b}[2Jsrc' is not a service name\u{7}");
        let shown = render(&e);
        assert!(!shown.chars().any(char::is_control), "{shown:?}");
        assert_eq!(shown, "'apim\\u{1b}[2Jsrc' is not a service name\\u{7}");
    }
}
