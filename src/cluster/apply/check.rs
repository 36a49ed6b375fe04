//! The server dry run of `apply`: every object checked before anything is written.
use std::collections::HashMap;
use std::io::Write;

use kube::api::{Api, Patch};
use kube::discovery::Scope;
use serde_json::Value;

use super::object::{Checked, api_for, apply_checked, params};
use super::resolve::{Resolver, discovery_failure, is_transport, resource_name};
use super::{Ctx, Step};
use crate::cluster::errors::{ApiError, Attempt, Failure, classify};
use crate::cluster::objects::{Applied, Manifest};
use crate::exit::Status;

pub(super) enum CheckError {
    /// Stop everything now (cluster unreachable, credentials rejected).
    Fatal(String),
    /// This object cannot be applied.
    Object(String),
}

/// Dry-run one object on the server: live state, merged result, and the
/// conflicts that decide whether it may be applied.
pub(super) async fn check_one(
    ctx: &Ctx<'_>,
    resolver: &mut Resolver,
    m: &Manifest,
    created_here: &CreatedHere,
    retry: bool,
) -> Result<Checked, CheckError> {
    let unchecked = |namespace: Option<String>| {
        let mut body = m.object.clone();
        if let Some(ns) = &namespace {
            body["metadata"]["namespace"] = Value::String(ns.clone());
        }
        Checked {
            manifest: m.clone(),
            ar: None,
            namespace,
            before: None,
            merged: None,
            takeover: vec![],
            body,
        }
    };
    let (ar, caps) = match resolver.resolve(m, retry).await {
        Ok(found) => found,
        Err(e)
            if created_here
                .crds
                .contains(&(m.group().to_string(), m.kind.clone()))
                && !is_transport(&e) =>
        {
            // Its CRD is in this file and not installed yet: it cannot be
            // checked before the CRD exists; resolved again when applying.
            return Ok(unchecked(m.namespace.clone()));
        }
        Err(e) => {
            let f = match e {
                kube::Error::Discovery(_) | kube::Error::Api(_)
                    if !is_transport(&e) && !is_auth(&e) =>
                {
                    Failure {
                        message: format!(
                            "the cluster does not serve kind {} in {} (is its CustomResourceDefinition installed, or is the apiVersion outdated?)",
                            m.kind, m.api_version
                        ),
                        fatal: false,
                    }
                }
                e => discovery_failure(&e, &ctx.server),
            };
            return Err(if f.fatal {
                CheckError::Fatal(f.message)
            } else {
                CheckError::Object(f.message)
            });
        }
    };
    let namespace = match caps.scope {
        Scope::Namespaced => Some(
            m.namespace
                .clone()
                .unwrap_or_else(|| ctx.default_namespace.clone()),
        ),
        Scope::Cluster => None,
    };
    if let Some(ns) = &namespace
        && created_here.namespaces.contains(ns)
        && !created_here.existing_namespaces.contains(ns)
    {
        let mut c = unchecked(namespace.clone());
        c.ar = Some(ar);
        return Ok(c);
    }
    let api = api_for(ctx, &ar, namespace.as_deref());
    let resource = resource_name(&ar);
    let attempt = |verb| Attempt {
        verb,
        resource: &resource,
        namespace: namespace.as_deref(),
    };
    let fail = |e: &kube::Error, verb| {
        let f = classify(e, &attempt(verb), &ctx.server);
        if f.fatal {
            CheckError::Fatal(f.message)
        } else {
            CheckError::Object(f.message)
        }
    };
    let before = api
        .get_opt(&m.name)
        .await
        .map_err(|e| fail(&e, "get"))?
        .map(|o| serde_json::to_value(o).unwrap_or(Value::Null));
    let mut body = m.object.clone();
    if let Some(ns) = &namespace {
        body["metadata"]["namespace"] = Value::String(ns.clone());
    }
    let mut takeover = Vec::new();
    let merged = match api
        .patch(
            &m.name,
            &params(ctx, ctx.opts.force_conflicts, true),
            &Patch::Apply(&body),
        )
        .await
    {
        Ok(o) => o,
        Err(e) => {
            let ApiError::Conflict {
                managers: groups,
                message,
            } = ApiError::classify(&e)
            else {
                return Err(fail(&e, "patch"));
            };
            let foreign: Vec<&(String, Vec<String>)> = groups
                .iter()
                .filter(|(m, _)| !crate::k8s::conflict::is_kubectl_manager(m))
                .collect();
            if !foreign.is_empty() || groups.is_empty() {
                let who = if foreign.is_empty() {
                    message
                } else {
                    crate::k8s::conflict::owners(&foreign)
                };
                return Err(CheckError::Object(format!(
                    "conflict: {who}. That tool manages the object: change the value there, \
                     or re-run with --force-conflicts to take the fields over (the tool may set them back)"
                )));
            }
            takeover = groups;
            api.patch(&m.name, &params(ctx, true, true), &Patch::Apply(&body))
                .await
                .map_err(|e| fail(&e, "patch"))?
        }
    };
    Ok(Checked {
        manifest: m.clone(),
        ar: Some(ar),
        namespace,
        before,
        merged: Some(serde_json::to_value(merged).unwrap_or(Value::Null)),
        takeover,
        body,
    })
}

/// What the file itself creates first (objects in them cannot be dry-run before).
#[derive(Default)]
pub(super) struct CreatedHere {
    pub(super) namespaces: Vec<String>,
    /// Of those, the ones that already exist on the cluster.
    pub(super) existing_namespaces: Vec<String>,
    pub(super) crds: Vec<(String, String)>,
}

impl CreatedHere {
    /// Plan: the Namespaces and CRDs the file itself adds.
    pub(super) fn plan(manifests: &[Manifest]) -> CreatedHere {
        CreatedHere {
            crds: manifests
                .iter()
                .filter(|m| m.is("apiextensions.k8s.io", "CustomResourceDefinition"))
                .map(|m| {
                    let spec = &m.object["spec"];
                    (
                        spec["group"].as_str().unwrap_or("").to_string(),
                        spec["names"]["kind"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect(),
            namespaces: manifests
                .iter()
                .filter(|m| m.is("", "Namespace"))
                .map(|m| m.name.clone())
                .collect(),
            existing_namespaces: vec![],
        }
    }
}

/// The credentials were rejected, or RBAC/admission refused.
pub(super) fn is_auth(e: &kube::Error) -> bool {
    matches!(
        ApiError::classify(e),
        ApiError::Unauthorized { .. }
            | ApiError::Forbidden { .. }
            | ApiError::NamespaceTerminating { .. }
    )
}

/// Warn about pull secrets the result names that do not exist.
pub(super) async fn warn_missing_secrets(
    ctx: &Ctx<'_>,
    checked: &[Checked],
    err: &mut dyn std::io::Write,
) {
    let secrets_in_file: Vec<(String, String)> = checked
        .iter()
        .filter(|c| c.manifest.is("", "Secret"))
        .filter_map(|c| Some((c.namespace.clone()?, c.manifest.name.clone())))
        .collect();
    for c in checked {
        let Some(ns) = &c.namespace else { continue };
        let obj = c.merged.as_ref().unwrap_or(&c.body);
        for name in crate::cluster::guard::named_pull_secrets(obj) {
            if secrets_in_file.contains(&(ns.clone(), name.clone())) {
                continue;
            }
            let api: Api<k8s_openapi::api::core::v1::Secret> =
                Api::namespaced(ctx.client.clone(), ns);
            if let Ok(None) = api.get_metadata_opt(&name).await {
                let _ = writeln!(
                    err,
                    "warning: {} names pull secret {name:?}, which does not exist in namespace \"{ns}\"; \
                     create it with: kubectl tingyun secret --server HOST --username USER --password-stdin -n {ns}{}",
                    c.manifest.display(),
                    if c.manifest.is("", "ConfigMap") {
                        " (and in every namespace with injected pods: --injected-namespaces)"
                    } else {
                        ""
                    }
                );
            }
        }
    }
}

/// Server dry run of every object before writing anything: either all of
/// them can be applied or none is.
pub(super) async fn server_dry_run(
    ctx: &Ctx<'_>,
    resolver: &mut Resolver,
    manifests: &[Manifest],
    created_here: &mut CreatedHere,
    err: &mut dyn Write,
) -> anyhow::Result<Step<Vec<Checked>>> {
    let mut checked: Vec<Checked> = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    for m in manifests {
        match check_one(ctx, resolver, m, created_here, false).await {
            Ok(c) => {
                if m.is("", "Namespace") && c.before.is_some() {
                    created_here.existing_namespaces.push(m.name.clone());
                }
                checked.push(c);
            }
            Err(CheckError::Fatal(msg)) => anyhow::bail!("{msg}; nothing was applied"),
            Err(CheckError::Object(msg)) => {
                let _ = writeln!(err, "{}: {msg}", m.display());
                failed.push(m.display());
            }
        }
    }
    if !failed.is_empty() {
        let _ = writeln!(
            err,
            "error: {} of {} objects cannot be applied: {}; nothing was applied",
            failed.len(),
            manifests.len(),
            failed.join(", ")
        );
        return Ok(Step::Stop(Status::Failed));
    }
    Ok(Step::Go(checked))
}

/// Objects in a Namespace (or of a CRD) that this file adds cannot be
/// dry-run before it exists: create those first, check the rest, and remove
/// them again if the rest cannot be applied. Returns what was created, by
/// index into `checked`.
pub(super) async fn create_containers_first(
    ctx: &Ctx<'_>,
    resolver: &mut Resolver,
    checked: &mut [Checked],
    created_here: &mut CreatedHere,
    total: usize,
    err: &mut dyn Write,
) -> Step<HashMap<usize, Applied>> {
    let mut pre_applied: HashMap<usize, Applied> = HashMap::new();
    if checked.iter().all(|c| c.merged.is_some()) {
        return Step::Go(pre_applied);
    }
    let mut failed: Vec<String> = Vec::new();
    let mut created: Vec<usize> = Vec::new();
    let mut failure: Option<String> = None;
    for (i, c) in checked.iter().enumerate() {
        let container = c.manifest.is("", "Namespace")
            || c.manifest
                .is("apiextensions.k8s.io", "CustomResourceDefinition");
        if !container || c.before.is_some() || c.merged.is_none() {
            continue;
        }
        match apply_checked(ctx, resolver, c).await {
            Ok(a) => {
                created.push(i);
                pre_applied.insert(i, a);
            }
            Err(f) => {
                failure = Some(format!("{}: {}", c.manifest.display(), f.message));
                break;
            }
        }
    }
    created_here.existing_namespaces = created_here.namespaces.clone();
    if failure.is_none() {
        for slot in checked.iter_mut().filter(|c| c.merged.is_none()) {
            let m = slot.manifest.clone();
            match check_one(ctx, resolver, &m, created_here, true).await {
                Ok(c) => *slot = c,
                Err(CheckError::Fatal(msg)) | Err(CheckError::Object(msg)) => {
                    failed.push(m.display());
                    let _ = writeln!(err, "{}: {msg}", m.display());
                }
            }
        }
    } else if let Some(f) = &failure {
        let _ = writeln!(err, "{f}");
        failed.push(f.clone());
    }
    if failed.is_empty() {
        return Step::Go(pre_applied);
    }
    let mut removed = Vec::new();
    for &i in created.iter().rev() {
        let c = &checked[i];
        if let Some(ar) = &c.ar {
            let api = api_for(ctx, ar, None);
            if api
                .delete(&c.manifest.name, &Default::default())
                .await
                .is_ok()
            {
                removed.push(c.manifest.display());
            }
        }
    }
    let _ = writeln!(
        err,
        "error: {} of {} objects cannot be applied: {}; nothing was applied{}",
        failed.len(),
        total,
        failed.join(", "),
        if removed.is_empty() {
            String::new()
        } else {
            format!(
                " ({} created for the check and removed again)",
                removed.join(", ")
            )
        }
    );
    Step::Stop(Status::Failed)
}
