//! Writing one object with server-side apply, and kubectl's last-applied annotation.
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::discovery::ApiResource;
use serde_json::Value;

use super::ApplyOptions;
use super::Ctx;
use super::resolve::{Resolver, discovery_failure, resource_name};
use crate::cluster::errors::{Attempt, Failure, classify};
use crate::cluster::objects::{Applied, Manifest};
use crate::k8s::LAST_APPLIED;

/// One object after the server dry run of the whole file.
pub(super) struct Checked {
    pub(super) manifest: Manifest,
    pub(super) ar: Option<ApiResource>,
    pub(super) namespace: Option<String>,
    pub(super) before: Option<Value>,
    /// The server's dry-run result (None: could not be dry-run because the
    /// file itself creates its Namespace or CRD).
    pub(super) merged: Option<Value>,
    /// Fields taken over from kubectl's own managers: (manager, fields).
    pub(super) takeover: Vec<(String, Vec<String>)>,
    pub(super) body: Value,
}

impl Checked {
    pub(super) fn force(&self, opts: &ApplyOptions) -> bool {
        opts.force_conflicts || !self.takeover.is_empty()
    }
}

/// Field manager that owns the last-applied annotation, as kubectl's own
/// server-side apply uses it.
pub(super) const LAST_APPLIED_MANAGER: &str = "kubectl-last-applied";

pub(super) fn params(ctx: &Ctx<'_>, force: bool, dry_run: bool) -> PatchParams {
    let mut params = PatchParams::apply(&ctx.opts.field_manager);
    if force {
        params = params.force();
    }
    if dry_run {
        params = params.dry_run();
    }
    params
}

pub(super) fn api_for(
    ctx: &Ctx<'_>,
    ar: &ApiResource,
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    match namespace {
        Some(ns) => Api::namespaced_with(ctx.client.clone(), ns, ar),
        None => Api::all_with(ctx.client.clone(), ar),
    }
}

/// Apply one checked object for real.
pub(super) async fn apply_checked(
    ctx: &Ctx<'_>,
    resolver: &mut Resolver,
    c: &Checked,
) -> Result<Applied, Failure> {
    let ar = match &c.ar {
        Some(ar) => ar.clone(),
        None => resolver
            .resolve(&c.manifest, true)
            .await
            .map(|(ar, _)| ar)
            .map_err(|e| discovery_failure(&e, &ctx.server))?,
    };
    let api = api_for(ctx, &ar, c.namespace.as_deref());
    let resource = resource_name(&ar);
    let attempt = |verb| Attempt {
        verb,
        resource: &resource,
        namespace: c.namespace.as_deref(),
    };
    let before = match &c.merged {
        Some(_) => c.before.clone(),
        None => api
            .get_opt(&c.manifest.name)
            .await
            .map_err(|e| classify(&e, &attempt("get"), &ctx.server))?
            .map(|o| serde_json::to_value(o).unwrap_or(Value::Null)),
    };
    let result = api
        .patch(
            &c.manifest.name,
            &params(ctx, c.force(ctx.opts), false),
            &Patch::Apply(&c.body),
        )
        .await
        .map_err(|e| classify(&e, &attempt("patch"), &ctx.server))?;
    let mut after = serde_json::to_value(result).unwrap_or(Value::Null);
    // Keep kubectl's view current: where the live object carries the
    // last-applied annotation, it now describes what we applied (as
    // `kubectl apply --server-side` does, under its own field manager).
    if before
        .as_ref()
        .is_some_and(|b| b["metadata"]["annotations"][LAST_APPLIED].is_string())
    {
        let text = last_applied_text(&c.body);
        if after["metadata"]["annotations"][LAST_APPLIED].as_str() != Some(text.as_str()) {
            let mut patch = serde_json::json!({
                "apiVersion": c.manifest.api_version,
                "kind": c.manifest.kind,
                "metadata": {"name": c.manifest.name, "annotations": {LAST_APPLIED: text}},
            });
            if let Some(ns) = &c.namespace {
                patch["metadata"]["namespace"] = Value::String(ns.clone());
            }
            let p = PatchParams::apply(LAST_APPLIED_MANAGER).force();
            let r = api
                .patch(&c.manifest.name, &p, &Patch::Apply(&patch))
                .await
                .map_err(|e| classify(&e, &attempt("patch"), &ctx.server))?;
            after = serde_json::to_value(r).unwrap_or(Value::Null);
        }
    }
    Ok(Applied {
        manifest: c.manifest.clone(),
        namespace: c.namespace.clone(),
        before,
        after,
    })
}

/// The annotation text kubectl writes for an applied object: the object
/// with its other annotations (an empty map when none), keys sorted (Go's
/// encoding/json), one trailing newline.
pub fn last_applied_text(body: &Value) -> String {
    pub(super) fn sorted(v: &Value) -> Value {
        match v {
            Value::Object(m) => {
                let mut keys: Vec<&String> = m.keys().collect();
                keys.sort();
                Value::Object(
                    keys.into_iter()
                        .map(|k| (k.clone(), sorted(&m[k])))
                        .collect(),
                )
            }
            Value::Array(a) => Value::Array(a.iter().map(sorted).collect()),
            other => other.clone(),
        }
    }
    let mut applied = body.clone();
    if let Some(meta) = applied.get_mut("metadata").and_then(Value::as_object_mut) {
        let mut annotations = meta
            .get("annotations")
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default();
        annotations.remove(LAST_APPLIED);
        meta.insert("annotations".into(), Value::Object(annotations));
    }
    format!(
        "{}\n",
        serde_json::to_string(&sorted(&applied)).unwrap_or_default()
    )
}
