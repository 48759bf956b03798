//! Just enough of the List Blobs XML: names, sizes, ETags, dates, the marker.
//! The format is fixed and flat, so a few string searches do.

use crate::BlobProperties;

fn tag<'a>(s: &'a str, name: &str) -> Option<&'a str> {
    let open = format!("<{name}>");
    let start = s.find(&open)? + open.len();
    let end = s[start..].find(&format!("</{name}>"))? + start;
    Some(&s[start..end])
}

fn unescape(s: &str) -> String {
    s.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

pub fn blobs(xml: &str) -> Vec<BlobProperties> {
    xml.split("<Blob>")
        .skip(1)
        .filter_map(|chunk| {
            let chunk = chunk.split("</Blob>").next()?;
            Some(BlobProperties {
                name: unescape(tag(chunk, "Name")?),
                size: tag(chunk, "Content-Length").and_then(|v| v.parse().ok()).unwrap_or(0),
                etag: tag(chunk, "Etag").map(unescape).unwrap_or_default(),
                last_modified: tag(chunk, "Last-Modified").unwrap_or_default().to_string(),
                metadata: tag(chunk, "Metadata").map(metadata).unwrap_or_default(),
            })
        })
        .collect()
}

/// `<Metadata><k>v</k>…</Metadata>` contents, names lower-cased.
fn metadata(inner: &str) -> std::collections::BTreeMap<String, String> {
    let mut out = std::collections::BTreeMap::new();
    let mut rest = inner;
    while let Some(start) = rest.find('<') {
        let Some(end) = rest[start..].find('>') else { break };
        let name = &rest[start + 1..start + end];
        let close = format!("</{name}>");
        let body_start = start + end + 1;
        let Some(close_at) = rest[body_start..].find(&close) else { break };
        out.insert(name.to_ascii_lowercase(), unescape(&rest[body_start..body_start + close_at]));
        rest = &rest[body_start + close_at + close.len()..];
    }
    out
}

pub fn next_marker(xml: &str) -> Option<String> {
    tag(xml, "NextMarker").map(unescape).filter(|m| !m.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAGE: &str = r#"<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="http://127.0.0.1:10000/acct" ContainerName="backups"><Prefix>apim-src-</Prefix><Blobs><Blob><Name>apim-src-20261127T0600Z.apimbackup</Name><Properties><Creation-Time>Fri, 27 Nov 2026 06:00:00 GMT</Creation-Time><Last-Modified>Fri, 27 Nov 2026 06:00:01 GMT</Last-Modified><Etag>"0x8DD1"</Etag><Content-Length>1234</Content-Length><BlobType>BlockBlob</BlobType></Properties><Metadata><apimtoolkit_status>Succeeded</apimtoolkit_status></Metadata></Blob><Blob><Name>a&amp;b</Name><Properties><Last-Modified>Fri, 27 Nov 2026 07:00:00 GMT</Last-Modified><Etag>0x2</Etag><Content-Length>0</Content-Length></Properties></Blob></Blobs><NextMarker>m2</NextMarker></EnumerationResults>"#;

    #[test]
    fn reads_a_page() {
        let b = blobs(PAGE);
        assert_eq!(b.len(), 2);
        assert_eq!(b[0].name, "apim-src-20261127T0600Z.apimbackup");
        assert_eq!(b[0].size, 1234);
        assert_eq!(b[0].etag, "\"0x8DD1\"");
        assert_eq!(b[0].last_modified, "Fri, 27 Nov 2026 06:00:01 GMT");
        assert_eq!(b[0].metadata.get("apimtoolkit_status").map(String::as_str), Some("Succeeded"));
        assert_eq!(b[1].name, "a&b");
        assert!(b[1].metadata.is_empty());
        assert_eq!(next_marker(PAGE).as_deref(), Some("m2"));
        assert_eq!(next_marker("<NextMarker/>"), None);
        assert_eq!(next_marker("<NextMarker></NextMarker>"), None);
    }
}
