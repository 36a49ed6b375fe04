//! Why a pod is not Ready, in the kubelet's own words, classified, with the
//! fix in one line. Pure: a Pod, its Events and (for crash loops) the tail of
//! the previous container's log in; findings out. No client, no CLI: the
//! apply wait and a later `doctor` share it.
use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{ContainerStatus, Event, Pod};

/// What keeps a container from running.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cause {
    /// The registry refused the credentials (401/403, denied).
    Unauthorized,
    /// The image or tag is not in the registry.
    NotFound,
    /// The registry speaks plain HTTP, the runtime asked with HTTPS.
    HttpOnlyRegistry,
    /// The registry's certificate is not trusted.
    Tls,
    /// The node cannot reach the registry (timeout, refused, DNS).
    Unreachable,
    /// The image has no variant for the node's OS/architecture.
    PlatformMissing,
    /// The binary is for another CPU architecture (`exec format error`).
    WrongArchitecture,
    /// The container starts and exits again and again.
    CrashLoop,
    /// A pull failure we cannot name more precisely.
    PullFailed,
    /// Anything else (still creating, not scheduled, probe failing, ...).
    Other,
}

impl Cause {
    /// Short label for reports.
    pub fn label(self) -> &'static str {
        match self {
            Cause::Unauthorized => "unauthorized",
            Cause::NotFound => "image not found",
            Cause::HttpOnlyRegistry => "HTTP-only registry",
            Cause::Tls => "TLS certificate",
            Cause::Unreachable => "registry unreachable or timed out",
            Cause::PlatformMissing => "platform missing from image",
            Cause::WrongArchitecture => "wrong CPU architecture",
            Cause::CrashLoop => "crash loop",
            Cause::PullFailed => "image pull failed",
            Cause::Other => "not ready",
        }
    }
}

/// Classify a kubelet/containerd pull failure message (with or without the
/// `Failed to pull image "..."` prefix and the `rpc error: code = ... desc =`
/// wrapper). `None` when the text is not a pull failure we recognise.
pub fn classify_pull(message: &str) -> Option<Cause> {
    let m = message.to_ascii_lowercase();
    // Order matters: "no match for platform in manifest: not found" is not a
    // missing image, and TLS/HTTP texts contain "failed to do request".
    if m.contains("no match for platform") || m.contains("no matching manifest for") {
        return Some(Cause::PlatformMissing);
    }
    if m.contains("server gave http response to https client") {
        return Some(Cause::HttpOnlyRegistry);
    }
    if m.contains("x509:") || m.contains("tls: failed to verify") || m.contains("certificate") {
        return Some(Cause::Tls);
    }
    if m.contains("401 unauthorized")
        || m.contains("403 forbidden")
        || m.contains("pull access denied")
        || m.contains("authorization failed")
        || m.contains("no basic auth credentials")
        || m.contains("denied: requested access")
        || m.contains("unauthorized: ")
        || m.contains("insufficient_scope")
    {
        return Some(Cause::Unauthorized);
    }
    if m.contains("i/o timeout")
        || m.contains("connection refused")
        || m.contains("no such host")
        || m.contains("network is unreachable")
        || m.contains("no route to host")
        || m.contains("context deadline exceeded")
        || m.contains("tls handshake timeout")
        || m.contains("connection reset by peer")
    {
        return Some(Cause::Unreachable);
    }
    if m.contains(": not found")
        || m.contains("manifest unknown")
        || m.contains("code = notfound")
        || m.contains("repository does not exist")
        || m.contains("name unknown")
    {
        return Some(Cause::NotFound);
    }
    if m.contains("failed to pull") || m.contains("errimagepull") {
        return Some(Cause::PullFailed);
    }
    None
}

/// One container that keeps its pod from being Ready.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContainerProblem {
    pub container: String,
    pub init: bool,
    pub image: String,
    /// The waiting/terminated reason: ErrImagePull, ImagePullBackOff, CrashLoopBackOff, ...
    pub reason: String,
    /// The kubelet's own message (the pull error from the status or the pod's
    /// events; for crash loops the back-off message).
    pub message: String,
    pub cause: Cause,
    pub restart_count: i32,
    /// Exit code of the last terminated run (crash loops).
    pub exit_code: Option<i32>,
    /// Last lines of the previous run's log, when the caller supplied them.
    pub last_log: Option<String>,
    /// When the kubelet last reported the pull failure (its event's time).
    pub reported_at: Option<k8s_openapi::jiff::Timestamp>,
}

impl ContainerProblem {
    /// Will this fix itself if we keep waiting? No for a refused, missing or
    /// wrong-platform image, and for a crash loop past 3 restarts.
    pub fn unrecoverable(&self) -> bool {
        match self.cause {
            // The first failure (ErrImagePull) gets its retry; once in
            // back-off the same answer will come again.
            Cause::Unauthorized | Cause::NotFound | Cause::PlatformMissing => {
                self.reason == "ImagePullBackOff"
            }
            Cause::CrashLoop | Cause::WrongArchitecture => {
                self.reason == "CrashLoopBackOff" && self.restart_count >= 3
            }
            _ => false,
        }
    }
}

/// The registry host of an image reference (`docker.io` when it names none).
pub fn image_host(image: &str) -> &str {
    match image.split_once('/') {
        Some((first, _)) if first.contains('.') || first.contains(':') || first == "localhost" => {
            first
        }
        _ => "docker.io",
    }
}

/// The `fieldPath` of events about a container: `spec.containers{NAME}`.
fn field_path(init: bool, name: &str) -> String {
    format!(
        "spec.{}{{{name}}}",
        if init { "initContainers" } else { "containers" }
    )
}

/// The newest pull-failure event for a container.
fn pull_event<'a>(events: &'a [Event], init: bool, name: &str) -> Option<&'a Event> {
    let fp = field_path(init, name);
    let when = |e: &Event| {
        e.last_timestamp
            .as_ref()
            .map(|t| t.0)
            .or(e.event_time.as_ref().map(|t| t.0))
            .or(e.metadata.creation_timestamp.as_ref().map(|t| t.0))
    };
    events
        .iter()
        .enumerate()
        .filter(|(_, e)| e.involved_object.field_path.as_deref() == Some(fp.as_str()))
        .filter(|(_, e)| {
            e.message
                .as_deref()
                .is_some_and(|m| m.starts_with("Failed to pull image"))
        })
        .max_by_key(|(i, e)| (when(e), *i))
        .map(|(_, e)| e)
}

fn event_time(e: &Event) -> Option<k8s_openapi::jiff::Timestamp> {
    e.last_timestamp
        .as_ref()
        .map(|t| t.0)
        .or(e.event_time.as_ref().map(|t| t.0))
        .or(e.metadata.creation_timestamp.as_ref().map(|t| t.0))
}

/// Names of containers in CrashLoopBackOff (callers fetch their previous logs).
pub fn crashing_containers(pod: &Pod) -> Vec<String> {
    statuses(pod)
        .filter(|(_, cs)| waiting_reason(cs) == Some("CrashLoopBackOff"))
        .map(|(_, cs)| cs.name.clone())
        .collect()
}

fn statuses(pod: &Pod) -> impl Iterator<Item = (bool, &ContainerStatus)> {
    let st = pod.status.as_ref();
    st.and_then(|s| s.init_container_statuses.as_ref())
        .into_iter()
        .flatten()
        .map(|c| (true, c))
        .chain(
            st.and_then(|s| s.container_statuses.as_ref())
                .into_iter()
                .flatten()
                .map(|c| (false, c)),
        )
}

fn waiting_reason(cs: &ContainerStatus) -> Option<&str> {
    cs.state.as_ref()?.waiting.as_ref()?.reason.as_deref()
}

/// Every container of `pod` that is failing, with the kubelet's message and
/// its classification. `logs` maps container name -> tail of the previous log.
pub fn diagnose(
    pod: &Pod,
    events: &[Event],
    logs: &BTreeMap<String, String>,
) -> Vec<ContainerProblem> {
    let mut out = Vec::new();
    for (init, cs) in statuses(pod) {
        let state = cs.state.as_ref();
        let waiting = state.and_then(|s| s.waiting.as_ref());
        let terminated = state.and_then(|s| s.terminated.as_ref());
        let last_exit = cs
            .last_state
            .as_ref()
            .and_then(|s| s.terminated.as_ref())
            .map(|t| t.exit_code)
            .or(terminated.map(|t| t.exit_code).filter(|c| *c != 0));
        let last_log = logs.get(&cs.name).cloned();
        let (reason, message) = match (waiting, terminated) {
            (Some(w), _) => (
                w.reason.clone().unwrap_or_else(|| "Waiting".into()),
                w.message.clone().unwrap_or_default(),
            ),
            (None, Some(t)) if t.exit_code != 0 && !(init && cs.ready) => (
                t.reason.clone().unwrap_or_else(|| "Error".into()),
                t.message.clone().unwrap_or_default(),
            ),
            _ => continue,
        };
        // Containers merely waiting for others (PodInitializing,
        // ContainerCreating) are not the problem.
        if matches!(reason.as_str(), "PodInitializing" | "ContainerCreating") {
            continue;
        }
        let mut problem = ContainerProblem {
            container: cs.name.clone(),
            init,
            image: cs.image.clone(),
            reason: reason.clone(),
            message: message.clone(),
            cause: Cause::Other,
            restart_count: cs.restart_count,
            exit_code: last_exit,
            last_log: last_log.clone(),
            reported_at: None,
        };
        if matches!(
            reason.as_str(),
            "ErrImagePull" | "ImagePullBackOff" | "InvalidImageName" | "ErrImageNeverPull"
        ) {
            // ImagePullBackOff only says "Back-off pulling image": the cause
            // is in the last ErrImagePull message, i.e. the pod's events.
            let event = pull_event(events, init, &cs.name);
            let from_event = event.and_then(|e| e.message.as_deref());
            problem.reported_at = event.and_then(event_time);
            let (text, cause) = match classify_pull(&message) {
                Some(c) if c != Cause::PullFailed || from_event.is_none() => (message.clone(), c),
                _ => match from_event {
                    Some(ev) => (
                        ev.to_string(),
                        classify_pull(ev).unwrap_or(Cause::PullFailed),
                    ),
                    None => (message.clone(), Cause::PullFailed),
                },
            };
            problem.message = text;
            problem.cause = cause;
        } else if reason == "CrashLoopBackOff" || last_exit.is_some() {
            let exec_format = |s: &str| s.contains("exec format error");
            problem.cause = if last_log.as_deref().is_some_and(exec_format)
                || exec_format(&message)
                || cs
                    .last_state
                    .as_ref()
                    .and_then(|s| s.terminated.as_ref())
                    .and_then(|t| t.message.as_deref())
                    .is_some_and(exec_format)
            {
                Cause::WrongArchitecture
            } else {
                Cause::CrashLoop
            };
        }
        out.push(problem);
    }
    out
}

/// `FailedToRetrieveImagePullSecret` events: the pull secret the pod names is
/// missing from its namespace (the kubelet's text).
pub fn missing_pull_secret(events: &[Event]) -> Option<String> {
    events
        .iter()
        .filter(|e| e.reason.as_deref() == Some("FailedToRetrieveImagePullSecret"))
        .filter_map(|e| e.message.clone())
        .next_back()
}

/// Where the failing pod runs and what it pulls with.
#[derive(Debug, Clone, Copy)]
pub struct PodContext<'a> {
    pub namespace: &'a str,
    pub node: &'a str,
    pub arch: Option<&'a str>,
    /// The pod's `imagePullSecrets` names.
    pub pull_secrets: &'a [String],
    /// The kubelet said some of them do not exist (FailedToRetrieveImagePullSecret).
    pub secret_missing: bool,
}

/// The pod's `imagePullSecrets` names.
pub fn pull_secret_names(pod: &Pod) -> Vec<String> {
    pod.spec
        .as_ref()
        .and_then(|s| s.image_pull_secrets.as_ref())
        .into_iter()
        .flatten()
        .map(|r| r.name.clone())
        .filter(|n| !n.is_empty())
        .collect()
}

/// The fix, in one line.
pub fn fix(p: &ContainerProblem, cx: &PodContext) -> String {
    let (namespace, node) = (cx.namespace, cx.node);
    let host = image_host(&p.image);
    let arch = cx.arch.unwrap_or("its architecture");
    match p.cause {
        Cause::Unauthorized if !cx.pull_secrets.is_empty() && !cx.secret_missing => format!(
            "{host} refused the credentials of pull secret {} in namespace \"{namespace}\": \
             re-create it with the right user and password \
             (kubectl tingyun secret --server {host} --username USER --password-stdin -n {namespace} --name {})",
            cx.pull_secrets.join(", "),
            cx.pull_secrets[0]
        ),
        Cause::Unauthorized => format!(
            "create the pull secret for {host} in namespace \"{namespace}\" \
             (kubectl tingyun secret --server {host} --username USER --password-stdin -n {namespace}) \
             and reference it (patch --pull-secret --inject-pull-secret)"
        ),
        Cause::NotFound => format!(
            "push {} to {host} (e.g. skopeo copy --all docker://SOURCE docker://{}) or correct the name/tag",
            p.image, p.image
        ),
        Cause::HttpOnlyRegistry => format!(
            "{host} serves plain HTTP: configure the nodes' container runtime to use http:// for it, \
             or on Kingsoft KCI re-run patch with --http-registry"
        ),
        Cause::Tls => format!(
            "{host}'s certificate is not trusted by node {node}: install its CA on the nodes, \
             or on Kingsoft KCI re-run patch with --insecure-registry"
        ),
        Cause::Unreachable => format!(
            "node {node} cannot reach {host}: check DNS, firewall and proxy between the nodes and the registry"
        ),
        Cause::PlatformMissing => format!(
            "the image lacks linux/{arch} (node {node} is {arch}): push a multi-architecture image \
             (skopeo copy --all) or one built for linux/{arch}"
        ),
        Cause::WrongArchitecture => format!(
            "the image is built for another CPU architecture than node {node} ({arch}): \
             push its linux/{arch} variant (skopeo copy --all copies every platform)"
        ),
        Cause::CrashLoop => format!(
            "the container exits after starting: read its log \
             (kubectl logs -p -n {namespace} POD -c {}) and fix its configuration",
            p.container
        ),
        Cause::PullFailed => format!(
            "the image cannot be pulled from {host}: see kubectl -n {namespace} describe pod"
        ),
        Cause::Other => format!("see kubectl -n {namespace} describe pod"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    // containerd 1.7 texts as the kubelet reports them (Event "Failed"),
    // and the same desc without the wrapper (ErrImagePull state message
    // of containerd 1.6 via CRI, and crictl pull output).
    const IMG: &str = "harbor.example.com/apm/k8s-uniagent:2.5.3.0";
    const UNAUTHORIZED: &str = "Failed to pull image \"harbor.example.com/apm/k8s-uniagent:2.5.3.0\": rpc error: code = Unknown desc = failed to pull and unpack image \"harbor.example.com/apm/k8s-uniagent:2.5.3.0\": failed to resolve reference \"harbor.example.com/apm/k8s-uniagent:2.5.3.0\": unexpected status from HEAD request to https://harbor.example.com/v2/apm/k8s-uniagent/manifests/2.5.3.0: 401 Unauthorized";
    const NOT_FOUND: &str = "rpc error: code = NotFound desc = failed to pull and unpack image \"harbor.example.com/apm/k8s-uniagent:2.5.3.0\": failed to resolve reference \"harbor.example.com/apm/k8s-uniagent:2.5.3.0\": harbor.example.com/apm/k8s-uniagent:2.5.3.0: not found";
    const HTTP: &str = "failed to pull and unpack image \"10.0.0.5:5000/apm/k8s-uniagent:2.5.3.0\": failed to resolve reference \"10.0.0.5:5000/apm/k8s-uniagent:2.5.3.0\": failed to do request: Head \"https://10.0.0.5:5000/v2/apm/k8s-uniagent/manifests/2.5.3.0\": http: server gave HTTP response to HTTPS client";
    const X509: &str = "rpc error: code = Unknown desc = failed to pull and unpack image \"harbor.example.com/apm/a:1\": failed to resolve reference \"harbor.example.com/apm/a:1\": failed to do request: Head \"https://harbor.example.com/v2/apm/a/manifests/1\": tls: failed to verify certificate: x509: certificate signed by unknown authority";
    const X509_16: &str = "failed to pull and unpack image \"harbor.example.com/apm/a:1\": failed to resolve reference \"harbor.example.com/apm/a:1\": failed to do request: Head \"https://harbor.example.com/v2/apm/a/manifests/1\": x509: certificate signed by unknown authority";
    const TIMEOUT: &str = "rpc error: code = Unknown desc = failed to pull and unpack image \"harbor.example.com/apm/a:1\": failed to resolve reference \"harbor.example.com/apm/a:1\": failed to do request: Head \"https://harbor.example.com/v2/apm/a/manifests/1\": dial tcp 10.0.0.1:443: i/o timeout";
    const NO_HOST: &str = "failed to pull and unpack image \"harbor.example.com/apm/a:1\": failed to resolve reference \"harbor.example.com/apm/a:1\": failed to do request: Head \"https://harbor.example.com/v2/apm/a/manifests/1\": dial tcp: lookup harbor.example.com on 10.96.0.10:53: no such host";
    const PLATFORM: &str = "rpc error: code = NotFound desc = failed to pull and unpack image \"harbor.example.com/apm/a:1\": no match for platform in manifest: not found";
    const PLATFORM_16: &str = "failed to pull and unpack image \"docker.io/library/a:1\": no match for platform in manifest sha256:3f1d: not found";
    const DENIED: &str = "rpc error: code = Unknown desc = failed to pull and unpack image \"docker.io/library/private:1\": failed to resolve reference \"docker.io/library/private:1\": pull access denied, repository does not exist or may require authorization: server message: insufficient_scope: authorization failed";

    #[test]
    fn pull_messages_with_and_without_the_rpc_wrapper() {
        for (text, want) in [
            (UNAUTHORIZED, Cause::Unauthorized),
            (NOT_FOUND, Cause::NotFound),
            (HTTP, Cause::HttpOnlyRegistry),
            (X509, Cause::Tls),
            (X509_16, Cause::Tls),
            (TIMEOUT, Cause::Unreachable),
            (NO_HOST, Cause::Unreachable),
            (PLATFORM, Cause::PlatformMissing),
            (PLATFORM_16, Cause::PlatformMissing),
            (DENIED, Cause::Unauthorized),
        ] {
            assert_eq!(classify_pull(text), Some(want), "{text}");
            let desc = text.split_once(" desc = ").map(|(_, d)| d).unwrap_or(text);
            assert_eq!(classify_pull(desc), Some(want), "{desc}");
        }
        assert_eq!(classify_pull("Back-off pulling image \"a\""), None);
    }

    fn pod(statuses: serde_json::Value) -> Pod {
        serde_json::from_value(json!({
            "metadata": {"name": "tingyun-agent-abc", "namespace": "tingyun"},
            "spec": {"containers": [{"name": "tingyun-agent", "image": IMG}], "nodeName": "node-2"},
            "status": {"phase": "Pending", "containerStatuses": statuses}
        }))
        .unwrap()
    }

    fn event(field_path: &str, reason: &str, message: &str, ts: &str) -> Event {
        serde_json::from_value(json!({
            "metadata": {"name": format!("e-{ts}"), "namespace": "tingyun"},
            "involvedObject": {"kind": "Pod", "name": "tingyun-agent-abc", "fieldPath": field_path},
            "reason": reason, "message": message, "type": "Warning",
            "lastTimestamp": ts
        }))
        .unwrap()
    }

    #[test]
    fn image_pull_backoff_takes_the_cause_from_the_events() {
        let p = pod(json!([{
            "name": "tingyun-agent", "image": IMG, "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ImagePullBackOff", "message": format!("Back-off pulling image \"{IMG}\"")}}
        }]));
        let events = vec![
            event(
                "spec.containers{tingyun-agent}",
                "Failed",
                UNAUTHORIZED,
                "2026-01-01T00:00:01Z",
            ),
            event(
                "spec.containers{tingyun-agent}",
                "Failed",
                "Error: ErrImagePull",
                "2026-01-01T00:00:02Z",
            ),
            event(
                "spec.containers{tingyun-agent}",
                "Failed",
                "Error: ImagePullBackOff",
                "2026-01-01T00:00:03Z",
            ),
        ];
        let found = diagnose(&p, &events, &BTreeMap::new());
        assert_eq!(found.len(), 1);
        let f = &found[0];
        assert_eq!(f.cause, Cause::Unauthorized);
        assert_eq!(f.message, UNAUTHORIZED);
        assert!(f.unrecoverable());
        let none: Vec<String> = vec![];
        let cx = PodContext {
            namespace: "tingyun",
            node: "node-2",
            arch: Some("amd64"),
            pull_secrets: &none,
            secret_missing: false,
        };
        let text = fix(f, &cx);
        assert!(
            text.contains("create the pull secret")
                && text.contains("namespace \"tingyun\"")
                && text.contains("--server harbor.example.com"),
            "{text}"
        );
        // The pod names a secret that exists: its credentials are wrong.
        let named = vec!["pull".to_string()];
        let text = fix(
            f,
            &PodContext {
                pull_secrets: &named,
                ..cx
            },
        );
        assert!(
            text.contains("refused the credentials of pull secret pull")
                && text.contains("--name pull"),
            "{text}"
        );
        let text = fix(
            f,
            &PodContext {
                pull_secrets: &named,
                secret_missing: true,
                ..cx
            },
        );
        assert!(text.contains("create the pull secret"), "{text}");
        // Without events, still a pull problem, and not called unrecoverable.
        let found = diagnose(&p, &[], &BTreeMap::new());
        assert_eq!(found[0].cause, Cause::PullFailed);
        assert!(!found[0].unrecoverable());
    }

    #[test]
    fn err_image_pull_state_message_is_classified_directly() {
        let desc = HTTP.to_string();
        let p = pod(json!([{
            "name": "tingyun-agent", "image": IMG, "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ErrImagePull", "message": desc}}
        }]));
        let f = &diagnose(&p, &[], &BTreeMap::new())[0];
        assert_eq!(f.cause, Cause::HttpOnlyRegistry);
        assert!(!f.unrecoverable());
        let cx = PodContext {
            namespace: "tingyun",
            node: "n",
            arch: None,
            pull_secrets: &[],
            secret_missing: false,
        };
        assert!(fix(f, &cx).contains("--http-registry"));
    }

    #[test]
    fn crash_loop_with_exec_format_error_is_a_wrong_architecture() {
        let p = pod(json!([{
            "name": "tingyun-agent", "image": IMG, "imageID": "x", "ready": false, "restartCount": 4,
            "state": {"waiting": {"reason": "CrashLoopBackOff", "message": "back-off 40s restarting failed container=tingyun-agent pod=tingyun-agent-abc_tingyun(1)"}},
            "lastState": {"terminated": {"exitCode": 255, "reason": "Error"}}
        }]));
        assert_eq!(crashing_containers(&p), vec!["tingyun-agent".to_string()]);
        let mut logs = BTreeMap::new();
        logs.insert(
            "tingyun-agent".to_string(),
            "exec /bin/sh: exec format error\n".to_string(),
        );
        let f = &diagnose(&p, &[], &logs)[0];
        assert_eq!(f.cause, Cause::WrongArchitecture);
        assert_eq!(f.exit_code, Some(255));
        assert_eq!(f.restart_count, 4);
        assert!(f.unrecoverable());
        let cx = PodContext {
            namespace: "tingyun",
            node: "node-2",
            arch: Some("arm64"),
            pull_secrets: &[],
            secret_missing: false,
        };
        assert!(fix(f, &cx).contains("linux/arm64"));
        // Same crash with an ordinary log: a crash loop.
        let f = &diagnose(&p, &[], &BTreeMap::new())[0];
        assert_eq!(f.cause, Cause::CrashLoop);
        assert!(f.unrecoverable());
    }

    #[test]
    fn waiting_for_others_is_not_a_problem() {
        let p = pod(json!([{
            "name": "tingyun-agent", "image": IMG, "imageID": "", "ready": false, "restartCount": 0,
            "state": {"waiting": {"reason": "ContainerCreating"}}
        }]));
        assert!(diagnose(&p, &[], &BTreeMap::new()).is_empty());
        assert_eq!(image_host("nginx:1"), "docker.io");
        assert_eq!(image_host("10.0.0.5:5000/apm/a:1"), "10.0.0.5:5000");
    }
}
