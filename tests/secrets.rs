//! Secret hygiene: every command, with -v, against secret named values and
//! a storage account key. Everything the binaries print (stdout, stderr,
//! the plans they write) is searched for each secret, the key, any bearer
//! token, and any SHA-256 digest of a secret or the key (hex or base64).

use crate::common::*;
use base64::Engine;
use serde_json::json;

const SECRETS: [&str; 2] = ["Winter2025!", "Bearer s3cr3t-token for https://api.src.example.com/x"];

fn digests(s: &str) -> [String; 2] {
    let d = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, s.as_bytes());
    let hex: String = d.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    [hex, base64::engine::general_purpose::STANDARD.encode(d.as_ref())]
}

#[test]
fn no_secret_key_token_or_digest_reaches_any_output_even_with_v() {
    let emu = emulator(0.0);
    let container = unique_container();
    let (services, store) = provision_all(&emu, &container);
    for (i, secret) in SECRETS.iter().enumerate() {
        for svc in ["apim-src", "apim-dest"] {
            let (s, _, b) = emu
                .arm(
                    "PUT",
                    &nv_path(svc, "namedValues", &format!("secret-{i}")),
                    Some(&json!({"properties": {"displayName": format!("secret-{i}"), "value": secret, "secret": true}})),
                )
                .unwrap();
            assert!(s == 200 || s == 201, "{b}");
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let path = |f: &str| dir.path().join(f).to_str().unwrap().to_string();
    std::fs::write(path("store.json"), store.to_string()).unwrap();
    std::fs::write(path("src.json"), services[0].to_string()).unwrap();
    std::fs::write(path("dest.json"), services[1].to_string()).unwrap();
    let mut all = String::new();
    let mut run = |name: &str, args: &[&str], stdin: &str, ok: bool| -> String {
        let out = bin(name, &emu)
            .arg("-v")
            .args(args)
            .write_stdin(stdin.to_string())
            .output()
            .unwrap();
        assert_eq!(
            out.status.success(),
            ok,
            "{name} {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout).to_string();
        all.push_str(&stdout);
        all.push_str(&String::from_utf8_lossy(&out.stderr));
        stdout
    };
    let src = services[0].to_string();
    let nvs = run("apim-namedvalues", &["list"], &src, true);
    run("apim-namedvalues", &["get", "secret-0"], &src, true);
    let plan = run(
        "apim-namedvalues",
        &[
            "rewrite",
            "--host",
            "api.src.example.com=api.dest.example.com",
            "--replace",
            "Winter2025=Spring2026",
        ],
        &nvs,
        true,
    );
    assert!(!plan.is_empty());
    run("apim-namedvalues", &["apply"], &plan, true);
    run("apim-namedvalues", &["diff", &path("src.json"), &path("dest.json")], "", false);
    let backups = run("apim-backup", &["--storage", &path("store.json")], &ndjson(&services), true);
    let src_backup = backups.lines().find(|l| l.contains("\"name\":\"apim-src\"")).unwrap().to_string();
    std::fs::write(path("backups.ndjson"), &backups).unwrap();
    run(
        "apim-restore",
        &["--target", &path("dest.json"), "--safety-backup", &path("backups.ndjson")],
        &src_backup,
        true,
    );
    run(
        "apim-backup",
        &["prune", "--storage", &path("store.json"), "--name", "apim-src", "--keep", "1"],
        "",
        true,
    );
    // A wrong client secret: the error must not echo it.
    let out = bin("apim-namedvalues", &emu)
        .env("AZURE_CLIENT_SECRET", "not-the-secret-xyz")
        .args(["-v", "list"])
        .write_stdin(src.clone())
        .output()
        .unwrap();
    all.push_str(&String::from_utf8_lossy(&out.stderr));
    assert!(!all.contains("not-the-secret-xyz"));

    let key = apim_toolkit::BLOB_ACCOUNTS[0].1;
    let mut forbidden: Vec<(String, String)> = vec![
        ("storage key".into(), key.into()),
        ("client secret".into(), emu.get("clientSecret")),
    ];
    for s in SECRETS.iter().chain([&"Spring2026!"]).chain([&key]) {
        forbidden.push((format!("secret {s:?}"), s.to_string()));
        for d in digests(s) {
            forbidden.push((format!("a SHA-256 of {s:?}"), d));
        }
    }
    for (what, text) in &forbidden {
        assert!(!all.contains(text.as_str()), "{what} appeared in the output");
    }
    // Bearer tokens the emulator issues are JWTs: eyJ….eyJ….<signature>.
    let token_like = all
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '.' || c == '-' || c == '_'))
        .any(|w| w.starts_with("eyJ") && w.matches('.').count() == 2 && w.len() > 100);
    assert!(!token_like, "a bearer token appeared in the output");
    assert!(all.contains("GET https://"), "-v did log the requests");
    assert!(all.contains("blob storage"), "-v logs blob requests too");
    assert!(all.contains("token for "), "-v logs token fetches too (never the token)");
}
