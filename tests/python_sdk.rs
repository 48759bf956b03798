//! Microsoft's Python clients (azure-identity, the APIM management SDK;
//! from PyPI, pinned) against the emulator, configured only with the
//! authority and the CA: a token, a service create, a backup and a named
//! value update, checked in the emulator and in Azurite afterwards; every
//! family through the APIM SDK; role assignments and diagnostic settings
//! through the authorization and monitor SDKs.

use crate::common::*;
use apim_toolkit::azurite_blob;

/// Runs `tests/python/{script}` with the pinned SDKs, pointed at the
/// emulator; it must succeed, and what it printed is one JSON document.
fn run_script(emu: &apim_toolkit::EmulatorProcess, script: &str, args: &[&str], env: &[(&str, &str)]) -> serde_json::Value {
    let python = apim_toolkit::pypi_tool("python-azure")
        .expect("the Python SDKs install from PyPI")
        .join("python");
    let out = std::process::Command::new(python)
        .arg(apim_toolkit::workspace_root().join("tests/python").join(script))
        .args(args)
        .envs(emu.env())
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "tests/python/{script} failed: {err}");
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn azure_identity_and_the_management_sdk_run_the_seed_flow() {
    let emu = emulator(0.001);
    let container = unique_container();
    storage(&emu, &container);
    let keys = format!("/subscriptions/{SUB}/resourceGroups/apim-rg/providers/Microsoft.Storage/storageAccounts/apimbackups/listKeys?api-version=2025-08-01");
    let (s, _, k) = emu.arm("POST", &keys, None).unwrap();
    assert_eq!(s, 200, "{k}");
    let key = k["keys"][0]["value"].as_str().unwrap().to_string();
    let said = run_script(
        &emu,
        "sdk_flow.py",
        &["apim-rg", "apim-py", "apimbackups", &container],
        &[("STORAGE_KEY", &key)],
    );
    assert_eq!(said["service"], "Succeeded");
    assert_eq!(said["namedValue"], "https://api.dest.example.com");
    // The token is a JWT with the claims Entra puts in app tokens.
    let c = &said["claims"];
    let env = |k: &str| emu.env().into_iter().find(|(n, _)| n == k).unwrap().1;
    assert_eq!(c["tid"], env("AZURE_TENANT_ID"));
    assert_eq!(c["appid"], env("AZURE_CLIENT_ID"));
    assert!(c["aud"].as_str().unwrap().starts_with("https://127.0.0.1:"));
    assert!(c["oid"].is_string() && c["iss"].as_str().unwrap().contains(&env("AZURE_TENANT_ID")));
    assert!(c["exp"].as_i64().unwrap() > c["nbf"].as_i64().unwrap());
    // What the SDK did is there: the service, the blob in Azurite, the new value.
    assert_eq!(service_state(&emu, "apim-py"), "Succeeded");
    let blob = azurite_blob("apimbackups", &container, "python-sdk.apimbackup").unwrap();
    assert!(blob.is_some_and(|b| b.size > 0), "the backup blob is in Azurite");
    let nv = entity_path("apim-py", "namedValues/backend-host");
    let (_, _, body) = emu.arm("GET", &nv, None).unwrap();
    assert_eq!(body["properties"]["value"], "https://api.dest.example.com");
}

#[test]
fn the_management_sdk_writes_and_reads_every_family() {
    let emu = emulator(0.0);
    let container = unique_container();
    provision_all(&emu, &container);
    let said = run_script(&emu, "sdk_families.py", &["apim-rg", "apim-src"], &[]);
    // Every top-level family of the registry, and every family below one,
    // was written by the SDK, and the emulator holds it.
    let written: Vec<&str> = said["written"].as_array().unwrap().iter().map(|p| p.as_str().unwrap()).collect();
    for f in apim_families::FAMILIES {
        assert!(
            written
                .iter()
                .any(|p| apim_families::family_of(p).is_some_and(|g| g.name == f.name)),
            "the SDK wrote no {}",
            f.name
        );
    }
    for p in &written {
        let (s, _, b) = emu.arm("GET", &entity_path("apim-src", p), None).unwrap();
        assert_eq!(s, 200, "{p}: {b}");
    }
    let read = &said["read"];
    assert_eq!(read["user"], "alice@contoso.example");
    assert_eq!(read["subscriptionKey"], "primary-1");
    assert_eq!(read["authorizationServerSecret"], "as-secret");
    assert_eq!(read["identityProviderSecret"], "idp-secret");
    assert_eq!(read["openIdSecret"], "oidc-secret");
    assert_eq!(read["delegationKey"], "dmFsaWRhdGlvbi1rZXk=");
    assert_eq!(read["gatewayHost"], "api.src.example.com");
    assert!(read["fragment"].as_str().unwrap().starts_with("<fragment>"));
    assert_eq!(read["certificateThumbprint"].as_str().unwrap().len(), 40);
    assert_eq!(read["groupUsers"], serde_json::json!(["alice"]));
    assert!(
        read["cacheConnection"].as_str().unwrap().starts_with("{{"),
        "the connection string became a named value"
    );
    assert_eq!(read["resolverPath"], "Query/users");
    assert_eq!(read["contentItems"], serde_json::json!(["home"]));
}

#[test]
fn the_authorization_and_monitor_sdks_drive_role_assignments_and_diagnostic_settings() {
    let emu = emulator(0.0);
    let container = unique_container();
    provision_all(&emu, &container);
    let principal = uuid_like("python-principal");
    let said = run_script(&emu, "sdk_extensions.py", &["apim-rg", "apim-src", &principal], &[]);
    let name = said["roleName"].as_str().unwrap();
    assert!(said["roleScope"].as_str().unwrap().ends_with("/vaults/contoso-vault"));
    assert_eq!(said["roleDefinition"], "4633458b-17de-408a-b874-0445c86b69e6");
    assert_eq!(said["roleRead"], principal.as_str());
    assert_eq!(said["atScope"], serde_json::json!([name]));
    assert_eq!(said["byPrincipal"], serde_json::json!([name]));
    assert_eq!(said["afterDelete"], serde_json::json!([]));
    assert!(said["settingWorkspace"].as_str().unwrap().ends_with("/workspaces/ops"));
    assert_eq!(said["settingRead"], serde_json::json!(["GatewayLogs"]));
    assert_eq!(said["settings"], serde_json::json!(["to-workspace"]));
    assert_eq!(said["settingsAfterDelete"], serde_json::json!([]));
}
