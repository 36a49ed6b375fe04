//! `kubectl tingyun doctor`: why are the agent's pods (and the pods it
//! injects into) not Ready? Reads pods, their container statuses and
//! events, nodes, ServiceAccounts, pull secrets and the agent ConfigMap;
//! classifies the kubelet's words with [`crate::k8s::pod_problem`] (the
//! classifier `apply`'s rollout report uses) and names the exact fix. With
//! `--check-registry` it asks the registry about each failing image, with
//! the pod's own pull secrets (what the kubelet sends).
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::time::Duration;

use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod, Secret, ServiceAccount};
use kube::Api;
use kube::api::ListParams;
use serde_json::{Value, json};

use crate::cluster::connect::ConnectOptions;
use crate::cluster::dockerconfig::DATA_KEY;
use crate::cluster::wait::{PodReport, diagnose_pod};
use crate::exit::Status as ExitStatus;
use crate::image::{Host, ImageRef};
use crate::k8s::conditions::pod_settled;
use crate::k8s::pod_problem::{self, Cause, ContainerProblem, PodContext, image_host};
use crate::output::Output;
use crate::registry::check::{Wanted, check_image};
use crate::registry::credentials::UserConfigPaths;
use crate::registry::{Client, CredentialStore, RegistryOptions, TlsOptions};

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    #[default]
    Text,
    Json,
}

#[derive(Debug, Clone, Default)]
pub struct DoctorOptions {
    pub connect: ConnectOptions,
    /// The agent's namespace (always read).
    pub agent_namespace: String,
    /// `-n`: more namespaces; none: those the webhook injects into.
    pub namespaces: Vec<String>,
    pub output: Format,
    /// Ask the registry about each failing image.
    pub check_registry: bool,
    pub ca_files: Vec<PathBuf>,
    pub insecure: Vec<Host>,
    pub http: Vec<Host>,
    pub registry_timeout: Duration,
}

/// The word for a cause, the same as `images --check`'s statuses where
/// they overlap.
pub fn cause_word(c: Cause) -> &'static str {
    match c {
        Cause::Unauthorized => "unauthorized",
        Cause::NotFound => "missing",
        Cause::HttpOnlyRegistry => "http-only",
        Cause::Tls => "tls-error",
        Cause::Unreachable => "unreachable",
        Cause::PlatformMissing => "platform-missing",
        Cause::WrongArchitecture => "exec-format-error",
        Cause::CrashLoop => "crash-loop",
        Cause::PullFailed => "pull-failed",
        Cause::Other => "not-ready",
    }
}

/// One finding: a container kept from running, or a namespace-level fault.
#[derive(Debug, Clone)]
pub struct Finding {
    pub namespace: String,
    pub pod: String,
    pub container: String,
    pub image: String,
    pub node: Option<String>,
    pub arch: Option<String>,
    pub reason: String,
    pub cause: String,
    /// The kubelet's words.
    pub message: String,
    pub fix: String,
    /// What the registry said (`--check-registry`).
    pub registry: Option<String>,
}

impl Finding {
    pub fn to_json(&self) -> Value {
        json!({
            "namespace": self.namespace, "pod": self.pod, "container": self.container,
            "image": self.image, "node": self.node, "arch": self.arch, "reason": self.reason,
            "cause": self.cause, "message": self.message, "fix": self.fix,
            "registry": self.registry,
        })
    }
}

/// Run `doctor`: findings on `output.out`, notes on `output.err`, on the
/// one runtime ([`crate::runtime`]).
pub fn run(options: &DoctorOptions, output: &mut Output) -> anyhow::Result<ExitStatus> {
    crate::runtime::block_on(async {
        let conn = options.connect.connect().await?;
        let (findings, notes) = examine(&conn.client, options).await?;
        for n in &notes {
            writeln!(output.err, "{n}")?;
        }
        render(&findings, options.output, output.out)?;
        Ok(if findings.is_empty() {
            ExitStatus::Done
        } else {
            ExitStatus::Failed
        })
    })?
}

/// Look at the namespaces; findings and notes (how the namespaces were chosen).
pub async fn examine(
    client: &kube::Client,
    options: &DoctorOptions,
) -> anyhow::Result<(Vec<Finding>, Vec<String>)> {
    let mut notes = Vec::new();
    let mut namespaces = vec![options.agent_namespace.clone()];
    if options.namespaces.is_empty() {
        match crate::cluster::secret::injected_namespaces(client).await {
            Ok((found, _)) => namespaces.extend(found),
            Err(e) => notes.push(format!(
                "note: cannot read the webhook's namespace selector ({e:#}); name namespaces with -n"
            )),
        }
    } else {
        namespaces.extend(options.namespaces.iter().cloned());
    }
    let namespaces = crate::cluster::dockerconfig::dedup_keep_order(namespaces);
    notes.push(format!("doctor: namespaces {}", namespaces.join(", ")));

    let nodes: BTreeMap<String, Node> = Api::<Node>::all(client.clone())
        .list(&ListParams::default())
        .await
        .map(|l| {
            l.items
                .into_iter()
                .map(|n| (n.metadata.name.clone().unwrap_or_default(), n))
                .collect()
        })
        .unwrap_or_default();
    let mutate = agent_mutate_yaml(client, &options.agent_namespace).await;

    let mut findings = Vec::new();
    let mut arch_cache = BTreeMap::new();
    let registry = if options.check_registry {
        Some(RegistryCheck::new(options)?)
    } else {
        None
    };
    for ns in &namespaces {
        let pods = match Api::<Pod>::namespaced(client.clone(), ns)
            .list(&ListParams::default())
            .await
        {
            Ok(l) => l.items,
            Err(e) => {
                notes.push(format!(
                    "warning: cannot list pods in namespace {ns:?}: {e}"
                ));
                continue;
            }
        };
        for pod in pods.iter().filter(|p| !pod_settled(p)) {
            let report = diagnose_pod(client, pod, &mut arch_cache).await;
            for p in &report.problems {
                let mut f = finding(&report, p, &nodes);
                f.fix = precise_fix(client, pod, &report, p, ns, options, mutate.as_ref()).await;
                if let Some(rc) = &registry
                    && is_image_cause(p.cause)
                {
                    f.registry = Some(rc.confirm(client, ns, &report, p, &nodes).await);
                }
                findings.push(f);
            }
            if report.problems.is_empty()
                && let Some(m) = &report.missing_secret
            {
                findings.push(Finding {
                    namespace: ns.clone(),
                    pod: report.name.clone(),
                    container: String::new(),
                    image: String::new(),
                    node: report.node.clone(),
                    arch: report.arch.clone(),
                    reason: "FailedToRetrieveImagePullSecret".into(),
                    cause: "secret-missing".into(),
                    message: m.clone(),
                    fix: missing_secret_fix(ns, &report.pull_secrets),
                    registry: None,
                });
            }
        }
    }
    Ok((findings, notes))
}

fn is_image_cause(c: Cause) -> bool {
    matches!(
        c,
        Cause::Unauthorized
            | Cause::NotFound
            | Cause::HttpOnlyRegistry
            | Cause::Tls
            | Cause::Unreachable
            | Cause::PlatformMissing
            | Cause::WrongArchitecture
            | Cause::PullFailed
    )
}

/// Ready pods and finished ones are fine.
fn finding(r: &PodReport, p: &ContainerProblem, nodes: &BTreeMap<String, Node>) -> Finding {
    let arch = r.arch.clone().or_else(|| {
        r.node
            .as_ref()
            .and_then(|n| nodes.get(n))
            .map(|n| crate::images::node_platform(n).architecture)
    });
    Finding {
        namespace: r.namespace.clone(),
        pod: r.name.clone(),
        container: p.container.clone(),
        image: p.image.clone(),
        node: r.node.clone(),
        arch,
        reason: p.reason.clone(),
        cause: cause_word(p.cause).into(),
        message: match (&p.last_log, p.cause) {
            (Some(log), Cause::WrongArchitecture) if !log.trim().is_empty() => {
                format!("{} (log: {})", p.message, log.trim())
            }
            _ => p.message.clone(),
        },
        fix: String::new(),
        registry: None,
    }
}

fn missing_secret_fix(ns: &str, secrets: &[String]) -> String {
    let name = secrets
        .first()
        .cloned()
        .unwrap_or_else(|| crate::names::DEFAULT_SECRET_NAME.to_string());
    format!(
        "namespace \"{ns}\" lacks the pull secret {name:?} the pod names: create it \
         (kubectl tingyun secret --server HOST --username USER --password-stdin -n {ns} --name {name})"
    )
}

/// The `mutate.yaml` of the agent's ConfigMap: (ConfigMap name, whether it
/// has imagePullSecrets, the container names it injects).
struct Mutate {
    configmap: String,
    has_pull_secrets: bool,
    containers: Vec<String>,
}

async fn agent_mutate_yaml(client: &kube::Client, ns: &str) -> Option<Mutate> {
    let cms = Api::<ConfigMap>::namespaced(client.clone(), ns)
        .list(&ListParams::default())
        .await
        .ok()?;
    for cm in cms.items {
        let Some(text) = cm.data.as_ref().and_then(|d| d.get("mutate.yaml")) else {
            continue;
        };
        let tree = crate::yaml::cst::parse(text).ok()?;
        let top = crate::yaml::cst::document_content(tree.root_node())?;
        let has = crate::yaml::cst::get_value(top, text, "imagePullSecrets")
            .is_some_and(|v| !crate::yaml::cst::items(v).is_empty());
        let mut containers = Vec::new();
        for list in ["initContainers", "containers"] {
            if let Some(seq) = crate::yaml::cst::get_value(top, text, list) {
                for item in crate::yaml::cst::items(seq).into_iter().flatten() {
                    if let Some(n) = crate::yaml::cst::get_value(item, text, "name")
                        .and_then(|n| crate::yaml::cst::scalar_text(n, text))
                    {
                        containers.push(n);
                    }
                }
            }
        }
        return Some(Mutate {
            configmap: cm.metadata.name.unwrap_or_default(),
            has_pull_secrets: has,
            containers,
        });
    }
    None
}

/// The fix, made precise with what the cluster says: which namespace lacks
/// which secret, which ServiceAccount or mutate.yaml lacks imagePullSecrets.
async fn precise_fix(
    client: &kube::Client,
    pod: &Pod,
    r: &PodReport,
    p: &ContainerProblem,
    ns: &str,
    options: &DoctorOptions,
    mutate: Option<&Mutate>,
) -> String {
    let node = r.node.as_deref().unwrap_or("(not scheduled)");
    let generic = pod_problem::fix(
        p,
        &PodContext {
            namespace: ns,
            node,
            arch: r.arch.as_deref(),
            pull_secrets: &r.pull_secrets,
            secret_missing: r.missing_secret.is_some(),
        },
    );
    if p.cause != Cause::Unauthorized {
        return generic;
    }
    let host = image_host(&p.image);
    let injected = ns != options.agent_namespace
        && mutate.is_some_and(|m| m.containers.contains(&p.container));
    // Secrets the pod names but the namespace lacks.
    let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
    let mut missing = Vec::new();
    for s in &r.pull_secrets {
        if let Ok(None) = secrets.get_opt(s).await {
            missing.push(s.clone());
        }
    }
    if !missing.is_empty() {
        return missing_secret_fix(ns, &missing);
    }
    if r.pull_secrets.is_empty() {
        if injected && let Some(m) = mutate.filter(|m| !m.has_pull_secrets) {
            return format!(
                "the injected container {:?} pulls from {host} without credentials: mutate.yaml in \
                 ConfigMap {}/{} has no imagePullSecrets; run `kubectl tingyun patch FILE \
                 --inject-pull-secret` and apply it, and create the secret in namespace \"{ns}\" \
                 (kubectl tingyun secret --server {host} --username USER --password-stdin -n {ns})",
                p.container, options.agent_namespace, m.configmap
            );
        }
        let sa = pod
            .spec
            .as_ref()
            .and_then(|s| s.service_account_name.clone())
            .filter(|s| !s.is_empty())
            .unwrap_or_else(|| "default".into());
        let sa_secrets = Api::<ServiceAccount>::namespaced(client.clone(), ns)
            .get_opt(&sa)
            .await
            .ok()
            .flatten()
            .and_then(|s| s.image_pull_secrets)
            .unwrap_or_default();
        if sa_secrets.is_empty() {
            return format!(
                "the pod pulls from {host} without credentials: ServiceAccount {ns}/{sa} has no \
                 imagePullSecrets; run `kubectl tingyun patch FILE --pull-secret` and apply it (or \
                 `kubectl patch serviceaccount {sa} -n {ns} -p '{{\"imagePullSecrets\":[{{\"name\":\"{}\"}}]}}'`), \
                 create the secret (kubectl tingyun secret --server {host} --username USER --password-stdin -n {ns}), \
                 then delete the pod so it is re-created with them",
                crate::names::DEFAULT_SECRET_NAME
            );
        }
        return format!(
            "ServiceAccount {ns}/{sa} names imagePullSecrets, but this pod was created before: \
             delete the pod so it is re-created with them ({generic})"
        );
    }
    generic
}

/// `--check-registry`: the registry's own answer for a failing image.
struct RegistryCheck {
    base: RegistryOptions,
}

impl RegistryCheck {
    fn new(o: &DoctorOptions) -> anyhow::Result<Self> {
        let base = RegistryOptions {
            tls: TlsOptions {
                ca_files: o.ca_files.clone(),
                insecure: o.insecure.clone(),
                http: o.http.clone(),
                no_system_roots: false,
            },
            credentials: CredentialStore::new(),
            timeout: o.registry_timeout,
            connect_timeout: o.registry_timeout.min(Duration::from_secs(10)),
        };
        // Fail early on a bad --ca-file.
        base.tls.verifying_config()?;
        Ok(RegistryCheck { base })
    }

    async fn confirm(
        &self,
        client: &kube::Client,
        ns: &str,
        r: &PodReport,
        p: &ContainerProblem,
        nodes: &BTreeMap<String, Node>,
    ) -> String {
        let Ok(image) = ImageRef::parse(&p.image) else {
            return format!("{:?} is not an image reference", p.image);
        };
        let mut store = CredentialStore::new();
        let secrets: Api<Secret> = Api::namespaced(client.clone(), ns);
        for s in &r.pull_secrets {
            if let Ok(Some(secret)) = secrets.get_opt(s).await
                && let Some(bytes) = secret.data.as_ref().and_then(|d| d.get(DATA_KEY))
            {
                let _ = store.push_docker_config(&bytes.0, &format!("secret {ns}/{s}"));
            }
        }
        store.push_user_config(&UserConfigPaths::from_env());
        let mut options = self.base.clone();
        options.credentials = store;
        let client = match Client::new(options) {
            Ok(c) => c,
            Err(e) => return format!("cannot check: {e:#}"),
        };
        let platform = r
            .node
            .as_ref()
            .and_then(|n| nodes.get(n))
            .map(crate::images::node_platform)
            .unwrap_or_else(crate::image::platform::default_platform);
        let wanted = [Wanted {
            platform,
            nodes: r.node.iter().cloned().collect(),
        }];
        let c = check_image(&client, &image, &wanted).await;
        let platforms = c
            .platforms
            .iter()
            .map(|p| p.to_string())
            .collect::<Vec<_>>()
            .join(",");
        match c.status {
            crate::registry::Status::Ok => format!(
                "ok: the registry serves {} for {} with the pod's pull secrets from here \
                 (platforms {platforms}); the node's own path to the registry (DNS, proxy, CA) differs",
                p.image, wanted[0].platform
            ),
            s => format!("{s}: {}", c.message),
        }
    }
}

pub fn render(findings: &[Finding], format: Format, out: &mut dyn Write) -> std::io::Result<()> {
    if format == Format::Json {
        let arr: Vec<Value> = findings.iter().map(Finding::to_json).collect();
        return writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&arr).unwrap_or_default()
        );
    }
    if findings.is_empty() {
        return writeln!(
            out,
            "No problem found: every pod in these namespaces is Ready (or still starting)."
        );
    }
    for f in findings {
        let node = f.node.as_deref().unwrap_or("(not scheduled)");
        let arch = f
            .arch
            .as_deref()
            .map(|a| format!(", {a}"))
            .unwrap_or_default();
        let container = if f.container.is_empty() {
            String::new()
        } else {
            format!(" container {}", f.container)
        };
        writeln!(
            out,
            "{}/{}{container} (node {node}{arch}): {}: {}",
            f.namespace, f.pod, f.reason, f.cause
        )?;
        if !f.image.is_empty() {
            writeln!(out, "  image: {}", f.image)?;
        }
        if !f.message.is_empty() {
            writeln!(out, "  kubelet: {}", f.message)?;
        }
        if let Some(r) = &f.registry {
            writeln!(out, "  registry: {r}")?;
        }
        writeln!(out, "  fix: {}", f.fix)?;
    }
    writeln!(
        out,
        "\n{} problem{} found.",
        findings.len(),
        if findings.len() == 1 { "" } else { "s" }
    )
}
