//! `kubectl tingyun apply`: server-side apply, restart, wait until Ready.
//!
//! Every object in the file is applied with server-side apply (field manager
//! `kubectl-tingyun` unless `--field-manager`), Namespaces and CRDs first,
//! kinds resolved by discovery. Each object gets one report line; failures
//! are reported per object and make the command exit 1. Afterwards the agent
//! workloads whose pods would keep stale settings are restarted
//! ([`super::restart`]) and waited for ([`super::wait`]).
//!
//! `--dry-run=server` applies with `dryRun=All` and prints a unified diff of
//! live vs merged per object; exit 1 when anything differs, 2 on errors.
use std::collections::HashMap;

use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersion;
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use serde_json::Value;

use super::errors::{ApiError, Attempt, Failure, classify};
use super::objects::{self, Applied, Manifest};
use crate::dry_run::DryRun;
use crate::exit::Status;
use crate::output::Output;

/// Options shared by `apply` and `patch --apply` (see `src/cli/apply.rs`
/// for each flag).
#[derive(Debug, Clone, Default)]
pub struct ApplyOptions {
    pub connect: super::connect::ConnectOptions,
    /// Namespace for objects in the file that do not name one.
    pub namespace: Option<String>,
    /// Do not restart the agent after applying.
    pub no_restart: bool,
    /// How long to wait for the restarted agent to become Ready.
    pub timeout: std::time::Duration,
    /// Field manager for server-side apply.
    pub field_manager: String,
    /// Take ownership of fields managed by other tools.
    pub force_conflicts: bool,
    /// Proceed even when the apply removes the private-registry setup.
    pub allow_removal: bool,
    /// The registry `patch --registry` moved the images to (a move there is
    /// intended, not a loss).
    pub intended_registry: Option<String>,
}

/// The `apply` command: `file` (`-`: standard input) with `dry_run`.
pub fn run(
    file: &str,
    dry_run: DryRun,
    opts: &ApplyOptions,
    output: &mut Output,
) -> anyhow::Result<Status> {
    let source = crate::source::Source::read(file)?;
    let (label, text) = (source.label, source.text);
    match dry_run {
        DryRun::Client => {
            let objects = objects::apply_order(objects::parse(&label, &text)?);
            for m in &objects {
                writeln!(output.out, "{} (client dry run: nothing sent)", m.display())?;
            }
            Ok(Status::Done)
        }
        DryRun::Server => apply_text(&label, &text, opts, true, output),
        DryRun::Off => apply_text(&label, &text, opts, false, output),
    }
}

/// Apply already-read manifest text (used by `patch --apply`).
/// `label` names the source in messages (a path or `<stdin>`).
/// Reports go to `output.out`, problems and progress to `output.err`; an
/// error is returned for the caller to print.
pub fn apply_text(
    label: &str,
    text: &str,
    opts: &ApplyOptions,
    server_dry_run: bool,
    output: &mut Output,
) -> anyhow::Result<Status> {
    // The whole command never runs longer than --timeout plus one
    // --request-timeout (the wait gets what the apply left of --timeout).
    let deadline = tokio::time::Instant::now() + opts.timeout;
    let bound = opts.timeout + opts.connect.request_timeout;
    crate::runtime::block_on(async {
        match tokio::time::timeout(
            bound,
            apply_async(
                label,
                text,
                opts,
                server_dry_run,
                deadline,
                output.reborrow(),
            ),
        )
        .await
        {
            Ok(r) => r,
            Err(_) => Err(anyhow::anyhow!(
                "gave up after {:?} (--timeout plus --request-timeout): the cluster answers too slowly; \
                 the objects reported above were applied",
                bound
            )),
        }
    })?
}

/// Resolves kinds by discovery, one request per group/version.
struct Resolver {
    client: kube::Client,
    cache: HashMap<(String, String), (ApiResource, ApiCapabilities)>,
    /// Discovery answers per apiVersion.
    groups: HashMap<String, Vec<(ApiResource, ApiCapabilities)>>,
    /// (group, kind) defined by CRDs in the file: retry discovery while they get established.
    from_crds: Vec<(String, String)>,
}

impl Resolver {
    /// `retry`: wait for kinds of CRDs from the file to be served.
    async fn resolve(
        &mut self,
        m: &Manifest,
        retry: bool,
    ) -> Result<(ApiResource, ApiCapabilities), kube::Error> {
        let key = (m.api_version.clone(), m.kind.clone());
        if let Some(hit) = self.cache.get(&key) {
            return Ok(hit.clone());
        }
        let gv = GroupVersion::gv(m.group(), m.version());
        let mut tries = 0;
        loop {
            let found = match self.groups.get(&m.api_version) {
                Some(resources) => Ok(resources.clone()),
                None => kube::discovery::pinned_group(&self.client, &gv)
                    .await
                    .map(|g| g.versioned_resources(m.version())),
            }
            .and_then(|resources| {
                self.groups.insert(m.api_version.clone(), resources.clone());
                resources
                    .into_iter()
                    .find(|(ar, _)| ar.kind == m.kind && !ar.plural.contains('/'))
                    .ok_or_else(|| {
                        kube::Error::Discovery(kube::error::DiscoveryError::MissingKind(
                            m.kind.clone(),
                        ))
                    })
            });
            match found {
                Ok(found) => {
                    self.cache.insert(key, found.clone());
                    return Ok(found);
                }
                Err(e)
                    if retry
                        && tries < 20
                        && self
                            .from_crds
                            .contains(&(m.group().to_string(), m.kind.clone()))
                        && !is_transport(&e) =>
                {
                    // A CRD from this file may take a moment to be served: ask again.
                    tries += 1;
                    self.groups.remove(&m.api_version);
                    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// No answer from the API server (unreachable, timed out).
fn is_transport(e: &kube::Error) -> bool {
    matches!(
        ApiError::classify(e),
        ApiError::Unreachable { .. } | ApiError::Timeout { .. }
    )
}

/// `deployments.apps`, `secrets`.
pub fn resource_name(ar: &ApiResource) -> String {
    if ar.group.is_empty() {
        ar.plural.clone()
    } else {
        format!("{}.{}", ar.plural, ar.group)
    }
}

struct Ctx<'a> {
    client: kube::Client,
    server: String,
    default_namespace: String,
    opts: &'a ApplyOptions,
}

/// Field manager that owns the last-applied annotation, as kubectl's own
/// server-side apply uses it.
const LAST_APPLIED_MANAGER: &str = "kubectl-last-applied";
pub const LAST_APPLIED: &str = "kubectl.kubernetes.io/last-applied-configuration";

/// One object after the server dry run of the whole file.
struct Checked {
    manifest: Manifest,
    ar: Option<ApiResource>,
    namespace: Option<String>,
    before: Option<Value>,
    /// The server's dry-run result (None: could not be dry-run because the
    /// file itself creates its Namespace or CRD).
    merged: Option<Value>,
    /// Fields taken over from kubectl's own managers: (manager, fields).
    takeover: Vec<(String, Vec<String>)>,
    body: Value,
}

impl Checked {
    fn force(&self, opts: &ApplyOptions) -> bool {
        opts.force_conflicts || !self.takeover.is_empty()
    }
}

enum CheckError {
    /// Stop everything now (cluster unreachable, credentials rejected).
    Fatal(String),
    /// This object cannot be applied.
    Object(String),
}

fn params(ctx: &Ctx<'_>, force: bool, dry_run: bool) -> PatchParams {
    let mut params = PatchParams::apply(&ctx.opts.field_manager);
    if force {
        params = params.force();
    }
    if dry_run {
        params = params.dry_run();
    }
    params
}

fn api_for(ctx: &Ctx<'_>, ar: &ApiResource, namespace: Option<&str>) -> Api<DynamicObject> {
    match namespace {
        Some(ns) => Api::namespaced_with(ctx.client.clone(), ns, ar),
        None => Api::all_with(ctx.client.clone(), ar),
    }
}

/// Dry-run one object on the server: live state, merged result, and the
/// conflicts that decide whether it may be applied.
async fn check_one(
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
                e => classify(
                    &e,
                    &Attempt {
                        verb: "get",
                        resource: "API discovery",
                        namespace: None,
                    },
                    &ctx.server,
                ),
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
struct CreatedHere {
    namespaces: Vec<String>,
    /// Of those, the ones that already exist on the cluster.
    existing_namespaces: Vec<String>,
    crds: Vec<(String, String)>,
}

/// Apply one checked object for real.
async fn apply_checked(
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
            .map_err(|e| {
                classify(
                    &e,
                    &Attempt {
                        verb: "get",
                        resource: "API discovery",
                        namespace: None,
                    },
                    &ctx.server,
                )
            })?,
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
    fn sorted(v: &Value) -> Value {
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

/// The credentials were rejected, or RBAC/admission refused.
fn is_auth(e: &kube::Error) -> bool {
    matches!(
        ApiError::classify(e),
        ApiError::Unauthorized { .. }
            | ApiError::Forbidden { .. }
            | ApiError::NamespaceTerminating { .. }
    )
}

/// Warn about pull secrets the result names that do not exist.
async fn warn_missing_secrets(ctx: &Ctx<'_>, checked: &[Checked], err: &mut dyn std::io::Write) {
    let secrets_in_file: Vec<(String, String)> = checked
        .iter()
        .filter(|c| c.manifest.is("", "Secret"))
        .filter_map(|c| Some((c.namespace.clone()?, c.manifest.name.clone())))
        .collect();
    for c in checked {
        let Some(ns) = &c.namespace else { continue };
        let obj = c.merged.as_ref().unwrap_or(&c.body);
        for name in super::guard::named_pull_secrets(obj) {
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

async fn apply_async(
    label: &str,
    text: &str,
    opts: &ApplyOptions,
    dry_run: bool,
    deadline: tokio::time::Instant,
    io: Output<'_>,
) -> anyhow::Result<Status> {
    let Output {
        out: stdout,
        err: stderr,
        tty,
        color,
        width,
    } = io;
    let since = k8s_openapi::jiff::Timestamp::now();
    let manifests = objects::apply_order(objects::parse(label, text)?);
    if manifests.is_empty() {
        anyhow::bail!("{label}: no Kubernetes objects to apply");
    }
    let conn = opts.connect.connect().await?;
    let ctx = Ctx {
        client: conn.client.clone(),
        server: conn.server.trim_end_matches('/').to_string(),
        default_namespace: opts
            .namespace
            .clone()
            .unwrap_or_else(|| conn.default_namespace.clone()),
        opts,
    };
    let mut created_here = CreatedHere {
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
    };
    let mut resolver = Resolver {
        client: conn.client.clone(),
        cache: HashMap::new(),
        groups: HashMap::new(),
        from_crds: created_here.crds.clone(),
    };

    // Ctrl-C is ours from here on (a real apply): it is answered between
    // objects with what was applied. Polled once so the handler is in place
    // before the first write.
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    if !dry_run {
        let _ = futures::FutureExt::now_or_never(&mut interrupted);
    }

    // 1. Dry-run every object on the server before writing anything: either
    //    all of them can be applied or none is.
    let mut checked: Vec<Checked> = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    for m in &manifests {
        match check_one(&ctx, &mut resolver, m, &created_here, false).await {
            Ok(c) => {
                if m.is("", "Namespace") && c.before.is_some() {
                    created_here.existing_namespaces.push(m.name.clone());
                }
                checked.push(c);
            }
            Err(CheckError::Fatal(msg)) => anyhow::bail!("{msg}; nothing was applied"),
            Err(CheckError::Object(msg)) => {
                let _ = writeln!(stderr, "{}: {msg}", m.display());
                failed.push(m.display());
            }
        }
    }
    if !failed.is_empty() {
        let _ = writeln!(
            stderr,
            "error: {} of {} objects cannot be applied: {}; nothing was applied",
            failed.len(),
            manifests.len(),
            failed.join(", ")
        );
        return Ok(Status::Failed);
    }

    // 1b. Objects in a Namespace (or of a CRD) that this file adds cannot be
    //     dry-run before it exists: create those first, check the rest, and
    //     remove them again if the rest cannot be applied.
    let mut pre_applied: HashMap<usize, Applied> = HashMap::new();
    if !dry_run && checked.iter().any(|c| c.merged.is_none()) {
        let mut created: Vec<usize> = Vec::new();
        let mut failure: Option<String> = None;
        for (i, c) in checked.iter().enumerate() {
            let container = c.manifest.is("", "Namespace")
                || c.manifest
                    .is("apiextensions.k8s.io", "CustomResourceDefinition");
            if !container || c.before.is_some() || c.merged.is_none() {
                continue;
            }
            match apply_checked(&ctx, &mut resolver, c).await {
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
                match check_one(&ctx, &mut resolver, &m, &created_here, true).await {
                    Ok(c) => *slot = c,
                    Err(CheckError::Fatal(msg)) | Err(CheckError::Object(msg)) => {
                        failed.push(m.display());
                        let _ = writeln!(stderr, "{}: {msg}", m.display());
                    }
                }
            }
        } else if let Some(f) = &failure {
            let _ = writeln!(stderr, "{f}");
            failed.push(f.clone());
        }
        if !failed.is_empty() {
            let mut removed = Vec::new();
            for &i in created.iter().rev() {
                let c = &checked[i];
                if let Some(ar) = &c.ar {
                    let api = api_for(&ctx, ar, None);
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
                stderr,
                "error: {} of {} objects cannot be applied: {}; nothing was applied{}",
                failed.len(),
                manifests.len(),
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
            return Ok(Status::Failed);
        }
    }

    // 2. Never silently undo the private-registry setup.
    let changes: Vec<super::guard::Change> = checked
        .iter()
        .filter_map(|c| {
            Some(super::guard::Change {
                display: c.manifest.display(),
                live: c.before.as_ref()?,
                new: c.merged.as_ref().unwrap_or(&c.body),
            })
        })
        .collect();
    let losses = super::guard::losses(&changes, opts.intended_registry.as_deref());
    if !losses.is_empty() {
        for l in &losses {
            let _ = writeln!(stderr, "{}", l.describe());
        }
        if dry_run {
            let _ = writeln!(
                stderr,
                "warning: applying this would undo the private-registry setup of the live agent (above); \
                 without --allow-removal the apply will stop"
            );
        } else if opts.allow_removal {
            let _ = writeln!(
                stderr,
                "warning: proceeding with these removals (--allow-removal)"
            );
        } else {
            let _ = writeln!(
                stderr,
                "error: this apply would undo the private-registry setup of the live agent (above); \
                 nothing was applied. Patch the file with the flags named above \
                 (the live setup is kept), or pass --allow-removal to proceed anyway"
            );
            return Ok(Status::Failed);
        }
    }
    warn_missing_secrets(&ctx, &checked, &mut *stderr).await;

    for c in &checked {
        if !c.takeover.is_empty() {
            let _ = writeln!(
                stderr,
                "{}: {}{}",
                c.manifest.display(),
                crate::k8s::conflict::takeover_summary(&c.takeover),
                if dry_run { " (dry run)" } else { "" }
            );
        }
    }

    if dry_run {
        let mut differences = 0usize;
        for c in &checked {
            let name = super::livediff::file_name(
                &c.manifest.api_version,
                &c.manifest.kind,
                c.namespace.as_deref(),
                &c.manifest.name,
            );
            let d = match &c.merged {
                Some(merged) => super::livediff::diff(&name, c.before.as_ref(), merged),
                None => super::livediff::diff(&name, None, &c.body),
            };
            if !d.is_empty() {
                differences += 1;
                let _ = write!(stdout, "{d}");
            }
        }
        let _ = stdout.flush();
        return Ok(if differences > 0 {
            Status::Differences
        } else {
            Status::Done
        });
    }

    // 3. Apply for real, in order. Ctrl-C lists what was already applied.
    let mut applied: Vec<Applied> = Vec::new();
    for (i, c) in checked.iter().enumerate() {
        if let Some(a) = pre_applied.remove(&i) {
            let _ = writeln!(stdout, "{} {}", c.manifest.display(), a.outcome());
            applied.push(a);
            continue;
        }
        let result = tokio::select! {
            r = apply_checked(&ctx, &mut resolver, c) => r,
            _ = &mut interrupted => {
                let _ = stdout.flush();
                let done: Vec<String> = applied.iter().map(|a| a.manifest.display()).collect();
                let rest: Vec<String> = checked[applied.len()..].iter().map(|c| c.manifest.display()).collect();
                let _ = writeln!(
                    stderr,
                    "interrupted: applied {}: {}; not applied: {}",
                    done.len(),
                    if done.is_empty() { "none".to_string() } else { done.join(", ") },
                    rest.join(", ")
                );
                return Ok(Status::Interrupted);
            }
        };
        match result {
            Ok(a) => {
                let took = if c.takeover.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", crate::k8s::conflict::takeover_summary(&c.takeover))
                };
                let _ = writeln!(stdout, "{} {}{took}", c.manifest.display(), a.outcome());
                applied.push(a);
            }
            Err(f) => {
                let _ = stdout.flush();
                let done: Vec<String> = applied.iter().map(|a| a.manifest.display()).collect();
                if !done.is_empty() {
                    let _ = writeln!(stderr, "applied before the failure: {}", done.join(", "));
                }
                anyhow::bail!("{}: {}", c.manifest.display(), f.message);
            }
        }
    }
    let _ = stdout.flush();

    if opts.no_restart {
        return Ok(Status::Done);
    }
    // Ctrl-C from here on: everything is applied; say so instead of
    // leaving the user guessing (the handler above keeps SIGINT from
    // ending the process by itself).
    let after_apply = async {
        let plan = super::restart::plan(&applied);
        let mut targets = super::restart::execute(
            &conn.client,
            &plan,
            &opts.field_manager,
            &ctx.server,
            &mut *stdout,
        )
        .await?;
        // Nothing to restart still means: check that the agent is Ready.
        for w in applied.iter().filter_map(super::restart::workload_of) {
            if !targets.contains(&w) {
                targets.push(w);
            }
        }
        if targets.is_empty() {
            return Ok(Status::Done);
        }
        let ok = super::wait::wait(
            &conn.client,
            &targets,
            super::wait::Limits {
                timeout: opts.timeout,
                deadline,
                watch_timeout_secs: opts.connect.watch_timeout_secs(),
                since,
            },
            &ctx.server,
            Output {
                out: &mut *stdout,
                err: &mut *stderr,
                tty,
                color,
                width,
            },
        )
        .await?;
        Ok(if ok { Status::Done } else { Status::Failed })
    };
    let finished = {
        tokio::pin!(after_apply);
        tokio::select! {
            r = &mut after_apply => Some(r),
            _ = &mut interrupted => None,
        }
    };
    match finished {
        Some(r) => r,
        None => {
            writeln!(
                stderr,
                "\ninterrupted: all {} objects were applied; the agent's restart/readiness was not awaited \
                 (check with: kubectl -n NAMESPACE rollout status)",
                applied.len()
            )?;
            Ok(Status::Interrupted)
        }
    }
}
