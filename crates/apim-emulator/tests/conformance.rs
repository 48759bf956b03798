//! The emulator against the official ARM examples: for each example this
//! emulator covers, the same request gets the same status code and a body
//! of the same shape (every field of the example is there, with the same
//! JSON type), except the fields listed as not modelled.

use apim_emulator::{Config, Emulator, SUBSCRIPTION_ID, TENANT_ID};
use serde_json::{json, Value};
use std::path::Path;

fn example(name: &str) -> Value {
    let p = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/arm-examples").join(name);
    serde_json::from_str(&std::fs::read_to_string(&p).expect("example file")).expect("example is JSON")
}

/// Paths (like `properties.encryption`) in `example` that `actual` lacks or types differently.
fn shape_gaps(example: &Value, actual: &Value, path: &str, out: &mut Vec<String>) {
    match (example, actual) {
        (Value::Object(e), Value::Object(a)) => {
            for (k, ev) in e {
                let p = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
                match a.get(k) {
                    None => out.push(p),
                    Some(av) => shape_gaps(ev, av, &p, out),
                }
            }
        }
        (Value::Array(e), Value::Array(a)) => {
            if let (Some(e0), Some(a0)) = (e.first(), a.first()) {
                shape_gaps(e0, a0, &format!("{path}[]"), out);
            }
        }
        (Value::Null, _) | (_, Value::Null) => {}
        (Value::String(_), Value::String(_)) | (Value::Bool(_), Value::Bool(_)) | (Value::Number(_), Value::Number(_)) => {}
        _ => out.push(format!("{path} (type)")),
    }
}

fn assert_shape(example: &Value, actual: &Value, not_modelled: &[&str]) {
    let mut gaps = Vec::new();
    shape_gaps(example, actual, "", &mut gaps);
    gaps.retain(|g| !not_modelled.iter().any(|n| g == n || g.starts_with(&format!("{n}."))));
    assert!(
        gaps.is_empty(),
        "fields of the example missing from the emulator's answer: {gaps:?}\nactual: {actual}"
    );
}

fn https(emu: &Emulator) -> reqwest::Client {
    let ca = std::fs::read(&emu.ca_cert_path).unwrap();
    reqwest::Client::builder()
        .tls_certs_merge(reqwest::Certificate::from_pem_bundle(&ca).unwrap())
        .build()
        .unwrap()
}

/// Asks the token endpoint with `secret`; returns the status and the body.
async fn token_request(http: &reqwest::Client, emu: &Emulator, secret: &str) -> (u16, Value) {
    let form = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("grant_type", "client_credentials")
        .append_pair("client_id", apim_emulator::CLIENT_ID)
        .append_pair("client_secret", secret)
        .append_pair("scope", &format!("{}/.default", emu.arm_endpoint()))
        .finish();
    let r = http
        .post(format!("{}/{TENANT_ID}/oauth2/v2.0/token", emu.arm_endpoint()))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(form)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

struct Client {
    emu: Emulator,
    http: reqwest::Client,
    token: String,
}

impl Client {
    async fn new(time_scale: f64) -> Client {
        Self::connect(
            Emulator::start(Config {
                time_scale,
                ..Default::default()
            })
            .await
            .unwrap(),
        )
        .await
    }

    async fn connect(emu: Emulator) -> Client {
        let http = https(&emu);
        let (_, v) = token_request(&http, &emu, &emu.client_secret()).await;
        let token = v["access_token"].as_str().unwrap().to_string();
        Client { emu, http, token }
    }

    async fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, reqwest::header::HeaderMap, Value) {
        self.send(method, path, body, None).await
    }

    async fn call_with(&self, method: &str, path: &str, body: Option<&Value>, if_match: &str) -> (u16, reqwest::header::HeaderMap, Value) {
        self.send(method, path, body, Some(if_match)).await
    }

    async fn send(
        &self,
        method: &str,
        path: &str,
        body: Option<&Value>,
        if_match: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut req = self
            .http
            .request(method.parse().unwrap(), format!("{}{path}", self.emu.arm_endpoint()))
            .bearer_auth(&self.token);
        if let Some(m) = if_match {
            req = req.header("if-match", m);
        }
        if let Some(b) = body {
            req = req.json(b);
        }
        let r = req.send().await.unwrap();
        let (status, headers) = (r.status().as_u16(), r.headers().clone());
        let text = r.text().await.unwrap();
        (
            status,
            headers,
            if text.is_empty() {
                Value::Null
            } else {
                serde_json::from_str(&text).unwrap()
            },
        )
    }

    async fn group(&self, rg: &str) {
        let (s, _, _) = self
            .call(
                "PUT",
                &format!("/subscriptions/{SUBSCRIPTION_ID}/resourcegroups/{rg}?api-version=2025-04-01"),
                Some(&json!({"location": "eastus"})),
            )
            .await;
        assert!(s == 201 || s == 200);
    }
}

fn service_path(rg: &str, name: &str) -> String {
    format!("/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/{rg}/providers/Microsoft.ApiManagement/service/{name}?api-version=2024-05-01")
}

#[tokio::test]
async fn create_resource_group() {
    let c = Client::new(0.0).await;
    let ex = example("resources/CreateResourceGroup.json");
    let path = format!("/subscriptions/{SUBSCRIPTION_ID}/resourcegroups/my-resource-group?api-version=2025-04-01");
    let (s, _, body) = c.call("PUT", &path, Some(&ex["parameters"]["parameters"])).await;
    assert_eq!(s, 201);
    assert_shape(&ex["responses"]["201"]["body"], &body, &[]);
    let (s, _, body) = c.call("PUT", &path, Some(&ex["parameters"]["parameters"])).await;
    assert_eq!(s, 200);
    assert_shape(&ex["responses"]["200"]["body"], &body, &[]);
}

#[tokio::test]
async fn create_service_is_a_long_running_operation() {
    let c = Client::new(1.0).await;
    c.group("rg1").await;
    let ex = example("apimanagement/ApiManagementCreateService.json");
    let (s, h, body) = c
        .call("PUT", &service_path("rg1", "apimService1"), Some(&ex["parameters"]["parameters"]))
        .await;
    assert_eq!(s, 201);
    // No `identity` was asked for, so none is returned.
    assert_shape(&ex["responses"]["201"]["body"], &body, &["tags.api-version"]);
    assert_eq!(body["properties"]["provisioningState"], "Created");
    assert_eq!(body["properties"]["targetProvisioningState"], "Activating");
    let aao = h["azure-asyncoperation"].to_str().unwrap();
    assert_eq!(
        aao,
        h["location"].to_str().unwrap(),
        "both headers name the same operationresults URL, as in the example"
    );
    assert!(aao.contains("/operationresults/") && aao.contains("api-version=2024-05-01"));
    assert!(h.contains_key("retry-after"));
    let (s, _, status) = c.call("GET", aao.trim_start_matches(&c.emu.arm_endpoint()), None).await;
    assert_eq!(s, 200);
    assert_eq!(status["status"], "InProgress");
    // A second create while the first runs is refused.
    let (s, _, body) = c.call("PUT", &service_path("rg1", "apimService1"), Some(&json!({"location": "East US", "sku": {"name": "Premium", "capacity": 1}, "properties": {"publisherEmail": "a@b.c", "publisherName": "x"}}))).await;
    assert_eq!(s, 409, "{body}");
}

#[tokio::test]
async fn get_list_and_delete_service() {
    let c = Client::new(0.0).await;
    c.group("rg1").await;
    let create = example("apimanagement/ApiManagementCreateService.json");
    let (s, _, _) = c
        .call(
            "PUT",
            &service_path("rg1", "apimService1"),
            Some(&create["parameters"]["parameters"]),
        )
        .await;
    assert_eq!(s, 201);
    let (s, _, body) = c.call("GET", &service_path("rg1", "apimService1"), None).await;
    assert_eq!(s, 200);
    // The example's response tags are not the ones its request sent.
    assert_shape(&create["responses"]["200"]["body"], &body, &["tags.api-version"]);
    assert_eq!(body["properties"]["provisioningState"], "Succeeded");
    assert_eq!(body["properties"]["targetProvisioningState"], "");

    let get = example("apimanagement/ApiManagementServiceGetService.json");
    // Not modelled: managed identity details, zones, networking and cert settings the toolkit never reads.
    let not_modelled = [
        "identity",
        "tags",
        "properties.privateEndpointConnections",
        "properties.certificates",
        "properties.virtualNetworkConfiguration",
        "properties.additionalLocations",
        "properties.apiVersionConstraint",
        "properties.privateIPAddresses",
        "properties.hostnameConfigurations[].certificate",
        "properties.hostnameConfigurations[].keyVaultId",
        "properties.hostnameConfigurations[].identityClientId",
        "properties.hostnameConfigurations[].certificateStatus",
        "properties.natGatewayState",
        "properties.outboundPublicIPAddresses",
        "properties.developerPortalStatus",
        "properties.legacyPortalStatus",
        "properties.releaseChannel",
        "properties.configurationApi",
        "properties.nsgRule",
    ];
    assert_shape(&get["responses"]["200"]["body"], &body, &not_modelled);

    let list = example("apimanagement/ApiManagementListServiceBySubscriptionAndResourceGroup.json");
    let (s, _, body) = c
        .call(
            "GET",
            &format!(
                "/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg1/providers/Microsoft.ApiManagement/service?api-version=2024-05-01"
            ),
            None,
        )
        .await;
    assert_eq!(s, 200);
    assert_shape(
        &list["responses"]["200"]["body"],
        &body,
        &not_modelled
            .iter()
            .map(|n| format!("value[].{n}"))
            .collect::<Vec<_>>()
            .iter()
            .map(String::as_str)
            .collect::<Vec<_>>(),
    );

    let del = example("apimanagement/ApiManagementServiceDeleteService.json");
    let (s, h, body) = c.call("DELETE", &service_path("rg1", "apimService1"), None).await;
    assert_eq!(s, 202);
    assert!(h["location"].to_str().unwrap().contains("/operationresults/"));
    assert_shape(&del["responses"]["202"]["body"], &body, &not_modelled);
    let (s, _, _) = c.call("DELETE", &service_path("rg1", "apimService1"), None).await;
    assert_eq!(s, 204, "deleting what is gone");
}

#[tokio::test]
async fn storage_account_container_and_keys() {
    let slow = Client::new(1.0).await;
    slow.group("res9101").await;
    let create = example("storage/StorageAccountCreate.json");
    let path = |_: &Client| {
        format!("/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/res9101/providers/Microsoft.Storage/storageAccounts/sto4445?api-version=2026-09-01")
    };
    let (s, h, body) = slow.call("PUT", &path(&slow), Some(&create["parameters"]["parameters"])).await;
    assert_eq!(s, 202);
    assert_eq!(body, Value::Null, "202 has no body");
    assert!(h["location"].to_str().unwrap().contains("/providers/Microsoft.Storage/operations/"));
    let (s, _, _) = slow.call("GET", &path(&slow), None).await;
    assert_eq!(s, 404, "not visible until created");

    let c = Client::new(0.0).await;
    c.group("res9101").await;
    let (s, _, body) = c.call("PUT", &path(&c), Some(&create["parameters"]["parameters"])).await;
    assert_eq!(s, 200);
    // Echoes of request settings the emulator keeps as given; server-computed extras it does not model.
    let not_modelled = [
        "extendedLocation",
        "properties.encryption.services.blob.lastEnabledTime",
        "properties.encryption.services.file.lastEnabledTime",
        "properties.primaryEndpoints.dfs",
        "properties.primaryEndpoints.internetEndpoints",
        "properties.primaryEndpoints.microsoftEndpoints",
        "properties.primaryEndpoints.web",
        "properties.primaryEndpoints.file",
        "properties.primaryEndpoints.queue",
        "properties.primaryEndpoints.table",
        "properties.secondaryEndpoints",
        "properties.secondaryLocation",
        "properties.statusOfSecondary",
        "properties.geoReplicationStats",
        "properties.isHnsEnabled",
        "properties.keyPolicy",
        "properties.networkRuleSet",
        "properties.routingPreference",
        "properties.sasPolicy",
        "properties.minimumTlsVersion",
        "properties.allowBlobPublicAccess",
        "properties.allowSharedKeyAccess",
        "properties.defaultToOAuthAuthentication",
        "properties.isSftpEnabled",
        "properties.dualStackEndpointPreference",
        "properties.publicNetworkAccess",
        "properties.accessTier",
        "properties.azureFilesIdentityBasedAuthentication",
        "properties.largeFileSharesState",
        "properties.immutableStorageWithVersioning",
        "properties.allowCrossTenantReplication",
        "properties.dnsEndpointType",
        "properties.supportsHttpsTrafficOnly",
        "properties.provisioningState",
        "properties.geoPriorityReplicationStatus",
        "properties.accountMigrationInProgress",
        "properties.isSkuConversionBlocked",
        "properties.allowCrossTenantDelegationSas",
    ];
    assert_shape(&create["responses"]["200"]["body"], &body, &not_modelled);
    let get = example("storage/StorageAccountGetProperties.json");
    let (s, _, body) = c.call("GET", &path(&c), None).await;
    assert_eq!(s, 200);
    assert_shape(&get["responses"]["200"]["body"], &body, &not_modelled);

    let keys = example("storage/StorageAccountListKeys.json");
    let (s, _, body) = c.call("POST", &format!("/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/res9101/providers/Microsoft.Storage/storageAccounts/sto4445/listKeys?api-version=2025-06-01"), None).await;
    assert_eq!(s, 200);
    assert_shape(&keys["responses"]["200"]["body"], &body, &[]);

    let container = example("storage/BlobContainersPut.json");
    let cpath = format!("/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/res9101/providers/Microsoft.Storage/storageAccounts/sto4445/blobServices/default/containers/container6185?api-version=2026-09-01");
    let (s, _, body) = c.call("PUT", &cpath, Some(&container["parameters"]["blobContainer"])).await;
    assert_eq!(s, 201);
    assert_shape(&container["responses"]["201"]["body"], &body, &[]);
    let (s, _, body) = c.call("PUT", &cpath, Some(&json!({}))).await;
    assert_eq!(s, 200);
    assert_shape(&container["responses"]["200"]["body"], &body, &[]);
}

#[tokio::test]
async fn errors_are_the_ones_arm_gives() {
    let c = Client::new(0.0).await;
    c.group("rg1").await;
    let svc = json!({"location": "westeurope", "sku": {"name": "Developer", "capacity": 1}, "properties": {"publisherEmail": "a@b.c", "publisherName": "x"}});
    let base = format!("/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg1/providers/Microsoft.ApiManagement/service/apim-a");
    let cases: Vec<(&str, String, Option<Value>, u16, &str)> = vec![
        ("GET", base.clone(), None, 400, "MissingApiVersionParameter"),
        ("GET", format!("{base}?api-version=2099-01-01"), None, 400, "NoRegisteredProviderFound"),
        ("GET", format!("/subscriptions/{SUBSCRIPTION_ID}/resourcegroups/rg1?api-version=1999-01-01"), None, 400, "InvalidApiVersionParameter"),
        ("GET", format!("{base}?api-version=2024-05-01"), None, 404, "ResourceNotFound"),
        ("PUT", format!("/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/nope/providers/Microsoft.ApiManagement/service/apim-a?api-version=2024-05-01"), Some(svc.clone()), 404, "ResourceGroupNotFound"),
        ("PUT", format!("/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg1/providers/Microsoft.ApiManagement/service/9bad?api-version=2024-05-01"), Some(svc.clone()), 400, "InvalidResourceName"),
        ("PUT", format!("{base}?api-version=2024-05-01"), Some(json!({"sku": {"name": "Developer", "capacity": 1}})), 400, "LocationRequired"),
        ("PUT", format!("{base}?api-version=2024-05-01"), Some(json!({"location": "westeurope", "sku": {"name": "Developer", "capacity": 1}, "properties": {}})), 400, "ValidationError"),
        ("PUT", format!("{base}?api-version=2024-05-01"), Some(json!({"location": "westeurope", "sku": {"name": "Consumption", "capacity": 1}, "properties": {"publisherEmail": "a@b.c", "publisherName": "x"}})), 400, "ValidationError"),
        ("PUT", format!("/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/Bad?api-version=2023-05-01"), Some(json!({"location": "westeurope", "sku": {"name": "Standard_LRS"}, "kind": "StorageV2"})), 400, "AccountNameInvalid"),
    ];
    for (method, path, body, status, code) in cases {
        let (s, _, b) = c.call(method, &path, body.as_ref()).await;
        assert_eq!(
            (s, b["error"]["code"].as_str().unwrap_or("")),
            (status, code),
            "{method} {path}: {b}"
        );
        assert!(b["error"]["message"].as_str().is_some_and(|m| !m.is_empty()));
    }

    // Malformed JSON.
    let r = c
        .http
        .put(format!("{}{base}?api-version=2024-05-01", c.emu.arm_endpoint()))
        .bearer_auth(&c.token)
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "InvalidRequestContent");

    // Names are global: the same name in another group is taken.
    c.group("rg2").await;
    assert_eq!(c.call("PUT", &format!("{base}?api-version=2024-05-01"), Some(&svc)).await.0, 201);
    let (s, _, b) = c.call("PUT", &format!("/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg2/providers/Microsoft.ApiManagement/service/APIM-A?api-version=2024-05-01"), Some(&svc)).await;
    assert_eq!((s, b["error"]["code"].as_str().unwrap()), (409, "ServiceAlreadyExists"));
}

#[tokio::test]
async fn tokens_are_checked_on_every_call() {
    let c = Client::new(0.0).await;
    let url = format!(
        "{}/subscriptions/{SUBSCRIPTION_ID}/resourcegroups/rg1?api-version=2025-04-01",
        c.emu.arm_endpoint()
    );
    let r = c.http.get(&url).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert!(r.headers().contains_key("www-authenticate"));
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "AuthenticationFailed");
    let r = c.http.get(&url).bearer_auth("forged").send().await.unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "InvalidAuthenticationToken");
    let other = url.replace(SUBSCRIPTION_ID, apim_emulator::FORBIDDEN_SUBSCRIPTION_ID);
    let r = c.http.get(&other).bearer_auth(&c.token).send().await.unwrap();
    assert_eq!(r.status().as_u16(), 403);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "AuthorizationFailed");
    // Token endpoint errors look like Entra ID's.
    let (status, b) = token_request(&c.http, &c.emu, "wrong").await;
    assert_eq!(status, 401);
    assert_eq!(b["error"], "invalid_client");
    assert_eq!(b["error_codes"], json!([7000215]));
}

#[tokio::test]
async fn expired_tokens_are_refused() {
    let emu = Emulator::start(Config {
        time_scale: 0.0,
        token_lifetime_secs: 1,
        ..Default::default()
    })
    .await
    .unwrap();
    let http = https(&emu);
    let (_, v) = token_request(&http, &emu, &emu.client_secret()).await;
    assert_eq!(v["expires_in"], 1);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let r = http
        .get(format!(
            "{}/subscriptions/{SUBSCRIPTION_ID}/resourcegroups/rg1?api-version=2025-04-01",
            emu.arm_endpoint()
        ))
        .bearer_auth(v["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 401);
    assert_eq!(r.json::<Value>().await.unwrap()["error"]["code"], "ExpiredAuthenticationToken");
}

#[tokio::test]
async fn state_survives_a_restart() {
    let dir = std::env::temp_dir().join(format!("emu-state-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("state.json");
    let _ = std::fs::remove_file(&file);
    let cfg = Config {
        time_scale: 0.0,
        state_file: Some(file.clone()),
        ..Default::default()
    };
    let c = Client::connect(Emulator::start(cfg.clone()).await.unwrap()).await;
    let secret = c.emu.client_secret();
    c.group("kept").await;
    c.emu.shutdown();
    let again = Emulator::start(cfg).await.unwrap();
    assert_eq!(again.client_secret(), secret, "credentials persist with the state");
    // The token issued before the restart is still good.
    let c2 = Client {
        http: https(&again),
        token: c.token.clone(),
        emu: again,
    };
    let (s, _, body) = c2
        .call(
            "GET",
            &format!("/subscriptions/{SUBSCRIPTION_ID}/resourcegroups/kept?api-version=2025-04-01"),
            None,
        )
        .await;
    assert_eq!(s, 200, "{body}");
    let _ = std::fs::remove_dir_all(&dir);
}

fn nv_url(id: &str) -> String {
    format!("/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg1/providers/Microsoft.ApiManagement/service/apimService1/namedValues/{id}?api-version=2024-05-01")
}

#[tokio::test]
async fn named_values_as_the_examples_show() {
    let c = Client::new(0.0).await;
    c.group("rg1").await;
    let svc = example("apimanagement/ApiManagementCreateService.json");
    assert_eq!(
        c.call("PUT", &service_path("rg1", "apimService1"), Some(&svc["parameters"]["parameters"]))
            .await
            .0,
        201
    );

    let create = example("apimanagement/ApiManagementCreateNamedValue.json");
    let (s, h, body) = c.call("PUT", &nv_url("testprop2"), Some(&create["parameters"]["parameters"])).await;
    assert_eq!(s, 201);
    assert_shape(&create["responses"]["201"]["body"], &body, &[]);
    assert_eq!(body["properties"]["provisioningState"], "InProgress");
    assert!(h["location"]
        .to_str()
        .unwrap()
        .contains("namedValues/testprop2?api-version=2024-05-01&asyncId="));
    let aao = h["azure-asyncoperation"]
        .to_str()
        .unwrap()
        .trim_start_matches(&c.emu.arm_endpoint())
        .to_string();
    assert!(aao.contains("/tenant/operationResults/"));
    assert_eq!(c.call("GET", &aao, None).await.2["status"], "Succeeded");
    let (s, _, body) = c.call("PUT", &nv_url("testprop2"), Some(&create["parameters"]["parameters"])).await;
    assert_eq!(s, 200);
    assert_shape(&create["responses"]["200"]["body"], &body, &[]);

    let get = example("apimanagement/ApiManagementGetNamedValue.json");
    let (s, h, body) = c.call("GET", &nv_url("testprop2"), None).await;
    assert_eq!(s, 200);
    assert_shape(&get["responses"]["200"]["body"], &body, &["properties.value"]);
    let etag = h["etag"].to_str().unwrap().to_string();
    let (s, h, _) = c.call("HEAD", &nv_url("testprop2"), None).await;
    assert_eq!((s, h["etag"].to_str().unwrap()), (200, etag.as_str()));

    let list = example("apimanagement/ApiManagementListNamedValues.json");
    let (s, _, body) = c.call("GET", &nv_url("").replace("/namedValues/?", "/namedValues?"), None).await;
    assert_eq!(s, 200);
    assert_shape(&list["responses"]["200"]["body"], &body, &["value[].properties.value"]);

    // Secrets: never in GET or list, only through listValue.
    let secret = json!({"properties": {"displayName": "secretname", "value": "hidden", "secret": true}});
    assert_eq!(c.call("PUT", &nv_url("secret1"), Some(&secret)).await.0, 201);
    assert!(c.call("GET", &nv_url("secret1"), None).await.2["properties"].get("value").is_none());
    let lv = example("apimanagement/ApiManagementNamedValueListValue.json");
    let (s, _, body) = c.call("POST", &nv_url("secret1").replace("?api", "/listValue?api"), None).await;
    assert_eq!((s, body["value"].as_str()), (200, Some("hidden")));
    assert_shape(&lv["responses"]["200"]["body"], &body, &[]);

    // PATCH needs If-Match; a stale one is 412.
    let update = example("apimanagement/ApiManagementUpdateNamedValue.json");
    let (s, _, body) = c
        .call("PATCH", &nv_url("testprop2"), Some(&update["parameters"]["parameters"]))
        .await;
    assert_eq!((s, body["error"]["code"].as_str()), (400, Some("ValidationError")));
    let (s, _, body) = c
        .call_with(
            "PATCH",
            &nv_url("testprop2"),
            Some(&update["parameters"]["parameters"]),
            "\"stale\"",
        )
        .await;
    assert_eq!((s, body["error"]["code"].as_str()), (412, Some("PreconditionFailed")));
    let (s, _, body) = c
        .call_with("PATCH", &nv_url("testprop2"), Some(&update["parameters"]["parameters"]), &etag)
        .await;
    assert_eq!(s, 200, "{body}");
    assert_shape(&update["responses"]["200"]["body"], &body, &[]);

    // Key Vault references and refresh.
    let kv = example("apimanagement/ApiManagementCreateNamedValueWithKeyVault.json");
    let (s, _, body) = c.call("PUT", &nv_url("testprop6"), Some(&kv["parameters"]["parameters"])).await;
    assert_eq!(s, 201);
    assert_shape(&kv["responses"]["201"]["body"], &body, &[]);
    let kvget = example("apimanagement/ApiManagementGetNamedValueWithKeyVault.json");
    assert_shape(
        &kvget["responses"]["200"]["body"],
        &c.call("GET", &nv_url("testprop6"), None).await.2,
        &[],
    );
    let refresh = example("apimanagement/ApiManagementRefreshNamedValue.json");
    let (s, _, body) = c
        .call("POST", &nv_url("testprop6").replace("?api", "/refreshSecret?api"), None)
        .await;
    assert_eq!(s, 200);
    assert_shape(&refresh["responses"]["200"]["body"], &body, &[]);
    // listValue of a reference answers the vault's secret (the emulator's vault).
    let list_value = nv_url("testprop6").replace("?api", "/listValue?api");
    assert_eq!(
        c.call("POST", &list_value, None).await.2["value"],
        Value::Null,
        "nothing in the vault yet"
    );
    let secret_id = kv["parameters"]["parameters"]["properties"]["keyVault"]["secretIdentifier"]
        .as_str()
        .unwrap();
    let q = url::form_urlencoded::Serializer::new(String::new())
        .append_pair("kv-secret-id", secret_id)
        .append_pair("kv-secret-value", "from-the-vault")
        .finish();
    c.emu.set_faults(&q).unwrap();
    assert_eq!(c.call("POST", &list_value, None).await.2["value"], "from-the-vault");

    // DELETE needs If-Match; then 200, and 204 when gone.
    assert_eq!(c.call("DELETE", &nv_url("testprop2"), None).await.0, 400);
    assert_eq!(c.call_with("DELETE", &nv_url("testprop2"), None, "*").await.0, 200);
    assert_eq!(c.call_with("DELETE", &nv_url("testprop2"), None, "*").await.0, 204);
    // Rules Azure enforces.
    let bad = json!({"properties": {"displayName": "has space", "value": "x"}});
    assert_eq!(
        c.call("PUT", &nv_url("bad"), Some(&bad)).await.2["error"]["code"],
        "ValidationError"
    );
    let blank = json!({"properties": {"displayName": "blank", "value": "   "}});
    assert_eq!(c.call("PUT", &nv_url("blank"), Some(&blank)).await.0, 400);
}

fn entity_url(path: &str) -> String {
    service_path("rg1", "apimService1").replace("?api-version", &format!("/{path}?api-version"))
}

/// Every configuration family, replayed from its official example: the
/// create answers 201 with the example's shape, the same PUT again 200,
/// a GET returns it with an ETag, and the family's own rule is kept.
#[tokio::test]
async fn configuration_families_as_the_examples_show() {
    let c = Client::new(0.0).await;
    c.group("rg1").await;
    let svc = example("apimanagement/ApiManagementCreateService.json");
    let create = c
        .call("PUT", &service_path("rg1", "apimService1"), Some(&svc["parameters"]["parameters"]))
        .await;
    assert_eq!(create.0, 201);
    // Parents the examples assume exist.
    for (path, props) in [
        ("apis/PetStoreTemplate2", json!({"displayName": "Pet store", "path": "pets"})),
        ("apis/5600b57e7e8880006a040001", json!({"displayName": "Echo", "path": "echo"})),
        (
            "apis/echo-api",
            json!({"displayName": "EchoApi", "path": "", "serviceUrl": "https://contoso.com/apis/echo"}),
        ),
        ("products/5702e97e5157a50f48dce801", json!({"displayName": "Starter"})),
        ("namedValues/call-count-id", json!({"displayName": "call-count", "value": "5"})),
    ] {
        let (s, _, b) = c.call("PUT", &entity_url(path), Some(&json!({"properties": props}))).await;
        assert_eq!(s, 201, "{path}: {b}");
    }
    let op = "apis/5600b57e7e8880006a040001/operations/5600b57e7e8880006a080001";
    let (s, _, b) = c
        .call(
            "PUT",
            &entity_url(op),
            Some(&json!({"properties": {"displayName": "get", "method": "GET", "urlTemplate": "/"}})),
        )
        .await;
    assert_eq!(s, 201, "{b}");
    assert_eq!(
        c.call(
            "PUT",
            &entity_url("products/testproduct"),
            Some(&json!({"properties": {"displayName": "x"}}))
        )
        .await
        .0,
        201
    );

    // (example, path, fields the emulator does not model)
    let op_policy = format!("{op}/policies/policy");
    let cases: [(&str, &str, &[&str]); 12] = [
        ("ApiManagementCreateApi.json", "apis/apiid9419", &[]),
        (
            "ApiManagementCreateApiOperation.json",
            "apis/PetStoreTemplate2/operations/newoperations",
            &[],
        ),
        ("ApiManagementCreateApiOperationPolicy.json", &op_policy, &[]),
        ("ApiManagementCreatePolicy.json", "policies/policy", &[]),
        ("ApiManagementCreateProduct.json", "products/testproduct2", &[]),
        ("ApiManagementCreateProductApi.json", "products/testproduct/apis/echo-api", &[]),
        (
            "ApiManagementCreateProductPolicy.json",
            "products/5702e97e5157a50f48dce801/policies/policy",
            &[],
        ),
        ("ApiManagementCreateBackendProxyBackend.json", "backends/proxybackend", &[]),
        // The logger's Application Insights resource is not modelled.
        ("ApiManagementCreateAILogger.json", "loggers/loggerId", &["properties.resourceId"]),
        ("ApiManagementCreateDiagnostic.json", "diagnostics/applicationinsights", &[]),
        ("ApiManagementCreateApiVersionSet.json", "apiVersionSets/api1", &[]),
        ("ApiManagementCreateTag.json", "tags/tagId1", &[]),
    ];
    for (name, path, not_modelled) in cases {
        let ex = example(&format!("apimanagement/{name}"));
        let params = ex["parameters"].get("parameters").cloned();
        let (s, h, body) = c.call("PUT", &entity_url(path), params.as_ref()).await;
        assert_eq!(s, 201, "{name}: {body}");
        assert_shape(&ex["responses"]["201"]["body"], &body, not_modelled);
        assert_eq!(body["type"], ex["responses"]["201"]["body"]["type"], "{name}");
        if ex["responses"]["201"].get("headers").is_some() {
            assert!(
                h.contains_key("azure-asyncoperation") && h.contains_key("location"),
                "{name} is long-running"
            );
        }
        let (s, _, body) = c.call("PUT", &entity_url(path), params.as_ref()).await;
        assert_eq!(s, 200, "{name}: {body}");
        assert_shape(&ex["responses"]["200"]["body"], &body, not_modelled);
        let (s, h, got) = c.call("GET", &entity_url(path), None).await;
        assert_eq!(s, 200, "{name}");
        assert!(h.contains_key("etag"));
        assert_eq!(got["id"], body["id"]);
    }

    // A policy's named value reference is stored by id, as Azure does.
    let (_, _, pol) = c
        .call("GET", &entity_url("products/5702e97e5157a50f48dce801/policies/policy"), None)
        .await;
    assert!(pol["properties"]["value"].as_str().unwrap().contains("{{call-count-id}}"), "{pol}");
    // A logger's key moves into a secret named value the logger references.
    let (_, _, logger) = c.call("GET", &entity_url("loggers/loggerId"), None).await;
    let reference = logger["properties"]["credentials"]["instrumentationKey"].as_str().unwrap();
    let nv = reference.trim_matches(|c| c == '{' || c == '}');
    let (s, _, v) = c.call("POST", &entity_url(&format!("namedValues/{nv}/listValue")), None).await;
    assert_eq!((s, v["value"].as_str()), (200, Some("11................a1")));

    // Lists page in order; a product lists the APIs linked to it.
    let (_, _, apis) = c.call("GET", &entity_url("apis"), None).await;
    let names: Vec<&str> = apis["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["5600b57e7e8880006a040001", "apiid9419", "echo-api", "PetStoreTemplate2"]);
    let (_, _, linked) = c.call("GET", &entity_url("products/testproduct/apis"), None).await;
    assert_eq!(linked["value"][0]["name"], "echo-api");
    assert_eq!(linked["value"][0]["properties"]["serviceUrl"], "https://contoso.com/apis/echo");

    // Display names of named values are unique in a service.
    let dup = json!({"properties": {"displayName": "CALL-COUNT", "value": "6"}});
    assert_eq!(c.call("PUT", &entity_url("namedValues/another"), Some(&dup)).await.0, 400);
    // Rules: a policy is named 'policy'; an operation needs its API; a link needs its target.
    assert_eq!(
        c.call(
            "PUT",
            &entity_url("policies/other"),
            Some(&json!({"properties": {"value": "<policies/>"}}))
        )
        .await
        .0,
        404
    );
    assert_eq!(
        c.call(
            "PUT",
            &entity_url("policies/policy"),
            Some(&json!({"properties": {"value": "not xml"}}))
        )
        .await
        .0,
        400
    );
    let orphan = json!({"properties": {"displayName": "x", "method": "GET", "urlTemplate": "/"}});
    assert_eq!(c.call("PUT", &entity_url("apis/none/operations/x"), Some(&orphan)).await.0, 404);
    assert_eq!(c.call("PUT", &entity_url("products/testproduct/apis/none"), None).await.0, 404);
    assert_eq!(
        c.call("PUT", &entity_url("backends/b"), Some(&json!({"properties": {"url": "https://x"}})))
            .await
            .0,
        400,
        "protocol is required"
    );

    // If-Match guards every family; deleting an API takes its operations and links with it.
    let (_, h, _) = c.call("GET", &entity_url("apis/echo-api"), None).await;
    let stale = "\"AAAAAAAAAAE=\"";
    assert_ne!(h["etag"].to_str().unwrap(), stale);
    assert_eq!(c.call_with("DELETE", &entity_url("apis/echo-api"), None, stale).await.0, 412);
    assert_eq!(
        c.call_with("DELETE", &entity_url("apis/echo-api"), None, h["etag"].to_str().unwrap())
            .await
            .0,
        200
    );
    let (_, _, linked) = c.call("GET", &entity_url("products/testproduct/apis"), None).await;
    assert_eq!(linked["value"], json!([]));
    assert_eq!(c.call("DELETE", &entity_url("apis/5600b57e7e8880006a040001"), None).await.0, 200);
    assert_eq!(c.call("GET", &entity_url(op), None).await.0, 404);
    assert_eq!(c.call("DELETE", &entity_url("apis/5600b57e7e8880006a040001"), None).await.0, 204);
}

/// What clients read before and around their first ARM call: the tenant's
/// OpenID configuration, the cloud's endpoints, subscriptions and tenants,
/// name checks; and tokens that decode as Entra's JWTs.
#[tokio::test]
async fn what_clients_read_before_a_resource() {
    use base64::Engine;
    let c = Client::new(0.0).await;
    let base = c.emu.arm_endpoint();
    let get = |path: String| {
        let http = c.http.clone();
        async move {
            let r = http.get(path).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (s, oidc) = get(format!("{base}/{TENANT_ID}/v2.0/.well-known/openid-configuration")).await;
    assert_eq!(s, 200);
    assert_eq!(oidc["token_endpoint"], format!("{base}/{TENANT_ID}/oauth2/v2.0/token"));
    assert_eq!(oidc["issuer"], format!("{base}/{TENANT_ID}/v2.0"));
    let (s, v1) = get(format!("{base}/{TENANT_ID}/.well-known/openid-configuration")).await;
    assert_eq!((s, v1["token_endpoint"].as_str().unwrap().ends_with("/oauth2/token")), (200, true));
    let (s, disc) = get(format!("{base}/common/discovery/instance?api-version=1.1&authorization_endpoint=x")).await;
    assert_eq!(s, 200);
    assert!(disc["tenant_discovery_endpoint"]
        .as_str()
        .unwrap()
        .ends_with("/v2.0/.well-known/openid-configuration"));
    let (s, clouds) = get(format!("{base}/metadata/endpoints?api-version=2022-09-01")).await;
    assert_eq!(s, 200);
    assert_eq!(clouds["resourceManager"], format!("{base}/"));
    assert_eq!(clouds["authentication"]["loginEndpoint"], format!("{base}/"));

    // The token decodes as a JWT with Entra's claims.
    let parts: Vec<&str> = c.token.split('.').collect();
    assert_eq!(parts.len(), 3);
    let claims: Value = serde_json::from_slice(&base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
    assert_eq!(claims["tid"], TENANT_ID);
    assert_eq!(claims["appid"], apim_emulator::CLIENT_ID);
    assert_eq!(claims["aud"], base);
    assert!(claims["exp"].as_i64().unwrap() > claims["nbf"].as_i64().unwrap());

    let (s, _, subs) = c.call("GET", "/subscriptions?api-version=2022-12-01", None).await;
    assert_eq!((s, subs["value"][0]["subscriptionId"].as_str()), (200, Some(SUBSCRIPTION_ID)));
    let (s, _, sub) = c
        .call("GET", &format!("/subscriptions/{SUBSCRIPTION_ID}?api-version=2022-12-01"), None)
        .await;
    assert_eq!((s, sub["state"].as_str()), (200, Some("Enabled")));
    let (s, _, tenants) = c.call("GET", "/tenants?api-version=2022-12-01", None).await;
    assert_eq!((s, tenants["value"][0]["tenantId"].as_str()), (200, Some(TENANT_ID)));
    let (s, _, _) = c.call("GET", "/subscriptions", None).await;
    assert_eq!(s, 400, "the api-version is required here too");

    let storage = format!("/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Storage/checkNameAvailability?api-version=2025-08-01");
    let (s, _, free) = c
        .call(
            "POST",
            &storage,
            Some(&json!({"name": "freshname01", "type": "Microsoft.Storage/storageAccounts"})),
        )
        .await;
    assert_eq!((s, free["nameAvailable"].as_bool()), (200, Some(true)));
    let (_, _, bad) = c
        .call(
            "POST",
            &storage,
            Some(&json!({"name": "Bad_Name", "type": "Microsoft.Storage/storageAccounts"})),
        )
        .await;
    assert_eq!(bad["reason"], "AccountNameInvalid");
    c.group("rg1").await;
    let svc = example("apimanagement/ApiManagementCreateService.json");
    c.call("PUT", &service_path("rg1", "apimService1"), Some(&svc["parameters"]["parameters"]))
        .await;
    let apim = format!("/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.ApiManagement/checkNameAvailability?api-version=2024-05-01");
    let (s, _, taken) = c.call("POST", &apim, Some(&json!({"name": "apimService1"}))).await;
    assert_eq!(
        (s, taken["nameAvailable"].as_bool(), taken["reason"].as_str()),
        (200, Some(false), Some("AlreadyExists"))
    );
    // Published versions the az CLI sends are served.
    for v in ["2025-08-01", "2023-04-01"] {
        let (s, _, _) = c
            .call(
                "POST",
                &storage.replace("2025-08-01", v),
                Some(&json!({"name": "x1x1x1", "type": "Microsoft.Storage/storageAccounts"})),
            )
            .await;
        assert_eq!(s, 200, "{v}");
    }
}

/// PATCH (Update) of a group, a service and a storage account changes
/// their tags in place, as `az … update --tags` does.
#[tokio::test]
async fn patch_updates_in_place() {
    let c = Client::new(0.0).await;
    c.group("rg1").await;
    let group = format!("/subscriptions/{SUBSCRIPTION_ID}/resourcegroups/rg1?api-version=2025-04-01");
    let (s, _, g) = c.call("PATCH", &group, Some(&json!({"tags": {"env": "test"}}))).await;
    assert_eq!((s, g["tags"]["env"].as_str()), (200, Some("test")));
    let svc = example("apimanagement/ApiManagementCreateService.json");
    c.call("PUT", &service_path("rg1", "apimService1"), Some(&svc["parameters"]["parameters"]))
        .await;
    let (s, _, b) = c
        .call(
            "PATCH",
            &service_path("rg1", "apimService1"),
            Some(&json!({"tags": {"owner": "ops"}, "properties": {"publisherName": "Ops"}})),
        )
        .await;
    assert_eq!(s, 200, "{b}");
    assert_eq!(b["tags"], json!({"owner": "ops"}));
    assert_eq!(b["properties"]["publisherName"], "Ops");
    let (_, _, again) = c.call("GET", &service_path("rg1", "apimService1"), None).await;
    assert_eq!(again["tags"], json!({"owner": "ops"}));
    let (s, _, _) = c.call("PATCH", &service_path("rg1", "nothere"), Some(&json!({"tags": {}}))).await;
    assert_eq!(s, 404);
    // A PUT keeps custom hostnames and TLS settings (they are not the emulator's to drop).
    let mut put = svc["parameters"]["parameters"].clone();
    put["properties"]["hostnameConfigurations"] = json!([{"type": "Proxy", "hostName": "api.contoso.example", "certificateSource": "KeyVault", "keyVaultId": "https://kv.vault.azure.net/secrets/cert"}]);
    put["properties"]["customProperties"] = json!({"Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Protocols.Tls10": "False"});
    let (s, _, _) = c.call("PUT", &service_path("rg1", "apimService1"), Some(&put)).await;
    assert_eq!(s, 200);
    let (_, _, got) = c.call("GET", &service_path("rg1", "apimService1"), None).await;
    let hosts: Vec<&str> = got["properties"]["hostnameConfigurations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["hostName"].as_str().unwrap())
        .collect();
    assert_eq!(hosts, ["apimservice1.azure-api.net", "api.contoso.example"]);
    assert_eq!(
        got["properties"]["customProperties"]["Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Protocols.Tls10"],
        "False"
    );
}

/// A backup fails, as Azure reports it in the operation's error, for the
/// storage-side reasons a rehearsal should show: the account's firewall,
/// shared key access switched off, a managed identity without a role.
#[tokio::test]
async fn storage_side_refusals_fail_the_backup() {
    let c = Client::new(0.0).await;
    c.group("rg1").await;
    let mut svc = example("apimanagement/ApiManagementCreateService.json")["parameters"]["parameters"].clone();
    svc["identity"] = json!({"type": "SystemAssigned"});
    assert_eq!(c.call("PUT", &service_path("rg1", "apimService1"), Some(&svc)).await.0, 201);
    let account = format!(
        "/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/backups1?api-version=2025-08-01"
    );
    let create = example("storage/StorageAccountCreate.json");
    assert_eq!(c.call("PUT", &account, Some(&create["parameters"]["parameters"])).await.0, 200);
    let backup = |access: &str| {
        let body = if access == "AccessKey" {
            json!({"storageAccount": "backups1", "containerName": "c", "backupName": "b", "accessType": access, "accessKey": "k"})
        } else {
            json!({"storageAccount": "backups1", "containerName": "c", "backupName": "b", "accessType": access})
        };
        let c = &c;
        async move {
            let (s, h, _) = c
                .call(
                    "POST",
                    &service_path("rg1", "apimService1").replace("?api", "/backup?api"),
                    Some(&body),
                )
                .await;
            assert_eq!(s, 202);
            let loc = h["location"]
                .to_str()
                .unwrap()
                .trim_start_matches(&c.emu.arm_endpoint())
                .to_string();
            let (s, _, status) = c.call("GET", &loc, None).await;
            (s, status)
        }
    };
    c.call(
        "PATCH",
        &account,
        Some(&json!({"properties": {"networkAcls": {"defaultAction": "Deny", "bypass": "None"}}})),
    )
    .await;
    let (_, failed) = backup("AccessKey").await;
    assert_eq!(failed["error"]["code"], "BackupFailed", "{failed}");
    assert!(failed["error"]["message"].as_str().unwrap().contains("AuthorizationFailure"));
    // Trusted Azure services let a managed identity through the firewall, not a key.
    c.call(
        "PATCH",
        &account,
        Some(&json!({"properties": {"networkAcls": {"defaultAction": "Deny", "bypass": "AzureServices"}, "allowSharedKeyAccess": false}})),
    )
    .await;
    let (_, failed) = backup("AccessKey").await;
    assert!(
        failed["error"]["message"].as_str().unwrap().contains("AuthorizationFailure"),
        "{failed}"
    );
    c.call(
        "PATCH",
        &account,
        Some(&json!({"properties": {"networkAcls": {"defaultAction": "Allow"}}})),
    )
    .await;
    let (_, failed) = backup("AccessKey").await;
    assert!(
        failed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("KeyBasedAuthenticationNotPermitted"),
        "{failed}"
    );
    c.emu.set_faults("no-role-on=backups1").unwrap();
    let (_, failed) = backup("SystemAssignedManagedIdentity").await;
    assert!(
        failed["error"]["message"]
            .as_str()
            .unwrap()
            .contains("AuthorizationPermissionMismatch"),
        "{failed}"
    );
}

/// The lists `az group list`, `az storage account list` and
/// `az storage container list` read.
#[tokio::test]
async fn lists_of_groups_accounts_and_containers() {
    let c = Client::new(0.0).await;
    c.group("rg1").await;
    c.group("rg2").await;
    let (s, _, groups) = c
        .call(
            "GET",
            &format!("/subscriptions/{SUBSCRIPTION_ID}/resourcegroups?api-version=2021-04-01"),
            None,
        )
        .await;
    assert_eq!(s, 200);
    let names: Vec<&str> = groups["value"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| g["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["rg1", "rg2"]);
    let create = example("storage/StorageAccountCreate.json");
    let account = format!(
        "/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts/backups1?api-version=2025-08-01"
    );
    assert_eq!(c.call("PUT", &account, Some(&create["parameters"]["parameters"])).await.0, 200);
    let container = account.replace("?api", "/blobServices/default/containers/apim-backups?api");
    let (s, _, _) = c.call("PUT", &container, Some(&json!({}))).await;
    assert!(s == 200 || s == 201);
    for path in [
        format!("/subscriptions/{SUBSCRIPTION_ID}/providers/Microsoft.Storage/storageAccounts?api-version=2025-08-01"),
        format!("/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg1/providers/Microsoft.Storage/storageAccounts?api-version=2025-08-01"),
    ] {
        let (s, _, list) = c.call("GET", &path, None).await;
        assert_eq!((s, list["value"][0]["name"].as_str()), (200, Some("backups1")), "{path}");
    }
    let (_, _, none) = c
        .call(
            "GET",
            &format!(
                "/subscriptions/{SUBSCRIPTION_ID}/resourceGroups/rg2/providers/Microsoft.Storage/storageAccounts?api-version=2025-08-01"
            ),
            None,
        )
        .await;
    assert_eq!(none["value"], json!([]));
    let (s, _, containers) = c
        .call("GET", &account.replace("?api", "/blobServices/default/containers?api"), None)
        .await;
    assert_eq!((s, containers["value"][0]["name"].as_str()), (200, Some("apim-backups")));
}
