//! Backends, loggers and diagnostics: where an instance sends traffic and
//! telemetry. As Azure does, a logger's key is moved into a secret named
//! value (`Logger-Credentials--{id}`) and the logger keeps a reference.

use crate::entities::{default, one_of, require, Family, Prepare, BASE};
use axum::response::Response;
use serde_json::{json, Value};

pub(crate) static BACKENDS: Family = Family {
    name: "backends",
    type_name: "backends",
    children: &[],
    link: false,
    long_running: false,
    prepare: backend,
    ..BASE
};

pub(crate) static LOGGERS: Family = Family {
    name: "loggers",
    type_name: "loggers",
    children: &[],
    link: false,
    long_running: false,
    prepare: logger,
    ..BASE
};

fn backend(p: &mut Prepare) -> Result<(), Response> {
    require(p.props, "url")?;
    require(p.props, "protocol")?;
    one_of(p.props, "protocol", &["http", "soap"])?;
    default(
        p.props,
        "tls",
        json!({"validateCertificateChain": true, "validateCertificateName": true}),
    );
    default(p.props, "credentials", json!({}));
    default(p.props, "proxy", Value::Null);
    if p.props.get("proxy").is_some_and(Value::is_null) {
        p.props.remove("proxy");
    }
    Ok(())
}

fn logger(p: &mut Prepare) -> Result<(), Response> {
    require(p.props, "loggerType")?;
    one_of(p.props, "loggerType", &["azureEventHub", "applicationInsights", "azureMonitor"])?;
    default(p.props, "description", Value::Null);
    default(p.props, "isBuffered", json!(true));
    let id = p.id.to_string();
    let etag = p.etag;
    if let Some(creds) = p.props.get_mut("credentials").and_then(Value::as_object_mut) {
        for (field, secret) in creds.iter_mut() {
            let Some(s) = secret.as_str() else { continue };
            if s.starts_with("{{") || field == "name" {
                continue;
            }
            let nv_id = format!("{:024x}", etag ^ hash(&format!("{id}/{field}")));
            let nv = json!({
                "name": nv_id,
                "properties": {"displayName": format!("Logger-Credentials--{nv_id}"), "value": s, "secret": true, "tags": []},
                "etag": etag,
            });
            p.also.push((format!("namedvalues/{nv_id}"), nv));
            *secret = json!(format!("{{{{{nv_id}}}}}"));
        }
    }
    Ok(())
}

pub(crate) fn diagnostic(p: &mut Prepare) -> Result<(), Response> {
    require(p.props, "loggerId")
}

fn hash(s: &str) -> u64 {
    s.bytes()
        .fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3))
}

/// Diagnostics, of the service and of each API.
pub(crate) static DIAGNOSTICS: Family = Family {
    name: "diagnostics",
    type_name: "diagnostics",
    children: &[],
    link: false,
    long_running: false,
    prepare: diagnostic,
    ..BASE
};
