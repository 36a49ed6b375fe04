//! `kubectl tingyun apply` against the loopback API-server stand-in
//! (tests/support/apiserver.rs): the real binary with a generated kubeconfig.
mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Output, Stdio};
use std::time::Duration;

use serde_json::json;
use support::apiserver::{ApiServer, PodState, Recorded};
use support::{stderr, stdout};

const FIXTURE: &str = "tingyunagent.yaml";
/// A safety net for loops that wait on the binary, never an assertion.
const LIMIT: Duration = Duration::from_secs(60);

fn args<'a>(api: &'a ApiServer, file: &'a Path, extra: &[&'a str]) -> Vec<&'a str> {
    let mut args: Vec<&str> = vec![
        "apply",
        file.to_str().unwrap(),
        "--kubeconfig",
        api.kubeconfig().to_str().unwrap(),
    ];
    args.extend_from_slice(extra);
    args
}

fn apply(api: &ApiServer, file: &Path, extra: &[&str]) -> Output {
    support::run(&args(api, file, extra))
}

fn spawn_apply(api: &ApiServer, file: &Path, extra: &[&str]) -> Child {
    support::bin()
        .args(args(api, file, extra))
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

fn fixture(api: &ApiServer) -> PathBuf {
    support::fixture_copy(api.dir(), FIXTURE)
}

fn write(api: &ApiServer, name: &str, text: &str) -> PathBuf {
    let p = api.dir().join(name);
    std::fs::write(&p, text).unwrap();
    p
}

/// The guide's edit: imagePullSecrets in the ServiceAccount.
fn with_sa_pull_secret(text: &str) -> String {
    let out = text.replace(
        "#imagePullSecrets:\n# - name: tingyun-image-secret",
        "imagePullSecrets:\n- name: tingyun-image-secret",
    );
    assert_ne!(out, text);
    out
}

/// The guide's edit: imagePullSecrets in mutate.yaml (the ConfigMap).
fn with_mutate_pull_secret(text: &str) -> String {
    let out = text.replace(
        "    #imagePullSecrets:\n    #- name: tingyun-image-secret",
        "    imagePullSecrets:\n    - name: tingyun-image-secret",
    );
    assert_ne!(out, text);
    out
}

/// A cluster where the fixture is installed and its agent pods run.
fn installed() -> (ApiServer, String) {
    let api = ApiServer::start();
    api.enable_controller();
    api.set_auto_ready(true);
    let file = fixture(&api);
    let out = apply(&api, &file, &[]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    api.set_auto_ready(false);
    (api, std::fs::read_to_string(file).unwrap())
}

fn restarted_at(r: &Recorded) -> Option<String> {
    r.json()["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
        .as_str()
        .map(String::from)
}

/// Pods of a workload other than `old`, once they exist.
fn new_pods(api: &ApiServer, prefix: &str, old: &[String]) -> Vec<String> {
    api.wait_until(LIMIT, "new pods", |api| {
        let pods: Vec<String> = api
            .pod_names("tingyun")
            .into_iter()
            .filter(|n| n.starts_with(prefix) && !old.contains(n))
            .collect();
        (!pods.is_empty()).then_some(pods)
    })
}

fn finish(child: Child) -> Output {
    child.wait_with_output().expect("wait")
}

#[test]
fn first_apply_creates_everything_then_reapply_reports_unchanged() {
    let api = ApiServer::start();
    api.enable_controller();
    api.set_auto_ready(true);
    let file = fixture(&api);
    let out = apply(&api, &file, &[]);
    let so = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{so}{}", stderr(&out));
    for line in [
        "namespace/tingyun created",
        "serviceaccount/tingyun-k8s-monitor created",
        "clusterrole.rbac.authorization.k8s.io/tingyun-k8s-monitor created",
        "deployment.apps/tingyun-agent created",
        "mutatingwebhookconfiguration.admissionregistration.k8s.io/tingyun-agent-injector created",
        "deployment.apps/tingyun-agent rolled out",
        "daemonset.apps/tingyun-node-agent rolled out",
    ] {
        assert!(so.contains(line), "missing {line:?} in\n{so}");
    }
    // Every object went by server-side apply with our field manager.
    let applies = api.requests_matching("PATCH", "/");
    assert_eq!(applies.len(), 10);
    for r in &applies {
        assert_eq!(r.content_type, "application/apply-patch+yaml", "{r:?}");
        assert_eq!(r.param("fieldManager").as_deref(), Some("kubectl-tingyun"));
        assert_eq!(r.param("dryRun"), None);
    }
    let cm = api
        .get("configmaps", "tingyun", "tingyun-agent-config")
        .expect("configmap stored");
    assert!(
        cm["data"]["mutate.yaml"]
            .as_str()
            .unwrap()
            .contains("tingyun-agent-init")
    );

    let before = api.requests().len();
    let out = apply(&api, &file, &[]);
    let so = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{so}{}", stderr(&out));
    assert_eq!(so.matches(" unchanged\n").count(), 10, "{so}");
    assert!(!so.contains("restarted") && !so.contains("waiting"), "{so}");
    let later = &api.requests()[before..];
    assert!(
        later
            .iter()
            .all(|r| r.method == "GET" || r.content_type == "application/apply-patch+yaml"),
        "{later:?}"
    );
}

#[test]
fn namespaces_and_crds_are_applied_first_and_scope_decides_the_path() {
    let api = ApiServer::start();
    let text = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cfg}\ndata: {a: b}\n---\n\
apiVersion: rbac.authorization.k8s.io/v1\nkind: ClusterRole\nmetadata: {name: reader}\nrules: []\n---\n\
apiVersion: v1\nkind: ConfigMap\nmetadata: {name: elsewhere, namespace: apm}\n---\n\
apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: agents.tingyun.com}\n\
spec:\n  group: tingyun.com\n  scope: Namespaced\n  names: {plural: agents, singular: agent, kind: Agent}\n  versions: [{name: v1, served: true, storage: true}]\n---\n\
apiVersion: tingyun.com/v1\nkind: Agent\nmetadata: {name: a1, namespace: apm}\n---\n\
apiVersion: v1\nkind: Namespace\nmetadata: {name: apm}\n";
    let file = write(&api, "m.yaml", text);
    let out = apply(&api, &file, &["-n", "team", "--no-restart"]);
    // `team` does not exist: the one object defaulting to it fails, the rest apply.
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    let paths: Vec<String> = api
        .requests_matching("PATCH", "/")
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(
        paths,
        [
            "/api/v1/namespaces/apm",
            "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/agents.tingyun.com",
            "/api/v1/namespaces/team/configmaps/cfg",
            "/apis/rbac.authorization.k8s.io/v1/clusterroles/reader",
            "/api/v1/namespaces/apm/configmaps/elsewhere",
            "/apis/tingyun.com/v1/namespaces/apm/agents/a1",
        ]
    );
    let se = stderr(&out);
    assert!(
        se.contains("configmap/cfg: namespace \"team\" does not exist; create it first"),
        "{se}"
    );
    assert!(
        se.contains("1 of 6 objects were not applied: configmap/cfg"),
        "{se}"
    );
    assert!(
        api.get("clusterroles.rbac.authorization.k8s.io", "", "reader")
            .is_some()
    );
    assert!(api.get("agents.tingyun.com", "apm", "a1").is_some());

    // Without -n the context's namespace (`default`) is used.
    let out = apply(&api, &file, &["--no-restart"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(api.get("configmaps", "default", "cfg").is_some());
}

#[test]
fn changed_service_account_restarts_both_agents_and_deletes_only_ownerless_agent_pods() {
    let (api, text) = installed();
    let owned_before = api.pod_names("tingyun");
    assert_eq!(owned_before.len(), 2, "{owned_before:?}");
    for (name, owners) in [
        ("tingyun-agent-7d9f-old", json!(null)),
        ("other-tool", json!(null)),
        (
            "tingyun-agent-job-x",
            json!([{"apiVersion": "batch/v1", "kind": "Job", "name": "j", "uid": "u-1", "controller": true}]),
        ),
    ] {
        api.insert(json!({"apiVersion": "v1", "kind": "Pod",
            "metadata": {"name": name, "namespace": "tingyun", "ownerReferences": owners},
            "spec": {"containers": [{"name": "c", "image": "x"}]}}));
    }
    api.set_auto_ready(true);
    let file = write(&api, "edited.yaml", &with_sa_pull_secret(&text));
    let out = apply(&api, &file, &[]);
    let so = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{so}{}", stderr(&out));
    assert!(
        so.contains("serviceaccount/tingyun-k8s-monitor serverside-applied"),
        "{so}"
    );
    assert!(
        so.contains(
            "deployment.apps/tingyun-agent restarted (serviceaccount/tingyun-k8s-monitor changed)"
        ),
        "{so}"
    );
    assert!(so.contains("daemonset.apps/tingyun-node-agent restarted (serviceaccount/tingyun-k8s-monitor changed)"), "{so}");
    let paths: Vec<String> = api.merge_patches().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        [
            "/apis/apps/v1/namespaces/tingyun/deployments/tingyun-agent",
            "/apis/apps/v1/namespaces/tingyun/daemonsets/tingyun-node-agent"
        ]
    );
    for r in api.merge_patches() {
        let at = restarted_at(&r).expect("restartedAt");
        assert!(
            at.len() == 20 && at.ends_with('Z') && at.as_bytes()[10] == b'T',
            "not RFC 3339: {at}"
        );
    }
    let deletes: Vec<String> = api
        .requests_matching("DELETE", "/")
        .into_iter()
        .map(|r| r.path)
        .collect();
    assert_eq!(
        deletes,
        ["/api/v1/namespaces/tingyun/pods/tingyun-agent-7d9f-old"]
    );
    let pods = api.pod_names("tingyun");
    assert!(
        pods.contains(&"other-tool".to_string())
            && pods.contains(&"tingyun-agent-job-x".to_string()),
        "{pods:?}"
    );
    // The controller replaced the workloads' pods.
    assert!(owned_before.iter().all(|p| !pods.contains(p)), "{pods:?}");
}

#[test]
fn changed_mutate_yaml_restarts_only_the_workload_mounting_the_configmap() {
    let (api, text) = installed();
    api.set_auto_ready(true);
    let file = write(&api, "edited.yaml", &with_mutate_pull_secret(&text));
    let out = apply(&api, &file, &[]);
    let so = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{so}{}", stderr(&out));
    assert!(
        so.contains("configmap/tingyun-agent-config serverside-applied"),
        "{so}"
    );
    assert!(
        so.contains(
            "deployment.apps/tingyun-agent restarted (configmap/tingyun-agent-config changed)"
        ),
        "{so}"
    );
    let paths: Vec<String> = api.merge_patches().iter().map(|r| r.path.clone()).collect();
    assert_eq!(
        paths,
        ["/apis/apps/v1/namespaces/tingyun/deployments/tingyun-agent"]
    );
    let dep = api
        .get("deployments.apps", "tingyun", "tingyun-agent")
        .unwrap();
    assert!(
        dep["spec"]["template"]["metadata"]["annotations"]["kubectl.kubernetes.io/restartedAt"]
            .is_string()
    );
}

#[test]
fn no_restart_applies_but_restarts_and_deletes_nothing() {
    let (api, text) = installed();
    api.insert(json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "tingyun-agent-bare", "namespace": "tingyun"},
                      "spec": {"containers": [{"name": "c", "image": "x"}]}}));
    let file = write(
        &api,
        "edited.yaml",
        &with_mutate_pull_secret(&with_sa_pull_secret(&text)),
    );
    let out = apply(&api, &file, &["--no-restart"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stdout(&out).contains("configmap/tingyun-agent-config serverside-applied"));
    assert!(api.merge_patches().is_empty());
    assert!(api.requests_matching("DELETE", "/").is_empty());
    assert!(
        api.pod_names("tingyun")
            .contains(&"tingyun-agent-bare".to_string())
    );
}

#[test]
fn waits_until_the_new_pods_are_ready() {
    let (api, text) = installed();
    let old = api.pod_names("tingyun");
    let file = write(&api, "edited.yaml", &with_mutate_pull_secret(&text));
    let child = spawn_apply(&api, &file, &["--timeout", "5m"]);
    let fresh = new_pods(&api, "tingyun-agent-", &old);
    // Once the binary watches (so it sees every change from here on)...
    api.wait_until(LIMIT, "the watches", |api| {
        let watching = |path: &str| {
            api.requests()
                .iter()
                .any(|r| r.path == path && r.param("watch").as_deref() == Some("true"))
        };
        (watching("/api/v1/namespaces/tingyun/pods")
            && watching("/apis/apps/v1/namespaces/tingyun/deployments"))
        .then_some(())
    });
    // Not Ready yet: first the image is being pulled.
    api.set_pod_status(
        "tingyun",
        &fresh[0],
        PodState {
            phase: "Pending".into(),
            ready: false,
            waiting: Some(("ContainerCreating".into(), String::new())),
        },
    );
    api.set_pod_status("tingyun", &fresh[0], PodState::ready());
    let out = finish(child);
    let so = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{so}{}", stderr(&out));
    assert!(
        so.contains("deployment.apps/tingyun-agent rolled out: new pods Ready"),
        "{so}"
    );
    // Plain progress lines (stderr is not a terminal here), no carriage returns.
    // (Whether a `waiting: ... 0/1 ready` line appears first depends on how
    // fast the watch sees the Pending status, so it is not asserted.)
    let se = stderr(&out);
    assert!(!se.contains('\r'), "{se:?}");
    // It watched instead of polling.
    assert!(
        api.requests()
            .iter()
            .any(|r| r.path == "/api/v1/namespaces/tingyun/pods"
                && r.param("watch").as_deref() == Some("true"))
    );
}

#[test]
fn timeout_says_why_the_pod_is_not_ready() {
    let (api, text) = installed();
    let old = api.pod_names("tingyun");
    let file = write(&api, "edited.yaml", &with_sa_pull_secret(&text));
    let child = spawn_apply(&api, &file, &["--timeout", "8s"]);
    for prefix in ["tingyun-agent-", "tingyun-node-agent-"] {
        let pod = new_pods(&api, prefix, &old).remove(0);
        let image = if prefix == "tingyun-agent-" {
            "k8s-uniagent"
        } else {
            "node-agent"
        };
        let msg =
            format!("Back-off pulling image \"registry.tingyun.com/tingyun/{image}:2.5.3.0\"");
        api.set_pod_status("tingyun", &pod, PodState::waiting("ImagePullBackOff", &msg));
        api.add_event("tingyun", "Pod", &pod, "Normal", "Pulling", "Pulling image");
        api.add_event("tingyun", "Pod", &pod, "Warning", "Failed",
            "Failed to pull image: pull access denied, repository does not exist or may require authorization");
    }
    let out = finish(child);
    let se = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{}{se}", stdout(&out));
    assert!(se.contains("error: timed out after 8s waiting for deployment.apps/tingyun-agent, daemonset.apps/tingyun-node-agent"), "{se}");
    let line = se
        .lines()
        .find(|l| l.contains("pod/tingyun-agent-"))
        .expect("a line for the deployment's pod");
    assert!(line.contains("Pending; container tingyun-agent waiting: ImagePullBackOff: Back-off pulling image \"registry.tingyun.com/tingyun/k8s-uniagent:2.5.3.0\""), "{line}");
    assert!(
        line.contains("last event: Failed: Failed to pull image: pull access denied"),
        "{line}"
    );
    assert!(
        se.lines().any(|l| l.contains("pod/tingyun-node-agent-")
            && l.contains("container node-agent waiting: ImagePullBackOff")),
        "{se}"
    );
}

#[test]
fn server_dry_run_shows_a_masked_diff_and_changes_nothing() {
    let (api, text) = installed();
    let same = write(&api, "same.yaml", &text);
    let out = apply(&api, &same, &["--dry-run=server"]);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        stdout(&out),
        stderr(&out)
    );
    assert_eq!(stdout(&out), "");

    let edited = with_mutate_pull_secret(&text).replace(
        "  tls.key: LS0tLS1CRUdJTiBFQyBQUklW",
        "  tls.key: QUJDREVGR0hJSktMTU5PUFFSU1RV",
    );
    let file = write(&api, "edited.yaml", &edited);
    let cm_before = api
        .get("configmaps", "tingyun", "tingyun-agent-config")
        .unwrap();
    let requests_before = api.requests().len();
    let out = apply(&api, &file, &["--dry-run=server"]);
    let so = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{so}{}", stderr(&out));
    assert!(so.contains("--- live/v1.ConfigMap.tingyun.tingyun-agent-config\n+++ merged/v1.ConfigMap.tingyun.tingyun-agent-config\n"), "{so}");
    assert!(
        so.contains("+    imagePullSecrets:\n+    - name: tingyun-image-secret\n"),
        "{so}"
    );
    assert!(
        so.contains("-  tls.key: \"*** (before)\"\n+  tls.key: \"*** (after)\"\n"),
        "{so}"
    );
    assert!(
        !so.contains("QUJDREVGR0hJSktMTU5PUFFSU1RV") && !so.contains("LS0tLS1CRUdJTiBFQyBQUklW"),
        "secret data leaked:\n{so}"
    );
    assert!(
        !so.contains("resourceVersion") && !so.contains("managedFields"),
        "{so}"
    );
    assert!(
        !so.contains("Deployment"),
        "unchanged objects have no diff:\n{so}"
    );
    // Every apply was a dry run; nothing changed, nothing restarted.
    let later = &api.requests()[requests_before..];
    assert!(
        later
            .iter()
            .filter(|r| r.method != "GET")
            .all(|r| r.param("dryRun").as_deref() == Some("All")),
        "{later:?}"
    );
    assert_eq!(
        api.get("configmaps", "tingyun", "tingyun-agent-config")
            .unwrap(),
        cm_before
    );
    assert!(api.merge_patches().is_empty());

    // An error while comparing exits 2.
    api.deny("patch", "secrets");
    let out = apply(&api, &file, &["--dry-run=server"]);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
}

#[test]
fn forbidden_names_the_verb_and_resource_and_other_objects_still_apply() {
    let api = ApiServer::start();
    api.deny("patch", "secrets");
    let file = fixture(&api);
    let out = apply(&api, &file, &["--no-restart"]);
    let se = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{se}");
    assert!(
        se.contains("secret/tingyun-webhook-certs: forbidden: not allowed to patch secrets in namespace \"tingyun\"; ask a cluster admin"),
        "{se}"
    );
    assert!(
        se.contains("error: 1 of 10 objects were not applied: secret/tingyun-webhook-certs"),
        "{se}"
    );
    assert!(stdout(&out).contains("deployment.apps/tingyun-agent created"));
    assert!(
        api.get("secrets", "tingyun", "tingyun-webhook-certs")
            .is_none()
    );
}

#[test]
fn missing_namespace_is_one_clear_line() {
    let api = ApiServer::start();
    let file = write(
        &api,
        "cm.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: shop}\n",
    );
    let out = apply(&api, &file, &[]);
    assert_eq!(out.status.code(), Some(1));
    let se = stderr(&out);
    assert_eq!(
        se,
        "configmap/c: namespace \"shop\" does not exist; create it first, or add a Namespace object to the file\n\
error: 1 of 1 objects were not applied: configmap/c; the agent was not restarted\n"
    );
}

#[test]
fn conflicts_name_the_manager_and_force_conflicts_takes_over() {
    let (api, text) = installed();
    api.conflict(
        "deployments.apps",
        "tingyun-agent",
        "helm",
        ".spec.replicas",
    );
    let file = write(
        &api,
        "edited.yaml",
        &text.replace("replicas: 1", "replicas: 2"),
    );
    let out = apply(&api, &file, &["--no-restart"]);
    let se = stderr(&out);
    assert_eq!(out.status.code(), Some(1), "{se}");
    assert!(
        se.contains("deployment.apps/tingyun-agent: conflict: fields (.spec.replicas) are managed by \"helm\"; re-run with --force-conflicts"),
        "{se}"
    );
    let out = apply(&api, &file, &["--no-restart", "--force-conflicts"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let last = api
        .requests_matching(
            "PATCH",
            "/apis/apps/v1/namespaces/tingyun/deployments/tingyun-agent",
        )
        .pop()
        .unwrap();
    assert_eq!(last.param("force").as_deref(), Some("true"));
    assert_eq!(
        api.get("deployments.apps", "tingyun", "tingyun-agent")
            .unwrap()["spec"]["replicas"],
        2
    );
}

#[test]
fn unreachable_cluster_is_one_clear_line() {
    let dir = tempfile::tempdir().unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port(); // closed when dropped
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!("apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: 'http://127.0.0.1:{port}'}}\n\
contexts:\n- name: c\n  context: {{cluster: c, user: u}}\ncurrent-context: c\nusers:\n- name: u\n  user: {{token: t}}\n"),
    )
    .unwrap();
    let file = support::fixture_copy(dir.path(), FIXTURE);
    let out = support::run(&[
        "apply",
        file.to_str().unwrap(),
        "--kubeconfig",
        kubeconfig.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(1));
    let se = stderr(&out);
    assert_eq!(se.lines().count(), 1, "{se}");
    assert!(
        se.starts_with(&format!(
            "error: cannot reach the Kubernetes API server at http://127.0.0.1:{port}: "
        )),
        "{se}"
    );
    assert!(se.to_lowercase().contains("refused"), "{se}");
}

#[test]
fn rejected_credentials_stop_at_once() {
    let api = ApiServer::start();
    api.reject_all_credentials();
    let file = fixture(&api);
    let out = apply(&api, &file, &[]);
    assert_eq!(out.status.code(), Some(1));
    let se = stderr(&out);
    assert!(
        se.contains("rejected the credentials (401 Unauthorized)"),
        "{se}"
    );
    assert_eq!(se.lines().count(), 1, "{se}");
    assert_eq!(api.requests().len(), 1, "no further requests after a 401");
}
