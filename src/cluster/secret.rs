//! `kubectl tingyun secret`: docker-registry pull secrets in many namespaces.
//!
//! Decisions:
//! - Server-side apply with `force=true`: the Secret is ours (labelled
//!   `app.kubernetes.io/managed-by: kubectl-tingyun`), and the usual earlier
//!   state is one made by hand with `kubectl create secret docker-registry`
//!   or `kubectl apply`, whose field managers would otherwise make every
//!   credential rotation fail with a conflict on `.data`.
//! - created / configured / unchanged is derived from a GET before the apply:
//!   absent -> created; present -> unchanged when the apply left the object as
//!   it was (same resourceVersion; for `--dry-run=server`, which never bumps
//!   it, the same content), configured otherwise. If the GET is forbidden the
//!   line says `applied`.
//! - `--injected-namespaces` selects namespaces through the Tingyun
//!   MutatingWebhookConfiguration (see [`injected_namespaces`]); with an
//!   objectSelector only namespaces that already have matching pods are found.
use std::collections::{BTreeSet, HashSet};
use std::io::{IsTerminal as _, Write};

use anyhow::{Context as _, bail};
use k8s_openapi::api::admissionregistration::v1::{MutatingWebhook, MutatingWebhookConfiguration};
use k8s_openapi::api::core::v1::{Namespace, Pod, Secret};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use kube::api::{Api, ListParams, Patch, PatchParams};
use kube::core::Selector;

use super::dockerconfig::{
    PASSWORD_ENV, build_secret, dedup_keep_order, printable, read_password, validate_namespace,
    validate_secret_name, validate_server, validate_username,
};
use super::yaml_emit::to_yaml;
use crate::cli::{DryRun, OutputFormat, SecretArgs};

/// What an apply did to one namespace's Secret.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Configured,
    Unchanged,
    /// Applied, but whether it existed before is unknown (GET was forbidden).
    Applied,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Created => "created",
            Outcome::Configured => "configured",
            Outcome::Unchanged => "unchanged",
            Outcome::Applied => "applied",
        }
    }
}

/// Why applying in one namespace failed, as one line for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApplyError {
    pub message: String,
    /// The API server could not be reached or answered garbage: trying the
    /// next namespace would fail the same way.
    pub transport: bool,
    /// 401: the credentials were rejected, which no namespace changes either.
    pub unauthorized: bool,
}

impl std::fmt::Display for ApplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for ApplyError {}

/// Explain a failed API call on `resource` (plural, e.g. `secrets`) in one
/// line. `ns` is the namespace the call was made in, if any.
pub fn explain(err: &kube::Error, verb: &str, resource: &str, ns: Option<&str>) -> ApplyError {
    let where_ = ns
        .map(|ns| format!(" in namespace {ns}"))
        .unwrap_or_default();
    let message = match err {
        kube::Error::Api(status) => {
            let namespace_missing = status.code == 404
                && (status
                    .details
                    .as_ref()
                    .is_some_and(|d| d.kind == "namespaces")
                    || status.message.starts_with("namespaces \""));
            match status.code {
                404 if namespace_missing => {
                    let ns = ns
                        .map(str::to_string)
                        .or_else(|| status.details.as_ref().map(|d| d.name.clone()))
                        .unwrap_or_default();
                    format!(
                        "namespace {ns} not found: create it first (kubectl create namespace {ns})"
                    )
                }
                401 => format!(
                    "unauthorized: the API server rejected the kubeconfig credentials ({verb} {resource}{where_}); \
                     log in again or refresh the token"
                ),
                403 => {
                    let attempt = super::errors::Attempt {
                        verb,
                        resource,
                        namespace: ns,
                    };
                    super::errors::not_rbac(&status.message, &attempt).unwrap_or_else(|| {
                        format!(
                            "forbidden: you may not {verb} {resource}{where_} (server: {}); \
                             ask for RBAC permission to {verb} {resource}",
                            status.message
                        )
                    })
                }
                409 => format!("conflict on {verb} {resource}{where_}: {}", status.message),
                422 => format!(
                    "rejected as invalid on {verb} {resource}{where_}: {}",
                    status.message
                ),
                code => {
                    let reason = if status.reason.is_empty() {
                        String::new()
                    } else {
                        format!(" {}", status.reason)
                    };
                    format!(
                        "{verb} {resource}{where_} failed: HTTP {code}{reason}: {}",
                        status.message
                    )
                }
            }
        }
        other => {
            return ApplyError {
                message: format!(
                    "cannot reach the API server ({verb} {resource}{where_}): {}",
                    chain(other)
                ),
                transport: true,
                unauthorized: false,
            };
        }
    };
    ApplyError {
        message,
        transport: false,
        unauthorized: matches!(err, kube::Error::Api(s) if s.code == 401),
    }
}

fn chain(err: &dyn std::error::Error) -> String {
    let mut text = err.to_string();
    let mut source = err.source();
    while let Some(e) = source {
        let s = e.to_string();
        if !text.contains(&s) {
            text.push_str(": ");
            text.push_str(&s);
        }
        source = e.source();
    }
    text
}

/// Server-side apply `secret` in `ns` (the Secret's own namespace field is
/// replaced by `ns`), with `force=true`, and say what it did. `dry_run` is
/// `--dry-run=server` (`dryRun=All`). Returns the object the server returned.
pub async fn apply_secret(
    client: &kube::Client,
    ns: &str,
    secret: &Secret,
    field_manager: &str,
    dry_run: bool,
) -> Result<(Outcome, Secret), ApplyError> {
    let name = secret.metadata.name.as_deref().unwrap_or_default();
    let api: Api<Secret> = Api::namespaced(client.clone(), ns);
    let mut body = secret.clone();
    body.metadata.namespace = Some(ns.to_string());

    // Before: Some(Some(old)) exists, Some(None) absent, None unknown (forbidden).
    let before = match api.get_opt(name).await {
        Ok(found) => Some(found),
        Err(kube::Error::Api(status)) if status.code == 403 => None,
        Err(e) => return Err(explain(&e, "get", "secrets", Some(ns))),
    };

    let mut params = PatchParams::apply(field_manager).force();
    if dry_run {
        params = params.dry_run();
    }
    let after = api
        .patch(name, &params, &Patch::Apply(&body))
        .await
        .map_err(|e| {
            let mut err = explain(&e, "patch", "secrets", Some(ns));
            if matches!(&e, kube::Error::Api(s) if s.code == 422 && s.message.contains("field is immutable")) {
                err.message.push_str(&format!(
                    " (a Secret {name} of another type exists: delete it with \
                     `kubectl -n {ns} delete secret {name}` or choose another --name)"
                ));
            }
            err
        })?;

    let outcome = match before {
        None => Outcome::Applied,
        Some(None) => Outcome::Created,
        Some(Some(old)) => {
            if unchanged(&old, &after, dry_run) {
                Outcome::Unchanged
            } else {
                Outcome::Configured
            }
        }
    };
    Ok((outcome, after))
}

/// Did an apply leave the object as it was?
fn unchanged(old: &Secret, new: &Secret, dry_run: bool) -> bool {
    let (a, b) = (
        &old.metadata.resource_version,
        &new.metadata.resource_version,
    );
    if !dry_run && a.is_some() && b.is_some() {
        return a == b;
    }
    // A dry run never bumps resourceVersion: compare content instead.
    let strip = |s: &Secret| {
        let mut s = s.clone();
        s.metadata.managed_fields = None;
        s.metadata.resource_version = None;
        s
    };
    strip(old) == strip(new)
}

/// The selector as a string for `labelSelector=`; `None` when it selects
/// everything (absent or `{}`).
pub fn selector_string(sel: Option<&LabelSelector>) -> anyhow::Result<Option<String>> {
    let Some(sel) = sel else { return Ok(None) };
    let selector = Selector::try_from(sel.clone())
        .map_err(|e| anyhow::anyhow!("unsupported label selector: {e}"))?;
    if selector.selects_all() {
        return Ok(None);
    }
    Ok(Some(selector.to_string()))
}

/// The webhooks of the Tingyun injector: those whose configuration, webhook
/// or service name mentions "tingyun", or whose service lives in the
/// `tingyun` namespace (the guide's agent namespace).
pub fn tingyun_webhooks(
    configs: &[MutatingWebhookConfiguration],
) -> Vec<(String, MutatingWebhook)> {
    let mut out = Vec::new();
    for config in configs {
        let config_name = config.metadata.name.clone().unwrap_or_default();
        for hook in config.webhooks.iter().flatten() {
            let service = hook.client_config.service.as_ref();
            let mentions = |s: &str| s.to_ascii_lowercase().contains("tingyun");
            if mentions(&config_name)
                || mentions(&hook.name)
                || service.is_some_and(|s| mentions(&s.name) || s.namespace == "tingyun")
            {
                out.push((config_name.clone(), hook.clone()));
            }
        }
    }
    out
}

/// Every namespace the Tingyun injection webhook selects, sorted, plus one
/// human line per webhook saying how they were found.
pub async fn injected_namespaces(
    client: &kube::Client,
) -> anyhow::Result<(Vec<String>, Vec<String>)> {
    let configs: Api<MutatingWebhookConfiguration> = Api::all(client.clone());
    let list = configs
        .list(&ListParams::default())
        .await
        .map_err(|e| explain(&e, "list", "mutatingwebhookconfigurations", None))
        .context("--injected-namespaces")?;
    let hooks = tingyun_webhooks(&list.items);
    if hooks.is_empty() {
        bail!(
            "--injected-namespaces: no Tingyun injection webhook among the {} MutatingWebhookConfigurations \
             (looked for \"tingyun\" in their names and services); is the agent installed? Name the namespaces with -n",
            list.items.len()
        );
    }
    let mut found = BTreeSet::new();
    let mut notes = Vec::new();
    for (config_name, hook) in hooks {
        let label = format!("{config_name}/{}", hook.name);
        let ns_sel = selector_string(hook.namespace_selector.as_ref())
            .with_context(|| format!("webhook {label}: namespaceSelector"))?;
        let obj_sel = selector_string(hook.object_selector.as_ref())
            .with_context(|| format!("webhook {label}: objectSelector"))?;
        let (names, how) = match (&ns_sel, &obj_sel) {
            (None, None) => bail!(
                "--injected-namespaces: webhook {label} has no namespaceSelector or objectSelector, so it injects \
                 pods in every namespace; name the namespaces with -n instead"
            ),
            (Some(ns), None) => (
                namespaces_labelled(client, ns).await?,
                format!("namespaces with {ns}"),
            ),
            (None, Some(obj)) => (
                namespaces_of_pods(client, obj).await?,
                format!("namespaces with pods labelled {obj}"),
            ),
            (Some(ns), Some(obj)) => {
                let with_label: HashSet<String> =
                    namespaces_labelled(client, ns).await?.into_iter().collect();
                let pods = namespaces_of_pods(client, obj).await?;
                (
                    pods.into_iter()
                        .filter(|n| with_label.contains(n))
                        .collect(),
                    format!("namespaces with {ns} that have pods labelled {obj}"),
                )
            }
        };
        let shown = if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        };
        notes.push(format!("webhook {label} selects {how}: {shown}"));
        found.extend(names);
    }
    Ok((found.into_iter().collect(), notes))
}

async fn namespaces_labelled(client: &kube::Client, selector: &str) -> anyhow::Result<Vec<String>> {
    let api: Api<Namespace> = Api::all(client.clone());
    let list = api
        .list_metadata(&ListParams::default().labels(selector))
        .await
        .map_err(|e| explain(&e, "list", "namespaces", None))?;
    let mut names: Vec<String> = list
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    names.sort();
    Ok(names)
}

async fn namespaces_of_pods(client: &kube::Client, selector: &str) -> anyhow::Result<Vec<String>> {
    let api: Api<Pod> = Api::all(client.clone());
    let list = api
        .list_metadata(&ListParams::default().labels(selector))
        .await
        .map_err(|e| explain(&e, "list", "pods", None))?;
    let names: BTreeSet<String> = list
        .items
        .into_iter()
        .filter_map(|p| p.metadata.namespace)
        .collect();
    Ok(names.into_iter().collect())
}

/// Everything `secret` needs once the flags are checked and the password read.
#[derive(Clone)]
pub struct Plan {
    pub name: String,
    pub server: String,
    pub username: String,
    pub password: String,
    /// `-n` values, deduplicated, in order.
    pub namespaces: Vec<String>,
    pub injected_namespaces: bool,
    pub field_manager: String,
    pub server_dry_run: bool,
    /// With `--dry-run=server`: print the returned objects instead of report lines.
    pub output: Option<OutputFormat>,
}

impl std::fmt::Debug for Plan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Plan")
            .field("name", &self.name)
            .field("server", &self.server)
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .field("namespaces", &self.namespaces)
            .finish_non_exhaustive()
    }
}

impl Plan {
    pub fn secret(&self, ns: Option<&str>) -> Secret {
        build_secret(&self.name, ns, &self.server, &self.username, &self.password)
    }
}

fn render(value: &serde_json::Value, format: OutputFormat) -> String {
    match format {
        OutputFormat::Yaml => to_yaml(value),
        OutputFormat::Json => {
            let mut s = serde_json::to_string_pretty(value).unwrap_or_default();
            s.push('\n');
            s
        }
    }
}

/// The cluster part: resolve namespaces, apply in each, report. Returns the
/// exit code. Report lines go to `out`, failures to `err`.
pub async fn run_cluster(
    client: &kube::Client,
    default_namespace: &str,
    api_server: &str,
    plan: &Plan,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<i32> {
    let mut namespaces = plan.namespaces.clone();
    if plan.injected_namespaces {
        let (found, notes) = injected_namespaces(client).await?;
        for note in notes {
            writeln!(err, "{note}")?;
        }
        if found.is_empty() && namespaces.is_empty() {
            bail!(
                "--injected-namespaces: the Tingyun webhook selects no namespace yet; \
                 name the namespaces with -n"
            );
        }
        namespaces.extend(found);
        namespaces = dedup_keep_order(namespaces);
    }
    if namespaces.is_empty() {
        namespaces.push(default_namespace.to_string());
    }

    let suffix = if plan.server_dry_run {
        " (server dry run)"
    } else {
        ""
    };
    let mut failed = 0usize;
    let mut differences = 0usize;
    let mut returned = Vec::new();
    for (i, ns) in namespaces.iter().enumerate() {
        let secret = plan.secret(Some(ns));
        match apply_secret(
            client,
            ns,
            &secret,
            &plan.field_manager,
            plan.server_dry_run,
        )
        .await
        {
            Ok((outcome, after)) => {
                if outcome != Outcome::Unchanged {
                    differences += 1;
                }
                let line = format!(
                    "secret/{} {} in namespace {ns}{suffix}",
                    plan.name,
                    outcome.as_str()
                );
                if plan.output.is_some() {
                    writeln!(err, "{line}")?;
                    returned.push(after);
                } else {
                    writeln!(out, "{line}")?;
                }
            }
            Err(e) => {
                failed += 1;
                writeln!(err, "error: secret/{} in namespace {ns}: {e}", plan.name)?;
                if e.transport || e.unauthorized {
                    if e.transport {
                        writeln!(
                            err,
                            "error: check that the API server {api_server} is reachable (kubectl cluster-info)"
                        )?;
                    }
                    let rest = namespaces.len() - i - 1;
                    if rest > 0 {
                        failed += rest;
                        writeln!(err, "error: not tried: {}", namespaces[i + 1..].join(", "))?;
                    }
                    break;
                }
            }
        }
    }
    if let Some(format) = plan.output
        && !returned.is_empty()
    {
        out.write_all(render(&printable(&returned)?, format).as_bytes())?;
    }
    if failed > 0 {
        writeln!(
            err,
            "error: {failed} of {} namespaces failed",
            namespaces.len()
        )?;
        // `--dry-run=server` keeps exit 1 for "there are differences", as apply does.
        return Ok(if plan.server_dry_run {
            crate::cli::exit::USAGE
        } else {
            crate::cli::exit::FAILURE
        });
    }
    if plan.server_dry_run && differences > 0 {
        return Ok(crate::cli::exit::FAILURE);
    }
    Ok(crate::cli::exit::OK)
}

/// Check the flags before anything is read; returns the `-n` namespaces, deduplicated in order.
fn check_args(args: &SecretArgs) -> anyhow::Result<Vec<String>> {
    validate_server(&args.server)?;
    validate_username(&args.username)?;
    validate_secret_name(&args.name)?;
    for ns in &args.namespaces {
        validate_namespace(ns)?;
    }
    let client_dry_run = args.dry_run == Some(DryRun::Client);
    let server_dry_run = args.dry_run == Some(DryRun::Server);
    if args.output.is_some() && !client_dry_run && !server_dry_run {
        bail!(
            "-o/--output prints what --dry-run would send; add --dry-run (client) or --dry-run=server"
        );
    }
    if client_dry_run && args.injected_namespaces {
        bail!(
            "--injected-namespaces reads the cluster, which --dry-run (client) never contacts; \
             use --dry-run=server to preview, or name the namespaces with -n"
        );
    }
    Ok(dedup_keep_order(args.namespaces.iter().cloned()))
}

pub fn run(args: &SecretArgs) -> anyhow::Result<i32> {
    let namespaces = check_args(args)?;
    let stdin = std::io::stdin();
    if args.password_stdin && stdin.is_terminal() {
        eprintln!("reading the registry password from standard input (end with Ctrl-D)...");
    }
    let password = read_password(
        args.password_stdin,
        stdin.lock(),
        std::env::var_os(PASSWORD_ENV),
    )?;
    let plan = Plan {
        name: args.name.clone(),
        server: args.server.clone(),
        username: args.username.clone(),
        password,
        namespaces,
        injected_namespaces: args.injected_namespaces,
        field_manager: args.field_manager.clone(),
        server_dry_run: args.dry_run == Some(DryRun::Server),
        output: args.output,
    };

    if args.dry_run == Some(DryRun::Client) {
        let secrets: Vec<Secret> = if plan.namespaces.is_empty() {
            vec![plan.secret(None)]
        } else {
            plan.namespaces
                .iter()
                .map(|ns| plan.secret(Some(ns)))
                .collect()
        };
        let text = render(
            &printable(&secrets)?,
            args.output.unwrap_or(OutputFormat::Yaml),
        );
        std::io::stdout().lock().write_all(text.as_bytes())?;
        return Ok(crate::cli::exit::OK);
    }

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async {
        let conn = args.connect.connect().await?;
        let mut out = std::io::stdout().lock();
        let mut err = std::io::stderr().lock();
        run_cluster(
            &conn.client,
            &conn.default_namespace,
            &conn.server,
            &plan,
            &mut out,
            &mut err,
        )
        .await
    })
}

#[cfg(test)]
mod tests {
    //! The request flow against a small in-memory API server behind a tower
    //! service: what is sent (verbs, paths, query, content type, body) and
    //! how each answer is reported.
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    use base64::Engine as _;
    use http::{Request, Response};
    use kube::client::Body;
    use serde_json::{Value, json};

    use super::*;

    const PASSWORD: &str = "pa:ss\"w\\ord 密码";

    #[derive(Default)]
    struct Fake {
        /// name -> labels
        namespaces: BTreeMap<String, BTreeMap<String, String>>,
        /// (namespace, labels)
        pods: Vec<(String, BTreeMap<String, String>)>,
        webhook_configs: Vec<Value>,
        secrets: BTreeMap<(String, String), Value>,
        /// (verb, namespace) pairs answered with 403.
        deny: Vec<(&'static str, String)>,
        rv: u64,
        /// "METHOD path?query" of every request.
        log: Vec<String>,
        /// (content type, body) of every PATCH.
        patches: Vec<(String, Value)>,
    }

    fn status(code: u16, reason: &str, message: &str, kind: &str, name: &str) -> (u16, Value) {
        (
            code,
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": message, "reason": reason, "details": {"name": name, "kind": kind}, "code": code}),
        )
    }

    fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    /// Equality, inequality and existence requirements, comma-separated.
    fn selects(selector: &str, labels: &BTreeMap<String, String>) -> bool {
        selector.split(',').all(|req| {
            if let Some((k, v)) = req.split_once("!=") {
                labels.get(k).map(String::as_str) != Some(v)
            } else if let Some((k, v)) = req.split_once('=') {
                labels.get(k.trim_end_matches('=')).map(String::as_str) == Some(v)
            } else if let Some(k) = req.strip_prefix('!') {
                !labels.contains_key(k)
            } else {
                labels.contains_key(req)
            }
        })
    }

    /// A query parameter, percent-decoded.
    /// Also takes a logged "METHOD path?query" line.
    fn query_param(query: &str, key: &str) -> Option<String> {
        let query = query.split_once('?').map_or(query, |(_, q)| q);
        query.split('&').find_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            (k == key).then(|| {
                let bytes = v.as_bytes();
                let mut out = Vec::new();
                let mut i = 0;
                while i < bytes.len() {
                    match bytes[i] {
                        b'%' if i + 2 < bytes.len() => {
                            out.push(u8::from_str_radix(&v[i + 1..i + 3], 16).unwrap());
                            i += 3;
                        }
                        b'+' => {
                            out.push(b' ');
                            i += 1;
                        }
                        b => {
                            out.push(b);
                            i += 1;
                        }
                    }
                }
                String::from_utf8(out).unwrap()
            })
        })
    }

    fn partial(meta: Value) -> Value {
        json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadata", "metadata": meta})
    }

    fn partial_list(items: Vec<Value>) -> (u16, Value) {
        (
            200,
            json!({"apiVersion": "meta.k8s.io/v1", "kind": "PartialObjectMetadataList", "metadata": {}, "items": items}),
        )
    }

    impl Fake {
        fn with_namespaces(names: &[&str]) -> Self {
            Fake {
                namespaces: names
                    .iter()
                    .map(|n| (n.to_string(), BTreeMap::new()))
                    .collect(),
                ..Fake::default()
            }
        }

        fn forbidden(verb: &str, ns: &str, name: &str) -> (u16, Value) {
            status(
                403,
                "Forbidden",
                &format!(
                    "secrets \"{name}\" is forbidden: User \"dev\" cannot {verb} resource \"secrets\" \
                     in API group \"\" in the namespace \"{ns}\""
                ),
                "secrets",
                name,
            )
        }

        fn handle(
            &mut self,
            method: &str,
            path: &str,
            query: &str,
            content_type: &str,
            body: &[u8],
        ) -> (u16, Value) {
            self.log.push(format!("{method} {path}?{query}"));
            let parts: Vec<&str> = path.trim_start_matches('/').split('/').collect();
            let selector = query_param(query, "labelSelector").unwrap_or_default();
            match (method, parts.as_slice()) {
                (
                    "GET",
                    [
                        "apis",
                        "admissionregistration.k8s.io",
                        "v1",
                        "mutatingwebhookconfigurations",
                    ],
                ) => (
                    200,
                    json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfigurationList",
                           "metadata": {}, "items": self.webhook_configs}),
                ),
                ("GET", ["api", "v1", "namespaces"]) => partial_list(
                    self.namespaces
                        .iter()
                        .filter(|(_, l)| selector.is_empty() || selects(&selector, l))
                        .map(|(n, l)| partial(json!({"name": n, "labels": l})))
                        .collect(),
                ),
                ("GET", ["api", "v1", "pods"]) => partial_list(
                    self.pods
                        .iter()
                        .enumerate()
                        .filter(|(_, (_, l))| selector.is_empty() || selects(&selector, l))
                        .map(|(i, (ns, l))| {
                            partial(json!({"name": format!("p{i}"), "namespace": ns, "labels": l}))
                        })
                        .collect(),
                ),
                ("GET", ["api", "v1", "namespaces", ns, "secrets", name]) => {
                    if self.deny.contains(&("get", ns.to_string())) {
                        return Fake::forbidden("get", ns, name);
                    }
                    match self.secrets.get(&(ns.to_string(), name.to_string())) {
                        Some(s) => (200, s.clone()),
                        None => status(
                            404,
                            "NotFound",
                            &format!("secrets \"{name}\" not found"),
                            "secrets",
                            name,
                        ),
                    }
                }
                ("PATCH", ["api", "v1", "namespaces", ns, "secrets", name]) => {
                    self.patches.push((
                        content_type.to_string(),
                        serde_json::from_slice(body).unwrap(),
                    ));
                    if self.deny.contains(&("patch", ns.to_string())) {
                        return Fake::forbidden("patch", ns, name);
                    }
                    if !self.namespaces.contains_key(*ns) {
                        return status(
                            404,
                            "NotFound",
                            &format!("namespaces \"{ns}\" not found"),
                            "namespaces",
                            ns,
                        );
                    }
                    let key = (ns.to_string(), name.to_string());
                    let applied: Value = serde_json::from_slice(body).unwrap();
                    if let Some(old) = self.secrets.get(&key)
                        && old["type"] != applied["type"]
                    {
                        return status(
                            422,
                            "Invalid",
                            &format!(
                                "Secret \"{name}\" is invalid: type: Invalid value: {}: field is immutable",
                                applied["type"]
                            ),
                            "Secret",
                            name,
                        );
                    }
                    let manager = query_param(query, "fieldManager").unwrap_or_default();
                    let dry_run = query_param(query, "dryRun").as_deref() == Some("All");
                    let old = self.secrets.get(&key).cloned();
                    let mut new: Value = serde_json::from_slice(body).unwrap();
                    new["metadata"]["managedFields"] =
                        json!([{"manager": manager, "operation": "Apply"}]);
                    let same = old.as_ref().is_some_and(|o| {
                        o["data"] == new["data"]
                            && o["metadata"]["labels"] == new["metadata"]["labels"]
                            && o["type"] == new["type"]
                            && o["metadata"]["managedFields"] == new["metadata"]["managedFields"]
                    });
                    if same {
                        new = old.clone().unwrap();
                    } else if let Some(o) = old.as_ref().filter(|_| dry_run) {
                        // A dry run does not bump resourceVersion.
                        new["metadata"]["resourceVersion"] =
                            o["metadata"]["resourceVersion"].clone();
                    } else if !dry_run {
                        self.rv += 1;
                        new["metadata"]["resourceVersion"] = json!(self.rv.to_string());
                    }
                    if !dry_run {
                        self.secrets.insert(key, new.clone());
                    }
                    (if old.is_some() { 200 } else { 201 }, new)
                }
                _ => status(
                    404,
                    "NotFound",
                    &format!("no route {method} {path}"),
                    "",
                    "",
                ),
            }
        }
    }

    fn client(fake: &Arc<Mutex<Fake>>) -> kube::Client {
        let fake = fake.clone();
        let svc = tower::service_fn(move |req: Request<Body>| {
            let fake = fake.clone();
            async move {
                let (parts, body) = req.into_parts();
                let bytes = body.collect_bytes().await.unwrap();
                let content_type = parts
                    .headers
                    .get("content-type")
                    .map(|v| v.to_str().unwrap().to_string())
                    .unwrap_or_default();
                let (code, value) = fake.lock().unwrap().handle(
                    parts.method.as_str(),
                    parts.uri.path(),
                    parts.uri.query().unwrap_or(""),
                    &content_type,
                    &bytes,
                );
                Ok::<_, std::convert::Infallible>(
                    Response::builder()
                        .status(code)
                        .header("content-type", "application/json")
                        .body(Body::from(serde_json::to_vec(&value).unwrap()))
                        .unwrap(),
                )
            }
        });
        kube::Client::new(svc, "ctx-ns")
    }

    fn plan(namespaces: &[&str]) -> Plan {
        Plan {
            name: "tingyun-image-secret".into(),
            server: "harbor.example.com:5000".into(),
            username: "robot$test+app-readonly".into(),
            password: PASSWORD.into(),
            namespaces: namespaces.iter().map(|s| s.to_string()).collect(),
            injected_namespaces: false,
            field_manager: "kubectl-tingyun".into(),
            server_dry_run: false,
            output: None,
        }
    }

    async fn run(fake: &Arc<Mutex<Fake>>, plan: &Plan) -> (anyhow::Result<i32>, String, String) {
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run_cluster(
            &client(fake),
            "ctx-ns",
            "https://127.0.0.1:6443",
            plan,
            &mut out,
            &mut err,
        )
        .await;
        let (out, err) = (
            String::from_utf8(out).unwrap(),
            String::from_utf8(err).unwrap(),
        );
        assert!(!err.contains(&plan.password), "password leaked: {err}");
        if plan.output.is_none() {
            assert!(!out.contains(&plan.password), "password leaked: {out}");
        }
        (code, out, err)
    }

    fn stored_config(fake: &Arc<Mutex<Fake>>, ns: &str) -> Value {
        let f = fake.lock().unwrap();
        let s = &f.secrets[&(ns.to_string(), "tingyun-image-secret".to_string())];
        let encoded = s["data"][".dockerconfigjson"].as_str().unwrap();
        serde_json::from_slice(
            &base64::engine::general_purpose::STANDARD
                .decode(encoded)
                .unwrap(),
        )
        .unwrap()
    }

    #[tokio::test]
    async fn created_then_unchanged_then_configured() {
        let fake = Arc::new(Mutex::new(Fake::with_namespaces(&["shop"])));
        let (code, out, err) = run(&fake, &plan(&["shop"])).await;
        assert_eq!(
            (code.unwrap(), out.as_str(), err.as_str()),
            (
                0,
                "secret/tingyun-image-secret created in namespace shop\n",
                ""
            )
        );
        {
            let f = fake.lock().unwrap();
            assert_eq!(f.log.len(), 2, "{:?}", f.log);
            assert_eq!(
                f.log[0],
                "GET /api/v1/namespaces/shop/secrets/tingyun-image-secret?"
            );
            assert!(
                f.log[1].starts_with("PATCH /api/v1/namespaces/shop/secrets/tingyun-image-secret?")
            );
            assert_eq!(query_param(&f.log[1], "force").as_deref(), Some("true"));
            assert_eq!(
                query_param(&f.log[1], "fieldManager").as_deref(),
                Some("kubectl-tingyun")
            );
            assert_eq!(query_param(&f.log[1], "dryRun"), None);
            let (content_type, body) = &f.patches[0];
            assert_eq!(content_type, "application/apply-patch+yaml");
            assert_eq!(body["apiVersion"], "v1");
            assert_eq!(body["kind"], "Secret");
            assert_eq!(body["type"], "kubernetes.io/dockerconfigjson");
            assert_eq!(body["metadata"]["name"], "tingyun-image-secret");
            assert_eq!(body["metadata"]["namespace"], "shop");
            assert_eq!(
                body["metadata"]["labels"]["app.kubernetes.io/managed-by"],
                "kubectl-tingyun"
            );
        }
        let cfg = stored_config(&fake, "shop");
        assert_eq!(
            cfg["auths"]["harbor.example.com:5000"]["password"],
            PASSWORD
        );
        assert_eq!(
            cfg["auths"]["harbor.example.com:5000"]["username"],
            "robot$test+app-readonly"
        );

        let (code, out, _) = run(&fake, &plan(&["shop"])).await;
        assert_eq!(
            (code.unwrap(), out.as_str()),
            (
                0,
                "secret/tingyun-image-secret unchanged in namespace shop\n"
            )
        );

        let mut rotated = plan(&["shop"]);
        rotated.password = "new-password".into();
        let (code, out, _) = run(&fake, &rotated).await;
        assert_eq!(
            (code.unwrap(), out.as_str()),
            (
                0,
                "secret/tingyun-image-secret configured in namespace shop\n"
            )
        );
        assert_eq!(
            stored_config(&fake, "shop")["auths"]["harbor.example.com:5000"]["password"],
            "new-password"
        );
    }

    #[tokio::test]
    async fn server_dry_run_sends_dry_run_all_and_changes_nothing() {
        let fake = Arc::new(Mutex::new(Fake::with_namespaces(&["shop", "billing"])));
        run(&fake, &plan(&["billing"])).await.0.unwrap();
        let mut p = plan(&["shop", "billing"]);
        p.server_dry_run = true;
        let before = fake.lock().unwrap().secrets.clone();
        fake.lock().unwrap().log.clear();
        let (code, out, _) = run(&fake, &p).await;
        // Exit 1: there are differences (as apply --dry-run=server).
        assert_eq!(code.unwrap(), 1);
        assert_eq!(
            out,
            "secret/tingyun-image-secret created in namespace shop (server dry run)\n\
             secret/tingyun-image-secret unchanged in namespace billing (server dry run)\n"
        );
        {
            let f = fake.lock().unwrap();
            assert_eq!(f.secrets, before, "a dry run stored something");
            let patches: Vec<_> = f.log.iter().filter(|l| l.starts_with("PATCH")).collect();
            assert_eq!(patches.len(), 2);
            for l in patches {
                assert_eq!(query_param(l, "dryRun").as_deref(), Some("All"), "{l}");
                assert_eq!(query_param(l, "force").as_deref(), Some("true"), "{l}");
            }
        }
        p.password = "rotated".into();
        let (_, out, _) = run(&fake, &p).await;
        assert!(
            out.contains("configured in namespace billing (server dry run)"),
            "{out}"
        );
        assert_eq!(
            fake.lock().unwrap().secrets,
            before,
            "a dry run stored something"
        );
    }

    #[tokio::test]
    async fn failures_are_reported_per_namespace_and_the_rest_continues() {
        let mut fake = Fake::with_namespaces(&["a", "b", "locked"]);
        fake.deny.push(("patch", "locked".into()));
        let fake = Arc::new(Mutex::new(fake));
        let (code, out, err) = run(&fake, &plan(&["a", "missing", "locked", "b"])).await;
        assert_eq!(code.unwrap(), 1);
        assert_eq!(
            out,
            "secret/tingyun-image-secret created in namespace a\nsecret/tingyun-image-secret created in namespace b\n"
        );
        let lines: Vec<&str> = err.lines().collect();
        assert_eq!(lines.len(), 3, "{err}");
        assert_eq!(
            lines[0],
            "error: secret/tingyun-image-secret in namespace missing: namespace missing not found: \
             create it first (kubectl create namespace missing)"
        );
        assert!(
            lines[1].starts_with(
                "error: secret/tingyun-image-secret in namespace locked: forbidden: you may not patch secrets in namespace locked"
            ),
            "{}",
            lines[1]
        );
        assert!(
            lines[1].contains("User \"dev\" cannot patch"),
            "{}",
            lines[1]
        );
        assert_eq!(lines[2], "error: 2 of 4 namespaces failed");
    }

    #[tokio::test]
    async fn a_secret_of_another_type_is_explained() {
        let fake = Arc::new(Mutex::new(Fake::with_namespaces(&["a"])));
        fake.lock().unwrap().secrets.insert(
            ("a".into(), "tingyun-image-secret".into()),
            json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                   "metadata": {"name": "tingyun-image-secret", "namespace": "a", "resourceVersion": "7"}}),
        );
        let (code, out, err) = run(&fake, &plan(&["a"])).await;
        assert_eq!(code.unwrap(), 1);
        assert!(out.is_empty());
        let first = err.lines().next().unwrap();
        assert!(first.contains("field is immutable"), "{err}");
        assert!(
            first.ends_with(
                "`kubectl -n a delete secret tingyun-image-secret` or choose another --name)"
            ),
            "{err}"
        );
    }

    #[tokio::test]
    async fn forbidden_get_still_applies_and_says_applied() {
        let mut fake = Fake::with_namespaces(&["a"]);
        fake.deny.push(("get", "a".into()));
        let fake = Arc::new(Mutex::new(fake));
        let (code, out, _) = run(&fake, &plan(&["a"])).await;
        assert_eq!(
            (code.unwrap(), out.as_str()),
            (0, "secret/tingyun-image-secret applied in namespace a\n")
        );
    }

    #[tokio::test]
    async fn no_namespace_means_the_contexts() {
        let fake = Arc::new(Mutex::new(Fake::with_namespaces(&["ctx-ns"])));
        let (code, out, _) = run(&fake, &plan(&[])).await;
        assert_eq!(
            (code.unwrap(), out.as_str()),
            (
                0,
                "secret/tingyun-image-secret created in namespace ctx-ns\n"
            )
        );
    }

    #[tokio::test]
    async fn output_with_server_dry_run_prints_the_returned_objects() {
        let fake = Arc::new(Mutex::new(Fake::with_namespaces(&["a", "b"])));
        let mut p = plan(&["a", "b"]);
        p.server_dry_run = true;
        p.output = Some(OutputFormat::Json);
        let (code, out, err) = run(&fake, &p).await;
        assert_eq!(code.unwrap(), 1, "new secrets are differences");
        let v: Value = serde_json::from_str(&out).unwrap();
        assert_eq!(v["kind"], "List");
        assert_eq!(v["items"][0]["metadata"]["namespace"], "a");
        assert_eq!(v["items"][1]["metadata"]["namespace"], "b");
        assert_eq!(
            err,
            "secret/tingyun-image-secret created in namespace a (server dry run)\n\
             secret/tingyun-image-secret created in namespace b (server dry run)\n"
        );
    }

    fn tingyun_webhook(selector_kind: &str, selector: Value) -> Value {
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
               "metadata": {"name": "tingyun-agent-injector"},
               "webhooks": [{"name": "inject.tingyun.com", "admissionReviewVersions": ["v1"], "sideEffects": "None",
                             "clientConfig": {"service": {"name": "tingyun-agent", "namespace": "tingyun", "path": "/mutate"}},
                             selector_kind: selector}]})
    }

    fn other_webhook() -> Value {
        json!({"apiVersion": "admissionregistration.k8s.io/v1", "kind": "MutatingWebhookConfiguration",
               "metadata": {"name": "istio-sidecar-injector"},
               "webhooks": [{"name": "sidecar-injector.istio.io", "admissionReviewVersions": ["v1"], "sideEffects": "None",
                             "clientConfig": {"service": {"name": "istiod", "namespace": "istio-system"}},
                             "namespaceSelector": {"matchLabels": {"istio-injection": "enabled"}}}]})
    }

    #[tokio::test]
    async fn injected_namespaces_from_the_object_selector() {
        let mut fake = Fake::with_namespaces(&["tingyun", "shop", "billing", "plain", "meshed"]);
        fake.namespaces
            .get_mut("meshed")
            .unwrap()
            .insert("istio-injection".into(), "enabled".into());
        fake.webhook_configs = vec![
            other_webhook(),
            tingyun_webhook(
                "objectSelector",
                json!({"matchLabels": {"tingyun-inject": "enabled"}}),
            ),
        ];
        fake.pods = vec![
            (
                "shop".into(),
                labels(&[("tingyun-inject", "enabled"), ("app", "shop")]),
            ),
            ("billing".into(), labels(&[("tingyun-inject", "enabled")])),
            ("billing".into(), labels(&[("tingyun-inject", "enabled")])),
            ("plain".into(), labels(&[("app", "x")])),
            ("meshed".into(), labels(&[])),
        ];
        let fake = Arc::new(Mutex::new(fake));
        let mut p = plan(&["tingyun", "shop"]);
        p.injected_namespaces = true;
        let (code, out, err) = run(&fake, &p).await;
        assert_eq!(code.unwrap(), 0, "{err}");
        assert_eq!(
            out,
            "secret/tingyun-image-secret created in namespace tingyun\n\
             secret/tingyun-image-secret created in namespace shop\n\
             secret/tingyun-image-secret created in namespace billing\n"
        );
        assert_eq!(
            err,
            "webhook tingyun-agent-injector/inject.tingyun.com selects namespaces with pods labelled \
             tingyun-inject=enabled: billing, shop\n"
        );
        let log = fake.lock().unwrap().log.clone();
        let pods = log
            .iter()
            .find(|l| l.starts_with("GET /api/v1/pods?"))
            .expect("pods listed");
        assert_eq!(
            query_param(pods, "labelSelector").as_deref(),
            Some("tingyun-inject=enabled")
        );
        assert!(
            !log.iter().any(|l| l.starts_with("GET /api/v1/namespaces?")),
            "{log:#?}"
        );
    }

    #[tokio::test]
    async fn injected_namespaces_from_the_namespace_selector_and_both() {
        let mut fake = Fake::with_namespaces(&["shop", "billing", "plain"]);
        for ns in ["shop", "billing"] {
            fake.namespaces
                .get_mut(ns)
                .unwrap()
                .insert("tingyun-injection".into(), "enabled".into());
        }
        let fake = Arc::new(Mutex::new(fake));
        fake.lock().unwrap().webhook_configs = vec![tingyun_webhook(
            "namespaceSelector",
            json!({"matchLabels": {"tingyun-injection": "enabled"}}),
        )];
        let mut p = plan(&[]);
        p.injected_namespaces = true;
        let (code, out, _) = run(&fake, &p).await;
        assert_eq!(code.unwrap(), 0);
        assert_eq!(
            out,
            "secret/tingyun-image-secret created in namespace billing\nsecret/tingyun-image-secret created in namespace shop\n"
        );
        let log = fake.lock().unwrap().log.clone();
        let ns_list = log
            .iter()
            .find(|l| l.starts_with("GET /api/v1/namespaces?"))
            .expect("namespaces listed");
        assert_eq!(
            query_param(ns_list, "labelSelector").as_deref(),
            Some("tingyun-injection=enabled")
        );

        // Both selectors: namespaces with the label that also have labelled pods.
        let mut both = tingyun_webhook(
            "namespaceSelector",
            json!({"matchLabels": {"tingyun-injection": "enabled"}}),
        );
        both["webhooks"][0]["objectSelector"] =
            json!({"matchLabels": {"tingyun-inject": "enabled"}});
        {
            let mut f = fake.lock().unwrap();
            f.webhook_configs = vec![both];
            f.pods = vec![
                ("shop".into(), labels(&[("tingyun-inject", "enabled")])),
                ("plain".into(), labels(&[("tingyun-inject", "enabled")])),
            ];
        }
        let (code, out, _) = run(&fake, &p).await;
        assert_eq!(code.unwrap(), 0);
        assert_eq!(
            out,
            "secret/tingyun-image-secret unchanged in namespace shop\n"
        );
    }

    #[test]
    fn selectors_become_label_selector_strings() {
        let sel: LabelSelector = serde_json::from_value(json!({
            "matchLabels": {"tingyun-injection": "enabled"},
            "matchExpressions": [
                {"key": "kubernetes.io/metadata.name", "operator": "NotIn", "values": ["kube-system", "tingyun"]},
                {"key": "team", "operator": "Exists"}
            ]}))
        .unwrap();
        let s = selector_string(Some(&sel)).unwrap().unwrap();
        let mut parts: Vec<&str> = s.split(',').collect();
        parts.sort();
        // `notin (a,b)` contains a comma itself; check the pieces.
        assert!(s.contains("tingyun-injection=enabled"), "{s}");
        assert!(
            s.contains("kubernetes.io/metadata.name notin (kube-system,tingyun)"),
            "{s}"
        );
        assert!(parts.contains(&"team"), "{s}");
        assert_eq!(
            selector_string(Some(&LabelSelector::default())).unwrap(),
            None
        );
        assert_eq!(selector_string(None).unwrap(), None);
    }

    #[tokio::test]
    async fn injected_namespaces_refuses_what_it_cannot_resolve() {
        let fake = Arc::new(Mutex::new(Fake::with_namespaces(&["shop"])));
        fake.lock().unwrap().webhook_configs = vec![other_webhook()];
        let mut p = plan(&["shop"]);
        p.injected_namespaces = true;
        let e = run(&fake, &p).await.0.unwrap_err().to_string();
        assert!(
            e.contains("no Tingyun injection webhook among the 1 MutatingWebhookConfigurations"),
            "{e}"
        );

        let mut everything = tingyun_webhook("objectSelector", json!({}));
        everything["webhooks"][0]["namespaceSelector"] = json!({});
        fake.lock().unwrap().webhook_configs = vec![everything];
        let e = run(&fake, &p).await.0.unwrap_err().to_string();
        assert!(
            e.contains("injects pods in every namespace; name the namespaces with -n instead"),
            "{e}"
        );
        assert!(
            fake.lock().unwrap().patches.is_empty(),
            "applied although namespaces were not resolved"
        );
    }

    #[tokio::test]
    async fn an_unreachable_server_stops_after_the_first_namespace() {
        let svc = tower::service_fn(|_req: Request<Body>| async {
            Err::<Response<Body>, _>(std::io::Error::new(
                std::io::ErrorKind::ConnectionRefused,
                "connection refused",
            ))
        });
        let client = kube::Client::new(svc, "ctx-ns");
        let (mut out, mut err) = (Vec::new(), Vec::new());
        let code = run_cluster(
            &client,
            "ctx-ns",
            "https://127.0.0.1:1",
            &plan(&["a", "b", "c"]),
            &mut out,
            &mut err,
        )
        .await
        .unwrap();
        let err = String::from_utf8(err).unwrap();
        assert_eq!(code, 1);
        assert!(out.is_empty());
        let lines: Vec<&str> = err.lines().collect();
        assert!(
            lines[0].starts_with(
                "error: secret/tingyun-image-secret in namespace a: cannot reach the API server (get secrets in namespace a)"
            ),
            "{err}"
        );
        assert!(lines[0].contains("connection refused"), "{err}");
        assert_eq!(
            lines[1],
            "error: check that the API server https://127.0.0.1:1 is reachable (kubectl cluster-info)"
        );
        assert_eq!(lines[2], "error: not tried: b, c");
        assert_eq!(lines[3], "error: 3 of 3 namespaces failed");
        assert_eq!(lines.len(), 4);
    }

    #[test]
    fn a_403_from_admission_is_not_called_rbac() {
        let status = |message: &str| {
            kube::Error::Api(Box::new(
                serde_json::from_value(json!({"code": 403, "reason": "Forbidden",
                    "status": "Failure", "message": message}))
                .unwrap(),
            ))
        };
        let webhook = "admission webhook \"validate.kyverno.svc-fail\" denied the request: \
                       policy Secret/shop/tingyun-image-secret for resource violation";
        let e = explain(&status(webhook), "patch", "secrets", Some("shop"));
        assert_eq!(
            e.message,
            format!(
                "patch secrets in namespace \"shop\" was refused by an admission policy (403, not RBAC): {webhook}"
            )
        );
        let e = explain(
            &status(
                "secrets \"tingyun-image-secret\" is forbidden: unable to create new content in \
                 namespace shop because it is being terminated",
            ),
            "patch",
            "secrets",
            Some("shop"),
        );
        assert!(
            e.message.starts_with("namespace \"shop\" is being deleted"),
            "{}",
            e.message
        );
        let e = explain(
            &status("secrets is forbidden: User \"dev\" cannot patch resource \"secrets\""),
            "patch",
            "secrets",
            Some("shop"),
        );
        assert!(
            e.message
                .starts_with("forbidden: you may not patch secrets in namespace shop"),
            "{}",
            e.message
        );
    }

    #[test]
    fn plan_debug_hides_the_password() {
        assert!(!format!("{:?}", plan(&["a"])).contains(PASSWORD));
    }
}
