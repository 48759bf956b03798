//! blob-store's data plane against Azurite, with Shared Key.

use crate::common::unique_container;
use apim_toolkit::{azurite_endpoint, FaultProxy, BLOB_ACCOUNTS};
use blob_store::{BlobAuth, BlobClient, BlobError, TokenProvider};
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex};

fn client(account_index: usize) -> BlobClient {
    let (account, key) = BLOB_ACCOUNTS[account_index];
    let endpoint = format!("{}/{account}/", azurite_endpoint().trim_end_matches('/'));
    BlobClient::new(
        reqwest::Client::new(),
        &endpoint,
        account,
        BlobAuth::SharedKey { key: key.to_string() },
    )
    .unwrap()
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap()
}

#[test]
fn put_properties_list_get_delete() {
    rt().block_on(async {
        let c = client(0);
        let container = &unique_container();
        c.create_container(container).await.unwrap();
        c.create_container(container).await.expect("creating an existing container is fine");
        let p = c
            .put_blob(
                container,
                "apim-src-1.apimbackup",
                b"hello backup".to_vec(),
                "application/octet-stream",
                false,
            )
            .await
            .unwrap();
        assert_eq!(p.size, 12);
        assert!(!p.etag.is_empty());
        assert!(p.last_modified.ends_with("GMT"));

        // No silent overwrite.
        let err = c
            .put_blob(
                container,
                "apim-src-1.apimbackup",
                b"other".to_vec(),
                "application/octet-stream",
                false,
            )
            .await
            .unwrap_err();
        assert!(
            matches!(&err, BlobError::Service { status: 409, code, .. } if code == "BlobAlreadyExists"),
            "{err}"
        );
        let p2 = c
            .put_blob(
                container,
                "apim-src-1.apimbackup",
                b"newer".to_vec(),
                "application/octet-stream",
                true,
            )
            .await
            .unwrap();
        assert_ne!(p2.etag, p.etag);
        assert_eq!(c.get_blob(container, "apim-src-1.apimbackup").await.unwrap().unwrap(), b"newer");

        c.put_blob(container, "apim-src-2.apimbackup", vec![1, 2, 3], "application/octet-stream", false)
            .await
            .unwrap();
        c.put_blob(container, "apim-dest-1.apimbackup", vec![1], "application/octet-stream", false)
            .await
            .unwrap();
        let listed = c.list(container, "apim-src-").await.unwrap();
        assert_eq!(
            listed.iter().map(|b| b.name.as_str()).collect::<Vec<_>>(),
            ["apim-src-1.apimbackup", "apim-src-2.apimbackup"]
        );
        assert_eq!(listed[1].size, 3);

        // Delete only the version we saw.
        let err = c.delete_blob(container, "apim-src-1.apimbackup", Some(&p.etag)).await.unwrap_err();
        assert!(matches!(err, BlobError::Service { status: 412, .. }), "{err}");
        assert!(c.delete_blob(container, "apim-src-1.apimbackup", Some(&p2.etag)).await.unwrap());
        assert!(!c.delete_blob(container, "apim-src-1.apimbackup", None).await.unwrap());
        assert_eq!(c.properties(container, "apim-src-1.apimbackup").await.unwrap(), None);
        assert_eq!(c.get_blob(container, "apim-src-1.apimbackup").await.unwrap(), None);
    });
}

#[test]
fn a_wrong_key_is_refused_without_showing_it() {
    rt().block_on(async {
        let (account, _) = BLOB_ACCOUNTS[0];
        let endpoint = format!("{}/{account}/", azurite_endpoint().trim_end_matches('/'));
        let wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ==";
        let c = BlobClient::new(
            reqwest::Client::new(),
            &endpoint,
            account,
            BlobAuth::SharedKey { key: wrong.into() },
        )
        .unwrap();
        let err = c.create_container(&unique_container()).await.unwrap_err();
        assert!(matches!(err, BlobError::Service { status: 403, .. }), "{err}");
        assert!(!err.to_string().contains(wrong));
        assert!(!format!("{c:?}").contains(wrong), "Debug redacts the key");
    });
}

#[test]
fn missing_container_is_reported() {
    rt().block_on(async {
        let c = client(1);
        assert!(!c.container_exists("bs-never-made").await.unwrap());
        let err = c
            .put_blob("bs-never-made", "x", vec![1], "application/octet-stream", false)
            .await
            .unwrap_err();
        assert!(
            matches!(&err, BlobError::Service { status: 404, code, .. } if code == "ContainerNotFound"),
            "{err}"
        );
    });
}

#[test]
fn server_side_copy_to_another_account() {
    rt().block_on(async {
        let (src, dst) = (client(0), client(1));
        let (sc, dc) = (unique_container(), unique_container());
        src.create_container(&sc).await.unwrap();
        dst.create_container(&dc).await.unwrap();
        let data = b"backup bytes for another region".to_vec();
        let p = src
            .put_blob(&sc, "apim-src-1.apimbackup", data.clone(), "application/octet-stream", false)
            .await
            .unwrap();
        let url = src
            .read_url(&sc, "apim-src-1.apimbackup", std::time::Duration::from_secs(600))
            .unwrap();
        assert!(!url.contains(BLOB_ACCOUNTS[0].1), "the SAS carries a signature, not the key");
        let copied = dst.copy_from_url(&dc, "apim-src-1.apimbackup", &url, false).await.unwrap();
        assert_eq!(copied.size, p.size);
        assert_eq!(dst.get_blob(&dc, "apim-src-1.apimbackup").await.unwrap().unwrap(), data);
        // No silent overwrite on copy either.
        let err = dst.copy_from_url(&dc, "apim-src-1.apimbackup", &url, false).await.unwrap_err();
        assert!(matches!(err, BlobError::Service { status: 409, .. }), "{err}");
        // A bearer-token client cannot sign a SAS.
        let bearer = BlobClient::new(
            reqwest::Client::new(),
            "http://127.0.0.1:1/x/",
            "x",
            BlobAuth::Bearer {
                tokens: std::sync::Arc::new(CountingTokens::default()),
            },
        )
        .unwrap();
        assert!(bearer.read_url("c", "b", std::time::Duration::from_secs(60)).is_err());
    });
}

/// Hands out `t1`, `t2`, … and records what the service refused.
#[derive(Default)]
struct CountingTokens {
    issued: Mutex<u32>,
    rejected: Mutex<Vec<String>>,
}

impl TokenProvider for CountingTokens {
    fn token(&self) -> Pin<Box<dyn Future<Output = Result<String, String>> + Send + '_>> {
        Box::pin(async move {
            let mut n = self.issued.lock().unwrap();
            *n += 1;
            Ok(format!("t{n}"))
        })
    }

    fn rejected<'a>(&'a self, rejected: &'a str) -> Pin<Box<dyn Future<Output = ()> + Send + 'a>> {
        Box::pin(async move { self.rejected.lock().unwrap().push(rejected.to_string()) })
    }
}

fn fast_retries() -> http_retry::RetryPolicy {
    http_retry::RetryPolicy {
        max_retries: 4,
        base_delay: std::time::Duration::from_millis(20),
        max_delay: std::time::Duration::from_secs(2),
    }
}

#[test]
fn server_busy_is_retried_until_it_passes() {
    let proxy = FaultProxy::start(&azurite_endpoint()).unwrap();
    let (account, key) = BLOB_ACCOUNTS[0];
    let c = BlobClient::new(
        reqwest::Client::new(),
        &format!("{}/{account}/", proxy.endpoint),
        account,
        BlobAuth::SharedKey { key: key.to_string() },
    )
    .unwrap()
    .with_retry(fast_retries());
    rt().block_on(async {
        let container = &unique_container();
        c.create_container(container).await.unwrap();
        let p = c
            .put_blob(container, "a.apimbackup", b"x".to_vec(), "application/octet-stream", false)
            .await
            .unwrap();
        // Two 503s (Retry-After: 1), then the real answer from Azurite.
        proxy.busy(2);
        let before = proxy.requests();
        let got = c.properties(container, "a.apimbackup").await.unwrap().unwrap();
        assert_eq!(got.etag, p.etag);
        assert_eq!(proxy.requests() - before, 3, "two refused, one answered");
        // More 503s than retries: the service's error, not a hang.
        proxy.busy(10);
        let err = c.properties(container, "a.apimbackup").await.unwrap_err();
        assert!(
            matches!(&err, BlobError::Service { status: 503, code, .. } if code == "ServerBusy"),
            "{err}"
        );
        proxy.busy(0);
    });
}

#[test]
fn bearer_tokens_are_asked_for_every_request_and_renewed_after_a_401() {
    let proxy = FaultProxy::start(&azurite_endpoint()).unwrap();
    let tokens = Arc::new(CountingTokens::default());
    let c = BlobClient::new(
        reqwest::Client::new(),
        &format!("{}/apimbackups/", proxy.endpoint),
        "apimbackups",
        BlobAuth::Bearer { tokens: tokens.clone() },
    )
    .unwrap()
    .with_retry(fast_retries());
    proxy.unauthorized(1);
    rt().block_on(async {
        // Azurite over http does not take bearer tokens, so what it
        // answers after the proxy's 401 does not matter here: only which
        // token each request carried.
        let _ = c.container_exists("whatever").await;
        let _ = c.container_exists("whatever").await;
    });
    let seen: Vec<String> = proxy.seen_auth();
    assert_eq!(&seen[..3], ["Bearer t1", "Bearer t2", "Bearer t3"], "{seen:?}");
    assert_eq!(*tokens.rejected.lock().unwrap(), ["t1"]);
}
