//! Configuration put into emulated services for the demo and the benches, and read back.

use anyhow::bail;
use apim_toolkit::EmulatorProcess;

pub(crate) const CONFIG_COLLECTIONS: [&str; 3] = ["namedValues", "apis", "products"];

/// The emulator's own subscription.
pub(crate) const SUBSCRIPTION: &str = "00000000-0000-4000-8000-00000000a1a1";

pub(crate) fn child_path(service: &str, coll: &str, id: Option<&str>) -> String {
    let base = format!("/subscriptions/{SUBSCRIPTION}/resourceGroups/apim-rg/providers/Microsoft.ApiManagement/service/{service}/{coll}");
    match id {
        Some(id) => format!("{base}/{id}?api-version=2024-05-01"),
        None => format!("{base}?api-version=2024-05-01"),
    }
}

/// Puts named values (one in five secret), APIs and products into a service.
pub(crate) fn seed(emu: &EmulatorProcess, service: &str, tag: &str, (n, apis, products): (usize, usize, usize)) -> anyhow::Result<()> {
    let put = |coll: &str, id: String, props: serde_json::Value| -> anyhow::Result<()> {
        let (status, _, body) = emu.arm(
            "PUT",
            &child_path(service, coll, Some(&id)),
            Some(&serde_json::json!({"properties": props})),
        )?;
        if status != 200 && status != 201 {
            bail!("seeding {coll}/{id}: {status} {body}");
        }
        Ok(())
    };
    for i in 0..n {
        let props = serde_json::json!({"displayName": format!("nv-{i}"), "value": format!("https://backend-{i}.{tag}.example.com/api"), "secret": i % 5 == 4, "tags": ["seed"]});
        put("namedValues", format!("nv-{i}"), props)?;
    }
    for i in 0..apis {
        put(
            "apis",
            format!("api-{i}"),
            serde_json::json!({"displayName": format!("API {i}"), "path": format!("api-{i}"), "serviceUrl": format!("https://api-{i}.{tag}.example.com"), "protocols": ["https"]}),
        )?;
    }
    for i in 0..products {
        put(
            "products",
            format!("product-{i}"),
            serde_json::json!({"displayName": format!("Product {i}"), "state": "published", "subscriptionRequired": true}),
        )?;
    }
    Ok(())
}

/// A service's configuration as ARM lists it (secret values are not listed; the rest of each secret is).
pub(crate) fn configuration(emu: &EmulatorProcess, service: &str) -> anyhow::Result<serde_json::Value> {
    let mut out = serde_json::Map::new();
    for coll in CONFIG_COLLECTIONS {
        let (status, _, list) = emu.arm("GET", &child_path(service, coll, None), None)?;
        if status != 200 {
            bail!("listing {coll} of {service}: {status} {list}");
        }
        let items: serde_json::Map<String, serde_json::Value> = list["value"]
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|i| (i["name"].as_str().unwrap_or_default().to_string(), i["properties"].clone()))
                    .collect()
            })
            .unwrap_or_default();
        out.insert(coll.to_string(), serde_json::Value::Object(items));
    }
    Ok(serde_json::Value::Object(out))
}
