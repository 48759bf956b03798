//! Flags (or documents on stdin) into requests, checked before any
//! connection: a typo must not cost a 40-minute create.

use crate::args::{DeleteArgs, GetArgs, ServiceArgs, StorageArgs};
use apim_ops::{ServiceSpec, SoftDeletePolicy};
use arm_client::ResourceId;
use pipeline::{expect_all, usage, ConnectArgs, ContainerDoc, ServiceDoc};
use provision_workflow::{self as workflow, ServiceRequest, SpecError, StorageRequest};
use storage_accounts as accounts;

/// The services `get` reads, checked before any request.
pub(crate) fn get_ids(a: &GetArgs, common: &ConnectArgs) -> anyhow::Result<Vec<ResourceId>> {
    let mut ids = a.service_ids.clone();
    if !a.names.is_empty() {
        let sub = subscription_flag(common)?;
        let rg = need(&a.resource_group, "--resource-group")?;
        for n in &a.names {
            if !apim_rules::is_valid_service_name(n) {
                return Err(usage(format!("--name '{n}' is not a service name")));
            }
            ids.push(apim_ops::service_id(&sub, rg, n));
        }
    }
    if ids.is_empty() {
        return Err(usage("name the services: --resource-group RG --name NAME, or --service-id ID"));
    }
    Ok(ids)
}

/// The services `delete` removes, checked before any request.
pub(crate) fn delete_ids(a: &DeleteArgs) -> anyhow::Result<Vec<ResourceId>> {
    let mut ids = a.service_ids.clone();
    if ids.is_empty() {
        ids = expect_all::<ServiceDoc>(&pipeline::read_stdin_documents()?, "stdin")?
            .into_iter()
            .map(|d| d.id)
            .collect();
    }
    if ids.is_empty() {
        return Err(usage(
            "no services to delete: pass --service-id, or apim.service documents on stdin",
        ));
    }
    Ok(ids)
}

pub(crate) fn policy(a: &ServiceArgs) -> SoftDeletePolicy {
    match (a.recover, a.purge) {
        (true, _) => SoftDeletePolicy::Recover,
        (_, true) => SoftDeletePolicy::Purge,
        _ => SoftDeletePolicy::Refuse,
    }
}

pub(crate) type GroupToCreate = Option<(String, String, String)>;

pub(crate) fn subscription_flag(common: &ConnectArgs) -> anyhow::Result<String> {
    common
        .subscription
        .clone()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| usage("no subscription: pass --subscription or set AZURE_SUBSCRIPTION_ID"))
}

pub(crate) fn need<'a>(v: &'a Option<String>, flag: &str) -> anyhow::Result<&'a str> {
    let v = v
        .as_deref()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| usage(format!("{flag} is required")))?;
    if flag == "--resource-group" && !apim_rules::is_valid_resource_group_name(v) {
        return Err(usage(format!(
            "--resource-group '{v}' is invalid: 1-90 letters, digits, '_', '(', ')', '-' and '.', not ending with '.'"
        )));
    }
    Ok(v)
}

pub(crate) fn group_to_create(create: bool, sub: &str, rg: Option<&str>, loc: Option<&str>) -> anyhow::Result<GroupToCreate> {
    if !create {
        return Ok(None);
    }
    let rg = rg.ok_or_else(|| usage("--create-group needs --resource-group"))?;
    let loc = loc.ok_or_else(|| usage("--create-group needs --location"))?;
    Ok(Some((sub.to_string(), rg.to_string(), loc.to_string())))
}

pub(crate) fn service_requests(a: &ServiceArgs, common: &ConnectArgs) -> anyhow::Result<(Vec<ServiceRequest>, GroupToCreate)> {
    let mut out = Vec::new();
    if a.names.is_empty() {
        // Documents from stdin: each carries its own subscription, group and settings.
        for d in expect_all::<ServiceDoc>(&pipeline::read_stdin_documents()?, "stdin")? {
            let mut spec = ServiceSpec::new(&d.location, &d.sku.name, d.sku.capacity, &d.publisher_email, &d.publisher_name);
            spec.tags = d.tags.clone();
            out.push(ServiceRequest::new(d.id.clone(), spec).map_err(spec_error)?);
        }
        if out.is_empty() {
            return Err(usage("no services: pass --name, or apim.service documents on stdin"));
        }
        let group = match (a.at.create_group, out.first()) {
            (true, Some(r)) => Some((
                r.id.subscription_id().to_string(),
                r.id.resource_group_name().unwrap_or_default().to_string(),
                r.spec.location.clone(),
            )),
            _ => None,
        };
        return Ok((out, group));
    }
    let sub = subscription_flag(common)?;
    let rg = need(&a.at.resource_group, "--resource-group")?;
    let location = need(&a.at.location, "--location")?;
    let mut seen = std::collections::HashSet::new();
    for name in &a.names {
        if !seen.insert(name.to_ascii_lowercase()) {
            return Err(usage(format!("--name {name} is given twice")));
        }
        let spec = ServiceSpec {
            location: location.to_string(),
            sku_name: a.sku.clone(),
            capacity: a.capacity,
            publisher_email: a.publisher_email.clone(),
            publisher_name: a.publisher_name.clone(),
            tags: workflow::tag_map(&a.tags),
        };
        out.push(ServiceRequest::new(apim_ops::service_id(&sub, rg, name), spec).map_err(spec_error)?);
    }
    Ok((out, group_to_create(a.at.create_group, &sub, Some(rg), Some(location))?))
}

/// What `service --like` works on: the source, the targets (`--name` in
/// `-g`, or apim.service documents on stdin, which must exist), and the
/// host rewrites.
pub(crate) struct LikeRequest {
    pub source: ResourceId,
    pub targets: Vec<ResourceId>,
    pub hosts: Vec<(String, String)>,
}

pub(crate) fn like_request(a: &ServiceArgs, common: &ConnectArgs) -> anyhow::Result<Option<LikeRequest>> {
    let Some(file) = &a.like else { return Ok(None) };
    if a.publisher_email.is_some() || a.publisher_name.is_some() || !a.tags.is_empty() {
        return Err(usage(
            "--like changes existing services only: leave out --publisher-email, --publisher-name and --tag",
        ));
    }
    let source = pipeline::read_one_file::<ServiceDoc>(file, "--like")?.id;
    let hosts = a
        .hosts
        .iter()
        .map(|h| pipeline::parse_host_rule("--host", h))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let targets = if a.names.is_empty() {
        expect_all::<ServiceDoc>(&pipeline::read_stdin_documents()?, "stdin")?
            .into_iter()
            .map(|d| d.id)
            .collect::<Vec<_>>()
    } else {
        let sub = subscription_flag(common)?;
        let rg = need(&a.at.resource_group, "--resource-group")?;
        a.names.iter().map(|n| apim_ops::service_id(&sub, rg, n)).collect()
    };
    if targets.is_empty() {
        return Err(usage("--like: name the targets with --name, or pipe their apim.service documents"));
    }
    if targets.iter().any(|t| t == &source) {
        return Err(usage("--like names the target itself: give the source's document"));
    }
    Ok(Some(LikeRequest { source, targets, hosts }))
}

/// A setting that cannot work, named by the flag that sets it.
pub(crate) fn spec_error(e: SpecError) -> anyhow::Error {
    usage(match e {
        SpecError::Name(_) => e.to_string(),
        SpecError::Sku(sku) => format!("unknown --sku '{sku}': use one of {}", apim_rules::SKUS.join(", ")),
        SpecError::Email(email) => format!("--publisher-email '{email}' is not an email address"),
    })
}

pub(crate) fn storage_requests(a: &StorageArgs, common: &ConnectArgs) -> anyhow::Result<(Vec<StorageRequest>, GroupToCreate)> {
    let mut out = Vec::new();
    if a.account.is_none() {
        for d in expect_all::<ContainerDoc>(&pipeline::read_stdin_documents()?, "stdin")? {
            out.push(StorageRequest {
                account: d.account_id.clone(),
                container: d.container.clone(),
                location: d.location.clone(),
                sku: a.sku.clone(),
            });
        }
        if out.is_empty() {
            return Err(usage(
                "no storage: pass --account and --container, or storage.container documents on stdin",
            ));
        }
        return Ok((out, None));
    }
    let sub = subscription_flag(common)?;
    let rg = need(&a.at.resource_group, "--resource-group")?;
    let account = need(&a.account, "--account")?;
    let location = need(&a.at.location, "--location")?;
    let container = need(&a.container, "--container")?;
    if !accounts::is_valid_account_name(account) {
        return Err(usage(format!(
            "--account '{account}' is invalid: 3-24 lowercase letters and digits"
        )));
    }
    if !accounts::is_valid_container_name(container) {
        return Err(usage(format!(
            "--container '{container}' is invalid: 3-63 lowercase letters, digits and single hyphens"
        )));
    }
    out.push(StorageRequest {
        account: accounts::account_id(&sub, rg, account),
        container: container.to_string(),
        location: location.to_string(),
        sku: a.sku.clone(),
    });
    Ok((out, group_to_create(a.at.create_group, &sub, Some(rg), Some(location))?))
}
