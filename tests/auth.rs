//! Credentials through the real azure_identity code against the emulator's token endpoint.

mod common;

use apim_toolkit::{azurite_endpoint, bin_path, EmulatorProcess};
use common::*;
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
