//! The one router: every request's path is matched once into a [`Route`],
//! which decides everything after: whether it needs a token, which
//! api-versions it takes, whether it counts as a write, and which resource
//! family answers it.

use crate::http;
use crate::shared::{check_version, group_not_found, not_found_path, Names, Req, APIM_VERSIONS, RESOURCE_VERSIONS, STORAGE_VERSIONS};
use crate::state::{key, now_ms};
use crate::App;
use axum::body::Bytes;
use axum::extract::State as AxState;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::Response;
use std::collections::HashMap;
use std::sync::atomic::Ordering;
use std::sync::Arc;

/// What a request addresses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Route {
    /// `/_emulator/stats` and `/_emulator/faults`: the test and rehearsal controls.
    Admin,
    /// `POST /{tenant}/oauth2/v2.0/token`.
    Token,
    /// The tenant's OpenID configuration (v2 or v1), read before a token.
    OpenId {
        v2: bool,
    },
    InstanceDiscovery,
    SigningKeys,
    /// `GET /metadata/endpoints`: the emulator described as a cloud.
    CloudMetadata,
    Subscriptions,
    Subscription,
    Tenants,
    /// `POST …/providers/{Microsoft.Storage|Microsoft.ApiManagement}/checkNameAvailability`.
    CheckName {
        storage: bool,
    },
    Group,
    Groups,
    /// Storage accounts of the subscription, or of a group.
    StorageAccounts {
        in_group: bool,
    },
    Containers,
    GroupOperation,
    ServicesInSubscription,
    DeletedServices,
    DeletedService,
    /// `…/providers/Microsoft.ApiManagement/locations/{l}/operationresults/{id}`: a purge's.
    LocationOperation,
    ServicesInGroup,
    Service,
    ServiceOperation,
    /// POST …/backup or …/restore.
    BackupRestore {
        restore: bool,
    },
    /// Anything a service holds: named values, APIs, policies… (see entities).
    Entity,
    ListValue,
    /// POST …/{entity}/listSecrets.
    ListSecrets,
    RefreshSecret,
    TenantOperation,
    StorageAccount,
    ListKeys,
    Container,
    /// POST …/regenerateKey.
    RegenerateKey,
    StorageOperation,
    /// `GET …/storageAccounts/{a}/blobServices/default` and its PUT.
    BlobService,
    /// `{scope}/providers/Microsoft.Authorization/roleAssignments[/{name}]`.
    RoleAssignments,
    RoleAssignment,
    /// `{scope}/providers/Microsoft.Insights/diagnosticSettings[/{name}]`.
    DiagnosticSettings,
    DiagnosticSetting,
    NotFound,
}

/// Which provider's api-versions a route takes, and what a refusal names.
enum Versions {
    Resources,
    Apim,
    Storage(&'static str),
    Authorization,
    Insights,
}

impl Route {
    pub(crate) fn parse(method: &Method, l: &[&str]) -> Route {
        use Route::*;
        let post = *method == Method::POST;
        let get = *method == Method::GET;
        match l {
            ["_emulator", ..] => Admin,
            [.., "providers", "microsoft.authorization", "roleassignments"] if get => RoleAssignments,
            [.., "providers", "microsoft.authorization", "roleassignments", _] => RoleAssignment,
            [.., "providers", "microsoft.insights", "diagnosticsettings"] if get => DiagnosticSettings,
            [.., "providers", "microsoft.insights", "diagnosticsettings", _] => DiagnosticSetting,
            [_, "oauth2", "v2.0", "token"] if post => Token,
            [_, "v2.0", ".well-known", "openid-configuration"] if get => OpenId { v2: true },
            [_, ".well-known", "openid-configuration"] if get => OpenId { v2: false },
            [_, "discovery", "instance"] if get => InstanceDiscovery,
            [_, "discovery", "v2.0", "keys"] | [_, "discovery", "keys"] if get => SigningKeys,
            ["metadata", "endpoints"] if get => CloudMetadata,
            ["subscriptions"] if get => Subscriptions,
            ["subscriptions", _] if get => Subscription,
            ["tenants"] if get => Tenants,
            ["subscriptions", _, "providers", "microsoft.storage", "checknameavailability"] if post => CheckName { storage: true },
            ["subscriptions", _, "providers", "microsoft.apimanagement", "checknameavailability"] if post => CheckName { storage: false },
            ["subscriptions", _, "resourcegroups"] if get => Groups,
            ["subscriptions", _, "resourcegroups", _] => Group,
            ["subscriptions", _, "providers", "microsoft.storage", "storageaccounts"] if get => StorageAccounts { in_group: false },
            ["subscriptions", _, "operationresults", _] => GroupOperation,
            ["subscriptions", _, "providers", "microsoft.apimanagement", "service"] if get => ServicesInSubscription,
            ["subscriptions", _, "providers", "microsoft.apimanagement", "deletedservices"] if get => DeletedServices,
            ["subscriptions", _, "providers", "microsoft.apimanagement", "locations", _, "deletedservices", _] => DeletedService,
            ["subscriptions", _, "providers", "microsoft.apimanagement", "locations", _, "operationresults", _] if get => LocationOperation,
            ["subscriptions", _, "providers", "microsoft.storage", "operations", _] => StorageOperation,
            ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.apimanagement", rest @ ..] => match rest {
                ["service"] if get => ServicesInGroup,
                ["service", _] => Service,
                ["service", _, "backup"] if post => BackupRestore { restore: false },
                ["service", _, "restore"] if post => BackupRestore { restore: true },
                ["service", _, "namedvalues", _, "listvalue"] if post => ListValue,
                ["service", _, "namedvalues", _, "refreshsecret"] if post => RefreshSecret,
                ["service", _, .., "listsecrets"] if post && rest.len() >= 5 => ListSecrets,
                ["service", _, "tenant", "operationresults", _] if get => TenantOperation,
                ["service", _, "operationresults", _] => ServiceOperation,
                ["service", _, family, ..] if !post && crate::registry::TOP.iter().any(|f| f.name.eq_ignore_ascii_case(family)) => Entity,
                _ => NotFound,
            },
            ["subscriptions", _, "resourcegroups", _, "providers", "microsoft.storage", rest @ ..] => match rest {
                ["storageaccounts"] if get => StorageAccounts { in_group: true },
                ["storageaccounts", _] => StorageAccount,
                ["storageaccounts", _, "blobservices", "default", "containers"] if get => Containers,
                ["storageaccounts", _, "blobservices", "default"] => BlobService,
                ["storageaccounts", _, "listkeys"] if post => ListKeys,
                ["storageaccounts", _, "regeneratekey"] if post => RegenerateKey,
                ["storageaccounts", _, "blobservices", "default", "containers", _] => Container,
                _ => NotFound,
            },
            _ => NotFound,
        }
    }

    /// What the path names, where this route's shape puts it.
    pub(crate) fn names(self, s: &[String]) -> Names {
        use Route::*;
        let at = |i: usize| s.get(i).cloned().unwrap_or_default();
        let mut n = Names::default();
        match self {
            Token | OpenId { .. } | InstanceDiscovery | SigningKeys => n.tenant = at(0),
            _ if s.first().is_some_and(|f| f.eq_ignore_ascii_case("subscriptions")) => n.subscription = at(1),
            _ => {}
        }
        if self.in_group() || self == Group {
            n.group = at(3);
        }
        match self {
            // …/providers/{namespace}/service/{name} or …/storageAccounts/{name}
            Service
            | ServiceOperation
            | BackupRestore { .. }
            | Entity
            | ListValue
            | ListSecrets
            | RefreshSecret
            | TenantOperation
            | StorageAccount
            | ListKeys
            | RegenerateKey
            | Containers
            | BlobService
            | Container => n.resource = at(7),
            // …/locations/{location}/deletedservices/{name}
            DeletedService => {
                n.location = at(5);
                n.resource = at(7);
            }
            _ => {}
        }
        match self {
            Entity => n.below = s.get(8..).map(<[String]>::to_vec).unwrap_or_default(),
            ListSecrets => n.below = s.get(8..s.len() - 1).map(<[String]>::to_vec).unwrap_or_default(),
            ListValue | RefreshSecret => {
                n.named_value = at(9);
                n.below = s.get(8..10).map(<[String]>::to_vec).unwrap_or_default();
            }
            Container => n.container = at(11),
            RoleAssignments | RoleAssignment | DiagnosticSettings | DiagnosticSetting => {
                let one = matches!(self, RoleAssignment | DiagnosticSetting);
                let at_providers = s.len() - if one { 4 } else { 3 };
                n.scope = format!("/{}", s[..at_providers].join("/"));
                if one {
                    n.resource = at(s.len() - 1);
                }
            }
            GroupOperation => n.operation = at(3),
            StorageOperation => n.operation = at(5),
            LocationOperation => n.operation = at(7),
            ServiceOperation => n.operation = at(9),
            TenantOperation => n.operation = at(10),
            _ => {}
        }
        n
    }

    fn versions(self) -> Option<Versions> {
        use Route::*;
        match self {
            Group | Groups | GroupOperation => Some(Versions::Resources),
            StorageAccounts { .. } | Containers | RegenerateKey => Some(Versions::Storage("storageAccounts")),
            ServicesInSubscription
            | DeletedServices
            | DeletedService
            | LocationOperation
            | ServicesInGroup
            | Service
            | ServiceOperation
            | BackupRestore { .. }
            | Entity
            | ListValue
            | ListSecrets
            | RefreshSecret
            | TenantOperation => Some(Versions::Apim),
            StorageOperation => Some(Versions::Storage("operations")),
            CheckName { storage: true } => Some(Versions::Storage("checkNameAvailability")),
            CheckName { storage: false } => Some(Versions::Apim),
            Subscriptions | Subscription | Tenants => Some(Versions::Resources),
            StorageAccount | ListKeys | Container | BlobService => Some(Versions::Storage("storageAccounts")),
            RoleAssignments | RoleAssignment => Some(Versions::Authorization),
            DiagnosticSettings | DiagnosticSetting => Some(Versions::Insights),
            Admin | Token | OpenId { .. } | InstanceDiscovery | SigningKeys | CloudMetadata | NotFound => None,
        }
    }

    /// Routes under a resource group answer 404 for a group that does not exist.
    fn in_group(self) -> bool {
        use Route::*;
        matches!(
            self,
            ServicesInGroup
                | Service
                | ServiceOperation
                | BackupRestore { .. }
                | Entity
                | ListValue
                | ListSecrets
                | RefreshSecret
                | TenantOperation
                | StorageAccount
                | ListKeys
                | RegenerateKey
                | Container
                | Containers
                | BlobService
                | StorageAccounts { in_group: true }
        )
    }

    /// Whether a request to this route changes something when it succeeds
    /// (listKeys and listValue are POSTs that only read).
    fn is_write(self, method: &Method) -> bool {
        !matches!(*method, Method::GET | Method::HEAD) && !matches!(self, Route::ListKeys | Route::ListValue | Route::ListSecrets)
    }
}

pub(crate) async fn handle(AxState(app): AxState<Arc<App>>, method: Method, uri: Uri, headers: HeaderMap, body: Bytes) -> Response {
    let segs: Vec<String> = uri.path().split('/').filter(|s| !s.is_empty()).map(percent_decode).collect();
    let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
    let query: HashMap<String, String> = uri
        .query()
        .map(|q| {
            url::form_urlencoded::parse(q.as_bytes())
                .map(|(k, v)| (k.to_ascii_lowercase(), v.into_owned()))
                .collect()
        })
        .unwrap_or_default();
    let route = Route::parse(&method, &lower.iter().map(String::as_str).collect::<Vec<_>>());
    let r = Req {
        method: &method,
        names: route.names(&segs),
        segs,
        lower,
        query,
        headers: &headers,
        body: &body,
    };
    let request_id = uuid::Uuid::new_v4().to_string();
    let resp = dispatch(&app, route, &r).await;
    http::with_header(
        http::with_header(resp, "x-ms-request-id", &request_id),
        "x-ms-correlation-request-id",
        &request_id,
    )
}

async fn dispatch(app: &Arc<App>, route: Route, r: &Req<'_>) -> Response {
    match route {
        Route::Admin => return admin(app, r),
        Route::Token => {
            app.requests.fetch_add(1, Ordering::Relaxed);
            return app.token(r);
        }
        // What a client reads before it has a token: no token, no bucket.
        Route::OpenId { v2 } => return app.openid_configuration(r, v2),
        Route::InstanceDiscovery => return app.instance_discovery(),
        Route::SigningKeys => return app.signing_keys(),
        Route::CloudMetadata => return app.cloud_metadata(),
        _ => {}
    }
    app.requests.fetch_add(1, Ordering::Relaxed);
    let tenant_level = matches!(route, Route::Subscriptions | Route::Tenants);
    if !tenant_level && (r.lower.first().map(String::as_str) != Some("subscriptions") || r.segs.len() < 2) {
        return http::error(404, "NotFound", &format!("No route for '/{}'.", r.segs.join("/")));
    }
    let latency = app.latency_ms.load(Ordering::Relaxed);
    if latency > 0 {
        tokio::time::sleep(std::time::Duration::from_millis(latency)).await;
    }
    if let Some(resp) = app.fault_before() {
        return resp;
    }
    if route.is_write(r.method)
        && app
            .faults
            .contended
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
            .is_ok()
    {
        return http::with_header(
            http::error(
                409,
                "PessimisticConcurrencyConflict",
                "The request failed due to conflict with a concurrent request. To resolve it, please refer to https://aka.ms/activitylog to get more details on the conflicting requests.",
            ),
            "retry-after",
            "1",
        );
    }
    if app
        .faults
        .throttle
        .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |n| n.checked_sub(1))
        .is_ok()
    {
        app.throttled.fetch_add(1, Ordering::Relaxed);
        let r = http::error(
            429,
            "TooManyRequests",
            "The request was throttled; retry after the time in Retry-After.",
        );
        return http::with_header(r, "retry-after", "1");
    }
    let principal = match app.authorize(r) {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    if tenant_level {
        if let Some(e) = check_version(r, RESOURCE_VERSIONS, None) {
            return e;
        }
        return match route {
            Route::Subscriptions => app.subscriptions(r),
            _ => app.tenants(r),
        };
    }
    let class = crate::limits::Class::of(r.method);
    app.by_class[class as usize].fetch_add(1, Ordering::Relaxed);
    let left = match app.buckets.take(&r.names.subscription, &principal, class) {
        crate::limits::Taken::Throttled { retry_after_secs } => {
            app.throttled.fetch_add(1, Ordering::Relaxed);
            return crate::limits::throttled(class, &r.names.subscription, &principal, retry_after_secs);
        }
        crate::limits::Taken::Left(n) => Some(n),
        crate::limits::Taken::Unlimited => None,
    };
    let resp = answer_throttled(app, route, r).await;
    match left {
        Some(n) => http::with_header(resp, class.header(), &n.to_string()),
        None => resp,
    }
}

/// Everything after the token and the bucket: api-versions, the group, the family's answer.
async fn answer_throttled(app: &Arc<App>, route: Route, r: &Req<'_>) -> Response {
    let refusal = match route.versions() {
        Some(Versions::Resources) => check_version(r, RESOURCE_VERSIONS, None),
        Some(Versions::Apim) => check_version(r, APIM_VERSIONS, Some(("Microsoft.ApiManagement", "service"))),
        Some(Versions::Storage(ty)) => check_version(r, STORAGE_VERSIONS, Some(("Microsoft.Storage", ty))),
        Some(Versions::Insights) => check_version(
            r,
            &["2017-05-01-preview", "2021-05-01-preview"],
            Some(("Microsoft.Insights", "diagnosticSettings")),
        ),
        Some(Versions::Authorization) => check_version(
            r,
            crate::shared::AUTHORIZATION_VERSIONS,
            Some(("Microsoft.Authorization", "roleAssignments")),
        ),
        None => None,
    };
    if let Some(e) = refusal {
        return e;
    }
    if route.in_group() {
        let gk = key(&format!("/subscriptions/{}/resourceGroups/{}", r.names.subscription, r.names.group));
        if !app.lock().groups.contains_key(&gk) {
            return group_not_found(&r.names.group);
        }
    }
    if route == Route::Container && *r.method == Method::PUT {
        // The container is made in Azurite before ARM records it, as the
        // real control plane does.
        let account_ready = {
            let st = app.lock();
            let id = format!(
                "/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/{}",
                r.names.subscription, r.names.group, r.names.resource
            );
            st.accounts.get(&key(&id)).is_some_and(|a| a.op.is_none())
        };
        if account_ready {
            if let Err(e) = app.ensure_blob_container(r).await {
                return e;
            }
        }
    }
    let resp = match route {
        Route::BackupRestore { restore } => app.backup_or_restore(r, restore).await,
        _ => answer(app, route, r),
    };
    if route.is_write(r.method) && resp.status().is_success() {
        // Counted after the fact: a refused write changed nothing.
        app.writes.fetch_add(1, Ordering::Relaxed);
        app.dirty.store(true, Ordering::Relaxed);
    }
    app.injected_faults(r, resp).await
}

/// The answer of a resource family, under the state lock.
fn answer(app: &App, route: Route, r: &Req) -> Response {
    let mut st = app.lock();
    let now = now_ms();
    st.settle(now);
    let sub = r.names.subscription.clone();
    let st = &mut *st;
    match route {
        Route::Group => app.group(st, r, &sub, &r.names.group),
        Route::GroupOperation => app.location_result(st, &r.names.operation, now, |_, _| http::empty(200)),
        Route::ServicesInSubscription => app.list_services(st, r, |s| key(&s.subscription) == key(&sub)),
        Route::DeletedServices => app.list_deleted(st, &sub),
        Route::DeletedService => app.deleted_service(st, r, &sub, &r.names.resource.to_ascii_lowercase()),
        Route::LocationOperation => {
            let id = r.names.operation.clone();
            app.location_result(st, &id, now, |_, _| http::empty(200))
        }
        Route::ServicesInGroup => {
            let gk = key(&format!("/subscriptions/{sub}/resourceGroups/{}", r.names.group));
            app.list_services(st, r, |s| {
                key(&format!("/subscriptions/{}/resourceGroups/{}", s.subscription, s.group)) == gk
            })
        }
        Route::Service => app.service(st, r, &sub),
        Route::ServiceOperation => {
            let id = r.names.operation.clone();
            if r.query.contains_key("asyncresponse") {
                app.async_status(st, &id, now)
            } else {
                app.location_result(st, &id, now, |st, op| match st.services.get(&op.target) {
                    Some(s) if op.kind != crate::state::OpKind::ServiceDelete => http::json(200, &app.service_body(st, s, now)),
                    _ => http::empty(200),
                })
            }
        }
        Route::Entity => app.entity(st, r, &sub),
        Route::ListValue => app.list_value(st, r, &sub),
        Route::ListSecrets => app.list_secrets(st, r, &sub),
        Route::RefreshSecret => app.refresh_secret(st, r, &sub),
        Route::TenantOperation => app.tenant_operation(r),
        Route::StorageAccount => app.account(st, r, &sub),
        Route::ListKeys => app.list_keys(st, r, &sub),
        Route::RegenerateKey => app.regenerate_key(st, r, &sub),
        Route::Container => app.container(st, r, &sub),
        Route::BlobService => app.blob_service(st, r, &sub),
        Route::RoleAssignments => app.list_role_assignments(st, r),
        Route::RoleAssignment => app.role_assignment(st, r),
        Route::DiagnosticSettings => app.list_diagnostic_settings(st, r),
        Route::DiagnosticSetting => app.diagnostic_setting(st, r),
        Route::StorageOperation => {
            let id = r.names.operation.clone();
            app.location_result(st, &id, now, |st, op| match st.accounts.get(&op.target) {
                Some(a) => http::json(200, &app.account_body(a)),
                None => http::empty(200),
            })
        }
        Route::Subscription => app.subscription(r),
        Route::Groups => app.list_groups(st, &sub),
        Route::StorageAccounts { in_group } => app.list_accounts(st, &sub, in_group.then_some(r.names.group.as_str())),
        Route::Containers => app.list_containers(st, r, &sub),
        Route::CheckName { storage } => app.check_name(st, r, &sub, storage),
        Route::Admin
        | Route::Token
        | Route::OpenId { .. }
        | Route::InstanceDiscovery
        | Route::SigningKeys
        | Route::CloudMetadata
        | Route::Subscriptions
        | Route::Tenants
        | Route::BackupRestore { .. }
        | Route::NotFound => not_found_path(r),
    }
}

/// `/_emulator/stats` and `/_emulator/faults` (see the README), for the
/// emulator's own principal only: any valid token it issued.
fn admin(app: &App, r: &Req) -> Response {
    if let Err(resp) = app.authorize(r) {
        return resp;
    }
    // Admin calls are the test's own: no ARM bucket is drawn from.
    match r.lower.get(1).map(String::as_str) {
        Some("stats") => http::json(200, &app.stats()),
        Some("faults") if *r.method == Method::POST => app.set_faults(&r.query),
        _ => http::error(404, "NotFound", "unknown emulator admin path"),
    }
}

fn percent_decode(s: &str) -> String {
    url::form_urlencoded::parse(format!("x={}", s.replace('+', "%2B")).as_bytes())
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_else(|| s.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(method: Method, path: &str) -> Route {
        let lower: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(|s| s.to_ascii_lowercase()).collect();
        Route::parse(&method, &lower.iter().map(String::as_str).collect::<Vec<_>>())
    }

    #[test]
    fn routes_are_matched_once_by_shape() {
        let svc = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/apim-src";
        assert_eq!(parse(Method::PUT, svc), Route::Service);
        assert_eq!(
            parse(Method::POST, &format!("{svc}/backup")),
            Route::BackupRestore { restore: false }
        );
        assert_eq!(
            parse(Method::POST, &format!("{svc}/Restore")),
            Route::BackupRestore { restore: true }
        );
        assert_eq!(parse(Method::GET, &format!("{svc}/backup")), Route::NotFound);
        assert_eq!(parse(Method::GET, &format!("{svc}/namedValues")), Route::Entity);
        assert_eq!(parse(Method::PATCH, &format!("{svc}/namedValues/x")), Route::Entity);
        assert_eq!(
            parse(Method::PUT, &format!("{svc}/apis/a/operations/o/policies/policy")),
            Route::Entity
        );
        assert_eq!(parse(Method::POST, &format!("{svc}/namedValues/x/listValue")), Route::ListValue);
        assert_eq!(parse(Method::POST, "/tenant-id/oauth2/v2.0/token"), Route::Token);
        assert_eq!(parse(Method::GET, "/_emulator/stats"), Route::Admin);
        assert!(!Route::ListKeys.is_write(&Method::POST) && Route::Entity.is_write(&Method::PATCH));
    }

    fn names(method: Method, path: &str) -> Names {
        let segs: Vec<String> = path.split('/').filter(|s| !s.is_empty()).map(str::to_string).collect();
        parse(method, path).names(&segs)
    }

    #[test]
    fn a_route_carries_its_names_as_the_client_spelled_them() {
        let svc = "/subscriptions/S1/resourceGroups/Rg/providers/Microsoft.ApiManagement/service/Apim-Src";
        let n = names(Method::PUT, &format!("{svc}/apis/Echo/operations/get"));
        assert_eq!(
            (n.subscription.as_str(), n.group.as_str(), n.resource.as_str()),
            ("S1", "Rg", "Apim-Src")
        );
        assert_eq!(n.below, ["apis", "Echo", "operations", "get"]);
        let n = names(Method::POST, &format!("{svc}/namedValues/Key/refreshSecret"));
        assert_eq!((n.named_value.as_str(), n.below.len()), ("Key", 2));
        let n = names(Method::GET, &format!("{svc}/operationresults/op-1"));
        assert_eq!(n.operation, "op-1");
        let n = names(
            Method::PUT,
            "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/acct/blobServices/default/containers/Backups",
        );
        assert_eq!((n.resource.as_str(), n.container.as_str()), ("acct", "Backups"));
        let n = names(Method::GET, "/subscriptions/s/operationresults/g-op");
        assert_eq!((n.operation.as_str(), n.group.as_str()), ("g-op", ""), "not a group");
        let n = names(
            Method::GET,
            "/subscriptions/s/providers/Microsoft.ApiManagement/locations/westeurope/deletedservices/x",
        );
        assert_eq!((n.location.as_str(), n.resource.as_str()), ("westeurope", "x"));
        assert_eq!(names(Method::POST, "/Tenant-A/oauth2/v2.0/token").tenant, "Tenant-A");
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any path and method: a route, never a panic.
        #[test]
        fn prop_any_path_routes(segs in prop::collection::vec("[a-zA-Z0-9._~%-]{0,10}", 0..14), m in 0..5usize) {
            let method = [Method::GET, Method::PUT, Method::POST, Method::DELETE, Method::PATCH][m].clone();
            let lower: Vec<String> = segs.iter().map(|s| s.to_ascii_lowercase()).collect();
            let _ = Route::parse(&method, &lower.iter().map(String::as_str).collect::<Vec<_>>());
        }

        /// Any `$filter`: parsed or refused with a 400, never a panic.
        #[test]
        fn prop_any_filter_parses_or_is_refused(f in "\\PC{0,60}") {
            if let Err(resp) = crate::odata::parse_filter(&f) {
                prop_assert_eq!(resp.status().as_u16(), 400);
            }
        }
    }
}
