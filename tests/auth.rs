//! Credentials through the real azure_identity code against the emulator's token endpoint.

use crate::common::*;
use apim_toolkit::{azurite_endpoint, bin_path, EmulatorProcess};
use predicates::str::contains;

#[test]
fn workload_identity_uses_the_federated_token_file() {
    let emu = emulator(0.0);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("federated-token");
    std::fs::write(&file, emu.get("clientSecret")).unwrap();
    let out = bin("apim-provision", &emu)
        .env_remove("AZURE_CLIENT_SECRET")
        .env("AZURE_FEDERATED_TOKEN_FILE", &file)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-wi", "--auth", "workload-identity"])
        .assert()
        .success();
    assert_eq!(docs(&out.get_output().stdout)[0]["name"], "apim-wi");

    std::fs::write(&file, "not-a-trusted-assertion").unwrap();
    bin("apim-provision", &emu)
        .env_remove("AZURE_CLIENT_SECRET")
        .env("AZURE_FEDERATED_TOKEN_FILE", &file)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-wi", "--auth", "workload-identity"])
        .assert()
        .code(1)
        .stderr(contains("AADSTS700211"));
}

#[test]
fn an_unconfigured_credential_says_what_is_missing() {
    let emu = emulator(0.0);
    bin("apim-provision", &emu)
        .env_remove("AZURE_CLIENT_SECRET")
        .args(SERVICE_ARGS)
        .args(["--name", "apim-x", "--auth", "client-secret"])
        .assert()
        .code(1)
        .stderr(contains("AZURE_CLIENT_SECRET is not set"));
}

#[test]
fn waits_outlive_short_tokens() {
    // Tokens live 1 s while the create takes about 3 s of polling: every
    // call must come with a fresh token, never an expired one.
    let emu = EmulatorProcess::start(
        &bin_path("apim-emulator", "debug"),
        0.001,
        Some(&azurite_endpoint()),
        &["--token-lifetime", "1"],
    )
    .unwrap();
    let out = bin("apim-provision", &emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-long"])
        .assert()
        .success();
    assert_eq!(docs(&out.get_output().stdout)[0]["provisioningState"], "Succeeded");
}

#[test]
fn a_token_revoked_mid_wait_is_replaced_by_a_fresh_one() {
    let emu = emulator(0.0);
    let container = unique_container();
    let (services, store) = provision_all(&emu, &container);
    let dir = tempfile::tempdir().unwrap();
    let store_file = dir.path().join("store.json");
    std::fs::write(&store_file, store.to_string()).unwrap();
    emu.set_time_scale(0.005).unwrap(); // backup: about 3 s
    let child = spawn(
        "apim-backup",
        &emu,
        &["--storage", store_file.to_str().unwrap()],
        &services[0].to_string(),
    );
    wait_until("the backup is under way", || service_state(&emu, "apim-src") == "Updating");
    // Every token issued so far (the backup's included) is refused from now
    // on: its next poll gets 401 and must come back with a new token, not
    // the one the credential cached.
    emu.fault("revoke-tokens=1").unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let b = docs(&out.stdout).remove(0);
    assert_eq!((b["kind"].as_str(), b["status"].as_str()), (Some("apim.backup"), Some("Succeeded")));
}

#[test]
fn tokens_for_another_resource_and_world_readable_secrets_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (env_file, state) = (dir.path().join("emu.env"), dir.path().join("state.json"));
    let emu = EmulatorProcess::start(
        &bin_path("apim-emulator", "debug"),
        0.0,
        Some(&azurite_endpoint()),
        &["--env-file", env_file.to_str().unwrap(), "--state", state.to_str().unwrap()],
    )
    .unwrap();
    // A Storage token is not an ARM token.
    let storage_token = emu.token_for("https://storage.azure.com/.default").unwrap();
    let (status, _, body) = emu
        .arm_with_token(
            &storage_token,
            "GET",
            &format!("/subscriptions/{SUB}/resourcegroups?api-version=2021-04-01"),
        )
        .unwrap();
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (401, Some("InvalidAuthenticationTokenAudience"))
    );
    // The files that hold the client secret are the owner's alone.
    use std::os::unix::fs::PermissionsExt;
    for f in [&env_file, &state] {
        let mode = std::fs::metadata(f).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{}", f.display());
    }
}

#[test]
fn what_no_retry_mends_fails_in_seconds_naming_the_cause_and_the_fix() {
    let emu = emulator(0.0);
    // Nothing listening: an emulator that has stopped (a port just freed).
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        format!("https://127.0.0.1:{}", l.local_addr().unwrap().port())
    };
    let service = format!("/subscriptions/{SUB}/resourceGroups/apim-rg/providers/Microsoft.ApiManagement/service/x");
    // (what, environment changes (None removes), what stderr says)
    type Case<'a> = (&'a str, Vec<(&'a str, Option<&'a str>)>, [&'a str; 2]);
    let cases: [Case; 4] = [
        (
            "nothing listening",
            vec![("AZURE_ARM_ENDPOINT", Some(&closed)), ("AZURE_AUTHORITY_HOST", Some(&closed))],
            ["connection refused", "source its env file"],
        ),
        (
            "the emulator's certificate without its CA",
            vec![("SSL_CERT_FILE", None), ("REQUESTS_CA_BUNDLE", None)],
            ["not trusted", "--ca-cert"],
        ),
        (
            "a wrong secret",
            vec![("AZURE_CLIENT_SECRET", Some("not-the-secret"))],
            ["refused the credential", "AZURE_CLIENT_ID"],
        ),
        (
            "no credential configured",
            vec![("AZURE_CLIENT_SECRET", None)],
            ["AZURE_CLIENT_SECRET is not set", "client-secret"],
        ),
    ];
    for (what, env, says) in cases {
        let mut cmd = bin("apim-provision", &emu);
        for (k, v) in env {
            match v {
                Some(v) => cmd.env(k, v),
                None => cmd.env_remove(k),
            };
        }
        let started = std::time::Instant::now();
        let out = cmd
            .args(["--auth", "client-secret", "get", "--service-id", &service])
            .output()
            .unwrap();
        let (secs, err) = (started.elapsed().as_secs_f64(), String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.status.code(), Some(1), "{what}: {err}");
        assert!(secs < 5.0, "{what}: {secs} s: {err}");
        assert!(says.iter().all(|s| err.contains(s)), "{what}: {err}");
        assert_eq!(err.trim().lines().count(), 1, "{what}: one line: {err}");
    }
}
