//! Reading documents: NDJSON or one JSON array, checked for their kind.

use crate::kinds::{Document, SCHEMA_VERSION};
use crate::DocumentError;
use serde_json::Value;

type Result<T> = std::result::Result<T, DocumentError>;

fn invalid(message: impl Into<String>) -> DocumentError {
    DocumentError(message.into())
}

/// Parses NDJSON (blank lines allowed), pretty-printed documents one after
/// another, or a single JSON array.
pub fn parse_documents(text: &str, source: &str) -> Result<Vec<Value>> {
    stream_documents(std::io::Cursor::new(text.as_bytes()), source.to_string()).collect()
}

/// The `kind` of a document, if it has one.
pub fn kind_of(doc: &Value) -> &str {
    doc.get("kind").and_then(Value::as_str).unwrap_or("")
}

/// Converts a document of kind `D::KIND`, or says what was wrong.
pub fn expect_kind<D: Document>(doc: &Value, source: &str) -> Result<D> {
    let kind = D::KIND;
    let actual = kind_of(doc);
    if actual != kind {
        let got = if actual.is_empty() {
            "a document without \"kind\"".to_string()
        } else {
            format!("a '{actual}' document")
        };
        return Err(invalid(format!("{source}: expected an '{kind}' document, got {got}")));
    }
    match doc.get("schemaVersion").and_then(Value::as_u64) {
        Some(v) if v == u64::from(SCHEMA_VERSION) => {}
        Some(v) => {
            return Err(invalid(format!(
                "{source}: '{kind}' schemaVersion {v} is not supported (this tool reads {SCHEMA_VERSION}); upgrade the toolkit"
            )))
        }
        None => return Err(invalid(format!("{source}: '{kind}' document has no schemaVersion"))),
    }
    let d: D = serde_json::from_value(doc.clone()).map_err(|e| invalid(format!("{source}: invalid '{kind}' document: {e}")))?;
    d.validate()
        .map_err(|e| invalid(format!("{source}: invalid '{kind}' document: {e}")))?;
    Ok(d)
}

/// Every document of `docs`, each of kind `D::KIND`.
pub fn expect_all<D: Document>(docs: &[Value], source: &str) -> Result<Vec<D>> {
    docs.iter().map(|d| expect_kind(d, source)).collect()
}

/// Exactly one document of kind `D::KIND`, as a flag that names one thing needs.
pub fn expect_one<D: Document>(docs: &[Value], source: &str) -> Result<D> {
    match docs {
        [doc] => expect_kind(doc, source),
        more => Err(invalid(format!(
            "{source}: expected one {} document, found {}",
            D::KIND,
            more.len()
        ))),
    }
}

/// The one document of kind `D::KIND` in the file a flag names.
pub fn read_one_file<D: Document>(path: &std::path::Path, flag: &str) -> Result<D> {
    expect_one(&read_file_documents(path, flag)?, &format!("{flag} {}", path.display()))
}

/// The longest line read from stdin: a document is a few kilobytes (a
/// named value holds at most 4,096 characters), and a JSON array of
/// thousands on one line stays well below this. A longer line is refused
/// as it arrives, before it is held whole.
pub const MAX_LINE_BYTES: usize = 16 * 1024 * 1024;

/// A reader that fails once a line runs past `cap` bytes.
struct LineCapped<R> {
    inner: R,
    cap: usize,
    run: usize,
}

impl<R: std::io::Read> std::io::Read for LineCapped<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        for &b in &buf[..n] {
            if b == b'\n' {
                self.run = 0;
            } else {
                self.run += 1;
                if self.run > self.cap {
                    return Err(std::io::Error::new(std::io::ErrorKind::InvalidData, LineTooLong));
                }
            }
        }
        Ok(n)
    }
}

#[derive(Debug)]
struct LineTooLong;

impl std::fmt::Display for LineTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a line is longer than {} MiB, the most one document may take; give one document per line",
            MAX_LINE_BYTES / (1024 * 1024)
        )
    }
}

impl std::error::Error for LineTooLong {}

fn stdin_reader() -> Result<LineCapped<std::io::Stdin>> {
    use std::io::IsTerminal;
    let stdin = std::io::stdin();
    if stdin.is_terminal() {
        return Err(invalid("expected documents on stdin (pipe them in, or use the flags instead)"));
    }
    Ok(LineCapped {
        inner: stdin,
        cap: MAX_LINE_BYTES,
        run: 0,
    })
}

/// Reads all of stdin as documents, for tools that must check their whole
/// input before they change anything (apply, restore, delete). Refuses a
/// terminal: a forgotten pipe should not look like a hang.
pub fn read_stdin_documents() -> Result<Vec<Value>> {
    use std::io::Read;
    let mut text = String::new();
    stdin_reader()?
        .read_to_string(&mut text)
        .map_err(|e| invalid(format!("stdin: {e}")))?;
    parse_documents(&text, "stdin")
}

/// Documents from stdin one by one, as they arrive, for tools that can
/// start on the first before the last is written (rewrite): pipeline
/// stages overlap, and memory does not grow with a document not yet read.
pub fn stdin_documents() -> Result<impl Iterator<Item = Result<Value>> + Send> {
    let reader = std::io::BufReader::new(stdin_reader()?);
    Ok(stream_documents(reader, "stdin".to_string()))
}

/// Documents from any reader, one by one: any sequence of JSON values, as
/// jq reads and writes them (one per line, or pretty-printed over many), or
/// one JSON array of them. The one parser of the toolkit's input: whole
/// files and stdin are read through it too. Ends after the first error.
pub fn stream_documents<R: std::io::BufRead + Send>(mut reader: R, source: String) -> impl Iterator<Item = Result<Value>> + Send {
    // A byte order mark (Windows editors write one) is not part of the JSON.
    if reader.fill_buf().is_ok_and(|b| b.starts_with("\u{feff}".as_bytes())) {
        reader.consume(3);
    }
    let is_array = first_byte_after_whitespace(&mut reader) == Some(b'[');
    let mut values = serde_json::Deserializer::from_reader(reader).into_iter::<Value>();
    let mut items: std::vec::IntoIter<Value> = Vec::new().into_iter();
    let mut array_read = false;
    let mut ended = false;
    std::iter::from_fn(move || {
        if let Some(v) = items.next() {
            return Some(Ok(v));
        }
        if ended {
            return None;
        }
        let fail = |why: String| Some(Err(invalid(why)));
        match values.next() {
            None => None,
            // One array holds the documents; nothing may follow it.
            Some(Ok(Value::Array(all))) if is_array && !array_read => {
                array_read = true;
                items = all.into_iter();
                match items.next() {
                    Some(v) => Some(Ok(v)),
                    None => match values.next() {
                        None => None,
                        Some(_) => {
                            ended = true;
                            fail(format!("{source}: malformed JSON array: trailing characters after the array"))
                        }
                    },
                }
            }
            Some(Ok(_)) if is_array => {
                ended = true;
                fail(format!("{source}: malformed JSON array: trailing characters after the array"))
            }
            Some(Ok(v)) => Some(Ok(v)),
            Some(Err(e)) => {
                ended = true;
                match (e.io_error_kind(), is_array) {
                    (Some(_), _) => fail(format!("{source}: {e}")),
                    (None, true) => fail(format!("{source}: malformed JSON array: {e}")),
                    (None, false) => fail(format!(
                        "{source} line {}: malformed JSON ({e}); expected JSON documents, one per line or pretty-printed",
                        e.line()
                    )),
                }
            }
        }
    })
}

/// Skips leading whitespace; the first byte after it, if any.
fn first_byte_after_whitespace<R: std::io::BufRead>(reader: &mut R) -> Option<u8> {
    loop {
        let buf = reader.fill_buf().ok()?;
        let first = *buf.first()?;
        let ws = buf.iter().take_while(|b| b.is_ascii_whitespace()).count();
        if ws == 0 {
            return Some(first);
        }
        reader.consume(ws);
    }
}

/// Reads documents from a file; `flag` is how the user named it (in
/// errors). `-` is stdin, wherever a file is named.
pub fn read_file_documents(path: &std::path::Path, flag: &str) -> Result<Vec<Value>> {
    if path == std::path::Path::new("-") {
        return read_stdin_documents();
    }
    let file = std::fs::File::open(path).map_err(|e| invalid(format!("{flag} {}: {e}", path.display())))?;
    // Capped as stdin is: a file is no safer a place for a 2 GB line.
    let capped = LineCapped {
        inner: file,
        cap: MAX_LINE_BYTES,
        run: 0,
    };
    stream_documents(std::io::BufReader::new(capped), format!("{flag} {}", path.display())).collect()
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
        assert!(parse_documents(" [] ", "t").unwrap().is_empty());
        // One array holds everything: nothing may follow it, and it is the only array read as a list.
        for bad in ["[{\"a\":1}] {\"a\":2}", "[] {\"a\":2}", "[{\"a\":1}", "[{\"a\":}]"] {
            let e = parse_documents(bad, "t").unwrap_err();
            assert!(e.to_string().starts_with("t: malformed JSON array"), "{bad}: {e}");
        }
        assert_eq!(
            parse_documents("{\"a\":1}\n[1,2]", "t").unwrap()[1],
            json!([1, 2]),
            "a later array is one document"
        );
    }

    #[test]
    fn pretty_printed_documents_read_as_jq_writes_them() {
        let pretty = "{\n  \"a\": 1\n}\n{\n  \"a\": 2\n}\n";
        assert_eq!(parse_documents(pretty, "t").unwrap().len(), 2);
        let e = parse_documents("{\n  \"a\": 1\n}\n{\n  \"a\": \n", "stdin").unwrap_err();
        assert!(e.to_string().contains("stdin line 6"), "{e}");
    }

    #[test]
    fn a_byte_order_mark_is_not_json() {
        assert_eq!(parse_documents("\u{feff}{\"a\":1}\n", "t").unwrap().len(), 1);
        assert_eq!(parse_documents("\u{feff}[{\"a\":1}]", "t").unwrap().len(), 1);
    }

    #[test]
    fn streamed_documents_read_as_the_whole_input_does() {
        let read =
            |text: &str| -> Vec<Result<Value>> { stream_documents(std::io::Cursor::new(text.to_string()), "stdin".to_string()).collect() };
        let ok = |text: &str| read(text).into_iter().map(Result::unwrap).collect::<Vec<_>>();
        assert_eq!(ok("{\"a\":1}\n\n{\"a\":2}\n").len(), 2);
        assert_eq!(ok("\u{feff}[{\"a\":1},{\"a\":2}]").len(), 2);
        assert_eq!(ok("{\n  \"a\": 1\n}\n{\"a\":2}").len(), 2);
        let got = read("{\"a\":1}\n{oops}\n{\"a\":3}\n");
        assert!(got[0].is_ok());
        let e = got[1].as_ref().unwrap_err();
        assert!(e.to_string().contains("stdin line 2"), "{e}");
        assert_eq!(got.len(), 2, "nothing after a malformed document");
    }

    #[test]
    fn a_line_over_the_cap_is_refused_as_it_arrives() {
        use std::io::Read;
        let long = format!("{{\"a\":\"{}\"}}\n", "x".repeat(100));
        let mut r = LineCapped {
            inner: std::io::Cursor::new(long.clone().into_bytes()),
            cap: 50,
            run: 0,
        };
        let mut buf = [0u8; 16];
        let mut read = 0;
        let err = loop {
            match r.read(&mut buf) {
                Ok(0) => panic!("the cap was not enforced"),
                Ok(n) => read += n,
                Err(e) => break e,
            }
        };
        assert!(read <= 64, "refused within a buffer of the cap, after {read} bytes");
        assert!(err.to_string().contains("longer than"));
        let mut fine = LineCapped {
            inner: std::io::Cursor::new("{}\n".repeat(100).into_bytes()),
            cap: 50,
            run: 0,
        };
        let mut all = String::new();
        fine.read_to_string(&mut all).unwrap();
        assert_eq!(all.len(), 300, "many short lines are fine");
    }

    #[test]
    fn malformed_names_the_line() {
        let e = parse_documents("{\"a\":1}\n{oops}\n", "stdin").unwrap_err();
        assert!(e.to_string().contains("stdin line 2"), "{e}");
    }

    #[test]
    fn wrong_kind_is_refused() {
        let e = expect_kind::<crate::ServiceDoc>(&json!({"kind":"apim.backup","schemaVersion":1}), "stdin").unwrap_err();
        assert!(e
            .to_string()
            .contains("expected an 'apim.service' document, got a 'apim.backup' document"));
        let e = expect_kind::<crate::ServiceDoc>(&json!({"kind":"apim.service","schemaVersion":2}), "stdin").unwrap_err();
        assert!(e.to_string().contains("schemaVersion 2"));
        let e = expect_one::<crate::ServiceDoc>(&[], "--target t.json").unwrap_err();
        assert_eq!(e.to_string(), "--target t.json: expected one apim.service document, found 0");
    }
}
