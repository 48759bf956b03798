//! Key Vault named values after a copy: the target's identity is new, so
//! `apim-namedvalues refresh` (and the end of `apim-restore`) finds each
//! reference its identity cannot read, naming the identity and the vault;
//! a restore whose source reads a vault with an identity the target lacks
//! is refused before it starts.

use crate::common::*;
use predicates::prelude::PredicateBooleanExt;
use predicates::str::contains;
use serde_json::{json, Value};

const SECRETS_USER: &str = "4633458b-17de-408a-b874-0445c86b69e6";

fn vault_scope(name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/apim-rg/providers/Microsoft.KeyVault/vaults/{name}")
}

/// Turns on the service's identities (system, and the one user-assigned
/// identity `ops-id`); the body ARM answers.
fn with_identities(emu: &apim_toolkit::EmulatorProcess, service: &str) -> Value {
    let (_, _, mut body) = emu.arm("GET", &service_path(service), None).unwrap();
    let uami = format!("/subscriptions/{SUB}/resourceGroups/apim-rg/providers/Microsoft.ManagedIdentity/userAssignedIdentities/ops-id");
    body["identity"] = json!({"type": "SystemAssigned, UserAssigned", "userAssignedIdentities": {uami: {}}});
    let (st, _, updated) = emu.arm("PUT", &service_path(service), Some(&body)).unwrap();
    assert_eq!(st, 200, "{updated}");
    wait_until("the identity update", || service_state(emu, service) == "Succeeded");
    updated
}

fn kv(emu: &apim_toolkit::EmulatorProcess, service: &str, name: &str, vault: &str, client: Option<&str>) {
    let mut kv = json!({"secretIdentifier": format!("https://{vault}.vault.azure.net/secrets/{name}")});
    if let Some(c) = client {
        kv["identityClientId"] = json!(c);
    }
    put_entity(
        emu,
        service,
        &format!("namedValues/{name}"),
        &json!({"properties": {"displayName": name, "keyVault": kv}}),
    );
}

#[test]
fn refresh_names_the_identity_and_vault_that_cannot_be_read_and_waits_for_202s() {
    let rig = Rig::new();
    let dest = with_identities(&rig.emu, "apim-dest");
    let principal = dest["identity"]["principalId"].as_str().unwrap().to_string();
    kv(&rig.emu, "apim-dest", "kv-system", "kv-app", None);
    kv(
        &rig.emu,
        "apim-dest",
        "kv-stranger",
        "kv-app",
        Some("00000000-0000-4000-8000-0000000000aa"),
    );
    // Half of the refreshes answer 202: each is polled to its end.
    rig.emu.fault("accepted-share=2").unwrap();
    let refresh = || {
        bin("apim-namedvalues", &rig.emu)
            .args(["refresh", "--service", &rig.path("dest.json")])
            .output()
            .unwrap()
    };
    let out = refresh();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let statuses = docs(&out.stdout);
    let codes: Vec<(&str, &str)> = statuses
        .iter()
        .map(|s| (s["displayName"].as_str().unwrap(), s["code"].as_str().unwrap()))
        .collect();
    assert_eq!(codes, [("kv-stranger", "IdentityNotFound"), ("kv-system", "Forbidden")]);
    assert!(statuses.iter().all(|s| s["kind"] == "apim.namedvalue.status"));
    assert!(
        err.contains("kv-system cannot read vault 'kv-app' with the system-assigned identity")
            && err.contains("user-assigned identity 00000000-0000-4000-8000-0000000000aa"),
        "{err}"
    );

    // The role the new identity lacked, given: the vault reads again.
    grant(&rig.emu, &vault_scope("kv-app"), SECRETS_USER, &principal);
    // The stranger's reference is pointed at the system identity.
    kv(&rig.emu, "apim-dest", "kv-stranger", "kv-app", None);
    let out = refresh();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let statuses = docs(&out.stdout);
    assert_eq!(statuses.len(), 2);
    assert!(statuses.iter().all(|s| s["code"] == "Success"), "{statuses:?}");
    let (_, _, nv) = rig.emu.arm("GET", &nv_path("apim-dest", "namedValues", "kv-system"), None).unwrap();
    assert_eq!(nv["properties"]["keyVault"]["lastStatus"]["code"], "Success");
}

#[test]
fn a_restore_needs_the_identities_the_sources_vault_references_read_with_and_refreshes_them_after() {
    let rig = Rig::new();
    let src = with_identities(&rig.emu, "apim-src");
    let uami = src["identity"]["userAssignedIdentities"]
        .as_object()
        .unwrap()
        .values()
        .next()
        .unwrap()
        .clone();
    let client = uami["clientId"].as_str().unwrap().to_string();
    kv(&rig.emu, "apim-src", "kv-ops", "kv-ops", Some(&client));
    let backup = rig.backup(&rig.services[0], &[]);
    let restore = |extra: &[&str]| {
        bin("apim-restore", &rig.emu)
            .args(["--target", &rig.path("dest.json"), "--no-safety-backup", "--allow-emptying-target"])
            .args(extra)
            .write_stdin(backup.to_string())
            .output()
            .unwrap()
    };
    let writes = rig.stat("writes");
    let out = restore(&["--dry-run"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{err}");
    assert!(err.contains(&format!("kv-ops (user-assigned identity {client})")), "{err}");
    assert_eq!(rig.stat("writes"), writes, "refused before anything was written");

    // The same user-assigned identity on the target (same client id, as an
    // identity is a resource of its own), without its vault role yet: the
    // restore runs, and its refresh says the vault cannot be read.
    with_identities(&rig.emu, "apim-dest");
    let out = restore(&[]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("the restore succeeded") && err.contains("vault 'kv-ops'"), "{err}");
    let said = docs(&out.stdout);
    assert!(said.iter().any(|d| d["kind"] == "apim.restore" && d["status"] == "Succeeded"));
    assert!(said
        .iter()
        .any(|d| d["kind"] == "apim.namedvalue.status" && d["code"] == "Forbidden"));
    // Given the role, a refresh reads it.
    grant(
        &rig.emu,
        &vault_scope("kv-ops"),
        SECRETS_USER,
        uami["principalId"].as_str().unwrap(),
    );
    bin("apim-namedvalues", &rig.emu)
        .args(["refresh", "--service", &rig.path("dest.json")])
        .assert()
        .success()
        .stdout(contains("\"code\":\"Success\"").and(contains("kv-ops")));
}

#[test]
fn like_carries_hosts_protocols_identities_and_roles_so_the_copy_reads_its_vault() {
    let rig = Rig::new();
    const OLD: &str = "api.src.example.com";
    const NEW: &str = "api.dest.example.com";
    // The source as an operator set it up by hand: a custom domain with a
    // Key Vault certificate, TLS 1.0 on, both kinds of identity, a minimum
    // API version, and a vault its system identity may read.
    let src = with_identities(&rig.emu, "apim-src");
    let settings = json!({"properties": {
        "hostnameConfigurations": [{"type": "Proxy", "hostName": OLD, "certificateSource": "KeyVault", "keyVaultId": "https://kv-app.vault.azure.net/secrets/gateway", "negotiateClientCertificate": false, "defaultSslBinding": false}],
        "customProperties": {"Microsoft.WindowsAzure.ApiManagement.Gateway.Security.Protocols.Tls10": "True"},
        "apiVersionConstraint": {"minApiVersion": "2021-08-01"}}});
    let (st, _, b) = rig.emu.arm("PATCH", &service_path("apim-src"), Some(&settings)).unwrap();
    assert_eq!(st, 200, "{b}");
    wait_until("the settings update", || service_state(&rig.emu, "apim-src") == "Succeeded");
    let diagnostics = |service: &str| {
        format!("/subscriptions/{SUB}/resourceGroups/apim-rg/providers/Microsoft.ApiManagement/service/{service}/providers/Microsoft.Insights/diagnosticSettings")
    };
    let workspace = format!("/subscriptions/{SUB}/resourceGroups/ops/providers/Microsoft.OperationalInsights/workspaces/logs");
    let monitor = json!({"properties": {"workspaceId": workspace, "logs": [{"categoryGroup": "allLogs", "enabled": true}], "metrics": [{"category": "AllMetrics", "enabled": true}]}});
    let (st, _, b) = rig
        .emu
        .arm(
            "PUT",
            &format!("{}/to-logs?api-version=2021-05-01-preview", diagnostics("apim-src")),
            Some(&monitor),
        )
        .unwrap();
    assert_eq!(st, 200, "{b}");
    grant(
        &rig.emu,
        &vault_scope("kv-app"),
        SECRETS_USER,
        src["identity"]["principalId"].as_str().unwrap(),
    );
    kv(&rig.emu, "apim-src", "kv-app-key", "kv-app", None);
    let service_diffs = || {
        let out = bin("apim-diff", &rig.emu)
            .args([
                "--expect-host",
                &format!("{OLD}={NEW}"),
                &rig.path("src.json"),
                &rig.path("dest.json"),
            ])
            .output()
            .unwrap();
        docs(&out.stdout)
            .into_iter()
            .filter(|d| d["path"] == "service")
            .map(|d| d["property"].as_str().unwrap().to_string())
            .collect::<Vec<_>>()
    };
    assert_eq!(
        service_diffs(),
        ["apiVersionConstraint", "customProperties", "hostnameConfigurations", "identity"]
    );

    let like = |extra: &[&str]| {
        bin("apim-provision", &rig.emu)
            .args([
                "service",
                "--like",
                &rig.path("src.json"),
                "--name",
                "apim-dest",
                "-g",
                "apim-rg",
                "--host",
                &format!("{OLD}={NEW}"),
            ])
            .args(extra)
            .output()
            .unwrap()
    };
    // Shown first, changed only with --update.
    let writes = rig.stat("writes");
    let out = like(&[]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let plan = docs(&out.stdout);
    assert!(plan.iter().all(|d| d["kind"] == "apim.service.setting" && d["status"] == "planned"));
    assert_eq!(plan.len(), 5, "{plan:?}");
    assert!(plan
        .iter()
        .any(|d| d["setting"] == "diagnosticSettings/to-logs" && d["target"].is_null()));
    let hosts = plan.iter().find(|d| d["setting"] == "hostnameConfigurations").unwrap();
    assert_eq!(hosts["source"][0]["hostName"], NEW, "the host is rewritten");
    assert!(String::from_utf8_lossy(&out.stderr).contains("--update"));
    assert_eq!(rig.stat("writes"), writes, "a plan writes nothing");

    // Carried: the settings, then the copy by backup and restore. The
    // target's identity is new and holds no role on the vault yet.
    let out = like(&["--update"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(docs(&out.stdout).iter().all(|d| d["status"] == "applied"));
    assert!(service_diffs().is_empty(), "no service setting differs: {:?}", service_diffs());
    let (_, _, carried) = rig
        .emu
        .arm(
            "GET",
            &format!("{}/to-logs?api-version=2021-05-01-preview", diagnostics("apim-dest")),
            None,
        )
        .unwrap();
    assert_eq!(carried["properties"]["workspaceId"], workspace, "the diagnostic setting is carried");
    let backup = rig.backup(&rig.services[0], &[]);
    let out = bin("apim-restore", &rig.emu)
        .args(["--target", &rig.path("dest.json"), "--no-safety-backup", "--allow-emptying-target"])
        .write_stdin(backup.to_string())
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("kv-app-key cannot read vault 'kv-app' with the system-assigned identity"),
        "{err}"
    );

    // --grant-roles: the source identity's roles, given to the target's.
    let out = like(&["--grant-roles"]);
    let plan = docs(&out.stdout);
    assert_eq!(plan.len(), 1, "{plan:?}");
    assert_eq!(plan[0]["setting"], "roleAssignment");
    assert_eq!(plan[0]["source"]["scope"], vault_scope("kv-app"));
    let out = like(&["--grant-roles", "--update"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    bin("apim-namedvalues", &rig.emu)
        .args(["refresh", "--service", &rig.path("dest.json")])
        .assert()
        .success()
        .stdout(contains("\"code\":\"Success\""));
    // Nothing is left to carry: a second run plans nothing.
    let out = like(&["--grant-roles"]);
    assert!(out.status.success());
    assert!(docs(&out.stdout).is_empty(), "{}", String::from_utf8_lossy(&out.stdout));
}
