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
use super::errors::{ApiError, Attempt, refused_by_admission, terminating};
use crate::dry_run::DryRun;
use crate::exit::Status;
use crate::output::Output;
use crate::yaml::emit::{Layout, to_yaml};

/// What `secret` was asked to do (see `src/cli/secret.rs` for each flag).
#[derive(Debug, Clone, Default)]
pub struct SecretOptions {
    pub connect: super::connect::ConnectOptions,
    /// Registry server, HOST[:PORT].
    pub server: String,
    pub username: String,
    /// Read the password from standard input (otherwise from the environment).
    pub password_stdin: bool,
    /// `-n` values, as given.
    pub namespaces: Vec<String>,
    /// Also every namespace the Tingyun webhook selects.
    pub injected_namespaces: bool,
    /// Secret name.
    pub name: String,
    pub dry_run: DryRun,
    /// Output format of a dry run.
    pub output: Option<OutputFormat>,
    pub field_manager: String,
}

/// How a dry run prints the objects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    Yaml,
    Json,
}

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

/// Word a failed API call on `resource` (plural, e.g. `secrets`) in one
/// line, from its one classification ([`ApiError::classify`]). `ns` is the
/// namespace the call was made in, if any.
pub fn explain(err: &kube::Error, verb: &str, resource: &str, ns: Option<&str>) -> ApplyError {
    let kind = ApiError::classify(err);
    let where_ = ns
        .map(|ns| format!(" in namespace {ns}"))
        .unwrap_or_default();
    let attempt = Attempt {
        verb,
        resource,
        namespace: ns,
    };
    let message = match &kind {
        ApiError::Timeout { cause }
        | ApiError::Unreachable { cause }
        | ApiError::Client { cause } => {
            format!("cannot reach the API server ({verb} {resource}{where_}): {cause}")
        }
        ApiError::NotFound { namespace } => {
            let ns = ns.unwrap_or(namespace);
            format!("namespace {ns} not found: create it first (kubectl create namespace {ns})")
        }
        ApiError::Unauthorized { .. } => format!(
            "unauthorized: the API server rejected the kubeconfig credentials ({verb} {resource}{where_}); \
             log in again or refresh the token"
        ),
        ApiError::NamespaceTerminating { .. } => terminating(&attempt),
        ApiError::Forbidden {
            admission: true,
            message,
        } => refused_by_admission(message, &attempt),
        ApiError::Forbidden { message, .. } => format!(
            "forbidden: you may not {verb} {resource}{where_} (server: {message}); \
             ask for RBAC permission to {verb} {resource}"
        ),
        ApiError::Conflict { message, .. }
        | ApiError::Status {
            code: 409, message, ..
        } => format!("conflict on {verb} {resource}{where_}: {message}"),
        ApiError::Status {
            code: 422, message, ..
        } => format!("rejected as invalid on {verb} {resource}{where_}: {message}"),
        ApiError::Status {
            code,
            reason,
            message,
        } => {
            let reason = super::errors::if_given(reason, |r| format!(" {r}"));
            format!("{verb} {resource}{where_} failed: HTTP {code}{reason}: {message}")
        }
    };
    ApplyError {
        message,
        transport: kind.is_transport(),
        unauthorized: matches!(kind, ApiError::Unauthorized { .. }),
    }
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
        OutputFormat::Yaml => to_yaml(value, Layout::OBJECTS),
        OutputFormat::Json => {
            let mut s = serde_json::to_string_pretty(value).unwrap_or_default();
            s.push('\n');
            s
        }
    }
}

/// The cluster part: resolve namespaces, apply in each, report. Report
/// lines go to `out`, failures to `err`.
pub async fn run_cluster(
    client: &kube::Client,
    default_namespace: &str,
    api_server: &str,
    plan: &Plan,
    out: &mut dyn Write,
    err: &mut dyn Write,
) -> anyhow::Result<Status> {
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
        return Ok(Status::Failed);
    }
    if plan.server_dry_run && differences > 0 {
        return Ok(Status::Differences);
    }
    Ok(Status::Done)
}

/// Check the flags before anything is read; returns the `-n` namespaces, deduplicated in order.
fn check_args(args: &SecretOptions) -> anyhow::Result<Vec<String>> {
    validate_server(&args.server)?;
    validate_username(&args.username)?;
    validate_secret_name(&args.name)?;
    for ns in &args.namespaces {
        validate_namespace(ns)?;
    }
    let client_dry_run = args.dry_run == DryRun::Client;
    let server_dry_run = args.dry_run == DryRun::Server;
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

/// The `secret` command: report lines to `output.out`, failures to `output.err`.
pub fn run(args: &SecretOptions, output: &mut Output) -> anyhow::Result<Status> {
    let namespaces = check_args(args)?;
    let stdin = std::io::stdin();
    if args.password_stdin && stdin.is_terminal() {
        writeln!(
            output.err,
            "reading the registry password from standard input (end with Ctrl-D)..."
        )?;
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
        server_dry_run: args.dry_run == DryRun::Server,
        output: args.output,
    };

    if args.dry_run == DryRun::Client {
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
        output.out.write_all(text.as_bytes())?;
        return Ok(Status::Done);
    }

    crate::runtime::block_on(async {
        let conn = args.connect.connect().await?;
        run_cluster(
            &conn.client,
            &conn.default_namespace,
            &conn.server,
            &plan,
            &mut *output.out,
            &mut *output.err,
        )
        .await
    })?
}

#[cfg(test)]
mod tests {
    //! Pure parts only; the request flow is tested against the kube-emulator
    //! in tests/secret_cluster.rs.
    use serde_json::json;

    use super::*;

    const PASSWORD: &str = "pa:ss\"w\\ord 密码";

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
