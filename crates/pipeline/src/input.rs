//! Reading documents: NDJSON or one JSON array, checked for their kind.

use crate::exit::usage;
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Parses NDJSON (blank lines allowed) or a single JSON array.
pub fn parse_documents(text: &str, source: &str) -> anyhow::Result<Vec<Value>> {
    let trimmed = text.trim_start();
    if trimmed.starts_with('[') {
        return match serde_json::from_str::<Value>(trimmed) {
            Ok(Value::Array(items)) => Ok(items),
            Ok(_) => Err(usage(format!("{source}: expected a JSON array or one JSON document per line"))),
            Err(e) => Err(usage(format!("{source}: malformed JSON array: {e}"))),
        };
    }
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value = serde_json::from_str(line).map_err(|e| {
            usage(format!(
                "{source} line {}: malformed JSON ({e}); expected one JSON document per line",
                n + 1
            ))
        })?;
        out.push(v);
    }
    Ok(out)
}

/// The `kind` of a document, if it has one.
pub fn kind_of(doc: &Value) -> &str {
    doc.get("kind").and_then(Value::as_str).unwrap_or("")
}

/// Converts a document of the expected kind, or says what was wrong.
pub fn expect_kind<T: DeserializeOwned>(doc: &Value, kind: &str, source: &str) -> anyhow::Result<T> {
    let actual = kind_of(doc);
    if actual != kind {
        let got = if actual.is_empty() {
            "a document without \"kind\"".to_string()
        } else {
            format!("a '{actual}' document")
        };
        return Err(usage(format!("{source}: expected an '{kind}' document, got {got}")));
    }
    match doc.get("schemaVersion").and_then(Value::as_u64) {
        Some(1) => {}
        Some(v) => {
            return Err(usage(format!(
                "{source}: '{kind}' schemaVersion {v} is not supported (this tool reads 1); upgrade the toolkit"
            )))
        }
        None => return Err(usage(format!("{source}: '{kind}' document has no schemaVersion"))),
    }
    serde_json::from_value(doc.clone()).map_err(|e| usage(format!("{source}: invalid '{kind}' document: {e}")))
}

/// Reads all of stdin as documents. Refuses a terminal: a forgotten pipe
/// should not look like a hang.
pub fn read_stdin_documents() -> anyhow::Result<Vec<Value>> {
    use std::io::{IsTerminal, Read};
    let mut stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(usage("expected documents on stdin (pipe them in, or use the flags instead)"));
    }
    let mut text = String::new();
    stdin.read_to_string(&mut text).map_err(|e| usage(format!("stdin: {e}")))?;
    parse_documents(&text, "stdin")
}

/// Reads documents from a file given by a flag.
pub fn read_file_documents(path: &std::path::Path, flag: &str) -> anyhow::Result<Vec<Value>> {
    let text = std::fs::read_to_string(path).map_err(|e| usage(format!("{flag} {}: {e}", path.display())))?;
    parse_documents(&text, &format!("{flag} {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ndjson_and_arrays() {
        assert_eq!(parse_documents("{\"a\":1}\n\n{\"a\":2}\n", "t").unwrap().len(), 2);
        assert_eq!(parse_documents(" [{\"a\":1},{\"a\":2}]", "t").unwrap().len(), 2);
        assert!(parse_documents("", "t").unwrap().is_empty());
    }

    #[test]
    fn malformed_names_the_line() {
        let e = parse_documents("{\"a\":1}\n{oops}\n", "stdin").unwrap_err();
        assert_eq!(crate::exit::code_of(&e), 2);
        assert!(e.to_string().contains("stdin line 2"), "{e}");
    }

    #[test]
    fn wrong_kind_is_usage() {
        #[derive(serde::Deserialize, Debug)]
        struct X {}
        let e = expect_kind::<X>(&json!({"kind":"apim.backup","schemaVersion":1}), "apim.service", "stdin").unwrap_err();
        assert_eq!(crate::exit::code_of(&e), 2);
        assert!(e
            .to_string()
            .contains("expected an 'apim.service' document, got a 'apim.backup' document"));
        let e = expect_kind::<X>(&json!({"kind":"apim.service","schemaVersion":2}), "apim.service", "stdin").unwrap_err();
        assert!(e.to_string().contains("schemaVersion 2"));
    }
}
