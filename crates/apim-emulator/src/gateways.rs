//! Self-hosted gateways: where they run, which APIs they serve (links),
//! the hostnames they answer and the certificate authorities they trust.

use crate::entities::{require, Family, Prepare, BASE};
use crate::http::error;
use crate::state::key;
use axum::response::Response;
use serde_json::json;

pub(crate) static GATEWAYS: Family = Family {
    name: "gateways",
    type_name: "gateways",
    children: &[&GATEWAY_APIS, &HOSTNAMES, &AUTHORITIES],
    prepare: gateway,
    ..BASE
};

pub(crate) static GATEWAY_APIS: Family = Family {
    name: "apis",
    type_name: "gateways/apis",
    link: true,
    ..BASE
};

pub(crate) static HOSTNAMES: Family = Family {
    name: "hostnameConfigurations",
    type_name: "hostnameConfigurations",
    ids_in: &["certificateId"],
    prepare: hostname,
    ..BASE
};

/// `gateways/{g}/certificateAuthorities/{certificateId}`.
pub(crate) static AUTHORITIES: Family = Family {
    name: "certificateAuthorities",
    type_name: "certificateAuthorities",
    prepare: authority,
    ..BASE
};

fn gateway(p: &mut Prepare) -> Result<(), Response> {
    let named = p.props.get("locationData").and_then(|l| l.get("name")).and_then(|n| n.as_str());
    if named.is_none_or(str::is_empty) {
        return Err(error(400, "ValidationError", "'locationData.name' is required."));
    }
    Ok(())
}

fn hostname(p: &mut Prepare) -> Result<(), Response> {
    require(p.props, "hostname")?;
    if let Some(c) = p.props.get("certificateId").and_then(|c| c.as_str()) {
        if !p.tree.contains_key(&key(c.trim_start_matches('/'))) {
            return Err(error(400, "ValidationError", &format!("Certificate '{c}' was not found.")));
        }
    }
    crate::entities::default(p.props, "negotiateClientCertificate", json!(false));
    Ok(())
}

fn authority(p: &mut Prepare) -> Result<(), Response> {
    if !p.tree.contains_key(&key(&format!("certificates/{}", p.id))) {
        return Err(error(400, "ValidationError", &format!("Certificate '{}' was not found.", p.id)));
    }
    crate::entities::default(p.props, "isTrusted", json!(false));
    Ok(())
}
