//! Shared by the end-to-end tests: a started emulator and the real binaries.
#![allow(dead_code)]

use apim_toolkit::{azurite_endpoint, bin_path, EmulatorProcess};
use assert_cmd::Command;
use serde_json::{json, Value};

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

/// The ARM path of something below a service of the seed's group, e.g.
/// `apis/echo/operations/get` or `namedValues/x/listValue`.
pub fn entity_path(service: &str, path: &str) -> String {
    service_path(service).replace("?api-version", &format!("/{path}?api-version"))
}

/// PUTs `body` at `path` below the service; it must be created or replaced.
pub fn put_entity(emu: &EmulatorProcess, service: &str, path: &str, body: &Value) {
    let (s, _, b) = emu.arm("PUT", &entity_path(service, path), Some(body)).unwrap();
    assert!(s == 200 || s == 201, "{path}: {s} {b}");
}

pub fn nv_path(service: &str, coll: &str, id: &str) -> String {
    format!("/subscriptions/{SUB}/resourceGroups/apim-rg/providers/Microsoft.ApiManagement/service/{service}/{coll}/{id}?api-version=2024-05-01")
}

/// Puts named values, APIs and products into a service through ARM.
pub fn seed(emu: &EmulatorProcess, service: &str, tag: &str) {
    let put =
        |coll: &str, id: &str, props: Value| put_entity(emu, service, &format!("{coll}/{id}"), &serde_json::json!({"properties": props}));
    put(
        "namedValues",
        "backend-host",
        serde_json::json!({"displayName": "backend-host", "value": format!("https://api.{tag}.example.com/v1"), "tags": ["env"]}),
    );
    put(
        "namedValues",
        "client-secret",
        serde_json::json!({"displayName": "client-secret", "value": format!("s3cr3t-{tag}"), "secret": true}),
    );
    put(
        "apis",
        "echo",
        serde_json::json!({"displayName": format!("Echo {tag}"), "path": "echo", "serviceUrl": format!("https://echo.{tag}.example.com"), "protocols": ["https"]}),
    );
    put(
        "products",
        "starter",
        serde_json::json!({"displayName": "Starter", "state": "published", "subscriptionRequired": true}),
    );
}

/// A service's configuration as ARM lists it (secret values via listValue).
pub fn config(emu: &EmulatorProcess, service: &str) -> Value {
    let mut out = serde_json::Map::new();
    for coll in ["namedValues", "apis", "products"] {
        let path = format!(
            "/subscriptions/{SUB}/resourceGroups/apim-rg/providers/Microsoft.ApiManagement/service/{service}/{coll}?api-version=2024-05-01"
        );
        let (s, _, list) = emu.arm("GET", &path, None).unwrap();
        assert_eq!(s, 200, "{list}");
        let mut items = serde_json::Map::new();
        for item in list["value"].as_array().unwrap() {
            let name = item["name"].as_str().unwrap().to_string();
            let mut props = item["properties"].clone();
            if props["secret"] == Value::Bool(true) {
                let (_, _, v) = emu
                    .arm("POST", &nv_path(service, coll, &name).replace("?api", "/listValue?api"), None)
                    .unwrap();
                props["value"] = v["value"].clone();
            }
            items.insert(name, props);
        }
        out.insert(coll.to_string(), Value::Object(items));
    }
    Value::Object(out)
}

pub fn ndjson(docs: &[Value]) -> String {
    docs.iter().map(|d| d.to_string() + "\n").collect()
}

/// A container name no other test uses (they share one Azurite).
pub fn unique_container() -> String {
    static N: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!(
        "bk-{}-{}-{nanos}",
        std::process::id(),
        N.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// `apim-provision storage` of the test account in `apim-rg` (created if
/// missing) with `container`; its storage.container document.
pub fn storage(emu: &EmulatorProcess, container: &str) -> Value {
    let out = bin("apim-provision", emu)
        .args([
            "storage",
            "-g",
            "apim-rg",
            "--create-group",
            "-l",
            "westeurope",
            "--account",
            "apimbackups",
            "--container",
            container,
        ])
        .assert()
        .success();
    docs(&out.get_output().stdout).remove(0)
}

/// Two services and backup storage (in a container of its own), as the README's first steps make them.
pub fn provision_all(emu: &EmulatorProcess, container: &str) -> (Vec<Value>, Value) {
    let out = bin("apim-provision", emu)
        .args(SERVICE_ARGS)
        .args(["--name", "apim-src", "--name", "apim-dest"])
        .assert()
        .success();
    (docs(&out.get_output().stdout), storage(emu, container))
}

/// A real binary started in the background with the emulator's
/// environment and `stdin` written to it, so a test can act while it runs.
pub fn spawn(name: &str, emu: &EmulatorProcess, args: &[&str], stdin: &str) -> std::process::Child {
    use std::io::Write;
    let mut child = std::process::Command::new(bin_path(name, "debug"))
        .envs(emu.env())
        .args(args)
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(stdin.as_bytes()).unwrap();
    child
}

/// Sends `signal` (INT, TERM, HUP) to a child process.
pub fn signal(child: &std::process::Child, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([&format!("-{signal}"), &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success(), "kill -{signal}");
}

/// Waits until `cond` holds, or fails the test naming `what`.
pub fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while !cond() {
        assert!(std::time::Instant::now() < deadline, "timed out waiting until {what}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// The provisioning state ARM reports for a service of the seed's group.
pub fn service_state(emu: &EmulatorProcess, name: &str) -> String {
    let (_, _, s) = emu.arm("GET", &service_path(name), None).unwrap();
    s["properties"]["provisioningState"].as_str().unwrap_or_default().to_string()
}

/// Two provisioned and seeded services, backup storage in a container of
/// its own, and a folder for the documents a test writes (store.json,
/// src.json and dest.json are there from the start).
pub struct Rig {
    pub emu: EmulatorProcess,
    pub dir: tempfile::TempDir,
    pub services: Vec<Value>,
    pub container: String,
}

impl Rig {
    pub fn new() -> Rig {
        let emu = emulator(0.0);
        let container = unique_container();
        let (services, store) = provision_all(&emu, &container);
        seed(&emu, "apim-src", "src");
        seed(&emu, "apim-dest", "dest");
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("store.json"), store.to_string()).unwrap();
        std::fs::write(dir.path().join("src.json"), services[0].to_string()).unwrap();
        std::fs::write(dir.path().join("dest.json"), services[1].to_string()).unwrap();
        Rig {
            emu,
            dir,
            services,
            container,
        }
    }

    pub fn path(&self, f: &str) -> String {
        self.dir.path().join(f).to_str().unwrap().to_string()
    }

    pub fn write(&self, f: &str, docs: &[Value]) -> String {
        std::fs::write(self.dir.path().join(f), ndjson(docs)).unwrap();
        self.path(f)
    }

    /// A counter of the emulator's: `requests` or `writes`.
    pub fn stat(&self, what: &str) -> u64 {
        self.emu.stats().unwrap()[what].as_u64().unwrap()
    }

    /// `apim-backup` of one service into the rig's storage, to run as the test likes.
    pub fn backup_cmd(&self, service: &Value) -> Command {
        let mut c = bin("apim-backup", &self.emu);
        c.args(["--storage", &self.path("store.json")]).write_stdin(service.to_string());
        c
    }

    /// Starts restoring `backup` onto dest without waiting (no safety
    /// backup); its apim.operation document. At time scale 1 it keeps dest
    /// busy until the test finishes the operations.
    pub fn restore_no_wait(&self, backup: &Value) -> Value {
        let out = bin("apim-restore", &self.emu)
            .args(["--target", &self.path("dest.json"), "--no-safety-backup", "--no-wait"])
            .write_stdin(backup.to_string())
            .assert()
            .success();
        docs(&out.get_output().stdout).remove(0)
    }

    /// A backup that must succeed; its apim.backup document.
    pub fn backup(&self, service: &Value, extra: &[&str]) -> Value {
        let out = self.backup_cmd(service).args(extra).assert().success();
        docs(&out.get_output().stdout).remove(0)
    }
}

/// Gives `principal` a built-in role (by GUID) at `scope`, as `az role assignment create` does.
pub fn grant(emu: &apim_toolkit::EmulatorProcess, scope: &str, role: &str, principal: &str) {
    let name = uuid_like(&format!("{scope}{role}{principal}"));
    let url = format!("{scope}/providers/Microsoft.Authorization/roleAssignments/{name}?api-version=2022-04-01");
    let body = json!({"properties": {"roleDefinitionId": format!("/subscriptions/{SUB}/providers/Microsoft.Authorization/roleDefinitions/{role}"), "principalId": principal, "principalType": "ServicePrincipal"}});
    let (st, _, b) = emu.arm("PUT", &url, Some(&body)).unwrap();
    assert_eq!(st, 201, "{b}");
}

pub fn uuid_like(seed: &str) -> String {
    let h = seed
        .bytes()
        .fold(0xcbf29ce484222325u64, |h, b| (h ^ b as u64).wrapping_mul(0x100000001b3));
    format!("{:08x}-0000-4000-8000-{:012x}", h >> 32, h & 0xffff_ffff_ffff)
}
