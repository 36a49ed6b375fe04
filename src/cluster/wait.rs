//! Wait until restarted workloads have rolled out (watching, not polling),
//! with a one-line progress display on a terminal and plain lines otherwise.
//! On timeout, say per pod why it is not Ready.
use std::collections::BTreeMap;
use std::io::Write;
use std::time::Duration;

use futures::StreamExt as _;
use futures::stream::BoxStream;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::core::v1::{Event as KubeEvent, Node, Pod};
use kube::api::{Api, ListParams, LogParams};
use kube::runtime::wait::Condition as _;
use kube::runtime::watcher;

use super::errors::{Attempt, classify};
use super::restart::{Kind, Workload};
use crate::k8s::conditions::{
    Rollout, daemonset_rollout, deployment_rollout, is_daemonset_rolled_out,
    is_deployment_rolled_out, pod_may_be_stuck, pod_not_ready_reason, pod_ready, pod_state_word,
    selector_matches,
};
use crate::k8s::pod_problem::{self, ContainerProblem};
use crate::output::Output;

/// A watch update tagged with its resource and namespace.
type Tagged = BoxStream<'static, (&'static str, String, Result<Update, watcher::Error>)>;

enum Update {
    Pod(watcher::Event<Pod>),
    Deployment(watcher::Event<Deployment>),
    DaemonSet(watcher::Event<DaemonSet>),
}

#[derive(Default)]
struct Seen {
    pods: BTreeMap<(String, String), Pod>,
    deployments: BTreeMap<(String, String), Deployment>,
    daemonsets: BTreeMap<(String, String), DaemonSet>,
}

fn key(meta: &kube::api::ObjectMeta) -> (String, String) {
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

impl Seen {
    fn progress(&self, w: &Workload) -> Option<Rollout> {
        let k = (w.namespace.clone(), w.name.clone());
        match w.kind {
            Kind::Deployment => self.deployments.get(&k).map(deployment_rollout),
            Kind::DaemonSet => self.daemonsets.get(&k).map(daemonset_rollout),
        }
    }

    fn rolled_out(&self, w: &Workload) -> bool {
        let k = (w.namespace.clone(), w.name.clone());
        match w.kind {
            Kind::Deployment => is_deployment_rolled_out().matches_object(self.deployments.get(&k)),
            Kind::DaemonSet => is_daemonset_rolled_out().matches_object(self.daemonsets.get(&k)),
        }
    }

    /// The workload's pods that are not being deleted.
    fn pods_of(&self, w: &Workload) -> Vec<&Pod> {
        let k = (w.namespace.clone(), w.name.clone());
        let selector = match w.kind {
            Kind::Deployment => self
                .deployments
                .get(&k)
                .and_then(|d| d.spec.as_ref())
                .map(|s| &s.selector),
            Kind::DaemonSet => self
                .daemonsets
                .get(&k)
                .and_then(|d| d.spec.as_ref())
                .map(|s| &s.selector),
        };
        self.pods
            .values()
            .filter(|p| p.metadata.namespace.as_deref() == Some(&w.namespace))
            .filter(|p| p.metadata.deletion_timestamp.is_none())
            .filter(|p| selector_matches(selector, p))
            .collect()
    }
}

fn progress_line(seen: &Seen, targets: &[Workload]) -> String {
    let parts: Vec<String> = targets
        .iter()
        .map(|w| match seen.progress(w) {
            None => format!("{} (not found yet)", w.display()),
            Some(_) if seen.rolled_out(w) => format!("{} ready", w.display()),
            Some(p) => {
                let waiting: Vec<String> = seen
                    .pods_of(w)
                    .into_iter()
                    .filter(|pod| !pod_ready(pod))
                    .map(|pod| {
                        format!(
                            "{} {}",
                            pod.metadata.name.as_deref().unwrap_or("?"),
                            pod_state_word(pod)
                        )
                    })
                    .collect();
                let extra = if waiting.is_empty() {
                    String::new()
                } else {
                    format!(" ({})", waiting.join(", "))
                };
                format!("{} {}/{} ready{extra}", w.display(), p.ready, p.want)
            }
        })
        .collect();
    format!("waiting: {}", parts.join("; "))
}

fn human(d: Duration) -> String {
    let s = d.as_secs();
    match (s / 60, s % 60) {
        (0, s) => format!("{s}s"),
        (m, 0) => format!("{m}m"),
        (m, s) => format!("{m}m{s}s"),
    }
}

/// How long to wait.
pub struct Limits {
    /// `--timeout`, for messages.
    pub timeout: Duration,
    /// When to give up.
    pub deadline: tokio::time::Instant,
    /// Server-side timeout of each watch request.
    pub watch_timeout_secs: u32,
    /// When this run began changing the cluster: pods created and pull
    /// failures reported from then on are this run's (not the wait's own
    /// start, which a slow apply puts seconds after the pods it created).
    pub since: k8s_openapi::jiff::Timestamp,
}

/// Wait for `targets` to roll out. Ok(true) when all are Ready, Ok(false) on
/// timeout or when a pod cannot recover by itself (the reasons are written).
pub async fn wait(
    client: &kube::Client,
    targets: &[Workload],
    limits: Limits,
    server: &str,
    io: Output<'_>,
) -> anyhow::Result<bool> {
    let Limits {
        timeout,
        deadline,
        watch_timeout_secs,
        since: started,
    } = limits;
    let Output {
        out,
        err: stderr,
        tty,
        width,
        ..
    } = io;
    let mut namespaces: Vec<&str> = targets.iter().map(|w| w.namespace.as_str()).collect();
    namespaces.sort();
    namespaces.dedup();
    let mut streams: Vec<Tagged> = Vec::new();
    for ns in &namespaces {
        let has = |kind| targets.iter().any(|w| w.namespace == *ns && w.kind == kind);
        streams.push(watch(client, ns, "pods", watch_timeout_secs, Update::Pod));
        if has(Kind::Deployment) {
            streams.push(watch(
                client,
                ns,
                "deployments.apps",
                watch_timeout_secs,
                Update::Deployment,
            ));
        }
        if has(Kind::DaemonSet) {
            streams.push(watch(
                client,
                ns,
                "daemonsets.apps",
                watch_timeout_secs,
                Update::DaemonSet,
            ));
        }
    }
    let stream_count = streams.len();
    let mut initialized = 0usize;
    let mut events = futures::stream::select_all(streams);
    let names: Vec<String> = targets.iter().map(Workload::display).collect();
    // What is left of --timeout after applying (whole seconds, rounded up).
    let left = deadline.saturating_duration_since(tokio::time::Instant::now())
        + Duration::from_millis(999);
    writeln!(
        out,
        "waiting up to {} for {} to become Ready",
        human(left.min(timeout)),
        names.join(", ")
    )?;

    let mut seen = Seen::default();
    let mut last_line = String::new();
    let mut diagnosed: std::collections::BTreeSet<(String, String)> = Default::default();
    let mut arch_cache: BTreeMap<String, Option<String>> = BTreeMap::new();
    loop {
        let next = match tokio::time::timeout_at(deadline, events.next()).await {
            Err(_) => break,
            Ok(None) => {
                anyhow::bail!("the watch on the cluster ended unexpectedly; run the command again")
            }
            Ok(Some(n)) => n,
        };
        let (resource, ns, update) = next;
        let update = match update {
            Ok(u) => u,
            Err(e) => {
                if tty && !last_line.is_empty() {
                    let _ = writeln!(stderr);
                }
                let attempt = Attempt {
                    verb: "watch",
                    resource,
                    namespace: Some(&ns),
                };
                let message = match &e {
                    watcher::Error::InitialListFailed(k) => {
                        classify(
                            k,
                            &Attempt {
                                verb: "list",
                                ..attempt
                            },
                            server,
                        )
                        .message
                    }
                    watcher::Error::WatchStartFailed(k) | watcher::Error::WatchFailed(k) => {
                        classify(k, &attempt, server).message
                    }
                    watcher::Error::WatchError(s) => {
                        super::errors::classify_status(s, &attempt, server).message
                    }
                    other => other.to_string(),
                };
                anyhow::bail!("while waiting for the agent: {message}");
            }
        };
        let init_done = matches!(
            update,
            Update::Pod(watcher::Event::InitDone)
                | Update::Deployment(watcher::Event::InitDone)
                | Update::DaemonSet(watcher::Event::InitDone)
        );
        if init_done {
            initialized += 1;
        }
        let settle = apply_update(&mut seen, &ns, update);
        // Judge only once every watch has listed its objects.
        if !settle || initialized < stream_count {
            continue;
        }
        if targets.iter().all(|w| seen.rolled_out(w)) {
            if tty && !last_line.is_empty() {
                let _ = write!(stderr, "\r\x1b[2K");
            }
            for w in targets {
                writeln!(out, "{} rolled out: new pods Ready", w.display())?;
            }
            return Ok(true);
        }
        // Stop as soon as a pod is in a state that does not recover by itself.
        let mut stuck = false;
        for w in targets.iter().filter(|w| !seen.rolled_out(w)) {
            for pod in seen.pods_of(w).into_iter().filter(|p| !pod_ready(p)) {
                if !pod_may_be_stuck(pod) {
                    continue;
                }
                let key = (
                    pod.metadata.name.clone().unwrap_or_default(),
                    pod.metadata.resource_version.clone().unwrap_or_default(),
                );
                if !diagnosed.insert(key) {
                    continue;
                }
                let report = diagnose_pod(client, pod, &mut arch_cache).await;
                if stuck_since(pod, &report.problems, started) {
                    stuck = true;
                }
            }
        }
        if stuck {
            if tty && !last_line.is_empty() {
                let _ = writeln!(stderr);
            }
            report_failure(client, &seen, targets, None, &mut arch_cache, &mut *stderr).await;
            return Ok(false);
        }
        let line = progress_line(&seen, targets);
        if line != last_line {
            if tty {
                // Cut to the terminal's width: a wrapped line cannot be redrawn.
                let _ = write!(stderr, "\r\x1b[2K{}", crate::output::fit(&line, width));
            } else {
                let _ = writeln!(stderr, "{line}");
            }
            let _ = stderr.flush();
            last_line = line;
        }
    }
    if tty && !last_line.is_empty() {
        let _ = writeln!(stderr);
    }
    report_failure(
        client,
        &seen,
        targets,
        Some(timeout),
        &mut arch_cache,
        &mut *stderr,
    )
    .await;
    Ok(false)
}

/// One namespace's watch of one resource, its events tagged for the merged stream.
fn watch<K>(
    client: &kube::Client,
    ns: &str,
    resource: &'static str,
    timeout_secs: u32,
    wrap: fn(watcher::Event<K>) -> Update,
) -> Tagged
where
    K: kube::Resource<Scope = k8s_openapi::NamespaceResourceScope>
        + Clone
        + std::fmt::Debug
        + serde::de::DeserializeOwned
        + Send
        + 'static,
    K::DynamicType: Default,
{
    let config = watcher::Config::default().timeout(timeout_secs);
    let namespace = ns.to_string();
    watcher(Api::<K>::namespaced(client.clone(), ns), config)
        .map(move |r| (resource, namespace.clone(), r.map(wrap)))
        .boxed()
}

/// Record an update; true when the state is complete enough to evaluate.
fn apply_update(seen: &mut Seen, ns: &str, update: Update) -> bool {
    match update {
        Update::Pod(ev) => handle(&mut seen.pods, ns, ev, |p: &Pod| key(&p.metadata)),
        Update::Deployment(ev) => handle(&mut seen.deployments, ns, ev, |d: &Deployment| {
            key(&d.metadata)
        }),
        Update::DaemonSet(ev) => handle(&mut seen.daemonsets, ns, ev, |d: &DaemonSet| {
            key(&d.metadata)
        }),
    }
}

fn handle<K>(
    map: &mut BTreeMap<(String, String), K>,
    ns: &str,
    ev: watcher::Event<K>,
    k: impl Fn(&K) -> (String, String),
) -> bool {
    match ev {
        watcher::Event::Init => {
            map.retain(|key, _| key.0 != ns);
            false
        }
        watcher::Event::InitApply(o) => {
            map.insert(k(&o), o);
            false
        }
        watcher::Event::InitDone => true,
        watcher::Event::Apply(o) => {
            map.insert(k(&o), o);
            true
        }
        watcher::Event::Delete(o) => {
            map.remove(&k(&o));
            true
        }
    }
}

/// The message of the most recent Event about an object.
async fn last_event(client: &kube::Client, ns: &str, kind: &str, name: &str) -> Option<String> {
    let api: Api<KubeEvent> = Api::namespaced(client.clone(), ns);
    let lp = ListParams::default().fields(&format!(
        "involvedObject.name={name},involvedObject.kind={kind}"
    ));
    let list = api.list(&lp).await.ok()?;
    let when = |e: &KubeEvent| {
        e.last_timestamp
            .as_ref()
            .map(|t| t.0)
            .or(e.event_time.as_ref().map(|t| t.0))
            .or(e.metadata.creation_timestamp.as_ref().map(|t| t.0))
    };
    let ev = list
        .items
        .into_iter()
        .enumerate()
        .max_by_key(|(i, e)| (when(e), *i))
        .map(|(_, e)| e)?;
    let msg = ev.message.clone().unwrap_or_default();
    Some(match ev.reason.as_deref() {
        Some(r) if !r.is_empty() => format!("{r}: {}", msg.trim()),
        _ => msg.trim().to_string(),
    })
}

/// One pod's failing containers, with where it runs.
pub struct PodReport {
    pub name: String,
    pub namespace: String,
    pub node: Option<String>,
    pub arch: Option<String>,
    pub problems: Vec<ContainerProblem>,
    /// The kubelet's FailedToRetrieveImagePullSecret message, if any.
    pub missing_secret: Option<String>,
    /// The pod's imagePullSecrets.
    pub pull_secrets: Vec<String>,
}

/// Read what the kubelet says about a pod (events, previous logs of crashing
/// containers, the node's architecture) and classify it.
/// Is this pod stuck because of something that happened while we waited?
/// A pod from before the wait whose pull was refused before it (e.g. before
/// the user created the pull secret) gets the kubelet's next retry first: only
/// a failure reported after the wait started, or one of a pod created since,
/// stops the wait early. Event times have whole seconds, so "after" means a
/// later second; a pre-existing pod's failure in the very second we started
/// waits for the next report or the timeout.
fn stuck_since(
    pod: &Pod,
    problems: &[ContainerProblem],
    started: k8s_openapi::jiff::Timestamp,
) -> bool {
    let new_pod = pod
        .metadata
        .creation_timestamp
        .as_ref()
        .is_some_and(|t| t.0.as_second() >= started.as_second());
    problems.iter().any(|p| {
        p.unrecoverable()
            && (new_pod
                || p.reported_at
                    .is_some_and(|t| t.as_second() > started.as_second()))
    })
}

pub async fn diagnose_pod(
    client: &kube::Client,
    pod: &Pod,
    arch_cache: &mut BTreeMap<String, Option<String>>,
) -> PodReport {
    let name = pod.metadata.name.clone().unwrap_or_default();
    let namespace = pod.metadata.namespace.clone().unwrap_or_default();
    let node = pod.spec.as_ref().and_then(|s| s.node_name.clone());
    let arch = match &node {
        Some(n) => {
            if !arch_cache.contains_key(n) {
                let a = Api::<Node>::all(client.clone())
                    .get_opt(n)
                    .await
                    .ok()
                    .flatten()
                    .and_then(|node| node.metadata.labels?.get("kubernetes.io/arch").cloned());
                arch_cache.insert(n.clone(), a);
            }
            arch_cache.get(n).cloned().flatten()
        }
        None => None,
    };
    let events: Vec<KubeEvent> = Api::<KubeEvent>::namespaced(client.clone(), &namespace)
        .list(&ListParams::default().fields(&format!(
            "involvedObject.name={name},involvedObject.kind=Pod"
        )))
        .await
        .map(|l| l.items)
        .unwrap_or_default();
    let mut logs = BTreeMap::new();
    let pods: Api<Pod> = Api::namespaced(client.clone(), &namespace);
    for c in pod_problem::crashing_containers(pod) {
        let lp = LogParams {
            container: Some(c.clone()),
            previous: true,
            tail_lines: Some(5),
            ..LogParams::default()
        };
        if let Ok(text) = pods.logs(&name, &lp).await {
            logs.insert(c, text);
        }
    }
    PodReport {
        problems: pod_problem::diagnose(pod, &events, &logs),
        missing_secret: pod_problem::missing_pull_secret(&events),
        pull_secrets: pod_problem::pull_secret_names(pod),
        name,
        namespace,
        node,
        arch,
    }
}

/// Render a pod report: per container the kubelet's words, the class and the fix.
pub fn render_report(r: &PodReport, out: &mut dyn Write) -> std::io::Result<()> {
    let node = r.node.as_deref().unwrap_or("(not scheduled)");
    let arch = r
        .arch
        .as_deref()
        .map(|a| format!(" ({a})"))
        .unwrap_or_default();
    for p in &r.problems {
        let restarts = if p.restart_count > 0 || p.exit_code.is_some() {
            format!(
                ", exit code {}, {} restart{}",
                p.exit_code
                    .map(|c| c.to_string())
                    .unwrap_or_else(|| "?".into()),
                p.restart_count,
                if p.restart_count == 1 { "" } else { "s" }
            )
        } else {
            String::new()
        };
        writeln!(
            out,
            "    pod/{} on node {node}{arch}: {}container {}: {}: {}{restarts}",
            r.name,
            if p.init { "init " } else { "" },
            p.container,
            p.reason,
            p.cause.label()
        )?;
        if !p.message.is_empty() {
            writeln!(out, "      kubelet: {}", p.message)?;
        }
        if let Some(log) = p.last_log.as_deref().filter(|l| !l.trim().is_empty()) {
            writeln!(out, "      last log lines of the previous run:")?;
            for line in log.trim_end().lines() {
                writeln!(out, "        | {line}")?;
            }
        }
        writeln!(
            out,
            "      fix: {}",
            pod_problem::fix(
                p,
                &pod_problem::PodContext {
                    namespace: &r.namespace,
                    node,
                    arch: r.arch.as_deref(),
                    pull_secrets: &r.pull_secrets,
                    secret_missing: r.missing_secret.is_some(),
                }
            )
        )?;
    }
    if let Some(m) = &r.missing_secret {
        writeln!(out, "      kubelet: {m}")?;
    }
    Ok(())
}

/// Say per workload and pod why the agent is not Ready. `timeout`: None when
/// we stopped early because a pod cannot recover by itself.
async fn report_failure(
    client: &kube::Client,
    seen: &Seen,
    targets: &[Workload],
    timeout: Option<Duration>,
    arch_cache: &mut BTreeMap<String, Option<String>>,
    err: &mut dyn Write,
) {
    let pending: Vec<&Workload> = targets.iter().filter(|w| !seen.rolled_out(w)).collect();
    let names: Vec<String> = pending.iter().map(|w| w.display()).collect();
    match timeout {
        Some(t) => writeln!(
            err,
            "error: timed out after {} waiting for {} to become Ready",
            human(t),
            names.join(", ")
        ),
        None => writeln!(
            err,
            "error: {} cannot become Ready: a pod is in a state that does not recover by itself (stopped waiting)",
            names.join(", ")
        ),
    }
    .ok();
    for w in pending {
        let (ready, want) = seen
            .progress(w)
            .map(|p| (p.ready, p.want))
            .unwrap_or((0, 0));
        let _ = writeln!(err, "  {}: {ready}/{want} new pods Ready", w.display());
        let pods: Vec<&Pod> = seen
            .pods_of(w)
            .into_iter()
            .filter(|p| !pod_ready(p))
            .collect();
        if pods.is_empty() {
            let kind = match w.kind {
                Kind::Deployment => "Deployment",
                Kind::DaemonSet => "DaemonSet",
            };
            let ev = last_event(client, &w.namespace, kind, &w.name).await;
            let _ = writeln!(
                err,
                "    no pod is starting; last event: {}",
                ev.unwrap_or_else(|| format!(
                    "none (see kubectl -n {} describe {})",
                    w.namespace,
                    w.display()
                ))
            );
        }
        for p in pods {
            let report = diagnose_pod(client, p, arch_cache).await;
            if report.problems.is_empty() {
                let name = p.metadata.name.clone().unwrap_or_default();
                let ev = last_event(client, &w.namespace, "Pod", &name)
                    .await
                    .unwrap_or_else(|| "none".into());
                let _ = writeln!(
                    err,
                    "    pod/{name}: {}; last event: {ev}",
                    pod_not_ready_reason(p)
                );
            } else {
                let _ = render_report(&report, err);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::k8s::pod_problem::Cause;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
    use k8s_openapi::jiff::Timestamp;

    fn ts(s: i64) -> Timestamp {
        Timestamp::from_second(s).unwrap()
    }

    fn pod_created(s: i64) -> Pod {
        let mut p = Pod::default();
        p.metadata.creation_timestamp = Some(Time(ts(s)));
        p
    }

    fn refused(reported: Option<i64>) -> ContainerProblem {
        ContainerProblem {
            container: "agent".into(),
            init: false,
            image: "harbor.example.com/apm/agent:1".into(),
            reason: "ImagePullBackOff".into(),
            message: "401 Unauthorized".into(),
            cause: Cause::Unauthorized,
            restart_count: 0,
            exit_code: None,
            last_log: None,
            reported_at: reported.map(ts),
        }
    }

    #[test]
    fn a_failure_from_before_the_wait_gets_its_retry() {
        // Pod and its refused pull both older than the wait (the user has
        // since created the secret): keep waiting.
        assert!(!stuck_since(
            &pod_created(100),
            &[refused(Some(101))],
            ts(105)
        ));
        // Same second as the start: ambiguous, so keep waiting.
        assert!(!stuck_since(
            &pod_created(100),
            &[refused(Some(105))],
            ts(105)
        ));
        // No event seen for an old pod: keep waiting.
        assert!(!stuck_since(&pod_created(100), &[refused(None)], ts(105)));
    }

    #[test]
    fn a_failure_reported_during_the_wait_stops_it() {
        assert!(stuck_since(
            &pod_created(100),
            &[refused(Some(106))],
            ts(105)
        ));
        // A pod created since the wait started: its failure is new.
        assert!(stuck_since(&pod_created(105), &[refused(None)], ts(105)));
        assert!(stuck_since(
            &pod_created(107),
            &[refused(Some(108))],
            ts(105)
        ));
    }

    #[test]
    fn a_recoverable_state_never_stops_the_wait() {
        let mut p = refused(Some(110));
        p.reason = "ErrImagePull".into();
        assert!(!stuck_since(&pod_created(107), &[p], ts(105)));
    }
}
