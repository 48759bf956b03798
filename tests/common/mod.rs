//! Shared by the end-to-end tests: a started emulator and the real binaries.
#![allow(dead_code)]

use apim_toolkit::{azurite_endpoint, bin_path, EmulatorProcess};
use assert_cmd::Command;
use serde_json::Value;

pub const SUB: &str = "00000000-0000-4000-8000-00000000a1a1";
pub const FORBIDDEN_SUB: &str = "00000000-0000-4000-8000-00000000f0f0";

/// An emulator backed by the Azurite that `cargo xtask test` started.
pub fn emulator(time_scale: f64) -> EmulatorProcess {
    EmulatorProcess::start(&bin_path("apim-emulator", "debug"), time_scale, Some(&azurite_endpoint()), &[]).expect("emulator starts")
}

/// A real binary with the emulator's environment and nothing inherited
/// that could point it elsewhere.
pub fn bin(name: &str, emu: &EmulatorProcess) -> Command {
    let mut c = Command::new(bin_path(name, "debug"));
    for k in ["AZURE_FEDERATED_TOKEN_FILE", "IDENTITY_ENDPOINT", "MSI_ENDPOINT"] {
        c.env_remove(k);
    }
    c.envs(emu.env());
    c.timeout(std::time::Duration::from_secs(120));
    c
}

pub fn docs(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("stdout line is not JSON ({e}): {l}")))
        .collect()
}

pub const SERVICE_ARGS: &[&str] = &[
    "service",
    "--resource-group",
    "apim-rg",
    "--create-group",
    "--location",
    "westeurope",
    "--publisher-email",
    "ops@example.com",
    "--publisher-name",
    "Example Ops",
];

pub fn service_path(name: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/apim-rg/providers/Microsoft.ApiManagement/service/{name}?api-version=2024-05-01")
}
