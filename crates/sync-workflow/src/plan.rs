//! Pure planning: from two snapshots, what to write on the target (and in
//! which order) so that it reads as the source does with the hosts
//! rewritten, what to delete, and what cannot be carried at all.

use apim_documents::{SyncAction, SyncChangeDoc, SyncGapDoc};
use apim_families::{Family, SecretRead, FAMILIES, SERVICE_PATH};
use apim_inventory::Snapshot;
use arm_client::ResourceId;
use namedvalue_rewrite::host;
use serde_json::{Map, Value};
use std::collections::{BTreeMap, BTreeSet};

/// What to copy, and how.
#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Host rewrites (OLD, NEW), applied wherever a host can occur.
    pub hosts: Vec<(String, String)>,
    /// Only these families (and what they hold); all when empty.
    pub only: Vec<String>,
    /// Never these families (nor what they hold).
    pub exclude: Vec<String>,
    /// Plan deletes of what the target has and the source does not.
    pub delete_extra: bool,
    /// Let the target make its own subscription keys.
    pub new_subscription_keys: bool,
}

/// A plan: changes in write order, and the gaps a copy leaves.
#[derive(Debug, Default)]
pub struct Planned {
    pub changes: Vec<SyncChangeDoc>,
    pub gaps: Vec<SyncGapDoc>,
    /// Entities only the target has, left alone (no `--delete-extra`).
    pub extra: usize,
}

/// A family name as `--only`/`--exclude` take it, or the list of names.
pub fn check_family(name: &str) -> Result<&'static Family, String> {
    apim_families::family(name).ok_or_else(|| {
        let names: Vec<&str> = FAMILIES.iter().map(|f| f.name).collect();
        format!("'{name}' is not a family; use one of: {}", names.join(", "))
    })
}

fn ancestry(fam: &'static Family) -> impl Iterator<Item = &'static str> {
    std::iter::successors(Some(fam), |f| f.parent.and_then(apim_families::family)).map(|f| f.name)
}

fn selected(opts: &Options, fam: &'static Family) -> bool {
    let named = |list: &[String]| ancestry(fam).any(|n| list.iter().any(|x| x == n));
    (opts.only.is_empty() || named(&opts.only)) && !named(&opts.exclude)
}

/// The wave a family is written in: after its parent and after every
/// family it refers to.
pub fn wave(fam: &Family) -> u32 {
    let above = fam.parent.into_iter().chain(fam.refers_to.iter().copied());
    1 + above.filter_map(apim_families::family).map(wave).max().unwrap_or(0)
}

/// Deletes run after every write, children before their parents.
fn delete_wave(fam: &Family) -> u32 {
    1000 - wave(fam)
}

/// The plan that makes `dst` read as `src` with the hosts rewritten.
pub fn plan(src: &Snapshot, dst: &Snapshot, source_id: Option<&ResourceId>, target_id: &ResourceId, opts: &Options) -> Planned {
    let mut out = Planned::default();
    let from_file = src.secrets.is_none();
    // Entities the target lacks and will not get: what needs them waits too.
    let mut held_back: BTreeSet<String> = BTreeSet::new();
    let gap = |path: &str, property: Option<&str>, reason: String, fix: String| SyncGapDoc {
        target_id: target_id.clone(),
        path: path.to_string(),
        property: property.map(str::to_string),
        reason,
        fix,
    };
    for (path, props) in &src.entities {
        if path == SERVICE_PATH {
            if let Some(theirs) = dst.entities.get(path) {
                let (mut want, mut theirs) = (props.clone(), theirs.clone());
                host::replace_in_json(&mut want, &opts.hosts);
                // A copy may move to another tier on purpose.
                apim_inventory::without_tier(&mut want, &mut theirs);
                if want != theirs {
                    out.gaps.push(gap(
                        path,
                        None,
                        "the service's own settings (custom domains, protocols, identities, network, units) are not entities".into(),
                        "apim-provision service --like SOURCE --host OLD=NEW --update (units: --update --capacity N); apim-diff shows what differs".into(),
                    ));
                }
            }
            continue;
        }
        let Some(fam) = apim_families::family_of(path) else { continue };
        if !selected(opts, fam) {
            continue;
        }
        let mut want = props.clone();
        host::replace_in_json(&mut want, &opts.hosts);
        let theirs = dst.entities.get(path);
        let is_kv = want.get("keyVault").is_some_and(|k| !k.is_null());
        let applies = |when: Option<&str>| when.is_none_or(|w| want.pointer(w).and_then(Value::as_bool) == Some(true)) && !is_kv;

        // What no call reads back.
        if fam.name == "certificates" && !is_kv {
            if theirs != Some(&want) {
                out.gaps.push(gap(
                    path,
                    Some("/data"),
                    "an uploaded certificate's private key is never readable".into(),
                    format!("upload the PFX to the target (PUT {path} with data and password), or keep it in Key Vault and refer to it"),
                ));
                if theirs.is_none() {
                    held_back.insert(path.clone());
                }
            }
            continue;
        }
        let mut secrets = Vec::new();
        let mut unreadable = false;
        for s in fam.secrets.iter().filter(|s| applies(s.when)) {
            match s.read {
                SecretRead::Never if theirs.is_none() && fam.name == "users" => out.gaps.push(gap(
                    path,
                    Some(s.property),
                    "a user's password is never readable: the user is created without one".into(),
                    "the user resets it on the target's developer portal, or signs in through an identity provider".into(),
                )),
                SecretRead::Never if theirs != Some(&want) && fam.name != "users" => out.gaps.push(gap(
                    path,
                    Some(s.property),
                    format!("{} is write-only: no call reads it back", s.property),
                    format!("set it on the target by hand (PUT {path})"),
                )),
                SecretRead::ListValue | SecretRead::ListSecrets => {
                    if fam.name == "subscriptions" && opts.new_subscription_keys {
                        continue;
                    }
                    if from_file {
                        unreadable = fam.name != "subscriptions";
                        if unreadable {
                            out.gaps.push(gap(
                                path,
                                Some(s.property),
                                "a snapshot file holds no secret values".into(),
                                "plan from the live source (an apim.service document) to copy it".into(),
                            ));
                        }
                        continue;
                    }
                    let Some(mine) = src.secret(path, s.property) else { continue };
                    let mut mine = Value::String(mine.expose().to_string());
                    host::replace_in_json(&mut mine, &opts.hosts);
                    if dst.secret(path, s.property).map(|x| x.expose()) != mine.as_str() {
                        secrets.push(s.property.to_string());
                    }
                }
                _ => {}
            }
        }
        if unreadable {
            if theirs.is_none() {
                held_back.insert(path.clone());
            }
            continue;
        }
        // Azure's own entities (built-in groups, the administrator) are
        // made where missing, never rewritten: Azure refuses that.
        let built_in = apim_families::BUILT_IN.iter().any(|b| b.eq_ignore_ascii_case(path));
        let action = match theirs {
            None => SyncAction::Create,
            Some(t) if !built_in && (t != &want || !secrets.is_empty()) => SyncAction::Update,
            Some(_) => continue,
        };
        let refs = refs_in(&want, src, dst);
        out.changes.push(SyncChangeDoc {
            source_id: source_id.cloned(),
            target_id: target_id.clone(),
            path: path.clone(),
            target_path: target_path(path, src, dst),
            source_path: source_id.map(|_| src.arm_path(path).to_string()),
            action,
            order: wave(fam),
            before: theirs.cloned(),
            after: Some(want),
            source_etag: (!secrets.is_empty()).then(|| src.secret_etag(path).map(str::to_string)).flatten(),
            secrets,
            etag: None,
            refs,
            hosts: opts.hosts.clone(),
            status: None,
            message: None,
        });
    }
    for (path, theirs) in &dst.entities {
        let Some(fam) = apim_families::family_of(path) else { continue };
        if src.entities.contains_key(path) || !selected(opts, fam) || !apim_families::deletable(path) {
            continue;
        }
        // What lives in an entity goes with it: an ancestor (each pair of
        // segments above) that is deleted too takes it along.
        let segs: Vec<&str> = path.split('/').collect();
        let parent_goes = (2..segs.len())
            .step_by(2)
            .map(|n| segs[..n].join("/"))
            .any(|p| dst.entities.contains_key(&p) && !src.entities.contains_key(&p) && apim_families::deletable(&p));
        if parent_goes {
            continue;
        }
        if !opts.delete_extra {
            out.extra += 1;
            continue;
        }
        out.changes.push(SyncChangeDoc {
            source_id: source_id.cloned(),
            target_id: target_id.clone(),
            path: path.clone(),
            target_path: dst.arm_path(path).to_string(),
            source_path: None,
            action: SyncAction::Delete,
            order: delete_wave(fam),
            before: Some(theirs.clone()),
            after: None,
            secrets: Vec::new(),
            source_etag: None,
            etag: None,
            refs: BTreeMap::new(),
            hosts: Vec::new(),
            status: None,
            message: None,
        });
    }
    hold_back_dependents(&mut out, held_back, &gap);
    out.changes.sort_by(|a, b| (a.order, &a.path).cmp(&(b.order, &b.path)));
    out
}

/// A write that needs an entity the copy cannot make (its parent, an id
/// it holds, the entity it is named after, a named value it uses) would
/// fail: it becomes a gap too, and so does what needs it in turn.
fn hold_back_dependents(
    out: &mut Planned,
    mut held_back: BTreeSet<String>,
    gap: &impl Fn(&str, Option<&str>, String, String) -> SyncGapDoc,
) {
    loop {
        let before = held_back.len();
        let mut kept = Vec::with_capacity(out.changes.len());
        for c in std::mem::take(&mut out.changes) {
            let needs = (c.action != SyncAction::Delete)
                .then(|| needs_of(&c).into_iter().find(|n| held_back.contains(n)))
                .flatten();
            match needs {
                Some(n) => {
                    out.gaps.push(gap(
                        &c.path,
                        None,
                        format!("it needs {n}, which the copy cannot make"),
                        format!("fix the gap of {n}, then plan and apply again"),
                    ));
                    held_back.insert(c.path);
                }
                None => kept.push(c),
            }
        }
        out.changes = kept;
        if held_back.len() == before {
            return;
        }
    }
}

/// The entities a change needs on the target: its parent, what its id
/// properties name, the entity it is named after, and the named values
/// it uses.
fn needs_of(c: &SyncChangeDoc) -> Vec<String> {
    let mut out = Vec::new();
    let segs: Vec<&str> = c.path.split('/').collect();
    if segs.len() > 2 {
        out.push(segs[..segs.len() - 2].join("/"));
    }
    if let (Some(fam), Some(id)) = (apim_families::family_of(&c.path), segs.last()) {
        if let Some(named) = fam.named_after().and_then(apim_families::family) {
            out.push(format!("{}/{id}", named.collection));
        }
    }
    fn ids(v: &Value, under: bool, out: &mut Vec<String>) {
        match v {
            Value::String(s) if under && s.starts_with('/') => out.push(s[1..].to_string()),
            Value::Array(a) => a.iter().for_each(|x| ids(x, under, out)),
            Value::Object(m) => m.iter().for_each(|(k, x)| ids(x, holds_ids(k), out)),
            _ => {}
        }
    }
    if let Some(after) = &c.after {
        ids(after, false, &mut out);
    }
    out.extend(c.refs.keys().map(|n| format!("namedValues/{n}")));
    out
}

/// Where the target has (or will have) the entity a snapshot keeps at
/// `path`: a named value under the target's id for its name, else the
/// source's id.
fn target_path(path: &str, src: &Snapshot, dst: &Snapshot) -> String {
    if dst.entities.contains_key(path) {
        dst.arm_path(path).to_string()
    } else {
        src.arm_path(path).to_string()
    }
}

/// The named values `{{…}}` in these properties name, each with the id it
/// has on the target.
fn refs_in(props: &Value, src: &Snapshot, dst: &Snapshot) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut seen = |s: &str| {
        let mut rest = s;
        while let Some(i) = rest.find("{{") {
            let after = &rest[i + 2..];
            let Some(j) = after.find("}}") else { break };
            let name = &after[..j];
            let path = format!("namedValues/{name}");
            if src.entities.contains_key(&path) || dst.entities.contains_key(&path) {
                let id = target_path(&path, src, dst);
                out.insert(name.to_string(), id["namedValues/".len()..].to_string());
            }
            rest = &after[j + 2..];
        }
    };
    visit_strings(props, &mut seen);
    out
}

fn visit_strings(v: &Value, f: &mut impl FnMut(&str)) {
    match v {
        Value::String(s) => f(s),
        Value::Array(a) => a.iter().for_each(|x| visit_strings(x, f)),
        Value::Object(m) => m.values().for_each(|x| visit_strings(x, f)),
        _ => {}
    }
}

/// The request body that writes a change: the snapshot's properties with
/// ids inside the service made absolute on the target, and named values
/// referred to by the target's ids. `None` for a link, which has no body.
pub fn body_of(change: &SyncChangeDoc) -> Option<Value> {
    let fam = apim_families::family_of(&change.path)?;
    if fam.link {
        return None;
    }
    let mut props = change.after.clone().unwrap_or_else(|| Value::Object(Map::new()));
    absolute_ids(&mut props, &change.target_id.to_string(), false);
    rename_refs(&mut props, &change.refs);
    Some(serde_json::json!({ "properties": props }))
}

/// Whether a property holds ids of other entities (`loggerId`,
/// `apiVersionSetId`, a subscription's `scope`, `certificateIds`).
fn holds_ids(key: &str) -> bool {
    key.ends_with("Id") || key.ends_with("Ids") || key == "scope"
}

fn absolute_ids(v: &mut Value, target: &str, under_id_key: bool) {
    match v {
        Value::String(s) if under_id_key && s.starts_with('/') && apim_families::family_of(&s[1..]).is_some() => {
            *s = format!("{target}{s}");
        }
        Value::Array(a) => a.iter_mut().for_each(|x| absolute_ids(x, target, under_id_key)),
        Value::Object(m) => {
            for (k, x) in m.iter_mut() {
                absolute_ids(x, target, holds_ids(k));
            }
        }
        _ => {}
    }
}

fn rename_refs(v: &mut Value, refs: &BTreeMap<String, String>) {
    if refs.is_empty() {
        return;
    }
    match v {
        Value::String(s) if s.contains("{{") => {
            for (name, id) in refs.iter().filter(|(n, i)| n != i) {
                *s = s.replace(&format!("{{{{{name}}}}}"), &format!("{{{{{id}}}}}"));
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| rename_refs(x, refs)),
        Value::Object(m) => m.values_mut().for_each(|x| rename_refs(x, refs)),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn snap(entities: Value) -> Snapshot {
        Snapshot {
            entities: entities.as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
            secrets: Some(BTreeMap::new()),
            ..Default::default()
        }
    }

    fn sid(name: &str) -> ResourceId {
        format!("/subscriptions/s/resourceGroups/rg/providers/Microsoft.ApiManagement/service/{name}")
            .parse()
            .unwrap()
    }

    fn opts() -> Options {
        Options {
            hosts: vec![("api.src.example.com".into(), "api.dest.example.com".into())],
            ..Default::default()
        }
    }

    #[test]
    fn writes_come_after_what_they_refer_to_and_deletes_after_every_write() {
        let src = snap(json!({
            "namedValues/host": {"displayName": "host", "value": "api.src.example.com", "secret": false},
            "loggers/ai": {"loggerType": "applicationInsights", "credentials": {"instrumentationKey": "{{host}}"}},
            "diagnostics/applicationinsights": {"loggerId": "/loggers/ai"},
            "apis/echo": {"displayName": "Echo", "path": "echo", "serviceUrl": "https://api.src.example.com/echo"},
            "apis/echo/operations/get": {"displayName": "get", "method": "GET", "urlTemplate": "/users/{id}"},
            "products/gold": {"displayName": "Gold"},
            "products/gold/apis/echo": {},
            "groups/developers": {"description": "ours"},
        }));
        let dst =
            snap(json!({"backends/old": {"url": "https://x"}, "backends/old/x/y": {}, "groups/developers": {"description": "theirs"}}));
        let p = plan(
            &src,
            &dst,
            Some(&sid("src")),
            &sid("dest"),
            &Options {
                delete_extra: true,
                ..opts()
            },
        );
        let order: Vec<&str> = p.changes.iter().map(|c| c.path.as_str()).collect();
        let at = |p: &str| order.iter().position(|x| *x == p).unwrap();
        assert!(at("namedValues/host") < at("loggers/ai") && at("loggers/ai") < at("diagnostics/applicationinsights"));
        assert!(at("apis/echo") < at("apis/echo/operations/get") && at("products/gold") < at("products/gold/apis/echo"));
        assert_eq!(order.last(), Some(&"backends/old"), "deletes last; built-in groups never");
        assert!(!order.contains(&"groups/developers"), "a built-in entity is never rewritten");
        assert_eq!(p.changes.last().unwrap().action, SyncAction::Delete);
        // Hosts are rewritten as planned.
        let api = &p.changes[at("apis/echo")];
        assert_eq!(api.after.as_ref().unwrap()["serviceUrl"], "https://api.dest.example.com/echo");
        // Without --delete-extra nothing is deleted, and the extra is counted.
        let p = plan(&src, &dst, Some(&sid("src")), &sid("dest"), &opts());
        assert!(p.changes.iter().all(|c| c.action != SyncAction::Delete));
        assert_eq!(p.extra, 1);
    }

    #[test]
    fn what_lives_in_a_deleted_entity_goes_with_it() {
        let src = snap(json!({"apis/kept": {}, "apis/kept/operations/get": {}}));
        let dst = snap(json!({
            "apis/kept": {}, "apis/kept/operations/get": {}, "apis/kept/operations/old": {},
            "apis/gone": {}, "apis/gone/operations/get": {}, "apis/gone/operations/get/policies/policy": {},
        }));
        let p = plan(
            &src,
            &dst,
            None,
            &sid("dest"),
            &Options {
                delete_extra: true,
                ..opts()
            },
        );
        let mut deleted: Vec<&str> = p.changes.iter().map(|c| c.path.as_str()).collect();
        deleted.sort();
        assert_eq!(deleted, ["apis/gone", "apis/kept/operations/old"]);
        assert!(p.changes.iter().all(|c| c.action == SyncAction::Delete));
    }

    #[test]
    fn a_target_equal_after_the_rewrite_plans_nothing() {
        let src = snap(json!({"apis/echo": {"serviceUrl": "https://api.src.example.com/echo"}}));
        let dst = snap(json!({"apis/echo": {"serviceUrl": "https://api.dest.example.com/echo"}}));
        assert!(plan(&src, &dst, None, &sid("dest"), &opts()).changes.is_empty());
        let drift = snap(json!({"apis/echo": {"serviceUrl": "https://api.src.example.com/echo"}}));
        let p = plan(&src, &drift, None, &sid("dest"), &opts());
        assert_eq!((p.changes.len(), p.changes[0].action), (1, SyncAction::Update));
    }

    #[test]
    fn the_body_names_the_targets_ids_and_its_named_values() {
        let mut src = snap(json!({
            "namedValues/Backend Key": {"displayName": "Backend Key", "value": "x", "secret": false},
            "namedValues/host": {"displayName": "host", "value": "x", "secret": false},
            "diagnostics/d": {"loggerId": "/loggers/ai", "note": "/loggers/ai", "x": "{{Backend Key}} {{host}}"},
            "subscriptions/s1": {"scope": "/apis/echo", "ownerId": "/users/u1", "displayName": "s"},
            "apis/echo/operations/get": {"urlTemplate": "/users/{id}"}
        }));
        src.ids.insert("namedValues/Backend Key".into(), "namedValues/backend-key".into());
        let mut dst = snap(json!({"namedValues/host": {"displayName": "host", "value": "y", "secret": false}}));
        dst.ids.insert("namedValues/host".into(), "namedValues/5f0c".into());
        let p = plan(&src, &dst, Some(&sid("src")), &sid("dest"), &Options::default());
        let by = |path: &str| p.changes.iter().find(|c| c.path == path).unwrap();
        assert_eq!(by("namedValues/Backend Key").target_path, "namedValues/backend-key");
        assert_eq!(by("namedValues/host").target_path, "namedValues/5f0c");
        let d = body_of(by("diagnostics/d")).unwrap();
        let dest = sid("dest").to_string();
        assert_eq!(d["properties"]["loggerId"], format!("{dest}/loggers/ai"));
        assert_eq!(d["properties"]["note"], "/loggers/ai", "only id properties are ids");
        assert_eq!(d["properties"]["x"], "{{backend-key}} {{5f0c}}");
        let s = body_of(by("subscriptions/s1")).unwrap();
        assert_eq!(s["properties"]["scope"], format!("{dest}/apis/echo"));
        assert_eq!(s["properties"]["ownerId"], format!("{dest}/users/u1"));
        let op = body_of(by("apis/echo/operations/get")).unwrap();
        assert_eq!(op["properties"]["urlTemplate"], "/users/{id}");
    }

    #[test]
    fn what_cannot_be_read_is_a_gap_and_secrets_are_named_never_held() {
        let mut src = snap(json!({
            "certificates/up": {"thumbprint": "AB", "subject": "CN=x"},
            "certificates/kv": {"keyVault": {"secretIdentifier": "https://v.vault.azure.net/secrets/c"}},
            "users/alice": {"email": "a@x", "firstName": "A", "lastName": "S"},
            "namedValues/pw": {"displayName": "pw", "secret": true},
            "subscriptions/s1": {"scope": "/apis", "displayName": "s"},
            "gateways/g": {"description": "on premises"},
            "gateways/g/hostnameConfigurations/h": {"hostname": "x", "certificateId": "/certificates/up"},
            "gateways/g/certificateAuthorities/up": {"isTrusted": true},
        }));
        let p = plan(&src, &snap(json!({})), Some(&sid("src")), &sid("dest"), &opts());
        let gaps: Vec<&str> = p.gaps.iter().map(|g| g.path.as_str()).collect();
        assert_eq!(
            gaps,
            [
                "certificates/up",
                "users/alice",
                "gateways/g/certificateAuthorities/up",
                "gateways/g/hostnameConfigurations/h"
            ],
            "what needs a certificate the copy cannot make waits with it"
        );
        assert!(p.changes.iter().any(|c| c.path == "gateways/g"));
        assert!(p.changes.iter().any(|c| c.path == "certificates/kv"));
        assert!(p.changes.iter().all(|c| c.path != "certificates/up"));
        // From a file: secret named values are gaps; subscriptions get new keys.
        src.secrets = None;
        let p = plan(&src, &snap(json!({})), None, &sid("dest"), &opts());
        assert!(p.gaps.iter().any(|g| g.path == "namedValues/pw"));
        assert!(p.changes.iter().all(|c| c.path != "namedValues/pw"));
        assert!(p.changes.iter().any(|c| c.path == "subscriptions/s1" && c.secrets.is_empty()));
    }

    #[test]
    fn only_and_exclude_name_families_and_what_they_hold() {
        let src = snap(json!({"users/u": {"email": "e"}, "apis/a": {}, "apis/a/operations/o": {}, "groups/g/users/u": {}}));
        let p = plan(
            &src,
            &snap(json!({})),
            None,
            &sid("dest"),
            &Options {
                exclude: vec!["users".into()],
                ..opts()
            },
        );
        assert!(p.changes.iter().all(|c| c.path != "users/u") && p.changes.iter().any(|c| c.path == "groups/g/users/u"));
        let p = plan(
            &src,
            &snap(json!({})),
            None,
            &sid("dest"),
            &Options {
                only: vec!["apis".into()],
                ..opts()
            },
        );
        let paths: Vec<&str> = p.changes.iter().map(|c| c.path.as_str()).collect();
        assert_eq!(paths, ["apis/a", "apis/a/operations/o"]);
        assert!(check_family("apiz").unwrap_err().contains("namedValues"));
    }
}
