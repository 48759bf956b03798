//! Blob URLs over generated names: a name is refused, or its URL stays in
//! its container on the account's endpoint (never another path, host, query
//! or fragment).

use blob_store::{BlobAuth, BlobClient};
use proptest::prelude::*;

/// One client for every case: building one (its TLS setup) costs more than the check.
fn client() -> &'static BlobClient {
    static CLIENT: std::sync::OnceLock<BlobClient> = std::sync::OnceLock::new();
    CLIENT.get_or_init(|| {
        BlobClient::new(
            reqwest::Client::new(),
            "https://acct.blob.core.windows.net/",
            "acct",
            BlobAuth::SharedKey { key: "a2V5".into() },
        )
        .unwrap()
    })
}

proptest! {
    #[test]
    fn prop_blob_urls_stay_in_their_container(container in "[a-z0-9/.-]{1,12}", blob in "[a-zA-Z0-9/.?#%\\\\ -]{0,24}") {
        if let Ok(u) = client().read_url(&container, &blob, std::time::Duration::from_secs(60)) {
            let u = url::Url::parse(&u).unwrap();
            prop_assert_eq!(u.host_str(), Some("acct.blob.core.windows.net"));
            prop_assert!(u.path().starts_with(&format!("/{container}/")), "{}", u);
            prop_assert!(u.fragment().is_none());
            prop_assert!(u.query().is_some_and(|q| q.starts_with("sv=")), "only the SAS: {}", u);
        }
    }
}
