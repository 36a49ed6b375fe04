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
use std::io::{IsTerminal as _, Read as _, Write as _};

use anyhow::Context as _;
use kube::api::{Api, DynamicObject, Patch, PatchParams};
use kube::core::GroupVersion;
use kube::discovery::{ApiCapabilities, ApiResource, Scope};
use serde_json::Value;

use super::errors::{Attempt, Failure, classify};
use super::objects::{self, Manifest};
use crate::cli::{ApplyArgs, ApplyOpts, DryRun, exit};

pub fn run(args: &ApplyArgs) -> anyhow::Result<i32> {
    let (label, text) = read_input(&args.file)?;
    match args.dry_run {
        Some(DryRun::Client) => {
            let objects = objects::apply_order(objects::parse(&label, &text)?);
            for m in &objects {
                println!("{} (client dry run: nothing sent)", m.display());
            }
            Ok(exit::OK)
        }
        Some(DryRun::Server) => apply_text(&label, &text, &args.opts, true),
        Some(DryRun::None) | None => apply_text(&label, &text, &args.opts, false),
    }
}

fn read_input(file: &str) -> anyhow::Result<(String, String)> {
    if file == "-" {
        let mut text = String::new();
        std::io::stdin()
            .read_to_string(&mut text)
            .context("cannot read the manifest from standard input")?;
        return Ok(("<stdin>".into(), text));
    }
    let text = std::fs::read_to_string(file).with_context(|| format!("cannot read {file}"))?;
    Ok((file.to_string(), text))
}

/// Apply already-read manifest text (used by `patch --apply`).
/// `label` names the source in messages (a path or `<stdin>`).
/// Returns the exit code; with `server_dry_run`, errors are printed here and
/// give exit code 2 (1 means "there are differences").
pub fn apply_text(
    label: &str,
    text: &str,
    opts: &ApplyOpts,
    server_dry_run: bool,
) -> anyhow::Result<i32> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let result = runtime.block_on(apply_async(label, text, opts, server_dry_run));
    match result {
        Err(e) if server_dry_run => {
            eprintln!("{}", crate::error::render(&e));
            Ok(exit::USAGE)
        }
        other => other,
    }
}

/// One object after applying.
#[derive(Debug, Clone)]
pub struct Applied {
    pub manifest: Manifest,
    pub namespace: Option<String>,
    /// The live object before applying (None: it did not exist).
    pub before: Option<Value>,
    /// The object the server returned.
    pub after: Value,
}

impl Applied {
    /// Did the apply change the object (its resourceVersion moved)?
    pub fn changed(&self) -> bool {
        match &self.before {
            None => true,
            Some(b) => {
                b["metadata"]["resourceVersion"] != self.after["metadata"]["resourceVersion"]
            }
        }
    }

    fn outcome(&self) -> &'static str {
        match (&self.before, self.changed()) {
            (None, _) => "created",
            (Some(_), true) => "serverside-applied",
            (Some(_), false) => "unchanged",
        }
    }
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
    async fn resolve(
        &mut self,
        m: &Manifest,
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
                    if tries < 20
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

fn is_transport(e: &kube::Error) -> bool {
    matches!(e, kube::Error::HyperError(_) | kube::Error::Service(_))
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
    opts: &'a ApplyOpts,
    dry_run: bool,
}

async fn apply_one(
    ctx: &Ctx<'_>,
    resolver: &mut Resolver,
    m: &Manifest,
) -> Result<Applied, Failure> {
    let (ar, caps) = resolver.resolve(m).await.map_err(|e| match e {
        kube::Error::Discovery(_) | kube::Error::Api(_) if !is_transport(&e) && !is_auth(&e) => Failure {
            message: format!(
                "the cluster does not serve kind {} in {} (is its CustomResourceDefinition installed, or is the apiVersion outdated?)",
                m.kind, m.api_version
            ),
            fatal: false,
        },
        e => classify(&e, &Attempt { verb: "get", resource: "API discovery", namespace: None }, &ctx.server),
    })?;
    let namespace = match caps.scope {
        Scope::Namespaced => Some(
            m.namespace
                .clone()
                .unwrap_or_else(|| ctx.default_namespace.clone()),
        ),
        Scope::Cluster => None,
    };
    let api: Api<DynamicObject> = match &namespace {
        Some(ns) => Api::namespaced_with(ctx.client.clone(), ns, &ar),
        None => Api::all_with(ctx.client.clone(), &ar),
    };
    let resource = resource_name(&ar);
    let attempt = |verb| Attempt {
        verb,
        resource: &resource,
        namespace: namespace.as_deref(),
    };
    let before = api
        .get_opt(&m.name)
        .await
        .map_err(|e| classify(&e, &attempt("get"), &ctx.server))?
        .map(|o| serde_json::to_value(o).unwrap_or(Value::Null));
    let mut body = m.object.clone();
    if let Some(ns) = &namespace {
        body["metadata"]["namespace"] = Value::String(ns.clone());
    }
    let mut params = PatchParams::apply(&ctx.opts.field_manager);
    if ctx.opts.force_conflicts {
        params = params.force();
    }
    if ctx.dry_run {
        params = params.dry_run();
    }
    let result = api
        .patch(&m.name, &params, &Patch::Apply(&body))
        .await
        .map_err(|e| classify(&e, &attempt("patch"), &ctx.server))?;
    let after = serde_json::to_value(result).unwrap_or(Value::Null);
    Ok(Applied {
        manifest: m.clone(),
        namespace,
        before,
        after,
    })
}

fn is_auth(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 401 || s.code == 403)
}

async fn apply_async(
    label: &str,
    text: &str,
    opts: &ApplyOpts,
    dry_run: bool,
) -> anyhow::Result<i32> {
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
        dry_run,
    };
    let from_crds = manifests
        .iter()
        .filter(|m| m.is("apiextensions.k8s.io", "CustomResourceDefinition"))
        .map(|m| {
            let spec = &m.object["spec"];
            (
                spec["group"].as_str().unwrap_or("").to_string(),
                spec["names"]["kind"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let mut resolver = Resolver {
        client: conn.client.clone(),
        cache: HashMap::new(),
        groups: HashMap::new(),
        from_crds,
    };
    let file_namespaces: Vec<String> = manifests
        .iter()
        .filter(|m| m.is("", "Namespace"))
        .map(|m| m.name.clone())
        .collect();

    let mut applied = Vec::new();
    let mut failed: Vec<String> = Vec::new();
    let mut differences = 0usize;
    let mut stdout = std::io::stdout().lock();
    for m in &manifests {
        match apply_one(&ctx, &mut resolver, m).await {
            Ok(a) => {
                if dry_run {
                    let name = super::livediff::file_name(
                        &m.api_version,
                        &m.kind,
                        a.namespace.as_deref(),
                        &m.name,
                    );
                    let d = super::livediff::diff(&name, a.before.as_ref(), &a.after);
                    if !d.is_empty() {
                        differences += 1;
                        let _ = write!(stdout, "{d}");
                    }
                } else {
                    let _ = writeln!(stdout, "{} {}", m.display(), a.outcome());
                }
                applied.push(a);
            }
            Err(f) if f.fatal => {
                let _ = stdout.flush();
                let done: Vec<String> = applied
                    .iter()
                    .map(|a: &Applied| a.manifest.display())
                    .collect();
                if !done.is_empty() && !dry_run {
                    eprintln!("applied before the failure: {}", done.join(", "));
                }
                anyhow::bail!("{}", f.message);
            }
            Err(f) => {
                // In a server dry run, objects in a Namespace the file creates cannot be
                // dry-run applied (the namespace does not exist yet): show them as new.
                let ns = m
                    .namespace
                    .clone()
                    .unwrap_or_else(|| ctx.default_namespace.clone());
                if dry_run
                    && f.message
                        .starts_with(&format!("namespace \"{ns}\" does not exist"))
                    && file_namespaces.contains(&ns)
                {
                    let mut obj = m.object.clone();
                    obj["metadata"]["namespace"] = Value::String(ns.clone());
                    let name =
                        super::livediff::file_name(&m.api_version, &m.kind, Some(&ns), &m.name);
                    let _ = write!(stdout, "{}", super::livediff::diff(&name, None, &obj));
                    differences += 1;
                    continue;
                }
                let _ = stdout.flush();
                eprintln!("{}: {}", m.display(), f.message);
                failed.push(m.display());
            }
        }
    }
    let _ = stdout.flush();
    drop(stdout);

    if dry_run {
        if !failed.is_empty() {
            eprintln!(
                "error: {} of {} objects could not be compared: {}",
                failed.len(),
                manifests.len(),
                failed.join(", ")
            );
            return Ok(exit::USAGE);
        }
        return Ok(if differences > 0 {
            exit::FAILURE
        } else {
            exit::OK
        });
    }
    if !failed.is_empty() {
        eprintln!(
            "error: {} of {} objects were not applied: {}{}",
            failed.len(),
            manifests.len(),
            failed.join(", "),
            if opts.no_restart {
                ""
            } else {
                "; the agent was not restarted"
            }
        );
        return Ok(exit::FAILURE);
    }
    if opts.no_restart {
        return Ok(exit::OK);
    }
    let plan = super::restart::plan(&applied);
    let targets =
        super::restart::execute(&conn.client, &plan, &opts.field_manager, &ctx.server).await?;
    if targets.is_empty() {
        return Ok(exit::OK);
    }
    let tty = std::io::stderr().is_terminal();
    let ok = super::wait::wait(&conn.client, &targets, opts.timeout, tty, &ctx.server).await?;
    Ok(if ok { exit::OK } else { exit::FAILURE })
}
